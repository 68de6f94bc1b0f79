"""The store: a database (SQLite or PostgreSQL) opened and migrated, its transactions (``Tx``), and
the simulator's controls it keeps (the clock's offset, the exchange rates)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
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
from pos_sim.backend.store.statements import Driver, Statement
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
    """Durable, checked, waiting SQLite; the driver's own BEGIN off (we send BEGIN IMMEDIATE).

    Temporary storage in memory: each call of a group is a savepoint (``Store.grouping``), and SQLite keeps the
    pages a savepoint may have to restore in a sub-journal that spills to a temporary file past 64 KiB, about
    every third pay (a file made, written and deleted: about 8 page writes a pay, measured with strace); in
    memory, none of that. Sorts and temporary tables are kept in memory too, but a bulk writer's (``begin``)."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
        "PRAGMA temp_store = MEMORY",
    ):
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Take the write lock at BEGIN, so writers queue (busy_timeout) instead of failing mid-transaction; sent
    to the driver itself (a statement through SQLAlchemy costs a pay several times what SQLite takes to run it).
    In a group's transaction (``Store.grouping``), begun on the driver already, SQLAlchemy's begin joins it."""
    driver = conn.connection.driver_connection
    if not driver.in_transaction:
        driver.execute("BEGIN IMMEDIATE")


class _Group:
    """The transactions of one shared commit (``Store.grouping``): what they learnt of accounts, and who waits
    for the commit (each called with None once it is durable, or with the StoreError that undid it)."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, str]] = {}
        self.waiting: list[Callable[[StoreError | None], None]] = []


class _Grouping(threading.local):
    """``Store.grouping``: ``on`` while its block runs, on the thread that entered it, where the store has one writer."""

    on = False

    def __init__(self, one_writer: bool) -> None:
        self._one_writer = one_writer

    def __enter__(self) -> None:
        self.on = self._one_writer

    def __exit__(self, *_exc: object) -> None:
        self.on = False


class _Grouped:
    """``Store.begin`` in a group: one transaction of the group, a savepoint of its open transaction, undone alone
    if the block raises, committed with the group. (A class, not a generator: every pay begins one.)"""

    __slots__ = ("_store", "_failure_ends_it", "_driver", "_tx")

    def __init__(self, store: Store, failure_ends_it: bool) -> None:
        self._store = store
        self._failure_ends_it = failure_ends_it

    def __enter__(self) -> Tx:
        store = self._store
        store._queue.acquire()
        try:
            conn = store._writer_connection()
            driver = self._driver = conn.connection.driver_connection
            if store._group is None:
                driver.execute("BEGIN IMMEDIATE")
                store._group = _Group()
                if not store._controls_read:
                    store._follow_controls(conn)
            driver.execute("SAVEPOINT grouped")
            self._tx = Tx(conn, store.clock.now, store._accounts, failure_ends_it=self._failure_ends_it)
        except BaseException as exc:
            store._queue.release()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"the database failed: {exc}") from exc
            if isinstance(exc, DBAPIError):
                raise StoreError(f"the database failed: {exc.orig}") from exc
            raise
        return self._tx

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        store, driver = self._store, self._driver
        try:
            if kind is None:
                driver.execute("RELEASE grouped")
                store._group.seen.update(self._tx.seen)
            elif driver.in_transaction:
                driver.execute("ROLLBACK TO grouped")
                driver.execute("RELEASE grouped")
            else:  # a failure SQLite ends the whole transaction on (a full disk, an I/O error): the group is undone
                store._end_group(StoreError("the database undid the transaction of this call and of those committed with it"))
        finally:
            store._queue.release()
        if isinstance(exc, DBAPIError):
            raise StoreError(f"the database failed: {exc.orig}") from exc


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
        self._group: _Group | None = None  # the open shared commit (one_writer only)
        self._grouping = _Grouping(self.one_writer)  # .on: this thread's transactions join the group

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
        and more threads make no transaction faster; those begun in ``grouping()`` share one commit."""
        return self.dialect == "sqlite"

    def _connection(self) -> AbstractContextManager[Connection]:
        """The connection of one transaction: the store's one (kept open) if ``one_writer``, else one of the pool's."""
        if not self.one_writer:
            return self._engine.connect()
        return nullcontext(self._writer_connection())

    def _writer_connection(self) -> Connection:
        """The store's one connection where it is the one writer, opened on first use and kept open."""
        if self._writer is None:
            self._writer = self._engine.connect()
        return self._writer

    def begin(self, *, failure_ends_it: bool = False, bulk: bool = False) -> AbstractContextManager[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises.

        A database failure (unreachable, locked past the busy timeout, a broken schema) is a StoreError.
        ``failure_ends_it``: the caller lets a Duplicate or StoreError of an insert end the transaction,
        never going on in it, so no insert needs a savepoint (on PostgreSQL, two statements saved an insert).
        Inside ``grouping()`` (on its thread), the transaction is one of the group's: undone alone if it
        raises, committed with the group. ``bulk``: on SQLite, outside a group, a bulk writer's transaction (transit
        clearing): its writes are not checked against the rows they reference (SQLite's lookups a row), the caller
        checks them; its temporary storage in files, SQLite's default (in memory, a million taps cleared 20% slower).
        """
        if self._grouping.on:  # only ever on where this process is the one writer
            return _Grouped(self, failure_ends_it)
        return self._alone(failure_ends_it, bulk)

    @contextmanager
    def _alone(self, failure_ends_it: bool, bulk: bool) -> Iterator[Tx]:
        """A transaction committed on its own (``begin``), outside a group."""
        try:
            with self._queue:
                if (failed := self._commit_group()) is not None:  # what comes next sees the group's work durable
                    raise failed
                with self._connection() as conn, self._bulk(conn, bulk), conn.begin():
                    if not (self.one_writer and self._controls_read):
                        self._follow_controls(conn)
                    tx = Tx(conn, self.clock.now, self._accounts, failure_ends_it=failure_ends_it)
                    yield tx
                self._remember(tx.seen)
        except DBAPIError as exc:
            raise StoreError(f"the database failed: {exc.orig}") from exc

    @contextmanager
    def _bulk(self, conn: Connection, bulk: bool) -> Iterator[None]:
        """SQLite set on ``conn`` for a bulk writer's transaction (``begin``) for the block, if ``bulk``, and as it
        was after it (set outside a transaction: SQLite ignores or refuses these settings inside one)."""
        if not bulk or not self.one_writer:
            yield
            return
        driver = conn.connection.driver_connection
        driver.execute("PRAGMA foreign_keys = OFF")
        driver.execute("PRAGMA temp_store = DEFAULT")
        try:
            yield
        finally:
            driver.execute("PRAGMA temp_store = MEMORY")
            driver.execute("PRAGMA foreign_keys = ON")

    def _remember(self, seen: dict[str, tuple[str, str]]) -> None:
        """Accounts learnt of in committed transactions: never deleted, nor do they change kind or currency."""
        if len(self._accounts) > MAX_KNOWN_ACCOUNTS:
            self._accounts.clear()
        self._accounts.update(seen)

    # one commit for many transactions (SQLite)

    def grouping(self) -> AbstractContextManager[None]:
        """Where this process is the one writer, the transactions this thread begins in the block join one
        shared commit: each is a savepoint of the group's open transaction, and the group is committed by
        ``commit_group`` (or by the next transaction begun outside a group), one fsync for all. The caller
        answers none of them before it is durable (``on_commit``). Elsewhere (PostgreSQL) nothing changes."""
        return self._grouping

    def on_commit(self, then: Callable[[StoreError | None], None]) -> bool:
        """Call ``then`` once the open group is committed (with None) or undone (with the StoreError);
        False, and ``then`` never called, if no group is open: nothing waits to be committed."""
        with self._queue:
            if self._group is None:
                return False
            self._group.waiting.append(then)
            return True

    def joined(self) -> int:
        """How many calls wait for the open group's commit (``on_commit``); 0 if no group is open."""
        group = self._group
        return 0 if group is None else len(group.waiting)

    def commit_group(self) -> StoreError | None:
        """Commit the open group, if any; the StoreError that undid it, if it failed (its waiters are told)."""
        with self._queue:
            return self._commit_group()

    def _commit_group(self) -> StoreError | None:
        if self._group is None:
            return None
        try:
            self._writer.commit() if self._writer.in_transaction() else self._writer.connection.driver_connection.commit()
        except (DBAPIError, sqlite3.Error) as exc:
            return self._end_group(StoreError(f"the database failed: {getattr(exc, 'orig', exc)}"))
        return self._end_group(None)

    def _end_group(self, failed: StoreError | None) -> StoreError | None:
        """The open group ended: committed (``failed`` None) or undone; its waiters told."""
        group, self._group = self._group, None
        if failed is None:
            self._remember(group.seen)
        else:
            self._writer.rollback()  # SQLAlchemy's transaction, if it joined the group's
            self._writer.connection.driver_connection.rollback()
        for then in group.waiting:
            then(failed)
        return failed

    def _follow_controls(self, conn: Connection) -> None:
        """Take the controls as the database holds them. Where this process is the one writer (SQLite),
        what it wrote is what there is, so they are read once; on PostgreSQL other worker processes may
        move them, so they are read at the start of every transaction (one small query)."""
        for name, value in _CONTROLS.rows(Driver(conn), {}):
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
            self._commit_group()
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

