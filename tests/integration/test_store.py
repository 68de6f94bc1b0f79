"""The store on real databases: a fresh SQLite file per test, and PostgreSQL (a fresh schema per test)
when POS_SIM_TEST_PG holds a URL such as postgresql://postgres@127.0.0.1:5432/test (conftest's ``url``)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import pytest

from pos_sim.backend.store.database import Store, Tx
from pos_sim.backend.store.errors import Duplicate, InsufficientFunds, LedgerError, StoreError
from pos_sim.backend.store.records import CodeStatus
from pos_sim.domain.errors import AmountError

PEM = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
T = TypeVar("T")


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    with Store.open(url) as opened:
        yield opened


def shop(tx: Tx, client_id: str = "SHOP_1", currency: str = "SGD") -> str:
    """A merchant, and the id of its account in ``currency``."""
    if tx.merchant(client_id) is None:
        tx.add_merchant(client_id, "Kopi Corner", PEM, "SGD")
    return tx.merchant_account(client_id, currency)


def in_threads(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` for i in range(count) in ``count`` threads released together."""
    start = threading.Barrier(count)

    def run(i: int) -> T:
        start.wait()
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_wallet_is_funded_by_a_balanced_posting(store: Store) -> None:
    with store.begin() as tx:
        sgd = tx.add_wallet("sgd", 1050, "Alice")
        jpy = tx.add_wallet("JPY", 1200, "Bob")
        empty = tx.add_wallet("SGD", 0, "Carol")
    with store.begin() as tx:
        alice = tx.account(sgd)
        assert alice is not None
        assert (alice.kind, alice.currency, alice.balance, alice.name) == ("wallet", "SGD", 1050, "Alice")
        assert alice.id.startswith("W") and alice.created_at.tzinfo is UTC
        assert tx.account(jpy).balance == 1200
        assert tx.account(empty).balance == 0 and tx.history(empty) == []
        assert tx.account("funding:SGD").balance == -1050
        assert tx.account("funding:JPY").balance == -1200
        assert tx.account("funding:SGD").kind == "funding"
        [funded] = tx.history(sgd)
        assert (funded.kind, funded.ref, funded.amount, funded.balance_after) == ("fund", sgd, 1050, 1050)
        assert tx.trial_balance() == {"SGD": 0, "JPY": 0}
        assert {a.id for a in tx.accounts("wallet")} == {sgd, jpy, empty}
        assert tx.account("nope") is None


def test_payments_move_money_and_history_is_newest_first(store: Store) -> None:
    with store.begin() as tx:
        wallet = tx.add_wallet("SGD", 1000, "Alice")
        merchant = shop(tx)
        first = tx.post("payment", "P1", [(wallet, -300), (merchant, 300)], memo="kopi")
        tx.post("payment", "P2", [(wallet, -200), (merchant, 200)])
    with store.begin() as tx:
        assert tx.merchant_account("SHOP_1", "SGD") == merchant
        assert tx.account(wallet).balance == 500
        assert tx.account(merchant).balance == 500
        history = tx.history(wallet)
        assert [(h.ref, h.amount, h.balance_after) for h in history] == [("P2", -200, 500), ("P1", -300, 700), (wallet, 1000, 1000)]
        assert history[1].posting_id == first and history[1].memo == "kopi"
        assert [h.ref for h in tx.history(wallet, limit=1)] == ["P2"]
        assert sum(h.amount for h in history) == tx.account(wallet).balance
        assert tx.trial_balance() == {"SGD": 0}


def test_bad_postings_are_refused_and_change_nothing(store: Store) -> None:
    with store.begin() as tx:
        wallet = tx.add_wallet("SGD", 1000, "Alice")
        merchant = shop(tx)
        usd = shop(tx, currency="USD")
        bad_legs: list[list[tuple[str, object]]] = [
            [],
            [(wallet, -100), (merchant, 99)],
            [(wallet, -100), (usd, 100)],
            [(wallet, -100), ("nobody", 100)],
            [(wallet, -100), (wallet, 100)],
            [(wallet, 0), (merchant, 0)],
            [(wallet, -1.5), (merchant, 1.5)],
            [(wallet, True), (merchant, -1)],
        ]
        for legs in bad_legs:
            with pytest.raises(LedgerError):
                tx.post("payment", "P", legs)  # type: ignore[arg-type]
    with store.begin() as tx:
        assert tx.account(wallet).balance == 1000 and tx.account(merchant).balance == 0
        assert len(tx.history(wallet)) == 1
        with pytest.raises(AmountError):
            tx.add_wallet("XYZ", 1, "nobody")
        with pytest.raises(LedgerError):
            tx.add_wallet("SGD", -1, "nobody")


def test_insufficient_funds_changes_nothing_and_the_transaction_goes_on(store: Store) -> None:
    with store.begin() as tx:
        first, second = sorted([tx.add_wallet("SGD", 500, "Alice"), tx.add_wallet("SGD", 500, "Bob")])
        merchant = shop(tx)
    with store.begin() as tx:
        # the legs are applied in account order: ``first`` is debited before ``second`` is found short
        with pytest.raises(InsufficientFunds) as short:
            tx.post("payment", "P1", [(second, -600), (first, -100), (merchant, 700)])
        assert short.value.account_id == second
        assert tx.account(first).balance == 500
        tx.post("payment", "P2", [(first, -500), (merchant, 500)])
    with store.begin() as tx:
        assert tx.account(first).balance == 0
        assert tx.account(second).balance == 500
        assert tx.account(merchant).balance == 500
        assert [h.ref for h in tx.history(merchant)] == ["P2"]
        assert [h.ref for h in tx.history(second)] == [second]
        assert tx.trial_balance() == {"SGD": 0}
        with pytest.raises(InsufficientFunds):
            tx.post("payment", "P3", [(first, -1), (merchant, 1)])
        tx.post("refund", "P2", [(merchant, -500), (first, 500)])  # only wallets are kept from going negative
        tx.post("settle", "S1", [(merchant, -1000), (tx.system_account("funding", "SGD"), 1000)])
        assert tx.account(merchant).balance == -1000


def test_a_transaction_ending_on_a_pooled_account_commits(store: Store) -> None:
    """The last statement of a transaction may answer rows no one reads (a pooled account moved: UPDATE ...
    RETURNING, run for its effect); the commit still goes through, and the move is kept."""
    with store.begin() as tx:
        merchant = shop(tx)
        funding = tx.system_account("funding", "SGD")
    with store.begin() as tx:
        tx.move_pooled(funding, -700)
        tx.move_pooled(merchant, 700)
    with store.begin() as tx:
        assert tx.account(merchant).balance == 700
        assert tx.trial_balance() == {"SGD": 0}


def test_fx_posting_balances_per_currency(store: Store) -> None:
    with store.begin() as tx:
        wallet = tx.add_wallet("SGD", 10_000, "Alice")
        baht = shop(tx, currency="THB")
        fx_sgd, fx_thb = tx.system_account("fx", "SGD"), tx.system_account("fx", "THB")
        with pytest.raises(LedgerError):  # numerically zero overall, but not per currency
            tx.post("payment", "P0", [(wallet, -1000), (baht, 1000)])
        tx.post("payment", "P1", [(wallet, -1000), (fx_sgd, 1000), (fx_thb, -26_000), (baht, 26_000)])
    with store.begin() as tx:
        assert tx.account(wallet).balance == 9000
        assert tx.account(baht).balance == 26_000 and tx.account(baht).currency == "THB"
        assert tx.account(fx_thb).balance == -26_000
        assert tx.trial_balance() == {"SGD": 0, "THB": 0}
        with pytest.raises(LedgerError):
            tx.system_account("piggybank", "SGD")


def test_concurrent_pays_from_one_wallet_never_overdraw(store: Store) -> None:
    threads, attempts, price, affordable = 8, 100, 7, 300
    with store.begin() as tx:
        wallet = tx.add_wallet("SGD", affordable * price, "Alice")
        merchant = shop(tx)

    def pay(thread: int) -> Counter[str]:
        outcomes: Counter[str] = Counter()
        for attempt in range(attempts):
            payment_id = f"P{thread}-{attempt}"
            with store.begin() as tx:
                try:
                    tx.post("payment", payment_id, [(wallet, -price), (merchant, price)])
                except InsufficientFunds:
                    outcomes["FAIL"] += 1
                    continue
                tx.add_payment(payment_id=payment_id, client_id="SHOP_1", payment_request_id=payment_id,
                               scenario="PaymentCode", amount=price, currency="SGD", status="SUCCESS", wallet_id=wallet)
            outcomes["SUCCESS"] += 1
        return outcomes

    total = sum(in_threads(threads, pay), Counter())
    assert total == {"SUCCESS": affordable, "FAIL": threads * attempts - affordable}
    with store.begin() as tx:
        assert tx.account(wallet).balance == 0
        assert tx.account(merchant).balance == affordable * price
        history = tx.history(wallet)
        assert len(history) == affordable + 1
        assert all(h.balance_after >= 0 for h in history)
        assert [h.balance_after for h in history] == [price * n for n in range(affordable + 1)]
        assert tx.trial_balance() == {"SGD": 0}
        paid = [tx.payment("SHOP_1", payment_id=h.ref) for h in history[:-1]]
        assert all(p is not None and p.status == "SUCCESS" for p in paid)


def test_pays_to_one_merchant_do_not_wait_for_each_other(store: Store) -> None:
    """No hot row: while one pay to a merchant is open (not committed), others to the same merchant, from
    other wallets, in fx and from the funding account, commit; every balance read after is exact."""
    if store.one_writer:
        pytest.skip("SQLite takes one writer at a time: transactions queue by design")
    with store.begin() as tx:
        merchant, merchant_jpy = shop(tx), shop(tx, currency="JPY")
        wallets = [tx.add_wallet("SGD", 1000, f"W{n}") for n in range(4)]
        fx_wallet = tx.add_wallet("JPY", 10_000, "Taro")
    held, release = threading.Event(), threading.Event()

    def open_pay() -> None:
        with store.begin() as tx:
            tx.post("payment", "P-open", [(wallets[0], -100), (merchant, 100)])
            held.set()
            assert release.wait(30)

    holder = threading.Thread(target=open_pay)
    holder.start()
    try:
        assert held.wait(30)
        with store.begin() as tx:  # would wait for the open pay's commit on the merchant's row
            tx.connection.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            for n, wallet in enumerate(wallets[1:], 1):
                tx.post("payment", f"P{n}", [(wallet, -10 * n), (merchant, 10 * n)])
            fx = [(fx_wallet, -900), (tx.system_account("fx", "JPY"), 900), (tx.system_account("fx", "SGD"), -9),
                  (merchant, 9)]
            tx.post("payment", "P-fx", fx)
            tx.add_wallet("SGD", 50, "funded meanwhile")
        with store.begin() as tx:
            assert tx.account(merchant).balance == 60 + 9  # the open pay's 100 not yet
    finally:
        release.set()
        holder.join()
    with store.begin() as tx:
        assert tx.account(merchant).balance == 169 and tx.account(merchant_jpy).balance == 0
        assert tx.account("funding:SGD").balance == -4050 and tx.account("fx:SGD").balance == -9
        assert tx.trial_balance() == {"SGD": 0, "JPY": 0}
        history = tx.history(merchant)
        assert sum(h.amount for h in history) == 169 and history[0].balance_after == 169


def test_transfers_both_ways_between_two_wallets_do_not_deadlock(store: Store) -> None:
    with store.begin() as tx:
        alice, bob = tx.add_wallet("SGD", 1000, "Alice"), tx.add_wallet("SGD", 1000, "Bob")

    def transfer(thread: int) -> None:
        payer, payee = (alice, bob) if thread % 2 else (bob, alice)
        for _ in range(12):
            with store.begin() as tx:
                tx.post("transfer", None, [(payer, -1), (payee, 1)])

    in_threads(8, transfer)
    with store.begin() as tx:
        assert tx.account(alice).balance == tx.account(bob).balance == 1000
        assert len(tx.history(alice)) == 8 * 12 + 1
        assert tx.trial_balance() == {"SGD": 0}


def test_a_transaction_that_raises_leaves_nothing_behind(store: Store) -> None:
    at = datetime.now(UTC)
    with pytest.raises(RuntimeError), store.begin() as tx:
        wallet = tx.add_wallet("SGD", 1000, "Alice")
        merchant = shop(tx)
        tx.post("payment", "P1", [(wallet, -300), (merchant, 300)])
        tx.add_payment(payment_id="P1", client_id="SHOP_1", payment_request_id="R1", scenario="PaymentCode",
                       amount=300, currency="SGD", status="SUCCESS", wallet_id=wallet, paid_at=at)
        tx.remember("SHOP_1", "pay", "R1", "hash", "{}")
        tx.add_code("251001020000000000000001", wallet, at + timedelta(minutes=1))
        raise RuntimeError("the line dropped")
    with store.begin() as tx:
        assert tx.accounts() == []
        assert tx.merchant("SHOP_1") is None
        assert tx.payment("SHOP_1", payment_id="P1") is None
        assert tx.remembered("SHOP_1", "pay", "R1") is None
        assert tx.take_code("251001020000000000000001", at).status is CodeStatus.UNKNOWN
        assert tx.trial_balance() == {}


def test_duplicate_keys_raise_duplicate_and_the_transaction_goes_on(store: Store) -> None:
    with store.begin() as tx:
        shop(tx)
        shop(tx, "SHOP_2")
        with pytest.raises(Duplicate):
            tx.add_merchant("SHOP_1", "again", PEM, "SGD")
        first = tx.add_payment(payment_id="P1", client_id="SHOP_1", payment_request_id="R1", scenario="OrderCode",
                               amount=100, currency="SGD")
        with pytest.raises(Duplicate):
            tx.add_payment(payment_id="P2", client_id="SHOP_1", payment_request_id="R1", scenario="OrderCode",
                           amount=100, currency="SGD")
        with pytest.raises(Duplicate):
            tx.add_payment(payment_id="P1", client_id="SHOP_2", payment_request_id="R9", scenario="OrderCode",
                           amount=100, currency="SGD")
        with pytest.raises(StoreError):  # not a duplicate: an unknown merchant
            tx.add_payment(payment_id="P3", client_id="NOBODY", payment_request_id="R1", scenario="OrderCode",
                           amount=100, currency="SGD")
        tx.add_payment(payment_id="P2", client_id="SHOP_2", payment_request_id="R1", scenario="OrderCode",
                       amount=100, currency="SGD")  # request ids are per merchant
        tx.add_refund(refund_id="F1", client_id="SHOP_1", refund_request_id="RR1", payment_id="P1", amount=40,
                      currency="SGD", status="SUCCESS")
        with pytest.raises(Duplicate):
            tx.add_refund(refund_id="F2", client_id="SHOP_1", refund_request_id="RR1", payment_id="P1", amount=40,
                          currency="SGD", status="SUCCESS")
        tx.remember("SHOP_1", "pay", "R1", "h1", '{"a": 1}')
        with pytest.raises(Duplicate):
            tx.remember("SHOP_1", "pay", "R1", "h2", '{"a": 2}')
        assert tx.payment("SHOP_1", payment_request_id="R1") == first
    with store.begin() as tx:
        assert tx.payment("SHOP_1", payment_request_id="R1") == first
        assert tx.payment("SHOP_2", payment_request_id="R1").payment_id == "P2"
        assert tx.refunded("P1").amount == 40
        assert tx.remembered("SHOP_1", "pay", "R1") == ("h1", '{"a": 1}')


def test_concurrent_inserts_of_one_request_id_make_one_payment(store: Store) -> None:
    with store.begin() as tx:
        shop(tx)

    def insert(i: int) -> str:
        try:
            with store.begin() as tx:
                tx.add_payment(payment_id=f"P{i}", client_id="SHOP_1", payment_request_id="R1", scenario="PaymentCode",
                               amount=100, currency="SGD")
        except Duplicate:
            return "duplicate"
        return "inserted"

    assert Counter(in_threads(8, insert)) == {"inserted": 1, "duplicate": 7}


def test_idempotency_records_are_per_merchant_call_and_key(store: Store) -> None:
    with store.begin() as tx:
        shop(tx)
        assert tx.remembered("SHOP_1", "pay", "R1") is None
        tx.remember("SHOP_1", "pay", "R1", "hash-1", '{"result": {"resultStatus": "S"}}')
        tx.remember("SHOP_1", "refund", "R1", "hash-2", "{}")
        tx.remember("SHOP_2", "pay", "R1", "hash-3", "{}")
    with store.begin() as tx:
        assert tx.remembered("SHOP_1", "pay", "R1") == ("hash-1", '{"result": {"resultStatus": "S"}}')
        assert tx.remembered("SHOP_1", "refund", "R1") == ("hash-2", "{}")
        assert tx.remembered("SHOP_2", "pay", "R1") == ("hash-3", "{}")
        assert tx.remembered("SHOP_1", "pay", "R2") is None


def test_payments_are_found_per_merchant_and_updated(store: Store) -> None:
    created = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
    with store.begin() as tx:
        shop(tx)
        shop(tx, "SHOP_2")
        wallet = tx.add_wallet("SGD", 1000, "Alice")
        added = tx.add_payment(payment_id="P1", client_id="SHOP_1", payment_request_id="R1", scenario="PaymentCode",
                               amount=1250, currency="SGD", payment_method_id="251001020123456789012345",
                               notify_url="http://127.0.0.1/notify", request_json='{"x": 1}', created_at=created)
        tx.add_payment(payment_id="P2", client_id="SHOP_1", payment_request_id="R2", scenario="PaymentCode",
                       amount=1, currency="SGD")
    with store.begin() as tx:
        payment = tx.payment("SHOP_1", payment_request_id="R1")
        assert payment is not None and payment.payment_id == "P1"
        assert payment == added
        assert (payment.status, payment.amount, payment.currency) == ("PROCESSING", 1250, "SGD")
        assert payment.created_at == created and payment.created_at.tzinfo is UTC
        assert payment.paid_at is None and payment.wallet_id is None
        assert tx.payment("SHOP_1", payment_id="P2", payment_request_id="R1").payment_id == "P2"  # the id wins
        assert tx.payment("SHOP_2", payment_id="P1") is None
        paid = datetime.now(UTC)
        assert tx.update_payment("P1", status="SUCCESS", result_code="SUCCESS", wallet_id=wallet,
                                 wallet_amount=1250, wallet_currency="sgd", paid_at=paid)
        assert not tx.update_payment("P1", only_if_status="PROCESSING", status="CANCELLED")
        assert tx.update_payment("P2", only_if_status="PROCESSING", status="FAIL", result_code="USER_BALANCE_NOT_ENOUGH")
        with pytest.raises(TypeError):
            tx.update_payment("P1", amount=1)
        with pytest.raises(TypeError):
            tx.update_payment("P1", colour="red")
        with pytest.raises(StoreError):
            tx.update_payment("P1", status="DONE")
        with pytest.raises(StoreError):
            tx.update_payment("P9", status="FAIL")
        with pytest.raises(StoreError):
            tx.update_payment("P1", paid_at=datetime(2025, 1, 1))  # naive: refused
    with store.begin() as tx:
        payment = tx.payment("SHOP_1", payment_id="P1")
        assert (payment.status, payment.wallet_id, payment.wallet_amount, payment.wallet_currency) == ("SUCCESS", wallet, 1250, "SGD")
        assert payment.paid_at == paid
        assert tx.payment("SHOP_1", payment_id="P2").result_code == "USER_BALANCE_NOT_ENOUGH"


def test_refunds_add_up_per_payment(store: Store) -> None:
    with store.begin() as tx:
        shop(tx)
        tx.add_payment(payment_id="P1", client_id="SHOP_1", payment_request_id="R1", scenario="PaymentCode",
                       amount=1000, currency="SGD", status="SUCCESS")
        assert tx.refunded("P1") == (0, 0, 0)
        tx.add_refund(refund_id="F1", client_id="SHOP_1", refund_request_id="RR1", payment_id="P1", amount=300,
                      currency="SGD", wallet_amount=300, wallet_currency="SGD", status="SUCCESS", reason="cold kopi")
        tx.add_refund(refund_id="F2", client_id="SHOP_1", refund_request_id="RR2", payment_id="P1", amount=200,
                      currency="SGD", status="PROCESSING")
        tx.add_refund(refund_id="F3", client_id="SHOP_1", refund_request_id="RR3", payment_id="P1", amount=400,
                      currency="SGD", status="FAIL")
        with pytest.raises(StoreError):
            tx.add_refund(refund_id="F4", client_id="SHOP_1", refund_request_id="RR4", payment_id="P9", amount=1,
                          currency="SGD", status="SUCCESS")
    with store.begin() as tx:
        assert tx.refunded("P1") == (500, 300, 0)
        refund = tx.refund("SHOP_1", refund_request_id="RR1")
        assert refund is not None and (refund.refund_id, refund.amount, refund.reason) == ("F1", 300, "cold kopi")
        assert tx.refund("SHOP_1", refund_id="F2", refund_request_id="RR1").refund_id == "F2"
        assert tx.refund("SHOP_2", refund_id="F1") is None
        tx.update_refund("F2", status="FAIL")
        assert tx.refunded("P1") == (300, 300, 0)


def test_a_locked_payment_moves_money_once_under_concurrency(store: Store) -> None:
    with store.begin() as tx:
        wallet = tx.add_wallet("SGD", 10_000, "Alice")
        merchant = shop(tx)
        tx.add_payment(payment_id="P1", client_id="SHOP_1", payment_request_id="R1", scenario="OrderCode",
                       amount=500, currency="SGD")

    def complete(_: int) -> bool:
        with store.begin() as tx:
            payment = tx.payment("SHOP_1", payment_id="P1", lock=True)
            if payment.status != "PROCESSING":
                return False
            tx.post("payment", "P1", [(wallet, -500), (merchant, 500)])
            tx.update_payment("P1", status="SUCCESS", wallet_id=wallet)
            return True

    assert sorted(in_threads(8, complete)) == [False] * 7 + [True]
    with store.begin() as tx:
        assert tx.account(wallet).balance == 9500


def test_payment_codes_are_single_use_and_expire(store: Store) -> None:
    now = datetime.now(UTC)
    with store.begin() as tx:
        wallet = tx.add_wallet("SGD", 100, "Alice")
        tx.add_code("251001020000000000000001", wallet, now + timedelta(seconds=60))
        tx.add_code("251001020000000000000002", wallet, now)
        with pytest.raises(Duplicate):
            tx.add_code("251001020000000000000001", wallet, now)
        with pytest.raises(StoreError):
            tx.add_code("251001020000000000000003", "W-nobody", now)
        with pytest.raises(StoreError):
            tx.add_code("251001020000000000000004", wallet, datetime(2030, 1, 1))  # naive
    with store.begin() as tx:
        taken = tx.take_code("251001020000000000000001", now)
        assert taken.ok and taken.status == "ok" and taken.wallet_id == wallet
        assert tx.take_code("251001020000000000000001", now).status is CodeStatus.USED
        expired = tx.take_code("251001020000000000000002", now)  # expires_at is the first instant it is dead
        assert expired.status is CodeStatus.EXPIRED and not expired.ok
        assert tx.take_code("251001020000000000000002", now - timedelta(seconds=1)).ok
        assert tx.take_code("999", now).status is CodeStatus.UNKNOWN


def test_a_payment_code_is_taken_once_under_concurrency(store: Store) -> None:
    now = datetime.now(UTC)
    with store.begin() as tx:
        wallet = tx.add_wallet("SGD", 100, "Alice")
        tx.add_code("251001020123456789012345", wallet, now + timedelta(seconds=60))

    def take(_: int) -> str:
        with store.begin() as tx:
            return tx.take_code("251001020123456789012345", now).status

    assert Counter(in_threads(16, take)) == {"ok": 1, "used": 15}


def test_everything_written_is_there_after_reopening(url: str) -> None:
    paid = datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)
    with Store.open(url) as store, store.begin() as tx:
        wallet = tx.add_wallet("KWD", 12_345, "Alice")
        merchant = shop(tx, currency="KWD")
        tx.post("payment", "P1", [(wallet, -2345), (merchant, 2345)], memo="dinar")
        tx.add_payment(payment_id="P1", client_id="SHOP_1", payment_request_id="R1", scenario="PaymentCode",
                       amount=2345, currency="KWD", status="SUCCESS", wallet_id=wallet, paid_at=paid)
        tx.remember("SHOP_1", "pay", "R1", "hash", '{"ok": true}')
        tx.add_code("251001020000000000000001", wallet, paid + timedelta(minutes=1))
        tx.take_code("251001020000000000000001", paid)
    with Store.open(url) as store, store.begin() as tx:
        assert tx.account(wallet).balance == 10_000
        assert [(h.ref, h.amount, h.memo) for h in tx.history(merchant)] == [("P1", 2345, "dinar")]
        assert tx.merchant("SHOP_1").public_key == PEM
        payment = tx.payment("SHOP_1", payment_request_id="R1")
        assert payment.paid_at == paid and payment.wallet_id == wallet
        assert tx.remembered("SHOP_1", "pay", "R1") == ("hash", '{"ok": true}')
        assert tx.take_code("251001020000000000000001", paid).status is CodeStatus.USED
        assert tx.trial_balance() == {"KWD": 0}


def test_sqlite_store_writes_ahead(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'ledger.db'}") as store:
        with store.begin() as tx:
            tx.add_wallet("SGD", 1, "Alice")
        assert (tmp_path / "ledger.db-wal").exists()


@pytest.mark.parametrize("bad", ["sqlite://", "sqlite:///:memory:", "mysql://root@localhost/pos", "not a url"])
def test_open_refuses_what_is_not_a_durable_sqlite_or_postgresql_store(bad: str) -> None:
    with pytest.raises(StoreError):
        Store.open(bad)


def test_open_says_why_a_sqlite_file_cannot_be_used(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        Store.open(f"sqlite:///{tmp_path / 'missing-dir' / 'ledger.db'}")


def test_a_failing_database_is_a_store_error_and_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Store.open(f"sqlite:///{path}") as store:
        with store.begin() as tx:
            wallet = tx.add_wallet("SGD", 100, "Alice")
        other = sqlite3.connect(path)
        other.execute("DROP TABLE requests")
        other.close()
        with pytest.raises(StoreError, match="no such table"), store.begin() as tx:
            tx.post("fund", None, [(tx.system_account("funding", "SGD"), -1), (wallet, 1)])
            tx.remembered("SHOP_1", "pay", "R1")
        with store.begin() as tx:
            assert tx.account(wallet).balance == 100


def _sees_wallet(path: Path, wallet: str) -> bool:
    """Whether a reader of its own (another connection, as after a crash) finds the account: committed."""
    reader = sqlite3.connect(path)
    try:
        return reader.execute("SELECT count(*) FROM accounts WHERE id = ?", (wallet,)).fetchone()[0] == 1
    finally:
        reader.close()


def test_a_group_commits_its_transactions_together_and_tells_who_waits(tmp_path: Path) -> None:
    """SQLite: transactions begun in ``grouping()`` are durable only once the group commits, one that
    raises is undone alone, and each waiter hears of the commit once."""
    path = tmp_path / "ledger.db"
    told: list[StoreError | None] = []
    with Store.open(f"sqlite:///{path}") as store:
        assert not store.on_commit(told.append)  # nothing open: nothing to wait for
        with store.grouping():
            with store.begin() as tx:
                kept = tx.add_wallet("SGD", 500, "Alice")
            with pytest.raises(LedgerError), store.begin() as tx:
                undone = tx.add_wallet("SGD", 700, "Bob")
                tx.post("fund", None, [(undone, 1)])  # unbalanced: raises after the wallet was written
            with store.begin() as tx:  # the group's transactions see each other's work
                assert tx.account(kept).balance == 500 and tx.account(undone) is None
        assert store.on_commit(told.append)
        assert not _sees_wallet(path, kept) and told == []
        assert store.commit_group() is None
        assert told == [None] and _sees_wallet(path, kept) and not _sees_wallet(path, undone)
        assert store.commit_group() is None and told == [None]
        with store.begin() as tx:
            assert tx.trial_balance() == {"SGD": 0}


def test_a_transaction_outside_the_group_commits_the_group_first(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    told: list[StoreError | None] = []
    with Store.open(f"sqlite:///{path}") as store:
        with store.grouping(), store.begin() as tx:
            wallet = tx.add_wallet("SGD", 500, "Alice")
        assert store.on_commit(told.append)
        with store.begin() as tx:  # outside the group (as the admin API's threads, the notifier, a timer)
            assert tx.account(wallet).balance == 500
            assert told == [None] and _sees_wallet(path, wallet)


def test_a_group_that_fails_to_commit_undoes_all_of_it_and_tells_every_waiter(tmp_path: Path) -> None:
    """A commit that fails (here, a foreign key checked at commit) undoes every transaction of the group;
    each waiter hears the StoreError, and the store goes on."""
    path = tmp_path / "ledger.db"
    told: list[StoreError | None] = []
    with Store.open(f"sqlite:///{path}") as store:
        with store.grouping():
            with store.begin() as tx:
                wallet = tx.add_wallet("SGD", 500, "Alice")
            with store.begin() as tx:
                tx.connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
                tx.add_code("C-ORPHAN", "W-NO-SUCH-WALLET", datetime.now(UTC) + timedelta(minutes=1))
        store.on_commit(told.append)
        store.on_commit(told.append)
        failed = store.commit_group()
        assert isinstance(failed, StoreError) and "FOREIGN KEY" in str(failed)
        assert told == [failed, failed] and not _sees_wallet(path, wallet)
        with store.begin() as tx:
            assert tx.account(wallet) is None and tx.trial_balance() == {}
            assert tx.take_code("C-ORPHAN", datetime.now(UTC)).status is CodeStatus.UNKNOWN
            alice = tx.add_wallet("SGD", 5, "Alice")
        assert _sees_wallet(path, alice)


def test_grouping_changes_nothing_where_the_store_takes_many_writers(url: str) -> None:
    """PostgreSQL: each transaction commits when its block ends, grouping or not; nothing waits."""
    with Store.open(url) as store:
        if store.one_writer:
            pytest.skip("SQLite groups its commits (the tests above)")
        with store.grouping(), store.begin() as tx:
            wallet = tx.add_wallet("SGD", 500, "Alice")
        assert not store.on_commit(lambda _failed: None)
        with Store.open(url) as other, other.begin() as tx:
            assert tx.account(wallet).balance == 500


def test_foreign_keys_go_unchecked_in_one_transaction_only_where_asked_and_only_on_sqlite(store: Store) -> None:
    from sqlalchemy import insert

    from pos_sim.backend.store.transit import transit_debts

    def owe(tx: Tx, account: str) -> None:  # a debt of a wallet that is not in the ledger
        tx.connection.execute(insert(transit_debts), {"account": account, "wallet_id": "W-NOWHERE", "currency": "SGD",
                                                      "owed": 120, "since": datetime.now(UTC), "updated_at": datetime.now(UTC)})

    if store.dialect == "sqlite":
        with store.begin(bulk=True) as tx:  # the caller checks its references (clearing)
            owe(tx, "ab" * 16)
    else:  # PostgreSQL checks every transaction's
        with pytest.raises(StoreError), store.begin(bulk=True) as tx:
            owe(tx, "ab" * 16)
    with pytest.raises(StoreError), store.begin() as tx:  # the next transaction is checked again
        owe(tx, "cd" * 16)


def test_payments_and_postings_are_keyed_in_the_order_they_were_made(store: Store) -> None:
    """Ids that sort by time put a commit's new rows on the last page of each key, not on a random page apiece
    (pages a pay writes: docs/benchmarks.md); and an operator listing payments by id reads them in time order."""
    from pos_sim.backend.services.payments import Payments
    from pos_sim.backend.services.wallets import Wallets

    with store.begin() as tx:
        shop(tx)
    wallet = Wallets(store).open("SGD", 100_000, "Alice")["walletId"]
    payments = Payments(store)
    made = []
    for i in range(12):
        body = {"productCode": "IN_STORE_PAYMENT", "paymentRequestId": f"order-{i}",
                "paymentAmount": {"currency": "SGD", "value": "150"},
                "paymentMethod": {"paymentMethodType": "CONNECT_WALLET",
                                  "paymentMethodId": Wallets(store).payment_code(wallet)["code"]},
                "paymentFactor": {"inStorePaymentScenario": "PaymentCode"}}
        answer = payments.call("SHOP_1", "pay", body)
        assert answer["result"]["resultStatus"] == "S"
        made.append(answer["paymentId"])
        time.sleep(0.002)  # ids of one millisecond share their time and differ by their random part
    assert made == sorted(made) and len(set(made)) == 12
    assert all(len(payment_id) == 25 and payment_id.startswith("P20") for payment_id in made)
    with store.begin() as tx:
        postings = [h.posting_id for h in reversed(tx.history(wallet))]
    assert len(postings) == 13 and postings == sorted(postings)  # the opening balance's, then the pays'
