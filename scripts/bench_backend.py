#!/usr/bin/env python3
"""Signed PaymentCode pays per second, and their p50/p99 latency, against the simulated backend.

For 1, 8 and 32 concurrent clients, on SQLite and (when a server answers) on PostgreSQL, next to
a bare endpoint of the same web framework (FastAPI on uvicorn) measured in the same run: the
ceiling a signed, durable pay is compared with. The backend runs as `pos-sim backend` in its own
process; the clients are threads of this one, each with its own wallet and keep-alive session.

Run: .venv/bin/python scripts/bench_backend.py [--pg URL] [--pays N] [--clients 1,8,32]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import requests
import sqlalchemy

from pos_sim.domain import ams_signature

PAY_PATH = "/ams/api/v1/payments/pay"
BARE_APP = textwrap.dedent(
    """
    import sys, uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import Response
    app = FastAPI()

    @app.post("/bare")
    async def bare(request: Request):
        await request.body()
        return Response(b'{"result":{"resultStatus":"S"}}', media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_backend(data_dir: Path, db: str | None) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "pos_sim", "backend", "--port", "0", "--data-dir", str(data_dir)]
    process = subprocess.Popen(command + (["--db", db] if db else []), stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("pos-sim backend on "):
        raise SystemExit(f"bench_backend: the backend did not start: {line!r}")
    return process, line.split()[3]


def start_bare() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            requests.post(url + "/bare", data=b"{}", timeout=1)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("bench_backend: the bare endpoint did not start")


def signed_pay(key, code: str, value: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "productCode": "IN_STORE_PAYMENT",
            "paymentRequestId": uuid.uuid4().hex,
            "paymentAmount": {"currency": "SGD", "value": str(value)},
            "paymentMethod": {"paymentMethodType": "CONNECT_WALLET", "paymentMethodId": code},
            "paymentFactor": {"inStorePaymentScenario": "PaymentCode"},
            "order": {"referenceOrderId": "BENCH", "orderDescription": "bench", "orderAmount": {"currency": "SGD", "value": str(value)}},
        }
    ).encode()
    at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    signature = ams_signature.sign(key, "POST", PAY_PATH, "SIM_DEMO", at, body)
    headers = {
        "Content-Type": "application/json; charset=UTF-8",
        "client-id": "SIM_DEMO",
        "Request-Time": at,
        "Signature": ams_signature.signature_header(signature),
    }
    return body, headers


def load(url: str, clients: int, per_client: list[list[tuple[bytes, dict[str, str]]]], path: str) -> dict:
    """Each client thread sends its requests back to back; returns pays/s and latency figures."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    gate = threading.Barrier(clients + 1)

    def client(requests_of_client: list[tuple[bytes, dict[str, str]]]) -> None:
        session = requests.Session()
        mine, bad = [], []
        gate.wait()
        for body, headers in requests_of_client:
            started = time.perf_counter()
            answer = session.post(url + path, data=body, headers=headers, timeout=30)
            mine.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200 or answer.json()["result"]["resultStatus"] != "S":
                bad.append(answer.text[:200])
        with lock:
            latencies.extend(mine)
            failures.extend(bad)

    threads = [threading.Thread(target=client, args=(per_client[i],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "per_s": len(latencies) / elapsed,
        "p50": statistics.median(ordered),
        "p99": ordered[max(0, int(len(ordered) * 0.99) - 1)],
        "n": len(latencies),
        "failed": len(failures),
        "example_failure": failures[0] if failures else None,
    }


def pays_for(url: str, key, clients: int, pays: int) -> list[list[tuple[bytes, dict[str, str]]]]:
    """Signed pays ready to send: one funded wallet a client, one fresh payment code a pay."""
    batches = []
    for _ in range(clients):
        wallet = requests.post(url + "/sim/wallets", json={"currency": "SGD", "balance": 10**12, "name": "bench"}, timeout=10).json()
        codes = [requests.post(f"{url}/sim/wallets/{wallet['walletId']}/payment-code", timeout=10).json()["code"] for _ in range(pays)]
        batches.append([signed_pay(key, code, 100 * (1 + i % 9)) for i, code in enumerate(codes)])  # whole amounts: no trigger amount
    return batches


def bench_store(label: str, db: str | None, clients_list: list[int], pays: int, bare_url: str, table: list) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_backend(Path(tmp), db)
        try:
            key = ams_signature.load_private_key((Path(tmp) / "keys" / "SIM_DEMO_private.pem").read_text())
            for clients in clients_list:
                per_client = max(20, pays // clients)
                batches = pays_for(url, key, clients, per_client)
                bare = load(bare_url, clients, batches, "/bare")
                paid = load(url, clients, batches, PAY_PATH)
                table.append((label, clients, paid, bare))
                print(f"{label:10} {clients:3} clients: {paid['per_s']:7.0f} pays/s p50 {paid['p50']:6.1f} ms p99 {paid['p99']:6.1f} ms"
                      f" | bare {bare['per_s']:7.0f}/s p50 {bare['p50']:5.1f} p99 {bare['p99']:5.1f}"
                      f" | {paid['per_s'] / bare['per_s']:4.0%} of the ceiling; failed {paid['failed']}", flush=True)
                if paid["failed"]:
                    print(f"  e.g. {paid['example_failure']}", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=15)


def scratch_database(url: str) -> tuple[str, callable]:
    """A fresh database on the PostgreSQL server of ``url``, and the function that drops it."""
    name = f"pos_sim_bench_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    base = url.rsplit("/", 1)[0]

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()

    return f"{base}/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="a PostgreSQL server to bench on ('' to skip)")
    parser.add_argument("--pays", type=int, default=1600, help="pays per configuration (split among the clients)")
    parser.add_argument("--clients", default="1,8,32")
    args = parser.parse_args()
    clients_list = [int(c) for c in args.clients.split(",")]
    bare_process, bare_url = start_bare()
    table: list = []
    try:
        bench_store("sqlite", None, clients_list, args.pays, bare_url, table)
        if args.pg:
            try:
                db, drop = scratch_database(args.pg)
            except sqlalchemy.exc.OperationalError as exc:
                print(f"bench_backend: no PostgreSQL at {args.pg} ({exc.orig}); SQLite only", file=sys.stderr)
            else:
                try:
                    bench_store("postgresql", db, clients_list, args.pays, bare_url, table)
                finally:
                    drop()
    finally:
        bare_process.terminate()
        bare_process.wait(timeout=15)
    print("\n| store | clients | pays/s | p50 ms | p99 ms | bare /s | bare p99 ms | of ceiling |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, clients, paid, bare in table:
        print(f"| {label} | {clients} | {paid['per_s']:.0f} | {paid['p50']:.1f} | {paid['p99']:.1f} | {bare['per_s']:.0f}"
              f" | {bare['p99']:.1f} | {paid['per_s'] / bare['per_s']:.0%} |")


if __name__ == "__main__":
    main()
