"""Exact money: integer minor units of an ISO 4217 currency, read and displayed per locale."""

from __future__ import annotations

import copy
import functools
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, localcontext
from types import MappingProxyType

from babel import Locale, UnknownLocaleError
from babel.numbers import get_decimal_symbol, get_group_symbol
from iso4217 import Currency as _Iso

from pos_sim.domain.errors import AmountError
from pos_sim.language import N_, Phrase

MAX_TEXT = 64
"""Longest amount text accepted, in characters (and most digits in an amount)."""

MAX_AMOUNT = 2**63 - 1
"""The most minor units an amount read may have: what the ledger's BIGINT columns (and a journal's SQLite INTEGER) hold."""

MAX_MINOR_DIGITS = len(str(MAX_AMOUNT)) - 1
"""The most digits an AMS amount's minor units may have (18): any such amount fits MAX_AMOUNT."""


@dataclass(frozen=True)
class Currency:
    """An ISO 4217 currency that has a minor unit."""

    code: str
    numeric: str
    minor_units: int
    name: str


_ISO = {iso.code: iso for iso in _Iso}
_BY_NUMBER = {f"{iso.number:03d}": iso.code for iso in _Iso}
CURRENCIES = MappingProxyType(
    {
        iso.code: Currency(iso.code, f"{iso.number:03d}", iso.exponent, iso.currency_name)
        for iso in _Iso
        if iso.exponent is not None
    }
)
"""Every ISO 4217 currency that can carry a payment amount, by alpha code."""


def currency(code: str) -> Currency:
    """The currency with this alpha ("SGD", any case) or 3-digit numeric ("702") code."""
    if not isinstance(code, str):
        raise AmountError(f"{code!r}: a currency code is text, got {type(code).__name__}")
    key = code.strip().upper()
    key = _BY_NUMBER.get(key, key)
    if key in CURRENCIES:
        return CURRENCIES[key]
    if key in _ISO:
        name = _ISO[key].currency_name
        raise AmountError(Phrase(N_("{code!r}: {currency} ({name}) has no minor unit and cannot carry a payment amount"),
                                 code=code, currency=key, name=name))
    raise AmountError(Phrase(N_("{code!r}: not an ISO 4217 currency code"), code=code))


def _as_currency(value: str | Currency) -> Currency:
    return value if isinstance(value, Currency) else currency(value)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Money:
    """An exact amount: ``minor`` units (cents, yen...) of ``currency``."""

    minor: int
    currency: Currency

    def __post_init__(self) -> None:
        if not _whole(self.minor):
            raise AmountError(f"{self.minor!r}: minor units must be an int, got {type(self.minor).__name__}")
        if not isinstance(self.currency, Currency):
            raise AmountError(f"{self.currency!r}: not a Currency (Money.of_minor takes a code)")

    @classmethod
    def of_minor(cls, minor: int, currency: str | Currency) -> Money:
        """``minor`` units of ``currency`` (a Currency or a code)."""
        return cls(minor, _as_currency(currency))

    @classmethod
    def of_major(cls, value: str | Decimal | int, currency: str | Currency) -> Money:
        """Exactly ``value`` ("12.5", Decimal, int) major units; more decimals than the currency has is an error."""
        cur = _as_currency(currency)
        if isinstance(value, str):
            if len(value) > MAX_TEXT or not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
                raise AmountError(Phrase(N_("{text!r}: not a plain decimal number like 12.50"), text=value[:MAX_TEXT]))
            amount = Decimal(value)
        elif _whole(value):
            amount = Decimal(value)
        elif isinstance(value, Decimal):
            amount = value
        else:
            raise AmountError(f"{value!r}: an amount is str, Decimal or int, never {type(value).__name__}")
        return cls(_to_minor(amount, cur, value), cur)

    @property
    def is_zero(self) -> bool:
        return self.minor == 0

    def decimal(self) -> Decimal:
        """The exact amount in major units, with the currency's decimals: SGD 1250 -> Decimal("12.50")."""
        return Decimal(Decimal(self.minor).as_tuple()._replace(exponent=-self.currency.minor_units))

    def major_str(self) -> str:
        """Plain major units, no grouping: "12.50", "1200", "1.250", "-12.50"."""
        return format(self.decimal(), "f")

    def _same(self, other: object, op: str) -> Money:
        if not isinstance(other, Money):
            raise AmountError(f"{self.major_str()} {self.currency.code} {op} {other!r}: not an amount of money")
        if other.currency != self.currency:
            raise AmountError(f"{self.currency.code} {op} {other.currency.code}: currencies differ")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._same(other, "+").minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._same(other, "-").minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __mul__(self, factor: int) -> Money:
        if not _whole(factor):
            raise AmountError(f"{self.currency.code} * {factor!r}: money is multiplied by whole numbers only")
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._same(other, "<").minor

    def __le__(self, other: Money) -> bool:
        return self.minor <= self._same(other, "<=").minor

    def __gt__(self, other: Money) -> bool:
        return self.minor > self._same(other, ">").minor

    def __ge__(self, other: Money) -> bool:
        return self.minor >= self._same(other, ">=").minor


def _to_minor(value: Decimal, cur: Currency, shown: object) -> int:
    """``value`` in minor units of ``cur``, exactly; ``shown`` is what error messages quote."""
    if not value.is_finite() or value.adjusted() >= MAX_TEXT:
        raise AmountError(Phrase(N_("{text!r}: not a finite amount of at most {digits} digits"), text=shown, digits=MAX_TEXT))
    sign, digits, exponent = value.as_tuple()
    if -exponent > cur.minor_units:
        raise AmountError(Phrase(N_("{text!r}: {currency} has {places} decimal places, got {got}"), text=shown,
                                 currency=cur.code, places=cur.minor_units, got=-exponent))
    minor = int("".join(map(str, digits))) * 10 ** (exponent + cur.minor_units)
    if minor > MAX_AMOUNT:
        raise AmountError(Phrase(N_("{text!r}: more than the ledger holds ({most} {currency} at most)"), text=shown,
                                 most=Money(MAX_AMOUNT, cur).major_str(), currency=cur.code))
    return -minor if sign else minor


_FOLD = str.maketrans(
    {chr(c): unicodedata.normalize("NFKC", chr(c)) for c in range(0xFF01, 0xFFEF)}  # full width: "￥１２" -> "¥12"
    | dict.fromkeys("\u00a0\u2009\u202f", " ")
    | dict.fromkeys("\u200e\u200f\u061c")  # bidi marks
)
"""What parse_money reads the same: full-width forms, odd spaces and bidi marks."""

_LAYOUT = re.compile(
    r"\s*(?P<minus>[-\u2212]?)\s*(?P<pre>[^0-9]*?)\s*(?P<minus2>[-\u2212]?)\s*"
    r"(?P<number>[0-9](?:.*[0-9])?)\s*(?P<post>[^0-9]*?)\s*",
    re.DOTALL,
)
"""An amount's text: [minus] [currency] [minus] number [currency]."""

_EVERYDAY_SYMBOLS = {"SGD": "S$", "THB": "฿", "IDR": "Rp", "MYR": "RM"}
"""Symbols in everyday use that CLDR leaves out of English locales."""


def _locale(name: str) -> Locale:
    try:
        return Locale.parse(name)
    except (ValueError, TypeError, UnknownLocaleError):
        raise AmountError(f"{name!r}: unknown locale") from None


@functools.cache
def _number_re(loc: Locale) -> re.Pattern[str]:
    """The locale's numbers: digits ungrouped or grouped as the locale groups them, then optional decimals.
    The leading group may be longer than the others: CLDR's data leaves the high digits of large amounts
    ungrouped in some locales (de_CH: 1000000'000.00), and what is displayed must read back."""
    group, decimal = (re.escape(get(loc).translate(_FOLD)) for get in (get_group_symbol, get_decimal_symbol))
    primary, secondary = loc.currency_formats["standard"].grouping
    grouped = f"[0-9]+(?:{group}[0-9]{{{secondary}}})*{group}[0-9]{{{primary}}}"
    return re.compile(f"(?P<units>[0-9]+|{grouped})(?:{decimal}(?P<decimals>[0-9]+))?")


@functools.cache
def _symbols(loc: Locale) -> dict[str, str]:
    """The currency each symbol names in ``loc``: its own CLDR symbols, else its language's, else everyday ones."""
    sources = (_EVERYDAY_SYMBOLS, Locale(loc.language).currency_symbols, loc.currency_symbols)
    return {
        symbol.translate(_FOLD): code for source in sources for code, symbol in source.items() if code in CURRENCIES
    }


def parse_money(text: str, currency: str | Currency | None = None, locale: str = "en_SG") -> Money:
    """Read a typed or displayed amount: "12.50", "1,234.5", "S$ 12.50", "12.50 SGD", "¥1200", "-3.00".

    Grouping and decimal marks are the locale's; grouping is optional but must be well formed.
    The currency comes from ``currency`` and/or a code or symbol in the text, read as the locale
    reads it ("¥" is JPY in en_SG and ja_JP, CNY in zh_CN); the two must agree.
    One minus sign, before or after a leading currency, makes the amount negative (refunds).
    """
    if not isinstance(text, str):
        raise AmountError(f"{text!r}: an amount to parse is text, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise AmountError(Phrase(N_("{text!r}...: longer than {most} characters"), text=text[:16], most=MAX_TEXT))
    loc = _locale(locale)
    layout = _LAYOUT.fullmatch(text.translate(_FOLD))
    if layout is None:
        raise AmountError(Phrase(N_("{text!r}: no digits"), text=text))
    if layout["minus"] and layout["minus2"]:
        raise AmountError(Phrase(N_("{text!r}: two minus signs"), text=text))
    if layout["pre"] and layout["post"]:
        raise AmountError(Phrase(N_("{text!r}: currency written twice, {first!r} and {second!r}"), text=text,
                                 first=layout["pre"], second=layout["post"]))
    number = _number_re(loc).fullmatch(layout["number"])
    if number is None:
        raise AmountError(Phrase(N_("{text!r}: {number!r} is not a number in {locale} (digits grouped by {group!r}, "
                                    "decimals after {decimal!r})"), text=text, number=layout["number"], locale=str(loc),
                                 group=get_group_symbol(loc), decimal=get_decimal_symbol(loc)))
    cur = _resolve(text, layout["pre"] or layout["post"], None if currency is None else _as_currency(currency), loc)
    sign = "-" if layout["minus"] or layout["minus2"] else ""
    units = re.sub("[^0-9]", "", number["units"])
    return Money(_to_minor(Decimal(f"{sign}{units}.{number['decimals'] or ''}"), cur, text), cur)


def _resolve(text: str, mark: str, given: Currency | None, loc: Locale) -> Currency:
    """The currency named by ``mark`` (a code or a symbol of the locale) and/or ``given``."""
    if not mark:
        if given is None:
            raise AmountError(Phrase(N_("{text!r}: no currency given or written"), text=text))
        return given
    code = mark.upper() if re.fullmatch("[A-Za-z]{3}", mark) and mark.upper() in _ISO else _symbols(loc).get(mark)
    if code is None:
        raise AmountError(Phrase(N_("{text!r}: {mark!r} is not a currency code or symbol in {locale}"), text=text,
                                 mark=mark, locale=str(loc)))
    if given is not None and given.code != code:
        raise AmountError(Phrase(N_("{text!r}: {mark!r} is {code} in {locale}, not {given}"), text=text, mark=mark,
                                 code=code, locale=str(loc), given=given.code))
    return currency(code)


def format_money(money: Money, locale: str = "en_SG") -> str:
    """``money`` as the locale displays it ("$12.50" in en_SG), always with the ISO 4217 decimals."""
    if not isinstance(money, Money):
        raise AmountError(f"{money!r}: not an amount of money")
    loc = _locale(locale)
    pattern = copy.copy(loc.currency_formats["standard"])
    pattern.frac_prec = (money.currency.minor_units,) * 2
    amount = money.decimal()
    with localcontext(prec=len(amount.as_tuple().digits) + 1):  # Babel rounds to the context: keep every digit
        return pattern.apply(amount, loc, currency=money.currency.code, currency_digits=False)
