"""Audit and history: the one place that writes `audit_log` and `<table>_history` rows.

Services call `insert`, `insert_many`, `update` and `delete` on their unit of
work; these write the row, a copy of its new state into the history twin, and
an audit row carrying the call context, all in the caller's transaction.
Kill Bill does the same in its `EntitySqlDaoWrapperInvocationHandler`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Connection, Dialect, Row, Table, TextClause, Update, bindparam, func, select, text
from sqlalchemy import delete as sa_delete
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeDecorator

from billow.core.db.bulk import COPY_THRESHOLD, insert_rows
from billow.core.db.checks import check_rows
from billow.core.db.schema import AUDITED, AuditedTable, audit_log
from billow.core.db.sets import in_values
from billow.core.db.types import UTCDateTime

if TYPE_CHECKING:
    from billow.core.db.uow import UnitOfWork


# From this many rows on (PostgreSQL), history and audit rows are written server-side (`_history_in_server`):
# the size from which the rows themselves go through COPY.
SERVER_SIDE_HISTORY = COPY_THRESHOLD
# Up to this many rows, `update_many` updates row by row with RETURNING (one statement a row), else in two.
FEW_ROWS = 2


def _entry(table_name: str) -> AuditedTable:
    try:
        return AUDITED[table_name]
    except KeyError:  # pragma: no cover - programming error
        raise RuntimeError(f"table {table_name} is not audited") from None


def _account_of(entry: AuditedTable, row: Mapping[str, Any]) -> int | None:
    if entry.account_column is None:
        return None
    if entry.account_column == "self":
        return row["record_id"]
    return row.get(entry.account_column)


def _write_history(uow: UnitOfWork, entry: AuditedTable, rows: Sequence[Mapping[str, Any]],
                   change_type: str) -> None:
    """Keep the rows' new states for their history and audit rows, written when the unit of work ends
    (`flush_history`): a few multi-row statements per unit of work instead of two per write."""
    ctx = uow.ctx
    pending = uow.pending_history.setdefault(entry.table.name, (entry, []))[1]
    for row in rows:
        h = {k: v for k, v in row.items() if k != "record_id"}
        h["target_record_id"] = row["record_id"]
        h["change_type"] = change_type
        pending.append((h, {
            "target_record_id": row["record_id"],
            "table_name": entry.table.name,
            "change_type": change_type,
            "created_by": ctx.user_name,
            "reason_code": ctx.reason_code,
            "comments": ctx.comments,
            "user_token": ctx.user_token,
            "account_record_id": _account_of(entry, row),
            "tenant_record_id": row["record_id"] if entry.tenant_self
            else row.get("tenant_record_id", ctx.tenant_record_id),
        }))


def flush_history(uow: UnitOfWork) -> None:
    """Write the history copies kept by the unit of work (one insert per table, in the order of the changes)
    and their audit rows (one insert), in its transaction."""
    if not uow.pending_history:
        return
    pending = dict(uow.pending_history)
    uow.pending_history.clear()  # in place: units of work made with `for_tenant` share it
    now = uow.now
    audits: list[dict[str, Any]] = []
    for entry, changes in pending.values():
        history_ids = insert_rows(uow.conn, entry.history, [h for h, _ in changes], returning_ids=True)
        for (_, audit), hid in zip(changes, history_ids, strict=True):
            audit["id"] = str(uuid.uuid4())
            audit["history_record_id"] = hid
            audit["created_date"] = now
            audits.append(audit)
    insert_rows(uow.conn, audit_log, audits, returning_ids=False)


def _check_context(uow: UnitOfWork) -> None:
    """Who, why and how: the call context goes into every audit row, so it must fit there too."""
    ctx = uow.ctx
    check_rows(audit_log, [{"created_by": ctx.user_name, "reason_code": ctx.reason_code,
                            "comments": ctx.comments}])


def _stamp(uow: UnitOfWork, values: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    now: datetime = uow.now
    out = dict(values)
    if creating:
        if "id" not in out:  # not setdefault: a uuid per row costs a system call
            out["id"] = str(uuid.uuid4())
        out.setdefault("created_date", now)
        out.setdefault("created_by", uow.ctx.user_name)
        if "tenant_record_id" not in out:
            out["tenant_record_id"] = uow.ctx.tenant_record_id
    out.setdefault("updated_date", now)
    out.setdefault("updated_by", uow.ctx.user_name)
    return out


def insert_many(uow: UnitOfWork, table_name: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Insert rows (stamped with ids, dates and users), with history and audit. Returns the rows."""
    if not rows:
        return []
    entry = _entry(table_name)
    _check_context(uow)
    stamped = [_stamp(uow, r, creating=True) for r in rows]
    check_rows(entry.table, stamped)
    ids = insert_rows(uow.conn, entry.table, stamped, returning_ids=True)
    for row, rid in zip(stamped, ids, strict=True):
        row["record_id"] = rid
    if _server_side(uow.conn, len(stamped)):
        _history_in_server(uow, entry, ids, "INSERT")
    else:
        _write_history(uow, entry, stamped, "INSERT")
    return stamped


def insert_one(uow: UnitOfWork, table_name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    return insert_many(uow, table_name, [values])[0]


def update(uow: UnitOfWork, table_name: str, record_id: int, values: Mapping[str, Any], *,
           change_type: str = "UPDATE") -> dict[str, Any]:
    """Update one row by record id, with history and audit. Returns the new state.

    `change_type="DELETE"` is a soft delete (a row marked inactive), audited as Kill Bill audits one
    (`@Audited(ChangeType.DELETE)` on its `markAs...Deleted` queries)."""
    entry = _entry(table_name)
    t = entry.table
    _check_context(uow)
    stamped = _stamp(uow, values, creating=False)
    check_rows(t, [stamped])
    stmt = sa_update(t).where(t.c.record_id == record_id).values(**stamped).returning(*t.c)
    row: Row[Any] | None = uow.conn.execute(stmt).first()
    if row is None:
        raise LookupError(f"{table_name} record {record_id} not found")
    new_state = dict(row._mapping)
    _write_history(uow, entry, [new_state], change_type)
    return new_state


def update_many(uow: UnitOfWork, table_name: str, changes: Mapping[int, Mapping[str, Any]]) -> int:
    """Update many rows by record id (each with the same columns), with history and audit, in a few
    statements whatever their number. Returns how many rows were updated."""
    if not changes:
        return 0
    entry = _entry(table_name)
    t = entry.table
    _check_context(uow)
    stamped = [{**_stamp(uow, v, creating=False), "_rid": rid} for rid, v in changes.items()]
    check_rows(t, stamped)
    columns = [k for k in stamped[0] if k != "_rid"]
    if any(set(r) != set(stamped[0]) for r in stamped):
        raise ValueError("update_many: every row must change the same columns")
    conn = uow.conn
    if _server_side(conn, len(stamped)):
        ids = _update_from_arrays(conn, t, columns, stamped)
        _history_in_server(uow, entry, ids, "UPDATE")
        return len(ids)
    if len(stamped) <= FEW_ROWS:  # one UPDATE ... RETURNING a row: fewer round trips than UPDATEs + SELECT
        states = []
        for r in sorted(stamped, key=lambda r: r["_rid"]):
            row = conn.execute(sa_update(t).where(t.c.record_id == r["_rid"])
                               .values({c: r[c] for c in columns}).returning(*t.c)).first()
            if row is not None:
                states.append(dict(row._mapping))
        _write_history(uow, entry, states, "UPDATE")
        return len(states)
    stmt = sa_update(t).where(t.c.record_id == bindparam("_rid")).values({c: bindparam(f"v_{c}") for c in columns})
    conn.execute(stmt, [{"_rid": r["_rid"], **{f"v_{c}": r[c] for c in columns}} for r in stamped])
    states = [dict(r._mapping) for r in conn.execute(select(t).where(in_values(conn, t.c.record_id, list(changes)))
                                                     .order_by(t.c.record_id))]
    _write_history(uow, entry, states, "UPDATE")
    return len(states)


def _update_from_arrays(conn: Connection, t: Table, columns: list[str], stamped: list[dict[str, Any]]) -> list[int]:
    """PostgreSQL: `UPDATE t SET c = v.c FROM (SELECT unnest(:rids), unnest(:c) ...) v WHERE t.record_id = v.rid
    RETURNING t.record_id`: one short statement with one array per column, whatever the number of rows (an
    executemany of hundreds of UPDATEs, then a SELECT of the new states, cost a billing run a second per
    10,000 accounts)."""
    dialect = conn.dialect
    params: dict[str, list[Any]] = {"rids": [r["_rid"] for r in stamped]}
    for name in columns:
        process = t.c[name].type.bind_processor(dialect)
        params[f"v_{name}"] = [r[name] if process is None or r[name] is None else process(r[name]) for r in stamped]
    return sorted(r[0] for r in conn.execute(_update_from_arrays_sql(t, tuple(columns), dialect), params))


@functools.lru_cache(maxsize=256)
def _update_from_arrays_sql(t: Table, columns: tuple[str, ...], dialect: Dialect) -> Update:
    """`_update_from_arrays`' statement for one table and set of columns, built once."""
    arrays = [func.unnest(bindparam("rids", type_=ARRAY(BigInteger()))).label("_rid")]
    for name in columns:
        col_type = t.c[name].type
        base = col_type.load_dialect_impl(dialect) if isinstance(col_type, TypeDecorator) else col_type
        arrays.append(func.unnest(bindparam(f"v_{name}", type_=ARRAY(base))).label(f"v_{name}"))
    v = select(*arrays).subquery("v")
    return (sa_update(t).where(t.c.record_id == v.c._rid).values({c: v.c[f"v_{c}"] for c in columns})
            .returning(t.c.record_id))


def _server_side(conn: Connection, rows: int) -> bool:
    return rows >= SERVER_SIDE_HISTORY and conn.dialect.name == "postgresql"


@functools.cache
def _history_sql(entry: AuditedTable) -> TextClause:
    """`_history_in_server`'s statement for one table, built once (a text's parameters are parsed when it is made)."""
    t, h = entry.table, entry.history
    cols = ", ".join(f'"{c.name}"' for c in t.columns if c.name != "record_id")
    account = {None: "NULL", "self": "target_record_id"}.get(entry.account_column, f'"{entry.account_column}"')
    tenant = "target_record_id" if entry.tenant_self else "tenant_record_id"
    return text(f"""
        WITH h AS (
            INSERT INTO "{h.name}" (target_record_id, change_type, {cols})
            SELECT record_id, :change_type, {cols} FROM "{t.name}" WHERE record_id = ANY(:ids)
            RETURNING record_id, target_record_id, {account} AS arid, {tenant} AS trid)
        INSERT INTO audit_log (id, target_record_id, table_name, history_record_id, change_type, created_date,
                               created_by, reason_code, comments, user_token, account_record_id, tenant_record_id)
        SELECT gen_random_uuid()::text, target_record_id, :table_name, record_id, :change_type, :now, :created_by,
               :reason_code, :comments, :user_token, arid, coalesce(trid, :ctx_tenant) FROM h""").bindparams(
        bindparam("ids", type_=ARRAY(BigInteger())), bindparam("now", type_=UTCDateTime()))


def _history_in_server(uow: UnitOfWork, entry: AuditedTable, record_ids: Sequence[int], change_type: str) -> None:
    """PostgreSQL, many rows: the history copies and audit rows are written by one statement from the rows
    as they now are in the table (`INSERT INTO <t>_history SELECT ... FROM <t>`, then `audit_log` from its
    RETURNING), so no row travels back and forth through Python: the same rows `_write_history` writes."""
    ctx = uow.ctx
    t = entry.table
    uow.conn.execute(_history_sql(entry), {"ids": list(record_ids), "change_type": change_type, "table_name": t.name,
                           "now": uow.now, "created_by": ctx.user_name, "reason_code": ctx.reason_code,
                           "comments": ctx.comments, "user_token": ctx.user_token,
                           "ctx_tenant": ctx.tenant_record_id})


def delete(uow: UnitOfWork, table_name: str, record_id: int) -> dict[str, Any]:
    """Delete one row by record id; its last state goes to history as DELETE."""
    entry = _entry(table_name)
    t = entry.table
    _check_context(uow)
    row = uow.conn.execute(sa_delete(t).where(t.c.record_id == record_id).returning(*t.c)).first()
    if row is None:
        raise LookupError(f"{table_name} record {record_id} not found")
    state = dict(row._mapping)
    _write_history(uow, entry, [state], "DELETE")
    return state
