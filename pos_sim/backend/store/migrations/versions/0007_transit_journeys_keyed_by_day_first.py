"""Transit journeys keyed by day first: (started_day, account, started_ms, journey_key); the unpaid ones by account.

Keyed by account first, a night's clearing wrote each rider's journeys on a page of the rider's own in the key's
index, so the pages a night wrote grew with the history behind it (120 of that index on day 1, 2,871 on day 30 of
10,000 taps a day: docs/benchmarks.md). The day first (the first tap's local day, from its gate's UTC offset: a
night's riding is one day, where in UTC it may straddle two) puts a night's journeys at the end of the key, on as
many pages as they fill. Clearing reads an account's journeys from its checkpoint on day by day (a few days); the
journeys not fully paid, read by account (a debtor's, a wallet's standing), get an index of their own, which holds
only them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 05:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UNPAID = sa.text("amount <> paid OR error IS NOT NULL")


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("transit_journeys", sa.Column("started_day", sa.BigInteger(), nullable=True))
    # the local day of its first tap (the journey's key): at_ms >= 0 and the offset under a day, so / is a floor
    op.execute("UPDATE transit_journeys SET started_day = (started_ms + 1000 * COALESCE((SELECT utc_offset_s FROM"
               " transit_taps WHERE transit_taps.tap_id = transit_journeys.journey_key), 0)) / 86400000")
    with op.batch_alter_table("transit_journeys") as batch_op:  # on SQLite the table made again, its rows kept
        batch_op.alter_column("started_day", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_constraint("pk_transit_journeys", type_="primary")
        batch_op.create_primary_key("pk_transit_journeys", ["started_day", "account", "started_ms", "journey_key"])
    op.create_index("ix_transit_journeys_unpaid", "transit_journeys", ["account", "started_ms"],
                    sqlite_where=UNPAID, postgresql_where=UNPAID)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_transit_journeys_unpaid", table_name="transit_journeys")
    with op.batch_alter_table("transit_journeys") as batch_op:
        batch_op.drop_constraint("pk_transit_journeys", type_="primary")
        batch_op.create_primary_key("pk_transit_journeys", ["account", "started_ms", "journey_key"])
        batch_op.drop_column("started_day")
