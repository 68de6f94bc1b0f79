"""Fares from GTFS-Fares v2 with capping: the example networks of assets/transit against hand-computed
journeys, the spec's matching and transfer rules on small networks, and every kind of bad file."""

import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_sim.assets import ASSETS
from pos_sim.domain.errors import DomainError
from pos_sim.domain.fares import (
    FILES,
    CapPeriod,
    Fares,
    FareError,
    FareNetwork,
    Journey,
    Leg,
    NoFareError,
    cap_period,
    parse_network,
    read_network,
    service_day,
    wording,
)
from pos_sim.domain.fares.network import Timeframe, clock
from pos_sim.domain.money import Money

TRANSIT = ASSETS / "transit"
MONDAY = date(2025, 3, 3)


def sgd(text: str) -> Money:
    return Money.of_major(text, "SGD")


def at(day: date | int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time on ``day``, or on the day ``day`` days after MONDAY (0 = Monday 3 March 2025)."""
    if isinstance(day, int):
        day = MONDAY + timedelta(days=day)
    return datetime(day.year, day.month, day.day, hour, minute, second)


def trip(tap_in: str, tap_out: str | None, start: datetime, minutes: int = 30) -> Journey:
    """A one-leg metro journey; ``tap_out`` None is a missing tap-out."""
    if tap_out is None:
        return Journey.of(Leg("metro", tap_in, start))
    return Journey.of(Leg("metro", tap_in, start, tap_out, start + timedelta(minutes=minutes)))


def bus(stop: str, start: datetime) -> Leg:
    return Leg("bus", stop, start)


@pytest.fixture(scope="module")
def metro() -> Fares:
    return Fares(read_network(TRANSIT / "metro"))


@pytest.fixture(scope="module")
def city_bus() -> Fares:
    return Fares(read_network(TRANSIT / "bus"))


def charged(charges) -> list[str]:
    return [charge.charged.major_str() for charge in charges]


# --- the metro: zones, peak, max fare ---------------------------------------------------------------

# Stations: M01-M04 in Z1, M05-M08 in Z2, M09-M12 in Z3. Zones travelled = |zone out - zone in| + 1.
# Off-peak 1.20 / 1.70 / 2.20, peak (tap-in 07:00-09:30 or 17:00-19:30) 1.50 / 2.10 / 2.70.


@pytest.mark.parametrize(
    ("tap_in", "tap_out", "fare"),
    [
        ("M01", "M03", "1.20"),  # Z1 -> Z1: 1 zone off-peak
        ("M09", "M12", "1.20"),  # Z3 -> Z3: 1 zone
        ("M02", "M06", "1.70"),  # Z1 -> Z2: 2 zones
        ("M07", "M10", "1.70"),  # Z2 -> Z3: 2 zones
        ("M01", "M12", "2.20"),  # Z1 -> Z3: 3 zones
        ("M11", "M04", "2.20"),  # Z3 -> Z1: 3 zones the other way, same fare
        ("M05", "M05", "1.20"),  # in and out at the same station: 1 zone
    ],
)
def test_off_peak_fare_by_zones(metro, tap_in, tap_out, fare):
    # 10:00 on a Monday is off-peak (09:30-17:00)
    assert metro.leg_fare(trip(tap_in, tap_out, at(0, 10)).legs[0]).amount == sgd(fare)


@pytest.mark.parametrize(
    ("tap_in", "tap_out", "start", "fare"),
    [
        ("M01", "M03", at(0, 8), "1.50"),  # 1 zone, morning peak
        ("M01", "M06", at(0, 8), "2.10"),  # 2 zones, morning peak
        ("M12", "M01", at(0, 18), "2.70"),  # 3 zones, evening peak
        ("M01", "M12", at(0, 7), "2.70"),  # 07:00:00 is peak: a timeframe includes its start
        ("M01", "M12", at(0, 6, 59, 59), "2.20"),  # a second earlier is off-peak
        ("M01", "M12", at(0, 9, 29, 59), "2.70"),  # last second of the morning peak
        ("M01", "M12", at(0, 9, 30), "2.20"),  # 09:30:00 is off-peak: a timeframe excludes its end
        ("M01", "M12", at(5, 17, 0), "2.70"),  # Saturday: peak too (no calendar matching)
        ("M01", "M12", at(0, 23, 50), "2.20"),  # late evening: off-peak 19:30-24:00
    ],
)
def test_peak_fare_by_tap_in_time(metro, tap_in, tap_out, start, fare):
    assert metro.leg_fare(trip(tap_in, tap_out, start).legs[0]).amount == sgd(fare)


def test_peak_is_decided_by_the_tap_in_not_the_tap_out(metro):
    # in at 09:20 (peak), out at 10:00 (off-peak): from_timeframe_group_id matches the start -> 2 zones peak 2.10
    assert metro.leg_fare(trip("M01", "M06", at(0, 9, 20), minutes=40).legs[0]).amount == sgd("2.10")


def test_missing_tap_out_is_charged_the_max_fare(metro):
    [charge] = metro.price([trip("M01", None, at(0, 10))])
    # no tap-out on the metro: metro_max_fare 3.20, all of it a penalty
    assert charge.fare == charge.charged == charge.penalty == sgd("3.20")
    assert charge.capped_by is None
    assert charge.detail.legs[0].max_fare


def test_the_max_fare_is_never_capped_nor_counted_towards_a_cap(metro):
    day = [trip("M01", "M12", at(0, 10 + i)) for i in range(3)]  # 2.20 + 2.20 + 1.60 reaches the 6.00 cap
    charges = metro.price([trip("M01", None, at(0, 9, 45)), *day, trip("M01", None, at(0, 20))])
    # 09:45 no tap-out 3.20 (not counted), then 2.20, 2.20, 1.60 (cap 6.00 - 4.40), then no tap-out 3.20 again
    assert charged(charges) == ["3.20", "2.20", "2.20", "1.60", "3.20"]
    assert [c.capped_by and c.capped_by.cap_id for c in charges] == [None, None, None, "metro_day", None]


# --- capping --------------------------------------------------------------------------------------


def test_daily_cap_the_crossing_charge_is_partial_and_the_next_free(metro):
    charges = metro.price([trip("M01", "M12", at(0, hour)) for hour in (10, 12, 14, 16)])
    # 3-zone off-peak 2.20 each: 2.20, 2.20 (4.40 spent), 6.00 - 4.40 = 1.60, then 0.00
    assert charged(charges) == ["2.20", "2.20", "1.60", "0.00"]
    assert [c.fare for c in charges] == [sgd("2.20")] * 4
    assert [c.capped_by and c.capped_by.cap_id for c in charges] == [None, None, "metro_day", "metro_day"]
    assert charges[3].saved == sgd("2.20")


def test_daily_cap_resets_at_the_day_boundary_not_at_midnight(metro):
    monday = [trip("M01", "M12", at(0, hour)) for hour in (10, 12, 14)]  # 2.20 + 2.20 + 1.60 = 6.00
    after_midnight = trip("M01", "M03", at(1, 0, 30))  # Tuesday 00:30 < 04:30: Monday's service day -> 0.00
    early_tuesday = trip("M01", "M03", at(1, 4, 30))  # 04:30:00: Tuesday's service day begins -> 1.20 off-peak
    charges = metro.price([*monday, after_midnight, early_tuesday])
    assert charged(charges) == ["2.20", "2.20", "1.60", "0.00", "1.20"]


def test_a_3am_night_bus_counts_in_the_previous_service_day(city_bus):
    # six 1.00 rides on Monday, two hours apart (no transfers): 6.00 reaches the 6.00 daily cap
    monday = [Journey.of(bus("S1", at(0, hour))) for hour in range(8, 20, 2)]
    night = Journey.of(bus("S9", at(1, 3)))  # Tuesday 03:00 is before the 04:30 boundary: Monday -> 0.00
    morning = Journey.of(bus("S1", at(1, 8)))  # Tuesday 08:00: a new service day -> 1.00
    charges = city_bus.price([*monday, night, morning])
    assert charged(charges) == ["1.00"] * 6 + ["0.00", "1.00"]
    assert charges[6].capped_by.cap_id == "bus_day"
    assert service_day(at(1, 3), 4 * 3600 + 30 * 60) == MONDAY


def test_weekly_cap_across_monday_to_sunday_and_reset_next_monday(metro):
    journeys = []
    for day in range(4):  # Monday to Thursday: three 3-zone off-peak trips a day, capped at 6.00 a day = 24.00
        journeys += [trip("M01", "M12", at(day, hour)) for hour in (10, 12, 14)]
    journeys += [trip("M01", "M12", at(4, 10)), trip("M01", "M12", at(4, 12))]  # Friday: 25.00 - 24.00 = 1.00, then 0
    journeys += [trip("M01", "M12", at(5, 10)), trip("M01", "M12", at(6, 10))]  # Saturday, Sunday: 0.00
    journeys += [trip("M01", "M12", at(7, 1))]  # Monday 01:00 is still Sunday's service day (and week): 0.00
    journeys += [trip("M01", "M12", at(7, 10))]  # Monday 10:00: a new week and day, 2.20
    charges = metro.price(journeys)
    assert charged(charges) == ["2.20", "2.20", "1.60"] * 4 + ["1.00", "0.00", "0.00", "0.00", "0.00", "2.20"]
    assert [c.capped_by and c.capped_by.cap_id for c in charges[12:]] == [
        "metro_week", "metro_week", "metro_week", "metro_week", "metro_week", None,
    ]
    assert sum((c.charged for c in charges[:-1]), sgd("0")) == sgd("25.00")


def test_a_fare_is_the_least_of_its_price_and_the_daily_and_weekly_caps_left(metro):
    # Monday to Thursday as above (24.00 spent), then Friday a 1-zone 1.20 trip: the weekly cap has 1.00 left,
    # the daily 6.00: 1.00 charged, limited by the week; then a 1.20 trip on the same day: 0.00
    journeys = [trip("M01", "M12", at(day, hour)) for day in range(4) for hour in (10, 12, 14)]
    journeys += [trip("M01", "M03", at(4, 10)), trip("M01", "M03", at(4, 11))]
    charges = metro.price(journeys)
    assert charged(charges[-2:]) == ["1.00", "0.00"]
    assert charges[-2].capped_by.period is CapPeriod.WEEK


def test_charges_come_back_in_the_order_given_worked_out_in_time_order(metro):
    journeys = [trip("M01", "M12", at(0, hour)) for hour in (10, 12, 14, 16)]
    forward = metro.price(journeys)
    backward = metro.price(list(reversed(journeys)))
    # the 14:00 trip is the one that reaches the cap, whatever the order of the list
    assert charged(backward) == list(reversed(charged(forward))) == ["0.00", "1.60", "2.20", "2.20"]


def test_cap_periods():
    from pos_sim.domain.fares import Cap

    day = Cap("d", CapPeriod.DAY, sgd("6.00"), day_boundary=16200)
    week = Cap("w", CapPeriod.WEEK, sgd("25.00"), day_boundary=16200)
    assert cap_period(day, at(1, 4, 29)) == MONDAY  # Tuesday 04:29 -> Monday
    assert cap_period(week, at(6, 23)) == MONDAY  # Sunday -> the week of Monday 3 March
    assert cap_period(week, at(7, 4)) == MONDAY  # next Monday 04:00 is still Sunday's service day
    assert cap_period(week, at(7, 5)) == MONDAY + timedelta(days=7)


# --- the bus: flat fare and a 60-minute free transfer -----------------------------------------------


def test_bus_flat_fare(city_bus):
    [charge] = city_bus.price([Journey.of(bus("S1", at(0, 8)))])
    assert charge.charged == sgd("1.00")


@pytest.mark.parametrize(
    ("minutes", "total"),
    [
        (45, "1.00"),  # tap-on 45 min after the first: free transfer, 1.00 + 0
        (60, "1.00"),  # exactly 60 min (3600 s): the limit is inclusive, still free
        (61, "2.00"),  # 61 min: no transfer, 1.00 + 1.00
    ],
)
def test_bus_transfer_free_within_60_minutes(city_bus, minutes, total):
    journey = Journey.of(bus("S1", at(0, 8)), bus("S2", at(0, 8) + timedelta(minutes=minutes)))
    assert city_bus.journey_fare(journey).total == sgd(total)


def test_bus_transfers_are_measured_from_the_first_tap_on(city_bus):
    taps = [at(0, 8), at(0, 8, 30), at(0, 8, 59), at(0, 9, 5), at(0, 9, 50)]
    detail = city_bus.journey_fare(Journey(bus("S1", t) for t in taps))
    # 08:00 1.00; 08:30 and 08:59 within 60 min of 08:00: free; 09:05 is 65 min after 08:00: 1.00, a new
    # chain; 09:50 is 45 min after 09:05: free. Total 2.00
    assert detail.total == sgd("2.00")
    assert [rule is not None for rule in detail.transfers] == [True, True, False, True]


def test_a_riders_bus_taps_split_into_journeys_where_no_transfer_applies(city_bus):
    taps = [bus("S1", at(0, 8)), bus("S2", at(0, 8, 40)), bus("S3", at(0, 12)), bus("S4", at(0, 12, 30))]
    journeys = city_bus.journeys(reversed(taps))
    assert [len(j.legs) for j in journeys] == [2, 2]
    assert charged(city_bus.price(journeys)) == ["1.00", "1.00"]


def test_route_networks(city_bus):
    assert city_bus.network.network_of_route("NR1") == "bus"
    with pytest.raises(FareError, match="'99'"):
        city_bus.network.network_of_route("99")


def test_fare_media(city_bus):
    assert Fares(city_bus.network, "card").leg_fare(bus("S1", at(0, 8))).amount == sgd("1.00")
    with pytest.raises(FareError, match="'paper'"):
        Fares(city_bus.network, "paper")


def test_a_leg_on_an_unknown_network_or_with_no_fare(metro):
    with pytest.raises(FareError, match="'tram'"):
        metro.leg_fare(Leg("tram", "M01", at(0, 8), "M02", at(0, 9)))
    with pytest.raises(NoFareError, match="'X99'"):
        metro.leg_fare(Leg("metro", "X99", at(0, 8), "M02", at(0, 9)))  # a stop in no zone: no rule matches


def test_legs_and_journeys_must_make_sense():
    with pytest.raises(FareError, match="before tapping in"):
        Leg("metro", "M01", at(0, 9), "M02", at(0, 8))
    with pytest.raises(FareError, match="both a stop and a time"):
        Leg("metro", "M01", at(0, 9), "M02")
    with pytest.raises(FareError, match="one or more legs"):
        Journey([])
    with pytest.raises(FareError, match="starts before"):
        Journey.of(Leg("bus", "S1", at(0, 9)), Leg("bus", "S2", at(0, 8)))


# --- the spec's matching rules, on small networks -----------------------------------------------------


def network(leg_rules: str, *, products: str = "", transfers: str = "", extra: dict | None = None) -> FareNetwork:
    """A network of products p1..p4 (1.00, 2.00, 3.00, 0.50 SGD), areas A, B, C with stops a, b, c, and these rules."""
    files = {
        "fare_products.txt": "fare_product_id,amount,currency\np1,1.00,SGD\np2,2.00,SGD\np3,3.00,SGD\np4,0.50,SGD\n"
        + products,
        "areas.txt": "area_id\nA\nB\nC\n",
        "stop_areas.txt": "area_id,stop_id\nA,a\nB,b\nC,c\n",
        "fare_leg_rules.txt": leg_rules,
        **({"fare_transfer_rules.txt": transfers} if transfers else {}),
        **(extra or {}),
    }
    return parse_network(files)


def fare(net: FareNetwork, network_id: str, from_stop: str, to_stop: str, start: datetime | None = None) -> str:
    start = start or at(0, 10)
    leg = Leg(network_id, from_stop, start, to_stop, start + timedelta(minutes=20))
    return Fares(net).leg_fare(leg).amount.major_str()


def test_rule_priority_the_highest_wins_even_when_dearer():
    net = network(
        "network_id,from_area_id,fare_product_id,rule_priority\n"
        ",,p2,0\n"  # anything: 2.00
        ",A,p3,1\n"  # from A: 3.00, priority 1
    )
    assert fare(net, "n1", "a", "b") == "3.00"  # both match; priority 1 beats the cheaper priority 0
    assert fare(net, "n1", "b", "a") == "2.00"  # only the catch-all matches


def test_with_rule_priority_an_empty_field_matches_anything():
    net = network("network_id,fare_product_id,rule_priority\nn1,p3,\n,p1,\n")
    # both rules priority 0 (empty = 0), and with the column present the empty network matches n1 too:
    # of the two matches the cheapest, p1
    assert fare(net, "n1", "a", "b") == "1.00"


def test_without_rule_priority_an_empty_field_matches_only_values_no_rule_names():
    net = network("network_id,from_area_id,to_area_id,fare_product_id\nn1,,,p3\n,,,p1\n,A,,p2\n")
    assert fare(net, "n1", "b", "c") == "3.00"  # n1 is named: the empty-network rules do not match it
    assert fare(net, "n2", "b", "c") == "1.00"  # n2 is not named: empty network; B is not named: empty from-area
    assert fare(net, "n2", "a", "c") == "2.00"  # A is named: only the from-area A rule


def test_timeframes_on_the_start_and_the_end_of_a_leg():
    net = network(
        "from_timeframe_group_id,to_timeframe_group_id,fare_product_id,rule_priority\n"
        ",,p2,0\nnight,,p1,1\n,night,p3,1\n",
        extra={"timeframes.txt": "timeframe_group_id,start_time,end_time,service_id\nnight,22:00:00,26:00:00,all\n"},
    )
    # "night" runs 22:00 to 02:00 (26:00:00 past midnight); a timeframe in from_ matches the start, to_ the end
    assert fare(net, "n1", "a", "b", at(0, 12)) == "2.00"
    assert fare(net, "n1", "a", "b", at(0, 23)) == "1.00"  # starts and ends at night: p1 and p3 tie, p1 cheaper
    assert fare(net, "n1", "a", "b", at(0, 21, 50)) == "3.00"  # starts 21:50 (day), ends 22:10 (night)
    assert fare(net, "n1", "a", "b", at(1, 1, 30)) == "1.00"  # 01:30 is in 22:00-26:00


def test_a_stop_in_several_areas_matches_any_of_them():
    net = network(
        "from_area_id,to_area_id,fare_product_id\nA,C,p3\n",
        extra={"stop_areas.txt": "area_id,stop_id\nA,a\nB,a\nC,c\n"},
    )
    assert fare(net, "n1", "a", "c") == "3.00"


TRANSFER_LEGS = "leg_group_id,network_id,fare_product_id\nga,na,p2\ngb,nb,p3\n"  # A = 2.00 on na, B = 3.00 on nb


@pytest.mark.parametrize(
    ("transfer_type", "product", "total"),
    [
        (0, "p4", "2.50"),  # A + AB = 2.00 + 0.50
        (1, "p4", "5.50"),  # A + AB + B = 2.00 + 0.50 + 3.00
        (2, "p4", "0.50"),  # AB = 0.50
        (0, "", "2.00"),  # A + nothing: an empty product is a free transfer
    ],
)
def test_fare_transfer_types(transfer_type, product, total):
    net = network(
        TRANSFER_LEGS,
        transfers="from_leg_group_id,to_leg_group_id,fare_transfer_type,fare_product_id\n"
        f"ga,gb,{transfer_type},{product}\n",
    )
    journey = Journey.of(Leg("na", "a", at(0, 10), "b", at(0, 10, 20)), Leg("nb", "b", at(0, 10, 30), "c", at(0, 11)))
    assert Fares(net).journey_fare(journey).total == sgd(total)


def test_fare_transfer_type_2_over_three_legs():
    # A > B type 2: AB = 0.50; B > A type 2: S + BA = 0.50 + 0.50 (B was never paid on its own)
    net = network(
        TRANSFER_LEGS,
        transfers="from_leg_group_id,to_leg_group_id,fare_transfer_type,fare_product_id\nga,gb,2,p4\ngb,ga,2,p4\n",
    )
    journey = Journey.of(
        Leg("na", "a", at(0, 10), "b", at(0, 10, 20)),
        Leg("nb", "b", at(0, 10, 30), "c", at(0, 11)),
        Leg("na", "c", at(0, 11, 10), "a", at(0, 11, 30)),
    )
    assert Fares(net).journey_fare(journey).total == sgd("1.00")


def test_transfer_count_limits_a_chain_of_the_same_rule():
    net = network(
        TRANSFER_LEGS,
        transfers="from_leg_group_id,to_leg_group_id,transfer_count,fare_transfer_type\nga,ga,1,0\n",
    )
    legs = [Leg("na", "a", at(0, 10 + i), "b", at(0, 10 + i, 20)) for i in range(4)]
    detail = Fares(net).journey_fare(Journey(legs))
    # 1st 2.00; 2nd a free transfer (1 of 1); 3rd would be the 2nd transfer of the chain: paid 2.00 and starts
    # a new chain; 4th free. 4.00
    assert detail.total == sgd("4.00")
    assert [rule is not None for rule in detail.transfers] == [True, False, True]


def test_the_least_transfer_count_that_suffices_is_chosen():
    net = network(
        TRANSFER_LEGS,
        transfers="from_leg_group_id,to_leg_group_id,transfer_count,fare_transfer_type,fare_product_id\n"
        "ga,ga,1,0,\nga,ga,-1,0,p4\n",
    )
    legs = [Leg("na", "a", at(0, 10 + i), "b", at(0, 10 + i, 20)) for i in range(3)]
    # 2.00; 1st transfer: count 1 fits the free rule (count 1) before the no-limit 0.50 one;
    # 2nd transfer: count 2, only the no-limit rule: 0.50. 2.50
    assert Fares(net).journey_fare(Journey(legs)).total == sgd("2.50")


def test_an_empty_leg_group_in_a_transfer_rule_means_every_other_group():
    net = network(
        TRANSFER_LEGS,
        transfers="from_leg_group_id,to_leg_group_id,fare_transfer_type,fare_product_id\n,gb,0,p4\n",
    )
    journey = Journey.of(Leg("na", "a", at(0, 10), "b", at(0, 10, 20)), Leg("nb", "b", at(0, 10, 30), "c", at(0, 11)))
    assert Fares(net).journey_fare(journey).total == sgd("2.50")  # ga is not named as a from-group: the empty one


@pytest.mark.parametrize(
    ("limit_type", "free"),
    [
        (0, False),  # departure of A 10:00 to arrival of B 11:20: 80 min > 60
        (1, True),  # departure of A 10:00 to departure of B 10:50: 50 min
        (2, True),  # arrival of A 10:20 to departure of B 10:50: 30 min
        (3, True),  # arrival of A 10:20 to arrival of B 11:20: 60 min, the limit is inclusive
    ],
)
def test_duration_limit_types(limit_type, free):
    net = network(
        TRANSFER_LEGS,
        transfers="from_leg_group_id,to_leg_group_id,duration_limit,duration_limit_type,fare_transfer_type\n"
        f"ga,gb,3600,{limit_type},0\n",
    )
    journey = Journey.of(
        Leg("na", "a", at(0, 10), "b", at(0, 10, 20)), Leg("nb", "b", at(0, 10, 50), "c", at(0, 11, 20))
    )
    assert Fares(net).journey_fare(journey).total == sgd("2.00" if free else "5.00")


def test_a_cap_of_all_networks_and_one_of_a_network():
    net = network(
        "network_id,fare_product_id\nn1,p2\nn2,p3\n",
        extra={
            "fare_capping.txt": "cap_id,network_id,period,amount,currency\nall,,day,5.00,SGD\nn2,n2,day,4.00,SGD\n",
        },
    )
    journeys = [Journey.of(Leg(n, "a", at(0, h), "b", at(0, h, 20))) for n, h in [("n2", 8), ("n2", 9), ("n1", 10)]]
    # n2 3.00; n2 min(3.00, 4.00 - 3.00, 5.00 - 3.00) = 1.00 by cap n2; n1 min(2.00, 5.00 - 4.00) = 1.00 by "all"
    charges = Fares(net).price(journeys)
    assert charged(charges) == ["3.00", "1.00", "1.00"]
    assert [c.capped_by and c.capped_by.cap_id for c in charges] == [None, "n2", "all"]


# --- bad files: FareError naming the file, the line and the column ------------------------------------


def broken(tmp_path: Path, file: str, old: str, new: str, source: str = "metro") -> Path:
    """A copy of an example network with ``old`` replaced by ``new`` in ``file``."""
    folder = tmp_path / source
    shutil.copytree(TRANSIT / source, folder)
    text = (folder / file).read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    (folder / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def fails(folder: Path, *fragments: str) -> FareError:
    with pytest.raises(FareError) as caught:
        read_network(folder)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(caught.value, DomainError)
    return caught.value


def test_missing_required_column(tmp_path):
    folder = broken(tmp_path, "fare_products.txt", ",amount,", ",price,")
    error = fails(folder, "fare_products.txt, line 1, column amount", "missing")
    assert (error.file, error.line, error.column) == ("fare_products.txt", 1, "amount")


def test_unknown_fare_product(tmp_path):
    folder = broken(tmp_path, "fare_leg_rules.txt", "Z1,Z3,offpeak,,metro_3z_offpeak", "Z1,Z3,offpeak,,metro_4z")
    # the header is line 1, Z1 -> Z1 line 2, Z1 -> Z2 line 3, Z1 -> Z3 line 4
    fails(folder, "fare_leg_rules.txt, line 4, column fare_product_id", "'metro_4z'", "not in fare_products.txt")


def test_unknown_area(tmp_path):
    folder = broken(tmp_path, "stop_areas.txt", "Z3,M12", "Z4,M12")
    fails(folder, "stop_areas.txt, line 13, column area_id", "'Z4'", "not in areas.txt")
    folder = broken(tmp_path / "2", "fare_leg_rules.txt", "metro,metro,Z2,Z1,offpeak", "metro,metro,Z9,Z1,offpeak")
    fails(folder, "fare_leg_rules.txt, line 5, column from_area_id", "'Z9'")


def test_unknown_timeframe_group(tmp_path):
    folder = broken(tmp_path, "fare_leg_rules.txt", "Z1,Z1,peak,", "Z1,Z1,rush,")
    fails(folder, "fare_leg_rules.txt, line 11, column from_timeframe_group_id", "'rush'", "not in timeframes.txt")


def test_unknown_max_fare_product(tmp_path):
    folder = broken(tmp_path, "networks.txt", "metro_max_fare", "metro_max")
    fails(folder, "networks.txt, line 2, column max_fare_product_id", "'metro_max'")


@pytest.mark.parametrize(
    ("old", "new", "fragments"),
    [
        ("1.20,SGD", "1.005,SGD", ["line 2, column amount", "'1.005'", "2 decimal places"]),
        ("1.20,SGD", "1.2.0,SGD", ["line 2, column amount", "not a plain decimal"]),
        ("1.20,SGD", ",SGD", ["line 2, column amount", "empty"]),
        ("1.70,SGD", "1.70,XYZ", ["line 3, column currency", "'XYZ'", "not an ISO 4217"]),
        ("1.70,SGD", "1.70,MYR", ["line 3, column currency", "one currency", "SGD"]),
    ],
)
def test_bad_amount_or_currency(tmp_path, old, new, fragments):
    folder = broken(tmp_path, "fare_products.txt", old, new)
    fails(folder, "fare_products.txt", *fragments)


def products_only(*rows: str) -> FareNetwork:
    """A network of these fare_products.txt rows (id,amount,currency) and a rule for product p."""
    products = "fare_product_id,amount,currency\n" + "".join(f"{row}\n" for row in rows)
    return parse_network({"fare_products.txt": products, "fare_leg_rules.txt": "fare_product_id\np\n"})


def test_amounts_of_zero_decimal_currencies(tmp_path):
    net = products_only("p,210,JPY")
    assert net.products["p"][0].amount == Money.of_minor(210, "JPY")
    with pytest.raises(FareError, match=re.escape("line 2, column amount: '210.5'")):
        products_only("p,210.5,JPY")


@pytest.mark.parametrize(
    ("old", "new", "column", "reason"),
    [
        ("peak,07:00:00", "peak,7:75:00", "start_time", "not a time"),
        ("peak,07:00:00", "peak,07:00", "start_time", "not a time"),
        ("09:30:00,daily", "49:00:00,daily", "end_time", "later than 48:00:00"),
        ("09:30:00,daily", "06:00:00,daily", "end_time", "not after start_time"),
    ],
)
def test_bad_time(tmp_path, old, new, column, reason):
    folder = broken(tmp_path, "timeframes.txt", old, new)
    fails(folder, f"timeframes.txt, line 2, column {column}", reason)


def test_bad_day_boundary(tmp_path):
    folder = broken(tmp_path, "fare_capping.txt", "04:30:00", "24:30:00")
    fails(folder, "fare_capping.txt, line 2, column day_boundary", "later than 23:59:59")


@pytest.mark.parametrize(
    ("file", "old", "new", "where"),
    [
        ("areas.txt", "Z3,Zone 3", "Z2,Zone 3", "areas.txt, line 4, column area_id"),
        ("fare_products.txt", "metro_2z_offpeak,2", "metro_1z_offpeak,2",
         "fare_products.txt, line 3, column fare_product_id"),
        ("fare_capping.txt", "metro_week,", "metro_day,", "fare_capping.txt, line 3, column cap_id"),
        ("fare_media.txt", "wallet_qr,", "card,", "fare_media.txt, line 3, column fare_media_id"),
        ("stop_areas.txt", "Z1,M02", "Z1,M01", "stop_areas.txt, line 3, column stop_id"),
    ],
)
def test_duplicate_id(tmp_path, file, old, new, where):
    folder = broken(tmp_path, file, old, new)
    fails(folder, where, "duplicate", "line 2 has it already" if "line 3" in where else "has it already")


def test_duplicate_fare_leg_rule(tmp_path):
    # line 3 (Z1 -> Z2) made the same as line 2 (Z1 -> Z1)
    folder = broken(tmp_path, "fare_leg_rules.txt", "Z1,Z2,offpeak,,metro_2z", "Z1,Z1,offpeak,,metro_1z")
    fails(folder, "fare_leg_rules.txt, line 3", "duplicate rule", "line 2")


@pytest.mark.parametrize(
    ("old", "new", "column", "reason"),
    [
        ("bus,bus,-1,3600,1,0,", "bus,bus,-1,3600,,0,", "duration_limit_type", "required when duration_limit"),
        ("bus,bus,-1,3600,1,0,", "bus,bus,-1,,1,0,", "duration_limit_type", "forbidden"),
        ("bus,bus,-1,3600,1,0,", "bus,bus,,3600,1,0,", "transfer_count", "required"),
        ("bus,bus,-1,3600,1,0,", "bus,bus,0,3600,1,0,", "transfer_count", "'0'"),
        ("bus,bus,-1,3600,1,0,", "bus,bus,-1,3600,4,0,", "duration_limit_type", "'4'"),
        ("bus,bus,-1,3600,1,0,", "bus,bus,-1,3600,1,3,", "fare_transfer_type", "'3'"),
        ("bus,bus,-1,3600,1,0,", "bus,tram,-1,3600,1,0,", "to_leg_group_id", "'tram'"),
        ("bus,bus,-1,3600,1,0,", "bus,bus,-1,3600,1,0,free", "fare_product_id", "'free'"),
    ],
)
def test_bad_transfer_rule(tmp_path, old, new, column, reason):
    folder = broken(tmp_path, "fare_transfer_rules.txt", old, new, source="bus")
    fails(folder, f"fare_transfer_rules.txt, line 2, column {column}", reason)


def test_bad_cap(tmp_path):
    folder = broken(tmp_path / "1", "fare_capping.txt", ",day,", ",month,")
    fails(folder, "fare_capping.txt, line 2, column period", "'month'")
    fails(broken(tmp_path / "2", "fare_capping.txt", "6.00,SGD", "0.00,SGD"), "line 2, column amount", "more than zero")
    folder = broken(tmp_path / "3", "fare_capping.txt", "metro_day,metro", "metro_day,tram")
    fails(folder, "line 2, column network_id", "'tram'")


def test_unsupported_rider_category(tmp_path):
    folder = tmp_path / "net"
    shutil.copytree(TRANSIT / "bus", folder)
    (folder / "fare_products.txt").write_text(
        "fare_product_id,rider_category_id,amount,currency\nbus_fare,senior,0.50,SGD\n", encoding="utf-8"
    )
    fails(folder, "fare_products.txt, line 2, column rider_category_id", "not supported")


def test_structure_of_a_file(tmp_path):
    folder = broken(tmp_path / "1", "areas.txt", "Zone 2 (inner suburbs)", "Zone 2,inner")
    fails(folder, "areas.txt, line 3", "3 fields, the header has 2")
    folder = broken(tmp_path / "2", "areas.txt", "area_id,area_name", "area_id,area_id")
    fails(folder, "areas.txt, line 1, column area_id", "twice")
    folder = broken(tmp_path / "3", "areas.txt", "Z1", "Z1")
    (folder / "areas.txt").write_bytes(b"area_id,area_name\nZ1,Zone 1\nZ2,Zone \xff2\n")
    fails(folder, "areas.txt, line 3", "not UTF-8")
    folder = broken(tmp_path / "4", "areas.txt", "Z1", "Z1")
    (folder / "areas.txt").write_text("", encoding="utf-8")
    fails(folder, "areas.txt, line 1", "empty")


def test_missing_file_or_folder(tmp_path):
    folder = broken(tmp_path, "areas.txt", "Z1", "Z1")
    (folder / "fare_leg_rules.txt").unlink()
    fails(folder, "fare_leg_rules.txt", "missing")
    fails(tmp_path / "nowhere", "not a folder")


def test_a_bom_blank_lines_and_spaces_are_tolerated(tmp_path):
    folder = broken(tmp_path, "areas.txt", "Z1", "Z1")
    (folder / "areas.txt").write_bytes("\ufeffarea_id, area_name\r\n\r\nZ1 , Zone 1\r\nZ2,Zone 2\nZ3,Zone 3\n".encode())
    net = read_network(folder)
    assert sorted(net.areas) == ["Z1", "Z2", "Z3"]


def test_the_reader_reads_only_the_fare_files():
    assert "fare_capping.txt" in FILES and "stops.txt" not in FILES


# --- properties -----------------------------------------------------------------------------------------


@settings(max_examples=200)
@given(st.integers(0, 10**9), st.sampled_from(["SGD", "JPY", "KWD"]))
def test_amounts_are_read_exactly(minor, code):
    text = Money.of_minor(minor, code).major_str()
    net = products_only(f"p,{text},{code}")
    assert net.products["p"][0].amount == Money.of_minor(minor, code)


@settings(max_examples=200)
@given(st.text(st.sampled_from('abc,"\n\r 1.05SGD\ufeff\x00é'), max_size=60))
def test_a_garbled_file_is_a_fare_error_never_a_traceback(garbage):
    files = {"fare_products.txt": garbage, "fare_leg_rules.txt": "fare_product_id\np\n"}
    try:
        parse_network(files)
    except FareError:
        pass


@given(st.integers(0, 48 * 3600))
def test_times_round_trip(seconds):
    end = max(seconds, 1)
    start = max(0, end - 24 * 3600)  # a timeframe is at most a day long
    net = parse_network(
        {
            "fare_products.txt": "fare_product_id,amount,currency\np,1.00,SGD\n",
            "fare_leg_rules.txt": "fare_product_id\np\n",
            "timeframes.txt": f"timeframe_group_id,start_time,end_time\ng,{clock(start)},{clock(end)}\n",
        }
    )
    assert net.timeframes["g"] == (Timeframe("g", start, end),)


@given(st.integers(0, 180))
def test_the_bus_transfer_is_free_up_to_60_minutes(city_bus, minutes):
    journey = Journey.of(bus("S1", at(0, 8)), bus("S2", at(0, 8) + timedelta(minutes=minutes)))
    assert city_bus.journey_fare(journey).total == sgd("1.00" if minutes <= 60 else "2.00")


STATIONS = [f"M{n:02d}" for n in range(1, 13)]
metro_trips = st.lists(
    st.tuples(
        st.integers(0, 13),  # day after Monday 3 March: two weeks
        st.integers(0, 24 * 60 - 40),  # minute of the day of the tap-in
        st.sampled_from(STATIONS),
        st.sampled_from(STATIONS + [None]),  # None: no tap-out
    ),
    max_size=40,
)


def metro_journeys(trips) -> list[Journey]:
    return [trip(a, b, at(day, 0) + timedelta(minutes=minute)) for day, minute, a, b in trips]


@settings(max_examples=100)
@given(metro_trips, st.randoms(use_true_random=False))
def test_capping_never_charges_more_than_the_fare_or_the_caps(metro, trips, random):
    journeys = metro_journeys(trips)
    charges = metro.price(journeys)
    boundary = 16200
    spent_day: dict[date, int] = {}
    spent_week: dict[date, int] = {}
    for charge in charges:
        assert Money(0, charge.fare.currency) <= charge.charged <= charge.fare
        assert charge.penalty <= charge.charged
        if charge.charged < charge.fare:
            assert charge.capped_by is not None
        day = service_day(charge.journey.start, boundary)
        capped = (charge.charged - charge.penalty).minor
        spent_day[day] = spent_day.get(day, 0) + capped
        monday = day - timedelta(days=day.weekday())
        spent_week[monday] = spent_week.get(monday, 0) + capped
    assert all(total <= 600 for total in spent_day.values())
    assert all(total <= 2500 for total in spent_week.values())
    shuffled = list(range(len(journeys)))
    random.shuffle(shuffled)
    again = metro.price([journeys[i] for i in shuffled])
    # the charges do not depend on the order the journeys are given in (ties of start time aside)
    if len({j.start for j in journeys}) == len(journeys):
        assert [again[shuffled.index(i)].charged for i in range(len(journeys))] == [c.charged for c in charges]


one_day = st.lists(
    st.tuples(st.integers(5 * 60, 23 * 60), st.sampled_from(STATIONS), st.sampled_from(STATIONS)), max_size=12
)


@settings(max_examples=100)
@given(one_day)
def test_in_one_day_the_total_is_the_least_of_the_fares_and_the_daily_cap(metro, trips):
    # Monday, 05:00 to 23:40, every tap-out made: the weekly cap (25.00) cannot be reached in a day
    journeys = metro_journeys([(0, minute, a, b) for minute, a, b in trips])
    charges = metro.price(journeys)
    fares = sum(c.fare.minor for c in charges)
    assert sum(c.charged.minor for c in charges) == min(fares, 600)


def test_a_journeys_summary_line_said_in_a_riders_language():
    line = "2025-03-03 no tap-in -> M12 08:40 (2 riders) (maximum fare: no tap-in)"
    assert wording.said_in(line, "th") == "2025-03-03 ไม่ได้แตะเข้า -> M12 08:40 (ผู้โดยสาร 2 คน) (ค่าโดยสารสูงสุด: ไม่ได้แตะเข้า)"
    assert wording.said_in(line, "en") == line
