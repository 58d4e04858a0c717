"""Moving account credit, on SQLite and PostgreSQL: a child's credit to its parent (Kill Bill's
`transferChildCreditToParent`, `DefaultInvoiceDao.transferChildCreditToParent`) and an account's credit onto its
unpaid invoices (`consumeExistingCBAOnAccountWithUnpaidInvoices`, `CBADao.doCBAComplexityFromTransaction`)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from billow.account.model import Account, AccountData
from billow.core.errors import BillowError, NotFound
from billow.invoice import store
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus
from billow.invoice.service import ItemInput
from tests.invoice.scenarios import World, items_of

EXT, CR, CBA = "EXTERNAL_CHARGE", "CREDIT_ADJ", "CBA_ADJ"


def _credit(w: World, account: Account, amount: str) -> None:
    w.kb.invoices.add_items(w.ctx, account.id, [ItemInput(amount=D(amount))], InvoiceItemType.CREDIT_ADJ,
                            requested=None, auto_commit=True)


def _invoices(w: World, account: Account) -> list[Invoice]:
    assert w.kb.run_until_idle(30)
    return w.kb.invoices.of_account(w.ctx, account.id)


def _balances(w: World, account: Account) -> tuple[D, D]:
    return w.kb.invoices.account_balances(w.ctx, w.kb.accounts.get(w.ctx, account.id))


def _child(w: World, parent: Account | None, **kw: object) -> Account:
    return w.kb.accounts.create(w.ctx, AccountData(name="Child", currency="USD",
                                                   parent_account_id=parent.id if parent else None, **kw))  # type: ignore[arg-type]


def test_child_credit_moves_to_the_parent(w: World) -> None:
    parent = w.account
    child = _child(w, parent, time_zone="Pacific/Honolulu")  # UTC-10: its invoice date is the day before
    w.clock.set(datetime(2024, 1, 16, 5, 0, tzinfo=UTC))
    _credit(w, child, "25")
    assert _balances(w, child) == (D("-25.00"), D("25.00"))
    w.kb.invoices.transfer_child_credit_to_parent(w.ctx, child.id)
    moved = _invoices(w, child)[-1]
    assert (moved.status, moved.invoice_date, moved.target_date) == (
        InvoiceStatus.COMMITTED, date(2024, 1, 15), date(2024, 1, 16))
    assert items_of(moved) == [(CBA, date(2024, 1, 16), date(2024, 1, 16), D("-25.00")),
                               (EXT, date(2024, 1, 16), date(2024, 1, 16), D("25.00"))]
    assert [it.description for it in moved.items if it.type is InvoiceItemType.EXTERNAL_CHARGE] == [
        "Charge to move credit from child to parent account"]
    [received] = _invoices(w, parent)
    assert (received.status, received.invoice_date, received.target_date) == (
        InvoiceStatus.COMMITTED, date(2024, 1, 16), date(2024, 1, 16))
    assert items_of(received) == [(CBA, date(2024, 1, 16), date(2024, 1, 16), D("25.00")),
                                  (CR, date(2024, 1, 16), date(2024, 1, 16), D("-25.00"))]
    assert [it.description for it in received.items if it.type is InvoiceItemType.CREDIT_ADJ] == [
        f"Credit migrated from child account {child.id}"]
    assert _balances(w, child) == (D("0.00"), D("0.00"))
    assert _balances(w, parent) == (D("-25.00"), D("25.00"))
    assert "InvoiceCreationEvent" in w.published(moved.id) and "InvoiceCreationEvent" in w.published(received.id)


def test_the_credit_pays_what_the_parent_owes(w: World) -> None:
    parent = w.account
    w.create("silver-monthly")  # the parent owes 20
    assert len(_invoices(w, parent)) == 1  # (invoiced once the bus has run)
    child = _child(w, parent)
    _credit(w, child, "15")
    w.kb.invoices.transfer_child_credit_to_parent(w.ctx, child.id)
    owed = _invoices(w, parent)[0]
    assert sorted(it.amount for it in owed.items) == [D("-15.00"), D("20")]
    assert _balances(w, parent) == (D("5.00"), D("0.00"))


def test_transfer_credit_refusals(w: World) -> None:
    lone = _child(w, None)
    _credit(w, lone, "5")
    with pytest.raises(BillowError) as e:
        w.kb.invoices.transfer_child_credit_to_parent(w.ctx, lone.id)
    assert (e.value.status, e.value.code, e.value.message) == (
        400, 3009, f"The Account {lone.id} does not have a Parent Account associated")
    assert e.value.class_name == "org.killbill.billing.invoice.api.InvoiceApiException"
    broke = _child(w, w.account)
    with pytest.raises(BillowError) as e:
        w.kb.invoices.transfer_child_credit_to_parent(w.ctx, broke.id)
    assert (e.value.status, e.value.code, e.value.message) == (
        400, 4027, f"Child account {broke.id} does not have credit")
    with pytest.raises(NotFound):
        w.kb.invoices.transfer_child_credit_to_parent(w.ctx, "00000000-0000-0000-0000-000000000000")
    assert _invoices(w, w.account) == [] and len(_invoices(w, lone)) == 1


def _unpaid_without_credit_applied(w: World, day: date, amount: str) -> str:
    """A COMMITTED invoice written without the credit logic (as an import or an older version would leave it)."""
    invoice_id = str(uuid.uuid4())
    item = InvoiceItem(id=str(uuid.uuid4()), invoice_id=invoice_id, account_id=w.account.id,
                       type=InvoiceItemType.EXTERNAL_CHARGE, start_date=day, end_date=day, amount=D(amount),
                       currency="USD")
    invoice = Invoice(id=invoice_id, account_id=w.account.id, invoice_date=day, target_date=None, currency="USD",
                      status=InvoiceStatus.COMMITTED)
    with w.kb.db.transaction(w.ctx) as uow:
        uow.insert_many("invoices", [store.invoice_row(invoice, w.account.record_id)])
        uow.insert_many("invoice_items", [store.item_row(item, w.account.record_id)])
    return invoice_id


def test_rebalancing_pays_the_oldest_unpaid_invoices_with_the_credit(w: World) -> None:
    _credit(w, w.account, "40")
    newer = _unpaid_without_credit_applied(w, date(2024, 1, 10), "30")
    older = _unpaid_without_credit_applied(w, date(2024, 1, 5), "30")
    assert _balances(w, w.account) == (D("20.00"), D("40.00"))
    w.clock.add(timedelta(hours=1))
    w.kb.invoices.rebalance_credit(w.ctx, w.account.id)
    cba = {inv.id: [(it.start_date, it.amount) for it in inv.items if it.type is InvoiceItemType.CBA_ADJ]
           for inv in _invoices(w, w.account)}
    assert cba[older] == [(date(2024, 1, 15), D("-30.00"))]
    assert cba[newer] == [(date(2024, 1, 15), D("-10.00"))]
    assert _balances(w, w.account) == (D("20.00"), D("0.00"))
    # nothing left to use: a second call writes nothing, and Kill Bill announces none of it
    w.kb.invoices.rebalance_credit(w.ctx, w.account.id)
    assert sum(len(inv.items) for inv in _invoices(w, w.account)) == 6
    assert w.published(older) == [] and w.published(newer) == []
    with pytest.raises(NotFound):
        w.kb.invoices.rebalance_credit(w.ctx, "00000000-0000-0000-0000-000000000000")
