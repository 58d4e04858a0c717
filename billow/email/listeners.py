"""Which events ask for which emails (Kill Bill's email-notifications plugin's `EmailNotificationListener`, plus
Billow's overdue emails), and the `email-send` queue.

The events of a bus pack are read a tenant at a time (one look at the tenant's settings, its accounts at once), and
the emails are recorded in the pack's own unit of work: an event asks for its email exactly once.
"""

from __future__ import annotations

from billow.account.internal import AccountInternalApi
from billow.core.bus.bus import Bus
from billow.core.bus.event import BusEvent
from billow.core.db import UnitOfWork
from billow.email.model import EmailEvent
from billow.email.service import SEND_QUEUE, Asked, EmailService
from billow.invoice.events import (
    InvoiceCreationEvent,
    InvoiceNotificationEvent,
    InvoicePaymentErrorEvent,
    InvoicePaymentSuccessEvent,
)
from billow.overdue.configs import OverdueConfigs
from billow.overdue.events import OverdueChangeEvent


def _amount(value: object) -> str | None:
    return None if value is None else str(value)


def install(bus: Bus, emails: EmailService, accounts: AccountInternalApi, overdue: OverdueConfigs) -> None:
    def on_events(uow: UnitOfWork, events: list[BusEvent]) -> None:
        settings = emails.settings(uow)  # called once per tenant: `uow` is in the events' tenant
        kinds = {EmailEvent(e.event_type) for e in events if e.event_type in EmailEvent.__members__}
        if not kinds & settings.events:
            return
        if not settings.sends:
            emails.no_settings(uow)
            return
        arids = sorted({e.account_record_id for e in events if e.account_record_id is not None})
        found = accounts.by_record_ids(uow, arids)
        asked: list[Asked] = []
        for e in events:
            account = found.get(e.account_record_id) if e.account_record_id is not None else None
            if account is None:
                continue
            if isinstance(e, InvoiceCreationEvent):
                asked.append(Asked(account, EmailEvent.INVOICE_CREATION, e.object_id, {}))
            elif isinstance(e, InvoiceNotificationEvent):
                asked.append(Asked(account, EmailEvent.INVOICE_NOTIFICATION, None, {
                    "targetDate": e.target_date, "amountOwed": _amount(e.amount_owed), "currency": e.currency}))
            elif isinstance(e, (InvoicePaymentSuccessEvent, InvoicePaymentErrorEvent)):
                if e.payment_id is None:  # no payment was made (no payment method): Kill Bill's plugin skips it
                    continue
                kind = (EmailEvent.INVOICE_PAYMENT_SUCCESS if isinstance(e, InvoicePaymentSuccessEvent)
                        else EmailEvent.INVOICE_PAYMENT_FAILED)
                asked.append(Asked(account, kind, e.object_id, {
                    "paymentId": e.payment_id, "amount": _amount(e.amount), "currency": e.currency}))
            elif isinstance(e, OverdueChangeEvent):
                state = overdue.config(uow).state(e.next_overdue_state_name)
                asked.append(Asked(account, EmailEvent.OVERDUE_CHANGE, None, {
                    "previousState": e.previous_overdue_state_name, "state": e.next_overdue_state_name,
                    "externalMessage": state.external_message, "isClear": state.is_clear}))
        if asked:
            emails.record(uow, asked)

    bus.subscribe_batch(on_events, InvoiceCreationEvent, InvoiceNotificationEvent, InvoicePaymentSuccessEvent,
                        InvoicePaymentErrorEvent, OverdueChangeEvent, name="email-notifications")
    bus.register_queue(SEND_QUEUE, emails.send, transactional=False)
