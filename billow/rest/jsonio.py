"""Kill Bill's JSON on the wire: nulls emitted, dates `YYYY-MM-DD`, instants `...T...000Z`,
money as JSON numbers (never floats in between), camelCase names.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from starlette.responses import Response

# Decimals travel through json.dumps as marked strings and are unquoted afterwards; the marker
# is random per process so that no client-supplied string can forge it.
_MARK = secrets.token_hex(8)
_DEC = "\u0000" + _MARK + ":"
_DEC_RE = re.compile(r'"\\u0000' + _MARK + r':([-+0-9.Ee]+)"')


def format_instant(dt: datetime | None) -> str | None:
    """An instant as Kill Bill prints it: ISO-8601 in UTC with milliseconds and `Z`."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    # not strftime("%Y"), which does not pad years below 1000 on every platform
    return (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}."
            f"{dt.microsecond // 1000:03d}Z")


def format_date(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return _DEC + format(o, "f")
    if isinstance(o, datetime):
        return format_instant(o)
    if isinstance(o, date):
        return o.isoformat()
    raise TypeError(f"cannot serialise {type(o).__name__}")


def dumps(body: Any) -> str:
    text = json.dumps(body, default=_default, separators=(",", ":"), ensure_ascii=False)
    if _MARK in text:
        text = _DEC_RE.sub(r"\1", text)
    return text


class KBJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
