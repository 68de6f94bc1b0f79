"""Clearing's fares (pos_sim/backend/services/clearing.py ``ClearingFares``) price exactly as ``Fares`` does: the same
journeys, charges, caps and max fares for any rider's history, on both example networks."""

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pos_sim.assets import ASSETS
from pos_sim.backend.services.clearing import ClearingFares
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


def same(fares: Fares, fast: ClearingFares, legs: list[Leg]) -> None:
    journeys = fares.journeys(legs)
    assert [journey.legs for journey in fast.journeys(legs)] == [journey.legs for journey in journeys]
    expected = fares.price(journeys)
    got = fast.price(journeys)
    assert [(c.fare, c.charged, c.capped_by, c.penalty, c.detail.legs, c.detail.transfers) for c in got] == [
        (c.fare, c.charged, c.capped_by, c.penalty, c.detail.legs, c.detail.transfers) for c in expected]
    assert [tuple(charge) for charge in fast.charges(journeys, {})] == [
        (c.fare.minor, c.charged.minor, c.penalty.minor, c.capped_by) for c in expected]


@settings(max_examples=300, deadline=None)
@given(metro_legs())
def test_metro_prices_are_those_of_fares(legs):
    same(Fares(METRO, "wallet_qr"), ClearingFares(METRO, "wallet_qr"), legs)


@settings(max_examples=300, deadline=None)
@given(bus_legs())
def test_bus_transfers_and_caps_are_those_of_fares(legs):
    same(Fares(BUS), ClearingFares(BUS), legs)


def test_a_remembered_fare_is_given_with_the_legs_priced():
    fast = ClearingFares(METRO)
    first = Leg("metro", "M01", datetime(2025, 3, 3, 8, 0), "M12", datetime(2025, 3, 3, 8, 40))
    later = Leg("metro", "M01", datetime(2025, 3, 5, 8, 5), "M12", datetime(2025, 3, 5, 8, 41))
    assert fast.journey_fare([first]).legs[0].leg is first
    fare = fast.journey_fare([later])  # remembered: the same zones and timeframes
    assert fare.legs[0].leg is later and fare.amount.minor == 270
