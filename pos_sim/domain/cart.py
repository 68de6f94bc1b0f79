"""The sale being rung up: lines of scanned, weighed and keyed items, their subtotal, tax and total.

A ``Cart`` is an immutable value in one currency under one tax scheme; every change
(``add_scan``, ``add_item``, ``add_weighed``, ``add_keyed_amount``, ``change_quantity``,
``remove_line``, ``clear``) returns a new cart, and lines are addressed by their 0-based index.
Every amount is exact ``Money``; rates are Decimals, and the arithmetic is on exact fractions.

Amounts, rounded half up (halves away from zero) to the minor unit where they must be rounded:

- a line of pieces is ``quantity`` x its unit price, exactly;
- a weighed line is ``grams`` x price per kg / 1000, rounded (``catalogue.weighed_amount``):
  1.234 kg at S$3.99/kg is 492.366 cents, S$4.92;
- a price label's line is the price it carries;
- the subtotal is the sum of the line amounts.

Tax is worked out per rate, on the sum of the lines at that rate (not line by line), rounded once:

- prices that include tax (GST, VAT, 消費税): tax = gross x rate / (100 + rate), the rest is
  net; the total is the subtotal. S$2.00 at 9%: 200 x 9 / 109 = 16.51 -> 17 cents of GST;
- prices before tax (US sales tax): tax = net x rate / 100, added on top; the total is the
  subtotal plus the taxes. $10.00 at 8.875%: 88.75 -> 89 cents.

Errors are ``CartError``: a line priced in another currency, a tax category the scheme lacks, a
quantity or weight that is not a positive whole number, a line index the cart does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

from pos_sim.domain.catalogue import Catalogue, Item, Scan, TaxScheme, round_half_up, weighed_amount
from pos_sim.domain.errors import DomainError
from pos_sim.domain.money import Currency, Money

MAX_QUANTITY = 9999
"""Most pieces on one line: more is taken for a keying error."""

MAX_GRAMS = 100_000
"""Heaviest weighed line, in grams (100 kg): more is taken for a keying error."""

KINDS = ("pieces", "weight", "label")
"""A line is priced by pieces (quantity x unit price), by weight, or by a price label."""


class CartError(DomainError):
    """A change the cart refuses: what and why."""


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Line:
    """One line of a cart; its ``amount`` is exact (see the module's rules).

    ``kind`` "pieces": ``quantity`` x ``unit_price`` (a catalogue item, a count label, a keyed amount);
    "weight": ``grams`` at ``price_per_kg``; "label": the ``label_price`` a price label carries.
    ``item`` is None for a keyed amount ("Open item"); ``barcode`` is what was scanned, if anything.
    """

    description: str
    tax: str
    kind: str
    quantity: int = 1
    unit_price: Money | None = None
    grams: int | None = None
    price_per_kg: Money | None = None
    label_price: Money | None = None
    item: Item | None = None
    barcode: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.description, str) or not self.description.strip():
            raise CartError(f"a line needs a description, got {self.description!r}")
        name = self.description
        if self.kind not in KINDS:
            raise CartError(f"{name}: a line is priced by {', '.join(KINDS)}, not {self.kind!r}")
        if not _whole(self.quantity) or not 1 <= self.quantity <= MAX_QUANTITY:
            raise CartError(f"{name}: quantity must be a whole number from 1 to {MAX_QUANTITY}, got {self.quantity!r}")
        needs = {"pieces": "unit_price", "weight": "price_per_kg", "label": "label_price"}[self.kind]
        for price in ("unit_price", "price_per_kg", "label_price"):
            value = getattr(self, price)
            if price == needs and not isinstance(value, Money):
                raise CartError(f"{name}: a {self.kind} line needs its {price}, got {value!r}")
            if price != needs and value is not None:
                raise CartError(f"{name}: a {self.kind} line has no {price}")
            if value is not None and value.minor <= 0:
                raise CartError(f"{name}: {price} must be above 0, got {value.major_str()} {value.currency.code}")
        if self.kind == "weight":
            if not _whole(self.grams) or not 1 <= self.grams <= MAX_GRAMS:
                raise CartError(f"{name}: weight must be whole grams from 1 to {MAX_GRAMS}, got {self.grams!r}")
        elif self.grams is not None:
            raise CartError(f"{name}: only a weight line has grams")
        if self.kind != "pieces" and self.quantity != 1:
            raise CartError(f"{name}: a {self.kind} line is one pack: scan each label, do not change its quantity")

    @property
    def amount(self) -> Money:
        if self.kind == "weight":
            return weighed_amount(self.grams, self.price_per_kg)  # type: ignore[arg-type]
        if self.kind == "label":
            return self.label_price  # type: ignore[return-value]
        return self.unit_price * self.quantity  # type: ignore[operator]

    @property
    def is_open(self) -> bool:
        """A keyed amount, not a catalogue item."""
        return self.item is None


@dataclass(frozen=True)
class TaxGroup:
    """The tax at one ``rate`` (percent): ``net`` + ``tax`` = ``gross``; ``categories`` are the codes taxed at it."""

    rate: Decimal
    categories: tuple[str, ...]
    net: Money
    tax: Money
    gross: Money


@dataclass(frozen=True)
class Cart:
    """The lines of one sale in ``currency``, taxed under ``tax_scheme``; changes return a new cart."""

    currency: Currency
    tax_scheme: TaxScheme
    lines: tuple[Line, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.currency, Currency):
            raise CartError(f"{self.currency!r}: a cart's currency is a Currency")
        if not isinstance(self.lines, tuple):
            raise CartError("a cart's lines are a tuple")
        codes = [category.code for category in self.tax_scheme.categories]
        for line in self.lines:
            if line.amount.currency != self.currency:
                code = line.amount.currency.code
                raise CartError(f"{line.description}: priced in {code}, the cart is in {self.currency.code}")
            if line.tax not in codes:
                scheme = f"{self.tax_scheme.name}'s ({', '.join(codes)})"
                raise CartError(f"{line.description}: tax category {line.tax!r} is not one of {scheme}")

    @classmethod
    def for_catalogue(cls, catalogue: Catalogue) -> Cart:
        """An empty cart in the catalogue's currency and tax scheme."""
        return cls(catalogue.currency, catalogue.tax)

    # --- changes ----------------------------------------------------------------------------

    def add_scan(self, scan: Scan) -> Cart:
        """Add what a scan found: a fixed item (one more piece of it), or a variable-measure label's line."""
        item = scan.item
        found = {"item": item, "barcode": scan.barcode}
        if scan.measure == "unit":
            return self._add_pieces(item, 1, scan.barcode)
        if scan.measure == "price":
            line = Line(item.name, item.tax, "label", label_price=scan.label_price, **found)
        elif scan.measure == "weight":
            line = Line(item.name, item.tax, "weight", grams=scan.grams, price_per_kg=item.price_per_kg, **found)
        elif scan.measure == "count":
            line = Line(item.name, item.tax, "pieces", scan.quantity, unit_price=item.price, **found)
        else:
            raise CartError(f"{item.name}: a scan measures unit, price, weight or count, not {scan.measure!r}")
        return replace(self, lines=(*self.lines, line))

    def add_item(self, item: Item, quantity: int = 1) -> Cart:
        """Add ``quantity`` pieces of a catalogue item picked or keyed by hand (a fixed item, or a
        variable-measure item with a price per piece)."""
        if item.price is None:
            raise CartError(f"{item.name}: no price per piece (weigh it, or scan its label)")
        return self._add_pieces(item, quantity, None)

    def add_weighed(self, item: Item, grams: int) -> Cart:
        """Add ``grams`` of a variable-measure item weighed at the counter, at its price per kg."""
        if item.price_per_kg is None:
            raise CartError(f"{item.name}: not sold by weight (no price per kg)")
        line = Line(item.name, item.tax, "weight", grams=grams, price_per_kg=item.price_per_kg, item=item)
        return replace(self, lines=(*self.lines, line))

    def add_keyed_amount(self, amount: Money, description: str = "Open item", tax: str | None = None) -> Cart:
        """Add an amount keyed by hand (an "Open item"), in the scheme's default tax category unless told."""
        if not isinstance(amount, Money):
            raise CartError(f"{description}: a keyed amount is Money, got {amount!r}")
        line = Line(description, self.tax_scheme.default if tax is None else tax, "pieces", unit_price=amount)
        return replace(self, lines=(*self.lines, line))

    def change_quantity(self, index: int, quantity: int) -> Cart:
        """The cart with line ``index`` at ``quantity`` pieces (remove a line with ``remove_line``)."""
        line = self.lines[self._index(index)]
        if line.kind != "pieces":
            raise CartError(f"line {index}, {line.description}: a {line.kind} line is one pack, its quantity stays 1")
        if _whole(quantity) and quantity == 0:
            raise CartError(f"line {index}, {line.description}: quantity 0: remove the line instead")
        return self._replace_line(index, replace(line, quantity=quantity))

    def remove_line(self, index: int) -> Cart:
        index = self._index(index)
        return replace(self, lines=self.lines[:index] + self.lines[index + 1 :])

    def clear(self) -> Cart:
        return replace(self, lines=())

    def _add_pieces(self, item: Item, quantity: int, barcode: str | None) -> Cart:
        """One more line of ``quantity`` pieces, or as many more on the line of a fixed item already in the cart."""
        if not _whole(quantity) or quantity < 1:
            raise CartError(f"{item.name}: quantity must be a whole number from 1 to {MAX_QUANTITY}, got {quantity!r}")
        if not item.variable_measure:
            for index, line in enumerate(self.lines):
                if line.kind == "pieces" and line.item == item:
                    return self._replace_line(index, replace(line, quantity=line.quantity + quantity))
        barcode = barcode or item.barcode
        line = Line(item.name, item.tax, "pieces", quantity, unit_price=item.price, item=item, barcode=barcode)
        return replace(self, lines=(*self.lines, line))

    def _index(self, index: int) -> int:
        if not _whole(index) or not 0 <= index < len(self.lines):
            held = f"lines 0 to {len(self.lines) - 1}" if self.lines else "no lines"
            raise CartError(f"line {index!r}: the cart has {held}")
        return index

    def _replace_line(self, index: int, line: Line) -> Cart:
        return replace(self, lines=(*self.lines[:index], line, *self.lines[index + 1 :]))

    # --- amounts ----------------------------------------------------------------------------

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def pieces(self) -> int:
        """Pieces in the cart: each line's quantity (a weighed or labelled pack counts 1)."""
        return sum(line.quantity for line in self.lines)

    @property
    def subtotal(self) -> Money:
        """The sum of the line amounts (zero for an empty cart)."""
        return Money(sum(line.amount.minor for line in self.lines), self.currency)

    @property
    def taxes(self) -> tuple[TaxGroup, ...]:
        """The tax at each rate the lines carry, highest rate first (0% rates too, with no tax)."""
        rates = {category.code: category.rate for category in self.tax_scheme.categories}
        groups: dict[Decimal, tuple[list[str], int]] = {}
        for line in self.lines:
            codes, minor = groups.get(rates[line.tax], ([], 0))
            if line.tax not in codes:
                codes.append(line.tax)
            groups[rates[line.tax]] = (codes, minor + line.amount.minor)
        breakdown = []
        for rate, (codes, minor) in sorted(groups.items(), reverse=True):
            share = Fraction(rate) / (100 + Fraction(rate)) if self.tax_scheme.included else Fraction(rate) / 100
            tax = round_half_up(minor * share)
            net, gross = (minor - tax, minor) if self.tax_scheme.included else (minor, minor + tax)
            breakdown.append(TaxGroup(rate, tuple(codes), *(Money(m, self.currency) for m in (net, tax, gross))))
        return tuple(breakdown)

    @property
    def tax_total(self) -> Money:
        return Money(sum(line.tax.minor for line in self.taxes), self.currency)

    @property
    def total(self) -> Money:
        """What the customer pays: the subtotal, plus the taxes when prices are before tax."""
        return self.subtotal if self.tax_scheme.included else self.subtotal + self.tax_total
