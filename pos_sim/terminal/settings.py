"""The terminal's settings: one typed, frozen value, built once by ``pos_sim.cli`` and handed down.

``TerminalSettings`` says which gateway to reach and with whose keys (``GatewaySettings``), who the
merchant and the terminal are, which catalogue it sells from, how receipts are laid out, where its
journal and sales book live, how unknown outcomes are chased (``Polling``), and whether it is a
training terminal. Every field is checked when the value is made; a ``SettingsError`` names the
setting, the flag that sets it, what is wrong with it, and the file or variable it came from.

Values come from, lowest first: the defaults here, a TOML file (``read_config``, stdlib
``tomllib``), the environment (``from_environment``), the command line; ``pos_sim.cli`` finds the file
(``--config``, else ``$POS_SIM_CONFIG``, else ``config.toml`` in the user's config dir if there is
one), and hands ``os.environ`` to ``from_environment``. ``TerminalSettings.build`` takes them as
one flat mapping of dotted names (``"gateway.url"``, ``"polling.deadline_s"``, ``"terminal_id"``),
which is also the TOML layout::

    terminal_id = "T01"
    store_id = "S001"
    receipt_width = 42
    journal_dir = "journal"                  # relative paths: to the TOML file's folder
    [gateway]
    url = "http://127.0.0.1:8360"
    simulator_data_dir = "~/.local/share/pos-sim"   # or client_id, merchant_key, gateway_key
    [polling]
    deadline_s = 60

In the environment a setting is ``POS_SIM_`` and its dotted name upper-cased, "." made "_"
(``env_variable``: ``POS_SIM_GATEWAY_URL``, ``POS_SIM_POLLING_DEADLINE_S``, ``POS_SIM_TRAINING``);
its text is converted by the setting's kind (``KEYS``): booleans true/false, 1/0, yes/no, on/off;
paths from the working directory, ``~`` expanded; lines (``receipt_footer``) split on "|". A bad
value, or a ``POS_SIM_`` name that looks like a misspelt setting, is a SettingsError naming the
variable; ``POS_SIM_CONFIG`` and the names of ``NOT_SETTINGS`` are not settings.
``TerminalSettings.flat`` gives a built value back as dotted names (what ``pos-sim settings`` shows).

Nothing here reads the environment: ``from_environment`` is handed the mapping. Files are read
only when asked (``read_config``, ``GatewaySettings.credentials``, ``read_catalogue_file``).
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError

from pos_sim.domain.catalogue import Catalogue, CatalogueError, read_catalogue
from pos_sim.assets import CATALOGUE
from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import currency as currency_of
from pos_sim.domain.receipt import WIDTHS
from pos_sim.language import LanguageError
from pos_sim.language import language as language_named
from pos_sim.terminal.authorize import CODE_LIFETIME_S, Polling
from pos_sim.terminal.errors import SettingsError
from pos_sim.terminal.gateway import Credentials, Timeouts, gateway_url

DEFAULT_CATALOGUE = CATALOGUE

_TERMINAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,15}")
_REFERENCE = re.compile(r"[\x21-\x7e]{1,64}")

# Every setting: its dotted name, its kind, and the flag of ``pos-sim sale`` that sets it.
KEYS: dict[str, tuple[str, str | None]] = {
    "gateway.url": ("url", "--backend"),
    "gateway.client_id": ("text", "--client-id"),
    "gateway.merchant_key": ("path", "--merchant-key"),
    "gateway.gateway_key": ("path", "--gateway-key"),
    "gateway.simulator_data_dir": ("path", "--backend-data-dir"),
    "gateway.simulator_token": ("text", None),
    "gateway.connect_timeout_s": ("number", None),
    "gateway.read_timeout_s": ("number", None),
    "terminal_id": ("text", "--terminal-id"),
    "merchant_name": ("text", "--merchant-name"),
    "merchant_id": ("text", "--merchant-id"),
    "store_id": ("text", "--store-id"),
    "catalogue": ("path", "--catalogue"),
    "currency": ("text", "--currency"),
    "locale": ("text", "--locale"),
    "language": ("text", "--language"),
    "customer_language_on_receipt": ("bool", "--bilingual-receipts"),
    "time_zone": ("text", "--time-zone"),
    "receipt_width": ("int", "--receipt-width"),
    "receipt_footer": ("lines", None),
    "journal_dir": ("path", "--journal-dir"),
    "code_lifetime_s": ("int", None),
    "polling.interval_s": ("number", "--poll-interval"),
    "polling.deadline_s": ("number", "--deadline"),
    "polling.cancel_attempts": ("int", None),
    "training": ("bool", "--training"),
}


def setting(name: str) -> str:
    """How a message names a setting: ``receipt_width (--receipt-width)``."""
    flag = KEYS.get(name, ("", None))[1]
    return f"{name} ({flag})" if flag else name


# --- the environment: POS_SIM_<NAME> ---------------------------------------------------------

ENV_PREFIX = "POS_SIM_"
CONFIG_VARIABLE = "POS_SIM_CONFIG"
"""The settings file to read instead of the default one (read by ``pos_sim.cli``, never a setting)."""
NOT_SETTINGS = frozenset({CONFIG_VARIABLE, "POS_SIM_TEST_PG", "POS_SIM_DEMO_PORT"})
"""``POS_SIM_`` names the project uses for other things (the config file, the PostgreSQL of the
tests, the demo script's port): never read as settings, never refused."""
LINE_SEPARATOR = "|"
"""How one environment variable holds several lines (``receipt_footer``): ``"GST Reg. 201912345K|Thank you"``."""
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def env_variable(name: str) -> str:
    """The environment variable of the setting ``name``: ``"polling.deadline_s"`` -> ``POS_SIM_POLLING_DEADLINE_S``."""
    return ENV_PREFIX + name.upper().replace(".", "_")


ENV_VARIABLES = {env_variable(name): name for name in KEYS}
"""Every setting's environment variable, and the dotted name of the setting."""


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings ``environ`` gives (``os.environ``, handed down by ``pos_sim.cli``), as a flat mapping of
    dotted names like ``read_config``'s; each ``POS_SIM_<NAME>`` value converted by its setting's kind.

    A value is stripped of surrounding spaces, and an empty one is not given. Whole numbers and
    numbers as Python writes them; booleans ``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``
    (any case); paths ``~``-expanded, a relative one taken from the working directory like a flag's;
    lines (``receipt_footer``) split on ``|``. A bad value is a SettingsError naming the variable; so
    is a ``POS_SIM_`` name that looks like a misspelt setting (it says which one was meant). Other
    ``POS_SIM_`` names (``NOT_SETTINGS``, or nothing like a setting) are left alone.
    """
    values: dict[str, Any] = {}
    for variable, text in environ.items():
        if not variable.upper().startswith(ENV_PREFIX) or variable in NOT_SETTINGS:
            continue
        name = ENV_VARIABLES.get(variable)
        if name is None:
            meant = _meant(variable)
            if meant:
                raise SettingsError(f"{variable}: not a pos-sim setting; did you mean {' or '.join(meant)}?")
            continue
        if text.strip():
            values[name] = _env_value(variable, KEYS[name][0], text.strip())
    return values


def _env_value(variable: str, kind: str, text: str) -> Any:
    """``text`` as a value of ``kind``, or a SettingsError ``POS_SIM_X='text': must be ...``."""
    try:
        if kind == "int":
            return int(text)
        if kind == "number":
            number = float(text)
            if math.isfinite(number):
                return number
            raise ValueError(text)
    except ValueError:
        said = "a whole number, like 42" if kind == "int" else "a number, like 2.5"
        raise SettingsError(f"{variable}={text!r}: must be {said}") from None
    if kind == "bool":
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise SettingsError(f"{variable}={text!r}: must be true or false (or 1/0, yes/no, on/off)")
    if kind == "path":
        return _expanded(Path(text), variable)
    if kind == "lines":
        lines = [line.strip() for line in text.split(LINE_SEPARATOR)]
        if not all(lines):
            raise SettingsError(f"{variable}={text!r}: an empty line; lines are separated by {LINE_SEPARATOR!r}")
        return lines
    return text  # text, url: checked with the setting


def _meant(variable: str) -> list[str]:
    """The variables a ``POS_SIM_`` name not known was likely meant to be: a near spelling of a
    setting's name, of its flag (``POS_SIM_DEADLINE``) or of its last part (``POS_SIM_CLIENT_ID``)."""
    said = variable.upper().removeprefix(ENV_PREFIX)
    aliases: dict[str, set[str]] = {CONFIG_VARIABLE.removeprefix(ENV_PREFIX): {CONFIG_VARIABLE}}
    for name, (_kind, flag) in KEYS.items():
        for alias in (name, name.rpartition(".")[2], (flag or "").removeprefix("--")):
            if alias:
                aliases.setdefault(alias.upper().replace(".", "_").replace("-", "_"), set()).add(env_variable(name))
    near = difflib.get_close_matches(said, aliases, n=3, cutoff=0.75) or [alias for alias in aliases if alias.endswith("_" + said)]
    return sorted({meant for alias in near for meant in aliases[alias]})


def _line(name: str, value: object, most: int = 64) -> str:
    """``value`` as one line of printable text of at most ``most`` characters."""
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise SettingsError(f"{setting(name)} {value!r}: must be non-empty text without surrounding spaces")
    if len(value) > most or any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value):
        raise SettingsError(f"{setting(name)} {value[:24]!r}: must be one line of at most {most} characters")
    return value


def _path(name: str, value: object) -> Path:
    if isinstance(value, str) and value.strip():
        value = Path(value)
    if not isinstance(value, Path):
        raise SettingsError(f"{setting(name)} {value!r}: must be a file or folder path")
    return _expanded(value, setting(name))


def _expanded(path: Path, what: str) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; SettingsError when there is no such home."""
    try:
        return path.expanduser()
    except RuntimeError:  # "~nobody/x", or "~" with no HOME and no password entry
        raise SettingsError(f"{what} {str(path)!r}: {str(path).split('/')[0]} is no user's home folder here") from None


@dataclass(frozen=True)
class GatewaySettings:
    """The gateway's URL and whose keys sign the calls: the merchant's key files (``client_id``,
    ``merchant_key``, ``gateway_key``), or the demo merchant of a simulator's ``simulator_data_dir``.

    ``simulator_token`` is the admin token of a simulator serving beyond loopback, for the training
    check (``training.require_simulator``); ``timeouts`` bound every call.
    """

    url: str
    client_id: str | None = None
    merchant_key: Path | None = None
    gateway_key: Path | None = None
    simulator_data_dir: Path | None = None
    simulator_token: str | None = field(default=None, repr=False)
    timeouts: Timeouts = Timeouts()

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "url", gateway_url(self.url))
        except SettingsError as exc:
            raise SettingsError(f"{setting('gateway.url')}: {exc}") from None
        keys = {"gateway.client_id": self.client_id, "gateway.merchant_key": self.merchant_key,
                "gateway.gateway_key": self.gateway_key}
        given = [name for name, value in keys.items() if value is not None]
        if self.simulator_data_dir is not None:
            object.__setattr__(self, "simulator_data_dir", _path("gateway.simulator_data_dir", self.simulator_data_dir))
            if given:
                raise SettingsError(f"{', '.join(map(setting, given))}: give the merchant's keys or a simulator data dir "
                                    f"({setting('gateway.simulator_data_dir')}), not both")
        elif len(given) != len(keys):
            missing = [setting(name) for name in keys if name not in given]
            raise SettingsError(f"gateway keys: missing {', '.join(missing)}; give the client id and both key files, "
                                f"or {setting('gateway.simulator_data_dir')} for a simulator on this machine")
        else:
            _line("gateway.client_id", self.client_id)
            for name in ("merchant_key", "gateway_key"):
                object.__setattr__(self, name, _path(f"gateway.{name}", getattr(self, name)))
        if self.simulator_token is not None:
            _line("gateway.simulator_token", self.simulator_token, most=256)
        if not isinstance(self.timeouts, Timeouts):
            raise SettingsError(f"gateway timeouts: must be Timeouts, not {type(self.timeouts).__name__}")

    def credentials(self) -> Credentials:
        """The merchant's credentials, keys read from their files (errors name the file)."""
        if self.simulator_data_dir is not None:
            return Credentials.from_simulator_data_dir(self.url, self.simulator_data_dir)
        return Credentials.from_key_files(self.url, self.client_id, self.merchant_key, self.gateway_key)  # type: ignore[arg-type]


@dataclass(frozen=True)
class TerminalSettings:
    """Everything a register needs to know, checked on construction.

    ``merchant_name`` defaults to the catalogue's name, ``merchant_id`` to the gateway client id,
    ``currency`` and ``locale`` to the catalogue's (a ``currency`` given must be the catalogue's:
    prices are in it), ``language`` (the merchant's: screens, reports, receipt labels; one of
    ``pos_sim.language.LANGUAGES``) to English, ``customer_language_on_receipt`` (a receipt also
    in the customer's language when their wallet speaks another) to yes, ``time_zone`` (an IANA name,
    for receipt times) to this machine's.
    ``journal_dir`` holds ``journal.db`` and ``sales.db`` (``journal-training.db`` and
    ``sales-training.db`` for a training terminal). ``code_lifetime_s`` is how long a customer has
    to scan an order or entry code.
    """

    gateway: GatewaySettings
    journal_dir: Path
    terminal_id: str = "T01"
    merchant_name: str | None = None
    merchant_id: str | None = None
    store_id: str = "S001"
    catalogue: Path = DEFAULT_CATALOGUE
    currency: str | None = None
    locale: str | None = None
    language: str = "en"
    customer_language_on_receipt: bool = True
    time_zone: str | None = None
    receipt_width: int = 42
    receipt_footer: tuple[str, ...] = ()
    polling: Polling = Polling()
    code_lifetime_s: int = CODE_LIFETIME_S
    training: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.gateway, GatewaySettings):
            raise SettingsError(f"gateway: must be GatewaySettings, not {type(self.gateway).__name__}")
        object.__setattr__(self, "journal_dir", _path("journal_dir", self.journal_dir))
        object.__setattr__(self, "catalogue", _path("catalogue", self.catalogue))
        if not isinstance(self.terminal_id, str) or not _TERMINAL_ID.fullmatch(self.terminal_id):
            raise SettingsError(f"{setting('terminal_id')} {self.terminal_id!r}: 1 to 16 letters, digits, '-' or '_', "
                                "starting with a letter or digit, like T01")
        for name in ("merchant_id", "store_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not _REFERENCE.fullmatch(value)):
                raise SettingsError(f"{setting(name)} {value!r}: 1 to 64 printable ASCII characters, no spaces")
        if self.merchant_name is not None:
            _line("merchant_name", self.merchant_name)
        if self.currency is not None:
            try:
                object.__setattr__(self, "currency", currency_of(self.currency).code)
            except AmountError as exc:
                raise SettingsError(f"{setting('currency')}: {exc}") from None
        if self.locale is not None:
            try:
                Locale.parse(self.locale)
            except (ValueError, TypeError, UnknownLocaleError):
                raise SettingsError(f"{setting('locale')} {self.locale!r}: not a known locale (like en_SG, th_TH, ja_JP)") from None
        try:
            object.__setattr__(self, "language", language_named(self.language))
        except LanguageError as exc:
            raise SettingsError(f"{setting('language')} {exc}") from None
        if not isinstance(self.customer_language_on_receipt, bool):
            raise SettingsError(f"{setting('customer_language_on_receipt')} {self.customer_language_on_receipt!r}: "
                                "true or false")
        self.zone()  # checks time_zone
        if isinstance(self.receipt_width, bool) or self.receipt_width not in WIDTHS:
            raise SettingsError(f"{setting('receipt_width')} {self.receipt_width!r}: one of {', '.join(map(str, WIDTHS))} columns")
        if isinstance(self.receipt_footer, str) or not isinstance(self.receipt_footer, tuple | list):
            raise SettingsError(f"receipt_footer {self.receipt_footer!r}: a list of lines")
        object.__setattr__(self, "receipt_footer", tuple(_line(f"receipt_footer[{i}]", line, most=200)
                                                         for i, line in enumerate(self.receipt_footer)))
        if not isinstance(self.polling, Polling):
            raise SettingsError(f"polling: must be Polling, not {type(self.polling).__name__}")
        if isinstance(self.code_lifetime_s, bool) or not isinstance(self.code_lifetime_s, int) \
                or not 10 <= self.code_lifetime_s <= 3600:
            raise SettingsError(f"code_lifetime_s {self.code_lifetime_s!r}: whole seconds from 10 to 3600")
        if not isinstance(self.training, bool):
            raise SettingsError(f"{setting('training')} {self.training!r}: true or false")

    def zone(self) -> tzinfo:
        """The merchant's time zone: ``time_zone``, else this machine's."""
        if self.time_zone is None:
            return datetime.now().astimezone().tzinfo  # type: ignore[return-value]
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise SettingsError(f"{setting('time_zone')} {self.time_zone!r}: not an IANA time zone "
                                "(like Asia/Singapore)") from None

    @property
    def journal_path(self) -> Path:
        return self.journal_dir / ("journal-training.db" if self.training else "journal.db")

    @property
    def sales_path(self) -> Path:
        return self.journal_dir / ("sales-training.db" if self.training else "sales.db")

    def flat(self) -> dict[str, Any]:
        """Every setting by its dotted name, as ``build`` takes them (None: not given, its default applies)."""
        parts = {"gateway": self.gateway, "polling": self.polling}
        timeouts = {"gateway.connect_timeout_s": self.gateway.timeouts.connect_s, "gateway.read_timeout_s": self.gateway.timeouts.read_s}
        return {name: timeouts[name] if name in timeouts else getattr(parts.get(name.partition(".")[0], self), name.rpartition(".")[2])
                for name in KEYS}

    @classmethod
    def build(cls, values: Mapping[str, Any], origins: Mapping[str, str] | None = None) -> TerminalSettings:
        """Settings from a flat mapping of dotted names (``read_config``'s, ``from_environment``'s,
        overridden by flags); a name not known, or a value of the wrong kind, is a SettingsError
        naming it. None is "not given". ``origins`` says where values came from (a file, a variable):
        an error about such a value says it too, ``... (set by POS_SIM_RECEIPT_WIDTH)``."""
        try:
            return cls._build(values)
        except SettingsError as exc:
            set_by = [(name, origin) for name, origin in (origins or {}).items()
                      if name in values and origin != "default" and not origin.startswith("--") and _names(str(exc), name)]
            if not set_by:
                raise
            said = set_by[0][1] if len(set_by) == 1 else "; ".join(f"{name} by {origin}" for name, origin in set_by)
            raise SettingsError(f"{exc} (set by {said})") from None

    @classmethod
    def _build(cls, values: Mapping[str, Any]) -> TerminalSettings:
        given = {name: value for name, value in values.items() if value is not None}
        for name, value in given.items():
            _check_kind(name, value, "")
        if "gateway.url" not in given:
            raise SettingsError(f"{setting('gateway.url')}: missing; give the gateway's URL, like http://127.0.0.1:8360")
        timeouts = {key: given[f"gateway.{key}_timeout_s"] for key in ("connect", "read") if f"gateway.{key}_timeout_s" in given}
        gateway = GatewaySettings(
            given["gateway.url"], given.get("gateway.client_id"), given.get("gateway.merchant_key"), given.get("gateway.gateway_key"),
            given.get("gateway.simulator_data_dir"), given.get("gateway.simulator_token"),
            Timeouts(**{f"{key}_s": value for key, value in timeouts.items()}),
        )
        polling = Polling(**{name.removeprefix("polling."): value for name, value in given.items() if name.startswith("polling.")})
        if "journal_dir" not in given:
            raise SettingsError(f"{setting('journal_dir')}: missing; give the folder of the terminal's journal")
        top = {name: value for name, value in given.items() if "." not in name}
        if "receipt_footer" in top:
            top["receipt_footer"] = tuple(top["receipt_footer"])
        return cls(gateway=gateway, polling=polling, **top)


def _names(message: str, name: str) -> bool:
    """Whether an error ``message`` is about the setting ``name``."""
    if name not in KEYS:
        return False
    short = name.rpartition(".")[2]  # Polling's and Timeouts' own errors: "polling deadline_s=-1", "timeout read_s=0"
    own = f"polling {short}=" if name.startswith("polling.") else f"timeout {short.replace('_timeout', '')}="
    return setting(name) in message or own in message


def _check_kind(name: str, value: Any, where: str) -> None:
    """Refuse a setting ``name`` the terminal does not have, or a ``value`` not of its kind."""
    place = f"{where}: " if where else ""
    if name not in KEYS:
        table = name.rpartition(".")[0]
        known = [key.rpartition(".")[2] for key in KEYS if key.rpartition(".")[0] == table]
        where_known = f" of [{table}]" if table else ""
        raise SettingsError(f"{place}unknown setting {name!r} (known{where_known}: {', '.join(known)})")
    kind = KEYS[name][0]
    good = {
        "url": isinstance(value, str),
        "text": isinstance(value, str),
        "path": isinstance(value, str | Path),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "lines": isinstance(value, list | tuple) and all(isinstance(line, str) for line in value),
    }[kind]
    if not good:
        said = {"url": "a URL text", "text": "text", "path": "a path text", "int": "a whole number", "number": "a number",
                "bool": "true or false", "lines": "a list of texts"}[kind]
        raise SettingsError(f"{place}{setting(name)} = {value!r}: must be {said}")


def read_config(path: Path) -> dict[str, Any]:
    """The settings of a TOML file as a flat mapping of dotted names; relative paths in it are
    taken from the file's folder. Errors name the file and the setting (or line) at fault."""
    path = _expanded(Path(path), "settings file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{path}: no settings file there") from None
    except IsADirectoryError:
        raise SettingsError(f"{path}: a directory, not a settings file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not TOML ({exc})") from None
    flat: dict[str, Any] = {}

    def walk(table: Mapping[str, Any], prefix: str) -> None:
        for key, value in table.items():
            name = prefix + key
            if isinstance(value, dict):
                if name not in ("gateway", "polling"):
                    raise SettingsError(f"{path}: unknown table [{name}] (known: [gateway], [polling])")
                walk(value, name + ".")
                continue
            _check_kind(name, value, str(path))
            if KEYS[name][0] == "path":
                value = path.parent / _expanded(Path(value), f"{path}: {setting(name)}")
            flat[name] = value

    walk(data, "")
    return flat


def read_catalogue_file(path: Path) -> Catalogue:
    """The catalogue in a JSON file; errors name the file and where in it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{path}: no catalogue file there") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the catalogue ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        return read_catalogue(text)
    except CatalogueError as exc:
        raise SettingsError(f"{path}: {exc}") from None
