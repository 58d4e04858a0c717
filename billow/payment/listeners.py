"""What the payment service does when events arrive (Kill Bill's `PaymentBusEventHandler`, `PaymentTagHandler`,
`DefaultRetryService`):

- INVOICE_CREATION → a notification on `payment-invoice`, whose handler pays the invoice outside any bus
  transaction (the gateway call must not hold one): the invoice service never calls payment;
- `payment-retry` notifications (scheduled by the invoice control after a failed automatic payment) → the
  invoice is paid again on the same payment, if it still has a balance;
- AUTO_PAY_OFF removed from an account → its unpaid invoices are paid now.
"""

from __future__ import annotations

import logging

from billow.core.bus.bus import Bus, Notification
from billow.core.bus.event import BusEvent
from billow.core.context import internal_context
from billow.core.db import UnitOfWork
from billow.core.errors import BillowError
from billow.invoice.events import InvoiceCreationEvent
from billow.payment.errors import AccountBusy
from billow.payment.invoice_batch import InvoicePaymentBatch
from billow.payment.invoice_control import RETRY_QUEUE
from billow.payment.invoices import InvoicePayments, PayRequest
from billow.tag.events import TagDeletionEvent
from billow.tag.model import AUTO_PAY_OFF

log = logging.getLogger(__name__)

INVOICE_QUEUE = "payment-invoice"
AUTO_PAY_QUEUE = "payment-auto-pay-on"


def install(bus: Bus, invoices: InvoicePayments) -> None:
    def on_invoices(uow: UnitOfWork, events: list[BusEvent]) -> None:
        by_token: dict[str | None, list[BusEvent]] = {}
        for e in invoices.payable(uow, [e for e in events if isinstance(e, InvoiceCreationEvent)]):
            by_token.setdefault(e.user_token, []).append(e)
        for token, payable in by_token.items():  # each notification carries its event's user token
            uow.ctx = internal_context(tenant_record_id=uow.tenant, user_token=token)
            bus.schedule_many(uow, INVOICE_QUEUE, [({"invoice_id": e.object_id}, uow.now, e.account_record_id)
                                                   for e in payable])

    def on_tag_removed(uow: UnitOfWork, event: BusEvent) -> None:
        if (isinstance(event, TagDeletionEvent) and event.tag_definition_name == AUTO_PAY_OFF
                and event.tagged_object_type == "ACCOUNT" and event.account_id):
            bus.schedule(uow, AUTO_PAY_QUEUE, {"account_id": event.account_id}, uow.now,
                         account_record_id=event.account_record_id)

    def pay(notification: Notification) -> None:
        if notification.tenant_record_id is None:
            return
        ctx = internal_context(notification.tenant_record_id, user_name="PaymentRequestProcessor",
                               user_token=notification.user_token)
        p = notification.payload
        try:
            invoices.pay(ctx, PayRequest(str(p["invoice_id"]), payment_external_key=p.get("payment_external_key"),
                                         api=False))
        except AccountBusy:  # another payment of the account is at the gateway: the notification is retried
            raise
        except BillowError as e:  # a business refusal (no plugin, bad method): retrying the row cannot help
            log.warning("automatic payment of invoice %s refused: %s", p["invoice_id"], e)

    def pay_account(notification: Notification) -> None:
        if notification.tenant_record_id is None:
            return
        ctx = internal_context(notification.tenant_record_id, user_name="PaymentRequestProcessor",
                               user_token=notification.user_token)
        for invoice_id in invoices.parked_by_auto_pay_off(ctx, str(notification.payload["account_id"])):
            try:
                invoices.pay(ctx, PayRequest(invoice_id, api=False))
            except AccountBusy:
                raise
            except BillowError as e:
                log.warning("automatic payment of invoice %s refused: %s", invoice_id, e)

    bus.subscribe_batch(on_invoices, InvoiceCreationEvent, name="payment-invoices")
    bus.subscribe(on_tag_removed, TagDeletionEvent, name="payment-tags")
    # a worker's pack of new invoices is paid at once (a retry, with its payment key, goes through `pay`)
    bus.register_queue(INVOICE_QUEUE, pay, transactional=False, batch_handler=InvoicePaymentBatch(invoices).pay)
    bus.register_queue(RETRY_QUEUE, pay, transactional=False)
    bus.register_queue(AUTO_PAY_QUEUE, pay_account, transactional=False)
