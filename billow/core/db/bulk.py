"""Bulk writes: many rows in a few round trips.

On PostgreSQL, batches of 4 rows or more go through COPY (record ids taken from the table's
sequence first, in one query, so that callers still learn them): a multi-row INSERT is a query
string psycopg must parse anew every time once it is long (it caches only short statements),
about 160 us a row for a history table, while COPY streams rows with no parsing (85 us a row at
8 rows, 27 at 64; `insert_rows` measured on invoice_items_history). Smaller batches, the one or two
rows of an API call, are a prepared INSERT ... RETURNING sent by psycopg itself, with the values
converted as for COPY: through SQLAlchemy the same insert of one audit row costs 200-230 us of CPU,
directly 110 us, and an API call writes ten to thirty of them. SQLite uses a multi-row INSERT with
RETURNING. Either way the rows are written in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert, text

COPY_THRESHOLD = 4  # rows; below it one INSERT ... RETURNING is as fast
# the next n record ids of a table, in one round trip
_NEXT_IDS = text("SELECT nextval(q.s) FROM (SELECT pg_get_serial_sequence(:t, 'record_id')::regclass AS s) q, "
                 "generate_series(1, :n) ORDER BY 1")


@dataclass(frozen=True)
class _Plan:
    """How rows of one table go to psycopg: the columns written and each one's conversion and default."""

    columns: tuple[str, ...]
    converters: tuple[tuple[str, Callable[[Any], Any] | None, Any], ...]
    insert_sql: str  # a prepared INSERT ... RETURNING record_id of one row


# by dialect too: the conversions are the dialect's, and one process may write to SQLite and PostgreSQL
_PLANS: dict[tuple[Table, bool, str], _Plan] = {}
# a column whose default is the server's (the queue tables' processing_state) or computed: rows here share one
# column list, so every row must give it
_NO_DEFAULT_HERE = object()


def _plan(conn: Connection, table: Table, with_ids: bool) -> _Plan:
    dialect = conn.dialect
    plan = _PLANS.get((table, with_ids, dialect.name))
    if plan is None:
        columns = [c for c in table.columns if c.name != "record_id" or with_ids]
        converters = []
        for c in columns:
            process = c.type.bind_processor(dialect)
            default = getattr(c.default, "arg", None) if getattr(c.default, "is_scalar", False) else None
            if (c.default is None and c.server_default is not None) or (c.default is not None and default is None):
                default = _NO_DEFAULT_HERE  # the server's or a computed one: every row must name the column
            converters.append((c.name, process, default))
        written = [c.name for c in columns if c.name != "record_id"]
        names = ", ".join(f'"{n}"' for n in written)
        sql = (f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join(["%s"] * len(written))}) '
               'RETURNING "record_id"')
        plan = _PLANS[(table, with_ids, dialect.name)] = _Plan(tuple(c.name for c in columns), tuple(converters), sql)
    return plan


def _values(plan: _Plan, rows: Sequence[Mapping[str, Any]], ids: Sequence[int] | None) -> Iterable[list[Any]]:
    """Driver-ready values of each row, in the plan's column order (`ids` fill record_id when the plan has it)."""
    for i, row in enumerate(rows):
        out = []
        for name, process, default in plan.converters:
            if name == "record_id":
                value: Any = ids[i] if ids is not None else None
            else:
                value = _given(row, name, default)
                if process is not None and value is not None:
                    value = process(value)
            out.append(value)
        yield out


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, returning_ids: bool
                ) -> list[int]:
    """Insert rows; the new `record_id`s in row order when asked (else an empty list)."""
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        if len(rows) >= COPY_THRESHOLD:
            return _copy(conn, table, rows, returning_ids)
        ids = _insert_direct(conn, table, rows)
        return ids if returning_ids else []
    # every row names every column: SQLAlchemy builds an executemany from the first row's keys, and a value the
    # first row lacks would be dropped from the others without a word
    plan = _plan(conn, table, False)
    full = [{name: _given(row, name, default) for name, _, default in plan.converters} for row in rows]
    if returning_ids:
        stmt = insert(table).returning(table.c.record_id, sort_by_parameter_order=True)
        return [r[0] for r in conn.execute(stmt, full)]
    conn.execute(insert(table), full)
    return []


def _given(row: Mapping[str, Any], name: str, default: Any) -> Any:
    value = row.get(name, default)
    if value is _NO_DEFAULT_HERE:
        raise ValueError(f"insert_rows: every row needs a value for {name} (no default applies here)")
    return value


def _insert_direct(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """A few rows: one prepared INSERT per row (psycopg prepares a statement on its fifth run), several rows
    pipelined in one round trip; their record ids in row order."""
    plan = _plan(conn, table, False)
    raw = conn.connection.driver_connection
    assert raw is not None
    ids: list[int] = []
    with raw.cursor() as cur:
        if len(rows) == 1:
            cur.execute(plan.insert_sql, next(iter(_values(plan, rows, None))))
        else:  # one round trip (psycopg pipelines them), a result set per row
            cur.executemany(plan.insert_sql, list(_values(plan, rows, None)), returning=True)
        while True:
            found = cur.fetchone()
            assert found is not None
            ids.append(int(found[0]))
            if not cur.nextset():
                break
    return ids


def _copy(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], with_ids: bool) -> list[int]:
    ids: list[int] = []
    plan = _plan(conn, table, with_ids)
    if with_ids:
        ids = list(conn.execute(_NEXT_IDS, {"t": table.name, "n": len(rows)}).scalars())
    copy_values(conn, table.name, plan.columns, _values(plan, rows, ids))
    return ids


def copy_values(conn: Connection, table_name: str, column_names: Sequence[str],
                rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows of driver-ready values (no type conversion here) into a PostgreSQL table, in the caller's
    transaction: the fastest way in for append-only volume (usage records)."""
    names = ", ".join(f'"{n}"' for n in column_names)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(f'COPY "{table_name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)
