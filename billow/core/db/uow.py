"""The unit of work: one transaction on one connection, the call context, and the instant it happens at.

Everything a service changes in one call goes through one unit of work: rows
(with their audit and history, `billow.core.db.audit`), and the bus events
that announce the change (transactional outbox: written in the same
transaction, so a rolled-back change announces nothing).

A service's *internal API* (what services above it call) takes the caller's unit of work as its first
argument and does everything on its connection; only the *user API* (what REST, the CLI and embedding
programs call, with a `CallContext`) opens units of work (`Database.transaction` / `Database.read`).
A read-only unit of work (`Database.read`) refuses writes.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, text

from billow.core.context import CallContext
from billow.core.db import audit

# built once: a statement object's cache key is computed at every execution of a new one
_LOCK_ONE = text("SELECT pg_advisory_xact_lock(:k)")
_LOCK_MANY = text("SELECT count(pg_advisory_xact_lock(k)) FROM "
                  "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY 1) AS ordered")


class EventWriter(Protocol):
    """Where posted events go at the end of a unit of work (the bus's outbox, `billow.core.bus.outbox`)."""

    def write(self, uow: UnitOfWork, events: Sequence[Any]) -> None: ...


class ReadOnlyUnitOfWork(RuntimeError):
    pass


class UnitOfWork:
    def __init__(self, conn: Connection, ctx: CallContext, now: datetime, *, is_sqlite: bool,
                 outbox: EventWriter | None = None, readonly: bool = False) -> None:
        self.conn = conn
        self.ctx = ctx
        self.now = now
        self.is_sqlite = is_sqlite
        self.readonly = readonly
        self._outbox = outbox
        self._events: list[Any] = []
        self._after_commit: list[Callable[[], None]] = []
        # history copies and audit rows of this unit's writes, written at its end (audit.flush_history)
        self.pending_history: dict[str, tuple[Any, list[tuple[dict[str, Any], dict[str, Any]]]]] = {}
        # account locks this transaction holds already (they last until it ends: no need to ask again)
        self._locked: set[int] = set()
        # what services read once per transaction (keys name their owner and tenant: `TenantInternalApi`)
        self.memo: dict[Hashable, Any] = {}
        # rows of a table read once per transaction, forgotten when this unit writes that table (`table_memo`)
        self._table_memos: dict[str, dict[Hashable, Any]] = {}

    @property
    def tenant(self) -> int:
        """The tenant record id every query of this unit of work is scoped by."""
        return self.ctx.tenant

    def for_tenant(self, tenant_record_id: int, tenant_id: str | None = None) -> UnitOfWork:
        """The same transaction, speaking for one tenant (system work that spans tenants: billing runs)."""
        other = UnitOfWork(self.conn, replace(self.ctx, tenant_record_id=tenant_record_id, tenant_id=tenant_id),
                           self.now, is_sqlite=self.is_sqlite, outbox=self._outbox, readonly=self.readonly)
        other._events = self._events
        other._after_commit = self._after_commit
        other.pending_history = self.pending_history
        other._locked = self._locked
        other.memo = self.memo
        other._table_memos = self._table_memos
        return other

    def table_memo(self, table_name: str) -> dict[Hashable, Any]:
        """What a service read of its table in this transaction, to read it once (the accounts every bus handler
        of a pack reads). Emptied by any write of this unit to the table: a read after a write sees the write."""
        memo = self._table_memos.get(table_name)
        if memo is None:
            memo = self._table_memos[table_name] = {}
        return memo

    def _forget(self, table_name: str) -> None:
        self._table_memos.pop(table_name, None)

    def _writable(self) -> None:
        if self.readonly:
            raise ReadOnlyUnitOfWork("a read-only unit of work cannot write: use Database.transaction")

    # -- audited writes -----------------------------------------------------------------------
    def insert(self, table_name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        self._writable()
        self._forget(table_name)
        return audit.insert_one(self, table_name, values)

    def insert_many(self, table_name: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        self._writable()
        self._forget(table_name)
        return audit.insert_many(self, table_name, rows)

    def update(self, table_name: str, record_id: int, values: Mapping[str, Any], *,
               change_type: str = "UPDATE") -> dict[str, Any]:
        self._writable()
        self._forget(table_name)
        return audit.update(self, table_name, record_id, values, change_type=change_type)

    def update_many(self, table_name: str, changes: Mapping[int, Mapping[str, Any]]) -> int:
        self._writable()
        self._forget(table_name)
        return audit.update_many(self, table_name, changes)

    def soft_delete(self, table_name: str, record_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
        """Retire a row that stays in its table (`is_active` false): an update audited as a DELETE."""
        self._writable()
        self._forget(table_name)
        return audit.update(self, table_name, record_id, values, change_type="DELETE")

    def delete(self, table_name: str, record_id: int) -> dict[str, Any]:
        self._writable()
        self._forget(table_name)
        return audit.delete(self, table_name, record_id)

    # -- events -------------------------------------------------------------------------------
    def post(self, event: Any) -> None:
        """Announce a change; the event is written to the bus table when this unit commits."""
        self._writable()
        self._events.append(event)

    def flush_history(self) -> None:
        """Write the history and audit rows of this unit's writes (before it commits)."""
        audit.flush_history(self)

    def flush_events(self) -> None:
        if not self._events:
            return
        if self._outbox is None:
            raise RuntimeError("events were posted but this database has no outbox (see billow.core.bus.outbox)")
        events, self._events = self._events, []
        self._outbox.write(self, events)

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
        if self.is_sqlite or account_record_id in self._locked:
            return
        self.conn.execute(_LOCK_ONE, {"k": account_lock_key(account_record_id)})
        self._locked.add(account_record_id)

    def lock_accounts(self, account_record_ids: Iterable[int]) -> None:
        """Several account locks in one round trip, taken in key order (so writers cannot deadlock)."""
        if self.is_sqlite:
            return
        wanted = {a for a in account_record_ids if a not in self._locked}
        keys = sorted({account_lock_key(a) for a in wanted})
        if len(keys) == 1:
            self.conn.execute(_LOCK_ONE, {"k": keys[0]})
        elif keys:
            self.conn.execute(_LOCK_MANY, {"keys": keys})
        self._locked.update(wanted)


def account_lock_key(account_record_id: int) -> int:
    """Advisory lock key space: accounts are keyed by record id, offset from other lock kinds."""
    return (1 << 40) + account_record_id


def name_lock_key(name: str) -> int:
    return zlib.crc32(name.encode())
