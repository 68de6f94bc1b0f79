"""OrderCode and EntryCode payments: the terminal shows a merchant code, the customer's wallet scans
it (POST /sim/wallets/{id}/scan) and pays; the official client sees U, then the outcome on inquiry."""

import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from com.alipay.ams.api.model.in_store_payment_scenario import InStorePaymentScenario
from com.alipay.ams.api.model.store import Store
from com.alipay.ams.api.model.merchant import Merchant
from com.alipay.ams.api.request.pay.alipay_pay_cancel_request import AlipayPayCancelRequest
from com.alipay.ams.api.request.pay.alipay_pay_query_request import AlipayPayQueryRequest
from com.alipay.ams.api.request.pay.alipay_refund_request import AlipayRefundRequest
from com.alipay.ams.api.model.amount import Amount
from pos_sim.domain import ams_signature
from tests.integration.conftest import balance
from tests.integration.test_notifications import eventually, receiver  # noqa: F401  (receiver is a fixture)
from tests.integration.test_official_sdk import pay_request, sdk  # noqa: F401  (sdk is a fixture)


def merchant_code_request(scenario, value="1250", currency="SGD", store_id=None, expires=None):
    request = pay_request("", value, currency)
    request.payment_method.payment_method_id = None
    request.payment_factor.in_store_payment_scenario = scenario
    if store_id:
        merchant, store = Merchant(), Store()
        store.reference_store_id = store_id
        merchant.store = store
        request.order.merchant = merchant
    if expires:
        request.payment_expiry_time = expires
    return request


def scan(backend, wallet_id, code, confirm_ms=0):
    return requests.post(f"{backend.url}/sim/wallets/{wallet_id}/scan", json={"codeValue": code, "confirmMs": confirm_ms}, timeout=10)


def inquire(sdk, payment_id):
    query = AlipayPayQueryRequest()
    query.payment_id = payment_id
    return json.loads(sdk.execute(query))


def test_an_order_code_is_shown_scanned_paid_and_refunded(sdk, backend, wallet):
    customer = wallet("SGD", 10_000)
    shown = json.loads(sdk.execute(merchant_code_request(InStorePaymentScenario.ORDERCODE)))
    assert shown["result"]["resultCode"] == "PAYMENT_IN_PROCESS" and shown["result"]["resultStatus"] == "U"
    code = shown["orderCodeForm"]["codeDetails"][0]["codeValue"]
    assert code.startswith("https://") and shown["orderCodeForm"]["expireTime"]
    assert inquire(sdk, shown["paymentId"])["paymentStatus"] == "PROCESSING"

    paid = scan(backend, customer, code)
    assert paid.status_code == 200
    assert paid.json()["status"] == "SUCCESS" and paid.json()["paymentId"] == shown["paymentId"]
    status = inquire(sdk, shown["paymentId"])
    assert status["paymentStatus"] == "SUCCESS" and status["paymentTime"]
    assert balance(backend, customer) == 8_750

    again = scan(backend, wallet("SGD", 10_000), code)  # a second wallet cannot pay it again
    assert again.status_code == 404 and again.json()["error"]["code"] == "ORDER_NOT_EXIST"

    refund = AlipayRefundRequest()
    refund.refund_request_id = uuid.uuid4().hex
    refund.payment_id = shown["paymentId"]
    refund.refund_amount = Amount("SGD", "1250")
    assert json.loads(sdk.execute(refund))["result"]["resultStatus"] == "S"
    assert balance(backend, customer) == 10_000


def test_a_wallet_that_cannot_pay_fails_the_order_with_the_reason(sdk, backend, wallet):
    poor = wallet("SGD", 100)
    shown = json.loads(sdk.execute(merchant_code_request(InStorePaymentScenario.ORDERCODE)))
    answer = scan(backend, poor, shown["orderCodeForm"]["codeDetails"][0]["codeValue"]).json()
    assert (answer["status"], answer["resultCode"]) == ("FAIL", "USER_BALANCE_NOT_ENOUGH")
    status = inquire(sdk, shown["paymentId"])
    assert (status["paymentStatus"], status["paymentResultCode"]) == ("FAIL", "USER_BALANCE_NOT_ENOUGH")
    assert balance(backend, poor) == 100


def test_a_confirming_customer_keeps_the_payment_processing_and_a_cancel_wins(sdk, backend, wallet):
    customer = wallet("SGD", 10_000)
    shown = json.loads(sdk.execute(merchant_code_request(InStorePaymentScenario.ORDERCODE)))
    code = shown["orderCodeForm"]["codeDetails"][0]["codeValue"]
    answer = scan(backend, customer, code, confirm_ms=1500).json()  # long enough to see it PROCESSING on a busy machine
    assert answer["status"] == "PROCESSING" and answer["resultCode"] == "PAYMENT_IN_PROCESS"
    assert inquire(sdk, shown["paymentId"])["paymentStatus"] == "PROCESSING"
    deadline = time.monotonic() + 10
    while inquire(sdk, shown["paymentId"])["paymentStatus"] == "PROCESSING" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert inquire(sdk, shown["paymentId"])["paymentStatus"] == "SUCCESS" and balance(backend, customer) == 8_750

    second = json.loads(sdk.execute(merchant_code_request(InStorePaymentScenario.ORDERCODE, "500")))
    scan(backend, customer, second["orderCodeForm"]["codeDetails"][0]["codeValue"], confirm_ms=500)
    cancel = AlipayPayCancelRequest()
    cancel.payment_id = second["paymentId"]
    assert json.loads(sdk.execute(cancel))["result"]["resultStatus"] == "S"
    time.sleep(1.0)  # past the customer's confirmation: the cancelled payment stays cancelled
    assert inquire(sdk, second["paymentId"])["paymentStatus"] == "CANCELLED" and balance(backend, customer) == 8_750


def test_an_expired_order_code_closes_unpaid(sdk, backend, wallet):
    customer = wallet("SGD", 10_000)
    soon = (datetime.now(timezone.utc) + timedelta(seconds=1.5)).replace(microsecond=0).isoformat()
    shown = json.loads(sdk.execute(merchant_code_request(InStorePaymentScenario.ORDERCODE, expires=soon)))
    assert shown["orderCodeForm"]["expireTime"] == soon
    time.sleep(2.1)
    answer = scan(backend, customer, shown["orderCodeForm"]["codeDetails"][0]["codeValue"]).json()
    assert (answer["status"], answer["resultCode"]) == ("FAIL", "ORDER_IS_CLOSED")
    assert inquire(sdk, shown["paymentId"])["paymentStatus"] == "FAIL" and balance(backend, customer) == 10_000
    past = json.loads(sdk.execute(merchant_code_request(InStorePaymentScenario.ORDERCODE, expires="2020-01-01T00:00:00+08:00")))
    assert past["result"]["resultCode"] == "PARAM_ILLEGAL" and "paymentExpiryTime" in past["result"]["resultMessage"]


def test_the_static_entry_code_pays_the_amount_keyed_at_its_store(sdk, backend, wallet):
    customer = wallet("SGD", 10_000)
    entry = requests.get(f"{backend.url}/sim/merchants/SIM_DEMO/entry-code", params={"storeId": "TILL-2"}, timeout=10).json()
    other = requests.get(f"{backend.url}/sim/merchants/SIM_DEMO/entry-code", params={"storeId": "TILL-3"}, timeout=10).json()
    assert entry["codeValue"] != other["codeValue"]
    assert scan(backend, customer, entry["codeValue"]).status_code == 404  # nothing keyed yet

    first = json.loads(sdk.execute(merchant_code_request(InStorePaymentScenario.ENTRYCODE, "300", store_id="TILL-2")))
    second = json.loads(sdk.execute(merchant_code_request(InStorePaymentScenario.ENTRYCODE, "700", store_id="TILL-2")))
    assert first["result"]["resultCode"] == "PAYMENT_IN_PROCESS" and "orderCodeForm" not in first
    assert scan(backend, customer, other["codeValue"]).status_code == 404  # another till's code pays nothing here
    assert scan(backend, customer, entry["codeValue"]).json()["paymentId"] == first["paymentId"]
    assert scan(backend, customer, entry["codeValue"]).json()["paymentId"] == second["paymentId"]
    assert balance(backend, customer) == 9_000
    assert requests.get(f"{backend.url}/sim/merchants/NOBODY/entry-code", timeout=10).status_code == 404


def test_two_wallets_racing_for_one_order_code_pay_it_once(sdk, backend, wallet):
    shown = json.loads(sdk.execute(merchant_code_request(InStorePaymentScenario.ORDERCODE)))
    code = shown["orderCodeForm"]["codeDetails"][0]["codeValue"]
    customers = [wallet("SGD", 10_000) for _ in range(4)]
    answers = []
    threads = [threading.Thread(target=lambda w=w: answers.append(scan(backend, w, code))) for w in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 404, 404, 404]
    assert sorted(balance(backend, w) for w in customers) == [8_750, 10_000, 10_000, 10_000]


@pytest.mark.parametrize("body, where", [
    ({"codeValue": "https://example.com/o/x"}, "codeValue"),
    ({"codeValue": 12}, "body.codeValue"),
    ({}, "body.codeValue"),
    ({"codeValue": "https://qr.simwallet.test/o/x", "confirmMs": -1}, "body.confirmMs"),
])
def test_a_bad_scan_is_answered_400_saying_where(backend, wallet, body, where):
    answer = requests.post(f"{backend.url}/sim/wallets/{wallet()}/scan", json=body, timeout=10)
    assert answer.status_code == 400 and where in json.dumps(answer.json()["error"])


def test_scanning_with_an_unknown_wallet_is_404(backend):
    answer = scan(backend, "W-NOBODY", "https://qr.simwallet.test/o/x")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "USER_NOT_EXIST"


def test_the_merchant_is_notified_of_the_outcome_signed_once_the_wallet_pays(sdk, backend, wallet, receiver, data_dir):
    customer = wallet("SGD", 10_000)
    request = merchant_code_request(InStorePaymentScenario.ORDERCODE)
    request.payment_notify_url = receiver.url + "/pos/notify?till=7"
    shown = json.loads(sdk.execute(request))
    assert receiver.received == []  # nothing final yet: nothing notified
    scan(backend, customer, shown["orderCodeForm"]["codeDetails"][0]["codeValue"])
    (notice,) = receiver.wait_for(1)
    body = json.loads(notice.body)
    assert (body["notifyType"], body["paymentId"], body["result"]["resultStatus"]) == ("PAYMENT_RESULT", shown["paymentId"], "S")
    gateway_key = ams_signature.load_public_key((data_dir / "keys" / "gateway_public.pem").read_text())
    signature = ams_signature.parse_signature_header(notice.headers["signature"])[2]
    assert ams_signature.verify(gateway_key, "POST", "/pos/notify", "SIM_DEMO", notice.headers["request-time"], notice.body, signature)
    # the receiver has the notice before the notifier has its acknowledgement, and records it delivered
    notifications = f"{backend.url}/sim/payments/{shown['paymentId']}/notifications"
    eventually(lambda: requests.get(notifications, timeout=10).json()["notifications"][0]["delivered"], "shown delivered on /sim")
