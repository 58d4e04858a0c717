"""Payments: `payment_auto_pay_off`, the automatic payments AUTO_PAY_OFF (or MANUAL_PAY) parked, made when
AUTO_PAY_OFF is removed (Kill Bill's `invoice_payment_control_plugin_auto_pay_off`).

Revision ID: 0012_payment_auto_pay_off
Revises: 0011_payment_leases
"""

import sqlalchemy as sa
from alembic import op

from billow.core.db.types import UTCDateTime

revision = "0012_payment_auto_pay_off"
down_revision = "0011_payment_leases"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payment_auto_pay_off",
        sa.Column("record_id", _ID, primary_key=True, autoincrement=True),
        sa.Column("tenant_record_id", _ID, nullable=False),
        sa.Column("account_record_id", _ID, nullable=False),
        sa.Column("invoice_id", sa.String(36), nullable=False),
        sa.Column("created_date", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_payment_auto_pay_off_account", "payment_auto_pay_off",
                    ["tenant_record_id", "account_record_id"])


def downgrade() -> None:
    op.drop_index("ix_payment_auto_pay_off_account", table_name="payment_auto_pay_off")
    op.drop_table("payment_auto_pay_off")
