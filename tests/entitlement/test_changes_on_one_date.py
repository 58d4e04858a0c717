"""Plan changes that take effect on the same instant, on SQLite and PostgreSQL.

Kill Bill's `DefaultSubscriptionDao.changePlan` deactivates the active events at or after a new CHANGE, and stores
a change on the creation instant as the creation (`isChangePlanOnStartDate`): the subscription's `events` then
show one CHANGE, with the plan before both changes and the last plan asked for."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from billow.entitlement.model import BillingActionPolicy, SubscriptionRequest
from billow.entitlement.store import subscription_events as events_table
from billow.entitlement.views import subscription_events
from tests.entitlement.conftest import T0, World

FEB_1 = datetime(2024, 2, 1, 10, 0, tzinfo=UTC)  # 2024-02-01 at the account's reference time


def _change(w: World, sid: str, plan: str, **kw: object) -> None:
    w.kb.entitlements.change_plan(w.ctx, sid, SubscriptionRequest(account_id="", plan_name=plan), **kw)  # type: ignore[arg-type]


def _listed(w: World, sid: str) -> list[tuple[str, datetime, str | None]]:
    return [(e.event_type, e.effective_date, e.transition.plan.name if e.transition and e.transition.plan else None)
            for e in subscription_events(w.view(sid))]


def _stored(w: World, sid: str) -> list[tuple[str, str | None, bool]]:
    t = events_table.table
    with w.kb.db.read_connection() as conn:
        rows = conn.execute(select(t.c.event_type, t.c.plan_name, t.c.is_active)
                            .where(t.c.subscription_id == sid).order_by(t.c.record_id)).all()
    return [(r.event_type, r.plan_name, bool(r.is_active)) for r in rows]


def test_two_changes_for_the_same_date_leave_the_last_one(world: World) -> None:
    sid = world.create("silver-monthly")
    _change(world, sid, "gold-monthly", requested_date=date(2024, 2, 1))
    _change(world, sid, "gold-annual", requested_date=date(2024, 2, 1))
    assert _listed(world, sid) == [("START_ENTITLEMENT", T0, "silver-monthly"), ("START_BILLING", T0, "silver-monthly"),
                                   ("CHANGE", FEB_1, "gold-annual")]
    assert _stored(world, sid) == [("CREATE", "silver-monthly", True), ("CHANGE", "gold-monthly", False),
                                   ("CHANGE", "gold-annual", True)]


def test_two_end_of_term_changes_leave_the_last_one(world: World) -> None:
    sid = world.create("silver-monthly")
    world.set_ctd(sid, datetime(2024, 2, 15, 10, 0, tzinfo=UTC))
    _change(world, sid, "gold-monthly", policy=BillingActionPolicy.END_OF_TERM)
    _change(world, sid, "gold-annual", policy=BillingActionPolicy.END_OF_TERM)
    changes = [e for e in _listed(world, sid) if e[0] == "CHANGE"]
    assert changes == [("CHANGE", datetime(2024, 2, 15, 10, 0, tzinfo=UTC), "gold-annual")]


def test_an_earlier_change_replaces_a_later_one(world: World) -> None:
    sid = world.create("silver-monthly")
    _change(world, sid, "gold-monthly", requested_date=date(2024, 2, 10))
    _change(world, sid, "gold-annual", requested_date=date(2024, 2, 1))
    assert [e for e in _listed(world, sid) if e[0] == "CHANGE"] == [("CHANGE", FEB_1, "gold-annual")]


def test_a_later_change_keeps_an_earlier_pending_one(world: World) -> None:
    sid = world.create("silver-monthly")
    _change(world, sid, "gold-monthly", requested_date=date(2024, 2, 1))
    _change(world, sid, "gold-annual", requested_date=date(2024, 2, 10))
    assert [e for e in _listed(world, sid) if e[0] == "CHANGE"] == [
        ("CHANGE", FEB_1, "gold-monthly"), ("CHANGE", datetime(2024, 2, 10, 10, 0, tzinfo=UTC), "gold-annual")]


def test_two_immediate_changes_are_both_listed(world: World) -> None:
    sid = world.create("silver-monthly")
    world.advance(days=2)
    _change(world, sid, "gold-monthly")  # Silver -> Gold: IMMEDIATE
    world.advance(minutes=5)
    _change(world, sid, "silver-monthly", policy=BillingActionPolicy.IMMEDIATE)
    first, second = T0 + timedelta(days=2), T0 + timedelta(days=2, minutes=5)
    assert [e for e in _listed(world, sid) if e[0] == "CHANGE"] == [
        ("CHANGE", first, "gold-monthly"), ("CHANGE", second, "silver-monthly")]
    assert all(active for *_, active in _stored(world, sid))


def test_a_change_on_the_start_instant_becomes_the_creation(world: World) -> None:
    sid = world.kb.entitlements.create(world.ctx, [SubscriptionRequest(account_id=world.account.id,
                                                                       plan_name="silver-monthly")],
                                       billing_date=date(2024, 2, 1), entitlement_date=date(2024, 2, 1))[0].id
    _change(world, sid, "gold-monthly", requested_date=date(2024, 2, 1))
    assert _listed(world, sid) == [("START_ENTITLEMENT", FEB_1, "gold-monthly"),
                                   ("START_BILLING", FEB_1, "gold-monthly")]
    assert _stored(world, sid) == [("CREATE", "silver-monthly", False), ("CREATE", "gold-monthly", True)]
    assert [t.type.value for t in world.view(sid).transitions][0] == "CREATE"


def test_two_changes_at_the_same_past_instant_leave_the_last_one(world: World) -> None:
    """Both already in effect: still one CHANGE (Kill Bill deactivates by date, not by being pending)."""
    sid = world.create("silver-monthly")
    world.advance(days=3)
    at = T0 + timedelta(days=1)
    _change(world, sid, "gold-monthly", requested_date=at)
    _change(world, sid, "gold-annual", requested_date=at)
    assert [e for e in _listed(world, sid) if e[0] == "CHANGE"] == [("CHANGE", at, "gold-annual")]
    assert world.view(sid).current.plan.name == "gold-annual"  # type: ignore[union-attr]


def test_a_change_at_a_phase_boundary_replaces_the_phase(world: World) -> None:
    """The trial ends on the very instant an end-of-term change takes effect: Kill Bill's change deactivates the
    PHASE due then, so only the CHANGE is listed (and announced)."""
    sid = world.create("gold-monthly")
    trial_end = T0 + timedelta(days=30)
    world.set_ctd(sid, trial_end)
    _change(world, sid, "silver-monthly", policy=BillingActionPolicy.END_OF_TERM)
    assert _listed(world, sid) == [("START_ENTITLEMENT", T0, "gold-monthly"), ("START_BILLING", T0, "gold-monthly"),
                                   ("CHANGE", trial_end, "silver-monthly")]
    world.advance(days=31)
    published = world.published(sid)
    assert "SubscriptionChangeEvent" in published and "SubscriptionPhaseEvent" not in published


def test_a_cancellation_at_a_phase_boundary_replaces_the_phase(world: World) -> None:
    sid = world.create("gold-monthly")
    world.set_ctd(sid, T0 + timedelta(days=30))
    world.kb.entitlements.cancel(world.ctx, sid, billing_policy=BillingActionPolicy.END_OF_TERM)
    assert [e[0] for e in _listed(world, sid)] == ["START_ENTITLEMENT", "START_BILLING", "STOP_ENTITLEMENT",
                                                   "STOP_BILLING"]
