"""Rows of one account, table by table, for Kill Bill's account export (`GET /1.0/kb/export/{accountId}`).

Each service dumps its own tables through these helpers (its internal API's `export`); the audit log and the
history twins of audited tables are the data layer's, dumped here. Kill Bill's `DatabaseExportDao`: a table
belongs to an account through `account_record_id` (`accounts` through its `record_id`, its history through
`target_record_id`), always with `tenant_record_id`; columns come in the table's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, select

from billow.core.db.schema import AUDITED, audit_log
from billow.core.db.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class TableDump:
    """One table's rows of an account: column names in the table's order, rows as tuples in that order."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def dump(conn: Connection, table: Table, *where: ColumnElement[bool]) -> TableDump:
    rows = conn.execute(select(table).where(*where).order_by(*table.primary_key.columns)).all()
    return TableDump(table.name, tuple(c.name for c in table.columns), [tuple(r) for r in rows])


def account_rows(uow: UnitOfWork, table: Table, account_record_id: int) -> TableDump:
    """Rows of an account-owned table (`account_record_id`, `tenant_record_id`)."""
    return dump(uow.conn, table, table.c.account_record_id == account_record_id,
                table.c.tenant_record_id == uow.tenant)


def audited_rows(uow: UnitOfWork, table_name: str, account_record_id: int) -> list[TableDump]:
    """An audited table's rows of the account and their history rows (for the accounts table: the account's
    own row, and its history by `target_record_id`)."""
    entry = AUDITED[table_name]
    t, h = entry.table, entry.history
    if entry.account_column == "self":
        return [dump(uow.conn, t, t.c.record_id == account_record_id, t.c.tenant_record_id == uow.tenant),
                dump(uow.conn, h, h.c.target_record_id == account_record_id, h.c.tenant_record_id == uow.tenant)]
    return [account_rows(uow, t, account_record_id), account_rows(uow, h, account_record_id)]


def audit_rows(uow: UnitOfWork, account_record_id: int) -> TableDump:
    """The account's audit log rows."""
    return account_rows(uow, audit_log, account_record_id)


def non_empty(dumps: Sequence[TableDump]) -> list[TableDump]:
    return [d for d in dumps if d.rows]
