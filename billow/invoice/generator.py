"""The invoice generator: billing events + existing invoices + target date → the next invoice's new items.

Pure: no database, no clock (the caller passes `now`), no I/O.

Sources (killbill/killbill, `invoice/src/main/java/org/killbill/billing/invoice/`):
`generator/DefaultInvoiceGenerator.java` (target date validation and
adjustment, recurring then usage items), `generator/FixedAndRecurringInvoiceItemGenerator.java`
(proposed RECURRING and FIXED items, merge with existing items, safety
bounds), `generator/InvoiceWithMetadata.java` (future notification dates,
charged-through dates). Specification: billing-semantics.md Part 4 and Part 5.

What the invoice service calls, in order (see `generate_invoice`):

1. `generate_invoice(account, events, existing_invoices, target_date, config, invoice_id=..., now=...)`
   → `GenerationResult` (new items, adjusted target date, next notification dates);
   `generate(...)` returns the items only. Empty → nothing to invoice.
2. `billow.invoice.credit.apply_credit(...)` / `credit_items(...)` → CBA_ADJ items for the new invoice.
3. `charged_through_dates(items)` for a COMMITTED invoice → per-subscription CTD (local dates).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Context, localcontext
from enum import StrEnum
from typing import Protocol

from billow.catalog.model import BillingMode, BillingPeriod, PhaseType
from billow.core.account_time import UTC_ACCOUNT_TIME, AccountTime
from billow.core.errors import BillowError
from billow.core.money import round_money
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus
from billow.invoice.proration import ONE, ServicePeriod, months_between, service_periods_cached
from billow.invoice.tree import (
    IllegalInvoicingState,
    Piece,
    SubscriptionTree,
    check_view,
    fully_repaired_ids,
)
from billow.junction.model import BillingEvent, BillingTransitionType

RECURRING = InvoiceItemType.RECURRING
FIXED = InvoiceItemType.FIXED
REPAIR_ADJ = InvoiceItemType.REPAIR_ADJ
ITEM_ADJ = InvoiceItemType.ITEM_ADJ
USAGE = InvoiceItemType.USAGE
_NO_PERIOD = BillingPeriod.NO_BILLING_PERIOD
_BCD_CHANGE = BillingTransitionType.BCD_CHANGE
_PHASE = BillingTransitionType.PHASE

# Enough digits for unrounded split amounts (Java BigDecimal multiplies exactly).
EXACT = Context(prec=80)


class TargetDateTooFar(BillowError):
    """`INVOICE_TARGET_DATE_TOO_FAR_IN_THE_FUTURE` (4005): beyond `maxNumberOfMonthsInFuture` (spec 4.1)."""

    def __init__(self, target: date) -> None:
        super().__init__(f"The target date was too far in the future. Target Date: {target}", code=4005,
                         class_name="org.killbill.billing.invoice.api.InvoiceApiException")


class InvoicingError(BillowError):
    """`UNEXPECTED_ERROR` (4): ILLEGAL INVOICING STATE or SAFETY BOUND TRIGGERED; the account is parked.

    Kill Bill answers 500. A safety bound is tripped by what was asked (e.g. a dry run far ahead),
    so the REST layer answers 400 for it; an illegal state stays a 500: it is a bug to look at."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message, code=4, class_name="org.killbill.billing.invoice.api.InvoiceApiException",
                         status=400 if message.startswith("SAFETY BOUND") else 500)


class InArrearMode(StrEnum):
    """`org.killbill.invoice.inArrear.mode`."""

    DEFAULT = "DEFAULT"
    GREEDY = "GREEDY"


class UsageDetailMode(StrEnum):
    """`org.killbill.invoice.item.result.behavior.mode`."""

    AGGREGATE = "AGGREGATE"
    DETAIL = "DETAIL"


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """Kill Bill's invoice configuration properties that change results (spec 4.11), with Kill Bill's defaults."""

    proration_fixed_days: int = 0  # org.killbill.invoice.proration.fixed.days
    in_arrear_mode: InArrearMode = InArrearMode.DEFAULT  # org.killbill.invoice.inArrear.mode
    max_months_in_future: int = 36  # org.killbill.invoice.maxNumberOfMonthsInFuture
    max_daily_items_safety_bound: int = 15  # org.killbill.invoice.maxDailyNumberOfItemsSafetyBound (-1: off)
    sanity_safety_bound_enabled: bool = True  # org.killbill.invoice.sanitySafetyBoundEnabled
    usage_zero_amount_disabled: bool = False  # org.killbill.invoice.disable.usage.zero.amount
    read_max_raw_usage_previous_period: int = 2  # org.killbill.invoice.readMaxRawUsagePreviousPeriod
    usage_missing_lenient: bool = False  # org.killbill.invoice.usage.missing.lenient
    usage_detail_mode: UsageDetailMode = UsageDetailMode.AGGREGATE  # org.killbill.invoice.item.result.behavior.mode
    park_on_unknown_usage: bool = False  # org.killbill.invoice.parkAccountsWithUnknownUsage
    usage_zone_rules: bool = False  # org.killbill.invoice.usage.tz.mode=VARIABLE (FIXED by default)
    dry_run_notification: timedelta = timedelta(0)  # org.killbill.invoice.dryRunNotificationSchedule (0: off)


@dataclass(frozen=True, slots=True)
class AccountBillingInfo:
    """What the generator needs to know about the account; its dates convert through `time` (spec 4.10)."""

    account_id: str
    currency: str
    time: AccountTime = UTC_ACCOUNT_TIME
    bill_cycle_day: int = 0


@dataclass(slots=True)
class NotificationDates:
    """Kill Bill's `SubscriptionFutureNotificationDates`: when to run again for one subscription (spec 4.1)."""

    billing_mode: BillingMode
    next_recurring_date: date | None = None
    next_usage_dates: dict[tuple[str, BillingMode], date] = field(default_factory=dict)

    def update_recurring(self, candidate: date | None) -> None:
        if candidate is not None and (self.next_recurring_date is None or candidate > self.next_recurring_date):
            self.next_recurring_date = candidate


@dataclass(frozen=True, slots=True)
class UsageResult:
    """What a usage rater returns: USAGE items, next usage dates per subscription, tracking ids recorded."""

    items: Sequence[InvoiceItem] = ()
    next_usage_dates: dict[str, dict[tuple[str, BillingMode], date]] = field(default_factory=dict)
    tracking_ids: frozenset[tuple[str, str, str, date]] = frozenset()  # (tracking id, subscription, unit, day)


class UsageItemGenerator(Protocol):
    """The seam for IN_ARREAR usage (Kill Bill's `UsageInvoiceItemGenerator`, spec 4.6), implemented elsewhere.

    Called after the fixed/recurring items with the same inputs and the adjusted target date.
    """

    def __call__(self, account: AccountBillingInfo, events: Sequence[BillingEvent],
                 existing_invoices: Sequence[Invoice], target_date: date, config: GeneratorConfig, *,
                 invoice_id: str, now: datetime) -> UsageResult: ...


@dataclass(slots=True)
class GenerationResult:
    """`InvoiceWithMetadata`: the new items, the target date actually used and the next notification dates."""

    items: list[InvoiceItem]
    target_date: date
    notification_dates: dict[str, NotificationDates]
    tracking_ids: frozenset[tuple[str, str, str, date]] = frozenset()


def generate(account: AccountBillingInfo, events: Sequence[BillingEvent], existing_invoices: Sequence[Invoice],
             target_date: date, config: GeneratorConfig, *, invoice_id: str, now: datetime,
             usage: UsageItemGenerator | None = None, skip_subscriptions: Collection[str] = ()) -> list[InvoiceItem]:
    """The new items of the next invoice (RECURRING, FIXED, REPAIR_ADJ, and USAGE through `usage`)."""
    return generate_invoice(account, events, existing_invoices, target_date, config, invoice_id=invoice_id,
                            now=now, usage=usage, skip_subscriptions=skip_subscriptions).items


def adjust_target_date(existing_invoices: Sequence[Invoice], target_date: date) -> date:
    """`DefaultInvoiceGenerator.adjustTargetDate`: never below the target of an invoice with RECURRING/USAGE items.

    VOID invoices are not existing invoices (spec 4.1, Part 5.16, killbill #1241).
    """
    result = target_date
    for inv in existing_invoices:
        if inv.status is InvoiceStatus.VOID or inv.target_date is None or inv.target_date <= result:
            continue
        if any(it.type is RECURRING or it.type is USAGE for it in inv.items):
            result = inv.target_date
    return result


def validate_target_date(target_date: date, now: datetime, config: GeneratorConfig) -> None:
    """`DefaultInvoiceGenerator.validateTargetDate`: at most `max_months_in_future` months after UTC today."""
    today = (now if now.tzinfo is None else now.astimezone(UTC)).date()
    if target_date > today and months_between(today, target_date) > config.max_months_in_future:
        raise TargetDateTooFar(target_date)


def generate_invoice(account: AccountBillingInfo, events: Sequence[BillingEvent],
                     existing_invoices: Sequence[Invoice], target_date: date, config: GeneratorConfig, *,
                     invoice_id: str, now: datetime, usage: UsageItemGenerator | None = None,
                     skip_subscriptions: Collection[str] = ()) -> GenerationResult:
    """Run one invoice generation (Kill Bill's `DefaultInvoiceGenerator.generateInvoice`).

    `events`: the account's billing events since the beginning (any order; sorted
    here with `BillingEvent.sort_key`). `existing_invoices`: the account's
    invoices with their items; VOID ones are ignored, DRAFT ones count (Part 5.13, 5.14).
    `skip_subscriptions`: subscriptions under AUTO_INVOICING_OFF (their events
    and items are left out, Part 3). Raises `TargetDateTooFar` or `InvoicingError`.
    """
    validate_target_date(target_date, now, config)
    existing = [inv for inv in existing_invoices if inv.status is not InvoiceStatus.VOID]
    target = adjust_target_date(existing, target_date)
    evs = sorted((e for e in events if e.subscription_id not in skip_subscriptions) if skip_subscriptions else events,
                 key=BillingEvent.sort_key)
    notification_dates: dict[str, NotificationDates] = {}
    try:
        with localcontext(EXACT):
            items = _fixed_and_recurring(account, evs, existing, target, config, invoice_id, now, notification_dates,
                                         skip_subscriptions)
    except IllegalInvoicingState as e:
        raise InvoicingError(str(e)) from e
    tracking: frozenset[tuple[str, str, str, date]] = frozenset()
    if usage is not None:
        usage_result = usage(account, evs, existing, target, config, invoice_id=invoice_id, now=now)
        usage_items = list(usage_result.items)
        if config.usage_zero_amount_disabled:
            usage_items = [it for it in usage_items
                           if it.amount != 0 or (it.quantity is not None and it.quantity > 0)]
        items.extend(usage_items)
        tracking = usage_result.tracking_ids
        for sub_id, dates in usage_result.next_usage_dates.items():
            nd = notification_dates.get(sub_id)
            if nd is None:
                nd = notification_dates[sub_id] = NotificationDates(BillingMode.IN_ARREAR)
            for key, when in dates.items():
                prev = nd.next_usage_dates.get(key)
                nd.next_usage_dates[key] = when if prev is None or when > prev else prev
    reset_unused_notification_dates(notification_dates, items)
    return GenerationResult(items, target, notification_dates, tracking)


def reset_unused_notification_dates(dates: dict[str, NotificationDates], items: Sequence[InvoiceItem]) -> None:
    """`InvoiceWithMetadata.build`: an IN_ADVANCE date is dropped when this run writes no RECURRING item for the
    subscription and no item starting or ending on that date (else runs would loop)."""
    for sub_id, nd in dates.items():
        when = nd.next_recurring_date
        if when is None or nd.billing_mode is not BillingMode.IN_ADVANCE:
            continue
        if any(it.type is RECURRING and it.subscription_id == sub_id for it in items):
            continue
        if any(it.start_date == when or it.end_date == when for it in items):
            continue
        nd.next_recurring_date = None


def charged_through_dates(items: Sequence[InvoiceItem]) -> dict[str, date]:
    """`InvoiceWithMetadata.computeChargedThroughDates` for a COMMITTED invoice (spec 2.3).

    Per subscription, the latest end date (start date when there is none) of its
    FIXED, RECURRING and USAGE items on this invoice; the service turns each into
    an instant with the account's `AccountTime.instant` and replaces the stored CTD.
    """
    result: dict[str, date] = {}
    for it in items:
        if it.type not in (FIXED, RECURRING, USAGE) or it.subscription_id is None:
            continue
        when = it.end_date if it.end_date is not None else it.start_date
        if when is None:
            continue
        prev = result.get(it.subscription_id)
        if prev is None or when > prev:
            result[it.subscription_id] = when
    return result


def charged_through_instants(time: AccountTime, items: Sequence[InvoiceItem]) -> dict[str, datetime]:
    """`charged_through_dates` as instants at the account's reference time: what the subscriptions store."""
    return {sub: time.instant(d) for sub, d in charged_through_dates(items).items()}


# ---------------------------------------------------------------------------------------------- fixed and recurring


def _new_id() -> str:
    return str(uuid.uuid4())


def _fixed_and_recurring(account: AccountBillingInfo, evs: list[BillingEvent], existing: list[Invoice],
                         target: date, config: GeneratorConfig, invoice_id: str, now: datetime,
                         notification_dates: dict[str, NotificationDates],
                         skip_subscriptions: Collection[str]) -> list[InvoiceItem]:
    """`FixedAndRecurringInvoiceItemGenerator.generateItems`."""
    currency = account.currency
    fixed_days = config.proration_fixed_days
    time = account.time
    local_dates = [time.local_date(e.effective_date) for e in evs]

    all_items: list[InvoiceItem] = [it for inv in existing for it in inv.items]
    ignored = fully_repaired_ids(all_items) if all_items else set()
    trees = _existing_trees(all_items, ignored, currency, fixed_days, skip_subscriptions)
    now_day = time.local_date(now)
    created_days: dict[str, list[date]] = {}
    for inv in existing:
        for it in inv.items:
            sub_id = it.subscription_id
            if sub_id is None or sub_id in skip_subscriptions or it.id in ignored:
                continue
            created = it.created_date or inv.created_date
            created_days.setdefault(sub_id, []).append(now_day if created is None else time.local_date(created))

    # proposed items: every item due up to the target date since the beginning
    proposed = propose(account, evs, local_dates, target, config, invoice_id, notification_dates)
    for item in proposed:
        _tree(trees, item.subscription_id, currency, fixed_days).add_proposed(item)

    result = _views(trees, account.account_id, currency, invoice_id, now)
    safety_bounds(result, created_days, now_day, config)
    return result


class NotIncremental(Exception):
    """`propose(after=...)`: the earlier target's proposals are not the first of these; propose them all."""


def propose(account: AccountBillingInfo, evs: Sequence[BillingEvent], local_dates: Sequence[date], target: date,
            config: GeneratorConfig, invoice_id: str, notification_dates: dict[str, NotificationDates], *,
            after: date | None = None) -> list[InvoiceItem]:
    """The proposed items (ids unset): every RECURRING then FIXED item due up to `target` since the beginning.

    `evs` sorted with `BillingEvent.sort_key`, `local_dates` their local dates; fills `notification_dates`
    (always from every proposal). With `after`, an earlier target, only the items the proposals up to `after`
    do not hold, without making those (an event's periods up to `after` are the first of its periods up to
    `target`, checked): what the incremental run bills. Raises `NotIncremental` when they are not."""
    proposed: list[InvoiceItem] = []
    _propose_recurring(account, evs, local_dates, target, config, invoice_id, proposed, notification_dates, after)
    if after is None:
        _propose_fixed(account, evs, local_dates, target, invoice_id, proposed)
        return proposed
    fixed: list[InvoiceItem] = []
    _propose_fixed(account, evs, local_dates, target, invoice_id, fixed)
    earlier: list[InvoiceItem] = []
    _propose_fixed(account, evs, local_dates, after, invoice_id, earlier)
    billed = Counter(proposal_key(it) for it in earlier)
    for it in fixed:
        k = proposal_key(it)
        if billed[k] > 0:
            billed[k] -= 1
        else:
            proposed.append(it)
    if any(n > 0 for n in billed.values()):
        raise NotIncremental
    return proposed


def existing_trees(items: Sequence[InvoiceItem], currency: str, fixed_days: int) -> dict[str | None, SubscriptionTree]:
    """One merge tree per subscription of an account's existing items (fully repaired ones left out), in the
    order a run meets them: what `merge_items` and the incremental run (`incremental.py`) start from."""
    return _existing_trees(items, fully_repaired_ids(items) if items else set(), currency, fixed_days, ())


def merged_view(trees: dict[str | None, SubscriptionTree], proposed: Sequence[InvoiceItem], *, account_id: str,
                currency: str, fixed_days: int, invoice_id: str, now: datetime) -> list[InvoiceItem]:
    """What a run writes once `proposed` is merged into `trees` (which it changes)."""
    for item in proposed:
        _tree(trees, item.subscription_id, currency, fixed_days).add_proposed(item)
    return _views(trees, account_id, currency, invoice_id, now)


def _existing_trees(all_items: Sequence[InvoiceItem], ignored: set[str], currency: str, fixed_days: int,
                    skip_subscriptions: Collection[str]) -> dict[str | None, SubscriptionTree]:
    """`AccountItemTree.addExistingItem` + `build`: items in `ignored` (fully repaired, `InvoicePruner`) left out,
    then one tree per subscription."""
    by_id: dict[str, InvoiceItem] = {it.id: it for it in all_items}
    trees: dict[str | None, SubscriptionTree] = {}
    for it in all_items:
        if it.id in ignored:
            continue
        sub_id = it.subscription_id
        if sub_id is not None and sub_id in skip_subscriptions:
            continue
        t = it.type
        if t is RECURRING or t is FIXED:
            _tree(trees, sub_id, currency, fixed_days).add_existing(it)
        elif t is REPAIR_ADJ or t is ITEM_ADJ:
            linked = by_id.get(it.linked_item_id) if it.linked_item_id is not None else None
            if linked is None or linked.id in ignored:
                if t is REPAIR_ADJ:
                    raise IllegalInvoicingState(f"ILLEGAL INVOICING STATE: missing cancelled item for {it.id}")
                continue
            if linked.subscription_id is not None and linked.subscription_id in skip_subscriptions:
                continue
            if t is REPAIR_ADJ:
                _tree(trees, linked.subscription_id, currency, fixed_days).add_existing(it)
            elif linked.type is RECURRING and linked.amount != 0:
                # ITEM_ADJ on FIXED, $0 RECURRING, USAGE or charges: not part of the tree
                _tree(trees, linked.subscription_id, currency, fixed_days).add_adjustment(linked.id, it.amount)
    for tree in trees.values():
        tree.build()
    return trees


def _views(trees: dict[str | None, SubscriptionTree], account_id: str, currency: str, invoice_id: str,
           now: datetime) -> list[InvoiceItem]:
    result: list[InvoiceItem] = []
    for tree in trees.values():
        view = _view(tree, account_id, currency, invoice_id, now)
        if view:
            check_view(view)
            result.extend(view)
    return result


def merge_items(existing_items: Sequence[InvoiceItem], proposed_items: Sequence[InvoiceItem], *, account_id: str,
                currency: str, invoice_id: str, now: datetime, fixed_days: int = 0) -> list[InvoiceItem]:
    """The repair stage alone: existing items merged with proposed RECURRING/FIXED items (spec 4.4, 4.5).

    Returns what a run would write: new FIXED and RECURRING items and REPAIR_ADJ items.
    """
    with localcontext(EXACT):
        try:
            trees = _existing_trees(existing_items, fully_repaired_ids(existing_items), currency, fixed_days, ())
            for item in proposed_items:
                _tree(trees, item.subscription_id, currency, fixed_days).add_proposed(item)
            return _views(trees, account_id, currency, invoice_id, now)
        except IllegalInvoicingState as e:
            raise InvoicingError(str(e)) from e


def _tree(trees: dict[str | None, SubscriptionTree], sub_id: str | None, currency: str,
          fixed_days: int) -> SubscriptionTree:
    tree = trees.get(sub_id)
    if tree is None:
        tree = trees[sub_id] = SubscriptionTree(currency, fixed_days)
        tree.build()
    return tree


def _view(tree: SubscriptionTree, account_id: str, currency: str, invoice_id: str,
          now: datetime) -> list[InvoiceItem]:
    """`SubscriptionItemTree.getView` after the merge: new FIXED, new RECURRING and REPAIR_ADJ items."""
    out: list[InvoiceItem] = []
    for fx in tree.new_fixed:
        out.append(_with_ids(fx, invoice_id, now))
    for piece in tree.joined_new_pieces():
        out.append(_recurring_from_piece(piece, invoice_id, now, currency))
    for rep in tree.repairs_out():
        out.append(InvoiceItem(id=_new_id(), invoice_id=invoice_id, account_id=account_id, type=REPAIR_ADJ,
                               start_date=rep.start, end_date=rep.end, amount=rep.amount, currency=currency,
                               linked_item_id=rep.linked.id, created_date=now))
    return out


def _with_ids(item: InvoiceItem, invoice_id: str, now: datetime) -> InvoiceItem:
    return InvoiceItem(id=_new_id(), invoice_id=invoice_id, account_id=item.account_id, type=item.type,
                       start_date=item.start_date, end_date=item.end_date, amount=item.amount,
                       currency=item.currency, subscription_id=item.subscription_id, bundle_id=item.bundle_id,
                       product_name=item.product_name, plan_name=item.plan_name, phase_name=item.phase_name,
                       rate=item.rate, catalog_effective_date=item.catalog_effective_date, created_date=now)


def _recurring_from_piece(piece: Piece, invoice_id: str, now: datetime, currency: str) -> InvoiceItem:
    """A new RECURRING item; a split piece's unrounded amount is rounded here (`RecurringInvoiceItem` constructor)."""
    src = piece.source
    amount = round_money(piece.amount, currency)
    return InvoiceItem(id=_new_id(), invoice_id=invoice_id, account_id=src.account_id, type=RECURRING,
                       start_date=piece.start, end_date=piece.end, amount=amount, currency=currency,
                       subscription_id=src.subscription_id, bundle_id=src.bundle_id, product_name=src.product_name,
                       plan_name=src.plan_name, phase_name=src.phase_name, rate=src.rate,
                       catalog_effective_date=src.catalog_effective_date, created_date=now)


def _propose_recurring(account: AccountBillingInfo, evs: Sequence[BillingEvent], local_dates: Sequence[date],
                       target: date, config: GeneratorConfig, invoice_id: str, out: list[InvoiceItem],
                       notification_dates: dict[str, NotificationDates], after: date | None = None) -> None:
    """`processRecurringBillingEvents` / `processRecurringEvent` (spec 4.2): [E_i, E_i+1) billed with E_i's price.

    `after`: only the periods the earlier target `after` did not propose (see `propose`)."""
    currency = account.currency
    account_id = account.account_id
    fixed_days = config.proration_fixed_days
    greedy = config.in_arrear_mode is InArrearMode.GREEDY
    n = len(evs)
    for i, ev in enumerate(evs):
        start = local_dates[i]
        if start > target:
            continue
        sub_id = ev.subscription_id
        if ev.billing_period is _NO_PERIOD:
            nd = notification_dates.get(sub_id)
            if nd is not None:
                nd.next_recurring_date = None
            continue
        end = local_dates[i + 1] if i + 1 < n and evs[i + 1].subscription_id == sub_id else None
        mode = ev.billing_mode
        try:
            periods, interval = service_periods_cached(start, end, target, ev.bill_cycle_day_local,
                                                       ev.billing_period, mode, fixed_days, greedy)
        except ValueError as e:
            raise BillowError(str(e), code=4004,
                              class_name="org.killbill.billing.invoice.api.InvoiceApiException") from e
        rate = ev.recurring_price
        first_new = len(out)
        billed = 0
        if after is not None:
            billed = _billed_periods(periods, start, end, after, ev, fixed_days, greedy)
        if rate is not None and periods:
            rate_q = rate * ev.quantity if ev.quantity != 1 else rate
            for sp in periods[billed:] if billed else periods:
                amount = round_money(rate_q if sp.factor is ONE else sp.factor * rate_q, currency)
                out.append(InvoiceItem(id="", invoice_id=invoice_id, account_id=account_id, type=RECURRING,
                                       start_date=sp.start, end_date=sp.end, amount=amount, currency=currency,
                                       subscription_id=sub_id, bundle_id=ev.bundle_id,
                                       product_name=ev.product_name, plan_name=ev.plan_name,
                                       phase_name=ev.phase_name, rate=rate_q,
                                       catalog_effective_date=ev.catalog_effective_date))
        # updatePerSubscriptionNextNotificationDate
        next_date: date | None = None
        if mode is BillingMode.IN_ADVANCE:
            if after is not None:  # the rate is not negative (_billed_periods): every period's amount counts
                next_date = max((sp.end for sp in periods), default=None) if rate is not None else None
            else:
                for it in out[first_new:]:
                    if it.end_date is not None and it.amount >= 0 and (next_date is None or it.end_date > next_date):
                        next_date = it.end_date
        else:
            next_date = interval.next_cycle_date
        if next_date is not None:
            nd = notification_dates.get(sub_id)
            if nd is None:
                nd = notification_dates[sub_id] = NotificationDates(mode)
            nd.update_recurring(next_date)


def _billed_periods(periods: Sequence[ServicePeriod], start: date, end: date | None, after: date, ev: BillingEvent,
                    fixed_days: int, greedy: bool) -> int:
    """How many of an event's periods the earlier target `after` proposed: they must be the first ones, alike."""
    if ev.recurring_price is not None and ev.recurring_price * ev.quantity < 0:
        raise NotIncremental  # a negative period would not count for the next billing date (see above)
    if start > after:
        return 0
    try:
        before, _ = service_periods_cached(start, end, after, ev.bill_cycle_day_local, ev.billing_period,
                                           ev.billing_mode, fixed_days, greedy)
    except ValueError as e:
        raise NotIncremental from e
    if tuple(periods[:len(before)]) != before:
        raise NotIncremental
    return len(before)


def proposal_key(it: InvoiceItem) -> tuple[object, ...]:
    """What tells two proposed items apart (they have no ids yet)."""
    return (it.type, it.subscription_id, it.bundle_id, it.start_date, it.end_date, it.amount, it.rate,
            it.plan_name, it.phase_name, it.currency)


def _propose_fixed(account: AccountBillingInfo, evs: Sequence[BillingEvent], local_dates: Sequence[date],
                   target: date, invoice_id: str, out: list[InvoiceItem]) -> None:
    """`processFixedBillingEvents` (spec 4.4): one FIXED item per event with a fixed price; of several events of
    one subscription on one day only the last decides (no item at all if it has no fixed price); BCD_CHANGE skipped."""
    prev: InvoiceItem | None = None
    n = len(evs)
    for i, ev in enumerate(evs):
        if ev.transition_type is _BCD_CHANGE:
            continue
        nxt = evs[i + 1] if i + 1 < n and evs[i + 1].subscription_id == ev.subscription_id else None
        current = _fixed_item(account, ev, local_dates[i], nxt, local_dates[i + 1] if nxt is not None else None,
                              target, invoice_id)
        if prev is not None and not (prev.start_date == local_dates[i] and prev.subscription_id == ev.subscription_id):
            out.append(prev)
        prev = current
    if prev is not None:
        out.append(prev)


def _fixed_item(account: AccountBillingInfo, ev: BillingEvent, start: date, nxt: BillingEvent | None,
                nxt_date: date | None, target: date, invoice_id: str) -> InvoiceItem | None:
    """`generateFixedPriceItem`: amount = fixed price × quantity; an end date only for a non-EVERGREEN phase
    without recurring price (the next PHASE event's date, else start + phase duration)."""
    if start > target or ev.fixed_price is None:
        return None
    end: date | None = None
    if ev.recurring_price is None and ev.phase_type is not PhaseType.EVERGREEN:
        if nxt is not None and nxt.transition_type is _PHASE:
            end = nxt_date
        elif ev.phase_duration is not None and ev.phase_duration.number >= 0:
            try:
                end = ev.phase_duration.add_to(start)
            except Exception:  # UNLIMITED: Kill Bill logs and leaves no end date
                end = None
    amount = round_money(ev.fixed_price * ev.quantity, account.currency)
    return InvoiceItem(id="", invoice_id=invoice_id, account_id=account.account_id, type=FIXED, start_date=start,
                       end_date=end, amount=amount, currency=account.currency, subscription_id=ev.subscription_id,
                       bundle_id=ev.bundle_id, product_name=ev.product_name, plan_name=ev.plan_name,
                       phase_name=ev.phase_name, catalog_effective_date=ev.catalog_effective_date)


def safety_bounds(result: list[InvoiceItem], created_days: dict[str, list[date]], now_day: date,
                   config: GeneratorConfig) -> None:
    """`FixedAndRecurringInvoiceItemGenerator.safetyBounds` (spec 4.5 step 5, killbill #664)."""
    if config.sanity_safety_bound_enabled:
        fixed_seen: set[tuple[str | None, date | None]] = set()
        recurring_seen: set[tuple[str | None, date | None, date | None]] = set()
        for it in result:
            if it.type is FIXED:
                key = (it.subscription_id, it.start_date)
                if key in fixed_seen:
                    raise InvoicingError(f"SAFETY BOUND TRIGGERED Multiple FIXED items for subscriptionId='"
                                         f"{it.subscription_id}', startDate='{it.start_date}'")
                fixed_seen.add(key)
            elif it.type is RECURRING:
                rkey = (it.subscription_id, it.start_date, it.end_date)
                if rkey in recurring_seen:
                    raise InvoicingError(f"SAFETY BOUND TRIGGERED Multiple RECURRING items for subscriptionId='"
                                         f"{it.subscription_id}', startDate='{it.start_date}', endDate='{it.end_date}'")
                recurring_seen.add(rkey)
    bound = config.max_daily_items_safety_bound
    if bound == -1:
        return
    counts: dict[str, int] = {}
    for it in result:
        sub_id = it.subscription_id
        if sub_id is None:
            continue
        if sub_id not in counts:
            counts[sub_id] = sum(1 for d in created_days.get(sub_id, ()) if d == now_day)
        counts[sub_id] += 1
        if counts[sub_id] > bound:
            raise InvoicingError(f"SAFETY BOUND TRIGGERED subscriptionId='{sub_id}', resultingItem={it}")

