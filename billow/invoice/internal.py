"""The invoice service's internal API: what services above (payment, overdue) and the invoice service's
own bus listeners call, in the caller's unit of work. Kill Bill's `InvoiceInternalApi`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from billow.account.model import Account
from billow.core.db import UnitOfWork
from billow.core.db.export import TableDump, account_rows, audited_rows
from billow.core.money import round_money
from billow.core.objects import ObjectOwner
from billow.invoice import store
from billow.invoice.billing_run import AccountState, BillingRun
from billow.invoice.credit import account_balance, account_cba, credit_items
from billow.invoice.errors import invoice_error, invoice_not_found
from billow.invoice.events import invoice_created
from billow.invoice.generator import InvoicingError, charged_through_instants
from billow.invoice.model import Invoice, InvoiceStatus


class InvoiceInternalApi:
    def __init__(self, run: BillingRun) -> None:
        self.run = run

    def get(self, uow: UnitOfWork, invoice_id: str) -> Invoice:
        row = store.invoice_record(uow.conn, uow.tenant, invoice_id=invoice_id)
        if row is None:
            raise invoice_not_found(invoice_id)
        arid = row["account_record_id"]
        return next(inv for inv in self.run.invoices_of(uow, [arid])[arid] if inv.id == row["id"])

    def invoices(self, uow: UnitOfWork, account: Account) -> list[Invoice]:
        """The account's invoices with their items (WRITTEN_OFF ones marked; for a child account, with their
        parent invoices), oldest first."""
        return self.run.invoices_of(uow, [account.record_id])[account.record_id]

    def owner_of_invoice(self, uow: UnitOfWork, invoice_id: str) -> ObjectOwner:
        """The account of an invoice of the tenant (tags and custom fields hang on invoices)."""
        row = store.invoice_record(uow.conn, uow.tenant, invoice_id=invoice_id)
        if row is None:
            raise invoice_not_found(invoice_id)
        return ObjectOwner(row["account_record_id"], row["account_id"])

    def owner_of_item(self, uow: UnitOfWork, item_id: str) -> ObjectOwner:
        """The account of an invoice item of the tenant."""
        row = store.item_record(uow.conn, uow.tenant, item_id)
        if row is None:
            raise invoice_error(4011, f"No invoice item could be found for id {item_id}.", 404)
        return ObjectOwner(row["account_record_id"], row["account_id"])

    def balances(self, uow: UnitOfWork, account: Account) -> tuple[Decimal, Decimal]:
        """(accountBalance, accountCBA) as `DefaultInvoiceDao.getAccountBalance` / `getAccountCBA`."""
        invoices = self.invoices(uow, account)
        currency = account.currency or "USD"
        return round_money(account_balance(invoices), currency), round_money(account_cba(invoices), currency)

    def run_for_event(self, uow: UnitOfWork, account_record_id: int, target: date | None) -> None:
        """A bus event asks for a run; an illegal invoicing state parks the account (Kill Bill's
        `ParkedAccountsManager`) instead of failing the event forever."""
        try:  # the generator raises before anything is written
            self.run.run_account(uow, account_record_id, target, api=False)
        except InvoicingError as e:
            self.run.park(uow, account_record_id, target or uow.now.date(), str(e))

    def locked(self, uow: UnitOfWork, invoice_id: str) -> tuple[Mapping[str, Any], AccountState]:
        """An invoice's row and its account's state, under the account lock."""
        row = store.invoice_record(uow.conn, uow.tenant, invoice_id=invoice_id)
        if row is None:
            raise invoice_not_found(invoice_id)
        arid = row["account_record_id"]
        uow.lock_account(arid)
        state = self.run.load_states(uow, [arid])[arid]
        return row, state

    def commit(self, uow: UnitOfWork, invoice_id: str) -> bool:
        """`commitInvoice`: DRAFT → COMMITTED; CTDs set, credit applied, INVOICE_CREATION published. False when
        it was COMMITTED already."""
        row, state = self.locked(uow, invoice_id)
        status = InvoiceStatus(row["status"])
        if status is InvoiceStatus.COMMITTED:
            return False
        if status is InvoiceStatus.VOID:
            raise invoice_error(4002, f"Invoice {invoice_id} is VOID and cannot be committed")
        uow.update("invoices", row["record_id"], {"status": InvoiceStatus.COMMITTED.value})
        invoices = [dataclasses.replace(inv, status=InvoiceStatus.COMMITTED) if inv.id == invoice_id else inv
                    for inv in state.invoices]
        invoice = next(inv for inv in invoices if inv.id == invoice_id)
        cba = credit_items([invoice], invoices, now=uow.now)
        if cba:
            uow.insert_many("invoice_items", [store.item_row(it, state.account.record_id) for it in cba])
        ctd = charged_through_instants(state.account.time, invoice.items)
        if ctd:
            self.run.entitlements.update_charged_through_dates(uow, ctd)
        uow.post(invoice_created(uow, state.account, invoice_id, invoice.currency))
        return True

    def export(self, uow: UnitOfWork, account: Account) -> list[TableDump]:
        """The account's rows of the invoice tables, with their history (account export)."""
        return [*audited_rows(uow, "invoices", account.record_id),
                *audited_rows(uow, "invoice_items", account.record_id),
                *audited_rows(uow, "invoice_parent_children", account.record_id),
                *audited_rows(uow, "invoice_payments", account.record_id),
                account_rows(uow, store.SC, account.record_id)]
