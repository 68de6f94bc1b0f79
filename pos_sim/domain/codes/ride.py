"""Transit ride codes: the signed QR a rider's wallet shows at a gate, and how a gate checks it offline.

A ride code is ``RC1:`` followed by the base45 text (RFC 9285) of a binary payload and its Ed25519
signature. Payload version 1, fixed-width big-endian fields (offsets in bytes)::

    0      1  version            0x01: this layout, signed with Ed25519
    1      2  key_id             the issuer key that signed it, 0-65535
    3      4  issued_at          Unix seconds, UTC (1970 to 2106)
    7      1  valid_s            how long it is good for, 1-60 seconds
    8      4  sequence           the wallet's counter of codes issued, 0-4294967295
    12     1  companions         riders travelling on this code besides its holder, 0-9
    13     1  account length L   8-16
    14     L  account            the opaque account token
    14+L  64  signature          Ed25519 over SIGNING_CONTEXT || bytes 0 to 14+L

86 to 94 bytes in all; 129 to 141 base45 characters after the 4-character prefix. The signed bytes
are prefixed with ``SIGNING_CONTEXT`` so that an issuer key's signature over a ride code can never
be taken for its signature over anything else. ``read`` checks each field's range, so every code it
returns re-encodes to the very bytes it read (base45 has one spelling per payload).

The encoding. QR versions measured with segno 1.6 at error correction M, payloads with 8-, 12- and
16-byte accounts (86-94 bytes with a 64-byte signature), real signatures; a range where the
account length matters:

====================================================  ===================  ====================
text (QR mode)                                         Ed25519 or P-256     P-256 DER signature
                                                       raw r||s (64 B)      (70-72 B)
====================================================  ===================  ====================
``RC1:`` + base45 (alphanumeric)                       **6**                6; 7 (16-byte account)
the same text forced into byte mode                    8                    8-9
``RC1:`` + base64url (byte)                            7-8                  8
``RC1:`` + the payload as decimal digits, one segment  8-9                  9
``RC1:`` alphanumeric segment + digits numeric segment 6                    6-7
the raw payload in byte mode (no text)                 6                    6
====================================================  ===================  ====================

Base45 in alphanumeric mode gives the smallest symbol of the text encodings, the same as the
mixed-segment numeric one (8.25 against 8.03 QR bits per payload byte, not enough to change a
version), without the encoder having to plan segments (any QR encoder picks alphanumeric mode for
it unprompted, where one segment of digits costs 2-3 versions), and it is what the EU Digital
COVID Certificate uses (``HC1:`` + base45). Raw bytes are no smaller and are not text: keyboard-
wedge scanners and every text path of the terminal could not carry them. Base45 never ends in a
space (a last group's top character is at most 'W'), so trimming a scan cannot cut one off.

Every ride code, 8- to 16-byte account, is a **version 6** symbol (41 x 41 modules) at level M
(version 5 at level L). Version 5 at M holds 78 bytes: 14 beside a 64-byte signature, too few for
the fields above. The QR must be made in alphanumeric mode (segno's automatic mode does it):
forced into byte mode, as ``render.qr.make`` does for payment codes, the same text needs version 8.

Ed25519 rather than ECDSA P-256: the same 64 bytes as P-256's raw r||s (so the same QR), where
DER is 70-72 bytes and variable; deterministic signatures (no per-signature random nonce to get
wrong on a phone); one fixed key and signature format. P-256's one advantage is hardware: phone
secure elements (Secure Enclave, StrongBox) sign with P-256, not Ed25519. Should the wallet sign in
one, a payload version 0x02 with raw r||s fits this layout and this QR unchanged (DER would not:
70-72 bytes, version 7 with a 16-byte account).

A gate checks a code with ``verify`` against its cached ``IssuerKeys`` (validity windows that
overlap at each rotation, and revoked key ids) and its own clock; then the account against the
``DenyList`` (``DenyList.check``). The deny list is the gate's step, not ``verify``'s: ``verify``
says whether the code is genuine and current (issuer, signature, time, what it admits); the deny
list is about the account, is updated far more often than the keys, and is only worth asking about
once the code is known to be genuine. ``KeyRing`` is the document the gates cache: both, with
``to_json`` / ``from_json``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pos_sim.domain.errors import CodeError, DomainError
from pos_sim.language import N_, Phrase

PREFIX = "RC1:"  # "RC" ride code, "1" this text form (base45 of the payload); the payload has its own version
VERSION = 0x01
ALGORITHM = "Ed25519"
SIGNING_CONTEXT = b"pos-sim ride code\x00"
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32
HEADER_BYTES = 14
ACCOUNT_BYTES = range(8, 17)
MAX_VALID_S = 60
MAX_COMPANIONS = 9
MAX_KEY_ID = 0xFFFF
MAX_SEQUENCE = 0xFFFF_FFFF
MAX_SECONDS = 0xFFFF_FFFF
DEFAULT_SKEW_S = 5
MAX_SKEW_S = 300
PAYLOAD_BYTES = range(HEADER_BYTES + ACCOUNT_BYTES.start + SIGNATURE_BYTES, HEADER_BYTES + ACCOUNT_BYTES.stop + SIGNATURE_BYTES)
MAX_TEXT_CHARS = len(PREFIX) + 3 * PAYLOAD_BYTES.stop  # far more than any ride code: stop decoding junk early

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_BASE45_VALUE = {ch: i for i, ch in enumerate(BASE45)}
_OTHER_PREFIX = re.compile(r"RC[0-9]+:")
_PUBLIC_KEY_TEXT = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]=?")  # base64url of 32 bytes, padded or not

_FIELDS = (  # name, offset, size of the fixed-width fields
    ("version", 0, 1),
    ("key_id", 1, 2),
    ("issued_at", 3, 4),
    ("valid_s", 7, 1),
    ("sequence", 8, 4),
    ("companions", 12, 1),
    ("account_length", 13, 1),
)
_OFFSET = {name: offset for name, offset, _ in _FIELDS} | {"account": HEADER_BYTES}


class KeyRingError(DomainError):
    """An issuer key, key ring document or deny list that cannot be used as such."""


_NOT_AFTER = N_("{where}: not_after {not_after} is not after not_before {not_before}")


# --- base45 (RFC 9285) -------------------------------------------------------------------------


def base45_encode(data: bytes) -> str:
    """RFC 9285 base45: each 2 bytes as 3 characters (least significant first), a last odd byte as 2."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        out += (BASE45[n % 45], BASE45[n // 45 % 45], BASE45[n // 2025])
    if len(data) % 2:
        out += (BASE45[data[-1] % 45], BASE45[data[-1] // 45])
    return "".join(out)


def base45_decode(text: str, start: int = 0) -> bytes:
    """The bytes of base45 ``text``; CodeError at the offending character (``start`` + its index)."""
    values = []
    for i, ch in enumerate(text):
        if ch not in _BASE45_VALUE:
            message = (N_("{char!r} is not a base45 character (0-9, A-Z, space, $%*+-./:) (base45 is upper case)")
                       if ch.upper() in _BASE45_VALUE else N_("{char!r} is not a base45 character (0-9, A-Z, space, $%*+-./:)"))
            raise CodeError(Phrase(message, char=ch), offset=start + i)
        values.append(_BASE45_VALUE[ch])
    if len(values) % 3 == 1:
        raise CodeError(
            Phrase(N_("{count} base45 characters: they come in groups of 3 and a last group of 2, so one is left over"
                      " (a character lost or added)"), count=len(values)),
            offset=start + len(values) - 1,
        )
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i : i + 3]
        n = sum(v * 45**j for j, v in enumerate(group))
        top = 0xFFFF if len(group) == 3 else 0xFF
        if n > top:
            raise CodeError(Phrase(N_("base45 group {group!r} is {value}, over {top}: not the base45 of any bytes"),
                                   group=text[i : i + 3], value=n, top=top), offset=start + i)
        out += n.to_bytes(len(group) - 1, "big")
    return bytes(out)


# --- the code ----------------------------------------------------------------------------------


def _int_in(value: object, low: int, high: int, name: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CodeError(Phrase(N_("{what} {value!r} is not {low}-{high}"), what=what, value=value, low=low, high=high),
                        offset=_OFFSET[name], tag=name)
    return value


def _utc(value: object, name: str, error: type[DomainError] = DomainError) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise error(Phrase(N_("{name} {value!r} must be an aware datetime (with a UTC offset)"), name=name, value=value))
    return value.astimezone(UTC)


@dataclass(frozen=True)
class RideCode:
    """What a ride code says: who (``account``) may ride, from when, for how long, with how many.

    ``issued_at`` is any aware datetime of whole seconds from 1970 to 2106 (kept in UTC);
    ``account`` 8-16 bytes, shown as hex.
    """

    key_id: int
    account: bytes
    issued_at: datetime
    valid_s: int
    sequence: int
    companions: int = 0

    def __post_init__(self) -> None:
        _int_in(self.key_id, 0, MAX_KEY_ID, "key_id", Phrase(N_("issuer key id")))
        if not isinstance(self.account, bytes) or len(self.account) not in ACCOUNT_BYTES:
            low, high = ACCOUNT_BYTES.start, ACCOUNT_BYTES.stop - 1
            said = (Phrase(N_("an account token is {low}-{high} bytes, got {count} bytes"), low=low, high=high,
                           count=len(self.account)) if isinstance(self.account, bytes)
                    else Phrase(N_("an account token is {low}-{high} bytes, got {type}"), low=low, high=high,
                                type=type(self.account).__name__))
            raise CodeError(said, offset=_OFFSET["account"], tag="account")
        if not isinstance(self.issued_at, datetime) or self.issued_at.tzinfo is None or self.issued_at.utcoffset() is None:
            raise CodeError(Phrase(N_("issue time {time!r} must be an aware datetime (with a UTC offset)"), time=self.issued_at),
                            tag="issued_at")
        if self.issued_at.microsecond:
            raise CodeError(Phrase(N_("issue time {time} is not a whole second"), time=self.issued_at.isoformat()), tag="issued_at")
        issued = self.issued_at.astimezone(UTC)
        object.__setattr__(self, "issued_at", issued)
        _int_in(int(issued.timestamp()), 0, MAX_SECONDS, "issued_at", Phrase(N_("issue time (Unix seconds)")))
        _int_in(self.valid_s, 1, MAX_VALID_S, "valid_s", Phrase(N_("validity (seconds)")))
        _int_in(self.sequence, 0, MAX_SEQUENCE, "sequence", Phrase(N_("sequence number")))
        _int_in(self.companions, 0, MAX_COMPANIONS, "companions", Phrase(N_("companion count")))

    @property
    def expires_at(self) -> datetime:
        """The end of the code's validity, before any allowance for clock skew."""
        return self.issued_at + timedelta(seconds=self.valid_s)

    @property
    def riders(self) -> int:
        """The holder and the companions."""
        return 1 + self.companions

    def to_bytes(self) -> bytes:
        """The signed part of the payload: version 1's header and the account (the module docstring)."""
        return b"".join((
            VERSION.to_bytes(1, "big"),
            self.key_id.to_bytes(2, "big"),
            int(self.issued_at.timestamp()).to_bytes(4, "big"),
            self.valid_s.to_bytes(1, "big"),
            self.sequence.to_bytes(4, "big"),
            self.companions.to_bytes(1, "big"),
            len(self.account).to_bytes(1, "big"),
            self.account,
        ))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class SignedRideCode:
    """A ride code as read from its text: the code, the exact bytes signed, and the signature.

    Read, not verified: ``verify`` (with the gate's keys and clock) says whether it is good.
    """

    kind: ClassVar[str] = "ride-code"
    code: RideCode
    signed: bytes  # payload bytes 0 to 14+L, as read
    signature: bytes

    @property
    def text(self) -> str:
        """The QR text: ``RC1:`` and the base45 of payload and signature."""
        return PREFIX + base45_encode(self.signed + self.signature)

    def fields(self) -> dict[str, Any]:
        code = self.code
        return {
            "version": VERSION,
            "algorithm": ALGORITHM,
            "key_id": code.key_id,
            "account": code.account.hex(),
            "issued_at": _iso(code.issued_at),
            "valid_s": code.valid_s,
            "expires_at": _iso(code.expires_at),
            "sequence": code.sequence,
            "companions": code.companions,
            "signature": "not verified (a gate verifies it with the issuer key ring)",
        }

    def as_objects(self) -> list[dict[str, Any]]:
        """Each field of the payload, at its byte offset, its bytes in hex."""
        data = self.signed + self.signature
        spans = [(name, offset, offset + size) for name, offset, size in _FIELDS]
        spans += [("account", HEADER_BYTES, len(self.signed)), ("signature", len(self.signed), len(data))]
        return [{"name": name, "offset": start, "value": data[start:end].hex()} for name, start, end in spans]

    def validate(self, strict: bool = False) -> None:
        """Nothing beyond ``read`` (every field's range), in both modes: signature and time are ``verify``'s."""


def sign(code: RideCode, private_key: Ed25519PrivateKey) -> str:
    """The QR text of ``code`` signed with the issuer's ``private_key`` (the key ``code.key_id`` names)."""
    if not isinstance(code, RideCode):
        raise DomainError(f"sign takes a RideCode, not {type(code).__name__}")
    if not isinstance(private_key, Ed25519PrivateKey):
        raise KeyRingError(Phrase(N_("a ride code is signed with an Ed25519 private key, not {type}"), type=type(private_key).__name__))
    signed = code.to_bytes()
    return PREFIX + base45_encode(signed + private_key.sign(SIGNING_CONTEXT + signed))


def read(text: str) -> SignedRideCode:
    """The ride code in ``text`` (``RC1:`` + base45), unverified; CodeError for anything malformed.

    Offsets: characters of ``text`` for the prefix and base45, bytes of the payload after that
    (the error's tag then names the field).
    """
    if not isinstance(text, str):
        raise CodeError(Phrase(N_("a ride code is text, not {type}"), type=type(text).__name__))
    if not text.startswith(PREFIX):
        if other := _OTHER_PREFIX.match(text):
            raise CodeError(Phrase(N_("ride code text form {form!r} is unknown: this reader knows {known!r}"), form=other.group(),
                                   known=PREFIX), offset=0)
        raise CodeError(Phrase(N_("not a ride code: it starts {start!r}, a ride code starts {prefix!r}"),
                               start=text[:len(PREFIX)], prefix=PREFIX), offset=0)
    if len(text) > MAX_TEXT_CHARS:
        raise CodeError(Phrase(N_("{count} characters: far longer than a ride code"), count=len(text)), offset=MAX_TEXT_CHARS)
    if len(text) == len(PREFIX):
        raise CodeError(Phrase(N_("nothing after {prefix!r}"), prefix=PREFIX), offset=len(PREFIX))
    data = base45_decode(text[len(PREFIX):], start=len(PREFIX))
    if data[0] != VERSION:
        raise CodeError(Phrase(N_("unknown ride code payload version {version}: this reader knows {known}"),
                               version=f"0x{data[0]:02X}", known=f"0x{VERSION:02X}"),
                        offset=0, tag="version")
    if len(data) < HEADER_BYTES:
        raise CodeError(Phrase(N_("payload is {count} bytes, shorter than its {header}-byte header (a version 1 ride code is "
                                  "{low}-{high} bytes)"), count=len(data), header=HEADER_BYTES, low=PAYLOAD_BYTES.start,
                               high=PAYLOAD_BYTES.stop - 1), offset=len(data))
    account_length = data[_OFFSET["account_length"]]
    if account_length not in ACCOUNT_BYTES:
        raise CodeError(Phrase(N_("account length {length} is not {low}-{high}"), length=account_length,
                               low=ACCOUNT_BYTES.start, high=ACCOUNT_BYTES.stop - 1),
                        offset=_OFFSET["account_length"], tag="account_length")
    expected = HEADER_BYTES + account_length + SIGNATURE_BYTES
    if len(data) != expected:
        raise CodeError(Phrase(N_("payload is {count} bytes; with a {length}-byte account it must be {expected} ({header} "
                                  "header, {length} account, {signature} signature)"), count=len(data),
                               length=account_length, expected=expected, header=HEADER_BYTES, signature=SIGNATURE_BYTES),
                        offset=min(len(data), expected))
    signed, signature = data[: HEADER_BYTES + account_length], data[HEADER_BYTES + account_length :]
    field_of = {name: int.from_bytes(data[offset : offset + size], "big") for name, offset, size in _FIELDS}
    # RideCode checks each range, naming the field and its offset; the time is in range by construction.
    code = RideCode(
        key_id=field_of["key_id"],
        account=data[HEADER_BYTES : HEADER_BYTES + account_length],
        issued_at=datetime.fromtimestamp(field_of["issued_at"], UTC),
        valid_s=field_of["valid_s"],
        sequence=field_of["sequence"],
        companions=field_of["companions"],
    )
    return SignedRideCode(code, signed, signature)


decode = read  # the name every format module of pos_sim.domain.codes offers


# --- issuer keys ---------------------------------------------------------------------------------


def _raw_public(key: object) -> bytes:
    if isinstance(key, Ed25519PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if isinstance(key, bytes) and len(key) == PUBLIC_KEY_BYTES:
        return key
    shown = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
    raise KeyRingError(Phrase(N_("an issuer public key is an Ed25519 public key or its {size} raw bytes, not {shown}"),
                              size=PUBLIC_KEY_BYTES, shown=shown))


@dataclass(frozen=True)
class IssuerKey:
    """An issuer's public key (kept as its 32 raw Ed25519 bytes; an Ed25519PublicKey is accepted) and
    the window in which it signs: codes issued from ``not_before`` up to (not at) ``not_after``."""

    key_id: int
    public_key: bytes
    not_before: datetime
    not_after: datetime

    def __post_init__(self) -> None:
        if isinstance(self.key_id, bool) or not isinstance(self.key_id, int) or not 0 <= self.key_id <= MAX_KEY_ID:
            raise KeyRingError(Phrase(N_("issuer key id {key_id!r} is not 0-{most}"), key_id=self.key_id, most=MAX_KEY_ID))
        object.__setattr__(self, "public_key", _raw_public(self.public_key))
        object.__setattr__(self, "not_before", _utc(self.not_before, "not_before", KeyRingError))
        object.__setattr__(self, "not_after", _utc(self.not_after, "not_after", KeyRingError))
        if self.not_after <= self.not_before:
            raise KeyRingError(Phrase(_NOT_AFTER, where=Phrase(N_("issuer key {key_id}"), key_id=self.key_id),
                                      not_after=_iso(self.not_after), not_before=_iso(self.not_before)))

    def covers(self, when: datetime) -> bool:
        """Whether the key signs codes issued at ``when``."""
        return self.not_before <= _utc(when, "when") < self.not_after

    def verifier(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)


def generate_key_pair(key_id: int, not_before: datetime, not_after: datetime) -> tuple[Ed25519PrivateKey, IssuerKey]:
    """A new issuer key: the private key the wallet's issuer keeps, the public ``IssuerKey`` gates get."""
    private_key = Ed25519PrivateKey.generate()
    return private_key, IssuerKey(key_id, private_key.public_key(), not_before, not_after)  # type: ignore[arg-type]


def private_key_pem(private_key: Ed25519PrivateKey) -> str:
    """The issuer's private key as unencrypted PKCS#8 PEM, to store it (never to hand it out)."""
    if not isinstance(private_key, Ed25519PrivateKey):
        raise KeyRingError(Phrase(N_("an Ed25519 private key was expected, not {type}"), type=type(private_key).__name__))
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode("ascii")


def load_private_key(pem: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PKCS#8 PEM; KeyRingError for anything else."""
    if not isinstance(pem, str) or "-----BEGIN" not in pem:
        raise KeyRingError(Phrase(N_("an issuer private key is PKCS#8 PEM text (-----BEGIN PRIVATE KEY-----)")))
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except TypeError:
        raise KeyRingError(Phrase(N_("an encrypted (passphrase-protected) key; store the issuer key without a passphrase"))) from None
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm):
        raise KeyRingError(Phrase(N_("not a PEM private key"))) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyRingError(Phrase(N_("not an Ed25519 key ({type}); ride codes are signed with Ed25519"), type=type(key).__name__))
    return key


@dataclass(frozen=True)
class IssuerKeys:
    """The issuer keys a gate trusts, by key id, and the ids of revoked keys.

    At a rotation the new key's window opens before the old one's closes: in the overlap gates
    take codes of both, and the issuer signs with the new one (``current``).
    """

    keys: tuple[IssuerKey, ...] = ()
    revoked: frozenset[int] = frozenset()
    _by_id: Mapping[int, IssuerKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = tuple(sorted(self.keys, key=lambda key: key.key_id))
        by_id: dict[int, IssuerKey] = {}
        for key in keys:
            if not isinstance(key, IssuerKey):
                raise KeyRingError(Phrase(N_("issuer keys are IssuerKey values, not {type}"), type=type(key).__name__))
            if key.key_id in by_id:
                raise KeyRingError(Phrase(N_("issuer key id {key_id} is given twice"), key_id=key.key_id))
            by_id[key.key_id] = key
        revoked = frozenset(self.revoked)
        for key_id in revoked:
            if isinstance(key_id, bool) or not isinstance(key_id, int) or not 0 <= key_id <= MAX_KEY_ID:
                raise KeyRingError(Phrase(N_("revoked key id {key_id!r} is not 0-{most}"), key_id=key_id, most=MAX_KEY_ID))
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "revoked", revoked)
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))

    def get(self, key_id: int) -> IssuerKey | None:
        return self._by_id.get(key_id)

    def current(self, when: datetime) -> IssuerKey | None:
        """The key to sign with at ``when``: of the unrevoked keys covering it, the newest."""
        usable = [key for key in self.keys if key.key_id not in self.revoked and key.covers(when)]
        return max(usable, key=lambda key: (key.not_before, key.key_id), default=None)


# --- the verdict ---------------------------------------------------------------------------------


class Reason(StrEnum):
    OK = "ok"
    UNKNOWN_KEY = "unknown-key"
    REVOKED_KEY = "revoked-key"
    BAD_SIGNATURE = "bad-signature"
    KEY_NOT_VALID = "key-not-valid"
    NOT_YET_VALID = "not-yet-valid"
    EXPIRED = "expired"
    TOO_MANY_COMPANIONS = "too-many-companions"
    DENIED_ACCOUNT = "denied-account"


@dataclass(frozen=True)
class Verdict:
    """A gate's answer: ``reason`` for machines (journal, reports), ``message`` for the rider."""

    reason: Reason
    message: str

    @property
    def ok(self) -> bool:
        return self.reason is Reason.OK


def verify(signed: SignedRideCode, keys: IssuerKeys, now: datetime, *, skew_s: int = DEFAULT_SKEW_S,
           max_companions: int = MAX_COMPANIONS) -> Verdict:
    """Whether ``signed`` is a genuine ride code, current by the gate's clock ``now``.

    In order: the key is not revoked and is known; the signature holds (only then are the fields
    trusted); the key was in its window at the issue time; the code was not issued more than
    ``skew_s`` ahead of ``now``, nor ran out (``issued_at + valid_s + skew_s``) before ``now``;
    it brings no more than ``max_companions`` (the gate's own limit, up to MAX_COMPANIONS).
    The account's deny list is the gate's next step: ``DenyList.check``.
    """
    if not isinstance(signed, SignedRideCode):
        raise DomainError(f"verify takes a SignedRideCode (from read), not {type(signed).__name__}")
    if not isinstance(keys, IssuerKeys):
        raise DomainError(f"verify takes IssuerKeys, not {type(keys).__name__}")
    now = _utc(now, "now")
    if isinstance(skew_s, bool) or not isinstance(skew_s, int) or not 0 <= skew_s <= MAX_SKEW_S:
        raise DomainError(f"clock skew allowance {skew_s!r} is not 0-{MAX_SKEW_S} seconds")
    if isinstance(max_companions, bool) or not isinstance(max_companions, int) or not 0 <= max_companions <= MAX_COMPANIONS:
        raise DomainError(f"companion limit {max_companions!r} is not 0-{MAX_COMPANIONS}")
    code = signed.code
    if code.key_id in keys.revoked:
        return Verdict(Reason.REVOKED_KEY, Phrase(N_("Ride code not accepted: it was signed with issuer key {key}, which "
                                                     "has been withdrawn. Update your wallet app and show a new code."),
                                                  key=code.key_id))
    key = keys.get(code.key_id)
    if key is None:
        return Verdict(Reason.UNKNOWN_KEY, Phrase(N_("Ride code not recognised: this gate does not know issuer key {key}. "
                                                     "Show a new code; if it happens again, ask staff."), key=code.key_id))
    try:
        key.verifier().verify(signed.signature, SIGNING_CONTEXT + signed.signed)
    except InvalidSignature:
        return Verdict(Reason.BAD_SIGNATURE, N_("Ride code not genuine: its signature does not match. Show the code from "
                                                "your wallet app."))
    if not key.covers(code.issued_at):
        return Verdict(Reason.KEY_NOT_VALID, Phrase(N_("Ride code not accepted: issuer key {key} signs codes from {start} "
                                                       "to {end}, not at {issued}. Update your wallet app."), key=code.key_id,
                                                    start=_iso(key.not_before), end=_iso(key.not_after),
                                                    issued=_iso(code.issued_at)))
    ahead = (code.issued_at - now).total_seconds()
    if ahead > skew_s:
        return Verdict(Reason.NOT_YET_VALID, Phrase(N_("Ride code not valid yet: issued {seconds} s ahead of the gate's "
                                                       "clock. Check the time on your phone."), seconds=f"{ahead:.0f}"))
    late = (now - code.expires_at).total_seconds()
    if late > skew_s:
        return Verdict(Reason.EXPIRED, Phrase(N_("Ride code expired {seconds} s ago (it is good for {valid} s). "
                                                 "Show a fresh code."), seconds=f"{late:.0f}", valid=code.valid_s))
    if code.companions > max_companions:
        return Verdict(Reason.TOO_MANY_COMPANIONS, Phrase(N_("Ride code is for {riders} riders; this gate lets through "
                                                             "at most {most} on one code."), riders=code.riders,
                                                          most=1 + max_companions))
    return Verdict(Reason.OK, Phrase(N_("Have a good trip ({riders} riders)."), riders=code.riders) if code.companions
                   else N_("Have a good trip."))


# --- deny list and key ring ------------------------------------------------------------------------


@dataclass(frozen=True)
class DenyList:
    """Accounts whose ride codes gates refuse (lost phone, fraud, unpaid fares), checked by the gate
    after ``verify`` says the code is good."""

    accounts: frozenset[bytes] = frozenset()

    def __post_init__(self) -> None:
        accounts = frozenset(self.accounts)
        for account in accounts:
            if not isinstance(account, bytes) or len(account) not in ACCOUNT_BYTES:
                raise KeyRingError(Phrase(N_("a denied account is {low}-{high} bytes, not {account!r}"), low=ACCOUNT_BYTES.start,
                                          high=ACCOUNT_BYTES.stop - 1, account=account))
        object.__setattr__(self, "accounts", accounts)

    def __contains__(self, account: object) -> bool:
        return account in self.accounts

    def __len__(self) -> int:
        return len(self.accounts)

    def check(self, code: RideCode | SignedRideCode) -> Verdict:
        """OK, or DENIED_ACCOUNT: call it only on a code ``verify`` passed."""
        ride = code.code if isinstance(code, SignedRideCode) else code
        if ride.account in self.accounts:
            return Verdict(Reason.DENIED_ACCOUNT, N_("This account cannot travel on ride codes at the moment. "
                                                     "Please contact customer service."))
        return Verdict(Reason.OK, N_("Account in good standing."))


FORMAT = "pos-sim-ride-key-ring"
FORMAT_VERSION = 1
_DOCUMENT_FIELDS = {"format", "version", "published_at", "keys", "revoked", "deny"}
_KEY_FIELDS = {"key_id", "algorithm", "public_key", "not_before", "not_after"}


@dataclass(frozen=True)
class KeyRing:
    """What gates cache and use offline: the issuer keys, the revoked key ids, the deny list, and when
    it was published (a gate keeps the newest it has seen).

    JSON document (``to_json``)::

        {"format": "pos-sim-ride-key-ring", "version": 1, "published_at": "2025-06-01T00:00:00Z",
         "keys": [{"key_id": 1, "algorithm": "Ed25519", "public_key": "<base64url of 32 bytes>",
                   "not_before": "2025-01-01T00:00:00Z", "not_after": "2025-07-01T00:00:00Z"}],
         "revoked": [0], "deny": ["<account hex>"]}

    Unknown members are refused rather than ignored: a misspelt "revoked" must not pass as no
    revocations.
    """

    keys: IssuerKeys
    deny: DenyList
    published_at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.keys, IssuerKeys) or not isinstance(self.deny, DenyList):
            raise KeyRingError(Phrase(N_("a key ring holds IssuerKeys and a DenyList")))
        object.__setattr__(self, "published_at", _utc(self.published_at, "published_at", KeyRingError))

    def to_document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "published_at": _iso(self.published_at),
            "keys": [
                {"key_id": key.key_id, "algorithm": ALGORITHM,
                 "public_key": base64.urlsafe_b64encode(key.public_key).decode("ascii").rstrip("="),
                 "not_before": _iso(key.not_before), "not_after": _iso(key.not_after)}
                for key in self.keys.keys
            ],
            "revoked": sorted(self.keys.revoked),
            "deny": sorted(account.hex() for account in self.deny.accounts),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_document(), indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> KeyRing:
        """The key ring in a JSON document; KeyRingError naming the member at fault."""
        try:
            document = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise KeyRingError(Phrase(N_("key ring is not JSON: {problem}"), problem=str(exc))) from None
        except TypeError:
            raise KeyRingError(Phrase(N_("a key ring document is JSON text, not {type}"), type=type(text).__name__)) from None
        return cls.from_document(document)

    @classmethod
    def from_document(cls, document: object) -> KeyRing:
        _members(document, _DOCUMENT_FIELDS, "key ring")
        assert isinstance(document, dict)
        if document["format"] != FORMAT:
            raise KeyRingError(Phrase(N_("format: {format!r} is not {expected!r}"), format=document["format"], expected=FORMAT))
        if document["version"] != FORMAT_VERSION or isinstance(document["version"], bool):
            raise KeyRingError(Phrase(N_("version: {version!r} is unknown (this reader knows {known})"), version=document["version"],
                                      known=FORMAT_VERSION))
        published_at = _when(document["published_at"], "published_at")
        keys = [_issuer_key(entry, f"keys[{i}]") for i, entry in enumerate(_list(document["keys"], "keys"))]
        revoked = set()
        for i, key_id in enumerate(_list(document["revoked"], "revoked")):
            if isinstance(key_id, bool) or not isinstance(key_id, int) or not 0 <= key_id <= MAX_KEY_ID:
                raise KeyRingError(Phrase(N_("revoked[{index}]: {key_id!r} is not a key id 0-{most}"), index=i, key_id=key_id,
                                          most=MAX_KEY_ID))
            revoked.add(key_id)
        deny = set()
        for i, account in enumerate(_list(document["deny"], "deny")):
            try:
                raw = bytes.fromhex(account) if isinstance(account, str) else None
            except ValueError:
                raw = None
            if raw is None or len(raw) not in ACCOUNT_BYTES:
                raise KeyRingError(Phrase(N_("deny[{index}]: {account!r} is not an account token ({low}-{high} bytes in hex)"),
                                          index=i, account=account, low=ACCOUNT_BYTES.start, high=ACCOUNT_BYTES.stop - 1))
            deny.add(raw)
        seen: set[int] = set()
        for i, key in enumerate(keys):
            if key.key_id in seen:
                raise KeyRingError(Phrase(N_("keys[{index}].key_id: key id {key_id} is given twice"), index=i, key_id=key.key_id))
            seen.add(key.key_id)
        return cls(IssuerKeys(tuple(keys), frozenset(revoked)), DenyList(frozenset(deny)), published_at)


def _members(document: object, names: set[str], what: str) -> None:
    if not isinstance(document, dict):
        raise KeyRingError(Phrase(N_("{where}: a JSON object was expected, not {type}"), where=what, type=type(document).__name__))
    if missing := sorted(names - document.keys()):
        raise KeyRingError(Phrase(N_("{where}: missing {names}"), where=what, names=", ".join(missing)))
    if unknown := sorted(document.keys() - names):
        raise KeyRingError(Phrase(N_("{where}: unknown member {unknown} (expected {names})"), where=what,
                                  unknown=", ".join(map(repr, unknown)), names=", ".join(sorted(names))))


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise KeyRingError(Phrase(N_("{where}: a JSON array was expected, not {type}"), where=where, type=type(value).__name__))
    return value


def _when(value: object, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise KeyRingError(Phrase(N_("{where}: {value!r} is not an ISO 8601 time with a UTC offset (e.g. 2025-06-01T00:00:00Z)"),
                                  where=where, value=value))
    return when.astimezone(UTC)


def _issuer_key(entry: object, where: str) -> IssuerKey:
    _members(entry, _KEY_FIELDS, where)
    assert isinstance(entry, dict)
    key_id = entry["key_id"]
    if isinstance(key_id, bool) or not isinstance(key_id, int) or not 0 <= key_id <= MAX_KEY_ID:
        raise KeyRingError(Phrase(N_("{where}.key_id: {key_id!r} is not 0-{most}"), where=where, key_id=key_id, most=MAX_KEY_ID))
    if entry["algorithm"] != ALGORITHM:
        raise KeyRingError(Phrase(N_("{where}.algorithm: {algorithm!r} is not supported (ride codes use {expected})"), where=where,
                                  algorithm=entry["algorithm"], expected=ALGORITHM))
    text = entry["public_key"]
    if not isinstance(text, str) or not _PUBLIC_KEY_TEXT.fullmatch(text):
        raise KeyRingError(Phrase(N_("{where}.public_key: not the base64url of a {size}-byte Ed25519 public key"), where=where,
                                  size=PUBLIC_KEY_BYTES))
    not_before = _when(entry["not_before"], f"{where}.not_before")
    not_after = _when(entry["not_after"], f"{where}.not_after")
    if not_after <= not_before:
        raise KeyRingError(Phrase(_NOT_AFTER, where=where, not_after=_iso(not_after), not_before=_iso(not_before)))
    return IssuerKey(key_id, base64.urlsafe_b64decode(text.rstrip("=") + "="), not_before, not_after)

