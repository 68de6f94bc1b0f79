"""`pos-sim backend --workers N` on PostgreSQL: several worker processes behind one port, as a fleet is
served. What they share lives in the store, so whichever worker answers, a fault armed once answers
once, the simulator's clock and the exchange rates are the ones last set, and each payment result is
notified once. Needs POS_SIM_TEST_PG (a fresh schema per test); SQLite refuses more than one worker."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from pos_sim.domain.money import Money
from pos_sim.terminal.gateway import Credentials, GatewayAnswer, GatewayClient
from tests.integration.conftest import PG_URL
from tests.integration.test_notifications import receiver  # noqa: F401 - the merchant's notify endpoint fixture

pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="set POS_SIM_TEST_PG=postgresql://... to run the workers on PostgreSQL"),
    pytest.mark.parametrize("url", ["postgresql"], indirect=True),
]

WORKERS = 2


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.fixture
def fleet_backend(url, data_dir):
    """`pos-sim backend --workers 2` on a fresh PostgreSQL schema; its URL once a worker answers."""
    process = subprocess.Popen([sys.executable, "-m", "pos_sim", "backend", "--port", "0", "--data-dir", str(data_dir),
                                "--db", url, "--workers", str(WORKERS)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("pos-sim backend on http://127.0.0.1:") and "2 workers" in line, (line, process.stderr.read())
    base = line.split()[3]
    deadline = time.monotonic() + 60  # until both workers run (each opens its store first)
    while len([pid for pid in children(process.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]) < WORKERS:
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.1)
    try:
        yield process, base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def open_wallet(base: str, balance: int = 100_000, currency: str = "SGD") -> str:
    answer = requests.post(f"{base}/sim/wallets", json={"currency": currency, "balance": balance, "name": "fleet"}, timeout=10)
    answer.raise_for_status()
    return answer.json()["walletId"]


def pay(base: str, data_dir: Path, wallet_id: str, minor: int = 1250, currency: str = "SGD", notify_url: str | None = None) -> GatewayAnswer:
    code = requests.post(f"{base}/sim/wallets/{wallet_id}/payment-code", timeout=10).json()["code"]
    with GatewayClient(Credentials.from_simulator_data_dir(base, data_dir)) as gateway:
        answer = gateway.pay(f"W-{uuid.uuid4().hex}", Money.of_minor(minor, currency), code, notify_url=notify_url)
    assert isinstance(answer, GatewayAnswer), answer
    return answer


def test_a_fault_armed_once_answers_one_call_whichever_worker_gets_it(fleet_backend, data_dir):
    _process, base = fleet_backend
    wallets = [open_wallet(base) for _ in range(12)]
    armed = requests.post(f"{base}/sim/faults", json={"call": "pay", "action": "decline", "resultCode": "RISK_REJECT"}, timeout=10)
    assert armed.status_code == 201
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda wallet_id: pay(base, data_dir, wallet_id), wallets))
    assert Counter(answer.code for answer in answers) == {"SUCCESS": 11, "RISK_REJECT": 1}
    assert requests.get(f"{base}/sim/faults", timeout=10).json()["faults"] == []  # spent, on every worker


def test_the_clock_and_the_rates_set_through_one_worker_hold_on_every_worker(fleet_backend, data_dir):
    _process, base = fleet_backend
    moved = requests.post(f"{base}/sim/clock", json={"advanceSeconds": 3600}, timeout=10).json()
    assert moved["offsetSeconds"] == 3600
    assert {requests.get(f"{base}/sim/clock", timeout=10).json()["offsetSeconds"] for _ in range(20)} == {3600}
    # codes issued and paid an hour on, on any worker: a worker on the real time would find them expired
    wallet_id = open_wallet(base)
    assert {pay(base, data_dir, wallet_id, 100).code for _ in range(8)} == {"SUCCESS"}

    rates = {"base": "USD", "rates": {"USD": "1", "SGD": "2", "THB": "40"}}
    assert requests.put(f"{base}/sim/fx-rates", json=rates, timeout=10).status_code == 200
    thb_wallet = open_wallet(base, 200_000, "THB")
    paid = [pay(base, data_dir, thb_wallet, 1000) for _ in range(8)]  # SGD 10.00 = THB 200.00 at 40/2
    assert {answer.code for answer in paid} == {"SUCCESS"}
    assert requests.get(f"{base}/sim/wallets/{thb_wallet}", timeout=10).json()["balance"] == 200_000 - 8 * 20_000


def test_each_payment_result_is_notified_once_by_the_workers_together(fleet_backend, data_dir, receiver):  # noqa: F811
    _process, base = fleet_backend
    wallets = [open_wallet(base) for _ in range(16)]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda wallet_id: pay(base, data_dir, wallet_id, notify_url=f"{receiver.url}/notify"), wallets))
    assert {answer.code for answer in answers} == {"SUCCESS"}
    receiver.wait_for(16)
    time.sleep(1.0)  # a second sender would have sent by now
    assert Counter(r.payment_id for r in receiver.received) == Counter({answer.body["paymentId"]: 1 for answer in answers})


def test_a_worker_killed_is_replaced_and_the_backend_keeps_answering(fleet_backend, data_dir):
    process, base = fleet_backend
    wallet_id = open_wallet(base)
    victim = children(process.pid)[-1]
    os.kill(victim, signal.SIGKILL)
    assert {pay(base, data_dir, wallet_id, 100).code for _ in range(6)} == {"SUCCESS"}
    deadline = time.monotonic() + 60
    while not (victim not in children(process.pid) and len(children(process.pid)) >= WORKERS):
        assert time.monotonic() < deadline, "the killed worker was not replaced"
        time.sleep(0.2)
