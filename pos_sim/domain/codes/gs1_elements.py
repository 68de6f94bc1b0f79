"""GS1 element strings: the Application Identifiers (AIs) a GS1 DataBar, GS1-128 or GS1 Data Matrix carries.

A till meets them on loose produce (a DataBar: the GTIN, a net weight, a price) and on medicine (a GS1 Data Matrix:
the GTIN, batch, expiry, serial). Two forms are read (GS1 General Specifications 3 and 7.8):

- the element string as the code carries it and the scanner sends it: each AI and its data run on, a GS (``\\x1d``,
  FNC1 in the symbol) after a field of variable length that another follows: ``0109521234543213`` + ``3103000123``;
- the human-readable form printed under the code, each AI in parentheses: ``(01)09521234543213(3103)000123``.

The AIs known are the common ones at a till; any other is an error that names it (the data of an unknown AI has no
known end, so nothing after it could be read):

==== ================= =========================================
AI   name              data
==== ================= =========================================
01   gtin              14 digits, its GS1 check digit right
10   batch             1-20 characters, variable length
17   expiry            6 digits, YYMMDD (DD 00: the end of the month)
21   serial            1-20 characters, variable length
310n net_weight        6 digits, kilograms with n decimals
392n price             1-15 digits, the shop's currency with n decimals, variable length
==== ================= =========================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pos_sim.domain.codes.gs1 import check_digit
from pos_sim.domain.errors import CodeError
from pos_sim.language import N_, Phrase

GS = "\x1d"
KIND = "gs1"
DETAIL = "element-string"
# AI (the first two digits, or all four where the fourth digit is a count of decimals) -> name, length (fixed: the data's
# length; variable: None), most characters, digits only
_AIS = {
    "01": ("gtin", 14, 14, True),
    "10": ("batch", None, 20, False),
    "17": ("expiry", 6, 6, True),
    "21": ("serial", None, 20, False),
    "310": ("net_weight", 6, 6, True),
    "392": ("price", None, 15, True),
}
_DECIMAL_AIS = ("310", "392")  # a fourth digit, 0-9, says how many decimals the data has
_CHARACTERS = re.compile(r"""[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+\Z""")  # GS1 AI encodable character set 82
_HRI = re.compile(r"\((\d{2,4})\)([^()]*)")


@dataclass(frozen=True)
class Element:
    """One AI and its data: ``decimals`` for the AIs whose fourth digit counts them (310n, 392n), else None."""

    ai: str
    name: str
    data: str
    offset: int  # where the data starts in the text
    decimals: int | None


@dataclass(frozen=True)
class ElementString:
    """The elements of a GS1 element string, in order."""

    elements: tuple[Element, ...]
    kind: str = KIND

    def get(self, name: str) -> Element | None:
        return next((element for element in self.elements if element.name == name), None)

    @property
    def gtin(self) -> str:
        element = self.get("gtin")
        if element is None:
            raise CodeError(Phrase(N_("a GS1 element string without a GTIN (AI 01) names no item")))
        return element.data

    @property
    def grams(self) -> int | None:
        """The net weight (310n) in grams, when the code carries one."""
        element = self.get("net_weight")
        if element is None:
            return None
        milligrams, rest = divmod(int(element.data) * 10**6, 10**element.decimals)
        if rest or milligrams % 1000:
            raise CodeError(Phrase(N_("AI ({ai}): a net weight of {weight} kg is not a whole number of grams"), ai=element.ai,
                                   weight=_decimal(element)), offset=element.offset)
        return milligrams // 1000

    def price_minor(self, exponent: int) -> int | None:
        """The price (392n) in minor units of a currency of ``exponent`` decimals, when the code carries one."""
        element = self.get("price")
        if element is None:
            return None
        minor, rest = divmod(int(element.data) * 10**exponent, 10**element.decimals)
        if rest:
            raise CodeError(Phrase(N_("AI ({ai}): a price of {price} is finer than the currency's {places} decimals"),
                                   ai=element.ai, price=_decimal(element), places=exponent), offset=element.offset)
        return minor

    def fields(self) -> dict[str, Any]:
        return {"symbology": DETAIL, **{element.name: element.data for element in self.elements}}

    def as_objects(self) -> list[dict[str, Any]]:
        return [{"name": element.name, "ai": element.ai, "offset": element.offset, "value": element.data}
                for element in self.elements]

    def validate(self, strict: bool = False) -> None:
        """The GTIN's check digit, the expiry a date; strict is the same as lenient."""
        gtin = self.get("gtin")
        if gtin is not None and gtin.data[-1] != check_digit(gtin.data[:-1]):
            raise CodeError(Phrase(N_("AI (01): wrong check digit: expected {expected}, found {found}"),
                                   expected=check_digit(gtin.data[:-1]), found=gtin.data[-1]), offset=gtin.offset + 13)
        expiry = self.get("expiry")
        if expiry is not None:
            month, day = int(expiry.data[2:4]), int(expiry.data[4:6])
            if not 1 <= month <= 12 or day > (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31):
                raise CodeError(Phrase(N_("AI (17): {date} is no date (YYMMDD)"), date=expiry.data), offset=expiry.offset)

    def hri(self) -> str:
        """The human-readable form: each AI in parentheses before its data."""
        return "".join(f"({element.ai}){element.data}" for element in self.elements)


def _decimal(element: Element) -> str:
    whole, part = element.data[: len(element.data) - element.decimals], element.data[len(element.data) - element.decimals :]
    return f"{int(whole or '0')}.{part}" if element.decimals else str(int(element.data))


def looks_like(text: str) -> bool:
    """Whether ``text`` has the shape of an element string: the printed form, an AI in parentheses first; or the form
    the code carries that starts with a GTIN, "01" and 14 digits, and is more than digits (a GS, letters of a batch)."""
    return bool(re.match(r"\(\d{2,4}\)", text)) or (bool(re.match(r"01\d{14}", text)) and not text.isdigit())


def starts_with_gtin(text: str) -> bool:
    """Whether ``text`` starts as a DataBar's element string does, "01" and 14 digits: read as one at a product scan, so
    a misread says what is wrong with it (its check digit) rather than that it is no EAN-13."""
    return bool(re.match(r"01\d{14}", text))


def readable(text: str) -> bool:
    """Whether ``text``, all digits, is an element string that starts with a GTIN and parses and validates whole: a
    DataBar's "01" and 14 digits, and a net weight or price after them (else digits are a wallet's code)."""
    if not starts_with_gtin(text):
        return False
    try:
        parse(text).validate()
    except CodeError:
        return False
    return True


def _known(code: str, offset: int) -> tuple[str, tuple[str, int | None, int, bool], int | None]:
    """(AI, its rule, decimals) for the AI at the start of ``code``."""
    if code[:3] in _DECIMAL_AIS:
        if len(code) < 4 or not code[3].isdigit():
            raise CodeError(Phrase(N_("AI ({ai}n) needs its fourth digit, the number of decimals"), ai=code[:3]), offset=offset)
        return code[:4], _AIS[code[:3]], int(code[3])
    if code[:2] in _AIS:
        return code[:2], _AIS[code[:2]], None
    raise CodeError(Phrase(N_("unknown or unsupported GS1 Application Identifier at {start!r} (known: 01, 10, 17, 21, "
                              "310n, 392n)"), start=code[:4]), offset=offset)


def _element(ai: str, rule: tuple[str, int | None, int, bool], decimals: int | None, data: str, offset: int) -> Element:
    name, length, most, digits = rule
    if length is not None and len(data) != length:
        raise CodeError(Phrase(N_("AI ({ai}) {name}: {length} characters, found {count}"), ai=ai, name=name, length=length,
                               count=len(data)), offset=offset)
    if not 1 <= len(data) <= most:
        raise CodeError(Phrase(N_("AI ({ai}) {name}: 1-{most} characters, found {count}"), ai=ai, name=name, most=most,
                               count=len(data)), offset=offset)
    if digits and not (data.isascii() and data.isdigit()):
        raise CodeError(Phrase(N_("AI ({ai}) {name}: digits only, found {data!r}"), ai=ai, name=name, data=data), offset=offset)
    if not _CHARACTERS.match(data):
        raise CodeError(Phrase(N_("AI ({ai}) {name}: {data!r} holds a character a GS1 code cannot carry"), ai=ai, name=name,
                               data=data), offset=offset)
    return Element(ai, name, data, offset, decimals)


def parse(text: str) -> ElementString:
    """The elements of ``text``, an element string in either form; CodeError naming the first fault and where."""
    if not text:
        raise CodeError(Phrase(N_("an empty GS1 element string")))
    elements: list[Element] = []
    if text.startswith("("):
        position = 0
        for match in _HRI.finditer(text):
            if match.start() != position:
                break
            ai, rule, decimals = _known(match.group(1), match.start())
            if ai != match.group(1):
                raise CodeError(Phrase(N_("AI ({ai}): not an Application Identifier of that length"), ai=match.group(1)),
                                offset=match.start())
            elements.append(_element(ai, rule, decimals, match.group(2), match.start(2)))
            position = match.end()
        if position != len(text):
            raise CodeError(Phrase(N_("not a GS1 element string in parentheses from {text!r}"), text=text[position:position + 8]),
                            offset=position)
    else:
        position = 0
        while position < len(text):
            ai, rule, decimals = _known(text[position:], position)
            start = position + len(ai)
            length = rule[1]
            end = start + length if length is not None else (text.find(GS, start) if GS in text[start:] else len(text))
            elements.append(_element(ai, rule, decimals, text[start:end], start))
            position = end + (text[end : end + 1] == GS)  # a GS ends a field of variable length (or, needless, a fixed one)
    if len({element.name for element in elements}) != len(elements):
        raise CodeError(Phrase(N_("an Application Identifier given twice in one element string")))
    return ElementString(tuple(elements))
