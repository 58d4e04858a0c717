"""The incremental invoice run: when nothing about an account changed since its last run, bill only what is new.

Billow's, not Kill Bill's. Kill Bill re-reads every invoice of the account and re-proposes every period since
the beginning on each run (`FixedAndRecurringInvoiceItemGenerator`); the cost of a run grows with the history.
A run that used that full path leaves a `BillingCheckpoint`: what the next run needs to know about the history,
and a fingerprint of what the generator read. The next run compares, and when everything is the same it
proposes the items due by the new target date, keeps those the last run did not propose, and writes them;
the account's invoices are not read. Anything else goes through the full generator.

Why the result is the full generator's (the property test `tests/invoice/test_incremental.py` checks it over
random histories): with the same billing events, account and configuration, the proposals up to the earlier
target `T1` are the same as then, and merging them into the existing items gave nothing, which
`checkpoint_after` verifies before it makes a checkpoint. The proposals up to the new target `T2` are those of
`T1` plus new ones (`propose(after=T1)` makes only the new ones, and checks that each billing event's periods
up to `T1` are the first of its periods up to `T2`); each new one starts after every existing item of its
subscription (`SubscriptionMark`, checked), so the merge leaves it whole and touches nothing else: the full
run's result is the new proposals, in the same order. With no account credit (CBA) and no negative item no
credit item is made, so the invoices' balances are not needed either.

What invalidates a checkpoint:
- the fingerprint (`fingerprint`): the account's currency, time and bill cycle day, every billing event
  (subscription and blocking events, catalog prices, BCD) and the generator's configuration;
- the account's invoice history: the count of history rows of its invoices and items (every insert and
  update of an audited row writes one), compared by the billing run (`store_checkpoints`);
The day is carried, not compared: a second run on the day of the checkpoint counts that day's items for the
daily safety bound (`SubscriptionMark.made_today`), as the full path counts them from the invoices.
Accounts with IN_ARREAR usage, account credit, a parent or child invoice, or whose last run would not merge to
nothing get no checkpoint: they always take the full path.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import localcontext
from typing import Any

from billow.invoice.credit import account_cba
from billow.invoice.generator import (
    EXACT,
    AccountBillingInfo,
    GenerationResult,
    GeneratorConfig,
    NotificationDates,
    NotIncremental,
    existing_trees,
    merged_view,
    propose,
    reset_unused_notification_dates,
    safety_bounds,
    validate_target_date,
)
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus
from billow.invoice.tree import IllegalInvoicingState, SubscriptionTree, fully_repaired_ids
from billow.junction.model import BillingEvent

RECURRING = InvoiceItemType.RECURRING
FIXED = InvoiceItemType.FIXED
USAGE = InvoiceItemType.USAGE


@dataclass(frozen=True, slots=True)
class SubscriptionMark:
    """What the history holds for one subscription: where its items end, and how many were made on the
    checkpoint's day (`made_on`)."""

    subscription_id: str | None
    fixed_through: date | None = None  # the latest start of its FIXED items
    recurring_through: date | None = None  # the latest end of its RECURRING items
    made_today: int = 0  # its items created on the checkpoint's day (the daily safety bound)
    merged: bool = True  # False: all its items are fully repaired, the merge leaves it out


@dataclass(frozen=True, slots=True)
class BillingCheckpoint:
    """What an account's next run needs from its history when nothing changed since the run that made it."""

    fingerprint: str
    target_date: date  # the adjusted target of the last run: everything proposed up to it is billed
    max_target: date | None  # the latest target of an invoice with RECURRING or USAGE items (adjust_target_date)
    made_on: date  # the account-local day of the last run
    # in the order the full generator meets the subscriptions (its merge trees): the order of the new items
    subscriptions: tuple[SubscriptionMark, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "target": self.target_date.isoformat(),
                "maxTarget": self.max_target.isoformat() if self.max_target else None,
                "madeOn": self.made_on.isoformat(),
                "subscriptions": [[m.subscription_id, _iso(m.fixed_through), _iso(m.recurring_through), m.made_today,
                                   m.merged] for m in self.subscriptions]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BillingCheckpoint:
        return cls(data["fingerprint"], date.fromisoformat(data["target"]), _date(data["maxTarget"]),
                   date.fromisoformat(data["madeOn"]),
                   tuple(SubscriptionMark(s, _date(f), _date(r), n, merged)
                         for s, f, r, n, merged in data["subscriptions"]))


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _date(s: str | None) -> date | None:
    return date.fromisoformat(s) if s else None


def fingerprint(account: AccountBillingInfo, events: Sequence[BillingEvent], config: GeneratorConfig) -> str:
    """A digest of everything the generator reads besides the invoices: the account's currency, time and bill
    cycle day, its billing events (in Kill Bill's order) and the configuration."""
    parts: list[Any] = [account.account_id, account.currency, repr(account.time), account.bill_cycle_day,
                        repr(config)]
    for e in sorted(events, key=BillingEvent.sort_key):
        parts.append((e.subscription_id, e.bundle_id, e.effective_date.isoformat(), e.transition_type.value,
                      e.product_name, e.product_category, e.plan_name, e.phase_name, e.phase_type,
                      e.billing_period.value, e.billing_mode.value, str(e.fixed_price), str(e.recurring_price),
                      e.currency, e.bill_cycle_day_local, e.billing_alignment, _iso(e.catalog_effective_date),
                      len(e.usages), e.quantity, e.total_ordering, repr(e.phase_duration)))
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def _proposals(account: AccountBillingInfo, evs: Sequence[BillingEvent], target: date, config: GeneratorConfig,
               invoice_id: str, dates: dict[str, NotificationDates], *, after: date | None = None
               ) -> list[InvoiceItem]:
    local = [account.time.local_date(e.effective_date) for e in evs]
    with localcontext(EXACT):
        return propose(account, evs, local, target, config, invoice_id, dates, after=after)


def checkpoint_after(account: AccountBillingInfo, events: Sequence[BillingEvent], invoices: Sequence[Invoice],
                     target_date: date, config: GeneratorConfig, now: datetime) -> BillingCheckpoint | None:
    """The checkpoint of an account after a full run at (adjusted) `target_date`: `invoices` are all its
    invoices, the run's included. None when the next run must take the full path anyway (see the module)."""
    if any(e.usages for e in events):
        return None
    existing = [inv for inv in invoices if inv.status is not InvoiceStatus.VOID]
    if any(inv.parent is not None or inv.is_parent_invoice for inv in existing) or account_cba(existing) != 0:
        return None
    items = [it for inv in existing for it in inv.items]
    if any(it.type is USAGE for it in items):
        return None
    evs = sorted(events, key=BillingEvent.sort_key)
    fixed_days = config.proration_fixed_days
    try:
        with localcontext(EXACT):
            trees = existing_trees(items, account.currency, fixed_days)
            merged = list(trees)
            # the run must be done: merging its proposals again gives nothing (Kill Bill's runs are idempotent)
            again = merged_view(trees, _proposals(account, evs, target_date, config, "", {}),
                                account_id=account.account_id, currency=account.currency, fixed_days=fixed_days,
                                invoice_id="", now=now)
    except IllegalInvoicingState:
        return None
    if again:
        return None
    today = account.time.local_date(now)
    ignored = fully_repaired_ids(items)
    fixed: dict[str | None, date] = {}
    recurring: dict[str | None, date] = {}
    made: Counter[str | None] = Counter()
    for inv in existing:
        for it in inv.items:
            sub = it.subscription_id
            if sub is None:
                continue
            if it.type is FIXED and it.start_date is not None:
                fixed[sub] = max(fixed.get(sub, it.start_date), it.start_date)
            elif it.type is RECURRING and it.end_date is not None:
                recurring[sub] = max(recurring.get(sub, it.end_date), it.end_date)
            created = it.created_date or inv.created_date
            if created is None:
                return None  # the full path counts it as made today, whatever the day
            if it.id not in ignored and account.time.local_date(created) == today:
                made[sub] += 1
    # subscriptions whose items are all fully repaired: not in the merge, but their dates still bound new items
    left_out = [sub for sub in dict.fromkeys([*fixed, *recurring]) if sub not in trees]
    max_target: date | None = None
    for inv in existing:
        if inv.target_date is not None and any(it.type is RECURRING for it in inv.items):
            max_target = inv.target_date if max_target is None else max(max_target, inv.target_date)
    marks = tuple(SubscriptionMark(sub, fixed.get(sub), recurring.get(sub), made[sub], sub not in left_out)
                  for sub in merged + left_out)
    return BillingCheckpoint(fingerprint(account, events, config), target_date, max_target, today, marks)


def generate_next(account: AccountBillingInfo, events: Sequence[BillingEvent], checkpoint: BillingCheckpoint,
                  target_date: date, config: GeneratorConfig, *, invoice_id: str, now: datetime,
                  fingerprint_now: str | None = None) -> GenerationResult | None:
    """What `generate_invoice` returns for the account, from its checkpoint instead of its invoices; None when
    anything differs from what the checkpoint knew (the caller takes the full path).

    Raises `TargetDateTooFar` as the full path does; `fingerprint_now` saves computing the fingerprint again."""
    if (fingerprint_now or fingerprint(account, events, config)) != checkpoint.fingerprint:
        return None
    validate_target_date(target_date, now, config)
    target = target_date if checkpoint.max_target is None else max(target_date, checkpoint.max_target)
    evs = sorted(events, key=BillingEvent.sort_key)
    dates: dict[str, NotificationDates] = {}
    try:
        new = _proposals(account, evs, target, config, invoice_id, dates, after=checkpoint.target_date)
    except NotIncremental:
        return None
    marks = {m.subscription_id: m for m in checkpoint.subscriptions}
    for it in new:
        if it.amount < 0:
            return None  # a credit: the account's balance decides
        mark = marks.get(it.subscription_id)
        if mark is not None:
            assert it.start_date is not None
            if it.type is FIXED and mark.fixed_through is not None and it.start_date <= mark.fixed_through:
                return None
            if mark.recurring_through is not None and it.start_date < mark.recurring_through:
                return None
    fixed_days = config.proration_fixed_days
    trees: dict[str | None, SubscriptionTree] = {}
    for m in checkpoint.subscriptions:  # the subscriptions in the order the full path would meet them
        if m.merged:
            tree = trees[m.subscription_id] = SubscriptionTree(account.currency, fixed_days)
            tree.build()
    try:
        with localcontext(EXACT):
            items = merged_view(trees, new, account_id=account.account_id, currency=account.currency,
                                fixed_days=fixed_days, invoice_id=invoice_id, now=now)
    except IllegalInvoicingState:
        return None
    today = account.time.local_date(now)
    made = {m.subscription_id: [today] * m.made_today for m in checkpoint.subscriptions
            if m.subscription_id is not None and m.made_today} if today == checkpoint.made_on else {}
    safety_bounds(items, made, today, config)
    reset_unused_notification_dates(dates, items)
    return GenerationResult(items, target, dates)


def advance(checkpoint: BillingCheckpoint, result: GenerationResult, account: AccountBillingInfo,
            now: datetime) -> BillingCheckpoint:
    """The checkpoint after a run that `generate_next` computed and whose items were written."""
    today = account.time.local_date(now)
    same_day = today == checkpoint.made_on
    marks = {m.subscription_id: m if same_day else replace(m, made_today=0) for m in checkpoint.subscriptions}
    for it in result.items:
        sub = it.subscription_id
        m = marks.get(sub) or SubscriptionMark(sub)
        if not m.merged:  # its tree now comes after the others, where a new subscription's does
            del marks[sub]
            m = replace(m, merged=True)
        if it.type is FIXED and it.start_date is not None:
            m = replace(m, fixed_through=max(m.fixed_through or it.start_date, it.start_date))
        elif it.type is RECURRING and it.end_date is not None:
            m = replace(m, recurring_through=max(m.recurring_through or it.end_date, it.end_date))
        marks[sub] = replace(m, made_today=m.made_today + 1)
    max_target = checkpoint.max_target
    if any(it.type is RECURRING for it in result.items):
        max_target = result.target_date if max_target is None else max(max_target, result.target_date)
    return BillingCheckpoint(checkpoint.fingerprint, result.target_date, max_target, today, tuple(marks.values()))
