"""The billing schedule's claimed rows indexed by owner: a billing run asks which runs hold claims on due rows
before each claim, and without the index that read every due row (115 ms at a million due accounts).

Revision ID: 0016_invoice_schedule_owner
Revises: 0015_invoice_checkpoints
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_invoice_schedule_owner"
down_revision = "0015_invoice_checkpoints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # partial: only claimed rows, a batch or a few at a time, are in it
    op.create_index("ix_invoice_schedule_owner", "invoice_schedule", ["owner"],
                    postgresql_where=sa.text("owner IS NOT NULL"), sqlite_where=sa.text("owner IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_invoice_schedule_owner", table_name="invoice_schedule")
