"""GS1 retail barcodes: EAN-13, UPC-A and EAN-8, and the variable-measure items they can carry.

Check digits follow the GS1 General Specifications: 7.9.1 (mod 10) for the barcode, 7.9.3 / 7.9.4
for the price check digit of a 4- / 5-digit price or weight.

A variable-measure item (a weighed or priced article labelled in store) embeds an item reference
and a price, weight or count in a restricted-circulation number. Rules are read on the GTIN-13 form:
a UPC-A is a GTIN-13 with a leading 0, so UPC-A number system 2 is GS1 prefix "02". Each market
assigns prefixes 20-29 its own way; ``DEFAULT_RULES`` is a typical set (I item reference,
C price check digit, P price in minor units, G weight in grams, N count, K check digit):

====== =================== =====================================
prefix layout              use
====== =================== =====================================
02     0 2 IIIII C PPPP K  UPC-A number system 2 (US in-store)
20-21  2x IIIII PPPPP K    price, no price check digit
22-23  2x IIIII GGGGG K    weight in grams
24-25  2x IIIII C PPPP K   price with a 4-digit price check digit
26-28  2x IIII C PPPPP K   price with a 5-digit price check digit
29     29 IIIII NNNNN K    count of pieces
====== =================== =====================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, ClassVar

from pos_sim.domain.errors import CodeError
from pos_sim.language import N_, Phrase

_NON_DIGIT = re.compile(r"[^0-9]")
SYMBOLOGIES = {13: "ean13", 12: "upca", 8: "ean8"}
_MEASURES = ("price", "weight", "count")
_VARIABLE_MEASURE_PREFIXES = ("02", *(str(p) for p in range(20, 30)))
_RULE_FIELDS = ("prefixes", "item_digits", "measure", "value_digits", "price_check")

# Weighted products of GS1 7.9.3, indexed by digit: "2-" is 2d with the tens taken from the units,
# "3" the units of 3d, "5+" / "5-" 5d with the tens added to / taken from the units.
_TWO_MINUS = (0, 2, 4, 6, 8, 9, 1, 3, 5, 7)
_THREE = (0, 3, 6, 9, 2, 5, 8, 1, 4, 7)
_FIVE_PLUS = (0, 5, 1, 6, 2, 7, 3, 8, 4, 9)
_FIVE_MINUS = (0, 5, 9, 4, 8, 3, 7, 2, 6, 1)


def check_digit(data: str) -> str:
    """GS1 mod-10 check digit of ``data`` (7.9.1): weights 3, 1, 3... from the right."""
    total = sum(int(digit) * (1 if i % 2 else 3) for i, digit in enumerate(reversed(data)))
    return str(-total % 10)


def price_check_digit(value: str) -> str:
    """Price check digit of a 4-digit (7.9.3) or 5-digit (7.9.4) price or weight."""
    digits = [int(digit) for digit in value]
    if len(digits) == 4:
        products = (_TWO_MINUS, _TWO_MINUS, _THREE, _FIVE_MINUS)
        return str(sum(p[d] for p, d in zip(products, digits)) * 3 % 10)
    products = (_FIVE_PLUS, _TWO_MINUS, _FIVE_MINUS, _FIVE_PLUS, _TWO_MINUS)
    return str(_FIVE_MINUS.index(-sum(p[d] for p, d in zip(products, digits)) % 10))


@dataclass(frozen=True)
class VariableMeasureRule:
    """How a GTIN-13 starting with one of ``prefixes`` embeds an item and a measure.

    Its 12 data digits are the prefix, ``item_digits`` of item reference, a price check digit if
    ``price_check`` (then ``value_digits`` is 4 or 5), and ``value_digits`` of value: a price in
    minor units, a weight in grams or a count, as ``measure`` says.
    """

    prefixes: tuple[str, ...]
    item_digits: int
    measure: str
    value_digits: int
    price_check: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.prefixes, tuple) and self.prefixes):
            raise CodeError(Phrase(N_("prefixes must be a non-empty list")))
        for prefix in self.prefixes:
            if prefix not in _VARIABLE_MEASURE_PREFIXES:
                raise CodeError(Phrase(N_("prefixes: {prefix!r} is not a variable-measure prefix (02, 20-29)"), prefix=prefix))
        if self.measure not in _MEASURES:
            raise CodeError(Phrase(N_("measure must be one of {measures}, not {measure!r}"), measures=", ".join(_MEASURES),
                                   measure=self.measure))
        for name, digits in (("item_digits", self.item_digits), ("value_digits", self.value_digits)):
            if type(digits) is not int or digits < 1:
                raise CodeError(Phrase(N_("{name} must be a positive integer, not {digits!r}"), name=name, digits=digits))
        if type(self.price_check) is not bool:
            raise CodeError(Phrase(N_("price_check must be true or false, not {value!r}"), value=self.price_check))
        if self.price_check and self.value_digits not in (4, 5):
            raise CodeError(Phrase(N_("value_digits must be 4 or 5 with a price check digit, not {digits}"),
                                   digits=self.value_digits))
        if (used := 2 + self.item_digits + self.price_check + self.value_digits) != 12:
            message = (N_("item_digits and value_digits must fill the 12 data digits with the prefix and the price check "
                          "digit, they fill {used}") if self.price_check
                       else N_("item_digits and value_digits must fill the 12 data digits with the prefix, they fill {used}"))
            raise CodeError(Phrase(message, used=used))

    def spans(self) -> list[tuple[str, int, int]]:
        """(name, start, end) of each part within the GTIN-13 data digits."""
        widths = [("prefix", 2), ("item_reference", self.item_digits)]
        widths += [("price_check_digit", self.price_check), ("value", self.value_digits)]
        ends = accumulate(width for _, width in widths)
        return [(name, end - width, end) for (name, width), end in zip(widths, ends) if width]


DEFAULT_RULES = (
    VariableMeasureRule(("02",), 5, "price", 4, price_check=True),
    VariableMeasureRule(("20", "21"), 5, "price", 5),
    VariableMeasureRule(("22", "23"), 5, "weight", 5),
    VariableMeasureRule(("24", "25"), 5, "price", 4, price_check=True),
    VariableMeasureRule(("26", "27", "28"), 4, "price", 5, price_check=True),
    VariableMeasureRule(("29",), 5, "count", 5),
)


def rules_from_dicts(configs: list[dict[str, Any]]) -> tuple[VariableMeasureRule, ...]:
    """A rule set from config tables with the fields of ``VariableMeasureRule`` (``price_check`` optional)."""
    if not isinstance(configs, (list, tuple)):
        raise CodeError(Phrase(N_("variable-measure rules must be a list of tables")))
    rules, owners = [], {}
    for number, config in enumerate(configs, 1):
        try:
            if not isinstance(config, dict):
                raise CodeError(Phrase(N_("must be a table")))
            if unknown := [repr(key) for key in config if key not in _RULE_FIELDS]:
                raise CodeError(Phrase(N_("unknown field {fields}"), fields=", ".join(unknown)))
            if missing := [name for name in _RULE_FIELDS[:-1] if name not in config]:  # price_check may go
                raise CodeError(Phrase(N_("missing field {fields}"), fields=", ".join(missing)))
            if isinstance(prefixes := config["prefixes"], list):
                config = {**config, "prefixes": tuple(prefixes)}
            rule = VariableMeasureRule(**config)
        except CodeError as error:
            raise CodeError(Phrase(N_("variable-measure rule {number}: {problem}"), number=number, problem=error.reason)) from None
        for prefix in rule.prefixes:
            if prefix in owners:
                raise CodeError(Phrase(N_("variable-measure rule {number}: prefix {prefix} is already in rule {other}"),
                                       number=number, prefix=prefix, other=owners[prefix]))
            owners[prefix] = number
        rules.append(rule)
    return tuple(rules)


@dataclass(frozen=True)
class RetailBarcode:
    """An EAN-13, UPC-A or EAN-8, with the variable-measure rule its prefix falls under, if any."""

    kind: ClassVar[str] = "gs1"
    symbology: str
    digits: str
    rule: VariableMeasureRule | None = None

    @property
    def gtin(self) -> str:
        return self.digits.zfill(14)

    @property
    def variable_measure(self) -> dict[str, Any] | None:
        """The embedded item: prefix (of the GTIN-13), item_reference, [price_check_digit,] value, measure."""
        if self.rule is None:
            return None
        item = {name: self.gtin[1 + start : 1 + end] for name, start, end in self.rule.spans()}
        return {**item, "value": int(item["value"]), "measure": self.rule.measure}

    def fields(self) -> dict[str, Any]:
        return {
            "symbology": self.symbology,
            "gtin": self.gtin,
            "check_digit": self.digits[-1],
            "variable_measure": self.variable_measure,
        }

    def as_objects(self) -> list[dict[str, Any]]:
        """The parts of the text: data or the variable-measure parts, then the check digit."""
        pad = 13 - len(self.digits)  # the text is the GTIN-13 without its first ``pad`` zeros
        spans = self.rule.spans() if self.rule else [("data", 0, 12)]
        return [
            {"name": name, "offset": max(start - pad, 0), "value": self.digits[max(start - pad, 0) : end - pad]}
            for name, start, end in [*spans, ("check_digit", 12, 13)]
        ]

    def validate(self, strict: bool = False) -> None:
        """Check the check digit, then any price check digit; strict is the same as lenient."""
        parts = {part["name"]: part for part in self.as_objects()}
        checks = [(N_("wrong check digit: expected {expected}, found {found}"), parts["check_digit"],
                   check_digit(self.digits[:-1]))]
        if "price_check_digit" in parts:
            checks.append((N_("wrong price check digit: expected {expected}, found {found}"), parts["price_check_digit"],
                           price_check_digit(parts["value"]["value"])))
        for message, part, expected in checks:
            if part["value"] != expected:
                raise CodeError(Phrase(message, expected=expected, found=part["value"]), offset=part["offset"])


def decode(text: str, rules: tuple[VariableMeasureRule, ...] = DEFAULT_RULES) -> RetailBarcode:
    """The EAN-13 (13 digits), UPC-A (12) or EAN-8 (8) in ``text``; ``validate`` checks its check digits."""
    if bad := _NON_DIGIT.search(text):
        raise CodeError(Phrase(N_("a GS1 retail barcode has digits only, found {found!r}"), found=bad.group()),
                        offset=bad.start())
    if (symbology := SYMBOLOGIES.get(len(text))) is None:
        raise CodeError(Phrase(N_("{count} digits: a GS1 retail barcode has 13 (EAN-13), 12 (UPC-A) or 8 (EAN-8)"),
                               count=len(text)))
    prefix = text.zfill(13)[:2]  # "00" for an EAN-8, which no rule takes
    return RetailBarcode(symbology, text, next((rule for rule in rules if prefix in rule.prefixes), None))


def _digits(text: str, length: int, name: str) -> str:
    if len(text) != length or _NON_DIGIT.search(text):
        raise CodeError(Phrase(N_("{name} must be {length} digits"), name=name, length=length))
    return text


def make_ean13(first12: str) -> str:
    return (data := _digits(first12, 12, Phrase(N_("EAN-13 data")))) + check_digit(data)


def make_ean8(first7: str) -> str:
    return (data := _digits(first7, 7, Phrase(N_("EAN-8 data")))) + check_digit(data)


def make_upca(first11: str) -> str:
    return (data := _digits(first11, 11, Phrase(N_("UPC-A data")))) + check_digit(data)


def expand_upce(upce: str) -> str:
    """The UPC-A (12 digits) a UPC-E of 8 digits (number system 0 or 1, six data digits, the check digit) stands for:
    its zeros put back where the last data digit says (GS1 General Specifications 5.2.2.4.2)."""
    _digits(upce, 8, "UPC-E")
    if upce[0] not in "01":
        raise CodeError(Phrase(N_("UPC-E {upce}: number system must be 0 or 1, not {system}"), upce=upce, system=upce[0]))
    a, b, c, d, e, last = upce[1:7]
    data = {"0": a + b + last + "0000" + c + d + e, "1": a + b + last + "0000" + c + d + e,
            "2": a + b + last + "0000" + c + d + e, "3": a + b + c + "00000" + d + e,
            "4": a + b + c + d + "00000" + e}.get(last, a + b + c + d + e + "0000" + last)
    return upce[0] + data + upce[7]


def make_variable_measure(rule: VariableMeasureRule, item_reference: str, value: int, prefix: str | None = None) -> str:
    """The barcode of an item under ``rule`` (prefix: the rule's first unless given); a UPC-A for prefix "02"."""
    prefix = rule.prefixes[0] if prefix is None else prefix
    if prefix not in rule.prefixes:
        raise CodeError(Phrase(N_("prefix {prefix!r} is not one of the rule's {prefixes}"), prefix=prefix,
                               prefixes=", ".join(rule.prefixes)))
    _digits(item_reference, rule.item_digits, Phrase(N_("item reference")))
    if type(value) is not int or not 0 <= value < 10**rule.value_digits:
        raise CodeError(Phrase(N_("{measure} {value!r} does not fit {digits} digits"), measure=rule.measure, value=value,
                               digits=rule.value_digits))
    field = f"{value:0{rule.value_digits}d}"
    data = prefix + item_reference + (price_check_digit(field) if rule.price_check else "") + field
    return make_upca(data[1:]) if prefix == "02" else make_ean13(data)
