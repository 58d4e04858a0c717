"""The bus's ready rows indexed in delivery order: a claim walks them from the oldest, and without the index its
plan depended on the queue's statistics, which never keep up with a table that swings between empty and full
(see `billow/core/bus/store.py`).

Revision ID: 0018_bus_events_ready
Revises: 0017_account_leases
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_bus_events_ready"
down_revision = "0017_account_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # partial: a row leaves it when claimed (or handed), so it holds the backlog only
    op.create_index("ix_bus_events_ready", "bus_events", ["record_id"],
                    postgresql_where=sa.text("processing_state = 'AVAILABLE'"),
                    sqlite_where=sa.text("processing_state = 'AVAILABLE'"))


def downgrade() -> None:
    op.drop_index("ix_bus_events_ready", table_name="bus_events")
