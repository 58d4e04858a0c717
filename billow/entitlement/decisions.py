"""What an entitlement operation would do, decided without writing anything (pure).

Kill Bill's `DefaultSubscriptionBase.changePlan*` / `cancelWithPolicy`, `PlanAligner`, and the catalog's
rules: the plan a request names, a change's target and date, a cancellation's entitlement and billing
dates, and which add-ons a base's change leaves behind. Both the real operation (`internal.py`) and the
what-if of a dry run (`what_if.py`) call these, so they can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from billow.catalog.engine import (
    PlanPhaseSpecifier,
    PlanSpecifier,
    cancel_policy,
    create_alignment,
    create_or_find_plan,
    is_addon_available,
    is_addon_included,
    plan_change_result,
)
from billow.catalog.errors import CATALOG_EXCEPTION, CatalogApiError
from billow.catalog.model import (
    BillingMode,
    BillingPeriod,
    Catalog,
    Plan,
    PlanAlignmentChange,
    PlanAlignmentCreate,
    ProductCategory,
)
from billow.core.errors import BillowError, InvalidInput
from billow.entitlement import store
from billow.entitlement.dates import effective_date_for_policy
from billow.entitlement.errors import BLOCKING_EXCEPTION, catalog_error, sub_error
from billow.entitlement.model import (
    BillingActionPolicy,
    EntitlementActionPolicy,
    Subscription,
    SubscriptionEvent,
    SubscriptionEventType,
    SubscriptionRequest,
)
from billow.entitlement.timeline import (
    blocked_intervals,
    current_transition,
    initial_phase_type_on_change,
    is_blocked_at,
    original_phase_type,
    transitions,
)
from billow.entitlement.views import AccountEntitlements, SubscriptionView, build_view

Requested = datetime | date | None


@dataclass(frozen=True, slots=True)
class PlanChange:
    """A decided change of plan: the target plan, when it takes effect, and the CHANGE event to store."""

    target: Plan
    when: datetime
    row: dict[str, Any]


def plan_for(catalog: Catalog, req: SubscriptionRequest, when: datetime) -> tuple[Plan, str | None]:
    """The plan a creation names (by name, or product + billing period + price list) at `when`."""
    if req.plan_name is not None and (req.product_name or req.billing_period):
        raise InvalidInput("planName: give either planName alone, or productName, billingPeriod and priceList")
    if req.plan_name is None and (req.product_name is None or req.billing_period is None):
        raise InvalidInput("planName: needs to be set (or productName, billingPeriod and priceList)")
    try:
        version = catalog.version_for_date(when)
        plan = create_or_find_plan(version, req.specifier())
    except CatalogApiError as exc:
        raise catalog_error(exc) from None
    if req.phase_type is not None and not any(ph.type is req.phase_type for ph in plan.all_phases):
        raise sub_error(1011, f"Can't create plan initial phase {req.phase_type.value}")
    return plan, req.price_list or plan.price_list


def category_of(catalog: Catalog, plan: Plan, when: datetime) -> ProductCategory:
    return catalog.version_for_date(when).find_product(plan.product).category


def phase_align_date(catalog: Catalog, plan: Plan, category: ProductCategory, start: datetime,
                     bundle_start: datetime) -> datetime:
    """Where a new subscription's phases are laid out from (billing-semantics.md 2.1): its own start under
    START_OF_SUBSCRIPTION, else the bundle's start (the base's, for an add-on)."""
    alignment = create_alignment(catalog.version_for_date(start), PlanSpecifier(plan_name=plan.name))
    if alignment is PlanAlignmentCreate.START_OF_SUBSCRIPTION:
        return start
    return bundle_start if category is ProductCategory.ADD_ON else start


def check_plans_allowed(acc: AccountEntitlements, bundle_id: str, plan: Plan, when: datetime) -> None:
    """`plansAllowedInBundle`: how many subscriptions of one add-on plan a bundle may hold."""
    if plan.plans_allowed_in_bundle < 0:
        return
    in_use = sum(1 for s in acc.subscriptions if s.bundle_id == bundle_id
                 and (cur := current_transition(transitions(s, acc.catalog), when)) is not None
                 and cur.plan is not None and cur.plan.name == plan.name)
    if in_use >= plan.plans_allowed_in_bundle:
        raise sub_error(1019, f"Can't create AddOn {plan.name}: the bundle already has "
                              f"{in_use} of the {plan.plans_allowed_in_bundle} allowed")


def check_addon_allowed(acc: AccountEntitlements, base: Subscription, plan: Plan, when: datetime,
                        now: datetime) -> None:
    """An add-on starting at `when` needs an active base whose product offers it and does not include it."""
    base_view = build_view(acc, base, now)
    if base_view.ended or (base_view.billing_end is not None and base_view.billing_end <= when):
        raise sub_error(1017, f"Can't create AddOn {plan.name} for non active Base Plan")
    base_plan = base_view.current.plan if base_view.current else None
    if base_plan is None:
        base_plan = transitions(base, acc.catalog)[0].plan
    assert base_plan is not None
    version = acc.catalog.version_for_date(when)
    if is_addon_included(version, base_plan.product, plan.product):
        raise sub_error(1018, f"Can't create AddOn {plan.name} for BasePlan {base_plan.name} (Already included)")
    if not is_addon_available(version, base_plan.product, plan.product):
        raise sub_error(1019, f"Can't create AddOn {plan.name} for BasePlan {base_plan.name} (Not available)")


def decide_change(acc: AccountEntitlements, sub: Subscription, req: SubscriptionRequest, requested_date: Requested,
                  policy: BillingActionPolicy | None, now: datetime) -> PlanChange:
    """What a plan change would do, checked (Kill Bill's `DefaultSubscriptionBase.changePlan*`): the target
    plan, its effective date and the CHANGE event to store."""
    if requested_date is not None and policy is not None:
        raise InvalidInput("requestedDate, billingPolicy: give one of them, not both")
    account = acc.account
    view = build_view(acc, sub, now)
    if view.state.value not in ("ACTIVE", "PENDING"):
        raise sub_error(1021, f"Subscription {sub.id} is in state {view.state.value}: Failed to change plan")
    if view.billing_end is not None:
        raise sub_error(1022, f"Subscription {sub.id} is future cancelled: Failed to change plan")
    if is_blocked_at(blocked_intervals(view.blocking_states, "block_change"), now):
        raise BillowError(f"The action CHANGE is block on this SUBSCRIPTION with id={sub.id}", code=6000,
                          class_name=BLOCKING_EXCEPTION, status=400)
    current = view.current
    assert current is not None and current.plan is not None and current.phase is not None
    version = acc.catalog.version_for_date(now)
    try:
        target = create_or_find_plan(version, PlanSpecifier(
            plan_name=req.plan_name, product_name=req.product_name, billing_period=req.billing_period,
            price_list_name=req.price_list))
        result = plan_change_result(
            version, PlanPhaseSpecifier(plan_name=current.plan.name, product_name=current.plan.product,
                                        billing_period=current.plan.recurring_billing_period,
                                        price_list_name=current.price_list, phase_type=current.phase.type),
            PlanSpecifier(plan_name=target.name, product_name=target.product,
                          billing_period=target.recurring_billing_period, price_list_name=req.price_list))
    except CatalogApiError as exc:
        raise catalog_error(exc) from None
    if sub.category is ProductCategory.ADD_ON and target.product != current.plan.product:
        base = acc.base_of(sub.bundle_id)
        if base is not None:
            base_cur = build_view(acc, base, now).current
            if base_cur is not None and base_cur.plan is not None and not is_addon_available(
                    version, base_cur.plan.product, target.product):
                raise sub_error(1019, f"Can't create AddOn {target.name} for BasePlan "
                                      f"{base_cur.plan.name} (Not available)")
    effective_policy = policy or result.policy
    if requested_date is not None:
        when = account.time.requested(requested_date, now)
        if when < current.effective_date and current.type is not SubscriptionEventType.PHASE:
            raise sub_error(1001, f"Requested date {when.isoformat()} is not allowed to be prior to the "
                                  f"previous transition {current.effective_date.isoformat()}")
        when = max(when, sub.start_date)
    else:
        if effective_policy is BillingActionPolicy.ILLEGAL:
            raise BillowError(
                f"Attempting to change plan from (product: '{current.plan.product}', billing period: "
                f"'{current.plan.recurring_billing_period.value}', pricelist '{current.price_list}') to "
                f"(product: '{target.product}', billing period: '{target.recurring_billing_period.value}', "
                f"pricelist '{result.new_price_list.name}'). This transition is not allowed by catalog "
                "rules", code=2001, class_name=CATALOG_EXCEPTION, status=400)
        when = policy_date(effective_policy, view, now)
    alignment = PlanAlignmentChange(result.alignment.value)
    if alignment is PlanAlignmentChange.CHANGE_OF_PLAN:
        align_date, initial = when, req.phase_type
    elif alignment is PlanAlignmentChange.START_OF_BUNDLE:
        align_date = sub.bundle_start_date
        initial = initial_phase_type_on_change(target, req.phase_type, original_phase_type(sub, acc.catalog))
    else:
        align_date = sub.align_start_date or sub.start_date
        initial = initial_phase_type_on_change(target, req.phase_type, original_phase_type(sub, acc.catalog))
    row = store.event_values(sub.id, SubscriptionEventType.CHANGE, when, plan_name=target.name,
                             price_list_name=result.new_price_list.name, phase_align_date=align_date,
                             initial_phase_type=initial, quantity=req.quantity, price_overrides=req.price_overrides)
    return PlanChange(target, when, row)


def superseded_by_change(sub: Subscription, when: datetime) -> list[SubscriptionEvent]:
    """The stored changes a new plan change effective at `when` replaces: every active CHANGE effective at or
    after it. Kill Bill's `DefaultSubscriptionDao.changePlan` deactivates the active events at or after the new
    CHANGE (`unactivateFutureEventsFromTransaction`, BCD and quantity changes kept), so two changes requested for
    the same date (or both at the end of term) leave one CHANGE, while two immediate changes, a moment apart,
    both stay."""
    return [e for e in sub.events if e.is_active and e.event_type is SubscriptionEventType.CHANGE
            and e.effective_date >= when]


def creation_replaced_by_change(sub: Subscription, when: datetime) -> SubscriptionEvent | None:
    """The CREATE (or TRANSFER) a change effective at the very same instant replaces: Kill Bill's
    `isChangePlanOnStartDate` stores the change as the creation (the subscription starts on the new plan, and
    no CHANGE is listed)."""
    first = next((e for e in sorted(sub.events, key=lambda e: (e.effective_date, e.total_ordering)) if e.is_active
                  and e.event_type in (SubscriptionEventType.CREATE, SubscriptionEventType.TRANSFER)), None)
    return first if first is not None and first.effective_date == when else None


def change_rows(sub: Subscription, change: PlanChange) -> tuple[dict[str, Any], list[SubscriptionEvent]]:
    """The event row a decided change stores and the stored events it deactivates (`superseded_by_change`,
    and the creation when `creation_replaced_by_change`: the row then takes its type and initial quantity)."""
    replaced = superseded_by_change(sub, change.when)
    creation = creation_replaced_by_change(sub, change.when)
    if creation is None:
        return change.row, replaced
    row = {**change.row, "event_type": creation.event_type.value, "quantity": creation.quantity}
    return row, [*replaced, creation]


def decide_cancel(acc: AccountEntitlements, sub: Subscription, now: datetime, requested_date: Requested,
                  entitlement_policy: EntitlementActionPolicy | None, billing_policy: BillingActionPolicy | None,
                  use_requested_date_for_billing: bool) -> tuple[datetime, datetime]:
    """Entitlement and billing dates of a cancellation, checked (Kill Bill's `cancelSubscriptionPlan` with its
    four combinations of date and policies)."""
    view = build_view(acc, sub, now)
    if view.billing_end is not None or view.ended:
        state = "CANCELLED" if view.billing_end else view.state.value
        raise sub_error(1031, f"Subscription {sub.id} is in state {state}: Failed to cancel")
    catalog_policy = catalog_cancel_policy(view)
    requested = acc.account.time.requested(requested_date, now) if requested_date is not None else None
    if billing_policy is None and entitlement_policy is None:
        ent_date = requested or now
        if isinstance(requested_date, datetime) or use_requested_date_for_billing:
            bill_date = ent_date
        else:
            bill_date = policy_date(catalog_policy, view, now)
    elif billing_policy is None:
        assert entitlement_policy is not None
        bill_policy = (BillingActionPolicy.IMMEDIATE if entitlement_policy is EntitlementActionPolicy.IMMEDIATE
                       else BillingActionPolicy.END_OF_TERM)
        bill_date = policy_date(bill_policy, view, now)
        ent_date = now if entitlement_policy is EntitlementActionPolicy.IMMEDIATE else bill_date
    elif entitlement_policy is None:
        ent_date = requested or now
        bill_date = policy_date(billing_policy, view, now)
    else:
        bill_date = policy_date(billing_policy, view, now)
        ent_date = now if entitlement_policy is EntitlementActionPolicy.IMMEDIATE else \
            policy_date(BillingActionPolicy.END_OF_TERM, view, now)
    ent_date = max(ent_date, view.entitlement_start or sub.start_date)
    bill_date = max(bill_date, sub.start_date)
    return ent_date, bill_date


def dry_run_cancel_date(acc: AccountEntitlements, sub: Subscription, now: datetime, effective: Requested,
                        billing_policy: BillingActionPolicy | None) -> datetime:
    """When a dry run's STOP_BILLING cancels (Kill Bill's `SubscriptionApiBase.populateDryRunEvents`): a date
    given is read at the account's reference time (moved up to the start when on the start day but before it);
    else the billing policy's date for the subscription; else now. Nothing is checked: a subscription already
    cancelled, or due to be, is cancelled again in the what-if (`mergeDryRunEvents` drops what follows)."""
    if isinstance(effective, datetime):
        return effective
    if effective is not None:
        time = acc.account.time
        when = time.instant(effective)
        if effective == time.local_date(sub.start_date) and when < sub.start_date:
            return sub.start_date
        return when
    if billing_policy is not None:
        return policy_date(billing_policy, build_view(acc, sub, now), now)
    return now


def catalog_cancel_policy(view: SubscriptionView) -> BillingActionPolicy:
    cur = view.current
    if cur is None or cur.plan is None or cur.phase is None or cur.version is None:
        return BillingActionPolicy.END_OF_TERM
    return cancel_policy(cur.version, PlanPhaseSpecifier(
        plan_name=cur.plan.name, product_name=cur.plan.product, billing_period=cur.plan.recurring_billing_period,
        price_list_name=cur.price_list, phase_type=cur.phase.type))


def policy_date(policy: BillingActionPolicy, view: SubscriptionView, now: datetime) -> datetime:
    """The date a billing policy gives for this subscription now (billing-semantics.md 2.3)."""
    current = view.current
    phase_start = None
    billing_period = BillingPeriod.NO_BILLING_PERIOD
    if current is not None and current.phase is not None:
        phase_start = current.effective_date
        if current.phase.recurring is not None:
            billing_period = current.phase.recurring.billing_period
    if policy is BillingActionPolicy.END_OF_TERM and current is not None and current.plan is not None:
        mode = current.plan.recurring_billing_mode or (
            current.version.recurring_billing_mode if current.version else None)
        if mode is BillingMode.IN_ARREAR:
            return max(now, phase_start or now)  # nothing is invoiced in advance: EOT is now
    return effective_date_for_policy(policy, now=now, start_date=view.subscription.start_date,
                                     charged_through_date=view.subscription.charged_through_date,
                                     billing_period=billing_period, current_phase_start=phase_start)


def addons_left_behind(acc: AccountEntitlements, base: Subscription, new_plan: Plan, when: datetime,
                       now: datetime) -> list[Subscription]:
    """Add-ons the new base plan no longer offers, or now includes: cancelled at the change date."""
    version = acc.catalog.version_for_date(when)
    out = []
    for addon in acc.addons_of(base.bundle_id):
        view = build_view(acc, addon, now)
        if view.billing_end is not None or view.current is None or view.current.plan is None:
            continue
        product = view.current.plan.product
        if is_addon_included(version, new_plan.product, product) or not is_addon_available(
                version, new_plan.product, product):
            out.append(addon)
    return out


def live_addons(acc: AccountEntitlements, base: Subscription, now: datetime) -> list[Subscription]:
    """The add-ons of a base's bundle that are neither cancelled nor due to be (cancelled with the base)."""
    return [a for a in acc.addons_of(base.bundle_id)
            if (v := build_view(acc, a, now)).billing_end is None and not v.ended]
