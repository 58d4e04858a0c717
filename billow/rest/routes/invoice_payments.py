"""`/1.0/kb/invoicePayments`, `/1.0/kb/invoices/{id}/payments` and `/1.0/kb/accounts/{id}/invoicePayments`
(Kill Bill's InvoicePaymentResource, InvoiceResource.createInstantPayment, AccountResource.payAllInvoices);
InvoicePaymentJson out, InvoicePaymentTransactionJson in."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from billow.core.errors import InvalidInput
from billow.payment.errors import PaymentOutcomeError
from billow.payment.invoices import PayRequest
from billow.payment.model import Payment, TransactionType
from billow.payment.processor import TransactionCall
from billow.payment.provider.external import EXTERNAL_PAYMENT
from billow.payment.service import chargeback_reversal
from billow.rest.common import AuditLevel, Ctx, audit_log_json, created, no_content
from billow.rest.deps import Invoices, Payments
from billow.rest.jsonio import KBJSONResponse
from billow.rest.payment_json import PaymentTransactionJson, outcome_response, payment_json, query_properties
from billow.rest.routes.invoices import invoice_json
from billow.rest.routes.payments import _complete

router = APIRouter(tags=["InvoicePayment"])


class InvoicePaymentJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    targetInvoiceId: str | None = None
    accountId: str | None = None
    paymentExternalKey: str | None = None
    purchasedAmount: Decimal | None = None
    currency: str | None = None
    paymentMethodId: str | None = None


def _invoice_json(payments: Payments, ctx: Ctx, payment: Payment, audit: str, with_attempts: bool
                  ) -> dict[str, object]:
    rows = payments.invoices.of_payment(ctx, payment.id)
    attempts = payments.payments.attempts(ctx, payment) if with_attempts else None
    audits = payments.payments.audit_logs(ctx, "payments", [payment.record_id], audit) if audit != "NONE" else None
    return payment_json(payment, attempts=attempts, audits=audits, invoice_id=rows[0].invoice_id if rows else None)


def _external_method(payments: Payments, ctx: Ctx, account_id: str) -> str:
    """`createOrGetExternalPaymentMethod`."""
    for m in payments.methods.of_account(ctx, account_id):
        if m.plugin_name == EXTERNAL_PAYMENT:
            return m.id
    return payments.methods.add(ctx, account_id, EXTERNAL_PAYMENT).id


@router.get("/1.0/kb/invoicePayments/{paymentId}", operation_id="getInvoicePayment")
def get_invoice_payment(ctx: Ctx, payments: Payments, audit: AuditLevel, paymentId: str,
                        withPluginInfo: bool = False, withAttempts: bool = False,
                        pluginProperty: list[str] | None = Query(None)) -> Response:
    return KBJSONResponse(_invoice_json(payments, ctx, payments.payments.get(ctx, paymentId), audit, withAttempts))


@router.get("/1.0/kb/invoicePayments/{invoicePaymentId}/auditLogsWithHistory",
            operation_id="getInvoicePaymentAuditLogsWithHistory")
def invoice_payment_audit(ctx: Ctx, payments: Payments, invoicePaymentId: str) -> Response:
    payment = payments.payments.get(ctx, invoicePaymentId)
    logs = payments.payments.audit_logs(ctx, "payments", [payment.record_id], "FULL")[payment.record_id]
    return KBJSONResponse([audit_log_json(e) for e in logs])


@router.put("/1.0/kb/invoicePayments/{paymentId}", status_code=204, operation_id="completeInvoicePaymentTransaction")
def complete_invoice_payment(request: Request, ctx: Ctx, payments: Payments, paymentId: str,
                             body: PaymentTransactionJson = Body(...),
                             controlPluginName: list[str] | None = Query(None),
                             pluginProperty: list[str] | None = Query(None)) -> Response:
    return _complete(request, ctx, payments, paymentId, body, pluginProperty)


@router.post("/1.0/kb/invoicePayments/{paymentId}/refunds", status_code=201, operation_id="createRefundWithAdjustments")
def refund_with_adjustments(request: Request, ctx: Ctx, payments: Payments, paymentId: str,
                            body: PaymentTransactionJson = Body(...), externalPayment: bool = False,
                            paymentMethodId: str | None = None,
                            pluginProperty: list[str] | None = Query(None)) -> Response:
    adjustments: dict[str, Decimal | None] | None = None
    if body.isAdjusted:
        adjustments = {}
        for adj in body.adjustments or []:
            item_id = adj.get("invoiceItemId")
            if not isinstance(item_id, str):
                raise InvalidInput("adjustments.invoiceItemId: needs to be set")
            amount = adj.get("amount")
            adjustments[item_id] = None if amount is None else Decimal(str(amount))
        if not adjustments:
            raise InvalidInput("adjustments: needs at least one item when isAdjusted")
    try:
        payments.invoices.refund(ctx, paymentId, body.amount, adjustments=adjustments,
                                 transaction_external_key=body.transactionExternalKey,
                                 properties=query_properties(pluginProperty))
    except PaymentOutcomeError as e:
        return outcome_response(request, e, f"/1.0/kb/invoicePayments/{e.payment_id}")
    return created(request, f"/1.0/kb/invoicePayments/{paymentId}")


def run_transaction(request: Request, ctx: Ctx, payments: Payments, call: TransactionCall, payment_id: str) -> Response:
    try:
        payments.invoices.with_control(ctx, call)
    except PaymentOutcomeError as e:
        return outcome_response(request, e, f"/1.0/kb/invoicePayments/{e.payment_id}")
    return created(request, f"/1.0/kb/invoicePayments/{payment_id}")


@router.post("/1.0/kb/invoicePayments/{paymentId}/chargebacks", status_code=201, operation_id="createChargeback")
def invoice_chargeback(request: Request, ctx: Ctx, payments: Payments, paymentId: str,
                       body: PaymentTransactionJson = Body(...),
                       pluginProperty: list[str] | None = Query(None)) -> Response:
    payment = payments.payments.get(ctx, paymentId)
    call = TransactionCall(payment.account_id, TransactionType.CHARGEBACK, amount=body.amount, currency=body.currency,
                           payment_id=payment.id, transaction_external_key=body.transactionExternalKey)
    return run_transaction(request, ctx, payments, call, payment.id)


@router.post("/1.0/kb/invoicePayments/{paymentId}/chargebackReversals", status_code=201,
             operation_id="createChargebackReversal")
def invoice_chargeback_reversal(request: Request, ctx: Ctx, payments: Payments, paymentId: str,
                                body: PaymentTransactionJson = Body(...),
                                pluginProperty: list[str] | None = Query(None)) -> Response:
    payment = payments.payments.get(ctx, paymentId)
    if not body.transactionExternalKey and not body.transactionId:
        raise InvalidInput("transactionExternalKey: needs to be set")
    return run_transaction(request, ctx, payments, chargeback_reversal(payment.account_id, payment.id,
                                                             transaction_external_key=body.transactionExternalKey,
                                                             transaction_id=body.transactionId), payment.id)


@router.get("/1.0/kb/invoices/{invoiceId}/payments", operation_id="getPaymentsForInvoice", tags=["Invoice"])
def payments_of_invoice(ctx: Ctx, payments: Payments, audit: AuditLevel, invoiceId: str,
                        withPluginInfo: bool = False, withAttempts: bool = False) -> Response:
    ids = dict.fromkeys(r.payment_id for r in payments.invoices.of_invoice(ctx, invoiceId) if r.payment_id)
    return KBJSONResponse([_invoice_json(payments, ctx, payments.payments.get(ctx, pid), audit, withAttempts)
                           for pid in ids])


@router.post("/1.0/kb/invoices/{invoiceId}/payments", status_code=201, operation_id="createInstantPayment",
             tags=["Invoice"], responses={204: {"description": "Nothing to pay for"}})
def pay_invoice(request: Request, ctx: Ctx, payments: Payments, invoiceId: str,
                body: InvoicePaymentJson = Body(...), externalPayment: bool = False,
                controlPluginName: list[str] | None = Query(None),
                pluginProperty: list[str] | None = Query(None)) -> Response:
    if not body.accountId:
        raise InvalidInput("accountId: needs to be set")
    method = _external_method(payments, ctx, body.accountId) if externalPayment else body.paymentMethodId
    try:
        payment = payments.invoices.pay(ctx, PayRequest(invoiceId, account_id=body.accountId,
                                                        amount=body.purchasedAmount, payment_method_id=method,
                                                        payment_external_key=body.paymentExternalKey,
                                                        properties=query_properties(pluginProperty)))
    except PaymentOutcomeError as e:
        return outcome_response(request, e, f"/1.0/kb/invoicePayments/{e.payment_id}")
    if payment is None:
        return no_content()
    return created(request, f"/1.0/kb/invoicePayments/{payment.id}")


@router.get("/1.0/kb/accounts/{accountId}/invoicePayments", operation_id="getInvoicePayments", tags=["Account"])
def invoice_payments_of_account(ctx: Ctx, payments: Payments, audit: AuditLevel, accountId: str,
                                withPluginInfo: bool = False, withAttempts: bool = False,
                                pluginProperty: list[str] | None = Query(None)) -> Response:
    ids = dict.fromkeys(r.payment_id for r in payments.invoices.of_account(ctx, accountId) if r.payment_id)
    return KBJSONResponse([_invoice_json(payments, ctx, payments.payments.get(ctx, pid), audit, withAttempts)
                           for pid in ids])


@router.post("/1.0/kb/accounts/{accountId}/invoicePayments", status_code=201, operation_id="payAllInvoices",
             tags=["Account"], responses={204: {"description": "Nothing to pay"}})
def pay_all_invoices(ctx: Ctx, payments: Payments, invoices: Invoices, accountId: str,
                     paymentMethodId: str | None = None, externalPayment: bool = False,
                     paymentAmount: Decimal | None = None, targetDate: str | None = None,
                     pluginProperty: list[str] | None = Query(None)) -> Response:
    """201 with the invoices paid (kbswagger 0.24: an array of Invoice), 204 when there was nothing to pay."""
    method = _external_method(payments, ctx, accountId) if externalPayment else paymentMethodId
    paid = payments.invoices.pay_all(ctx, accountId, payment_method_id=method, amount=paymentAmount)
    if not paid:
        return no_content()
    ids = list(dict.fromkeys(r.invoice_id for p in paid for r in payments.invoices.of_payment(ctx, p.id)))
    return KBJSONResponse([invoice_json(invoices.get(ctx, i)) for i in ids], status_code=201)
