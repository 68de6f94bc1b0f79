"""Receipts of in-store wallet payments: what one carries, checked on construction, and its text layout.

A ``Receipt`` holds what a terminal prints after a sale, a refund or a void: the merchant and
terminal, the receipt number refunds are found by, the items, tax and total, how it was paid and
what the wallet provider answered. Amounts are ``Money`` (exact minor units, one currency on one
receipt); the wallet's own amount, when it paid in another currency, goes with the rate it was
converted at. Everything is checked when the receipt is made: lines that do not add up, a total
that does not follow from the subtotal and tax, a refund without the receipt it refunds, or a
customer code that is not masked raise ``DomainError`` (a ``ValueError``) saying what is wrong.

``layout(receipt, width)`` lays it out for a printer of 32, 42 or 48 columns (58 mm and 80 mm
paper): a list of lines, none wider than the printer. Widths are display columns: East Asian wide
and full-width characters take two, combining marks (Thai vowels and tone marks above and below
the line) none. ``rows`` gives the same lines with the style a printer gives them (double-size
title, bold totals, the training stamp, the line a QR code of the receipt number goes above), for
``pos_sim.render.receipt``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from enum import StrEnum

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, get_date_format, get_datetime_format, get_time_format
from babel.numbers import format_decimal

from pos_sim.domain.errors import DomainError
from pos_sim.domain.money import Money, format_money
from pos_sim.language import N_, LanguageError, language, translation, written_locale

WIDTHS = (32, 42, 48)
"""Columns of the printers laid out for: 32 on 58 mm paper, 42 and 48 on 80 mm."""

MAX_TEXT = 200
"""Longest text of one field (a description, a footer line...), in characters."""

TRAINING_STAMP = N_("TRAINING - NOT A PAYMENT")

_RECEIPT_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,31}")
_RESULT_CODE = re.compile(r"[A-Z0-9_]{1,64}")
_RATE = re.compile(r"[0-9]{1,2}(\.[0-9]{1,3})?%")
_ODD_SPACES = str.maketrans(dict.fromkeys("\u00a0\u2007\u2009\u202f", " "))
"""The spaces Babel puts in amounts and times ("1 234,56 €"), printed as plain spaces."""


class Kind(StrEnum):
    """What the receipt is for: a sale, a refund of one, or a void (cancel) of one."""

    SALE = N_("SALE")
    REFUND = N_("REFUND")
    VOID = N_("VOID")


class Outcome(StrEnum):
    """What the wallet provider answered."""

    APPROVED = N_("APPROVED")
    DECLINED = N_("DECLINED")
    CANCELLED = N_("CANCELLED")
    REVERSED = N_("REVERSED")


class Copy(StrEnum):
    """Which of the two printed copies this is."""

    MERCHANT = N_("MERCHANT COPY")
    CUSTOMER = N_("CUSTOMER COPY")


class Tender(StrEnum):
    """How the customer paid; a receipt takes these or any other short text."""

    CUSTOMER_CODE = N_("Alipay+ (customer code)")
    ORDER_CODE = N_("Order code")
    ENTRY_CODE = N_("Entry code")
    WALLET_TAP = N_("Phone wallet tap")


class Style(StrEnum):
    """How a printer prints a laid-out line."""

    PLAIN = "plain"
    TITLE = "title"  # double width and height: laid out in half the columns
    BOLD = "bold"
    STAMP = "stamp"  # the training stamp: bold, reversed where the printer can
    QR = "qr"  # the receipt number, with a QR code of it printed just above


def _text(name: str, value: object, *, optional: bool = False) -> str | None:
    """``value`` checked as one line of printable text."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise DomainError(f"{name}: expected text, got {type(value).__name__}")
    if not value.strip():
        raise DomainError(f"{name}: empty")
    if len(value) > MAX_TEXT:
        raise DomainError(f"{name}: longer than {MAX_TEXT} characters ({value[:24]!r}...)")
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        raise DomainError(f"{name}: {value[:40]!r} holds the control character U+{ord(bad):04X}; one line of text only")
    return value


def _lines_of_text(name: str, values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise DomainError(f"{name}: expected a list of lines, got one text")
    return tuple(_text(f"{name}[{i}]", v) for i, v in enumerate(values))  # type: ignore[misc]


def _tuple_of(name: str, values: object, kind: type) -> tuple:
    """``values`` (a list or tuple of ``kind``) as a tuple."""
    if not isinstance(values, list | tuple) or not all(isinstance(v, kind) for v in values):
        raise DomainError(f"{name}: expected a list of {kind.__name__}, got {values!r:.80}")
    return tuple(values)


def _money(name: str, value: object) -> Money:
    if not isinstance(value, Money):
        raise DomainError(f"{name}: expected Money, got {value!r}")
    return value


def _enum(name: str, kind: type[StrEnum], value: object) -> StrEnum:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise DomainError(f"{name}: {value!r} is not one of {choices}") from None


def _decimal(name: str, value: object) -> Decimal:
    if isinstance(value, float | bool):
        raise DomainError(f"{name}: give it as text or a Decimal, not {value!r} (floats are inexact)")
    try:
        number = Decimal(value) if isinstance(value, Decimal | int | str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number <= 0:
        raise DomainError(f"{name}: {value!r} is not a number above 0")
    return number


@dataclass(frozen=True)
class Weight:
    """A weighed quantity in whole grams, as a GS1 variable-measure label carries it."""

    grams: int

    def __post_init__(self) -> None:
        if not isinstance(self.grams, int) or isinstance(self.grams, bool) or self.grams < 1:
            raise DomainError(f"weight: {self.grams!r} is not a whole number of grams above 0")

    def __str__(self) -> str:
        return f"{self.grams // 1000}.{self.grams % 1000:03d} kg"


@dataclass(frozen=True)
class ReceiptLine:
    """One item: ``quantity`` pieces, or a ``Weight``, at ``unit_price`` (per kilogram when weighed).

    ``amount`` is the line's price: ``unit_price * quantity`` exactly for pieces; for a weight,
    what the scale printed, which must be within one minor unit of the exact price (scales round
    their own way). A discount is a line with a negative price.
    """

    description: str
    quantity: int | Weight
    unit_price: Money
    amount: Money

    def __post_init__(self) -> None:
        _text("item description", self.description)
        where = f"item {self.description!r}"
        unit, amount = _money(f"{where}: unit price", self.unit_price), _money(f"{where}: amount", self.amount)
        if unit.currency != amount.currency:
            raise DomainError(f"{where}: unit price in {unit.currency.code}, amount in {amount.currency.code}")
        if isinstance(self.quantity, Weight):
            exact = unit.minor * self.quantity.grams  # thousandths of a minor unit
            if abs(amount.minor * 1000 - exact) >= 1000:
                raise DomainError(
                    f"{where}: {self.quantity} at {unit.major_str()}/kg"
                    f" is {Decimal(exact).scaleb(-3 - unit.currency.minor_units)}, not {amount.major_str()} {amount.currency.code}"
                )
        elif isinstance(self.quantity, int) and not isinstance(self.quantity, bool) and self.quantity >= 1:
            if unit * self.quantity != amount:
                raise DomainError(
                    f"{where}: {self.quantity} x {unit.major_str()} is {(unit * self.quantity).major_str()},"
                    f" not {amount.major_str()} {amount.currency.code}"
                )
        else:
            raise DomainError(f"{where}: quantity {self.quantity!r} is neither a count of 1 or more nor a Weight")

    @classmethod
    def priced(cls, description: str, unit_price: Money, quantity: int | Weight = 1) -> ReceiptLine:
        """The line with its amount worked out: a weight's price rounded half up to a minor unit."""
        if isinstance(quantity, Weight):
            minor = (Decimal(unit_price.minor) * quantity.grams / 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP)
            amount = Money(int(minor), unit_price.currency)
        elif isinstance(quantity, int) and not isinstance(quantity, bool):
            amount = unit_price * quantity
        else:
            raise DomainError(f"item {description!r}: quantity {quantity!r} is neither a count nor a Weight")
        return cls(description, quantity, unit_price, amount)


@dataclass(frozen=True)
class TaxLine:
    """A tax on the receipt: ``name`` ("GST"), ``rate`` as printed ("9%"), its amount, and whether
    the prices already include it (then it is shown, not added to the total)."""

    name: str
    rate: str
    amount: Money
    included: bool

    def __post_init__(self) -> None:
        _text("tax name", self.name)
        if not isinstance(self.rate, str) or not _RATE.fullmatch(self.rate):
            raise DomainError(f"tax {self.name!r}: rate {self.rate!r} should read like 9% or 7.5%")
        if _money(f"tax {self.name!r}: amount", self.amount).minor < 0:
            raise DomainError(f"tax {self.name!r}: amount {self.amount.major_str()} is below zero")
        if not isinstance(self.included, bool):
            raise DomainError(f"tax {self.name!r}: included must be True or False, got {self.included!r}")


def mask_code(code: str) -> str:
    """A customer code or token as a receipt may show it: the first and last 4 characters around a
    fixed mask that hides the length too ("2510 **** **** 2345"); a code of 8 or fewer characters
    shows its last 4 at most ("**** 2345")."""
    if not isinstance(code, str) or not code.strip():
        raise DomainError(f"customer code: expected text, got {code!r}")
    plain = "".join(code.split())
    if len(plain) > 8:
        return f"{plain[:4]} **** **** {plain[-4:]}"
    return f"**** {plain[-min(4, len(plain) // 2):]}" if len(plain) > 1 else "****"


def _check_masked(code: str) -> None:
    """A code on paper must not be payable: some of it masked with "*", at most 10 characters shown
    (the first 6 and last 4, as card numbers may show; ``mask_code`` shows 8)."""
    _text("customer code", code)
    if "*" not in code or sum(c.isalnum() for c in code) > 10:
        raise DomainError(f"customer code: {code[:6]}... is not masked (mask_code shows the first 4 and last 4)")


@dataclass(frozen=True)
class Receipt:
    """One printed receipt of an in-store wallet payment, a refund or a void.

    Money rules, checked here: every amount is in the total's currency; the lines (when there are
    any: an amount keyed in without items has none) add up to ``subtotal``; ``total`` is the
    subtotal plus the taxes not included in the prices; the subtotal, taxes and total are never
    below zero (a discount line may be), and a refund or void prints them with a minus.
    ``wallet_amount`` and ``fx_rate`` go together when the wallet paid in another currency: the
    wallet amount is the total at that rate (wallet units per unit of the total's currency), to
    within one minor unit.

    ``customer_code`` is masked (``mask_code``); ``result_code`` is the provider's (required when
    DECLINED); ``payment_id`` the gateway's (required when APPROVED); ``original_receipt`` the
    receipt a REFUND or VOID is for (required for them, refused on a SALE).
    """

    merchant_name: str
    merchant_id: str
    terminal_id: str
    receipt_number: str
    time: datetime
    kind: Kind
    lines: tuple[ReceiptLine, ...]
    subtotal: Money
    total: Money
    tender: str
    outcome: Outcome
    copy: Copy
    locale: str = "en_SG"
    language: str = "en"
    customer_language: str | None = None
    address: tuple[str, ...] = ()
    store_id: str | None = None
    operator: str | None = None
    taxes: tuple[TaxLine, ...] = ()
    result_code: str | None = None
    payment_id: str | None = None
    customer_code: str | None = None
    wallet: str | None = None
    wallet_amount: Money | None = None
    fx_rate: Decimal | None = None
    original_receipt: str | None = None
    training: bool = False
    footer: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        put("kind", _enum("kind", Kind, self.kind))
        put("outcome", _enum("outcome", Outcome, self.outcome))
        put("copy", _enum("copy", Copy, self.copy))
        for name in ("merchant_name", "merchant_id", "terminal_id", "tender"):
            _text(name.replace("_", " "), getattr(self, name))
        for name in ("store_id", "operator", "payment_id", "wallet"):
            _text(name.replace("_", " "), getattr(self, name), optional=True)
        put("address", _lines_of_text("address", self.address))
        put("footer", _lines_of_text("footer", self.footer))
        self._check_numbers()
        if not isinstance(self.time, datetime) or self.time.utcoffset() is None:
            raise DomainError(f"time: {self.time!r} must be a datetime with its time zone (the merchant's)")
        try:
            Locale.parse(self.locale)
        except (ValueError, TypeError, UnknownLocaleError):
            raise DomainError(f"locale: {self.locale!r} is not a known locale") from None
        try:
            put("language", language(self.language))
            if self.customer_language is not None:
                put("customer_language", language(self.customer_language))
        except LanguageError as exc:
            raise DomainError(f"language: {exc}") from None
        if not isinstance(self.training, bool):
            raise DomainError(f"training: must be True or False, got {self.training!r}")
        if self.outcome is Outcome.DECLINED and self.result_code is None:
            raise DomainError("a declined payment's receipt needs the provider's result code")
        if self.result_code is not None and not _RESULT_CODE.fullmatch(str(self.result_code)):
            raise DomainError(f"result code: {self.result_code!r} should read like USER_BALANCE_NOT_ENOUGH")
        if self.outcome is Outcome.APPROVED and self.payment_id is None:
            raise DomainError(f"an approved {self.kind.lower()} needs the gateway's payment id")
        if self.customer_code is not None:
            _check_masked(self.customer_code)
        put("lines", _tuple_of("lines", self.lines, ReceiptLine))
        put("taxes", _tuple_of("taxes", self.taxes, TaxLine))
        self._check_money()

    def _check_numbers(self) -> None:
        number = self.receipt_number
        if not isinstance(number, str) or not _RECEIPT_NUMBER.fullmatch(number):
            raise DomainError(
                f"receipt number: {number!r} should be 1-32 letters, digits, '-', '.', '_' or '/', like T01-000123"
            )
        original = self.original_receipt
        if self.kind is Kind.SALE:
            if original is not None:
                raise DomainError(f"a sale has no original receipt, got {original!r}")
            return
        if original is None:
            verb = "refunds" if self.kind is Kind.REFUND else "voids"
            raise DomainError(f"a {self.kind.lower()} must name the receipt it {verb}")
        if not isinstance(original, str) or not _RECEIPT_NUMBER.fullmatch(original):
            raise DomainError(f"original receipt: {original!r} is not a receipt number like T01-000123")
        if original == number:
            raise DomainError(f"a {self.kind.lower()} gets a receipt number of its own, not the original's {number}")

    def _check_money(self) -> None:
        total = _money("total", self.total)
        cur = total.currency
        named = [("subtotal", _money("subtotal", self.subtotal))]
        named += [(f"item {line.description!r}", line.amount) for line in self.lines]
        named += [(f"tax {tax.name!r}", tax.amount) for tax in self.taxes]
        for name, money in named:
            if money.currency != cur:
                raise DomainError(f"mixed currencies: {name} is in {money.currency.code}, the total in {cur.code}")
        if self.lines:
            items = sum((line.amount for line in self.lines), Money(0, cur))
            if items != self.subtotal:
                raise DomainError(
                    f"the lines add up to {items.major_str()}, not the subtotal {self.subtotal.major_str()} {cur.code}"
                )
        if self.subtotal.minor < 0:
            raise DomainError(f"subtotal {self.subtotal.major_str()} {cur.code} is below zero")
        added = sum((tax.amount for tax in self.taxes if not tax.included), Money(0, cur))
        included = sum((tax.amount for tax in self.taxes if tax.included), Money(0, cur))
        if self.subtotal + added != total:
            raise DomainError(
                f"total {total.major_str()} is not the subtotal {self.subtotal.major_str()}"
                f" plus the tax added {added.major_str()} {cur.code}"
            )
        if included > self.subtotal:
            raise DomainError(
                f"the tax included in prices ({included.major_str()}) is more than the subtotal {self.subtotal.major_str()}"
            )
        if total.minor <= 0:
            raise DomainError(f"total {total.major_str()} {cur.code}: a wallet payment is above zero")
        self._check_fx()

    def _check_fx(self) -> None:
        if (self.wallet_amount is None) != (self.fx_rate is None):
            raise DomainError(
                "wallet amount and FX rate go together: give both (the wallet paid in another currency) or neither"
            )
        if self.wallet_amount is None:
            return
        paid = _money("wallet amount", self.wallet_amount)
        rate = _decimal("FX rate", self.fx_rate)
        object.__setattr__(self, "fx_rate", rate)
        if paid.currency == self.total.currency:
            raise DomainError(
                f"wallet amount in {paid.currency.code} like the total: give it only when the wallet paid in another currency"
            )
        with localcontext(prec=60):
            exact = self.total.decimal() * rate
        if abs(exact - paid.decimal()) > Decimal(1).scaleb(-paid.currency.minor_units):
            raise DomainError(
                f"wallet amount {paid.major_str()} {paid.currency.code} is not {self.total.major_str()}"
                f" {self.total.currency.code} at {rate} (that is {exact.normalize():f})"
            )

    def as_copy(self, copy: Copy) -> Receipt:
        """The same receipt, labelled as the other copy."""
        return replace(self, copy=copy)


# --- display columns -----------------------------------------------------------------------


def char_width(char: str) -> int:
    """Columns ``char`` takes on a receipt: 0 for combining marks and format characters, 2 for East
    Asian wide and full-width characters, 1 for the rest (ambiguous ones too, as Latin printers do)."""
    if unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns ``text`` takes on a receipt."""
    return sum(char_width(c) for c in text)


def clusters(text: str) -> Iterator[str]:
    """``text`` in printable units: a character with the zero-width marks that follow it ("กี่")."""
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or char_width(text[i]) != 0:
            yield text[start:i]
            start = i


def _split(text: str, cols: int) -> list[str]:
    """``text`` cut into pieces of at most ``cols`` columns, between clusters."""
    pieces, piece, used = [], "", 0
    for cluster in clusters(text):
        w = display_width(cluster)
        if used + w > cols and piece:
            pieces.append(piece)
            piece, used = "", 0
        piece, used = piece + cluster, used + w
    return [*pieces, piece] if piece else pieces


def wrap(text: str, cols: int) -> list[str]:
    """``text`` in lines of at most ``cols`` columns: between words where it can, else between
    characters (CJK and Thai, which have no spaces between words, and words too long for a line)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        joined = f"{line} {word}" if line else word
        if display_width(joined) <= cols:
            line = joined
            continue
        if line:
            lines.append(line)
        *full, line = _split(word, cols)
        lines.extend(full)
    return [*lines, line] if line else lines


@dataclass(frozen=True)
class Row:
    """One laid-out line and how a printer prints it."""

    text: str
    style: Style = Style.PLAIN


def _centre(text: str, width: int) -> str:
    return " " * ((width - display_width(text)) // 2) + text


def _pair(label: str, value: str, width: int, style: Style = Style.PLAIN) -> list[Row]:
    """``label`` on the left, ``value`` on the right; on lines of their own when both do not fit."""
    gap = width - display_width(label) - display_width(value)
    if gap >= 1:
        return [Row(label + " " * gap + value, style)]
    rows = [Row(line, style) for line in wrap(label, width)]
    return rows + [Row(" " * (width - display_width(piece)) + piece, style) for piece in _split(value, width)]


def _item(text: str, amount: str, width: int) -> list[Row]:
    """An item: its description wrapped on the left, the amount on the right of the first line."""
    room = width - display_width(amount) - 1
    if room < width // 3:  # a huge amount: the description gets its own lines
        return [Row(line) for line in wrap(text, width)] + [Row(" " * (width - display_width(amount)) + amount)]
    first, *rest = wrap(text, room)
    return [Row(first + " " * (width - display_width(first) - display_width(amount)) + amount)] + [Row(r) for r in rest]


class _Printer:
    """Formats the receipt's values in its locale, with a minus for the money a refund gives back, and
    its labels in the merchant's language (the customer's beside them when theirs is another)."""

    def __init__(self, receipt: Receipt) -> None:
        self.receipt = receipt
        self.sign = 1 if receipt.kind is Kind.SALE else -1
        self.merchant = translation(receipt.language).gettext
        other = receipt.customer_language not in (None, receipt.language)
        self.customer = translation(receipt.customer_language).gettext if other else None  # type: ignore[arg-type]

    def label(self, message: str) -> str:
        """``message`` in the merchant's language, and in the customer's after a slash when it differs."""
        mine = self.merchant(message)
        theirs = self.customer(message) if self.customer is not None else mine
        return mine if theirs == mine else f"{mine} / {theirs}"

    def money(self, money: Money, signed: bool = True) -> str:
        shown = -money if signed and self.sign < 0 else money
        return format_money(shown, self.receipt.locale).translate(_ODD_SPACES)

    def code_amount(self, money: Money) -> str:
        """``money`` as "SGD 35.71": the code, never a symbol, for an amount in a currency not the merchant's."""
        places = money.currency.minor_units
        with localcontext(prec=len(money.decimal().as_tuple().digits) + 1):
            pattern = "#,##0" + ("." + "0" * places if places else "")
            number = format_decimal(money.decimal(), pattern, locale=self.receipt.locale, decimal_quantization=True)
        return f"{money.currency.code} {number}".translate(_ODD_SPACES)

    def time(self) -> str:
        """The time as the receipt's locale writes it, or as the merchant's language does where the locale
        speaks another (an English-speaking shop's locale is kept); Thai receipts count years in the
        Buddhist era (2026 is 2569)."""
        r, when = self.receipt, self.receipt.time
        locale = written_locale(r.language, r.locale)
        pattern = get_datetime_format("medium", locale).format(get_time_format("medium", locale).pattern,
                                                               get_date_format("medium", locale).pattern)
        if r.language == "th":
            pattern = re.sub(r"y+", f"'{when.year + 543}'", pattern)
        return format_datetime(when, pattern, tzinfo=when.tzinfo, locale=locale).translate(_ODD_SPACES)


def rows(receipt: Receipt, width: int) -> list[Row]:
    """The receipt laid out in ``width`` columns (32, 42 or 48), each line with its print style.

    Lines are never wider than ``width``; trailing spaces are left off, so a line may be shorter.
    """
    if not isinstance(receipt, Receipt):
        raise DomainError(f"expected a Receipt, got {type(receipt).__name__}")
    if width not in WIDTHS or isinstance(width, bool):
        raise DomainError(f"width {width!r}: receipts are laid out in {', '.join(map(str, WIDTHS))} columns")
    r, p = receipt, _Printer(receipt)
    rule = Row("-" * width)
    out: list[Row] = []
    label = p.label
    training = label(TRAINING_STAMP)
    stamp = f"*** {training} ***" if width >= display_width(training) + 8 else training
    if r.training:
        out += [Row(_centre(stamp, width), Style.STAMP), Row("")]
    out += [Row(_centre(line, width), Style.TITLE) for line in wrap(r.merchant_name, width // 2)]
    out += [Row(_centre(piece, width)) for line in r.address for piece in wrap(line, width)]
    out.append(Row(""))
    out += _pair(label(N_("Merchant ID")), r.merchant_id, width)
    if r.store_id is not None:
        out += _pair(label(N_("Store ID")), r.store_id, width)
    out += _pair(label(N_("Terminal ID")), r.terminal_id, width)
    out += _pair(label(N_("Receipt No.")), r.receipt_number, width)
    out += _pair(label(N_("Date")), p.time(), width)
    if r.operator is not None:
        out += _pair(label(N_("Operator")), r.operator, width)
    out += [rule, *(Row(_centre(line, width), Style.BOLD) for line in wrap(label(r.kind.value), width))]
    if r.original_receipt is not None:
        out += _pair(label(N_("Original receipt")), r.original_receipt, width)
    out.append(rule)
    for line in r.lines:
        out += _item(line.description, p.money(line.amount), width)
        if isinstance(line.quantity, Weight):
            detail = f"{line.quantity} x {p.money(line.unit_price, signed=False)}/kg"
        elif line.quantity != 1:
            detail = f"{line.quantity} x {p.money(line.unit_price, signed=False)}"
        else:
            continue
        out += [Row("  " + piece) for piece in wrap(detail, width - 2)]
    if r.lines:
        out.append(rule)
    out += _pair(label(N_("Subtotal")), p.money(r.subtotal), width)
    for tax in r.taxes:
        tax_label = f"{tax.name} {tax.rate}"
        out += _pair(p.merchant(N_("{tax} (incl.)")).format(tax=tax_label) if tax.included else tax_label,
                     p.money(tax.amount), width)
    total_label = {Kind.SALE: N_("TOTAL"), Kind.REFUND: N_("REFUND TOTAL"), Kind.VOID: N_("VOID TOTAL")}[r.kind]
    out += _pair(label(total_label), p.money(r.total), width, Style.BOLD)
    out.append(rule)
    paid = N_("Refund to") if r.kind is not Kind.SALE else N_("Paid by") if r.outcome is Outcome.APPROVED else N_("Method")
    out += _pair(label(paid), p.merchant(r.tender), width)
    if r.wallet is not None:
        out += _pair(label(N_("Wallet")), r.wallet, width)
    if r.customer_code is not None:
        out += _pair(label(N_("Customer code")), r.customer_code, width)
    if r.payment_id is not None:
        out += _pair(label(N_("Payment ID")), r.payment_id, width)
    if r.wallet_amount is not None:
        verb = (N_("Quoted {amount} at {rate}") if r.outcome is not Outcome.APPROVED else N_("Paid {amount} at {rate}")
                if r.kind is Kind.SALE else N_("Refunded {amount} at {rate}"))
        said = p.merchant(verb).format(amount=p.code_amount(r.wallet_amount), rate=f"{r.fx_rate:f}")
        out += [Row(line) for line in wrap(said, width)]
    out += [Row("")] + [Row(_centre(line, width), Style.BOLD) for line in wrap(label(r.outcome.value), width)]
    if r.result_code is not None:
        out += _pair(label(N_("Result")), r.result_code, width)
    out += [rule, *(Row(_centre(line, width), Style.BOLD) for line in wrap(label(r.copy.value), width)), Row("")]
    out.append(Row(_centre(r.receipt_number, width), Style.QR))
    if r.footer:
        out.append(Row(""))
        out += [Row(_centre(piece, width)) for line in r.footer for piece in wrap(line, width)]
    if r.training:
        out += [Row(""), Row(_centre(stamp, width), Style.STAMP)]
    return [replace(row, text=row.text.rstrip()) for row in out]


def layout(receipt: Receipt, width: int) -> list[str]:
    """The receipt as lines of text for a printer of ``width`` columns (32, 42 or 48)."""
    return [row.text for row in rows(receipt, width)]

