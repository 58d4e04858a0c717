"""Account credit (CBA) and balances (billing-semantics.md 4.7, 4.8; Kill Bill's CBADao)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from billow.invoice import (
    Invoice,
    InvoiceItem,
    InvoiceItemType,
    InvoiceStatus,
    account_balance,
    account_cba,
    apply_credit,
    balance,
    credit_items,
)
from tests.invoice.conftest import ACCOUNT_ID

NOW = datetime(2012, 3, 1, 23, 30, tzinfo=UTC)


def item(kind: InvoiceItemType, amount: str, inv: str) -> InvoiceItem:
    return InvoiceItem(id=f"{inv}-{kind}-{amount}", invoice_id=inv, account_id=ACCOUNT_ID, type=kind,
                       start_date=date(2012, 1, 1), end_date=None, amount=Decimal(amount), currency="USD")


def invoice(inv: str, *items: tuple[InvoiceItemType, str], status: InvoiceStatus = InvoiceStatus.COMMITTED,
            day: int = 1, paid: str = "0", pending: bool = False) -> Invoice:
    return Invoice(id=inv, account_id=ACCOUNT_ID, invoice_date=date(2012, 1, day), target_date=date(2012, 1, day),
                   currency="USD", status=status, items=tuple(item(k, a, inv) for k, a in items),
                   paid_amount=Decimal(paid), has_pending_payment=pending)


def test_negative_balance_generates_credit() -> None:
    inv = invoice("i1", (InvoiceItemType.REPAIR_ADJ, "-5.17"))
    cba = apply_credit(inv, Decimal(0), now=NOW)
    assert cba is not None and cba.type is InvoiceItemType.CBA_ADJ
    assert cba.amount == Decimal("5.17")
    assert cba.start_date == cba.end_date == date(2012, 3, 1)  # UTC date of the operation
    assert cba.catalog_effective_date is None


def test_positive_balance_consumes_available_credit_up_to_the_balance() -> None:
    inv = invoice("i1", (InvoiceItemType.RECURRING, "10.00"))
    cba = apply_credit(inv, Decimal("3.00"), now=NOW)
    assert cba is not None and cba.amount == Decimal("-3.00")
    cba = apply_credit(inv, Decimal("30.00"), now=NOW)
    assert cba is not None and cba.amount == Decimal("-10.00")
    assert apply_credit(inv, Decimal(0), now=NOW) is None


def test_draft_or_pending_payment_invoices_do_not_consume_credit() -> None:
    draft = invoice("i1", (InvoiceItemType.RECURRING, "10.00"), status=InvoiceStatus.DRAFT)
    assert apply_credit(draft, Decimal("5.00"), now=NOW) is None
    pending = invoice("i2", (InvoiceItemType.RECURRING, "10.00"), pending=True)
    assert apply_credit(pending, Decimal("5.00"), now=NOW) is None
    paid = invoice("i3", (InvoiceItemType.RECURRING, "10.00"), paid="10.00")
    assert apply_credit(paid, Decimal("5.00"), now=NOW) is None


def test_credit_invoice_has_zero_balance_and_lowers_the_account_balance() -> None:
    credit = invoice("c1", (InvoiceItemType.CREDIT_ADJ, "-20.00"), (InvoiceItemType.CBA_ADJ, "20.00"))
    assert balance(credit) == 0
    assert account_cba([credit]) == Decimal("20.00")
    assert account_balance([credit]) == Decimal("-20.00")
    draft = invoice("d1", (InvoiceItemType.RECURRING, "10.00"), status=InvoiceStatus.DRAFT)
    assert balance(draft) == 0
    assert account_balance([credit, draft]) == Decimal("-20.00")


def test_credit_items_for_new_invoice_then_oldest_unpaid_first() -> None:
    credit = invoice("c1", (InvoiceItemType.CREDIT_ADJ, "-25.00"), (InvoiceItemType.CBA_ADJ, "25.00"), day=1)
    old = invoice("o1", (InvoiceItemType.RECURRING, "10.00"), day=2)
    older = invoice("o0", (InvoiceItemType.RECURRING, "8.00"), day=1)
    new = invoice("n1", (InvoiceItemType.RECURRING, "10.00"), day=5)
    items = credit_items([new], [credit, old, older, new], now=NOW)
    assert [(it.invoice_id, str(it.amount)) for it in items] == [("n1", "-10.00"), ("o0", "-8.00"), ("o1", "-7.00")]


def test_repair_invoice_credit_then_consumed_by_next_invoice() -> None:
    repair_inv = invoice("r1", (InvoiceItemType.REPAIR_ADJ, "-6.00"))
    items = credit_items([repair_inv], [repair_inv], now=NOW)
    assert [(it.invoice_id, str(it.amount)) for it in items] == [("r1", "6.00")]
    repair_inv = Invoice(**{**{f: getattr(repair_inv, f) for f in Invoice.__dataclass_fields__},
                            "items": repair_inv.items + tuple(items)})
    nxt = invoice("n2", (InvoiceItemType.RECURRING, "10.00"), day=3)
    items = credit_items([nxt], [repair_inv, nxt], now=NOW)
    assert [(it.invoice_id, str(it.amount)) for it in items] == [("n2", "-6.00")]
