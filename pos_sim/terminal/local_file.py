"""The terminal's own SQLite files (the payment journal, the sales book): opened durable and checked.

Each file is WAL with ``synchronous=FULL`` (a commit is on disk before the terminal acts on it),
marked with an ``application_id`` so that another program's database is refused rather than
written into, and versioned with ``user_version``. Its schema is made, in one transaction, the first
time it is opened; a file of an older version is brought up to date by the kind's migrations, all in
one transaction (a failed one leaves the file as it was); a file of a newer pos-sim is refused, untouched.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pos_sim.terminal.errors import TerminalError


@dataclass(frozen=True)
class FileKind:
    """What a file is: its name in messages, its mark, its schema and version, the error it raises,
    what to write in a new file after the schema (``seed``), and the SQL that takes a file of each
    older version to the next (``migrations[1]`` from version 1 to 2, ...); ``schema`` is the newest."""

    name: str
    application_id: int
    schema: str
    version: int
    error: type[TerminalError]
    seed: Callable[[sqlite3.Connection], None] = lambda _db: None
    migrations: dict[int, str] = field(default_factory=dict)


def why(exc: sqlite3.Error) -> str:
    return str(exc) or type(exc).__name__


def check_path(path: Path, kind: FileKind) -> Path:
    """``path`` as a Path whose folder exists (made if need be); the kind's error if it cannot be."""
    path = Path(path)
    if path.is_dir():
        raise kind.error(f"{path}: a directory, not a {kind.name} file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise kind.error(f"{path}: cannot create its folder ({exc.strerror or exc})") from None
    return path


def connect(path: Path, kind: FileKind) -> sqlite3.Connection:
    """An autocommit connection to the ``kind`` file at ``path`` (see ``check_path``), made and checked."""
    try:
        db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise kind.error(f"{path}: cannot open the {kind.name} ({why(exc)})") from None
    try:
        _prepare(path, db, kind)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise kind.error(f"{path}: cannot use it as a {kind.name} ({why(exc)})") from None
    except TerminalError:
        db.close()
        raise
    return db


def _prepare(path: Path, db: sqlite3.Connection, kind: FileKind) -> None:
    application_id = db.execute("PRAGMA application_id").fetchone()[0]
    has_tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    if has_tables and application_id != kind.application_id:
        raise kind.error(f"{path}: a SQLite database, but not a pos-sim {kind.name}; choose another file")
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise kind.error(f"{path}: SQLite cannot use WAL mode there (it answered {mode!r}); choose a local disk")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > kind.version:
        raise kind.error(f"{path}: written by a newer pos-sim ({kind.name} version {version}, this one reads {kind.version})")
    if has_tables and version == kind.version:
        return
    if has_tables and (missing := [v for v in range(version, kind.version) if v not in kind.migrations]):
        raise kind.error(f"{path}: a {kind.name} of version {version}, and this pos-sim has no migration from version "
                         f"{missing[0]} to {missing[0] + 1}")
    db.execute("BEGIN IMMEDIATE")
    try:
        if has_tables:
            for step in range(version, kind.version):
                _run(db, kind.migrations[step])
        else:
            _run(db, kind.schema)
            kind.seed(db)
            db.execute(f"PRAGMA application_id={kind.application_id}")
        db.execute(f"PRAGMA user_version={kind.version}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _run(db: sqlite3.Connection, script: str) -> None:
    for statement in filter(str.strip, script.split(";")):
        db.execute(statement)
