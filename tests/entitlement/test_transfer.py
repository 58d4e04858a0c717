"""Bundle transfers, key renames and bundle pages through the service API on SQLite and PostgreSQL (Kill Bill's
`transferBundle`: `DefaultEntitlementApi.transferEntitlementsOverrideBillingPolicy`,
`DefaultSubscriptionBaseTransferApi`, `DefaultSubscriptionDao.transfer`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from billow.account.model import Account, AccountData
from billow.core.errors import BillowError, Conflict, InvalidInput, NotFound
from billow.entitlement.model import (
    BcdTransfer,
    BillingActionPolicy,
    SubscriptionRequest,
    SubscriptionState,
)
from billow.entitlement.views import SubscriptionView, subscription_events
from tests.entitlement.conftest import T0, World

CTD = datetime(2024, 2, 15, 10, 0, tzinfo=UTC)  # silver-monthly created at T0, invoiced a month ahead


def _destination(w: World, currency: str | None = "USD") -> Account:
    return w.kb.accounts.create(w.ctx, AccountData(name="Destination", currency=currency))


def _bundle(w: World, sid: str) -> str:
    return w.view(sid).subscription.bundle_id


def _moved(w: World, bundle_id: str) -> list[SubscriptionView]:
    return w.kb.entitlements.bundle_views(w.ctx, bundle_id)[1]


def test_end_of_term_transfer(world: World) -> None:
    sid = world.create("silver-monthly", bundle_external_key="bk-eot")
    old_bundle = _bundle(world, sid)
    world.advance(days=10)
    assert world.view(sid).subscription.charged_through_date == CTD
    dest = _destination(world)
    new = world.kb.entitlements.transfer_bundle(world.ctx, old_bundle, dest.id)
    now = T0 + timedelta(days=10)
    # the source stops billing at its charged-through date, its entitlement ends now
    old = world.view(sid)
    assert old.billing_end == CTD and old.entitlement_end == now and old.state is SubscriptionState.CANCELLED
    old_bundle_now = world.kb.entitlements.bundle_views(world.ctx, old_bundle)[0]
    assert old_bundle_now.external_key == f"kbtsf-{old_bundle_now.record_id}:bk-eot"
    # the destination: a new bundle with the key, the original creation date, and a copy from now
    assert (new.account_id, new.external_key, new.original_created_date) == (dest.id, "bk-eot", T0)
    [copy] = _moved(world, new.id)
    assert copy.subscription.id != sid and copy.subscription.account_id == dest.id
    assert copy.subscription.external_key == copy.subscription.id
    assert [(t.type.value, t.effective_date, t.plan.name if t.plan else None) for t in copy.transitions] == [
        ("TRANSFER", now, "silver-monthly")]
    assert copy.state is SubscriptionState.ACTIVE and copy.entitlement_start == now
    assert copy.subscription.start_date == now and copy.subscription.align_start_date == T0
    assert [e.event_type for e in subscription_events(copy)] == ["START_ENTITLEMENT", "START_BILLING"]
    assert world.published(copy.subscription.id) == ["SubscriptionCreationEvent", "EntitlementCreationEvent"]
    assert world.published(sid)[-1] == "EntitlementCancelEvent"
    # both bundles answer to the key (the old one renamed), the active one last
    assert [b.id for b, _ in world.kb.entitlements.bundles_by_key(world.ctx, "bk-eot")] == [old_bundle, new.id]
    world.advance(days=21)  # the charged-through date passes: the source's cancellation is announced
    assert world.published(sid)[-1] == "SubscriptionCancelEvent"


def test_immediate_transfer_of_a_base_with_its_add_on_at_a_requested_date(world: World) -> None:
    base = world.create("gold-monthly")
    bundle = _bundle(world, base)
    addon = world.kb.entitlements.create(world.ctx, [SubscriptionRequest(
        account_id=world.account.id, plan_name="boost-monthly", bundle_id=bundle)])[0].id
    world.advance(days=40)  # both in EVERGREEN since 2024-02-14
    dest = _destination(world)
    new = world.kb.entitlements.transfer_bundle(world.ctx, bundle, dest.id, requested_date=date(2024, 2, 20),
                                                billing_policy=BillingActionPolicy.IMMEDIATE,
                                                subscription_keys={addon: "moved-boost"})
    at = datetime(2024, 2, 20, 10, 0, tzinfo=UTC)  # the date at the source account's reference time
    assert world.view(base).billing_end == at and world.view(addon).billing_end == at
    copies = {v.subscription.category.value: v for v in _moved(world, new.id)}
    assert [(t.type.value, t.phase.name if t.phase else None) for t in copies["BASE"].transitions] == [
        ("TRANSFER", "gold-monthly-evergreen")]
    assert [(t.type.value, t.phase.name if t.phase else None) for t in copies["ADD_ON"].transitions] == [
        ("TRANSFER", "boost-monthly-evergreen")]
    assert copies["ADD_ON"].subscription.external_key == "moved-boost"
    assert all(v.subscription.bundle_start_date == at for v in copies.values())


def test_end_of_term_add_on_stops_with_its_base_and_a_pending_change_moves(world: World) -> None:
    base = world.create("silver-monthly")
    bundle = _bundle(world, base)
    addon = world.kb.entitlements.create(world.ctx, [SubscriptionRequest(
        account_id=world.account.id, plan_name="shield-monthly", bundle_id=bundle)])[0].id
    world.kb.entitlements.change_plan(world.ctx, base, SubscriptionRequest(account_id="", plan_name="gold-monthly"),
                                      requested_date=date(2024, 3, 1))
    world.advance(days=10)
    new = world.kb.entitlements.transfer_bundle(world.ctx, bundle, _destination(world).id)
    assert world.view(base).billing_end == CTD and world.view(addon).billing_end == CTD
    # the pending change, after the source's cancellation, no longer happens there
    assert [t.type.value for t in world.view(base).transitions] == ["CREATE", "CANCEL"]
    copy = next(v for v in _moved(world, new.id) if v.subscription.category.value == "BASE")
    assert [(t.type.value, t.effective_date, t.plan.name if t.plan else None) for t in copy.transitions] == [
        ("TRANSFER", T0 + timedelta(days=10), "silver-monthly"),
        ("CHANGE", datetime(2024, 3, 1, 10, 0, tzinfo=UTC), "gold-monthly")]


@pytest.mark.parametrize(("policy", "expected"), [(BcdTransfer.USE_EXISTING, [20]),
                                                   (BcdTransfer.ALIGN_WITH_EFF_DT, [25]), (BcdTransfer.NONE, [])])
def test_bill_cycle_day_changes_follow_the_bcd_transfer_policy(world: World, policy: BcdTransfer,
                                                               expected: list[int]) -> None:
    sid = world.create("silver-monthly", quantity=3)
    world.kb.entitlements.update_bcd(world.ctx, sid, 20)
    world.advance(days=10)  # 2024-01-25
    new = world.kb.entitlements.transfer_bundle(world.ctx, _bundle(world, sid), _destination(world).id,
                                                bcd_transfer=policy)
    [copy] = _moved(world, new.id)
    assert [t.bill_cycle_day_local for t in copy.transitions if t.type.value == "BCD_CHANGE"] == expected
    assert copy.transitions[0].quantity == 3


def test_refusals(world: World) -> None:
    sid = world.create("silver-monthly", external_key="kept-key")
    bundle = _bundle(world, sid)
    dest = _destination(world)
    with pytest.raises(NotFound) as e:
        world.kb.entitlements.transfer_bundle(world.ctx, "00000000-0000-0000-0000-000000000000", dest.id)
    assert e.value.code == 1081
    with pytest.raises(NotFound) as e:
        world.kb.entitlements.transfer_bundle(world.ctx, bundle, "00000000-0000-0000-0000-000000000000")
    assert e.value.code == 3002
    with pytest.raises(InvalidInput, match="billingPolicy"):
        world.kb.entitlements.transfer_bundle(world.ctx, bundle, dest.id,
                                              billing_policy=BillingActionPolicy.START_OF_TERM)
    with pytest.raises(InvalidInput, match="currency"):
        world.kb.entitlements.transfer_bundle(world.ctx, bundle, _destination(world, currency=None).id)
    with pytest.raises(Conflict) as c:  # the copy cannot take a key in use
        world.kb.entitlements.transfer_bundle(world.ctx, bundle, dest.id, subscription_keys={sid: "kept-key"})
    assert c.value.code == 1014
    before = world.subscription_event_count()
    assert world.view(sid).billing_end is None and before == 1  # nothing of the refused transfers was written
    world.kb.entitlements.transfer_bundle(world.ctx, bundle, dest.id, billing_policy=BillingActionPolicy.IMMEDIATE)
    # transferred away: nothing left to move
    with pytest.raises(BillowError) as e:
        world.kb.entitlements.transfer_bundle(world.ctx, bundle, dest.id)
    assert (e.value.status, e.value.code) == (400, 1083)


def test_rename_key_and_bundle_pages(world: World) -> None:
    first = _bundle(world, world.create("silver-monthly", bundle_external_key="a-key"))
    second = _bundle(world, world.create("gold-monthly", bundle_external_key="b-key"))
    world.kb.entitlements.rename_bundle_key(world.ctx, first, "renamed")
    assert world.kb.entitlements.bundle_views(world.ctx, first)[0].external_key == "renamed"
    with pytest.raises(InvalidInput, match="externalKey"):
        world.kb.entitlements.rename_bundle_key(world.ctx, first, "")
    with pytest.raises(NotFound):
        world.kb.entitlements.rename_bundle_key(world.ctx, "00000000-0000-0000-0000-000000000000", "x")
    page = world.kb.entitlements.bundles_page(world.ctx, 0, 1)
    assert ([b.id for b, _ in page.items], page.total, page.max_records) == ([first], 2, 2)
    assert [v.subscription.bundle_id for v in page.items[0][1]] == [first]
    page = world.kb.entitlements.bundles_page(world.ctx, 1, 5)
    assert [b.id for b, _ in page.items] == [second]
    # search: the id, the account id or the key, exactly
    for key, found in ((second, [second]), ("b-key", [second]), (world.account.id, [first, second]),
                       ("b-ke", []), ("renamed", [first])):
        page = world.kb.entitlements.bundles_page(world.ctx, 0, 10, search_key=key)
        assert ([b.id for b, _ in page.items], page.total, page.max_records) == (found, len(found), 2)
    other = _destination(world)
    assert world.kb.entitlements.bundles_page(world.ctx, 0, 10, account_id=other.id).items == []
    page = world.kb.entitlements.bundles_page(world.ctx, 0, 10, account_id=world.account.id)
    assert (len(page.items), page.total, page.max_records) == (2, 2, 2)
    with pytest.raises(NotFound):
        world.kb.entitlements.bundles_page(world.ctx, 0, 10, account_id="00000000-0000-0000-0000-000000000000")
