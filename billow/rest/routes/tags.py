"""Tags: `/1.0/kb/tagDefinitions` (TagDefinitionResource), `/1.0/kb/tags` (TagResource) and `.../{id}/tags` of
accounts, bundles, subscriptions, invoices and invoice items, plus `/1.0/kb/accounts/{id}/allTags`
(`JaxRsResourceBase.getTags/createTags/deleteTags`); TagJson and TagDefinitionJson in and out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.core.errors import InvalidInput
from billow.core.objects import ObjectType, Page
from billow.rest.common import (
    TAKES_PLUGIN_PROPERTIES,
    AuditLevel,
    Ctx,
    audit_log_json,
    check_paging,
    created,
    no_content,
    paginated_headers,
)
from billow.rest.deps import Tags
from billow.rest.jsonio import KBJSONResponse
from billow.rest.object_resources import (
    OBJECT_RESOURCES,
    ObjectResource,
    TagLookup,
    parse_object_type,
    path_id,
    repeated,
)
from billow.tag.model import TagDefinitionView, TagView

router = APIRouter()


class TagDefinitionJson(BaseModel):
    """Kill Bill's TagDefinitionJson as input (id, isControlTag and auditLogs are ignored)."""

    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    description: str | None = None
    applicableObjectTypes: list[str] | None = None


def tag_json(v: TagView) -> dict[str, Any]:
    t = v.tag
    return {"tagId": t.id, "objectType": t.object_type.value, "objectId": t.object_id,
            "tagDefinitionId": t.tag_definition_id, "tagDefinitionName": v.definition_name,
            "auditLogs": [audit_log_json(e) for e in v.audit_logs]}


def tag_definition_json(v: TagDefinitionView) -> dict[str, Any]:
    d = v.definition
    return {"id": d.id, "isControlTag": d.is_control_tag, "name": d.name, "description": d.description,
            "applicableObjectTypes": [t.value for t in d.applicable_object_types],
            "auditLogs": [audit_log_json(e) for e in v.audit_logs]}


def _object_types(values: list[str] | None) -> list[ObjectType]:
    out = []
    for value in values or ():
        try:
            out.append(ObjectType(value))
        except ValueError:
            raise InvalidInput(f"applicableObjectTypes: '{value}' is not an object type "
                               f"({', '.join(t.value for t in ObjectType)})") from None
    return out


def _page(page: Page[TagView], path: str, level: str) -> Response:
    headers = paginated_headers(path, page.offset, page.limit, page.total, page.max_records, {"audit": level})
    return KBJSONResponse([tag_json(v) for v in page.items], headers=headers)


# ============================================================================== tag definitions
@router.get("/1.0/kb/tagDefinitions", tags=["TagDefinition"], operation_id="getTagDefinitions")
def get_tag_definitions(ctx: Ctx, tags: Tags, level: AuditLevel) -> Response:
    return KBJSONResponse([tag_definition_json(v) for v in tags.definitions(ctx, level)])


@router.post("/1.0/kb/tagDefinitions", status_code=201, tags=["TagDefinition"], operation_id="createTagDefinition")
def create_tag_definition(request: Request, ctx: Ctx, tags: Tags,
                          body: TagDefinitionJson | None = Body(None)) -> Response:
    if body is None:
        raise InvalidInput("TagDefinitionJson body should be specified")
    definition = tags.create_definition(ctx, body.name, body.description, _object_types(body.applicableObjectTypes))
    return created(request, f"/1.0/kb/tagDefinitions/{definition.id}")


@router.get("/1.0/kb/tagDefinitions/{tagDefinitionId}", tags=["TagDefinition"], operation_id="getTagDefinition")
def get_tag_definition(ctx: Ctx, tags: Tags, level: AuditLevel, tagDefinitionId: str) -> Response:
    tagDefinitionId = path_id(tagDefinitionId)
    return KBJSONResponse(tag_definition_json(tags.definition(ctx, tagDefinitionId, level)))


@router.delete("/1.0/kb/tagDefinitions/{tagDefinitionId}", status_code=204, tags=["TagDefinition"],
               operation_id="deleteTagDefinition")
def delete_tag_definition(ctx: Ctx, tags: Tags, tagDefinitionId: str) -> Response:
    tagDefinitionId = path_id(tagDefinitionId)
    tags.delete_definition(ctx, tagDefinitionId)
    return no_content()


@router.get("/1.0/kb/tagDefinitions/{tagDefinitionId}/auditLogsWithHistory", tags=["TagDefinition"],
            operation_id="getTagDefinitionAuditLogsWithHistory")
async def get_tag_definition_audit_logs_with_history(ctx: Ctx, tags: Tags, tagDefinitionId: str) -> Response:
    tagDefinitionId = path_id(tagDefinitionId)
    logs = await run_in_threadpool(tags.definition_audit_logs, ctx, tagDefinitionId)
    return KBJSONResponse([audit_log_json(e) for e in logs])


# ============================================================================== tags of the tenant
@router.get("/1.0/kb/tags/pagination", tags=["Tag"], operation_id="getTags")
def get_tags(ctx: Ctx, tags: Tags, level: AuditLevel, offset: int = Query(0), limit: int = Query(100)) -> Response:
    check_paging(offset, limit)
    return _page(tags.page(ctx, offset, limit, level), "/1.0/kb/tags/pagination", level)


@router.get("/1.0/kb/tags/search/{searchKey:path}", tags=["Tag"], operation_id="searchTags")
def search_tags(ctx: Ctx, tags: Tags, level: AuditLevel, searchKey: str, offset: int = Query(0),
                limit: int = Query(100)) -> Response:
    check_paging(offset, limit)
    page = tags.search(ctx, searchKey, offset, limit, level)
    return _page(page, f"/1.0/kb/tags/search/{quote(searchKey, safe='')}", level)


@router.get("/1.0/kb/tags/{tagId}/auditLogsWithHistory", tags=["Tag"], operation_id="getTagAuditLogsWithHistory")
async def get_tag_audit_logs_with_history(ctx: Ctx, tags: Tags, tagId: str) -> Response:
    tagId = path_id(tagId)
    logs = await run_in_threadpool(tags.tag_audit_logs, ctx, tagId)
    return KBJSONResponse([audit_log_json(e) for e in logs])


@router.get("/1.0/kb/accounts/{accountId}/allTags", tags=["Account"], operation_id="getAllTags")
def get_all_tags(ctx: Ctx, tags: Tags, level: AuditLevel, accountId: str, objectType: str | None = Query(None),
                 includedDeleted: bool = Query(False)) -> Response:
    accountId = path_id(accountId)
    found = tags.account_tags(ctx, accountId, object_type=parse_object_type(objectType, "objectType"),
                              included_deleted=includedDeleted, audit=level)
    return KBJSONResponse([tag_json(v) for v in found])


# ============================================================================== tags of one object
def _add_object_routes(r: ObjectResource) -> None:
    path = f"{r.path}/{{{r.id_name}}}/tags"
    object_type = r.object_type

    def get_object_tags(ctx: Ctx, tags: Tags, level: AuditLevel, object_id: str = Path(alias=r.id_name),
                        includedDeleted: bool = Query(False)) -> Response:
        object_id = path_id(object_id)
        must_exist = r.tag_lookup is TagLookup.ALWAYS or (r.tag_lookup is TagLookup.WITH_AUDIT and level != "NONE")
        found = tags.tags_of(ctx, object_type, object_id, included_deleted=includedDeleted, audit=level,
                             must_exist=must_exist)
        return KBJSONResponse([tag_json(v) for v in found])

    def get_object_tags_of_account(ctx: Ctx, tags: Tags, level: AuditLevel, object_id: str = Path(alias=r.id_name),
                                   accountId: str | None = Query(None), includedDeleted: bool = Query(False)
                                   ) -> Response:
        object_id = path_id(object_id)
        if not accountId:
            raise InvalidInput("accountId: query parameter needs to be set")
        found = tags.tags_of(ctx, object_type, object_id, included_deleted=includedDeleted, audit=level,
                             account_id=accountId)
        return KBJSONResponse([tag_json(v) for v in found])

    def create_object_tags(request: Request, ctx: Ctx, tags: Tags, object_id: str = Path(alias=r.id_name),
                           body: list[str] = Body(...)) -> Response:
        object_id = path_id(object_id)
        tags.add_tags(ctx, object_type, object_id, body)
        return created(request, f"{r.path}/{object_id}/tags")

    def delete_object_tags(ctx: Ctx, tags: Tags, object_id: str = Path(alias=r.id_name),
                           tagDef: list[str] | None = Query(None)) -> Response:
        object_id = path_id(object_id)
        tags.remove_tags(ctx, object_type, object_id, repeated(tagDef))
        return no_content()

    routes: tuple[tuple[str, Callable[..., Response], str, int], ...] = (
        ("GET", get_object_tags_of_account if r.tag_lookup is TagLookup.ACCOUNT_PARAM else get_object_tags,
         f"get{r.name}Tags", 200),
        ("POST", create_object_tags, f"create{r.name}Tags", 201),
        ("DELETE", delete_object_tags, f"delete{r.name}Tags", 204),
    )
    for method, endpoint, operation_id, status in routes:
        # Kill Bill's InvoicePaymentResource reads the payment through the payment API, which takes plugin properties
        takes = TAKES_PLUGIN_PROPERTIES if method == "GET" and r.name == "InvoicePayment" else None
        router.add_api_route(path, endpoint, methods=[method], operation_id=operation_id, tags=[r.tag],
                             status_code=status, dependencies=takes)


for _resource in OBJECT_RESOURCES:
    _add_object_routes(_resource)
