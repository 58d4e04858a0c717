"""Parent summary invoices: which child invoice each parent invoice summarises (Kill Bill's
`invoice_parent_children`), audited and owned by the parent's account.

Revision ID: 0007_invoice_parent_children
Revises: 0006_account_emails
"""

import sqlalchemy as sa
from alembic import op

from billow.migrations.helpers import create_audited, drop_audited

revision = "0007_invoice_parent_children"
down_revision = "0006_account_emails"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audited(
        "invoice_parent_children",
        sa.Column("parent_invoice_id", sa.String(36), nullable=False),
        sa.Column("child_invoice_id", sa.String(36), nullable=False),
        sa.Column("child_account_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_invoice_parent_children_tenant_account", "invoice_parent_children",
                    ["tenant_record_id", "account_record_id"])
    op.drop_index("ix_invoice_parent_children_tenant_record_id", table_name="invoice_parent_children")
    op.create_index("ix_invoice_parent_children_parent_invoice_id", "invoice_parent_children", ["parent_invoice_id"])
    op.create_index("ix_invoice_parent_children_child_account_id", "invoice_parent_children", ["child_account_id"])
    # an invoice's group (`GET /invoices/{groupId}/group`)
    op.create_index("ix_invoices_grp_id", "invoices", ["grp_id"])


def downgrade() -> None:
    op.drop_index("ix_invoices_grp_id", table_name="invoices")
    drop_audited("invoice_parent_children")
