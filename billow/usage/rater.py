"""The usage rater (pure): an account's billing events, its billed USAGE items and its raw usage → the USAGE
items of the next invoice (billing-semantics.md 4.6).

Kill Bill 0.24's in-arrear usage invoicing (`invoice/src/main/java/org/killbill/billing/invoice/`):
`generator/UsageInvoiceItemGenerator.java` (which subscriptions, existing usage items, the raw usage window),
`usage/SubscriptionUsageInArrear.java` (contiguous intervals per usage section and catalog version),
`usage/ContiguousIntervalUsageInArrear.java` (period boundaries, rolling raw usage up, what is left to bill),
`usage/ContiguousIntervalConsumableUsageInArrear.java` and `...CapacityUsageInArrear.java` (items),
`usage/UsageClockUtil.java` (local dates and midnights). Pricing itself is in `billow.usage.pricing`.

In short: each (subscription, usage section, catalog version) is an interval of billing events; its periods
are cut at the usage's bill cycle dates (local midnights) from the first event's instant to the target date's
end (or to the event closing the interval: a change to a plan without the section, a new catalog version, a
cancellation, a billing block). A period is priced from all the raw records dated in it (a record stamped at
the instant of a final cancellation belongs to the last period); what was billed for the period before is
subtracted, so late usage is billed as a difference, and a period already billed is written again only when
something is left to bill.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Context, Decimal, localcontext

from billow.catalog.model import BillingMode, TierBlockPolicy, Usage, UsageType
from billow.core.account_time import AccountTime
from billow.core.money import round_money
from billow.junction.model import BillingEvent, BillingTransitionType
from billow.usage import pricing
from billow.usage.cycles import UsageCycle
from billow.usage.errors import UsageRatingError
from billow.usage.model import (
    BilledUsage,
    RatedUsage,
    RatingResult,
    RatingSettings,
    RawUsage,
    TrackingRecord,
    UsageDetailMode,
)
from billow.usage.window import raw_usage_start

_IN_ARREAR = BillingMode.IN_ARREAR
_CANCEL = BillingTransitionType.CANCEL
_ZERO = Decimal(0)
_EXACT = Context(prec=80)  # sums of decimal(18,9) amounts and tier prices stay exact


@dataclass(frozen=True, slots=True)
class _Clock:
    """The account's local dates and midnights for usage (`UsageClockUtil`: FIXED offset or VARIABLE zone)."""

    time: AccountTime
    zone_rules: bool

    def local(self, instant: datetime) -> date:
        return self.time.zone_local_date(instant, zone_rules=self.zone_rules)

    def midnight(self, day: date) -> datetime:
        return self.time.start_of_day(day, zone_rules=self.zone_rules)

    def end_of_day(self, day: date) -> datetime:
        return self.time.end_of_day(day, zone_rules=self.zone_rules)


@dataclass(slots=True)
class _Interval:
    """`ContiguousIntervalUsageInArrear` before it is built: a usage section over consecutive billing events;
    `seen[i]`: the units of every IN_ARREAR section of event i (a unit in none of them is unknown)."""

    usage: Usage
    units: list[str]
    events: list[BillingEvent] = field(default_factory=list)
    seen: list[frozenset[str]] = field(default_factory=list)
    closed: bool = False


@dataclass(frozen=True, slots=True)
class _Period:
    """A rolled-up period (`RolledUpUsageWithMetadata`): instants, units in rolled-up order, catalog version."""

    start: datetime
    end: datetime
    units: tuple[tuple[str, Decimal], ...]
    catalog_effective_date: datetime | None


@dataclass(frozen=True, slots=True)
class _Run:
    """What every interval of one rating shares."""

    target: date
    currency: str
    clock: _Clock
    settings: RatingSettings
    raw_start: datetime
    target_end: datetime
    dry_run: bool


def rate_usage(events: Sequence[BillingEvent], billed: Sequence[BilledUsage], records: Sequence[RawUsage], *,
               target: date, time: AccountTime, currency: str, settings: RatingSettings, now: datetime,
               dry_run: bool = False, invoiced: frozenset[TrackingRecord] = frozenset()) -> RatingResult:
    """The USAGE items of an invoice run at `target` (`UsageInvoiceItemGenerator.generateItems`).

    `events`: the account's billing events in Kill Bill's order (`BillingEvent.sort_key`); `billed`: the USAGE
    items of its existing (non-void) invoices; `records`: its raw usage (any order; those outside the window
    Kill Bill reads are ignored here); `invoiced`: tracking records already on invoices. A dry run skips what a
    real run would refuse (negative differences, shrunk tiers). Raises `UsageRatingError`.
    """
    if not events:
        return RatingResult()
    known: dict[str, Usage] = {}
    for ev in events:
        for u in ev.usages:
            known[u.name] = u
    existing = [b for b in billed if b.usage_name in known and known[b.usage_name].billing_mode is _IN_ARREAR]
    raw_start = raw_usage_start(min(ev.effective_date for ev in events), target, existing, known,
                                previous_periods=settings.read_max_raw_usage_previous_period,
                                zero_amount_disabled=settings.zero_amount_disabled,
                                utc_today=now.astimezone(UTC).date())
    clock = _Clock(time, settings.zone_rules)
    run = _Run(target, currency, clock, settings, raw_start, clock.end_of_day(target), dry_run)

    per_sub: dict[str, list[BillingEvent]] = {}
    for ev in events:
        if time.local_date(ev.effective_date) <= target:
            per_sub.setdefault(ev.subscription_id, []).append(ev)
    rated = {s for s, evs in per_sub.items() if any(u.billing_mode is _IN_ARREAR for e in evs for u in e.usages)}
    if not rated:
        return RatingResult()
    sub_records: dict[str, list[RawUsage]] = {s: [] for s in rated}
    lo, hi = raw_start, run.target_end
    for r in records:
        bucket = sub_records.get(r.subscription_id)
        if bucket is not None and lo <= r.record_date <= hi:
            bucket.append(r)
    sub_billed: dict[str, list[BilledUsage]] = {}
    for b in existing:
        sub_billed.setdefault(b.subscription_id, []).append(b)

    items: list[RatedUsage] = []
    next_dates: dict[str, dict[str, date]] = {}
    tracking: set[TrackingRecord] = set()
    unit_cache: dict[int, list[str]] = {}
    with localcontext(_EXACT):
        for sub_id, evs in per_sub.items():
            if sub_id not in rated:
                continue
            for interval in _intervals(evs, unit_cache):
                new_items, found, next_date = _rate_interval(interval, sub_records[sub_id],
                                                             sub_billed.get(sub_id, []), run)
                items.extend(new_items)
                tracking |= found
                next_dates.setdefault(sub_id, {})[interval.usage.name] = next_date
    similar = {(t.tracking_id, t.subscription_id, t.unit_type, t.record_date) for t in invoiced}
    return RatingResult(items, next_dates, frozenset(t for t in tracking if tuple(t) not in similar))


# ---------------------------------------------------------------------------------------------- intervals
def _intervals(evs: list[BillingEvent], unit_cache: dict[int, list[str]]) -> list[_Interval]:
    """`SubscriptionUsageInArrear.computeInArrearUsageInterval`: one interval per (usage name, catalog version)
    over the events that carry it; an event without it closes it (the event is the interval's end)."""
    in_flight: dict[tuple[str, datetime | None], _Interval] = {}
    seen_keys: dict[tuple[str, datetime | None], None] = {}
    done: list[_Interval] = []
    for ev in evs:
        usages = [u for u in ev.usages if u.billing_mode is _IN_ARREAR]
        for u in usages:
            seen_keys[(u.name, ev.catalog_effective_date)] = None
        to_close = dict(seen_keys)
        current: list[_Interval] = []
        units: set[str] = set()
        for u in usages:
            key = (u.name, ev.catalog_effective_date)
            interval = in_flight.get(key)
            if interval is None:
                names = unit_cache.get(id(u))
                if names is None:
                    names = unit_cache[id(u)] = pricing.unit_types(u)
                interval = in_flight[key] = _Interval(u, names)
            interval.events.append(ev)
            to_close.pop(key, None)
            units.update(interval.units)
            current.append(interval)
        seen = frozenset(units)
        for interval in current:
            interval.seen.append(seen)
        for key in to_close:
            closing = in_flight.pop(key, None)
            if closing is not None:
                closing.events.append(ev)
                closing.seen.append(closing.seen[-1])
                closing.closed = True
                done.append(closing)
    done.extend(in_flight.values())
    return done


def _transitions(iv: _Interval, run: _Run) -> list[tuple[datetime, int]]:
    """`ContiguousIntervalUsageInArrear.build`: the period boundaries, each with the index of its billing event.

    The first boundary is the first event's instant; then the usage's bill cycle dates (local midnights) up to
    the next event, or for the last event up to the target day's end (open interval) or its own instant (closed
    interval, which adds that instant; a same-instant create and cancel makes a zero-length period)."""
    clock = run.clock
    events = iv.events
    start = events[0].effective_date
    if run.target_end < start:
        return []
    end = events[-1].effective_date if iv.closed else run.target_end
    raw_start = run.raw_start
    out: list[tuple[datetime, int]] = []
    if start >= raw_start:
        out.append((start, 0))
    period = iv.usage.billing_period
    last_index = len(events) - 1
    for i, ev in enumerate(events):
        last = i == last_index
        seg_start = ev.effective_date
        seg_end = end if last else events[i + 1].effective_date
        start_local = clock.local(seg_start)
        cycle = UsageCycle.of(start_local, clock.local(seg_end), run.target, ev.bill_cycle_day_local, period)
        n = 0
        day = cycle.cycle_date(0)
        candidate = seg_start if day == start_local else clock.midnight(day)
        while candidate <= seg_end if last else candidate < seg_end:
            if candidate >= raw_start and (not out or candidate > out[-1][0]):
                out.append((candidate, i))
            n += 1
            candidate = clock.midnight(cycle.cycle_date(n))
    if iv.closed and out and (end > out[-1][0] or (end == start and events[-1].transition_type is _CANCEL)):
        out.append((end, last_index))
    return out


def _next_billing_date(iv: _Interval, run: _Run) -> date:
    """`computeNextNotificationDate`: the latest next bill cycle date over the interval's events."""
    clock = run.clock
    period = iv.usage.billing_period
    result: date | None = None
    events = iv.events
    for i, ev in enumerate(events):
        end = clock.local(events[i + 1].effective_date) if i + 1 < len(events) else None
        candidate = UsageCycle.of(clock.local(ev.effective_date), end, run.target, ev.bill_cycle_day_local,
                                  period).next_billing_date()
        if result is None or candidate > result:
            result = candidate
    assert result is not None
    return result


# ---------------------------------------------------------------------------------------------- rolling up
def _roll_up(iv: _Interval, bounds: list[tuple[datetime, int]], records: list[RawUsage], run: _Run
             ) -> tuple[list[_Period], set[TrackingRecord]]:
    """`getRolledUpUsage`: per period, the sum (CONSUMABLE) or the max (CAPACITY) of each unit's records; with
    no record from the first boundary to the last, only the last period, once per unit, at 0."""
    instants = [b[0] for b in bounds]
    first, last = instants[0], instants[-1]
    if not any(first <= r.record_date <= last for r in records):
        return _empty(iv, bounds), set()
    periods = len(instants) - 1
    cancel_end = iv.events[bounds[-1][1]].transition_type is _CANCEL
    is_capacity = iv.usage.usage_type is UsageType.CAPACITY
    sums: list[dict[str, Decimal]] = [{u: _ZERO for u in iv.units} for _ in range(periods)]
    clock = run.clock
    local = clock.local
    offset = None if clock.zone_rules else clock.time.offset.utcoffset(None)
    found: set[TrackingRecord] = set()
    per_period_found: list[set[tuple[str, str, str, date]]] = [set() for _ in range(periods)]
    for sub_id, unit, when, amount, tracking_id in records:
        k = bisect_right(instants, when) - 1
        if k < 0:
            continue
        if k >= periods:
            if not (cancel_end and when == last):
                continue
            k = periods - 1
        acc = sums[k]
        current = acc.get(unit)
        if current is None:
            current = _ZERO
        if is_capacity:
            acc[unit] = amount if amount > current else current
        else:
            acc[unit] = current + amount
        day = (when + offset).date() if offset is not None else local(when)
        per_period_found[k].add((tracking_id, sub_id, unit, day))
    out: list[_Period] = []
    for k in range(periods):
        end_event = bounds[k + 1][1]
        allowed = iv.seen[end_event]
        for tracking_id, sub_id, unit, day in per_period_found[k]:
            found.add(TrackingRecord(tracking_id, sub_id, unit, day))
        for unit in sums[k]:
            if unit in allowed:
                continue
            ev = iv.events[end_event]
            if run.settings.park_on_unknown_usage:
                raise UsageRatingError(f"ILLEGAL INVOICING STATE: unit type {unit} is not defined in the catalog "
                                       f"effective Date {_instant(ev.catalog_effective_date)} for subscription "
                                       f"{ev.subscription_id})")
            # ignored, and so are its tracking ids (`TestUnknownUsageUnits.testTrackingIdsWithUnknownUsage`)
            found = {t for t in found if t.unit_type != unit}
        units = tuple((u, _plain(sums[k][u])) for u in iv.units)
        out.append(_Period(instants[k], instants[k + 1], units, iv.events[bounds[k][1]].catalog_effective_date))
    return out, found


def _empty(iv: _Interval, bounds: list[tuple[datetime, int]]) -> list[_Period]:
    """`getEmptyRolledUpUsage`: the last period, one entry per unit at 0 (each becomes its own item)."""
    (start, start_event), (end, _) = bounds[-2], bounds[-1]
    catalog_date = iv.events[start_event].catalog_effective_date
    return [_Period(start, end, ((u, _ZERO),), catalog_date) for u in iv.units]


def _plain(value: Decimal) -> Decimal:
    """Stored amounts carry nine decimals; quantities in item details are written without the padding."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _instant(when: datetime | None) -> str:
    return "null" if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------------------------------------- items
def _rate_interval(iv: _Interval, records: list[RawUsage], billed: list[BilledUsage], run: _Run
                   ) -> tuple[list[RatedUsage], set[TrackingRecord], date]:
    """`computeMissingItemsAndNextNotificationDate`."""
    bounds = _transitions(iv, run)
    next_date = _next_billing_date(iv, run)
    if len(bounds) < 2:
        return [], set(), next_date
    periods, found = _roll_up(iv, bounds, records, run)
    name = iv.usage.name
    mine = [b for b in billed if b.usage_name == name]
    items: list[RatedUsage] = []
    for p in periods:
        items.extend(_items_for(iv, p, mine, run))
    return items, found, next_date


def _items_for(iv: _Interval, p: _Period, billed: list[BilledUsage], run: _Run) -> list[RatedUsage]:
    clock, settings, usage = run.clock, run.settings, iv.usage
    start, end = clock.local(p.start), clock.local(p.end)
    same_day = start == end
    if not same_day and any((start >= b.start_date and end < b.end_date) or (start > b.start_date
                                                                            and end <= b.end_date)
                            for b in billed):
        # a longer period already billed contains this one (billing blocked later, `testWithPartialBlockBilling`)
        return []
    period_billed = [b for b in billed if b.start_date >= start and b.end_date <= end
                     and (same_day or b.start_date != b.end_date)]
    with_details = all(b.item_details for b in period_billed)
    billed_amount = sum((b.amount for b in period_billed), _ZERO)
    lenient = run.dry_run or settings.missing_lenient
    consumable = usage.usage_type is UsageType.CONSUMABLE
    if consumable:
        previous: dict[str, list[pricing.TierUnitDetail]] = {}
        if settings.detail_mode is UsageDetailMode.DETAIL or with_details:
            previous = {u: pricing.previous_details(period_billed, u, settings.detail_mode) for u, _ in p.units}
        context = (f"subscription='{iv.events[0].subscription_id}', targetDate='{run.target}', "
                   f"startDt='{start}', endDt='{end}'")
        price = pricing.consumable(usage, run.currency, p.units, previous, check_previous=not lenient,
                                   context=context)
    else:
        price = pricing.capacity(usage, run.currency, p.units)
    to_bill = round_money(price.amount, run.currency)
    incremental = consumable and usage.tier_block_policy is TierBlockPolicy.ALL_TIERS and with_details
    amount = to_bill if incremental else to_bill - billed_amount
    if amount < 0:
        if lenient:
            return []
        raise UsageRatingError(f"ILLEGAL INVOICING STATE: Usage period start='{_instant(p.start)}', "
                               f"end='{_instant(p.end)}', amountToBill='{amount}', (previously billed amount="
                               f"'{billed_amount}', new proposed amount='{to_bill}')")
    if period_billed and amount == 0:
        return []
    first = iv.events[0]

    def item(value: Decimal, rate: Decimal | None, quantity: Decimal | None, details: str | None) -> RatedUsage:
        return RatedUsage(subscription_id=first.subscription_id, bundle_id=first.bundle_id,
                          product_name=first.product_name, plan_name=first.plan_name, phase_name=first.phase_name,
                          usage_name=usage.name, description=usage.pretty_name or usage.name,
                          catalog_effective_date=p.catalog_effective_date, start_date=start, end_date=end,
                          amount=round_money(value, run.currency), rate=rate, quantity=quantity,
                          item_details=details)

    if consumable and settings.detail_mode is UsageDetailMode.DETAIL:
        return [item(d.amount or _ZERO, d.price, d.quantity, pricing.detail_json(d)) for d in price.details]
    if consumable:
        return [item(amount, None, None, price.as_json())]
    return [item(amount, None, None, price.as_json() if with_details else None)]


__all__ = ["rate_usage"]
