"""Closing an account (Kill Bill's `AccountResource.closeAccount`), each option on the test clock, on SQLite and
PostgreSQL: subscriptions, invoice balances after a write-off or item adjustments, the CLOSE_ACCOUNT blocking
state, and no invoice after a clock move once the future notifications are gone."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from billow.account.model import AccountData
from billow.core.bus.tables import notifications
from billow.core.context import CallContext
from billow.core.errors import BillowError, NotFound
from billow.core.objects import ObjectType
from billow.entitlement.model import BlockingStateType, SubscriptionRequest, SubscriptionState
from billow.invoice.credit import balance
from billow.invoice.model import InvoiceItemType
from billow.invoice.service import ItemInput
from billow.invoice.store import schedule
from tests.invoice.scenarios import World, invoices_of

JAN_15 = date(2024, 1, 15)


def _close(w: World, **options: bool) -> None:
    w.kb.closing.close(w.ctx, w.account.id, **options)
    assert w.kb.run_until_idle(30)


def _balances(w: World) -> tuple[D, D]:
    return w.kb.invoices.account_balances(w.ctx, w.account)


def _close_states(w: World) -> list[tuple[str, str, str, bool, bool, bool]]:
    return [(s.type.value, s.state_name, s.service, s.block_change, s.block_entitlement, s.block_billing)
            for s in w.kb.entitlements.blocking_states(w.ctx, w.account.id) if s.type is BlockingStateType.ACCOUNT]


def _future_work(w: World) -> tuple[int, int]:
    """(the account's pending notifications, its pending next billing dates)."""
    with w.kb.db.read_connection() as conn:
        n = conn.execute(select(func.count()).select_from(notifications).where(
            notifications.c.search_key1 == w.account.record_id)).scalar_one()
        s = conn.execute(select(func.count()).select_from(schedule).where(
            schedule.c.account_record_id == w.account.record_id)).scalar_one()
    return int(n), int(s)


def test_cancel_all_and_write_off(w: World) -> None:
    base = w.create("silver-monthly")
    addon = w.create("boost-monthly", bundle_id=w.view(base).bundle.id)
    course = w.create("course-fixedterm")
    w.advance(days=1)
    before = invoices_of(w)
    assert sum((balance(inv) for inv in before), D(0)) == D("170.00")  # 20 + 50 + 100; the add-on's trial is free
    assert _balances(w)[0] == D("170.00")

    _close(w, cancel_all_subscriptions=True, write_off_unpaid_invoices=True)

    now = w.clock.utcnow()
    for sub_id in (base, addon):
        view = w.view(sub_id)
        assert view.state is SubscriptionState.CANCELLED
        assert view.entitlement_end == now  # entitlement IMMEDIATE
    # a fixed-term subscription has its billing end (its expiry) already: passed over, as cancel refuses it
    assert w.view(course).state is SubscriptionState.ACTIVE
    assert w.view(course).billing_end == datetime(2024, 4, 15, 10, 0, tzinfo=UTC)
    # billing END_OF_TERM: to the charged-through date of each, not repaired
    assert w.view(base).billing_end == datetime(2024, 2, 15, 10, 0, tzinfo=UTC)
    after = invoices_of(w)
    assert [inv.id for inv in after] == [inv.id for inv in before]
    assert all(inv.written_off and balance(inv) == 0 for inv in after)
    assert _balances(w) == (D("0.00"), D("0.00"))
    assert all(not any(it.type is InvoiceItemType.ITEM_ADJ for it in inv.items) for inv in after)
    tags = w.kb.tags.tags_of(w.ctx, ObjectType.INVOICE, after[0].id)
    assert [t.definition_name for t in tags] == ["WRITTEN_OFF"]
    assert _close_states(w) == [("ACCOUNT", "CLOSE_ACCOUNT", "account-service", True, False, False)]

    w.advance(days=95)
    assert len(invoices_of(w)) == len(before)
    assert _balances(w) == (D("0.00"), D("0.00"))


def test_item_adjust_unpaid_invoices_in_full_with_the_comment(w: World) -> None:
    w.create("silver-monthly")
    w.advance(days=1)
    [invoice] = invoices_of(w)
    recurring = next(it for it in invoice.items if it.type is InvoiceItemType.RECURRING)
    w.kb.invoices.adjust_item(w.ctx, invoice.id, ItemInput(invoice_item_id=recurring.id, amount=D("5")),
                              requested=None)  # partly adjusted already: what is left is adjusted
    ctx = CallContext(user_name="closer", comments="customer left").for_tenant(w.ctx.tenant, w.ctx.tenant_id or "")
    w.kb.closing.close(ctx, w.account.id, item_adjust_unpaid_invoices=True)
    assert w.kb.run_until_idle(30)

    [after] = invoices_of(w)
    adjustments = sorted((it.amount, it.description, it.start_date) for it in after.items
                         if it.type is InvoiceItemType.ITEM_ADJ)
    assert adjustments == [(D("-15.00"), "customer left", date(2024, 1, 16)), (D("-5.00"), None, date(2024, 1, 16))]
    assert balance(after) == 0 and not after.written_off
    assert _balances(w) == (D("0.00"), D("0.00"))
    assert w.view(after.items[0].subscription_id or "").state is SubscriptionState.ACTIVE  # not cancelled
    assert _close_states(w) == [("ACCOUNT", "CLOSE_ACCOUNT", "account-service", True, False, False)]


def test_item_adjust_describes_close_account_without_a_comment(w: World) -> None:
    w.create("silver-monthly")
    invoices_of(w)
    ctx = CallContext(user_name="closer").for_tenant(w.ctx.tenant, w.ctx.tenant_id or "")
    w.kb.closing.close(ctx, w.account.id, item_adjust_unpaid_invoices=True)
    [after] = invoices_of(w)
    assert [(it.amount, it.description) for it in after.items if it.type is InvoiceItemType.ITEM_ADJ] == [
        (D("-20.00"), "Close Account")]


def test_write_off_wins_over_item_adjustment(w: World) -> None:
    w.create("silver-monthly")
    invoices_of(w)
    _close(w, write_off_unpaid_invoices=True, item_adjust_unpaid_invoices=True)
    [after] = invoices_of(w)
    assert after.written_off
    assert not any(it.type is InvoiceItemType.ITEM_ADJ for it in after.items)


def test_removing_future_notifications_stops_invoicing(w: World) -> None:
    w.create("silver-monthly")
    assert len(invoices_of(w)) == 1
    assert _future_work(w)[1] > 0
    _close(w)  # removeFutureNotifications defaults to true

    assert _future_work(w) == (0, 0)
    w.advance(days=70)
    [invoice] = invoices_of(w)
    assert balance(invoice) == D("20.00")  # nothing written off or adjusted without asking
    assert w.view(invoice.items[0].subscription_id or "").state is SubscriptionState.ACTIVE


def test_keeping_future_notifications_keeps_invoicing(w: World) -> None:
    w.create("silver-monthly")
    assert len(invoices_of(w)) == 1
    _close(w, remove_future_notifications=False)
    assert _close_states(w) == [("ACCOUNT", "CLOSE_ACCOUNT", "account-service", True, False, False)]
    w.advance(days=32)
    assert len(invoices_of(w)) == 2


def test_a_paid_or_written_off_invoice_is_left_alone(w: World) -> None:
    w.create("silver-monthly")
    [invoice] = invoices_of(w)
    recurring = next(it for it in invoice.items if it.type is InvoiceItemType.RECURRING)
    w.kb.invoices.adjust_item(w.ctx, invoice.id, ItemInput(invoice_item_id=recurring.id), requested=None)
    _close(w, item_adjust_unpaid_invoices=True, cancel_all_subscriptions=True)
    [after] = invoices_of(w)
    assert [it.amount for it in after.items if it.type is InvoiceItemType.ITEM_ADJ] == [D("-20.00")]


def test_closing_again_adds_nothing_it_has_done(w: World) -> None:
    sub = w.create("silver-monthly")
    invoices_of(w)
    _close(w, cancel_all_subscriptions=True, write_off_unpaid_invoices=True)
    _close(w, cancel_all_subscriptions=True, write_off_unpaid_invoices=True)  # nothing left to cancel or write off
    assert w.view(sub).state is SubscriptionState.CANCELLED
    [after] = invoices_of(w)
    assert after.written_off
    assert len(_close_states(w)) == 2  # Kill Bill adds the state each time


def test_an_unknown_account_or_one_of_another_tenant_is_not_found(w: World) -> None:
    with pytest.raises(NotFound):
        w.kb.closing.close(w.ctx, str(uuid.uuid4()))
    tenant = w.kb.tenants.create(CallContext(user_name="t"), f"t-{uuid.uuid4().hex[:12]}", "s")
    other = CallContext(user_name="t").for_tenant(tenant.record_id, tenant.id)
    with pytest.raises(NotFound):
        w.kb.closing.close(other, w.account.id, cancel_all_subscriptions=True, write_off_unpaid_invoices=True)
    assert _close_states(w) == []


def test_another_account_is_untouched(w: World) -> None:
    w.create("silver-monthly")
    other = w.kb.accounts.create(w.ctx, AccountData(name="Other", currency="USD"))
    [other_sub] = w.kb.entitlements.create(w.ctx, [SubscriptionRequest(account_id=other.id,
                                                                       plan_name="silver-monthly")])
    invoices_of(w)
    _close(w, cancel_all_subscriptions=True, write_off_unpaid_invoices=True)
    assert w.view(other_sub.id).state is SubscriptionState.ACTIVE
    [other_invoice] = w.kb.invoices.of_account(w.ctx, other.id)
    assert balance(other_invoice) == D("20.00") and not other_invoice.written_off
    w.advance(days=32)
    assert len(w.kb.invoices.of_account(w.ctx, other.id)) == 2


def test_a_closed_account_refuses_plan_changes(w: World) -> None:
    sub = w.create("silver-monthly")
    w.advance(days=1)
    _close(w)
    with pytest.raises(BillowError) as refused:  # CLOSE_ACCOUNT blocks changes (Kill Bill's BLOCK_BLOCKED_ACTION)
        w.kb.entitlements.change_plan(w.ctx, sub, SubscriptionRequest(account_id=w.account.id,
                                                                      plan_name="gold-monthly"))
    assert refused.value.code == 6000
    assert w.view(sub).current is not None and w.view(sub).current.plan.name == "silver-monthly"  # type: ignore[union-attr]
