"""Clearing (docs/transit-api.md): the taps gates uploaded -> journeys -> capped fares -> charges on the
wallets, through the ledger; run by ``POST /sim/transit/clear`` (transit.py) as ``Clearing.clear``.

Incremental. A run prices only the accounts with new taps (``transit_dirty``), and of each only the taps
from its checkpoint on (``transit_checkpoints.before_ms``): every tap before it is in a *final* journey,
one no tap from the checkpoint on can change, and the caps of the account's riders have counted those
journeys in running totals kept per cap period still open (``transit_cap_totals``). A journey is final
when no tap at or after a time already past can touch it: its tap-out (or its tap-in's time limit) and
the network's longest transfer window are behind the clearing's clock, and behind the next journey's
first tap. A tap uploaded late, older than the account's checkpoint, sends the account back to its first
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
- legs -> journeys (``Fares.journeys``) -> charges with capping (``ClearingFares.price``). A code's
  companions ride as riders of their own: rider 0 is the holder, rider k its k-th companion, each with
  its own cap totals, so a journey for three costs the three riders' charges, each capped;
- a journey is keyed by its first tap's id, and holds ``amount`` (what it costs now) and ``paid`` (what
  the wallet has paid of it), so clearing again charges only differences: nothing, unless late taps
  changed a price (then the difference, either way).

Then collect: each journey's ``amount - paid``, oldest first, as a posting of its own from the wallet to
the operator's merchant account (refunds first); a wallet that cannot pay a journey keeps it owed: a debt,
and the account on the deny list (cause "debt") until a later clearing collects it; a wallet in another
currency than the network's is an error on its journeys, not charged.

In batches of ``CLEARING_BATCH`` accounts, one transaction a batch and a fixed number of statements a
batch (bulk reads and writes, no statement per tap or per journey): the batch's accounts taken off the
queue (DELETE ... RETURNING; an upload meanwhile puts them back), their rider rows and wallets locked,
their taps from the checkpoint, their journeys from the checkpoint and those still owed, their cap totals
and debts read; then written back in bulk: each wallet's new balance (never below zero), the operator's
account moved once by the batch's total (into a balance shard where writers run at once, as ``Tx.post``
moves it), the ledger's postings and entries as ``Tx.post`` writes them (a
posting a journey, its two legs with their balances after) in a few bulk inserts, the journeys,
checkpoints, cap totals, debts and deny list.

Measured by scripts/bench_transit_clearing.py (docs/benchmarks.md).
"""

from __future__ import annotations

import secrets
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, case, delete, insert, select, update
from sqlalchemy.engine import Connection

from pos_sim.assets import METRO
from pos_sim.backend.protocol import Refused, amount_json
from pos_sim.backend.store.database import Store, Tx
from pos_sim.backend.store.tables import accounts, entries, postings
from pos_sim.backend.store.transit import (
    db_value,
    insert_many,
    transit_cap_totals,
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
from pos_sim.domain.codes import ride
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

TAP_OUT_LIMIT = timedelta(hours=3)
"""The network's journey time limit: the longest a tap-in waits for its tap-out; later, the leg had none."""
REPLAY_WINDOW = timedelta(seconds=ride.MAX_VALID_S + 2 * ride.MAX_SKEW_S)
"""Two uses of one ride code in one direction this close are one code shown twice (a code is good for one
tap, and gates take it at most its validity and twice the largest clock skew apart): the later is a replay."""
CLEARING_BATCH = 1000
"""Accounts cleared in one transaction."""
MAX_LISTED = 100
"""The most accounts a clearing's answer lists by name under indebted, settled and errors."""
FARE_MEDIUM = "wallet_qr"
DEFAULT_FARES = METRO
NO_TAPS = 2**62
"""``transit_dirty.since_ms`` of an account queued again with no new tap (it waits for a tap-out)."""

JOINED = " (joined to another journey)"
NO_TAP_OUT = f" (maximum fare: no tap-out within {TAP_OUT_LIMIT.seconds // 3600} h)"
NO_TAP_IN = " (maximum fare: no tap-in)"
DENY_DEBT = "debt"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_LIMIT_MS = int(TAP_OUT_LIMIT.total_seconds() * 1000)
_REPLAY_MS = int(REPLAY_WINDOW.total_seconds() * 1000)
_NEVER = float("inf")


def ms(moment: datetime) -> int:
    """Unix milliseconds of an aware time."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def utc(milliseconds: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=milliseconds)


# --- fares, priced fast enough for clearing -------------------------------------------------------


class MinorCharge(NamedTuple):
    """A journey's ``Charge`` for one rider as clearing keeps it: minor units of the network's currency."""

    fare: int
    charged: int
    penalty: int
    capped_by: Cap | None


class ClearingFares(Fares):
    """``Fares`` with shortcuts that change no price, for pricing a million taps.

    ``journey_fare`` is remembered by what a price depends on: each leg's network and stops, the
    timeframe groups its tap-in and tap-out times fall in, and (for several legs, where transfer
    limits count) the times between them. ``journeys`` works on stretches of legs that no transfer
    rule can join across (a gap longer than every rule's duration limit; every leg alone on a
    network without transfer rules) instead of the rider's whole history at once. ``price`` is
    ``Fares.price`` step for step, counting in minor units rather than ``Money`` (a third of a
    clearing's time went to Money arithmetic); tests/unit/test_transit_fares.py holds the two equal.
    ``charges`` is ``price`` for clearing: minor units only, no ``Charge``, ``Money`` or legs' fares made per
    journey. Both take the running totals of a rider's caps (``spent``: minor units by cap id and period)
    and add to them, so that journeys priced in runs are capped as if priced at once.
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

    @property
    def transfer_window_ms(self) -> float:
        """The longest a leg may start after the one before and join its journey (0: no transfers; inf: no limit)."""
        return 0 if self._gap_s is None else self._gap_s * 1000

    def _capped(self, journeys: list[Journey], spent: dict[tuple[str, date], int]) -> list[tuple[JourneyFare, int, Cap | None]]:
        """Each journey's remembered fare, what it is charged before penalties (minor units) and the cap that
        limited that, in the order given, worked out in time order on the running totals ``spent``."""
        if len({journey.start.tzinfo is None for journey in journeys}) > 1:
            raise FareError("a rider's journeys are all local times, or all zoned")
        capped: dict[int, tuple[JourneyFare, int, Cap | None]] = {}
        for index in sorted(range(len(journeys)), key=lambda i: journeys[i].start):
            journey = journeys[index]
            known, caps = self._remembered(journey)
            charged, capped_by = known.amount.minor, None
            if caps:
                periods = [(cap.cap_id, cap_period(cap, journey.start)) for cap in caps]
                for cap, period in zip(caps, periods):
                    left = max(cap.amount.minor - spent.get(period, 0), 0)
                    if left < charged:
                        charged, capped_by = left, cap
                for period in periods:
                    spent[period] = spent.get(period, 0) + charged
            capped[index] = (known, charged, capped_by)
        return [capped[index] for index in range(len(journeys))]

    def charges(self, journeys: list[Journey], spent: dict[tuple[str, date], int]) -> list[MinorCharge]:
        """``price`` in minor units, without a ``Charge``, ``Money`` or legs' fares: what clearing keeps of a charge."""
        return [MinorCharge(known.amount.minor + known.penalty.minor, charged + known.penalty.minor, known.penalty.minor,
                            capped_by) for known, charged, capped_by in self._capped(journeys, spent)]

    def price(self, journeys: Iterable[Journey | Sequence[Leg]],
              spent: dict[tuple[str, date], int] | None = None) -> list[Charge]:
        journeys = [journey if isinstance(journey, Journey) else Journey(journey) for journey in journeys]
        return [Charge(journey, self._money(known.amount.minor + known.penalty.minor),
                       self._money(charged + known.penalty.minor), capped_by, known.penalty, self._of(known, journey.legs))
                for journey, (known, charged, capped_by) in zip(journeys, self._capped(journeys, {} if spent is None else spent))]

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




# --- what clearing reads and writes ------------------------------------------------------------------


class _Tap(NamedTuple):
    """A tap as clearing reads it."""

    tap_id: str
    direction: str
    station_id: str
    at_ms: int
    utc_offset_s: int
    companions: int
    client_id: str
    code: str

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
    started_ms: int  # Unix milliseconds of its first tap
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
    totals: dict[tuple[int, str, date], int]
    replays: int = 0
    waiting: bool = False


# statements built once (see store.py's docstring: building a construct costs more than running it)

POSTING_COLUMNS = ("id", "kind", "ref", "memo", "created_at")
ENTRY_COLUMNS = ("posting_id", "account_id", "amount", "currency", "balance_after", "created_at")
JOURNEY_COLUMNS = (*_Journey.__dataclass_fields__, "updated_at")
TOTAL_COLUMNS = ("account", "rider", "cap_id", "period", "spent")

_accounts_in = bindparam("accounts", expanding=True)
_JOURNEY_VALUES = ("wallet_id", "client_id", "started_ms", "legs", "riders", "currency", "fare", "amount", "paid", "penalty",
                   "capped_by", "summary", "error", "updated_at")
_RIDERS = (select(transit_riders.c.account, transit_riders.c.wallet_id)
           .where(transit_riders.c.account.in_(_accounts_in)).order_by(transit_riders.c.account).with_for_update())
_TAKE_DIRTY = delete(transit_dirty).where(transit_dirty.c.account.in_(_accounts_in)).returning(
    transit_dirty.c.account, transit_dirty.c.taps, transit_dirty.c.since_ms)
_CHECKPOINTS = select(transit_checkpoints.c.account, transit_checkpoints.c.before_ms).where(
    transit_checkpoints.c.account.in_(_accounts_in))
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
             .where(transit_checkpoints.c.account.in_(_accounts_in)))
_OWED_JOURNEYS = (select(*_JOURNEY_FIELDS)
                  .select_from(transit_debts.join(transit_journeys, transit_journeys.c.account == transit_debts.c.account))
                  .where(transit_debts.c.account.in_(_accounts_in), transit_journeys.c.amount > transit_journeys.c.paid))
_TOTALS = select(transit_cap_totals.c.account, transit_cap_totals.c.rider, transit_cap_totals.c.cap_id,
                 transit_cap_totals.c.period, transit_cap_totals.c.spent).where(transit_cap_totals.c.account.in_(_accounts_in))
_DELETE_TOTALS = delete(transit_cap_totals).where(transit_cap_totals.c.account.in_(_accounts_in))
_DEBTS = select(transit_debts.c.account, transit_debts.c.owed, transit_debts.c.since).where(
    transit_debts.c.account.in_(_accounts_in))
_WALLETS = (select(accounts.c.id, accounts.c.kind, accounts.c.currency, accounts.c.balance)
            .where(accounts.c.id.in_(bindparam("wallets", expanding=True))).order_by(accounts.c.id).with_for_update())
_SET_BALANCE = update(accounts).where(accounts.c.id == bindparam("wallet")).values(balance=bindparam("new_balance"))
_UPDATE_JOURNEY = (update(transit_journeys)
                   .where(transit_journeys.c.account == bindparam("the_account"),
                          transit_journeys.c.journey_key == bindparam("the_key"))
                   .values({name: bindparam("v_" + name) for name in _JOURNEY_VALUES}))
_SET_CHECKPOINT = (update(transit_checkpoints).where(transit_checkpoints.c.account == bindparam("the_account"))
                   .values(before_ms=bindparam("the_before_ms")))
_DELETE_DEBTS = delete(transit_debts).where(transit_debts.c.account.in_(_accounts_in))
_DELETE_DEBT_DENIALS = delete(transit_deny).where(transit_deny.c.account.in_(_accounts_in), transit_deny.c.cause == DENY_DEBT)


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
            self._fares = (ClearingFares(network, medium), network_id)
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
            for start in range(0, len(ordered), CLEARING_BATCH):
                with self.store.begin() as tx:
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
        self.postings: list[tuple[Any, ...]] = []  # POSTING_COLUMNS
        self.entries: list[list[Any]] = []  # ENTRY_COLUMNS; a merchant's balance_after is None, as Tx.post writes it
        self.merchant_entries: dict[str, list[list[Any]]] = defaultdict(list)
        self.merchant_accounts: dict[str, str] = {}
        self.balances: dict[str, int] = {}
        self.changed_wallets: set[str] = set()
        self.requeue: dict[str, tuple[int, int]] = {}
        self._posting_prefix = f"L{self.now_ms:012X}{secrets.randbelow(16 ** 4):04X}"
        self._postings_made = 0

    def _posting_id(self) -> str:
        """A posting id of the ledger's form ("L" and 24 hex digits), in order within a clearing batch and
        from one batch to the next (the time first), so the ledger's indexes grow at their ends."""
        self._postings_made += 1
        return f"{self._posting_prefix}{self._postings_made:08X}"

    def _checkpoints(self, chunk: list[str], dirty: dict[str, tuple[int, int]]) -> dict[str, int]:
        """Each account's checkpoint for this run: its own, or 0 (from its first tap) for an account new to
        clearing or with a tap older than its checkpoint; written back where that changed it."""
        known = dict(self.conn.execute(_CHECKPOINTS, {"accounts": chunk}).all())
        starts, changed = {}, []
        for account in chunk:
            before = known.get(account)
            start = 0 if before is None or dirty.get(account, (0, NO_TAPS))[1] < before else before
            starts[account] = start
            if before != start:
                changed.append({"account": account, "before_ms": start})
        if changed:
            statement = upsert(self.store.dialect)(transit_checkpoints)
            self.conn.execute(statement.on_conflict_do_update(index_elements=["account"],
                                                              set_={"before_ms": statement.excluded.before_ms}), changed)
        return starts

    def clear(self, chunk: list[str]) -> None:
        conn, run = self.conn, self.run
        riders = dict(conn.execute(_RIDERS, {"accounts": chunk}).all())
        dirty = {account: (taps, since) for account, taps, since in conn.execute(_TAKE_DIRTY, {"accounts": chunk})}
        run.taps += sum(taps for taps, _since in dirty.values())
        starts = self._checkpoints(chunk, dirty)
        taps: dict[str, list[_Tap]] = defaultdict(list)
        priced = [account for account in dirty if account in riders]
        totals: dict[str, dict[tuple[int, str, date], int]] = defaultdict(dict)
        if priced:
            for row in conn.execute(_TAPS, {"accounts": priced}).all():
                taps[row[0]].append(_Tap._make(row[1:]))
            for account, rider, cap_id, period, spent in conn.execute(_TOTALS, {"accounts": priced}):
                if starts[account]:  # from the first tap, the totals are counted again from nothing
                    totals[account][(rider, cap_id, date.fromisoformat(period))] = spent
        known: dict[str, dict[str, _Journey]] = defaultdict(dict)
        for statement in (_JOURNEYS, _OWED_JOURNEYS):
            for row in conn.execute(statement, {"accounts": chunk}):
                known[row.account][row.journey_key] = _Journey(*row)
        debts = {row.account: row for row in conn.execute(_DEBTS, {"accounts": chunk})}
        wallets = {row.id: row for row in conn.execute(_WALLETS, {"wallets": sorted(set(riders.values()))})}
        self.balances = {wallet_id: row.balance for wallet_id, row in wallets.items()}

        inserts: list[_Journey] = []
        updates: list[_Journey] = []
        checkpoints: dict[str, int] = {}
        new_totals: dict[str, dict[tuple[int, str, date], int]] = {}
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
            journeys = {key: replace(journey) for key, journey in before.items()}
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
                        journeys[key] = journey if old is None else replace(journey, paid=old.paid)
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
        self._write_checkpoints(checkpoints, new_totals)

    def _price(self, account: str, wallet_id: str, taps: list[_Tap], start: int,
               totals: dict[tuple[int, str, date], int]) -> _Priced:
        """The account's taps from ``start`` as journeys, priced on the cap ``totals`` of the journeys before;
        the new checkpoint, and the totals there (module docstring)."""
        legs: list[Leg] = []
        taps_of: dict[int, tuple[_Tap, _Tap | None]] = {}  # id(leg) -> its tap-in and tap-out
        exits: list[_Tap] = []  # tap-outs with no tap-in
        used: dict[tuple[str, str], int] = {}  # (code, direction) -> when it was last used
        replays = 0

        def leg(entry: _Tap, exit_: _Tap | None) -> None:
            begin = entry.local()
            made = Leg(self.network_id, entry.station_id, begin, None if exit_ is None else exit_.station_id,
                       None if exit_ is None else max(exit_.local(), begin))
            legs.append(made)
            taps_of[id(made)] = (entry, exit_)

        entry: _Tap | None = None
        for tap in taps:
            last = used.get((tap.code, tap.direction))
            used[(tap.code, tap.direction)] = tap.at_ms
            if tap.at_ms < start:
                continue  # before the checkpoint: only its code counts
            if last is not None and tap.at_ms - last <= _REPLAY_MS:
                replays += 1  # a code shown again: evidence, not a journey
                continue
            if tap.direction == "in":
                if entry is not None:
                    leg(entry, None)
                entry = tap
            elif entry is None:
                exits.append(tap)
            elif tap.at_ms - entry.at_ms <= _LIMIT_MS:
                leg(entry, tap)
                entry = None
            else:
                leg(entry, None)
                exits.append(tap)
                entry = None
        waiting = entry is not None and self.now_ms - entry.at_ms <= _LIMIT_MS
        if entry is not None and not waiting:
            leg(entry, None)

        # what each journey is, and how late a tap could still change it (its reach)
        window = self.fares.transfer_window_ms
        found: list[tuple[int, float, str, Journey | None, _Tap, int]] = []  # first ms, reach, key, journey, first tap, riders
        for journey in self.fares.journeys(legs):
            reach: float = 0
            for each in journey.legs:
                entry_tap, exit_tap = taps_of[id(each)]
                last_ms = (exit_tap or entry_tap).at_ms
                reach = max(reach, last_ms + window, last_ms if exit_tap else entry_tap.at_ms + _LIMIT_MS)
            first = taps_of[id(journey.legs[0])][0]
            found.append((first.at_ms, reach, first.tap_id, journey, first, 1 + first.companions))
        for tap in exits:
            found.append((tap.at_ms, tap.at_ms, tap.tap_id, None, tap, 1 + tap.companions))
        found.sort(key=lambda item: (item[0], item[2]))

        # the final journeys: the longest run of the first ones no tap from a time past can change
        bound = min(self.now_ms, entry.at_ms) if waiting and entry is not None else self.now_ms
        final, before_ms, highest = 0, start, -_NEVER
        for index, item in enumerate(found):
            highest = max(highest, item[1])
            following = found[index + 1][0] if index + 1 < len(found) else _NEVER
            if highest < min(bound, following):
                final, before_ms = index + 1, int(highest) + 1

        # capped rider by rider: the final journeys first (their totals are kept), then the rest
        riders = max((item[5] for item in found), default=1)
        charges: dict[tuple[int, str], MinorCharge] = {}
        kept = {key: value for key, value in totals.items() if key[0] >= riders}
        for rider in range(riders):
            spent = {(cap_id, period): value for (who, cap_id, period), value in totals.items() if who == rider}
            for part, keep in ((found[:final], True), (found[final:], False)):
                mine = [item for item in part if item[3] is not None and item[5] > rider]
                for item, charge in zip(mine, self.fares.charges([item[3] for item in mine], spent)):
                    charges[(rider, item[2])] = charge
                if keep:
                    kept |= {(rider, cap_id, period): value for (cap_id, period), value in spent.items()}
        if final:  # the totals of periods the journeys from the checkpoint on cannot be in are dropped
            last = found[final - 1][4]
            cutoff = _NAIVE_EPOCH + timedelta(milliseconds=before_ms + last.utc_offset_s * 1000) - timedelta(days=1)
            open_from = {cap.cap_id: cap_period(cap, cutoff) for cap in self.fares.caps}
            kept = {key: value for key, value in kept.items() if key[2] >= open_from.get(key[1], key[2])}
        else:
            kept = dict(totals)  # nothing final yet: the totals stay as they were

        priced: dict[str, _Journey] = {}
        for first_ms, _reach, key, journey, first, count in found:
            if journey is None:  # an exit with no tap-in: the max fare for each rider, never capped
                exit_leg = Leg(self.network_id, first.station_id, first.local())
                detail = self.fares.journey_fare(Journey((exit_leg,)))
                fare = (detail.amount.minor + detail.penalty.minor) * count
                priced[key] = self._journey(account, key, wallet_id, first, 1, count, fare, fare, fare, None,
                                            _summary_no_entry(first, count))
                continue
            mine = [charges[(rider, key)] for rider in range(count)]
            capped_by = next((charge.capped_by.cap_id for charge in mine if charge.capped_by is not None), None)
            priced[key] = self._journey(account, key, wallet_id, first, len(journey.legs), count,
                                        mine[0].fare * count, sum(charge.charged for charge in mine),
                                        mine[0].penalty * count, capped_by,
                                        _summary(journey, count, mine[0].penalty > 0))
        return _Priced(priced, before_ms, kept, replays, waiting)

    def _journey(self, account: str, key: str, wallet_id: str, first: _Tap, legs: int, riders: int, fare: int,
                 amount: int, penalty: int, capped_by: str | None, summary: str) -> _Journey:
        return _Journey(account=account, journey_key=key, wallet_id=wallet_id, client_id=first.client_id,
                        started_ms=first.at_ms, legs=legs, riders=riders, currency=self.currency, fare=fare, amount=amount,
                        paid=0, penalty=penalty, capped_by=capped_by, summary=summary, error=None)

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
        conn, dialect = self.conn, self.store.dialect
        for merchant, merchant_entries in sorted(self.merchant_entries.items()):  # no hot row: into a shard on PostgreSQL
            self.tx.move_pooled(merchant, sum(entry[2] for entry in merchant_entries))
        if self.changed_wallets:
            conn.execute(_SET_BALANCE, [{"wallet": wallet_id, "new_balance": self.balances[wallet_id]}
                                        for wallet_id in sorted(self.changed_wallets)])
        if self.postings:
            insert_many(conn, postings, POSTING_COLUMNS, self.postings)
            insert_many(conn, entries, ENTRY_COLUMNS, self.entries)
        if inserts:
            insert_many(conn, transit_journeys, JOURNEY_COLUMNS,
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
        queue(conn, dialect, self.requeue)

    def _write_checkpoints(self, checkpoints: dict[str, int], totals: dict[str, dict[tuple[int, str, date], int]]) -> None:
        """The accounts' new checkpoints, and the cap totals of the final journeys before them."""
        if checkpoints:
            self.conn.execute(_SET_CHECKPOINT, [{"the_account": account, "the_before_ms": before}
                                                for account, before in sorted(checkpoints.items())])
        if totals:
            self.conn.execute(_DELETE_TOTALS, {"accounts": sorted(totals)})
            insert_many(self.conn, transit_cap_totals, TOTAL_COLUMNS, [
                (account, rider, cap_id, period.isoformat(), spent)
                for account, kept in totals.items() for (rider, cap_id, period), spent in kept.items()])



def _summary(journey: Journey, riders: int, max_fare: bool) -> str:
    """The journey in a line, in local times: "2025-03-03 M01 08:00 -> M12 08:40", and why it costs the
    maximum fare when it does."""
    parts = []
    for leg in journey.legs:
        start, end = leg.start, leg.end
        out = "no tap-out" if end is None else f"{leg.to_stop_id} {end.hour:02d}:{end.minute:02d}"
        parts.append(f"{leg.from_stop_id} {start.hour:02d}:{start.minute:02d} -> {out}")
    day = journey.start
    return (f"{day.year:04d}-{day.month:02d}-{day.day:02d} " + "; ".join(parts)
            + (f" ({riders} riders)" if riders > 1 else "")
            + (NO_TAP_OUT if max_fare else ""))


def _summary_no_entry(exit_: _Tap, riders: int) -> str:
    """An exit with no tap-in in a line: "2025-03-03 no tap-in -> M12 08:40 (maximum fare: no tap-in)"."""
    moment = exit_.local()
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} no tap-in -> {exit_.station_id}"
            f" {moment.hour:02d}:{moment.minute:02d}" + (f" ({riders} riders)" if riders > 1 else "") + NO_TAP_IN)
