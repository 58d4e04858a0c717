"""Queue operations: `GET /1.0/kb/admin/queues`, retry of FAILED entries, `GET /1.0/kb/nodesInfo`.

Kill Bill's AdminResource#getQueueEntries (query parameters accountId, queueName,
serviceName, withHistory, minDate, maxDate, withInProcessing, withBusEvents,
withNotifications) and NodesInfoResource. `PUT /1.0/kb/admin/queues/retryFailed` is
Billow's own (Kill Bill has no API to retry FAILED entries).
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.core.errors import InvalidInput
from billow.rest.common import Ctx, parse_instant
from billow.rest.deps import Accounts, Queues
from billow.rest.jsonio import KBJSONResponse

router = APIRouter(tags=["Admin"])


@router.get("/1.0/kb/admin/queues", operation_id="getQueueEntries")
def get_queue_entries(request: Request, ctx: Ctx, queues: Queues, accounts: Accounts,
                      accountId: str | None = Query(None), queueName: str | None = Query(None),
                      serviceName: str | None = Query(None), withHistory: bool = Query(True),
                      minDate: str | None = Query(None), maxDate: str | None = Query(None),
                      withInProcessing: bool = Query(True), withBusEvents: bool = Query(True),
                      withNotifications: bool = Query(True), onlyFailed: bool = Query(False)) -> Response:
    account_record_id = accounts.get(ctx, accountId).record_id if accountId else None
    return KBJSONResponse(queues.entries(
        ctx, account_record_id=account_record_id, queue_name=queueName or None, service_name=serviceName or None,
        with_history=withHistory, min_date=parse_instant(minDate, "minDate"),
        max_date=parse_instant(maxDate, "maxDate"), with_in_processing=withInProcessing,
        with_bus_events=withBusEvents, with_notifications=withNotifications, only_failed=onlyFailed))


@router.put("/1.0/kb/admin/queues/retryFailed", operation_id="retryFailedQueueEntries")
async def retry_failed_entries(request: Request, ctx: Ctx, queues: Queues,
                               busRecordId: list[int] | None = Query(None),
                               notificationRecordId: list[int] | None = Query(None)) -> Response:
    for ids, name in ((busRecordId, "busRecordId"), (notificationRecordId, "notificationRecordId")):
        if any(not 0 < i < 2**63 for i in ids or ()):
            raise InvalidInput(f"{name}: record ids are positive 64-bit integers")
    moved = await run_in_threadpool(queues.retry_failed, ctx, bus_record_ids=busRecordId,
                                    notification_record_ids=notificationRecordId)
    return KBJSONResponse({"retried": moved})


@router.get("/1.0/kb/nodesInfo", operation_id="getNodesInfo")
def get_nodes_info(request: Request, queues: Queues) -> Response:
    return KBJSONResponse(queues.nodes())
