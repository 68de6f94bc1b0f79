"""The shop's catalogue: items by barcode or item reference, their prices and tax categories.

A catalogue is read from parsed JSON (``catalogue_from_dict``) or from JSON text
(``read_catalogue``); reading the file is the caller's job. Its top level says the shop's
``currency`` (ISO 4217), ``locale`` (for display), ``tax`` scheme and the GS1
``variable_measure_rules`` its scales print with (``gs1.rules_from_dicts`` form; absent means
``gs1.DEFAULT_RULES``, ``[]`` none); then ``items``. Every price is an integer of minor units
(cents, satang, yen), never a float; every tax rate is a percentage given as text ("9", "8.875").

An item is one of:

- a **fixed** item, found by its ``barcode`` (EAN-13, UPC-A or EAN-8, any check digit right) and
  sold at ``price`` per piece. It is found by its GTIN, so a UPC-A also matches the same number
  read as an EAN-13 with a leading 0. A barcode that falls under a variable-measure rule is refused:
  a scan of it would be read as a label;
- a **variable-measure** item, found by the ``item_reference`` a GS1 label of the catalogue's rules
  carries (the scale prints the label): a label with a price is sold at that price; a label with
  a weight in grams at ``price_per_kg`` (see ``weighed_amount``); a label with a count at ``price``
  per piece. Either price is optional; a label needing one the item lacks is refused when scanned.

A GS1 element string (a DataBar on produce, a GS1 Data Matrix on medicine: ``gs1_elements``) finds the fixed item
of its GTIN (AI 01), sold at the price it carries (392n), by the net weight it carries (310n) at the item's
``price_per_kg``, else per piece.

Errors are ``CatalogueError`` naming where in the catalogue the fault lies (``items[3].price``),
``UnknownItemError`` for a scan or reference the catalogue does not have, and the ``CodeError`` of
``gs1`` for a scan that is no valid GS1 barcode (wrong check digit: a misread).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from babel import Locale, UnknownLocaleError

from pos_sim.domain.codes import gs1, gs1_elements
from pos_sim.domain.errors import AmountError, CodeError, DomainError
from pos_sim.domain.money import Currency, Money, currency
from pos_sim.language import N_, Phrase

MAX_RATE = Decimal(100)
"""Highest tax rate accepted, in percent."""

_TOP_FIELDS = ("name", "currency", "locale", "tax", "variable_measure_rules", "items", "note")
_TAX_FIELDS = ("name", "included", "default", "categories")
_CATEGORY_FIELDS = ("rate", "label", "mark")
_ITEM_FIELDS = ("barcode", "item_reference", "name", "price", "price_per_kg", "tax")
# what a variable-measure label scanned at the till can be wrong with, by its measure (one sentence each, to translate)
_LABEL_NOT_IN_CATALOGUE = {
    "price": N_("barcode {barcode}: a price label for item reference {reference}, which is not in the catalogue"),
    "weight": N_("barcode {barcode}: a weight label for item reference {reference}, which is not in the catalogue"),
    "count": N_("barcode {barcode}: a count label for item reference {reference}, which is not in the catalogue"),
}
_LABEL_OF_NOTHING = {
    "price": N_("a price label of {item} with a price of 0"),
    "weight": N_("a weight label of {item} with a weight of 0"),
    "count": N_("a count label of {item} with a count of 0"),
}
_LABEL_WITHOUT_PRICE = {
    "weight": N_("missing: {item} has no price_per_kg to sell a weight label {barcode}"),
    "count": N_("missing: {item} has no price to sell a count label {barcode}"),
}


class CatalogueError(DomainError):
    """A catalogue that cannot be used: ``path`` is where ("items[3].price"), ``reason`` what is wrong."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        if not path:
            super().__init__(reason)
        elif isinstance(reason, Phrase):  # said in the merchant's language, the path as written
            super().__init__(Phrase("{path}: {reason}", path=path, reason=reason))
        else:
            super().__init__(f"{path}: {reason}")


class UnknownItemError(DomainError):
    """A scanned barcode or keyed item reference that is not in the catalogue."""

    def __init__(self, message: str, *, barcode: str | None = None, item_reference: str | None = None) -> None:
        self.barcode = barcode
        self.item_reference = item_reference
        super().__init__(message)


def round_half_up(value: Fraction) -> int:
    """``value`` to the nearest integer, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    magnitude = (2 * abs(value.numerator) + value.denominator) // (2 * value.denominator)
    return -magnitude if value < 0 else magnitude


def weighed_amount(grams: int, price_per_kg: Money) -> Money:
    """The price of ``grams`` at ``price_per_kg``, rounded half up to the minor unit.

    S$3.99/kg x 1.234 kg = 492.366 cents -> S$4.92; 1.250 kg at S$12.90 = 1612.5 -> S$16.13.
    """
    return Money(round_half_up(Fraction(grams * price_per_kg.minor, 1000)), price_per_kg.currency)


@dataclass(frozen=True)
class TaxCategory:
    """One tax category of a scheme: ``code`` as items name it, ``rate`` in percent (Decimal("9"))."""

    code: str
    rate: Decimal
    label: str = ""
    mark: str = ""
    """What a receipt prints beside an item of this category (Japan marks reduced-rate items "※")."""


@dataclass(frozen=True)
class TaxScheme:
    """How a shop's prices carry tax: ``included`` in them (GST, VAT, 消費税) or added on top (US sales tax)."""

    name: str
    included: bool
    categories: tuple[TaxCategory, ...]
    default: str
    """The category of a keyed amount unless told otherwise."""

    def category(self, code: str) -> TaxCategory:
        for category in self.categories:
            if category.code == code:
                return category
        known = ", ".join(category.code for category in self.categories)
        raise CatalogueError("tax.categories", f"{code!r} is not a tax category of {self.name} (known: {known})")


@dataclass(frozen=True)
class Item:
    """A product of the catalogue: ``barcode`` (fixed item) or ``item_reference`` (variable-measure item).

    ``price`` is per piece; ``price_per_kg`` for items sold by weight (a label's, a GS1 DataBar's net weight).
    ``index`` is the item's place in the catalogue's ``items``, for messages.
    """

    name: str
    tax: str
    barcode: str | None = None
    item_reference: str | None = None
    price: Money | None = None
    price_per_kg: Money | None = None
    index: int = field(default=-1, compare=False)

    @property
    def variable_measure(self) -> bool:
        return self.item_reference is not None

    @property
    def gtin(self) -> str | None:
        """The 14-digit GTIN of a fixed item's barcode."""
        return None if self.barcode is None else self.barcode.zfill(14)


@dataclass(frozen=True)
class Scan:
    """A scanned barcode found in the catalogue, with what a variable-measure label says.

    ``measure`` is "unit" (a fixed item), or the label's "price", "weight" or "count";
    ``label_price`` is the price a price label carries, ``grams`` the weight a weight label
    carries, ``quantity`` the pieces (1 but for a count label).
    """

    item: Item
    barcode: str
    measure: str = "unit"
    quantity: int = 1
    grams: int | None = None
    label_price: Money | None = None


@dataclass(frozen=True)
class Catalogue:
    """A shop's items, priced in one ``currency``, taxed under ``tax``; find them with ``lookup``."""

    name: str
    currency: Currency
    locale: str
    tax: TaxScheme
    rules: tuple[gs1.VariableMeasureRule, ...]
    items: tuple[Item, ...]
    _by_gtin: dict[str, Item] = field(init=False, repr=False, compare=False)
    _by_reference: dict[str, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_gtin", {item.gtin: item for item in self.items if item.gtin})
        object.__setattr__(self, "_by_reference", {i.item_reference: i for i in self.items if i.item_reference})

    def lookup(self, text: str) -> Scan:
        """The item a scanned barcode stands for, and what its variable-measure label says.

        CodeError when ``text`` is no valid GS1 barcode (a misread), UnknownItemError when the
        catalogue lacks it, CatalogueError when a label needs a price the item does not have.
        """
        if gs1_elements.looks_like(text) or (len(text) not in gs1.SYMBOLOGIES and gs1_elements.starts_with_gtin(text)):
            return self._lookup_elements(text)
        barcode = gs1.decode(text, self.rules)
        barcode.validate()
        label = barcode.variable_measure
        if label is None:
            item = self._by_gtin.get(barcode.gtin)
            if item is None:
                raise UnknownItemError(Phrase(N_("barcode {barcode} is not in the catalogue"), barcode=text), barcode=text)
            return Scan(item, text)
        reference, value, measure = label["item_reference"], label["value"], label["measure"]
        item = self._by_reference.get(reference)
        if item is None:
            raise UnknownItemError(
                Phrase(_LABEL_NOT_IN_CATALOGUE[measure], barcode=text, reference=reference),
                barcode=text,
                item_reference=reference,
            )
        if value == 0:
            offset = next(part["offset"] for part in barcode.as_objects() if part["name"] == "value")
            raise CodeError(Phrase(_LABEL_OF_NOTHING[measure], item=item.name), offset=offset)
        if measure == "price":
            return Scan(item, text, "price", label_price=Money(value, self.currency))
        needed = "price_per_kg" if measure == "weight" else "price"
        if getattr(item, needed) is None:
            raise CatalogueError(
                f"items[{item.index}].{needed}",
                Phrase(_LABEL_WITHOUT_PRICE[measure], item=item.name, barcode=text),
            )
        if measure == "weight":
            return Scan(item, text, "weight", grams=value)
        return Scan(item, text, "count", quantity=value)

    def _lookup_elements(self, text: str) -> Scan:
        """The item of a GS1 element string's GTIN (AI 01: a DataBar on produce, a GS1 Data Matrix on medicine), sold
        by the net weight (310n) it carries at ``price_per_kg``, at the price (392n) it carries, else per piece."""
        elements = gs1_elements.parse(text)
        elements.validate()
        item = self._by_gtin.get(elements.gtin)
        if item is None:
            raise UnknownItemError(Phrase(N_("barcode {barcode} is not in the catalogue"), barcode=text), barcode=text)
        price, grams = elements.price_minor(self.currency.minor_units), elements.grams
        if price is not None:
            return Scan(item, text, "price", label_price=Money(price, self.currency))
        if grams is not None:
            if item.price_per_kg is None:
                raise CatalogueError(f"items[{item.index}].price_per_kg",
                                     Phrase(_LABEL_WITHOUT_PRICE["weight"], item=item.name, barcode=text))
            if grams == 0:
                raise CodeError(Phrase(_LABEL_OF_NOTHING["weight"], item=item.name), offset=elements.get("net_weight").offset)
            return Scan(item, text, "weight", grams=grams)
        return Scan(item, text)

    def item_by_reference(self, item_reference: str) -> Item:
        """The variable-measure item with this reference (a PLU keyed at the counter)."""
        item = self._by_reference.get(item_reference)
        if item is None:
            message = Phrase(N_("item reference {reference!r} is not in the catalogue"), reference=item_reference)
            raise UnknownItemError(message, item_reference=item_reference)
        return item


def read_catalogue(text: str) -> Catalogue:
    """A catalogue from JSON text (a field given twice in one object is an error, not the last one)."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as error:
        raise CatalogueError("", f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    return catalogue_from_dict(data)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise CatalogueError("", f"field {key!r} given twice in one object")
        seen[key] = value
    return seen


def catalogue_from_dict(data: Mapping[str, Any]) -> Catalogue:
    """A catalogue from parsed JSON, checked throughout; CatalogueError names the first fault and where."""
    _table(data, "", _TOP_FIELDS, required=("name", "currency", "locale", "tax", "items"))
    name = _text(data["name"], "name")
    try:
        cur = currency(data["currency"])
    except AmountError as error:
        raise CatalogueError("currency", str(error)) from None
    locale = _locale(data["locale"])
    tax = _tax_scheme(data["tax"])
    try:
        rules = gs1.DEFAULT_RULES
        if "variable_measure_rules" in data:
            rules = gs1.rules_from_dicts(data["variable_measure_rules"])
    except CodeError as error:
        raise CatalogueError("variable_measure_rules", error.reason) from None
    if not isinstance(data["items"], list) or not data["items"]:
        raise CatalogueError("items", "must be a non-empty list of items")
    items: list[Item] = []
    by_key: dict[str, Item] = {}
    for index, entry in enumerate(data["items"]):
        item = _item(entry, index, cur, tax, rules)
        key = item.gtin or f"item reference {item.item_reference}"
        if key in by_key:
            first = by_key[key]
            what = "barcode" if item.barcode else "item_reference"
            raise CatalogueError(
                f"items[{index}].{what}",
                f"{getattr(item, what)} is already items[{first.index}] ({first.name})",
            )
        by_key[key] = item
        items.append(item)
    return Catalogue(name, cur, locale, tax, rules, tuple(items))


def _table(value: object, path: str, fields: tuple[str, ...], required: tuple[str, ...]) -> None:
    where = path or "catalogue"
    if not isinstance(value, Mapping):
        raise CatalogueError(path, f"{where} must be an object, got {type(value).__name__}")
    if unknown := [repr(key) for key in value if key not in fields]:
        raise CatalogueError(path, f"unknown field {', '.join(unknown)} (known: {', '.join(fields)})")
    if missing := [name for name in required if name not in value]:
        raise CatalogueError(path, f"missing field {', '.join(missing)}")


def _text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(path, f"must be non-empty text, got {value!r}")
    return value.strip()


def _locale(value: object) -> str:
    try:
        Locale.parse(value)
    except (ValueError, TypeError, UnknownLocaleError):
        raise CatalogueError("locale", f"{value!r} is not a known locale (like en_SG, th_TH, ja_JP)") from None
    return value  # type: ignore[return-value]


def _rate(value: object, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        shown = f'"{value}"' if isinstance(value, float) else '"9"'
        reason = f"give the rate in percent as text, like {shown}, not {value!r} (floats are inexact)"
        raise CatalogueError(path, reason)
    try:
        rate = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise CatalogueError(path, f"{value!r} is not a number") from None
    if not rate.is_finite() or not 0 <= rate <= MAX_RATE:
        raise CatalogueError(path, f"{value!r} must be a percentage from 0 to {MAX_RATE}")
    return rate


def _tax_scheme(value: object) -> TaxScheme:
    _table(value, "tax", _TAX_FIELDS, required=_TAX_FIELDS)
    assert isinstance(value, Mapping)
    name = _text(value["name"], "tax.name")
    if not isinstance(value["included"], bool):
        reason = f"must be true (prices include tax) or false (tax added), not {value['included']!r}"
        raise CatalogueError("tax.included", reason)
    categories = value["categories"]
    if not isinstance(categories, Mapping) or not categories:
        raise CatalogueError("tax.categories", 'must be an object of categories, like {"standard": {"rate": "9"}}')
    parsed = []
    for code, entry in categories.items():
        path = f"tax.categories.{code}"
        if not code.strip():
            raise CatalogueError("tax.categories", "a category code must be non-empty text")
        _table(entry, path, _CATEGORY_FIELDS, required=("rate",))
        rate = _rate(entry["rate"], f"{path}.rate")
        label = entry.get("label", f"{name} {rate}%")
        mark = entry.get("mark", "")
        for part, text in (("label", label), ("mark", mark)):
            if not isinstance(text, str):
                raise CatalogueError(f"{path}.{part}", f"must be text, got {text!r}")
        parsed.append(TaxCategory(code, rate, label, mark))
    default = value["default"]
    if not isinstance(default, str) or default not in categories:
        raise CatalogueError("tax.default", f"{default!r} is not one of the categories ({', '.join(categories)})")
    return TaxScheme(name, value["included"], tuple(parsed), default)


def _minor(value: object, path: str, cur: Currency) -> Money:
    if isinstance(value, bool) or not isinstance(value, int):
        unit = "yen" if cur.minor_units == 0 else f"1/{10**cur.minor_units} {cur.code}"
        raise CatalogueError(path, f"must be an integer of minor units ({unit}), got {value!r}")
    if value <= 0:
        raise CatalogueError(path, f"must be above 0, got {value}")
    return Money(value, cur)


def _item(entry: object, index: int, cur: Currency, tax: TaxScheme, rules: tuple[gs1.VariableMeasureRule, ...]) -> Item:
    path = f"items[{index}]"
    _table(entry, path, _ITEM_FIELDS, required=("name", "tax"))
    assert isinstance(entry, Mapping)
    name = _text(entry["name"], f"{path}.name")
    if not isinstance(entry["tax"], str) or entry["tax"] not in {category.code for category in tax.categories}:
        known = ", ".join(category.code for category in tax.categories)
        raise CatalogueError(f"{path}.tax", f"{name}: {entry['tax']!r} is not a tax category (known: {known})")
    prices = {
        key: _minor(entry[key], f"{path}.{key}", cur) if key in entry else None for key in ("price", "price_per_kg")
    }
    if ("barcode" in entry) == ("item_reference" in entry):
        reason = "give either a barcode (fixed item) or an item_reference (variable-measure item)"
        raise CatalogueError(path, f"{name}: {reason}")
    if "barcode" in entry:
        barcode = _barcode(entry["barcode"], f"{path}.barcode", name, rules)
        if prices["price"] is None:
            raise CatalogueError(f"{path}.price", f"{name}: missing, a fixed item needs its price")
        return Item(name, entry["tax"], barcode=barcode, index=index, **prices)
    reference = _item_reference(entry["item_reference"], f"{path}.item_reference", name, rules)
    return Item(name, entry["tax"], item_reference=reference, index=index, **prices)


def _barcode(value: object, path: str, name: str, rules: tuple[gs1.VariableMeasureRule, ...]) -> str:
    if not isinstance(value, str):
        raise CatalogueError(path, f"{name}: a barcode is text (leading zeros count), got {value!r}")
    try:
        barcode = gs1.decode(value, rules)
        barcode.validate()
    except CodeError as error:
        raise CatalogueError(path, f"{name}: {value}: {error}") from None
    if barcode.rule is not None:
        prefix = barcode.variable_measure["prefix"]  # type: ignore[index]
        raise CatalogueError(
            path,
            f"{name}: {value} has prefix {prefix}, which the variable-measure rules read as a "
            f"{barcode.rule.measure} label: list the item by its item_reference",
        )
    return value


def _item_reference(value: object, path: str, name: str, rules: tuple[gs1.VariableMeasureRule, ...]) -> str:
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise CatalogueError(path, f"{name}: an item reference is text of digits, got {value!r}")
    widths = sorted({rule.item_digits for rule in rules})
    if len(value) not in widths:
        said = " or ".join(map(str, widths)) if widths else "none: the catalogue has no variable-measure rules"
        raise CatalogueError(path, f"{name}: {value} has {len(value)} digits, the rules' item references have {said}")
    return value
