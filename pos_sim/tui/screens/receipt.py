"""A receipt on screen as the printer prints it, in the register's receipt columns: a sale's, a void's
or a refund's (``Register.reprint`` finds any of them by its receipt number).

The customer's and the merchant's copies (``c``); saved as a PNG and as text (``s``), and "printed"
as the ESC/POS bytes a thermal printer takes (``p``), both into ``<journal_dir>/receipts/`` with the
same renderers as the CLI's ``reprint --receipt-png/--receipt-escpos``. There is no printer: the
bytes go to a file, and the notification says so.
"""

from __future__ import annotations

import re
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from pos_sim.domain.receipt import Copy, Receipt, Style, layout, rows
from pos_sim.language import N_, _
from pos_sim.tui.app import TerminalPart

ROW_STYLE = {Style.TITLE: "bold", Style.BOLD: "bold", Style.STAMP: "bold reverse", Style.QR: "bold"}
COPY_NAME = {Copy.CUSTOMER: "customer", Copy.MERCHANT: "merchant"}


def receipt_text(receipt: Receipt, width: int) -> Text:
    """The receipt's lines, in the printer's styles (bold totals, the training stamp reversed)."""
    text = Text(no_wrap=True, end="")
    for index, row in enumerate(rows(receipt, width)):
        if index:
            text.append("\n")
        text.append(row.text, style=ROW_STYLE.get(row.style, ""))
    return text


def file_stem(receipt: Receipt) -> str:
    """``T01-000003-customer``: the receipt number (anything a file name should not hold made ``_``) and the copy."""
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', receipt.receipt_number)}-{COPY_NAME[receipt.copy]}"


def save_receipt(receipt: Receipt, width: int, folder: Path) -> tuple[Path, Path]:
    """Write the receipt as a PNG and as text into ``folder`` (made if need be); the two files."""
    from pos_sim.render.receipt import receipt_png

    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{file_stem(receipt)}.png"
    txt = png.with_suffix(".txt")
    receipt_png(receipt, width, png)
    txt.write_text("\n".join(layout(receipt, width)) + "\n", encoding="utf-8")
    return png, txt


def print_receipt(receipt: Receipt, width: int, folder: Path) -> Path:
    """Write the receipt's ESC/POS printer bytes into ``folder`` (made if need be); the file."""
    from pos_sim.render.receipt import receipt_escpos

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{file_stem(receipt)}.escpos"
    path.write_bytes(receipt_escpos(receipt, width))
    return path


class ReceiptScreen(TerminalPart, ModalScreen[None]):
    """The receipt ``receipt_number`` (a sale, a void or a refund), as printed."""

    BINDINGS = [
        Binding("c", "other_copy", N_("Other copy")),
        Binding("s", "save", N_("Save PNG")),
        Binding("p", "print", N_("Print")),
        Binding("escape", "dismiss(None)", N_("Close")),
    ]

    def __init__(self, receipt_number: str, copy: Copy = Copy.CUSTOMER) -> None:
        super().__init__()
        self.receipt_number = receipt_number
        self.copy = copy
        self.receipt: Receipt | None = None

    @property
    def width(self) -> int:
        register = self.pos.register
        return (register.settings if register else self.pos.settings).receipt_width

    @property
    def folder(self) -> Path:
        register = self.pos.register
        return (register.settings if register else self.pos.settings).journal_dir / "receipts"

    def compose(self) -> ComposeResult:
        with Vertical(id="receipt-box"):
            yield Static(_("Receipt {number}").format(number=self.receipt_number), id="receipt-title")
            with VerticalScroll(id="receipt-paper"):
                yield Static(_("Reading the receipt..."), id="receipt")
            yield Static("", id="receipt-saved")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#receipt-paper").styles.width = self.width + 5  # the paper: the printer's columns, a margin each side, a scroll bar
        number, copy, customer = self.receipt_number, self.copy, self.pos.customer_language

        # no receipt to show (unknown, or not resolved yet): said on the paper
        self.pos.on_register(lambda register: register.reprint(number, copy, customer), self.show, N_("Reading the receipt"),
                             failed=self.missing)

    def missing(self, error: BaseException) -> None:
        paper = self.query_one("#receipt", Static)
        paper.update(Text(_("No receipt to show:") + f"\n{error}", style="bold"))
        paper.add_class("missing")

    def show(self, receipt: Receipt) -> None:
        paper = self.query_one("#receipt", Static)
        self.receipt = receipt
        self.copy = receipt.copy
        paper.update(receipt_text(receipt, self.width))
        self.query_one("#receipt-title", Static).update(_("Receipt {number}").format(number=receipt.receipt_number)
                                                       + f"  {_(receipt.kind.value)}  {_(receipt.copy.value)}")

    def action_other_copy(self) -> None:
        if self.receipt is None:
            return
        self.show(self.receipt.as_copy(Copy.MERCHANT if self.receipt.copy is Copy.CUSTOMER else Copy.CUSTOMER))

    def action_save(self) -> None:
        receipt, width, folder = self.receipt, self.width, self.folder
        if receipt is None:
            self.notify(_("No receipt to save"), severity="warning")
            return

        def saved(paths: tuple[Path, Path]) -> None:
            png, txt = paths
            said = _("Saved {png}\nand {txt}").format(png=png, txt=txt.name)
            self.query_one("#receipt-saved", Static).update(Text(said))
            self.notify(said, title=_("Receipt saved"), timeout=6, markup=False)

        self.pos.in_background(lambda: save_receipt(receipt, width, folder), saved, N_("Saving the receipt"))

    def action_print(self) -> None:
        receipt, width, folder = self.receipt, self.width, self.folder
        if receipt is None:
            self.notify(_("No receipt to print"), severity="warning")
            return

        def printed(path: Path) -> None:
            self.query_one("#receipt-saved", Static).update(Text(_("Printed to {path}").format(path=path)))
            self.notify(_("No printer attached: printed to {path} (ESC/POS bytes)").format(path=path),
                        title=_("Receipt printed"), timeout=6, markup=False)

        self.pos.in_background(lambda: print_receipt(receipt, width, folder), printed, N_("Printing the receipt"))
