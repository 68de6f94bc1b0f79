"""EMVCo consumer-presented QR (CPM): the base64 text of a BER-TLV payload shown by a phone wallet.

The payload is '85' Payload Format Indicator "CPV01", then one or more '61' Application Templates
(each may hold a '63' transparent template), then an optional '62' Common Data Template (which may
hold a '64'). BER-TLV here: tags of one or more bytes (low five bits 11111 open a multi-byte tag,
bit 0x80 continues it), lengths in short form or long form 0x81 / 0x82, bit 0x20 of the first tag
byte marks a constructed object whose contents are parsed as objects in turn.

``decode`` reads the structure only; ``validate`` applies the rules, in two modes:

* lenient (the default), what a POI must reject (5.1.1.2-3, 5.1.1.10): a first object that is not
  '85' = "CPV01"; no '61'; two '62'; a '61' without a '4F' of 5-16 bytes; no '57' or '5A' in the
  POI data; a primitive tag twice in the POI data; text fields that are not ASCII. POI data is
  a '61' together with the '62', so a '57' or '5A' in '62' serves every application. The spec
  forbids a duplicate only in the application the POI chooses; every '61' is checked, as the
  mvallim/emv-qrcode validator does, because a simulated terminal may choose any of them.
* ``strict`` adds the layout (at most two '61', right after '85', then at most one '62', then
  only other templates) and each field's EMV format and size (``FIELDS``): a 29-character
  PAR, printable ASCII text, a digits-only PAN, a well-formed track 2, an issuer URL without spaces.

Round trip: each object keeps the width of the length it was read with (``length_size``), so
``to_bytes()`` gives back the decoded bytes exactly, minimal length or not; objects built here
get minimal lengths.

``token_presentation`` builds, and ``read_token_presentation`` reads back, what a phone wallet's
device token presents at a tap: PAN, track 2, expiry, counter (ATC) and application cryptogram.
"""

from __future__ import annotations

import base64
import calendar
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from pos_sim.domain.errors import CodeError
from pos_sim.language import N_, Phrase

PREFIX = "hQVDUFY"  # base64 of '85' 05 "CPV": how a POI tells a CPM payload (5.1.1.1)
MAX_TEXT_CHARS = 4096  # base64 characters, 3072 bytes: well over the 512 bytes a POI must read
MAX_DEPTH = 8
MAX_TAG_BYTES = 4
PAYLOAD_FORMAT = b"CPV01"


class Field(NamedTuple):
    """A POI data object: its tag, how it is shown, its strict format and size in bytes."""

    tag: str
    text: bool  # ASCII text, else uppercase hex
    pattern: str  # the shown value, in strict mode
    low: int
    high: int


FIELDS: dict[str, Field] = {
    "aid": Field("4F", False, "[0-9A-F]*", 5, 16),
    "label": Field("50", True, "[\x20-\x7e]*", 1, 16),
    "track2": Field("57", False, "[0-9]{1,19}D[0-9]{7,}F?", 1, 19),
    "pan": Field("5A", False, "[0-9]+", 1, 10),  # shown without its F pad
    "cardholder_name": Field("5F20", True, "[\x20-\x7e]*", 2, 26),
    "language": Field("5F2D", True, "(?:[a-z]{2})*", 2, 8),
    "issuer_url": Field("5F50", True, "[\x21-\x7e]*", 1, 0xFFFF),
    "last4_pan": Field("9F25", False, "[0-9]*", 2, 2),
    "app_version": Field("9F08", False, "[0-9A-F]*", 2, 2),
    "token_requestor_id": Field("9F19", False, "[0-9]*", 6, 6),
    "par": Field("9F24", True, "[0-9A-Za-z]*", 29, 29),
}
TEMPLATES = {"61": "63", "62": "64"}  # application / common data template -> its transparent template


@dataclass(frozen=True)
class Tlv:
    """One BER-TLV object: a primitive holds ``value``, a constructed one (tag bit 0x20) ``children``."""

    tag: str  # uppercase hex
    value: bytes = b""
    children: tuple[Tlv, ...] = ()
    offset: int = 0  # of the tag, in the decoded bytes
    length_size: int = 0  # bytes after 0x81/0x82 as read; a shorter length is never written

    @property
    def constructed(self) -> bool:
        return bool(int(self.tag[:2], 16) & 0x20)

    def contents(self) -> bytes:
        return b"".join(c.to_bytes() for c in self.children) if self.constructed else self.value

    def to_bytes(self) -> bytes:
        contents = self.contents()
        n = len(contents)
        size = max(self.length_size, 0 if n < 0x80 else (n.bit_length() + 7) // 8)
        if size > 2:
            raise CodeError(Phrase(N_("{count} bytes do not fit a 0x82 length"), count=n), tag=self.tag)
        head = bytes([n]) if size == 0 else bytes([0x80 | size]) + n.to_bytes(size, "big")
        return bytes.fromhex(self.tag) + head + contents

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tag": self.tag, "length": len(self.contents()), "offset": self.offset}
        if self.constructed:
            out["children"] = [c.as_dict() for c in self.children]
        else:
            out["value"] = self.value.hex().upper()
        return out


def _tag_end(data: bytes, pos: int, end: int) -> int:
    """Where the tag starting at ``data[pos]`` ends."""
    if data[pos] & 0x1F != 0x1F:
        return pos + 1
    last = min(end, pos + MAX_TAG_BYTES)
    for i in range(pos + 1, last):
        if not data[i] & 0x80:
            return i + 1
    tag = data[pos:last].hex().upper()
    raise CodeError(Phrase(N_("tag truncated or longer than {most} bytes"), most=MAX_TAG_BYTES), offset=pos, tag=tag)


def _parse(data: bytes, start: int, end: int, depth: int) -> tuple[Tlv, ...]:
    """The objects of ``data[start:end]``."""
    objects = []
    pos = start
    while pos < end:
        offset = pos
        pos = _tag_end(data, pos, end)
        tag = data[offset:pos].hex().upper()
        if pos == end:
            raise CodeError(Phrase(N_("object has no length")), offset=pos, tag=tag)
        first = data[pos]
        if first == 0x80:
            raise CodeError(Phrase(N_("indefinite length (0x80) is not allowed")), offset=pos, tag=tag)
        if first > 0x82:
            raise CodeError(Phrase(N_("length form {form}: at most 0x82 (two length bytes)"), form=f"0x{first:02X}"),
                            offset=pos, tag=tag)
        size = first & 0x7F if first & 0x80 else 0
        body = pos + 1 + size
        if body > end:
            raise CodeError(Phrase(N_("length truncated")), offset=pos, tag=tag)
        length = int.from_bytes(data[pos + 1 : body], "big") if size else first
        if body + length > end:
            raise CodeError(Phrase(N_("length {length} runs past the data ({left} bytes left)"), length=length,
                                   left=end - body),
                            offset=pos, tag=tag)
        if not data[offset] & 0x20:
            objects.append(Tlv(tag, data[body : body + length], offset=offset, length_size=size))
        elif depth == MAX_DEPTH:
            raise CodeError(Phrase(N_("templates nested deeper than {most}"), most=MAX_DEPTH), offset=offset, tag=tag)
        else:
            children = _parse(data, body, body + length, depth + 1)
            objects.append(Tlv(tag, children=children, offset=offset, length_size=size))
        pos = body + length
    return tuple(objects)


def _show(name: str, value: bytes) -> str:
    if FIELDS[name].text:
        return value.decode("ascii", "replace")
    shown = value.hex().upper()
    return shown.rstrip("F") if name == "pan" else shown


def _first(objects: tuple[Tlv, ...], tag: str) -> Tlv | None:
    return next((o for o in objects if o.tag == tag), None)


def _template_fields(template: Tlv) -> dict[str, Any]:
    """The named POI fields of a '61' or '62', and its transparent template's primitives by tag."""
    out = {}
    for name, field in FIELDS.items():
        obj = _first(template.children, field.tag)
        if obj is not None and not obj.constructed:
            out[name] = _show(name, obj.value)
    if "pan" not in out and "D" in out.get("track2", ""):
        out["pan"] = out["track2"].partition("D")[0]
    transparent = _first(template.children, TEMPLATES[template.tag])
    if transparent is not None and transparent.constructed:
        out["transparent"] = {c.tag: c.value.hex().upper() for c in transparent.children if not c.constructed}
    return out


@dataclass(frozen=True)
class CpmPayload:
    """A decoded CPM payload: its top-level BER-TLV objects, in order."""

    tree: tuple[Tlv, ...]
    kind = "emv-cpm"

    def to_bytes(self) -> bytes:
        return b"".join(o.to_bytes() for o in self.tree)

    def as_objects(self) -> list[dict[str, Any]]:
        return [o.as_dict() for o in self.tree]

    def fields(self) -> dict[str, Any]:
        """The payload's content by name (``FIELDS``); never raises, ``validate`` judges it."""
        out: dict[str, Any] = {}
        pfi = _first(self.tree, "85")
        if pfi is not None:
            out["payload_format_indicator"] = pfi.value.decode("ascii", "replace")
        out["applications"] = [_template_fields(o) for o in self.tree if o.tag == "61"]
        common = _first(self.tree, "62")
        if common is not None:
            out["common"] = _template_fields(common)
        return out

    def validate(self, strict: bool = False) -> None:
        """Raise CodeError for the first rule the payload breaks (see the module docstring)."""
        tree = self.tree
        if not tree or tree[0].tag != "85" or tree[0].value != PAYLOAD_FORMAT:
            raise CodeError(Phrase(N_('the payload must start with Payload Format Indicator "CPV01"')), offset=0, tag="85")
        apps = [o for o in tree if o.tag == "61"]
        commons = [o for o in tree if o.tag == "62"]
        if not apps:
            raise CodeError(Phrase(N_("no Application Template")), tag="61")
        if len(commons) > 1:
            raise CodeError(Phrase(N_("a second Common Data Template")), offset=commons[1].offset, tag="62")
        if strict:
            _check_layout(tree)
        for app in apps:
            _check_poi_data(app, commons[0].children if commons else (), strict)


def _check_layout(tree: tuple[Tlv, ...]) -> None:
    count = next((i for i, o in enumerate(tree[1:]) if o.tag != "61"), len(tree) - 1)
    if count > 2:
        raise CodeError(Phrase(N_("more than two Application Templates")), offset=tree[3].offset, tag="61")
    rest = tree[1 + count :]
    if rest and rest[0].tag == "62":
        rest = rest[1:]
    for obj in rest:
        if not obj.constructed or obj.tag in ("61", "62"):
            raise CodeError(
                Phrase(N_("out of place: '85', then one or two '61', then one '62', then only other templates")),
                offset=obj.offset,
                tag=obj.tag,
            )


def _check_poi_data(app: Tlv, common: tuple[Tlv, ...], strict: bool) -> None:
    seen: dict[str, Tlv] = {}
    for obj in app.children + common:
        if obj.constructed:
            continue
        if obj.tag in seen:
            raise CodeError(Phrase(N_("a tag twice in the POI data of an application (5.1.1.10)")), offset=obj.offset,
                            tag=obj.tag)
        seen[obj.tag] = obj
    if _first(app.children, "4F") is None:
        raise CodeError(Phrase(N_("Application Template without an ADF name (4F)")), offset=app.offset, tag="61")
    if "57" not in seen and "5A" not in seen:
        raise CodeError(Phrase(N_("application has neither Track 2 (57) nor PAN (5A)")), offset=app.offset, tag="61")
    for name, field in FIELDS.items():
        obj = seen.get(field.tag)
        if obj is None:
            continue
        if field.text and not obj.value.isascii():
            raise CodeError(Phrase(N_("{name} is not ASCII text"), name=name), offset=obj.offset, tag=obj.tag)
        if (strict or field.tag == "4F") and not field.low <= len(obj.value) <= field.high:
            size = f"{field.low}-{field.high}" if field.low < field.high else field.low
            raise CodeError(Phrase(N_("{name} has {count} bytes, not {size}"), name=name, count=len(obj.value), size=size),
                            offset=obj.offset, tag=obj.tag)
        shown = _show(name, obj.value)
        if strict and not re.fullmatch(field.pattern, shown):
            raise CodeError(Phrase(N_("{name} {value!r} is not in its EMV format"), name=name, value=shown),
                            offset=obj.offset, tag=obj.tag)


def decode(text: str) -> CpmPayload:
    """Read base64 ``text`` (surrounding whitespace ignored) as BER-TLV; CodeError where it breaks."""
    if not isinstance(text, str):
        raise CodeError(Phrase(N_("a CPM payload is text")))
    text = text.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise CodeError(Phrase(N_("payload of {count} characters, at most {most}"), count=len(text), most=MAX_TEXT_CHARS),
                        offset=MAX_TEXT_CHARS)
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:
        raise CodeError(Phrase(N_("payload is not RFC 4648 base64"))) from None
    if not data:
        raise CodeError(Phrase(N_("empty payload")), offset=0)
    return CpmPayload(_parse(data, 0, len(data), 0))


def parse(text: str, strict: bool = False) -> CpmPayload:
    """Decode and validate in one step."""
    payload = decode(text)
    payload.validate(strict)
    return payload


def _hex(value: Any, tag: str, pad: bool = False) -> bytes:
    """Bytes of a hex string; ``pad`` completes an odd number of digits with an F."""
    if not isinstance(value, str) or not re.fullmatch("[0-9A-Fa-f]*", value):
        raise CodeError(Phrase(N_("{value!r} is not hex"), value=value), tag=tag)
    if len(value) % 2 and not pad:
        raise CodeError(Phrase(N_("{value!r} is an odd number of hex digits"), value=value), tag=tag)
    return bytes.fromhex(value + "F" * (len(value) % 2))


def _primitive(tag: str, value: str) -> Tlv:
    """A transparent object: any primitive tag, a hex value."""
    raw = _hex(tag, str(tag))
    if not raw or _tag_end(raw, 0, len(raw)) != len(raw) or raw[0] & 0x20:
        raise CodeError(Phrase(N_("{tag!r} is not a primitive BER tag"), tag=tag), tag=str(tag))
    return Tlv(raw.hex().upper(), _hex(value, tag))


def _template(tag: str, fields: dict[str, Any]) -> Tlv:
    unknown = set(fields) - set(FIELDS) - {"transparent"}
    if unknown:
        raise CodeError(Phrase(N_("unknown CPM fields {fields}"), fields=sorted(unknown)), tag=tag)
    children = []
    for name, field in FIELDS.items():
        value = fields.get(name)
        if value is None:
            continue
        if name == "pan" and not (isinstance(value, str) and re.fullmatch("[0-9]{1,19}", value)):  # hex would pass: ABC
            raise CodeError(Phrase(N_("PAN {pan!r} is not 1-19 digits"), pan=value), tag=field.tag)
        if not field.text:
            children.append(Tlv(field.tag, _hex(value, field.tag, pad=name in ("pan", "track2"))))
        elif isinstance(value, str) and value.isascii():
            children.append(Tlv(field.tag, value.encode("ascii")))
        else:
            raise CodeError(Phrase(N_("{name} {value!r} is not ASCII text"), name=name, value=value), tag=field.tag)
    transparent = fields.get("transparent")
    if transparent is not None:
        children.append(Tlv(TEMPLATES[tag], children=tuple(_primitive(t, v) for t, v in transparent.items())))
    return Tlv(tag, children=tuple(children))


def build(applications: list[dict[str, Any]], common: dict[str, Any] | None = None) -> str:
    """Base64 CPM text from dicts shaped like ``fields()``'s applications and common data.

    Fields go in ``FIELDS`` order; PAN and track 2 get an F pad when odd; ``transparent`` maps
    primitive tags to hex values, put in a '63' (application) or '64' (common) template. The
    result is checked in lenient mode before it is returned.
    """
    tree = [Tlv("85", PAYLOAD_FORMAT), *(_template("61", app) for app in applications)]
    if common is not None:
        tree.append(_template("62", common))
    text = base64.b64encode(CpmPayload(tuple(tree)).to_bytes()).decode("ascii")
    decode(text).validate()
    return text


# --- device token presentations ------------------------------------------------------------------

SERVICE_CODE = "201"  # track 2: international, chip, normal authorisation, no restrictions
CID_ARQC = 0x80  # Cryptogram Information Data: an ARQC, online authorisation requested
_YYMM = re.compile(r"[0-9]{2}(?:0[1-9]|1[0-2])")


@dataclass(frozen=True)
class TokenPresentation:
    """One presentation of a device token: ``expiry`` is YYMM, ``atc`` the application transaction
    counter ('9F36'), ``cryptogram`` the 8-byte application cryptogram ('9F26'), ``cid`` its
    Cryptogram Information Data ('9F27'), ``aid`` the application's ADF name ('4F', hex)."""

    pan: str
    expiry: str
    atc: int
    cryptogram: bytes
    aid: str
    label: str | None = None
    cid: int = CID_ARQC


def token_presentation(presentation: TokenPresentation) -> str:
    """Base64 CPM text of a device token presentation, valid in strict mode.

    One '61' holds '4F' AID, '50' label (if any), '5A' PAN and '57' track 2 equivalent data (PAN,
    'D', expiry YYMM, service code 201), then a '63' transparent template with '5F24' expiry
    (YYMMDD, the last day of the month), '9F36' ATC, '9F26' cryptogram and '9F27' CID.
    """
    p = presentation
    if not isinstance(p.pan, str) or not re.fullmatch("[0-9]{1,19}", p.pan):
        raise CodeError(Phrase(N_("PAN {pan!r} is not 1-19 digits"), pan=p.pan), tag="5A")
    if not isinstance(p.expiry, str) or not _YYMM.fullmatch(p.expiry):
        raise CodeError(Phrase(N_("expiry {expiry!r} is not YYMM"), expiry=p.expiry), tag="5F24")
    if isinstance(p.atc, bool) or not isinstance(p.atc, int) or not 0 <= p.atc <= 0xFFFF:
        raise CodeError(Phrase(N_("ATC {atc!r} does not fit 2 bytes"), atc=p.atc), tag="9F36")
    if not isinstance(p.cryptogram, bytes) or len(p.cryptogram) != 8:
        raise CodeError(Phrase(N_("an application cryptogram is 8 bytes, not {cryptogram!r}"), cryptogram=p.cryptogram),
                        tag="9F26")
    if isinstance(p.cid, bool) or not isinstance(p.cid, int) or not 0 <= p.cid <= 0xFF:
        raise CodeError(Phrase(N_("CID {cid!r} does not fit a byte"), cid=p.cid), tag="9F27")
    last_day = calendar.monthrange(2000 + int(p.expiry[:2]), int(p.expiry[2:]))[1]
    application = {
        "aid": p.aid,
        "label": p.label,
        "pan": p.pan,
        "track2": f"{p.pan}D{p.expiry}{SERVICE_CODE}",
        "transparent": {
            "5F24": f"{p.expiry}{last_day:02d}",
            "9F36": f"{p.atc:04X}",
            "9F26": p.cryptogram.hex().upper(),
            "9F27": f"{p.cid:02X}",
        },
    }
    text = build([application])
    parse(text, strict=True)
    return text


def _token_data(template: Tlv) -> dict[str, bytes]:
    """The primitives of a '63' by tag; CodeError for a tag twice."""
    found: dict[str, bytes] = {}
    for obj in template.children:
        if obj.tag in found:
            raise CodeError(Phrase(N_("a tag twice in the transparent template")), offset=obj.offset, tag=obj.tag)
        if not obj.constructed:
            found[obj.tag] = obj.value
    return found


def _token_field(data: dict[str, bytes], tag: str, size: int, what: str, offset: int) -> bytes:
    value = data.get(tag)
    if value is None:
        raise CodeError(Phrase(N_("no {name} ({tag}) in the transparent template: not a device token presentation"),
                               name=what, tag=tag), offset=offset, tag="63")
    if len(value) != size:
        raise CodeError(Phrase(N_("{name} has {count} bytes, not {size}"), name=what, count=len(value), size=size), tag=tag)
    return value


def read_token_presentation(text: str) -> TokenPresentation:
    """The device token presentation in CPM ``text`` (its first application); CodeError where it
    breaks: not a strictly valid CPM payload, no '63' with ATC, cryptogram and CID, an expiry that
    is not a month, a CID that is not an ARQC, or a track 2 whose PAN or expiry disagree with
    '5A' or '5F24'."""
    payload = parse(text, strict=True)
    app = next(o for o in payload.tree if o.tag == "61")
    common = next((o for o in payload.tree if o.tag == "62"), None)
    poi = {o.tag: o.value for o in app.children + (common.children if common else ()) if not o.constructed}
    transparent = _first(app.children, "63")
    if transparent is None or not transparent.constructed:
        raise CodeError(Phrase(N_("no transparent template (63): not a device token presentation")), offset=app.offset,
                        tag="61")
    data = _token_data(transparent)
    atc = int.from_bytes(_token_field(data, "9F36", 2, "ATC", transparent.offset), "big")
    cryptogram = _token_field(data, "9F26", 8, Phrase(N_("application cryptogram")), transparent.offset)
    cid = _token_field(data, "9F27", 1, Phrase(N_("cryptogram information data")), transparent.offset)[0]
    if cid & 0xC0 != CID_ARQC:
        raise CodeError(Phrase(N_("cryptogram information data {cid} is not an ARQC (80): only online authorisation is "
                                  "simulated"), cid=f"{cid:02X}"), tag="9F27")
    pan = _show("pan", poi["5A"]) if "5A" in poi else None
    expiry = None
    if "5F24" in data:
        shown = data["5F24"].hex().upper()
        if len(data["5F24"]) != 3 or not _YYMM.fullmatch(shown[:4]):
            raise CodeError(Phrase(N_("expiry {expiry} is not YYMMDD"), expiry=shown), tag="5F24")
        expiry = shown[:4]
    if "57" in poi:
        track_pan, _, rest = _show("track2", poi["57"]).rstrip("F").partition("D")
        if not _YYMM.fullmatch(rest[:4]):
            raise CodeError(Phrase(N_("track 2 expiry {expiry} is not YYMM"), expiry=rest[:4]), tag="57")
        if pan is not None and track_pan != pan:
            raise CodeError(Phrase(N_("track 2 PAN {track_pan} is not the PAN {pan} of '5A'"), track_pan=track_pan,
                                   pan=pan), tag="57")
        if expiry is not None and rest[:4] != expiry:
            raise CodeError(Phrase(N_("track 2 expiry {track_expiry} is not the expiry {expiry} of '5F24'"),
                                   track_expiry=rest[:4], expiry=expiry), tag="57")
        pan, expiry = track_pan, rest[:4]
    if pan is None or expiry is None:
        raise CodeError(Phrase(N_("no expiry: neither '5F24' in the transparent template nor track 2 (57)")),
                        offset=app.offset, tag="61")
    label = poi["50"].decode("ascii") if "50" in poi else None
    aid = _first(app.children, "4F").value.hex().upper()
    return TokenPresentation(pan, expiry, atc, cryptogram, aid, label, cid)
