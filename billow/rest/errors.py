"""Kill Bill's error body and the mapping of our errors onto it.

Body: `{"className","code","message","causeClassName","causeMessage","stackTrace":[]}`
(`jaxrs/json/BillingExceptionJson.java`). Authentication failures are 401
with an empty body and `WWW-Authenticate`, as Kill Bill's servlet filters answer.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from billow.core.errors import BillowError
from billow.rest.jsonio import KBJSONResponse

log = logging.getLogger("billow.rest")

ILLEGAL_ARGUMENT = "java.lang.IllegalArgumentException"
JSON_MAPPING = "com.fasterxml.jackson.databind.JsonMappingException"


def error_body(class_name: str | None, code: int | None, message: str) -> dict[str, Any]:
    return {"className": class_name, "code": code, "message": message, "causeClassName": None,
            "causeMessage": None, "stackTrace": []}


def error_response(status: int, message: str, *, class_name: str | None = ILLEGAL_ARGUMENT,
                   code: int | None = None, headers: dict[str, str] | None = None) -> Response:
    return KBJSONResponse(error_body(class_name, code, message), status_code=status, headers=headers)


def unauthorized(message: str = "") -> Response:
    return Response(status_code=401, headers={"WWW-Authenticate": 'BASIC realm="application"'},
                    content=message or b"", media_type="text/plain" if message else None)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(BillowError)
    async def _billow_error(_: Request, exc: BillowError) -> Response:
        return error_response(exc.status, exc.message, class_name=exc.class_name, code=exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        messages = []
        for e in errors[:5]:
            loc = tuple(e.get("loc", ()))
            if e.get("type") == "json_invalid":
                messages.append(f"body: malformed JSON ({e.get('ctx', {}).get('error', 'invalid')})")
                continue
            where = "query parameter " if loc[:1] == ("query",) else ""
            messages.append(f"{where}{_field_path(loc)}: {e.get('msg')}")
        class_name = JSON_MAPPING if any(tuple(e.get("loc", ()))[:1] == ("body",) for e in errors) \
            else ILLEGAL_ARGUMENT
        return error_response(400, "; ".join(messages) or "invalid request", class_name=class_name)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return Response(status_code=404)  # no route: the container's empty 404
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> Response:
        # a number too large for the database column, straight from the request
        return error_response(400, f"a number in the request is out of range: {exc}")

    # Any other exception is unexpected: billow.rest.edge.ErrorBarrier answers a generic 500 (not a handler
    # here: Starlette re-raises after those, and the server then drops the keep-alive connection).
