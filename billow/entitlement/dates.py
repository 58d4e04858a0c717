"""Effective dates of entitlement operations (billing-semantics.md 2.3 and 2.5), pure.

Kill Bill sources: `DefaultSubscriptionBase.getEffectiveDateForPolicy`,
`SubscriptionDateHelper`, `BillCycleDayCalculator`/`getEffectiveDateForNewBCD`. Requested dates
become instants through the account's `AccountTime` (billing-semantics.md 4.10).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

from billow.catalog.model import BillingPeriod
from billow.entitlement.model import BillingActionPolicy


def effective_date_for_policy(policy: BillingActionPolicy, *, now: datetime, start_date: datetime,
                              charged_through_date: datetime | None, billing_period: BillingPeriod,
                              current_phase_start: datetime | None) -> datetime:
    """Kill Bill's `getEffectiveDateForPolicy`: IMMEDIATE now; END_OF_TERM the charged-through
    date when it is after now; START_OF_TERM the start of the invoiced period; never before the
    current phase started."""
    if policy is BillingActionPolicy.IMMEDIATE:
        result = now
    elif policy is BillingActionPolicy.END_OF_TERM:
        result = charged_through_date if charged_through_date is not None and charged_through_date > now else now
    elif policy is BillingActionPolicy.START_OF_TERM:
        if charged_through_date is None:
            result = start_date
        elif charged_through_date <= now:
            result = charged_through_date
        else:
            result = charged_through_date
            if billing_period is not BillingPeriod.NO_BILLING_PERIOD:
                n = 0
                while result > now:
                    n += 1
                    result = _minus_periods(charged_through_date, billing_period, n)
    else:
        raise ValueError(f"no effective date for policy {policy}")
    if current_phase_start is not None and result < current_phase_start:
        result = current_phase_start
    return result


def _minus_periods(when: datetime, period: BillingPeriod, n: int) -> datetime:
    from dateutil.relativedelta import relativedelta

    months = period.months
    if months is not None:
        return when - relativedelta(months=months * n)
    days = period.days or 0
    from datetime import timedelta

    return when - timedelta(days=days * n)


def effective_date_for_new_bcd(bcd: int, effective_from: date | None, *, today: date, start: date) -> date:
    """Kill Bill's `getEffectiveDateForNewBCD`: the first date from `effective_from` (or today) whose
    day is the new BCD, clamped to the month's end; this month if the BCD is not before the day,
    else next month; never before the subscription started."""
    base = effective_from or today
    if effective_from is None and bcd == base.day:
        result = base
    else:
        last = calendar.monthrange(base.year, base.month)[1]
        if bcd >= base.day:
            result = base.replace(day=min(bcd, last))
        else:
            year, month = (base.year + 1, 1) if base.month == 12 else (base.year, base.month + 1)
            result = date(year, month, min(bcd, calendar.monthrange(year, month)[1]))
    return max(result, start)
