"""The payments' index by payment method id kept for the payments that wait for a customer's scan.

``payment_for_code`` looks up a PROCESSING payment (OrderCode, EntryCode) by the merchant code a customer
scanned; the index held every payment's method id, a PaymentCode pay's the customer's one-time code, at a
random place: one page more that each pay's commit wrote, for a row no query reads. Now only the waiting
payments are in it (a partial index: SQLite and PostgreSQL both have them), and it leaves a payment once paid.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 05:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

WAITING = "status = 'PROCESSING'"


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_index("ix_payments_payment_method_id", table_name="payments")
    op.create_index("ix_payments_waiting_code", "payments", ["payment_method_id"], unique=False,
                    sqlite_where=sa.text(WAITING), postgresql_where=sa.text(WAITING))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_payments_waiting_code", table_name="payments")
    op.create_index("ix_payments_payment_method_id", "payments", ["payment_method_id"], unique=False)
