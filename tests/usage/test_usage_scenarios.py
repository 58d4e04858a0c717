"""Usage billed by the invoice runs, driven by the test clock, on SQLite and PostgreSQL (tests/usage/data/usage.xml:
Minutes add-on, tiers of 100 minutes at $2.95 up to 10 blocks then 1,000 at $5.95; Crane, capacity: up to 100
stones $100, more $1,000). The figures are worked out in each test; the Kill Bill test each scenario follows is
named."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from billow.invoice.model import InvoiceItemType
from billow.usage.errors import TrackingIdAlreadyRecorded, UsageAfterEntitlementEnd
from tests.usage.conftest import START, UsageWorld, items, usage_record

USAGE, RECURRING = InvoiceItemType.USAGE, InvoiceItemType.RECURRING


def at(y: int, m: int, d: int, hh: int = 6, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def test_consumable_tiers_with_late_usage(uw: UsageWorld) -> None:
    """TestUsageInArrear.testWithNoUsageInPeriodAndOldUsage, on two tiers: late April usage is billed in June as
    the difference per tier; a repeated tracking id is refused and changes nothing."""
    phone = uw.create("phone-monthly")
    minutes = uw.create("minutes-in-arrear", bundle_id=uw.bundle_of(phone))
    uw.record(minutes, "minutes", START, 99, "t1")
    uw.record(minutes, "minutes", at(2024, 4, 15), 100, "t2")
    assert len(uw.invoices()) == 1  # the phone's first month; April's usage is not over yet

    uw.set_time(at(2024, 5, 1))
    invoices = uw.invoices()
    assert items(invoices[1]) == [("USAGE", date(2024, 4, 1), date(2024, 5, 1), D("5.90")),  # 199 → 2 blocks
                                  ("RECURRING", date(2024, 5, 1), date(2024, 6, 1), D("10.00"))]
    april = next(it for it in invoices[1].items if it.type is USAGE)
    assert (april.usage_name, april.plan_name, april.description) == ("minutes-usage", "minutes-in-arrear",
                                                                      "Minutes used")
    assert json.loads(april.item_details) == {"tierDetails": [{"tier": 1, "tierUnit": "minutes", "tierPrice": 2.95,
                                                               "tierBlockSize": 100, "quantity": 2, "amount": 5.9}],
                                              "amount": 5.9}

    # a retry of an already recorded request: refused (Kill Bill's 50000), nothing written
    rows = uw.stored_rows()
    with pytest.raises(TrackingIdAlreadyRecorded) as refused:
        uw.record(minutes, "minutes", at(2024, 4, 16), 5000, "t1")
    assert (refused.value.code, refused.value.status) == (50000, 400)
    assert uw.stored_rows() == rows

    # late April usage: 1,099 minutes = tier 1 full (10 blocks) + 1 block of tier 2; 2 blocks were billed
    uw.record(minutes, "minutes", at(2024, 4, 20), 900, "t3")
    uw.record(minutes, "minutes", at(2024, 5, 10), 50, "t4")
    uw.set_time(at(2024, 6, 1))
    invoices = uw.invoices()
    assert items(invoices[2]) == [("USAGE", date(2024, 4, 1), date(2024, 5, 1), D("29.55")),  # 8 × 2.95 + 5.95
                                  ("USAGE", date(2024, 5, 1), date(2024, 6, 1), D("2.95")),
                                  ("RECURRING", date(2024, 6, 1), date(2024, 7, 1), D("10.00"))]
    late = next(it for it in invoices[2].items if it.type is USAGE and it.start_date == date(2024, 4, 1))
    assert [(t["tier"], t["quantity"]) for t in json.loads(late.item_details)["tierDetails"]] == [(1, 8), (2, 1)]
    # nothing more to bill for those periods next month
    uw.set_time(at(2024, 7, 1))
    assert items(uw.invoices()[3], USAGE) == [("USAGE", date(2024, 6, 1), date(2024, 7, 1), D("0.00"))]


def test_usage_up_to_an_immediate_add_on_cancellation(uw: UsageWorld) -> None:
    """TestUsageInArrear.testWithCancellation / testWithUsageAtCancellationDay: cancelling the add-on IMMEDIATE
    bills its usage up to the cancellation instant at once, a record stamped at that instant included; records
    dated after it are refused."""
    phone = uw.create("phone-monthly")
    minutes = uw.create("minutes-in-arrear", bundle_id=uw.bundle_of(phone))
    uw.record(minutes, "minutes", at(2024, 4, 10), 99)
    uw.set_time(at(2024, 5, 1))
    assert items(uw.invoices()[1], USAGE) == [("USAGE", date(2024, 4, 1), date(2024, 5, 1), D("2.95"))]

    uw.record(minutes, "minutes", at(2024, 5, 3), 150)
    uw.set_time(at(2024, 5, 10, 12))
    cancel = uw.clock.utcnow()
    uw.kb.entitlements.cancel(uw.ctx, minutes)
    uw.idle()
    uw.record(minutes, "minutes", cancel, 100)  # at the cancellation instant: accepted
    with pytest.raises(UsageAfterEntitlementEnd):
        uw.record(minutes, "minutes", at(2024, 5, 10, 12, 1), 1000)
    # the cancellation's run came before the last record: bill again (as the next run would) to include it
    uw.kb.invoices.trigger(uw.ctx, uw.account.id, date(2024, 5, 10))
    invoices = uw.invoices()
    usage = [it for inv in invoices[2:] for it in inv.items if it.type is USAGE]
    # 150 minutes → 2 blocks at the cancellation run; 250 → 3 blocks: one more block on the next run
    assert [(it.start_date, it.end_date, it.amount) for it in usage] == [
        (date(2024, 5, 1), date(2024, 5, 10), D("5.90")), (date(2024, 5, 1), date(2024, 5, 10), D("2.95"))]
    # nothing after the cancellation: June bills the phone only
    uw.set_time(at(2024, 6, 1))
    assert [items(inv, USAGE) for inv in uw.invoices()[len(invoices):]] == [[]]


def test_capacity_tier_by_the_max_of_the_period(uw: UsageWorld) -> None:
    """TestUsageInArrear.testWithNoRecurringPlan: a plan with capacity usage only. Its next usage billing dates
    drive the runs: $1,000 for a max of 150 stones, $0 for an empty month, $100 for a max of 50."""
    crane = uw.create("crane-in-arrear")
    assert uw.invoices() == []
    uw.record(crane, "stones", at(2024, 4, 5), 85)
    uw.record(crane, "stones", at(2024, 4, 15), 150)
    uw.set_time(at(2024, 5, 1))
    [first] = uw.invoices()
    assert items(first) == [("USAGE", date(2024, 4, 1), date(2024, 5, 1), D("1000.00"))]
    assert json.loads(first.items[0].item_details) == {
        "tierDetails": [{"tier": 2, "tierUnit": "stones", "tierPrice": 1000, "quantity": 150}], "amount": 1000}
    assert uw.kb.entitlements.view(uw.ctx, crane).subscription.charged_through_date == at(2024, 5, 1)
    uw.set_time(at(2024, 6, 1))
    assert items(uw.invoices()[1]) == [("USAGE", date(2024, 5, 1), date(2024, 6, 1), D("0.00"))]
    uw.record(crane, "stones", at(2024, 6, 5), 25)
    uw.record(crane, "stones", at(2024, 6, 15), 50)
    uw.set_time(at(2024, 7, 1))
    assert items(uw.invoices()[2]) == [("USAGE", date(2024, 6, 1), date(2024, 7, 1), D("100.00"))]


def test_unknown_units_are_ignored_by_default_and_park_the_account_when_the_tenant_says_so(uw: UsageWorld) -> None:
    """TestUnknownUsageUnits: `org.killbill.invoice.parkAccountsWithUnknownUsage` (per tenant)."""
    phone = uw.create("phone-monthly")
    minutes = uw.create("minutes-in-arrear", bundle_id=uw.bundle_of(phone))
    uw.record(minutes, "minutes", at(2024, 4, 10), 99)
    uw.record(minutes, "lasers", at(2024, 4, 11), 5)  # in no section: recorded all the same
    uw.set_time(at(2024, 5, 1))
    assert items(uw.invoices()[1], USAGE) == [("USAGE", date(2024, 4, 1), date(2024, 5, 1), D("2.95"))]
    assert not uw.parked()

    uw.configure(**{"org.killbill.invoice.parkAccountsWithUnknownUsage": "true"})
    uw.record(minutes, "lasers", at(2024, 5, 11), 5)
    uw.set_time(at(2024, 6, 1))
    assert len(uw.invoices()) == 2 and uw.parked()  # the run failed: nothing invoiced, the account parked
    # back to ignoring: an API run bills June's usage and unparks the account
    uw.configure(**{"org.killbill.invoice.parkAccountsWithUnknownUsage": "false"})
    inv = uw.kb.invoices.trigger(uw.ctx, uw.account.id, date(2024, 6, 1))
    assert items(inv) == [("USAGE", date(2024, 5, 1), date(2024, 6, 1), D("0.00")),
                          ("RECURRING", date(2024, 6, 1), date(2024, 7, 1), D("10.00"))]
    assert not uw.parked()


def test_batch_recording_skips_what_was_recorded_and_rolled_up_reads(uw: UsageWorld) -> None:
    phone = uw.create("phone-monthly")
    minutes = uw.create("minutes-in-arrear", bundle_id=uw.bundle_of(phone))
    crane = uw.create("crane-in-arrear")
    batch = [usage_record(minutes, "minutes", (at(2024, 4, 2), 10), (at(2024, 4, 3), "2.5"), tracking="b1"),
             usage_record(crane, "stones", (at(2024, 4, 2), 7), tracking="b1"),
             usage_record(minutes, "minutes", (at(2024, 4, 4), 1), tracking="b1")]  # repeats (minutes, b1)
    report = uw.kb.usage.record_usage_batch(uw.ctx, batch)
    assert (report.recorded, report.duplicates) == (3, ((minutes, "b1"),))
    again = uw.kb.usage.record_usage_batch(uw.ctx, batch)  # a retried batch: nothing twice
    assert (again.recorded, set(again.duplicates)) == (0, {(minutes, "b1"), (crane, "b1")})
    rolled = uw.kb.usage.get_usage(uw.ctx, minutes, at(2024, 4, 1, 0), at(2024, 4, 3, 0))
    assert [(u.unit_type, u.amount) for u in rolled.units] == [("minutes", D(10))]
    rolled = uw.kb.usage.get_usage(uw.ctx, minutes, at(2024, 4, 1, 0), at(2024, 5, 1, 0), "minutes")
    assert [(u.unit_type, u.amount) for u in rolled.units] == [("minutes", D("12.5"))]
