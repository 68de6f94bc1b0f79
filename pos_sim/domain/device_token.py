"""A phone wallet's device token (what a wallet like Apple Pay holds in place of the account): its
token PAN, its expiry, and the application cryptogram that each presentation (each NFC tap) carries.

Token PAN: an issuer identification number (the token BIN), account digits, then a Luhn check digit
(ISO/IEC 7812-1); 16 to 19 digits. Expiry: ``YYMM`` (years 2000-2099); a token is good through the
last day of that month, UTC.

The application cryptogram is modelled on EMV's ARQC (EMV Book 2, 8.1 and Annex A1.3) and is what
this simulator verifies; real cards use issuer-specific session keys (3DES or AES) and MAC the
CDOL1 data (amount, currency, the terminal's unpredictable number...). Here, for a token with the
16-byte master key MK, at application transaction counter ATC (2 bytes, 0-65535):

1. session key ``SK = AES-128(MK)[ATC || 'F0' || '00' * 13]``: EMV's common session key derivation
   (A1.3.1) for a key one block long: the diversification value is the ATC padded with zeros to a
   16-byte block, its third byte set to 'F0';
2. cryptogram = the first 8 bytes of ``AES-CMAC(SK)`` (NIST SP 800-38B, ISO/IEC 9797-1 MAC
   algorithm 5) over the presentation data, 12 to 14 bytes (``presentation_data``):

   - PAN: its digits in BCD, an F pad when odd, as in tag '5A' (8 to 10 bytes);
   - expiry: ``YYMM`` in BCD (2 bytes);
   - ATC: big-endian (2 bytes), as in tag '9F36'.

   The PAN takes what is left before the last 4 bytes, so the input reads one way only.

No amount and no terminal challenge go in: the simulated phone taps before it is told the amount, so
a captured presentation is bound to nothing but its counter, and the issuer's rule that every ATC
is above the last one seen is what stops a replay.
"""

from __future__ import annotations

import hmac
import re
from datetime import date

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from pos_sim.domain.errors import CodeError, DomainError

KEY_BYTES = 16
CRYPTOGRAM_BYTES = 8
MAX_ATC = 0xFFFF
PAN_DIGITS = range(16, 20)

_DIGITS = re.compile(r"[0-9]+")
_EXPIRY = re.compile(r"([0-9]{2})(0[1-9]|1[0-2])")


# --- token PAN ----------------------------------------------------------------------------------


def luhn_digit(digits: str) -> str:
    """The Luhn check digit that completes ``digits`` (ISO/IEC 7812-1, annex B)."""
    if not _DIGITS.fullmatch(digits):
        raise CodeError(f"{digits!r}: a card number has digits only")
    total = 0
    for i, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if i % 2 == 0 else 1)  # from the right, every other digit doubled, first included
        total += value - 9 if value > 9 else value
    return str(-total % 10)


def luhn_valid(number: str) -> bool:
    """Whether the last digit of ``number`` is the Luhn check digit of the others."""
    return bool(_DIGITS.fullmatch(number)) and len(number) > 1 and luhn_digit(number[:-1]) == number[-1]


def token_pan(token_bin: str, account: str) -> str:
    """The token PAN ``token_bin + account + check digit``; CodeError unless 16-19 digits in all."""
    number = token_bin + account
    if not _DIGITS.fullmatch(number):
        raise CodeError(f"token BIN {token_bin!r} and account digits {account!r}: digits only", tag="5A")
    if len(number) + 1 not in PAN_DIGITS:
        raise CodeError(f"a token PAN has {PAN_DIGITS.start}-{PAN_DIGITS.stop - 1} digits, this one would have {len(number) + 1}", tag="5A")
    return number + luhn_digit(number)


# --- expiry ---------------------------------------------------------------------------------


def expiry_month(expiry: str) -> tuple[int, int]:
    """The (year, month) of a ``YYMM`` expiry; CodeError if it is not one."""
    found = _EXPIRY.fullmatch(expiry) if isinstance(expiry, str) else None
    if found is None:
        raise CodeError(f"expiry {expiry!r} is not YYMM with a month 01-12", tag="5F24")
    return 2000 + int(found[1]), int(found[2])


def expiry_after(today: date, years: int) -> str:
    """The ``YYMM`` expiry ``years`` after ``today``'s month."""
    year = today.year + years
    if not 2000 <= year <= 2099:
        raise CodeError(f"{year}: a YYMM expiry holds the years 2000-2099", tag="5F24")
    return f"{year % 100:02d}{today.month:02d}"


def is_expired(expiry: str, on: date) -> bool:
    """Whether a token of this ``YYMM`` expiry is no longer good ``on`` that day (past its month)."""
    return (on.year, on.month) > expiry_month(expiry)


# --- the application cryptogram ---------------------------------------------------------------


def _atc(atc: object) -> int:
    if isinstance(atc, bool) or not isinstance(atc, int) or not 0 <= atc <= MAX_ATC:
        raise CodeError(f"ATC {atc!r} is not a counter of 0-{MAX_ATC}", tag="9F36")
    return atc


def _key(master_key: object) -> bytes:
    if not isinstance(master_key, bytes) or len(master_key) != KEY_BYTES:
        shown = f"{len(master_key)} bytes" if isinstance(master_key, bytes) else type(master_key).__name__
        raise DomainError(f"a token master key is {KEY_BYTES} bytes (AES-128), got {shown}")
    return master_key


def session_key(master_key: bytes, atc: int) -> bytes:
    """The 16-byte session key of one presentation: ``AES-128(MK)[ATC || 'F0' || '00' * 13]``."""
    block = _atc(atc).to_bytes(2, "big") + b"\xf0" + bytes(13)
    encryptor = Cipher(algorithms.AES(_key(master_key)), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def presentation_data(pan: str, expiry: str, atc: int) -> bytes:
    """What the cryptogram is a MAC of: PAN (BCD, F-padded) || expiry YYMM (BCD) || ATC (2 bytes)."""
    if not isinstance(pan, str) or not _DIGITS.fullmatch(pan) or len(pan) not in PAN_DIGITS:
        raise CodeError(f"PAN {pan!r} is not {PAN_DIGITS.start}-{PAN_DIGITS.stop - 1} digits", tag="5A")
    expiry_month(expiry)
    return bytes.fromhex(pan + "F" * (len(pan) % 2)) + bytes.fromhex(expiry) + _atc(atc).to_bytes(2, "big")


def cryptogram(master_key: bytes, pan: str, expiry: str, atc: int) -> bytes:
    """The 8-byte application cryptogram of the presentation of ``pan``/``expiry`` at counter ``atc``."""
    mac = CMAC(algorithms.AES(session_key(master_key, atc)))
    mac.update(presentation_data(pan, expiry, atc))
    return mac.finalize()[:CRYPTOGRAM_BYTES]


def verify(master_key: bytes, pan: str, expiry: str, atc: int, presented: bytes) -> bool:
    """Whether ``presented`` is the cryptogram of this presentation (compared in constant time)."""
    return hmac.compare_digest(cryptogram(master_key, pan, expiry, atc), presented)
