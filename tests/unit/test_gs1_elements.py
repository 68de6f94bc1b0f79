"""GS1 element strings (a DataBar on produce, a GS1 Data Matrix on medicine): read in either form, found at the till
by their GTIN, and a malformed one refused with an error that says what and where."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_sim.domain import codes
from pos_sim.domain.catalogue import catalogue_from_dict
from pos_sim.domain.codes import gs1, gs1_elements
from pos_sim.domain.errors import CodeError
from pos_sim.domain.money import Money

GTIN = "09521234543213"
CATALOGUE = {
    "name": "Fresh Mart", "currency": "SGD", "locale": "en_SG",
    "tax": {"name": "GST", "included": True, "default": "standard", "categories": {"standard": {"rate": "9"}}},
    "items": [{"barcode": GTIN[1:], "name": "Tomatoes", "price": 250, "price_per_kg": 480, "tax": "standard"},
              {"barcode": "4006381333931", "name": "Paracetamol 500mg", "price": 399, "tax": "standard"}],
}


@pytest.mark.parametrize("text", [
    "(01)09521234543213(3103)000123",  # as printed under a DataBar Expanded
    "01095212345432133103000123",  # as the code carries it
])
def test_a_databar_of_produce_is_a_gs1_code_found_by_its_gtin_and_sold_by_its_net_weight(text):
    assert codes.classify(text) == codes.Classification("gs1", "element-string")
    scan = catalogue_from_dict(CATALOGUE).lookup(text)
    assert (scan.item.name, scan.measure, scan.grams) == ("Tomatoes", "weight", 123)


def test_a_gs1_data_matrix_on_medicine_is_found_by_its_gtin_whatever_else_it_carries():
    text = "0104006381333931" + "17271231" + "10AB12\x1d" + "21SN9001"
    elements = codes.parse(text)
    assert elements.fields() == {"symbology": "element-string", "gtin": "04006381333931", "expiry": "271231",
                                 "batch": "AB12", "serial": "SN9001"}
    scan = catalogue_from_dict(CATALOGUE).lookup(text)
    assert (scan.item.name, scan.measure) == ("Paracetamol 500mg", "unit")


def test_a_price_it_carries_is_the_price_in_the_shops_minor_units():
    scan = catalogue_from_dict(CATALOGUE).lookup("(01)09521234543213(3922)1299")
    assert (scan.measure, scan.label_price) == ("price", Money.of_minor(1299, "SGD"))
    with pytest.raises(CodeError, match="finer than the currency's 2 decimals"):
        catalogue_from_dict(CATALOGUE).lookup("(01)09521234543213(3923)12995")


@pytest.mark.parametrize("text, error", [
    ("(01)09521234543214", "AI \\(01\\): wrong check digit: expected 3, found 4"),
    ("(01)0952123454321(10)A", "AI \\(01\\) gtin: 14 characters, found 13"),
    ("0109521234543213(10)A", "unknown or unsupported GS1 Application Identifier at '\\(10\\)'"),
    ("0109521234543213\x1d9912", "unknown or unsupported GS1 Application Identifier at .9912."),
    ("(01)09521234543213(17)271341", "AI \\(17\\): 271341 is no date"),
    ("(01)09521234543213(310)123456", "fourth digit, the number of decimals"),
    ("(01)09521234543213(10)" + "A" * 21, "AI \\(10\\) batch: 1-20 characters, found 21"),
    ("(01)09521234543213(10)AB 12", "a character a GS1 code cannot carry"),
    ("(01)09521234543213(3103)000123(3103)000124", "given twice"),
    ("(01)09521234543213(3104)001235", "not a whole number of grams"),
    ("0109521234543214", "AI \\(01\\): wrong check digit: expected 3, found 4"),  # a DataBar's digits alone, misread
])
def test_a_malformed_element_string_is_refused_saying_what_is_wrong(text, error):
    with pytest.raises(CodeError, match=error):
        catalogue_from_dict(CATALOGUE).lookup(text)


_DATA = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-./", min_size=1, max_size=20)


@given(st.text("0123456789", min_size=13, max_size=13), st.one_of(st.none(), _DATA), st.one_of(st.none(), _DATA),
       st.one_of(st.none(), st.integers(0, 9), ), st.integers(0, 999999))
def test_the_printed_form_and_the_form_the_code_carries_read_the_same(data, batch, serial, decimals, weight):
    gtin = data + gs1.check_digit(data)
    parts = [("01", gtin)] + [(ai, value) for ai, value in (("10", batch), ("21", serial)) if value is not None]
    if decimals is not None:
        parts.append((f"310{decimals}", f"{weight:06d}"))
    printed = "".join(f"({ai}){value}" for ai, value in parts)
    carried = "".join(ai + value + ("\x1d" if ai in ("10", "21") and i < len(parts) - 1 else "")
                      for i, (ai, value) in enumerate(parts))
    assert gs1_elements.parse(printed).fields() == gs1_elements.parse(carried).fields()
    assert gs1_elements.parse(carried).hri() == printed and gs1_elements.parse(carried).gtin == gtin
    assert codes.classify(printed).kind == codes.classify(carried).kind == "gs1"


def test_a_wallet_code_and_a_retail_barcode_are_not_read_as_element_strings():
    """Digits alone: a DataBar's element string read whole gives way only to a wallet rule that names its prefix (a
    24-digit Alipay+ code of business type 02), not to Alipay+'s rule of any 17-32 digits."""
    assert codes.classify("4006381333931") == codes.Classification("gs1", "ean13")
    assert codes.classify("281234567890123456").kind == "wallet-paycode"
    assert codes.classify("01095212345432133103000123") == codes.Classification("gs1", "element-string")
    structured = "01" + "09520234543216" + "17271231"  # an element string, and a 24-digit Alipay+ code of type 02
    assert gs1_elements.readable(structured) and codes.classify(structured).kind == "wallet-paycode"
    assert codes.classify("01095212345432149999").kind == "wallet-paycode"  # its GTIN's check digit wrong
