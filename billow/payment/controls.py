"""Running the control plugins a caller names around one transaction (Kill Bill's `PluginControlPaymentProcessor`,
without its retries): `prior_call` in order (an abort stops the call, adjustments chain), then after the outcome is
recorded `on_success_call` or `on_failure_call`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from billow.payment.control_api import PaymentControlContext, PaymentControlPluginApi
from billow.payment.errors import aborted, no_such_plugin
from billow.payment.model import PaymentTransaction, TransactionStatus
from billow.payment.plugins import PaymentPluginRegistry
from billow.payment.processor import TransactionCall


def resolve(registry: PaymentPluginRegistry, names: Sequence[str]) -> list[PaymentControlPluginApi]:
    out = []
    for name in names:
        plugin = registry.control(name)
        if plugin is None:
            raise no_such_plugin(name)
        out.append(plugin)
    return out


def _context(tenant_id: str, call: TransactionCall, now: datetime, trx: PaymentTransaction | None = None
             ) -> PaymentControlContext:
    return PaymentControlContext(
        tenant_id=tenant_id, account_id=call.account_id, transaction_type=call.kind, amount=call.amount,
        currency=call.currency, payment_method_id=call.payment_method_id,
        payment_id=trx.payment_id if trx else call.payment_id, payment_external_key=call.payment_external_key,
        transaction_external_key=trx.external_key if trx else call.transaction_external_key,
        transaction_id=trx.id if trx else call.transaction_id,
        transaction_status=trx.status.value if trx else None, is_api_payment=call.api, now=now)


def prior(plugins: Sequence[PaymentControlPluginApi], tenant_id: str, call: TransactionCall, now: datetime
          ) -> TransactionCall:
    for plugin in plugins:
        result = plugin.prior_call(_context(tenant_id, call, now), call.properties)
        if result.is_aborted:
            raise aborted(type(plugin).__name__)
        call = dataclasses.replace(
            call,
            amount=result.adjusted_amount if result.adjusted_amount is not None else call.amount,
            currency=result.adjusted_currency or call.currency,
            payment_method_id=result.adjusted_payment_method_id or call.payment_method_id,
            properties=result.adjusted_plugin_properties if result.adjusted_plugin_properties is not None
            else call.properties)
    return call


def after(plugins: Sequence[PaymentControlPluginApi], tenant_id: str, call: TransactionCall,
          trx: PaymentTransaction, now: datetime) -> None:
    ctx = _context(tenant_id, call, now, trx)
    for plugin in plugins:
        if trx.status is TransactionStatus.SUCCESS:
            plugin.on_success_call(ctx, call.properties)
        elif trx.status is not TransactionStatus.PENDING:
            plugin.on_failure_call(ctx, call.properties)
