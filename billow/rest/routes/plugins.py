"""Plugin HTTP resources (Kill Bill's `/plugins/{pluginName}/...` servlets) and the PaymentGateway resource:
`POST /plugins/killbill-payment-test/configure` and `GET .../status` (the test plugin's `PaymentTestResource`),
`POST /1.0/kb/paymentGateways/notification/{pluginName}` and `.../hosted/form/{accountId}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.payment.plugin_api import FormDescriptor, PluginProperty
from billow.payment.provider.testing import ConfigureError
from billow.rest.common import Ctx
from billow.rest.deps import Payments
from billow.rest.errors import error_response
from billow.rest.jsonio import KBJSONResponse
from billow.rest.payment_json import properties_json, query_properties

router = APIRouter(tags=["PaymentGateway"])


def plugin_context(payments: Payments, ctx: Ctx, plugin_name: str) -> Any:
    with payments.payments.db.read(ctx) as uow:
        return payments.processor.plugin_context(uow, plugin_name, payments.processor.config(uow))


@router.post("/plugins/{pluginName}/configure", include_in_schema=False)
@router.post("/1.0/kb/plugins/{pluginName}/configure", include_in_schema=False)
async def configure_plugin(request: Request, ctx: Ctx, payments: Payments, pluginName: str) -> Response:
    plugin = payments.processor.plugins.get(pluginName)
    if plugin is None:
        return Response(status_code=404)
    try:
        body = await request.json()
    except ValueError:
        return error_response(400, "Error adding")
    if not isinstance(body, dict):
        return error_response(400, "Error adding")
    pctx = await run_in_threadpool(plugin_context, payments, ctx, pluginName)
    try:
        answer = plugin.configure(body, pctx)
    except ConfigureError as e:
        return error_response(400, str(e))
    if answer is None:
        return Response(status_code=404)
    return KBJSONResponse(dict(answer))


@router.get("/plugins/{pluginName}/status", include_in_schema=False)
@router.get("/1.0/kb/plugins/{pluginName}/status", include_in_schema=False)
def plugin_status(ctx: Ctx, payments: Payments, pluginName: str) -> Response:
    plugin = payments.processor.plugins.get(pluginName)
    answer = plugin.status(plugin_context(payments, ctx, pluginName)) if plugin is not None else None
    return Response(status_code=404) if answer is None else KBJSONResponse(dict(answer))


@router.post("/1.0/kb/paymentGateways/notification/{pluginName}", operation_id="processNotification")
async def process_notification(request: Request, ctx: Ctx, payments: Payments, pluginName: str,
                               controlPluginName: list[str] | None = Query(None),
                               pluginProperty: list[str] | None = Query(None)) -> Response:
    plugin = payments.processor.plugins.get(pluginName)
    if plugin is None:
        return error_response(404, f"Payment plugin {pluginName} is not registered", code=7028)
    raw = (await request.body()).decode("utf-8", "replace")
    # the request's headers reach the plugin too (a gateway signs its webhooks in one: Stripe-Signature)
    props = query_properties(pluginProperty) + tuple(PluginProperty(f"http.header.{k.lower()}", v)
                                                     for k, v in request.headers.items())
    pctx = await run_in_threadpool(plugin_context, payments, ctx, pluginName)
    answer = await run_in_threadpool(plugin.process_notification, raw, props, pctx)
    if answer.kb_payment_id:
        await run_in_threadpool(payments.janitor.refresh_payment, ctx, answer.kb_payment_id)
    return Response(status_code=answer.status, content=answer.entity or b"", headers=dict(answer.headers))


@router.post("/1.0/kb/paymentGateways/hosted/form/{accountId}", operation_id="buildFormDescriptor")
def build_form(ctx: Ctx, payments: Payments, accountId: str, body: dict[str, Any] | None = Body(None),
               paymentMethodId: str | None = None, controlPluginName: list[str] | None = Query(None),
               pluginProperty: list[str] | None = Query(None)) -> Response:
    methods = payments.methods.of_account(ctx, accountId)
    method = next((m for m in methods if m.id == paymentMethodId), methods[0] if methods else None)
    if method is None:
        return error_response(404, f"Account {accountId} does not have a default payment method set", code=7021)
    plugin = payments.processor.plugin(method.plugin_name)
    fields = query_properties([f"{f.get('key')}={f.get('value')}" for f in (body or {}).get("formFields") or []
                               if isinstance(f, dict)])
    form = plugin.build_form_descriptor(accountId, fields, query_properties(pluginProperty),
                                        plugin_context(payments, ctx, method.plugin_name))
    return KBJSONResponse(form_json(form))


def form_json(form: FormDescriptor) -> dict[str, Any]:
    """Kill Bill's HostedPaymentPageFormDescriptorJson."""
    return {"kbAccountId": form.kb_account_id, "formMethod": form.form_method, "formUrl": form.form_url,
            "formFields": properties_json(form.form_fields), "properties": properties_json(form.properties),
            "auditLogs": []}
