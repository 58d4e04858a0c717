"""The persistent bus and the notification queues: the public API.

The database is built with the bus's outbox (`Database(url, clock, outbox=Outbox(config))`): a unit of
work's posted events are written in its own transaction (transactional outbox) and the outbox's doorbell
rings after the commit. `Bus(db)` dispatches them. Services subscribe handlers by event class or Kill Bill
event type name (`ExtBusEventType`), and register one handler per notification queue.

Kill Bill: killbill-commons `bus/api/PersistentBus.java` (post from a transaction,
register by subscriber), `notificationq/api/NotificationQueue.java`
(`recordFutureNotificationFromTransaction`), `NotificationQueueService.createNotificationQueue`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from billow.core.bus import store
from billow.core.bus.config import BusConfig
from billow.core.bus.event import BusEvent
from billow.core.bus.outbox import Outbox
from billow.core.bus.tables import AVAILABLE
from billow.core.clock import Clock, SystemClock, utc

if TYPE_CHECKING:
    from billow.core.bus.dispatcher import Dispatcher
    from billow.core.db.engine import Database
    from billow.core.db.uow import UnitOfWork

log = logging.getLogger("billow.bus")

NOTIFICATION_CLASS = "billow.notification"

EventHandler = Callable[["UnitOfWork", BusEvent], None]
NotificationHandler = Callable[["UnitOfWork", "Notification"], None]
# A non-transactional handler runs outside any transaction (for slow I/O such as webhooks);
# it may return a follow-up that runs in the transaction completing the row.
NonTransactionalHandler = Callable[["Notification"], Callable[["UnitOfWork"], None] | None]


@dataclass(frozen=True)
class Notification:
    """A notification handed to its queue's handler (Kill Bill NotificationEventWithMetadata)."""

    record_id: int
    queue_name: str
    payload: dict[str, Any]
    effective_date: datetime
    created_date: datetime
    tenant_record_id: int | None
    account_record_id: int | None
    user_token: str | None
    future_user_token: str | None
    error_count: int


@dataclass
class Subscription:
    # `EventHandler`, or for a batch subscription `(uow, events) -> None`
    handler: Callable[..., None]
    classes: tuple[type[BusEvent], ...]
    event_types: frozenset[str]
    name: str
    # a batch handler gets `(uow, events)`: every matching event of a transaction's rows at once
    batch: bool = False

    def call(self, uow: UnitOfWork, event: BusEvent) -> None:
        """One event, whatever the handler's shape (a batch handler gets a list of one)."""
        if self.batch:
            self.handler(uow, [event])
        else:
            self.handler(uow, event)

    def matches(self, event: BusEvent) -> bool:
        if not self.classes and not self.event_types:
            return True
        return isinstance(event, self.classes) or event.event_type in self.event_types


@dataclass
class NotificationQueue:
    """One queue (`<service>:<queue>`, Kill Bill's composite name) and its handler."""

    bus: Bus
    name: str
    handler: Callable[..., Any]
    transactional: bool = True
    # `batch_handler(notifications) -> leftovers`: several due notifications of a non-transactional queue at once
    # (a pack of a worker); the notifications it hands back run one by one through `handler`
    batch_handler: Callable[[list[Notification]], list[Notification]] | None = None
    # delivered to the other nodes than the one that scheduled the notification (Bus.register_queue)
    others_only: bool = False

    def schedule(self, uow: UnitOfWork, payload: Mapping[str, Any], effective_date: datetime, *,
                 account_record_id: int | None = None, tenant_record_id: int | None = None,
                 future_user_token: str | None = None) -> None:
        self.bus.schedule(uow, self.name, payload, effective_date, account_record_id=account_record_id,
                          tenant_record_id=tenant_record_id, future_user_token=future_user_token)


class Bus:
    def __init__(self, db: Database, *, wall_clock: Clock | None = None) -> None:
        if not isinstance(db.outbox, Outbox):
            raise TypeError("the bus needs a database built with its outbox: Database(url, clock, outbox=Outbox())")
        self.db = db
        self.outbox: Outbox = db.outbox
        self.config: BusConfig = self.outbox.config
        # Business time (effective dates, created dates) is the database's clock, which a
        # test clock may move; infrastructure time (claims, back-off, heartbeats) is the
        # wall clock, so that a frozen test clock neither stalls retries nor reaps nodes.
        self.wall_clock: Clock = wall_clock or SystemClock()
        self.subscriptions: list[Subscription] = []
        self.queues: dict[str, NotificationQueue] = {}
        self._dispatcher: Dispatcher | None = None
        self._inline: Dispatcher | None = None
        on_change = getattr(db.clock, "on_change", None)
        if on_change is not None:
            on_change(lambda _now: self.wake())

    @property
    def node_name(self) -> str:
        return self.config.node_name

    # -- subscriptions ----------------------------------------------------------------------
    def subscribe(self, handler: EventHandler, *events: type[BusEvent] | str,
                  name: str | None = None) -> None:
        """Call `handler(uow, event)` for events of these classes or event type names (all if none).

        The handler runs in its own transaction, under the account lock, with an internal
        context carrying the event's tenant and user token. It must be idempotent: delivery
        is at least once (its database writes commit with the row's completion).
        """
        classes = tuple(e for e in events if isinstance(e, type))
        types = frozenset(e for e in events if isinstance(e, str))
        self.subscriptions.append(Subscription(handler, classes, types, name or _name(handler)))

    def subscribe_batch(self, handler: Callable[[UnitOfWork, list[BusEvent]], None], *events: type[BusEvent] | str,
                        name: str | None = None) -> None:
        """Like `subscribe`, but `handler(uow, events)` gets every matching event of the rows a worker runs in
        one transaction (several accounts' events, in row order), after their other handlers: a handler that
        reads per event can then read once per pack. A pack of several tenants' rows calls it once per tenant,
        with `uow` in that tenant's context. If it raises, the rows are run again one by one, and it gets a list
        of one event."""
        classes = tuple(e for e in events if isinstance(e, type))
        types = frozenset(e for e in events if isinstance(e, str))
        self.subscriptions.append(Subscription(handler, classes, types, name or _name(handler),
                                               batch=True))

    def handlers_for(self, event: BusEvent) -> list[Subscription]:
        return [s for s in self.subscriptions if s.matches(event)]

    def register_queue(self, name: str, handler: Callable[..., Any], *, transactional: bool = True,
                       batch_handler: Callable[[list[Notification]], list[Notification]] | None = None,
                       others_only: bool = False) -> NotificationQueue:
        """One handler per queue: `handler(uow, notification)`, or `handler(notification)` when
        not transactional (Kill Bill NotificationQueueService.createNotificationQueue). A non-transactional
        queue may add `batch_handler(notifications)`, given the queue's rows of a worker's pack at once: it
        returns those it left for `handler`; if it raises, every row runs through `handler`. The notifications
        of an `others_only` queue are delivered to the other nodes than the one that scheduled them (Billow's:
        work a node hands out to the rest of the cluster); the scheduler removes those nobody took."""
        if batch_handler is not None and transactional:
            raise ValueError("a batch handler is for a non-transactional queue")
        if name in self.queues:
            raise ValueError(f"notification queue {name} already exists")
        if len(name) > 64:
            raise ValueError("queue name longer than 64 characters")
        q = NotificationQueue(self, name, handler, transactional, batch_handler, others_only)
        self.queues[name] = q
        return q

    def unregister_queue(self, name: str) -> None:
        """Leave a queue's notifications to the other processes (a bus helper leaves billing runs to its node's
        billing workers); this process may still schedule them."""
        self.queues.pop(name, None)

    def queue(self, name: str) -> NotificationQueue:
        return self.queues[name]

    # -- writes (caller's transaction) -------------------------------------------------------
    def schedule(self, uow: UnitOfWork, queue_name: str, payload: Mapping[str, Any],
                 effective_date: datetime, *,
                 account_record_id: int | None = None, tenant_record_id: int | None = None,
                 future_user_token: str | None = None) -> None:
        """Record a notification in the caller's transaction (Kill Bill
        `recordFutureNotificationFromTransaction`); it fires once `effective_date` is past."""
        self.schedule_many(uow, queue_name, [(payload, effective_date, account_record_id)],
                           tenant_record_id=tenant_record_id, future_user_token=future_user_token)

    def schedule_many(self, uow: UnitOfWork, queue_name: str,
                      notifications: Sequence[tuple[Mapping[str, Any], datetime, int | None]], *,
                      tenant_record_id: int | None = None, future_user_token: str | None = None) -> None:
        """`schedule` for many notifications of one queue ((payload, effective date, account record id) each),
        in one insert."""
        if len(queue_name) > 64:
            raise ValueError("queue name longer than 64 characters")
        if not notifications:
            return
        tenant = tenant_record_id if tenant_record_id is not None else uow.ctx.tenant_record_id
        effective = [utc(when) for _, when, _ in notifications]
        rows: list[dict[str, Any]] = [{
            "class_name": NOTIFICATION_CLASS, "event_json": json.dumps(dict(payload), separators=(",", ":")),
            "user_token": uow.ctx.user_token, "created_date": uow.now, "creating_owner": self.node_name,
            "processing_owner": None, "processing_available_date": None, "processing_state": AVAILABLE,
            "error_count": 0, "search_key1": account_record_id, "search_key2": tenant,
            "queue_name": queue_name, "effective_date": when, "future_user_token": future_user_token,
        } for (payload, _, account_record_id), when in zip(notifications, effective, strict=True)]
        store.insert_entries(uow.conn, store.NOTIFICATIONS, rows)
        if min(effective) <= uow.now:
            self.outbox.notify(uow)
        uow.after_commit(self.wake)

    def remove_due(self, uow: UnitOfWork, queue_name: str, tenant_record_id: int, effective_up_to: datetime
                   ) -> int:
        """Remove a tenant's unclaimed notifications of a queue that are due by a date, in the caller's
        transaction (history state REMOVED): for a handler that has just done their work too."""
        return store.remove_available(uow.conn, queue_name, tenant_record_id, effective_up_to,
                                      self.wall_clock.utcnow())

    def remove_future_of_account(self, uow: UnitOfWork, account_record_id: int) -> int:
        """Remove the account's notifications (every queue) due after the unit of work's instant, in the
        caller's transaction (history state REMOVED); the number removed."""
        return store.remove_future_of_account(uow.conn, uow.tenant, account_record_id, uow.now,
                                              self.wall_clock.utcnow())

    def future_dates(self, uow: UnitOfWork, queue_name: str, account_record_id: int) -> list[datetime]:
        """When the account's notifications of one queue due after the unit of work's instant fire."""
        return [utc(d) for d in store.future_dates(uow.conn, uow.tenant, account_record_id, queue_name, uow.now)]

    def remove_future(self, uow: UnitOfWork, queue_name: str, account_record_id: int,
                      match: Callable[[dict[str, Any]], bool]) -> int:
        """Remove the account's notifications of one queue due after the unit of work's instant whose payload
        matches, in the caller's transaction (history state REMOVED); the number removed."""
        return store.remove_future_matching(uow.conn, uow.tenant, account_record_id, queue_name, uow.now,
                                            self.wall_clock.utcnow(), match)

    def dead_nodes(self, conn: Connection, names: Iterable[str]) -> set[str]:
        """Of these node names, those whose heartbeat says they are dead (for work claimed outside the bus
        tables, e.g. billing-run batches, to be taken over the way bus claims are). Never this node: it is
        alive while it asks, whatever its heartbeat says (a late one made two billing runs of one node take
        each other's batches, and deadlock)."""
        return store.dead_nodes(conn, set(names) - {self.config.node_name}, self.wall_clock.utcnow(),
                                self.config.dead_after)

    def live_nodes(self, conn: Connection) -> set[str]:
        """The names of the nodes whose bus runs now (this one included once it started), by their heartbeats."""
        return store.live_nodes(conn, self.wall_clock.utcnow(), self.config.dead_after)

    def wake(self) -> None:
        """Tell the local dispatcher there is work (called after commit)."""
        self.outbox.ring()

    # -- dispatch ----------------------------------------------------------------------------
    def start(self, workers: int | None = None, *, dispatch: bool = True) -> None:
        """Start the dispatcher threads (embedded library or `billow serve`). Without `dispatch`, only the
        heartbeat and the reaper run: a process that claims other work (`billow bill`) is then a live node
        whose claims are taken over if it dies."""
        from billow.core.bus.dispatcher import Dispatcher

        if self._dispatcher is not None:
            return
        if workers is not None:
            self.config.workers = workers
        d = Dispatcher(self)
        self._dispatcher = d
        d.start(dispatch=dispatch)

    def stop(self) -> None:
        d, self._dispatcher = self._dispatcher, None
        if d is not None:
            d.stop()

    @property
    def running(self) -> bool:
        return self._dispatcher is not None

    def run_until_idle(self, tenant_record_id: int | None = None, timeout_s: float = 5.0) -> bool:
        """Fire every notification now due, in effective-date order, and the events they post.

        Returns True once nothing is left (for this tenant when given), False at the timeout
        (Kill Bill's test clock endpoints: `timeoutSec`, answering as Kill Bill does when the
        queues are not empty in time). With the dispatcher running this waits for it; without
        it, the work is done in the calling thread.
        """
        from billow.core.bus.dispatcher import Dispatcher

        d = self._dispatcher
        if d is not None:
            return d.wait_idle(tenant_record_id, timeout_s)
        if self._inline is None:
            self._inline = Dispatcher(self)
        return self._inline.drain_inline(tenant_record_id, timeout_s)

    drain = run_until_idle


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)

