"""SQL of the queue tables: insert, claim, complete, retry/fail, release, reap, heartbeat.

Nothing else touches `bus_events`, `notifications`, their histories or `node_infos`.
The protocol follows killbill-commons (`queue/.../QueueSqlDao.sql.stg`,
`notificationq/dao/NotificationSqlDao.sql.stg`, `bus/dao/PersistentBusSqlDao.sql.stg`,
`DBBackedQueue.java`), with per-account ordering added:

- A row is *ready* when AVAILABLE, past its `processing_available_date` (retry back-off;
  wall-clock time) and, for notifications, `effective_date <= now` (business clock).
- A ready row can be claimed only if it is the *head* of its account's stream: no other
  row of the same account (bus) or of the same account and queue (notifications) comes
  before it. Rows still in the main table are exactly the unfinished ones, so a head
  cannot overtake an earlier row that is in processing, waiting for a retry or claimed
  by another node. A claim takes heads (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and the
  contiguous ready rows behind them; one worker then runs each account group in order.
- A row posted by a node whose dispatcher runs is *handed* instead (Kill Bill's STICKY_EVENTS
  mode, its default for the bus): inserted already claimed by that node and given to its
  dispatcher in memory after the commit, so no claim reads the table for it. Taking a handed
  row also checks its account's order: if an earlier row of the account is still in the table
  (another node's, or one waiting for a retry), the handed row is not taken but released, and
  a claim then runs it in its turn.
- A transactional handler's transaction starts by deleting its row (checking the claim is
  still this node's) and ends by inserting the PROCESSED history row: the handler's own
  writes and the completion commit together, or not at all.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)

from billow.core.bus.tables import (
    AVAILABLE,
    FAILED,
    HISTORY,
    IN_PROCESSING,
    PROCESSED,
    REAPED,
    REMOVED,
    bus_events,
    node_infos,
    notifications,
)
from billow.core.db.bulk import insert_rows
from billow.core.db.sets import in_values

BUS = "bus_events"
NOTIFICATIONS = "notifications"
TABLES: dict[str, Table] = {BUS: bus_events, NOTIFICATIONS: notifications}
_ENTRY_COLUMNS = ("class_name", "event_json", "user_token", "created_date", "creating_owner",
                  "processing_owner", "processing_available_date", "processing_state", "error_count",
                  "search_key1", "search_key2")
_NOTIFICATION_COLUMNS = ("queue_name", "effective_date", "future_user_token")


@dataclass
class Entry:
    """One row of `bus_events` or `notifications` (Kill Bill's BusEventModelDao/NotificationEventModelDao)."""

    table: str
    record_id: int
    class_name: str
    event_json: str
    user_token: str | None
    created_date: datetime
    creating_owner: str
    processing_owner: str | None
    processing_available_date: datetime | None
    processing_state: str | None
    error_count: int
    search_key1: int | None
    search_key2: int | None
    queue_name: str | None = None
    effective_date: datetime | None = None
    future_user_token: str | None = None
    # inserted claimed by its node and handed to its dispatcher in memory (not read by a claim)
    handed: bool = False

    @classmethod
    def from_row(cls, table: str, row: Any) -> Entry:
        m = row._mapping
        extra = {c: m[c] for c in _NOTIFICATION_COLUMNS} if table == NOTIFICATIONS else {}
        return cls(table=table, record_id=m["record_id"], **{c: m[c] for c in _ENTRY_COLUMNS}, **extra)

    def values(self) -> dict[str, Any]:
        out = {c: getattr(self, c) for c in _ENTRY_COLUMNS}
        if self.table == NOTIFICATIONS:
            out.update({c: getattr(self, c) for c in _NOTIFICATION_COLUMNS})
        out["error_count"] = out["error_count"] or 0
        return out


# -- writes in the caller's transaction -------------------------------------------------------
def insert_entries(conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Many rows in one round trip (COPY on PostgreSQL for a billing run's hundreds of events)."""
    if rows:
        insert_rows(conn, TABLES[table], rows, returning_ids=False)


def insert_handed(conn: Connection, rows: Sequence[dict[str, Any]], owner: str, claimed_until: datetime
                  ) -> list[Entry]:
    """Bus rows inserted already claimed by `owner`, for its dispatcher to run without a claim (Kill Bill's
    STICKY_EVENTS: `DBBackedQueueWithInflightQueue`); the entries to hand over after the commit."""
    claimed = [{**row, "processing_state": IN_PROCESSING, "processing_owner": owner,
                "processing_available_date": claimed_until} for row in rows]
    ids = insert_rows(conn, bus_events, claimed, returning_ids=True)
    return [Entry(table=BUS, record_id=rid, handed=True, **{c: row[c] for c in _ENTRY_COLUMNS})
            for rid, row in zip(ids, claimed, strict=True)]


# -- claims -------------------------------------------------------------------------------------
# The queue tables' plans must not depend on their statistics: they swing between empty and full faster than any
# analysis follows, and a plan made for an empty table, run on a full one, read every row for every row (a claim
# took 1.9 s at 5,000 events). So the claims are written for the indexes that serve them whatever the planner
# believes: the state of a ready row is a constant in the text (a bind parameter would hide the partial index
# `ix_bus_events_ready` from the plan), a row's earlier rows are looked for through `ix_*_keys` only (`record_id + 0`
# keeps the primary key out: its range `record_id < x` is every earlier row of the table), and the claim's UPDATE
# finds its rows by primary key only (its state tests are no index conditions).
_AVAILABLE: ColumnElement[str] = literal_column(f"'{AVAILABLE}'")


def _ready(t: Table, now: datetime, wall: datetime) -> list[Any]:
    cond = [
        t.c.processing_state == _AVAILABLE,
        or_(t.c.processing_available_date.is_(None), t.c.processing_available_date <= wall),
    ]
    if t is notifications:
        cond.append(t.c.effective_date <= now)
    return cond


@functools.cache  # the same clause every claim: built once (its construction was a fifth of a claim's CPU)
def _earlier_exists(t: Table) -> Any:
    p = t.alias("p")
    if t is notifications:
        cond = and_(
            p.c.search_key1 == t.c.search_key1,
            p.c.search_key2 == t.c.search_key2,
            p.c.queue_name == t.c.queue_name,
            or_(p.c.effective_date < t.c.effective_date,
                and_(p.c.effective_date == t.c.effective_date, _unindexed(p.c.record_id) < t.c.record_id)),
        )
    else:
        cond = and_(p.c.search_key1 == t.c.search_key1, p.c.search_key2 == t.c.search_key2,
                    _unindexed(p.c.record_id) < t.c.record_id)
    return exists(select(literal(1)).select_from(p).where(cond))


def _unindexed(record_id: Any) -> Any:
    """`record_id + 0`: the same value, which no index serves (see `_AVAILABLE`)."""
    return record_id + literal_column("0")


def _order(t: Table) -> list[Any]:
    if t is notifications:
        return [t.c.effective_date, t.c.record_id]
    return [t.c.record_id]


def claim(conn: Connection, table: str, *, owner: str, now: datetime, wall: datetime, claim_time: timedelta,
          rows: int, group_size: int, queue_names: Iterable[str] | None = None,
          skip_locked: bool = False, others_only: Collection[str] = ()) -> list[list[Entry]]:
    """Claim up to `rows` rows, in account groups of up to `group_size` rows each, in delivery order: whole
    groups but the last, which is cut short (a stream's rows after a claimed one wait for it anyway). Notifications
    of the `others_only` queues are left to the other nodes when this node (`owner`) created them."""
    t = TABLES[table]
    cond = _ready(t, now, wall)
    queues = list(queue_names) if queue_names is not None else None
    if queues is not None:
        if not queues:
            return []
        cond.append(t.c.queue_name.in_(queues))
    if others_only:
        cond.append(or_(t.c.queue_name.not_in(sorted(others_only)), t.c.creating_owner != owner))
    heads_q = (select(t.c.record_id, t.c.search_key1, t.c.search_key2,
                      *([t.c.queue_name] if t is notifications else []))
               .where(*cond, ~_earlier_exists(t)).order_by(*_order(t)).limit(rows))
    if skip_locked:
        heads_q = heads_q.with_for_update(skip_locked=True, of=t)
    heads = conn.execute(heads_q).all()
    if not heads:
        return []

    # Account heads pull the contiguous ready rows of their stream behind them.
    ordered: list[list[int]] = []
    with_account = [h for h in heads if h.search_key1 is not None]
    by_key: dict[tuple[Any, ...], list[int]] = {}
    for h in heads:
        ids = [h.record_id]
        ordered.append(ids)
        if h.search_key1 is not None:
            by_key[(h.search_key1, getattr(h, "queue_name", None))] = ids
    if with_account and group_size > 1:
        part = [t.c.search_key1, t.c.queue_name] if t is notifications else [t.c.search_key1]
        rn = func.row_number().over(partition_by=part, order_by=_order(t)).label("rn")
        ready_expr = and_(*_ready(t, now, wall))
        sub = (select(t.c.record_id, t.c.search_key1, *([t.c.queue_name] if t is notifications else []),
                      ready_expr.label("ready"), rn)
               .where(in_values(conn, t.c.search_key2, {h.search_key2 for h in with_account}),
                      in_values(conn, t.c.search_key1, {h.search_key1 for h in with_account}))
               .subquery())
        streams = conn.execute(
            select(sub).where(sub.c.rn <= group_size).order_by(sub.c.search_key1, sub.c.rn)).all()
        cut: set[tuple[Any, ...]] = set()
        for r in streams:
            key = (r.search_key1, getattr(r, "queue_name", None))
            stream = by_key.get(key)
            if stream is None or key in cut:
                continue
            if r.rn == 1:
                if r.record_id != stream[0]:  # the stream changed under us: keep the head alone
                    cut.add(key)
                continue
            if not r.ready:
                cut.add(key)
                continue
            stream.append(r.record_id)
    room = rows
    kept: list[list[int]] = []
    for ids in ordered:
        if room <= 0:
            break  # its head stays AVAILABLE (the FOR UPDATE lock ends with the transaction)
        del ids[room:]
        kept.append(ids)
        room -= len(ids)
    ordered = kept

    all_ids = [i for ids in ordered for i in ids]
    claimed = conn.execute(
        update(t)
        .where(in_values(conn, t.c.record_id, all_ids), t.c.processing_state.is_not_distinct_from(AVAILABLE),
               func.coalesce(t.c.processing_owner, "") == "")  # tested on the rows found by id (see _AVAILABLE)
        .values(processing_state=IN_PROCESSING, processing_owner=owner,
                processing_available_date=wall + claim_time)
        .returning(*t.c)
    ).all()
    got = {r.record_id: Entry.from_row(table, r) for r in claimed}
    out: list[list[Entry]] = []
    orphans: list[int] = []
    for ids in ordered:
        group: list[Entry] = []
        for i, rid in enumerate(ids):
            e = got.get(rid)
            if e is None:  # a gap: never run what follows it
                orphans.extend(x for x in ids[i + 1:] if x in got)
                break
            group.append(e)
        if group:
            out.append(group)
    if orphans:
        release(conn, table, orphans, owner)
    return out


def release(conn: Connection, table: str, record_ids: Sequence[int], owner: str,
            available_at: datetime | None = None) -> None:
    """Give claimed rows back untouched (shutdown, or an earlier row of the group failed), for a claim to take at
    once or from `available_at` on."""
    if not record_ids:
        return
    t = TABLES[table]
    conn.execute(
        update(t)
        .where(in_values(conn, t.c.record_id, record_ids), t.c.processing_owner == owner,
               t.c.processing_state == IN_PROCESSING)
        .values(processing_state=AVAILABLE, processing_owner=None, processing_available_date=available_at)
    )


# -- completion ---------------------------------------------------------------------------------
def take(conn: Connection, entry: Entry, owner: str) -> bool:
    """Delete a claimed row if the claim is still ours (locks it until the transaction ends); a handed row
    only if it is its account's next (see `take_many`)."""
    return bool(take_many(conn, [entry], owner))


def take_many(conn: Connection, entries: Sequence[Entry], owner: str) -> set[int]:
    """`take` for several rows of one table at once; returns the record ids taken.

    Handed rows were never checked against their account's order by a claim: one is taken only if no row of its
    account before it is left in the table, but those taken with it. The caller holds the account locks, under
    which no earlier row can appear. Not taking one means its turn has not come (its account's earlier row fails
    the check too, so its later ones are not taken either)."""
    if not entries:
        return set()
    t = TABLES[entries[0].table]
    ids = [e.record_id for e in entries]
    cond = [in_values(conn, t.c.record_id, ids), t.c.processing_owner == owner,
            t.c.processing_state == IN_PROCESSING]
    if any(e.handed for e in entries):
        p = t.alias("p")
        cond.append(or_(t.c.search_key1.is_(None), ~exists(select(literal(1)).select_from(p).where(
            p.c.search_key1 == t.c.search_key1, p.c.search_key2 == t.c.search_key2,
            _unindexed(p.c.record_id) < t.c.record_id, ~in_values(conn, p.c.record_id, ids)))))
    res = conn.execute(delete(t).where(*cond).returning(t.c.record_id))
    return {r[0] for r in res}


def archive_many(conn: Connection, entries: Sequence[Entry], state: str, owner: str | None,
                 wall: datetime) -> None:
    for table in {e.table for e in entries}:
        rows = []
        for e in entries:
            if e.table == table:
                values = e.values()
                values.update(processing_state=state, processing_owner=owner, processing_available_date=wall)
                rows.append(values)
        insert_rows(conn, HISTORY[table], rows, returning_ids=False)


def still_owned(conn: Connection, entry: Entry, owner: str) -> bool:
    t = TABLES[entry.table]
    row = conn.execute(select(t.c.record_id).where(
        t.c.record_id == entry.record_id, t.c.processing_owner == owner,
        t.c.processing_state == IN_PROCESSING)).first()
    return row is not None


def still_owned_many(conn: Connection, entries: Sequence[Entry], owner: str) -> set[int]:
    """`still_owned` for rows of one table: the record ids still claimed by `owner`."""
    if not entries:
        return set()
    t = TABLES[entries[0].table]
    return {r[0] for r in conn.execute(select(t.c.record_id).where(
        in_values(conn, t.c.record_id, [e.record_id for e in entries]), t.c.processing_owner == owner,
        t.c.processing_state == IN_PROCESSING))}


def archive(conn: Connection, entry: Entry, state: str, owner: str | None, wall: datetime,
            error_count: int | None = None) -> None:
    """Insert the history copy of a row (PROCESSED, FAILED or REAPED)."""
    values = entry.values()
    values.update(processing_state=state, processing_owner=owner, processing_available_date=wall)
    if error_count is not None:
        values["error_count"] = error_count
    conn.execute(insert(HISTORY[entry.table]).values(**values))


def complete(conn: Connection, entry: Entry, owner: str, wall: datetime) -> bool:
    if not take(conn, entry, owner):
        return False
    archive(conn, entry, PROCESSED, owner, wall)
    return True


def record_failure(conn: Connection, entry: Entry, owner: str, wall: datetime, max_failure_retry: int,
                   delays: Sequence[timedelta]) -> str | None:
    """A handler raised: error_count+1, back to AVAILABLE after the back-off, or FAILED after the
    last retry (Kill Bill `DBBackedQueue#updateOnError`, `moveEntryToHistory` with FAILED).

    Returns the new state, or None when the claim was lost (reaped meanwhile)."""
    t = TABLES[entry.table]
    row = conn.execute(select(t.c.error_count).where(
        t.c.record_id == entry.record_id, t.c.processing_owner == owner,
        t.c.processing_state == IN_PROCESSING)).first()
    if row is None:
        return None
    errors = (row.error_count or 0) + 1
    if errors > max_failure_retry:
        conn.execute(delete(t).where(t.c.record_id == entry.record_id))
        archive(conn, entry, FAILED, owner, wall, error_count=errors)
        return FAILED
    delay = delays[min(errors - 1, len(delays) - 1)] if delays else timedelta(0)
    conn.execute(update(t).where(t.c.record_id == entry.record_id).values(
        processing_state=AVAILABLE, processing_owner=None, processing_available_date=wall + delay,
        error_count=errors))
    return AVAILABLE


# -- nodes and reaper ---------------------------------------------------------------------------
def heartbeat(conn: Connection, node_name: str, wall: datetime, boot: datetime, info: dict[str, Any]) -> None:
    res = conn.execute(update(node_infos).where(node_infos.c.node_name == node_name)
                       .values(updated_date=wall, is_active=True))
    if res.rowcount == 0:
        conn.execute(insert(node_infos).values(node_name=node_name, boot_date=boot, updated_date=wall,
                                               node_info=json.dumps(info), is_active=True))


def deactivate(conn: Connection, node_name: str) -> None:
    conn.execute(update(node_infos).where(node_infos.c.node_name == node_name).values(is_active=False))


def reap(conn: Connection, table: str, *, wall: datetime, threshold: timedelta, limit: int,
         skip_locked: bool, alive: str) -> int:
    """Redeliver rows claimed by dead nodes (Kill Bill `DefaultReaper`, `DBBackedQueue#reapEntries`).

    A node is dead when its heartbeat is older than `threshold`, when it stopped (inactive)
    or when it never registered; never the reaping node itself (`alive`), which is running its
    claims whatever its heartbeat says. Kill Bill copies the row to history as REAPED and inserts
    it anew; we copy it as REAPED and put the row itself back to AVAILABLE, so it keeps
    its record_id and with it its place in its account's order.
    """
    t = TABLES[table]
    n = node_infos
    dead = select(n.c.node_name).where(or_(n.c.is_active.is_(False), n.c.updated_date < wall - threshold))
    known = select(n.c.node_name)
    q = (select(t).where(t.c.processing_state == IN_PROCESSING, t.c.processing_owner != alive,
                         or_(t.c.processing_owner.in_(dead), t.c.processing_owner.not_in(known)))
         .order_by(t.c.record_id).limit(limit))
    if skip_locked:
        q = q.with_for_update(skip_locked=True)
    rows = [Entry.from_row(table, r) for r in conn.execute(q)]
    for e in rows:
        archive(conn, e, REAPED, e.processing_owner, wall)
    by_owner: dict[str | None, list[int]] = {}
    for e in rows:
        by_owner.setdefault(e.processing_owner, []).append(e.record_id)
    for dead_owner, ids in by_owner.items():
        conn.execute(update(t).where(t.c.record_id.in_(ids)).values(
            processing_state=AVAILABLE, processing_owner=None, processing_available_date=None,
            **({"creating_owner": dead_owner} if dead_owner else {})))
    return len(rows)


def live_nodes(conn: Connection, wall: datetime, threshold: timedelta) -> set[str]:
    """The nodes running now: active, with a heartbeat younger than `threshold`. Bus helper processes are part of
    their node (`BusConfig.helper_of`), not nodes."""
    n = node_infos
    q = select(n.c.node_name).where(n.c.is_active.is_(True), n.c.updated_date >= wall - threshold,
                                    n.c.node_info.not_like('%"helperOf"%'))
    return {r[0] for r in conn.execute(q)}


def dead_nodes(conn: Connection, names: Iterable[str], wall: datetime, threshold: timedelta) -> set[str]:
    """Of these node names, those known to be dead: stopped, or silent for longer than `threshold`. A name
    with no heartbeat row at all is not known, so not declared dead."""
    wanted = sorted(set(names))
    if not wanted:
        return set()
    n = node_infos
    q = select(n.c.node_name).where(n.c.node_name.in_(wanted),
                                    or_(n.c.is_active.is_(False), n.c.updated_date < wall - threshold))
    return {r[0] for r in conn.execute(q)}


def mark_dead_nodes(conn: Connection, wall: datetime, threshold: timedelta, *, alive: str) -> None:
    """Mark inactive the nodes silent for longer than `threshold`, but the marking one (`alive`)."""
    n = node_infos
    conn.execute(update(n).where(n.c.is_active.is_(True), n.c.updated_date < wall - threshold,
                                 n.c.node_name != alive)
                 .values(is_active=False))


# -- drain --------------------------------------------------------------------------------------
def pending(conn: Connection, *, now: datetime, tenant_record_id: int | None, bus: bool,
            queue_names: Sequence[str]) -> int:
    """Unfinished work: any bus row, and notifications of known queues now due. 0 or 1 per table: callers
    poll it while waiting for the bus to drain, so it stops at the first row instead of counting them all."""
    total = 0
    if bus:
        q = select(bus_events.c.record_id)
        if tenant_record_id is not None:
            q = q.where(bus_events.c.search_key2 == tenant_record_id)
        total += conn.execute(q.limit(1)).first() is not None
    if queue_names:
        t = notifications
        q = select(t.c.record_id).where(t.c.effective_date <= now, t.c.queue_name.in_(list(queue_names)))
        if tenant_record_id is not None:
            q = q.where(t.c.search_key2 == tenant_record_id)
        total += conn.execute(q.limit(1)).first() is not None
    return total


def remove_available(conn: Connection, queue_name: str, tenant_record_id: int, effective_up_to: datetime,
                     wall: datetime) -> int:
    """Remove the unclaimed notifications of a queue and tenant due by a date (history state REMOVED,
    Kill Bill's `removeNotification`): work another notification already covers."""
    t = notifications
    rows = conn.execute(
        delete(t).where(t.c.queue_name == queue_name, t.c.search_key2 == tenant_record_id,
                        t.c.effective_date <= effective_up_to, t.c.processing_state == AVAILABLE,
                        t.c.processing_owner.is_(None))
        .returning(*t.c)).all()
    if rows:
        archive_many(conn, [Entry.from_row(NOTIFICATIONS, r) for r in rows], REMOVED, None, wall)
    return len(rows)


def remove_future_of_account(conn: Connection, tenant_record_id: int, account_record_id: int, after: datetime,
                             wall: datetime) -> int:
    """Remove an account's unclaimed notifications, of every queue, due after an instant (history state REMOVED,
    Kill Bill's `removeFutureNotificationsForSearchKeys`): what closing an account asks for."""
    t = notifications
    rows = conn.execute(
        delete(t).where(t.c.search_key1 == account_record_id, t.c.search_key2 == tenant_record_id,
                        t.c.effective_date > after, t.c.processing_state == AVAILABLE,
                        t.c.processing_owner.is_(None))
        .returning(*t.c)).all()
    if rows:
        archive_many(conn, [Entry.from_row(NOTIFICATIONS, r) for r in rows], REMOVED, None, wall)
    return len(rows)


def future_dates(conn: Connection, tenant_record_id: int, account_record_id: int, queue_name: str,
                 after: datetime) -> list[datetime]:
    """The effective dates of an account's unclaimed notifications of one queue due after an instant."""
    t = notifications
    return [r[0] for r in conn.execute(select(t.c.effective_date).where(
        t.c.search_key1 == account_record_id, t.c.search_key2 == tenant_record_id, t.c.queue_name == queue_name,
        t.c.effective_date > after, t.c.processing_state == AVAILABLE, t.c.processing_owner.is_(None)))]


def remove_future_matching(conn: Connection, tenant_record_id: int, account_record_id: int, queue_name: str,
                           after: datetime, wall: datetime, match: Callable[[dict[str, Any]], bool]) -> int:
    """Remove an account's unclaimed notifications of one queue, due after an instant, whose payload `match`es
    (history state REMOVED; Kill Bill's `getFutureNotificationForSearchKeys` + `removeNotification`)."""
    t = notifications
    found = conn.execute(select(t.c.record_id, t.c.event_json).where(
        t.c.search_key1 == account_record_id, t.c.search_key2 == tenant_record_id, t.c.queue_name == queue_name,
        t.c.effective_date > after, t.c.processing_state == AVAILABLE, t.c.processing_owner.is_(None))).all()
    ids = [r.record_id for r in found if match(json.loads(r.event_json))]
    if not ids:
        return 0
    rows = conn.execute(delete(t).where(t.c.record_id.in_(ids), t.c.processing_owner.is_(None))
                        .returning(*t.c)).all()
    if rows:
        archive_many(conn, [Entry.from_row(NOTIFICATIONS, r) for r in rows], REMOVED, None, wall)
    return len(rows)


# ---------------------------------------------------------------------------------------------- operators
@dataclass(frozen=True, slots=True)
class EntryWindow:
    """Which queue rows an operator lists (Kill Bill's AdminResource#getQueueEntries)."""

    tenant_record_id: int
    account_record_id: int | None
    min_date: datetime
    max_date: datetime
    with_history: bool = True
    with_in_processing: bool = True
    only_failed: bool = False


def queue_entries(conn: Connection, table: str, window: EntryWindow, *, queue_name: str | None = None,
                  service_name: str | None = None) -> list[Any]:
    """Rows of a queue (`BUS` or `NOTIFICATIONS`) and its history, oldest first."""
    live, history = TABLES[table], HISTORY[table]
    date_col = "created_date" if table == BUS else "effective_date"
    states = [AVAILABLE, IN_PROCESSING] if window.with_in_processing else [AVAILABLE]
    found: list[Any] = []
    for t, is_history in ((history, True), (live, False)):
        if is_history and not (window.with_history or window.only_failed):
            continue
        if window.only_failed and not is_history:
            continue
        q = select(t).where(t.c.search_key2 == window.tenant_record_id)
        if queue_name:
            q = q.where((t.c.queue_name.like(f"%:{queue_name}")) | (t.c.queue_name == queue_name))
        if service_name:
            q = q.where(t.c.queue_name.like(f"{service_name}:%"))
        if window.account_record_id is not None:
            q = q.where(t.c.search_key1 == window.account_record_id)
        if is_history:
            if window.only_failed:
                q = q.where(t.c.processing_state == FAILED)
            if window.account_record_id is None:
                q = q.where(t.c[date_col] >= window.min_date)
        else:
            q = q.where(t.c.processing_state.in_(states))
            if window.account_record_id is None:
                q = q.where(t.c[date_col] <= window.max_date)
        found += conn.execute(q.order_by(t.c[date_col], t.c.record_id)).all()
    return found


def requeue_failed(conn: Connection, tenant_record_id: int | None, bus_record_ids: Sequence[int] | None,
                   notification_record_ids: Sequence[int] | None) -> int:
    """Move FAILED history rows back into their queue (AVAILABLE, no errors); no ids: every FAILED row."""
    moved = 0
    select_all = bus_record_ids is None and notification_record_ids is None
    for table, ids in ((BUS, bus_record_ids), (NOTIFICATIONS, notification_record_ids)):
        if ids is None and not select_all:
            continue
        history = HISTORY[table]
        q = select(history).where(history.c.processing_state == FAILED)
        if tenant_record_id is not None:
            q = q.where(history.c.search_key2 == tenant_record_id)
        if ids is not None:
            q = q.where(history.c.record_id.in_(list(ids)))
        found = conn.execute(q.order_by(history.c.record_id).with_for_update()).all()
        if not found:
            continue
        fresh = []
        for r in found:
            values = {k: v for k, v in r._mapping.items() if k != "record_id"}
            values.update(processing_state=AVAILABLE, processing_owner=None, processing_available_date=None,
                          error_count=0)
            fresh.append(values)
        conn.execute(delete(history).where(history.c.record_id.in_([r.record_id for r in found])))
        conn.execute(insert(TABLES[table]), fresh)
        moved += len(found)
    return moved


def node_rows(conn: Connection, *, include_inactive: bool = False) -> list[Any]:
    q = select(node_infos).order_by(node_infos.c.node_name)
    if not include_inactive:
        q = q.where(node_infos.c.is_active.is_(True))
    return list(conn.execute(q))


def notify(conn: Connection, channel: str) -> None:
    """PostgreSQL NOTIFY, delivered at commit to every listening node (dropped on rollback)."""
    conn.exec_driver_sql(f"NOTIFY {channel}")
