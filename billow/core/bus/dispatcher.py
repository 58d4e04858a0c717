"""The dispatcher: claim batches, run handlers in worker threads, heartbeat, reap, listen.

Kill Bill: killbill-commons `queue/dispatching/Dispatcher.java` (claim then hand entries to
a thread pool), `DBBackedQueue.java` (claims and completion), `DefaultReaper.java`, and
`bus/DefaultPersistentBus.java` / `notificationq/NotificationQueueDispatcher.java`.

One claimer thread per node claims *account groups* (the head of an account's stream and
the ready rows behind it, see `billow.core.bus.store`) for idle workers only, so a node
never sits on work another node could do. A worker runs a group's rows in order; if one
fails, the rest of the group is released and the account waits for the retry. Bus events
are claimed before notifications, so the events a notification posts run before the next
notification. On PostgreSQL, claims use `FOR UPDATE SKIP LOCKED` and LISTEN/NOTIFY wakes
the claimer; on SQLite (one writer at a time) the claim is a plain transaction.

Events this process posts are handed to its dispatcher in memory (see `billow.core.bus.outbox`): the
claimer takes them before claiming, and claims only when the tables may hold work (a NOTIFY, a
local write that went to the table, a clock move, a release) or at least every poll interval.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine

from billow.core.bus import store
from billow.core.bus.event import BusEvent
from billow.core.bus.store import Entry
from billow.core.bus.tables import FAILED, PROCESSED
from billow.core.context import internal_context
from billow.core.db.leases import LEASE_WAIT_S, AccountBusy

if TYPE_CHECKING:
    from billow.core.bus.bus import Bus, Notification, NotificationQueue, Subscription
    from billow.core.db.uow import UnitOfWork

log = logging.getLogger("billow.bus")

OK, RETRY, LOST, DEFERRED = "ok", "retry", "lost", "deferred"


class _LostClaim(Exception):
    pass


class _NotYet(Exception):
    """A handed row was not taken: an earlier row of its account is still in the table."""


class _Commit(Exception):
    """A batch's commit failed: no handler is to blame."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(repr(cause))
        self.cause = cause


class Dispatcher:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.db = bus.db
        self.cfg = bus.config
        self.owner = bus.config.node_name
        self.boot = bus.wall_clock.utcnow()
        self._wake = bus.outbox.doorbell
        self._table_due = bus.outbox.table_due
        self._last_claim = 0.0  # monotonic
        self._handed: collections.deque[Entry] = collections.deque()
        self._handed_lock = threading.Lock()
        self._stop = threading.Event()
        self._idle_cv = threading.Condition()
        self._inflight = 0
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None
        self._futures: set[Future[None]] = set()
        self._registered = False
        self._last_beat = 0.0
        self._listen_conn: Any = None
        self._beat_engine: Engine | None = None
        self._beat_lock = threading.Lock()
        self._claimed = 0  # rows this node claimed (each is deleted once done): when to vacuum the queue tables
        self._vacuumed_at = 0
        self._analyzed_at: float | None = None  # when this node last looked for stale tables (monotonic)
        self._analyzing = threading.Lock()  # the reaper's thread and an inline drain: one looks at a time

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, *, dispatch: bool = True) -> None:
        self._beat()
        self._pool = ThreadPoolExecutor(max_workers=max(1, self.cfg.workers),
                                        thread_name_prefix="billow-bus-worker")
        targets: list[tuple[str, Callable[[], None]]] = [("heartbeat", self._heartbeat_loop),
                                                          ("reaper", self._reaper_loop)]
        if dispatch:
            targets.append(("claimer", self._claim_loop))
        if dispatch and not self.db.is_sqlite and self.cfg.listen_notify:
            targets.append(("listener", self._listen_loop))
        if dispatch and self.cfg.sticky_events:
            self.bus.outbox.local = self
        for name, fn in targets:
            t = threading.Thread(target=fn, name=f"billow-bus-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop claiming, let running groups finish (up to shutdownTimeout), release the rest."""
        if self.bus.outbox.local is self:
            self.bus.outbox.local = None
        self._stop.set()
        self._wake.set()
        conn = self._listen_conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        for t in self._threads:
            t.join(timeout=self.cfg.shutdown_timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            deadline = time.monotonic() + self.cfg.shutdown_timeout
            for f in list(self._futures):
                with contextlib.suppress(Exception):  # logged by the worker
                    f.result(timeout=max(0.0, deadline - time.monotonic()))
        with self._handed_lock:
            left = list(self._handed)
            self._handed.clear()
        self._release(left)  # handed rows not begun: for the next node (or this one restarted) to claim
        if not self._futures:
            try:
                with self.db.transaction(internal_context()) as uow:
                    store.deactivate(uow.conn, self.owner)
            except Exception:  # pragma: no cover - database gone at shutdown
                log.exception("could not mark node %s inactive", self.owner)
        with self._beat_lock:
            if self._beat_engine is not None:
                self._beat_engine.dispose()
                self._beat_engine = None

    def wake(self) -> None:
        self.bus.outbox.ring()

    # -- handed events (Outbox.write) ---------------------------------------------------------
    def accepts(self, rows: int) -> bool:
        """Whether to hand `rows` more events to this dispatcher: while it runs, up to `workers * pack_rows`
        waiting in memory (past that, a backlog goes to the table, where every node can take its share)."""
        if self._stop.is_set():
            return False
        with self._handed_lock:
            return len(self._handed) + rows <= max(1, self.cfg.workers) * max(1, self.cfg.pack_rows)

    def claimed_until(self) -> datetime:
        return self._wall() + self.cfg.claim_time

    def hand(self, entries: list[Entry]) -> None:
        """Rows inserted claimed by this node, after their commit (called in the committing thread)."""
        with self._handed_lock:
            self._handed.extend(entries)
        self._wake.set()

    def _take_handed(self, rows: int) -> list[Entry]:
        """Up to `rows` handed rows (first in, first out), in record-id order: committing threads may hand in
        another order than they committed, and record ids give an account's order."""
        with self._handed_lock:
            taken = [self._handed.popleft() for _ in range(min(rows, len(self._handed)))]
        return sorted(taken, key=lambda e: e.record_id)

    # -- time ---------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return self.db.clock.utcnow()

    def _wall(self) -> datetime:
        return self.bus.wall_clock.utcnow()

    # -- claiming -----------------------------------------------------------------------------
    def claim(self, rows: int, *, strict: bool = False) -> list[list[Entry]]:
        """One claim round: bus events first, then notifications due, up to `rows` rows in account groups.

        Sized in rows, not groups: a group holds up to `claimed` rows, and a node that took `rows` groups of a
        backlog could hold ten times what its workers run at once, leaving the other nodes nothing to share.
        `strict` (drain in the calling thread): notifications are taken one at a time, so
        that they fire in effective-date order across accounts too."""
        if rows <= 0:
            return []
        out: list[list[Entry]] = []
        skip_locked = not self.db.is_sqlite
        with self.db.transaction(internal_context()) as uow:
            now, wall = self._now(), self._wall()
            if self.bus.subscriptions:
                out += store.claim(uow.conn, store.BUS, owner=self.owner, now=now, wall=wall,
                                   claim_time=self.cfg.claim_time, rows=rows,
                                   group_size=self.cfg.claimed, skip_locked=skip_locked)
            room = rows - sum(len(g) for g in out)
            if self.bus.queues and (not out if strict else room > 0):
                out += store.claim(uow.conn, store.NOTIFICATIONS, owner=self.owner, now=now, wall=wall,
                                   claim_time=self.cfg.claim_time, rows=1 if strict else room,
                                   group_size=1 if strict else self.cfg.claimed,
                                   queue_names=list(self.bus.queues), skip_locked=skip_locked,
                                   others_only=[q.name for q in self.bus.queues.values() if q.others_only])
        self._claimed += sum(len(g) for g in out)
        return out

    def _claim_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._idle_cv:
                idle = self.cfg.workers - self._inflight
            groups: list[list[Entry]] = []
            failed = False
            if idle > 0:
                pack_rows = max(1, self.cfg.pack_rows)
                handed = self._take_handed(idle * pack_rows)
                claimed: list[list[Entry]] = []
                if len(handed) < idle * pack_rows and (
                        self._table_due.is_set()
                        or time.monotonic() - self._last_claim >= self.cfg.poll_interval):
                    self._table_due.clear()
                    self._last_claim = time.monotonic()
                    try:
                        claimed = self.claim(idle * pack_rows - len(handed))
                    except Exception:
                        log.exception("claim failed on node %s", self.owner)
                        self._table_due.set()
                        claimed, failed = [], True
                    if claimed:
                        self._table_due.set()  # there may be more
                groups = _merge(claimed, handed)
                # spread the claimed groups over the idle workers, whole groups of at most
                # `pack_rows` rows per transaction
                limit = max(1, min(pack_rows, -(-sum(len(g) for g in groups) // idle)))
                pack: list[list[Entry]] = []
                rows = 0
                for g in groups:
                    if pack and rows + len(g) > limit:
                        self._submit(pack)
                        pack, rows = [], 0
                    pack.append(g)
                    rows += len(g)
                if pack:
                    self._submit(pack)
            if failed:
                self._stop.wait(self.cfg.poll_interval)
                continue
            if groups:
                continue  # there may be more ready work right away; a full set of workers waits below next time
            if idle <= 0:
                self._wake.wait(self.cfg.poll_interval)  # a finishing worker wakes us
            else:  # until handed rows, a ring, or the next claim is due
                self._wake.wait(max(0.001, self._last_claim + self.cfg.poll_interval - time.monotonic()))

    def _submit(self, groups: list[list[Entry]]) -> None:
        assert self._pool is not None
        with self._idle_cv:
            self._inflight += 1
        try:
            fut = self._pool.submit(self._run_pack_tracked, groups)
        except RuntimeError:  # pool shut down
            self._release([e for g in groups for e in g])
            self._done()
            return
        self._futures.add(fut)
        fut.add_done_callback(self._futures.discard)

    def _done(self) -> None:
        with self._idle_cv:
            self._inflight -= 1
            self._idle_cv.notify_all()
        self._wake.set()

    def _run_pack_tracked(self, groups: list[list[Entry]]) -> None:
        try:
            self.run_pack(groups)
        except Exception:  # pragma: no cover - run_group handles its own errors
            log.exception("unexpected error in worker")
        finally:
            self._done()

    def run_pack(self, groups: list[list[Entry]]) -> None:
        """Several account groups in one transaction when every row is transactional; if anything
        fails the transaction is rolled back and each group runs on its own (`run_group`), so a
        pack never changes what a single group would have done. A handler that raised is not run
        again for the same attempt: its row gets its retry, the rows before it in its group run
        again, the rows after it wait."""
        batches: dict[str, list[Entry]] = {}
        rest: list[list[Entry]] = []
        for g in groups:  # account groups of one batch queue's rows go to its batch handler together
            queue = self._batch_queue(g)
            if queue is None:
                rest.append(g)
            else:
                batches.setdefault(queue.name, []).extend(g)
        for name, batch in batches.items():
            if self._stop.is_set():
                self._release(batch)
            elif len(batch) > 1:
                self._run_notification_batch(self.bus.queues[name], batch)
            else:
                self.run_group(batch)
        groups = rest
        entries = [e for g in groups for e in g]
        if len(groups) > 1 and not self._stop.is_set() and all(self._batchable(e) for e in entries):
            failure = self._run_batch(entries)
            if failure is None:
                return
            k, exc = failure
            if not isinstance(exc, (_Commit, _LostClaim)):
                bad = entries[k]
                for group in groups:
                    at = next((i for i, e in enumerate(group) if e is bad), None)
                    if at is None:
                        self.run_group(group)
                        continue
                    done = self._after_failure(group, at, exc)
                    if done < len(group):
                        self._release(group[done + 1:])
                return
        for group in groups:
            self.run_group(group)

    # -- processing ---------------------------------------------------------------------------
    def run_group(self, group: list[Entry]) -> None:
        """Run one account group in order. Runs of transactional rows share one transaction
        (each row still completes only with its handlers' writes). If a handler fails, the
        transaction is rolled back, the rows before it are run again, the failing row gets
        its retry (without running its handler twice) and the rows after it wait."""
        i = 0
        while i < len(group):
            if self._stop.is_set():
                self._release(group[i:])
                return
            j = i
            while j < len(group) and self._batchable(group[j]):
                j += 1
            if j - i > 1:
                done = self._run_batch_resilient(group[i:j])
                if done < j - i:
                    self._release(group[i + done + 1:])
                    return
                i = j
                continue
            if self.run_one(group[i]) != OK:
                self._release(group[i + 1:])
                return
            i += 1

    def _run_batch_resilient(self, batch: list[Entry]) -> int:
        """Run a batch; returns how many rows completed (a shortfall means row `done` failed
        and its failure is recorded, or its claim was lost)."""
        failure = self._run_batch(batch)
        if failure is None:
            return len(batch)
        return self._after_failure(batch, *failure)

    def _after_failure(self, batch: list[Entry], k: int, exc: Exception) -> int:
        """Row `k` of a batch that ran in one transaction failed with `exc` (rolled back): run the rows
        before it again, record its failure without running its handler again; how many rows completed."""
        if isinstance(exc, _Commit):
            for n, entry in enumerate(batch):
                if self.run_one(entry) != OK:
                    return n
            return len(batch)
        done = self._run_batch_resilient(batch[:k]) if k > 1 else (
            1 if k == 1 and self.run_one(batch[0]) == OK else 0)
        if done < k:
            return done
        entry = batch[k]
        if isinstance(exc, _LostClaim):
            log.warning("claim on %s %s lost (reaped?); skipping", entry.table, entry.record_id)
        elif isinstance(exc, _NotYet):
            self._release([entry])  # the caller releases the rows after it
        elif isinstance(exc, AccountBusy):
            self._release([entry], busy=True)
        else:
            self._on_error(entry, internal_context(tenant_record_id=entry.search_key2,
                                                   user_token=entry.user_token), exc)
        return k

    def _batch_queue(self, entries: list[Entry]) -> NotificationQueue | None:
        """The queue of these rows when they are all notifications of one queue with a batch handler."""
        if not entries or entries[0].table != store.NOTIFICATIONS:
            return None
        name = entries[0].queue_name or ""
        queue = self.bus.queues.get(name)
        if queue is None or queue.batch_handler is None:
            return None
        if any(e.table != store.NOTIFICATIONS or e.queue_name != name for e in entries):
            return None
        return queue

    def _run_notification_batch(self, queue: NotificationQueue, entries: list[Entry]) -> None:
        """Rows of a non-transactional queue given to its batch handler at once (outside any transaction, as
        `_run_non_transactional` does for one); those it handed back, or all if it raised, run one by one after."""
        assert queue.batch_handler is not None
        with self.db.read_connection() as conn:
            owned = store.still_owned_many(conn, entries, self.owner)
        mine = [e for e in entries if e.record_id in owned]
        if len(mine) < len(entries):
            log.warning("%d claims on %s lost (reaped?); skipping", len(entries) - len(mine), queue.name)
        try:
            left = {n.record_id for n in queue.batch_handler([self._notification(e) for e in mine])}
        except Exception:
            log.warning("the batch handler of %s failed; running its rows one by one", queue.name, exc_info=True)
            left = {e.record_id for e in mine}
        done = [e for e in mine if e.record_id not in left]
        if done:
            try:
                with self.db.transaction(internal_context()) as uow:  # no account lock: the handler's work is
                    taken = store.take_many(uow.conn, done, self.owner)    # done, only our claims are removed
                    store.archive_many(uow.conn, [e for e in done if e.record_id in taken], PROCESSED, self.owner,
                                       self._wall())
            except Exception:  # the rows stay claimed: the reaper hands them out again, and their handler
                log.exception("could not complete %d rows of %s", len(done), queue.name)  # finds nothing to do
        rest = [e for e in mine if e.record_id in left]
        for i, entry in enumerate(rest):
            if self._stop.is_set():
                self._release(rest[i:])
                return
            self.run_one(entry)

    def _batchable(self, entry: Entry) -> bool:
        if entry.table == store.BUS:
            return True
        queue = self.bus.queues.get(entry.queue_name or "")
        return queue is not None and queue.transactional

    def _run_batch(self, batch: list[Entry]) -> tuple[int, Exception] | None:
        """All rows in one transaction; None on success, else (index of the failing row, error)."""
        first = batch[0]
        pos = [0]  # the row being run
        try:
            with self.db.transaction(internal_context(tenant_record_id=first.search_key2)) as uow:
                uow.lock_accounts({e.search_key1 for e in batch if e.search_key1 is not None})
                taken: set[int] = set()
                for table in (store.BUS, store.NOTIFICATIONS):
                    taken |= store.take_many(uow.conn, [e for e in batch if e.table == table], self.owner)
                batched: dict[int, tuple[Subscription, list[BusEvent]]] = {}
                for n, entry in enumerate(batch):
                    pos[0] = n
                    if entry.record_id not in taken:
                        raise _NotYet() if entry.handed else _LostClaim()
                    uow.ctx = internal_context(tenant_record_id=entry.search_key2,
                                               user_token=entry.user_token)
                    if entry.table == store.BUS:
                        event = BusEvent.from_json(entry.class_name, entry.event_json)
                        for sub in self.bus.handlers_for(event):
                            if sub.batch:
                                batched.setdefault(id(sub), (sub, []))[1].append(event)
                            else:
                                sub.handler(uow, event)
                    else:
                        self.bus.queues[entry.queue_name or ""].handler(uow, self._notification(entry))
                    uow.flush_events()  # with this row's user token
                pos[0] = len(batch)  # a failure from here on is not one row's: the rows run again one by one
                for sub, events in batched.values():
                    # a pack may hold several tenants' rows: a batch handler sees one tenant's events at a time,
                    # in that tenant's context (its reads and writes are scoped by `uow.tenant`)
                    by_tenant: dict[int, list[BusEvent]] = {}
                    for event in events:
                        by_tenant.setdefault(event.tenant_record_id, []).append(event)
                    for tenant, found in by_tenant.items():
                        uow.ctx = internal_context(tenant_record_id=tenant, user_token=found[-1].user_token)
                        sub.handler(uow, found)
                        uow.flush_events()
                store.archive_many(uow.conn, batch, PROCESSED, self.owner, self._wall())
            return None
        except Exception as exc:
            if pos[0] >= len(batch):  # completion or commit failed: run every row on its own
                log.warning("a batch handler or the completion failed; running rows one by one", exc_info=True)
                return 0, _Commit(exc)
            return pos[0], exc

    def _release(self, entries: list[Entry], *, busy: bool = False) -> None:
        """Give claimed rows back for a claim to take (this node's, or another's), in their account's order; rows
        whose account was `busy` (`AccountBusy`: a payment at its gateway) a moment later, as Kill Bill's
        `QueueRetryException` reschedules them, without counting an error."""
        if not entries:
            return
        at = self._wall() + timedelta(seconds=LEASE_WAIT_S) if busy else None
        try:
            with self.db.transaction(internal_context()) as uow:
                for table in (store.BUS, store.NOTIFICATIONS):
                    ids = [e.record_id for e in entries if e.table == table]
                    store.release(uow.conn, table, ids, self.owner, at)
        except Exception:
            log.exception("could not release claimed rows; the reaper will")
        self.bus.outbox.ring()

    def run_one(self, entry: Entry) -> str:
        ctx = internal_context(tenant_record_id=entry.search_key2, user_token=entry.user_token)
        try:
            if entry.table == store.BUS:
                self._run_event(entry, ctx)
            else:
                queue = self.bus.queues.get(entry.queue_name or "")
                if queue is None:
                    raise LookupError(f"no handler for notification queue {entry.queue_name}")
                if queue.transactional:
                    self._run_notification(entry, ctx, queue.handler)
                else:
                    self._run_non_transactional(entry, ctx, queue.handler)
            return OK
        except _LostClaim:
            log.warning("claim on %s %s lost (reaped?); skipping", entry.table, entry.record_id)
            return LOST
        except _NotYet:  # an earlier row of its account is left: a claim runs it in its turn
            self._release([entry])
            return DEFERRED
        except AccountBusy:
            self._release([entry], busy=True)
            return DEFERRED
        except Exception as exc:
            return self._on_error(entry, ctx, exc)

    def _begin(self, uow: UnitOfWork, entry: Entry) -> None:
        if entry.search_key1 is not None:
            uow.lock_account(entry.search_key1)
        if not store.take(uow.conn, entry, self.owner):
            raise _NotYet() if entry.handed else _LostClaim()

    def _run_event(self, entry: Entry, ctx: Any) -> None:
        event = BusEvent.from_json(entry.class_name, entry.event_json)
        subs = self.bus.handlers_for(event)
        with self.db.transaction(ctx) as uow:
            self._begin(uow, entry)
            for sub in subs:
                sub.call(uow, event)
            store.archive(uow.conn, entry, PROCESSED, self.owner, self._wall())

    def _notification(self, entry: Entry) -> Notification:
        from billow.core.bus.bus import Notification

        assert entry.queue_name is not None and entry.effective_date is not None
        return Notification(
            record_id=entry.record_id, queue_name=entry.queue_name, payload=json.loads(entry.event_json),
            effective_date=entry.effective_date, created_date=entry.created_date,
            tenant_record_id=entry.search_key2, account_record_id=entry.search_key1,
            user_token=entry.user_token, future_user_token=entry.future_user_token,
            error_count=entry.error_count or 0)

    def _run_notification(self, entry: Entry, ctx: Any, handler: Callable[..., Any]) -> None:
        notification = self._notification(entry)
        with self.db.transaction(ctx) as uow:
            self._begin(uow, entry)
            handler(uow, notification)
            store.archive(uow.conn, entry, PROCESSED, self.owner, self._wall())

    def _run_non_transactional(self, entry: Entry, ctx: Any, handler: Callable[..., Any]) -> None:
        notification = self._notification(entry)
        with self.db.read_connection() as conn:
            if not store.still_owned(conn, entry, self.owner):
                raise _LostClaim()
        follow_up = handler(notification)
        with self.db.transaction(ctx) as uow:
            self._begin(uow, entry)
            if follow_up is not None:
                follow_up(uow)
            store.archive(uow.conn, entry, PROCESSED, self.owner, self._wall())

    def _on_error(self, entry: Entry, ctx: Any, exc: Exception) -> str:
        try:
            with self.db.transaction(ctx) as uow:
                state = store.record_failure(uow.conn, entry, self.owner, self._wall(),
                                             self.cfg.max_failure_retry, self.cfg.retry_delays)
        except Exception:
            log.exception("could not record the failure of %s %s", entry.table, entry.record_id)
            return RETRY
        if state == FAILED:
            log.error("%s %s (%s) FAILED after %s attempts", entry.table, entry.record_id,
                      entry.queue_name or entry.class_name, (entry.error_count or 0) + 1, exc_info=exc)
        elif state is not None:
            log.warning("%s %s (%s) failed, will retry: %r", entry.table, entry.record_id,
                        entry.queue_name or entry.class_name, exc)
        return RETRY

    # -- heartbeat and reaper -----------------------------------------------------------------
    def _beat(self) -> None:
        """The node's heartbeat. On PostgreSQL it has a connection of its own, outside the pool: a node whose
        pooled connections are all taken (a loaded server, a long billing run) still beats, so the other nodes do
        not take it for dead and redo its claimed work. SQLite has one node and one writer: the pool."""
        from billow.core.version import __version__

        info = {"version": __version__}
        if self.cfg.helper_of:
            info["helperOf"] = self.cfg.helper_of
        if self.db.is_sqlite:
            with self.db.transaction(internal_context()) as uow:
                store.heartbeat(uow.conn, self.owner, self._wall(), self.boot, info)
        else:
            with self._beat_lock:
                if self._beat_engine is None:
                    # one connection, checked before use: it outlives a database restart
                    self._beat_engine = create_engine(self.db.url, pool_size=1, max_overflow=0,
                                                      pool_pre_ping=True, pool_timeout=10)
                with self._beat_engine.begin() as conn:
                    store.heartbeat(conn, self.owner, self._wall(), self.boot, info)
        self._registered = True
        self._last_beat = time.monotonic()

    def reap(self) -> int:
        total = 0
        with self.db.transaction(internal_context()) as uow:
            wall = self._wall()
            for table in (store.BUS, store.NOTIFICATIONS):
                total += store.reap(uow.conn, table, wall=wall, threshold=self.cfg.dead_after,
                                    limit=self.cfg.max_redispatch_count, skip_locked=not self.db.is_sqlite,
                                    alive=self.owner)
            store.mark_dead_nodes(uow.conn, wall, self.cfg.dead_after, alive=self.owner)
        if total:
            log.warning("reaped %s entries claimed by dead nodes", total)
            self.wake()
        return total

    def _heartbeat_loop(self) -> None:
        """Its own thread: a slow reap (a big table of claims) never delays the heartbeat."""
        self._every(self.cfg.heartbeat_interval.total_seconds(), self._beat, "heartbeat", first_at_once=False)

    def _reaper_loop(self) -> None:
        self._every(self.cfg.reap_every.total_seconds(), self.upkeep, "reaper", first_at_once=True)

    def upkeep(self) -> None:
        """One pass of the reaper's thread: reap the dead nodes' claims, vacuum the queue tables when due, and,
        when due, analyze the tables whose statistics are stale (`analyze_if_due`: what autovacuum would do, for a
        server where it is off or lags). Not the queue tables: they swing between empty and full, and statistics
        taken while empty would mislead the claims (see `Database.vacuum`); a bulk load analyzes them full."""
        self.reap()
        self.vacuum_if_due()
        self.analyze_if_due()

    def analyze_if_due(self) -> list[str]:
        """Every `analyze_check_every`: analyze the stale tables but the queue tables (`Database.analyze_stale`),
        those that only churn at most every `analyze_every`. The tables analyzed."""
        if not self._analyzing.acquire(blocking=False):
            return []
        try:
            now = time.monotonic()
            if self._analyzed_at is not None and \
                    now - self._analyzed_at < self.cfg.analyze_check_every.total_seconds():
                return []
            self._analyzed_at = now
            return self.db.analyze_stale(exclude=(store.BUS, store.NOTIFICATIONS),
                                         unless_analyzed_within=self.cfg.analyze_every)
        finally:
            self._analyzing.release()

    def vacuum_if_due(self) -> bool:
        """PostgreSQL: `VACUUM` the queue tables once this node has claimed `vacuum_after_rows` rows since the last
        time. Every row done is deleted; until a vacuum, a claim walks their dead versions from the head of the
        queue. A million-account billing day left 11 million dead rows in `bus_events` (autovacuum off, as here):
        a claim of 100 events read 30,000 pages (191 ms) and the bus drained 180 events a second. Plain VACUUM:
        no statistics are taken (see `Database.vacuum`), and it blocks neither readers nor writers."""
        if self.db.is_sqlite or self._claimed - self._vacuumed_at < self.cfg.vacuum_after_rows:
            return False
        self._vacuumed_at = self._claimed
        self.db.vacuum(store.BUS, store.NOTIFICATIONS, analyze=False)
        return True

    def _every(self, seconds: float, task: Callable[[], object], name: str, *, first_at_once: bool) -> None:
        next_at = time.monotonic() + (0 if first_at_once else seconds)
        while not self._stop.wait(max(0.01, next_at - time.monotonic())):
            next_at = time.monotonic() + seconds
            try:
                task()
            except Exception:
                log.exception("%s failed on node %s", name, self.owner)

    # -- LISTEN/NOTIFY --------------------------------------------------------------------------
    def _listen_loop(self) -> None:
        import psycopg

        from billow.core.bus.outbox import NOTIFY_CHANNEL

        dsn = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    self._listen_conn = conn
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not self._stop.is_set():
                        for _n in conn.notifies(timeout=1.0):
                            self.bus.outbox.ring()  # work in the tables: claim
            except Exception:
                if self._stop.is_set():
                    return
                log.warning("LISTEN connection lost; polling until it is back", exc_info=True)
                self._stop.wait(1.0)
            finally:
                self._listen_conn = None

    # -- drain ----------------------------------------------------------------------------------
    def _pending(self, tenant_record_id: int | None) -> int:
        with self.db.read_connection() as conn:
            return store.pending(conn, now=self._now(), tenant_record_id=tenant_record_id,
                                 bus=bool(self.bus.subscriptions), queue_names=list(self.bus.queues))

    def wait_idle(self, tenant_record_id: int | None, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        self.wake()
        while True:
            with self._idle_cv:
                busy = self._inflight > 0
            # while this node's workers run, it is not idle: ask the database only when they pause
            if not busy and self._pending(tenant_record_id) == 0:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._idle_cv:
                self._idle_cv.wait(min(0.01, remaining))

    def drain_inline(self, tenant_record_id: int | None, timeout_s: float) -> bool:
        """No dispatcher threads: claim and run one group at a time in the calling thread."""
        deadline = time.monotonic() + timeout_s
        while True:
            beat_due = time.monotonic() - self._last_beat > self.cfg.heartbeat_interval.total_seconds()
            if not self._registered or beat_due:
                self._beat()
            # what the reaper's thread does when there is one (embedded, tests, benches, `billow bill`)
            self.vacuum_if_due()
            self.analyze_if_due()
            # bus events in packs (one transaction for many accounts' groups, as the workers do);
            # notifications one at a time, in effective-date order across accounts
            groups = self.claim(max(1, self.cfg.workers) * max(1, self.cfg.pack_rows), strict=True)
            if groups and all(g[0].table == store.BUS for g in groups):
                self.run_pack(groups)
            elif groups:
                for g in groups:
                    self.run_group(g)
            elif self._pending(tenant_record_id) == 0:
                return True
            if time.monotonic() >= deadline:
                return self._pending(tenant_record_id) == 0
            if not groups:
                time.sleep(0.005)


def _merge(claimed: list[list[Entry]], handed: list[Entry]) -> list[list[Entry]]:
    """Account groups, as a claim makes them: an account's handed rows (in record-id order) join its claimed group,
    after it (a claimed head has no earlier row in the table, and handed rows stay there until done, so they come
    later), and so run in its pack, in order. Rows without an account stay groups of their own."""
    out = [list(g) for g in claimed]
    by_account: dict[tuple[int | None, int | None], list[Entry]] = {
        (g[0].search_key1, g[0].search_key2): g for g in out if g[0].search_key1 is not None
        and g[0].table == store.BUS}  # handed rows are bus events: never joined to a notification's group
    for e in handed:
        key = (e.search_key1, e.search_key2)
        group = by_account.get(key) if e.search_key1 is not None else None
        if group is None:
            group = [e]
            out.append(group)
            if e.search_key1 is not None:
                by_account[key] = group
        else:
            group.append(e)
    return out
