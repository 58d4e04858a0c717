"""The transactional outbox: a unit of work's events are written into `bus_events` in its own transaction.

A rolled-back change announces nothing and a committed one is never lost. The `Database` is built with
the outbox (`Database(url, clock, outbox=Outbox(config))`); the bus built on that database dispatches
what it wrote. After a commit the outbox rings its doorbell, which the local dispatcher waits on; other
nodes hear of it through PostgreSQL's NOTIFY.

With `BusConfig.sticky_events` (on by default, as in Kill Bill), while this process's dispatcher runs, a
unit of work's few events are *handed* to it instead (Kill Bill's STICKY_EVENTS, the default mode of its bus):
inserted already claimed by this node and given to the dispatcher in memory after the commit. No claim has to
find them and no other node is woken for them: at API rates a claim cost more than running the event, and
with several processes on a node every process's bus woke for every event to race for it. A crash leaves them
claimed by a dead node, for the reaper (nothing is lost); a flood (a billing run's batch, a backlog) goes to the
table as before, for every node to share.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from billow.core.bus import store
from billow.core.bus.config import BusConfig
from billow.core.bus.event import BusEvent
from billow.core.bus.tables import AVAILABLE

if TYPE_CHECKING:
    from billow.core.db.uow import UnitOfWork

NOTIFY_CHANNEL = "billow_queue"
# Most events a unit of work hands to the local dispatcher; more go to the table, for every node to share.
HAND_AT_MOST = 16


class LocalDispatcher(Protocol):
    """What the outbox asks of this process's running dispatcher to hand it events (`Dispatcher`)."""

    def accepts(self, rows: int) -> bool: ...

    def claimed_until(self) -> datetime: ...

    def hand(self, entries: list[store.Entry]) -> None: ...


class Outbox:
    def __init__(self, config: BusConfig | None = None) -> None:
        self.config = config or BusConfig()
        # set after a commit that wrote events or due notifications; the dispatcher waits on it
        self.doorbell = threading.Event()
        # set when the tables may hold work a claim would find (not for handed events): the dispatcher claims then,
        # and at least every poll interval
        self.table_due = threading.Event()
        # this process's dispatcher while it runs and takes handed events (BusConfig.sticky_events)
        self.local: LocalDispatcher | None = None

    @property
    def node_name(self) -> str:
        return self.config.node_name

    def write(self, uow: UnitOfWork, events: Sequence[BusEvent]) -> None:
        """Insert the events of a unit of work into `bus_events` (one multi-row insert).

        On PostgreSQL the accounts the events belong to are locked first (in record-id
        order, so two writers cannot deadlock on them): record ids of one account's events
        then follow commit order, which is what per-account delivery order relies on.
        """
        if not events:
            return
        rows = []
        accounts: set[int] = set()
        for ev in events:
            if not isinstance(ev, BusEvent):
                raise TypeError(f"not a bus event: {ev!r}")
            if ev.user_token is None:
                ev = dataclasses.replace(ev, user_token=uow.ctx.user_token)
            if ev.account_record_id is not None:
                accounts.add(ev.account_record_id)
            rows.append({
                "class_name": ev.class_name(), "event_json": ev.to_json(), "user_token": ev.user_token,
                "created_date": uow.now, "creating_owner": self.node_name, "processing_owner": None,
                "processing_available_date": None, "processing_state": AVAILABLE, "error_count": 0,
                "search_key1": ev.account_record_id, "search_key2": ev.tenant_record_id,
            })
        uow.lock_accounts(accounts)
        local = self.local
        if local is not None and len(rows) <= HAND_AT_MOST and local.accepts(len(rows)):
            entries = store.insert_handed(uow.conn, rows, self.node_name, local.claimed_until())
            uow.after_commit(lambda: local.hand(entries))
            return
        store.insert_entries(uow.conn, store.BUS, rows)
        self.notify(uow)
        uow.after_commit(self.ring)

    def notify(self, uow: UnitOfWork) -> None:
        """Tell the other nodes at commit (PostgreSQL NOTIFY is dropped on rollback)."""
        if not uow.is_sqlite and self.config.listen_notify:
            store.notify(uow.conn, NOTIFY_CHANNEL)

    def ring(self) -> None:
        """Work in the tables (events or notifications written, a clock moved, rows reaped): claim."""
        self.table_due.set()
        self.doorbell.set()
