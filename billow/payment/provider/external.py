"""Kill Bill's `__EXTERNAL_PAYMENT__` plugin (`ExternalPaymentProviderPlugin`): payments made outside Billow.

Every transaction succeeds with the requested amount, unless a plugin property set to the string "true" asks
otherwise: `killbill.external.payment.fail.error` → ERROR, `...fail.exception` → raises, `...fail.cancellation`
→ CANCELED, `...fail.timeout` → sleeps past the tenant's plugin timeout, then PROCESSED.
"""

from __future__ import annotations

import time
from decimal import Decimal

from billow.payment.plugin_api import (
    PaymentPluginApi,
    PaymentPluginApiException,
    PaymentPluginStatus,
    PaymentTransactionInfo,
    PluginContext,
    TransactionRequest,
    TransactionType,
    property_value,
)

EXTERNAL_PAYMENT = "__EXTERNAL_PAYMENT__"
_FAIL = "killbill.external.payment.fail."


class ExternalPaymentPlugin(PaymentPluginApi):
    def _answer(self, kind: TransactionType, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        def asked(what: str) -> bool:
            return str(property_value(req.properties, _FAIL + what)).lower() == "true"

        status = PaymentPluginStatus.PROCESSED
        if asked("exception"):
            raise PaymentPluginApiException("external", "Failed to process the external payment")
        if asked("error"):
            status = PaymentPluginStatus.ERROR
        elif asked("cancellation"):
            status = PaymentPluginStatus.CANCELED
        elif asked("timeout"):
            time.sleep(ctx.timeout_seconds + 1)
        void = kind is TransactionType.VOID
        return PaymentTransactionInfo(
            kb_payment_id=req.kb_payment_id, kb_transaction_id=req.kb_transaction_id, transaction_type=kind,
            status=status, amount=Decimal(0) if void else None, currency=None if void else req.currency,
            created_date=ctx.now, effective_date=ctx.now)

    def authorize_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._answer(TransactionType.AUTHORIZE, req, ctx)

    def capture_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._answer(TransactionType.CAPTURE, req, ctx)

    def purchase_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._answer(TransactionType.PURCHASE, req, ctx)

    def void_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._answer(TransactionType.VOID, req, ctx)

    def credit_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._answer(TransactionType.CREDIT, req, ctx)

    def refund_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._answer(TransactionType.REFUND, req, ctx)
