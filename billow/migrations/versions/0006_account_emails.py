"""Account emails (audited, owned by the account service); subscriptions keep the date their
START_OF_SUBSCRIPTION alignments count from (a transferred subscription keeps its original one).

Revision ID: 0006_account_emails
Revises: 0005_account_indexes
"""

import sqlalchemy as sa
from alembic import op

from billow.core.db.types import UTCDateTime
from billow.migrations.helpers import create_audited, drop_audited

revision = "0006_account_emails"
down_revision = "0005_account_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audited(
        "account_emails",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(128), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_account_emails_account_id", "account_emails", ["account_id"])
    # read by (tenant, account), as the other account-owned tables (0005_account_indexes)
    op.create_index("ix_account_emails_tenant_account", "account_emails", ["tenant_record_id", "account_record_id"])
    op.drop_index("ix_account_emails_tenant_record_id", table_name="account_emails")
    for table in ("subscriptions", "subscriptions_history"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("align_start_date", UTCDateTime(), nullable=True))


def downgrade() -> None:
    for table in ("subscriptions", "subscriptions_history"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("align_start_date")
    drop_audited("account_emails")
