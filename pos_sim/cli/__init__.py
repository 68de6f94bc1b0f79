"""The ``pos-sim`` command: the composition root (settings -> backend -> terminal -> UI), one module a
command group. Bare ``pos-sim`` opens the terminal UI, as ``pos-sim tui`` does (with its flags:
``pos-sim --training``). Exit codes are in ``cli.errors``; every error is one line, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pos_sim import __version__
from pos_sim.cli.backend import add_backend_command
from pos_sim.cli.code import add_code_commands
from pos_sim.cli.errors import EXIT_CLOSED_OUTPUT, EXIT_INTERNAL, EXIT_INVALID, ServiceError, UsageError
from pos_sim.cli.gate import add_gate_command
from pos_sim.cli.register import add_register_commands
from pos_sim.cli.scan import add_scan_command
from pos_sim.cli.scenario import add_scenario_commands
from pos_sim.cli.serve import add_serve_command
from pos_sim.cli.settings import add_settings_command, merchant_language
from pos_sim.cli.tui import add_tui_command
from pos_sim import language
from pos_sim.domain.errors import DomainError
from pos_sim.language import N_, _, message_of
from pos_sim.scan.frames import SourceError
from pos_sim.scan.scanner import ScannerError
from pos_sim.terminal.errors import TerminalError


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    argv = with_command(sys.argv[1:] if argv is None else argv)
    in_merchant_language()
    language.use(language_before_parsing(argv))  # argparse's usage errors and --help in it too
    args = build_parser().parse_args(argv)
    try:
        language.use(merchant_language(args))  # the command's messages, errors and reports in the merchant's language
        code = args.run(args)
        sys.stdout.flush()  # a reader gone (| head) is found here, not in the interpreter's exit
        return code
    except BrokenPipeError:  # stdout's reader is gone: end quietly, as Unix tools do (Python's "Note on SIGPIPE")
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # what is still buffered goes nowhere
        return EXIT_CLOSED_OUTPUT
    except (DomainError, UsageError, ScannerError, SourceError, ServiceError, TerminalError) as exc:
        print(_("error: {message}").format(message=_(message_of(exc))), file=sys.stderr)
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


def language_before_parsing(argv: list[str]) -> str:
    """The merchant's language for argparse's own words (a usage error, ``--help``), read before the command's
    flags are: ``--language`` among them, else ``POS_SIM_LANGUAGE``, else the settings file's; English when
    it is none pos-sim speaks (the command, once parsed, refuses it naming the known ones)."""
    early = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    early.add_argument("--language")
    early.add_argument("--config", type=Path)
    try:
        return merchant_language(early.parse_known_args(argv)[0])
    except (argparse.ArgumentError, UsageError):
        return "en"


class MerchantHelp(argparse.HelpFormatter):
    """``--help`` in the merchant's language: pos-sim's own texts (descriptions, section titles, flags' help,
    marked ``N_()``) translated as the help is written; argparse's words come from ``in_merchant_language``."""

    def add_text(self, text: str | None) -> None:
        super().add_text(_(text) if text and text is not argparse.SUPPRESS else text)

    def start_section(self, heading: str | None) -> None:
        super().start_section(_(heading) if heading else heading)

    def _get_help_string(self, action: argparse.Action) -> str | None:  # argparse's hook for a flag's help text
        return _(action.help) if action.help else action.help


class Parser(argparse.ArgumentParser):
    """pos-sim's parser, and its commands' (argparse makes them of the parser's class): help in the merchant's
    language."""

    def __init__(self, *args, formatter_class: type[argparse.HelpFormatter] = MerchantHelp, **kwargs) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def in_merchant_language() -> None:
    """argparse says its own words ("usage:", "options", its errors) with gettext's default domain, whose
    language is the environment's (LANGUAGE, LANG), not the terminal's setting; its two gettext names are
    pointed at pos-sim's catalogue, whose messages include argparse's (scripts/translations extracts them)."""
    argparse._ = _  # type: ignore[attr-defined]
    argparse.ngettext = language.ngettext  # type: ignore[attr-defined]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="pos-sim", description=N_("A point-of-sale terminal simulator. "
                                                   "Without a command it opens the terminal UI (pos-sim tui)."))
    parser.add_argument("--version", action="version", version=f"pos-sim {__version__}",
                        help=N_("show program's version number and exit"))
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
