"""Payments: `payment_account_leases`, the account lease that serialises one account's payments across nodes
while no database transaction is open (Kill Bill's global locker for payments).

Revision ID: 0011_payment_leases
Revises: 0010_payments
"""

import sqlalchemy as sa
from alembic import op

from billow.core.db.types import UTCDateTime

revision = "0011_payment_leases"
down_revision = "0010_payments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_account_leases",
        sa.Column("account_record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=False),
        sa.Column("owner", sa.String(36), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("payment_account_leases")
