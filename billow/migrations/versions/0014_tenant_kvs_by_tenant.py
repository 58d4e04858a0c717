"""Tenant values are read by (tenant, key): the catalog's, settings' and overdue configuration's fingerprints are
read in most units of work, and the index on the key alone made each read scan that key's rows of every tenant.

Revision ID: 0014_tenant_kvs_by_tenant
Revises: 0013_email_notifications
"""

from alembic import op

revision = "0014_tenant_kvs_by_tenant"
down_revision = "0013_email_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tenant_kvs_tenant_record_id_key", "tenant_kvs", ["tenant_record_id", "tenant_key"])


def downgrade() -> None:
    op.drop_index("ix_tenant_kvs_tenant_record_id_key", table_name="tenant_kvs")
