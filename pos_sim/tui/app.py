"""``PosApp``: the terminal, its register, the customer's wallets, and the work that blocks.

The app owns what outlives a screen: the connection (the settings, the simulator's admin API when
the gateway is the simulator, the demo customers' wallets), the register (opened at sign-in,
training or not), the payment under way and its merchant code. Screens ask it to do things
(``pay``, ``on_register``, ``on_simulator``) and are told the results on the UI thread.

The app is on screen before the gateway is reached: ``connect`` (made by ``pos_sim.cli``: it may start
the embedded simulator) runs in a worker while the sign-in screen shows.

One register call runs at a time (``_register_lock``), in a worker thread. The errors a user can
cause or meet (a refused request, an unknown barcode, an unreachable gateway) are shown as a
notification saying what went wrong; anything else is logged and shown too (``on_worker_state_changed``):
the terminal keeps running either way.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from textual import work
from textual.app import App, SystemCommand
from textual.binding import ActiveBinding, Binding
from textual.command import CommandPalette
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from pos_sim.domain.errors import DomainError
from pos_sim.domain.money import Money, format_money
from pos_sim.domain.receipt import Tender
from pos_sim import language
from pos_sim.language import N_, _, message_of
from pos_sim.scan.scanner import ScannerError
from pos_sim.scenarios.simulator import Simulator, SimulatorError, WalletCode
from pos_sim.terminal.authorize import MerchantCode
from pos_sim.terminal.errors import TerminalError
from pos_sim.terminal.journal import State
from pos_sim.terminal.register import Register
from pos_sim.terminal.sales import Sale
from pos_sim.terminal.settings import TerminalSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

EXPECTED = (TerminalError, DomainError, SimulatorError, ScannerError, OSError)
"""What a worker may meet in normal use: shown to the user as a notification, the app goes on."""

Failed = Callable[[BaseException], None]

SIMULATOR_ACTIONS = frozenset({"customer_shows_code", "customer_scans", "customer_taps", "next_customer", "next_damage",
                               "present"})
"""What needs the simulator: the customer's side and the presenter's faults."""


TEXTUAL_MESSAGES = (N_("Quit"), N_("palette"), N_("Keys"), N_("Screenshot"), N_("Theme"), N_("Maximize"), N_("Minimize"),
                    N_("Change the current theme"), N_("Quit the application as soon as possible"),
                    N_("Show help for the focused widget and a summary of available keys"),
                    N_("Hide the keys and widget help panel"), N_("Minimize the widget and restore to normal size"),
                    N_("Maximize the focused widget"), N_("Save an SVG 'screenshot' of the current screen"),
                    N_("Focus Next"), N_("Focus Previous"), N_("Open the command palette"),
                    N_("Quit the app and return to the command prompt."))
"""Textual's own words the terminal shows (the footer's quit and palette keys, the palette's system
commands and their help), in the catalogue so that they are shown in the merchant's language too."""
PALETTE_PLACEHOLDER = N_("Search for commands…")
DAMAGE_WORDS = {"none": N_("none"), "blur": N_("blur"), "noise": N_("noise"), "glare": N_("glare"),
                "low-contrast": N_("low-contrast"), "rotation": N_("rotation"), "perspective": N_("perspective"),
                "small": N_("small"), "jpeg": N_("jpeg"), "inverted": N_("inverted"), "screen-photo": N_("screen-photo")}
"""The virtual scan's damage profiles (pos_sim.scan.damage), as the merchant's language names them (English: as the
command line takes them)."""


def damage_word(profile: str) -> str:
    """A damage profile's name in the merchant's language."""
    return _(DAMAGE_WORDS.get(profile, profile))


class TerminalPart:
    """A screen or widget of the terminal: ``pos`` is the app, typed."""

    @property
    def pos(self) -> PosApp:
        return cast(PosApp, self.app)  # type: ignore[attr-defined]

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """A screen's keys, described in the merchant's language (the footer and the palette show these)."""
        return {key: active._replace(binding=replace(active.binding, description=_(active.binding.description),
                                                     tooltip=_(active.binding.tooltip) if active.binding.tooltip else ""),
                                     tooltip=_(active.tooltip) if active.tooltip else active.tooltip)
                for key, active in super().active_bindings.items()}  # type: ignore[misc]


@dataclass(frozen=True)
class Customer:
    """A demo customer: a name and a wallet at the simulator."""

    name: str
    wallet_id: str
    language: str = "zh_Hans"  # what the wallet app speaks: an Alipay+ wallet's customer reads Chinese by default


@dataclass(frozen=True)
class Connection:
    """What the terminal works with: its settings, and the simulator and its demo customers when the
    gateway is the simulator (``None`` and none otherwise)."""

    settings: TerminalSettings
    simulator: Simulator | None = None
    customers: tuple[Customer, ...] = ()


@dataclass(frozen=True)
class ShownCode:
    """The merchant code the terminal shows while a payment waits: an order code, or a store's entry code."""

    code: MerchantCode
    value: str | None  # what the QR holds; None: an entry code the simulator could not say


@dataclass(frozen=True)
class WalletView:
    """What the wallet pane shows of the chosen customer: a payment code, or at a gate a ride code."""

    customer: Customer
    balance: Money | None = None
    code: WalletCode | None = None
    ride: bool = False


class PosApp(App[None]):
    """A payment terminal beside the customer's wallet."""

    CSS_PATH = Path(__file__).with_name("pos.tcss")
    TITLE = "pos-sim"
    SUB_TITLE = "payment terminal"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # an 80-column terminal stacks the sale's parts (pos.tcss)
    BINDINGS = [  # the customer's and the presenter's keys: listed in the wallet pane, working whatever has the focus
        Binding("ctrl+n", "next_customer", N_("next customer"), tooltip=N_("Customer: the next demo wallet"),
                show=False, priority=True),
        Binding("ctrl+y", "customer_shows_code", N_("show code to scanner"),
                tooltip=N_("Customer: show the wallet's code to the scanner"), show=False, priority=True),
        Binding("ctrl+r", "next_damage", N_("scan damage"), tooltip=N_("Customer: the damage of the next virtual scan"),
                show=False, priority=True),
        Binding("ctrl+g", "customer_scans", N_("scan terminal's code"),
                tooltip=N_("Customer: the wallet scans the terminal's code"), show=False, priority=True),
        Binding("ctrl+t", "customer_taps", N_("tap phone"), tooltip=N_("Customer: tap the phone wallet"), show=False,
                priority=True),
        Binding("ctrl+f", "present('decline')", N_("next pay fails"), tooltip=N_("Presenter: the next payment fails"),
                show=False, priority=True),
        Binding("ctrl+o", "present('timeout')", N_("next pay times out"), tooltip=N_("Presenter: the next payment times out"),
                show=False, priority=True),
        Binding("ctrl+l", "present('late-success')", N_("next pay succeeds late"),
                tooltip=N_("Presenter: the next payment succeeds late"), show=False, priority=True),
    ]

    connection: reactive[Connection | None] = reactive(None)
    connect_error: reactive[str | None] = reactive(None)
    payment_state: reactive[State | None] = reactive(None)
    shown_code: reactive[ShownCode | None] = reactive(None)
    wallet: reactive[WalletView | None] = reactive(None)
    damage: reactive[str] = reactive("none")
    decoder: reactive[str] = reactive("auto")
    camera: reactive[int] = reactive(0)
    ride_mode: reactive[bool] = reactive(False)  # at a transit gate: the wallet shows its ride code

    def __init__(self, connect: Callable[[], Connection], lang: str = "en") -> None:
        super().__init__()
        self._spoken_before = language.current()
        language.use(lang)  # the sign-in screen is up before the settings come with the connection
        self.connect = connect
        self.register: Register | None = None
        self.operator = ""
        self._register_lock = threading.Lock()
        self._give_up: threading.Event | None = None

    @property
    def settings(self) -> TerminalSettings:
        return self._connected.settings

    @property
    def simulator(self) -> Simulator | None:
        return self._connected.simulator

    @property
    def customers(self) -> tuple[Customer, ...]:
        return self.connection.customers if self.connection is not None else ()

    @property
    def _connected(self) -> Connection:
        if self.connection is None:
            raise RuntimeError("the terminal is not connected yet")
        return self.connection

    # --- start and sign-in ----------------------------------------------------------------------

    def on_mount(self) -> None:
        from pos_sim.tui.screens.signin import SignInScreen

        self.push_screen(SignInScreen())
        self._connecting()

    def on_unmount(self) -> None:
        language.use(self._spoken_before)  # the terminal spoke its language while it ran
        if self.register is not None:
            self.register.close()
            self.register = None

    @work(thread=True, group="connect", exit_on_error=False)
    def _connecting(self) -> None:
        try:
            connection = self.connect()
        except Exception as exc:  # whatever the composition root's connect raises: shown on the sign-in screen
            log.error("cannot reach the gateway", exc_info=exc)
            self.call_from_thread(setattr, self, "connect_error", str(exc) or type(exc).__name__)
            return
        self.call_from_thread(self._connected_to, connection)

    def _connected_to(self, connection: Connection) -> None:
        self.speak(connection.settings.language)
        self.connection = connection
        self.refresh_bindings()
        if connection.customers:
            self.wallet = WalletView(connection.customers[0])
            self.refresh_wallet()

    def sign_in(self, operator: str, training: bool, done: Callable[[], None]) -> None:
        """Open the register (a training one, with its own journal, if asked), then ``done``."""
        self.operator = operator
        settings = replace(self.settings, training=training)

        def opened(register: Register) -> None:
            if self.register is not None:
                self.register.close()
            self.register = register
            for sale in register.recovered.sales:
                self.notify(_("Sale {number} left open by an earlier run: {state}").format(
                    number=sale.receipt_number, state=_(sale.state.value)), title=_("Recovered"), timeout=8)
            done()

        self._blocking(lambda: Register.open(settings), opened, partial(self.show_error, N_("Opening the register")))

    def speak(self, lang: str) -> None:
        """Speak ``lang`` from now on, every screen shown again in it (the F4 settings' language choice)."""
        if lang == language.current():
            return
        language.use(lang)
        if self.connection is not None and self.connection.settings.language != lang:
            self.connection = replace(self.connection, settings=replace(self.connection.settings, language=lang))
        if self.register is not None:
            self.register.settings = replace(self.register.settings, language=lang)
        for screen in self.screen_stack:
            if isinstance(screen, TerminalPart):
                screen.refresh_bindings()
                self.call_later(screen.recompose)

    @property
    def customer_language(self) -> str | None:
        """The language the chosen customer's wallet speaks (None: no customer's wallet beside the terminal)."""
        return self.wallet.customer.language if self.wallet is not None else None

    @property
    def training(self) -> bool:
        return self.register is not None and self.register.settings.training

    @property
    def locale(self) -> str:
        """The merchant's locale: the setting, else the catalogue's."""
        register = self.register
        return (register.settings.locale or register.catalogue.locale) if register else "en_SG"

    def money(self, amount: Money) -> str:
        """``amount`` as the merchant's locale writes it."""
        return format_money(amount, self.locale)

    # --- register work, one call at a time, off the UI thread -----------------------------------

    def on_register(self, job: Callable[[Register], T], done: Callable[[T], None], what: str,
                    failed: Failed | None = None) -> None:
        """Run ``job`` on the register in a worker; ``done`` gets its result on the UI thread, and
        ``failed`` (by default a notification saying ``what`` was not done) an error a user can meet."""
        if self.register is None:
            self.notify(_("Sign in first"), severity="warning")
            return
        register = self.register
        self._blocking(lambda: job(register), done, failed or partial(self.show_error, what))

    def on_simulator(self, job: Callable[[Simulator], T], done: Callable[[T], None], what: str,
                     failed: Failed | None = None) -> None:
        """Run ``job`` on the simulator's admin API in a worker (a note when the gateway is no simulator)."""
        if self.simulator is None:
            self.notify(_("The gateway is not the simulator: no wallets or faults to drive"), severity="warning")
            return
        simulator = self.simulator
        self._background(lambda: job(simulator), done, failed or partial(self.show_error, what))

    def in_background(self, job: Callable[[], T], done: Callable[[T], None], what: str,
                      failed: Failed | None = None) -> None:
        """Run blocking ``job`` (decoding, writing files) in a worker; ``done`` gets its result on the UI thread."""
        self._background(job, done, failed or partial(self.show_error, what))

    @work(thread=True, group="register", exit_on_error=False)
    def _blocking(self, job: Callable[[], T], done: Callable[[T], None], failed: Failed) -> None:
        with self._register_lock:
            self._run(job, done, failed)

    @work(thread=True, group="background", exit_on_error=False)
    def _background(self, job: Callable[[], T], done: Callable[[T], None], failed: Failed) -> None:
        self._run(job, done, failed)

    def _run(self, job: Callable[[], T], done: Callable[[T], None], failed: Failed) -> None:
        try:
            result = job()
        except EXPECTED as exc:
            self.call_from_thread(failed, exc)
            return
        self.call_from_thread(done, result)

    def show_error(self, what: str, error: BaseException) -> None:
        self.notify(_(message_of(error)) or type(error).__name__, title=_("{what}: not done").format(what=_(what)), severity="error",
                    timeout=8,
                    markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place unexpected worker errors land: logged, shown, and the terminal goes on."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            log.error("worker %s failed", event.worker.name, exc_info=error)
            self.notify(f"{type(error).__name__}: {error}", title=_("Internal error"), severity="error", timeout=10)

    # --- a payment ------------------------------------------------------------------------------

    def begin_tender(self, tender: Tender) -> None:
        """The tender chosen: wait for the customer's code or tap, or show the merchant's code at once."""
        from pos_sim.tui.screens.payment import ScanScreen

        if tender in (Tender.CUSTOMER_CODE, Tender.WALLET_TAP):
            self.push_screen(ScanScreen(tender))
        else:
            self.pay(tender)

    def pay(self, tender: Tender, code: str | None = None) -> None:
        """Charge the cart by ``tender`` (with the customer's ``code`` for a customer code or a tap):
        the authorising screen, then the order code's while the customer scans it, then the result."""
        from pos_sim.tui.screens.payment import AuthorisingScreen, OrderCodeScreen, ResultScreen

        register = self.register
        if register is None or register.cart.is_empty:
            self.notify(_("The cart is empty: key an amount or scan an item first"), severity="warning")
            return
        amount = register.cart.total
        give_up = self._give_up = threading.Event()
        self.payment_state = State.SENT
        self.shown_code = None

        def code_shown(code: MerchantCode) -> None:  # a worker thread
            value = code.value
            if value is None and self.simulator is not None:
                try:
                    value = self.simulator.entry_code(register.gateway.credentials.client_id, code.store_id)
                except SimulatorError:
                    value = None
            self.call_from_thread(self._show_code, ShownCode(code, value), amount)

        def moved(state: State) -> None:  # a worker thread
            self.call_from_thread(setattr, self, "payment_state", state)

        def settled(sale: Sale) -> None:
            self.payment_state = sale.state
            self.shown_code = None
            self._give_up = None
            while isinstance(self.screen, AuthorisingScreen | OrderCodeScreen):
                self.pop_screen()
            self.push_screen(ResultScreen(sale))
            self.refresh_wallet()

        self.push_screen(AuthorisingScreen(tender, amount))
        self._pay(register, tender, code, code_shown, moved, give_up, settled)

    @work(thread=True, group="register", exit_on_error=False)
    def _pay(self, register: Register, tender: Tender, code: str | None, code_shown: Callable[[MerchantCode], None],
             moved: Callable[[State], None], give_up: threading.Event, settled: Callable[[Sale], None]) -> None:
        with self._register_lock:
            try:
                sale = register.pay(tender, code, on_code=code_shown, give_up=give_up, on_state=moved)
            except EXPECTED as exc:
                self.call_from_thread(self._payment_refused, exc)
                return
        self.call_from_thread(settled, sale)

    def _payment_refused(self, error: BaseException) -> None:
        from pos_sim.tui.screens.payment import AuthorisingScreen, OrderCodeScreen

        self.payment_state = None
        self.shown_code = None
        while isinstance(self.screen, AuthorisingScreen | OrderCodeScreen):
            self.pop_screen()
        self.show_error(N_("The payment"), error)

    def _show_code(self, shown: ShownCode, amount: Money) -> None:
        from pos_sim.tui.screens.payment import OrderCodeScreen

        self.shown_code = shown
        self.push_screen(OrderCodeScreen(shown, amount))

    def give_up_payment(self) -> None:
        """The cashier's cancel: stop waiting and cancel the payment (it still ends in one known outcome)."""
        if self._give_up is not None:
            self._give_up.set()
            self.notify(_("Cancelling the payment..."), timeout=3)

    # --- the customer's side (the simulator) ----------------------------------------------------

    def refresh_wallet(self) -> None:
        """Read the chosen customer's balance and a fresh payment code (a ride code at a gate), for the wallet pane."""
        view = self.wallet
        if view is None or self.simulator is None:
            return
        customer, ride = view.customer, self.ride_mode

        def read(simulator: Simulator) -> WalletView:
            code = simulator.ride_code(customer.wallet_id) if ride else simulator.payment_code(customer.wallet_id)
            return WalletView(customer, simulator.balance(customer.wallet_id), code, ride)

        def show(fresh: WalletView) -> None:
            if self.wallet is not None and self.wallet.customer == fresh.customer and fresh.ride == self.ride_mode:
                self.wallet = fresh

        self.on_simulator(read, show, N_("Reading the wallet"))

    def watch_ride_mode(self, _ride: bool) -> None:
        self.refresh_wallet()

    def code_is_stale(self, now: datetime | None = None) -> bool:
        view = self.wallet
        moment = now or datetime.now(timezone.utc)
        return view is None or view.code is None or (view.code.expires_at - moment).total_seconds() < 10

    def action_next_customer(self) -> None:
        if not self.customers or self.wallet is None:
            return
        index = (self.customers.index(self.wallet.customer) + 1) % len(self.customers)
        self.wallet = WalletView(self.customers[index])
        self.refresh_wallet()

    def action_next_damage(self) -> None:
        from pos_sim.scan.damage import PROFILES

        self.damage = PROFILES[(PROFILES.index(self.damage) + 1) % len(PROFILES)]
        self.notify(_("The next virtual scan: {damage}").format(damage=damage_word(self.damage)), timeout=3)

    def action_customer_shows_code(self) -> None:
        """The customer holds the wallet's code to the scanner: rendered, damaged, decoded (a virtual scan)."""
        from pos_sim.scan.scanner import decoder_named, virtual_scan
        from pos_sim.tui.screens.payment import ScanScreen

        view = self.wallet
        if view is None or view.code is None:
            self.notify(_("No wallet code to show yet"), severity="warning")
            return
        text, damage = view.code.code, self.damage

        def scan() -> str | None:
            decoder = decoder_named(self.decoder, language=self.settings.language)
            _image, reads = virtual_scan(text, decoder, profile=damage, strength=0.5, seed=secrets.randbelow(2**31))
            return reads[0].text if reads else None

        def scanned(result: str | None) -> None:
            if result is None:
                self.notify(_("The scanner could not read the code ({damage}): try again").format(damage=damage_word(damage)),
                            severity="warning")
                return
            screen = self.screen
            if isinstance(screen, ScanScreen):
                screen.scanned(result)
            else:
                self.scanned(result)

        self.in_background(scan, scanned, N_("Scanning the wallet's code"))

    def scanned(self, text: str) -> None:
        """A code read at the sale screen: a product goes in the cart; a customer's code pays."""
        from pos_sim.domain import codes

        kind = codes.classify(text).kind
        if kind in ("wallet-paycode", "emv-cpm"):
            self.pay(Tender.WALLET_TAP if kind == "emv-cpm" else Tender.CUSTOMER_CODE, text)
            return
        self.on_register(lambda register: register.scan_item(text), lambda _cart: self.cart_changed(), N_("Scanning"))

    def cart_changed(self) -> None:
        from pos_sim.tui.screens.sale import SaleScreen

        for screen in self.screen_stack:
            if isinstance(screen, SaleScreen):
                screen.show_cart()

    def action_customer_scans(self) -> None:
        """The customer's wallet scans the code the terminal shows, and pays it."""
        shown, view = self.shown_code, self.wallet
        if shown is None or shown.value is None:
            self.notify(_("The terminal shows no code to scan"), severity="warning")
            return
        if view is None:
            return
        wallet_id, value = view.customer.wallet_id, shown.value

        def said(answer: dict[str, Any]) -> None:
            self.notify(_("Wallet: {status}").format(status=f"{answer.get('status')} {answer.get('resultCode') or ''}".strip()),
                        timeout=4)

        self.on_simulator(lambda simulator: simulator.scan_merchant_code(wallet_id, value), said, N_("The wallet's scan"))

    def action_customer_taps(self) -> None:
        """The customer taps the phone on the reader: its token pays."""
        view = self.wallet
        if view is None:
            return
        wallet_id = view.customer.wallet_id
        self.on_simulator(lambda simulator: simulator.tap(wallet_id), partial(self.pay, Tender.WALLET_TAP), N_("The tap"))

    # --- the presenter --------------------------------------------------------------------------

    def action_present(self, action: str) -> None:
        """Make the next payment decline, time out or succeed late (the simulator's fault API)."""
        said = {"decline": N_("The next payment declines"), "timeout": N_("The next payment times out"),
                "late-success": N_("The next payment succeeds late")}[action]

        def armed(_answer: dict[str, Any]) -> None:
            self.notify(_(said), title=_("Presenter"), timeout=4)

        def arm(simulator: Simulator) -> dict[str, Any]:
            if action == "decline":
                return simulator.arm_fault("pay", "decline", result_code="USER_BALANCE_NOT_ENOUGH")
            if action == "timeout":
                return simulator.arm_fault("pay", "timeout", delay_ms=25_000)
            return simulator.arm_fault("pay", "late-success", delay_ms=4_000)

        self.on_simulator(arm, armed, N_("The presenter's fault"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The customer's and the presenter's keys only where there is a simulator to drive (else hidden)."""
        return None if action in SIMULATOR_ACTIONS and self.simulator_less else True

    @property
    def simulator_less(self) -> bool:
        return self.connection is None or self.connection.simulator is None

    # --- the command palette: every action a key runs -------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's commands (theme, quit, keys, screenshot) and every key of the terminal's own, in the
        merchant's language; the editing keys of Textual's widgets (an input's cursor moves) are no commands."""
        for command in super().get_system_commands(screen):
            yield command._replace(title=_(command.title), help=_(command.help))
        seen = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.action in seen or type(active.node).__module__.startswith("textual."):
                continue
            seen.add(binding.action)
            yield SystemCommand(binding.tooltip or binding.description, _("key {key}").format(key=binding.key),
                                partial(self.run_action, binding.action, active.node))

    def action_command_palette(self) -> None:
        """The palette, its search line in the merchant's language."""
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(id="--command-palette", placeholder=_(PALETTE_PLACEHOLDER)))
