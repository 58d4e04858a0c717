"""USAGE items: the generator's usage seam (`UsageItemGenerator`) filled by the usage service's rater.

The invoice generator hands a `UsageRating` the account's billing events and existing invoices; it turns the
existing USAGE items into what the rater compares with (`BilledUsage`), rates the raw usage read for the account
beforehand (one query per billing batch, from `usage_read_start`), and turns the rater's `RatedUsage` into
invoice items. A rating error (no tier for the usage, usage deleted after billing, an unknown unit when the
tenant parks such accounts) is an `InvoicingError`: the run fails and the account is parked, as in Kill Bill.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

from billow.catalog.errors import CatalogApiError
from billow.catalog.model import BillingMode
from billow.invoice.generator import AccountBillingInfo, GeneratorConfig, InvoicingError, UsageResult
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus
from billow.junction.model import BillingEvent
from billow.usage.errors import UsageRatingError
from billow.usage.model import (
    BilledUsage,
    RatingSettings,
    RawUsage,
    TrackingRecord,
    UsageDetailMode,
)
from billow.usage.rater import rate_usage
from billow.usage.window import raw_usage_start

USAGE = InvoiceItemType.USAGE
_IN_ARREAR = BillingMode.IN_ARREAR


def rating_settings(config: GeneratorConfig) -> RatingSettings:
    return RatingSettings(detail_mode=UsageDetailMode(config.usage_detail_mode.value),
                          zero_amount_disabled=config.usage_zero_amount_disabled,
                          missing_lenient=config.usage_missing_lenient,
                          read_max_raw_usage_previous_period=config.read_max_raw_usage_previous_period,
                          park_on_unknown_usage=config.park_on_unknown_usage, zone_rules=config.usage_zone_rules)


def billed_usage(invoices: Sequence[Invoice]) -> list[BilledUsage]:
    """The USAGE items of the (non-void) invoices, as the rater sees them."""
    out = []
    for inv in invoices:
        if inv.status is InvoiceStatus.VOID:
            continue
        for it in inv.items:
            if (it.type is USAGE and it.subscription_id is not None and it.usage_name is not None
                    and it.start_date is not None and it.end_date is not None):
                out.append(BilledUsage(it.id, it.subscription_id, it.usage_name, it.start_date, it.end_date,
                                       it.amount, it.rate, it.quantity, it.item_details))
    return out


def usage_read_start(events: Sequence[BillingEvent], invoices: Sequence[Invoice], earliest_target: date,
                     config: GeneratorConfig, now: datetime) -> datetime | None:
    """Where the raw usage a run at `earliest_target` (or later) rates starts, or None when no billing event has
    an IN_ARREAR usage section (nothing to read): the rater's own window, which only moves later as invoices are
    added, so one read serves every run of a batch."""
    if not any(u.billing_mode is _IN_ARREAR for ev in events for u in ev.usages):
        return None
    known = {u.name: u for ev in events for u in ev.usages}
    existing = [b for b in billed_usage(invoices) if b.usage_name in known]
    return raw_usage_start(min(ev.effective_date for ev in events), earliest_target, existing, known,
                           previous_periods=config.read_max_raw_usage_previous_period,
                           zero_amount_disabled=config.usage_zero_amount_disabled,
                           utc_today=now.astimezone(UTC).date())


class UsageRating:
    """The generator's `UsageItemGenerator` for one account: its raw usage (rated with the run's configuration)."""

    def __init__(self, records: Sequence[RawUsage], *, dry_run: bool = False,
                 invoiced: frozenset[TrackingRecord] = frozenset()) -> None:
        self.records = records
        self.dry_run = dry_run
        self.invoiced = invoiced

    def __call__(self, account: AccountBillingInfo, events: Sequence[BillingEvent],
                 existing_invoices: Sequence[Invoice], target_date: date, config: GeneratorConfig, *,
                 invoice_id: str, now: datetime) -> UsageResult:
        try:
            result = rate_usage(events, billed_usage(existing_invoices), self.records, target=target_date,
                                time=account.time, currency=account.currency,
                                settings=rating_settings(config), now=now, dry_run=self.dry_run,
                                invoiced=self.invoiced)
        except (UsageRatingError, CatalogApiError) as e:
            raise InvoicingError(str(e)) from e
        items = [InvoiceItem(id=str(uuid.uuid4()), invoice_id=invoice_id, account_id=account.account_id, type=USAGE,
                             start_date=r.start_date, end_date=r.end_date, amount=r.amount, currency=account.currency,
                             subscription_id=r.subscription_id, bundle_id=r.bundle_id, product_name=r.product_name,
                             plan_name=r.plan_name, phase_name=r.phase_name, usage_name=r.usage_name, rate=r.rate,
                             quantity=r.quantity, item_details=r.item_details, description=r.description,
                             catalog_effective_date=r.catalog_effective_date, created_date=now)
                 for r in result.items]
        next_dates = {sub: {(name, _IN_ARREAR): when for name, when in dates.items()}
                      for sub, dates in result.next_dates.items()}
        return UsageResult(items, next_dates, frozenset(result.tracking))
