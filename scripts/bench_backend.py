#!/usr/bin/env python3
"""Signed PaymentCode pays per second, and their p50/p99 latency, against the simulated backend.

For 1, 8 and 32 concurrent clients, on SQLite and (when a server answers) on PostgreSQL, next to
a bare endpoint of the same web framework (FastAPI on uvicorn) measured in the same run: the
ceiling a signed, durable pay is compared with. The backend runs as `pos-sim backend` in its own
process; the clients are threads of this one, each with its own wallet and keep-alive session.

Both are sent the same requests, signed ahead of the clock, over the standard library's
http.client (keep-alive), and both answers are read as JSON; a pay's answer is also checked as
the protocol asks a client to (its signature verified), which the bare answer has none of.
Client and server share the machine: each row says how much CPU each side spent a request (Linux
/proc), to tell a slow server from a busy client. (``requests`` costs a client 1.3 to 1.7 ms of
CPU a request, several times what the bare endpoint costs the server: with it, the ceiling
measured the client.)

Run: .venv/bin/python scripts/bench_backend.py [--pg URL] [--pays N] [--clients 1,8,32]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

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


def start_backend(data_dir: Path, db: str | None, wrapper: tuple[str, ...] = (),
                  env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """``pos-sim backend`` on ``db`` (SQLite in ``data_dir`` if None), run under ``wrapper`` (valgrind...) if given."""
    command = [*wrapper, sys.executable, "-m", "pos_sim", "backend", "--port", "0", "--data-dir", str(data_dir)]
    process = subprocess.Popen(command + (["--db", db] if db else []), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               text=True, env=env)
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


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) the process ``pid`` has used so far, or None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def signed_by(gateway_key) -> Callable[[http.client.HTTPResponse, bytes], bool]:
    """The check a client makes of a pay's answer: signed by the gateway, over the answer as sent."""

    def check(answer: http.client.HTTPResponse, body: bytes) -> bool:
        try:
            _algorithm, _version, value = ams_signature.parse_signature_header(answer.getheader("signature", ""))
            return ams_signature.verify(gateway_key, "POST", PAY_PATH, answer.getheader("client-id", ""),
                                        answer.getheader("response-time", ""), body, value)
        except ams_signature.SignatureError:
            return False

    return check


def load(url: str, clients: int, per_client: list[list[tuple[bytes, dict[str, str]]]], path: str, server_pid: int,
         check: Callable[[http.client.HTTPResponse, bytes], bool] = lambda _answer, _body: True) -> dict:
    """Each client thread sends its requests back to back; returns pays/s, latency and CPU figures."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    gate = threading.Barrier(clients + 1)
    where = urlsplit(url)

    def client(requests_of_client: list[tuple[bytes, dict[str, str]]]) -> None:
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
        mine, bad = [], []
        gate.wait()
        for body, headers in requests_of_client:
            started = time.perf_counter()
            connection.request("POST", path, body, headers)
            answer = connection.getresponse()
            data = answer.read()
            mine.append((time.perf_counter() - started) * 1000)
            if answer.status != 200 or json.loads(data)["result"]["resultStatus"] != "S" or not check(answer, data):
                bad.append(data[:200].decode(errors="replace"))
        connection.close()
        with lock:
            latencies.extend(mine)
            failures.extend(bad)

    threads = [threading.Thread(target=client, args=(per_client[i],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu
    server_cpu = None if server_cpu is None else cpu_seconds(server_pid) - server_cpu
    ordered = sorted(latencies)
    n = len(latencies)
    return {
        "per_s": n / elapsed,
        "p50": statistics.median(ordered),
        "p99": ordered[max(0, int(n * 0.99) - 1)],
        "n": n,
        "failed": len(failures),
        "example_failure": failures[0] if failures else None,
        "client_cpu_ms": client_cpu * 1000 / n,
        "server_cpu_ms": None if server_cpu is None else server_cpu * 1000 / n,
    }


def cpu(figures: dict) -> str:
    """Server and client CPU a request, in ms: "1.2 + 0.6"."""
    server = "?" if figures["server_cpu_ms"] is None else f"{figures['server_cpu_ms']:.1f}"
    return f"{server} + {figures['client_cpu_ms']:.1f}"


def pays_for(url: str, key, clients: int, pays: int) -> list[list[tuple[bytes, dict[str, str]]]]:
    """Signed pays ready to send: one funded wallet a client, one fresh payment code a pay."""
    batches = []
    for _ in range(clients):
        wallet = requests.post(url + "/sim/wallets", json={"currency": "SGD", "balance": 10**12, "name": "bench"}, timeout=10).json()
        codes = [requests.post(f"{url}/sim/wallets/{wallet['walletId']}/payment-code", timeout=10).json()["code"] for _ in range(pays)]
        batches.append([signed_pay(key, code, 100 * (1 + i % 9)) for i, code in enumerate(codes)])  # whole amounts: no trigger amount
    return batches


def bench_store(label: str, db: str | None, clients_list: list[int], pays: int, bare: subprocess.Popen, bare_url: str,
                table: list) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_backend(Path(tmp), db)
        try:
            key = ams_signature.load_private_key((Path(tmp) / "keys" / "SIM_DEMO_private.pem").read_text())
            check = signed_by(ams_signature.load_public_key((Path(tmp) / "keys" / "gateway_public.pem").read_text()))
            for clients in clients_list:
                per_client = max(20, pays // clients)
                batches = pays_for(url, key, clients, per_client)
                ceiling = load(bare_url, clients, batches, "/bare", bare.pid)
                paid = load(url, clients, batches, PAY_PATH, process.pid, check)
                table.append((label, clients, paid, ceiling))
                print(f"{label:10} {clients:3} clients: {paid['per_s']:7.0f} pays/s p50 {paid['p50']:6.1f} ms p99 {paid['p99']:6.1f} ms"
                      f" cpu {cpu(paid)} ms | bare {ceiling['per_s']:7.0f}/s p50 {ceiling['p50']:5.1f} p99 {ceiling['p99']:5.1f}"
                      f" cpu {cpu(ceiling)} ms | {paid['per_s'] / ceiling['per_s']:4.0%} of the ceiling; failed {paid['failed']}",
                      flush=True)
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
    print(f"load average before the run: {' '.join(f'{load:.2f}' for load in os.getloadavg())}", flush=True)
    try:
        bench_store("sqlite", None, clients_list, args.pays, bare_process, bare_url, table)
        if args.pg:
            try:
                db, drop = scratch_database(args.pg)
            except sqlalchemy.exc.OperationalError as exc:
                print(f"bench_backend: no PostgreSQL at {args.pg} ({exc.orig}); SQLite only", file=sys.stderr)
            else:
                try:
                    bench_store("postgresql", db, clients_list, args.pays, bare_process, bare_url, table)
                finally:
                    drop()
    finally:
        bare_process.terminate()
        bare_process.wait(timeout=15)
    print(f"load average after the run: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    print("\n| store | clients | pays/s | p50 ms | p99 ms | bare /s | bare p99 ms | of ceiling | CPU ms a pay, server + client | a bare request |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, clients, paid, bare in table:
        print(f"| {label} | {clients} | {paid['per_s']:.0f} | {paid['p50']:.1f} | {paid['p99']:.1f} | {bare['per_s']:.0f}"
              f" | {bare['p99']:.1f} | {paid['per_s'] / bare['per_s']:.0%} | {cpu(paid)} | {cpu(bare)} |")


if __name__ == "__main__":
    main()
