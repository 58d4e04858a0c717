"""The junction: an account's billing events, from subscriptions, blocking states and catalog (pure).

billing-semantics.md Part 3 and 2.4-2.5; Kill Bill's `DefaultInternalBillingApi`,
`BlockingCalculator` and `BillCycleDayCalculator`. This runs on every invoice
run: no I/O, one pass per subscription.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from billow.catalog.engine import PlanPhaseSpecifier, billing_alignment
from billow.catalog.engine import fixed_price as catalog_fixed_price
from billow.catalog.engine import recurring_price as catalog_recurring_price
from billow.catalog.model import BillingAlignment, BillingMode, BillingPeriod, Catalog, ProductCategory
from billow.core.account_time import AccountTime
from billow.entitlement.bcd import subscription_bcd
from billow.entitlement.model import BlockingState, BlockingStateType, Subscription, SubscriptionEventType
from billow.entitlement.timeline import Transition, blocked_intervals, transitions
from billow.junction.model import BillingEvent, BillingTransitionType


@dataclass(frozen=True, slots=True)
class AccountBillingContext:
    account_id: str
    currency: str
    time: AccountTime
    bill_cycle_day_local: int  # 0 = not set yet


@dataclass(frozen=True, slots=True)
class BillingEvents:
    events: list[BillingEvent]
    # set when the account's BCD was 0 and an ACCOUNT-aligned paying event fixed it (to persist)
    account_bcd_to_set: int | None = None


def billing_events(account: AccountBillingContext, subscriptions: Sequence[Subscription],
                   blocking_states: Sequence[BlockingState], catalog: Catalog) -> BillingEvents:
    """The account's billing events, sorted as Kill Bill sorts them."""
    by_bundle: dict[str, list[Subscription]] = {}
    for sub in subscriptions:
        by_bundle.setdefault(sub.bundle_id, []).append(sub)
    base_of_bundle = {bid: next((s for s in subs if s.category is ProductCategory.BASE), None)
                      for bid, subs in by_bundle.items()}
    sub_bcd_cache: dict[str, int] = {}

    def bcd_of(sub: Subscription) -> int:
        if sub.id not in sub_bcd_cache:
            sub_bcd_cache[sub.id] = subscription_bcd(sub, catalog, account.time)
        return sub_bcd_cache[sub.id]

    raw: list[tuple[BillingEvent, bool]] = []  # (event, aligned on ACCOUNT with a price or usage)
    for sub in subscriptions:
        trans = transitions(sub, catalog)
        if not trans:
            continue
        end_date = next((t.effective_date for t in trans if t.ends), None)
        states = [s for s in blocking_states
                  if ((s.type is BlockingStateType.SUBSCRIPTION and s.blockable_id == sub.id)
                      or (s.type is BlockingStateType.SUBSCRIPTION_BUNDLE and s.blockable_id == sub.bundle_id)
                      or s.type is BlockingStateType.ACCOUNT)
                  and (end_date is None or s.effective_date <= end_date)]
        events = _subscription_events(account, sub, trans, catalog, bcd_of, base_of_bundle.get(sub.bundle_id))
        events = _apply_blocking(events, blocked_intervals(states, "block_billing"))
        raw.extend(events)

    new_bcd: int | None = None
    if account.bill_cycle_day_local == 0:
        paying = sorted((e for e, account_aligned in raw if account_aligned
                         and (e.recurring_price is not None or e.usages)),
                        key=lambda e: (e.effective_date, e.total_ordering))
        if paying:
            new_bcd = paying[0].bill_cycle_day_local
    account_bcd = new_bcd if new_bcd is not None else account.bill_cycle_day_local
    out = []
    for e, account_aligned in raw:
        if account_aligned and account_bcd != 0 and e.bill_cycle_day_local != account_bcd:
            e = dataclasses.replace(e, bill_cycle_day_local=account_bcd)
        out.append(e)
    out.sort(key=BillingEvent.sort_key)
    return BillingEvents(out, new_bcd)


_TYPE = {
    SubscriptionEventType.CREATE: BillingTransitionType.CREATE,
    SubscriptionEventType.TRANSFER: BillingTransitionType.TRANSFER,
    SubscriptionEventType.CHANGE: BillingTransitionType.CHANGE,
    SubscriptionEventType.PHASE: BillingTransitionType.PHASE,
    SubscriptionEventType.CANCEL: BillingTransitionType.CANCEL,
    SubscriptionEventType.EXPIRED: BillingTransitionType.EXPIRED,
    SubscriptionEventType.BCD_CHANGE: BillingTransitionType.BCD_CHANGE,
    # a new billing event at the new quantity: recurring and fixed prices are multiplied by it, and unlike a BCD
    # change it keeps the phase's fixed price (Kill Bill's `DefaultBillingEvent.computeFixedPrice`)
    SubscriptionEventType.QUANTITY_CHANGE: BillingTransitionType.QUANTITY_CHANGE,
}


def _subscription_events(account: AccountBillingContext, sub: Subscription, trans: list[Transition],
                         catalog: Catalog, bcd_of: object, base: Subscription | None
                         ) -> list[tuple[BillingEvent, bool]]:
    assert callable(bcd_of)
    out: list[tuple[BillingEvent, bool]] = []
    previous: BillingEvent | None = None
    previous_account_aligned = False
    bcd_override: int | None = None
    for i, t in enumerate(trans):
        ttype = _TYPE[t.type]
        if t.ends:
            if previous is None:
                continue
            event = dataclasses.replace(
                previous, effective_date=t.effective_date, transition_type=ttype,
                billing_period=BillingPeriod.NO_BILLING_PERIOD, fixed_price=None, recurring_price=None, usages=(),
                total_ordering=t.total_ordering or i)
            out.append((event, previous_account_aligned))
            previous = event
            continue
        assert t.plan is not None and t.phase is not None and t.version is not None
        phase = t.phase
        override = next((o for o in t.overrides if o.phase_name == phase.name
                         or (o.phase_name is None and o.phase_type is phase.type)), None)
        fixed = override.fixed_price if override and override.fixed_price is not None \
            else catalog_fixed_price(phase, account.currency)
        recurring = override.recurring_price if override and override.recurring_price is not None \
            else catalog_recurring_price(phase, account.currency)
        if ttype is BillingTransitionType.BCD_CHANGE:
            fixed = None  # a BCD change never re-charges a fixed price
            bcd_override = t.bill_cycle_day_local
        alignment = billing_alignment(t.version, PlanPhaseSpecifier(plan_name=t.plan.name, phase_type=phase.type))
        account_aligned = False
        if bcd_override is not None:
            bcd = bcd_override
        elif alignment is BillingAlignment.ACCOUNT:
            account_aligned = True
            bcd = account.bill_cycle_day_local or bcd_of(sub)
        elif alignment is BillingAlignment.BUNDLE and base is not None:
            bcd = bcd_of(base)
        else:
            bcd = bcd_of(sub)
        rec = phase.recurring
        mode = t.plan.recurring_billing_mode or t.version.recurring_billing_mode or BillingMode.IN_ADVANCE
        event = BillingEvent(
            subscription_id=sub.id, bundle_id=sub.bundle_id, effective_date=t.effective_date, transition_type=ttype,
            product_name=t.plan.product, product_category=sub.category, plan_name=t.plan.name,
            phase_name=phase.name, phase_type=phase.type,
            billing_period=rec.billing_period if rec is not None else BillingPeriod.NO_BILLING_PERIOD,
            billing_mode=mode, fixed_price=fixed, recurring_price=recurring, currency=account.currency,
            bill_cycle_day_local=bcd, billing_alignment=alignment, catalog_effective_date=t.version.effective_date,
            usages=phase.usages, quantity=t.quantity, total_ordering=t.total_ordering or i,
            phase_duration=phase.duration,
        )
        out.append((event, account_aligned))
        previous, previous_account_aligned = event, account_aligned
    return out


def _apply_blocking(events: list[tuple[BillingEvent, bool]], intervals: list[tuple[datetime, datetime | None]]
                    ) -> list[tuple[BillingEvent, bool]]:
    """Kill Bill's `BlockingCalculator.createNewEvents` / `eventsToRemove`.

    For each billing-blocked interval [s, e): a START_BILLING_DISABLED at s copying the last event
    strictly before s (no prices, NO_BILLING_PERIOD); an END_BILLING_DISABLED at e copying the last
    event strictly before e (its prices too, so invoicing resumes); the real events in [s, e) are
    removed. Blocking states after the subscription's end were dropped by the caller.
    """
    if not intervals or not events:
        return events

    def preceding(when: datetime | None) -> tuple[BillingEvent, bool] | None:
        if when is None:
            return None
        prev = None
        for ea in events:
            if ea[0].effective_date >= when:
                break
            prev = ea
        return prev

    added: list[tuple[BillingEvent, bool]] = []
    removed: set[int] = set()
    for start, end in intervals:
        initial, final = preceding(start), preceding(end)
        if initial is not None:
            added.append((dataclasses.replace(
                initial[0], effective_date=start, transition_type=BillingTransitionType.START_BILLING_DISABLED,
                billing_period=BillingPeriod.NO_BILLING_PERIOD, fixed_price=None, recurring_price=None, usages=()),
                initial[1]))
        if end is not None and final is not None:
            added.append((dataclasses.replace(final[0], effective_date=end,
                                              transition_type=BillingTransitionType.END_BILLING_DISABLED),
                          final[1]))
        for idx, (e, _a) in enumerate(events):
            if e.effective_date >= start and (end is None or e.effective_date < end):
                removed.add(idx)
    kept = [ea for idx, ea in enumerate(events) if idx not in removed]
    return sorted([*kept, *added], key=lambda ea: ea[0].sort_key())
