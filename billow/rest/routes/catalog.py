"""`/1.0/kb/catalog`: upload, read and extend a tenant's catalog (Kill Bill's CatalogResource)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.catalog import json_view
from billow.catalog.errors import CatalogApiError
from billow.catalog.model import Catalog
from billow.catalog.service import catalog_api_error
from billow.catalog.xml import MAX_CATALOG_BYTES, dump_xml
from billow.core.errors import InvalidInput
from billow.rest.common import Ctx, created, no_content, parse_date_or_datetime
from billow.rest.jsonio import KBJSONResponse

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


def _requested(requested_date: str | None) -> Any:
    return parse_date_or_datetime(requested_date, "requestedDate")


def _catalog(request: Request, ctx: Ctx) -> Catalog:
    billow = request.app.state.billow
    catalog: Catalog = billow.catalogs.catalog_or_empty(ctx, billow.clock.utcnow())
    return catalog


def versioned_xml(catalog: Catalog, requested: Any) -> str:
    """Kill Bill's `DefaultVersionedCatalog` XML: `<catalogs><versions><version>...`."""
    versions = [catalog.version_for_date(requested)] if requested is not None else list(catalog.versions)
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


@router.get("", operation_id="getCatalogJson")
def get_catalog(request: Request, ctx: Ctx, requestedDate: str | None = Query(None),
                accountId: str | None = Query(None)) -> Response:
    requested = _requested(requestedDate)
    catalog = _catalog(request, ctx)
    if _wants_xml(request):
        return Response(versioned_xml(catalog, requested), media_type="text/xml")
    return KBJSONResponse(json_view.catalog_json(catalog, requested))


@router.get("/xml", operation_id="getCatalogXml")
def get_catalog_xml(request: Request, ctx: Ctx, requestedDate: str | None = Query(None),
                    accountId: str | None = Query(None)) -> Response:
    return Response(versioned_xml(_catalog(request, ctx), _requested(requestedDate)), media_type="text/xml")


async def _upload(request: Request, ctx: Ctx) -> Response:
    document = await _document(request)
    await run_in_threadpool(request.app.state.billow.catalogs.upload, ctx, document)
    return created(request, "/1.0/kb/catalog")


@router.post("/xml", status_code=201, operation_id="uploadCatalogXml")
async def upload_catalog_xml(request: Request, ctx: Ctx) -> Response:
    return await _upload(request, ctx)


@router.post("", status_code=201, include_in_schema=False)
async def upload_catalog(request: Request, ctx: Ctx) -> Response:
    """Kill Bill's hidden variant: `POST /1.0/kb/catalog` with `text/xml`."""
    return await _upload(request, ctx)


@router.post("/xml/validate", operation_id="validateCatalogXml")
async def validate_catalog_xml(request: Request, ctx: Ctx) -> Response:
    document = await _document(request)
    problems = await run_in_threadpool(request.app.state.billow.catalogs.validate, ctx, document)
    return KBJSONResponse(json_view.validation_json(problems))


@router.get("/versions", operation_id="getCatalogVersions")
def get_catalog_versions(request: Request, ctx: Ctx, accountId: str | None = Query(None)) -> Response:
    catalog = request.app.state.billow.catalogs.catalog(ctx)
    return KBJSONResponse(json_view.versions_json(catalog) if catalog is not None else [])


def _current_version(request: Request, ctx: Ctx) -> Any:
    catalog = request.app.state.billow.catalogs.catalog(ctx)
    if catalog is None or len(catalog) == 0:
        return None
    return catalog.version_for_date(request.app.state.billow.clock.utcnow())


@router.get("/availableBasePlans", operation_id="getAvailableBasePlans")
def get_available_base_plans(request: Request, ctx: Ctx, accountId: str | None = Query(None)) -> Response:
    version = _current_version(request, ctx)
    return KBJSONResponse(json_view.available_base_plans_json(version) if version is not None else [])


@router.get("/availableAddons", operation_id="getAvailableAddons")
def get_available_addons(request: Request, ctx: Ctx, baseProductName: str | None = Query(None),
                         priceListName: str | None = Query(None), accountId: str | None = Query(None)) -> Response:
    version = _current_version(request, ctx)
    if version is None:
        return KBJSONResponse([])
    if baseProductName is None:
        raise InvalidInput("baseProductName: query parameter needs to be set")
    try:
        return KBJSONResponse(json_view.available_addons_json(version, baseProductName, priceListName))
    except CatalogApiError as exc:
        raise catalog_api_error(exc) from None


@router.post("/simplePlan", status_code=201, operation_id="addSimplePlan")
async def add_simple_plan(request: Request, ctx: Ctx) -> Response:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise InvalidInput("body: malformed JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("body: a SimplePlan JSON object needs to be sent")
    billow = request.app.state.billow
    now: datetime = billow.clock.utcnow()
    await run_in_threadpool(billow.catalogs.add_simple_plan, ctx, body, now)
    return created(request, "/1.0/kb/catalog")


@router.delete("", status_code=204, operation_id="deleteCatalog")
def delete_catalog(request: Request, ctx: Ctx) -> Response:
    request.app.state.billow.catalogs.delete(ctx)
    return no_content()


def _subscription_transition(request: Request, ctx: Ctx, subscription_id: str | None, requested_date: str | None
                             ) -> Any:
    """The plan, phase and catalog version a subscription has at a date (Kill Bill's
    `getPlanForSubscriptionAndDate` and siblings; the date defaults to now)."""
    from billow.entitlement.timeline import current_transition

    if not subscription_id:
        raise InvalidInput("subscriptionId: query parameter needs to be set")
    billow = request.app.state.billow
    view = billow.entitlements.view(ctx, subscription_id)
    when = _requested(requested_date) or billow.clock.utcnow()
    if not isinstance(when, datetime):
        from billow.entitlement.dates import to_instant

        when = to_instant(when, now=billow.clock.utcnow(), time_zone=view.account.time_zone,
                          reference_time=view.account.reference_time)
    live = [t for t in view.transitions if not t.ends]
    current = current_transition(live, when) or (live[0] if live else None)
    if current is None or current.plan is None:
        raise InvalidInput(f"subscriptionId: subscription {subscription_id} has no plan at {when.isoformat()}")
    return current


@router.get("/plan", operation_id="getPlanForSubscriptionAndDate")
def get_plan_for_subscription(request: Request, ctx: Ctx, subscriptionId: str | None = Query(None),
                              requestedDate: str | None = Query(None)) -> Response:
    t = _subscription_transition(request, ctx, subscriptionId, requestedDate)
    return KBJSONResponse(json_view.plan_json(t.plan))


@router.get("/phase", operation_id="getPhaseForSubscriptionAndDate")
def get_phase_for_subscription(request: Request, ctx: Ctx, subscriptionId: str | None = Query(None),
                               requestedDate: str | None = Query(None)) -> Response:
    t = _subscription_transition(request, ctx, subscriptionId, requestedDate)
    return KBJSONResponse(json_view.phase_json(t.phase))


@router.get("/product", operation_id="getProductForSubscriptionAndDate")
def get_product_for_subscription(request: Request, ctx: Ctx, subscriptionId: str | None = Query(None),
                                 requestedDate: str | None = Query(None)) -> Response:
    t = _subscription_transition(request, ctx, subscriptionId, requestedDate)
    return KBJSONResponse(json_view.product_json(t.version.find_product(t.plan.product)))


@router.get("/priceList", operation_id="getPriceListForSubscriptionAndDate")
def get_price_list_for_subscription(request: Request, ctx: Ctx, subscriptionId: str | None = Query(None),
                                    requestedDate: str | None = Query(None)) -> Response:
    t = _subscription_transition(request, ctx, subscriptionId, requestedDate)
    return KBJSONResponse(json_view.price_list_json(t.version.find_price_list(t.price_list or "DEFAULT")))
