"""The payment service's user API (Kill Bill's `PaymentApi`): transactions and payment reads.

`transact` runs one transaction through `PaymentProcessor` (prepare, gateway, record: three steps, never a
database transaction across the gateway call). A transaction that did not succeed raises
`PaymentOutcomeError` carrying the payment id and Kill Bill's HTTP status (402, 502, 503, 504, 400, 500);
PENDING is a success (201).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from billow.core.context import CallContext
from billow.core.db import Database
from billow.core.db.audit_read import AuditLogEntry, audit_logs
from billow.payment import controls, store
from billow.payment.errors import (
    NO_SUCH_PAYMENT,
    PaymentError,
    PaymentOutcomeError,
    no_such_payment,
    no_such_transaction,
)
from billow.payment.model import Payment, PaymentAttempt, PaymentTransaction, TransactionStatus
from billow.payment.plugin_api import PaymentTransactionInfo, PluginProperty, TransactionType
from billow.payment.processor import (
    Outcome,
    OutcomeHook,
    PaymentProcessor,
    Prepared,
    TransactionCall,
    info_properties,
)

log = logging.getLogger(__name__)


class PaymentService:
    def __init__(self, db: Database, processor: PaymentProcessor, settle_hook: OutcomeHook | None = None) -> None:
        """`settle_hook` runs when a transaction settles without a caller's hook (a PENDING notified, an admin fix):
        the invoice payment control, so that the invoice follows."""
        self.db = db
        self.processor = processor
        self.settle_hook = settle_hook

    # -- transactions ------------------------------------------------------------------------------------
    def transact(self, ctx: CallContext, call: TransactionCall, hook: OutcomeHook | None = None,
                 *, raise_on_failure: bool = True) -> tuple[Payment, PaymentTransaction]:
        """One transaction, with the payment control plugins it names run around it (`controls`)."""
        plugins = controls.resolve(self.processor.plugins, call.control_plugins)
        tenant_id = ctx.tenant_id or ""
        if plugins:
            call = controls.prior(plugins, tenant_id, call, self.db.clock.utcnow())
        prep = self.processor.prepare_with_lease(self.db, ctx, lambda uow: self.processor.prepare(uow, call))
        outcome = self.processor.call_plugin(prep)
        with self.db.transaction(ctx) as uow:
            payment, trx = self.processor.record(uow, prep, outcome, hook)
        if plugins:
            controls.after(plugins, tenant_id, call, trx, self.db.clock.utcnow())
        if raise_on_failure and outcome.http != 201:
            raise PaymentOutcomeError(payment.id, outcome.failure or "Payment failed", outcome.http)
        return payment, trx

    def notify_pending(self, ctx: CallContext, account_id: str, transaction_id: str, success: bool) -> Payment:
        """`notifyPendingTransactionOfStateChanged`: a PENDING transaction settles without the plugin."""
        with self.db.read(ctx) as uow:
            trx = store.transaction(uow.conn, uow.tenant, transaction_id)
        if trx is None:
            raise no_such_transaction(transaction_id)
        if trx.status is not TransactionStatus.PENDING:
            raise PaymentError(7032, f"Invalid payment transition {trx.transaction_type} from state {trx.status}")
        status = TransactionStatus.SUCCESS if success else TransactionStatus.PAYMENT_FAILURE
        payment, _ = self.transact(ctx, TransactionCall(account_id, trx.transaction_type, payment_id=trx.payment_id,
                                                        transaction_id=trx.id, force_status=status),
                                   self.settle_hook, raise_on_failure=False)
        return payment

    def fix_transaction_state(self, ctx: CallContext, payment_id: str, transaction_id: str,
                              status: TransactionStatus) -> None:
        """Admin `updatePaymentTransactionState`: sets a transaction's status by hand (no plugin)."""
        with self.db.transaction(ctx) as uow:
            payment = store.payment(uow.conn, uow.tenant, payment_id=payment_id)
            if payment is None:
                raise no_such_payment(payment_id)
            trx = next((t for t in payment.transactions if t.id == transaction_id), None)
            if trx is None:
                raise no_such_transaction(transaction_id)
            uow.lock_account(payment.account_record_id)
            prep = Prepared(TransactionCall(payment.account_id, trx.transaction_type, payment_id=payment.id,
                                            force_status=status), self.processor.accounts.get(uow, payment.account_id),
                            payment, trx, store.method(uow.conn, uow.tenant, method_id=payment.payment_method_id,
                                                       active_only=False),  # type: ignore[arg-type]
                            None, None, self.processor.config(uow))
            self.processor.record(uow, prep, Outcome(status), self.settle_hook)

    # -- reads --------------------------------------------------------------------------------------------
    def get(self, ctx: CallContext, payment_id: str) -> Payment:
        with self.db.read(ctx) as uow:
            found = store.payment(uow.conn, uow.tenant, payment_id=payment_id)
        if found is None:
            raise no_such_payment(payment_id)
        return found

    def by_key(self, ctx: CallContext, external_key: str) -> Payment:
        with self.db.read(ctx) as uow:
            found = store.payment(uow.conn, uow.tenant, external_key=external_key)
        if found is None:
            raise no_such_payment(external_key)
        return found

    def of_transaction(self, ctx: CallContext, transaction_id: str) -> Payment:
        with self.db.read(ctx) as uow:
            trx = store.transaction(uow.conn, uow.tenant, transaction_id)
            found = store.payment(uow.conn, uow.tenant, payment_id=trx.payment_id) if trx else None
        if found is None:
            raise no_such_transaction(transaction_id)
        return found

    def of_transaction_key(self, ctx: CallContext, key: str) -> Payment:
        with self.db.read(ctx) as uow:
            found = store.transactions_by_key(uow.conn, uow.tenant, key)
            payment = store.payment(uow.conn, uow.tenant, payment_id=found[-1][0].payment_id) if found else None
        if payment is None:
            raise no_such_transaction(key)
        return payment

    def of_account(self, ctx: CallContext, account_id: str) -> list[Payment]:
        with self.db.read(ctx) as uow:
            account = self.processor.accounts.get(uow, account_id)
            return store.payments_of(uow.conn, uow.tenant, account.record_id)

    def page(self, ctx: CallContext, offset: int, limit: int, plugin_name: str | None = None
             ) -> tuple[list[Payment], int]:
        with self.db.read(ctx) as uow:
            return store.payments_page(uow.conn, uow.tenant, offset, limit, plugin_name)

    def search(self, ctx: CallContext, key: str, offset: int, limit: int, plugin_name: str | None = None
               ) -> tuple[list[Payment], int, int]:
        """`searchPayments`: a page of the hits, how many hits, how many payments in all."""
        with self.db.read(ctx) as uow:
            hits, count = store.payments_page(uow.conn, uow.tenant, offset, limit, plugin_name, search_key=key)
            _, total = store.payments_page(uow.conn, uow.tenant, 0, 0, plugin_name)
        return hits, count, total

    def attempts(self, ctx: CallContext, payment: Payment) -> list[PaymentAttempt]:
        with self.db.read(ctx) as uow:
            return store.attempts(uow.conn, uow.tenant, payment_external_key=payment.external_key)

    def plugin_info(self, ctx: CallContext, payment: Payment) -> list[PaymentTransactionInfo]:
        """What the gateway says of a payment (`withPluginInfo`)."""
        with self.db.read(ctx) as uow:
            method = store.method(uow.conn, uow.tenant, method_id=payment.payment_method_id, active_only=False)
            if method is None:
                return []
            plugin = self.processor.plugins.get(method.plugin_name)
            pctx = self.processor.plugin_context(uow, method.plugin_name, self.processor.config(uow))
        return plugin.get_payment_info(payment.account_id, payment.id, info_properties(method, payment), pctx) \
            if plugin else []

    def plugin_properties(self, ctx: CallContext, payment: Payment) -> dict[str, tuple[PluginProperty, ...]]:
        """`withPluginInfo`: the gateway's properties of each transaction, by transaction id; a gateway that cannot
        answer now gives none (the payment itself is what Billow recorded)."""
        try:
            infos = self.plugin_info(ctx, payment)
        except Exception:  # noqa: BLE001 - a read must not fail because the gateway does
            log.warning("payment %s: the gateway's view could not be read", payment.id, exc_info=True)
            return {}
        return {i.kb_transaction_id: i.properties for i in infos}

    def transaction_history(self, ctx: CallContext, transaction_id: str) -> list[AuditLogEntry]:
        """`getTransactionAuditLogsWithHistory`."""
        with self.db.read(ctx) as uow:
            trx = store.transaction(uow.conn, uow.tenant, transaction_id)
            if trx is None:
                raise no_such_transaction(transaction_id)
            return audit_logs(uow.conn, uow.tenant, "payment_transactions", [trx.record_id], level="FULL",
                              with_history=True)[trx.record_id]

    def attempt_history(self, ctx: CallContext, attempt_id: str) -> list[AuditLogEntry]:
        """`getPaymentAttemptAuditLogsWithHistory`."""
        with self.db.read(ctx) as uow:
            found = store.attempts(uow.conn, uow.tenant, attempt_id=attempt_id)
            if not found:
                raise PaymentError(NO_SUCH_PAYMENT, f"Payment attempt {attempt_id} does not exist", status=404)
            return audit_logs(uow.conn, uow.tenant, "payment_attempts", [found[0].record_id], level="FULL",
                              with_history=True)[found[0].record_id]

    def audit_logs(self, ctx: CallContext, table: str, record_ids: Sequence[int], level: str
                   ) -> dict[int, list[AuditLogEntry]]:
        with self.db.read(ctx) as uow:
            return audit_logs(uow.conn, uow.tenant, table, list(record_ids), level=level, with_history=True)


def chargeback_reversal(account_id: str, payment_id: str, *, transaction_external_key: str | None,
                        transaction_id: str | None = None) -> TransactionCall:
    """A chargeback reversal: a new CHARGEBACK transaction forced to PAYMENT_FAILURE (no plugin)."""
    return TransactionCall(account_id, TransactionType.CHARGEBACK, payment_id=payment_id,
                           transaction_external_key=transaction_external_key, transaction_id=transaction_id,
                           force_status=TransactionStatus.PAYMENT_FAILURE)
