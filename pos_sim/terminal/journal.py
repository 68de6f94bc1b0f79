"""The terminal's payment journal: a local SQLite file that outlives the process.

A payment request gets its row, committed, *before* the pay is sent; every call made for it
(pay, each inquiry, each cancel) is logged with its answer, and the row moves through the states
below, never out of a final one. So a terminal killed at any point finds, on its next start, every
payment whose outcome it did not record, and resolves it with the gateway (``authorize.recover``).

    SENT ──> APPROVED | DECLINED                   the pay's own answer
      │
      ├──> RESOLVING ──> APPROVED | DECLINED | CANCELLED | REVERSED | NOT_PROCESSED
      │        │                                   an inquiry found the outcome
      └────────┴──> CANCELLING ──> CANCELLED | REVERSED | NOT_PROCESSED | APPROVED | DECLINED
                                                   the cancel (or, refused, an inquiry) settled it

The file is in WAL mode with ``synchronous=FULL``: a commit is on disk before ``record`` returns,
so a power cut cannot lose a row written before its pay was sent. Plain ``sqlite3`` rather than
SQLAlchemy: one local file, one writer, and the commit points and PRAGMAs are the whole point, so
they are spelt out here rather than behind a pool. The payment code is kept masked: it is a
customer's one-time bearer token, and resolving a payment never needs it again.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path

from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import Money
from pos_sim.domain.receipt import mask_code
from pos_sim.language import N_
from pos_sim.terminal import local_file
from pos_sim.terminal.errors import JournalError

APPLICATION_ID = 0x50534A31  # "PSJ1": marks a SQLite file as a pos-sim payment journal
SCHEMA_VERSION = 1


class State(StrEnum):
    """Where a payment request stands in the journal."""

    SENT = N_("SENT")               # written before the pay was sent; its answer not recorded yet
    RESOLVING = N_("RESOLVING")     # the pay's answer was U or none: inquiring
    CANCELLING = N_("CANCELLING")   # still unknown at the deadline: cancelling
    APPROVED = N_("APPROVED")       # paid: the customer's money was taken
    DECLINED = N_("DECLINED")       # refused by the gateway: nothing taken
    CANCELLED = N_("CANCELLED")     # closed before any money was taken
    REVERSED = N_("REVERSED")       # it had succeeded, then the cancel gave the money back
    NOT_PROCESSED = N_("NOT_PROCESSED")  # the gateway holds no such payment: nothing taken

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = frozenset({State.APPROVED, State.DECLINED, State.CANCELLED, State.REVERSED, State.NOT_PROCESSED})
PENDING = frozenset(State) - FINAL
NEXT = {
    State.SENT: {State.RESOLVING, State.CANCELLING} | FINAL,
    State.RESOLVING: {State.CANCELLING} | FINAL,
    State.CANCELLING: set(FINAL),
}
"""The states each pending state may move to; a final state moves nowhere."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (
    payment_request_id TEXT PRIMARY KEY,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    scenario TEXT NOT NULL,
    payment_code TEXT NOT NULL,          -- masked
    order_reference TEXT NOT NULL,
    description TEXT NOT NULL,
    gateway_url TEXT NOT NULL,
    client_id TEXT NOT NULL,
    gateway_key TEXT NOT NULL,           -- fingerprint of the gateway's public key
    state TEXT NOT NULL,
    result_code TEXT,
    result_message TEXT,
    payment_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_by_state ON payments (state);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_request_id TEXT NOT NULL REFERENCES payments (payment_request_id),
    at TEXT NOT NULL,
    call TEXT NOT NULL,                  -- pay, inquiryPayment, cancel, recover
    answer TEXT,                         -- S, F, U, a transport failure (timeout, http-status...), or none
    result_code TEXT,
    detail TEXT,
    state TEXT NOT NULL                  -- the payment's state after this event
);
CREATE INDEX IF NOT EXISTS events_by_payment ON events (payment_request_id, id);
"""

JOURNAL_FILE = local_file.FileKind("payment journal", APPLICATION_ID, _SCHEMA, SCHEMA_VERSION, JournalError)


@dataclass(frozen=True)
class GatewayRef:
    """Which gateway, as which merchant, a payment was sent to: recovery asks that gateway only."""

    url: str
    client_id: str
    key_id: str


@dataclass(frozen=True)
class Entry:
    """A payment request as the journal holds it."""

    payment_request_id: str
    amount: Money
    scenario: str
    payment_code: str
    order_reference: str
    description: str
    gateway: GatewayRef
    state: State
    result_code: str | None
    result_message: str | None
    payment_id: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Event:
    """One thing that happened to a payment request: a call and its answer, or a state change."""

    at: str
    call: str
    answer: str | None
    result_code: str | None
    detail: str | None
    state: State


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Journal:
    """A payment journal file, open; safe to share between threads. Open it with ``Journal.open``."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> Journal:
        """The journal at ``path``, made (with its parent folders) if it is not there yet."""
        path = local_file.check_path(path, JOURNAL_FILE)
        return cls(path, local_file.connect(path, JOURNAL_FILE))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- writing ---

    def open_payment(self, payment_request_id: str, amount: Money, payment_code: str, gateway: GatewayRef, *,
                     scenario: str = "PaymentCode", order_reference: str = "", description: str = "") -> Entry:
        """Write a new payment request, state SENT, and commit it: call this before the pay is sent."""
        at = _now()
        try:
            with self._writing():
                self._db.execute(
                    "INSERT INTO payments (payment_request_id, amount_minor, currency, scenario, payment_code,"
                    " order_reference, description, gateway_url, client_id, gateway_key, state, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (payment_request_id, amount.minor, amount.currency.code, scenario, mask_code(payment_code) if payment_code else "",
                     order_reference, description, gateway.url, gateway.client_id, gateway.key_id, State.SENT, at, at),
                )
                self._db.execute(
                    "INSERT INTO events (payment_request_id, at, call, detail, state) VALUES (?, ?, 'pay', ?, ?)",
                    (payment_request_id, at, "written before sending", State.SENT),
                )
        except sqlite3.IntegrityError:
            raise JournalError(f"{self.path}: payment request {payment_request_id} is in the journal already; "
                               "a request id is used once") from None
        return self.entry(payment_request_id)

    def record(self, payment_request_id: str, call: str, *, answer: str | None = None, answer_code: str | None = None,
               detail: str | None = None, state: State | None = None, result_code: str | None = None,
               result_message: str | None = None, payment_id: str | None = None) -> Entry:
        """Log one call (or step) of a payment and, with ``state``, move it there; one commit for both.

        ``answer`` and ``answer_code`` are the call's (S/F/U or a transport failure, and its result
        code). Moving to a final state sets the row's ``result_code`` and ``result_message`` (the
        payment's, as given); ``payment_id`` is kept once known. A move the state may not make
        raises JournalError.
        """
        at = _now()
        with self._writing():
            row = self._db.execute("SELECT state FROM payments WHERE payment_request_id = ?", (payment_request_id,)).fetchone()
            if row is None:
                raise JournalError(f"{self.path}: no payment request {payment_request_id} in the journal")
            current = State(row[0])
            if state is not None and state != current and state not in NEXT.get(current, ()):
                raise JournalError(f"{self.path}: payment request {payment_request_id} is {current}; it cannot become {state}")
            if state is not None and state == current and current.final:
                raise JournalError(f"{self.path}: payment request {payment_request_id} is {current} already")
            after = state or current
            self._db.execute(
                "INSERT INTO events (payment_request_id, at, call, answer, result_code, detail, state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (payment_request_id, at, call, answer, answer_code, detail, after),
            )
            if after.final and state is not None:
                self._db.execute(
                    "UPDATE payments SET state = ?, result_code = ?, result_message = ?, payment_id = coalesce(?, payment_id),"
                    " updated_at = ? WHERE payment_request_id = ?",
                    (after, result_code, result_message, payment_id, at, payment_request_id),
                )
            else:
                self._db.execute(
                    "UPDATE payments SET state = ?, payment_id = coalesce(?, payment_id), updated_at = ? WHERE payment_request_id = ?",
                    (after, payment_id, at, payment_request_id),
                )
        return self.entry(payment_request_id)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The journal's lock and one transaction: BEGIN IMMEDIATE, then COMMIT (on disk on return) or ROLLBACK."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: cannot write the journal ({local_file.why(exc)})") from None
            try:
                yield
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                raise
            except sqlite3.Error as exc:
                self._rollback()
                raise JournalError(f"{self.path}: cannot write the journal ({local_file.why(exc)})") from None
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """The journal's lock, sqlite errors said as JournalError."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: cannot read the journal ({local_file.why(exc)})") from None

    # --- reading ---

    def entry(self, payment_request_id: str) -> Entry:
        """The payment request with this id; JournalError if the journal has none."""
        rows = self._select("WHERE payment_request_id = ?", (payment_request_id,))
        if not rows:
            raise JournalError(f"{self.path}: no payment request {payment_request_id} in the journal")
        return rows[0]

    def pending(self) -> list[Entry]:
        """Every payment request not in a final state, oldest first."""
        marks = ", ".join("?" * len(PENDING))
        return self._select(f"WHERE state IN ({marks}) ORDER BY created_at, rowid", tuple(PENDING))

    def entries(self) -> list[Entry]:
        """Every payment request, oldest first."""
        return self._select("ORDER BY created_at, rowid", ())

    def events(self, payment_request_id: str) -> list[Event]:
        """What happened to one payment request, in order."""
        with self._reading():
            rows = self._db.execute(
                "SELECT at, call, answer, result_code, detail, state FROM events WHERE payment_request_id = ? ORDER BY id",
                (payment_request_id,),
            ).fetchall()
        return [Event(at, call, answer, code, detail, State(state)) for at, call, answer, code, detail, state in rows]

    def _select(self, where: str, args: tuple) -> list[Entry]:
        with self._reading():
            rows = self._db.execute(
                "SELECT payment_request_id, amount_minor, currency, scenario, payment_code, order_reference, description,"
                " gateway_url, client_id, gateway_key, state, result_code, result_message, payment_id, created_at, updated_at"
                f" FROM payments {where}",
                args,
            ).fetchall()
        return [self._entry(row) for row in rows]

    def _entry(self, row: tuple) -> Entry:
        (request_id, minor, code, scenario, payment_code, reference, description, url, client_id, key_id, state,
         result_code, result_message, payment_id, created_at, updated_at) = row
        try:
            amount = Money.of_minor(minor, code)
            state = State(state)
        except (AmountError, ValueError) as exc:
            raise JournalError(f"{self.path}: payment request {request_id} holds an unreadable row ({exc})") from None
        return Entry(request_id, amount, scenario, payment_code, reference, description, GatewayRef(url, client_id, key_id),
                     state, result_code, result_message, payment_id, created_at, updated_at)


