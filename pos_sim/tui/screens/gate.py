"""Gate mode: the terminal as a transit gate's face at one station, entry or exit (issue 7).

The face a rider reads: OPEN (green) or CLOSED (red) in big letters, the reason in the rider's
words, the fare (at an exit whose entry the gate knows) and the balance line; for the operator:
taps in the last minute, the decision latency p50/p95 over the taps so far, the last decisions,
and what the last sync with the backend did.

Input is the sale screen's: a keyboard-wedge scanner types the ride code into the entry line
(Enter ends it); or the customer's wallet (F5) issues a ride code at the simulator and shows it to
the gate's scanner (rendered, damaged as the wallet pane says, decoded: a virtual scan).

One ``Gate`` (pos_sim/terminal/gate.py) a screen, gate id the terminal id, its station folder
``<journal dir>/stations/<station>``: the stations' folders side by side, so an exit here sees an
entry made at another station of this terminal. Decisions run in workers, one at a time
(``_deciding``); a sync runs beside them (``_syncing``), never holding a tap up: the gate decides
offline, and its journal and station state have their own locks. Opening, switching station
and closing take both locks.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Select, Static

from pos_sim.domain.fares import FareNetwork, read_network
from pos_sim.terminal.errors import TerminalError
from pos_sim.language import N_, Phrase, _, for_customer
from pos_sim.terminal.gate import (DEFAULT_NETWORK, DIRECTION_WORDS, GATE_TIMEOUTS, Decision, Direction, Gate, GateError,
                                   GateReason, SyncReport, TransitClient)
from pos_sim.tui.app import PosApp, damage_word
from pos_sim.tui.screens.terminal import TerminalScreen

T = TypeVar("T")

SHOWN = 8
"""Decisions listed, newest first."""
RATE_WINDOW = timedelta(minutes=1)
DIRECTIONS = ((Direction.IN, N_("in: entry gate")), (Direction.OUT, N_("out: exit gate")))

_GLYPHS = {  # 5 rows a letter, squared (it reads from afar), each row drawn twice as wide: as wide as it is tall
    "O": ("#####", "#   #", "#   #", "#   #", "#####"),
    "P": ("#####", "#   #", "#####", "#    ", "#    "),
    "E": ("#####", "#    ", "#### ", "#    ", "#####"),
    "N": ("#   #", "##  #", "# # #", "#  ##", "#   #"),
    "C": ("#####", "#    ", "#    ", "#    ", "#####"),
    "L": ("#    ", "#    ", "#    ", "#    ", "#####"),
    "S": ("#####", "#    ", "#####", "    #", "#####"),
    "D": ("#### ", "#   #", "#   #", "#   #", "#### "),
    "R": ("#####", "#   #", "#####", "#  # ", "#   #"),
    "A": ("#####", "#   #", "#####", "#   #", "#   #"),
    "Y": ("#   #", "#   #", "#####", "  #  ", "  #  "),
    "B": ("#### ", "#   #", "#### ", "#   #", "#### "),
    "U": ("#   #", "#   #", "#   #", "#   #", "#####"),
    "K": ("#   #", "#  # ", "###  ", "#  # ", "#   #"),
    "T": ("#####", "  #  ", "  #  ", "  #  ", "  #  "),
    "I": ("#####", "  #  ", "  #  ", "  #  ", "#####"),
}
OPEN, CLOSED, READY = N_("OPEN"), N_("CLOSED"), N_("READY")
"""The sign's words (translated where shown)."""
REASON_WORDS = {
    GateReason.OK: N_("ok"), GateReason.UNREADABLE: N_("unreadable"), GateReason.UNKNOWN_KEY: N_("unknown-key"),
    GateReason.REVOKED_KEY: N_("revoked-key"), GateReason.BAD_SIGNATURE: N_("bad-signature"),
    GateReason.KEY_NOT_VALID: N_("key-not-valid"), GateReason.NOT_YET_VALID: N_("not-yet-valid"),
    GateReason.EXPIRED: N_("expired"), GateReason.TOO_MANY_COMPANIONS: N_("too-many-companions"),
    GateReason.DENIED_ACCOUNT: N_("denied-account"), GateReason.REPLAYED: N_("replayed"),
    GateReason.PASSBACK: N_("passback"), GateReason.NO_ENTRY: N_("no-entry"),
}
"""Each reason as the log shows it: its code in English (as journalled and uploaded), a short word in the others."""


def big(word: str, scale: int = 2) -> str:
    """``word`` in block letters five lines high (the letters of OPEN, CLOSED and READY, and of Malay's
    BUKA, TUTUP and SEDIA), each dot ``scale`` cells wide."""
    rows = [" ".join(_GLYPHS[letter][row] for letter in word) for row in range(5)]
    return "\n".join(row.replace("#", "█" * scale).replace(" ", " " * scale) for row in rows)


class GateWord(Static):
    """The sign's word, big: dots two cells wide where the face has the room, else one (an 80-column
    terminal); cropped, never wrapped, on a face narrower than even that. A word in a script the block
    letters do not draw (Thai, Chinese, Japanese) is written as it is, in the middle of the sign (whose
    colour says it from afar)."""

    word: reactive[str] = reactive("")

    def __init__(self, word: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.word = word

    def render(self) -> Text:
        if not self.word or any(letter not in _GLYPHS for letter in self.word):
            return Text(f"\n\n{self.word}\n\n", no_wrap=True, overflow="crop", end="")
        wide = big(self.word)
        fits = max(len(row) for row in wide.splitlines()) <= self.size.width
        return Text(wide if fits else big(self.word, 1), no_wrap=True, overflow="crop", end="")


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of ``values`` (``share`` 0.5 the median, 0.95 the p95)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@lru_cache(maxsize=4)
def network_of(folder: Path) -> FareNetwork:
    return read_network(folder)


def metro_stops(folder: Path = DEFAULT_NETWORK) -> list[str]:
    """The stations a gate may stand at: the stops of the network in ``folder``."""
    return sorted(network_of(folder).stop_areas)


def zone_of(name: str | None) -> tzinfo | None:
    """The network's time zone: the terminal's time zone setting (fares have peak hours), else this machine's."""
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


class GateScreen(TerminalScreen):
    """A station's gate: the rider's sign and the operator's figures, one gate a screen."""

    BINDINGS = [
        Binding("f5", "ride_code", N_("Ride code"), tooltip=N_("Customer: the wallet shows its ride code to the gate")),
        Binding("f6", "sync", N_("Sync"), tooltip=N_("Upload the gate's taps and refresh the issuer key ring")),
        Binding("f7", "turn", N_("In/out"), tooltip=N_("Make the gate an entry or an exit gate")),
        Binding("f8", "next_station", N_("Station"), tooltip=N_("Put the gate at the next station of the network")),
        Binding("escape", "back", N_("Back to sale")),
    ]

    def __init__(self, station: str | None = None, direction: Direction | str = Direction.IN,
                 network: Path = DEFAULT_NETWORK) -> None:
        super().__init__()
        self.network_dir = network
        self.network = network_of(network)
        self.stops = metro_stops(network)
        if station is not None and station not in self.stops:
            raise GateError(Phrase(N_("station {station!r} is not a stop of the network in {folder} ({stops})"),
                                   station=station, folder=str(network), stops=", ".join(self.stops)))
        self.station = station or self.stops[0]
        self.direction = Direction(direction)
        self.decisions: list[Decision] = []
        self.latencies: list[float] = []
        self.last_sync: SyncReport | None = None
        self._gate: Gate | None = None
        self._deciding = threading.Lock()   # one decision at a time
        self._syncing = threading.Lock()    # one sync at a time, beside the decisions
        self._opening = 0                   # which open is the latest (a switch of station may overtake one)
        self._left = False                  # the screen is gone: its gate closes, nothing more is shown

    # --- layout ---

    def compose_face(self) -> ComposeResult:
        with VerticalScroll(id="gate"):  # at 80x24 the operator's log and sync line are scrolled to
            with Horizontal(id="gate-setup"):
                yield Select([(self.stop_label(stop), stop) for stop in self.stops], value=self.station,
                             allow_blank=False, id="gate-station")
                yield Select([(_(label), direction.value) for direction, label in DIRECTIONS], value=self.direction.value,
                             allow_blank=False, id="gate-direction")
                yield Static("", id="gate-id")
            with Vertical(id="gate-sign", classes="ready"):
                yield GateWord(_(READY), id="gate-word")
                yield Static("", id="gate-where")
            yield Static(for_customer(N_("Show your ride code to the scanner"), self.pos.customer_language),
                         id="gate-message")
            yield Static("", id="gate-detail")
            yield Static("", id="gate-fare")
            yield Static("", id="gate-balance")
            yield Input(placeholder=_("ride code from the scanner, Enter"), id="gate-entry")
            yield Static("", id="gate-stats")
            log = DataTable(id="gate-log", cursor_type="none", zebra_stripes=True)
            for label, key in ((N_("Time"), "time"), (N_("Station"), "station"), (N_("Dir"), "direction"),
                               (N_("Gate"), "gate"), (N_("Reason"), "reason"), (N_("Fare"), "fare"), ("ms", "ms")):
                log.add_column(_(label), key=key)
            yield log
            yield Static("", id="gate-sync")

    def stop_label(self, stop: str) -> str:
        names = [self.network.areas[area].name or area for area in sorted(self.network.areas_of(stop))
                 if area in self.network.areas]
        return f"{stop}  {names[0].split(' (')[0]}" if names else stop

    def on_mount(self) -> None:
        self.show_where()
        self.show_stats()
        self.set_interval(1.0, self.show_stats)  # the taps of the last minute age out
        self.query_one("#gate-entry", Input).focus()
        self.open_gate(self.station)
        self.pos.ride_mode = True  # the customer's wallet shows its ride code here

    def on_screen_resume(self) -> None:
        self.query_one("#gate-entry", Input).focus()

    def on_unmount(self) -> None:
        self._left = True
        self.pos.ride_mode = False
        threading.Thread(target=self._close, name="gate-close", daemon=True).start()

    def _close(self) -> None:
        """After the work under way: the taps go up as the gate closes (what stays waiting goes at its next start)."""
        with self._deciding, self._syncing:
            gate, self._gate = self._gate, None
            if gate is not None:
                try:
                    gate.sync()
                finally:
                    gate.close()

    # --- the gate: opened, switched, closed off the UI thread ---

    @property
    def gate_id(self) -> str:
        return self.pos.settings.terminal_id

    @property
    def station_dir(self) -> Path:
        return self.pos.settings.journal_dir / "stations" / self.station

    def open_gate(self, station: str) -> None:
        """Open the gate at ``station`` (closing the one open), then sync it: the key ring it decides with."""
        settings = self.pos.settings
        self.station = station
        self._opening += 1
        opening, folder, direction, gate_id = self._opening, self.station_dir, self.direction, self.gate_id
        zone = zone_of(settings.time_zone)
        self.query_one("#gate-sync", Static).update(_("Opening the gate of {station} in {folder}...").format(
            station=station, folder=folder))
        self.show_where()

        def job() -> tuple[int, SyncReport, SyncReport | None] | None:
            with self._deciding, self._syncing:
                if self._left:
                    return None  # the screen went first: no gate to open
                left = None
                if self._gate is not None:  # its taps go up before it closes, as ``pos-sim gate`` does at its end
                    left = self._gate.sync()
                    self._gate.close()
                    self._gate = None
                try:
                    client: TransitClient | None = TransitClient(settings.gateway.credentials(), GATE_TIMEOUTS)
                except TerminalError:
                    client = None  # no operator keys: the gate decides offline with what its folder caches
                self._gate = Gate.open(folder, station, gate_id, direction, network=self.network, client=client,
                                       zone=zone)
                return opening, self._gate.sync(), left

        def opened(result: tuple[int, SyncReport, SyncReport | None] | None) -> None:
            if result is None or self._left:
                return
            latest, report, left = result
            if left is not None and (left.uploaded or not left.ok):
                summary = left.summary(settings.gateway.url, N_("close"))
                self.notify(_(summary), title=_("The gate left"), timeout=6, markup=False)
            if latest == self._opening:
                self.synced(report, N_("start"))

        self.pos.in_background(job, opened, N_("Opening the gate"))

    def _with_gate(self, lock: threading.Lock, work: Callable[[Gate], T]) -> Callable[[], T]:
        def job() -> T:
            with lock:
                if self._gate is None:
                    raise GateError("the gate is not open yet")
                return work(self._gate)
        return job

    # --- a tap ---

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""
        if text:
            self.present(text)

    def present(self, text: str) -> None:
        """The scanner read ``text``: the gate decides (in a worker), the sign shows it."""
        direction = self.direction
        self.pos.in_background(self._with_gate(self._deciding, lambda gate: gate.decide(text, direction)),
                               self.decided, N_("The gate's decision"))

    def decided(self, decision: Decision) -> None:
        if self._left:
            return  # decided as the screen went: in the journal, not shown
        self.decisions.append(decision)
        self.latencies.append(decision.ms)
        sign = self.query_one("#gate-sign", Vertical)
        sign.set_classes("open" if decision.opened else "closed")
        self.query_one("#gate-word", GateWord).word = _(OPEN) if decision.opened else _(CLOSED)
        self.show_where(decision)
        self.query_one("#gate-message", Static).update(Text(for_customer(decision.message, self.pos.customer_language)))
        self.query_one("#gate-detail", Static).update(Text(_(decision.detail)))
        self.query_one("#gate-fare", Static).update(Text(_(decision.fare_text)))
        self.query_one("#gate-balance", Static).update(Text(for_customer(decision.balance_text, self.pos.customer_language)
                                                            if decision.balance_text else ""))
        table = self.query_one("#gate-log", DataTable)
        table.clear()
        for shown in reversed(self.decisions[-SHOWN:]):
            table.add_row(shown.at.strftime("%H:%M:%S"), shown.station_id, _(DIRECTION_WORDS[shown.direction]),
                          Text(_(OPEN), style="bold green") if shown.opened else Text(_(CLOSED), style="bold red"),
                          _(REASON_WORDS[shown.reason]), f"{shown.fare.major_str()} {shown.fare.currency.code}" if shown.fare else "",
                          f"{shown.ms:.1f}")
        self.show_stats()
        self.query_one("#gate-entry", Input).focus()

    def show_where(self, decision: Decision | None = None) -> None:
        side = _("entry") if self.direction is Direction.IN else _("exit")
        when = f"   {decision.at.strftime('%H:%M:%S')}" if decision is not None else ""
        gate = _("gate {id}").format(id=self.gate_id)
        self.query_one("#gate-where", Static).update(f"{self.station}  {gate}  {side}{when}")
        self.query_one("#gate-id", Static).update(f"{gate}\n.../stations/{self.station}")

    def show_stats(self) -> None:
        now = datetime.now(UTC)
        recent = sum(1 for decision in self.decisions if now - decision.at <= RATE_WINDOW)
        opened = sum(decision.opened for decision in self.decisions)
        line = _("Taps {count} ({opened} open, {closed} closed)  {recent} taps/min  decision ").format(
            count=len(self.decisions), opened=opened, closed=len(self.decisions) - opened, recent=recent)
        if self.latencies:
            line += f"p50 {percentile(self.latencies, 0.5):.1f} ms  p95 {percentile(self.latencies, 0.95):.1f} ms"
        else:
            line += "p50 -  p95 -"
        self.query_one("#gate-stats", Static).update(line)

    # --- the keys ---

    def action_ride_code(self) -> None:
        """The chosen customer's wallet issues a ride code and shows it to the gate's scanner (a virtual scan)."""
        from pos_sim.scan.scanner import decoder_named, virtual_scan

        view = self.pos.wallet
        if view is None:
            self.notify(_("No customer's wallet: the gateway is not the simulator"), severity="warning")
            return
        wallet_id, damage, decoder = view.customer.wallet_id, self.pos.damage, self.pos.decoder
        spoken = self.pos.settings.language
        shown = view.code.code if view.ride and view.code is not None and not self.pos.code_is_stale() else None

        def show(simulator) -> str | None:  # the ride code the wallet pane shows, or a fresh one
            code = shown or simulator.ride_code(wallet_id).code
            _image, reads = virtual_scan(code, decoder_named(decoder, language=spoken), profile=damage, strength=0.5,
                                         seed=secrets.randbelow(2**31))
            return reads[0].text if reads else None

        def scanned(text: str | None) -> None:
            if self._left:
                return
            if text is None:
                self.notify(_("The gate's scanner could not read the ride code ({damage}): show it again").format(
                    damage=damage_word(damage)), severity="warning")
            else:
                self.present(text)
            self.pos.refresh_wallet()  # the wallet app shows a new code once one is used

        self.pos.on_simulator(show, scanned, N_("The wallet's ride code"))

    def action_sync(self) -> None:
        self.query_one("#gate-sync", Static).update(_("Syncing with the backend..."))
        self.pos.in_background(self._with_gate(self._syncing, lambda gate: gate.sync()),
                               lambda report: self.synced(report, N_("sync key")), N_("The gate's sync"))

    def synced(self, report: SyncReport, when: str) -> None:
        if self._left:
            return
        self.last_sync = report
        url = self.pos.settings.gateway.url
        line = _(report.summary(url, when)) if self._gate is None or self._gate.client is not None else (
            _("offline (no operator keys for {url}): {waiting} taps wait for upload").format(url=url, waiting=report.waiting))
        status = self.query_one("#gate-sync", Static)
        status.update(Text(line))
        status.set_class(not report.ok, "problem")
        if report.uploaded:
            self.pos.refresh_wallet()  # the balance, once the backend clears the taps

    def action_turn(self) -> None:
        other = Direction.OUT if self.direction is Direction.IN else Direction.IN
        self.query_one("#gate-direction", Select).value = other.value

    def action_next_station(self) -> None:
        following = self.stops[(self.stops.index(self.station) + 1) % len(self.stops)]
        self.query_one("#gate-station", Select).value = following

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "gate-direction" and event.value != self.direction.value:
            self.direction = Direction(str(event.value))
            self.show_where()
        elif event.select.id == "gate-station" and event.value != self.station:
            self.open_gate(str(event.value))
        self.query_one("#gate-entry", Input).focus()

    def action_back(self) -> None:
        self.app.pop_screen()


class GateTerminal(PosApp):
    """The terminal that goes to a station's gate once signed in (``pos-sim tui --gate M01``)."""

    def __init__(self, connect: Callable, lang: str = "en", *, station: str) -> None:
        super().__init__(connect, lang)
        self.station = station

    def sign_in(self, operator: str, training: bool, done: Callable[[], None]) -> None:
        def then() -> None:
            done()
            self.push_screen(GateScreen(self.station))

        super().sign_in(operator, training, then)
