"""The terminal's settings as the commands gather them, and ``pos-sim settings``, which prints them.

The register commands (``sale``, ``refund``, ``void``, ``reprint``, ``report``), ``tui`` and ``gate``
share one group of options; their settings are read once here (``terminal_values``), each layer over
the one before: the defaults, a TOML file (``--config FILE``, else ``$POS_SIM_CONFIG``, else
``config.toml`` in the user's config dir when there is one), the environment (``POS_SIM_<NAME>``:
this is the one module that reads ``os.environ``; ``settings.from_environment`` parses it), the
flags. ``pos-sim settings`` takes the same options and prints the settings they make, each with
where it came from, without starting or opening anything.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import platformdirs

from pos_sim.cli.backend import default_data_dir, embedded_gateway
from pos_sim.cli.errors import EXIT_OK, UsageError, not_a_file
from pos_sim.language import LANGUAGES, N_, LanguageError
from pos_sim.language import language as language_named


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
    "language": "language",
    "bilingual_receipts": "customer_language_on_receipt",
    "time_zone": "time_zone",
    "receipt_width": "receipt_width",
    "poll_interval": "polling.interval_s",
    "deadline": "polling.deadline_s",
    "training": "training",
}
"""The flags of the register commands, by argparse dest, and the setting each one sets."""


def terminal_options() -> argparse.ArgumentParser:
    """The terminal settings' flags, a parent parser of every command that opens a terminal."""
    terminal = argparse.ArgumentParser(add_help=False)
    group = terminal.add_argument_group(N_("terminal settings (flags over POS_SIM_<NAME> variables over the config file; "
                                           "see pos-sim settings)"))
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
    group.add_argument("--language", metavar="LANG",
                       help=f"the merchant's language: screens, reports, receipts ({', '.join(LANGUAGES)}; default en)")
    group.add_argument("--bilingual-receipts", action=argparse.BooleanOptionalAction, default=None,
                       help="receipts also in the customer's language when their wallet speaks another (default yes)")
    group.add_argument("--time-zone", metavar="ZONE", help="for receipt times, e.g. Asia/Singapore (default: this machine's)")
    group.add_argument("--receipt-width", type=int, choices=(32, 42, 48), help="receipt columns (default 42)")
    group.add_argument("--poll-interval", type=float, metavar="S", help="seconds between inquiries of an unknown outcome (default 3)")
    group.add_argument("--deadline", type=float, metavar="S", help="seconds to inquire before cancelling (default 60)")
    group.add_argument("--training", action="store_true", default=None,
                       help="a training terminal: its own journal, receipts stamped TRAINING, the simulator only")
    group.add_argument("--json", action="store_true", help="print one JSON object")
    return terminal


def add_settings_command(commands: argparse._SubParsersAction) -> None:
    terminal = terminal_options()
    shown = commands.add_parser("settings", parents=[terminal], help=N_("show the terminal settings and where each comes from"),
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

    if getattr(args, "config", None) is not None:
        return args.config.expanduser(), "--config"
    if os.environ.get(CONFIG_VARIABLE, "").strip():
        return Path(os.environ[CONFIG_VARIABLE].strip()).expanduser(), CONFIG_VARIABLE
    default = default_config_file()
    return (default if default.exists() else None), "default"


def merchant_language(args: argparse.Namespace) -> str:
    """The merchant's language a command speaks (its messages, errors and printed reports; JSON stays
    English): ``--language`` where the command has it, else ``POS_SIM_LANGUAGE``, else the settings
    file's ``language``, else English; an unknown one is a UsageError naming the known ones. A settings
    file that cannot be read is left to the commands that read it to report (one that reads no settings
    is not stopped by it)."""
    from pos_sim.terminal.errors import SettingsError
    from pos_sim.terminal.settings import env_variable, read_config, setting

    text = getattr(args, "language", None) or os.environ.get(env_variable("language"), "").strip()
    path, _named_by = config_file(args)
    if not text and path is not None:
        try:
            text = read_config(path).get("language")
        except SettingsError:
            text = None
    try:
        return language_named(text or "en")
    except LanguageError as exc:
        raise UsageError(f"{setting('language')} {exc}") from None


def terminal_values(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """The register commands' settings as dotted names, each layer over the one before: the config
    file, the environment, the flags (and the default journal dir); and where each value came from:
    the file, the ``POS_SIM_`` variable, the flag. A journal or simulator data dir that is a file is refused naming
    where it came from."""
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
    for name, flag in (("journal_dir", "--journal-dir"), ("gateway.simulator_data_dir", "--backend-data-dir")):
        if name in values:
            not_a_file(origins.get(name, flag), Path(values[name]))
    return values, origins


SHOWN_WHEN_NONE = {"gateway.url": "(embedded simulator)", "merchant_name": "(the catalogue's name)",
                   "merchant_id": "(the gateway client id)", "currency": "(the catalogue's)", "locale": "(the catalogue's)",
                   "time_zone": "(this machine's)"}
"""How ``pos-sim settings`` shows a setting not given, whose value is found when the terminal opens."""


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
