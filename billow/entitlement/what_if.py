"""An account's subscriptions as they would be after an action, for a dry run (pure).

Kill Bill's dry run SUBSCRIPTION_ACTION (START_BILLING, CHANGE, STOP_BILLING, billing-semantics.md 4.9):
the same checks and dates as the real operation (`decisions.py`), applied to copies in memory. Nothing is
written; the invoice service invoices the result.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from billow.core.errors import InvalidInput
from billow.entitlement import store
from billow.entitlement.decisions import (
    Requested,
    category_of,
    change_rows,
    decide_change,
    dry_run_cancel_date,
    phase_align_date,
    plan_for,
)
from billow.entitlement.errors import sub_error, subscription_not_found
from billow.entitlement.model import (
    BillingActionPolicy,
    BlockingState,
    ProductCategory,
    Subscription,
    SubscriptionEvent,
    SubscriptionEventType,
    SubscriptionRequest,
)
from billow.entitlement.views import AccountEntitlements, build_view

ACTIONS = ("START_BILLING", "CHANGE", "STOP_BILLING")


class _Events:
    """Events made up for the what-if: record ids far above any real one, so they sort last."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._seq: Iterator[int] = iter(range(10**12, 10**13))

    def next_id(self) -> int:
        return next(self._seq)

    def event(self, row: dict[str, Any]) -> SubscriptionEvent:
        return store.to_event({**row, "record_id": self.next_id(), "id": str(uuid.uuid4()), "created_date": self.now})


def _with(sub: Subscription, *extra: SubscriptionEvent) -> Subscription:
    return dataclasses.replace(sub, events=(*sub.events, *extra))


def what_if(acc: AccountEntitlements, action: str, now: datetime, *, subscription_id: str | None = None,
            bundle_id: str | None = None, req: SubscriptionRequest | None = None, effective: Requested = None,
            billing_policy: BillingActionPolicy | None = None) -> tuple[list[Subscription], list[BlockingState]]:
    """The account's subscriptions and blocking states after `action`, with the real operation's checks."""
    action = action.upper()
    if action not in ACTIONS:
        raise InvalidInput(f"dryRunAction: '{action}' is not one of START_BILLING, CHANGE, STOP_BILLING")
    account = acc.account
    made = _Events(now)
    subs = list(acc.subscriptions)
    if action == "START_BILLING":
        if req is None:
            raise InvalidInput("planName: a dry run START_BILLING needs the plan")
        when = account.time.requested(effective, now)
        plan, price_list = plan_for(acc.catalog, req, when)
        category = category_of(acc.catalog, plan, when)
        base = acc.base_of(bundle_id) if bundle_id else None
        if category is ProductCategory.ADD_ON and base is None:
            raise sub_error(1013, f"Missing Base Subscription for bundle {bundle_id}")
        bundle_start = base.start_date if base is not None else when
        sub_id = str(uuid.uuid4())
        new = Subscription(record_id=made.next_id(), id=sub_id, bundle_id=bundle_id or str(uuid.uuid4()),
                           account_id=account.id, account_record_id=account.record_id, category=category,
                           external_key=sub_id, start_date=when, bundle_start_date=bundle_start,
                           charged_through_date=None, created_date=now)
        row = store.event_values(sub_id, SubscriptionEventType.CREATE, when, plan_name=plan.name,
                                 price_list_name=price_list,
                                 phase_align_date=phase_align_date(acc.catalog, plan, category, when, bundle_start),
                                 initial_phase_type=req.phase_type, quantity=req.quantity,
                                 price_overrides=req.price_overrides)
        subs.append(_with(new, made.event(row)))
        return subs, acc.blocking
    sub = acc.sub(subscription_id or "")
    if sub is None:
        raise subscription_not_found(subscription_id or "")
    if action == "CHANGE":
        if req is None:
            raise InvalidInput("planName: a dry run CHANGE needs the new plan")
        change = decide_change(acc, sub, req, effective, billing_policy, now)
        row, replaced = change_rows(sub, change)
        gone = {e.id for e in replaced}
        kept = tuple(dataclasses.replace(e, is_active=False) if e.id in gone else e for e in sub.events)
        changed = _with(dataclasses.replace(sub, events=kept), made.event(row))
        return [changed if s.id == sub.id else s for s in subs], acc.blocking
    # STOP_BILLING: a CANCEL at the dry run's date, and one for each add-on still on (Kill Bill's
    # `getEventsOnCancelPlan` with `addCancellationAddOnForEventsIfRequired`), whatever the subscription's state;
    # each takes the place of the subscription's events after it (`mergeDryRunEvents`)
    when = dry_run_cancel_date(acc, sub, now, effective, billing_policy)
    cancels = {sub.id: when}
    if sub.category is ProductCategory.BASE:
        for addon in acc.addons_of(sub.bundle_id):
            if not build_view(acc, addon, now).billing_ended(now):
                cancels[addon.id] = max(when, addon.align_start_date or addon.start_date)
    out = []
    for s in subs:
        if s.id in cancels:
            at = cancels[s.id]
            kept = tuple(dataclasses.replace(e, is_active=False) if e.effective_date > at else e for e in s.events)
            s = _with(dataclasses.replace(s, events=kept),
                      made.event(store.event_values(s.id, SubscriptionEventType.CANCEL, at)))
        out.append(s)
    return out, acc.blocking
