"""What the payment service does when events arrive (Kill Bill's `PaymentBusEventHandler`, `PaymentTagHandler`,
`DefaultRetryService`):

- INVOICE_CREATION → notifications on `payment-invoice` (a bus pack's new invoices, up to `ROW_INVOICES` per row),
  whose handler pays the invoices outside any bus transaction (the gateway call must not hold one): the invoice
  service never calls payment;
- `payment-retry` notifications (scheduled by the invoice control after a failed automatic payment) → the
  invoice is paid again on the same payment, if it still has a balance;
- AUTO_PAY_OFF removed from an account → its unpaid invoices are paid now.
"""

from __future__ import annotations

import dataclasses
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
INVOICES = "invoices"  # a row for several new invoices: [[invoice id, account record id], ...]
ROW_INVOICES = 8
EXPANDED = INVOICE_QUEUE + "/expanded"  # the queue name of one invoice of such a row, as the handlers see it


def expand(notification: Notification) -> list[Notification]:
    """A row of several invoices as one notification per invoice (the row's record id, each invoice's account)."""
    return [dataclasses.replace(notification, queue_name=EXPANDED, payload={"invoice_id": str(invoice_id)},
                                account_record_id=int(arid))
            for invoice_id, arid in notification.payload[INVOICES]]


def pay_one_by_one(bus: Bus, invoices: InvoicePayments, expanded: list[Notification]) -> None:
    """Invoices of a pack's row paid by the single path; one whose account is at the gateway meanwhile gets a row
    of its own, which the bus retries as it retries any."""
    for n in expanded:
        assert n.tenant_record_id is not None
        ctx = internal_context(n.tenant_record_id, user_name="PaymentRequestProcessor", user_token=n.user_token)
        invoice_id = str(n.payload["invoice_id"])
        try:
            invoices.pay(ctx, PayRequest(invoice_id, api=False))
        except AccountBusy:
            with invoices.db.transaction(ctx) as uow:
                bus.schedule(uow, INVOICE_QUEUE, {"invoice_id": invoice_id}, uow.now,
                             account_record_id=n.account_record_id)
        except BillowError as e:
            log.warning("automatic payment of invoice %s refused: %s", invoice_id, e)
AUTO_PAY_QUEUE = "payment-auto-pay-on"


def install(bus: Bus, invoices: InvoicePayments) -> None:
    def on_invoices(uow: UnitOfWork, events: list[BusEvent]) -> None:
        by_token: dict[str | None, list[BusEvent]] = {}
        for e in invoices.payable(uow, [e for e in events if isinstance(e, InvoiceCreationEvent)]):
            by_token.setdefault(e.user_token, []).append(e)
        for token, payable in by_token.items():  # each notification carries its event's user token
            uow.ctx = internal_context(tenant_record_id=uow.tenant, user_token=token)
            if len(payable) == 1:
                only = payable[0]
                bus.schedule(uow, INVOICE_QUEUE, {"invoice_id": only.object_id}, uow.now,
                             account_record_id=only.account_record_id)
            else:  # rows of several invoices: a row costs four writes (insert, claim, archive, delete), and rows
                # of a few invoices still spread a pack over the idle workers as rows of one did
                bus.schedule_many(uow, INVOICE_QUEUE, [
                    ({INVOICES: [[e.object_id, e.account_record_id] for e in payable[i:i + ROW_INVOICES]]}, uow.now,
                     None) for i in range(0, len(payable), ROW_INVOICES)])

    def on_tag_removed(uow: UnitOfWork, event: BusEvent) -> None:
        if (isinstance(event, TagDeletionEvent) and event.tag_definition_name == AUTO_PAY_OFF
                and event.tagged_object_type == "ACCOUNT" and event.account_id):
            bus.schedule(uow, AUTO_PAY_QUEUE, {"account_id": event.account_id}, uow.now,
                         account_record_id=event.account_record_id)

    def pay(notification: Notification) -> None:
        if notification.tenant_record_id is None:
            return
        if INVOICES in notification.payload:  # a pack's row whose batch handler failed: its invoices one by one
            pay_one_by_one(bus, invoices, expand(notification))
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
    batch = InvoicePaymentBatch(invoices)

    def pay_pack(notifications: list[Notification]) -> list[Notification]:
        """The batch path for the pack's rows; what it leaves of a row of several invoices is paid here, one by
        one (the row is done either way), and a plain row it leaves goes back to the bus."""
        singles = [n for n in notifications if INVOICES not in n.payload]
        rows = [n for n in notifications if INVOICES in n.payload]
        left = batch.pay(singles + [one for row in rows for one in expand(row)])
        pay_one_by_one(bus, invoices, [n for n in left if n.queue_name == EXPANDED])
        return [n for n in left if n.queue_name != EXPANDED]

    bus.register_queue(INVOICE_QUEUE, pay, transactional=False, batch_handler=pay_pack)
    bus.register_queue(RETRY_QUEUE, pay, transactional=False)
    bus.register_queue(AUTO_PAY_QUEUE, pay_account, transactional=False)
