"""Kill Bill's SubscriptionJson, BundleJson, EventSubscriptionJson and BlockingStateJson (mapping only: the
entitlement service decides states, dates, prices and the order of events)."""

from __future__ import annotations

from typing import Any

from billow.entitlement.model import BlockingState, Bundle
from billow.entitlement.views import EventView, SubscriptionView, phase_prices, shown_transition, subscription_events
from billow.rest.jsonio import format_instant


def blocking_state_json(s: BlockingState) -> dict[str, Any]:
    return {"blockedId": s.blockable_id, "stateName": s.state_name, "service": s.service,
            "isBlockChange": s.block_change, "isBlockEntitlement": s.block_entitlement,
            "isBlockBilling": s.block_billing, "effectiveDate": format_instant(s.effective_date),
            "type": s.type.value, "auditLogs": []}


def event_json(e: EventView) -> dict[str, Any]:
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
        "auditLogs": [],
    }


def subscription_events_json(v: SubscriptionView) -> list[dict[str, Any]]:
    return [event_json(e) for e in subscription_events(v)]


def subscription_json(v: SubscriptionView, audit_logs: list[dict[str, Any]] | None = None, *,
                      with_prices: bool = True) -> dict[str, Any]:
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
        "events": subscription_events_json(v),
        "priceOverrides": None,
        "prices": [{"planName": p.plan_name, "phaseName": p.phase_name, "phaseType": p.phase_type,
                    "fixedPrice": p.fixed_price, "recurringPrice": p.recurring_price, "usagePrices": []}
                   for p in phase_prices(v)] if with_prices else [],
        "auditLogs": audit_logs or [],
    }


def bundle_json(bundle: Bundle, views: list[SubscriptionView], *, with_prices: bool = True) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    for v in views:
        events.extend(subscription_events_json(v))
    events.sort(key=lambda e: e["effectiveDate"] or "")
    return {
        "accountId": bundle.account_id,
        "bundleId": bundle.id,
        "externalKey": bundle.external_key,
        "subscriptions": [subscription_json(v, with_prices=with_prices) for v in views],
        "timeline": {"accountId": bundle.account_id, "bundleId": bundle.id, "externalKey": bundle.external_key,
                     "events": events, "auditLogs": []},
        "auditLogs": [],
    }
