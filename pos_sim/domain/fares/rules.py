"""The fare engine: which fare_leg_rules price a leg, and how fare_transfer_rules join legs into a journey's fare.

A leg is a ride from a tap-in to a tap-out (or to nowhere: a bus tapped on only, or a missing
tap-out); a journey is legs one after another. Everything here works on a parsed ``FareNetwork``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pos_sim.domain.fares.network import (
    DurationLimitType,
    FareError,
    FareLegRule,
    FareNetwork,
    FareProduct,
    FareTransferRule,
    FareTransferType,
    NoFareError,
)
from pos_sim.domain.money import Money


@dataclass(frozen=True)
class Leg:
    """One ride: tapped in at ``from_stop_id`` at ``start``, out at ``to_stop_id`` at ``end``.

    ``to_stop_id`` and ``end`` are both ``None`` when there was no tap-out: a tap-on-only bus, or a
    forgotten tap-out (charged the network's max fare when it has one). Times are wall-clock local
    times (naive, or all of one time zone): a timeframe is matched on their time of day.
    """

    network_id: str
    from_stop_id: str
    start: datetime
    to_stop_id: str | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if not all(isinstance(v, str) and v for v in (self.network_id, self.from_stop_id)) or not (
            self.to_stop_id is None or isinstance(self.to_stop_id, str)
        ):
            raise FareError(f"leg {self.network_id!r} from {self.from_stop_id!r}: network and stops are ids (text)")
        if not isinstance(self.start, datetime) or not (self.end is None or isinstance(self.end, datetime)):
            raise FareError(f"leg from {self.from_stop_id!r}: start and end are datetimes")
        if (self.to_stop_id is None) != (self.end is None):
            raise FareError(f"leg from {self.from_stop_id!r}: a tap-out has both a stop and a time, or neither")
        if self.end is not None:
            if (self.start.tzinfo is None) != (self.end.tzinfo is None):
                raise FareError(f"leg from {self.from_stop_id!r}: start and end are both local, or both zoned")
            if self.end < self.start:
                raise FareError(
                    f"leg from {self.from_stop_id!r}: tapped out at {self.end} before tapping in at {self.start}"
                )

    @property
    def tapped_out(self) -> bool:
        return self.end is not None


@dataclass(frozen=True)
class Journey:
    """Legs ridden one after another, each starting no earlier than the one before."""

    legs: tuple[Leg, ...]

    def __init__(self, legs: Iterable[Leg]) -> None:
        legs = tuple(legs)
        if not legs or not all(isinstance(leg, Leg) for leg in legs):
            raise FareError("a journey is one or more legs")
        for before, after in zip(legs, legs[1:]):
            if (before.start.tzinfo is None) != (after.start.tzinfo is None):
                raise FareError("a journey's legs are all local times, or all zoned")
            if after.start < before.start or (before.end is not None and after.start < before.end):
                raise FareError(
                    f"leg from {after.from_stop_id!r} at {after.start} starts before the leg before it ends"
                )
        object.__setattr__(self, "legs", legs)

    @classmethod
    def of(cls, *legs: Leg) -> Journey:
        return cls(legs)

    @property
    def start(self) -> datetime:
        return self.legs[0].start


@dataclass(frozen=True)
class LegFare:
    """What a leg costs on its own: the rule and product that price it, or the max fare (``rule`` ``None``)."""

    leg: Leg
    amount: Money
    product: FareProduct
    rule: FareLegRule | None

    @property
    def max_fare(self) -> bool:
        """Whether this is the max fare of a missing tap-out."""
        return self.rule is None

    @property
    def leg_group_id(self) -> str | None:
        return None if self.rule is None else self.rule.leg_group_id


@dataclass(frozen=True)
class JourneyFare:
    """A journey's fare before capping: ``amount`` (cappable) plus ``penalty`` (max fares, never capped).

    ``legs`` are the legs' own fares; ``transfers[i]`` the rule of the transfer into leg ``i + 1``
    (``None``: no transfer, the leg is paid on its own).
    """

    amount: Money
    penalty: Money
    legs: tuple[LegFare, ...]
    transfers: tuple[FareTransferRule | None, ...]

    @property
    def total(self) -> Money:
        return self.amount + self.penalty


def product_price(network: FareNetwork, product_id: str, fare_media_id: str | None = None) -> FareProduct | None:
    """The product's row a rider pays with ``fare_media_id``: that medium's, else the any-medium row.

    With no medium given, the cheapest row. ``None`` when the product cannot be had on that medium.
    """
    rows = network.products.get(product_id, ())
    if fare_media_id is not None:
        own = [row for row in rows if row.fare_media_id == fare_media_id]
        rows = tuple(own) if own else tuple(row for row in rows if row.fare_media_id is None)
    return min(rows, key=lambda row: row.amount.minor, default=None)


def _seconds(moment: datetime) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _in_timeframe(network: FareNetwork, group: str | None, moment: datetime | None) -> bool:
    if group is None:
        return True
    if moment is None:
        return False
    seconds = _seconds(moment)
    return any(frame.contains(seconds) for frame in network.timeframes.get(group, ()))


def _check_network(network: FareNetwork, leg: Leg) -> None:
    if network.closed_networks and leg.network_id not in network.networks:
        raise FareError(f"leg from {leg.from_stop_id!r}: network {leg.network_id!r} is not in networks.txt")


def matching_rules(network: FareNetwork, leg: Leg) -> list[FareLegRule]:
    """The fare_leg_rules that match ``leg``, as the spec filters them.

    With a rule_priority column an empty field does not affect matching, and only the rules of the
    highest priority are kept. Without it an empty network, from-area or to-area matches only a leg
    whose value no rule names (the spec's "all ... excluding the ones listed"). An empty timeframe
    group never affects matching; a named one must hold the leg's start (from) or end (to) time.
    """
    _check_network(network, leg)
    from_areas = network.areas_of(leg.from_stop_id)
    to_areas = network.areas_of(leg.to_stop_id) if leg.to_stop_id is not None else frozenset()
    rules = network.leg_rules
    if network.has_rule_priority:
        found = [
            rule
            for rule in rules
            if rule.network_id in (None, leg.network_id)
            and (rule.from_area_id is None or rule.from_area_id in from_areas)
            and (rule.to_area_id is None or rule.to_area_id in to_areas)
        ]
    else:
        named_network = leg.network_id in {rule.network_id for rule in rules}
        named_from = from_areas & {rule.from_area_id for rule in rules}
        named_to = to_areas & {rule.to_area_id for rule in rules}
        found = [
            rule
            for rule in rules
            if (rule.network_id == leg.network_id if named_network else rule.network_id is None)
            and (rule.from_area_id in named_from if named_from else rule.from_area_id is None)
            and (rule.to_area_id in named_to if named_to else rule.to_area_id is None)
        ]
    found = [
        rule
        for rule in found
        if _in_timeframe(network, rule.from_timeframe_group_id, leg.start)
        and _in_timeframe(network, rule.to_timeframe_group_id, leg.end)
    ]
    if network.has_rule_priority and found:
        top = max(rule.rule_priority for rule in found)
        found = [rule for rule in found if rule.rule_priority == top]
    return found


def price_leg(network: FareNetwork, leg: Leg, fare_media_id: str | None = None) -> LegFare:
    """The leg's own fare: the cheapest product of the matching rules, or the max fare of a missing tap-out."""
    _check_network(network, leg)
    max_fare = network.networks[leg.network_id].max_fare_product_id if leg.network_id in network.networks else None
    if max_fare is not None and not leg.tapped_out:
        product = product_price(network, max_fare, fare_media_id)
        if product is None:
            raise NoFareError(f"max fare {max_fare!r} of network {leg.network_id!r} is not sold on {fare_media_id!r}")
        return LegFare(leg, product.amount, product, None)
    priced = [
        (product, rule)
        for rule in matching_rules(network, leg)
        if (product := product_price(network, rule.fare_product_id, fare_media_id)) is not None
    ]
    if not priced:
        to = f" to {leg.to_stop_id!r}" if leg.to_stop_id is not None else ""
        raise NoFareError(f"no fare for the leg on {leg.network_id!r} from {leg.from_stop_id!r}{to} at {leg.start}")
    product, rule = min(priced, key=lambda pair: (pair[0].amount.minor, pair[1].line))
    return LegFare(leg, product.amount, product, rule)


def _elapsed(first: Leg, last: Leg, limit_type: DurationLimitType) -> float | None:
    """Seconds between the transfer's two validations the limit type names; ``None`` if one is unknown."""
    from_departure = limit_type in (DurationLimitType.DEPARTURE_TO_ARRIVAL, DurationLimitType.DEPARTURE_TO_DEPARTURE)
    to_arrival = limit_type in (DurationLimitType.DEPARTURE_TO_ARRIVAL, DurationLimitType.ARRIVAL_TO_ARRIVAL)
    since = first.start if from_departure else first.end
    until = last.end if to_arrival else last.start
    if since is None or until is None:
        return None
    return (until - since).total_seconds()


def matching_transfer_rules(
    network: FareNetwork, from_group: str | None, to_group: str | None
) -> list[FareTransferRule]:
    """The fare_transfer_rules between two leg groups: exact ones, else the empty-field ones (the spec's default).

    A leg of no leg group transfers by no rule.
    """
    if from_group is None or to_group is None:
        return []
    rules = network.transfer_rules
    want_from = from_group if from_group in {rule.from_leg_group_id for rule in rules} else None
    want_to = to_group if to_group in {rule.to_leg_group_id for rule in rules} else None
    return [rule for rule in rules if rule.from_leg_group_id == want_from and rule.to_leg_group_id == want_to]


def price_journey(
    network: FareNetwork, journey: Journey | Sequence[Leg], fare_media_id: str | None = None
) -> JourneyFare:
    """The journey's fare: each leg's, joined by the transfer rules between consecutive legs.

    A transfer rule applies if its transfer_count allows the transfers made so far under rules of
    the same leg groups (a chain), and if its duration_limit holds, measured from the first leg of
    the chain (limit inclusive). Of the rules that do, the one with the least transfer_count at or
    above the chain's count, then the cheapest, is used: type 0 adds the transfer product (A + AB),
    type 1 the product and the new leg's fare (A + AB + B), type 2 the product in place of the
    previous leg's fare if that was paid (AB). No rule: the new leg is paid on its own.
    """
    if not isinstance(journey, Journey):
        journey = Journey(journey)
    legs = [price_leg(network, leg, fare_media_id) for leg in journey.legs]
    zero = Money(0, network.currency)
    amount, penalty = zero, zero
    paid = [False] * len(legs)
    transfers: list[FareTransferRule | None] = []
    chain_key: tuple[str | None, str | None] | None = None
    chain_count, chain_first = 0, 0
    for index, fare in enumerate(legs):
        if fare.max_fare:
            penalty += fare.amount
            if index:
                transfers.append(None)
            chain_key = None
            continue
        best = None
        if index:
            before = legs[index - 1]
            for rule in matching_transfer_rules(network, before.leg_group_id, fare.leg_group_id):
                continuing = rule.key == chain_key
                count = chain_count + 1 if continuing else 1
                first = chain_first if continuing else index - 1
                if rule.transfer_count is not None and rule.transfer_count != -1 and count > rule.transfer_count:
                    continue
                if rule.duration_limit is not None:
                    assert rule.duration_limit_type is not None
                    elapsed = _elapsed(legs[first].leg, fare.leg, rule.duration_limit_type)
                    if elapsed is None or elapsed > rule.duration_limit:
                        continue
                cost = zero
                if rule.fare_product_id is not None:
                    product = product_price(network, rule.fare_product_id, fare_media_id)
                    if product is None:
                        continue
                    cost = product.amount
                if rule.fare_transfer_type is FareTransferType.FROM_LEG_PLUS_TRANSFER_PLUS_TO_LEG:
                    cost += fare.amount
                elif rule.fare_transfer_type is FareTransferType.TRANSFER_ONLY and paid[index - 1]:
                    cost -= before.amount
                limit = rule.transfer_count if rule.transfer_count not in (None, -1) else float("inf")
                rank = (limit, cost.minor, rule.line)
                if best is None or rank < best[0]:
                    best = (rank, rule, cost, count, first)
        if best is None:
            amount += fare.amount
            paid[index] = True
            if index:
                transfers.append(None)
            chain_key = None
            continue
        _, rule, cost, count, first = best
        amount += cost
        paid[index] = rule.fare_transfer_type is FareTransferType.FROM_LEG_PLUS_TRANSFER_PLUS_TO_LEG
        if rule.fare_transfer_type is FareTransferType.TRANSFER_ONLY:
            paid[index - 1] = False
        transfers.append(rule)
        chain_key, chain_count, chain_first = rule.key, count, first
    if amount.minor < 0:
        start = journey.legs[0]
        raise FareError(f"journey from {start.from_stop_id!r} at {start.start}: transfer discounts price it below zero")
    return JourneyFare(amount, penalty, tuple(legs), tuple(transfers))
