"""`/1.0/kb/catalog`: upload, read and extend a tenant's catalog (Kill Bill's CatalogResource)."""

from __future__ import annotations

import json
import re
from datetime import datetime

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.catalog import json_view
from billow.catalog.errors import CatalogApiError
from billow.catalog.model import CatalogVersion
from billow.catalog.service import catalog_api_error
from billow.catalog.xml import MAX_CATALOG_BYTES, dump_xml
from billow.core.context import CallContext
from billow.core.errors import InvalidInput
from billow.entitlement.service import EntitlementService
from billow.entitlement.views import PlanInForce
from billow.rest.common import Ctx, created, no_content, parse_date_or_datetime, parse_instant
from billow.rest.deps import Catalogs, Entitlements
from billow.rest.jsonio import KBJSONResponse
from billow.rest.openapi import raw_body

router = APIRouter(prefix="/1.0/kb/catalog", tags=["Catalog"])

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>\s*")
_ROOT_OPEN = re.compile(r"^<catalog\b[^>]*>")


async def _document(request: Request) -> str:
    body = await request.body()
    if len(body) > MAX_CATALOG_BYTES:
        raise InvalidInput(f"body: the catalog is larger than {MAX_CATALOG_BYTES} bytes")
    if not body.strip():
        raise InvalidInput("body: a catalog XML document needs to be sent")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("body: the catalog is not UTF-8 text") from None


def _requested(requested_date: str | None) -> datetime | None:
    """Kill Bill's catalog `requestedDate`: an ISO date-time, or a date meaning its midnight UTC."""
    return parse_instant(requested_date, "requestedDate")


def versioned_xml(versions: list[CatalogVersion]) -> str:
    """Kill Bill's `DefaultVersionedCatalog` XML: `<catalogs><versions><version>...`."""
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', "<catalogs>", "  <versions>"]
    for version in versions:
        body = _XML_DECL.sub("", dump_xml(version)).strip()
        body = _ROOT_OPEN.sub("<version>", body, count=1)
        body = re.sub(r"</catalog>\s*$", "</version>", body)
        parts.append(body)
    parts += ["  </versions>", f"  <catalogName>{versions[0].name if versions else ''}</catalogName>",
              "</catalogs>"]
    return "\n".join(parts) + "\n"


def _wants_xml(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return ("text/xml" in accept or "application/xml" in accept) and "application/json" not in accept


_XML = {"content": {"text/xml": {"schema": {"type": "string"}}}}


@router.get("", operation_id="getCatalogJson", responses={200: _XML})
def get_catalog(request: Request, ctx: Ctx, catalogs: Catalogs, requestedDate: str | None = Query(None),
                accountId: str | None = Query(None)) -> Response:
    versions = catalogs.versions_at(ctx, _requested(requestedDate))
    if _wants_xml(request):
        return Response(versioned_xml(versions), media_type="text/xml")
    return KBJSONResponse(json_view.catalog_json(versions))


@router.get("/xml", operation_id="getCatalogXml", response_class=Response, responses={200: _XML})
def get_catalog_xml(request: Request, ctx: Ctx, catalogs: Catalogs, requestedDate: str | None = Query(None),
                    accountId: str | None = Query(None)) -> Response:
    return Response(versioned_xml(catalogs.versions_at(ctx, _requested(requestedDate))), media_type="text/xml")


async def _upload(request: Request, ctx: Ctx, catalogs: Catalogs) -> Response:
    document = await _document(request)
    await run_in_threadpool(catalogs.upload, ctx, document)
    return created(request, "/1.0/kb/catalog")


@router.post("/xml", status_code=201, operation_id="uploadCatalogXml", openapi_extra=raw_body("text/xml"))
async def upload_catalog_xml(request: Request, ctx: Ctx, catalogs: Catalogs) -> Response:
    return await _upload(request, ctx, catalogs)


@router.post("", status_code=201, include_in_schema=False)
async def upload_catalog(request: Request, ctx: Ctx, catalogs: Catalogs) -> Response:
    """Kill Bill's hidden variant: `POST /1.0/kb/catalog` with `text/xml`."""
    return await _upload(request, ctx, catalogs)


@router.post("/xml/validate", operation_id="validateCatalogXml", openapi_extra=raw_body("text/xml"))
async def validate_catalog_xml(request: Request, ctx: Ctx, catalogs: Catalogs) -> Response:
    document = await _document(request)
    problems = await run_in_threadpool(catalogs.validate, ctx, document)
    return KBJSONResponse(json_view.validation_json(problems))


@router.get("/versions", operation_id="getCatalogVersions")
def get_catalog_versions(request: Request, ctx: Ctx, catalogs: Catalogs,
                         accountId: str | None = Query(None)) -> Response:
    catalog = catalogs.catalog(ctx)
    return KBJSONResponse(json_view.versions_json(catalog) if catalog is not None else [])


@router.get("/availableBasePlans", operation_id="getAvailableBasePlans")
def get_available_base_plans(request: Request, ctx: Ctx, catalogs: Catalogs,
                             accountId: str | None = Query(None)) -> Response:
    version = catalogs.current_version(ctx)
    return KBJSONResponse(json_view.available_base_plans_json(version) if version is not None else [])


@router.get("/availableAddons", operation_id="getAvailableAddons")
def get_available_addons(request: Request, ctx: Ctx, catalogs: Catalogs, baseProductName: str | None = Query(None),
                         priceListName: str | None = Query(None), accountId: str | None = Query(None)) -> Response:
    version = catalogs.current_version(ctx)
    if version is None:
        return KBJSONResponse([])
    if baseProductName is None:
        raise InvalidInput("baseProductName: query parameter needs to be set")
    try:
        return KBJSONResponse(json_view.available_addons_json(version, baseProductName, priceListName))
    except CatalogApiError as exc:
        raise catalog_api_error(exc) from None


@router.post("/simplePlan", status_code=201, operation_id="addSimplePlan",
             openapi_extra=raw_body("application/json", {"type": "object"}))
async def add_simple_plan(request: Request, ctx: Ctx, catalogs: Catalogs) -> Response:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise InvalidInput("body: malformed JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("body: a SimplePlan JSON object needs to be sent")
    await run_in_threadpool(catalogs.add_simple_plan, ctx, body)
    return created(request, "/1.0/kb/catalog")


@router.delete("", status_code=204, operation_id="deleteCatalog")
def delete_catalog(request: Request, ctx: Ctx, catalogs: Catalogs) -> Response:
    catalogs.delete(ctx)
    return no_content()


def _transition(entitlements: EntitlementService, ctx: CallContext, subscription_id: str | None,
                requested_date: str | None) -> PlanInForce:
    if not subscription_id:
        raise InvalidInput("subscriptionId: query parameter needs to be set")
    return entitlements.plan_at(ctx, subscription_id, parse_date_or_datetime(requested_date, "requestedDate"))


@router.get("/plan", operation_id="getPlanForSubscriptionAndDate")
def get_plan_for_subscription(request: Request, ctx: Ctx, entitlements: Entitlements,
                              subscriptionId: str | None = Query(None),
                              requestedDate: str | None = Query(None)) -> Response:
    t = _transition(entitlements, ctx, subscriptionId, requestedDate)
    return KBJSONResponse(json_view.plan_json(t.plan))


@router.get("/phase", operation_id="getPhaseForSubscriptionAndDate")
def get_phase_for_subscription(request: Request, ctx: Ctx, entitlements: Entitlements,
                               subscriptionId: str | None = Query(None),
                               requestedDate: str | None = Query(None)) -> Response:
    t = _transition(entitlements, ctx, subscriptionId, requestedDate)
    return KBJSONResponse(json_view.phase_json(t.phase))


@router.get("/product", operation_id="getProductForSubscriptionAndDate")
def get_product_for_subscription(request: Request, ctx: Ctx, entitlements: Entitlements,
                                 subscriptionId: str | None = Query(None),
                                 requestedDate: str | None = Query(None)) -> Response:
    t = _transition(entitlements, ctx, subscriptionId, requestedDate)
    return KBJSONResponse(json_view.product_json(t.version.find_product(t.plan.product)))


@router.get("/priceList", operation_id="getPriceListForSubscriptionAndDate")
def get_price_list_for_subscription(request: Request, ctx: Ctx, entitlements: Entitlements,
                                    subscriptionId: str | None = Query(None),
                                    requestedDate: str | None = Query(None)) -> Response:
    t = _transition(entitlements, ctx, subscriptionId, requestedDate)
    return KBJSONResponse(json_view.price_list_json(t.version.find_price_list(t.price_list)))
