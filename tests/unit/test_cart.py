"""The cart: lines, exact amounts, tax per rate worked by hand (SGD, THB, JPY included; US on top), refusals."""

import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_sim.assets import ASSETS
from pos_sim.domain.cart import MAX_GRAMS, MAX_QUANTITY, Cart, CartError, Line, TaxGroup
from pos_sim.domain.catalogue import Catalogue, catalogue_from_dict, read_catalogue
from pos_sim.domain.codes import gs1
from pos_sim.domain.errors import DomainError
from pos_sim.domain.money import Money

SG = read_catalogue((ASSETS / "catalogue.json").read_text(encoding="utf-8"))
TH = read_catalogue((ASSETS / "catalogue_th.json").read_text(encoding="utf-8"))
JP = read_catalogue((ASSETS / "catalogue_jp.json").read_text(encoding="utf-8"))
US = catalogue_from_dict(
    {
        "name": "Corner deli, New York",
        "currency": "USD",
        "locale": "en_US",
        "tax": {
            "name": "Sales tax",
            "included": False,
            "default": "standard",
            "categories": {"standard": {"rate": "8.875"}, "grocery": {"rate": "0"}},
        },
        "variable_measure_rules": [
            {"prefixes": ["02"], "item_digits": 5, "measure": "price", "value_digits": 4, "price_check": True}
        ],
        "items": [
            {"barcode": "036000291452", "name": "Turkey sandwich", "price": 600, "tax": "standard"},
            {"barcode": "041303001172", "name": "Milk 1 qt", "price": 349, "tax": "grocery"},
            {"item_reference": "40001", "name": "Deli ham", "price_per_kg": 2200, "tax": "grocery"},
        ],
    }
)
CATALOGUES = (SG, TH, JP, US)


def money(minor: int, code: str) -> Money:
    return Money.of_minor(minor, code)


def label(catalogue: Catalogue, prefix: str, item_reference: str, value: int) -> str:
    rule = next(rule for rule in catalogue.rules if prefix in rule.prefixes)
    return gs1.make_variable_measure(rule, item_reference, value, prefix=prefix)


def by_name(catalogue: Catalogue, start: str):
    return next(item for item in catalogue.items if item.name.startswith(start))


def ring(catalogue: Catalogue, *scans: str) -> Cart:
    cart = Cart.for_catalogue(catalogue)
    for text in scans:
        cart = cart.add_scan(catalogue.lookup(text))
    return cart


def raises(fragment: str):
    return pytest.raises(CartError, match=re.escape(fragment))


# --- tax worked by hand ------------------------------------------------------------------


def test_singapore_gst_9_percent_included():
    kopi, toast, donation = (by_name(SG, name).barcode for name in ("Kopi 咖啡", "Kaya Toast", "Donation"))
    bananas = label(SG, "22", "10002", 1234)  # 1.234 kg at S$3.99/kg = 492.366 cents -> S$4.92
    cart = ring(SG, kopi, toast, kopi, bananas, donation)
    assert [(line.description, line.quantity, line.amount.minor) for line in cart.lines] == [
        ("Kopi 咖啡", 2, 260),
        ("Kaya Toast Set 咖椰吐司套餐", 1, 520),
        ("Pisang Bananas", 1, 492),
        ("Donation - community food bank", 1, 200),
    ]
    assert cart.subtotal == money(1472, "SGD")
    # 9%: 260 + 520 + 492 = 1272 cents, 1272 x 9 / 109 = 105.03 -> 105; 0%: 200, no tax
    assert cart.taxes == (
        TaxGroup(Decimal(9), ("standard",), money(1167, "SGD"), money(105, "SGD"), money(1272, "SGD")),
        TaxGroup(Decimal(0), ("out_of_scope",), money(200, "SGD"), money(0, "SGD"), money(200, "SGD")),
    )
    assert (cart.tax_total, cart.total) == (money(105, "SGD"), money(1472, "SGD"))


def test_thai_vat_7_percent_included_with_exempt_produce():
    water, tea, rice = (by_name(TH, name).barcode for name in ("น้ำดื่ม", "ชาเย็น", "ข้าวหอมมะลิ"))
    mango = label(TH, "23", "20001", 750)  # 0.750 kg at ฿80.00/kg = ฿60.00, VAT exempt
    cart = ring(TH, water, tea, water, mango, rice, water)
    assert cart.lines[0].quantity == 3
    assert cart.subtotal == money(31100, "THB")  # 21.00 + 45.00 + 60.00 + 185.00
    # 7%: 2100 + 4500 = 6600 satang, 6600 x 7 / 107 = 431.78 -> 432; exempt: 6000 + 18500
    assert cart.taxes == (
        TaxGroup(Decimal(7), ("standard",), money(6168, "THB"), money(432, "THB"), money(6600, "THB")),
        TaxGroup(Decimal(0), ("exempt",), money(24500, "THB"), money(0, "THB"), money(24500, "THB")),
    )
    assert cart.total == money(31100, "THB")


def test_japan_10_and_8_percent_included_in_whole_yen():
    onigiri, bento, beer, batteries = (by_name(JP, name).barcode for name in ("おにぎり", "幕の内", "缶ビール", "乾電池"))
    karaage = label(JP, "22", "30001", 345)  # 345 g at ¥1,980/kg = 683.1 -> ¥683
    sashimi = label(JP, "02", "30002", 1280)  # a price label, ¥1,280
    cart = ring(JP, onigiri, beer, onigiri, karaage, bento, batteries, sashimi)
    assert [line.amount.minor for line in cart.lines] == [300, 248, 683, 498, 398, 1280]
    assert cart.subtotal == money(3407, "JPY")
    # 10%: 248 + 398 = 646, 646 x 10 / 110 = 58.73 -> 59
    # 8% (※): 300 + 683 + 498 + 1280 = 2761, 2761 x 8 / 108 = 204.52 -> 205
    assert cart.taxes == (
        TaxGroup(Decimal(10), ("standard",), money(587, "JPY"), money(59, "JPY"), money(646, "JPY")),
        TaxGroup(Decimal(8), ("reduced",), money(2556, "JPY"), money(205, "JPY"), money(2761, "JPY")),
    )
    assert (cart.tax_total, cart.total) == (money(264, "JPY"), money(3407, "JPY"))


def test_us_sales_tax_8_875_percent_added_on_top_rounds_half_up():
    sandwich, milk = (item.barcode for item in US.items[:2])
    cart = ring(US, sandwich, milk, sandwich)
    assert cart.subtotal == money(1549, "USD")
    # 8.875%: 1200 x 8.875 / 100 = 106.5 -> 107 (half up; half even would give 106)
    assert cart.taxes == (
        TaxGroup(Decimal("8.875"), ("standard",), money(1200, "USD"), money(107, "USD"), money(1307, "USD")),
        TaxGroup(Decimal(0), ("grocery",), money(349, "USD"), money(0, "USD"), money(349, "USD")),
    )
    assert (cart.tax_total, cart.total) == (money(107, "USD"), money(1656, "USD"))


def test_tax_is_worked_on_the_sum_at_each_rate_not_line_by_line():
    # Three S$0.05 bag charges: 0.41 cents of GST each, 0 line by line; 15 x 9 / 109 = 1.24 -> 1 cent
    bag = by_name(SG, "Carrier bag").barcode
    cart = ring(SG, bag, bag, bag)
    assert cart.tax_total == money(1, "SGD")


def test_an_empty_cart_totals_zero():
    cart = Cart.for_catalogue(JP)
    assert cart.is_empty and cart.pieces == 0
    zero = money(0, "JPY")
    assert (cart.subtotal, cart.tax_total, cart.total, cart.taxes) == (zero, zero, zero, ())


# --- lines -------------------------------------------------------------------------------


def test_keyed_amounts_are_open_items():
    cart = Cart.for_catalogue(SG).add_keyed_amount(money(1250, "SGD"))
    cart = cart.add_keyed_amount(money(300, "SGD"), "Charity pin", tax="out_of_scope")
    first, second = cart.lines
    assert (first.description, first.tax, first.is_open) == ("Open item", "standard", True)
    assert first.amount == money(1250, "SGD")
    assert (second.description, second.tax) == ("Charity pin", "out_of_scope")
    assert cart.change_quantity(0, 2).subtotal == money(2800, "SGD")
    assert cart.total == money(1550, "SGD")


def test_a_cart_is_a_value_every_change_returns_a_new_one():
    kopi = SG.lookup(by_name(SG, "Kopi 咖啡").barcode)
    empty = Cart.for_catalogue(SG)
    one = empty.add_scan(kopi)
    assert empty.is_empty and len(one.lines) == 1
    assert one.add_scan(kopi) == one.change_quantity(0, 2)
    assert one.add_item(kopi.item, 4).lines[0].quantity == 5
    assert one.add_scan(kopi).remove_line(0).is_empty
    assert one.clear() == empty


def test_scanning_a_fixed_item_again_adds_to_its_line_labels_stay_apart():
    tea = by_name(SG, "Teh Tarik").barcode
    puffs = label(SG, "29", "10003", 3)
    char_siew = label(SG, "20", "10001", 1285)
    cart = ring(SG, tea, puffs, char_siew, tea, puffs, char_siew)
    assert [(line.description, line.kind, line.quantity) for line in cart.lines] == [
        ("Teh Tarik 拉茶", "pieces", 2),
        ("Curry Puff 咖喱角", "pieces", 3),
        ("Char Siew 叉烧 (roast pork)", "label", 1),
        ("Curry Puff 咖喱角", "pieces", 3),
        ("Char Siew 叉烧 (roast pork)", "label", 1),
    ]
    assert cart.lines[1].amount == money(480, "SGD")  # 3 x S$1.60
    assert cart.lines[2].barcode == char_siew
    assert cart.pieces == 10
    assert cart.subtotal == money(2 * 160 + 2 * 480 + 2 * 1285, "SGD")


def test_weighing_at_the_counter_and_keying_a_reference():
    fish = SG.item_by_reference("10004")
    cart = Cart.for_catalogue(SG).add_weighed(fish, 1250)  # 1.250 kg at S$12.90 = 1612.5 -> S$16.13
    line = cart.lines[0]
    assert (line.kind, line.grams, line.price_per_kg) == ("weight", 1250, money(1290, "SGD"))
    assert line.amount == money(1613, "SGD")
    assert Cart.for_catalogue(SG).add_item(SG.item_by_reference("10003"), 2).subtotal == money(320, "SGD")


def test_amounts_in_whole_yen_never_get_decimals():
    cart = ring(JP, label(JP, "22", "30003", 123))  # 123 g at ¥4,980/kg = 612.54 -> ¥613
    assert cart.subtotal == money(613, "JPY")
    assert cart.subtotal.major_str() == "613"


# --- refusals ----------------------------------------------------------------------------


def test_another_currency_is_refused():
    cart = Cart.for_catalogue(SG)
    with raises("Open item: priced in THB, the cart is in SGD"):
        cart.add_keyed_amount(money(100, "THB"))
    with raises("ชาเย็น Thai Iced Tea: priced in THB, the cart is in SGD"):
        cart.add_scan(TH.lookup(by_name(TH, "ชาเย็น").barcode))


def test_a_tax_category_the_scheme_lacks_is_refused():
    with raises("Open item: tax category 'reduced' is not one of GST's (standard, out_of_scope)"):
        Cart.for_catalogue(SG).add_keyed_amount(money(100, "SGD"), tax="reduced")


@pytest.mark.parametrize("quantity", [-1, 0, MAX_QUANTITY + 1, 1.5, "2", True])
def test_quantities_are_whole_positive_numbers(quantity):
    cart = Cart.for_catalogue(SG).add_keyed_amount(money(100, "SGD"))
    with pytest.raises(CartError, match="quantity"):
        cart.change_quantity(0, quantity)
    with pytest.raises(CartError, match="quantity"):
        cart.add_item(SG.items[0], quantity)


def test_quantity_0_says_remove_the_line():
    cart = Cart.for_catalogue(SG).add_keyed_amount(money(100, "SGD"))
    with raises("line 0, Open item: quantity 0: remove the line instead"):
        cart.change_quantity(0, 0)


def test_merging_past_the_most_pieces_is_refused():
    cart = Cart.for_catalogue(SG).add_item(SG.items[0], MAX_QUANTITY)
    with raises(f"Kopi 咖啡: quantity must be a whole number from 1 to {MAX_QUANTITY}, got {MAX_QUANTITY + 1}"):
        cart.add_item(SG.items[0])


@pytest.mark.parametrize(("amount", "fragment"), [(0, "must be above 0, got 0.00 SGD"), (-500, "got -5.00 SGD")])
def test_keyed_amounts_must_be_above_zero(amount, fragment):
    with raises(fragment):
        Cart.for_catalogue(SG).add_keyed_amount(money(amount, "SGD"))


def test_a_keyed_amount_is_money_with_a_description():
    with raises("a keyed amount is Money, got 12.5"):
        Cart.for_catalogue(SG).add_keyed_amount(12.5)
    with raises("a line needs a description, got ' '"):
        Cart.for_catalogue(SG).add_keyed_amount(money(100, "SGD"), " ")


@pytest.mark.parametrize("grams", [0, -10, MAX_GRAMS + 1, 1.5])
def test_weights_are_whole_positive_grams(grams):
    with raises("Pisang Bananas: weight must be whole grams"):
        Cart.for_catalogue(SG).add_weighed(SG.item_by_reference("10002"), grams)


def test_items_not_sold_that_way_are_refused():
    with raises("Kopi 咖啡: not sold by weight (no price per kg)"):
        Cart.for_catalogue(SG).add_weighed(SG.items[0], 100)
    with raises("Char Siew 叉烧 (roast pork): no price per piece (weigh it, or scan its label)"):
        Cart.for_catalogue(SG).add_item(SG.item_by_reference("10001"))


def test_a_count_label_of_more_than_the_most_pieces_is_refused():
    scan = SG.lookup(label(SG, "29", "10003", MAX_QUANTITY + 1))
    with raises(f"Curry Puff 咖喱角: quantity must be a whole number from 1 to {MAX_QUANTITY}, got {MAX_QUANTITY + 1}"):
        Cart.for_catalogue(SG).add_scan(scan)


def test_a_labelled_pack_keeps_quantity_1():
    cart = ring(SG, label(SG, "22", "10002", 500))
    with raises("line 0, Pisang Bananas: a weight line is one pack, its quantity stays 1"):
        cart.change_quantity(0, 2)


@pytest.mark.parametrize("index", [1, -1, "0", None])
def test_a_line_the_cart_does_not_have(index):
    cart = Cart.for_catalogue(SG).add_keyed_amount(money(100, "SGD"))
    with raises(f"line {index!r}: the cart has lines 0 to 0"):
        cart.remove_line(index)
    with raises(f"line {index!r}: the cart has no lines"):
        Cart.for_catalogue(SG).change_quantity(index, 1)


def test_a_line_is_checked_for_what_its_kind_needs():
    with raises("Soup: a weight line needs its price_per_kg"):
        Line("Soup", "standard", "weight", grams=100)
    with raises("Soup: a pieces line has no label_price"):
        Line("Soup", "standard", "pieces", unit_price=money(1, "SGD"), label_price=money(1, "SGD"))
    with raises("Soup: only a weight line has grams"):
        Line("Soup", "standard", "pieces", unit_price=money(1, "SGD"), grams=5)
    with raises("Soup: a line is priced by pieces, weight, label, not 'volume'"):
        Line("Soup", "standard", "volume")


def test_cart_errors_are_domain_errors():
    assert issubclass(CartError, DomainError)


# --- properties --------------------------------------------------------------------------


@st.composite
def carts(draw) -> Cart:
    """A cart of any catalogue: scanned items, labels of every kind, weighed items and keyed amounts."""
    catalogue = draw(st.sampled_from(CATALOGUES))
    cart = Cart.for_catalogue(catalogue)
    codes = [category.code for category in catalogue.tax.categories]
    for _ in range(draw(st.integers(0, 12))):
        item = draw(st.sampled_from(catalogue.items))
        choice = draw(st.integers(0, 3))
        if item.barcode and choice < 3:
            cart = cart.add_item(item, draw(st.integers(1, 50)))
        elif item.variable_measure and choice < 3:
            fitting = [rule for rule in catalogue.rules if rule.item_digits == len(item.item_reference)]
            rule = draw(st.sampled_from(fitting))
            needed = {"price": True, "weight": item.price_per_kg, "count": item.price}[rule.measure]
            most = MAX_QUANTITY if rule.measure == "count" else 10**rule.value_digits - 1
            value = draw(st.integers(1, most))
            if needed:
                cart = cart.add_scan(catalogue.lookup(gs1.make_variable_measure(rule, item.item_reference, value)))
            if item.price_per_kg:
                cart = cart.add_weighed(item, draw(st.integers(1, MAX_GRAMS)))
        else:
            amount = Money(draw(st.integers(1, 10**9)), catalogue.currency)
            cart = cart.add_keyed_amount(amount, tax=draw(st.sampled_from(codes)))
    return cart


@given(carts())
def test_the_lines_add_up_to_the_subtotal_and_tax_stays_within_it(cart):
    assert cart.subtotal.minor == sum(line.amount.minor for line in cart.lines)
    assert sum(line.gross.minor for line in cart.taxes) == cart.total.minor
    assert sum(line.net.minor for line in cart.taxes) == cart.total.minor - cart.tax_total.minor
    for tax in cart.taxes:
        assert tax.net + tax.tax == tax.gross
        base = tax.gross if cart.tax_scheme.included else tax.net
        rate = Fraction(tax.rate)
        share = rate / (100 + rate) if cart.tax_scheme.included else rate / 100
        assert abs(tax.tax.minor - base.minor * share) <= Fraction(1, 2)  # rounded once, to the nearest
    if cart.tax_scheme.included:
        assert cart.total == cart.subtotal
        assert Money(0, cart.currency) <= cart.tax_total <= cart.subtotal
    else:
        assert cart.total == cart.subtotal + cart.tax_total
    rates = [tax.rate for tax in cart.taxes]
    assert rates == sorted(set(rates), reverse=True)
