"""Migration invoices and the deletion of credit items (SQLite and PostgreSQL).

Kill Bill: `DefaultInvoiceUserApi.createMigrationInvoice` (COMMITTED, migrated, balance always 0, its items
count as billed), `DefaultInvoiceDao.deleteCBA` ("Delete used credit", "Delete gen credit", "Reclaim used credit",
INVOICE_CBA_DELETED 4030 for a credit the system generated, INVOICE_NOT_FOUND 4006, INVOICE_ITEM_NOT_FOUND 4011).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from billow.account.model import AccountData
from billow.core.errors import BillowError, InvalidInput, NotFound
from billow.entitlement.model import BillingActionPolicy, EntitlementActionPolicy
from billow.invoice.dry_run import DryRunRequest
from billow.invoice.model import Invoice, InvoiceItemType, InvoiceStatus
from billow.invoice.service import ItemInput, MigrationItem
from billow.invoice.store import IT
from tests.invoice.scenarios import World, invoices_of

R, CBA = InvoiceItemType.RECURRING, InvoiceItemType.CBA_ADJ


def _balances(w: World) -> tuple[D, D]:
    return w.kb.invoices.account_balances(w.ctx, w.kb.accounts.get(w.ctx, w.account.id))


def _item_row(w: World, item_id: str) -> dict[str, object]:
    with w.kb.db.read_connection() as conn:
        return dict(conn.execute(select(IT).where(IT.c.id == item_id)).one()._mapping)


def _subscribe(w: World) -> Invoice:
    w.create("silver-monthly")
    [first] = invoices_of(w)  # billed before anything else happens
    return first


def _credit(w: World, amount: str) -> Invoice:
    [credit] = w.kb.invoices.add_items(w.ctx, w.account.id, [ItemInput(amount=D(amount))], InvoiceItemType.CREDIT_ADJ,
                                       requested=None, auto_commit=True)
    return w.kb.invoices.get(w.ctx, credit.invoice_id)


# ------------------------------------------------------------------------------------------- migration invoices
def test_a_migration_invoice_is_committed_with_no_balance(w: World) -> None:
    charge = ItemInput(amount=D("10"), description="migrated charge", start_date=date(2023, 12, 1))
    inv = w.kb.invoices.create_migration_invoice(w.ctx, w.account.id,
                                                 [MigrationItem(InvoiceItemType.EXTERNAL_CHARGE, charge)], None)
    assert inv.migrated and inv.status is InvoiceStatus.COMMITTED and inv.invoice_number is not None
    stored = w.kb.invoices.get(w.ctx, inv.id)
    assert (stored.invoice_date, stored.target_date) == (date(2024, 1, 15), date(2024, 1, 15))
    assert [(it.type, it.amount, it.description, it.start_date) for it in stored.items] == [
        (InvoiceItemType.EXTERNAL_CHARGE, D("10"), "migrated charge", date(2023, 12, 1))]
    assert _balances(w) == (D("0.00"), D("0.00"))
    assert "InvoiceCreationEvent" in w.published(inv.id)
    dated = w.kb.invoices.create_migration_invoice(w.ctx, w.account.id, [MigrationItem(
        InvoiceItemType.EXTERNAL_CHARGE, ItemInput(amount=D(1), currency="USD"))], date(2023, 6, 30))
    assert w.kb.invoices.get(w.ctx, dated.id).target_date == date(2023, 6, 30)


def test_migrated_items_count_as_billed(w: World) -> None:
    w.create("silver-monthly")
    [billed] = invoices_of(w)
    w.kb.invoices.void(w.ctx, billed.id)
    again = w.kb.invoices.dry_run(w.ctx, w.account.id, date(2024, 1, 15), DryRunRequest())
    assert again is not None and [(it.type, it.amount) for it in again.items] == [(R, D("20"))]
    it = billed.items[0]
    w.kb.invoices.create_migration_invoice(w.ctx, w.account.id, [MigrationItem(R, ItemInput(
        amount=it.amount, start_date=it.start_date, end_date=it.end_date, subscription_id=it.subscription_id,
        bundle_id=it.bundle_id, plan_name=it.plan_name, phase_name=it.phase_name, product_name=it.product_name,
        rate=it.rate))], None)
    assert w.kb.invoices.dry_run(w.ctx, w.account.id, date(2024, 1, 15), DryRunRequest()) is None


def test_migration_input_is_checked(w: World) -> None:
    ok = ItemInput(amount=D(1))
    with pytest.raises(InvalidInput, match="body"):
        w.kb.invoices.create_migration_invoice(w.ctx, w.account.id, [], None)
    with pytest.raises(InvalidInput, match="itemType"):
        w.kb.invoices.create_migration_invoice(w.ctx, w.account.id, [MigrationItem(None, ok)], None)
    with pytest.raises(InvalidInput, match="amount"):
        w.kb.invoices.create_migration_invoice(w.ctx, w.account.id, [MigrationItem(R, ItemInput())], None)
    with pytest.raises(InvalidInput, match="currency"):
        w.kb.invoices.create_migration_invoice(w.ctx, w.account.id, [MigrationItem(
            R, ItemInput(amount=D(1), currency="EUR"))], None)
    with pytest.raises(NotFound):
        w.kb.invoices.create_migration_invoice(w.ctx, str(uuid.uuid4()), [MigrationItem(R, ok)], None)
    assert invoices_of(w) == []


# ------------------------------------------------------------------------------------------------ CBA deletion
def test_deleting_used_credit_gives_it_back_to_the_account(w: World) -> None:
    first = _subscribe(w)
    _credit(w, "10")
    first = w.kb.invoices.get(w.ctx, first.id)
    [used] = [it for it in first.items if it.type is CBA]
    assert used.amount == D("-10") and _balances(w) == (D("10.00"), D("0.00"))
    w.kb.invoices.delete_cba(w.ctx, w.account.id, first.id, used.id)
    row = _item_row(w, used.id)
    assert (row["amount"], row["description"]) == (D(0), "Delete used credit")
    assert _balances(w) == (D("10.00"), D("10.00"))
    assert w.published(first.id)[-1] == "InvoiceAdjustmentEvent"


def test_deleting_generated_credit_reclaims_what_was_used(w: World) -> None:
    first = _subscribe(w)
    credit_invoice = _credit(w, "10")
    first = w.kb.invoices.get(w.ctx, first.id)
    generated = next(it for it in credit_invoice.items if it.type is CBA)
    credit = next(it for it in credit_invoice.items if it.type is InvoiceItemType.CREDIT_ADJ)
    w.kb.invoices.delete_cba(w.ctx, w.account.id, credit_invoice.id, generated.id)
    used = next(it for it in first.items if it.type is CBA)
    assert (_item_row(w, used.id)["amount"], _item_row(w, used.id)["description"]) == (D(0), "Reclaim used credit")
    assert (_item_row(w, generated.id)["amount"], _item_row(w, generated.id)["description"]) == (
        D(0), "Delete gen credit")
    assert (_item_row(w, credit.id)["amount"], _item_row(w, credit.id)["item_details"]) == (D(0), "Delete gen credit")
    assert _balances(w) == (D("20.00"), D("0.00"))
    assert w.published(first.id)[-1] == "InvoiceAdjustmentEvent"
    assert w.published(credit_invoice.id)[-1] == "InvoiceAdjustmentEvent"


def test_credit_the_system_generated_cannot_be_deleted(w: World) -> None:
    sid = w.create("silver-monthly")
    w.advance(days=10)
    w.kb.entitlements.cancel(w.ctx, sid, entitlement_policy=EntitlementActionPolicy.IMMEDIATE,
                             billing_policy=BillingActionPolicy.IMMEDIATE)
    repair = invoices_of(w)[1]
    generated = next(it for it in repair.items if it.type is CBA and it.amount > 0)
    with pytest.raises(BillowError) as e:
        w.kb.invoices.delete_cba(w.ctx, w.account.id, repair.id, generated.id)
    assert (e.value.code, e.value.status) == (4030, 400)
    assert e.value.message == f"Failed to delete system generated credit: item={generated.id}"
    assert _item_row(w, generated.id)["amount"] == D("13.55")


def test_cba_deletion_needs_a_committed_invoice_of_the_account_holding_the_item(w: World) -> None:
    first = _subscribe(w)
    _credit(w, "10")
    first = w.kb.invoices.get(w.ctx, first.id)
    used = next(it for it in first.items if it.type is CBA)
    draft = w.kb.invoices.add_items(w.ctx, w.account.id, [ItemInput(amount=D(5))],
                                    InvoiceItemType.EXTERNAL_CHARGE, requested=None, auto_commit=False)[0]
    other = w.kb.accounts.create(w.ctx, AccountData(name="Other", currency="USD"))
    for account_id, invoice_id, item_id, code in (
            (other.id, first.id, used.id, 4006), (w.account.id, draft.invoice_id, draft.id, 4006),
            (w.account.id, str(uuid.uuid4()), used.id, 4006), (w.account.id, first.id, str(uuid.uuid4()), 4011)):
        with pytest.raises(NotFound) as e:
            w.kb.invoices.delete_cba(w.ctx, account_id, invoice_id, item_id)
        assert e.value.code == code
    with pytest.raises(NotFound) as e:
        w.kb.invoices.delete_cba(w.ctx, str(uuid.uuid4()), first.id, used.id)
    assert e.value.code == 3002
    assert _item_row(w, used.id)["amount"] == D("-10")
