"""The demo catalogues in pos_sim/assets/: every barcode decodes and is found, variable-measure labels, and bad catalogues."""

import copy
import json
import re
from decimal import Decimal

import pytest

from pos_sim.assets import ASSETS
from pos_sim.domain.catalogue import (
    Catalogue,
    CatalogueError,
    UnknownItemError,
    catalogue_from_dict,
    read_catalogue,
    weighed_amount,
)
from pos_sim.domain.codes import gs1
from pos_sim.domain.errors import CodeError, DomainError
from pos_sim.domain.money import Money

SHIPPED = sorted(path.name for path in ASSETS.glob("catalogue*.json"))


def shipped(name: str) -> Catalogue:
    return read_catalogue((ASSETS / name).read_text(encoding="utf-8"))


def rule_for(catalogue: Catalogue, prefix: str) -> gs1.VariableMeasureRule:
    return next(rule for rule in catalogue.rules if prefix in rule.prefixes)


# --- the shipped catalogues ---------------------------------------------------------------


def test_the_three_demo_catalogues_are_shipped():
    assert SHIPPED == ["catalogue.json", "catalogue_jp.json", "catalogue_th.json"]


@pytest.mark.parametrize(
    ("name", "code", "locale", "rates", "included"),
    [
        ("catalogue.json", "SGD", "en_SG", {"standard": "9", "out_of_scope": "0"}, True),
        ("catalogue_th.json", "THB", "th_TH", {"standard": "7", "exempt": "0"}, True),
        ("catalogue_jp.json", "JPY", "ja_JP", {"standard": "10", "reduced": "8"}, True),
    ],
)
def test_shipped_catalogues_say_their_currency_locale_and_tax(name, code, locale, rates, included):
    catalogue = shipped(name)
    assert (catalogue.currency.code, catalogue.locale, catalogue.tax.included) == (code, locale, included)
    assert {category.code: category.rate for category in catalogue.tax.categories} == {
        key: Decimal(rate) for key, rate in rates.items()
    }


def test_the_singapore_catalogue_has_every_kind_of_item():
    catalogue = shipped("catalogue.json")
    assert len(catalogue.items) >= 25
    symbologies = {gs1.decode(item.barcode).symbology for item in catalogue.items if item.barcode}
    assert symbologies == {"ean13", "ean8", "upca"}
    assert any(item.barcode.startswith("888") and len(item.barcode) == 13 for item in catalogue.items if item.barcode)
    weighed = [item for item in catalogue.items if item.price_per_kg]
    counted = [item for item in catalogue.items if item.variable_measure and item.price]
    assert weighed and counted
    assert any(not item.name.isascii() for item in catalogue.items)  # wide text for the display
    assert {rule.measure for rule in catalogue.rules} == {"price", "weight", "count"}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_barcode_of_a_shipped_catalogue_decodes_and_is_found(name):
    catalogue = shipped(name)
    fixed = [item for item in catalogue.items if item.barcode]
    assert fixed
    for item in fixed:
        barcode = gs1.decode(item.barcode)
        barcode.validate(strict=True)
        assert gs1.decode(item.barcode, catalogue.rules).variable_measure is None
        scan = catalogue.lookup(item.barcode)
        assert (scan.item, scan.measure, scan.quantity, scan.barcode) == (item, "unit", 1, item.barcode)
        assert scan.item.price.currency == catalogue.currency


@pytest.mark.parametrize("name", SHIPPED)
def test_every_variable_measure_item_is_found_by_a_label_of_each_rule_it_fits(name):
    catalogue = shipped(name)
    references = [item for item in catalogue.items if item.variable_measure]
    assert references
    for item in references:
        for rule in catalogue.rules:
            if rule.item_digits != len(item.item_reference):
                continue
            needed = {"price": True, "weight": item.price_per_kg, "count": item.price}[rule.measure]
            text = gs1.make_variable_measure(rule, item.item_reference, 123)
            if needed:
                scan = catalogue.lookup(text)
                assert (scan.item, scan.measure) == (item, rule.measure)
            else:
                with pytest.raises(CatalogueError, match=f"items\\[{item.index}\\]"):
                    catalogue.lookup(text)


def test_a_upca_is_found_read_as_an_ean13_too():
    catalogue = shipped("catalogue.json")
    scan = catalogue.lookup("0071823004513")  # the UPC-A 071823004513 with the leading 0 of its GTIN-13
    assert scan.item.name == "Crunchy Peanut Butter 340g"
    assert scan.item.gtin == "00071823004513"


# --- variable-measure labels -------------------------------------------------------------


def test_a_price_label_carries_the_price():
    catalogue = shipped("catalogue.json")
    text = gs1.make_variable_measure(rule_for(catalogue, "20"), "10001", 1285)  # S$12.85 of char siew
    assert text == gs1.make_ean13("201000101285")
    scan = catalogue.lookup(text)
    assert scan.item.name == "Char Siew 叉烧 (roast pork)"
    assert (scan.measure, scan.grams, scan.quantity) == ("price", None, 1)
    assert scan.label_price == Money.of_minor(1285, "SGD")


def test_a_price_label_with_a_price_check_digit():
    catalogue = shipped("catalogue.json")
    rule = rule_for(catalogue, "24")
    # S$28.75: price check digit 9 (worked by hand in test_gs1)
    text = gs1.make_variable_measure(rule, "10004", 2875)
    assert text[:8] == "24100049"
    assert catalogue.lookup(text).label_price == Money.of_minor(2875, "SGD")
    wrong = gs1.make_ean13(text[:7] + "8" + text[8:12])
    with pytest.raises(CodeError, match="wrong price check digit: expected 9, found 8"):
        catalogue.lookup(wrong)


def test_a_weight_label_carries_grams_priced_per_kg():
    catalogue = shipped("catalogue.json")
    text = gs1.make_variable_measure(rule_for(catalogue, "22"), "10002", 1234)  # 1.234 kg of bananas
    scan = catalogue.lookup(text)
    assert (scan.measure, scan.grams, scan.label_price) == ("weight", 1234, None)
    assert scan.item.price_per_kg == Money.of_minor(399, "SGD")
    assert weighed_amount(scan.grams, scan.item.price_per_kg) == Money.of_minor(492, "SGD")  # 492.366 cents


def test_a_count_label_carries_pieces():
    catalogue = shipped("catalogue.json")
    scan = catalogue.lookup(gs1.make_variable_measure(rule_for(catalogue, "29"), "10003", 6))
    assert (scan.item.name, scan.measure, scan.quantity) == ("Curry Puff 咖喱角", "count", 6)


def test_a_japanese_02_label_reads_as_upca_and_as_ean13():
    catalogue = shipped("catalogue_jp.json")
    rule = rule_for(catalogue, "02")
    upca = gs1.make_variable_measure(rule, "30002", 1280)  # 刺身 ¥1,280
    ean13 = gs1.make_ean13("0" + upca[:-1])
    assert ean13 == "0" + upca  # the same number, printed as an EAN-13
    for text in (upca, ean13):
        scan = catalogue.lookup(text)
        assert (scan.item.name, scan.label_price) == ("刺身盛り合わせ Sashimi Platter", Money.of_minor(1280, "JPY"))


@pytest.mark.parametrize(
    ("grams", "per_kg", "minor"),
    [(1234, 399, 492), (1250, 1290, 1613), (1, 399, 0), (2, 399, 1), (1000, 399, 399), (345, 1980, 683)],
)
def test_weighed_amounts_round_half_up_to_the_minor_unit(grams, per_kg, minor):
    # 1.250 kg x 1290 = 1612.5 -> 1613 (half up); 0.001 kg x 399 = 0.399 -> 0; 0.002 x 399 = 0.798 -> 1
    assert weighed_amount(grams, Money.of_minor(per_kg, "SGD")) == Money.of_minor(minor, "SGD")


# --- what is not found -------------------------------------------------------------------


def test_an_unknown_barcode_is_named():
    catalogue = shipped("catalogue.json")
    with pytest.raises(UnknownItemError, match="barcode 4006381333931 is not in the catalogue") as caught:
        catalogue.lookup("4006381333931")
    assert caught.value.barcode == "4006381333931"


def test_a_label_for_an_unknown_item_reference_is_named():
    catalogue = shipped("catalogue.json")
    text = gs1.make_variable_measure(rule_for(catalogue, "22"), "99999", 500)
    with pytest.raises(UnknownItemError, match="a weight label for item reference 99999") as caught:
        catalogue.lookup(text)
    assert (caught.value.barcode, caught.value.item_reference) == (text, "99999")


def test_a_misread_is_a_code_error_not_an_unknown_item():
    catalogue = shipped("catalogue.json")
    with pytest.raises(CodeError, match="wrong check digit: expected 4, found 5"):
        catalogue.lookup("8888012000125")
    with pytest.raises(CodeError, match="digits only"):
        catalogue.lookup("888801200012x")


def test_a_label_of_nothing_is_refused():
    catalogue = shipped("catalogue.json")
    with pytest.raises(CodeError, match="a weight label of Pisang Bananas with a weight of 0"):
        catalogue.lookup(gs1.make_variable_measure(rule_for(catalogue, "22"), "10002", 0))


def test_a_weight_label_needs_a_price_per_kg():
    catalogue = shipped("catalogue.json")
    text = gs1.make_variable_measure(rule_for(catalogue, "22"), "10003", 250)
    with pytest.raises(CatalogueError, match=r"items\[29\]\.price_per_kg: missing: Curry Puff 咖喱角 has no price_per_kg"):
        catalogue.lookup(text)


def test_an_item_is_found_by_its_reference():
    catalogue = shipped("catalogue_th.json")
    assert catalogue.item_by_reference("20001").name == "มะม่วง Mango"
    with pytest.raises(UnknownItemError, match="item reference '20009' is not in the catalogue"):
        catalogue.item_by_reference("20009")


# --- bad catalogues ----------------------------------------------------------------------

SMALL = {
    "name": "Test shop",
    "currency": "SGD",
    "locale": "en_SG",
    "tax": {"name": "GST", "included": True, "default": "standard", "categories": {"standard": {"rate": "9"}}},
    "variable_measure_rules": [{"prefixes": ["22"], "item_digits": 5, "measure": "weight", "value_digits": 5}],
    "items": [
        {"barcode": "8888012000124", "name": "Water", "price": 110, "tax": "standard"},
        {"item_reference": "10002", "name": "Bananas", "price_per_kg": 399, "tax": "standard"},
    ],
}


def changed(path: str, value: object) -> dict:
    """SMALL with the field at ``path`` ("items.0.price") set to ``value``, or removed for ``...``.

    An index one past the end of a list appends.
    """
    data = copy.deepcopy(SMALL)
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        last = int(last)
        if last == len(target):
            target.append(None)
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return data


def test_the_small_catalogue_is_good():
    catalogue = catalogue_from_dict(SMALL)
    assert [item.index for item in catalogue.items] == [0, 1]
    assert catalogue.tax.categories[0].label == "GST 9%"  # the default label


@pytest.mark.parametrize(
    ("path", "value", "where", "reason"),
    [
        ("items.0.barcode", "8888012000125", "items[0].barcode", "Water: 8888012000125: wrong check digit: expected 4"),
        ("items.0.barcode", 8888012000124, "items[0].barcode", "a barcode is text (leading zeros count)"),
        ("items.0.barcode", "888801200012", "items[0].barcode", "wrong check digit"),  # 12 digits: a UPC-A
        ("items.0.barcode", "12345", "items[0].barcode", "5 digits: a GS1 retail barcode has 13"),
        ("items.0.barcode", gs1.make_ean13("221000200500"), "items[0].barcode", "the variable-measure rules read as a weight"),
        (
            "items.1",
            {"barcode": "8888012000124", "name": "Water again", "price": 120, "tax": "standard"},
            "items[1].barcode",
            "8888012000124 is already items[0] (Water)",
        ),
        ("items.1", {"barcode": "0071823004513", "name": "x", "price": 1, "tax": "standard"}, None, None),
        ("items.0.price", 1.1, "items[0].price", "must be an integer of minor units (1/100 SGD), got 1.1"),
        ("items.0.price", "110", "items[0].price", "must be an integer of minor units"),
        ("items.0.price", True, "items[0].price", "must be an integer of minor units"),
        ("items.0.price", -5, "items[0].price", "must be above 0, got -5"),
        ("items.0.price", ..., "items[0].price", "Water: missing, a fixed item needs its price"),
        ("items.0.price_per_kg", 100, None, None),  # a fixed item sold by the net weight its GS1 DataBar carries
        ("items.0.tax", "reduced", "items[0].tax", "Water: 'reduced' is not a tax category (known: standard)"),
        ("items.0.tax", ..., "items[0]", "missing field tax"),
        ("items.0.name", "  ", "items[0].name", "must be non-empty text"),
        ("items.0.colour", "blue", "items[0]", "unknown field 'colour'"),
        ("items.0", "Water", "items[0]", "items[0] must be an object, got str"),
        ("items.1.item_reference", "1002", "items[1].item_reference", "Bananas: 1002 has 4 digits, the rules' item references"),
        ("items.1.item_reference", 10002, "items[1].item_reference", "an item reference is text of digits"),
        ("items.1.barcode", "8888012000292", "items[1]", "give either a barcode (fixed item) or an item_reference"),
        (
            "items.2",
            {"item_reference": "10002", "name": "Bananas again", "tax": "standard"},
            "items[2].item_reference",
            "10002 is already items[1] (Bananas)",
        ),
        ("items", [], "items", "must be a non-empty list of items"),
        ("currency", "XYZ", "currency", "'XYZ': not an ISO 4217 currency code"),
        ("currency", "XAU", "currency", "has no minor unit"),
        ("locale", "xx_YY", "locale", "'xx_YY' is not a known locale"),
        ("tax.categories.standard.rate", 9.0, "tax.categories.standard.rate", 'give the rate in percent as text, like "9.0"'),
        ("tax.categories.standard.rate", ["9"], "tax.categories.standard.rate", """as text, like "9", not ['9']"""),
        ("tax.categories.standard.rate", "nine", "tax.categories.standard.rate", "'nine' is not a number"),
        ("tax.categories.standard.rate", "-1", "tax.categories.standard.rate", "must be a percentage from 0 to 100"),
        ("tax.categories.standard.rate", "NaN", "tax.categories.standard.rate", "must be a percentage from 0 to 100"),
        ("tax.included", "yes", "tax.included", "must be true (prices include tax) or false"),
        ("tax.default", "zero", "tax.default", "'zero' is not one of the categories (standard)"),
        ("tax.categories", {}, "tax.categories", "must be an object of categories"),
        ("tax.vat_number", "M2-1234567-8", "tax", "unknown field 'vat_number'"),
        ("variable_measure_rules", [{"prefixes": ["45"]}], "variable_measure_rules", "rule 1: missing field item_digits"),
        ("variable_measure_rules", [], "items[1].item_reference", "none: the catalogue has no variable-measure rules"),
        ("shop", "x", "", "unknown field 'shop'"),
        ("name", ..., "", "missing field name"),
    ],
)
def test_a_bad_catalogue_names_the_item_and_field(path, value, where, reason):
    data = changed(path, value)
    if where is None:  # a UPC-A listed as its EAN-13: the same GTIN as nothing else here, fine
        catalogue_from_dict(data)
        return
    with pytest.raises(CatalogueError, match=re.escape(reason)) as caught:
        catalogue_from_dict(data)
    assert caught.value.path == where
    assert str(caught.value).startswith(f"{where}: " if where else reason)


def test_the_same_gtin_twice_is_a_duplicate_whatever_its_length():
    data = changed("items.0.barcode", "071823004513")
    data["items"].append({"barcode": "0071823004513", "name": "Same, as EAN-13", "price": 1, "tax": "standard"})
    with pytest.raises(CatalogueError, match=re.escape("items[2].barcode: 0071823004513 is already items[0] (Water)")):
        catalogue_from_dict(data)


def test_a_catalogue_that_is_not_an_object():
    with pytest.raises(CatalogueError, match="catalogue must be an object, got list"):
        catalogue_from_dict([])


def test_read_catalogue_refuses_bad_json_and_fields_given_twice():
    with pytest.raises(CatalogueError, match="not JSON: Expecting value at line 1 column 1"):
        read_catalogue("")
    text = json.dumps(SMALL).replace('"price": 110', '"price": 110, "price": 120')
    with pytest.raises(CatalogueError, match="field 'price' given twice in one object"):
        read_catalogue(text)


def test_catalogue_errors_are_domain_errors():
    assert issubclass(CatalogueError, DomainError) and issubclass(UnknownItemError, DomainError)
