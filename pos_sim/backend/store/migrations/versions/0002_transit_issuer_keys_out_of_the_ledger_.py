"""Transit: the issuer's private keys out of the ledger, into key files; clearing from running totals.

- ``transit_keys.private_key`` is dropped, each key first written to the data dir's
  ``keys/transit_issuer_{public key}.pem`` (0600, in a 0700 folder), never over an existing file. The
  data dir's key folder comes from ``Store.open(..., key_dir=...)``; a ledger holding private keys
  with no key folder given is refused, so that no key is ever lost.
- ``transit_dirty.since_ms``: the earliest queued tap of an account. Queued accounts get 0: they are
  priced again from their first tap, which is safe (only differences are posted).
- ``transit_checkpoints`` and ``transit_cap_totals`` start empty: each account is priced once from its
  first tap at its next clearing, and the differences with what the old rules charged (companions at a
  full fare, exits with no entry free) are charged or refunded.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 17:08:00

"""
import os
from pathlib import Path
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op

from pos_sim.backend.store.migrations import SchemaError

# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _keys_to_files() -> None:
    rows = op.get_bind().execute(sa.text("SELECT public_key, private_key FROM transit_keys")).all()
    if not rows:
        return
    key_dir = context.config.attributes.get("key_dir")
    if key_dir is None:
        raise SchemaError("the ledger holds transit issuer private keys, which now live in the data dir's key files: "
                           "open it with its data dir (pos-sim backend --data-dir DIR)")
    key_dir = Path(key_dir)
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for public_key, private_key in rows:
        path = key_dir / f"transit_issuer_{public_key}.pem"
        if path.exists():
            continue
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(private_key)


def upgrade() -> None:
    op.create_table('transit_cap_totals',
    sa.Column('account', sa.Text(), nullable=False),
    sa.Column('rider', sa.Integer(), nullable=False),
    sa.Column('cap_id', sa.Text(), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('spent', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account', 'rider', 'cap_id', 'period', name=op.f('pk_transit_cap_totals'))
    )
    op.create_table('transit_checkpoints',
    sa.Column('account', sa.Text(), nullable=False),
    sa.Column('before_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account', name=op.f('pk_transit_checkpoints'))
    )
    op.add_column('transit_dirty', sa.Column('since_ms', sa.BigInteger(), nullable=False, server_default='0'))
    op.create_index('ix_transit_journeys_account_started_ms', 'transit_journeys', ['account', 'started_ms'], unique=False)
    _keys_to_files()
    op.execute("ALTER TABLE transit_keys DROP COLUMN private_key")  # SQLite >= 3.35 and PostgreSQL alike


def downgrade() -> None:
    op.add_column('transit_keys', sa.Column('private_key', sa.Text(), nullable=True))
    key_dir = context.config.attributes.get("key_dir")
    for (public_key,) in op.get_bind().execute(sa.text("SELECT public_key FROM transit_keys")).all():
        path = Path(key_dir or "") / f"transit_issuer_{public_key}.pem"
        if key_dir is not None and path.is_file():
            op.get_bind().execute(sa.text("UPDATE transit_keys SET private_key = :pem WHERE public_key = :public"),
                                  {"pem": path.read_text(encoding="ascii"), "public": public_key})
    op.drop_index('ix_transit_journeys_account_started_ms', table_name='transit_journeys')
    op.execute("ALTER TABLE transit_dirty DROP COLUMN since_ms")
    op.drop_table('transit_checkpoints')
    op.drop_table('transit_cap_totals')
