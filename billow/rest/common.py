"""Small helpers every route uses: Location headers, pagination headers, query parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Query, Request
from starlette.responses import Response

from billow.core.context import CallContext
from billow.core.db.audit_read import AuditLogEntry
from billow.core.errors import InvalidInput
from billow.core.limits import check_date
from billow.rest.context import call_context
from billow.rest.jsonio import format_instant

Ctx = Annotated[CallContext, Depends(call_context)]


def absolute_url(request: Request, path: str) -> str:
    """An absolute URL on this server (Kill Bill's `org.killbill.jaxrs.location.full.url=true`). `path` holds
    decoded values (a key name as the caller wrote it): they are percent-encoded, as a header must be ASCII."""
    base = str(request.base_url).rstrip("/")
    return base + quote(path, safe="/?=&,;:@!$'()*+")


def created(request: Request, path: str) -> Response:
    """201 with an absolute Location and an empty body, as every Kill Bill create answers."""
    return Response(status_code=201, headers={"Location": absolute_url(request, path)},
                    media_type="application/json")


def no_content() -> Response:
    return Response(status_code=204)


def paginated_headers(path: str, offset: int, limit: int, total: int, max_records: int,
                      extra: dict[str, str] | None = None) -> dict[str, str]:
    """`X-Killbill-Pagination-*` headers (JaxRsResourceBase.buildStreamingPaginationResponse)."""
    headers = {
        "X-Killbill-Pagination-CurrentOffset": str(offset),
        "X-Killbill-Pagination-TotalNbRecords": str(total),
        "X-Killbill-Pagination-MaxNbRecords": str(max_records),
    }
    next_offset = offset + limit
    if next_offset < total:
        headers["X-Killbill-Pagination-NextOffset"] = str(next_offset)
        query = {"offset": next_offset, "limit": limit, **(extra or {})}
        headers["X-Killbill-Pagination-NextPageUri"] = f"{path}?{urlencode(query)}"
    return headers


AUDIT_LEVELS = ("NONE", "MINIMAL", "FULL")


async def audit_level(audit: str = Query("NONE")) -> str:
    level = audit.upper()
    if level not in AUDIT_LEVELS:
        raise InvalidInput(f"audit: '{audit}' is not one of NONE, MINIMAL, FULL")
    return level


AuditLevel = Annotated[str, Depends(audit_level)]
# a route whose JSON carries no audit logs yet still takes (and checks) Kill Bill's `audit`
TAKES_AUDIT = [Depends(audit_level)]


async def plugin_properties(pluginProperty: list[str] | None = Query(None)) -> list[str]:
    """Kill Bill's `pluginProperty` query parameters (`key=value`, repeated), which it hands to its payment,
    invoice and entitlement plugins: accepted as Kill Bill accepts them; Billow runs no plugin that reads them."""
    return pluginProperty or []


PluginProperties = Annotated[list[str], Depends(plugin_properties)]
# for a route that reads none of them: `@router.post(..., dependencies=TAKES_PLUGIN_PROPERTIES)`
TAKES_PLUGIN_PROPERTIES = [Depends(plugin_properties)]


MAX_INT64 = 2**63 - 1


def check_paging(offset: int, limit: int) -> None:
    if not 0 <= offset <= MAX_INT64:
        raise InvalidInput("offset: must be between 0 and 2^63-1")
    if not 0 <= limit <= MAX_INT64:
        raise InvalidInput("limit: must be between 0 and 2^63-1")


def parse_date(value: str | None, field: str) -> date | None:
    """A `YYYY-MM-DD` query parameter; Kill Bill rejects datetimes in these."""
    if value is None or value == "":
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field}: '{value}' is not a date (expected YYYY-MM-DD)") from None
    check_date(field, day)
    return day


def parse_date_or_datetime(value: str | None, field: str) -> datetime | date | None:
    """A parameter that takes a date or an ISO datetime (Kill Bill accepts both on some calls)."""
    if value is None or value == "":
        return None
    if "T" not in value:
        return parse_date(value, field)
    text = value.replace("Z", "+00:00") if value.endswith("Z") else value
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field}: '{value}' is not an ISO-8601 date or datetime") from None
    check_date(field, dt)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def parse_instant(value: str | None, field: str) -> datetime | None:
    """An instant parameter: an ISO date-time (UTC when it has no offset) or a date, meaning its midnight UTC
    (Joda's `DateTime` parse of a bare date, as Kill Bill's tenant-level resources read it)."""
    parsed = parse_date_or_datetime(value, field)
    if parsed is None or isinstance(parsed, datetime):
        return parsed
    return datetime.combine(parsed, time.min, tzinfo=UTC)


def audit_log_json(entry: AuditLogEntry) -> dict[str, object]:
    return {
        "changeType": entry.change_type,
        "changeDate": format_instant(entry.change_date),
        "objectType": entry.object_type,
        "objectId": entry.object_id,
        "changedBy": entry.changed_by,
        "reasonCode": entry.reason_code,
        "comments": entry.comments,
        "userToken": entry.user_token,
        "history": entry.history,
    }


def parse_enum(enum: Any, value: str | None, field: str) -> Any:
    """A query or body enum given by name, case-insensitive (Jersey does the same); None when absent."""
    if value is None or value == "":
        return None
    try:
        return enum(value.upper())
    except ValueError:
        raise InvalidInput(f"{field}: '{value}' is not one of {', '.join(e.value for e in enum)}") from None
