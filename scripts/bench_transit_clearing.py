#!/usr/bin/env python3
"""Transit clearing: taps cleared per second (taps -> journeys -> capped fares -> ledger charges), and
whether a night's clearing costs the same on day 30 as on day 1.

Seeded metro riding (assets/transit/metro): ``--riders`` wallets each with its ride account, two to
three journeys a day across the zones, at peak and off-peak, about 2% without a tap-out and about 3% of
wallets too poor to pay everything (they go into debt). Taps go in through the service's own upload
(``Transit.upload``: every tap checked and its code read, batches of 1000, as the gates'
``POST /transit/taps`` does, without the HTTP). Both stores: a SQLite file, and PostgreSQL when
``--pg`` names a server (a fresh schema, dropped afterwards).

Two modes:

- ``--taps N`` (default): a week of taps, uploaded, then one clearing clears them all, then a second
  clearing (it must charge nothing). Issue 18's target: 1,000,000 taps in 20 s or less on SQLite.
- ``--days N --taps-per-day M``: day after day, the day's taps uploaded and cleared that night (the
  clock at 08:00 the next morning), printing ``day K: X s``. On SQLite ``X`` is the median of ``--repeat``
  clearings of the night, each on a copy of the store as it stood before the night (the same work as the
  real night, which is cleared after them), CPU here beside it: one clearing of a night (0.3-0.5 s) moves
  by more than the 30% asked from one run to the next. Then the first and the last night cleared again in
  turn, ``--repeat`` times each (the same load for both), and, in the same run, the baseline: the old way,
  every account priced again over its whole history (what clearing did before it kept checkpoints and cap
  totals), which must charge nothing. Issue 18's target: day 30 costs no more than 1.3 times day 1.

"CPU here" is this process's CPU time (on PostgreSQL the server's is not in it): a figure the machine's
other work moves less than the wall clock.

Run: .venv/bin/python scripts/bench_transit_clearing.py [--taps 100000 | --days 30 --taps-per-day 20000 [--repeat 5]] [--pg URL] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.engine import make_url

from pos_sim.backend.services import clearing, transit as transit_module
from pos_sim.backend.store.clock import SimClock
from pos_sim.backend.store.database import Store
from pos_sim.backend.services.transit import Transit
from pos_sim.backend.store.transit import transit_checkpoints, transit_riders
from pos_sim.domain.codes import ride

OPERATOR = "METRO_OPS"
SGT = timezone(timedelta(hours=8))
STATIONS = [f"M{i:02d}" for i in range(1, 13)]
MONDAY = datetime(2025, 3, 3, tzinfo=SGT)


class Clock(SimClock):
    """The store's clock, set by the bench: the night each clearing runs."""

    def __init__(self) -> None:
        super().__init__()
        self.at: datetime | None = None

    def now(self) -> datetime:
        return super().now() if self.at is None else self.at.astimezone(UTC)


def day_of_taps(code: str, account: str, rng: random.Random, day: int, most: int) -> list[dict]:
    """One rider's taps of day ``day`` after MONDAY (at most ``most``): two or three journeys, in time order."""
    out: list[dict] = []
    start = MONDAY + timedelta(days=day, hours=rng.choice([7, 8, 12, 17, 18, 21]), minutes=rng.randrange(60))
    for _ in range(rng.choice([2, 3])):
        entry, exit_ = rng.sample(STATIONS, 2)
        out.append(tap(code, account, "in", start, entry))
        if rng.random() > 0.02:
            out.append(tap(code, account, "out", start + timedelta(minutes=rng.randrange(5, 70)), exit_))
        start += timedelta(hours=rng.randrange(2, 5))
    return out[:most]


def tap(code: str, account: str, direction: str, at: datetime, station: str) -> dict:
    return {"tapId": str(uuid.uuid4()), "stationId": station, "gateId": f"{station}-G{random.randrange(1, 5)}",
            "direction": direction, "at": at.isoformat(), "code": code, "account": account, "decision": "open", "reason": "ok"}


class Network:
    """A store with ``riders`` wallets and their ride accounts, and their codes."""

    def __init__(self, url: str, riders: int, rng: random.Random) -> None:
        self.clock = Clock()
        self.store = Store.open(url, clock=self.clock)
        self.service = Transit(self.store)
        at = datetime.now(UTC).replace(microsecond=0)
        key, issuer = ride.generate_key_pair(1, at - timedelta(days=1), at + timedelta(days=365))
        with self.store.begin() as tx:
            tx.add_merchant(OPERATOR, "City Metro", "(not used: the bench uploads without HTTP)", "SGD")
            wallets = [tx.add_wallet("SGD", 500 if rng.random() < 0.03 else 100_000, f"rider {i}") for i in range(riders)]
            accounts = [secrets.token_bytes(16) for _ in wallets]
            tx.connection.execute(insert(transit_riders), [
                {"account": account.hex(), "wallet_id": wallet_id, "sequence": 1, "created_at": at}
                for account, wallet_id in zip(accounts, wallets)])
        self.riders = [(ride.sign(ride.RideCode(issuer.key_id, account, at, 60, 1), key), account.hex()) for account in accounts]

    def upload(self, taps: list[dict]) -> float:
        started = time.perf_counter()
        for i in range(0, len(taps), transit_module.MAX_TAPS):
            answer = self.service.upload(OPERATOR, {"gateId": "G1", "taps": taps[i:i + transit_module.MAX_TAPS]})
            assert answer["accepted"] == len(taps[i:i + transit_module.MAX_TAPS]), answer["refused"][:1]
        return time.perf_counter() - started

    def clear(self) -> tuple[dict, float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        cleared = self.service.clear()
        return cleared, time.perf_counter() - started, time.process_time() - cpu

    def check_books(self) -> None:
        with self.store.begin() as tx:
            trial = tx.trial_balance()
        assert all(total == 0 for total in trial.values()), trial
        self.store.close()


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def bench_once(url: str, total_taps: int, per_rider: int, seed: int) -> None:
    """A week of taps, one clearing of all of them, then a second that must charge nothing."""
    rng = random.Random(seed)
    network = Network(url, max(1, total_taps // per_rider), rng)
    taps: list[dict] = []
    for code, account in network.riders:
        mine: list[dict] = []
        for day in range(7):
            mine += day_of_taps(code, account, rng, day, per_rider - len(mine))
            if len(mine) >= per_rider:
                break
        taps += mine
    taps = taps[:total_taps]
    rng.shuffle(taps)  # gates upload in no order of riders
    upload_s = network.upload(taps)
    before = load()
    cleared, clear_s, clear_cpu = network.clear()
    after = load()
    again, again_s, _cpu = network.clear()
    assert cleared["taps"] == len(taps), cleared
    assert again["charged"]["value"] == "0" and again["journeys"] == 0, again
    network.check_books()
    print(f"{network.store.dialect:10s} {len(taps):>9,d} taps {len(network.riders):>7,d} riders"
          f" | upload {len(taps) / upload_s:>8,.0f} taps/s ({upload_s:6.1f} s) | clearing {len(taps) / clear_s:>8,.0f} taps/s"
          f" ({clear_s:6.1f} s, CPU here {clear_cpu:5.1f} s): {cleared['journeys']:,d} journeys,"
          f" {int(cleared['charged']['value']) / 100:,.2f} SGD charged, {cleared['indebtedCount']:,d} in debt"
          f" | again {again_s:5.2f} s | load average {before} -> {after} ({os.cpu_count()} CPUs)")


def snapshot(url: str, path: Path) -> Path:
    """A copy at ``path`` of the SQLite store at ``url`` as it stands (its WAL checkpointed into the file first)."""
    source = make_url(url).database
    with sqlite3.connect(source) as conn:  # the store's own connection is between transactions
        busy, _frames, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert not busy, "the store's WAL could not be checkpointed"
    return durable_copy(Path(source), path)


def durable_copy(source: Path, path: Path) -> Path:
    """``source`` copied to ``path`` and synced: the copy's pages are on disk before a clearing is timed on it, or
    the clearing's first sync would write the whole file (more the bigger the store) and be timed for it."""
    shutil.copyfile(source, path)
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return path


def clear_copy(night: Path, clock: Clock) -> tuple[float, float]:
    """The night's clearing on a fresh copy of ``night`` (a store as it stood before the night: the same taps,
    journeys, totals and ledger, so the same work as the real night): its wall clock and CPU."""
    copy = durable_copy(night, night.with_name("copy.db"))
    store = Store.open(f"sqlite:///{copy}", clock=clock)
    service = Transit(store)
    service.clearing.network()  # the fares read, as the real store's service has them (from night 1 on)
    started, used = time.perf_counter(), time.process_time()
    service.clear()
    seconds, cpu = time.perf_counter() - started, time.process_time() - used
    store.close()
    for leftover in copy.parent.glob("copy.db*"):
        leftover.unlink()
    return seconds, cpu


def bench_days(url: str, days: int, taps_per_day: int, seed: int, repeat: int) -> None:
    """Day after day: the day's taps uploaded and cleared that night; then the old way, everything again.

    On SQLite each night is measured ``repeat`` times on copies of the store as it stood before it (then cleared
    for real, to go on to the next day): ``day K: X s`` is the median of those clearings. One night costs
    0.3-0.5 s, and one clearing of it moves by more than the 30% asked from one run to the next. On PostgreSQL
    (no file to copy) a night is its one real clearing."""
    rng = random.Random(seed)
    network = Network(url, max(1, taps_per_day // 5), rng)
    network.service.clearing.network()  # the fares read before night 1, as on every night after
    dialect = network.store.dialect
    copies = repeat if dialect == "sqlite" else 0
    if copies:
        print(f"{dialect}: each night's figure is the median of {copies} clearings of its taps, each on a copy of the"
              " store as it stood before the night (then the night is cleared for real; its own figures follow the |)",
              flush=True)
    else:
        print(f"{dialect}: each night's figure is its one clearing (copies of the store are SQLite's only)", flush=True)
    seconds: list[float] = []
    cpu: list[float] = []
    folder = tempfile.TemporaryDirectory()
    kept: dict[int, Path] = {}  # the stores before the first and the last night
    for day in range(days):
        taps: list[dict] = []
        for code, account in network.riders:
            taps += day_of_taps(code, account, rng, day, 3 * 2)
        rng.shuffle(taps)
        taps = taps[:taps_per_day]
        network.clock.at = MONDAY + timedelta(days=day + 1, hours=8)  # the night after: the day's last trips are done
        network.upload(taps)
        before = load()
        walls, cpus = [], []
        if copies:
            night = snapshot(url, Path(folder.name) / f"before-day-{day + 1}.db")
            walls, cpus = map(list, zip(*(clear_copy(night, network.clock) for _ in range(copies))))
            if day in (0, days - 1):
                kept[day + 1] = night
            else:
                night.unlink()
        cleared, clear_s, clear_cpu = network.clear()
        walls, cpus = walls or [clear_s], cpus or [clear_cpu]
        seconds.append(statistics.median(walls))
        cpu.append(statistics.median(cpus))
        assert cleared["taps"] == len(taps), cleared
        spread = (f"; of {len(walls)}: wall {min(walls):.2f}-{max(walls):.2f} s, CPU {min(cpus):.2f}-{max(cpus):.2f} s"
                  f" | the night itself {clear_s:.2f} s, CPU {clear_cpu:.2f} s" if copies else "")
        print(f"{dialect} day {day + 1}: {seconds[-1]:.2f} s (CPU here {cpu[-1]:.2f} s{spread}) | {len(taps):,d} taps,"
              f" {cleared['journeys']:,d} journeys, {int(cleared['charged']['value']) / 100:,.2f} SGD,"
              f" {cleared['indebtedCount']:,d} in debt | load average {before} -> {load()}", flush=True)
    if copies and days > 1:  # the first and the last night again, in turn: the same load for both
        before = load()
        turns = {1: ([], []), days: ([], [])}
        for _ in range(copies):
            for day, (walls, cpus) in turns.items():
                wall, used = clear_copy(kept[day], network.clock)
                walls.append(wall)
                cpus.append(used)
        (first_wall, first_cpu), (last_wall, last_cpu) = ([statistics.median(f) for f in figures] for figures in turns.values())
        print(f"{dialect} day 1 and day {days} cleared in turn, {copies} times each (copies of the store before each"
              f" night), medians: wall clock {first_wall:.2f} s and {last_wall:.2f} s, {last_wall / first_wall:.2f}x;"
              f" CPU here {first_cpu:.2f} s and {last_cpu:.2f} s, {last_cpu / first_cpu:.2f}x | load average {before} -> {load()}",
              flush=True)
    folder.cleanup()
    with network.store.begin() as tx:  # the old way: every account priced again from its first tap
        tx.connection.execute(update(transit_checkpoints).values(before_ms=0))
        accounts = list(tx.connection.execute(select(transit_checkpoints.c.account)).scalars())
    with network.store.begin() as tx:
        clearing.queue(tx.connection, dialect, {account: (0, 0) for account in accounts})
    before = load()
    whole, whole_s, whole_cpu = network.clear()
    assert whole["charged"]["value"] == "0" and whole["refunded"]["value"] == "0", whole  # the same prices, again
    print(f"{dialect} baseline, every account priced again over all {days} days (the old way): {whole_s:.2f} s"
          f" (CPU here {whole_cpu:.2f} s) | load average {before} -> {load()}")
    span = min(5, days)
    for name, figures, whole_figure in (("wall clock", seconds, whole_s), ("CPU here", cpu, whole_cpu)):
        last, first = statistics.median(figures[-span:]), statistics.median(figures[:span])
        print(f"{dialect} {name}: day {days} against day 1 {figures[-1] / figures[0]:.2f}x;"
              f" days {days - span + 1}-{days} against days 1-{span} (medians) {last / first:.2f}x;"
              f" the old way {whole_figure / last:.1f}x a night's clearing of days {days - span + 1}-{days}")
    network.check_books()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=100_000, help="taps of the one-clearing mode")
    parser.add_argument("--per-rider", type=int, default=20, help="taps a rider makes in the week (one-clearing mode)")
    parser.add_argument("--days", type=int, default=0, help="clear day after day, this many days")
    parser.add_argument("--taps-per-day", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5,
                        help="clearings of each night on copies of the store, of which day K's figure is the median (SQLite)")
    parser.add_argument("--pg", default="", help="a PostgreSQL server URL to bench on too (a fresh schema in it)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat is at least 1")

    def run(url: str) -> None:
        if args.days:
            bench_days(url, args.days, args.taps_per_day, args.seed, args.repeat)
        else:
            bench_once(url, args.taps, args.per_rider, args.seed)

    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{Path(folder) / 'ledger.db'}")
    if args.pg:
        import psycopg

        schema = f"bench_{secrets.token_hex(4)}"
        admin_url = make_url(args.pg).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            run(make_url(args.pg).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False))
        finally:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
