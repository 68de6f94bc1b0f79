"""End of day: the X report (the open batch's running totals) and the Z report (the same, and the batch
closed), as the receipt printer prints them, in the register's receipt columns.

Either report is reconciled with the gateway first (an inquiry for every payment and refund of the
batch, over HTTP: it may take a moment, and the screen says so meanwhile). Where the gateway and
the terminal disagree, the report's mismatch lines are highlighted and the line above the report
says so. A Z report asks first: it closes the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from pos_sim.domain.receipt import TRAINING_STAMP
from pos_sim.terminal import reports
from pos_sim.terminal.register import Register
from pos_sim.language import N_, _
from pos_sim.tui.screens.terminal import TerminalScreen

HELP = N_("x  X report: the open batch's running totals; the batch stays open\n"
          "z  Z report: the batch's totals, and the batch closed (a new one opens)\n"
          "Both check every payment and refund of the batch with the gateway first.")


def report_text(report: reports.Report, width: int) -> Text:
    """The report's lines, the title bold, unresolved sales in yellow, the gateway check green when all
    agree and its mismatches bold red."""
    text = Text(no_wrap=True, end="")
    lines = reports.layout(report, width)
    title = next((line.strip() for line in lines if line.strip() and line.strip() != _(TRAINING_STAMP)), "")
    section = "head"
    for index, line in enumerate(lines):
        if index:
            text.append("\n")
        style = ""
        if line.startswith(reports.unresolved_label()):
            section = "unresolved"
            style = "bold yellow" if report.unresolved else ""
        elif line.startswith(reports.gateway_check_label()):
            section = "check"
            style = "bold red" if report.mismatches else "bold green"
        elif line.startswith("-" * width):
            section = "body" if section != "check" else section
        elif section == "unresolved" and line.startswith("  "):
            style = "yellow"
        elif section == "check" and report.mismatches and line.startswith("  ") and _(TRAINING_STAMP) not in line:
            style = "bold red"
        elif index < 4 and line.strip() and line.strip() == title:
            style = "bold"
        text.append(line, style=style)
    return text


class ReportsScreen(TerminalScreen):
    """X and Z reports, shown as printed."""

    BINDINGS = [
        Binding("x", "report('X')", N_("X report")),
        Binding("z", "report('Z')", N_("Z report (close batch)")),
        Binding("escape", "back", N_("Back")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.report: reports.Report | None = None

    def compose_face(self) -> ComposeResult:
        with Vertical(id="reports"):
            yield Static(_(HELP), id="report-help")
            yield Static("", id="report-status")
            with VerticalScroll(id="report-paper"):
                yield Static("", id="report")

    def on_mount(self) -> None:
        register = self.pos.register
        width = (register.settings if register else self.pos.settings).receipt_width
        self.query_one("#report-paper").styles.width = width + 5  # and a scroll bar
        self.query_one("#report-paper").display = False

    def action_report(self, kind: str) -> None:
        if self.busy:
            self.notify(_("A report is under way: wait for it"), severity="warning", timeout=3)
            return
        if self.pos.register is None:
            self.notify(_("Sign in first"), severity="warning")
            return
        if kind == "Z":
            from pos_sim.tui.screens.journal import ConfirmScreen

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self.run_report("Z", Register.z_report)

            self.app.push_screen(ConfirmScreen(_("Close the batch with a Z report?"),
                                               _("Its totals become final, and the next sales go in a new batch.")), confirmed)
            return
        self.run_report("X", Register.x_report)

    def run_report(self, kind: str, make: Callable[[Register], reports.Report]) -> None:
        self.busy = True
        self.status(_("Reconciling with the gateway... ({kind} report)").format(kind=kind), "busy")

        # refused (a batch that cannot close yet) or the gateway unreachable: said here
        self.pos.on_register(make, self.show, N_("The report"), failed=partial(self.not_done, kind))

    def show(self, report: reports.Report) -> None:
        self.busy = False
        self.report = report
        register = self.pos.register
        width = (register.settings if register else self.pos.settings).receipt_width
        paper = self.query_one("#report-paper")
        paper.display = True
        self.query_one("#report", Static).update(report_text(report, width))
        paper.scroll_home(animate=False)
        head = (_("Batch {batch} closed: a new batch is open.") if report.closed else _("X report of batch {batch}:")).format(
            batch=report.batch) + " "
        count = len(report.mismatches)
        if count:
            self.status(head + _("mismatches with the gateway: {count} (in red below): a person should look into them")
                        .format(count=count), "mismatch")
        elif report.checked:
            self.status(head + _("{count} checked with the gateway, all agree").format(count=report.checked), "agree")
        else:
            self.status(head + _("no payments to check with the gateway"), "agree")

    def not_done(self, kind: str, error: BaseException) -> None:
        self.busy = False
        self.pos.show_error(N_("The report"), error)
        self.status(_("The {kind} report was not done: {error}").format(kind=kind, error=error), "mismatch")

    def status(self, text: str, kind: str) -> None:
        line = self.query_one("#report-status", Static)
        line.update(Text(text))
        line.set_classes(kind)

    def action_back(self) -> None:
        self.app.pop_screen()
