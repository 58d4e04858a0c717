"""Invoicing scenarios on Kill Bill's OWN reference catalogs, driven by the test clock, on SQLite and PostgreSQL.

Each test replays one of Kill Bill's beatrix integration tests (killbill/killbill,
beatrix/src/test/java/org/killbill/billing/beatrix/integration/...) on the very catalog that test uses, loaded as is
from ../shared/reference/catalogs, and asserts Kill Bill's ExpectedInvoiceItemCheck figures (type, start, end,
amount). Where a figure is not asserted by Kill Bill's test it is derived from billing-semantics.md and the
arithmetic is shown.

One difference of set-up is deliberate: beatrix accounts have a payment method, so Kill Bill pays each invoice as it
is written; Billow has no payment service yet, so invoices stay unpaid. That changes only where account credit goes
(CBA_ADJ items, 4.7: credit pays the oldest unpaid invoice); RECURRING/FIXED/REPAIR_ADJ/ITEM_ADJ items are
unaffected. Those CBA items are asserted as Billow's rules give them, with the reasoning, next to Kill Bill's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from billow.app import Billow
from billow.catalog.model import BillingPeriod
from billow.core.context import CallContext
from billow.entitlement.model import BillingActionPolicy, EntitlementActionPolicy
from billow.invoice.model import InvoiceItemType as T
from billow.invoice.model import InvoiceStatus
from billow.invoice.service import ItemInput, NothingToInvoice
from tests.invoice.reference import RefWorld, items
from tests.invoice.reference import new_world as world

R, FX, REP, CBA, ADJ, EXT, CR = ("RECURRING", "FIXED", "REPAIR_ADJ", "CBA_ADJ", "ITEM_ADJ", "EXTERNAL_CHARGE",
                                 "CREDIT_ADJ")
MONTHLY, ANNUAL, QUARTERLY = BillingPeriod.MONTHLY, BillingPeriod.ANNUAL, BillingPeriod.QUARTERLY
DEFAULT = "beatrix/default/catalogTest.xml"
IN_ARREAR = "beatrix/testWithInArrearSubscriptions/InArrearCatalog.xml"
IN_ARREAR_CHANGE_CANCEL = "beatrix/testInArrearChangeCancel/in_arrear.xml"
DAILY = "beatrix/testCatalogDailyBilling/catalog.xml"
BILLED = (T.RECURRING, T.FIXED, T.REPAIR_ADJ, T.ITEM_ADJ, T.EXTERNAL_CHARGE)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


# ------------------------------------------------------------------------------------------ trial → evergreen, BCD


def test_trial_upgrade_in_trial_evergreen_then_eot_downgrade_and_eot_cancel(billow: Billow,
                                                                             tenant_ctx: CallContext) -> None:
    """TestIntegration.testBasePlanCompleteWithBillingDayAlignedWithTrial (account BCD 2)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 2, 1, 0, 3, 42), bcd=2)
    sid = w.create(product="Shotgun", period=MONTHLY)
    [first] = w.invoices()
    assert items(first) == [(FX, date(2012, 2, 1), date(2012, 3, 2), D(0))]
    assert w.ctd(sid) == date(2012, 3, 2)

    # change IMMEDIATE during the trial (Shotgun → Assault-Rifle): the new trial's $0 FIXED item, nothing else
    w.set_time(at(2012, 2, 1, 0, 3, 43))
    w.change(sid, product="Assault-Rifle", period=MONTHLY)
    invs = w.invoices()
    assert len(invs) == 2 and items(invs[1]) == [(FX, date(2012, 2, 1), date(2012, 3, 2), D(0))]
    assert w.ctd(sid) == date(2012, 3, 2)

    for day in (at(2012, 2, 28, 23, 59, 59), at(2012, 2, 29, 23, 59, 59), at(2012, 3, 1, 23, 59, 59)):
        w.set_time(day)
    assert len(w.invoices()) == 2
    w.set_time(at(2012, 3, 2, 23, 59, 59))  # PHASE → evergreen
    invs = w.invoices()
    assert items(invs[2]) == [(R, date(2012, 3, 2), date(2012, 4, 2), D("599.95"))]
    assert w.ctd(sid) == date(2012, 4, 2)

    # change to Pistol: END_OF_TERM for this BASE change in catalogTest.xml → nothing now, Pistol from the CTD
    w.change(sid, product="Pistol", period=MONTHLY)
    assert len(w.invoices()) == 3
    w.add_days(31)
    invs = w.invoices()
    assert items(invs[3]) == [(R, date(2012, 4, 2), date(2012, 5, 2), D("29.95"))]
    assert w.ctd(sid) == date(2012, 5, 2)
    for k, (s, e) in enumerate(((date(2012, 5, 2), date(2012, 6, 2)), (date(2012, 6, 2), date(2012, 7, 2)),
                                (date(2012, 7, 2), date(2012, 8, 2)))):
        w.add_days(31)
        assert items(w.invoices()[4 + k]) == [(R, s, e, D("29.95"))]
    assert w.ctd(sid) == date(2012, 8, 2)

    # cancel END_OF_TERM: no invoice at the cancel, and none after
    w.kb.entitlements.cancel(w.ctx, sid)
    w.add_days(31)
    assert len(w.invoices()) == 7
    assert w.ctd(sid) == date(2012, 8, 2)
    with pytest.raises(NothingToInvoice):
        w.kb.invoices.trigger(w.ctx, w.account.id, None)


def test_bcd_31_leading_stub_then_eot_downgrade_clamped_to_month_ends(billow: Billow,
                                                                      tenant_ctx: CallContext) -> None:
    """TestIntegration.testBasePlanCompleteWithBillingDayInPast (account BCD 31)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 2, 1, 0, 3, 42), bcd=31)
    sid = w.create(product="Shotgun", period=MONTHLY)
    assert items(w.invoices()[0]) == [(FX, date(2012, 2, 1), date(2012, 3, 2), D(0))]
    w.set_time(at(2012, 2, 1, 0, 3, 43))
    w.change(sid, product="Assault-Rifle", period=MONTHLY)
    assert items(w.invoices()[1]) == [(FX, date(2012, 2, 1), date(2012, 3, 2), D(0))]
    for day in (at(2012, 2, 28, 23, 59, 59), at(2012, 2, 29, 23, 59, 59), at(2012, 3, 1, 23, 59, 59)):
        w.set_time(day)
    w.set_time(at(2012, 3, 2, 23, 59, 59))
    # leading stub [Mar 2, Mar 31) over [Feb 29, Mar 31) = 29/31 → 0.935483871 × 599.95 = 561.24
    assert items(w.invoices()[2]) == [(R, date(2012, 3, 2), date(2012, 3, 31), D("561.24"))]
    assert w.ctd(sid) == date(2012, 3, 31)

    w.change(sid, product="Pistol", period=MONTHLY)  # END_OF_TERM: from Mar 31
    w.add_days(31)
    assert items(w.invoices()[3]) == [(R, date(2012, 3, 31), date(2012, 4, 30), D("29.95"))]
    assert w.ctd(sid) == date(2012, 4, 30)
    for k, (s, e) in enumerate(((date(2012, 4, 30), date(2012, 5, 31)), (date(2012, 5, 31), date(2012, 6, 30)),
                                (date(2012, 6, 30), date(2012, 7, 31)))):
        w.add_days(31)
        assert items(w.invoices()[4 + k]) == [(R, s, e, D("29.95"))]
    assert w.ctd(sid) == date(2012, 7, 31)
    w.kb.entitlements.cancel(w.ctx, sid)
    w.add_days(31)
    assert len(w.invoices()) == 7 and w.ctd(sid) == date(2012, 7, 31)


def test_bcd_in_the_future_bills_the_leading_stub_alone(billow: Billow, tenant_ctx: CallContext) -> None:
    """TestIntegration.testBasePlanCompleteWithBillingDayInFuture (account BCD 3)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 2, 1, 0, 3, 42), bcd=3)
    sid = w.create(product="Shotgun", period=MONTHLY)
    w.set_time(at(2012, 2, 1, 0, 3, 43))
    w.change(sid, product="Assault-Rifle", period=MONTHLY)
    for day in (at(2012, 2, 28, 23, 59, 59), at(2012, 2, 29, 23, 59, 59), at(2012, 3, 1, 23, 59, 59)):
        w.set_time(day)
    w.set_time(at(2012, 3, 2, 23, 59, 59))
    invs = w.invoices()
    # [Mar 2, Mar 3) over [Feb 3, Mar 3) = 1/29 → 0.034482759 × 599.95 = 20.69
    assert [items(i) for i in invs] == [[(FX, date(2012, 2, 1), date(2012, 3, 2), D(0))],
                                        [(FX, date(2012, 2, 1), date(2012, 3, 2), D(0))],
                                        [(R, date(2012, 3, 2), date(2012, 3, 3), D("20.69"))]]
    assert w.ctd(sid) == date(2012, 3, 3)
    w.set_time(at(2012, 3, 3, 23, 59, 59))
    assert items(w.invoices()[3]) == [(R, date(2012, 3, 3), date(2012, 4, 3), D("599.95"))]
    w.change(sid, product="Pistol", period=MONTHLY)
    w.add_days(31)
    assert items(w.invoices()[4]) == [(R, date(2012, 4, 3), date(2012, 5, 3), D("29.95"))]
    assert w.ctd(sid) == date(2012, 5, 3)


# ------------------------------------------------------------------------------------------------- pause / resume


def test_pause_repairs_the_rest_of_the_period_and_resume_bills_from_the_resume_day(billow: Billow,
                                                                                   tenant_ctx: CallContext) -> None:
    """TestIntegration.testWithPauseResume (account BCD 2)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 2, 1, 0, 3, 42), bcd=2)
    sid = w.create(product="Shotgun", period=MONTHLY)
    w.add_days(32)  # AT_LEAST_ONE_MONTH_MS → 2012-03-04
    invs = w.invoices()
    assert items(invs[1]) == [(R, date(2012, 3, 2), date(2012, 4, 2), D("249.95"))]
    bundle = w.bundle_of(sid)
    w.kb.entitlements.pause_bundle(w.ctx, bundle, date(2012, 3, 4))
    invs = w.invoices()
    assert len(invs) == 3
    # Kill Bill: REPAIR_ADJ [Mar 4, Apr 2) −233.82 (29/31 × 249.95) and CBA_ADJ +233.82 on the new invoice
    assert items(invs[2]) == [(CBA, date(2012, 3, 4), date(2012, 3, 4), D("233.82")),
                              (REP, date(2012, 3, 4), date(2012, 4, 2), D("-233.82"))]
    # unpaid in Billow: that credit then pays the older invoice (Kill Bill had paid it, and kept the credit)
    assert items(invs[1], T.CBA_ADJ) == [(CBA, date(2012, 3, 4), date(2012, 3, 4), D("-233.82"))]

    w.add_days(32)  # 2012-04-05
    w.kb.entitlements.resume_bundle(w.ctx, bundle, date(2012, 4, 5))
    invs = w.invoices()
    # [Apr 5, May 2) over [Apr 2, May 2) = 27/30 = 0.9 × 249.95 = 224.955 → 224.96 (Kill Bill also uses its
    # 233.82 of credit here: CBA_ADJ −224.96; Billow's credit already went to the older invoice)
    assert items(invs[3], *BILLED) == [(R, date(2012, 4, 5), date(2012, 5, 2), D("224.96"))]
    w.add_days(27)  # 2012-05-02
    assert items(w.invoices()[4]) == [(R, date(2012, 5, 2), date(2012, 6, 2), D("249.95"))]
    assert len(w.invoices()) == 5
    # 249.95 − 233.82 + 224.96 + 249.95
    assert w.balances() == (D("491.04"), D("0.00"))


# ---------------------------------------------------------------------------------- annual and quarterly plans


def test_upgrade_monthly_to_annual_immediately(billow: Billow, tenant_ctx: CallContext) -> None:
    """TestIntegrationWithDifferentBillingPeriods.testChangeMonthlyToAnnual (account BCD 1)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 4, 1, 12), bcd=1)
    sid = w.create(product="Shotgun", period=MONTHLY)
    w.add_days(31)
    assert items(w.invoices()[1]) == [(R, date(2012, 5, 1), date(2012, 6, 1), D("249.95"))]
    w.add_days(10)  # 2012-05-12
    w.change(sid, product="Shotgun", period=ANNUAL, policy=BillingActionPolicy.IMMEDIATE)
    invs = w.invoices()
    assert len(invs) == 3
    assert items(invs[2]) == [(R, date(2012, 5, 12), date(2013, 5, 1), D("2327.62")),
                              (REP, date(2012, 5, 12), date(2012, 6, 1), D("-161.26"))]
    assert w.ctd(sid) == date(2013, 5, 1)
    with pytest.raises(NothingToInvoice):
        w.kb.invoices.trigger(w.ctx, w.account.id, None)


def test_upgrade_to_annual_keeps_the_subscription_bcd_not_the_account_bcd(billow: Billow,
                                                                          tenant_ctx: CallContext) -> None:
    """TestIntegrationWithDifferentBillingPeriods.testChangeMonthlyToAnnualWithDifferentBCD (account BCD 10):
    the annual plan is SUBSCRIPTION-aligned, its BCD is the day of the first recurring charge (Jul 1)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2016, 6, 1, 12), bcd=10)
    sid = w.create(product="Shotgun", period=MONTHLY)
    w.add_days(30)  # 2016-07-01
    assert items(w.invoices()[1]) == [(R, date(2016, 7, 1), date(2016, 7, 10), D("74.99"))]
    w.add_months(1)  # 2016-08-01
    assert items(w.invoices()[2]) == [(R, date(2016, 7, 10), date(2016, 8, 10), D("249.95"))]
    w.change(sid, product="Shotgun", period=ANNUAL, policy=BillingActionPolicy.IMMEDIATE)
    invs = w.invoices()
    assert len(invs) == 4
    assert items(invs[3]) == [(R, date(2016, 8, 1), date(2017, 8, 1), D("2399.95")),
                              (REP, date(2016, 8, 1), date(2016, 8, 10), D("-72.57"))]


def test_upgrade_monthly_to_quarterly_then_a_whole_quarter(billow: Billow, tenant_ctx: CallContext) -> None:
    """TestIntegrationWithDifferentBillingPeriods.testChangeMonthlyToQuarterly (account BCD 1)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 4, 1, 12), bcd=1)
    sid = w.create(product="Pistol", period=MONTHLY)
    w.add_days(31)
    assert items(w.invoices()[1]) == [(R, date(2012, 5, 1), date(2012, 6, 1), D("29.95"))]
    w.add_days(10)
    w.change(sid, product="Pistol", period=QUARTERLY, policy=BillingActionPolicy.IMMEDIATE)
    assert items(w.invoices()[2]) == [(R, date(2012, 5, 12), date(2012, 8, 1), D("61.59")),
                                      (REP, date(2012, 5, 12), date(2012, 6, 1), D("-19.32"))]
    w.add_days(20)
    w.add_months(2)  # 2012-08-01
    invs = w.invoices()
    assert len(invs) == 4
    assert items(invs[3]) == [(R, date(2012, 8, 1), date(2012, 11, 1), D("69.95"))]


def test_pause_and_resume_an_annual_plan(billow: Billow, tenant_ctx: CallContext) -> None:
    """TestIntegrationWithDifferentBillingPeriods.testPauseResumeAnnual (account BCD 1)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 4, 1, 12), bcd=1)
    sid = w.create(product="Shotgun", period=ANNUAL)
    w.add_days(31)
    w.add_days(10)  # 2012-05-12
    bundle = w.bundle_of(sid)
    w.kb.entitlements.pause_bundle(w.ctx, bundle, date(2012, 5, 12))
    invs = w.invoices()
    assert len(invs) == 3
    assert items(invs[1], *BILLED) == [(R, date(2012, 5, 1), date(2013, 5, 1), D("2399.95"))]
    assert items(invs[2]) == [(CBA, date(2012, 5, 12), date(2012, 5, 12), D("2327.62")),
                              (REP, date(2012, 5, 12), date(2013, 5, 1), D("-2327.62"))]
    w.add_days(23)  # 2012-06-04
    w.kb.entitlements.resume_bundle(w.ctx, bundle, date(2012, 6, 4))
    invs = w.invoices()
    assert len(invs) == 4
    # [Jun 4 2012, Jun 1 2013) over [Jun 1 2012, Jun 1 2013) = 362/365 × 2399.95 = 2380.22 (Kill Bill pays it
    # with its credit, CBA_ADJ −2327.62; in Billow that credit already paid the annual invoice)
    assert items(invs[3], *BILLED) == [(R, date(2012, 6, 4), date(2013, 6, 1), D("2380.22"))]
    w.clock.add_months(12)
    w.idle()
    invs = w.invoices()
    assert len(invs) == 5
    assert items(invs[4]) == [(R, date(2013, 6, 1), date(2014, 6, 1), D("2399.95"))]


# ------------------------------------------------------------------------------------------------- in-arrear plans


def test_in_arrear_bills_each_past_month_and_nothing_after_an_immediate_cancel(billow: Billow,
                                                                                tenant_ctx: CallContext) -> None:
    """TestWithInArrearSubscriptions.testWithCancelation (InArrearCatalog.xml, account BCD 1)."""
    w = world(billow, tenant_ctx, IN_ARREAR, at(2020, 1, 1), bcd=1)
    sid = w.create("basic-support-monthly-notrial")
    assert w.invoices() == []
    w.add_months(1)
    assert [items(i) for i in w.invoices()] == [[(R, date(2020, 1, 1), date(2020, 2, 1), D("100.00"))]]
    w.add_months(1)
    assert items(w.invoices()[1]) == [(R, date(2020, 2, 1), date(2020, 3, 1), D("100.00"))]
    w.kb.entitlements.cancel(w.ctx, sid, entitlement_policy=EntitlementActionPolicy.IMMEDIATE,
                             billing_policy=BillingActionPolicy.IMMEDIATE)
    for _ in range(8):
        w.add_months(1)
    assert len(w.invoices()) == 2
    with pytest.raises(NothingToInvoice):
        w.kb.invoices.trigger(w.ctx, w.account.id, None)


def test_in_arrear_pause_bills_up_to_the_pause_and_resume_bills_the_rest_in_arrear(billow: Billow,
                                                                                   tenant_ctx: CallContext) -> None:
    """TestWithInArrearSubscriptions.testWithPauseResume (InArrearCatalog.xml, account BCD 1)."""
    w = world(billow, tenant_ctx, IN_ARREAR, at(2020, 1, 1, 0, 3, 42), bcd=1)
    sid = w.create("basic-support-monthly-notrial")
    w.add_days(14)  # 2020-01-15
    bundle = w.bundle_of(sid)
    w.kb.entitlements.pause_bundle(w.ctx, bundle, date(2020, 1, 15))
    # 14/31 × 100 = 45.16
    assert [items(i) for i in w.invoices()] == [[(R, date(2020, 1, 1), date(2020, 1, 15), D("45.16"))]]
    w.add_days(5)  # 2020-01-20
    w.kb.entitlements.resume_bundle(w.ctx, bundle, date(2020, 1, 20))
    assert len(w.invoices()) == 1
    w.add_days(12)  # 2020-02-01
    # 12/31 × 100 = 38.71
    assert items(w.invoices()[1]) == [(R, date(2020, 1, 20), date(2020, 2, 1), D("38.71"))]
    w.add_months(1)  # 2020-03-01: Kill Bill expects an invoice (items not asserted there): a whole month in arrear
    invs = w.invoices()
    assert len(invs) == 3 and items(invs[2]) == [(R, date(2020, 2, 1), date(2020, 3, 1), D("100.00"))]


def test_in_arrear_add_on_cancelled_immediately_is_billed_up_to_the_cancel_day(billow: Billow,
                                                                               tenant_ctx: CallContext) -> None:
    """TestInArrearChangeCancel.testCancelAddOnWithoutChange (in_arrear.xml, account BCD 11, issue #1907)."""
    w = world(billow, tenant_ctx, IN_ARREAR_CHANGE_CANCEL, at(2023, 8, 11), bcd=11)
    base = w.create("premium-support-monthly-notrial")
    addon = w.create("premium-support-addon-monthly-notrial", bundle_id=w.bundle_of(base))
    assert w.invoices() == []
    w.set_time(at(2023, 8, 20))
    w.kb.entitlements.cancel(w.ctx, addon, entitlement_policy=EntitlementActionPolicy.IMMEDIATE,
                             billing_policy=BillingActionPolicy.IMMEDIATE)
    # 9/31 × 900 = 261.29; the base is not billed before its cycle date Sep 11
    assert [items(i) for i in w.invoices()] == [[(R, date(2023, 8, 11), date(2023, 8, 20), D("261.29"))]]


def test_in_arrear_add_on_changed_then_cancelled(billow: Billow, tenant_ctx: CallContext) -> None:
    """TestInArrearChangeCancel.testCancelAddOnAfterChangePlan (in_arrear.xml, account BCD 11, issue #1907)."""
    w = world(billow, tenant_ctx, IN_ARREAR_CHANGE_CANCEL, at(2023, 8, 11), bcd=11)
    base = w.create("premium-support-monthly-notrial")
    addon = w.create("premium-support-addon-monthly-notrial", bundle_id=w.bundle_of(base))
    w.set_time(at(2023, 8, 15))
    w.change(addon, "premium-support-addon2-monthly-notrial", policy=BillingActionPolicy.IMMEDIATE)
    # 4/31 × 900 = 116.13
    assert [items(i) for i in w.invoices()] == [[(R, date(2023, 8, 11), date(2023, 8, 15), D("116.13"))]]
    w.set_time(at(2023, 8, 20))
    w.kb.entitlements.cancel(w.ctx, addon, entitlement_policy=EntitlementActionPolicy.IMMEDIATE,
                             billing_policy=BillingActionPolicy.IMMEDIATE)
    invs = w.invoices()
    # Kill Bill expects an invoice (items not asserted): [Aug 15, Aug 20) ends before the first cycle date Sep 11,
    # so it is prorated over [endDate − 1 month, endDate) = [Jul 20, Aug 20) = 31 days: 5/31 × 300 = 48.39
    assert len(invs) == 2 and items(invs[1]) == [(R, date(2023, 8, 15), date(2023, 8, 20), D("48.39"))]


# -------------------------------------------------------------------------------------------------- daily billing


@pytest.mark.parametrize("time_zone", ["UTC", "America/New_York"])
def test_daily_plan_bills_one_day_at_a_time(billow: Billow, tenant_ctx: CallContext, time_zone: str) -> None:
    """TestCatalogDailyBilling.testDailyBillingUTCTimezone / testDailyBillingNYTimezone (issue #2005)."""
    start = at(2024, 4, 12, 8, 22, 28)
    w = world(billow, tenant_ctx, DAILY, start, bcd=0, time_zone=time_zone, reference_time=start)
    w.create("plan-b")
    assert [items(i) for i in w.invoices()] == [[(FX, date(2024, 4, 12), date(2024, 4, 13), D(0))]]
    w.set_time(at(2024, 4, 13, 8, 22, 28))
    assert items(w.invoices()[1]) == [(R, date(2024, 4, 13), date(2024, 4, 14), D("1.00"))]
    with pytest.raises(NothingToInvoice):
        w.kb.invoices.trigger(w.ctx, w.account.id, date(2024, 4, 13))
    w.set_time(at(2024, 4, 14, 8, 22, 28))
    invs = w.invoices()
    assert len(invs) == 3 and items(invs[2]) == [(R, date(2024, 4, 14), date(2024, 4, 15), D("1.00"))]


# ------------------------------------------------------------------------- void, credits, drafts, item adjustments


def _shotgun_after_trial_bcd_14(billow: Billow, tenant_ctx: CallContext) -> tuple[RefWorld, str]:
    """The set-up common to TestIntegrationVoidInvoice and TestIntegrationInvoice: account BCD 14 created
    2015-05-15, Shotgun monthly (30-day trial), clock moved 30 days to the phase change on 2015-06-14."""
    w = world(billow, tenant_ctx, DEFAULT, at(2015, 5, 15), bcd=14)
    sid = w.create(product="Shotgun", period=MONTHLY)
    w.add_days(30)
    invs = w.invoices()
    assert [items(i) for i in invs] == [[(FX, date(2015, 5, 15), date(2015, 6, 14), D(0))],
                                        [(R, date(2015, 6, 14), date(2015, 7, 14), D("249.95"))]]
    return w, sid


def test_void_then_the_next_run_bills_the_voided_period_again(billow: Billow, tenant_ctx: CallContext) -> None:
    """TestIntegrationVoidInvoice.testVoidInvoice (AUTO_PAY_OFF there: an unpaid invoice, as in Billow)."""
    w, _ = _shotgun_after_trial_bcd_14(billow, tenant_ctx)
    voided = w.invoices()[1]
    w.kb.invoices.void(w.ctx, voided.id)
    assert w.balances() == (D("0.00"), D("0.00"))
    w.add_days(31)  # 2015-07-15
    invs = w.invoices()
    assert len(invs) == 3
    assert invs[1].status is InvoiceStatus.VOID
    assert items(invs[1]) == [(R, date(2015, 6, 14), date(2015, 7, 14), D("249.95"))]
    assert items(invs[2]) == [(R, date(2015, 6, 14), date(2015, 7, 14), D("249.95")),
                              (R, date(2015, 7, 14), date(2015, 8, 14), D("249.95"))]
    assert w.balances() == (D("499.90"), D("0.00"))  # Kill Bill pays it (one payment of 499.90): balance 0


def test_account_credit_pays_the_open_invoice_and_the_rest_is_consumed_by_the_next(billow: Billow,
                                                                                  tenant_ctx: CallContext) -> None:
    """TestIntegrationInvoice.testApplyCreditOnExistingBalance (AUTO_PAY_OFF until the last step)."""
    w, _ = _shotgun_after_trial_bcd_14(billow, tenant_ctx)
    assert w.balances() == (D("249.95"), D("0.00"))
    [credit] = w.kb.invoices.add_items(w.ctx, w.account.id, [ItemInput(amount=D(300))], T.CREDIT_ADJ,
                                       requested=date(2015, 6, 14), auto_commit=True)
    assert credit.amount == D(-300)
    assert w.balances() == (D("-50.05"), D("50.05"))
    invs = w.invoices()
    assert items(invs[1], T.CBA_ADJ) == [(CBA, date(2015, 6, 14), date(2015, 6, 14), D("-249.95"))]
    assert [(t, a) for t, _, _, a in items(invs[2])] == [(CBA, D(300)), (CR, D(-300))]
    w.add_days(31)  # 2015-07-15: the new period uses the 50.05 left, Kill Bill's payment is 199.90
    invs = w.invoices()
    assert items(invs[3]) == [(R, date(2015, 7, 14), date(2015, 8, 14), D("249.95")),
                              (CBA, date(2015, 7, 15), date(2015, 7, 15), D("-50.05"))]
    assert w.balances() == (D("199.90"), D("0.00"))


def test_external_charge_on_a_draft_is_kept_apart_until_committed(billow: Billow, tenant_ctx: CallContext) -> None:
    """TestIntegrationInvoice.testDraftInvoice."""
    w, sid = _shotgun_after_trial_bcd_14(billow, tenant_ctx)
    [charge] = w.kb.invoices.add_items(
        w.ctx, w.account.id, [ItemInput(amount=D(10), bundle_id=w.bundle_of(sid), start_date=date(2015, 6, 14),
                                        end_date=date(2015, 6, 14))],
        T.EXTERNAL_CHARGE, requested=date(2015, 6, 14), auto_commit=False)
    assert w.kb.invoices.get(w.ctx, charge.invoice_id).status is InvoiceStatus.DRAFT
    assert w.balances() == (D("249.95"), D("0.00"))  # a DRAFT weighs nothing
    w.add_months(1)  # 2015-07-14: the next period goes on a new invoice, not on the draft
    invs = w.invoices()
    assert len(invs) == 4
    assert invs[2].id == charge.invoice_id and invs[2].status is InvoiceStatus.DRAFT
    assert [(t, a) for t, _, _, a in items(invs[2])] == [(EXT, D(10))]
    assert items(invs[3]) == [(R, date(2015, 7, 14), date(2015, 8, 14), D("249.95"))]
    w.kb.invoices.commit(w.ctx, charge.invoice_id)
    assert w.kb.invoices.get(w.ctx, charge.invoice_id).status is InvoiceStatus.COMMITTED
    assert w.balances() == (D("509.90"), D("0.00"))  # Kill Bill's third payment is the 10.00


def test_item_adjustment_caps_the_repair_of_a_later_upgrade(billow: Billow, tenant_ctx: CallContext) -> None:
    """TestIntegrationInvoiceWithRepairLogic.testSimplePartialRepairWithItemAdjustment (account BCD 1)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 4, 1), bcd=1)
    sid = w.create(product="Shotgun", period=MONTHLY)
    assert items(w.invoices()[0]) == [(FX, date(2012, 4, 1), date(2012, 5, 1), D(0))]
    w.add_days(31)  # 2012-05-02
    inv = w.invoices()[1]
    assert items(inv) == [(R, date(2012, 5, 1), date(2012, 6, 1), D("249.95"))]
    adjusted = w.kb.invoices.adjust_item(w.ctx, inv.id, ItemInput(invoice_item_id=inv.items[0].id, amount=D(10)),
                                         requested=date(2012, 5, 2))
    # Kill Bill: ITEM_ADJ −10 and, the invoice being paid, CBA_ADJ +10; unpaid here, no credit
    assert items(adjusted) == [(R, date(2012, 5, 1), date(2012, 6, 1), D("249.95")),
                               (ADJ, date(2012, 5, 2), date(2012, 5, 2), D("-10.00"))]
    w.change(sid, product="Blowdart", period=MONTHLY, policy=BillingActionPolicy.IMMEDIATE)
    invs = w.invoices()
    assert len(invs) == 3
    # the repair would be 249.95 − round9(1/31) × 249.95 = 241.89, but only 249.95 − 10 = 239.95 is left
    assert items(invs[2]) == [(CBA, date(2012, 5, 2), date(2012, 5, 2), D("230.32")),
                              (R, date(2012, 5, 2), date(2012, 6, 1), D("9.63")),
                              (REP, date(2012, 5, 2), date(2012, 6, 1), D("-239.95"))]
    # the 230.32 of credit then pays the adjusted invoice: 249.95 − 10 − 230.32 = 9.63 still due
    assert items(invs[1], T.CBA_ADJ) == [(CBA, date(2012, 5, 2), date(2012, 5, 2), D("-230.32"))]
    assert w.balances() == (D("9.63"), D("0.00"))
    with pytest.raises(NothingToInvoice):
        w.kb.invoices.trigger(w.ctx, w.account.id, None)


# ------------------------------------------------------------------------------------- cancel IMM / EOT, add-ons


def test_eot_cancel_of_the_base_cancels_its_add_on_with_nothing_more_billed(billow: Billow,
                                                                           tenant_ctx: CallContext) -> None:
    """TestIntegration.testFutureCancelBPWithAOAfterPhase (account BCD 1, issue #897)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2012, 4, 1), bcd=1)
    base = w.create(product="Shotgun", period=MONTHLY)
    assert items(w.invoices()[0]) == [(FX, date(2012, 4, 1), date(2012, 5, 1), D(0))]
    addon = w.create(product="Telescopic-Scope", period=MONTHLY, bundle_id=w.bundle_of(base))
    assert items(w.invoices()[1]) == [(R, date(2012, 4, 1), date(2012, 5, 1), D("399.95"))]
    w.add_months(1)  # past both PHASE events: one invoice for both subscriptions
    invs = w.invoices()
    assert len(invs) == 3
    assert items(invs[2]) == [(R, date(2012, 5, 1), date(2012, 6, 1), D("249.95")),
                              (R, date(2012, 5, 1), date(2012, 6, 1), D("999.95"))]
    w.kb.entitlements.cancel(w.ctx, base, entitlement_policy=EntitlementActionPolicy.END_OF_TERM,
                             billing_policy=BillingActionPolicy.END_OF_TERM)
    w.add_months(1)
    assert len(w.invoices()) == 3
    assert w.kb.entitlements.view(w.ctx, addon).state.value == "CANCELLED"
    with pytest.raises(NothingToInvoice):
        w.kb.invoices.trigger(w.ctx, w.account.id, None)


def test_immediate_cancel_with_start_of_term_billing_repairs_the_whole_annual_period(billow: Billow,
                                                                                    tenant_ctx: CallContext) -> None:
    """TestSubscription.testCancelSubscriptionAfterTrialWith_START_OF_TERM (account BCD 0, Shotgun ANNUAL)."""
    w = world(billow, tenant_ctx, DEFAULT, at(2015, 8, 1), bcd=0)
    sid = w.create(product="Shotgun", period=ANNUAL)
    w.add_days(30)  # 2015-08-31, out of the trial
    assert items(w.invoices()[1]) == [(R, date(2015, 8, 31), date(2016, 8, 31), D("2399.95"))]
    # SUBSCRIPTION alignment: the account BCD is not set
    assert w.kb.accounts.get(w.ctx, w.account.id).bill_cycle_day_local in (0, None)
    w.add_days(5)  # 2015-09-05
    w.kb.entitlements.cancel(w.ctx, sid, entitlement_policy=EntitlementActionPolicy.IMMEDIATE,
                             billing_policy=BillingActionPolicy.START_OF_TERM)
    view = w.kb.entitlements.view(w.ctx, sid)
    assert view.state.value == "CANCELLED"
    assert view.entitlement_end is not None and view.entitlement_end.date() == date(2015, 9, 5)
    assert view.billing_end is not None and view.billing_end.date() == date(2015, 8, 31)
    invs = w.invoices()
    assert len(invs) == 3  # Kill Bill: CANCEL, BLOCK, INVOICE
    # billing ends at the start of the term (Aug 31): the whole annual item is repaired; its credit (CBA_ADJ +)
    # then pays the unpaid annual invoice (CBA_ADJ −) — Kill Bill, having been paid, keeps it as account credit
    assert items(invs[2]) == [(REP, date(2015, 8, 31), date(2016, 8, 31), D("-2399.95")),
                              (CBA, date(2015, 9, 5), date(2015, 9, 5), D("2399.95"))]
    assert items(invs[1], T.CBA_ADJ) == [(CBA, date(2015, 9, 5), date(2015, 9, 5), D("-2399.95"))]
    assert w.balances() == (D("0.00"), D("0.00"))


def test_bcd_31_without_trial_follows_month_ends(billow: Billow, tenant_ctx: CallContext) -> None:
    """TestIntegrationInvoice.testIntegrationWithBCDLargerThanEndMonth (issue #127; Blowdart MONTHLY in price list
    notrial, account BCD 31). Kill Bill asserts one invoice per step; the periods are BCD 31 clamped per month
    (billing-semantics.md 2.5), each a whole period at 29.95."""
    w = world(billow, tenant_ctx, DEFAULT, at(2017, 1, 31), bcd=31)
    w.create(product="Blowdart", period=MONTHLY, price_list="notrial")
    w.add_months(1)  # 2017-02-28
    w.add_months(1)
    w.add_days(3)  # 2017-03-31
    w.add_months(1)  # 2017-04-30
    assert [items(i) for i in w.invoices()] == [
        [(R, date(2017, 1, 31), date(2017, 2, 28), D("29.95"))],
        [(R, date(2017, 2, 28), date(2017, 3, 31), D("29.95"))],
        [(R, date(2017, 3, 31), date(2017, 4, 30), D("29.95"))],
        [(R, date(2017, 4, 30), date(2017, 5, 31), D("29.95"))],
    ]


# -------------------------------------------------------------------------------------------- catalog versions


def test_new_catalog_versions_reach_existing_subscriptions_at_their_own_date(billow: Billow,
                                                                             tenant_ctx: CallContext) -> None:
    """TestCatalogWithEffectiveDateForExistingSubscriptions.testRecurringPlan (WaterUtility v1/v2/v3: price
    increases on 2018-04-01 and 2018-07-01, for existing subscriptions only from 2018-05-01 and 2018-08-01)."""
    w = world(billow, tenant_ctx, "beatrix/testCatalogWithEffectiveDateForExistingSubscriptions", at(2018, 1, 1),
              bcd=1)
    w.create(product="PlumberInsurance", period=MONTHLY)
    for _ in range(7):
        w.add_months(1)
    invs = w.invoices()
    prices = ["49.95"] * 4 + ["59.95"] * 3 + ["69.95"]
    assert [items(i) for i in invs] == [[(R, date(2018, 1 + k, 1), date(2018, 2 + k, 1), D(p))]
                                        for k, p in enumerate(prices)]
    versions = [datetime(2018, 1, 1, tzinfo=UTC), datetime(2018, 4, 1, tzinfo=UTC), datetime(2018, 7, 1, tzinfo=UTC)]
    expected = [versions[0]] * 4 + [versions[1]] * 3 + [versions[2]]
    assert [i.items[0].catalog_effective_date for i in invs] == expected


# ------------------------------------------------------------------------------------ SpyCar (catalog module, GBP)


def test_spycar_gbp_upgrade_keeps_the_bundle_phase_and_catalog_cancel_policy_is_immediate(
        billow: Billow, tenant_ctx: CallContext) -> None:
    """No Kill Bill integration test runs SpyCarBasic.xml (a catalog-module format reference), so these figures are
    derived from billing-semantics.md: the same flow as TestIntegrationWithDifferentBillingPeriods.
    testChangeMonthlyToAnnual, in GBP, on SpyCar's rules (change IMMEDIATE aligned START_OF_BUNDLE, cancel
    IMMEDIATE, billing alignment ACCOUNT) with the account BCD left for Billow to set (2.5 auto-set)."""
    w = world(billow, tenant_ctx, "catalog-module/SpyCarBasic.xml", at(2024, 1, 15, 10), currency="GBP")
    sid = w.create("standard-monthly")
    w.add_days(30)  # 2024-02-14: trial over; the account BCD becomes 14
    assert w.kb.accounts.get(w.ctx, w.account.id).bill_cycle_day_local == 14
    w.add_days(10)  # 2024-02-24
    w.change(sid, "sports-monthly")  # catalog policy IMMEDIATE; START_OF_BUNDLE → straight to EVERGREEN, no trial
    # [Feb 24, Mar 14) of [Feb 14, Mar 14) = 19/29 → 0.655172414: sports 375 → 245.69, standard 75 → 49.14
    assert [items(i) for i in w.invoices()] == [
        [(FX, date(2024, 1, 15), date(2024, 2, 14), D(0))],
        [(R, date(2024, 2, 14), date(2024, 3, 14), D("75.00"))],
        [(R, date(2024, 2, 24), date(2024, 3, 14), D("245.69")),
         (REP, date(2024, 2, 24), date(2024, 3, 14), D("-49.14"))],
    ]
    assert all(i.currency == "GBP" for i in w.invoices())
    w.add_days(19)  # 2024-03-14
    assert items(w.invoices()[3]) == [(R, date(2024, 3, 14), date(2024, 4, 14), D("375.00"))]
    w.add_days(6)  # 2024-03-20
    w.kb.entitlements.cancel(w.ctx, sid)  # catalog cancel policy IMMEDIATE
    invs = w.invoices()
    assert len(invs) == 5
    # [Mar 20, Apr 14) of [Mar 14, Apr 14) = 25/31 → 0.806451613 × 375 = 302.42
    assert items(invs[4], *BILLED) == [(REP, date(2024, 3, 20), date(2024, 4, 14), D("-302.42"))]
    # 75 + 245.69 − 49.14 + 375 − 302.42; the credit went to the unpaid invoices
    assert w.balances() == (D("344.13"), D("0.00"))
