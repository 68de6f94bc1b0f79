"""``pos-sim tui`` (and bare ``pos-sim``): the terminal UI, with the customer's wallet beside it."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pos_sim.cli.backend import BackendProcess, backend_process, embedded_gateway
from pos_sim.cli.errors import EXIT_OK, ServiceError, UsageError
from pos_sim.cli.settings import terminal_options, terminal_values
from pos_sim.language import N_, _, current

if TYPE_CHECKING:
    from pos_sim.scenarios.simulator import Simulator
    from pos_sim.tui.app import Connection, Customer


def add_tui_command(commands: argparse._SubParsersAction) -> None:
    terminal = terminal_options()
    tui = commands.add_parser("tui", parents=[terminal], help=N_("the terminal UI, with the customer's wallet beside it"),
                              description="The payment terminal in this terminal window. Without --backend it runs an "
                                          "embedded simulator with funded demo wallets; against a simulator elsewhere it "
                                          "opens demo wallets there; against another gateway it is the terminal alone.")
    tui.add_argument("--gate", metavar="STATION", help="after sign-in, be the transit gate of STATION (a metro stop, e.g. M01)")
    tui.add_argument("--status-file", type=Path, metavar="FILE",
                     help="tell FILE (JSON) who is signed in, the payment and the training score, as they change "
                          "(pos-sim serve's trainer page reads it)")
    tui.set_defaults(run=run_tui)


DEMO_CUSTOMERS = (("Tan Ah Kow", "200.00", None, "zh_Hans"), ("Siti Aminah", "8.00", None, "ms"),
                  ("Somchai Jaidee", "5000.00", "THB", "th"))
"""The demo wallets the UI opens at a simulator: a well-off customer whose Alipay+ wallet speaks
Chinese, one with too little for most baskets (declines) who reads Malay, and a Thai tourist paying
in baht (cross-border); None: the catalogue's currency. Last, the language each wallet speaks."""


def run_tui(args: argparse.Namespace) -> int:
    """The terminal UI on the settings of the register commands. It is on screen at once; the gateway
    is reached meanwhile (``connect``, in the app's worker): without --backend, an embedded simulator
    started as a child process (its own CPU, so neither slows the other), stopped when the UI quits."""
    from pos_sim.tui.app import PosApp

    app_of: Any = PosApp
    if args.gate is not None:  # the gate's modules only for a gate: the terminal's start stays as quick
        from pos_sim.tui.screens.gate import GateTerminal, metro_stops

        if args.gate not in (stops := metro_stops()):
            raise UsageError(_("--gate {station}: not a stop of the metro network ({stops})").format(
                station=repr(args.gate), stops=", ".join(stops)))
        app_of = partial(GateTerminal, station=args.gate)
    elif args.status_file is not None:
        from pos_sim.web.seat import SeatedTerminal

        app_of = partial(SeatedTerminal, status_file=args.status_file)
    values, origins = terminal_values(args)
    lang = current()  # the merchant's, which the command line set (checked: an unknown one is refused naming the known ones)
    with ExitStack() as stack:
        backend = None
        if embedded_gateway(values, origins):
            backend = stack.enter_context(backend_process(Path(values["gateway.simulator_data_dir"])))
        app_of(partial(connect_terminal, values, origins, backend), lang).run()
    return EXIT_OK


def connect_terminal(values: dict[str, Any], origins: dict[str, str], backend: BackendProcess | None) -> Connection:
    """The UI's connection: the settings (with the embedded simulator's URL once it is up), and, when
    the gateway is the simulator, its admin API and funded demo wallets."""
    from pos_sim.scenarios.simulator import Simulator
    from pos_sim.terminal.errors import SettingsError
    from pos_sim.terminal.settings import TerminalSettings, read_catalogue_file
    from pos_sim.terminal.training import require_simulator
    from pos_sim.tui.app import Connection

    if backend is not None:
        values = values | {"gateway.url": backend.url()}
    settings = TerminalSettings.build(values, origins)
    gateway = settings.gateway
    try:
        require_simulator(gateway.url, gateway.timeouts, gateway.simulator_token)
    except SettingsError:
        return Connection(settings)  # another gateway: the terminal alone, no wallets or faults to drive
    simulator = Simulator(gateway.url, admin_token=gateway.simulator_token)
    return Connection(settings, simulator, open_demo_customers(simulator, read_catalogue_file(settings.catalogue).currency.code))


def open_demo_customers(simulator: Simulator, currency: str) -> tuple[Customer, ...]:
    """The demo customers (``DEMO_CUSTOMERS``), each with a funded wallet opened at ``simulator``."""
    from pos_sim.domain.money import Money
    from pos_sim.scenarios.simulator import SimulatorError
    from pos_sim.tui.app import Customer

    try:
        return tuple(Customer(name, simulator.open_wallet(Money.of_major(balance, code or currency), name), language)
                     for name, balance, code, language in DEMO_CUSTOMERS)
    except SimulatorError as exc:
        raise ServiceError(_("the simulator at {url} did not open the demo wallets: {why}").format(url=simulator.url, why=exc)) from None
