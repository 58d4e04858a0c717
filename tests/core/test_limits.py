"""What a value must be to be stored (billow/core/limits.py), on both databases alike."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billow.core.errors import InvalidInput
from billow.core.limits import (
    AMOUNT_LIMIT,
    amount_problem,
    check_amount,
    check_date,
    check_integer,
    check_text,
    date_problem,
    integer_problem,
    text_problem,
)


@given(st.text(alphabet=st.characters(exclude_categories=[])))  # surrogates and NUL included
def test_text_is_storable_exactly_when_it_is_utf8_without_nul(value: str) -> None:
    try:
        value.encode("utf-8")
        encodable = True
    except UnicodeEncodeError:
        encodable = False
    assert (text_problem(value) is None) == (encodable and "\x00" not in value)


def test_text_messages_name_the_field_and_the_problem() -> None:
    with pytest.raises(InvalidInput, match=r"^name: contains a NUL character"):
        check_text("name", "a\x00b")
    with pytest.raises(InvalidInput, match=r"^notes: contains an unpaired surrogate \(U\+DC80\)"):
        check_text("notes", "a\udc80")
    with pytest.raises(InvalidInput, match=r"^city: longer than 50 characters"):
        check_text("city", "c" * 51, 50)
    check_text("city", "c" * 50, 50)
    check_text("city", None, 50)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_amounts_fit_numeric_15_9_exactly_below_a_million(value: Decimal) -> None:
    assert (amount_problem(value) is None) == (abs(value) < Decimal(1_000_000))


def test_amount_edges() -> None:
    assert Decimal(1_000_000) == AMOUNT_LIMIT
    check_amount("amount", Decimal("999999.999999999"))
    for bad in ("1000000", "-1000000", "NaN", "Infinity", "99999999999999999999999999999"):
        with pytest.raises(InvalidInput, match="^amount: "):
            check_amount("amount", Decimal(bad))


def test_dates_from_1970_to_9999() -> None:
    assert date_problem(date(1970, 1, 1)) is None and date_problem(date(9999, 12, 31)) is None
    assert date_problem(date(1969, 12, 31)) is not None and date_problem(date(1, 1, 1)) is not None
    # an instant is taken in UTC: 1970-01-01T00:30+01:00 is still 1969 there
    assert date_problem(datetime(1970, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))) is not None
    assert date_problem(datetime(1970, 1, 1, tzinfo=UTC)) is None
    # whose UTC day is beyond the calendar
    assert date_problem(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))) is not None
    with pytest.raises(InvalidInput, match="^requestedDate: 0001-01-01 is out of range"):
        check_date("requestedDate", date(1, 1, 1))


@given(st.integers())
def test_integers_within_their_column(value: int) -> None:
    assert (integer_problem(value, 32) is None) == (-(2**31) <= value < 2**31)
    assert (integer_problem(value, 64) is None) == (-(2**63) <= value < 2**63)


def test_integer_message() -> None:
    with pytest.raises(InvalidInput, match=r"^quantity: 4294967296 is out of range \(a 32-bit integer\)"):
        check_integer("quantity", 2**32, 32)
