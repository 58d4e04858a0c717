"""The invoice payment control (Kill Bill's `InvoicePaymentControlPluginApi`, `__INVOICE_PAYMENT_CONTROL_PLUGIN__`):
what a transaction of a payment that pays an invoice does to the invoice, in the unit of work recording it.

- PURCHASE: the ATTEMPT row written before the gateway call becomes successful (or stays failed, and a
  retry is scheduled for a non-API payment: `org.killbill.payment.retry.days` after a PAYMENT_FAILURE,
  the plugin-failure schedule after a PLUGIN_FAILURE, none after UNKNOWN);
- REFUND/CREDIT: a REFUND row (negative), with the item adjustments asked for;
- CHARGEBACK: a CHARGEBACK row (negative); its reversal (CHARGEBACK in PAYMENT_FAILURE) cancels that row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from billow.core.bus.bus import Bus
from billow.core.db import UnitOfWork
from billow.invoice.payments import ATTEMPT, CHARGEBACK, REFUND, InvoicePaymentInternalApi
from billow.payment import store
from billow.payment.model import Payment, PaymentTransaction, TransactionStatus, TransactionType
from billow.payment.processor import Prepared

RETRY_QUEUE = "payment-retry"

# plugin properties Kill Bill's invoice control reads (and a few of Billow's own, prefixed IPCD as well)
IPCD_INVOICE_ID = "IPCD_INVOICE_ID"
IPCD_REFUND_WITH_ADJUSTMENTS = "IPCD_REFUND_WITH_ADJUSTMENTS"
IPCD_REFUND_IDS_AMOUNTS = "IPCD_REFUND_IDS_AMOUNTS"


@dataclass(frozen=True)
class RefundAdjustments:
    """Invoice items to adjust with a refund (None amount: all that is left of the item)."""

    items: Mapping[str, Decimal | None]


class InvoicePaymentControl:
    def __init__(self, invoice_payments: InvoicePaymentInternalApi, bus: Bus) -> None:
        self.invoice_payments = invoice_payments
        self.bus = bus
        # refunds in flight that adjust items: transaction id → adjustments (set by the caller before record)
        self.adjustments: dict[str, RefundAdjustments] = {}

    def on_outcome(self, uow: UnitOfWork, prep: Prepared, payment: Payment, trx: PaymentTransaction) -> None:
        rows = self.invoice_payments.rows(uow, payment_id=payment.id)
        if not rows:
            return
        account_id = payment.account_id
        kind = trx.transaction_type
        if kind is TransactionType.PURCHASE:
            row = next((r for r in rows if r.type == ATTEMPT and r.payment_cookie_id == trx.external_key), None)
            if row is None:
                return
            ok = trx.status is TransactionStatus.SUCCESS
            if ok or trx.status is not TransactionStatus.PENDING:
                self.invoice_payments.complete(uow, row, account_id=account_id, success=ok,
                                               amount=trx.processed_amount if ok else None)
            self._attempt_state(uow, trx, "SUCCESS" if ok else "RETRIED" if trx.status in (
                TransactionStatus.PAYMENT_FAILURE, TransactionStatus.PLUGIN_FAILURE) else "ABORTED")
            if not ok and not prep.call.api:
                self._schedule_retry(uow, prep, payment, row.invoice_id)
            return
        if trx.status is not TransactionStatus.SUCCESS and not (
                kind is TransactionType.CHARGEBACK and trx.status is TransactionStatus.PAYMENT_FAILURE):
            return
        paid = next((r for r in rows if r.type == ATTEMPT and r.success), None)
        if paid is None:
            return
        if kind in (TransactionType.REFUND, TransactionType.CREDIT):
            # the refund first, then the adjustments: adjusting a still fully paid invoice would make credit
            self.invoice_payments.record(uow, account_record_id=payment.account_record_id, account_id=account_id,
                                         kind=REFUND, invoice_id=paid.invoice_id, payment_id=payment.id,
                                         amount=-trx.processed_amount, currency=trx.currency,
                                         cookie=trx.external_key, success=True, linked_id=paid.id)
            adjust = self.adjustments.pop(trx.id, None)
            if adjust is not None and adjust.items:
                self.invoice_payments.adjust_items(uow, paid.invoice_id, adjust.items)
        elif kind is TransactionType.CHARGEBACK and trx.status is TransactionStatus.SUCCESS:
            self.invoice_payments.record(uow, account_record_id=payment.account_record_id, account_id=account_id,
                                         kind=CHARGEBACK, invoice_id=paid.invoice_id, payment_id=payment.id,
                                         amount=-trx.processed_amount, currency=trx.currency,
                                         cookie=trx.external_key, success=True, linked_id=paid.id)
        elif kind is TransactionType.CHARGEBACK:  # a reversal
            reversed_row = next((r for r in reversed(rows) if r.type == CHARGEBACK and r.success
                                 and r.payment_cookie_id == trx.external_key), None) or next(
                (r for r in reversed(rows) if r.type == CHARGEBACK and r.success), None)
            if reversed_row is not None:
                self.invoice_payments.reverse_chargeback(uow, reversed_row, account_id)

    def cancel_retries(self, uow: UnitOfWork, payment: Payment) -> int:
        """Kill Bill's `cancelScheduledPaymentTransaction` (`PaymentCanceller`): the payment's future retries are
        removed; the attempts keep their state. The number removed."""
        return self.bus.remove_future(uow, RETRY_QUEUE, payment.account_record_id,
                                      lambda p: p.get("payment_external_key") == payment.external_key)

    @staticmethod
    def _attempt_state(uow: UnitOfWork, trx: PaymentTransaction, state: str) -> None:
        if trx.attempt_id is None:
            return
        found = store.attempts(uow.conn, uow.tenant, attempt_id=trx.attempt_id)
        if found:
            uow.update("payment_attempts", found[0].record_id, {"state_name": state, "transaction_id": trx.id})

    def _schedule_retry(self, uow: UnitOfWork, prep: Prepared, payment: Payment, invoice_id: str) -> None:
        purchases = [t for t in payment.transactions if t.transaction_type is TransactionType.PURCHASE]
        last = purchases[-1].status if purchases else None
        if last is TransactionStatus.PAYMENT_FAILURE:
            delay = prep.config.payment_failure_retry(
                sum(1 for t in purchases if t.status is TransactionStatus.PAYMENT_FAILURE))
        elif last is TransactionStatus.PLUGIN_FAILURE:
            delay = prep.config.plugin_failure_retry(
                sum(1 for t in purchases if t.status is TransactionStatus.PLUGIN_FAILURE))
        else:
            return
        if delay is None:
            return
        self.bus.schedule(uow, RETRY_QUEUE, {"invoice_id": invoice_id, "payment_external_key": payment.external_key,
                                             "account_id": payment.account_id},
                          uow.now + delay, account_record_id=payment.account_record_id)
