"""End-to-end runs of the pure generator: billing events + existing invoices → new items.

Each test names the rule of billing-semantics.md (Part 4 section or Part 5 surprise) it checks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billow.catalog.model import BillingMode, BillingPeriod, Duration, PhaseType, TimeUnit
from billow.invoice import (
    GeneratorConfig,
    InArrearMode,
    InvoiceItem,
    InvoiceItemType,
    InvoiceStatus,
    InvoicingError,
    TargetDateTooFar,
    UsageResult,
    charged_through_dates,
    generate,
)
from tests.invoice.conftest import ACCOUNT_ID, Runner, T, account, d, ev, invoice_of, only, run, summary

R = InvoiceItemType.RECURRING
F = InvoiceItemType.FIXED
RA = InvoiceItemType.REPAIR_ADJ


# ------------------------------------------------------------------------------------------ 4.2 / 4.3 amounts

def test_leading_stub_is_invoiced_alone_then_the_period_on_the_cycle_date() -> None:
    # Part 5.8, scenario 3: 20.69 on Mar 2 (1/29 of 599.95), then 599.95 on Mar 3
    r = Runner([ev("2012-03-02", recurring="599.95", bcd=3)])
    assert summary(r.at("2012-03-02")) == [("RECURRING", "2012-03-02", "2012-03-03", "20.69")]
    assert r.at("2012-03-02") == []
    assert summary(r.at("2012-03-03")) == [("RECURRING", "2012-03-03", "2012-04-03", "599.95")]


@pytest.mark.parametrize(("start", "price", "expected", "fixed_days"), [
    ("2012-04-22", "249.95", "74.99", 0),  # 0.3 × 249.95 = 74.985 → 74.99 (4.3)
    ("2012-04-16", "29.95", "14.98", 0),  # 0.5 × 29.95 = 14.975 → 14.98
    ("2012-01-03", "199.96", "174.97", 24),  # 0.875 × 199.96 = 174.965 → 174.97 (21/24 with fixed days 24)
])
def test_half_up_rounding_examples(start: str, price: str, expected: str, fixed_days: int) -> None:
    bcd = 24 if fixed_days else 1
    res = run([ev(start, recurring=price, bcd=bcd)], [], start, config=GeneratorConfig(proration_fixed_days=fixed_days))
    assert [str(it.amount) for it in res.items] == [expected]


def test_rounding_is_two_step() -> None:
    # Part 5.1: round9(2/28) × 19.95 = 1.42499999… → 1.42, where the exact 2/28 × 19.95 = 1.425 would give 1.43
    res = run([ev("2013-02-27", recurring="19.95", bcd=1)], [], "2013-02-27")
    assert summary(res.items) == [("RECURRING", "2013-02-27", "2013-03-01", "1.42")]


def test_stub_ending_on_an_event_before_the_first_cycle_date() -> None:
    # Part 5.4, scenario 37: [2016-05-05, 2016-05-10) over 30 days = 99.99 for 599.95
    r = Runner([ev("2016-05-05", recurring="599.95", bcd=20), ev("2016-05-10", T.CANCEL)])
    assert summary(r.at("2016-05-10")) == [("RECURRING", "2016-05-05", "2016-05-10", "99.99")]


def test_bcd_31_clamps_per_month() -> None:
    # Part 5.6: from Mar 2 (2012) a 29/31 stub, then Mar 31, Apr 30, May 31 without drift
    r = Runner([ev("2012-03-02", recurring="31.00", bcd=31)])
    assert summary(r.at("2012-03-02")) == [("RECURRING", "2012-03-02", "2012-03-31", "29.00")]
    assert summary(r.at("2012-03-31")) == [("RECURRING", "2012-03-31", "2012-04-30", "31.00")]
    assert summary(r.at("2012-04-30")) == [("RECURRING", "2012-04-30", "2012-05-31", "31.00")]
    r2 = Runner([ev("2012-04-30", recurring="31.00", bcd=31)])
    assert summary(r2.at("2012-04-30")) == [("RECURRING", "2012-04-30", "2012-05-31", "31.00")]


def test_trailing_stub_reference_period_with_bcd_31() -> None:
    # Part 5.24: cancel May 15 after a cycle date of Apr 30 → [Apr 30, May 15) over [Apr 30, May 30) = 15/30
    r = Runner([ev("2012-03-31", recurring="30.00", bcd=31), ev("2012-05-15", T.CANCEL)])
    items = r.at("2012-05-15")
    assert summary(items) == [("RECURRING", "2012-03-31", "2012-04-30", "30.00"),
                              ("RECURRING", "2012-04-30", "2012-05-15", "15.00")]


def test_weekly_plan_ignores_bcd_and_restarts_on_each_event() -> None:
    # Part 5.7
    r = Runner([ev("2012-01-15", recurring="7.00", bcd=1, period=BillingPeriod.WEEKLY)])
    assert summary(r.at("2012-01-15")) == [("RECURRING", "2012-01-15", "2012-01-22", "7.00")]
    r.events.append(ev("2012-01-18", T.CHANGE, plan="plan-b", recurring="14.00", bcd=1,
                       period=BillingPeriod.WEEKLY))
    assert summary(r.at("2012-01-18")) == [("RECURRING", "2012-01-18", "2012-01-25", "14.00"),
                                           ("REPAIR_ADJ", "2012-01-18", "2012-01-22", "-4.00")]


def test_quantity_multiplies_rate_and_amount() -> None:
    res = run([ev("2012-01-01", recurring="9.99", quantity=3)], [], "2012-01-01")
    assert [(str(it.rate), str(it.amount)) for it in res.items] == [("29.97", "29.97")]


def test_zero_decimal_currency() -> None:
    res = run([ev("2012-01-16", recurring="1000", currency="JPY")], [], "2012-01-16", acct=account("JPY"))
    assert [str(it.amount) for it in res.items] == ["516"]  # round9(16/31) × 1000 = 516.129032 → 516


def test_annual_plan_bills_the_year() -> None:
    res = run([ev("2012-02-29", recurring="2399.95", bcd=29, period=BillingPeriod.ANNUAL, plan="plan-annual")], [],
              "2012-02-29")
    assert summary(res.items) == [("RECURRING", "2012-02-29", "2013-02-28", "2399.95")]


# ------------------------------------------------------------------------------------------------ 4.2 IN_ARREAR

def test_in_arrear_bills_after_the_period_and_on_cancel() -> None:
    arrear = dict(mode=BillingMode.IN_ARREAR, recurring="31.00", bcd=1)
    r = Runner([ev("2012-01-15", **arrear)])
    assert r.at("2012-01-31") == []
    assert summary(r.at("2012-02-01")) == [("RECURRING", "2012-01-15", "2012-02-01", "17.00")]
    r.events.append(ev("2012-02-10", T.CANCEL))
    # a cancel on the target date bills the trailing stub at once (issue #1907, Part 5.5)
    assert summary(r.at("2012-02-10")) == [("RECURRING", "2012-02-01", "2012-02-10", "9.62")]  # 9/29 × 31
    assert r.at("2012-03-01") == []


def test_in_arrear_greedy_mode() -> None:
    cfg = GeneratorConfig(in_arrear_mode=InArrearMode.GREEDY)
    res = run([ev("2012-01-01", mode=BillingMode.IN_ARREAR, recurring="31.00")], [], "2012-01-10", config=cfg)
    assert summary(res.items) == [("RECURRING", "2012-01-01", "2012-02-01", "31.00")]


# ------------------------------------------------------------------------------------------------ 4.4 FIXED

TRIAL = dict(plan="plan", phase_type=PhaseType.TRIAL, fixed="0", recurring=None,
             period=BillingPeriod.NO_BILLING_PERIOD, duration=Duration(TimeUnit.DAYS, 30))


def test_zero_trial_fixed_item_is_written_and_ends_at_the_phase_event() -> None:
    # Part 5.11: a $0 trial still yields a $0 FIXED item; end = next PHASE event's date
    r = Runner([ev("2012-02-01", **TRIAL), ev("2012-03-02", T.PHASE, recurring="249.95", bcd=2)])
    assert summary(r.at("2012-02-01")) == [("FIXED", "2012-02-01", "2012-03-02", "0.00")]
    assert r.at("2012-02-15") == []
    assert summary(r.at("2012-03-02")) == [("RECURRING", "2012-03-02", "2012-04-02", "249.95")]


def test_fixed_item_end_date_from_phase_duration_when_next_event_is_not_a_phase() -> None:
    r = Runner([ev("2012-02-01", **TRIAL)])
    assert summary(r.at("2012-02-01")) == [("FIXED", "2012-02-01", "2012-03-02", "0.00")]  # 30 days, leap year


def test_fixed_price_with_recurring_has_no_end_date_and_is_never_credited() -> None:
    # 4.4: refurbish-maintenance style set-up fee; a cancel does not credit it
    r = Runner([ev("2012-01-01", fixed="599.95", recurring="10.00")])
    assert summary(r.at("2012-01-01")) == [("FIXED", "2012-01-01", None, "599.95"),
                                           ("RECURRING", "2012-01-01", "2012-02-01", "10.00")]
    r.events.append(ev("2012-01-11", T.CANCEL))
    items = r.at("2012-01-11")
    assert summary(items) == [("REPAIR_ADJ", "2012-01-11", "2012-02-01", "-6.77")]  # 21/31 × 10


def test_same_day_events_only_the_last_fixed_price_counts() -> None:
    # 4.4 / Part 5.11-12: create then change the same day: one FIXED item, the last one; the first plan bills nothing
    evs = [ev("2012-01-01", fixed="5.00", recurring="10.00", ordering=0),
           ev("2012-01-01", T.CHANGE, plan="plan-b", fixed="7.00", recurring="20.00", ordering=1)]
    res = run(evs, [], "2012-01-01")
    assert summary(res.items) == [("FIXED", "2012-01-01", None, "7.00"),
                                  ("RECURRING", "2012-01-01", "2012-02-01", "20.00")]
    assert only(res.items, R)[0].plan_name == "plan-b"


def test_same_day_cancel_drops_the_fixed_item() -> None:
    # 4.4: the last event of the day has no fixed price → no FIXED item at all
    res = run([ev("2012-01-01", fixed="5.00", recurring="10.00"), ev("2012-01-01", T.CANCEL, ordering=1)], [],
              "2012-01-01")
    assert res.items == []


def test_bcd_change_never_recharges_a_fixed_price() -> None:
    r = Runner([ev("2012-01-01", fixed="5.00", recurring="31.00")])
    r.at("2012-01-01")
    r.events.append(ev("2012-01-15", T.BCD_CHANGE, fixed="5.00", recurring="31.00", bcd=15))
    items = r.at("2012-01-15")
    assert only(items, F) == []


# ------------------------------------------------------------------------------------------------ 4.5 repair

def test_immediate_upgrade_repairs_and_bills_the_new_plan() -> None:
    r = Runner([ev("2012-01-01", recurring="249.95")])
    r.at("2012-01-01")
    r.events.append(ev("2012-01-02", T.CHANGE, plan="plan-b", recurring="500.00"))
    items = r.at("2012-01-02")
    assert summary(items) == [("RECURRING", "2012-01-02", "2012-02-01", "483.87"),  # 30/31 × 500
                              ("REPAIR_ADJ", "2012-01-02", "2012-02-01", "-241.89")]  # 30/31 × 249.95
    first = r.invoices[0].items[0]
    assert only(items, RA)[0].linked_item_id == first.id
    assert only(items, RA)[0].catalog_effective_date is None  # Part 5.23
    assert only(items, R)[0].catalog_effective_date is not None
    assert r.at("2012-01-02") == []


def test_immediate_cancel_repairs_the_rest_and_bills_nothing_more() -> None:
    r = Runner([ev("2012-01-01", recurring="10.00")])
    r.at("2012-02-01")
    r.events.append(ev("2012-02-15", T.CANCEL))
    assert summary(r.at("2012-02-15")) == [("REPAIR_ADJ", "2012-02-15", "2012-03-01", "-5.17")]  # 15/29
    assert r.at("2012-06-01") == []


def test_end_of_term_cancel_repairs_nothing() -> None:
    r = Runner([ev("2012-01-01", recurring="10.00"), ev("2012-02-01", T.CANCEL)])
    assert summary(r.at("2012-01-01")) == [("RECURRING", "2012-01-01", "2012-02-01", "10.00")]
    assert r.at("2012-02-01") == []


def test_change_on_the_phase_start_day_repairs_the_whole_period() -> None:
    # 4.5: e.g. −2399.95 for an annual item
    annual = dict(plan="plan-annual", period=BillingPeriod.ANNUAL, recurring="2399.95", bcd=1)
    r = Runner([ev("2012-01-01", **annual)])
    r.at("2012-01-01")
    r.events.append(ev("2012-01-01", T.CHANGE, plan="plan-b", recurring="10.00", ordering=1))
    items = r.at("2012-01-01")
    assert summary(items) == [("RECURRING", "2012-01-01", "2012-02-01", "10.00"),
                              ("REPAIR_ADJ", "2012-01-01", "2013-01-01", "-2399.95")]


def test_item_adjustment_caps_the_repair() -> None:
    # scenario 7: −239.95 instead of −241.89 after a $10 item adjustment
    r = Runner([ev("2012-01-01", recurring="249.95")])
    r.at("2012-01-01")
    original = r.invoices[0].items[0]
    adj = InvoiceItem(id="adj-1", invoice_id=r.invoices[0].id, account_id=ACCOUNT_ID, type=InvoiceItemType.ITEM_ADJ,
                      start_date=d("2012-01-01"), end_date=d("2012-01-01"), amount=Decimal("-10.00"), currency="USD",
                      linked_item_id=original.id)
    r.invoices.append(invoice_of([adj], "2012-01-01"))
    r.events.append(ev("2012-01-02", T.CANCEL))
    assert summary(r.at("2012-01-02")) == [("REPAIR_ADJ", "2012-01-02", "2012-02-01", "-239.95")]


def test_pause_and_resume() -> None:
    # 4.5: pause = cancel at the pause date; resume = new leading stub to the next cycle date
    r = Runner([ev("2012-01-01", recurring="31.00")])
    r.at("2012-01-01")
    r.events.append(ev("2012-01-11", T.START_BILLING_DISABLED))
    assert summary(r.at("2012-01-11")) == [("REPAIR_ADJ", "2012-01-11", "2012-02-01", "-21.00")]
    r.events.append(ev("2012-01-21", T.END_BILLING_DISABLED, recurring="31.00"))
    assert summary(r.at("2012-01-21")) == [("RECURRING", "2012-01-21", "2012-02-01", "11.00")]
    assert summary(r.at("2012-02-01")) == [("RECURRING", "2012-02-01", "2012-03-01", "31.00")]
    assert r.at("2012-02-01") == []


def test_bcd_change_bills_only_beyond_the_old_item() -> None:
    # 4.5, scenarios 35–39: the old item stays while same-kind pieces cover it
    r = Runner([ev("2014-05-01", recurring="10.00", bcd=1)])
    r.at("2014-05-01")
    r.events.append(ev("2014-05-15", T.BCD_CHANGE, recurring="10.00", bcd=15))
    items = r.at("2014-05-15")
    # proposed [May 15, Jun 15) 10.00 split at Jun 1: the part beyond is 10 − round9(17/31)×10 = 4.516… → 4.52
    assert summary(items) == [("RECURRING", "2014-06-01", "2014-06-15", "4.52")]
    assert r.at("2014-05-20") == []


def test_zero_recurring_items_are_never_repaired() -> None:
    # Part 5.15, scenario 19
    r = Runner([ev("2012-01-01", recurring="0")])
    assert summary(r.at("2012-01-01")) == [("RECURRING", "2012-01-01", "2012-02-01", "0.00")]
    r.events.append(ev("2012-01-15", T.CANCEL))
    assert summary(r.at("2012-01-15")) == [("RECURRING", "2012-01-01", "2012-01-15", "0.00")]


# ------------------------------------------------------------------------------------------ statuses, target date

def test_voided_periods_are_rebilled() -> None:
    # Part 5.13, scenario 42
    r = Runner([ev("2012-01-01", recurring="10.00")])
    r.at("2012-01-01")
    first = r.invoices[0]
    r.invoices[0] = invoice_of(first.items, "2012-01-01", status=InvoiceStatus.VOID, invoice_id=first.id)
    assert summary(r.at("2012-01-05")) == [("RECURRING", "2012-01-01", "2012-02-01", "10.00")]


def test_draft_items_count_as_invoiced() -> None:
    # Part 5.14
    r = Runner([ev("2012-01-01", recurring="10.00")])
    r.at("2012-01-01", status=InvoiceStatus.DRAFT)
    assert r.at("2012-01-10") == []


def test_target_date_only_moves_forward() -> None:
    # Part 5.16, 4.1: an invoice generated into the future raises later runs' target dates
    r = Runner([ev("2012-01-01", recurring="10.00")])
    assert len(r.at("2012-04-01")) == 4
    res = run(r.events, r.invoices, "2012-02-01")
    assert res.target_date == d("2012-04-01")
    assert res.items == []
    r.events.append(ev("2012-02-15", T.CANCEL))
    res = run(r.events, r.invoices, "2012-02-15")
    assert summary(res.items) == [("REPAIR_ADJ", "2012-02-15", "2012-03-01", "-5.17"),
                                  ("REPAIR_ADJ", "2012-03-01", "2012-04-01", "-10.00"),
                                  ("REPAIR_ADJ", "2012-04-01", "2012-05-01", "-10.00")]


def test_target_date_not_raised_by_invoices_without_recurring_or_usage() -> None:
    inv = invoice_of([InvoiceItem(id="x", invoice_id="i", account_id=ACCOUNT_ID,
                                  type=InvoiceItemType.EXTERNAL_CHARGE, start_date=d("2013-01-01"), end_date=None,
                                  amount=Decimal("5.00"), currency="USD")], "2013-01-01")
    res = run([ev("2012-01-01", recurring="10.00")], [inv], "2012-01-01")
    assert res.target_date == d("2012-01-01")
    assert len(res.items) == 1


def test_target_date_too_far_in_the_future() -> None:
    with pytest.raises(TargetDateTooFar) as err:
        run([ev("2012-01-01")], [], "2015-02-01", now=datetime(2012, 1, 1, tzinfo=UTC))
    assert err.value.code == 4005
    unbounded = GeneratorConfig(max_daily_items_safety_bound=-1)
    assert len(run([ev("2012-01-01")], [], "2015-01-01", now=datetime(2012, 1, 1, tzinfo=UTC),
                   config=unbounded).items) == 37


def test_safety_bound_on_items_per_subscription_per_day() -> None:
    # 4.5 step 5: default 15 items per subscription per day
    evs = [ev("2012-01-01", recurring="1.00", period=BillingPeriod.DAILY)]
    with pytest.raises(InvoicingError) as err:
        run(evs, [], "2012-01-16")
    assert "SAFETY BOUND" in err.value.message
    assert len(run(evs, [], "2012-01-15").items) == 15
    assert len(run(evs, [], "2012-01-16", config=GeneratorConfig(max_daily_items_safety_bound=-1)).items) == 16


def test_safety_bound_counts_items_created_earlier_the_same_day() -> None:
    evs = [ev("2012-01-01", recurring="1.00", period=BillingPeriod.DAILY)]
    first = run(evs, [], "2012-01-10", now=datetime(2012, 1, 10, 9, tzinfo=UTC))
    inv = invoice_of(first.items, "2012-01-10")
    with pytest.raises(InvoicingError):
        run(evs, [inv], "2012-01-16", now=datetime(2012, 1, 10, 10, tzinfo=UTC))
    assert len(run(evs, [inv], "2012-01-16", now=datetime(2012, 1, 11, 10, tzinfo=UTC)).items) == 6


def test_running_twice_produces_nothing() -> None:
    r = Runner([ev("2012-01-01", fixed="5.00", recurring="10.00"), ev("2012-03-10", T.CHANGE, plan="plan-b",
                                                                        recurring="20.00")])
    assert len(r.at("2012-05-01")) > 0
    assert r.at("2012-05-01") == []
    assert r.at("2012-04-15") == []


def test_auto_invoicing_off_subscriptions_are_skipped() -> None:
    evs = [ev("2012-01-01", sub="a"), ev("2012-01-01", sub="b")]
    items = generate(account(), evs, [], d("2012-01-01"), GeneratorConfig(), invoice_id="i",
                     now=datetime(2012, 1, 1, tzinfo=UTC), skip_subscriptions={"b"})
    assert [it.subscription_id for it in items] == ["a"]


# ------------------------------------------------------------------------------------------------ 4.10 time zones

def test_fixed_offset_from_reference_time_ignores_dst() -> None:
    # Part 5.17: LA account created in summer (−7); an event at 07:30Z on Dec 1 is Dec 1 locally (real PST would
    # give Nov 30)
    acct = account(tz="America/Los_Angeles", reference=datetime(2015, 8, 1, 7, 1, 1, tzinfo=UTC))
    assert acct.time.instant(date(2015, 12, 1)) == datetime(2015, 12, 1, 7, 1, 1, tzinfo=UTC)
    e = ev(datetime(2015, 12, 1, 7, 30, tzinfo=UTC), bcd=1)
    res = run([e], [], "2015-12-01", acct=acct)
    assert summary(res.items) == [("RECURRING", "2015-12-01", "2016-01-01", "10.00")]
    winter = account(tz="America/Los_Angeles", reference=datetime(2015, 1, 1, 8, 0, tzinfo=UTC))
    assert winter.time.local_date(datetime(2015, 7, 1, 7, 30, tzinfo=UTC)) == date(2015, 6, 30)


# ------------------------------------------------------------------------------------------------ metadata

def test_notification_dates_and_charged_through_dates() -> None:
    evs = [ev("2012-01-01", sub="adv", recurring="10.00"),
           ev("2012-01-15", sub="arr", recurring="10.00", mode=BillingMode.IN_ARREAR)]
    res = run(evs, [], "2012-01-01")
    assert res.notification_dates["adv"].next_recurring_date == d("2012-02-01")
    assert "arr" not in res.notification_dates  # starts after the target date
    res = run(evs, [], "2012-01-20")
    assert res.notification_dates["arr"].next_recurring_date == d("2012-02-01")
    assert charged_through_dates(res.items) == {"adv": d("2012-02-01")}
    inv = invoice_of(res.items, "2012-01-20")
    again = run(evs, [inv], "2012-01-20")
    assert again.items == []
    assert again.notification_dates["adv"].next_recurring_date is None  # nothing written → no loop


def test_usage_seam_receives_adjusted_target_and_its_items_are_added() -> None:
    seen: list[date] = []

    def usage(acct, events, existing, target, config, *, invoice_id, now):  # type: ignore[no-untyped-def]
        seen.append(target)
        item = InvoiceItem(id="u1", invoice_id=invoice_id, account_id=acct.account_id, type=InvoiceItemType.USAGE,
                           start_date=d("2012-01-01"), end_date=d("2012-02-01"), amount=Decimal("0.00"),
                           currency="USD", subscription_id="sub-1", quantity=Decimal(0))
        return UsageResult(items=[item])

    evs = [ev("2012-01-01")]
    items = generate(account(), evs, [], d("2012-02-01"), GeneratorConfig(), invoice_id="i",
                     now=datetime(2012, 2, 1, tzinfo=UTC), usage=usage)
    assert seen == [d("2012-02-01")]
    assert [it.type for it in items].count(InvoiceItemType.USAGE) == 1
    items = generate(account(), evs, [], d("2012-02-01"), GeneratorConfig(usage_zero_amount_disabled=True),
                     invoice_id="i", now=datetime(2012, 2, 1, tzinfo=UTC), usage=usage)
    assert [it.type for it in items].count(InvoiceItemType.USAGE) == 0
