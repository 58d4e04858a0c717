"""The incremental invoice run: `invoice_checkpoints` (one per account), and the invoice and item history
indexed by account, which the checkpoints' history counts read.

Revision ID: 0015_invoice_checkpoints
Revises: 0014_tenant_kvs_by_tenant
"""

import sqlalchemy as sa
from alembic import op

from billow.core.db.types import UTCDateTime

revision = "0015_invoice_checkpoints"
down_revision = "0014_tenant_kvs_by_tenant"
branch_labels = None
depends_on = None

_RECORD_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "invoice_checkpoints",
        sa.Column("account_record_id", _RECORD_ID, primary_key=True, autoincrement=False),
        sa.Column("tenant_record_id", _RECORD_ID, nullable=False),
        sa.Column("history_count", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.Column("updated_date", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_invoices_history_account", "invoices_history", ["account_record_id"])
    op.create_index("ix_invoice_items_history_account", "invoice_items_history", ["account_record_id"])


def downgrade() -> None:
    op.drop_index("ix_invoice_items_history_account", table_name="invoice_items_history")
    op.drop_index("ix_invoices_history_account", table_name="invoices_history")
    op.drop_table("invoice_checkpoints")
