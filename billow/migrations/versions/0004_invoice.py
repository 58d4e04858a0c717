"""Invoicing: invoices, invoice items (audited, account-owned), the billing schedule and its run triggers.

Revision ID: 0004_invoice
Revises: 0003_entitlement
"""

import sqlalchemy as sa
from alembic import op

from billow.core.db.types import Money, UTCDateTime
from billow.migrations.helpers import create_audited, drop_audited, record_id

revision = "0004_invoice"
down_revision = "0003_entitlement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audited(
        "invoices",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(15), nullable=False),
        sa.Column("migrated", sa.Boolean(), nullable=False),
        sa.Column("parent_invoice", sa.Boolean(), nullable=False),
        sa.Column("grp_id", sa.String(36), nullable=True),
    )
    op.create_index("ix_invoices_account_id", "invoices", ["account_id"])
    create_audited(
        "invoice_items",
        sa.Column("type", sa.String(24), nullable=False),
        sa.Column("invoice_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("child_account_id", sa.String(36), nullable=True),
        sa.Column("bundle_id", sa.String(36), nullable=True),
        sa.Column("subscription_id", sa.String(36), nullable=True),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("product_name", sa.String(255), nullable=True),
        sa.Column("plan_name", sa.String(255), nullable=True),
        sa.Column("phase_name", sa.String(255), nullable=True),
        sa.Column("usage_name", sa.String(255), nullable=True),
        sa.Column("catalog_effective_date", UTCDateTime(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("rate", Money(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("linked_item_id", sa.String(36), nullable=True),
        sa.Column("quantity", Money(), nullable=True),
        sa.Column("item_details", sa.Text(), nullable=True),
    )
    op.create_index("ix_invoice_items_invoice_id", "invoice_items", ["invoice_id"])
    op.create_index("ix_invoice_items_linked_item_id", "invoice_items", ["linked_item_id"])
    op.create_table(
        "invoice_schedule",
        sa.Column("record_id", record_id(), primary_key=True, autoincrement=True),
        sa.Column("tenant_record_id", record_id(), nullable=False),
        sa.Column("account_record_id", record_id(), nullable=False),
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=False),
        sa.Column("fire_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_date", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("account_record_id", "subscription_id", "target_date", name="uq_invoice_schedule_date"),
    )
    op.create_index("ix_invoice_schedule_due", "invoice_schedule", ["tenant_record_id", "state", "fire_at"])
    op.create_table(
        "invoice_run_triggers",
        sa.Column("tenant_record_id", record_id(), primary_key=True),
        sa.Column("fire_at", UTCDateTime(), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("invoice_run_triggers")
    op.drop_table("invoice_schedule")
    for name in ("invoice_items", "invoices"):
        drop_audited(name)
