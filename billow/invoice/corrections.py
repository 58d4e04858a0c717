"""Corrections of an account's invoices (part of the invoice service's user API, `InvoiceService`): migration
invoices and the deletion of a credit (CBA) item. Each call is one unit of work.

Kill Bill: `DefaultInvoiceUserApi.createMigrationInvoice` (one COMMITTED invoice flagged migrated, whose
balance is always 0 and whose items count as billed), `DefaultInvoiceDao.deleteCBA` and
`reclaimCreditFromTransaction`; `InvoiceResource.createMigrationInvoice` / `deleteCBA`.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from billow.account.internal import AccountInternalApi
from billow.core.context import CallContext
from billow.core.db import Database, UnitOfWork, leases
from billow.core.errors import InvalidInput
from billow.invoice import store, store_lookup
from billow.invoice.billing_run import AccountState, BillingRun
from billow.invoice.credit import account_cba, credit_items
from billow.invoice.errors import invoice_error, invoice_not_found
from billow.invoice.events import invoice_adjusted, invoice_created
from billow.invoice.lookups import item_not_found
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus

if TYPE_CHECKING:
    from billow.invoice.service import ItemInput


@dataclass(frozen=True, slots=True)
class MigrationItem:
    """An item of a migration invoice: of any type, copied as given (InvoiceItemJson with its `itemType`;
    Kill Bill keeps neither quantity nor item details)."""

    type: InvoiceItemType | None
    item: ItemInput


class InvoiceCorrections:
    db: Database
    run: BillingRun
    accounts: AccountInternalApi

    @leases.waits_while_busy
    def create_migration_invoice(self, ctx: CallContext, account_id: str, items: Sequence[MigrationItem],
                                 target: date | None) -> Invoice:
        """One COMMITTED migration invoice holding the given items (INVOICE_CREATION is posted; its balance is
        0, so nothing is paid)."""
        if not items:
            raise InvalidInput("body: at least one invoice item is needed")
        for i, m in enumerate(items):
            if m.type is None:
                raise InvalidInput(f"itemType: needs to be set (item {i})")
            if m.item.amount is None:
                raise InvalidInput(f"amount: needs to be set (item {i})")
        with self.db.transaction(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            currency = account.currency or "USD"
            for m in items:
                if m.item.currency is not None and m.item.currency != currency:
                    raise InvalidInput(f"currency: {m.item.currency} is not the account currency {currency}")
            uow.lock_account(account.record_id)
            self.run.ensure_free(uow, [account.record_id])
            state = self.run.load_states(uow, [account.record_id])[account.record_id]
            today = account.time.local_date(uow.now)
            invoice = Invoice(id=str(uuid.uuid4()), account_id=account.id, invoice_date=today,
                              target_date=target or today, currency=currency, status=InvoiceStatus.COMMITTED,
                              migrated=True, created_date=uow.now)
            invoice_items = tuple(_migrated(invoice, m) for m in items)
            invoice = dataclasses.replace(invoice, items=invoice_items)
            rows = uow.insert_many("invoices", [store.invoice_row(invoice, account.record_id)])
            cba = credit_items([invoice], [*state.invoices, invoice], now=uow.now)
            uow.insert_many("invoice_items", [store.item_row(it, account.record_id)
                                              for it in (*invoice_items, *cba)])
            uow.post(invoice_created(uow, account, invoice.id, currency))
        return dataclasses.replace(invoice, invoice_number=rows[0]["record_id"])

    @leases.waits_while_busy
    def delete_cba(self, ctx: CallContext, account_id: str, invoice_id: str, item_id: str) -> None:
        """`deleteCBA`: a credit used on an invoice (CBA_ADJ < 0) goes back to the account; a credit an invoice
        generated from a CREDIT_ADJ (CBA_ADJ > 0) is taken back with that credit, reclaiming from later uses
        what the account no longer has. A credit the system generated (repairs) cannot be deleted."""
        with self.db.transaction(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            uow.lock_account(account.record_id)
            self.run.ensure_free(uow, [account.record_id])
            state = self.run.load_states(uow, [account.record_id])[account.record_id]
            invoice = next((inv for inv in state.invoices if inv.id == invoice_id), None)
            if invoice is None or invoice.migrated or invoice.status is not InvoiceStatus.COMMITTED:
                raise invoice_not_found(invoice_id)
            item = next((it for it in invoice.items if it.id == item_id), None)
            if item is None:
                raise item_not_found(item_id)
            touched: dict[str, None] = {}
            if item.amount < 0:  # credit consumed on this invoice
                self._set(uow, item.id, {"amount": 0, "description": "Delete used credit"})
                touched[invoice.id] = None
            elif item.amount > 0:  # credit generated
                credit = next((it for it in invoice.items if it.type is InvoiceItemType.CREDIT_ADJ
                               and -it.amount >= item.amount), None)
                if credit is None:
                    raise invoice_error(4030, f"Failed to delete system generated credit: item={item.id}")
                available = account_cba(state.invoices)
                if available < item.amount:
                    self._reclaim(uow, state, item.amount - available, touched)
                self._set(uow, item.id, {"amount": 0, "description": "Delete gen credit"})
                self._set(uow, credit.id, {"amount": credit.amount + item.amount, "item_details": "Delete gen credit"})
                touched[invoice.id] = None
            for touched_id in touched:
                uow.post(invoice_adjusted(uow, account, touched_id))

    @staticmethod
    def _set(uow: UnitOfWork, item_id: str, values: dict[str, object]) -> None:
        row = store.item_record(uow.conn, uow.tenant, item_id)
        if row is not None:
            uow.update("invoice_items", row["record_id"], values)

    @staticmethod
    def _reclaim(uow: UnitOfWork, state: AccountState, amount: Decimal, touched: dict[str, None]) -> None:
        """Give back credit used on invoices, newest use first, until `amount` is reclaimed."""
        left = amount
        for record_id, _item_id, invoice_id, used in store_lookup.consumed_credit(uow.conn, uow.tenant,
                                                                                   state.account.record_id):
            taken = min(-used, left)
            uow.update("invoice_items", record_id, {"amount": -(-used - taken), "description": "Reclaim used credit"})
            touched[invoice_id] = None
            left -= taken
            if left <= 0:
                break


def _migrated(invoice: Invoice, m: MigrationItem) -> InvoiceItem:
    it = m.item
    assert m.type is not None and it.amount is not None
    return InvoiceItem(id=str(uuid.uuid4()), invoice_id=invoice.id, account_id=invoice.account_id, type=m.type,
                       start_date=it.start_date, end_date=it.end_date, amount=it.amount, currency=invoice.currency,
                       subscription_id=it.subscription_id, bundle_id=it.bundle_id, product_name=it.product_name,
                       plan_name=it.plan_name, phase_name=it.phase_name, rate=it.rate, linked_item_id=it.linked_item_id,
                       description=it.description, created_date=invoice.created_date)
