"""Phone wallet device tokens (the "Apple Pay on Alipay" case): a token PAN bound to a wallet, which
the phone presents at an NFC tap as an EMVCo consumer-presented payload, and the terminal sends as
the payment code of a PaymentCode pay.

``provision`` binds a new token to a wallet and hands the phone what it needs to present it: PAN,
expiry and master key (a real issuer never lets the key out; this is a simulator). ``tap`` is the
phone's side of one tap: the next application transaction counter (ATC) and its cryptogram, as base64
CPM text. ``take`` is the issuer's side, inside the pay's transaction: it reads the presentation,
finds the token by PAN, refuses an expired token (EXPIRED_CODE), a cryptogram that does not verify
(domain/device_token.py) and an ATC not above the last one seen (INVALID_CODE), then moves the
token's counter up and gives the wallet to charge. A presentation is used once whatever becomes of
the pay, as a one-time payment code is.

Token PANs are 16 digits: the token BIN ``99990001`` (MII 9, national use: outside every card
scheme's range, so no simulated token looks like a real card), 7 random digits, a Luhn check digit.
Tokens expire ``TOKEN_YEARS`` after the month they are provisioned in.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

from pos_sim.backend.protocol import Refused
from pos_sim.backend.store.database import Store, Tx
from pos_sim.backend.store.errors import Duplicate
from pos_sim.domain import device_token
from pos_sim.domain.codes import emv_cpm
from pos_sim.domain.codes.emv_cpm import TokenPresentation
from pos_sim.domain.errors import CodeError

TOKEN_BIN = "99990001"
TOKEN_AID = "F0504F5353494D01"  # 'F': a proprietary, unregistered AID (ISO/IEC 7816-5); "POSSIM", 01
TOKEN_LABEL = "SIMWALLET"
TOKEN_YEARS = 3
_PAN_TRIES = 5  # 10**7 account numbers: a clash is rare, several in a row mean the range is full


def is_presentation(code: str) -> bool:
    """Whether a payment code is a CPM payload (a device token's tap), not a one-time wallet code."""
    return isinstance(code, str) and code.startswith(emv_cpm.PREFIX)


def _masked(pan: str) -> str:
    """A PAN as it may be shown: the first six and last four digits."""
    return pan[:6] + "*" * max(len(pan) - 10, 0) + pan[-4:]


class DeviceTokens:
    """The device tokens of one backend, over its store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def provision(self, wallet_id: str) -> dict[str, Any]:
        """A new token bound to the wallet: its id, PAN, YYMM expiry and hex master key, counter 0."""
        expiry = device_token.expiry_after(self.store.clock.now().date(), TOKEN_YEARS)
        key = secrets.token_bytes(device_token.KEY_BYTES).hex().upper()
        with self.store.begin() as tx:
            account = tx.account(wallet_id)
            if account is None or account.kind != "wallet":
                raise Refused("USER_NOT_EXIST", f"no wallet {wallet_id}")
            for _ in range(_PAN_TRIES):
                pan = device_token.token_pan(TOKEN_BIN, f"{secrets.randbelow(10**7):07d}")
                try:
                    token = tx.add_token(token_id="T" + secrets.token_hex(12).upper(), wallet_id=wallet_id,
                                         pan=pan, expiry=expiry, key=key)
                    break
                except Duplicate:
                    continue
            else:
                raise Refused("PROCESS_FAIL", f"no free token PAN under BIN {TOKEN_BIN} after {_PAN_TRIES} tries")
        return {"tokenId": token.token_id, "walletId": token.wallet_id, "tokenPan": token.pan,
                "expiry": token.expiry, "key": token.key, "atc": token.atc}

    def tap(self, token_id: str) -> dict[str, Any]:
        """One tap of the phone: the token's next presentation, as base64 CPM text, and its ATC."""
        with self.store.begin() as tx:
            token = tx.token(token_id=token_id)
            if token is None:
                raise Refused("USER_NOT_EXIST", f"no device token {token_id}")
            atc = tx.next_tap(token_id)
            if atc > device_token.MAX_ATC:  # raising rolls the count back
                raise Refused("USER_STATUS_ABNORMAL",
                              f"device token {token_id} has used all {device_token.MAX_ATC} counter values: provision a new one")
            cryptogram = device_token.cryptogram(bytes.fromhex(token.key), token.pan, token.expiry, atc)
            payload = emv_cpm.token_presentation(TokenPresentation(token.pan, token.expiry, atc, cryptogram, TOKEN_AID, TOKEN_LABEL))
        return {"tokenId": token_id, "atc": atc, "payload": payload}

    def take(self, tx: Tx, payload: str, at: datetime) -> str:
        """The wallet a device token presentation pays from, its counter now moved up; Refused
        INVALID_CODE (unreadable, unknown PAN, bad cryptogram, replayed counter) or EXPIRED_CODE."""
        try:
            presented = emv_cpm.read_token_presentation(payload)
        except CodeError as exc:
            raise Refused("INVALID_CODE", f"the device token presentation does not read: {exc}") from None
        token = tx.token(pan=presented.pan)
        if token is None:
            raise Refused("INVALID_CODE", f"no device token has PAN {_masked(presented.pan)}")
        if device_token.is_expired(token.expiry, at.astimezone(timezone.utc).date()):
            raise Refused("EXPIRED_CODE", f"device token {_masked(token.pan)} expired at the end of {token.expiry[2:]}/{token.expiry[:2]}")
        try:
            good = device_token.verify(bytes.fromhex(token.key), presented.pan, presented.expiry, presented.atc, presented.cryptogram)
        except CodeError as exc:  # a presented expiry or PAN the cryptogram cannot be made over
            raise Refused("INVALID_CODE", f"the device token presentation does not read: {exc}") from None
        if not good:
            raise Refused("INVALID_CODE", f"the application cryptogram (9F26) of device token {_masked(token.pan)} at ATC "
                                          f"{presented.atc} does not verify: not made with the token's key over its PAN, "
                                          "expiry and counter")
        if not tx.advance_token_counter(token.token_id, presented.atc):
            raise Refused("INVALID_CODE", f"the transaction counter was replayed: ATC {presented.atc} of device token "
                                          f"{_masked(token.pan)} is not above {token.atc}, the last one seen")
        return token.wallet_id
