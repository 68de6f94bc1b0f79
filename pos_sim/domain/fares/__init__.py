"""Transit fares from GTFS-Fares v2 files, with fare capping: what a gate charges a rider.

Read a network with ``read_network(folder)`` (``parse_network(files)`` for file contents), then
``Fares(network).price(journeys)`` charges one rider's journeys::

    network = read_network("pos_sim/assets/transit/metro")
    fares = Fares(network)
    leg = Leg("metro", "M01", datetime(2025, 3, 3, 8, 0), "M12", datetime(2025, 3, 3, 8, 40))
    [charge] = fares.price([Journey.of(leg)])   # charge.fare, charge.charged, charge.capped_by

``fares.journeys(legs)`` groups a rider's taps into journeys (a leg joins the one before while a
transfer rule links them); ``fares.journey_fare`` and ``fares.leg_fare`` price before capping.

Money is exact: every amount is a ``Money`` of integer minor units, read from the files' decimal
text by ``Money.of_major`` ("1.005" SGD is an error, never rounded). All products and caps of a
network are in one currency.

The GTFS-Fares v2 files read (field names and meanings as the GTFS reference defines them):

- ``fare_products.txt`` (required): fare_product_id, fare_product_name, fare_media_id, amount,
  currency. A product may have a row per medium; ``Fares(network, fare_media_id)`` prices with that
  medium's row, else the row with no medium; with no medium given, the cheapest row.
- ``fare_leg_rules.txt`` (required): leg_group_id, network_id, from_area_id, to_area_id,
  from_timeframe_group_id, to_timeframe_group_id, fare_product_id, rule_priority. A leg is matched
  on its network, the areas of its tap-in and tap-out stops, the time of day of its start (from
  timeframe) and end (to timeframe). With a rule_priority column, an empty field matches anything
  and the matches of the highest priority are kept; without it, an empty network or area matches
  only the values no rule names (the spec's "all ... excluding the ones listed"). An empty
  timeframe group matches any time. Of several matches left, the cheapest product wins (then the
  earlier line). No match is a ``NoFareError``.
- ``fare_transfer_rules.txt``: from_leg_group_id, to_leg_group_id, transfer_count, duration_limit,
  duration_limit_type, fare_transfer_type, fare_product_id, with the spec's meanings: rules between
  the two legs' groups, else those with empty groups; transfer_count -1 no limit, else the most
  transfers a chain of the same rule may span (the least count that suffices is chosen);
  duration_limit in seconds (inclusive) from the chain's first leg, measured per
  duration_limit_type (0 departure to arrival, 1 departure to departure, 2 arrival to departure,
  3 arrival to arrival; a time the legs lack fails the limit); fare_transfer_type 0 A + AB,
  1 A + AB + B, 2 AB; an empty fare_product_id costs 0, so type 0 with no product is a free
  transfer.
- ``timeframes.txt``: timeframe_group_id, start_time, end_time, service_id. An empty start_time is
  00:00:00, an empty end_time 24:00:00. The spec forbids times past 24:00:00; earlier drafts of
  Fares v2 allowed them, and they are read here as running on past midnight (22:00:00-26:00:00 is
  22:00 to 02:00). **service_id is read but not matched against a calendar: every day is taken as
  in service**, so calendar.txt and calendar_dates.txt are not read.
- ``areas.txt`` (area_id, area_name), ``stop_areas.txt`` (area_id, stop_id; a stop may be in several
  areas), ``fare_media.txt`` (fare_media_id, fare_media_name, fare_media_type).
- ``networks.txt`` (network_id, network_name) and ``route_networks.txt`` (network_id, route_id:
  ``FareNetwork.network_of_route`` gives a route's network). With networks.txt, a leg or rule must
  name one of its networks; without it any network id is taken (routes.txt may define it).

Two extensions, not in GTFS:

- **Max fare.** ``networks.txt`` may have a ``max_fare_product_id`` column: the product charged for a
  leg on that network with no tap-out (``Leg`` without ``to_stop_id``/``end``). A network with one is a
  tap-in/tap-out network; on a network without one (a tap-on bus) a leg without a tap-out is priced
  by the rules as usual. A max fare is never capped and counts towards no cap, as on London's
  Oyster: a cap must not make a missing tap-out free. ``Charge.penalty`` shows it.
- **Capping**, the file ``fare_capping.txt``, one cap a row:

  - ``cap_id`` (required): unique id of the cap.
  - ``cap_name`` (optional): what riders call it ("Daily cap"), as ``fare_product_name`` names a product.
  - ``network_id`` (optional): the network whose journeys it caps; empty caps every network. A
    journey counts if all its paid legs are on that network.
  - ``period`` (required): ``day`` (a service day) or ``week`` (Monday to Sunday, by service day).
  - ``amount`` (required): the most a rider pays in a period, more than zero.
  - ``currency`` (required): ISO 4217 code, the network's currency.
  - ``day_boundary`` (optional): when the service day begins, HH:MM:SS before 24:00:00 (empty:
    00:00:00). A journey starting earlier belongs to the previous day's service day.

  Journeys are charged in time order (of their first tap-in); a journey belongs to the service
  day and week its first leg starts in. A charge is the least of the journey's fare and what each
  cap covering it has left, so a daily and a weekly cap work together: ``Charge.capped_by`` names
  the cap that limited it (of caps with as little left, the first in the file).

Left out of GTFS-Fares v2: calendar matching of timeframes (above); rider_categories.txt (a
non-empty rider_category_id is refused); fare_leg_join_rules.txt (effective fare legs); contains
areas and route-based matching beyond networks; timezones (leg times are wall-clock local times);
the legacy fare_attributes.txt and fare_rules.txt. Errors in a file are ``FareError`` naming the
file, the line (header = line 1) and the column; nothing is kept of a network that fails to read.
"""

from pos_sim.domain.fares.capping import Charge, Fares, cap_period, service_day
from pos_sim.domain.fares.gtfs import FILES, parse_network, read_network
from pos_sim.domain.fares.network import (
    Area,
    Cap,
    CapPeriod,
    DurationLimitType,
    FareError,
    FareLegRule,
    FareMedium,
    FareNetwork,
    FareProduct,
    FareTransferRule,
    FareTransferType,
    Network,
    NoFareError,
    Timeframe,
)
from pos_sim.domain.fares.rules import (
    Journey,
    JourneyFare,
    Leg,
    LegFare,
    matching_rules,
    matching_transfer_rules,
    price_journey,
    price_leg,
    product_price,
)

__all__ = [
    "FILES",
    "Area",
    "Cap",
    "CapPeriod",
    "Charge",
    "DurationLimitType",
    "FareError",
    "FareLegRule",
    "FareMedium",
    "FareNetwork",
    "FareProduct",
    "FareTransferRule",
    "FareTransferType",
    "Fares",
    "Journey",
    "JourneyFare",
    "Leg",
    "LegFare",
    "Network",
    "NoFareError",
    "Timeframe",
    "cap_period",
    "matching_rules",
    "matching_transfer_rules",
    "parse_network",
    "price_journey",
    "price_leg",
    "product_price",
    "read_network",
    "service_day",
]
