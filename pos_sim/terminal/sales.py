"""The register's sales book: every sale, void and refund by receipt number, and the batches a Z report closes.

A local SQLite file beside the payment journal (``sales.db``; ``sales-training.db`` for a training
terminal), in WAL mode with ``synchronous=FULL`` like the journal: a row is on disk before the call
it stands for is sent. The journal knows payments; the book knows what was sold and printed:

- a **sale** is written (lines, taxes, total, tender, a new receipt number, the batch) *before* its
  payment request is journalled and sent, and settled with the payment's outcome afterwards. A sale
  whose payment request never reached the journal was never sent (the register records it so when
  it opens); one the journal holds is settled from the journal once ``recover`` has resolved it. So
  no payment is ever charged without a sale recorded for it.
- a **reversal** (a void: the payment cancelled; or a refund, all or part) gets its own receipt
  number and is written PENDING before its call is sent, then DONE or REFUSED. A pending one is
  sent again when the register opens (a cancel and a refund are both safe to repeat: the refund's
  request id makes it once).
- a **batch** is open until a Z report closes it; every sale and reversal belongs to the batch open
  when it was written. The Z report is kept with the batch it closed.

Receipt numbers are the terminal id and a sequence of the book ("T01-000123"), one sequence for
sales, voids and refunds, never reused. One register process has the book open at a time: opening
takes a lock (``flock`` on ``sales.db.lock``) that the kernel frees when the process ends, however
it ends.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from pos_sim.domain.errors import AmountError, DomainError
from pos_sim.domain.money import Currency, Money, currency
from pos_sim.domain.receipt import Kind, ReceiptLine, TaxLine, Weight
from pos_sim.language import N_, Phrase
from pos_sim.terminal import local_file
from pos_sim.terminal.errors import JournalError, RegisterError
from pos_sim.terminal.journal import State

try:
    import fcntl
except ImportError:  # not on Windows: one process per book is then the user's to keep
    fcntl = None  # type: ignore[assignment]

APPLICATION_ID = 0x50535331  # "PSS1": marks a SQLite file as a pos-sim sales book
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE batches (
    number INTEGER PRIMARY KEY,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    z_report TEXT                         -- the Z report that closed it, JSON
);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE sales (
    receipt_number TEXT PRIMARY KEY,
    payment_request_id TEXT NOT NULL UNIQUE,
    batch INTEGER NOT NULL REFERENCES batches (number),
    tender TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    content TEXT NOT NULL,                -- JSON: the receipt's lines, subtotal and taxes
    customer_code TEXT,                   -- masked as a receipt shows it
    state TEXT NOT NULL,                  -- the journal's states: SENT until settled
    result_code TEXT,
    result_message TEXT,
    payment_id TEXT,
    wallet TEXT,
    wallet_amount_minor INTEGER,
    wallet_currency TEXT,
    fx_rate TEXT,
    created_at TEXT NOT NULL,             -- ISO 8601 in the merchant's time zone
    updated_at TEXT NOT NULL
);
CREATE INDEX sales_by_batch ON sales (batch);
CREATE TABLE reversals (
    receipt_number TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                   -- VOID or REFUND
    sale_receipt TEXT NOT NULL REFERENCES sales (receipt_number),
    request_id TEXT NOT NULL,             -- refundRequestId, or for a void the sale's paymentRequestId
    batch INTEGER NOT NULL REFERENCES batches (number),
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    reason TEXT,
    state TEXT NOT NULL,                  -- PENDING, DONE, REFUSED
    result_code TEXT,
    result_message TEXT,
    refund_id TEXT,
    wallet_amount_minor INTEGER,
    wallet_currency TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX reversals_by_sale ON reversals (sale_receipt);
CREATE INDEX reversals_by_batch ON reversals (batch);
"""


def _open_first_batch(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO batches (number, opened_at) VALUES (1, ?)", (_utc_now(),))


SALES_FILE = local_file.FileKind("sales book", APPLICATION_ID, _SCHEMA, SCHEMA_VERSION, RegisterError, _open_first_batch)

_SALE_COLUMNS = ("receipt_number, payment_request_id, batch, tender, amount_minor, currency, content, customer_code, state,"
                 " result_code, result_message, payment_id, wallet, wallet_amount_minor, wallet_currency, fx_rate, created_at")
_REVERSAL_COLUMNS = ("receipt_number, kind, sale_receipt, request_id, batch, amount_minor, currency, reason, state,"
                     " result_code, result_message, refund_id, wallet_amount_minor, wallet_currency, created_at")


class ReversalState(StrEnum):
    """Where a void or a refund stands."""

    PENDING = "PENDING"   # written before its call was sent; the gateway's answer not known yet
    DONE = "DONE"         # the gateway answered S: cancelled, or refunded
    REFUSED = "REFUSED"   # the gateway answered F: nothing moved


@dataclass(frozen=True)
class Reversal:
    """A void (the sale's payment cancelled) or a refund (all or part of it), as the book holds it."""

    kind: Kind
    receipt_number: str
    sale_receipt: str
    request_id: str
    batch: int
    amount: Money
    reason: str | None
    state: ReversalState
    result_code: str | None
    result_message: str | None
    refund_id: str | None
    wallet_amount: Money | None
    created_at: datetime


@dataclass(frozen=True)
class Sale:
    """A sale as the book holds it: what was sold (as its receipt prints it), how it was paid, and
    what became of it. ``state`` is the payment's (the journal's states); ``reversals`` its voids and
    refunds, oldest first."""

    receipt_number: str
    payment_request_id: str
    batch: int
    tender: str
    amount: Money
    lines: tuple[ReceiptLine, ...]
    subtotal: Money
    taxes: tuple[TaxLine, ...]
    customer_code: str | None
    state: State
    result_code: str | None
    result_message: str | None
    payment_id: str | None
    wallet: str | None
    wallet_amount: Money | None
    fx_rate: Decimal | None
    created_at: datetime
    reversals: tuple[Reversal, ...] = ()

    @property
    def resolved(self) -> bool:
        return self.state.final

    @property
    def approved(self) -> bool:
        return self.state is State.APPROVED

    def _reversals(self, kind: Kind, *states: ReversalState) -> list[Reversal]:
        return [r for r in self.reversals if r.kind is kind and r.state in states]

    @property
    def voided(self) -> bool:
        """The payment was cancelled by a void: the money went back."""
        return bool(self._reversals(Kind.VOID, ReversalState.DONE))

    @property
    def refunded(self) -> Money:
        """What refunds gave back so far."""
        return sum((r.amount for r in self._reversals(Kind.REFUND, ReversalState.DONE)), Money(0, self.amount.currency))

    @property
    def refundable(self) -> Money:
        """What is left to refund: the amount, less refunds done and refunds still pending."""
        held = self._reversals(Kind.REFUND, ReversalState.DONE, ReversalState.PENDING)
        return self.amount - sum((r.amount for r in held), Money(0, self.amount.currency))

    @property
    def pending_reversal(self) -> Reversal | None:
        return next((r for r in self.reversals if r.state is ReversalState.PENDING), None)


@dataclass(frozen=True)
class Batch:
    """A batch of sales: open until a Z report closes it."""

    number: int
    opened_at: datetime
    closed_at: datetime | None
    z_report: dict[str, Any] | None


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def content_json(lines: tuple[ReceiptLine, ...], subtotal: Money, taxes: tuple[TaxLine, ...]) -> str:
    """A sale's receipt content as the book stores it: amounts in minor units of the sale's currency."""
    return json.dumps({
        "lines": [{"description": line.description,
                   **({"grams": line.quantity.grams} if isinstance(line.quantity, Weight) else {"quantity": line.quantity}),
                   "unit_price": line.unit_price.minor, "amount": line.amount.minor} for line in lines],
        "subtotal": subtotal.minor,
        "taxes": [{"name": tax.name, "rate": tax.rate, "amount": tax.amount.minor, "included": tax.included} for tax in taxes],
    }, ensure_ascii=False)


def _content(text: str, cur: Currency) -> tuple[tuple[ReceiptLine, ...], Money, tuple[TaxLine, ...]]:
    data = json.loads(text)
    lines = tuple(ReceiptLine(line["description"], Weight(line["grams"]) if "grams" in line else line["quantity"],
                              Money(line["unit_price"], cur), Money(line["amount"], cur)) for line in data["lines"])
    taxes = tuple(TaxLine(tax["name"], tax["rate"], Money(tax["amount"], cur), tax["included"]) for tax in data["taxes"])
    return lines, Money(data["subtotal"], cur), taxes


class SalesBook:
    """A sales book file, open and locked for this process. Open it with ``SalesBook.open``."""

    def __init__(self, path: Path, connection: sqlite3.Connection, lock_fd: int | None, receipt_prefix: str) -> None:
        self.path = path
        self.receipt_prefix = receipt_prefix
        self._db = connection
        self._lock_fd = lock_fd
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, receipt_prefix: str) -> SalesBook:
        """The book at ``path`` (made with its folders if need be), locked for this process; receipt
        numbers it gives are ``receipt_prefix`` and six digits ("T01-" -> "T01-000001")."""
        path = local_file.check_path(path, SALES_FILE)
        lock_fd = cls._take_lock(path)
        try:
            db = local_file.connect(path, SALES_FILE)
        except RegisterError:
            cls._free_lock(lock_fd)
            raise
        return cls(path, db, lock_fd, receipt_prefix)

    @staticmethod
    def _take_lock(path: Path) -> int | None:
        if fcntl is None:
            return None
        lock_path = path.with_name(path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RegisterError(f"{lock_path}: cannot open the lock file ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RegisterError(Phrase(N_("{path}: another pos-sim register has this sales book open; one register "
                                          "process per journal folder"), path=str(path))) from None
        return fd

    @staticmethod
    def _free_lock(fd: int | None) -> None:
        if fd is not None:
            os.close(fd)  # closing the descriptor frees the flock

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._free_lock(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> SalesBook:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The book's lock and one transaction: BEGIN IMMEDIATE, then COMMIT (on disk on return) or ROLLBACK."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: cannot write the sales book ({exc})") from None
            try:
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise JournalError(f"{self.path}: cannot write the sales book ({exc})") from None
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: cannot read the sales book ({exc})") from None

    def _next_number(self, db: sqlite3.Connection) -> str:
        row = db.execute("SELECT value FROM counters WHERE name = 'receipt'").fetchone()
        value = (row[0] if row else 0) + 1
        db.execute("INSERT INTO counters (name, value) VALUES ('receipt', ?) ON CONFLICT (name) DO UPDATE SET value = ?",
                   (value, value))
        return f"{self.receipt_prefix}{value:06d}"

    # --- batches ---

    def batch(self, number: int | None = None) -> Batch:
        """The batch ``number``, or the open one."""
        where, args = ("WHERE number = ?", (number,)) if number is not None else ("WHERE closed_at IS NULL", ())
        rows = self._rows(f"SELECT number, opened_at, closed_at, z_report FROM batches {where} ORDER BY number DESC LIMIT 1", args)
        if not rows:
            raise RegisterError(f"{self.path}: no batch {number}" if number is not None else f"{self.path}: no open batch")
        number, opened, closed, report = rows[0]
        return Batch(number, datetime.fromisoformat(opened), closed and datetime.fromisoformat(closed),
                     json.loads(report) if report else None)

    def close_batch(self, number: int, z_report: dict[str, Any], closed_at: datetime) -> Batch:
        """Close the open batch ``number`` with its Z report, and open the next; the new batch."""
        with self._writing() as db:
            done = db.execute("UPDATE batches SET closed_at = ?, z_report = ? WHERE number = ? AND closed_at IS NULL",
                              (closed_at.isoformat(), json.dumps(z_report, ensure_ascii=False), number)).rowcount
            if done != 1:
                raise RegisterError(f"{self.path}: batch {number} is not the open batch")
            db.execute("INSERT INTO batches (number, opened_at) VALUES (?, ?)", (number + 1, closed_at.isoformat()))
        return self.batch()

    # --- sales ---

    def open_sale(self, payment_request_id: str, tender: str, amount: Money, lines: tuple[ReceiptLine, ...], subtotal: Money,
                  taxes: tuple[TaxLine, ...], customer_code: str | None, created_at: datetime) -> Sale:
        """Write a new sale, state SENT, with the next receipt number, in the open batch; committed
        before it returns (call it before the payment request is journalled and sent)."""
        with self._writing() as db:
            number = self._next_number(db)
            batch = db.execute("SELECT number FROM batches WHERE closed_at IS NULL").fetchone()[0]
            db.execute(f"INSERT INTO sales ({_SALE_COLUMNS}, updated_at) VALUES ({', '.join('?' * 18)})",
                       (number, payment_request_id, batch, tender, amount.minor, amount.currency.code,
                        content_json(lines, subtotal, taxes), customer_code, State.SENT, None, None, None, None, None, None,
                        None, created_at.isoformat(), _utc_now()))
        return self.sale(number)

    def settle_sale(self, receipt_number: str, state: State, *, result_code: str | None = None,
                    result_message: str | None = None, payment_id: str | None = None, wallet: str | None = None,
                    wallet_amount: Money | None = None, fx_rate: Decimal | None = None) -> Sale:
        """Record what became of a sale's payment (a final state, or a pending one it was left in)."""
        with self._writing() as db:
            done = db.execute(
                "UPDATE sales SET state = ?, result_code = ?, result_message = ?, payment_id = coalesce(?, payment_id),"
                " wallet = coalesce(?, wallet), wallet_amount_minor = coalesce(?, wallet_amount_minor),"
                " wallet_currency = coalesce(?, wallet_currency), fx_rate = coalesce(?, fx_rate), updated_at = ?"
                " WHERE receipt_number = ?",
                (state, result_code, result_message, payment_id, wallet, wallet_amount and wallet_amount.minor,
                 wallet_amount and wallet_amount.currency.code, None if fx_rate is None else str(fx_rate), _utc_now(),
                 receipt_number)).rowcount
            if done != 1:
                raise RegisterError(f"{self.path}: no sale {receipt_number}")
        return self.sale(receipt_number)

    def sale(self, receipt_number: str) -> Sale:
        """The sale with this receipt number; RegisterError when the book has none."""
        rows = self._rows(f"SELECT {_SALE_COLUMNS} FROM sales WHERE receipt_number = ?", (receipt_number,))
        if not rows:
            reversal = self.reversal(receipt_number, missing_ok=True)
            if reversal is not None:
                raise RegisterError(f"receipt {receipt_number} is a {reversal.kind.lower()} of sale {reversal.sale_receipt}, "
                                    f"not a sale: give the sale's receipt number")
            raise RegisterError(f"receipt {receipt_number}: no such sale in {self.path}")
        return self._sale(rows[0])

    def sales(self, *, batch: int | None = None, pending: bool = False) -> list[Sale]:
        """Sales oldest first: of one ``batch``, or those whose payment is not resolved (``pending``)."""
        where, args = [], []
        if batch is not None:
            where.append("batch = ?")
            args.append(batch)
        if pending:
            final = [state.value for state in State if state.final]
            where.append(f"state NOT IN ({', '.join('?' * len(final))})")
            args += final
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return [self._sale(row) for row in self._rows(f"SELECT {_SALE_COLUMNS} FROM sales {clause} ORDER BY rowid", tuple(args))]

    def _sale(self, row: tuple) -> Sale:
        (number, request_id, batch, tender, minor, code, content, customer_code, state, result_code, result_message,
         payment_id, wallet, wallet_minor, wallet_code, fx_rate, created_at) = row
        try:
            cur = currency(code)
            lines, subtotal, taxes = _content(content, cur)
            sale = Sale(number, request_id, batch, tender, Money(minor, cur), lines, subtotal, taxes, customer_code,
                        State(state), result_code, result_message, payment_id, wallet,
                        None if wallet_minor is None else Money.of_minor(wallet_minor, wallet_code),
                        None if fx_rate is None else Decimal(fx_rate), datetime.fromisoformat(created_at))
        except (AmountError, DomainError, ValueError, KeyError, TypeError) as exc:
            raise JournalError(f"{self.path}: sale {number} holds an unreadable row ({exc})") from None
        reversals = tuple(self._reversal(r) for r in self._rows(
            f"SELECT {_REVERSAL_COLUMNS} FROM reversals WHERE sale_receipt = ? ORDER BY rowid", (number,)))
        return replace(sale, reversals=reversals)

    # --- voids and refunds ---

    def open_reversal(self, kind: Kind, sale: Sale, request_id: str, amount: Money, reason: str | None, created_at: datetime) -> Reversal:
        """Write a void or a refund of ``sale``, PENDING, with the next receipt number, in the open
        batch; committed before it returns (call it before the cancel or refund is sent)."""
        with self._writing() as db:
            number = self._next_number(db)
            batch = db.execute("SELECT number FROM batches WHERE closed_at IS NULL").fetchone()[0]
            db.execute(f"INSERT INTO reversals ({_REVERSAL_COLUMNS}, updated_at) VALUES ({', '.join('?' * 16)})",
                       (number, kind.value, sale.receipt_number, request_id, batch, amount.minor, amount.currency.code, reason,
                        ReversalState.PENDING, None, None, None, None, None, created_at.isoformat(), _utc_now()))
        return self.reversal(number)

    def settle_reversal(self, receipt_number: str, state: ReversalState, *, result_code: str | None = None,
                        result_message: str | None = None, refund_id: str | None = None,
                        wallet_amount: Money | None = None) -> Reversal:
        with self._writing() as db:
            done = db.execute(
                "UPDATE reversals SET state = ?, result_code = ?, result_message = ?, refund_id = coalesce(?, refund_id),"
                " wallet_amount_minor = ?, wallet_currency = ?, updated_at = ? WHERE receipt_number = ? AND state = ?",
                (state, result_code, result_message, refund_id, wallet_amount and wallet_amount.minor,
                 wallet_amount and wallet_amount.currency.code, _utc_now(), receipt_number, ReversalState.PENDING)).rowcount
            if done != 1:
                raise RegisterError(f"{self.path}: no pending void or refund {receipt_number}")
        return self.reversal(receipt_number)

    def reversal(self, receipt_number: str, missing_ok: bool = False) -> Reversal | None:
        rows = self._rows(f"SELECT {_REVERSAL_COLUMNS} FROM reversals WHERE receipt_number = ?", (receipt_number,))
        if not rows:
            if missing_ok:
                return None
            raise RegisterError(f"receipt {receipt_number}: no such void or refund in {self.path}")
        return self._reversal(rows[0])

    def reversals(self, *, batch: int | None = None, pending: bool = False) -> list[Reversal]:
        where, args = [], []
        if batch is not None:
            where.append("batch = ?")
            args.append(batch)
        if pending:
            where.append("state = ?")
            args.append(ReversalState.PENDING.value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return [self._reversal(r) for r in self._rows(f"SELECT {_REVERSAL_COLUMNS} FROM reversals {clause} ORDER BY rowid", tuple(args))]

    def _reversal(self, row: tuple) -> Reversal:
        (number, kind, sale_receipt, request_id, batch, minor, code, reason, state, result_code, result_message, refund_id,
         wallet_minor, wallet_code, created_at) = row
        try:
            return Reversal(Kind(kind), number, sale_receipt, request_id, batch, Money.of_minor(minor, code), reason,
                            ReversalState(state), result_code, result_message, refund_id,
                            None if wallet_minor is None else Money.of_minor(wallet_minor, wallet_code),
                            datetime.fromisoformat(created_at))
        except (AmountError, ValueError) as exc:
            raise JournalError(f"{self.path}: {kind.lower()} {number} holds an unreadable row ({exc})") from None
