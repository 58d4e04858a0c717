"""A gateway call that overruns the tenant's plugin timeout is recorded UNKNOWN (504), never guessed; the janitor
asks the plugin later (`org.killbill.payment.janitor.unknown.retries`: 5m first) and settles it."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from decimal import Decimal

import pytest

from billow.payment.errors import PaymentOutcomeError
from billow.payment.model import TransactionStatus, TransactionType
from billow.payment.plugin_api import (
    PaymentPluginStatus,
    PaymentTransactionInfo,
    PluginContext,
    PluginProperty,
    TransactionRequest,
)
from billow.payment.processor import TransactionCall
from billow.payment.provider.external import ExternalPaymentPlugin
from tests.payment.conftest import PayWorld


class SlowGateway(ExternalPaymentPlugin):
    """Answers only once released; remembers what it did (its `get_payment_info`)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.done = threading.Event()
        self.seen: list[PaymentTransactionInfo] = []

    def purchase_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        self.release.wait(30)
        info = super().purchase_payment(req, ctx)
        self.seen.append(replace(info, amount=req.amount))
        self.done.set()
        return info

    def get_payment_info(self, kb_account_id: str, kb_payment_id: str, properties: list[PluginProperty],
                         ctx: PluginContext) -> list[PaymentTransactionInfo]:  # type: ignore[override]
        return [i for i in self.seen if i.kb_payment_id == kb_payment_id]


def test_timeout_is_unknown_then_the_janitor_settles_it(pw: PayWorld) -> None:
    gateway = SlowGateway()
    pw.kb.payment.plugins.register("slow-gateway", gateway)
    pw.kb.tenants.add_value(pw.ctx, "PER_TENANT_CONFIG",
                            json.dumps({"org.killbill.payment.plugin.timeout": "100ms"}), replace=True)
    pw.add_method("slow-gateway")
    with pytest.raises(PaymentOutcomeError) as err:
        pw.kb.payment.payments.transact(pw.ctx, TransactionCall(pw.account_id, TransactionType.PURCHASE,
                                                                amount=Decimal("9.99"), currency="USD"))
    assert err.value.status == 504
    assert pw.kb.run_until_idle(30)  # the PAYMENT_FAILED event schedules the janitor's first look (now + 5m)
    payment = pw.kb.payment.payments.get(pw.ctx, err.value.payment_id)
    (trx,) = payment.transactions
    assert (trx.status, trx.processed_amount, payment.state_name) == (TransactionStatus.UNKNOWN, 0,
                                                                      "PURCHASE_ERRORED")
    gateway.release.set()
    assert gateway.done.wait(30)
    assert gateway.seen[0].status is PaymentPluginStatus.PROCESSED
    pw.w.advance(minutes=6)
    settled = pw.kb.payment.payments.get(pw.ctx, payment.id)
    assert (settled.transactions[0].status, settled.transactions[0].processed_amount, settled.state_name) == (
        TransactionStatus.SUCCESS, Decimal("9.99"), "PURCHASE_SUCCESS")
