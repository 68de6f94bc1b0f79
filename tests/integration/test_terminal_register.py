"""The register against the real simulated backend on a loopback port: carts of scanned items paid by
each tender, declines that keep the cart, voids and refunds found by receipt number, reprints, X and Z
reports reconciled with the gateway, training mode, and a terminal killed between send and answer.

Every test checks the customer's wallet as the backend keeps it: no money lost, none taken twice.
"""

import os
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from pos_sim.domain.money import Money
from pos_sim.domain.receipt import TRAINING_STAMP, Copy, Kind, Outcome, ReceiptLine, Tender, layout
from pos_sim.language import in_language, message_of
from pos_sim.terminal.authorize import MerchantCode
from pos_sim.terminal.errors import RegisterError, SettingsError
from pos_sim.terminal.gateway import Credentials, GatewayClient
from pos_sim.terminal.journal import Journal, State
from pos_sim.terminal.register import Register
from pos_sim.terminal.reports import layout as report_layout
from pos_sim.terminal.sales import ReversalState, SalesBook
from pos_sim.terminal.settings import TerminalSettings
from tests.integration.conftest import balance, payment_code
from tests.integration.test_terminal_authorize import wait_for

ROOT = Path(__file__).resolve().parents[2]
FAST = {"polling.interval_s": 0.1, "polling.deadline_s": 1.0, "polling.cancel_attempts": 3}
WAITING = {"polling.interval_s": 0.1, "polling.deadline_s": 5.0, "polling.cancel_attempts": 3}
WEIGHED_BANANAS = "2210002012347"  # a scale's label: item 10002 (Pisang Bananas, S$3.99/kg), 1.234 kg -> S$4.92


def sgd(minor: int) -> Money:
    return Money.of_minor(minor, "SGD")


def settings_for(backend, data_dir, journal_dir, **values) -> TerminalSettings:
    given = {"gateway.url": backend.url, "gateway.simulator_data_dir": data_dir, "journal_dir": journal_dir,
             "time_zone": "Asia/Singapore", **FAST}
    return TerminalSettings.build(given | {key.replace("__", "."): value for key, value in values.items()})


@pytest.fixture
def open_register(backend, data_dir, tmp_path):
    """open_register(**settings) -> a Register on the test's backend, journal in tmp_path/terminal; closed after."""
    opened = []

    def open_one(**values):
        register = Register.open(settings_for(backend, data_dir, tmp_path / "terminal", **values))
        opened.append(register)
        return register

    yield open_one
    for register in opened:
        register.close()


@pytest.fixture
def register(open_register):
    return open_register()


def scan_when_shown(backend, wallet_id, shown: list):
    """on_code: the customer's wallet scans the code the terminal shows (the store's entry code for EntryCode)."""

    def on_code(code: MerchantCode) -> None:
        shown.append(code)
        value = code.value or requests.get(f"{backend.url}/sim/merchants/SIM_DEMO/entry-code",
                                           params={"storeId": code.store_id}, timeout=10).json()["codeValue"]
        threading.Thread(target=requests.post, args=(f"{backend.url}/sim/wallets/{wallet_id}/scan",),
                         kwargs={"json": {"codeValue": value}, "timeout": 10}).start()

    return on_code


def tap(backend, wallet_id) -> str:
    token = requests.post(f"{backend.url}/sim/wallets/{wallet_id}/device-token", timeout=10).json()
    return requests.post(f"{backend.url}/sim/device-tokens/{token['tokenId']}/tap", timeout=10).json()["payload"]


def text(receipt) -> str:
    return "\n".join(layout(receipt, 42))


# --- sales -----------------------------------------------------------------------------------


def test_a_cart_of_scanned_items_is_paid_and_its_receipt_says_what_was_sold(backend, wallet, register):
    customer = wallet("SGD", 10_000)
    for barcode in ("21000010", "21000010", "8888012000124", WEIGHED_BANANAS):
        register.scan_item(barcode)
    assert [(line.description, line.quantity) for line in register.cart.lines] == [
        ("Kopi 咖啡", 2), ("Mineral Water 600ml", 1), ("Pisang Bananas", 1)]
    assert register.cart.total == sgd(862)  # 2 x 1.30 + 1.10 + 1.234 kg x 3.99 = 4.92
    sale = register.pay(Tender.CUSTOMER_CODE, payment_code(backend, customer))
    assert (sale.state, sale.result_code, sale.receipt_number, sale.amount) == (State.APPROVED, "SUCCESS", "T01-000001", sgd(862))
    assert register.cart.is_empty and balance(backend, customer) == 10_000 - 862
    printed = text(register.receipt(sale))
    for expected in ("Kopi 咖啡", "2 x $1.30", "Mineral Water 600ml", "Pisang Bananas", "1.234 kg x $3.99/kg", "$4.92",
                     "GST 9% (incl.)", "$0.71", "TOTAL", "$8.62", "2510 **** ****", sale.payment_id, "APPROVED",
                     "T01-000001", "CUSTOMER COPY", "Wallet"):
        assert expected in printed, expected
    entry = register.journal.entry(sale.payment_request_id)
    assert (entry.state, entry.order_reference, entry.payment_id) == (State.APPROVED, "T01-000001", sale.payment_id)
    assert entry.description == "2 x Kopi 咖啡, Mineral Water 600ml, Pisang Bananas"


def test_a_decline_keeps_the_cart_for_another_tender(backend, wallet, register):
    poor, rich = wallet("SGD", 500), wallet("SGD", 10_000)
    register.scan_item("21000119")
    register.scan_item("21000126")  # 5.20 + 3.50
    declined = register.pay(Tender.CUSTOMER_CODE, payment_code(backend, poor))
    assert (declined.state, declined.result_code) == (State.DECLINED, "USER_BALANCE_NOT_ENOUGH")
    assert register.cart.total == sgd(870) and balance(backend, poor) == 500
    slip = register.receipt(declined)
    assert slip.outcome is Outcome.DECLINED and "USER_BALANCE_NOT_ENOUGH" in text(slip)
    paid = register.pay(Tender.CUSTOMER_CODE, payment_code(backend, rich))
    assert (paid.state, paid.receipt_number) == (State.APPROVED, "T01-000002") and register.cart.is_empty
    assert balance(backend, rich) == 10_000 - 870


def test_nothing_is_sent_for_an_empty_cart_or_a_code_that_is_no_customer_code(backend, wallet, register):
    with pytest.raises(RegisterError, match="the cart is empty"):
        register.pay(Tender.CUSTOMER_CODE, payment_code(backend, wallet("SGD", 10_000)))
    register.key_amount(sgd(1250))
    with pytest.raises(ValueError, match="a product barcode, not a customer's payment code"):
        register.pay(Tender.CUSTOMER_CODE, "8888012000124")
    with pytest.raises(RegisterError, match="no customer code is taken"):
        register.pay(Tender.ORDER_CODE, "251001020123456789012345")
    assert register.book.sales() == [] and register.journal.entries() == []


def test_an_order_code_shown_and_paid(backend, wallet, open_register):
    register, customer, shown = open_register(**WAITING), wallet("SGD", 10_000), []
    register.key_amount(sgd(1250))
    sale = register.pay(Tender.ORDER_CODE, on_code=scan_when_shown(backend, customer, shown))
    assert sale.state is State.APPROVED and shown[0].value.startswith("https://")
    assert balance(backend, customer) == 8_750 and "Order code" in text(register.receipt(sale))


def test_the_store_entry_code_pays_the_cart(backend, wallet, open_register):
    register, customer, shown = open_register(store_id="TILL-7", **WAITING), wallet("SGD", 10_000), []
    register.scan_item("21000034")
    sale = register.pay(Tender.ENTRY_CODE, on_code=scan_when_shown(backend, customer, shown))
    assert sale.state is State.APPROVED and shown[0].value is None and shown[0].store_id == "TILL-7"
    assert balance(backend, customer) == 10_000 - 160


def test_a_phone_tap_pays_and_a_token_scanned_as_a_qr_is_a_tap_too(backend, wallet, register):
    customer = wallet("SGD", 10_000)
    register.key_amount(sgd(990))
    tapped = register.pay(Tender.WALLET_TAP, tap(backend, customer))
    assert (tapped.state, tapped.tender) == (State.APPROVED, Tender.WALLET_TAP.value)
    register.key_amount(sgd(500))
    scanned = register.pay(Tender.CUSTOMER_CODE, tap(backend, customer))  # the phone's CPM payload, read off its screen
    assert (scanned.state, scanned.tender) == (State.APPROVED, Tender.WALLET_TAP.value)
    assert scanned.customer_code.startswith("hQVD") and "****" in scanned.customer_code
    assert balance(backend, customer) == 10_000 - 990 - 500


def test_a_cross_border_wallet_amount_is_on_the_receipt(backend, wallet, register):
    thai = wallet("THB", 1_000_000)
    register.key_amount(sgd(1000))
    sale = register.pay(Tender.CUSTOMER_CODE, payment_code(backend, thai))
    assert sale.state is State.APPROVED and sale.wallet_amount.currency.code == "THB"
    assert balance(backend, thai) == 1_000_000 - sale.wallet_amount.minor
    assert f"Paid THB {sale.wallet_amount.decimal():,.2f}" in text(register.receipt(sale))
    refund = register.refund(sale.receipt_number, sgd(250))
    assert refund.state is ReversalState.DONE and refund.wallet_amount.currency.code == "THB"
    assert f"Refunded THB {refund.wallet_amount.decimal():,.2f}" in text(register.receipt(refund))
    assert balance(backend, thai) == 1_000_000 - sale.wallet_amount.minor + refund.wallet_amount.minor


# --- voids, refunds, reprints ------------------------------------------------------------------


def test_a_void_gives_it_all_back_once(backend, wallet, register):
    customer = wallet("SGD", 10_000)
    register.scan_item("21000119")
    sale = register.pay(Tender.CUSTOMER_CODE, payment_code(backend, customer))
    void = register.void(sale.receipt_number)
    assert (void.kind, void.state, void.receipt_number, void.sale_receipt) == (Kind.VOID, ReversalState.DONE, "T01-000002",
                                                                               sale.receipt_number)
    assert balance(backend, customer) == 10_000
    printed = text(register.receipt(void))
    assert "VOID" in printed and "Original receipt" in printed and "-$5.20" in printed
    with pytest.raises(RegisterError, match="voided already"):
        register.void(sale.receipt_number)
    with pytest.raises(RegisterError, match="voided already"):
        register.refund(sale.receipt_number)
    assert balance(backend, customer) == 10_000


def test_partial_and_full_refunds_by_receipt_number_and_no_more(backend, wallet, register):
    customer = wallet("SGD", 10_000)
    register.key_amount(sgd(1250))
    sale = register.pay(Tender.CUSTOMER_CODE, payment_code(backend, customer))
    part = register.refund(sale.receipt_number, sgd(250), reason="one kopi short")
    assert (part.state, part.amount, part.refund_id is not None) == (ReversalState.DONE, sgd(250), True)
    assert balance(backend, customer) == 8_750 + 250
    with pytest.raises(RegisterError, match="more than the 10.00 left"):
        register.refund(sale.receipt_number, sgd(1001))
    with pytest.raises(RegisterError, match="refund the rest instead"):
        register.void(sale.receipt_number)
    rest = register.refund(sale.receipt_number)  # all that is left
    assert (rest.state, rest.amount) == (ReversalState.DONE, sgd(1000)) and balance(backend, customer) == 10_000
    with pytest.raises(RegisterError, match="refunded in full already"):
        register.refund(sale.receipt_number, sgd(1))
    with pytest.raises(RegisterError, match="is a refund of sale T01-000001"):
        register.refund(rest.receipt_number)
    with pytest.raises(RegisterError, match="no such sale"):
        register.refund("T01-999999")
    assert [r.receipt_number for r in register.book.reversals()] == ["T01-000002", "T01-000003"]  # refusals left no trace
    printed = text(register.receipt(part))
    assert "REFUND" in printed and "T01-000001" in printed and "-$2.50" in printed and part.refund_id in printed


def test_a_reprint_is_the_receipt_as_first_printed(backend, wallet, open_register):
    register, customer = open_register(), wallet("SGD", 10_000)
    register.scan_item(WEIGHED_BANANAS)
    register.scan_item("21000010")
    sale = register.pay(Tender.CUSTOMER_CODE, payment_code(backend, customer))
    first = register.receipt(sale, Copy.CUSTOMER)
    refund = register.refund(sale.receipt_number, sgd(130))
    refund_first = register.receipt(refund, Copy.MERCHANT)
    assert register.reprint(sale.receipt_number) == first
    register.close()
    reopened = open_register()  # another run of the terminal
    assert reopened.reprint(sale.receipt_number, Copy.CUSTOMER) == first
    assert layout(reopened.reprint(sale.receipt_number), 32) == layout(first, 32)
    assert reopened.reprint(refund.receipt_number, Copy.MERCHANT) == refund_first
    assert reopened.reprint(sale.receipt_number, Copy.MERCHANT) == replace(first, copy=Copy.MERCHANT)


def test_a_refund_without_an_answer_is_sent_again_when_the_register_opens(backend, wallet, open_register):
    register, customer = open_register(), wallet("SGD", 10_000)
    register.key_amount(sgd(1250))
    sale = register.pay(Tender.CUSTOMER_CODE, payment_code(backend, customer))
    answer = requests.post(f"{backend.url}/sim/faults", json={"call": "refund", "action": "unknown", "count": 3}, timeout=10)
    assert answer.status_code == 201
    pending = register.refund(sale.receipt_number, sgd(500))
    assert pending.state is ReversalState.PENDING and balance(backend, customer) == 8_750
    with pytest.raises(RegisterError, match="still waiting for the gateway"):
        register.refund(sale.receipt_number, sgd(100))
    with pytest.raises(RegisterError, match="not known yet"):
        register.reprint(pending.receipt_number)
    register.close()
    reopened = open_register()
    assert [(r.receipt_number, r.state) for r in reopened.recovered.reversals] == [(pending.receipt_number, ReversalState.DONE)]
    assert balance(backend, customer) == 8_750 + 500  # refunded once
    assert reopened.sale(sale.receipt_number).refundable == sgd(750)


def test_one_register_process_per_journal_folder(register, open_register):
    with pytest.raises(RegisterError, match="another pos-sim register has this sales book open") as refused:
        open_register()
    said = in_language("th", message_of(refused.value))  # the merchant's staff read it in their language
    assert "เครื่องขาย pos-sim อีกเครื่องเปิดสมุดการขายนี้อยู่" in said and "sales book" not in said


# --- end of day ----------------------------------------------------------------------------------


def test_the_x_report_totals_by_tender_and_agrees_with_the_gateway(backend, wallet, register):
    customer, poor = wallet("SGD", 100_000), wallet("SGD", 100)
    paid = []
    for minor in (1250, 800, 300):
        register.key_amount(sgd(minor))
        paid.append(register.pay(Tender.CUSTOMER_CODE, payment_code(backend, customer)))
    register.key_amount(sgd(990))
    register.pay(Tender.WALLET_TAP, tap(backend, customer))
    register.key_amount(sgd(400))
    assert register.pay(Tender.CUSTOMER_CODE, payment_code(backend, poor)).state is State.DECLINED
    register.clear_cart()
    register.void(paid[2].receipt_number)
    register.refund(paid[0].receipt_number, sgd(250))
    report = register.x_report()
    totals = {t.tender: t.json() for t in report.totals}
    assert totals[Tender.CUSTOMER_CODE.value] == {
        "tender": Tender.CUSTOMER_CODE.value, "currency": "SGD", "sales": 2350, "voids": 300, "refunds": 250, "net": 1800,
        "salesCount": 3, "voidsCount": 1, "refundsCount": 1}
    assert totals[Tender.WALLET_TAP.value]["net"] == 990
    assert (report.declined_count, report.unresolved, report.checked, report.mismatches) == (1, (), 5, ())
    assert register.book.batch().closed_at is None  # an X report leaves the batch open
    printed = report_layout(report, 32)
    assert all(len(line) <= 32 for line in printed) and "X REPORT - RUNNING TOTALS" in printed[0]
    assert any("NET SGD" in line and "27.90" in line for line in printed)
    assert balance(backend, customer) == 100_000 - 2350 - 990 + 300 + 250


def test_the_z_report_closes_the_batch_and_lists_what_the_gateway_disagrees_with(backend, wallet, data_dir, register):
    customer = wallet("SGD", 10_000)
    sales = []
    for minor in (1250, 480):
        register.key_amount(sgd(minor))
        sales.append(register.pay(Tender.CUSTOMER_CODE, payment_code(backend, customer)))
    with GatewayClient(Credentials.from_simulator_data_dir(backend.url, data_dir)) as behind_its_back:
        assert behind_its_back.cancel(payment_request_id=sales[0].payment_request_id).succeeded
    report = register.z_report()
    assert report.closed and report.batch == 1 and report.checked == 2
    assert [(m.receipt_number, m.terminal, m.gateway) for m in report.mismatches] == [
        (sales[0].receipt_number, "SUCCESS 12.50 SGD", "CANCELLED 12.50 SGD")]
    printed = "\n".join(report_layout(report, 42))
    assert "Z REPORT - BATCH CLOSED" in printed and "1 mismatch" in printed and "CANCELLED 12.50 SGD" in printed
    assert register.book.batch(1).z_report["mismatches"][0]["receiptNumber"] == sales[0].receipt_number
    after = register.x_report()
    assert (after.batch, after.totals, after.checked) == (2, (), 0)
    with pytest.raises(RegisterError, match="refund it instead"):
        register.void(sales[1].receipt_number)  # its batch is closed
    refund = register.refund(sales[1].receipt_number, sgd(80))  # a refund of an earlier batch counts in this one
    assert refund.state is ReversalState.DONE and register.x_report().totals[0].json()["refunds"] == 80


# --- training mode -------------------------------------------------------------------------------


def test_a_training_register_keeps_its_own_journal_and_stamps_its_receipts(backend, wallet, open_register, tmp_path):
    customer = wallet("SGD", 10_000)
    training = open_register(training=True)
    training.key_amount(sgd(500))
    sale = training.pay(Tender.CUSTOMER_CODE, payment_code(backend, customer))
    assert sale.state is State.APPROVED and sale.receipt_number == "TRN-T01-000001"
    receipt = training.receipt(sale)
    assert receipt.training and TRAINING_STAMP in text(receipt)
    names = sorted(p.name for p in (tmp_path / "terminal").iterdir() if p.suffix == ".db")
    assert names == ["journal-training.db", "sales-training.db"]
    live = open_register()  # the live register beside it: its own files, its own numbers
    live.key_amount(sgd(100))
    assert live.pay(Tender.CUSTOMER_CODE, payment_code(backend, customer)).receipt_number == "T01-000001"
    assert [e.amount for e in live.journal.entries()] == [sgd(100)]
    assert TRAINING_STAMP not in text(live.receipt(live.sale("T01-000001")))


class NotTheSimulator:
    """A real HTTP server that is not the simulator: 404 everywhere, or an OpenAPI document of another title."""

    def __init__(self, title: str | None) -> None:
        body = (b'{"openapi": "3.1.0", "info": {"title": "%s"}}' % title.encode()) if title else None

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body or b'{"error": "not found"}')

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(("title", "said"), [(None, "answered HTTP 404"), ("Antom Payments API", "'Antom Payments API'")])
def test_a_training_register_is_refused_against_a_gateway_that_is_not_the_simulator(backend, data_dir, tmp_path, title, said):
    other = NotTheSimulator(title)
    try:
        settings = replace(settings_for(backend, data_dir, tmp_path / "terminal", training=True),
                           gateway=replace(settings_for(backend, data_dir, tmp_path).gateway, url=other.url))
        with pytest.raises(SettingsError, match=f"training mode pays against the pos-sim simulator only.*{said}"):
            Register.open(settings)
        assert not (tmp_path / "terminal").exists()  # refused before any file was made
        Register.open(replace(settings, training=False)).close()  # the same gateway is fine for a live register
    finally:
        other.close()


# --- a terminal killed between send and answer ---------------------------------------------------


def pos_sim_sale(backend, data_dir, journal_dir, minor, code, *extra) -> list[str]:
    return [sys.executable, "-m", "pos_sim", "sale", "--backend", backend.url, "--backend-data-dir", str(data_dir),
            "--journal-dir", str(journal_dir), "--time-zone", "Asia/Singapore", "--amount", Money.of_minor(minor, "SGD").major_str(),
            "--code", code, "--poll-interval", "0.2", "--deadline", "600", *extra]


@pytest.mark.parametrize(
    ("minor", "killed_when", "state", "restart"),
    [
        (1255, "paid", State.APPROVED, "register"),   # done, its answer held 15 s: killed waiting for it
        (1255, "paid", State.APPROVED, "cli"),
        (1253, "polling", State.CANCELLED, "register"),  # PROCESSING: killed while polling
    ],
)
def test_a_terminal_killed_between_send_and_answer_agrees_with_the_gateway_after_a_restart(
        backend, wallet, data_dir, tmp_path, minor, killed_when, state, restart):
    customer = wallet("SGD", 10_000)
    journal_dir = tmp_path / "terminal"
    child = subprocess.Popen(pos_sim_sale(backend, data_dir, journal_dir, minor, payment_code(backend, customer)), cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    credentials = Credentials.from_simulator_data_dir(backend.url, data_dir)
    try:
        with GatewayClient(credentials) as gateway:
            def journalled():
                if not (journal_dir / "journal.db").exists():
                    return None
                with Journal.open(journal_dir / "journal.db") as look:
                    entries = look.entries()
                    return entries[0] if entries else None

            entry = wait_for(journalled, 15.0, what="the journal row")
            if killed_when == "paid":
                wait_for(lambda: gateway.inquire_payment(payment_request_id=entry.payment_request_id).text("paymentStatus")
                         == "SUCCESS", 15.0, what="the charge")
            else:
                wait_for(lambda: journalled().state is State.RESOLVING, 15.0, what="polling")
        assert child.poll() is None, child.stderr.read()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    if restart == "register":
        with Register.open(settings_for(backend, data_dir, journal_dir)) as restarted:
            assert [(s.receipt_number, s.state) for s in restarted.recovered.sales] == [("T01-000001", state)]
    else:
        again = subprocess.run(pos_sim_sale(backend, data_dir, journal_dir, 100, payment_code(backend, customer)), cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        assert f"recovered: sale T01-000001 {state.value}" in again.stderr and "T01-000002" in again.stdout

    with Journal.open(journal_dir / "journal.db") as journal, SalesBook.open(journal_dir / "sales.db", "T01-") as book, \
            GatewayClient(credentials) as gateway:
        assert journal.pending() == [] and book.sales(pending=True) == []
        sale = book.sale("T01-000001")
        found = gateway.inquire_payment(payment_request_id=sale.payment_request_id)
        assert sale.state is state and journal.entry(sale.payment_request_id).state is state
        assert found.text("paymentStatus") == {State.APPROVED: "SUCCESS", State.CANCELLED: "CANCELLED"}[state]
        assert sale.payment_id == found.text("paymentId")
        charged = {sale.payment_id for sale in book.sales() if sale.state is State.APPROVED}
    history = requests.get(f"{backend.url}/sim/wallets/{customer}", timeout=10).json()["history"]
    payments = sorted(h["kind"] for h in history if h["kind"] in ("payment", "cancel"))
    taken = minor if state is State.APPROVED else 0
    extra = 100 if restart == "cli" else 0
    assert balance(backend, customer) == 10_000 - taken - extra  # charged once, or not at all
    assert payments == ["payment"] * len(charged)  # every charge is a sale the book holds approved


def test_a_sale_written_but_never_sent_is_recorded_as_not_sent(backend, wallet, data_dir, tmp_path, open_register):
    with SalesBook.open(tmp_path / "terminal" / "sales.db", "T01-") as book:  # a run that died before journalling the pay
        line = ReceiptLine.priced("Open item", sgd(500))
        book.open_sale("POS-NEVER-SENT", Tender.CUSTOMER_CODE.value, sgd(500), (line,), sgd(500), (), None,
                       datetime.now(timezone.utc))
    register = open_register()
    assert [(s.receipt_number, s.state) for s in register.recovered.sales] == [("T01-000001", State.NOT_PROCESSED)]
    assert register.receipt(register.sale("T01-000001")).outcome is Outcome.CANCELLED
