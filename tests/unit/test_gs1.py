"""GS1 retail barcodes: real EAN/UPC numbers, check digits, variable-measure items and their rules."""

import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pos_sim.domain.codes import gs1
from pos_sim.domain.errors import CodeError


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


@pytest.mark.parametrize(
    ("text", "symbology", "gtin"),
    [
        ("4006381333931", "ean13", "04006381333931"),
        ("9780306406157", "ean13", "09780306406157"),  # an ISBN-13
        ("96385074", "ean8", "00000096385074"),
        ("036000291452", "upca", "00036000291452"),
    ],
)
def test_real_barcodes_decode_and_validate(text, symbology, gtin):
    barcode = gs1.decode(text)
    barcode.validate(strict=True)
    assert barcode.kind == "gs1"
    assert barcode.fields() == {"symbology": symbology, "gtin": gtin, "check_digit": text[-1], "variable_measure": None}
    assert barcode.as_objects() == [
        {"name": "data", "offset": 0, "value": text[:-1]},
        {"name": "check_digit", "offset": len(text) - 1, "value": text[-1]},
    ]


@pytest.mark.parametrize(
    ("text", "expected", "found", "offset"),
    [("4006381333932", 1, 2, 12), ("96385070", 4, 0, 7), ("036000291459", 2, 9, 11)],
)
def test_a_wrong_check_digit_is_refused_with_the_expected_one(text, expected, found, offset):
    barcode = gs1.decode(text)  # structure is fine: the check digit is a rule
    with pytest.raises(CodeError, match=f"wrong check digit: expected {expected}, found {found}") as caught:
        barcode.validate()
    assert caught.value.offset == offset


@pytest.mark.parametrize(
    ("text", "reason", "offset"),
    [
        ("", "0 digits", None),
        ("400638133393", None, None),  # 12 digits: read as a UPC-A, not an error
        ("40063813339311", "14 digits", None),
        ("4006381-333931", "found '-'", 7),
        ("４００６３８１３３３９３１", "digits only", 0),  # full-width digits
        ("400638133393١", "digits only", 12),  # an Arabic-Indic one
        (" 4006381333931", "found ' '", 0),
    ],
)
def test_bad_structure_says_where(text, reason, offset):
    if reason is None:
        assert gs1.decode(text).symbology == "upca"
        return
    with pytest.raises(CodeError, match=reason) as caught:
        gs1.decode(text)
    assert caught.value.offset == offset


def test_builders_append_the_check_digit():
    assert gs1.make_ean13("400638133393") == "4006381333931"
    assert gs1.make_ean8("9638507") == "96385074"
    assert gs1.make_upca("03600029145") == "036000291452"
    for make, data in ((gs1.make_ean13, "40063813339"), (gs1.make_ean8, "963850x"), (gs1.make_upca, "")):
        with pytest.raises(CodeError, match="must be"):
            make(data)


def test_price_check_digits_worked_by_hand():
    # 4 digits (7.9.3), 2875: 2- of 2 = 4, 2- of 8 = 5, 3 of 7 = 1, 5- of 5 = 3; 13 x 3 = 39 -> 9
    assert gs1.price_check_digit("2875") == "9"
    # 5 digits (7.9.4), 14685: 5+ of 1 = 5, 2- of 4 = 8, 5- of 6 = 7, 5+ of 8 = 4, 2- of 5 = 9;
    # 40 - 33 = 7, and 6 is the digit whose 5- product is 7 -> 6
    assert gs1.price_check_digit("14685") == "6"


@pytest.mark.parametrize(
    ("text", "item"),
    [
        # 20: price in 5 digits; 2012345 01299: (2+1+3+5+1+9) + 3*(0+2+4+0+2+9) = 72 -> 8
        ("2012345012998", {"prefix": "20", "item_reference": "12345", "value": 1299, "measure": "price"}),
        # 22: 1.250 kg; 2201234 01250: 14 + 3*8 = 38 -> 2
        ("2201234012502", {"prefix": "22", "item_reference": "01234", "value": 1250, "measure": "weight"}),
        # 24: price check 9 of 2875 (above); 24123459 2875: 20 + 3*32 = 116 -> 4
        (
            "2412345928754",
            {"prefix": "24", "item_reference": "12345", "price_check_digit": "9", "value": 2875, "measure": "price"},
        ),
        # 26: price check 6 of 14685 (above); 2612346 14685: 24 + 3*24 = 96 -> 4
        (
            "2612346146854",
            {"prefix": "26", "item_reference": "1234", "price_check_digit": "6", "value": 14685, "measure": "price"},
        ),
        # 29: three pieces; 2900042 00003: 2+0+0+2+0+0 + 3*(9+0+4+0+0+3) = 52 -> 8
        ("2900042000038", {"prefix": "29", "item_reference": "00042", "value": 3, "measure": "count"}),
        # UPC-A number system 2: $2.99, price check of 0299: 0+4+7+1 = 12 x 3 = 36 -> 6;
        # 21234560299: 3*(2+2+4+6+2+9) + (1+3+5+0+9) = 93 -> 7
        (
            "212345602997",
            {"prefix": "02", "item_reference": "12345", "price_check_digit": "6", "value": 299, "measure": "price"},
        ),
    ],
)
def test_variable_measure_items_worked_by_hand(text, item):
    barcode = gs1.decode(text)
    barcode.validate(strict=True)
    assert barcode.variable_measure == item
    assert barcode.fields()["variable_measure"] == item


def test_variable_measure_parts_point_into_the_text():
    assert gs1.decode("212345602997").as_objects() == [
        {"name": "prefix", "offset": 0, "value": "2"},
        {"name": "item_reference", "offset": 1, "value": "12345"},
        {"name": "price_check_digit", "offset": 6, "value": "6"},
        {"name": "value", "offset": 7, "value": "0299"},
        {"name": "check_digit", "offset": 11, "value": "7"},
    ]


def test_a_wrong_price_check_digit_is_refused():
    barcode = gs1.decode(gs1.make_ean13("241234582875"))  # price check 8 where 2875 needs 9
    with pytest.raises(CodeError, match="wrong price check digit: expected 9, found 8") as caught:
        barcode.validate()
    assert caught.value.offset == 7


def test_an_ean8_and_a_regular_gtin_carry_no_variable_measure():
    assert gs1.decode("20123451").variable_measure is None  # EAN-8 starting 2: restricted, not variable
    assert gs1.decode("036000291452").variable_measure is None  # UPC-A number system 0


def test_rules_from_config():
    rules = gs1.rules_from_dicts(
        [
            {"prefixes": ["21"], "item_digits": 4, "measure": "weight", "value_digits": 5, "price_check": True},
            {"prefixes": ["02", "20"], "item_digits": 6, "measure": "price", "value_digits": 4},
        ]
    )
    assert rules[0] == gs1.VariableMeasureRule(("21",), 4, "weight", 5, price_check=True)
    assert gs1.decode("2012345612990", rules).variable_measure == {
        "prefix": "20",
        "item_reference": "123456",
        "value": 1299,
        "measure": "price",
    }
    assert gs1.decode("2412345928754", rules).variable_measure is None


GOOD = {"prefixes": ["24"], "item_digits": 5, "measure": "price", "value_digits": 4, "price_check": True}


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"prefixes": "24"}, "rules must be a list"),
        ([GOOD, "24"], "rule 2: must be a table"),
        ([{**GOOD, "currency": "EUR"}], "rule 1: unknown field 'currency'"),
        ([{"prefixes": ["24"], "measure": "price"}], "rule 1: missing field item_digits, value_digits"),
        ([{**GOOD, "prefixes": []}], "rule 1: prefixes must be a non-empty list"),
        ([{**GOOD, "prefixes": "24"}], "rule 1: prefixes must be a non-empty list"),
        ([{**GOOD, "prefixes": [24]}], "rule 1: prefixes: 24 is not a variable-measure prefix"),
        ([{**GOOD, "prefixes": ["45"]}], "rule 1: prefixes: '45' is not a variable-measure prefix"),
        ([{**GOOD, "measure": "volume"}], "rule 1: measure must be one of price, weight, count, not 'volume'"),
        ([{**GOOD, "item_digits": "5"}], "rule 1: item_digits must be a positive integer, not '5'"),
        ([{**GOOD, "value_digits": True}], "rule 1: value_digits must be a positive integer"),
        ([{**GOOD, "price_check": "yes"}], "rule 1: price_check must be true or false"),
        ([{**GOOD, "item_digits": 4, "value_digits": 6}], "rule 1: value_digits must be 4 or 5 with a price check"),
        ([{**GOOD, "item_digits": 6}], "rule 1: item_digits and value_digits must fill the 12 data digits"),
        ([GOOD, {**GOOD, "prefixes": ["25", "24"]}], "rule 2: prefix 24 is already in rule 1"),
    ],
)
def test_bad_rule_config_names_the_rule_and_field(config, reason):
    with pytest.raises(CodeError, match=reason):
        gs1.rules_from_dicts(config)


def test_make_variable_measure_refuses_what_does_not_fit():
    rule = gs1.DEFAULT_RULES[3]  # 24-25, 4-digit price
    with pytest.raises(CodeError, match="price 10000 does not fit 4 digits"):
        gs1.make_variable_measure(rule, "12345", 10_000)
    with pytest.raises(CodeError, match="price -1 does not fit"):
        gs1.make_variable_measure(rule, "12345", -1)
    with pytest.raises(CodeError, match="item reference must be 5 digits"):
        gs1.make_variable_measure(rule, "1234", 1)
    with pytest.raises(CodeError, match="prefix '26' is not one of the rule's 24, 25"):
        gs1.make_variable_measure(rule, "12345", 1, prefix="26")


@given(st.data())
def test_variable_measure_items_round_trip(data):
    rule = data.draw(st.sampled_from(gs1.DEFAULT_RULES))
    prefix = data.draw(st.sampled_from(rule.prefixes))
    item_reference = data.draw(digits(rule.item_digits))
    value = data.draw(st.integers(0, 10**rule.value_digits - 1))
    barcode = gs1.decode(gs1.make_variable_measure(rule, item_reference, value, prefix=prefix))
    barcode.validate(strict=True)
    assert barcode.symbology == ("upca" if prefix == "02" else "ean13")
    item = barcode.variable_measure
    assert (item["prefix"], item["item_reference"], item["value"], item["measure"]) == (
        prefix,
        item_reference,
        value,
        rule.measure,
    )


@given(st.sampled_from([(gs1.make_ean13, 12), (gs1.make_ean8, 7), (gs1.make_upca, 11)]), st.data())
def test_built_barcodes_round_trip(builder, data):
    make, length = builder
    first = data.draw(digits(length))
    barcode = gs1.decode(make(first), rules=())  # no price check digit to meet
    barcode.validate()
    assert barcode.digits[:-1] == first
    assert barcode.gtin == make(first).zfill(14)


@given(digits(12))
def test_every_single_digit_substitution_of_an_ean13_is_detected(first12):
    valid = gs1.make_ean13(first12)
    for position, digit in enumerate(valid):
        for other in "0123456789".replace(digit, ""):
            with pytest.raises(CodeError, match="wrong check digit"):
                gs1.decode(valid[:position] + other + valid[position + 1 :]).validate()


def _decode_and_validate(text: str) -> None:
    barcode = gs1.decode(text)
    barcode.fields()
    barcode.as_objects()
    barcode.validate()


@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1")), digits(8), digits(12), digits(13)))
def test_any_text_decodes_or_raises_code_error(text):
    try:
        _decode_and_validate(text)
    except CodeError:
        pass


def test_a_megabyte_of_digits_raises_code_error():
    text = "".join(random.Random(13).choices("0123456789", k=1_000_000))
    with pytest.raises(CodeError, match="1000000 digits"):
        _decode_and_validate(text)


@pytest.mark.parametrize("upce, upca", [
    ("04252614", "042100005264"),  # last data digit 1: the manufacturer's third digit, four zeros, the item's three
    ("01234565", "012345000065"),  # 5-9: the manufacturer's five digits, four zeros, the item's one
    ("01234133", "012300000413"),  # 3
    ("01234145", "012340000015"),  # 4
    ("11234562", "112345000062"),  # number system 1
])
def test_a_upc_e_expands_to_the_upc_a_it_stands_for(upce, upca):
    assert gs1.expand_upce(upce) == upca
    assert gs1.check_digit(upca[:-1]) == upca[-1] == upce[-1]


@given(st.sampled_from("01"), st.text("0123456789", min_size=6, max_size=6))
def test_a_upc_e_expands_as_zxing_cpp_reads_its_bars(system, data):
    """Whatever its digits, the UPC-A a UPC-E's zeros put back give is the GTIN-13 zxing-cpp reads off its bars."""
    import numpy as np
    import zxingcpp

    try:
        symbol = zxingcpp.create_barcode(system + data, zxingcpp.BarcodeFormat.UPCE)
    except ValueError:  # digits no UPC-A compresses to (a 0-2 after the last digit 3, ...): no such symbol
        assume(False)
    [read] = zxingcpp.read_barcodes(np.pad(np.asarray(symbol.to_image(scale=2)), 20, constant_values=255))
    assert "0" + gs1.expand_upce(system + data + read.text[-1]) == read.text


@pytest.mark.parametrize("upce, error", [("0123456", "8 digits"), ("2123456x", "8 digits"), ("21234565", "number system")])
def test_a_upc_e_of_the_wrong_shape_is_refused_with_a_clear_error(upce, error):
    with pytest.raises(CodeError, match=error):
        gs1.expand_upce(upce)
