"""Queue operations: `GET /1.0/kb/admin/queues`, retry of FAILED entries, `GET /1.0/kb/nodesInfo`.

Kill Bill's AdminResource#getQueueEntries (query parameters accountId, queueName,
serviceName, withHistory, minDate, maxDate, withInProcessing, withBusEvents,
withNotifications) and NodesInfoResource. `PUT /1.0/kb/admin/queues/retryFailed` is
Billow's own (Kill Bill has no API to retry FAILED entries).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.core.bus import admin as queue_admin
from billow.core.errors import InvalidInput
from billow.rest.common import Ctx, parse_date_or_datetime
from billow.rest.jsonio import KBJSONResponse

router = APIRouter(tags=["Admin"])


def _instant(value: str | None, field: str) -> datetime | None:
    parsed = parse_date_or_datetime(value, field)
    if parsed is None or isinstance(parsed, datetime):
        return parsed
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)


def _bus(request: Request) -> object:
    bus = getattr(request.app.state.billow, "bus", None)
    if bus is None or not hasattr(bus, "db"):
        raise InvalidInput("the persistent bus is not installed")
    return bus


@router.get("/1.0/kb/admin/queues", operation_id="getQueueEntries")
def get_queue_entries(request: Request, ctx: Ctx, accountId: str | None = Query(None),
                      queueName: str | None = Query(None), serviceName: str | None = Query(None),
                      withHistory: bool = Query(True), minDate: str | None = Query(None),
                      maxDate: str | None = Query(None), withInProcessing: bool = Query(True),
                      withBusEvents: bool = Query(True), withNotifications: bool = Query(True),
                      onlyFailed: bool = Query(False)) -> Response:
    billow = request.app.state.billow
    _bus(request)
    account_record_id = billow.accounts.get(ctx, accountId).record_id if accountId else None
    with billow.db.read() as conn:
        body = queue_admin.list_entries(
            conn, tenant_record_id=ctx.tenant, now=billow.clock.utcnow(), account_record_id=account_record_id,
            queue_name=queueName or None, service_name=serviceName or None, with_history=withHistory,
            min_date=_instant(minDate, "minDate"), max_date=_instant(maxDate, "maxDate"),
            with_in_processing=withInProcessing, with_bus_events=withBusEvents,
            with_notifications=withNotifications, only_failed=onlyFailed)
    return KBJSONResponse(body)


@router.put("/1.0/kb/admin/queues/retryFailed", operation_id="retryFailedQueueEntries")
async def retry_failed_entries(request: Request, ctx: Ctx, busRecordId: list[int] | None = Query(None),
                               notificationRecordId: list[int] | None = Query(None)) -> Response:
    for ids, name in ((busRecordId, "busRecordId"), (notificationRecordId, "notificationRecordId")):
        if any(not 0 < i < 2**63 for i in ids or ()):
            raise InvalidInput(f"{name}: record ids are positive 64-bit integers")
    bus = _bus(request)
    moved = await run_in_threadpool(
        queue_admin.retry_failed, bus, tenant_record_id=ctx.tenant,  # type: ignore[arg-type]
        bus_record_ids=busRecordId, notification_record_ids=notificationRecordId)
    return KBJSONResponse({"retried": moved})


@router.get("/1.0/kb/nodesInfo", operation_id="getNodesInfo")
def get_nodes_info(request: Request) -> Response:
    billow = request.app.state.billow
    with billow.db.read() as conn:
        return KBJSONResponse(queue_admin.nodes_info(conn))
