"""Moving a bundle to another account, decided without writing anything (pure).

Kill Bill's `DefaultSubscriptionBaseTransferApi.transferBundle` (0.24) and `DefaultEntitlementApi
.transferEntitlementsOverrideBillingPolicy`: on the source account each subscription still on is cancelled
(at the transfer date, or at its charged-through date under END_OF_TERM), and on the destination a new bundle
gets a copy of each: its first event is a TRANSFER carrying the plan, phase and price list in force at the
transfer date, and the changes still to come follow it (plan changes, phases, bill cycle day and quantity
changes). Billing starts again on the destination from the transfer date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from billow.catalog.model import ProductCategory
from billow.entitlement import store
from billow.entitlement.errors import sub_error
from billow.entitlement.model import (
    ENT_CANCELLED,
    ENTITLEMENT_SERVICE,
    BcdTransfer,
    Bundle,
    Subscription,
    SubscriptionEvent,
    SubscriptionEventType,
)
from billow.entitlement.timeline import Transition, active_events, lay_out_phases, quantities
from billow.entitlement.views import AccountEntitlements, build_view

_PLAN_EVENTS = (SubscriptionEventType.CREATE, SubscriptionEventType.TRANSFER, SubscriptionEventType.CHANGE)


@dataclass(frozen=True, slots=True)
class SubscriptionMove:
    """One subscription of the bundle: when it stops billing on the source (None: it had already ended and
    stays as it is), and the events of its copy on the destination (rows without subscription and account)."""

    source: Subscription
    cancel_at: datetime | None
    events: list[dict[str, Any]]

    @property
    def moves(self) -> bool:
        return bool(self.events)


def transfer_moves(acc: AccountEntitlements, bundle: Bundle, transfer_at: datetime, *, immediate: bool,
                   bcd_transfer: BcdTransfer, now: datetime) -> list[SubscriptionMove]:
    """What a transfer does to each subscription of the bundle, the base first.

    Refused (1083, as Kill Bill's `SUB_GET_INVALID_BUNDLE_KEY`) when no base or standalone subscription of the
    bundle is still entitled: a bundle already transferred away or cancelled has nothing to move."""
    subs = sorted((s for s in acc.subscriptions if s.bundle_id == bundle.id),
                  key=lambda s: (s.category is ProductCategory.ADD_ON, s.record_id))
    if not any(s.category is not ProductCategory.ADD_ON and _still_entitled(acc, s, now) for s in subs):
        raise sub_error(1083, f"Could not find a bundle matching key {bundle.external_key}")
    out: list[SubscriptionMove] = []
    base_cancel: datetime | None = None
    for sub in subs:
        view = build_view(acc, sub, now)
        if view.billing_ended(now):  # Kill Bill skips a subscription whose (billing) state is CANCELLED
            out.append(SubscriptionMove(sub, None, []))
            continue
        if sub.category is not ProductCategory.ADD_ON or immediate or base_cancel is None:
            cancel_at = source_cancel_date(sub, view.transitions, transfer_at, immediate=immediate, now=now)
            if sub.category is not ProductCategory.ADD_ON:
                base_cancel = cancel_at
        else:
            # Kill Bill leaves an add-on's END_OF_TERM cancellation off disk and ends it with its base when it is
            # read; here it is written, at the base's date
            cancel_at = max(base_cancel, sub.align_start_date or sub.start_date)
        out.append(SubscriptionMove(sub, cancel_at, transferred_events(sub, view.transitions, transfer_at,
                                                                       bcd_transfer)))
    return out


def _still_entitled(acc: AccountEntitlements, sub: Subscription, now: datetime) -> bool:
    """No ENT_CANCELLED of the entitlement service in force (Kill Bill's `getFirstActiveSubscriptionIdForKey`)."""
    latest = None
    for s in sorted(acc.blocking, key=lambda s: (s.effective_date, s.record_id)):
        if s.blockable_id == sub.id and s.service == ENTITLEMENT_SERVICE and s.effective_date <= now:
            latest = s
    return latest is None or latest.state_name != ENT_CANCELLED


def source_cancel_date(sub: Subscription, trans: list[Transition], transfer_at: datetime, *, immediate: bool,
                       now: datetime) -> datetime:
    """When the source subscription stops billing: the transfer date, or under END_OF_TERM its charged-through
    date when that is later; never before its last transition already passed (or its start, if pending)."""
    ctd = sub.charged_through_date
    candidate = ctd if not immediate and ctd is not None and transfer_at < ctd else transfer_at
    passed = [t.effective_date for t in trans if not t.synthetic and t.effective_date <= now]
    earliest = passed[-1] if passed else sub.start_date
    return max(candidate, earliest)


def transferred_events(sub: Subscription, trans: list[Transition], transfer_at: datetime,
                       bcd_transfer: BcdTransfer) -> list[dict[str, Any]]:
    """The events of the subscription's copy (Kill Bill's `toEvents`): a TRANSFER at the transfer date with what
    is in force then (the bill cycle day and quantity set before it too, unless `NONE` drops the bill cycle
    day), then the stored changes still to come. A pending subscription keeps its own start."""
    stored = {e.id: e for e in active_events(sub)}
    live = [t for t in trans if not t.synthetic and not t.ends]
    before = [t for t in live if t.effective_date < transfer_at]
    after = [t for t in live if t.effective_date >= transfer_at]
    rows: list[dict[str, Any]] = []
    in_force = next((t for t in reversed(before) if t.type in (*_PLAN_EVENTS, SubscriptionEventType.PHASE)), None)
    if in_force is not None:
        rows.append(_transfer_row(sub, stored, in_force, transfer_at))
        bcd = next((t for t in reversed(before) if t.type is SubscriptionEventType.BCD_CHANGE), None)
        if bcd is not None and bcd_transfer is not BcdTransfer.NONE:
            day = transfer_at.astimezone(UTC).day if bcd_transfer is BcdTransfer.ALIGN_WITH_EFF_DT \
                else bcd.bill_cycle_day_local
            rows.append(store.event_values("", SubscriptionEventType.BCD_CHANGE, transfer_at,
                                           bill_cycle_day_local=day))
    for t in after:
        ev = stored.get(t.event_id)
        if not rows:
            if t.type in (*_PLAN_EVENTS, SubscriptionEventType.PHASE):
                rows.append(_transfer_row(sub, stored, t, t.effective_date))
            continue
        if t.type is SubscriptionEventType.CHANGE and ev is not None:
            rows.append(store.event_values(
                "", SubscriptionEventType.CHANGE, ev.effective_date, plan_name=ev.plan_name,
                price_list_name=ev.price_list_name, phase_align_date=ev.phase_align_date,
                initial_phase_type=ev.initial_phase_type, price_overrides=ev.price_overrides))
        elif t.type is SubscriptionEventType.BCD_CHANGE and ev is not None:
            rows.append(store.event_values("", SubscriptionEventType.BCD_CHANGE, ev.effective_date,
                                           bill_cycle_day_local=ev.bill_cycle_day_local))
        elif t.type is SubscriptionEventType.QUANTITY_CHANGE and ev is not None:
            rows.append(store.event_values("", SubscriptionEventType.QUANTITY_CHANGE, ev.effective_date,
                                           quantity=ev.quantity))
        # PHASE transitions follow from the plans' layouts; CREATE/TRANSFER cannot come after the first
    return rows


def _transfer_row(sub: Subscription, stored: dict[str, SubscriptionEvent], in_force: Transition,
                  at: datetime) -> dict[str, Any]:
    """A TRANSFER at `at` with the plan, price list and phase of `in_force`. Its phases are laid out from the
    start of that phase, so that the copy goes through the same phases on the same dates, and a subscription
    aligned bill cycle day is counted from the phase it is transferred in (as Kill Bill does)."""
    assert in_force.plan is not None and in_force.phase is not None
    segment = _segment_event(stored, in_force)
    layout = lay_out_phases(in_force.plan, segment.phase_align_date or segment.effective_date,
                            segment.initial_phase_type)
    phase_start = next((start for ph, start, _end in reversed(layout)
                        if ph.name == in_force.phase.name and start <= at), at)
    set_before = [q for when, q in quantities(active_events(sub)) if when < at or when == in_force.effective_date]
    return store.event_values(
        "", SubscriptionEventType.TRANSFER, at, plan_name=in_force.plan.name, price_list_name=in_force.price_list,
        phase_align_date=phase_start, initial_phase_type=in_force.phase.type,
        quantity=set_before[-1] if set_before else None, price_overrides=segment.price_overrides)


def _segment_event(stored: dict[str, SubscriptionEvent], t: Transition) -> SubscriptionEvent:
    """The stored CREATE, TRANSFER or CHANGE a transition's plan comes from."""
    own = stored.get(t.event_id)
    if own is not None and own.event_type in _PLAN_EVENTS:
        return own
    return next(e for e in reversed(list(stored.values()))
                if e.event_type in _PLAN_EVENTS and e.effective_date == t.last_change_date)
