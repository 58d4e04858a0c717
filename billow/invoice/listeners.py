"""What the invoice service does when other services' events arrive (Kill Bill's `InvoiceListener`).

- Effective subscription transitions (creation, phase, change, cancel, BCD change, pause/resume
  of a bundle; not uncancel or expiry) → a run with target date = the transition's local date.
- Blocking states that block or unblock billing → a run with target date = today.
- The next-billing-date queue (one notification per tenant and instant) → the batch runner.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from billow.core.bus.event import BusEvent
from billow.core.context import internal_context
from billow.core.db import UnitOfWork
from billow.entitlement import events as ent
from billow.invoice.billing_run import TRIGGER_QUEUE
from billow.invoice.generator import fixed_offset
from billow.invoice.service import InvoiceService

_TRANSITIONS = (ent.SubscriptionCreationEvent, ent.SubscriptionPhaseEvent, ent.SubscriptionChangeEvent,
                ent.SubscriptionCancelEvent, ent.SubscriptionBcdChangeEvent)
_TODAY = (ent.BundlePauseEvent, ent.BundleResumeEvent, ent.BlockingStateEvent)


def _local_date(service: InvoiceService, uow: UnitOfWork, account_record_id: int, tenant: int,
                instant: datetime) -> date:
    account = service.accounts.by_record_ids(uow.conn, internal_context(tenant), [account_record_id]
                                             ).get(account_record_id)
    if account is None:
        return instant.date()
    return instant.astimezone(fixed_offset(account.time_zone, account.reference_time)).date()


def install(service: InvoiceService, bus: Any) -> None:
    service.bus = bus

    def on_transition(uow: UnitOfWork, event: BusEvent) -> None:
        if event.account_record_id is None:
            return
        ctx = internal_context(event.tenant_record_id, user_token=event.user_token)
        when = getattr(event, "effective_date", None)
        instant = datetime.fromisoformat(when) if when else uow.now
        target = _local_date(service, uow, event.account_record_id, event.tenant_record_id, instant)
        service.on_event(uow, ctx, event.account_record_id, target)

    def on_today(uow: UnitOfWork, event: BusEvent) -> None:
        if event.account_record_id is None:
            return
        ctx = internal_context(event.tenant_record_id, user_token=event.user_token)
        target = _local_date(service, uow, event.account_record_id, event.tenant_record_id, uow.now)
        service.on_event(uow, ctx, event.account_record_id, target)

    bus.subscribe(on_transition, *_TRANSITIONS, name="invoice-transitions")
    bus.subscribe(on_today, *_TODAY, name="invoice-blocking")

    def on_trigger(notification: Any) -> None:
        tenant = notification.tenant_record_id
        if tenant is None:
            return None
        fire_at = datetime.fromisoformat(notification.payload["fireAt"])
        service.on_trigger(tenant, fire_at)
        return None

    bus.register_queue(TRIGGER_QUEUE, on_trigger, transactional=False)
