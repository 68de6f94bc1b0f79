"""The store's tables, on one ``metadata`` (made and migrated by ``migrations``), and the types and
kinds they hold. The transit tables are transit.py's."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

from pos_sim.backend.store.errors import StoreError

WAITING = "status = 'PROCESSING'"
"""The payments that wait: a customer's scan of their merchant code pays them (``ix_payments_waiting_code``)."""

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



@functools.lru_cache(maxsize=8)
def _sqlite_text(value: datetime) -> str:
    """A UTC time as SQLite keeps it. The last few are remembered: a pay writes three times seven times (its posting's
    time in the posting and in both entries, its creation time as its time paid too), and a lookup costs about 400
    instructions where ``isoformat`` costs 13,000 (it formats each number with the C library's printf)."""
    return value.isoformat(" ", "microseconds")[:-6]  # less its "+00:00"


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both databases (SQLite keeps naive UTC text, which sorts right)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = aware(value).astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, the text SQLAlchemy's DATETIME writes for the UTC time, in one step (a pay writes seven
        times; through ``process_bind_param`` and DATETIME's own processor, each cost several µs)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def text(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.__class__ is not datetime or value.tzinfo is not UTC:  # a time the clock made is both
                value = aware(value).astimezone(UTC)
            return _sqlite_text(value)

        return text

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
    Column("ref", Text),  # not indexed: no query looks a posting up by it (an index costs every insert)
    Column("memo", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

entries = Table(
    "entries",
    metadata,
    Column("id", _id_type(), primary_key=True, autoincrement=True),
    Column("posting_id", Text, ForeignKey("postings.id"), nullable=False),  # not indexed: read only through a posting's key
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
    Column("payment_method_id", Text),
    Column("notify_url", Text),
    Column("request_json", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("paid_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    Column("expires_at", UtcDateTime),
    UniqueConstraint("client_id", "payment_request_id"),
    # the payments waiting for a customer to scan their merchant code (payment_for_code): a PaymentCode pay, paid
    # at once, writes nothing to it
    Index("ix_payments_waiting_code", "payment_method_id", sqlite_where=text(WAITING), postgresql_where=text(WAITING)),
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


faults = Table(
    "faults",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("result_code", Text),
    Column("delay_ms", Integer),
    Column("match", Text, nullable=False),  # JSON: dotted path -> text
    Column("count", Integer, nullable=False),
)
"""The armed faults (pos_sim/backend/services/faults.py)."""


def aware(value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"{value!r}: a timezone-aware datetime is required")
    return value


def utc(value: datetime) -> datetime:
    if value.__class__ is datetime and value.tzinfo is UTC:  # a time the clock made (astimezone would answer it)
        return value
    return aware(value).astimezone(UTC)
