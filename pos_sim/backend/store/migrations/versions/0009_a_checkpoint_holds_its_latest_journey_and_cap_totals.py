"""An account's checkpoint holds its latest journey's start and its cap totals: a night's clearing reads and writes
one row an account for them, and reads no journeys of accounts that have none from their checkpoint on; what a
debtor owes is read from the unpaid journeys' index alone.

What a night's clearing read and wrote more of on night 30 than on night 1 (callgrind, docs/benchmarks.md): (1) for
every account priced, its journeys from its checkpoint on, a query a day of the key by day: about 2,500 journeys read
and dropped a batch of 1,000 accounts, none at or after a checkpoint (every journey before a checkpoint is final, and
most accounts have none after theirs); now ``latest_journey_ms``, the first tap's time of the account's latest
journey, says whether it has any. (2) ``transit_cap_totals``, a row per account, rider, cap and open period (four a
rider by the second week), read, deleted and inserted again every night; now ``cap_totals``, the same totals as
JSON in the account's checkpoint row, which clearing reads and updates anyway. (3) What each debtor owes, summed
over its unpaid journeys through ``ix_transit_journeys_unpaid`` and their rows, a page a journey all over the
table (1,600 pages on night 30 for 67 debtors); the index now holds what those sums read (amount, paid, error).

Filled here: each account's latest journey from its journeys; an account with journeys and no checkpoint (a ledger
of pos-sim 0.1.0 not cleared since) gets one at 0, priced from its first tap as clearing did with no checkpoint; the
totals of each account as clearing writes them (``clearing.cap_totals_text``: [rider, cap id, the period's first
day counted from 1970-01-01, spent], sorted). Downgrade puts them back as rows.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:40:00

"""
import json
from collections import defaultdict
from datetime import date
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

EPOCH_DAY = date(1970, 1, 1).toordinal()


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("transit_checkpoints", sa.Column("latest_journey_ms", sa.BigInteger(), nullable=True))
    op.add_column("transit_checkpoints", sa.Column("cap_totals", sa.Text(), nullable=True))
    op.execute("INSERT INTO transit_checkpoints (account, before_ms) SELECT DISTINCT account, 0 FROM transit_journeys"
               " WHERE account NOT IN (SELECT account FROM transit_checkpoints)")
    op.execute("UPDATE transit_checkpoints SET latest_journey_ms = latest.started_ms FROM (SELECT account,"
               " max(started_ms) AS started_ms FROM transit_journeys GROUP BY account) AS latest"
               " WHERE latest.account = transit_checkpoints.account")
    conn = op.get_bind()
    totals: dict[str, list[list]] = defaultdict(list)
    for account, rider, cap_id, period, spent in conn.execute(sa.text(
            "SELECT account, rider, cap_id, period, spent FROM transit_cap_totals")):
        totals[account].append([rider, cap_id, date.fromisoformat(period).toordinal() - EPOCH_DAY, spent])
    if totals:
        conn.execute(sa.text("UPDATE transit_checkpoints SET cap_totals = :totals WHERE account = :account"),
                     [{"account": account, "totals": json.dumps(sorted(rows), separators=(",", ":"))}
                      for account, rows in sorted(totals.items())])
    op.drop_table("transit_cap_totals")
    op.drop_index("ix_transit_journeys_unpaid", table_name="transit_journeys")
    op.create_index("ix_transit_journeys_unpaid", "transit_journeys", ["account", "started_ms", "amount", "paid", "error"],
                    unique=False, sqlite_where=sa.text("amount <> paid OR error IS NOT NULL"),
                    postgresql_where=sa.text("amount <> paid OR error IS NOT NULL"))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_transit_journeys_unpaid", table_name="transit_journeys")
    op.create_index("ix_transit_journeys_unpaid", "transit_journeys", ["account", "started_ms"], unique=False,
                    sqlite_where=sa.text("amount <> paid OR error IS NOT NULL"),
                    postgresql_where=sa.text("amount <> paid OR error IS NOT NULL"))
    op.create_table('transit_cap_totals',
    sa.Column('account', sa.Text(), nullable=False),
    sa.Column('rider', sa.Integer(), nullable=False),
    sa.Column('cap_id', sa.Text(), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('spent', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account', 'rider', 'cap_id', 'period', name=op.f('pk_transit_cap_totals'))
    )
    conn = op.get_bind()
    rows = [{"account": account, "rider": rider, "cap_id": cap_id, "period": date.fromordinal(EPOCH_DAY + period).isoformat(),
             "spent": spent}
            for account, text in conn.execute(sa.text(
                "SELECT account, cap_totals FROM transit_checkpoints WHERE cap_totals IS NOT NULL"))
            for rider, cap_id, period, spent in json.loads(text)]
    if rows:
        conn.execute(sa.text("INSERT INTO transit_cap_totals (account, rider, cap_id, period, spent)"
                             " VALUES (:account, :rider, :cap_id, :period, :spent)"), rows)
    with op.batch_alter_table("transit_checkpoints") as batch_op:
        batch_op.drop_column("cap_totals")
        batch_op.drop_column("latest_journey_ms")
