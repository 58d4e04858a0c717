"""Text matching that behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, func


def contains(conn: Connection, column: ColumnElement[Any], key: str) -> ColumnElement[bool]:
    """`column` contains `key`, case-sensitive, `%` and `_` taken literally (Kill Bill's searches run on
    case-sensitive columns: utf8_bin, PostgreSQL LIKE). SQLite's LIKE ignores case, its `instr` does not."""
    position = func.strpos if conn.dialect.name == "postgresql" else func.instr
    return position(column, key) > 0
