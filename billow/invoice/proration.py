"""Billing intervals and proration: which service periods a billing event bills, and at which factor.

Pure date arithmetic on `datetime.date` in the account's fixed-offset zone.
Sources (killbill/killbill, invoice module): `generator/BillingIntervalDetail.java`
(first billing cycle date, effective end date, last billing cycle date),
`generator/InvoiceDateUtils.java` (proration factors, whole periods, fixed-days
option), `generator/FixedAndRecurringInvoiceItemGenerator.generateInvoiceItemData`
(leading / whole / trailing pieces) and `util/bcd/BillCycleDayCalculator.alignProposedBillCycleDate`.
Specification: billing-semantics.md 2.5, 4.2, 4.3 and Part 5 (4, 5, 6, 7, 24).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from billow.catalog.model import BillingMode, BillingPeriod, TimeUnit

ONE = Decimal(1)
ZERO = Decimal(0)
_NINE_PLACES = 10**9

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def last_day_of_month(year: int, month: int) -> int:
    if month == 2 and is_leap(year):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def days_between(start: date, end: date) -> int:
    """Joda `Days.daysBetween` for local dates."""
    return end.toordinal() - start.toordinal()


def add_months(when: date, months: int) -> date:
    """Joda `LocalDate.plusMonths` / `minusMonths`: the day is clamped to the target month's last day."""
    total = when.month - 1 + months
    year = when.year + total // 12
    month = total % 12 + 1
    day = when.day
    last = last_day_of_month(year, month)
    return date(year, month, day if day <= last else last)


@dataclass(frozen=True, slots=True)
class Period:
    """A billing period as Joda arithmetic sees it: whole months (years are 12 months) or whole days."""

    months: int
    days: int

    @property
    def month_based(self) -> bool:
        return self.months != 0

    def plus(self, when: date, count: int = 1) -> date:
        """`when` plus `count` periods in one step (Joda `plus(Period)` clamps month ends)."""
        if self.months:
            return add_months(when, self.months * count)
        return when + timedelta(days=self.days * count)

    def minus(self, when: date) -> date:
        """`when` minus one period, plain calendar arithmetic (Joda `minus(Period)`, no BCD re-alignment)."""
        if self.months:
            return add_months(when, -self.months)
        return when - timedelta(days=self.days)


@lru_cache(maxsize=64)
def period_of(billing_period: BillingPeriod) -> Period:
    """The Joda period of a billing period (`BillingPeriod.getPeriod()`)."""
    unit, n = billing_period.period
    if unit is TimeUnit.DAYS:
        return Period(0, n)
    if unit is TimeUnit.WEEKS:
        return Period(0, 7 * n)
    if unit is TimeUnit.MONTHS:
        return Period(n, 0)
    if unit is TimeUnit.YEARS:
        return Period(12 * n, 0)
    raise ValueError(f"no billing period for {billing_period}")


def align_to_bcd(proposed: date, bcd: int, period: Period) -> date:
    """`BillCycleDayCalculator.alignProposedBillCycleDate`: day = BCD clamped to the month's last day.

    Only month/year-based periods are aligned; day/week-based periods ignore the BCD (spec 2.5, Part 5.7).
    """
    if not period.month_based:
        return proposed
    last = last_day_of_month(proposed.year, proposed.month)
    day = bcd if bcd <= last else last
    return proposed if proposed.day == day else proposed.replace(day=day)


def months_between(start: date, end: date) -> int:
    """Joda `Months.monthsBetween` for local dates (end-of-month aware), for start <= end."""
    diff = (end.year - start.year) * 12 + end.month - start.month
    start_day = start.day
    if end.day == last_day_of_month(end.year, end.month) and start_day > end.day:
        start_day = end.day
    if end.day < start_day:
        diff -= 1
    return diff


def years_between(start: date, end: date) -> int:
    """Joda `Years.yearsBetween` for local dates (`BasicChronology.getYearDifference`), for start <= end."""
    start_rem = start.toordinal() - date(start.year, 1, 1).toordinal()
    end_rem = end.toordinal() - date(end.year, 1, 1).toordinal()
    feb_29 = 59
    if start_rem >= feb_29:  # balance leap-year differences (BasicGJChronology.getYearDifference)
        if is_leap(start.year):
            if not is_leap(end.year):
                start_rem -= 1
        elif end_rem >= feb_29 and is_leap(end.year):
            end_rem -= 1
    diff = end.year - start.year
    if end_rem < start_rem:
        diff -= 1
    return diff


def whole_periods_between(start: date, end: date, billing_period: BillingPeriod) -> int:
    """`InvoiceDateUtils.calculateNumberOfWholeBillingPeriods` (days, weeks, months or years between / period)."""
    unit, n = billing_period.period
    if unit is TimeUnit.DAYS:
        between = days_between(start, end)
    elif unit is TimeUnit.WEEKS:
        between = int(days_between(start, end) / 7)
    elif unit is TimeUnit.MONTHS:
        between = months_between(start, end)
    else:
        between = years_between(start, end)
    return int(between / n)


@lru_cache(maxsize=8192)
def factor(days: int, days_in_period: int) -> Decimal:
    """`days / days_in_period` rounded HALF_UP to 9 decimals (`KillBillMoney.MAX_SCALE`); 0 if the period is empty.

    Integer arithmetic, so the rounding is exact (no double rounding through a 28-digit quotient).
    """
    if days_in_period <= 0:
        return ZERO
    sign = -1 if days < 0 else 1
    q, r = divmod(abs(days) * _NINE_PLACES, days_in_period)
    if 2 * r >= days_in_period:
        q += 1
    return Decimal(sign * q).scaleb(-9)


def days_with_fixed_days_in_month(start: date, end: date, fixed_days: int) -> int:
    """`InvoiceDateUtils.daysBetweenWithFixedDaysInMonth` (spec 4.3, fixed-days option).

    Same month-of-year (the year is not compared) → plain days; otherwise only
    the start month is corrected: days − (lastDayOfStartMonth − fixed_days).
    """
    days = days_between(start, end)
    if start.month == end.month:
        return days
    return days - (last_day_of_month(start.year, start.month) - fixed_days)


def proration(start: date, end: date, days_in_period: int, fixed_days: int) -> Decimal:
    """`InvoiceDateUtils.calculateProrationBetweenDates(start, end, daysBetween, fixedDaysInMonth)`."""
    if days_in_period <= 0:
        return ZERO
    days = days_between(start, end) if fixed_days == 0 else days_with_fixed_days_in_month(start, end, fixed_days)
    return factor(days, days_in_period)


def proration_over(start: date, end: date, period_start: date, period_end: date, fixed_days: int) -> Decimal:
    """Factor of [start, end) over the reference period [period_start, period_end) (or `fixed_days` days)."""
    denominator = days_between(period_start, period_end) if fixed_days == 0 else fixed_days
    return proration(start, end, denominator, fixed_days)


def leading_proration(start: date, next_cycle_date: date, period: Period, fixed_days: int) -> Decimal:
    """`calculateProRationBeforeFirstBillingPeriod`: reference period [next − 1 period, next) (spec Part 5.4, 24)."""
    return proration_over(start, next_cycle_date, period.minus(next_cycle_date), next_cycle_date, fixed_days)


def trailing_proration(end: date, last_cycle_date: date, period: Period, fixed_days: int) -> Decimal:
    """`calculateProRationAfterLastBillingCycleDate`: reference [last, last + 1 period), unaligned (Part 5.5, 24)."""
    return proration_over(last_cycle_date, end, last_cycle_date, period.plus(last_cycle_date), fixed_days)


@dataclass(frozen=True, slots=True)
class BillingInterval:
    """`BillingIntervalDetail`: the cycle dates of one billing event up to the target date."""

    start: date
    end: date | None
    first_cycle_date: date
    effective_end: date | None  # None: nothing to bill yet (IN_ARREAR before its first cycle date)
    last_cycle_date: date | None
    bcd: int
    period: Period

    def cycle_date(self, n: int) -> date:
        """`getFutureBillingDateFor(n)`: first cycle date + n periods, re-aligned to the BCD."""
        if n == 0:
            return self.first_cycle_date
        return align_to_bcd(self.period.plus(self.first_cycle_date, n), self.bcd, self.period)

    def first_cycle_after(self, when: date) -> tuple[int, date]:
        """The smallest n with `cycle_date(n) > when` and that date (cycle dates never decrease with n).

        Starts from an index known to be on or before `when`, so long histories are not walked from the start.
        """
        first = self.first_cycle_date
        n = 0
        if when > first:
            if self.period.months:
                n = ((when.year - first.year) * 12 + when.month - first.month) // self.period.months - 1
            else:
                n = (when.toordinal() - first.toordinal()) // self.period.days - 1
            n = max(n, 0)
        proposed = self.cycle_date(n)
        while proposed <= when:
            n += 1
            proposed = self.cycle_date(n)
        return n, proposed

    @property
    def next_cycle_date(self) -> date:
        """`getNextBillingCycleDate`: the cycle date after the last one billed (IN_ARREAR notification date)."""
        if self.last_cycle_date is None:
            return self.first_cycle_date
        return align_to_bcd(self.period.plus(self.last_cycle_date), self.bcd, self.period)

    @property
    def has_something_to_bill(self) -> bool:
        """We never bill less than a day, and IN_ARREAR bills nothing before its first cycle date."""
        return self.effective_end is not None and (self.end is None or self.end > self.start)


def billing_interval(start: date, end: date | None, target: date, bcd: int, billing_period: BillingPeriod,
                     mode: BillingMode, in_arrear_greedy: bool = False) -> BillingInterval:
    """Compute `BillingIntervalDetail` (killbill HEAD, the version billing-semantics.md was read from).

    Month/year-based periods use the event's BCD; day/week-based periods use the
    start date's day of month and no alignment (spec 2.5).
    """
    period = period_of(billing_period)
    if not period.month_based:
        bcd = start.day
    # first billing cycle date: the BCD (clamped) in the start month, moved by whole periods past the start
    last = last_day_of_month(start.year, start.month)
    proposed = start.replace(day=bcd if bcd <= last else last)
    while proposed < start:
        proposed = period.plus(proposed)
    first = align_to_bcd(proposed, bcd, period)
    interval = BillingInterval(start, end, first, None, None, bcd, period)

    effective_end = (_in_advance_end(interval, target) if mode is BillingMode.IN_ADVANCE
                     else _in_arrear_end(interval, target, in_arrear_greedy))
    last_cycle: date | None = None
    if effective_end is not None and effective_end >= first:
        _, proposed = interval.first_cycle_after(effective_end)
        proposed = align_to_bcd(period.minus(proposed), bcd, period)
        last_cycle = first if proposed < first else proposed
    return BillingInterval(start, end, first, effective_end, last_cycle, bcd, period)


def _in_advance_end(iv: BillingInterval, target: date) -> date:
    """`calculateInAdvanceEffectiveEndDate` (spec 4.2)."""
    if iv.end is not None and target >= iv.end:
        return iv.end
    if target < iv.first_cycle_date:
        return iv.first_cycle_date
    _, proposed = iv.first_cycle_after(target)
    proposed = align_to_bcd(proposed, iv.bcd, iv.period)
    if iv.end is not None and iv.end < proposed:
        return iv.end
    return proposed


def _in_arrear_end(iv: BillingInterval, target: date, greedy: bool) -> date | None:
    """`calculateInArrearEffectiveEndDate` (spec 4.2, including killbill issue #1907 and GREEDY mode)."""
    if iv.end is not None and target == iv.end:
        return target
    cutoff_start = iv.start if greedy else iv.first_cycle_date
    if target < cutoff_start:
        return None
    if iv.end is not None and iv.end < iv.first_cycle_date:
        return iv.end
    # proposed: the last cycle date on or before the target (the first one if none); next_proposed: the one after
    n, next_proposed = iv.first_cycle_after(target)
    proposed = iv.cycle_date(n - 1) if n > 0 else iv.first_cycle_date
    if greedy and proposed != target:
        proposed = next_proposed
    cutoff_end = next_proposed if greedy else target
    if iv.end is not None and iv.end <= cutoff_end:
        return iv.end
    return proposed


@dataclass(frozen=True, slots=True)
class ServicePeriod:
    """One recurring piece: [start, end) billed at `factor` × rate (Kill Bill's `RecurringInvoiceItemData`)."""

    start: date
    end: date
    factor: Decimal


@lru_cache(maxsize=65536)
def service_periods_cached(start: date, end: date | None, target: date, bcd: int, billing_period: BillingPeriod,
                           mode: BillingMode, fixed_days: int = 0, in_arrear_greedy: bool = False
                           ) -> tuple[tuple[ServicePeriod, ...], BillingInterval]:
    """`service_periods` memoised (immutable result): a billing run asks the same question for every account
    that started on the same day with the same bill cycle day and period, and again each month."""
    periods, interval = service_periods(start, end, target, bcd, billing_period, mode, fixed_days, in_arrear_greedy)
    return tuple(periods), interval


def service_periods(start: date, end: date | None, target: date, bcd: int, billing_period: BillingPeriod,
                    mode: BillingMode, fixed_days: int = 0,
                    in_arrear_greedy: bool = False) -> tuple[list[ServicePeriod], BillingInterval]:
    """The recurring pieces one billing event bills up to `target` (`generateInvoiceItemData`, spec 4.2).

    1. An end date on or before the first cycle date: one piece [start, end)
       prorated over [end − 1 period, end) (Part 5.4).
    2. Otherwise a leading stub [start, first cycle date) prorated over
       [first − 1 period, first), then whole periods at factor 1, then a trailing
       stub [last cycle date, effective end) prorated over [last, last + 1 period).
    """
    if end is not None and end < start:
        raise ValueError(f"invalid date sequence: start {start}, end {end}, target {target}")
    if target < start:
        raise ValueError(f"invalid date sequence: start {start}, end {end}, target {target}")
    iv = billing_interval(start, end, target, bcd, billing_period, mode, in_arrear_greedy)
    result: list[ServicePeriod] = []
    if not iv.has_something_to_bill:
        return result, iv
    period = iv.period
    first = iv.first_cycle_date
    if end is not None and end <= first:
        result.append(ServicePeriod(start, end, leading_proration(start, end, period, fixed_days)))
        return result, iv
    if first > start:
        lead = leading_proration(start, first, period, fixed_days)
        if lead > 0:
            result.append(ServicePeriod(start, first, lead))
    effective_end = iv.effective_end
    last_cycle = iv.last_cycle_date
    assert effective_end is not None and last_cycle is not None
    whole = whole_periods_between(first, last_cycle, billing_period)
    for i in range(whole):
        period_start = result[-1].end if result else start
        result.append(ServicePeriod(period_start, iv.cycle_date(i + 1), ONE))
    if effective_end > last_cycle:
        trail = trailing_proration(effective_end, last_cycle, period, fixed_days)
        if trail > 0:
            result.append(ServicePeriod(last_cycle, effective_end, trail))
    return result, iv
