"""Invoice payments, as the invoice service keeps them (Kill Bill's `InvoicePaymentApi`/`InvoiceDao` side).

The payment service (above) calls this internal API in its own unit of work: it records the attempt before
the gateway call and its outcome after, refunds (optionally with item adjustments), chargebacks and their
reversals. The invoice's paid amount, and so its balance and the account's, follow from these rows.
Each success or failure is announced (INVOICE_PAYMENT_SUCCESS / INVOICE_PAYMENT_FAILED).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from billow.core.db import UnitOfWork
from billow.core.db.sets import in_values
from billow.core.money import round_money
from billow.invoice import store
from billow.invoice.credit import balance, credit_items
from billow.invoice.errors import invoice_error
from billow.invoice.events import InvoicePaymentErrorEvent, InvoicePaymentSuccessEvent, invoice_adjusted
from billow.invoice.internal import InvoiceInternalApi
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus
from billow.invoice.store_payments import IP, rows_of, rows_of_invoices

ATTEMPT = "ATTEMPT"
REFUND = "REFUND"
CHARGEBACK = "CHARGEBACK"
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class InvoicePayment:
    """Kill Bill's `InvoicePayment` (one row of `invoice_payments`)."""

    id: str
    type: str
    invoice_id: str
    payment_id: str | None
    payment_date: datetime
    amount: Decimal
    currency: str
    processed_currency: str
    payment_cookie_id: str | None
    linked_invoice_payment_id: str | None
    success: bool
    account_record_id: int


def _to(m: Mapping[str, Any]) -> InvoicePayment:
    return InvoicePayment(m["id"], m["invoice_payment_type"], m["invoice_id"], m["payment_id"], m["payment_date"],
                          Decimal(m["amount"]), m["currency"], m["processed_currency"], m["payment_cookie_id"],
                          m["linked_invoice_payment_id"], bool(m["success"]), m["account_record_id"])


class InvoicePaymentInternalApi:
    def __init__(self, invoices: InvoiceInternalApi) -> None:
        self.invoices = invoices

    # -- reads ----------------------------------------------------------------------------------------
    def locked_invoice(self, uow: UnitOfWork, invoice_id: str) -> tuple[Invoice, Decimal, int]:
        """An invoice, its balance and its account record id, under the account lock."""
        invoice, arid = self.invoices.locked_invoice(uow, invoice_id)
        return invoice, balance(invoice), arid

    def many(self, uow: UnitOfWork, invoice_ids: Sequence[str]) -> dict[str, tuple[Invoice, Decimal, int]]:
        """Many invoices at once (the accounts' locks are the caller's): {id: (invoice, balance, account record
        id)}; unknown ids are left out."""
        return self.of_accounts(uow, store.account_record_ids_of_invoices(uow.conn, uow.tenant, invoice_ids))

    def of_accounts(self, uow: UnitOfWork, owners: Mapping[str, int]) -> dict[str, tuple[Invoice, Decimal, int]]:
        """`many` when the caller knows each invoice's account record id ({invoice id: account record id}): an
        invoice is found only in the account given for it."""
        out: dict[str, tuple[Invoice, Decimal, int]] = {}
        for arid, invoices in self.invoices.run.invoices_by_ids(uow, owners).items():
            for inv in invoices:
                out[inv.id] = (inv, balance(inv), arid)
        return out

    def rows_of_invoices(self, uow: UnitOfWork, invoice_ids: Sequence[str],
                         account_record_ids: Collection[int] | None = None) -> dict[str, list[InvoicePayment]]:
        """The rows of these invoices (of these accounts, when known: a read bounded by the accounts' rows)."""
        out: dict[str, list[InvoicePayment]] = {i: [] for i in invoice_ids}
        for m in rows_of_invoices(uow.conn, uow.tenant, invoice_ids, account_record_ids):
            out[m["invoice_id"]].append(_to(m))
        return out

    def rows(self, uow: UnitOfWork, *, invoice_id: str | None = None, payment_id: str | None = None,
             cookie: str | None = None, row_id: str | None = None,
             account_record_id: int | None = None) -> list[InvoicePayment]:
        return [_to(m) for m in rows_of(uow.conn, uow.tenant, invoice_id=invoice_id, payment_id=payment_id,
                                        cookie=cookie, row_id=row_id, account_record_id=account_record_id)]

    def unpaid(self, uow: UnitOfWork, account_record_id: int) -> list[tuple[Invoice, Decimal]]:
        """The account's COMMITTED invoices with a positive balance, oldest first (`payAllInvoices`)."""
        invoices = self.invoices.run.invoices_of(uow, [account_record_id])[account_record_id]
        out = [(inv, balance(inv)) for inv in invoices if inv.status is InvoiceStatus.COMMITTED]
        return sorted([(inv, b) for inv, b in out if b > 0],
                      key=lambda p: (p[0].invoice_date, p[0].invoice_number or 0))

    # -- writes ---------------------------------------------------------------------------------------
    def record(self, uow: UnitOfWork, *, account_record_id: int, account_id: str, kind: str, invoice_id: str,
               payment_id: str | None, amount: Decimal, currency: str, cookie: str | None, success: bool,
               linked_id: str | None = None, announce: bool = True) -> InvoicePayment:
        """A new row (amount signed: refunds and chargebacks are negative), announced when `announce`."""
        row = uow.insert("invoice_payments", {
            "account_record_id": account_record_id, "invoice_payment_type": kind, "invoice_id": invoice_id,
            "payment_id": payment_id, "payment_date": uow.now, "amount": amount, "currency": currency,
            "processed_currency": currency, "payment_cookie_id": cookie, "linked_invoice_payment_id": linked_id,
            "success": success})
        if announce:
            self.announce(uow, _to(row), account_id)
        return _to(row)

    def record_attempts(self, uow: UnitOfWork, attempts: Sequence[tuple[int, str, str, Decimal, str, str]]
                        ) -> list[InvoicePayment]:
        """ATTEMPT rows written before their gateway calls ((account record id, invoice id, payment id, amount,
        currency, cookie) each), in one insert, not announced: `record(..., success=False, announce=False)` for
        many payments at once."""
        rows = uow.insert_many("invoice_payments", [{
            "account_record_id": arid, "invoice_payment_type": ATTEMPT, "invoice_id": invoice_id,
            "payment_id": payment_id, "payment_date": uow.now, "amount": amount, "currency": currency,
            "processed_currency": currency, "payment_cookie_id": cookie, "linked_invoice_payment_id": None,
            "success": False} for arid, invoice_id, payment_id, amount, currency, cookie in attempts])
        return [_to(r) for r in rows]

    def complete_successes(self, uow: UnitOfWork, done: Sequence[tuple[InvoicePayment, Decimal]]
                           ) -> list[InvoicePayment]:
        """`complete(row, success=True, amount=...)` for many ATTEMPT rows at once ((row, amount paid) each), in a
        few statements; the completed rows, in order, for the caller to `announce` (INVOICE_PAYMENT_SUCCESS)."""
        if not done:
            return []
        wanted = IP.select().with_only_columns(IP.c.id, IP.c.record_id).where(
            IP.c.tenant_record_id == uow.tenant, in_values(uow.conn, IP.c.id, {r.id for r, _ in done}))
        record_ids = {row[0]: row[1] for row in uow.conn.execute(wanted)}
        uow.update_many("invoice_payments", {record_ids[r.id]: {"success": True, "payment_date": uow.now,
                                                                "amount": amount} for r, amount in done})
        return [dataclasses.replace(r, success=True, payment_date=uow.now, amount=amount) for r, amount in done]

    def record_failed_attempts(self, uow: UnitOfWork, attempts: Sequence[tuple[int, str, str, Decimal, str]]
                               ) -> None:
        """Failed ATTEMPT rows without a payment ((account record id, account id, invoice id, amount, currency)
        each), written in one insert and announced (INVOICE_PAYMENT_ERROR): automatic payments of accounts without
        a payment method, a billing run's worth at a time."""
        rows = uow.insert_many("invoice_payments", [{
            "account_record_id": arid, "invoice_payment_type": ATTEMPT, "invoice_id": invoice_id, "payment_id": None,
            "payment_date": uow.now, "amount": amount, "currency": currency, "processed_currency": currency,
            "payment_cookie_id": None, "linked_invoice_payment_id": None, "success": False}
            for arid, _account_id, invoice_id, amount, currency in attempts])
        for row, (_arid, account_id, *_rest) in zip(rows, attempts, strict=True):
            self.announce(uow, _to(row), account_id)

    def complete(self, uow: UnitOfWork, row: InvoicePayment, *, account_id: str, success: bool,
                 amount: Decimal | None = None) -> InvoicePayment:
        """The outcome of an ATTEMPT written before the gateway call."""
        record_id = uow.conn.execute(IP.select().with_only_columns(IP.c.record_id).where(IP.c.id == row.id)
                                     ).scalar_one()
        values: dict[str, Any] = {"success": success, "payment_date": uow.now}
        if amount is not None:
            values["amount"] = amount
        done = _to(uow.update("invoice_payments", record_id, values))
        self.announce(uow, done, account_id)
        return done

    def announce(self, uow: UnitOfWork, row: InvoicePayment, account_id: str) -> None:
        """INVOICE_PAYMENT_SUCCESS or INVOICE_PAYMENT_ERROR for a row."""
        cls = InvoicePaymentSuccessEvent if row.success else InvoicePaymentErrorEvent
        uow.post(cls(tenant_record_id=uow.tenant, account_record_id=row.account_record_id, account_id=account_id,
                     object_id=row.invoice_id, user_token=uow.ctx.user_token, payment_id=row.payment_id,
                     invoice_payment_type=row.type, amount=row.amount, currency=row.currency))

    def reverse_chargeback(self, uow: UnitOfWork, row: InvoicePayment, account_id: str) -> None:
        """`createChargebackReversal`: the CHARGEBACK row no longer counts; the balance re-opens."""
        record_id = uow.conn.execute(IP.select().with_only_columns(IP.c.record_id).where(IP.c.id == row.id)
                                     ).scalar_one()
        uow.update("invoice_payments", record_id, {"success": False})
        self.announce(uow, dataclasses.replace(row, success=False), account_id)

    def adjust_items(self, uow: UnitOfWork, invoice_id: str, amounts: Mapping[str, Decimal | None]) -> Decimal:
        """ITEM_ADJ items for a refund with adjustments (`createRefund` with `isInvoiceAdjusted`): each item by
        its amount (None: all that is left). Returns the total adjusted (positive)."""
        _row, state = self.invoices.locked(uow, invoice_id)
        invoice = next(inv for inv in state.invoices if inv.id == invoice_id)
        new: list[InvoiceItem] = []
        total = _ZERO
        day = state.account.time.local_date(uow.now)
        for item_id, wanted in amounts.items():
            target = next((it for it in invoice.items if it.id == item_id), None)
            if target is None:
                raise invoice_error(4011, f"No invoice item could be found for id {item_id}.", 404)
            already = sum((it.amount for it in invoice.items if it.linked_item_id == target.id
                           and it.type in (InvoiceItemType.ITEM_ADJ, InvoiceItemType.REPAIR_ADJ)), _ZERO)
            available = target.amount + already
            amount = available if wanted is None else round_money(wanted, invoice.currency)
            if amount <= 0 or amount > available:
                raise invoice_error(4019, f"Invoice item {target.id} can be adjusted by at most {available}")
            new.append(InvoiceItem(id=str(uuid.uuid4()), invoice_id=invoice.id, account_id=invoice.account_id,
                                   type=InvoiceItemType.ITEM_ADJ, start_date=day, end_date=day, amount=-amount,
                                   currency=invoice.currency, linked_item_id=target.id, created_date=uow.now))
            total += amount
        if new:
            uow.insert_many("invoice_items", [store.item_row(it, state.account.record_id) for it in new])
            changed = dataclasses.replace(invoice, items=invoice.items + tuple(new))
            invoices = [changed if inv.id == invoice.id else inv for inv in state.invoices]
            cba = credit_items([changed], invoices, now=uow.now)
            if cba:
                uow.insert_many("invoice_items", [store.item_row(it, state.account.record_id) for it in cba])
            uow.post(invoice_adjusted(uow, state.account, invoice.id))
        return total
