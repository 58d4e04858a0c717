"""Stripe as a Billow payment gateway, through Stripe's official SDK (`stripe`, its `StripeClient`).

- Configuration per tenant (`POST /1.0/kb/tenants/uploadPluginConfig/billow-stripe`, Kill Bill's property names):
  `org.killbill.billing.plugin.stripe.apiKey` (required), `...apiBase` (another API address: localstripe in
  tests), `...webhookSecret` (the endpoint's signing secret, required for webhooks). Keys never come from code or
  the environment, and every call uses its own client: tenants do not share a key.
- A payment method is a Stripe PaymentMethod attached to a Customer. `add_payment_method` takes a PaymentMethod
  id (`token`, `paymentMethodId` or `stripePaymentMethodId`) or a card (`ccNumber`, `ccExpirationMonth`,
  `ccExpirationYear`, `ccVerificationValue`: Kill Bill's property names, sent to Stripe and never stored), and
  answers the ids as the method's properties (`stripePaymentMethodId`, `stripeCustomerId`): Billow keeps them and
  hands them back with each transaction, so the plugin needs no tables.
- AUTHORIZE and PURCHASE are confirmed PaymentIntents (manual capture for AUTHORIZE), with Billow's ids in their
  metadata and the transaction id as idempotency key (a retried call is the same request at Stripe). CAPTURE,
  VOID and REFUND act on the payment's PaymentIntent, the first reference Billow recorded. CREDIT (money to a card
  without a payment) is not something Stripe does: CANCELED.
- Outcomes: succeeded → PROCESSED; requires_action (3-D Secure) → PENDING, with the next action as properties;
  a decline → ERROR with Stripe's decline code; a network failure or a 5xx → UNDEFINED (the janitor asks again,
  through `get_payment_info`); a request Stripe refused (key, parameters, rate) → CANCELED.
- Webhooks (`POST /1.0/kb/paymentGateways/notification/billow-stripe`) are verified with the signing secret; a
  payment_intent event names the Billow payment to re-check.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import stripe

from billow.payment.plugin_api import (
    REFERENCE_IDS_PROPERTY,
    GatewayNotification,
    PaymentMethodDetail,
    PaymentPluginApi,
    PaymentPluginApiException,
    PaymentPluginStatus,
    PaymentTransactionInfo,
    PluginContext,
    PluginProperty,
    TransactionRequest,
    TransactionType,
    property_value,
)

API_KEY = "org.killbill.billing.plugin.stripe.apiKey"
API_BASE = "org.killbill.billing.plugin.stripe.apiBase"
WEBHOOK_SECRET = "org.killbill.billing.plugin.stripe.webhookSecret"
PAYMENT_METHOD_ID = "stripePaymentMethodId"
CUSTOMER_ID = "stripeCustomerId"
# Stripe's currencies without minor unit, and with three decimals (https://docs.stripe.com/currencies)
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
                          "XAF", "XOF", "XPF"})
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def _exponent(currency: str) -> int:
    code = currency.upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in the currency's smallest unit, exactly (Billow rounds amounts to the currency already)."""
    scaled = amount.scaleb(_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise PaymentPluginApiException("INVALID_AMOUNT", f"{amount} {currency} has more decimals than the currency")
    return int(scaled)


def from_minor(value: int | None, currency: str) -> Decimal | None:
    return None if value is None else Decimal(value).scaleb(-_exponent(currency))


def _props(values: Mapping[str, object | None]) -> tuple[PluginProperty, ...]:
    return tuple(PluginProperty(k, v) for k, v in values.items() if v is not None)


class StripePaymentPlugin(PaymentPluginApi):
    def __init__(self) -> None:
        self._clients: dict[tuple[str, str | None, float], stripe.StripeClient] = {}
        self._lock = threading.Lock()

    # -- clients -----------------------------------------------------------------------------------------------
    def _client(self, ctx: PluginContext) -> stripe.StripeClient:
        key = ctx.config.get(API_KEY)
        if not key:
            raise PaymentPluginApiException("CONFIGURATION", f"{API_KEY} is not set in this tenant's configuration "
                                                             "of the plugin")
        base = ctx.config.get(API_BASE) or None
        cache_key = (key, base, ctx.timeout_seconds)
        with self._lock:
            client = self._clients.get(cache_key)
            if client is None:
                # no retries of our own: a call that may have reached Stripe is UNDEFINED and the janitor asks later
                client = stripe.StripeClient(key, base_addresses={"api": base} if base else {},
                                             max_network_retries=0,
                                             http_client=stripe.RequestsClient(timeout=ctx.timeout_seconds))
                self._clients[cache_key] = client
            return client

    # -- transactions ------------------------------------------------------------------------------------------
    def authorize_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._intent(req, ctx, TransactionType.AUTHORIZE)

    def purchase_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._intent(req, ctx, TransactionType.PURCHASE)

    def capture_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        kind = TransactionType.CAPTURE
        intent_id = self._intent_of(req)
        client = self._client(ctx)
        params: Any = {}
        if req.amount is not None and req.currency:
            params["amount_to_capture"] = to_minor(req.amount, req.currency)

        def call() -> Any:
            client.v1.payment_intents.update(intent_id, params={"metadata": {"kbCaptureTransactionId":
                                                                             req.kb_transaction_id}})
            return client.v1.payment_intents.capture(intent_id, params=params,
                                                     options={"idempotency_key": _idem(req, kind)})
        return self._guarded(req, kind, call, lambda pi: self._capture_info(req.kb_payment_id,
                                                                            req.kb_transaction_id, pi))

    def void_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        kind = TransactionType.VOID
        intent_id = self._intent_of(req)
        client = self._client(ctx)

        def call() -> Any:
            client.v1.payment_intents.update(intent_id, params={"metadata": {"kbVoidTransactionId":
                                                                             req.kb_transaction_id}})
            return client.v1.payment_intents.cancel(intent_id, options={"idempotency_key": _idem(req, kind)})
        return self._guarded(req, kind, call, lambda pi: self._void_info(req.kb_payment_id, req.kb_transaction_id,
                                                                         pi))

    def refund_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        kind = TransactionType.REFUND
        intent_id = self._intent_of(req)
        client = self._client(ctx)
        params: Any = {"payment_intent": intent_id,
                       "metadata": {"kbPaymentId": req.kb_payment_id, "kbTransactionId": req.kb_transaction_id}}
        if req.amount is not None and req.currency:
            params["amount"] = to_minor(req.amount, req.currency)
        return self._guarded(req, kind,
                             lambda: client.v1.refunds.create(params=params,
                                                              options={"idempotency_key": _idem(req, kind)}),
                             lambda refund: _refund_info(req.kb_payment_id, req.kb_transaction_id, refund))

    def credit_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return _info(req.kb_payment_id, req.kb_transaction_id, TransactionType.CREDIT, PaymentPluginStatus.CANCELED,
                     gateway_error="Stripe does not credit a card without a payment", gateway_error_code="UNSUPPORTED")

    def _intent(self, req: TransactionRequest, ctx: PluginContext, kind: TransactionType) -> PaymentTransactionInfo:
        method, customer = _method_ids(req.payment_method_properties)
        if method is None:
            raise PaymentPluginApiException("NO_PAYMENT_METHOD", f"payment method {req.kb_payment_method_id} has no "
                                                                 "Stripe PaymentMethod")
        if req.amount is None or not req.currency:
            raise PaymentPluginApiException("INVALID_AMOUNT", "an amount and a currency are needed")
        client = self._client(ctx)
        params: Any = {
            "amount": to_minor(req.amount, req.currency), "currency": req.currency.lower(), "payment_method": method,
            "confirm": True,
            "metadata": {"kbAccountId": req.kb_account_id, "kbPaymentId": req.kb_payment_id,
                         "kbTransactionId": req.kb_transaction_id, "kbTransactionType": kind.value}}
        if customer:
            params["customer"] = customer
        if kind is TransactionType.AUTHORIZE:
            params["capture_method"] = "manual"
        return_url = property_value(req.properties, "return_url")
        if return_url:  # the customer is there: 3-D Secure may redirect them
            params["return_url"] = str(return_url)
        else:  # an automatic payment: the bank is told the customer is not present
            params["off_session"] = True
        return self._guarded(req, kind,
                             lambda: client.v1.payment_intents.create(params=params,
                                                                      options={"idempotency_key": _idem(req, kind)}),
                             lambda pi: _intent_info(req.kb_payment_id, req.kb_transaction_id, kind, pi))

    @staticmethod
    def _guarded(req: TransactionRequest, kind: TransactionType, call: Any, convert: Any) -> PaymentTransactionInfo:
        """Stripe's errors as outcomes: a decline is ERROR, a call that may have reached Stripe is UNDEFINED, a
        request Stripe refused is CANCELED."""
        try:
            return convert(call())  # type: ignore[no-any-return]
        except stripe.CardError as e:
            err = e.error
            code = (err.decline_code if err is not None and err.decline_code else None) or e.code or "card_declined"
            return _info(req.kb_payment_id, req.kb_transaction_id, kind, PaymentPluginStatus.ERROR,
                         gateway_error=e.user_message or str(e), gateway_error_code=code)
        except (stripe.APIConnectionError, stripe.APIError) as e:
            return _info(req.kb_payment_id, req.kb_transaction_id, kind, PaymentPluginStatus.UNDEFINED,
                         gateway_error=e.user_message or str(e), gateway_error_code=type(e).__name__)
        except stripe.StripeError as e:
            return _info(req.kb_payment_id, req.kb_transaction_id, kind, PaymentPluginStatus.CANCELED,
                         gateway_error=e.user_message or str(e), gateway_error_code=e.code or type(e).__name__)

    @staticmethod
    def _intent_of(req: TransactionRequest) -> str:
        found = next((r for r in req.payment_reference_ids if r.startswith("pi_")), None)
        if found is None:
            raise PaymentPluginApiException("NO_PAYMENT_INTENT", f"payment {req.kb_payment_id} has no PaymentIntent")
        return found

    @staticmethod
    def _capture_info(kb_payment_id: str, kb_transaction_id: str, pi: Any) -> PaymentTransactionInfo:
        status = PaymentPluginStatus.PROCESSED if pi.status == "succeeded" else PaymentPluginStatus.ERROR
        data = pi.to_dict()
        return _info(kb_payment_id, kb_transaction_id, TransactionType.CAPTURE, status,
                     amount=from_minor(data.get("amount_received") or data.get("amount"), pi.currency),
                     currency=pi.currency.upper(), first=pi.id)

    @staticmethod
    def _void_info(kb_payment_id: str, kb_transaction_id: str, pi: Any) -> PaymentTransactionInfo:
        status = PaymentPluginStatus.PROCESSED if pi.status == "canceled" else PaymentPluginStatus.ERROR
        return _info(kb_payment_id, kb_transaction_id, TransactionType.VOID, status, first=pi.id)

    # -- what Stripe says now (the janitor) --------------------------------------------------------------------
    def get_payment_info(self, kb_account_id: str, kb_payment_id: str, properties: Sequence[PluginProperty],
                         ctx: PluginContext) -> list[PaymentTransactionInfo]:
        """The payment's PaymentIntents (by the references Billow recorded; after a crash that lost them, among the
        customer's recent charges) with their captures, voids and refunds."""
        client = self._client(ctx)
        refs = [r for r in str(property_value(properties, REFERENCE_IDS_PROPERTY) or "").split(",") if r]
        intents = [client.v1.payment_intents.retrieve(r) for r in refs if r.startswith("pi_")]
        if not intents:
            _, customer = _method_ids(properties)
            if customer:
                charges = client.v1.charges.list(params={"customer": customer, "limit": 100})
                seen: set[str] = set()
                for charge in charges.data:
                    pi_id = charge.to_dict().get("payment_intent")
                    if pi_id and pi_id not in seen:
                        seen.add(pi_id)
                        pi = client.v1.payment_intents.retrieve(pi_id)
                        if _metadata(pi).get("kbPaymentId") == kb_payment_id:
                            intents.append(pi)
        out: list[PaymentTransactionInfo] = []
        for pi in intents:
            meta = _metadata(pi)
            if meta.get("kbPaymentId") != kb_payment_id or not meta.get("kbTransactionId"):
                continue
            kind = TransactionType(meta.get("kbTransactionType", TransactionType.PURCHASE.value))
            out.append(_intent_info(kb_payment_id, meta["kbTransactionId"], kind, pi))
            if meta.get("kbCaptureTransactionId"):
                out.append(self._capture_info(kb_payment_id, meta["kbCaptureTransactionId"], pi))
            if meta.get("kbVoidTransactionId"):
                out.append(self._void_info(kb_payment_id, meta["kbVoidTransactionId"], pi))
            for refund in client.v1.refunds.list(params={"payment_intent": pi.id}).data:
                refund_trx = _metadata(refund).get("kbTransactionId")
                if refund_trx:
                    out.append(_refund_info(kb_payment_id, refund_trx, refund))
        return out

    # -- payment methods ---------------------------------------------------------------------------------------
    def add_payment_method(self, kb_account_id: str, detail: PaymentMethodDetail, set_default: bool,
                           properties: Sequence[PluginProperty], ctx: PluginContext) -> PaymentMethodDetail:
        given = tuple(detail.properties) + tuple(properties)
        client = self._client(ctx)
        try:
            method_id = next((str(v) for k in ("token", "paymentMethodId", PAYMENT_METHOD_ID)
                              if (v := property_value(given, k))), None)
            if method_id is None:
                number = property_value(given, "ccNumber")
                if not number:
                    raise PaymentPluginApiException("NO_PAYMENT_METHOD", "a Stripe PaymentMethod id (token) or a card "
                                                                         "(ccNumber, ...) is needed")
                card: Any = {"number": str(number), "exp_month": int(str(property_value(given, "ccExpirationMonth"))),
                        "exp_year": int(str(property_value(given, "ccExpirationYear")))}
                cvc = property_value(given, "ccVerificationValue")
                if cvc:
                    card["cvc"] = str(cvc)
                method_id = client.v1.payment_methods.create(params={"type": "card", "card": card}).id
            customer = property_value(given, CUSTOMER_ID)
            if not customer:
                customer = client.v1.customers.create(params={"metadata": {"kbAccountId": kb_account_id}}).id
            pm = client.v1.payment_methods.attach(method_id, params={"customer": str(customer)})
        except (ValueError, TypeError) as e:
            raise PaymentPluginApiException("INVALID_CARD", f"card expiry: {e}") from e
        except stripe.StripeError as e:
            raise PaymentPluginApiException(e.code or type(e).__name__, e.user_message or str(e)) from e
        card_data = pm.to_dict().get("card") or {}
        # only Stripe's ids and what the card says of itself: never the number or the code
        kept = _props({PAYMENT_METHOD_ID: pm.id, CUSTOMER_ID: str(customer), "brand": card_data.get("brand"),
                       "last4": card_data.get("last4"), "expMonth": card_data.get("exp_month"),
                       "expYear": card_data.get("exp_year")})
        return PaymentMethodDetail(detail.kb_payment_method_id, pm.id, set_default, kept)

    def delete_payment_method(self, kb_account_id: str, kb_payment_method_id: str,
                              properties: Sequence[PluginProperty], ctx: PluginContext) -> None:
        method, _ = _method_ids(properties)
        if method:
            with contextlib.suppress(stripe.InvalidRequestError):  # detached or gone already: nothing to undo
                self._client(ctx).v1.payment_methods.detach(method)

    # -- webhooks ----------------------------------------------------------------------------------------------
    def process_notification(self, notification: str, properties: Sequence[PluginProperty],
                             ctx: PluginContext) -> GatewayNotification:
        secret = ctx.config.get(WEBHOOK_SECRET)
        if not secret:
            return GatewayNotification(status=400, entity=f"{WEBHOOK_SECRET} is not configured")
        signature = property_value(properties, "http.header.stripe-signature")
        try:
            event = stripe.Webhook.construct_event(notification, str(signature or ""), secret)
        except (stripe.SignatureVerificationError, ValueError):
            return GatewayNotification(status=400, entity="invalid signature")
        kb_payment_id = None
        if event.type.startswith("payment_intent.") or event.type.startswith("charge.refund"):
            kb_payment_id = _metadata(event.data.object).get("kbPaymentId")
        return GatewayNotification(kb_payment_id=kb_payment_id, status=200,
                                   entity=json.dumps({"received": True}),
                                   headers={"Content-Type": "application/json"})


def _metadata(obj: Any) -> dict[str, Any]:
    meta = obj.to_dict().get("metadata")
    return dict(meta) if isinstance(meta, Mapping) else {}


def _idem(req: TransactionRequest, kind: TransactionType) -> str:
    return f"billow-{kind.value.lower()}-{req.kb_transaction_id}"


def _method_ids(properties: Sequence[PluginProperty]) -> tuple[str | None, str | None]:
    method = property_value(properties, PAYMENT_METHOD_ID)
    customer = property_value(properties, CUSTOMER_ID)
    return (str(method) if method else None), (str(customer) if customer else None)


def _info(kb_payment_id: str, kb_transaction_id: str, kind: TransactionType, status: PaymentPluginStatus, *,
          amount: Decimal | None = None, currency: str | None = None, gateway_error: str | None = None,
          gateway_error_code: str | None = None, first: str | None = None, second: str | None = None,
          properties: tuple[PluginProperty, ...] = ()) -> PaymentTransactionInfo:
    return PaymentTransactionInfo(kb_payment_id, kb_transaction_id, kind, status, amount=amount, currency=currency,
                                  gateway_error=gateway_error, gateway_error_code=gateway_error_code,
                                  first_payment_reference_id=first, second_payment_reference_id=second,
                                  properties=properties)


def _intent_info(kb_payment_id: str, kb_transaction_id: str, kind: TransactionType, pi: Any
                 ) -> PaymentTransactionInfo:
    data = pi.to_dict()
    currency = str(data.get("currency") or "").upper()
    amount = from_minor(data.get("amount"), currency) if currency else None
    status = data.get("status")
    error = data.get("last_payment_error") or {}
    next_action = data.get("next_action") or {}
    redirect = (next_action.get("redirect_to_url") or {}).get("url") if isinstance(next_action, Mapping) else None
    if status == "succeeded" or (status == "requires_capture" and kind is TransactionType.AUTHORIZE):
        plugin_status = PaymentPluginStatus.PROCESSED
    elif status in ("requires_action", "requires_confirmation", "processing"):
        plugin_status = PaymentPluginStatus.PENDING
    elif status == "canceled" and kind is TransactionType.AUTHORIZE and data.get("cancellation_reason") is None:
        plugin_status = PaymentPluginStatus.PROCESSED  # authorized, then voided: the authorization itself happened
    else:  # requires_payment_method (declined), canceled
        plugin_status = PaymentPluginStatus.ERROR
    charge = data.get("latest_charge")
    return _info(kb_payment_id, kb_transaction_id, kind, plugin_status, amount=amount, currency=currency or None,
                 gateway_error=error.get("message") if error else None,
                 gateway_error_code=(error.get("decline_code") or error.get("code")) if error else None,
                 first=pi.id, second=charge if isinstance(charge, str) else None,
                 properties=_props({"stripeStatus": status,
                                    "nextActionType": next_action.get("type") if next_action else None,
                                    "nextActionUrl": redirect}))


def _refund_info(kb_payment_id: str, kb_transaction_id: str, refund: Any) -> PaymentTransactionInfo:
    data = refund.to_dict()
    status = {"succeeded": PaymentPluginStatus.PROCESSED, "pending": PaymentPluginStatus.PENDING,
              "requires_action": PaymentPluginStatus.PENDING}.get(str(data.get("status")), PaymentPluginStatus.ERROR)
    currency = str(data.get("currency") or "").upper()
    return _info(kb_payment_id, kb_transaction_id, TransactionType.REFUND, status,
                 amount=from_minor(data.get("amount"), currency) if currency else None, currency=currency or None,
                 gateway_error=data.get("failure_reason"), first=refund.id)
