"""Custom fields: `/1.0/kb/customFields` (CustomFieldResource) and `.../{id}/customFields` of accounts, bundles,
subscriptions, invoices and invoice items, plus `/1.0/kb/accounts/{id}/allCustomFields`
(`JaxRsResourceBase.getCustomFields/createCustomFields/modifyCustomFields/deleteCustomFields`); CustomFieldJson
in and out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.core.objects import Page
from billow.custom_field.model import CustomFieldInput, CustomFieldView
from billow.rest.common import AuditLevel, Ctx, audit_log_json, check_paging, created, no_content, paginated_headers
from billow.rest.deps import CustomFields
from billow.rest.jsonio import KBJSONResponse
from billow.rest.object_resources import OBJECT_RESOURCES, ObjectResource, parse_object_type, path_id, repeated

router = APIRouter()


class CustomFieldJson(BaseModel):
    """Kill Bill's CustomFieldJson as input (objectId and objectType come from the path; auditLogs ignored)."""

    model_config = ConfigDict(extra="ignore")
    customFieldId: str | None = None
    objectId: str | None = None
    objectType: str | None = None
    name: str | None = None
    value: str | None = None

    def to_input(self) -> CustomFieldInput:
        return CustomFieldInput(name=self.name, value=self.value, id=self.customFieldId)


def custom_field_json(v: CustomFieldView) -> dict[str, Any]:
    f = v.field
    return {"customFieldId": f.id, "objectId": f.object_id, "objectType": f.object_type.value, "name": f.name,
            "value": f.value, "auditLogs": [audit_log_json(e) for e in v.audit_logs]}


def _page(page: Page[CustomFieldView], path: str, extra: dict[str, str]) -> Response:
    headers = paginated_headers(path, page.offset, page.limit, page.total, page.max_records, extra)
    return KBJSONResponse([custom_field_json(v) for v in page.items], headers=headers)


# ============================================================================== custom fields of the tenant
@router.get("/1.0/kb/customFields/pagination", tags=["CustomField"], operation_id="getCustomFields")
def get_custom_fields(ctx: Ctx, custom_fields: CustomFields, level: AuditLevel, offset: int = Query(0),
                      limit: int = Query(100)) -> Response:
    check_paging(offset, limit)
    return _page(custom_fields.page(ctx, offset, limit, level), "/1.0/kb/customFields/pagination", {"audit": level})


@router.get("/1.0/kb/customFields/search", tags=["CustomField"], operation_id="searchCustomFieldsByTypeName")
def search_custom_fields_by_type_name(ctx: Ctx, custom_fields: CustomFields, level: AuditLevel,
                                      objectType: str | None = Query(None), fieldName: str | None = Query(None),
                                      fieldValue: str | None = Query(None), offset: int = Query(0),
                                      limit: int = Query(100)) -> Response:
    check_paging(offset, limit)
    page = custom_fields.search_by_type_and_name(ctx, objectType, fieldName, fieldValue, offset, limit, level)
    extra = {"objectType": objectType or "", "fieldName": fieldName or "", "fieldValue": fieldValue or "",
             "audit": level}
    return _page(page, "/1.0/kb/customFields/search", extra)


@router.get("/1.0/kb/customFields/search/{searchKey:path}", tags=["CustomField"], operation_id="searchCustomFields")
def search_custom_fields(ctx: Ctx, custom_fields: CustomFields, level: AuditLevel, searchKey: str,
                         offset: int = Query(0), limit: int = Query(100)) -> Response:
    check_paging(offset, limit)
    page = custom_fields.search(ctx, searchKey, offset, limit, level)
    return _page(page, f"/1.0/kb/customFields/search/{quote(searchKey, safe='')}", {"audit": level})


@router.get("/1.0/kb/customFields/{customFieldId}/auditLogsWithHistory", tags=["CustomField"],
            operation_id="getCustomFieldAuditLogsWithHistory")
async def get_custom_field_audit_logs_with_history(ctx: Ctx, custom_fields: CustomFields,
                                                   customFieldId: str) -> Response:
    customFieldId = path_id(customFieldId)
    logs = await run_in_threadpool(custom_fields.field_audit_logs, ctx, customFieldId)
    return KBJSONResponse([audit_log_json(e) for e in logs])


@router.get("/1.0/kb/accounts/{accountId}/allCustomFields", tags=["Account"], operation_id="getAllCustomFields")
def get_all_custom_fields(ctx: Ctx, custom_fields: CustomFields, level: AuditLevel, accountId: str,
                          objectType: str | None = Query(None)) -> Response:
    accountId = path_id(accountId)
    found = custom_fields.account_fields(ctx, accountId, object_type=parse_object_type(objectType, "objectType"),
                                         audit=level)
    return KBJSONResponse([custom_field_json(v) for v in found])


# ============================================================================== custom fields of one object
def _add_object_routes(r: ObjectResource) -> None:
    path = f"{r.path}/{{{r.id_name}}}/customFields"
    object_type = r.object_type

    def get_object_fields(ctx: Ctx, custom_fields: CustomFields, level: AuditLevel,
                          object_id: str = Path(alias=r.id_name)) -> Response:
        object_id = path_id(object_id)
        return KBJSONResponse([custom_field_json(v) for v in custom_fields.fields_of(ctx, object_type, object_id,
                                                                                    level)])

    def create_object_fields(request: Request, ctx: Ctx, custom_fields: CustomFields,
                             object_id: str = Path(alias=r.id_name),
                             body: list[CustomFieldJson] = Body(...)) -> Response:
        object_id = path_id(object_id)
        custom_fields.add_fields(ctx, object_type, object_id, [b.to_input() for b in body])
        return created(request, f"{r.path}/{object_id}/customFields")

    def modify_object_fields(ctx: Ctx, custom_fields: CustomFields, object_id: str = Path(alias=r.id_name),
                             body: list[CustomFieldJson] = Body(...)) -> Response:
        object_id = path_id(object_id)
        custom_fields.modify_fields(ctx, object_type, object_id, [b.to_input() for b in body])
        return no_content()

    def delete_object_fields(ctx: Ctx, custom_fields: CustomFields, object_id: str = Path(alias=r.id_name),
                             customField: list[str] | None = Query(None)) -> Response:
        object_id = path_id(object_id)
        custom_fields.remove_fields(ctx, object_type, object_id, repeated(customField))
        return no_content()

    routes: tuple[tuple[str, Callable[..., Response], str, int], ...] = (
        ("GET", get_object_fields, f"get{r.name}CustomFields", 200),
        ("POST", create_object_fields, f"create{r.name}CustomFields", 201),
        ("PUT", modify_object_fields, f"modify{r.name}CustomFields", 204),
        ("DELETE", delete_object_fields, f"delete{r.name}CustomFields", 204),
    )
    for method, endpoint, operation_id, status in routes:
        router.add_api_route(path, endpoint, methods=[method], operation_id=operation_id, tags=[r.tag],
                             status_code=status)


for _resource in OBJECT_RESOURCES:
    _add_object_routes(_resource)
