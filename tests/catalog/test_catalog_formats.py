"""YAML / JSON format, lossless conversion, files (own data)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from billow.catalog.defaults import default_catalog, default_catalog_version, default_catalog_xml
from billow.catalog.errors import CatalogValidationError
from billow.catalog.xml import dump_xml, load_version_xml
from billow.catalog.yaml_json import (
    convert_file,
    dump_json,
    dump_yaml,
    format_of,
    load_catalog_file,
    load_catalog_files,
    load_version_json,
    load_version_yaml,
    to_dict,
)

DATA = Path(__file__).resolve().parent / "data"


def test_xml_yaml_xml_is_lossless(gym):
    y = dump_yaml(gym)
    back = load_version_yaml(y)
    assert back == gym
    assert load_version_xml(dump_xml(back)) == gym
    assert dump_xml(back) == dump_xml(gym)


def test_json_round_trip_keeps_exact_money(gym):
    text = dump_json(gym)
    assert '"EUR": "18.50"' in text
    assert load_version_json(text) == gym


def test_yaml_is_readable_and_money_is_exact(gym):
    tree = yaml.safe_load(dump_yaml(gym))
    plan = next(p for p in tree["plans"] if p["name"] == "basic-monthly")
    assert plan["prettyName"] == "Basic, monthly"
    assert "recurringBillingMode" not in plan  # equal to the catalog's: left out
    assert plan["initialPhases"][0]["fixed"] == {"fixedPrice": {}}
    assert plan["finalPhase"]["recurring"]["recurringPrice"] == {"USD": 20.0, "EUR": 18.5}
    text = dump_yaml(gym)
    assert "USD: 20.00" in text and "EUR: 18.50" in text
    assert "EUR: null" in text  # xsi:nil
    v = load_version_yaml(text)
    price = v.plans_by_name["basic-monthly"].final_phase.recurring.price  # type: ignore[union-attr]
    assert price.get("EUR") == Decimal("18.50") and str(price.get("EUR")) == "18.50"


def test_to_dict_leaves_defaults_out(gym):
    tree = to_dict(gym)
    towel = next(p for p in tree["plans"] if p["name"] == "towel-monthly")
    assert towel["finalPhase"]["fixed"] == {}  # <fixed/> without a price
    assert "plansAllowedInBundle" not in towel
    locker = next(p for p in tree["plans"] if p["name"] == "locker-monthly")
    assert locker["plansAllowedInBundle"] == 2
    sauna = next(p for p in tree["plans"] if p["name"] == "sauna-usage")
    assert sauna["recurringBillingMode"] == "IN_ARREAR"
    usage = sauna["finalPhase"]["usages"][0]
    assert usage["tierBlockPolicy"] == "TOP_TIER"
    assert usage["tiers"][1]["blocks"][0]["max"] == Decimal(-1)


HAND_WRITTEN = """
catalogName: Studio
effectiveDate: 2024-01-01T00:00:00Z
recurringBillingMode: IN_ADVANCE
currencies: [USD]
products:
  - {name: Yoga, category: BASE}
rules:
  changePolicy: [{policy: IMMEDIATE}]
  cancelPolicy: [{policy: END_OF_TERM}]
plans:
  - name: yoga-monthly
    product: Yoga
    initialPhases:
      - type: TRIAL
        duration: {unit: DAYS, number: 7}
        fixed: {fixedPrice: {}}
    finalPhase:
      type: EVERGREEN
      duration: {unit: UNLIMITED}
      recurring:
        billingPeriod: MONTHLY
        recurringPrice: [{currency: USD, value: 19.99}]
priceLists:
  defaultPriceList: {name: DEFAULT, plans: [yoga-monthly]}
"""


def test_hand_written_yaml_loads_with_defaults():
    v = load_version_yaml(HAND_WRITTEN)
    plan = v.plans_by_name["yoga-monthly"]
    assert plan.final_phase.recurring.price.get("USD") == Decimal("19.99")  # type: ignore[union-attr]
    assert [ph.name for ph in plan.all_phases] == ["yoga-monthly-trial", "yoga-monthly-evergreen"]
    assert load_version_xml(dump_xml(v)) == v


def test_yaml_errors_name_the_path():
    bad = HAND_WRITTEN.replace("billingPeriod: MONTHLY", "billingPeriod: MONTH").replace(
        "product: Yoga", "product: Pilates"
    )
    with pytest.raises(CatalogValidationError) as exc:
        load_version_yaml(bad)
    assert exc.value.messages == [
        "catalog/plans/plan[@name='yoga-monthly']/finalPhase/recurring/billingPeriod: 'MONTH' is not a valid "
        "BillingPeriod (expected one of: DAILY, WEEKLY, BIWEEKLY, THIRTY_DAYS, THIRTY_ONE_DAYS, SIXTY_DAYS, "
        "NINETY_DAYS, MONTHLY, BIMESTRIAL, QUARTERLY, TRIANNUAL, BIANNUAL, ANNUAL, SESQUIENNIAL, BIENNIAL, "
        "TRIENNIAL, NO_BILLING_PERIOD)",
        "catalog/plans/plan[@name='yoga-monthly']/product: 'Pilates' does not name any product (no unit, "
        "product, plan, price list or usage has that name)",
    ]


def test_yaml_runs_the_same_business_validation():
    bad = HAND_WRITTEN.replace(
        "changePolicy: [{policy: IMMEDIATE}]", "changePolicy: [{phaseType: TRIAL, policy: IMMEDIATE}]"
    )
    with pytest.raises(CatalogValidationError) as exc:
        load_version_yaml(bad)
    assert exc.value.messages == ["catalog/rules/changePolicy: Missing default rule case for plan change"]


def test_malformed_yaml_and_json():
    with pytest.raises(CatalogValidationError, match="malformed YAML"):
        load_version_yaml("a: [1, 2")
    with pytest.raises(CatalogValidationError, match="malformed JSON"):
        load_version_json("{")
    with pytest.raises(CatalogValidationError, match="expected a mapping at the top level"):
        load_version_yaml("- 1\n- 2\n")


def test_files_and_conversion(tmp_path, gym):
    src = DATA / "gym.xml"
    assert format_of(src) == "xml" and format_of("x.yml") == "yaml" and format_of("x.JSON") == "json"
    with pytest.raises(ValueError, match="unknown catalog format"):
        format_of("x.txt")
    for ext in ("yaml", "json", "xml"):
        out = tmp_path / f"gym.{ext}"
        convert_file(src, out)
        assert load_catalog_file(out) == gym
    back = tmp_path / "back.xml"
    convert_file(tmp_path / "gym.yaml", back)
    assert load_catalog_file(back) == gym


def test_load_catalog_files_validates_versions_together(tmp_path):
    catalog = load_catalog_files([DATA / "versions"])
    assert len(catalog) == 3 and catalog.name == "Club"
    dup = tmp_path / "dup.xml"
    dup.write_bytes((DATA / "versions" / "club-v2.xml").read_bytes())
    with pytest.raises(CatalogValidationError, match="already exists for a previous version"):
        load_catalog_files([DATA / "versions", dup])


def test_default_catalog_is_valid_and_sells_something():
    v = default_catalog_version()
    assert v.name == "BillowDefault"
    assert {p.category.value for p in v.products} == {"BASE", "ADD_ON", "STANDALONE"}
    assert any(p.initial_phases and p.initial_phases[0].type.value == "TRIAL" for p in v.plans)
    assert any(u for p in v.plans for u in p.final_phase.usages)
    assert {p.recurring_billing_period.value for p in v.plans} >= {"MONTHLY", "ANNUAL"}
    assert default_catalog().versions == (v,)
    assert load_version_xml(default_catalog_xml()) == v
    assert load_version_yaml(dump_yaml(v)) == v
