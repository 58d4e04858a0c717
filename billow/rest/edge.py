"""The edge: what every request goes through before any route, and what an unexpected error becomes.

`install(app)` adds two ASGI layers, so that the routes of every router (also those added later)
are covered without a line of their own:

- `InputGuard`, innermost (inside authentication and metrics): the request body is read up to a limit
  (413 with `Connection: close` beyond it, from `Content-Length` or while streaming, before the rest is
  read) and replayed to the app; then bodies, query and path parameters and the headers Billow stores
  (`X-Killbill-CreatedBy`, `-Reason`, `-Comment`) are checked for what no database can store (NUL
  characters, unpaired surrogates: `billow.core.limits`), JSON bodies for numbers Kill Bill's JSON
  reader refuses (NaN, infinities, integers beyond 64 bits) and for dates outside 1970-9999 in fields
  named like Kill Bill's dates (`...Date`, `...Time`). A refusal is a 400 with Kill Bill's error JSON
  naming the field.
- `ErrorBarrier`, around both the guard and the outermost layer: an exception no handler mapped becomes
  a 500 with Kill Bill's error JSON, a generic message and the request id, never the exception's text
  (which may hold SQL, parameters or paths). The details are logged once, on one line with the request
  id. The exception is not re-raised, so the server keeps the connection open for the next request.

Typed parsers (dates, amounts) and the services' validation do the rest; `billow.core.db.checks` is the
net under all of them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import math
import os
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billow.core.context import current_user_token
from billow.core.limits import date_problem, integer_problem, text_problem
from billow.rest.errors import ILLEGAL_ARGUMENT, JSON_MAPPING, error_body
from billow.rest.jsonio import dumps

log = logging.getLogger("billow.rest")

# The largest request body: Kill Bill's largest documents are catalogs (billow.catalog.xml.MAX_CATALOG_BYTES).
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_BODY_ENV = "BILLOW_MAX_BODY_BYTES"

# Headers whose values go into audit rows, with their columns' sizes (audit_log, created_by / updated_by).
STORED_HEADERS = {"x-killbill-createdby": ("X-Killbill-CreatedBy", 50),
                  "x-killbill-reason": ("X-Killbill-Reason", 255),
                  "x-killbill-comment": ("X-Killbill-Comment", 255)}

# Kill Bill names its date and instant fields ...Date or ...Time (effectiveDate, referenceTime, ...).
_DATE_FIELD = re.compile(r"(Date|Time)$")
_ISO_DATE = re.compile(r"^[+-]?\d{4,}-\d{2}-\d{2}")


class Refused(Exception):
    """A request refused at the edge: its status and Kill Bill's error message."""

    def __init__(self, status: int, message: str, class_name: str | None = ILLEGAL_ARGUMENT,
                 close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.class_name = class_name
        self.close = close


def max_body_bytes(configured: int | None = None) -> int:
    """The body limit: the argument, else BILLOW_MAX_BODY_BYTES, else 10 MiB."""
    if configured is not None:
        return configured
    raw = os.environ.get(MAX_BODY_ENV, "").strip()
    return int(raw) if raw else DEFAULT_MAX_BODY_BYTES


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = dumps(body).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


def request_id(scope: Scope) -> str:
    """The request's id as the logs carry it (the user token the context middleware chose)."""
    token = current_user_token.get()
    if token:
        return token
    for name in ("x-request-id", "x-killbill-request-id-req"):
        value = Headers(scope=scope).get(name)
        if value:
            try:
                return str(uuid.UUID(value))
            except ValueError:
                pass
    return str(uuid.uuid4())


class ErrorBarrier:
    """An unexpected exception becomes a generic 500 (Kill Bill's error JSON with the request id), logged once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise  # half a response is out: only closing the connection can tell the client
            token = request_id(scope)
            log.error("unexpected error on %s %s (request %s)", scope.get("method"), scope.get("path"), token,
                      exc_info=exc)
            body = error_body("java.lang.RuntimeException", None,
                              f"Internal error: the server's log has the details under request id {token}")
            await _send_json(send, 500, body, [(b"x-request-id", token.encode())])


class InputGuard:
    """The body limit and the checks every request passes before any route (see the module's doc)."""

    def __init__(self, app: ASGIApp, max_body: int | None = None) -> None:
        self.app = app
        self.max_body = max_body_bytes(max_body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
            self._check_request(scope, body)
        except Refused as refused:
            headers = [(b"connection", b"close")] if refused.close else []
            await _send_json(send, refused.status, error_body(refused.class_name, None, refused.message), headers)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    # -- the body ------------------------------------------------------------------------------
    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                raise Refused(400, "Content-Length: not a number", close=True) from None
            if length > self.max_body:
                raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _too_large(self) -> Refused:
        return Refused(413, f"body: larger than the limit of {self.max_body} bytes", close=True)

    # -- the checks ----------------------------------------------------------------------------
    def _check_request(self, scope: Scope, body: bytes) -> None:
        path = scope.get("path", "")
        if text_problem(path) is not None:
            raise Refused(400, f"{self._path_segment(path)}: {text_problem(path)}")
        query = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True):
            for text, what in ((name, f"query parameter name {name!a}"), (value, f"query parameter {name!a}")):
                problem = text_problem(text)
                if problem is not None:
                    raise Refused(400, f"{what}: {problem}")
        headers = Headers(scope=scope)
        encoded = headers.get("x-killbill-encoding", "").lower() == "base64"
        # only calls that write put these headers in audit rows (a read ignores them, as Kill Bill does)
        stored = STORED_HEADERS if scope.get("method") in ("POST", "PUT", "DELETE", "PATCH") else {}
        for key, (name, limit) in stored.items():
            value = headers.get(key)
            if value is None:
                continue
            if encoded:
                # a value that does not decode is kept as it came, as the context middleware does
                with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                    value = base64.b64decode(value).decode("utf-8")
            problem = text_problem(value)
            if problem is None and len(value) > limit:
                problem = f"longer than {limit} characters"
            if problem is not None:
                raise Refused(400, f"Header {name}: {problem}")
        if body:
            self._check_body(headers.get("content-type"), body)

    @staticmethod
    def _path_segment(path: str) -> str:
        """Where in the path the bad character is: the segment after the last good prefix."""
        segments = path.split("/")
        for index, segment in enumerate(segments):
            if text_problem(segment) is not None:
                return f"path segment after '{'/'.join(segments[:index])}/'"
        return "path"

    def _check_body(self, content_type: str | None, body: bytes) -> None:
        if b"\x00" in body:
            raise Refused(400, "body: contains a NUL byte, which cannot be stored")
        if not _is_json(content_type, body):
            return
        try:
            document = json.loads(body, parse_constant=_refuse_constant)
        except Refused:
            raise
        except ValueError:  # malformed JSON (or not UTF-8): the route answers it as it does
            return
        for where, problem in _json_problems(document, ""):
            raise Refused(400, f"{where or 'body'}: {problem}", class_name=JSON_MAPPING)


def _is_json(content_type: str | None, body: bytes) -> bool:
    if content_type is None:
        return body.lstrip()[:1] in (b"{", b"[")  # FastAPI reads a body without a type as JSON
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _refuse_constant(name: str) -> Any:
    raise Refused(400, f"body: {name} is not a JSON number", class_name=JSON_MAPPING)


def _json_problems(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """(field, problem) for each value of a JSON document Billow cannot take, depth first."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            yield where, problem
        elif _DATE_FIELD.search(where) and _ISO_DATE.match(value):
            problem = _date_string_problem(value)
            if problem is not None:
                yield where, problem
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if integer_problem(value, 64) is not None:  # beyond any field of Kill Bill's JSON (long, or an amount)
            yield where, f"{value} is out of range"
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield where, "out of range"
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = text_problem(key)
            if problem is not None:
                yield f"{where}.{key!a}".lstrip("."), f"a field name {problem}"
                continue
            yield from _json_problems(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_problems(item, f"{where}[{index}]")


def _date_string_problem(value: str) -> str | None:
    """A date or instant written in ISO form outside 1970-9999 (one that does not parse is left to its field)."""
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    parsed: date
    try:
        parsed = datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    except ValueError:
        year = re.match(r"^[+-]?(\d+)", value)
        if year is not None and (len(year.group(1)) > 4 or value.startswith(("+", "-"))):
            return f"{value} is out of range (dates are from 1970-01-01 to 9999-12-31)"
        return None
    return date_problem(parsed)


def install(app: Any, max_body: int | None = None) -> None:
    """Add the guard innermost and an error barrier around it and around everything (call it last in
    `create_app`: middleware added after it would sit outside the outer barrier)."""
    from starlette.middleware import Middleware

    app.user_middleware.append(Middleware(ErrorBarrier))  # innermost: inside metrics and authentication
    app.user_middleware.append(Middleware(InputGuard, max_body=max_body))
    app.user_middleware.insert(0, Middleware(ErrorBarrier))  # outermost: errors of the middleware themselves
