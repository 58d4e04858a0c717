"""The pure rules of parent summary invoices and of a child invoice's balances (no database).

Kill Bill: `InvoiceCalculatorUtils.computeChildInvoiceAmount`, `InvoiceDispatcher.shouldIgnoreChildInvoice`,
`DefaultInvoiceDao.notifyOfParentInvoiceCreation`, `DefaultInvoice.getBalance`, `CBADao.getInvoiceBalance`,
`DefaultInvoiceDao.getAccountBalance`.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from billow.invoice.credit import account_balance, balance, cba_balance, credit_items
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus
from billow.invoice.parent import child_invoice_amount, commit_instant, ignores_child_invoice

T = InvoiceItemType
CHILD, PARENT = "child-account", "parent-account"
_n = iter(range(10**6))


def item(kind: InvoiceItemType, amount: str, *, invoice: str = "inv", account: str = CHILD,
         child: str | None = None) -> InvoiceItem:
    return InvoiceItem(id=f"it-{next(_n)}", invoice_id=invoice, account_id=account, type=kind,
                       start_date=date(2024, 1, 1), end_date=date(2024, 2, 1), amount=D(amount), currency="USD",
                       child_account_id=child)


def invoice(*items: InvoiceItem, status: InvoiceStatus = InvoiceStatus.COMMITTED, account: str = CHILD,
            invoice_id: str = "inv", parent: Invoice | None = None) -> Invoice:
    return Invoice(id=invoice_id, account_id=account, invoice_date=date(2024, 1, 1), target_date=date(2024, 1, 1),
                   currency="USD", status=status, items=tuple(dataclasses.replace(i, invoice_id=invoice_id)
                                                              for i in items), parent=parent,
                   is_parent_invoice=account == PARENT)


def parent_of(amount: str, status: InvoiceStatus, *extra: InvoiceItem) -> Invoice:
    return invoice(item(T.PARENT_SUMMARY, amount, account=PARENT, child=CHILD), *extra, status=status,
                   account=PARENT, invoice_id="parent")


def test_child_amount_is_charges_plus_credit_used() -> None:
    inv = invoice(item(T.RECURRING, "29.95"), item(T.CBA_ADJ, "-10"), item(T.ITEM_ADJ, "-1.005"))
    assert child_invoice_amount(inv) == D("18.95")  # 28.945 rounds HALF_UP, then the credit


def test_child_amount_of_a_credit_invoice_is_minus_the_credit() -> None:
    inv = invoice(item(T.CREDIT_ADJ, "-10"), item(T.CBA_ADJ, "10"))
    assert child_invoice_amount(inv) == D("-10.00")


def test_which_child_invoices_make_no_parent_invoice() -> None:
    trial = invoice(item(T.FIXED, "0"))
    zero_charge = invoice(item(T.EXTERNAL_CHARGE, "5"), item(T.CBA_ADJ, "-5"))
    assert not ignores_child_invoice(trial, D(0))  # a free trial still shows on the parent
    assert ignores_child_invoice(zero_charge, D(0))
    assert ignores_child_invoice(trial, D("-1"))
    assert not ignores_child_invoice(zero_charge, D("0.01"))


def test_commit_is_at_the_utc_time_of_day_today_or_tomorrow() -> None:
    at = time(23, 59, 59, 999000)
    assert commit_instant(datetime(2024, 1, 15, 10, tzinfo=UTC), at) == datetime(2024, 1, 15, 23, 59, 59, 999000,
                                                                                  tzinfo=UTC)
    assert commit_instant(datetime(2024, 1, 15, 13, tzinfo=UTC), time(12)) == datetime(2024, 1, 16, 12, tzinfo=UTC)
    assert commit_instant(datetime(2024, 1, 15, 12, tzinfo=UTC), time(12)) == datetime(2024, 1, 15, 12, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.times())
def test_commit_instant_is_the_first_such_time_not_before_now(now: datetime, at: time) -> None:
    when = commit_instant(now, at)
    assert when.timetz().replace(tzinfo=None) == at
    assert now <= when < now + timedelta(days=1)


def test_a_child_invoice_has_no_balance_while_its_parent_is_draft_or_paid() -> None:
    charge = item(T.RECURRING, "20")
    draft = parent_of("20", InvoiceStatus.DRAFT)
    unpaid = parent_of("20", InvoiceStatus.COMMITTED)
    paid = parent_of("20", InvoiceStatus.COMMITTED, item(T.ITEM_ADJ, "-20", account=PARENT))
    assert balance(invoice(charge, parent=draft)) == 0
    assert balance(invoice(charge, parent=unpaid)) == D("20.00")
    assert balance(invoice(charge, parent=paid)) == 0
    assert balance(invoice(charge)) == D("20.00")
    assert account_balance([invoice(charge, parent=draft)]) == 0
    assert account_balance([invoice(charge, parent=unpaid)]) == D("20")
    assert account_balance([invoice(charge, parent=paid)]) == 0


def test_credit_on_a_child_invoice_whose_parent_is_paid_counts_what_the_parent_carried() -> None:
    # parent raw balance 0: the child owes what it charged less the parent's items for it (CBADao)
    paid = parent_of("20", InvoiceStatus.COMMITTED, item(T.ITEM_ADJ, "-20", account=PARENT))
    child = invoice(item(T.RECURRING, "20"), item(T.EXTERNAL_CHARGE, "5"), parent=paid)
    assert cba_balance(child) == D("5")
    unpaid = parent_of("20", InvoiceStatus.COMMITTED)
    assert cba_balance(invoice(item(T.RECURRING, "20"), item(T.EXTERNAL_CHARGE, "5"), parent=unpaid)) == D("25.00")


def test_account_credit_goes_to_child_invoices_whose_parent_is_unpaid_only() -> None:
    now = datetime(2024, 1, 20, tzinfo=UTC)
    paid = parent_of("20", InvoiceStatus.COMMITTED, item(T.ITEM_ADJ, "-20", account=PARENT))
    unpaid = parent_of("20", InvoiceStatus.COMMITTED)
    covered = invoice(item(T.RECURRING, "20"), parent=paid, invoice_id="covered")
    owed = invoice(item(T.RECURRING, "20"), parent=unpaid, invoice_id="owed")
    credit = invoice(item(T.CREDIT_ADJ, "-10"), invoice_id="credit")
    cba = credit_items([credit], [covered, owed, credit], now=now)
    assert sorted((c.invoice_id, c.amount) for c in cba) == [("credit", D("10.00")), ("owed", D("-10.00"))]
