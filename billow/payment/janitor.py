"""The janitor (Kill Bill's `Janitor`, `IncompletePaymentTransactionTask`): PENDING and UNKNOWN transactions are
re-checked with the plugin (`get_payment_info`) on the tenant's schedule
(`org.killbill.payment.janitor.pending.retries`, `...unknown.retries`) and settled to what the gateway says.

Each payment event whose status is PENDING or UNKNOWN schedules attempt 1 on the `payment-janitor` queue; a
check that finds nothing new schedules the next attempt, until the schedule is exhausted. The plugin is
called outside any transaction; the settlement is recorded under the account lock, with the invoice control.
"""

from __future__ import annotations

from collections.abc import Sequence

from billow.core.bus.bus import Bus, Notification
from billow.core.bus.event import BusEvent
from billow.core.context import CallContext, internal_context
from billow.core.db import Database, UnitOfWork
from billow.payment import states, store
from billow.payment.events import PaymentEventBase
from billow.payment.invoice_control import InvoicePaymentControl
from billow.payment.model import TransactionStatus
from billow.payment.processor import Outcome, PaymentProcessor, Prepared, TransactionCall, info_properties

JANITOR_QUEUE = "payment-janitor"


class Janitor:
    def __init__(self, db: Database, bus: Bus, processor: PaymentProcessor, control: InvoicePaymentControl) -> None:
        self.db = db
        self.bus = bus
        self.processor = processor
        self.control = control

    def install(self) -> None:
        self.bus.subscribe(self.on_payment_event, PaymentEventBase, name="payment-janitor")
        self.bus.register_queue(JANITOR_QUEUE, self.on_notification, transactional=False,
                                batch_handler=self.settled)
        self.processor.on_new_transactions.append(self.guard)

    def guard(self, uow: UnitOfWork, preps: Sequence[Prepared]) -> None:
        """New transactions are recorded UNKNOWN before their gateway calls: their first checks are scheduled in
        that same unit of work, so that a process dying between the gateway's answer and the recording of the
        outcome leaves transactions the janitor settles (Kill Bill's janitor finds such transactions by their
        state). When an outcome is recorded in time, the check finds the transaction settled and does nothing."""
        if not preps:
            return
        delay = preps[0].config.janitor_delay(False, 1)  # the tenant's, read in the same unit of work
        if delay is None:
            return
        # one check for all of them (a pack of automatic payments writes one row, not one per payment); it
        # belongs to their account when they have one
        accounts = {p.account.record_id for p in preps}
        self.bus.schedule(uow, JANITOR_QUEUE, {"transaction_ids": [p.transaction.id for p in preps], "attempt": 1,
                                               "guard": True}, uow.now + delay,
                          account_record_id=accounts.pop() if len(accounts) == 1 else None)

    def on_payment_event(self, uow: UnitOfWork, event: BusEvent) -> None:
        # an UNKNOWN outcome has its first check already (`guard`)
        if not isinstance(event, PaymentEventBase) or event.status != "PENDING":
            return
        self.schedule(uow, event.payment_transaction_id, event.status == "PENDING", 1, event.account_record_id)

    def schedule(self, uow: UnitOfWork, transaction_id: str, pending: bool, attempt: int,
                 account_record_id: int | None, *, guard: bool = False) -> None:
        delay = self.processor.config(uow).janitor_delay(pending, attempt)
        if delay is not None:
            payload: dict[str, object] = {"transaction_id": transaction_id, "attempt": attempt}
            if guard:
                payload["guard"] = True
            self.bus.schedule(uow, JANITOR_QUEUE, payload, uow.now + delay, account_record_id=account_record_id)

    def on_notification(self, notification: Notification) -> None:
        if notification.tenant_record_id is None:
            return
        ctx = internal_context(notification.tenant_record_id, user_name="PaymentJanitor")
        for transaction_id in _transaction_ids(notification):
            self.check(ctx, transaction_id, int(notification.payload.get("attempt", 1)),
                       guard=bool(notification.payload.get("guard")))

    def settled(self, notifications: list[Notification]) -> list[Notification]:
        """A pack of checks read at once: those whose transactions are all gone or settled have nothing to do (as
        `check` finds one by one: most are guards of payments recorded in time); the others are handed back."""
        by_tenant: dict[int, list[Notification]] = {}
        left: list[Notification] = []
        for n in notifications:
            (left if n.tenant_record_id is None else by_tenant.setdefault(n.tenant_record_id, [])).append(n)
        for tenant, found in by_tenant.items():
            with self.db.read(internal_context(tenant, user_name="PaymentJanitor")) as uow:
                statuses = store.transaction_statuses(uow.conn, uow.tenant,
                                                      [t for n in found for t in _transaction_ids(n)])
            left += [n for n in found if any(statuses.get(t) in (TransactionStatus.PENDING, TransactionStatus.UNKNOWN)
                                             for t in _transaction_ids(n))]
        return left

    def refresh_payment(self, ctx: CallContext, payment_id: str) -> None:
        """The on-the-fly janitor (a gateway notification, a refresh): every in-flight transaction of a payment
        is settled from what the plugin says now, without scheduling anything."""
        with self.db.read(ctx) as uow:
            payment = store.payment(uow.conn, uow.tenant, payment_id=payment_id)
        for t in payment.transactions if payment else ():
            if t.status in (TransactionStatus.PENDING, TransactionStatus.UNKNOWN):
                self.check(ctx, t.id, schedule=False)

    def check(self, ctx: CallContext, transaction_id: str, attempt: int = 1, *, schedule: bool = True,
              guard: bool = False) -> TransactionStatus | None:
        """Asks the plugin about one transaction and records what changed; returns the new status (None: the
        transaction is gone or settled already). A guard's check goes on only for an UNKNOWN transaction: a PENDING
        one has the checks its PENDING event scheduled."""
        with self.db.read(ctx) as uow:
            trx = store.transaction(uow.conn, uow.tenant, transaction_id)
            if trx is None or trx.status not in (TransactionStatus.PENDING, TransactionStatus.UNKNOWN):
                return None
            payment = store.payment(uow.conn, uow.tenant, payment_id=trx.payment_id)
            assert payment is not None
            method = store.method(uow.conn, uow.tenant, method_id=payment.payment_method_id, active_only=False)
            plugin = self.processor.plugins.get(method.plugin_name) if method else None
            pctx = self.processor.plugin_context(uow, method.plugin_name, self.processor.config(uow)) \
                if method else None
        infos = []
        if plugin is not None and pctx is not None and method is not None:
            try:
                infos = plugin.get_payment_info(payment.account_id, payment.id, info_properties(method, payment),
                                                pctx)
            except Exception:  # noqa: BLE001  a failing plugin is asked again later
                infos = []
        info = next((i for i in infos if i.kb_transaction_id == transaction_id), None)
        new = states.status_of(info.status) if info is not None else TransactionStatus.UNKNOWN
        with self.db.transaction(ctx) as uow:
            uow.lock_account(payment.account_record_id)
            current = store.transaction(uow.conn, uow.tenant, transaction_id)
            if current is None or current.status not in (TransactionStatus.PENDING, TransactionStatus.UNKNOWN):
                return None
            if new is TransactionStatus.UNKNOWN or new is current.status:
                if schedule and not (guard and current.status is TransactionStatus.PENDING):
                    self.schedule(uow, transaction_id, current.status is TransactionStatus.PENDING, attempt + 1,
                                  payment.account_record_id)
                return current.status
            fresh = store.payment(uow.conn, uow.tenant, payment_id=payment.id)
            assert fresh is not None and method is not None
            account = self.processor.accounts.get(uow, payment.account_id)
            attempt_row = store.attempts(uow.conn, uow.tenant, attempt_id=current.attempt_id) \
                if current.attempt_id else []
            prep = Prepared(TransactionCall(account.id, current.transaction_type, payment_id=payment.id,
                                            api=not attempt_row), account, fresh, current, method, None, None,
                            self.processor.config(uow))
            self.processor.record(uow, prep, Outcome(new, info=info), self.control.on_outcome)
        return new


def _transaction_ids(notification: Notification) -> list[str]:
    """The transactions a check is about: a guard names all those of its pack, a later check one."""
    many = notification.payload.get("transaction_ids")
    return [str(t) for t in many] if many else [str(notification.payload["transaction_id"])]
