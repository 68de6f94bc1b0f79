"""The simulated provider's store: a double-entry ledger, merchants, payments, refunds, idempotency
records and one-time customer payment codes, on SQLite or PostgreSQL with the same SQLAlchemy Core code.

Money is integer minor units plus an ISO 4217 code. Every change happens inside ``Store.begin()``,
one database transaction: committed (durably, before the caller answers) on normal exit, rolled back
on an exception. A failed posting or a duplicate insert is undone alone, so the caller may catch
``InsufficientFunds`` or ``Duplicate`` and go on in the same transaction.

Speed. A pay runs about ten statements, and what costs is Python, not SQL: the statements of the
hot paths are built once with named parameters (``_REMEMBERED``, ``_TAKE_CODE``, ``_MOVE``...), as
building a Core construct costs several times what running it does; savepoints are taken only
where something must be undone alone (SQLite undoes a failed statement by itself); and the kind
and currency of accounts, fixed once an account is made, are remembered by the store.

No hot row. Every pay of a merchant credits its account, and every cross-border or funding posting
moves a system account; on PostgreSQL, where transactions run at once, a posting to such a pooled
account (``POOLED_KINDS``) goes to one of its ``balance_shards`` that no other transaction holds, so
pays never wait for each other's commit. A wallet, checked against zero, keeps its balance in its row.
"""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple, Self

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError

from pos_sim.backend.store.clock import SimClock, check_advance
from pos_sim.domain.fx import RateTable
from pos_sim.domain.money import currency as _currency

SQLITE_BUSY_TIMEOUT_MS = 15_000
"""How long a SQLite writer waits for another writer's transaction before giving up."""

MAX_AMOUNT = 2**63 - 1
"""The largest amount a BIGINT column holds, in minor units."""

MAX_KNOWN_ACCOUNTS = 100_000
"""How many accounts' kind and currency a store keeps in memory before it starts over."""

SYSTEM_KINDS = frozenset({"funding", "fx", "fees"})
"""Kinds of the one-per-currency accounts named "{kind}:{CUR}"; they may go negative."""

POOLED_KINDS = SYSTEM_KINDS | {"merchant"}
"""Kinds of the busy accounts every pay of a merchant or currency moves, never checked against a floor:
where writers run concurrently (PostgreSQL) their postings go to ``balance_shards``, not to the account's row."""

SCENARIOS = frozenset({"PaymentCode", "OrderCode", "EntryCode"})
PAYMENT_STATUSES = frozenset({"PROCESSING", "SUCCESS", "FAIL", "CANCELLED"})
REFUND_STATUSES = frozenset({"PROCESSING", "SUCCESS", "FAIL"})


class StoreError(Exception):
    """The store cannot do what was asked: a database it cannot open, an unknown row it needs..."""


class LedgerError(StoreError):
    """A posting that cannot be made: unbalanced, an unknown account, a bad amount."""


class InsufficientFunds(LedgerError):
    """A posting that would take a wallet below zero; nothing of it was applied."""

    def __init__(self, account_id: str, amount: int) -> None:
        super().__init__(f"{account_id}: balance too low for {amount}")
        self.account_id = account_id
        self.amount = amount


class Duplicate(StoreError):
    """A row whose key (payment or refund request id, idempotency key, code...) is taken; nothing was written."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both databases (SQLite keeps naive UTC text, which sorts right)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = _aware(value).astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id_type() -> BigInteger:
    return BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

postings = Table(
    "postings",
    metadata,
    Column("id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("ref", Text, index=True),
    Column("memo", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

entries = Table(
    "entries",
    metadata,
    Column("id", _id_type(), primary_key=True, autoincrement=True),
    Column("posting_id", Text, ForeignKey("postings.id"), nullable=False, index=True),
    Column("account_id", Text, ForeignKey("accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("balance_after", BigInteger),  # a wallet's; None for a pooled account (history() sums its entries)
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_entries_account_id_id", "account_id", "id"),
)

balance_shards = Table(
    "balance_shards",
    metadata,
    Column("account_id", Text, ForeignKey("accounts.id"), primary_key=True),
    Column("shard", BigInteger, primary_key=True, autoincrement=False),
    Column("balance", BigInteger, nullable=False),
)
"""The no-hot-row part of a pooled account's balance (``POOLED_KINDS``), on PostgreSQL: an account's balance
is its row's ``balance`` plus its shards'. A posting adds its leg to a shard no other transaction holds
(``FOR UPDATE SKIP LOCKED``), or to a new one when every shard is held, so concurrent pays to one merchant
never wait for each other's commit; an account has about as many shards as it ever had postings at once."""

merchants = Table(
    "merchants",
    metadata,
    Column("client_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("public_key", Text, nullable=False),
    Column("settlement_currency", String(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

payments = Table(
    "payments",
    metadata,
    Column("payment_id", Text, primary_key=True),
    Column("client_id", Text, ForeignKey("merchants.client_id"), nullable=False),
    Column("payment_request_id", Text, nullable=False),
    Column("scenario", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("result_code", Text),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("wallet_id", Text, ForeignKey("accounts.id")),
    Column("wallet_amount", BigInteger),
    Column("wallet_currency", String(3)),
    Column("settlement_amount", BigInteger),
    Column("settlement_currency", String(3)),
    Column("payment_method_id", Text, index=True),
    Column("notify_url", Text),
    Column("request_json", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("paid_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    Column("expires_at", UtcDateTime),
    UniqueConstraint("client_id", "payment_request_id"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("refund_id", Text, primary_key=True),
    Column("client_id", Text, ForeignKey("merchants.client_id"), nullable=False),
    Column("refund_request_id", Text, nullable=False),
    Column("payment_id", Text, ForeignKey("payments.payment_id"), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("wallet_amount", BigInteger),
    Column("wallet_currency", String(3)),
    Column("settlement_amount", BigInteger),
    Column("settlement_currency", String(3)),
    Column("status", Text, nullable=False),
    Column("reason", Text),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("client_id", "refund_request_id"),
)

requests = Table(
    "requests",
    metadata,
    Column("client_id", Text, primary_key=True),
    Column("call", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("request_hash", Text, nullable=False),
    Column("response_json", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

payment_codes = Table(
    "payment_codes",
    metadata,
    Column("code", Text, primary_key=True),
    Column("wallet_id", Text, ForeignKey("accounts.id"), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", _id_type(), primary_key=True, autoincrement=True),
    Column("client_id", Text, ForeignKey("merchants.client_id"), nullable=False),
    Column("payment_id", Text, ForeignKey("payments.payment_id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", UtcDateTime, index=True),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
)

device_tokens = Table(
    "device_tokens",
    metadata,
    Column("token_id", Text, primary_key=True),
    Column("wallet_id", Text, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("pan", Text, nullable=False, unique=True),
    Column("expiry", String(4), nullable=False),
    Column("key", Text, nullable=False),
    Column("atc", Integer, nullable=False),
    Column("taps", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

controls = Table(
    "controls",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)
"""The simulator's controls, which every part of the backend reads: ``clock_offset_s`` (how far the
clock has been moved on, whole seconds) and ``fx_rates`` (the rate table as JSON); missing: not moved,
the demo rates."""

CLOCK_OFFSET = "clock_offset_s"
FX_RATES = "fx_rates"

_CONTROLS = select(controls.c.name, controls.c.value)


# The statements of a pay, built once (see the module docstring); parameters by name.

_REMEMBERED = select(requests.c.request_hash, requests.c.response_json).where(
    requests.c.client_id == bindparam("client_id"), requests.c.call == bindparam("call"), requests.c.key == bindparam("key")
)

_code_at = bindparam("at", type_=UtcDateTime())
_TAKE_CODE = (
    update(payment_codes)
    .where(payment_codes.c.code == bindparam("the_code"), payment_codes.c.used_at.is_(None), payment_codes.c.expires_at > _code_at)
    .values(used_at=_code_at)
    .returning(payment_codes.c.wallet_id)
)
"""Use a code: its wallet if it was known, unused and not expired at ``at``, else no row."""

_CODE = select(payment_codes.c.wallet_id, payment_codes.c.used_at).where(payment_codes.c.code == bindparam("code"))

_move_amount = bindparam("amount", type_=BigInteger())
_MOVE = (
    update(accounts)
    .where(accounts.c.id == bindparam("account_id"), or_(accounts.c.kind != "wallet", accounts.c.balance + _move_amount >= 0))
    .values(balance=accounts.c.balance + _move_amount)
    .returning(accounts.c.balance)
)
"""Add ``amount`` to an account's balance, unless it would take a wallet below zero: its new balance, or no row."""

_free_shard = (select(balance_shards.c.shard).where(balance_shards.c.account_id == bindparam("pooled"))
               .limit(1).with_for_update(skip_locked=True).scalar_subquery())
_SHARD_MOVE = (
    update(balance_shards)
    .where(balance_shards.c.account_id == bindparam("pooled"), balance_shards.c.shard == _free_shard)
    .values(balance=balance_shards.c.balance + _move_amount)
    .returning(balance_shards.c.shard)
)
"""Add ``amount`` to a shard of the account that no other transaction holds: its number, or no row when all are held."""

_new_shard = pg_insert(balance_shards)
_NEW_SHARD = _new_shard.on_conflict_do_update(
    index_elements=[balance_shards.c.account_id, balance_shards.c.shard],
    set_={"balance": balance_shards.c.balance + _new_shard.excluded.balance},
)
"""A new shard holding ``balance``, its number random; should the number be taken, added to (the one wait left)."""

_sharded = select(cast(func.coalesce(func.sum(balance_shards.c.balance), 0), BigInteger)).where(
    balance_shards.c.account_id == accounts.c.id).scalar_subquery()  # PostgreSQL sums a BIGINT as a NUMERIC
_BALANCE = accounts.c.balance + _sharded
"""An account's balance, exact: its row's plus its shards'."""
_ACCOUNT_COLUMNS = [_BALANCE.label("balance") if column.name == "balance" else column for column in accounts.columns]

_ACCOUNT_FACTS = select(accounts.c.id, accounts.c.kind, accounts.c.currency).where(
    accounts.c.id.in_(bindparam("ids", expanding=True))
)

_INSERTS = {table: insert(table) for table in metadata.tables.values()}

_ADD_NOTIFICATION = insert(notifications).returning(notifications.c.id)


@dataclass(frozen=True)
class Account:
    """A ledger account and its balance in minor units."""

    id: str
    kind: str
    currency: str
    balance: int
    name: str
    created_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    """One leg of a posting on one account, with the account's balance right after it."""

    posting_id: str
    kind: str
    ref: str | None
    amount: int
    currency: str
    balance_after: int
    memo: str
    created_at: datetime


@dataclass(frozen=True)
class Merchant:
    """A merchant (an AMS client) and the public key its requests are verified with."""

    client_id: str
    name: str
    public_key: str
    settlement_currency: str
    created_at: datetime


@dataclass(frozen=True)
class Payment:
    """A payment as recorded: the merchant's amount, and what the wallet paid when known."""

    payment_id: str
    client_id: str
    payment_request_id: str
    scenario: str
    status: str
    result_code: str | None
    amount: int
    currency: str
    wallet_id: str | None
    wallet_amount: int | None
    wallet_currency: str | None
    settlement_amount: int | None
    settlement_currency: str | None
    payment_method_id: str | None
    notify_url: str | None
    request_json: str | None
    created_at: datetime
    paid_at: datetime | None
    cancelled_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Refund:
    """A refund of all or part of a payment."""

    refund_id: str
    client_id: str
    refund_request_id: str
    payment_id: str
    amount: int
    currency: str
    wallet_amount: int | None
    wallet_currency: str | None
    settlement_amount: int | None
    settlement_currency: str | None
    status: str
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class Notification:
    """A payment result notification to a merchant's ``paymentNotifyUrl``, and its delivery so far."""

    id: int
    client_id: str
    payment_id: str
    url: str
    body: str
    attempts: int
    next_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class DeviceToken:
    """A phone wallet's device token: a token PAN bound to a wallet, the key its cryptograms are made
    with (hex), the highest application transaction counter (ATC) the issuer has seen, and ``taps``,
    the phone's own counter: how many presentations it has made."""

    token_id: str
    wallet_id: str
    pan: str
    expiry: str
    key: str
    atc: int
    taps: int
    created_at: datetime


class Refunded(NamedTuple):
    """Minor units refunded of a payment: in its currency, the wallet's and the merchant's settlement currency."""

    amount: int
    wallet_amount: int
    settlement_amount: int


class CodeStatus(StrEnum):
    """What taking a customer payment code found."""

    OK = "ok"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True)
class CodeUse:
    """The outcome of ``Tx.take_code``: ``wallet_id`` is the code's wallet whenever the code is known."""

    status: CodeStatus
    wallet_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is CodeStatus.OK


def _aware(value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"{value!r}: a timezone-aware datetime is required")
    return value


def _utc(value: datetime) -> datetime:
    return _aware(value).astimezone(UTC)


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12).upper()


def _currency_code(code: str) -> str:
    return _currency(code).code  # AmountError (a DomainError) for anything but an ISO 4217 code with a minor unit


def _check_amount(amount: object, *, positive: bool = False) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise LedgerError(f"{amount!r}: an amount is an int of minor units, got {type(amount).__name__}")
    if abs(amount) > MAX_AMOUNT or (positive and amount < 0):
        raise LedgerError(f"{amount}: out of range")
    return amount


def _is_duplicate(error: IntegrityError) -> bool:
    """Whether ``error`` is a unique or primary-key violation (not a foreign-key or NOT NULL one)."""
    orig = error.orig
    return getattr(orig, "sqlstate", None) == "23505" or getattr(orig, "sqlite_errorname", None) in {
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
    }


class Tx:
    """One database transaction of the store; get one from ``Store.begin()``.

    ``known`` is the store's map of accounts known to exist, to their (kind, currency); what this
    transaction learns of accounts is in ``seen``, which the store adds to ``known`` once committed.
    ``failure_ends_it``: see ``Store.begin``.
    """

    def __init__(self, conn: Connection, clock: Callable[[], datetime], known: dict[str, tuple[str, str]] | None = None,
                 *, failure_ends_it: bool = False) -> None:
        self._conn = conn
        self._clock = clock
        self._known = {} if known is None else known
        self.seen: dict[str, tuple[str, str]] = {}
        self._failure_ends_it = failure_ends_it
        # a failed statement undoes itself on SQLite, the transaction going on; PostgreSQL fails the transaction
        self._needs_savepoints = conn.dialect.name != "sqlite"
        # SQLite runs one writer at a time: a pooled account's row is no queue there, and is moved itself
        self._shards = conn.dialect.name != "sqlite"

    @property
    def connection(self) -> Connection:
        """The transaction's connection, for services with tables of their own (transit.py)."""
        return self._conn

    def _now(self) -> datetime:
        return _utc(self._clock())

    def _undone_alone(self) -> AbstractContextManager[Any]:
        """Where a failed statement is undone alone, the transaction going on: a savepoint on PostgreSQL."""
        return self._conn.begin_nested() if self._needs_savepoints else nullcontext()

    def _insert(self, table: Table, values: dict[str, Any], what: str, *, going_on: bool = False) -> None:
        """Insert one row: a taken key raises Duplicate, a missing reference StoreError, and the row alone
        is undone, so the caller may go on; in a transaction begun with ``failure_ends_it``, only a caller
        ``going_on`` after a Duplicate may."""
        try:
            with self._undone_alone() if going_on or not self._failure_ends_it else nullcontext():
                self._conn.execute(_INSERTS[table], values)
        except IntegrityError as exc:
            if _is_duplicate(exc):
                raise Duplicate(f"{what} exists already") from None
            raise StoreError(f"{what}: {exc.orig}") from None

    def _facts(self, account_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """The (kind, currency) of each of these accounts that exists, from the store's memory or the database."""
        facts = {account_id: self._known.get(account_id) or self.seen.get(account_id) for account_id in account_ids}
        missing = [account_id for account_id, known in facts.items() if known is None]
        if missing:
            for row in self._conn.execute(_ACCOUNT_FACTS, {"ids": missing}):
                facts[row.id] = self.seen[row.id] = (row.kind, row.currency)
        return {account_id: known for account_id, known in facts.items() if known is not None}

    def _ensure_account(self, account_id: str, kind: str, code: str, name: str) -> str:
        """The account ``account_id``, created empty if missing (concurrent creators both succeed)."""
        if not self._facts([account_id]):
            row = {"id": account_id, "kind": kind, "currency": code, "balance": 0, "name": name, "created_at": self._now()}
            try:
                self._insert(accounts, row, f"account {account_id}", going_on=True)
            except Duplicate:
                pass
            self.seen[account_id] = (kind, code)
        return account_id

    # ledger

    def account(self, account_id: str) -> Account | None:
        """The account ``account_id``, or None."""
        row = self._conn.execute(select(*_ACCOUNT_COLUMNS).where(accounts.c.id == account_id)).first()
        return None if row is None else Account(**row._mapping)

    def currency_of(self, account_id: str) -> str | None:
        """The currency of the account ``account_id``, or None if there is no such account."""
        facts = self._facts([account_id]).get(account_id)
        return None if facts is None else facts[1]

    def accounts(self, kind: str | None = None) -> list[Account]:
        """Every account (of ``kind`` if given), by id."""
        query = select(*_ACCOUNT_COLUMNS).order_by(accounts.c.id)
        if kind is not None:
            query = query.where(accounts.c.kind == kind)
        return [Account(**row._mapping) for row in self._conn.execute(query)]

    def system_account(self, kind: str, currency: str) -> str:
        """The id of the "{kind}:{CUR}" account (funding, fx, fees), created on first use."""
        if kind not in SYSTEM_KINDS:
            raise LedgerError(f"{kind!r}: not one of {', '.join(sorted(SYSTEM_KINDS))}")
        code = _currency_code(currency)
        return self._ensure_account(f"{kind}:{code}", kind, code, f"{kind} {code}")

    def post(self, kind: str, ref: str | None, legs: Sequence[tuple[str, int]], memo: str = "") -> str:
        """Move money: each leg adds its signed amount to an account; the legs sum to zero per currency.

        Raises LedgerError for an unbalanced posting, an unknown account or a repeated one, and
        InsufficientFunds if a wallet would go below zero; either way nothing of the posting is applied.
        """
        if not legs:
            raise LedgerError("a posting needs legs")
        ids = [account_id for account_id, _ in legs]
        if len(set(ids)) != len(ids):
            raise LedgerError(f"an account appears twice in one posting: {ids}")
        for _, amount in legs:
            if _check_amount(amount) == 0:
                raise LedgerError("a leg of 0 moves nothing")
        facts = self._facts(ids)
        missing = [account_id for account_id in ids if account_id not in facts]
        if missing:
            raise LedgerError(f"no such account: {', '.join(missing)}")
        totals: dict[str, int] = {}
        for account_id, amount in legs:
            code = facts[account_id][1]
            totals[code] = totals.get(code, 0) + amount
        unbalanced = {code: total for code, total in totals.items() if total}
        if unbalanced:
            raise LedgerError(f"legs do not sum to zero: {unbalanced}")
        posting_id = _new_id("L")
        at = self._now()
        ordered = sorted(legs)  # one lock order for every posting: no deadlocks on PostgreSQL
        # only a wallet's debit is refused: refused at the first leg, the posting has written nothing to undo
        refused_after_a_write = any(amount < 0 and facts[account_id][0] == "wallet" for account_id, amount in ordered[1:])
        with self._conn.begin_nested() if refused_after_a_write else nullcontext():  # InsufficientFunds undoes this posting only
            rows = []
            for account_id, amount in ordered:
                if facts[account_id][0] in POOLED_KINDS:
                    self._move_pooled(account_id, amount)
                    after = None
                else:
                    after = self._conn.execute(_MOVE, {"account_id": account_id, "amount": amount}).scalar_one_or_none()
                    if after is None:
                        raise InsufficientFunds(account_id, amount)
                rows.append(
                    {"posting_id": posting_id, "account_id": account_id, "amount": amount,
                     "currency": facts[account_id][1], "balance_after": after, "created_at": at}
                )
            # written after the balances, so a posting refused on its first leg wrote nothing (no fsync at commit)
            self._conn.execute(_INSERTS[postings], {"id": posting_id, "kind": kind, "ref": ref, "memo": memo, "created_at": at})
            self._conn.execute(_INSERTS[entries], rows)
        return posting_id

    def _move_pooled(self, account_id: str, amount: int) -> None:
        """Add ``amount`` to a pooled account (``POOLED_KINDS``): to a shard no other transaction holds, where
        writers run concurrently, so that no pay waits for another's commit; else to its row."""
        if not self._shards:
            self._conn.execute(_MOVE, {"account_id": account_id, "amount": amount})
        elif self._conn.execute(_SHARD_MOVE, {"pooled": account_id, "amount": amount}).first() is None:
            shard = secrets.randbits(62)
            self._conn.execute(_NEW_SHARD, {"account_id": account_id, "shard": shard, "balance": amount})

    def history(self, account_id: str, limit: int | None = None) -> list[HistoryEntry]:
        """The account's entries, newest first, each with the balance after it: a pooled account's (which its
        entries do not record) is the sum of its entries up to it, in the order they were written."""
        facts = self._facts([account_id]).get(account_id)
        if facts is not None and facts[0] in POOLED_KINDS:
            balance_after = func.sum(entries.c.amount).over(order_by=entries.c.id)
        else:
            balance_after = entries.c.balance_after
        query = (
            select(postings.c.id.label("posting_id"), postings.c.kind, postings.c.ref, entries.c.amount,
                   entries.c.currency, balance_after.label("balance_after"), postings.c.memo, entries.c.created_at)
            .join(postings, postings.c.id == entries.c.posting_id)
            .where(entries.c.account_id == account_id)
            .order_by(entries.c.id.desc())
            .limit(limit)
        )
        return [HistoryEntry(**row._mapping) for row in self._conn.execute(query)]

    def trial_balance(self) -> dict[str, int]:
        """The sum of every account's balance per currency: all zero in a sound ledger."""
        query = select(accounts.c.currency, func.sum(_BALANCE)).group_by(accounts.c.currency)
        return {code: int(total) for code, total in self._conn.execute(query).all()}

    def add_wallet(self, currency: str, balance: int, name: str) -> str:
        """A new wallet holding ``balance`` minor units, funded from "funding:{CUR}"; its id ("W...")."""
        code = _currency_code(currency)
        _check_amount(balance, positive=True)
        wallet_id = _new_id("W")
        self._insert(accounts, {"id": wallet_id, "kind": "wallet", "currency": code, "balance": 0, "name": name,
                                "created_at": self._now()}, f"account {wallet_id}")
        if balance:
            self.post("fund", wallet_id, [(self.system_account("funding", code), -balance), (wallet_id, balance)],
                      memo="opening balance")
        return wallet_id

    # merchants

    def add_merchant(self, client_id: str, name: str, public_key: str, settlement_currency: str) -> Merchant:
        """A new merchant; Duplicate if the client id is taken."""
        row: dict[str, Any] = {"client_id": client_id, "name": name, "public_key": public_key,
               "settlement_currency": _currency_code(settlement_currency), "created_at": self._now()}
        self._insert(merchants, row, f"merchant {client_id}")
        return Merchant(**row)

    def merchant(self, client_id: str) -> Merchant | None:
        """The merchant ``client_id``, or None."""
        row = self._conn.execute(select(merchants).where(merchants.c.client_id == client_id)).first()
        return None if row is None else Merchant(**row._mapping)

    def merchants(self) -> list[Merchant]:
        """Every merchant, by client id."""
        return [Merchant(**row._mapping) for row in self._conn.execute(select(merchants).order_by(merchants.c.client_id))]

    def merchant_account(self, client_id: str, currency: str) -> str:
        """The id of the merchant's account in ``currency`` ("merchant:{client_id}:{CUR}"), created on first use."""
        code = _currency_code(currency)
        account_id = f"merchant:{client_id}:{code}"
        if self._facts([account_id]):
            return account_id
        merchant = self.merchant(client_id)
        if merchant is None:
            raise StoreError(f"no merchant {client_id}")
        return self._ensure_account(account_id, "merchant", code, f"{merchant.name} {code}")

    # payments

    def add_payment(
        self,
        *,
        payment_id: str,
        client_id: str,
        payment_request_id: str,
        scenario: str,
        amount: int,
        currency: str,
        status: str = "PROCESSING",
        result_code: str | None = None,
        wallet_id: str | None = None,
        wallet_amount: int | None = None,
        wallet_currency: str | None = None,
        settlement_amount: int | None = None,
        settlement_currency: str | None = None,
        payment_method_id: str | None = None,
        notify_url: str | None = None,
        request_json: str | None = None,
        created_at: datetime | None = None,
        paid_at: datetime | None = None,
        cancelled_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> Payment:
        """Record a payment; Duplicate if its payment id or (client id, request id) is taken."""
        if scenario not in SCENARIOS:
            raise StoreError(f"{scenario!r}: not one of {', '.join(sorted(SCENARIOS))}")
        row: dict[str, Any] = {
            "payment_id": payment_id, "client_id": client_id, "payment_request_id": payment_request_id,
            "scenario": scenario, "status": status, "result_code": result_code,
            "amount": _check_amount(amount, positive=True), "currency": _currency_code(currency),
            "wallet_id": wallet_id, "wallet_amount": wallet_amount, "wallet_currency": wallet_currency,
            "settlement_amount": settlement_amount, "settlement_currency": settlement_currency,
            "payment_method_id": payment_method_id, "notify_url": notify_url, "request_json": request_json,
            "created_at": self._now() if created_at is None else created_at,
            "paid_at": paid_at, "cancelled_at": cancelled_at, "expires_at": expires_at,
        }
        row = _payment_fields(row, _PAYMENT_COLUMNS)
        self._insert(payments, row, f"payment {payment_id} ({client_id} {payment_request_id})")
        return Payment(**row)

    def payment(
        self, client_id: str | None, *, payment_id: str | None = None, payment_request_id: str | None = None, lock: bool = False
    ) -> Payment | None:
        """The merchant's payment by id (which wins) or request id, or None; ``lock`` holds its row to the end.
        ``client_id`` None finds a payment of any merchant by its id (for the admin API)."""
        if payment_id is not None:
            match = payments.c.payment_id == payment_id
        elif payment_request_id is not None:
            match = payments.c.payment_request_id == payment_request_id
        else:
            raise TypeError("payment() needs payment_id or payment_request_id")
        query = select(payments).where(match)
        if client_id is not None:
            query = query.where(payments.c.client_id == client_id)
        elif payment_id is None:
            raise TypeError("payment() finds a payment of any merchant by payment_id only")
        if lock:
            query = query.with_for_update()  # PostgreSQL row lock; SQLite has none and needs none (BEGIN IMMEDIATE)
        row = self._conn.execute(query).first()
        return None if row is None else Payment(**row._mapping)

    def payment_for_code(self, scenario: str, code_value: str, *, lock: bool = False) -> Payment | None:
        """The oldest PROCESSING payment of ``scenario`` (OrderCode, EntryCode) waiting on the merchant code
        ``code_value`` that a customer scanned, or None."""
        query = (
            select(payments)
            .where(payments.c.payment_method_id == code_value, payments.c.scenario == scenario,
                   payments.c.status == "PROCESSING")
            .order_by(payments.c.created_at, payments.c.payment_id)
            .limit(1)
        )
        if lock:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else Payment(**row._mapping)

    def update_payment(self, payment_id: str, *, only_if_status: str | None = None, **changes: Any) -> bool:
        """Change a payment's mutable fields (status, result_code, wallet_*, times...).

        With ``only_if_status``, only a payment still in that status changes: the answer says whether it did.
        Without it, a missing payment is a StoreError.
        """
        if not changes:
            raise TypeError("update_payment() needs a field to change")
        query = update(payments).where(payments.c.payment_id == payment_id).values(_payment_fields(changes, _PAYMENT_MUTABLE))
        if only_if_status is not None:
            query = query.where(payments.c.status == only_if_status)
        done = self._conn.execute(query).rowcount == 1
        if not done and only_if_status is None:
            raise StoreError(f"no payment {payment_id}")
        return done

    # refunds

    def add_refund(
        self,
        *,
        refund_id: str,
        client_id: str,
        refund_request_id: str,
        payment_id: str,
        amount: int,
        currency: str,
        status: str,
        wallet_amount: int | None = None,
        wallet_currency: str | None = None,
        settlement_amount: int | None = None,
        settlement_currency: str | None = None,
        reason: str | None = None,
        created_at: datetime | None = None,
    ) -> Refund:
        """Record a refund; Duplicate if its refund id or (client id, request id) is taken."""
        if status not in REFUND_STATUSES:
            raise StoreError(f"{status!r}: not one of {', '.join(sorted(REFUND_STATUSES))}")
        row: dict[str, Any] = {
            "refund_id": refund_id, "client_id": client_id, "refund_request_id": refund_request_id,
            "payment_id": payment_id, "amount": _check_amount(amount, positive=True),
            "currency": _currency_code(currency),
            "wallet_amount": None if wallet_amount is None else _check_amount(wallet_amount, positive=True),
            "wallet_currency": None if wallet_currency is None else _currency_code(wallet_currency),
            "settlement_amount": None if settlement_amount is None else _check_amount(settlement_amount, positive=True),
            "settlement_currency": None if settlement_currency is None else _currency_code(settlement_currency),
            "status": status, "reason": reason, "created_at": self._now() if created_at is None else _utc(created_at),
        }
        self._insert(refunds, row, f"refund {refund_id} ({client_id} {refund_request_id})")
        return Refund(**row)

    def refund(self, client_id: str, *, refund_id: str | None = None, refund_request_id: str | None = None) -> Refund | None:
        """The merchant's refund by id (which wins) or request id, or None."""
        if refund_id is not None:
            match = refunds.c.refund_id == refund_id
        elif refund_request_id is not None:
            match = refunds.c.refund_request_id == refund_request_id
        else:
            raise TypeError("refund() needs refund_id or refund_request_id")
        row = self._conn.execute(select(refunds).where(refunds.c.client_id == client_id, match)).first()
        return None if row is None else Refund(**row._mapping)

    def update_refund(self, refund_id: str, *, status: str) -> None:
        """Set a refund's status."""
        if status not in REFUND_STATUSES:
            raise StoreError(f"{status!r}: not one of {', '.join(sorted(REFUND_STATUSES))}")
        if self._conn.execute(update(refunds).where(refunds.c.refund_id == refund_id).values(status=status)).rowcount != 1:
            raise StoreError(f"no refund {refund_id}")

    def refunded(self, payment_id: str) -> Refunded:
        """What the payment's refunds (every one not FAIL) gave back so far, in each of its currencies."""
        live = refunds.c.status != "FAIL"
        query = select(
            func.coalesce(func.sum(refunds.c.amount), 0),
            func.coalesce(func.sum(refunds.c.wallet_amount), 0),
            func.coalesce(func.sum(refunds.c.settlement_amount), 0),
        ).where(refunds.c.payment_id == payment_id, live)
        return Refunded(*(int(total) for total in self._conn.execute(query).one()))

    # idempotency

    def remembered(self, client_id: str, call: str, key: str) -> tuple[str, str] | None:
        """The (request hash, response JSON) recorded for this call and idempotency key, or None."""
        row = self._conn.execute(_REMEMBERED, {"client_id": client_id, "call": call, "key": key}).first()
        return None if row is None else (row.request_hash, row.response_json)

    def remember(self, client_id: str, call: str, key: str, request_hash: str, response_json: str) -> None:
        """Record the answer to a call under its idempotency key; Duplicate if one is recorded already."""
        row = {"client_id": client_id, "call": call, "key": key, "request_hash": request_hash,
               "response_json": response_json, "created_at": self._now()}
        self._insert(requests, row, f"{call} {key} of {client_id}")

    # customer payment codes

    def add_code(self, code: str, wallet_id: str, expires_at: datetime) -> None:
        """Issue a one-time payment code for a wallet; Duplicate if the code exists, StoreError for an unknown wallet."""
        self._insert(payment_codes, {"code": code, "wallet_id": wallet_id, "expires_at": _utc(expires_at)}, f"code {code}")

    def take_code(self, code: str, now: datetime) -> CodeUse:
        """Use a payment code once: OK (now marked used) only for a known, unused code not expired at ``now``."""
        taken = self._conn.execute(_TAKE_CODE, {"the_code": code, "at": _aware(now)}).first()
        if taken is not None:
            return CodeUse(CodeStatus.OK, taken.wallet_id)
        row = self._conn.execute(_CODE, {"code": code}).first()  # why not: unknown, used or expired
        if row is None:
            return CodeUse(CodeStatus.UNKNOWN)
        return CodeUse(CodeStatus.USED if row.used_at is not None else CodeStatus.EXPIRED, row.wallet_id)

    # payment result notifications (an outbox: written with the result, sent after the commit)

    def add_notification(self, client_id: str, payment_id: str, url: str, body: str) -> int:
        """Queue a notification to ``url``, due now; its id."""
        at = self._now()
        row = {"client_id": client_id, "payment_id": payment_id, "url": url, "body": body, "attempts": 0,
               "next_at": at, "created_at": at}
        return int(self._conn.execute(_ADD_NOTIFICATION, row).scalar_one())

    def claim_notifications(self, now: datetime, until: datetime, limit: int = 50) -> list[Notification]:
        """Undelivered notifications due at ``now``, oldest first, claimed: due again only at ``until``
        (the sender records the attempt before then), so another worker process sends none of them
        meanwhile; rows another transaction is claiming are skipped (PostgreSQL)."""
        query = (
            select(notifications)
            .where(notifications.c.delivered_at.is_(None), notifications.c.next_at <= _aware(now))
            .order_by(notifications.c.next_at, notifications.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        due = [Notification(**row._mapping) for row in self._conn.execute(query)]
        if due:
            claimed = notifications.c.id.in_([notification.id for notification in due])
            self._conn.execute(update(notifications).where(claimed).values(next_at=_utc(until)))
        return due

    def next_notification_at(self) -> datetime | None:
        """When the next undelivered notification is due, or None when all are delivered."""
        query = select(func.min(notifications.c.next_at)).where(notifications.c.delivered_at.is_(None))
        value = self._conn.execute(query).scalar_one()
        return None if value is None else UtcDateTime().process_result_value(value, self._conn.dialect)

    def notifications(self, payment_id: str) -> list[Notification]:
        """The notifications of a payment, oldest first."""
        query = select(notifications).where(notifications.c.payment_id == payment_id).order_by(notifications.c.id)
        return [Notification(**row._mapping) for row in self._conn.execute(query)]

    def notification_attempted(self, notification_id: int, *, delivered: bool, next_at: datetime | None = None,
                               error: str | None = None) -> None:
        """Record one delivery attempt: delivered, or failed with ``error`` and retried at ``next_at``."""
        values: dict[str, Any] = {"attempts": notifications.c.attempts + 1, "last_error": error}
        if delivered:
            values |= {"delivered_at": self._now(), "next_at": None}
        else:
            values["next_at"] = _utc(next_at) if next_at is not None else None
        if self._conn.execute(update(notifications).where(notifications.c.id == notification_id).values(values)).rowcount != 1:
            raise StoreError(f"no notification {notification_id}")

    # the simulator's controls

    def control(self, name: str) -> str | None:
        """A control's value (``controls``), locked until the transaction ends on PostgreSQL; None if never set."""
        query = select(controls.c.value).where(controls.c.name == name).with_for_update()
        return self._conn.execute(query).scalar_one_or_none()

    def set_control(self, name: str, value: str) -> None:
        if not self._conn.execute(update(controls).where(controls.c.name == name).values(value=value)).rowcount:
            self._insert(controls, {"name": name, "value": value}, f"control {name}")

    # phone wallet device tokens

    def add_token(self, *, token_id: str, wallet_id: str, pan: str, expiry: str, key: str) -> DeviceToken:
        """Provision a device token bound to a wallet, its counter at 0; Duplicate if the id or PAN is taken."""
        row: dict[str, Any] = {"token_id": token_id, "wallet_id": wallet_id, "pan": pan, "expiry": expiry, "key": key,
                               "atc": 0, "taps": 0, "created_at": self._now()}
        self._insert(device_tokens, row, f"device token {token_id}")
        return DeviceToken(**row)

    def token(self, *, token_id: str | None = None, pan: str | None = None) -> DeviceToken | None:
        """A device token by id or by PAN, or None."""
        if token_id is not None:
            match = device_tokens.c.token_id == token_id
        elif pan is not None:
            match = device_tokens.c.pan == pan
        else:
            raise TypeError("token() needs token_id or pan")
        row = self._conn.execute(select(device_tokens).where(match)).first()
        return None if row is None else DeviceToken(**row._mapping)

    def next_tap(self, token_id: str) -> int:
        """Count one more presentation on the phone's side; the new counter (the ATC it carries)."""
        query = update(device_tokens).where(device_tokens.c.token_id == token_id).values(taps=device_tokens.c.taps + 1)
        taps = self._conn.execute(query.returning(device_tokens.c.taps)).scalar_one_or_none()
        if taps is None:
            raise StoreError(f"no device token {token_id}")
        return int(taps)

    def advance_token_counter(self, token_id: str, atc: int) -> bool:
        """Move the token's last seen transaction counter up to ``atc``; False (nothing changed) if it is
        not above the last one seen: a replayed or stale presentation."""
        query = update(device_tokens).where(device_tokens.c.token_id == token_id, device_tokens.c.atc < atc).values(atc=atc)
        return self._conn.execute(query).rowcount == 1


_PAYMENT_COLUMNS = frozenset(column.name for column in payments.columns)

_PAYMENT_MUTABLE = frozenset(
    {"status", "result_code", "wallet_id", "wallet_amount", "wallet_currency", "settlement_amount",
     "settlement_currency", "payment_method_id", "notify_url",
     "request_json", "paid_at", "cancelled_at", "expires_at"}
)


def _payment_fields(changes: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """``changes`` checked: allowed fields, a known status, exact amounts, ISO currencies, aware times."""
    if unknown := set(changes) - allowed:
        raise TypeError(f"cannot set payment field(s) {', '.join(sorted(unknown))}")
    checked = dict(changes)
    if "status" in checked and checked["status"] not in PAYMENT_STATUSES:
        raise StoreError(f"{checked['status']!r}: not one of {', '.join(sorted(PAYMENT_STATUSES))}")
    for name in ("wallet_amount", "settlement_amount"):
        if checked.get(name) is not None:
            _check_amount(checked[name], positive=True)
    for name in ("wallet_currency", "settlement_currency"):
        if checked.get(name) is not None:
            checked[name] = _currency_code(checked[name])
    for name in ("created_at", "paid_at", "cancelled_at", "expires_at"):
        if checked.get(name) is not None:
            checked[name] = _utc(checked[name])
    return checked


def _engine(url: str) -> Engine:
    """An engine for a SQLite file or a PostgreSQL database (``postgresql://`` goes through psycopg 3)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"{url!r}: not a database URL ({exc})") from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if "+" not in parsed.drivername:
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if backend != "sqlite":
        raise StoreError(f"{parsed.drivername}: the store runs on SQLite or PostgreSQL")
    if parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory":
        raise StoreError(f"{url!r}: the SQLite store needs a file (sqlite:////abs/path/ledger.db)")
    engine = create_engine(parsed, pool_size=10, max_overflow=20)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """Durable, checked, waiting SQLite; the driver's own BEGIN off (we send BEGIN IMMEDIATE)."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
    ):
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Take the write lock at BEGIN, so writers queue (busy_timeout) instead of failing mid-transaction; sent
    to the driver itself (a statement through SQLAlchemy costs a pay several times what SQLite takes to run it)."""
    conn.connection.driver_connection.execute("BEGIN IMMEDIATE")


class Store:
    """The backend's database: open with ``Store.open(url)``, work in ``with store.begin() as tx``."""

    def __init__(self, engine: Engine, clock: SimClock | None = None) -> None:
        self._engine = engine
        self.clock = clock or SimClock()
        self._accounts: dict[str, tuple[str, str]] = {}  # id -> (kind, currency) of accounts known to exist (Tx)
        # one writer: this process's transactions take turns on one connection, queued on this lock rather
        # than in SQLite's busy handler, whose back-off sleeps make the latency tail (see one_writer)
        self._queue = threading.Lock() if self.one_writer else nullcontext()
        self._writer: Connection | None = None
        self.rates = RateTable.demo()
        self._rates_json: str | None = None
        self._controls_read = False

    @classmethod
    def open(cls, url: str, *, clock: SimClock | None = None, key_dir: Path | None = None) -> Store:
        """Open ``sqlite:////abs/path.db`` or ``postgresql[+psycopg]://...``, its tables made or migrated to this
        release's schema (``migrations``; a ledger of a newer release is refused, untouched).

        ``clock`` (a new ``SimClock`` by default) gives every time the backend records and compares;
        ``key_dir`` is the data dir's key folder, where migrations move keys an older ledger held.
        """
        from pos_sim.backend.store import migrations  # here: its Alembic env imports this module

        engine = _engine(url)
        try:
            with engine.begin() as connection:
                migrations.bring_up_to_date(connection, key_dir)
        except DBAPIError as exc:
            engine.dispose()
            raise StoreError(f"{engine.url.render_as_string(hide_password=True)}: cannot open the store ({exc.orig})") from None
        except migrations.SchemaError as exc:
            engine.dispose()
            raise StoreError(f"{engine.url.render_as_string(hide_password=True)}: {exc}") from None
        return cls(engine, clock)

    @property
    def dialect(self) -> str:
        """The database: "sqlite" or "postgresql"."""
        return self._engine.dialect.name

    @property
    def one_writer(self) -> bool:
        """Whether the database takes one transaction at a time. SQLite does (BEGIN IMMEDIATE takes its
        one write lock), so the store runs this process's transactions one after another on one
        connection, kept open: a pool's checkout and check-in cost a pay about a tenth of its time,
        and more threads make no transaction faster."""
        return self.dialect == "sqlite"

    def _connection(self) -> AbstractContextManager[Connection]:
        """The connection of one transaction: the store's one (kept open) if ``one_writer``, else one of the pool's."""
        if not self.one_writer:
            return self._engine.connect()
        if self._writer is None:
            self._writer = self._engine.connect()
        return nullcontext(self._writer)

    @contextmanager
    def begin(self, *, failure_ends_it: bool = False) -> Iterator[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises.

        A database failure (unreachable, locked past the busy timeout, a broken schema) is a StoreError.
        ``failure_ends_it``: the caller lets a Duplicate or StoreError of an insert end the transaction,
        never going on in it, so no insert needs a savepoint (on PostgreSQL, two statements saved an insert).
        """
        try:
            with self._queue:
                with self._connection() as conn, conn.begin():
                    if not (self.one_writer and self._controls_read):
                        self._follow_controls(conn)
                    tx = Tx(conn, self.clock.now, self._accounts, failure_ends_it=failure_ends_it)
                    yield tx
                if len(self._accounts) > MAX_KNOWN_ACCOUNTS:
                    self._accounts.clear()
                self._accounts.update(tx.seen)  # committed: accounts are never deleted, nor change kind or currency
        except DBAPIError as exc:
            raise StoreError(f"the database failed: {exc.orig}") from exc

    def _follow_controls(self, conn: Connection) -> None:
        """Take the controls as the database holds them. Where this process is the one writer (SQLite),
        what it wrote is what there is, so they are read once; on PostgreSQL other worker processes may
        move them, so they are read at the start of every transaction (one small query)."""
        for name, value in conn.execute(_CONTROLS):
            if name == CLOCK_OFFSET:
                self.clock.follow(int(value))
            elif name == FX_RATES and value != self._rates_json:
                rates = json.loads(value)
                self.rates, self._rates_json = RateTable(rates["base"], rates["rates"]), value
        self._controls_read = True

    def refresh(self) -> None:
        """Read the controls again now, as another worker process may have moved them (a transaction
        does that on PostgreSQL; nothing to do where this process is the one writer)."""
        if not self.one_writer:
            with self.begin():
                pass

    def advance_clock(self, seconds: int) -> datetime:
        """Move the simulator's clock on by ``seconds`` (``clock.check_advance``), for every process of the store; the new time."""
        check_advance(seconds)
        with self.begin() as tx:
            offset = int(tx.control(CLOCK_OFFSET) or 0) + seconds
            tx.set_control(CLOCK_OFFSET, str(offset))
        self.clock.follow(offset)
        return self.clock.now()

    def set_rates(self, rates: RateTable) -> None:
        """Quote cross-border payments at ``rates`` from now on, in every process of the store."""
        value = json.dumps(rates.as_json())
        with self.begin() as tx:
            tx.set_control(FX_RATES, value)
        self.rates, self._rates_json = rates, value

    def close(self) -> None:
        """Close every connection."""
        with self._queue:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
