"""Account credit (CBA): invoice balances and the CBA_ADJ items that move credit to and from the account.

Pure functions over `Invoice` objects. Sources (killbill/killbill,
`invoice/src/main/java/org/killbill/billing/invoice/`):
`dao/CBADao.java` (`computeCBAComplexity`, `doCBAComplexityFromTransaction`,
`useExistingCBAFromTransaction`), `calculator/InvoiceCalculatorUtils.java`
(`computeRawInvoiceBalance`), `dao/InvoiceModelDaoHelper.java`, the
`getAccountCBA` query of `InvoiceItemSqlDao.sql.stg` and
`dao/InvoiceDaoHelper.getUnpaidInvoicesByAccountFromTransaction`.
Specification: billing-semantics.md 4.7 and 4.8.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from billow.core.money import round_money
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus

_ZERO = Decimal(0)
CBA_ADJ = InvoiceItemType.CBA_ADJ
CREDIT_ADJ = InvoiceItemType.CREDIT_ADJ
_CHARGED = frozenset({InvoiceItemType.EXTERNAL_CHARGE, InvoiceItemType.FIXED, InvoiceItemType.RECURRING,
                      InvoiceItemType.USAGE, InvoiceItemType.TAX, InvoiceItemType.REPAIR_ADJ,
                      InvoiceItemType.ITEM_ADJ, InvoiceItemType.PARENT_SUMMARY})


def is_credit_invoice(items: Sequence[InvoiceItem]) -> bool:
    """`InvoiceCalculatorUtils.isCreditInvoice`: exactly CREDIT_ADJ(−x) and CBA_ADJ(+x) on the same invoice."""
    if len(items) != 2:
        return False
    a, b = items
    for credit, other in ((a, b), (b, a)):
        if credit.type is CREDIT_ADJ and other.type is CBA_ADJ and other.invoice_id == credit.invoice_id \
                and other.amount == -credit.amount:
            return True
    return False


def raw_balance(invoice: Invoice, extra_items: Sequence[InvoiceItem] = ()) -> Decimal:
    """`InvoiceCalculatorUtils.computeRawInvoiceBalance` (status ignored; 0 for a migration invoice).

    charged (charges, repairs, item adjustments, parent summaries, invoice-level
    CREDIT_ADJ) + CBA_ADJ (+ the CREDIT_ADJ of a credit invoice) − net payments, rounded.
    """
    if invoice.migrated:
        return _ZERO
    items: Sequence[InvoiceItem] = tuple(invoice.items) + tuple(extra_items) if extra_items else invoice.items
    total = _ZERO
    for it in items:
        # a CREDIT_ADJ counts either as an invoice-level adjustment or as the credit of a credit invoice
        t = it.type
        if t in _CHARGED or t is CBA_ADJ or t is CREDIT_ADJ:
            total += it.amount
    return round_money(total - invoice.paid_amount, invoice.currency)


def balance(invoice: Invoice) -> Decimal:
    """The balance Kill Bill reports: 0 for DRAFT, VOID, written-off and migration invoices (spec 4.7), and
    for a child invoice whose parent invoice has a zero balance (DRAFT, or paid: `DefaultInvoice.getBalance`,
    `hasZeroParentBalance`)."""
    if invoice.status is not InvoiceStatus.COMMITTED or invoice.written_off or invoice.migrated:
        return _ZERO
    if invoice.parent is not None and balance(invoice.parent) == 0:
        return _ZERO
    return raw_balance(invoice)


def amount_charged(invoice: Invoice, extra_items: Sequence[InvoiceItem] = ()) -> Decimal:
    """`InvoiceCalculatorUtils.computeInvoiceAmountCharged`: charges, item adjustments, parent summaries and
    invoice-level CREDIT_ADJ (not the credit of a credit invoice), rounded."""
    items = tuple(invoice.items) + tuple(extra_items)
    credit_invoice = is_credit_invoice(items)
    total = sum((it.amount for it in items if it.type in _CHARGED
                 or (it.type is CREDIT_ADJ and not credit_invoice)), _ZERO)
    return round_money(total, invoice.currency)


def cba_balance(invoice: Invoice, extra_items: Sequence[InvoiceItem] = ()) -> Decimal:
    """The balance credit is computed from (`CBADao.getInvoiceBalance`): a child invoice whose parent invoice
    has a zero raw balance owes what it charged less what the parent's items carried for the child."""
    parent = invoice.parent
    if parent is not None and raw_balance(parent) == 0:
        for_child = sum((it.amount for it in parent.items if it.child_account_id == invoice.account_id), _ZERO)
        return amount_charged(invoice, extra_items) - for_child
    return raw_balance(invoice, extra_items)


def account_cba(invoices: Sequence[Invoice]) -> Decimal:
    """Account credit still available: Σ CBA_ADJ on COMMITTED invoices (`getAccountCBA`)."""
    return sum((it.amount for inv in invoices if inv.status is InvoiceStatus.COMMITTED
                for it in inv.items if it.type is CBA_ADJ), _ZERO)


def account_balance(invoices: Sequence[Invoice]) -> Decimal:
    """`DefaultInvoiceDao.getAccountBalance`: Σ raw balance of COMMITTED invoices (0 if written off, or if a
    child invoice whose parent invoice has a zero balance) − account CBA."""
    total = _ZERO
    for inv in invoices:
        if inv.status is not InvoiceStatus.COMMITTED:
            continue
        # a child invoice leaves the balance once its parent invoice is DRAFT, VOID, written off or paid
        if not inv.written_off and (inv.parent is None or balance(inv.parent) != 0):
            total += raw_balance(inv)
        total -= sum((it.amount for it in inv.items if it.type is CBA_ADJ), _ZERO)
    return total


def apply_credit(invoice: Invoice, available_cba: Decimal, *, now: datetime,
                 extra_items: Sequence[InvoiceItem] = ()) -> InvoiceItem | None:
    """`CBADao.computeCBAComplexity` for one invoice: the CBA_ADJ item to add, or None.

    Negative balance → CBA_ADJ(+|balance|) (credit generated, whatever the status);
    positive balance on a COMMITTED invoice without pending payment, not written
    off, with account credit > 0 → CBA_ADJ(−min(balance, credit)). Start = end = UTC
    date of `now`. `extra_items` are items about to be added to `invoice` (e.g. the
    generator's new items) and count in its balance.
    """
    bal = cba_balance(invoice, extra_items)
    if bal < 0:
        amount = -bal
    elif bal > 0 and invoice.status is InvoiceStatus.COMMITTED and not invoice.has_pending_payment \
            and not invoice.written_off:
        if available_cba <= 0:
            return None
        amount = -(bal if available_cba > bal else available_cba)
    else:
        return None
    day = (now if now.tzinfo is None else now.astimezone(UTC)).date()
    return InvoiceItem(id=str(uuid.uuid4()), invoice_id=invoice.id, account_id=invoice.account_id, type=CBA_ADJ,
                       start_date=day, end_date=day, amount=round_money(amount, invoice.currency),
                       currency=invoice.currency, created_date=now)


def credit_items(candidates: Sequence[Invoice], invoices: Sequence[Invoice], *, now: datetime) -> list[InvoiceItem]:
    """`CBADao.doCBAComplexityFromTransaction`: CBA_ADJ items for the new/changed `candidates`, then leftover
    account credit spread over unpaid COMMITTED invoices, oldest invoice date first.

    `invoices` are all the account's invoices (candidates included, in their
    state before these CBA items). Returns the CBA_ADJ items to write, each
    carrying the id of the invoice it belongs to.
    """
    result: list[InvoiceItem] = []
    added: dict[str, list[InvoiceItem]] = {}
    remaining = account_cba(invoices)
    for inv in candidates:
        item = apply_credit(inv, remaining, now=now)
        if item is not None:
            result.append(item)
            added.setdefault(inv.id, []).append(item)
            remaining += item.amount
    if remaining <= 0:
        return result
    # a child invoice is unpaid while its parent invoice is (`getUnpaidInvoicesByAccountFromTransaction`)
    unpaid = [inv for inv in invoices if inv.status is InvoiceStatus.COMMITTED and not inv.written_off
              and (raw_balance(inv, added.get(inv.id, ())) if inv.parent is None else raw_balance(inv.parent)) > 0]
    unpaid.sort(key=lambda inv: inv.invoice_date)
    for inv in unpaid:
        item = apply_credit(inv, remaining, now=now, extra_items=added.get(inv.id, ()))
        if item is not None:
            result.append(item)
            added.setdefault(inv.id, []).append(item)
            remaining += item.amount
        if remaining <= 0:
            break
    return result
