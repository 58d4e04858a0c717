"""Operations on the queues: what is pending, in processing or failed; retry FAILED rows; nodes.

Kill Bill: `jaxrs/.../AdminResource.java#getQueueEntries` (GET /1.0/kb/admin/queues: a JSON
object with `busEvents` and `notifications`, each entry a `BusEventWithMetadata` /
`NotificationEventWithMetadata`; minDate/maxDate default to now -/+ 2 days) and
`NodesInfoResource.java` (GET /1.0/kb/nodesInfo, `NodeInfoJson`). Kill Bill has no retry
of FAILED entries through its API; `retry_failed` is Billow's operator function.
Entries carry `processingState`, `processingOwner` and `errorCount` on top of Kill Bill's
fields, so that an operator sees which are failed or in processing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, delete, insert, select

from billow.core.bus import store
from billow.core.bus.tables import (
    AVAILABLE,
    FAILED,
    IN_PROCESSING,
    bus_events,
    bus_events_history,
    node_infos,
    notifications,
    notifications_history,
)

if TYPE_CHECKING:
    from billow.core.bus.bus import Bus


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _event(row: Any) -> Any:
    try:
        return json.loads(row.event_json)
    except ValueError:  # pragma: no cover - written by us, always JSON
        return row.event_json


def _bus_json(row: Any) -> dict[str, Any]:
    return {
        "recordId": row.record_id, "userToken": row.user_token, "createdDate": _iso(row.created_date),
        "searchKey1": row.search_key1, "searchKey2": row.search_key2, "event": _event(row),
        "className": row.class_name, "processingState": row.processing_state,
        "processingOwner": row.processing_owner, "errorCount": row.error_count or 0,
    }


def _notification_json(row: Any) -> dict[str, Any]:
    out = _bus_json(row)
    out.pop("className")
    out.update(futureUserToken=row.future_user_token, effectiveDate=_iso(row.effective_date),
               queueName=row.queue_name)
    return out


def list_entries(conn: Connection, *, tenant_record_id: int, now: datetime,
                 account_record_id: int | None = None, queue_name: str | None = None,
                 service_name: str | None = None, with_history: bool = True,
                 min_date: datetime | None = None, max_date: datetime | None = None,
                 with_in_processing: bool = True, with_bus_events: bool = True,
                 with_notifications: bool = True, only_failed: bool = False
                 ) -> dict[str, list[dict[str, Any]]]:
    """Kill Bill's admin queue listing for one tenant (optionally one account).

    Without an account: pending rows dated up to `max_date` and history rows from
    `min_date` (default now -/+ 2 days, as Kill Bill). `only_failed` lists FAILED rows only.
    """
    min_date = min_date or now - timedelta(days=2)
    max_date = max_date or now + timedelta(days=2)
    states = [AVAILABLE, IN_PROCESSING] if with_in_processing else [AVAILABLE]
    out: dict[str, list[dict[str, Any]]] = {}

    def rows(live: Table, history: Table, date_col: str, extra: list[Any]) -> list[Any]:
        found: list[Any] = []
        for table, is_history in ((history, True), (live, False)):
            if is_history and not (with_history or only_failed):
                continue
            if only_failed and not is_history:
                continue
            q = select(table).where(table.c.search_key2 == tenant_record_id, *[f(table) for f in extra])
            if account_record_id is not None:
                q = q.where(table.c.search_key1 == account_record_id)
            if is_history:
                if only_failed:
                    q = q.where(table.c.processing_state == FAILED)
                if account_record_id is None:
                    q = q.where(table.c[date_col] >= min_date)
            else:
                q = q.where(table.c.processing_state.in_(states))
                if account_record_id is None:
                    q = q.where(table.c[date_col] <= max_date)
            order = [table.c[date_col], table.c.record_id]
            found += conn.execute(q.order_by(*order)).all()
        return found

    if with_bus_events:
        out["busEvents"] = [_bus_json(r) for r in rows(bus_events, bus_events_history, "created_date", [])]
    if with_notifications:
        extra: list[Any] = []
        if queue_name:
            extra.append(lambda t: (t.c.queue_name.like(f"%:{queue_name}"))
                         | (t.c.queue_name == queue_name))
        if service_name:
            extra.append(lambda t: t.c.queue_name.like(f"{service_name}:%"))
        out["notifications"] = [_notification_json(r)
                                for r in rows(notifications, notifications_history, "effective_date", extra)]
    return out


def retry_failed(bus: Bus, *, tenant_record_id: int | None = None,
                 bus_record_ids: Sequence[int] | None = None,
                 notification_record_ids: Sequence[int] | None = None) -> int:
    """Put FAILED history rows back in their queue as AVAILABLE with error_count 0.

    With no ids, every FAILED row (of the tenant when given) is retried. A retried bus
    event gets a new record id, so it runs after the account's later events.
    """
    from billow.core.context import internal_context

    moved = 0
    select_all = bus_record_ids is None and notification_record_ids is None
    with bus.db.transaction(internal_context(tenant_record_id)) as uow:
        for history, table, ids in ((bus_events_history, store.BUS, bus_record_ids),
                                    (notifications_history, store.NOTIFICATIONS, notification_record_ids)):
            if ids is None and not select_all:
                continue
            q = select(history).where(history.c.processing_state == FAILED)
            if tenant_record_id is not None:
                q = q.where(history.c.search_key2 == tenant_record_id)
            if ids is not None:
                q = q.where(history.c.record_id.in_(list(ids)))
            found = uow.conn.execute(q.order_by(history.c.record_id).with_for_update()).all()
            if not found:
                continue
            fresh = []
            for r in found:
                values = {k: v for k, v in r._mapping.items() if k != "record_id"}
                values.update(processing_state=AVAILABLE, processing_owner=None,
                              processing_available_date=None, error_count=0)
                fresh.append(values)
            uow.conn.execute(delete(history).where(history.c.record_id.in_([r.record_id for r in found])))
            uow.conn.execute(insert(store.TABLES[table]), fresh)
            moved += len(found)
        uow.after_commit(bus.wake)
    return moved


def nodes_info(conn: Connection, *, include_inactive: bool = False) -> list[dict[str, Any]]:
    """Kill Bill's NodeInfoJson for every live node."""
    from billow import KB_COMPAT_VERSION, __version__

    q = select(node_infos).order_by(node_infos.c.node_name)
    if not include_inactive:
        q = q.where(node_infos.c.is_active.is_(True))
    out = []
    for r in conn.execute(q):
        try:
            info = json.loads(r.node_info)
        except ValueError:  # pragma: no cover
            info = {}
        version = info.get("version", __version__)
        out.append({
            "nodeName": r.node_name, "bootTime": _iso(r.boot_date),
            "lastUpdatedDate": _iso(r.updated_date),
            "kbVersion": KB_COMPAT_VERSION, "apiVersion": KB_COMPAT_VERSION, "pluginApiVersion": None,
            "commonVersion": None, "platformVersion": None, "billowVersion": version, "pluginsInfo": [],
        })
    return out
