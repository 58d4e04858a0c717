"""Email notifications: `email_notifications`, each email an event asked for and what became of it (audited,
with its history twin), read by (tenant, account).

Revision ID: 0013_email_notifications
Revises: 0012_payment_auto_pay_off
"""

import sqlalchemy as sa
from alembic import op

from billow.core.db.types import UTCDateTime
from billow.migrations.helpers import create_audited, drop_audited

revision = "0013_email_notifications"
down_revision = "0012_payment_auto_pay_off"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audited(
        "email_notifications",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("template", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(36), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=True),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("last_error", sa.String(512), nullable=True),
        sa.Column("sent_date", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_email_notifications_tenant_account", "email_notifications",
                    ["tenant_record_id", "account_record_id"])
    op.drop_index("ix_email_notifications_tenant_record_id", table_name="email_notifications")


def downgrade() -> None:
    drop_audited("email_notifications")
