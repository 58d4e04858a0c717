"""Running one payment transaction (Kill Bill's `PaymentProcessor` + `PaymentAutomatonRunner`), in three steps
so that no database transaction stays open across a gateway call:

1. `prepare` (one unit of work, under the account lock): resolve the payment (id, payment key, transaction
   key), check the account, keys, amounts and the state machine's legal operations, and record a new
   transaction UNKNOWN (or pick the PENDING one being completed);
2. the plugin is called outside any transaction, in a worker thread, with the tenant's timeout;
3. `record` (one unit of work, under the account lock): the outcome (status, processed amount, gateway
   error, reference ids), the payment's states, and the bus event; hooks (invoice payments) run in the same
   unit of work.

A crash between 2 and 3 leaves the transaction UNKNOWN: the janitor asks the plugin later and settles it.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import TypeVar

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.core import failpoints
from billow.core.clock import Clock, SystemClock
from billow.core.context import CallContext
from billow.core.db import Database, UnitOfWork, leases
from billow.core.limits import check_text
from billow.core.money import round_money
from billow.payment import states, store
from billow.payment.config import PaymentConfig, Settings
from billow.payment.errors import (
    ACTIVE_TRANSACTION_KEY_EXISTS,
    DIFFERENT_ACCOUNT_ID,
    INVALID_PARAMETER,
    METHOD_DIFFERENT_ACCOUNT_ID,
    NO_SUCH_SUCCESS_PAYMENT,
    TRANSACTION_DIFFERENT_ACCOUNT_ID,
    AccountBusy,
    PaymentError,
    invalid_operation,
    invalid_parameter,
    no_default_method,
    no_such_method,
    no_such_payment,
    no_such_plugin,
)
from billow.payment.events import payment_event
from billow.payment.model import Payment, PaymentMethod, PaymentTransaction, TransactionStatus
from billow.payment.plugin_api import (
    REFERENCE_IDS_PROPERTY,
    PaymentPluginApi,
    PaymentPluginApiException,
    PaymentPluginStatus,
    PaymentTransactionInfo,
    PluginContext,
    PluginProperty,
    TransactionRequest,
    TransactionType,
    call_transaction,
)
from billow.payment.plugins import PaymentPluginRegistry, plugin_config
from billow.tenant.internal import TenantInternalApi

log = logging.getLogger(__name__)

_ZERO = Decimal(0)
T = TypeVar("T")
# a lease (`billow.core.db.leases`) outlives the plugin timeout by this margin, so that a call still running is never
# overtaken
LEASE_MARGIN_S = 30.0


@dataclass(frozen=True)
class TransactionCall:
    """What a caller asks (Kill Bill's `PaymentApi.createXXX` arguments)."""

    account_id: str
    kind: TransactionType
    amount: Decimal | None = None
    currency: str | None = None
    payment_id: str | None = None
    payment_method_id: str | None = None
    payment_external_key: str | None = None
    transaction_external_key: str | None = None
    transaction_id: str | None = None  # the transaction a chargeback reversal or completion names
    properties: tuple[PluginProperty, ...] = ()
    api: bool = True
    force_status: TransactionStatus | None = None  # reversal (PAYMENT_FAILURE), notifyPending (SUCCESS/FAILURE)
    attempt_id: str | None = None
    control_plugins: tuple[str, ...] = ()  # payment control plugins around the call (`controlPluginName`)


@dataclass
class Prepared:
    call: TransactionCall
    account: Account
    payment: Payment
    transaction: PaymentTransaction
    method: PaymentMethod
    plugin: PaymentPluginApi | None
    context: PluginContext | None
    config: PaymentConfig
    previous_success_state: str | None = None
    lease: str | None = None  # the account's payment lease this call holds until its outcome is recorded


@dataclass
class Outcome:
    status: TransactionStatus
    info: PaymentTransactionInfo | None = None
    error_code: str | None = None
    error_message: str | None = None
    http: int = 201
    failure: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


# An outcome hook: runs in the recording unit of work (invoice payment control)
OutcomeHook = Callable[[UnitOfWork, Prepared, Payment, PaymentTransaction], None]


def reference_ids(payment: Payment) -> tuple[str, ...]:
    """The gateway references of a payment's transactions, oldest first, once each."""
    return tuple(dict.fromkeys(t.first_payment_reference_id for t in payment.transactions
                               if t.first_payment_reference_id))


def info_properties(method: PaymentMethod, payment: Payment) -> tuple[PluginProperty, ...]:
    """What `get_payment_info` is given: the method's properties and the payment's gateway references."""
    return method.plugin_info + (PluginProperty(REFERENCE_IDS_PROPERTY, ",".join(reference_ids(payment))),)


class PaymentProcessor:
    def __init__(self, accounts: AccountInternalApi, tenants: TenantInternalApi, plugins: PaymentPluginRegistry,
                 settings: Settings, *, threads: int = 10, wall_clock: Clock | None = None) -> None:
        self.accounts = accounts
        # leases expire by the wall clock: a test clock that jumps must not free one
        self.wall_clock: Clock = wall_clock or SystemClock()
        self.tenants = tenants
        self.plugins = plugins
        self.settings = settings
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="payment-plugin")
        # called in the unit of work that records new transactions before their gateway calls (the janitor's guard)
        self.on_new_transactions: list[Callable[[UnitOfWork, Sequence[Prepared]], None]] = []

    def config(self, uow: UnitOfWork) -> PaymentConfig:
        return PaymentConfig.of(self.settings(uow))

    def plugin_context(self, uow: UnitOfWork, plugin_name: str, config: PaymentConfig) -> PluginContext:
        return PluginContext(tenant_id=self.tenants.tenant_id(uow),
                             config=plugin_config(uow, self.tenants, plugin_name), now=uow.now,
                             user_token=uow.ctx.user_token, timeout_seconds=config.plugin_timeout)

    def plugin(self, name: str) -> PaymentPluginApi:
        plugin = self.plugins.get(name)
        if plugin is None:
            raise no_such_plugin(name)
        return plugin

    # -- 1. prepare ----------------------------------------------------------------------------------------
    def resolve(self, uow: UnitOfWork, call: TransactionCall) -> Payment | None:
        if call.payment_id is not None:
            found = store.payment(uow.conn, uow.tenant, payment_id=call.payment_id)
            if found is None:
                raise no_such_payment(call.payment_id)
            return found
        if call.payment_external_key is not None:
            found = store.payment(uow.conn, uow.tenant, external_key=call.payment_external_key)
            if found is not None:
                return found
        if call.transaction_external_key is not None:
            trx = store.transactions_by_key(uow.conn, uow.tenant, call.transaction_external_key)
            live = [t for t, _ in trx if t.status in (TransactionStatus.SUCCESS, TransactionStatus.PENDING,
                                                       TransactionStatus.UNKNOWN)]
            pick = live[-1] if live else (trx[-1][0] if trx else None)
            if pick is not None and pick.transaction_type is call.kind or (pick is not None and call.kind not in
                                                                            states.INITIAL):
                return store.payment(uow.conn, uow.tenant, payment_id=pick.payment_id)
        return None

    def prepare_with_lease(self, db: Database, ctx: CallContext, make: Callable[[UnitOfWork], T]) -> T:
        """`make` (which calls `prepare`) in its own unit of work, again while another call holds the account's
        lease: Kill Bill's global lock, tried `LEASE_TRIES` times `LEASE_WAIT_S` apart
        (`org.killbill.payment.globalLock.retries`, 50 x 100 ms)."""
        def attempt() -> T:
            with db.transaction(ctx) as uow:
                return make(uow)

        return leases.retry_while_busy(attempt)

    def prepare(self, uow: UnitOfWork, call: TransactionCall) -> Prepared:
        account = self.accounts.get(uow, call.account_id)
        uow.lock_account(account.record_id)
        config = self.config(uow)
        lease = str(uuid.uuid4())
        wall = self.wall_clock.utcnow()
        if not leases.take(uow.conn, account.record_id, lease, wall,
                           wall + timedelta(seconds=config.plugin_timeout + LEASE_MARGIN_S)):
            raise AccountBusy(f"Failed to lock account {account.id}: another payment of the account is in progress")
        prep = self._prepare(uow, call, account, config)
        return dataclasses.replace(prep, lease=lease)

    def _prepare(self, uow: UnitOfWork, call: TransactionCall, account: Account, config: PaymentConfig) -> Prepared:
        for name, key in (("paymentExternalKey", call.payment_external_key),
                          ("transactionExternalKey", call.transaction_external_key)):
            if key is not None:
                check_text(name, key, store.KEY_LENGTH)
        payment = self.resolve(uow, call)
        if payment is not None and payment.account_id != account.id:
            raise PaymentError(DIFFERENT_ACCOUNT_ID, f"Payment {payment.id} has a different account id")
        if call.transaction_external_key is not None:
            for t, arid in store.transactions_by_key(uow.conn, uow.tenant, call.transaction_external_key):
                if arid != account.record_id:
                    raise PaymentError(TRANSACTION_DIFFERENT_ACCOUNT_ID,
                                       f"Payment transaction {t.id} has a different account id")
                if t.status is TransactionStatus.SUCCESS and t.transaction_type is not TransactionType.CHARGEBACK \
                        and call.force_status is None:
                    raise PaymentError(ACTIVE_TRANSACTION_KEY_EXISTS, "Successful transaction with external key "
                                       f"{call.transaction_external_key} already exists")
        # completing a PENDING transaction (same key or id) in place
        pending = self._pending_to_complete(payment, call)
        if pending is not None:
            method = self._method(uow, account, payment.payment_method_id if payment else None)
            assert payment is not None
            return self._prepared(uow, call, account, payment, pending, method, config)
        if payment is not None and call.kind in states.INITIAL and any(
                t.status is TransactionStatus.PENDING for t in payment.transactions):
            raise invalid_operation(call.kind.value, payment.state_name)
        if call.kind is TransactionType.CHARGEBACK and call.force_status is TransactionStatus.PAYMENT_FAILURE:
            self._check_reversal(payment, call)
        elif payment is None:
            if call.kind not in states.INITIAL:
                raise no_such_payment(call.payment_id or call.payment_external_key or "null")
        elif not states.is_legal(payment.last_success_state_name, call.kind):
            raise invalid_operation(call.kind.value, payment.last_success_state_name or states.BIG_BANG_INIT)
        method = self._method(uow, account, call.payment_method_id if payment is None else payment.payment_method_id)
        currency, amount = self._amount(account, payment, call, config)
        if payment is None:
            payment_id = str(uuid.uuid4())  # the external key defaults to the id: both known before the insert
            row = uow.insert("payments", {
                "id": payment_id, "account_record_id": account.record_id, "account_id": account.id,
                "payment_method_id": method.id, "external_key": call.payment_external_key or payment_id,
                "state_name": None, "last_success_state_name": None})
            payment = store.to_payment(row)
        trx_id = str(uuid.uuid4())
        trx_row = uow.insert("payment_transactions", {
            "id": trx_id, "account_record_id": account.record_id, "attempt_id": call.attempt_id,
            "payment_id": payment.id, "transaction_type": call.kind.value,
            "transaction_external_key": call.transaction_external_key or trx_id,
            "transaction_status": TransactionStatus.UNKNOWN.value, "effective_date": uow.now, "amount": amount,
            "currency": currency, "processed_amount": _ZERO, "processed_currency": currency,
            "gateway_error_code": None, "gateway_error_msg": None, "first_payment_reference_id": None,
            "second_payment_reference_id": None})
        prep = self._prepared(uow, call, account, payment, store.to_transaction(trx_row), method, config)
        if prep.plugin is not None:
            for hook in self.on_new_transactions:
                hook(uow, [prep])
        return prep

    def _prepared(self, uow: UnitOfWork, call: TransactionCall, account: Account, payment: Payment,
                  trx: PaymentTransaction, method: PaymentMethod, config: PaymentConfig) -> Prepared:
        needs_plugin = call.kind is not TransactionType.CHARGEBACK and call.force_status is None
        plugin = self.plugin(method.plugin_name) if needs_plugin else None
        context = self.plugin_context(uow, method.plugin_name, config) if needs_plugin else None
        return Prepared(call, account, payment, trx, method, plugin, context, config,
                        payment.last_success_state_name)

    @staticmethod
    def _pending_to_complete(payment: Payment | None, call: TransactionCall) -> PaymentTransaction | None:
        if payment is None or (call.transaction_id is None and call.transaction_external_key is None):
            return None
        for t in payment.transactions:
            if t.id == call.transaction_id or (call.transaction_external_key is not None
                                               and t.external_key == call.transaction_external_key):
                if t.status is TransactionStatus.PENDING:
                    if t.transaction_type is not call.kind:
                        raise invalid_parameter("transactionType", f"transaction {t.id} is a {t.transaction_type}")
                    return t
                if t.status is TransactionStatus.UNKNOWN and call.kind is not TransactionType.CHARGEBACK:
                    raise invalid_operation(call.kind.value, payment.state_name)
        return None

    @staticmethod
    def _check_reversal(payment: Payment | None, call: TransactionCall) -> None:
        if payment is None or not any(
                t.transaction_type is TransactionType.CHARGEBACK and t.status is TransactionStatus.SUCCESS
                and (t.id == call.transaction_id or t.external_key == call.transaction_external_key)
                for t in payment.transactions):
            raise PaymentError(NO_SUCH_SUCCESS_PAYMENT, f"Payment {payment.id if payment else None} did not succeed")

    def _method(self, uow: UnitOfWork, account: Account, method_id: str | None) -> PaymentMethod:
        wanted = method_id or account.payment_method_id
        if wanted is None:
            raise no_default_method(account.id)
        method = store.method(uow.conn, uow.tenant, method_id=wanted, active_only=False)
        if method is None:
            raise no_such_method(wanted)
        if method.account_id != account.id:
            raise PaymentError(METHOD_DIFFERENT_ACCOUNT_ID, f"Payment method {method.id} has a different account id")
        return method

    @staticmethod
    def _amount(account: Account, payment: Payment | None, call: TransactionCall, config: PaymentConfig
                ) -> tuple[str, Decimal | None]:
        first = payment.transactions[0] if payment is not None and payment.transactions else None
        currency = call.currency or (first.currency if first else None) or account.currency
        if currency is None:
            raise invalid_parameter("currency", "needs to be set")
        if first is not None and currency != first.currency and call.kind is not TransactionType.CHARGEBACK:
            raise invalid_parameter("currency", f"{currency} differs from the payment's {first.currency}")
        if call.kind is TransactionType.VOID:
            return currency, None
        if call.amount is None:
            if call.kind is TransactionType.CHARGEBACK and call.force_status is not None:
                return currency, None
            raise invalid_parameter("amount", "needs to be set")
        if call.amount <= 0:
            raise invalid_parameter("amount", f"{call.amount} should be strictly positive")
        amount = round_money(call.amount, currency)
        if config.check_amounts and payment is not None and call.force_status is None:
            agg = states.aggregates(payment.transactions)
            if call.kind is TransactionType.CAPTURE:
                room = Decimal(agg["authAmount"]) - Decimal(agg["capturedAmount"])
                if amount > room:
                    raise PaymentError(INVALID_PARAMETER, f"Invalid parameter amount: {amount} is more than the "
                                       f"{room} left to capture")
            if call.kind is TransactionType.REFUND:
                room = Decimal(agg["capturedAmount"]) + Decimal(agg["purchasedAmount"]) - Decimal(agg["refundedAmount"])
                if amount > room:
                    raise PaymentError(INVALID_PARAMETER, f"Invalid parameter amount: {amount} is more than the "
                                       f"{room} left to refund")
        return currency, amount

    # -- 2. the gateway ------------------------------------------------------------------------------------
    def call_plugin(self, prep: Prepared) -> Outcome:
        return self.call_plugins([prep])[0]

    def call_plugins(self, preps: Sequence[Prepared]) -> list[Outcome]:
        """The gateway calls of several prepared transactions, made at once in the plugin threads; each has the
        tenant's timeout from the moment its call starts."""
        started: dict[int, float] = {}

        def run(i: int, prep: Prepared) -> PaymentTransactionInfo | None:
            started[i] = time.monotonic()
            assert prep.plugin is not None and prep.context is not None
            req = TransactionRequest(prep.account.id, prep.payment.id, prep.transaction.id, prep.method.id,
                                     prep.transaction.amount, prep.transaction.currency, prep.call.properties,
                                     prep.method.plugin_info, reference_ids(prep.payment))
            return call_transaction(prep.plugin, prep.call.kind, req, prep.context)

        futures = {i: self.pool.submit(run, i, p) for i, p in enumerate(preps) if self._immediate(p) is None}
        out: list[Outcome] = []
        for i, prep in enumerate(preps):
            now = self._immediate(prep)
            out.append(now if now is not None else self._outcome(prep, futures[i], functools.partial(started.get, i)))
        return out

    @staticmethod
    def _immediate(prep: Prepared) -> Outcome | None:
        """The outcome of a call that needs no gateway (forced status, chargeback)."""
        if prep.call.force_status is not None:
            return Outcome(prep.call.force_status)
        if prep.call.kind is TransactionType.CHARGEBACK:
            return Outcome(TransactionStatus.SUCCESS)
        return None

    def _outcome(self, prep: Prepared, future: concurrent.futures.Future[PaymentTransactionInfo | None],
                 started: Callable[[], float | None]) -> Outcome:
        assert prep.context is not None
        timeout = prep.context.timeout_seconds
        try:
            while True:  # a call waiting for a plugin thread has not used any of its time yet
                start = started()
                if start is None and not future.done():
                    concurrent.futures.wait([future], timeout=0.05)
                    continue
                left = timeout if start is None else start + timeout - time.monotonic()
                info = future.result(timeout=max(0.0, left))
                break
        except concurrent.futures.TimeoutError:
            return Outcome(TransactionStatus.UNKNOWN, http=504, failure=f"Plugin timeout for account "
                           f"{prep.account.id}: {prep.method.plugin_name}")
        except PaymentPluginApiException as e:
            return Outcome(TransactionStatus.UNKNOWN, error_code=e.error_type[:32], error_message=e.error_message,
                           http=400, failure=f"Plugin exception {e.error_message}")
        except Exception as e:  # a plugin bug: the gateway may have seen the call
            log.exception("payment plugin %s failed", prep.method.plugin_name)
            return Outcome(TransactionStatus.UNKNOWN, http=500, failure=f"Internal payment error : {e}")
        if info is None:
            return Outcome(TransactionStatus.UNKNOWN, http=500, failure="Internal payment error : plugin returned null")
        if info.status is PaymentPluginStatus.PROCESSED:
            failpoints.hit("payment.after_gateway_success")  # crash tests: charged, nothing recorded yet
        return outcome_of(info)

    # -- 3. record ---------------------------------------------------------------------------------------
    def record(self, uow: UnitOfWork, prep: Prepared, outcome: Outcome, hook: OutcomeHook | None = None
               ) -> tuple[Payment, PaymentTransaction]:
        uow.lock_account(prep.account.record_id)
        if prep.lease is not None:
            leases.drop(uow.conn, prep.account.record_id, prep.lease)
        current = store.transaction(uow.conn, uow.tenant, prep.transaction.id)
        assert current is not None
        info = outcome.info
        status = outcome.status
        values: dict[str, object] = {
            "transaction_status": status.value, "effective_date": (info.effective_date if info and
                                                                   info.effective_date else uow.now),
            "processed_amount": states.processed_amount(status, info.amount if info else None,
                                                        current.amount),
            "processed_currency": (info.currency if info and info.currency else current.currency),
            "gateway_error_code": (info.gateway_error_code if info else outcome.error_code),
            "gateway_error_msg": ((info.gateway_error if info else outcome.error_message) or None),
        }
        if info is not None:
            values["first_payment_reference_id"] = info.first_payment_reference_id
            values["second_payment_reference_id"] = info.second_payment_reference_id
        if isinstance(values["gateway_error_msg"], str):
            values["gateway_error_msg"] = values["gateway_error_msg"][:256]
        trx = store.to_transaction(uow.update("payment_transactions", current.record_id, values))
        payment = store.payment(uow.conn, uow.tenant, payment_id=prep.payment.id)
        assert payment is not None
        state, last_success = states.next_states(payment.last_success_state_name, trx.transaction_type, trx.status)
        row = uow.update("payments", payment.record_id, {"state_name": state, "last_success_state_name": last_success})
        payment = store.to_payment(row, [trx if t.id == trx.id else t for t in payment.transactions])
        uow.post(payment_event(uow, payment, trx, api=prep.call.api))
        if hook is not None:
            hook(uow, prep, payment, trx)
        return payment, trx


def outcome_of(info: PaymentTransactionInfo) -> Outcome:
    """A plugin's answer as an outcome and Kill Bill's HTTP status for it."""
    status = states.status_of(info.status)
    http = {TransactionStatus.SUCCESS: 201, TransactionStatus.PENDING: 201, TransactionStatus.PAYMENT_FAILURE: 402,
            TransactionStatus.PLUGIN_FAILURE: 502}.get(status, 503)
    failure = {402: f"Payment decline by gateway. Error message: {info.gateway_error}",
               502: "Failed to submit payment transaction",
               503: "Payment in unknown status, failed to receive gateway response."}.get(http)
    if info.status is PaymentPluginStatus.UNDEFINED or info.status is None:
        http = 503
    return Outcome(status, info=info, http=http, failure=failure)
