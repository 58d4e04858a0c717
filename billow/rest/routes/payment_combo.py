"""Kill Bill's combo calls, which find or create the account and its payment method before a payment or a hosted
payment page (`ComboPaymentResource`: `POST /1.0/kb/payments/combo`, `POST /1.0/kb/paymentGateways/hosted/form`),
and the cancellation of a payment's scheduled retries (`DELETE .../cancelScheduledPaymentTransaction`).

Included before the payments router: `/payments/combo` and `/payments/cancelScheduledPaymentTransaction` would
otherwise be taken for a payment id."""

from __future__ import annotations

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from billow.account.model import Account
from billow.account.service import AccountService
from billow.core.context import CallContext
from billow.core.errors import BillowError, InvalidInput
from billow.payment.errors import no_default_method, no_such_method, no_such_plugin
from billow.payment.processor import TransactionCall
from billow.rest.common import Ctx, no_content
from billow.rest.deps import Accounts, Payments
from billow.rest.errors import error_response
from billow.rest.jsonio import KBJSONResponse
from billow.rest.payment_json import (
    PaymentMethodJson,
    PaymentTransactionJson,
    PluginPropertyJson,
    body_properties,
    method_plugin_info,
    query_properties,
)
from billow.rest.permissions import require
from billow.rest.routes.accounts import AccountJson
from billow.rest.routes.payments import INITIAL_TYPES, run_transaction, transaction_kind
from billow.rest.routes.plugins import form_json, plugin_context

router = APIRouter(tags=["Payment"])


class ComboPaymentTransactionJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    account: AccountJson | None = None
    paymentMethod: PaymentMethodJson | None = None
    transaction: PaymentTransactionJson | None = None
    paymentMethodPluginProperties: list[PluginPropertyJson] | None = None
    transactionPluginProperties: list[PluginPropertyJson] | None = None


class HostedPaymentPageFieldsJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    customFields: list[PluginPropertyJson] | None = None


class ComboHostedPaymentPageJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    account: AccountJson | None = None
    paymentMethod: PaymentMethodJson | None = None
    hostedPaymentPageFields: HostedPaymentPageFieldsJson | None = None
    paymentMethodPluginProperties: list[PluginPropertyJson] | None = None


def _existing(accounts: AccountService, ctx: CallContext, body: AccountJson | None) -> Account | None:
    """`getOrCreateAccount`'s look-up: by id when given (404 if unknown), else by external key when it exists."""
    if body is None:
        raise InvalidInput("account: needs to be set")
    if body.accountId:
        return accounts.get(ctx, body.accountId)
    if body.externalKey:
        try:
            return accounts.get_by_key(ctx, body.externalKey)
        except BillowError as e:
            if e.status != 404:
                raise
    return None


def _check(payments: Payments, ctx: CallContext, account: Account | None, body: PaymentMethodJson | None) -> None:
    """What would refuse the call once the account exists, checked before anything is created: a refused combo
    call changes nothing."""
    if body is None or not body.pluginName:
        if account is None or account.payment_method_id is None:
            raise no_default_method(account.id if account is not None else "(a new account)")
        return
    if payments.processor.plugins.get(body.pluginName) is None:
        raise no_such_plugin(body.pluginName)
    if body.paymentMethodId and (account is None or not any(
            m.id == body.paymentMethodId for m in payments.methods.of_account(ctx, account.id))):
        raise no_such_method(body.paymentMethodId)


def _account(request: Request, accounts: AccountService, ctx: CallContext, found: Account | None,
             body: AccountJson | None) -> Account:
    """`getOrCreateAccount`: the account found, else a new one."""
    if found is not None:
        return found
    assert body is not None
    require(request, "account:create")
    return accounts.create(ctx, body.to_data())


def _method(request: Request, payments: Payments, ctx: CallContext, account: Account, body: PaymentMethodJson | None,
            properties: list[PluginPropertyJson] | None) -> str | None:
    """`getOrCreatePaymentMethod`: none without a plugin name (the account's default is used); the account's method
    with the given id (else 404) or external key; else a new method, the default when it is the account's first."""
    if body is None or not body.pluginName:
        return None
    existing = payments.methods.of_account(ctx, account.id)
    if body.paymentMethodId:
        if any(m.id == body.paymentMethodId for m in existing):
            return body.paymentMethodId
        raise no_such_method(body.paymentMethodId)
    if body.externalKey:
        found = next((m for m in existing if m.external_key == body.externalKey), None)
        if found is not None:
            return found.id
    require(request, "payment_method:create")
    plugin_info = method_plugin_info(body)
    method = payments.methods.add(ctx, account.id, body.pluginName, external_key=body.externalKey,
                                  is_default=not existing, plugin_info=plugin_info,
                                  properties=body_properties(properties))
    return method.id


@router.post("/1.0/kb/payments/combo", status_code=201, operation_id="createComboPayment")
def create_combo_payment(request: Request, ctx: Ctx, accounts: Accounts, payments: Payments,
                         body: ComboPaymentTransactionJson = Body(...),
                         controlPluginName: list[str] | None = Query(None)) -> Response:
    if body.transaction is None:
        raise InvalidInput("transaction: needs to be set")
    # Kill Bill's combo payment: AUTHORIZE, PURCHASE or CREDIT only
    kind = transaction_kind(body.transaction.transactionType, INITIAL_TYPES)
    if body.transaction.amount is None or body.transaction.amount <= 0:
        raise InvalidInput("transaction.amount: needs to be a positive amount")
    found = _existing(accounts, ctx, body.account)
    _check(payments, ctx, found, body.paymentMethod)
    account = _account(request, accounts, ctx, found, body.account)
    method_id = _method(request, payments, ctx, account, body.paymentMethod, body.paymentMethodPluginProperties)
    trx = body.transaction
    call = TransactionCall(account.id, kind, amount=trx.amount, currency=trx.currency or account.currency,
                           payment_method_id=method_id, payment_external_key=trx.paymentExternalKey,
                           transaction_external_key=trx.transactionExternalKey,
                           properties=body_properties(body.transactionPluginProperties) + body_properties(
                               trx.properties),
                           control_plugins=tuple(controlPluginName or ()))
    return run_transaction(request, payments, ctx, call)


@router.post("/1.0/kb/paymentGateways/hosted/form", operation_id="buildComboFormDescriptor",
             tags=["PaymentGateway"])
def build_combo_form(request: Request, ctx: Ctx, accounts: Accounts, payments: Payments,
                     body: ComboHostedPaymentPageJson = Body(...), controlPluginName: list[str] | None = Query(None),
                     pluginProperty: list[str] | None = Query(None)) -> Response:
    found = _existing(accounts, ctx, body.account)
    _check(payments, ctx, found, body.paymentMethod)
    account = _account(request, accounts, ctx, found, body.account)
    method_id = _method(request, payments, ctx, account, body.paymentMethod, body.paymentMethodPluginProperties)
    methods = payments.methods.of_account(ctx, account.id)
    wanted = method_id or account.payment_method_id
    method = next((m for m in methods if m.id == wanted), None)
    if method is None:
        return error_response(404, f"Account {account.id} does not have a default payment method set", code=7021)
    plugin = payments.processor.plugin(method.plugin_name)
    fields = body_properties(body.hostedPaymentPageFields.customFields if body.hostedPaymentPageFields else None)
    form = plugin.build_form_descriptor(account.id, fields, query_properties(pluginProperty),
                                        plugin_context(payments, ctx, method.plugin_name))
    return KBJSONResponse(form_json(form))


@router.delete("/1.0/kb/payments/cancelScheduledPaymentTransaction", status_code=204,
               operation_id="cancelScheduledPaymentTransactionByExternalKey")
def cancel_scheduled_by_key(ctx: Ctx, payments: Payments, transactionExternalKey: str | None = Query(None)
                            ) -> Response:
    if not transactionExternalKey:
        raise InvalidInput("transactionExternalKey: needs to be set")
    payments.invoices.cancel_scheduled(ctx, transaction_external_key=transactionExternalKey)
    return no_content()


@router.delete("/1.0/kb/payments/{paymentTransactionId}/cancelScheduledPaymentTransaction", status_code=204,
               operation_id="cancelScheduledPaymentTransactionById")
def cancel_scheduled(ctx: Ctx, payments: Payments, paymentTransactionId: str) -> Response:
    payments.invoices.cancel_scheduled(ctx, transaction_id=paymentTransactionId)
    return no_content()
