"""Kill Bill's SubscriptionJson, BundleJson, EventSubscriptionJson and BlockingStateJson (mapping only: the
entitlement service decides states, dates, prices and the order of events)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from billow.core.context import CallContext
from billow.entitlement.model import BlockingState, Bundle
from billow.entitlement.service import EntitlementService
from billow.entitlement.views import EventView, SubscriptionView, phase_prices, shown_transition, subscription_events
from billow.rest.common import audit_log_json
from billow.rest.jsonio import format_instant


def blocking_state_json(s: BlockingState) -> dict[str, Any]:
    return {"blockedId": s.blockable_id, "stateName": s.state_name, "service": s.service,
            "isBlockChange": s.block_change, "isBlockEntitlement": s.block_entitlement,
            "isBlockBilling": s.block_billing, "effectiveDate": format_instant(s.effective_date),
            "type": s.type.value, "auditLogs": []}


# audit logs (as JSON) by object id, for the `audit` query parameter
Audits = Mapping[str, list[dict[str, Any]]]
NO_AUDITS: Audits = {}


def event_json(e: EventView, audits: Audits = NO_AUDITS) -> dict[str, Any]:
    t = e.transition
    plan = t.plan if t is not None else None
    phase = t.phase if t is not None else None
    return {
        "eventId": e.event_id,
        "billingPeriod": e.billing_period.value,
        "effectiveDate": format_instant(e.effective_date),
        "catalogEffectiveDate": format_instant(t.version.effective_date) if t is not None and t.version else None,
        "plan": plan.name if plan is not None else None,
        "product": plan.product if plan is not None else None,
        "priceList": t.price_list if t is not None else None,
        "eventType": e.event_type,
        "isBlockedBilling": e.is_blocked_billing,
        "isBlockedEntitlement": e.is_blocked_entitlement,
        "serviceName": e.service_name,
        "serviceStateName": e.service_state_name,
        "phase": phase.name if phase is not None else None,
        "auditLogs": audits.get(e.event_id, []),
    }


def subscription_events_json(v: SubscriptionView, audits: Audits = NO_AUDITS) -> list[dict[str, Any]]:
    return [event_json(e, audits) for e in subscription_events(v)]


def entitlement_audits(entitlements: EntitlementService, ctx: CallContext, level: str, views: list[SubscriptionView],
                       bundles: Iterable[Bundle] = ()) -> Audits:
    """The audit logs `level` asks for of the bundles, the subscriptions and their events shown."""
    if level == "NONE":
        return NO_AUDITS
    found = entitlements.audit_logs_by_id(
        ctx, level, bundles=[b.id for b in bundles], subscriptions=[v.subscription.id for v in views],
        events=[e.event_id for v in views for e in subscription_events(v)])
    return {object_id: [audit_log_json(e) for e in logs] for object_id, logs in found.items()}


def subscription_json(v: SubscriptionView, audit_logs: list[dict[str, Any]] | None = None, *,
                      with_prices: bool = True, audits: Audits = NO_AUDITS) -> dict[str, Any]:
    """`with_prices=False`: no phase prices, as Kill Bill lists bundles page by page (`BundleJson` made without
    the account's currency)."""
    sub = v.subscription
    cur = shown_transition(v)
    plan = cur.plan if cur is not None else None
    phase = cur.phase if cur is not None else None
    ctd = None
    if sub.charged_through_date is not None:
        ctd = v.account.time.local_date(sub.charged_through_date).isoformat()
    return {
        "accountId": sub.account_id,
        "bundleId": sub.bundle_id,
        "bundleExternalKey": v.bundle.external_key,
        "subscriptionId": sub.id,
        "externalKey": sub.external_key,
        "startDate": format_instant(v.entitlement_start),
        "productName": plan.product if plan is not None else None,
        "productCategory": sub.category.value,
        "billingPeriod": plan.recurring_billing_period.value if plan is not None else None,
        "phaseType": phase.type.value if phase is not None else None,
        "priceList": cur.price_list if cur is not None else None,
        "planName": plan.name if plan is not None else None,
        "state": v.state.value,
        "sourceType": "MIGRATED" if sub.migrated else "NATIVE",
        "cancelledDate": format_instant(v.entitlement_end),
        "chargedThroughDate": ctd,
        "billingStartDate": format_instant(sub.start_date),
        "billingEndDate": format_instant(v.billing_end),
        "billCycleDayLocal": v.bill_cycle_day_local,
        "quantity": (cur.quantity if cur is not None else 1),
        "events": subscription_events_json(v, audits),
        "priceOverrides": None,
        "prices": [{"planName": p.plan_name, "phaseName": p.phase_name, "phaseType": p.phase_type,
                    "fixedPrice": p.fixed_price, "recurringPrice": p.recurring_price, "usagePrices": []}
                   for p in phase_prices(v)] if with_prices else [],
        "auditLogs": audit_logs or audits.get(sub.id, []),
    }


def bundle_json(bundle: Bundle, views: list[SubscriptionView], *, with_prices: bool = True,
                audits: Audits = NO_AUDITS) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    for v in views:
        events.extend(subscription_events_json(v, audits))
    events.sort(key=lambda e: e["effectiveDate"] or "")
    return {
        "accountId": bundle.account_id,
        "bundleId": bundle.id,
        "externalKey": bundle.external_key,
        "subscriptions": [subscription_json(v, with_prices=with_prices, audits=audits) for v in views],
        "timeline": {"accountId": bundle.account_id, "bundleId": bundle.id, "externalKey": bundle.external_key,
                     "events": events, "auditLogs": []},
        "auditLogs": audits.get(bundle.id, []),
    }
