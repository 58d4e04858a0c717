"""Subscriptions through the service API on SQLite and PostgreSQL, driven by the test clock.

Dates and rules are Kill Bill's (billing-semantics.md Part 2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from billow.catalog.model import PhaseType
from billow.core.errors import BillowError, InvalidInput
from billow.entitlement.model import (
    BillingActionPolicy,
    EntitlementActionPolicy,
    SubscriptionRequest,
    SubscriptionState,
)
from billow.junction.engine import AccountBillingContext, billing_events
from tests.entitlement.conftest import T0, World


def _billing(w: World) -> list[tuple[str, datetime, str | None, object, object, int]]:
    account = w.kb.accounts.get(w.ctx, w.account.id)
    with w.kb.db.read(w.ctx) as uow:
        subs, blocking = w.kb.entitlements.internal.billing_inputs(uow, [account.record_id])[account.record_id]
        catalog = w.kb.catalogs.internal.catalog(uow)
    assert catalog is not None
    result = billing_events(AccountBillingContext(account.id, "USD", account.time,
                                                  account.bill_cycle_day_local), subs, blocking, catalog)
    return [(e.transition_type.value, e.effective_date, e.phase_name, e.fixed_price, e.recurring_price,
             e.bill_cycle_day_local) for e in result.events]


def test_trial_to_evergreen_fires_on_its_day(world: World) -> None:
    sid = world.create("gold-monthly")
    v = world.view(sid)
    assert v.state is SubscriptionState.ACTIVE
    assert v.current is not None and v.current.phase is not None and v.current.phase.type is PhaseType.TRIAL
    assert [t.type.value for t in v.transitions] == ["CREATE", "PHASE"]
    assert v.transitions[1].effective_date == T0 + timedelta(days=30)
    assert world.published(sid) == ["SubscriptionCreationEvent", "EntitlementCreationEvent"]
    world.advance(days=29, hours=23)
    assert world.view(sid).current.phase.type is PhaseType.TRIAL  # type: ignore[union-attr]
    assert world.published(sid) == ["SubscriptionCreationEvent", "EntitlementCreationEvent"]
    world.advance(hours=1)
    assert world.view(sid).current.phase.type is PhaseType.EVERGREEN  # type: ignore[union-attr]
    assert world.published(sid)[-1] == "SubscriptionPhaseEvent"


def test_immediate_change_happens_now(world: World) -> None:
    sid = world.create("silver-monthly")
    world.advance(days=10)
    world.kb.entitlements.change_plan(world.ctx, sid, SubscriptionRequest(account_id="", plan_name="gold-monthly"))
    v = world.view(sid)
    assert v.current is not None and v.current.plan is not None and v.current.plan.name == "gold-monthly"
    change = v.transitions[1]
    assert change.type.value == "CHANGE" and change.effective_date == T0 + timedelta(days=10)
    # START_OF_SUBSCRIPTION alignment: the subscription started in EVERGREEN (silver has no trial) and gold has
    # that phase type, so gold's phases start there: no new trial (PlanAligner.getTimedPhaseOnChange)
    assert change.phase is not None and change.phase.type is PhaseType.EVERGREEN
    assert len(v.transitions) == 2
    assert world.published(sid)[-1] == "SubscriptionChangeEvent"


def test_end_of_term_change_happens_at_the_charged_through_date(world: World) -> None:
    sid = world.create("gold-monthly")
    world.advance(days=31)  # evergreen now
    ctd = T0 + timedelta(days=30) + timedelta(days=31)
    world.set_ctd(sid, ctd)
    world.kb.entitlements.change_plan(world.ctx, sid, SubscriptionRequest(account_id="", plan_name="silver-monthly"))
    v = world.view(sid)
    assert v.current is not None and v.current.plan is not None and v.current.plan.name == "gold-monthly"
    assert [(t.type.value, t.effective_date) for t in v.transitions][-1] == ("CHANGE", ctd)
    world.advance(days=30)
    assert world.view(sid).current.plan.name == "silver-monthly"  # type: ignore[union-attr]
    assert world.published(sid)[-1] == "SubscriptionChangeEvent"


def test_undo_pending_change(world: World) -> None:
    sid = world.create("gold-monthly")
    world.advance(days=31)
    world.set_ctd(sid, T0 + timedelta(days=61))
    world.kb.entitlements.change_plan(world.ctx, sid, SubscriptionRequest(account_id="", plan_name="silver-monthly"))
    world.kb.entitlements.undo_change(world.ctx, sid)
    assert [t.type.value for t in world.view(sid).transitions] == ["CREATE", "PHASE"]
    with pytest.raises(BillowError) as err:
        world.kb.entitlements.undo_change(world.ctx, sid)
    assert err.value.code == 1023


def test_cancel_end_of_term_and_uncancel(world: World) -> None:
    sid = world.create("gold-monthly")
    world.advance(days=31)
    ctd = T0 + timedelta(days=61)
    world.set_ctd(sid, ctd)
    world.kb.entitlements.cancel(world.ctx, sid, entitlement_policy=EntitlementActionPolicy.END_OF_TERM)
    v = world.view(sid)
    assert v.state is SubscriptionState.ACTIVE
    assert v.billing_end == ctd and v.entitlement_end == ctd
    world.kb.entitlements.uncancel(world.ctx, sid)
    assert world.view(sid).billing_end is None
    assert world.published(sid)[-1] == "SubscriptionUncancelEvent"
    world.kb.entitlements.cancel(world.ctx, sid)  # catalog policy: END_OF_TERM for a base
    assert world.view(sid).billing_end == ctd
    world.advance(days=31)
    v = world.view(sid)
    assert v.state is SubscriptionState.CANCELLED
    assert world.published(sid)[-2:] == ["SubscriptionCancelEvent", "EntitlementCancelEvent"] or \
        world.published(sid)[-2:] == ["EntitlementCancelEvent", "SubscriptionCancelEvent"]
    with pytest.raises(BillowError) as err:
        world.kb.entitlements.uncancel(world.ctx, sid)
    assert err.value.code == 1070


def test_cancel_immediately_and_cancel_again_is_refused(world: World) -> None:
    sid = world.create("silver-monthly")
    world.advance(days=3)
    world.kb.entitlements.cancel(world.ctx, sid, entitlement_policy=EntitlementActionPolicy.IMMEDIATE,
                                 billing_policy=BillingActionPolicy.IMMEDIATE)
    v = world.view(sid)
    assert v.state is SubscriptionState.CANCELLED
    assert v.billing_end == T0 + timedelta(days=3)
    before = world.subscription_event_count()
    with pytest.raises(BillowError) as err:
        world.kb.entitlements.cancel(world.ctx, sid)
    assert err.value.code == 1031
    assert world.subscription_event_count() == before


def test_cancel_with_requested_date(world: World) -> None:
    sid = world.create("silver-monthly")
    world.kb.entitlements.cancel(world.ctx, sid, requested_date=date(2024, 3, 1), use_requested_date_for_billing=True)
    v = world.view(sid)
    # a date takes the account's reference time of day (the account was created at T0, 10:00 UTC)
    assert v.billing_end == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert v.entitlement_end == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def test_addon_phases_align_on_the_bundle_and_follow_the_base(world: World) -> None:
    base = world.create("silver-monthly")
    bundle_id = world.view(base).subscription.bundle_id
    world.advance(days=14)
    addon = world.create("boost-monthly", bundle_id=bundle_id)
    v = world.view(addon)
    # START_OF_BUNDLE: the add-on's 30-day trial counts from the base's start, 16 days are left
    assert [(t.type.value, t.effective_date) for t in v.transitions] == [
        ("CREATE", T0 + timedelta(days=14)), ("PHASE", T0 + timedelta(days=30))]
    world.kb.entitlements.cancel(world.ctx, base, entitlement_policy=EntitlementActionPolicy.IMMEDIATE,
                                 billing_policy=BillingActionPolicy.IMMEDIATE)
    assert world.view(addon).state is SubscriptionState.CANCELLED
    assert world.view(addon).billing_end == T0 + timedelta(days=14)


def test_addon_rules(world: World) -> None:
    gold = world.create("gold-monthly")
    bundle_id = world.view(gold).subscription.bundle_id
    before = world.subscription_event_count()
    with pytest.raises(BillowError) as included:
        world.create("shield-monthly", bundle_id=bundle_id)
    assert included.value.code == 1018 and "Already included" in included.value.message
    with pytest.raises(BillowError) as unavailable:
        world.create("lone-monthly", bundle_id=bundle_id)
    assert unavailable.value.code == 1019
    silver = world.create("silver-monthly")
    silver_bundle = world.view(silver).subscription.bundle_id
    world.create("shield-monthly", bundle_id=silver_bundle)
    with pytest.raises(BillowError):  # plansAllowedInBundle = 1
        world.create("shield-monthly", bundle_id=silver_bundle)
    assert world.subscription_event_count() == before + 2


def test_change_of_base_cancels_addons_now_included(world: World) -> None:
    silver = world.create("silver-monthly")
    bundle_id = world.view(silver).subscription.bundle_id
    shield = world.create("shield-monthly", bundle_id=bundle_id)
    world.advance(days=2)
    world.kb.entitlements.change_plan(world.ctx, silver, SubscriptionRequest(account_id="", plan_name="gold-monthly"))
    assert world.view(shield).billing_end == T0 + timedelta(days=2)


def test_illegal_change_and_unknown_plan_are_refused(world: World) -> None:
    sid = world.create("gold-annual")
    world.advance(days=31)
    before = world.subscription_event_count()
    with pytest.raises(BillowError) as illegal:
        world.kb.entitlements.change_plan(world.ctx, sid,
                                          SubscriptionRequest(account_id="", plan_name="silver-monthly"))
    assert illegal.value.code == 2001 and "not allowed by catalog rules" in illegal.value.message
    with pytest.raises(BillowError) as unknown:
        world.create("platinum-monthly")
    assert unknown.value.code == 2021 and unknown.value.status == 400
    with pytest.raises(InvalidInput):
        world.kb.entitlements.create(world.ctx, [SubscriptionRequest(account_id=world.account.id)])
    assert world.subscription_event_count() == before


def test_pause_blocks_billing_and_entitlement_and_resume_lifts_it(world: World) -> None:
    sid = world.create("silver-monthly")
    bundle_id = world.view(sid).subscription.bundle_id
    world.kb.entitlements.pause_bundle(world.ctx, bundle_id, date(2024, 2, 1))
    assert world.view(sid).state is SubscriptionState.ACTIVE
    world.clock.set(datetime(2024, 2, 2, tzinfo=UTC))
    assert world.kb.run_until_idle(20)
    assert world.view(sid).state is SubscriptionState.BLOCKED
    world.kb.entitlements.resume_bundle(world.ctx, bundle_id, date(2024, 2, 10))
    world.clock.set(datetime(2024, 2, 11, tzinfo=UTC))
    assert world.kb.run_until_idle(20)
    assert world.view(sid).state is SubscriptionState.ACTIVE
    events = _billing(world)
    assert [(e[0], e[1]) for e in events] == [
        ("CREATE", T0),
        ("START_BILLING_DISABLED", datetime(2024, 2, 1, 10, 0, tzinfo=UTC)),
        ("END_BILLING_DISABLED", datetime(2024, 2, 10, 10, 0, tzinfo=UTC)),
    ]
    assert events[1][4] is None and events[2][4] == 20
    assert "BundlePauseEvent" in world.published(bundle_id) and "BundleResumeEvent" in world.published(bundle_id)


def test_bcd_change_takes_effect_on_its_date(world: World) -> None:
    sid = world.create("silver-monthly")
    assert _billing(world)[0][5] == 15  # account BCD 0: taken from the subscription (Jan 15)
    world.kb.entitlements.update_bcd(world.ctx, sid, 20)
    events = _billing(world)
    assert [(e[0], e[1], e[5]) for e in events] == [
        ("CREATE", T0, 15), ("BCD_CHANGE", datetime(2024, 1, 20, 10, 0, tzinfo=UTC), 20)]
    assert events[1][3] is None  # a BCD change never re-charges a fixed price
    with pytest.raises(InvalidInput):
        world.kb.entitlements.update_bcd(world.ctx, sid, 32)


def test_annual_plan_is_aligned_on_the_subscription(world: World) -> None:
    world.kb.accounts.update(world.ctx, world.account.id, __import__("billow.account.model", fromlist=["x"])
                             .AccountData(bill_cycle_day_local=1))
    sid = world.create("gold-annual")
    events = _billing(world)
    # ANNUAL -> SUBSCRIPTION alignment: BCD = day of the first paying date (trial end, Feb 14)
    assert [(e[0], e[5]) for e in events] == [("CREATE", 14), ("PHASE", 14)]
    assert world.view(sid).bill_cycle_day_local == 14


def test_fixed_term_plan_expires(world: World) -> None:
    sid = world.create("course-fixedterm")
    v = world.view(sid)
    assert [t.type.value for t in v.transitions] == ["CREATE", "EXPIRED"]
    assert v.transitions[1].effective_date == datetime(2024, 4, 15, 10, 0, tzinfo=UTC)
    world.clock.set(datetime(2024, 4, 16, tzinfo=UTC))
    assert world.kb.run_until_idle(20)
    assert world.view(sid).state is SubscriptionState.EXPIRED
    assert world.published(sid)[-1] == "SubscriptionExpiredEvent"


def test_future_start_is_pending(world: World) -> None:
    sid = world.kb.entitlements.create(world.ctx, [SubscriptionRequest(account_id=world.account.id,
                                                                       plan_name="silver-monthly")],
                                       entitlement_date=date(2024, 3, 1))[0].id
    v = world.view(sid)
    assert v.state is SubscriptionState.PENDING
    assert v.subscription.start_date == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    world.clock.set(datetime(2024, 3, 2, tzinfo=UTC))
    assert world.kb.run_until_idle(20)
    assert world.view(sid).state is SubscriptionState.ACTIVE


def test_price_override_is_used_by_billing(world: World) -> None:
    from decimal import Decimal

    from billow.entitlement.model import PhasePriceOverride

    world.create("silver-monthly", price_overrides=(PhasePriceOverride("silver-monthly-evergreen", None, None,
                                                                       Decimal("17.50")),))
    assert _billing(world)[0][4] == Decimal("17.50")


def test_account_without_currency_cannot_subscribe(world: World) -> None:
    from billow.account.model import AccountData

    bare = world.kb.accounts.create(world.ctx, AccountData(name="no currency"))
    with pytest.raises(InvalidInput, match="currency"):
        world.kb.entitlements.create(world.ctx, [SubscriptionRequest(account_id=bare.id, plan_name="silver-monthly")])


def test_external_keys_in_use_are_refused_and_write_nothing(world: World) -> None:
    """Kill Bill's 1014: a subscription key in use; a bundle key of an active bundle (an ended bundle's key may
    be given again). A key given twice in one call is refused as one already stored."""
    from billow.core.errors import Conflict

    first = world.create("gold-monthly", external_key="sub-key", bundle_external_key="bundle-key")
    before = world.subscription_event_count()

    def refused(*requests: SubscriptionRequest) -> str:
        with pytest.raises(Conflict) as c:
            world.kb.entitlements.create(world.ctx, list(requests))
        assert c.value.code == 1014 and c.value.status == 409
        return c.value.message

    def req(plan: str, **kw: object) -> SubscriptionRequest:
        return SubscriptionRequest(account_id=world.account.id, plan_name=plan, **kw)  # type: ignore[arg-type]

    assert refused(req("silver-monthly", external_key="sub-key")) == \
        "Subscription with external key sub-key already exists"
    assert refused(req("silver-monthly", bundle_external_key="bundle-key")) == \
        "Active bundle with external key bundle-key already exists"
    # within one call: a base and its add-on under one key
    assert refused(req("silver-monthly", external_key="twice", bundle_external_key="b2"),
                   req("shield-monthly", external_key="twice", bundle_external_key="b2")) == \
        "Subscription with external key twice already exists"
    assert world.subscription_event_count() == before
    with pytest.raises(BillowError, match="Could not find a bundle matching key b2"):
        world.kb.entitlements.bundles_by_key(world.ctx, "b2")
    # once its bundle has ended, the bundle key may be given again
    world.kb.entitlements.cancel(world.ctx, first, entitlement_policy=EntitlementActionPolicy.IMMEDIATE,
                                 billing_policy=BillingActionPolicy.IMMEDIATE)
    again = world.create("silver-monthly", bundle_external_key="bundle-key")
    assert world.view(again).subscription.bundle_id != world.view(first).subscription.bundle_id
    # keys left to Billow are the new ids
    sid = world.create("silver-monthly")
    view = world.view(sid)
    assert view.subscription.external_key == sid
    bundle = world.kb.entitlements.bundles_by_key(world.ctx, view.subscription.bundle_id)
    assert [b.id for b, _ in bundle] == [view.subscription.bundle_id]
