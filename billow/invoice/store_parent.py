"""SQL for parent summary invoices: the `invoice_parent_children` table (which child invoice a parent invoice
summarises, Kill Bill's table of that name, owned by the parent's account) and the reads around it.

Kill Bill: `InvoiceParentChildrenSqlDao.sql.stg`, `InvoiceSqlDao.sql.stg#getParentDraftInvoice`,
`InvoiceItemSqlDao.sql.stg#getInvoiceItemsByParentInvoice`, `InvoiceDaoHelper.setParentInvoice`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, String, select

from billow.core.db.schema import audited_table
from billow.core.db.sets import in_values
from billow.invoice.model import Invoice, InvoiceItem, InvoiceStatus
from billow.invoice.store import INV, IT, to_item
from billow.invoice.store_lookup import invoices_by_ids

parent_children = audited_table(
    "invoice_parent_children", "INVOICE_PARENT_CHILD",
    Column("parent_invoice_id", String(36), nullable=False, index=True),
    Column("child_invoice_id", String(36), nullable=False),
    Column("child_account_id", String(36), nullable=False, index=True),
)
PC = parent_children.table

K = TypeVar("K")


def relation_row(parent_invoice_id: str, child_invoice_id: str, child_account_id: str,
                 parent_account_record_id: int) -> dict[str, Any]:
    return {"parent_invoice_id": parent_invoice_id, "child_invoice_id": child_invoice_id,
            "child_account_id": child_account_id, "account_record_id": parent_account_record_id}


def first_draft(conn: Connection, tenant: int, account_record_id: int) -> str | None:
    """The account's oldest DRAFT invoice, which collects its children's summaries (`getParentDraftInvoice`:
    any DRAFT invoice of the parent account, by record id)."""
    row = conn.execute(select(INV.c.id).where(INV.c.tenant_record_id == tenant,
                                              INV.c.account_record_id == account_record_id,
                                              INV.c.status == InvoiceStatus.DRAFT.value)
                       .order_by(INV.c.record_id).limit(1)).first()
    return None if row is None else str(row.id)


def parent_of(conn: Connection, tenant: int, child_invoice_id: str) -> str | None:
    row = conn.execute(select(PC.c.parent_invoice_id).where(PC.c.tenant_record_id == tenant,
                                                            PC.c.child_invoice_id == child_invoice_id)
                       .order_by(PC.c.record_id).limit(1)).first()
    return None if row is None else str(row.parent_invoice_id)


def child_items(conn: Connection, tenant: int, parent_invoice_id: str) -> list[InvoiceItem]:
    """Items of the child invoices a parent invoice summarises (`getInvoiceItemsByParentInvoice`)."""
    rows = conn.execute(select(IT).join(PC, PC.c.child_invoice_id == IT.c.invoice_id).where(
        IT.c.tenant_record_id == tenant, PC.c.tenant_record_id == tenant,
        PC.c.parent_invoice_id == parent_invoice_id).order_by(IT.c.record_id))
    return [to_item(dict(r._mapping)) for r in rows]


def with_parents(conn: Connection, tenant: int, invoices: Mapping[K, Sequence[Invoice]]) -> dict[K, list[Invoice]]:
    """The same invoices, each child invoice carrying its parent invoice (with its items): one query for the
    links of these accounts' invoices, two more only when there are some (`InvoiceDaoHelper.setParentInvoice`)."""
    account_ids = {inv.account_id for group in invoices.values() for inv in group if not inv.is_parent_invoice}
    out = {k: list(v) for k, v in invoices.items()}
    if not account_ids:
        return out
    links = {r.child_invoice_id: r.parent_invoice_id for r in conn.execute(
        select(PC.c.child_invoice_id, PC.c.parent_invoice_id).where(
            PC.c.tenant_record_id == tenant, in_values(conn, PC.c.child_account_id, list(account_ids)))
        .order_by(PC.c.record_id))}
    if not links:
        return out
    parents = invoices_by_ids(conn, tenant, sorted(set(links.values())))
    for group in out.values():
        for i, inv in enumerate(group):
            parent = parents.get(links.get(inv.id, ""))
            if parent is not None and not inv.is_parent_invoice:
                group[i] = dataclasses.replace(inv, parent=parent, parent_invoice_id=parent.id,
                                               parent_account_id=parent.account_id)
    return out
