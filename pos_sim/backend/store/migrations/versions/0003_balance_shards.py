"""Balance shards: a pooled account's postings (merchant, funding, fx, fees) without its row's lock.

A pooled account's balance is now its row's ``balance`` plus the sum of its ``balance_shards``, and its
entries no longer record the balance after them (``history`` sums its entries instead), so
``entries.balance_after`` may be NULL. The balances of an existing ledger are all in the accounts' rows,
which are part of every balance: they read the same after the upgrade, nothing is moved.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 16:10:30.458926

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('balance_shards',
    sa.Column('account_id', sa.Text(), nullable=False),
    sa.Column('shard', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_balance_shards_account_id')),
    sa.PrimaryKeyConstraint('account_id', 'shard', name=op.f('pk_balance_shards'))
    )
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.alter_column('balance_after',
               existing_type=sa.BIGINT(),
               nullable=True)


def downgrade() -> None:
    """Downgrade schema: the shards folded into their accounts' rows, every entry's balance after it recorded."""
    op.execute("UPDATE accounts SET balance = balance + (SELECT COALESCE(SUM(s.balance), 0) FROM balance_shards s"
               " WHERE s.account_id = accounts.id)")
    op.execute("UPDATE entries SET balance_after = (SELECT SUM(e.amount) FROM entries e"
               " WHERE e.account_id = entries.account_id AND e.id <= entries.id) WHERE balance_after IS NULL")
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.alter_column('balance_after',
               existing_type=sa.BIGINT(),
               nullable=False)

    op.drop_table('balance_shards')
