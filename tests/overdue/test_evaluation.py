"""Overdue evaluation, without a database: Kill Bill's conditions and its first-match rule."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billow.overdue.evaluation import condition_holds, evaluate
from billow.overdue.model import (
    CLEAR_STATE,
    BillingState,
    Duration,
    OverdueCondition,
    OverdueConfig,
    OverdueState,
    PaymentResponse,
    TimeUnit,
)

TODAY = date(2024, 3, 1)


def _billing(count: int = 1, balance: str = "10", earliest: date | None = date(2024, 1, 1),
             tags: frozenset[str] = frozenset()) -> BillingState:
    return BillingState(count, Decimal(balance), earliest, tags)


def _days(n: int, unit: TimeUnit = TimeUnit.DAYS) -> OverdueCondition:
    return OverdueCondition(time_since_earliest_unpaid=Duration(unit, n))


LADDER = OverdueConfig((OverdueState("OD3", _days(50)), OverdueState("OD2", _days(40)),
                        OverdueState("OD1", _days(30))))


def test_each_clause() -> None:
    b = _billing(count=2, balance="100.00", earliest=TODAY - timedelta(days=30), tags=frozenset({"TEST"}))
    assert condition_holds(OverdueCondition(number_of_unpaid_invoices=2), b, TODAY)
    assert not condition_holds(OverdueCondition(number_of_unpaid_invoices=3), b, TODAY)
    assert condition_holds(OverdueCondition(total_unpaid_balance=Decimal("100")), b, TODAY)
    assert not condition_holds(OverdueCondition(total_unpaid_balance=Decimal("100.01")), b, TODAY)
    assert condition_holds(_days(30), b, TODAY) and not condition_holds(_days(31), b, TODAY)
    assert not condition_holds(_days(1), _billing(count=0, balance="0", earliest=None), TODAY)
    assert condition_holds(OverdueCondition(control_tag_inclusion="TEST"), b, TODAY)
    assert not condition_holds(OverdueCondition(control_tag_exclusion="TEST"), b, TODAY)
    assert condition_holds(OverdueCondition(control_tag_exclusion="PARTNER"), b, TODAY)
    # Kill Bill's last failed payment response is always INSUFFICIENT_FUNDS
    assert condition_holds(OverdueCondition(responses=(PaymentResponse.INSUFFICIENT_FUNDS,)), b, TODAY)
    assert not condition_holds(OverdueCondition(responses=(PaymentResponse.DECLINE,)), b, TODAY)
    # an unset duration (UNLIMITED, zero) is no clause
    assert condition_holds(OverdueCondition(time_since_earliest_unpaid=Duration(TimeUnit.UNLIMITED, -1)), b, TODAY)


def test_weeks_months_and_years_count_from_the_invoice_date() -> None:
    assert condition_holds(_days(2, TimeUnit.WEEKS), _billing(earliest=TODAY - timedelta(days=14)), TODAY)
    assert not condition_holds(_days(2, TimeUnit.WEEKS), _billing(earliest=TODAY - timedelta(days=13)), TODAY)
    assert condition_holds(_days(1, TimeUnit.MONTHS), _billing(earliest=date(2024, 1, 31)), date(2024, 2, 29))
    assert not condition_holds(_days(1, TimeUnit.YEARS), _billing(earliest=date(2023, 3, 2)), TODAY)


def test_the_first_state_in_file_order_wins_and_none_is_clear() -> None:
    assert evaluate(LADDER, _billing(earliest=TODAY - timedelta(days=45)), TODAY).name == "OD2"
    assert evaluate(LADDER, _billing(earliest=TODAY - timedelta(days=29)), TODAY) is CLEAR_STATE
    # a state without a condition is never chosen; a milder state listed first shadows the severe ones
    shadowed = OverdueConfig((OverdueState("Clear", is_clear=True), OverdueState("OD1", _days(30)),
                              OverdueState("OD3", _days(50))))
    assert evaluate(shadowed, _billing(earliest=TODAY - timedelta(days=60)), TODAY).name == "OD1"


@given(st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=400))
def test_a_longer_wait_never_gives_a_milder_state(a: int, b: int) -> None:
    rank = {"OD3": 3, "OD2": 2, "OD1": 1, CLEAR_STATE.name: 0}
    early, late = sorted((a, b))
    first = evaluate(LADDER, _billing(earliest=TODAY - timedelta(days=early)), TODAY)
    second = evaluate(LADDER, _billing(earliest=TODAY - timedelta(days=late)), TODAY)
    assert rank[first.name] <= rank[second.name]


@given(st.integers(min_value=0, max_value=400))
def test_the_state_is_the_ladder_rung_the_wait_reached(days: int) -> None:
    expected = "OD3" if days >= 50 else "OD2" if days >= 40 else "OD1" if days >= 30 else CLEAR_STATE.name
    assert evaluate(LADDER, _billing(earliest=TODAY - timedelta(days=days)), TODAY).name == expected
    # nothing unpaid: always clear
    assert evaluate(LADDER, _billing(count=0, balance="0", earliest=None), TODAY) is CLEAR_STATE


@given(st.lists(st.sampled_from(["AUTO_PAY_OFF", "TEST", "PARTNER", "WRITTEN_OFF"]), max_size=4))
def test_inclusion_and_exclusion_are_opposites(tags: list[str]) -> None:
    b = _billing(tags=frozenset(tags))
    assert condition_holds(OverdueCondition(control_tag_inclusion="TEST"), b, TODAY) != condition_holds(
        OverdueCondition(control_tag_exclusion="TEST"), b, TODAY)
