"""Quantity changes through the service API on SQLite and PostgreSQL (Kill Bill's `updateSubscriptionQuantity`:
`SubscriptionResource.updateSubscriptionInternal`, `DefaultSubscriptionInternalApi.updateQuantity`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from billow.core.errors import BillowError, InvalidInput, NotFound
from billow.entitlement.model import SubscriptionRequest
from billow.entitlement.views import subscription_events
from tests.entitlement.conftest import T0, World
from tests.entitlement.test_subscriptions import _billing


def _quantities(w: World, sid: str) -> list[tuple[str, datetime, int]]:
    return [(t.type.value, t.effective_date, t.quantity) for t in w.view(sid).transitions]


def test_quantity_now_takes_effect_and_is_announced(world: World) -> None:
    sid = world.create("silver-monthly", quantity=2)
    world.advance(days=3)
    world.kb.entitlements.update_quantity(world.ctx, sid, 5)
    now = T0 + timedelta(days=3)
    assert _quantities(world, sid) == [("CREATE", T0, 2), ("QUANTITY_CHANGE", now, 5)]
    assert world.view(sid).current.quantity == 5  # type: ignore[union-attr]
    assert world.published(sid)[-1] == "SubscriptionQuantityChangeEvent"
    # a new billing event at the new quantity, the fixed price kept (only a BCD change drops it)
    assert [(kind, when) for kind, when, *_ in _billing(world)] == [("CREATE", T0), ("QUANTITY_CHANGE", now)]
    # Kill Bill lists no event for it (SubscriptionEventType has no quantity type)
    assert [e.event_type for e in subscription_events(world.view(sid))] == ["START_ENTITLEMENT", "START_BILLING"]


def test_today_is_now_and_a_later_date_waits_for_its_reference_time(world: World) -> None:
    sid = world.create("silver-monthly")
    world.advance(hours=5)  # 15:00 UTC, still 2024-01-15 for the account (UTC, reference time 10:00)
    world.kb.entitlements.update_quantity(world.ctx, sid, 3, date(2024, 1, 15))
    assert _quantities(world, sid)[-1] == ("QUANTITY_CHANGE", T0 + timedelta(hours=5), 3)
    world.kb.entitlements.update_quantity(world.ctx, sid, 4, date(2024, 2, 1))
    later = datetime(2024, 2, 1, 10, 0, tzinfo=UTC)
    assert _quantities(world, sid)[-1] == ("QUANTITY_CHANGE", later, 4)
    assert world.view(sid).current.quantity == 3  # type: ignore[union-attr]
    assert world.published(sid).count("SubscriptionQuantityChangeEvent") == 1
    world.advance(days=17)  # 2024-02-01T15:00
    assert world.view(sid).current.quantity == 4  # type: ignore[union-attr]
    assert world.published(sid).count("SubscriptionQuantityChangeEvent") == 2


def test_past_date_needs_the_force_flag(world: World) -> None:
    sid = world.create("silver-monthly")
    world.advance(days=10)
    before = world.subscription_event_count()
    with pytest.raises(InvalidInput, match="effectiveFromDate: Changing a subscription bcd or quantity in the past"):
        world.kb.entitlements.update_quantity(world.ctx, sid, 3, date(2024, 1, 20))
    assert world.subscription_event_count() == before
    world.kb.entitlements.update_quantity(world.ctx, sid, 3, date(2024, 1, 20), force_past=True)
    assert _quantities(world, sid)[-1] == ("QUANTITY_CHANGE", datetime(2024, 1, 20, 10, 0, tzinfo=UTC), 3)


def test_refused_quantities_and_unknown_subscription(world: World) -> None:
    sid = world.create("silver-monthly")
    for bad in (0, -2):
        with pytest.raises(InvalidInput, match="quantity"):
            world.kb.entitlements.update_quantity(world.ctx, sid, bad)
    with pytest.raises(NotFound) as e:
        world.kb.entitlements.update_quantity(world.ctx, "00000000-0000-0000-0000-000000000000", 2)
    assert e.value.code == 1082


def test_a_plan_change_keeps_the_quantity(world: World) -> None:
    """Kill Bill carries the last quantity set through plan changes and phases (`NextBillingCycleDayLocal`);
    a change asks for no quantity of its own."""
    sid = world.create("gold-monthly", quantity=2)
    world.advance(days=5)
    world.kb.entitlements.update_quantity(world.ctx, sid, 7)
    world.kb.entitlements.change_plan(world.ctx, sid, SubscriptionRequest(account_id="", plan_name="silver-monthly",
                                                                          quantity=1))
    assert [(kind, q) for kind, _, q in _quantities(world, sid)] == [
        ("CREATE", 2), ("QUANTITY_CHANGE", 7), ("CHANGE", 7)]
    assert world.view(sid).current.quantity == 7  # type: ignore[union-attr]


def test_quantity_of_another_tenants_subscription_is_not_found(world: World, billow: object) -> None:
    from billow.core.context import CallContext

    sid = world.create("silver-monthly")
    other = world.kb.tenants.create(CallContext(user_name="tests"), f"other-{sid[:8]}", "secret")
    with pytest.raises(BillowError) as e:
        world.kb.entitlements.update_quantity(CallContext(user_name="t").for_tenant(other.record_id, other.id), sid, 2)
    assert e.value.status == 404
