"""Payment control plugins (Kill Bill's `PaymentControlPluginApi`): code that runs around a payment transaction,
named per call (`controlPluginName` query parameters), found through the entry-point group
`billow.payment_control_plugins`.

`prior_call` runs before anything is recorded: it may abort the call (422, `PAYMENT_PLUGIN_API_ABORTED`) or adjust
its amount, currency, payment method or plugin properties. `on_success_call` / `on_failure_call` run after the
outcome is recorded, outside any database transaction. (Billow's own invoice payment control,
`billow.payment.invoice_control`, runs inside the recording unit of work instead: it writes invoice rows.)
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billow.payment.plugin_api import PluginProperty, TransactionType

CONTROL_ENTRY_POINT_GROUP = "billow.payment_control_plugins"


@dataclass(frozen=True, slots=True)
class PaymentControlContext:
    """Kill Bill's `PaymentControlContext`: the call being made (ids are None before they exist)."""

    tenant_id: str
    account_id: str
    transaction_type: TransactionType
    amount: Decimal | None
    currency: str | None
    payment_method_id: str | None
    payment_id: str | None
    payment_external_key: str | None
    transaction_external_key: str | None
    transaction_id: str | None
    transaction_status: str | None
    is_api_payment: bool
    now: datetime


@dataclass(frozen=True, slots=True)
class PriorPaymentControlResult:
    is_aborted: bool = False
    adjusted_amount: Decimal | None = None
    adjusted_currency: str | None = None
    adjusted_payment_method_id: str | None = None
    adjusted_plugin_properties: tuple[PluginProperty, ...] | None = None


@dataclass(frozen=True, slots=True)
class OnSuccessPaymentControlResult:
    adjusted_plugin_properties: tuple[PluginProperty, ...] | None = None


@dataclass(frozen=True, slots=True)
class OnFailurePaymentControlResult:
    next_retry_date: datetime | None = None
    adjusted_plugin_properties: tuple[PluginProperty, ...] | None = None


class PaymentControlPluginApi(ABC):  # noqa: B024 - every method has Kill Bill's pass-through default
    def prior_call(self, ctx: PaymentControlContext, properties: tuple[PluginProperty, ...]
                   ) -> PriorPaymentControlResult:
        return PriorPaymentControlResult()

    def on_success_call(self, ctx: PaymentControlContext, properties: tuple[PluginProperty, ...]
                        ) -> OnSuccessPaymentControlResult:
        return OnSuccessPaymentControlResult()

    def on_failure_call(self, ctx: PaymentControlContext, properties: tuple[PluginProperty, ...]
                        ) -> OnFailurePaymentControlResult:
        return OnFailurePaymentControlResult()
