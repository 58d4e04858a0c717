"""Bus events of the payment service (Kill Bill's `PaymentInfoInternalEvent` → PAYMENT_SUCCESS,
`PaymentErrorInternalEvent` → PAYMENT_FAILED, `PaymentPluginErrorInternalEvent` → PAYMENT_FAILED; the
internal names are kept in `kind`)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from billow.core.bus.event import BusEvent
from billow.core.db import UnitOfWork
from billow.payment.model import Payment, PaymentTransaction, TransactionStatus


@dataclasses.dataclass(frozen=True, kw_only=True)
class PaymentEventBase(BusEvent):
    object_type = "PAYMENT"
    kind: str = ""
    payment_transaction_id: str = ""
    amount: Decimal | None = None
    currency: str | None = None
    status: str = ""
    transaction_type: str = ""
    effective_date: str | None = None
    is_api_payment: bool = True
    gateway_error_code: str | None = None

    def meta_data(self) -> dict[str, Any] | None:
        """Kill Bill's `PaymentMetadata` (the push notification's metaData)."""
        return {"paymentTransactionId": self.payment_transaction_id,
                "amount": None if self.amount is None else str(self.amount), "currency": self.currency,
                "status": self.status, "transactionType": self.transaction_type, "effectiveDate": self.effective_date}


@dataclasses.dataclass(frozen=True, kw_only=True)
class PaymentSuccessEvent(PaymentEventBase):
    event_type = "PAYMENT_SUCCESS"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PaymentFailedEvent(PaymentEventBase):
    event_type = "PAYMENT_FAILED"


def payment_event(uow: UnitOfWork, payment: Payment, trx: PaymentTransaction, *, api: bool) -> BusEvent:
    """The event a transaction's outcome posts (A.8): SUCCESS/PENDING → PAYMENT_SUCCESS (PAYMENT_INFO),
    PAYMENT_FAILURE → PAYMENT_FAILED (PAYMENT_ERROR), PLUGIN_FAILURE/UNKNOWN → PAYMENT_FAILED
    (PAYMENT_PLUGIN_ERROR)."""
    common: dict[str, Any] = dict(tenant_record_id=uow.tenant, account_record_id=payment.account_record_id,
                  account_id=payment.account_id, object_id=payment.id, user_token=uow.ctx.user_token,
                  payment_transaction_id=trx.id, amount=trx.processed_amount, currency=trx.currency,
                  status=trx.status.value, transaction_type=trx.transaction_type.value,
                  effective_date=trx.effective_date.isoformat(), is_api_payment=api)
    if trx.status in (TransactionStatus.SUCCESS, TransactionStatus.PENDING):
        return PaymentSuccessEvent(kind="PAYMENT_INFO", **common)
    kind = "PAYMENT_ERROR" if trx.status is TransactionStatus.PAYMENT_FAILURE else "PAYMENT_PLUGIN_ERROR"
    return PaymentFailedEvent(kind=kind, gateway_error_code=trx.gateway_error_code, **common)

