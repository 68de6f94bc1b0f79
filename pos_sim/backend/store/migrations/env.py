"""Alembic's entry: migrations run on the connection ``bring_up_to_date`` (or ``__main__``) hands over,
compared with the store's tables. Dates are written as what they are in the database (a TIMESTAMP
WITH TIME ZONE), not as the store's Python type, so a revision never imports the code it migrates."""

from alembic import context

from pos_sim.backend.store import transit  # noqa: F401  (its tables are on the store's metadata)
from pos_sim.backend.store.tables import UtcDateTime, metadata


def render_item(kind: str, item: object, _autogen_context: object) -> str | bool:
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_item=render_item,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
context.run_migrations()
