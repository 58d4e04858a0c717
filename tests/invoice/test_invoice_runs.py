"""Invoice runs on SQLite and PostgreSQL, driven by subscription events and the test clock.

Expected figures follow billing-semantics.md Part 4 (Kill Bill's rules): in-advance periods from the
BCD, proration = days / days of the billing period, two-step rounding, repair capped by what was billed,
CBA applied to the oldest unpaid invoice first.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from billow.core.errors import BillowError
from billow.entitlement.model import BillingActionPolicy, EntitlementActionPolicy, SubscriptionRequest
from billow.invoice.model import InvoiceItemType, InvoiceStatus
from billow.invoice.service import ItemInput, NothingToInvoice
from tests.invoice.scenarios import World, invoices_of, items_of

R, FX, REP, CBA = "RECURRING", "FIXED", "REPAIR_ADJ", "CBA_ADJ"


def _balances(w: World) -> tuple[D, D]:
    return w.kb.invoices.account_balances(w.ctx, w.kb.accounts.get(w.ctx, w.account.id))


def test_trial_then_evergreen_invoices_and_next_billing_dates(w: World) -> None:
    sid = w.create("gold-monthly")
    invs = invoices_of(w)
    assert [items_of(i) for i in invs] == [[(FX, date(2024, 1, 15), date(2024, 2, 14), D(0))]]
    w.advance(days=31)  # phase on 2024-02-14
    w.advance(days=30)  # next billing date 2024-03-14
    invs = invoices_of(w)
    assert [items_of(i) for i in invs[1:]] == [
        [(R, date(2024, 2, 14), date(2024, 3, 14), D(30))],
        [(R, date(2024, 3, 14), date(2024, 4, 14), D(30))],
    ]
    assert [(i.invoice_date, i.target_date) for i in invs] == [
        (date(2024, 1, 15), date(2024, 1, 15)), (date(2024, 2, 15), date(2024, 2, 14)),
        (date(2024, 3, 16), date(2024, 3, 14))]
    numbers = [i.invoice_number for i in invs]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert all(i.status is InvoiceStatus.COMMITTED for i in invs)
    assert w.view(sid).subscription.charged_through_date == datetime(2024, 4, 14, 10, 0, tzinfo=UTC)
    assert w.kb.accounts.get(w.ctx, w.account.id).bill_cycle_day_local == 14
    assert _balances(w) == (D("60.00"), D("0.00"))


def test_upgrade_immediately_repairs_the_old_plan(w: World) -> None:
    sid = w.create("silver-monthly")
    w.advance(days=10)
    w.kb.entitlements.change_plan(w.ctx, sid, SubscriptionRequest(account_id="", plan_name="gold-monthly"))
    invs = invoices_of(w)
    assert items_of(invs[0]) == [(R, date(2024, 1, 15), date(2024, 2, 15), D(20))]
    # 21 of 31 days: gold 30 × 21/31 = 20.32, silver repaired 20 × 21/31 = 13.55; the credit left
    # on the second invoice is nil (its balance is positive)
    assert items_of(invs[1]) == [(R, date(2024, 1, 25), date(2024, 2, 15), D("20.32")),
                                 (REP, date(2024, 1, 25), date(2024, 2, 15), D("-13.55"))]
    assert _balances(w) == (D("26.77"), D("0.00"))


def test_downgrade_end_of_term_bills_the_new_plan_from_the_charged_through_date(w: World) -> None:
    sid = w.create("gold-monthly")
    w.advance(days=31)
    w.kb.entitlements.change_plan(w.ctx, sid, SubscriptionRequest(account_id="", plan_name="silver-monthly"))
    w.advance(days=30)
    invs = invoices_of(w)
    assert [items_of(i) for i in invs[1:]] == [
        [(R, date(2024, 2, 14), date(2024, 3, 14), D(30))],
        [(R, date(2024, 3, 14), date(2024, 4, 14), D(20))],
    ]
    assert invs[2].items[0].plan_name == "silver-monthly"


def test_cancel_immediately_repairs_and_credit_pays_the_older_invoice(w: World) -> None:
    sid = w.create("silver-monthly")
    w.advance(days=10)
    w.kb.entitlements.cancel(w.ctx, sid, entitlement_policy=EntitlementActionPolicy.IMMEDIATE,
                             billing_policy=BillingActionPolicy.IMMEDIATE)
    invs = invoices_of(w)
    assert len(invs) == 2
    rep = [it for it in invs[1].items if it.type is InvoiceItemType.REPAIR_ADJ]
    assert [(it.start_date, it.end_date, it.amount) for it in rep] == [(date(2024, 1, 25), date(2024, 2, 15),
                                                                        D("-13.55"))]
    # the repair's credit (+13.55) goes to the account, then pays the first invoice (−13.55)
    assert sorted(it.amount for i in invs for it in i.items if it.type is InvoiceItemType.CBA_ADJ) == [
        D("-13.55"), D("13.55")]
    assert _balances(w) == (D("6.45"), D("0.00"))
    w.advance(days=40)
    assert len(invoices_of(w)) == 2


def test_cancel_end_of_term_bills_nothing_more(w: World) -> None:
    sid = w.create("silver-monthly")
    w.advance(days=10)
    w.kb.entitlements.cancel(w.ctx, sid)
    w.advance(days=45)
    invs = invoices_of(w)
    assert [items_of(i) for i in invs] == [[(R, date(2024, 1, 15), date(2024, 2, 15), D(20))]]


def test_bcd_31_clamps_to_the_end_of_short_months(w: World) -> None:
    w.clock.set(datetime(2024, 1, 31, 10, 0, tzinfo=UTC))
    w.create("silver-monthly")
    w.advance(days=29)  # 2024-02-29
    w.advance(days=31)  # 2024-03-31
    w.advance(days=30)  # 2024-04-30
    invs = invoices_of(w)
    assert [items_of(i) for i in invs] == [
        [(R, date(2024, 1, 31), date(2024, 2, 29), D(20))],
        [(R, date(2024, 2, 29), date(2024, 3, 31), D(20))],
        [(R, date(2024, 3, 31), date(2024, 4, 30), D(20))],
        [(R, date(2024, 4, 30), date(2024, 5, 31), D(20))],
    ]
    assert w.kb.accounts.get(w.ctx, w.account.id).bill_cycle_day_local == 31


def test_annual_plan_after_trial(w: World) -> None:
    w.create("gold-annual")
    w.advance(days=31)
    invs = invoices_of(w)
    assert [items_of(i) for i in invs] == [
        [(FX, date(2024, 1, 15), date(2024, 2, 14), D(0))],
        [(R, date(2024, 2, 14), date(2025, 2, 14), D(300))],
    ]


def test_in_arrear_bills_the_past_period(w: World) -> None:
    w.create("silver-arrear")
    assert invoices_of(w) == []
    w.advance(days=31)  # 2024-02-15
    w.advance(days=29)  # 2024-03-15
    invs = invoices_of(w)
    assert [items_of(i) for i in invs] == [
        [(R, date(2024, 1, 15), date(2024, 2, 15), D(20))],
        [(R, date(2024, 2, 15), date(2024, 3, 15), D(20))],
    ]


def test_pause_and_resume_repair_then_bill_the_rest(w: World) -> None:
    sid = w.create("silver-monthly")
    bundle = w.view(sid).subscription.bundle_id
    w.advance(days=10)
    w.kb.entitlements.pause_bundle(w.ctx, bundle)
    w.advance(days=10)
    w.kb.entitlements.resume_bundle(w.ctx, bundle)
    invs = invoices_of(w)
    assert len(invs) == 3
    assert [(it.type.value, it.start_date, it.end_date, it.amount) for it in invs[1].items
            if it.type is InvoiceItemType.REPAIR_ADJ] == [(REP, date(2024, 1, 25), date(2024, 2, 15), D("-13.55"))]
    # resumed 2024-02-04: 11 of 31 days = 7.10
    assert [(it.type.value, it.start_date, it.end_date, it.amount) for it in invs[2].items
            if it.type is InvoiceItemType.RECURRING] == [(R, date(2024, 2, 4), date(2024, 2, 15), D("7.10"))]
    assert _balances(w)[0] == D("13.55")


def test_account_credit_is_consumed_by_later_invoices(w: World) -> None:
    credit = w.kb.invoices.add_items(w.ctx, w.account.id, [ItemInput(amount=D(50))], InvoiceItemType.CREDIT_ADJ,
                                     requested=None, auto_commit=True)
    assert credit[0].amount == D(-50)
    assert _balances(w) == (D("-50.00"), D("50.00"))
    w.create("silver-monthly")
    w.advance(days=31)
    invs = invoices_of(w)
    assert [sorted(it.amount for it in i.items) for i in invs] == [[D(-50), D(50)], [D(-20), D(20)],
                                                                   [D(-20), D(20)]]
    assert _balances(w) == (D("-10.00"), D("10.00"))


def test_item_adjustment_lowers_the_balance(w: World) -> None:
    w.create("silver-monthly")
    inv = invoices_of(w)[0]
    rec = inv.items[0]
    adjusted = w.kb.invoices.adjust_item(w.ctx, inv.id, ItemInput(invoice_item_id=rec.id, amount=D(5)),
                                         requested=None)
    assert [(it.type.value, it.amount, it.linked_item_id) for it in adjusted.items] == [
        (R, D(20), None), ("ITEM_ADJ", D(-5), rec.id)]
    assert _balances(w)[0] == D("15.00")
    with pytest.raises(BillowError):
        w.kb.invoices.adjust_item(w.ctx, inv.id, ItemInput(invoice_item_id=rec.id, amount=D(16)), requested=None)
    assert len(w.kb.invoices.get(w.ctx, inv.id).items) == 2


def test_external_charge_on_a_draft_then_commit(w: World) -> None:
    first = w.kb.invoices.add_items(w.ctx, w.account.id, [ItemInput(amount=D("7.5"), description="setup")],
                                    InvoiceItemType.EXTERNAL_CHARGE, requested=None, auto_commit=False)
    draft_id = first[0].invoice_id
    assert w.kb.invoices.get(w.ctx, draft_id).status is InvoiceStatus.DRAFT
    assert _balances(w)[0] == D("0.00")
    w.kb.invoices.add_items(w.ctx, w.account.id, [ItemInput(amount=D("2.5"), invoice_id=draft_id)],
                            InvoiceItemType.EXTERNAL_CHARGE, requested=None, auto_commit=False)
    w.kb.invoices.commit(w.ctx, draft_id)
    inv = w.kb.invoices.get(w.ctx, draft_id)
    assert inv.status is InvoiceStatus.COMMITTED and sorted(it.amount for it in inv.items) == [D("2.5"), D("7.5")]
    assert _balances(w)[0] == D("10.00")
    with pytest.raises(BillowError):  # a COMMITTED invoice takes no more items
        w.kb.invoices.add_items(w.ctx, w.account.id, [ItemInput(amount=D(1), invoice_id=draft_id)],
                                InvoiceItemType.EXTERNAL_CHARGE, requested=None, auto_commit=False)


def test_void_then_rebill(w: World) -> None:
    w.create("silver-monthly")
    first = invoices_of(w)[0]
    w.kb.invoices.void(w.ctx, first.id)
    assert _balances(w)[0] == D("0.00")
    again = w.kb.invoices.trigger(w.ctx, w.account.id, None)
    assert items_of(again) == [(R, date(2024, 1, 15), date(2024, 2, 15), D(20))]
    with pytest.raises(NothingToInvoice):
        w.kb.invoices.trigger(w.ctx, w.account.id, None)
    assert _balances(w)[0] == D("20.00")


def test_dry_run_writes_nothing(w: World) -> None:
    w.create("silver-monthly")
    before = invoices_of(w)
    dry = w.kb.invoices.dry_run(w.ctx, w.account.id, date(2024, 3, 20))
    assert dry is not None and items_of(dry) == [(R, date(2024, 3, 15), date(2024, 4, 15), D(20))]
    assert invoices_of(w) == before
    assert w.kb.invoices.dry_run(w.ctx, w.account.id, date(2024, 1, 20)) is None
    w.clock.add(timedelta(0))
