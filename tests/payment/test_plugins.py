"""The plugin interface, its discovery through entry points, and the two plugins Billow ships."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billow.payment.plugin_api import (
    PaymentPluginApiException,
    PaymentPluginStatus,
    PluginConfig,
    PluginContext,
    PluginProperty,
    TransactionRequest,
    TransactionType,
    call_transaction,
)
from billow.payment.plugins import PaymentPluginRegistry
from billow.payment.provider.external import ExternalPaymentPlugin
from billow.payment.provider.testing import ConfigureError, TestPaymentPlugin
from tests.payment.conftest import PayWorld

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def ctx(tenant: str = "t1") -> PluginContext:
    return PluginContext(tenant_id=tenant, config=PluginConfig("x"), now=NOW, timeout_seconds=0.01)


def req(*props: PluginProperty) -> TransactionRequest:
    return TransactionRequest("acc", "pay", "trx", "pm", Decimal("10.00"), "USD", props)


def test_entry_points_find_the_shipped_plugins() -> None:
    registry = PaymentPluginRegistry()
    assert isinstance(registry.get("__EXTERNAL_PAYMENT__"), ExternalPaymentPlugin)
    assert isinstance(registry.get("killbill-payment-test"), TestPaymentPlugin)
    assert registry.get("nope") is None
    assert registry.get("killbill-payment-test") is registry.get("killbill-payment-test")


def test_plugin_config_parses_properties_and_yaml_lines() -> None:
    config = PluginConfig.parse("p", "# c\norg.killbill.stripe.apiKey=sk_1\nregion: eu\n!x\nbad\nurl=http://a:1")
    assert config.values == {"org.killbill.stripe.apiKey": "sk_1", "region": "eu", "url": "http://a:1"}


@pytest.mark.parametrize(("prop", "status"), [
    (None, PaymentPluginStatus.PROCESSED),
    ("killbill.external.payment.fail.error", PaymentPluginStatus.ERROR),
    ("killbill.external.payment.fail.cancellation", PaymentPluginStatus.CANCELED),
])
def test_external_plugin(prop: str | None, status: PaymentPluginStatus) -> None:
    props = (PluginProperty(prop, "true"),) if prop else ()
    info = call_transaction(ExternalPaymentPlugin(), TransactionType.PURCHASE, req(*props), ctx())
    assert info.status is status and info.currency == "USD" and info.amount is None
    with pytest.raises(PaymentPluginApiException):
        ExternalPaymentPlugin().refund_payment(req(PluginProperty("killbill.external.payment.fail.exception", "true")),
                                               ctx())


def test_test_plugin_configure_per_tenant_and_method() -> None:
    plugin = TestPaymentPlugin()
    plugin.configure({"CONFIGURE_ACTION": "ACTION_RETURN_PLUGIN_STATUS_ERROR", "METHODS": "purchasePayment"}, ctx())
    assert plugin.purchase_payment(req(), ctx()).status is PaymentPluginStatus.ERROR
    assert plugin.authorize_payment(req(), ctx()).status is PaymentPluginStatus.PROCESSED
    assert plugin.purchase_payment(req(), ctx("t2")).status is PaymentPluginStatus.PROCESSED
    plugin.configure({"CONFIGURE_ACTION": "ACTION_RETURN_PLUGIN_STATUS_CANCELED"}, ctx())
    assert plugin.authorize_payment(req(), ctx()).status is PaymentPluginStatus.CANCELED
    plugin.configure({"CONFIGURE_ACTION": "ACTION_CLEAR"}, ctx())
    assert plugin.status(ctx()) == {"states": {}, "sleeps": {}, "amounts": {}}
    assert plugin.purchase_payment(req(), ctx()).status is PaymentPluginStatus.PROCESSED
    with pytest.raises(ConfigureError):
        plugin.configure({"CONFIGURE_ACTION": "ACTION_CLEAR", "METHODS": "nope"}, ctx())
    with pytest.raises(ConfigureError):
        plugin.configure({}, ctx())


def test_test_plugin_per_call_properties_amount_and_answers_kept() -> None:
    plugin = TestPaymentPlugin()
    pending = plugin.purchase_payment(
        req(PluginProperty("ACTION_RETURN_PLUGIN_STATUS_PENDING", "purchasePayment")), ctx())
    assert pending.status is PaymentPluginStatus.PENDING
    assert plugin.purchase_payment(req(PluginProperty("ACTION_RETURN_PLUGIN_STATUS_PENDING", "refundPayment")),
                                   ctx()).status is PaymentPluginStatus.PROCESSED
    with pytest.raises(PaymentPluginApiException, match="ACTION_THROW_EXCEPTION for capturePayment"):
        plugin.capture_payment(req(PluginProperty("ACTION_THROW_EXCEPTION", "")), ctx())
    assert plugin.void_payment(req(PluginProperty("RETURN_NIL", "*")), ctx()) is None
    plugin.configure({"AMOUNT": "3.5"}, ctx())
    assert plugin.refund_payment(req(), ctx()).amount == Decimal("3.5")
    plugin.settle("t1", "trx", PaymentPluginStatus.PROCESSED)
    infos = plugin.get_payment_info("acc", "pay", (), ctx())
    assert infos and all(i.status is PaymentPluginStatus.PROCESSED for i in infos)


def test_test_plugin_sleep_answers_undefined() -> None:
    plugin = TestPaymentPlugin()
    plugin.configure({"CONFIGURE_ACTION": "ACTION_SLEEP", "SLEEP_TIME_SEC": 1}, ctx())
    assert plugin.purchase_payment(req(), ctx()).status is PaymentPluginStatus.UNDEFINED


def test_control_plugins_abort_adjust_and_hear_the_outcome(pw: PayWorld) -> None:
    from billow.payment.control_api import (
        OnSuccessPaymentControlResult,
        PaymentControlContext,
        PaymentControlPluginApi,
        PriorPaymentControlResult,
    )
    from billow.payment.errors import PaymentError
    from billow.payment.model import TransactionStatus
    from billow.payment.processor import TransactionCall

    heard: list[tuple[str, str | None]] = []

    class Halve(PaymentControlPluginApi):
        def prior_call(self, ctx: PaymentControlContext, properties: tuple[PluginProperty, ...]
                       ) -> PriorPaymentControlResult:
            if ctx.amount is not None and ctx.amount > 100:
                return PriorPaymentControlResult(is_aborted=True)
            return PriorPaymentControlResult(adjusted_amount=(ctx.amount or Decimal(0)) / 2)

        def on_success_call(self, ctx: PaymentControlContext, properties: tuple[PluginProperty, ...]
                            ) -> OnSuccessPaymentControlResult:
            heard.append(("success", ctx.transaction_status))
            return OnSuccessPaymentControlResult()

    pw.kb.payment.plugins.register_control("halve", Halve())
    pw.add_method()
    call = TransactionCall(pw.account_id, TransactionType.PURCHASE, amount=Decimal("10.00"), currency="USD",
                           control_plugins=("halve",))
    _, trx = pw.kb.payment.payments.transact(pw.ctx, call)
    assert (trx.processed_amount, trx.status) == (Decimal("5.00"), TransactionStatus.SUCCESS)
    assert heard == [("success", "SUCCESS")]
    with pytest.raises(PaymentError) as err:
        pw.kb.payment.payments.transact(pw.ctx, TransactionCall(
            pw.account_id, TransactionType.PURCHASE, amount=Decimal("500"), currency="USD",
            control_plugins=("halve",)))
    assert (err.value.status, err.value.code) == (422, 7106)
    with pytest.raises(PaymentError):
        pw.kb.payment.payments.transact(pw.ctx, TransactionCall(
            pw.account_id, TransactionType.PURCHASE, amount=Decimal("1"), currency="USD",
            control_plugins=("nope",)))
    assert len(pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)) == 1
