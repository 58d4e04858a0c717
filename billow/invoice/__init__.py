"""Invoicing: the pure invoice generator (fixed, recurring, repair), credits (CBA) and the invoice model.

Public API (pure, no I/O):

- `generate_invoice(account, events, existing_invoices, target_date, config, *, invoice_id, now, usage=None,
  skip_subscriptions=())` → `GenerationResult`; `generate(...)` → the new items only.
- `apply_credit(invoice, available_cba, *, now)` / `credit_items(candidates, invoices, *, now)` → CBA_ADJ items.
- `charged_through_dates(items)` → per-subscription CTD (local dates) of a COMMITTED invoice.
"""

from billow.invoice.credit import account_balance, account_cba, apply_credit, balance, credit_items, raw_balance
from billow.invoice.generator import (
    AccountBillingInfo,
    GenerationResult,
    GeneratorConfig,
    InArrearMode,
    InvoicingError,
    NotificationDates,
    TargetDateTooFar,
    UsageDetailMode,
    UsageItemGenerator,
    UsageResult,
    adjust_target_date,
    charged_through_dates,
    generate,
    generate_invoice,
)
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus

__all__ = [
    "AccountBillingInfo",
    "GenerationResult",
    "GeneratorConfig",
    "InArrearMode",
    "Invoice",
    "InvoiceItem",
    "InvoiceItemType",
    "InvoiceStatus",
    "InvoicingError",
    "NotificationDates",
    "TargetDateTooFar",
    "UsageDetailMode",
    "UsageItemGenerator",
    "UsageResult",
    "account_balance",
    "account_cba",
    "adjust_target_date",
    "apply_credit",
    "balance",
    "charged_through_dates",
    "credit_items",
    "generate",
    "generate_invoice",
    "raw_balance",
]
