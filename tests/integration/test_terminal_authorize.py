"""The terminal's payment flow against the real simulated backend on a loopback port: every payment
request ends in exactly one known outcome, journalled, and the customer's wallet always agrees with
it (no money lost, none taken twice), through declines, unknown outcomes, timeouts, HTTP errors,
dropped connections, answers that are not to be trusted, and a terminal killed mid-payment.

The terminal reaches the backend over HTTP only; a test may arm the backend's faults over /sim, or
put a relay (a real HTTP server) between the two that spoils chosen answers.
"""

import json
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from pos_sim.domain import ams_signature
from pos_sim.domain.money import Money
from pos_sim.terminal.authorize import Polling, authorize, authorize_once, recover
from pos_sim.terminal.errors import PaymentRequestError
from pos_sim.terminal.gateway import Credentials, GatewayAnswer, GatewayClient, Timeouts
from pos_sim.terminal.journal import GatewayRef, Journal, State
from tests.integration.conftest import balance, payment_code

ROOT = Path(__file__).resolve().parents[2]
FAST = Polling(interval_s=0.2, deadline_s=1.0, cancel_attempts=3)
"""Small steps for tests: inquiries 0.2 s apart for 1 s, then at most 3 cancels."""


def sgd(minor: int) -> Money:
    return Money.of_minor(minor, "SGD")


def arm(backend, **spec) -> None:
    answer = requests.post(f"{backend.url}/sim/faults", json=spec, timeout=10)
    assert answer.status_code == 201, answer.text


def disarm(backend) -> None:
    requests.delete(f"{backend.url}/sim/faults", timeout=10).raise_for_status()


def history(backend, wallet_id: str) -> list[str]:
    """The kinds of the wallet's postings, sorted (what moved, not in which order the backend lists it)."""
    return sorted(h["kind"] for h in requests.get(f"{backend.url}/sim/wallets/{wallet_id}", timeout=10).json()["history"])


def calls(journal: Journal, request_id: str) -> list[tuple[str, str | None]]:
    return [(e.call, e.answer) for e in journal.events(request_id)]


@pytest.fixture
def credentials(backend, data_dir):
    return Credentials.from_simulator_data_dir(backend.url, data_dir)


@pytest.fixture
def gateway(credentials):
    with GatewayClient(credentials) as client:
        yield client


@pytest.fixture
def journal(tmp_path):
    with Journal.open(tmp_path / "terminal" / "journal.db") as opened:
        yield opened


def inquired(gateway, request_id: str) -> dict:
    """The gateway's own view of a payment (the test's inquiry, not the terminal's)."""
    answer = gateway.inquire_payment(payment_request_id=request_id)
    return dict(answer.body)


def wait_for(condition, within_s: float = 10.0, what: str = "the condition"):
    deadline = time.monotonic() + within_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what} did not happen within {within_s} s"
        time.sleep(0.05)
    return value


# --- the pay's own answer ------------------------------------------------------------------


def test_approved_takes_the_money_once(backend, wallet, gateway, journal):
    wallet_id = wallet("SGD", 10_000)
    outcome = authorize(gateway, journal, sgd(1250), payment_code(backend, wallet_id), polling=FAST,
                        order_reference="ORDER-42", description="2 x kopi")
    assert (outcome.state, outcome.result_code, outcome.charged) == (State.APPROVED, "SUCCESS", True)
    assert outcome.payment_id and outcome.amount == sgd(1250)
    assert balance(backend, wallet_id) == 8_750
    entry = journal.entry(outcome.payment_request_id)
    assert (entry.state, entry.payment_id, entry.order_reference) == (State.APPROVED, outcome.payment_id, "ORDER-42")
    assert calls(journal, outcome.payment_request_id) == [("pay", None), ("pay", "S")]
    assert journal.pending() == []


@pytest.mark.parametrize(("minor", "code"), [(1251, "USER_BALANCE_NOT_ENOUGH"), (1252, "RISK_REJECT")])
def test_declined_with_the_gateway_code_and_nothing_taken(backend, wallet, gateway, journal, minor, code):
    wallet_id = wallet("SGD", 10_000)
    outcome = authorize(gateway, journal, sgd(minor), payment_code(backend, wallet_id), polling=FAST)
    assert (outcome.state, outcome.result_code, outcome.charged) == (State.DECLINED, code, False)
    assert balance(backend, wallet_id) == 10_000
    assert calls(journal, outcome.payment_request_id) == [("pay", None), ("pay", "F")]


def test_a_real_decline_from_the_wallet(backend, wallet, gateway, journal):
    poor = wallet("SGD", 500)
    outcome = authorize(gateway, journal, sgd(1250), payment_code(backend, poor), polling=FAST)
    assert (outcome.state, outcome.result_code) == (State.DECLINED, "USER_BALANCE_NOT_ENOUGH")
    used = payment_code(backend, poor)
    assert authorize(gateway, journal, sgd(100), used, polling=FAST).state is State.APPROVED
    again = authorize(gateway, journal, sgd(100), used, polling=FAST)  # a one-time code, used already
    assert (again.state, again.result_code) == (State.DECLINED, "INVALID_CODE")
    assert balance(backend, poor) == 400


def test_a_request_it_cannot_send_is_refused_before_anything_is_written(backend, wallet, gateway, journal):
    code = payment_code(backend, wallet("SGD", 10_000))
    for amount, code_text, message in ((sgd(0), code, "must be more than 0"), (sgd(-5), code, "must be more than 0"),
                                       (1250, code, "must be Money"), (sgd(100), "", "payment code"),
                                       (sgd(100), " " + code, "without surrounding spaces"), (sgd(100), "9" * 513, "at most 512")):
        with pytest.raises(PaymentRequestError, match=message):
            authorize(gateway, journal, amount, code_text)
    with pytest.raises(PaymentRequestError, match="payment request id"):
        authorize(gateway, journal, sgd(100), code, payment_request_id="x" * 65)
    assert journal.entries() == []


# --- unknown outcomes, chased to a known one -----------------------------------------------------


def test_unknown_that_stays_processing_is_cancelled_and_nothing_moves(backend, wallet, gateway, journal):
    wallet_id = wallet("SGD", 10_000)
    outcome = authorize(gateway, journal, sgd(1253), payment_code(backend, wallet_id), polling=FAST)
    assert (outcome.state, outcome.charged) == (State.CANCELLED, False)
    steps = calls(journal, outcome.payment_request_id)
    assert steps[:2] == [("pay", None), ("pay", "U")] and ("inquiryPayment", "S") in steps
    assert steps[-3:] == [("cancel", None), ("cancel", "S"), ("inquiryPayment", "S")]
    assert inquired(gateway, outcome.payment_request_id)["paymentStatus"] == "CANCELLED"
    assert balance(backend, wallet_id) == 10_000 and history(backend, wallet_id) == ["fund"]


def test_the_cashier_giving_up_cancels_at_once_and_still_ends_known(backend, wallet, gateway, journal):
    wallet_id = wallet("SGD", 10_000)
    give_up = threading.Event()
    threading.Timer(0.5, give_up.set).start()
    started = time.monotonic()
    patient = Polling(interval_s=2.0, deadline_s=60.0, cancel_attempts=3)  # would wait a minute but for the cashier
    states = []
    outcome = authorize(gateway, journal, sgd(1253), payment_code(backend, wallet_id), polling=patient, give_up=give_up,
                        on_state=states.append)
    assert (outcome.state, outcome.charged) == (State.CANCELLED, False)
    assert states == [State.RESOLVING, State.CANCELLING, State.CANCELLED]  # what the authorising screen shows
    assert time.monotonic() - started < 5
    assert calls(journal, outcome.payment_request_id)[-3:] == [("cancel", None), ("cancel", "S"), ("inquiryPayment", "S")]
    assert balance(backend, wallet_id) == 10_000 and history(backend, wallet_id) == ["fund"]


def test_late_success_is_found_by_inquiry_and_approved_once(backend, wallet, gateway, journal):
    wallet_id = wallet("SGD", 10_000)
    arm(backend, call="inquiryPayment", action="error", count=1)  # one inquiry fails on the way: it only delays
    outcome = authorize(gateway, journal, sgd(1254), payment_code(backend, wallet_id),  # charged 3 s after the U
                        polling=Polling(interval_s=0.2, deadline_s=30.0))
    assert (outcome.state, outcome.result_code, outcome.charged) == (State.APPROVED, "SUCCESS", True)
    steps = calls(journal, outcome.payment_request_id)
    assert steps[1] == ("pay", "U") and ("inquiryPayment", "http-status") in steps and steps[-1] == ("inquiryPayment", "S")
    assert "cancel" not in {call for call, _ in steps}
    assert balance(backend, wallet_id) == 8_746 and history(backend, wallet_id) == ["fund", "payment"]


def test_a_late_success_armed_as_a_fault_is_approved(backend, wallet, gateway, journal):
    wallet_id = wallet("SGD", 10_000)
    arm(backend, call="pay", action="late-success", delayMs=400)
    outcome = authorize(gateway, journal, sgd(1250), payment_code(backend, wallet_id), polling=Polling(0.2, 30.0))
    assert outcome.state is State.APPROVED and balance(backend, wallet_id) == 8_750


def test_a_success_that_would_come_after_the_cancel_never_comes(backend, wallet, gateway, journal):
    wallet_id = wallet("SGD", 10_000)
    arm(backend, call="pay", action="late-success", delayMs=1500)
    outcome = authorize(gateway, journal, sgd(1250), payment_code(backend, wallet_id), polling=Polling(0.1, 0.2))
    assert (outcome.state, outcome.charged) == (State.CANCELLED, False)
    time.sleep(2.0)  # past the moment the charge was due: the cancel closed it first
    assert inquired(gateway, outcome.payment_request_id)["paymentStatus"] == "CANCELLED"
    assert balance(backend, wallet_id) == 10_000 and history(backend, wallet_id) == ["fund"]


def test_a_pay_that_times_out_is_resolved_by_inquiry(backend, wallet, credentials, journal):
    wallet_id = wallet("SGD", 10_000)
    with GatewayClient(credentials, per_call={"pay": Timeouts(connect_s=2, read_s=0.5)}) as impatient:
        paid = authorize(impatient, journal, sgd(1255), payment_code(backend, wallet_id), polling=FAST)  # done, answer held 15 s
        assert (paid.state, paid.charged) == (State.APPROVED, True)
        assert calls(journal, paid.payment_request_id)[1] == ("pay", "timeout")
        assert balance(backend, wallet_id) == 8_745

        arm(backend, call="pay", action="timeout", resultCode="USER_STATUS_ABNORMAL", delayMs=3000)  # declined, then held
        declined = authorize(impatient, journal, sgd(1250), payment_code(backend, wallet_id), polling=FAST)
        assert (declined.state, declined.result_code, declined.charged) == (State.DECLINED, "USER_STATUS_ABNORMAL", False)
    assert balance(backend, wallet_id) == 8_745


def test_http_500_is_resolved_to_no_payment_and_the_code_still_pays(backend, wallet, gateway, journal):
    wallet_id = wallet("SGD", 10_000)
    code = payment_code(backend, wallet_id)
    failed = authorize(gateway, journal, sgd(1259), code, polling=FAST)  # HTTP 500, nothing done
    assert (failed.state, failed.result_code, failed.charged) == (State.NOT_PROCESSED, "ORDER_NOT_EXIST", False)
    steps = calls(journal, failed.payment_request_id)
    assert steps[1] == ("pay", "http-status") and ("cancel", "S") in steps  # the cancel closes the request the pay never made
    assert balance(backend, wallet_id) == 10_000
    paid = authorize(gateway, journal, sgd(1250), code, polling=FAST)  # the code was not used up
    assert paid.state is State.APPROVED and balance(backend, wallet_id) == 8_750


def test_a_gateway_that_is_down_leaves_the_payment_pending_until_recover(backend, wallet, data_dir, gateway, journal):
    wallet_id = wallet("SGD", 10_000)
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with GatewayClient(Credentials.from_simulator_data_dir(dead_url, data_dir), Timeouts(connect_s=1, read_s=1)) as down:
        outcome = authorize(down, journal, sgd(1250), payment_code(backend, wallet_id), polling=Polling(0.05, 0.1, 2))
    assert (outcome.state, outcome.resolved, outcome.charged) == (State.CANCELLING, False, None)
    assert {answer for _, answer in calls(journal, outcome.payment_request_id)} == {None, "connection"}
    assert [e.payment_request_id for e in journal.pending()] == [outcome.payment_request_id]

    recovered = recover(gateway, journal, polling=FAST)  # the same gateway (its key), now at its real URL
    assert [(o.payment_request_id, o.state) for o in recovered.outcomes] == [(outcome.payment_request_id, State.NOT_PROCESSED)]
    assert journal.pending() == [] and balance(backend, wallet_id) == 10_000


# --- cancels ---------------------------------------------------------------------------------


def test_a_cancel_answered_u_is_sent_again(backend, wallet, gateway, journal):
    wallet_id = wallet("SGD", 10_000)
    arm(backend, call="cancel", action="unknown", count=1)
    arm(backend, call="cancel", action="error", count=1)
    outcome = authorize(gateway, journal, sgd(1253), payment_code(backend, wallet_id), polling=FAST)
    assert outcome.state is State.CANCELLED
    cancels = [answer for call, answer in calls(journal, outcome.payment_request_id) if call == "cancel"]
    assert cancels == [None, "U", "http-status", "S"]
    assert balance(backend, wallet_id) == 10_000


def test_a_cancel_never_answered_stays_pending_and_recover_finishes_it(backend, wallet, gateway, journal):
    wallet_id = wallet("SGD", 10_000)
    arm(backend, call="cancel", action="unknown", count=-1)
    outcome = authorize(gateway, journal, sgd(1253), payment_code(backend, wallet_id), polling=FAST)
    assert (outcome.state, outcome.resolved, outcome.charged) == (State.CANCELLING, False, None)
    assert [answer for call, answer in calls(journal, outcome.payment_request_id) if call == "cancel"][-4:] == ["U", "U", "U", None]
    assert balance(backend, wallet_id) == 10_000

    assert recover(gateway, journal, polling=FAST).outcomes[0].state is State.CANCELLING  # still no answer: still pending
    disarm(backend)
    recovered = recover(gateway, journal, polling=FAST)
    assert [(o.payment_request_id, o.state, o.charged) for o in recovered.outcomes] == [
        (outcome.payment_request_id, State.CANCELLED, False)]
    assert journal.pending() == [] and balance(backend, wallet_id) == 10_000


def test_a_success_that_arrives_while_cancelling_is_reversed(backend, wallet, gateway, journal):
    wallet_id = wallet("SGD", 10_000)
    arm(backend, call="pay", action="late-success", delayMs=600)
    arm(backend, call="cancel", action="error", count=-1)
    outcome = authorize(gateway, journal, sgd(1250), payment_code(backend, wallet_id), polling=Polling(0.1, 0.1, 2))
    assert outcome.state is State.CANCELLING
    wait_for(lambda: inquired(gateway, outcome.payment_request_id)["paymentStatus"] == "SUCCESS", what="the late charge")
    assert balance(backend, wallet_id) == 8_750  # charged meanwhile, but the terminal had given up on it
    disarm(backend)
    recovered = recover(gateway, journal, polling=FAST)
    assert [(o.state, o.charged) for o in recovered.outcomes] == [(State.REVERSED, False)]
    assert balance(backend, wallet_id) == 10_000 and history(backend, wallet_id) == ["cancel", "fund", "payment"]


# --- answers that are not to be trusted ---------------------------------------------------------------


class Relay:
    """A real HTTP server between the terminal and the backend: it passes each call on, and the
    answer back unless ``spoil(call, answer)`` says otherwise: "drop" (hang up without answering),
    "unsign" (strip the signature headers), "tamper" (the result rewritten to S, signature kept), or
    a function of the body's bytes whose result is signed again with the gateway's own key."""

    def __init__(self, backend_url: str, spoil, gateway_key=None) -> None:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {name: self.headers[name] for name in ("Content-Type", "client-id", "Request-Time", "Signature")}
                answer = requests.post(backend_url + self.path, data=body, headers=headers, timeout=30)
                call = self.path.rsplit("/", 1)[-1]
                action = relay.spoil(call, answer)
                relay.seen.append((call, action))
                if action == "drop":
                    self.close_connection = True
                    return
                content = answer.content
                out = {name: answer.headers[name] for name in ("client-id", "response-time", "signature") if name in answer.headers}
                if action == "unsign":
                    out = {}
                elif action == "tamper":
                    data = json.loads(content)
                    data["result"] = {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "Success"}
                    content = json.dumps(data).encode()
                elif callable(action):
                    content = action(content)
                    signed = ams_signature.sign(gateway_key, "POST", self.path, out["client-id"], out["response-time"], content)
                    out["signature"] = ams_signature.signature_header(signed)
                self.send_response(answer.status_code)
                for name, value in out.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *_args):
                pass

        self.spoil = spoil
        self.seen: list[tuple[str, str | None]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def relayed(backend, data_dir):
    """relayed(spoil) -> a gateway client that reaches the backend through a spoiling relay."""
    opened = []

    gateway_key = ams_signature.load_private_key((data_dir / "keys" / "gateway_private.pem").read_text())

    def open_relayed(spoil):
        relay = Relay(backend.url, spoil, gateway_key)
        client = GatewayClient(Credentials.from_simulator_data_dir(relay.url, data_dir))
        opened.append((relay, client))
        return relay, client

    yield open_relayed
    for relay, client in opened:
        client.close()
        relay.close()


def test_a_dropped_connection_after_the_pay_was_done_is_resolved_to_approved(backend, wallet, relayed, journal):
    wallet_id = wallet("SGD", 10_000)
    relay, gateway = relayed(lambda call, _answer: "drop" if call == "pay" else None)
    outcome = authorize(gateway, journal, sgd(1250), payment_code(backend, wallet_id), polling=FAST)
    assert (outcome.state, outcome.charged) == (State.APPROVED, True)
    assert relay.seen[0] == ("pay", "drop") and calls(journal, outcome.payment_request_id)[1] == ("pay", "connection")
    assert balance(backend, wallet_id) == 8_750


def test_an_unsigned_success_is_not_taken_as_success(backend, wallet, relayed, journal):
    wallet_id = wallet("SGD", 10_000)
    _relay, gateway = relayed(lambda call, _answer: "unsign" if call == "pay" else None)
    outcome = authorize(gateway, journal, sgd(1250), payment_code(backend, wallet_id), polling=FAST)
    steps = calls(journal, outcome.payment_request_id)
    assert steps[1] == ("pay", "unsigned") and steps[2] == ("inquiryPayment", "S")  # approved by the signed inquiry
    assert outcome.state is State.APPROVED and balance(backend, wallet_id) == 8_750


def test_a_decline_rewritten_to_success_is_not_believed(backend, wallet, relayed, journal):
    wallet_id = wallet("SGD", 10_000)
    _relay, gateway = relayed(lambda call, _answer: "tamper" if call == "pay" else None)
    outcome = authorize(gateway, journal, sgd(1251), payment_code(backend, wallet_id), polling=FAST)
    assert calls(journal, outcome.payment_request_id)[1] == ("pay", "bad-signature")
    assert (outcome.state, outcome.result_code, outcome.charged) == (State.DECLINED, "USER_BALANCE_NOT_ENOUGH", False)
    assert balance(backend, wallet_id) == 10_000


def test_a_success_never_seen_is_cancelled_and_recorded_as_reversed(backend, wallet, relayed, journal):
    wallet_id = wallet("SGD", 10_000)
    cancelled = threading.Event()

    def spoil(call, _answer):
        if call == "cancel":
            cancelled.set()
        return "unsign" if call in ("pay", "inquiryPayment") and not cancelled.is_set() else None

    _relay, gateway = relayed(spoil)
    outcome = authorize(gateway, journal, sgd(1250), payment_code(backend, wallet_id), polling=Polling(0.1, 0.3))
    assert (outcome.state, outcome.charged) == (State.REVERSED, False)
    assert balance(backend, wallet_id) == 10_000 and history(backend, wallet_id) == ["cancel", "fund", "payment"]


def test_answers_signed_with_another_key_leave_the_payment_unresolved(backend, wallet, data_dir, journal):
    wallet_id = wallet("SGD", 10_000)
    keys = data_dir / "keys"  # the merchant's own public key where the gateway's belongs: nothing verifies
    wrong = Credentials.from_key_files(backend.url, "SIM_DEMO", keys / "SIM_DEMO_private.pem", keys / "SIM_DEMO_public.pem")
    with GatewayClient(wrong) as gateway:
        outcome = authorize(gateway, journal, sgd(1250), payment_code(backend, wallet_id), polling=Polling(0.05, 0.1, 2))
    assert (outcome.state, outcome.charged) == (State.CANCELLING, None)  # never APPROVED on an answer it cannot verify
    assert {answer for _, answer in calls(journal, outcome.payment_request_id)} == {None, "bad-signature"}
    assert balance(backend, wallet_id) == 10_000  # its cancel went through: the gateway did act on it


@pytest.mark.parametrize(
    ("rewrite", "failure"),
    [
        (lambda body: b"<html>502 Bad Gateway</html>", "not-json"),
        (lambda body: b'{"paymentId": "P1"}', "malformed"),
        (lambda body: re.sub(rb'"resultStatus": ?"S"', b'"resultStatus": "OK"', body), "malformed"),
        (lambda body: re.sub(rb'"paymentRequestId": ?"[^"]*"', b'"paymentRequestId": "SOMEONE-ELSE"', body), "mismatch"),
        (lambda body: re.sub(rb'"value": ?"1250"', b'"value": "125"', body), None),
    ],
    ids=["not-json", "no-result", "bad-status", "another-payment", "another-amount"],
)
def test_a_signed_answer_that_makes_no_sense_is_not_taken(backend, wallet, relayed, journal, rewrite, failure):
    """Signed by the gateway's own key, but not JSON, not an AMS result, about another payment or amount: not S."""
    wallet_id = wallet("SGD", 10_000)
    _relay, gateway = relayed(lambda call, _answer: rewrite if call == "pay" else None)
    outcome = authorize(gateway, journal, sgd(1250), payment_code(backend, wallet_id), polling=FAST)
    pay = journal.events(outcome.payment_request_id)[1]
    assert (pay.call, pay.answer) == ("pay", failure or "S") and pay.state is State.RESOLVING
    assert outcome.state is State.APPROVED and balance(backend, wallet_id) == 8_750  # the inquiry's word, once


# --- a terminal killed mid-payment ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "send", "state", "left"),
    [
        (1250, True, State.APPROVED, 8_750),     # paid; the answer never recorded: completed
        (1253, True, State.CANCELLED, 10_000),   # still PROCESSING: cancelled
        (1250, False, State.NOT_PROCESSED, 10_000),  # journalled, died before sending: no such payment
    ],
    ids=["paid", "processing", "never-sent"],
)
def test_a_payment_whose_answer_was_never_recorded_is_resolved_at_the_next_start(
        backend, wallet, gateway, tmp_path, minor, send, state, left):
    wallet_id = wallet("SGD", 10_000)
    path = tmp_path / "journal.db"
    dying = Journal.open(path)
    code = payment_code(backend, wallet_id)
    creds = gateway.credentials
    dying.open_payment("POS-KILLED-1", sgd(minor), code, GatewayRef(creds.url, creds.client_id, creds.gateway_key_id))
    if send:
        gateway.pay("POS-KILLED-1", sgd(minor), code)  # the answer is lost with the terminal
    dying._db.close()  # no clean close: the process is gone

    with Journal.open(path) as restarted:
        assert [e.state for e in restarted.pending()] == [State.SENT]
        recovered = recover(gateway, restarted, polling=FAST)
        assert [(o.payment_request_id, o.state) for o in recovered.outcomes] == [("POS-KILLED-1", state)]
        assert restarted.pending() == [] and recovered.elsewhere == []
        assert recover(gateway, restarted, polling=FAST).outcomes == []  # nothing left
    assert balance(backend, wallet_id) == left


CHILD = """
import sys
from pathlib import Path
from pos_sim.domain.money import Money
from pos_sim.terminal.authorize import Polling, authorize
from pos_sim.terminal.gateway import Credentials, GatewayAnswer, GatewayClient, Timeouts
from pos_sim.terminal.journal import Journal

url, data_dir, journal_path, code, minor = sys.argv[1:]
credentials = Credentials.from_simulator_data_dir(url, Path(data_dir))
with GatewayClient(credentials, Timeouts(read_s=60)) as gateway, Journal.open(Path(journal_path)) as journal:
    authorize(gateway, journal, Money.of_minor(int(minor), "SGD"), code, polling=Polling(0.2, 600))
"""


@pytest.mark.parametrize(
    ("minor", "killed_when", "state", "left"),
    [
        (1255, "paid", State.APPROVED, 8_745),          # killed while the answer is held: the pay was done
        (1253, "resolving", State.CANCELLED, 10_000),   # killed while polling a PROCESSING payment
    ],
)
def test_a_terminal_killed_mid_payment_resolves_it_at_the_next_start(
        backend, wallet, gateway, data_dir, tmp_path, minor, killed_when, state, left):
    wallet_id = wallet("SGD", 10_000)
    path = tmp_path / "journal.db"
    child = subprocess.Popen([sys.executable, "-c", CHILD, backend.url, str(data_dir), str(path),
                              payment_code(backend, wallet_id), str(minor)], cwd=ROOT)
    try:
        def journalled():
            if not path.exists():
                return None
            with Journal.open(path) as look:
                entries = look.entries()
                return entries[0] if entries else None

        entry = wait_for(journalled, what="the journal row")
        if killed_when == "paid":
            wait_for(lambda: inquired(gateway, entry.payment_request_id).get("paymentStatus") == "SUCCESS", what="the charge")
        else:
            wait_for(lambda: journalled().state is State.RESOLVING, what="polling")
        assert child.poll() is None, "the terminal finished before it could be killed"
    finally:
        child.kill()
        child.wait(timeout=10)

    with Journal.open(path) as restarted:
        pending = restarted.pending()
        assert [e.payment_request_id for e in pending] == [entry.payment_request_id]
        recovered = recover(gateway, restarted, polling=FAST)
        assert [o.state for o in recovered.outcomes] == [state]
        assert restarted.entry(entry.payment_request_id).state is state
    assert balance(backend, wallet_id) == left


def test_recover_leaves_payments_of_another_gateway_alone(backend, wallet, gateway, journal, tmp_path):
    journal.open_payment("POS-ELSEWHERE", sgd(1250), "251001020123456789012345", GatewayRef("http://10.0.0.9", "SIM_DEMO", "f" * 16))
    recovered = recover(gateway, journal, polling=FAST)
    assert recovered.outcomes == [] and [e.payment_request_id for e in recovered.elsewhere] == ["POS-ELSEWHERE"]
    assert journal.entry("POS-ELSEWHERE").state is State.SENT


def test_one_call_from_settings_to_an_outcome_finishes_earlier_runs_first(backend, wallet, credentials, gateway, tmp_path):
    wallet_id = wallet("SGD", 10_000)
    path = tmp_path / "journal.db"
    with Journal.open(path) as earlier:  # a run that died after journalling a payment it never sent
        creds = gateway.credentials
        earlier.open_payment("POS-EARLIER", sgd(500), payment_code(backend, wallet_id),
                             GatewayRef(creds.url, creds.client_id, creds.gateway_key_id))
    done = authorize_once(credentials, path, sgd(1250), payment_code(backend, wallet_id), polling=FAST,
                          description="1 x nasi lemak")
    assert [(o.payment_request_id, o.state) for o in done.recovered.outcomes] == [("POS-EARLIER", State.NOT_PROCESSED)]
    assert (done.outcome.state, done.outcome.charged) == (State.APPROVED, True)
    assert balance(backend, wallet_id) == 8_750
    with Journal.open(path) as journal:
        assert journal.pending() == [] and journal.entry(done.outcome.payment_request_id).description == "1 x nasi lemak"


def test_refund_and_its_inquiry_through_the_gateway_client(backend, wallet, gateway, journal):
    wallet_id = wallet("SGD", 10_000)
    paid = authorize(gateway, journal, sgd(1250), payment_code(backend, wallet_id), polling=FAST)
    refund = gateway.refund("REFUND-1", paid.payment_id, sgd(250), reason="one kopi short")
    assert refund.succeeded and refund.amount("refundAmount") == sgd(250)
    again = gateway.refund("REFUND-1", paid.payment_id, sgd(250), reason="one kopi short")  # idempotent
    assert again.succeeded and again.text("refundId") == refund.text("refundId")
    found = gateway.inquire_refund(refund_request_id="REFUND-1")
    assert found.succeeded and found.text("refundStatus") == "SUCCESS"
    too_much = gateway.refund("REFUND-2", paid.payment_id, sgd(1001))
    assert (too_much.status, too_much.code) == ("F", "REFUND_AMOUNT_EXCEED")
    assert balance(backend, wallet_id) == 9_000


def test_a_pay_that_arrives_after_its_cancel_is_refused_and_charges_nothing(backend, wallet, gateway):
    wallet_id = wallet("SGD", 10_000)
    request_id = "POS" + "C" * 32
    cancelled = gateway.cancel(payment_request_id=request_id)  # the pay is still on its way
    assert isinstance(cancelled, GatewayAnswer) and cancelled.succeeded
    late = gateway.pay(request_id, sgd(1250), payment_code(backend, wallet_id))
    assert isinstance(late, GatewayAnswer) and (late.status, late.code) == ("F", "ORDER_IS_CLOSED")
    assert balance(backend, wallet_id) == 10_000 and history(backend, wallet_id) == ["fund"]
    again = gateway.cancel(payment_request_id=request_id)
    assert again.succeeded  # a cancel sent again answers the same
