"""Billing intervals and proration (billing-semantics.md 2.5, 4.2, 4.3, Part 5.1/4/5/6/7/24).

Figures marked "KB" are Kill Bill's own test values (invoice module,
TestInvoiceDateUtils*, TestFixedAndRecurringInvoiceItemGenerator).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from billow.catalog.model import BillingMode, BillingPeriod
from billow.invoice.proration import (
    add_months,
    align_to_bcd,
    billing_interval,
    days_with_fixed_days_in_month,
    factor,
    leading_proration,
    months_between,
    period_of,
    service_periods,
    service_periods_cached,
    trailing_proration,
    whole_periods_between,
    years_between,
)
from tests.invoice.conftest import d

M = BillingPeriod.MONTHLY
ADV = BillingMode.IN_ADVANCE
ARR = BillingMode.IN_ARREAR


def pieces(start: str, end: str | None, target: str, bcd: int, period: BillingPeriod = M,
           mode: BillingMode = ADV, fixed_days: int = 0, greedy: bool = False) -> list[tuple[str, str, str]]:
    args = (d(start), d(end) if end else None, d(target), bcd, period, mode, fixed_days, greedy)
    result, interval = service_periods(*args)
    # the generator's memoised copy answers the same, the first time and from its cache
    assert service_periods_cached(*args) == service_periods_cached(*args) == (tuple(result), interval)
    return [(str(p.start), str(p.end), str(p.factor)) for p in result]


# ------------------------------------------------------------------------------------------------ rounding (4.3)

def test_factor_is_rounded_half_up_to_nine_decimals() -> None:
    assert factor(1, 3) == Decimal("0.333333333")
    assert factor(2, 3) == Decimal("0.666666667")
    assert factor(29, 31) == Decimal("0.935483871")
    assert factor(1, 8) == Decimal("0.125000000")
    assert factor(5, 0) == Decimal(0)
    assert str(factor(1, 29)) == "0.034482759"


def test_factor_half_up_on_exact_half_at_tenth_decimal() -> None:
    # 1/(2*10^9) is exactly 0.0000000005 → HALF_UP gives 0.000000001
    assert factor(1, 2 * 10**9) == Decimal("0.000000001")


# ------------------------------------------------------------------------------------ Joda date arithmetic

def test_month_arithmetic_clamps_like_joda() -> None:
    assert add_months(d("2012-01-31"), 1) == d("2012-02-29")
    assert add_months(d("2013-01-31"), 1) == d("2013-02-28")
    assert add_months(d("2012-03-31"), -1) == d("2012-02-29")  # spec 4.3: Mar 31 − 1 month = Feb 29
    assert add_months(d("2012-02-29"), 12) == d("2013-02-28")
    assert period_of(BillingPeriod.ANNUAL).plus(d("2012-02-29")) == d("2013-02-28")


def test_advance_by_periods_kb_figures() -> None:
    # KB TestInvoiceDateUtils.testAdvanceByNPeriods
    assert period_of(M).plus(d("2016-04-08"), 7) == d("2016-11-08")
    assert period_of(BillingPeriod.THIRTY_DAYS).plus(d("2016-04-08"), 2) == d("2016-06-07")
    assert period_of(BillingPeriod.THIRTY_DAYS).plus(d("2016-04-08"), 7) == d("2016-11-04")
    assert period_of(BillingPeriod.WEEKLY).plus(d("2016-04-08"), 7) == d("2016-05-27")


def test_whole_periods_kb_figures() -> None:
    # KB TestInvoiceDateUtils.testCalculateNumberOfWholeBillingPeriods
    assert whole_periods_between(d("2012-07-16"), d("2012-09-17"), M) == 2
    assert whole_periods_between(d("2012-07-16"), d("2012-09-13"), BillingPeriod.THIRTY_DAYS) == 1
    assert whole_periods_between(d("2012-07-16"), d("2012-09-14"), BillingPeriod.THIRTY_DAYS) == 2
    assert whole_periods_between(d("2012-07-16"), d("2012-07-29"), BillingPeriod.WEEKLY) == 1
    assert whole_periods_between(d("2012-07-16"), d("2012-07-30"), BillingPeriod.WEEKLY) == 2
    assert whole_periods_between(d("2012-07-16"), d("2012-07-31"), BillingPeriod.WEEKLY) == 2


def test_months_and_years_between_end_of_month_aware() -> None:
    assert months_between(d("2012-01-31"), d("2012-02-29")) == 1
    assert months_between(d("2012-01-31"), d("2012-02-28")) == 0
    assert months_between(d("2012-01-30"), d("2012-03-29")) == 1
    assert years_between(d("2012-02-29"), d("2013-02-28")) == 1
    assert years_between(d("2012-03-01"), d("2013-02-28")) == 0
    assert years_between(d("2011-03-01"), d("2012-02-29")) == 0


def test_bcd_alignment_clamps_to_month_end_only_for_month_based_periods() -> None:
    monthly = period_of(M)
    assert align_to_bcd(d("2013-02-28"), 31, monthly) == d("2013-02-28")
    assert align_to_bcd(d("2012-02-12"), 31, monthly) == d("2012-02-29")
    assert align_to_bcd(d("2012-04-28"), 31, monthly) == d("2012-04-30")
    assert align_to_bcd(d("2012-04-28"), 31, period_of(BillingPeriod.THIRTY_DAYS)) == d("2012-04-28")


# ------------------------------------------------------------------------------------ stub reference periods

def test_leading_and_trailing_proration_without_fixed_days_kb_figures() -> None:
    # KB TestInvoiceDateUtilsWithoutFixedProration
    p = period_of(M)
    assert trailing_proration(d("2023-06-15"), d("2023-05-23"), p, 0) == Decimal("0.741935484")
    assert trailing_proration(d("2023-07-15"), d("2023-06-23"), p, 0) == Decimal("0.733333333")
    assert trailing_proration(d("2023-03-15"), d("2023-02-23"), p, 0) == Decimal("0.714285714")
    assert trailing_proration(d("2024-03-15"), d("2024-02-23"), p, 0) == Decimal("0.724137931")
    assert leading_proration(d("2023-05-23"), d("2023-06-15"), p, 0) == Decimal("0.741935484")
    assert leading_proration(d("2023-06-23"), d("2023-07-15"), p, 0) == Decimal("0.733333333")
    assert leading_proration(d("2023-02-23"), d("2023-03-15"), p, 0) == Decimal("0.714285714")
    assert leading_proration(d("2024-02-23"), d("2024-03-15"), p, 0) == Decimal("0.724137931")


def test_fixed_days_option_kb_figures() -> None:
    # KB TestInvoiceDateUtilsWithFixedProration (org.killbill.invoice.proration.fixed.days=30)
    p = period_of(M)
    for end, last in (("2023-06-15", "2023-05-23"), ("2023-07-15", "2023-06-23"), ("2023-03-15", "2023-02-23"),
                      ("2024-03-15", "2024-02-23")):
        assert trailing_proration(d(end), d(last), p, 30) == Decimal("0.733333333")
        assert leading_proration(d(last), d(end), p, 30) == Decimal("0.733333333")


def test_fixed_days_counting_spec_examples() -> None:
    # spec 4.3: with N=30, [May 15, May 23) = 8/30, [May 23, Jun 15) = (23 − 1)/30
    assert days_with_fixed_days_in_month(d("2023-05-15"), d("2023-05-23"), 30) == 8
    assert days_with_fixed_days_in_month(d("2023-05-23"), d("2023-06-15"), 30) == 22
    assert leading_proration(d("2023-05-15"), d("2023-05-23"), period_of(M), 30) == Decimal("0.266666667")
    # only the start month is corrected, whatever the number of month boundaries crossed
    assert days_with_fixed_days_in_month(d("2023-01-15"), d("2023-03-15"), 30) == 59 - 1
    # the month-of-year only is compared, not the year
    assert days_with_fixed_days_in_month(d("2022-05-15"), d("2023-05-20"), 30) == 370


def test_fixed_days_apply_to_annual_periods_too() -> None:
    # spec 4.3: the option is not restricted to monthly plans: the denominator is N days
    assert leading_proration(d("2023-05-15"), d("2023-05-23"), period_of(BillingPeriod.ANNUAL), 30) \
        == Decimal("0.266666667")


def test_stub_before_first_cycle_date_ending_on_an_event_uses_end_minus_one_period() -> None:
    # Part 5.4, scenario 37: [2016-05-05, 2016-05-10) over [2016-04-10, 2016-05-10) = 5/30
    assert pieces("2016-05-05", "2016-05-10", "2016-05-05", 20) == [("2016-05-05", "2016-05-10", "0.166666667")]


def test_trailing_reference_period_is_plain_arithmetic_not_bcd_aligned() -> None:
    # Part 5.24 / 4.2: BCD 31, last cycle date Apr 30: reference [Apr 30, May 30) = 30 days
    result = pieces("2012-03-31", "2012-05-15", "2012-05-15", 31)
    assert result == [("2012-03-31", "2012-04-30", "1"), ("2012-04-30", "2012-05-15", "0.500000000")]


# ------------------------------------------------------------------------------------ BCD and cycles (2.5)

def test_bcd_31_full_period_from_apr_30() -> None:
    # Part 5.6: starting Apr 30 with BCD 31 gives a full period [Apr 30, May 31)
    assert pieces("2012-04-30", None, "2012-04-30", 31) == [("2012-04-30", "2012-05-31", "1")]


def test_bcd_31_leading_stub_from_mar_2() -> None:
    # Part 5.6 / 4.3: starting Mar 2 (2012) with BCD 31: 29/31 stub over [Feb 29, Mar 31)
    assert pieces("2012-03-02", None, "2012-03-02", 31) == [("2012-03-02", "2012-03-31", "0.935483871")]


def test_bcd_31_cycle_dates_do_not_drift() -> None:
    # Part 5.6: Jan 31, Feb 29, Mar 31, Apr 30, May 31
    result = pieces("2012-01-31", None, "2012-05-31", 31)
    assert [(s, e) for s, e, _ in result] == [("2012-01-31", "2012-02-29"), ("2012-02-29", "2012-03-31"),
                                              ("2012-03-31", "2012-04-30"), ("2012-04-30", "2012-05-31"),
                                              ("2012-05-31", "2012-06-30")]
    assert {f for _, _, f in result} == {"1"}


def test_leading_stub_is_alone_until_the_first_cycle_date() -> None:
    # Part 5.8: the target before the first cycle date bills only the stub
    assert pieces("2012-03-02", None, "2012-03-02", 3) == [("2012-03-02", "2012-03-03", "0.034482759")]
    assert pieces("2012-03-02", None, "2012-03-03", 3) == [("2012-03-02", "2012-03-03", "0.034482759"),
                                                           ("2012-03-03", "2012-04-03", "1")]


def test_target_on_a_cycle_date_bills_the_period_starting_on_it() -> None:
    assert pieces("2012-01-01", None, "2012-02-01", 1) == [("2012-01-01", "2012-02-01", "1"),
                                                           ("2012-02-01", "2012-03-01", "1")]
    assert pieces("2012-01-01", None, "2012-01-31", 1) == [("2012-01-01", "2012-02-01", "1")]


def test_end_date_caps_in_advance_billing() -> None:
    assert pieces("2012-01-01", "2012-02-15", "2012-03-01", 1) == [("2012-01-01", "2012-02-01", "1"),
                                                                    ("2012-02-01", "2012-02-15", "0.482758621")]
    # end date after the target: billed to the next cycle date only, capped by the end date
    assert pieces("2012-01-01", "2012-02-15", "2012-02-01", 1) == [("2012-01-01", "2012-02-01", "1"),
                                                                    ("2012-02-01", "2012-02-15", "0.482758621")]


def test_nothing_billed_for_a_zero_length_interval() -> None:
    # Part 5.12: same-day events give zero-length intervals
    assert pieces("2012-01-15", "2012-01-15", "2012-01-15", 1) == []


@pytest.mark.parametrize(("period", "expected_end"), [
    (BillingPeriod.DAILY, "2012-01-16"),
    (BillingPeriod.WEEKLY, "2012-01-22"),
    (BillingPeriod.BIWEEKLY, "2012-01-29"),
    (BillingPeriod.THIRTY_DAYS, "2012-02-14"),
    (BillingPeriod.THIRTY_ONE_DAYS, "2012-02-15"),
    (BillingPeriod.SIXTY_DAYS, "2012-03-15"),
    (BillingPeriod.NINETY_DAYS, "2012-04-14"),
])
def test_day_and_week_periods_ignore_the_bcd(period: BillingPeriod, expected_end: str) -> None:
    # Part 5.7: the cycle restarts from the event date; BCD 1 is ignored
    assert pieces("2012-01-15", None, "2012-01-15", 1, period) == [("2012-01-15", expected_end, "1")]


@pytest.mark.parametrize(("period", "stub_start", "first", "next_end", "stub_factor"), [
    (BillingPeriod.MONTHLY, "2012-01-15", "2012-02-01", "2012-03-01", "0.548387097"),  # 17/31
    (BillingPeriod.BIMESTRIAL, "2012-01-15", "2012-03-01", "2012-05-01", "0.766666667"),  # 46/60 [Jan 1, Mar 1)
    (BillingPeriod.QUARTERLY, "2012-01-15", "2012-04-01", "2012-07-01", "0.846153846"),  # 77/91
    (BillingPeriod.TRIANNUAL, "2012-01-15", "2012-05-01", "2012-09-01", "0.884297521"),  # 107/121
    (BillingPeriod.BIANNUAL, "2012-01-15", "2012-07-01", "2013-01-01", "0.923076923"),  # 168/182
    (BillingPeriod.ANNUAL, "2012-01-15", "2013-01-01", "2014-01-01", "0.961748634"),  # 352/366
    (BillingPeriod.SESQUIENNIAL, "2012-01-15", "2013-07-01", "2015-01-01", "0.974405850"),  # 533/547
    (BillingPeriod.BIENNIAL, "2012-01-15", "2014-01-01", "2016-01-01", "0.980848153"),  # 717/731
    (BillingPeriod.TRIENNIAL, "2012-01-15", "2015-01-01", "2018-01-01", "0.987226277"),  # 1082/1096
])
def test_month_and_year_periods_align_on_the_bcd(period: BillingPeriod, stub_start: str, first: str, next_end: str,
                                                 stub_factor: str) -> None:
    # BCD 1, start Jan 15: a leading stub to the first cycle date, prorated over [first − 1 period, first)
    assert pieces(stub_start, None, first, 1, period) == [(stub_start, first, stub_factor), (first, next_end, "1")]


def test_quarter_reference_period_counts_real_days() -> None:
    # 4.3: [Feb 1, May 1) of a non-leap year is 89 days
    assert pieces("2013-02-10", None, "2013-02-10", 1, BillingPeriod.QUARTERLY) == \
        [("2013-02-10", "2013-05-01", "0.898876404")]  # 80/89


# ------------------------------------------------------------------------------------------------ IN_ARREAR

def test_in_arrear_bills_nothing_before_the_first_cycle_date() -> None:
    assert pieces("2012-01-15", None, "2012-01-31", 1, mode=ARR) == []
    iv = billing_interval(d("2012-01-15"), None, d("2012-01-31"), 1, M, ARR)
    assert iv.next_cycle_date == d("2012-02-01")


def test_in_arrear_bills_completed_periods() -> None:
    assert pieces("2012-01-15", None, "2012-03-01", 1, mode=ARR) == [("2012-01-15", "2012-02-01", "0.548387097"),
                                                                      ("2012-02-01", "2012-03-01", "1")]
    iv = billing_interval(d("2012-01-15"), None, d("2012-03-10"), 1, M, ARR)
    assert iv.next_cycle_date == d("2012-04-01")


def test_in_arrear_end_on_target_bills_immediately_issue_1907() -> None:
    expected = [("2012-01-01", "2012-02-01", "1"), ("2012-02-01", "2012-02-10", "0.310344828")]
    assert pieces("2012-01-01", "2012-02-10", "2012-02-10", 1, mode=ARR) == expected


def test_in_arrear_trailing_stub_after_cancel() -> None:
    # Part 5.5: trailing stub over [lastCycleDate, lastCycleDate + 1 period)
    expected = [("2012-01-01", "2012-02-01", "1"), ("2012-02-01", "2012-02-10", "0.310344828")]
    assert pieces("2012-01-01", "2012-02-10", "2012-03-01", 1, mode=ARR) == expected


def test_in_arrear_end_before_first_cycle_date() -> None:
    assert pieces("2012-01-15", "2012-01-25", "2012-02-05", 1, mode=ARR) == [("2012-01-15", "2012-01-25",
                                                                              "0.322580645")]  # 10/31


def test_in_arrear_greedy_bills_the_current_period() -> None:
    assert pieces("2012-01-01", None, "2012-01-10", 1, mode=ARR, greedy=True) == [("2012-01-01", "2012-02-01", "1")]
    assert pieces("2012-01-01", None, "2012-01-10", 1, mode=ARR) == []
