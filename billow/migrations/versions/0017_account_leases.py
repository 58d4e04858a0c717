"""The account lease belongs to the core: `payment_account_leases` becomes `account_leases`, since invoice runs and
credit moves now respect it too (Kill Bill's one `ACCNT_INV_PAY` lock: `billow.core.db.leases`).

Revision ID: 0017_account_leases
Revises: 0016_invoice_schedule_owner
"""

from alembic import op

revision = "0017_account_leases"
down_revision = "0016_invoice_schedule_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.rename_table("payment_account_leases", "account_leases")


def downgrade() -> None:
    op.rename_table("account_leases", "payment_account_leases")
