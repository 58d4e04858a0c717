"""Tenant settings (pure): Kill Bill's property names, types and defaults; a tenant's value over the server's; the
invoice configuration built from them."""

from __future__ import annotations

import json
from datetime import time, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billow.core.errors import InvalidInput
from billow.invoice.config import generator_config
from billow.invoice.generator import GeneratorConfig, InArrearMode, UsageDetailMode
from billow.tenant import settings as s
from billow.tenant.settings import (
    TenantSettings,
    lenient,
    parse_per_tenant_config,
    parse_timespan,
    read_properties_file,
)


def test_kill_bills_defaults_are_the_generators_defaults() -> None:
    assert generator_config(TenantSettings()) == GeneratorConfig()
    assert TenantSettings().time_of_day(s.PARENT_COMMIT_UTC_TIME) == time(23, 59, 59, 999000)


def test_every_invoice_property_reaches_the_generator_configuration() -> None:
    tenant = parse_per_tenant_config(json.dumps({
        s.PRORATION_FIXED_DAYS: "30", s.MAX_MONTHS_IN_FUTURE: 6, s.DRY_RUN_NOTIFICATION_SCHEDULE: "3d",
        s.SANITY_SAFETY_BOUND_ENABLED: False, s.MAX_DAILY_ITEMS_SAFETY_BOUND: "-1",
        s.PARK_ACCOUNTS_WITH_UNKNOWN_USAGE: "TRUE", s.ITEM_RESULT_BEHAVIOR_MODE: "detail",
        s.USAGE_ZERO_AMOUNT_DISABLED: "true", s.USAGE_MISSING_LENIENT: "true",
        s.READ_MAX_RAW_USAGE_PREVIOUS_PERIOD: "0", s.USAGE_TZ_MODE: "VARIABLE", s.IN_ARREAR_MODE: "GREEDY"}))
    assert generator_config(TenantSettings(tenant=tenant)) == GeneratorConfig(
        proration_fixed_days=30, in_arrear_mode=InArrearMode.GREEDY, max_months_in_future=6,
        max_daily_items_safety_bound=-1, sanity_safety_bound_enabled=False, usage_zero_amount_disabled=True,
        read_max_raw_usage_previous_period=0, usage_missing_lenient=True, usage_detail_mode=UsageDetailMode.DETAIL,
        park_on_unknown_usage=True, usage_zone_rules=True, dry_run_notification=timedelta(days=3))


def test_a_tenants_value_wins_over_the_servers_which_wins_over_the_default() -> None:
    server = {s.PRORATION_FIXED_DAYS: "30", s.MAX_MONTHS_IN_FUTURE: "12"}
    both = TenantSettings(server=server, tenant={s.PRORATION_FIXED_DAYS: "28"})
    assert (both.integer(s.PRORATION_FIXED_DAYS), both.integer(s.MAX_MONTHS_IN_FUTURE),
            both.integer(s.MAX_DAILY_ITEMS_SAFETY_BOUND)) == (28, 12, 15)
    assert both.text("org.killbill.payment.retry.days") is None


def test_unknown_properties_are_kept_and_nulls_are_unset() -> None:
    values = parse_per_tenant_config('{"org.killbill.payment.retry.days": "8,8,8", '
                                     '"org.killbill.invoice.proration.fixed.days": null}')
    assert values == {"org.killbill.payment.retry.days": "8,8,8"}


@pytest.mark.parametrize("raw", ["[]", "not json", '"text"', '{"a": [1]}', '{"a": {"b": 1}}'])
def test_not_an_object_of_scalars_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        parse_per_tenant_config(raw)


def test_timespans_as_config_magic_reads_them() -> None:
    assert parse_timespan("0s") == timedelta(0)
    assert parse_timespan("7d") == timedelta(days=7)
    assert parse_timespan("12 hours") == timedelta(hours=12)
    assert parse_timespan("90m") == timedelta(minutes=90)
    assert parse_timespan("1500ms") == timedelta(seconds=1.5)
    for bad in ("", "d", "7", "7 weeks", "-1d"):
        with pytest.raises(InvalidInput):
            parse_timespan(bad)


def test_stored_bad_values_read_as_unset() -> None:
    """A document stored before values were checked (or by a user key) never breaks a billing run."""
    assert lenient({s.PRORATION_FIXED_DAYS: "lots", s.USAGE_TZ_MODE: "variable", "x.y": "z"}) == {
        s.USAGE_TZ_MODE: "VARIABLE", "x.y": "z"}


def test_properties_file(tmp_path: Path) -> None:
    f = tmp_path / "killbill.properties"
    f.write_text("# server-wide\n! also a comment\norg.killbill.invoice.proration.fixed.days = 30\n"
                 "org.killbill.invoice.dryRunNotificationSchedule: 1d\norg.killbill.server.test.mode true\n")
    assert read_properties_file(f) == {s.PRORATION_FIXED_DAYS: "30", s.DRY_RUN_NOTIFICATION_SCHEDULE: "1d",
                                       "org.killbill.server.test.mode": "true"}
    f.write_text("org.killbill.invoice.maxDailyNumberOfItemsSafetyBound=many\n")
    with pytest.raises(InvalidInput, match="maxDailyNumberOfItemsSafetyBound"):
        read_properties_file(f)


@given(st.integers(-5, 40))
def test_fixed_days_accepted_exactly_in_range(days: int) -> None:
    raw = json.dumps({s.PRORATION_FIXED_DAYS: str(days)})
    if 0 <= days <= 31:
        assert TenantSettings(tenant=parse_per_tenant_config(raw)).integer(s.PRORATION_FIXED_DAYS) == days
    else:
        with pytest.raises(InvalidInput, match=s.PRORATION_FIXED_DAYS):
            parse_per_tenant_config(raw)


def test_serve_properties_option_checks_the_file_and_hands_it_to_worker_processes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from billow.cli.main import load_properties
    from billow.tenant.settings import server_properties_from_environment

    # set through monkeypatch first, so that what load_properties writes is undone after the test
    monkeypatch.setenv("BILLOW_PROPERTIES", "")
    f = tmp_path / "bad.properties"
    f.write_text("org.killbill.invoice.sanitySafetyBoundEnabled=perhaps\n")
    with pytest.raises(typer.BadParameter, match="sanitySafetyBoundEnabled"):
        load_properties(str(f))
    with pytest.raises(typer.BadParameter, match="cannot read"):
        load_properties(str(tmp_path / "missing.properties"))
    f.write_text("org.killbill.invoice.proration.fixed.days=30\n")
    assert load_properties(str(f)) == {s.PRORATION_FIXED_DAYS: "30"}
    assert server_properties_from_environment() == {s.PRORATION_FIXED_DAYS: "30"}  # what a worker process reads
