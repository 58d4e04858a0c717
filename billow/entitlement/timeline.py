"""A subscription's transitions, derived from its stored events and the catalog (pure).

Stored events say what callers asked for (CREATE, CHANGE, CANCEL, BCD_CHANGE, QUANTITY_CHANGE)
and where each plan's phases are laid out from (Kill Bill's `PlanAligner`,
billing-semantics.md 2.1-2.2). From them and the catalog this module derives
the full stream, PHASE and EXPIRED transitions included, as Kill Bill's
`DefaultSubscriptionBase.getAllTransitions` shows them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from billow.catalog.engine import first_phase
from billow.catalog.model import Catalog, CatalogVersion, PhaseType, Plan, PlanPhase, TimeUnit
from billow.catalog.versions import plan_for_subscription, price_change_dates
from billow.entitlement.model import (
    BlockingState,
    PhasePriceOverride,
    Subscription,
    SubscriptionEvent,
    SubscriptionEventType,
)

_PHASE_NS = uuid.UUID("7d3c7a0e-4b1f-4f0e-9a53-0b5d2b1c9e11")


@dataclass(frozen=True, slots=True)
class Transition:
    """One transition of a subscription; `plan`/`phase` are what is in force after it."""

    event_id: str
    subscription_id: str
    effective_date: datetime
    type: SubscriptionEventType
    plan: Plan | None
    phase: PlanPhase | None
    price_list: str | None
    version: CatalogVersion | None
    last_change_date: datetime | None  # date of the CREATE/CHANGE this plan comes from
    overrides: tuple[PhasePriceOverride, ...] = ()
    bill_cycle_day_local: int | None = None
    quantity: int = 1
    total_ordering: int = 0
    # a CHANGE Kill Bill makes itself when a newer catalog version reprices existing subscriptions
    synthetic: bool = False

    @property
    def ends(self) -> bool:
        return self.type in (SubscriptionEventType.CANCEL, SubscriptionEventType.EXPIRED)


def lay_out_phases(plan: Plan, align_date: datetime, initial_phase_type: PhaseType | None
                   ) -> list[tuple[PlanPhase, datetime, datetime | None]]:
    """The plan's phases end to end from `align_date`, starting at `initial_phase_type` when given."""
    phases = plan.all_phases
    start_index = 0
    if initial_phase_type is not None:
        for i, ph in enumerate(phases):
            if ph.type is initial_phase_type:
                start_index = i
                break
    out: list[tuple[PlanPhase, datetime, datetime | None]] = []
    start: datetime | None = align_date
    for ph in phases[start_index:]:
        if start is None:
            break
        end = None if ph.duration.unit is TimeUnit.UNLIMITED else ph.duration.add_to(start)
        out.append((ph, start, end))
        start = end
    return out


def phase_at(layout: list[tuple[PlanPhase, datetime, datetime | None]], when: datetime
             ) -> tuple[int, PlanPhase]:
    """The phase in force at `when` (the first one if `when` precedes the layout)."""
    index = 0
    for i, (_ph, start, _end) in enumerate(layout):
        if start <= when:
            index = i
    return index, layout[index][0]


def _phase_event_id(subscription_id: str, phase_name: str, when: datetime) -> str:
    return str(uuid.uuid5(_PHASE_NS, f"{subscription_id}|{phase_name}|{when.isoformat()}"))


def initial_phase_type_on_change(plan: Plan, requested: PhaseType | None, original: PhaseType | None
                                 ) -> PhaseType | None:
    """Kill Bill's `PlanAligner.getTimedPhaseOnChange` for START_OF_SUBSCRIPTION / START_OF_BUNDLE:
    the requested phase type, else the type the subscription started in when the new plan has it."""
    if requested is not None:
        return requested
    if original is not None and any(ph.type is original for ph in plan.all_phases):
        return original
    return None


def active_events(sub: Subscription) -> list[SubscriptionEvent]:
    return sorted((e for e in sub.events if e.is_active), key=lambda e: (e.effective_date, e.total_ordering))


def quantities(events: list[SubscriptionEvent]) -> list[tuple[datetime, int]]:
    """When the subscription's quantity was set, in order: a creation's (or transfer's) quantity and every
    QUANTITY_CHANGE. Kill Bill stores each as a QUANTITY_UPDATE event; a plan change keeps the quantity."""
    return [(e.effective_date, e.quantity) for e in events if e.quantity is not None and e.event_type in (
        SubscriptionEventType.CREATE, SubscriptionEventType.TRANSFER, SubscriptionEventType.QUANTITY_CHANGE)]


def quantity_at(settings: list[tuple[datetime, int]], when: datetime) -> int:
    """The quantity in force at `when`: the last one set at or before it; 1 when none was, or when one is not
    positive (Kill Bill's `NextBillingCycleDayLocal.getNextQuantity` and `DefaultBillingEvent`'s safety)."""
    quantity = None
    for at, value in settings:
        if at > when:
            break
        quantity = value
    return quantity if quantity is not None and quantity > 0 else 1


def transitions(sub: Subscription, catalog: Catalog) -> list[Transition]:
    """Every transition of the subscription, in order, with plan and phase resolved."""
    events = active_events(sub)
    settings = quantities(events)
    out: list[Transition] = []
    # the plan segment in force: started by CREATE/TRANSFER/CHANGE
    plan: Plan | None = None
    version: CatalogVersion | None = None
    price_list: str | None = None
    overrides: tuple[PhasePriceOverride, ...] = ()
    layout: list[tuple[PlanPhase, datetime, datetime | None]] = []
    layout_index = 0
    segment_start: datetime | None = None
    ended = False

    def emit_phases_until(limit: datetime | None, *, at_limit: bool = True) -> bool:
        """PHASE (and EXPIRED) transitions of the current segment up to `limit` (before it only, when not
        `at_limit`); True if expired."""
        nonlocal layout_index
        while plan is not None and layout_index + 1 <= len(layout):
            ph, _start, end = layout[layout_index]
            if end is None or (limit is not None and (end > limit or (end == limit and not at_limit))):
                return False
            if layout_index + 1 < len(layout):
                nxt, nstart, _ = layout[layout_index + 1]
                nversion, nplan = _resolve(catalog, plan.name, nstart, segment_start)
                out.append(Transition(
                    event_id=_phase_event_id(sub.id, nxt.name, nstart), subscription_id=sub.id,
                    effective_date=nstart, type=SubscriptionEventType.PHASE, plan=nplan,
                    phase=nplan.find_phase(nxt.name), price_list=price_list, version=nversion,
                    last_change_date=segment_start, overrides=overrides, quantity=quantity_at(settings, nstart)))
                layout_index += 1
            else:
                # the final phase has a duration: the subscription expires at its end (FIXEDTERM)
                out.append(Transition(
                    event_id=_phase_event_id(sub.id, "EXPIRED", end), subscription_id=sub.id, effective_date=end,
                    type=SubscriptionEventType.EXPIRED, plan=None, phase=None, price_list=price_list,
                    version=version, last_change_date=segment_start, quantity=quantity_at(settings, end)))
                return True
        return False

    for ev in events:
        if ended:
            break
        quantity = quantity_at(settings, ev.effective_date)
        if ev.event_type in (SubscriptionEventType.CREATE, SubscriptionEventType.TRANSFER,
                             SubscriptionEventType.CHANGE):
            # a plan change (or a cancellation, below) replaces what was due at its very instant: Kill Bill
            # deactivates the events at or after it (`unactivateFutureEventsFromTransaction`), a PHASE included
            if plan is not None and emit_phases_until(ev.effective_date, at_limit=False):
                ended = True
                break
            version, plan = _resolve(catalog, ev.plan_name or "", ev.effective_date, ev.effective_date)
            price_list = ev.price_list_name or plan.price_list
            overrides = ev.price_overrides
            segment_start = ev.effective_date
            layout = lay_out_phases(plan, ev.phase_align_date or ev.effective_date, ev.initial_phase_type)
            layout_index, phase = phase_at(layout, ev.effective_date)
            out.append(Transition(
                event_id=ev.id, subscription_id=sub.id, effective_date=ev.effective_date, type=ev.event_type,
                plan=plan, phase=phase, price_list=price_list, version=version, last_change_date=segment_start,
                overrides=overrides, quantity=quantity, total_ordering=ev.total_ordering))
        elif ev.event_type is SubscriptionEventType.CANCEL:
            if emit_phases_until(ev.effective_date, at_limit=False):
                ended = True
                break
            out.append(Transition(
                event_id=ev.id, subscription_id=sub.id, effective_date=ev.effective_date,
                type=SubscriptionEventType.CANCEL, plan=None, phase=None, price_list=price_list, version=version,
                last_change_date=segment_start, quantity=quantity, total_ordering=ev.total_ordering))
            ended = True
        elif ev.event_type in (SubscriptionEventType.BCD_CHANGE, SubscriptionEventType.QUANTITY_CHANGE):
            if emit_phases_until(ev.effective_date):
                ended = True
                break
            current = layout[layout_index][0] if layout else None
            out.append(Transition(
                event_id=ev.id, subscription_id=sub.id, effective_date=ev.effective_date,
                type=ev.event_type, plan=plan, phase=current, price_list=price_list,
                version=version, last_change_date=segment_start, overrides=overrides,
                bill_cycle_day_local=ev.bill_cycle_day_local, quantity=quantity, total_ordering=ev.total_ordering))
    if not ended and plan is not None:
        emit_phases_until(None)
    return _with_price_changes(out, catalog)


def _with_price_changes(trans: list[Transition], catalog: Catalog) -> list[Transition]:
    """Kill Bill's synthetic CHANGE events (`DefaultSubscriptionBase.getSubscriptionBillingEvents`):
    from a newer version's `effectiveDateForExistingSubscriptions`, existing subscriptions bill at its
    prices, same plan and phase. Candidates on or after the next real transition are dropped; that
    transition resolves its own version (billing-semantics.md 1.7)."""
    if len(catalog.versions) < 2:
        return trans
    out: list[Transition] = []
    for i, t in enumerate(trans):
        out.append(t)
        if t.ends or t.plan is None or t.phase is None or t.version is None:
            continue
        limit = trans[i + 1].effective_date if i + 1 < len(trans) else None
        for when, entry in sorted(price_change_dates(catalog, t.version, t.plan.name), key=lambda c: c[0]):
            if when <= t.effective_date or (limit is not None and when >= limit):
                continue
            out.append(Transition(
                event_id=_phase_event_id(t.subscription_id, f"reprice-{entry.version.effective_date.isoformat()}",
                                         when),
                subscription_id=t.subscription_id, effective_date=when, type=SubscriptionEventType.CHANGE,
                plan=entry.plan, phase=entry.plan.find_phase(t.phase.name), price_list=t.price_list,
                version=entry.version, last_change_date=t.last_change_date, overrides=t.overrides,
                quantity=t.quantity, total_ordering=t.total_ordering, synthetic=True))
    return out


def _resolve(catalog: Catalog, plan_name: str, when: datetime, last_change: datetime | None
             ) -> tuple[CatalogVersion, Plan]:
    entry = plan_for_subscription(catalog, plan_name, when, last_change or when)
    return entry.version, entry.plan


def current_transition(trans: list[Transition], when: datetime) -> Transition | None:
    """The last transition at or before `when`."""
    current = None
    for t in trans:
        if t.effective_date <= when:
            current = t
        else:
            break
    return current


def original_phase_type(sub: Subscription, catalog: Catalog) -> PhaseType | None:
    """The phase type the subscription started in (for change alignment)."""
    for ev in active_events(sub):
        if ev.event_type in (SubscriptionEventType.CREATE, SubscriptionEventType.TRANSFER):
            if ev.initial_phase_type is not None:
                return ev.initial_phase_type
            return first_phase(_resolve(catalog, ev.plan_name or "", ev.effective_date, ev.effective_date)[1]).type
    return None


# -- blocking ------------------------------------------------------------------------------------

def blocked_intervals(states: list[BlockingState], flag: str) -> list[tuple[datetime, datetime | None]]:
    """Intervals during which any (level, service) stream has `flag` set (block_billing,
    block_entitlement or block_change). Each (blockable, service) pair is a stream whose latest
    state wins; the subscription is blocked when any stream blocks (Kill Bill's BlockingChecker)."""
    streams: dict[tuple[str, str], list[BlockingState]] = {}
    for s in sorted(states, key=lambda s: (s.effective_date, s.record_id)):
        if s.is_active:
            streams.setdefault((s.blockable_id, s.service), []).append(s)
    dates = sorted({s.effective_date for stream in streams.values() for s in stream})
    intervals: list[tuple[datetime, datetime | None]] = []
    current_start: datetime | None = None
    for d in dates:
        blocked = False
        for stream in streams.values():
            latest = None
            for s in stream:
                if s.effective_date <= d:
                    latest = s
                else:
                    break
            if latest is not None and getattr(latest, flag):
                blocked = True
                break
        if blocked and current_start is None:
            current_start = d
        elif not blocked and current_start is not None:
            intervals.append((current_start, d))
            current_start = None
    if current_start is not None:
        intervals.append((current_start, None))
    return intervals


def is_blocked_at(intervals: list[tuple[datetime, datetime | None]], when: datetime) -> bool:
    return any(start <= when and (end is None or when < end) for start, end in intervals)
