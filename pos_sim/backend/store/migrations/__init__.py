"""The ledger's schema, versioned: Alembic migrations (``versions/``), run when a store is opened.

``bring_up_to_date`` makes a new database at the newest revision, upgrades one an older pos-sim made
(a ledger from before migrations, 0.1.0, is taken as the first revision), and refuses one a newer
pos-sim made, naming both revisions, without writing to it. It runs in the caller's transaction, and
on PostgreSQL under an advisory lock, so workers that start together migrate once.

A new revision, after changing the tables in ``store/tables.py`` or ``store/transit.py``:

    .venv/bin/python -m pos_sim.backend.store.migrations "what changed"

writes ``versions/NNNN_what_changed.py`` from the difference between the tables and the newest
revision (Alembic's autogenerate, on a scratch SQLite database): read it, mend it, then run the
suite (``tests/integration/test_migrations.py`` checks that the migrations make exactly the tables).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

FIRST = "0001"
"""The revision of the schema pos-sim 0.1.0 made with ``create_all``, before it had migrations."""
MIGRATION_LOCK = 0x706F732D73696D  # "pos-sim": the advisory lock the PostgreSQL migrations are taken under


class SchemaError(Exception):
    """A ledger this pos-sim cannot bring up to date: made by a newer one, or missing what a migration needs."""


def config(connection: Connection | None = None, key_dir: Path | None = None) -> Config:
    """Alembic's configuration: the migrations run on ``connection``; ``key_dir`` is the data dir's key
    folder, for the migrations that move keys out of the ledger."""
    alembic = Config()
    alembic.set_main_option("script_location", "pos_sim.backend.store:migrations")
    alembic.attributes["connection"] = connection
    alembic.attributes["key_dir"] = key_dir
    return alembic


def head() -> str:
    return ScriptDirectory.from_config(config()).get_current_head()


def _known(revisions: ScriptDirectory, revision: str) -> bool:
    try:
        return revisions.get_revision(revision) is not None
    except CommandError:  # Alembic's "Can't locate revision"
        return False


def bring_up_to_date(connection: Connection, key_dir: Path | None = None) -> None:
    """Make, or upgrade, the ledger's tables on ``connection`` to the newest revision (see the module);
    ``key_dir``: the data dir's key folder, where a migration moves keys the ledger held."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    alembic = config(connection, key_dir)
    revisions = ScriptDirectory.from_config(alembic)
    current = MigrationContext.configure(connection).get_current_heads()
    unknown = [revision for revision in current if not _known(revisions, revision)]
    if unknown:
        raise SchemaError(f"the ledger's schema is revision {', '.join(unknown)}, made by a newer pos-sim; this one knows "
                          f"revisions up to {revisions.get_current_head()}: open it with that newer pos-sim")
    if not current and inspect(connection).get_table_names():
        command.stamp(alembic, FIRST)  # a ledger from before migrations: pos-sim 0.1.0's schema
    command.upgrade(alembic, "head")
