"""Clearing's fares (pos_sim/backend/services/clearing.py ``ClearingFares``, on ``Ride`` values with integer times)
price exactly as ``Fares`` does on ``Leg`` values: the same journeys, charges, caps and max fares for any rider's
history, on both example networks, whether the history is priced at once or in runs on running cap totals."""

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pos_sim.assets import ASSETS
from pos_sim.backend.services.clearing import ClearingFares, Ride
from pos_sim.domain.fares import Fares, Leg, read_network

TRANSIT = ASSETS / "transit"
METRO = read_network(TRANSIT / "metro")
BUS = read_network(TRANSIT / "bus")
STATIONS = [f"M{i:02d}" for i in range(1, 13)]
START = datetime(2025, 3, 2, 22, 0)  # a Sunday night: service days and weeks change early on


@st.composite
def metro_legs(draw) -> list[Leg]:
    legs, at = [], START
    for _ in range(draw(st.integers(0, 30))):
        at += timedelta(minutes=draw(st.integers(1, 600)))
        entry = draw(st.sampled_from(STATIONS))
        if draw(st.integers(0, 9)) == 0:
            legs.append(Leg("metro", entry, at))  # no tap-out
        else:
            minutes = draw(st.integers(0, 90))
            legs.append(Leg("metro", entry, at, draw(st.sampled_from(STATIONS)), at + timedelta(minutes=minutes)))
            at += timedelta(minutes=minutes)
    return legs


@st.composite
def bus_legs(draw) -> list[Leg]:
    legs, at = [], START
    for _ in range(draw(st.integers(0, 30))):
        at += timedelta(seconds=draw(st.sampled_from([1, 60, 1800, 3599, 3600, 3601, 3660, 7200, 40000])))
        legs.append(Leg("bus", "S1", at))
    return legs


def ride(leg: Leg) -> Ride:
    """The leg as clearing reads it: local milliseconds since 1970-01-01."""
    def local_ms(moment: datetime) -> int:
        return (moment - datetime(1970, 1, 1)) // timedelta(milliseconds=1)

    return Ride(leg.from_stop_id, local_ms(leg.start), leg.to_stop_id, None if leg.end is None else local_ms(leg.end))


def same(fares: Fares, fast: ClearingFares, legs: list[Leg], cut: int) -> None:
    """``fast`` gives ``fares``'s journeys and charges, on the rides at once and in two runs cut after
    journey ``cut`` (the second run capped on the first's running totals)."""
    journeys = fares.journeys(legs)
    rides = fast.journeys([ride(leg) for leg in legs])
    assert rides == [tuple(ride(leg) for leg in journey.legs) for journey in journeys]
    expected = [(c.fare.minor, c.charged.minor, c.penalty.minor, c.capped_by) for c in fares.price(journeys)]
    assert [tuple(charge) for charge in fast.charges(rides, {})] == expected
    spent: dict[tuple[str, int], int] = {}
    in_runs = fast.charges(rides[:cut], spent) + fast.charges(rides[cut:], spent)
    assert [tuple(charge) for charge in in_runs] == expected


@settings(max_examples=300, deadline=None)
@given(metro_legs(), st.integers(0, 30))
def test_metro_prices_are_those_of_fares(legs, cut):
    same(Fares(METRO, "wallet_qr"), ClearingFares(METRO, "metro", "wallet_qr"), legs, cut)


@settings(max_examples=300, deadline=None)
@given(bus_legs(), st.integers(0, 30))
def test_bus_transfers_and_caps_are_those_of_fares(legs, cut):
    same(Fares(BUS), ClearingFares(BUS, "bus"), legs, cut)


def test_a_remembered_fare_is_that_of_the_journey_asked_for():
    fast = ClearingFares(METRO, "metro")
    peak = ride(Leg("metro", "M01", datetime(2025, 3, 3, 8, 0), "M12", datetime(2025, 3, 3, 8, 40)))
    later = ride(Leg("metro", "M01", datetime(2025, 3, 5, 8, 5), "M12", datetime(2025, 3, 5, 8, 41)))
    offpeak = ride(Leg("metro", "M01", datetime(2025, 3, 5, 11, 5), "M12", datetime(2025, 3, 5, 11, 41)))
    assert fast.fare((peak,)).amount == fast.fare((later,)).amount == 270  # remembered: the same zones and timeframes
    assert fast.fare((offpeak,)).amount == Fares(METRO).journey_fare([fast.leg(offpeak)]).amount.minor < 270
