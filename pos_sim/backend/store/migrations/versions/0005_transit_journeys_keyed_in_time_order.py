"""Transit journeys keyed in time order within their account: (account, started_ms, journey_key).

Clearing wrote each journey into two indexes keyed by account, the primary key (account, journey_key) at a
random place among the account's keys and (account, started_ms); a night's clearing dirtied a page of
each per account, more of them every night as the tables grew (the growth of a night's cost with history,
docs/benchmarks.md). One primary key in time order serves both lookups, and a night's journeys go at the
end of each account's keys. ``started_ms`` is the first tap's time, fixed with the journey's key, so a
journey is as unique as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 21:40:00

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _primary_key(columns: list[str]) -> None:
    with op.batch_alter_table("transit_journeys") as batch_op:  # on SQLite the table made again, its rows kept
        batch_op.drop_constraint("pk_transit_journeys", type_="primary")
        batch_op.create_primary_key("pk_transit_journeys", columns)


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_index("ix_transit_journeys_account_started_ms", table_name="transit_journeys")
    _primary_key(["account", "started_ms", "journey_key"])


def downgrade() -> None:
    """Downgrade schema."""
    _primary_key(["account", "journey_key"])
    op.create_index("ix_transit_journeys_account_started_ms", "transit_journeys", ["account", "started_ms"], unique=False)
