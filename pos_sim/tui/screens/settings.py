"""The terminal's settings, as the register uses them, and the scanner's, changed for this session.

Most settings (the gateway and its keys, who the merchant and the terminal are, money and time,
receipts, polling, the journal, the catalogue) come from the config file, the environment and the
command line, read when the terminal starts (``pos-sim settings`` shows where each came from):
they are shown here, defaults resolved as the register resolves them (the catalogue's name,
currency and locale, the gateway's client id, this machine's time zone). The scanner's settings
the app holds (the decoder, the damage of a virtual scan, the camera) are chosen here and take
effect at once, for this session.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, Select, Static

from pos_sim.scan import decoders
from pos_sim.scan.damage import PROFILES
from pos_sim.terminal.register import Register
from pos_sim.terminal.settings import TerminalSettings
from pos_sim.language import LANGUAGES, NAMES, N_, _
from pos_sim.tui.app import damage_word
from pos_sim.tui.screens.terminal import TerminalScreen

CAMERAS = tuple(range(6))
"""The camera indexes offered (0 is the system's default camera)."""

ELSEWHERE = N_("These come from the config file, the environment (POS_SIM_...) and the command line flags: "
               "`pos-sim settings` shows where each one came from. They are read when pos-sim starts: change them "
               "there and start it again.")
SCANNER = N_("The terminal's language and scanner, for this session (at once, until the terminal stops):")

Section = tuple[str, list[tuple[str, str]]]


def _seconds(value: float) -> str:
    return _("{seconds} s").format(seconds=f"{value:g}")


def decoder_word(name: str) -> str:
    """A decoder as the choice names it: the library's own name, the cascade of them "auto" in the merchant's language."""
    return _("auto") if name == "auto" else name


def settings_sections(settings: TerminalSettings, register: Register | None) -> list[Section]:
    """What the terminal runs with, by section: ``settings`` (the register's, when one is open),
    defaults resolved as ``register`` resolves them; before sign-in, said as defaults."""
    gateway = settings.gateway
    catalogue = register.catalogue if register is not None else None
    client_id = register.gateway.credentials.client_id if register is not None else gateway.client_id

    def default(value: str | None, fallback: str | None, whose: str) -> str:
        if value is not None:
            return value
        return f"{fallback} ({_(whose)})" if fallback else _("{whose} (read at sign-in)").format(whose=_(whose))

    keys = ([(_("Simulator data dir"), _("{folder} (the demo merchant's keys)").format(folder=gateway.simulator_data_dir))]
            if gateway.simulator_data_dir is not None else
            [(_("Merchant key"), str(gateway.merchant_key)), (_("Gateway key"), str(gateway.gateway_key))])
    polling = settings.polling
    zone = settings.time_zone or _("{zone} (this machine's)").format(zone=settings.zone())
    sections: list[Section] = [
        (_("Gateway"), [
            (_("URL"), gateway.url),
            (_("Client id"), default(client_id, None, N_("the simulator's demo merchant"))),
            *keys,
            (_("Timeouts"), _("connect {connect}, read {read}").format(connect=_seconds(gateway.timeouts.connect_s),
                                                                          read=_seconds(gateway.timeouts.read_s))),
        ]),
        (_("Merchant and terminal"), [
            (_("Merchant name"), default(settings.merchant_name, catalogue.name if catalogue else None, N_("the catalogue's"))),
            (_("Merchant id"), default(settings.merchant_id, client_id, N_("the client id"))),
            (_("Terminal id"), settings.terminal_id),
            (_("Store id"), settings.store_id),
        ]),
        (_("Money and time"), [
            (_("Currency"), default(settings.currency, catalogue.currency.code if catalogue else None, N_("the catalogue's"))),
            (_("Locale"), default(settings.locale, catalogue.locale if catalogue else None, N_("the catalogue's"))),
            (_("Language"), f"{NAMES[settings.language]} ({settings.language})"),
            (_("Customer's language on receipts"), _("yes") if settings.customer_language_on_receipt else _("no")),
            (_("Time zone"), zone),
        ]),
        (_("Receipts and payments"), [
            (_("Receipt width"), _("{count} columns").format(count=settings.receipt_width)),
            *([(_("Receipt footer"), "\n".join(settings.receipt_footer))] if settings.receipt_footer else []),
            (_("Polling"), _("every {interval} for {deadline}, then up to {count} cancels").format(
                interval=_seconds(polling.interval_s), deadline=_seconds(polling.deadline_s), count=polling.cancel_attempts)),
            (_("Code lifetime"), _("{seconds} to scan an order or entry code").format(seconds=_seconds(settings.code_lifetime_s))),
            (_("Training"), _("yes: its own journal, receipts stamped TRAINING") if settings.training else _("no")),
        ]),
        (_("Journal and catalogue"), [
            (_("Journal dir"), _("{folder}\n(journal {journal}, sales book {book})").format(
                folder=settings.journal_dir, journal=settings.journal_path.name, book=settings.sales_path.name)),
            (_("Catalogue"), f"{settings.catalogue}" + ("\n" + _("{name}, {count} items").format(
                name=catalogue.name, count=len(catalogue.items)) if catalogue is not None else "")),
        ]),
    ]
    return sections


def settings_table(sections: list[Section]) -> Table:
    """The sections as one two-column table: the setting, its value (long values wrap)."""
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column("setting", style="bold", no_wrap=True)
    table.add_column("value", ratio=1, overflow="fold")
    for title, rows in sections:
        table.add_row(Text(title, style="bold underline"), "")
        for name, value in rows:
            table.add_row(f"  {name}", value)
    return table


class SettingsScreen(TerminalScreen):
    """The settings in two columns; the scanner's decoder, damage and camera chosen for the session."""

    BINDINGS = [Binding("escape", "back", N_("Back"))]

    def __init__(self) -> None:
        super().__init__()
        self.decoders: tuple[str, ...] = ()     # the decoders offered, once it is known which load here
        self._missing: dict[str, str] = {}       # those that do not load here, and why

    def compose_face(self) -> ComposeResult:
        pos = self.pos
        register = pos.register
        settings = register.settings if register is not None else pos.settings
        with Vertical(id="settings"):
            yield Static(_(ELSEWHERE), id="settings-elsewhere")
            with VerticalScroll(id="settings-view", can_focus=True):
                yield Static(settings_table(settings_sections(settings, register)), id="settings-table")
            yield Static(_(SCANNER), id="scanner-title")
            with Horizontal(id="scanner-settings"):
                with Vertical(classes="scanner-setting"):
                    yield Label(_("Language"))
                    yield Select([(NAMES[lang], lang) for lang in LANGUAGES], value=settings.language,
                                 allow_blank=False, id="language")
                with Vertical(classes="scanner-setting"):
                    yield Label(_("Decoder"))
                    yield Select([(decoder_word(name), name) for name in self.decoders or (pos.decoder,)], value=pos.decoder,
                                 allow_blank=False, id="decoder")
                with Vertical(classes="scanner-setting"):
                    yield Label(_("Virtual-scan damage"))
                    yield Select([(damage_word(profile), profile) for profile in PROFILES], value=pos.damage, allow_blank=False,
                                 id="damage")
                with Vertical(classes="scanner-setting"):
                    yield Label(_("Camera"))
                    yield Select([(_("camera {index}").format(index=index), index) for index in sorted({*CAMERAS, pos.camera})],
                                 value=pos.camera, allow_blank=False, id="camera")
            yield Static("", id="scanner-note")

    def on_mount(self) -> None:
        self.watch(self.app, "damage", self._damage_changed)
        self.watch(self.app, "decoder", lambda _name: self._show_note())
        self.pos.in_background(decoders.available, self._show_decoders, N_("Checking the decoders"))
        self.query_one("#settings-view").focus()

    def _show_decoders(self, found: dict[str, str | None]) -> None:
        """The decoders that load here, offered; the others said, with why they do not load."""
        current = self.pos.decoder
        names = ["auto", *(name for name, why in found.items() if why is None)]
        if current not in names:
            names.append(current)
        select = self.query_one("#decoder", Select)
        with self.prevent(Select.Changed):
            select.set_options([(decoder_word(name), name) for name in names])
            select.value = current
        self.decoders = tuple(names)
        self._missing = {name: why for name, why in found.items() if why is not None}
        self._show_note()

    def _damage_changed(self, damage: str) -> None:
        select = self.query_one("#damage", Select)
        if select.value != damage:
            with self.prevent(Select.Changed):
                select.value = damage
        self._show_note()

    def _show_note(self) -> None:
        pos = self.pos
        decoder = _("auto (the cascade)") if pos.decoder == "auto" else pos.decoder
        said = [_("Scanning with decoder {decoder}, virtual-scan damage {damage}, camera {camera}.").format(
            decoder=decoder, damage=damage_word(pos.damage), camera=pos.camera)]
        said += [_("Decoder {name} is not available here: {why}").format(name=name, why=why)
                 for name, why in self._missing.items()]
        self.query_one("#scanner-note", Static).update(Text("\n".join(said)))  # why a library fails is no markup

    def on_select_changed(self, event: Select.Changed) -> None:
        value = event.value
        if value is Select.NULL:
            return
        pos = self.pos
        if event.select.id == "language" and value != self.language:
            pos.speak(str(value))
            self.notify(_("Language: {name}").format(name=NAMES[str(value)]), timeout=3)
            return
        if event.select.id == "decoder" and value != pos.decoder:
            pos.decoder = str(value)
            self.notify(_("Scanning with decoder {name}").format(name=value), timeout=3)
        elif event.select.id == "damage" and value != pos.damage:
            pos.damage = str(value)
            self.notify(_("The next virtual scan: {damage}").format(damage=damage_word(str(value))), timeout=3)
        elif event.select.id == "camera" and value != pos.camera:
            pos.camera = int(value)
            self.notify(_("Scanning from camera {index}").format(index=value), timeout=3)
        self._show_note()

    @property
    def language(self) -> str:
        register = self.pos.register
        return (register.settings if register is not None else self.pos.settings).language

    def action_back(self) -> None:
        self.app.pop_screen()
