"""A transaction's merchants, payments, refunds, customer payment codes and phone wallet device tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text, update

from pos_sim.backend.store.errors import StoreError
from pos_sim.backend.store.ledger import Ledger, check_amount, currency_code
from pos_sim.backend.store.records import CodeStatus, CodeUse, DeviceToken, Merchant, Payment, Refund, Refunded
from pos_sim.backend.store.statements import Statement
from pos_sim.backend.store.tables import (
    PAYMENT_STATUSES,
    REFUND_STATUSES,
    SCENARIOS,
    WAITING,
    UtcDateTime,
    aware,
    device_tokens,
    merchants,
    payment_codes,
    payments,
    refunds,
    utc,
)

_code_at = bindparam("at", type_=UtcDateTime())
_TAKE_CODE = Statement(
    update(payment_codes)
    .where(payment_codes.c.code == bindparam("the_code"), payment_codes.c.used_at.is_(None), payment_codes.c.expires_at > _code_at)
    .values(used_at=_code_at)
    .returning(payment_codes.c.wallet_id)
)
"""Use a code: its wallet if it was known, unused and not expired at ``at``, else no row."""

_CODE = Statement(select(payment_codes.c.wallet_id, payment_codes.c.used_at).where(payment_codes.c.code == bindparam("code")))


class PaymentRecords(Ledger):
    """A transaction's payments and what pays them (a part of the store's ``Tx``)."""

    # merchants

    def add_merchant(self, client_id: str, name: str, public_key: str, settlement_currency: str) -> Merchant:
        """A new merchant; Duplicate if the client id is taken."""
        row: dict[str, Any] = {"client_id": client_id, "name": name, "public_key": public_key,
               "settlement_currency": currency_code(settlement_currency), "created_at": self._now()}
        self._insert(merchants, row, f"merchant {client_id}")
        return Merchant(**row)

    def merchant(self, client_id: str) -> Merchant | None:
        """The merchant ``client_id``, or None."""
        row = self._conn.execute(select(merchants).where(merchants.c.client_id == client_id)).first()
        return None if row is None else Merchant(**row._mapping)

    def merchants(self) -> list[Merchant]:
        """Every merchant, by client id."""
        return [Merchant(**row._mapping) for row in self._conn.execute(select(merchants).order_by(merchants.c.client_id))]

    def merchant_account(self, client_id: str, currency: str) -> str:
        """The id of the merchant's account in ``currency`` ("merchant:{client_id}:{CUR}"), created on first use."""
        code = currency_code(currency)
        account_id = f"merchant:{client_id}:{code}"
        if self._facts([account_id]):
            return account_id
        merchant = self.merchant(client_id)
        if merchant is None:
            raise StoreError(f"no merchant {client_id}")
        return self._ensure_account(account_id, "merchant", code, f"{merchant.name} {code}")

    # payments

    def add_payment(
        self,
        *,
        payment_id: str,
        client_id: str,
        payment_request_id: str,
        scenario: str,
        amount: int,
        currency: str,
        status: str = "PROCESSING",
        result_code: str | None = None,
        wallet_id: str | None = None,
        wallet_amount: int | None = None,
        wallet_currency: str | None = None,
        settlement_amount: int | None = None,
        settlement_currency: str | None = None,
        payment_method_id: str | None = None,
        notify_url: str | None = None,
        request_json: str | None = None,
        created_at: datetime | None = None,
        paid_at: datetime | None = None,
        cancelled_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> Payment:
        """Record a payment; Duplicate if its payment id or (client id, request id) is taken."""
        if scenario not in SCENARIOS:
            raise StoreError(f"{scenario!r}: not one of {', '.join(sorted(SCENARIOS))}")
        row: dict[str, Any] = {
            "payment_id": payment_id, "client_id": client_id, "payment_request_id": payment_request_id,
            "scenario": scenario, "status": status, "result_code": result_code,
            "amount": check_amount(amount, positive=True), "currency": currency_code(currency),
            "wallet_id": wallet_id, "wallet_amount": wallet_amount, "wallet_currency": wallet_currency,
            "settlement_amount": settlement_amount, "settlement_currency": settlement_currency,
            "payment_method_id": payment_method_id, "notify_url": notify_url, "request_json": request_json,
            "created_at": self._now() if created_at is None else created_at,
            "paid_at": paid_at, "cancelled_at": cancelled_at, "expires_at": expires_at,
        }
        _check_payment_fields(row)
        self._insert(payments, row, f"payment {payment_id} ({client_id} {payment_request_id})")
        return Payment(**row)

    def payment(
        self, client_id: str | None, *, payment_id: str | None = None, payment_request_id: str | None = None, lock: bool = False
    ) -> Payment | None:
        """The merchant's payment by id (which wins) or request id, or None; ``lock`` holds its row to the end.
        ``client_id`` None finds a payment of any merchant by its id (for the admin API)."""
        if payment_id is not None:
            match = payments.c.payment_id == payment_id
        elif payment_request_id is not None:
            match = payments.c.payment_request_id == payment_request_id
        else:
            raise TypeError("payment() needs payment_id or payment_request_id")
        query = select(payments).where(match)
        if client_id is not None:
            query = query.where(payments.c.client_id == client_id)
        elif payment_id is None:
            raise TypeError("payment() finds a payment of any merchant by payment_id only")
        if lock:
            query = query.with_for_update()  # PostgreSQL row lock; SQLite has none and needs none (BEGIN IMMEDIATE)
        row = self._conn.execute(query).first()
        return None if row is None else Payment(**row._mapping)

    def payment_for_code(self, scenario: str, code_value: str, *, lock: bool = False) -> Payment | None:
        """The oldest PROCESSING payment of ``scenario`` (OrderCode, EntryCode) waiting on the merchant code
        ``code_value`` that a customer scanned, or None."""
        query = (
            select(payments)
            .where(payments.c.payment_method_id == code_value, payments.c.scenario == scenario,
                   text(WAITING))  # as the index's condition is written, so the database reads the index
            .order_by(payments.c.created_at, payments.c.payment_id)
            .limit(1)
        )
        if lock:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else Payment(**row._mapping)

    def update_payment(self, payment_id: str, *, only_if_status: str | None = None, **changes: Any) -> bool:
        """Change a payment's mutable fields (status, result_code, wallet_*, times...).

        With ``only_if_status``, only a payment still in that status changes: the answer says whether it did.
        Without it, a missing payment is a StoreError.
        """
        if not changes:
            raise TypeError("update_payment() needs a field to change")
        query = update(payments).where(payments.c.payment_id == payment_id).values(_payment_fields(changes, _PAYMENT_MUTABLE))
        if only_if_status is not None:
            query = query.where(payments.c.status == only_if_status)
        done = self._conn.execute(query).rowcount == 1
        if not done and only_if_status is None:
            raise StoreError(f"no payment {payment_id}")
        return done

    # refunds

    def add_refund(
        self,
        *,
        refund_id: str,
        client_id: str,
        refund_request_id: str,
        payment_id: str,
        amount: int,
        currency: str,
        status: str,
        wallet_amount: int | None = None,
        wallet_currency: str | None = None,
        settlement_amount: int | None = None,
        settlement_currency: str | None = None,
        reason: str | None = None,
        created_at: datetime | None = None,
    ) -> Refund:
        """Record a refund; Duplicate if its refund id or (client id, request id) is taken."""
        if status not in REFUND_STATUSES:
            raise StoreError(f"{status!r}: not one of {', '.join(sorted(REFUND_STATUSES))}")
        row: dict[str, Any] = {
            "refund_id": refund_id, "client_id": client_id, "refund_request_id": refund_request_id,
            "payment_id": payment_id, "amount": check_amount(amount, positive=True),
            "currency": currency_code(currency),
            "wallet_amount": None if wallet_amount is None else check_amount(wallet_amount, positive=True),
            "wallet_currency": None if wallet_currency is None else currency_code(wallet_currency),
            "settlement_amount": None if settlement_amount is None else check_amount(settlement_amount, positive=True),
            "settlement_currency": None if settlement_currency is None else currency_code(settlement_currency),
            "status": status, "reason": reason, "created_at": self._now() if created_at is None else utc(created_at),
        }
        self._insert(refunds, row, f"refund {refund_id} ({client_id} {refund_request_id})")
        return Refund(**row)

    def refund(self, client_id: str, *, refund_id: str | None = None, refund_request_id: str | None = None) -> Refund | None:
        """The merchant's refund by id (which wins) or request id, or None."""
        if refund_id is not None:
            match = refunds.c.refund_id == refund_id
        elif refund_request_id is not None:
            match = refunds.c.refund_request_id == refund_request_id
        else:
            raise TypeError("refund() needs refund_id or refund_request_id")
        row = self._conn.execute(select(refunds).where(refunds.c.client_id == client_id, match)).first()
        return None if row is None else Refund(**row._mapping)

    def update_refund(self, refund_id: str, *, status: str) -> None:
        """Set a refund's status."""
        if status not in REFUND_STATUSES:
            raise StoreError(f"{status!r}: not one of {', '.join(sorted(REFUND_STATUSES))}")
        if self._conn.execute(update(refunds).where(refunds.c.refund_id == refund_id).values(status=status)).rowcount != 1:
            raise StoreError(f"no refund {refund_id}")

    def refunded(self, payment_id: str) -> Refunded:
        """What the payment's refunds (every one not FAIL) gave back so far, in each of its currencies."""
        live = refunds.c.status != "FAIL"
        query = select(
            func.coalesce(func.sum(refunds.c.amount), 0),
            func.coalesce(func.sum(refunds.c.wallet_amount), 0),
            func.coalesce(func.sum(refunds.c.settlement_amount), 0),
        ).where(refunds.c.payment_id == payment_id, live)
        return Refunded(*(int(total) for total in self._conn.execute(query).one()))

    # customer payment codes

    def add_code(self, code: str, wallet_id: str, expires_at: datetime) -> None:
        """Issue a one-time payment code for a wallet; Duplicate if the code exists, StoreError for an unknown wallet."""
        self._insert(payment_codes, {"code": code, "wallet_id": wallet_id, "expires_at": utc(expires_at)}, f"code {code}")

    def take_code(self, code: str, now: datetime) -> CodeUse:
        """Use a payment code once: OK (now marked used) only for a known, unused code not expired at ``now``."""
        taken = _TAKE_CODE.first(self._driver, {"the_code": code, "at": aware(now)})
        if taken is not None:
            return CodeUse(CodeStatus.OK, taken[0])
        row = _CODE.first(self._driver, {"code": code})  # why not: unknown, used or expired
        if row is None:
            return CodeUse(CodeStatus.UNKNOWN)
        wallet_id, used_at = row
        return CodeUse(CodeStatus.USED if used_at is not None else CodeStatus.EXPIRED, wallet_id)

    # phone wallet device tokens

    def add_token(self, *, token_id: str, wallet_id: str, pan: str, expiry: str, key: str) -> DeviceToken:
        """Provision a device token bound to a wallet, its counter at 0; Duplicate if the id or PAN is taken."""
        row: dict[str, Any] = {"token_id": token_id, "wallet_id": wallet_id, "pan": pan, "expiry": expiry, "key": key,
                               "atc": 0, "taps": 0, "created_at": self._now()}
        self._insert(device_tokens, row, f"device token {token_id}")
        return DeviceToken(**row)

    def token(self, *, token_id: str | None = None, pan: str | None = None) -> DeviceToken | None:
        """A device token by id or by PAN, or None."""
        if token_id is not None:
            match = device_tokens.c.token_id == token_id
        elif pan is not None:
            match = device_tokens.c.pan == pan
        else:
            raise TypeError("token() needs token_id or pan")
        row = self._conn.execute(select(device_tokens).where(match)).first()
        return None if row is None else DeviceToken(**row._mapping)

    def next_tap(self, token_id: str) -> int:
        """Count one more presentation on the phone's side; the new counter (the ATC it carries)."""
        query = update(device_tokens).where(device_tokens.c.token_id == token_id).values(taps=device_tokens.c.taps + 1)
        taps = self._conn.execute(query.returning(device_tokens.c.taps)).scalar_one_or_none()
        if taps is None:
            raise StoreError(f"no device token {token_id}")
        return int(taps)

    def advance_token_counter(self, token_id: str, atc: int) -> bool:
        """Move the token's last seen transaction counter up to ``atc``; False (nothing changed) if it is
        not above the last one seen: a replayed or stale presentation."""
        query = update(device_tokens).where(device_tokens.c.token_id == token_id, device_tokens.c.atc < atc).values(atc=atc)
        return self._conn.execute(query).rowcount == 1


_PAYMENT_MUTABLE = frozenset(
    {"status", "result_code", "wallet_id", "wallet_amount", "wallet_currency", "settlement_amount",
     "settlement_currency", "payment_method_id", "notify_url",
     "request_json", "paid_at", "cancelled_at", "expires_at"}
)


def _payment_fields(changes: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """``changes`` checked (``_check_payment_fields``), as a new dict: allowed fields only."""
    if unknown := set(changes) - allowed:
        raise TypeError(f"cannot set payment field(s) {', '.join(sorted(unknown))}")
    checked = dict(changes)
    _check_payment_fields(checked)
    return checked


def _check_payment_fields(fields: dict[str, Any]) -> None:
    """Check a payment's ``fields`` in place: a known status, exact amounts, ISO currencies, aware times (as UTC)."""
    if "status" in fields and fields["status"] not in PAYMENT_STATUSES:
        raise StoreError(f"{fields['status']!r}: not one of {', '.join(sorted(PAYMENT_STATUSES))}")
    for name in ("wallet_amount", "settlement_amount"):
        if fields.get(name) is not None:
            check_amount(fields[name], positive=True)
    for name in ("wallet_currency", "settlement_currency"):
        if fields.get(name) is not None:
            fields[name] = currency_code(fields[name])
    for name in ("created_at", "paid_at", "cancelled_at", "expires_at"):
        if fields.get(name) is not None:
            fields[name] = utc(fields[name])
