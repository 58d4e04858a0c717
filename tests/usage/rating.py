"""Helpers of the rater's unit tests: billing events carrying usage sections, raw records, and a runner that
bills successive targets the way invoice runs do (each run's items become billed items of the next)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from billow.catalog.model import (
    BillingAlignment,
    BillingMode,
    BillingPeriod,
    CatalogVersion,
    InternationalPrice,
    Limit,
    PhaseType,
    Price,
    ProductCategory,
    Tier,
    TierBlockPolicy,
    TieredBlock,
    Usage,
    UsageType,
)
from billow.catalog.xml import load_version_xml
from billow.core.account_time import AccountTime
from billow.junction.model import BillingEvent, BillingTransitionType
from billow.usage.model import BilledUsage, RatedUsage, RatingResult, RatingSettings, RawUsage
from billow.usage.rater import rate_usage
from tests.conftest import SHARED

T = BillingTransitionType
REFERENCE = SHARED / "reference" / "catalogs"
V1 = datetime(2011, 1, 1, tzinfo=UTC)
_ids = itertools.count(1)


def reference(relative: str) -> CatalogVersion:
    """One of Kill Bill's reference catalogs, loaded as it is (a visible skip without ../shared)."""
    path = REFERENCE / relative
    if not path.is_file():
        pytest.skip(f"Kill Bill reference catalogs not found at {path} (expected ../shared next to the project)")
    return load_version_xml(path.read_bytes())


def section(version: CatalogVersion, name: str) -> tuple[str, str, Usage]:
    """(plan, phase, usage) of the usage section `name`."""
    for plan in version.plans:
        for phase in plan.all_phases:
            for u in phase.usages:
                if u.name == name:
                    return plan.name, phase.name, u
    raise KeyError(name)


def at(day: str, hh: int = 0, mm: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hh, mm), tzinfo=UTC)


def d(day: str) -> date:
    return date.fromisoformat(day)


def usd(value: str, currency: str = "USD") -> InternationalPrice:
    return InternationalPrice((Price(currency, Decimal(value)),))


def consumable(name: str, *tiers: tuple[str, str, str, str], policy: TierBlockPolicy = TierBlockPolicy.ALL_TIERS,
               period: BillingPeriod = BillingPeriod.MONTHLY, currency: str = "USD") -> Usage:
    """An IN_ARREAR CONSUMABLE section; each tier (unit, size, price, max) with one block."""
    return Usage(name, name, BillingMode.IN_ARREAR, UsageType.CONSUMABLE, period, policy,
                 tiers=tuple(Tier(blocks=(TieredBlock(u, Decimal(size), usd(price, currency), Decimal(mx)),))
                             for u, size, price, mx in tiers))


def capacity(name: str, *tiers: tuple[dict[str, str], str], period: BillingPeriod = BillingPeriod.MONTHLY) -> Usage:
    """An IN_ARREAR CAPACITY section; each tier ({unit: max}, price)."""
    return Usage(name, name, BillingMode.IN_ARREAR, UsageType.CAPACITY, period,
                 tiers=tuple(Tier(limits=tuple(Limit(u, Decimal(m)) for u, m in limits.items()),
                                  recurring_price=usd(price)) for limits, price in tiers))


def event(when: datetime, *usages: Usage, transition: T = T.CREATE, sub: str = "sub-1", plan: str = "plan",
          phase: str | None = None, bcd: int = 1, catalog: datetime = V1, currency: str = "USD",
          ordering: int = 0) -> BillingEvent:
    if transition.ends_billing:
        usages = ()
    return BillingEvent(
        subscription_id=sub, bundle_id=f"bundle-of-{sub}", effective_date=when, transition_type=transition,
        product_name=plan.split("-")[0], product_category=ProductCategory.ADD_ON, plan_name=plan,
        phase_name=phase or f"{plan}-evergreen", phase_type=PhaseType.EVERGREEN,
        billing_period=BillingPeriod.NO_BILLING_PERIOD, billing_mode=BillingMode.IN_ADVANCE, fixed_price=None,
        recurring_price=None, currency=currency, bill_cycle_day_local=bcd, billing_alignment=BillingAlignment.ACCOUNT,
        catalog_effective_date=catalog, usages=usages, total_ordering=ordering)


def rec(when: datetime | str, unit: str, amount: str | int, tracking: str = "t", sub: str = "sub-1") -> RawUsage:
    instant = when if isinstance(when, datetime) else at(when)
    return RawUsage(sub, unit, instant, Decimal(amount), tracking)


def as_billed(item: RatedUsage) -> BilledUsage:
    return BilledUsage(id=f"item-{next(_ids)}", subscription_id=item.subscription_id, usage_name=item.usage_name,
                       start_date=item.start_date, end_date=item.end_date, amount=item.amount, rate=item.rate,
                       quantity=item.quantity, item_details=item.item_details)


def rate(events: Sequence[BillingEvent], records: Sequence[RawUsage], target: str, *,
         billed: Sequence[BilledUsage] = (), settings: RatingSettings | None = None, currency: str = "USD",
         account_time: AccountTime | None = None, now: datetime | None = None, dry_run: bool = False
         ) -> RatingResult:
    tgt = d(target)
    return rate_usage(sorted(events, key=BillingEvent.sort_key), billed, records, target=tgt,
                      time=account_time or AccountTime("UTC", at("2011-01-01")), currency=currency,
                      settings=settings or RatingSettings(), now=now or datetime.combine(tgt, time(12), tzinfo=UTC),
                      dry_run=dry_run)


def summary(items: Sequence[RatedUsage]) -> list[tuple[str, date, date, Decimal]]:
    return [(it.usage_name, it.start_date, it.end_date, it.amount) for it in items]


@dataclass
class Runner:
    """Successive runs: the items of each become billed items; records can be added between runs."""

    events: list[BillingEvent]
    records: list[RawUsage] = field(default_factory=list)
    settings: RatingSettings | None = None
    currency: str = "USD"
    billed: list[BilledUsage] = field(default_factory=list)

    def at(self, target: str) -> list[RatedUsage]:
        result = rate(self.events, self.records, target, billed=self.billed, settings=self.settings,
                      currency=self.currency)
        self.billed.extend(as_billed(it) for it in result.items)
        return list(result.items)

    def void_last(self, count: int) -> None:
        del self.billed[-count:]

    def with_settings(self, **kw: object) -> Runner:
        return replace(self, settings=replace(self.settings or RatingSettings(), **kw))  # type: ignore[arg-type]
