"""The simulated provider as a running server: its data dir (keys, ledger), the demo merchant, and
uvicorn on a loopback port, in the foreground (``pos-sim backend``) or in a background thread (an
embedded backend, which the terminal still reaches over HTTP).

On PostgreSQL the foreground server may run several worker processes (``serve_workers``): uvicorn's
supervisor binds the port once and hands it to each worker, which opens the data dir and the store
for itself and runs its own notifier; a worker that dies is replaced. Everything they share is in
the store (the ledger, idempotency records, faults, rates, the simulator's clock).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import uvicorn
from uvicorn.supervisors import Multiprocess

from pos_sim.backend.edge.app import create_app
from pos_sim.backend.services.gateway import Gateway
from pos_sim.backend.store import keys
from pos_sim.backend.store.database import Store

DEMO_CLIENT_ID = "SIM_DEMO"


class BackendError(Exception):
    """A backend that cannot start: a data dir, key or database it cannot use, a port in use."""


def open_gateway(data_dir: Path, db_url: str | None = None, admin_token: str | None = None) -> Gateway:
    """The gateway of ``data_dir``: created on first use with its keys, ledger and demo merchant."""
    key_dir = data_dir / "keys"
    ledger = data_dir / "ledger.db"
    try:
        if not data_dir.is_dir():  # made by pos-sim: for its owner alone (keys, the ledger)
            data_dir.parent.mkdir(parents=True, exist_ok=True)
            data_dir.mkdir(mode=0o700)
        gateway_key, _ = keys.ensure_key_pair(key_dir / "gateway_private.pem", key_dir / "gateway_public.pem")
        keys.ensure_key_pair(key_dir / f"{DEMO_CLIENT_ID}_private.pem", key_dir / f"{DEMO_CLIENT_ID}_public.pem")
        demo_public = (key_dir / f"{DEMO_CLIENT_ID}_public.pem").read_text()
        if db_url is None and not ledger.exists():  # SQLite makes its -wal and -shm files with the ledger's mode
            os.close(os.open(ledger, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise BackendError(f"{data_dir}: cannot set up the data dir ({exc.strerror or exc})") from None
    store = Store.open(db_url or f"sqlite:///{ledger.resolve()}", key_dir=key_dir)
    with store.begin() as tx:
        if tx.merchant(DEMO_CLIENT_ID) is None:
            tx.add_merchant(DEMO_CLIENT_ID, "pos-sim demo merchant", demo_public, "SGD")
    return Gateway(store, gateway_key, admin_token, key_dir=key_dir)


@dataclass
class RunningBackend:
    """A backend serving in a background thread of this process."""

    url: str
    gateway: Gateway
    _server: uvicorn.Server
    _thread: threading.Thread

    def wait(self) -> None:
        self._thread.join()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.gateway.notifier.stop()
        self.gateway.store.close()


def _server(gateway: Gateway, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(create_app(gateway), host=host, port=port, log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(config)


def start(gateway: Gateway, host: str = "127.0.0.1", port: int = 0, wait_s: float = 10.0) -> RunningBackend:
    """Serve ``gateway`` in a background thread; port 0 takes a free one. Returns once it answers."""
    server = _server(gateway, host, port)
    thread = threading.Thread(target=server.run, name="pos-sim-backend", daemon=True)
    thread.start()
    deadline = time.monotonic() + wait_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise BackendError(f"the backend did not start on {host}:{port} (port in use?)")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    gateway.notifier.start()
    return RunningBackend(f"http://{host}:{bound}", gateway, server, thread)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def stop_as_ctrl_c() -> None:
    """A service manager's stop (SIGTERM) ends this process as Ctrl-C does, its clean-ups run (uvicorn
    re-raises the signal it caught once it has shut down: its default would end the process there)."""
    signal.signal(signal.SIGTERM, _interrupt)


def serve_forever(gateway: Gateway, host: str, port: int, on_ready) -> None:
    """Serve in the foreground until interrupted; ``on_ready(url)`` is called once it listens."""
    running = start(gateway, host, port)
    stop_as_ctrl_c()
    on_ready(running.url)
    try:
        running.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


def _worker_app(data_dir: Path, db_url: str, admin_token: str | None) -> object:
    """The app of one worker process (uvicorn calls it there): its own gateway, its notifier running."""
    gateway = open_gateway(data_dir, db_url, admin_token)
    gateway.notifier.start()
    return create_app(gateway)


def serve_workers(data_dir: Path, db_url: str, admin_token: str | None, host: str, port: int, workers: int, on_ready) -> None:
    """Serve a PostgreSQL store with ``workers`` processes in the foreground until interrupted (SIGINT or
    SIGTERM stop every worker); ``on_ready(url)`` is called once a worker answers on the port."""
    open_gateway(data_dir, db_url, admin_token).store.close()  # the keys, tables and demo merchant, made once
    config = uvicorn.Config(partial(_worker_app, data_dir, db_url, admin_token), factory=True, host=host, port=port,
                            workers=workers, log_level="warning", access_log=False, lifespan="off")
    try:
        sock = config.bind_socket()
    except SystemExit:  # uvicorn exits when it cannot bind, having logged why
        raise BackendError(f"cannot listen on {host}:{port} (port in use?)") from None
    url = f"http://{host}:{sock.getsockname()[1]}"
    threading.Thread(target=_when_answering, args=(sock.getsockname()[:2], partial(on_ready, url)), daemon=True).start()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()


def _when_answering(address: tuple[str, int], then, wait_s: float = 60.0) -> None:
    """Call ``then()`` once a worker listens on ``address`` (the port refuses connections until then)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(address, timeout=1).close()
        except OSError:
            time.sleep(0.05)
            continue
        then()
        return
