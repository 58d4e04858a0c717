"""Bus events of the invoice service, with Kill Bill's external event type names.

Kill Bill: `DefaultInvoiceCreationEvent` (INVOICE_CREATION), `DefaultInvoiceAdjustmentEvent`
(INVOICE_ADJUSTMENT), `DefaultNullInvoiceEvent` (internal only: not pushed, no event type).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from billow.core.bus.event import BusEvent


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
class NullInvoiceEvent(BusEvent):
    """A run found nothing to invoice (Kill Bill's internal `NullInvoiceInternalEvent`)."""

    event_type = ""
    object_type = "INVOICE"
