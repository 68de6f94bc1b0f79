#!/usr/bin/env python3
"""What a signed PaymentCode pay costs the backend, counted rather than timed: instructions and system calls.

Timed figures (scripts/bench_backend.py) move with whatever else the machine is doing, often by more than a
change is worth; these counts do not. The real backend (``pos-sim backend`` on SQLite, uvicorn, the same
edge and store as in use) is sent signed PaymentCode pays from client threads over keep-alive HTTP, as
bench_backend sends them, in waves: every client sends one pay, and none sends its next before every answer
of the wave is in, so that the edge commits each wave together (one commit for the pays it answers
meanwhile, as under load) and the counts do not depend on how the clients happen to interleave.

- **Instructions a pay**: the backend runs under ``valgrind --tool=callgrind`` with its instrumentation off
  (``--instr-atstart=no``), switched on (``vgdb --pid=N instrumentation on``) only while the pays of a round are
  sent, after the backend started and made its wallets, codes and first pays. Under valgrind OpenSSL takes
  another path for RSA than on the real CPU (AVX2, not AVX-512 IFMA), so the bignum code of RSA (the answer's
  signature and the request's verification) is counted apart, and what is left is the figure a change to the
  backend's own work moves. The rest is split by where it runs (the Python interpreter, the C library,
  SQLite, ...). The baseline, counted in the same run the same way: the bare FastAPI endpoint of
  bench_backend, sent the same requests.
- **System calls a pay**: the backend runs natively, ``strace -c -f`` attached to it (every thread) while
  the pays are sent: ``pwrite64`` (SQLite's page writes to the WAL, and its checkpoints' to the file) and
  ``fdatasync``/``fsync`` (commits and checkpoints).

Both report the commits made (the C library's ``fdatasync`` called, under callgrind), so that a reader sees
the pays were grouped as intended. The same count twice on the same code agrees to about 0.2%.

Run: .venv/bin/python scripts/count_pay_work.py [--pays 400] [--clients 8] [--no-strace]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_backend import BARE_APP, PAY_PATH, free_port, signed_pay, start_backend  # noqa: E402  (a script beside this one)

from pos_sim.domain import ams_signature  # noqa: E402

FIXED_HASHES = dict(os.environ, PYTHONHASHSEED="0")
"""The servers' environment: Python's string hashes, random in each process, place a dict's keys differently from
run to run, which moves a count; with one seed, what is left (random ids, the order of a wave's pays) moves it 0.2%."""

WAVES_A_ROUND = 5
"""Waves of pays sent between two batches of codes made: a code is valid a minute, and a pay under callgrind
takes about a tenth of a second."""
WARM_UP_WAVES = 3
"""Waves of pays sent, uncounted, before the first round: the first calls load the merchant's key, compile the
statements, fill the store's caches."""

RSA_BIGNUM = re.compile(r"^(bn_|BN_|ossl_bn_|__bn|rsaz_|ossl_rsaz|RSAZ_|ossl_extract_multiplier)")
"""The functions of RSA's big-number arithmetic in OpenSSL (cryptography's wheel links it into its Rust module):
its Montgomery multiplications, exponentiation and their helpers."""

PLACES = (
    ("python", re.compile(r"(^|/)(python3[.0-9]*|libpython3[.0-9]*\.so[.0-9]*)$")),
    ("libc", re.compile(r"(^|/)libc\.so")),
    ("sqlite", re.compile(r"(^|/)(libsqlite3\.so|_sqlite3\.)")),
    ("openssl, cryptography (besides RSA's bignum)", re.compile(r"(^|/)(_rust\.abi3\.so|libcrypto|libssl|_openssl)")),
    ("uvloop, httptools", re.compile(r"(^|/)(loop|parser|url_parser)\.cpython")),
    ("orjson", re.compile(r"(^|/)orjson\.")),
)
"""Where an instruction runs, by the file of its code; anything else is "other" (the dynamic loader, _json...)."""


def callgrind(out: Path) -> tuple[str, ...]:
    """A command's wrapper: run under callgrind, its instrumentation off until switched on, its profile written to ``out``."""
    return ("valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", f"--log-file={out}.log")


def instrument(pid: int, on: bool) -> None:
    """Callgrind's instrumentation of process ``pid`` switched ``on`` or off through vgdb, then read back: a switch
    not made ends the run, saying vgdb's answer. (callgrind_control, which asks vgdb too, exits 0 having switched
    nothing when vgdb does not list the process or does not answer: the run went on and counted nothing.)"""
    state = "on" if on else "off"
    answers = []
    for command in (("instrumentation", state), ("instrumentation",)):
        done = subprocess.run(["vgdb", f"--pid={pid}", *command], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=300)
        answers.append(f"vgdb {' '.join(command)}: exit {done.returncode}, {(done.stdout + done.stderr).strip()!r}")
        if done.returncode != 0:
            break
    else:
        if f"instrumentation: {state}" in done.stdout:
            return
    raise SystemExit(f"count_pay_work: callgrind's instrumentation of process {pid} not switched {state}: " + "; ".join(answers))


def start_bare(wrapper: tuple[str, ...]) -> tuple[subprocess.Popen, str]:
    """bench_backend's bare FastAPI endpoint (under ``wrapper``): its process and URL."""
    port = free_port()
    process = subprocess.Popen([*wrapper, sys.executable, "-c", BARE_APP, str(port)], stdin=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=FIXED_HASHES)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            requests.post(url + "/bare", data=b"{}", timeout=5)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("count_pay_work: the bare endpoint did not start")


def stop(process: subprocess.Popen) -> None:
    """The server stopped (SIGTERM); killed, and said so, if it has not ended 120 s later (callgrind writes its
    profile when the process ends by itself: a killed one leaves the file empty)."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        print(f"count_pay_work: process {process.pid} not ended 120 s after SIGTERM: killed", file=sys.stderr)
        process.kill()
        process.wait()


class Clients:
    """``clients`` client threads' wallets and keep-alive connections to one server."""

    def __init__(self, url: str, clients: int, key) -> None:
        self.url, self.key = url, key
        self.wallets = [requests.post(url + "/sim/wallets", json={"currency": "SGD", "balance": 10**12, "name": "count"},
                                      timeout=60).json()["walletId"] for _ in range(clients)]

    def pays(self, waves: int) -> list[list[tuple[bytes, dict[str, str]]]]:
        """``waves`` signed pays a client, each with a fresh payment code of the client's wallet."""
        with requests.Session() as session:
            return [[signed_pay(self.key, session.post(f"{self.url}/sim/wallets/{wallet}/payment-code", timeout=60).json()["code"],
                                100 * (1 + i % 9)) for i in range(waves)] for wallet in self.wallets]


def send_waves(url: str, path: str, per_client: list[list[tuple[bytes, dict[str, str]]]], pay: bool) -> None:
    """Each client sends its requests one a wave, the next wave once every answer of this one is in; a failed
    pay ends the run (it would cost what a pay does not)."""
    where = urlsplit(url)
    wave = threading.Barrier(len(per_client))
    failures: list[str] = []

    def client(requests_of_client: list[tuple[bytes, dict[str, str]]]) -> None:
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=600)
        for body, headers in requests_of_client:
            wave.wait()
            connection.request("POST", path, body, headers)
            answer = connection.getresponse()
            data = answer.read()
            if answer.status != 200 or (pay and json.loads(data)["result"]["resultStatus"] != "S"):
                failures.append(data[:300].decode(errors="replace"))
        connection.close()

    threads = [threading.Thread(target=client, args=(mine,)) for mine in per_client]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"count_pay_work: {len(failures)} requests failed, e.g. {failures[0]}")


def read_callgrind(path: Path) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """A callgrind profile's self cost (instructions) by (object file, function), and how many times each
    function was called, by name."""
    names: dict[str, dict[str, str]] = defaultdict(dict)
    cost: dict[tuple[str, str], int] = defaultdict(int)
    calls: dict[str, int] = defaultdict(int)
    ob = fn = ""
    call_target: str | None = None
    in_call = False

    def name(kind: str, value: str) -> str:
        """A compressed name: "(3) text" defines 3, "(3)" refers to it."""
        match = re.match(r"\((\d+)\)(?: (.*))?$", value)
        if match is None:
            return value
        if match.group(2) is not None:
            names[kind][match.group(1)] = match.group(2)
        return names[kind][match.group(1)]

    for line in path.read_text(errors="replace").splitlines():
        if not line or line[0] in "#":
            continue
        if "=" in line and line[0].isalpha():
            key, value = line.split("=", 1)
            if key == "ob":
                ob = name("ob", value)
            elif key == "fn":
                fn = name("fn", value)
            elif key in ("cob",):
                name("ob", value)
            elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                name("fl", value)
            elif key == "cfn":
                call_target = name("fn", value)
            elif key == "calls":
                in_call = True
                if call_target is not None:
                    calls[call_target] += int(value.split()[0])
            continue
        if line[0].isdigit() or line[0] in "+-*":
            fields = line.split()
            if in_call:  # the cost of a call, counted in the function called
                in_call = False
                continue
            if len(fields) > 1:
                cost[(ob, fn)] += int(fields[1])
    return cost, calls


def split(cost: dict[tuple[str, str], int]) -> tuple[int, int, dict[str, int]]:
    """Instructions in all, in RSA's bignum code, and the rest by ``PLACES``."""
    total = rsa = 0
    places: dict[str, int] = defaultdict(int)
    for (ob, fn), ir in cost.items():
        total += ir
        if RSA_BIGNUM.match(fn):
            rsa += ir
            continue
        places[next((place for place, pattern in PLACES if pattern.search(ob)), "other")] += ir
    return total, rsa, places


def count_instructions(pays: int, clients: int, work: Path, profiles: Path) -> None:
    waves = pays // clients
    rounds = -(-waves // WAVES_A_ROUND)
    pay_profile, bare_profile = profiles / "pay.callgrind", profiles / "bare.callgrind"
    process, url = start_backend(work / "data", None, callgrind(pay_profile), FIXED_HASHES)
    try:
        key = ams_signature.load_private_key((work / "data" / "keys" / "SIM_DEMO_private.pem").read_text())
        backend = Clients(url, clients, key)
        send_waves(url, PAY_PATH, backend.pays(WARM_UP_WAVES), pay=True)
        sent: list[list[tuple[bytes, dict[str, str]]]] = [[] for _ in range(clients)]
        for done in range(rounds):
            batch = backend.pays(min(WAVES_A_ROUND, waves - done * WAVES_A_ROUND))
            instrument(process.pid, True)
            send_waves(url, PAY_PATH, batch, pay=True)
            instrument(process.pid, False)
            for mine, more in zip(sent, batch):
                mine.extend(more)
    finally:
        stop(process)
    bare, bare_url = start_bare(callgrind(bare_profile))
    try:
        send_waves(bare_url, "/bare", [mine[:WARM_UP_WAVES] for mine in sent], pay=False)
        instrument(bare.pid, True)
        send_waves(bare_url, "/bare", sent, pay=False)
        instrument(bare.pid, False)
    finally:
        stop(bare)
    counted = waves * clients
    cost, calls = read_callgrind(pay_profile)
    total, rsa, places = split(cost)
    if not total:
        raise SystemExit(f"count_pay_work: callgrind counted nothing (see {pay_profile}.log)")
    commits = calls.get("fdatasync", 0) + calls.get("fsync", 0)
    bare_total, _, _ = split(read_callgrind(bare_profile)[0])
    print(f"instructions a pay (callgrind, {counted} pays): {total / counted / 1e6:.3f} M in all, RSA's bignum code"
          f" {rsa / counted / 1e6:.3f} M, the rest {(total - rsa) / counted / 1e6:.3f} M", flush=True)
    rest = ", ".join(f"{place} {ir / counted / 1e6:.3f} M" for place, ir in sorted(places.items(), key=lambda item: -item[1]))
    print(f"  the rest by where it runs: {rest}")
    print(f"  fdatasync and fsync called {commits} times: {counted / max(commits, 1):.1f} pays a call")
    print(f"bare endpoint, the same requests (callgrind, {counted} requests): {bare_total / counted / 1e6:.3f} M instructions a request")


def count_system_calls(pays: int, clients: int, work: Path) -> None:
    waves = pays // clients
    process, url = start_backend(work / "data-strace", None, env=FIXED_HASHES)
    try:
        key = ams_signature.load_private_key((work / "data-strace" / "keys" / "SIM_DEMO_private.pem").read_text())
        backend = Clients(url, clients, key)
        send_waves(url, PAY_PATH, backend.pays(WARM_UP_WAVES), pay=True)
        batch = backend.pays(waves)
        summary = work / "strace.txt"
        tracer = subprocess.Popen(["strace", "-c", "-f", "-o", str(summary), "-p", str(process.pid)],
                                  stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        tracer.stderr.readline()  # "strace: Process N attached", once it is
        time.sleep(0.5)  # and its other threads
        send_waves(url, PAY_PATH, batch, pay=True)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=60)
    finally:
        stop(process)
    counted = waves * clients
    found: dict[str, int] = {}
    for line in summary.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[-1].isidentifier() and fields[3].isdigit() and fields[-1] != "total":
            found[fields[-1]] = int(fields[3])
    writes, syncs = found.get("pwrite64", 0), found.get("fdatasync", 0) + found.get("fsync", 0)
    print(f"system calls a pay (strace -c -f, {counted} pays): pwrite64 {writes / counted:.2f}, fdatasync and fsync"
          f" {syncs / counted:.3f} ({counted / max(syncs, 1):.1f} pays a call), all {sum(found.values()) / counted:.1f}")
    common = sorted(((calls, name) for name, calls in found.items() if calls >= counted / 10), reverse=True)
    print(f"  each a pay: {', '.join(f'{name} {calls / counted:.2f}' for calls, name in common)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pays", type=int, default=400, help="pays counted (a whole number of waves)")
    parser.add_argument("--clients", type=int, default=8, help="client threads: the pays of a wave")
    parser.add_argument("--no-strace", action="store_true", help="count instructions only")
    parser.add_argument("--profiles", type=Path, help="keep the callgrind profiles in this folder (for callgrind_annotate)")
    args = parser.parse_args()
    needed = ["valgrind", "vgdb"] + ([] if args.no_strace else ["strace"])
    if missing := [tool for tool in needed if shutil.which(tool) is None]:
        raise SystemExit(f"count_pay_work: needs {', '.join(missing)} (apt-get install valgrind strace)")
    print(f"count_pay_work: {args.pays // args.clients * args.clients} signed PaymentCode pays on SQLite, {args.clients}"
          f" clients in waves, after {WARM_UP_WAVES * args.clients} uncounted", flush=True)
    with tempfile.TemporaryDirectory(prefix="count_pay_work_") as tmp:
        if args.profiles is not None:
            args.profiles.mkdir(parents=True, exist_ok=True)
        count_instructions(args.pays, args.clients, Path(tmp), (args.profiles or Path(tmp)).resolve())
        if not args.no_strace:
            count_system_calls(args.pays, args.clients, Path(tmp))


if __name__ == "__main__":
    main()
