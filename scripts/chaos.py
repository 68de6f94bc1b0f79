#!/usr/bin/env python3
"""A long chaos run: payments from several terminals at once while the backend is SIGKILLed and restarted,
the network is cut and slowed, and every fault of the simulator is armed; then every payment resolved
and the books checked. Prints its figures; exits 1 on any violation (0 when none).

The machinery is tests/chaos/harness.py, which the test suite's short run (tests/chaos/test_chaos.py)
uses too. What it checks, and the figures of past runs: docs/reliability.md.

Run:  .venv/bin/python scripts/chaos.py --duration 600 --terminals 6 --seed 7
      .venv/bin/python scripts/chaos.py --duration 600 --pg postgresql://postgres@127.0.0.1:5432/test
      .venv/bin/python scripts/chaos.py --payments 200 --kills 3 --cuts 5     # a run of so many payments
Events default to a rate: a backend kill every 45 s, a network cut every 25 s, a network delay every
40 s and a fault armed every 3 s of the duration (or every 15, 8, 12 and 1 payments of --payments).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pos_sim.terminal.authorize import Polling  # noqa: E402
from pos_sim.terminal.gateway import Timeouts  # noqa: E402
from tests.chaos.harness import ChaosConfig, machine_load, pg_schema, run_chaos  # noqa: E402


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--duration", type=float, help="run this many seconds (default 600)")
    size.add_argument("--payments", type=int, help="or until this many payments were started")
    parser.add_argument("--terminals", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kills", type=int, help="backend SIGKILLs over the run")
    parser.add_argument("--cuts", type=int, help="network cuts (open connections reset, new ones dropped)")
    parser.add_argument("--delays", type=int, help="network delays (every chunk of bytes held)")
    parser.add_argument("--faults", type=int, help="faults armed over /sim/faults, every action in turn")
    parser.add_argument("--pg", metavar="URL", help="run the backend on this PostgreSQL (a fresh schema, dropped after)")
    parser.add_argument("--wallets", type=int, default=8)
    parser.add_argument("--crash-rate", type=float, default=0.03, help="chance a payment's terminal crashes during it")
    parser.add_argument("--refund-rate", type=float, default=0.1)
    parser.add_argument("--pause", type=float, default=0.05, help="mean pause of a terminal between payments, s")
    parser.add_argument("--interval", type=float, default=0.25, help="polling interval, s")
    parser.add_argument("--deadline", type=float, default=4.0, help="polling deadline, s")
    parser.add_argument("--read-timeout", type=float, default=2.0, help="the terminal's read timeout, s")
    parser.add_argument("--work-dir", type=Path, help="keep the backend, journals and logs here (default: a temp dir, removed)")
    parser.add_argument("--json", type=Path, help="write the figures to this file too")
    parser.add_argument("--quiet", action="store_true", help="no line per event")
    args = parser.parse_args(argv)
    if args.duration is None and args.payments is None:
        args.duration = 600.0
    return args


def config(args: argparse.Namespace, work_dir: Path, db_url: str | None) -> ChaosConfig:
    def count(given: int | None, per_s: float, per_payment: float) -> int:
        if given is not None:
            return given
        return max(1, round(args.duration / per_s if args.duration else args.payments / per_payment))

    read_s = args.read_timeout
    return ChaosConfig(
        work_dir=work_dir, seed=args.seed, terminals=args.terminals, payments=args.payments, duration_s=args.duration,
        backend_kills=count(args.kills, 45, 15), network_cuts=count(args.cuts, 25, 8), network_delays=count(args.delays, 40, 12),
        faults=count(args.faults, 3, 1), db_url=db_url, wallets=args.wallets, crash_rate=args.crash_rate,
        refund_rate=args.refund_rate, pause_s=args.pause, polling=Polling(args.interval, args.deadline, 3),
        timeouts=Timeouts(1.0, read_s), down_s=(0.0, 3.0), cut_s=(0.5, args.deadline + 3.0),
        delay_s=(0.2, min(1.5, 0.9 * (read_s + args.deadline))), delay_for_s=(1.0, 5.0), fault_delay_ms=(300, 3000),
        notify_wait_s=60.0, log=None if args.quiet else (lambda line: print(line, flush=True)),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="pos-sim-chaos-"))
    started = datetime.now(timezone.utc)
    load_before = machine_load()
    print(f"chaos: {started.isoformat(timespec='seconds')}, seed {args.seed}, {args.terminals} terminals, "
          + (f"{args.duration:.0f} s" if args.duration else f"{args.payments} payments")
          + f", {'PostgreSQL' if args.pg else 'SQLite'}, work dir {work_dir}; {load_before}", flush=True)
    try:
        with pg_schema(args.pg) if args.pg else nullcontext(None) as db_url:
            cfg = config(args, work_dir, db_url)
            print(f"events: {cfg.backend_kills} backend kills, {cfg.network_cuts} network cuts, {cfg.network_delays} "
                  f"network delays, {cfg.faults} faults; polling {cfg.polling.interval_s} s for {cfg.polling.deadline_s} s, "
                  f"read timeout {cfg.timeouts.read_s} s", flush=True)
            t0 = time.monotonic()
            interrupt = threading.Event()  # Ctrl-C: the stream ends now; the run is still resolved and checked
            signal.signal(signal.SIGINT, lambda *_: (print("interrupted: ending the stream", flush=True), interrupt.set()))
            figures, run = run_chaos(cfg, interrupt)
            took = time.monotonic() - t0
    finally:
        if args.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
    print(figures.report())
    print(f"whole run {took:.0f} s (stream {figures.duration_s:.0f} s); before: {load_before}; after: {machine_load()}")
    if args.json:
        data = asdict(figures) | {"by_result": {f"{s} {c}": n for (s, c), n in figures.by_result.items()},
                                  "started": started.isoformat(), "violations": figures.violations()}
        args.json.write_text(json.dumps(data, indent=2, default=str))
    return 0 if figures.ok else 1


if __name__ == "__main__":
    sys.exit(main())
