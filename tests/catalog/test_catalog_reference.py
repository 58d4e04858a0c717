"""Kill Bill's own 15 catalogs, loaded from ../shared/reference/catalogs (skipped when absent)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from catalog_testdata import REFERENCE, load_ref, load_ref_catalog, reference_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billow.catalog import engine as e
from billow.catalog.engine import PlanPhaseSpecifier, PlanSpecifier
from billow.catalog.errors import CatalogApiError, ErrorCode
from billow.catalog.model import (
    BillingActionPolicy,
    BillingAlignment,
    BillingMode,
    BillingPeriod,
    BlockType,
    PhaseType,
    PlanAlignmentChange,
    PlanAlignmentCreate,
    UsageType,
)
from billow.catalog.versions import plan_for_new_subscription, plan_for_subscription
from billow.catalog.xml import dump_xml, load_version_xml
from billow.catalog.yaml_json import dump_yaml, load_version_yaml

FILES = reference_files()
needs_reference = pytest.mark.skipif(not FILES, reason=f"Kill Bill reference catalogs absent ({REFERENCE})")


@needs_reference
def test_all_fifteen_reference_catalogs_load():
    assert len(FILES) == 15
    loaded = {f.relative_to(REFERENCE).as_posix(): load_version_xml(f.read_bytes()) for f in FILES}
    counts = {k: (len(v.products), len(v.plans)) for k, v in loaded.items()}
    assert counts["beatrix/default/catalogTest.xml"] == (15, 34)
    assert counts["catalog-module/SpyCarAdvanced.xml"] == (6, 15)
    assert counts["profiles-default/SpyCarAdvanced.xml"] == (6, 11)
    assert counts["catalog-module/UsageExperimental.xml"] == (7, 6)


@needs_reference
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FILES or [None]))
def test_xml_yaml_xml_round_trip_is_identity(path):
    original = load_version_xml(path.read_bytes())
    via_yaml = load_version_yaml(dump_yaml(original))
    assert via_yaml == original
    xml_again = dump_xml(via_yaml)
    assert load_version_xml(xml_again) == original
    assert dump_xml(original) == xml_again


# ----------------------------------------------------------------- catalogTest.xml (beatrix default)


@pytest.fixture(scope="module")
def beatrix():
    return load_ref("beatrix/default/catalogTest.xml")


def ph(plan, phase):
    return PlanPhaseSpecifier(plan_name=plan, phase_type=phase)


def test_worked_example_change_policies(beatrix):
    r = e.plan_change_result(
        beatrix, ph("shotgun-monthly", PhaseType.EVERGREEN), PlanSpecifier("assault-rifle-monthly")
    )
    assert r.policy is BillingActionPolicy.IMMEDIATE  # [toProduct=Assault-Rifle]
    r = e.plan_change_result(beatrix, ph("assault-rifle-monthly", PhaseType.EVERGREEN), PlanSpecifier("pistol-monthly"))
    assert r.policy is BillingActionPolicy.END_OF_TERM  # catch-all
    r = e.plan_change_result(beatrix, ph("assault-rifle-monthly", PhaseType.TRIAL), PlanSpecifier("pistol-monthly"))
    assert r.policy is BillingActionPolicy.IMMEDIATE  # any change in TRIAL
    r = e.plan_change_result(beatrix, ph("pistol-monthly", PhaseType.EVERGREEN), PlanSpecifier("shotgun-monthly"))
    assert r.policy is BillingActionPolicy.IMMEDIATE  # [Pistol -> Shotgun]
    r = e.plan_change_result(beatrix, ph("pistol-monthly", PhaseType.EVERGREEN), PlanSpecifier("pistol-annual"))
    assert r.policy is BillingActionPolicy.IMMEDIATE  # [MONTHLY -> ANNUAL]
    r = e.plan_change_result(beatrix, ph("pistol-annual", PhaseType.EVERGREEN), PlanSpecifier("pistol-monthly"))
    assert r.policy is BillingActionPolicy.END_OF_TERM  # [ANNUAL -> MONTHLY]
    # [toPriceList=rescue -> END_OF_TERM] comes before [toProduct=Assault-Rifle -> IMMEDIATE]
    r = e.plan_change_result(
        beatrix, ph("pistol-monthly", PhaseType.EVERGREEN), PlanSpecifier("assault-rifle-annual-rescue")
    )
    assert r.policy is BillingActionPolicy.END_OF_TERM
    assert r.alignment is PlanAlignmentChange.CHANGE_OF_PLAN


def test_worked_example_other_rules(beatrix):
    assert e.cancel_policy(beatrix, PlanSpecifier("pistol-monthly")) is BillingActionPolicy.END_OF_TERM
    assert (
        e.create_alignment(beatrix, PlanSpecifier("laser-scope-monthly")) is PlanAlignmentCreate.START_OF_SUBSCRIPTION
    )
    assert e.create_alignment(beatrix, PlanSpecifier("pistol-monthly")) is PlanAlignmentCreate.START_OF_BUNDLE
    assert e.billing_alignment(beatrix, ph("laser-scope-monthly", PhaseType.EVERGREEN)) is BillingAlignment.BUNDLE
    assert e.billing_alignment(beatrix, ph("pistol-annual", PhaseType.EVERGREEN)) is BillingAlignment.SUBSCRIPTION
    assert e.billing_alignment(beatrix, ph("pistol-monthly", PhaseType.EVERGREEN)) is BillingAlignment.ACCOUNT
    assert e.price_list_for_change(beatrix, PlanSpecifier("assault-rifle-annual-rescue")).name == "DEFAULT"
    assert e.price_list_for_change(beatrix, PlanSpecifier("pistol-annual-gunclub-discount")).name == "gunclubDiscount"


def test_beatrix_phases_and_prices(beatrix):
    plan = e.find_plan(beatrix, "blowdart-monthly")
    assert [p.name for p in plan.all_phases] == [
        "blowdart-monthly-trial",
        "blowdart-monthly-discount",
        "blowdart-monthly-evergreen",
    ]
    assert str(plan.initial_phases[1].duration) == "6 MONTHS"
    assert e.recurring_price(plan.initial_phases[1], "USD") == Decimal("9.95")
    assert e.fixed_price(plan.initial_phases[0], "EUR") == 0  # <fixedPrice></fixedPrice> -> $0 trial
    shotgun = e.find_phase(beatrix, "shotgun-monthly-evergreen")
    assert [e.recurring_price(shotgun, c) for c in ("USD", "EUR", "GBP")] == [
        Decimal("249.95"),
        Decimal("149.95"),
        Decimal("169.95"),
    ]
    # UNLIMITED with number -1 is the "not set" sentinel and is accepted
    assert shotgun.duration.number == -1
    assert e.find_plan(beatrix, "pistol-monthly-fixedterm").final_phase.type is PhaseType.FIXEDTERM


def test_beatrix_lookup_by_product_and_price_list(beatrix):
    assert e.find_plan_by_product(beatrix, "Pistol", BillingPeriod.MONTHLY).name == "pistol-monthly"
    assert e.find_plan_by_product(beatrix, "Pistol", BillingPeriod.MONTHLY, "notrial").name == "pistol-monthly-notrial"
    assert e.find_plan_by_product(beatrix, "Pistol", BillingPeriod.ANNUAL, "notrial").name == "pistol-annual"
    assert e.find_plan_by_product(beatrix, "Pistol", BillingPeriod.WEEKLY).name == "pistol-weekly"


# ----------------------------------------------------------------- SpyCarAdvanced (catalog module)


@pytest.fixture(scope="module")
def spycar():
    return load_ref("catalog-module/SpyCarAdvanced.xml")


def test_spycar_add_ons(spycar):
    assert e.included_addons(spycar, "Super") == ("OilSlick",)
    assert e.available_addon_products(spycar, "Super") == ("Gas", "RemoteControl")  # sorted by name
    details = e.available_addons(spycar, "Sports")
    assert [d.plan for d in details] == [
        "gas-monthly",
        "gas-monthly-2-tiers",
        "oilslick-monthly",
        "remotecontrol-monthly",
    ]
    assert all(d.price_list == "DEFAULT" for d in details)


def test_spycar_price_list_fallback_and_ambiguity(spycar):
    assert e.find_plan_by_product(spycar, "Standard", BillingPeriod.MONTHLY).name == "standard-monthly"
    assert (
        e.find_plan_by_product(spycar, "Standard", BillingPeriod.MONTHLY, "SpecialDiscount").name
        == "discount-standard-monthly"
    )
    assert (
        e.find_plan_by_product(spycar, "Standard", BillingPeriod.MONTHLY, "ambiguous").name == "standard-monthly-12345"
    )
    assert e.find_plan_by_product(spycar, "Standard", BillingPeriod.ANNUAL, "CIA").name == "standard-annual"


def test_spycar_rules(spycar):
    r = e.plan_change_result(spycar, ph("standard-monthly", PhaseType.EVERGREEN), PlanSpecifier("sports-monthly"))
    assert r.policy is BillingActionPolicy.IMMEDIATE and r.alignment is PlanAlignmentChange.START_OF_SUBSCRIPTION
    r = e.plan_change_result(spycar, ph("sports-monthly", PhaseType.EVERGREEN), PlanSpecifier("standard-monthly"))
    assert r.policy is BillingActionPolicy.END_OF_TERM
    assert e.cancel_policy(spycar, PlanSpecifier("oilslick-monthly")) is BillingActionPolicy.IMMEDIATE
    assert e.cancel_policy(spycar, PlanSpecifier("standard-monthly")) is BillingActionPolicy.END_OF_TERM
    assert (
        e.create_alignment(spycar, PlanSpecifier("remotecontrol-monthly")) is PlanAlignmentCreate.START_OF_SUBSCRIPTION
    )
    assert e.price_list_for_change(spycar, PlanSpecifier("cia-standard-monthly")).name == "CIA"
    assert e.price_list_for_change(spycar, PlanSpecifier("standard-monthly")).name == "DEFAULT"


def test_spycar_usage_tiers(spycar):
    (usage,) = e.find_phase(spycar, "gas-monthly-2-tiers-evergreen").usages
    assert usage.billing_mode is BillingMode.IN_ARREAR and usage.usage_type is UsageType.CONSUMABLE
    assert [(t.blocks[0].unit, t.blocks[0].prices.get("USD"), t.blocks[0].max) for t in usage.tiers] == [
        ("gallons", Decimal("3.95"), Decimal(100)),
        ("gallons", Decimal("4.95"), Decimal(500)),
    ]


# ----------------------------------------------------------------- UsageExperimental


def test_usage_experimental_shapes():
    v = load_ref("catalog-module/UsageExperimental.xml")
    (cap,) = e.find_phase(v, "capacity-in-arrear-evergreen").usages
    assert [[(lim.unit, lim.max) for lim in t.limits] for t in cap.tiers] == [
        [("bandwith-meg-sec", Decimal(100)), ("members", Decimal(500))],
        [("bandwith-meg-sec", Decimal(100)), ("members", Decimal(1000))],
    ]
    assert [t.recurring_price.get("BTC") for t in cap.tiers] == [Decimal("0.8"), Decimal("1.2")]  # type: ignore[union-attr]
    assert cap.tiers[0].fixed_price.get("BTC") == Decimal("0.007")  # type: ignore[union-attr]
    (topup,) = e.find_phase(v, "consumable-in-advance-topup-evergreen").usages
    assert topup.blocks[0].type is BlockType.TOP_UP and topup.blocks[0].min_top_up_credit == Decimal(5)
    assert topup.billing_period is BillingPeriod.NO_BILLING_PERIOD
    (cons,) = e.find_phase(v, "consumable-in-arrear-evergreen").usages
    assert [(b.unit, b.size, b.max) for b in cons.tiers[0].blocks] == [
        ("cell-phone-minutes", Decimal(1000), Decimal(10000)),
        ("Mbytes", Decimal(512), Decimal(512000)),
    ]
    choco = e.find_phase(v, "chocolate-monthly-evergreen")
    assert e.recurring_price(choco, "USD") == Decimal("30.00")
    with pytest.raises(CatalogApiError) as exc:
        e.recurring_price(choco, "BTC")
    assert exc.value.error is ErrorCode.CAT_NO_PRICE_FOR_CURRENCY


# ----------------------------------------------------------------- versions


def at(y, m, d):
    return datetime(y, m, d, tzinfo=UTC)


def test_water_utility_effective_date_for_existing_subscriptions():
    catalog = load_ref_catalog("beatrix/testCatalogWithEffectiveDateForExistingSubscriptions")
    assert [v.effective_date for v in catalog] == [at(2018, 1, 1), at(2018, 4, 1), at(2018, 7, 1)]
    plans = {p.name for v in catalog for p in v.plans}
    name = sorted(plans)[0]
    created = at(2018, 1, 15)
    v1 = plan_for_subscription(catalog, name, at(2018, 4, 15), created)
    v2 = plan_for_subscription(catalog, name, at(2018, 5, 1), created)
    v3 = plan_for_subscription(catalog, name, at(2018, 8, 1), created)
    assert [x.version.effective_date for x in (v1, v2, v3)] == [at(2018, 1, 1), at(2018, 4, 1), at(2018, 7, 1)]
    eff = catalog.versions[1].plans_by_name[name].effective_date_for_existing_subscriptions
    assert eff == at(2018, 5, 1)


def test_retired_elements_across_versions():
    catalog = load_ref_catalog("beatrix/testCatalogRetireElements")
    first, last = catalog.versions[0], catalog.versions[-1]
    retired = sorted(set(first.plans_by_name) - set(last.plans_by_name))
    assert retired, "v3 retires plans of v1"
    name = retired[0]
    with pytest.raises(CatalogApiError):
        plan_for_new_subscription(catalog, name, at(2016, 2, 1))
    entry = plan_for_subscription(catalog, name, at(2016, 2, 1), at(2011, 2, 1))
    assert entry.plan.name == name
