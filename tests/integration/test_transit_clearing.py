"""Incremental clearing (pos_sim/backend/services/clearing.py) charges what one clearing of everything charges.

A tap stream of a few riders (metro taps in and out, no tap-outs, exits with no tap-in, denied taps, codes
shown twice, companions, wallets too poor to pay it all), cut into runs at any points: each run uploads
its taps and clears, its clock somewhere between its last tap and the next run's first (clearing runs
while the network rides on). At the end, on the same clock, the ledger must hold what one upload and one
clearing of the whole stream make: every wallet's balance, every journey's fare, cap and payment, the net
charged for each journey, the debts and the deny list. A second property uploads some taps late (a gate
offline for a while) to wallets that can pay: the same fares and balances. On SQLite and on PostgreSQL
(POS_SIM_TEST_PG), a fresh database for each example.
"""

import random
import sqlite3
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from pos_sim.backend.store.clock import SimClock
from pos_sim.backend.store.database import Store
from pos_sim.backend.store.tables import entries, postings
from pos_sim.backend.services import transit as transit_service
from pos_sim.backend.services.transit import Transit
from pos_sim.backend.store.transit import transit_debts, transit_deny, transit_journeys, transit_riders
from pos_sim.domain.codes import ride
from tests.integration.conftest import PG_URL, empty_database

OPERATOR = "METRO_OPS"
SGT = timezone(timedelta(hours=8))
START = datetime(2025, 3, 2, 20, 0, tzinfo=SGT)  # a Sunday evening: service days and a week change early on
STATIONS = [f"M{i:02d}" for i in range(1, 13)]
ISSUER_KEY, ISSUER = ride.generate_key_pair(1, START - timedelta(days=1), START + timedelta(days=365))
GAPS = [0, 1, 4, 10, 11, 12, 40, 90, 179, 181, 300, 600, 1440]
"""Minutes between taps: within and beyond a code's replay window, the 3 h journey time limit, a day."""


class Clock(SimClock):
    """The store's clock, set by the test: when each clearing runs."""

    def __init__(self) -> None:
        super().__init__()
        self.at = START

    def now(self) -> datetime:
        return self.at.astimezone(UTC)


@st.composite
def streams(draw, poor: bool = True):
    riders = draw(st.integers(1, 3))
    balances = [draw(st.sampled_from([150, 600, 2000, 100_000] if poor else [100_000])) for _ in range(riders)]
    accounts = [bytes([rider + 1]) * 16 for rider in range(riders)]
    codes = {}
    taps, at = [], START
    for _ in range(draw(st.integers(1, 36))):
        at += timedelta(minutes=draw(st.sampled_from(GAPS)))
        rider = draw(st.integers(0, riders - 1))
        number = draw(st.integers(1, 4))  # a few codes a rider, each for 0, 1 or 2 companions: some shown twice
        if (rider, number) not in codes:
            code = ride.RideCode(ISSUER.key_id, accounts[rider], START, 60, number, number % 3)
            codes[(rider, number)] = ride.sign(code, ISSUER_KEY)
        denied = draw(st.integers(0, 7)) == 0
        taps.append({"tapId": str(uuid.UUID(int=len(taps) + 1)), "stationId": draw(st.sampled_from(STATIONS)),
                     "gateId": "G1", "direction": draw(st.sampled_from(["in", "out"])), "at": at.isoformat(),
                     "code": codes[(rider, number)], "account": accounts[rider].hex(),
                     "decision": "deny" if denied else "open", "reason": "expired" if denied else "ok"})
    cuts = sorted(draw(st.sets(st.integers(1, len(taps) - 1), max_size=8)) if len(taps) > 1 else [])
    runs = [taps[start:end] for start, end in zip([0, *cuts], [*cuts, len(taps)])]
    clocks = []  # each run's clearing: between its last tap and the next run's first
    for run, following in zip(runs, runs[1:]):
        last, first = datetime.fromisoformat(run[-1]["at"]), datetime.fromisoformat(following[0]["at"])
        clocks.append(last + (first - last) * draw(st.sampled_from([0, 0.5, 1])))
    clocks.append(datetime.fromisoformat(taps[-1]["at"]) + timedelta(minutes=draw(st.sampled_from([0, 30, 200, 2000]))))
    late = [draw(st.integers(0, 2)) if not poor else 0 for _ in taps]  # runs a tap's upload waits
    return list(zip(accounts, balances)), runs, clocks, late


def cleared(url: str, riders, runs, clocks) -> tuple:
    """Upload and clear each run in turn; what the ledger then holds."""
    clock = Clock()
    with Store.open(url, clock=clock) as store:
        transit = Transit(store)
        with store.begin() as tx:
            tx.add_merchant(OPERATOR, "City Metro", "(not used)", "SGD")
            wallets = [tx.add_wallet("SGD", balance, f"rider {i}") for i, (_account, balance) in enumerate(riders)]
            tx.connection.execute(insert(transit_riders), [
                {"account": account.hex(), "wallet_id": wallet_id, "sequence": 4, "created_at": START}
                for (account, _balance), wallet_id in zip(riders, wallets)])
        for run, at in zip(runs, clocks):
            clock.at = at
            if run:
                answer = transit.upload(OPERATOR, {"gateId": "G1", "taps": run})
                assert answer["accepted"] == len(run) and not answer["refused"], answer
            transit.clear()
        with store.begin() as tx:
            conn = tx.connection
            balances = [tx.account(wallet_id).balance for wallet_id in wallets]
            journeys = sorted(
                (row.account, row.journey_key, row.riders, row.fare, row.amount, row.paid, row.penalty, row.capped_by,
                 row.summary) for row in conn.execute(select(transit_journeys)) if row.amount or row.paid)
            net = dict(conn.execute(select(entries.c.account_id, func.sum(entries.c.amount)).join(postings)
                                    .where(entries.c.account_id.in_(wallets), postings.c.kind.like("fare%"))
                                    .group_by(entries.c.account_id)).all())  # what each wallet paid in fares
            debts = sorted(conn.execute(select(transit_debts.c.account, transit_debts.c.owed)).all())
            denied = sorted(conn.execute(select(transit_deny.c.account, transit_deny.c.cause)).all())
            assert all(total == 0 for total in tx.trial_balance().values())
    paid = {wallets.index(wallet): amount for wallet, amount in net.items() if amount}  # rider by rider
    return balances, journeys, paid, debts, denied


def check(kind: str, stream) -> None:
    riders, runs, clocks, late = stream
    taps = [tap for run in runs for tap in run]
    uploads: list[list[dict]] = [[] for _ in runs]
    for index, run in enumerate(runs):  # a tap uploaded late goes up with a later run (the last at the latest)
        for tap in run:
            uploads[min(index + late[taps.index(tap)], len(runs) - 1)].append(tap)
    with tempfile.TemporaryDirectory() as folder, empty_database(kind, Path(folder)) as once, empty_database(kind, Path(folder)) as split:
        whole = cleared(once, riders, [taps], [clocks[-1]])
        assert cleared(split, riders, uploads, clocks) == whole


KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL, reason="set POS_SIM_TEST_PG to run on PostgreSQL"))]


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams())
def test_clearing_a_stream_in_runs_charges_what_clearing_it_at_once_does(kind, stream):
    check(kind, stream)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(poor=False))
def test_taps_uploaded_late_are_priced_as_if_they_had_come_in_time(kind, stream):
    check(kind, stream)


@pytest.mark.parametrize("kind", KINDS)
def test_an_entry_waiting_for_its_exit_stays_after_the_checkpoint(kind):
    account = bytes([7]) * 16
    codes = [ride.sign(ride.RideCode(ISSUER.key_id, account, START, 60, n, 0), ISSUER_KEY) for n in (1, 2, 3)]

    def tap(n: int, direction: str, at: datetime, station: str) -> dict:
        return {"tapId": str(uuid.UUID(int=n + 1)), "stationId": station, "gateId": "G1", "direction": direction,
                "at": at.isoformat(), "code": codes[n], "account": account.hex(), "decision": "open", "reason": "ok"}

    first = [tap(0, "in", START, "M01"), tap(1, "in", START + timedelta(hours=2), "M02")]  # the first had no tap-out
    # cleared when the first entry is past its 3 h and the second is not: the second waits, and its exit comes
    later = [tap(2, "out", START + timedelta(hours=3, minutes=30), "M05")]
    check(kind, ([(account, 100_000)], [first, later], [START + timedelta(hours=3, minutes=10),
                                                           START + timedelta(hours=4)], [0, 0, 0]))


def pages_written(path: Path, clearing: Callable[[], object], btree: str) -> int:
    """The pages of B-tree ``btree`` in the SQLite store at ``path`` that ``clearing`` changed (its WAL checkpointed
    into the file before and after; the store's own connection is between transactions)."""
    def checkpointed() -> list[bytes]:
        with sqlite3.connect(path) as db:
            assert not db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            size = db.execute("PRAGMA page_size").fetchone()[0]
        data = path.read_bytes()
        return [data[at:at + size] for at in range(0, len(data), size)]

    before = checkpointed()
    clearing()
    after = checkpointed()
    with sqlite3.connect(path) as db:
        pages = {number - 1 for (number,) in db.execute("SELECT pageno FROM dbstat WHERE name = ?", (btree,))}
    return sum(1 for number in pages if number >= len(before) or before[number] != after[number])


def eight_nights(path: Path, measure: Callable[[Store, Callable[[], object]], int]) -> dict[int, int]:
    """200 riders' metro rides, three journeys a rider a day for eight days from Monday on, each night's taps uploaded
    and cleared on the SQLite store at ``path``: ``measure(store, clearing)`` of each night's clearing, by night."""
    rng = random.Random(5)
    accounts = [rng.getrandbits(128).to_bytes(16, "big") for _ in range(200)]
    codes = [ride.sign(ride.RideCode(ISSUER.key_id, account, START, 60, 1, 0), ISSUER_KEY) for account in accounts]
    clock = Clock()
    measured = {}
    with Store.open(f"sqlite:///{path}", clock=clock) as store:
        transit = Transit(store)
        with store.begin() as tx:
            tx.add_merchant(OPERATOR, "City Metro", "(not used)", "SGD")
            tx.connection.execute(insert(transit_riders), [
                {"account": account.hex(), "wallet_id": tx.add_wallet("SGD", 100_000, f"rider {n}"), "sequence": 1,
                 "created_at": START} for n, account in enumerate(accounts)])
        for night in range(1, 9):
            morning = START + timedelta(days=night - 1, hours=11)
            taps = []
            for account, code in zip(accounts, codes):
                at = morning + timedelta(minutes=rng.randrange(60))
                for _ in range(3):
                    for direction, station, when in zip(("in", "out"), rng.sample(STATIONS, 2), (at, at + timedelta(minutes=30))):
                        taps.append({"tapId": str(uuid.UUID(int=rng.getrandbits(128))), "stationId": station, "gateId": "G1",
                                     "direction": direction, "at": when.isoformat(), "code": code, "account": account.hex(),
                                     "decision": "open", "reason": "ok"})
                    at += timedelta(hours=4)
            rng.shuffle(taps)
            clock.at = morning + timedelta(days=1)  # the night after: the taps uploaded, then cleared
            for start in range(0, len(taps), transit_service.MAX_TAPS):
                answer = transit.upload(OPERATOR, {"gateId": "G1", "taps": taps[start:start + transit_service.MAX_TAPS]})
                assert not answer["refused"], answer["refused"][:1]
            measured[night] = measure(store, transit.clear)
    return measured


def test_a_night_s_clearing_writes_as_few_pages_of_the_journeys_key_after_a_week_as_on_the_first_night(tmp_path):
    """A night's journeys go at the end of the journeys' key (the day first), on as many pages as they fill, whatever
    the nights behind them: keyed by account first, each rider's journeys went to a page of the rider's own, and a
    night's clearing wrote more pages every night (docs/benchmarks.md). Pages are what the machine's load does not move."""
    path = tmp_path / "ledger.db"
    written = eight_nights(path, lambda _store, clearing: pages_written(path, clearing, "sqlite_autoindex_transit_journeys_1"))
    assert written[8] <= 2 * written[1], written


def sqlite_steps(store: Store, clearing: Callable[[], object]) -> int:
    """The instructions of SQLite's virtual machine, in hundreds, that ``clearing`` ran on the store's connection: the
    rows its statements read and wrote, which neither the machine's load nor its B-trees' depth moves."""
    counted = [0]

    def count() -> None:
        counted[0] += 1

    with store.begin() as tx:  # SQLite's store runs every transaction on this one connection
        driver = tx.connection.connection.driver_connection
    driver.set_progress_handler(count, 100)
    try:
        clearing()
    finally:
        driver.set_progress_handler(None, 100)
    return counted[0]


def test_a_night_s_clearing_reads_and_writes_as_many_rows_after_a_week_as_on_the_first_night(tmp_path):
    """A night reads the riders' checkpoints, cap totals and taps, and writes their journeys, postings and totals: as
    many rows after a week as on the first night. It read the journeys of each account from its checkpoint on (a day
    of the key at a time, most of them before the checkpoint) and a row a rider, cap and open period of cap totals, and
    wrote those again, more rows after the first nights (1.35 times night 1's instructions on night 8; docs/benchmarks.md)."""
    steps = eight_nights(tmp_path / "ledger.db", sqlite_steps)
    assert steps[8] <= 1.1 * steps[1], steps
