"""A fleet of terminals (scripts/locustfile.py) against a real `pos-sim backend`, as a user runs it: Locust
headless, once standalone and once distributed (a master and a worker process), a few seconds each.

What a user cares about: every kind of task ran (sales by each tender, refunds, cancels, declines, gate
taps), Locust counted no failure, and afterwards the books agree with what the terminals saw: each of the
fleet's wallets holds its opening balance less what the tills saw paid, plus what they saw refunded and
voided; the ledger sums to zero with every posting balanced; the uploaded taps clear.
"""

import csv
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.chaos.harness import read_ledger

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "scripts" / "locustfile.py"
TASKS = {"PaymentCode sale", "OrderCode sale", "EntryCode sale", "refund", "cancel", "declined pay", "gate tap"}
CALLS = {"pay PaymentCode", "pay OrderCode", "pay EntryCode", "inquiryPayment", "refund", "cancel", "transit taps",
         "transit keyring", "sim payment-code", "sim scan", "sim ride-code", "sim open wallet"}
USERS = "5"  # four tills and a gate
RUN_TIME = "10s"  # the first round (every kind of task once) ends well within it on a busy machine

pytestmark = pytest.mark.xdist_group("fleet")  # one backend for both, one fleet at a time: each fills the 2 cores


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    data = tmp_path_factory.mktemp("fleet") / "data"
    process = subprocess.Popen([sys.executable, "-m", "pos_sim", "backend", "--port", "0", "--data-dir", str(data)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("pos-sim backend on http://127.0.0.1:"), (line, process.stderr.read() if process.poll() is not None else "")
    try:
        yield line.split()[3], data
    finally:
        process.send_signal(signal.SIGTERM)  # not SIGINT: a child of a pytest-xdist worker ignores it
        process.wait(timeout=15)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def locust(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def load_args(url: str, data: Path, out: Path) -> list[str]:
    return ["--headless", "-u", USERS, "-r", USERS, "-t", RUN_TIME, "--host", url, "--backend-data-dir", str(data),
            "--stop-timeout", "15", "--first-round", "--fleet-report", str(out / "report"), "--csv", str(out / "fleet"),
            "--only-summary", "--loglevel", "WARNING"]


def check_run(url: str, data: Path, out: Path, runs: list[subprocess.CompletedProcess]) -> None:
    said = "\n".join(f"$ {' '.join(map(str, run.args[3:]))}\nexit {run.returncode}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
                     for run in runs)
    assert all(run.returncode == 0 for run in runs), said

    # Locust's own figures: every call made, none failed
    with open(out / "fleet_stats.csv", newline="") as f:
        stats = {row["Name"]: row for row in csv.DictReader(f) if row["Name"] != "Aggregated"}
    assert CALLS <= stats.keys(), (sorted(CALLS - stats.keys()), said)
    failed = {name: row["Failure Count"] for name, row in stats.items() if row["Failure Count"] != "0"}
    with open(out / "fleet_failures.csv", newline="") as f:
        failures = list(csv.DictReader(f))
    assert not failed and not failures, (failed, failures)

    # what the terminals saw, from each process that ran users (one, standalone or as the one worker)
    reports = [json.loads(path.read_text()) for path in sorted((out / "report").glob("fleet-*.json"))]
    assert len(reports) == 1, reports
    report = reports[0]
    counts = report["counts"]
    assert {kind for kind in TASKS if counts.get(f"task {kind}", 0) > 0} == TASKS, counts
    assert report["unresolved"] == [], report["unresolved"]
    assert counts["tap uploaded"] == counts["tap opened"], counts
    assert counts.get("declined", 0) >= 1 and counts.get("refund", 0) >= 1, counts

    # the books: each wallet as the tills saw it, read over /sim
    for wallet_id, seen in report["wallets"].items():
        held = requests.get(f"{url}/sim/wallets/{wallet_id}", timeout=10).json()["balance"]
        expected = seen["opening"] - seen["paid"] + seen["refunded"] + seen["voided"]
        assert held == expected, (wallet_id, held, seen)
    assert any(seen["paid"] for seen in report["wallets"].values())


def check_ledger(url: str, data: Path) -> None:
    """The whole store, read directly: balanced postings, balances equal to their entries, no negative wallet,
    zero per currency; then the uploaded taps clear to fares without an error, and it still balances."""
    cleared = requests.post(f"{url}/sim/transit/clear", timeout=60).json()
    assert cleared["errorCount"] == 0 and cleared["taps"] > 0, cleared
    ledger = read_ledger(None, data)
    assert ledger.unbalanced_postings == [] and ledger.drifted_accounts == [] and ledger.negative_after == []
    assert all(total == 0 for total in ledger.trial.values()), ledger.trial
    statuses = {payment["status"] for payment in ledger.payments.values()}
    assert statuses <= {"SUCCESS", "FAIL", "CANCELLED"}, statuses  # nothing left PROCESSING


def test_a_fleet_of_terminals_standalone(backend, tmp_path):
    url, data = backend
    run = subprocess.run(locust(*load_args(url, data, tmp_path)), capture_output=True, text=True, timeout=120, cwd=ROOT)
    check_run(url, data, tmp_path, [run])
    check_ledger(url, data)


def test_a_fleet_of_terminals_distributed(backend, tmp_path):
    url, data = backend
    port = free_port()
    master = subprocess.Popen(locust(*load_args(url, data, tmp_path), "--master", "--master-bind-host", "127.0.0.1",
                                     "--master-bind-port", str(port), "--expect-workers", "1"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    worker = subprocess.Popen(locust("--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
                                     "--loglevel", "WARNING"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    runs = []
    try:
        for process in (master, worker):
            out, err = process.communicate(timeout=120)
            runs.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    finally:
        for process in (master, worker):
            if process.poll() is None:
                process.kill()
                process.wait()
    check_run(url, data, tmp_path, runs)
    check_ledger(url, data)
