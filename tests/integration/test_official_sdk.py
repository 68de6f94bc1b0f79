"""The provider's own client, global-open-sdk-python, pays, inquires, cancels and refunds against the
simulated backend on a loopback port: signatures both ways, the wire format, the ledger."""

import json
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from com.alipay.ams.api import default_alipay_client
from com.alipay.ams.api.default_alipay_client import DefaultAlipayClient
from com.alipay.ams.api.model.amount import Amount
from com.alipay.ams.api.model.in_store_payment_scenario import InStorePaymentScenario
from com.alipay.ams.api.model.order import Order
from com.alipay.ams.api.model.payment_factor import PaymentFactor
from com.alipay.ams.api.model.payment_method import PaymentMethod
from com.alipay.ams.api.model.product_code_type import ProductCodeType
from com.alipay.ams.api.request.pay.alipay_inquiry_refund_request import AlipayInquiryRefundRequest
from com.alipay.ams.api.request.pay.alipay_pay_cancel_request import AlipayPayCancelRequest
from com.alipay.ams.api.request.pay.alipay_pay_query_request import AlipayPayQueryRequest
from com.alipay.ams.api.request.pay.alipay_pay_request import AlipayPayRequest
from com.alipay.ams.api.request.pay.alipay_refund_request import AlipayRefundRequest
from sqlalchemy import bindparam, create_engine, select
from sqlalchemy.engine import make_url

from pos_sim.backend.store.tables import payments
from tests.integration.conftest import balance, payment_code


@pytest.fixture
def sdk(backend, data_dir, monkeypatch):
    """The official client, its HTTPS transport replaced by plain HTTP to the loopback server (docs/ams-in-store-api.md)."""

    def do_post(url, headers=None, req_body=None, charset="UTF-8"):
        path = urllib.parse.urlsplit(url).path
        answer = requests.post(backend.url + path, data=req_body.encode(charset), headers=headers, timeout=10)
        if answer.status_code != 200:
            raise RuntimeError(f"invalid http status {answer.status_code}")
        return list(answer.headers.items()), answer.content

    monkeypatch.setattr(default_alipay_client, "do_post", do_post)
    keys = data_dir / "keys"
    return DefaultAlipayClient(
        "https://open-sea-global.alipay.com",
        "SIM_DEMO",
        bare((keys / "SIM_DEMO_private.pem").read_text()),
        bare((keys / "gateway_public.pem").read_text()),
    )


def bare(pem: str) -> str:
    """A key as the provider's dashboard hands it out: the one-line base64 body of the PEM."""
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


def pay_request(code: str, value: str = "1250", currency: str = "SGD", request_id: str | None = None) -> AlipayPayRequest:
    request = AlipayPayRequest()
    request.product_code = ProductCodeType.IN_STORE_PAYMENT
    request.payment_request_id = request_id or uuid.uuid4().hex
    request.payment_amount = Amount(currency, value)
    method = PaymentMethod()
    method.payment_method_type = "CONNECT_WALLET"
    method.payment_method_id = code
    request.payment_method = method
    factor = PaymentFactor()
    factor.in_store_payment_scenario = InStorePaymentScenario.PAYMENTCODE
    request.payment_factor = factor
    order = Order()
    order.reference_order_id = "ORDER-1"
    order.order_description = "2 x kopi"
    order.order_amount = Amount(currency, value)
    request.order = order
    return request


def test_pay_inquire_refund_and_cancel_with_the_official_client(sdk, backend, wallet):
    wallet_id = wallet("SGD", 10_000)
    paid = json.loads(sdk.execute(pay_request(payment_code(backend, wallet_id))))
    assert paid["result"]["resultStatus"] == "S" and paid["paymentAmount"] == {"currency": "SGD", "value": "1250"}
    assert balance(backend, wallet_id) == 8_750

    query = AlipayPayQueryRequest()
    query.payment_id = paid["paymentId"]
    status = json.loads(sdk.execute(query))
    assert status["paymentStatus"] == "SUCCESS" and status["paymentRequestId"] == paid["paymentRequestId"]

    refund = AlipayRefundRequest()
    refund.refund_request_id = uuid.uuid4().hex
    refund.payment_id = paid["paymentId"]
    refund.refund_amount = Amount("SGD", "250")
    refunded = json.loads(sdk.execute(refund))
    assert refunded["result"]["resultStatus"] == "S" and balance(backend, wallet_id) == 9_000
    inquiry = AlipayInquiryRefundRequest()
    inquiry.refund_request_id = refund.refund_request_id
    assert json.loads(sdk.execute(inquiry))["refundStatus"] == "SUCCESS"

    second = json.loads(sdk.execute(pay_request(payment_code(backend, wallet_id), "500")))
    cancel = AlipayPayCancelRequest()
    cancel.payment_request_id = second["paymentRequestId"]
    cancelled = json.loads(sdk.execute(cancel))
    assert cancelled["result"]["resultStatus"] == "S" and cancelled["paymentId"] == second["paymentId"]
    assert balance(backend, wallet_id) == 9_000  # the cancelled payment's money is back


def test_declines_come_back_signed_with_their_result_codes(sdk, backend, wallet):
    poor = wallet("SGD", 100)
    code = payment_code(backend, poor)
    declined = json.loads(sdk.execute(pay_request(code, "1250")))
    assert declined["result"] == {"resultCode": "USER_BALANCE_NOT_ENOUGH", "resultStatus": "F",
                                  "resultMessage": "The user balance is not enough for the payment."}
    reused = json.loads(sdk.execute(pay_request(code, "50")))
    assert reused["result"]["resultCode"] == "INVALID_CODE"
    assert json.loads(sdk.execute(pay_request("251001029999999999999999")))["result"]["resultCode"] == "INVALID_CODE"
    assert balance(backend, poor) == 100


def test_the_same_request_id_moves_money_once(sdk, backend, wallet):
    wallet_id = wallet("SGD", 10_000)
    code = payment_code(backend, wallet_id)
    first = json.loads(sdk.execute(pay_request(code, request_id="till-7-0001")))
    again = json.loads(sdk.execute(pay_request(code, request_id="till-7-0001")))
    assert again == first and balance(backend, wallet_id) == 8_750
    other = json.loads(sdk.execute(pay_request(code, "999", request_id="till-7-0001")))
    assert other["result"]["resultCode"] == "REPEAT_REQ_INCONSISTENT" and balance(backend, wallet_id) == 8_750


def test_a_request_with_a_bad_signature_is_refused_and_answered_signed(backend):
    body = json.dumps({"paymentId": "P1"}).encode()
    answer = requests.post(
        backend.url + "/ams/api/v1/payments/inquiryPayment", data=body, timeout=10,
        headers={"client-id": "SIM_DEMO", "Request-Time": "2026-11-21T10:00:00+08:00",
                 "Signature": "algorithm=RSA256,keyVersion=1,signature=bm90LWEtc2lnbmF0dXJl"},
    )
    assert answer.status_code == 200 and answer.json()["result"]["resultCode"] == "INVALID_SIGNATURE"
    assert {"client-id", "response-time", "signature"} <= set(answer.headers)
    unknown = requests.post(backend.url + "/ams/api/v1/payments/pay", data=body, timeout=10, headers={"client-id": "NOBODY"})
    assert unknown.json()["result"]["resultCode"] == "INVALID_CLIENT"


def test_concurrent_pays_are_each_committed_when_answered(sdk, backend, wallet, url):
    """Pays sent at once (on SQLite, committed together, one fsync for several): each answered SUCCESS is
    already in the ledger as another connection reads it, the moment its answer arrives."""
    wallets = [wallet("SGD", 10_000) for _ in range(6)]

    parsed = make_url(url)
    reader = create_engine(parsed.set(drivername="postgresql+psycopg") if parsed.get_backend_name() == "postgresql" else parsed)
    # a plain read: what is committed now (on SQLite, without waiting for the backend's write lock)
    status = select(payments.c.status).where(payments.c.client_id == "SIM_DEMO", payments.c.payment_request_id == bindparam("rid"))

    def pays_of(wallet_id: str) -> list[str | None]:
        found = []
        for n in range(5):
            request_id = f"till-{wallet_id}-{n}"
            answer = json.loads(sdk.execute(pay_request(payment_code(backend, wallet_id), "100", request_id=request_id)))
            assert answer["result"]["resultCode"] == "SUCCESS", answer
            with reader.connect() as conn:
                found.append(conn.execute(status, {"rid": request_id}).scalar_one_or_none())
        return found

    try:
        with ThreadPoolExecutor(len(wallets)) as pool:
            statuses = [found for of_wallet in pool.map(pays_of, wallets) for found in of_wallet]
    finally:
        reader.dispose()
    assert statuses == ["SUCCESS"] * 30
    assert [balance(backend, wallet_id) for wallet_id in wallets] == [9_500] * 6
