"""Kill Bill's catalog validation (``StandaloneCatalog.validate`` and ``DefaultVersionedCatalog.validate``).

Every check collects its error and carries on, in Kill Bill's traversal order:
products (by name), plans (by name; their phases, durations and usages),
price lists, rules, then phase durations per type.  Descriptions are Kill Bill's
texts (dates in Java's ``Date.toString()`` form, e.g. ``Fri Feb 08 00:00:00 GMT
2013``); rule-case dumps use our own compact form after Kill Bill's prefix.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billow.catalog.errors import ValidationMessage
from billow.catalog.model import (
    DEFAULT_PRICE_LIST_NAME,
    MINUS_ONE,
    BillingActionPolicy,
    BillingMode,
    BillingPeriod,
    Catalog,
    CatalogVersion,
    Limit,
    PhaseType,
    Plan,
    PlanPhase,
    TimeUnit,
    UsageType,
)


def java_date(dt: datetime) -> str:
    """Java's ``Date.toString()`` on a UTC server: ``Fri Feb 08 00:00:00 GMT 2013``."""
    return dt.strftime("%a %b %d %H:%M:%S GMT %Y")


def _plan_path(plan: Plan) -> str:
    return f"catalog/plans/plan[@name='{plan.name}']"


def _phase_path(plan: Plan, index: int) -> str:
    if index < len(plan.initial_phases):
        return f"{_plan_path(plan)}/initialPhases/phase[{index + 1}]"
    return f"{_plan_path(plan)}/finalPhase"


def _case_dump(kind: str, case: Any) -> str:
    parts = []
    for f in case.__dataclass_fields__:
        v = getattr(case, f)
        parts.append(f"{_camel(f)}={'null' if v is None else getattr(v, 'value', v)}")
    return f"{kind} {{{', '.join(parts)}}}"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(r.title() for r in rest)


def _validate_limits(limits: tuple[Limit, ...], path: str, errors: list[ValidationMessage]) -> None:
    for i, lim in enumerate(limits):
        if lim.max != MINUS_ONE and lim.min != MINUS_ONE and lim.max < lim.min:
            errors.append(ValidationMessage(f"{path}/limits/limit[{i + 1}]", "max must be greater than min"))


def _validate_phase(
    version: CatalogVersion, plan: Plan, phase: PlanPhase, path: str, errors: list[ValidationMessage]
) -> None:
    t = phase.type.value
    if phase.fixed is None and phase.recurring is None and not phase.usages:
        errors.append(
            ValidationMessage(
                path,
                f"Phase {t} of plan {plan.name} need to define at least either a fixed or recurrring "
                "or usage "
                "section.",
            )
        )
    rec = phase.recurring
    if rec is not None:
        rpath = f"{path}/recurring"
        if rec.price is not None:
            for i, price in enumerate(rec.price.prices):
                ppath = f"{rpath}/recurringPrice/price[{i + 1}]"
                if price.currency not in version.currency_set:
                    errors.append(ValidationMessage(ppath, f"Unsupported currency: {price.currency}"))
                if price.value is not None and price.value < 0:
                    errors.append(
                        ValidationMessage(ppath, f"Negative value for price in currency: {price.currency}")
                    )
            if rec.billing_period is BillingPeriod.NO_BILLING_PERIOD:
                errors.append(
                    ValidationMessage(
                        rpath,
                        f"Recurring section of Phase {t} of plan {plan.name} has a recurring price but no "
                        "billing period",
                    )
                )
        elif rec.billing_period is not BillingPeriod.NO_BILLING_PERIOD:
            errors.append(
                ValidationMessage(
                    rpath,
                    f"Recurring section of Phase {t} of plan {plan.name} has no recurring price "
                    "but does have a "
                    "billing period. The billing period should be set to 'NO_BILLING_PERIOD'",
                )
            )
    d = phase.duration
    if d.unit is TimeUnit.UNLIMITED and d.number != -1:
        errors.append(
            ValidationMessage(
                f"{path}/duration", "Duration can only have 'UNLIMITED' unit if the number is omitted"
            )
        )
    elif d.unit is not TimeUnit.UNLIMITED and d.number == -1:
        errors.append(
            ValidationMessage(f"{path}/duration", "Finite Duration must have a well defined length")
        )
    for i, u in enumerate(phase.usages):
        upath = f"{path}/usages/usage[{i + 1}]"
        if u.billing_mode is BillingMode.IN_ADVANCE and u.usage_type is UsageType.CAPACITY and not u.limits:
            errors.append(
                ValidationMessage(
                    upath,
                    f"Usage [IN_ADVANCE CAPACITY] section of phase {phase.name} needs to define some limits",
                )
            )
        if u.billing_mode is BillingMode.IN_ADVANCE and u.usage_type is UsageType.CONSUMABLE and not u.blocks:
            errors.append(
                ValidationMessage(
                    upath,
                    f"Usage [IN_ADVANCE CONSUMABLE] section of phase {phase.name} "
                    "needs to define some blocks",
                )
            )
        if u.billing_mode is BillingMode.IN_ARREAR and not u.tiers:
            errors.append(
                ValidationMessage(
                    upath, f"Usage [IN_ARREAR] section of phase {phase.name} needs to define some tiers"
                )
            )
        _validate_limits(u.limits, upath, errors)
        for j, tier in enumerate(u.tiers):
            _validate_limits(tier.limits, f"{upath}/tiers/tier[{j + 1}]", errors)


def validate_version(
    version: CatalogVersion, *, ignore_self_referencing_products: bool = False
) -> list[ValidationMessage]:
    """Every validation error of one version, in Kill Bill's order (empty list = valid)."""
    errors: list[ValidationMessage] = []
    # 1. products (sorted by name)
    for p in version.products:
        path = f"catalog/products/product[@name='{p.name}']"
        if not ignore_self_referencing_products:
            if p.name in p.included:
                errors.append(
                    ValidationMessage(f"{path}/included", "Product refers to itself in included section")
                )
            if p.name in p.available:
                errors.append(
                    ValidationMessage(f"{path}/available", "Product refers to itself in available section")
                )
    # 2. plans (sorted by name)
    for plan in version.plans:
        path = _plan_path(plan)
        eff = plan.effective_date_for_existing_subscriptions
        if eff is not None and version.effective_date > eff:
            errors.append(
                ValidationMessage(
                    f"{path}/effectiveDateForExistingSubscriptions",
                    f"Price effective date {java_date(eff)} is before catalog effective date "
                    f"'{java_date(version.effective_date)}'",
                )
            )
        if (
            plan.recurring_billing_period is not BillingPeriod.NO_BILLING_PERIOD
            and plan.recurring_billing_mode is None
        ):
            errors.append(ValidationMessage(path, f"Invalid recurring billingMode for plan '{plan.name}'"))
        if plan.product not in version.products_by_name:
            errors.append(ValidationMessage(f"{path}/product", f"Invalid product for plan '{plan.name}'"))
        for i, ph in enumerate(plan.initial_phases):
            ppath = _phase_path(plan, i)
            _validate_phase(version, plan, ph, ppath, errors)
            if ph.type is PhaseType.EVERGREEN:
                errors.append(
                    ValidationMessage(
                        ppath,
                        f"Initial Phase {ph.name} of plan {plan.name} cannot be of type {ph.type.value}",
                    )
                )
        fp = plan.final_phase
        fpath = f"{path}/finalPhase"
        _validate_phase(version, plan, fp, fpath, errors)
        if fp.type in (PhaseType.TRIAL, PhaseType.DISCOUNT):
            errors.append(
                ValidationMessage(
                    fpath, f"Final Phase {fp.name} of plan {plan.name} cannot be of type {fp.type.value}"
                )
            )
    # 3. price lists
    for i, pl in enumerate(version.child_price_lists):
        if pl.name == DEFAULT_PRICE_LIST_NAME:
            errors.append(
                ValidationMessage(
                    f"catalog/priceLists/childPriceList[{i + 1}]",
                    f"Pricelists cannot use the reserved name '{DEFAULT_PRICE_LIST_NAME}'",
                )
            )
    # 4. rules
    r = version.rules
    rp = "catalog/rules"
    seen: set[Any] = set()
    catch_all = False
    for i, c in enumerate(r.change_policy):
        if c in seen:
            errors.append(
                ValidationMessage(
                    f"{rp}/changePolicy/changePolicyCase[{i + 1}]",
                    f"Duplicate rule for change plan {_case_dump('DefaultCaseChangePlanPolicy', c)}",
                )
            )
        seen.add(c)
        catch_all = catch_all or c.is_catch_all()
    if not catch_all:
        errors.append(ValidationMessage(f"{rp}/changePolicy", "Missing default rule case for plan change"))
    seen = set()
    catch_all = False
    for i, cc in enumerate(r.cancel_policy):
        cpath = f"{rp}/cancelPolicy/cancelPolicyCase[{i + 1}]"
        if cc in seen:
            errors.append(
                ValidationMessage(
                    cpath, f"Duplicate rule for plan cancellation {_case_dump('DefaultCaseCancelPolicy', cc)}"
                )
            )
        seen.add(cc)
        if cc.policy is BillingActionPolicy.START_OF_TERM:
            errors.append(
                ValidationMessage(
                    cpath,
                    "Default catalog START_OF_TERM has not been implemented, such policy can be used during "
                    "cancellation by overriding policy",
                )
            )
        catch_all = catch_all or cc.is_catch_all()
    if not catch_all:
        errors.append(
            ValidationMessage(f"{rp}/cancelPolicy", "Missing default rule case for plan cancellation")
        )
    for wrapper, case_tag, cases, label, kind in (
        (
            "changeAlignment",
            "changeAlignmentCase",
            r.change_alignment,
            "plan change alignment",
            "DefaultCaseChangePlanAlignment",
        ),
        (
            "createAlignment",
            "createAlignmentCase",
            r.create_alignment,
            "create plan alignment",
            "DefaultCaseCreateAlignment",
        ),
        (
            "billingAlignment",
            "billingAlignmentCase",
            r.billing_alignment,
            "billing alignment",
            "DefaultCaseBillingAlignment",
        ),
        ("priceList", "priceListCase", r.price_list, "price list transition", "DefaultCasePriceList"),
    ):
        seen = set()
        for i, case in enumerate(cases):  # type: ignore[attr-defined]
            if case in seen:
                errors.append(
                    ValidationMessage(
                        f"{rp}/{wrapper}/{case_tag}[{i + 1}]",
                        f"Duplicate rule for {label} {_case_dump(kind, case)}",
                    )
                )
            seen.add(case)
    # 5. phase durations per type
    when = java_date(version.effective_date)
    for plan in version.plans:
        for i, ph in enumerate(plan.all_phases):
            if ph.type is PhaseType.EVERGREEN and ph.duration.unit is not TimeUnit.UNLIMITED:
                errors.append(
                    ValidationMessage(
                        f"{_phase_path(plan, i)}/duration",
                        f"EVERGREEN Phase '{ph.name}' for plan '{plan.name}' in version '{when}' must have "
                        "duration as UNLIMITED'",
                    )
                )
            elif ph.type is not PhaseType.EVERGREEN and ph.duration.unit is TimeUnit.UNLIMITED:
                errors.append(
                    ValidationMessage(
                        f"{_phase_path(plan, i)}/duration",
                        f"'{ph.type.value}' Phase '{ph.name}' for plan '{plan.name}' "
                        f"in version '{when}' must not "
                        "have duration as UNLIMITED'",
                    )
                )
    return errors


def lint_version(version: CatalogVersion) -> list[ValidationMessage]:
    """Warnings Kill Bill does not treat as errors (the catalog still loads).

    Today: a recurring or fixed price that lists some currencies but not every
    currency the catalog declares -- subscriptions in the missing currency fail at
    billing time with ``CAT_NO_PRICE_FOR_CURRENCY``.
    """
    warnings: list[ValidationMessage] = []
    declared = version.currencies
    for plan in version.plans:
        for i, ph in enumerate(plan.all_phases):
            path = _phase_path(plan, i)
            sections = (
                ("recurring/recurringPrice", ph.recurring.price if ph.recurring else None),
                ("fixed/fixedPrice", ph.fixed.price if ph.fixed else None),
            )
            for where, price in sections:
                if price is None or not price.prices:
                    continue
                listed = set(price.currencies())
                for cur in declared:
                    if cur not in listed:
                        warnings.append(
                            ValidationMessage(
                                f"{path}/{where}",
                                f"no price for declared currency {cur} in phase {ph.name}",
                            )
                        )
    return warnings


def validate_catalog(
    catalog: Catalog | list[CatalogVersion] | tuple[CatalogVersion, ...],
) -> list[ValidationMessage]:
    """Kill Bill's versioned validation: every version, duplicate dates, names, and plan shapes."""
    versions = list(catalog.versions if isinstance(catalog, Catalog) else catalog)
    errors: list[ValidationMessage] = []
    first_name = versions[0].name if versions else None
    dates: set[datetime] = set()
    for v in versions:
        vpath = f"catalog[effectiveDate={v.effective_date.isoformat()}]"
        if v.effective_date in dates:
            errors.append(
                ValidationMessage(
                    vpath,
                    f"Catalog effective date '{java_date(v.effective_date)}' "
                    "already exists for a previous version",
                )
            )
        dates.add(v.effective_date)
        if v.name != first_name:
            errors.append(
                ValidationMessage(vpath, f"Catalog name '{v.name}' is not consistent across versions ")
            )
        for e in validate_version(v):
            errors.append(ValidationMessage(f"{vpath}/{e.path}" if e.path else vpath, e.description))
    for i, v in enumerate(versions):
        for plan in v.plans:
            for nxt in versions[i + 1 :]:
                target = nxt.plans_by_name.get(plan.name)
                if target is None:
                    continue
                a, b = plan.all_phases, target.all_phases
                path = (
                    f"catalog[effectiveDate={v.effective_date.isoformat()}]/plans/plan[@name='{plan.name}']"
                )
                if len(a) != len(b):
                    errors.append(
                        ValidationMessage(
                            path,
                            f"Number of phases for plan '{plan.name}' differs between version "
                            f"'{java_date(v.effective_date)}' and '{java_date(nxt.effective_date)}'",
                        )
                    )
                    continue
                for pa, pb in zip(a, b, strict=True):
                    if pa.name != pb.name:
                        errors.append(
                            ValidationMessage(
                                path,
                                f"Phase '{pa.name}'for plan '{plan.name}' "
                                f"in version '{java_date(v.effective_date)}' "
                                f"does not exist in version '{java_date(nxt.effective_date)}'",
                            )
                        )
    return errors
