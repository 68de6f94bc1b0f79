"""Whole payments through the terminal UI (Textual's Pilot) against the real simulator on a loopback
port: each tender, a decline, the U-path, the cashier's cancel, training mode, and the order code's
QR read back off the screen by the project's own scanner."""

import asyncio
import html
import re
import time

import numpy as np
import pytest
from babel.messages.pofile import read_po
from rich.console import Console

from pos_sim.backend import server
from pos_sim.domain.money import Money
from pos_sim.domain.receipt import layout
from pos_sim.language import LOCALE_DIR
from pos_sim.scan.scanner import decoder_named
from pos_sim.scenarios.simulator import Simulator
from pos_sim.terminal.journal import State
from pos_sim.terminal.settings import TerminalSettings
from pos_sim.tui.app import Connection, Customer, PosApp
from pos_sim.tui.screens.journal import ConfirmScreen, JournalScreen, RefundScreen
from pos_sim.tui.screens.payment import AuthorisingScreen, OrderCodeScreen, ResultScreen, ScanScreen
from pos_sim.tui.screens.sale import SaleScreen

SIZE = (120, 40)


def sgd(text: str) -> Money:
    return Money.of_major(text, "SGD")


@pytest.fixture
def simulator(tmp_path, keyed):
    running = server.start(server.open_gateway(keyed(tmp_path / "backend")))
    with Simulator(running.url) as sim:
        yield sim
    running.stop()


@pytest.fixture
def make_app(simulator, tmp_path):
    """make_app(**settings) -> a PosApp on the simulator, with Alice (SGD 50.00) and Bob (SGD 5.00)."""

    def make(**values) -> PosApp:
        customers = [Customer("Alice", simulator.open_wallet(sgd("50.00"), "Alice")),
                     Customer("Bob", simulator.open_wallet(sgd("5.00"), "Bob"))]
        settings = TerminalSettings.build({"gateway.url": simulator.url, "gateway.simulator_data_dir": tmp_path / "backend",
                                           "journal_dir": tmp_path / "terminal", "polling.interval_s": 0.2,
                                           "polling.deadline_s": 20, **values})
        return PosApp(lambda: Connection(settings, simulator, tuple(customers)), settings.language)

    return make


async def until(pilot, condition, timeout_s: float = 15.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the screen is {type(pilot.app.screen).__name__}")
        await pilot.pause(0.05)


async def sign_in(pilot, training: bool = False) -> None:
    await until(pilot, lambda: pilot.app.screen.query("#operator") and pilot.app.connection is not None,
                what="the sign-in screen, connected")
    await pilot.pause()
    if training:
        await pilot.press("tab", "space", "shift+tab")  # the training switch, then back to the operator id
        assert pilot.app.screen.query_one("#training-mode").value
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, SaleScreen), what="the sale screen")
    await until(pilot, lambda: pilot.app.wallet.code is not None, what="the wallet's code")


async def key(pilot, amount: str) -> None:
    await until(pilot, lambda: getattr(pilot.app.focused, "id", None) == "entry", what="the entry field focused")
    await pilot.press(*amount, "enter")
    await until(pilot, lambda: not pilot.app.register.cart.is_empty, what="the keyed amount in the cart")


async def result(pilot) -> ResultScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, ResultScreen) and pilot.app.screen.query("#result-title"),
                what="the result")
    return pilot.app.screen


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


def run(scenario) -> None:
    asyncio.run(scenario())


# --- the QR on screen scans --------------------------------------------------------------------


def screen_pixels(app) -> np.ndarray:
    """The screen as pixels, two a character cell, one above the other, as half blocks draw them:
    what a phone camera sees of the terminal window (text glyphs count as their background)."""
    console = Console(width=app.size.width, height=app.size.height, color_system="truecolor", record=False,
                      force_terminal=True, legacy_windows=False)
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    rows = []
    for line in console.render_lines(update, pad=False):
        top, bottom = [], []
        for segment in line:
            if segment.control:  # the cursor moves of a screen update: no cells
                continue
            style = segment.style
            fg = style.color.get_truecolor() if style and style.color else (255, 255, 255)
            bg = style.bgcolor.get_truecolor() if style and style.bgcolor else (0, 0, 0)
            for char in segment.text:
                upper, lower = {"▀": (fg, bg), "▄": (bg, fg), "█": (fg, fg)}.get(char, (bg, bg))
                top.append(sum(upper) / 3)
                bottom.append(sum(lower) / 3)
        rows += [top, bottom]
    width = max(len(row) for row in rows)
    pixels = np.array([row + [0] * (width - len(row)) for row in rows], dtype=np.uint8)
    return np.kron(pixels, np.ones((8, 8), dtype=np.uint8))  # each module 8 x 8 pixels, as a camera would resolve it


def test_the_order_code_on_screen_scans_to_what_the_backend_issued_and_pays(make_app, simulator):
    app = make_app()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await key(pilot, "12.50")
            await pilot.press("f5", "2")
            await until(pilot, lambda: isinstance(app.screen, OrderCodeScreen), what="the order code")
            await pilot.pause(0.2)
            issued = app.shown_code.value
            assert issued.startswith("https://qr.simwallet.test/o/")
            reads = {read.text for read in decoder_named("auto").decode(screen_pixels(app))}
            assert issued in reads, reads  # the wallet pane's own code may be read too
            alice = app.customers[0].wallet_id
            said = simulator.scan_merchant_code(alice, issued)  # a wallet pays what it read off the screen
            assert said["status"] == "SUCCESS"
            shown = await result(pilot)
            assert shown.sale.state is State.APPROVED and text_of(shown, "#result-title") == "APPROVED\n交易成功"  # the customer's wallet reads Chinese
            assert simulator.balance(alice) == sgd("37.50")

    run(scenario)


# --- each tender --------------------------------------------------------------------------------


def test_a_customer_code_shown_from_the_wallet_pane_pays(make_app, simulator):
    app = make_app()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await key(pilot, "3.20")
            await pilot.press("f5", "1")
            await until(pilot, lambda: isinstance(app.screen, ScanScreen), what="the scan screen")
            await pilot.press("ctrl+y")  # the customer holds the wallet's code to the scanner
            shown = await result(pilot)
            assert shown.sale.state is State.APPROVED and shown.sale.tender == "Alipay+ (customer code)"
            assert "Paid" in text_of(shown, "#result-words")
            assert simulator.balance(app.customers[0].wallet_id) == sgd("46.80")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, SaleScreen), what="a new sale")
            assert app.register.cart.is_empty

    run(scenario)


def test_an_entry_code_scanned_by_the_wallet_pays_the_keyed_amount(make_app, simulator):
    app = make_app()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await key(pilot, "8.80")
            await pilot.press("f5", "3")
            await until(pilot, lambda: isinstance(app.screen, OrderCodeScreen), what="the entry code")
            assert app.shown_code.value.startswith("https://qr.simwallet.test/e/")
            await pilot.press("ctrl+g")  # the customer's wallet scans the store's code
            shown = await result(pilot)
            assert shown.sale.state is State.APPROVED
            assert simulator.balance(app.customers[0].wallet_id) == sgd("41.20")

    run(scenario)


def test_a_phone_tap_pays_and_a_scanned_barcode_is_refused_as_no_customer_code(make_app, simulator):
    app = make_app()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await key(pilot, "4.00")
            await pilot.press("f5", "4")
            await until(pilot, lambda: isinstance(app.screen, ScanScreen), what="the tap screen")
            await pilot.press(*"4006381333931", "enter")  # a product's barcode, scanned by mistake
            await pilot.pause(0.2)
            assert isinstance(app.screen, ScanScreen)
            await pilot.press("ctrl+t")
            shown = await result(pilot)
            assert shown.sale.state is State.APPROVED and shown.sale.tender == "Phone wallet tap"
            assert simulator.balance(app.customers[0].wallet_id) == sgd("46.00")

    run(scenario)


# --- declines, the U-path, the cashier's cancel -------------------------------------------------


def test_the_presenter_makes_the_next_payment_decline_with_the_reason_in_plain_words(make_app, simulator):
    app = make_app()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await pilot.press("ctrl+f")
            await until(pilot, lambda: simulator._call("GET", "/sim/faults")["faults"], what="the armed fault")
            await key(pilot, "9.00")
            await pilot.press("f5", "1")
            await until(pilot, lambda: isinstance(app.screen, ScanScreen), what="the scan screen")
            await pilot.press("ctrl+y")
            shown = await result(pilot)
            assert shown.sale.state is State.DECLINED and text_of(shown, "#result-title") == "DECLINED\n交易失败"
            assert "does not hold enough money" in text_of(shown, "#result-words")
            assert simulator.balance(app.customers[0].wallet_id) == sgd("50.00")
            await pilot.press("enter")
            assert app.register.cart.total == sgd("9.00")  # the cart is kept for another try

    run(scenario)


def test_a_late_success_is_checked_and_approved_once(make_app, simulator):
    app = make_app()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            simulator.arm_fault("pay", "late-success", delay_ms=1500)
            await key(pilot, "6.00")
            await pilot.press("f5", "1")
            await until(pilot, lambda: isinstance(app.screen, ScanScreen), what="the scan screen")
            await pilot.press("ctrl+y")
            await until(pilot, lambda: app.payment_state is State.RESOLVING, what="the U-path")
            assert isinstance(app.screen, AuthorisingScreen)
            assert "Checking" in text_of(app.screen, "#authorising-status")
            shown = await result(pilot)
            assert shown.sale.state is State.APPROVED
            assert simulator.balance(app.customers[0].wallet_id) == sgd("44.00")

    run(scenario)


def test_the_cashier_cancels_a_payment_that_stays_processing_and_nothing_is_taken(make_app, simulator):
    app = make_app()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await key(pilot, "12.53")  # a trigger amount: the payment stays processing
            await pilot.press("f5", "1")
            await until(pilot, lambda: isinstance(app.screen, ScanScreen), what="the scan screen")
            await pilot.press("ctrl+y")
            await until(pilot, lambda: app.payment_state is State.RESOLVING, what="the U-path")
            started = time.monotonic()
            await pilot.press("escape")
            shown = await result(pilot)
            assert time.monotonic() - started < 10  # not the 20 s polling deadline
            assert shown.sale.state is State.CANCELLED and "no money was taken" in text_of(shown, "#result-words")
            assert simulator.balance(app.customers[0].wallet_id) == sgd("50.00")

    run(scenario)


# --- training mode and bad input ---------------------------------------------------------------


def test_training_mode_shows_its_banner_and_stamps_the_receipt(make_app, simulator, tmp_path):
    app = make_app()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, training=True)
            assert app.training and "TRAINING" in text_of(app.screen, "#training-banner")
            await key(pilot, "2.00")
            await pilot.press("f5", "1")
            await until(pilot, lambda: isinstance(app.screen, ScanScreen), what="the scan screen")
            await pilot.press("ctrl+y")
            shown = await result(pilot)
            assert shown.sale.state is State.APPROVED and shown.sale.receipt_number.startswith("TRN-")
            assert "TRAINING" in "\n".join(layout(app.register.receipt(shown.sale), 42))

    run(scenario)
    assert (tmp_path / "terminal" / "journal-training.db").exists() and not (tmp_path / "terminal" / "journal.db").exists()


def test_a_bad_amount_is_refused_saying_why_and_the_cart_is_unchanged(make_app):
    app = make_app()

    async def scenario():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await sign_in(pilot)
            await pilot.press(*"12.505", "enter")
            await pilot.pause(0.3)
            assert app.register.cart.is_empty
            assert any("decimal" in str(n.message) for n in app._notifications), [n.message for n in app._notifications]
            await pilot.press(*"99999999", "enter")  # eight digits: read as a barcode, which the catalogue lacks
            await pilot.pause(0.5)
            assert app.register.cart.is_empty

    run(scenario)


# --- scanner sources: an image file, a folder, a video ------------------------------------------


def video_of(path, image) -> None:
    """A short video of ``image`` coming into view: blank frames, then the code, as a camera would see it."""
    import cv2

    height, width = image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (width, height))
    blank = np.full((height, width, 3), 255, dtype=np.uint8)
    frame = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image
    for picture in [blank] * 5 + [frame] * 10:
        writer.write(picture)
    writer.release()


@pytest.mark.parametrize("source", ["image", "folder", "video"])
def test_the_customer_code_read_from_a_file_folder_or_video_pays(make_app, simulator, tmp_path, source):
    from pos_sim.render import barcodes, qr

    app = make_app()
    folder = tmp_path / "scans"
    folder.mkdir()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            code = simulator.payment_code(app.customers[0].wallet_id).code
            if source == "video":
                target = folder / "counter.mp4"
                video_of(target, barcodes.qr_image(code))
            else:
                qr.write_png(code, folder / "paycode.png")
                (folder / "notes.txt").write_text("not an image")
                target = folder / "paycode.png" if source == "image" else folder
            await key(pilot, "5.50")
            await pilot.press("f5", "1")
            await until(pilot, lambda: isinstance(app.screen, ScanScreen), what="the scan screen")
            await pilot.click("#image")
            await pilot.press(*str(target), "enter")
            shown = await result(pilot)
            assert shown.sale.state is State.APPROVED
            assert simulator.balance(app.customers[0].wallet_id) == sgd("44.50")

    run(scenario)


# --- in the merchant's language (Thai), the customer's (Chinese) beneath -----------------------------

ASCII_WORD = re.compile(r"[A-Za-z]{3,}")
NOT_ENGLISH_UI = {"pos", "sim", "http", "ctrl", "Enter", "esc", "Escape", "Tab", "Alipay", "App", "SGD", "GST", "PNG", "ESC",
                  "POS", "Alice", "Bob", "Tan", "SUCCESS", "Ah", "Huat", "Kopitiam", "Minimart", "SIM",
                  "DEMO", "TRAINING", "simwallet", "test", "alt", "end", "home", "EAN", "UPC"}
"""What may stay in Latin letters on a Thai screen: names, codes, barcode symbologies, amounts' currency, keys, the
catalogue's own item names; any other English word is a message that missed the catalogue."""


def screen_text(app) -> str:
    """Every character on the screen, as the user sees it (the SVG Textual exports of the screen, its text)."""
    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = {}
    for attributes, text in re.findall(r"<text ([^>]*)>(.*?)</text>", svg):
        x, y = (float(re.search(rf'\b{axis}="([\d.]+)"', attributes).group(1)) for axis in "xy")
        rows.setdefault(y, []).append((x, html.unescape(text).replace("\xa0", " ")))
    return "\n".join("".join(text for _x, text in sorted(row)) for _y, row in sorted(rows.items()))


def ui_words() -> set[str]:
    """The words of the English messages (the catalogue's template): what a screen in another language must not show."""
    with open(LOCALE_DIR / "pos_sim.pot", "rb") as template:
        return {word for message in read_po(template) if isinstance(message.id, str) for word in ASCII_WORD.findall(message.id)}


def english_left(app) -> set[str]:
    words = ui_words() - NOT_ENGLISH_UI
    return {word for word in ASCII_WORD.findall(screen_text(app)) if word in words}


def test_a_sale_in_thai_for_a_chinese_speaking_customer(make_app, simulator):
    """A trainer in Bangkok: the whole payment in Thai, what the customer reads in Thai with Chinese beneath,
    the receipt's labels in Thai with its Buddhist-era date, the journal, its void and refund dialogs, and no
    English word of the UI left on any screen."""
    app = make_app(language="th")

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.connection is not None, what="the connection")
            await pilot.pause()
            assert "เข้าสู่ระบบ" in screen_text(app) and not english_left(app), english_left(app)
            await sign_in(pilot)
            await until(pilot, lambda: getattr(app.focused, "id", None) == "entry", what="the entry field focused")
            await pilot.press(*"12.505", "enter")  # more decimals than dollars have: refused, in Thai
            notified = app._notifications  # what the toasts say (Textual's list of them)
            await until(pilot, lambda: len(notified), what="the amount refused")
            assert [(n.title, n.message) for n in notified] == [("ยอดเงิน", "'12.505': SGD มีทศนิยม 2 ตำแหน่ง แต่ใส่มา 3 ตำแหน่ง")]
            assert app.register.cart.is_empty and not english_left(app), english_left(app)
            await key(pilot, "12.50")
            assert not english_left(app), english_left(app)
            app.action_show_help_panel()  # the palette's Keys: the screen's keys and the entry field's own (Textual's)
            await until(pilot, lambda: app.screen.query("HelpPanel"), what="the keys panel")
            await pilot.pause(0.2)
            assert "ลบตัวอักษรทางซ้าย" in screen_text(app) and not english_left(app), english_left(app)
            app.action_hide_help_panel()
            commands = list(app.get_system_commands(app.screen))  # the palette's: titles and help, Textual's own too
            said = {word for command in commands for word in ASCII_WORD.findall(f"{command.title} {command.help}")}
            assert len(commands) > 10 and said <= {"ctrl", "shift", "tab", "escape", "SVG"}, said
            await pilot.press("f5")
            await until(pilot, lambda: app.screen.query("#tenders"), what="the tenders")
            assert "ชำระ $12.50 ด้วย" in screen_text(app) and not english_left(app), english_left(app)
            await pilot.press("2")
            await until(pilot, lambda: isinstance(app.screen, OrderCodeScreen), what="the order code")
            await pilot.pause(0.2)
            assert text_of(app.screen, "#order-amount") == "$12.50\nสแกนเพื่อชำระด้วยแอปวอลเล็ต\n请用钱包 App 扫码支付"
            assert not english_left(app), english_left(app)
            await pilot.press("ctrl+g")  # the customer's wallet scans the code on screen and pays
            shown = await result(pilot)
            assert shown.sale.state is State.APPROVED
            assert text_of(shown, "#result-title") == "อนุมัติ\n交易成功"
            assert text_of(shown, "#result-words") == "ชำระแล้ว ส่งใบเสร็จให้ลูกค้า\n支付成功，请将小票交给顾客。"
            assert not english_left(app), english_left(app)
            await pilot.press("r")
            await until(pilot, lambda: getattr(app.screen, "receipt", None) is not None, what="the receipt")
            paper = text_of(app.screen, "#receipt")
            year = app.screen.receipt.time.year + 543
            assert "ยอดรวม" in paper and "อนุมัติ" in paper and "สำเนาลูกค้า" in paper and f" {year} " in paper, paper
            assert not english_left(app), english_left(app)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, ResultScreen), what="the result")
            await pilot.press("enter")  # a new sale
            await until(pilot, lambda: isinstance(app.screen, SaleScreen), what="the sale screen")
            await pilot.press("f2")  # the journal: the sale, its tender and state in Thai
            await until(pilot, lambda: isinstance(app.screen, JournalScreen) and app.screen.loaded, what="the journal")
            await pilot.pause(0.2)
            assert "1 รายการขาย" in screen_text(app) and "อนุมัติ" in screen_text(app), screen_text(app)
            assert not english_left(app), english_left(app)
            await pilot.press("enter", "v")  # to the list; void the sale: the question in Thai
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the void's question")
            assert "ยกเลิกรายการ" in screen_text(app) and not english_left(app), english_left(app)
            await pilot.press("n", "r")  # not voided; the refund dialog instead
            await until(pilot, lambda: isinstance(app.screen, RefundScreen), what="the refund dialog")
            await pilot.pause(0.2)
            assert "คืนได้อีก $12.50" in screen_text(app) and not english_left(app), english_left(app)

    run(scenario)


def test_a_mistyped_product_barcode_is_refused_in_thai(make_app, simulator):
    """A Thai cashier keys a product barcode with a wrong check digit, then one too short, then a DataBar's element
    string with a wrong GTIN check digit: each toast says what is wrong in Thai (where the fault lies too), and
    nothing goes in the cart."""
    app = make_app(language="th")

    async def scenario():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await sign_in(pilot)
            await until(pilot, lambda: getattr(app.focused, "id", None) == "entry", what="the entry field focused")
            await pilot.press(*"4006381333932", "enter")  # 4006381333931 with its check digit mistyped
            notified = app._notifications
            await until(pilot, lambda: len(notified), what="the barcode refused")
            said = [n.message for n in notified]
            assert said == ["เลขตรวจสอบผิด: ควรเป็น 1 แต่เป็น 2 (ตำแหน่ง 12)"], said
            assert app.register.cart.is_empty
            await pilot.press(*"4006381333", "enter")  # ten digits: no barcode's length
            await until(pilot, lambda: len(notified) > 1, what="the short barcode refused")
            said = [n.message for n in notified][1:]
            assert said == ["10 หลัก: บาร์โค้ดสินค้า GS1 มี 13 (EAN-13), 12 (UPC-A) หรือ 8 (EAN-8) หลัก"], said
            assert app.register.cart.is_empty
            await pilot.press(*"(01)09521234543214(3103)000500", "enter")  # a DataBar's GTIN, its check digit mistyped
            await until(pilot, lambda: len(notified) > 2, what="the DataBar refused")
            said = [n.message for n in notified][2:]
            assert said == ["AI (01): เลขตรวจสอบผิด: ควรเป็น 3 แต่เป็น 4 (ตำแหน่ง 17)"], said
            assert app.register.cart.is_empty
            words = ui_words() - NOT_ENGLISH_UI
            assert not {word for n in notified for word in ASCII_WORD.findall(f"{n.title} {n.message}") if word in words}

    run(scenario)


def test_the_language_is_switched_live_in_the_settings(make_app, simulator):
    """F4: the merchant picks Japanese; every screen open says it at once, the keys and the palette too."""
    from textual.widgets import Select

    from pos_sim.tui.screens.settings import SettingsScreen

    app = make_app(language="th")

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            assert "เครื่อง T01" in text_of(app.screen, "#title-line")
            await pilot.press("f4")
            await until(pilot, lambda: isinstance(app.screen, SettingsScreen) and app.screen.query("#language"),
                        what="the settings")
            app.screen.query_one("#language", Select).value = "ja"
            # the screen is composed again in the new language: wait until it is all there
            await until(pilot, lambda: app.screen.query("#title-line") and "端末 T01" in text_of(app.screen, "#title-line")
                        and "言語" in screen_text(app), what="the settings in Japanese")
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, SaleScreen), what="the sale screen")
            await pilot.pause()
            assert "端末 T01" in text_of(app.screen, "#title-line") and "支払" in screen_text(app)
            assert app.register.settings.language == "ja"
            commands = [command.title for command in app.get_system_commands(app.screen)]
            assert "トランジット：端末を駅の改札にする" in commands or "交通：端末を駅の改札にする" in commands, commands

    run(scenario)


def test_the_training_exercises_in_thai(make_app, simulator):
    """F8 in Thai: the exercises' list, an exercise's steps, its note labels and its score in Thai; only what the
    exercise files say (names, descriptions, notes, the steps as the scenario language writes them) stays English."""
    from pos_sim.tui.screens.training import TrainingScreen, describe

    app = make_app(language="th")

    def exercise_words(screen) -> set[str]:
        said = []
        for exercise in screen.library.exercises:
            scenario = exercise.scenario
            said += [scenario.name, scenario.description or ""]
            said += [f"{describe(step)} {step.note or ''}" for step in scenario.steps]
        return set(ASCII_WORD.findall(" ".join(said)))

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await pilot.press("f8")
            await until(pilot, lambda: isinstance(app.screen, TrainingScreen) and app.screen.library.exercises,
                        what="the exercises")
            await pilot.pause(0.2)
            screen, allowed = app.screen, exercise_words(app.screen)
            assert "แบบฝึกหัด" in screen_text(app) and "คะแนน" in screen_text(app), screen_text(app)
            assert english_left(app) <= allowed, english_left(app) - allowed
            await pilot.press("enter")  # the first exercise: it waits before step 1
            await until(pilot, lambda: screen.waiting is not None, what="the first step")
            await pilot.press("enter")  # step 1 runs
            await until(pilot, lambda: screen.views[1].result is not None, what="step 1's result")
            await pilot.pause(0.2)
            text = screen_text(app)
            assert "ขั้นตอน 1" in text and "ผ่าน" in text and "คะแนน" in text and "สูงสุด" in text, text
            # what the runner says happened and checked is the scenario runner's report, in English as yet
            result = screen.views[1].result
            allowed |= set(ASCII_WORD.findall(" ".join([*result.happened, *(check.said() for check in result.checks)])))
            assert english_left(app) <= allowed, english_left(app) - allowed

    run(scenario)
