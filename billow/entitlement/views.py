"""What a subscription looks like to a reader (pure): its state, dates, bill cycle day, and its events as
Kill Bill lists them (entitlement and billing side by side, `SubscriptionEventOrdering`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from billow.account.model import Account
from billow.catalog.engine import PlanPhaseSpecifier, billing_alignment, fixed_price, recurring_price
from billow.catalog.model import (
    BillingAlignment,
    BillingPeriod,
    Catalog,
    CatalogVersion,
    Plan,
    PlanPhase,
    ProductCategory,
)
from billow.entitlement.bcd import subscription_bcd
from billow.entitlement.model import (
    BILLING_SERVICE,
    ENT_BLOCKED,
    ENT_CANCELLED,
    ENT_CLEAR,
    ENT_STARTED,
    ENTITLEMENT_SERVICE,
    BlockingState,
    BlockingStateType,
    Bundle,
    Subscription,
    SubscriptionEventType,
    SubscriptionState,
)
from billow.entitlement.timeline import Transition, blocked_intervals, current_transition, is_blocked_at, transitions

ENDED = (SubscriptionState.CANCELLED, SubscriptionState.EXPIRED)


@dataclass
class AccountEntitlements:
    """An account's bundles, subscriptions and blocking states, with the tenant's catalog: what every
    entitlement decision reads, loaded once per unit of work (under the account lock for writes)."""

    account: Account
    catalog: Catalog
    subscriptions: list[Subscription]
    blocking: list[BlockingState]
    bundles: dict[str, Bundle] = field(default_factory=dict)

    def sub(self, subscription_id: str) -> Subscription | None:
        return next((s for s in self.subscriptions if s.id == subscription_id), None)

    def base_of(self, bundle_id: str) -> Subscription | None:
        return next((s for s in self.subscriptions if s.bundle_id == bundle_id
                     and s.category is ProductCategory.BASE), None)

    def addons_of(self, bundle_id: str) -> list[Subscription]:
        return [s for s in self.subscriptions if s.bundle_id == bundle_id and s.category is ProductCategory.ADD_ON]


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription with everything a reader needs: transitions, blocking, state, dates."""

    subscription: Subscription
    bundle: Bundle
    account: Account
    transitions: list[Transition]
    blocking_states: list[BlockingState]
    state: SubscriptionState
    entitlement_start: datetime | None
    entitlement_end: datetime | None
    billing_end: datetime | None
    current: Transition | None
    bill_cycle_day_local: int | None

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def billing_ended(self, now: datetime) -> bool:
        """Cancelled or expired as billing sees it, whatever the entitlement: Kill Bill's `SubscriptionBase`
        state (CANCELLED/EXPIRED once its CANCEL or EXPIRED event has passed)."""
        return self.billing_end is not None and self.billing_end <= now


def states_for(acc: AccountEntitlements, sub: Subscription) -> list[BlockingState]:
    """The blocking states that apply to `sub`: its own, its bundle's and its account's."""
    return [s for s in acc.blocking
            if (s.type is BlockingStateType.SUBSCRIPTION and s.blockable_id == sub.id)
            or (s.type is BlockingStateType.SUBSCRIPTION_BUNDLE and s.blockable_id == sub.bundle_id)
            or (s.type is BlockingStateType.ACCOUNT and s.blockable_id == acc.account.id)]


def build_view(acc: AccountEntitlements, sub: Subscription, now: datetime) -> SubscriptionView:
    trans = transitions(sub, acc.catalog)
    bundle = acc.bundles[sub.bundle_id]
    states = states_for(acc, sub)
    ent_start = next((s.effective_date for s in states if s.service == ENTITLEMENT_SERVICE
                      and s.state_name == ENT_STARTED and s.blockable_id == sub.id), sub.start_date)
    ent_end = next((s.effective_date for s in states if s.service == ENTITLEMENT_SERVICE
                    and s.state_name == ENT_CANCELLED and s.blockable_id == sub.id), None)
    billing_end = next((t.effective_date for t in trans if t.ends), None)
    expired = next((t.effective_date for t in trans if t.type is SubscriptionEventType.EXPIRED), None)
    if ent_start > now:
        state = SubscriptionState.PENDING
    elif expired is not None and expired <= now:
        state = SubscriptionState.EXPIRED
    elif (ent_end is not None and ent_end <= now) or (billing_end is not None and billing_end <= now
                                                     and ent_end is None):
        state = SubscriptionState.CANCELLED
    elif is_blocked_at(blocked_intervals(states, "block_entitlement"), now):
        state = SubscriptionState.BLOCKED
    else:
        state = SubscriptionState.ACTIVE
    current = current_transition(trans, now) or (trans[0] if trans else None)
    bcd = bcd_of(acc, sub, trans, now)
    return SubscriptionView(sub, bundle, acc.account, trans, states, state, ent_start, ent_end, billing_end,
                            current, bcd)


def bcd_of(acc: AccountEntitlements, sub: Subscription, trans: list[Transition], now: datetime) -> int | None:
    """The BCD shown on the subscription: a BCD change in force, else the alignment's BCD."""
    bcd_change = None
    for t in trans:
        if t.type is SubscriptionEventType.BCD_CHANGE and t.effective_date <= now:
            bcd_change = t.bill_cycle_day_local
    if bcd_change is not None:
        return bcd_change
    cur = current_transition(trans, now) or (trans[0] if trans else None)
    if cur is None or cur.plan is None or cur.phase is None or cur.version is None:
        return None
    alignment = billing_alignment(cur.version, PlanPhaseSpecifier(plan_name=cur.plan.name, phase_type=cur.phase.type))
    if alignment is BillingAlignment.ACCOUNT and acc.account.bill_cycle_day_local:
        return acc.account.bill_cycle_day_local
    if alignment is BillingAlignment.BUNDLE:
        base = acc.base_of(sub.bundle_id) or sub
        return subscription_bcd(base, acc.catalog, acc.account.time)
    return subscription_bcd(sub, acc.catalog, acc.account.time)


def shown_transition(v: SubscriptionView) -> Transition | None:
    """The transition whose plan and phase a subscription shows: the current one, or, once ended, the last
    one before its end."""
    cur = v.current
    if cur is not None and cur.ends:
        cur = next((t for t in reversed(v.transitions) if not t.ends and t.effective_date <= cur.effective_date),
                   cur)
    return cur


@dataclass(frozen=True, slots=True)
class PlanInForce:
    """The plan, phase, catalog version and price list a subscription has at some instant."""

    plan: Plan
    phase: PlanPhase
    version: CatalogVersion
    price_list: str


def plan_in_force(v: SubscriptionView, when: datetime) -> PlanInForce | None:
    live = [t for t in v.transitions if not t.ends]
    t = current_transition(live, when) or (live[0] if live else None)
    if t is None or t.plan is None or t.phase is None or t.version is None:
        return None
    return PlanInForce(t.plan, t.phase, t.version, t.price_list or "DEFAULT")


# ---------------------------------------------------------------------------------------------- events

# order of events at the same instant, as Kill Bill's SubscriptionEventOrdering lists them
EVENT_ORDER = {"START_ENTITLEMENT": 0, "START_BILLING": 1, "PAUSE_ENTITLEMENT": 2, "PAUSE_BILLING": 3,
               "RESUME_ENTITLEMENT": 4, "RESUME_BILLING": 5, "CHANGE": 6, "PHASE": 7, "SERVICE_STATE_CHANGE": 8,
               "STOP_ENTITLEMENT": 9, "STOP_BILLING": 10}
BOTH_SERVICES = "entitlement+billing-service"


@dataclass(frozen=True, slots=True)
class EventView:
    """One event of a subscription as Kill Bill's `SubscriptionEvent` shows it."""

    event_id: str
    effective_date: datetime
    event_type: str
    service_name: str
    service_state_name: str
    transition: Transition | None  # the plan, phase and catalog version in force
    is_blocked_billing: bool = False
    is_blocked_entitlement: bool = False

    @property
    def billing_period(self) -> BillingPeriod:
        t = self.transition
        if t is not None and t.phase is not None and t.phase.recurring is not None:
            return t.phase.recurring.billing_period
        if t is not None and t.plan is not None:
            return t.plan.recurring_billing_period
        return BillingPeriod.NO_BILLING_PERIOD


def subscription_events(v: SubscriptionView) -> list[EventView]:
    """The subscription's events as Kill Bill lists them, in its order."""
    out: list[EventView] = []
    first = v.transitions[0] if v.transitions else None

    def in_force(when: datetime) -> Transition | None:
        current = first
        for t in v.transitions:
            if t.effective_date <= when and not t.ends:
                current = t
        return current

    sub_id = v.subscription.id
    for s in v.blocking_states:
        t = in_force(s.effective_date)
        if s.service == ENTITLEMENT_SERVICE and s.blockable_id == sub_id and s.state_name == ENT_STARTED:
            out.append(EventView(s.id, s.effective_date, "START_ENTITLEMENT", ENTITLEMENT_SERVICE, ENT_STARTED, t))
        elif s.service == ENTITLEMENT_SERVICE and s.state_name == ENT_CANCELLED:
            if s.blockable_id == sub_id:
                out.append(EventView(s.id, s.effective_date, "STOP_ENTITLEMENT", ENTITLEMENT_SERVICE, ENT_CANCELLED,
                                     t, False, True))
        elif s.service == ENTITLEMENT_SERVICE and s.state_name == ENT_BLOCKED:
            out.append(EventView(s.id, s.effective_date, "PAUSE_ENTITLEMENT", ENTITLEMENT_SERVICE, ENT_BLOCKED, t,
                                 s.block_billing, True))
            out.append(EventView(s.id + "-billing", s.effective_date, "PAUSE_BILLING", BILLING_SERVICE, ENT_BLOCKED,
                                 t, s.block_billing, True))
        elif s.service == ENTITLEMENT_SERVICE and s.state_name == ENT_CLEAR:
            out.append(EventView(s.id, s.effective_date, "RESUME_ENTITLEMENT", ENTITLEMENT_SERVICE, ENT_CLEAR, t))
            out.append(EventView(s.id + "-billing", s.effective_date, "RESUME_BILLING", BILLING_SERVICE, ENT_CLEAR,
                                 t))
        else:
            out.append(EventView(s.id, s.effective_date, "SERVICE_STATE_CHANGE", s.service, s.state_name, t,
                                 s.block_billing, s.block_entitlement))
    for t in v.transitions:
        if t.type in (SubscriptionEventType.CREATE, SubscriptionEventType.TRANSFER):
            out.append(EventView(t.event_id, t.effective_date, "START_BILLING", BILLING_SERVICE, "START_BILLING", t))
        elif t.type is SubscriptionEventType.PHASE:
            out.append(EventView(t.event_id, t.effective_date, "PHASE", BOTH_SERVICES, "PHASE", t))
        elif t.type is SubscriptionEventType.CHANGE and not t.synthetic:
            out.append(EventView(t.event_id, t.effective_date, "CHANGE", BOTH_SERVICES, "CHANGE", t))
        elif t.ends:
            out.append(EventView(t.event_id, t.effective_date, "STOP_BILLING", BILLING_SERVICE, "STOP_BILLING",
                                 in_force(t.effective_date)))
    out.sort(key=lambda e: (e.effective_date, EVENT_ORDER[e.event_type]))
    return out


@dataclass(frozen=True, slots=True)
class PhasePrice:
    plan_name: str
    phase_name: str
    phase_type: str
    fixed_price: Decimal | None
    recurring_price: Decimal | None


def phase_prices(v: SubscriptionView) -> list[PhasePrice]:
    """The price of each phase the subscription goes through, overrides applied, in the account's currency."""
    currency = v.account.currency or ""
    seen: dict[str, PhasePrice] = {}
    for t in v.transitions:
        if t.plan is None or t.phase is None or t.phase.name in seen:
            continue
        override = next((o for o in t.overrides if o.phase_name == t.phase.name), None)
        fixed = override.fixed_price if override and override.fixed_price is not None else _price(
            fixed_price, t.phase, currency)
        rec = override.recurring_price if override and override.recurring_price is not None else _price(
            recurring_price, t.phase, currency)
        seen[t.phase.name] = PhasePrice(t.plan.name, t.phase.name, t.phase.type.value, fixed, rec)
    return list(seen.values())


def _price(fn: object, phase: object, currency: str) -> Decimal | None:
    try:
        return fn(phase, currency)  # type: ignore[operator,no-any-return]
    except LookupError:
        return None
