"""Writes a new revision of the ledger's schema: ``python -m pos_sim.backend.store.migrations "what changed"``
(see the package's docstring)."""

import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from pos_sim.backend.store.migrations import config, head


def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{Path(scratch) / 'ledger.db'}")
        with engine.begin() as connection:
            alembic = config(connection)
            command.upgrade(alembic, "head")
            number = f"{int(head() or 0) + 1:04d}"
            script = command.revision(alembic, message, autogenerate=True, rev_id=number)
        engine.dispose()
    print(f"wrote {Path(script.path).name}: read it, then run the suite")


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].strip():
        sys.exit('usage: python -m pos_sim.backend.store.migrations "what changed"')
    main(sys.argv[1])
