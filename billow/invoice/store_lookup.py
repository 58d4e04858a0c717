"""SQL for invoice look-ups across accounts: pages of a tenant's or an account's invoices, search, the invoice
of an item, invoice groups, and the rows of an account for the export. The invoice service's tables, as in
`store.py`; split off so that each file stays readable.

Kill Bill: `InvoiceSqlDao.sql.stg` (`getInvoiceByInvoiceItemId`, `getInvoicesByGroup`, `search`,
`searchInvoicesByBalance`), `DefaultInvoiceDao.searchInvoices` (0.24.x: a number is an invoice number, a
currency code a currency, `_q=1&...` an advanced query, anything else an id or account id).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, case, false, func, or_, select, true

from billow.core.db.prepared import Prepared, in_param
from billow.core.money import is_currency
from billow.invoice.model import Invoice, InvoiceItem, InvoiceStatus
from billow.invoice.store import INV, IT, to_item
from billow.invoice.store_payments import IP, paid_amounts

# What an advanced search (`_q=1&column[op]=value&...`) may look at (`DefaultInvoiceDao.searchInvoices`).
SEARCHABLE = ("id", "account_id", "invoice_date", "target_date", "currency", "status", "migrated",
              "parent_invoice", "grp_id", "created_by", "created_date", "updated_by", "updated_date")
QUERY_MARKER = "_q=1&"
_OPERATORS = {"eq": "__eq__", "gte": "__ge__", "gt": "__gt__", "lte": "__le__", "lt": "__lt__", "neq": "__ne__"}
_BALANCE_QUERY = re.compile(re.escape(QUERY_MARKER) + r"balance\[(eq|gte|gt|lte|lt|neq)\]=(\w+)")
_MAX_INT = 2**31 - 1
_HUGE = Decimal(10) ** 20


@dataclass(frozen=True, slots=True)
class InvoicePage:
    """One page: the invoices, the number matching and the number of invoices of the tenant (Kill Bill's
    `TotalNbRecords` and `MaxNbRecords`)."""

    invoices: list[Invoice]
    total: int
    max_records: int


# ------------------------------------------------------------------------------------------------- loading
def _to_invoice(m: Mapping[str, Any], items: Sequence[InvoiceItem]) -> Invoice:
    return Invoice(id=m["id"], account_id=m["account_id"], invoice_date=m["invoice_date"],
                   target_date=m["target_date"], currency=m["currency"], status=InvoiceStatus(m["status"]),
                   items=tuple(items), invoice_number=m["record_id"], is_parent_invoice=bool(m["parent_invoice"]),
                   migrated=bool(m["migrated"]), created_date=m["created_date"])


_ITEMS_OF_INVOICES = Prepared(lambda dialect: select(IT).where(
    IT.c.tenant_record_id == bindparam("tenant"), in_param(dialect, IT.c.invoice_id, "invoices"),
    in_param(dialect, IT.c.account_record_id, "accounts")).order_by(IT.c.record_id))
_INVOICES_BY_IDS = Prepared(lambda dialect: select(INV).where(
    INV.c.tenant_record_id == bindparam("tenant"), in_param(dialect, INV.c.id, "invoices")))
_INVOICES_BY_IDS_OF_ACCOUNTS = Prepared(lambda dialect: select(INV).where(
    INV.c.tenant_record_id == bindparam("tenant"), in_param(dialect, INV.c.id, "invoices"),
    in_param(dialect, INV.c.account_record_id, "accounts")))


def load(conn: Connection, tenant: int, rows: Sequence[Any]) -> list[Invoice]:
    """Invoices rows with their items (one query for the items), in the order of `rows`."""
    if not rows:
        return []
    ids = [r.id for r in rows]
    accounts = {r.account_record_id for r in rows}  # the accounts' index bounds the reads (see `paid_amounts`)
    items: dict[str, list[InvoiceItem]] = {}
    for r in conn.execute(_ITEMS_OF_INVOICES(conn), {"tenant": tenant, "invoices": ids, "accounts": list(accounts)}):
        items.setdefault(r.invoice_id, []).append(to_item(dict(r._mapping)))
    paid = paid_amounts(conn, tenant, ids, accounts)
    return [dataclasses.replace(inv, paid_amount=paid[inv.id]) if inv.id in paid else inv
            for inv in (_to_invoice(r._mapping, items.get(r.id, ())) for r in rows)]


def invoices_by_ids(conn: Connection, tenant: int, invoice_ids: Sequence[str],
                    owners: Mapping[str, int] | None = None) -> dict[str, Invoice]:
    """Invoices by id; with `owners` ({invoice id: account record id}) only those of the account given."""
    if not invoice_ids:
        return {}
    params = {"tenant": tenant, "invoices": list(invoice_ids)}
    if owners is None:
        rows = conn.execute(_INVOICES_BY_IDS(conn), params).all()
    else:
        params["accounts"] = list(set(owners.values()))
        rows = conn.execute(_INVOICES_BY_IDS_OF_ACCOUNTS(conn), params).all()
    if owners is not None:
        rows = [r for r in rows if owners.get(r.id) == r.account_record_id]
    return {inv.id: inv for inv in load(conn, tenant, rows)}


# ------------------------------------------------------------------------------------------------- reads
def count(conn: Connection, tenant: int, account_record_id: int | None = None) -> int:
    q = select(func.count()).select_from(INV).where(INV.c.tenant_record_id == tenant)
    if account_record_id is not None:
        q = q.where(INV.c.account_record_id == account_record_id)
    return int(conn.execute(q).scalar_one())


def page(conn: Connection, tenant: int, offset: int, limit: int, account_record_id: int | None = None
         ) -> InvoicePage:
    """Invoices of the tenant (or of one account) by record id: `getInvoices`, `getInvoicesByAccount`."""
    q = select(INV).where(INV.c.tenant_record_id == tenant)
    if account_record_id is not None:
        q = q.where(INV.c.account_record_id == account_record_id)
    rows = conn.execute(q.order_by(INV.c.record_id).offset(offset).limit(limit)).all()
    total = count(conn, tenant, account_record_id)
    return InvoicePage(load(conn, tenant, rows), total, total)


def by_item(conn: Connection, tenant: int, item_id: str) -> Invoice | None:
    """The invoice holding an item (`getInvoiceByInvoiceItemId`)."""
    row = conn.execute(select(INV).join(IT, IT.c.invoice_id == INV.c.id).where(
        INV.c.tenant_record_id == tenant, IT.c.tenant_record_id == tenant, IT.c.id == item_id)).first()
    return None if row is None else load(conn, tenant, [row])[0]


def group(conn: Connection, tenant: int, account_record_id: int, group_id: str) -> list[Invoice]:
    """The account's invoices of one group (`getInvoicesByGroup`), oldest first."""
    rows = conn.execute(select(INV).where(INV.c.tenant_record_id == tenant,
                                          INV.c.account_record_id == account_record_id, INV.c.grp_id == group_id)
                        .order_by(INV.c.record_id)).all()
    return load(conn, tenant, rows)


def _balances() -> Any:
    """Balance of every invoice as Kill Bill's balance search sees it (`invoiceBalanceQuery`): the sum of its
    items less its net successful payments, 0 for DRAFT, VOID and migration invoices (no WRITTEN_OFF tags here)."""
    settled = or_(INV.c.status.in_([InvoiceStatus.DRAFT.value, InvoiceStatus.VOID.value]), INV.c.migrated == true())
    amount = case((settled, 0), else_=func.coalesce(IT.c.amount, 0))
    items = and_(IT.c.invoice_id == INV.c.id, IT.c.tenant_record_id == INV.c.tenant_record_id)
    charged = (select(INV.c.id.label("invoice_id"), func.sum(amount).label("charged"))
               .select_from(INV.outerjoin(IT, items)).group_by(INV.c.id)).subquery()
    paid = (select(IP.c.invoice_id, func.sum(IP.c.amount).label("paid")).where(IP.c.success == true())
            .group_by(IP.c.invoice_id)).subquery()
    net = charged.c.charged - case((settled, 0), else_=func.coalesce(paid.c.paid, 0))
    return (select(charged.c.invoice_id, net.label("balance"))
            .select_from(charged.join(INV, INV.c.id == charged.c.invoice_id)
                         .outerjoin(paid, paid.c.invoice_id == charged.c.invoice_id)))


def _advanced(query: str) -> list[ColumnElement[bool]]:
    """`_q=1&column[op]=value&...` (`SearchQuery`): clauses ANDed; unknown columns are skipped, a column
    without a value matches everything."""
    clauses: list[ColumnElement[bool]] = []
    for param in query.split("&"):
        name, _, value = param.partition("=")
        column, _, rest = name.partition("[")
        if column not in SEARCHABLE:
            continue
        op = rest.rstrip("]").lower() or "eq"
        if value == "":
            clauses.append(true())
            continue
        col = INV.c[column]
        typed = _typed(column, value)
        if typed is None:
            clauses.append(false())
        elif op == "like":
            clauses.append(col.like(value) if isinstance(typed, str) else false())
        elif op in _OPERATORS:
            clauses.append(getattr(col, _OPERATORS[op])(typed))
        else:
            clauses.append(false())
    return clauses


def _typed(column: str, value: str) -> Any:
    """A query value as its column holds it; None when it cannot be one (the clause then matches nothing)."""
    try:
        if column in ("migrated", "parent_invoice"):
            return value.lower() == "true"
        if column in ("invoice_date", "target_date"):
            return date.fromisoformat(value)
        if column in ("created_date", "updated_date"):
            instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    except ValueError:
        return None
    return value


def search(conn: Connection, tenant: int, key: str, offset: int, limit: int) -> InvoicePage:
    """`searchInvoices` as Kill Bill 0.24.x answers it."""
    all_invoices = count(conn, tenant)
    if key.isascii() and key.isdigit() and int(key) <= _MAX_INT:
        # an invoice number: that invoice; Kill Bill counts one match even when there is none
        row = conn.execute(select(INV).where(INV.c.tenant_record_id == tenant, INV.c.record_id == int(key))).first()
        found = load(conn, tenant, [row]) if row is not None and offset == 0 and limit > 0 else []
        return InvoicePage(found, 1, all_invoices)
    q = select(INV).where(INV.c.tenant_record_id == tenant)
    if is_currency(key.upper()):
        where: ColumnElement[bool] = INV.c.currency == key.upper()
    elif key.startswith(QUERY_MARKER):
        balance = _BALANCE_QUERY.fullmatch(key)
        if balance is not None:
            try:
                amount = Decimal(balance.group(2))
            except InvalidOperation:
                return InvoicePage([], 0, all_invoices)
            if not amount.is_finite():
                return InvoicePage([], 0, all_invoices)
            # beyond any balance: the comparison gives the same answer, and the database can hold the number
            amount = max(min(amount, _HUGE), -_HUGE)
            b = _balances().where(INV.c.tenant_record_id == tenant).subquery()
            q = q.join(b, b.c.invoice_id == INV.c.id)
            where = getattr(b.c.balance, _OPERATORS[balance.group(1)])(amount)
        else:
            clauses = _advanced(key[len(QUERY_MARKER):])
            where = and_(true(), *clauses)
    else:
        where = or_(INV.c.id == key, INV.c.account_id == key)
    matching = int(conn.execute(select(func.count()).select_from(q.where(where).subquery())).scalar_one())
    rows = conn.execute(q.where(where).order_by(INV.c.record_id).offset(offset).limit(limit)).all()
    return InvoicePage(load(conn, tenant, rows), matching, all_invoices)


def consumed_credit(conn: Connection, tenant: int, account_record_id: int) -> list[tuple[int, str, str, Decimal]]:
    """(record id, item id, invoice id, amount) of the account's CBA_ADJ items that used credit on COMMITTED
    invoices, newest first (`InvoiceItemSqlDao.getConsumedCBAItems`)."""
    rows = conn.execute(select(IT.c.record_id, IT.c.id, IT.c.invoice_id, IT.c.amount)
                        .join(INV, INV.c.id == IT.c.invoice_id)
                        .where(IT.c.tenant_record_id == tenant, IT.c.account_record_id == account_record_id,
                               INV.c.status == InvoiceStatus.COMMITTED.value, IT.c.type == "CBA_ADJ")
                        .order_by(IT.c.record_id.desc()))
    return [(r.record_id, r.id, r.invoice_id, Decimal(r.amount)) for r in rows if Decimal(r.amount) < 0]
