"""Payment result notifications sent by a real Notifier to a real merchant endpoint on 127.0.0.1 that
records each request and answers as told: the body, the signature, retries until acknowledged, a
restart, and the /sim view on a running backend. Notifications are queued straight in the store."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from pos_sim.backend import server
from pos_sim.backend.services import notifications
from pos_sim.backend.store import keys
from pos_sim.backend.services.notifications import Backoff, Notifier
from pos_sim.backend.store.database import Store
from pos_sim.backend.store.records import Notification, Payment
from pos_sim.domain import ams_signature

CLIENT_ID = "NOTIFY_SHOP"
FAST = Backoff(first_s=0.05, factor=2.0, cap_s=0.2)
ACK = json.dumps({"result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"}}).encode()
WAIT_S = 15.0  # how long a test waits for something that should happen; never a measured speed
T = TypeVar("T")


# --- a merchant's notify endpoint -----------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What the endpoint answers one request: a status and body, after ``delay_s``."""

    status: int = 200
    body: bytes = ACK
    delay_s: float = 0.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payment_id(self) -> str:
        return json.loads(self.body)["paymentId"]


@dataclass
class Receiver:
    """An HTTP endpoint on 127.0.0.1: records every POST, answers with the queued replies, then ``default``."""

    default: Reply = field(default_factory=Reply)
    received: list[Received] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    url: str = ""

    def answer(self, *replies: Reply) -> None:
        with self.changed:
            self.replies.extend(replies)

    def take(self, request: Received) -> Reply:
        with self.changed:
            self.received.append(request)
            self.changed.notify_all()
            return self.replies.pop(0) if self.replies else self.default

    def wait_for(self, count: int) -> list[Received]:
        """The first ``count`` requests, once they came."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.received) >= count, WAIT_S):
                raise AssertionError(f"{count} requests expected, {len(self.received)} came: {self.received}")
            return list(self.received[:count])

    def for_payment(self, payment_id: str) -> list[Received]:
        with self.changed:
            return [r for r in self.received if r.payment_id == payment_id]


def _serve(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            reply = receiver.take(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            time.sleep(reply.delay_s)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:
                pass  # the notifier gave up waiting and hung up

        def log_message(self, *_args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve(Receiver())


@pytest.fixture
def slow_receiver() -> Iterator[Receiver]:
    """An endpoint that answers each request only after a minute."""
    yield from _serve(Receiver(default=Reply(delay_s=60)))


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/notify"


# --- the provider's side --------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        with opened.begin() as tx:
            tx.add_merchant(CLIENT_ID, "Kopi Corner", "not used here", "SGD")
        yield opened


@pytest.fixture
def notifier(store: Store, gateway_key: rsa.RSAPrivateKey) -> Iterator[Callable[..., Notifier]]:
    """notifier(**options) -> a started Notifier on the store, fast backoff unless told; stopped after the test."""
    started: list[Notifier] = []

    def make(on: Store = store, **options: Any) -> Notifier:
        options = {"backoff": FAST, "timeout_s": 0.5} | options
        running = Notifier(on, gateway_key, **options)
        running.start()
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


def paid(store: Store, notify_url: str | None, *, wake: Notifier | None = None, client_id: str = CLIENT_ID,
         status: str = "SUCCESS", result_code: str = "SUCCESS", **fields: Any) -> Payment:
    """A final payment recorded with its notification queued in one transaction, then ``wake`` woken, as the
    payments service does."""
    created = datetime(2026, 11, 21, 16, 4, 5, tzinfo=UTC)
    record: dict[str, Any] = {
        "payment_id": "P" + secrets.token_hex(8).upper(), "client_id": client_id,
        "payment_request_id": secrets.token_hex(8), "scenario": "PaymentCode", "amount": 1250, "currency": "SGD",
        "status": status, "result_code": result_code, "notify_url": notify_url, "created_at": created,
        "paid_at": created + timedelta(seconds=2) if status == "SUCCESS" else None,
    } | fields
    with store.begin() as tx:
        payment = tx.add_payment(**record)
        notifications.queue(tx, payment)
    if wake is not None:
        wake.wake()
    return payment


def sent(store: Store, payment: Payment) -> Notification:
    with store.begin() as tx:
        [notification] = tx.notifications(payment.payment_id)
    return notification


def eventually(check: Callable[[], T | None], what: str) -> T:
    """``check()``'s first truthy answer, asked again until it comes (at most WAIT_S)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def delivered(store: Store, payment: Payment) -> Notification:
    return eventually(lambda: (n := sent(store, payment)).delivered_at is not None and n, f"{payment.payment_id} delivered")


def verifies(request: Received, public_key: rsa.RSAPublicKey, path: str, client_id: str = CLIENT_ID) -> bool:
    algorithm, version, value = ams_signature.parse_signature_header(request.headers["signature"])
    assert (algorithm, version) == ("RSA256", 1)
    return ams_signature.verify(public_key, "POST", path, client_id, request.headers["request-time"], request.body, value)


# --- what is sent ---------------------------------------------------------------------------


def test_body_of_a_successful_payment_paid_and_settled_in_other_currencies(store: Store) -> None:
    payment = paid(store, "http://127.0.0.1:9/notify", wallet_amount=6700, wallet_currency="CNY",
                   settlement_amount=930, settlement_currency="USD")
    assert notifications.body(payment) == {
        "notifyType": "PAYMENT_RESULT",
        "result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "Success"},
        "paymentRequestId": payment.payment_request_id,
        "paymentId": payment.payment_id,
        "paymentAmount": {"currency": "SGD", "value": "1250"},
        "paymentCreateTime": "2026-11-21T16:04:05+00:00",
        "paymentTime": "2026-11-21T16:04:07+00:00",
        "customerPayAmount": {"currency": "CNY", "value": "6700"},
        "grossSettlementAmount": {"currency": "USD", "value": "930"},
    }
    assert json.loads(sent(store, payment).body) == notifications.body(payment)


def test_body_of_a_declined_payment_in_one_currency(store: Store) -> None:
    payment = paid(store, "http://127.0.0.1:9/notify", status="FAIL", result_code="USER_BALANCE_NOT_ENOUGH",
                   wallet_amount=1250, wallet_currency="SGD", settlement_amount=1250, settlement_currency="SGD")
    body = json.loads(sent(store, payment).body)
    assert body["result"] == {"resultCode": "USER_BALANCE_NOT_ENOUGH", "resultStatus": "F",
                              "resultMessage": "The user balance is not enough for the payment."}
    assert "paymentTime" not in body and "customerPayAmount" not in body and "grossSettlementAmount" not in body
    assert body["paymentAmount"] == {"currency": "SGD", "value": "1250"}


def test_a_failed_payment_never_says_anything_but_F(store: Store) -> None:
    payment = paid(store, "http://127.0.0.1:9/notify", status="FAIL", result_code="UNKNOWN_EXCEPTION")
    assert notifications.body(payment)["result"]["resultStatus"] == "F"
    assert notifications.body(payment)["result"]["resultCode"] == "PROCESS_FAIL"


def test_only_a_final_payment_with_a_notify_url_is_queued(store: Store) -> None:
    quiet = paid(store, None)
    with store.begin() as tx:
        assert tx.notifications(quiet.payment_id) == []
    for status in ("PROCESSING", "CANCELLED"):
        with pytest.raises(ValueError, match=f"is {status}: only SUCCESS and FAIL are notified"):
            paid(store, "http://127.0.0.1:9/notify", status=status, result_code=None)
    with store.begin() as tx:
        assert tx.next_notification_at() is None  # the refused ones rolled back with their payment


def test_backoff_doubles_from_one_second_to_five_minutes_and_never_gives_up() -> None:
    delays = [Backoff().delay(failures).total_seconds() for failures in range(1, 12)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert Backoff().delay(100_000) == timedelta(minutes=5)
    assert Backoff(first_s=0.5, factor=3, cap_s=10).delay(3) == timedelta(seconds=4.5)
    for bad in ({"first_s": 0}, {"factor": 0.5}, {"first_s": 10, "cap_s": 5}):
        with pytest.raises(ValueError):
            Backoff(**bad)
    with pytest.raises(ValueError):
        Backoff().delay(0)


# --- sending --------------------------------------------------------------------------------


def test_a_notification_is_posted_as_stored_and_signed_over_the_notify_path(
    store: Store, notifier, receiver: Receiver, gateway_key: rsa.RSAPrivateKey
) -> None:
    running = notifier()
    payment = paid(store, receiver.url + "/antom/notify?shop=7", wake=running)
    [request] = receiver.wait_for(1)
    stored = delivered(store, payment)
    assert request.path == "/antom/notify?shop=7"
    assert request.body == stored.body.encode("utf-8")
    assert request.headers["content-type"] == "application/json; charset=UTF-8"
    assert request.headers["client-id"] == CLIENT_ID
    assert datetime.fromisoformat(request.headers["request-time"]).tzinfo is not None
    assert verifies(request, gateway_key.public_key(), "/antom/notify")
    assert not verifies(request, gateway_key.public_key(), "/antom/notify?shop=7")
    assert (stored.attempts, stored.next_at, stored.last_error) == (1, None, None)


def test_failed_attempts_are_retried_until_acknowledged(
    store: Store, notifier, receiver: Receiver, gateway_key: rsa.RSAPrivateKey
) -> None:
    receiver.answer(Reply(500, b"oops"), Reply(200, b"<html>thanks</html>"),
                    Reply(200, json.dumps({"result": {"resultStatus": "F", "resultCode": "PROCESS_FAIL"}}).encode()))
    running = notifier()
    payment = paid(store, receiver.url + "/notify", wake=running)
    requests_seen = receiver.wait_for(4)
    stored = delivered(store, payment)
    assert stored.attempts == 4 and stored.last_error is None and stored.next_at is None
    assert {r.body for r in requests_seen} == {stored.body.encode("utf-8")}
    assert all(verifies(r, gateway_key.public_key(), "/notify") for r in requests_seen)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(500, b"oops"), "HTTP 500 Internal Server Error, not 200"),
        (Reply(302, b""), "HTTP 302 Found, not 200"),
        (Reply(200, b"OK"), "HTTP 200 but the answer is not JSON: b'OK'"),
        (Reply(200, b'{"status": "ok"}'), "HTTP 200 but the answer has no result object"),
        (Reply(200, b'{"result": {"resultStatus": "U", "resultCode": "UNKNOWN_EXCEPTION"}}'),
         "HTTP 200 but result.resultStatus is 'U', not 'S' (resultCode 'UNKNOWN_EXCEPTION')"),
        (Reply(200, b"x" * 70_000), "HTTP 200 but the answer is over 64 KiB"),
        (Reply(delay_s=60), "no answer within 0.5 s"),
    ],
    ids=["500", "redirect", "not-json", "no-result", "not-S", "huge", "slow"],
)
def test_a_failed_attempt_records_what_went_wrong_and_when_to_try_again(
    store: Store, notifier, receiver: Receiver, reply: Reply, error: str
) -> None:
    receiver.default = reply
    running = notifier(backoff=Backoff(first_s=0.05, cap_s=0.05))
    payment = paid(store, receiver.url + "/notify", wake=running)
    failed = eventually(lambda: (n := sent(store, payment)).attempts >= 2 and n, "two failed attempts")
    assert failed.last_error == error
    assert failed.delivered_at is None and failed.next_at is not None
    receiver.default = Reply()
    assert delivered(store, payment).last_error is None


def test_a_refused_connection_is_a_failed_attempt(store: Store, notifier, dead_url: str) -> None:
    running = notifier()
    payment = paid(store, dead_url, wake=running)
    failed = eventually(lambda: (n := sent(store, payment)).attempts >= 2 and n, "two failed attempts")
    assert failed.last_error == f"cannot connect to {dead_url.split('/')[2]}: Connection refused"
    assert failed.delivered_at is None and failed.next_at is not None


def test_a_slow_or_dead_url_does_not_hold_back_the_others(
    store: Store, notifier, receiver: Receiver, slow_receiver: Receiver, dead_url: str
) -> None:
    slow = paid(store, slow_receiver.url + "/notify")
    dead = paid(store, dead_url)
    good = paid(store, receiver.url + "/notify")
    notifier()
    assert delivered(store, good).attempts == 1
    assert [r.payment_id for r in receiver.wait_for(1)] == [good.payment_id]
    for stuck in (slow, dead):
        assert sent(store, stuck).delivered_at is None


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://shop.example/notify", "not an http(s) URL (scheme 'ftp'): 'ftp://shop.example/notify'; not tried again"),
        ("shop.example/notify", "not an http(s) URL (no scheme): 'shop.example/notify'; not tried again"),
        ("http:///notify", "the URL has no host: 'http:///notify'; not tried again"),
        ("http://shop.example:99999/notify", "not a URL (Port out of range 0-65535): 'http://shop.example:99999/notify'; not tried again"),
        ("http://shop.example/a b", "the URL holds spaces or control characters: 'http://shop.example/a b'; not tried again"),
    ],
)
def test_a_url_that_cannot_be_sent_to_is_recorded_once_and_the_thread_goes_on(
    store: Store, notifier, receiver: Receiver, url: str, error: str
) -> None:
    running = notifier()
    bad = paid(store, url, wake=running)
    good = paid(store, receiver.url + "/notify", wake=running)
    delivered(store, good)
    failed = eventually(lambda: (n := sent(store, bad)).attempts and n, "the bad URL attempted")
    assert (failed.attempts, failed.last_error, failed.next_at, failed.delivered_at) == (1, error, None, None)
    assert running.running


def test_a_notification_queued_before_a_restart_is_sent_after_it(
    db_url: str, store: Store, notifier, receiver: Receiver
) -> None:
    receiver.default = Reply(503, b"down for maintenance")
    first = notifier()
    failing = paid(store, receiver.url + "/notify", wake=first)
    eventually(lambda: sent(store, failing).attempts, "a failed attempt")
    first.stop()
    tried = sent(store, failing).attempts
    waiting = paid(store, receiver.url + "/notify")  # committed, but nothing sends it: the backend goes down
    store.close()

    receiver.default = Reply()
    with Store.open(db_url) as reopened:
        notifier(on=reopened)
        assert delivered(reopened, failing).attempts == tried + 1
        assert delivered(reopened, waiting).attempts == 1
    assert len(receiver.for_payment(waiting.payment_id)) == 1


def test_an_acknowledged_notification_is_not_sent_again(store: Store, notifier, receiver: Receiver) -> None:
    running = notifier()
    once = paid(store, receiver.url + "/notify", wake=running)
    delivered(store, once)
    for _ in range(3):
        running.wake()
    later = paid(store, receiver.url + "/notify", wake=running)
    delivered(store, later)  # the notifier has looked again since
    running.stop()
    fresh = notifier()  # and a fresh one, as after a restart
    last = paid(store, receiver.url + "/notify", wake=fresh)
    delivered(store, last)
    assert [len(receiver.for_payment(p.payment_id)) for p in (once, later, last)] == [1, 1, 1]
    assert sent(store, once).attempts == 1


def test_wake_sends_at_once_rather_than_at_the_next_look(store: Store, notifier, receiver: Receiver) -> None:
    running = notifier(idle_s=3600)  # left alone it would look again in an hour
    first = paid(store, receiver.url + "/notify")
    running.wake()
    delivered(store, first)
    second = paid(store, receiver.url + "/notify")
    running.wake()
    assert delivered(store, second).attempts == 1


def test_stop_ends_the_thread_and_start_stop_wake_are_safe_to_repeat(store: Store, gateway_key, receiver: Receiver) -> None:
    running = Notifier(store, gateway_key, FAST)
    running.stop()  # never started: nothing to do
    running.start()
    running.start()
    assert running.running
    running.stop()
    running.stop()
    running.wake()
    assert not running.running
    payment = paid(store, receiver.url + "/notify")
    running.start()  # again, after a stop
    try:
        delivered(store, payment)
    finally:
        running.stop()


# --- on a running backend -------------------------------------------------------------------


def test_the_backend_sends_notifications_and_shows_them_on_sim(tmp_path: Path, receiver: Receiver, dead_url: str) -> None:
    data_dir = tmp_path / "data"
    backend = server.start(server.open_gateway(data_dir))
    try:
        gateway = backend.gateway
        assert gateway.notifier.running
        good = paid(gateway.store, receiver.url + "/merchant/notify", client_id=server.DEMO_CLIENT_ID)
        dead = paid(gateway.store, dead_url, client_id=server.DEMO_CLIENT_ID)
        quiet = paid(gateway.store, None, client_id=server.DEMO_CLIENT_ID)
        gateway.notifier.wake()

        [request] = receiver.wait_for(1)
        public_key = keys.read_public_key(data_dir / "keys" / "gateway_public.pem")
        assert verifies(request, public_key, "/merchant/notify", server.DEMO_CLIENT_ID)
        delivered(gateway.store, good)
        eventually(lambda: sent(gateway.store, dead).attempts, "the dead URL attempted")

        def show(payment_id: str) -> requests.Response:
            return requests.get(f"{backend.url}/sim/payments/{payment_id}/notifications", timeout=10)

        [shown] = show(good.payment_id).json()["notifications"]
        assert shown["url"] == receiver.url + "/merchant/notify"
        assert (shown["attempts"], shown["delivered"], shown["nextAt"], shown["lastError"]) == (1, True, None, None)
        assert datetime.fromisoformat(shown["deliveredAt"]).tzinfo is not None
        assert shown["body"]["paymentId"] == good.payment_id and shown["body"]["notifyType"] == "PAYMENT_RESULT"

        [failing] = show(dead.payment_id).json()["notifications"]
        assert failing["attempts"] >= 1 and failing["delivered"] is False and failing["deliveredAt"] is None
        assert "Connection refused" in failing["lastError"] and failing["nextAt"] is not None

        assert show(quiet.payment_id).json() == {"paymentId": quiet.payment_id, "notifications": []}
        unknown = show("P_NO_SUCH_PAYMENT")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "ORDER_NOT_EXIST"
    finally:
        backend.stop()
    assert not backend.gateway.notifier.running
