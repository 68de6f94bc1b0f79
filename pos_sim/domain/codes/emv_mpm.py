"""EMVCo merchant-presented QR (MPM): the text TLV payload of a merchant's QR code.

A payload is a run of data objects, each a two-digit ID, a two-digit length counted in
characters (not bytes), and the value; templates (26-51 merchant accounts, 62 additional data,
64 language, 80-99 unreserved) nest the same format. The CRC (ID 63) is CRC-16/CCITT-FALSE over
the UTF-8 bytes of everything up to and including ``6304``.

Two validation modes:

* lenient (the default) accepts what real wallets and banking apps accept, the deviations listed
  in shared/docs/emv-qr.md: PromptPay without 52/59/60, DuitNow's format indicator "02" and its
  non-template tag 82, TrueMoney's tag 81, merchant cities over 15 characters, a zero amount
  (Pix), a lowercase CRC, unreserved templates (80-99) that are not TLV, and names or cities in
  any script. It always rejects a wrong CRC, broken TLV, duplicate IDs, a missing ``00`` or
  ``63``, a malformed amount, an unknown currency, and an amount with more decimals than its
  currency has.
* ``strict`` enforces EMVCo MPM v1.0 to the letter on top of that: mandatory 52, 53, 58, 59, 60;
  "ans" fields in printable ASCII; maximum lengths; a non-zero amount; tip/fee consistency
  (55-57); GUIDs in every template that needs one; an uppercase CRC; at most 512 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pos_sim.domain.codes.crc import crc16_ccitt_false
from pos_sim.domain.errors import AmountError, CodeError
from pos_sim.domain.money import currency as iso_currency
from pos_sim.language import N_, Phrase

MAX_QR_BYTES = 2953  # the most a QR code (version 40, byte mode, level L) can hold
STRICT_MAX_CHARS = 512  # EMVCo MPM 4.1

_AMOUNT = re.compile(r"[0-9]+(\.[0-9]*)?\Z|\.[0-9]+\Z")
_PERCENT = re.compile(r"[0-9]{1,2}\.[0-9]{2}\Z")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}\Z")
_ANS = re.compile(r"[\x20-\x7e]*\Z")

# Root fields with a name: ID -> (field name, EMVCo format "N"/"ans", max length, exact length?)
ROOT_FIELDS: dict[str, tuple[str, str, int, bool]] = {
    "00": ("payload_format_indicator", "N", 2, True),
    "01": ("point_of_initiation", "N", 2, True),
    "52": ("mcc", "N", 4, True),
    "53": ("currency", "N", 3, True),
    "54": ("amount", "ans", 13, False),
    "55": ("tip_indicator", "N", 2, True),
    "56": ("convenience_fee_fixed", "ans", 13, False),
    "57": ("convenience_fee_percentage", "ans", 5, False),
    "58": ("country", "ans", 2, True),
    "59": ("merchant_name", "ans", 25, False),
    "60": ("merchant_city", "ans", 15, False),
    "61": ("postal_code", "ans", 10, False),
    "63": ("crc", "ans", 4, True),
}
FIELD_IDS = {name: id_ for id_, (name, *_rest) in ROOT_FIELDS.items()}
TEMPLATE_FIELDS = {
    "62": "additional_data",
    "64": "language_template",
}
TEMPLATE_IDS = {name: id_ for id_, name in TEMPLATE_FIELDS.items()}


def _is_merchant_account(id_: str) -> bool:
    return "02" <= id_ <= "51"


def _is_account_template(id_: str) -> bool:
    return "26" <= id_ <= "51"


def _is_unreserved(id_: str) -> bool:
    return "80" <= id_ <= "99"


def _is_rfu(id_: str) -> bool:
    return "65" <= id_ <= "79"


@dataclass(frozen=True)
class DataObject:
    """One ID-length-value object; ``children`` holds a template's parsed objects."""

    id: str
    value: str
    offset: int
    children: tuple[DataObject, ...] | None = None

    def get(self, id_: str) -> DataObject | None:
        return next((c for c in self.children or () if c.id == id_), None)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "length": len(self.value), "offset": self.offset}
        if self.children is None:
            out["value"] = self.value
        else:
            out["children"] = [c.as_dict() for c in self.children]
        return out


def _read(text: str, start: int, end: int, scope: str | None) -> tuple[DataObject, ...]:
    """Read the objects of ``text[start:end]``; ``scope`` names the enclosing template."""
    objects = []
    pos = start
    while pos < end:
        head = text[pos : pos + 4]
        if len(head) < 4 or pos + 4 > end:
            raise CodeError(
                Phrase(N_("truncated data object: {left} characters left where an ID and a length need 4"),
                       left=end - pos),
                offset=pos,
                tag=scope,
            )
        id_, length = head[:2], head[2:]
        path = id_ if scope is None else f"{scope}.{id_}"
        if not (id_.isascii() and id_.isdigit()):
            raise CodeError(Phrase(N_("data object ID {id!r} is not two digits"), id=id_), offset=pos, tag=scope)
        if not (length.isascii() and length.isdigit()):
            raise CodeError(Phrase(N_("length {length!r} is not two digits"), length=length), offset=pos + 2, tag=path)
        size = int(length)
        if size == 0:
            raise CodeError(Phrase(N_("length 00: a data object must have a value")), offset=pos + 2, tag=path)
        if pos + 4 + size > end:
            raise CodeError(
                Phrase(N_("value declares {size} characters but only {left} remain"), size=size, left=end - pos - 4),
                offset=pos,
                tag=path,
            )
        value = text[pos + 4 : pos + 4 + size]
        objects.append(DataObject(id_, value, pos, _children(text, pos + 4, pos + 4 + size, scope, id_)))
        pos += 4 + size
    return tuple(objects)


def _children(text: str, start: int, end: int, scope: str | None, id_: str) -> tuple[DataObject, ...] | None:
    path = id_ if scope is None else f"{scope}.{id_}"
    if scope is None and (_is_account_template(id_) or id_ in TEMPLATE_FIELDS):
        return _read(text, start, end, path)
    if (scope is None and _is_unreserved(id_)) or (scope == "62" and id_ >= "50"):
        try:  # real payloads put plain data here (DuitNow 82, TrueMoney 81): keep it as a value
            return _read(text, start, end, path)
        except CodeError:
            return None
    return None


@dataclass(frozen=True)
class MerchantPresentedCode:
    """A decoded MPM payload: its objects as read, in order."""

    payload: str
    objects: tuple[DataObject, ...]
    kind = "emv-mpm"

    def get(self, id_: str) -> DataObject | None:
        return next((o for o in self.objects if o.id == id_), None)

    def value(self, id_: str) -> str | None:
        obj = self.get(id_)
        return None if obj is None else obj.value

    @property
    def is_dynamic(self) -> bool:
        return self.value("01") == "12"

    def fields(self) -> dict[str, Any]:
        """The payload's content by name: what ``pos-sim code parse --json`` prints."""
        out: dict[str, Any] = {name: self.value(id_) for id_, (name, *_r) in ROOT_FIELDS.items()}
        out["currency_alpha"] = _currency_alpha(self.value("53"))
        out["merchant_accounts"] = {
            o.id: _template_dict(o) if o.children is not None else o.value
            for o in self.objects
            if _is_merchant_account(o.id)
        }
        for id_, name in TEMPLATE_FIELDS.items():
            obj = self.get(id_)
            out[name] = None if obj is None else _template_dict(obj)
        out["unreserved_templates"] = {
            o.id: _template_dict(o) if o.children is not None else o.value
            for o in self.objects
            if _is_unreserved(o.id)
        }
        out["rfu"] = {o.id: o.value for o in self.objects if _is_rfu(o.id)}
        return _ordered(out)

    def as_objects(self) -> list[dict[str, Any]]:
        return [o.as_dict() for o in self.objects]

    def validate(self, strict: bool = False) -> None:
        """Raise CodeError for the first rule the payload breaks (see the module docstring)."""
        _Validator(self, strict).run()


_FIELD_ORDER = [
    "payload_format_indicator",
    "point_of_initiation",
    "merchant_accounts",
    "mcc",
    "currency",
    "currency_alpha",
    "amount",
    "tip_indicator",
    "convenience_fee_fixed",
    "convenience_fee_percentage",
    "country",
    "merchant_name",
    "merchant_city",
    "postal_code",
    "additional_data",
    "language_template",
    "rfu",
    "unreserved_templates",
    "crc",
]


def _ordered(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: fields[name] for name in _FIELD_ORDER}


def _template_dict(obj: DataObject) -> dict[str, str]:
    """Sub-ID -> value; a nested template (62/50-99) stays text here and is parsed in ``as_objects``."""
    has_guid = _is_account_template(obj.id) or _is_unreserved(obj.id)
    return {"guid" if has_guid and c.id == "00" else c.id: c.value for c in obj.children or ()}


def _currency_alpha(numeric: str | None) -> str | None:
    if numeric is None:
        return None
    try:
        return iso_currency(numeric).code
    except AmountError:
        return None


def decode(text: str) -> MerchantPresentedCode:
    """Read the TLV structure of ``text``; CodeError where it breaks (no rule checks: see validate)."""
    if not isinstance(text, str):
        raise CodeError(Phrase(N_("an MPM payload is text")))
    if not text:
        raise CodeError(Phrase(N_("empty payload")), offset=0)
    if len(text) > MAX_QR_BYTES:
        raise CodeError(
            Phrase(N_("payload of {count} characters is longer than any QR code holds ({most} bytes)"), count=len(text),
                   most=MAX_QR_BYTES),
            offset=MAX_QR_BYTES,
        )
    return MerchantPresentedCode(text, _read(text, 0, len(text), None))


def parse(text: str, strict: bool = False) -> MerchantPresentedCode:
    """Decode and validate in one step."""
    code = decode(text)
    code.validate(strict)
    return code


class _Validator:
    def __init__(self, code: MerchantPresentedCode, strict: bool) -> None:
        self.code = code
        self.strict = strict

    def fail(self, message: Phrase, obj: DataObject | None = None, tag: str | None = None) -> None:
        raise CodeError(message, offset=None if obj is None else obj.offset, tag=tag or (obj.id if obj else None))

    def run(self) -> None:
        self.check_text()
        self.check_crc()
        self.check_shape(self.code.objects, None)
        self.check_root()
        self.check_amounts()
        self.check_accounts()
        self.check_additional_data()
        self.check_language()
        self.check_unreserved()

    def check_text(self) -> None:
        text = self.code.payload
        bad = next((i for i, ch in enumerate(text) if "\ud800" <= ch <= "\udfff"), None)
        if bad is not None:
            raise CodeError(Phrase(N_("payload is not valid UTF-8 text")), offset=bad)
        if self.strict and len(text) > STRICT_MAX_CHARS:
            raise CodeError(Phrase(N_("payload has {count} characters, EMVCo allows {most}"), count=len(text),
                                   most=STRICT_MAX_CHARS))

    def check_crc(self) -> None:
        objects = self.code.objects
        crc = self.code.get("63")
        if crc is None:
            self.fail(Phrase(N_("no CRC (ID 63)")), tag="63")
        if objects[-1] is not crc:
            self.fail(Phrase(N_("the CRC (ID 63) must be the last object")), crc)
        if len(crc.value) != 4 or not _HEX4.match(crc.value):
            self.fail(Phrase(N_("CRC {crc!r} is not four hex digits"), crc=crc.value), crc)
        if self.strict and crc.value != crc.value.upper():
            self.fail(Phrase(N_("CRC {crc!r} must be uppercase hex"), crc=crc.value), crc)
        expected = crc16_ccitt_false(self.code.payload[: crc.offset + 4].encode("utf-8"))
        if crc.value.upper() != expected:
            self.fail(Phrase(N_("CRC {crc} does not match the payload (computed {expected})"), crc=crc.value,
                             expected=expected), crc)

    def check_shape(self, objects: tuple[DataObject, ...], scope: str | None) -> None:
        seen: dict[str, DataObject] = {}
        for obj in objects:
            path = obj.id if scope is None else f"{scope}.{obj.id}"
            if obj.id in seen:
                self.fail(Phrase(N_("duplicate ID {id}"), id=obj.id), obj, tag=path)
            seen[obj.id] = obj
            if obj.children is not None:
                if not obj.children:
                    self.fail(Phrase(N_("template has no data objects")), obj, tag=path)
                self.check_shape(obj.children, path)

    def check_root(self) -> None:
        code = self.code
        first = code.objects[0]
        if first.id != "00":
            self.fail(Phrase(N_("the payload must start with the Payload Format Indicator (ID 00), not ID {id}"),
                             id=first.id), first)
        allowed = ("01",) if self.strict else ("01", "02")
        if first.value not in allowed:
            message = (N_("Payload Format Indicator {value!r} is not 01") if self.strict
                       else N_("Payload Format Indicator {value!r} is not 01 or 02"))
            self.fail(Phrase(message, value=first.value), first)
        required = ["53", "58"] + (["52", "59", "60"] if self.strict else [])
        for id_ in required:
            if code.get(id_) is None:
                self.fail(Phrase(N_("{name} (ID {id}) is missing"), name=ROOT_FIELDS[id_][0], id=id_), tag=id_)
        for id_, (name, fmt, size, exact) in ROOT_FIELDS.items():
            obj = code.get(id_)
            if obj is None or id_ == "63":
                continue
            self.check_value(obj, name, fmt, size, exact, lenient_format=id_ in ("59", "60", "61"))
        poi = code.get("01")
        if poi is not None and poi.value not in ("11", "12"):
            self.fail(Phrase(N_("Point of Initiation Method {value!r} is not 11 (static) or 12 (dynamic)"),
                             value=poi.value), poi)
        cur = code.get("53")
        try:
            iso_currency(cur.value)
        except AmountError:
            self.fail(Phrase(N_("transaction currency {value!r} is not an ISO 4217 numeric code"), value=cur.value), cur)
        country = code.get("58")
        if self.strict and not re.fullmatch(r"[A-Z]{2}", country.value):
            self.fail(Phrase(N_("country code {value!r} is not ISO 3166-1 alpha-2"), value=country.value), country)

    def check_value(self, obj: DataObject, name: str, fmt: str, size: int, exact: bool, lenient_format: bool) -> None:
        value = obj.value
        if fmt == "N" and not (value.isascii() and value.isdigit()):
            self.fail(Phrase(N_("{name} {value!r} must be digits"), name=name, value=value), obj)
        if exact and len(value) != size:
            self.fail(Phrase(N_("{name} must be {size} characters, got {count}"), name=name, size=size,
                             count=len(value)), obj)
        if self.strict:
            if len(value) > size:
                self.fail(Phrase(N_("{name} may have at most {size} characters, got {count}"), name=name, size=size,
                                 count=len(value)), obj)
            if fmt == "ans" and not _ANS.match(value):
                self.fail(Phrase(N_("{name} {value!r} has characters outside printable ASCII"), name=name,
                                 value=value), obj)
        elif not lenient_format and fmt == "ans" and not _ANS.match(value):
            self.fail(Phrase(N_("{name} {value!r} has characters outside printable ASCII"), name=name, value=value), obj)

    def check_amounts(self) -> None:
        code = self.code
        amount = code.get("54")
        if amount is not None:
            self.check_amount(amount, Phrase(N_("transaction amount")), zero_ok=not self.strict)
        tip = code.get("55")
        fixed, percent = code.get("56"), code.get("57")
        if tip is not None and tip.value not in ("01", "02", "03"):
            self.fail(Phrase(N_("tip or convenience indicator {value!r} is not 01, 02 or 03"), value=tip.value), tip)
        tip_value = None if tip is None else tip.value
        if fixed is not None:
            if tip_value != "02" and self.strict:
                self.fail(Phrase(N_("a fixed convenience fee (ID 56) needs indicator 02 in ID 55")), fixed)
            self.check_amount(fixed, Phrase(N_("convenience fee")), zero_ok=False)
        elif tip_value == "02":
            self.fail(Phrase(N_("indicator 02 needs a fixed convenience fee in ID 56")), tip)
        if percent is not None:
            if tip_value != "03" and self.strict:
                self.fail(Phrase(N_("a convenience fee percentage (ID 57) needs indicator 03 in ID 55")), percent)
            if not _PERCENT.match(percent.value) or percent.value == "00.00":
                self.fail(Phrase(N_("convenience fee percentage {value!r} is not 00.01-99.99"),
                                 value=percent.value), percent)
        elif tip_value == "03":
            self.fail(Phrase(N_("indicator 03 needs a convenience fee percentage in ID 57")), tip)

    def check_amount(self, obj: DataObject, name: str, zero_ok: bool) -> None:
        value = obj.value
        if len(value) > 13 or not _AMOUNT.match(value):
            self.fail(Phrase(N_("{name} {value!r} is not digits with at most one '.' (13 characters at most)"), name=name,
                             value=value), obj)
        if not zero_ok and not value.strip("0."):
            self.fail(Phrase(N_("{name} must not be zero"), name=name), obj)
        decimals = len(value.partition(".")[2])
        minor_units = iso_currency(self.code.value("53")).minor_units
        if decimals > minor_units:
            currency = iso_currency(self.code.value("53")).code
            self.fail(Phrase(N_("{name} {value} has {decimals} decimals, {currency} has {places}"), name=name, value=value,
                             decimals=decimals, currency=currency, places=minor_units), obj)

    def check_accounts(self) -> None:
        accounts = [o for o in self.code.objects if _is_merchant_account(o.id)]
        if not accounts:
            self.fail(Phrase(N_("no merchant account information (IDs 02-51)")), tag="02-51")
        for obj in accounts:
            if obj.children is None:
                if self.strict and not _ANS.match(obj.value):
                    self.fail(Phrase(N_("merchant account has characters outside printable ASCII")), obj)
                continue
            self.check_guid(obj)

    def check_guid(self, obj: DataObject) -> None:
        guid = obj.get("00")
        if guid is None:
            self.fail(Phrase(N_("template has no globally unique identifier (sub-ID 00)")), obj)
        if len(guid.value) > 32 and self.strict:
            self.fail(Phrase(N_("globally unique identifier has {count} characters, at most 32"),
                             count=len(guid.value)), guid, tag=f"{obj.id}.00")

    def check_additional_data(self) -> None:
        data = self.code.get("62")
        if data is None:
            return
        for obj in data.children or ():
            tag = f"62.{obj.id}"
            if "01" <= obj.id <= "08" and self.strict and (len(obj.value) > 25 or not _ANS.match(obj.value)):
                self.fail(Phrase(N_("additional data values are printable ASCII of at most 25 characters")), obj, tag=tag)
            if obj.id == "09" and (
                len(obj.value) > 3 or set(obj.value) - set("AME") or len(set(obj.value)) != len(obj.value)
            ):
                self.fail(Phrase(N_("consumer data request {value!r} must be A, M and/or E, each once"), value=obj.value), obj,
                          tag=tag)
            if obj.id >= "50" and self.strict:
                if obj.children is None:
                    self.fail(Phrase(N_("payment system template (50-99) is not TLV")), obj, tag=tag)
                if obj.get("00") is None:
                    self.fail(Phrase(N_("payment system template has no GUID (sub-ID 00)")), obj, tag=tag)

    def check_language(self) -> None:
        lang = self.code.get("64")
        if lang is None:
            return
        preference, name = lang.get("00"), lang.get("01")
        if preference is None or name is None:
            self.fail(Phrase(N_("language template needs a language (00) and an alternate merchant name (01)")), lang)
        if len(preference.value) != 2:
            self.fail(Phrase(N_("language preference {value!r} is not a two-letter ISO 639 code"), value=preference.value),
                      preference, tag="64.00")
        if self.strict:
            city = lang.get("02")
            if len(name.value) > 25:
                self.fail(Phrase(N_("alternate merchant name is longer than 25 characters")), name, tag="64.01")
            if city is not None and len(city.value) > 15:
                self.fail(Phrase(N_("alternate merchant city is longer than 15 characters")), city, tag="64.02")

    def check_unreserved(self) -> None:
        if not self.strict:
            return
        for obj in self.code.objects:
            if _is_unreserved(obj.id):
                if obj.children is None:
                    self.fail(Phrase(N_("unreserved template (80-99) is not TLV")), obj)
                self.check_guid(obj)


def encode(objects: list[tuple[str, str | list]]) -> str:
    """Serialise ``(id, value)`` pairs, where a value is text or a list of pairs (a template)."""
    out = []
    for id_, value in objects:
        text = encode(value) if isinstance(value, list) else value
        if not re.fullmatch(r"[0-9]{2}", id_):
            raise CodeError(Phrase(N_("data object ID {id!r} is not two digits"), id=id_), tag=id_)
        if not 1 <= len(text) <= 99:
            raise CodeError(Phrase(N_("value of {count} characters: a data object holds 1 to 99"), count=len(text)), tag=id_)
        out.append(f"{id_}{len(text):02d}{text}")
    return "".join(out)


def with_crc(body: str) -> str:
    """Append ID 63 with the CRC of ``body`` + ``6304``."""
    head = body + "6304"
    return head + crc16_ccitt_false(head.encode("utf-8"))


def build(fields: dict[str, Any]) -> str:
    """A payload from named fields (the shape ``fields()`` returns); objects in ID order, CRC last.

    ``merchant_accounts``, ``additional_data``, ``language_template``, ``unreserved_templates``
    and ``rfu`` map IDs to values or, for templates, to dicts of sub-IDs (``guid`` for 00).
    The result is checked in strict mode before it is returned: what pos-sim makes is EMVCo to
    the letter (the scheme builders that must deviate, like PromptPay, check in lenient mode).
    """
    objects: list[tuple[str, str | list]] = []
    for name, value in fields.items():
        if value is None or name in ("crc", "currency_alpha"):
            continue
        if name in FIELD_IDS:
            objects.append((FIELD_IDS[name], value))
        elif name in TEMPLATE_IDS:
            objects.append((TEMPLATE_IDS[name], _template_pairs(value)))
        elif name in ("merchant_accounts", "unreserved_templates", "rfu"):
            objects.extend((id_, _template_pairs(v) if isinstance(v, dict) else v) for id_, v in value.items())
        else:
            raise CodeError(Phrase(N_("unknown MPM field {name!r}"), name=name))
    if "payload_format_indicator" not in fields:
        objects.append(("00", "01"))
    objects.sort(key=lambda pair: pair[0])
    payload = with_crc(encode(objects))
    decode(payload).validate(strict=True)
    return payload


def _template_pairs(value: dict[str, Any]) -> list[tuple[str, str | list]]:
    pairs = [("00" if k == "guid" else k, _template_pairs(v) if isinstance(v, dict) else v) for k, v in value.items()]
    return sorted(pairs, key=lambda pair: pair[0])
