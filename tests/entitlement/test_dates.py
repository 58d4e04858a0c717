"""Effective dates of entitlement operations (pure): policies, BCD changes, requested dates."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from billow.catalog.model import BillingPeriod
from billow.entitlement.dates import effective_date_for_new_bcd, effective_date_for_policy
from billow.entitlement.model import BillingActionPolicy as P

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
START = datetime(2024, 1, 5, 12, 0, tzinfo=UTC)


def policy_date(policy: P, ctd: datetime | None, phase_start: datetime | None = None,
                period: BillingPeriod = BillingPeriod.MONTHLY) -> datetime:
    return effective_date_for_policy(policy, now=NOW, start_date=START, charged_through_date=ctd,
                                     billing_period=period, current_phase_start=phase_start)


def test_policies() -> None:
    ctd = datetime(2024, 4, 5, 12, 0, tzinfo=UTC)
    assert policy_date(P.IMMEDIATE, ctd) == NOW
    assert policy_date(P.END_OF_TERM, ctd) == ctd
    assert policy_date(P.END_OF_TERM, None) == NOW  # nothing invoiced yet
    assert policy_date(P.END_OF_TERM, datetime(2024, 3, 1, tzinfo=UTC)) == NOW  # CTD in the past
    # START_OF_TERM: start of the invoiced period: CTD minus whole periods until not after now
    assert policy_date(P.START_OF_TERM, ctd) == datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
    assert policy_date(P.START_OF_TERM, None) == START
    assert policy_date(P.START_OF_TERM, datetime(2024, 3, 1, tzinfo=UTC)) == datetime(2024, 3, 1, tzinfo=UTC)
    # never before the current phase started
    phase_start = datetime(2024, 3, 8, tzinfo=UTC)
    assert policy_date(P.START_OF_TERM, ctd, phase_start) == phase_start


@given(st.integers(min_value=1, max_value=400), st.sampled_from([BillingPeriod.MONTHLY, BillingPeriod.QUARTERLY,
                                                                   BillingPeriod.ANNUAL, BillingPeriod.WEEKLY]))
def test_start_of_term_is_within_one_period_before_now(days_ahead: int, period: BillingPeriod) -> None:
    ctd = NOW + timedelta(days=days_ahead)
    result = policy_date(P.START_OF_TERM, ctd, period=period)
    assert result <= NOW
    assert NOW - result <= timedelta(days=366)


def test_new_bcd_dates() -> None:
    start = date(2024, 1, 1)
    assert effective_date_for_new_bcd(20, None, today=date(2024, 3, 10), start=start) == date(2024, 3, 20)
    assert effective_date_for_new_bcd(5, None, today=date(2024, 3, 10), start=start) == date(2024, 4, 5)
    assert effective_date_for_new_bcd(10, None, today=date(2024, 3, 10), start=start) == date(2024, 3, 10)
    assert effective_date_for_new_bcd(31, None, today=date(2024, 2, 10), start=start) == date(2024, 2, 29)
    assert effective_date_for_new_bcd(31, None, today=date(2024, 12, 31), start=start) == date(2024, 12, 31)
    assert effective_date_for_new_bcd(1, None, today=date(2024, 12, 31), start=start) == date(2025, 1, 1)
    assert effective_date_for_new_bcd(15, date(2024, 6, 1), today=date(2024, 3, 10), start=start) == date(2024, 6, 15)
    assert effective_date_for_new_bcd(3, None, today=date(2024, 3, 10), start=date(2024, 5, 1)) == date(2024, 5, 1)


@given(st.integers(min_value=1, max_value=31), st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 1)))
def test_new_bcd_date_is_the_bcd_clamped_and_never_before_today(bcd: int, today: date) -> None:
    result = effective_date_for_new_bcd(bcd, None, today=today, start=date(1999, 1, 1))
    assert result >= today
    assert (result - today).days <= 62
    assert result.day == min(bcd, calendar.monthrange(result.year, result.month)[1])
