"""Kill Bill's catalog JSON (``CatalogJson``, ``PlanDetailJson``...) as plain dicts.

Field names and order follow Kill Bill's Jackson output.  Money values are left
as :class:`decimal.Decimal` (the REST layer's encoder writes them as JSON
numbers, unrounded, as Kill Bill does for catalog prices); a nil price value is
``None``.  ``effectiveDate`` of a version is a ``java.util.Date`` in Kill Bill,
written ``2013-02-08T00:00:00.000+00:00``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from billow.catalog.engine import PlanDetail, available_addons, available_base_plans
from billow.catalog.model import (
    Catalog,
    CatalogVersion,
    InternationalPrice,
    Limit,
    Plan,
    PlanPhase,
    Price,
    PriceList,
    Product,
    Usage,
)
from billow.catalog.xml import fmt_decimal
from billow.core.clock import utc


def java_date_json(dt: datetime) -> str:
    """A ``java.util.Date`` as Kill Bill's Jackson writes it: ``2013-02-08T00:00:00.000+00:00``."""
    dt = utc(dt)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+00:00"


def datetime_json(dt: datetime) -> str:
    """A Joda ``DateTime`` in UTC with millis, ``2013-02-08T00:00:00.000Z`` (``/catalog/versions``)."""
    dt = utc(dt)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def price_json(price: Price) -> dict[str, Any]:
    return {"currency": price.currency, "value": price.value}


def _prices(ip: InternationalPrice | None) -> list[dict[str, Any]]:
    return [price_json(p) for p in ip.prices] if ip is not None else []


def _limit(lim: Limit) -> dict[str, Any]:
    return {"unit": lim.unit, "max": fmt_decimal(lim.max), "min": fmt_decimal(lim.min)}


def usage_json(usage: Usage) -> dict[str, Any]:
    tiers = []
    for t in usage.tiers:
        tiers.append(
            {
                "blocks": [
                    {
                        "unit": b.unit,
                        "size": fmt_decimal(b.size),
                        "max": fmt_decimal(b.max),
                        "prices": _prices(b.prices),
                    }
                    for b in t.blocks
                ],
                "limits": [_limit(lim) for lim in t.limits],
                "fixedPrice": _prices(t.fixed_price),
                "recurringPrice": _prices(t.recurring_price),
            }
        )
    return {"billingPeriod": usage.billing_period.value, "tiers": tiers}


def phase_json(phase: PlanPhase) -> dict[str, Any]:
    """Kill Bill's ``PhaseJson``: recurring ``prices``, ``fixedPrices``, ``duration``, ``usages``."""
    return {
        "type": phase.type.value,
        "prices": _prices(phase.recurring.price if phase.recurring else None),
        "fixedPrices": _prices(phase.fixed.price if phase.fixed else None),
        "duration": {"unit": phase.duration.unit.value, "number": phase.duration.number},
        "usages": [usage_json(u) for u in phase.usages],
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    """Kill Bill's ``PlanJson``."""
    return {
        "name": plan.name,
        "prettyName": plan.pretty_name,
        "recurringBillingMode": plan.recurring_billing_mode.value if plan.recurring_billing_mode else None,
        "billingPeriod": plan.recurring_billing_period.value,
        "phases": [phase_json(ph) for ph in plan.all_phases],
    }


def product_json(product: Product, plans: list[Plan] | None = None) -> dict[str, Any]:
    """Kill Bill's ``ProductJson`` (with the product's plans when given)."""
    return {
        "type": product.category.value,
        "name": product.name,
        "prettyName": product.pretty_name,
        "plans": [plan_json(p) for p in plans or ()],
        "included": list(product.included),
        "available": list(product.available),
    }


def price_list_json(price_list: PriceList) -> dict[str, Any]:
    """Kill Bill's ``PriceListJson``."""
    return {"name": price_list.name, "plans": list(price_list.plans)}


def version_json(version: CatalogVersion) -> dict[str, Any]:
    """Kill Bill's ``CatalogJson`` of one version.

    Products appear in plan order (each with its plans), then the products that
    have no plan; Kill Bill's own order comes from a HashMap and is unspecified.
    """
    by_product: dict[str, list[Plan]] = {}
    for plan in version.plans:
        if plan.product in version.products_by_name:
            by_product.setdefault(plan.product, []).append(plan)
    products = [product_json(version.products_by_name[name], plans) for name, plans in by_product.items()]
    products.extend(product_json(p, []) for p in version.products if p.name not in by_product)
    return {
        "name": version.name,
        "effectiveDate": java_date_json(version.effective_date),
        "currencies": list(version.currencies),
        "units": [{"name": u.name, "prettyName": u.pretty_name} for u in version.units],
        "products": products,
        "priceLists": [price_list_json(pl) for pl in version.price_lists],
    }


def catalog_json(versions: Iterable[CatalogVersion]) -> list[dict[str, Any]]:
    """``GET /1.0/kb/catalog``: one ``CatalogJson`` per version (every version, or the one in force at the
    requested date: `CatalogService.versions_at`)."""
    return [version_json(v) for v in versions]


def versions_json(catalog: Catalog) -> list[str]:
    """``GET /1.0/kb/catalog/versions``: effective dates as ISO datetimes."""
    return [datetime_json(v.effective_date) for v in catalog.versions]


def plan_detail_json(detail: PlanDetail) -> dict[str, Any]:
    """Kill Bill's ``PlanDetailJson``; a nil recurring price reads as 0, as Kill Bill does."""
    return {
        "product": detail.product,
        "plan": detail.plan,
        "priceList": detail.price_list,
        "finalPhaseBillingPeriod": detail.final_phase_billing_period.value,
        "finalPhaseRecurringPrice": [
            {"currency": p.currency, "value": p.value if p.value is not None else Decimal(0)}
            for p in detail.final_phase_recurring_price
        ],
    }


def available_base_plans_json(version: CatalogVersion) -> list[dict[str, Any]]:
    """``GET /1.0/kb/catalog/availableBasePlans``."""
    return [plan_detail_json(d) for d in available_base_plans(version)]


def available_addons_json(
    version: CatalogVersion, base_product_name: str, price_list_name: str | None = None
) -> list[dict[str, Any]]:
    """``GET /1.0/kb/catalog/availableAddons?baseProductName=&priceListName=``."""
    return [plan_detail_json(d) for d in available_addons(version, base_product_name, price_list_name)]


def validation_json(descriptions: list[str]) -> dict[str, Any]:
    """``POST /1.0/kb/catalog/xml/validate`` body (``CatalogValidationJson``)."""
    return {"catalogValidationErrors": [{"errorDescription": d} for d in descriptions]}
