"""SQL for `invoice_payments` (Kill Bill's `invoice_payments`, owned by the invoice service as in Kill Bill).

One row per payment transaction that touches an invoice: ATTEMPT (a purchase; written `success` false before
the gateway is called, made true when it succeeds), REFUND and CHARGEBACK (negative amounts). The invoice's
paid amount is the sum of the successful rows; a chargeback reversal marks its CHARGEBACK row unsuccessful.
The payment service writes these rows through `InvoicePaymentInternalApi`: payment is above invoice.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Column, Connection, Index, Select, String, bindparam, select, true

from billow.core.db.prepared import Prepared, in_param
from billow.core.db.schema import audited_table
from billow.core.db.sets import in_values
from billow.core.db.types import Money, UTCDateTime

invoice_payments = audited_table(
    "invoice_payments", "INVOICE_PAYMENT",
    Column("invoice_payment_type", String(24), nullable=False),
    Column("invoice_id", String(36), nullable=False),
    Column("payment_id", String(36), nullable=True),
    Column("payment_date", UTCDateTime(), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("processed_currency", String(3), nullable=False),
    Column("payment_cookie_id", String(255), nullable=True),
    Column("linked_invoice_payment_id", String(36), nullable=True),
    Column("success", Boolean, nullable=False, default=True),
    Index("ix_invoice_payments_invoice", "invoice_id"),
    Index("ix_invoice_payments_payment", "payment_id"),
    Index("ix_invoice_payments_cookie", "payment_cookie_id"),
)

IP = invoice_payments.table


def _paid(dialect: str, *, by_account: bool) -> Select[Any]:
    q = select(IP.c.invoice_id, IP.c.amount).where(IP.c.tenant_record_id == bindparam("tenant"), IP.c.success == true(),
                                                   in_param(dialect, IP.c.invoice_id, "invoices"))
    return q.where(in_param(dialect, IP.c.account_record_id, "accounts")) if by_account else q


_PAID = Prepared(lambda dialect: _paid(dialect, by_account=False))
_PAID_OF_ACCOUNTS = Prepared(lambda dialect: _paid(dialect, by_account=True))


def paid_amounts(conn: Connection, tenant: int, invoice_ids: Sequence[str],
                 account_record_ids: Collection[int] | None = None) -> dict[str, Decimal]:
    """Net successful payments by invoice (purchases − refunds − chargebacks). With their accounts' record ids the
    read goes through the accounts' index: bounded by the accounts' rows even when the planner's statistics lag
    behind a table that grew fast (a billing day)."""
    if not invoice_ids:
        return {}
    params = {"tenant": tenant, "invoices": list(invoice_ids)}
    if account_record_ids is None:
        return _sums(conn.execute(_PAID(conn), params).all())
    params["accounts"] = list(account_record_ids)
    return _sums(conn.execute(_PAID_OF_ACCOUNTS(conn), params).all())


def paid_of_accounts(conn: Connection, tenant: int, account_record_ids: Sequence[int]) -> dict[str, Decimal]:
    """Net successful payments by invoice of these accounts (the billing run's batches: one query)."""
    if not account_record_ids:
        return {}
    return _sums(conn.execute(select(IP.c.invoice_id, IP.c.amount).where(
        IP.c.tenant_record_id == tenant, IP.c.success == true(),
        in_values(conn, IP.c.account_record_id, list(account_record_ids)))).all())


def _sums(rows: Sequence[Any]) -> dict[str, Decimal]:
    """Summed in Python, exactly (SQLite sums money as floating point)."""
    out: dict[str, Decimal] = {}
    for invoice_id, amount in rows:
        out[invoice_id] = out.get(invoice_id, Decimal(0)) + amount
    return out


def _rows(dialect: str, *, by_account: bool) -> Select[Any]:
    q = select(IP).where(IP.c.tenant_record_id == bindparam("tenant"), in_param(dialect, IP.c.invoice_id, "invoices"))
    if by_account:
        q = q.where(in_param(dialect, IP.c.account_record_id, "accounts"))
    return q.order_by(IP.c.record_id)


_ROWS = Prepared(lambda dialect: _rows(dialect, by_account=False))
_ROWS_OF_ACCOUNTS = Prepared(lambda dialect: _rows(dialect, by_account=True))


def rows_of_invoices(conn: Connection, tenant: int, invoice_ids: Sequence[str],
                     account_record_ids: Collection[int] | None = None) -> list[Mapping[str, Any]]:
    if not invoice_ids:
        return []
    params = {"tenant": tenant, "invoices": list(invoice_ids)}
    if account_record_ids is None:
        return [dict(r._mapping) for r in conn.execute(_ROWS(conn), params)]
    params["accounts"] = list(account_record_ids)
    return [dict(r._mapping) for r in conn.execute(_ROWS_OF_ACCOUNTS(conn), params)]


def rows_of(conn: Connection, tenant: int, *, invoice_id: str | None = None, payment_id: str | None = None,
            cookie: str | None = None, row_id: str | None = None,
            account_record_id: int | None = None) -> list[Mapping[str, Any]]:
    q = select(IP).where(IP.c.tenant_record_id == tenant)
    if invoice_id is not None:
        q = q.where(IP.c.invoice_id == invoice_id)
    if payment_id is not None:
        q = q.where(IP.c.payment_id == payment_id)
    if cookie is not None:
        q = q.where(IP.c.payment_cookie_id == cookie)
    if row_id is not None:
        q = q.where(IP.c.id == row_id)
    if account_record_id is not None:
        q = q.where(IP.c.account_record_id == account_record_id)
    return [dict(r._mapping) for r in conn.execute(q.order_by(IP.c.record_id))]
