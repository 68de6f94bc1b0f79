"""The journal: the sales book, newest first, with each sale's voids and refunds under it; find a
sale by typing, see its receipt, void it or refund all or part of it.

The filter line at the top takes what the cashier types (a receipt number, an amount, a state, a
result code; every word must match, case does not matter) while it has the focus; Enter or the down
arrow goes to the list, ``/`` comes back. The list's keys (Enter receipt, ``v`` void, ``r`` refund)
work only there, so typing "void" in the filter never voids anything. A void asks first
(``ConfirmScreen``); a refund asks the amount, all that is left by default (``RefundScreen``).
The register refuses what cannot be done (a sale of an earlier batch cannot be voided, say) and
says why in a notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_skeleton
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Label, Static

from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import Money
from pos_sim.domain.receipt import Kind, Tender
from pos_sim.language import N_, _, current, written_locale
from pos_sim.terminal.sales import Reversal, ReversalState, Sale
from pos_sim.tui.app import TerminalPart
from pos_sim.tui.screens.terminal import TerminalScreen

TENDER_SHORT = {Tender.CUSTOMER_CODE.value: N_("Cust. code"), Tender.ORDER_CODE.value: N_("Order code"),
                Tender.ENTRY_CODE.value: N_("Entry code"), Tender.WALLET_TAP.value: N_("Phone tap")}
STATE_STYLE = {N_("APPROVED"): "green", N_("DECLINED"): "red", N_("VOIDED"): "yellow", N_("REFUNDED"): "yellow",
               N_("PART REFUND"): "yellow", N_("CANCELLED"): "yellow", N_("REVERSED"): "yellow",
               N_("NOT PROCESSED"): "dim", N_("DONE"): "green", N_("REFUSED"): "red", N_("PENDING"): "bold magenta"}
"""Each state the journal shows (in English: translated where shown), and its colour."""
KIND_WORD = {Kind.VOID: N_("Void"), Kind.REFUND: N_("Refund")}
COLUMNS = ((N_("Receipt"), "receipt"), (N_("Time"), "time"), (N_("Tender"), "tender"), (N_("Amount"), "amount"),
           (N_("State"), "state"), (N_("Result"), "result"), (N_("Reversed"), "reversed"))


def sale_state(sale: Sale) -> str:
    """What became of a sale, as the journal shows it (in English: ``state_word`` translates it): the
    payment's state, or VOIDED / (PART) REFUNDED."""
    if sale.voided:
        return "VOIDED"
    if sale.approved and not sale.refunded.is_zero:
        return "REFUNDED" if sale.refunded == sale.amount else "PART REFUND"
    return sale.state.value.replace("_", " ") if sale.state.final else f"{sale.state.value} (not resolved)"


def state_word(state: str) -> str:
    """``state`` (what ``sale_state`` says, or a void's or refund's state) in the merchant's language."""
    pending = state.removesuffix(" (not resolved)")
    return _(state) if pending == state else _("{state} (not resolved)").format(state=_(pending))


@dataclass(frozen=True)
class JournalRow:
    """A row of the journal: a sale, or one of its voids or refunds."""

    sale: Sale
    reversal: Reversal | None = None

    @property
    def receipt_number(self) -> str:
        return self.reversal.receipt_number if self.reversal else self.sale.receipt_number


class JournalTable(DataTable[Text]):
    """The journal's list: Enter shows the highlighted row's receipt."""

    BINDINGS = [Binding("enter", "select_cursor", N_("Receipt"))]


class FilterInput(Input):
    """The journal's filter line: what is typed filters; Enter or the down arrow goes to the list."""

    BINDINGS = [
        Binding("enter", "submit", N_("To the list")),
        Binding("down", "screen.to_list", N_("To the list"), show=False),
    ]


class ConfirmScreen(TerminalPart, ModalScreen[bool]):
    """A yes-or-no question: dismissed with True (y, Enter) or False (n, Escape)."""

    BINDINGS = [
        Binding("y,enter", "dismiss(True)", N_("Yes")),
        Binding("n,escape", "dismiss(False)", N_("No")),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self.question, id="confirm-question")
            if self.detail:
                yield Static(self.detail, id="confirm-detail")
            yield Static(_("y or Enter: yes      n or Escape: no"), id="confirm-keys")
        yield Footer()


@dataclass(frozen=True)
class RefundAsked:
    """What the refund dialog was told: the amount to give back and why (None: no reason given)."""

    amount: Money
    reason: str | None


class RefundScreen(TerminalPart, ModalScreen[RefundAsked | None]):
    """How much of ``sale`` to refund (all that is left, unless told less) and why; None on Escape."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel"))]

    def __init__(self, sale: Sale) -> None:
        super().__init__()
        self.sale = sale

    def compose(self) -> ComposeResult:
        sale, money = self.sale, self.pos.money
        with Vertical(id="refund-box"):
            yield Static(_("Refund of {receipt}").format(receipt=sale.receipt_number), id="refund-title")
            yield Static(_("Paid {paid}, refunded {refunded}: {left} left to refund").format(
                paid=money(sale.amount), refunded=money(sale.refunded), left=money(sale.refundable)), id="refund-detail")
            yield Label(_("Amount ({currency})").format(currency=sale.amount.currency.code))
            yield Input(value=sale.refundable.major_str(), id="refund-amount", max_length=16)
            yield Label(_("Reason (optional)"))
            yield Input(placeholder=_("e.g. item returned"), id="refund-reason", max_length=256)
            yield Static("", id="refund-error")
            yield Static(_("Enter: refund      Tab: next field      Escape: cancel"), id="refund-keys")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#refund-amount", Input).focus()

    def on_input_changed(self, _event: Input.Changed) -> None:
        self.query_one("#refund-error", Static).update("")

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        sale = self.sale
        text = self.query_one("#refund-amount", Input).value.strip().replace(",", ".")
        try:
            amount = Money.of_major(text, sale.amount.currency)
        except AmountError:
            places = sale.amount.currency.minor_units
            example = "5" + ("." + "0" * places if places else "")
            how = _("key it like {example}, at most {places} decimals") if places else _("key it like {example}, no decimals")
            self.fail(_("{text} is not an amount in {currency}").format(text=repr(text), currency=sale.amount.currency.code)
                      + ": " + how.format(example=example, places=places))
            return
        if amount.minor <= 0:
            self.fail(_("A refund gives back more than 0"))
            return
        if amount > sale.refundable:
            money = self.pos.money
            self.fail(_("Too much: {amount} is more than the {left} left to refund (paid {paid}, refunded {refunded})")
                      .format(amount=money(amount), left=money(sale.refundable), paid=money(sale.amount),
                              refunded=money(sale.refunded)))
            return
        reason = self.query_one("#refund-reason", Input).value.strip() or None
        self.dismiss(RefundAsked(amount, reason))

    def fail(self, message: str) -> None:
        self.query_one("#refund-error", Static).update(Text(message))
        amount = self.query_one("#refund-amount", Input)
        amount.focus()
        amount.select_all()
        self.app.bell()


class JournalScreen(TerminalScreen):
    """The sales book: filter, receipt, void, refund."""

    BINDINGS = [
        Binding("v", "void", N_("Void")),
        Binding("r", "refund", N_("Refund")),
        Binding("slash", "filter", N_("Filter")),
        Binding("escape", "back", N_("Back")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sales: list[Sale] = []   # newest first
        self.loaded = False
        self.shown: dict[str, JournalRow] = {}

    def compose_face(self) -> ComposeResult:
        with Vertical(id="journal"):
            yield FilterInput(placeholder=_("filter: receipt, amount, state, result"), id="journal-filter")
            yield JournalTable(id="journal-table", cursor_type="row", zebra_stripes=True)
            yield Static(_("Reading the sales book..."), id="journal-count")

    def on_mount(self) -> None:
        table = self.query_one(JournalTable)
        for label, key in COLUMNS:
            table.add_column(_(label), key=key)
        self.query_one("#journal-filter", Input).focus()
        self.load()

    def on_screen_resume(self) -> None:
        if self.loaded:
            self.load()

    # --- the list -------------------------------------------------------------------------------

    def load(self, then_select: str | None = None) -> None:
        """Read the sales book again (in a worker) and show it, the highlighted row kept (or ``then_select``)."""
        def loaded(sales: list[Sale]) -> None:
            self.sales = list(reversed(sales))
            self.loaded = True
            self.show(then_select)

        self.pos.on_register(lambda register: register.book.sales(), loaded, N_("Reading the sales book"))

    def show(self, select: str | None = None) -> None:
        table = self.query_one(JournalTable)
        selected = self.selected()
        keep = select or (selected.receipt_number if selected else None)
        words = self.query_one("#journal-filter", Input).value.lower().split()
        table.clear()
        self.shown = {}
        matching = [sale for sale in self.sales if all(word in self.haystack(sale) for word in words)]
        for sale in matching:
            self.add_row(table, JournalRow(sale))
            for reversal in sale.reversals:
                self.add_row(table, JournalRow(sale, reversal))
        if keep in self.shown:
            table.move_cursor(row=table.get_row_index(keep))
        said = (_("{shown} of {count} sales").format(shown=len(matching), count=len(self.sales)) if words
                else _("{count} sales").format(count=len(self.sales)))
        self.query_one("#journal-count", Static).update(
            _("{sales}, newest first.  Type to filter, Enter: to the list;\n"
              "in the list: Enter receipt, v void, r refund, / back to the filter").format(sales=said))

    def add_row(self, table: JournalTable, row: JournalRow) -> None:
        money, sale, reversal = self.pos.money, row.sale, row.reversal
        if reversal is None:
            state = sale_state(sale)
            cells = (sale.receipt_number, self.when(sale.created_at), _(TENDER_SHORT.get(sale.tender, sale.tender)),
                     money(sale.amount), Text(state_word(state), style=STATE_STYLE.get(state, "")), sale.result_code or "",
                     self.reversed_summary(sale))
        else:
            state = reversal.state.value
            cells = (Text(f"└ {reversal.receipt_number}", style="dim"), self.when(reversal.created_at),
                     _(KIND_WORD[reversal.kind]), money(-reversal.amount),
                     Text(state_word(state), style=STATE_STYLE.get(state, "")),
                     reversal.result_code or "", reversal.reason or "")
        table.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in cells), key=row.receipt_number)  # no markup
        self.shown[row.receipt_number] = row

    def when(self, moment: datetime) -> str:
        """A time of today as "14:03"; of another day with its day and month as the merchant's language
        writes them ("21 Nov 14:03", "21 พ.ย. 14:03", "11月21日 14:03"; the receipt has it to the second)."""
        if moment.date() == datetime.now(moment.tzinfo).date():
            return moment.strftime("%H:%M")
        locale = written_locale(current(), self.pos.locale)
        return f"{format_skeleton('MMMd', moment, locale=locale)} {moment.strftime('%H:%M')}"

    def reversed_summary(self, sale: Sale) -> str:
        """What was voided or refunded of ``sale``, and what still waits for the gateway."""
        money, said = self.pos.money, []
        if sale.voided:
            said.append(_("voided"))
        if not sale.refunded.is_zero:
            said.append(_("refunded {amount}").format(amount=money(sale.refunded)))
        pending = sale.pending_reversal
        if pending is not None:
            said.append((_("void {amount} pending") if pending.kind is Kind.VOID else _("refund {amount} pending"))
                        .format(amount=money(pending.amount)))
        return ", ".join(said)

    def haystack(self, sale: Sale) -> str:
        """Everything the filter looks in for ``sale``: its numbers, amounts, states, codes, and its reversals'
        (the words as shown, and in English)."""
        money = self.pos.money
        tender = TENDER_SHORT.get(sale.tender, sale.tender)
        parts = [sale.receipt_number, sale.tender, tender, _(tender), money(sale.amount), sale.amount.major_str(),
                 sale.state.value, sale_state(sale), state_word(sale_state(sale)), sale.result_code or "",
                 self.reversed_summary(sale)]
        for reversal in sale.reversals:
            parts += [reversal.receipt_number, reversal.kind.value, _(KIND_WORD[reversal.kind]), reversal.state.value,
                      state_word(reversal.state.value), money(reversal.amount),
                      reversal.amount.major_str(), reversal.result_code or "", reversal.reason or ""]
        return " ".join(parts).lower()

    def selected(self) -> JournalRow | None:
        table = self.query_one(JournalTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.shown.get(key or "")

    # --- the filter -----------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "journal-filter" and self.loaded:
            self.show()
            table = self.query_one(JournalTable)
            if table.row_count:
                table.move_cursor(row=0)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "journal-filter":
            self.action_to_list()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        on_filter = isinstance(self.focused, Input)
        if action in ("void", "refund", "filter"):
            return not on_filter  # letters typed in the filter are the filter's
        return True

    def action_filter(self) -> None:
        self.query_one("#journal-filter", Input).focus()

    def action_to_list(self) -> None:
        self.query_one(JournalTable).focus()

    # --- receipt, void, refund ------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from pos_sim.tui.screens.receipt import ReceiptScreen

        row = self.shown.get(event.row_key.value or "")
        if row is not None:
            self.app.push_screen(ReceiptScreen(row.receipt_number))

    def reversible(self, kind: Kind) -> Sale | None:
        """The highlighted sale (a void's or refund's row stands for its sale) if it can be voided or refunded
        (``kind``), as far as the journal knows; else None, said why. The register checks again (batch, day)
        before it sends anything."""
        title = _(KIND_WORD[kind])
        row = self.selected()
        if row is None:
            self.notify(_("No sale chosen"), title=title, severity="warning")
            return None
        sale = row.sale
        if not sale.approved:
            self.notify(_("{receipt} is {state}: no payment was taken").format(
                receipt=sale.receipt_number, state=state_word(sale_state(sale))), title=title, severity="warning")
            return None
        if sale.voided:
            self.notify(_("{receipt} is voided already").format(receipt=sale.receipt_number), title=title,
                        severity="warning")
            return None
        return sale

    def action_void(self) -> None:
        sale = self.reversible(Kind.VOID)
        if sale is None:
            return
        number, amount = sale.receipt_number, self.pos.money(sale.amount)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.pos.on_register(lambda register: register.void(number), self.reversed, N_("The void"))

        self.app.push_screen(ConfirmScreen(_("Void {receipt} {amount}?").format(receipt=number, amount=amount),
                                           _("The payment is cancelled and the customer gets {amount} back.")
                                           .format(amount=amount)), confirmed)

    def action_refund(self) -> None:
        sale = self.reversible(Kind.REFUND)
        if sale is None:
            return
        if sale.refundable.minor <= 0:
            self.notify(_("{receipt} is refunded in full already").format(receipt=sale.receipt_number),
                        title=_("Refund"), severity="warning")
            return
        number = sale.receipt_number

        def asked(refund: RefundAsked | None) -> None:
            if refund is not None:
                self.pos.on_register(lambda register: register.refund(number, refund.amount, refund.reason),
                                     self.reversed, N_("The refund"))

        self.app.push_screen(RefundScreen(sale), asked)

    def reversed(self, reversal: Reversal) -> None:
        """A void's or refund's outcome, said; the list and the customer's wallet read again."""
        void, money = reversal.kind is Kind.VOID, self.pos.money(reversal.amount)
        title = (_("Void of {receipt}") if void else _("Refund of {receipt}")).format(receipt=reversal.sale_receipt)
        if reversal.state is ReversalState.DONE:
            self.notify((_("Voided {amount}: back to the customer. Receipt {receipt}") if void else
                         _("Refunded {amount}: back to the customer. Receipt {receipt}"))
                        .format(amount=money, receipt=reversal.receipt_number), title=title, timeout=8)
        elif reversal.state is ReversalState.REFUSED:
            why = f"{reversal.result_code or ''} {reversal.result_message or ''}".strip()
            self.notify(_("Refused by the wallet provider: {why}. Nothing moved.").format(why=why),
                        title=title, severity="error", timeout=10, markup=False)
        else:
            self.notify(_("The gateway has not answered: {receipt} is sent again when the register opens. "
                          "Do not give the money back by other means meanwhile.").format(receipt=reversal.receipt_number),
                        title=title, severity="warning", timeout=10)
        self.load(then_select=reversal.sale_receipt)
        self.pos.refresh_wallet()

    def action_back(self) -> None:
        self.app.pop_screen()

