"""The journal, the receipt and the X/Z report screens, driven by keys against a real simulated backend
on a loopback port: what the cashier sees, and what moves in the customer's wallet."""

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from pos_sim.backend import server
from pos_sim.domain.money import Money
from pos_sim.scenarios.simulator import Simulator
from pos_sim.terminal.settings import TerminalSettings
from pos_sim.tui.app import Connection, Customer, PosApp
from pos_sim.tui.screens.journal import ConfirmScreen, JournalScreen, RefundScreen
from pos_sim.tui.screens.payment import ResultScreen, ScanScreen
from pos_sim.tui.screens.receipt import ReceiptScreen
from pos_sim.tui.screens.reports import ReportsScreen
from pos_sim.tui.screens.sale import SaleScreen

SIZE = (120, 40)


class Terminal(PosApp):
    """The app, with every notification it shows kept for the test to read."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.said: list[tuple[str, str, str]] = []  # severity, title, message

    def notify(self, message: str, *, title: str = "", severity="information", timeout=None, markup: bool = True) -> None:
        self.said.append((severity, title, message))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


@pytest.fixture
def bench(tmp_path, keyed):
    """A running simulator, a customer with SGD 50.00, and the settings of a terminal against it."""
    running = server.start(server.open_gateway(keyed(tmp_path / "backend")))
    simulator = Simulator(running.url)
    wallet = simulator.open_wallet(Money.of_major("50.00", "SGD"), "Tan Ah Kow")
    settings = TerminalSettings.build({"gateway.url": running.url, "gateway.simulator_data_dir": tmp_path / "backend",
                                       "journal_dir": tmp_path / "terminal", "polling.interval_s": 0.2})
    yield simulator, wallet, settings
    simulator.close()
    running.stop()


def run(bench, scenario: Callable[[Terminal, Pilot, Simulator, str], object]) -> None:
    simulator, wallet, settings = bench

    async def main() -> None:
        app = Terminal(lambda: Connection(settings, simulator, (Customer("Tan Ah Kow", wallet),)))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.connection is not None and app.screen.__class__.__name__ == "SignInScreen")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, SaleScreen))
            await scenario(app, pilot, simulator, wallet)

    asyncio.run(main())


async def until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    waited = 0.0
    while not condition():
        if waited > timeout:
            raise AssertionError("timed out waiting for the screen")
        await pilot.pause(0.05)
        waited += 0.05


def balance(simulator: Simulator, wallet: str) -> str:
    return simulator.balance(wallet).major_str()


async def sell(app: Terminal, pilot: Pilot, simulator: Simulator, wallet: str, amount: str) -> None:
    """Key ``amount``, take it by the customer's code (typed by the scanner), and come back to the sale screen's result."""
    await until(pilot, lambda: getattr(app.focused, "id", None) == "entry")  # keys pressed before are lost
    await pilot.press(*amount, "enter")
    await until(pilot, lambda: not app.register.cart.is_empty)
    await pilot.press("f5", "1")
    await until(pilot, lambda: isinstance(app.screen, ScanScreen))
    app.focused.post_message(events.Paste(simulator.payment_code(wallet).code))  # the code pasted in the scan screen's line
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, ResultScreen))
    assert app.screen.sale.approved


def cells(app: Terminal, receipt_number: str) -> list[str]:
    """The journal row of ``receipt_number`` as the cashier reads it."""
    table = app.screen.query_one(DataTable)
    return [str(cell) for cell in table.get_row(receipt_number)]


def shown(app: Terminal, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


async def open_journal_on_newest(app: Terminal, pilot: Pilot) -> None:
    await pilot.press("enter")  # the result screen: new sale
    await until(pilot, lambda: isinstance(app.screen, SaleScreen))
    await pilot.press("f2")
    await until(pilot, lambda: isinstance(app.screen, JournalScreen) and app.screen.loaded)
    await pilot.press("enter")  # from the filter to the list, the newest sale highlighted


def test_void_from_the_journal_shows_the_void_and_gives_the_money_back(bench):
    async def scenario(app, pilot, simulator, wallet):
        await sell(app, pilot, simulator, wallet, "12.50")
        assert balance(simulator, wallet) == "37.50"
        await open_journal_on_newest(app, pilot)
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert shown(app, "#confirm-question") == "Void T01-000001 $12.50?"
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, JournalScreen) and "T01-000002" in app.screen.shown)
        sale = cells(app, "T01-000001")
        assert sale[4] == "VOIDED" and sale[6] == "voided"
        void = cells(app, "T01-000002")
        assert void[2:5] == ["Void", "-$12.50", "DONE"]
        assert any("Voided $12.50" in message for _, _, message in app.said)
        assert balance(simulator, wallet) == "50.00"

    run(bench, scenario)


def test_a_partial_refund_moves_exactly_that_amount_back(bench):
    async def scenario(app, pilot, simulator, wallet):
        await sell(app, pilot, simulator, wallet, "12.50")
        await open_journal_on_newest(app, pilot)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RefundScreen))
        assert app.screen.query_one("#refund-amount").value == "12.50"  # all that is left, by default
        await pilot.press(*"4.20", "tab", *"spilt", "enter")  # the default is selected: keying replaces it
        await until(pilot, lambda: isinstance(app.screen, JournalScreen) and "T01-000002" in app.screen.shown)
        assert cells(app, "T01-000001")[4] == "PART REFUND"
        assert cells(app, "T01-000001")[6] == "refunded $4.20"
        assert cells(app, "T01-000002")[2:] == ["Refund", "-$4.20", "DONE", "SUCCESS", "spilt"]
        assert balance(simulator, wallet) == "41.70"

    run(bench, scenario)


def test_refunding_more_than_was_paid_is_refused_in_the_dialog_and_moves_nothing(bench):
    async def scenario(app, pilot, simulator, wallet):
        await sell(app, pilot, simulator, wallet, "12.50")
        await open_journal_on_newest(app, pilot)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RefundScreen))
        await pilot.press(*"12.51", "enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, RefundScreen)
        assert shown(app, "#refund-error") == ("Too much: $12.51 is more than the $12.50 left to refund "
                                               "(paid $12.50, refunded $0.00)")
        await pilot.press(*"1.234", "enter")
        await pilot.pause(0.2)
        assert "not an amount in SGD" in shown(app, "#refund-error")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, JournalScreen))
        await pilot.pause(0.3)
        assert list(app.screen.shown) == ["T01-000001"]  # no refund row
        assert cells(app, "T01-000001")[4] == "APPROVED"
        assert balance(simulator, wallet) == "37.50"
        assert app.register.book.reversals() == []

    run(bench, scenario)


def test_a_z_report_shows_the_totals_and_closes_the_batch(bench):
    async def scenario(app, pilot, simulator, wallet):
        await sell(app, pilot, simulator, wallet, "12.50")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SaleScreen))
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, ReportsScreen))
        assert shown(app, "#report") == ""  # nothing until a key says which report
        await pilot.press("z")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ReportsScreen) and app.screen.report is not None)
        lines = shown(app, "#report").splitlines()
        assert "Z REPORT - BATCH CLOSED" in lines[0]
        assert any(line.split() == ["Sales", "1", "12.50"] for line in lines)
        assert any(line.split() == ["NET", "SGD", "12.50"] for line in lines)
        assert any(line.split() == ["Gateway", "check", "1,", "all", "agree"] for line in lines)
        assert shown(app, "#report-status").startswith("Batch 1 closed")

        await pilot.press("x")
        await until(pilot, lambda: app.screen.report.kind == "X")
        lines = shown(app, "#report").splitlines()
        assert "X REPORT - RUNNING TOTALS" in lines[0]
        assert any(line.split() == ["Batch", "2"] for line in lines)
        assert "No payments in this batch" in lines
        assert not any(line.split()[:1] == ["Sales"] for line in lines)

    run(bench, scenario)


def test_the_receipt_screen_saves_a_png_and_prints_esc_pos_to_a_file(bench):
    async def scenario(app, pilot, simulator, wallet):
        await sell(app, pilot, simulator, wallet, "12.50")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ReceiptScreen) and app.screen.receipt is not None)
        assert "TOTAL" in shown(app, "#receipt") and "CUSTOMER COPY" in shown(app, "#receipt")
        await pilot.press("c")
        assert "MERCHANT COPY" in shown(app, "#receipt")
        folder = Path(app.settings.journal_dir) / "receipts"
        png, text, escpos = (folder / f"T01-000001-merchant.{suffix}" for suffix in ("png", "txt", "escpos"))

        await pilot.press("s")
        await until(pilot, lambda: text.exists())
        with Image.open(png) as image:
            image.load()
            assert image.width > 400 and image.height > image.width
        assert "MERCHANT COPY" in text.read_text(encoding="utf-8")
        assert any(title == "Receipt saved" and str(png) in message for _, title, message in app.said)

        await pilot.press("p")
        await until(pilot, lambda: escpos.exists())
        assert escpos.read_bytes().startswith(b"\x1b@")
        assert any(f"printed to {escpos}" in message for _, _, message in app.said)

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ResultScreen))

    run(bench, scenario)
