"""`/1.0/kb/bundles` and the entitlement parts of `/1.0/kb/accounts/{id}` (bundles, timeline, block)."""

from __future__ import annotations

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from billow.core.context import CallContext
from billow.core.errors import InvalidInput
from billow.entitlement.model import BcdTransfer, BillingActionPolicy, BlockingStateType
from billow.entitlement.service import BundlePage, EntitlementService
from billow.rest.common import (
    TAKES_PLUGIN_PROPERTIES,
    AuditLevel,
    Ctx,
    audit_log_json,
    check_paging,
    created,
    no_content,
    paginated_headers,
    parse_date,
    parse_enum,
)
from billow.rest.deps import Accounts, Entitlements, Invoices
from billow.rest.entitlement_json import blocking_state_json, bundle_json, entitlement_audits
from billow.rest.jsonio import KBJSONResponse
from billow.rest.routes.accounts import account_json
from billow.rest.routes.invoices import timeline_invoices_json
from billow.rest.routes.subscriptions import BlockingStateJson, add_blocking_state

router = APIRouter(tags=["Bundle"])


@router.get("/1.0/kb/bundles", operation_id="getBundleByKey")
def get_bundle_by_key(request: Request, ctx: Ctx, entitlements: Entitlements, level: AuditLevel,
                      externalKey: str | None = Query(None), includedDeleted: bool = Query(False)) -> Response:
    if not externalKey:
        raise InvalidInput("externalKey: query parameter needs to be set")
    found = entitlements.bundles_by_key(ctx, externalKey)
    if not includedDeleted:
        found = found[-1:]
    audits = entitlement_audits(entitlements, ctx, level, [v for _, views in found for v in views],
                                [b for b, _ in found])
    return KBJSONResponse([bundle_json(b, views, audits=audits) for b, views in found])


def _bundle_page(entitlements: EntitlementService, ctx: CallContext, page: BundlePage, path: str,
                 level: str) -> Response:
    """A page of bundles as Kill Bill streams it: subscriptions without their phase prices."""
    headers = paginated_headers(path, page.offset, page.limit, page.total, page.max_records, {"audit": level})
    audits = entitlement_audits(entitlements, ctx, level, [v for _, views in page.items for v in views],
                                [b for b, _ in page.items])
    return KBJSONResponse([bundle_json(b, views, with_prices=False, audits=audits) for b, views in page.items],
                          headers=headers)


@router.get("/1.0/kb/bundles/pagination", operation_id="getBundles")
def get_bundles(request: Request, ctx: Ctx, entitlements: Entitlements, level: AuditLevel,
                offset: int = Query(0), limit: int = Query(100)) -> Response:
    check_paging(offset, limit)
    return _bundle_page(entitlements, ctx, entitlements.bundles_page(ctx, offset, limit),
                        "/1.0/kb/bundles/pagination", level)


@router.get("/1.0/kb/bundles/search/{searchKey}", operation_id="searchBundles")
def search_bundles(request: Request, ctx: Ctx, entitlements: Entitlements, level: AuditLevel, searchKey: str,
                   offset: int = Query(0), limit: int = Query(100)) -> Response:
    check_paging(offset, limit)
    return _bundle_page(entitlements, ctx, entitlements.bundles_page(ctx, offset, limit, search_key=searchKey),
                        f"/1.0/kb/bundles/search/{searchKey}", level)


class TransferredSubscriptionJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    subscriptionId: str | None = None
    externalKey: str | None = None


class BundleJson(BaseModel):
    """Kill Bill's BundleJson as input: the destination account of a transfer (with new keys for the copied
    subscriptions, by the id of the subscription they copy), or a bundle's new key."""

    model_config = ConfigDict(extra="ignore")
    accountId: str | None = None
    externalKey: str | None = None
    subscriptions: list[TransferredSubscriptionJson] | None = None


@router.post("/1.0/kb/bundles/{bundleId}", status_code=201, operation_id="transferBundle")
def transfer_bundle(request: Request, ctx: Ctx, entitlements: Entitlements, bundleId: str,
                    body: BundleJson | None = Body(None), requestedDate: str | None = Query(None),
                    billingPolicy: str | None = Query(None), bcdTransfer: str | None = Query(None),
                    pluginProperty: list[str] | None = Query(None)) -> Response:
    """Kill Bill forwards `pluginProperty` to entitlement plugins; there are none here: accepted, unused."""
    if body is None:
        raise InvalidInput("body: BundleJson body should be specified")
    if not body.accountId:
        raise InvalidInput("accountId: BundleJson accountId needs to be set")
    keys = {s.subscriptionId: s.externalKey for s in body.subscriptions or [] if s.subscriptionId and s.externalKey}
    bundle = entitlements.transfer_bundle(
        ctx, bundleId, body.accountId, requested_date=parse_date(requestedDate, "requestedDate"),
        billing_policy=parse_enum(BillingActionPolicy, billingPolicy, "billingPolicy")
        or BillingActionPolicy.END_OF_TERM,
        bcd_transfer=parse_enum(BcdTransfer, bcdTransfer, "bcdTransfer") or BcdTransfer.USE_EXISTING,
        subscription_keys=keys)
    return created(request, f"/1.0/kb/bundles/{bundle.id}")


@router.put("/1.0/kb/bundles/{bundleId}/renameKey", status_code=204, operation_id="renameExternalKey")
def rename_external_key(request: Request, ctx: Ctx, entitlements: Entitlements, bundleId: str,
                        body: BundleJson | None = Body(None)) -> Response:
    if body is None:
        raise InvalidInput("body: BundleJson body should be specified")
    entitlements.rename_bundle_key(ctx, bundleId, body.externalKey)
    return no_content()


@router.get("/1.0/kb/bundles/{bundleId}", operation_id="getBundle")
def get_bundle(request: Request, ctx: Ctx, entitlements: Entitlements, level: AuditLevel, bundleId: str) -> Response:
    bundle, views = entitlements.bundle_views(ctx, bundleId)
    return KBJSONResponse(bundle_json(bundle, views, audits=entitlement_audits(entitlements, ctx, level, views,
                                                                               [bundle])))


@router.put("/1.0/kb/bundles/{bundleId}/pause", status_code=204, operation_id="pauseBundle",
            dependencies=TAKES_PLUGIN_PROPERTIES)
def pause_bundle(request: Request, ctx: Ctx, entitlements: Entitlements, bundleId: str,
                 requestedDate: str | None = Query(None)) -> Response:
    entitlements.pause_bundle(ctx, bundleId, parse_date(requestedDate, "requestedDate"))
    return no_content()


@router.put("/1.0/kb/bundles/{bundleId}/resume", status_code=204, operation_id="resumeBundle",
            dependencies=TAKES_PLUGIN_PROPERTIES)
def resume_bundle(request: Request, ctx: Ctx, entitlements: Entitlements, bundleId: str,
                  requestedDate: str | None = Query(None)) -> Response:
    entitlements.resume_bundle(ctx, bundleId, parse_date(requestedDate, "requestedDate"))
    return no_content()


@router.post("/1.0/kb/bundles/{bundleId}/block", status_code=201, operation_id="addBundleBlockingState",
             dependencies=TAKES_PLUGIN_PROPERTIES)
def block_bundle(request: Request, ctx: Ctx, entitlements: Entitlements, bundleId: str,
                 body: BlockingStateJson = Body(...),
                 requestedDate: str | None = Query(None)) -> Response:
    return add_blocking_state(request, ctx, entitlements, BlockingStateType.SUBSCRIPTION_BUNDLE, bundleId, body,
                              requestedDate)


@router.get("/1.0/kb/accounts/{accountId}/bundles", tags=["Account"], operation_id="getAccountBundles")
def get_account_bundles(request: Request, ctx: Ctx, entitlements: Entitlements, level: AuditLevel, accountId: str,
                        externalKey: str | None = Query(None),
                        bundlesFilter: str | None = Query(None)) -> Response:
    _, bundles, views = entitlements.account_views(ctx, accountId)
    wanted = {b for b in (bundlesFilter or "").split(",") if b}
    shown = [b for b in bundles
             if (externalKey is None or b.external_key == externalKey) and (not wanted or b.id in wanted)]
    ids = {b.id for b in shown}
    audits = entitlement_audits(entitlements, ctx, level, [v for v in views if v.subscription.bundle_id in ids], shown)
    return KBJSONResponse([bundle_json(b, [v for v in views if v.subscription.bundle_id == b.id], audits=audits)
                           for b in shown])


@router.get("/1.0/kb/accounts/{accountId}/bundles/pagination", tags=["Account"],
            operation_id="getAccountBundlesPaginated")
def get_account_bundles_paginated(request: Request, ctx: Ctx, entitlements: Entitlements, level: AuditLevel,
                                  accountId: str, offset: int = Query(0), limit: int = Query(100)) -> Response:
    check_paging(offset, limit)
    return _bundle_page(entitlements, ctx, entitlements.bundles_page(ctx, offset, limit, account_id=accountId),
                        f"/1.0/kb/accounts/{accountId}/bundles/pagination", level)


@router.get("/1.0/kb/accounts/{accountId}/timeline", tags=["Account"], operation_id="getAccountTimeline")
def get_account_timeline(request: Request, ctx: Ctx, entitlements: Entitlements, invoices: Invoices, accounts: Accounts,
                         level: AuditLevel, accountId: str, parallel: bool = Query(False)) -> Response:
    account, bundles, views = entitlements.account_views(ctx, accountId)
    audits = entitlement_audits(entitlements, ctx, level, views, bundles)
    account_logs = accounts.audit_logs_of(ctx, [account], level).get(account.record_id, []) if level != "NONE" else []
    return KBJSONResponse({
        "account": account_json(account, audit_logs=[audit_log_json(e) for e in account_logs]),
        "bundles": [bundle_json(b, [v for v in views if v.subscription.bundle_id == b.id], audits=audits)
                    for b in bundles],
        "invoices": timeline_invoices_json(invoices, ctx, account, level),
        "payments": [],
    })


@router.get("/1.0/kb/accounts/{accountId}/block", tags=["Account"], operation_id="getBlockingStates")
def get_blocking_states(request: Request, ctx: Ctx, entitlements: Entitlements, level: AuditLevel, accountId: str,
                        blockingStateTypes: list[str] | None = Query(None),
                        blockingStateSvcs: list[str] | None = Query(None)) -> Response:
    audited = entitlements.blocking_states_audited(ctx, accountId, level)
    types = {t.upper() for value in (blockingStateTypes or []) for t in value.split(",") if t}
    for t in types:
        if t not in BlockingStateType.__members__:
            raise InvalidInput(f"blockingStateTypes: '{t}' is not one of SUBSCRIPTION, SUBSCRIPTION_BUNDLE, ACCOUNT")
    services = {s for value in (blockingStateSvcs or []) for s in value.split(",") if s}
    return KBJSONResponse([{**blocking_state_json(s), "auditLogs": [audit_log_json(e) for e in logs]}
                           for s, logs in audited
                           if (not types or s.type.value in types) and (not services or s.service in services)])


@router.post("/1.0/kb/accounts/{accountId}/block", status_code=201, tags=["Account"],
             operation_id="addAccountBlockingState", dependencies=TAKES_PLUGIN_PROPERTIES)
def block_account(request: Request, ctx: Ctx, entitlements: Entitlements, accountId: str,
                  body: BlockingStateJson = Body(...),
                  requestedDate: str | None = Query(None)) -> Response:
    return add_blocking_state(request, ctx, entitlements, BlockingStateType.ACCOUNT, accountId, body, requestedDate)


@router.get("/1.0/kb/bundles/{bundleId}/auditLogsWithHistory", operation_id="getBundleAuditLogsWithHistory")
def bundle_audit_logs(request: Request, ctx: Ctx, entitlements: Entitlements, bundleId: str) -> Response:
    return KBJSONResponse([audit_log_json(e) for e in entitlements.bundle_audit_logs(ctx, bundleId)])


@router.get("/1.0/kb/accounts/block/{blockingId}/auditLogsWithHistory", tags=["Account"],
            operation_id="getBlockingStateAuditLogsWithHistory")
def blocking_state_audit_logs(request: Request, ctx: Ctx, entitlements: Entitlements, blockingId: str) -> Response:
    return KBJSONResponse([audit_log_json(e) for e in entitlements.blocking_state_audit_logs(ctx, blockingId)])
