"""SVG snapshots of every screen at a fixed terminal size (pytest-textual-snapshot): what the terminal
looks like, compared with the accepted pictures in __snapshots__/ (update them with
`pytest tests/tui/test_snapshots.py --snapshot-update`, then look at each one changed).

The pictures must not change from run to run, so the clock is frozen (time-machine), the paths
shown are fixed, the sales shown are booked with fixed ids rather than paid at the simulator (whose
payment ids and codes are random), and the customer's wallet shows a fixed code. The flows behind
these screens are tested against the real simulator in the other tests of this folder.
"""

import asyncio
import fcntl
import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from textual import events
from textual.widgets import Input

from pos_sim.backend.store import keys
from pos_sim.backend.server import DEMO_CLIENT_ID
from pos_sim.domain.money import Money
from pos_sim.domain.cart import Cart
from pos_sim.domain.receipt import Tender
from pos_sim.language import Phrase
from pos_sim.scenarios.simulator import WalletCode
from pos_sim.terminal.authorize import MerchantCode
from pos_sim.terminal.journal import State
from pos_sim.terminal.register import receipt_lines, tax_lines
from pos_sim.terminal.settings import TerminalSettings
from pos_sim.tui.app import Connection, Customer, PosApp, ShownCode, WalletView
from pos_sim.tui.screens.payment import AuthorisingScreen, OrderCodeScreen, ResultScreen
from pos_sim.tui.screens.sale import SaleScreen

SIZE = (120, 36)
NOW = datetime(2026, 11, 21, 10, 30, tzinfo=timezone.utc)
FIXED = Path(tempfile.gettempdir()) / "pos-sim-snapshots"  # the paths the settings screen shows
GATEWAY = "http://127.0.0.1:8360"  # never reached: these screens make no payment
ALICE = Customer("Alice Tan", "W-ALICE")

pytestmark = pytest.mark.xdist_group("snapshots")  # one fixed folder (FIXED): these run one at a time, in one worker


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def settings():
    # FIXED is one folder for every run on the machine: a second run at once (a CI rehearsal beside a test run) would
    # remove and rewrite its keys under this one's app; each test holds it, and another run's waits
    with open(FIXED.with_name(FIXED.name + ".lock"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        shutil.rmtree(FIXED, ignore_errors=True)
        key_dir = FIXED / "backend" / "keys"
        keys.ensure_key_pair(key_dir / "gateway_private.pem", key_dir / "gateway_public.pem")
        keys.ensure_key_pair(key_dir / f"{DEMO_CLIENT_ID}_private.pem", key_dir / f"{DEMO_CLIENT_ID}_public.pem")
        yield TerminalSettings.build({"gateway.url": GATEWAY, "gateway.simulator_data_dir": FIXED / "backend",
                                      "journal_dir": FIXED / "terminal", "time_zone": "Asia/Singapore"})
        shutil.rmtree(FIXED, ignore_errors=True)


class Steady(PosApp):
    """The app with nothing that blinks or spins: the same picture whenever it is taken."""

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, Input):
            event.widget.cursor_blink = False


def app_of(settings, customers=()) -> PosApp:
    app = Steady(lambda: Connection(settings, None, tuple(customers)))
    app.animation_level = "none"  # the loading indicator still
    return app


async def until(pilot, condition) -> None:
    for _ in range(200):
        if condition():
            await pilot.pause()
            return
        await pilot.pause(0.05)
    raise AssertionError(f"the app did not get there; it shows {type(pilot.app.screen).__name__}")


async def signed_in(pilot) -> None:
    await until(pilot, lambda: pilot.app.connection is not None and pilot.app.screen.query("#operator"))
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, SaleScreen))


async def with_cart(pilot) -> None:
    await signed_in(pilot)
    for barcode in ("21000010", "21000119"):
        await pilot.press(*barcode, "enter")
        await until(pilot, lambda n=len(pilot.app.register.cart.lines): len(pilot.app.register.cart.lines) > n - 1)
    await pilot.press(*"2.50", "enter")
    await until(pilot, lambda: len(pilot.app.register.cart.lines) == 3)


def book(register, state: State, result_code: str | None, amount: str, at: datetime = NOW):
    """A sale of a keyed amount written to the register's book as a payment would leave it, with fixed ids."""
    cart = Cart.for_catalogue(register.catalogue).add_keyed_amount(Money.of_major(amount, "SGD"))
    sale = register.book.open_sale(f"POS{len(register.book.sales()):032d}", Tender.CUSTOMER_CODE.value, cart.total,
                                   receipt_lines(cart), cart.subtotal, tax_lines(cart), "2510 **** **** 2345", at)
    paid = state is State.APPROVED
    return register.book.settle_sale(sale.receipt_number, state, result_code=result_code,
                                      result_message="paid" if paid else "declined",
                                      payment_id="P20261121SNAPSHOT" + sale.receipt_number[-4:] if paid else None)


def test_sign_in(snap_compare, settings, frozen):
    async def connected(pilot):
        await until(pilot, lambda: pilot.app.connection is not None)

    assert snap_compare(app_of(settings), terminal_size=SIZE, run_before=connected)


def test_sale_with_a_cart(snap_compare, settings, frozen):
    assert snap_compare(app_of(settings), terminal_size=SIZE, run_before=with_cart)


def test_sale_beside_the_customers_wallet(snap_compare, settings, frozen):
    app = app_of(settings, [ALICE])

    async def run_before(pilot):
        await with_cart(pilot)
        app.wallet = WalletView(ALICE, Money.of_major("48.20", "SGD"),
                                WalletCode("251001028443068623090718", NOW + timedelta(seconds=55)))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_tender_choice(snap_compare, settings, frozen):
    assert snap_compare(app_of(settings), terminal_size=SIZE, run_before=with_cart, press=["f5"])


def test_scan_the_customers_code(snap_compare, settings, frozen):
    assert snap_compare(app_of(settings), terminal_size=SIZE, run_before=with_cart, press=["f5", "1"])


def test_authorising_while_the_outcome_is_checked(snap_compare, settings, frozen):
    app = app_of(settings)

    async def run_before(pilot):
        await with_cart(pilot)
        app.payment_state = State.RESOLVING
        app.push_screen(AuthorisingScreen(Tender.CUSTOMER_CODE, app.register.cart.total))
        await until(pilot, lambda: app.screen.query("#authorising-status"))
        app.screen.started = time.monotonic()  # "0 s" on the picture, however long a busy machine took to get here
        app.screen.tick()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_order_code(snap_compare, settings, frozen):
    app = app_of(settings)

    async def run_before(pilot):
        await with_cart(pilot)
        code = MerchantCode("OrderCode", "https://qr.simwallet.test/o/SNAPSHOT-ORDER1", NOW + timedelta(minutes=2), "P1")
        app.payment_state = State.RESOLVING
        app.push_screen(OrderCodeScreen(ShownCode(code, code.value), app.register.cart.total))
        await until(pilot, lambda: app.screen.query("#merchant-qr"))

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize(("state", "result_code"), [(State.APPROVED, "SUCCESS"), (State.DECLINED, "USER_BALANCE_NOT_ENOUGH")])
def test_result(snap_compare, settings, frozen, state, result_code):
    app = app_of(settings)

    async def run_before(pilot):
        await signed_in(pilot)
        app.push_screen(ResultScreen(book(app.register, state, result_code, "12.50")))
        await until(pilot, lambda: app.screen.query("#result-title"))

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_receipt_preview(snap_compare, settings, frozen):
    app = app_of(settings)

    async def run_before(pilot):
        await signed_in(pilot)
        sale = book(app.register, State.APPROVED, "SUCCESS", "12.50")
        app.push_screen(ResultScreen(sale))
        await until(pilot, lambda: app.screen.query("#result-title"))
        await pilot.press("r")
        await until(pilot, lambda: app.screen.query("#receipt") and "Reading" not in str(app.screen.query_one("#receipt").render()))

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_journal(snap_compare, settings, frozen):
    app = app_of(settings)

    async def run_before(pilot):
        await signed_in(pilot)
        book(app.register, State.APPROVED, "SUCCESS", "12.50")
        book(app.register, State.DECLINED, "USER_BALANCE_NOT_ENOUGH", "80.00")
        book(app.register, State.APPROVED, "SUCCESS", "3.20")
        await pilot.press("f2")
        await until(pilot, lambda: app.screen.query("DataTable") and app.screen.query_one("DataTable").row_count == 3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize(("lang", "written"), [("en", "20 Nov"), ("th", "20 พ.ย."), ("ja", "11月20日"), ("zh_Hant", "11月20日")])
def test_the_journal_dates_an_earlier_days_sale_as_the_merchants_language_writes_it(settings, frozen, lang, written):
    """Today's sales by their time, an earlier day's with its day and month in the merchant's language (the shop's
    locale, en_SG, for English: "20 Nov", not "Nov 20")."""
    app, _customer = speaking(settings, lang)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await signed_in(pilot)
            book(app.register, State.APPROVED, "SUCCESS", "3.20", NOW - timedelta(days=1))
            book(app.register, State.APPROVED, "SUCCESS", "12.50")
            await pilot.press("f2")
            await until(pilot, lambda: app.screen.query("DataTable") and app.screen.query_one("DataTable").row_count == 2)
            table = app.screen.query_one("DataTable")
            times = [str(table.get_cell_at((row, 1))) for row in range(2)]  # newest first
            assert times == ["10:30", f"{written} 10:30"], times  # the sales' own clock (NOW, in UTC)

    asyncio.run(scenario())


def test_reports(snap_compare, settings, frozen):
    assert snap_compare(app_of(settings), terminal_size=SIZE, run_before=signed_in, press=["f3"])


def test_settings(snap_compare, settings, frozen):
    assert snap_compare(app_of(settings), terminal_size=SIZE, run_before=signed_in, press=["f4"])


def test_training_exercises(snap_compare, settings, frozen):
    assert snap_compare(app_of(settings), terminal_size=SIZE, run_before=signed_in, press=["f8"])


def gate_decision(at: str, decision: str, reason: str, message: str, ms: float, fare: str | None = None, detail: str = ""):
    """A decision of the exit gate at M12 as ``Gate.decide`` makes one (its words ``Phrase``s, shown in the
    merchant's language), with fixed ids and times."""
    from pos_sim.terminal.gate import BALANCE_LATER, Decision, Direction, GateReason

    when = datetime.fromisoformat(f"2026-11-21T{at}+08:00")
    money = Money.of_major(fare, "SGD") if fare else None
    fare_text = Phrase("Fare {fare} from {station} (before any daily or weekly cap)", fare=f"{fare} SGD", station="M01")
    return Decision(f"00000000-0000-4000-8000-{at.replace(':', ''):0>12}", "M12", "T01", Direction.OUT, when,
                    "RC1:SNAPSHOT", "ab" * 16, decision, GateReason(reason), message, detail, 1, money,
                    fare_text if fare else "", None, BALANCE_LATER if decision == "open" else "", ms)


def goodbye(fare: str) -> Phrase:
    return Phrase("Goodbye: fare {fare}", fare=f"{fare} SGD")


def tapped_in(station: str, time: str) -> Phrase:
    return Phrase("tapped in at {station} at {time}", station=station, time=time)


def test_gate(snap_compare, settings, frozen):
    from pos_sim.terminal.gate import SyncReport
    from pos_sim.tui.screens.gate import GateScreen

    app = app_of(settings, [ALICE])

    async def run_before(pilot):
        await signed_in(pilot)
        app.wallet = WalletView(ALICE, Money.of_major("48.20", "SGD"),
                                WalletCode("251001028443068623090718", NOW + timedelta(seconds=55)))
        app.push_screen(GateScreen("M12", "out"))
        await until(pilot, lambda: isinstance(app.screen, GateScreen) and app.screen.last_sync is not None)
        screen = app.screen
        replayed = Phrase("this code opened gate {gate} of {station} ({direction}) at {time}; a ride code is good for one tap",
                          gate="T01", station="M12", direction=Phrase("out"), time="18:28:10")
        for decision in (gate_decision("18:28:10", "open", "ok", goodbye("1.60"), 2.1, "1.60"),
                         gate_decision("18:29:02", "deny", "replayed", "Code already used: refresh the code in your wallet app",
                                       1.4, detail=replayed),
                         gate_decision("18:30:00", "open", "ok", goodbye("2.30"), 3.2, "2.30", tapped_in("M01", "17:52:13"))):
            screen.decided(decision)
        screen.synced(SyncReport(True, 2, 0, 1, True, NOW), "start")  # as a reachable backend answers (this one is not)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


# --- the terminal in the merchant's language, the customer's beneath, at the two sizes it must fit ----------

LANGUAGE_SIZES = [(80, 24), (120, 40)]
CUSTOMER_OF = {"th": "zh_Hans", "ja": "zh_Hans", "zh_Hans": "en", "zh_Hant": "en", "en": "zh_Hans", "ms": "zh_Hans"}
"""Whose wallet is beside the terminal: a Chinese-speaking traveller in Bangkok and Osaka, an English-speaking
one in Shanghai; what the customer reads is shown in both languages."""


def speaking(settings, lang: str) -> tuple[PosApp, Customer]:
    customer = Customer("Alice Tan", "W-ALICE", CUSTOMER_OF[lang])
    localised = TerminalSettings.build({**settings.flat(), "language": lang})
    app = Steady(lambda: Connection(localised, None, (customer,)), lang)
    app.animation_level = "none"
    return app, customer


def show_wallet(app, customer) -> None:
    app.wallet = WalletView(customer, Money.of_major("48.20", "SGD"),
                            WalletCode("251001028443068623090718", NOW + timedelta(seconds=55)))


SCREENS = ("sign-in", "sale", "order-code", "result", "receipt", "reports", "gate")
PICTURES = [(lang, size) for lang in ("th", "ja", "zh_Hans") for size in LANGUAGE_SIZES]
"""Thai (combining marks), Japanese and Chinese (wide characters) at both sizes: 42 pictures."""


@pytest.mark.parametrize(("lang", "size"), PICTURES, ids=lambda value: f"{value[0]}x{value[1]}" if isinstance(value, tuple) else value)
@pytest.mark.parametrize("shown", SCREENS)
def test_in_the_merchants_language(snap_compare, settings, frozen, shown, lang, size):
    from pos_sim.tui.screens.gate import GateScreen

    app, customer = speaking(settings, lang)

    async def run_before(pilot):
        if shown == "sign-in":
            await until(pilot, lambda: pilot.app.connection is not None)
            return
        await with_cart(pilot) if shown in ("sale", "order-code") else await signed_in(pilot)
        show_wallet(app, customer)
        if shown == "order-code":
            code = MerchantCode("OrderCode", "https://qr.simwallet.test/o/SNAPSHOT-ORDER1", NOW + timedelta(minutes=2), "P1")
            app.payment_state = State.RESOLVING
            app.push_screen(OrderCodeScreen(ShownCode(code, code.value), app.register.cart.total))
            await until(pilot, lambda: app.screen.query("#merchant-qr"))
        elif shown in ("result", "receipt"):
            app.push_screen(ResultScreen(book(app.register, State.APPROVED, "SUCCESS", "12.50")))
            await until(pilot, lambda: app.screen.query("#result-title"))
            if shown == "receipt":
                await pilot.press("r")
                await until(pilot, lambda: app.screen.query("#receipt") and app.screen.receipt is not None)
        elif shown == "reports":
            await pilot.press("f3")
            await until(pilot, lambda: app.screen.query("#report-help"))
        elif shown == "gate":
            app.push_screen(GateScreen("M12", "out"))
            await until(pilot, lambda: isinstance(app.screen, GateScreen) and app.screen.last_sync is not None)
            app.screen.decided(gate_decision("18:30:00", "open", "ok", goodbye("2.30"), 3.2, "2.30", tapped_in("M01", "17:52:13")))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("lang", ["en", "ms"])
def test_the_sale_keys_fit_80_columns(snap_compare, settings, frozen, lang):
    """The longest key labels (English, Malay) on an 80-column terminal: every key of the sale screen on the
    screen, none past its edge (the palette's key gives way there: ctrl+p still opens it)."""
    from textual.widgets._footer import FooterKey

    app, _customer = speaking(settings, lang)

    async def run_before(pilot):
        await with_cart(pilot)
        keys = [key for key in app.screen.query(FooterKey) if key.display]
        assert [key.key for key in keys] == ["f5", "f6", "f7", "f2", "f3", "f4", "f8"]
        assert all(key.region.right <= 80 for key in keys), [(key.key, key.region) for key in keys]

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
