"""Hand-made accounts and invoices for the pure presentation tests (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from billow.account.model import Account
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus

T = InvoiceItemType
NOW = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def account(**kw: object) -> Account:
    base = Account(record_id=1, id="acc-1", tenant_record_id=1, external_key="ext-1", name="Zoé Martin",
                   first_name_length=3, email="zoe@example.com", bill_cycle_day_local=1, currency="EUR",
                   parent_account_id=None, is_payment_delegated_to_parent=False, payment_method_id=None,
                   reference_time=NOW, time_zone="Europe/Paris", locale="fr_FR", address1="12 rue des Lilas",
                   address2=None, company_name="Lilas SARL", city="Lyon", state_or_province=None, country="FR",
                   postal_code="69001", phone=None, notes=None, migrated=False, created_date=NOW, updated_date=NOW)
    return replace(base, **kw)  # type: ignore[arg-type]


def item(n: int, type_: InvoiceItemType, amount: str, *, currency: str = "EUR", start: date | None = None,
         end: date | None = None, **kw: object) -> InvoiceItem:
    return InvoiceItem(id=f"item-{n}", invoice_id="inv-1", account_id="acc-1", type=type_, start_date=start,
                       end_date=end, amount=Decimal(amount), currency=currency, **kw)  # type: ignore[arg-type]


def invoice(items: list[InvoiceItem], *, currency: str = "EUR", status: InvoiceStatus = InvoiceStatus.COMMITTED,
            paid: str = "0", number: int = 1042) -> Invoice:
    return Invoice(id="inv-1", account_id="acc-1", invoice_date=date(2024, 3, 1), target_date=date(2024, 3, 1),
                   currency=currency, status=status, items=tuple(items), invoice_number=number,
                   paid_amount=Decimal(paid), created_date=NOW)


def subscription_invoice(**kw: object) -> Invoice:
    """A monthly subscription, a set-up fee, usage with two tiers and a tax line: 1 234,56 € in all."""
    details = ('{"tierDetails":[{"tier":1,"tierUnit":"minutes","tierPrice":0.05,"quantity":1000,"amount":50.00},'
               '{"tier":2,"tierUnit":"minutes","tierPrice":0.025,"quantity":400,"amount":10.00}],"amount":60.00}')
    items = [
        item(1, T.RECURRING, "999.00", start=date(2024, 3, 1), end=date(2024, 4, 1), subscription_id="sub-1",
             product_name="Gold", plan_name="gold-monthly", phase_name="gold-monthly-evergreen", rate=Decimal("999")),
        item(2, T.FIXED, "100.00", start=date(2024, 3, 1), subscription_id="sub-1", product_name="Gold",
             plan_name="gold-monthly", phase_name="gold-monthly-trial"),
        item(3, T.USAGE, "60.00", start=date(2024, 2, 1), end=date(2024, 3, 1), subscription_id="sub-1",
             product_name="Gold", plan_name="gold-monthly", phase_name="gold-monthly-evergreen",
             usage_name="gold-minutes", quantity=Decimal(1400), item_details=details),
        item(4, T.TAX, "75.56", start=date(2024, 3, 1), description="VAT"),
    ]
    return invoice(items, **kw)  # type: ignore[arg-type]
