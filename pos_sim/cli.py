"""The ``pos-sim`` command: the composition root (settings -> backend -> terminal -> UI).

Exit codes: 0 done / valid / approved, 1 some images not read (scan) or a payment, void or refund
declined or cancelled (sale, void, refund) or a report the gateway disagrees with (report) or a
scenario that did not pass (scenario run), 2 invalid input or bad usage, 3 a payment, void or refund
whose outcome could not be made known (it is resolved when the terminal next opens), 70 an internal
fault (reported, never a traceback).

The register commands (``sale``, ``refund``, ``void``, ``reprint``, ``report``) share one group of
options; their settings are read once here into a ``TerminalSettings`` (``terminal_values``), each
layer over the one before: the defaults, a TOML file (``--config FILE``, else ``$POS_SIM_CONFIG``,
else ``config.toml`` in the user's config dir when there is one), the environment (``POS_SIM_<NAME>``:
this is the one module that reads ``os.environ``; ``settings.from_environment`` parses it), the
flags. ``pos-sim settings`` takes the same options and prints the settings it makes, each with
where it came from, without starting or opening anything. Without ``--backend`` the register
commands start an embedded simulator on a loopback port, in ``--backend-data-dir`` (default: the
``pos-sim backend`` data dir), for the one command, and reach it over HTTP like any gateway.

``scenario run`` reads every file first (a malformed one: exit 2, nothing run), then runs them with
``scenarios.runner`` against ``--backend`` or an embedded simulator in a fresh data dir, started by
the same ``reach_gateway`` as the register commands'.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from pos_sim import __version__
from pos_sim.domain import codes
from pos_sim.domain.codes import emv_cpm, emv_mpm, ride, schemes, wallet
from pos_sim.domain.errors import CodeError, DomainError
from pos_sim.domain.money import Money, currency, parse_money
from pos_sim.domain.receipt import Copy, Receipt, Tender
from pos_sim.render import qr
from pos_sim.scan import damage, frames, scanner
from pos_sim.scan.frames import SourceError
from pos_sim.scan.scanner import ScannerError
from pos_sim.terminal.errors import TerminalError

if TYPE_CHECKING:
    from pos_sim.terminal.authorize import MerchantCode
    from pos_sim.tui.app import Connection
    from pos_sim.terminal.register import Register
    from pos_sim.terminal.sales import Reversal

EXIT_OK, EXIT_UNREAD, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 70
EXIT_DECLINED, EXIT_UNRESOLVED = 1, 3
EXIT_FAILED = 1  # scenario run: a scenario did not pass


class UsageError(Exception):
    """Bad command-line input: reported as ``error: ...`` with exit 2."""


class ServiceError(Exception):
    """A service that cannot start (data dir, keys, database, port): reported with exit 2."""


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (DomainError, UsageError, ScannerError, SourceError, ServiceError, TerminalError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: a fault, said in one line, never a traceback
        print(f"error: internal fault {type(exc).__name__}: {exc} (please report it)", file=sys.stderr)
        return EXIT_INTERNAL


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pos-sim", description="A point-of-sale terminal simulator.")
    parser.add_argument("--version", action="version", version=f"pos-sim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    code = commands.add_parser("code", help="build and read payment codes (EMV QR, wallet codes, barcodes)")
    code_commands = code.add_subparsers(dest="code_command", required=True, metavar="ACTION")

    parse = code_commands.add_parser("parse", help="tell what a scanned text is and whether it is valid")
    parse.add_argument("text", metavar="TEXT", help="the text, or - to read it from standard input")
    parse.add_argument("--strict", action="store_true", help="EMVCo v1.0 to the letter, no real-world deviations")
    parse.add_argument("--json", action="store_true", help="print one JSON object")
    parse.set_defaults(run=run_parse)

    make = code_commands.add_parser("make", help="build a payload and print it (optionally as a QR)")
    formats = make.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, (help_text, add_options, _build) in MAKERS.items():
        sub = formats.add_parser(name, help=help_text)
        add_options(sub)
        sub.add_argument("--png", type=Path, metavar="FILE", help="also write the QR code as a PNG image")
        sub.add_argument("--terminal", action="store_true", help="also draw the QR code here with half-blocks")
        sub.set_defaults(run=run_make)
    scan = commands.add_parser(
        "scan",
        help="read codes from images, folders, a camera or a video, or a virtual scan",
        description="Read payment codes and barcodes. Exit 0 when every image was read, 1 when some were not.",
    )
    scan.add_argument("paths", nargs="*", metavar="PATH", help="image files and folders")
    scan.add_argument("--json", action="store_true", help="one JSON object per line per code found")
    scan.add_argument("--decoder", choices=scanner.DECODERS, default="auto", help="auto is the cascade (default)")
    scan.add_argument("--expect", choices=codes.KINDS[:-1], help="only accept codes of this kind")
    live = scan.add_mutually_exclusive_group()
    live.add_argument("--camera", metavar="SOURCE", help="camera index, stream URL or video file: print each new code once")
    live.add_argument("--damage", metavar="PROFILE", choices=damage.PROFILES, help="virtual scan of --text damaged by PROFILE")
    scan.add_argument("--frames", type=int, metavar="N", help="with --camera: stop after N frames")
    scan.add_argument("--text", help="with --damage: the payload to render and read")
    scan.add_argument("--strength", type=float, default=0.5, help="with --damage: 0 (none) to 1 (hardest)")
    scan.add_argument("--symbology", choices=["qr", "ean13", "ean8", "upca", "code128"], help="with --damage: how to draw --text")
    scan.add_argument("--seed", type=int, default=0, help="with --damage: the random seed of the damage")
    scan.add_argument("--save", type=Path, metavar="FILE", help="with --damage: write the damaged image")
    scan.set_defaults(run=run_scan)
    backend = commands.add_parser("backend", help="run the simulated wallet provider (Alipay+/Antom in-store API)")
    backend.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    backend.add_argument("--port", type=int, default=8360, help="default %(default)s; 0 takes a free port")
    backend.add_argument("--data-dir", type=Path, default=default_data_dir(), help="keys and ledger (default: %(default)s)")
    backend.add_argument("--db", metavar="URL", help="a database URL, e.g. postgresql://user@127.0.0.1/db (default: SQLite in the data dir)")
    backend.add_argument("--admin-token", help="the token the /sim admin API asks for off loopback")
    backend.add_argument("--workers", type=int, default=1, metavar="N",
                         help="worker processes (default 1; more than 1 needs --db postgresql://...)")
    backend.set_defaults(run=run_backend)
    add_register_commands(commands)
    add_scenario_commands(commands)
    add_gate_command(commands)
    return parser


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("pos-sim"))


# --- backend ---------------------------------------------------------------------------------


def run_backend(args: argparse.Namespace) -> int:
    from pos_sim.backend import server  # here, not at the top: the other commands start without the web stack

    from pos_sim.backend.store import StoreError

    if args.host not in ("127.0.0.1", "::1", "localhost") and not args.admin_token:
        raise UsageError(f"--host {args.host} serves beyond this machine: give --admin-token to guard the /sim admin API")

    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give 1 or more")
    if args.workers > 1 and not (args.db or "").startswith("postgresql"):
        raise UsageError(f"--workers {args.workers}: SQLite takes one writer at a time; several workers need --db postgresql://...")

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


# --- register: sale, refund, void, reprint, report -------------------------------------------

FLAG_SETTINGS = {
    "backend": "gateway.url",
    "backend_data_dir": "gateway.simulator_data_dir",
    "client_id": "gateway.client_id",
    "merchant_key": "gateway.merchant_key",
    "gateway_key": "gateway.gateway_key",
    "journal_dir": "journal_dir",
    "terminal_id": "terminal_id",
    "store_id": "store_id",
    "merchant_name": "merchant_name",
    "merchant_id": "merchant_id",
    "catalogue": "catalogue",
    "currency": "currency",
    "locale": "locale",
    "time_zone": "time_zone",
    "receipt_width": "receipt_width",
    "poll_interval": "polling.interval_s",
    "deadline": "polling.deadline_s",
    "training": "training",
}
"""The flags of the register commands, by argparse dest, and the setting each one sets."""


def add_register_commands(commands: argparse._SubParsersAction) -> None:
    terminal = argparse.ArgumentParser(add_help=False)
    group = terminal.add_argument_group("terminal settings (flags over POS_SIM_<NAME> variables over the config file; "
                                                "see pos-sim settings)")
    group.add_argument("--config", type=Path, metavar="FILE",
                       help=f"a TOML settings file (default: $POS_SIM_CONFIG, else {default_config_file()} if there is one)")
    group.add_argument("--backend", metavar="URL", help="the payment gateway (default: an embedded simulator for this command)")
    group.add_argument("--backend-data-dir", type=Path, metavar="DIR",
                       help="a simulator's data dir on this machine: its demo merchant's keys (default: the backend's own)")
    group.add_argument("--client-id", metavar="ID", help="the merchant's client id at the gateway")
    group.add_argument("--merchant-key", type=Path, metavar="PEM", help="the merchant's private key file")
    group.add_argument("--gateway-key", type=Path, metavar="PEM", help="the gateway's public key file")
    group.add_argument("--journal-dir", type=Path, metavar="DIR", help=f"the journal and sales book (default: {default_journal_dir()})")
    group.add_argument("--terminal-id", metavar="ID", help="default T01; receipt numbers start with it")
    group.add_argument("--store-id", metavar="ID", help="default S001")
    group.add_argument("--merchant-name", metavar="NAME", help="default: the catalogue's name")
    group.add_argument("--merchant-id", metavar="ID", help="default: the client id")
    group.add_argument("--catalogue", type=Path, metavar="FILE", help="default: the demo catalogue, assets/catalogue.json")
    group.add_argument("--currency", metavar="CODE", help="ISO 4217; the catalogue's (default) or an error")
    group.add_argument("--locale", help="default: the catalogue's, e.g. en_SG")
    group.add_argument("--time-zone", metavar="ZONE", help="for receipt times, e.g. Asia/Singapore (default: this machine's)")
    group.add_argument("--receipt-width", type=int, choices=(32, 42, 48), help="receipt columns (default 42)")
    group.add_argument("--poll-interval", type=float, metavar="S", help="seconds between inquiries of an unknown outcome (default 3)")
    group.add_argument("--deadline", type=float, metavar="S", help="seconds to inquire before cancelling (default 60)")
    group.add_argument("--training", action="store_true", default=None,
                       help="a training terminal: its own journal, receipts stamped TRAINING, the simulator only")
    group.add_argument("--json", action="store_true", help="print one JSON object")
    receipts = argparse.ArgumentParser(add_help=False)
    paper = receipts.add_argument_group("receipt")
    paper.add_argument("--copy", choices=("customer", "merchant"), default="customer", help="which copy to print (default customer)")
    paper.add_argument("--receipt-png", type=Path, metavar="FILE", help="also write the receipt as a PNG")
    paper.add_argument("--receipt-escpos", type=Path, metavar="FILE", help="also write the receipt's ESC/POS printer bytes")
    both = [terminal, receipts]
    outcome_codes = "Exit 0 approved, 1 declined or cancelled, 2 bad input, 3 outcome not known yet."

    sale = commands.add_parser("sale", parents=both, help="ring up a sale and take its payment",
                               description=f"Ring up a sale (items or an amount) and take its payment. {outcome_codes}")
    sale.add_argument("--amount", help="a keyed amount in major units, e.g. 12.50")
    sale.add_argument("--item", action="append", default=[], metavar="BARCODE", help="a product barcode of the catalogue (repeat it)")
    tender = sale.add_mutually_exclusive_group(required=True)
    tender.add_argument("--code", metavar="CODE", help="the customer's payment code, or a phone wallet's CPM payload")
    tender.add_argument("--order-code", action="store_true", help="show a dynamic order code and wait for the customer to pay it")
    tender.add_argument("--entry-code", action="store_true", help="the customer scans the store's static entry code")
    tender.add_argument("--scan", type=Path, metavar="IMAGE", help="read the customer's code from an image")
    sale.set_defaults(run=run_sale)

    refund = commands.add_parser("refund", parents=both, help="refund all or part of a sale, by its receipt number",
                                 description=f"Refund a sale, all that is left of it or --amount. {outcome_codes}")
    refund.add_argument("receipt_number", metavar="RECEIPT", help="the sale's receipt number, e.g. T01-000123")
    refund.add_argument("--amount", help="the amount to refund in major units (default: all that is left)")
    refund.add_argument("--reason", help="why, sent to the gateway")
    refund.set_defaults(run=run_refund)

    void = commands.add_parser("void", parents=both, help="cancel a sale of today's open batch",
                               description=f"Cancel a sale of the open batch made today. {outcome_codes}")
    void.add_argument("receipt_number", metavar="RECEIPT", help="the sale's receipt number")
    void.set_defaults(run=run_void)

    reprint = commands.add_parser("reprint", parents=both, help="print a sale's, void's or refund's receipt again")
    reprint.add_argument("receipt_number", metavar="RECEIPT")
    reprint.set_defaults(run=run_reprint)

    report = commands.add_parser("report", parents=[terminal], help="end of day: X (running totals) or Z (closes the batch)",
                                 description="Totals by tender and currency, reconciled with the gateway. Exit 0 when the "
                                             "gateway agrees, 1 when mismatches are listed, 2 bad input.")
    report.add_argument("kind", choices=("x", "z"), type=str.lower, help="x: running totals; z: totals, and the batch closed")
    report.set_defaults(run=run_report)

    tui = commands.add_parser("tui", parents=[terminal], help="the terminal UI, with the customer's wallet beside it",
                              description="The payment terminal in this terminal window. Without --backend it runs an "
                                          "embedded simulator with funded demo wallets; against a simulator elsewhere it "
                                          "opens demo wallets there; against another gateway it is the terminal alone.")
    tui.add_argument("--gate", metavar="STATION", help="after sign-in, be the transit gate of STATION (a metro stop, e.g. M01)")
    tui.set_defaults(run=run_tui)

    shown = commands.add_parser("settings", parents=[terminal], help="show the terminal settings and where each comes from",
                                description="Print the settings the register commands would use with these options, "
                                            "each with where it comes from (default, the config file, a POS_SIM_ variable, "
                                            "a flag); nothing is started or opened. Exit 0, or 2 with what is wrong.")
    shown.set_defaults(run=run_settings)


def default_journal_dir() -> Path:
    return default_data_dir() / "terminal"


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir("pos-sim")) / "config.toml"


def config_file(args: argparse.Namespace) -> tuple[Path | None, str]:
    """The settings file to read, and what named it: ``--config``, else ``$POS_SIM_CONFIG``, else the
    default file if there is one (None, "default" when there is not)."""
    from pos_sim.terminal.settings import CONFIG_VARIABLE

    if args.config is not None:
        return args.config.expanduser(), "--config"
    if os.environ.get(CONFIG_VARIABLE, "").strip():
        return Path(os.environ[CONFIG_VARIABLE].strip()).expanduser(), CONFIG_VARIABLE
    default = default_config_file()
    return (default if default.exists() else None), "default"


def terminal_values(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """The register commands' settings as dotted names, each layer over the one before: the config
    file, the environment, the flags (and the default journal dir); and where each value came from:
    the file, the ``POS_SIM_`` variable, the flag."""
    from pos_sim.terminal.errors import SettingsError
    from pos_sim.terminal.settings import CONFIG_VARIABLE, env_variable, from_environment, read_config

    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    path, named_by = config_file(args)
    if path is not None:
        try:
            values = read_config(path)
        except SettingsError as exc:  # it names the file; and the variable that named it
            if named_by != CONFIG_VARIABLE:
                raise
            raise SettingsError(f"{CONFIG_VARIABLE}: {exc}") from None
        origins = dict.fromkeys(values, str(path))
    environment = from_environment(os.environ)
    values |= environment
    origins |= {name: env_variable(name) for name in environment}
    for dest, name in FLAG_SETTINGS.items():
        if getattr(args, dest) is not None:
            values[name] = getattr(args, dest)
            origins[name] = "--" + dest.replace("_", "-")
    values.setdefault("journal_dir", default_journal_dir())
    return values, origins


@contextmanager
def opened_register(args: argparse.Namespace) -> Iterator[Register]:
    """The register of the command's settings, recovered, with an embedded backend when no --backend is given."""
    from pos_sim.terminal.register import Register  # here, not at the top: the other commands start without requests
    from pos_sim.terminal.settings import TerminalSettings

    values, origins = terminal_values(args)
    with ExitStack() as stack:
        reach_gateway(values, stack, origins)
        settings = TerminalSettings.build(values, origins)
        register = stack.enter_context(Register.open(settings))
        for sale in register.recovered.sales:
            print(f"recovered: sale {sale.receipt_number} {sale.state.value} (left unsettled by an earlier run)", file=sys.stderr)
        for reversal in register.recovered.reversals:
            print(f"recovered: {reversal.kind.lower()} {reversal.receipt_number} {reversal.state.value}", file=sys.stderr)
        yield register


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
        raise UsageError(f"{', '.join(keys)}: the merchant's keys are for a gateway at --backend URL")
    values.setdefault("gateway.simulator_data_dir", default_data_dir())
    return True


SHOWN_WHEN_NONE = {"gateway.url": "(embedded simulator)", "merchant_name": "(the catalogue's name)",
                   "merchant_id": "(the gateway client id)", "currency": "(the catalogue's)", "locale": "(the catalogue's)",
                   "time_zone": "(this machine's)"}
"""How ``pos-sim settings`` shows a setting not given, whose value is found when the terminal opens."""


DEMO_CUSTOMERS = (("Tan Ah Kow", "200.00", None), ("Siti Aminah", "8.00", None), ("Somchai Jaidee", "5000.00", "THB"))
"""The demo wallets the UI opens at a simulator: a well-off customer, one with too little for most
baskets (declines), and a Thai tourist paying in baht (cross-border); None: the catalogue's currency."""


def run_tui(args: argparse.Namespace) -> int:
    """The terminal UI on the settings of the register commands. It is on screen at once; the gateway
    is reached meanwhile (``connect``, in the app's worker): without --backend, an embedded simulator
    started as a child process (its own CPU, so neither slows the other), stopped when the UI quits."""
    from pos_sim.tui.app import PosApp

    app_of: Any = PosApp
    if args.gate is not None:  # the gate's modules only for a gate: the terminal's start stays as quick
        from pos_sim.tui.screens.gate import GateTerminal, metro_stops

        if args.gate not in (stops := metro_stops()):
            raise UsageError(f"--gate {args.gate!r}: not a stop of the metro network ({', '.join(stops)})")
        app_of = partial(GateTerminal, station=args.gate)
    values, origins = terminal_values(args)
    with ExitStack() as stack:
        backend = None
        if embedded_gateway(values, origins):
            backend = stack.enter_context(backend_process(Path(values["gateway.simulator_data_dir"])))
        app_of(partial(connect_terminal, values, origins, backend)).run()
    return EXIT_OK


def connect_terminal(values: dict[str, Any], origins: dict[str, str], backend: BackendProcess | None) -> Connection:
    """The UI's connection: the settings (with the embedded simulator's URL once it is up), and, when
    the gateway is the simulator, its admin API and funded demo wallets."""
    from pos_sim.domain.money import Money
    from pos_sim.scenarios.simulator import Simulator, SimulatorError
    from pos_sim.terminal.errors import SettingsError
    from pos_sim.terminal.settings import TerminalSettings, read_catalogue_file
    from pos_sim.terminal.training import require_simulator
    from pos_sim.tui.app import Connection, Customer

    if backend is not None:
        values = values | {"gateway.url": backend.url()}
    settings = TerminalSettings.build(values, origins)
    gateway = settings.gateway
    try:
        require_simulator(gateway.url, gateway.timeouts, gateway.simulator_token)
    except SettingsError:
        return Connection(settings)  # another gateway: the terminal alone, no wallets or faults to drive
    simulator = Simulator(gateway.url, admin_token=gateway.simulator_token)
    currency = read_catalogue_file(settings.catalogue).currency.code
    try:
        customers = tuple(Customer(name, simulator.open_wallet(Money.of_major(balance, code or currency), name))
                          for name, balance, code in DEMO_CUSTOMERS)
    except SimulatorError as exc:
        raise ServiceError(f"the simulator at {gateway.url} did not open the demo wallets: {exc}") from None
    return Connection(settings, simulator, customers)


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
            raise ServiceError(f"the embedded backend in {self.data_dir} did not start"
                               + (f": {said[-1]}" if said else f" within {self.START_S:g} s"))
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


def run_settings(args: argparse.Namespace) -> int:
    """Print the settings the register commands would use, checked, each with where it came from."""
    from pos_sim.terminal.settings import KEYS, LINE_SEPARATOR, TerminalSettings

    values, origins = terminal_values(args)
    embedded = embedded_gateway(values, origins)
    # checked as the terminal will check them; an embedded simulator's URL is only known once it runs: any loopback one
    settings = TerminalSettings.build(values | ({"gateway.url": "http://127.0.0.1"} if embedded else {}), origins)
    shown = settings.flat() | ({"gateway.url": None} if embedded else {})
    if shown["gateway.simulator_token"] is not None:
        shown["gateway.simulator_token"] = "(hidden)"
    sources = {name: origins.get(name, "default") for name in KEYS}
    path, named_by = config_file(args)
    if args.json:
        said = {name: {"value": str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple) else value,
                       "source": sources[name]} for name, value in shown.items()}
        print(json.dumps({"configFile": None if path is None else str(path), "settings": said}, ensure_ascii=False))
        return EXIT_OK

    def text(name: str, value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, tuple):
            return LINE_SEPARATOR.join(value) or "(none)"
        return SHOWN_WHEN_NONE.get(name, "(none)") if value is None else str(value)

    print(f"# config file: {path} ({named_by})" if path is not None else f"# config file: none ({default_config_file()} is not there)")
    texts = {name: text(name, value) for name, value in shown.items()}
    name_width, value_width = max(map(len, texts)), min(40, max(map(len, texts.values())))
    for name, value in texts.items():
        print(f"{name:<{name_width}} = {value:<{value_width}}  ({sources[name]})")
    return EXIT_OK


@contextmanager
def embedded_backend(data_dir: Path) -> Iterator[str]:
    """A simulator of ``data_dir`` on a free loopback port for the length of the command; its URL."""
    from pos_sim.backend import server
    from pos_sim.backend.store import StoreError

    try:
        running = server.start(server.open_gateway(data_dir))
    except (server.BackendError, StoreError) as exc:
        raise ServiceError(f"the embedded backend did not start: {exc}") from None
    try:
        yield running.url
    finally:
        running.stop()


def keyed_money(text: str, register: Register, flag: str = "--amount") -> Money:
    try:
        return parse_money(text, register.catalogue.currency, register.settings.locale or register.catalogue.locale)
    except DomainError as exc:
        raise UsageError(f"{flag} {text!r}: {exc}") from None


def scanned_code(path: Path) -> str:
    """The one customer code an image holds (a wallet code or a phone's CPM payload)."""
    if not path.is_file():
        raise UsageError(f"--scan {path}: no such image file")
    texts = list(dict.fromkeys(read.text for result in scanner.read_images([path], scanner.decoder_named("auto"))
                               for read in result.reads))
    if not texts:
        raise UsageError(f"--scan {path}: no code read in the image")
    payable = [text for text in texts if codes.classify(text).kind in ("wallet-paycode", "emv-cpm")] or texts
    if len(payable) > 1:
        raise UsageError(f"--scan {path}: {len(payable)} different codes in the image; show one")
    return payable[0]


def show_merchant_code(code: MerchantCode) -> None:
    """Tell the cashier (on stderr) what the customer is to scan: the order code, with its QR on a terminal."""
    left = (code.expires_at - datetime.now(timezone.utc)).total_seconds() if code.expires_at else None
    until = f" (the code expires in {max(0, round(left))} s)" if left is not None else ""
    if code.value is None:
        print(f"Entry code: ask the customer to scan the entry code of store {code.store_id}; waiting{until}",
              file=sys.stderr, flush=True)
        return
    print(f"Order code: {code.value}", file=sys.stderr, flush=True)
    if sys.stdout.isatty():
        print(qr.ansi_dark_on_light(qr.half_blocks(qr.matrix(code.value))), file=sys.stderr)
    print(f"waiting for the customer's wallet{until}", file=sys.stderr, flush=True)


def run_sale(args: argparse.Namespace) -> int:
    if args.amount is None and not args.item:
        raise UsageError("give --amount AMOUNT or --item BARCODE (one or more), the sale to charge")
    code = scanned_code(args.scan) if args.scan else args.code
    tender = Tender.ORDER_CODE if args.order_code else Tender.ENTRY_CODE if args.entry_code else Tender.CUSTOMER_CODE
    with opened_register(args) as register:
        for barcode in args.item:
            try:
                register.scan_item(barcode)
            except DomainError as exc:
                raise UsageError(f"--item {barcode}: {exc}") from None
        if args.amount is not None:
            register.key_amount(keyed_money(args.amount, register))
        sale = register.pay(tender, code, on_code=show_merchant_code)
        receipt = register.receipt(sale, copy_of(args)) if sale.resolved else None
        said = {"status": sale.state.value, "resolved": sale.resolved, "resultCode": sale.result_code,
                "resultMessage": sale.result_message, "paymentId": sale.payment_id, "paymentRequestId": sale.payment_request_id,
                "receiptNumber": sale.receipt_number, "tender": sale.tender, "amount": amount_json(sale.amount)}
        print_outcome(args, said, receipt, register)
    return EXIT_OK if sale.approved else EXIT_DECLINED if sale.resolved else EXIT_UNRESOLVED


def run_refund(args: argparse.Namespace) -> int:
    with opened_register(args) as register:
        amount = None if args.amount is None else keyed_money(args.amount, register)
        return print_reversal(args, register, register.refund(args.receipt_number, amount, args.reason))


def run_void(args: argparse.Namespace) -> int:
    with opened_register(args) as register:
        return print_reversal(args, register, register.void(args.receipt_number))


def run_reprint(args: argparse.Namespace) -> int:
    with opened_register(args) as register:
        receipt = register.reprint(args.receipt_number, copy_of(args))
        said = {"status": receipt.outcome.value, "receiptNumber": receipt.receipt_number, "kind": receipt.kind.value,
                "paymentId": receipt.payment_id, "amount": amount_json(receipt.total)}
        print_outcome(args, said, receipt, register)
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from pos_sim.terminal import reports

    with opened_register(args) as register:
        report = register.z_report() if args.kind == "z" else register.x_report()
        if args.json:
            print(json.dumps(report.json(), ensure_ascii=False))
        else:
            print("\n".join(reports.layout(report, register.settings.receipt_width)))
    return EXIT_DECLINED if report.mismatches else EXIT_OK


def print_reversal(args: argparse.Namespace, register: Register, reversal: Reversal) -> int:
    from pos_sim.terminal.sales import ReversalState

    receipt = None if reversal.state is ReversalState.PENDING else register.receipt(reversal, copy_of(args))
    said = {"status": reversal.state.value, "kind": reversal.kind.value, "resolved": reversal.state is not ReversalState.PENDING,
            "resultCode": reversal.result_code, "resultMessage": reversal.result_message, "receiptNumber": reversal.receipt_number,
            "originalReceipt": reversal.sale_receipt, "refundId": reversal.refund_id, "amount": amount_json(reversal.amount)}
    print_outcome(args, said, receipt, register)
    return {ReversalState.DONE: EXIT_OK, ReversalState.REFUSED: EXIT_DECLINED}.get(reversal.state, EXIT_UNRESOLVED)


def copy_of(args: argparse.Namespace) -> Copy:
    return Copy.MERCHANT if args.copy == "merchant" else Copy.CUSTOMER


def amount_json(money: Money) -> dict[str, str]:
    return {"currency": money.currency.code, "value": str(money.minor)}


def print_outcome(args: argparse.Namespace, said: dict[str, Any], receipt: Receipt | None, register: Register) -> None:
    """The outcome (one JSON object with --json, else a line and the receipt), and the receipt files asked for."""
    from pos_sim.domain.receipt import layout
    from pos_sim.render.receipt import receipt_escpos, receipt_png

    width = register.settings.receipt_width
    text = "\n".join(layout(receipt, width)) if receipt is not None else None
    if receipt is not None:
        try:
            if args.receipt_png:
                receipt_png(receipt, width, args.receipt_png)
            if args.receipt_escpos:
                args.receipt_escpos.write_bytes(receipt_escpos(receipt, width))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot write the receipt: {getattr(exc, 'strerror', None) or exc}") from None
    if args.json:
        print(json.dumps(said | {"receipt": text}, ensure_ascii=False))
        return
    money = said["amount"]
    amount = Money.of_minor(int(money["value"]), money["currency"])
    head = [said["status"], said.get("resultCode"), f"{amount.major_str()} {amount.currency.code}",
            f"receipt {said['receiptNumber']}", said.get("paymentId") and f"payment {said['paymentId']}"]
    print("  ".join(filter(None, head)))
    if said.get("resolved") is False:
        print("the outcome is not known yet: it is resolved when the terminal next opens (any register command)")
    if said.get("resultMessage") and said["status"] not in ("APPROVED", "DONE"):
        print(said["resultMessage"])
    if text is not None:
        print()
        print(text)


# --- scenario run ----------------------------------------------------------------------------


def add_scenario_commands(commands: argparse._SubParsersAction) -> None:
    scenario = commands.add_parser("scenario", help="scripted runs (YAML): QA suites, demos, training exercises")
    actions = scenario.add_subparsers(dest="scenario_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run", help="run scenario files against a simulator",
        description="Run scenario files (see pos_sim/scenarios and assets/scenarios/README.md). Exit 0 when every "
                    "scenario passed, 1 when any did not, 2 a malformed file or bad input.")
    run.add_argument("files", nargs="+", type=Path, metavar="FILE", help="scenario files (YAML), or folders of them")
    run.add_argument("--junit", type=Path, metavar="FILE", help="also write the results as JUnit XML")
    run.add_argument("--json", action="store_true", help="print the results as one JSON object")
    run.add_argument("--backend", metavar="URL",
                     help="a running pos-sim simulator (default: an embedded one, in a fresh data dir, for this run)")
    run.add_argument("--backend-data-dir", type=Path, metavar="DIR",
                     help="the simulator's data dir, its demo merchant's keys: an embedded simulator runs on it, or, with "
                          "--backend, the running one's (default: the pos-sim backend's own)")
    run.set_defaults(run=run_scenarios)


SCENARIO_MARKS = {"passed": "pass", "failed": "FAIL", "error": "ERROR"}


def scenario_files(paths: list[Path]) -> list[Path]:
    """The files named, and the *.yaml / *.yml files under the folders named, in order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if not inside:
                raise UsageError(f"{path}: no scenario files (*.yaml) in this folder")
            found += inside
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def run_scenarios(args: argparse.Namespace) -> int:
    import tempfile

    from pos_sim.scenarios import ScenarioError, parse_file
    from pos_sim.scenarios.results import PASSED, json_report, junit_xml
    from pos_sim.scenarios.runner import Runner
    from pos_sim.terminal.settings import GatewaySettings

    files, malformed = [], 0
    for path in scenario_files(args.files):
        try:
            files.append(parse_file(path))
        except ScenarioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            malformed += 1
    if malformed:
        return EXIT_INVALID
    if args.junit is not None and not args.junit.parent.is_dir():
        raise UsageError(f"--junit {args.junit}: no folder {args.junit.parent} to write it in")
    values: dict[str, Any] = {name: value for name, value in (("gateway.url", args.backend),
                              ("gateway.simulator_data_dir", args.backend_data_dir)) if value is not None}
    with ExitStack() as stack:
        if not values:  # a fresh simulator for the run: scenarios start from nothing, and leave nothing behind
            values["gateway.simulator_data_dir"] = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pos-sim-scenarios-")))
        reach_gateway(values, stack)
        data_dir = Path(values.setdefault("gateway.simulator_data_dir", default_data_dir()))
        GatewaySettings(values["gateway.url"], simulator_data_dir=data_dir).credentials()  # the keys are there, before anything runs
        runner = stack.enter_context(Runner(values["gateway.url"], data_dir))
        shown: list[Path] = []

        def show(file, result) -> None:
            if args.json:
                return
            if not shown or shown[-1] != file.path:
                shown.append(file.path)
                print(file.path, flush=True)
            score = f"  score {result.score}/{result.scenario.max_score}" if result.scenario.scored else ""
            print(f"  {SCENARIO_MARKS[result.status]:<5} {result.scenario.name}  "
                  f"{result.duration_s:.1f} s{score}", flush=True)
            step = result.first_problem
            if result.setup_error is not None:
                print(f"        setting up: {result.setup_error}", flush=True)
            elif step is not None:
                print(f"        {step.title()}:", flush=True)
                for line in step.problems():
                    print(f"          {line}", flush=True)
                for line in step.happened:
                    print(f"          ({line})", flush=True)

        results = runner.run_files(files, on_result=show)
    scenarios = [s for f in results for s in f.scenarios]
    passed = sum(1 for s in scenarios if s.status == PASSED)
    if args.junit is not None:
        try:
            args.junit.write_bytes(junit_xml(results))
        except OSError as exc:
            raise UsageError(f"--junit {args.junit}: cannot write it ({exc.strerror or exc})") from None
    if args.json:
        print(json.dumps(json_report(results), ensure_ascii=False, indent=2))
    else:
        took = sum(s.duration_s for s in scenarios)
        print(f"{len(scenarios)} scenarios in {len(results)} files: {passed} passed, {len(scenarios) - passed} not  ({took:.1f} s)")
    return EXIT_OK if passed == len(scenarios) else EXIT_FAILED


# --- transit gate ----------------------------------------------------------------------------

GATE_BACKEND = ("backend", "backend_data_dir", "client_id", "merchant_key", "gateway_key")
GATE_SETTINGS = (*GATE_BACKEND, "time_zone")
"""The register commands' settings a gate takes (the backend and the operator's keys, the network's time zone)."""


def add_gate_command(commands: argparse._SubParsersAction) -> None:
    gate = commands.add_parser(
        "gate", help="a transit gate: check ride codes offline, open or deny, upload the taps",
        description="Decide open or deny for each ride code, offline, with the station's cached key ring, and print each "
                    "decision. Before and after, sync with --backend or an embedded simulator (upload the taps, refresh "
                    "the key ring); an unreachable backend is said on stderr and the gate goes on offline. "
                    "Exit 0 all open, 1 some denied (or images without a code), 2 bad usage or input.")
    gate.add_argument("--station", required=True, metavar="ID", help="the station: a stop id of the network, e.g. M01")
    gate.add_argument("--direction", required=True, choices=("in", "out"), help="entry or exit gate")
    gate.add_argument("--gate", default="G1", metavar="G", help="this gate's id at the station (default G1)")
    gate.add_argument("--station-dir", type=Path, metavar="DIR",
                      help="the station folder its gates share (default: <backend data dir>/stations/ID)")
    gate.add_argument("--network", type=Path, metavar="DIR", help="the fare network folder (default: assets/transit/metro)")
    source = gate.add_mutually_exclusive_group(required=True)
    source.add_argument("--scan", nargs="+", type=Path, metavar="PATH", help="image files and folders: each code found is a tap")
    source.add_argument("--camera", metavar="N", help="camera index or video file: each new code once")
    source.add_argument("--text", metavar="CODE", help="one ride code's text")
    gate.add_argument("--frames", type=int, metavar="N", help="with --camera: stop after N frames")
    gate.add_argument("--config", type=Path, metavar="FILE", help="a TOML settings file, as the register commands read")
    gate.add_argument("--backend", metavar="URL", help="the backend (default: an embedded simulator for this command)")
    gate.add_argument("--backend-data-dir", type=Path, metavar="DIR", help="a simulator's data dir: the operator's keys")
    gate.add_argument("--client-id", metavar="ID", help="the operator's client id at --backend")
    gate.add_argument("--merchant-key", type=Path, metavar="PEM", help="the operator's private key file")
    gate.add_argument("--gateway-key", type=Path, metavar="PEM", help="the gateway's public key file")
    gate.add_argument("--time-zone", metavar="ZONE", help="the network's time, for fares (default: this machine's)")
    gate.add_argument("--offline", action="store_true", help="no backend: decide with the cached key ring; taps wait")
    gate.add_argument("--json", action="store_true", help="one JSON object per decision")
    gate.set_defaults(run=run_gate, **{dest: None for dest in FLAG_SETTINGS if dest not in GATE_SETTINGS})


def run_gate(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from pos_sim.terminal.gate import DEFAULT_NETWORK, Gate, TransitClient, scanned_texts
    from pos_sim.terminal.settings import GatewaySettings

    if args.offline and any(getattr(args, dest) is not None for dest in GATE_BACKEND):
        raise UsageError("--offline: no backend, so no --backend, --backend-data-dir or keys")
    if args.frames is not None and args.camera is None:
        raise UsageError("--frames is for --camera")
    if args.scan and (missing := [path for path in args.scan if not path.exists()]):
        raise UsageError(f"--scan {missing[0]}: no such file or folder")
    values, origins = terminal_values(args)
    try:
        zone = ZoneInfo(values["time_zone"]) if values.get("time_zone") else None
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--time-zone {values['time_zone']!r}: not an IANA time zone (like Asia/Singapore)") from None
    with ExitStack() as stack:
        client = None
        if not args.offline:
            reach_gateway(values, stack, origins)
            gateway = GatewaySettings(*(values.get(f"gateway.{name}") for name in
                                        ("url", "client_id", "merchant_key", "gateway_key", "simulator_data_dir")))
            client = TransitClient(gateway.credentials())
        station_dir = args.station_dir or Path(values.get("gateway.simulator_data_dir") or default_data_dir()) / "stations" / args.station
        gate = stack.enter_context(Gate.open(station_dir, args.station, args.gate, args.direction, client=client, zone=zone,
                                             network=args.network or DEFAULT_NETWORK))
        gate_synced(gate, "start")
        if gate.keyring is None:
            why = "the gate is --offline" if args.offline else "the backend gave none"
            raise UsageError(f"no issuer key ring for station {args.station}: {gate.station.keyring_path} is not there and "
                             f"{why}; run the gate once with its backend reachable")
        denied = unread = taps = 0
        try:
            for origin, text, error in scanned_texts(args.text, args.camera, args.scan, args.frames):
                if error is not None:
                    print(f"{origin}: {error}", file=sys.stderr)
                    unread += 1
                    continue
                decision = gate.decide(text)
                taps += 1
                denied += not decision.opened
                if args.json:
                    print(json.dumps(decision.to_json() | {"origin": origin}, ensure_ascii=False), flush=True)
                else:
                    fare = f" | {decision.fare_text}" if decision.fare_text else ""
                    print(f"{decision.decision.upper():<4} {args.station}/{args.gate} {args.direction}: {decision.message}"
                          f"{fare}  ({decision.reason}, {decision.ms:.1f} ms)", flush=True)
        finally:
            gate_synced(gate, "end")
    if args.scan and taps == 0:
        raise UsageError(f"--scan: no code read in {', '.join(map(str, args.scan))}")
    return EXIT_OK if denied == 0 and unread == 0 else EXIT_DECLINED


def gate_synced(gate, when: str) -> None:
    """Sync the gate, and say on stderr what came of it."""
    report = gate.sync()
    if gate.client is not None and (not report.ok or report.uploaded or report.keyring_updated or when == "end"):
        print(f"gate: {report.summary(gate.client.credentials.url, when)}", file=sys.stderr, flush=True)


# --- scan ------------------------------------------------------------------------------------


def run_scan(args: argparse.Namespace) -> int:
    modes = [bool(args.paths), args.camera is not None, args.damage is not None]
    if sum(modes) != 1:
        raise UsageError("give image PATHs, or --camera SOURCE, or --damage PROFILE --text TEXT (one of them)")
    if args.damage is not None and not args.text:
        raise UsageError("--damage needs --text, the payload to render")
    decoder = scanner.decoder_named(args.decoder, args.expect)
    if args.camera is not None:
        if Path(args.camera).is_file():
            source = frames.video(args.camera)
        else:
            source = frames.camera(int(args.camera) if args.camera.isdigit() else args.camera, max_frames=args.frames)
        for origin, read in scanner.read_live(source, decoder):
            print_read(args, origin, read)
        return EXIT_OK
    if args.damage is not None:
        image, reads = scanner.virtual_scan(
            args.text, decoder, profile=args.damage, strength=args.strength, symbology=args.symbology, seed=args.seed
        )
        if args.save:
            save_image(image, args.save)
        results = [scanner.ImageResult(f"virtual:{args.damage}@{args.strength}", reads, None if reads else "no code read")]
    else:
        missing = [p for p in args.paths if not Path(p).exists()]
        if missing:
            raise UsageError(f"{missing[0]}: no such file or folder")
        results = scanner.read_images(args.paths, decoder)
    unread = 0
    for result in results:
        for read in result.reads:
            print_read(args, result.origin, read)
        if result.error:
            unread += 1
            if args.json:
                print(json.dumps({"path": result.origin, "text": None, "error": result.error}), flush=True)
            else:
                print(f"{result.origin}: {result.error}", file=sys.stderr)
    return EXIT_OK if unread == 0 else EXIT_UNREAD


def print_read(args: argparse.Namespace, origin: str, read) -> None:
    kind = codes.classify(read.text).kind
    if args.json:
        line = {
            "path": origin, "symbology": read.symbology, "text": read.text, "kind": kind,
            "decoder": read.decoder, "ms": round(read.ms, 2), "corners": [list(p) for p in read.corners],
        }
        print(json.dumps(line, ensure_ascii=False), flush=True)
    else:
        print(f"{origin}: {read.symbology} {kind} {read.text}  ({read.decoder}, {read.ms:.1f} ms)", flush=True)


def save_image(image, path: Path) -> None:
    import cv2

    if not cv2.imwrite(str(path), image):
        raise UsageError(f"cannot write {path}: unknown image format or unwritable folder")


# --- code parse ------------------------------------------------------------------------------


def read_text(arg: str) -> str:
    if arg != "-":
        return arg
    limit = emv_mpm.MAX_QR_BYTES + 2  # the most any QR code holds, and a line break
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise CodeError(f"input is longer than any QR code holds ({emv_mpm.MAX_QR_BYTES} bytes)", offset=limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodeError("input is not UTF-8 text", offset=exc.start) from None
    return text.rstrip("\r\n")  # scanners and echo end a read with a line break


def run_parse(args: argparse.Namespace) -> int:
    text = read_text(args.text)
    kind = codes.classify(text).kind
    code = fields = objects = error = None
    try:
        code = codes.decode(text)
        kind = code.kind
        fields, objects = describe(code)
        code.validate(args.strict)
    except CodeError as exc:
        error = str(exc)
    if args.json:
        report = {"kind": kind, "valid": error is None, "error": error, "fields": fields, "objects": objects}
        print(json.dumps(report, ensure_ascii=False))
    elif error is None:
        print(f"{kind}: valid{' (strict)' if args.strict else ''}")
        for line in flatten(fields):
            print(f"  {line}")
    if error is not None:
        print(f"error: {kind}: {error}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def describe(code: codes.Code) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    fields = code.fields()
    if isinstance(code, emv_mpm.MerchantPresentedCode):
        fields["schemes"] = schemes.schemes_of(code)
    if isinstance(code, ride.SignedRideCode):  # its age by this machine's clock: a gate refuses a stale one
        age = int((datetime.now(timezone.utc) - code.code.issued_at).total_seconds())
        fields["age_s"] = age
        fields["fresh"] = "no: expired" if age > code.code.valid_s else "no: issued in the future" if age < 0 else "yes"
    return fields, code.as_objects()


def flatten(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        return [line for key, item in value.items() for line in flatten(item, f"{prefix}{key}.")]
    if isinstance(value, list) and not all(isinstance(item, str) for item in value):
        return [line for i, item in enumerate(value) for line in flatten(item, f"{prefix}{i}.")]
    if isinstance(value, list):
        value = ", ".join(value)
    return [] if value in (None, {}, []) else [f"{prefix[:-1]}: {value}"]


# --- code make -------------------------------------------------------------------------------


def run_make(args: argparse.Namespace) -> int:
    _help, _options, build = MAKERS[args.format]
    payload = build(args)
    if args.png:
        try:
            qr.write_png(payload, args.png)
        except OSError as exc:
            raise UsageError(f"cannot write {args.png}: {exc.strerror or exc}") from None
    print(payload)
    if args.terminal:
        lines = qr.half_blocks(qr.matrix(payload))
        print(qr.ansi_dark_on_light(lines) if sys.stdout.isatty() else "\n".join(lines))
    return EXIT_OK


def amount_in(args: argparse.Namespace, code: str) -> Money | None:
    return None if args.amount is None else parse_money(args.amount, code)


def expiry_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def sub_id(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not (key == "guid" or (len(key) == 2 and key.isdigit())):
        raise argparse.ArgumentTypeError(f"{text!r} is not SUBID=VALUE (SUBID two digits or guid)")
    return key, value


def options_mpm(p: argparse.ArgumentParser) -> None:
    p.add_argument("--account-id", default="26", help="merchant account template ID, 26-51 (default 26)")
    p.add_argument("--guid", required=True, help="the network's GUID for the merchant account template")
    p.add_argument("--account", type=sub_id, action="append", default=[], metavar="SUBID=VALUE")
    p.add_argument("--mcc", default="0000", help="merchant category code (ISO 18245)")
    p.add_argument("--currency", default="SGD", help="ISO 4217 code (default SGD)")
    p.add_argument("--amount", help="amount in major units, e.g. 12.50; makes the code dynamic")
    p.add_argument("--static", action="store_true", help="point of initiation 11 even with an amount")
    p.add_argument("--country", required=True, help="ISO 3166-1 alpha-2")
    p.add_argument("--name", required=True, help="merchant name (25 characters)")
    p.add_argument("--city", required=True, help="merchant city (15 characters)")
    p.add_argument("--postal-code")
    p.add_argument("--bill", help="additional data 01: bill number")
    p.add_argument("--reference", help="additional data 05: reference label")
    p.add_argument("--terminal-label", help="additional data 07: terminal label")
    p.add_argument("--language", help="ISO 639 language of the alternate name, e.g. ZH")
    p.add_argument("--alt-name", help="merchant name in that language")
    p.add_argument("--alt-city", help="merchant city in that language")


def build_mpm(args: argparse.Namespace) -> str:
    if not ("26" <= args.account_id <= "51" and len(args.account_id) == 2):
        raise UsageError(f"--account-id {args.account_id!r} is not a template ID 26-51")
    amount = amount_in(args, args.currency)
    extra = {"01": args.bill, "05": args.reference, "07": args.terminal_label}
    language = {"00": args.language, "01": args.alt_name, "02": args.alt_city}
    if bool(args.language) != bool(args.alt_name):
        raise UsageError("--language and --alt-name go together")
    return emv_mpm.build(
        {
            "point_of_initiation": "11" if args.static or amount is None else "12",
            "merchant_accounts": {args.account_id: {"guid": args.guid, **dict(args.account)}},
            "mcc": args.mcc,
            "currency": currency(args.currency).numeric,
            "amount": None if amount is None else amount.major_str(),
            "country": args.country,
            "merchant_name": args.name,
            "merchant_city": args.city,
            "postal_code": args.postal_code,
            "additional_data": {k: v for k, v in extra.items() if v} or None,
            "language_template": {k: v for k, v in language.items() if v} or None,
        }
    )


def options_promptpay(p: argparse.ArgumentParser) -> None:
    proxy = p.add_mutually_exclusive_group(required=True)
    proxy.add_argument("--phone", help="Thai mobile number, e.g. 081-234-5678")
    proxy.add_argument("--national-id", help="13-digit national or tax id")
    proxy.add_argument("--ewallet", help="15-digit e-wallet id")
    p.add_argument("--amount", help="THB, e.g. 150 or 20.15")


def build_promptpay(args: argparse.Namespace) -> str:
    return schemes.promptpay(
        phone=args.phone, national_id=args.national_id, ewallet=args.ewallet, amount=amount_in(args, "THB")
    )


def options_promptpay_bill(p: argparse.ArgumentParser) -> None:
    p.add_argument("--biller-id", required=True, help="13 or 15-digit biller id")
    p.add_argument("--ref1", required=True)
    p.add_argument("--ref2")
    p.add_argument("--amount", help="THB")


def build_promptpay_bill(args: argparse.Namespace) -> str:
    return schemes.promptpay_bill(biller_id=args.biller_id, ref1=args.ref1, ref2=args.ref2, amount=amount_in(args, "THB"))


def options_paynow(p: argparse.ArgumentParser) -> None:
    proxy = p.add_mutually_exclusive_group(required=True)
    proxy.add_argument("--mobile", help="Singapore mobile number, e.g. +6591234567")
    proxy.add_argument("--uen", help="company UEN, e.g. 201403121W")
    p.add_argument("--amount", help="SGD, e.g. 12.50")
    p.add_argument("--fixed-amount", action="store_true", help="the payer may not change the amount")
    p.add_argument("--expiry", type=expiry_date, help="last day the code may be paid, YYYY-MM-DD")
    p.add_argument("--name", default="NA", help="merchant name")
    p.add_argument("--city", default="Singapore")
    p.add_argument("--reference", help="bill reference the payer's app sends back")


def build_paynow(args: argparse.Namespace) -> str:
    return schemes.paynow(
        mobile=args.mobile,
        uen=args.uen,
        amount=amount_in(args, "SGD"),
        editable=not args.fixed_amount,
        expiry=args.expiry,
        merchant_name=args.name,
        merchant_city=args.city,
        reference=args.reference,
    )


def options_fps(p: argparse.ArgumentParser) -> None:
    proxy = p.add_mutually_exclusive_group(required=True)
    proxy.add_argument("--fps-id", help="FPS identifier")
    proxy.add_argument("--mobile", help="e.g. +852-67891234")
    proxy.add_argument("--email")
    p.add_argument("--amount", help="amount in --currency")
    p.add_argument("--currency", default="HKD", choices=["HKD", "CNY"])
    p.add_argument("--name", default="NA")
    p.add_argument("--city", default="HK")
    p.add_argument("--reference")


def build_fps(args: argparse.Namespace) -> str:
    return schemes.fps(
        fps_id=args.fps_id,
        mobile=args.mobile,
        email=args.email,
        amount=amount_in(args, args.currency),
        merchant_name=args.name,
        merchant_city=args.city,
        reference=args.reference,
    )


def options_duitnow(p: argparse.ArgumentParser) -> None:
    p.add_argument("--acquirer", required=True, help="acquirer id (digits)")
    p.add_argument("--account", required=True, help="merchant account id")
    p.add_argument("--name", required=True)
    p.add_argument("--city", required=True)
    p.add_argument("--mcc", default="0000")
    p.add_argument("--amount", help="MYR")
    p.add_argument("--reference")


def build_duitnow(args: argparse.Namespace) -> str:
    return schemes.duitnow(
        acquirer_id=args.acquirer,
        account=args.account,
        merchant_name=args.name,
        merchant_city=args.city,
        amount=amount_in(args, "MYR"),
        mcc=args.mcc,
        reference=args.reference,
    )


def options_qris(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nmid", required=True, help="national merchant id, e.g. ID1026478871761")
    p.add_argument("--name", required=True)
    p.add_argument("--city", required=True)
    p.add_argument("--mcc", required=True)
    p.add_argument("--criteria", default="UMI", choices=["UMI", "UKE", "UME", "UBE", "URE"])
    p.add_argument("--postal-code")
    p.add_argument("--terminal-label")
    p.add_argument("--amount", help="IDR")


def build_qris(args: argparse.Namespace) -> str:
    return schemes.qris(
        nmid=args.nmid,
        merchant_name=args.name,
        merchant_city=args.city,
        mcc=args.mcc,
        amount=amount_in(args, "IDR"),
        criteria=args.criteria,
        postal_code=args.postal_code,
        terminal_label=args.terminal_label,
    )


def options_pix(p: argparse.ArgumentParser) -> None:
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--key", help="Pix key: e-mail, phone, CPF/CNPJ or random key")
    target.add_argument("--url", help="dynamic: the PSP's payload location")
    p.add_argument("--name", required=True)
    p.add_argument("--city", required=True)
    p.add_argument("--amount", help="BRL")
    p.add_argument("--txid", default="***")
    p.add_argument("--description")


def build_pix(args: argparse.Namespace) -> str:
    return schemes.pix(
        key=args.key,
        url=args.url,
        merchant_name=args.name,
        merchant_city=args.city,
        amount=amount_in(args, "BRL"),
        txid=args.txid,
        description=args.description,
    )


def options_cpm(p: argparse.ArgumentParser) -> None:
    p.add_argument("--aid", default="A0000006022020", help="application id, hex (default QRIS CPM)")
    p.add_argument("--label", default="WALLET")
    card = p.add_mutually_exclusive_group(required=True)
    card.add_argument("--pan", help="token PAN, 12-19 digits")
    card.add_argument("--track2", help="track 2 equivalent data, hex with D separator")
    p.add_argument("--cardholder-name")


def build_cpm(args: argparse.Namespace) -> str:
    app = {"aid": args.aid, "label": args.label, "pan": args.pan, "track2": args.track2, "cardholder_name": args.cardholder_name}
    return emv_cpm.build([{k: v for k, v in app.items() if v}])


def options_paycode(p: argparse.ArgumentParser) -> None:
    p.add_argument("--issuer", default="251001", help="6-digit code issuer id (default 251001)")
    p.add_argument("--uin", help="16-digit user number (default: random)")


def build_paycode(args: argparse.Namespace) -> str:
    uin = args.uin or f"{secrets.randbelow(10**16):016d}"
    return wallet.make_alipay_plus_code(args.issuer, uin)


MAKERS = {
    "mpm": ("any EMVCo merchant-presented QR", options_mpm, build_mpm),
    "promptpay": ("PromptPay (TH) credit transfer", options_promptpay, build_promptpay),
    "promptpay-bill": ("PromptPay (TH) bill payment", options_promptpay_bill, build_promptpay_bill),
    "paynow": ("PayNow / SGQR (SG)", options_paynow, build_paynow),
    "fps": ("FPS (HK)", options_fps, build_fps),
    "duitnow": ("DuitNow (MY)", options_duitnow, build_duitnow),
    "qris": ("QRIS (ID)", options_qris, build_qris),
    "pix": ("Pix BR Code (BR)", options_pix, build_pix),
    "cpm": ("EMVCo consumer-presented QR: a phone wallet's tap token", options_cpm, build_cpm),
    "paycode": ("an Alipay+ customer payment code (24 digits)", options_paycode, build_paycode),
}
