"""A payment, screen by screen: scan the customer's code, authorising, the order code the customer
scans, and the result in plain words.

The app runs the payment (``PosApp.pay``) and moves between these screens; they show what it says
(``payment_state``, ``shown_code``) and take the cashier's keys (Escape cancels while it waits).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical
from textual.widgets import Input, LoadingIndicator, Static
from textual.worker import get_current_worker

from pos_sim.domain import codes
from pos_sim.domain.money import Money
from pos_sim.domain.receipt import Tender
from pos_sim.language import N_, _, for_customer
from pos_sim.scan import frames
from pos_sim.scan.scanner import decoder_named, read_images
from pos_sim.terminal.journal import State
from pos_sim.terminal.sales import Reversal, Sale
from pos_sim.tui.app import ShownCode
from pos_sim.tui.screens.terminal import TerminalScreen
from pos_sim.tui.widgets.qr import QrCode

CUSTOMER_CODES = ("wallet-paycode", "emv-cpm")
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"})
PREVIEW_COLUMNS = 48

STATUS = {
    State.SENT: N_("Sending the payment to the wallet provider..."),
    State.RESOLVING: N_("Checking... the answer is not in yet; asking the wallet provider"),
    State.CANCELLING: N_("Cancelling the payment..."),
}

PLAIN_WORDS = {
    "USER_BALANCE_NOT_ENOUGH": N_("The customer's wallet does not hold enough money."),
    "RISK_REJECT": N_("The wallet provider turned the payment down (risk control)."),
    "INVALID_CODE": N_("The code is not valid: it was used already or never issued. Ask for a fresh code."),
    "EXPIRED_CODE": N_("The code has expired. Ask the customer to refresh the wallet's code."),
    "CURRENCY_NOT_SUPPORT": N_("The wallet cannot pay in this currency."),
    "ORDER_IS_CLOSED": N_("The order code expired before the customer paid."),
    "USER_NOT_EXIST": N_("The wallet provider does not know this customer."),
    "PROCESS_FAIL": N_("The wallet provider could not process the payment."),
    "ORDER_NOT_EXIST": N_("The wallet provider holds no such payment: nothing was taken."),
}

RESULT = {
    State.APPROVED: (N_("APPROVED"), "approved"),
    State.DECLINED: (N_("DECLINED"), "declined"),
    State.CANCELLED: (N_("CANCELLED"), "cancelled"),
    State.REVERSED: (N_("CANCELLED - REVERSED"), "cancelled"),
    State.NOT_PROCESSED: (N_("NOT PROCESSED"), "cancelled"),
}


def plain_words(sale: Sale) -> str:
    """Why a sale ended as it did, as a cashier would say it to the customer (a message to translate,
    or the provider's own words when it gave a result code not known here)."""
    if sale.state is State.APPROVED:
        return N_("Paid. Hand the customer the receipt.")
    if sale.state in (State.CANCELLED, State.REVERSED):
        return N_("Cancelled: no money was taken from the customer.")
    if sale.state is State.NOT_PROCESSED:
        return N_("The payment never reached the wallet provider: nothing was taken. Try again.")
    if not sale.state.final:
        return N_("The outcome is not known yet: the terminal keeps checking and settles it when the "
                  "gateway answers. Do not take the payment again.")
    return PLAIN_WORDS.get(sale.result_code or "", sale.result_message or N_("The payment was declined."))


def preview(image: np.ndarray, columns: int = PREVIEW_COLUMNS) -> Text:
    """A camera or video frame as coloured half blocks, ``columns`` wide."""
    import cv2

    height, width = image.shape[:2]
    rows = max(2, round(height * columns / width / 2) * 2)
    small = cv2.resize(image, (columns, rows), interpolation=cv2.INTER_AREA)
    if small.ndim == 2:
        small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    text = Text(no_wrap=True, end="")
    for y in range(0, rows, 2):
        for x in range(columns):
            top, bottom = small[y, x][::-1], small[y + 1, x][::-1]
            text.append("▀", style=f"rgb({top[0]},{top[1]},{top[2]}) on rgb({bottom[0]},{bottom[1]},{bottom[2]})")
        text.append("\n")
    return text


class ScanScreen(TerminalScreen):
    """Waiting for the customer's code: the scanner's keys (always listening), an image file or
    folder, a camera or video, the wallet pane's virtual scan, or a phone's tap."""

    BINDINGS = [
        Binding("escape", "back", N_("Back")),
        Binding("f9", "camera", N_("Camera")),
    ]

    def __init__(self, tender: Tender) -> None:
        super().__init__()
        self.tender = tender

    def compose_face(self) -> ComposeResult:
        register = self.pos.register
        amount = self.pos.money(register.cart.total) if register else ""
        tap = self.tender is Tender.WALLET_TAP
        with Vertical(id="scan"):
            yield Static(f"{amount}\n" + (_("Tap the phone on the reader") if tap else _("Scan the customer's payment code")),
                         id="scan-title")
            yield Static(_("The scanner is listening. Or type or paste the code and press Enter.") + "\n"
                         + (_("Customer: ctrl+t taps the phone.") if tap else _("Customer: ctrl+y shows the wallet's code.")),
                         id="scan-help")
            yield Input(placeholder=_("customer's code"), id="code")
            yield Input(placeholder=_("image, folder or video path, Enter"), id="image")
            yield Static("", id="preview")

    def on_mount(self) -> None:
        self.query_one("#code", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        if event.input.id == "code":
            event.input.value = ""
            self.scanned(text)
        else:
            self.read_path(Path(text).expanduser())

    def scanned(self, text: str) -> None:
        """A code read from any source: a customer's code pays; anything else is refused, saying what it is."""
        kind = codes.classify(text).kind
        if kind not in CUSTOMER_CODES:
            said = {"gs1": _("a product barcode"), "emv-mpm": _("a merchant's QR"), "url": _("a link")}.get(
                kind, _("not a payment code"))
            self.notify(_("{code} is {what}, not the customer's code").format(code=repr(text[:32]), what=said),
                        title=_("Scan"), severity="warning")
            return
        self.stop_live()
        tender = Tender.WALLET_TAP if kind == "emv-cpm" else self.tender
        self.app.pop_screen()
        self.pos.pay(tender, text)

    def read_path(self, path: Path) -> None:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            self.live(lambda: frames.video(path, every=2), str(path))
            return
        decoder = decoder_named(self.pos.decoder, language=self.pos.settings.language)

        def first() -> str | None:
            for result in read_images([path], decoder):
                for read in result.reads:
                    if codes.classify(read.text).kind in CUSTOMER_CODES:
                        return read.text
            return None

        def found(text: str | None) -> None:
            if text is None:
                self.notify(_("No customer's code in {path}").format(path=path), title=_("Scan"), severity="warning")
            else:
                self.scanned(text)

        self.pos.in_background(first, found, _("Reading {name}").format(name=path.name))

    def action_camera(self) -> None:
        camera = self.pos.camera
        self.live(lambda: frames.camera(camera, fps_limit=15), _("camera {index}").format(index=camera))

    def live(self, source: Callable[[], Iterator[frames.Frame]], origin: str) -> None:
        self.query_one("#preview", Static).update(_("Opening {source}...").format(source=origin))
        self._live(source, origin)

    @work(thread=True, exclusive=True, group="scanner", exit_on_error=False)
    def _live(self, source: Callable[[], Iterator[frames.Frame]], origin: str) -> None:
        worker = get_current_worker()
        decoder = decoder_named(self.pos.decoder, language=self.pos.settings.language)
        shown = 0.0
        try:
            stream = source()
            for frame in stream:
                if worker.is_cancelled:
                    return
                if time.monotonic() - shown > 0.2:
                    shown = time.monotonic()
                    self.app.call_from_thread(self.query_one("#preview", Static).update, preview(frame.image))
                for read in decoder.decode(frame.image):
                    if codes.classify(read.text).kind in CUSTOMER_CODES:
                        self.app.call_from_thread(self.scanned, read.text)
                        return
        except frames.SourceError as exc:
            self.app.call_from_thread(self.query_one("#preview", Static).update, f"{exc}")
            return
        self.app.call_from_thread(self.query_one("#preview", Static).update,
                                  _("{source}: ended, no customer's code seen").format(source=origin))

    def stop_live(self) -> None:
        for worker in self.workers:
            worker.cancel()

    def action_back(self) -> None:
        self.stop_live()
        self.app.pop_screen()


class AuthorisingScreen(TerminalScreen):
    """The payment is with the wallet provider: its progress, the time it has taken, and cancel."""

    BINDINGS = [Binding("escape", "give_up", N_("Cancel payment"))]

    def __init__(self, tender: Tender, amount: Money) -> None:
        super().__init__()
        self.tender = tender
        self.amount = amount
        self.started = time.monotonic()

    def compose_face(self) -> ComposeResult:
        with Vertical(id="authorising"):
            yield Static(f"{self.pos.money(self.amount)}\n{_(self.tender.value)}", id="authorising-amount")
            yield LoadingIndicator()
            yield Static("", id="authorising-status")
            yield Static("", id="elapsed")

    def on_mount(self) -> None:
        self.watch(self.pos, "payment_state", self.show_state)
        self.set_interval(1.0, self.tick)
        self.tick()

    def show_state(self, state: State | None) -> None:
        if state is not None:
            self.query_one("#authorising-status", Static).update(_(STATUS.get(state, state.value)))

    def tick(self) -> None:
        self.query_one("#elapsed", Static).update(f"{int(time.monotonic() - self.started)} s")

    def action_give_up(self) -> None:
        self.pos.give_up_payment()


class OrderCodeScreen(TerminalScreen):
    """The merchant's code for the customer to scan, large, with its countdown and the payment's status."""

    BINDINGS = [Binding("escape", "give_up", N_("Cancel payment"))]

    def __init__(self, shown: ShownCode, amount: Money) -> None:
        super().__init__()
        self.shown = shown
        self.amount = amount

    def compose_face(self) -> ComposeResult:
        order = self.shown.code.value is not None
        hint = N_("Scan to pay with your wallet app") if order else N_("Scan the store's code and key in the amount")
        with Vertical(id="order-code"):
            yield Static(f"{self.pos.money(self.amount)}\n{for_customer(hint, self.pos.customer_language)}",
                         id="order-amount")
            with Center(id="qr-side"):
                yield QrCode(self.shown.value or "", id="merchant-qr")
            if self.shown.value is None:
                yield Static(_("(the store's printed entry code: the simulator did not say what it holds)"))
            with Horizontal(id="order-status-line"):
                yield Static("", id="countdown")
                yield Static("", id="order-status")

    def on_mount(self) -> None:
        self.watch(self.pos, "payment_state", self.show_state)
        self.set_interval(1.0, self.tick)
        self.tick()

    def show_state(self, state: State | None) -> None:
        if state is not None:
            self.query_one("#order-status", Static).update(_("Waiting for the customer's wallet...")
                                                           if state is State.RESOLVING else _(STATUS.get(state, state.value)))

    def tick(self) -> None:
        expires = self.shown.code.expires_at
        if expires is None:
            return
        left = max(0, int((expires - datetime.now(timezone.utc)).total_seconds()))
        self.query_one("#countdown", Static).update(_("Code valid {time}").format(time=f"{left // 60}:{left % 60:02d}") + "   ")

    def action_give_up(self) -> None:
        self.pos.give_up_payment()


class ResultScreen(TerminalScreen):
    """Approved, declined with the reason in plain words, cancelled, or still being checked."""

    BINDINGS = [
        Binding("enter", "new_sale", N_("New sale")),
        Binding("r", "receipt", N_("Receipt")),
        Binding("v", "void", N_("Void")),
    ]

    def __init__(self, sale: Sale) -> None:
        super().__init__()
        self.sale = sale

    def compose_face(self) -> ComposeResult:
        sale = self.sale
        title, style = RESULT.get(sale.state, (N_("CHECKING..."), "checking"))
        customer = self.pos.customer_language
        with Vertical(id="result", classes=style):
            yield Static(for_customer(title, customer), id="result-title")
            yield Static(f"{self.pos.money(sale.amount)}  {_(sale.tender)}", id="result-amount")
            yield Static(for_customer(plain_words(sale), customer), id="result-words")
            details = [_("Receipt {number}").format(number=sale.receipt_number)]
            if sale.result_code:
                details.append(_("Result {code}").format(code=sale.result_code))
            if sale.payment_id:
                details.append(_("Payment {id}").format(id=sale.payment_id))
            if sale.wallet_amount is not None and sale.wallet_amount.currency != sale.amount.currency:
                paid = f"{sale.wallet_amount.major_str()} {sale.wallet_amount.currency.code}"
                details.append(_("Customer paid {amount}").format(amount=paid))
            yield Static("\n".join(details), id="result-details")
            yield Static(_("Enter: new sale   r: receipt   v: void"), id="result-keys")

    def action_new_sale(self) -> None:
        self.app.pop_screen()

    def action_receipt(self) -> None:
        from pos_sim.tui.screens.receipt import ReceiptScreen

        self.app.push_screen(ReceiptScreen(self.sale.receipt_number))

    def action_void(self) -> None:
        def voided(reversal: Reversal) -> None:
            said = _("Void {state}").format(state=_(reversal.state.value))
            self.notify(f"{said}: {reversal.result_message or ''}".strip(" :"), title=self.sale.receipt_number)

        number = self.sale.receipt_number
        self.pos.on_register(lambda register: register.void(number), voided, "The void")
