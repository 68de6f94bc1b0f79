"""The simulator's clock (GET/POST /sim/clock): moved on, it makes payment codes, order codes and
device tokens go stale at once, while the deadlines a terminal sets and reads stay in real time."""

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests

from com.alipay.ams.api.model.in_store_payment_scenario import InStorePaymentScenario
from tests.integration.conftest import balance, payment_code
from tests.integration.test_device_tokens import provision, tap
from tests.integration.test_merchant_codes import inquire, merchant_code_request, scan
from tests.integration.test_official_sdk import pay_request, sdk  # noqa: F401  (sdk is a fixture)


def advance(backend, seconds):
    return requests.post(f"{backend.url}/sim/clock", json={"advanceSeconds": seconds}, timeout=10)


def clock(backend):
    return requests.get(f"{backend.url}/sim/clock", timeout=10).json()


def test_the_clock_moves_on_and_says_where_it_is(backend):
    assert clock(backend)["offsetSeconds"] == 0
    moved = advance(backend, 3600)
    assert moved.status_code == 200 and moved.json()["offsetSeconds"] == 3600
    shown = datetime.fromisoformat(moved.json()["now"])
    expected = datetime.now(timezone.utc) + timedelta(hours=1)
    assert abs((shown - expected).total_seconds()) < 5
    assert advance(backend, 60).json()["offsetSeconds"] == 3660 and clock(backend)["offsetSeconds"] == 3660


@pytest.mark.parametrize("body", [{"advanceSeconds": 0}, {"advanceSeconds": -60}, {"advanceSeconds": "soon"},
                                  {"advanceSeconds": 400 * 86400}, {}, {"advanceSeconds": 1.5}])
def test_a_bad_move_is_refused_saying_what_and_the_clock_stays(backend, body):
    answer = requests.post(f"{backend.url}/sim/clock", json=body, timeout=10)
    assert answer.status_code == 400 and "advanceSeconds" in answer.text
    assert clock(backend)["offsetSeconds"] == 0


def test_a_payment_code_shown_too_long_expires(sdk, backend, wallet):
    customer = wallet("SGD", 10_000)
    stale = payment_code(backend, customer)
    assert advance(backend, 90).status_code == 200  # a code lives about a minute
    refused = json.loads(sdk.execute(pay_request(stale, "1250")))
    assert refused["result"]["resultCode"] == "EXPIRED_CODE" and balance(backend, customer) == 10_000
    fresh = json.loads(sdk.execute(pay_request(payment_code(backend, customer), "1250")))
    assert fresh["result"]["resultCode"] == "SUCCESS" and balance(backend, customer) == 8_750
    paid_at = datetime.fromisoformat(fresh["paymentTime"])  # the payment happened in the simulator's time
    assert paid_at - datetime.now(timezone.utc) > timedelta(seconds=80)


def test_an_order_code_closes_unpaid_when_the_clock_passes_its_expiry(sdk, backend, wallet):
    customer = wallet("SGD", 10_000)
    advance(backend, 7200)  # a terminal's deadlines stay real: its expiry time is taken as it meant it
    expires = (datetime.now(timezone.utc) + timedelta(minutes=2)).replace(microsecond=0).isoformat()
    shown = json.loads(sdk.execute(merchant_code_request(InStorePaymentScenario.ORDERCODE, expires=expires)))
    assert shown["result"]["resultCode"] == "PAYMENT_IN_PROCESS" and shown["orderCodeForm"]["expireTime"] == expires
    assert inquire(sdk, shown["paymentId"])["paymentStatus"] == "PROCESSING"
    advance(backend, 121)
    answer = scan(backend, customer, shown["orderCodeForm"]["codeDetails"][0]["codeValue"]).json()
    assert (answer["status"], answer["resultCode"]) == ("FAIL", "ORDER_IS_CLOSED")
    closed = inquire(sdk, shown["paymentId"])
    assert (closed["paymentStatus"], closed["paymentResultCode"]) == ("FAIL", "ORDER_IS_CLOSED")
    assert balance(backend, customer) == 10_000


def test_a_device_token_past_its_expiry_is_refused(sdk, backend, wallet):
    customer = wallet("SGD", 10_000)
    token = provision(backend, customer)
    for _ in range(6):  # two years at a time, past the token's expiry month
        advance(backend, 366 * 86400)
    refused = json.loads(sdk.execute(pay_request(tap(backend, token["tokenId"])["payload"], "500")))
    assert refused["result"]["resultCode"] == "EXPIRED_CODE" and balance(backend, customer) == 10_000
