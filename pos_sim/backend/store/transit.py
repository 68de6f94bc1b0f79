"""The transit tables of the simulated provider, on the store's own ``metadata`` (made and migrated by
``migrations``); transit.py works on them.

- ``transit_keys``: the issuer's Ed25519 keys that sign ride codes: their public halves and windows. The
  private halves are never in the ledger: they are files in the data dir's ``keys/`` folder (transit.py).
- ``transit_riders``: a wallet's ride account: the opaque token its ride codes carry (hex), and the
  count of codes issued (each code's sequence number).
- ``transit_deny``: the deny list, a row per account and cause (``admin``: put there through the admin
  API; ``debt``: a fare it could not pay). An account is denied while it has any row.
- ``transit_taps``: the taps gates uploaded, as uploaded, and ``digest`` of each (idempotency by tap id).
- ``transit_dirty``: the clearing queue: accounts with taps no clearing has priced yet, how many, and
  the earliest time among them (``since_ms``). An upload adds to it in the transaction that stores its
  taps; a clearing takes an account off it in the transaction that prices its taps, so no tap is ever
  missed (see clearing.py).
- ``transit_journeys``: each journey priced, keyed by the day, its account, the time and the id of its first
  tap (its tap-in, or the tap-out of an exit without one): what it costs after capping (``amount``) and what
  the wallet has paid of it (``paid``). The day (local, of the first tap) first, so a night's journeys go at
  the end of the key, on as many pages as the night has journeys, whatever the history behind them (keyed by account first, a night
  wrote a page a rider, more pages every night: docs/benchmarks.md); the journeys not fully paid are also
  indexed by account (``ix_transit_journeys_unpaid``, with what they cost and what is paid of them, so that the sums
  a debtor owes are read from the index alone), for the debts and the wallet's standing. A wallet pays
  its fares in one posting a clearing batch (its night's journeys); each journey names the posting that paid it
  last (``posting_id``, indexed: the wallet's history lists a fare posting's journeys).
- ``transit_checkpoints``: per account, the time before which every tap is in a journey no later
  tap can change (``before_ms``): clearing prices only the taps from there on (clearing.py); and the first tap's
  time of its latest journey (``latest_journey_ms``), so that clearing reads the journeys from the checkpoint on
  only of the accounts that have any (most have none: every journey before the checkpoint is final); and, by
  rider (0 the holder, 1... the companions), cap and period still open, what the final journeys before the
  checkpoint have counted towards the cap (``cap_totals``, JSON: clearing reads and writes an account's totals
  with its checkpoint, one row, rather than a row a rider, cap and period). Every account with a journey has a row.
- ``transit_debts``: what an account owes for fares it could not pay, while it owes anything.
- ``transit_clearings``: a row per clearing run and what it did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, PrimaryKeyConstraint, String, Table, Text, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pos_sim.backend.store.tables import UtcDateTime, metadata

transit_keys = Table(
    "transit_keys",
    metadata,
    Column("key_id", Integer, primary_key=True, autoincrement=False),
    Column("public_key", Text, nullable=False),  # base64url of the 32 raw bytes, as the key ring shows it
    Column("not_before", UtcDateTime, nullable=False),
    Column("not_after", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
)

transit_riders = Table(
    "transit_riders",
    metadata,
    Column("account", Text, primary_key=True),
    Column("wallet_id", Text, ForeignKey("accounts.id"), nullable=False, unique=True),
    Column("sequence", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

transit_deny = Table(
    "transit_deny",
    metadata,
    Column("account", Text, primary_key=True),
    Column("cause", Text, primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
)

transit_taps = Table(
    "transit_taps",
    metadata,
    Column("tap_id", Text, primary_key=True),
    Column("client_id", Text, ForeignKey("merchants.client_id"), nullable=False),  # the operator that uploaded it
    Column("gate_id", Text, nullable=False),
    Column("station_id", Text, nullable=False),
    Column("direction", String(3), nullable=False),
    Column("at_ms", BigInteger, nullable=False),  # Unix milliseconds (UTC)
    Column("utc_offset_s", Integer, nullable=False),  # the offset the gate gave: the tap's local time is at + offset
    Column("account", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("companions", Integer, nullable=False),
    Column("decision", String(4), nullable=False),
    Column("reason", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
    Index("ix_transit_taps_account_at_ms", "account", "at_ms"),
)

transit_dirty = Table(
    "transit_dirty",
    metadata,
    Column("account", Text, primary_key=True),
    Column("taps", BigInteger, nullable=False),
    Column("since_ms", BigInteger, nullable=False),  # the earliest at_ms of the taps queued (clearing.NO_TAPS: none)
)

DAY_MS = 86_400_000
"""A day in milliseconds: ``transit_journeys.started_day`` is the local time of its first tap ``// DAY_MS``."""
UNPAID = text("amount <> paid OR error IS NOT NULL")
"""A journey not fully paid (owed, to refund, or not charged): the rows ``ix_transit_journeys_unpaid`` holds. A
query uses that index only with this very condition among its own (SQLite's rule for a partial index)."""

transit_journeys = Table(
    "transit_journeys",
    metadata,
    Column("account", Text),
    Column("journey_key", Text),
    Column("wallet_id", Text, ForeignKey("accounts.id")),
    Column("client_id", Text, nullable=False),  # the operator paid: the one whose gate took the first tap-in
    Column("started_ms", BigInteger, nullable=False),  # Unix milliseconds of its first tap
    Column("started_day", BigInteger, nullable=False),  # its first tap's local day (the gate's UTC offset), Unix days
    Column("legs", Integer, nullable=False),
    Column("riders", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("fare", BigInteger, nullable=False),  # before capping, every rider
    Column("amount", BigInteger, nullable=False),  # what it costs: after capping, every rider
    Column("paid", BigInteger, nullable=False),
    Column("penalty", BigInteger, nullable=False),  # the part of the fare that is max fares (no tap-out)
    Column("capped_by", Text),
    Column("summary", Text, nullable=False),
    Column("error", Text),  # why it is not charged (the wallet's currency is not the network's)
    Column("updated_at", UtcDateTime, nullable=False),
    Column("posting_id", Text, ForeignKey("postings.id")),  # the fare posting that paid it last (None: none yet)
    # a night's journeys at the end of the key; an account's journeys from a time on read day by day (clearing)
    PrimaryKeyConstraint("started_day", "account", "started_ms", "journey_key"),
    # what a debtor owes, read from the index alone (its rows are a page a journey, all over the table)
    Index("ix_transit_journeys_unpaid", "account", "started_ms", "amount", "paid", "error", sqlite_where=UNPAID,
          postgresql_where=UNPAID),
    Index("ix_transit_journeys_posting_id", "posting_id"),  # a fare posting's journeys (the wallet's history)
)

transit_checkpoints = Table(
    "transit_checkpoints",
    metadata,
    Column("account", Text, primary_key=True),
    Column("before_ms", BigInteger, nullable=False),  # Unix milliseconds: taps before it are in final journeys
    Column("latest_journey_ms", BigInteger),  # the latest journey's started_ms (None: no journey yet)
    Column("cap_totals", Text),  # JSON: [[rider, cap_id, period's first day (Unix days), spent], ...] (None: none)
)

transit_debts = Table(
    "transit_debts",
    metadata,
    Column("account", Text, primary_key=True),
    Column("wallet_id", Text, ForeignKey("accounts.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("owed", BigInteger, nullable=False),
    Column("since", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

transit_clearings = Table(
    "transit_clearings",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("accounts", Integer, nullable=False),
    Column("taps", BigInteger, nullable=False),
    Column("journeys", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("charged", BigInteger, nullable=False),
    Column("refunded", BigInteger, nullable=False),
    Column("indebted", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
)


def upsert(dialect: str):
    """The INSERT of the store's database that takes ON CONFLICT clauses."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def db_value(conn: Connection, column: Any, value: Any) -> Any:
    """``value`` as SQLAlchemy would send it to this database for ``column`` (a time: text on SQLite)."""
    processor = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return value if processor is None else processor(value)


def execute_many(conn: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Run ``sql`` (its parameters marked ``?``) once for each row of values, straight through the driver (as
    ``insert_many``, without SQLAlchemy's work a row)."""
    if rows:
        conn.exec_driver_sql(sql if conn.dialect.name != "postgresql" else sql.replace("?", "%s"), list(rows))


def insert_many(conn: Connection, table: Any, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` of values for the columns ``names``, as the database takes them (``db_value``),
    straight through the driver: SQLAlchemy's work a row costs several times what the database's does
    in a bulk insert. One executemany on SQLite (a loop in C); COPY on PostgreSQL (where an executemany
    is a statement a row)."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                             rows if isinstance(rows[0], tuple) else [tuple(row) for row in rows])
        return
    with conn.connection.dbapi_connection.cursor() as cursor:  # this transaction's connection
        with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
