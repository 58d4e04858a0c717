"""The rater on every usage section of Kill Bill's UsageExperimental.xml and of the beatrix usage catalogs, loaded as
they are from ../shared/reference/catalogs (skipped without them). Amounts are worked out by hand in each test;
where Kill Bill's own tests assert a figure (TestUsageInArrear, TestInArrearChangeCancel,
TestCatalogWithEffectiveDateForExistingSubscriptions) the test says so."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from billow.usage.errors import UsageRatingError
from tests.usage.rating import Runner, T, at, d, event, rate, rec, reference, section, summary

EXPERIMENTAL = "catalog-module/UsageExperimental.xml"
BEATRIX = "beatrix/default/catalogTest.xml"
IN_ARREAR_CHANGE_CANCEL = "beatrix/testInArrearChangeCancel/in_arrear.xml"
WATER = "beatrix/testCatalogWithEffectiveDateForExistingSubscriptions/WaterUtility-v{}.xml"


def details(item) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(item.item_details, parse_float=D, parse_int=D)


# ---------------------------------------------------------------------------------------------- UsageExperimental.xml
@pytest.mark.parametrize("name", ["capacity-in-advance-monthly-usage1",
                                  "consumable-in-advance-prepay-credit-monthly-usage1",
                                  "consumable-in-advance-topup-usage1"])
def test_in_advance_sections_are_never_invoiced(name: str) -> None:
    """0.24 has no in-advance usage invoicing: a subscription whose sections are all IN_ADVANCE is not rated."""
    version = reference(EXPERIMENTAL)
    plan, phase, usage = section(version, name)
    ev = event(at("2013-03-01"), usage, plan=plan, phase=phase, catalog=version.effective_date)
    result = rate([ev], [rec("2013-03-05", "members", 50), rec("2013-03-05", "cell-phone-minutes", 5000),
                         rec("2013-03-05", "fastrack-tokens", 30)], "2013-06-01", currency="BTC")
    assert not result.items and result.next_dates == {}


def test_chocolate_videos_two_tiers_all_tiers_by_default() -> None:
    version = reference(EXPERIMENTAL)
    plan, phase, usage = section(version, "chocolate-monthly-videos")
    ev = event(at("2013-03-01"), usage, plan=plan, phase=phase, catalog=version.effective_date)
    # 3 videos: 3 blocks of 1 in tier 1 ($2, max 5) = $6
    [three] = rate([ev], [rec("2013-03-10", "chocolate-videos", 3)], "2013-04-01").items
    assert (three.start_date, three.end_date, three.amount) == (d("2013-03-01"), d("2013-04-01"), D("6"))
    # 7 videos: 5 in tier 1 ($10) + 2 in tier 2 ($1 each, $2) = $12
    [seven] = rate([ev], [rec("2013-03-10", "chocolate-videos", 4), rec("2013-03-20", "chocolate-videos", 3)],
                   "2013-04-01").items
    assert seven.amount == D("12.00")
    assert seven.item_details == (
        '{"tierDetails":[{"tier":1,"tierUnit":"chocolate-videos","tierPrice":2,"tierBlockSize":1,"quantity":5,'
        '"amount":10},{"tier":2,"tierUnit":"chocolate-videos","tierPrice":1,"tierBlockSize":1,"quantity":2,'
        '"amount":2}],"amount":12}')
    assert (seven.plan_name, seven.phase_name, seven.usage_name) == (plan, phase, "chocolate-monthly-videos")
    assert seven.rate is None and seven.quantity is None and seven.catalog_effective_date == version.effective_date
    # no video: a $0 item whose only detail is tier 1 with quantity 0
    [zero] = rate([ev], [], "2013-04-01").items
    assert zero.amount == 0 and details(zero)["tierDetails"] == [
        {"tier": 1, "tierUnit": "chocolate-videos", "tierPrice": 2, "tierBlockSize": 1, "quantity": 0, "amount": 0}]
    # 10,006 videos: 5 × $2 + 10,001 … capped at tier 2's max of 10,000 blocks: $10 + $10,000; one video unbilled
    [many] = rate([ev], [rec("2013-03-10", "chocolate-videos", 10006)], "2013-04-01").items
    assert many.amount == D("10010.00")


def test_consumable_in_arrear_two_units_in_btc() -> None:
    version = reference(EXPERIMENTAL)
    plan, phase, usage = section(version, "consumable-in-arrear-usage1")
    ev = event(at("2013-03-01"), usage, plan=plan, phase=phase, catalog=version.effective_date, currency="BTC")
    # 2,500 minutes: 3 blocks of 1,000 × 0.5 = 1.5; 1,000 MB: 2 blocks of 512 × 0.3 = 0.6; 2.1 BTC (8 decimals)
    [item] = rate([ev], [rec("2013-03-03", "cell-phone-minutes", 1500), rec("2013-03-04", "Mbytes", 1000),
                         rec("2013-03-30", "cell-phone-minutes", 1000)], "2013-04-01", currency="BTC").items
    assert str(item.amount) == "2.10000000"
    # both units in one bucket of Kill Bill's HashMap: catalog order
    assert item.item_details == (
        '{"tierDetails":[{"tier":1,"tierUnit":"cell-phone-minutes","tierPrice":0.5,"tierBlockSize":1000,"quantity":3,'
        '"amount":1.5},{"tier":1,"tierUnit":"Mbytes","tierPrice":0.3,"tierBlockSize":512,"quantity":2,"amount":0.6}],'
        '"amount":2.1}')
    # 10,000,001 minutes: capped at 10,000 blocks (5,000 BTC), the excess is not billed; 0 MB: a tier-1 detail at 0
    [big] = rate([ev], [rec("2013-03-03", "cell-phone-minutes", 10_000_001)], "2013-04-01", currency="BTC").items
    assert big.amount == D("5000") and [e["quantity"] for e in details(big)["tierDetails"]] == [10000, 0]
    # no usage at all: one $0 item per unit
    empty = rate([ev], [], "2013-04-01", currency="BTC").items
    assert [(details(i)["tierDetails"][0]["tierUnit"], i.amount) for i in empty] == [("cell-phone-minutes", 0),
                                                                                    ("Mbytes", 0)]


def test_capacity_in_arrear_tier_chosen_by_every_unit() -> None:
    version = reference(EXPERIMENTAL)
    plan, phase, usage = section(version, "capacity-in-arrear-usage1")
    ev = event(at("2013-03-01"), usage, plan=plan, phase=phase, catalog=version.effective_date, currency="BTC")

    def run(*records):  # type: ignore[no-untyped-def]
        return rate([ev], list(records), "2013-04-01", currency="BTC").items

    # the max of each unit over the period: bandwidth 80, members 400 → tier 1 (≤100, ≤500): 0.8 BTC
    [low] = run(rec("2013-03-02", "members", 300), rec("2013-03-03", "bandwith-meg-sec", 80),
                rec("2013-03-20", "members", 400), rec("2013-03-21", "bandwith-meg-sec", 10))
    assert str(low.amount) == "0.80000000"
    assert low.item_details == ('{"tierDetails":[{"tier":1,"tierUnit":"bandwith-meg-sec","tierPrice":0.8,'
                                '"quantity":80},{"tier":1,"tierUnit":"members","tierPrice":0.8,"quantity":400}],'
                                '"amount":0.8}')
    # members 700 > 500: tier 2 (1.2, fixed prices of tiers ignored); bandwidth's detail stays at tier 1
    [high] = run(rec("2013-03-03", "bandwith-meg-sec", 80), rec("2013-03-20", "members", 700))
    assert high.amount == D("1.2") and [(e["tier"], e["tierUnit"]) for e in details(high)["tierDetails"]] == [
        (1, "bandwith-meg-sec"), (2, "members")]
    # bandwidth 150 fits no tier: the run fails (Kill Bill: IllegalStateException, the account is parked)
    with pytest.raises(UsageRatingError, match="Could not find tier for usage capacity-in-arrear-usage1"):
        run(rec("2013-03-03", "bandwith-meg-sec", 150))
    # no usage: one $0 item per unit
    assert [(i.amount, details(i)["tierDetails"][0]["tierUnit"]) for i in run()] == [(0, "bandwith-meg-sec"),
                                                                                     (0, "members")]


# ---------------------------------------------------------------------------------------------- beatrix catalogTest.xml
def test_bullets_two_tiers_monthly_periods_and_description() -> None:
    """TestUsageInArrear: 99 + 100 bullets in April → 2 blocks of 100 × $2.95 = $5.90; 50 + 300 in May → 4 blocks."""
    version = reference(BEATRIX)
    plan, phase, usage = section(version, "bullets-usage-in-arrear-usage")
    r = Runner([event(at("2012-04-01"), usage, plan=plan, phase=phase, catalog=version.effective_date)],
               [rec("2012-04-01", "bullets", 99, "t1"), rec("2012-04-15", "bullets", 100, "t2"),
                rec("2012-05-01", "bullets", 50, "t3"), rec("2012-05-16", "bullets", 300, "t4")])
    assert r.at("2012-04-30") == []
    [april] = r.at("2012-05-01")
    assert summary([april]) == [("bullets-usage-in-arrear-usage", d("2012-04-01"), d("2012-05-01"), D("5.90"))]
    assert april.description == "Bullet Usage In Arrear"
    [may] = r.at("2012-06-01")
    assert may.amount == D("11.80")
    # 2,000 bullets: tier 1 full (10 blocks, $29.50), 1,000 left: 1 block of 1,000 at $5.95 → $35.45
    r.records.append(rec("2012-06-10", "bullets", 2000))
    [june] = r.at("2012-07-01")
    assert june.amount == D("35.45") and [e["quantity"] for e in details(june)["tierDetails"]] == [10, 1]


def test_slugs_training_and_trebuchet_sections() -> None:
    version = reference(BEATRIX)
    plan, phase, slugs = section(version, "slugs-usage-in-arrear-usage")
    ev = event(at("2012-04-01"), slugs, plan=plan, phase=phase, catalog=version.effective_date)
    # TestUsageInArrear.testWithChange: 99 + 100 slugs → 2 blocks of 100 × $2 = $4
    assert summary(rate([ev], [rec("2012-04-01", "slugs", 99), rec("2012-04-15", "slugs", 100)], "2012-05-01").items
                   ) == [("slugs-usage-in-arrear-usage", d("2012-04-01"), d("2012-05-01"), D("4.00"))]
    plan, phase, training = section(version, "training-in-arrear-usage")
    ev = event(at("2012-04-01"), training, plan=plan, phase=phase, catalog=version.effective_date)
    # hours: blocks of 1 at $100, no max; 2.5 hours → 3 blocks = $300
    [hours] = rate([ev], [rec("2012-04-03", "hours", 1), rec("2012-04-04", "hours", "1.5")], "2012-05-01").items
    assert hours.amount == D("300.00") and details(hours)["tierDetails"][0]["quantity"] == 3
    plan, phase, trebuchet = section(version, "trebuchet-in-arrear-usage")
    ev = event(at("2012-04-01"), trebuchet, plan=plan, phase=phase, catalog=version.effective_date)
    # TestUsageInArrear.testWithNoRecurringPlan: max 150 stones > 100 → $1000; then nothing → $0; then 25, 50 → $100
    r = Runner([ev], [rec("2012-04-05", "stones", 85), rec("2012-04-15", "stones", 150)])
    name = "trebuchet-in-arrear-usage"
    assert summary(r.at("2012-05-01")) == [(name, d("2012-04-01"), d("2012-05-01"), D("1000.00"))]
    assert summary(r.at("2012-06-01")) == [(name, d("2012-05-01"), d("2012-06-01"), D("0.00"))]
    r.records += [rec("2012-06-05", "stones", 25), rec("2012-06-15", "stones", 50)]
    [june] = r.at("2012-07-01")
    assert june.amount == D("100.00")
    assert june.item_details == ('{"tierDetails":[{"tier":1,"tierUnit":"stones","tierPrice":100,"quantity":50}],'
                                 '"amount":100}')


# ---------------------------------------------------------------------------------------------- other beatrix catalogs
def test_premium_support_addon_usage_month_end_bcd() -> None:
    """TestInArrearChangeCancel.testCreateSubOnLastDayAndAddNewAddon: start 2025-03-31 (BCD 31) → 03-31→04-30 at $0;
    10 bullets on 05-15 → 04-30→05-31 at $10 (blocks of 1 at $1)."""
    version = reference(IN_ARREAR_CHANGE_CANCEL)
    plan, phase, usage = section(version, "premium-support-addon-usage")
    r = Runner([event(at("2025-03-31"), usage, plan=plan, phase=phase, catalog=version.effective_date, bcd=31)],
               [rec(at("2025-05-15", 6, 30), "bullets", 10)])
    assert summary(r.at("2025-04-30")) == [("premium-support-addon-usage", d("2025-03-31"), d("2025-04-30"), D("0.00"))]
    assert summary(r.at("2025-05-31")) == [("premium-support-addon-usage", d("2025-04-30"), d("2025-05-31"),
                                            D("10.00"))]


def test_water_utility_catalog_versions_on_the_bcd_do_not_split_periods() -> None:
    """TestCatalogWithEffectiveDateForExistingSubscriptions.testUsagePlan: 20 liters a month at $1.50 (v1), $2.50
    (v2, for existing subscriptions from 2018-05-01), $3.50 (v3, from 2018-08-01): $30, $50, $70. Each new version
    closes the previous interval on a bill cycle date, so no period is split."""
    versions = [reference(WATER.format(n)) for n in (1, 2, 3)]
    events = []
    for k, (version, start) in enumerate(zip(versions, ("2018-01-01", "2018-05-01", "2018-08-01"), strict=True)):
        plan, phase, usage = section(version, "water-monthly-usage")
        events.append(event(at(start), usage, plan=plan, phase=phase, catalog=version.effective_date,
                            transition=T.CREATE if k == 0 else T.CHANGE))
    r = Runner(events, [rec(f"2018-{m:02d}-15", "liter", 20) for m in range(1, 9)])
    items = [it for m in range(2, 10) for it in r.at(f"2018-{m:02d}-01")]
    assert [(it.start_date.month, it.end_date.month, it.amount) for it in items] == [
        (m, m + 1, D("30.00") if m < 5 else D("50.00") if m < 8 else D("70.00")) for m in range(1, 9)]
    assert [it.catalog_effective_date for it in items] == [versions[0].effective_date] * 4 + [
        versions[1].effective_date] * 3 + [versions[2].effective_date]
