"""Bus and notification queue: bus_events, notifications, their histories, node_infos.

Revision ID: 0002_bus
Revises: 0001_foundation

Kill Bill's tables (killbill-commons `queue/.../ddl.sql`, Kill Bill `util/.../ddl.sql`).
"""

import sqlalchemy as sa
from alembic import op

from billow.core.db.types import UTCDateTime
from billow.migrations.helpers import record_id

revision = "0002_bus"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def _queue_columns(class_name_length: int) -> list[sa.Column]:
    return [
        sa.Column("record_id", record_id(), primary_key=True, autoincrement=True),
        sa.Column("class_name", sa.String(class_name_length), nullable=False),
        sa.Column("event_json", sa.Text(), nullable=False),
        sa.Column("user_token", sa.String(36), nullable=True),
        sa.Column("created_date", UTCDateTime(), nullable=False),
        sa.Column("creating_owner", sa.String(50), nullable=False),
        sa.Column("processing_owner", sa.String(50), nullable=True),
        sa.Column("processing_available_date", UTCDateTime(), nullable=True),
        sa.Column("processing_state", sa.String(14), nullable=True, server_default=sa.text("'AVAILABLE'")),
        sa.Column("error_count", sa.Integer(), nullable=True, server_default=sa.text("0")),
        sa.Column("search_key1", record_id(), nullable=True),
        sa.Column("search_key2", record_id(), nullable=True),
    ]


def _notification_columns() -> list[sa.Column]:
    return [
        *_queue_columns(256),
        sa.Column("queue_name", sa.String(64), nullable=False),
        sa.Column("effective_date", UTCDateTime(), nullable=False),
        sa.Column("future_user_token", sa.String(36), nullable=True),
    ]


def upgrade() -> None:
    # AUTOINCREMENT on SQLite: a processed (deleted) last row's id is never reused.
    op.create_table("bus_events", *_queue_columns(128), sqlite_autoincrement=True)
    op.create_index("ix_bus_events_state", "bus_events",
                    ["processing_state", "processing_owner", "processing_available_date"])
    op.create_index("ix_bus_events_keys", "bus_events", ["search_key2", "search_key1", "record_id"])

    op.create_table("bus_events_history", *_queue_columns(128), sqlite_autoincrement=True)
    op.create_index("ix_bus_events_history_keys", "bus_events_history", ["search_key2", "search_key1"])
    op.create_index("ix_bus_events_history_created", "bus_events_history", ["created_date"])
    op.create_index("ix_bus_events_history_state", "bus_events_history", ["processing_state"])

    op.create_table("notifications", *_notification_columns(), sqlite_autoincrement=True)
    op.create_index("ix_notifications_effective", "notifications",
                    ["effective_date", "processing_state", "processing_owner", "processing_available_date"])
    op.create_index("ix_notifications_state", "notifications",
                    ["processing_state", "processing_owner", "processing_available_date"])
    op.create_index("ix_notifications_effective_created", "notifications", ["effective_date", "created_date"])
    op.create_index("ix_notifications_keys", "notifications",
                    ["search_key2", "search_key1", "queue_name", "effective_date"])

    op.create_table("notifications_history", *_notification_columns(), sqlite_autoincrement=True)
    op.create_index("ix_notifications_history_keys", "notifications_history", ["search_key2", "search_key1"])
    op.create_index("ix_notifications_history_effective", "notifications_history", ["effective_date"])
    op.create_index("ix_notifications_history_state", "notifications_history", ["processing_state"])

    op.create_table(
        "node_infos",
        sa.Column("record_id", record_id(), primary_key=True, autoincrement=True),
        sa.Column("node_name", sa.String(50), nullable=False, unique=True),
        sa.Column("boot_date", UTCDateTime(), nullable=False),
        sa.Column("updated_date", UTCDateTime(), nullable=False),
        sa.Column("node_info", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("node_infos")
    op.drop_table("notifications_history")
    op.drop_table("notifications")
    op.drop_table("bus_events_history")
    op.drop_table("bus_events")
