"""The in-store payment calls: pay, inquiryPayment, cancel, refund, inquiryRefund.

Each call runs in one store transaction, so its answer, the ledger postings and the idempotency
record are durable together before the answer is sent. The same request id with the same body
gets the same answer and moves money once; with another body, REPEAT_REQ_INCONSISTENT.

A call may come with a fault (faults.py) that answers it with its result code instead: a pay is
then recorded FAIL (F) or PROCESSING (U), nothing moved; a late-success one is charged later.

Scenarios. PaymentCode: the customer's code is taken and the wallet charged at once. OrderCode:
the pay answers U (PAYMENT_IN_PROCESS) with a dynamic code (``orderCodeForm``) and the payment
waits, PROCESSING, until a wallet scans the code (``scan``) or it expires (``paymentExpiryTime``,
default five minutes: then FAIL, ORDER_IS_CLOSED). EntryCode: the same, on the merchant's static
entry code (``entry_code``), one per store; a wallet scanning it pays the oldest payment waiting
on it, the amount the cashier keyed. A wallet that cannot pay (balance, currency) fails the
payment with that result code, as the terminal then sees it.

Cross-border. A wallet pays in its own currency at a quote of the rate table (domain/fx.py);
the merchant is credited in ``settlementStrategy.settlementCurrency`` when given, else in the
payment currency. The ledger moves each currency through its "fx:{CUR}" account; the payment
records all three amounts, and answers ``customerPayAmount`` / ``paymentQuote`` and
``grossSettlementAmount`` / ``settlementQuote`` where they differ from ``paymentAmount``.
Refunds give back the same share of each amount, the last one exactly what is left.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import orjson

from pos_sim.backend.services import notifications
from pos_sim.backend.services.faults import Fault
from pos_sim.backend.store.clock import SimClock
from pos_sim.backend.protocol import RESULTS, Refused, amount, amount_json, field, paid_amounts, payment_json, result, timestamp
from pos_sim.backend.store.database import Store, Tx
from pos_sim.backend.store.errors import Duplicate, InsufficientFunds, StoreError
from pos_sim.backend.store.records import Payment
from pos_sim.backend.services.tokens import DeviceTokens, is_presentation
from pos_sim.domain.codes.emv_cpm import MAX_TEXT_CHARS
from pos_sim.domain.errors import AmountError
from pos_sim.domain.fx import Quote, share
from pos_sim.domain.money import Currency, Money, currency

PSP_NAME = "SIMWALLET"
SCENARIOS = ("PaymentCode", "OrderCode", "EntryCode")
CODE_HOST = "https://qr.simwallet.test"
"""Where the simulated wallet's merchant codes point: {CODE_HOST}/o/... order codes, /e/... entry codes."""
ORDER_CODE_LIFETIME = timedelta(minutes=5)

log = logging.getLogger(__name__)


CLOSED_BEFORE_PAY = "closed-before-pay"
"""The request hash remembered for a pay cancelled before it arrived: any pay of that id gets its answer."""


def _hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _new_id(prefix: str, at: datetime) -> str:
    """"P20261207" and 16 hex digits: the millisecond of the day, then 36 random bits; in time order within a day,
    as the payments' key takes them best (``ledger.ordered_id``)."""
    ms = ((at.hour * 60 + at.minute) * 60 + at.second) * 1000 + at.microsecond // 1000
    return f"{prefix}{at.year:04d}{at.month:02d}{at.day:02d}{ms:07X}{secrets.randbits(36):09X}"  # strftime: 3x the time


def entry_code(client_id: str, store_id: str | None = None) -> str:
    """The static entry code of a merchant's store (or of the merchant, without a store)."""
    return f"{CODE_HOST}/e/{quote(client_id, safe='')}" + (f"/{quote(store_id, safe='')}" if store_id else "")


def _expiry(body: dict[str, Any], created: datetime, clock: SimClock) -> datetime:
    text = field(body, "paymentExpiryTime", required=False, most=64)
    if text is None:
        return created + ORDER_CODE_LIFETIME
    try:
        expires = datetime.fromisoformat(text)
    except ValueError:
        raise Refused("PARAM_ILLEGAL", "paymentExpiryTime must be an ISO 8601 time with an offset") from None
    if expires.tzinfo is None:
        raise Refused("PARAM_ILLEGAL", "paymentExpiryTime needs an offset, like 2026-11-21T16:04:05+08:00")
    expires = clock.simulated(expires)
    if expires <= created:
        raise Refused("PARAM_ILLEGAL", "paymentExpiryTime is in the past")
    return expires


@dataclass(frozen=True)
class Charge:
    """Money moved for a payment: what the wallet paid, what the merchant got, and the quotes used."""

    wallet_id: str
    wallet: Money
    settlement: Money
    payment_quote: Quote | None
    settlement_quote: Quote | None

    def recorded(self, at: datetime) -> dict[str, Any]:
        """The payment fields that record it."""
        return {"status": "SUCCESS", "result_code": "SUCCESS", "wallet_id": self.wallet_id, "paid_at": at,
                "wallet_amount": self.wallet.minor, "wallet_currency": self.wallet.currency.code,
                "settlement_amount": self.settlement.minor, "settlement_currency": self.settlement.currency.code}


def _quote_json(quote_: Quote, at: datetime) -> dict[str, str]:
    return {"quoteId": "Q" + secrets.token_hex(8).upper(), "quoteCurrencyPair": quote_.pair, "quotePrice": str(quote_.price),
            "quoteStartTime": timestamp(at), "quoteExpiryTime": timestamp(at + timedelta(minutes=1))}


class Payments:
    """The payment calls of one backend, over its store."""

    def __init__(self, store: Store, tokens: DeviceTokens | None = None, notify: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.notify = notify  # called after a commit that queued a payment result notification
        self.tokens = tokens if tokens is not None else DeviceTokens(store)

    def call(self, client_id: str, name: str, body: dict[str, Any], fault: Fault | None = None) -> dict[str, Any]:
        """Answer the AMS call ``name`` for merchant ``client_id``: the response body, ``result`` included.

        A ``fault`` with a result code answers a pay as described above, and any other call in its
        place, nothing done; but a refund already made answers as it did (a retry whose first attempt
        was made never hears of a fault that attempt did not meet).
        """
        if name == "pay":
            return self.pay(client_id, body, fault)
        handler = {
            "inquiryPayment": self.inquire_payment,
            "cancel": self.cancel,
            "refund": self.refund,
            "inquiryRefund": self.inquire_refund,
        }.get(name)
        if handler is None:
            raise Refused("NO_INTERFACE_DEF", f"no call {name}")
        if fault is not None and fault.result_code is not None:
            if name == "refund" and (made := self._refund_made(client_id, body)) is not None:
                return made
            return {"result": result(fault.result_code)}
        return handler(client_id, body)

    def _refund_made(self, client_id: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """The answer a refund request already made was given, or None if it was never made."""
        with self.store.begin() as tx:
            return self._idempotent(tx, client_id, "refund", field(body, "refundRequestId", most=64), _hash(body))

    def _once(self, client_id: str, call: str, key: str, body: dict[str, Any], work: Callable[[Tx], dict[str, Any]]) -> dict[str, Any]:
        """Answer ``call`` ``key`` by ``work`` once; the same key again gets the remembered answer."""
        request_hash = _hash(body)
        try:
            with self.store.begin(failure_ends_it=True) as tx:  # a Duplicate leaves it, to the except below
                answered = self._idempotent(tx, client_id, call, key, request_hash)
                if answered is not None:
                    return answered
                response = work(tx)
                tx.remember(client_id, call, key, request_hash, orjson.dumps(response).decode())
                return response
        except Duplicate:  # the same key, answered meanwhile by a concurrent call: its answer stands
            with self.store.begin() as tx:
                answered = self._idempotent(tx, client_id, call, key, request_hash)
            if answered is None:
                raise
            return answered

    @staticmethod
    def _idempotent(tx: Tx, client_id: str, call: str, key: str, request_hash: str) -> dict[str, Any] | None:
        seen = tx.remembered(client_id, call, key)
        if seen is None:
            return None
        remembered_hash, response = seen
        if remembered_hash != request_hash and remembered_hash != CLOSED_BEFORE_PAY:
            raise Refused("REPEAT_REQ_INCONSISTENT", f"{call} {key} was sent before with another body")
        return orjson.loads(response)

    def pay(self, client_id: str, body: dict[str, Any], fault: Fault | None = None) -> dict[str, Any]:
        request_id = field(body, "paymentRequestId", most=64)
        total = amount(body, "paymentAmount")
        scenario = field(body, "paymentFactor.inStorePaymentScenario")
        if scenario not in SCENARIOS:
            raise Refused("PARAM_ILLEGAL", f"paymentFactor.inStorePaymentScenario must be one of {', '.join(SCENARIOS)}")
        if field(body, "productCode") != "IN_STORE_PAYMENT":
            raise Refused("PARAM_ILLEGAL", "productCode must be IN_STORE_PAYMENT")
        settle_in = self._settlement_currency(body, total.currency)
        created = self.store.clock.now()
        if scenario == "PaymentCode":
            code, expires = field(body, "paymentMethod.paymentMethodId", most=MAX_TEXT_CHARS), None
        elif scenario == "OrderCode":
            code, expires = f"{CODE_HOST}/o/{secrets.token_urlsafe(12)}", _expiry(body, created, self.store.clock)
        else:
            store_id = field(body, "order.merchant.store.referenceStoreId", required=False, most=64)
            code, expires = entry_code(client_id, store_id), _expiry(body, created, self.store.clock)
        late: list[str] = []  # the payment a late-success fault completes, once this answer is committed
        payment_id = _new_id("P", created)
        record = {
            "payment_id": payment_id,
            "client_id": client_id,
            "payment_request_id": request_id,
            "scenario": scenario,
            "amount": total.minor,
            "currency": total.currency.code,
            "settlement_currency": settle_in.code,
            "payment_method_id": code,
            "notify_url": field(body, "paymentNotifyUrl", required=False, most=2048),
            "request_json": orjson.dumps(body).decode(),
            "created_at": created,
            "expires_at": expires,
        }

        def work(tx: Tx) -> dict[str, Any]:  # all that needs the database, in the store's transaction
            answer = {"paymentRequestId": request_id, "paymentId": payment_id}
            if fault is not None and fault.result_code is not None:
                declined = RESULTS[fault.result_code][0] == "F"
                recorded = tx.add_payment(**record, status="FAIL" if declined else "PROCESSING", result_code=fault.result_code)
                if declined:
                    notifications.queue(tx, recorded)
                if fault.action == "late-success":
                    late.append(payment_id)
                return {"result": result(fault.result_code), **answer}
            created_text = timestamp(created)
            answer |= {"paymentAmount": amount_json(total), "paymentCreateTime": created_text}
            if scenario != "PaymentCode":  # waits for a wallet to scan the merchant's code
                tx.add_payment(**record, status="PROCESSING", result_code="PAYMENT_IN_PROCESS")
                if scenario == "OrderCode":
                    answer["orderCodeForm"] = {"expireTime": timestamp(self.store.clock.real(expires)),
                                               "codeDetails": [{"codeValue": code, "displayType": "TEXT"}]}
                return {"result": result("PAYMENT_IN_PROCESS"), **answer}
            try:
                charge = self._charge(tx, client_id, payment_id, self._payer(tx, code, created), total, settle_in)
            except Refused as refused:
                notifications.queue(tx, tx.add_payment(**record, status="FAIL", result_code=refused.code))
                return {"result": result(refused.code, refused.detail), **answer}
            paid = tx.add_payment(**record | charge.recorded(created))
            notifications.queue(tx, paid)
            answer |= {"paymentTime": created_text, "pspCustomerInfo": {"pspName": PSP_NAME, "pspCustomerId": charge.wallet_id}}
            answer |= paid_amounts(paid)
            if charge.payment_quote:
                answer["paymentQuote"] = _quote_json(charge.payment_quote, created)
            if charge.settlement_quote:
                answer["settlementQuote"] = _quote_json(charge.settlement_quote, created)
            return {"result": result(), **answer}

        response = self._once(client_id, "pay", request_id, body, work)
        if response["result"]["resultStatus"] != "U" and field(body, "paymentNotifyUrl", required=False):
            self.notify()
        for payment_id in late:
            self._later(fault.delay_ms, client_id, payment_id)
        return response

    def _settlement_currency(self, body: dict[str, Any], paid_in: Currency) -> Currency:
        code = field(body, "settlementStrategy.settlementCurrency", required=False, most=3)
        if code is None:
            return paid_in
        try:
            settle_in = currency(code)
            self.store.rates.quote(paid_in, settle_in)
        except AmountError as exc:
            raise Refused("CURRENCY_NOT_SUPPORT", f"settlementStrategy.settlementCurrency: {exc}") from None
        return settle_in

    def scan(self, wallet_id: str, code_value: str, confirm_ms: int = 0) -> dict[str, Any]:
        """A customer's wallet scans a merchant's order or entry code and pays the payment waiting on it;
        with ``confirm_ms``, the customer takes that long to confirm, the payment PROCESSING meanwhile."""
        if not isinstance(code_value, str) or not code_value.startswith((f"{CODE_HOST}/o/", f"{CODE_HOST}/e/")):
            raise Refused("PARAM_ILLEGAL", f"codeValue: not an order or entry code of this wallet (they start {CODE_HOST}/)")
        scenario = "OrderCode" if code_value.startswith(f"{CODE_HOST}/o/") else "EntryCode"
        with self.store.begin() as tx:
            wallet = tx.account(wallet_id)
            if wallet is None or wallet.kind != "wallet":
                raise Refused("USER_NOT_EXIST", f"no wallet {wallet_id}")
            payment = tx.payment_for_code(scenario, code_value, lock=True)
            if payment is None:
                raise Refused("ORDER_NOT_EXIST", "no payment is waiting on this code: paid, closed, expired or never issued")
            at = self.store.clock.now()
            if payment.expires_at is not None and payment.expires_at <= at:
                payment = self._close(tx, payment, "ORDER_IS_CLOSED")
            elif not confirm_ms:
                payment = self._settle(tx, payment, wallet_id, at)
        if payment.status == "PROCESSING":
            self._later(confirm_ms, payment.client_id, payment.payment_id, wallet_id)
        elif payment.notify_url:
            self.notify()
        return {"paymentId": payment.payment_id, "scenario": scenario, "status": payment.status,
                **result(payment.result_code if payment.status != "PROCESSING" else "PAYMENT_IN_PROCESS"),
                "paymentAmount": amount_json(Money.of_minor(payment.amount, payment.currency)), **paid_amounts(payment)}

    def _later(self, delay_ms: int, client_id: str, payment_id: str, wallet_id: str | None = None) -> None:
        timer = threading.Timer(delay_ms / 1000, self._complete, (client_id, payment_id, wallet_id))
        timer.daemon = True
        timer.start()

    def _complete(self, client_id: str, payment_id: str, wallet_id: str | None) -> None:
        """Charge a PROCESSING payment now (late-success: from its code, as presented; a confirmed scan:
        from the scanning wallet); a payment closed meanwhile stays closed."""
        try:
            with self.store.begin() as tx:
                payment = tx.payment(client_id, payment_id=payment_id, lock=True)
                if payment is None or payment.status != "PROCESSING":
                    return  # cancelled first: nothing moves
                payment = self._settle(tx, payment, wallet_id, self.store.clock.now())
            if payment.notify_url:
                self.notify()
        except StoreError:
            log.exception("payment %s did not complete; a cancel closes it if it is still PROCESSING", payment_id)

    def _settle(self, tx: Tx, payment: Payment, wallet_id: str | None, at: datetime) -> Payment:
        """Charge a PROCESSING payment, recording SUCCESS, or FAIL with the reason the charge failed."""
        try:
            payer = wallet_id or self._payer(tx, payment.payment_method_id, payment.created_at)
            settle_in = currency(payment.settlement_currency or payment.currency)
            total = Money.of_minor(payment.amount, payment.currency)
            changes = self._charge(tx, payment.client_id, payment.payment_id, payer, total, settle_in).recorded(at)
        except Refused as refused:
            return self._close(tx, payment, refused.code)
        if not tx.update_payment(payment.payment_id, only_if_status="PROCESSING", **changes):
            raise StoreError(f"payment {payment.payment_id} was closed while it completed")  # undoes the posting
        return self._finished(tx, payment)

    def _close(self, tx: Tx, payment: Payment, code: str) -> Payment:
        tx.update_payment(payment.payment_id, status="FAIL", result_code=code)
        return self._finished(tx, payment)

    @staticmethod
    def _finished(tx: Tx, payment: Payment) -> Payment:
        """The payment as now recorded final, its result notification queued (sent once committed)."""
        payment = tx.payment(payment.client_id, payment_id=payment.payment_id)
        notifications.queue(tx, payment)
        return payment

    def _charge(self, tx: Tx, client_id: str, payment_id: str, wallet_id: str, total: Money, settle_in: Currency) -> Charge:
        """Move ``total`` from the wallet (in its own currency, at a quote) to the merchant (in ``settle_in``)."""
        wallet_currency = tx.currency_of(wallet_id)
        if wallet_currency is None:
            raise StoreError(f"no wallet {wallet_id}")
        try:
            payment_quote = self.store.rates.quote(total.currency, currency(wallet_currency))
            settlement_quote = self.store.rates.quote(total.currency, settle_in)
        except AmountError as exc:
            raise Refused("CURRENCY_NOT_SUPPORT", f"the wallet holds {wallet_currency}, the payment is in {total.currency.code}: {exc}") from None
        paid, settled = payment_quote.convert(total), settlement_quote.convert(total)
        if not paid.minor or not settled.minor:
            raise Refused("PARAM_ILLEGAL", f"{total.major_str()} {total.currency.code} is too small to convert")
        merchant = tx.merchant_account(client_id, settle_in.code)
        try:
            tx.post("payment", payment_id, self._legs(tx, wallet_id, paid, merchant, settled), memo=f"pay {client_id}")
        except InsufficientFunds:
            raise Refused("USER_BALANCE_NOT_ENOUGH") from None
        return Charge(wallet_id, paid, settled, payment_quote if paid.currency != total.currency else None,
                      settlement_quote if settled.currency != total.currency else None)

    @staticmethod
    def _legs(tx: Tx, wallet_id: str, paid: Money, merchant: str, settled: Money) -> list[tuple[str, int]]:
        """The legs of a charge of ``paid`` from a wallet that credits ``settled`` to a merchant account:
        through the "fx:{CUR}" accounts when the currencies differ. Negate each for the reversal."""
        legs: dict[str, int] = defaultdict(int)
        legs[wallet_id] -= paid.minor
        legs[merchant] += settled.minor
        if paid.currency != settled.currency:
            legs[tx.system_account("fx", paid.currency.code)] += paid.minor
            legs[tx.system_account("fx", settled.currency.code)] -= settled.minor
        return [(account, minor) for account, minor in legs.items() if minor]  # a refund's share may round to 0

    def _payer(self, tx: Tx, code: str, at) -> str:
        """The wallet that the customer's code (taken now, once) pays from: a device token's presentation
        (an NFC tap, CPM text: tokens.py) or a one-time wallet payment code."""
        if is_presentation(code):
            return self.tokens.take(tx, code, at)
        use = tx.take_code(code, at)
        if use.status in ("unknown", "used"):
            raise Refused("INVALID_CODE", "the payment code is unknown or was used already")
        if use.status == "expired":
            raise Refused("EXPIRED_CODE")
        return use.wallet_id

    def _payment(self, tx: Tx, client_id: str, body: dict[str, Any], lock: bool = False):
        payment_id = field(body, "paymentId", required=False, most=64)
        request_id = field(body, "paymentRequestId", required=False, most=64)
        if payment_id is None and request_id is None:
            raise Refused("PARAM_ILLEGAL", "paymentId or paymentRequestId is required")
        payment = tx.payment(client_id, payment_id=payment_id, payment_request_id=None if payment_id else request_id, lock=lock)
        if payment is None:
            raise Refused("ORDER_NOT_EXIST", "no such payment")
        return payment

    def inquire_payment(self, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.store.begin() as tx:
            payment = self._payment(tx, client_id, body)
            expired = payment.status == "PROCESSING" and payment.expires_at is not None and payment.expires_at <= self.store.clock.now()
            if expired:
                payment = self._close(tx, payment, "ORDER_IS_CLOSED")  # its order code expired unpaid
        if expired and payment.notify_url:
            self.notify()
        response = {
            "result": result(),
            "paymentStatus": payment.status,
            "paymentResultCode": payment.result_code,
            "paymentResultMessage": result(payment.result_code)["resultMessage"],
            **payment_json(payment),
        }
        return response

    def cancel(self, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Close a payment; a successful one is reversed, its money back to the wallet. A cancel by a
        ``paymentRequestId`` whose pay has not arrived (held up on the network) closes that request: the
        pay, if it comes later, is refused and charges nothing, as the provider does."""
        try:
            return self._cancel(client_id, body)
        except Duplicate:  # the pay was recorded at that very moment: it exists now, and is cancelled
            return self._cancel(client_id, body)

    def _cancel(self, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.store.begin(failure_ends_it=True) as tx:
            try:
                payment = self._payment(tx, client_id, body, lock=True)
            except Refused as refused:
                request_id = field(body, "paymentRequestId", required=False, most=64)
                if refused.code != "ORDER_NOT_EXIST" or request_id is None or "paymentId" in body:
                    raise
                return self._close_unsent(tx, client_id, request_id)
            if payment.status != "CANCELLED":
                if payment.status == "SUCCESS":
                    if tx.refunded(payment.payment_id).amount:
                        raise Refused("ORDER_IS_CLOSED", "a refunded payment cannot be cancelled")
                    paid, settled = self._paid(payment)
                    merchant = tx.merchant_account(client_id, settled.currency.code)
                    legs = self._legs(tx, payment.wallet_id, paid, merchant, settled)
                    tx.post("cancel", payment.payment_id, [(account, -minor) for account, minor in legs], memo=f"cancel {client_id}")
                tx.update_payment(payment.payment_id, status="CANCELLED", cancelled_at=self.store.clock.now())
                payment = tx.payment(client_id, payment_id=payment.payment_id)
        return {
            "result": result(),
            "paymentId": payment.payment_id,
            "paymentRequestId": payment.payment_request_id,
            "cancelTime": timestamp(payment.cancelled_at),
        }

    def _close_unsent(self, tx: Tx, client_id: str, request_id: str) -> dict[str, Any]:
        """The pay ``request_id`` never arrived: remember it as answered ORDER_IS_CLOSED (``_idempotent``)."""
        closed = {"result": result("ORDER_IS_CLOSED", "cancelled before this pay arrived: nothing is charged"),
                  "paymentRequestId": request_id}
        seen = tx.remembered(client_id, "pay", request_id)
        if seen is None:
            tx.remember(client_id, "pay", request_id, CLOSED_BEFORE_PAY, orjson.dumps(closed).decode())
        elif seen[0] != CLOSED_BEFORE_PAY:  # the pay was answered without a payment (refused): nothing to close
            raise Refused("ORDER_NOT_EXIST", "no such payment")
        return {"result": result(), "paymentRequestId": request_id, "cancelTime": timestamp(self.store.clock.now())}

    @staticmethod
    def _paid(payment: Payment) -> tuple[Money, Money]:
        """What a successful payment took from the wallet and gave the merchant."""
        return (Money.of_minor(payment.wallet_amount, payment.wallet_currency),
                Money.of_minor(payment.settlement_amount, payment.settlement_currency))

    def refund(self, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Give back all or part of a successful payment, at most what is left of it; a cross-border one
        gives the wallet back the same share of what it paid."""
        request_id = field(body, "refundRequestId", most=64)
        payment_id = field(body, "paymentId", most=64)
        total = amount(body, "refundAmount")

        def work(tx: Tx) -> dict[str, Any]:
            payment = tx.payment(client_id, payment_id=payment_id, lock=True)
            if payment is None:
                raise Refused("ORDER_NOT_EXIST", "no such payment")
            if payment.status != "SUCCESS":
                raise Refused("ORDER_IS_CLOSED", f"the payment is {payment.status}, only a successful one is refunded")
            if total.currency.code != payment.currency:
                raise Refused("CURRENCY_NOT_SUPPORT", f"the payment was in {payment.currency}")
            before = tx.refunded(payment.payment_id)
            left = payment.amount - before.amount
            if total.minor > left:
                raise Refused("REFUND_AMOUNT_EXCEED", f"{left} minor units are left to refund")
            paid, settled = self._paid(payment)
            back = Money.of_minor(share(paid.minor, total.minor, payment.amount, before.wallet_amount, before.amount), paid.currency)
            taken = Money.of_minor(share(settled.minor, total.minor, payment.amount, before.settlement_amount, before.amount),
                                   settled.currency)
            at = self.store.clock.now()
            refund_id = _new_id("R", at)
            merchant = tx.merchant_account(client_id, settled.currency.code)
            if legs := self._legs(tx, payment.wallet_id, back, merchant, taken):
                tx.post("refund", refund_id, [(account, -minor) for account, minor in legs], memo=f"refund {payment_id}")
            tx.add_refund(refund_id=refund_id, client_id=client_id, refund_request_id=request_id, payment_id=payment_id,
                          amount=total.minor, currency=total.currency.code, wallet_amount=back.minor,
                          wallet_currency=back.currency.code, settlement_amount=taken.minor,
                          settlement_currency=taken.currency.code, status="SUCCESS",
                          reason=field(body, "refundReason", required=False, most=256), created_at=at)
            answer = {
                "result": result(),
                "refundRequestId": request_id,
                "refundId": refund_id,
                "paymentId": payment_id,
                "refundAmount": amount_json(total),
                "refundTime": timestamp(at),
            }
            if back.currency != total.currency:
                answer["customerRefundAmount"] = amount_json(back)
            if taken.currency != total.currency:
                answer["grossSettlementAmount"] = amount_json(taken)
            return answer

        return self._once(client_id, "refund", request_id, body, work)

    def inquire_refund(self, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
        refund_id = field(body, "refundId", required=False, most=64)
        request_id = field(body, "refundRequestId", required=False, most=64)
        if refund_id is None and request_id is None:
            raise Refused("PARAM_ILLEGAL", "refundId or refundRequestId is required")
        with self.store.begin() as tx:
            refund = tx.refund(client_id, refund_id=refund_id, refund_request_id=None if refund_id else request_id)
        if refund is None:
            raise Refused("ORDER_NOT_EXIST", "no such refund")
        return {
            "result": result(),
            "refundStatus": refund.status,
            "refundId": refund.refund_id,
            "refundRequestId": refund.refund_request_id,
            "refundAmount": amount_json(Money.of_minor(refund.amount, refund.currency)),
            "refundTime": timestamp(refund.created_at),
        }
