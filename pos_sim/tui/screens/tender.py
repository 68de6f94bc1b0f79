"""How the customer pays: a choice of four tenders, by key or by arrow and Enter."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from pos_sim.domain.money import Money
from pos_sim.domain.receipt import Tender
from pos_sim.language import N_, _
from pos_sim.tui.app import TerminalPart

CHOICES = (
    (Tender.CUSTOMER_CODE, "1", N_("Customer code"), N_("scan the code in the customer's wallet app")),
    (Tender.ORDER_CODE, "2", N_("Order code"), N_("show a QR for this sale; the customer scans it")),
    (Tender.ENTRY_CODE, "3", N_("Entry code"), N_("the customer scans the store's printed QR and keys the amount")),
    (Tender.WALLET_TAP, "4", N_("Phone tap"), N_("the customer taps a phone wallet on the reader")),
)


class TenderScreen(TerminalPart, ModalScreen[Tender | None]):
    """Choose the tender for ``amount``; dismissed with it, or None on Escape."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Back")),
                *(Binding(key, f"choose('{tender.name}')", title, show=False) for tender, key, title, _ in CHOICES)]

    def __init__(self, amount: Money) -> None:
        super().__init__()
        self.amount = amount

    def compose(self) -> ComposeResult:
        with Vertical(id="tender-box"):
            yield Static(_("Pay {amount} by").format(amount=self.pos.money(self.amount)), id="tender-title")
            yield OptionList(*(Option(f"{key}  {_(title)}  [dim]{_(hint)}[/]", id=tender.name)
                               for tender, key, title, hint in CHOICES),
                             id="tenders")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_choose(event.option.id or "")

    def action_choose(self, name: str) -> None:
        self.dismiss(Tender[name])
