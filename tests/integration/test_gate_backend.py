"""The gate against a backend over HTTP: signed transit calls both ways, taps uploaded once, a gate that
goes on offline and catches up.

Two backends: the real simulated one (its /transit/ routes of docs/transit-api.md; the tests skip,
saying so, while a backend without them is all there is), and a small stand-in on a loopback port
that speaks the same contract, signs and verifies as it says, and can drop or spoil answers: it
checks the gate's side of the wire on its own.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from pos_sim.backend import server
from pos_sim.domain import ams_signature
from pos_sim.domain.codes import ride
from pos_sim.terminal.gate import UPLOADED, WAITING, Gate, GateReason, TransitClient
from pos_sim.terminal.gateway import Credentials, Timeouts

SGT = ZoneInfo("Asia/Singapore")
FAST = Timeouts(connect_s=1.0, read_s=5.0)


# --- a stand-in backend that speaks docs/transit-api.md ---------------------------------------------


class Contract:
    """What the stand-in holds and how it behaves: the key ring it serves, the taps it stored."""

    def __init__(self, keyring: ride.KeyRing, merchant_public, gateway_private) -> None:
        self.keyring = keyring
        self.merchant_public = merchant_public
        self.gateway_private = gateway_private
        self.taps: dict[str, dict] = {}
        self.batches: list[int] = []
        self.spoil_signature = False
        self.unsigned_requests = 0


def handler(contract: Contract) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            pass

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            when = datetime.now(UTC).isoformat(timespec="seconds")
            signature = ams_signature.sign(contract.gateway_private, self.command, self.path, "SIM_DEMO", when, data)
            if contract.spoil_signature:
                signature = ams_signature.sign(contract.gateway_private, self.command, self.path, "SIM_DEMO", when, data + b" ")
            self.send_response(status)
            for name, value in (("Content-Type", "application/json"), ("client-id", "SIM_DEMO"), ("response-time", when),
                                ("signature", ams_signature.signature_header(signature)), ("Content-Length", str(len(data)))):
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _signed(self, body: bytes) -> bool:
            try:
                _alg, _version, value = ams_signature.parse_signature_header(self.headers.get("signature", ""))
                return ams_signature.verify(contract.merchant_public, self.command, self.path, self.headers["client-id"],
                                            self.headers["request-time"], body, value)
            except (ams_signature.SignatureError, KeyError):
                return False

        def _refuse(self) -> None:
            contract.unsigned_requests += 1
            self._answer(401, {"result": {"resultStatus": "F", "resultCode": "INVALID_SIGNATURE", "resultMessage": "no"}})

        def do_GET(self) -> None:
            if self.path != "/transit/keyring":
                self._answer(404, {"detail": "Not Found"})
            elif not self._signed(b""):
                self._refuse()
            else:
                self._answer(200, contract.keyring.to_document())

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != "/transit/taps":
                self._answer(404, {"detail": "Not Found"})
                return
            if not self._signed(body):
                self._refuse()
                return
            taps = json.loads(body)["taps"]
            assert len(taps) <= 1000
            contract.batches.append(len(taps))
            duplicates = sum(tap["tapId"] in contract.taps for tap in taps)
            contract.taps.update({tap["tapId"]: tap for tap in taps})
            self._answer(200, {"result": {"resultStatus": "S", "resultCode": "SUCCESS", "resultMessage": "success"},
                               "accepted": len(taps) - duplicates, "duplicates": duplicates})

    return Handler


@pytest.fixture
def keys():
    now = datetime.now(UTC).replace(microsecond=0)
    private, key = ride.generate_key_pair(3, now - timedelta(days=1), now + timedelta(days=1))
    return private, ride.KeyRing(ride.IssuerKeys((key,)), ride.DenyList(), now)


@pytest.fixture
def stand_in(keys):
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    gateway = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    contract = Contract(keys[1], merchant.public_key(), gateway)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler(contract))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    contract.credentials = Credentials(url, "SIM_DEMO", merchant, gateway.public_key())
    yield contract
    httpd.shutdown()
    httpd.server_close()


def code_of(private, account: bytes, sequence: int) -> str:
    return ride.sign(ride.RideCode(3, account, datetime.now(UTC).replace(microsecond=0), 60, sequence), private)


def test_the_gate_fetches_a_signed_key_ring_and_uploads_its_taps_once(tmp_path, stand_in, keys):
    private, served = keys
    gate = Gate.open(tmp_path / "M01", "M01", "G1", "in", client=TransitClient(stand_in.credentials, FAST), zone=SGT)
    first = gate.sync()
    assert first.ok and first.keyring_updated and gate.keyring == served
    decisions = [gate.decide(code_of(private, bytes([n + 1]) * 8, n)) for n in range(3)] + [gate.decide("junk")]
    assert [d.decision for d in decisions] == ["open", "open", "open", "deny"]
    report = gate.sync()
    assert (report.ok, report.uploaded, report.duplicates, report.waiting) == (True, 4, 0, 0)
    assert set(stand_in.taps) == {d.tap_id for d in decisions} and stand_in.unsigned_requests == 0
    tap = stand_in.taps[decisions[0].tap_id]
    assert tap == {"tapId": decisions[0].tap_id, "stationId": "M01", "gateId": "G1", "direction": "in",
                   "at": decisions[0].at.isoformat(timespec="milliseconds"), "code": decisions[0].code,
                   "account": "01" * 8, "decision": "open", "reason": "ok"}
    assert stand_in.taps[decisions[3].tap_id] | {"tapId": "", "at": ""} == {
        "tapId": "", "stationId": "M01", "gateId": "G1", "direction": "in", "at": "", "code": "junk", "account": "",
        "decision": "deny", "reason": "unreadable"}
    assert gate.sync().uploaded == 0 and stand_in.batches == [4]
    gate.close()


def test_a_key_ring_whose_signature_does_not_hold_is_not_cached(tmp_path, stand_in, keys):
    stand_in.spoil_signature = True
    gate = Gate.open(tmp_path / "M01", "M01", client=TransitClient(stand_in.credentials, FAST), zone=SGT)
    report = gate.sync()
    assert not report.ok and gate.keyring is None and not (tmp_path / "M01" / "keyring.json").exists()
    assert any("does not match the gateway's key" in problem for problem in report.problems)
    gate.close()


def test_taps_made_offline_wait_and_go_up_once_the_backend_is_back(tmp_path, stand_in, keys):
    private, _ = keys
    gate = Gate.open(tmp_path / "M01", "M01", client=TransitClient(stand_in.credentials, FAST), zone=SGT)
    gate.sync()
    gate.client = TransitClient(Credentials("http://127.0.0.1:9", "SIM_DEMO", stand_in.credentials.private_key,
                                            stand_in.credentials.gateway_public_key), FAST)  # nothing listens there
    made = [gate.decide(code_of(private, bytes([n + 1]) * 8, n)).tap_id for n in range(4)]
    offline = gate.sync()
    assert (offline.reachable, offline.waiting) == (False, 4) and stand_in.taps == {}
    gate.client = TransitClient(stand_in.credentials, FAST)
    assert gate.sync().uploaded == 4
    # a gate that died after the backend stored a batch but before marking it sends it again: duplicates, nothing doubled
    with sqlite3.connect(tmp_path / "M01" / "gate-G1.db") as db:
        db.execute("UPDATE taps SET upload = ? WHERE upload = ?", (WAITING, UPLOADED))
    again = gate.sync()
    assert (again.uploaded, again.duplicates) == (4, 4)
    assert sorted(stand_in.taps) == sorted(made)
    gate.close()


# --- the real simulated backend ----------------------------------------------------------------------


@pytest.fixture
def backend(tmp_path):
    running = server.start(server.open_gateway(tmp_path / "data"))
    yield running
    running.stop()


def wallet(url: str, balance: int = 10_000) -> str:
    answer = requests.post(f"{url}/sim/wallets", json={"currency": "SGD", "balance": balance, "name": "Rider"}, timeout=10)
    answer.raise_for_status()
    return answer.json()["walletId"]


def ride_code(url: str, wallet_id: str) -> str:
    answer = requests.post(f"{url}/sim/wallets/{wallet_id}/ride-code", json={"companions": 0}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["code"]


def balance(url: str, wallet_id: str) -> int:
    return requests.get(f"{url}/sim/wallets/{wallet_id}", timeout=10).json()["balance"]


def clear(url: str) -> dict:
    answer = requests.post(f"{url}/sim/transit/clear", timeout=30)
    answer.raise_for_status()
    return answer.json()


def gates(tmp_path: Path, url: str) -> tuple[Gate, Gate]:
    credentials = Credentials.from_simulator_data_dir(url, tmp_path / "data")
    entry = Gate.open(tmp_path / "stations" / "M01", "M01", "G1", "in", client=TransitClient(credentials, FAST), zone=SGT)
    out = Gate.open(tmp_path / "stations" / "M12", "M12", "G1", "out", client=TransitClient(credentials, FAST), zone=SGT)
    return entry, out


def test_a_wallets_ride_code_opens_the_gates_and_the_backend_has_the_taps_once(tmp_path, backend):
    rider = wallet(backend.url)
    entry, out = gates(tmp_path, backend.url)
    assert entry.sync().keyring_updated and out.sync().ok
    opened = entry.decide(ride_code(backend.url, rider))
    assert (opened.decision, opened.reason) == ("open", GateReason.OK), opened.detail
    left = out.decide(ride_code(backend.url, rider))
    assert (left.decision, left.reason) == ("open", GateReason.OK) and left.fare is not None
    reports = [entry.sync(), out.sync()]
    assert [(r.ok, r.uploaded, r.duplicates, r.waiting) for r in reports] == [(True, 1, 0, 0)] * 2
    before = balance(backend.url, rider)
    cleared = clear(backend.url)
    assert (cleared["taps"], cleared["journeys"]) == (2, 1)
    assert cleared["charged"] == {"currency": "SGD", "value": str(left.fare.minor)}  # what the exit gate said
    assert balance(backend.url, rider) == before - left.fare.minor
    with sqlite3.connect(tmp_path / "stations" / "M01" / "gate-G1.db") as db:
        db.execute("UPDATE taps SET upload = ?", (WAITING,))  # sent again, as after a crash before marking
    again = entry.sync()
    assert (again.ok, again.uploaded, again.duplicates) == (True, 1, 1)
    assert clear(backend.url)["journeys"] == 0 and balance(backend.url, rider) == before - left.fare.minor
    entry.close(), out.close()


def test_the_backends_deny_list_and_revoked_keys_reach_the_gate_and_its_refusals_go_up(tmp_path, backend):
    rider = wallet(backend.url)
    old_code = ride_code(backend.url, rider)
    account = ride.read(old_code).code.account.hex()
    rotated = requests.post(f"{backend.url}/sim/transit/keys", json={"overlapSeconds": 3600}, timeout=10)
    assert rotated.status_code == 201, rotated.text
    old_key = ride.read(old_code).code.key_id
    assert requests.post(f"{backend.url}/sim/transit/keys/{old_key}/revoke", timeout=10).status_code == 200
    entry, _out = gates(tmp_path, backend.url)
    entry.sync()
    assert entry.decide(old_code).reason is GateReason.REVOKED_KEY
    fresh = ride_code(backend.url, rider)
    assert entry.decide(fresh).opened
    assert entry.decide(fresh).reason is GateReason.REPLAYED          # goes up as evidence
    assert entry.decide(ride_code(backend.url, rider)).reason is GateReason.PASSBACK  # so does this
    assert requests.post(f"{backend.url}/sim/transit/deny", json={"account": account}, timeout=10).status_code == 200
    report = entry.sync()
    assert (report.ok, report.uploaded, report.waiting) == (True, 4, 0)  # every decision: revoked key, entry, replay, passback
    assert entry.keyring.deny.accounts == {bytes.fromhex(account)}
    other = Gate.open(tmp_path / "stations" / "M01", "M01", "G2", "in", zone=SGT)  # the station's cache: offline, it knows
    assert other.decide(ride_code(backend.url, rider)).reason is GateReason.DENIED_ACCOUNT
    other.close(), entry.close(), _out.close()


def test_an_exit_with_no_entry_goes_up_as_such_and_is_charged_the_maximum_fare(tmp_path, backend):
    rider = wallet(backend.url)
    _entry, out = gates(tmp_path, backend.url)
    out.sync()
    left = out.decide(ride_code(backend.url, rider))
    assert (left.decision, left.reason) == ("open", GateReason.NO_ENTRY)
    assert out.decide("not a ride code").reason is GateReason.UNREADABLE
    assert (out.sync().uploaded, out.sync().waiting) == (2, 0)
    before = balance(backend.url, rider)
    cleared = clear(backend.url)
    assert (cleared["taps"], cleared["journeys"], cleared["charged"]["value"]) == (1, 1, "320")
    history = requests.get(f"{backend.url}/sim/wallets/{rider}", timeout=10).json()["history"]
    assert [line["summary"] for line in history[0]["journeys"]] == [
        left.at.strftime("%Y-%m-%d no tap-in -> M12 %H:%M") + " (maximum fare: no tap-in)"]
    assert balance(backend.url, rider) == before - 320
    _entry.close(), out.close()


def test_an_offline_gate_queues_its_taps_and_uploads_them_when_the_backend_is_back(tmp_path):
    running = server.start(server.open_gateway(tmp_path / "data"))
    port = int(running.url.rsplit(":", 1)[1])
    rider = wallet(running.url)
    codes = [ride_code(running.url, rider) for _ in range(2)]
    entry, out = gates(tmp_path, running.url)
    entry.sync(), out.sync()
    running.stop()  # the backend goes away: the gates decide on with the cached key ring
    assert entry.decide(codes[0]).opened and out.decide(codes[1]).opened
    assert [g.sync().reachable for g in (entry, out)] == [False, False]
    running = server.start(server.open_gateway(tmp_path / "data"), port=port)
    try:
        assert [(r.ok, r.uploaded) for r in (entry.sync(), out.sync())] == [(True, 1), (True, 1)]
        assert [(r.uploaded, r.waiting) for r in (entry.sync(), out.sync())] == [(0, 0), (0, 0)]
        assert clear(running.url)["taps"] == 2
    finally:
        entry.close(), out.close()
        running.stop()
