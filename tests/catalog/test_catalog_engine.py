"""Engine lookups on our own test catalog (tests/catalog/data/gym.xml)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billow.catalog import engine as e
from billow.catalog.engine import PlanPhaseSpecifier, PlanSpecifier
from billow.catalog.errors import CatalogApiError, ErrorCode, IllegalPlanChange
from billow.catalog.model import (
    BillingActionPolicy,
    BillingAlignment,
    BillingMode,
    BillingPeriod,
    PhaseType,
    PlanAlignmentChange,
    PlanAlignmentCreate,
)


def test_find_plan_product_price_list_phase(gym):
    assert e.find_plan(gym, "basic-monthly").product == "Basic"
    assert e.find_product(gym, "Premium").pretty_name == "Premium membership"
    assert e.find_price_list(gym, "Promo").plans == ("basic-monthly", "premium-monthly-promo")
    assert e.find_phase(gym, "premium-monthly-discount").duration.number == 2
    assert e.plan_of_phase(gym, "premium-monthly-discount").name == "premium-monthly"


@pytest.mark.parametrize(
    ("call", "code", "message"),
    [
        (lambda v: e.find_plan(v, "gold"), ErrorCode.CAT_NO_SUCH_PLAN, "Could not find any plans named 'gold'"),
        (lambda v: e.find_product(v, "Gold"), ErrorCode.CAT_NO_SUCH_PRODUCT, "Could not find any product named 'Gold'"),
        (
            lambda v: e.find_price_list(v, "X"),
            ErrorCode.CAT_PRICE_LIST_NOT_FOUND,
            "Could not find a pricelist with name 'X'",
        ),
        (
            lambda v: e.find_phase(v, "basic-monthly-x"),
            ErrorCode.CAT_BAD_PHASE_NAME,
            "Bad phase name 'basic-monthly-x'",
        ),
        (
            lambda v: e.find_phase(v, "basic-monthly-discount"),
            ErrorCode.CAT_NO_SUCH_PHASE,
            "Could not find any phases named 'basic-monthly-discount'",
        ),
        (lambda v: e.find_phase(v, "gold-trial"), ErrorCode.CAT_NO_SUCH_PLAN, "Could not find any plans named 'gold'"),
    ],
)
def test_lookup_errors(gym, call, code, message):
    with pytest.raises(CatalogApiError) as exc:
        call(gym)
    assert exc.value.error is code and exc.value.code == code.code
    assert exc.value.message == message


def test_find_plan_by_product_period_and_price_list(gym):
    assert e.find_plan_by_product(gym, "Basic", BillingPeriod.MONTHLY).name == "basic-monthly"
    assert e.find_plan_by_product(gym, "Basic", BillingPeriod.ANNUAL, "DEFAULT").name == "basic-annual"
    assert e.find_plan_by_product(gym, "Premium", BillingPeriod.MONTHLY, "Promo").name == "premium-monthly-promo"
    # Not in Promo -> falls back to DEFAULT
    assert e.find_plan_by_product(gym, "Basic", BillingPeriod.ANNUAL, "Promo").name == "basic-annual"
    assert e.create_or_find_plan(gym, PlanSpecifier(plan_name="daypass")).name == "daypass"


def test_find_plan_by_product_errors(gym):
    with pytest.raises(CatalogApiError) as exc:
        e.find_plan_by_product(gym, "Basic", BillingPeriod.WEEKLY)
    assert exc.value.error is ErrorCode.CAT_PLAN_NOT_FOUND
    assert exc.value.message == (
        "Could not find a plan matching spec: (plan: 'undefined', product: 'Basic', billing period: 'WEEKLY', "
        "pricelist 'undefined')"
    )
    with pytest.raises(CatalogApiError) as exc:
        e.find_plan_by_product(gym, "Basic", BillingPeriod.MONTHLY, "Winter")
    assert exc.value.error is ErrorCode.CAT_PRICE_LIST_NOT_FOUND
    with pytest.raises(CatalogApiError) as exc:
        e.find_plan_by_product(gym, None, BillingPeriod.MONTHLY)
    assert exc.value.error is ErrorCode.CAT_NULL_PRODUCT_NAME


def test_phases_in_order_and_next_phase(gym):
    plan = e.find_plan(gym, "premium-monthly")
    assert [p.type for p in e.phases(plan)] == [PhaseType.TRIAL, PhaseType.DISCOUNT, PhaseType.EVERGREEN]
    assert e.next_phase(plan, "premium-monthly-trial").name == "premium-monthly-discount"
    assert e.next_phase(plan, plan.initial_phases[1]).name == "premium-monthly-evergreen"
    assert e.next_phase(plan, plan.final_phase) is None
    assert e.first_phase(plan).type is PhaseType.TRIAL
    assert e.first_phase(plan, PhaseType.DISCOUNT).name == "premium-monthly-discount"


def test_phase_end_uses_calendar_arithmetic(gym):
    trial = e.find_phase(gym, "basic-monthly-trial")
    assert e.phase_end(trial, date(2012, 2, 1)) == date(2012, 3, 2)  # 30 days in a leap year
    discount = e.find_phase(gym, "premium-monthly-discount")
    assert e.phase_end(discount, date(2023, 12, 31)) == date(2024, 2, 29)  # month-end clamp
    assert e.phase_end(e.find_phase(gym, "basic-monthly-evergreen"), date(2023, 1, 1)) is None


def test_prices_per_currency(gym):
    evergreen = e.find_phase(gym, "basic-monthly-evergreen")
    assert e.recurring_price(evergreen, "USD") == Decimal("20.00")
    assert e.recurring_price(evergreen, "EUR") == Decimal("18.50")
    assert e.fixed_price(evergreen, "USD") is None
    trial = e.find_phase(gym, "basic-monthly-trial")
    assert e.fixed_price(trial, "USD") == 0 and e.fixed_price(trial, "JPY") == 0  # empty fixedPrice = 0 everywhere
    assert e.recurring_price(trial, "USD") is None
    paid_trial = e.find_phase(gym, "premium-monthly-trial")
    assert e.fixed_price(paid_trial, "EUR") == Decimal("4.5")
    assert e.fixed_price(e.find_phase(gym, "towel-monthly-evergreen"), "USD") is None  # <fixed/> without price


def test_price_errors(gym):
    evergreen = e.find_phase(gym, "premium-monthly-evergreen")
    with pytest.raises(CatalogApiError) as exc:
        e.recurring_price(evergreen, "EUR")
    assert exc.value.error is ErrorCode.CAT_PRICE_VALUE_NULL_FOR_CURRENCY
    assert exc.value.message == (
        "The value for the currency 'EUR' is NULL. This plan cannot be bought in this currency."
    )
    with pytest.raises(CatalogApiError) as exc:
        e.recurring_price(evergreen, "GBP")
    assert exc.value.error is ErrorCode.CAT_NO_PRICE_FOR_CURRENCY
    assert exc.value.message == "This price does not have a value for the currency 'GBP'."


def test_usage_sections(gym):
    phase = e.find_phase(gym, "sauna-usage-evergreen")
    (usage,) = e.usages(phase, BillingMode.IN_ARREAR)
    assert e.usages(phase, BillingMode.IN_ADVANCE) == ()
    assert usage.name == "sauna-usage-visits" and usage.billing_period is BillingPeriod.MONTHLY
    assert [t.blocks[0].prices.get("USD") for t in usage.tiers] == [Decimal("3.00"), Decimal("2.00")]
    assert [t.blocks[0].max for t in usage.tiers] == [Decimal(10), Decimal(-1)]


def test_limits_with_kill_bill_semantics(gym):
    sauna = e.find_plan(gym, "sauna-usage")
    assert e.complies_with_limits(gym, sauna, sauna.final_phase, "visits", Decimal(100))
    assert not e.complies_with_limits(gym, sauna, sauna.final_phase, "visits", Decimal(101))
    premium = e.find_plan(gym, "premium-monthly")
    assert [lim.unit for lim in e.product_limits(gym, premium)] == ["guests"]
    assert not e.complies_with_limits(gym, premium, premium.final_phase, "guests", Decimal(6))
    assert e.complies_with_limits(gym, premium, premium.final_phase, "unknown-unit", Decimal(10**6))


def test_date_of_first_recurring_non_zero_charge(gym):
    premium = e.find_plan(gym, "premium-monthly")
    # the trial (fixed only) is skipped; the DISCOUNT phase already charges
    assert e.date_of_first_recurring_non_zero_charge(premium, date(2023, 1, 10)) == date(2023, 1, 17)
    assert e.date_of_first_recurring_non_zero_charge(premium, date(2023, 1, 10), PhaseType.DISCOUNT) == date(
        2023, 1, 10
    )
    basic = e.find_plan(gym, "basic-monthly")
    assert e.date_of_first_recurring_non_zero_charge(basic, date(2023, 1, 1)) == date(2023, 1, 31)


# ----------------------------------------------------------------- add-ons and listings


def test_included_and_available_add_ons(gym):
    assert e.included_addons(gym, "Basic") == ("Towel",)
    assert e.available_addon_products(gym, "Basic") == ("Locker", "Sauna")
    assert e.is_addon_included(gym, "Basic", "Towel")
    assert e.is_addon_available(gym, "Premium", "Locker")
    assert not e.is_addon_available(gym, "Premium", "Sauna")


def test_available_addons_listing(gym):
    details = e.available_addons(gym, "Basic")
    assert [(d.plan, d.price_list, d.final_phase_billing_period) for d in details] == [
        ("locker-monthly", "DEFAULT", BillingPeriod.MONTHLY),
        ("sauna-usage", "DEFAULT", BillingPeriod.NO_BILLING_PERIOD),
    ]
    assert e.available_addons(gym, "Basic", "Promo") == []
    assert e.available_addons(gym, "NoSuchProduct") == []


def test_available_base_plans(gym):
    details = e.available_base_plans(gym)
    assert [(d.plan, d.price_list) for d in details] == [
        ("basic-annual", "DEFAULT"),
        ("basic-monthly", "DEFAULT"),
        ("basic-monthly", "Promo"),
        ("premium-monthly", "DEFAULT"),
        ("premium-monthly-promo", "Promo"),
    ]
    first = details[0]
    assert first.product == "Basic" and first.final_phase_billing_period is BillingPeriod.ANNUAL
    assert [(p.currency, p.value) for p in first.final_phase_recurring_price] == [
        ("USD", Decimal(200)),
        ("EUR", Decimal(185)),
    ]


# ----------------------------------------------------------------- rules (first matching case wins)


def spec(plan, phase=None):
    return PlanPhaseSpecifier(plan_name=plan, phase_type=phase)


def test_change_policy_precedence(gym):
    # 1st case: any change during a trial is immediate, even to a Promo plan (2nd case)
    r = e.plan_change_result(gym, spec("basic-monthly", PhaseType.TRIAL), PlanSpecifier("premium-monthly-promo"))
    assert r.policy is BillingActionPolicy.IMMEDIATE
    # 2nd case beats the 3rd (Basic -> Premium) when the target is in Promo
    r = e.plan_change_result(gym, spec("basic-monthly", PhaseType.EVERGREEN), PlanSpecifier("premium-monthly-promo"))
    assert r.policy is BillingActionPolicy.END_OF_TERM
    assert r.alignment is PlanAlignmentChange.CHANGE_OF_PLAN
    r = e.plan_change_result(gym, spec("basic-monthly", PhaseType.EVERGREEN), PlanSpecifier("premium-monthly"))
    assert r.policy is BillingActionPolicy.IMMEDIATE
    assert r.alignment is PlanAlignmentChange.START_OF_SUBSCRIPTION
    assert r.new_price_list.name == "DEFAULT"
    # catch-all
    r = e.plan_change_result(gym, spec("premium-monthly", PhaseType.EVERGREEN), PlanSpecifier("basic-annual"))
    assert r.policy is BillingActionPolicy.END_OF_TERM


def test_illegal_change(gym):
    with pytest.raises(IllegalPlanChange) as exc:
        e.plan_change_result(gym, spec("basic-annual", PhaseType.EVERGREEN), PlanSpecifier("basic-monthly"))
    assert exc.value.code == 2001
    assert "from (product: 'Basic', billing period: 'ANNUAL', pricelist 'DEFAULT')" in exc.value.message


def test_change_by_product_uses_the_price_list_rules(gym):
    # From a Promo plan, the priceList rule sends the target to DEFAULT: the toPriceList=Promo case is skipped
    frm = spec("premium-monthly-promo", PhaseType.EVERGREEN)
    to = PlanSpecifier(product_name="Basic", billing_period=BillingPeriod.MONTHLY)
    r = e.plan_change_result(gym, frm, to)
    assert r.new_price_list.name == "DEFAULT"
    assert r.policy is BillingActionPolicy.END_OF_TERM and r.alignment is PlanAlignmentChange.START_OF_SUBSCRIPTION
    # The request naming Promo makes the toPriceList=Promo cases match
    r = e.plan_change_result(gym, frm, PlanSpecifier(None, "Basic", BillingPeriod.MONTHLY, "Promo"))
    assert r.policy is BillingActionPolicy.END_OF_TERM and r.alignment is PlanAlignmentChange.CHANGE_OF_PLAN
    # sticky: no priceList case matches a DEFAULT plan -> its own list
    assert e.price_list_for_change(gym, PlanSpecifier("basic-monthly")).name == "DEFAULT"


def test_cancel_policy_ignores_phase_type_cases_when_no_phase_is_given(gym):
    # [phaseType=TRIAL -> IMMEDIATE] is inert when, as in Kill Bill's subscription code, no phase is passed
    assert e.cancel_policy(gym, PlanSpecifier("basic-monthly")) is BillingActionPolicy.END_OF_TERM
    assert e.cancel_policy(gym, spec("basic-monthly", PhaseType.TRIAL)) is BillingActionPolicy.IMMEDIATE
    assert e.cancel_policy(gym, PlanSpecifier("locker-monthly")) is BillingActionPolicy.IMMEDIATE


def test_create_alignment_and_its_default(gym):
    assert e.create_alignment(gym, PlanSpecifier("sauna-usage")) is PlanAlignmentCreate.START_OF_SUBSCRIPTION
    assert e.create_alignment(gym, PlanSpecifier("premium-monthly-promo")) is PlanAlignmentCreate.START_OF_SUBSCRIPTION
    # no catch-all in the list -> Kill Bill's default
    assert e.create_alignment(gym, PlanSpecifier("basic-monthly")) is PlanAlignmentCreate.START_OF_BUNDLE
    by_product = PlanSpecifier(None, "Premium", BillingPeriod.MONTHLY, "Promo")
    assert e.create_alignment(gym, by_product) is PlanAlignmentCreate.START_OF_SUBSCRIPTION
    with pytest.raises(CatalogApiError) as exc:  # a priceList predicate needs the list to exist
        e.create_alignment(gym, PlanSpecifier(None, "Premium", BillingPeriod.MONTHLY, "Winter"))
    assert exc.value.error is ErrorCode.CAT_PRICE_LIST_NOT_FOUND


def test_billing_alignment_precedence_and_default(gym):
    assert e.billing_alignment(gym, spec("locker-monthly", PhaseType.EVERGREEN)) is BillingAlignment.BUNDLE
    assert e.billing_alignment(gym, spec("basic-annual", PhaseType.EVERGREEN)) is BillingAlignment.SUBSCRIPTION
    assert e.billing_alignment(gym, spec("premium-monthly", PhaseType.DISCOUNT)) is BillingAlignment.SUBSCRIPTION
    assert e.billing_alignment(gym, spec("premium-monthly", PhaseType.EVERGREEN)) is BillingAlignment.ACCOUNT


def test_rule_results_are_memoised_per_version(gym):
    s = spec("premium-monthly", PhaseType.EVERGREEN)
    e.billing_alignment(gym, s)
    assert any(k[0] == "billing" and k[1] == "premium-monthly" for k in gym.cache if isinstance(k, tuple))
    assert e.billing_alignment(gym, s) is BillingAlignment.ACCOUNT
