"""Kill Bill's payment JSON: PaymentJson, PaymentTransactionJson, PaymentAttemptJson, PaymentMethodJson,
InvoicePaymentJson, PluginPropertyJson (`jaxrs/.../json/PaymentJson.java` and siblings), in and out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response

from billow.core.db.audit_read import AuditLogEntry
from billow.core.errors import InvalidInput
from billow.core.money import round_money
from billow.payment.errors import PaymentOutcomeError
from billow.payment.model import Payment, PaymentAttempt, PaymentMethod, PaymentTransaction
from billow.payment.plugin_api import PluginProperty
from billow.payment.states import aggregates
from billow.rest.common import absolute_url, audit_log_json
from billow.rest.errors import error_response
from billow.rest.jsonio import format_instant

Audits = dict[int, list[AuditLogEntry]]


class PluginPropertyJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str | None = None
    value: Any = None
    isUpdatable: bool | None = None


class PaymentTransactionJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    transactionId: str | None = None
    transactionExternalKey: str | None = None
    paymentId: str | None = None
    paymentExternalKey: str | None = None
    transactionType: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    status: str | None = None
    properties: list[PluginPropertyJson] | None = None
    isAdjusted: bool | None = None
    adjustments: list[dict[str, Any]] | None = None


class PaymentMethodJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    paymentMethodId: str | None = None
    externalKey: str | None = None
    accountId: str | None = None
    isDefault: bool | None = None
    pluginName: str | None = None
    pluginInfo: dict[str, Any] | None = None


def method_plugin_info(body: PaymentMethodJson) -> tuple[PluginProperty, ...]:
    """The properties of a PaymentMethodJson's `pluginInfo` (entries that are not objects are ignored)."""
    info = body.pluginInfo or {}
    return body_properties([PluginPropertyJson.model_validate(p) for p in info.get("properties") or []
                            if isinstance(p, dict)])


def query_properties(values: Sequence[str] | None) -> tuple[PluginProperty, ...]:
    """`pluginProperty=key=value` query parameters (Kill Bill's `extractPluginProperties`)."""
    out = []
    for raw in values or ():
        key, sep, value = raw.partition("=")
        if not sep or not key:
            raise InvalidInput(f"pluginProperty: {raw} is not key=value")
        out.append(PluginProperty(key, value))
    return tuple(out)


def body_properties(props: Sequence[PluginPropertyJson] | None) -> tuple[PluginProperty, ...]:
    return tuple(PluginProperty(p.key, p.value, bool(p.isUpdatable)) for p in props or () if p.key)


def properties_json(props: Sequence[PluginProperty]) -> list[dict[str, Any]]:
    return [{"key": p.key, "value": p.value, "isUpdatable": p.is_updatable} for p in props]


def _logs(audits: Audits | None, record_id: int) -> list[dict[str, object]]:
    return [audit_log_json(e) for e in (audits or {}).get(record_id, [])]


def transaction_json(payment: Payment, t: PaymentTransaction, audits: Audits | None = None,
                     plugin_properties: Mapping[str, Sequence[PluginProperty]] | None = None) -> dict[str, Any]:
    """`plugin_properties` (withPluginInfo): what the gateway says of each transaction, by transaction id."""
    cur = t.currency
    return {
        "transactionId": t.id, "transactionExternalKey": t.external_key, "paymentId": payment.id,
        "paymentExternalKey": payment.external_key, "transactionType": t.transaction_type.value,
        "amount": None if t.amount is None else round_money(t.amount, cur), "currency": cur,
        "effectiveDate": format_instant(t.effective_date),
        "processedAmount": round_money(t.processed_amount, t.processed_currency or cur),
        "processedCurrency": t.processed_currency, "status": t.status.value,
        "gatewayErrorCode": t.gateway_error_code, "gatewayErrorMsg": t.gateway_error_msg,
        "firstPaymentReferenceId": t.first_payment_reference_id,
        "secondPaymentReferenceId": t.second_payment_reference_id,
        "properties": properties_json(plugin_properties.get(t.id, ())) if plugin_properties is not None else None,
        "auditLogs": _logs(audits, t.record_id),
    }


def attempt_json(a: PaymentAttempt) -> dict[str, Any]:
    return {"accountId": a.account_id, "paymentMethodId": a.payment_method_id,
            "paymentExternalKey": a.payment_external_key, "transactionId": a.transaction_id,
            "transactionExternalKey": a.transaction_external_key, "transactionType": a.transaction_type.value,
            "effectiveDate": format_instant(a.created_date), "stateName": a.state_name,
            "amount": a.amount, "currency": a.currency, "pluginName": a.plugin_name, "pluginProperties": [],
            "auditLogs": []}


def payment_json(p: Payment, *, attempts: Sequence[PaymentAttempt] | None = None, audits: Audits | None = None,
                 trx_audits: Audits | None = None, invoice_id: str | None = None,
                 plugin_properties: Mapping[str, Sequence[PluginProperty]] | None = None) -> dict[str, Any]:
    agg = aggregates(p.transactions)
    cur = p.transactions[0].currency if p.transactions else "USD"
    out: dict[str, Any] = {}
    if invoice_id is not None:
        out["targetInvoiceId"] = invoice_id
    out.update({
        "accountId": p.account_id, "paymentId": p.id, "paymentNumber": str(p.payment_number),
        "paymentExternalKey": p.external_key,
        **{k: round_money(Decimal(v), cur) for k, v in agg.items() if k != "isAuthVoided"},
        "currency": cur, "paymentMethodId": p.payment_method_id,
        "transactions": [transaction_json(p, t, trx_audits, plugin_properties) for t in p.transactions],
        "paymentAttempts": None if attempts is None else [attempt_json(a) for a in attempts],
        "auditLogs": _logs(audits, p.record_id),
    })
    return out


def method_json(m: PaymentMethod, default_id: str | None, audits: Audits | None = None,
                plugin_info: bool = False) -> dict[str, Any]:
    return {"paymentMethodId": m.id, "externalKey": m.external_key, "accountId": m.account_id,
            "isDefault": m.id == default_id, "pluginName": m.plugin_name,
            "pluginInfo": {"externalPaymentMethodId": m.external_key, "isDefaultPaymentMethod": m.id == default_id,
                           "properties": properties_json(m.plugin_info)} if plugin_info else None,
            "auditLogs": _logs(audits, m.record_id)}


def outcome_response(request: Request, exc: PaymentOutcomeError, location: str) -> Response:
    """A recorded payment that did not succeed: Kill Bill's status and error, and the Location of the payment."""
    return error_response(exc.status, exc.message, class_name=exc.class_name, code=exc.code,
                          headers={"Location": absolute_url(request, location)})
