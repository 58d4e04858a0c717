"""Foundation: audit log, tenants and their key/values, users and roles, accounts.

Revision ID: 0001_foundation
Revises:
"""

import sqlalchemy as sa
from alembic import op

from billow.core.db.types import UTCDateTime
from billow.migrations.helpers import create_audited, drop_audited, record_id

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("record_id", record_id(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("target_record_id", record_id(), nullable=False),
        sa.Column("table_name", sa.String(50), nullable=False),
        sa.Column("history_record_id", record_id(), nullable=True),
        sa.Column("change_type", sa.String(6), nullable=False),
        sa.Column("created_date", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(50), nullable=False),
        sa.Column("reason_code", sa.String(255), nullable=True),
        sa.Column("comments", sa.String(255), nullable=True),
        sa.Column("user_token", sa.String(36), nullable=True),
        sa.Column("account_record_id", record_id(), nullable=True),
        sa.Column("tenant_record_id", record_id(), nullable=True),
    )
    op.create_index("ix_audit_log_target", "audit_log", ["table_name", "target_record_id"])
    op.create_index("ix_audit_log_account", "audit_log", ["tenant_record_id", "account_record_id"])
    op.create_index("ix_audit_log_user_token", "audit_log", ["user_token"])

    create_audited(
        "tenants",
        sa.Column("external_key", sa.String(255), nullable=True, unique=True),
        sa.Column("api_key", sa.String(128), nullable=False, unique=True),
        sa.Column("api_secret", sa.String(255), nullable=False),
        account_owned=False, tenant_nullable=True,
    )
    create_audited(
        "tenant_kvs",
        sa.Column("tenant_key", sa.String(255), nullable=False),
        sa.Column("tenant_value", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        account_owned=False,
    )
    op.create_index("ix_tenant_kvs_tenant_key", "tenant_kvs", ["tenant_key"])
    create_audited(
        "users",
        sa.Column("username", sa.String(128), nullable=False, unique=True),
        sa.Column("password", sa.String(255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        account_owned=False, tenant_nullable=True,
    )
    create_audited(
        "user_roles",
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("role_name", sa.String(128), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        account_owned=False, tenant_nullable=True,
    )
    op.create_index("ix_user_roles_username", "user_roles", ["username"])
    create_audited(
        "roles_permissions",
        sa.Column("role_name", sa.String(128), nullable=False),
        sa.Column("permission", sa.String(128), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        account_owned=False, tenant_nullable=True,
    )
    op.create_index("ix_roles_permissions_role_name", "roles_permissions", ["role_name"])
    create_audited(
        "accounts",
        sa.Column("external_key", sa.String(255), nullable=False),
        sa.Column("email", sa.String(128), nullable=True),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("first_name_length", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("billing_cycle_day_local", sa.Integer(), nullable=False),
        sa.Column("parent_account_id", sa.String(36), nullable=True),
        sa.Column("is_payment_delegated_to_parent", sa.Boolean(), nullable=False),
        sa.Column("payment_method_id", sa.String(36), nullable=True),
        sa.Column("reference_time", UTCDateTime(), nullable=False),
        sa.Column("time_zone", sa.String(50), nullable=False),
        sa.Column("locale", sa.String(20), nullable=True),
        sa.Column("address1", sa.String(100), nullable=True),
        sa.Column("address2", sa.String(100), nullable=True),
        sa.Column("company_name", sa.String(100), nullable=True),
        sa.Column("city", sa.String(50), nullable=True),
        sa.Column("state_or_province", sa.String(50), nullable=True),
        sa.Column("country", sa.String(50), nullable=True),
        sa.Column("postal_code", sa.String(16), nullable=True),
        sa.Column("phone", sa.String(25), nullable=True),
        sa.Column("notes", sa.String(4096), nullable=True),
        sa.Column("migrated", sa.Boolean(), nullable=True),
        account_owned=False,
        constraints=(sa.UniqueConstraint("tenant_record_id", "external_key",
                                         name="uq_accounts_tenant_external_key"),),
    )


def downgrade() -> None:
    for name in ("accounts", "roles_permissions", "user_roles", "users", "tenant_kvs", "tenants"):
        drop_audited(name)
    op.drop_table("audit_log")
