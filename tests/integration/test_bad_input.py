"""Bad input at the real backend on a loopback port (SQLite, and PostgreSQL when POS_SIM_TEST_PG is set):
bodies over the limit (by Content-Length and chunked), wrong content types, bad JSON, unknown members,
missing, garbage, tampered and foreign signatures, stale and future request times, replays. Each is
answered with its documented result code, and the database holds exactly what it held before (every
row of every table); a payment code a refused call carried still pays afterwards.

Then property tests (hypothesis): correctly signed AMS and /transit calls with bodies drawn from
strategies (any JSON, and valid bodies with members deleted, retyped or out of range) are always
answered HTTP 200, signed by the gateway, with a result code of protocol.RESULTS, and move money only
when the result is S (the wallet's balance moves by exactly what the answer says; the ledger balances).
A few dozen examples each, to keep the file under a minute on SQLite and PostgreSQL; POS_SIM_FUZZ_SCALE=20
draws twenty times as many.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from pos_sim.backend.store import keys
from pos_sim.backend.edge.app import ADMIN_MAX_BODY, AMS_MAX_BODY
from pos_sim.backend.protocol import MAX_JSON_DEPTH, REQUEST_TIME_WINDOW_S, RESULTS
from pos_sim.backend.store.tables import metadata
from pos_sim.backend.services.transit import MAX_BODY_BYTES as TRANSIT_MAX_BODY, MAX_TAPS
from pos_sim.domain import ams_signature
from tests.integration.conftest import balance, payment_code

PAY = "/ams/api/v1/payments/pay"
AMS = "/ams/api/v1/payments/"


# --- a merchant's signed calls, and what the database holds ------------------------------------------------


def at(offset_s: float = 0) -> str:
    """A Request-Time ``offset_s`` from now, as the terminal writes it."""
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat(timespec="seconds")


class Merchant:
    """A merchant's signed calls (the demo merchant's key from the data dir), every answer's signature checked."""

    def __init__(self, backend, data_dir, client_id: str = "SIM_DEMO") -> None:
        self.url = backend.url
        self.client_id = client_id
        self.key = keys.read_private_key(data_dir / "keys" / f"{client_id}_private.pem")
        self.gateway_key = keys.read_public_key(data_dir / "keys" / "gateway_public.pem")

    def headers(self, method: str, path: str, body: bytes, *, time: str | None = None, key: Any = None,
                client_id: str | None = None) -> dict[str, str]:
        time = time or at()
        client_id = client_id or self.client_id
        signed = ams_signature.sign(key or self.key, method, path, client_id, time, body)
        return {"client-id": client_id, "request-time": time, "signature": ams_signature.signature_header(signed),
                "content-type": "application/json; charset=UTF-8"}

    def send(self, path: str, body: bytes | Iterator[bytes], *, method: str = "POST", headers: dict | None = None,
             **signing: Any) -> requests.Response:
        """``body`` signed (a stream is signed over its bytes joined) and sent; ``headers`` override the signed ones."""
        if not isinstance(body, bytes):
            chunks = list(body)
            signed, body = b"".join(chunks), iter(chunks)
        else:
            signed = body
        sent = self.headers(method, path, signed, **signing) | (headers or {})
        return requests.request(method, self.url + path, data=body, headers=sent, timeout=30)

    def verified(self, answer: requests.Response, method: str, path: str) -> dict:
        """The answer's body, once it is HTTP 200, signed by the gateway over this call, with a known result."""
        assert answer.status_code == 200, answer.text
        _algorithm, _version, value = ams_signature.parse_signature_header(answer.headers["signature"])
        assert ams_signature.verify(self.gateway_key, method, path, answer.headers["client-id"],
                                    answer.headers["response-time"], answer.content, value), "the answer's signature"
        said = answer.json()
        code = said["result"]["resultCode"]
        assert code in RESULTS and said["result"]["resultStatus"] == RESULTS[code][0], said
        return said

    def call(self, path: str, body: bytes | dict | Iterator[bytes], *, method: str = "POST", **options: Any) -> dict:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        return self.verified(self.send(path, data, method=method, **options), method, path)


@pytest.fixture
def merchant(backend, data_dir) -> Merchant:
    return Merchant(backend, data_dir)


def snapshot(backend) -> dict[str, list[str]]:
    """Every row of every table of the backend's database."""
    with backend.gateway.store.begin() as tx:
        return {table.name: sorted(map(repr, tx.connection.execute(select(table)).all())) for table in metadata.sorted_tables}


def trial_balance(backend) -> dict[str, int]:
    with backend.gateway.store.begin() as tx:
        return tx.trial_balance()


def pay_body(code: str, value: str = "1250", currency: str = "SGD", request_id: str | None = None) -> dict:
    return {
        "productCode": "IN_STORE_PAYMENT",
        "paymentRequestId": request_id or uuid.uuid4().hex,
        "paymentAmount": {"currency": currency, "value": value},
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET", "paymentMethodId": code},
        "paymentFactor": {"inStorePaymentScenario": "PaymentCode"},
        "order": {"referenceOrderId": "ORDER-1", "orderDescription": "2 x kopi",
                  "orderAmount": {"currency": currency, "value": value}},
    }


def result_of(said: dict) -> str:
    return said["result"]["resultCode"]


# --- bodies over the limit -----------------------------------------------------------------------------------


def padded(body: dict, size: int) -> bytes:
    """``body`` as JSON with spaces after it (still the same JSON) to exactly ``size`` bytes."""
    data = json.dumps(body).encode()
    return data + b" " * (size - len(data))


def test_an_ams_body_over_64_kib_is_refused_signed_and_the_code_it_carried_still_pays(backend, merchant, wallet):
    wallet_id = wallet("SGD", 10_000)
    code = payment_code(backend, wallet_id)
    before = snapshot(backend)
    over = padded(pay_body(code), AMS_MAX_BODY + 1)
    for body in (over, iter([over[:40_000], over[40_000:]])):  # by Content-Length, then chunked (no Content-Length)
        said = merchant.call(PAY, body)
        assert result_of(said) == "PARAM_ILLEGAL" and "64 KiB" in said["result"]["resultMessage"]
    assert snapshot(backend) == before
    said = merchant.call(PAY, padded(pay_body(code), AMS_MAX_BODY))  # exactly the limit: taken
    assert result_of(said) == "SUCCESS" and balance(backend, wallet_id) == 8_750


def test_an_admin_body_over_64_kib_is_http_413_and_opens_no_wallet(backend):
    before = snapshot(backend)
    body = padded({"currency": "SGD", "balance": 500, "name": "big"}, ADMIN_MAX_BODY + 1)
    headers = {"content-type": "application/json"}
    for data in (body, iter([body[:1000], body[1000:]])):
        answer = requests.post(f"{backend.url}/sim/wallets", data=data, headers=headers, timeout=30)
        assert answer.status_code == 413
        assert answer.json()["error"]["code"] == "PARAM_ILLEGAL" and "64 KiB" in answer.json()["error"]["message"]
    assert snapshot(backend) == before
    fits = requests.post(f"{backend.url}/sim/wallets", data=padded({"currency": "SGD", "balance": 500}, ADMIN_MAX_BODY),
                         headers=headers, timeout=30)
    assert fits.status_code == 200 and balance(backend, fits.json()["walletId"]) == 500


def worst_tap(index: int) -> dict:
    """A legal tap with every text member at its longest (the station one of the metro's), each character a
    surrogate pair once escaped: a gate's unreadable scan, its text at the most a gate sends."""
    wide = "\U0001d510" * 64
    return {"tapId": f"urn:uuid:{uuid.UUID(int=index)}", "stationId": "M01", "gateId": wide, "direction": "out",
            "at": "2026-11-21T10:00:00.000000+08:00:00", "code": "\U0001d510" * 160, "account": "",
            "decision": "deny", "reason": "unreadable"}


def test_the_largest_legal_tap_batch_fits_and_a_longer_body_is_refused_signed(backend, merchant):
    batch = json.dumps({"gateId": "\U0001d510" * 64, "taps": [worst_tap(i) for i in range(MAX_TAPS)]}, indent=1).encode()
    assert 2.5 * 2**20 < len(batch) <= TRANSIT_MAX_BODY  # about 2.8 MiB
    said = merchant.call("/transit/taps", batch)
    assert result_of(said) == "SUCCESS" and said["accepted"] == MAX_TAPS
    before = snapshot(backend)
    over = batch + b" " * (TRANSIT_MAX_BODY + 1 - len(batch))
    for body in (over, iter([over[: 2**20], over[2**20:]])):
        said = merchant.call("/transit/taps", body)
        assert result_of(said) == "PARAM_ILLEGAL" and "4 MiB" in said["result"]["resultMessage"]
    assert snapshot(backend) == before


# --- content types, bad JSON, unknown members ---------------------------------------------------------------


NOT_SENT_AS_JSON = [
    ("text/plain", b'{"currency": "SGD", "balance": 500}'),
    ("application/x-www-form-urlencoded", b"currency=SGD&balance=500"),
    (None, b'{"currency": "SGD", "balance": 500}'),
    ("multipart/form-data; boundary=x", b'--x\r\ncontent-disposition: form-data; name="currency"\r\n\r\nSGD\r\n--x--\r\n'),
]
NOT_A_JSON_OBJECT = [
    (b'{"currency": "SGD",', "not JSON"),
    (b"[1, 2]", "must be a JSON object, not an array"),
    (b'"SGD"', "must be a JSON object, not a string"),
    (b"", "a JSON object is required"),
    (b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deep"),
]


def test_an_admin_body_not_sent_as_json_or_not_a_json_object_is_refused_saying_why(backend):
    before = snapshot(backend)
    for content_type, data in NOT_SENT_AS_JSON:
        headers = {"content-type": content_type} if content_type else {}
        answer = requests.post(f"{backend.url}/sim/wallets", data=data, headers=headers, timeout=10)
        assert answer.status_code == 415, (content_type, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "PARAM_ILLEGAL" and "must be JSON" in error["message"]
        assert (content_type or "no content-type").split(";")[0] in error["message"]
    for data, words in NOT_A_JSON_OBJECT:
        answer = requests.post(f"{backend.url}/sim/wallets", data=data, headers={"content-type": "application/json"}, timeout=10)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "PARAM_ILLEGAL", answer.text
        assert words in answer.json()["error"]["message"], (data[:20], answer.text)
    assert snapshot(backend) == before
    for json_type in ("application/json; charset=UTF-8", "application/merge-patch+json"):  # JSON by any JSON name
        assert requests.post(f"{backend.url}/sim/wallets", data=b'{"currency": "SGD", "balance": 1}',
                             headers={"content-type": json_type}, timeout=10).status_code == 200


UNKNOWN_MEMBERS = [
    ("POST", "/sim/wallets", {"currency": "SGD", "balance": 500, "colour": "red"}, "currency, balance, name"),
    ("POST", "/sim/wallets/{wallet}/scan", {"codeValue": "https://qr.simwallet.test/o/x", "confirm": 1}, "codeValue, confirmMs"),
    ("POST", "/sim/merchants", {"clientId": "SHOP_9", "name": "x", "settlementCurrency": "SGD", "key": "k"},
     "clientId, name, settlementCurrency, publicKey"),
    ("POST", "/sim/clock", {"advanceSeconds": 60, "back": True}, "advanceSeconds"),
    ("PUT", "/sim/fx-rates", {"base": "USD", "rates": {"USD": "1"}, "date": "today"}, "base, rates"),
    ("POST", "/sim/wallets/{wallet}/ride-code", {"companions": 0, "riders": 2}, "companions"),
    ("POST", "/sim/wallets/{wallet}/top-up", {"amount": 500, "from": "bank"}, "amount"),
    ("POST", "/sim/transit/keys", {"overlapSeconds": 60, "algorithm": "RSA"}, "overlapSeconds"),
    ("POST", "/sim/transit/deny", {"account": "00" * 16, "cause": "debt"}, "account"),
]


def test_admin_bodies_with_an_unknown_member_are_refused_naming_it(backend, wallet):
    wallet_id = wallet()
    before = snapshot(backend)
    clock = requests.get(f"{backend.url}/sim/clock", timeout=10).json()["offsetSeconds"]
    for method, path, body, takes in UNKNOWN_MEMBERS:
        answer = requests.request(method, backend.url + path.format(wallet=wallet_id), json=body, timeout=10)
        assert answer.status_code == 400, (path, answer.text)
        error = answer.json()["error"]
        unknown = next(name for name in body if name not in takes.split(", "))
        assert error["code"] == "PARAM_ILLEGAL" and error["where"] == [f"body.{unknown}"]
        assert f"unknown member {unknown!r} (the body takes {takes})" in error["message"]
    assert snapshot(backend) == before
    assert requests.get(f"{backend.url}/sim/clock", timeout=10).json()["offsetSeconds"] == clock


def test_ams_reads_the_body_as_json_whatever_its_content_type_and_ignores_unknown_members(backend, merchant, wallet):
    wallet_id = wallet("SGD", 10_000)
    code = payment_code(backend, wallet_id)
    before = snapshot(backend)
    form = f"paymentRequestId=R1&paymentMethodId={code}".encode()
    for data, words in [(form, "not JSON"), (b"[]", "JSON object"), (b'{"a": NaN}', "NaN"),
                        (b"{\"a\": \"\xc3\x28\"}", "not JSON"), (b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}", f"deeper than {MAX_JSON_DEPTH}"),
                        (b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", f"deeper than {MAX_JSON_DEPTH}")]:
        said = merchant.call(PAY, data, headers={"content-type": "application/x-www-form-urlencoded"})
        assert result_of(said) == "PARAM_ILLEGAL" and words in said["result"]["resultMessage"], said
    assert snapshot(backend) == before
    body = pay_body(code) | {"extendInfo": "{\"tip\": 1}", "futureMember": {"anything": [1, 2]}}  # the provider ignores them
    said = merchant.call(PAY, json.dumps(body).encode(), headers={"content-type": "text/plain"})
    assert result_of(said) == "SUCCESS" and balance(backend, wallet_id) == 8_750


def test_a_nul_character_anywhere_is_refused_on_both_databases(backend, merchant, wallet):
    """Found by fuzzing on PostgreSQL (which cannot keep a NUL in text): a wallet's name, a merchant's, a wallet
    id in a path or a paymentRequestId holding one answered HTTP 500. SQLite would have kept them."""
    wallet_id = wallet("SGD", 10_000)
    code = payment_code(backend, wallet_id)
    before = snapshot(backend)
    for method, path, body in [("POST", "/sim/wallets", {"currency": "SGD", "balance": 1, "name": "Tan\x00"}),
                               ("POST", "/sim/merchants", {"clientId": "X1", "name": "\x00", "settlementCurrency": "SGD"}),
                               ("POST", "/sim/faults", {"call": "pay", "action": "decline", "match": {"paymentRequestId": "\x00"}}),
                               ("GET", "/sim/wallets/W%00", None), ("POST", "/sim/device-tokens/%00/tap", None),
                               ("GET", "/sim/payments/%00/notifications", None), ("GET", "/sim/merchants/SIM_DEMO/entry-code?storeId=%00", None)]:
        answer = requests.request(method, backend.url + path, json=body, timeout=10)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "PARAM_ILLEGAL", (path, answer.text)
        assert "NUL" in answer.json()["error"]["message"]
    for body in [pay_body(code, request_id="till\x00"), pay_body(code) | {"paymentNotifyUrl": "http://x/\x00"}]:
        said = merchant.call(PAY, body)
        assert result_of(said) == "PARAM_ILLEGAL" and "NUL" in said["result"]["resultMessage"]
    said = merchant.call(AMS + "inquiryPayment", {"paymentId": "P\x00"})
    assert result_of(said) == "PARAM_ILLEGAL" and "NUL" in said["result"]["resultMessage"]
    assert snapshot(backend) == before
    assert result_of(merchant.call(PAY, pay_body(code))) == "SUCCESS" and balance(backend, wallet_id) == 8_750


def test_an_amount_of_more_minor_units_than_the_ledger_holds_is_refused_naming_the_field(backend, merchant, wallet):
    """A value of more than 18 digits was refused as if it were not a string of minor units at all."""
    wallet_id = wallet("SGD", 10_000)
    code = payment_code(backend, wallet_id)
    before = snapshot(backend)
    for value in ["1" * 19, "9" * 40]:
        said = merchant.call(PAY, pay_body(code, value=value))
        message = said["result"]["resultMessage"]
        assert result_of(said) == "PARAM_ILLEGAL" and message.startswith("paymentAmount.value: "), message
        assert f"{len(value)} digits" in message and "more than the ledger holds (18 digits at most)" in message
    assert snapshot(backend) == before
    assert result_of(merchant.call(PAY, pay_body(code, value="9" * 18))) != "PARAM_ILLEGAL"


# --- signatures and request times ----------------------------------------------------------------------------


def test_missing_garbage_tampered_and_foreign_signatures_are_refused_and_the_code_still_pays(backend, merchant, wallet, data_dir):
    added = requests.post(f"{backend.url}/sim/merchants",
                          json={"clientId": "SHOP_2", "name": "Other shop", "settlementCurrency": "SGD"}, timeout=10)
    other_key = keys.read_private_key(data_dir / "keys" / "SHOP_2_private.pem")
    assert added.status_code == 201
    wallet_id = wallet("SGD", 10_000)
    code = payment_code(backend, wallet_id)
    body = json.dumps(pay_body(code)).encode()
    good = merchant.headers("POST", PAY, body)
    before = snapshot(backend)
    cases = [
        ({"client-id": ""}, body, "INVALID_CLIENT", "client-id"),
        ({"client-id": "NOBODY"}, body, "INVALID_CLIENT", "NOBODY"),
        ({"signature": ""}, body, "INVALID_SIGNATURE", "required"),
        ({"request-time": ""}, body, "INVALID_SIGNATURE", "required"),
        ({"signature": "algorithm=RSA256,keyVersion=1,signature=bm90LWEtc2lnbmF0dXJl"}, body, "INVALID_SIGNATURE", "does not match"),
        ({"signature": "no signature here"}, body, "INVALID_SIGNATURE", ""),
        ({"signature": "algorithm=RSA256,keyVersion=1,signature=%%%%"}, body, "INVALID_SIGNATURE", ""),
        ({}, body.replace(b'"1250"', b'"1"'), "INVALID_SIGNATURE", "does not match"),  # the amount changed after signing
        ({}, body + b" ", "INVALID_SIGNATURE", "does not match"),  # a byte added: the signature covers exact bytes
        ({"request-time": at(-5)}, body, "INVALID_SIGNATURE", "does not match"),  # the time is signed too
        # signed by another merchant's key, sent as the demo merchant
        ({"signature": merchant.headers("POST", PAY, body, key=other_key)["signature"]}, body, "INVALID_SIGNATURE", "does not match"),
        # the demo merchant's own signature, made for another path
        (merchant.headers("POST", AMS + "inquiryPayment", body), body, "INVALID_SIGNATURE", "does not match"),
    ]
    for changes, data, code_expected, words in cases:
        answer = requests.post(backend.url + PAY, data=data, headers=good | changes, timeout=10)
        said = merchant.verified(answer, "POST", PAY)
        assert result_of(said) == code_expected and words in said["result"]["resultMessage"], (changes, said)
    other = requests.post(backend.url + PAY, data=body, timeout=10,
                          headers=merchant.headers("POST", PAY, body, key=other_key, client_id="SHOP_2") | {"client-id": "SIM_DEMO"})
    assert result_of(merchant.verified(other, "POST", PAY)) == "INVALID_SIGNATURE"
    assert snapshot(backend) == before
    assert result_of(merchant.verified(requests.post(backend.url + PAY, data=body, headers=good, timeout=10), "POST", PAY)) == "SUCCESS"
    assert balance(backend, wallet_id) == 8_750


FAR_OFF = [
    (-(REQUEST_TIME_WINDOW_S + 60), "behind the gateway's clock"),  # 6 min (6 min 1 s if the second turns meanwhile)
    (REQUEST_TIME_WINDOW_S + 60, "ahead of the gateway's clock"),  # 5 min 59 s: the time sent is cut to the second
    (-86_400 * 3 - 7200, "3 days 2 h behind"),
]
NOT_TIMES = ["yesterday", "2026-11-21", "2026-11-21T10:00:00", "1" * 20, "2026-13-45T99:00:00+08:00"]


def test_a_request_time_far_from_now_or_not_a_time_is_refused_saying_so(backend, merchant, wallet):
    wallet_id = wallet("SGD", 10_000)
    code = payment_code(backend, wallet_id)
    before = snapshot(backend)
    for offset_s, words in FAR_OFF:
        said = merchant.call(PAY, pay_body(code), time=at(offset_s))
        message = said["result"]["resultMessage"]
        assert result_of(said) == "INVALID_SIGNATURE" and words in message and f"within {REQUEST_TIME_WINDOW_S} s" in message
        assert any(span in message for span in ("6 min", "5 min 59 s", "3 days 2 h")), message
        keyring = merchant.call("/transit/keyring", b"", method="GET", time=at(offset_s))  # the transit calls alike
        assert result_of(keyring) == "INVALID_SIGNATURE" and "keys" not in keyring
    for time in NOT_TIMES:
        said = merchant.call(PAY, pay_body(code), time=time)
        assert result_of(said) == "INVALID_SIGNATURE" and "is not a time" in said["result"]["resultMessage"], said
    assert snapshot(backend) == before
    assert result_of(merchant.call(PAY, pay_body(code))) == "SUCCESS" and balance(backend, wallet_id) == 8_750


def test_request_times_within_the_window_in_either_form_are_taken(backend, merchant, wallet):
    wallet_id = wallet("SGD", 10_000)
    milliseconds = str(int(datetime.now(UTC).timestamp() * 1000))  # as the provider's Java SDK sends it
    bangkok = (datetime.now(UTC) - timedelta(seconds=REQUEST_TIME_WINDOW_S - 30)).astimezone(
        timezone(timedelta(hours=7))).isoformat()  # to the microsecond, in another offset
    for time in (milliseconds, bangkok, at(REQUEST_TIME_WINDOW_S - 30)):
        assert result_of(merchant.call(PAY, pay_body(payment_code(backend, wallet_id), "100"), time=time)) == "SUCCESS"
    assert balance(backend, wallet_id) == 9_700


def test_a_replayed_request_within_the_window_is_answered_the_same_and_moves_money_once(backend, merchant, wallet):
    wallet_id = wallet("SGD", 10_000)
    body = json.dumps(pay_body(payment_code(backend, wallet_id))).encode()
    headers = merchant.headers("POST", PAY, body)  # one signed request, sent twice as captured
    first = merchant.verified(requests.post(backend.url + PAY, data=body, headers=headers, timeout=10), "POST", PAY)
    again = merchant.verified(requests.post(backend.url + PAY, data=body, headers=headers, timeout=10), "POST", PAY)
    assert result_of(first) == "SUCCESS" and again == first and balance(backend, wallet_id) == 8_750
    refund = json.dumps({"refundRequestId": "RF-1", "paymentId": first["paymentId"],
                         "refundAmount": {"currency": "SGD", "value": "250"}}).encode()
    headers = merchant.headers("POST", AMS + "refund", refund)
    answers = [merchant.verified(requests.post(backend.url + AMS + "refund", data=refund, headers=headers, timeout=10),
                                 "POST", AMS + "refund") for _ in range(3)]
    assert result_of(answers[0]) == "SUCCESS" and answers[1:] == answers[:1] * 2 and balance(backend, wallet_id) == 9_000
    assert trial_balance(backend) == {"SGD": 0}


# --- property tests: any body, correctly signed -----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
ODD_VALUES = [None, True, 0, -1, 1.5, 10**30, "", "0", "-5", "1e3", "12.50", " 100", "\u0661\u0662", "a\x00b",  # Arabic-Indic digits, NUL
              "9" * 19, "x" * 65, "x" * 3000, [], {}, ["SGD"], {"currency": "SGD"}, "sgd", "XXX", "JPY", "THB"]


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """The paths of every member of a body (and item of its arrays), nested ones too."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for name, item in items:
        found.append(prefix + (name,))
        found += paths(item, prefix + (name,))
    return found


@st.composite
def mutated(draw, body: dict) -> dict:
    """``body`` with one member deleted, or set to another JSON value or an odd one, or an unknown member added."""
    body = json.loads(json.dumps(body))
    where = draw(st.sampled_from(paths(body)))
    parent = body
    for name in where[:-1]:
        parent = parent[name]
    action = draw(st.sampled_from(["delete", "retype", "odd", "add"]))
    if action == "delete":
        del parent[where[-1]]
    elif action == "retype":
        parent[where[-1]] = draw(json_values)
    elif action == "odd":
        parent[where[-1]] = draw(st.sampled_from(ODD_VALUES))
    elif isinstance(parent, list):
        parent.append(draw(json_values))
    else:
        parent[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    return body


SCALE = int(os.environ.get("POS_SIM_FUZZ_SCALE", "1"))
"""How many times the usual examples the property tests draw: POS_SIM_FUZZ_SCALE=20 for a deeper run by hand."""
FUZZ = settings(max_examples=25 * SCALE, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(call=st.sampled_from(["pay", "inquiryPayment", "cancel", "refund", "inquiryRefund", "nothing"]),
       body=json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=64))
def test_any_signed_ams_body_is_answered_signed_with_a_known_result_and_moves_no_money(backend, merchant, wallet, call, body):
    if not hasattr(merchant, "wallet_id"):
        merchant.wallet_id = wallet("SGD", 10_000)
    said = merchant.call(AMS + call, body)
    assert said["result"]["resultStatus"] != "S" or call in ("inquiryPayment", "inquiryRefund", "cancel")
    assert balance(backend, merchant.wallet_id) == 10_000 and set(trial_balance(backend).values()) == {0}


@pytest.fixture
def shop(backend, merchant, wallet) -> dict:
    """A rich wallet and a payment of SGD 10,000.00 from it to refund from."""
    wallet_id = wallet("SGD", 10**9)
    paid = merchant.call(PAY, pay_body(payment_code(backend, wallet_id), "1000000"))
    assert result_of(paid) == "SUCCESS"
    return {"wallet": wallet_id, "payment": paid["paymentId"], "refund": None, "refunds": set(), "paid": {}, "seen": set()}


@settings(FUZZ, max_examples=40 * SCALE)
@given(data=st.data())
def test_mutated_pay_refund_cancel_and_inquiry_bodies_move_money_only_when_the_answer_is_s(backend, merchant, shop, data):
    wallet_id = shop["wallet"]
    call = data.draw(st.sampled_from(["pay", "pay", "refund", "refund", "cancel", "inquiryPayment", "inquiryRefund"]))
    base = {
        "pay": lambda: pay_body(payment_code(backend, wallet_id), "1250"),
        "refund": lambda: {"refundRequestId": uuid.uuid4().hex, "paymentId": shop["payment"], "refundReason": "damaged",
                           "refundAmount": {"currency": "SGD", "value": "100"}},
        "cancel": lambda: {"paymentRequestId": uuid.uuid4().hex},
        "inquiryPayment": lambda: {"paymentId": shop["payment"]},
        "inquiryRefund": lambda: {"refundRequestId": shop["refund"] or "none"},
    }[call]()
    body = data.draw(mutated(base))
    before = balance(backend, wallet_id)
    said = merchant.call(AMS + call, body)
    moved = balance(backend, wallet_id) - before
    succeeded = said["result"]["resultStatus"] == "S"
    if succeeded and call == "pay" and said["paymentId"] not in shop["seen"]:  # not a request id drawn again
        paid = said.get("customerPayAmount") or said["paymentAmount"]
        assert paid["currency"] == "SGD" and moved == -int(paid["value"]), said
        shop["paid"][said["paymentId"]] = int(paid["value"])
        shop["seen"].add(said["paymentId"])
    elif succeeded and call == "refund" and said["refundId"] not in shop["refunds"]:
        back = said.get("customerRefundAmount") or said["refundAmount"]
        assert back["currency"] == "SGD" and moved == int(back["value"]), said
        shop["refunds"].add(said["refundId"])
        shop["refund"] = said["refundRequestId"]
    elif succeeded and call == "cancel":  # a pay drawn with the same request id is cancelled: its money back, once
        assert moved == shop["paid"].pop(said.get("paymentId"), 0), said
    else:
        assert moved == 0, said
    assert set(trial_balance(backend).values()) == {0}


@settings(FUZZ, max_examples=25 * SCALE)
@given(data=st.data())
def test_mutated_tap_batches_are_answered_signed_and_store_taps_only_when_accepted(backend, merchant, wallet, data):
    if not hasattr(merchant, "ride"):
        merchant.ride = requests.post(f"{backend.url}/sim/wallets/{wallet()}/ride-code", json={}, timeout=10).json()
    tap = {"tapId": str(uuid.uuid4()), "stationId": "M01", "gateId": "M01-G1", "direction": "in",
           "at": at(), "code": merchant.ride["code"], "account": merchant.ride["account"], "decision": "open", "reason": "ok"}
    body = data.draw(mutated({"gateId": "M01-G1", "taps": [tap]}) | json_values.map(lambda v: {"taps": v}))
    with backend.gateway.store.begin() as tx:
        stored = len(tx.connection.execute(select(metadata.tables["transit_taps"])).all())
    said = merchant.call("/transit/taps", body)
    with backend.gateway.store.begin() as tx:
        now_stored = len(tx.connection.execute(select(metadata.tables["transit_taps"])).all())
    assert now_stored == stored + (said["accepted"] if said["result"]["resultStatus"] == "S" else 0), said


def test_a_rate_table_whose_cross_rates_cannot_be_priced_is_refused_and_pays_go_on(backend, merchant, wallet):
    """Found by fuzzing RateTable: SGD at 1e30 a dollar was taken, and then a THB pay from an SGD wallet failed
    with HTTP 500 (its quote overflowed Decimal's 28 digits), and an SGD pay from a THB wallet was priced at 0."""
    rates = requests.get(f"{backend.url}/sim/fx-rates", timeout=10).json()
    for odd in ("1e30", "1e-30", "0.0000001"):  # the last: 35.8 THB and 1e-7 SGD a dollar are 3.6e8 apart
        answer = requests.put(f"{backend.url}/sim/fx-rates", json={"base": "USD", "rates": {"USD": "1", "THB": "35.80", "SGD": odd}},
                              timeout=10)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "PARAM_ILLEGAL", answer.text
        assert "SGD" in answer.json()["error"]["message"]
    assert requests.get(f"{backend.url}/sim/fx-rates", timeout=10).json() == rates
    sgd = wallet("SGD", 100_000)
    said = merchant.call(PAY, pay_body(payment_code(backend, sgd), "10000", "THB"))
    assert result_of(said) == "SUCCESS" and said["customerPayAmount"]["currency"] == "SGD"
    assert balance(backend, sgd) == 100_000 - int(said["customerPayAmount"]["value"])
