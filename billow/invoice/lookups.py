"""The invoice service's look-ups across invoices (part of its user API, `InvoiceService`): pages of the
tenant's or an account's invoices, search, the invoice of an item, invoice groups, and the child items a
parent invoice summarises. Each call is one read unit of work.

Kill Bill: `DefaultInvoiceUserApi.getInvoices`, `getInvoicesByAccount(offset, limit)`, `searchInvoices`,
`getInvoiceByInvoiceItem`, `getInvoicesByGroup`, `getInvoiceItemsByParentInvoice`,
`getInvoiceAuditLogsWithHistoryForId`, `getInvoiceItemAuditLogsWithHistoryForId`.
"""

from __future__ import annotations

from billow.account.internal import AccountInternalApi
from billow.core.context import CallContext
from billow.core.db import Database, UnitOfWork
from billow.core.db.audit_read import AuditLogEntry, audit_logs
from billow.core.errors import NotFound
from billow.invoice import store, store_lookup, store_parent
from billow.invoice.errors import INVOICE_EXCEPTION, invoice_not_found
from billow.invoice.model import Invoice, InvoiceItem
from billow.invoice.store_lookup import InvoicePage


def item_not_found(item_id: str) -> NotFound:
    return NotFound(f"No invoice item could be found for id {item_id}.", code=4011, class_name=INVOICE_EXCEPTION)


def _with_parents(uow: UnitOfWork, invoices: list[Invoice]) -> list[Invoice]:
    return store_parent.with_parents(uow.conn, uow.tenant, {0: invoices})[0]


class InvoiceLookups:
    db: Database
    accounts: AccountInternalApi

    def page(self, ctx: CallContext, offset: int, limit: int) -> InvoicePage:
        """The tenant's invoices by record id (`GET /invoices/pagination`)."""
        with self.db.read(ctx) as uow:
            found = store_lookup.page(uow.conn, ctx.tenant, offset, limit)
            return InvoicePage(_with_parents(uow, found.invoices), found.total, found.max_records)

    def account_page(self, ctx: CallContext, account_id: str, offset: int, limit: int) -> InvoicePage:
        """One account's invoices, all of them, by record id (`GET /accounts/{id}/invoices/pagination`)."""
        with self.db.read(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            found = store_lookup.page(uow.conn, ctx.tenant, offset, limit, account.record_id)
            return InvoicePage(_with_parents(uow, found.invoices), found.total, found.max_records)

    def search(self, ctx: CallContext, key: str, offset: int, limit: int) -> InvoicePage:
        """`GET /invoices/search/{key}`: an invoice number, a currency, `_q=1&...`, or an invoice or account id."""
        with self.db.read(ctx) as uow:
            found = store_lookup.search(uow.conn, ctx.tenant, key, offset, limit)
            return InvoicePage(_with_parents(uow, found.invoices), found.total, found.max_records)

    def by_item(self, ctx: CallContext, item_id: str) -> Invoice:
        """The invoice holding an item; INVOICE_ITEM_NOT_FOUND otherwise."""
        with self.db.read(ctx) as uow:
            invoice = store_lookup.by_item(uow.conn, ctx.tenant, item_id)
            if invoice is None:
                raise item_not_found(item_id)
            return _with_parents(uow, [invoice])[0]

    def group(self, ctx: CallContext, account_id: str, group_id: str) -> list[Invoice]:
        """The account's invoices of one group (empty for an unknown account, as Kill Bill finds none)."""
        with self.db.read(ctx) as uow:
            try:
                account = self.accounts.get(uow, account_id)
            except NotFound:
                return []
            return _with_parents(uow, store_lookup.group(uow.conn, ctx.tenant, account.record_id, group_id))

    def child_items(self, ctx: CallContext, parent_invoice_id: str) -> list[InvoiceItem]:
        """Items of the child invoices a parent invoice summarises (empty for any other invoice)."""
        with self.db.read(ctx) as uow:
            return store_parent.child_items(uow.conn, ctx.tenant, parent_invoice_id)

    def audit_logs_with_history(self, ctx: CallContext, invoice_id: str) -> list[AuditLogEntry]:
        """`GET /invoices/{id}/auditLogsWithHistory`: every change of the invoice, with the row as it became."""
        with self.db.read(ctx) as uow:
            row = store.invoice_record(uow.conn, ctx.tenant, invoice_id=invoice_id)
            if row is None:
                raise invoice_not_found(invoice_id)
            return audit_logs(uow.conn, ctx.tenant, "invoices", [row["record_id"]], with_history=True)[
                row["record_id"]]

    def item_audit_logs_with_history(self, ctx: CallContext, item_id: str) -> list[AuditLogEntry]:
        """`GET /invoiceItems/{id}/auditLogsWithHistory`."""
        with self.db.read(ctx) as uow:
            row = store.item_record(uow.conn, ctx.tenant, item_id)
            if row is None:
                raise item_not_found(item_id)
            return audit_logs(uow.conn, ctx.tenant, "invoice_items", [row["record_id"]], with_history=True)[
                row["record_id"]]
