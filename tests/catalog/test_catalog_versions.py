"""Versions: choosing a version by date, grandfathering, retired plans, uploads (own data)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billow.catalog import engine as e
from billow.catalog.errors import CatalogApiError, CatalogValidationError, ErrorCode
from billow.catalog.model import Catalog
from billow.catalog.simple_plan import empty_version
from billow.catalog.versions import (
    add_version,
    next_plan_version,
    plan_for_new_subscription,
    plan_for_subscription,
    price_change_dates,
    versions_up_to,
)


def d(y, m, day):
    return datetime(y, m, day, tzinfo=UTC)


def test_versions_are_sorted_and_chosen_by_date(club):
    assert [v.effective_date for v in club] == [d(2020, 1, 1), d(2020, 6, 1), d(2021, 1, 1)]
    assert club.version_for_date(d(2020, 5, 31)).effective_date == d(2020, 1, 1)
    assert club.version_for_date(d(2020, 6, 1)).effective_date == d(2020, 6, 1)  # <= is inclusive
    assert club.version_for_date(d(2022, 1, 1)).effective_date == d(2021, 1, 1)
    # before every version -> the first one (Kill Bill #760), not an error
    assert club.version_for_date(d(1999, 1, 1)).effective_date == d(2020, 1, 1)
    assert [v.effective_date for v in versions_up_to(club, d(2020, 7, 1))] == [d(2020, 1, 1), d(2020, 6, 1)]


def test_new_subscription_uses_the_version_in_effect(club):
    entry = plan_for_new_subscription(club, "club-monthly", d(2020, 6, 15))
    assert e.recurring_price(entry.plan.final_phase, "USD") == Decimal("12.00")
    with pytest.raises(CatalogApiError) as exc:  # club-annual is retired in v2
        plan_for_new_subscription(club, "club-annual", d(2020, 6, 15))
    assert exc.value.error is ErrorCode.CAT_NO_SUCH_PLAN


def _price(entry):
    return e.recurring_price(entry.plan.final_phase, "USD")


def test_existing_subscription_is_grandfathered_until_effective_date_for_existing_subscriptions(club):
    created = d(2020, 2, 1)
    assert _price(plan_for_subscription(club, "club-monthly", d(2020, 6, 15), created)) == Decimal("10.00")
    # v2 declares effectiveDateForExistingSubscriptions = 2020-07-01
    assert _price(plan_for_subscription(club, "club-monthly", d(2020, 7, 1), created)) == Decimal("12.00")
    # v3 has no such element: existing subscriptions stay on v2's price
    assert _price(plan_for_subscription(club, "club-monthly", d(2021, 3, 1), created)) == Decimal("12.00")
    # a subscription created (or changed) after v3 uses v3
    assert _price(plan_for_subscription(club, "club-monthly", d(2021, 3, 1), d(2021, 2, 1))) == Decimal("15.00")


def test_retired_plan_keeps_working_for_existing_subscriptions(club):
    created = d(2020, 2, 1)
    entry = plan_for_subscription(club, "club-annual", d(2020, 9, 1), created)  # v2 lacks it -> v1
    assert entry.version.effective_date == d(2020, 1, 1) and _price(entry) == Decimal("100.00")
    # back in v3 without effectiveDateForExistingSubscriptions: the oldest version wins over that fallback
    entry = plan_for_subscription(club, "club-annual", d(2021, 6, 1), created)
    assert entry.version.effective_date == d(2020, 1, 1)
    with pytest.raises(CatalogApiError) as exc:
        plan_for_subscription(club, "club-weekly", d(2021, 6, 1), created)
    assert exc.value.error is ErrorCode.CAT_PLAN_NOT_FOUND


def test_next_plan_version_and_price_change_dates(club):
    v1 = club.versions[0]
    nxt = next_plan_version(club, v1, "club-monthly")
    assert nxt is not None and nxt.version.effective_date == d(2020, 6, 1)
    assert next_plan_version(club, v1, "club-annual") is None
    assert [(when, entry.version.effective_date) for when, entry in price_change_dates(club, v1, "club-monthly")] == [
        (d(2020, 7, 1), d(2020, 6, 1))
    ]


def test_add_version_validates_the_whole_set(club):
    v1, v2, v3 = club.versions
    catalog = add_version(None, v1)
    catalog = add_version(catalog, v3)
    catalog = add_version(catalog, v2)  # inserted in date order
    assert [v.effective_date for v in catalog] == [d(2020, 1, 1), d(2020, 6, 1), d(2021, 1, 1)]
    with pytest.raises(CatalogValidationError) as exc:
        add_version(catalog, v2)
    assert exc.value.descriptions == [
        "Catalog effective date 'Mon Jun 01 00:00:00 GMT 2020' already exists for a previous version"
    ]


def test_add_version_rejects_another_catalog_name(club):
    other = dataclasses.replace(club.versions[1], name="Other")
    with pytest.raises(CatalogValidationError) as exc:
        add_version(Catalog((club.versions[0],)), other)
    assert exc.value.descriptions == ["Catalog name 'Other' is different from existing catalog name 'Club'"]


def test_add_version_replaces_a_template_catalog(club):
    template = Catalog((empty_version(d(2019, 12, 1)),))
    assert template.versions[0].is_template
    catalog = add_version(template, club.versions[0])
    assert [v.name for v in catalog] == ["Club"]


def test_plan_shape_must_not_change_between_versions(club):
    v1, v2, _ = club.versions
    plan = v2.plans_by_name["club-monthly"]
    no_trial = dataclasses.replace(plan, initial_phases=())
    v2b = dataclasses.replace(v2, plans=(no_trial,))
    with pytest.raises(CatalogValidationError) as exc:
        add_version(Catalog((v1,)), v2b)
    assert exc.value.descriptions == [
        "Number of phases for plan 'club-monthly' differs between version 'Wed Jan 01 00:00:00 GMT 2020' and "
        "'Mon Jun 01 00:00:00 GMT 2020'"
    ]
