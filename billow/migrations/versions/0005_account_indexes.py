"""Account-owned tables are read by (tenant, account): one composite index instead of a tenant-only one.

A billing run reads the invoices, items, subscriptions and blocking states of 500 accounts at a time with
`tenant_record_id = ? AND account_record_id IN (...)`. With a tenant-only index (every row of a one-tenant
deployment matches it) the planner, when statistics lag behind a growing table (or autovacuum is off),
scans every row of the tenant per batch: quadratic in the number of accounts. Accounts themselves are read
by (tenant, record id). Kill Bill indexes these tables by
`(tenant_record_id, account_record_id)` for the same reason.

Revision ID: 0005_account_indexes
Revises: 0004_invoice
"""

from alembic import op

revision = "0005_account_indexes"
down_revision = "0004_invoice"
branch_labels = None
depends_on = None

TABLES = ("bundles", "subscriptions", "subscription_events", "blocking_states", "invoices", "invoice_items")


def upgrade() -> None:
    op.create_index("ix_accounts_tenant_record", "accounts", ["tenant_record_id", "record_id"])
    op.drop_index("ix_accounts_tenant_record_id", table_name="accounts")
    for name in TABLES:
        op.create_index(f"ix_{name}_tenant_account", name, ["tenant_record_id", "account_record_id"])
        op.drop_index(f"ix_{name}_tenant_record_id", table_name=name)


def downgrade() -> None:
    op.create_index("ix_accounts_tenant_record_id", "accounts", ["tenant_record_id"])
    op.drop_index("ix_accounts_tenant_record", table_name="accounts")
    for name in TABLES:
        op.create_index(f"ix_{name}_tenant_record_id", name, ["tenant_record_id"])
        op.drop_index(f"ix_{name}_tenant_account", table_name=name)
