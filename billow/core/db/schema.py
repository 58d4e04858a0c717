"""Schema conventions shared by every service's tables (DESIGN.md, Persistence).

Every row has `record_id` (internal integer key), `id` (the UUID the API shows),
`tenant_record_id`, `account_record_id` where it belongs to an account, and
created/updated date and by. An *audited* table gets a `<table>_history` twin
and every change to it writes an `audit_log` row, through `billow.core.db.audit`
only. Services declare their tables with `audited_table`; the migrations create
the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table
from sqlalchemy.sql.schema import SchemaItem

from billow.core.db.types import UTCDateTime

metadata = MetaData()

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid; BIGINT elsewhere.
RecordId = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True, slots=True)
class AuditedTable:
    table: Table
    history: Table
    object_type: str
    # How to find the account of a row: a column name, "self" for the accounts
    # table itself, or None for tenant-level tables.
    account_column: str | None
    # The tenants table is its own tenant: audit rows take the row's record_id.
    tenant_self: bool = False


AUDITED: dict[str, AuditedTable] = {}


def entity_columns(*, account_owned: bool, tenant_index: bool = True) -> list[Column]:
    cols: list[Column] = [
        Column("record_id", RecordId, primary_key=True, autoincrement=True),
        Column("id", String(36), nullable=False, unique=True),
    ]
    cols += [
        Column("created_date", UTCDateTime(), nullable=False),
        Column("created_by", String(50), nullable=False),
        Column("updated_date", UTCDateTime(), nullable=False),
        Column("updated_by", String(50), nullable=False),
    ]
    if account_owned:
        cols.append(Column("account_record_id", RecordId, nullable=True, index=True))
    # account rows are read by (tenant, account): a composite index instead (see audited_table)
    cols.append(Column("tenant_record_id", RecordId, nullable=False, index=tenant_index))
    return cols


def audited_table(name: str, object_type: str, *items: SchemaItem, account_owned: bool = True,
                  account_column: str | None = None, tenant_scoped: bool = True,
                  tenant_self: bool = False) -> AuditedTable:
    """Declare an audited table and its history twin.

    `account_column` defaults to `account_record_id` for account-owned tables.
    """
    by_account = tenant_scoped and (account_owned or account_column == "self")
    base_cols = entity_columns(account_owned=account_owned, tenant_index=not by_account)
    if not tenant_scoped:
        base_cols = [c for c in base_cols if c.name != "tenant_record_id"]
        base_cols.append(Column("tenant_record_id", RecordId, nullable=True))
    table = Table(name, metadata, *base_cols, *items)
    # (tenant, account) lookups of many accounts at once stay index scans even before the planner has
    # statistics (migration 0005_account_indexes)
    if by_account and account_owned:
        Index(f"ix_{name}_tenant_account", table.c.tenant_record_id, table.c.account_record_id)
    elif by_account:
        Index(f"ix_{name}_tenant_record", table.c.tenant_record_id, table.c.record_id)
    history_cols: list[Column] = [
        Column("record_id", RecordId, primary_key=True, autoincrement=True),
        Column("target_record_id", RecordId, nullable=False, index=True),
        Column("change_type", String(6), nullable=False),
    ]
    for col in table.columns:
        if col.name == "record_id":
            continue
        history_cols.append(Column(col.name, col.type, nullable=True))
    history = Table(f"{name}_history", metadata, *history_cols)
    if account_column is None and account_owned:
        account_column = "account_record_id"
    entry = AuditedTable(table, history, object_type, account_column, tenant_self)
    AUDITED[name] = entry
    return entry


audit_log = Table(
    "audit_log",
    metadata,
    Column("record_id", RecordId, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False),
    Column("target_record_id", RecordId, nullable=False),
    Column("table_name", String(50), nullable=False),
    Column("history_record_id", RecordId, nullable=True),
    Column("change_type", String(6), nullable=False),
    Column("created_date", UTCDateTime(), nullable=False),
    Column("created_by", String(50), nullable=False),
    Column("reason_code", String(255), nullable=True),
    Column("comments", String(255), nullable=True),
    Column("user_token", String(36), nullable=True),
    Column("account_record_id", RecordId, nullable=True),
    Column("tenant_record_id", RecordId, nullable=True),
)
