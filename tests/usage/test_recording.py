"""Recording usage through the usage service (the embedded API), on SQLite and PostgreSQL: Kill Bill's checks, the
tracking-id refusal (also between concurrent requests), batches, tenant isolation, stored precision."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from billow.core.context import CallContext
from billow.core.errors import InvalidInput, NotFound
from billow.usage.errors import TrackingIdAlreadyRecorded, UsageAfterEntitlementEnd
from billow.usage.model import SubscriptionUsageRecord, UnitUsageRecord
from tests.usage.conftest import UsageWorld, usage_record


def at(day: int, hh: int = 12) -> datetime:
    return datetime(2024, 4, day, hh, 0, tzinfo=UTC)


def total(uw: UsageWorld, sub: str, unit: str | None = None) -> list[tuple[str, D]]:
    rolled = uw.kb.usage.get_usage(uw.ctx, sub, at(1, 0), datetime(2024, 6, 1, tzinfo=UTC), unit)
    return [(u.unit_type, u.amount) for u in rolled.units]


@pytest.fixture()
def minutes(uw: UsageWorld) -> str:
    phone = uw.create("phone-monthly")
    return uw.create("minutes-in-arrear", bundle_id=uw.bundle_of(phone))


def test_a_tracking_id_is_recorded_once_per_subscription(uw: UsageWorld, minutes: str) -> None:
    """`DefaultUsageUserApi.recordRolledUpUsage`: the same tracking id on another subscription is fine; without one,
    each request gets its own."""
    crane = uw.create("crane-in-arrear")
    uw.kb.usage.record_usage(uw.ctx, usage_record(minutes, "minutes", (at(2), 10), (at(3), 5), tracking="same"))
    uw.kb.usage.record_usage(uw.ctx, usage_record(crane, "stones", (at(2), 1), tracking="same"))
    with pytest.raises(TrackingIdAlreadyRecorded, match="A usage record with tracking ID same already exists"):
        uw.kb.usage.record_usage(uw.ctx, usage_record(minutes, "messages", (at(4), 99), tracking="same"))
    for _ in range(2):
        uw.kb.usage.record_usage(uw.ctx, usage_record(minutes, "minutes", (at(5), 1)))
    assert total(uw, minutes) == [("minutes", D(17))]
    assert uw.stored_rows() == 5


def test_a_concurrent_request_with_the_same_tracking_id_is_refused_and_writes_nothing(uw: UsageWorld,
                                                                                       minutes: str) -> None:
    """While a first request with tracking id "race" is uncommitted, a second one waits (PostgreSQL: on the unique
    index; SQLite: on the write lock), then is refused as a duplicate once the first commits."""
    outcome: dict[str, BaseException] = {}

    def second() -> None:
        try:
            uw.kb.usage.record_usage(uw.ctx, usage_record(minutes, "minutes", (at(6), 700), tracking="race"))
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = e

    with uw.kb.db.transaction(uw.ctx) as uow:
        uw.kb.usage.internal.record(uow, [usage_record(minutes, "minutes", (at(6), 5), tracking="race")],
                                    skip_recorded=False)
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive()  # waiting for the first request
    thread.join(timeout=60)
    assert isinstance(outcome.get("error"), TrackingIdAlreadyRecorded)
    assert total(uw, minutes) == [("minutes", D(5))]


def test_kill_bills_checks_and_messages(uw: UsageWorld, minutes: str) -> None:
    record = uw.kb.usage.record_usage
    with pytest.raises(NotFound, match=r"Object id=.* type=SUBSCRIPTION doesn't exist!"):
        record(uw.ctx, usage_record(str(uuid.uuid4()), "minutes", (at(2), 1)))
    with pytest.raises(InvalidInput, match=r"json.getUnitUsageRecords\(\) is empty"):
        record(uw.ctx, SubscriptionUsageRecord(minutes, ()))
    with pytest.raises(InvalidInput, match="UnitUsageRecordJson unitType need to be set"):
        record(uw.ctx, usage_record(minutes, "", (at(2), 1)))
    with pytest.raises(InvalidInput, match="UnitUsageRecordJson usageRecords must have at least one element."):
        record(uw.ctx, SubscriptionUsageRecord(minutes, (UnitUsageRecord("minutes", ()),)))
    with pytest.raises(InvalidInput, match="out of range"):
        record(uw.ctx, usage_record(minutes, "minutes", (at(2), "1e12")))
    with pytest.raises(InvalidInput, match="trackingId"):
        record(uw.ctx, usage_record(minutes, "minutes", (at(2), 1), tracking="x" * 129))
    assert uw.stored_rows() == 0
    # records before the subscription started, for units in no section, negative amounts: accepted as Kill Bill does
    record(uw.ctx, usage_record(minutes, "teleportations", (datetime(2020, 1, 1, tzinfo=UTC), -3)))
    assert uw.stored_rows() == 1


def test_records_after_the_entitlement_end_are_refused(uw: UsageWorld, minutes: str) -> None:
    uw.set_time(at(10))
    uw.kb.entitlements.cancel(uw.ctx, minutes)  # add-ons: IMMEDIATE
    end = uw.clock.utcnow()
    with pytest.raises(UsageAfterEntitlementEnd, match="after the end of subscription"):
        uw.kb.usage.record_usage(uw.ctx, usage_record(minutes, "minutes", (at(2), 1), (at(11), 1)))
    uw.kb.usage.record_usage(uw.ctx, usage_record(minutes, "minutes", (at(2), 1), (end, 1)))
    assert total(uw, minutes) == [("minutes", D(2))]


def test_batches_are_all_or_nothing_for_bad_input(uw: UsageWorld, minutes: str) -> None:
    good = usage_record(minutes, "minutes", (at(2), 1), tracking="ok")
    with pytest.raises(NotFound):
        uw.kb.usage.record_usage_batch(uw.ctx, [good, usage_record(str(uuid.uuid4()), "minutes", (at(2), 1))])
    assert uw.stored_rows() == 0
    assert uw.kb.usage.record_usage_batch(uw.ctx, [good]).recorded == 1


def test_amounts_are_stored_to_nine_decimals_half_up(uw: UsageWorld, minutes: str) -> None:
    """Kill Bill's `decimal(18,9)` column: more decimals are rounded half-up; sums are exact."""
    uw.kb.usage.record_usage(uw.ctx, usage_record(minutes, "minutes", (at(2), "0.1234567895"), (at(3), "0.1"),
                                                  (at(4), "0.2")))
    assert total(uw, minutes) == [("minutes", D("0.423456790"))]


def test_another_tenant_sees_nothing(uw: UsageWorld, minutes: str) -> None:
    uw.kb.usage.record_usage(uw.ctx, usage_record(minutes, "minutes", (at(2), 1), tracking="mine"))
    other = uw.kb.tenants.create(CallContext(user_name="tests"), f"other-{uuid.uuid4().hex[:8]}", "s")
    ctx = CallContext(user_name="tests").for_tenant(other.record_id, other.id)
    with pytest.raises(NotFound):
        uw.kb.usage.get_usage(ctx, minutes, at(1), at(30))
    with pytest.raises(NotFound):
        uw.kb.usage.record_usage(ctx, usage_record(minutes, "minutes", (at(2), 1), tracking="mine"))
