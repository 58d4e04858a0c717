"""Invoice look-ups across invoices, invoice groups and runs of parked accounts (SQLite and PostgreSQL).

Kill Bill 0.24.x: `DefaultInvoiceDao.searchInvoices` (a number is an invoice number, counted as one match even
when there is none; a currency code; `_q=1&column[op]=value`; `_q=1&balance[op]=amount`; else an invoice or
account id), `getInvoiceByInvoiceItem` (INVOICE_ITEM_NOT_FOUND, 4011), `triggerInvoiceGroupGeneration`,
`getInvoicesByGroup`, `AdminResource.triggerInvoiceGenerationForParkedAccounts`.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal as D

import pytest

from billow.account.model import AccountData
from billow.app import Billow
from billow.core.context import CallContext
from billow.core.errors import NotFound
from billow.invoice import store
from billow.invoice.model import Invoice, InvoiceItemType
from billow.invoice.service import ItemInput, NothingToInvoice
from tests.invoice.scenarios import World, invoices_of


def _charge(w: World, account_id: str, amount: str, *, commit: bool = True) -> Invoice:
    items = w.kb.invoices.add_items(w.ctx, account_id, [ItemInput(amount=D(amount))],
                                    InvoiceItemType.EXTERNAL_CHARGE, requested=None, auto_commit=commit)
    return w.kb.invoices.get(w.ctx, items[0].invoice_id)


def _other_tenant(kb: Billow) -> CallContext:
    tenant = kb.tenants.create(CallContext(user_name="tests"), f"t-{uuid.uuid4().hex[:12]}", "secret")
    return CallContext(user_name="tests").for_tenant(tenant.record_id, tenant.id)


@pytest.fixture()
def three(w: World) -> tuple[Invoice, Invoice, Invoice]:
    """Three invoices of two accounts: 10 COMMITTED, 20 DRAFT (the world's account), 30 COMMITTED (another, EUR)."""
    other = w.kb.accounts.create(w.ctx, AccountData(name="Other", currency="EUR"))
    return _charge(w, w.account.id, "10"), _charge(w, w.account.id, "20", commit=False), _charge(w, other.id, "30")


def test_pages_of_the_tenants_invoices(w: World, three: tuple[Invoice, Invoice, Invoice]) -> None:
    first = w.kb.invoices.page(w.ctx, 0, 2)
    assert [i.id for i in first.invoices] == [three[0].id, three[1].id]
    assert (first.total, first.max_records) == (3, 3)
    assert [i.id for i in w.kb.invoices.page(w.ctx, 2, 2).invoices] == [three[2].id]
    assert [i.invoice_number for i in first.invoices] == sorted(i.invoice_number or 0 for i in first.invoices)
    assert first.invoices[0].items[0].amount == D("10")
    assert w.kb.invoices.page(_other_tenant(w.kb), 0, 10).invoices == []


def test_pages_of_one_accounts_invoices(w: World, three: tuple[Invoice, Invoice, Invoice]) -> None:
    page = w.kb.invoices.account_page(w.ctx, w.account.id, 0, 10)
    assert [i.id for i in page.invoices] == [three[0].id, three[1].id] and page.total == 2
    page = w.kb.invoices.account_page(w.ctx, w.account.id, 1, 1)
    assert [i.id for i in page.invoices] == [three[1].id]
    with pytest.raises(NotFound):
        w.kb.invoices.account_page(w.ctx, str(uuid.uuid4()), 0, 10)


def test_search_by_number_currency_id_and_account(w: World, three: tuple[Invoice, Invoice, Invoice]) -> None:
    def ids(key: str) -> list[str]:
        return [i.id for i in w.kb.invoices.search(w.ctx, key, 0, 100).invoices]

    ten, twenty, thirty = three
    assert ids(str(ten.invoice_number)) == [ten.id]
    missing = w.kb.invoices.search(w.ctx, "99999999", 0, 100)
    assert (missing.invoices, missing.total, missing.max_records) == ([], 1, 3)
    assert ids("eur") == [thirty.id] and ids("USD") == [ten.id, twenty.id]
    assert ids(twenty.id) == [twenty.id]
    assert ids(w.account.id) == [ten.id, twenty.id]
    assert ids("nothing-like-it") == []
    # another tenant sees none of them
    assert w.kb.invoices.search(_other_tenant(w.kb), ten.id, 0, 100).invoices == []


def test_advanced_search_queries(w: World, three: tuple[Invoice, Invoice, Invoice]) -> None:
    def ids(key: str) -> list[str]:
        return [i.id for i in w.kb.invoices.search(w.ctx, key, 0, 100).invoices]

    ten, twenty, thirty = three
    assert ids("_q=1&status=DRAFT") == [twenty.id]
    assert ids(f"_q=1&status[neq]=DRAFT&account_id={w.account.id}") == [ten.id]
    assert ids("_q=1&currency[like]=EU%") == [thirty.id]
    assert ids(f"_q=1&invoice_date[gte]={ten.invoice_date.isoformat()}&unknown=x") == [ten.id, twenty.id, thirty.id]
    assert ids("_q=1&invoice_date=not-a-date") == []
    # balance: the sum of a COMMITTED invoice's items, 0 for a DRAFT
    assert ids("_q=1&balance[gt]=15") == [thirty.id]
    assert ids("_q=1&balance[eq]=0") == [twenty.id]
    assert ids("_q=1&balance[lt]=15") == [ten.id, twenty.id]
    assert ids("_q=1&balance[lte]=9") == [twenty.id]
    assert ids("_q=1&balance[neq]=30") == [ten.id, twenty.id]
    assert ids("_q=1&balance[gt]=1e999999") == [] and ids("_q=1&balance[lt]=NaN") == []
    page = w.kb.invoices.search(w.ctx, "_q=1&balance[gte]=0", 0, 2)
    assert (len(page.invoices), page.total) == (2, 3)


def test_invoice_of_an_item(w: World, three: tuple[Invoice, Invoice, Invoice]) -> None:
    ten = three[0]
    assert w.kb.invoices.by_item(w.ctx, ten.items[0].id).id == ten.id
    with pytest.raises(NotFound) as e:
        w.kb.invoices.by_item(w.ctx, str(uuid.uuid4()))
    assert e.value.code == 4011
    with pytest.raises(NotFound):
        w.kb.invoices.by_item(_other_tenant(w.kb), ten.items[0].id)


def test_a_group_run_makes_one_invoice_which_is_its_own_group(w: World) -> None:
    w.create("silver-monthly")
    assert w.kb.run_until_idle(20)
    w.advance(days=31)  # billed by the run already: nothing left for today
    with pytest.raises(NothingToInvoice):
        w.kb.invoices.trigger_group(w.ctx, w.account.id, None)
    group_id, made = w.kb.invoices.trigger_group(w.ctx, w.account.id, date(2024, 3, 15))
    assert [i.id for i in made] == [group_id]
    assert [i.id for i in w.kb.invoices.group(w.ctx, w.account.id, group_id)] == [group_id]
    other = w.kb.accounts.create(w.ctx, AccountData(name="Other", currency="USD"))
    assert w.kb.invoices.group(w.ctx, other.id, group_id) == []
    assert w.kb.invoices.group(w.ctx, str(uuid.uuid4()), group_id) == []


def _park(w: World, account_id: str) -> None:
    account = w.kb.accounts.get(w.ctx, account_id)
    with w.kb.db.transaction(w.ctx) as uow:
        w.kb.invoices.run.park(uow, account.record_id, w.clock.utcnow().date(), "ILLEGAL INVOICING STATE (test)")


def _is_parked(w: World, account_id: str) -> bool:
    account = w.kb.accounts.get(w.ctx, account_id)
    with w.kb.db.read(w.ctx) as uow:
        return store.is_parked(uow.conn, account.record_id)


def test_runs_of_parked_accounts_unpark_them(w: World) -> None:
    _park(w, w.account.id)
    idle = w.kb.accounts.create(w.ctx, AccountData(name="Idle", currency="USD"))
    _park(w, idle.id)
    w.create("silver-monthly")  # the parked account is not billed by events
    assert invoices_of(w) == []

    first = w.kb.invoices.run_parked(w.ctx, 0, 1)
    assert (first.total, first.results) == (2, {w.account.id: "OK"})
    assert [i.items[0].amount for i in invoices_of(w)] == [D("20")]
    second = w.kb.invoices.run_parked(w.ctx, 0, 10)  # the first is no longer parked
    assert (second.total, second.results) == (1, {idle.id: "INVOICE_NOTHING_TO_DO"})
    assert not _is_parked(w, w.account.id) and not _is_parked(w, idle.id)
    assert w.kb.invoices.run_parked(w.ctx, 0, 10).results == {}


def test_an_api_run_unparks_even_when_nothing_is_invoiced(w: World) -> None:
    _park(w, w.account.id)
    with pytest.raises(NothingToInvoice):
        w.kb.invoices.trigger(w.ctx, w.account.id, None)
    assert not _is_parked(w, w.account.id)


def test_audit_logs_with_history_of_an_invoice_and_an_item(w: World) -> None:
    draft = _charge(w, w.account.id, "20", commit=False)
    w.kb.invoices.commit(w.ctx, draft.id)
    logs = w.kb.invoices.audit_logs_with_history(w.ctx, draft.id)
    assert [(e.change_type, e.object_type, e.object_id) for e in logs] == [
        ("INSERT", "INVOICE", draft.id), ("UPDATE", "INVOICE", draft.id)]
    assert [e.history["status"] for e in logs if e.history] == ["DRAFT", "COMMITTED"]
    [item_log] = w.kb.invoices.item_audit_logs_with_history(w.ctx, draft.items[0].id)
    assert (item_log.change_type, item_log.object_type, item_log.history and item_log.history["amount"]) == (
        "INSERT", "INVOICE_ITEM", D("20"))
    with pytest.raises(NotFound) as e:
        w.kb.invoices.audit_logs_with_history(w.ctx, str(uuid.uuid4()))
    assert e.value.code == 4006
    with pytest.raises(NotFound) as e:
        w.kb.invoices.item_audit_logs_with_history(_other_tenant(w.kb), draft.items[0].id)
    assert e.value.code == 4011
