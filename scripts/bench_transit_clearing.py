#!/usr/bin/env python3
"""Transit clearing throughput: taps cleared per second (taps -> journeys -> capped fares -> ledger charges).

A seeded week of metro riding: ``--riders`` wallets, each with its ride account, riding two to three
journeys a day across the zones, at peak and off-peak, about 2% of them without a tap-out and
about 3% of wallets too poor to pay everything (they go into debt). The taps go in through the
service's own upload (``Transit.upload``: every tap checked and its code read, batches of 1000,
as the gates' ``POST /transit/taps`` does, without the HTTP), then one clearing clears them all,
then a second clearing runs (it must charge nothing). Both stores: a SQLite file, and PostgreSQL
when ``--pg`` names a server (a fresh schema, dropped afterwards).

Issue 7's target: 1,000,000 taps cleared in 60 s or less.

Run: .venv/bin/python scripts/bench_transit_clearing.py [--taps 100000] [--pg URL] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import make_url

from pos_sim.backend import transit as transit_module
from pos_sim.backend.store import Store
from pos_sim.backend.transit import Transit
from pos_sim.backend.transit_store import transit_riders
from pos_sim.domain.codes import ride

OPERATOR = "METRO_OPS"
SGT = timezone(timedelta(hours=8))
STATIONS = [f"M{i:02d}" for i in range(1, 13)]
MONDAY = datetime(2025, 3, 3, tzinfo=SGT)


def week_of_taps(code: str, account: str, rng: random.Random, taps: int) -> list[dict]:
    """About ``taps`` taps of one rider over a week from MONDAY, in time order."""
    out: list[dict] = []
    day = 0
    while len(out) < taps:
        start = MONDAY + timedelta(days=day % 7, hours=rng.choice([7, 8, 12, 17, 18, 21]), minutes=rng.randrange(60))
        for _ in range(rng.choice([2, 3])):
            entry, exit_ = rng.sample(STATIONS, 2)
            out.append(tap(code, account, "in", start, entry))
            if rng.random() > 0.02 and len(out) < taps:
                out.append(tap(code, account, "out", start + timedelta(minutes=rng.randrange(5, 70)), exit_))
            start += timedelta(hours=rng.randrange(2, 5))
            if len(out) >= taps:
                break
        day += 1
    return out


def tap(code: str, account: str, direction: str, at: datetime, station: str) -> dict:
    return {"tapId": str(uuid.uuid4()), "stationId": station, "gateId": f"{station}-G{random.randrange(1, 5)}",
            "direction": direction, "at": at.isoformat(), "code": code, "account": account, "decision": "open", "reason": "ok"}


def bench(url: str, total_taps: int, per_rider: int, seed: int) -> None:
    rng = random.Random(seed)
    store = Store.open(url)
    service = Transit(store)
    riders = max(1, total_taps // per_rider)
    at = datetime.now(UTC).replace(microsecond=0)
    key, issuer = ride.generate_key_pair(1, at - timedelta(days=1), at + timedelta(days=365))
    with store.begin() as tx:
        tx.add_merchant(OPERATOR, "City Metro", "(not used: the bench uploads without HTTP)", "SGD")
        wallets = [tx.add_wallet("SGD", 500 if rng.random() < 0.03 else 100_000, f"rider {i}") for i in range(riders)]
        accounts = [secrets.token_bytes(16) for _ in wallets]
        tx.connection.execute(insert(transit_riders), [
            {"account": account.hex(), "wallet_id": wallet_id, "sequence": 1, "created_at": at}
            for account, wallet_id in zip(accounts, wallets)])
    taps: list[dict] = []
    for account in accounts:
        code = ride.sign(ride.RideCode(issuer.key_id, account, at, 60, 1), key)
        taps += week_of_taps(code, account.hex(), rng, per_rider)
    taps = taps[:total_taps]
    rng.shuffle(taps)  # gates upload in no order of riders

    started = time.perf_counter()
    for i in range(0, len(taps), transit_module.MAX_TAPS):
        answer = service.upload(OPERATOR, {"gateId": "G1", "taps": taps[i:i + transit_module.MAX_TAPS]})
        assert answer["accepted"] == len(taps[i:i + transit_module.MAX_TAPS]), answer
    upload_s = time.perf_counter() - started

    load_before = os.getloadavg()
    started, cpu = time.perf_counter(), time.process_time()
    cleared = service.clear()
    clear_s, clear_cpu = time.perf_counter() - started, time.process_time() - cpu
    load_after = os.getloadavg()
    started = time.perf_counter()
    again = service.clear()
    again_s = time.perf_counter() - started
    assert cleared["taps"] == len(taps), cleared
    assert again["charged"]["value"] == "0" and again["journeys"] == 0, again

    with store.begin() as tx:
        trial = tx.trial_balance()
    assert all(total == 0 for total in trial.values()), trial
    store.close()
    print(f"{store.dialect:10s} {len(taps):>9,d} taps {riders:>7,d} riders | upload {len(taps) / upload_s:>8,.0f} taps/s"
          f" ({upload_s:6.1f} s) | clearing {len(taps) / clear_s:>8,.0f} taps/s ({clear_s:6.1f} s,"
          f" CPU here {clear_cpu:5.1f} s):"
          f" {cleared['journeys']:,d} journeys, {int(cleared['charged']['value']) / 100:,.2f} SGD charged,"
          f" {cleared['indebtedCount']:,d} in debt | again {again_s:5.2f} s"
          f" | load average {load_before[0]:.2f} -> {load_after[0]:.2f} ({os.cpu_count()} CPUs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=100_000)
    parser.add_argument("--per-rider", type=int, default=20, help="taps a rider makes in the week")
    parser.add_argument("--pg", default="", help="a PostgreSQL server URL to bench on too (a fresh schema in it)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            bench(f"sqlite:///{Path(folder) / 'ledger.db'}", args.taps, args.per_rider, args.seed)
    if args.pg:
        import psycopg

        schema = f"bench_{secrets.token_hex(4)}"
        admin_url = make_url(args.pg).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            url = make_url(args.pg).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
            bench(url, args.taps, args.per_rider, args.seed)
        finally:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
