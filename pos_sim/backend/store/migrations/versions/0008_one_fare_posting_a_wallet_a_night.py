"""One fare posting a wallet a clearing batch: each journey names the posting that paid it last.

Clearing made a posting (two ledger entries) per journey: a million taps, half a million postings and a million
entries, and every night's entries written into the ledger's index by wallet at a page a rider, more pages the
longer the history (docs/benchmarks.md). Now a wallet pays a night's fares in one posting per operator (charges
and refunds apart), as contactless metro systems charge a card once a day, and the wallet's history lists the
posting's journeys from ``transit_journeys.posting_id`` (indexed). The journeys paid before keep their own
postings (ref: the journey's first tap id), named here: the newest fare posting of each journey's key.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 07:15:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("transit_journeys") as batch_op:  # on SQLite the table made again, its rows kept
        batch_op.add_column(sa.Column("posting_id", sa.Text(), nullable=True))
        batch_op.create_foreign_key("fk_transit_journeys_posting_id", "postings", ["posting_id"], ["id"])
    # the last fare posting of each journey's key (the newest; ids of pos-sim 0.1.0 are random, so by time first)
    op.execute("UPDATE transit_journeys SET posting_id = paid_by.id FROM (SELECT ref, id FROM (SELECT ref, id,"
               " row_number() OVER (PARTITION BY ref ORDER BY created_at DESC, id DESC) AS newest FROM postings"
               " WHERE kind IN ('fare', 'fare-refund')) AS fares WHERE newest = 1) AS paid_by"
               " WHERE paid_by.ref = transit_journeys.journey_key")
    op.create_index("ix_transit_journeys_posting_id", "transit_journeys", ["posting_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_transit_journeys_posting_id", table_name="transit_journeys")
    with op.batch_alter_table("transit_journeys") as batch_op:
        batch_op.drop_constraint("fk_transit_journeys_posting_id", type_="foreignkey")
        batch_op.drop_column("posting_id")
