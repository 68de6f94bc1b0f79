"""The values a fare network is made of, as read from its GTFS-Fares v2 files, and ``FareError``."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pos_sim.domain.errors import DomainError
from pos_sim.domain.money import Currency, Money

DAY = 24 * 3600
"""Seconds in a day: timeframe times and day boundaries are seconds after midnight."""


class FareError(DomainError):
    """A fare network that cannot be read, or a journey it cannot price.

    For a fault in a file, ``file`` is its name ("fare_products.txt"), ``line`` the 1-based line of
    the CSV (the header is line 1) and ``column`` the column concerned, as far as they are known;
    ``reason`` says what is wrong. The message reads "fare_products.txt, line 3, column amount: ...".
    """

    def __init__(
        self, reason: str, *, file: str | None = None, line: int | None = None, column: str | None = None
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.column = column
        where = []
        if file is not None:
            where.append(file)
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {reason}" if where else reason)


class NoFareError(FareError):
    """A leg that no rule of the network prices: the spec's "the fare is unknown"."""


def clock(seconds: int) -> str:
    """Seconds after midnight as GTFS writes a time: 27000 -> "07:30:00", 93600 -> "26:00:00"."""
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass(frozen=True)
class Area:
    """An area (a fare zone) of areas.txt."""

    area_id: str
    name: str = ""


@dataclass(frozen=True)
class Network:
    """A route network of networks.txt (or one only named by route_networks.txt or a rule).

    ``max_fare_product_id`` (an extension column of networks.txt) makes the network a tap-in/tap-out
    one: a leg on it without a tap-out is charged that product, uncapped.
    """

    network_id: str
    name: str = ""
    max_fare_product_id: str | None = None


@dataclass(frozen=True)
class FareMedium:
    """A fare medium of fare_media.txt: ``media_type`` 0 none, 1 paper, 2 card, 3 cEMV, 4 mobile app."""

    fare_media_id: str
    name: str
    media_type: int


@dataclass(frozen=True)
class FareProduct:
    """One row of fare_products.txt: a product's price on one medium (``None``: any/unknown medium)."""

    fare_product_id: str
    name: str
    amount: Money
    fare_media_id: str | None = None


@dataclass(frozen=True)
class Timeframe:
    """One row of timeframes.txt: ``start`` <= time of day < ``end``, in seconds after midnight.

    ``end`` may pass 24:00:00 (up to 48:00:00): the timeframe then runs on past midnight.
    """

    timeframe_group_id: str
    start: int = 0
    end: int = DAY
    service_id: str = ""

    def contains(self, seconds: int) -> bool:
        """Whether the time of day ``seconds`` (0 <= seconds < 86400) falls in the timeframe."""
        return self.start <= seconds < self.end or self.start <= seconds + DAY < self.end


@dataclass(frozen=True)
class FareLegRule:
    """One row of fare_leg_rules.txt; ``None`` is an empty field. ``line`` is its line in the file."""

    fare_product_id: str
    leg_group_id: str | None = None
    network_id: str | None = None
    from_area_id: str | None = None
    to_area_id: str | None = None
    from_timeframe_group_id: str | None = None
    to_timeframe_group_id: str | None = None
    rule_priority: int = 0
    line: int = 0


class DurationLimitType(enum.IntEnum):
    """Where a transfer's ``duration_limit`` is measured from and to (first and last leg of the transfer)."""

    DEPARTURE_TO_ARRIVAL = 0
    DEPARTURE_TO_DEPARTURE = 1
    ARRIVAL_TO_DEPARTURE = 2
    ARRIVAL_TO_ARRIVAL = 3


class FareTransferType(enum.IntEnum):
    """How a transfer is paid: A + AB, A + AB + B, or AB (A, B the legs' fares, AB the transfer product)."""

    FROM_LEG_PLUS_TRANSFER = 0
    FROM_LEG_PLUS_TRANSFER_PLUS_TO_LEG = 1
    TRANSFER_ONLY = 2


@dataclass(frozen=True)
class FareTransferRule:
    """One row of fare_transfer_rules.txt; ``None`` is an empty field.

    ``transfer_count`` -1 is no limit; ``duration_limit`` is in seconds; an empty ``fare_product_id``
    costs nothing (a free transfer).
    """

    fare_transfer_type: FareTransferType
    from_leg_group_id: str | None = None
    to_leg_group_id: str | None = None
    transfer_count: int | None = None
    duration_limit: int | None = None
    duration_limit_type: DurationLimitType | None = None
    fare_product_id: str | None = None
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str | None]:
        """The leg groups it joins: consecutive transfers by rules of the same key form one chain."""
        return (self.from_leg_group_id, self.to_leg_group_id)


class CapPeriod(enum.Enum):
    """How long a fare cap runs: one service day, or a Monday-to-Sunday week of service days."""

    DAY = "day"
    WEEK = "week"


@dataclass(frozen=True)
class Cap:
    """One row of fare_capping.txt (an extension): at most ``amount`` a ``period`` on ``network_id``.

    ``network_id`` ``None`` caps every network. ``day_boundary`` (seconds after midnight) is when a
    service day begins: a journey starting earlier belongs to the previous day.
    """

    cap_id: str
    period: CapPeriod
    amount: Money
    network_id: str | None = None
    day_boundary: int = 0
    name: str = ""  # what riders call it ("Daily cap"); empty: the file names it not


def _empty() -> Mapping:
    return MappingProxyType({})


@dataclass(frozen=True)
class FareNetwork:
    """A fare network read from a GTFS-Fares v2 folder: every reference checked, one currency.

    ``networks`` holds every network a leg may name; ``closed_networks`` says whether that list is
    closed (networks.txt was given) or open (any network id is taken, as GTFS routes.txt may name it).
    ``stop_areas`` maps a stop to the areas it is in; ``products`` a product id to its rows (one per
    medium); ``timeframes`` a group to its intervals. ``has_rule_priority`` says whether
    fare_leg_rules.txt has the rule_priority column, which changes what an empty field means.
    """

    currency: Currency
    products: Mapping[str, tuple[FareProduct, ...]]
    leg_rules: tuple[FareLegRule, ...]
    transfer_rules: tuple[FareTransferRule, ...] = ()
    areas: Mapping[str, Area] = field(default_factory=_empty)
    stop_areas: Mapping[str, frozenset[str]] = field(default_factory=_empty)
    networks: Mapping[str, Network] = field(default_factory=_empty)
    closed_networks: bool = False
    route_networks: Mapping[str, str] = field(default_factory=_empty)
    media: Mapping[str, FareMedium] = field(default_factory=_empty)
    timeframes: Mapping[str, tuple[Timeframe, ...]] = field(default_factory=_empty)
    caps: tuple[Cap, ...] = ()
    has_rule_priority: bool = False

    def areas_of(self, stop_id: str) -> frozenset[str]:
        """The areas stop_areas.txt puts ``stop_id`` in (none for a stop it does not name)."""
        return self.stop_areas.get(stop_id, frozenset())

    def network_of_route(self, route_id: str) -> str:
        """The network route_networks.txt puts ``route_id`` in."""
        try:
            return self.route_networks[route_id]
        except KeyError:
            raise FareError(f"route {route_id!r} is in no network of route_networks.txt") from None
