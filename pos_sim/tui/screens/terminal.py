"""The frame every terminal screen shares: a title line (merchant, terminal, operator, training
banner), the terminal's face, the customer's wallet beside it (against the simulator), the keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker

from pos_sim.language import _
from pos_sim.tui.app import TerminalPart
from pos_sim.tui.widgets.wallet import WalletPane


class TerminalScreen(TerminalPart, Screen[None]):
    """A screen of the terminal: subclasses yield the face from ``compose_face``."""

    def compose(self) -> ComposeResult:
        yield Static(self.title_line(), id="title-line")
        if self.pos.training:
            yield Static(_("TRAINING MODE - no real money moves"), id="training-banner")
        with Horizontal(id="body"):
            with Vertical(id="face"):
                yield from self.compose_face()
            if self.pos.customers:
                yield WalletPane()
        yield Footer()

    def compose_face(self) -> ComposeResult:
        yield from ()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A screen's own workers fail where the app's do: in its one handler."""
        self.pos.on_worker_state_changed(event)

    def title_line(self) -> str:
        pos = self.pos
        register = pos.register
        settings = register.settings if register else pos.settings
        merchant = settings.merchant_name or (register.catalogue.name if register else "")
        operator = "  " + _("operator {id}").format(id=pos.operator) if pos.operator else ""
        return (f"{merchant}  " + _("terminal {id}").format(id=settings.terminal_id) + "  "
                + _("store {id}").format(id=settings.store_id) + operator)
