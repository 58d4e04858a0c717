"""Plans without XML: Kill Bill's ``SimplePlan`` (``POST /1.0/kb/catalog/simplePlan``, ``CatalogUpdater``).

:func:`add_simple_plan` takes the tenant's current version (or None) and returns
the new version to store; Kill Bill then *replaces* the tenant's catalog with
that one document.  A catalog started this way is named ``DEFAULT``, bills
IN_ADVANCE and has one catch-all case per rule list (change IMMEDIATE, change
alignment START_OF_BUNDLE, cancel IMMEDIATE, create alignment START_OF_BUNDLE,
billing alignment ACCOUNT, price list -> DEFAULT).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from billow.catalog.errors import CatalogApiError, CatalogValidationError, ErrorCode
from billow.catalog.model import (
    CURRENCIES,
    DEFAULT_PRICE_LIST_NAME,
    BillingActionPolicy,
    BillingAlignment,
    BillingAlignmentCase,
    BillingMode,
    BillingPeriod,
    CancelPolicyCase,
    CatalogVersion,
    ChangeAlignmentCase,
    ChangePolicyCase,
    CreateAlignmentCase,
    Duration,
    Fixed,
    InternationalPrice,
    PhaseType,
    Plan,
    PlanAlignmentChange,
    PlanAlignmentCreate,
    PlanPhase,
    PlanRules,
    Price,
    PriceList,
    PriceListCase,
    Product,
    ProductCategory,
    Recurring,
    TimeUnit,
    java_sort_key,
    phase_name,
)
from billow.catalog.validation import validate_version
from billow.core.clock import utc

DEFAULT_CATALOG_NAME = "DEFAULT"
INVALID_PLAN = "Plan is invalid. Please check."
INVALID_PRODUCT_NAME = "Please provide valid product name."
INVALID_PRICE = (
    "Please check amount and currency. Amount should be greater than 0 and currency should be valid."
)
BASE_PLAN_PRODUCTS_NOT_EMPTY = "List of available base products should not be empty for add-ons."
EXISTING_PRODUCTS_NOT_EMPTY = "Available base products contain invalid product.Please check."


@dataclass(frozen=True)
class SimplePlan:
    """Kill Bill's ``SimplePlanJson``."""

    plan_id: str | None
    product_name: str | None = None
    product_category: ProductCategory | None = ProductCategory.BASE
    currency: str | None = None
    amount: Decimal | None = None
    billing_period: BillingPeriod | None = BillingPeriod.MONTHLY
    trial_length: int | None = 0
    trial_time_unit: TimeUnit | None = TimeUnit.UNLIMITED
    available_base_products: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SimplePlan:
        """From the REST body (camelCase); unknown keys ignored, enum names checked."""

        def enum(e: Any, key: str, default: Any) -> Any:
            v = body.get(key)
            if v is None:
                return default
            try:
                return e(v)
            except ValueError:
                raise CatalogApiError(ErrorCode.CAT_INVALID_SIMPLE_PLAN_DESCRIPTOR, f"{key}={v!r}") from None

        amount = body.get("amount")
        trial = body.get("trialLength")
        return cls(
            plan_id=body.get("planId"),
            product_name=body.get("productName"),
            product_category=enum(ProductCategory, "productCategory", ProductCategory.BASE),
            currency=body.get("currency"),
            amount=None if amount is None else Decimal(str(amount)),
            billing_period=enum(BillingPeriod, "billingPeriod", BillingPeriod.MONTHLY),
            trial_length=0 if trial is None else int(trial),
            trial_time_unit=enum(TimeUnit, "trialTimeUnit", TimeUnit.UNLIMITED),
            available_base_products=tuple(body.get("availableBaseProducts") or ()),
        )


def sane_default_rules() -> PlanRules:
    return PlanRules(
        change_policy=(ChangePolicyCase(policy=BillingActionPolicy.IMMEDIATE),),
        change_alignment=(ChangeAlignmentCase(alignment=PlanAlignmentChange.START_OF_BUNDLE),),
        cancel_policy=(CancelPolicyCase(policy=BillingActionPolicy.IMMEDIATE),),
        create_alignment=(CreateAlignmentCase(alignment=PlanAlignmentCreate.START_OF_BUNDLE),),
        billing_alignment=(BillingAlignmentCase(alignment=BillingAlignment.ACCOUNT),),
        price_list=(PriceListCase(to_price_list=DEFAULT_PRICE_LIST_NAME),),
    )


def empty_version(effective_date: datetime, currencies: tuple[str, ...] = ()) -> CatalogVersion:
    """Kill Bill's template catalog (``createDefaultEmptyCatalog``): name DEFAULT, nothing to sell."""
    return CatalogVersion(
        name=DEFAULT_CATALOG_NAME,
        effective_date=utc(effective_date),
        currencies=currencies,
        units=(),
        products=(),
        rules=sane_default_rules(),
        plans=(),
        default_price_list=PriceList(DEFAULT_PRICE_LIST_NAME, DEFAULT_PRICE_LIST_NAME, ()),
        recurring_billing_mode=BillingMode.IN_ADVANCE,
    )


def safe_first_effective_date(now: datetime, requested: datetime | None = None) -> datetime:
    """Effective date of a first version made by the API: ``now - 1 day`` unless an earlier date is asked
    (Kill Bill's ``getSafeFirstCatalogEffectiveDate``, see issue #760)."""
    floor = utc(now) - timedelta(days=1)
    return floor if requested is None or utc(requested) > floor else utc(requested)


def _fail(message: str) -> CatalogApiError:
    return CatalogApiError(ErrorCode.CAT_INVALID_SIMPLE_PLAN_DESCRIPTOR, message)


def add_simple_plan(
    current: CatalogVersion | None, desc: SimplePlan, effective_date: datetime
) -> CatalogVersion:
    """The version with ``desc`` added (Kill Bill's ``CatalogUpdater.addSimplePlanDescriptor``).

    ``current`` is the tenant's latest version (None or a template when it has
    none); ``effective_date`` is used only when starting a new catalog (see
    :func:`safe_first_effective_date`).  Raises :class:`CatalogApiError`
    (``CAT_INVALID_SIMPLE_PLAN_DESCRIPTOR`` / ``CAT_FAILED_SIMPLE_PLAN_VALIDATION``) or
    :class:`CatalogValidationError` if the result does not validate.
    """
    if current is None:
        base = empty_version(effective_date, (desc.currency,) if desc.currency in CURRENCIES else ())
    else:
        base = dataclasses.replace(current, recurring_billing_mode=BillingMode.IN_ADVANCE)
    if desc.plan_id is None:
        raise _fail(INVALID_PLAN)
    existing_plan = base.plans_by_name.get(desc.plan_id)
    if existing_plan is None and desc.product_name is None:
        raise _fail(INVALID_PRODUCT_NAME)
    if desc.amount is None or desc.amount < 0 or desc.currency is None or desc.currency not in CURRENCIES:
        raise _fail(INVALID_PRICE)
    if desc.product_category is ProductCategory.ADD_ON:
        if not desc.available_base_products:
            raise _fail(BASE_PLAN_PRODUCTS_NOT_EMPTY)
        for bp in desc.available_base_products:
            if bp not in base.products_by_name:
                raise _fail(EXISTING_PRODUCTS_NOT_EMPTY)

    products = dict(base.products_by_name)
    plans = dict(base.plans_by_name)
    currencies = list(base.currencies)
    currency = desc.currency

    product_name = existing_plan.product if existing_plan is not None else desc.product_name
    assert product_name is not None
    if product_name not in products:
        products[product_name] = Product(
            product_name, product_name, desc.product_category or ProductCategory.BASE
        )

    if existing_plan is None:
        initial: tuple[PlanPhase, ...] = ()
        unit = desc.trial_time_unit or TimeUnit.UNLIMITED
        if desc.trial_length and desc.trial_length > 0 and unit is not TimeUnit.UNLIMITED:
            name = phase_name(desc.plan_id, PhaseType.TRIAL)
            initial = (
                PlanPhase(
                    name=name,
                    type=PhaseType.TRIAL,
                    duration=Duration(unit, desc.trial_length),
                    pretty_name=name,
                    fixed=Fixed(InternationalPrice((Price(currency, Decimal(0)),))),
                ),
            )
        evergreen = phase_name(desc.plan_id, PhaseType.EVERGREEN)
        plan = Plan(
            name=desc.plan_id,
            pretty_name=desc.plan_id,
            product=product_name,
            initial_phases=initial,
            final_phase=PlanPhase(
                name=evergreen,
                type=PhaseType.EVERGREEN,
                duration=Duration(TimeUnit.UNLIMITED),
                pretty_name=evergreen,
                recurring=Recurring(desc.billing_period or BillingPeriod.MONTHLY, InternationalPrice(())),
            ),
            price_list=DEFAULT_PRICE_LIST_NAME,
            recurring_billing_mode=BillingMode.IN_ADVANCE,
        )
    else:
        _validate_existing(existing_plan, desc)
        plan = existing_plan

    if currency not in currencies:
        currencies.append(currency)
        # Kill Bill resets the trial's fixed price so that it reads 0 in every currency.
        if len(plan.initial_phases) == 1 and plan.initial_phases[0].fixed is not None:
            trial = dataclasses.replace(plan.initial_phases[0], fixed=Fixed(InternationalPrice(())))
            plan = dataclasses.replace(plan, initial_phases=(trial,))

    final = plan.final_phase
    rec = final.recurring
    assert rec is not None
    price = rec.price or InternationalPrice(())
    if currency not in price.currencies():
        price = InternationalPrice((*price.prices, Price(currency, desc.amount)))
        final = dataclasses.replace(final, recurring=Recurring(rec.billing_period, price))
        plan = dataclasses.replace(plan, final_phase=final)
    plans[plan.name] = plan

    if desc.product_category is ProductCategory.ADD_ON:
        for bp in desc.available_base_products:
            target = products[bp]
            if product_name not in target.available:
                products[bp] = dataclasses.replace(
                    target, available=tuple(sorted((*target.available, product_name), key=java_sort_key))
                )

    default_pl = base.default_price_list
    if plan.name not in default_pl.plans and all(plan.name not in pl.plans for pl in base.child_price_lists):
        default_pl = dataclasses.replace(
            default_pl, plans=tuple(sorted((*default_pl.plans, plan.name), key=java_sort_key))
        )
    result = dataclasses.replace(
        base,
        currencies=tuple(currencies),
        products=tuple(sorted(products.values(), key=lambda p: java_sort_key(p.name))),
        plans=tuple(sorted(plans.values(), key=lambda p: java_sort_key(p.name))),
        default_price_list=default_pl,
    )
    errors = validate_version(result)
    if errors:
        raise CatalogValidationError(errors)
    return result


def _validate_existing(plan: Plan, desc: SimplePlan) -> None:
    failed = False
    ip = plan.initial_phases
    if len(ip) > 1 or (
        len(ip) == 1
        and (
            ip[0].type is not PhaseType.TRIAL
            or ip[0].fixed is None
            or ip[0].fixed.price is None
            or not ip[0].fixed.price.is_zero()
        )
    ):
        failed = True
    elif desc.trial_length is not None and desc.trial_time_unit is not None:
        desc_trial = desc.trial_length > 0 and desc.trial_time_unit is not TimeUnit.UNLIMITED
        plan_trial = len(ip) == 1
        if desc_trial != plan_trial or (
            desc_trial
            and plan_trial
            and (
                ip[0].duration.unit is not desc.trial_time_unit or ip[0].duration.number != desc.trial_length
            )
        ):
            failed = True
    if not failed:
        fp = plan.final_phase
        if (
            fp.type is not PhaseType.EVERGREEN
            or fp.recurring is None
            or (desc.billing_period is not None and fp.recurring.billing_period is not desc.billing_period)
        ):
            failed = True
        elif desc.currency is not None and desc.amount is not None and fp.recurring.price is not None:
            try:
                if fp.recurring.price.get(desc.currency) != desc.amount:
                    failed = True
            except CatalogApiError:
                pass
    if failed:
        raise CatalogApiError(ErrorCode.CAT_FAILED_SIMPLE_PLAN_VALIDATION, plan.name, desc.plan_id)
