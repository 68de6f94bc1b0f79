"""The in-store payment calls: pay, inquiryPayment, cancel, refund, inquiryRefund.

Each call runs in one store transaction, so its answer, the ledger postings and the idempotency
record are durable together before the answer is sent. The same request id with the same body
gets the same answer and moves money once; with another body, REPEAT_REQ_INCONSISTENT.

A call may come with a fault (faults.py) that answers it with its result code instead: a pay is
then recorded FAIL (F) or PROCESSING (U), nothing moved; a late-success one is charged later.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any

from pos_sim.backend.faults import Fault
from pos_sim.backend.protocol import RESULTS, Refused, amount, amount_json, field, now, result, timestamp
from pos_sim.backend.store import Duplicate, InsufficientFunds, Store, StoreError, Tx
from pos_sim.domain.money import Money

PSP_NAME = "SIMWALLET"
SCENARIOS = ("PaymentCode", "OrderCode", "EntryCode")

log = logging.getLogger(__name__)


def _hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _new_id(prefix: str) -> str:
    return prefix + now().strftime("%Y%m%d") + secrets.token_hex(8).upper()


class Payments:
    """The payment calls of one backend, over its store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def call(self, client_id: str, name: str, body: dict[str, Any], fault: Fault | None = None) -> dict[str, Any]:
        """Answer the AMS call ``name`` for merchant ``client_id``: the response body, ``result`` included.

        A ``fault`` with a result code answers a pay as described above, and any other call in its
        place, nothing done.
        """
        handler = {
            "pay": self.pay,
            "inquiryPayment": self.inquire_payment,
            "cancel": self.cancel,
            "refund": self.refund,
            "inquiryRefund": self.inquire_refund,
        }.get(name)
        if handler is None:
            raise Refused("NO_INTERFACE_DEF", f"no call {name}")
        if name == "pay":
            return self.pay(client_id, body, fault)
        if fault is not None and fault.result_code is not None:
            return {"result": result(fault.result_code)}
        return handler(client_id, body)

    def _once(self, client_id: str, call: str, key: str, body: dict[str, Any], work: Callable[[Tx], dict[str, Any]]) -> dict[str, Any]:
        """Answer ``call`` ``key`` by ``work`` once; the same key again gets the remembered answer."""
        try:
            with self.store.begin() as tx:
                answered = self._idempotent(tx, client_id, call, key, body)
                if answered is not None:
                    return answered
                response = work(tx)
                tx.remember(client_id, call, key, _hash(body), json.dumps(response))
                return response
        except Duplicate:  # the same key, answered meanwhile by a concurrent call: its answer stands
            with self.store.begin() as tx:
                answered = self._idempotent(tx, client_id, call, key, body)
            if answered is None:
                raise
            return answered

    def _idempotent(self, tx: Tx, client_id: str, call: str, key: str, body: dict[str, Any]) -> dict[str, Any] | None:
        seen = tx.remembered(client_id, call, key)
        if seen is None:
            return None
        request_hash, response = seen
        if request_hash != _hash(body):
            raise Refused("REPEAT_REQ_INCONSISTENT", f"{call} {key} was sent before with another body")
        return json.loads(response)

    def pay(self, client_id: str, body: dict[str, Any], fault: Fault | None = None) -> dict[str, Any]:
        request_id = field(body, "paymentRequestId", most=64)
        total = amount(body, "paymentAmount")
        scenario = field(body, "paymentFactor.inStorePaymentScenario")
        if scenario not in SCENARIOS:
            raise Refused("PARAM_ILLEGAL", f"paymentFactor.inStorePaymentScenario must be one of {', '.join(SCENARIOS)}")
        if field(body, "productCode") != "IN_STORE_PAYMENT":
            raise Refused("PARAM_ILLEGAL", "productCode must be IN_STORE_PAYMENT")
        if scenario != "PaymentCode":
            raise Refused("PROCESS_FAIL", f"{scenario} payments are not simulated yet")
        code = field(body, "paymentMethod.paymentMethodId", most=128)
        late: list[str] = []  # the payment a late-success fault completes, once this answer is committed

        def work(tx: Tx) -> dict[str, Any]:
            payment_id = _new_id("P")
            created = now()
            record = {
                "payment_id": payment_id,
                "client_id": client_id,
                "payment_request_id": request_id,
                "scenario": scenario,
                "amount": total.minor,
                "currency": total.currency.code,
                "payment_method_id": code,
                "notify_url": field(body, "paymentNotifyUrl", required=False),
                "request_json": json.dumps(body),
                "created_at": created,
            }
            if fault is not None and fault.result_code is not None:
                declined = RESULTS[fault.result_code][0] == "F"
                tx.add_payment(**record, status="FAIL" if declined else "PROCESSING", result_code=fault.result_code)
                if fault.action == "late-success":
                    late.append(payment_id)
                return {"result": result(fault.result_code), "paymentRequestId": request_id, "paymentId": payment_id}
            try:
                wallet_id = self._charge(tx, client_id, payment_id, code, total, created)
            except Refused as refused:
                tx.add_payment(**record, status="FAIL", result_code=refused.code)
                return {"result": result(refused.code, refused.detail), "paymentRequestId": request_id, "paymentId": payment_id}
            tx.add_payment(**record, status="SUCCESS", result_code="SUCCESS", wallet_id=wallet_id,
                           wallet_amount=total.minor, wallet_currency=total.currency.code, paid_at=created)
            return {
                "result": result(),
                "paymentRequestId": request_id,
                "paymentId": payment_id,
                "paymentAmount": amount_json(total),
                "paymentCreateTime": timestamp(created),
                "paymentTime": timestamp(created),
                "pspCustomerInfo": {"pspName": PSP_NAME, "pspCustomerId": wallet_id},
            }

        response = self._once(client_id, "pay", request_id, body, work)
        for payment_id in late:
            timer = threading.Timer(fault.delay_ms / 1000, self._complete, (client_id, payment_id))
            timer.daemon = True
            timer.start()
        return response

    def _complete(self, client_id: str, payment_id: str) -> None:
        """Charge a PROCESSING payment for real, as presented (late-success); a cancelled one stays cancelled."""
        try:
            with self.store.begin() as tx:
                payment = tx.payment(client_id, payment_id=payment_id, lock=True)
                if payment is None or payment.status != "PROCESSING":
                    return  # cancelled first: nothing moves
                total = Money.of_minor(payment.amount, payment.currency)
                try:
                    wallet_id = self._charge(tx, client_id, payment_id, payment.payment_method_id, total, payment.created_at)
                    changes = {"status": "SUCCESS", "result_code": "SUCCESS", "wallet_id": wallet_id,
                               "wallet_amount": total.minor, "wallet_currency": total.currency.code, "paid_at": now()}
                except Refused as refused:
                    changes = {"status": "FAIL", "result_code": refused.code}
                if not tx.update_payment(payment_id, only_if_status="PROCESSING", **changes):
                    raise StoreError(f"payment {payment_id} was closed while it completed")  # undoes the posting
        except StoreError:
            log.exception("late-success payment %s did not complete; a cancel closes it if it is still PROCESSING", payment_id)

    def _charge(self, tx: Tx, client_id: str, payment_id: str, code: str, total: Money, at) -> str:
        """Take the customer's one-time code and move ``total`` from its wallet to the merchant."""
        wallet = tx.account(self._payer(tx, code, at))
        if wallet.currency != total.currency.code:
            raise Refused("CURRENCY_NOT_SUPPORT", f"the wallet holds {wallet.currency}, the payment is in {total.currency.code}")
        merchant = tx.merchant_account(client_id, total.currency.code)
        try:
            tx.post("payment", payment_id, [(wallet.id, -total.minor), (merchant, total.minor)], memo=f"pay {client_id}")
        except InsufficientFunds:
            raise Refused("USER_BALANCE_NOT_ENOUGH") from None
        return wallet.id

    def _payer(self, tx: Tx, code: str, at) -> str:
        """The wallet that the customer's code (taken now, once) pays from."""
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
        response = {
            "result": result(),
            "paymentStatus": payment.status,
            "paymentResultCode": payment.result_code,
            "paymentResultMessage": result(payment.result_code)["resultMessage"],
            "paymentRequestId": payment.payment_request_id,
            "paymentId": payment.payment_id,
            "paymentAmount": amount_json(Money.of_minor(payment.amount, payment.currency)),
            "paymentCreateTime": timestamp(payment.created_at),
        }
        if payment.paid_at is not None:
            response["paymentTime"] = timestamp(payment.paid_at)
        return response

    def cancel(self, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Close a payment; a successful one is reversed, its money back to the wallet."""
        with self.store.begin() as tx:
            payment = self._payment(tx, client_id, body, lock=True)
            if payment.status != "CANCELLED":
                if payment.status == "SUCCESS":
                    if tx.refunded_total(payment.payment_id):
                        raise Refused("ORDER_IS_CLOSED", "a refunded payment cannot be cancelled")
                    merchant = tx.merchant_account(client_id, payment.currency)
                    tx.post("cancel", payment.payment_id, [(merchant, -payment.amount), (payment.wallet_id, payment.amount)],
                            memo=f"cancel {client_id}")
                tx.update_payment(payment.payment_id, status="CANCELLED", cancelled_at=now())
                payment = tx.payment(client_id, payment_id=payment.payment_id)
        return {
            "result": result(),
            "paymentId": payment.payment_id,
            "paymentRequestId": payment.payment_request_id,
            "cancelTime": timestamp(payment.cancelled_at),
        }

    def refund(self, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Give back all or part of a successful payment, at most what is left of it."""
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
            left = payment.amount - tx.refunded_total(payment.payment_id)
            if total.minor > left:
                raise Refused("REFUND_AMOUNT_EXCEED", f"{left} minor units are left to refund")
            refund_id = _new_id("R")
            at = now()
            merchant = tx.merchant_account(client_id, payment.currency)
            tx.post("refund", refund_id, [(merchant, -total.minor), (payment.wallet_id, total.minor)], memo=f"refund {payment_id}")
            tx.add_refund(refund_id=refund_id, client_id=client_id, refund_request_id=request_id, payment_id=payment_id,
                          amount=total.minor, currency=total.currency.code, wallet_amount=total.minor,
                          wallet_currency=total.currency.code, status="SUCCESS",
                          reason=field(body, "refundReason", required=False, most=256), created_at=at)
            return {
                "result": result(),
                "refundRequestId": request_id,
                "refundId": refund_id,
                "paymentId": payment_id,
                "refundAmount": amount_json(total),
                "refundTime": timestamp(at),
            }

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
