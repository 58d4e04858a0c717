"""The invoice service's internal API: what services above (payment, overdue) and the invoice service's
own bus listeners call, in the caller's unit of work. Kill Bill's `InvoiceInternalApi`."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from billow.account.model import Account
from billow.core.db import UnitOfWork
from billow.core.db.export import TableDump, account_rows, audited_rows
from billow.core.limits import check_amount
from billow.core.money import round_money
from billow.core.objects import ObjectOwner
from billow.invoice import store
from billow.invoice.billing_run import AccountState, BillingRun
from billow.invoice.credit import account_balance, account_cba, balance, credit_items
from billow.invoice.errors import invoice_error, invoice_not_found
from billow.invoice.events import invoice_adjusted, invoice_created
from billow.invoice.generator import InvoicingError, charged_through_instants
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus

_ZERO = Decimal(0)
# what `AccountResource.closeAccount` item-adjusts on an unpaid invoice
CLOSE_ADJUSTABLE = frozenset({InvoiceItemType.EXTERNAL_CHARGE, InvoiceItemType.FIXED, InvoiceItemType.RECURRING,
                              InvoiceItemType.TAX, InvoiceItemType.USAGE, InvoiceItemType.PARENT_SUMMARY})


class InvoiceInternalApi:
    def __init__(self, run: BillingRun) -> None:
        self.run = run

    def get(self, uow: UnitOfWork, invoice_id: str) -> Invoice:
        return self._with_account(uow, invoice_id, lock=False)[0]

    def _with_account(self, uow: UnitOfWork, invoice_id: str, *, lock: bool) -> tuple[Invoice, int]:
        """An invoice with its items and payments, and its account's record id (under the account lock)."""
        row = store.invoice_record(uow.conn, uow.tenant, invoice_id=invoice_id)
        if row is None:
            raise invoice_not_found(invoice_id)
        arid = row["account_record_id"]
        if lock:
            uow.lock_account(arid)
        return next(inv for inv in self.run.invoices_of(uow, [arid])[arid] if inv.id == row["id"]), arid

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

    def run_for_events(self, uow: UnitOfWork, targets: Mapping[int, date | None]) -> None:
        """`run_for_event` for several accounts at once (a bus pack's events, one per account)."""
        self.run.run_accounts(uow, targets)

    def locked(self, uow: UnitOfWork, invoice_id: str) -> tuple[Mapping[str, Any], AccountState]:
        """An invoice's row and its account's state, under the account lock."""
        row = store.invoice_record(uow.conn, uow.tenant, invoice_id=invoice_id)
        if row is None:
            raise invoice_not_found(invoice_id)
        arid = row["account_record_id"]
        uow.lock_account(arid)
        state = self.run.load_states(uow, [arid])[arid]
        return row, state

    def locked_invoice(self, uow: UnitOfWork, invoice_id: str) -> tuple[Invoice, int]:
        """An invoice with its items and payments and its account's record id, under the account lock: what paying
        it needs, without the account's billing state (subscriptions, blocking states) that `locked` reads."""
        return self._with_account(uow, invoice_id, lock=True)

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

    def unpaid(self, uow: UnitOfWork, account: Account) -> list[Invoice]:
        """`getUnpaidInvoicesByAccountId`: the account's COMMITTED invoices with a positive balance (not written
        off, not migration invoices; a child invoice while its parent invoice is unpaid), oldest first."""
        return [inv for inv in self.invoices(uow, account) if balance(inv) > 0]

    def adjust_in_full(self, uow: UnitOfWork, invoice_id: str, *, description: str | None, day: date | None
                       ) -> list[str]:
        """Closing an account with `itemAdjustUnpaidInvoices`: each EXTERNAL_CHARGE, FIXED, RECURRING, TAX, USAGE
        and PARENT_SUMMARY item of the invoice adjusted by all that is left of it (items with nothing left are
        passed over); the ids of the items adjusted."""
        _row, state = self.locked(uow, invoice_id)
        invoice = next(inv for inv in state.invoices if inv.id == invoice_id)
        done = []
        for it in invoice.items:
            if it.type in CLOSE_ADJUSTABLE and _available(state.invoices, it) > 0:
                self.adjust_item(uow, invoice_id, it.id, amount=None, description=description, day=day)
                done.append(it.id)
        return done

    def adjust_item(self, uow: UnitOfWork, invoice_id: str, item_id: str, *, amount: Decimal | None,
                    currency: str | None = None, description: str | None = None, day: date | None = None
                    ) -> Invoice:
        """`insertInvoiceItemAdjustment`: an ITEM_ADJ of −amount (None: all that is left) linked to the item,
        dated `day` (None: the account's today); the account's credit applied; INVOICE_ADJUSTMENT announced."""
        _row, state = self.locked(uow, invoice_id)
        invoice = next(inv for inv in state.invoices if inv.id == invoice_id)
        target = next((it for it in invoice.items if it.id == item_id), None)
        if target is None:
            raise invoice_error(4011, f"No invoice item could be found for id {item_id}.", 404)
        if not target.type.is_charge and target.type is not InvoiceItemType.PARENT_SUMMARY:
            raise invoice_error(4017, f"Invoice item {target.id} cannot be adjusted")
        if currency is not None and currency != invoice.currency:
            raise invoice_error(4020, f"Currency {currency} does not match {invoice.currency}")
        available = _available(state.invoices, target)
        wanted = available if amount is None else round_money(amount, invoice.currency)
        check_amount("amount", wanted)
        if wanted > available or wanted <= 0:
            raise invoice_error(4019, f"Invoice item {target.id} can be adjusted by at most {available}")
        when = day or state.account.time.local_date(uow.now)
        adj = InvoiceItem(id=str(uuid.uuid4()), invoice_id=invoice.id, account_id=invoice.account_id,
                          type=InvoiceItemType.ITEM_ADJ, start_date=when, end_date=when, amount=-wanted,
                          currency=invoice.currency, linked_item_id=target.id, description=description,
                          created_date=uow.now)
        uow.insert_many("invoice_items", [store.item_row(adj, state.account.record_id)])
        invoice = dataclasses.replace(invoice, items=invoice.items + (adj,))
        invoices = [invoice if inv.id == invoice.id else inv for inv in state.invoices]
        cba = credit_items([invoice], invoices, now=uow.now)
        if cba:
            uow.insert_many("invoice_items", [store.item_row(it, state.account.record_id) for it in cba])
        uow.post(invoice_adjusted(uow, state.account, invoice.id))
        return invoice

    def written_off(self, uow: UnitOfWork, account: Account, invoice_id: str) -> None:
        """`tagInvoiceAsWrittenOff` after the tag is added: INVOICE_ADJUSTMENT announced (for overdue)."""
        uow.post(invoice_adjusted(uow, account, invoice_id))

    def forget_future_dates(self, uow: UnitOfWork, account: Account) -> int:
        """Drop the account's next billing dates after now (Kill Bill's future next-billing-date notifications;
        a parked account's FAILED rows stay); the number dropped."""
        return store.delete_future(uow.conn, account.record_id, uow.now)

    def export(self, uow: UnitOfWork, account: Account) -> list[TableDump]:
        """The account's rows of the invoice tables, with their history (account export)."""
        return [*audited_rows(uow, "invoices", account.record_id),
                *audited_rows(uow, "invoice_items", account.record_id),
                *audited_rows(uow, "invoice_parent_children", account.record_id),
                *audited_rows(uow, "invoice_payments", account.record_id),
                account_rows(uow, store.SC, account.record_id)]


def _available(invoices: list[Invoice], target: InvoiceItem) -> Decimal:
    """What is left to adjust of an item: its amount less the item and repair adjustments linked to it."""
    return target.amount + sum((it.amount for inv in invoices if inv.status is not InvoiceStatus.VOID
                                for it in inv.items if it.linked_item_id == target.id
                                and it.type in (InvoiceItemType.ITEM_ADJ, InvoiceItemType.REPAIR_ADJ)), _ZERO)
