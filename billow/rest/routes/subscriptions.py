"""`/1.0/kb/subscriptions`: create, read, change, cancel, uncancel, BCD, blocking (SubscriptionResource)."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.catalog.model import BillingPeriod, PhaseType, ProductCategory
from billow.core.errors import InvalidInput
from billow.entitlement.model import (
    BillingActionPolicy,
    BlockingStateType,
    EntitlementActionPolicy,
    PhasePriceOverride,
    SubscriptionRequest,
)
from billow.rest.common import (
    TAKES_PLUGIN_PROPERTIES,
    AuditLevel,
    Ctx,
    audit_log_json,
    created,
    no_content,
    parse_date,
    parse_date_or_datetime,
    parse_enum,
)
from billow.rest.deps import Entitlements, billow_of
from billow.rest.entitlement_json import entitlement_audits, subscription_json
from billow.rest.jsonio import KBJSONResponse

router = APIRouter(prefix="/1.0/kb/subscriptions", tags=["Subscription"])


class PhasePriceJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    planName: str | None = None
    phaseName: str | None = None
    phaseType: PhaseType | None = None
    fixedPrice: Decimal | None = None
    recurringPrice: Decimal | None = None


class SubscriptionJson(BaseModel):
    """Kill Bill's SubscriptionJson as input (unknown fields ignored, null is absent)."""

    model_config = ConfigDict(extra="ignore")
    accountId: str | None = None
    bundleId: str | None = None
    bundleExternalKey: str | None = None
    subscriptionId: str | None = None
    externalKey: str | None = None
    productName: str | None = None
    productCategory: ProductCategory | None = None
    billingPeriod: BillingPeriod | None = None
    phaseType: PhaseType | None = None
    priceList: str | None = None
    planName: str | None = None
    billCycleDayLocal: int | None = None
    quantity: int | None = None
    priceOverrides: list[PhasePriceJson] | None = None

    def to_request(self, account_id: str | None = None) -> SubscriptionRequest:
        overrides = tuple(
            PhasePriceOverride(phase_name=o.phaseName, phase_type=o.phaseType, fixed_price=o.fixedPrice,
                               recurring_price=o.recurringPrice)
            for o in (self.priceOverrides or []))
        for o in overrides:
            for name, value in (("fixedPrice", o.fixed_price), ("recurringPrice", o.recurring_price)):
                if value is not None and value < 0:
                    raise InvalidInput(f"priceOverrides.{name}: must not be negative")
        return SubscriptionRequest(
            account_id=self.accountId or account_id or "", plan_name=self.planName, product_name=self.productName,
            product_category=self.productCategory, billing_period=self.billingPeriod, price_list=self.priceList,
            external_key=self.externalKey, bundle_id=self.bundleId, bundle_external_key=self.bundleExternalKey,
            phase_type=self.phaseType, price_overrides=overrides, quantity=self.quantity,
            bill_cycle_day_local=self.billCycleDayLocal)


class BulkSubscriptionsBundleJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    baseEntitlementAndAddOns: list[SubscriptionJson] | None = None


class BlockingStateJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    blockedId: str | None = None
    stateName: str | None = None
    service: str | None = None
    isBlockChange: bool | None = None
    isBlockEntitlement: bool | None = None
    isBlockBilling: bool | None = None
    effectiveDate: str | None = None
    type: BlockingStateType | None = None


async def _wait(request: Request, call_completion: bool, timeout_sec: int) -> Response | None:
    """Kill Bill's `callCompletion`: wait for the work the call caused; 408 when it takes too long."""
    if not call_completion:
        return None
    tenant = request.state.ctx.tenant_record_id
    drained = await run_in_threadpool(billow_of(request).run_until_idle, float(max(timeout_sec, 0)), tenant)
    return None if drained else Response(status_code=408)


@router.post("", status_code=201, operation_id="createSubscription", dependencies=TAKES_PLUGIN_PROPERTIES)
async def create_subscription(request: Request, ctx: Ctx, entitlements: Entitlements,
                              body: SubscriptionJson = Body(...),
                              entitlementDate: str | None = Query(None), billingDate: str | None = Query(None),
                              renameKeyIfExistsAndUnused: bool = Query(True), migrated: bool = Query(False),
                              skipResponse: bool = Query(False), callCompletion: bool = Query(False),
                              callTimeoutSec: int = Query(3)) -> Response:
    service = entitlements
    subs = await run_in_threadpool(
        service.create, ctx, [body.to_request()],
        entitlement_date=parse_date_or_datetime(entitlementDate, "entitlementDate"),
        billing_date=parse_date_or_datetime(billingDate, "billingDate"), migrated=migrated)
    return await _wait(request, callCompletion, callTimeoutSec) or created(
        request, f"/1.0/kb/subscriptions/{subs[0].id}")


@router.post("/createSubscriptionWithAddOns", status_code=201, operation_id="createSubscriptionWithAddOns",
             dependencies=TAKES_PLUGIN_PROPERTIES)
async def create_with_addons(request: Request, ctx: Ctx, entitlements: Entitlements,
                             body: list[SubscriptionJson] = Body(...),
                             entitlementDate: str | None = Query(None), billingDate: str | None = Query(None),
                             migrated: bool = Query(False), skipResponse: bool = Query(False),
                             renameKeyIfExistsAndUnused: bool = Query(True), callCompletion: bool = Query(False),
                             callTimeoutSec: int = Query(3)) -> Response:
    if not body:
        raise InvalidInput("body: at least one subscription needs to be given")
    account_id = next((s.accountId for s in body if s.accountId), None)
    service = entitlements
    subs = await run_in_threadpool(
        service.create, ctx, [s.to_request(account_id) for s in body],
        entitlement_date=parse_date_or_datetime(entitlementDate, "entitlementDate"),
        billing_date=parse_date_or_datetime(billingDate, "billingDate"), migrated=migrated)
    return await _wait(request, callCompletion, callTimeoutSec) or created(
        request, f"/1.0/kb/bundles/{subs[0].bundle_id}")


@router.post("/createSubscriptionsWithAddOns", status_code=201, operation_id="createSubscriptionsWithAddOns",
             dependencies=TAKES_PLUGIN_PROPERTIES)
async def create_many_with_addons(request: Request, ctx: Ctx, entitlements: Entitlements,
                                  body: list[BulkSubscriptionsBundleJson] = Body(...),
                                  entitlementDate: str | None = Query(None), billingDate: str | None = Query(None),
                                  renameKeyIfExistsAndUnused: bool = Query(True), migrated: bool = Query(False),
                                  skipResponse: bool = Query(False), callCompletion: bool = Query(False),
                                  callTimeoutSec: int = Query(3)) -> Response:
    if not body or not all(b.baseEntitlementAndAddOns for b in body):
        raise InvalidInput("baseEntitlementAndAddOns: each bundle needs at least one subscription")
    service = entitlements
    ent = parse_date_or_datetime(entitlementDate, "entitlementDate")
    bill = parse_date_or_datetime(billingDate, "billingDate")
    bundle_ids: list[str] = []
    account_id = ""
    for b in body:
        items = b.baseEntitlementAndAddOns or []
        account_id = next((s.accountId for s in items if s.accountId), account_id) or ""
        subs = await run_in_threadpool(service.create, ctx, [s.to_request(account_id) for s in items],
                                       entitlement_date=ent, billing_date=bill, migrated=migrated)
        bundle_ids.append(subs[0].bundle_id)
    return await _wait(request, callCompletion, callTimeoutSec) or created(
        request, f"/1.0/kb/accounts/{account_id}/bundles?bundlesFilter={','.join(bundle_ids)}")


@router.get("", operation_id="getSubscriptionByKey")
def get_subscription_by_key(request: Request, ctx: Ctx, entitlements: Entitlements, level: AuditLevel,
                            externalKey: str | None = Query(None)) -> Response:
    if not externalKey:
        raise InvalidInput("externalKey: query parameter needs to be set")
    view = entitlements.view_by_key(ctx, externalKey)
    return KBJSONResponse(subscription_json(view, audits=entitlement_audits(entitlements, ctx, level, [view])))


@router.get("/{subscriptionId}", operation_id="getSubscription")
def get_subscription(request: Request, ctx: Ctx, entitlements: Entitlements, level: AuditLevel,
                     subscriptionId: str) -> Response:
    view = entitlements.view(ctx, subscriptionId)
    return KBJSONResponse(subscription_json(view, audits=entitlement_audits(entitlements, ctx, level, [view])))


@router.put("/{subscriptionId}", status_code=204, operation_id="changeSubscriptionPlan",
            dependencies=TAKES_PLUGIN_PROPERTIES)
async def change_plan(request: Request, ctx: Ctx, entitlements: Entitlements, subscriptionId: str,
                      body: SubscriptionJson = Body(...),
                      requestedDate: str | None = Query(None), callCompletion: bool = Query(False),
                      callTimeoutSec: int = Query(3), billingPolicy: str | None = Query(None)) -> Response:
    if body.planName is None and (body.productName is None or body.billingPeriod is None):
        raise InvalidInput("planName: needs to be set (or productName, billingPeriod and priceList)")
    policy = parse_enum(BillingActionPolicy, billingPolicy, "billingPolicy")
    await run_in_threadpool(entitlements.change_plan, ctx, subscriptionId,
                            body.to_request(), requested_date=parse_date_or_datetime(requestedDate, "requestedDate"),
                            policy=policy)
    return await _wait(request, callCompletion, callTimeoutSec) or no_content()


@router.put("/{subscriptionId}/undoChangePlan", status_code=204, operation_id="undoChangeSubscriptionPlan",
            dependencies=TAKES_PLUGIN_PROPERTIES)
def undo_change(request: Request, ctx: Ctx, entitlements: Entitlements, subscriptionId: str) -> Response:
    entitlements.undo_change(ctx, subscriptionId)
    return no_content()


@router.delete("/{subscriptionId}", status_code=204, operation_id="cancelSubscriptionPlan",
               dependencies=TAKES_PLUGIN_PROPERTIES)
async def cancel(request: Request, ctx: Ctx, entitlements: Entitlements, subscriptionId: str,
                 requestedDate: str | None = Query(None),
                 callCompletion: bool = Query(False), callTimeoutSec: int = Query(5),
                 entitlementPolicy: str | None = Query(None), billingPolicy: str | None = Query(None),
                 useRequestedDateForBilling: bool = Query(False)) -> Response:
    await run_in_threadpool(
        entitlements.cancel, ctx, subscriptionId,
        requested_date=parse_date_or_datetime(requestedDate, "requestedDate"),
        entitlement_policy=parse_enum(EntitlementActionPolicy, entitlementPolicy, "entitlementPolicy"),
        billing_policy=parse_enum(BillingActionPolicy, billingPolicy, "billingPolicy"),
        use_requested_date_for_billing=useRequestedDateForBilling)
    return await _wait(request, callCompletion, callTimeoutSec) or no_content()


@router.put("/{subscriptionId}/uncancel", status_code=204, operation_id="uncancelSubscriptionPlan",
            dependencies=TAKES_PLUGIN_PROPERTIES)
def uncancel(request: Request, ctx: Ctx, entitlements: Entitlements, subscriptionId: str) -> Response:
    entitlements.uncancel(ctx, subscriptionId)
    return no_content()


@router.put("/{subscriptionId}/bcd", status_code=204, operation_id="updateSubscriptionBCD")
def update_bcd(request: Request, ctx: Ctx, entitlements: Entitlements, subscriptionId: str,
               body: SubscriptionJson = Body(...),
               effectiveFromDate: str | None = Query(None),
               forceNewBcdWithPastEffectiveDate: bool = Query(False)) -> Response:
    if body.billCycleDayLocal is None:
        raise InvalidInput("billCycleDayLocal: needs to be set")
    entitlements.update_bcd(ctx, subscriptionId, body.billCycleDayLocal,
                                                     parse_date(effectiveFromDate, "effectiveFromDate"))
    return no_content()


@router.put("/{subscriptionId}/quantity", status_code=204, operation_id="updateSubscriptionQuantity")
def update_quantity(request: Request, ctx: Ctx, entitlements: Entitlements, subscriptionId: str,
                    body: SubscriptionJson | None = Body(None), effectiveFromDate: str | None = Query(None),
                    forceNewQuantityWithPastEffectiveDate: bool = Query(False)) -> Response:
    if body is None:
        raise InvalidInput("body: SubscriptionJson body should be specified")
    if body.quantity is None:
        raise InvalidInput("quantity: SubscriptionJson new quantity should be specified")
    entitlements.update_quantity(ctx, subscriptionId, body.quantity, parse_date(effectiveFromDate, "effectiveFromDate"),
                                 force_past=forceNewQuantityWithPastEffectiveDate)
    return no_content()


def add_blocking_state(request: Request, ctx: Ctx, entitlements: Entitlements, type_: BlockingStateType,
                       blockable_id: str,
                       body: BlockingStateJson, requested_date: str | None) -> Response:
    account = entitlements.add_blocking_state(
        ctx, type_, blockable_id, body.stateName or "", body.service or "", bool(body.isBlockChange),
        bool(body.isBlockEntitlement), bool(body.isBlockBilling),
        parse_date_or_datetime(requested_date or body.effectiveDate, "requestedDate"))
    return created(request, f"/1.0/kb/accounts/{account.id}/block?blockingStateTypes={type_.value}")


@router.post("/{subscriptionId}/block", status_code=201, operation_id="addSubscriptionBlockingState",
             dependencies=TAKES_PLUGIN_PROPERTIES)
def block_subscription(request: Request, ctx: Ctx, entitlements: Entitlements, subscriptionId: str,
                       body: BlockingStateJson = Body(...),
                       requestedDate: str | None = Query(None)) -> Response:
    return add_blocking_state(request, ctx, entitlements, BlockingStateType.SUBSCRIPTION, subscriptionId, body,
                              requestedDate)


@router.get("/{subscriptionId}/auditLogsWithHistory", operation_id="getSubscriptionAuditLogsWithHistory")
def subscription_audit_logs(request: Request, ctx: Ctx, entitlements: Entitlements, subscriptionId: str) -> Response:
    logs = entitlements.subscription_audit_logs(ctx, subscriptionId, with_history=True)
    return KBJSONResponse([audit_log_json(e) for e in logs])


@router.get("/events/{eventId}/auditLogsWithHistory", operation_id="getSubscriptionEventAuditLogsWithHistory")
def subscription_event_audit_logs(request: Request, ctx: Ctx, entitlements: Entitlements, eventId: str) -> Response:
    return KBJSONResponse([audit_log_json(e) for e in entitlements.subscription_event_audit_logs(ctx, eventId)])
