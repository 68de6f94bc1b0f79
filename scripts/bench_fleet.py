#!/usr/bin/env python3
"""A fleet of terminals (scripts/locustfile.py) against `pos-sim backend --workers N` on PostgreSQL, at 1, 2
and 4 backend workers: requests and sales a second, p50/p99 of the main calls, failures.

Each point gets a fresh database and data dir, a backend started with ``--workers N``, and the same
fleet for the same time: Locust headless and distributed (a master and ``--locust-workers`` worker
processes, 2 by default, so that one Locust process, which runs on one core, is not what limits the
figures), its users back to back (no think time), statistics reset once every user is spawned (their
wallets opened). The baseline, in the same run: the first point (1 worker) measured again at the end,
which says how much the machine drifted meanwhile (other work shares it). Beside each point: the CPU
the backend's processes, PostgreSQL's and Locust's used, in cores (CPU seconds a second, sampled every
half second, over the seconds all the users ran), "other work" (the machine's busy CPU less those three:
other people's processes), and how busy the machine was: all of them share the machine's cores, so a
point is read against what was left for the backend.

Sales a second are the approved sales the tills counted (--fleet-report), over the run time. Locust's
percentiles are its own, rounded (to 10 ms above 100 ms).

Run: .venv/bin/python scripts/bench_fleet.py [--pg URL] [--workers 1,2,4] [--users 30] [--time 30]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_backend import free_port, scratch_database  # noqa: E402  (a script beside this one)

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "scripts" / "locustfile.py"
MAIN_CALLS = ("pay PaymentCode", "pay OrderCode", "inquiryPayment", "refund", "cancel", "transit taps", "sim payment-code")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def start_backend(data_dir: Path, db: str, workers: int) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "pos_sim", "backend", "--port", "0", "--data-dir", str(data_dir), "--db", db]
    if workers > 1:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    line = process.stdout.readline()
    if not line.startswith("pos-sim backend on "):
        process.kill()
        raise SystemExit(f"bench_fleet: the backend did not start with {workers} workers: {line!r} {process.stderr.read()[-2000:]}")
    return process, line.split()[3]


def stop_backend(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the backend and its workers, nothing else
        process.wait()


def cpu_of(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def backend_processes(process: subprocess.Popen) -> list[psutil.Process]:
    parent = psutil.Process(process.pid)
    return [parent, *parent.children(recursive=True)]


def postgres_processes() -> list[psutil.Process]:
    """PostgreSQL's server processes (read, never touched), for their CPU time."""
    found = []
    for process in psutil.process_iter(["name"]):
        if (process.info["name"] or "").startswith("postgres"):
            found.append(process)
    return found


class Sampler:
    """CPU times, every half second while a point runs: the backend's processes, PostgreSQL's, Locust's, and
    the machine's; read afterwards over the window in which every user ran (Locust's stats history)."""

    def __init__(self, backend: subprocess.Popen) -> None:
        self.backend = backend_processes(backend)
        self.locust: list[psutil.Process] = []
        self.samples: list[tuple[float, float, dict[int, float], float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            machine = psutil.cpu_times()
            idle = machine.idle + machine.iowait
            postgres = {process.pid: cpu_of([process]) for process in postgres_processes()}  # one a connection: they come and go
            self.samples.append((time.time(), cpu_of(self.backend), postgres, cpu_of(self.locust), sum(machine) - idle,
                                 sum(machine)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def cores(self, start: float, end: float) -> dict[str, float]:
        """CPU seconds a second over [start, end] (wall clock): backend, postgres, locust, and the machine's busy share."""
        first = min(range(len(self.samples)), key=lambda i: abs(self.samples[i][0] - start))
        last = min(range(len(self.samples)), key=lambda i: abs(self.samples[i][0] - end))
        a, b = self.samples[first], self.samples[last]
        span = max(1e-9, b[0] - a[0])
        seen: dict[int, float] = {}  # each PostgreSQL process's CPU as last seen in the window
        for sample in self.samples[first:last + 1]:
            seen.update(sample[2])
        postgres = sum(cpu - a[2].get(pid, 0.0) for pid, cpu in seen.items())
        busy = (b[4] - a[4]) / max(1e-9, b[5] - a[5])
        figures = {"backend": (b[1] - a[1]) / span, "postgres": postgres / span, "locust": (b[3] - a[3]) / span, "busy": busy}
        figures["others"] = busy * psutil.cpu_count() - figures["backend"] - figures["postgres"] - figures["locust"]
        return figures


class LockWaits:
    """How many of the point's database sessions wait for a lock (a row another transaction holds, mostly),
    sampled every ``every_s`` from ``pg_locks``: its mean over a window, times the window, is the time
    sessions spent waiting for locks; over the pays made meanwhile, the lock wait a pay."""

    def __init__(self, db: str, every_s: float = 0.01) -> None:
        self.engine = sqlalchemy.create_engine(db.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=sqlalchemy.pool.NullPool)
        self.samples: list[tuple[float, int]] = []
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        query = sqlalchemy.text("SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                                " WHERE NOT l.granted AND a.datname = current_database()")
        with self.engine.connect() as conn:
            while not self._stop.wait(self.every_s):
                self.samples.append((time.time(), conn.execute(query).scalar_one()))
                conn.rollback()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()

    def waiting(self, start: float, end: float) -> tuple[float, float]:
        """Over [start, end]: the mean number of sessions waiting for a lock, and the share of samples with any."""
        window = [count for at, count in self.samples if start <= at <= end] or [0]
        return sum(window) / len(window), sum(1 for count in window if count) / len(window)


def run_fleet(url: str, data_dir: Path, out: Path, users: int, seconds: int, locust_workers: int, sampler: Sampler,
              waits: LockWaits) -> dict:
    """One headless distributed Locust run; its figures."""
    port = free_port()
    locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    master_args = ["--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", url,
                   "--backend-data-dir", str(data_dir), "--stop-timeout", "15", "--reset-stats",
                   "--fleet-report", str(out / "report"), "--csv", str(out / "fleet"), "--only-summary",
                   "--loglevel", "WARNING", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                   "--expect-workers", str(locust_workers)]
    master = subprocess.Popen(locust + master_args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = [subprocess.Popen(locust + ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
                                          "--loglevel", "WARNING"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(locust_workers)]
    sampler.locust = [psutil.Process(process.pid) for process in [master, *workers]]
    outputs = []
    try:
        for process in [master, *workers]:
            outputs.append(process.communicate(timeout=seconds + 180))
    finally:
        for process in [master, *workers]:
            if process.poll() is None:
                process.kill()
                process.wait()
    if master.returncode not in (0, 1):  # 1: some request failed, which the figures say
        raise SystemExit(f"bench_fleet: locust exited {master.returncode}: {outputs[0][1][-3000:]}")
    with open(out / "fleet_stats.csv", newline="") as f:
        stats = {row["Name"]: row for row in csv.DictReader(f)}
    with open(out / "fleet_failures.csv", newline="") as f:
        failures = [(row["Name"], row["Error"], row["Occurrences"]) for row in csv.DictReader(f)]
    reports = [json.loads(path.read_text()) for path in (out / "report").glob("fleet-*.json")]
    sales = sum(count for report in reports for name, count in report["counts"].items() if name.startswith("sale "))
    aggregated = stats["Aggregated"]
    pays = sum(int(row["Request Count"]) for name, row in stats.items() if name.startswith("pay "))
    with open(out / "fleet_stats_history.csv", newline="") as f:
        full = [int(row["Timestamp"]) for row in csv.DictReader(f) if row["Name"] == "Aggregated" and row["User Count"] == str(users)]
    if len(full) < 2:
        raise SystemExit(f"bench_fleet: the fleet never ran at {users} users")
    return {
        "rps": float(aggregated["Requests/s"]),
        "requests": int(aggregated["Request Count"]),
        "failed": int(aggregated["Failure Count"]),
        "failures": failures,
        "sales_s": sales / seconds,
        "calls": {name: (row["50%"], row["99%"]) for name, row in stats.items()},
        "unresolved": sum(len(report["unresolved"]) for report in reports),
        "pays_s": pays / seconds,
        "waiting": waits.waiting(full[0] + 1, full[-1]),
        **sampler.cores(full[0] + 1, full[-1]),
    }


def measure(pg: str, workers: int, users: int, seconds: int, locust_workers: int) -> dict:
    db, drop = scratch_database(pg)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "data"
            backend, url = start_backend(data_dir, db, workers)
            try:
                time.sleep(1.0)  # every worker up, not only the first to answer
                sampler, waits = Sampler(backend), LockWaits(db)
                load_before = load_average()
                try:
                    figures = run_fleet(url, data_dir, Path(tmp), users, seconds, locust_workers, sampler, waits)
                finally:
                    sampler.stop()
                    waits.stop()
                figures["load"] = f"{load_before} -> {load_average()}"
            finally:
                stop_backend(backend)
    finally:
        drop()
    figures["workers"] = workers
    return figures


def lock_wait_ms(figures: dict) -> float:
    """Time sessions spent waiting for locks, in ms a pay: sessions waiting on average over pays a second."""
    return 1000 * figures["waiting"][0] / max(1e-9, figures["pays_s"])


def cores(figures: dict, key: str) -> str:
    return f"{figures[key]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL server (a scratch database is made on it for each point, and dropped)")
    parser.add_argument("--workers", default="1,2,4", help="backend worker counts to measure")
    parser.add_argument("--users", type=int, default=30, help="terminals in the fleet (four tills to a gate)")
    parser.add_argument("--time", type=int, default=30, help="seconds a point")
    parser.add_argument("--locust-workers", type=int, default=2, help="Locust worker processes")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    try:
        sqlalchemy.create_engine(args.pg.replace("postgresql://", "postgresql+psycopg://", 1)).connect().close()
    except sqlalchemy.exc.OperationalError as exc:
        raise SystemExit(f"bench_fleet: no PostgreSQL at {args.pg} ({exc.orig})") from None
    probe = subprocess.run([sys.executable, "-m", "pos_sim", "backend", "--help"], capture_output=True, text=True)
    if "--workers" not in probe.stdout and any(n > 1 for n in counts):
        print("bench_fleet: this pos-sim backend has no --workers; measuring 1 worker only", file=sys.stderr)
        counts = [1]
    print(f"# fleet of {args.users} terminals, {args.time} s a point, Locust distributed ({args.locust_workers} workers),"
          f" PostgreSQL; {psutil.cpu_count()} cores; load average at the start {load_average()}", flush=True)
    rows = []
    for workers in [*counts, counts[0]]:
        figures = measure(args.pg, workers, args.users, args.time, args.locust_workers)
        figures["label"] = f"{workers}" + (" (baseline again)" if len(rows) == len(counts) else "")
        rows.append(figures)
        print(f"{figures['label']:>18} workers: {figures['rps']:6.0f} req/s {figures['sales_s']:6.1f} sales/s"
              f" failed {figures['failed']} unresolved {figures['unresolved']} | CPU cores: backend {cores(figures, 'backend')}"
              f" postgres {cores(figures, 'postgres')} locust {cores(figures, 'locust')} other work {cores(figures, 'others')},"
              f" machine busy {figures['busy']:.0%} | lock waits {lock_wait_ms(figures):.2f} ms a pay"
              f" ({figures['waiting'][1]:.1%} of samples) | load {figures['load']}", flush=True)
        for name, error, occurrences in figures["failures"][:5]:
            print(f"    failed: {name}: {error} x{occurrences}", flush=True)
    print(f"load average at the end {load_average()}\n")
    print("| backend workers | requests/s | sales/s | failures | " + " | ".join(f"{c} p50/p99 ms" for c in MAIN_CALLS)
          + " | CPU cores: backend + PostgreSQL + Locust + other work | backend CPU ms a request | backend CPU ms a pay |"
          " lock wait ms a pay | machine busy |")
    print("|---|---:|---:|---:|" + "---:|" * len(MAIN_CALLS) + "---:|---:|---:|---:|---:|")
    for f in rows:
        calls = " | ".join("{} / {}".format(*f["calls"].get(c, ("-", "-"))) for c in MAIN_CALLS)
        print(f"| {f['label']} | {f['rps']:.0f} | {f['sales_s']:.1f} | {f['failed']} | {calls} |"
              f" {cores(f, 'backend')} + {cores(f, 'postgres')} + {cores(f, 'locust')} + {cores(f, 'others')} |"
              f" {1000 * f['backend'] / max(1e-9, f['rps']):.1f} | {1000 * f['backend'] / max(1e-9, f['pays_s']):.1f} |"
              f" {lock_wait_ms(f):.2f} | {f['busy']:.0%} |")


if __name__ == "__main__":
    main()
