"""Clearing (docs/transit-api.md): the taps gates uploaded -> journeys -> capped fares -> charges on the
wallets, through the ledger; run by ``POST /sim/transit/clear`` (transit.py) as ``Clearing.clear``.

Incremental. A run prices only the accounts with new taps (``transit_dirty``), and of each only the taps
from its checkpoint on (``transit_checkpoints.before_ms``): every tap before it is in a *final* journey,
one no tap from the checkpoint on can change, and the caps of the account's riders have counted those
journeys in running totals kept per cap period still open (``transit_checkpoints.cap_totals``, with the
checkpoint: one row an account). A journey is final when no tap at or after a time already past can touch it:
its tap-out (or its tap-in's time limit) and the network's longest transfer window are behind the clearing's
clock, and behind the next journey's first tap; the checkpoint goes a replay window after that (no later than
the next journey's first tap or the clock), so the next run's taps from a replay window before the checkpoint
(read for the codes used there) hold none of the final journeys'. The checkpoint row also keeps the start of
the account's latest journey, so only an account with journeys from its checkpoint on has them read.
A tap uploaded late, older than the account's checkpoint, sends the account back to its first
tap: priced again from nothing, as one clearing of all its taps would. So clearing any split of a tap
stream into runs charges what one clearing of all of it does (tests/integration/test_transit_clearing.py).

Per account, the taps in time order (``TAP_OUT_LIMIT`` is the network's journey time limit):

- a tap of a ride code already used in the same direction less than ``REPLAY_WINDOW`` before is a replay:
  evidence (counted), not a journey; a tap the gate denied is never a journey;
- a tap-in and the next tap-out within the limit make a leg; a tap-in followed by another tap-in, or by
  nothing (or a tap-out) for longer than the limit, is a leg without a tap-out; a tap-out with no tap-in
  before it (or after the limit) is an exit without an entry: a journey of its own. Both pay the network's
  maximum fare, never capped, and say so in the wallet's history; a tap-in younger than the limit with no
  tap-out yet waits (the account goes back on the queue);
- rides (a tap-in and its tap-out, as ``Ride`` values with integer times) -> journeys
  (``ClearingFares.journeys``) -> charges with capping (``ClearingFares.charges``). A code's
  companions ride as riders of their own: rider 0 is the holder, rider k its k-th companion, each with
  its own cap totals, so a journey for three costs the three riders' charges, each capped;
- a journey is keyed by its first tap's id, and holds ``amount`` (what it costs now) and ``paid`` (what
  the wallet has paid of it), so clearing again charges only differences: nothing, unless late taps
  changed a price (then the difference, either way).

Then collect: each journey's ``amount - paid``, oldest first (refunds first), as far as the wallet can pay;
a wallet that cannot pay a journey keeps it owed: a debt, and the account on the deny list (cause "debt")
until a later clearing collects it; a wallet in another currency than the network's is an error on its
journeys, not charged. What a wallet pays an operator in a batch is one posting (its refunds another), as
contactless metro systems charge a card once a day: "fares 2025-03-03: 3 journeys", the sum of the journeys
paid in it; each journey names the posting that paid it last (``posting_id``), and the wallet's history lists a
fare posting's journeys, each with its amount and why (wallets.py, ``Transit.fare_lines``), and each journey that
cost nothing, in no posting, on a line of its own of 0 (``Transit.free_fares``).

In batches of ``CLEARING_BATCH`` accounts, one transaction a batch and a fixed number of statements a
batch (bulk reads and writes, no statement per tap or per journey): the batch's accounts taken off the
queue (DELETE ... RETURNING; an upload meanwhile puts them back), their rider rows and wallets locked,
their checkpoints and cap totals, taps from the checkpoint, journeys from the checkpoint (of the accounts that
have any) and debts read, and a debtor's journeys still owed from before its checkpoint (final: only what is
paid of them can change) read one by one only if its wallet could pay one of them (its balance and the refunds
of the journeys priced again against the least owed, summed from the unpaid journeys' index; else their total
carries over); then written back in bulk: each wallet's new balance (never below zero), the operator's
account moved once by the batch's total (into a balance shard where writers run at once, as ``Tx.post``
moves it), the ledger's postings and entries as ``Tx.post`` writes them (a
posting a wallet and operator, its two legs with their balances after) in a few bulk inserts, the journeys,
checkpoints, cap totals, debts and deny list. On SQLite a batch writes with the foreign key checks off (a lookup a
row), every account it references looked for in one query instead (``_Batch._check_references``).

Measured by scripts/bench_transit_clearing.py (docs/benchmarks.md).
"""

from __future__ import annotations

import gc
import json
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, case, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from pos_sim.assets import METRO
from pos_sim.backend.protocol import Refused, amount_json
from pos_sim.backend.store.database import Store, Tx
from pos_sim.backend.store.errors import LedgerError
from pos_sim.backend.store.tables import accounts, entries, postings
from pos_sim.backend.store.transit import (
    DAY_MS,
    db_value,
    execute_many,
    insert_many,
    transit_checkpoints,
    transit_clearings,
    transit_debts,
    transit_deny,
    transit_dirty,
    transit_journeys,
    transit_riders,
    transit_taps,
    upsert,
)
from pos_sim.domain.codes import ride as ride_codes
from pos_sim.domain.fares import Cap, CapPeriod, FareError, FareNetwork, Fares, Journey, Leg, read_network, wording
from pos_sim.domain.fares.network import DAY
from pos_sim.domain.money import Money

TAP_OUT_LIMIT = timedelta(hours=3)
"""The network's journey time limit: the longest a tap-in waits for its tap-out; later, the leg had none."""
REPLAY_WINDOW = timedelta(seconds=ride_codes.MAX_VALID_S + 2 * ride_codes.MAX_SKEW_S)
"""Two uses of one ride code in one direction this close are one code shown twice (a code is good for one
tap, and gates take it at most its validity and twice the largest clock skew apart): the later is a replay."""
CLEARING_BATCH = 1000
"""Accounts cleared in one transaction."""
SQLITE_CLEARING = {"cache_size": -64 * 1024, "mmap_size": 1 << 30, "wal_autocheckpoint": 10_000}
"""SQLite's settings while clearing: a batch reads its taps from pages all over the file (gates upload them in
no order of account) and inserts postings by journey key (a random id): with 64 MiB of page cache rather than
2 and the file's first GiB memory-mapped, a million taps clear in about 1.5 s of CPU less. And the WAL copied
into the file (a checkpoint, which syncs it) every 10,000 pages rather than 1,000 (the WAL file up to 40 MiB):
fewer checkpoints and syncs (200,000 taps: 4 rather than 11), and a page several batches write between two of
them copied once (docs/benchmarks.md); the first commit after clearing checkpoints what is left."""
MAX_LISTED = 100
"""The most accounts a clearing's answer lists by name under indebted, settled and errors."""
FARE_MEDIUM = "wallet_qr"
FARE, FARE_REFUND = FARE_KINDS = ("fare", "fare-refund")
"""The kinds of the ledger's fare postings: what a wallet paid an operator in a clearing batch, and got back."""
DEFAULT_FARES = METRO
NO_TAPS = 2**62
"""``transit_dirty.since_ms`` of an account queued again with no new tap (it waits for a tap-out)."""

JOINED = f" ({wording.JOINED})"
NO_TAP_OUT = f" ({wording.MAXIMUM_FARE_NO_TAP_OUT.format(hours=TAP_OUT_LIMIT.seconds // 3600)})"
NO_TAP_IN = f" ({wording.MAXIMUM_FARE_NO_TAP_IN})"
DENY_DEBT = "debt"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_LIMIT_MS = int(TAP_OUT_LIMIT.total_seconds() * 1000)
_REPLAY_MS = int(REPLAY_WINDOW.total_seconds() * 1000)
_NEVER = float("inf")
_FIRST_DAY = date(1970, 1, 1).toordinal()


def ms(moment: datetime) -> int:
    """Unix milliseconds of an aware time."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def utc(milliseconds: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=milliseconds)


def local_time(milliseconds: int) -> datetime:
    """A local wall-clock time given in milliseconds since 1970-01-01 00:00 (no zone)."""
    return _NAIVE_EPOCH + timedelta(milliseconds=milliseconds)


@lru_cache(maxsize=4096)
def day_text(day: int) -> str:
    """"YYYY-MM-DD" of a day counted from 1970-01-01 (day 0)."""
    return date.fromordinal(_FIRST_DAY + day).isoformat()


def cap_totals_text(totals: dict[tuple[int, str, int], int]) -> str | None:
    """An account's cap totals (minor units spent, by rider, cap id and period) as ``transit_checkpoints.cap_totals``
    holds them: JSON, a list of [rider, cap id, the period's first service day counted from 1970-01-01, spent],
    sorted (one text for the same totals); None for none."""
    if not totals:
        return None
    return _COMPACT_JSON.encode(sorted([*key, spent] for key, spent in totals.items()))


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


# --- fares, priced fast enough for clearing -------------------------------------------------------


class Ride(NamedTuple):
    """A leg as clearing reads it off a tap-in and its tap-out: the stops, and the local wall-clock times
    (the taps' Unix milliseconds plus their gates' UTC offsets; a fare's time of day is local). No
    tap-out: ``to_stop`` and ``end_ms`` are None."""

    from_stop: str
    start_ms: int
    to_stop: str | None = None
    end_ms: int | None = None


class MinorCharge(NamedTuple):
    """A journey's ``Charge`` for one rider as clearing keeps it: minor units of the network's currency."""

    fare: int
    charged: int
    penalty: int
    capped_by: Cap | None


class _Remembered(NamedTuple):
    """A journey's fare as first worked out for a journey like it: minor units, and the caps that count it."""

    amount: int
    penalty: int
    caps: tuple[tuple[Cap, str, int, int, bool], ...]  # each cap, its id, amount (minor), day boundary (s), and whether weekly


class ClearingFares(Fares):
    """``Fares`` for pricing a million taps: the same journeys and charges, worked out on ``Ride`` values
    (integers for times) rather than ``Leg``, ``Journey`` and ``Money`` values.

    A journey's fare is remembered by what it depends on: each ride's stops, the timeframe groups its
    tap-in and tap-out times fall in, and (for several rides, where transfer limits count) the times
    between them; only a journey unlike any before is priced as ``Leg`` values by ``Fares``.
    ``journeys`` works on stretches of rides that no transfer rule can join across (a gap longer than
    every rule's duration limit; every ride alone on a network without transfer rules). ``charges`` is
    ``Fares.price`` step for step in minor units, on the running totals of a rider's caps (``spent``:
    minor units by cap id and period, a period's first service day counted in days since 1970-01-01),
    adding to them, so that journeys priced in runs are capped as if priced at once.
    tests/unit/test_transit_fares.py holds ``journeys`` and ``charges`` to ``Fares``'s.
    """

    def __init__(self, network: FareNetwork, network_id: str, fare_media_id: str | None = None) -> None:
        super().__init__(network, fare_media_id)
        self.network_id = network_id
        self._fares: dict[tuple[Any, ...], _Remembered] = {}
        frames = [(group, frame) for group, each in network.timeframes.items() for frame in each]
        ends = {cut for _group, frame in frames for cut in (frame.start, frame.end, frame.start - DAY, frame.end - DAY)}
        cuts = sorted({0} | {cut for cut in ends if 0 < cut < DAY})
        self._timeframes: list[frozenset[str]] = []  # by second of the day: the timeframe groups it is in
        for begin, end in zip(cuts, [*cuts[1:], DAY]):
            self._timeframes += [frozenset(group for group, frame in frames if frame.contains(begin))] * (end - begin)
        rules = network.transfer_rules
        if not rules:
            self._gap_ms: float | None = None  # no transfers: every ride is a journey of its own
        elif all(rule.duration_limit is not None for rule in rules):
            self._gap_ms = max(rule.duration_limit for rule in rules) * 1000  # type: ignore[type-var]
        else:
            self._gap_ms = float("inf")

    @property
    def transfer_window_ms(self) -> float:
        """The longest a ride may start after the one before and join its journey (0: no transfers; inf: no limit)."""
        return self._gap_ms or 0

    def leg(self, ride: Ride) -> Leg:
        return Leg(self.network_id, ride.from_stop, local_time(ride.start_ms), ride.to_stop,
                   None if ride.end_ms is None else local_time(ride.end_ms))

    def fare(self, journey: Sequence[Ride]) -> _Remembered:
        """The journey's fare (minor units) and the caps that count it: as first worked out for a journey like it."""
        timeframes = self._timeframes
        if len(journey) == 1:
            (ride,) = journey
            key: tuple[Any, ...] = (ride.from_stop, ride.to_stop, timeframes[ride.start_ms // 1000 % DAY],
                                    None if ride.end_ms is None else timeframes[ride.end_ms // 1000 % DAY])
        else:
            first = journey[0].start_ms
            key = tuple((ride.from_stop, ride.to_stop, timeframes[ride.start_ms // 1000 % DAY],
                         None if ride.end_ms is None else timeframes[ride.end_ms // 1000 % DAY], ride.start_ms - first,
                         None if ride.end_ms is None else ride.end_ms - first) for ride in journey)
        known = self._fares.get(key)
        if known is None:
            if len(self._fares) >= 100_000:
                self._fares.clear()
            legs = Journey([self.leg(ride) for ride in journey])
            detail = self.journey_fare(legs)
            known = self._fares[key] = _Remembered(
                detail.amount.minor, detail.penalty.minor,
                tuple((cap, cap.cap_id, cap.amount.minor, cap.day_boundary, cap.period is CapPeriod.WEEK)
                      for cap in self.caps if self.covers(cap, legs, detail)))
        return known

    def journeys(self, rides: Iterable[Ride]) -> list[tuple[Ride, ...]]:
        """A rider's rides (in any order) as journeys, as ``Fares.journeys`` joins their legs."""
        ordered = sorted(rides, key=lambda ride: ride.start_ms)
        if self._gap_ms is None:
            return [(ride,) for ride in ordered]
        found: list[tuple[Ride, ...]] = []
        stretch: list[Ride] = []
        for ride in ordered:
            last = stretch[-1] if stretch else None
            if last is not None and ride.start_ms - (last.start_ms if last.end_ms is None else last.end_ms) > self._gap_ms:
                found += self._joined(stretch)
                stretch = []
            stretch.append(ride)
        return found + self._joined(stretch) if stretch else found

    def _joined(self, rides: list[Ride]) -> list[tuple[Ride, ...]]:
        """Rides in time order joined into journeys by ``Fares.journeys``."""
        legs = [self.leg(ride) for ride in rides]
        ride_of = {id(leg): ride for leg, ride in zip(legs, rides)}
        return [tuple(ride_of[id(leg)] for leg in journey.legs) for journey in super().journeys(legs)]

    def charges(self, journeys: Sequence[Sequence[Ride]], spent: dict[tuple[str, int], int]) -> list[MinorCharge]:
        """One rider's charges for ``journeys``, capped on the running totals ``spent`` (and added to them): in
        the order given, worked out in time order, as ``Fares.price`` (``fare`` and ``charged`` with penalties)."""
        fare = self.fare
        charges: list[MinorCharge | None] = [None] * len(journeys)
        for index in sorted(range(len(journeys)), key=lambda index: journeys[index][0].start_ms):
            journey = journeys[index]
            amount, penalty, caps = fare(journey)
            charged, capped_by = amount, None
            if caps:
                seconds = journey[0].start_ms // 1000
                counted = []
                for cap, cap_id, most, boundary, weekly in caps:
                    day = (seconds - boundary) // DAY
                    period = (cap_id, day - (day + 3) % 7 if weekly else day)  # 1970-01-01 was a Thursday
                    before = spent.get(period, 0)
                    counted.append((period, before))
                    left = max(most - before, 0)
                    if left < charged:
                        charged, capped_by = left, cap
                for period, before in counted:
                    spent[period] = before + charged
            charges[index] = MinorCharge(amount + penalty, charged + penalty, penalty, capped_by)
        return charges  # type: ignore[return-value]


# --- what clearing reads and writes ------------------------------------------------------------------


class _Tap(NamedTuple):
    """A tap as clearing reads it (``_TAPS``'s columns)."""

    account: str
    tap_id: str
    direction: str
    station_id: str
    at_ms: int
    utc_offset_s: int
    companions: int
    client_id: str
    code: str


_new_tap = _new_wallet = tuple.__new__
"""``_Tap`` of a row of ``_TAPS``: ``_new_tap(_Tap, row)``, as ``_Tap._make(row)`` without a Python call a tap."""


class _Wallet(NamedTuple):
    """A wallet as clearing reads it (``_WALLETS``'s columns)."""

    id: str
    kind: str
    currency: str
    balance: int


@dataclass(slots=True)
class _Journey:
    """A journey's row of transit_journeys, as read or as priced."""

    account: str
    journey_key: str
    wallet_id: str | None
    client_id: str
    started_ms: int  # Unix milliseconds of its first tap
    started_day: int  # the first tap's local day (the gate's UTC offset), Unix days: the key's first column
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
    posting_id: str | None  # the fare posting that paid it last

    def copy(self) -> _Journey:
        """Another journey with the same values (``dataclasses.replace`` costs ten times as much: a debtor's unpaid
        journeys are copied every night)."""
        return _Journey(*self.row())

    def row(self) -> tuple[Any, ...]:
        """Its values in the order of ``JOURNEY_COLUMNS`` (but ``updated_at``)."""
        return (self.account, self.journey_key, self.wallet_id, self.client_id, self.started_ms, self.started_day,
                self.legs, self.riders, self.currency, self.fare, self.amount, self.paid, self.penalty, self.capped_by,
                self.summary, self.error, self.posting_id)

    def values(self) -> tuple[Any, ...]:
        """What decides whether a journey's row must be written again."""
        return (self.wallet_id, self.client_id, self.legs, self.riders, self.currency, self.fare, self.amount,
                self.paid, self.penalty, self.capped_by, self.summary, self.error, self.posting_id)


@dataclass(slots=True)
class _FarePosting:
    """A wallet's fares to one operator in a clearing batch (its charges, or its refunds): one posting."""

    id: str
    wallet_id: str
    merchant: str
    refund: bool
    total: int = 0  # what the wallet pays (a refund: less than 0)
    journeys: list[_Journey] = field(default_factory=list)  # the journeys paid in it

    def memo(self) -> str:
        return fares_memo([journey.started_day for journey in self.journeys], self.refund)


def fares_memo(started_days: Sequence[int], refund: bool = False) -> str:
    """"fares 2025-03-03: 3 journeys", of journeys started on ``started_days`` (local days; "fare refunds" for a refund)."""
    days = sorted(set(started_days))
    when = day_text(days[0]) if len(days) == 1 else f"{day_text(days[0])} to {day_text(days[-1])}"
    count = len(started_days)
    return f"{'fare refunds' if refund else 'fares'} {when}: {count} journey{'' if count == 1 else 's'}"


@dataclass
class _Run:
    """What one clearing did, for its answer."""

    currency: str
    accounts: int = 0
    taps: int = 0
    journeys: int = 0
    replays: int = 0
    charged: int = 0
    refunded: int = 0
    indebted: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def answer(self, seconds: float) -> dict[str, Any]:
        def money(minor: int) -> dict[str, str]:
            return amount_json(Money.of_minor(minor, self.currency))

        return {"accounts": self.accounts, "taps": self.taps, "journeys": self.journeys, "replays": self.replays,
                "charged": money(self.charged), "refunded": money(self.refunded),
                "indebted": self.indebted[:MAX_LISTED], "indebtedCount": len(self.indebted),
                "settled": self.settled[:MAX_LISTED], "settledCount": len(self.settled),
                "errors": self.errors[:MAX_LISTED], "errorCount": len(self.errors), "seconds": round(seconds, 3)}


@dataclass
class _Priced:
    """An account's taps from its checkpoint, priced: its journeys by key, its new checkpoint and cap totals."""

    journeys: dict[str, _Journey]
    before_ms: int
    totals: dict[tuple[int, str, int], int]
    replays: int = 0
    waiting: bool = False


# statements built once (see store.py's docstring: building a construct costs more than running it)

POSTING_COLUMNS = ("id", "kind", "ref", "memo", "created_at")
ENTRY_COLUMNS = ("posting_id", "account_id", "amount", "currency", "balance_after", "created_at")
JOURNEY_COLUMNS = (*_Journey.__dataclass_fields__, "updated_at")

_accounts_in = bindparam("accounts", expanding=True)
_JOURNEY_VALUES = ("wallet_id", "client_id", "legs", "riders", "currency", "fare", "amount", "paid", "penalty",
                   "capped_by", "summary", "error", "posting_id", "updated_at")
_RIDERS = (select(transit_riders.c.account, transit_riders.c.wallet_id)
           .where(transit_riders.c.account.in_(_accounts_in)).order_by(transit_riders.c.account).with_for_update())
_TAKE_DIRTY = delete(transit_dirty).where(transit_dirty.c.account.in_(_accounts_in)).returning(
    transit_dirty.c.account, transit_dirty.c.taps, transit_dirty.c.since_ms)
_CHECKPOINTS = select(transit_checkpoints.c.account, transit_checkpoints.c.before_ms, transit_checkpoints.c.latest_journey_ms,
                      transit_checkpoints.c.cap_totals).where(transit_checkpoints.c.account.in_(_accounts_in))
_from_checkpoint = transit_checkpoints.c.before_ms
_TAPS = (select(transit_taps.c.account, transit_taps.c.tap_id, transit_taps.c.direction, transit_taps.c.station_id,
                transit_taps.c.at_ms, transit_taps.c.utc_offset_s, transit_taps.c.companions, transit_taps.c.client_id,
                transit_taps.c.code)
         .select_from(transit_checkpoints.join(transit_taps, and_(
             transit_taps.c.account == transit_checkpoints.c.account,
             transit_taps.c.at_ms >= _from_checkpoint - _REPLAY_MS)))
         .where(transit_checkpoints.c.account.in_(_accounts_in), transit_taps.c.decision == "open")
         .order_by(transit_taps.c.account, transit_taps.c.at_ms, transit_taps.c.tap_id))
"""An account's open taps from its checkpoint (and a replay window before it, to know the codes used there)."""
_JOURNEY_FIELDS = [transit_journeys.c[name] for name in _Journey.__dataclass_fields__]
_JOURNEYS = (select(*_JOURNEY_FIELDS)
             .select_from(transit_checkpoints.join(transit_journeys, and_(
                 transit_journeys.c.account == transit_checkpoints.c.account,
                 transit_journeys.c.started_ms >= _from_checkpoint)))
             .where(transit_checkpoints.c.account.in_(_accounts_in), transit_journeys.c.account.in_(_accounts_in),
                    transit_journeys.c.started_day == bindparam("day")))
"""The accounts' journeys of a day from their checkpoints on: a range of the key an account (a day at a time and
the accounts named for the journeys too, or PostgreSQL reads every journey of the days asked)."""
_JOURNEY_DAYS = select(select(func.min(transit_journeys.c.started_day)).scalar_subquery(),
                       select(func.max(transit_journeys.c.started_day)).scalar_subquery())
"""The first and the last day of any journey (each an end of the key: two aggregates in one SELECT scan the table)."""
_owed = (transit_debts.join(transit_checkpoints, transit_checkpoints.c.account == transit_debts.c.account)
         .join(transit_journeys, and_(transit_journeys.c.account == transit_debts.c.account,
                                      transit_journeys.c.started_ms < _from_checkpoint)))
_due = transit_journeys.c.amount - transit_journeys.c.paid
_unpaid = (transit_journeys.c.amount != transit_journeys.c.paid) | transit_journeys.c.error.is_not(None)  # transit.UNPAID
_OWED_JOURNEYS = (select(*_JOURNEY_FIELDS).select_from(_owed)
                  .where(transit_debts.c.account.in_(_accounts_in), _unpaid, transit_journeys.c.amount > transit_journeys.c.paid))
"""A debtor's unpaid journeys before its checkpoint (final: only what is paid of them can change)."""
_OWED_SUMS = (select(transit_debts.c.account, func.min(_due), func.sum(_due)).select_from(_owed)
              .where(transit_debts.c.account.in_(_accounts_in), _unpaid, transit_journeys.c.amount > transit_journeys.c.paid)
              .group_by(transit_debts.c.account))
"""Per debtor, the least and the total it owes for those journeys."""
_DEBTS = select(transit_debts.c.account, transit_debts.c.owed, transit_debts.c.since).where(
    transit_debts.c.account.in_(_accounts_in))
_WALLETS = (select(accounts.c.id, accounts.c.kind, accounts.c.currency, accounts.c.balance)
            .where(accounts.c.id.in_(bindparam("wallets", expanding=True))).order_by(accounts.c.id).with_for_update())
_UPDATE_JOURNEY = (update(transit_journeys)
                   .where(transit_journeys.c.started_day == bindparam("the_day"),
                          transit_journeys.c.account == bindparam("the_account"),
                          transit_journeys.c.started_ms == bindparam("the_start"),
                          transit_journeys.c.journey_key == bindparam("the_key"))
                   .values({name: bindparam("v_" + name) for name in _JOURNEY_VALUES}))
_ACCOUNTS_FOUND = select(func.count()).select_from(accounts).where(accounts.c.id.in_(bindparam("ids", expanding=True)))
_DELETE_DEBTS = delete(transit_debts).where(transit_debts.c.account.in_(_accounts_in))
_DELETE_DEBT_DENIALS = delete(transit_deny).where(transit_deny.c.account.in_(_accounts_in), transit_deny.c.cause == DENY_DEBT)


@contextmanager
def _sqlite_settings(store: Store, settings: dict[str, int]) -> Iterator[None]:
    """On SQLite, the store's connection (its one writer, ``Store.one_writer``) with these PRAGMA settings for
    the block, and as it was after it; on PostgreSQL, nothing."""
    if store.dialect != "sqlite":
        yield
        return
    with store.begin() as tx:
        conn = tx.connection
        before = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one() for name in settings}
        for name, value in settings.items():
            conn.exec_driver_sql(f"PRAGMA {name} = {int(value)}")
    try:
        yield
    finally:
        with store.begin() as tx:
            for name, value in before.items():
                tx.connection.exec_driver_sql(f"PRAGMA {name} = {int(value)}")


@contextmanager
def _cycles_collected_after() -> Iterator[None]:
    """Python's cycle collector off for the block, and on again after it (if it was on). A clearing makes
    millions of tuples, dicts and lists that hold no cycles (reference counting frees them as each batch
    ends), and the collector's passes over the ones alive cost a fifth of a clearing's CPU. Garbage in
    cycles made meanwhile, in any thread, waits for the first collection after."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def queue(conn: Connection, dialect: str, queued: dict[str, tuple[int, int]]) -> None:
    """Put accounts on the clearing queue: {account: (taps, the earliest at_ms of them)}, added to what is there."""
    if not queued:
        return
    statement = upsert(dialect)(transit_dirty)
    conn.execute(statement.on_conflict_do_update(index_elements=["account"], set_={
        "taps": transit_dirty.c.taps + statement.excluded.taps,
        "since_ms": case((statement.excluded.since_ms < transit_dirty.c.since_ms, statement.excluded.since_ms),
                         else_=transit_dirty.c.since_ms)}),
        [{"account": account, "taps": taps, "since_ms": since} for account, (taps, since) in sorted(queued.items())])


# --- the service -------------------------------------------------------------------------------------------------


class Clearing:
    """Clearing of one backend's taps, over its store, with the fares of ``fares_dir``."""

    def __init__(self, store: Store, fares_dir: Path | None = None) -> None:
        self.store = store
        self.fares_dir = Path(fares_dir) if fares_dir is not None else DEFAULT_FARES
        self._fares: tuple[ClearingFares, str] | None = None
        self._running = threading.Lock()

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
            self._fares = (ClearingFares(network, network_id, medium), network_id)
        return self._fares

    def clear(self) -> dict[str, Any]:
        """Clear every account with taps not yet priced, and collect what accounts owe (module docstring)."""
        with self._running:
            fares, network_id = self.network()
            started = self.store.clock.now()
            clock_start = datetime.now(UTC)
            with self.store.begin() as tx:
                conn = tx.connection
                todo = set(conn.execute(select(transit_dirty.c.account)).scalars())
                todo |= set(conn.execute(select(transit_debts.c.account)).scalars())
            ordered = sorted(todo)
            run = _Run(fares.network.currency.code, accounts=len(ordered))
            with _sqlite_settings(self.store, SQLITE_CLEARING), _cycles_collected_after():
                for start in range(0, len(ordered), CLEARING_BATCH):
                    with self.store.begin(bulk=True) as tx:  # references checked by _Batch (one query)
                        _Batch(self.store, tx, fares, network_id, run).clear(ordered[start:start + CLEARING_BATCH])
            finished = self.store.clock.now()
            with self.store.begin() as tx:
                tx.connection.execute(insert(transit_clearings), {
                    "started_at": started, "finished_at": finished, "accounts": run.accounts, "taps": run.taps,
                    "journeys": run.journeys, "currency": run.currency, "charged": run.charged, "refunded": run.refunded,
                    "indebted": len(run.indebted), "errors": len(run.errors)})
            return run.answer((datetime.now(UTC) - clock_start).total_seconds())


# --- one batch of clearing ------------------------------------------------------------------------------------


class _Batch:
    """One transaction of clearing: a batch of accounts read, priced, charged and written back in bulk."""

    def __init__(self, store: Store, tx: Tx, fares: ClearingFares, network_id: str, run: _Run) -> None:
        self.store = store
        self.tx = tx
        self.conn = tx.connection
        self.fares = fares
        self.network_id = network_id
        self.currency = fares.network.currency.code
        self.run = run
        self.at = store.clock.now()
        self.now_ms = ms(self.at)
        self.at_db = db_value(self.conn, entries.c.created_at, self.at)
        self.fare_postings: dict[tuple[str, str, bool], _FarePosting] = {}  # (wallet, merchant, refund): in the order made
        self.merchant_moved: dict[str, int] = defaultdict(int)  # merchant account -> what the batch's postings moved
        self.merchant_accounts: dict[str, str] = {}
        self.opening: dict[str, int] = {}  # the wallets' balances as the batch read them
        self.balances: dict[str, int] = {}  # and as its fares leave them
        self.changed_wallets: set[str] = set()
        self.requeue: dict[str, tuple[int, int]] = {}
        self.latest: dict[str, int] = {}  # account -> its latest journey's started_ms (none: no journey)
        self.stored_totals: dict[str, str | None] = {}  # account -> its cap totals as stored (``cap_totals_text``)
        self._posting_prefix = f"L{self.now_ms:012X}{secrets.randbelow(16 ** 4):04X}"
        self._postings_made = 0

    def _posting_id(self) -> str:
        """A posting id of the ledger's form ("L" and 24 hex digits), in order within a clearing batch and
        from one batch to the next (the time first), so the ledger's indexes grow at their ends."""
        self._postings_made += 1
        return f"{self._posting_prefix}{self._postings_made:08X}"

    def _checkpoints(self, chunk: list[str], dirty: dict[str, tuple[int, int]]) -> dict[str, int]:
        """Each account's checkpoint for this run: its own, or 0 (from its first tap) for an account new to
        clearing or with a tap older than its checkpoint; written back where that changed it. Its latest journey's
        start kept in ``self.latest`` (an account with no checkpoint has no journey), its cap totals as stored in
        ``self.stored_totals``."""
        known = {}
        for account, before, latest, cap_totals in self._rows(_CHECKPOINTS, {"accounts": chunk}):
            known[account] = before
            if latest is not None:
                self.latest[account] = latest
            if cap_totals is not None:
                self.stored_totals[account] = cap_totals
        starts, changed = {}, []
        for account in chunk:
            before = known.get(account)
            start = 0 if before is None or dirty.get(account, (0, NO_TAPS))[1] < before else before
            starts[account] = start
            if before != start:
                changed.append((account, start))
        if changed:
            execute_many(self.conn, "INSERT INTO transit_checkpoints (account, before_ms) VALUES (?, ?)"
                                    " ON CONFLICT (account) DO UPDATE SET before_ms = excluded.before_ms", changed)
        return starts

    def _rows(self, statement: Any, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows ``statement`` reads, as the driver's tuples (a SQLAlchemy row costs a microsecond more a row)."""
        result = self.conn.execute(statement, parameters)
        rows = result.cursor.fetchall()
        result.close()
        return rows

    def clear(self, chunk: list[str]) -> None:
        conn, run = self.conn, self.run
        riders = dict(self._rows(_RIDERS, {"accounts": chunk}))
        dirty = {account: (taps, since) for account, taps, since in self._rows(_TAKE_DIRTY, {"accounts": chunk})}
        run.taps += sum(taps for taps, _since in dirty.values())
        starts = self._checkpoints(chunk, dirty)
        taps: dict[str, list[_Tap]] = defaultdict(list)
        priced = [account for account in dirty if account in riders]
        totals: dict[str, dict[tuple[int, str, int], int]] = defaultdict(dict)
        if priced:
            for row in self._rows(_TAPS, {"accounts": priced}):  # a million taps make no SQLAlchemy rows
                tap = _new_tap(_Tap, row)
                taps[tap.account].append(tap)
            for account in priced:
                stored = self.stored_totals.get(account)
                if stored and starts[account]:  # from the first tap, the totals are counted again from nothing
                    totals[account] = {(rider, cap_id, period): spent for rider, cap_id, period, spent in json.loads(stored)}
        debts = {row.account: row for row in conn.execute(_DEBTS, {"accounts": chunk})}
        wallets = {row[0]: _new_wallet(_Wallet, row) for row in self._rows(_WALLETS, {"wallets": sorted(set(riders.values()))})}
        self.opening = {wallet_id: wallet.balance for wallet_id, wallet in wallets.items()}
        self.balances = dict(self.opening)
        known: dict[str, dict[str, _Journey]] = defaultdict(dict)
        self._read_from_checkpoints(starts, known)
        carried: dict[str, int] = {}  # a debtor's dues before its checkpoint that this run cannot collect
        if debts:
            payable = []
            for account, least, total in conn.execute(_OWED_SUMS, {"accounts": sorted(debts)}):
                # the most its wallet can hold in this run: its balance, and the refunds of its journeys priced again
                most = self.balances.get(riders.get(account, ""), 0) + sum(j.paid for j in known[account].values())
                if int(least) <= most:
                    payable.append(account)
                else:
                    carried[account] = int(total)  # none of them can be paid: unchanged, not read one by one
            if payable:
                self._read_journeys(_OWED_JOURNEYS, payable, known)

        inserts: list[_Journey] = []
        updates: list[_Journey] = []
        checkpoints: dict[str, int] = {}
        new_totals: dict[str, dict[tuple[int, str, int], int]] = {}
        owed: dict[str, tuple[str, int]] = {}
        for account in chunk:
            wallet_id = riders.get(account)
            if wallet_id is None:
                if account in dirty:
                    run.errors.append({"account": account, "error": "no wallet has this ride account: its taps are not charged"})
                continue
            wallet = wallets[wallet_id]
            start = starts[account]
            before = known.get(account, {})
            journeys = {key: journey.copy() for key, journey in before.items()}
            if account in dirty:
                try:
                    done = self._price(account, wallet_id, taps.get(account, []), start, totals[account])
                except FareError as exc:  # e.g. a station the network does not know: kept for a clearing with other fares
                    run.errors.append({"account": account, "error": f"not priced: {exc}"})
                    self.requeue[account] = (dirty[account][0], start)
                else:
                    run.replays += done.replays
                    if done.waiting:
                        self.requeue[account] = (0, NO_TAPS)
                    if done.before_ms != start:
                        checkpoints[account] = done.before_ms
                    new_totals[account] = done.totals
                    for key, old in before.items():
                        if old.started_ms >= start and key not in done.journeys:
                            # taps uploaded late joined it to another journey: it costs nothing now
                            summary = old.summary if old.summary.endswith(JOINED) else old.summary + JOINED
                            journeys[key] = replace(old, amount=0, fare=0, penalty=0, capped_by=None, summary=summary)
                    for key, journey in done.journeys.items():
                        old = before.get(key)
                        if old is not None:
                            journey.paid, journey.posting_id = old.paid, old.posting_id
                        journeys[key] = journey
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
            due = carried.get(account, 0) + sum(j.amount - j.paid for j in journeys.values()
                                                if j.error is None and j.amount > j.paid)
            if due:
                owed[account] = (wallet_id, due)
                run.indebted.append(account)
            elif account in debts:
                run.settled.append(account)
        self._write(chunk, inserts, updates, owed, debts)
        self._write_checkpoints(starts, checkpoints, inserts, new_totals)

    def _read_from_checkpoints(self, starts: dict[str, int], known: dict[str, dict[str, _Journey]]) -> None:
        """Each account's journeys from its checkpoint on (``starts``), of the accounts that have any (their latest
        journey at or after it: most have none), read day by day (the key is the day's first): the days from the
        checkpoint's to the last journey's, in one query for the accounts whose checkpoints fall on the same day
        (most of them: the night before), a query a day. A journey's day is its local one, which is at most a day
        before its day in UTC."""
        latest = self.latest
        starts = {account: start for account, start in starts.items() if latest.get(account, -1) >= start}
        if not starts:
            return
        first, last = self.conn.execute(_JOURNEY_DAYS).one()
        if last is None:
            return
        from_day: dict[int, list[str]] = defaultdict(list)
        for account, start in starts.items():
            from_day[max(start // DAY_MS - 1, first)].append(account)
        for day, accounts in sorted(from_day.items()):
            if day > last:
                continue
            for each in range(day, last + 1):
                for row in self._rows(_JOURNEYS, {"day": each, "accounts": accounts}):
                    journey = _Journey(*row)
                    known[journey.account][journey.journey_key] = journey

    def _read_journeys(self, statement: Any, accounts: list[str], known: dict[str, dict[str, _Journey]]) -> None:
        """The journeys ``statement`` reads of ``accounts``, by account and key (the driver's rows, as the taps')."""
        for row in self._rows(statement, {"accounts": accounts}):
            journey = _Journey(*row)
            known[journey.account][journey.journey_key] = journey

    def _price(self, account: str, wallet_id: str, taps: list[_Tap], start: int,
               totals: dict[tuple[int, str, int], int]) -> _Priced:
        """The account's taps from ``start`` as journeys, priced on the cap ``totals`` of the journeys before;
        the new checkpoint, and the totals there (module docstring)."""
        fares = self.fares
        rides: list[Ride] = []
        taps_of: dict[int, tuple[_Tap, _Tap | None]] = {}  # id(ride) -> its tap-in and tap-out
        exits: list[_Tap] = []  # tap-outs with no tap-in
        used: dict[str, dict[str, int]] = {"in": {}, "out": {}}  # direction -> code -> when it was last used
        replays = 0

        def add_ride(entry: _Tap, exit_: _Tap | None) -> None:
            begin = entry.at_ms + entry.utc_offset_s * 1000
            made = (Ride(entry.station_id, begin) if exit_ is None else
                    Ride(entry.station_id, begin, exit_.station_id, max(exit_.at_ms + exit_.utc_offset_s * 1000, begin)))
            rides.append(made)
            taps_of[id(made)] = (entry, exit_)

        entry: _Tap | None = None
        for tap in taps:
            at_ms, direction = tap.at_ms, tap.direction
            codes = used[direction]
            last = codes.get(tap.code)
            codes[tap.code] = at_ms
            if at_ms < start:
                continue  # before the checkpoint: only its code counts
            if last is not None and at_ms - last <= _REPLAY_MS:
                replays += 1  # a code shown again: evidence, not a journey
                continue
            if direction == "in":
                if entry is not None:
                    add_ride(entry, None)
                entry = tap
            elif entry is None:
                exits.append(tap)
            elif at_ms - entry.at_ms <= _LIMIT_MS:
                add_ride(entry, tap)
                entry = None
            else:
                add_ride(entry, None)
                exits.append(tap)
                entry = None
        waiting = entry is not None and self.now_ms - entry.at_ms <= _LIMIT_MS
        if entry is not None and not waiting:
            add_ride(entry, None)

        # what each journey is, and how late a tap could still change it (its reach)
        window = fares.transfer_window_ms
        # each journey's first ms, reach, key, rides, first tap and riders
        found: list[tuple[int, float, str, tuple[Ride, ...] | None, _Tap, int]] = []
        for journey in fares.journeys(rides):
            reach: float = 0
            for each in journey:
                entry_tap, exit_tap = taps_of[id(each)]
                if exit_tap is None:
                    reach = max(reach, entry_tap.at_ms + max(window, _LIMIT_MS))
                else:
                    reach = max(reach, exit_tap.at_ms + window)
            first = taps_of[id(journey[0])][0]
            found.append((first.at_ms, reach, first.tap_id, journey, first, 1 + first.companions))
        for tap in exits:
            found.append((tap.at_ms, tap.at_ms, tap.tap_id, None, tap, 1 + tap.companions))
        found.sort(key=lambda item: (item[0], item[2]))

        # the final journeys: the longest run of the first ones no tap from a time past can change; the checkpoint
        # after them, a replay window after the last of their reach where no tap comes sooner (nor the clock), so
        # that the next clearing's replay window before the checkpoint holds none of their taps to read again
        bound = min(self.now_ms, entry.at_ms) if waiting and entry is not None else self.now_ms
        final, before_ms, highest = 0, start, -_NEVER
        for index, item in enumerate(found):
            highest = max(highest, item[1])
            following = found[index + 1][0] if index + 1 < len(found) else _NEVER
            if highest < min(bound, following):
                final, before_ms = index + 1, int(min(highest + 1 + _REPLAY_MS, bound, following))

        # capped rider by rider: the final journeys first (their totals are kept), then the rest
        riders = max((item[5] for item in found), default=1)
        charges: dict[str, list[MinorCharge]] = defaultdict(list)  # journey key -> its riders' charges, rider by rider
        kept = {key: value for key, value in totals.items() if key[0] >= riders}
        for rider in range(riders):
            spent = {(cap_id, period): value for (who, cap_id, period), value in totals.items() if who == rider}
            for part, keep in ((found[:final], True), (found[final:], False)):
                mine = [item for item in part if item[3] is not None and item[5] > rider]
                for item, charge in zip(mine, fares.charges([item[3] for item in mine], spent)):  # type: ignore[misc]
                    charges[item[2]].append(charge)
                if keep:
                    kept |= {(rider, cap_id, period): value for (cap_id, period), value in spent.items()}
        if final:  # the totals of periods the journeys from the checkpoint on cannot be in are dropped
            last_tap = found[final - 1][4]
            cutoff = (before_ms + last_tap.utc_offset_s * 1000) // 1000 - DAY  # a day before, in local seconds
            open_from = {}
            for cap in fares.caps:
                day = (cutoff - cap.day_boundary) // DAY
                open_from[cap.cap_id] = day - (day + 3) % 7 if cap.period is CapPeriod.WEEK else day
            kept = {key: value for key, value in kept.items() if key[2] >= open_from.get(key[1], key[2])}
        else:
            kept = dict(totals)  # nothing final yet: the totals stay as they were

        priced: dict[str, _Journey] = {}
        for _first_ms, _reach, key, journey, first, count in found:
            if journey is None:  # an exit with no tap-in: the max fare for each rider, never capped
                local_ms = first.at_ms + first.utc_offset_s * 1000
                known = fares.fare((Ride(first.station_id, local_ms),))
                fare = (known.amount + known.penalty) * count
                priced[key] = self._journey(account, key, wallet_id, first, 1, count, fare, fare, fare, None,
                                            _summary_no_entry(first.station_id, local_ms, count))
                continue
            mine = charges[key]
            holder = mine[0]
            cap = holder.capped_by if count == 1 else next((one.capped_by for one in mine if one.capped_by is not None), None)
            priced[key] = self._journey(account, key, wallet_id, first, len(journey), count, holder.fare * count,
                                        holder.charged if count == 1 else sum(charge.charged for charge in mine),
                                        holder.penalty * count, None if cap is None else cap.cap_id,
                                        _summary(journey, count, holder.penalty > 0))
        return _Priced(priced, before_ms, kept, replays, waiting)

    def _journey(self, account: str, key: str, wallet_id: str, first: _Tap, legs: int, riders: int, fare: int,
                 amount: int, penalty: int, capped_by: str | None, summary: str) -> _Journey:
        return _Journey(account, key, wallet_id, first.client_id, first.at_ms,
                        (first.at_ms + first.utc_offset_s * 1000) // DAY_MS, legs, riders, self.currency, fare, amount,
                        0, penalty, capped_by, summary, None, None)

    def _merchant(self, client_id: str) -> str:
        account = self.merchant_accounts.get(client_id)
        if account is None:
            account = self.merchant_accounts[client_id] = self.tx.merchant_account(client_id, self.currency)
        return account

    def _collect(self, account: str, wallet_id: str, journeys: Iterable[_Journey]) -> None:
        """Pay each journey's ``amount - paid`` (refunds first, then the oldest first) as far as the wallet can, in
        the batch's fare posting of the wallet to the journey's operator (its charges, or its refunds)."""
        due = [journey for journey in journeys if journey.amount != journey.paid]
        due.sort(key=lambda journey: (journey.amount > journey.paid, journey.started_ms, journey.journey_key))
        for journey in due:
            delta = journey.amount - journey.paid
            balance = self.balances[wallet_id]
            if delta > balance:
                continue  # owed: a debt, collected by a later clearing
            self.balances[wallet_id] = balance - delta
            self.changed_wallets.add(wallet_id)
            if delta > 0:
                self.run.charged += delta
            else:
                self.run.refunded -= delta
            merchant = self._merchant(journey.client_id)
            group = (wallet_id, merchant, delta < 0)
            posting = self.fare_postings.get(group)
            if posting is None:
                posting = self.fare_postings[group] = _FarePosting(self._posting_id(), wallet_id, merchant, delta < 0)
            posting.total += delta
            posting.journeys.append(journey)
            journey.paid = journey.amount
            journey.posting_id = posting.id
            self.merchant_moved[merchant] += delta

    def _ledger_rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The batch's fare postings and their entries, as ``Tx.post`` writes them (``POSTING_COLUMNS``,
        ``ENTRY_COLUMNS``): a wallet's balance after each of its postings in the order they were made (its
        refunds before its charges), a merchant's None (a pooled account's, moved once by the batch)."""
        rows, legs = [], []
        balances: dict[str, int] = {}
        for posting in self.fare_postings.values():
            wallet_id, merchant, total = posting.wallet_id, posting.merchant, posting.total
            balance = balances[wallet_id] = balances.get(wallet_id, self.opening[wallet_id]) - total
            rows.append((posting.id, FARE_REFUND if posting.refund else FARE, posting.journeys[0].account,
                         posting.memo(), self.at_db))
            paid = (posting.id, wallet_id, -total, self.currency, balance, self.at_db)
            owner = (posting.id, merchant, total, self.currency, None, self.at_db)
            legs += (paid, owner) if wallet_id < merchant else (owner, paid)  # one order for every posting
        return rows, legs

    def _write(self, chunk: list[str], inserts: list[_Journey], updates: list[_Journey],
               owed: dict[str, tuple[str, int]], debts: dict[str, Any]) -> None:
        conn, dialect = self.conn, self.store.dialect
        for merchant, moved in sorted(self.merchant_moved.items()):  # no hot row: into a shard on PostgreSQL
            self.tx.move_pooled(merchant, moved)
        if self.changed_wallets:
            execute_many(conn, "UPDATE accounts SET balance = ? WHERE id = ?",
                         [(self.balances[wallet_id], wallet_id) for wallet_id in sorted(self.changed_wallets)])
        self._check_references(inserts, updates, owed)
        if self.fare_postings:
            rows, legs = self._ledger_rows()
            insert_many(conn, postings, POSTING_COLUMNS, rows)
            insert_many(conn, entries, ENTRY_COLUMNS, legs)
        if inserts:
            insert_many(conn, transit_journeys, JOURNEY_COLUMNS,
                         [(*journey.row(), self.at_db) for journey in inserts])
        if updates:
            conn.execute(_UPDATE_JOURNEY, [
                {"v_" + name: self.at if name == "updated_at" else getattr(journey, name) for name in _JOURNEY_VALUES}
                | {"the_day": journey.started_day, "the_account": journey.account, "the_start": journey.started_ms,
                   "the_key": journey.journey_key}
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
        queue(conn, dialect, self.requeue)

    def _check_references(self, inserts: list[_Journey], updates: list[_Journey], owed: dict[str, tuple[str, int]]) -> None:
        """What the batch writes references only accounts that are in the ledger (clearing writes with SQLite's
        foreign key checks off, ``Store.begin(bulk=True)``: a lookup a row was 20% of an entry's insert).
        Every account it references is a wallet it read (``self.balances``: entries, journeys, debts) or a merchant
        account it looked up (entries), each looked for again here in one query; every entry's posting is one
        of the batch's own, inserted with it."""
        wallets = self.balances
        if not all(journey.wallet_id in wallets for journey in (*inserts, *updates) if journey.wallet_id is not None) \
                or not all(wallet_id in wallets for wallet_id, _due in owed.values()):
            raise LedgerError("clearing: a journey or debt references a wallet the batch did not read")
        referenced = sorted({*wallets, *self.merchant_accounts.values()})
        if self.conn.execute(_ACCOUNTS_FOUND, {"ids": referenced}).scalar_one() != len(referenced):
            raise LedgerError("clearing: an account the batch writes to is not in the ledger")

    def _write_checkpoints(self, starts: dict[str, int], checkpoints: dict[str, int], inserts: list[_Journey],
                           totals: dict[str, dict[tuple[int, str, int], int]]) -> None:
        """The accounts' new checkpoints (``checkpoints``; the others stay at ``starts``), latest journeys (of the
        journeys ``inserts``) and cap totals (``totals``, of the final journeys before the checkpoint), in one
        update of the row of each account where any of them changed."""
        latest, stored = self.latest, self.stored_totals
        changed = set(checkpoints)
        for journey in inserts:
            account, started_ms = journey.account, journey.started_ms
            if started_ms > latest.get(account, -1):
                latest[account] = started_ms
                changed.add(account)
        for account, kept in totals.items():
            text = cap_totals_text(kept)
            if text != stored.get(account):
                stored[account] = text
                changed.add(account)
        execute_many(self.conn, "UPDATE transit_checkpoints SET before_ms = ?, latest_journey_ms = ?, cap_totals = ?"
                                " WHERE account = ?",
                     [(checkpoints.get(account, starts[account]), latest.get(account), stored.get(account), account)
                      for account in sorted(changed)])



def _summary(journey: Sequence[Ride], riders: int, max_fare: bool) -> str:
    """The journey in a line, in local times: "2025-03-03 M01 08:00 -> M12 08:40", and why it costs the
    maximum fare when it does."""
    first = journey[0]
    if len(journey) == 1 and first.end_ms is not None:  # most journeys: one ride, tapped out
        line = (f"{day_text(first.start_ms // 86_400_000)} {first.from_stop} {_CLOCK[first.start_ms // 60_000 % 1440]}"
                f" -> {first.to_stop} {_CLOCK[first.end_ms // 60_000 % 1440]}")
    else:
        line = f"{day_text(first.start_ms // 86_400_000)} " + "; ".join(
            f"{ride.from_stop} {_CLOCK[ride.start_ms // 60_000 % 1440]} -> "
            + (wording.NO_TAP_OUT if ride.end_ms is None else f"{ride.to_stop} {_CLOCK[ride.end_ms // 60_000 % 1440]}")
            for ride in journey)
    return line + _riders(riders) + (NO_TAP_OUT if max_fare else "")


def _summary_no_entry(station_id: str, local_ms: int, riders: int) -> str:
    """An exit with no tap-in in a line: "2025-03-03 no tap-in -> M12 08:40 (maximum fare: no tap-in)"."""
    return (f"{day_text(local_ms // 86_400_000)} {wording.NO_TAP_IN} -> {station_id} {_CLOCK[local_ms // 60_000 % 1440]}"
            + _riders(riders) + NO_TAP_IN)


def _riders(riders: int) -> str:
    """" (3 riders)" after a journey for more than one, else nothing."""
    return f" ({wording.RIDERS.format(riders=riders)})" if riders > 1 else ""


_CLOCK = [f"{minute // 60:02d}:{minute % 60:02d}" for minute in range(1440)]
""""HH:MM" of each minute of the day."""
