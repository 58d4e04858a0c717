"""Bus events of the invoice service, with Kill Bill's external event type names.

Kill Bill: `DefaultInvoiceCreationEvent` (INVOICE_CREATION), `DefaultInvoiceAdjustmentEvent`
(INVOICE_ADJUSTMENT), `DefaultNullInvoiceEvent` (internal only: not pushed, no event type).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from billow.account.model import Account
from billow.core.bus.event import BusEvent
from billow.core.db import UnitOfWork


@dataclasses.dataclass(frozen=True, kw_only=True)
class InvoiceCreationEvent(BusEvent):
    event_type = "INVOICE_CREATION"
    object_type = "INVOICE"
    amount: Decimal | None = None
    currency: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class InvoiceAdjustmentEvent(BusEvent):
    event_type = "INVOICE_ADJUSTMENT"
    object_type = "INVOICE"


@dataclasses.dataclass(frozen=True, kw_only=True)
class InvoiceNotificationEvent(BusEvent):
    """An upcoming invoice (`dryRunNotificationSchedule`): no invoice id, what it would ask the account for."""

    event_type = "INVOICE_NOTIFICATION"
    object_type = "INVOICE"
    target_date: str = ""
    amount_owed: Decimal | None = None
    currency: str | None = None

    def meta_data(self) -> dict[str, Any] | None:
        """Kill Bill's `InvoiceNotificationMetadata` (Jackson writes the amount as a JSON number; a 2-place amount's
        shortest float text is its exact decimal text)."""
        amount = float(self.amount_owed) if self.amount_owed is not None else None
        return {"targetDate": self.target_date, "amountOwed": amount, "currency": self.currency}


@dataclasses.dataclass(frozen=True, kw_only=True)
class NullInvoiceEvent(BusEvent):
    """A run found nothing to invoice (Kill Bill's internal `NullInvoiceInternalEvent`)."""

    event_type = ""
    object_type = "INVOICE"


def invoice_created(uow: UnitOfWork, account: Account, invoice_id: str, currency: str) -> InvoiceCreationEvent:
    """INVOICE_CREATION: a COMMITTED invoice exists (made by a run, committed from DRAFT, or given items)."""
    return InvoiceCreationEvent(tenant_record_id=uow.tenant, account_record_id=account.record_id,
                                account_id=account.id, object_id=invoice_id, user_token=uow.ctx.user_token,
                                currency=currency)


def invoice_adjusted(uow: UnitOfWork, account: Account, invoice_id: str) -> InvoiceAdjustmentEvent:
    return InvoiceAdjustmentEvent(tenant_record_id=uow.tenant, account_record_id=account.record_id,
                                  account_id=account.id, object_id=invoice_id, user_token=uow.ctx.user_token)


def nothing_invoiced(uow: UnitOfWork, account: Account) -> NullInvoiceEvent:
    return NullInvoiceEvent(tenant_record_id=uow.tenant, account_record_id=account.record_id,
                            account_id=account.id, user_token=uow.ctx.user_token)


@dataclasses.dataclass(frozen=True, kw_only=True)
class InvoicePaymentSuccessEvent(BusEvent):
    """Kill Bill's `InvoicePaymentInfoInternalEvent` (external INVOICE_PAYMENT_SUCCESS)."""

    event_type = "INVOICE_PAYMENT_SUCCESS"
    object_type = "INVOICE"
    payment_id: str | None = None
    invoice_payment_type: str = "ATTEMPT"
    amount: Decimal | None = None
    currency: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class InvoicePaymentErrorEvent(BusEvent):
    """Kill Bill's `InvoicePaymentErrorInternalEvent` (external INVOICE_PAYMENT_FAILED)."""

    event_type = "INVOICE_PAYMENT_FAILED"
    object_type = "INVOICE"
    payment_id: str | None = None
    invoice_payment_type: str = "ATTEMPT"
    amount: Decimal | None = None
    currency: str | None = None
