"""The statements of the hot paths (a pay runs eight), compiled once and sent to the database driver's cursor.

Through SQLAlchemy, running a statement built once still costs 17-28 µs of Python (its events, the compiled
cache, a result object), several times what SQLite takes to run it; here, 2-6 µs. A ``Statement`` is compiled by SQLAlchemy
once a dialect and set of parameter names, with the types' own conversions (a ``UtcDateTime`` is written as
SQLAlchemy writes it), and run on the transaction's driver connection, inside the transaction SQLAlchemy
began. A driver error is raised as SQLAlchemy raises it (``DBAPIError.instance``: an ``IntegrityError`` for a
taken key...), so the callers catch what they caught before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

Processor = Callable[[Any], Any]


def _taking(names: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``values`` -> the tuple of ``values[name]`` for each of ``names``: in one call when there are two or more
    (``itemgetter``; one by one, a pay's 50 or so parameters cost it 24,000 instructions more: counted in
    docs/benchmarks.md)."""
    if len(names) >= 2:
        return itemgetter(*names)
    return lambda values: tuple(values[name] for name in names)


class _Compiled:
    """A statement as one dialect runs it, for one set of parameter names."""

    def __init__(self, construct: Any, dialect: Dialect, names: Sequence[str]) -> None:
        compiled = construct.compile(dialect=dialect, column_keys=list(names))
        if "POSTCOMPILE" in compiled.string or compiled.insert_prefetch or compiled.update_prefetch:
            raise TypeError(f"{compiled.string[:60]}...: a statement with an expanding parameter or a Python-side"
                            " default runs through SQLAlchemy")
        self.sql = compiled.string
        self.defaults = {name: value for name, value in compiled.params.items() if value is not None}
        types = {name: bind.type for bind, name in compiled.bind_names.items()}
        binds = {name: process for name, type_ in types.items()
                 if (process := type_.dialect_impl(dialect).bind_processor(dialect)) is not None}
        self.binds = list(binds.items())
        if compiled.positional:  # a positional driver's (SQLite's "?") parameters, in the statement's order
            order = compiled.positiontup or ()
            self.ordered: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None = _taking(order)
            # converted where they stand, once taken: no copy of the parameters made to convert them
            self.converted = [(index, binds[name]) for index, name in enumerate(order) if name in binds]
        else:
            self.ordered, self.converted = None, []
        columns = getattr(construct, "exported_columns", ())
        self.returns_rows = bool(columns)  # a SELECT, or RETURNING
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]
        self.results: list[Processor | None] | None = processors if any(processors) else None
        self.error = dialect.loaded_dbapi.Error
        self.dialect = dialect

    def arguments(self, params: Mapping[str, Any]) -> Any:
        """The driver's arguments for ``params``: each converted by its type, in the statement's order."""
        if self.defaults:
            params = self.defaults | params
        if self.ordered is None:
            values = dict(params)
            for name, process in self.binds:
                values[name] = process(values[name])
            return values
        taken = self.ordered(params)
        if not self.converted:
            return taken
        arguments = list(taken)
        for index, process in self.converted:
            arguments[index] = process(arguments[index])
        return arguments

    def row(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """A row of the driver's, each value converted by its column's type."""
        assert self.results is not None
        return tuple(value if process is None else process(value) for process, value in zip(self.results, row))


class Driver:
    """A transaction's way to its database driver: the dialect, and one cursor its statements share, taken once a
    transaction rather than once a statement. Each statement's rows are read before it returns (``rows``,
    ``first``, ``run``): SQLite holds a statement whose rows are unread in progress, and refuses to commit."""

    __slots__ = ("dialect", "name", "cursor")

    def __init__(self, conn: Connection) -> None:
        self.dialect = conn.dialect
        self.name = conn.dialect.name
        self.cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


class Statement:
    """A SQLAlchemy Core statement (select, insert, update, delete; RETURNING too), run on the driver."""

    def __init__(self, construct: Executable) -> None:
        self.construct = construct
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def _as(self, driver: Driver, names: tuple[str, ...]) -> _Compiled:
        compiled = self._compiled.get((driver.name, names))
        if compiled is None:
            compiled = self._compiled[(driver.name, names)] = _Compiled(self.construct, driver.dialect, names)
        return compiled

    def _run(self, driver: Driver, params: Any, many: bool = False) -> _Compiled:
        """Run it on the transaction's cursor, once, or once a row of ``params`` (``many``)."""
        compiled = self._as(driver, tuple(params[0] if many else params))
        try:
            if many:
                driver.cursor.executemany(compiled.sql, [compiled.arguments(row) for row in params])
            else:
                driver.cursor.execute(compiled.sql, compiled.arguments(params))
        except compiled.error as exc:
            raise DBAPIError.instance(compiled.sql, params, exc, compiled.error, dialect=compiled.dialect) from exc
        return compiled

    def rows(self, driver: Driver, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run it; the rows it answers (a SELECT's, or RETURNING's), each a tuple."""
        compiled = self._run(driver, params)
        rows = driver.cursor.fetchall()
        return rows if compiled.results is None else [compiled.row(row) for row in rows]

    def first(self, driver: Driver, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run it; its first row, or None."""
        compiled = self._run(driver, params)
        rows = driver.cursor.fetchall()
        if not rows:
            return None
        return rows[0] if compiled.results is None else compiled.row(rows[0])

    def run(self, driver: Driver, params: Mapping[str, Any]) -> int:
        """Run it; how many rows it changed. Rows it answers are read and dropped: SQLite holds a statement whose
        rows are unread in progress, and refuses to commit while one is."""
        compiled = self._run(driver, params)
        if compiled.returns_rows:
            driver.cursor.fetchall()
        return driver.cursor.rowcount

    def run_many(self, driver: Driver, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run it once a row of parameters (every row with the same names), in one call to the driver."""
        if rows:
            self._run(driver, rows, many=True)
