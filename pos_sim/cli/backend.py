"""``pos-sim backend``, the simulated wallet provider; and the simulator the other commands embed when
no ``--backend`` is given (in this process for a command, as a child process for the UI), reached
over HTTP like any gateway."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import platformdirs

from pos_sim.cli.errors import EXIT_OK, ServiceError, UsageError, not_a_file
from pos_sim.language import N_, _


def add_backend_command(commands: argparse._SubParsersAction) -> None:
    backend = commands.add_parser("backend", help=N_("run the simulated wallet provider (Alipay+/Antom in-store API)"),
                                  description="Run the simulated wallet provider: the Alipay+/Antom in-store payments API "
                                              "(/ams/api/...), the transit gates' API, and the /sim admin API (wallets, "
                                              "merchants, faults), with its ledger in SQLite (or PostgreSQL with --db). "
                                              "It prints the address it serves on. Stop it with ctrl+c.")
    backend.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    backend.add_argument("--port", type=int, default=8360, help="default %(default)s; 0 takes a free port")
    backend.add_argument("--data-dir", type=Path, default=default_data_dir(), metavar="DIR", help="keys and ledger (default: %(default)s)")
    backend.add_argument("--db", metavar="URL", help="a database URL, e.g. postgresql://user@127.0.0.1/db (default: SQLite in the data dir)")
    backend.add_argument("--admin-token", help="the token the /sim admin API asks for off loopback")
    backend.add_argument("--workers", type=int, default=1, metavar="N",
                         help="worker processes (default 1; more than 1 needs --db postgresql://...)")
    backend.set_defaults(run=run_backend)


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("pos-sim"))


def run_backend(args: argparse.Namespace) -> int:
    from pos_sim.backend import server  # here, not at the top: the other commands start without the web stack

    from pos_sim.backend.store.errors import StoreError

    if args.host not in ("127.0.0.1", "::1", "localhost") and not args.admin_token:
        raise UsageError(_("--host {host} serves beyond this machine: give --admin-token to guard the /sim admin API").format(
            host=args.host))

    if not 0 <= args.port <= 65535:  # a socket takes a port modulo 65536: 99999 served on 34463
        raise UsageError(_("--port {port}: a port from 0 to 65535").format(port=args.port))
    not_a_file("--data-dir", args.data_dir)
    if args.workers < 1:
        raise UsageError(_("--workers {count}: give 1 or more").format(count=args.workers))
    if args.workers > 1 and not (args.db or "").startswith("postgresql"):
        raise UsageError(_("--workers {count}: SQLite takes one writer at a time; several workers need --db "
                           "postgresql://...").format(count=args.workers))

    def ready(url: str) -> None:
        workers = f", {args.workers} workers" if args.workers > 1 else ""
        print(f"pos-sim backend on {url} (data in {args.data_dir}{workers})", flush=True)

    try:
        if args.workers > 1:
            server.serve_workers(args.data_dir, args.db, args.admin_token, args.host, args.port, args.workers, ready)
        else:
            server.serve_forever(server.open_gateway(args.data_dir, args.db, args.admin_token), args.host, args.port, ready)
    except (server.BackendError, StoreError) as exc:
        raise ServiceError(exc) from None
    return EXIT_OK


def reach_gateway(values: dict[str, Any], stack: ExitStack, origins: dict[str, str] | None = None) -> None:
    """Without a ``gateway.url`` (--backend), start an embedded simulator of ``gateway.simulator_data_dir``
    (default: the ``pos-sim backend`` data dir) for the length of ``stack``, and set its URL."""
    if embedded_gateway(values, origins or {}):
        values["gateway.url"] = stack.enter_context(embedded_backend(Path(values["gateway.simulator_data_dir"])))


def embedded_gateway(values: dict[str, Any], origins: dict[str, str]) -> bool:
    """Whether ``values`` leave the gateway to an embedded simulator (no ``gateway.url``); its data dir
    then defaults to the ``pos-sim backend`` one. Merchant keys without a gateway URL are refused."""
    if "gateway.url" in values:
        return False
    keys = [origins.get(name, flag) for flag, name in (("--client-id", "gateway.client_id"), ("--merchant-key", "gateway.merchant_key"),
                                                       ("--gateway-key", "gateway.gateway_key")) if name in values]
    if keys:
        raise UsageError(_("{flags}: the merchant's keys are for a gateway at --backend URL").format(flags=", ".join(keys)))
    values.setdefault("gateway.simulator_data_dir", default_data_dir())
    return True


@contextmanager
def embedded_backend(data_dir: Path) -> Iterator[str]:
    """A simulator of ``data_dir`` on a free loopback port for the length of the command; its URL."""
    from pos_sim.backend import server
    from pos_sim.backend.store.errors import StoreError

    try:
        running = server.start(server.open_gateway(data_dir))
    except (server.BackendError, StoreError) as exc:
        raise ServiceError(_("the embedded backend did not start: {why}").format(why=exc)) from None
    try:
        yield running.url
    finally:
        running.stop()


class BackendProcess:
    """``pos-sim backend`` on a free loopback port, as a child process; ``url()`` waits for it."""

    START_S = 30.0

    def __init__(self, data_dir: Path) -> None:
        import subprocess

        self.data_dir = data_dir
        self._process = subprocess.Popen(
            [sys.executable, "-m", "pos_sim", "backend", "--port", "0", "--data-dir", str(data_dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._url: str | None = None

    def url(self) -> str:
        """The backend's URL, once it says it serves (ServiceError if it stops or says nothing in time)."""
        import selectors

        if self._url is not None:
            return self._url
        assert self._process.stdout is not None and self._process.stderr is not None
        with selectors.DefaultSelector() as waiting:
            waiting.register(self._process.stdout, selectors.EVENT_READ)
            line = self._process.stdout.readline() if waiting.select(self.START_S) else ""
        if not line.startswith("pos-sim backend on "):
            self.stop()
            said = self._process.stderr.read().strip().splitlines()
            raise ServiceError(_("the embedded backend in {folder} did not start: {why}").format(folder=self.data_dir, why=said[-1])
                               if said else _("the embedded backend in {folder} did not start within {seconds} s").format(
                                   folder=self.data_dir, seconds=f"{self.START_S:g}"))
        self._url = line.split()[3]
        return self._url

    def stop(self) -> None:
        import subprocess

        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


@contextmanager
def backend_process(data_dir: Path) -> Iterator[BackendProcess]:
    process = BackendProcess(data_dir)
    try:
        yield process
    finally:
        process.stop()
