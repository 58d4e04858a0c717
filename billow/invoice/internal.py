"""The invoice service's internal API: what services above (payment, overdue) and the invoice service's
own bus listeners call, in the caller's unit of work. Kill Bill's `InvoiceInternalApi`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from billow.account.model import Account
from billow.core.db import UnitOfWork
from billow.core.money import round_money
from billow.core.objects import ObjectOwner
from billow.invoice import store
from billow.invoice.billing_run import BillingRun
from billow.invoice.credit import account_balance, account_cba
from billow.invoice.errors import invoice_error, invoice_not_found
from billow.invoice.generator import InvoicingError
from billow.invoice.model import Invoice


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
        """The account's invoices with their items, oldest first."""
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
