"""Admin operations: queues (`GET /1.0/kb/admin/queues`, retry of FAILED entries), caches, rotation, invoice
runs of parked accounts; nodes (`/1.0/kb/nodesInfo`) and plugins (`/1.0/kb/pluginsInfo`).

Kill Bill's AdminResource#getQueueEntries (query parameters accountId, queueName,
serviceName, withHistory, minDate, maxDate, withInProcessing, withBusEvents,
withNotifications), invalidatesCache*, putInRotation / putOutOfRotation,
triggerInvoiceGenerationForParkedAccounts; NodesInfoResource and PluginInfoResource.
`PUT /1.0/kb/admin/queues/retryFailed` is Billow's own (Kill Bill has no API to retry FAILED entries).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.core.errors import InvalidInput
from billow.operations.nodes import NodeCommand
from billow.rest.common import Ctx, check_paging, no_content, paginated_headers, parse_instant
from billow.rest.deps import Accounts, Caches, Invoices, Nodes, Queues
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


class NodeCommandPropertyJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str | None = None
    value: Any = None


class NodeCommandJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    isSystemCommandType: bool = False
    nodeCommandType: str | None = None
    nodeCommandProperties: list[NodeCommandPropertyJson] | None = None


@router.post("/1.0/kb/nodesInfo", status_code=202, tags=["NodesInfo"], operation_id="triggerNodeCommand")
def trigger_node_command(request: Request, ctx: Ctx, nodes: Nodes, body: NodeCommandJson = Body(...),
                         localNodeOnly: bool = Query(False)) -> Response:
    properties = [(p.key, p.value) for p in body.nodeCommandProperties or () if p.key is not None]
    nodes.trigger_command(ctx, NodeCommand(body.nodeCommandType, body.isSystemCommandType, properties),
                          local_node_only=localNodeOnly)
    return Response(status_code=202)


@router.get("/1.0/kb/pluginsInfo", tags=["PluginInfo"], operation_id="getPluginsInfo")
def get_plugins_info(request: Request, ctx: Ctx, nodes: Nodes) -> Response:
    return KBJSONResponse([{
        "bundleSymbolicName": p.bundle_symbolic_name, "pluginKey": p.plugin_key, "pluginName": p.plugin_name,
        "version": p.version, "state": p.state, "isSelectedForStart": p.is_selected_for_start,
        "services": [{"serviceTypeName": t, "registrationName": n} for t, n in p.services],
    } for p in nodes.plugins(ctx)])


@router.delete("/1.0/kb/admin/cache", status_code=204, operation_id="invalidatesCache",
               responses={400: {"description": "An unknown cache name: no body, as Kill Bill answers it"}})
def invalidates_cache(request: Request, ctx: Ctx, caches: Caches, cacheName: str | None = Query(None)) -> Response:
    if not caches.invalidate(ctx, cacheName):
        return Response(status_code=400)  # Kill Bill: an unknown cache name is an empty 400
    return no_content()


@router.delete("/1.0/kb/admin/cache/accounts/{accountId}", status_code=204, operation_id="invalidatesCacheByAccount")
def invalidates_cache_by_account(request: Request, ctx: Ctx, caches: Caches, accountId: str) -> Response:
    caches.invalidate_account(ctx, accountId)
    return no_content()


@router.delete("/1.0/kb/admin/cache/tenants", status_code=204, operation_id="invalidatesCacheByTenant")
def invalidates_cache_by_tenant(request: Request, ctx: Ctx, caches: Caches) -> Response:
    caches.invalidate_tenant(ctx)
    return no_content()


@router.put("/1.0/kb/admin/healthcheck", status_code=204, operation_id="putInRotation")
def put_in_rotation(request: Request, ctx: Ctx, nodes: Nodes) -> Response:
    nodes.put_in_rotation(ctx)
    return no_content()


@router.delete("/1.0/kb/admin/healthcheck", status_code=204, operation_id="putOutOfRotation")
def put_out_of_rotation(request: Request, ctx: Ctx, nodes: Nodes) -> Response:
    nodes.put_out_of_rotation(ctx)
    return no_content()


@router.post("/1.0/kb/admin/invoices", operation_id="triggerInvoiceGenerationForParkedAccounts")
def trigger_invoice_generation_for_parked_accounts(request: Request, ctx: Ctx, invoices: Invoices,
                                                   offset: int = Query(0), limit: int = Query(100),
                                                   pluginProperty: list[str] | None = Query(None)) -> Response:
    check_paging(offset, limit)
    done = invoices.run_parked(ctx, offset, limit)
    headers = paginated_headers("/1.0/kb/admin/invoices", offset, limit, done.total, done.total)
    return KBJSONResponse(done.results, headers=headers)
