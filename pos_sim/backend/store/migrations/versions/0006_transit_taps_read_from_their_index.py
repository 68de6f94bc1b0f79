"""Transit taps read by clearing from one index: (account, at_ms, tap_id) and every column clearing reads.

Clearing read a batch's taps through (account, at_ms), then each tap's row from the table: gates upload taps
in no order of account, so a batch's rows lie on pages all over the table, and the rows were sorted again
by tap id. The index holds the columns clearing reads, in the order it reads them, so a batch's taps are a
run of neighbouring index pages (docs/benchmarks.md, "Issue 18, on 2026-12-07"). It serves every lookup
the index it replaces served (its first two columns are that index's).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 00:00:00

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

READ = ["account", "at_ms", "tap_id", "decision", "direction", "station_id", "utc_offset_s", "companions", "client_id", "code"]


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index("ix_transit_taps_account_at_ms_tap_id", "transit_taps", READ, unique=False)
    op.drop_index("ix_transit_taps_account_at_ms", table_name="transit_taps")


def downgrade() -> None:
    """Downgrade schema."""
    op.create_index("ix_transit_taps_account_at_ms", "transit_taps", ["account", "at_ms"], unique=False)
    op.drop_index("ix_transit_taps_account_at_ms_tap_id", table_name="transit_taps")
