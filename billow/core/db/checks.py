"""The last check before a row is written: every value fits its column (`billow.core.limits`).

The REST edge and the services validate what they are given, naming the field as the caller wrote
it. This check is the net under them, for every audited table including those still to come: text
without NUL or unpaired surrogates and no longer than its column, integers within 32 or 64 bits,
amounts within the money columns. Without it PostgreSQL refuses such a value with an error carrying
the whole statement, while SQLite, which checks neither lengths nor NULs, stores it: the two
databases would disagree on what is valid.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Table

from billow.core.db.types import Money
from billow.core.errors import InvalidInput
from billow.core.limits import amount_problem, integer_problem, text_problem

# what each checked column holds: text (with its length, None for unbounded), a 32- or 64-bit integer, money
_TEXT, _INT32, _INT64, _MONEY = range(4)


def field_name(column: str) -> str:
    """A column's name as Kill Bill's JSON writes it: `external_key` -> `externalKey`."""
    head, *rest = column.split("_")
    return head + "".join(p.title() for p in rest)


@functools.cache
def _specs(table: Table) -> dict[str, tuple[int, int | None]]:
    out: dict[str, tuple[int, int | None]] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, Money):
            out[column.name] = (_MONEY, None)
        elif isinstance(kind, String):  # also Text
            out[column.name] = (_TEXT, kind.length)
        elif isinstance(kind, BigInteger):
            out[column.name] = (_INT64, None)
        elif isinstance(kind, Integer):
            out[column.name] = (_INT32, None)
    return out


def _problem(kind: int, limit: int | None, value: Any) -> str | None:
    if kind == _TEXT:
        if not isinstance(value, str):
            return None
        # most values are short ASCII: no NUL is cheap to see, no surrogate can be there
        if "\x00" in value or not value.isascii():
            problem = text_problem(value)
            if problem is not None:
                return problem
        return f"longer than {limit} characters" if limit is not None and len(value) > limit else None
    if kind == _MONEY:
        return amount_problem(value) if isinstance(value, Decimal) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return integer_problem(value, 32 if kind == _INT32 else 64)
    return None


def check_rows(table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Refuse (400, naming the field) a row with a value its column cannot hold; nothing is written."""
    specs = _specs(table)
    for row in rows:
        for name, value in row.items():
            spec = specs.get(name)
            if spec is None or value is None:
                continue
            problem = _problem(spec[0], spec[1], value)
            if problem is not None:
                raise InvalidInput(f"{field_name(name)}: {problem}")
