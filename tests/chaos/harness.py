"""The chaos harness: payments from several terminals at once while the backend is killed, the network is
cut and every fault the simulator knows is armed; then every payment resolved and the books checked.

One implementation for the short run of the test suite (``tests/chaos/test_chaos.py``) and the long runs
of ``scripts/chaos.py``. What it puts together:

- ``BackendProcess``: ``python -m pos_sim backend`` in a process of its own (SQLite in its data dir, or
  ``--db`` PostgreSQL), killed with SIGKILL and started again on the same port and data dir.
- ``Proxy``: a TCP proxy between the terminals and the backend. ``cut()`` resets every open connection
  (RST to both ends) and drops every new one until ``heal()``; ``delay_s`` holds every chunk of bytes,
  both ways, that long. The terminals know the proxy's port only.
- ``Receiver``: the merchant's ``paymentNotifyUrl``, behind a ``Proxy`` of its own that is cut and
  slowed with the other: it checks each notification's signature (the gateway's key) and acknowledges
  it, counting what it got per payment.
- ``CodeDesk``: the customers. Fresh one-time payment codes of the run's wallets, fetched over /sim
  ahead of use, so pays still go out while the backend is down.
- ``Terminal``: a thread with its own ``GatewayClient`` and ``Journal`` (its own journal file), paying
  with ``authorize`` (every pay carries a notify URL), refunding some approved payments, and now and
  then crashing (before the pay is sent, after it was sent with its answer lost, or while chasing an
  unknown outcome) and restarting: journal and client opened again, ``recover`` run.
- ``Controller``: a seeded schedule of backend kills, network cuts, network delays and faults armed over
  /sim/faults (every action, on pay, inquiryPayment, cancel and refund), fired as the run progresses.

Afterwards (backend up, faults cleared, proxy healed) each terminal opens its journal again and
``recover`` resolves what is pending; then ``check`` reads the backend's store directly (read-only) and
counts every violation: a payment without one outcome, a journal that disagrees with the ledger
(APPROVED <=> SUCCESS, and the other states likewise), a payment the backend has that no journal sent,
a wallet charged twice, a ledger that does not sum to zero per currency, a negative wallet, a wallet
whose balance is not its opening balance less what was approved plus what was refunded, a refund the
terminal and the backend disagree on, a final payment whose result notification was not delivered.

The schedule, the amounts, the crash points and the wallets a code is drawn from are seeded; the
interleaving of threads and processes is not, so a seed re-runs the same plan, not the same race.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pos_sim.domain import ams_signature
from pos_sim.domain.money import Money
from pos_sim.scenarios.simulator import Simulator, SimulatorError
from pos_sim.terminal.authorize import Polling, authorize, new_request_id, recover
from pos_sim.terminal.gateway import Credentials, GatewayAnswer, GatewayClient, Reply, Timeouts
from pos_sim.terminal.journal import Journal, State

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "SIM_DEMO"
TRIGGER_ENDINGS = ("51", "52", "53", "54", "55", "59")
"""Amount endings (minor units) the simulator answers with a fault of its own (backend/faults.py)."""
DECLINE_ENDINGS = ("51", "52")
DECLINE_EVERY = 6
"""Every sixth payment of a run (the 3rd, the 9th, ...) ends in a decline ending, whichever terminal takes
it: a run declines some payments however its outages fall (they fall by payment number, see ``progress``)."""

FAULT_PLAN: tuple[tuple[str, str], ...] = (
    ("pay", "decline"), ("pay", "unknown"), ("pay", "timeout"), ("pay", "error"), ("pay", "late-success"),
    ("inquiryPayment", "error"), ("cancel", "unknown"), ("inquiryPayment", "unknown"), ("cancel", "error"),
    ("cancel", "timeout"), ("refund", "error"), ("refund", "timeout"), ("inquiryPayment", "timeout"), ("cancel", "decline"),
    ("refund", "unknown"), ("inquiryPayment", "decline"), ("refund", "decline"),
)
"""The faults the controller arms, in this order and round again: every action, the first five on pay."""


# --- settings and figures ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChaosConfig:
    """One chaos run. It ends once ``payments`` were started (or ``duration_s`` went by) and every
    scheduled event was fired."""

    work_dir: Path
    seed: int = 1
    terminals: int = 3
    payments: int | None = 40
    duration_s: float | None = None
    backend_kills: int = 2
    network_cuts: int = 2
    network_delays: int = 1
    faults: int = len(FAULT_PLAN)
    db_url: str | None = None
    wallets: int = 4
    crash_rate: float = 0.06
    """Chance that a payment's terminal crashes during it (before the pay, after it, or while chasing)."""
    refund_rate: float = 0.1
    trigger_rate: float = 0.2
    """Chance that an amount ends in one of the simulator's trigger endings (besides the planned declines)."""
    pause_s: float = 0.02
    """Mean pause of a terminal between two payments."""
    polling: Polling = Polling(interval_s=0.1, deadline_s=1.5, cancel_attempts=3)
    timeouts: Timeouts = Timeouts(connect_s=0.5, read_s=1.0)
    down_s: tuple[float, float] = (0.0, 0.8)
    """How long the backend stays down after a kill, on top of its start-up (about 1.5 s)."""
    cut_s: tuple[float, float] = (0.3, 2.5)
    delay_s: tuple[float, float] = (0.2, 0.9)
    """How long each chunk of bytes is held during a network delay."""
    delay_for_s: tuple[float, float] = (1.0, 2.5)
    fault_delay_ms: tuple[int, int] = (300, 1500)
    """The delayMs of armed timeout and late-success faults."""
    notify_wait_s: float = 15.0
    max_s: float = 900.0
    """A run still going this long after its start is stopped (and counted as an error)."""
    log: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        if (self.payments is None) == (self.duration_s is None):
            raise ValueError("give payments or duration_s, one of the two")
        if self.delay_s[1] >= self.timeouts.read_s + self.polling.deadline_s:
            # A pay held in the network past the terminal's whole chase arrives after it concluded
            # NOT_PROCESSED (see docs/reliability.md and test_a_pay_held_past_the_chase...).
            raise ValueError("a network delay must stay under read timeout + polling deadline")


@dataclass
class Figures:
    """What a run did and what the checks found. Every violation counter must be 0."""

    seed: int = 0
    database: str = "sqlite"
    terminals: int = 0
    duration_s: float = 0.0
    payments: int = 0
    approved: int = 0
    declined: int = 0
    cancelled: int = 0
    reversed: int = 0
    not_processed: int = 0
    refunds: int = 0
    refunds_refused: int = 0
    backend_kills: int = 0
    network_cuts: int = 0
    network_delays: int = 0
    faults_armed: int = 0
    terminal_crashes: int = 0
    notifications: int = 0
    notifications_repeated: int = 0
    notifications_retried: int = 0
    # violations
    unresolved: int = 0
    lost: int = 0
    charged_twice: int = 0
    mismatches: int = 0
    wallet_mismatches: int = 0
    refund_mismatches: int = 0
    ledger_sum: int = 0
    ledger_broken: int = 0
    negative_wallets: int = 0
    notifications_undelivered: int = 0
    notifications_unsigned: int = 0
    errors: int = 0
    details: list[str] = field(default_factory=list)
    by_result: Counter = field(default_factory=Counter)

    VIOLATIONS = ("unresolved", "lost", "charged_twice", "mismatches", "wallet_mismatches", "refund_mismatches",
                  "ledger_sum", "ledger_broken", "negative_wallets", "notifications_undelivered", "notifications_unsigned",
                  "errors")

    def violations(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.VIOLATIONS if getattr(self, name)}

    @property
    def ok(self) -> bool:
        return not self.violations()

    def line(self) -> str:
        """The figures in one line."""
        return (f"payments {self.payments}, approved {self.approved}, declined {self.declined}, "
                f"cancelled {self.cancelled + self.reversed + self.not_processed} (reversed {self.reversed}, "
                f"not processed {self.not_processed}), unresolved {self.unresolved}, lost {self.lost}, "
                f"charged twice {self.charged_twice}, journal/ledger mismatches {self.mismatches}, "
                f"wallet mismatches {self.wallet_mismatches}, refunds {self.refunds} (refused {self.refunds_refused}, "
                f"mismatches {self.refund_mismatches}), ledger sum {self.ledger_sum}, ledger errors {self.ledger_broken}, "
                f"negative wallets {self.negative_wallets}, notifications {self.notifications} "
                f"(undelivered {self.notifications_undelivered}, unsigned {self.notifications_unsigned}, "
                f"retried {self.notifications_retried}, repeated {self.notifications_repeated}), backend kills {self.backend_kills}, "
                f"network cuts {self.network_cuts}, network delays {self.network_delays}, faults armed {self.faults_armed}, "
                f"terminal crashes {self.terminal_crashes}, harness errors {self.errors}")

    def report(self) -> str:
        """The figures, the outcomes by result code, and what each violation was."""
        lines = [f"chaos run: seed {self.seed}, {self.database}, {self.terminals} terminals, {self.duration_s:.1f} s",
                 self.line(),
                 "outcomes: " + ", ".join(f"{state} {code}: {n}" for (state, code), n in sorted(self.by_result.items()))]
        lines += [f"VIOLATION {detail}" for detail in self.details[:200]]
        lines.append("OK: no violation" if self.ok else "FAILED: " + ", ".join(f"{k} {v}" for k, v in self.violations().items()))
        return "\n".join(lines)


# --- the backend as a process -----------------------------------------------------------------------


class BackendProcess:
    """``pos-sim backend`` in a process of its own; ``kill`` (SIGKILL) and ``start`` again on the same port."""

    def __init__(self, data_dir: Path, db_url: str | None = None, log_path: Path | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.db_url = db_url
        self.port = 0
        self.log_path = log_path or self.data_dir.parent / "backend.log"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def up(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, wait_s: float = 30.0) -> None:
        """Start it (on the port it had, after the first start) and return once it serves."""
        command = [sys.executable, "-m", "pos_sim", "backend", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if self.db_url:
            command += ["--db", self.db_url]
        deadline = time.monotonic() + wait_s
        while True:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "a") as log:
                log.write(f"--- start {self.starts + 1} at {datetime.now(timezone.utc).isoformat()}\n")
                log.flush()
                process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
                                           start_new_session=True)
            line = _read_line(process, deadline)
            if line and line.startswith("pos-sim backend on "):
                break
            process.kill()
            process.wait()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the backend did not start (see {self.log_path}): {line!r}")
            time.sleep(0.2)  # the port not free yet: try again
        self.process = process
        self.starts += 1
        self.port = int(line.split()[3].rsplit(":", 1)[1])
        threading.Thread(target=_drain, args=(process,), daemon=True).start()
        _wait_until(lambda: _answers(self.url), 10.0, "the backend's /sim API")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, whatever it was doing."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def _read_line(process: subprocess.Popen, deadline: float) -> str:
    """The first line the process prints, or '' if it ends or says nothing before ``deadline``."""
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(max(0.0, deadline - time.monotonic()))
    return got[0].strip() if got else ""


def _drain(process: subprocess.Popen) -> None:
    with contextlib.suppress(Exception):
        for _ in process.stdout:
            pass


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/sim/faults", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _wait_until(condition: Callable[[], Any], within_s: float, what: str) -> Any:
    deadline = time.monotonic() + within_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come within {within_s} s")
        time.sleep(0.05)
    return value


# --- the network ------------------------------------------------------------------------------------


class _Link:
    """One proxied connection: the terminal's socket and the backend's."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self._lock = threading.Lock()
        self.closed = False

    def reset(self) -> None:
        """Reset both ends: SO_LINGER 0, so closing sends RST; SHUT_RD wakes the pumps blocked in recv."""
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_0)
                sock.shutdown(socket.SHUT_RD)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.close()


_LINGER_0 = (1).to_bytes(4, sys.byteorder) + (0).to_bytes(4, sys.byteorder)  # struct linger {l_onoff=1, l_linger=0}


def _reset_close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_0)
    with contextlib.suppress(OSError):
        sock.close()


class Proxy:
    """A TCP proxy on a loopback port to ``upstream_port``, with the network's failures on command."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.delay_s = 0.0
        self.dropping = False
        self.connections = self.dropped = self.refused = self.resets = 0
        self._links: set[_Link] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closing = False
        threading.Thread(target=self._accept, name="chaos-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """The network goes: every open connection reset, every new one dropped until ``heal``."""
        self.dropping = True
        with self._lock:
            links = list(self._links)
        for link in links:
            link.reset()
        self.resets += len(links)

    def heal(self) -> None:
        self.dropping = False
        self.delay_s = 0.0

    def close(self) -> None:
        self._closing = True
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.dropping:
                self.dropped += 1
                _reset_close(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
                upstream.settimeout(None)
            except OSError:  # the backend is down: the terminal sees its connection reset
                self.refused += 1
                _reset_close(client)
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(client, upstream)
            with self._lock:
                self._links.add(link)
            self.connections += 1
            threading.Thread(target=self._pump, args=(link, client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(link, upstream, client), daemon=True).start()

    def _pump(self, link: _Link, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                delay = self.delay_s
                if delay:
                    time.sleep(delay)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            link.close()
            with self._lock:
                self._links.discard(link)


# --- the merchant's notification endpoint -----------------------------------------------------------


class Receiver:
    """The merchant's ``paymentNotifyUrl``: verifies, acknowledges and counts result notifications."""

    def __init__(self, gateway_public_key: Any) -> None:
        receiver = self
        self.key = gateway_public_key
        self.got: dict[str, list[dict[str, Any]]] = defaultdict(list)  # paymentId -> the notifications acknowledged
        self.unsigned: list[str] = []
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = receiver._verify(self.path, self.headers, raw)
                try:
                    notice = json.loads(raw)
                except ValueError:
                    notice = {}
                with receiver._lock:
                    if ok and isinstance(notice, dict) and notice.get("paymentId"):
                        receiver.got[notice["paymentId"]].append(notice)
                    elif not ok:
                        receiver.unsigned.append(f"{self.path}: {raw[:120]!r}")
                answer = json.dumps({"result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"}}
                                    if ok else {"result": {"resultCode": "INVALID_SIGNATURE", "resultStatus": "F"}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, name="chaos-receiver", daemon=True).start()

    def _verify(self, path: str, headers: Any, raw: bytes) -> bool:
        try:
            _algorithm, _version, value = ams_signature.parse_signature_header(headers.get("signature") or "")
            return bool(ams_signature.verify(self.key, "POST", path, headers.get("client-id") or "",
                                             headers.get("request-time") or "", raw, value))
        except Exception:  # noqa: BLE001 - any failure to verify is an unsigned notification
            return False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the customers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wallet:
    wallet_id: str
    currency: str
    opening: int


class CodeDesk:
    """Fresh one-time payment codes of the run's wallets, fetched ahead over /sim (direct to the backend)."""

    MAX_AGE_S = 40.0  # codes are good for about a minute

    def __init__(self, backend: BackendProcess, wallets: list[Wallet], rng: random.Random, stock: int) -> None:
        self.backend = backend
        self.wallets = wallets
        self.rng = rng
        self.codes: queue.Queue[tuple[Wallet, str, float]] = queue.Queue(maxsize=stock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-codes", daemon=True)
        self._thread.start()

    def take(self, stop: threading.Event) -> tuple[Wallet, str] | None:
        while not stop.is_set():
            try:
                wallet, code, fetched = self.codes.get(timeout=0.2)
            except queue.Empty:
                continue
            if time.monotonic() - fetched < self.MAX_AGE_S:
                return wallet, code
        return None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        sim = Simulator(self.backend.url, timeout_s=2.0)
        try:
            while not self._stop.is_set():
                wallet = self.rng.choice(self.wallets)
                try:
                    code = sim.payment_code(wallet.wallet_id).code
                except SimulatorError:
                    self._stop.wait(0.1)  # the backend is down: try again soon
                    continue
                while not self._stop.is_set():
                    try:
                        self.codes.put((wallet, code, time.monotonic()), timeout=0.2)
                        break
                    except queue.Full:
                        continue
        finally:
            sim.close()


# --- the terminals ------------------------------------------------------------------------------------


class Crash(Exception):
    """The terminal process died here (simulated: the thread drops everything it holds)."""


class CrashingGateway(GatewayClient):
    """A gateway client whose terminal dies at ``crash_at``: "before-pay" (journalled, never sent),
    "after-pay" (sent, the answer lost with the process)."""

    crash_at: str | None = None

    def call(self, call: str, body: Any) -> Reply:
        if call == "pay" and self.crash_at == "before-pay":
            raise Crash(self.crash_at)
        reply = super().call(call, body)
        if call == "pay" and self.crash_at == "after-pay":
            raise Crash(self.crash_at)
        return reply


@dataclass
class Sent:
    """A payment request as the harness made it: which terminal, which wallet, how much."""

    request_id: str
    terminal: str
    wallet: Wallet
    amount: Money


@dataclass
class RefundSent:
    request_id: str
    terminal: str
    payment_request_id: str
    payment_id: str
    wallet: Wallet
    amount: Money
    state: str = "PENDING"  # SUCCESS, REFUSED, or PENDING (no answer yet)
    result_code: str | None = None


class Terminal(threading.Thread):
    """One terminal: its own journal file and gateway client, paying until the run says stop."""

    def __init__(self, run: ChaosRun, index: int) -> None:
        super().__init__(name=f"chaos-T{index:02d}", daemon=True)
        self.run_ = run
        self.terminal_id = f"T{index:02d}"
        self.rng = random.Random(f"{run.config.seed}/terminal/{index}")
        self.journal_path = run.config.work_dir / "terminals" / self.terminal_id / "journal.db"
        self.crashes = 0
        self.errors: list[str] = []
        self.gateway: CrashingGateway | None = None
        self.journal: Journal | None = None

    def _open(self) -> None:
        cfg = self.run_.config
        self.gateway = CrashingGateway(self.run_.credentials, cfg.timeouts)
        self.journal = Journal.open(self.journal_path)
        recover(self.gateway, self.journal, polling=cfg.polling)  # as a register does when it starts

    def _close(self) -> None:
        if self.gateway is not None:
            self.gateway.close()
        if self.journal is not None:
            self.journal.close()

    def run(self) -> None:
        run = self.run_
        try:
            self._open()
            while not run.should_stop():
                taken = run.desk.take(run.stopping)
                if taken is None:
                    break
                number = run.started()
                wallet, code = taken
                try:
                    self._pay(wallet, code, number)
                except Crash:
                    self.crashes += 1
                    self._close()  # the process is gone: nothing of it survives but the journal file
                    self._open()
                pause = self.rng.uniform(0, 2 * run.config.pause_s)
                if pause:
                    time.sleep(pause)
        except Exception as exc:  # noqa: BLE001 - a harness or product error: counted, the run goes on
            self.errors.append(f"{self.terminal_id}: {type(exc).__name__}: {exc}")
            run.log(f"{self.terminal_id} stopped on {type(exc).__name__}: {exc}")
        finally:
            self._close()

    def _amount(self, wallet: Wallet, number: int) -> Money:
        """The amount of the run's payment ``number``: its ending is planned by that number (seeded), the
        whole units by this terminal."""
        cfg = self.run_.config
        if wallet.currency == "JPY":
            minor = self.rng.randint(2, 40) * 100
        else:
            minor = self.rng.randint(100, 3000)
        minor = minor // 100 * 100  # whole units, then the ending
        plan = random.Random(f"{cfg.seed}/payment/{number}")
        if number % DECLINE_EVERY == DECLINE_EVERY // 2:
            ending = int(DECLINE_ENDINGS[number // DECLINE_EVERY % len(DECLINE_ENDINGS)])
        elif plan.random() < cfg.trigger_rate:
            ending = int(plan.choice(TRIGGER_ENDINGS))
        else:
            ending = plan.choice([n for n in range(100) if f"{n:02d}" not in TRIGGER_ENDINGS])
        return Money.of_minor(minor + ending, wallet.currency)

    def _pay(self, wallet: Wallet, code: str, number: int) -> None:
        run, cfg = self.run_, self.run_.config
        amount = self._amount(wallet, number)
        request_id = new_request_id()
        run.record(Sent(request_id, self.terminal_id, wallet, amount))
        crash_at, crash_after = None, 0
        if self.rng.random() < cfg.crash_rate:
            crash_at = self.rng.choice(("before-pay", "after-pay", "chasing"))
            crash_after = self.rng.randint(1, 3)
        sleeps = 0

        def sleep(seconds: float) -> None:
            nonlocal sleeps
            sleeps += 1
            if crash_at == "chasing" and sleeps >= crash_after:
                raise Crash("chasing")
            time.sleep(seconds)

        assert self.gateway is not None and self.journal is not None
        self.gateway.crash_at = crash_at if crash_at != "chasing" else None
        try:
            outcome = authorize(self.gateway, self.journal, amount, code, payment_request_id=request_id,
                                notify_url=f"{run.notify_proxy.url}/notify/{self.terminal_id}", terminal_id=self.terminal_id,
                                description=f"chaos {self.terminal_id}", polling=cfg.polling, sleep=sleep)
        finally:
            self.gateway.crash_at = None
        if outcome.state is State.APPROVED and outcome.payment_id and self.rng.random() < cfg.refund_rate:
            self._refund(outcome.payment_request_id, outcome.payment_id, wallet, amount)

    def _refund(self, payment_request_id: str, payment_id: str, wallet: Wallet, paid: Money) -> None:
        run = self.run_
        minor = self.rng.randint(1, paid.minor)
        refund = RefundSent("RFD" + uuid.uuid4().hex.upper(), self.terminal_id, payment_request_id, payment_id, wallet,
                            Money.of_minor(minor, paid.currency))
        run.record_refund(refund)
        assert self.gateway is not None
        send_refund(self.gateway, refund, attempts=3, pause_s=run.config.polling.interval_s)


def send_refund(gateway: GatewayClient, refund: RefundSent, attempts: int, pause_s: float) -> None:
    """Send ``refund`` (the same request id and body each time) until the gateway answers S or F."""
    for attempt in range(attempts):
        reply = gateway.refund(refund.request_id, refund.payment_id, refund.amount, reason="chaos")
        if isinstance(reply, GatewayAnswer) and reply.status in ("S", "F"):
            refund.state = "SUCCESS" if reply.succeeded else "REFUSED"
            refund.result_code = reply.code
            return
        if attempt + 1 < attempts:
            time.sleep(pause_s)


# --- the controller ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    at: float  # progress of the run, 0 to 1
    kind: str  # kill, cut, delay, fault
    seconds: float = 0.0
    fault: tuple[str, str] | None = None
    delay_ms: int | None = None


def schedule(config: ChaosConfig) -> list[Event]:
    """The run's events, seeded: where in the run (0-1) each fires, and its parameters."""
    rng = random.Random(f"{config.seed}/schedule")
    events = []
    for _ in range(config.backend_kills):
        events.append(Event(rng.uniform(0.05, 0.85), "kill", rng.uniform(*config.down_s)))
    for _ in range(config.network_cuts):
        events.append(Event(rng.uniform(0.05, 0.85), "cut", rng.uniform(*config.cut_s)))
    for _ in range(config.network_delays):
        events.append(Event(rng.uniform(0.05, 0.85), "delay", rng.uniform(*config.delay_for_s),
                            delay_ms=int(1000 * rng.uniform(*config.delay_s))))
    for n in range(config.faults):
        events.append(Event(rng.uniform(0.02, 0.88), "fault", fault=FAULT_PLAN[n % len(FAULT_PLAN)],
                            delay_ms=rng.randint(*config.fault_delay_ms)))
    return sorted(events, key=lambda e: e.at)


class Controller(threading.Thread):
    """Fires the schedule's events as the run progresses, one at a time."""

    def __init__(self, run: ChaosRun, events: list[Event]) -> None:
        super().__init__(name="chaos-controller", daemon=True)
        self.run_ = run
        self.events = events
        self.fired: Counter = Counter()
        self.done = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        run = self.run_
        try:
            for event in self.events:
                while run.progress() < event.at:
                    if run.stopping.wait(0.01) or run.interrupt.is_set():
                        return
                self.fire(event)
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"controller: {type(exc).__name__}: {exc}")
        finally:
            self.done.set()

    def fire(self, event: Event) -> None:
        run = self.run_
        if event.kind == "kill":
            run.log(f"kill the backend (down {event.seconds:.1f} s + start)")
            run.backend.kill()
            time.sleep(event.seconds)
            run.backend.start()
        elif event.kind == "cut":
            run.log(f"cut the network for {event.seconds:.1f} s")
            for proxy in (run.proxy, run.notify_proxy):
                proxy.cut()
            time.sleep(event.seconds)
            for proxy in (run.proxy, run.notify_proxy):
                proxy.heal()
        elif event.kind == "delay":
            run.log(f"hold every chunk {event.delay_ms} ms for {event.seconds:.1f} s")
            run.proxy.delay_s = run.notify_proxy.delay_s = event.delay_ms / 1000
            time.sleep(event.seconds)
            run.proxy.heal()
            run.notify_proxy.heal()
        elif event.kind == "fault":
            call, action = event.fault
            delay = event.delay_ms if action in ("timeout", "late-success") else None
            try:
                run.sim.arm_fault(call, action, count=1, delay_ms=delay)
            except SimulatorError as exc:
                run.log(f"fault {call}/{action} not armed: {exc}")
                return
            run.log(f"armed {call} {action}" + (f" {delay} ms" if delay else ""))
        self.fired[event.kind] += 1


# --- a run ----------------------------------------------------------------------------------------------


class ChaosRun:
    """One chaos run: set up, run, resolve, check (``run_chaos`` does all four)."""

    def __init__(self, config: ChaosConfig, interrupt: threading.Event | None = None) -> None:
        self.config = config
        self.stopping = threading.Event()
        self.interrupt = interrupt or threading.Event()
        """Set (Ctrl-C in scripts/chaos.py): the stream ends early; the run still resolves and checks."""
        self._lock = threading.Lock()
        self.sent: dict[str, Sent] = {}
        self.refunds: list[RefundSent] = []
        self.count = 0
        self.t0 = 0.0
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        line = f"{time.monotonic() - self.t0:7.2f}s {message}"
        with self._lock:
            self.lines.append(line)
        if self.config.log:
            self.config.log(line)

    def record(self, sent: Sent) -> None:
        with self._lock:
            self.sent[sent.request_id] = sent

    def record_refund(self, refund: RefundSent) -> None:
        with self._lock:
            self.refunds.append(refund)

    def started(self) -> int:
        """Count a payment begun; its number in the run (from 0)."""
        with self._lock:
            self.count += 1
            return self.count - 1

    def progress(self) -> float:
        cfg = self.config
        if cfg.payments is not None:
            return self.count / cfg.payments
        return (time.monotonic() - self.t0) / cfg.duration_s

    def should_stop(self) -> bool:
        return self.stopping.is_set() or self.interrupt.is_set() or (
            self.progress() >= 1.0 and self.controller.done.is_set())

    # the phases

    def setup(self) -> None:
        cfg = self.config
        cfg.work_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = cfg.work_dir / "backend"
        self.backend = BackendProcess(self.data_dir, cfg.db_url, cfg.work_dir / "backend.log")
        self.backend.start()
        self.sim = Simulator(self.backend.url, timeout_s=5.0)
        self.proxy = Proxy(self.backend.port)
        key = ams_signature.load_public_key((self.data_dir / "keys" / "gateway_public.pem").read_text())
        self.receiver = Receiver(key)
        self.notify_proxy = Proxy(self.receiver.port)  # the merchant's side of the network: cut and slowed alike
        self.credentials = Credentials.from_simulator_data_dir(self.proxy.url, self.data_dir)
        rng = random.Random(f"{cfg.seed}/wallets")
        self.wallets = []
        for n in range(cfg.wallets):
            kind = n % 4
            currency, opening = (("JPY", 500_000_000) if kind == 3 else ("SGD", 6_000) if kind == 2 else ("SGD", 50_000_000))
            wallet_id = self.sim.open_wallet(Money.of_minor(opening, currency), name=f"chaos customer {n}")
            self.wallets.append(Wallet(wallet_id, currency, opening))
        self.desk = CodeDesk(self.backend, self.wallets, rng, stock=2 * cfg.terminals)

    def go(self) -> None:
        cfg = self.config
        self.t0 = time.monotonic()
        self.controller = Controller(self, schedule(cfg))
        self.terminals = [Terminal(self, n + 1) for n in range(cfg.terminals)]
        self.controller.start()
        for terminal in self.terminals:
            terminal.start()
        limit = cfg.max_s + (cfg.duration_s or 0.0)
        deadline = time.monotonic() + limit
        for terminal in self.terminals:
            terminal.join(max(0.0, deadline - time.monotonic()))
        if any(terminal.is_alive() for terminal in self.terminals):
            self.log(f"the run did not end within {limit:.0f} s: stopping the terminals")
            self.stopping.set()
            for terminal in self.terminals:
                terminal.join(60)
            self.controller.errors.append(f"the run did not end within {limit:.0f} s")
        self.stopping.set()
        self.controller.join()
        self.desk.stop()
        self.duration_s = time.monotonic() - self.t0
        self.log(f"stream done: {self.count} payments in {self.duration_s:.1f} s")

    def resolve(self) -> None:
        """Backend up, faults cleared, network healed: every terminal opens its journal again (recover runs)."""
        cfg = self.config
        if not self.backend.up:
            self.backend.start()
        self.proxy.heal()
        self.notify_proxy.heal()
        self.sim.clear_faults()
        for terminal in self.terminals:
            with GatewayClient(self.credentials, cfg.timeouts) as gateway, Journal.open(terminal.journal_path) as journal:
                for _ in range(5):
                    if not journal.pending():
                        break
                    recover(gateway, journal, polling=cfg.polling)
        with GatewayClient(self.credentials, cfg.timeouts) as gateway:
            for refund in self.refunds:
                if refund.state == "PENDING":
                    send_refund(gateway, refund, attempts=5, pause_s=cfg.polling.interval_s)
        self.log("resolved")

    def close(self) -> None:
        for thing in ("desk", "sim", "proxy", "notify_proxy", "receiver"):
            if hasattr(self, thing):
                with contextlib.suppress(Exception):
                    (getattr(self, thing).stop if thing == "desk" else getattr(self, thing).close)()
        if hasattr(self, "backend"):
            self.backend.stop()

    def figures(self) -> Figures:
        figures = Figures(seed=self.config.seed, database="postgresql" if self.config.db_url else "sqlite",
                          terminals=self.config.terminals, duration_s=self.duration_s)
        figures.backend_kills = self.controller.fired["kill"]
        figures.network_cuts = self.controller.fired["cut"]
        figures.network_delays = self.controller.fired["delay"]
        figures.faults_armed = self.controller.fired["fault"]
        figures.terminal_crashes = sum(t.crashes for t in self.terminals)
        errors = [e for t in self.terminals for e in t.errors] + self.controller.errors
        figures.errors = len(errors)
        figures.details += errors
        check(self, figures)
        return figures


def run_chaos(config: ChaosConfig, interrupt: threading.Event | None = None) -> tuple[Figures, ChaosRun]:
    """Set up, run the stream under chaos, resolve, check: the figures (and the run, for its log).
    ``interrupt``, once set, ends the stream early (the run is still resolved and checked)."""
    run = ChaosRun(config, interrupt)
    try:
        run.setup()
        run.go()
        run.resolve()
        return run.figures(), run
    finally:
        run.close()


# --- the checks -------------------------------------------------------------------------------------------


def read_url(db_url: str | None, data_dir: Path) -> str:
    """The store's database, for reading: the SQLite file read-only, or the PostgreSQL URL through psycopg 3."""
    if not db_url:
        return f"sqlite:///file:{(data_dir / 'ledger.db').resolve()}?mode=ro&uri=true"
    url = make_url(db_url)
    if "+" not in url.drivername:
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


@dataclass
class Ledger:
    """What the backend's store holds, read directly."""

    payments: dict[str, dict[str, Any]]       # payment_request_id -> row
    refunds: dict[str, dict[str, Any]]        # refund_request_id -> row
    accounts: dict[str, dict[str, Any]]
    wallet_moves: dict[str, list[tuple[str, int]]]   # payment or refund id -> [(posting kind, wallet leg)]
    trial: dict[str, int]
    unbalanced_postings: list[str]
    drifted_accounts: list[str]
    negative_after: list[str]
    notifications: dict[str, list[dict[str, Any]]]   # payment_id -> rows


def read_ledger(db_url: str | None, data_dir: Path) -> Ledger:
    engine = create_engine(read_url(db_url, data_dir))
    try:
        with engine.connect() as db:
            def rows(sql: str, **args: Any) -> list[dict[str, Any]]:
                return [dict(r) for r in db.execute(text(sql), args).mappings()]

            payments = {r["payment_request_id"]: r for r in rows(
                "SELECT payment_id, payment_request_id, status, result_code, amount, currency, wallet_id, wallet_amount,"
                " paid_at, cancelled_at, notify_url FROM payments WHERE client_id = :c", c=CLIENT_ID)}
            refunds = {r["refund_request_id"]: r for r in rows(
                "SELECT refund_id, refund_request_id, payment_id, amount, wallet_amount, status FROM refunds WHERE client_id = :c",
                c=CLIENT_ID)}
            # an account's balance: its row's plus its shards' (a pooled account's postings on PostgreSQL)
            balances = ("SELECT id, kind, currency, balance + COALESCE((SELECT SUM(s.balance) FROM balance_shards s"
                        " WHERE s.account_id = accounts.id), 0) AS balance FROM accounts")
            accounts = {r["id"]: r for r in rows(balances)}
            moves: dict[str, list[tuple[str, int]]] = defaultdict(list)
            for r in rows("SELECT p.kind, p.ref, e.amount FROM entries e JOIN postings p ON p.id = e.posting_id"
                          " JOIN accounts a ON a.id = e.account_id WHERE a.kind = 'wallet' AND p.ref IS NOT NULL"):
                moves[r["ref"]].append((r["kind"], int(r["amount"])))
            trial = {r["currency"]: int(r["total"]) for r in rows(
                f"SELECT currency, SUM(balance) AS total FROM ({balances}) a GROUP BY currency")}
            unbalanced = [f"posting {r['posting_id']} {r['currency']} sums to {r['total']}" for r in rows(
                "SELECT posting_id, currency, SUM(amount) AS total FROM entries GROUP BY posting_id, currency"
                " HAVING SUM(amount) <> 0")]
            drifted = [f"account {r['id']}: balance {r['balance']}, its entries sum to {r['total']}" for r in rows(
                f"SELECT a.id, a.balance, COALESCE(SUM(e.amount), 0) AS total FROM ({balances}) a"
                " LEFT JOIN entries e ON e.account_id = a.id GROUP BY a.id, a.balance"
                " HAVING a.balance <> COALESCE(SUM(e.amount), 0)")]
            negative = [f"wallet {r['account_id']} went to {r['balance_after']} (posting {r['posting_id']})" for r in rows(
                "SELECT e.account_id, e.balance_after, e.posting_id FROM entries e JOIN accounts a ON a.id = e.account_id"
                " WHERE a.kind = 'wallet' AND e.balance_after < 0")]
            notes: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for r in rows("SELECT payment_id, attempts, delivered_at, last_error FROM notifications WHERE client_id = :c",
                          c=CLIENT_ID):
                notes[r["payment_id"]].append(r)
    finally:
        engine.dispose()
    return Ledger(payments, refunds, accounts, moves, trial, unbalanced, drifted, negative, notes)


EXPECTED_STATUS = {
    State.APPROVED: {"SUCCESS"},
    State.DECLINED: {"FAIL", None},
    # a cancel closed it (S); the inquiry after it did not say whether the pay had ever arrived (a fault
    # met it): the terminal says nothing was taken, which holds whether or not the backend has the payment
    State.CANCELLED: {"CANCELLED", None},
    State.REVERSED: {"CANCELLED"},
    State.NOT_PROCESSED: {None},
}
"""The backend statuses each final journal state may stand beside (None: the backend holds no such payment)."""


def check(run: ChaosRun, figures: Figures) -> None:
    """Every invariant, counted into ``figures``; what broke each, in ``figures.details``."""
    cfg = run.config
    wait_for_notifications(run, cfg.notify_wait_s)
    ledger = read_ledger(cfg.db_url, run.data_dir)
    bad = figures.details

    entries = {}
    for terminal in run.terminals:
        with Journal.open(terminal.journal_path) as journal:
            for entry in journal.entries():
                entries[entry.payment_request_id] = entry
    figures.payments = len(entries)
    for request_id in run.sent.keys() - entries.keys():  # authorize journals before it sends: never happens
        figures.unresolved += 1
        bad.append(f"unresolved: {request_id} was started by {run.sent[request_id].terminal} but is in no journal")
    for request_id, entry in entries.items():
        figures.by_result[(entry.state.value, entry.result_code or "-")] += 1
        if not entry.state.final:
            figures.unresolved += 1
            bad.append(f"unresolved: {request_id} is still {entry.state}")
            continue
        figures.approved += entry.state is State.APPROVED
        figures.declined += entry.state is State.DECLINED
        figures.cancelled += entry.state is State.CANCELLED
        figures.reversed += entry.state is State.REVERSED
        figures.not_processed += entry.state is State.NOT_PROCESSED
        payment = ledger.payments.get(request_id)
        status = payment["status"] if payment else None
        if status not in EXPECTED_STATUS[entry.state] or (
                entry.state is State.REVERSED and not payment["paid_at"]) or (
                payment is not None and int(payment["amount"]) != entry.amount.minor):
            figures.mismatches += 1
            what = f"journal {entry.state} ({entry.result_code}), backend " + (
                f"{status} ({payment['result_code']}, paid_at {payment['paid_at']}, amount {payment['amount']})"
                if payment else "has no such payment")
            if entry.state is not State.APPROVED and status == "SUCCESS":
                figures.lost += 1  # the customer paid; the terminal says it took nothing
                what += ": LOST (charged, the terminal says not)"
            bad.append(f"mismatch: {request_id}: {what}")
    for request_id, payment in ledger.payments.items():
        if request_id not in entries:
            figures.lost += payment["status"] == "SUCCESS"
            figures.mismatches += 1
            bad.append(f"mismatch: backend payment {payment['payment_id']} ({request_id}, {payment['status']}) is in no journal")
        moves = ledger.wallet_moves.get(payment["payment_id"], [])
        charged = [m for kind, m in moves if kind == "payment"]
        net = sum(m for _, m in moves)
        expected = -int(payment["wallet_amount"] or payment["amount"]) if payment["status"] == "SUCCESS" else 0
        if len(charged) > 1 or net < expected:
            figures.charged_twice += 1
            bad.append(f"charged twice: {payment['payment_id']} ({request_id}): wallet legs {moves}, {payment['status']}")
        elif net != expected:
            figures.mismatches += 1
            bad.append(f"mismatch: {payment['payment_id']} ({request_id}) is {payment['status']}, the wallet moved {net}")

    # refunds: the terminal's word against the backend's
    mine = {r.request_id: r for r in run.refunds}
    refunded: Counter = Counter()
    for refund in run.refunds:
        row = ledger.refunds.get(refund.request_id)
        if refund.state == "SUCCESS":
            figures.refunds += 1
            refunded[refund.wallet.wallet_id] += refund.amount.minor
        elif refund.state == "REFUSED":
            figures.refunds_refused += 1
        if (refund.state == "SUCCESS") != (row is not None and row["status"] == "SUCCESS") or refund.state == "PENDING":
            figures.refund_mismatches += 1
            bad.append(f"refund mismatch: {refund.request_id} of {refund.payment_request_id}: terminal {refund.state} "
                       f"({refund.result_code}), backend {row['status'] if row else 'none'}")
    for request_id, row in ledger.refunds.items():
        if request_id not in mine:
            figures.refund_mismatches += 1
            bad.append(f"refund mismatch: backend refund {row['refund_id']} ({request_id}) was never sent")

    # the ledger
    figures.ledger_sum = sum(abs(total) for total in ledger.trial.values())
    if figures.ledger_sum:
        bad.append(f"ledger sum: accounts sum to {ledger.trial} per currency")
    figures.ledger_broken = len(ledger.unbalanced_postings) + len(ledger.drifted_accounts)
    bad += [f"ledger: {line}" for line in ledger.unbalanced_postings + ledger.drifted_accounts]
    negatives = [a for a in ledger.accounts.values() if a["kind"] == "wallet" and int(a["balance"]) < 0]
    figures.negative_wallets = len(negatives) + len(ledger.negative_after)
    bad += [f"negative wallet: {a['id']} holds {a['balance']}" for a in negatives] + ledger.negative_after

    approved: Counter = Counter()
    for request_id, entry in entries.items():
        if entry.state is State.APPROVED and request_id in run.sent:
            approved[run.sent[request_id].wallet.wallet_id] += entry.amount.minor
    for wallet in run.wallets:
        held = int(ledger.accounts[wallet.wallet_id]["balance"])
        expected = wallet.opening - approved[wallet.wallet_id] + refunded[wallet.wallet_id]
        if held != expected:
            figures.wallet_mismatches += 1
            bad.append(f"wallet {wallet.wallet_id}: holds {held}, expected {expected} = opening {wallet.opening} "
                       f"- approved {approved[wallet.wallet_id]} + refunded {refunded[wallet.wallet_id]}")

    # notifications: every payment that was ever final (SUCCESS or FAIL) was notified, delivered, acknowledged
    for request_id, payment in ledger.payments.items():
        if not payment["notify_url"] or not (payment["status"] in ("SUCCESS", "FAIL") or payment["paid_at"]):
            continue
        figures.notifications += 1
        rows = ledger.notifications.get(payment["payment_id"], [])
        got = run.receiver.got.get(payment["payment_id"], [])
        if not rows or any(r["delivered_at"] is None for r in rows) or not got:
            figures.notifications_undelivered += 1
            bad.append(f"notification: {payment['payment_id']} ({request_id}, {payment['status']}): "
                       f"{len(rows)} in the outbox, delivered {[r['delivered_at'] is not None for r in rows]}, "
                       f"acknowledged {len(got)}, last error {[r['last_error'] for r in rows]}")
        figures.notifications_repeated += max(0, len(got) - 1)
        figures.notifications_retried += any(int(r["attempts"]) > 1 for r in rows)
    figures.notifications_unsigned = len(run.receiver.unsigned)
    bad += [f"unsigned notification: {u}" for u in run.receiver.unsigned]


def wait_for_notifications(run: ChaosRun, within_s: float) -> None:
    """Until the outbox has nothing undelivered (the notifier retries with backoff), at most ``within_s``."""
    deadline = time.monotonic() + within_s
    engine = create_engine(read_url(run.config.db_url, run.data_dir))
    waiting = None
    try:
        while time.monotonic() < deadline:
            with engine.connect() as db:
                waiting = db.execute(text("SELECT COUNT(*) FROM notifications WHERE delivered_at IS NULL")).scalar_one()
            if not waiting:
                return
            time.sleep(0.2)
        run.log(f"{waiting} notifications still undelivered after {within_s} s")
    finally:
        engine.dispose()


# --- PostgreSQL -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def pg_schema(pg_url: str) -> Iterator[str]:
    """A fresh schema of the PostgreSQL at ``pg_url`` for one run, dropped after: the URL that uses it."""
    import psycopg

    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    schema = f"chaos_{secrets.token_hex(6)}"
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def machine_load() -> str:
    """The load averages and core count, for the report."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"

