"""The customer's side, beside the terminal: a demo wallet's balance and payment code, and what the
customer can do with it (show the code to the scanner, scan the terminal's code, tap the phone).

It shows the app's ``wallet`` (the chosen customer, read from the simulator) and asks the app for a
fresh code a few seconds before the shown one expires, as a wallet app does.
"""

from __future__ import annotations

from datetime import datetime, timezone

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Label, Static

from pos_sim.language import NAMES, N_, _, for_customer
from pos_sim.tui.app import TerminalPart, WalletView, damage_word
from pos_sim.tui.widgets.qr import QrCode

REFRESH_EVERY_S = 1.0
ASK_AGAIN_S = 5.0  # a refresh asked for and not yet come is not asked again sooner



class WalletPane(TerminalPart, Vertical):
    """The chosen customer's wallet."""

    DEFAULT_CSS = """
    WalletPane { width: 38; border: round $secondary; padding: 0 1; }
    WalletPane.ride { width: 53; }
    WalletPane #wallet-name { text-style: bold; }
    WalletPane #wallet-keys { color: $text-muted; margin-top: 1; }
    """

    def __init__(self) -> None:
        super().__init__(id="wallet")
        self._asked_at: float | None = None

    def compose(self) -> ComposeResult:
        yield Label("", id="wallet-name")
        yield Label("", id="wallet-balance")
        yield QrCode(id="wallet-qr")
        yield Label("", id="wallet-code")
        yield Label("", id="wallet-expiry")
        yield Static("", id="wallet-damage")
        yield Static(self.keys(), id="wallet-keys")

    def keys(self) -> str:
        """The customer's keys, then the presenter's (the app's own bindings, shown here, not in the footer)."""
        bindings = [binding for binding in self.pos.BINDINGS if isinstance(binding, Binding)]
        return "\n".join(f"{binding.key:<7}{_(binding.description)}" for binding in bindings)

    def on_mount(self) -> None:
        self.border_title = _("Customer's wallet")
        self.watch(self.app, "wallet", self.show)
        self.watch(self.app, "damage", self.show_damage)
        self.set_interval(REFRESH_EVERY_S, self.tick)

    def show(self, view: WalletView | None) -> None:
        if view is None:
            self.query_one("#wallet-name", Label).update(_("No demo wallet"))
            return
        self._asked_at = None
        customer = view.customer.language
        self.query_one("#wallet-name", Label).update(f"{view.customer.name}  ({NAMES[customer]})")
        balance = "..." if view.balance is None else self.pos.money(view.balance)
        self.query_one("#wallet-balance", Label).update(for_customer(N_("Balance {amount}"), customer)
                                                        .format(amount=balance))
        code = view.code
        self.query_one("#wallet-qr", QrCode).payload = code.code if code else ""
        self.set_class(view.ride, "ride")  # a ride code's QR (version 6) is wider than a payment code's
        text = "" if code is None else f"{code.code[:24]}..." if view.ride else \
            " ".join(code.code[i:i + 4] for i in range(0, len(code.code), 4))
        self.query_one("#wallet-code", Label).update(text)
        self.tick()

    def show_damage(self, damage: str) -> None:
        self.query_one("#wallet-damage", Static).update(_("Scan damage: {damage}").format(damage=damage_word(damage)))

    def tick(self) -> None:
        """The code's countdown; a fresh code asked for when it is about to expire."""
        view = self.pos.wallet
        if view is None or view.code is None:
            return
        now = datetime.now(timezone.utc)
        left = int((view.code.expires_at - now).total_seconds())
        said = ((N_("Ride code valid {seconds} s") if view.ride else N_("Code valid {seconds} s")) if left > 0
                else N_("Ride code expired") if view.ride else N_("Code expired"))
        self.query_one("#wallet-expiry", Label).update(
            for_customer(said, view.customer.language).format(seconds=max(left, 0)))
        clock = now.timestamp()
        if self.pos.code_is_stale(now) and (self._asked_at is None or clock - self._asked_at > ASK_AGAIN_S):
            self._asked_at = clock
            self.pos.refresh_wallet()
