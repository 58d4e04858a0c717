"""The payment plugin interface: what a gateway package implements (Kill Bill's `PaymentPluginApi`).

A gateway is a separate pip-installable package. It declares its plugin under the entry-point group
`billow.payment_plugins`; the entry point's name is the plugin name payment methods carry (Kill Bill's
`pluginName`), and its object is a class or a factory called with no argument::

    [project.entry-points."billow.payment_plugins"]
    killbill-stripe = "billow_stripe.plugin:StripePaymentPlugin"

Billow calls the plugin outside any database transaction, in a worker thread with a timeout (a call that
overruns becomes an UNKNOWN transaction the janitor re-checks later through `get_payment_info`). A plugin is
shared by all tenants: everything tenant-specific arrives in the `PluginContext`, among it the tenant's
configuration of the plugin (Kill Bill's `POST /1.0/kb/tenants/uploadPluginConfig/{pluginName}` text,
parsed as `key=value` or `key: value` lines).

What a plugin answers, and what Billow makes of it (Kill Bill's `PaymentTransactionInfoPluginConverter`):

| `PaymentPluginStatus` | transaction status | HTTP of the payment call |
|---|---|---|
| PROCESSED | SUCCESS | 201 |
| PENDING | PENDING | 201 |
| ERROR (declined) | PAYMENT_FAILURE | 402 |
| CANCELED (surely not attempted) | PLUGIN_FAILURE | 502 |
| UNDEFINED (may have happened) | UNKNOWN | 503 |
| raises `PaymentPluginApiException` | UNKNOWN | 400 |
| overruns the tenant's plugin timeout | UNKNOWN | 504 |

A plugin must be thread-safe and must never return a guess: if it cannot tell what the gateway did, it
answers UNDEFINED and lets `get_payment_info` tell later.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

ENTRY_POINT_GROUP = "billow.payment_plugins"
REFERENCE_IDS_PROPERTY = "billow.paymentReferenceIds"


class TransactionType(StrEnum):
    """Kill Bill's `TransactionType`, in its declaration order."""

    AUTHORIZE = "AUTHORIZE"
    CAPTURE = "CAPTURE"
    CHARGEBACK = "CHARGEBACK"
    CREDIT = "CREDIT"
    PURCHASE = "PURCHASE"
    REFUND = "REFUND"
    VOID = "VOID"


class PaymentPluginStatus(StrEnum):
    """Kill Bill's `PaymentPluginStatus`: what a plugin says happened at the gateway."""

    PROCESSED = "PROCESSED"
    PENDING = "PENDING"
    ERROR = "ERROR"
    UNDEFINED = "UNDEFINED"
    CANCELED = "CANCELED"


@dataclass(frozen=True, slots=True)
class PluginProperty:
    """Kill Bill's `PluginProperty`: a free key/value passed to or returned by a plugin."""

    key: str
    value: object = None
    is_updatable: bool = False


def property_value(properties: Sequence[PluginProperty], key: str) -> object | None:
    """The value of the last property named `key`, or None."""
    found: object | None = None
    for prop in properties:
        if prop.key == key:
            found = prop.value
    return found


@dataclass(frozen=True, slots=True)
class PluginConfig:
    """A tenant's configuration of one plugin (Kill Bill's `uploadPluginConfig` text, parsed)."""

    plugin_name: str
    raw: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)

    @classmethod
    def parse(cls, plugin_name: str, raw: str | None) -> PluginConfig:
        """Java-properties or flat YAML lines (`key=value`, `key: value`); `#` and `!` start comments."""
        values: dict[str, str] = {}
        for line in (raw or "").splitlines():
            text = line.strip()
            if not text or text[0] in "#!":
                continue
            cut = [i for i in (text.find("="), text.find(":")) if i > 0]
            if not cut:
                continue
            i = min(cut)
            values[text[:i].strip()] = text[i + 1:].strip().strip('"').strip("'")
        return cls(plugin_name=plugin_name, raw=raw, values=values)


@dataclass(frozen=True, slots=True)
class PluginContext:
    """Who calls and when (Kill Bill's `CallContext`/`TenantContext`), plus the tenant's plugin config."""

    tenant_id: str
    config: PluginConfig
    now: datetime
    user_token: str | None = None
    timeout_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class PaymentTransactionInfo:
    """Kill Bill's `PaymentTransactionInfoPlugin`: the outcome of one transaction at the gateway.

    `amount` None means "the requested amount". `kb_transaction_id` is how the janitor matches a result of
    `get_payment_info` to a Billow transaction.
    """

    kb_payment_id: str
    kb_transaction_id: str
    transaction_type: TransactionType
    status: PaymentPluginStatus
    amount: Decimal | None = None
    currency: str | None = None
    created_date: datetime | None = None
    effective_date: datetime | None = None
    gateway_error: str | None = None
    gateway_error_code: str | None = None
    first_payment_reference_id: str | None = None
    second_payment_reference_id: str | None = None
    properties: tuple[PluginProperty, ...] = ()


@dataclass(frozen=True, slots=True)
class PaymentMethodDetail:
    """Kill Bill's `PaymentMethodPlugin`: a payment method as the gateway knows it."""

    kb_payment_method_id: str
    external_payment_method_id: str | None = None
    is_default: bool = False
    properties: tuple[PluginProperty, ...] = ()


@dataclass(frozen=True, slots=True)
class PaymentMethodInfo:
    """Kill Bill's `PaymentMethodInfoPlugin`: one entry of `get_payment_methods`."""

    account_id: str
    payment_method_id: str | None
    is_default: bool
    external_payment_method_id: str | None


@dataclass(frozen=True, slots=True)
class FormDescriptor:
    """Kill Bill's `HostedPaymentPageFormDescriptor` (a hosted payment page or a 3-D Secure step)."""

    kb_account_id: str
    form_method: str | None = None
    form_url: str | None = None
    form_fields: tuple[PluginProperty, ...] = ()
    properties: tuple[PluginProperty, ...] = ()


@dataclass(frozen=True, slots=True)
class GatewayNotification:
    """Kill Bill's `GatewayNotification`: what a plugin answers a gateway's webhook with.

    `kb_payment_id` (when known) asks Billow to re-check that payment with `get_payment_info` at once.
    """

    kb_payment_id: str | None = None
    status: int = 200
    entity: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    properties: tuple[PluginProperty, ...] = ()


class PaymentPluginApiException(Exception):
    """Kill Bill's `PaymentPluginApiException`: the plugin could not do what was asked.

    Billow records the transaction UNKNOWN (the gateway may have seen it) and answers 400.
    """

    def __init__(self, error_type: str, error_message: str) -> None:
        super().__init__(f"{error_type}: {error_message}")
        self.error_type = error_type
        self.error_message = error_message


@dataclass(frozen=True, slots=True)
class TransactionRequest:
    """The arguments Kill Bill passes to every transaction method of `PaymentPluginApi`."""

    kb_account_id: str
    kb_payment_id: str
    kb_transaction_id: str
    kb_payment_method_id: str
    amount: Decimal | None
    currency: str | None
    properties: tuple[PluginProperty, ...] = ()
    # Billow's own: the properties of the payment method as `add_payment_method` answered them (a gateway's ids
    # for the method and its customer), so that a plugin needs no tables of its own to find them
    payment_method_properties: tuple[PluginProperty, ...] = ()
    # Billow's own: the gateway references (`first_payment_reference_id`) the payment's earlier transactions got,
    # oldest first: what a capture, void or refund refers to at the gateway
    payment_reference_ids: tuple[str, ...] = ()


class PaymentPluginApi(ABC):
    """A payment gateway. Transaction methods are required; payment-method and gateway methods have
    Kill Bill's `__EXTERNAL_PAYMENT__` behaviour by default (accept, store nothing, return nothing)."""

    # -- transactions --------------------------------------------------------------------------------
    @abstractmethod
    def authorize_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo: ...

    @abstractmethod
    def capture_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo: ...

    @abstractmethod
    def purchase_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo: ...

    @abstractmethod
    def void_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo: ...

    @abstractmethod
    def credit_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo: ...

    @abstractmethod
    def refund_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo: ...

    def get_payment_info(self, kb_account_id: str, kb_payment_id: str, properties: Sequence[PluginProperty],
                         ctx: PluginContext) -> list[PaymentTransactionInfo]:
        """Every transaction of a payment as the gateway now sees it (the janitor's source of truth). Billow passes
        the payment method's properties and, as `REFERENCE_IDS_PROPERTY` (comma-separated), the gateway references
        its transactions have recorded (none for one whose outcome a crash lost)."""
        return []

    # -- payment methods -----------------------------------------------------------------------------
    def add_payment_method(self, kb_account_id: str, detail: PaymentMethodDetail, set_default: bool,
                           properties: Sequence[PluginProperty], ctx: PluginContext) -> PaymentMethodDetail:
        """Registers a method at the gateway; the answer may carry the gateway's external id."""
        return detail

    def delete_payment_method(self, kb_account_id: str, kb_payment_method_id: str,
                              properties: Sequence[PluginProperty], ctx: PluginContext) -> None:
        return None

    def get_payment_method_detail(self, kb_account_id: str, kb_payment_method_id: str,
                                  properties: Sequence[PluginProperty], ctx: PluginContext) -> PaymentMethodDetail:
        return PaymentMethodDetail(kb_payment_method_id=kb_payment_method_id, external_payment_method_id="unknown")

    def set_default_payment_method(self, kb_account_id: str, kb_payment_method_id: str,
                                   properties: Sequence[PluginProperty], ctx: PluginContext) -> None:
        return None

    def get_payment_methods(self, kb_account_id: str, refresh_from_gateway: bool,
                            properties: Sequence[PluginProperty], ctx: PluginContext) -> list[PaymentMethodInfo]:
        return []

    # -- gateway ------------------------------------------------------------------------------------
    def build_form_descriptor(self, kb_account_id: str, custom_fields: Sequence[PluginProperty],
                              properties: Sequence[PluginProperty], ctx: PluginContext) -> FormDescriptor:
        return FormDescriptor(kb_account_id=kb_account_id)

    def process_notification(self, notification: str, properties: Sequence[PluginProperty],
                             ctx: PluginContext) -> GatewayNotification:
        return GatewayNotification()

    # -- plugin-specific HTTP (Kill Bill's /plugins/{name}/...) --------------------------------------
    def configure(self, body: Mapping[str, object], ctx: PluginContext) -> Mapping[str, object] | None:
        """`POST /plugins/{name}/configure`; None means the plugin has no such resource (404)."""
        return None

    def status(self, ctx: PluginContext) -> Mapping[str, object] | None:
        """`GET /plugins/{name}/status`; None means the plugin has no such resource (404)."""
        return None


def call_transaction(plugin: PaymentPluginApi, kind: TransactionType, req: TransactionRequest,
                     ctx: PluginContext) -> PaymentTransactionInfo:
    """Dispatches a transaction type to its plugin method (CHARGEBACK never reaches a plugin)."""
    method = {
        TransactionType.AUTHORIZE: plugin.authorize_payment,
        TransactionType.CAPTURE: plugin.capture_payment,
        TransactionType.PURCHASE: plugin.purchase_payment,
        TransactionType.VOID: plugin.void_payment,
        TransactionType.CREDIT: plugin.credit_payment,
        TransactionType.REFUND: plugin.refund_payment,
    }.get(kind)
    if method is None:
        raise ValueError(f"{kind} has no plugin method")
    return method(req, ctx)
