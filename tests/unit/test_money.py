import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_sim.domain.errors import AmountError
from babel.numbers import get_currency_symbol, get_decimal_symbol, get_group_symbol

from pos_sim.domain.money import CURRENCIES, MAX_AMOUNT, Money, currency, format_money, parse_money

LOCALES = ["en_SG", "zh_CN", "zh_HK", "th_TH", "ja_JP", "ko_KR", "id_ID", "ms_MY", "pt_BR", "en_US", "de_CH", "fr_FR"]


def money(minor: int, code: str) -> Money:
    return Money.of_minor(minor, code)


def raises(fragment: str):
    return pytest.raises(AmountError, match=re.escape(fragment))


# --- the ISO 4217 table ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "minor_units"),
    [("JPY", 0), ("KRW", 0), ("VND", 0), ("IDR", 2), ("SGD", 2), ("KWD", 3), ("BHD", 3), ("IQD", 3), ("CLF", 4)],
)
def test_minor_units_are_iso_4217(code, minor_units):
    assert currency(code).minor_units == minor_units


def test_a_currency_carries_its_iso_facts():
    assert currency("SGD") == CURRENCIES["SGD"]
    assert (currency("SGD").numeric, currency("SGD").name) == ("702", "Singapore Dollar")
    assert currency("AUD").numeric == "036"


@pytest.mark.parametrize(
    ("code", "alpha"), [("764", "THB"), ("702", "SGD"), ("036", "AUD"), (" sgd ", "SGD"), ("jpy", "JPY")]
)
def test_currency_is_found_by_alpha_or_numeric_code(code, alpha):
    assert currency(code).code == alpha


def test_the_whole_table_is_there():
    assert len(CURRENCIES) > 150
    assert all(len(c.numeric) == 3 and c.numeric.isdigit() for c in CURRENCIES.values())


@pytest.mark.parametrize("code", ["XAU", "XDR", "XXX", "959"])
def test_currencies_without_minor_unit_cannot_carry_a_payment(code):
    with raises("has no minor unit and cannot carry a payment amount"):
        currency(code)


@pytest.mark.parametrize("code", ["ABC", "", "36", "7020", "S$"])
def test_unknown_currency_codes_are_refused(code):
    with raises(f"{code!r}: not an ISO 4217 currency code"):
        currency(code)


def test_a_currency_code_must_be_text():
    with raises("a currency code is text, got int"):
        currency(702)


# --- Money: construction, exact decimals ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code", "minor"),
    [("12.5", "SGD", 1250), ("12.50", "SGD", 1250), ("-3", "SGD", -300), (Decimal("0.05"), "SGD", 5),
     (12, "SGD", 1200), (1200, "JPY", 1200), ("1.250", "KWD", 1250), (Decimal("1E+3"), "JPY", 1000)],
)
def test_of_major_is_exact(value, code, minor):
    assert Money.of_major(value, code) == money(minor, code)


@pytest.mark.parametrize(
    ("value", "code", "fragment"),
    [("12.345", "SGD", "'12.345': SGD has 2 decimal places, got 3"),
     ("1200.5", "JPY", "'1200.5': JPY has 0 decimal places, got 1"),
     (Decimal("0.001"), "SGD", "SGD has 2 decimal places, got 3"),
     ("1e3", "SGD", "'1e3': not a plain decimal number"),
     ("NaN", "SGD", "not a plain decimal number"),
     ("Infinity", "SGD", "not a plain decimal number"),
     ("1_000", "SGD", "not a plain decimal number"),
     (" 12", "SGD", "not a plain decimal number"),
     ("", "SGD", "not a plain decimal number"),
     (Decimal("NaN"), "SGD", "not a finite amount"),
     (Decimal("-Infinity"), "SGD", "not a finite amount"),
     (Decimal("1E+99"), "SGD", "at most 64 digits"),
     (12.5, "SGD", "never float"),
     (True, "SGD", "never bool"),
     ("12", "XYZ", "not an ISO 4217 currency code")],
)
def test_of_major_refuses_what_is_not_exactly_money(value, code, fragment):
    with raises(fragment):
        Money.of_major(value, code)


@pytest.mark.parametrize(("most", "code"), [("92233720368547758.07", "SGD"), ("9223372036854775807", "JPY"),
                                            ("9223372036854775.807", "KWD")])
def test_an_amount_beyond_what_the_ledger_holds_is_refused_saying_the_most(most, code):
    """Money is integer minor units the ledger (and the terminal's journal) keeps in 64 bits: the most is said."""
    assert Money.of_major(most, code).minor == parse_money(f"-{most}", code).minor * -1 == MAX_AMOUNT
    beyond = most[:-1] + "8"
    for read in (lambda: Money.of_major(beyond, code), lambda: parse_money(f"-{beyond}", code),
                 lambda: parse_money("99999999999999999999", code)):
        with raises(f": more than the ledger holds ({most} {code} at most)"):
            read()


@pytest.mark.parametrize("minor", [12.5, 12.0, True, "1250", None])
def test_minor_units_must_be_an_int(minor):
    with raises("minor units must be an int"):
        Money.of_minor(minor, "SGD")


def test_money_needs_a_currency_not_a_code():
    with raises("not a Currency"):
        Money(1250, "SGD")


@pytest.mark.parametrize(
    ("minor", "code", "text"),
    [(1250, "SGD", "12.50"), (1200, "JPY", "1200"), (1250, "KWD", "1.250"), (-1250, "SGD", "-12.50"),
     (5, "SGD", "0.05"), (-5, "SGD", "-0.05"), (0, "SGD", "0.00"), (1, "CLF", "0.0001"),
     (10**40 + 1, "SGD", "1" + "0" * 38 + ".01")],
)
def test_major_str_has_exactly_the_currency_decimals(minor, code, text):
    assert money(minor, code).major_str() == text
    assert money(minor, code).decimal() == Decimal(text)


# --- Money: arithmetic ------------------------------------------------------------------------


def test_arithmetic_in_one_currency():
    a, b = money(1250, "SGD"), money(300, "SGD")
    assert a + b == money(1550, "SGD")
    assert a - b == money(950, "SGD")
    assert -a == money(-1250, "SGD")
    assert a * 3 == 3 * a == money(3750, "SGD")
    assert b < a and b <= a and a > b and a >= b and a <= a
    assert (a - a).is_zero and not a.is_zero


def test_amounts_in_different_currencies_are_never_equal():
    assert money(1250, "SGD") != money(1250, "USD")


@pytest.mark.parametrize(
    "operation",
    [lambda a, b: a + b, lambda a, b: a - b,
     lambda a, b: a < b, lambda a, b: a <= b, lambda a, b: a > b, lambda a, b: a >= b],
)
def test_currencies_do_not_mix(operation):
    with raises("SGD"):
        operation(money(1250, "SGD"), money(1250, "USD"))
    with raises("currencies differ"):
        operation(money(1250, "SGD"), money(1250, "USD"))


@pytest.mark.parametrize("other", [1, 1.5, Decimal(1), None])
def test_money_adds_only_money(other):
    with raises("not an amount of money"):
        money(1250, "SGD") + other


@pytest.mark.parametrize("factor", [1.5, Decimal("2"), True, "2"])
def test_money_is_multiplied_by_whole_numbers_only(factor):
    with raises("whole numbers only"):
        money(1250, "SGD") * factor


# --- parse_money ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "given", "locale", "code", "minor"),
    [("12.50", "SGD", "en_SG", "SGD", 1250),
     ("12.5", currency("SGD"), "en_SG", "SGD", 1250),
     ("1,234.5", "SGD", "en_SG", "SGD", 123450),
     ("1234567.50", "SGD", "en_SG", "SGD", 123456750),
     ("S$ 12.50", None, "en_SG", "SGD", 1250),
     ("$12.50", None, "en_SG", "SGD", 1250),
     ("$12.50", None, "en_US", "USD", 1250),
     ("SGD 12.50", None, "en_SG", "SGD", 1250),
     ("12.50 SGD", None, "en_SG", "SGD", 1250),
     ("sgd12.5", None, "en_SG", "SGD", 1250),
     ("12.50 SGD", "SGD", "en_SG", "SGD", 1250),
     ("¥1200", None, "en_SG", "JPY", 1200),
     ("¥1200", None, "ja_JP", "JPY", 1200),
     ("￥１，２００", None, "ja_JP", "JPY", 1200),
     ("¥1200", None, "zh_CN", "CNY", 120000),
     ("฿1,000", None, "th_TH", "THB", 100000),
     ("฿1,000", None, "en_SG", "THB", 100000),
     ("₩5000", None, "ko_KR", "KRW", 5000),
     ("₩5000", None, "en_SG", "KRW", 5000),
     ("RM12.50", None, "ms_MY", "MYR", 1250),
     ("1.250 KWD", None, "en_SG", "KWD", 1250),
     ("-3.00", "SGD", "en_SG", "SGD", -300),
     ("-S$3", None, "en_SG", "SGD", -300),
     ("SGD -3.00", None, "en_SG", "SGD", -300),
     ("1.234,50", "IDR", "id_ID", "IDR", 123450),
     ("Rp1.234.567,50", None, "id_ID", "IDR", 123456750),
     ("R$ 1.234,50", None, "pt_BR", "BRL", 123450),
     (f"SGD-1{get_group_symbol('de_CH')}234.50", None, "de_CH", "SGD", -123450),  # the mark is CLDR's: ’ or ' by version
     ("1 234,50 €", None, "fr_FR", "EUR", 123450),
     ("1\u202f234,50\u00a0€", None, "fr_FR", "EUR", 123450)],
)
def test_parse_money_reads_keypad_and_displayed_forms(text, given, locale, code, minor):
    assert parse_money(text, given, locale) == money(minor, code)


@pytest.mark.parametrize(
    ("text", "given", "locale", "fragment"),
    [("12.345 SGD", None, "en_SG", "'12.345 SGD': SGD has 2 decimal places, got 3"),
     ("1200.5 JPY", None, "en_SG", "JPY has 0 decimal places, got 1"),
     ("12.5", "JPY", "en_SG", "JPY has 0 decimal places, got 1"),
     ("1,23,4.5", "SGD", "en_SG", "'1,23,4.5' is not a number in en_SG (digits grouped by ',', decimals after '.')"),
     ("12,50", "SGD", "en_SG", "is not a number in en_SG"),
     ("1.2.3", "SGD", "en_SG", "is not a number in en_SG"),
     ("12.50", "IDR", "id_ID", "is not a number in id_ID (digits grouped by '.', decimals after ',')"),
     ("12a50", "SGD", "en_SG", "is not a number"),
     ("1e3", "SGD", "en_SG", "is not a number"),
     ("abc", "SGD", "en_SG", "'abc': no digits"),
     ("", "SGD", "en_SG", "no digits"),
     ("   ", "SGD", "en_SG", "no digits"),
     ("NaN", "SGD", "en_SG", "no digits"),
     ("Infinity", "SGD", "en_SG", "no digits"),
     ("1" * 65, "SGD", "en_SG", "longer than 64 characters"),
     ("12.50", None, "en_SG", "'12.50': no currency given or written"),
     ("12.50 SGD", "USD", "en_SG", "'SGD' is SGD in en_SG, not USD"),
     ("$12.50", "USD", "en_SG", "'$' is SGD in en_SG, not USD"),
     ("S$12.50", "USD", "en_US", "'S$' is SGD in en_US, not USD"),
     ("¥12", "CNY", "en_SG", "'¥' is JPY in en_SG, not CNY"),
     ("¥12", None, "ko_KR", "'¥' is not a currency code or symbol in ko_KR"),
     ("12 XYZ", None, "en_SG", "'XYZ' is not a currency code or symbol in en_SG"),
     ("12.", "SGD", "en_SG", "'.' is not a currency code or symbol"),
     ("S$12 SGD", None, "en_SG", "currency written twice, 'S$' and 'SGD'"),
     ("--12", "SGD", "en_SG", "two minus signs"),
     ("12", "XAU", "en_SG", "cannot carry a payment amount"),
     ("12 XAU", None, "en_SG", "cannot carry a payment amount"),
     ("12 SGD", None, "xx_XX", "'xx_XX': unknown locale"),
     ("12 SGD", None, "en-SG", "unknown locale")],
)
def test_parse_money_refuses_with_a_reason(text, given, locale, fragment):
    with raises(fragment):
        parse_money(text, given, locale)


def test_parse_money_takes_only_text():
    with raises("an amount to parse is text, got float"):
        parse_money(12.5, "SGD")


# --- format_money -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "code", "locale", "number"),
    [(1250, "SGD", "en_SG", "12.50"),
     (-123450, "SGD", "en_SG", "1,234.50"),
     (1250, "USD", "en_SG", "12.50"),
     (1200, "JPY", "en_SG", "1,200"),
     (1200, "JPY", "ja_JP", "1,200"),
     (120000, "CNY", "zh_CN", "1,200.00"),
     (1250, "HKD", "zh_HK", "12.50"),
     (100000, "THB", "th_TH", "1,000.00"),
     (5000, "KRW", "ko_KR", "5,000"),
     (123456750, "IDR", "id_ID", "1,234,567.50"),
     (1250, "MYR", "ms_MY", "12.50"),
     (123450, "BRL", "pt_BR", "1,234.50"),
     (1250, "USD", "en_US", "12.50"),
     (1250, "KWD", "en_SG", "1.250"),
     (1250, "IQD", "en_SG", "1.250"),  # CLDR says 0 decimals, ISO 4217 says 3
     (1, "CLF", "en_SG", "0.0001"),
     (10**30 + 1, "SGD", "en_SG", "10,000,000,000,000,000,000,000,000,000.01")],
)
def test_format_money_per_locale_with_iso_decimals(minor, code, locale, number):
    """The ISO 4217 decimals, written with the locale's own marks and currency symbol (CLDR's, from Babel:
    they change between CLDR releases, so the test takes them from Babel rather than writing them out)."""
    shown = format_money(money(minor, code), locale)
    marks = str.maketrans({",": get_group_symbol(locale), ".": get_decimal_symbol(locale)})
    assert number.translate(marks) in shown
    assert get_currency_symbol(code, locale) in shown
    assert ("-" in shown) == (minor < 0)


def test_format_money_refuses_unknown_locales_and_non_money():
    with raises("'tlh_XX': unknown locale"):
        format_money(money(1250, "SGD"), "tlh_XX")
    with raises("not an amount of money"):
        format_money(Decimal("12.50"))


# --- properties -------------------------------------------------------------------------------

payable = st.sampled_from(sorted(CURRENCIES.values(), key=lambda c: c.code))
amounts = st.builds(Money, st.integers(-MAX_AMOUNT, MAX_AMOUNT), payable)


@settings(max_examples=200)
@given(amounts)
def test_major_str_round_trips(m):
    assert parse_money(m.major_str(), m.currency) == m
    assert parse_money(f"{m.major_str()} {m.currency.code}") == m
    assert Money.of_major(m.major_str(), m.currency) == Money.of_major(m.decimal(), m.currency) == m


@pytest.mark.parametrize("locale", LOCALES)
@settings(max_examples=60)
@given(m=amounts)
def test_what_is_displayed_can_be_typed_back(locale, m):
    assert parse_money(format_money(m, locale), m.currency, locale) == m


@settings(max_examples=200)
@given(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6), st.integers(-100, 100))
def test_arithmetic_matches_integers(a, b, k):
    x, y = money(a, "SGD"), money(b, "SGD")
    assert (x + y) - y == x
    assert (x * k).minor == a * k
    assert (x < y) == (a < b)


texts = st.one_of(st.text(max_size=70), st.text(alphabet="0123456789.,-−' ’$¥￥₩฿SGDJPYRpM\u00a0\u202f", max_size=20))


@settings(max_examples=200)
@given(texts, st.sampled_from([None, "SGD", "JPY", "KWD"]), st.sampled_from(LOCALES))
def test_any_text_is_money_or_an_amount_error(text, given_currency, locale):
    try:
        parse_money(text, given_currency, locale)
    except AmountError:
        pass
