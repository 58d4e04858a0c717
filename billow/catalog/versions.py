"""Catalog versions: upload (add a version), and which version applies to what.

* :func:`add_version` -- Kill Bill's tenant upload: name check, then the new
  document joins a copy of the existing versions and the whole set is validated.
* ``Catalog.version_for_date`` -- a new subscription or a plan change resolves its
  plan in the version in effect at the operation date (latest version whose
  effective date <= date; the first version when the date precedes them all).
* :func:`plan_for_subscription` -- an *existing* subscription keeps the version
  under which its plan was chosen (grandfathering), unless a newer version of the
  plan declares ``effectiveDateForExistingSubscriptions`` <= the requested date
  (Kill Bill's ``SubscriptionCatalog.findCatalogPlanEntry``).
* :func:`next_plan_version` / :func:`price_change_dates` -- where existing
  subscriptions switch to a newer version's prices (the synthetic CHANGE events).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billow.catalog.engine import PlanSpecifier, create_or_find_plan
from billow.catalog.errors import CatalogApiError, CatalogValidationError, ErrorCode, ValidationMessage
from billow.catalog.model import Catalog, CatalogVersion, Plan
from billow.catalog.validation import validate_catalog
from billow.core.clock import utc


def add_version(catalog: Catalog | None, version: CatalogVersion) -> Catalog:
    """The tenant's catalog with ``version`` added, validated as Kill Bill's upload does.

    Template (empty placeholder) versions of the existing catalog are dropped first,
    as Kill Bill filters them.  A different ``catalogName`` is the only error then
    reported; otherwise every version is validated again plus the multi-version
    checks (duplicate effective date, plan shapes).  Raises
    :class:`CatalogValidationError` with every message.
    """
    existing = Catalog.of(catalog.versions if catalog else (), drop_templates=True)
    if existing.name is not None and existing.name and version.name != existing.name:
        raise CatalogValidationError(
            [
                ValidationMessage(
                    "catalog/catalogName",
                    f"Catalog name '{version.name}' is different from existing catalog name "
                    f"'{existing.name}'",
                )
            ]
        )
    candidate = existing.add(version)
    errors = validate_catalog(candidate)
    if errors:
        raise CatalogValidationError(errors)
    return candidate


def versions_up_to(catalog: Catalog, when: datetime) -> tuple[CatalogVersion, ...]:
    """Versions whose effective date <= that of the version in effect at ``when`` (Kill Bill's
    ``versionsBeforeDate``; the first version alone when ``when`` precedes them all)."""
    latest = catalog.version_for_date(when)
    return tuple(v for v in catalog.versions if v.effective_date <= latest.effective_date)


@dataclass(frozen=True, slots=True)
class PlanEntry:
    version: CatalogVersion
    plan: Plan


def plan_for_subscription(
    catalog: Catalog,
    spec: PlanSpecifier | str,
    requested_date: datetime,
    last_change_date: datetime,
) -> PlanEntry:
    """Version and plan for an existing subscription at ``requested_date``.

    ``last_change_date`` is the date of the subscription's last CREATE/CHANGE.
    Versions <= the requested date are searched newest first, skipping those that
    lack the plan (retired plans keep working); a version is taken as soon as it
    is the oldest or effective on/before ``last_change_date``; a newer version is
    taken only if its plan has ``effectiveDateForExistingSubscriptions`` <=
    ``requested_date``; else the most recent newer version without that element is
    used; none -> ``CAT_PLAN_NOT_FOUND``.
    """
    if isinstance(spec, str):
        spec = PlanSpecifier(plan_name=spec)
    requested = utc(requested_date)
    changed = utc(last_change_date)
    if not catalog.versions:
        raise CatalogApiError(ErrorCode.CAT_NO_CATALOG_FOR_GIVEN_DATE, requested.isoformat())
    candidates = versions_up_to(catalog, requested)
    fallback: PlanEntry | None = None
    for i in range(len(candidates) - 1, -1, -1):
        v = candidates[i]
        try:
            plan = create_or_find_plan(v, spec)
        except CatalogApiError as e:
            if e.error in (ErrorCode.CAT_NO_SUCH_PLAN, ErrorCode.CAT_PLAN_NOT_FOUND):
                continue
            raise
        if i == 0 or changed >= v.effective_date:
            return PlanEntry(v, plan)
        eff = plan.effective_date_for_existing_subscriptions
        if eff is not None:
            if requested >= eff:
                return PlanEntry(v, plan)
        elif fallback is None:
            fallback = PlanEntry(v, plan)
    if fallback is not None:
        return fallback
    raise CatalogApiError(
        ErrorCode.CAT_PLAN_NOT_FOUND,
        spec.plan_name,
        spec.product_name,
        spec.billing_period.value if spec.billing_period else None,
        spec.price_list_name,
    )


def plan_for_new_subscription(
    catalog: Catalog, spec: PlanSpecifier | str, when: datetime
) -> PlanEntry:
    """Version in effect at ``when`` and the plan found in it (retired plans cannot be bought)."""
    if isinstance(spec, str):
        spec = PlanSpecifier(plan_name=spec)
    v = catalog.version_for_date(when)
    return PlanEntry(v, create_or_find_plan(v, spec))


def next_plan_version(catalog: Catalog, version: CatalogVersion, plan_name: str) -> PlanEntry | None:
    """The same plan in the version right after ``version`` (Kill Bill's ``getNextPlanVersion``)."""
    idx = None
    for i, v in enumerate(catalog.versions):
        if v.effective_date == version.effective_date:
            idx = i
            break
    if idx is None or idx + 1 >= len(catalog.versions):
        return None
    nxt = catalog.versions[idx + 1]
    plan = nxt.plans_by_name.get(plan_name)
    return PlanEntry(nxt, plan) if plan is not None else None


def price_change_dates(
    catalog: Catalog, version: CatalogVersion, plan_name: str
) -> list[tuple[datetime, PlanEntry]]:
    """Newer versions of ``plan_name`` that apply to existing subscriptions, with the date they do.

    Each newer copy of the plan that
    declares ``effectiveDateForExistingSubscriptions`` yields ``(that date, entry)``.
    The subscription layer turns these into synthetic CHANGE billing events.
    """
    out: list[tuple[datetime, PlanEntry]] = []
    for v in catalog.versions:
        if v.effective_date <= version.effective_date:
            continue
        plan = v.plans_by_name.get(plan_name)
        if plan is not None and plan.effective_date_for_existing_subscriptions is not None:
            out.append((plan.effective_date_for_existing_subscriptions, PlanEntry(v, plan)))
    return out
