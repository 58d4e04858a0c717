"""Usage: raw usage records (`rolled_up_usage`, Kill Bill's name), one narrow append-only table.

Amounts are integer billionths (Kill Bill's `decimal(18,9)`, exact and narrow); one index serves the billing run's
read (tenant, account, record date); a partial unique index on the first row of each request refuses a tracking id
recorded twice for a subscription. No history table: rows are never updated or deleted.

Revision ID: 0009_usage
Revises: 0008_tags_custom_fields
"""

import sqlalchemy as sa
from alembic import op

from billow.core.db.types import UTCDateTime
from billow.migrations.helpers import record_id

revision = "0009_usage"
down_revision = "0008_tags_custom_fields"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rolled_up_usage",
        sa.Column("record_id", record_id(), primary_key=True, autoincrement=True),
        sa.Column("tenant_record_id", record_id(), nullable=False),
        sa.Column("account_record_id", record_id(), nullable=False),
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("unit_type", sa.String(255), nullable=False),
        sa.Column("record_date", UTCDateTime(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("tracking_id", sa.String(128), nullable=False),
        sa.Column("first_of_request", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(50), nullable=False),
        sa.Column("created_date", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_rolled_up_usage_account_date", "rolled_up_usage",
                    ["tenant_record_id", "account_record_id", "record_date"])
    op.create_index("uq_rolled_up_usage_tracking", "rolled_up_usage",
                    ["tenant_record_id", "subscription_id", "tracking_id"], unique=True,
                    postgresql_where=sa.text("first_of_request"), sqlite_where=sa.text("first_of_request"))


def downgrade() -> None:
    op.drop_index("uq_rolled_up_usage_tracking", table_name="rolled_up_usage")
    op.drop_index("ix_rolled_up_usage_account_date", table_name="rolled_up_usage")
    op.drop_table("rolled_up_usage")
