"""What the invoice service does when other services' events arrive (Kill Bill's `InvoiceListener`).

- Effective subscription transitions (creation, phase, change, cancel, BCD and quantity change, pause/resume
  of a bundle; not uncancel or expiry) → a run with target date = the transition's local date.
- Blocking states that block or unblock billing → a run with target date = today.
- The next-billing-date queue (one notification per tenant and instant) → the batch runner.
- AUTO_INVOICING_OFF removed from an account → a run with target date = today, which catches up with
  everything the account was not invoiced for meanwhile (Kill Bill's `InvoiceTagHandler`).
"""

from __future__ import annotations

from datetime import date, datetime

from billow.account.internal import AccountInternalApi
from billow.core.bus.bus import Bus, Notification
from billow.core.bus.event import BusEvent
from billow.core.db import UnitOfWork
from billow.entitlement import events as ent
from billow.invoice.billing_run import HELPER_QUEUE, TRIGGER_QUEUE, BillingRun
from billow.invoice.internal import InvoiceInternalApi
from billow.tag.events import TagDeletionEvent
from billow.tag.model import AUTO_INVOICING_OFF

_TRANSITIONS = (ent.SubscriptionCreationEvent, ent.SubscriptionPhaseEvent, ent.SubscriptionChangeEvent,
                ent.SubscriptionCancelEvent, ent.SubscriptionBcdChangeEvent, ent.SubscriptionQuantityChangeEvent)
_TODAY = (ent.BundlePauseEvent, ent.BundleResumeEvent, ent.BlockingStateEvent)


def install(invoices: InvoiceInternalApi, run: BillingRun, accounts: AccountInternalApi, bus: Bus) -> None:
    def local_date(uow: UnitOfWork, account_record_id: int, instant: datetime) -> date:
        account = accounts.by_record_ids(uow, [account_record_id]).get(account_record_id)
        return account.time.local_date(instant) if account is not None else instant.date()

    def on_transition(uow: UnitOfWork, event: BusEvent) -> None:
        if event.account_record_id is None:
            return
        when = getattr(event, "effective_date", None)
        instant = datetime.fromisoformat(when) if when else uow.now
        invoices.run_for_event(uow, event.account_record_id, local_date(uow, event.account_record_id, instant))

    def on_today(uow: UnitOfWork, event: BusEvent) -> None:
        if event.account_record_id is None:
            return
        invoices.run_for_event(uow, event.account_record_id, local_date(uow, event.account_record_id, uow.now))

    bus.subscribe(on_transition, *_TRANSITIONS, name="invoice-transitions")
    bus.subscribe(on_today, *_TODAY, name="invoice-blocking")

    def on_tag_removed(uow: UnitOfWork, event: BusEvent) -> None:
        if (isinstance(event, TagDeletionEvent) and event.tag_definition_name == AUTO_INVOICING_OFF
                and event.tagged_object_type == "ACCOUNT" and event.account_record_id is not None):
            invoices.run_for_event(uow, event.account_record_id, None)

    bus.subscribe(on_tag_removed, TagDeletionEvent, name="invoice-tags")

    def on_trigger(notification: Notification) -> None:
        if notification.tenant_record_id is not None:
            run.on_trigger(notification.tenant_record_id)

    bus.register_queue(TRIGGER_QUEUE, on_trigger, transactional=False)

    def on_helper(notification: Notification) -> None:
        if notification.tenant_record_id is not None:
            run.on_helper(notification.tenant_record_id, datetime.fromisoformat(notification.payload["now"]))

    bus.register_queue(HELPER_QUEUE, on_helper, transactional=False, others_only=True)
