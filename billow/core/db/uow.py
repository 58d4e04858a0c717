"""The unit of work: one transaction, the call context, and the instant it happens at.

Everything a service changes in one call goes through one unit of work: rows
(with their audit and history, `billow.core.db.audit`), and the bus events
that announce the change (transactional outbox: written in the same
transaction, so a rolled-back change announces nothing).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, text

from billow.core.context import CallContext
from billow.core.db import audit

if TYPE_CHECKING:
    from billow.core.db.engine import Database


class UnitOfWork:
    def __init__(self, db: Database, conn: Connection, ctx: CallContext) -> None:
        self.db = db
        self.conn = conn
        self.ctx = ctx
        self.now: datetime = db.clock.utcnow()
        self._events: list[Any] = []
        self._after_commit: list[Callable[[], None]] = []

    # -- audited writes -----------------------------------------------------------------------
    def insert(self, table_name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        return audit.insert_one(self, table_name, values)

    def insert_many(self, table_name: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return audit.insert_many(self, table_name, rows)

    def update(self, table_name: str, record_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
        return audit.update(self, table_name, record_id, values)

    def update_many(self, table_name: str, changes: Mapping[int, Mapping[str, Any]]) -> int:
        return audit.update_many(self, table_name, changes)

    def delete(self, table_name: str, record_id: int) -> dict[str, Any]:
        return audit.delete(self, table_name, record_id)

    # -- events -------------------------------------------------------------------------------
    def post(self, event: Any) -> None:
        """Announce a change; the event is written to the bus table when this unit commits."""
        self._events.append(event)

    def flush_events(self) -> None:
        if not self._events:
            return
        if self.db.bus is None:
            raise RuntimeError("events were posted but no bus is wired to this database")
        events, self._events = self._events, []
        self.db.bus.write(self, events)
        self.after_commit(self.db.bus.wake)

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after_commit.append(fn)

    def run_after_commit(self) -> None:
        for fn in self._after_commit:
            fn()

    # -- locks --------------------------------------------------------------------------------
    def lock_account(self, account_record_id: int) -> None:
        """One writer per account: a transaction-scoped advisory lock on PostgreSQL.

        On SQLite every write transaction already holds the database's write lock.
        """
        if self.db.is_sqlite:
            return
        self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": account_lock_key(account_record_id)})

    def lock_accounts(self, account_record_ids: Iterable[int]) -> None:
        """Several account locks in one round trip, taken in key order (so writers cannot deadlock)."""
        if self.db.is_sqlite:
            return
        keys = sorted({account_lock_key(a) for a in account_record_ids})
        if len(keys) == 1:
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": keys[0]})
        elif keys:
            self.conn.execute(text("SELECT count(pg_advisory_xact_lock(k)) FROM "
                                   "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY 1) AS ordered"),
                              {"keys": keys})


def account_lock_key(account_record_id: int) -> int:
    """Advisory lock key space: accounts are keyed by record id, offset from other lock kinds."""
    return (1 << 40) + account_record_id


def name_lock_key(name: str) -> int:
    return zlib.crc32(name.encode())
