"""What a value must be for Billow to store it, on SQLite and PostgreSQL alike.

The REST edge, the services' validation and the data layer all ask these questions, so that a
value is refused with the same message wherever it is caught, and before any SQL runs:

- text: no NUL character (PostgreSQL's text types cannot hold one) and no unpaired UTF-16
  surrogate (it has no UTF-8 encoding); at most the column's length (Kill Bill's column sizes);
- amounts: within the `NUMERIC(15, 9)` money columns (`billow.core.db.types.Money`), i.e. fewer
  than 7 digits before the decimal point;
- dates and instants: years 1970 to 9999. Kill Bill parses any Joda date, but its MySQL columns hold
  1000-9999 only and its clock starts at the epoch; before 1970 nothing can be billed, after 9999
  neither Java's nor Python's dates print in ISO form;
- integers: within their column (32 or 64 bits, as Kill Bill's `Integer` and `Long` fields).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

from billow.core.errors import InvalidInput
from billow.core.money import AMOUNT_PRECISION, AMOUNT_SCALE

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

MIN_DATE = date(1970, 1, 1)
MAX_DATE = date(9999, 12, 31)

# the largest magnitude a money column holds: 10^6 exclusive for NUMERIC(15, 9)
AMOUNT_LIMIT = Decimal(10) ** (AMOUNT_PRECISION - AMOUNT_SCALE)

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    bad = _UNSTORABLE.search(value)
    if bad is None:
        return None
    if bad.group() == "\x00":
        return "contains a NUL character (U+0000), which cannot be stored"
    return f"contains an unpaired surrogate (U+{ord(bad.group()):04X}), which is not valid Unicode text"


def check_text(field: str, value: str | None, max_length: int | None = None) -> None:
    """Refuse text that cannot be stored, or that is longer than its column."""
    if value is None:
        return
    problem = text_problem(value)
    if problem is not None:
        raise InvalidInput(f"{field}: {problem}")
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(f"{field}: longer than {max_length} characters")


def amount_problem(value: Decimal) -> str | None:
    """Why `value` cannot be an amount (not finite, or too large for the money columns), or None."""
    if not value.is_finite():
        return f"{value} is not a number"
    if abs(value) >= AMOUNT_LIMIT:
        return f"{value} is out of range (amounts are below {AMOUNT_LIMIT:,})"
    return None


def check_amount(field: str, value: Decimal | None) -> None:
    if value is None:
        return
    problem = amount_problem(value)
    if problem is not None:
        raise InvalidInput(f"{field}: {problem}")


def date_problem(value: date) -> str | None:
    """Why `value` (a date, or an instant taken in UTC) is outside the dates Billow keeps, or None."""
    day: date | None = value
    try:
        if isinstance(value, datetime):
            day = (value.astimezone(UTC) if value.tzinfo else value).date()
    except OverflowError:  # an instant near year 1 or 9999 whose UTC day is beyond the calendar
        day = None
    if day is None or not MIN_DATE <= day <= MAX_DATE:
        return f"{value.isoformat()} is out of range (dates are from {MIN_DATE} to {MAX_DATE})"
    return None


def check_date(field: str, value: date | None) -> None:
    if value is None:
        return
    problem = date_problem(value)
    if problem is not None:
        raise InvalidInput(f"{field}: {problem}")


def integer_problem(value: int, bits: int = 64) -> str | None:
    low, high = INT32 if bits == 32 else INT64
    if not low <= value <= high:
        return f"{value} is out of range (a {bits}-bit integer)"
    return None


def check_integer(field: str, value: int | None, bits: int = 64) -> None:
    if value is None:
        return
    problem = integer_problem(value, bits)
    if problem is not None:
        raise InvalidInput(f"{field}: {problem}")
