"""The double-entry ledger of one transaction: accounts, postings, balances kept in shards where
writers run at once (the store's docstring, "No hot row"). ``Ledger`` is the base of the store's ``Tx``."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Table, bindparam, cast, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from pos_sim.backend.store.errors import Duplicate, InsufficientFunds, LedgerError, StoreError
from pos_sim.backend.store.records import Account, HistoryEntry
from pos_sim.backend.store.statements import Driver, Statement
from pos_sim.backend.store.tables import (
    POOLED_KINDS,
    SYSTEM_KINDS,
    accounts,
    balance_shards,
    entries,
    metadata,
    postings,
    utc,
)
from pos_sim.domain.money import CURRENCIES, MAX_AMOUNT
from pos_sim.domain.money import currency as _currency

_CODES = frozenset(CURRENCIES)
"""The alpha codes of the currencies an amount may be in."""

_move_amount = bindparam("amount", type_=BigInteger())
_MOVE = Statement(
    update(accounts)
    .where(accounts.c.id == bindparam("account_id"), or_(accounts.c.kind != "wallet", accounts.c.balance + _move_amount >= 0))
    .values(balance=accounts.c.balance + _move_amount)
    .returning(accounts.c.balance)
)
"""Add ``amount`` to an account's balance, unless it would take a wallet below zero: its new balance, or no row."""

_free_shard = (select(balance_shards.c.shard).where(balance_shards.c.account_id == bindparam("pooled"))
               .limit(1).with_for_update(skip_locked=True).scalar_subquery())
_SHARD_MOVE = Statement(
    update(balance_shards)
    .where(balance_shards.c.account_id == bindparam("pooled"), balance_shards.c.shard == _free_shard)
    .values(balance=balance_shards.c.balance + _move_amount)
    .returning(balance_shards.c.shard)
)
"""Add ``amount`` to a shard of the account that no other transaction holds: its number, or no row when all are held."""

_new_shard = pg_insert(balance_shards)
_NEW_SHARD = Statement(_new_shard.on_conflict_do_update(
    index_elements=[balance_shards.c.account_id, balance_shards.c.shard],
    set_={"balance": balance_shards.c.balance + _new_shard.excluded.balance},
))
"""A new shard holding ``balance``, its number random; should the number be taken, added to (the one wait left)."""

_sharded = select(cast(func.coalesce(func.sum(balance_shards.c.balance), 0), BigInteger)).where(
    balance_shards.c.account_id == accounts.c.id).scalar_subquery()  # PostgreSQL sums a BIGINT as a NUMERIC
_BALANCE = accounts.c.balance + _sharded
"""An account's balance, exact: its row's plus its shards'."""
_ACCOUNT_COLUMNS = [_BALANCE.label("balance") if column.name == "balance" else column for column in accounts.columns]

_ACCOUNT_FACTS = select(accounts.c.id, accounts.c.kind, accounts.c.currency).where(
    accounts.c.id.in_(bindparam("ids", expanding=True))
)

_INSERTS = {table: Statement(insert(table)) for table in metadata.tables.values()}


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12).upper()


def ordered_id(prefix: str, at: datetime) -> str:
    """An id as long as ``new_id``'s that sorts after the ids made before ``at``: its milliseconds since 1970,
    then 48 random bits. A table keyed by it takes new rows at the end of its key, many to a page, where a
    random key puts each on a page of its own that the commit writes (the pages a pay writes: benchmarks.md)."""
    return f"{prefix}{int(at.timestamp() * 1000):012X}{secrets.token_hex(6).upper()}"


def currency_code(code: str) -> str:
    if code.__class__ is str and code in _CODES:  # already an alpha code as the store keeps it, the common case
        return code
    return _currency(code).code  # AmountError (a DomainError) for anything but an ISO 4217 code with a minor unit


def check_amount(amount: object, *, positive: bool = False) -> int:
    if amount.__class__ is not int and (isinstance(amount, bool) or not isinstance(amount, int)):
        raise LedgerError(f"{amount!r}: an amount is an int of minor units, got {type(amount).__name__}")
    if abs(amount) > MAX_AMOUNT or (positive and amount < 0):
        raise LedgerError(f"{amount}: out of range")
    return amount


def is_duplicate(error: IntegrityError) -> bool:
    """Whether ``error`` is a unique or primary-key violation (not a foreign-key or NOT NULL one)."""
    orig = error.orig
    return getattr(orig, "sqlstate", None) == "23505" or getattr(orig, "sqlite_errorname", None) in {
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
    }


class Ledger:
    """One database transaction of the store, its ledger; the store's ``Tx`` adds the rest.

    ``known`` is the store's map of accounts known to exist, to their (kind, currency); what this
    transaction learns of accounts is in ``seen``, which the store adds to ``known`` once committed.
    ``failure_ends_it``: see ``Store.begin``.
    """

    def __init__(self, conn: Connection, clock: Callable[[], datetime], known: dict[str, tuple[str, str]] | None = None,
                 *, failure_ends_it: bool = False) -> None:
        self._conn = conn
        self._driver = Driver(conn)  # the statements of the hot paths (statements.py) run on its cursor
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
        """The transaction's connection, for services with tables of their own (services/transit.py, clearing.py)."""
        return self._conn

    def _now(self) -> datetime:
        return utc(self._clock())

    def _insert(self, table: Table, values: dict[str, Any], what: str, *, going_on: bool = False) -> None:
        """Insert one row: a taken key raises Duplicate, a missing reference StoreError, and the row alone
        is undone, so the caller may go on; in a transaction begun with ``failure_ends_it``, only a caller
        ``going_on`` after a Duplicate may."""
        try:
            if self._needs_savepoints and (going_on or not self._failure_ends_it):  # PostgreSQL: a failure ends
                with self._conn.begin_nested():  # the transaction, but for a savepoint (SQLite undoes the row alone)
                    _INSERTS[table].run(self._driver, values)
            else:
                _INSERTS[table].run(self._driver, values)
        except IntegrityError as exc:
            if is_duplicate(exc):
                raise Duplicate(f"{what} exists already") from None
            raise StoreError(f"{what}: {exc.orig}") from None

    def _facts(self, account_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """The (kind, currency) of each of these accounts that exists, from the store's memory or the database."""
        facts = {}
        missing = []
        for account_id in account_ids:
            known = self._known.get(account_id) or self.seen.get(account_id)
            if known is None:
                missing.append(account_id)
            else:
                facts[account_id] = known
        if missing:
            for row in self._conn.execute(_ACCOUNT_FACTS, {"ids": missing}):
                facts[row.id] = self.seen[row.id] = (row.kind, row.currency)
        return facts

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
        code = currency_code(currency)
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
            if check_amount(amount) == 0:
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
        at = self._now()
        posting_id = ordered_id("L", at)
        ordered = sorted(legs)  # one lock order for every posting: no deadlocks on PostgreSQL
        # only a wallet's debit is refused: refused at the first leg, the posting has written nothing to undo
        refused_after_a_write = any(amount < 0 and facts[account_id][0] == "wallet" for account_id, amount in ordered[1:])
        if refused_after_a_write:
            with self._conn.begin_nested():  # InsufficientFunds undoes this posting only
                self._write_posting(posting_id, kind, ref, memo, at, ordered, facts)
        else:
            self._write_posting(posting_id, kind, ref, memo, at, ordered, facts)
        return posting_id

    def _write_posting(self, posting_id: str, kind: str, ref: str | None, memo: str, at: datetime,
                       ordered: list[tuple[str, int]], facts: dict[str, tuple[str, str]]) -> None:
        """A posting's balances moved (``InsufficientFunds`` where a wallet's would go below zero), then the posting
        and its entries written."""
        rows = []
        for account_id, amount in ordered:
            account_kind, code = facts[account_id]
            if account_kind in POOLED_KINDS:
                self.move_pooled(account_id, amount)
                after = None
            else:
                moved = _MOVE.first(self._driver, {"account_id": account_id, "amount": amount})
                if moved is None:
                    raise InsufficientFunds(account_id, amount)
                after = moved[0]
            rows.append({"posting_id": posting_id, "account_id": account_id, "amount": amount,
                         "currency": code, "balance_after": after, "created_at": at})
        # written after the balances, so a posting refused on its first leg wrote nothing (no fsync at commit)
        _INSERTS[postings].run(self._driver, {"id": posting_id, "kind": kind, "ref": ref, "memo": memo, "created_at": at})
        _INSERTS[entries].run_many(self._driver, rows)

    def move_pooled(self, account_id: str, amount: int) -> None:
        """Add ``amount`` to a pooled account (``POOLED_KINDS``): to a shard no other transaction holds, where
        writers run concurrently, so that no pay waits for another's commit; else to its row."""
        if not self._shards:
            _MOVE.run(self._driver, {"account_id": account_id, "amount": amount})
        elif _SHARD_MOVE.first(self._driver, {"pooled": account_id, "amount": amount}) is None:
            shard = secrets.randbits(62)
            _NEW_SHARD.run(self._driver, {"account_id": account_id, "shard": shard, "balance": amount})

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
        code = currency_code(currency)
        check_amount(balance, positive=True)
        wallet_id = new_id("W")
        self._insert(accounts, {"id": wallet_id, "kind": "wallet", "currency": code, "balance": 0, "name": name,
                                "created_at": self._now()}, f"account {wallet_id}")
        if balance:
            self.post("fund", wallet_id, [(self.system_account("funding", code), -balance), (wallet_id, balance)],
                      memo="opening balance")
        return wallet_id
