"""`/1.0/kb/paymentMethods` and `/1.0/kb/accounts/{id}/paymentMethods` (Kill Bill's PaymentMethodResource,
AccountResource payment-method operations); PaymentMethodJson in and out."""

from __future__ import annotations

from fastapi import APIRouter, Body, Query, Request
from starlette.responses import Response

from billow.payment.model import PaymentMethod
from billow.rest.common import AuditLevel, Ctx, audit_log_json, check_paging, created, no_content, paginated_headers
from billow.rest.deps import Accounts, Payments
from billow.rest.jsonio import KBJSONResponse
from billow.rest.payment_json import (
    PaymentMethodJson,
    method_json,
    method_plugin_info,
    query_properties,
)

router = APIRouter(tags=["PaymentMethod"])


def _render(ctx: Ctx, accounts: Accounts, payments: Payments, methods: list[PaymentMethod], audit: str,
            plugin_info: bool) -> list[dict[str, object]]:
    defaults: dict[str, str | None] = {}
    audits = payments.payments.audit_logs(ctx, "payment_methods", [m.record_id for m in methods], audit) \
        if audit != "NONE" else None
    out = []
    for m in methods:
        if m.account_id not in defaults:
            defaults[m.account_id] = accounts.get(ctx, m.account_id).payment_method_id
        out.append(method_json(m, defaults[m.account_id], audits, plugin_info))
    return out


@router.post("/1.0/kb/accounts/{accountId}/paymentMethods", status_code=201, operation_id="createPaymentMethod",
             tags=["Account"])
def create_method(request: Request, ctx: Ctx, payments: Payments, accountId: str,
                  body: PaymentMethodJson = Body(...), isDefault: bool = False, payAllUnpaidInvoices: bool = False,
                  controlPluginName: list[str] | None = Query(None),
                  pluginProperty: list[str] | None = Query(None)) -> Response:
    props = method_plugin_info(body)
    method = payments.methods.add(ctx, accountId, body.pluginName, external_key=body.externalKey,
                                  is_default=isDefault or bool(body.isDefault), plugin_info=props,
                                  properties=query_properties(pluginProperty))
    if payAllUnpaidInvoices and (isDefault or body.isDefault):
        payments.invoices.pay_all(ctx, accountId)
    return created(request, f"/1.0/kb/paymentMethods/{method.id}")


@router.get("/1.0/kb/accounts/{accountId}/paymentMethods", operation_id="getPaymentMethodsForAccount",
            tags=["Account"])
def methods_of_account(ctx: Ctx, accounts: Accounts, payments: Payments, audit: AuditLevel, accountId: str,
                       withPluginInfo: bool = False, includedDeleted: bool = False,
                       pluginProperty: list[str] | None = Query(None)) -> Response:
    methods = payments.methods.of_account(ctx, accountId, include_deleted=includedDeleted)
    return KBJSONResponse(_render(ctx, accounts, payments, methods, audit, withPluginInfo))


@router.put("/1.0/kb/accounts/{accountId}/paymentMethods/refresh", status_code=204,
            operation_id="refreshPaymentMethods", tags=["Account"])
def refresh_methods(ctx: Ctx, payments: Payments, accountId: str, pluginName: str | None = None,
                    pluginProperty: list[str] | None = Query(None)) -> Response:
    payments.methods.of_account(ctx, accountId)  # 404 for an unknown account; plugins keep no other methods here
    return no_content()


@router.put("/1.0/kb/accounts/{accountId}/paymentMethods/{paymentMethodId}/setDefault", status_code=204,
            operation_id="setDefaultPaymentMethod", tags=["Account"])
def set_default(ctx: Ctx, payments: Payments, accountId: str, paymentMethodId: str,
                payAllUnpaidInvoices: bool = False, pluginProperty: list[str] | None = Query(None)) -> Response:
    payments.methods.set_default(ctx, accountId, paymentMethodId)
    if payAllUnpaidInvoices:
        payments.invoices.pay_all(ctx, accountId)
    return no_content()


@router.get("/1.0/kb/paymentMethods/pagination", operation_id="getPaymentMethods")
def methods_page(ctx: Ctx, accounts: Accounts, payments: Payments, audit: AuditLevel, offset: int = 0,
                 limit: int = 100, pluginName: str | None = None, withPluginInfo: bool = False,
                 pluginProperty: list[str] | None = Query(None)) -> Response:
    check_paging(offset, limit)
    found, total = payments.methods.page(ctx, offset, limit, pluginName)
    return KBJSONResponse(_render(ctx, accounts, payments, found, audit, withPluginInfo),
                          headers=paginated_headers("/1.0/kb/paymentMethods/pagination", offset, limit, total, total))


@router.get("/1.0/kb/paymentMethods/search/{searchKey}", operation_id="searchPaymentMethods")
def search_methods(ctx: Ctx, accounts: Accounts, payments: Payments, audit: AuditLevel, searchKey: str,
                   offset: int = 0, limit: int = 100, pluginName: str | None = None, withPluginInfo: bool = False,
                   pluginProperty: list[str] | None = Query(None)) -> Response:
    check_paging(offset, limit)
    found, total = payments.methods.page(ctx, 0, 1 << 31, pluginName)
    hits = [m for m in found if searchKey in (m.id, m.external_key, m.account_id, m.plugin_name)]
    return KBJSONResponse(_render(ctx, accounts, payments, hits[offset:offset + limit], audit, withPluginInfo),
                          headers=paginated_headers(f"/1.0/kb/paymentMethods/search/{searchKey}", offset, limit,
                                                    len(hits), total))


@router.get("/1.0/kb/paymentMethods", operation_id="getPaymentMethodByKey")
def method_by_key(ctx: Ctx, accounts: Accounts, payments: Payments, audit: AuditLevel,
                  externalKey: str = Query(...), includedDeleted: bool = False, withPluginInfo: bool = False,
                  pluginProperty: list[str] | None = Query(None)) -> Response:
    method = payments.methods.by_key(ctx, externalKey, include_deleted=includedDeleted)
    return KBJSONResponse(_render(ctx, accounts, payments, [method], audit, withPluginInfo)[0])


@router.get("/1.0/kb/paymentMethods/{paymentMethodId}", operation_id="getPaymentMethod")
def get_method(ctx: Ctx, accounts: Accounts, payments: Payments, audit: AuditLevel, paymentMethodId: str,
               includedDeleted: bool = False, withPluginInfo: bool = False,
               pluginProperty: list[str] | None = Query(None)) -> Response:
    method = payments.methods.get(ctx, paymentMethodId, include_deleted=includedDeleted)
    return KBJSONResponse(_render(ctx, accounts, payments, [method], audit, withPluginInfo)[0])


@router.get("/1.0/kb/paymentMethods/{paymentMethodId}/auditLogsWithHistory",
            operation_id="getPaymentMethodAuditLogsWithHistory")
def method_audit(ctx: Ctx, payments: Payments, paymentMethodId: str) -> Response:
    method = payments.methods.get(ctx, paymentMethodId, include_deleted=True)
    logs = payments.payments.audit_logs(ctx, "payment_methods", [method.record_id], "FULL")[method.record_id]
    return KBJSONResponse([audit_log_json(e) for e in logs])


@router.delete("/1.0/kb/paymentMethods/{paymentMethodId}", status_code=204, operation_id="deletePaymentMethod")
def delete_method(ctx: Ctx, payments: Payments, paymentMethodId: str, deleteDefaultPmWithAutoPayOff: bool = False,
                  forceDefaultPmDeletion: bool = False, pluginProperty: list[str] | None = Query(None)) -> Response:
    payments.methods.delete(ctx, paymentMethodId, with_auto_pay_off=deleteDefaultPmWithAutoPayOff,
                            force=forceDefaultPmDeletion, properties=query_properties(pluginProperty))
    return no_content()
