"""The store: a database (SQLite or PostgreSQL) opened and migrated, its transactions (``Tx``), and
the simulator's controls it keeps (the clock's offset, the exchange rates)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from pos_sim.backend.store.clock import SimClock, check_advance
from pos_sim.backend.store.errors import StoreError
from pos_sim.backend.store.idempotency import Idempotency
from pos_sim.backend.store.notifications import Outbox
from pos_sim.backend.store.payments import PaymentRecords
from pos_sim.backend.store.statements import Statement
from pos_sim.backend.store.tables import CLOCK_OFFSET, FX_RATES, controls
from pos_sim.domain.fx import RateTable

SQLITE_BUSY_TIMEOUT_MS = 15_000
"""How long a SQLite writer waits for another writer's transaction before giving up."""

MAX_KNOWN_ACCOUNTS = 100_000
"""How many accounts' kind and currency a store keeps in memory before it starts over."""


_CONTROLS = Statement(select(controls.c.name, controls.c.value))


class Tx(PaymentRecords, Idempotency, Outbox):
    """One database transaction of the store; get one from ``Store.begin()``. Its parts: the ledger (ledger.py),
    payments and what pays them (payments.py), idempotency records (idempotency.py), the notification outbox
    (notifications.py), and here the simulator's controls."""

    def control(self, name: str) -> str | None:
        """A control's value (``controls``), locked until the transaction ends on PostgreSQL; None if never set."""
        query = select(controls.c.value).where(controls.c.name == name).with_for_update()
        return self._conn.execute(query).scalar_one_or_none()

    def set_control(self, name: str, value: str) -> None:
        if not self._conn.execute(update(controls).where(controls.c.name == name).values(value=value)).rowcount:
            self._insert(controls, {"name": name, "value": value}, f"control {name}")


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
        for name, value in _CONTROLS.rows(conn, {}):
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

