"""Parent summary invoices: a child account whose payments are delegated to its parent gets its invoices
summarised on a parent invoice, one PARENT_SUMMARY item per child account, which the parent pays.

Kill Bill (0.24.x, `invoice/src/main/java/org/killbill/billing/invoice/`): `InvoiceListener` (INVOICE_CREATION
and INVOICE_ADJUSTMENT of a child with `isPaymentDelegatedToParent`), `InvoiceDispatcher.
processParentInvoiceForInvoiceGeneration` and `processParentInvoiceForAdjustmentsWithLock`,
`DefaultInvoiceDao.notifyOfParentInvoiceCreation`, `notification/ParentInvoiceCommitmentPoster` and
`ParentInvoiceCommitmentNotifier`, `InvoiceCalculatorUtils.computeChildInvoiceAmount`.

- A child invoice is created (COMMITTED): its amount (charges + credits, or −credit for a credit-only invoice)
  goes onto the parent's oldest DRAFT invoice: added to the child's summary item when there is one (and then
  no parent/child link is stored, as in Kill Bill), else as a new summary item. Without a DRAFT, a DRAFT
  parent invoice is created, unless the amount is negative, or zero with no FIXED or RECURRING item; its commit
  is scheduled for today (UTC) at `org.killbill.invoice.parent.commit.local.utc.time` (UTC time of day,
  per tenant, default 23:59:59.999), or tomorrow when that time is past.
- A child invoice is item-adjusted: its last ITEM_ADJ goes onto the summary (DRAFT parent), or becomes an
  ITEM_ADJ of the summary item (COMMITTED parent); nothing when the parent's raw balance is zero.
- The commit notification commits the parent invoice; one committed by hand meanwhile is left as it is.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.core.bus.bus import Bus, Notification
from billow.core.bus.event import BusEvent
from billow.core.context import internal_context
from billow.core.db import UnitOfWork
from billow.core.errors import BillowError
from billow.core.money import round_money
from billow.invoice import store, store_parent
from billow.invoice.credit import amount_charged, credit_items, raw_balance
from billow.invoice.events import InvoiceAdjustmentEvent, InvoiceCreationEvent, invoice_adjusted
from billow.invoice.internal import InvoiceInternalApi
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus
from billow.tenant.internal import TenantInternalApi
from billow.tenant.settings import PARENT_COMMIT_UTC_TIME

log = logging.getLogger("billow.invoice")

COMMIT_QUEUE = "invoice-service:parent-invoice-commitment-queue"
_ZERO = Decimal(0)
_KEEPS_ZERO = (InvoiceItemType.FIXED, InvoiceItemType.RECURRING)


# ------------------------------------------------------------------------------------------------- rules (pure)
def child_invoice_amount(invoice: Invoice) -> Decimal:
    """`computeChildInvoiceAmount`: what a child invoice adds to its summary item. With charges: what it
    charged plus the credit it used or generated (CBA_ADJ); without: minus the credit it generated."""
    cba = round_money(sum((it.amount for it in invoice.items if it.type is InvoiceItemType.CBA_ADJ), _ZERO),
                      invoice.currency)
    if not any(it.type.is_charge for it in invoice.items):
        return -cba
    # (a credit invoice, whose CREDIT_ADJ Kill Bill adds here too, has no charge)
    return round_money(amount_charged(invoice) + cba, invoice.currency)


def ignores_child_invoice(invoice: Invoice, amount: Decimal) -> bool:
    """`shouldIgnoreChildInvoice`: no new parent invoice for a credit, nor for nothing unless the child invoice
    bills a FIXED or RECURRING item (a free trial still shows on the parent)."""
    if amount < 0:
        return True
    if amount > 0:
        return False
    return not any(it.type in _KEEPS_ZERO for it in invoice.items)


def commit_instant(now: datetime, at: time) -> datetime:
    """When a new parent DRAFT is committed: today (UTC) at `at` (UTC), or the next day once that is past."""
    when = datetime.combine(now.astimezone(UTC).date(), at, tzinfo=UTC)
    while when < now:
        when += timedelta(days=1)
    return when


def is_delegated_child(account: Account) -> bool:
    """`InvoiceListener.isChildrenAccountAndPaymentDelegated`."""
    return account.parent_account_id is not None and account.is_payment_delegated_to_parent


# ------------------------------------------------------------------------------------------------- the service
class ParentInvoices:
    """Keeps parent summary invoices in step with their children's invoices (bus listeners and the commit
    notification queue); every method runs in the caller's unit of work."""

    def __init__(self, invoices: InvoiceInternalApi, accounts: AccountInternalApi, tenants: TenantInternalApi,
                 bus: Bus) -> None:
        self.invoices = invoices
        self.accounts = accounts
        self.tenants = tenants
        self.bus = bus

    def install(self) -> None:
        self.bus.subscribe_batch(self._on_invoices_created, InvoiceCreationEvent, name="invoice-parent-summary")
        self.bus.subscribe(self._on_invoice_adjusted, InvoiceAdjustmentEvent, name="invoice-parent-adjustment")
        self.bus.register_queue(COMMIT_QUEUE, self._on_commit_due)

    # -- listeners ----------------------------------------------------------------------------------------
    def _child(self, uow: UnitOfWork, event: BusEvent) -> Account | None:
        if event.account_id is None or event.object_id is None:
            return None
        account = self.accounts.get(uow, event.account_id)
        return account if is_delegated_child(account) else None

    def _on_invoices_created(self, uow: UnitOfWork, events: list[BusEvent]) -> None:
        """The new invoices of a pack: their accounts are read at once, and only a delegating child's invoice
        goes into its parent's summary invoice."""
        arids = sorted({e.account_record_id for e in events if e.account_record_id is not None})
        accounts = self.accounts.by_record_ids(uow, arids)
        for event in events:
            child = accounts.get(event.account_record_id) if event.account_record_id is not None else None
            if child is None or event.object_id is None or not is_delegated_child(child):
                continue
            uow.ctx = internal_context(tenant_record_id=uow.tenant, user_token=event.user_token)
            try:
                self.summarise(uow, child, event.object_id)
            except BillowError as e:  # Kill Bill's listener logs invoice and account errors and goes on
                log.warning("parent invoice not updated for invoice %s: %s", event.object_id, e.message)

    def _on_invoice_adjusted(self, uow: UnitOfWork, event: BusEvent) -> None:
        try:
            child = self._child(uow, event)
            if child is not None and event.object_id is not None:
                self.follow_adjustment(uow, child, event.object_id)
        except BillowError as e:
            log.warning("parent invoice not adjusted for invoice %s: %s", event.object_id, e.message)

    def _on_commit_due(self, uow: UnitOfWork, notification: Notification) -> None:
        invoice_id = str(notification.payload.get("uuidKey", ""))
        try:
            self.invoices.commit(uow, invoice_id)
        except BillowError as e:  # e.g. voided meanwhile: Kill Bill logs it and drops the notification
            log.warning("parent invoice %s not committed: %s", invoice_id, e.message)

    # -- rules --------------------------------------------------------------------------------------------
    def summarise(self, uow: UnitOfWork, child: Account, child_invoice_id: str) -> None:
        """A child invoice was created: put its amount on the parent's summary invoice."""
        if child.parent_account_id is None:
            return
        child_invoice = self.invoices.get(uow, child_invoice_id)
        parent = self.accounts.get(uow, child.parent_account_id)
        uow.lock_account(parent.record_id)
        amount = child_invoice_amount(child_invoice)
        currency = child.currency or child_invoice.currency
        draft_id = store_parent.first_draft(uow.conn, uow.tenant, parent.record_id)
        parent_invoices = self.invoices.invoices(uow, parent)
        draft = next((inv for inv in parent_invoices if inv.id == draft_id), None)
        if draft is not None:
            summary = next((it for it in draft.items if it.child_account_id == child.id), None)
            if summary is not None:
                self._set_amount(uow, summary, summary.amount + amount)
                return
        elif ignores_child_invoice(child_invoice, amount):
            return
        else:
            draft = Invoice(id=str(uuid.uuid4()), account_id=parent.id, invoice_date=child.time.local_date(uow.now),
                            target_date=None, currency=currency, status=InvoiceStatus.DRAFT, is_parent_invoice=True,
                            created_date=uow.now)
            uow.insert("invoices", store.invoice_row(draft, parent.record_id))
            parent_invoices = [*parent_invoices, draft]
            when = commit_instant(uow.now, self.commit_time(uow))
            self.bus.schedule(uow, COMMIT_QUEUE, {"uuidKey": draft.id}, when, account_record_id=parent.record_id,
                              tenant_record_id=uow.tenant)
        item = InvoiceItem(id=str(uuid.uuid4()), invoice_id=draft.id, account_id=parent.id,
                           type=InvoiceItemType.PARENT_SUMMARY, start_date=None, end_date=None,
                           amount=round_money(amount, currency), currency=currency, child_account_id=child.id,
                           description=f"{child.external_key} summary", created_date=uow.now)
        self._add(uow, parent, draft, [item], parent_invoices)
        uow.insert("invoice_parent_children",
                   store_parent.relation_row(draft.id, child_invoice_id, child.id, parent.record_id))

    def follow_adjustment(self, uow: UnitOfWork, child: Account, child_invoice_id: str) -> None:
        """A child invoice was adjusted: carry its last item adjustment onto the parent invoice."""
        child_invoice = self.invoices.get(uow, child_invoice_id)
        if child_invoice.parent is None:
            # Kill Bill: INVOICE_MISSING_PARENT_INVOICE (4026), logged by the listener
            log.warning("Missing parent invoice for invoice id %s", child_invoice_id)
            return
        parent = self.accounts.get(uow, child_invoice.parent.account_id)
        uow.lock_account(parent.record_id)
        parent_invoice = self.invoices.get(uow, child_invoice.parent.id)  # as it is under the parent's lock
        if raw_balance(parent_invoice) == 0:
            return  # a paid parent invoice ignores item adjustments
        summary = next((it for it in parent_invoice.items if it.type is InvoiceItemType.PARENT_SUMMARY
                        and it.child_account_id == child_invoice.account_id), None)
        adjustments = [it for it in child_invoice.items if it.type is InvoiceItemType.ITEM_ADJ]
        if summary is None or not adjustments:
            return  # e.g. the event of a credit applied to the child invoice
        last = max(adjustments, key=lambda it: (it.created_date or datetime.min.replace(tzinfo=UTC)))
        if parent_invoice.status is InvoiceStatus.COMMITTED:
            adj = InvoiceItem(id=str(uuid.uuid4()), invoice_id=parent_invoice.id, account_id=parent.id,
                              type=InvoiceItemType.ITEM_ADJ, start_date=last.start_date, end_date=last.start_date,
                              amount=last.amount, currency=parent_invoice.currency, linked_item_id=summary.id,
                              description=f"Adjustment for account {child.external_key}", created_date=uow.now)
            self._add(uow, parent, parent_invoice, [adj], self.invoices.invoices(uow, parent))
            uow.post(invoice_adjusted(uow, parent, parent_invoice.id))
            return
        self._set_amount(uow, summary, summary.amount + last.amount)

    # -- writes -------------------------------------------------------------------------------------------
    @staticmethod
    def _set_amount(uow: UnitOfWork, item: InvoiceItem, amount: Decimal) -> None:
        """`updateInvoiceItemAmount` (no credit logic, as in Kill Bill)."""
        row = store.item_record(uow.conn, uow.tenant, item.id)
        if row is not None:
            uow.update("invoice_items", row["record_id"], {"amount": round_money(amount, item.currency)})

    @staticmethod
    def _add(uow: UnitOfWork, parent: Account, invoice: Invoice, items: Sequence[InvoiceItem],
             parent_invoices: Sequence[Invoice]) -> None:
        """New items on a parent invoice, then the parent's credit (`createInvoices` → `CBADao`)."""
        changed = dataclasses.replace(invoice, items=invoice.items + tuple(items))
        others = [changed if inv.id == invoice.id else inv for inv in parent_invoices]
        cba = credit_items([changed], others, now=uow.now)
        uow.insert_many("invoice_items", [store.item_row(it, parent.record_id) for it in (*items, *cba)])

    def commit_time(self, uow: UnitOfWork) -> time:
        """The tenant's `org.killbill.invoice.parent.commit.local.utc.time` (its settings), else Kill Bill's
        default."""
        return self.tenants.settings(uow).time_of_day(PARENT_COMMIT_UTC_TIME)


