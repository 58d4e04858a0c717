"""Usage records and what the rater reads and writes, as plain values (no I/O).

Kill Bill's usage API (`killbill-api` `usage/api/*`: `SubscriptionUsageRecord`, `UnitUsageRecord`,
`UsageRecord`, `RolledUpUsage`, `RawUsageRecord`) and the invoice module's rating inputs and outputs
(`invoice/.../usage/*`). The usage service sits below the invoice service: the invoice generator hands the
rater the account's billing events, its already billed USAGE items (`BilledUsage`) and its raw records, and
turns the rater's `RatedUsage` back into invoice items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple


# ---------------------------------------------------------------------------------------------- recording
@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One measure of one unit at one instant (Kill Bill's `UsageRecord`: a `DateTime` and a decimal amount)."""

    record_date: datetime
    amount: Decimal


@dataclass(frozen=True, slots=True)
class UnitUsageRecord:
    unit_type: str
    records: tuple[UsageRecord, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionUsageRecord:
    """What one `POST /1.0/kb/usages` records: one subscription, one tracking id (None: a random one), units."""

    subscription_id: str
    units: tuple[UnitUsageRecord, ...]
    tracking_id: str | None = None

    @property
    def highest_record_date(self) -> datetime | None:
        return max((r.record_date for u in self.units for r in u.records), default=None)

    @property
    def record_count(self) -> int:
        return sum(len(u.records) for u in self.units)


@dataclass(frozen=True, slots=True)
class RecordingReport:
    """What a batch recorded: how many records, and the (subscription, tracking id) pairs skipped because they
    were recorded before (a retried batch records nothing twice)."""

    recorded: int
    duplicates: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RolledUpUnit:
    unit_type: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RolledUpUsage:
    """`GET /1.0/kb/usages/{subscriptionId}`: per unit, the sum of the amounts recorded in [start, end)."""

    subscription_id: str
    start: datetime
    end: datetime
    units: tuple[RolledUpUnit, ...]


# ---------------------------------------------------------------------------------------------- rating
class RawUsage(NamedTuple):
    """A stored record as the rater reads it (Kill Bill's `RawUsageRecord`); a tuple, as a period of a big
    account holds millions of them."""

    subscription_id: str
    unit_type: str
    record_date: datetime  # UTC
    amount: Decimal
    tracking_id: str


class UsageDetailMode(StrEnum):
    """`org.killbill.invoice.item.result.behavior.mode`: one item per period, or one per tier and unit."""

    AGGREGATE = "AGGREGATE"
    DETAIL = "DETAIL"


@dataclass(frozen=True, slots=True)
class RatingSettings:
    """Kill Bill's invoice properties that change usage rating, with Kill Bill's defaults
    (`util/.../config/definition/InvoiceConfig.java`)."""

    detail_mode: UsageDetailMode = UsageDetailMode.AGGREGATE  # org.killbill.invoice.item.result.behavior.mode
    zero_amount_disabled: bool = False  # org.killbill.invoice.disable.usage.zero.amount
    missing_lenient: bool = False  # org.killbill.invoice.usage.missing.lenient
    read_max_raw_usage_previous_period: int = 2  # org.killbill.invoice.readMaxRawUsagePreviousPeriod
    park_on_unknown_usage: bool = False  # org.killbill.invoice.parkAccountsWithUnknownUsage
    zone_rules: bool = False  # org.killbill.invoice.usage.tz.mode=VARIABLE (FIXED by default)


@dataclass(frozen=True, slots=True)
class BilledUsage:
    """An existing USAGE invoice item, as the rater compares with it (Kill Bill's `UsageInvoiceItem`)."""

    id: str
    subscription_id: str
    usage_name: str
    start_date: date
    end_date: date
    amount: Decimal
    rate: Decimal | None = None
    quantity: Decimal | None = None
    item_details: str | None = None


@dataclass(frozen=True, slots=True)
class RatedUsage:
    """A new USAGE item (Kill Bill's `UsageInvoiceItem`): the period's local dates, the amount left to bill,
    and the per-tier breakdown (`itemDetails`)."""

    subscription_id: str
    bundle_id: str
    product_name: str | None
    plan_name: str | None
    phase_name: str | None
    usage_name: str
    description: str
    catalog_effective_date: datetime | None
    start_date: date
    end_date: date
    amount: Decimal
    rate: Decimal | None = None
    quantity: Decimal | None = None
    item_details: str | None = None


class TrackingRecord(NamedTuple):
    """Kill Bill's `TrackingRecordId` without the invoice: what an invoice records it covered."""

    tracking_id: str
    subscription_id: str
    unit_type: str
    record_date: date  # the account's local date of the record


@dataclass(frozen=True, slots=True)
class RatingResult:
    """USAGE items, the next usage billing date per (subscription, usage name), the new tracking records."""

    items: Sequence[RatedUsage] = ()
    next_dates: dict[str, dict[str, date]] = field(default_factory=dict)
    tracking: frozenset[TrackingRecord] = frozenset()
