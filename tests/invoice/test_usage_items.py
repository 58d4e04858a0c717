"""The generator's usage seam filled by the usage rater (`billow.invoice.usage_items`): USAGE invoice items next to the
recurring ones, next usage billing dates, `disable.usage.zero.amount` with DETAIL items, and rating errors as
invoicing errors. Pure: no database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from billow.catalog.model import BillingMode
from billow.invoice import GeneratorConfig, InvoiceItemType, InvoicingError, UsageDetailMode, generate_invoice
from billow.invoice.usage_items import UsageRating, billed_usage
from tests.invoice.conftest import account, invoice_of
from tests.usage.rating import capacity, consumable, event, rec

BULLETS = consumable("bullets-usage", ("bullets", "100", "2.95", "10"), ("bullets", "1000", "5.95", "100"))
PELLETS = consumable("pellets-usage", ("pellets", "100", "0", "-1"))
USAGE = InvoiceItemType.USAGE


def run(events, records, existing, target: str, config: GeneratorConfig | None = None):  # type: ignore[no-untyped-def]
    day = date.fromisoformat(target)
    return generate_invoice(account(), events, existing, day, config or GeneratorConfig(), invoice_id="inv-new",
                            now=datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=12),
                            usage=UsageRating(records))


def test_usage_items_are_invoice_items_with_the_next_usage_date() -> None:
    events = [event(datetime(2012, 4, 1, tzinfo=UTC), BULLETS, sub="s1")]
    records = [rec("2012-04-02", "bullets", 150, "t1", sub="s1")]
    result = run(events, records, [], "2012-05-01")
    [item] = result.items
    assert (item.type, item.invoice_id, item.account_id, item.subscription_id, item.bundle_id) == (
        USAGE, "inv-new", "acct-1", "s1", "bundle-of-s1")
    assert (item.start_date, item.end_date, item.amount, item.currency, item.usage_name, item.description) == (
        date(2012, 4, 1), date(2012, 5, 1), D("5.90"), "USD", "bullets-usage", "bullets-usage")
    assert json.loads(item.item_details)["amount"] == 5.9
    assert result.notification_dates["s1"].next_usage_dates == {("bullets-usage", BillingMode.IN_ARREAR):
                                                                date(2012, 6, 1)}
    assert result.tracking_ids == {("t1", "s1", "bullets", date(2012, 4, 2))}
    # the next run sees the item as billed: nothing more for April
    again = run(events, records, [invoice_of(result.items, "2012-05-01")], "2012-05-02")
    assert again.items == []


def test_zero_usage_items_dropped_when_disabled_but_not_a_zero_priced_quantity() -> None:
    """TestWithoutZeroUsageItems (DETAIL, `disable.usage.zero.amount=true`): an empty May gives no item; pellets at $0
    with 2 blocks give a 0.00 item (quantity 2 > 0)."""
    config = GeneratorConfig(usage_zero_amount_disabled=True, usage_detail_mode=UsageDetailMode.DETAIL)
    events = [event(datetime(2012, 4, 1, tzinfo=UTC), BULLETS, PELLETS, sub="s1")]
    april = run(events, [rec("2012-04-02", "bullets", 199, sub="s1"), rec("2012-04-03", "pellets", 199, sub="s1")],
                [], "2012-05-01", config)
    assert sorted((i.usage_name, i.amount, i.quantity) for i in april.items) == [
        ("bullets-usage", D("5.90"), D(2)), ("pellets-usage", D("0"), D(2))]
    may = run(events, [], [invoice_of(april.items, "2012-05-01")], "2012-06-01", config)
    assert may.items == []


def test_rating_errors_are_invoicing_errors_and_billed_usage_skips_void_invoices() -> None:
    stones = capacity("stones", ({"stones": "100"}, "100"))
    events = [event(datetime(2012, 4, 1, tzinfo=UTC), stones, sub="s1")]
    with pytest.raises(InvoicingError, match="Could not find tier for usage stones"):
        run(events, [rec("2012-04-02", "stones", 101, sub="s1")], [], "2012-05-01")
    with pytest.raises(InvoicingError, match="unit type lasers is not defined"):
        run(events, [rec("2012-04-02", "lasers", 1, sub="s1")], [], "2012-05-01",
            GeneratorConfig(park_on_unknown_usage=True))
    billed = run(events, [rec("2012-04-02", "stones", 50, sub="s1")], [], "2012-05-01").items
    from billow.invoice.model import InvoiceStatus

    assert [b.amount for b in billed_usage([invoice_of(billed, "2012-05-01")])] == [D("100.00")]
    assert billed_usage([invoice_of(billed, "2012-05-01", status=InvoiceStatus.VOID)]) == []
