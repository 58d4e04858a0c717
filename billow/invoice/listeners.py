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
    def on_events(uow: UnitOfWork, events: list[BusEvent]) -> None:
        """A pack's subscription transitions and blocking changes: each account with one such event is billed
        with the others in one run (reads and writes once); an account with several runs once per event, in
        their order, as Kill Bill's one invoice run per event."""
        by_account: dict[int, list[BusEvent]] = {}
        for event in events:
            if event.account_record_id is not None:
                by_account.setdefault(event.account_record_id, []).append(event)
        found = accounts.by_record_ids(uow, list(by_account))

        def target(event: BusEvent) -> date:
            when = getattr(event, "effective_date", None) if isinstance(event, _TRANSITIONS) else None
            instant = datetime.fromisoformat(when) if when else uow.now
            account = found.get(event.account_record_id or 0)
            return account.time.local_date(instant) if account is not None else instant.date()

        single = {arid: target(evs[0]) for arid, evs in by_account.items() if len(evs) == 1}
        if single:
            invoices.run_for_events(uow, single)
        for arid, evs in by_account.items():
            if len(evs) > 1:
                for event in evs:
                    invoices.run_for_event(uow, arid, target(event))

    bus.subscribe_batch(on_events, *_TRANSITIONS, *_TODAY, name="invoice-transitions")

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
