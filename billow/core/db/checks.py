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
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Table

from billow.core.db.types import Money
from billow.core.errors import InvalidInput
from billow.core.limits import amount_problem, integer_problem, text_problem

Check = Callable[[Any], str | None]


def _text(max_length: int | None) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        problem = text_problem(value)
        if problem is None and max_length is not None and len(value) > max_length:
            problem = f"longer than {max_length} characters"
        return problem
    return check


def _integer(bits: int) -> Check:
    def check(value: Any) -> str | None:
        return integer_problem(value, bits) if isinstance(value, int) and not isinstance(value, bool) else None
    return check


def _amount(value: Any) -> str | None:
    return amount_problem(value) if isinstance(value, Decimal) else None


def field_name(column: str) -> str:
    """A column's name as Kill Bill's JSON writes it: `external_key` -> `externalKey`."""
    head, *rest = column.split("_")
    return head + "".join(p.title() for p in rest)


@functools.cache
def _checks(table: Table) -> dict[str, Check]:
    out: dict[str, Check] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, Money):
            out[column.name] = _amount
        elif isinstance(kind, String):  # also Text
            out[column.name] = _text(kind.length)
        elif isinstance(kind, BigInteger):
            out[column.name] = _integer(64)
        elif isinstance(kind, Integer):
            out[column.name] = _integer(32)
    return out


def check_rows(table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Refuse (400, naming the field) a row with a value its column cannot hold; nothing is written."""
    checks = _checks(table)
    for row in rows:
        for name, value in row.items():
            check = checks.get(name)
            if check is None or value is None:
                continue
            problem = check(value)
            if problem is not None:
                raise InvalidInput(f"{field_name(name)}: {problem}")
