"""`/1.0/kb/bundles` and the entitlement parts of `/1.0/kb/accounts/{id}` (bundles, timeline, block)."""

from __future__ import annotations

from fastapi import APIRouter, Body, Query, Request
from starlette.responses import Response

from billow.core.errors import InvalidInput
from billow.entitlement.model import BlockingStateType
from billow.rest.common import Ctx, no_content, parse_date
from billow.rest.deps import Entitlements, Invoices
from billow.rest.entitlement_json import blocking_state_json, bundle_json
from billow.rest.jsonio import KBJSONResponse
from billow.rest.routes.accounts import account_json
from billow.rest.routes.invoices import timeline_invoices_json
from billow.rest.routes.subscriptions import BlockingStateJson, add_blocking_state

router = APIRouter(tags=["Bundle"])


@router.get("/1.0/kb/bundles", operation_id="getBundleByKey")
def get_bundle_by_key(request: Request, ctx: Ctx, entitlements: Entitlements, externalKey: str | None = Query(None),
                      includedDeleted: bool = Query(False)) -> Response:
    if not externalKey:
        raise InvalidInput("externalKey: query parameter needs to be set")
    found = entitlements.bundles_by_key(ctx, externalKey)
    if not includedDeleted:
        found = found[-1:]
    return KBJSONResponse([bundle_json(b, views) for b, views in found])


@router.get("/1.0/kb/bundles/{bundleId}", operation_id="getBundle")
def get_bundle(request: Request, ctx: Ctx, entitlements: Entitlements, bundleId: str) -> Response:
    bundle, views = entitlements.bundle_views(ctx, bundleId)
    return KBJSONResponse(bundle_json(bundle, views))


@router.put("/1.0/kb/bundles/{bundleId}/pause", status_code=204, operation_id="pauseBundle")
def pause_bundle(request: Request, ctx: Ctx, entitlements: Entitlements, bundleId: str,
                 requestedDate: str | None = Query(None)) -> Response:
    entitlements.pause_bundle(ctx, bundleId, parse_date(requestedDate, "requestedDate"))
    return no_content()


@router.put("/1.0/kb/bundles/{bundleId}/resume", status_code=204, operation_id="resumeBundle")
def resume_bundle(request: Request, ctx: Ctx, entitlements: Entitlements, bundleId: str,
                  requestedDate: str | None = Query(None)) -> Response:
    entitlements.resume_bundle(ctx, bundleId, parse_date(requestedDate, "requestedDate"))
    return no_content()


@router.post("/1.0/kb/bundles/{bundleId}/block", status_code=201, operation_id="addBundleBlockingState")
def block_bundle(request: Request, ctx: Ctx, entitlements: Entitlements, bundleId: str,
                 body: BlockingStateJson = Body(...),
                 requestedDate: str | None = Query(None)) -> Response:
    return add_blocking_state(request, ctx, entitlements, BlockingStateType.SUBSCRIPTION_BUNDLE, bundleId, body,
                              requestedDate)


@router.get("/1.0/kb/accounts/{accountId}/bundles", tags=["Account"], operation_id="getAccountBundles")
def get_account_bundles(request: Request, ctx: Ctx, entitlements: Entitlements, accountId: str,
                        externalKey: str | None = Query(None),
                        bundlesFilter: str | None = Query(None)) -> Response:
    _, bundles, views = entitlements.account_views(ctx, accountId)
    wanted = {b for b in (bundlesFilter or "").split(",") if b}
    out = []
    for b in bundles:
        if externalKey is not None and b.external_key != externalKey:
            continue
        if wanted and b.id not in wanted:
            continue
        out.append(bundle_json(b, [v for v in views if v.subscription.bundle_id == b.id]))
    return KBJSONResponse(out)


@router.get("/1.0/kb/accounts/{accountId}/timeline", tags=["Account"], operation_id="getAccountTimeline")
def get_account_timeline(request: Request, ctx: Ctx, entitlements: Entitlements, invoices: Invoices, accountId: str,
                         parallel: bool = Query(False)) -> Response:
    account, bundles, views = entitlements.account_views(ctx, accountId)
    return KBJSONResponse({
        "account": account_json(account),
        "bundles": [bundle_json(b, [v for v in views if v.subscription.bundle_id == b.id]) for b in bundles],
        "invoices": timeline_invoices_json(invoices, ctx, account),
        "payments": [],
    })


@router.get("/1.0/kb/accounts/{accountId}/block", tags=["Account"], operation_id="getBlockingStates")
def get_blocking_states(request: Request, ctx: Ctx, entitlements: Entitlements, accountId: str,
                        blockingStateTypes: list[str] | None = Query(None),
                        blockingStateSvcs: list[str] | None = Query(None)) -> Response:
    states = entitlements.blocking_states(ctx, accountId)
    types = {t.upper() for value in (blockingStateTypes or []) for t in value.split(",") if t}
    for t in types:
        if t not in BlockingStateType.__members__:
            raise InvalidInput(f"blockingStateTypes: '{t}' is not one of SUBSCRIPTION, SUBSCRIPTION_BUNDLE, ACCOUNT")
    services = {s for value in (blockingStateSvcs or []) for s in value.split(",") if s}
    return KBJSONResponse([blocking_state_json(s) for s in states
                           if (not types or s.type.value in types) and (not services or s.service in services)])


@router.post("/1.0/kb/accounts/{accountId}/block", status_code=201, tags=["Account"],
             operation_id="addAccountBlockingState")
def block_account(request: Request, ctx: Ctx, entitlements: Entitlements, accountId: str,
                  body: BlockingStateJson = Body(...),
                  requestedDate: str | None = Query(None)) -> Response:
    return add_blocking_state(request, ctx, entitlements, BlockingStateType.ACCOUNT, accountId, body, requestedDate)
