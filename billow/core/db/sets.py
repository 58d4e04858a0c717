"""`column IN (values)` for the set-based reads and writes of billing runs (hundreds of values).

On PostgreSQL an expanded `IN (%s, %s, ...)` of 500 values makes a new statement text per batch size that
psycopg parses from scratch every time (it caches the conversion of short statements only) and binds
value by value; `= ANY(%s::BIGINT[])` is one short statement with one array parameter: parsed once,
prepared by the server after a few runs. SQLite keeps the plain IN list.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, String, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

# Up to this many values a plain IN list is a short statement psycopg caches as well (one account's reads).
SHORT_LIST = 16


def in_values(conn: Connection, column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """`column IN values` for an integer (record id) or string (UUID, name) column."""
    if len(values) == 1:
        # one account's read, the commonest: an expanding IN list is rewritten at every execution (50 us)
        return column == next(iter(values))
    if conn.dialect.name != "postgresql" or len(values) <= SHORT_LIST:
        return column.in_(list(values))
    element = BigInteger() if column.type.python_type is int else String()
    return column == any_(bindparam(None, list(values), type_=ARRAY(element)))
