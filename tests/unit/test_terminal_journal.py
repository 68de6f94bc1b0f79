"""The payment journal on a real SQLite file: durable before the pay is sent, states that only move
forward, every call logged, and a clear error for a file it cannot use."""

import os
import sqlite3
import threading

import pytest

from pos_sim.domain.money import Money
from pos_sim.terminal.errors import JournalError
from pos_sim.terminal.journal import FINAL, NEXT, PENDING, GatewayRef, Journal, State

GATEWAY = GatewayRef("http://127.0.0.1:8000", "SIM_DEMO", "0123456789abcdef")
CODE = "251001020123456789012345"


@pytest.fixture
def journal(tmp_path):
    with Journal.open(tmp_path / "journal.db") as opened:
        yield opened


def test_a_payment_is_on_disk_before_open_payment_returns(journal, tmp_path):
    entry = journal.open_payment("R1", Money.of_minor(1250, "SGD"), CODE, GATEWAY, order_reference="ORDER-7", description="2 x kopi")
    assert entry.state is State.SENT and entry.amount == Money.of_minor(1250, "SGD") and entry.gateway == GATEWAY
    other = sqlite3.connect(tmp_path / "journal.db")  # another connection: what a restarted terminal would see
    row = other.execute("SELECT state, amount_minor, currency, order_reference, payment_code FROM payments").fetchone()
    assert row == ("SENT", 1250, "SGD", "ORDER-7", "2510 **** **** 2345")
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.close()


def test_wal_and_full_synchronous(journal):
    assert journal._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert journal._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_states_move_forward_only_and_every_step_is_logged(journal):
    journal.open_payment("R1", Money.of_minor(1253, "SGD"), CODE, GATEWAY)
    journal.record("R1", "pay", answer="U", answer_code="PAYMENT_IN_PROCESS", state=State.RESOLVING, payment_id="P1")
    journal.record("R1", "inquiryPayment", answer="timeout", detail="no answer")
    journal.record("R1", "cancel", state=State.CANCELLING)
    entry = journal.record("R1", "inquiryPayment", answer="S", answer_code="SUCCESS", state=State.CANCELLED,
                           result_message="cancelled: no money was taken")
    assert (entry.state, entry.payment_id, entry.result_code) == (State.CANCELLED, "P1", None)
    assert [(e.call, e.answer, e.state) for e in journal.events("R1")] == [
        ("pay", None, State.SENT), ("pay", "U", State.RESOLVING), ("inquiryPayment", "timeout", State.RESOLVING),
        ("cancel", None, State.CANCELLING), ("inquiryPayment", "S", State.CANCELLED)]
    with pytest.raises(JournalError, match="R1 is CANCELLED; it cannot become APPROVED"):
        journal.record("R1", "inquiryPayment", state=State.APPROVED)
    with pytest.raises(JournalError, match="CANCELLED already"):
        journal.record("R1", "cancel", state=State.CANCELLED)
    journal.open_payment("R2", Money.of_minor(1, "SGD"), CODE, GATEWAY)
    journal.record("R2", "cancel", state=State.CANCELLING)
    with pytest.raises(JournalError, match="R2 is CANCELLING; it cannot become RESOLVING"):
        journal.record("R2", "inquiryPayment", state=State.RESOLVING)
    assert journal.entry("R1").state is State.CANCELLED and len(journal.events("R1")) == 5  # refused moves leave no trace


def test_the_transition_table_never_leaves_a_final_state():
    assert set(NEXT) == PENDING and not FINAL & PENDING
    assert all(targets - {State.SENT} == targets for targets in NEXT.values())  # nothing goes back to SENT


def test_pending_lists_unresolved_payments_oldest_first(journal):
    for request_id in ("A", "B", "C"):
        journal.open_payment(request_id, Money.of_minor(100, "JPY"), CODE, GATEWAY)
    journal.record("B", "pay", answer="S", answer_code="SUCCESS", state=State.APPROVED, result_code="SUCCESS")
    journal.record("C", "pay", answer="timeout", state=State.RESOLVING)
    assert [(e.payment_request_id, e.state) for e in journal.pending()] == [("A", State.SENT), ("C", State.RESOLVING)]
    assert journal.entry("B").amount == Money.of_minor(100, "JPY") and len(journal.entries()) == 3


def test_a_request_id_is_used_once(journal):
    journal.open_payment("R1", Money.of_minor(1250, "SGD"), CODE, GATEWAY)
    with pytest.raises(JournalError, match="R1 is in the journal already"):
        journal.open_payment("R1", Money.of_minor(999, "SGD"), CODE, GATEWAY)
    assert journal.entry("R1").amount.minor == 1250
    with pytest.raises(JournalError, match="no payment request R9"):
        journal.record("R9", "pay", state=State.APPROVED)


def test_it_reopens_with_what_it_held(tmp_path):
    with Journal.open(tmp_path / "j.db") as journal:
        journal.open_payment("R1", Money.of_minor(1250, "KWD"), CODE, GATEWAY)
    with Journal.open(tmp_path / "j.db") as journal:
        assert [e.payment_request_id for e in journal.pending()] == ["R1"]
        assert journal.entry("R1").amount.currency.minor_units == 3


def test_threads_share_one_journal(journal):
    def pay(n: int) -> None:
        journal.open_payment(f"R{n}", Money.of_minor(n + 1, "SGD"), CODE, GATEWAY)
        journal.record(f"R{n}", "pay", answer="S", state=State.APPROVED, result_code="SUCCESS")

    threads = [threading.Thread(target=pay, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(journal.entries()) == 20 and journal.pending() == []


def test_a_folder_is_made_for_it(tmp_path):
    with Journal.open(tmp_path / "a" / "b" / "journal.db") as journal:
        assert journal.entries() == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "a directory, not a payment journal file"),
        (lambda p: p.write_bytes(b"not a database, just some text\n" * 100), "cannot use it as a payment journal"),
        (lambda p: sqlite3.connect(p).execute("CREATE TABLE sales (id)").connection.commit(), "not a pos-sim payment journal"),
        pytest.param(lambda p: p.parent.chmod(0o500), "cannot open|cannot use",
                     marks=pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")),
    ],
    ids=["directory", "not-sqlite", "other-database", "read-only-folder"],
)
def test_a_path_it_cannot_use_is_said_with_the_path(tmp_path, make, message):
    path = tmp_path / "shop" / "journal.db"
    path.parent.mkdir()
    make(path)
    try:
        with pytest.raises(JournalError, match=message) as error:
            Journal.open(path)
        assert str(path) in str(error.value)
    finally:
        path.parent.chmod(0o700)


def test_a_file_under_a_file_is_said_with_the_path(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(JournalError, match="cannot create its folder") as error:
        Journal.open(tmp_path / "plain" / "journal.db")
    assert str(tmp_path / "plain" / "journal.db") in str(error.value)


def test_payment_codes_are_kept_masked(tmp_path):
    with Journal.open(tmp_path / "journal.db") as journal:
        journal.open_payment("R1", Money.of_minor(100, "SGD"), "251001020123456789012345", GatewayRef("http://gw", "C", "K"))
        assert journal.entry("R1").payment_code == "2510 **** **** 2345"
