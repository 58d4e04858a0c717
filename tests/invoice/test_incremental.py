"""The incremental run (`billow.invoice.incremental`) against the full generator.

The property: over random histories (several subscriptions, plan changes, pauses, cancellations, trial phases
with fixed prices, in-advance and in-arrear, BCD changes, events learnt late, item adjustments, voided invoices,
several runs on one day), whenever the incremental run answers, it answers exactly what the full generator does:
the same items in the same order, the same target date and the same next billing dates; and the checkpoint it
leaves is the one a full run would leave.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billow.catalog.model import BillingMode, BillingPeriod, Duration, PhaseType, TimeUnit
from billow.invoice import AccountBillingInfo, GeneratorConfig, Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus
from billow.invoice.generator import GenerationResult, InvoicingError, TargetDateTooFar, generate_invoice
from billow.invoice.incremental import BillingCheckpoint, advance, checkpoint_after, fingerprint, generate_next
from billow.junction.model import BillingEvent
from tests.invoice.conftest import ACCOUNT_ID, T, account, ev

PERIODS = [BillingPeriod.MONTHLY, BillingPeriod.MONTHLY, BillingPeriod.QUARTERLY, BillingPeriod.ANNUAL,
           BillingPeriod.WEEKLY, BillingPeriod.THIRTY_DAYS, BillingPeriod.BIWEEKLY, BillingPeriod.DAILY]
BASE = date(2012, 1, 1)
RECURRING = InvoiceItemType.RECURRING


def _strip(items: list[InvoiceItem]) -> list[tuple[Any, ...]]:
    """An item without its own id (each run draws new ones)."""
    return [dataclasses.astuple(dataclasses.replace(it, id="")) for it in items]


def _dates(result: GenerationResult) -> dict[str, tuple[Any, ...]]:
    return {sub: (nd.billing_mode, nd.next_recurring_date, dict(nd.next_usage_dates))
            for sub, nd in result.notification_dates.items()}


@st.composite
def subscription(draw: st.DrawFn, n: int, currency: str) -> list[BillingEvent]:
    """One subscription's events: maybe a trial with a fixed price, then changes, pauses, maybe a cancel."""
    sub, bundle = f"sub-{n}", f"bundle-{n % 2}"
    period = draw(st.sampled_from(PERIODS))
    mode = draw(st.sampled_from([BillingMode.IN_ADVANCE, BillingMode.IN_ADVANCE, BillingMode.IN_ARREAR]))
    bcd = draw(st.integers(1, 31))
    places = 0 if currency == "JPY" else 2
    prices = st.decimals(min_value=Decimal(0), max_value=Decimal(5000), places=places)
    when = BASE + timedelta(days=draw(st.integers(0, 90)))
    common: dict[str, Any] = {"sub": sub, "bundle": bundle, "currency": currency, "period": period, "mode": mode}
    events = []
    if draw(st.booleans()):  # a 30-day trial: a fixed price, no recurring price, then the evergreen phase
        events.append(ev(when, plan="plan-a", phase_type=PhaseType.TRIAL, fixed=str(draw(prices)), recurring=None,
                         bcd=bcd, duration=Duration(TimeUnit.DAYS, 30), **common))
        when += timedelta(days=30)
        events.append(ev(when, T.PHASE, plan="plan-a", recurring=str(draw(prices)), bcd=bcd, ordering=1, **common))
    else:
        events.append(ev(when, plan="plan-a", recurring=str(draw(prices)), bcd=bcd,
                         fixed=str(draw(prices)) if draw(st.booleans()) else None, **common))
    for i in range(draw(st.integers(0, 4))):
        when += timedelta(days=draw(st.integers(0, 120)))
        kind = draw(st.sampled_from([T.CHANGE, T.CHANGE, T.BCD_CHANGE, T.START_BILLING_DISABLED, T.CANCEL]))
        if kind is T.CANCEL or kind is T.START_BILLING_DISABLED:
            events.append(ev(when, kind, ordering=i + 2, **common))
            if kind is T.CANCEL:
                break
            when += timedelta(days=draw(st.integers(1, 40)))
            kind = T.END_BILLING_DISABLED
        if kind is T.BCD_CHANGE:
            bcd = draw(st.integers(1, 31))
        events.append(ev(when, kind, plan=draw(st.sampled_from(["plan-a", "plan-b"])), recurring=str(draw(prices)),
                         bcd=bcd, ordering=i + 2, **common))
    return events


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(st.sampled_from(["USD", "USD", "EUR", "JPY"]))
    events = [e for n in range(draw(st.integers(1, 3))) for e in draw(subscription(n, currency))]
    steps = []
    day = BASE + timedelta(days=draw(st.integers(0, 60)))
    for _ in range(draw(st.integers(2, 14))):
        day += timedelta(days=draw(st.sampled_from([0, 1, 7, 15, 30, 31, 45, 92])))
        steps.append({"day": day, "lookahead": draw(st.sampled_from([0, 0, 0, 45, 400])),
                      "change": draw(st.sampled_from([None] * 8 + ["adjust", "void", "migrate", "migrate"])),
                      "pick": draw(st.integers(0, 10_000))})
    config = draw(st.sampled_from([GeneratorConfig(), GeneratorConfig(max_daily_items_safety_bound=-1),
                                   GeneratorConfig(proration_fixed_days=30, max_daily_items_safety_bound=-1)]))
    return {"account": account(currency, tz=draw(st.sampled_from(["UTC", "America/Los_Angeles", "Asia/Tokyo"]))),
            "events": events, "steps": steps, "config": config}


class Account:
    """An account's invoices and checkpoint, driven run after run as the billing run does."""

    def __init__(self, acct: AccountBillingInfo, config: GeneratorConfig) -> None:
        self.acct = acct
        self.config = config
        self.invoices: list[Invoice] = []
        self.checkpoint: BillingCheckpoint | None = None
        self.fast = 0
        self.n = 0
        self.subscriptions: set[str] = set()

    def run(self, events: list[BillingEvent], day: date, now: datetime | None = None) -> None:
        self.n += 1
        invoice_id = f"inv-{self.n}"
        self.subscriptions.update(e.subscription_id for e in events)
        now = now or datetime.combine(day, time(12, 0), tzinfo=UTC) + timedelta(minutes=self.n)
        try:
            full = generate_invoice(self.acct, events, self.invoices, day, self.config, invoice_id=invoice_id,
                                    now=now)
        except (InvoicingError, TargetDateTooFar) as e:
            if self.checkpoint is not None:  # the incremental run refuses alike, or leaves it to the full path
                with contextlib.suppress(type(e)):
                    generate_next(self.acct, events, self.checkpoint, day, self.config, invoice_id=invoice_id,
                                  now=now)
            self.checkpoint = None
            return
        fast = None
        if self.checkpoint is not None:
            fast = generate_next(self.acct, events, self.checkpoint, day, self.config, invoice_id=invoice_id, now=now)
        if fast is not None:
            self.fast += 1
            assert _strip(fast.items) == _strip(full.items)
            assert fast.target_date == full.target_date
            assert _dates(fast) == _dates(full)
        if full.items:
            self.invoices.append(Invoice(id=invoice_id, account_id=ACCOUNT_ID, invoice_date=day,
                                         target_date=full.target_date, currency=self.acct.currency,
                                         status=InvoiceStatus.COMMITTED, items=tuple(full.items), created_date=now))
        after = checkpoint_after(self.acct, events, self.invoices, full.target_date, self.config, now)
        if fast is not None and self.checkpoint is not None:
            advanced = advance(self.checkpoint, fast, self.acct, now)
            assert after == advanced  # the incremental run leaves the checkpoint a full run would
            # and it survives the database (JSON)
            assert BillingCheckpoint.from_json(advanced.to_json()) == advanced
        self.checkpoint = after

    def change(self, kind: str, pick: int, day: date) -> None:
        """A change to the history outside the runs: the billing run sees it and drops the checkpoint."""
        self.checkpoint = None
        if kind == "migrate" and self.subscriptions:  # a migration invoice: items billed elsewhere, any period
            sub = sorted(self.subscriptions)[pick % len(self.subscriptions)]
            start = day + timedelta(days=pick % 90)
            item = InvoiceItem(id=f"mig-{self.n}-{pick}", invoice_id=f"mig-{self.n}", account_id=ACCOUNT_ID,
                               type=RECURRING if pick % 3 else InvoiceItemType.FIXED, start_date=start,
                               end_date=start + timedelta(days=30), amount=Decimal(pick % 50), currency="USD",
                               subscription_id=sub, plan_name="plan-a", phase_name="plan-a-evergreen",
                               rate=Decimal(pick % 50))
            self.invoices.append(Invoice(id=item.invoice_id, account_id=ACCOUNT_ID, invoice_date=day,
                                         target_date=None, currency=self.acct.currency, migrated=True,
                                         created_date=datetime.combine(day, time(8), tzinfo=UTC),
                                         status=InvoiceStatus.COMMITTED, items=(dataclasses.replace(
                                             item, currency=self.acct.currency),)))
            return
        live = [i for i, inv in enumerate(self.invoices) if inv.status is InvoiceStatus.COMMITTED]
        if not live:
            return
        at = live[pick % len(live)]
        inv = self.invoices[at]
        if kind == "void":
            self.invoices[at] = dataclasses.replace(inv, status=InvoiceStatus.VOID)
        else:
            recurring = [it for it in inv.items if it.type is RECURRING and it.amount > 0]
            if not recurring:
                return
            item = recurring[pick % len(recurring)]
            adj = InvoiceItem(id=f"adj-{self.n}-{pick}", invoice_id=inv.id, account_id=ACCOUNT_ID,
                              type=InvoiceItemType.ITEM_ADJ, start_date=day, end_date=day,
                              amount=-(item.amount / 2).quantize(item.amount), currency=item.currency,
                              linked_item_id=item.id)
            self.invoices[at] = dataclasses.replace(inv, items=inv.items + (adj,))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_the_incremental_run_bills_exactly_what_the_full_generator_does(history: dict[str, Any]) -> None:
    a = Account(history["account"], history["config"])
    events: list[BillingEvent] = history["events"]
    for step in history["steps"]:
        day = step["day"]
        # events become known progressively (those up to the run date, sometimes some ahead of it), as the
        # junction would see them: a new one changes the fingerprint
        known = [e for e in events if a.acct.time.local_date(e.effective_date) <= day + timedelta(step["lookahead"])]
        if not known:
            continue
        if step["change"] is not None:
            a.change(step["change"], step["pick"], day)
        a.run(known, day)


# ------------------------------------------------------------------------------------------ when it applies


def _monthly(acct: AccountBillingInfo | None = None) -> list[BillingEvent]:
    return [ev("2012-01-05", recurring="10.00", bcd=5, acct=acct),
            ev("2012-01-05", sub="sub-2", bundle="bundle-2", recurring="3.50", bcd=5, acct=acct,
               period=BillingPeriod.QUARTERLY)]


def test_a_steady_history_is_billed_incrementally_after_the_first_full_run() -> None:
    a = Account(account(), GeneratorConfig())
    events = _monthly()
    for month in range(1, 14):
        a.run(events, date(2012 + (month - 1) // 12, (month - 1) % 12 + 1, 5))
    assert a.fast == 12  # every run after the first
    assert len(a.invoices) == 13
    assert [len(inv.items) for inv in a.invoices[:4]] == [2, 1, 1, 2]


def test_a_second_run_on_the_same_day_counts_that_days_items_for_the_safety_bound() -> None:
    a = Account(account(), GeneratorConfig(max_daily_items_safety_bound=2))
    daily = [ev("2012-01-05", recurring="1.00", period=BillingPeriod.DAILY)]
    a.run(daily, date(2012, 1, 5))
    assert a.checkpoint is not None and a.checkpoint.subscriptions[0].made_today == 1
    a.run(daily, date(2012, 1, 6), datetime(2012, 1, 5, 13, tzinfo=UTC))  # same day, one more item: 2, the bound
    assert a.fast == 1 and len(a.invoices) == 2
    assert a.checkpoint is not None
    with pytest.raises(InvoicingError, match="SAFETY BOUND"):
        generate_next(a.acct, daily, a.checkpoint, date(2012, 1, 7), a.config, invoice_id="x",
                      now=datetime(2012, 1, 5, 14, tzinfo=UTC))


@pytest.mark.parametrize("what", ["event", "price", "account", "config"])
def test_any_change_to_what_the_generator_reads_takes_the_full_path(what: str) -> None:
    acct = account()
    events = _monthly(acct)
    a = Account(acct, GeneratorConfig())
    a.run(events, date(2012, 1, 5))
    cp = a.checkpoint
    assert cp is not None
    config = a.config
    if what == "event":
        events = [*events, ev("2012-02-20", T.CANCEL, ordering=1)]
    elif what == "price":
        events = [dataclasses.replace(events[0], recurring_price=Decimal("10.01")), events[1]]
    elif what == "account":
        acct = dataclasses.replace(acct, bill_cycle_day=6)
    else:
        config = GeneratorConfig(proration_fixed_days=30)
    assert fingerprint(acct, events, config) != cp.fingerprint
    assert generate_next(acct, events, cp, date(2012, 2, 5), config, invoice_id="x",
                         now=datetime(2012, 2, 5, 12, tzinfo=UTC)) is None


def test_accounts_the_incremental_run_cannot_follow_get_no_checkpoint() -> None:
    acct = account()
    now = datetime(2012, 1, 5, 12, tzinfo=UTC)
    events = _monthly(acct)
    full = generate_invoice(acct, events, [], date(2012, 1, 5), GeneratorConfig(), invoice_id="i1", now=now)
    inv = Invoice(id="i1", account_id=ACCOUNT_ID, invoice_date=date(2012, 1, 5), target_date=date(2012, 1, 5),
                  currency="USD", status=InvoiceStatus.COMMITTED, items=tuple(full.items), created_date=now)
    assert checkpoint_after(acct, events, [inv], date(2012, 1, 5), GeneratorConfig(), now) is not None
    # account credit: the next invoice's balance would take it
    cba = InvoiceItem(id="c", invoice_id="i1", account_id=ACCOUNT_ID, type=InvoiceItemType.CBA_ADJ,
                      start_date=date(2012, 1, 5), end_date=date(2012, 1, 5), amount=Decimal(5), currency="USD")
    credited = dataclasses.replace(inv, items=inv.items + (cba,))
    assert checkpoint_after(acct, events, [credited], date(2012, 1, 5), GeneratorConfig(), now) is None
    # a run that is not done: merging its proposals again would bill something
    assert checkpoint_after(acct, events, [], date(2012, 1, 5), GeneratorConfig(), now) is None
    # IN_ARREAR usage: the usage rater reads the invoices
    with_usage = [dataclasses.replace(events[0], usages=("u",)), events[1]]  # type: ignore[arg-type]
    assert checkpoint_after(acct, with_usage, [inv], date(2012, 1, 5), GeneratorConfig(), now) is None


@pytest.mark.parametrize("kind", [InvoiceItemType.FIXED, RECURRING])
def test_an_item_billed_ahead_elsewhere_takes_the_full_path(kind: InvoiceItemType) -> None:
    # a migration invoice holds the next phase's fixed price, or a $0 period: the full path matches the proposed
    # item with it (never repaired, only matched) and bills nothing for it; the incremental run must not either
    acct = account()
    if kind is RECURRING:
        events = [ev("2012-01-01", recurring="0")]
    else:
        events = [ev("2012-01-01", plan="plan-a", phase_type=PhaseType.TRIAL, fixed="0", recurring=None,
                     duration=Duration(TimeUnit.DAYS, 31)),
                  ev("2012-02-01", T.PHASE, plan="plan-a", fixed="5", recurring="10", ordering=1)]
    billed = InvoiceItem(id="m1", invoice_id="m", account_id=ACCOUNT_ID, type=kind, start_date=date(2012, 2, 1),
                         end_date=date(2012, 3, 1), amount=Decimal(5 if kind is InvoiceItemType.FIXED else 0),
                         currency="USD", subscription_id="sub-1", bundle_id="bundle-1",
                         plan_name=events[-1].plan_name, phase_name=events[-1].phase_name,
                         rate=None if kind is InvoiceItemType.FIXED else Decimal(0))
    a = Account(acct, GeneratorConfig())
    a.invoices.append(Invoice(id="m", account_id=ACCOUNT_ID, invoice_date=date(2012, 1, 1), target_date=None,
                              currency="USD", status=InvoiceStatus.COMMITTED, items=(billed,), migrated=True,
                              created_date=datetime(2012, 1, 1, tzinfo=UTC)))
    a.run(events, date(2012, 1, 1))
    assert a.checkpoint is not None
    now = datetime(2012, 2, 1, 12, tzinfo=UTC)
    full = generate_invoice(acct, events, a.invoices, date(2012, 2, 1), a.config, invoice_id="x", now=now)
    assert not [it for it in full.items if it.type is kind and it.start_date == date(2012, 2, 1)]
    assert generate_next(acct, events, a.checkpoint, date(2012, 2, 1), a.config, invoice_id="x", now=now) is None
