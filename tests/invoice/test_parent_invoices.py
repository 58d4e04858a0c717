"""Parent summary invoices on the test clock (SQLite and PostgreSQL): a parent account with two children whose
payments are delegated to it.

Expected figures follow Kill Bill's rules (`InvoiceDispatcher.processParentInvoiceForInvoiceGeneration`,
`processParentInvoiceForAdjustmentsWithLock`, `DefaultInvoice.getBalance`, `DefaultInvoiceDao.getAccountBalance`;
Kill Bill's `TestIntegrationParentInvoice` walks the same steps): one DRAFT parent invoice a day with one
PARENT_SUMMARY item per child, committed at 23:59:59.999 UTC; child invoices show no balance while the parent
invoice is DRAFT, and their own balance once it is COMMITTED and unpaid.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from billow.account.model import Account, AccountData
from billow.invoice.model import Invoice, InvoiceItemType, InvoiceStatus
from billow.invoice.parent import COMMIT_QUEUE
from billow.invoice.service import ItemInput
from tests.invoice.scenarios import World

PS, ADJ = InvoiceItemType.PARENT_SUMMARY, InvoiceItemType.ITEM_ADJ


class Family:
    def __init__(self, w: World) -> None:
        self.w = w
        kb, ctx = w.kb, w.ctx
        self.parent = kb.accounts.create(ctx, AccountData(name="Parent", external_key=_key("parent"), currency="USD"))
        self.child1 = self._child("child1")
        self.child2 = self._child("child2")

    def _child(self, name: str) -> Account:
        return self.w.kb.accounts.create(self.w.ctx, AccountData(
            name=name, external_key=_key(name), currency="USD", parent_account_id=self.parent.id,
            is_payment_delegated_to_parent=True))

    def subscribe(self, account: Account, plan: str) -> None:
        from billow.entitlement.model import SubscriptionRequest

        self.w.kb.entitlements.create(self.w.ctx, [SubscriptionRequest(account_id=account.id, plan_name=plan)])
        assert self.w.kb.run_until_idle(30)

    def charge(self, account: Account, amount: str) -> str:
        items = self.w.kb.invoices.add_items(self.w.ctx, account.id, [ItemInput(amount=D(amount))],
                                             InvoiceItemType.EXTERNAL_CHARGE, requested=None, auto_commit=True)
        assert self.w.kb.run_until_idle(30)
        return items[0].invoice_id

    def invoices(self, account: Account) -> list[Invoice]:
        assert self.w.kb.run_until_idle(30)
        return self.w.kb.invoices.of_account(self.w.ctx, account.id)

    def balances(self, account: Account) -> tuple[D, D]:
        return self.w.kb.invoices.account_balances(self.w.ctx, self.w.kb.accounts.get(self.w.ctx, account.id))

    def at(self, when: datetime) -> None:
        self.w.clock.set(when)
        assert self.w.kb.run_until_idle(30)


def _key(name: str) -> str:
    import uuid

    return f"{name}-{uuid.uuid4().hex[:8]}"


def _summaries(inv: Invoice) -> list[tuple[str | None, D]]:
    return [(it.child_account_id, it.amount) for it in inv.items if it.type is PS]


def _balance(kb_invoice: Invoice) -> D:
    from billow.invoice.credit import balance

    return balance(kb_invoice)


@pytest.fixture()
def family(w: World) -> Family:
    return Family(w)


def _commit_notifications(w: World) -> list[tuple[str, datetime]]:
    entries = w.kb.queues.entries(w.ctx, queue_name=COMMIT_QUEUE, with_history=False,
                                 max_date=datetime(2030, 1, 1, tzinfo=UTC))
    return [(n["event"]["uuidKey"], datetime.fromisoformat(n["effectiveDate"].replace("Z", "+00:00")))
            for n in entries["notifications"] if n["queueName"] == COMMIT_QUEUE]


def test_two_children_summarised_on_one_draft_committed_at_the_end_of_the_utc_day(family: Family) -> None:
    f, w = family, family.w
    f.subscribe(f.child1, "gold-monthly")    # 30-day trial: FIXED 0
    f.subscribe(f.child2, "silver-monthly")  # 20.00 a month
    [parent] = f.invoices(f.parent)
    assert parent.status is InvoiceStatus.DRAFT and parent.is_parent_invoice
    assert parent.invoice_date == date(2024, 1, 15)
    assert _summaries(parent) == [(f.child1.id, D("0")), (f.child2.id, D("20.00"))]
    assert [it.description for it in parent.items] == [f"{f.child1.external_key} summary",
                                                        f"{f.child2.external_key} summary"]
    [child2_invoice] = f.invoices(f.child2)
    # the child invoice knows its parent invoice; no balance while the parent invoice is DRAFT
    assert (child2_invoice.parent_invoice_id, child2_invoice.parent_account_id) == (parent.id, f.parent.id)
    assert _balance(child2_invoice) == 0 and _balance(parent) == 0
    assert f.balances(f.child2) == (D("0.00"), D("0.00")) and f.balances(f.parent) == (D("0.00"), D("0.00"))
    # one commit notification, at 23:59:59.999 UTC of the day
    assert _commit_notifications(w) == [(parent.id, datetime(2024, 1, 15, 23, 59, 59, 999000, tzinfo=UTC))]

    f.at(datetime(2024, 1, 15, 23, 59, 59, 998000, tzinfo=UTC))
    assert f.invoices(f.parent)[0].status is InvoiceStatus.DRAFT
    f.at(datetime(2024, 1, 15, 23, 59, 59, 999000, tzinfo=UTC))
    [parent] = f.invoices(f.parent)
    assert parent.status is InvoiceStatus.COMMITTED and _balance(parent) == D("20.00")
    # committed and unpaid: the child's invoice shows its own balance again (Kill Bill counts it on both)
    [child2_invoice] = f.invoices(f.child2)
    assert _balance(child2_invoice) == D("20.00")
    assert f.balances(f.child2) == (D("20.00"), D("0.00")) and f.balances(f.parent) == (D("20.00"), D("0.00"))
    assert _commit_notifications(w) == []


def test_same_day_invoices_of_a_child_add_up_on_its_summary_item(family: Family) -> None:
    f = family
    f.subscribe(f.child2, "silver-monthly")
    f.at(datetime(2024, 1, 16, 9, 0, tzinfo=UTC))  # the first parent invoice is committed
    first_charge = f.charge(f.child2, "5")
    f.charge(f.child1, "7")
    third_charge = f.charge(f.child2, "3")
    first, second = f.invoices(f.parent)
    assert first.status is InvoiceStatus.COMMITTED and second.status is InvoiceStatus.DRAFT
    assert second.invoice_date == date(2024, 1, 16)
    assert _summaries(second) == [(f.child2.id, D("8.00")), (f.child1.id, D("7.00"))]
    by_id = {inv.id: inv for inv in f.invoices(f.child2)}
    assert by_id[first_charge].parent_invoice_id == second.id
    # as in Kill Bill, an amount added to an existing summary item stores no parent/child link
    assert by_id[third_charge].parent_invoice_id is None

    f.at(datetime(2024, 1, 17, tzinfo=UTC))
    first, second = f.invoices(f.parent)
    assert second.status is InvoiceStatus.COMMITTED and _balance(second) == D("15.00")
    assert f.balances(f.parent) == (D("35.00"), D("0.00"))
    # child2: 20 (first invoice) + 5 (parent COMMITTED, unpaid) + 3 (not linked to the parent)
    assert f.balances(f.child2) == (D("28.00"), D("0.00"))


def test_item_adjustment_of_a_child_follows_the_parent_invoice(family: Family) -> None:
    f, w = family, family.w
    f.subscribe(f.child2, "silver-monthly")
    [child_invoice] = f.invoices(f.child2)
    recurring = child_invoice.items[0]
    # parent DRAFT: the summary item's amount follows
    w.kb.invoices.adjust_item(w.ctx, child_invoice.id, ItemInput(invoice_item_id=recurring.id, amount=D("4")),
                              requested=None)
    [parent] = f.invoices(f.parent)
    assert parent.status is InvoiceStatus.DRAFT and _summaries(parent) == [(f.child2.id, D("16.00"))]

    # parent COMMITTED and unpaid: an ITEM_ADJ of the summary item on the parent invoice
    f.at(datetime(2024, 1, 16, tzinfo=UTC))
    w.kb.invoices.adjust_item(w.ctx, child_invoice.id, ItemInput(invoice_item_id=recurring.id, amount=D("1.50")),
                              requested=None)
    [parent] = f.invoices(f.parent)
    summary = next(it for it in parent.items if it.type is PS)
    [adj] = [it for it in parent.items if it.type is ADJ]
    assert (adj.amount, adj.linked_item_id, adj.description) == (
        D("-1.50"), summary.id, f"Adjustment for account {f.child2.external_key}")
    assert adj.start_date == adj.end_date == date(2024, 1, 16)
    assert _balance(parent) == D("14.50")
    assert f.balances(f.parent) == (D("14.50"), D("0.00"))


def test_credit_of_a_child_lowers_the_draft_summary_and_is_used_on_its_unpaid_invoice(family: Family) -> None:
    """Kill Bill's testParentInvoiceGenerationChildCreditUnpaidInvoice, on this catalog."""
    f, w = family, family.w
    f.subscribe(f.child2, "silver-monthly")
    w.kb.invoices.add_items(w.ctx, f.child2.id, [ItemInput(amount=D("10"))], InvoiceItemType.CREDIT_ADJ,
                            requested=None, auto_commit=True)
    recurring_invoice, credit_invoice = f.invoices(f.child2)
    assert sorted((it.type.value, it.amount) for it in recurring_invoice.items) == [
        ("CBA_ADJ", D("-10.00")), ("RECURRING", D("20.00"))]
    assert _balance(recurring_invoice) == 0  # parent DRAFT
    [parent] = f.invoices(f.parent)
    assert _summaries(parent) == [(f.child2.id, D("10.00"))]
    assert credit_invoice.parent_invoice_id is None  # added to an existing summary item: no link

    f.at(datetime(2024, 1, 16, tzinfo=UTC))
    [parent] = f.invoices(f.parent)
    assert parent.status is InvoiceStatus.COMMITTED and _balance(parent) == D("10.00")
    assert f.balances(f.child2) == (D("10.00"), D("0.00"))


def test_a_credit_alone_makes_no_parent_invoice_nor_does_a_zero_charge(family: Family) -> None:
    f, w = family, family.w
    w.kb.invoices.add_items(w.ctx, f.child1.id, [ItemInput(amount=D("10"))], InvoiceItemType.CREDIT_ADJ,
                            requested=None, auto_commit=True)
    assert f.invoices(f.parent) == []
    assert f.balances(f.child1) == (D("-10.00"), D("10.00"))


def test_commit_time_is_the_tenants_setting_in_utc(family: Family) -> None:
    f, w = family, family.w
    w.kb.tenants.add_value(w.ctx, "PER_TENANT_CONFIG",
                           json.dumps({"org.killbill.invoice.parent.commit.local.utc.time": "08:30:00"}),
                           replace=True)
    f.subscribe(f.child2, "silver-monthly")  # at 10:00: 08:30 is past, tomorrow then
    [parent] = f.invoices(f.parent)
    assert _commit_notifications(w) == [(parent.id, datetime(2024, 1, 16, 8, 30, tzinfo=UTC))]
    f.at(datetime(2024, 1, 16, 8, 29, tzinfo=UTC))
    assert f.invoices(f.parent)[0].status is InvoiceStatus.DRAFT
    f.at(datetime(2024, 1, 16, 8, 30, tzinfo=UTC))
    assert f.invoices(f.parent)[0].status is InvoiceStatus.COMMITTED


def test_a_parent_invoice_committed_by_hand_is_left_as_it_is_by_its_notification(family: Family) -> None:
    f, w = family, family.w
    f.subscribe(f.child2, "silver-monthly")
    [parent] = f.invoices(f.parent)
    w.kb.invoices.commit(w.ctx, parent.id)
    f.at(datetime(2024, 1, 16, tzinfo=UTC))
    [parent] = f.invoices(f.parent)
    assert parent.status is InvoiceStatus.COMMITTED
    assert _commit_notifications(w) == []
    assert w.kb.queues.entries(w.ctx, only_failed=True)["notifications"] == []


def test_children_items_of_a_parent_invoice(family: Family) -> None:
    f, w = family, family.w
    f.subscribe(f.child1, "silver-monthly")
    f.subscribe(f.child2, "silver-monthly")
    [parent] = f.invoices(f.parent)
    items = w.kb.invoices.child_items(w.ctx, parent.id)
    assert sorted((it.account_id, it.type.value, it.amount) for it in items) == sorted(
        [(f.child1.id, "RECURRING", D("20.00")), (f.child2.id, "RECURRING", D("20.00"))])
    [child_invoice] = f.invoices(f.child1)
    assert w.kb.invoices.child_items(w.ctx, child_invoice.id) == []


def test_months_later_each_day_of_invoices_has_its_parent_invoice(family: Family) -> None:
    f = family
    f.subscribe(f.child1, "gold-monthly")    # trial then 30.00 from 2024-02-14
    f.subscribe(f.child2, "silver-monthly")  # 20.00 on the 15th
    for day in (14, 15, 16):
        f.at(datetime(2024, 2, day, 12, 0, tzinfo=UTC))
    parents = f.invoices(f.parent)
    assert [(p.invoice_date, p.status, _summaries(p)) for p in parents] == [
        (date(2024, 1, 15), InvoiceStatus.COMMITTED, [(f.child1.id, D("0")), (f.child2.id, D("20.00"))]),
        (date(2024, 2, 14), InvoiceStatus.COMMITTED, [(f.child1.id, D("30.00"))]),
        (date(2024, 2, 15), InvoiceStatus.COMMITTED, [(f.child2.id, D("20.00"))]),
    ]
    assert f.balances(f.parent) == (D("70.00"), D("0.00"))
    assert f.balances(f.child1) == (D("30.00"), D("0.00"))
    assert f.balances(f.child2) == (D("40.00"), D("0.00"))


def test_a_child_without_delegation_keeps_its_invoices(w: World) -> None:
    parent = w.kb.accounts.create(w.ctx, AccountData(name="P", currency="USD"))
    child = w.kb.accounts.create(w.ctx, AccountData(name="C", currency="USD", parent_account_id=parent.id,
                                                    is_payment_delegated_to_parent=False))
    from billow.entitlement.model import SubscriptionRequest

    w.kb.entitlements.create(w.ctx, [SubscriptionRequest(account_id=child.id, plan_name="silver-monthly")])
    assert w.kb.run_until_idle(30)
    assert w.kb.invoices.of_account(w.ctx, parent.id) == []
    assert w.kb.invoices.account_balances(w.ctx, w.kb.accounts.get(w.ctx, child.id)) == (D("20.00"), D("0.00"))

