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

from sqlalchemy import Connection

from billow.core.bus import store
from billow.core.context import CallContext

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
    window = store.EntryWindow(tenant_record_id=tenant_record_id, account_record_id=account_record_id,
                               min_date=min_date or now - timedelta(days=2),
                               max_date=max_date or now + timedelta(days=2), with_history=with_history,
                               with_in_processing=with_in_processing, only_failed=only_failed)
    out: dict[str, list[dict[str, Any]]] = {}
    if with_bus_events:
        out["busEvents"] = [_bus_json(r) for r in store.queue_entries(conn, store.BUS, window)]
    if with_notifications:
        out["notifications"] = [_notification_json(r) for r in store.queue_entries(
            conn, store.NOTIFICATIONS, window, queue_name=queue_name, service_name=service_name)]
    return out


def retry_failed(bus: Bus, *, tenant_record_id: int | None = None,
                 bus_record_ids: Sequence[int] | None = None,
                 notification_record_ids: Sequence[int] | None = None) -> int:
    """Put FAILED history rows back in their queue as AVAILABLE with error_count 0.

    With no ids, every FAILED row (of the tenant when given) is retried. A retried bus
    event gets a new record id, so it runs after the account's later events.
    """
    from billow.core.context import internal_context

    with bus.db.transaction(internal_context(tenant_record_id)) as uow:
        moved = store.requeue_failed(uow.conn, tenant_record_id, bus_record_ids, notification_record_ids)
        uow.after_commit(bus.wake)
    return moved


def nodes_info(conn: Connection, *, include_inactive: bool = False) -> list[dict[str, Any]]:
    """Kill Bill's NodeInfoJson for every live node (bus helper processes are part of their node)."""
    from billow.core.version import KB_COMPAT_VERSION, __version__

    out = []
    for r in store.node_rows(conn, include_inactive=include_inactive):
        try:
            info = json.loads(r.node_info)
        except ValueError:  # pragma: no cover
            info = {}
        if info.get("helperOf"):  # a bus helper process of a node, not a node
            continue
        version = info.get("version", __version__)
        out.append({
            "nodeName": r.node_name, "bootTime": _iso(r.boot_date),
            "lastUpdatedDate": _iso(r.updated_date),
            "kbVersion": KB_COMPAT_VERSION, "apiVersion": KB_COMPAT_VERSION, "pluginApiVersion": None,
            "commonVersion": None, "platformVersion": None, "billowVersion": version, "pluginsInfo": [],
        })
    return out


class QueueAdmin:
    """The operators' view of the queues (REST `/1.0/kb/admin/queues`, `/1.0/kb/nodesInfo`)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def entries(self, ctx: CallContext, *, account_record_id: int | None = None, queue_name: str | None = None,
                service_name: str | None = None, with_history: bool = True, min_date: datetime | None = None,
                max_date: datetime | None = None, with_in_processing: bool = True, with_bus_events: bool = True,
                with_notifications: bool = True, only_failed: bool = False) -> dict[str, list[dict[str, Any]]]:
        with self.bus.db.read_connection() as conn:
            return list_entries(conn, tenant_record_id=ctx.tenant, now=self.bus.db.clock.utcnow(),
                                account_record_id=account_record_id, queue_name=queue_name,
                                service_name=service_name, with_history=with_history, min_date=min_date,
                                max_date=max_date, with_in_processing=with_in_processing,
                                with_bus_events=with_bus_events, with_notifications=with_notifications,
                                only_failed=only_failed)

    def retry_failed(self, ctx: CallContext, *, bus_record_ids: Sequence[int] | None = None,
                     notification_record_ids: Sequence[int] | None = None) -> int:
        return retry_failed(self.bus, tenant_record_id=ctx.tenant, bus_record_ids=bus_record_ids,
                            notification_record_ids=notification_record_ids)

    def nodes(self, *, include_inactive: bool = False) -> list[dict[str, Any]]:
        with self.bus.db.read_connection() as conn:
            return nodes_info(conn, include_inactive=include_inactive)
