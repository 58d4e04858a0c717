"""Pure catalog lookups used by entitlement, junction and invoice (no I/O).

Everything here works on one :class:`CatalogVersion` (pick it with
``Catalog.version_for_date`` or :mod:`billow.catalog.versions`).  Lookups go
through dict indexes built once per version; rule results are memoised per
version, so the hot path of a billing run does no linear scans.

Rules follow Kill Bill exactly: each case list is evaluated in document order
and the first matching case wins; absent predicates match anything; when no case
matches, Kill Bill's hard-coded defaults apply (change policy END_OF_TERM,
change alignment START_OF_BUNDLE, cancel policy END_OF_TERM, create alignment
START_OF_BUNDLE, billing alignment ACCOUNT, price list on change: the from-plan's
own price list).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billow.catalog.errors import CatalogApiError, ErrorCode, IllegalPlanChange
from billow.catalog.model import (
    DEFAULT_PRICE_LIST_NAME,
    BillingActionPolicy,
    BillingAlignment,
    BillingMode,
    BillingPeriod,
    CatalogVersion,
    ChangeCase,
    Limit,
    PhaseType,
    Plan,
    PlanAlignmentChange,
    PlanAlignmentCreate,
    PlanPhase,
    Price,
    PriceList,
    Product,
    ProductCategory,
    StandardCase,
    TimeUnit,
    Usage,
)

# --------------------------------------------------------------------------- specifiers and results


@dataclass(frozen=True, slots=True)
class PlanSpecifier:
    """A plan by name, or by (product, billing period, price list) -- Kill Bill's ``PlanSpecifier``."""

    plan_name: str | None = None
    product_name: str | None = None
    billing_period: BillingPeriod | None = None
    price_list_name: str | None = None


@dataclass(frozen=True, slots=True)
class PlanPhaseSpecifier(PlanSpecifier):
    """A :class:`PlanSpecifier` plus the phase type (Kill Bill's ``PlanPhaseSpecifier``)."""

    phase_type: PhaseType | None = None


@dataclass(frozen=True, slots=True)
class PlanChangeResult:
    new_price_list: PriceList
    policy: BillingActionPolicy
    alignment: PlanAlignmentChange


@dataclass(frozen=True, slots=True)
class PlanDetail:
    """Kill Bill's ``PlanDetailJson`` / ``Listing``: a plan as listed in one price list."""

    product: str
    plan: str
    price_list: str
    final_phase_billing_period: BillingPeriod
    final_phase_recurring_price: tuple[Price, ...]


# --------------------------------------------------------------------------- finders


def find_plan(version: CatalogVersion, name: str | None) -> Plan:
    """Plan by name (``CAT_NO_SUCH_PLAN``)."""
    return version.find_plan(name)


def find_product(version: CatalogVersion, name: str | None) -> Product:
    """Product by name (``CAT_NO_SUCH_PRODUCT``)."""
    return version.find_product(name)


def find_price_list(version: CatalogVersion, name: str | None) -> PriceList:
    """Price list by name (``CAT_PRICE_LIST_NOT_FOUND``)."""
    return version.find_price_list(name)


def find_phase(version: CatalogVersion, phase_name: str | None) -> PlanPhase:
    """Phase by its name ``<plan>-<type>`` (``CAT_NO_SUCH_PHASE`` / ``CAT_BAD_PHASE_NAME``)."""
    return version.find_phase(phase_name)


def plan_of_phase(version: CatalogVersion, phase_name: str) -> Plan:
    hit = version.phases_by_name.get(phase_name)
    if hit is None:
        version.find_phase(phase_name)  # raises the right error
        raise CatalogApiError(ErrorCode.CAT_NO_SUCH_PHASE, phase_name)  # pragma: no cover
    return hit[0]


def find_plan_by_product(
    version: CatalogVersion,
    product_name: str | None,
    billing_period: BillingPeriod | None,
    price_list_name: str | None = None,
) -> Plan:
    """Kill Bill's ``createOrFindPlan`` by (product, billing period, price list).

    The price list defaults to DEFAULT; when the named list has no plan for the
    product/period, the DEFAULT list is searched.  Several matches in the list
    searched -> ``CAT_MULTIPLE_MATCHING_PLANS_FOR_PRICELIST``; none ->
    ``CAT_PLAN_NOT_FOUND``; unknown list -> ``CAT_PRICE_LIST_NOT_FOUND``.
    """
    if product_name is None:
        raise CatalogApiError(ErrorCode.CAT_NULL_PRODUCT_NAME)
    if billing_period is None:
        raise CatalogApiError(ErrorCode.CAT_NULL_BILLING_PERIOD)
    pl_name = DEFAULT_PRICE_LIST_NAME if price_list_name is None else price_list_name
    version.find_product(product_name)
    pl = version.find_price_list(pl_name)
    plans = version.plans_by_listing.get((pl.name, product_name, billing_period), ())
    if not plans:
        plans = version.plans_by_listing.get(
            (version.default_price_list.name, product_name, billing_period), ()
        )
    if len(plans) == 1:
        return plans[0]
    if not plans:
        raise CatalogApiError(
            ErrorCode.CAT_PLAN_NOT_FOUND, None, product_name, billing_period.value, price_list_name
        )
    raise CatalogApiError(
        ErrorCode.CAT_MULTIPLE_MATCHING_PLANS_FOR_PRICELIST, pl_name, product_name, billing_period.value
    )


def create_or_find_plan(version: CatalogVersion, spec: PlanSpecifier) -> Plan:
    """A plan by name if the specifier has one, else by (product, billing period, price list)."""
    if spec.plan_name is not None:
        return version.find_plan(spec.plan_name)
    return find_plan_by_product(version, spec.product_name, spec.billing_period, spec.price_list_name)


# --------------------------------------------------------------------------- phases and prices


def phases(plan: Plan) -> tuple[PlanPhase, ...]:
    """Initial phases in document order, then the final phase."""
    return plan.all_phases


def first_phase(plan: Plan, phase_type: PhaseType | None = None) -> PlanPhase:
    """The phase a subscription starts in: the first one, or the first of ``phase_type`` when given."""
    if phase_type is None:
        return plan.all_phases[0]
    for ph in plan.all_phases:
        if ph.type is phase_type:
            return ph
    raise CatalogApiError(ErrorCode.CAT_NO_SUCH_PHASE, f"{plan.name}-{phase_type.value.lower()}")


def next_phase(plan: Plan, phase: PlanPhase | str) -> PlanPhase | None:
    """The phase that follows ``phase`` (a phase or a phase name) in ``plan``; None after the final phase."""
    name = phase if isinstance(phase, str) else phase.name
    all_phases = plan.all_phases
    for i, ph in enumerate(all_phases):
        if ph.name == name:
            return all_phases[i + 1] if i + 1 < len(all_phases) else None
    raise CatalogApiError(ErrorCode.CAT_NO_SUCH_PHASE, name)


def phase_end(phase: PlanPhase, start: Any) -> Any | None:
    """When a phase that started at ``start`` ends (None for UNLIMITED)."""
    if phase.duration.unit is TimeUnit.UNLIMITED:
        return None
    return phase.duration.add_to(start)


def fixed_price(phase: PlanPhase, currency: str) -> Decimal | None:
    """One-time charge of ``phase`` in ``currency``.

    None when the phase has no ``<fixed>`` or a ``<fixed>`` without ``<fixedPrice>``
    (no FIXED item at all); 0 for an empty ``<fixedPrice/>``; Kill Bill's errors
    for a nil value or an unlisted currency.
    """
    fx = phase.fixed
    if fx is None or fx.price is None:
        return None
    return fx.price.get(currency)


def recurring_price(phase: PlanPhase, currency: str) -> Decimal | None:
    """Recurring price of ``phase`` in ``currency`` (None without a recurring price)."""
    rec = phase.recurring
    if rec is None or rec.price is None:
        return None
    return rec.price.get(currency)


def usages(phase: PlanPhase, billing_mode: BillingMode | None = None) -> tuple[Usage, ...]:
    """Usage sections of a phase, optionally only those of one billing mode (invoicing keeps IN_ARREAR)."""
    if billing_mode is None:
        return phase.usages
    return tuple(u for u in phase.usages if u.billing_mode is billing_mode)


def date_of_first_recurring_non_zero_charge(
    plan: Plan, start: Any, initial_phase_type: PhaseType | None = None
) -> Any:
    """Kill Bill's ``dateOfFirstRecurringNonZeroCharge``: start of the first paying recurring phase."""
    result = start
    skipping = initial_phase_type is not None
    for ph in plan.all_phases:
        if skipping:
            if ph.type is not initial_phase_type:
                continue
            skipping = False
        rec = ph.recurring
        if ph.duration.unit is not TimeUnit.UNLIMITED and (
            rec is None or rec.price is None or rec.price.is_zero()
        ):
            result = ph.duration.add_to(result)
        else:
            break
    return result


# --------------------------------------------------------------------------- limits and add-ons


def _find_limit(limits: Sequence[Limit], unit: str) -> Limit | None:
    for lim in limits:
        if lim.unit == unit:
            return lim
    return None


def product_limits(version: CatalogVersion, plan: Plan) -> tuple[Limit, ...]:
    """The ``<limits>`` of the plan's product."""
    product = version.products_by_name.get(plan.product)
    return product.limits if product is not None else ()


def complies_with_limits(
    version: CatalogVersion, plan: Plan, phase: PlanPhase, unit: str, value: Decimal
) -> bool:
    """Kill Bill's ``PlanPhase.compliesWithLimits``: usage limits of the phase, then the product's limits."""
    for u in phase.usages:
        lim = _find_limit(u.limits, unit)
        if lim is not None and not lim.complies_with(value):
            return False
    lim = _find_limit(product_limits(version, plan), unit)
    return lim is None or lim.complies_with(value)


def included_addons(version: CatalogVersion, base_product_name: str) -> tuple[str, ...]:
    return version.find_product(base_product_name).included


def available_addon_products(version: CatalogVersion, base_product_name: str) -> tuple[str, ...]:
    return version.find_product(base_product_name).available


def is_addon_included(version: CatalogVersion, base_product_name: str, addon_product_name: str) -> bool:
    return addon_product_name in version.find_product(base_product_name).included


def is_addon_available(version: CatalogVersion, base_product_name: str, addon_product_name: str) -> bool:
    return addon_product_name in version.find_product(base_product_name).available


def _detail(plan: Plan, price_list: str) -> PlanDetail:
    rec = plan.final_phase.recurring
    prices: tuple[Price, ...] = ()
    if rec is not None and rec.price is not None:
        prices = rec.price.prices
    return PlanDetail(plan.product, plan.name, price_list, plan.recurring_billing_period, prices)


def available_base_plans(version: CatalogVersion) -> list[PlanDetail]:
    """Kill Bill's ``getAvailableBasePlanListings``: every BASE plan in every price list listing it."""
    key = ("base_plans",)
    hit = version.cache.get(key)
    if hit is None:
        out = []
        for plan in version.plans:
            product = version.products_by_name.get(plan.product)
            if product is None or product.category is not ProductCategory.BASE:
                continue
            for pl in version.price_lists:
                if plan.name in pl.plans:
                    out.append(_detail(plan, pl.name))
        hit = version.cache[key] = tuple(out)
    return list(hit)


def available_addons(
    version: CatalogVersion, base_product_name: str, price_list_name: str | None = None
) -> list[PlanDetail]:
    """Kill Bill's ``getAvailableAddOnListings``: plans of the base product's available add-ons.

    Add-on products by name, then billing periods in enum order, then price lists;
    an unknown base product gives an empty list.
    """
    key = ("addons", base_product_name, price_list_name)
    hit = version.cache.get(key)
    if hit is None:
        out = []
        product = version.products_by_name.get(base_product_name)
        if product is not None:
            for addon in product.available:
                for period in BillingPeriod:
                    for pl in version.price_lists:
                        if price_list_name is None or price_list_name == pl.name:
                            for plan in version.plans_by_listing.get((pl.name, addon, period), ()):
                                out.append(_detail(plan, pl.name))
        hit = version.cache[key] = tuple(out)
    return list(hit)


# --------------------------------------------------------------------------- rules


_Ctx = tuple[str, ProductCategory, BillingPeriod, str | None]


def _context(version: CatalogVersion, spec: PlanSpecifier, resolve_price_list: bool) -> _Ctx:
    """(product, category, billing period, price list) of a specifier, as Kill Bill derives it."""
    if spec.plan_name is not None:
        plan = version.find_plan(spec.plan_name)
        product = version.find_product(plan.product)
        return plan.product, product.category, plan.recurring_billing_period, plan.price_list
    product = version.find_product(spec.product_name)
    period = spec.billing_period if spec.billing_period is not None else BillingPeriod.NO_BILLING_PERIOD
    pl: str | None = None
    if resolve_price_list:
        pl = version.find_price_list(spec.price_list_name).name
    return product.name, product.category, period, pl


def _std_match(case: StandardCase, ctx: _Ctx) -> bool:
    return (
        (case.product is None or case.product == ctx[0])
        and (case.product_category is None or case.product_category is ctx[1])
        and (case.billing_period is None or case.billing_period is ctx[2])
        and (case.price_list is None or case.price_list == ctx[3])
    )


def _std_result(
    version: CatalogVersion,
    kind: str,
    cases: Sequence[Any],
    spec: PlanSpecifier,
    phase_type: PhaseType | None,
    attr: str,
) -> Any:
    key = (kind, spec.plan_name, spec.product_name, spec.billing_period, spec.price_list_name, phase_type)
    cache = version.cache
    if key in cache:
        return cache[key]
    ctx: _Ctx | None = None
    result = None
    for case in cases:
        if getattr(case, "phase_type", None) is not None and case.phase_type is not phase_type:
            continue
        if ctx is None or (case.price_list is not None and ctx[3] is None and spec.plan_name is None):
            # Kill Bill resolves the price list of a (product, period, list) specifier only for a case
            # that has a price-list predicate (and then raises CAT_PRICE_LIST_NOT_FOUND if it is missing).
            ctx = _context(version, spec, resolve_price_list=case.price_list is not None)
        if _std_match(case, ctx):
            result = getattr(case, attr)
            break
    cache[key] = result
    return result


def create_alignment(version: CatalogVersion, spec: PlanSpecifier) -> PlanAlignmentCreate:
    """Create alignment of the plan being created (default START_OF_BUNDLE)."""
    res = _std_result(version, "create", version.rules.create_alignment, spec, None, "alignment")
    return res if res is not None else PlanAlignmentCreate.START_OF_BUNDLE


def cancel_policy(version: CatalogVersion, spec: PlanPhaseSpecifier | PlanSpecifier) -> BillingActionPolicy:
    """Cancel policy (default END_OF_TERM).

    Kill Bill's subscription code passes *no* phase type here, so a case with a
    ``phaseType`` predicate never matches then; pass a :class:`PlanSpecifier` (or
    ``phase_type=None``) to reproduce that.
    """
    pt = spec.phase_type if isinstance(spec, PlanPhaseSpecifier) else None
    res = _std_result(version, "cancel", version.rules.cancel_policy, spec, pt, "policy")
    return res if res is not None else BillingActionPolicy.END_OF_TERM


def billing_alignment(version: CatalogVersion, spec: PlanPhaseSpecifier | PlanSpecifier) -> BillingAlignment:
    """Billing alignment of a plan and the phase being billed (default ACCOUNT)."""
    pt = spec.phase_type if isinstance(spec, PlanPhaseSpecifier) else None
    res = _std_result(version, "billing", version.rules.billing_alignment, spec, pt, "alignment")
    return res if res is not None else BillingAlignment.ACCOUNT


def _change_ctx(version: CatalogVersion, spec: PlanSpecifier) -> _Ctx:
    if spec.plan_name is not None:
        return _context(version, spec, False)
    product = version.find_product(spec.product_name)
    period = spec.billing_period if spec.billing_period is not None else BillingPeriod.NO_BILLING_PERIOD
    pl = version.find_price_list(spec.price_list_name).name if spec.price_list_name is not None else None
    return product.name, product.category, period, pl


def _change_result(
    version: CatalogVersion,
    kind: str,
    cases: Sequence[ChangeCase],
    frm: PlanPhaseSpecifier,
    to: PlanSpecifier,
    attr: str,
) -> Any:
    key = (kind, frm, to)
    cache = version.cache
    if key in cache:
        return cache[key]
    f = _change_ctx(version, frm)
    t = _change_ctx(version, to)
    result = None
    for c in cases:
        if (
            (c.phase_type is None or c.phase_type is frm.phase_type)
            and (c.from_product is None or c.from_product == f[0])
            and (c.from_product_category is None or c.from_product_category is f[1])
            and (c.from_billing_period is None or c.from_billing_period is f[2])
            and (c.to_product is None or c.to_product == t[0])
            and (c.to_product_category is None or c.to_product_category is t[1])
            and (c.to_billing_period is None or c.to_billing_period is t[2])
            and (c.from_price_list is None or c.from_price_list == f[3])
            and (c.to_price_list is None or c.to_price_list == t[3])
        ):
            result = getattr(c, attr)
            break
    cache[key] = result
    return result


def change_policy(version: CatalogVersion, frm: PlanPhaseSpecifier, to: PlanSpecifier) -> BillingActionPolicy:
    """Raw change policy for (from plan + phase, target), default END_OF_TERM.

    See :func:`plan_change_result`.
    """
    res = _change_result(version, "change_policy", version.rules.change_policy, frm, to, "policy")
    return res if res is not None else BillingActionPolicy.END_OF_TERM


def change_alignment(
    version: CatalogVersion, frm: PlanPhaseSpecifier, to: PlanSpecifier
) -> PlanAlignmentChange:
    """Raw change alignment (default START_OF_BUNDLE)."""
    res = _change_result(version, "change_alignment", version.rules.change_alignment, frm, to, "alignment")
    return res if res is not None else PlanAlignmentChange.START_OF_BUNDLE


def price_list_for_change(version: CatalogVersion, frm: PlanSpecifier) -> PriceList:
    """Price list on change when the request names none: first ``priceListCase`` matching the from plan
    (its ``from*`` predicates only), else the from plan's own price list ("sticky")."""
    ctx: _Ctx | None = None
    for c in version.rules.price_list:
        if ctx is None or (c.from_price_list is not None and ctx[3] is None and frm.plan_name is None):
            ctx = _context(version, frm, resolve_price_list=c.from_price_list is not None)
        if (
            (c.from_product is None or c.from_product == ctx[0])
            and (c.from_product_category is None or c.from_product_category is ctx[1])
            and (c.from_billing_period is None or c.from_billing_period is ctx[2])
            and (c.from_price_list is None or c.from_price_list == ctx[3])
        ):
            return version.find_price_list(c.to_price_list)
    if frm.plan_name is not None:
        return version.find_price_list(version.find_plan(frm.plan_name).price_list)
    return version.find_price_list(frm.price_list_name)


def plan_change_result(
    version: CatalogVersion, frm: PlanPhaseSpecifier, to: PlanSpecifier
) -> PlanChangeResult:
    """Kill Bill's ``getPlanChangeResult``: new price list, policy and alignment of a plan change.

    The new price list is the request's one, else the ``priceList`` rules' answer
    for the from plan.  It is used only to evaluate the rules when the target is
    given as (product, billing period).  ILLEGAL -> :class:`IllegalPlanChange`.
    """
    new_pl = (
        version.find_price_list(to.price_list_name)
        if to.price_list_name is not None
        else price_list_for_change(version, frm)
    )
    target = to
    if to.plan_name is None:
        target = PlanSpecifier(None, to.product_name, to.billing_period, new_pl.name)
    policy = change_policy(version, frm, target)
    if policy is BillingActionPolicy.ILLEGAL:
        f = _change_ctx(version, frm)
        t = _change_ctx(version, target)
        raise IllegalPlanChange(
            ErrorCode.CAT_ILLEGAL_CHANGE_REQUEST, f[0], f[2].value, f[3], t[0], t[2].value, t[3]
        )
    alignment = change_alignment(version, frm, target)
    return PlanChangeResult(new_pl, policy, alignment)


def spec_for_plan(plan: Plan, phase_type: PhaseType | None = None) -> PlanPhaseSpecifier:
    """Specifier naming a plan (and a phase type), as the subscription code builds them."""
    return PlanPhaseSpecifier(plan_name=plan.name, phase_type=phase_type)
