"""Kill Bill's `killbill-payment-test` plugin (`PaymentTestPluginApi`, `TestingStates`), per tenant.

`POST /plugins/killbill-payment-test/configure` with `{"CONFIGURE_ACTION": ..., "METHODS": ..., "SLEEP_TIME_SEC":
..., "AMOUNT": ...}` sets what the next calls answer, for one plugin method (`METHODS`, e.g. `purchasePayment`)
or all (`*`); `ACTION_CLEAR` forgets it. A plugin property whose key is an action and whose value is empty,
`*` or the method name applies that action to one call. Answers are kept (per tenant, in memory) and returned
by `get_payment_info`, so the janitor sees them.

Kill Bill's plugin multiplies the sleep by 1,000,000 ms (so the core's plugin timeout always fires first);
this one sleeps at most the tenant's plugin timeout plus one second, with the same visible outcome: UNKNOWN.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from billow.payment.plugin_api import (
    PaymentPluginApi,
    PaymentPluginApiException,
    PaymentPluginStatus,
    PaymentTransactionInfo,
    PluginContext,
    PluginProperty,
    TransactionRequest,
    TransactionType,
)

PLUGIN_NAME = "killbill-payment-test"
SLEEP_PLUGIN_CONFIG_PARAM = "sleepFor"


class Action(StrEnum):
    """`TestingStates.Actions`."""

    ACTION_RETURN_PLUGIN_STATUS_PENDING = "ACTION_RETURN_PLUGIN_STATUS_PENDING"
    ACTION_RETURN_PLUGIN_STATUS_ERROR = "ACTION_RETURN_PLUGIN_STATUS_ERROR"
    ACTION_RETURN_PLUGIN_STATUS_CANCELED = "ACTION_RETURN_PLUGIN_STATUS_CANCELED"
    ACTION_THROW_EXCEPTION = "ACTION_THROW_EXCEPTION"
    RETURN_NIL = "RETURN_NIL"
    ACTION_SLEEP = "ACTION_SLEEP"
    ACTION_CLEAR = "ACTION_CLEAR"


METHODS = ("authorizePayment", "capturePayment", "purchasePayment", "voidPayment", "creditPayment",
           "refundPayment", "getPaymentInfo", "searchPayments", "addPaymentMethod", "deletePaymentMethod",
           "getPaymentMethodDetail", "setDefaultPaymentMethod", "getPaymentMethods", "searchPaymentMethods",
           "resetPaymentMethods", "buildFormDescriptor", "processNotification")

_METHOD_OF = {TransactionType.AUTHORIZE: "authorizePayment", TransactionType.CAPTURE: "capturePayment",
              TransactionType.PURCHASE: "purchasePayment", TransactionType.VOID: "voidPayment",
              TransactionType.CREDIT: "creditPayment", TransactionType.REFUND: "refundPayment"}


class ConfigureError(ValueError):
    """A configure request Kill Bill's plugin answers 400 ("Error adding")."""


@dataclass
class _TenantState:
    states: dict[str, Action] = field(default_factory=dict)
    sleeps: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    responses: dict[str, list[PaymentTransactionInfo]] = field(default_factory=dict)  # by payment id


def _is_action(key: str) -> Action | None:
    try:
        return Action(key)
    except ValueError:
        return None


def _matches(value: object, method: str) -> bool:
    return value is None or str(value) in ("", "*", method)


class TestPaymentPlugin(PaymentPluginApi):
    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tenants: dict[str, _TenantState] = {}

    def _state(self, tenant_id: str) -> _TenantState:
        with self._lock:
            return self._tenants.setdefault(tenant_id, _TenantState())

    # -- configuration ------------------------------------------------------------------------------
    def configure(self, body: Mapping[str, object], ctx: PluginContext) -> Mapping[str, object]:
        state = self._state(ctx.tenant_id)
        raw_action = body.get("CONFIGURE_ACTION")
        method = body.get("METHODS")
        sleep = body.get("SLEEP_TIME_SEC")
        amount = body.get("AMOUNT")
        if method is not None and (not isinstance(method, str) or method not in METHODS):
            raise ConfigureError("Error adding")
        scope = method if isinstance(method, str) and method else "*"
        if raw_action is None and sleep is None and amount is None:
            raise ConfigureError("Error adding")
        with self._lock:
            if raw_action is not None:
                action = _is_action(str(raw_action))
                if action is None:
                    raise ConfigureError("Error adding")
                if action is Action.ACTION_CLEAR:
                    for table in (state.states, state.sleeps, state.amounts):
                        if method is None:
                            table.clear()
                        else:
                            table.pop(scope, None)
                else:
                    state.states[scope] = action
            if sleep is not None:
                try:
                    state.sleeps[scope] = int(str(sleep))
                except ValueError as exc:
                    raise ConfigureError("Error adding") from exc
            if amount is not None:
                try:
                    state.amounts[scope] = Decimal(str(amount))
                except InvalidOperation as exc:
                    raise ConfigureError("Error adding") from exc
        return self.status(ctx)

    def status(self, ctx: PluginContext) -> Mapping[str, object]:
        state = self._state(ctx.tenant_id)
        with self._lock:
            return {"states": {k: str(v) for k, v in state.states.items()},
                    "sleeps": dict(state.sleeps),
                    "amounts": {k: str(v) for k, v in state.amounts.items()}}

    # -- behaviour ----------------------------------------------------------------------------------
    def _action(self, state: _TenantState, method: str, props: Sequence[PluginProperty]) -> Action | None:
        for prop in props:
            action = _is_action(prop.key)
            if action is not None and _matches(prop.value, method):
                return action
        return state.states.get("*") or state.states.get(method)

    def _sleep(self, state: _TenantState, method: str, props: Sequence[PluginProperty]) -> int:
        if any(_is_action(p.key) is Action.ACTION_SLEEP and _matches(p.value, method) for p in props):
            for prop in props:
                if prop.key == SLEEP_PLUGIN_CONFIG_PARAM:
                    return int(str(prop.value))
        value = state.sleeps.get("*") if state.sleeps.get("*") is not None else state.sleeps.get(method)
        return value if value is not None and value > 0 else 0

    def _handle(self, kind: TransactionType, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        method = _METHOD_OF[kind]
        state = self._state(ctx.tenant_id)
        with self._lock:
            action = self._action(state, method, req.properties)
            sleep = self._sleep(state, method, req.properties)
            override = state.amounts.get("*") or state.amounts.get(method)
        for prop in req.properties:
            if prop.key == "amount":
                override = Decimal(str(prop.value))
        if sleep > 0:
            time.sleep(min(sleep, ctx.timeout_seconds + 1))
        status = PaymentPluginStatus.PROCESSED
        if action is Action.RETURN_NIL:
            return None  # type: ignore[return-value]  # Kill Bill's plugin really returns null here
        if action is Action.ACTION_THROW_EXCEPTION:
            raise PaymentPluginApiException("test", f"{action} for {method}")
        if action is not None:
            status = {Action.ACTION_RETURN_PLUGIN_STATUS_CANCELED: PaymentPluginStatus.CANCELED,
                      Action.ACTION_RETURN_PLUGIN_STATUS_PENDING: PaymentPluginStatus.PENDING,
                      Action.ACTION_RETURN_PLUGIN_STATUS_ERROR: PaymentPluginStatus.ERROR,
                      }.get(action, PaymentPluginStatus.UNDEFINED)
        info = PaymentTransactionInfo(
            kb_payment_id=req.kb_payment_id, kb_transaction_id=req.kb_transaction_id, transaction_type=kind,
            status=status, amount=override if override is not None else req.amount, currency=req.currency,
            created_date=ctx.now, effective_date=ctx.now,
            gateway_error="gateway error" if status is PaymentPluginStatus.ERROR else None,
            gateway_error_code="ERROR" if status is PaymentPluginStatus.ERROR else None)
        with self._lock:
            state.responses.setdefault(req.kb_payment_id, []).append(info)
        return info

    def settle(self, tenant_id: str, kb_transaction_id: str, status: PaymentPluginStatus) -> None:
        """Test hook: the gateway settles a transaction it answered PENDING or UNDEFINED (seen by the janitor)."""
        state = self._state(tenant_id)
        with self._lock:
            for infos in state.responses.values():
                for i, info in enumerate(infos):
                    if info.kb_transaction_id == kb_transaction_id:
                        infos[i] = replace(info, status=status)

    def get_payment_info(self, kb_account_id: str, kb_payment_id: str, properties: Sequence[PluginProperty],
                         ctx: PluginContext) -> list[PaymentTransactionInfo]:
        state = self._state(ctx.tenant_id)
        with self._lock:
            return list(state.responses.get(kb_payment_id, []))

    def authorize_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._handle(TransactionType.AUTHORIZE, req, ctx)

    def capture_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._handle(TransactionType.CAPTURE, req, ctx)

    def purchase_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._handle(TransactionType.PURCHASE, req, ctx)

    def void_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._handle(TransactionType.VOID, req, ctx)

    def credit_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._handle(TransactionType.CREDIT, req, ctx)

    def refund_payment(self, req: TransactionRequest, ctx: PluginContext) -> PaymentTransactionInfo:
        return self._handle(TransactionType.REFUND, req, ctx)
