from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billow.core.account_time import zone_date
from billow.core.clock import TestClock
from billow.core.money import is_currency, minor_units, round_money
from billow.rest.jsonio import dumps, format_instant


def test_minor_units_follow_iso_4217() -> None:
    assert minor_units("USD") == 2
    assert minor_units("JPY") == 0
    assert minor_units("BHD") == 3
    assert minor_units("BTC") == 8
    assert is_currency("EUR") and is_currency("BTC")
    assert not is_currency("XYZ") and not is_currency("usd")


def test_round_half_up() -> None:
    assert round_money(Decimal("1.005"), "USD") == Decimal("1.01")
    assert round_money(Decimal("-1.005"), "USD") == Decimal("-1.01")
    assert round_money(Decimal("2.5"), "JPY") == Decimal("3")
    assert str(round_money(Decimal("0"), "USD")) == "0.00"


@given(st.decimals(min_value=-10**9, max_value=10**9, allow_nan=False, allow_infinity=False, places=9),
       st.sampled_from(["USD", "JPY", "BHD", "EUR"]))
def test_rounding_has_currency_precision_and_is_close(amount: Decimal, currency: str) -> None:
    rounded = round_money(amount, currency)
    assert -rounded.as_tuple().exponent == minor_units(currency)  # type: ignore[operator]
    assert abs(rounded - amount) <= Decimal(1).scaleb(-minor_units(currency)) / 2


@given(st.decimals(min_value=-10**9, max_value=10**9, allow_nan=False, allow_infinity=False, places=4))
def test_money_serialises_as_exact_json_number(amount: Decimal) -> None:
    import json

    text = dumps({"amount": amount})
    assert Decimal(json.loads(text, parse_float=Decimal, parse_int=Decimal)["amount"]) == amount


def test_test_clock_moves_only_when_told_and_notifies() -> None:
    seen: list[datetime] = []
    clock = TestClock(datetime(2024, 1, 31, 10, 0, tzinfo=UTC))
    clock.on_change(seen.append)
    assert clock.utcnow() == datetime(2024, 1, 31, 10, 0, tzinfo=UTC)
    clock.add(timedelta(days=1))
    clock.add_months(1)
    assert clock.utcnow() == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert seen == [datetime(2024, 2, 1, 10, 0, tzinfo=UTC), datetime(2024, 3, 1, 10, 0, tzinfo=UTC)]
    assert zone_date(clock.utcnow(), "America/Los_Angeles").isoformat() == "2024-03-01"
    assert zone_date(clock.utcnow(), "Asia/Tokyo").isoformat() == "2024-03-01"
    assert zone_date(clock.utcnow(), "-11:00").isoformat() == "2024-02-29"


def test_instants_print_as_kill_bill() -> None:
    assert format_instant(datetime(2024, 2, 1, 0, 0, 0, 123456, tzinfo=UTC)) == "2024-02-01T00:00:00.123Z"
