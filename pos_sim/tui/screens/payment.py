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
    State.SENT: "Sending the payment to the wallet provider...",
    State.RESOLVING: "Checking... the answer is not in yet; asking the wallet provider",
    State.CANCELLING: "Cancelling the payment...",
}

PLAIN_WORDS = {
    "USER_BALANCE_NOT_ENOUGH": "The customer's wallet does not hold enough money.",
    "RISK_REJECT": "The wallet provider turned the payment down (risk control).",
    "INVALID_CODE": "The code is not valid: it was used already or never issued. Ask for a fresh code.",
    "EXPIRED_CODE": "The code has expired. Ask the customer to refresh the wallet's code.",
    "CURRENCY_NOT_SUPPORT": "The wallet cannot pay in this currency.",
    "ORDER_IS_CLOSED": "The order code expired before the customer paid.",
    "USER_NOT_EXIST": "The wallet provider does not know this customer.",
    "PROCESS_FAIL": "The wallet provider could not process the payment.",
    "ORDER_NOT_EXIST": "The wallet provider holds no such payment: nothing was taken.",
}

RESULT = {
    State.APPROVED: ("APPROVED", "approved"),
    State.DECLINED: ("DECLINED", "declined"),
    State.CANCELLED: ("CANCELLED", "cancelled"),
    State.REVERSED: ("CANCELLED - REVERSED", "cancelled"),
    State.NOT_PROCESSED: ("NOT PROCESSED", "cancelled"),
}


def plain_words(sale: Sale) -> str:
    """Why a sale ended as it did, as a cashier would say it to the customer."""
    if sale.state is State.APPROVED:
        return "Paid. Hand the customer the receipt."
    if sale.state in (State.CANCELLED, State.REVERSED):
        return "Cancelled: no money was taken from the customer."
    if sale.state is State.NOT_PROCESSED:
        return "The payment never reached the wallet provider: nothing was taken. Try again."
    if not sale.state.final:
        return ("The outcome is not known yet: the terminal keeps checking and settles it when the "
                "gateway answers. Do not take the payment again.")
    return PLAIN_WORDS.get(sale.result_code or "", sale.result_message or "The payment was declined.")


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
        Binding("escape", "back", "Back"),
        Binding("f9", "camera", "Camera"),
    ]

    def __init__(self, tender: Tender) -> None:
        super().__init__()
        self.tender = tender

    def compose_face(self) -> ComposeResult:
        register = self.pos.register
        amount = self.pos.money(register.cart.total) if register else ""
        tap = self.tender is Tender.WALLET_TAP
        with Vertical(id="scan"):
            yield Static(f"{amount}\n" + ("Tap the phone on the reader" if tap else "Scan the customer's payment code"),
                         id="scan-title")
            yield Static("The scanner is listening. Or type or paste the code and press Enter."
                         + ("\nCustomer: ctrl+t taps the phone." if tap else "\nCustomer: ctrl+y shows the wallet's code."),
                         id="scan-help")
            yield Input(placeholder="customer's code", id="code")
            yield Input(placeholder="or an image file, a folder of images, or a video file, Enter", id="image")
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
            said = {"gs1": "a product barcode", "emv-mpm": "a merchant's QR", "url": "a link"}.get(kind, "not a payment code")
            self.notify(f"{text[:32]!r} is {said}, not the customer's code", title="Scan", severity="warning")
            return
        self.stop_live()
        tender = Tender.WALLET_TAP if kind == "emv-cpm" else self.tender
        self.app.pop_screen()
        self.pos.pay(tender, text)

    def read_path(self, path: Path) -> None:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            self.live(lambda: frames.video(path, every=2), str(path))
            return
        decoder = decoder_named(self.pos.decoder)

        def first() -> str | None:
            for result in read_images([path], decoder):
                for read in result.reads:
                    if codes.classify(read.text).kind in CUSTOMER_CODES:
                        return read.text
            return None

        def found(text: str | None) -> None:
            if text is None:
                self.notify(f"No customer's code in {path}", title="Scan", severity="warning")
            else:
                self.scanned(text)

        self.pos.in_background(first, found, f"Reading {path.name}")

    def action_camera(self) -> None:
        camera = self.pos.camera
        self.live(lambda: frames.camera(camera, fps_limit=15), f"camera {camera}")

    def live(self, source: Callable[[], Iterator[frames.Frame]], origin: str) -> None:
        self.query_one("#preview", Static).update(f"Opening {origin}...")
        self._live(source, origin)

    @work(thread=True, exclusive=True, group="scanner", exit_on_error=False)
    def _live(self, source: Callable[[], Iterator[frames.Frame]], origin: str) -> None:
        worker = get_current_worker()
        decoder = decoder_named(self.pos.decoder)
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
        self.app.call_from_thread(self.query_one("#preview", Static).update, f"{origin}: ended, no customer's code seen")

    def stop_live(self) -> None:
        for worker in self.workers:
            worker.cancel()

    def action_back(self) -> None:
        self.stop_live()
        self.app.pop_screen()


class AuthorisingScreen(TerminalScreen):
    """The payment is with the wallet provider: its progress, the time it has taken, and cancel."""

    BINDINGS = [Binding("escape", "give_up", "Cancel payment")]

    def __init__(self, tender: Tender, amount: Money) -> None:
        super().__init__()
        self.tender = tender
        self.amount = amount
        self.started = time.monotonic()

    def compose_face(self) -> ComposeResult:
        with Vertical(id="authorising"):
            yield Static(f"{self.pos.money(self.amount)}\n{self.tender.value}", id="authorising-amount")
            yield LoadingIndicator()
            yield Static("", id="authorising-status")
            yield Static("", id="elapsed")

    def on_mount(self) -> None:
        self.watch(self.pos, "payment_state", self.show_state)
        self.set_interval(1.0, self.tick)
        self.tick()

    def show_state(self, state: State | None) -> None:
        if state is not None:
            self.query_one("#authorising-status", Static).update(STATUS.get(state, state.value))

    def tick(self) -> None:
        self.query_one("#elapsed", Static).update(f"{int(time.monotonic() - self.started)} s")

    def action_give_up(self) -> None:
        self.pos.give_up_payment()


class OrderCodeScreen(TerminalScreen):
    """The merchant's code for the customer to scan, large, with its countdown and the payment's status."""

    BINDINGS = [Binding("escape", "give_up", "Cancel payment")]

    def __init__(self, shown: ShownCode, amount: Money) -> None:
        super().__init__()
        self.shown = shown
        self.amount = amount

    def compose_face(self) -> ComposeResult:
        order = self.shown.code.value is not None
        hint = "scan to pay with your wallet app" if order else "scan the store's code and key in the amount"
        with Vertical(id="order-code"):
            yield Static(f"{self.pos.money(self.amount)}  {hint}", id="order-amount")
            with Center(id="qr-side"):
                yield QrCode(self.shown.value or "", id="merchant-qr")
            if self.shown.value is None:
                yield Static("(the store's printed entry code: the simulator did not say what it holds)")
            with Horizontal(id="order-status-line"):
                yield Static("", id="countdown")
                yield Static("", id="order-status")

    def on_mount(self) -> None:
        self.watch(self.pos, "payment_state", self.show_state)
        self.set_interval(1.0, self.tick)
        self.tick()

    def show_state(self, state: State | None) -> None:
        if state is not None:
            self.query_one("#order-status", Static).update("Waiting for the customer's wallet..."
                                                           if state is State.RESOLVING else STATUS.get(state, state.value))

    def tick(self) -> None:
        expires = self.shown.code.expires_at
        if expires is None:
            return
        left = max(0, int((expires - datetime.now(timezone.utc)).total_seconds()))
        self.query_one("#countdown", Static).update(f"Code valid {left // 60}:{left % 60:02d}   ")

    def action_give_up(self) -> None:
        self.pos.give_up_payment()


class ResultScreen(TerminalScreen):
    """Approved, declined with the reason in plain words, cancelled, or still being checked."""

    BINDINGS = [
        Binding("enter", "new_sale", "New sale"),
        Binding("r", "receipt", "Receipt"),
        Binding("v", "void", "Void"),
    ]

    def __init__(self, sale: Sale) -> None:
        super().__init__()
        self.sale = sale

    def compose_face(self) -> ComposeResult:
        sale = self.sale
        title, style = RESULT.get(sale.state, ("CHECKING...", "checking"))
        with Vertical(id="result", classes=style):
            yield Static(title, id="result-title")
            yield Static(f"{self.pos.money(sale.amount)}  {sale.tender}", id="result-amount")
            yield Static(plain_words(sale), id="result-words")
            details = [f"Receipt {sale.receipt_number}"]
            if sale.result_code:
                details.append(f"Result {sale.result_code}")
            if sale.payment_id:
                details.append(f"Payment {sale.payment_id}")
            if sale.wallet_amount is not None and sale.wallet_amount.currency != sale.amount.currency:
                details.append(f"Customer paid {sale.wallet_amount.major_str()} {sale.wallet_amount.currency.code}")
            yield Static("\n".join(details), id="result-details")
            yield Static("Enter: new sale   r: receipt   v: void", id="result-keys")

    def action_new_sale(self) -> None:
        self.app.pop_screen()

    def action_receipt(self) -> None:
        from pos_sim.tui.screens.receipt import ReceiptScreen

        self.app.push_screen(ReceiptScreen(self.sale.receipt_number))

    def action_void(self) -> None:
        def voided(reversal: Reversal) -> None:
            self.notify(f"Void {reversal.state.value}: {reversal.result_message or ''}".strip(), title=self.sale.receipt_number)

        number = self.sale.receipt_number
        self.pos.on_register(lambda register: register.void(number), voided, "The void")
