"""`GET /1.0/kb/export/{accountId}`: every row of one account, in Kill Bill's export format (ExportResource)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.rest.common import Ctx
from billow.rest.deps import Export

router = APIRouter(tags=["Export"])


@router.get("/1.0/kb/export/{accountId}", operation_id="exportDataForAccount",
            responses={200: {"content": {"application/octet-stream": {}}}})
async def export_data_for_account(request: Request, ctx: Ctx, export: Export, accountId: str) -> Response:
    body = await run_in_threadpool(export.csv, ctx, accountId)
    return Response(body.encode("utf-8"), media_type="application/octet-stream")
