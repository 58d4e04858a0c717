"""The Stripe gateway (plugins/billow-stripe) against localstripe: payment methods as Stripe PaymentMethods on a
Customer, purchase, partial refund, authorize/capture/void, a declined card, an unreachable gateway, the janitor's
view of a payment, webhook signatures, and amounts in minor units."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from decimal import Decimal

import pytest
import stripe
from hypothesis import given
from hypothesis import strategies as st

from billow.payment.plugin_api import (
    REFERENCE_IDS_PROPERTY,
    PaymentMethodDetail,
    PaymentPluginApiException,
    PaymentPluginStatus,
    PaymentTransactionInfo,
    PluginConfig,
    PluginContext,
    PluginProperty,
    TransactionRequest,
    TransactionType,
)
from billow_stripe.plugin import CUSTOMER_ID, PAYMENT_METHOD_ID, StripePaymentPlugin, from_minor, to_minor
from tests.payment.stripe.conftest import WEBHOOK, config_text

VISA = "4242424242424242"
DECLINED_ON_CHARGE = "4000000000000341"  # attaches, then every charge is declined
DECLINED = "4000000000000002"  # declined at once


def _card(number: str) -> tuple[PluginProperty, ...]:
    return (PluginProperty("ccNumber", number), PluginProperty("ccExpirationMonth", "12"),
            PluginProperty("ccExpirationYear", "2031"), PluginProperty("ccVerificationValue", "123"))


def _method(plugin: StripePaymentPlugin, ctx: PluginContext, number: str = VISA) -> PaymentMethodDetail:
    return plugin.add_payment_method("acc-1", PaymentMethodDetail(str(uuid.uuid4()), properties=_card(number)),
                                     True, (), ctx)


def _req(method: PaymentMethodDetail, amount: str | None, refs: tuple[str, ...] = (), *, payment: str = "pay-1",
         currency: str = "USD") -> TransactionRequest:
    return TransactionRequest("acc-1", payment, str(uuid.uuid4()), method.kb_payment_method_id,
                              None if amount is None else Decimal(amount), currency,
                              payment_method_properties=method.properties, payment_reference_ids=refs)


def _client(ctx: PluginContext) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_billow", base_addresses={"api": str(ctx.config.get(
        "org.killbill.billing.plugin.stripe.apiBase"))})


def test_a_card_becomes_a_stripe_payment_method_on_a_customer_and_nothing_secret_is_kept(stripe_ctx) -> None:
    plugin = StripePaymentPlugin()
    method = _method(plugin, stripe_ctx)
    props = {p.key: p.value for p in method.properties}
    assert str(props[PAYMENT_METHOD_ID]).startswith("pm_") and str(props[CUSTOMER_ID]).startswith("cus_")
    assert method.external_payment_method_id == props[PAYMENT_METHOD_ID]
    assert (props["last4"], props["brand"]) == ("4242", "visa")
    assert not {"ccNumber", "ccVerificationValue"} & set(props)
    pm = _client(stripe_ctx).v1.payment_methods.retrieve(str(props[PAYMENT_METHOD_ID]))
    assert pm.customer == props[CUSTOMER_ID]
    plugin.delete_payment_method("acc-1", method.kb_payment_method_id, method.properties, stripe_ctx)
    assert _client(stripe_ctx).v1.payment_methods.retrieve(str(props[PAYMENT_METHOD_ID])).customer is None
    with pytest.raises(PaymentPluginApiException):
        _method(plugin, stripe_ctx, DECLINED)  # declined when attached: the method is refused


def test_purchase_then_partial_refunds(stripe_ctx) -> None:
    plugin = StripePaymentPlugin()
    method = _method(plugin, stripe_ctx)
    bought = plugin.purchase_payment(_req(method, "12.50"), stripe_ctx)
    assert bought.status is PaymentPluginStatus.PROCESSED
    assert (bought.amount, bought.currency) == (Decimal("12.50"), "USD")
    assert bought.first_payment_reference_id and bought.first_payment_reference_id.startswith("pi_")
    refs = (bought.first_payment_reference_id,)
    refund = plugin.refund_payment(_req(method, "5.00", refs), stripe_ctx)
    assert (refund.status, refund.amount) == (PaymentPluginStatus.PROCESSED, Decimal("5.00"))
    intent = _client(stripe_ctx).v1.payment_intents.retrieve(refs[0])
    assert intent.amount == 1250 and intent.metadata["kbTransactionId"] == bought.kb_transaction_id
    refunds = _client(stripe_ctx).v1.refunds.list(params={"payment_intent": refs[0]}).data
    assert [r.amount for r in refunds] == [500]


def test_authorize_capture_and_void(stripe_ctx) -> None:
    plugin = StripePaymentPlugin()
    method = _method(plugin, stripe_ctx)
    auth = plugin.authorize_payment(_req(method, "10.00", payment="pay-a"), stripe_ctx)
    assert auth.status is PaymentPluginStatus.PROCESSED
    refs = (str(auth.first_payment_reference_id),)
    assert _client(stripe_ctx).v1.payment_intents.retrieve(refs[0]).status == "requires_capture"
    captured = plugin.capture_payment(_req(method, "6.00", refs, payment="pay-a"), stripe_ctx)
    assert captured.status is PaymentPluginStatus.PROCESSED
    assert _client(stripe_ctx).v1.payment_intents.retrieve(refs[0]).status == "succeeded"

    auth2 = plugin.authorize_payment(_req(method, "4.00", payment="pay-v"), stripe_ctx)
    voided = plugin.void_payment(_req(method, None, (str(auth2.first_payment_reference_id),), payment="pay-v"),
                                 stripe_ctx)
    assert voided.status is PaymentPluginStatus.PROCESSED
    assert _client(stripe_ctx).v1.payment_intents.retrieve(str(auth2.first_payment_reference_id)).status == \
        "canceled"
    # a capture without the payment's PaymentIntent cannot be sent
    with pytest.raises(PaymentPluginApiException):
        plugin.capture_payment(_req(method, "1.00"), stripe_ctx)


def test_a_declined_charge_is_a_payment_failure_with_stripes_code(stripe_ctx) -> None:
    plugin = StripePaymentPlugin()
    method = _method(plugin, stripe_ctx, DECLINED_ON_CHARGE)
    got = plugin.purchase_payment(_req(method, "3.00"), stripe_ctx)
    assert got.status is PaymentPluginStatus.ERROR
    assert got.gateway_error_code == "card_declined" and got.gateway_error


def test_an_unreachable_gateway_is_undefined_and_a_missing_key_is_refused(stripe_ctx, localstripe: str) -> None:
    plugin = StripePaymentPlugin()
    method = _method(plugin, stripe_ctx)
    from tests.conftest import free_port
    down = dataclasses.replace(stripe_ctx, config=PluginConfig.parse(
        "billow-stripe", config_text(f"http://127.0.0.1:{free_port()}")))
    got = plugin.purchase_payment(_req(method, "2.00"), down)
    assert got.status is PaymentPluginStatus.UNDEFINED  # it may have reached Stripe: never a guess
    no_key = dataclasses.replace(stripe_ctx, config=PluginConfig.parse("billow-stripe", "x=1\n"))
    with pytest.raises(PaymentPluginApiException):
        plugin.purchase_payment(_req(method, "2.00"), no_key)
    assert plugin.credit_payment(_req(method, "1.00"), stripe_ctx).status is PaymentPluginStatus.CANCELED


def _by_transaction(infos: list[PaymentTransactionInfo]) -> dict[str, PaymentTransactionInfo]:
    return {i.kb_transaction_id: i for i in infos}


def test_the_janitor_finds_a_payment_whose_reference_was_lost(stripe_ctx) -> None:
    """After a crash between Stripe's answer and Billow's record, Billow knows no PaymentIntent: the plugin finds it
    among the customer's charges by Billow's ids in its metadata."""
    plugin = StripePaymentPlugin()
    method = _method(plugin, stripe_ctx)
    payment = f"pay-{uuid.uuid4().hex[:6]}"
    req = _req(method, "8.00", payment=payment)
    bought = plugin.purchase_payment(req, stripe_ctx)
    refund = plugin.refund_payment(dataclasses.replace(
        _req(method, "1.00", (str(bought.first_payment_reference_id),), payment=payment)), stripe_ctx)
    infos = _by_transaction(plugin.get_payment_info("acc-1", payment, method.properties, stripe_ctx))
    assert infos[req.kb_transaction_id].status is PaymentPluginStatus.PROCESSED
    assert infos[req.kb_transaction_id].transaction_type is TransactionType.PURCHASE
    assert infos[refund.kb_transaction_id].status is PaymentPluginStatus.PROCESSED
    known = method.properties + (PluginProperty(REFERENCE_IDS_PROPERTY, str(bought.first_payment_reference_id)),)
    assert set(_by_transaction(plugin.get_payment_info("acc-1", payment, known, stripe_ctx))) == set(infos)
    assert plugin.get_payment_info("acc-1", "another-payment", method.properties, stripe_ctx) == []


def _signed(payload: str, secret: str) -> str:
    stamp = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{stamp}.{payload}", secret)
    return f"t={stamp},v1={signature}"


def test_webhooks_are_verified(stripe_ctx) -> None:
    plugin = StripePaymentPlugin()
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded",
                          "data": {"object": {"id": "pi_1", "object": "payment_intent",
                                              "metadata": {"kbPaymentId": "pay-9"}}}})
    ok = plugin.process_notification(payload, (PluginProperty("http.header.stripe-signature",
                                                              _signed(payload, WEBHOOK)),), stripe_ctx)
    assert (ok.status, ok.kb_payment_id) == (200, "pay-9")
    forged = plugin.process_notification(payload, (PluginProperty("http.header.stripe-signature",
                                                                  _signed(payload, "whsec_other")),), stripe_ctx)
    assert (forged.status, forged.kb_payment_id) == (400, None)
    assert plugin.process_notification(payload, (), stripe_ctx).status == 400


@given(st.decimals(min_value=0, max_value=10**9, places=2), st.sampled_from(["USD", "EUR", "JPY", "KWD"]))
def test_amounts_go_to_minor_units_and_back_exactly(amount: Decimal, currency: str) -> None:
    places = {"JPY": 0, "KWD": 3}.get(currency, 2)
    amount = amount.quantize(Decimal(1).scaleb(-places)) if places < 2 else amount
    minor = to_minor(amount, currency)
    assert isinstance(minor, int) and from_minor(minor, currency) == amount


def test_an_amount_finer_than_the_currency_is_refused() -> None:
    assert to_minor(Decimal("1250"), "JPY") == 1250 and to_minor(Decimal("1.005"), "KWD") == 1005
    with pytest.raises(PaymentPluginApiException):
        to_minor(Decimal("12.5"), "JPY")
