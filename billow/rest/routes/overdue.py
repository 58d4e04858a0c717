"""`/1.0/kb/overdue`: the tenant's overdue configuration, as XML or JSON (Kill Bill's OverdueResource), and
`/1.0/kb/accounts/{accountId}/overdue`: an account's overdue state."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.core.errors import InvalidInput
from billow.overdue.json_view import config_json, state_json
from billow.overdue.xml import MAX_OVERDUE_BYTES
from billow.rest.common import Ctx, created
from billow.rest.deps import App
from billow.rest.jsonio import KBJSONResponse
from billow.rest.openapi import raw_body

router = APIRouter(tags=["Overdue"])
_XML = {"content": {"text/xml": {"schema": {"type": "string"}}}}
_LOCATION = "/1.0/kb/overdue"


async def _body(request: Request, what: str) -> bytes:
    body = await request.body()
    if len(body) > MAX_OVERDUE_BYTES:
        raise InvalidInput(f"body: the overdue configuration is larger than {MAX_OVERDUE_BYTES} bytes")
    if not body.strip():
        raise InvalidInput(f"body: an overdue configuration ({what}) needs to be sent")
    return body


def _wants_xml(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return ("text/xml" in accept or "application/xml" in accept) and "application/json" not in accept


def _is_xml(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return "xml" in kind


@router.get("/1.0/kb/overdue", operation_id="getOverdueConfigJson", responses={200: _XML})
def get_overdue_config(request: Request, ctx: Ctx, kb: App) -> Response:
    if _wants_xml(request):
        return Response(kb.overdue.xml(ctx), media_type="text/xml")
    return KBJSONResponse(config_json(kb.overdue.config(ctx)))


@router.get("/1.0/kb/overdue/xml", operation_id="getOverdueConfigXml", response_class=Response,
            responses={200: _XML})
def get_overdue_config_xml(ctx: Ctx, kb: App) -> Response:
    return Response(kb.overdue.xml(ctx), media_type="text/xml")


async def _upload_xml(request: Request, ctx: Ctx, kb: App) -> Response:
    body = await _body(request, "XML")
    await run_in_threadpool(kb.overdue.upload_xml, ctx, body)
    return created(request, _LOCATION)


@router.post("/1.0/kb/overdue/xml", status_code=201, operation_id="uploadOverdueConfigXml",
             openapi_extra=raw_body("text/xml"))
async def upload_overdue_config_xml(request: Request, ctx: Ctx, kb: App) -> Response:
    return await _upload_xml(request, ctx, kb)


@router.post("/1.0/kb/overdue", status_code=201, operation_id="uploadOverdueConfigJson",
             openapi_extra=raw_body("application/json", {"type": "object"}))
async def upload_overdue_config(request: Request, ctx: Ctx, kb: App) -> Response:
    """JSON (`OverdueJson`), or XML when sent as `text/xml` (Kill Bill's resource takes both on this path)."""
    if _is_xml(request):
        return await _upload_xml(request, ctx, kb)
    raw = await _body(request, "JSON")
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidInput("body: malformed JSON") from None
    await run_in_threadpool(kb.overdue.upload_json, ctx, body)
    return created(request, _LOCATION)


@router.get("/1.0/kb/accounts/{accountId}/overdue", operation_id="getOverdueAccount", tags=["Account"])
def get_overdue_account(ctx: Ctx, kb: App, accountId: str) -> Response:
    return KBJSONResponse(state_json(kb.overdue.account_state(ctx, accountId)))
