"""Transit on the wallet's side (docs/transit-api.md): the issuer keys that sign ride codes, a wallet's
ride codes, the key ring gates cache, the taps gates upload, and clearing: taps -> journeys -> fares
-> charges on the wallets, through the ledger.

Issuer keys. Ed25519 (pos_sim/domain/codes/ride.py), made on first need, valid ``KEY_LIFETIME``;
a rotation makes a new key valid from now and cuts the old one's window to now + the overlap;
a revoked key stays in the key ring under ``revoked``. The private keys are kept in the database
(transit_store.py): a simulator's convenience, never a real issuer's.

Ride codes. A wallet's ride account is a random 16-byte token made on its first code and kept;
each code carries the wallet's next sequence number, is valid ``CODE_VALID_S`` seconds, and is
signed with the issuer's current key. Every time here is the simulator's (``store.clock``).

Taps. A batch is checked whole (each tap's fields, its code read and its account matched), then
stored whole or not at all, idempotent by tap id: the same tap again is a duplicate, the same id
with other content refuses the batch. Storing a tap puts its account on the clearing queue
(``transit_dirty``) in the same transaction.

Clearing (``Transit.clear``). The accounts on the queue, and those owing fares, in batches of
``CLEARING_BATCH`` accounts, one transaction a batch and a fixed number of statements a batch
(bulk reads and writes; no statement per tap or per journey):

1. take the batch's accounts off the queue (DELETE ... RETURNING; an upload meanwhile puts them back),
   lock their rider rows and wallets, read their "open" taps (the whole history, in time order),
   their journeys already priced and their debts;
2. per account: pair each tap-in with the next tap-out within ``TAP_OUT_LIMIT`` into a leg; a tap-in
   followed by another tap-in, or by nothing for longer than the limit, is a leg without a tap-out
   (the network's max fare); a tap-in younger than the limit with no tap-out yet waits (the account
   goes back on the queue); a tap-out with no tap-in before it is not charged. Legs -> journeys
   (``Fares.journeys``) -> charges with capping over the account's whole history (``Fares.price``);
   a journey is keyed by its first tap-in's id, and holds ``amount`` (what it costs now) and
   ``paid`` (what the wallet has paid of it), so clearing again charges only differences: nothing,
   unless late taps changed a price (then the difference, either way);
3. collect: each journey's ``amount - paid``, oldest first, as a posting of its own from the wallet to
   the operator's merchant account (refunds first); a wallet that cannot pay a journey keeps it
   owed: a debt, and the account on the deny list (cause "debt") until a later clearing collects
   it; a wallet in another currency than the network's is an error on its journeys, not charged;
4. write it all back in bulk: each wallet's new balance (never below zero: a journey it cannot pay
   is not posted), the operator's account moved once by the batch's total, and the ledger's postings
   and entries as ``Tx.post`` writes them (a posting a journey, its two legs with their balances
   after) but in a few bulk inserts, where ``Tx.post`` runs four statements a posting; then the
   journeys, debts and deny list.

Measured by scripts/bench_transit_clearing.py (issue 7's target: a million taps in 60 s).

Fares come from the GTFS-Fares v2 folder ``{data dir}/fares`` when the data dir has one, else
``assets/transit/metro``, priced for the wallet's medium (``wallet_qr``) when the network sells on it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from fastapi import APIRouter, Path as FastApiPath, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from pos_sim.assets import METRO
from pos_sim.backend.protocol import Refused, amount_json, json_object, now, result, timestamp
from pos_sim.backend.store import Store, StoreError, Tx, accounts, entries, postings
from pos_sim.backend.transit_store import (
    transit_clearings,
    transit_debts,
    transit_deny,
    transit_dirty,
    transit_journeys,
    transit_keys,
    transit_riders,
    transit_taps,
)
from pos_sim.domain import ams_signature
from pos_sim.domain.codes import ride
from pos_sim.domain.errors import DomainError
from pos_sim.domain.fares import (
    Cap,
    Charge,
    Fares,
    FareError,
    FareNetwork,
    Journey,
    JourneyFare,
    Leg,
    LegFare,
    cap_period,
    read_network,
)
from pos_sim.domain.money import Money

if TYPE_CHECKING:
    from pos_sim.backend.app import Gateway

KEY_LIFETIME = timedelta(days=365)
CODE_VALID_S = 60
ACCOUNT_BYTES = 16
TAP_OUT_LIMIT = timedelta(hours=3)
"""The longest a tap-in waits for its tap-out: later, the leg had none (the max fare)."""
MAX_TAPS = 1000
MAX_BODY_BYTES = 4 * 1024 * 1024
"""The longest /transit request body the HTTP edge takes (app.py refuses a longer one before it gets here): a
batch of MAX_TAPS taps is about 0.4 MB as a gate sends it, and about 2 MB at the most (every text member
its longest, each character escaped as a surrogate pair)."""
MAX_ID_CHARS = 64
CLEARING_BATCH = 1000
"""Accounts cleared in one transaction."""
MAX_LISTED = 100
"""The most accounts a clearing's answer lists by name under indebted, settled and errors."""
FARE_MEDIUM = "wallet_qr"
DEFAULT_FARES = METRO

JOINED = " (joined to another journey)"
DENY_ADMIN = "admin"
DENY_DEBT = "debt"
DIRECTIONS = ("in", "out")
DECISIONS = ("open", "deny")
REASONS = frozenset(reason.value for reason in ride.Reason)
TAP_FIELDS = ("tapId", "stationId", "gateId", "direction", "at", "code", "account", "decision", "reason")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MIN_AT = datetime(2000, 1, 1, tzinfo=UTC)
_MAX_AT = datetime(2100, 1, 1, tzinfo=UTC)
_LIMIT_MS = int(TAP_OUT_LIMIT.total_seconds() * 1000)


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _utc(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _whole_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _upsert(dialect: str):
    """The INSERT of the store's database that takes ON CONFLICT clauses."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _db_value(conn: Connection, column: Any, value: Any) -> Any:
    """``value`` as SQLAlchemy would send it to this database for ``column`` (a time: text on SQLite)."""
    processor = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return value if processor is None else processor(value)


def _insert_many(conn: Connection, table: Any, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` of values for the columns ``names``, as the database takes them (``_db_value``),
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


def _is_duplicate(error: BaseException | None) -> bool:
    orig = getattr(error, "orig", None)
    return isinstance(error, IntegrityError) and (
        getattr(orig, "sqlstate", None) == "23505"
        or getattr(orig, "sqlite_errorname", None) in {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


# --- fares, priced fast enough for clearing -------------------------------------------------------


class ClearingFares(Fares):
    """``Fares`` with shortcuts that change no price, for pricing a million taps.

    ``journey_fare`` is remembered by what a price depends on: each leg's network and stops, the
    timeframe groups its tap-in and tap-out times fall in, and (for several legs, where transfer
    limits count) the times between them. ``journeys`` works on stretches of legs that no transfer
    rule can join across (a gap longer than every rule's duration limit; every leg alone on a
    network without transfer rules) instead of the rider's whole history at once. ``price`` is
    ``Fares.price`` step for step, counting in minor units rather than ``Money`` (a third of a
    clearing's time went to Money arithmetic); tests/unit/test_transit_fares.py holds the two equal.
    """

    def __init__(self, network: FareNetwork, fare_media_id: str | None = None) -> None:
        super().__init__(network, fare_media_id)
        self._fares: dict[tuple[Any, ...], tuple[JourneyFare, tuple[Cap, ...]]] = {}
        self._times: dict[int, frozenset[str]] = {}
        self._amounts: dict[int, Money] = {}
        rules = network.transfer_rules
        if not rules:
            self._gap_s: float | None = None  # no transfers: every leg is a journey of its own
        elif all(rule.duration_limit is not None for rule in rules):
            self._gap_s = max(rule.duration_limit for rule in rules)  # type: ignore[type-var]
        else:
            self._gap_s = float("inf")

    def _timeframes(self, moment: datetime) -> frozenset[str]:
        seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
        groups = self._times.get(seconds)
        if groups is None:
            groups = self._times[seconds] = frozenset(
                group for group, frames in self.network.timeframes.items() if any(frame.contains(seconds) for frame in frames))
        return groups

    def _remembered(self, journey: Journey | Sequence[Leg]) -> tuple[JourneyFare, tuple[Cap, ...]]:
        """The journey's fare as first worked out for a journey like it, and the caps that count it."""
        legs = journey.legs if isinstance(journey, Journey) else tuple(journey)
        if len(legs) == 1:
            (leg,) = legs
            key: tuple[Any, ...] = (leg.network_id, leg.from_stop_id, leg.to_stop_id, self._timeframes(leg.start),
                                    None if leg.end is None else self._timeframes(leg.end))
        else:
            first = legs[0].start
            key = tuple((leg.network_id, leg.from_stop_id, leg.to_stop_id, self._timeframes(leg.start),
                         None if leg.end is None else self._timeframes(leg.end), (leg.start - first).total_seconds(),
                         None if leg.end is None else (leg.end - first).total_seconds()) for leg in legs)
        known = self._fares.get(key)
        if known is None:
            if len(self._fares) >= 100_000:
                self._fares.clear()
            fare = super().journey_fare(journey)
            known = self._fares[key] = (fare, tuple(cap for cap in self.caps if self.covers(cap, Journey(legs), fare)))
        return known

    def journey_fare(self, journey: Journey | Sequence[Leg]) -> JourneyFare:
        legs = journey.legs if isinstance(journey, Journey) else tuple(journey)
        return self._of(self._remembered(legs)[0], legs)

    @staticmethod
    def _of(known: JourneyFare, legs: Sequence[Leg]) -> JourneyFare:
        """A remembered fare, for these legs."""
        return JourneyFare(known.amount, known.penalty,
                           tuple(LegFare(leg, fare.amount, fare.product, fare.rule) for leg, fare in zip(legs, known.legs)),
                           known.transfers)

    def _money(self, minor: int) -> Money:
        money = self._amounts.get(minor)
        if money is None:
            money = self._amounts[minor] = Money.of_minor(minor, self.network.currency)
        return money

    def price(self, journeys: Iterable[Journey | Sequence[Leg]]) -> list[Charge]:
        journeys = [journey if isinstance(journey, Journey) else Journey(journey) for journey in journeys]
        if len({journey.start.tzinfo is None for journey in journeys}) > 1:
            raise FareError("a rider's journeys are all local times, or all zoned")
        spent: dict[tuple[str, date], int] = {}
        charges: dict[int, Charge] = {}
        for index in sorted(range(len(journeys)), key=lambda i: journeys[i].start):
            journey = journeys[index]
            known, caps = self._remembered(journey)
            periods = [(cap.cap_id, cap_period(cap, journey.start)) for cap in caps]
            charged, capped_by = known.amount.minor, None
            for cap, period in zip(caps, periods):
                left = max(cap.amount.minor - spent.get(period, 0), 0)
                if left < charged:
                    charged, capped_by = left, cap
            for period in periods:
                spent[period] = spent.get(period, 0) + charged
            penalty = known.penalty.minor
            charges[index] = Charge(journey, self._money(known.amount.minor + penalty), self._money(charged + penalty),
                                    capped_by, known.penalty, self._of(known, journey.legs))
        return [charges[index] for index in range(len(journeys))]

    def journeys(self, legs: Iterable[Leg]) -> list[Journey]:
        ordered = sorted(legs, key=lambda leg: leg.start)
        if self._gap_s is None:
            return [Journey((leg,)) for leg in ordered]
        found: list[Journey] = []
        stretch: list[Leg] = []
        for leg in ordered:
            if stretch:
                last = stretch[-1]
                if (leg.start - (last.end or last.start)).total_seconds() > self._gap_s:
                    found += super().journeys(stretch)
                    stretch = []
            stretch.append(leg)
        if stretch:
            found += super().journeys(stretch)
        return found


# --- the service ---------------------------------------------------------------------------------------


class _Tap(NamedTuple):
    """A tap as clearing reads it."""

    tap_id: str
    direction: str
    station_id: str
    at_ms: int
    utc_offset_s: int
    companions: int
    client_id: str

    def local(self) -> datetime:
        """The tap's wall-clock time where the gate is (a fare's time of day is local)."""
        return _NAIVE_EPOCH + timedelta(milliseconds=self.at_ms + self.utc_offset_s * 1000)


@dataclass
class _Journey:
    """A journey's row of transit_journeys, as read or as priced."""

    account: str
    journey_key: str
    wallet_id: str | None
    client_id: str
    started_ms: int  # Unix milliseconds of its first tap-in
    legs: int
    riders: int
    currency: str
    fare: int
    amount: int
    paid: int
    penalty: int
    capped_by: str | None
    summary: str
    error: str | None

    def values(self) -> tuple[Any, ...]:
        """What decides whether a journey's row must be written again."""
        return (self.wallet_id, self.client_id, self.legs, self.riders, self.currency, self.fare, self.amount,
                self.paid, self.penalty, self.capped_by, self.summary, self.error)


@dataclass
class _Run:
    """What one clearing did, for its answer."""

    currency: str
    accounts: int = 0
    taps: int = 0
    journeys: int = 0
    charged: int = 0
    refunded: int = 0
    indebted: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def answer(self, seconds: float) -> dict[str, Any]:
        def money(minor: int) -> dict[str, str]:
            return amount_json(Money.of_minor(minor, self.currency))

        return {"accounts": self.accounts, "taps": self.taps, "journeys": self.journeys,
                "charged": money(self.charged), "refunded": money(self.refunded),
                "indebted": self.indebted[:MAX_LISTED], "indebtedCount": len(self.indebted),
                "settled": self.settled[:MAX_LISTED], "settledCount": len(self.settled),
                "errors": self.errors[:MAX_LISTED], "errorCount": len(self.errors), "seconds": round(seconds, 3)}


# statements built once (see store.py's docstring: building a construct costs more than running it)

POSTING_COLUMNS = ("id", "kind", "ref", "memo", "created_at")
ENTRY_COLUMNS = ("posting_id", "account_id", "amount", "currency", "balance_after", "created_at")
JOURNEY_COLUMNS = (*_Journey.__dataclass_fields__, "updated_at")

_accounts_in = bindparam("accounts", expanding=True)
_JOURNEY_VALUES = ("wallet_id", "client_id", "started_ms", "legs", "riders", "currency", "fare", "amount", "paid", "penalty",
                   "capped_by", "summary", "error", "updated_at")
_RIDERS = (select(transit_riders.c.account, transit_riders.c.wallet_id)
           .where(transit_riders.c.account.in_(_accounts_in)).order_by(transit_riders.c.account).with_for_update())
_TAKE_DIRTY = delete(transit_dirty).where(transit_dirty.c.account.in_(_accounts_in)).returning(
    transit_dirty.c.account, transit_dirty.c.taps)
_TAPS = (select(transit_taps.c.account, transit_taps.c.tap_id, transit_taps.c.direction, transit_taps.c.station_id,
                transit_taps.c.at_ms, transit_taps.c.utc_offset_s, transit_taps.c.companions, transit_taps.c.client_id)
         .where(transit_taps.c.account.in_(_accounts_in), transit_taps.c.decision == "open")
         .order_by(transit_taps.c.account, transit_taps.c.at_ms, transit_taps.c.tap_id))
_JOURNEYS = select(*(transit_journeys.c[name] for name in _Journey.__dataclass_fields__)).where(
    transit_journeys.c.account.in_(_accounts_in))
_DEBTS = select(transit_debts.c.account, transit_debts.c.owed, transit_debts.c.since).where(
    transit_debts.c.account.in_(_accounts_in))
_WALLETS = (select(accounts.c.id, accounts.c.kind, accounts.c.currency, accounts.c.balance)
            .where(accounts.c.id.in_(bindparam("wallets", expanding=True))).order_by(accounts.c.id).with_for_update())
_SET_BALANCE = update(accounts).where(accounts.c.id == bindparam("wallet")).values(balance=bindparam("new_balance"))
_ADD_BALANCE = (update(accounts).where(accounts.c.id == bindparam("account"))
                .values(balance=accounts.c.balance + bindparam("delta")).returning(accounts.c.balance))
_UPDATE_JOURNEY = (update(transit_journeys)
                   .where(transit_journeys.c.account == bindparam("the_account"),
                          transit_journeys.c.journey_key == bindparam("the_key"))
                   .values({name: bindparam("v_" + name) for name in _JOURNEY_VALUES}))
_DELETE_DEBTS = delete(transit_debts).where(transit_debts.c.account.in_(_accounts_in))
_DELETE_DEBT_DENIALS = delete(transit_deny).where(transit_deny.c.account.in_(_accounts_in), transit_deny.c.cause == DENY_DEBT)


class Transit:
    """The transit side of one backend, over its store."""

    def __init__(self, store: Store, fares_dir: Path | None = None) -> None:
        self.store = store
        self.fares_dir = Path(fares_dir) if fares_dir is not None else DEFAULT_FARES
        self._fares: tuple[ClearingFares, str] | None = None
        self._signers: dict[tuple[int, str], Any] = {}  # (key id, PEM) -> loaded private key
        self._keys_lock = threading.Lock()
        self._clearing = threading.Lock()

    @classmethod
    def of(cls, store: Store, key_dir: Path | None) -> Transit:
        """The transit service of a backend whose data dir holds ``key_dir``: fares from its ``fares``
        folder when it has one, else the example metro network."""
        fares = key_dir.parent / "fares" if key_dir is not None else None
        return cls(store, fares if fares is not None and (fares / "fare_products.txt").is_file() else None)

    # issuer keys

    def _key_rows(self, conn: Connection) -> list[Any]:
        return list(conn.execute(select(transit_keys).order_by(transit_keys.c.key_id)))

    @staticmethod
    def _issuer_keys(rows: Sequence[Any]) -> ride.IssuerKeys:
        keys = [ride.IssuerKey(row.key_id, base64.urlsafe_b64decode(row.public_key + "="), row.not_before, row.not_after)
                for row in rows]
        return ride.IssuerKeys(tuple(keys), frozenset(row.key_id for row in rows if row.revoked_at is not None))

    def _add_key(self, conn: Connection, rows: Sequence[Any], at: datetime) -> Any:
        """A new issuer key, valid from ``at`` for KEY_LIFETIME; its row."""
        key_id = max((row.key_id for row in rows), default=0) + 1
        if key_id > ride.MAX_KEY_ID:
            raise Refused("PROCESS_FAIL", f"every issuer key id up to {ride.MAX_KEY_ID} is used")
        private_key, public = ride.generate_key_pair(key_id, at, at + KEY_LIFETIME)
        row = {"key_id": key_id, "private_key": ride.private_key_pem(private_key),
               "public_key": base64.urlsafe_b64encode(public.public_key).decode("ascii").rstrip("="),
               "not_before": at, "not_after": at + KEY_LIFETIME, "revoked_at": None, "created_at": self.store.clock.now()}
        conn.execute(insert(transit_keys), row)
        return conn.execute(select(transit_keys).where(transit_keys.c.key_id == key_id)).one()

    def _with_current_key(self, conn: Connection, at: datetime) -> tuple[list[Any], Any]:
        """The key rows and the row of the key to sign with at ``at``: a new key if none is usable."""
        rows = self._key_rows(conn)
        current = self._issuer_keys(rows).current(at)
        if current is None:
            rows.append(self._add_key(conn, rows, at))
            return rows, rows[-1]
        return rows, next(row for row in rows if row.key_id == current.key_id)

    def _signer(self, row: Any) -> Any:
        key = self._signers.get((row.key_id, row.private_key))
        if key is None:
            key = self._signers[(row.key_id, row.private_key)] = ride.load_private_key(row.private_key)
        return key

    def _keys_tx(self, work: Any) -> Any:
        """Run ``work(conn)`` in a transaction; one that made a key at the same time as another
        backend (the same key id) is run again, once."""
        with self._keys_lock:
            for attempt in (1, 2):
                try:
                    with self.store.begin() as tx:
                        return work(tx)
                except StoreError as exc:
                    if attempt == 2 or not _is_duplicate(exc.__cause__):
                        raise
        raise AssertionError("unreachable")

    @staticmethod
    def _key_json(row: Any, current_id: int | None) -> dict[str, Any]:
        return {"keyId": row.key_id, "algorithm": ride.ALGORITHM, "publicKey": row.public_key,
                "notBefore": _iso(row.not_before), "notAfter": _iso(row.not_after),
                "revoked": row.revoked_at is not None,
                "revokedAt": None if row.revoked_at is None else _iso(row.revoked_at), "current": row.key_id == current_id}

    def keys(self) -> dict[str, Any]:
        """Every issuer key (public halves), which one signs now."""
        at = _whole_second(self.store.clock.now())

        def work(tx: Tx) -> dict[str, Any]:
            rows, current = self._with_current_key(tx.connection, at)
            return {"keys": [self._key_json(row, current.key_id) for row in rows], "current": current.key_id}

        return self._keys_tx(work)

    def rotate(self, overlap_s: int) -> dict[str, Any]:
        """A new issuer key valid from now; the one signing until now stays valid for codes issued up to
        now + ``overlap_s`` (not later than its own end)."""
        at = _whole_second(self.store.clock.now())

        def work(tx: Tx) -> dict[str, Any]:
            conn = tx.connection
            rows = self._key_rows(conn)
            before = self._issuer_keys(rows).current(at)
            new = self._add_key(conn, rows, at)
            if before is not None:
                until = max(min(before.not_after, at + timedelta(seconds=overlap_s)), before.not_before + timedelta(seconds=1))
                conn.execute(update(transit_keys).where(transit_keys.c.key_id == before.key_id).values(not_after=until))
            rows, current = self._with_current_key(conn, at)
            return {"key": self._key_json(new, current.key_id), "previous": None if before is None else self._key_json(
                next(row for row in rows if row.key_id == before.key_id), current.key_id)}

        return self._keys_tx(work)

    def revoke(self, key_id: int) -> dict[str, Any] | None:
        """Revoke an issuer key (gates refuse every code it signed); None for an unknown key."""
        at = self.store.clock.now()
        with self.store.begin() as tx:
            conn = tx.connection
            done = conn.execute(update(transit_keys).where(transit_keys.c.key_id == key_id, transit_keys.c.revoked_at.is_(None))
                                .values(revoked_at=at)).rowcount
            row = conn.execute(select(transit_keys).where(transit_keys.c.key_id == key_id)).first()
        if row is None:
            return None
        return {"key": self._key_json(row, None) | {"current": False}, "revokedNow": bool(done)}

    def keyring(self) -> ride.KeyRing:
        """The key ring document gates cache: every key (public halves), the revoked ones, the deny list."""
        at = _whole_second(self.store.clock.now())

        def work(tx: Tx) -> ride.KeyRing:
            rows, _current = self._with_current_key(tx.connection, at)
            denied = tx.connection.execute(select(transit_deny.c.account).distinct()).scalars()
            return ride.KeyRing(self._issuer_keys(rows), ride.DenyList(frozenset(bytes.fromhex(a) for a in denied)), at)

        return self._keys_tx(work)

    # ride codes

    def ride_code(self, wallet_id: str, companions: int = 0) -> dict[str, Any]:
        """A ride code for the wallet, signed with the current issuer key, valid CODE_VALID_S seconds."""
        at = _whole_second(self.store.clock.now())

        def work(tx: Tx) -> tuple[str, int, Any, bool]:
            wallet = tx.account(wallet_id)
            if wallet is None or wallet.kind != "wallet":
                raise Refused("USER_NOT_EXIST", f"no wallet {wallet_id}")
            conn = tx.connection
            row = {"account": secrets.token_bytes(ACCOUNT_BYTES).hex(), "wallet_id": wallet_id, "sequence": 0, "created_at": at}
            conn.execute(_upsert(self.store.dialect)(transit_riders).on_conflict_do_nothing(), row)
            rider = conn.execute(update(transit_riders).where(transit_riders.c.wallet_id == wallet_id)
                                 .values(sequence=transit_riders.c.sequence + 1)
                                 .returning(transit_riders.c.account, transit_riders.c.sequence)).one()
            if rider.sequence > ride.MAX_SEQUENCE:
                raise Refused("USER_STATUS_ABNORMAL", f"wallet {wallet_id} has used every ride code sequence number")
            _rows, key = self._with_current_key(conn, at)
            denied = conn.execute(select(transit_deny.c.cause).where(transit_deny.c.account == rider.account)).scalars().all()
            return rider.account, int(rider.sequence), key, sorted(denied)

        account, sequence, key, denied = self._keys_tx(work)
        code = ride.RideCode(key.key_id, bytes.fromhex(account), at, CODE_VALID_S, sequence, companions)
        return {"code": ride.sign(code, self._signer(key)), "account": account, "keyId": key.key_id,
                "sequence": sequence, "companions": companions, "issuedAt": _iso(at), "expiresAt": _iso(code.expires_at),
                "denied": bool(denied), "deniedFor": denied}

    # the deny list

    @staticmethod
    def _account(text: str) -> str:
        try:
            raw = bytes.fromhex(text) if isinstance(text, str) else b""
        except ValueError:
            raw = b""
        if len(raw) not in ride.ACCOUNT_BYTES:
            raise Refused("PARAM_ILLEGAL", f"account: {text!r} is not an account token"
                                           f" ({ride.ACCOUNT_BYTES.start}-{ride.ACCOUNT_BYTES.stop - 1} bytes in hex)")
        return raw.hex()

    def _denial(self, conn: Connection, account: str) -> dict[str, Any]:
        causes = sorted(conn.execute(select(transit_deny.c.cause).where(transit_deny.c.account == account)).scalars())
        return {"account": account, "denied": bool(causes), "causes": causes}

    def deny(self, account: str) -> dict[str, Any]:
        """Put an account on the deny list (cause "admin")."""
        account = self._account(account)
        with self.store.begin() as tx:
            conn = tx.connection
            row = {"account": account, "cause": DENY_ADMIN, "created_at": self.store.clock.now()}
            conn.execute(_upsert(self.store.dialect)(transit_deny).on_conflict_do_nothing(), row)
            return self._denial(conn, account)

    def allow(self, account: str) -> dict[str, Any]:
        """Take an account's admin entry off the deny list; one for an unpaid fare stays until it is paid."""
        account = self._account(account)
        with self.store.begin() as tx:
            conn = tx.connection
            conn.execute(delete(transit_deny).where(transit_deny.c.account == account, transit_deny.c.cause == DENY_ADMIN))
            return self._denial(conn, account)

    # taps

    def upload(self, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store a batch of taps whole or not at all: {"result", "accepted", "duplicates"}."""
        if not isinstance(body, dict):
            raise Refused("PARAM_ILLEGAL", "the body must be a JSON object")
        if unknown := sorted(set(body) - {"gateId", "taps"}):
            raise Refused("PARAM_ILLEGAL", f"unknown member {', '.join(map(repr, unknown))} (a batch has gateId and taps)")
        _text(body.get("gateId"), "gateId")
        taps = body.get("taps")
        if not isinstance(taps, list):
            raise Refused("PARAM_ILLEGAL", "taps: a JSON array of taps is required")
        if len(taps) > MAX_TAPS:
            raise Refused("PARAM_ILLEGAL", f"taps: {len(taps)} taps; a batch holds at most {MAX_TAPS}")
        at = self.store.clock.now()
        rows: dict[str, dict[str, Any]] = {}
        repeats = 0
        for index, tap in enumerate(taps):
            row = _tap_row(index, tap, client_id, at)
            seen = rows.get(row["tap_id"])
            if seen is None:
                rows[row["tap_id"]] = row
            elif seen["digest"] != row["digest"]:
                raise Refused("REPEAT_REQ_INCONSISTENT",
                              f"taps[{index}]: tapId {row['tap_id']} is in this batch twice, with other content; nothing was stored")
            else:
                repeats += 1
        for attempt in (1, 2):
            try:
                with self.store.begin() as tx:
                    accepted = self._store_taps(tx.connection, rows)
                return {"result": result(), "accepted": accepted, "duplicates": len(taps) - accepted}
            except StoreError as exc:  # a tap stored meanwhile by a concurrent upload: look again
                if attempt == 2 or not _is_duplicate(exc.__cause__):
                    raise
        raise AssertionError("unreachable")

    def _store_taps(self, conn: Connection, rows: dict[str, dict[str, Any]]) -> int:
        if not rows:
            return 0
        stored = conn.execute(select(transit_taps.c.tap_id, transit_taps.c.digest)
                              .where(transit_taps.c.tap_id.in_(bindparam("ids", expanding=True))), {"ids": list(rows)})
        new = dict(rows)
        for tap_id, digest in stored:
            if digest != rows[tap_id]["digest"]:
                index = rows[tap_id].pop("index")
                raise Refused("REPEAT_REQ_INCONSISTENT", f"taps[{index}]: tapId {tap_id} was uploaded before with other"
                                                         " content; nothing of this batch was stored")
            del new[tap_id]
        if not new:
            return 0
        names = [name for name in next(iter(new.values())) if name != "index"]
        uploaded_at = {}
        for row in new.values():
            if row["uploaded_at"] not in uploaded_at:
                uploaded_at[row["uploaded_at"]] = _db_value(conn, transit_taps.c.uploaded_at, row["uploaded_at"])
        _insert_many(conn, transit_taps, names, [
            [uploaded_at[row[name]] if name == "uploaded_at" else row[name] for name in names] for row in new.values()])
        queued: dict[str, int] = defaultdict(int)
        for row in new.values():
            if row["decision"] == "open":
                queued[row["account"]] += 1
        if queued:
            upsert = _upsert(self.store.dialect)(transit_dirty)
            conn.execute(upsert.on_conflict_do_update(index_elements=["account"],
                                                      set_={"taps": transit_dirty.c.taps + upsert.excluded.taps}),
                         [{"account": account, "taps": count} for account, count in queued.items()])
        return len(new)

    # clearing

    def network(self) -> tuple[ClearingFares, str]:
        """The fares clearing prices with, and the network id of the gates' stations (read once)."""
        if self._fares is None:
            try:
                network = read_network(self.fares_dir)
            except FareError as exc:
                raise Refused("PROCESS_FAIL", f"the fare network in {self.fares_dir} does not read: {exc}") from None
            if len(network.networks) == 1:
                network_id = next(iter(network.networks))
            elif self.fares_dir.name in network.networks or not network.networks:
                network_id = self.fares_dir.name
            else:
                raise Refused("PROCESS_FAIL", f"{self.fares_dir}: networks.txt names {len(network.networks)} networks;"
                                              " clearing prices one (name the folder after it)")
            medium = FARE_MEDIUM if FARE_MEDIUM in network.media else None
            self._fares = (ClearingFares(network, medium), network_id)
        return self._fares

    def clear(self) -> dict[str, Any]:
        """Clear every account with taps not yet priced, and collect what accounts owe (module docstring)."""
        with self._clearing:
            fares, network_id = self.network()
            started = self.store.clock.now()
            clock_start = datetime.now(UTC)
            with self.store.begin() as tx:
                conn = tx.connection
                todo = set(conn.execute(select(transit_dirty.c.account)).scalars())
                todo |= set(conn.execute(select(transit_debts.c.account)).scalars())
            ordered = sorted(todo)
            run = _Run(fares.network.currency.code, accounts=len(ordered))
            for start in range(0, len(ordered), CLEARING_BATCH):
                with self.store.begin() as tx:
                    _Batch(self, tx, fares, network_id, run).clear(ordered[start:start + CLEARING_BATCH])
            finished = self.store.clock.now()
            with self.store.begin() as tx:
                tx.connection.execute(insert(transit_clearings), {
                    "started_at": started, "finished_at": finished, "accounts": run.accounts, "taps": run.taps,
                    "journeys": run.journeys, "currency": run.currency, "charged": run.charged, "refunded": run.refunded,
                    "indebted": len(run.indebted), "errors": len(run.errors)})
            return run.answer((datetime.now(UTC) - clock_start).total_seconds())

    # a wallet's transit standing

    def wallet_summary(self, tx: Tx, wallet_id: str) -> dict[str, Any] | None:
        """A wallet's ride account, deny list standing, debt and journeys not fully paid (None: no ride account)."""
        conn = tx.connection
        rider = conn.execute(select(transit_riders).where(transit_riders.c.wallet_id == wallet_id)).first()
        if rider is None:
            return None
        debt = conn.execute(select(transit_debts).where(transit_debts.c.account == rider.account)).first()
        owing = conn.execute(select(transit_journeys).where(
            transit_journeys.c.account == rider.account,
            (transit_journeys.c.amount != transit_journeys.c.paid) | transit_journeys.c.error.is_not(None),
        ).order_by(transit_journeys.c.started_ms)).all()
        return self._denial(conn, rider.account) | {
            "codesIssued": rider.sequence,
            "debt": None if debt is None else {"owed": amount_json(Money.of_minor(debt.owed, debt.currency)),
                                               "since": timestamp(debt.since)},
            "unpaidJourneys": [
                {"journey": row.journey_key, "startedAt": timestamp(_utc(row.started_ms)), "summary": row.summary,
                 "amount": amount_json(Money.of_minor(row.amount, row.currency)),
                 "paid": amount_json(Money.of_minor(row.paid, row.currency)), "error": row.error}
                for row in owing
            ],
        }


# --- checking an uploaded tap ----------------------------------------------------------------------------


def _text(value: object, where: str, most: int = MAX_ID_CHARS) -> str:
    if not isinstance(value, str) or not value or len(value) > most or not value.isprintable():
        raise Refused("PARAM_ILLEGAL", f"{where}: {value!r} is not text of 1 to {most} printable characters")
    return value


def _tap_row(index: int, tap: object, client_id: str, uploaded_at: datetime) -> dict[str, Any]:
    """The row of the ``index``-th tap of a batch, every field checked; PARAM_ILLEGAL naming the tap and field."""
    where = f"taps[{index}]"
    if not isinstance(tap, dict):
        raise Refused("PARAM_ILLEGAL", f"{where}: a tap is a JSON object, not {type(tap).__name__}")
    if missing := [name for name in TAP_FIELDS if name not in tap]:
        raise Refused("PARAM_ILLEGAL", f"{where}: missing {', '.join(missing)}")
    if unknown := sorted(set(tap) - set(TAP_FIELDS)):
        raise Refused("PARAM_ILLEGAL", f"{where}: unknown member {', '.join(map(repr, unknown))}"
                                       f" (a tap has {', '.join(TAP_FIELDS)})")
    try:
        tap_id = str(uuid.UUID(tap["tapId"])) if isinstance(tap["tapId"], str) and len(tap["tapId"]) <= 45 else None
    except ValueError:
        tap_id = None
    if tap_id is None:
        raise Refused("PARAM_ILLEGAL", f"{where}.tapId: {tap['tapId']!r} is not a UUID")
    where = f"taps[{index}] (tapId {tap_id})"
    station_id = _text(tap["stationId"], f"{where}.stationId")
    gate_id = _text(tap["gateId"], f"{where}.gateId")
    if tap["direction"] not in DIRECTIONS:
        raise Refused("PARAM_ILLEGAL", f"{where}.direction: {tap['direction']!r} is not \"in\" or \"out\"")
    if tap["decision"] not in DECISIONS:
        raise Refused("PARAM_ILLEGAL", f"{where}.decision: {tap['decision']!r} is not \"open\" or \"deny\"")
    if not isinstance(tap["reason"], str) or tap["reason"] not in REASONS:  # a frozenset: an array or object is unhashable
        raise Refused("PARAM_ILLEGAL", f"{where}.reason: {tap['reason']!r} is not one of {', '.join(sorted(REASONS))}")
    try:
        at = datetime.fromisoformat(tap["at"]) if isinstance(tap["at"], str) and len(tap["at"]) <= 40 else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or at.utcoffset() is None:
        raise Refused("PARAM_ILLEGAL", f"{where}.at: {tap['at']!r} is not an ISO 8601 time with a UTC offset"
                                       " (like 2025-03-03T08:00:00+08:00)")
    if not _MIN_AT <= at < _MAX_AT:
        raise Refused("PARAM_ILLEGAL", f"{where}.at: {tap['at']} is not between 2000 and 2100")
    code = tap["code"]
    if not isinstance(code, str):
        raise Refused("PARAM_ILLEGAL", f"{where}.code: a ride code is text, not {type(code).__name__}")
    try:
        read = ride.read(code).code
    except DomainError as exc:
        raise Refused("PARAM_ILLEGAL", f"{where}.code: {exc}") from None
    account = tap["account"]
    if account != read.account.hex():
        raise Refused("PARAM_ILLEGAL", f"{where}.account: {account!r} is not the account of its code"
                                       f" ({read.account.hex()}, lower-case hex)")
    canonical = dict(tap, tapId=tap_id)
    digest = hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    return {"index": index, "tap_id": tap_id, "client_id": client_id, "gate_id": gate_id, "station_id": station_id,
            "direction": tap["direction"], "at_ms": _ms(at), "utc_offset_s": int(at.utcoffset().total_seconds()),
            "account": account, "code": code, "companions": read.companions, "decision": tap["decision"],
            "reason": tap["reason"], "digest": digest, "uploaded_at": uploaded_at}


# --- one batch of clearing ------------------------------------------------------------------------------------


class _Batch:
    """One transaction of clearing: a batch of accounts read, priced, charged and written back in bulk."""

    def __init__(self, transit: Transit, tx: Tx, fares: ClearingFares, network_id: str, run: _Run) -> None:
        self.transit = transit
        self.tx = tx
        self.conn = tx.connection
        self.fares = fares
        self.network_id = network_id
        self.currency = fares.network.currency.code
        self.run = run
        self.at = transit.store.clock.now()
        self.now_ms = _ms(self.at)
        self.at_db = _db_value(self.conn, entries.c.created_at, self.at)
        self.postings: list[tuple[Any, ...]] = []  # POSTING_COLUMNS
        self.entries: list[list[Any]] = []  # ENTRY_COLUMNS; a merchant's balance_after is filled in by _write
        self.merchant_entries: dict[str, list[list[Any]]] = defaultdict(list)
        self.merchant_accounts: dict[str, str] = {}
        self.balances: dict[str, int] = {}
        self.changed_wallets: set[str] = set()
        self.requeue: dict[str, int] = {}
        self._posting_prefix = f"L{self.now_ms:012X}{secrets.randbelow(16 ** 4):04X}"
        self._postings_made = 0

    def _posting_id(self) -> str:
        """A posting id of the ledger's form ("L" and 24 hex digits), in order within a clearing batch and
        from one batch to the next (the time first), so the ledger's indexes grow at their ends."""
        self._postings_made += 1
        return f"{self._posting_prefix}{self._postings_made:08X}"

    def clear(self, chunk: list[str]) -> None:
        conn, run = self.conn, self.run
        riders = dict(conn.execute(_RIDERS, {"accounts": chunk}).all())
        dirty = dict(conn.execute(_TAKE_DIRTY, {"accounts": chunk}).all())
        run.taps += sum(dirty.values())
        taps: dict[str, list[_Tap]] = defaultdict(list)
        priced = [account for account in dirty if account in riders]
        if priced:
            for row in conn.execute(_TAPS, {"accounts": priced}).all():
                taps[row[0]].append(_Tap._make(row[1:]))
        known: dict[str, dict[str, _Journey]] = defaultdict(dict)
        for row in conn.execute(_JOURNEYS, {"accounts": chunk}):
            known[row.account][row.journey_key] = _Journey(*row)
        debts = {row.account: row for row in conn.execute(_DEBTS, {"accounts": chunk})}
        wallets = {row.id: row for row in conn.execute(_WALLETS, {"wallets": sorted(set(riders.values()))})}
        self.balances = {wallet_id: row.balance for wallet_id, row in wallets.items()}

        inserts: list[_Journey] = []
        updates: list[_Journey] = []
        owed: dict[str, tuple[str, int]] = {}
        for account in chunk:
            wallet_id = riders.get(account)
            if wallet_id is None:
                if account in dirty:
                    run.errors.append({"account": account, "error": "no wallet has this ride account: its taps are not charged"})
                continue
            wallet = wallets[wallet_id]
            before = known.get(account, {})
            if account in dirty:
                try:
                    journeys = self._price(account, wallet_id, taps.get(account, []))
                except FareError as exc:  # e.g. a station the network does not know: kept for a clearing with other fares
                    run.errors.append({"account": account, "error": f"not priced: {exc}"})
                    self.requeue[account] = dirty[account]
                    journeys = {key: replace(journey) for key, journey in before.items()}
            else:
                journeys = {key: replace(journey) for key, journey in before.items()}
            for journey in journeys.values():
                old = before.get(journey.journey_key)
                if old is not None:
                    journey.paid = old.paid
            for key, old in before.items():
                if key not in journeys:  # taps uploaded late joined it to another journey: it costs nothing now
                    summary = old.summary if old.summary.endswith(JOINED) else old.summary + JOINED
                    journeys[key] = replace(old, amount=0, fare=0, penalty=0, capped_by=None, summary=summary)
            if wallet.currency != self.currency:
                error = f"the wallet holds {wallet.currency}; fares on {self.network_id} are in {self.currency}"
                for journey in journeys.values():
                    journey.error = error
                if account in dirty:
                    run.errors.append({"account": account, "error": f"not charged: {error}"})
            else:
                for journey in journeys.values():
                    journey.error = None
                self._collect(account, wallet_id, journeys.values())
            for key, journey in journeys.items():
                old = before.get(key)
                if old is None:
                    inserts.append(journey)
                elif old.values() != journey.values():
                    updates.append(journey)
                if old is None or old.amount != journey.amount:
                    run.journeys += 1
            due = sum(j.amount - j.paid for j in journeys.values() if j.error is None and j.amount > j.paid)
            if due:
                owed[account] = (wallet_id, due)
                run.indebted.append(account)
            elif account in debts:
                run.settled.append(account)
        self._write(chunk, inserts, updates, owed, debts)

    def _price(self, account: str, wallet_id: str, taps: list[_Tap]) -> dict[str, _Journey]:
        """The account's journeys priced over its whole history: by key, paid still 0."""
        legs: list[Leg] = []
        tap_in: dict[int, _Tap] = {}  # id(leg) -> its tap-in

        def leg(entry: _Tap, exit_: _Tap | None) -> None:
            start = entry.local()
            made = Leg(self.network_id, entry.station_id, start, None if exit_ is None else exit_.station_id,
                       None if exit_ is None else max(exit_.local(), start))
            legs.append(made)
            tap_in[id(made)] = entry

        entry: _Tap | None = None
        for tap in taps:
            if tap.direction == "in":
                if entry is not None:
                    leg(entry, None)
                entry = tap
            elif entry is not None:  # a tap-out: ends the open leg (a tap-out with none open is not charged)
                if tap.at_ms - entry.at_ms <= _LIMIT_MS:
                    leg(entry, tap)
                else:
                    leg(entry, None)
                entry = None
        if entry is not None:
            if self.now_ms - entry.at_ms > _LIMIT_MS:
                leg(entry, None)
            else:
                self.requeue.setdefault(account, 0)  # still travelling: priced once it taps out or the limit passes
        journeys = self.fares.journeys(legs)
        found: dict[str, _Journey] = {}
        for journey, charge in zip(journeys, self.fares.price(journeys)):
            first = tap_in[id(journey.legs[0])]
            companions = first.companions
            riders = 1 + companions
            found[first.tap_id] = _Journey(
                account=account, journey_key=first.tap_id, wallet_id=wallet_id, client_id=first.client_id,
                started_ms=first.at_ms, legs=len(journey.legs), riders=riders, currency=self.currency,
                fare=charge.fare.minor * riders, amount=charge.charged.minor + companions * charge.fare.minor, paid=0,
                penalty=charge.penalty.minor * riders, capped_by=None if charge.capped_by is None else charge.capped_by.cap_id,
                summary=_summary(journey, riders), error=None)
        return found

    def _merchant(self, client_id: str) -> str:
        account = self.merchant_accounts.get(client_id)
        if account is None:
            account = self.merchant_accounts[client_id] = self.tx.merchant_account(client_id, self.currency)
        return account

    def _collect(self, account: str, wallet_id: str, journeys: Iterable[_Journey]) -> None:
        """Post each journey's ``amount - paid`` (refunds first, then the oldest first), as far as the wallet can pay."""
        due = [journey for journey in journeys if journey.amount != journey.paid]
        due.sort(key=lambda journey: (journey.amount > journey.paid, journey.started_ms, journey.journey_key))
        for journey in due:
            delta = journey.amount - journey.paid
            balance = self.balances[wallet_id]
            if delta > balance:
                continue  # owed: a debt, collected by a later clearing
            balance -= delta
            self.balances[wallet_id] = balance
            self.changed_wallets.add(wallet_id)
            journey.paid = journey.amount
            if delta > 0:
                self.run.charged += delta
            else:
                self.run.refunded -= delta
            posting_id = self._posting_id()
            memo = f"fare {journey.summary}" if delta > 0 else f"fare refund {journey.summary}"
            if journey.capped_by:
                memo += f" (capped: {journey.capped_by})"
            self.postings.append((posting_id, "fare" if delta > 0 else "fare-refund", journey.journey_key, memo, self.at_db))
            merchant = self._merchant(journey.client_id)
            legs = sorted([(wallet_id, -delta, balance), (merchant, delta, None)])  # one order for every posting
            for account_id, amount, after in legs:
                entry = [posting_id, account_id, amount, self.currency, after, self.at_db]
                self.entries.append(entry)
                if after is None:
                    self.merchant_entries[account_id].append(entry)

    def _write(self, chunk: list[str], inserts: list[_Journey], updates: list[_Journey],
               owed: dict[str, tuple[str, int]], debts: dict[str, Any]) -> None:
        conn, dialect = self.conn, self.transit.store.dialect
        for merchant, merchant_entries in sorted(self.merchant_entries.items()):
            total = sum(entry[2] for entry in merchant_entries)
            balance = conn.execute(_ADD_BALANCE, {"account": merchant, "delta": total}).scalar_one() - total
            for entry in merchant_entries:
                balance += entry[2]
                entry[4] = balance
        if self.changed_wallets:
            conn.execute(_SET_BALANCE, [{"wallet": wallet_id, "new_balance": self.balances[wallet_id]}
                                        for wallet_id in sorted(self.changed_wallets)])
        if self.postings:
            _insert_many(conn, postings, POSTING_COLUMNS, self.postings)
            _insert_many(conn, entries, ENTRY_COLUMNS, self.entries)
        if inserts:
            _insert_many(conn, transit_journeys, JOURNEY_COLUMNS,
                         [(*journey.__dict__.values(), self.at_db) for journey in inserts])
        if updates:
            conn.execute(_UPDATE_JOURNEY, [
                {"v_" + name: value for name, value in (journey.__dict__ | {"updated_at": self.at}).items()
                 if name in _JOURNEY_VALUES} | {"the_account": journey.account, "the_key": journey.journey_key}
                for journey in updates])
        conn.execute(_DELETE_DEBTS, {"accounts": chunk})
        conn.execute(_DELETE_DEBT_DENIALS, {"accounts": chunk})
        if owed:
            conn.execute(insert(transit_debts), [
                {"account": account, "wallet_id": wallet_id, "currency": self.currency, "owed": due,
                 "since": debts[account].since if account in debts else self.at, "updated_at": self.at}
                for account, (wallet_id, due) in owed.items()])
            conn.execute(insert(transit_deny), [{"account": account, "cause": DENY_DEBT, "created_at": self.at}
                                                for account in owed])
        if self.requeue:
            upsert = _upsert(dialect)(transit_dirty)
            conn.execute(upsert.on_conflict_do_update(index_elements=["account"],
                                                      set_={"taps": transit_dirty.c.taps + upsert.excluded.taps}),
                         [{"account": account, "taps": taps} for account, taps in self.requeue.items()])


def _summary(journey: Journey, riders: int) -> str:
    """The journey in a line, in local times: "2025-03-03 M01 08:00 -> M12 08:40"."""
    parts = []
    for leg in journey.legs:
        start, end = leg.start, leg.end
        out = "no tap-out" if end is None else f"{leg.to_stop_id} {end.hour:02d}:{end.minute:02d}"
        parts.append(f"{leg.from_stop_id} {start.hour:02d}:{start.minute:02d} -> {out}")
    day = journey.start
    return (f"{day.year:04d}-{day.month:02d}-{day.day:02d} " + "; ".join(parts)
            + (f" ({riders} riders)" if riders > 1 else ""))


# --- the HTTP edge -----------------------------------------------------------------------------------------------


class RideCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    companions: int = Field(default=0, ge=0, le=ride.MAX_COMPANIONS, description="riders besides the holder")


class RotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlapSeconds: int = Field(default=3600, ge=0, le=int(KEY_LIFETIME.total_seconds()),
                                description="how long the key signing until now stays valid for codes it signs")


class DenyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(max_length=64, description="the account token, hex")


class TopUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, lt=10**15, description="minor units to add to the wallet, from the funding account")


def routes(gateway: Gateway) -> APIRouter:
    """The transit routes: the signed calls of the gates, and their /sim admin API."""
    router = APIRouter()
    transit: Transit = gateway.transit

    async def signed(request: Request, answer: Any) -> Response:
        """A /transit/ call, verified as an AMS call is (``Gateway.verify_request``), answered signed; a
        refusal is answered HTTP 200 with its ``result``, as AMS answers."""
        method, path = request.method, request.scope["path"]
        headers = request.headers
        client = headers.get("client-id") or ""
        body = await request.body()  # at most MAX_BODY_BYTES: the edge (app.py) refuses a longer one

        def work() -> bytes:
            try:
                gateway.verify_request(method, path, client, headers.get("request-time"), headers.get("signature"), body)
                return answer(client, body)
            except Refused as refused:
                return json.dumps({"result": result(refused.code, refused.detail)}).encode()

        data = await run_in_threadpool(work)
        response_time = timestamp(now())
        signature = ams_signature.sign(gateway.private_key, method, path, client, response_time, data)
        return Response(data, 200, {"client-id": client, "response-time": response_time,
                                    "signature": ams_signature.signature_header(signature)},
                        media_type="application/json; charset=UTF-8")

    @router.get("/transit/keyring", summary="The issuer key ring gates cache (signed call)")
    async def keyring(request: Request) -> Response:
        return await signed(request, lambda _client, _body: transit.keyring().to_json().encode())

    @router.post("/transit/taps", summary="A gate uploads a batch of taps (signed call)")
    async def taps(request: Request) -> Response:
        def store(client: str, body: bytes) -> bytes:
            return json.dumps(transit.upload(client, json_object(body))).encode()

        return await signed(request, store)

    @router.post("/sim/wallets/{wallet_id}/ride-code", status_code=201,
                 summary="A ride code for the wallet, signed by the issuer's current key, valid 60 s")
    def ride_code(wallet_id: str, order: RideCodeIn | None = None) -> dict[str, Any]:
        return transit.ride_code(wallet_id, (order or RideCodeIn()).companions)

    @router.post("/sim/wallets/{wallet_id}/top-up", summary="Add money to a wallet (from the funding account)")
    def top_up(wallet_id: str, top_up: TopUpIn) -> dict[str, Any]:
        return gateway.wallets.top_up(wallet_id, top_up.amount)

    @router.get("/sim/transit/keys", summary="The issuer keys (public halves)")
    def list_keys() -> dict[str, Any]:
        return transit.keys()

    @router.post("/sim/transit/keys", status_code=201, summary="Rotate: a new issuer key, valid from now")
    def rotate(rotation: RotationIn | None = None) -> dict[str, Any]:
        return transit.rotate((rotation or RotationIn()).overlapSeconds)

    @router.post("/sim/transit/keys/{key_id}/revoke", summary="Revoke an issuer key")
    def revoke(key_id: int = FastApiPath(ge=0, le=ride.MAX_KEY_ID, description="an issuer key's id, 0-65535")) -> Any:
        done = transit.revoke(key_id)
        if done is None:
            return JSONResponse({"error": {"code": "PARAM_ILLEGAL", "message": f"no issuer key {key_id}"}}, 404)
        return done

    @router.post("/sim/transit/deny", summary="Put an account on the deny list")
    def deny(entry: DenyIn) -> dict[str, Any]:
        return transit.deny(entry.account)

    @router.delete("/sim/transit/deny/{account}", summary="Take an account off the deny list (not for an unpaid fare)")
    def allow(account: str) -> dict[str, Any]:
        return transit.allow(account)

    @router.post("/sim/transit/clear", summary="Clear now: uploaded taps -> journeys -> fares -> charges")
    def clear() -> dict[str, Any]:
        return transit.clear()

    return router
