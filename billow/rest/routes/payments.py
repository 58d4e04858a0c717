"""`/1.0/kb/payments`, `/1.0/kb/paymentTransactions`, `/1.0/kb/accounts/{id}/payments` and the admin fix of a
transaction (Kill Bill's PaymentResource, TransactionResource, AccountResource.processPayment, AdminResource).

A transaction that was recorded but did not succeed answers Kill Bill's status (402, 502, 503, 504, 400) with
its error JSON and the payment's Location."""

from __future__ import annotations

from fastapi import APIRouter, Body, Query, Request
from starlette.responses import Response

from billow.core.errors import InvalidInput
from billow.payment.errors import PaymentOutcomeError
from billow.payment.model import Payment, TransactionStatus, TransactionType
from billow.payment.processor import TransactionCall
from billow.payment.service import chargeback_reversal
from billow.rest.common import AuditLevel, Ctx, audit_log_json, check_paging, created, no_content, paginated_headers
from billow.rest.deps import Accounts, Payments
from billow.rest.jsonio import KBJSONResponse
from billow.rest.payment_json import (
    PaymentTransactionJson,
    body_properties,
    outcome_response,
    payment_json,
    query_properties,
)

router = APIRouter(tags=["Payment"])

INITIAL_TYPES = {"AUTHORIZE": TransactionType.AUTHORIZE, "PURCHASE": TransactionType.PURCHASE,
            "CREDIT": TransactionType.CREDIT}


def transaction_kind(value: str | None, allowed: dict[str, TransactionType]) -> TransactionType:
    if value not in allowed:
        raise InvalidInput(f"transactionType: should be one of {', '.join(allowed)}")
    return allowed[value]


def run_transaction(request: Request, payments: Payments, ctx: Ctx, call: TransactionCall, *,
                    location: str = "payments", status: int = 201) -> Response:
    try:
        payment, _ = payments.invoices.with_control(ctx, call)
    except PaymentOutcomeError as e:
        return outcome_response(request, e, f"/1.0/kb/{location}/{e.payment_id}")
    return created(request, f"/1.0/kb/{location}/{payment.id}") if status == 201 else no_content()


def _render(payments: Payments, ctx: Ctx, payment: Payment, audit: str, with_attempts: bool,
            with_plugin_info: bool = False) -> dict[str, object]:
    attempts = payments.payments.attempts(ctx, payment) if with_attempts else None
    plugin = payments.payments.plugin_properties(ctx, payment) if with_plugin_info else None
    audits = trx = None
    if audit != "NONE":
        audits = payments.payments.audit_logs(ctx, "payments", [payment.record_id], audit)
        trx = payments.payments.audit_logs(ctx, "payment_transactions",
                                           [t.record_id for t in payment.transactions], audit)
    return payment_json(payment, attempts=attempts, audits=audits, trx_audits=trx, plugin_properties=plugin)


# ----------------------------------------------------------------------------------------- accounts
@router.post("/1.0/kb/accounts/{accountId}/payments", status_code=201, operation_id="processPayment",
             tags=["Account"])
def process_payment(request: Request, ctx: Ctx, payments: Payments, accountId: str,
                    body: PaymentTransactionJson = Body(...), paymentMethodId: str | None = None,
                    controlPluginName: list[str] | None = Query(None),
                    pluginProperty: list[str] | None = Query(None)) -> Response:
    call = TransactionCall(accountId, transaction_kind(body.transactionType, INITIAL_TYPES), amount=body.amount,
                           currency=body.currency, payment_method_id=paymentMethodId,
                           payment_external_key=body.paymentExternalKey,
                           transaction_external_key=body.transactionExternalKey,
                           properties=query_properties(pluginProperty) + body_properties(body.properties),
                           control_plugins=tuple(controlPluginName or ()))
    return run_transaction(request, payments, ctx, call)


@router.post("/1.0/kb/accounts/payments", status_code=201, operation_id="processPaymentByExternalKey",
             tags=["Account"])
def process_payment_by_key(request: Request, ctx: Ctx, payments: Payments, accounts: Accounts,
                           externalKey: str = Query(...), body: PaymentTransactionJson = Body(...),
                           paymentMethodId: str | None = None, controlPluginName: list[str] | None = Query(None),
                           pluginProperty: list[str] | None = Query(None)) -> Response:
    account = accounts.get_by_key(ctx, externalKey)
    return process_payment(request, ctx, payments, account.id, body, paymentMethodId, controlPluginName,
                           pluginProperty)


@router.get("/1.0/kb/accounts/{accountId}/payments", operation_id="getPaymentsForAccount", tags=["Account"])
def payments_of_account(ctx: Ctx, payments: Payments, audit: AuditLevel, accountId: str,
                        withAttempts: bool = False, withPluginInfo: bool = False,
                        pluginProperty: list[str] | None = Query(None)) -> Response:
    return KBJSONResponse([_render(payments, ctx, p, audit, withAttempts, withPluginInfo)
                           for p in payments.payments.of_account(ctx, accountId)])


# ----------------------------------------------------------------------------------------- payments
@router.get("/1.0/kb/payments/pagination", operation_id="getPayments")
def payments_page(ctx: Ctx, payments: Payments, audit: AuditLevel, offset: int = 0, limit: int = 100,
                  pluginName: str | None = None, withPluginInfo: bool = False, withAttempts: bool = False,
                  pluginProperty: list[str] | None = Query(None)) -> Response:
    check_paging(offset, limit)
    found, total = payments.payments.page(ctx, offset, limit, pluginName)
    return KBJSONResponse([_render(payments, ctx, p, audit, withAttempts, withPluginInfo) for p in found],
                          headers=paginated_headers("/1.0/kb/payments/pagination", offset, limit, total, total))


@router.get("/1.0/kb/payments/search/{searchKey}", operation_id="searchPayments")
def search_payments(ctx: Ctx, payments: Payments, audit: AuditLevel, searchKey: str, offset: int = 0,
                    limit: int = 100, withPluginInfo: bool = False, withAttempts: bool = False,
                    pluginName: str | None = None, pluginProperty: list[str] | None = Query(None)) -> Response:
    check_paging(offset, limit)
    page, hits, total = payments.payments.search(ctx, searchKey, offset, limit, pluginName)
    return KBJSONResponse([_render(payments, ctx, p, audit, withAttempts, withPluginInfo) for p in page],
                          headers=paginated_headers(f"/1.0/kb/payments/search/{searchKey}", offset, limit,
                                                    hits, total))


@router.get("/1.0/kb/payments", operation_id="getPaymentByExternalKey")
def payment_by_key(ctx: Ctx, payments: Payments, audit: AuditLevel, externalKey: str = Query(...),
                   withPluginInfo: bool = False, withAttempts: bool = False,
                   pluginProperty: list[str] | None = Query(None)) -> Response:
    return KBJSONResponse(_render(payments, ctx, payments.payments.by_key(ctx, externalKey), audit, withAttempts,
                                  withPluginInfo))


@router.get("/1.0/kb/payments/{paymentId}", operation_id="getPayment")
def get_payment(ctx: Ctx, payments: Payments, audit: AuditLevel, paymentId: str, withPluginInfo: bool = False,
                withAttempts: bool = False, pluginProperty: list[str] | None = Query(None)) -> Response:
    if withPluginInfo:  # the on-the-fly janitor: in-flight transactions settle from what the gateway says now
        payments.janitor.refresh_payment(ctx, paymentId)
    return KBJSONResponse(_render(payments, ctx, payments.payments.get(ctx, paymentId), audit, withAttempts,
                                  withPluginInfo))


@router.get("/1.0/kb/payments/attempts/{paymentAttemptId}/auditLogsWithHistory",
            operation_id="getPaymentAttemptAuditLogsWithHistory")
def attempt_audit(ctx: Ctx, payments: Payments, paymentAttemptId: str) -> Response:
    return KBJSONResponse([audit_log_json(e) for e in payments.payments.attempt_history(ctx, paymentAttemptId)])


@router.get("/1.0/kb/paymentTransactions/{paymentTransactionId}/auditLogsWithHistory",
            operation_id="getTransactionAuditLogsWithHistory", tags=["PaymentTransaction"])
def transaction_audit(ctx: Ctx, payments: Payments, paymentTransactionId: str) -> Response:
    return KBJSONResponse([audit_log_json(e)
                           for e in payments.payments.transaction_history(ctx, paymentTransactionId)])


@router.get("/1.0/kb/payments/{paymentId}/auditLogsWithHistory", operation_id="getPaymentAuditLogsWithHistory")
def payment_audit(ctx: Ctx, payments: Payments, paymentId: str) -> Response:
    payment = payments.payments.get(ctx, paymentId)
    logs = payments.payments.audit_logs(ctx, "payments", [payment.record_id], "FULL")[payment.record_id]
    return KBJSONResponse([audit_log_json(e) for e in logs])


def _follow_up(paymentId: str | None, payments: Payments, ctx: Ctx, body: PaymentTransactionJson
               ) -> Payment:
    if paymentId is not None:
        return payments.payments.get(ctx, paymentId)
    if not body.paymentExternalKey:
        raise InvalidInput("paymentExternalKey: needs to be set")
    return payments.payments.by_key(ctx, body.paymentExternalKey)


def _transaction(request: Request, ctx: Ctx, payments: Payments, paymentId: str | None,
                 body: PaymentTransactionJson, kind: TransactionType, pluginProperty: list[str] | None, *,
                 status: int = 201) -> Response:
    payment = _follow_up(paymentId, payments, ctx, body)
    call = TransactionCall(payment.account_id, kind, amount=body.amount, currency=body.currency,
                           payment_id=payment.id, transaction_external_key=body.transactionExternalKey,
                           transaction_id=body.transactionId,
                           properties=query_properties(pluginProperty) + body_properties(body.properties))
    return run_transaction(request, payments, ctx, call, status=status)


@router.post("/1.0/kb/payments", status_code=201, operation_id="captureAuthorizationByExternalKey")
def capture_by_key(request: Request, ctx: Ctx, payments: Payments, body: PaymentTransactionJson = Body(...),
                   controlPluginName: list[str] | None = Query(None), pluginProperty: list[str] | None = Query(None)
                   ) -> Response:
    return _transaction(request, ctx, payments, None, body, TransactionType.CAPTURE, pluginProperty)


@router.delete("/1.0/kb/payments/{paymentId}", status_code=204, operation_id="voidPayment")
def void(request: Request, ctx: Ctx, payments: Payments, paymentId: str,
         body: PaymentTransactionJson | None = Body(None), controlPluginName: list[str] | None = Query(None),
         pluginProperty: list[str] | None = Query(None)) -> Response:
    return _transaction(request, ctx, payments, paymentId, body or PaymentTransactionJson(), TransactionType.VOID,
                        pluginProperty, status=204)


@router.delete("/1.0/kb/payments", status_code=204, operation_id="voidPaymentByExternalKey")
def void_by_key(request: Request, ctx: Ctx, payments: Payments, body: PaymentTransactionJson = Body(...),
                controlPluginName: list[str] | None = Query(None), pluginProperty: list[str] | None = Query(None)
                ) -> Response:
    return _transaction(request, ctx, payments, None, body, TransactionType.VOID, pluginProperty, status=204)


def _complete(request: Request, ctx: Ctx, payments: Payments, paymentId: str | None, body: PaymentTransactionJson,
              pluginProperty: list[str] | None) -> Response:
    payment = _follow_up(paymentId, payments, ctx, body)
    pending = [t for t in payment.transactions if t.status is TransactionStatus.PENDING
               and (body.transactionId in (None, t.id)) and (body.transactionExternalKey in (None, t.external_key))]
    if not pending:
        raise InvalidInput(f"paymentId: payment {payment.id} has no PENDING transaction to complete")
    trx = pending[-1]
    kind = TransactionType(body.transactionType) if body.transactionType and \
        body.transactionType in TransactionType.__members__ else trx.transaction_type
    call = TransactionCall(payment.account_id, kind, amount=trx.amount, currency=trx.currency, payment_id=payment.id,
                           transaction_id=trx.id, transaction_external_key=trx.external_key,
                           properties=query_properties(pluginProperty) + body_properties(body.properties))
    return run_transaction(request, payments, ctx, call, status=204)


@router.put("/1.0/kb/payments/{paymentId}", status_code=204, operation_id="completeTransaction")
def complete(request: Request, ctx: Ctx, payments: Payments, paymentId: str, body: PaymentTransactionJson = Body(...),
             controlPluginName: list[str] | None = Query(None), pluginProperty: list[str] | None = Query(None)
             ) -> Response:
    return _complete(request, ctx, payments, paymentId, body, pluginProperty)


@router.put("/1.0/kb/payments", status_code=204, operation_id="completeTransactionByExternalKey")
def complete_by_key(request: Request, ctx: Ctx, payments: Payments, body: PaymentTransactionJson = Body(...),
                    controlPluginName: list[str] | None = Query(None), pluginProperty: list[str] | None = Query(None)
                    ) -> Response:
    return _complete(request, ctx, payments, None, body, pluginProperty)


@router.post("/1.0/kb/payments/{paymentId}/refunds", status_code=201, operation_id="refundPayment")
def refund(request: Request, ctx: Ctx, payments: Payments, paymentId: str, body: PaymentTransactionJson = Body(...),
           controlPluginName: list[str] | None = Query(None), pluginProperty: list[str] | None = Query(None)
           ) -> Response:
    return _transaction(request, ctx, payments, paymentId, body, TransactionType.REFUND, pluginProperty)


@router.post("/1.0/kb/payments/refunds", status_code=201, operation_id="refundPaymentByExternalKey")
def refund_by_key(request: Request, ctx: Ctx, payments: Payments, body: PaymentTransactionJson = Body(...),
                  controlPluginName: list[str] | None = Query(None), pluginProperty: list[str] | None = Query(None)
                  ) -> Response:
    return _transaction(request, ctx, payments, None, body, TransactionType.REFUND, pluginProperty)


@router.post("/1.0/kb/payments/{paymentId}/chargebacks", status_code=201, operation_id="chargebackPayment")
def chargeback(request: Request, ctx: Ctx, payments: Payments, paymentId: str,
               body: PaymentTransactionJson = Body(...), controlPluginName: list[str] | None = Query(None),
               pluginProperty: list[str] | None = Query(None)) -> Response:
    return _transaction(request, ctx, payments, paymentId, body, TransactionType.CHARGEBACK, pluginProperty)


@router.post("/1.0/kb/payments/chargebacks", status_code=201, operation_id="chargebackPaymentByExternalKey")
def chargeback_by_key(request: Request, ctx: Ctx, payments: Payments, body: PaymentTransactionJson = Body(...),
                      controlPluginName: list[str] | None = Query(None),
                      pluginProperty: list[str] | None = Query(None)) -> Response:
    return _transaction(request, ctx, payments, None, body, TransactionType.CHARGEBACK, pluginProperty)


def _reversal(request: Request, ctx: Ctx, payments: Payments, paymentId: str | None,
              body: PaymentTransactionJson) -> Response:
    payment = _follow_up(paymentId, payments, ctx, body)
    if not body.transactionExternalKey and not body.transactionId:
        raise InvalidInput("transactionExternalKey: needs to be set")
    return run_transaction(request, payments, ctx, chargeback_reversal(payment.account_id, payment.id,
                                                            transaction_external_key=body.transactionExternalKey,
                                                            transaction_id=body.transactionId))


@router.post("/1.0/kb/payments/{paymentId}/chargebackReversals", status_code=201,
             operation_id="chargebackReversalPayment")
def chargeback_reversal_route(request: Request, ctx: Ctx, payments: Payments, paymentId: str,
                              body: PaymentTransactionJson = Body(...),
                              controlPluginName: list[str] | None = Query(None),
                              pluginProperty: list[str] | None = Query(None)) -> Response:
    return _reversal(request, ctx, payments, paymentId, body)


@router.post("/1.0/kb/payments/chargebackReversals", status_code=201,
             operation_id="chargebackReversalPaymentByExternalKey")
def chargeback_reversal_by_key(request: Request, ctx: Ctx, payments: Payments,
                               body: PaymentTransactionJson = Body(...),
                               controlPluginName: list[str] | None = Query(None),
                               pluginProperty: list[str] | None = Query(None)) -> Response:
    return _reversal(request, ctx, payments, None, body)


# ----------------------------------------------------------------------------------------- transactions
# after the fixed paths under /payments (refunds, chargebacks, ...): Starlette takes the first match
@router.post("/1.0/kb/payments/{paymentId}", status_code=201, operation_id="captureAuthorization")
def capture(request: Request, ctx: Ctx, payments: Payments, paymentId: str, body: PaymentTransactionJson = Body(...),
            controlPluginName: list[str] | None = Query(None), pluginProperty: list[str] | None = Query(None)
            ) -> Response:
    return _transaction(request, ctx, payments, paymentId, body, TransactionType.CAPTURE, pluginProperty)


@router.get("/1.0/kb/paymentTransactions", operation_id="getPaymentByTransactionExternalKey",
            tags=["PaymentTransaction"])
def payment_by_transaction_key(ctx: Ctx, payments: Payments, audit: AuditLevel,
                               transactionExternalKey: str = Query(...), withPluginInfo: bool = False,
                               withAttempts: bool = False, pluginProperty: list[str] | None = Query(None)
                               ) -> Response:
    payment = payments.payments.of_transaction_key(ctx, transactionExternalKey)
    return KBJSONResponse(_render(payments, ctx, payment, audit, withAttempts, withPluginInfo))


@router.get("/1.0/kb/paymentTransactions/{transactionId}", operation_id="getPaymentByTransactionId",
            tags=["PaymentTransaction"])
def payment_by_transaction(ctx: Ctx, payments: Payments, audit: AuditLevel, transactionId: str,
                           withPluginInfo: bool = False, withAttempts: bool = False,
                           pluginProperty: list[str] | None = Query(None)) -> Response:
    return KBJSONResponse(_render(payments, ctx, payments.payments.of_transaction(ctx, transactionId), audit,
                                  withAttempts, withPluginInfo))


@router.post("/1.0/kb/paymentTransactions/{transactionId}", status_code=201, operation_id="notifyStateChanged",
             tags=["PaymentTransaction"])
def notify_state_changed(request: Request, ctx: Ctx, payments: Payments, transactionId: str,
                         body: PaymentTransactionJson = Body(...),
                         controlPluginName: list[str] | None = Query(None)) -> Response:
    payment = payments.payments.of_transaction(ctx, transactionId)
    done = payments.payments.notify_pending(ctx, payment.account_id, transactionId, body.status == "SUCCESS")
    return created(request, f"/1.0/kb/payments/{done.id}")


# ----------------------------------------------------------------------------------------- admin
@router.put("/1.0/kb/admin/payments/{paymentId}/transactions/{paymentTransactionId}", status_code=204,
            operation_id="updatePaymentTransactionState", tags=["Admin"])
def update_transaction_state(ctx: Ctx, payments: Payments, paymentId: str, paymentTransactionId: str,
                             body: dict[str, object] = Body(...)) -> Response:
    raw = body.get("transactionStatus")
    if raw not in TransactionStatus.__members__:
        raise InvalidInput("transactionStatus: should be a TransactionStatus")
    payments.payments.fix_transaction_state(ctx, paymentId, paymentTransactionId, TransactionStatus(str(raw)))
    return no_content()


