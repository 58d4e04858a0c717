"""Automatic invoice payments a pack at a time: the `payment-invoice` notifications a bus worker claimed together
are paid in three steps whatever their number, as `InvoicePayments.pay` pays one:

1. one unit of work, under the accounts' locks and payment leases: the checks of the invoice payment control's
   `priorCall` (read once for the pack), then the new payments, transactions, attempts and ATTEMPT rows written
   with a few inserts, and the janitor's guards scheduled;
2. the gateway calls, all at once in the plugin threads, outside any transaction;
3. one unit of work: successful outcomes recorded with a few updates (transactions, payments, attempts, invoice
   payments) and their events posted payment by payment; any other outcome recorded by `PaymentProcessor.record`
   with the invoice control, exactly as one payment is.

What is not the common case is handed back to the single path (`InvoicePayments.pay`): a second invoice of an
account in the same pack, a lease another call holds, a retry, a method or plugin that is missing. The rows and
events written are those the single path writes (tests/payment/test_invoice_batch.py compares them).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from billow.account.model import Account
from billow.core.bus.bus import Notification
from billow.core.context import internal_context
from billow.core.db import UnitOfWork, leases
from billow.invoice.model import Invoice
from billow.invoice.payments import InvoicePayment
from billow.payment import states, store
from billow.payment.config import PaymentConfig
from billow.payment.events import payment_event
from billow.payment.invoices import _PAY_OFF, InvoicePayments, _automatic_skip
from billow.payment.model import PaymentMethod, TransactionStatus, TransactionType
from billow.payment.plugin_api import PluginContext
from billow.payment.processor import LEASE_MARGIN_S, Outcome, Prepared, TransactionCall

log = logging.getLogger(__name__)

USER_NAME = "PaymentRequestProcessor"
_ZERO = Decimal(0)


@dataclass(frozen=True)
class _Due:
    notification: Notification
    invoice: Invoice
    account: Account
    method: PaymentMethod
    amount: Decimal


@dataclass(frozen=True)
class _Started:
    """A payment written before its gateway call, with the rows its outcome completes."""

    prep: Prepared
    attempt_record_id: int
    invoice_payment: InvoicePayment
    user_token: str | None


class InvoicePaymentBatch:
    def __init__(self, invoices: InvoicePayments) -> None:
        self.invoices = invoices
        self.db = invoices.db
        self.processor = invoices.processor

    def pay(self, notifications: Sequence[Notification]) -> list[Notification]:
        """Pays the invoices of these `payment-invoice` notifications; returns those left for the single path."""
        left: list[Notification] = []
        by_tenant: dict[int, list[Notification]] = {}
        for n in notifications:
            if n.tenant_record_id is None or n.account_record_id is None or set(n.payload) != {"invoice_id"}:
                left.append(n)
            else:
                by_tenant.setdefault(n.tenant_record_id, []).append(n)
        for tenant, found in by_tenant.items():
            first: dict[int, Notification] = {}
            for n in found:
                assert n.account_record_id is not None
                if n.account_record_id in first:
                    left.append(n)  # one payment per account at a time (the lease): the single path waits
                else:
                    first[n.account_record_id] = n
            left += self._pay_tenant(tenant, list(first.values()))
        return left

    def _pay_tenant(self, tenant: int, notifications: list[Notification]) -> list[Notification]:
        ctx = internal_context(tenant, user_name=USER_NAME)
        left: list[Notification] = []
        with self.db.transaction(ctx) as uow:
            started = self._start(uow, notifications, left)
        if not started:
            return left
        outcomes = self.processor.call_plugins([s.prep for s in started])
        try:
            with self.db.transaction(ctx) as uow:
                self._finish(uow, started, outcomes)
        except Exception:  # recorded one by one instead; what still fails is settled by the janitor's guard
            log.exception("recording %d payment outcomes at once failed; recording them one by one", len(started))
            for s, outcome in zip(started, outcomes, strict=True):
                try:
                    with self.db.transaction(internal_context(tenant, user_name=USER_NAME,
                                                              user_token=s.user_token)) as uow:
                        self.processor.record(uow, s.prep, outcome, self.invoices.control.on_outcome)
                except Exception:
                    log.exception("recording the outcome of transaction %s failed", s.prep.transaction.id)
        return left

    # -- 1. before the gateway ----------------------------------------------------------------------------
    def _due(self, uow: UnitOfWork, notifications: list[Notification], left: list[Notification]) -> list[_Due]:
        """`InvoicePayments._due` for an automatic payment, for the whole pack."""
        ip = self.invoices.invoice_payments
        arids = sorted({n.account_record_id for n in notifications if n.account_record_id is not None})
        uow.lock_accounts(arids)
        found = ip.of_accounts(uow, {str(n.payload["invoice_id"]): n.account_record_id for n in notifications
                                     if n.account_record_id is not None})
        accounts = self.invoices.accounts.by_record_ids(uow, arids)
        tags = self.invoices.tags.control_tags(uow, arids)
        rows = ip.rows_of_invoices(uow, list(found), arids)
        methods = store.methods_by_ids(uow.conn, uow.tenant, [a.payment_method_id for a in accounts.values()
                                                              if a.payment_method_id is not None])
        out: list[_Due] = []
        no_method: dict[str | None, list[tuple[int, str, str, Decimal, str]]] = {}
        for n in notifications:
            invoice_id = str(n.payload["invoice_id"])
            if invoice_id not in found or found[invoice_id][2] != n.account_record_id:
                left.append(n)  # the single path says why
                continue
            invoice, balance, arid = found[invoice_id]
            account = accounts[arid]
            skip = _automatic_skip(account, invoice, tags[arid])
            if skip is not None:
                if skip == _PAY_OFF and balance > 0:
                    store.park_auto_pay_off(uow.conn, uow.tenant, arid, invoice.id, uow.now)
                continue
            if self.invoices._in_flight(uow, rows[invoice_id]) or balance <= 0:
                continue
            if account.payment_method_id is None:
                no_method.setdefault(n.user_token, []).append((arid, account.id, invoice.id, balance,
                                                               invoice.currency))
                continue
            method = methods.get(account.payment_method_id)
            if method is None or method.account_id != account.id or self.processor.plugins.get(
                    method.plugin_name) is None:
                left.append(n)
                continue
            out.append(_Due(n, invoice, account, method, balance))
        for token, attempts in no_method.items():
            uow.ctx = internal_context(uow.tenant, user_name=USER_NAME, user_token=token)
            ip.record_failed_attempts(uow, attempts)
        return out

    def _start(self, uow: UnitOfWork, notifications: list[Notification], left: list[Notification]
               ) -> list[_Started]:
        due = self._due(uow, notifications, left)
        if not due:
            return []
        config = self.processor.config(uow)
        lease = str(uuid.uuid4())
        wall = self.processor.wall_clock.utcnow()
        held = leases.take_many(uow.conn, [d.account.record_id for d in due], lease, wall,
                                wall + timedelta(seconds=config.plugin_timeout + LEASE_MARGIN_S))
        left += [d.notification for d in due if d.account.record_id not in held]
        by_token: dict[str | None, list[_Due]] = {}
        for d in due:
            if d.account.record_id in held:
                by_token.setdefault(d.notification.user_token, []).append(d)
        out: list[_Started] = []
        for token, group in by_token.items():
            uow.ctx = internal_context(uow.tenant, user_name=USER_NAME, user_token=token)
            out += self._write(uow, group, config, lease)
        return out

    def _write(self, uow: UnitOfWork, due: list[_Due], config: PaymentConfig, lease: str) -> list[_Started]:
        """The rows `InvoicePayments._prepare` writes, for many payments (one user token) at once."""
        contexts: dict[str, PluginContext] = {}
        keys = [(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())) for _ in due]
        payments = uow.insert_many("payments", [{
            "id": payment_id, "account_record_id": d.account.record_id, "account_id": d.account.id,
            "payment_method_id": d.method.id, "external_key": payment_id, "state_name": None,
            "last_success_state_name": None} for d, (payment_id, _, _, _) in zip(due, keys, strict=True)])
        transactions = uow.insert_many("payment_transactions", [{
            "id": trx_id, "account_record_id": d.account.record_id, "attempt_id": attempt_id,
            "payment_id": payment_id, "transaction_type": TransactionType.PURCHASE.value,
            "transaction_external_key": key, "transaction_status": TransactionStatus.UNKNOWN.value,
            "effective_date": uow.now, "amount": d.amount, "currency": d.invoice.currency, "processed_amount": _ZERO,
            "processed_currency": d.invoice.currency, "gateway_error_code": None, "gateway_error_msg": None,
            "first_payment_reference_id": None, "second_payment_reference_id": None}
            for d, (payment_id, trx_id, attempt_id, key) in zip(due, keys, strict=True)])
        preps: list[Prepared] = []
        for d, (_, _, attempt_id, key), p_row, t_row in zip(due, keys, payments, transactions, strict=True):
            name = d.method.plugin_name
            if name not in contexts:
                contexts[name] = self.processor.plugin_context(uow, name, config)
            call = TransactionCall(d.account.id, TransactionType.PURCHASE, amount=d.amount,
                                   currency=d.invoice.currency, transaction_external_key=key, api=False,
                                   attempt_id=attempt_id)
            preps.append(Prepared(call, d.account, store.to_payment(p_row), store.to_transaction(t_row), d.method,
                                  self.processor.plugin(name), contexts[name], config, None, lease=lease))
        for hook in self.processor.on_new_transactions:
            hook(uow, preps)
        attempts = uow.insert_many("payment_attempts", [{
            "id": p.call.attempt_id, "account_record_id": d.account.record_id, "account_id": d.account.id,
            "payment_method_id": d.method.id, "payment_external_key": p.payment.external_key,
            "transaction_external_key": p.call.transaction_external_key, "transaction_id": p.transaction.id,
            "transaction_type": TransactionType.PURCHASE.value, "state_name": "INIT", "amount": d.amount,
            "currency": d.invoice.currency, "plugin_name": "__INVOICE_PAYMENT_CONTROL_PLUGIN__",
            "invoice_id": d.invoice.id, "plugin_properties": store.dump_properties(())}
            for d, p in zip(due, preps, strict=True)])
        rows = self.invoices.invoice_payments.record_attempts(uow, [
            (d.account.record_id, d.invoice.id, p.payment.id, d.amount, d.invoice.currency,
             p.call.transaction_external_key or "") for d, p in zip(due, preps, strict=True)])
        token = uow.ctx.user_token
        return [_Started(p, a["record_id"], r, token) for p, a, r in zip(preps, attempts, rows, strict=True)]

    # -- 3. after the gateway -----------------------------------------------------------------------------
    def _finish(self, uow: UnitOfWork, started: list[_Started], outcomes: list[Outcome]) -> None:
        uow.lock_accounts(s.prep.account.record_id for s in started)
        lease = started[0].prep.lease
        assert lease is not None
        leases.drop_many(uow.conn, [s.prep.account.record_id for s in started], lease)
        by_token: dict[str | None, list[tuple[_Started, Outcome]]] = {}
        for s, outcome in zip(started, outcomes, strict=True):
            by_token.setdefault(s.user_token, []).append((s, outcome))
        for token, group in by_token.items():
            uow.ctx = internal_context(uow.tenant, user_name=USER_NAME, user_token=token)
            self._record_successes(uow, [(s, o) for s, o in group if o.status is TransactionStatus.SUCCESS
                                         and o.info is not None])
            for s, outcome in group:
                if outcome.status is not TransactionStatus.SUCCESS or outcome.info is None:
                    self.processor.record(uow, s.prep, outcome, self.invoices.control.on_outcome)
            uow.flush_events()

    def _record_successes(self, uow: UnitOfWork, done: list[tuple[_Started, Outcome]]) -> None:
        """`PaymentProcessor.record` with the invoice control's `on_outcome`, for successful purchases."""
        if not done:
            return
        trx_changes: dict[int, dict[str, object]] = {}
        pay_changes: dict[int, dict[str, object]] = {}
        finished = []
        state, last_success = states.next_states(None, TransactionType.PURCHASE, TransactionStatus.SUCCESS)
        for s, outcome in done:
            info = outcome.info
            assert info is not None
            t = s.prep.transaction
            msg = (info.gateway_error or None) and info.gateway_error[:256]
            trx = dataclasses.replace(
                t, status=TransactionStatus.SUCCESS, effective_date=info.effective_date or uow.now,
                processed_amount=states.processed_amount(TransactionStatus.SUCCESS, info.amount, t.amount),
                processed_currency=info.currency or t.currency, gateway_error_code=info.gateway_error_code,
                gateway_error_msg=msg, first_payment_reference_id=info.first_payment_reference_id,
                second_payment_reference_id=info.second_payment_reference_id, updated_date=uow.now)
            trx_changes[t.record_id] = {
                "transaction_status": trx.status.value, "effective_date": trx.effective_date,
                "processed_amount": trx.processed_amount, "processed_currency": trx.processed_currency,
                "gateway_error_code": trx.gateway_error_code, "gateway_error_msg": trx.gateway_error_msg,
                "first_payment_reference_id": trx.first_payment_reference_id,
                "second_payment_reference_id": trx.second_payment_reference_id}
            pay_changes[s.prep.payment.record_id] = {"state_name": state, "last_success_state_name": last_success}
            payment = dataclasses.replace(s.prep.payment, state_name=state, last_success_state_name=last_success,
                                          transactions=(trx,), updated_date=uow.now)
            finished.append((s, payment, trx))
        uow.update_many("payment_transactions", trx_changes)
        uow.update_many("payments", pay_changes)
        uow.update_many("payment_attempts", {s.attempt_record_id: {"state_name": "SUCCESS", "transaction_id": trx.id}
                                             for s, _, trx in finished})
        ip = self.invoices.invoice_payments
        paid = ip.complete_successes(uow, [(s.invoice_payment, trx.processed_amount) for s, _, trx in finished])
        for (_, payment, trx), row in zip(finished, paid, strict=True):  # each payment's events in the single
            uow.post(payment_event(uow, payment, trx, api=False))  # path's order
            ip.announce(uow, row, payment.account_id)
