"""Fare capping over a rider's journeys, and ``Fares``: a network's prices for a rider on a medium.

A cap (a row of the fare_capping.txt extension) limits what a rider pays on its network in a
service day or a Monday-to-Sunday week of service days. Journeys are charged in time order; a
journey's charge is the least of its fare, what every cap that covers it has left, so the journey
that reaches a cap pays part of its fare and the next ones nothing until the period ends. A
journey belongs to the service day (and week) its first leg starts in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pos_sim.domain.fares.network import Cap, CapPeriod, FareError, FareNetwork
from pos_sim.domain.fares.rules import Journey, JourneyFare, Leg, LegFare, price_journey, price_leg
from pos_sim.domain.money import Money


def service_day(moment: datetime, day_boundary: int = 0) -> date:
    """The service day of ``moment``: its date, or the day before when earlier than ``day_boundary``.

    ``day_boundary`` is in seconds after midnight: with 16200 (04:30:00), 03:00 on a Tuesday is
    Monday's service day.
    """
    return (moment - timedelta(seconds=day_boundary)).date()


def cap_period(cap: Cap, moment: datetime) -> date:
    """The first service day of ``cap``'s period holding ``moment``: its service day, or that week's Monday."""
    day = service_day(moment, cap.day_boundary)
    return day if cap.period is CapPeriod.DAY else day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Charge:
    """What a journey is charged: ``fare`` before capping, ``charged`` after.

    ``capped_by`` is the cap that limited the charge (``None``: the full fare was charged).
    ``penalty`` is the part of both that is max fares for missing tap-outs, never capped.
    ``detail`` is how the fare was made up, leg by leg.
    """

    journey: Journey
    fare: Money
    charged: Money
    capped_by: Cap | None
    penalty: Money
    detail: JourneyFare

    @property
    def saved(self) -> Money:
        """What capping took off the fare."""
        return self.fare - self.charged


class Fares:
    """A fare network's prices for a rider paying with ``fare_media_id`` (``None``: the cheapest medium).

    ``price(journeys)`` charges one rider's journeys with capping; ``journey_fare`` and ``leg_fare``
    price one journey or leg before capping.
    """

    def __init__(self, network: FareNetwork, fare_media_id: str | None = None) -> None:
        if not isinstance(network, FareNetwork):
            raise FareError(f"{network!r}: not a FareNetwork (read one with read_network)")
        if fare_media_id is not None and fare_media_id not in network.media:
            raise FareError(f"fare medium {fare_media_id!r} is not in fare_media.txt")
        self.network = network
        self.fare_media_id = fare_media_id

    @property
    def caps(self) -> tuple[Cap, ...]:
        return self.network.caps

    def leg_fare(self, leg: Leg) -> LegFare:
        return price_leg(self.network, leg, self.fare_media_id)

    def journey_fare(self, journey: Journey | Sequence[Leg]) -> JourneyFare:
        return price_journey(self.network, journey, self.fare_media_id)

    def journeys(self, legs: Iterable[Leg]) -> list[Journey]:
        """A rider's legs (in any order) as journeys: each leg joins the one before while a transfer rule links them."""
        ordered = sorted(legs, key=lambda leg: leg.start)
        if not ordered:
            return []
        detail = self.journey_fare(ordered)
        journeys, current = [], [ordered[0]]
        for leg, transfer in zip(ordered[1:], detail.transfers):
            if transfer is None:
                journeys.append(Journey(current))
                current = []
            current.append(leg)
        journeys.append(Journey(current))
        return journeys

    def covers(self, cap: Cap, journey: Journey, detail: JourneyFare) -> bool:
        """Whether ``cap`` counts ``journey``: a cap of all networks, or of the network of all its paid legs."""
        paid = [fare.leg.network_id for fare in detail.legs if not fare.max_fare]
        return bool(paid) and (cap.network_id is None or all(network == cap.network_id for network in paid))

    def price(self, journeys: Iterable[Journey | Sequence[Leg]]) -> list[Charge]:
        """One rider's charges for ``journeys``, capped; in the order given, worked out in time order."""
        journeys = [journey if isinstance(journey, Journey) else Journey(journey) for journey in journeys]
        zoned = {journey.start.tzinfo is None for journey in journeys}
        if len(zoned) > 1:
            raise FareError("a rider's journeys are all local times, or all zoned")
        spent: dict[tuple[str, date], Money] = {}
        charges: dict[int, Charge] = {}
        for index in sorted(range(len(journeys)), key=lambda i: journeys[i].start):
            journey = journeys[index]
            detail = self.journey_fare(journey)
            caps = [cap for cap in self.caps if self.covers(cap, journey, detail)]
            charged, capped_by = detail.amount, None
            for cap in caps:
                used = spent.get((cap.cap_id, cap_period(cap, journey.start)), Money(0, cap.amount.currency))
                left = max(cap.amount - used, Money(0, cap.amount.currency))
                if left < charged:
                    charged, capped_by = left, cap
            for cap in caps:
                key = (cap.cap_id, cap_period(cap, journey.start))
                spent[key] = spent.get(key, Money(0, cap.amount.currency)) + charged
            charges[index] = Charge(
                journey, detail.total, charged + detail.penalty, capped_by, detail.penalty, detail
            )
        return [charges[index] for index in range(len(journeys))]
