"""`pos-sim backend` as a user starts it: it prints its URL, serves, keeps its data, refuses bad setups."""

import os
import signal
import subprocess
import sys

import requests


def start(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "pos_sim", "backend", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("pos-sim backend on http://127.0.0.1:"), (line, process.stderr.read() if process.poll() is not None else "")
    return process, line.split()[3]


def test_backend_starts_prints_its_url_and_keeps_its_ledger(tmp_path):
    data = tmp_path / "data"
    process, url = start("--data-dir", str(data))
    try:
        wallet = requests.post(f"{url}/sim/wallets", json={"currency": "THB", "balance": 50_000, "name": "Somchai"}, timeout=10).json()
        code = requests.post(f"{url}/sim/wallets/{wallet['walletId']}/payment-code", timeout=10).json()
        assert len(code["code"]) == 24 and code["code"].startswith("25100102")
        assert requests.get(f"{url}/sim/openapi.json", timeout=10).json()["paths"]["/sim/wallets"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
    for name, mode in [("gateway_private.pem", 0o600), ("SIM_DEMO_private.pem", 0o600), ("SIM_DEMO_public.pem", 0o644)]:
        assert os.stat(data / "keys" / name).st_mode & 0o777 == mode
    process, url = start("--data-dir", str(data))  # the same data dir: the wallet is still there
    try:
        assert requests.get(f"{url}/sim/wallets/{wallet['walletId']}", timeout=10).json()["balance"] == 50_000
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)


def test_backend_refuses_to_serve_the_admin_api_beyond_loopback_without_a_token(tmp_path):
    run = subprocess.run([sys.executable, "-m", "pos_sim", "backend", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--admin-token" in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, "-m", "pos_sim", "backend", "--db", "nosuchdb://x", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.startswith("error: ") and "Traceback" not in run.stderr
