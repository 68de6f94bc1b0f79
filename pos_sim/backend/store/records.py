"""The rows the store answers with, as values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


@dataclass(frozen=True)
class Account:
    """A ledger account and its balance in minor units."""

    id: str
    kind: str
    currency: str
    balance: int
    name: str
    created_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    """One leg of a posting on one account, with the account's balance right after it."""

    posting_id: str
    kind: str
    ref: str | None
    amount: int
    currency: str
    balance_after: int
    memo: str
    created_at: datetime


@dataclass(frozen=True)
class Merchant:
    """A merchant (an AMS client) and the public key its requests are verified with."""

    client_id: str
    name: str
    public_key: str
    settlement_currency: str
    created_at: datetime


class Payment(NamedTuple):
    """A payment as recorded: the merchant's amount, and what the wallet paid when known. (A named tuple, where the
    other records are frozen dataclasses: every pay makes one, and a frozen dataclass of 20 fields costs a pay about
    three times as much to make, each field set through ``object.__setattr__``.)"""

    payment_id: str
    client_id: str
    payment_request_id: str
    scenario: str
    status: str
    result_code: str | None
    amount: int
    currency: str
    wallet_id: str | None
    wallet_amount: int | None
    wallet_currency: str | None
    settlement_amount: int | None
    settlement_currency: str | None
    payment_method_id: str | None
    notify_url: str | None
    request_json: str | None
    created_at: datetime
    paid_at: datetime | None
    cancelled_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Refund:
    """A refund of all or part of a payment."""

    refund_id: str
    client_id: str
    refund_request_id: str
    payment_id: str
    amount: int
    currency: str
    wallet_amount: int | None
    wallet_currency: str | None
    settlement_amount: int | None
    settlement_currency: str | None
    status: str
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class Notification:
    """A payment result notification to a merchant's ``paymentNotifyUrl``, and its delivery so far."""

    id: int
    client_id: str
    payment_id: str
    url: str
    body: str
    attempts: int
    next_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class DeviceToken:
    """A phone wallet's device token: a token PAN bound to a wallet, the key its cryptograms are made
    with (hex), the highest application transaction counter (ATC) the issuer has seen, and ``taps``,
    the phone's own counter: how many presentations it has made."""

    token_id: str
    wallet_id: str
    pan: str
    expiry: str
    key: str
    atc: int
    taps: int
    created_at: datetime


class Refunded(NamedTuple):
    """Minor units refunded of a payment: in its currency, the wallet's and the merchant's settlement currency."""

    amount: int
    wallet_amount: int
    settlement_amount: int


class CodeStatus(StrEnum):
    """What taking a customer payment code found."""

    OK = "ok"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True)
class CodeUse:
    """The outcome of ``Tx.take_code``: ``wallet_id`` is the code's wallet whenever the code is known."""

    status: CodeStatus
    wallet_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is CodeStatus.OK
