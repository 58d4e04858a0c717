"""Kill Bill JSON views, simple plans and the CLI (own data)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from billow.catalog.errors import CatalogApiError, ErrorCode
from billow.catalog.json_view import (
    available_addons_json,
    available_base_plans_json,
    catalog_json,
    plan_json,
    validation_json,
    versions_json,
)
from billow.catalog.model import BillingPeriod, Catalog, PhaseType, ProductCategory, TimeUnit
from billow.catalog.simple_plan import SimplePlan, add_simple_plan, safe_first_effective_date
from billow.catalog.xml import dump_xml, load_version_xml
from billow.cli.catalog import catalog_app, validate_files

DATA = Path(__file__).resolve().parent / "data"
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def test_catalog_json_shape(gym, club):
    (doc,) = catalog_json(Catalog((gym,)).versions)
    assert list(doc) == ["name", "effectiveDate", "currencies", "units", "products", "priceLists"]
    assert doc["name"] == "Gym" and doc["effectiveDate"] == "2023-01-01T00:00:00.000+00:00"
    assert doc["units"] == [
        {"name": "visits", "prettyName": "Sauna visits"},
        {"name": "guests", "prettyName": "guests"},
    ]
    assert doc["priceLists"][1] == {"name": "Promo", "plans": ["basic-monthly", "premium-monthly-promo"]}
    basic = next(p for p in doc["products"] if p["name"] == "Basic")
    assert basic["type"] == "BASE" and basic["included"] == ["Towel"] and basic["available"] == ["Locker", "Sauna"]
    assert [p["name"] for p in basic["plans"]] == ["basic-annual", "basic-monthly"]
    daypass = next(p for p in doc["products"] if p["name"] == "DayPass")
    assert daypass["plans"][0]["billingPeriod"] == "NO_BILLING_PERIOD"
    assert len(catalog_json(club.versions)) == 3
    (one,) = catalog_json([club.version_for_date(datetime(2020, 7, 1, tzinfo=UTC))])
    assert one["effectiveDate"] == "2020-06-01T00:00:00.000+00:00"
    assert catalog_json(Catalog().versions) == []
    assert versions_json(club)[0] == "2020-01-01T00:00:00.000Z"


def test_plan_and_phase_json(gym):
    doc = plan_json(gym.plans_by_name["premium-monthly"])
    assert doc["recurringBillingMode"] == "IN_ADVANCE" and doc["billingPeriod"] == "MONTHLY"
    trial, discount, evergreen = doc["phases"]
    assert trial == {
        "type": "TRIAL",
        "prices": [],
        "fixedPrices": [{"currency": "USD", "value": Decimal(5)}, {"currency": "EUR", "value": Decimal("4.5")}],
        "duration": {"unit": "WEEKS", "number": 1},
        "usages": [],
    }
    assert evergreen["prices"] == [{"currency": "USD", "value": Decimal(50)}, {"currency": "EUR", "value": None}]
    assert evergreen["duration"] == {"unit": "UNLIMITED", "number": -1}
    usage = plan_json(gym.plans_by_name["sauna-usage"])["phases"][0]["usages"][0]
    assert usage["billingPeriod"] == "MONTHLY"
    assert usage["tiers"][0]["blocks"] == [
        {
            "unit": "visits",
            "size": "1",
            "max": "10",
            "prices": [{"currency": "USD", "value": Decimal("3.00")}, {"currency": "EUR", "value": Decimal("2.50")}],
        }
    ]


def test_plan_detail_json(gym):
    details = available_base_plans_json(gym)
    premium = next(d for d in details if d["plan"] == "premium-monthly")
    assert premium == {
        "product": "Premium",
        "plan": "premium-monthly",
        "priceList": "DEFAULT",
        "finalPhaseBillingPeriod": "MONTHLY",
        # a nil price reads as 0, as in Kill Bill
        "finalPhaseRecurringPrice": [{"currency": "USD", "value": Decimal(50)}, {"currency": "EUR", "value": 0}],
    }
    assert [d["plan"] for d in available_addons_json(gym, "Premium")] == ["locker-monthly"]
    assert validation_json(["a"]) == {"catalogValidationErrors": [{"errorDescription": "a"}]}


# ----------------------------------------------------------------- simple plans


def test_simple_plan_builds_a_new_catalog():
    eff = safe_first_effective_date(NOW)
    assert eff == datetime(2024, 3, 9, 12, 0, tzinfo=UTC)
    desc = SimplePlan.from_json(
        {
            "planId": "gold-monthly",
            "productName": "Gold",
            "productCategory": "BASE",
            "currency": "USD",
            "amount": 10,
            "billingPeriod": "MONTHLY",
            "trialLength": 14,
            "trialTimeUnit": "DAYS",
        }
    )
    v = add_simple_plan(None, desc, eff)
    assert v.name == "DEFAULT" and v.currencies == ("USD",) and v.effective_date == eff
    plan = v.plans_by_name["gold-monthly"]
    assert [p.type for p in plan.all_phases] == [PhaseType.TRIAL, PhaseType.EVERGREEN]
    assert plan.initial_phases[0].duration.unit is TimeUnit.DAYS and plan.initial_phases[0].duration.number == 14
    assert plan.final_phase.recurring.price.get("USD") == Decimal(10)  # type: ignore[union-attr]
    assert v.default_price_list.plans == ("gold-monthly",)
    assert v.rules.change_policy[0].policy.value == "IMMEDIATE"
    assert load_version_xml(dump_xml(v)) == v  # what the store keeps reloads equal


def test_simple_plan_adds_a_currency_and_an_add_on():
    v = add_simple_plan(
        None,
        SimplePlan(
            "gold-monthly", "Gold", currency="USD", amount=Decimal(10), trial_length=7, trial_time_unit=TimeUnit.DAYS
        ),
        NOW,
    )
    v = add_simple_plan(
        v,
        SimplePlan(
            "gold-monthly", "Gold", currency="EUR", amount=Decimal(9), trial_length=7, trial_time_unit=TimeUnit.DAYS
        ),
        NOW,
    )
    plan = v.plans_by_name["gold-monthly"]
    assert v.currencies == ("USD", "EUR")
    assert plan.final_phase.recurring.price.get("EUR") == Decimal(9)  # type: ignore[union-attr]
    assert plan.initial_phases[0].fixed.price.prices == ()  # type: ignore[union-attr]  # reset: 0 everywhere
    v = add_simple_plan(
        v,
        SimplePlan(
            "extra-monthly",
            "Extra",
            ProductCategory.ADD_ON,
            "USD",
            Decimal(2),
            BillingPeriod.MONTHLY,
            0,
            TimeUnit.UNLIMITED,
            ("Gold",),
        ),
        NOW,
    )
    assert v.products_by_name["Gold"].available == ("Extra",)
    assert v.plans_by_name["extra-monthly"].initial_phases == ()


@pytest.mark.parametrize(
    ("desc", "code"),
    [
        (SimplePlan(None, "Gold", currency="USD", amount=Decimal(1)), ErrorCode.CAT_INVALID_SIMPLE_PLAN_DESCRIPTOR),
        (SimplePlan("p", "Gold", currency="USD", amount=Decimal(-1)), ErrorCode.CAT_INVALID_SIMPLE_PLAN_DESCRIPTOR),
        (
            SimplePlan("p", "Gold", ProductCategory.ADD_ON, "USD", Decimal(1)),
            ErrorCode.CAT_INVALID_SIMPLE_PLAN_DESCRIPTOR,
        ),
        (
            SimplePlan(
                "gold-monthly",
                "Gold",
                currency="USD",
                amount=Decimal(99),
                trial_length=7,
                trial_time_unit=TimeUnit.DAYS,
            ),
            ErrorCode.CAT_FAILED_SIMPLE_PLAN_VALIDATION,
        ),
    ],
)
def test_simple_plan_errors(desc, code):
    v = add_simple_plan(
        None,
        SimplePlan(
            "gold-monthly", "Gold", currency="USD", amount=Decimal(10), trial_length=7, trial_time_unit=TimeUnit.DAYS
        ),
        NOW,
    )
    with pytest.raises(CatalogApiError) as exc:
        add_simple_plan(v, desc, NOW)
    assert exc.value.error is code


# ----------------------------------------------------------------- CLI


def test_cli_validate_ok_and_summary():
    ok, lines = validate_files(sorted((DATA / "versions").glob("*.xml")))
    assert ok
    assert lines[-1] == "OK: 3 versions of catalog 'Club'"
    assert "1 products, 2 plans" in lines[0]


def test_cli_validate_prints_every_error_with_its_path(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text(
        (DATA / "gym.xml")
        .read_text()
        .replace('<finalPhase type="FIXEDTERM">', '<finalPhase type="TRIAL">')
        .replace("<value>18.50</value>", "<value>-1</value>")
    )
    result = CliRunner().invoke(catalog_app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "INVALID (2 errors)" in result.output
    assert "plan[@name='basic-monthly']/finalPhase/recurring/recurringPrice/price[2]: Negative value" in result.output
    assert "Final Phase daypass-trial of plan daypass cannot be of type TRIAL" in result.output


def test_cli_convert(tmp_path):
    out = tmp_path / "gym.yaml"
    result = CliRunner().invoke(catalog_app, ["convert", str(DATA / "gym.xml"), str(out)])
    assert result.exit_code == 0 and "wrote" in result.output
    back = tmp_path / "gym.xml"
    assert CliRunner().invoke(catalog_app, ["convert", str(out), str(back)]).exit_code == 0
    assert load_version_xml(back.read_bytes()) == load_version_xml((DATA / "gym.xml").read_bytes())
    assert CliRunner().invoke(catalog_app, ["convert", str(DATA / "gym.xml"), str(tmp_path / "x.txt")]).exit_code == 1
