"""The rater on small sections of our own: period boundaries, late usage, cancellations, catalog versions, blocking,
unknown units, DETAIL mode, TOP_TIER, the raw usage window, time zones; and property tests. Figures are worked out
by hand; the Kill Bill test each case replays is named where there is one (killbill/killbill 0.24, `invoice` unit
tests and `beatrix` integration tests)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billow.catalog.model import BillingPeriod, TierBlockPolicy
from billow.core.account_time import AccountTime
from billow.usage.errors import UsageRatingError
from billow.usage.model import BilledUsage, RatingSettings, TrackingRecord, UsageDetailMode
from billow.usage.rater import rate_usage
from billow.usage.window import raw_usage_start
from tests.usage.rating import Runner, T, as_billed, at, capacity, consumable, d, event, rate, rec, summary

BULLETS = consumable("bullets-usage", ("bullets", "100", "2.95", "10"), ("bullets", "1000", "5.95", "100"))
STONES = capacity("stones-usage", ({"stones": "100"}, "100"), ({"stones": "-1"}, "1000"))


def amounts(items) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(str(i.start_date), str(i.end_date), str(i.amount)) for i in items]


# ---------------------------------------------------------------------------------------------- periods
def test_first_period_starts_at_the_subscription_instant_and_later_ones_at_local_midnight() -> None:
    """The start instant is a boundary: a record earlier that day is not billed (the integration tests stamp records
    at T06:30 for that reason); the bill cycle dates are local midnights."""
    ev = event(at("2012-04-01", 6, 30), BULLETS)
    records = [rec(at("2012-04-01", 6, 0), "bullets", 500), rec(at("2012-04-01", 6, 30), "bullets", 99),
               rec(at("2012-04-30", 23, 59), "bullets", 1), rec(at("2012-05-01"), "bullets", 300)]
    r = Runner([ev], records)
    assert amounts(r.at("2012-05-01")) == [("2012-04-01", "2012-05-01", "2.95")]  # 99 + 1 → 1 block
    assert amounts(r.at("2012-06-01")) == [("2012-05-01", "2012-06-01", "8.85")]  # 300 → 3 blocks


@pytest.mark.parametrize(("start", "target", "expected"), [
    ("2015-05-15", "2015-06-14", []),  # the period is not over
    ("2015-05-01", "2015-06-14", [("2015-05-01", "2015-05-15")]),  # leading stub up to the BCD
    ("2015-05-15", "2015-06-15", [("2015-05-15", "2015-06-15")]),
    ("2015-05-01", "2015-06-15", [("2015-05-01", "2015-05-15"), ("2015-05-15", "2015-06-15")]),
])
def test_periods_are_cut_on_the_bcd(start: str, target: str, expected: list[tuple[str, str]]) -> None:
    """TestContiguousIntervalConsumableInArrear.testTransitionsTimes1-4 (BCD 15, monthly); one record in the first
    period, so that every period is rated (without any record only the last period gets a $0 item)."""
    result = rate([event(at(start), BULLETS, bcd=15)], [rec(at(start, 1), "bullets", 1)], target)
    assert [(str(i.start_date), str(i.end_date)) for i in result.items] == expected
    # the next usage billing date: the BCD after the target
    assert result.next_dates == {"sub-1": {"bullets-usage": d("2015-06-15") if target < "2015-06-15"
                                           else d("2015-07-15")}}


def test_a_change_keeping_the_section_does_not_cut_periods_but_a_section_change_does() -> None:
    """testTransitionsTimes6, TestUsageInArrear.testWithChange: a CHANGE to a plan with the same section (same catalog
    version) goes on in the same period; a plan with another section closes the first at the change."""
    same = [event(at("2015-05-15"), BULLETS, bcd=15), event(at("2015-05-28"), BULLETS, transition=T.CHANGE,
                                                            plan="other", bcd=15)]
    items = rate(same, [rec("2015-05-20", "bullets", 99), rec("2015-06-01", "bullets", 1)], "2015-06-15").items
    assert amounts(items) == [("2015-05-15", "2015-06-15", "2.95")]
    assert items[0].plan_name == "plan"  # the interval's first event names the plan
    slugs = consumable("slugs-usage", ("slugs", "100", "2", "10"))
    changed = [event(at("2015-05-15"), BULLETS, bcd=15), event(at("2015-05-28"), slugs, transition=T.CHANGE, bcd=15)]
    items = rate(changed, [rec("2015-05-20", "bullets", 99), rec("2015-06-01", "slugs", 150)], "2015-06-15").items
    assert sorted(summary(items)) == [("bullets-usage", d("2015-05-15"), d("2015-05-28"), D("2.95")),
                                      ("slugs-usage", d("2015-05-28"), d("2015-06-15"), D("4.00"))]


def test_a_new_catalog_version_splits_the_period() -> None:
    """TestInArrearWithCatalogVersions.testWithChangeAcrossCatalogs (readMaxRawUsagePreviousPeriod=0): v1 at $1.50
    (max 1000 kWh) then $2; v2 from 05-08 at $2.50 then $3. April 143 + 57 kWh → $300; 05-02 100 → 05-01→05-08 $150
    (v1); 05-10 100 → 05-08→06-01 $250 (v2)."""
    v1, v2 = datetime(2016, 2, 8, tzinfo=UTC), datetime(2016, 5, 8, tzinfo=UTC)
    old = consumable("electricity-monthly", ("kWh", "1", "1.50", "1000"), ("kWh", "1", "2.00", "-1"))
    new = consumable("electricity-monthly", ("kWh", "1", "2.50", "1000"), ("kWh", "1", "3.00", "-1"))
    r = Runner([event(at("2016-04-01"), old, catalog=v1),
                event(at("2016-05-08"), new, transition=T.CHANGE, catalog=v2)],
               [rec("2016-04-05", "kWh", 143), rec("2016-04-06", "kWh", 57)],
               settings=RatingSettings(read_max_raw_usage_previous_period=0))
    assert amounts(r.at("2016-05-01")) == [("2016-04-01", "2016-05-01", "300.00")]
    r.records += [rec("2016-05-02", "kWh", 100), rec("2016-05-10", "kWh", 100)]
    items = r.at("2016-06-01")
    assert amounts(items) == [("2016-05-01", "2016-05-08", "150.00"), ("2016-05-08", "2016-06-01", "250.00")]
    assert [i.catalog_effective_date for i in items] == [v1, v2]


# ---------------------------------------------------------------------------------------------- late usage, repairs
def test_late_usage_is_billed_as_a_difference_within_the_window() -> None:
    """TestUsageInArrear.testWithNoUsageInPeriodAndOldUsage."""
    r = Runner([event(at("2012-04-01"), BULLETS)], [rec("2012-04-01", "bullets", 99, "t1"),
                                                    rec("2012-04-15", "bullets", 100, "t2")])
    assert amounts(r.at("2012-05-01")) == [("2012-04-01", "2012-05-01", "5.90")]
    assert amounts(r.at("2012-06-01")) == [("2012-05-01", "2012-06-01", "0.00")]  # a $0 item for an empty period
    r.records += [rec("2012-06-01", "bullets", 50, "t3"), rec("2012-06-16", "bullets", 300, "t4")]
    assert amounts(r.at("2012-07-01")) == [("2012-06-01", "2012-07-01", "11.80")]
    # late: April (before the window: last item ends 07-01, minus 2 periods = 05-01) is not re-rated even though its
    # 04-15 record is gone; May gets 199 (2 blocks − 0 billed); July is billed as usual
    del r.records[1]
    r.records += [rec("2012-04-30", "bullets", 100, "t5"), rec("2012-05-01", "bullets", 199, "t6"),
                  rec("2012-07-01", "bullets", 50, "t7"), rec("2012-07-16", "bullets", 300, "t8")]
    items = r.at("2012-08-01")
    assert amounts(items) == [("2012-05-01", "2012-06-01", "5.90"), ("2012-07-01", "2012-08-01", "11.80")]
    # the late item carries only what is added: tier 1, 2 blocks (the $0 item billed 0 of them)
    assert json.loads(items[0].item_details)["tierDetails"] == [
        {"tier": 1, "tierUnit": "bullets", "tierPrice": 2.95, "tierBlockSize": 100, "quantity": 2, "amount": 5.90}]
    # nothing new: nothing billed again
    assert r.at("2012-08-01") == []


def test_late_usage_across_tiers_bills_each_tier_once() -> None:
    """ALL_TIERS re-rating subtracts per tier: 900 then 1,600 more bullets = tier 1 full (10 blocks) + 2 blocks of
    1,000 in tier 2; the second item holds 1 block of tier 1 and 2 of tier 2."""
    r = Runner([event(at("2012-04-01"), BULLETS)], [rec("2012-04-02", "bullets", 900)])
    assert amounts(r.at("2012-05-01")) == [("2012-04-01", "2012-05-01", "26.55")]
    r.records.append(rec("2012-04-20", "bullets", 1600))
    [late] = r.at("2012-05-02")
    assert late.amount == D("14.85")  # 2.95 + 2 × 5.95
    assert [(e["tier"], e["quantity"]) for e in json.loads(late.item_details)["tierDetails"]] == [(1, 1), (2, 2)]


def test_deleted_usage_is_an_illegal_state_unless_lenient_or_dry_run() -> None:
    """TestInArrearWithCatalogVersions.testWithRemovedData: re-rating lower than billed fails the run;
    `usage.missing.lenient` (and dry runs) skip the period."""
    r = Runner([event(at("2012-04-01"), BULLETS)],
               [rec("2012-04-02", "bullets", 99), rec("2012-04-03", "bullets", 900)])
    r.at("2012-05-01")
    del r.records[1]
    r.records.append(rec("2012-04-20", "bullets", 1))
    with pytest.raises(UsageRatingError, match="Expected usage for subscription='sub-1', targetDate='2012-05-02', "
                                               "startDt='2012-04-01', endDt='2012-05-01', tier='1', unit='bullets' "
                                               "to contain at least as much as current usage, instead found "
                                               "units='.1/10.'"):
        r.at("2012-05-02")
    assert rate(r.events, r.records, "2012-05-02", billed=r.billed, dry_run=True).items == []
    assert r.with_settings(missing_lenient=True).at("2012-05-02") == []
    # capacity: a lower max after billing
    c = Runner([event(at("2012-04-01"), STONES)], [rec("2012-04-05", "stones", 150)])
    assert amounts(c.at("2012-05-01")) == [("2012-04-01", "2012-05-01", "1000.00")]
    c.records = [rec("2012-04-05", "stones", 50)]
    with pytest.raises(UsageRatingError, match=r"ILLEGAL INVOICING STATE: Usage period start='2012-04-01T00:00:00.000Z'"
                                                r", end='2012-05-01T00:00:00.000Z', amountToBill='-900.00'"):
        c.at("2012-05-02")


def test_a_longer_billed_period_containing_a_new_shorter_one_is_left_alone() -> None:
    """TestUsageInArrear.testWithPartialBlockBilling: billing blocked from 04-16 after April was billed makes the
    period 04-01→04-16, inside the billed 04-01→05-01: nothing is billed again."""
    r = Runner([event(at("2012-04-01"), BULLETS)],
               [rec("2012-04-01", "bullets", 99), rec("2012-04-18", "bullets", 100)])
    assert amounts(r.at("2012-05-01")) == [("2012-04-01", "2012-05-01", "5.90")]
    r.events.append(event(at("2012-04-16"), transition=T.START_BILLING_DISABLED))
    assert r.at("2012-05-21") == []


# ---------------------------------------------------------------------------------------------- cancellation
def test_usage_up_to_an_immediate_cancellation() -> None:
    """TestUsageInArrear.testWithCancellation / testWithUsageAtCancellationDay: the last period ends at the cancel
    instant; a record stamped at that instant is in it, a later one is not."""
    cancel = at("2012-05-16", 8, 0)
    events = [event(at("2012-04-01", 8, 0), BULLETS), event(cancel, transition=T.CANCEL)]
    records = [rec(at("2012-04-10", 8, 0), "bullets", 99), rec(at("2012-05-01", 8, 0), "bullets", 50),
               rec(cancel, "bullets", 300), rec(at("2012-05-16", 8, 1), "bullets", 1000)]
    r = Runner(events, records)
    assert amounts(r.at("2012-05-01")) == [("2012-04-01", "2012-05-01", "2.95")]
    items = r.at("2012-05-16")
    assert amounts(items) == [("2012-05-01", "2012-05-16", "11.80")]  # 50 + 300 → 4 blocks


def test_create_and_cancel_at_the_same_instant_bill_the_records_of_that_instant() -> None:
    """TestUsageInArrear.testWithUsageAtCancellationDay2: a zero-length period 04-01→04-01 with the 99 bullets
    recorded at the creation instant."""
    now = at("2012-04-01", 9, 0)
    events = [event(now, BULLETS), event(now, transition=T.CANCEL, ordering=1)]
    items = rate(events, [rec(now, "bullets", 99, "1"), rec("2012-04-15", "bullets", 100, "2")], "2012-04-01").items
    assert amounts(items) == [("2012-04-01", "2012-04-01", "2.95")]


# ---------------------------------------------------------------------------------------------- unknown units
def test_unknown_units_are_ignored_or_park_the_account() -> None:
    """TestUnknownUsageUnits: a unit in no section of the billing event is ignored, its tracking records dropped;
    with parkAccountsWithUnknownUsage the run fails (the account is parked)."""
    events = [event(at("2012-04-01"), BULLETS)]
    records = [rec("2012-04-02", "bullets", 99, "known"), rec("2012-04-03", "lasers", 5, "unknown")]
    result = rate(events, records, "2012-05-01")
    assert amounts(result.items) == [("2012-04-01", "2012-05-01", "2.95")]
    assert result.tracking == {TrackingRecord("known", "sub-1", "bullets", d("2012-04-02"))}
    with pytest.raises(UsageRatingError, match="ILLEGAL INVOICING STATE: unit type lasers is not defined in the "
                                               "catalog effective Date 2011-01-01T00:00:00.000Z for "
                                               "subscription sub-1"):
        rate(events, records, "2012-05-01", settings=RatingSettings(park_on_unknown_usage=True))


def test_units_of_another_section_of_the_same_event_are_not_unknown() -> None:
    both = [event(at("2012-04-01"), BULLETS, STONES)]
    records = [rec("2012-04-02", "bullets", 99), rec("2012-04-03", "stones", 150)]
    items = rate(both, records, "2012-05-01", settings=RatingSettings(park_on_unknown_usage=True)).items
    assert sorted((i.usage_name, str(i.amount)) for i in items) == [("bullets-usage", "2.95"),
                                                                     ("stones-usage", "1000.00")]


# ---------------------------------------------------------------------------------------------- modes and policies
def test_detail_mode_one_item_per_tier_and_late_usage_per_tier() -> None:
    """`item.result.behavior.mode=DETAIL`: one item per (unit, tier) with rate and quantity; re-rating reads the
    billed items' quantities (TestWithoutZeroUsageItems uses DETAIL)."""
    r = Runner([event(at("2012-04-01"), BULLETS)], [rec("2012-04-02", "bullets", 1500)],
               settings=RatingSettings(detail_mode=UsageDetailMode.DETAIL))
    items = r.at("2012-05-01")
    assert [(i.amount, i.rate, i.quantity) for i in items] == [(D("29.50"), D("2.95"), D(10)),
                                                              (D("5.95"), D("5.95"), D(1))]
    assert items[0].item_details == ('{"tier":1,"tierUnit":"bullets","tierPrice":2.95,"tierBlockSize":100,'
                                     '"quantity":10,"amount":29.50}')
    r.records.append(rec("2012-04-20", "bullets", 1000))
    assert [(i.amount, i.quantity) for i in r.at("2012-05-02")] == [(D("0.00"), D(0)), (D("5.95"), D(1))]


@pytest.mark.parametrize(("units", "tier", "amount"), [
    ("1000", 1, "10"), ("101000", 2, "101"), ("101001", 3, "51.0"), ("300000", 3, "150.0")])
def test_top_tier_bills_every_unit_at_the_tier_reached(units: str, tier: int, amount: str) -> None:
    """TestContiguousIntervalConsumableInArrear.testComputeBilledUsageWith_TOP_TIER."""
    top = consumable("top", ("u", "100", "1", "10"), ("u", "1000", "1", "100"), ("u", "1000", "0.5", "100"),
                     policy=TierBlockPolicy.TOP_TIER)
    [item] = rate([event(at("2014-03-01"), top)], [rec("2014-03-05", "u", units)], "2014-04-01").items
    detail = json.loads(item.item_details, parse_float=D)
    assert detail["tierDetails"][0]["tier"] == tier and detail["amount"] == D(amount)
    assert item.amount == D(amount).quantize(D("0.01"))


def test_top_tier_unlimited_tier_and_small_blocks() -> None:
    unlimited = consumable("top", ("u", "100", "10", "10"), ("u", "100", "1", "-1"), policy=TierBlockPolicy.TOP_TIER)
    [item] = rate([event(at("2014-03-01"), unlimited)], [rec("2014-03-05", "u", 2000)], "2014-04-01").items
    assert item.amount == D("20.00")  # a max of -1 always counts as exceeded: the last tier, 20 blocks × $1
    ones = [("u", "1", "1.5", "10"), ("u", "1", "1", "100"), ("u", "1", "0.5", "1000")]
    top = consumable("top", *ones, policy=TierBlockPolicy.TOP_TIER)
    all_tiers = consumable("all", *ones)
    records = [rec("2014-03-05", "u", 111)]
    assert rate([event(at("2014-03-01"), top)], records, "2014-04-01").items[0].amount == D("55.50")
    # ALL_TIERS: 10 × 1.5 + 100 × 1 + 1 × 0.5
    assert rate([event(at("2014-03-01"), all_tiers)], records, "2014-04-01").items[0].amount == D("115.50")


def test_fractional_amounts_round_up_to_whole_blocks() -> None:
    """Amounts are decimals (TestUsage.testRecordUsageWithDecimal): 4.75 units in blocks of 1 are 5 blocks."""
    per_unit = consumable("per-unit", ("u", "1", "1", "-1"))
    [item] = rate([event(at("2014-03-01"), per_unit)], [rec("2014-03-05", "u", "4.75")], "2014-04-01").items
    assert item.amount == D("5.00")


# ---------------------------------------------------------------------------------------------- window, tz, tracking
def test_raw_usage_window() -> None:
    """TestRawUsageOptimizer: no item → the first event; 2014-04-15 − 2 months is before the first event; the
    latest of five monthly items (2014-08-15) − 2 months = 2014-06-15 (a section with no item does not count)."""
    monthly = consumable("monthly", ("u", "1", "1", "-1"))
    annual = consumable("annual", ("v", "1", "1", "-1"), period=BillingPeriod.ANNUAL)
    known = {"monthly": monthly, "annual": annual}
    first = at("2014-03-15")

    def item(end: str) -> BilledUsage:
        return BilledUsage("i", "s", "monthly", d("2014-03-15"), d(end), D(1))

    def start(items: list[BilledUsage], **kw: object) -> datetime:
        options = {"previous_periods": 2, "zero_amount_disabled": False, "utc_today": d("2014-09-01"), **kw}
        return raw_usage_start(first, d("2014-09-01"), items, known, **options)  # type: ignore[arg-type]

    assert start([]) == first
    assert start([item("2014-04-15")]) == first
    assert start([item(f"2014-{m:02d}-15") for m in range(4, 9)]) == at("2014-06-15")
    assert start([item("2014-08-15")], previous_periods=-1) == first
    # disable.usage.zero.amount: N + 1 periods before min(UTC today, target), whatever was billed; the annual section
    # reaches back a year, before the first event
    assert start([], zero_amount_disabled=True, previous_periods=0) == first
    known.pop("annual")
    assert start([], zero_amount_disabled=True, previous_periods=0) == at("2014-08-01")
    assert start([], zero_amount_disabled=True, previous_periods=0, utc_today=d("2014-07-20")) == at("2014-06-20")


def test_variable_time_zone_mode_cuts_periods_at_local_midnight_across_dst() -> None:
    """TestDSTUsageIssue (America/New_York, `usage.tz.mode=VARIABLE`, DETAIL): one stone at each of these local times
    → March 3, April 4, May 2 (boundaries at local midnight with the offset of that day)."""
    zone = "America/New_York"
    account_time = AccountTime(zone, datetime(2023, 3, 1, 9, 0, tzinfo=UTC))
    stones = consumable("stones", ("stones", "1", "1", "-1"))
    ev = event(datetime(2023, 3, 1, 9, 0, tzinfo=UTC), stones)
    local = ["03-01 04:00", "03-15 00:00", "03-31 23:59", "04-01 00:00", "04-01 00:01", "04-15 00:00",
             "04-30 23:59", "05-01 00:00", "05-01 00:01"]
    from zoneinfo import ZoneInfo

    records = [rec(datetime.fromisoformat(f"2023-{t}").replace(tzinfo=ZoneInfo(zone)).astimezone(UTC), "stones", 1)
               for t in local]
    variable = RatingSettings(detail_mode=UsageDetailMode.DETAIL, zone_rules=True)
    billed: list[BilledUsage] = []
    quantities = []
    for target in ("2023-04-01", "2023-05-01", "2023-06-01"):
        result = rate_usage([ev], billed, records, target=d(target), time=account_time, currency="USD",
                            settings=variable, now=at(target))
        billed += [as_billed(i) for i in result.items]
        quantities += [(str(i.start_date), i.quantity) for i in result.items]
    assert quantities == [("2023-03-01", 3), ("2023-04-01", 4), ("2023-05-01", 2)]
    # FIXED (the default): the offset of the reference instant (EST, −5h) all year: April's first hour is March's
    fixed = rate_usage([ev], [], records, target=d("2023-04-01"), time=account_time, currency="USD",
                       settings=RatingSettings(detail_mode=UsageDetailMode.DETAIL), now=at("2023-04-01"))
    assert [i.quantity for i in fixed.items] == [5]


def test_tracking_records_exclude_those_already_invoiced() -> None:
    events = [event(at("2012-04-01"), BULLETS)]
    records = [rec("2012-04-02", "bullets", 10, "a"), rec("2012-04-02", "bullets", 10, "a"),
               rec("2012-04-03", "bullets", 10, "b")]
    seen = TrackingRecord("a", "sub-1", "bullets", d("2012-04-02"))
    result = rate_usage(events, [], records, target=d("2012-05-01"), time=AccountTime(), currency="USD",
                        settings=RatingSettings(), now=at("2012-05-01"), invoiced=frozenset({seen}))
    assert result.tracking == {TrackingRecord("b", "sub-1", "bullets", d("2012-04-03"))}


# ---------------------------------------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None)
@given(first=st.lists(st.integers(0, 3000), max_size=4), late=st.lists(st.integers(0, 3000), min_size=1, max_size=4),
       detail=st.booleans())
def test_billing_late_usage_adds_up_to_rating_everything_at_once(first: list[int], late: list[int],
                                                                 detail: bool) -> None:
    """ALL_TIERS: the items of a period billed in two runs (usage, then late usage) sum to the amount of one run over
    all of it, in both item modes."""
    mode = UsageDetailMode.DETAIL if detail else UsageDetailMode.AGGREGATE
    events = [event(at("2012-04-01"), BULLETS)]
    early = [rec("2012-04-05", "bullets", n) for n in first]
    later = [rec("2012-04-25", "bullets", n) for n in late]
    config = RatingSettings(detail_mode=mode)
    once = sum((i.amount for i in rate(events, early + later, "2012-05-01", settings=config).items), D(0))
    r = Runner(events, list(early), settings=config)
    twice = sum((i.amount for i in r.at("2012-05-01")), D(0))
    r.records += later
    twice += sum((i.amount for i in r.at("2012-05-02")), D(0))
    assert twice == once


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.integers(0, 400), min_size=1, max_size=6), cut=st.integers(0, 6))
def test_capacity_in_two_runs_adds_up_to_the_tier_of_the_max(values: list[int], cut: int) -> None:
    events = [event(at("2012-04-01"), STONES)]
    records = [rec(f"2012-04-{k + 2:02d}", "stones", v) for k, v in enumerate(values)]
    r = Runner(events, records[:cut])
    total = sum((i.amount for i in r.at("2012-05-01")), D(0))
    r.records = records
    total += sum((i.amount for i in r.at("2012-05-02")), D(0))
    top = max(values)
    assert total == (D(0) if top == 0 else D(100) if top <= 100 else D(1000))


# ---------------------------------------------------------------------------------------------- building blocks
def test_units_are_ordered_as_kill_bills_hash_map_orders_them() -> None:
    """notes 2.12: bucket `(h ^ h >>> 16) & 15` of `String.hashCode`, ties in insertion order."""
    from billow.usage.pricing import java_hash_order

    assert java_hash_order(["FOO", "BAR"]) == ["BAR", "FOO"]
    assert java_hash_order(["members", "bandwith-meg-sec"]) == ["bandwith-meg-sec", "members"]
    assert java_hash_order(["cell-phone-minutes", "Mbytes"]) == ["cell-phone-minutes", "Mbytes"]  # same bucket
    assert java_hash_order(["Mbytes", "cell-phone-minutes"]) == ["Mbytes", "cell-phone-minutes"]


_PERIODS = [BillingPeriod.MONTHLY, BillingPeriod.QUARTERLY, BillingPeriod.ANNUAL, BillingPeriod.WEEKLY,
            BillingPeriod.DAILY, BillingPeriod.THIRTY_DAYS, BillingPeriod.BIANNUAL]


@settings(max_examples=300, deadline=None)
@given(start=st.dates(min_value=d("2011-01-01"), max_value=d("2030-12-31")), span=st.integers(0, 900),
       length=st.one_of(st.none(), st.integers(0, 900)), bcd=st.integers(1, 31), period=st.sampled_from(_PERIODS))
def test_usage_cycles_agree_with_the_recurring_billing_interval(start, span, length, bcd, period) -> None:  # type: ignore[no-untyped-def]
    """The usage module's `BillingIntervalDetail` (IN_ARREAR) gives the cycle dates and the next billing date the
    invoice module's recurring one gives."""
    from datetime import timedelta

    from billow.catalog.model import BillingMode
    from billow.invoice.proration import billing_interval
    from billow.usage.cycles import UsageCycle

    target = start + timedelta(days=span)
    end = None if length is None else start + timedelta(days=length)
    cycle = UsageCycle.of(start, end, target, bcd, period)
    reference = billing_interval(start, end, target, bcd, period, BillingMode.IN_ARREAR)
    assert [cycle.cycle_date(n) for n in range(6)] == [reference.cycle_date(n) for n in range(6)]
    assert cycle.next_billing_date() == reference.next_cycle_date
