"""`/1.0/kb/tenants`: tenants and their key/values (Kill Bill's TenantResource)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from billow.core.errors import InvalidInput
from billow.email.model import PLUGIN_NAME as EMAIL_PLUGIN
from billow.email.render import check_upload as check_email_upload
from billow.email.settings import parse_settings
from billow.payment.plugin_api import PluginConfig
from billow.push import model as push_model
from billow.push.model import PUSH_NOTIFICATION_CB
from billow.rest.common import Ctx, created, no_content
from billow.rest.deps import Catalogs, Push, Tenants
from billow.rest.jsonio import KBJSONResponse
from billow.rest.openapi import raw_body
from billow.tenant.model import Tenant, TenantKeyValue

router = APIRouter(prefix="/1.0/kb/tenants", tags=["Tenant"])

# Kill Bill's TenantKV.TenantKey names
PER_TENANT_CONFIG = "PER_TENANT_CONFIG"
PLUGIN_CONFIG_ = "PLUGIN_CONFIG_"
PLUGIN_PAYMENT_STATE_MACHINE_ = "PLUGIN_PAYMENT_STATE_MACHINE_"


# Kill Bill's TenantKey names with one value each (a user key with one of these prefixes is one too)
_SINGLE_VALUE_PREFIXES = ("PUSH_NOTIFICATION_CB", "OVERDUE_CONFIG", PER_TENANT_CONFIG, "INVOICE_TRANSLATION_",
                          "CATALOG_TRANSLATION_", "INVOICE_TEMPLATE", "INVOICE_MP_TEMPLATE", PLUGIN_CONFIG_,
                          PLUGIN_PAYMENT_STATE_MACHINE_)


def _single_value(key: str) -> bool:
    return key.startswith(_SINGLE_VALUE_PREFIXES)


class TenantJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tenantId: str | None = None
    externalKey: str | None = None
    apiKey: str | None = None
    apiSecret: str | None = None


def tenant_json(t: Tenant) -> dict[str, Any]:
    return {"tenantId": t.id, "externalKey": t.external_key, "apiKey": t.api_key, "apiSecret": None,
            "auditLogs": []}


def kv_json(kv: TenantKeyValue) -> dict[str, Any]:
    return {"key": kv.key, "values": kv.values, "auditLogs": []}


@router.post("", status_code=201, operation_id="createTenant")
def create_tenant(request: Request, ctx: Ctx, tenants: Tenants, catalogs: Catalogs, body: TenantJson = Body(...),
                  useGlobalDefault: bool = Query(False)) -> Response:
    tenant = tenants.create(ctx, body.apiKey, body.apiSecret, body.externalKey)
    if useGlobalDefault:
        catalogs.upload_default(ctx.for_tenant(tenant.record_id, tenant.id))
    return created(request, f"/1.0/kb/tenants/{tenant.id}")


@router.get("", operation_id="getTenantByApiKey")
def get_tenant_by_api_key(request: Request, tenants: Tenants, apiKey: str | None = Query(None)) -> Response:
    if not apiKey:
        raise InvalidInput("apiKey: query parameter needs to be set")
    return KBJSONResponse(tenant_json(tenants.get_by_api_key(apiKey)))


@router.get("/uploadPerTenantConfig", operation_id="getPerTenantConfiguration")
def get_per_tenant_config(request: Request, ctx: Ctx, tenants: Tenants) -> Response:
    return KBJSONResponse(kv_json(tenants.get_values(ctx, PER_TENANT_CONFIG)))


@router.post("/uploadPerTenantConfig", status_code=201, operation_id="uploadPerTenantConfiguration",
             openapi_extra=raw_body("application/json", {"type": "object"}))
async def upload_per_tenant_config(request: Request, ctx: Ctx, tenants: Tenants) -> Response:
    from starlette.concurrency import run_in_threadpool

    raw = (await request.body()).decode("utf-8", errors="replace")
    await run_in_threadpool(tenants.upload_config, ctx, raw)
    return created(request, "/1.0/kb/tenants/uploadPerTenantConfig")


@router.delete("/uploadPerTenantConfig", status_code=204, operation_id="deletePerTenantConfiguration")
def delete_per_tenant_config(request: Request, ctx: Ctx, tenants: Tenants) -> Response:
    tenants.delete_key(ctx, PER_TENANT_CONFIG)
    return no_content()


@router.get("/uploadPerTenantConfig/{keyPrefix}/search", operation_id="getAllPluginConfiguration")
def search_config(request: Request, ctx: Ctx, tenants: Tenants, keyPrefix: str) -> Response:
    kvs = tenants.get_values_by_prefix(ctx, keyPrefix)
    return KBJSONResponse([kv_json(kv) for kv in kvs])


async def _upload(request: Request, ctx: Ctx, tenants: Tenants, key: str, location: str, *,
                  replace: bool = True) -> Response:
    """Kill Bill's `insertTenantKey`: its own keys (plugin configurations...) keep one value, a user key keeps every
    value added (`DefaultTenantUserApi.isSingleValueKey`)."""
    from starlette.concurrency import run_in_threadpool

    value = (await request.body()).decode("utf-8", errors="replace")
    if not value.strip():
        raise InvalidInput("body: needs to be set")
    if key == PLUGIN_CONFIG_ + EMAIL_PLUGIN:  # the email settings are checked before they are kept
        parse_settings(PluginConfig.parse(EMAIL_PLUGIN, value).values)
    check_email_upload(key, value)
    await run_in_threadpool(tenants.add_value, ctx, key, value, replace=replace)
    return created(request, location)


@router.get("/uploadPluginConfig/{pluginName}", operation_id="getPluginConfiguration")
def get_plugin_config(request: Request, ctx: Ctx, tenants: Tenants, pluginName: str) -> Response:
    return KBJSONResponse(kv_json(tenants.get_values(ctx, PLUGIN_CONFIG_ + pluginName)))


@router.post("/uploadPluginConfig/{pluginName}", status_code=201, operation_id="uploadPluginConfiguration",
             openapi_extra=raw_body("text/plain"))
async def upload_plugin_config(request: Request, ctx: Ctx, tenants: Tenants, pluginName: str) -> Response:
    return await _upload(request, ctx, tenants, PLUGIN_CONFIG_ + pluginName,
                         f"/1.0/kb/tenants/uploadPluginConfig/{pluginName}")


@router.delete("/uploadPluginConfig/{pluginName}", status_code=204, operation_id="deletePluginConfiguration")
def delete_plugin_config(request: Request, ctx: Ctx, tenants: Tenants, pluginName: str) -> Response:
    tenants.delete_key(ctx, PLUGIN_CONFIG_ + pluginName)
    return no_content()


@router.get("/uploadPluginPaymentStateMachineConfig/{pluginName}",
            operation_id="getPluginPaymentStateMachineConfig")
def get_psm_config(request: Request, ctx: Ctx, tenants: Tenants, pluginName: str) -> Response:
    kv = tenants.get_values(ctx, PLUGIN_PAYMENT_STATE_MACHINE_ + pluginName)
    return KBJSONResponse(kv_json(kv))


@router.post("/uploadPluginPaymentStateMachineConfig/{pluginName}", status_code=201,
             operation_id="uploadPluginPaymentStateMachineConfig", openapi_extra=raw_body("text/plain"))
async def upload_psm_config(request: Request, ctx: Ctx, tenants: Tenants, pluginName: str) -> Response:
    return await _upload(request, ctx, tenants, PLUGIN_PAYMENT_STATE_MACHINE_ + pluginName,
                         f"/1.0/kb/tenants/uploadPluginPaymentStateMachineConfig/{pluginName}")


@router.delete("/uploadPluginPaymentStateMachineConfig/{pluginName}", status_code=204,
               operation_id="deletePluginPaymentStateMachineConfig")
def delete_psm_config(request: Request, ctx: Ctx, tenants: Tenants, pluginName: str) -> Response:
    tenants.delete_key(ctx, PLUGIN_PAYMENT_STATE_MACHINE_ + pluginName)
    return no_content()


@router.get("/userKeyValue/{keyName}", operation_id="getUserKeyValue")
def get_user_kv(request: Request, ctx: Ctx, tenants: Tenants, keyName: str) -> Response:
    return KBJSONResponse(kv_json(tenants.get_values(ctx, keyName)))


@router.post("/userKeyValue/{keyName}", status_code=201, operation_id="insertUserKeyValue",
             openapi_extra=raw_body("text/plain"))
async def insert_user_kv(request: Request, ctx: Ctx, tenants: Tenants, keyName: str) -> Response:
    return await _upload(request, ctx, tenants, keyName, f"/1.0/kb/tenants/userKeyValue/{keyName}",
                         replace=_single_value(keyName))


@router.delete("/userKeyValue/{keyName}", status_code=204, operation_id="deleteUserKeyValue")
def delete_user_kv(request: Request, ctx: Ctx, tenants: Tenants, keyName: str) -> Response:
    tenants.delete_key(ctx, keyName)
    return no_content()


@router.post("/registerNotificationCallback", status_code=201, operation_id="registerPushNotificationCallback")
def register_callback(request: Request, ctx: Ctx, push: Push, cb: str | None = Query(None)) -> Response:
    try:
        push.register_callback(ctx, cb)
    except push_model.InvalidCallbackUrl as exc:
        raise InvalidInput(f"cb: {exc}") from None
    return created(request, "/1.0/kb/tenants/registerNotificationCallback")


@router.get("/registerNotificationCallback", operation_id="getPushNotificationCallbacks")
def get_callbacks(request: Request, ctx: Ctx, push: Push) -> Response:
    return KBJSONResponse(kv_json(TenantKeyValue(PUSH_NOTIFICATION_CB, push.callbacks(ctx))))


@router.delete("/registerNotificationCallback", status_code=204, operation_id="deletePushNotificationCallbacks")
def delete_callbacks(request: Request, ctx: Ctx, push: Push) -> Response:
    push.delete_callbacks(ctx)
    return no_content()


@router.get("/{tenantId}", operation_id="getTenant")
def get_tenant(request: Request, ctx: Ctx, tenants: Tenants, tenantId: str) -> Response:
    # Kill Bill shows any tenant to any authenticated tenant; we show a tenant only itself.
    if tenantId != ctx.tenant_id:
        from billow.core.errors import NotFound
        from billow.tenant.service import TENANT_DOES_NOT_EXIST_FOR_ID, TENANT_EXCEPTION

        raise NotFound(f"Tenant does not exist for id {tenantId}", code=TENANT_DOES_NOT_EXIST_FOR_ID,
                       class_name=TENANT_EXCEPTION)
    tenant = tenants.get(tenantId)
    return KBJSONResponse(tenant_json(tenant))
