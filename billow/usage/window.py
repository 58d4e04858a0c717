"""How far back rating reads raw usage (pure): Kill Bill's `RawUsageOptimizer` (invoice module,
`usage/RawUsageOptimizer.java`, `getOptimizedRawUsageStartDate`).

Usage periods that started before this instant are neither re-rated nor billed again, so late usage is billed
only within the last `readMaxRawUsagePreviousPeriod` (default 2) usage periods before the end of the most
recent USAGE item (per usage billing period), and never before the account's first billing event. With
`org.killbill.invoice.disable.usage.zero.amount=true`, Kill Bill assumes invoicing is up to date and counts back
N + 1 periods from min(UTC today, target date) instead. A negative N reads everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time

from billow.catalog.model import BillingPeriod, Usage
from billow.usage.cycles import recede
from billow.usage.model import BilledUsage


def raw_usage_start(first_event: datetime, target: date, existing: Iterable[BilledUsage], known: Mapping[str, Usage],
                    *, previous_periods: int, zero_amount_disabled: bool, utc_today: date) -> datetime:
    """The first instant of raw usage a run at `target` reads. `existing`: the account's USAGE items of known
    IN_ARREAR sections; `known`: every usage section of the account's billing events, by name."""
    if previous_periods < 0:
        return first_event
    periods = {u.billing_period for u in known.values()}
    latest: dict[BillingPeriod, date] = {}
    if zero_amount_disabled:
        base = min(utc_today, target)
        latest = {bp: recede(base, bp, 1) for bp in periods}
    else:
        # the latest end date among the items of each billing period (items of sections not known: ignored)
        for item in sorted(existing, key=lambda it: it.end_date, reverse=True):
            usage = known.get(item.usage_name)
            if usage is not None and usage.billing_period not in latest:
                latest[usage.billing_period] = item.end_date
                if len(latest) == len(periods):
                    break
    candidates = [recede(d, bp, previous_periods) for bp, d in latest.items()]
    if not candidates:
        return first_event
    # the date's start of day in UTC (the JVM zone Kill Bill runs in)
    earliest = datetime.combine(min(candidates), time.min, tzinfo=UTC)
    return earliest if earliest > first_event else first_event
