"""What the overdue service does when events arrive (Kill Bill's `OverdueListener`, `OverdueCheckNotifier`;
../shared/spec/platform.md B.4): invoice and invoice-payment events re-evaluate the account (and the parent that
pays for it); OVERDUE_ENFORCEMENT_OFF added to an account clears it, removed re-evaluates it; WRITTEN_OFF added to
or removed from an invoice re-evaluates its account; a due `overdue-check-queue` notification re-evaluates.

Kill Bill hands bus events to a notification queue first; here the evaluation runs in the event's own unit of
work, under the account's lock, which is as safe (a duplicate event evaluates to the same state: no change).
"""

from __future__ import annotations

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.core.bus.bus import Bus, Notification
from billow.core.bus.event import BusEvent
from billow.core.context import internal_context
from billow.core.db import UnitOfWork
from billow.invoice.events import (
    InvoiceAdjustmentEvent,
    InvoiceCreationEvent,
    InvoicePaymentErrorEvent,
    InvoicePaymentSuccessEvent,
)
from billow.overdue.applicator import CHECK_QUEUE, OverdueApplicator
from billow.tag.events import TagCreationEvent, TagDeletionEvent
from billow.tag.model import OVERDUE_ENFORCEMENT_OFF, WRITTEN_OFF


def install(bus: Bus, applicator: OverdueApplicator, accounts: AccountInternalApi) -> None:
    def accounts_of(uow: UnitOfWork, event: BusEvent) -> list[Account]:
        if event.account_record_id is None:
            return []
        account = accounts.by_record_id(uow, event.account_record_id)
        out = [account]
        if account.is_payment_delegated_to_parent and account.parent_account_id:
            out.append(accounts.get(uow, account.parent_account_id))
        return out

    def on_invoice(uow: UnitOfWork, event: BusEvent) -> None:
        on_invoices(uow, [event])

    def on_invoices(uow: UnitOfWork, events: list[BusEvent]) -> None:
        """A pack's invoice events: the configuration read once per tenant (Kill Bill skips a tenant whose states
        never apply, which costs a billing run nothing more), each account evaluated once, after its events."""
        by_tenant: dict[int, list[BusEvent]] = {}
        for e in events:
            by_tenant.setdefault(e.tenant_record_id, []).append(e)
        for tenant, found in by_tenant.items():
            uow.ctx = internal_context(tenant, user_token=found[-1].user_token)
            if not applicator.configs.config(uow).evaluates:
                continue
            done: set[int] = set()
            for event in found:
                for account in accounts_of(uow, event):
                    if account.record_id not in done:
                        done.add(account.record_id)
                        uow.ctx = internal_context(tenant, user_token=event.user_token)
                        applicator.refresh(uow, account)

    def on_tag(uow: UnitOfWork, event: BusEvent) -> None:
        if not isinstance(event, (TagCreationEvent, TagDeletionEvent)) or event.account_record_id is None:
            return
        name, kind = event.tag_definition_name, event.tagged_object_type
        if name == OVERDUE_ENFORCEMENT_OFF and kind == "ACCOUNT":
            if isinstance(event, TagCreationEvent):
                if applicator.configs.config(uow).evaluates:
                    applicator.clear(uow, accounts.by_record_id(uow, event.account_record_id))
            else:
                on_invoice(uow, event)
        elif name == WRITTEN_OFF and kind == "INVOICE":
            on_invoice(uow, event)

    def on_check(uow: UnitOfWork, notification: Notification) -> None:
        if notification.account_record_id is not None and applicator.configs.config(uow).evaluates:
            applicator.refresh(uow, accounts.by_record_id(uow, notification.account_record_id))

    bus.subscribe_batch(on_invoices, InvoiceCreationEvent, InvoiceAdjustmentEvent, InvoicePaymentSuccessEvent,
                        InvoicePaymentErrorEvent, name="overdue-invoices")
    bus.subscribe(on_tag, TagCreationEvent, TagDeletionEvent, name="overdue-tags")
    bus.register_queue(CHECK_QUEUE, on_check)
