"""The served OpenAPI document says what the API really answers (the fuzzing tests hold it to that).

FastAPI describes every route's success as a JSON string and every failure as its own 422 validation
body; Billow answers neither. `install(app)` rewrites the generated document once, for every route
(also those added later):

- failures are Kill Bill's error JSON (`BillingException`, `jaxrs/json/BillingExceptionJson.java`)
  with the statuses Kill Bill's servlet filters and exception mappers use: 400, 403, 409, 413, 500; a
  401 (authentication) and a 404 may have no body, as Kill Bill's container answers them; an operation
  taking `callCompletion` may answer 408 (Kill Bill's `callTimeoutSec` elapsed);
- a 201 is Kill Bill's: an empty body and a `Location` header;
- a JSON success without a declared model is described as any JSON value rather than a string.

A route that answers something else (XML, HTML, a 204 besides its 200) says so with FastAPI's `responses=`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Kill Bill's BillingExceptionJson",
    "properties": {
        "className": {"type": ["string", "null"]},
        "code": {"type": ["integer", "null"]},
        "message": {"type": ["string", "null"]},
        "causeClassName": {"type": ["string", "null"]},
        "causeMessage": {"type": ["string", "null"]},
        "stackTrace": {"type": "array"},
    },
    "required": ["className", "code", "message", "stackTrace"],
}
_ERROR_REF = {"$ref": "#/components/schemas/BillingException"}

_ERRORS: dict[str, str] = {
    "400": "Bad input: the message names the field and the problem",
    "403": "Not allowed",
    "409": "Conflict with the current state",
    "413": "The body is larger than the server's limit",
    "500": "Unexpected error: the message gives the request id under which the server's log has the details",
}
_EMPTY: dict[str, str] = {
    "401": "Authentication needed (Basic credentials, and the tenant's X-Killbill-ApiKey and -ApiSecret)",
    "404": "Not found: Kill Bill's error JSON, or no body (as Kill Bill's container answers an unknown path)",
}
_JSON_STRING = {"type": "string"}


def _json_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def describe(doc: dict[str, Any]) -> dict[str, Any]:
    """Rewrite FastAPI's generated document in place (see the module's doc); returns it."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["BillingException"] = ERROR_SCHEMA
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                _describe_operation(operation)
    return doc


def _describe_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    responses.pop("422", None)
    for status, response in list(responses.items()):
        content = response.get("content", {})
        json_body = content.get("application/json")
        undescribed = json_body is not None and json_body.get("schema") == _JSON_STRING
        if status in ("202", "204") and undescribed:
            response.pop("content", None)  # accepted, or done: no body, as Kill Bill answers them
        elif status == "201" and (undescribed or not content):
            # Kill Bill's creates: no body, the new resource's URL in Location
            response.pop("content", None)
            response["description"] = "Created: the new resource is at the Location URL"
            response.setdefault("headers", {})["Location"] = {"schema": {"type": "string"}}
        elif undescribed:
            json_body["schema"] = {}
    for status, description in _ERRORS.items():
        responses.setdefault(status, _json_error(description))
    for status, description in _EMPTY.items():
        responses.setdefault(status, {"description": description})
    names = {p.get("name") for p in operation.get("parameters", ())}
    if "callCompletion" in names:
        responses.setdefault("408", {"description": "callCompletion: the work the call caused took longer "
                                                    "than callTimeoutSec"})


def raw_body(media_type: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body itself (a document, a text value): the document then
    says what to send, and the fuzzing tests send it."""
    return {"requestBody": {"required": True,
                            "content": {media_type: {"schema": schema or {"type": "string"}}}}}


def install(app: FastAPI) -> None:
    """Serve the described document at /openapi.json (generated once, on first request)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
