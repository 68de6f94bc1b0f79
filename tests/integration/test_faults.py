"""Faults armed over /sim/faults, and trigger amounts, against the real backend on a loopback port,
driven by the provider's own client: what the client gets, and what the ledger and inquiry say after."""

import json
import time
import urllib.parse
import uuid

import pytest
import requests

from com.alipay.ams.api import default_alipay_client
from com.alipay.ams.api.default_alipay_client import DefaultAlipayClient
from com.alipay.ams.api.model.amount import Amount
from com.alipay.ams.api.request.pay.alipay_inquiry_refund_request import AlipayInquiryRefundRequest
from com.alipay.ams.api.request.pay.alipay_pay_cancel_request import AlipayPayCancelRequest
from com.alipay.ams.api.request.pay.alipay_pay_query_request import AlipayPayQueryRequest
from com.alipay.ams.api.request.pay.alipay_refund_request import AlipayRefundRequest
from pos_sim.backend import server
from tests.integration.conftest import balance, payment_code
from tests.integration.test_official_sdk import bare, pay_request


def http(backend, timeout_s: float):
    """The SDK's transport as plain HTTP to the loopback server, giving up after ``timeout_s``."""

    def do_post(url, headers=None, req_body=None, charset="UTF-8"):
        answer = requests.post(backend.url + urllib.parse.urlsplit(url).path, data=req_body.encode(charset),
                               headers=headers, timeout=timeout_s)
        if answer.status_code != 200:
            raise RuntimeError(f"invalid http status {answer.status_code}")
        return list(answer.headers.items()), answer.content

    return do_post


@pytest.fixture(scope="module")
def quiet_backend(tmp_path_factory):
    """One backend for the tests that arm nothing."""
    running = server.start(server.open_gateway(tmp_path_factory.mktemp("faults") / "data"))
    yield running
    running.stop()


@pytest.fixture
def sdk(backend, data_dir, monkeypatch):
    monkeypatch.setattr(default_alipay_client, "do_post", http(backend, 10))
    keys = data_dir / "keys"
    return DefaultAlipayClient("https://open-sea-global.alipay.com", "SIM_DEMO", bare((keys / "SIM_DEMO_private.pem").read_text()),
                               bare((keys / "gateway_public.pem").read_text()))


def arm(backend, **spec) -> dict:
    answer = requests.post(f"{backend.url}/sim/faults", json=spec, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


def armed(backend) -> list[dict]:
    return requests.get(f"{backend.url}/sim/faults", timeout=10).json()["faults"]


def pay(sdk, backend, wallet_id: str, value: str = "1250", currency: str = "SGD", request_id: str | None = None) -> dict:
    return json.loads(sdk.execute(pay_request(payment_code(backend, wallet_id), value, currency, request_id)))


def inquire(sdk, request_id: str) -> dict:
    query = AlipayPayQueryRequest()
    query.payment_request_id = request_id
    return json.loads(sdk.execute(query))


def cancel(sdk, request_id: str) -> dict:
    request = AlipayPayCancelRequest()
    request.payment_request_id = request_id
    return json.loads(sdk.execute(request))


def settled(sdk, request_id: str, within_s: float = 5.0) -> dict:
    """The inquiry once the payment is no longer PROCESSING."""
    deadline = time.monotonic() + within_s
    while (status := inquire(sdk, request_id))["paymentStatus"] == "PROCESSING" and time.monotonic() < deadline:
        time.sleep(0.05)
    return status


def test_decline_answers_f_records_fail_and_moves_nothing(sdk, backend, wallet):
    wallet_id = wallet("SGD", 10_000)
    fault = arm(backend, call="pay", action="decline", resultCode="RISK_REJECT")
    assert fault["id"] and fault["count"] == 1 and armed(backend) == [fault]
    code = payment_code(backend, wallet_id)
    declined = json.loads(sdk.execute(pay_request(code)))
    assert declined["result"] == {"resultCode": "RISK_REJECT", "resultStatus": "F",
                                  "resultMessage": "The request is rejected because of the risk control."}
    status = inquire(sdk, declined["paymentRequestId"])
    assert (status["paymentStatus"], status["paymentResultCode"]) == ("FAIL", "RISK_REJECT")
    assert balance(backend, wallet_id) == 10_000 and armed(backend) == []  # spent: the fault disarmed
    again = json.loads(sdk.execute(pay_request(code)))  # the declined pay did not use the code up
    assert again["result"]["resultStatus"] == "S" and balance(backend, wallet_id) == 8_750


def test_unknown_stays_processing_until_cancelled_and_nothing_moves(sdk, backend, wallet):
    wallet_id = wallet("SGD", 10_000)
    arm(backend, call="pay", action="unknown")
    unknown = pay(sdk, backend, wallet_id)
    assert unknown["result"]["resultStatus"] == "U" and unknown["result"]["resultCode"] == "PAYMENT_IN_PROCESS"
    request_id = unknown["paymentRequestId"]
    time.sleep(0.3)
    assert inquire(sdk, request_id)["paymentStatus"] == "PROCESSING" and balance(backend, wallet_id) == 10_000
    assert cancel(sdk, request_id)["result"]["resultStatus"] == "S"
    assert inquire(sdk, request_id)["paymentStatus"] == "CANCELLED" and balance(backend, wallet_id) == 10_000


def test_late_success_completes_after_its_delay_and_a_cancel_then_reverses_it(sdk, backend, wallet):
    wallet_id = wallet("SGD", 10_000)
    arm(backend, call="pay", action="late-success", delayMs=1500)  # long enough to see it PROCESSING on a busy machine
    late = pay(sdk, backend, wallet_id)
    assert late["result"]["resultStatus"] == "U" and inquire(sdk, late["paymentRequestId"])["paymentStatus"] == "PROCESSING"
    assert balance(backend, wallet_id) == 10_000
    status = settled(sdk, late["paymentRequestId"])
    assert (status["paymentStatus"], status["paymentResultCode"]) == ("SUCCESS", "SUCCESS") and "paymentTime" in status
    assert balance(backend, wallet_id) == 8_750
    assert cancel(sdk, late["paymentRequestId"])["result"]["resultStatus"] == "S"
    assert balance(backend, wallet_id) == 10_000


def test_a_cancel_before_the_late_success_wins_and_money_never_moves(sdk, backend, wallet):
    wallet_id = wallet("SGD", 10_000)
    arm(backend, call="pay", action="late-success", delayMs=300)
    late = pay(sdk, backend, wallet_id)
    assert cancel(sdk, late["paymentRequestId"])["result"]["resultStatus"] == "S"
    time.sleep(0.5)
    assert inquire(sdk, late["paymentRequestId"])["paymentStatus"] == "CANCELLED"
    wallet_view = requests.get(f"{backend.url}/sim/wallets/{wallet_id}", timeout=10).json()
    assert wallet_view["balance"] == 10_000 and [h["kind"] for h in wallet_view["history"]] == ["fund"]


def test_a_late_success_that_cannot_be_charged_ends_fail(sdk, backend, wallet):
    poor = wallet("SGD", 100)
    arm(backend, call="pay", action="late-success", delayMs=200)
    late = pay(sdk, backend, poor)
    status = settled(sdk, late["paymentRequestId"])
    assert (status["paymentStatus"], status["paymentResultCode"]) == ("FAIL", "USER_BALANCE_NOT_ENOUGH")
    assert balance(backend, poor) == 100


def test_timeout_holds_the_answer_past_the_client_while_the_payment_succeeds(sdk, backend, wallet, monkeypatch):
    wallet_id = wallet("SGD", 10_000)
    arm(backend, call="pay", action="timeout")  # held 15 s, or until the client hangs up
    request = pay_request(payment_code(backend, wallet_id))
    monkeypatch.setattr(default_alipay_client, "do_post", http(backend, 0.5))
    with pytest.raises(requests.ReadTimeout):
        sdk.execute(request)
    monkeypatch.setattr(default_alipay_client, "do_post", http(backend, 10))
    assert inquire(sdk, request.payment_request_id)["paymentStatus"] == "SUCCESS" and balance(backend, wallet_id) == 8_750
    again = json.loads(sdk.execute(request))  # the fault is spent: a retry gets the first answer at once
    assert again["result"]["resultStatus"] == "S" and balance(backend, wallet_id) == 8_750

    arm(backend, call="pay", action="timeout", resultCode="USER_STATUS_ABNORMAL", delayMs=2000)  # declined, then held
    request = pay_request(payment_code(backend, wallet_id))
    monkeypatch.setattr(default_alipay_client, "do_post", http(backend, 0.5))
    with pytest.raises(requests.ReadTimeout):
        sdk.execute(request)
    monkeypatch.setattr(default_alipay_client, "do_post", http(backend, 10))
    status = inquire(sdk, request.payment_request_id)
    assert (status["paymentStatus"], status["paymentResultCode"]) == ("FAIL", "USER_STATUS_ABNORMAL")
    assert balance(backend, wallet_id) == 8_750


def test_error_answers_http_500_and_records_nothing(sdk, backend, wallet):
    wallet_id = wallet("SGD", 10_000)
    arm(backend, call="pay", action="error")
    request = pay_request(payment_code(backend, wallet_id))
    with pytest.raises(RuntimeError, match="invalid http status 500"):
        sdk.execute(request)
    assert inquire(sdk, request.payment_request_id)["result"]["resultCode"] == "ORDER_NOT_EXIST"
    assert balance(backend, wallet_id) == 10_000
    retried = json.loads(sdk.execute(request))  # the fault is spent; the same request now pays, once
    assert retried["result"]["resultStatus"] == "S" and balance(backend, wallet_id) == 8_750


def test_count_and_match_pick_the_calls_a_fault_answers(sdk, backend, wallet):
    wallet_id = wallet("SGD", 100_000)
    arm(backend, call="pay", action="decline", resultCode="USER_AMOUNT_EXCEED_LIMIT", count=2,
        match={"paymentAmount.value": 777})
    assert pay(sdk, backend, wallet_id, "1250")["result"]["resultStatus"] == "S"
    assert pay(sdk, backend, wallet_id, "777")["result"]["resultCode"] == "USER_AMOUNT_EXCEED_LIMIT"
    assert armed(backend)[0]["count"] == 1
    assert pay(sdk, backend, wallet_id, "777")["result"]["resultCode"] == "USER_AMOUNT_EXCEED_LIMIT"
    assert armed(backend) == []
    assert pay(sdk, backend, wallet_id, "777")["result"]["resultStatus"] == "S"
    assert balance(backend, wallet_id) == 100_000 - 1250 - 777

    arm(backend, call="pay", action="decline", count=-1, match={"paymentAmount.value": "100", "paymentAmount.currency": "SGD"})
    for _ in range(3):
        assert pay(sdk, backend, wallet_id, "100")["result"]["resultCode"] == "PROCESS_FAIL"
    assert armed(backend)[0]["count"] == -1
    assert pay(sdk, backend, wallet_id, "101")["result"]["resultStatus"] == "S"
    assert requests.delete(f"{backend.url}/sim/faults", timeout=10).json() == {"cleared": 1} and armed(backend) == []
    assert pay(sdk, backend, wallet_id, "100")["result"]["resultStatus"] == "S"
    assert balance(backend, wallet_id) == 100_000 - 1250 - 777 - 101 - 100


def test_faults_on_cancel_and_refund_answer_in_their_place_and_do_nothing(sdk, backend, wallet):
    wallet_id = wallet("SGD", 10_000)
    paid = pay(sdk, backend, wallet_id)
    arm(backend, call="cancel", action="unknown")
    assert cancel(sdk, paid["paymentRequestId"])["result"]["resultCode"] == "UNKNOWN_EXCEPTION"
    assert inquire(sdk, paid["paymentRequestId"])["paymentStatus"] == "SUCCESS" and balance(backend, wallet_id) == 8_750
    assert cancel(sdk, paid["paymentRequestId"])["result"]["resultStatus"] == "S"  # U means retry: now it is done
    assert balance(backend, wallet_id) == 10_000

    paid = pay(sdk, backend, wallet_id)

    arm(backend, call="refund", action="decline", resultCode="REFUND_WINDOW_EXCEED")
    refund = AlipayRefundRequest()
    refund.refund_request_id = uuid.uuid4().hex
    refund.payment_id = paid["paymentId"]
    refund.refund_amount = Amount("SGD", "250")
    assert json.loads(sdk.execute(refund))["result"]["resultCode"] == "REFUND_WINDOW_EXCEED"
    inquiry = AlipayInquiryRefundRequest()
    inquiry.refund_request_id = refund.refund_request_id
    assert json.loads(sdk.execute(inquiry))["result"]["resultCode"] == "ORDER_NOT_EXIST" and balance(backend, wallet_id) == 8_750
    assert json.loads(sdk.execute(refund))["result"]["resultStatus"] == "S" and balance(backend, wallet_id) == 9_000


def test_a_refund_retried_after_its_answer_was_lost_answers_as_made_whatever_fault_is_armed(sdk, backend, wallet, monkeypatch):
    """Found by the chaos suite: the first attempt made the refund and its answer was held past the client's
    timeout; the retry met a decline armed meanwhile, and the terminal recorded as refused a refund the wallet had."""
    wallet_id = wallet("SGD", 10_000)
    paid = pay(sdk, backend, wallet_id)
    refund = AlipayRefundRequest()
    refund.refund_request_id = uuid.uuid4().hex
    refund.payment_id = paid["paymentId"]
    refund.refund_amount = Amount("SGD", "250")
    arm(backend, call="refund", action="timeout", delayMs=2000)
    monkeypatch.setattr(default_alipay_client, "do_post", http(backend, 0.5))
    with pytest.raises(requests.ReadTimeout):
        sdk.execute(refund)
    monkeypatch.setattr(default_alipay_client, "do_post", http(backend, 10))
    arm(backend, call="refund", action="decline", resultCode="REFUND_WINDOW_EXCEED")
    again = json.loads(sdk.execute(refund))
    assert again["result"]["resultStatus"] == "S" and again["refundAmount"] == {"currency": "SGD", "value": "250"}
    assert balance(backend, wallet_id) == 9_000
    assert armed(backend) == []  # the decline was met (and spent) by the retry, which it could not undo


def test_ordinary_prices_pay_as_usual(sdk, backend, wallet):
    wallet_id = wallet("SGD", 10_000)
    prices = ["1200", "1250", "1290", "1299", "1295", "50", "99"]
    for value in prices:
        assert pay(sdk, backend, wallet_id, value)["result"]["resultStatus"] == "S", value
    assert balance(backend, wallet_id) == 10_000 - sum(map(int, prices))


def test_trigger_amounts(sdk, backend, wallet, monkeypatch):
    yen = wallet("JPY", 10_000)
    late = pay(sdk, backend, yen, "1054", "JPY")  # JPY 1,054: charged 3 s later
    assert late["result"]["resultStatus"] == "U" and balance(backend, yen) == 10_000

    wallet_id = wallet("SGD", 10_000)
    for value, code in (("1251", "USER_BALANCE_NOT_ENOUGH"), ("1252", "RISK_REJECT")):
        declined = pay(sdk, backend, wallet_id, value)
        assert declined["result"]["resultCode"] == code
        assert inquire(sdk, declined["paymentRequestId"])["paymentStatus"] == "FAIL"
    unknown = pay(sdk, backend, wallet_id, "1253")
    assert unknown["result"]["resultStatus"] == "U"
    assert inquire(sdk, unknown["paymentRequestId"])["paymentStatus"] == "PROCESSING"
    request = pay_request(payment_code(backend, wallet_id), "1259")
    with pytest.raises(RuntimeError, match="invalid http status 500"):
        sdk.execute(request)
    assert inquire(sdk, request.payment_request_id)["result"]["resultCode"] == "ORDER_NOT_EXIST"
    assert balance(backend, wallet_id) == 10_000
    table = requests.get(f"{backend.url}/sim/faults", timeout=10).json()["triggerAmounts"]
    assert {row["endsWith"]: row["action"] for row in table} == {
        "51": "decline", "52": "decline", "53": "unknown", "54": "late-success", "55": "timeout", "59": "error"}

    request = pay_request(payment_code(backend, yen), "2055", currency="JPY")  # answered 15 s later
    monkeypatch.setattr(default_alipay_client, "do_post", http(backend, 0.5))
    with pytest.raises(requests.ReadTimeout):
        sdk.execute(request)
    monkeypatch.setattr(default_alipay_client, "do_post", http(backend, 10))
    assert inquire(sdk, request.payment_request_id)["paymentStatus"] == "SUCCESS"
    assert settled(sdk, late["paymentRequestId"])["paymentStatus"] == "SUCCESS"
    assert balance(backend, yen) == 10_000 - 1054 - 2055


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"call": "payy", "action": "decline"}, "body.call"),
        ({"call": "pay", "action": "explode"}, "body.action"),
        ({"action": "decline"}, "body.call"),
        ({"call": "pay", "action": "decline", "resultCode": "NOT_A_CODE"}, "body.resultCode"),
        ({"call": "pay", "action": "decline", "resultCode": "PAYMENT_IN_PROCESS"}, "body.resultCode"),
        ({"call": "pay", "action": "unknown", "resultCode": "RISK_REJECT"}, "body.resultCode"),
        ({"call": "pay", "action": "error", "resultCode": "RISK_REJECT"}, "body.resultCode"),
        ({"call": "pay", "action": "decline", "count": 0}, "body.count"),
        ({"call": "pay", "action": "timeout", "count": 3_051_329_458}, "body.count"),  # past any 32-bit column (found by schemathesis)
        ({"call": "pay", "action": "decline", "count": "2"}, "body.count"),
        ({"call": "pay", "action": "decline", "delayMs": 100}, "body.delayMs"),
        ({"call": "pay", "action": "timeout", "delayMs": -1}, "body.delayMs"),
        ({"call": "refund", "action": "late-success"}, "body.action"),
        ({"call": "pay", "action": "decline", "match": {"paymentAmount..value": "1"}}, "body.match"),
        ({"call": "pay", "action": "decline", "match": {"paymentAmount.value": True}}, "body.match"),
        ({"call": "pay", "action": "decline", "when": "now"}, "body.when"),
        (["pay", "decline"], "body"),
    ],
)
def test_a_bad_fault_spec_is_refused_with_what_and_where(quiet_backend, spec, where):
    backend = quiet_backend
    answer = requests.post(f"{backend.url}/sim/faults", json=spec, timeout=10)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "PARAM_ILLEGAL" and where in error["where"] and error["message"].startswith(where)
    assert armed(backend) == []


def test_a_body_that_is_not_json_is_refused(quiet_backend):
    backend = quiet_backend
    answer = requests.post(f"{backend.url}/sim/faults", data=b"{call: pay", timeout=10,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"]["message"].startswith("body: not JSON")


def test_the_fault_api_is_in_the_openapi_document(quiet_backend):
    backend = quiet_backend
    document = requests.get(f"{backend.url}/sim/openapi.json", timeout=10).json()
    assert {"post", "get", "delete"} <= set(document["paths"]["/sim/faults"])
    assert {"call", "action", "resultCode", "count", "delayMs", "match"} <= set(document["components"]["schemas"]["FaultSpec"]["properties"])
