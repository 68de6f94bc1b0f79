"""The schema of pos-sim 0.1.0, which made its tables with create_all, before it had migrations.

Revision ID: 0001
Revises: 
Create Date: 2026-12-06 16:02:21.533321

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('accounts',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts'))
    )
    op.create_table('controls',
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_controls'))
    )
    op.create_table('faults',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('call', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('result_code', sa.Text(), nullable=True),
    sa.Column('delay_ms', sa.Integer(), nullable=True),
    sa.Column('match', sa.Text(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faults'))
    )
    op.create_table('merchants',
    sa.Column('client_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('settlement_currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_merchants'))
    )
    op.create_table('postings',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('ref', sa.Text(), nullable=True),
    sa.Column('memo', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postings'))
    )
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postings_ref'), ['ref'], unique=False)

    op.create_table('requests',
    sa.Column('client_id', sa.Text(), nullable=False),
    sa.Column('call', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('request_hash', sa.Text(), nullable=False),
    sa.Column('response_json', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('client_id', 'call', 'key', name=op.f('pk_requests'))
    )
    op.create_table('transit_clearings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accounts', sa.Integer(), nullable=False),
    sa.Column('taps', sa.BigInteger(), nullable=False),
    sa.Column('journeys', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('charged', sa.BigInteger(), nullable=False),
    sa.Column('refunded', sa.BigInteger(), nullable=False),
    sa.Column('indebted', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transit_clearings'))
    )
    op.create_table('transit_deny',
    sa.Column('account', sa.Text(), nullable=False),
    sa.Column('cause', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account', 'cause', name=op.f('pk_transit_deny'))
    )
    op.create_table('transit_dirty',
    sa.Column('account', sa.Text(), nullable=False),
    sa.Column('taps', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account', name=op.f('pk_transit_dirty'))
    )
    op.create_table('transit_keys',
    sa.Column('key_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('private_key', sa.Text(), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_transit_keys'))
    )
    op.create_table('device_tokens',
    sa.Column('token_id', sa.Text(), nullable=False),
    sa.Column('wallet_id', sa.Text(), nullable=False),
    sa.Column('pan', sa.Text(), nullable=False),
    sa.Column('expiry', sa.String(length=4), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('atc', sa.Integer(), nullable=False),
    sa.Column('taps', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['wallet_id'], ['accounts.id'], name=op.f('fk_device_tokens_wallet_id')),
    sa.PrimaryKeyConstraint('token_id', name=op.f('pk_device_tokens')),
    sa.UniqueConstraint('pan', name=op.f('uq_device_tokens_pan'))
    )
    with op.batch_alter_table('device_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_tokens_wallet_id'), ['wallet_id'], unique=False)

    op.create_table('entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('posting_id', sa.Text(), nullable=False),
    sa.Column('account_id', sa.Text(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_entries_account_id')),
    sa.ForeignKeyConstraint(['posting_id'], ['postings.id'], name=op.f('fk_entries_posting_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entries'))
    )
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.create_index('ix_entries_account_id_id', ['account_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_entries_posting_id'), ['posting_id'], unique=False)

    op.create_table('payment_codes',
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('wallet_id', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['wallet_id'], ['accounts.id'], name=op.f('fk_payment_codes_wallet_id')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_payment_codes'))
    )
    op.create_table('payments',
    sa.Column('payment_id', sa.Text(), nullable=False),
    sa.Column('client_id', sa.Text(), nullable=False),
    sa.Column('payment_request_id', sa.Text(), nullable=False),
    sa.Column('scenario', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('result_code', sa.Text(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('wallet_id', sa.Text(), nullable=True),
    sa.Column('wallet_amount', sa.BigInteger(), nullable=True),
    sa.Column('wallet_currency', sa.String(length=3), nullable=True),
    sa.Column('settlement_amount', sa.BigInteger(), nullable=True),
    sa.Column('settlement_currency', sa.String(length=3), nullable=True),
    sa.Column('payment_method_id', sa.Text(), nullable=True),
    sa.Column('notify_url', sa.Text(), nullable=True),
    sa.Column('request_json', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['merchants.client_id'], name=op.f('fk_payments_client_id')),
    sa.ForeignKeyConstraint(['wallet_id'], ['accounts.id'], name=op.f('fk_payments_wallet_id')),
    sa.PrimaryKeyConstraint('payment_id', name=op.f('pk_payments')),
    sa.UniqueConstraint('client_id', 'payment_request_id', name=op.f('uq_payments_client_id'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_payment_method_id'), ['payment_method_id'], unique=False)

    op.create_table('transit_debts',
    sa.Column('account', sa.Text(), nullable=False),
    sa.Column('wallet_id', sa.Text(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('owed', sa.BigInteger(), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['wallet_id'], ['accounts.id'], name=op.f('fk_transit_debts_wallet_id')),
    sa.PrimaryKeyConstraint('account', name=op.f('pk_transit_debts'))
    )
    op.create_table('transit_journeys',
    sa.Column('account', sa.Text(), nullable=False),
    sa.Column('journey_key', sa.Text(), nullable=False),
    sa.Column('wallet_id', sa.Text(), nullable=True),
    sa.Column('client_id', sa.Text(), nullable=False),
    sa.Column('started_ms', sa.BigInteger(), nullable=False),
    sa.Column('legs', sa.Integer(), nullable=False),
    sa.Column('riders', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('fare', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('paid', sa.BigInteger(), nullable=False),
    sa.Column('penalty', sa.BigInteger(), nullable=False),
    sa.Column('capped_by', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['wallet_id'], ['accounts.id'], name=op.f('fk_transit_journeys_wallet_id')),
    sa.PrimaryKeyConstraint('account', 'journey_key', name=op.f('pk_transit_journeys'))
    )
    op.create_table('transit_riders',
    sa.Column('account', sa.Text(), nullable=False),
    sa.Column('wallet_id', sa.Text(), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['wallet_id'], ['accounts.id'], name=op.f('fk_transit_riders_wallet_id')),
    sa.PrimaryKeyConstraint('account', name=op.f('pk_transit_riders')),
    sa.UniqueConstraint('wallet_id', name=op.f('uq_transit_riders_wallet_id'))
    )
    op.create_table('transit_taps',
    sa.Column('tap_id', sa.Text(), nullable=False),
    sa.Column('client_id', sa.Text(), nullable=False),
    sa.Column('gate_id', sa.Text(), nullable=False),
    sa.Column('station_id', sa.Text(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('utc_offset_s', sa.Integer(), nullable=False),
    sa.Column('account', sa.Text(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('companions', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=4), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['merchants.client_id'], name=op.f('fk_transit_taps_client_id')),
    sa.PrimaryKeyConstraint('tap_id', name=op.f('pk_transit_taps'))
    )
    with op.batch_alter_table('transit_taps', schema=None) as batch_op:
        batch_op.create_index('ix_transit_taps_account_at_ms', ['account', 'at_ms'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('client_id', sa.Text(), nullable=False),
    sa.Column('payment_id', sa.Text(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['merchants.client_id'], name=op.f('fk_notifications_client_id')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.payment_id'], name=op.f('fk_notifications_payment_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_next_at'), ['next_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_payment_id'), ['payment_id'], unique=False)

    op.create_table('refunds',
    sa.Column('refund_id', sa.Text(), nullable=False),
    sa.Column('client_id', sa.Text(), nullable=False),
    sa.Column('refund_request_id', sa.Text(), nullable=False),
    sa.Column('payment_id', sa.Text(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('wallet_amount', sa.BigInteger(), nullable=True),
    sa.Column('wallet_currency', sa.String(length=3), nullable=True),
    sa.Column('settlement_amount', sa.BigInteger(), nullable=True),
    sa.Column('settlement_currency', sa.String(length=3), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['merchants.client_id'], name=op.f('fk_refunds_client_id')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.payment_id'], name=op.f('fk_refunds_payment_id')),
    sa.PrimaryKeyConstraint('refund_id', name=op.f('pk_refunds')),
    sa.UniqueConstraint('client_id', 'refund_request_id', name=op.f('uq_refunds_client_id'))
    )
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_payment_id'), ['payment_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_payment_id'))

    op.drop_table('refunds')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_payment_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_next_at'))

    op.drop_table('notifications')
    with op.batch_alter_table('transit_taps', schema=None) as batch_op:
        batch_op.drop_index('ix_transit_taps_account_at_ms')

    op.drop_table('transit_taps')
    op.drop_table('transit_riders')
    op.drop_table('transit_journeys')
    op.drop_table('transit_debts')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_payment_method_id'))

    op.drop_table('payments')
    op.drop_table('payment_codes')
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entries_posting_id'))
        batch_op.drop_index('ix_entries_account_id_id')

    op.drop_table('entries')
    with op.batch_alter_table('device_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_tokens_wallet_id'))

    op.drop_table('device_tokens')
    op.drop_table('transit_keys')
    op.drop_table('transit_dirty')
    op.drop_table('transit_deny')
    op.drop_table('transit_clearings')
    op.drop_table('requests')
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postings_ref'))

    op.drop_table('postings')
    op.drop_table('merchants')
    op.drop_table('faults')
    op.drop_table('controls')
    op.drop_table('accounts')
