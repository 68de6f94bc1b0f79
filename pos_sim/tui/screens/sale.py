"""The sale: key an amount or scan items into the cart, see the totals, and take the payment.

The entry line takes what the cashier keys and what a keyboard-wedge scanner types (it ends its
burst with Enter): an amount ("12.50") goes in the cart as an open item; a product barcode adds the
item; a customer's payment code (or a phone wallet's CPM payload) scanned here starts the payment
by it, as on a real terminal.
"""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Static

from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import Money
from pos_sim.domain.receipt import Tender
from pos_sim.language import N_, _, for_customer, message_of
from pos_sim.tui.screens.terminal import TerminalScreen

AMOUNT = re.compile(r"\d{1,7}([.,]\d{0,3})?")
"""What the keypad makes an amount of: up to seven digits before the point (a barcode has eight or more)."""


class SaleScreen(TerminalScreen):
    """The cart, its totals, and the entry line."""

    BINDINGS = [
        Binding("f5", "pay", N_("Pay")),
        Binding("f6", "remove_line", N_("Del line")),
        Binding("f7", "clear_cart", N_("Clear cart")),
        Binding("f2", "journal", N_("Journal")),
        Binding("f3", "reports", N_("Reports")),
        Binding("f4", "settings", N_("Settings")),
        Binding("f8", "training", N_("Training")),
        Binding("f9", "gate", N_("Gate"), tooltip=N_("Transit: the terminal as a station's gate"), show=False),
        Binding("escape", "clear_entry", N_("Clear entry"), show=False),
    ]

    def compose_face(self) -> ComposeResult:
        with Horizontal(id="sale"):
            with Vertical(id="cart-side"):
                cart = DataTable(id="cart", cursor_type="row", zebra_stripes=True)
                cart.add_column(_("Item"), key="item")
                cart.add_column(_("Qty"), key="qty")
                cart.add_column(_("Amount"), key="amount")
                yield cart
                yield Static("", id="totals")
            with Vertical(id="keypad"):
                yield Static("", id="amount-due")
                yield Input(placeholder=_("amount or barcode, Enter"), id="entry")
                yield Static(_("F5 to pay\n\nScan a product, key an amount,\nor scan the customer's code."), id="sale-help")

    def on_mount(self) -> None:
        self.show_cart()

    def on_screen_resume(self) -> None:
        self.show_cart()
        self.query_one("#entry", Input).focus()

    def show_cart(self) -> None:
        register = self.pos.register
        if register is None:
            return
        cart = register.cart
        table = self.query_one("#cart", DataTable)
        table.clear()
        for index, line in enumerate(cart.lines):
            quantity = f"{line.grams} g" if line.grams is not None else str(line.quantity)
            table.add_row(line.description, quantity, self.pos.money(line.amount), key=str(index))
        if cart.lines:
            table.move_cursor(row=len(cart.lines) - 1)
        money = self.pos.money
        scheme = cart.tax_scheme
        taxes = "\n".join((_("incl. {tax}") if scheme.included else "{tax}").format(tax=f"{scheme.name} {group.rate:g}%")
                          + f"  {money(group.tax)}" for group in cart.taxes)
        self.query_one("#totals", Static).update(
            (_("Items {count}").format(count=cart.pieces) + "   " + _("Subtotal {amount}").format(amount=money(cart.subtotal))
             + f"\n{taxes}").rstrip())
        self.query_one("#amount-due", Static).update(
            f"{for_customer(N_('TOTAL'), self.pos.customer_language)}\n{money(cart.total)}")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""
        if not text:
            return
        register = self.pos.register
        if register is None:
            return
        if AMOUNT.fullmatch(text):
            try:
                amount = Money.of_major(text.replace(",", "."), register.catalogue.currency.code)
            except AmountError as exc:
                self.notify(_(message_of(exc)), title=_("Amount"), severity="error")
                return
            self.pos.on_register(lambda r: r.key_amount(amount), lambda _cart: self.show_cart(), N_("Keying the amount"))
            return
        self.pos.scanned(text)

    def action_clear_entry(self) -> None:
        self.query_one("#entry", Input).value = ""

    def action_pay(self) -> None:
        from pos_sim.tui.screens.tender import TenderScreen

        register = self.pos.register
        if register is None or register.cart.is_empty:
            self.notify(_("The cart is empty: key an amount or scan an item first"), severity="warning")
            return

        def chosen(tender: Tender | None) -> None:
            if tender is not None:
                self.pos.begin_tender(tender)

        self.app.push_screen(TenderScreen(register.cart.total), chosen)

    def action_remove_line(self) -> None:
        register = self.pos.register
        if register is None or register.cart.is_empty:
            return
        index = self.query_one("#cart", DataTable).cursor_row
        self.pos.on_register(lambda r: r.remove_line(index), lambda _cart: self.show_cart(), N_("Removing the line"))

    def action_clear_cart(self) -> None:
        self.pos.on_register(lambda r: r.clear_cart(), lambda _cart: self.show_cart(), N_("Clearing the cart"))

    def action_journal(self) -> None:
        from pos_sim.tui.screens.journal import JournalScreen

        self.app.push_screen(JournalScreen())

    def action_reports(self) -> None:
        from pos_sim.tui.screens.reports import ReportsScreen

        self.app.push_screen(ReportsScreen())

    def action_settings(self) -> None:
        from pos_sim.tui.screens.settings import SettingsScreen

        self.app.push_screen(SettingsScreen())

    def action_gate(self) -> None:
        from pos_sim.tui.screens.gate import GateScreen

        self.app.push_screen(GateScreen())

    def action_training(self) -> None:
        from pos_sim.tui.screens.training import TrainingScreen

        self.app.push_screen(TrainingScreen())
