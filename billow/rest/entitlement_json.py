"""Kill Bill's SubscriptionJson, BundleJson, EventSubscriptionJson and BlockingStateJson."""

from __future__ import annotations

from typing import Any

from billow.catalog.engine import fixed_price, recurring_price
from billow.catalog.model import BillingPeriod
from billow.entitlement.dates import zone
from billow.entitlement.model import (
    BILLING_SERVICE,
    ENT_BLOCKED,
    ENT_CANCELLED,
    ENT_CLEAR,
    ENT_STARTED,
    ENTITLEMENT_SERVICE,
    BlockingState,
    Bundle,
    SubscriptionEventType,
)
from billow.entitlement.service import SubscriptionView
from billow.rest.jsonio import format_instant

# order of events at the same instant, as Kill Bill's SubscriptionEventOrdering lists them
_ORDER = {"START_ENTITLEMENT": 0, "START_BILLING": 1, "PAUSE_ENTITLEMENT": 2, "PAUSE_BILLING": 3,
          "RESUME_ENTITLEMENT": 4, "RESUME_BILLING": 5, "CHANGE": 6, "PHASE": 7, "SERVICE_STATE_CHANGE": 8,
          "STOP_ENTITLEMENT": 9, "STOP_BILLING": 10}


def blocking_state_json(s: BlockingState) -> dict[str, Any]:
    return {"blockedId": s.blockable_id, "stateName": s.state_name, "service": s.service,
            "isBlockChange": s.block_change, "isBlockEntitlement": s.block_entitlement,
            "isBlockBilling": s.block_billing, "effectiveDate": format_instant(s.effective_date),
            "type": s.type.value, "auditLogs": []}


def subscription_events_json(v: SubscriptionView) -> list[dict[str, Any]]:
    """The subscription's events as Kill Bill lists them (entitlement and billing side by side)."""
    out: list[tuple[Any, int, dict[str, Any]]] = []
    first = v.transitions[0] if v.transitions else None

    def event(event_id: str, when: Any, event_type: str, service: str, state: str, t: Any,
              blocked_billing: bool = False, blocked_entitlement: bool = False) -> None:
        plan = t.plan if t is not None else None
        phase = t.phase if t is not None else None
        out.append((when, _ORDER[event_type], {
            "eventId": event_id,
            "billingPeriod": (phase.recurring.billing_period.value if phase is not None and phase.recurring
                              else (plan.recurring_billing_period.value if plan is not None
                                    else BillingPeriod.NO_BILLING_PERIOD.value)),
            "effectiveDate": format_instant(when),
            "catalogEffectiveDate": format_instant(t.version.effective_date) if t is not None and t.version else None,
            "plan": plan.name if plan is not None else None,
            "product": plan.product if plan is not None else None,
            "priceList": t.price_list if t is not None else None,
            "eventType": event_type,
            "isBlockedBilling": blocked_billing,
            "isBlockedEntitlement": blocked_entitlement,
            "serviceName": service,
            "serviceStateName": state,
            "phase": phase.name if phase is not None else None,
            "auditLogs": [],
        }))

    def in_force(when: Any) -> Any:
        current = first
        for t in v.transitions:
            if t.effective_date <= when and not t.ends:
                current = t
        return current

    for s in v.blocking_states:
        t = in_force(s.effective_date)
        if s.service == ENTITLEMENT_SERVICE and s.blockable_id == v.subscription.id and s.state_name == ENT_STARTED:
            event(s.id, s.effective_date, "START_ENTITLEMENT", ENTITLEMENT_SERVICE, ENT_STARTED, t)
        elif s.service == ENTITLEMENT_SERVICE and s.state_name == ENT_CANCELLED:
            if s.blockable_id == v.subscription.id:
                event(s.id, s.effective_date, "STOP_ENTITLEMENT", ENTITLEMENT_SERVICE, ENT_CANCELLED, t,
                      False, True)
        elif s.service == ENTITLEMENT_SERVICE and s.state_name == ENT_BLOCKED:
            event(s.id, s.effective_date, "PAUSE_ENTITLEMENT", ENTITLEMENT_SERVICE, ENT_BLOCKED, t,
                  s.block_billing, True)
            event(s.id + "-billing", s.effective_date, "PAUSE_BILLING", BILLING_SERVICE, ENT_BLOCKED, t,
                  s.block_billing, True)
        elif s.service == ENTITLEMENT_SERVICE and s.state_name == ENT_CLEAR:
            event(s.id, s.effective_date, "RESUME_ENTITLEMENT", ENTITLEMENT_SERVICE, ENT_CLEAR, t)
            event(s.id + "-billing", s.effective_date, "RESUME_BILLING", BILLING_SERVICE, ENT_CLEAR, t)
        else:
            event(s.id, s.effective_date, "SERVICE_STATE_CHANGE", s.service, s.state_name, t,
                  s.block_billing, s.block_entitlement)
    for t in v.transitions:
        if t.type in (SubscriptionEventType.CREATE, SubscriptionEventType.TRANSFER):
            event(t.event_id, t.effective_date, "START_BILLING", BILLING_SERVICE, "START_BILLING", t)
        elif t.type is SubscriptionEventType.PHASE:
            event(t.event_id, t.effective_date, "PHASE", "entitlement+billing-service", "PHASE", t)
        elif t.type is SubscriptionEventType.CHANGE and not t.synthetic:
            event(t.event_id, t.effective_date, "CHANGE", "entitlement+billing-service", "CHANGE", t)
        elif t.ends:
            event(t.event_id, t.effective_date, "STOP_BILLING", BILLING_SERVICE, "STOP_BILLING", in_force(
                t.effective_date))
    out.sort(key=lambda e: (e[0], e[1]))
    return [e[2] for e in out]


def _prices(v: SubscriptionView) -> list[dict[str, Any]]:
    currency = v.account.currency or ""
    seen: dict[str, dict[str, Any]] = {}
    for t in v.transitions:
        if t.plan is None or t.phase is None or t.phase.name in seen:
            continue
        override = next((o for o in t.overrides if o.phase_name == t.phase.name), None)
        fixed = override.fixed_price if override and override.fixed_price is not None else _safe(
            fixed_price, t.phase, currency)
        rec = override.recurring_price if override and override.recurring_price is not None else _safe(
            recurring_price, t.phase, currency)
        seen[t.phase.name] = {"planName": t.plan.name, "phaseName": t.phase.name, "phaseType": t.phase.type.value,
                              "fixedPrice": fixed, "recurringPrice": rec, "usagePrices": []}
    return list(seen.values())


def _safe(fn: Any, phase: Any, currency: str) -> Any:
    try:
        return fn(phase, currency)
    except LookupError:
        return None


def subscription_json(v: SubscriptionView, audit_logs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    sub = v.subscription
    cur = v.current
    if cur is not None and cur.ends:
        cur = next((t for t in reversed(v.transitions) if not t.ends and t.effective_date <= cur.effective_date),
                   cur)
    plan = cur.plan if cur is not None else None
    phase = cur.phase if cur is not None else None
    ctd = None
    if sub.charged_through_date is not None:
        ctd = sub.charged_through_date.astimezone(zone(v.account.time_zone)).date().isoformat()
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
        "prices": _prices(v),
        "auditLogs": audit_logs or [],
    }


def bundle_json(bundle: Bundle, views: list[SubscriptionView]) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    for v in views:
        events.extend(subscription_events_json(v))
    events.sort(key=lambda e: e["effectiveDate"] or "")
    return {
        "accountId": bundle.account_id,
        "bundleId": bundle.id,
        "externalKey": bundle.external_key,
        "subscriptions": [subscription_json(v) for v in views],
        "timeline": {"accountId": bundle.account_id, "bundleId": bundle.id, "externalKey": bundle.external_key,
                     "events": events, "auditLogs": []},
        "auditLogs": [],
    }
