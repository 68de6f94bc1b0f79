"""Operator sign-in: who is at the till, and whether this is a training session."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static

from pos_sim.language import N_, _
from pos_sim.tui.app import Connection, TerminalPart


class SignInScreen(TerminalPart, Screen[None]):
    """The first screen: an operator id and the training switch."""

    BINDINGS = [("enter", "sign_in", N_("Sign in"))]

    def compose(self) -> ComposeResult:
        with Center(id="sign-in"):
            with Vertical(id="sign-in-box"):
                yield Static(_("pos-sim payment terminal"), id="sign-in-title")
                yield Static(_("Reaching the gateway..."), id="sign-in-gateway")
                yield Label(_("Operator"))
                yield Input(value="01", placeholder=_("operator id"), id="operator", max_length=16)
                yield Checkbox(_("Training mode (simulator only, receipts stamped)"), id="training-mode")
                yield Button(_("Sign in"), id="sign-in-button", variant="primary", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#operator", Input).focus()
        self.watch(self.pos, "connection", self.connected)
        self.watch(self.pos, "connect_error", self.not_connected)

    def connected(self, connection: Connection | None) -> None:
        if connection is None:
            return
        settings = connection.settings
        self.query_one("#sign-in-title", Static).update(_("pos-sim payment terminal") + f" {settings.terminal_id}")
        simulator = _("the pos-sim simulator") if connection.simulator is not None else _("a payment gateway")
        self.query_one("#sign-in-gateway", Static).update(_("Gateway {url} ({what})").format(url=settings.gateway.url,
                                                                                             what=simulator))
        self.query_one("#training-mode", Checkbox).value = settings.training
        self.query_one("#sign-in-button", Button).disabled = False

    def not_connected(self, error: str | None) -> None:
        if error is not None:
            self.query_one("#sign-in-gateway", Static).update(
                f"[b red]{_('The gateway cannot be reached:')}[/] {error}\n"
                + _("Quit with ctrl+q and check the settings (pos-sim settings)."))

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_sign_in()

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.action_sign_in()

    def action_sign_in(self) -> None:
        if self.pos.connection is None:
            self.notify(_("Still reaching the gateway"), severity="warning")
            return
        operator = self.query_one("#operator", Input).value.strip()
        if not operator:
            self.notify(_("Give an operator id"), severity="warning")
            return
        training = self.query_one("#training-mode", Checkbox).value
        self.query_one("#sign-in-button", Button).disabled = True

        def signed_in() -> None:
            from pos_sim.tui.screens.sale import SaleScreen

            self.app.switch_screen(SaleScreen())

        self.pos.sign_in(operator, training, signed_in)
        self.set_timer(0.5, self._enable)

    def _enable(self) -> None:
        if self.is_current:
            self.query_one("#sign-in-button", Button).disabled = False
