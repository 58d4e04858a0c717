"""The queue tables: `bus_events`, `notifications`, their `_history` twins, and `node_infos`.

Columns are Kill Bill's (killbill-commons `queue/src/main/resources/org/killbill/queue/ddl.sql`,
Kill Bill `util/.../ddl.sql` for `event_json text` and `node_infos`): `search_key1` is the
account record id, `search_key2` the tenant record id. Rows are moved (delete + insert) to
the history table once PROCESSED, FAILED or (a copy) REAPED.

Two deliberate differences, both invisible on the wire:
- `record_id` uses SQLite's AUTOINCREMENT so that a deleted (processed) last row's id is
  never reused: ids are the posting order that per-account delivery relies on.
- history tables have their own `record_id`; a row that was reaped and later processed
  appears twice in history (REAPED, then PROCESSED).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text, text

from billow.core.db.schema import RecordId, metadata
from billow.core.db.types import UTCDateTime

# Kill Bill's PersistentQueueEntryLifecycleState.
AVAILABLE = "AVAILABLE"
IN_PROCESSING = "IN_PROCESSING"
PROCESSED = "PROCESSED"
REMOVED = "REMOVED"
FAILED = "FAILED"
REAPED = "REAPED"
STATES = (AVAILABLE, IN_PROCESSING, PROCESSED, REMOVED, FAILED, REAPED)


def _queue_columns(class_name_length: int) -> list[Column]:
    return [
        Column("record_id", RecordId, primary_key=True, autoincrement=True),
        Column("class_name", String(class_name_length), nullable=False),
        Column("event_json", Text, nullable=False),
        Column("user_token", String(36), nullable=True),
        Column("created_date", UTCDateTime(), nullable=False),
        Column("creating_owner", String(50), nullable=False),
        Column("processing_owner", String(50), nullable=True),
        Column("processing_available_date", UTCDateTime(), nullable=True),
        Column("processing_state", String(14), nullable=True, server_default=text("'AVAILABLE'")),
        Column("error_count", Integer, nullable=True, server_default=text("0")),
        Column("search_key1", RecordId, nullable=True),
        Column("search_key2", RecordId, nullable=True),
    ]


def _notification_columns() -> list[Column]:
    return [
        *_queue_columns(256),
        Column("queue_name", String(64), nullable=False),
        Column("effective_date", UTCDateTime(), nullable=False),
        Column("future_user_token", String(36), nullable=True),
    ]


bus_events = Table(
    "bus_events", metadata, *_queue_columns(128),
    Index("ix_bus_events_state", "processing_state", "processing_owner", "processing_available_date"),
    Index("ix_bus_events_keys", "search_key2", "search_key1", "record_id"),
    # the ready rows in delivery order, what a claim walks (see store._AVAILABLE)
    Index("ix_bus_events_ready", "record_id", postgresql_where=text("processing_state = 'AVAILABLE'"),
          sqlite_where=text("processing_state = 'AVAILABLE'")),
    sqlite_autoincrement=True,
)

bus_events_history = Table(
    "bus_events_history", metadata, *_queue_columns(128),
    Index("ix_bus_events_history_keys", "search_key2", "search_key1"),
    Index("ix_bus_events_history_created", "created_date"),
    Index("ix_bus_events_history_state", "processing_state"),
    sqlite_autoincrement=True,
)

notifications = Table(
    "notifications", metadata, *_notification_columns(),
    Index("ix_notifications_effective", "effective_date", "processing_state", "processing_owner",
          "processing_available_date"),
    Index("ix_notifications_state", "processing_state", "processing_owner", "processing_available_date"),
    Index("ix_notifications_effective_created", "effective_date", "created_date"),
    Index("ix_notifications_keys", "search_key2", "search_key1", "queue_name", "effective_date"),
    sqlite_autoincrement=True,
)

notifications_history = Table(
    "notifications_history", metadata, *_notification_columns(),
    Index("ix_notifications_history_keys", "search_key2", "search_key1"),
    Index("ix_notifications_history_effective", "effective_date"),
    Index("ix_notifications_history_state", "processing_state"),
    sqlite_autoincrement=True,
)

# Kill Bill's `node_infos`: one row per running node, its boot time and its heartbeat.
node_infos = Table(
    "node_infos", metadata,
    Column("record_id", RecordId, primary_key=True, autoincrement=True),
    Column("node_name", String(50), nullable=False, unique=True),
    Column("boot_date", UTCDateTime(), nullable=False),
    Column("updated_date", UTCDateTime(), nullable=False),
    Column("node_info", Text, nullable=False),
    Column("is_active", Boolean, nullable=False),
)

HISTORY = {"bus_events": bus_events_history, "notifications": notifications_history}
