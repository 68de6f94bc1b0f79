"""The ``pos-sim`` command: the composition root (settings -> backend -> terminal -> UI), one module a
command group. Bare ``pos-sim`` opens the terminal UI, as ``pos-sim tui`` does (with its flags:
``pos-sim --training``). Exit codes are in ``cli.errors``; every error is one line, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from pos_sim import __version__
from pos_sim.cli.backend import add_backend_command
from pos_sim.cli.code import add_code_commands
from pos_sim.cli.errors import EXIT_INTERNAL, EXIT_INVALID, ServiceError, UsageError
from pos_sim.cli.gate import add_gate_command
from pos_sim.cli.register import add_register_commands
from pos_sim.cli.scan import add_scan_command
from pos_sim.cli.scenario import add_scenario_commands
from pos_sim.cli.serve import add_serve_command
from pos_sim.cli.settings import add_settings_command, merchant_language
from pos_sim.cli.tui import add_tui_command
from pos_sim import language
from pos_sim.domain.errors import DomainError
from pos_sim.language import _
from pos_sim.scan.frames import SourceError
from pos_sim.scan.scanner import ScannerError
from pos_sim.terminal.errors import TerminalError


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    parser = build_parser()
    args = parser.parse_args(with_command(sys.argv[1:] if argv is None else argv))
    try:
        language.use(merchant_language(args))  # the command's messages, errors and reports in the merchant's language
        return args.run(args)
    except (DomainError, UsageError, ScannerError, SourceError, ServiceError, TerminalError) as exc:
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: a fault, said in one line, never a traceback
        print(_("error: internal fault {kind}: {message} (please report it)").format(kind=type(exc).__name__, message=exc),
              file=sys.stderr)
        return EXIT_INTERNAL


def with_command(argv: list[str]) -> list[str]:
    """``argv`` with ``tui`` before it when it starts with no command: bare ``pos-sim`` and ``pos-sim
    --training`` open the terminal UI; ``--help`` and ``--version`` stay the whole command's."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        return ["tui", *argv]
    return argv


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pos-sim", description="A point-of-sale terminal simulator. "
                                     "Without a command it opens the terminal UI (pos-sim tui).")
    parser.add_argument("--version", action="version", version=f"pos-sim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_tui_command(commands)
    add_register_commands(commands)
    add_settings_command(commands)
    add_code_commands(commands)
    add_scan_command(commands)
    add_backend_command(commands)
    add_scenario_commands(commands)
    add_gate_command(commands)
    add_serve_command(commands)
    return parser
