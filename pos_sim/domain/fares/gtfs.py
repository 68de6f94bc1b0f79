"""Read a GTFS-Fares v2 folder into a ``FareNetwork``: all of it, every reference checked, or a ``FareError``.

``read_network(folder)`` reads the files of a folder it is given (the only I/O of the package);
``parse_network(files)`` does the work on their contents, by file name. Files are CSV read with the
stdlib ``csv`` module, UTF-8 with or without a byte order mark; values are stripped of surrounding
spaces, an empty value is an empty field, blank lines are skipped, columns the reader does not know
are ignored (GTFS consumers do the same). Every fault is a ``FareError`` naming the file, the line
(the header is line 1) and the column.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from pos_sim.domain.errors import AmountError
from pos_sim.domain.fares.network import (
    DAY,
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
    Timeframe,
    clock,
)
from pos_sim.domain.money import Currency, Money, currency

AREAS = "areas.txt"
STOP_AREAS = "stop_areas.txt"
NETWORKS = "networks.txt"
ROUTE_NETWORKS = "route_networks.txt"
FARE_MEDIA = "fare_media.txt"
FARE_PRODUCTS = "fare_products.txt"
TIMEFRAMES = "timeframes.txt"
FARE_LEG_RULES = "fare_leg_rules.txt"
FARE_TRANSFER_RULES = "fare_transfer_rules.txt"
FARE_CAPPING = "fare_capping.txt"

FILES = (
    AREAS,
    STOP_AREAS,
    NETWORKS,
    ROUTE_NETWORKS,
    FARE_MEDIA,
    FARE_PRODUCTS,
    TIMEFRAMES,
    FARE_LEG_RULES,
    FARE_TRANSFER_RULES,
    FARE_CAPPING,
)
"""The files the reader reads, if present; any other file of the folder is left alone."""

REQUIRED_FILES = (FARE_PRODUCTS, FARE_LEG_RULES)

MAX_FILE_BYTES = 16 * 1024 * 1024
"""Largest fare file read, in bytes: a fare table is small, a bigger file is a mistake."""

_TIME = re.compile(r"([0-9]{1,2}):([0-5][0-9]):([0-5][0-9])")
_INTEGER = re.compile(r"[+-]?[0-9]{1,9}")


def read_network(folder: str | os.PathLike[str]) -> FareNetwork:
    """Read the GTFS-Fares v2 files (and the fare_capping.txt extension) of ``folder``."""
    path = Path(folder)
    if not path.is_dir():
        raise FareError(f"{str(folder)!r}: not a folder of GTFS fare files")
    files: dict[str, bytes] = {}
    for name in FILES:
        file = path / name
        if not file.exists():
            continue
        try:
            if file.stat().st_size > MAX_FILE_BYTES:
                raise FareError(f"larger than {MAX_FILE_BYTES} bytes", file=name)
            files[name] = file.read_bytes()
        except OSError as exc:
            raise FareError(f"cannot be read: {exc.strerror or exc}", file=name) from None
    return parse_network(files)


def parse_network(files: Mapping[str, str | bytes]) -> FareNetwork:
    """The fare network of these file contents (bytes are UTF-8), keyed by file name ("fare_products.txt")."""
    for name, content in files.items():
        if not isinstance(content, (str, bytes)):
            raise FareError(f"the contents of a file are text or bytes, got {type(content).__name__}", file=name)
    tables = {name: _Table.parse(name, content) for name, content in files.items() if name in FILES}
    for name in REQUIRED_FILES:
        if name not in tables:
            raise FareError("missing: every fare network needs it", file=name)
    return _Reader(tables).network()


# --- CSV tables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    file: str
    line: int
    values: Mapping[str, str]

    def get(self, column: str) -> str | None:
        """The column's value, ``None`` when empty or absent."""
        return self.values.get(column) or None

    def error(self, column: str | None, reason: str) -> FareError:
        return FareError(reason, file=self.file, line=self.line, column=column)


@dataclass(frozen=True)
class _Table:
    file: str
    columns: tuple[str, ...]
    rows: tuple[_Row, ...]

    @classmethod
    def parse(cls, file: str, content: str | bytes) -> _Table:
        text = _decode(file, content) if isinstance(content, bytes) else content.removeprefix("\ufeff")
        reader = csv.reader(io.StringIO(text, newline=""))
        header: list[str] | None = None
        rows = []
        read_lines = 0
        try:
            for fields in reader:
                line, read_lines = read_lines + 1, reader.line_num
                if not any(field.strip() for field in fields):
                    continue
                if header is None:
                    header = [field.strip() for field in fields]
                    seen = set()
                    for name in header:
                        if name and name in seen:
                            raise FareError("column named twice in the header", file=file, line=line, column=name)
                        seen.add(name)
                    continue
                if len(fields) != len(header):
                    raise FareError(f"{len(fields)} fields, the header has {len(header)}", file=file, line=line)
                values = {name: value.strip() for name, value in zip(header, fields, strict=True) if name}
                rows.append(_Row(file, line, MappingProxyType(values)))
        except csv.Error as exc:
            raise FareError(f"not CSV: {exc}", file=file, line=read_lines + 1) from None
        if header is None:
            raise FareError("empty: no header", file=file, line=1)
        return cls(file, tuple(name for name in header if name), tuple(rows))

    def require(self, *columns: str) -> None:
        for column in columns:
            if column not in self.columns:
                raise FareError("required column missing from the header", file=self.file, line=1, column=column)


def _decode(file: str, content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise FareError(f"not UTF-8 (byte {exc.start} of the file)", file=file, line=line) from None


# --- field values ----------------------------------------------------------------------------------


def _required(row: _Row, column: str) -> str:
    value = row.get(column)
    if value is None:
        raise row.error(column, "required, but empty")
    return value


def _integer(row: _Row, column: str, check: Callable[[int], bool], meaning: str) -> int | None:
    text = row.get(column)
    if text is None:
        return None
    if not _INTEGER.fullmatch(text) or not check(int(text)):
        raise row.error(column, f"{text!r}: not {meaning}")
    return int(text)


def _time(row: _Row, column: str, *, latest: int) -> int | None:
    """Seconds after midnight of an H:MM:SS or HH:MM:SS field, at most ``latest``; ``None`` when empty."""
    text = row.get(column)
    if text is None:
        return None
    match = _TIME.fullmatch(text)
    if match is None:
        raise row.error(column, f"{text!r}: not a time of the form HH:MM:SS")
    seconds = int(match[1]) * 3600 + int(match[2]) * 60 + int(match[3])
    if seconds > latest:
        raise row.error(column, f"{text!r}: later than {clock(latest)}")
    return seconds


def _currency(row: _Row, column: str) -> Currency:
    text = _required(row, column)
    try:
        return currency(text)
    except AmountError as exc:
        raise row.error(column, str(exc)) from None


def _money(row: _Row, amount_column: str, currency_column: str, feed: Currency | None) -> Money:
    cur = _currency(row, currency_column)
    if feed is not None and cur != feed:
        raise row.error(
            currency_column, f"{cur.code}: every product and cap of a network is in one currency, here {feed.code}"
        )
    text = _required(row, amount_column)
    try:
        return Money.of_major(text, cur)
    except AmountError as exc:
        raise row.error(amount_column, str(exc)) from None


def _unique(row: _Row, column: str, seen: dict, key: object, what: str) -> None:
    if key in seen:
        raise row.error(column, f"duplicate {what}: line {seen[key]} has it already")
    seen[key] = row.line


def _reference(row: _Row, column: str, known: Mapping | set | None, file: str) -> str | None:
    """The column's id, which must be one of ``known`` (the ids of ``file``; ``None``: the file is absent)."""
    value = row.get(column)
    if value is not None and (known is None or value not in known):
        where = f"not in {file}" if known is not None else f"unknown: there is no {file}"
        raise row.error(column, f"{value!r}: {where}")
    return value


def _network(row: _Row, networks: Mapping | None) -> str | None:
    """The row's network_id: one of networks.txt, or any id when there is no networks.txt (routes.txt may name it)."""
    return row.get("network_id") if networks is None else _reference(row, "network_id", networks, NETWORKS)


# --- the network -----------------------------------------------------------------------------------


class _Reader:
    """Reads the tables in the order their references need, keeping nothing until all is read."""

    def __init__(self, tables: Mapping[str, _Table]) -> None:
        self.tables = tables

    def rows(self, file: str, *required: str) -> Iterator[_Row]:
        table = self.tables.get(file)
        if table is None:
            return iter(())
        table.require(*required)
        return iter(table.rows)

    def network(self) -> FareNetwork:
        areas = self.areas()
        media = self.media()
        networks, network_rows = self.networks()
        route_networks = self.route_networks(networks)
        feed_currency, products = self.products(media)
        for row, _ in network_rows:
            _reference(row, "max_fare_product_id", products, FARE_PRODUCTS)
        stop_areas = self.stop_areas(areas)
        timeframes = self.timeframes()
        leg_rules = self.leg_rules(networks, areas, timeframes, products)
        transfer_rules = self.transfer_rules(leg_rules, products)
        caps = self.caps(networks, feed_currency)
        closed = networks is not None
        all_networks = dict(networks or {})
        if not closed:
            named = [*route_networks.values(), *(r.network_id for r in leg_rules), *(c.network_id for c in caps)]
            all_networks.update({n: Network(n) for n in named if n is not None})
        return FareNetwork(
            currency=feed_currency,
            products=MappingProxyType(products),
            leg_rules=leg_rules,
            transfer_rules=transfer_rules,
            areas=MappingProxyType(areas or {}),
            stop_areas=MappingProxyType(stop_areas),
            networks=MappingProxyType(all_networks),
            closed_networks=closed,
            route_networks=MappingProxyType(route_networks),
            media=MappingProxyType(media or {}),
            timeframes=MappingProxyType(timeframes or {}),
            caps=caps,
            has_rule_priority="rule_priority" in self.tables[FARE_LEG_RULES].columns,
        )

    def areas(self) -> dict[str, Area] | None:
        if AREAS not in self.tables:
            return None
        areas: dict[str, Area] = {}
        seen: dict = {}
        for row in self.rows(AREAS, "area_id"):
            area_id = _required(row, "area_id")
            _unique(row, "area_id", seen, area_id, "area_id")
            areas[area_id] = Area(area_id, row.get("area_name") or "")
        return areas

    def stop_areas(self, areas: Mapping[str, Area] | None) -> dict[str, frozenset[str]]:
        found: dict[str, set[str]] = {}
        seen: dict = {}
        for row in self.rows(STOP_AREAS, "area_id", "stop_id"):
            area_id = _required(row, "area_id")
            _reference(row, "area_id", areas, AREAS)
            stop_id = _required(row, "stop_id")
            _unique(row, "stop_id", seen, (area_id, stop_id), f"stop {stop_id!r} in area {area_id!r}")
            found.setdefault(stop_id, set()).add(area_id)
        return {stop: frozenset(ids) for stop, ids in found.items()}

    def networks(self) -> tuple[dict[str, Network] | None, list[tuple[_Row, Network]]]:
        if NETWORKS not in self.tables:
            return None, []
        networks: dict[str, Network] = {}
        rows = []
        seen: dict = {}
        for row in self.rows(NETWORKS, "network_id"):
            network_id = _required(row, "network_id")
            _unique(row, "network_id", seen, network_id, "network_id")
            network = Network(network_id, row.get("network_name") or "", row.get("max_fare_product_id"))
            networks[network_id] = network
            rows.append((row, network))
        return networks, rows

    def route_networks(self, networks: Mapping[str, Network] | None) -> dict[str, str]:
        routes: dict[str, str] = {}
        seen: dict = {}
        for row in self.rows(ROUTE_NETWORKS, "network_id", "route_id"):
            network_id = _required(row, "network_id")
            if networks is not None:
                _reference(row, "network_id", networks, NETWORKS)
            route_id = _required(row, "route_id")
            _unique(row, "route_id", seen, route_id, "route_id (a route is in one network)")
            routes[route_id] = network_id
        return routes

    def media(self) -> dict[str, FareMedium] | None:
        if FARE_MEDIA not in self.tables:
            return None
        media: dict[str, FareMedium] = {}
        seen: dict = {}
        for row in self.rows(FARE_MEDIA, "fare_media_id", "fare_media_type"):
            media_id = _required(row, "fare_media_id")
            _unique(row, "fare_media_id", seen, media_id, "fare_media_id")
            _required(row, "fare_media_type")
            media_type = _integer(row, "fare_media_type", lambda n: 0 <= n <= 4, "a fare media type 0 to 4")
            assert media_type is not None
            media[media_id] = FareMedium(media_id, row.get("fare_media_name") or "", media_type)
        return media

    def products(self, media: Mapping[str, FareMedium] | None) -> tuple[Currency, dict[str, tuple[FareProduct, ...]]]:
        products: dict[str, list[FareProduct]] = {}
        seen: dict = {}
        feed: Currency | None = None
        for row in self.rows(FARE_PRODUCTS, "fare_product_id", "amount", "currency"):
            product_id = _required(row, "fare_product_id")
            if row.get("rider_category_id") is not None:
                raise row.error("rider_category_id", "rider categories are not supported: leave it empty")
            media_id = _reference(row, "fare_media_id", media, FARE_MEDIA)
            _unique(
                row, "fare_product_id", seen, (product_id, media_id),
                "fare_product_id" + (f" for fare_media_id {media_id!r}" if media_id else " with no fare_media_id"),
            )
            amount = _money(row, "amount", "currency", feed)
            feed = amount.currency
            product = FareProduct(product_id, row.get("fare_product_name") or "", amount, media_id)
            products.setdefault(product_id, []).append(product)
        if feed is None:
            raise FareError("no fare products", file=FARE_PRODUCTS)
        return feed, {product_id: tuple(rows) for product_id, rows in products.items()}

    def timeframes(self) -> dict[str, tuple[Timeframe, ...]] | None:
        if TIMEFRAMES not in self.tables:
            return None
        groups: dict[str, list[Timeframe]] = {}
        for row in self.rows(TIMEFRAMES, "timeframe_group_id"):
            group = _required(row, "timeframe_group_id")
            start = _time(row, "start_time", latest=2 * DAY - 1)
            end = _time(row, "end_time", latest=2 * DAY)
            start = 0 if start is None else start
            end = DAY if end is None else end
            if end <= start:
                raise row.error("end_time", f"{clock(end)}: not after start_time {clock(start)}")
            if end - start > DAY:
                raise row.error("end_time", f"{clock(end)}: more than a day after start_time {clock(start)}")
            groups.setdefault(group, []).append(Timeframe(group, start, end, row.get("service_id") or ""))
        return {group: tuple(frames) for group, frames in groups.items()}

    def leg_rules(
        self,
        networks: Mapping[str, Network] | None,
        areas: Mapping[str, Area] | None,
        timeframes: Mapping[str, tuple[Timeframe, ...]] | None,
        products: Mapping[str, tuple[FareProduct, ...]],
    ) -> tuple[FareLegRule, ...]:
        rules = []
        seen: dict = {}
        for row in self.rows(FARE_LEG_RULES, "fare_product_id"):
            _required(row, "fare_product_id")
            rule = FareLegRule(
                fare_product_id=_reference(row, "fare_product_id", products, FARE_PRODUCTS) or "",
                leg_group_id=row.get("leg_group_id"),
                network_id=_network(row, networks),
                from_area_id=_reference(row, "from_area_id", areas, AREAS),
                to_area_id=_reference(row, "to_area_id", areas, AREAS),
                from_timeframe_group_id=_reference(row, "from_timeframe_group_id", timeframes, TIMEFRAMES),
                to_timeframe_group_id=_reference(row, "to_timeframe_group_id", timeframes, TIMEFRAMES),
                rule_priority=_integer(row, "rule_priority", lambda n: n >= 0, "a non-negative integer") or 0,
                line=row.line,
            )
            key = (
                rule.network_id, rule.from_area_id, rule.to_area_id,
                rule.from_timeframe_group_id, rule.to_timeframe_group_id, rule.fare_product_id,
            )
            _unique(row, "fare_product_id", seen, key, "rule (same network, areas, timeframes and product)")
            rules.append(rule)
        return tuple(rules)

    def transfer_rules(
        self, leg_rules: tuple[FareLegRule, ...], products: Mapping[str, tuple[FareProduct, ...]]
    ) -> tuple[FareTransferRule, ...]:
        groups = {rule.leg_group_id for rule in leg_rules if rule.leg_group_id is not None}
        rules = []
        seen: dict = {}
        for row in self.rows(FARE_TRANSFER_RULES, "fare_transfer_type"):
            from_group = row.get("from_leg_group_id")
            to_group = row.get("to_leg_group_id")
            for column in ("from_leg_group_id", "to_leg_group_id"):
                value = row.get(column)
                if value is not None and value not in groups:
                    raise row.error(column, f"{value!r}: no leg_group_id of {FARE_LEG_RULES}")
            count = _integer(row, "transfer_count", lambda n: n == -1 or n >= 1, "-1 (no limit) or a count from 1")
            if from_group == to_group and count is None:
                raise row.error("transfer_count", "required when from_leg_group_id equals to_leg_group_id")
            if from_group != to_group and count is not None:
                raise row.error("transfer_count", "forbidden when from_leg_group_id and to_leg_group_id differ")
            limit = _integer(row, "duration_limit", lambda n: n > 0, "a positive number of seconds")
            limit_type = _integer(row, "duration_limit_type", lambda n: 0 <= n <= 3, "a duration limit type 0 to 3")
            if limit is not None and limit_type is None:
                raise row.error("duration_limit_type", "required when duration_limit is given")
            if limit is None and limit_type is not None:
                raise row.error("duration_limit_type", "forbidden when duration_limit is empty")
            _required(row, "fare_transfer_type")
            transfer_type = _integer(row, "fare_transfer_type", lambda n: 0 <= n <= 2, "a fare transfer type 0 to 2")
            assert transfer_type is not None
            rule = FareTransferRule(
                fare_transfer_type=FareTransferType(transfer_type),
                from_leg_group_id=from_group,
                to_leg_group_id=to_group,
                transfer_count=count,
                duration_limit=limit,
                duration_limit_type=None if limit_type is None else DurationLimitType(limit_type),
                fare_product_id=_reference(row, "fare_product_id", products, FARE_PRODUCTS),
                line=row.line,
            )
            key = (from_group, to_group, rule.fare_product_id, count, limit)
            _unique(row, "from_leg_group_id", seen, key, "transfer rule (same leg groups, product, count and limit)")
            rules.append(rule)
        return tuple(rules)

    def caps(self, networks: Mapping[str, Network] | None, feed: Currency) -> tuple[Cap, ...]:
        caps = []
        seen: dict = {}
        for row in self.rows(FARE_CAPPING, "cap_id", "period", "amount", "currency"):
            cap_id = _required(row, "cap_id")
            _unique(row, "cap_id", seen, cap_id, "cap_id")
            network_id = _network(row, networks)
            period_text = _required(row, "period")
            try:
                period = CapPeriod(period_text.lower())
            except ValueError:
                raise row.error("period", f"{period_text!r}: not day or week") from None
            amount = _money(row, "amount", "currency", feed)
            if amount.minor <= 0:
                raise row.error("amount", f"{amount.major_str()!r}: a cap is more than zero")
            boundary = _time(row, "day_boundary", latest=DAY - 1)
            caps.append(Cap(cap_id, period, amount, network_id, boundary or 0, row.get("cap_name") or ""))
        return tuple(caps)
