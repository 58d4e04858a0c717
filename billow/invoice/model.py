"""Invoices and invoice items as plain dataclasses (Kill Bill's `Invoice` / `InvoiceItem`).

No I/O here. Amounts are `Decimal` rounded to the currency's minor units
(Kill Bill rounds every item amount at construction, `InvoiceItemBase`);
dates of service periods are `datetime.date` in the account's fixed-offset
time zone (billing-semantics.md 4.10); `created_date` is a UTC instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

_ZERO = Decimal(0)


class InvoiceItemType(StrEnum):
    """Kill Bill's `InvoiceItemType`, in Kill Bill's declaration order.

    The order matters: items of one subscription with the same start date are
    sorted by it (billing-semantics.md 4.7; `SubscriptionItemTree.INVOICE_ITEM_COMPARATOR`).
    """

    EXTERNAL_CHARGE = "EXTERNAL_CHARGE"
    FIXED = "FIXED"
    RECURRING = "RECURRING"
    REPAIR_ADJ = "REPAIR_ADJ"
    CBA_ADJ = "CBA_ADJ"
    CREDIT_ADJ = "CREDIT_ADJ"
    ITEM_ADJ = "ITEM_ADJ"
    USAGE = "USAGE"
    TAX = "TAX"
    PARENT_SUMMARY = "PARENT_SUMMARY"

    @property
    def ordinal(self) -> int:
        return _ORDINALS[self]

    @property
    def is_charge(self) -> bool:
        """`InvoiceCalculatorUtils.isCharge`: TAX, EXTERNAL_CHARGE, FIXED, USAGE, RECURRING."""
        return self in _CHARGES


_ORDINALS = {t: i for i, t in enumerate(InvoiceItemType)}
_CHARGES = frozenset({InvoiceItemType.TAX, InvoiceItemType.EXTERNAL_CHARGE, InvoiceItemType.FIXED,
                      InvoiceItemType.USAGE, InvoiceItemType.RECURRING})


class InvoiceStatus(StrEnum):
    """Kill Bill's `InvoiceStatus` (billing-semantics.md 4.8)."""

    DRAFT = "DRAFT"
    COMMITTED = "COMMITTED"
    VOID = "VOID"


@dataclass(frozen=True, slots=True)
class InvoiceItem:
    """One invoice item (Kill Bill's `InvoiceItem` / `invoice_items` row).

    `rate` is the per-period price × quantity for RECURRING items;
    `linked_item_id` points REPAIR_ADJ / ITEM_ADJ (and credits) at the item they
    adjust. Repairs and CBA items carry no catalog effective date (spec Part 5, 23).
    """

    id: str
    invoice_id: str
    account_id: str
    type: InvoiceItemType
    start_date: date | None
    end_date: date | None
    amount: Decimal
    currency: str
    subscription_id: str | None = None
    bundle_id: str | None = None
    product_name: str | None = None
    plan_name: str | None = None
    phase_name: str | None = None
    usage_name: str | None = None
    rate: Decimal | None = None
    linked_item_id: str | None = None
    quantity: Decimal | None = None
    item_details: str | None = None
    description: str | None = None
    catalog_effective_date: datetime | None = None
    child_account_id: str | None = None
    created_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class Invoice:
    """One invoice with its items.

    `paid_amount` is the net of successful payments, refunds and chargebacks
    as the invoice balance sees them (billing-semantics.md 4.7/4.12);
    `written_off` mirrors the WRITTEN_OFF tag, `migrated` a migration invoice.
    `parent` is the parent summary invoice of a child account's invoice, with its items (Kill Bill's
    `InvoiceModelDao.getParentInvoice`): the child's balances follow it (`credit.py`).
    """

    id: str
    account_id: str
    invoice_date: date
    target_date: date | None
    currency: str
    status: InvoiceStatus = InvoiceStatus.COMMITTED
    items: tuple[InvoiceItem, ...] = ()
    invoice_number: int | None = None
    is_parent_invoice: bool = False
    parent_invoice_id: str | None = None
    parent_account_id: str | None = None
    paid_amount: Decimal = _ZERO
    has_pending_payment: bool = False
    written_off: bool = False
    migrated: bool = False
    created_date: datetime | None = None
    parent: Invoice | None = None
