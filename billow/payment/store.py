"""SQL for the payment service's tables (Kill Bill's `payment/src/main/resources/.../ddl.sql`), all audited:
`payment_methods`, `payments`, `payment_transactions`, `payment_attempts`. (`invoice_payments` belongs to the
invoice service, as in Kill Bill.) First/second payment reference ids, which Kill Bill keeps in each plugin's
own tables, are columns of `payment_transactions` here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Column, Connection, Index, String, Table, Text, delete, func, select, true

from billow.core.db.schema import RecordId, audited_table, metadata
from billow.core.db.sets import in_values
from billow.core.db.types import Money, UTCDateTime
from billow.payment.model import (
    Payment,
    PaymentAttempt,
    PaymentMethod,
    PaymentTransaction,
    PluginProperty,
    TransactionStatus,
    TransactionType,
)

KEY_LENGTH = 255

# Kill Bill's `invoice_payment_control_plugin_auto_pay_off`: the automatic payments AUTO_PAY_OFF (or MANUAL_PAY)
# parked, made when AUTO_PAY_OFF is removed; one row per invoice
auto_pay_off = Table(
    "payment_auto_pay_off", metadata,
    Column("record_id", RecordId, primary_key=True, autoincrement=True),
    Column("tenant_record_id", RecordId, nullable=False),
    Column("account_record_id", RecordId, nullable=False),
    Column("invoice_id", String(36), nullable=False),
    Column("created_date", UTCDateTime, nullable=False),
    Index("ix_payment_auto_pay_off_account", "tenant_record_id", "account_record_id"),
)

payment_methods = audited_table(
    "payment_methods", "PAYMENT_METHOD",
    Column("external_key", String(KEY_LENGTH), nullable=False),
    Column("account_id", String(36), nullable=False),
    Column("plugin_name", String(50), nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("plugin_info", Text, nullable=True),
    Index("ix_payment_methods_external_key", "external_key"),
)

payments = audited_table(
    "payments", "PAYMENT",
    Column("account_id", String(36), nullable=False),
    Column("payment_method_id", String(36), nullable=False),
    Column("external_key", String(KEY_LENGTH), nullable=False),
    Column("state_name", String(64), nullable=True),
    Column("last_success_state_name", String(64), nullable=True),
    Index("ix_payments_external_key", "external_key"),
)

payment_transactions = audited_table(
    "payment_transactions", "TRANSACTION",
    Column("attempt_id", String(36), nullable=True),
    Column("payment_id", String(36), nullable=False),
    Column("transaction_type", String(32), nullable=False),
    Column("transaction_external_key", String(KEY_LENGTH), nullable=False),
    Column("transaction_status", String(50), nullable=False),
    Column("effective_date", UTCDateTime(), nullable=False),
    Column("amount", Money(), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("processed_amount", Money(), nullable=True),
    Column("processed_currency", String(3), nullable=True),
    Column("gateway_error_code", String(32), nullable=True),
    Column("gateway_error_msg", String(256), nullable=True),
    Column("first_payment_reference_id", String(128), nullable=True),
    Column("second_payment_reference_id", String(128), nullable=True),
    Index("ix_payment_transactions_payment", "payment_id"),
    Index("ix_payment_transactions_key", "transaction_external_key"),
    Index("ix_payment_transactions_status", "transaction_status"),
)

payment_attempts = audited_table(
    "payment_attempts", "PAYMENT_ATTEMPT",
    Column("account_id", String(36), nullable=False),
    Column("payment_method_id", String(36), nullable=True),
    Column("payment_external_key", String(KEY_LENGTH), nullable=False),
    Column("transaction_id", String(36), nullable=True),
    Column("transaction_external_key", String(KEY_LENGTH), nullable=False),
    Column("transaction_type", String(32), nullable=False),
    Column("state_name", String(32), nullable=False),
    Column("amount", Money(), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("plugin_name", String(1024), nullable=False),
    Column("invoice_id", String(36), nullable=True),
    Column("plugin_properties", Text, nullable=True),
    Index("ix_payment_attempts_payment_key", "payment_external_key"),
    Index("ix_payment_attempts_invoice", "invoice_id"),
)

PM = payment_methods.table
PAY = payments.table
TRX = payment_transactions.table
ATT = payment_attempts.table


def _utc(v: datetime) -> datetime:
    return v if v.tzinfo is not None else v.replace(tzinfo=UTC)


def dump_properties(props: Sequence[PluginProperty]) -> str | None:
    return json.dumps([{"key": p.key, "value": p.value, "isUpdatable": p.is_updatable} for p in props],
                      default=str) if props else None


def load_properties(raw: str | None) -> tuple[PluginProperty, ...]:
    if not raw:
        return ()
    return tuple(PluginProperty(p["key"], p.get("value"), bool(p.get("isUpdatable"))) for p in json.loads(raw))


def to_method(m: Any) -> PaymentMethod:
    return PaymentMethod(m["record_id"], m["id"], m["account_id"], m["account_record_id"], m["plugin_name"],
                         m["external_key"], bool(m["is_active"]), load_properties(m["plugin_info"]))


def to_transaction(m: Any) -> PaymentTransaction:
    return PaymentTransaction(
        m["record_id"], m["id"], m["payment_id"], TransactionType(m["transaction_type"]),
        m["transaction_external_key"], TransactionStatus(m["transaction_status"]),
        None if m["amount"] is None else Decimal(m["amount"]), m["currency"],
        Decimal(m["processed_amount"] or 0), m["processed_currency"], _utc(m["effective_date"]),
        _utc(m["created_date"]), _utc(m["updated_date"]), m["gateway_error_code"], m["gateway_error_msg"],
        m["first_payment_reference_id"], m["second_payment_reference_id"], m["attempt_id"])


def to_payment(m: Any, transactions: Sequence[PaymentTransaction] = ()) -> Payment:
    return Payment(m["record_id"], m["id"], m["account_id"], m["account_record_id"], m["payment_method_id"],
                   m["external_key"], m["record_id"], m["state_name"], m["last_success_state_name"],
                   _utc(m["created_date"]), _utc(m["updated_date"]), tuple(transactions))


def to_attempt(m: Any) -> PaymentAttempt:
    return PaymentAttempt(m["record_id"], m["id"], m["account_id"], m["payment_method_id"],
                          m["payment_external_key"], m["transaction_id"], m["transaction_external_key"],
                          TransactionType(m["transaction_type"]), m["state_name"],
                          None if m["amount"] is None else Decimal(m["amount"]), m["currency"], m["plugin_name"],
                          m["invoice_id"], _utc(m["created_date"]), _utc(m["updated_date"]))


# -- payment methods ------------------------------------------------------------------------------------
def method(conn: Connection, tenant: int, *, method_id: str | None = None, external_key: str | None = None,
           active_only: bool = True) -> PaymentMethod | None:
    q = select(PM).where(PM.c.tenant_record_id == tenant)
    q = q.where(PM.c.id == method_id) if method_id is not None else q.where(PM.c.external_key == external_key)
    if active_only:
        q = q.where(PM.c.is_active == true())
    row = conn.execute(q.order_by(PM.c.record_id.desc())).first()
    return to_method(row._mapping) if row is not None else None


def methods_by_ids(conn: Connection, tenant: int, method_ids: Sequence[str]) -> dict[str, PaymentMethod]:
    """Many payment methods at once (retired ones too, as `method(active_only=False)`), by id."""
    if not method_ids:
        return {}
    rows = conn.execute(select(PM).where(PM.c.tenant_record_id == tenant, in_values(conn, PM.c.id, set(method_ids)))
                        .order_by(PM.c.record_id))
    return {m.id: m for m in (to_method(r._mapping) for r in rows)}


def methods_of(conn: Connection, tenant: int, account_record_id: int, *, include_deleted: bool = False
               ) -> list[PaymentMethod]:
    q = select(PM).where(PM.c.tenant_record_id == tenant, PM.c.account_record_id == account_record_id)
    if not include_deleted:
        q = q.where(PM.c.is_active == true())
    return [to_method(r._mapping) for r in conn.execute(q.order_by(PM.c.record_id))]


def methods_page(conn: Connection, tenant: int, offset: int, limit: int, plugin_name: str | None = None
                 ) -> tuple[list[PaymentMethod], int]:
    where = [PM.c.tenant_record_id == tenant, PM.c.is_active == true()]
    if plugin_name:
        where.append(PM.c.plugin_name == plugin_name)
    total = int(conn.execute(select(func.count()).select_from(PM).where(*where)).scalar_one())
    rows = conn.execute(select(PM).where(*where).order_by(PM.c.record_id).offset(offset).limit(limit))
    return [to_method(r._mapping) for r in rows], total


# -- payments and transactions --------------------------------------------------------------------------
def _with_transactions(conn: Connection, tenant: int, rows: Sequence[Any]) -> list[Payment]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    trx: dict[str, list[PaymentTransaction]] = {}
    for t in conn.execute(select(TRX).where(TRX.c.tenant_record_id == tenant, in_values(conn, TRX.c.payment_id, ids))
                          .order_by(TRX.c.record_id)):
        trx.setdefault(t.payment_id, []).append(to_transaction(t._mapping))
    return [to_payment(r._mapping, trx.get(r.id, ())) for r in rows]


def payment(conn: Connection, tenant: int, *, payment_id: str | None = None, external_key: str | None = None
            ) -> Payment | None:
    q = select(PAY).where(PAY.c.tenant_record_id == tenant)
    q = q.where(PAY.c.id == payment_id) if payment_id is not None else q.where(PAY.c.external_key == external_key)
    found = _with_transactions(conn, tenant, conn.execute(q).all())
    return found[0] if found else None


def payments_of(conn: Connection, tenant: int, account_record_id: int) -> list[Payment]:
    rows = conn.execute(select(PAY).where(PAY.c.tenant_record_id == tenant,
                                          PAY.c.account_record_id == account_record_id).order_by(PAY.c.record_id)).all()
    return _with_transactions(conn, tenant, rows)


def payments_page(conn: Connection, tenant: int, offset: int, limit: int, plugin_name: str | None = None,
                  search_key: str | None = None) -> tuple[list[Payment], int]:
    """A page of the tenant's payments and how many there are; with `search_key`, those whose id, external key,
    account, payment method or state is the key, or one of whose transactions has it as id, external key or
    status (Kill Bill's payment search, and transactions by key)."""
    where = [PAY.c.tenant_record_id == tenant]
    if search_key is not None:
        by_transaction = select(TRX.c.payment_id).where(
            TRX.c.tenant_record_id == tenant,
            (TRX.c.id == search_key) | (TRX.c.transaction_external_key == search_key)
            | (TRX.c.transaction_status == search_key))
        where.append((PAY.c.id == search_key) | (PAY.c.external_key == search_key) | (PAY.c.account_id == search_key)
                     | (PAY.c.payment_method_id == search_key) | (PAY.c.state_name == search_key)
                     | PAY.c.id.in_(by_transaction))
    if plugin_name:
        where.append(PAY.c.payment_method_id.in_(select(PM.c.id).where(PM.c.tenant_record_id == tenant,
                                                                       PM.c.plugin_name == plugin_name)))
    total = int(conn.execute(select(func.count()).select_from(PAY).where(*where)).scalar_one())
    rows = conn.execute(select(PAY).where(*where).order_by(PAY.c.record_id).offset(offset).limit(limit)).all()
    return _with_transactions(conn, tenant, rows), total


def transaction(conn: Connection, tenant: int, transaction_id: str) -> PaymentTransaction | None:
    row = conn.execute(select(TRX).where(TRX.c.tenant_record_id == tenant, TRX.c.id == transaction_id)).first()
    return to_transaction(row._mapping) if row is not None else None


def transaction_statuses(conn: Connection, tenant: int, transaction_ids: Sequence[str]) -> dict[str, TransactionStatus]:
    """The statuses of many transactions at once, by id (unknown ids are left out)."""
    if not transaction_ids:
        return {}
    rows = conn.execute(select(TRX.c.id, TRX.c.transaction_status).where(
        TRX.c.tenant_record_id == tenant, in_values(conn, TRX.c.id, set(transaction_ids))))
    return {r.id: TransactionStatus(r.transaction_status) for r in rows}


def transactions_by_key(conn: Connection, tenant: int, key: str) -> list[tuple[PaymentTransaction, int]]:
    """Transactions with this external key, with their account record ids."""
    rows = conn.execute(select(TRX).where(TRX.c.tenant_record_id == tenant, TRX.c.transaction_external_key == key)
                        .order_by(TRX.c.record_id))
    return [(to_transaction(r._mapping), r.account_record_id) for r in rows]


def incomplete_transactions(conn: Connection, tenant: int, limit: int = 1000) -> list[PaymentTransaction]:
    rows = conn.execute(select(TRX).where(TRX.c.tenant_record_id == tenant, TRX.c.transaction_status.in_(
        [TransactionStatus.PENDING.value, TransactionStatus.UNKNOWN.value])).order_by(TRX.c.record_id).limit(limit))
    return [to_transaction(r._mapping) for r in rows]


# -- attempts ---------------------------------------------------------------------------------------------
def attempts(conn: Connection, tenant: int, *, payment_external_key: str | None = None,
             invoice_id: str | None = None, attempt_id: str | None = None) -> list[PaymentAttempt]:
    q = select(ATT).where(ATT.c.tenant_record_id == tenant)
    if payment_external_key is not None:
        q = q.where(ATT.c.payment_external_key == payment_external_key)
    if invoice_id is not None:
        q = q.where(ATT.c.invoice_id == invoice_id)
    if attempt_id is not None:
        q = q.where(ATT.c.id == attempt_id)
    return [to_attempt(r._mapping) for r in conn.execute(q.order_by(ATT.c.record_id))]


def park_auto_pay_off(conn: Connection, tenant: int, account_record_id: int, invoice_id: str, now: datetime) -> None:
    t = auto_pay_off
    if conn.execute(select(t.c.record_id).where(t.c.tenant_record_id == tenant, t.c.invoice_id == invoice_id)
                    ).first() is None:
        conn.execute(t.insert().values(tenant_record_id=tenant, account_record_id=account_record_id,
                                       invoice_id=invoice_id, created_date=now))


def unpark_auto_pay_off(conn: Connection, tenant: int, account_record_id: int) -> list[str]:
    """The account's parked invoices, oldest first, removed."""
    t = auto_pay_off
    where = (t.c.tenant_record_id == tenant) & (t.c.account_record_id == account_record_id)
    found = [r.invoice_id for r in conn.execute(select(t.c.invoice_id).where(where).order_by(t.c.record_id))]
    conn.execute(delete(t).where(where))
    return found
