"""`/1.0/kb/security`: users, roles and the current subject (Kill Bill's SecurityResource). No tenant needed."""

from __future__ import annotations

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from billow.rest.common import Ctx, created, no_content
from billow.rest.deps import Security
from billow.rest.jsonio import KBJSONResponse

router = APIRouter(prefix="/1.0/kb/security", tags=["Security"])


class UserRolesJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str | None = Field(None, max_length=128)
    password: str | None = Field(None, max_length=1024)
    roles: list[str] | None = None


class RoleDefinitionJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str | None = Field(None, max_length=128)
    permissions: list[str] | None = None


def _principal(request: Request) -> str:
    principal: str = request.state.principal
    return principal


@router.get("/permissions", operation_id="getCurrentUserPermissions")
def get_current_user_permissions(request: Request, security: Security) -> Response:
    return KBJSONResponse(security.permissions(_principal(request)))


@router.get("/subject", operation_id="getCurrentUserSubject")
def get_current_user_subject(request: Request) -> Response:
    # Billow keeps no server session for Basic authentication: `session` is null
    return KBJSONResponse({"principal": _principal(request), "isAuthenticated": True, "isRemembered": False,
                           "session": None})


@router.post("/users", status_code=201, operation_id="addUserRoles")
def add_user_roles(request: Request, ctx: Ctx, security: Security, body: UserRolesJson = Body(...)) -> Response:
    security.add_user(ctx, body.username or "", body.password or "", body.roles or [])
    return created(request, f"/1.0/kb/security/users/{body.username}/roles")


@router.put("/users/{username}/password", status_code=204, operation_id="updateUserPassword")
def update_user_password(ctx: Ctx, security: Security, username: str, body: UserRolesJson = Body(...)) -> Response:
    security.update_password(ctx, username, body.password or "")
    return no_content()


@router.get("/users/{username}/roles", operation_id="getUserRoles", responses={404: {"description": "No such user"}})
def get_user_roles(security: Security, username: str) -> Response:
    return KBJSONResponse({"username": username, "password": None, "roles": security.user_roles(username)})


@router.put("/users/{username}/roles", status_code=204, operation_id="updateUserRoles")
def update_user_roles(ctx: Ctx, security: Security, username: str, body: UserRolesJson = Body(...)) -> Response:
    security.update_roles(ctx, username, body.roles or [])
    return no_content()


@router.delete("/users/{username}", status_code=204, operation_id="invalidateUser")
def invalidate_user(ctx: Ctx, security: Security, username: str) -> Response:
    security.invalidate_user(ctx, username)
    return no_content()


@router.post("/roles", status_code=201, operation_id="addRoleDefinition")
def add_role_definition(request: Request, ctx: Ctx, security: Security,
                        body: RoleDefinitionJson = Body(...)) -> Response:
    security.add_role(ctx, body.role or "", body.permissions or [])
    return created(request, f"/1.0/kb/security/roles/{body.role}")


@router.put("/roles", status_code=204, operation_id="updateRoleDefinition")
def update_role_definition(ctx: Ctx, security: Security, body: RoleDefinitionJson = Body(...)) -> Response:
    security.update_role(ctx, body.role or "", body.permissions or [])
    return no_content()


@router.get("/roles/{role}", operation_id="getRoleDefinition")
def get_role_definition(security: Security, role: str) -> Response:
    return KBJSONResponse({"role": role, "permissions": security.role_definition(role)})
