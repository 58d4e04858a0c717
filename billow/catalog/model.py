"""Catalog model: plain immutable dataclasses and enums, no I/O.

Mirrors Kill Bill's catalog (``StandaloneCatalog`` = :class:`CatalogVersion`,
``DefaultVersionedCatalog`` = :class:`Catalog`).  Objects are built by the loaders
(:mod:`billow.catalog.xml`, :mod:`billow.catalog.yaml_json`) through
:mod:`billow.catalog.builder`, which fills Kill Bill's defaults, so every field
here holds the *effective* value:

* ``-1`` is Kill Bill's "not set" sentinel for ``Duration.number``,
  ``Plan.plans_allowed_in_bundle``, ``Limit.max``/``min`` and
  ``Block.min_top_up_credit``;
* pretty names default to the name, phase names are ``<plan>-<type lower>``;
* products, plans, a price list's plans and a product's included/available lists
  are sorted by name in Java string order (UTF-16 code units), every other list
  keeps document order.

Money is :class:`decimal.Decimal`.  Instants are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from dateutil.relativedelta import relativedelta

from billow.catalog.errors import CatalogApiError, ErrorCode
from billow.core.clock import utc

MINUS_ONE = Decimal(-1)
DEFAULT_PRICE_LIST_NAME = "DEFAULT"

# Kill Bill's Currency enum (ISO 4217 codes as of Kill Bill 0.24, plus BTC).
_CURRENCY_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYR "
    "BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL "
    "GGP GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS IMP INR IQD IRR ISK JEP JMD JOD JPY KES "
    "KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LTL LVL LYD MAD MDL MGA MKD MMK MNT MOP MRO "
    "MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB "
    "RWF SAR SBD SCR SDG SEK SGD SHP SLL SOS SPL SRD STD SVC SYP SZL THB TJS TMT TND TOP TRY TTD TVD "
    "TWD TZS UAH UGX USD UYU UZS VEF VND VUV WST XAF XCD XDR XOF XPF YER ZAR ZMW ZWD BTC"
)
CURRENCIES: frozenset[str] = frozenset(_CURRENCY_CODES.split())


def java_sort_key(name: str) -> bytes:
    """Sort key giving Java's ``String.compareTo`` order (UTF-16 code units)."""
    return name.encode("utf-16-be", "surrogatepass")


# --------------------------------------------------------------------------- enums


class TimeUnit(StrEnum):
    DAYS = "DAYS"
    WEEKS = "WEEKS"
    MONTHS = "MONTHS"
    YEARS = "YEARS"
    UNLIMITED = "UNLIMITED"


class BillingPeriod(StrEnum):
    """Kill Bill's ``BillingPeriod``; :attr:`period` is ``(TimeUnit, count)``."""

    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    BIWEEKLY = "BIWEEKLY"
    THIRTY_DAYS = "THIRTY_DAYS"
    THIRTY_ONE_DAYS = "THIRTY_ONE_DAYS"
    SIXTY_DAYS = "SIXTY_DAYS"
    NINETY_DAYS = "NINETY_DAYS"
    MONTHLY = "MONTHLY"
    BIMESTRIAL = "BIMESTRIAL"
    QUARTERLY = "QUARTERLY"
    TRIANNUAL = "TRIANNUAL"
    BIANNUAL = "BIANNUAL"
    ANNUAL = "ANNUAL"
    SESQUIENNIAL = "SESQUIENNIAL"
    BIENNIAL = "BIENNIAL"
    TRIENNIAL = "TRIENNIAL"
    NO_BILLING_PERIOD = "NO_BILLING_PERIOD"

    @property
    def period(self) -> tuple[TimeUnit, int]:
        return _PERIODS[self]

    @property
    def is_month_based(self) -> bool:
        """True for month/year-based periods (the ones aligned to a bill cycle day)."""
        return _PERIODS[self][0] in (TimeUnit.MONTHS, TimeUnit.YEARS)

    @property
    def months(self) -> int | None:
        """Length in months for month/year-based periods, else None."""
        unit, n = _PERIODS[self]
        if unit is TimeUnit.MONTHS:
            return n
        if unit is TimeUnit.YEARS:
            return 12 * n
        return None

    @property
    def days(self) -> int | None:
        """Length in days for day/week-based periods, else None (0 for NO_BILLING_PERIOD)."""
        unit, n = _PERIODS[self]
        if unit is TimeUnit.DAYS:
            return n
        if unit is TimeUnit.WEEKS:
            return 7 * n
        if self is BillingPeriod.NO_BILLING_PERIOD:
            return 0
        return None

    def add_to(self, when: date, count: int = 1) -> date:
        """``when`` plus ``count`` periods, with Joda's month-end clamping (works on datetimes too)."""
        unit, n = _PERIODS[self]
        return _add(when, unit, n * count)


_PERIODS: dict[BillingPeriod, tuple[TimeUnit, int]] = {
    BillingPeriod.DAILY: (TimeUnit.DAYS, 1),
    BillingPeriod.WEEKLY: (TimeUnit.WEEKS, 1),
    BillingPeriod.BIWEEKLY: (TimeUnit.WEEKS, 2),
    BillingPeriod.THIRTY_DAYS: (TimeUnit.DAYS, 30),
    BillingPeriod.THIRTY_ONE_DAYS: (TimeUnit.DAYS, 31),
    BillingPeriod.SIXTY_DAYS: (TimeUnit.DAYS, 60),
    BillingPeriod.NINETY_DAYS: (TimeUnit.DAYS, 90),
    BillingPeriod.MONTHLY: (TimeUnit.MONTHS, 1),
    BillingPeriod.BIMESTRIAL: (TimeUnit.MONTHS, 2),
    BillingPeriod.QUARTERLY: (TimeUnit.MONTHS, 3),
    BillingPeriod.TRIANNUAL: (TimeUnit.MONTHS, 4),
    BillingPeriod.BIANNUAL: (TimeUnit.MONTHS, 6),
    BillingPeriod.ANNUAL: (TimeUnit.YEARS, 1),
    BillingPeriod.SESQUIENNIAL: (TimeUnit.MONTHS, 18),
    BillingPeriod.BIENNIAL: (TimeUnit.YEARS, 2),
    BillingPeriod.TRIENNIAL: (TimeUnit.YEARS, 3),
    BillingPeriod.NO_BILLING_PERIOD: (TimeUnit.UNLIMITED, 0),
}


def _add(when: Any, unit: TimeUnit, n: int) -> Any:
    if unit is TimeUnit.DAYS:
        return when + relativedelta(days=n)
    if unit is TimeUnit.WEEKS:
        return when + relativedelta(weeks=n)
    if unit is TimeUnit.MONTHS:
        return when + relativedelta(months=n)
    if unit is TimeUnit.YEARS:
        return when + relativedelta(years=n)
    raise CatalogApiError(ErrorCode.CAT_UNDEFINED_DURATION, unit.value)


class PhaseType(StrEnum):
    TRIAL = "TRIAL"
    DISCOUNT = "DISCOUNT"
    FIXEDTERM = "FIXEDTERM"
    EVERGREEN = "EVERGREEN"


class ProductCategory(StrEnum):
    BASE = "BASE"
    ADD_ON = "ADD_ON"
    STANDALONE = "STANDALONE"


class BillingMode(StrEnum):
    IN_ADVANCE = "IN_ADVANCE"
    IN_ARREAR = "IN_ARREAR"


class UsageType(StrEnum):
    CONSUMABLE = "CONSUMABLE"
    CAPACITY = "CAPACITY"


class TierBlockPolicy(StrEnum):
    ALL_TIERS = "ALL_TIERS"
    TOP_TIER = "TOP_TIER"


class BlockType(StrEnum):
    VANILLA = "VANILLA"
    TOP_UP = "TOP_UP"
    TIERED = "TIERED"


class FixedType(StrEnum):
    ONE_TIME = "ONE_TIME"


class BillingActionPolicy(StrEnum):
    START_OF_TERM = "START_OF_TERM"
    END_OF_TERM = "END_OF_TERM"
    IMMEDIATE = "IMMEDIATE"
    ILLEGAL = "ILLEGAL"


class PlanAlignmentChange(StrEnum):
    START_OF_BUNDLE = "START_OF_BUNDLE"
    START_OF_SUBSCRIPTION = "START_OF_SUBSCRIPTION"
    CHANGE_OF_PLAN = "CHANGE_OF_PLAN"
    CHANGE_OF_PRICELIST = "CHANGE_OF_PRICELIST"


class PlanAlignmentCreate(StrEnum):
    START_OF_BUNDLE = "START_OF_BUNDLE"
    START_OF_SUBSCRIPTION = "START_OF_SUBSCRIPTION"


class BillingAlignment(StrEnum):
    ACCOUNT = "ACCOUNT"
    BUNDLE = "BUNDLE"
    SUBSCRIPTION = "SUBSCRIPTION"


# --------------------------------------------------------------------------- prices


@dataclass(frozen=True, slots=True)
class Price:
    """One ``<price>``: ``value`` None means ``xsi:nil`` (cannot be bought in that currency)."""

    currency: str
    value: Decimal | None


@dataclass(frozen=True, slots=True)
class InternationalPrice:
    """A list of prices, one per currency (``DefaultInternationalPrice``)."""

    prices: tuple[Price, ...] = ()

    def get(self, currency: str) -> Decimal:
        """Kill Bill's ``getPrice``: no prices at all -> 0; nil -> error; unlisted -> error."""
        if not self.prices:
            return Decimal(0)
        for p in self.prices:
            if p.currency == currency:
                if p.value is None:
                    raise CatalogApiError(ErrorCode.CAT_PRICE_VALUE_NULL_FOR_CURRENCY, currency)
                return p.value
        raise CatalogApiError(ErrorCode.CAT_NO_PRICE_FOR_CURRENCY, currency)

    def is_zero(self) -> bool:
        """Every listed non-nil value is 0 (Kill Bill's ``isZero``)."""
        return all(p.value is None or p.value == 0 for p in self.prices)

    def currencies(self) -> tuple[str, ...]:
        return tuple(p.currency for p in self.prices)


# --------------------------------------------------------------------------- durations, units, limits


@dataclass(frozen=True, slots=True)
class Duration:
    unit: TimeUnit
    number: int = -1

    def add_to(self, when: Any) -> Any:
        """``when`` (date or datetime) plus this duration (Joda ``plusX``, month-end clamped)."""
        if self.unit is TimeUnit.UNLIMITED:
            raise CatalogApiError(ErrorCode.CAT_UNDEFINED_DURATION, str(self))
        return _add(when, self.unit, self.number)

    def __str__(self) -> str:
        return self.unit.value if self.unit is TimeUnit.UNLIMITED else f"{self.number} {self.unit.value}"


@dataclass(frozen=True, slots=True)
class Unit:
    name: str
    pretty_name: str


@dataclass(frozen=True, slots=True)
class Limit:
    unit: str
    max: Decimal = MINUS_ONE
    min: Decimal = MINUS_ONE

    def complies_with(self, value: Decimal) -> bool:
        """Kill Bill's ``DefaultLimit.compliesWith``, quirk included: ``min`` acts as an upper bound."""
        if self.max != MINUS_ONE and value > self.max:
            return False
        return self.min == MINUS_ONE or value <= self.min


# --------------------------------------------------------------------------- usage


@dataclass(frozen=True, slots=True)
class Block:
    """A ``<block>`` of an IN_ADVANCE CONSUMABLE usage."""

    unit: str
    size: Decimal
    prices: InternationalPrice
    min_top_up_credit: Decimal = MINUS_ONE
    type: BlockType = BlockType.VANILLA


@dataclass(frozen=True, slots=True)
class TieredBlock:
    """A ``<tieredBlock>`` of a tier; ``max`` counts blocks (-1 = unlimited). Its type is always TIERED."""

    unit: str
    size: Decimal
    prices: InternationalPrice
    max: Decimal
    min_top_up_credit: Decimal = MINUS_ONE

    @property
    def type(self) -> BlockType:
        return BlockType.TIERED


@dataclass(frozen=True, slots=True)
class Tier:
    limits: tuple[Limit, ...] = ()
    blocks: tuple[TieredBlock, ...] = ()
    fixed_price: InternationalPrice | None = None
    recurring_price: InternationalPrice | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    name: str
    pretty_name: str
    billing_mode: BillingMode
    usage_type: UsageType
    billing_period: BillingPeriod
    tier_block_policy: TierBlockPolicy = TierBlockPolicy.ALL_TIERS
    limits: tuple[Limit, ...] = ()
    blocks: tuple[Block, ...] = ()
    tiers: tuple[Tier, ...] = ()
    fixed_price: InternationalPrice | None = None
    recurring_price: InternationalPrice | None = None


# --------------------------------------------------------------------------- plans and phases


@dataclass(frozen=True, slots=True)
class Fixed:
    """``<fixed>``: ``price`` None = no ``<fixedPrice>`` (no charge at all); empty = 0 in every currency."""

    price: InternationalPrice | None = None
    type: FixedType = FixedType.ONE_TIME


@dataclass(frozen=True, slots=True)
class Recurring:
    billing_period: BillingPeriod
    price: InternationalPrice | None = None


@dataclass(frozen=True, slots=True)
class PlanPhase:
    name: str  # <plan>-<type lower-case>
    type: PhaseType
    duration: Duration
    pretty_name: str
    fixed: Fixed | None = None
    recurring: Recurring | None = None
    usages: tuple[Usage, ...] = ()

    @property
    def billing_period(self) -> BillingPeriod:
        return self.recurring.billing_period if self.recurring else BillingPeriod.NO_BILLING_PERIOD


def phase_name(plan_name: str, phase_type: PhaseType) -> str:
    return f"{plan_name}-{phase_type.value.lower()}"


def plan_name_of_phase(name: str) -> str:
    """Kill Bill's ``DefaultPlanPhase.planName``: strip the first phase-type suffix it ends with."""
    for t in PhaseType:
        suffix = t.value.lower()
        if name.endswith(suffix):
            return name[: len(name) - len(suffix) - 1]
    raise CatalogApiError(ErrorCode.CAT_BAD_PHASE_NAME, name)


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    pretty_name: str
    product: str
    initial_phases: tuple[PlanPhase, ...]
    final_phase: PlanPhase
    price_list: str  # the first price list (DEFAULT, then children in order) that lists the plan
    recurring_billing_mode: BillingMode | None = None
    plans_allowed_in_bundle: int = -1
    effective_date_for_existing_subscriptions: datetime | None = None

    @property
    def all_phases(self) -> tuple[PlanPhase, ...]:
        return (*self.initial_phases, self.final_phase)

    @property
    def recurring_billing_period(self) -> BillingPeriod:
        """The final phase's billing period (NO_BILLING_PERIOD without a recurring section)."""
        rec = self.final_phase.recurring
        return rec.billing_period if rec else BillingPeriod.NO_BILLING_PERIOD

    def find_phase(self, name: str) -> PlanPhase:
        for p in self.all_phases:
            if p.name == name:
                return p
        raise CatalogApiError(ErrorCode.CAT_NO_SUCH_PHASE, name)


@dataclass(frozen=True, slots=True)
class Product:
    name: str
    pretty_name: str
    category: ProductCategory
    included: tuple[str, ...] = ()
    available: tuple[str, ...] = ()
    limits: tuple[Limit, ...] = ()


@dataclass(frozen=True, slots=True)
class PriceList:
    name: str
    pretty_name: str
    plans: tuple[str, ...] = ()


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class ChangeCase:
    """Predicates shared by change-policy and change-alignment cases (None = any)."""

    phase_type: PhaseType | None = None
    from_product: str | None = None
    from_product_category: ProductCategory | None = None
    from_billing_period: BillingPeriod | None = None
    from_price_list: str | None = None
    to_product: str | None = None
    to_product_category: ProductCategory | None = None
    to_billing_period: BillingPeriod | None = None
    to_price_list: str | None = None

    def is_catch_all(self) -> bool:
        return (
            self.phase_type is None
            and self.from_product is None
            and self.from_product_category is None
            and self.from_billing_period is None
            and self.from_price_list is None
            and self.to_product is None
            and self.to_product_category is None
            and self.to_billing_period is None
            and self.to_price_list is None
        )


@dataclass(frozen=True, slots=True)
class ChangePolicyCase(ChangeCase):
    policy: BillingActionPolicy = BillingActionPolicy.END_OF_TERM


@dataclass(frozen=True, slots=True)
class ChangeAlignmentCase(ChangeCase):
    alignment: PlanAlignmentChange = PlanAlignmentChange.START_OF_BUNDLE


@dataclass(frozen=True, slots=True)
class StandardCase:
    """Predicates of create-alignment, cancel-policy and billing-alignment cases (None = any)."""

    product: str | None = None
    product_category: ProductCategory | None = None
    billing_period: BillingPeriod | None = None
    price_list: str | None = None

    def is_catch_all(self) -> bool:
        return (
            self.product is None
            and self.product_category is None
            and self.billing_period is None
            and self.price_list is None
            and getattr(self, "phase_type", None) is None
        )


@dataclass(frozen=True, slots=True)
class CreateAlignmentCase(StandardCase):
    alignment: PlanAlignmentCreate = PlanAlignmentCreate.START_OF_BUNDLE


@dataclass(frozen=True, slots=True)
class CancelPolicyCase(StandardCase):
    phase_type: PhaseType | None = None
    policy: BillingActionPolicy = BillingActionPolicy.END_OF_TERM


@dataclass(frozen=True, slots=True)
class BillingAlignmentCase(StandardCase):
    phase_type: PhaseType | None = None
    alignment: BillingAlignment = BillingAlignment.ACCOUNT


@dataclass(frozen=True, slots=True)
class PriceListCase(StandardCase):
    """Price list on change.  The inherited ``product``..``price_list`` are accepted and ignored."""

    from_product: str | None = None
    from_product_category: ProductCategory | None = None
    from_billing_period: BillingPeriod | None = None
    from_price_list: str | None = None
    to_price_list: str = DEFAULT_PRICE_LIST_NAME


@dataclass(frozen=True, slots=True)
class PlanRules:
    change_policy: tuple[ChangePolicyCase, ...] = ()
    change_alignment: tuple[ChangeAlignmentCase, ...] = ()
    cancel_policy: tuple[CancelPolicyCase, ...] = ()
    create_alignment: tuple[CreateAlignmentCase, ...] = ()
    billing_alignment: tuple[BillingAlignmentCase, ...] = ()
    price_list: tuple[PriceListCase, ...] = ()


# --------------------------------------------------------------------------- one version


@dataclass(frozen=True, eq=False)
class CatalogVersion:
    """One catalog document (Kill Bill's ``StandaloneCatalog``), with lookup indexes built once.

    Equality compares the content fields only (not the indexes / caches).
    """

    name: str
    effective_date: datetime
    currencies: tuple[str, ...]
    units: tuple[Unit, ...]
    products: tuple[Product, ...]
    rules: PlanRules
    plans: tuple[Plan, ...]
    default_price_list: PriceList
    child_price_lists: tuple[PriceList, ...] = ()
    recurring_billing_mode: BillingMode | None = None

    # indexes (derived; filled in __post_init__)
    products_by_name: dict[str, Product] = field(init=False, repr=False, compare=False)
    plans_by_name: dict[str, Plan] = field(init=False, repr=False, compare=False)
    price_lists_by_name: dict[str, PriceList] = field(init=False, repr=False, compare=False)
    units_by_name: dict[str, Unit] = field(init=False, repr=False, compare=False)
    phases_by_name: dict[str, tuple[Plan, int]] = field(init=False, repr=False, compare=False)
    plans_by_listing: dict[tuple[str, str, BillingPeriod], tuple[Plan, ...]] = field(
        init=False, repr=False, compare=False
    )
    currency_set: frozenset[str] = field(init=False, repr=False, compare=False)
    cache: dict[Any, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "products_by_name", {p.name: p for p in self.products})
        s(self, "plans_by_name", {p.name: p for p in self.plans})
        pls: dict[str, PriceList] = {}
        for pl in self.price_lists:
            pls.setdefault(pl.name, pl)
        s(self, "price_lists_by_name", pls)
        s(self, "units_by_name", {u.name: u for u in self.units})
        phases: dict[str, tuple[Plan, int]] = {}
        for plan in self.plans:
            for i, ph in enumerate(plan.all_phases):
                phases.setdefault(ph.name, (plan, i))
        s(self, "phases_by_name", phases)
        listing: dict[tuple[str, str, BillingPeriod], list[Plan]] = {}
        for pl in self.price_lists:
            for plan_name in pl.plans:
                listed = self.plans_by_name.get(plan_name)
                if listed is not None:
                    key = (pl.name, listed.product, listed.recurring_billing_period)
                    listing.setdefault(key, []).append(listed)
        s(self, "plans_by_listing", {k: tuple(v) for k, v in listing.items()})
        s(self, "currency_set", frozenset(self.currencies))
        s(self, "cache", {})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CatalogVersion):
            return NotImplemented
        return self.content_key() == other.content_key()

    def __hash__(self) -> int:
        return hash((self.name, self.effective_date))

    def content_key(self) -> tuple[Any, ...]:
        return (
            self.name,
            self.effective_date,
            self.currencies,
            self.units,
            self.products,
            self.rules,
            self.plans,
            self.default_price_list,
            self.child_price_lists,
            self.recurring_billing_mode,
        )

    @property
    def price_lists(self) -> tuple[PriceList, ...]:
        """The default price list, then the children in document order."""
        return (self.default_price_list, *self.child_price_lists)

    @property
    def is_template(self) -> bool:
        """An empty placeholder catalog (no products, plans or currencies): Kill Bill filters these out."""
        return not self.products and not self.plans and not self.currencies

    # Basic finders raising Kill Bill's errors (engine.py builds on these).
    def find_plan(self, name: str | None) -> Plan:
        plan = self.plans_by_name.get(name) if name is not None else None
        if plan is None:
            raise CatalogApiError(ErrorCode.CAT_NO_SUCH_PLAN, name)
        return plan

    def find_product(self, name: str | None) -> Product:
        product = self.products_by_name.get(name) if name is not None else None
        if product is None:
            raise CatalogApiError(ErrorCode.CAT_NO_SUCH_PRODUCT, name)
        return product

    def find_price_list(self, name: str | None) -> PriceList:
        if name is None:
            raise CatalogApiError(ErrorCode.CAT_PRICE_LIST_NOT_FOUND, name)
        pl = self.price_lists_by_name.get(name)
        if pl is None:
            raise CatalogApiError(ErrorCode.CAT_PRICE_LIST_NOT_FOUND, name)
        return pl

    def find_phase(self, name: str | None) -> PlanPhase:
        if name is None:
            raise CatalogApiError(ErrorCode.CAT_NO_SUCH_PHASE, name)
        hit = self.phases_by_name.get(name)
        if hit is None:
            # Same errors as Kill Bill: bad suffix -> CAT_BAD_PHASE_NAME, unknown plan -> CAT_NO_SUCH_PLAN.
            self.find_plan(plan_name_of_phase(name))
            raise CatalogApiError(ErrorCode.CAT_NO_SUCH_PHASE, name)
        plan, index = hit
        return plan.all_phases[index]


# --------------------------------------------------------------------------- all versions of a tenant


@dataclass(frozen=True)
class Catalog:
    """A tenant's versioned catalog, versions sorted by effective date (``DefaultVersionedCatalog``).

    Build it with :meth:`of` (sorts).  Lookups by date live here and in
    :mod:`billow.catalog.versions`.
    """

    versions: tuple[CatalogVersion, ...] = ()
    _dates: tuple[datetime, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_dates", tuple(v.effective_date for v in self.versions))

    @classmethod
    def of(cls, versions: Iterable[CatalogVersion], *, drop_templates: bool = False) -> Catalog:
        """Versions sorted by effective date (stable: equal dates keep insertion order)."""
        vs = [v for v in versions if not (drop_templates and v.is_template)]
        vs.sort(key=lambda v: v.effective_date)
        return cls(tuple(vs))

    def add(self, version: CatalogVersion) -> Catalog:
        """A new catalog with ``version`` inserted in date order (no validation: ``versions.add_version``)."""
        return Catalog.of((*self.versions, version))

    @property
    def name(self) -> str | None:
        """The catalog name (that of the first version), None when empty."""
        return self.versions[0].name if self.versions else None

    @property
    def current_version(self) -> CatalogVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def effective_dates(self) -> tuple[datetime, ...]:
        return self._dates

    def index_for_date(self, when: datetime) -> int:
        """Index of the latest version effective on or before ``when``; 0 if ``when`` precedes them all."""
        if not self.versions:
            raise CatalogApiError(ErrorCode.CAT_NO_CATALOG_FOR_GIVEN_DATE, when)
        i = bisect.bisect_right(self._dates, utc(when)) - 1
        return max(i, 0)

    def version_for_date(self, when: datetime) -> CatalogVersion:
        """Kill Bill's ``getVersion(date)``; the first version if ``when`` precedes every version (#760)."""
        return self.versions[self.index_for_date(when)]

    def __len__(self) -> int:
        return len(self.versions)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.versions)
