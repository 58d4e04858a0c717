"""Usage billing cycles (pure): the bill cycle dates that cut usage periods, and the next usage billing date.

Kill Bill's `generator/BillingIntervalDetail.java` in IN_ARREAR mode (the only mode usage is rated in),
`generator/InvoiceDateUtils.recedeByNPeriods` and `util/bcd/BillCycleDayCalculator.alignProposedBillCycleDate`.
Month/year-based periods fall on the bill cycle day (clamped to the month's last day); day/week-based periods
are aligned on the start date's day of month, i.e. they run from the start.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from billow.catalog.model import BillingPeriod
from billow.usage.errors import UsageRatingError


def _plus(when: date, period: BillingPeriod, count: int) -> date:
    if period is BillingPeriod.NO_BILLING_PERIOD:
        raise UsageRatingError("ILLEGAL INVOICING STATE: an IN_ARREAR usage section needs a billing period")
    result: date = period.add_to(when, count)
    return result


def align(proposed: date, bcd: int, period: BillingPeriod) -> date:
    """`alignProposedBillCycleDate`: month-based periods move to the BCD, clamped to the month's last day."""
    if not period.is_month_based:
        return proposed
    last = calendar.monthrange(proposed.year, proposed.month)[1]
    day = bcd if bcd <= last else last
    return proposed if proposed.day == day else proposed.replace(day=day)


def recede(when: date, period: BillingPeriod, count: int) -> date:
    """`InvoiceDateUtils.recedeByNPeriods`: `count` times one period back (a period-less section: no move)."""
    for _ in range(count):
        if period is BillingPeriod.NO_BILLING_PERIOD:
            return when
        when = _plus(when, period, -1)
    return when


@dataclass(frozen=True, slots=True)
class UsageCycle:
    """`BillingIntervalDetail(start, end, target, bcd, period, IN_ARREAR)` (DEFAULT in-arrear mode)."""

    start: date
    end: date | None
    target: date
    bcd: int
    period: BillingPeriod
    first: date  # the first bill cycle date on or after the start

    @staticmethod
    def of(start: date, end: date | None, target: date, bcd: int, period: BillingPeriod) -> UsageCycle:
        if not period.is_month_based:
            bcd = start.day
        last = calendar.monthrange(start.year, start.month)[1]
        proposed = start.replace(day=bcd if bcd <= last else last)
        while proposed < start:
            proposed = _plus(proposed, period, 1)
        return UsageCycle(start, end, target, bcd, period, align(proposed, bcd, period))

    def cycle_date(self, n: int) -> date:
        """`getFutureBillingDateFor(n)`: the first cycle date plus n periods, on the BCD."""
        return self.first if n == 0 else align(_plus(self.first, self.period, n), self.bcd, self.period)

    def _effective_end(self) -> date | None:
        """`calculateInArrearEffectiveEndDate` (DEFAULT mode, killbill #1907 included)."""
        target, end = self.target, self.end
        if end is not None and target == end:
            return target
        if target < self.first:
            return None
        if end is not None and end < self.first:
            return end
        n = 0
        proposed = self.first
        following = self.cycle_date(0)
        while following <= target:
            proposed = following
            n += 1
            following = self.cycle_date(n)
        return end if end is not None and end <= target else proposed

    def next_billing_date(self) -> date:
        """`getNextBillingCycleDate`: the cycle date after the last one billed up to the target."""
        effective_end = self._effective_end()
        if effective_end is None or effective_end < self.first:
            return self.first
        n = 0
        proposed = self.first
        while proposed <= effective_end:
            proposed = self.cycle_date(n)
            n += 1
        last = align(_plus(proposed, self.period, -1), self.bcd, self.period)
        if last < self.first:
            last = self.first
        return align(_plus(last, self.period, 1), self.bcd, self.period)
