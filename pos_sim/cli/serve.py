"""``pos-sim serve``: the terminal in a browser, for a room: a terminal of its own for each browser
session (T01, T02, ...) against one embedded simulator with its demo wallets, a trainer's page
listing them live, and the customer's phone as a page. On loopback by default; beyond it only with
``--token``, which the URLs it prints carry (the rule of the backend's admin API)."""

from __future__ import annotations

import argparse
import errno
import fcntl
import logging
import os
import secrets
import socket
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING

from pos_sim.cli.backend import backend_process, default_data_dir
from pos_sim.cli.errors import EXIT_OK, ServiceError, UsageError, not_a_file
from pos_sim.cli.tui import open_demo_customers
from pos_sim.language import N_, _

if TYPE_CHECKING:
    from pos_sim.web.certificate import Certificate

LOOPBACK = ("127.0.0.1", "::1", "localhost")
STOP_WAIT_S = 5
"""How long a stop waits for the class's connections to close. An HTTPS connection's close waits for the browser's
own (uvloop and asyncio give it 30 s): a phone asleep with a connection open held ctrl+c that long."""


class _DroppedAtStop(logging.Filter):
    """uvicorn's "Cancel N running task(s), timeout graceful shutdown exceeded": at a stop, what a browser still holds
    open after STOP_WAIT_S is dropped, as it should be; no error to show the trainer."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "timeout graceful shutdown exceeded" not in record.getMessage()


def add_serve_command(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help=N_("the terminal in a browser: a terminal per session, a trainer's page, the customer's phone"),
                                description="Serve the terminal UI to browsers: every browser session is a terminal of its "
                                            "own (T01, T02, ...) against one embedded simulator; /trainer lists them live, "
                                            "/phone is a demo customer's phone. Stop it with ctrl+c.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    serve.add_argument("--port", type=int, default=8370, help="default %(default)s; 0 takes a free port")
    serve.add_argument("--token", help="the token every page and call needs; required beyond loopback "
                                       "(--token new makes one); the URLs printed carry it")
    serve.add_argument("--data-dir", type=Path, default=default_data_dir() / "class",
                       help="the class: the simulator's keys and ledger, each terminal's journal (default: %(default)s)")
    secure = serve.add_mutually_exclusive_group()
    secure.add_argument("--tls", action="store_true",
                        help="serve over HTTPS with the class's own self-signed certificate (made once in DATA/tls): "
                             "a phone's browser gives the page its camera only over HTTPS")
    secure.add_argument("--cert", type=Path, metavar="PEM", help="serve over HTTPS with this certificate (and --key)")
    serve.add_argument("--key", type=Path, metavar="PEM", help="the private key of --cert")
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pos_sim.backend.server import stop_as_ctrl_c
    from pos_sim.scenarios.simulator import Simulator
    from pos_sim.terminal.settings import DEFAULT_CATALOGUE, read_catalogue_file
    from pos_sim.web.certificate import class_certificate, given_certificate, names_of_this_machine
    from pos_sim.web.classroom import Classroom
    from pos_sim.web.phone import Phone
    from pos_sim.web.server import build_app

    token = secrets.token_urlsafe(16) if args.token == "new" else args.token
    if args.host not in LOOPBACK and not token:
        raise UsageError(_("--host {host} serves beyond this machine: give --token TOKEN (or --token new) to guard it").format(
            host=args.host))
    if not 0 <= args.port <= 65535:
        raise UsageError(_("--port {port}: a port from 0 to 65535").format(port=args.port))
    if (args.cert is None) != (args.key is None):
        raise UsageError(_("--cert and --key go together: the certificate and its private key"))
    given = with_certificate(lambda: given_certificate(args.cert.expanduser(), args.key.expanduser())) if args.cert else None
    data_dir: Path = args.data_dir.expanduser()
    with ExitStack() as stack:
        listening = stack.enter_context(listen(args.host, args.port))
        stack.enter_context(class_lock(data_dir))
        tls = given or (with_certificate(lambda: class_certificate(data_dir / "tls", names_of_this_machine(args.host)))
                        if args.tls else None)
        backend = stack.enter_context(backend_process(data_dir / "backend"))
        url = backend.url()
        simulator = stack.enter_context(Simulator(url))
        catalogue = read_catalogue_file(DEFAULT_CATALOGUE)
        phone = Phone(simulator, open_demo_customers(simulator, catalogue.currency.code), catalogue.locale)
        app = build_app(Classroom(data_dir, url, backend.data_dir), phone, token)
        served = page_url(args.host, listening.getsockname()[1], secure=tls is not None)
        query = f"?token={token}" if token else ""
        print(f"pos-sim serve on {served} (the class in {data_dir}; its simulator on {url})\n"
              f"  terminals  {served}/{query}\n  trainer    {served}/trainer{query}\n  phones     {served}/phone{query}"
              + (f"\n  certificate SHA-256 {tls.fingerprint}" if tls else ""), flush=True)
        stop_as_ctrl_c()  # the simulator and the sessions' terminals stopped, not left running
        https = {"ssl_certfile": str(tls.cert_file), "ssl_keyfile": str(tls.key_file)} if tls else {}
        config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", timeout_graceful_shutdown=STOP_WAIT_S, **https)
        logging.getLogger("uvicorn.error").addFilter(_DroppedAtStop())  # after Config, which sets uvicorn's loggers up
        uvicorn.Server(config).run(sockets=[listening])
    return EXIT_OK


def page_url(host: str, port: int, *, secure: bool = False) -> str:
    """The address a browser uses: when serving on every address, this machine's address on the network
    (what a phone in the room can reach; its name where it has none)."""
    from pos_sim.web.certificate import network_address

    shown = (network_address() or socket.gethostname()) if host in ("0.0.0.0", "::", "") else host
    scheme = "https" if secure else "http"
    return f"{scheme}://[{shown}]:{port}" if ":" in shown else f"{scheme}://{shown}:{port}"


def with_certificate(read: Callable[[], Certificate]) -> Certificate:
    """The certificate HTTPS is served with (``read``), or a ServiceError saying what is wrong with it."""
    from pos_sim.web.certificate import CertificateError

    try:
        return read()
    except CertificateError as exc:
        raise ServiceError(str(exc)) from None


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (taken before anything starts, so a busy port stops nothing)."""
    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServiceError(_("port {port} on {host} is taken (another pos-sim serve?): stop it, or give --port (0 takes a "
                                 "free one)").format(port=port, host=host)) from None
        raise ServiceError(_("cannot listen on {host}:{port}: {why}").format(host=host, port=port, why=exc.strerror or exc)) from None


def class_lock(data_dir: Path) -> IO[str]:
    """The class's folder, locked for this process: a second serve of the same folder is refused."""
    not_a_file("--data-dir", data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(data_dir / "serve.lock", "a+", encoding="utf-8")
    except OSError as exc:
        raise ServiceError(f"--data-dir {data_dir}: {exc.strerror or exc}") from None  # the system's own words
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip()
        lock.close()
        raise ServiceError(_("--data-dir {folder} is served by another pos-sim serve (pid {pid}): stop it, or give another "
                             "--data-dir").format(folder=data_dir, pid=holder) if holder else
                           _("--data-dir {folder} is served by another pos-sim serve: stop it, or give another --data-dir").format(
                               folder=data_dir)) from None
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    return lock
