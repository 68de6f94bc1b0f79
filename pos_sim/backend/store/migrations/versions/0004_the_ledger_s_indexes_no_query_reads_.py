"""The ledger's indexes no query reads dropped: postings by ``ref`` and entries by ``posting_id``.

Every insert paid for them (clearing writes a posting and two entries a journey, ``ref`` a random tap id,
so ``ix_postings_ref`` took each at a random place) and no query looks a posting up by its ``ref`` or the
entries by their posting (``history`` goes from an account's entries to their postings by the postings'
key). docs/benchmarks.md has what clearing saves.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 20:07:11.772794

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entries_posting_id'))

    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postings_ref'))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postings_ref'), ['ref'], unique=False)

    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entries_posting_id'), ['posting_id'], unique=False)
