"""Tags and custom fields: `tag_definitions` (a tenant's own), `tags` and `custom_fields` (account-owned), all
audited, with Kill Bill's columns (`util/src/main/resources/org/killbill/billing/util/ddl.sql`).

Account-owned rows are read by (tenant, account), as the tables of 0005_account_indexes: a billing batch
reads the control tags of its 500 accounts in one query.

Revision ID: 0008_tags_custom_fields
Revises: 0007_invoice_parent_children
"""

import sqlalchemy as sa
from alembic import op

from billow.migrations.helpers import create_audited, drop_audited

revision = "0008_tags_custom_fields"
down_revision = "0007_invoice_parent_children"
branch_labels = None
depends_on = None


def _by_account(name: str) -> None:
    op.create_index(f"ix_{name}_tenant_account", name, ["tenant_record_id", "account_record_id"])
    op.drop_index(f"ix_{name}_tenant_record_id", table_name=name)


def upgrade() -> None:
    create_audited(
        "tag_definitions",
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("applicable_object_types", sa.String(500), nullable=True),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        account_owned=False,
    )
    create_audited(
        "tags",
        sa.Column("tag_definition_id", sa.String(36), nullable=False),
        sa.Column("object_id", sa.String(36), nullable=False),
        sa.Column("object_type", sa.String(30), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_tags_object_id", "tags", ["object_id"])
    _by_account("tags")
    create_audited(
        "custom_fields",
        sa.Column("object_id", sa.String(36), nullable=False),
        sa.Column("object_type", sa.String(30), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("field_name", sa.String(64), nullable=False),
        sa.Column("field_value", sa.String(255), nullable=True),
    )
    op.create_index("ix_custom_fields_object", "custom_fields", ["object_id", "object_type"])
    _by_account("custom_fields")


def downgrade() -> None:
    for name in ("custom_fields", "tags", "tag_definitions"):
        drop_audited(name)
