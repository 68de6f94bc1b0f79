"""The transit gate offline: ride codes checked against a key ring made here, anti-passback shared by the
gates of a station folder (and seen by the stations beside it), fares from the fares engine, the journal
written before the gate opens, and sync's bookkeeping against a fake client (no network)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest

from pos_sim.domain.codes import ride
from pos_sim.domain.fares import Fares, Journey, Leg, read_network
from pos_sim.domain.money import Money
from pos_sim.terminal import gate as gate_module
from pos_sim.terminal.gate import (
    DEFAULT_NETWORK,
    UPLOADED,
    WAITING,
    Direction,
    Gate,
    GateError,
    GateReason,
)
from pos_sim.terminal.gateway import Failure, GatewayAnswer, TransportFailure
from pos_sim.terminal.station import StationError

SGT = ZoneInfo("Asia/Singapore")
T0 = datetime(2025, 3, 3, 8, 0, tzinfo=SGT)  # a Monday, 08:00: metro peak
ACCOUNT = bytes.fromhex("a1b2c3d4e5f60718293a4b5c")
OTHER = bytes.fromhex("0102030405060708")
PRIVATE, KEY = ride.generate_key_pair(1, T0 - timedelta(days=30), T0 + timedelta(days=30))
BUS = DEFAULT_NETWORK.parent / "bus"


def ring(*, revoked=(), deny=(), keys=(KEY,), published=T0 - timedelta(hours=1)) -> ride.KeyRing:
    return ride.KeyRing(ride.IssuerKeys(tuple(keys), frozenset(revoked)), ride.DenyList(frozenset(deny)), published)


class Clock:
    """The gates' clock, moved on by the test."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Wallet:
    """A rider's wallet app: fresh ride codes, each with the next sequence number."""

    def __init__(self, clock: Clock, account: bytes = ACCOUNT, private=PRIVATE, key_id: int = 1) -> None:
        self.clock, self.account, self.private, self.key_id = clock, account, private, key_id
        self.sequence = 0

    def code(self, *, issued: datetime | None = None, valid_s: int = 30, companions: int = 0) -> str:
        self.sequence += 1
        at = (issued or self.clock.now).replace(microsecond=0)
        return ride.sign(ride.RideCode(self.key_id, self.account, at, valid_s, self.sequence, companions), self.private)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wallet(clock) -> Wallet:
    return Wallet(clock)


@pytest.fixture
def open_gate(tmp_path, clock) -> Callable[..., Gate]:
    """open_gate("M01", "G1", "in") -> a gate of the station folder tmp_path/stations/M01, the key ring cached there."""
    opened: list[Gate] = []

    def make(station: str = "M01", gate_id: str = "G1", direction: str = "in", *, keyring: ride.KeyRing | None = ring(),
             **options) -> Gate:
        gate = Gate.open(tmp_path / "stations" / station, station, gate_id, direction, zone=SGT, clock=clock, **options)
        opened.append(gate)
        if keyring is not None:
            gate.install_keyring(keyring)
        return gate

    yield make
    for gate in opened:
        gate.close()


def sgd(minor: int) -> Money:
    return Money.of_minor(minor, "SGD")


# --- the code: read, verify, deny list --------------------------------------------------------


def test_a_good_code_opens_the_entry_gate_with_the_decision_timed_and_journalled(open_gate, wallet):
    gate = open_gate()
    code = wallet.code()
    decision = gate.decide(code)
    assert (decision.decision, decision.reason, decision.message) == ("open", GateReason.OK, "Welcome: have a good trip")
    assert decision.opened and decision.account == ACCOUNT.hex() and decision.direction is Direction.IN
    assert decision.fare is None and decision.fare_text == "Fare shown at exit"
    assert decision.balance is None and decision.balance_text == "Balance shown in your wallet app after sync"
    assert isinstance(decision.ms, float) and decision.ms > 0  # measured; how fast is the benchmark's business
    [tap] = gate.journal.taps()
    assert (tap.tap_id, tap.code, tap.account, tap.decision, tap.reason, tap.upload) == (
        decision.tap_id, code, ACCOUNT.hex(), "open", "ok", WAITING)
    assert tap.to_upload() == {"tapId": decision.tap_id, "stationId": "M01", "gateId": "G1", "direction": "in",
                               "at": "2025-03-03T08:00:00.000+08:00", "code": code, "account": ACCOUNT.hex(),
                               "decision": "open", "reason": "ok"}


def test_a_forged_code_is_refused_as_not_genuine(open_gate, clock):
    forger, _ = ride.generate_key_pair(1, T0 - timedelta(days=1), T0 + timedelta(days=1))  # key id 1, not the issuer's key
    decision = open_gate().decide(Wallet(clock, private=forger).code())
    assert (decision.decision, decision.reason) == ("deny", GateReason.BAD_SIGNATURE)
    assert decision.message == "Code not genuine: show the ride code from your wallet app"
    assert "signature does not match" in decision.detail


def test_an_expired_code_is_refused_and_the_clock_skew_allowance_holds(open_gate, wallet, clock):
    gate = open_gate(skew_s=5)
    assert gate.decide(wallet.code(issued=T0 - timedelta(seconds=34))).opened  # ran out 4 s ago: within the 5 s skew
    clock.advance(hours=1)  # a new trip, so passback does not come into it
    decision = gate.decide(wallet.code(issued=clock.now - timedelta(seconds=40)))  # ran out 10 s ago
    assert (decision.decision, decision.reason) == ("deny", GateReason.EXPIRED)
    assert decision.message == "Code expired: refresh the code in your wallet app"
    assert not gate.decide(wallet.code(issued=clock.now + timedelta(seconds=30))).opened  # a phone clock 30 s fast
    assert gate.journal.taps()[-1].reason == GateReason.NOT_YET_VALID


def test_a_code_of_a_revoked_or_unknown_key_is_refused(open_gate, clock):
    gate = open_gate(keyring=ring(revoked={1}))
    decision = gate.decide(Wallet(clock).code())
    assert (decision.decision, decision.reason) == ("deny", GateReason.REVOKED_KEY)
    assert decision.message == "Code no longer accepted: update your wallet app, then show a new code"
    other_private, _ = ride.generate_key_pair(7, T0 - timedelta(days=1), T0 + timedelta(days=1))
    decision = gate.decide(Wallet(clock, private=other_private, key_id=7).code())
    assert (decision.decision, decision.reason) == ("deny", GateReason.UNKNOWN_KEY)


def test_a_denied_account_is_refused_after_its_code_is_found_genuine(open_gate, clock):
    gate = open_gate(keyring=ring(deny={ACCOUNT}))
    decision = gate.decide(Wallet(clock).code())
    assert (decision.decision, decision.reason) == ("deny", GateReason.DENIED_ACCOUNT)
    assert decision.message == "Travel blocked on this account: please contact customer service"
    assert gate.decide(Wallet(clock, account=OTHER).code()).opened


def test_text_that_is_no_ride_code_is_refused_journalled_and_uploaded_as_unreadable(open_gate, wallet):
    gate = open_gate()
    damaged = wallet.code()[:-3]  # a character of base45 left over
    for text in ("hello", "00020101021226", damaged):
        decision = gate.decide(text)
        assert (decision.decision, decision.reason, decision.account) == ("deny", GateReason.UNREADABLE, None)
        assert decision.message == "Not a ride code: show the ride code in your wallet app"
    assert [(tap["reason"], tap["account"], tap["code"]) for tap in (tap.to_upload() for tap in gate.journal.waiting())] == [
        ("unreadable", "", "hello"), ("unreadable", "", "00020101021226"), ("unreadable", "", damaged)]


def test_a_gate_without_any_key_ring_refuses_every_code_and_says_it_must_sync(open_gate, wallet):
    decision = open_gate(keyring=None).decide(wallet.code())
    assert (decision.decision, decision.reason) == ("deny", GateReason.UNKNOWN_KEY)
    assert "must sync" in decision.detail


def test_companions_ride_on_one_code_up_to_the_gates_limit(open_gate, wallet):
    strict = open_gate("M01", "G1", max_companions=1)
    decision = strict.decide(wallet.code(companions=2))
    assert (decision.decision, decision.reason, decision.riders) == ("deny", GateReason.TOO_MANY_COMPANIONS, 3)
    assert decision.message == "Too many riders on one code: this gate lets 2 through"
    assert strict.decide(wallet.code(companions=1)).opened


# --- replay and anti-passback, shared by the station's gates -------------------------------------


def test_the_same_code_shown_twice_for_entry_is_a_replay_at_any_gate_of_the_station(open_gate, wallet):
    gate_a, gate_b = open_gate("M01", "A"), open_gate("M01", "B")
    code = wallet.code()
    assert gate_a.decide(code).opened
    for gate in (gate_a, gate_b):
        again = gate.decide(code)
        assert (again.decision, again.reason) == ("deny", GateReason.REPLAYED)
        assert again.message == "Code already used: refresh the code in your wallet app"
        assert "opened gate A of M01" in again.detail


def test_a_replayed_code_is_refused_for_the_exit_too(open_gate, wallet, clock):
    code = wallet.code()
    assert open_gate("M01", "A", "in").decide(code).opened
    clock.advance(seconds=20)
    assert open_gate("M01", "X", "out").decide(code).reason is GateReason.REPLAYED


def test_anti_passback_across_two_gate_objects_of_one_station_folder(open_gate, wallet, clock):
    gate_a, gate_b, exit_gate = open_gate("M01", "A", "in"), open_gate("M01", "B", "in"), open_gate("M01", "C", "out")
    assert gate_a.decide(wallet.code()).opened
    again = gate_b.decide(wallet.code())  # a fresh code, at the other gate: at once, gate B knows of gate A's entry
    assert (again.decision, again.reason, again.message) == ("deny", GateReason.PASSBACK, "Already inside: tap out first")
    assert again.detail == "tapped in at M01 (gate A) at 08:00:00 and not out since"
    assert open_gate("M01", "A", "in").decide(Wallet(clock, account=OTHER).code()).opened  # someone else: no business of it
    clock.advance(minutes=5)
    out = exit_gate.decide(wallet.code())
    assert (out.decision, out.reason) == ("open", GateReason.OK)
    clock.advance(minutes=5)
    assert gate_b.decide(wallet.code()).opened  # out, so in again


def test_an_exit_without_a_known_entry_opens_flagged_and_goes_up_as_the_open_tap_it_is(open_gate, wallet):
    gate = open_gate("M05", "X", "out")
    decision = gate.decide(wallet.code())
    assert (decision.decision, decision.reason, decision.fare) == ("open", GateReason.NO_ENTRY, None)
    assert decision.message == "Goodbye: no entry recorded: the maximum fare unless your entry is found"
    assert decision.fare_text == "Fare charged later (no entry recorded here)"
    [tap] = gate.journal.waiting()
    assert (tap.reason, tap.to_upload()["reason"]) == ("no-entry", "no-entry")  # clearing charges it as it finds it


def test_every_decision_goes_up_with_what_the_gate_decided_and_why(open_gate, wallet, clock):
    gate = open_gate()
    code = wallet.code()
    gate.decide(code), gate.decide(code), gate.decide(wallet.code()), gate.decide("junk")  # open, replay, passback, junk
    clock.advance(hours=1)
    gate.decide(wallet.code(issued=clock.now - timedelta(minutes=5)))  # expired
    assert [(tap["decision"], tap["reason"]) for tap in (tap.to_upload() for tap in gate.journal.waiting())] == [
        ("open", "ok"), ("deny", "replayed"), ("deny", "passback"), ("deny", "unreadable"), ("deny", "expired")]


def test_an_entry_left_open_longer_than_a_trip_does_not_keep_the_rider_out(open_gate, wallet, clock):
    gate = open_gate(max_trip=timedelta(hours=3))
    assert gate.decide(wallet.code()).opened
    clock.advance(hours=3, minutes=1)
    decision = gate.decide(wallet.code())
    assert (decision.decision, decision.reason) == ("open", GateReason.OK)
    assert "had no tap-out" in decision.detail


def test_the_stations_beside_a_station_folder_are_its_network(open_gate, wallet, clock):
    """An entry at M01 is known to the exit at M08 (and to M08's entry gates) when both folders sit side by side."""
    assert open_gate("M01", "G1", "in").decide(wallet.code()).opened
    entry_elsewhere = open_gate("M08", "G1", "in").decide(wallet.code())
    assert entry_elsewhere.reason is GateReason.PASSBACK and "M01" in entry_elsewhere.detail
    clock.advance(minutes=30)
    out = open_gate("M08", "G2", "out").decide(wallet.code())
    assert (out.reason, out.fare) == (GateReason.OK, sgd(210))
    assert open_gate("M08", "G2", "out").station.peers() == ["M01"]


def test_a_station_folder_is_one_stations_and_another_networks_stations_are_not_peers(tmp_path, open_gate, wallet, clock):
    open_gate("M01")
    with pytest.raises(StationError, match="the folder of station M01 of network metro, not of station M02"):
        Gate.open(tmp_path / "stations" / "M01", "M02", zone=SGT, clock=clock)
    bus = open_gate("M02", network=BUS)  # "M02", a bus stop, beside the metro's stations: another network
    assert open_gate("M01").decide(wallet.code()).opened
    assert bus.station.peers() == [] and bus.decide(wallet.code()).opened


# --- fares -----------------------------------------------------------------------------------------


def test_the_fare_at_exit_is_the_fares_engines_for_a_hand_computed_trip(open_gate, wallet, clock):
    """M01 (zone 1) at 08:00, a peak hour, to M12 (zone 3) at 08:42: 3 zones at peak, 2.70."""
    assert open_gate("M01", "G1", "in").decide(wallet.code()).opened
    clock.advance(minutes=42)
    out = open_gate("M12", "G1", "out").decide(wallet.code())
    engine = Fares(read_network(DEFAULT_NETWORK)).journey_fare(Journey.of(Leg("metro", "M01", T0, "M12", clock.now))).total
    assert out.fare == engine == sgd(270)
    assert (out.message, out.fare_text) == ("Goodbye: fare 2.70 SGD", "Fare 2.70 SGD from M01 (before any daily or weekly cap)")
    assert open_gate("M12", "G1", "out").journal.taps()[-1].reason == "ok"


def test_an_off_peak_trip_within_a_zone_and_a_code_for_two(open_gate, wallet, clock):
    """M09 to M11 (both zone 3), tapped in at 10:15 (off peak): 1 zone off peak, 1.20 each, two riders."""
    clock.now = T0.replace(hour=10, minute=15)
    assert open_gate("M09", "G1", "in").decide(wallet.code(companions=1)).opened
    clock.advance(minutes=12)
    out = open_gate("M11", "G1", "out").decide(wallet.code(companions=1))
    assert (out.fare, out.riders) == (sgd(240), 2)
    assert out.fare_text.startswith("Fare 2.40 SGD from M09, 2 riders")


def test_a_bus_tap_on_is_priced_at_once_with_free_transfers_for_an_hour(open_gate, wallet, clock):
    first = open_gate("S10", "G1", network=BUS).decide(wallet.code())
    assert (first.fare, first.fare_text) == (sgd(100), "Fare 1.00 SGD")
    clock.advance(minutes=40)
    transfer = open_gate("S14", "G1", network=BUS).decide(wallet.code())
    assert (transfer.fare, transfer.fare_text) == (sgd(0), "Transfer 0.00 SGD")
    clock.advance(minutes=21)  # 61 minutes after the first tap-on
    assert open_gate("S14", "G1", network=BUS).decide(wallet.code()).fare == sgd(100)


# --- setting up -------------------------------------------------------------------------------------


def test_a_station_that_is_not_a_stop_of_the_network_is_refused(tmp_path):
    with pytest.raises(GateError, match=r"station 'M99' is not a stop of network metro \(its stops: M01, M02"):
        Gate.open(tmp_path / "M99", "M99")
    assert not (tmp_path / "M99").exists()
    with pytest.raises(GateError, match="gate 'gate one'"):
        Gate.open(tmp_path / "M01", "M01", "gate one")
    with pytest.raises(GateError, match="tapped on only"):
        Gate.open(tmp_path / "S1", "S1", "G1", "out", network=BUS)
    with pytest.raises(GateError, match="no fare network folder"):
        Gate.open(tmp_path / "M01", "M01", network=tmp_path / "nowhere")


def test_the_key_ring_cache_is_shared_by_the_station_kept_newest_and_an_unreadable_one_is_refused(tmp_path, open_gate, wallet):
    gate_a = open_gate("M01", "A", keyring=ring())
    gate_b = open_gate("M01", "B", keyring=None)
    assert gate_b.keyring == ring()  # gate A's sync is every gate's of the station
    assert not gate_a.install_keyring(ring(published=T0 - timedelta(days=2)))  # older: kept out
    assert gate_a.install_keyring(ring(deny={ACCOUNT}, published=T0))
    assert gate_b.decide(wallet.code()).reason is GateReason.DENIED_ACCOUNT
    gate_a.close(), gate_b.close()
    offline = Gate.open(tmp_path / "stations" / "M01", "M01", "C", zone=SGT)  # started offline: the cache decides
    assert offline.keyring == ring(deny={ACCOUNT}, published=T0)
    offline.close()
    (tmp_path / "stations" / "M01" / "keyring.json").write_text("{not json")
    with pytest.raises(StationError, match=r"keyring.json: the key ring cache cannot be read \(key ring is not JSON"):
        Gate.open(tmp_path / "stations" / "M01", "M01", "C")


def test_every_decision_is_in_the_gates_own_journal_in_the_station_folder(tmp_path, open_gate, wallet):
    gate_a, gate_b = open_gate("M01", "A"), open_gate("M01", "B")
    code = wallet.code()
    gate_a.decide(code), gate_b.decide(code), gate_b.decide("nonsense")
    assert sorted(path.name for path in (tmp_path / "stations" / "M01").glob("*.db")) == ["gate-A.db", "gate-B.db", "station.db"]
    assert [(tap.decision, tap.reason) for tap in gate_a.journal.taps()] == [("open", "ok")]
    assert [(tap.decision, tap.reason) for tap in gate_b.journal.taps()] == [("deny", "replayed"), ("deny", "unreadable")]


# --- sync's bookkeeping, with a fake client ---------------------------------------------------------


class FakeClient:
    """Answers as docs/transit-api.md says, without a network: keeps what it was sent."""

    def __init__(self, keyring: ride.KeyRing | TransportFailure = ring(), refuse: int | None = None) -> None:
        self.batches: list[list[dict]] = []
        self.stored: dict[str, dict] = {}
        self.ring = keyring
        self.refuse = refuse  # the batch number to refuse (0-based)
        self.down = False
        self.credentials = type("C", (), {"url": "http://fake"})()

    def upload(self, gate_id, taps):
        if self.down:
            return TransportFailure("transitTaps", Failure.CONNECTION, "connection refused")
        self.batches.append(list(taps))
        if self.refuse == len(self.batches) - 1:
            return GatewayAnswer("transitTaps", "F", "PARAM_ILLEGAL", "no", MappingProxyType({}))
        duplicates = sum(tap["tapId"] in self.stored for tap in taps)
        self.stored.update({tap["tapId"]: tap for tap in taps})
        body = {"result": {"resultStatus": "S"}, "accepted": len(taps) - duplicates, "duplicates": duplicates}
        return GatewayAnswer("transitTaps", "S", "SUCCESS", "", MappingProxyType(body))

    def keyring(self):
        if self.down:
            return TransportFailure("transitKeyring", Failure.CONNECTION, "connection refused")
        return self.ring

    def close(self):
        pass


def test_sync_uploads_in_batches_marks_them_and_refreshes_the_key_ring(open_gate, clock, monkeypatch):
    monkeypatch.setattr(gate_module, "BATCH", 2)
    client = FakeClient(keyring=ring(deny={OTHER}, published=T0))
    gate = open_gate("M01", client=client)
    for n in range(5):
        gate.decide(Wallet(clock, account=bytes([n + 1]) * 8).code())
    gate.decide("not a ride code")
    report = gate.sync()
    assert [len(batch) for batch in client.batches] == [2, 2, 2]
    assert (report.ok, report.uploaded, report.duplicates, report.waiting, report.keyring_updated) == (True, 6, 0, 0, True)
    assert gate.keyring.deny.accounts == {OTHER}
    assert [tap.upload for tap in gate.journal.taps()] == [UPLOADED] * 6
    assert len(client.stored) == 6 and {tap["gateId"] for tap in client.stored.values()} == {"G1"}
    again = gate.sync()
    assert (again.uploaded, again.keyring_updated, len(client.batches)) == (0, False, 3)


def test_a_refused_batch_or_an_unreachable_backend_leaves_the_taps_waiting_none_lost_none_doubled(open_gate, clock, monkeypatch):
    monkeypatch.setattr(gate_module, "BATCH", 2)
    client = FakeClient(refuse=1)
    gate = open_gate("M01", client=client)
    for n in range(4):
        gate.decide(Wallet(clock, account=bytes([n + 1]) * 8).code())
    report = gate.sync()
    assert (report.reachable, report.ok, report.uploaded, report.waiting) == (True, False, 2, 2)
    assert report.problems[0] == "tap upload refused: PARAM_ILLEGAL no"
    client.down = True
    offline = gate.sync()
    assert (offline.reachable, offline.waiting) == (False, 2)
    assert "backend unreachable at http://fake" in offline.summary("http://fake")
    assert gate.decide(Wallet(clock, account=b"\x09" * 8).code()).opened  # offline, it decides as ever
    client.down, client.refuse = False, None
    back = gate.sync()
    assert (back.ok, back.uploaded, back.waiting) == (True, 3, 0)
    assert len(client.stored) == 5 and sum(map(len, client.batches)) == 2 + 2 + 2 + 1  # the refused batch sent again


def test_without_a_client_sync_says_the_gate_is_offline(open_gate, wallet):
    gate = open_gate()
    gate.decide(wallet.code())
    report = gate.sync()
    assert (report.reachable, report.waiting) == (False, 1)


def test_decisions_serialise_to_one_json_object(open_gate, wallet):
    said = open_gate().decide(wallet.code()).to_json()
    assert json.loads(json.dumps(said)) == said
    assert {"decision", "reason", "fare", "ms", "account", "balance", "tapId"} <= said.keys()
