"""Paying invoices (Kill Bill's `InvoicePaymentApi` / `DefaultInvoicePaymentInternalApi` with the invoice
payment control's `priorCall`): under the account lock, the invoice's current balance decides the amount,
an ATTEMPT row is written with the new transaction, the gateway is called outside any transaction, and the
outcome completes the row (`InvoicePaymentControl`).

An automatic payment (INVOICE_CREATION, a retry, AUTO_PAY_OFF removed) is skipped when the account has
AUTO_PAY_OFF or MANUAL_PAY, when the balance is zero, or when a transaction of the invoice is still in flight
(UNKNOWN or PENDING): so a duplicated event pays once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.core.context import CallContext, internal_context
from billow.core.db import Database, UnitOfWork
from billow.core.money import round_money
from billow.invoice.events import InvoiceCreationEvent
from billow.invoice.model import Invoice
from billow.invoice.payments import ATTEMPT, InvoicePayment, InvoicePaymentInternalApi
from billow.payment import store
from billow.payment.errors import (
    NULL_INVOICE,
    PaymentError,
    PaymentOutcomeError,
    aborted,
    invalid_parameter,
    no_such_payment,
    no_such_transaction,
)
from billow.payment.invoice_control import InvoicePaymentControl, RefundAdjustments
from billow.payment.model import Payment, PaymentTransaction, TransactionStatus, TransactionType
from billow.payment.plugin_api import PluginProperty
from billow.payment.processor import PaymentProcessor, Prepared, TransactionCall
from billow.payment.service import PaymentService
from billow.tag.internal import TagInternalApi
from billow.tag.model import AUTO_PAY_OFF, MANUAL_PAY

_IN_FLIGHT = (TransactionStatus.UNKNOWN, TransactionStatus.PENDING)


@dataclass(frozen=True)
class PayRequest:
    invoice_id: str
    account_id: str | None = None
    amount: Decimal | None = None
    payment_method_id: str | None = None
    payment_external_key: str | None = None
    transaction_external_key: str | None = None
    properties: tuple[PluginProperty, ...] = ()
    api: bool = True


_DELEGATED, _PAY_OFF = "delegated", "auto-pay-off"


def _automatic_skip(account: Account, invoice: Invoice, control_tags: frozenset[str]) -> str | None:
    """Why an automatic payment is not made, if it is not (Kill Bill's invoice payment control `priorCall`): the
    parent pays a delegating child's invoices through its summary invoice; AUTO_PAY_OFF or MANUAL_PAY park it
    until AUTO_PAY_OFF is removed."""
    if account.is_payment_delegated_to_parent or invoice.parent is not None:
        return _DELEGATED
    if AUTO_PAY_OFF in control_tags or MANUAL_PAY in control_tags:
        return _PAY_OFF
    return None


class InvoicePayments:
    def __init__(self, db: Database, payments: PaymentService, processor: PaymentProcessor,
                 invoice_payments: InvoicePaymentInternalApi, control: InvoicePaymentControl,
                 accounts: AccountInternalApi, tags: TagInternalApi) -> None:
        self.db = db
        self.payments = payments
        self.processor = processor
        self.invoice_payments = invoice_payments
        self.control = control
        self.accounts = accounts
        self.tags = tags

    # -- paying --------------------------------------------------------------------------------------------
    def payable(self, uow: UnitOfWork, events: Sequence[InvoiceCreationEvent]) -> list[InvoiceCreationEvent]:
        """Of these new invoices (INVOICE_CREATION events of one pack, their accounts locked by the caller), those
        whose automatic payment has a gateway to call. Decided in the bus handler, reading once for the whole
        pack, so that an account without a payment method, with AUTO_PAY_OFF or with nothing to pay costs no
        notification; the failed attempt of a missing method is recorded here, as the invoice payment control
        does (`priorCall`). The notification's handler decides again (`_due`) under the account lock."""
        by_id = {e.object_id: e for e in events if e.object_id and e.account_record_id is not None}
        invoice_ids = list(by_id)
        found = self.invoice_payments.of_accounts(uow, {i: e.account_record_id for i, e in by_id.items()
                                                        if e.account_record_id is not None})
        arids = sorted({arid for _, _, arid in found.values()})
        accounts = self.accounts.by_record_ids(uow, arids)
        tags = self.tags.control_tags(uow, arids)
        candidates: list[str] = []
        for invoice_id in dict.fromkeys(invoice_ids):
            if invoice_id not in found:
                continue
            invoice, amount, arid = found[invoice_id]
            if arid not in accounts or amount <= 0:
                continue
            skip = _automatic_skip(accounts[arid], invoice, tags[arid])
            if skip == _PAY_OFF:
                store.park_auto_pay_off(uow.conn, uow.tenant, arid, invoice_id, uow.now)
            elif skip is None:
                candidates.append(invoice_id)
        rows = self.invoice_payments.rows_of_invoices(uow, candidates, arids)
        out: list[InvoiceCreationEvent] = []
        no_method: dict[str | None, list[tuple[int, str, str, Decimal, str]]] = {}  # by the event's user token
        for invoice_id in candidates:
            invoice, amount, arid = found[invoice_id]
            if self._in_flight(uow, rows[invoice_id]):
                continue
            account = accounts[arid]
            if account.payment_method_id is None:
                no_method.setdefault(by_id[invoice_id].user_token, []).append(
                    (arid, account.id, invoice.id, amount, invoice.currency))
                continue
            out.append(by_id[invoice_id])
        for token, attempts in no_method.items():
            # written with the events' own user token, as a handler of each event would
            uow.ctx = internal_context(tenant_record_id=uow.tenant, user_token=token)
            self.invoice_payments.record_failed_attempts(uow, attempts)
        return out

    @staticmethod
    def _in_flight(uow: UnitOfWork, rows: Sequence[InvoicePayment]) -> bool:
        """A transaction of the invoice's attempts is still UNKNOWN or PENDING (Kill Bill's priorCall aborts)."""
        for row in rows:
            if row.type == ATTEMPT and not row.success and row.payment_id is not None:
                found = store.transactions_by_key(uow.conn, uow.tenant, row.payment_cookie_id or "")
                if any(t.status in _IN_FLIGHT for t, _ in found):
                    return True
        return False

    def _due(self, uow: UnitOfWork, req: PayRequest) -> tuple[Invoice, Account, int, Decimal] | None:
        """The checks before a payment (Kill Bill's invoice payment control `priorCall`): the invoice, its
        account, the account's record id and the amount to pay, or None when an automatic payment has
        nothing to do; an API payment that cannot be made raises."""
        invoice, balance, arid = self.invoice_payments.locked_invoice(uow, req.invoice_id)
        account = self.accounts.by_record_id(uow, arid)
        if req.account_id is not None and req.account_id != account.id:
            raise invalid_parameter("accountId", f"invoice {invoice.id} belongs to another account")
        if req.api and (account.is_payment_delegated_to_parent or invoice.parent is not None):
            # the parent pays the child's invoices through its summary invoice (Kill Bill's priorCall aborts)
            raise aborted(f"invoice {invoice.id} is paid through the parent account's invoice")
        skip = None if req.api else _automatic_skip(account, invoice, self.tags.control_tags(uow, [arid])[arid])
        if skip is not None:
            if skip == _PAY_OFF and balance > 0:  # paid when AUTO_PAY_OFF is removed (Kill Bill's auto_pay_off row)
                store.park_auto_pay_off(uow.conn, uow.tenant, arid, invoice.id, uow.now)
            return None
        if self._in_flight(uow, self.invoice_payments.rows(uow, invoice_id=invoice.id)):
            if req.api:
                raise aborted(f"invoice {invoice.id} has a payment in flight")
            return None
        if balance <= 0:
            if req.api:
                raise PaymentError(NULL_INVOICE, f"Invoice {invoice.id} has a balance <= 0 ", status=422)
            return None
        amount = balance if req.amount is None else round_money(req.amount, invoice.currency)
        if amount > balance:
            raise invalid_parameter("amount", f"Invalid amount {amount}: invoice balance is {balance}")
        if amount <= 0:
            raise invalid_parameter("amount", f"{amount} should be strictly positive")
        if req.payment_method_id is None and account.payment_method_id is None and not req.api:
            self.invoice_payments.record_failed_attempts(uow, [(arid, account.id, invoice.id, amount,
                                                                invoice.currency)])
            return None
        return invoice, account, arid, amount

    def _prepare(self, uow: UnitOfWork, req: PayRequest) -> Prepared | None:
        due = self._due(uow, req)
        if due is None:
            return None
        invoice, account, arid, amount = due
        key = req.transaction_external_key or str(uuid.uuid4())
        attempt_id = str(uuid.uuid4())  # the attempt row is written once the transaction exists, complete
        prep = self.processor.prepare(uow, TransactionCall(
            account.id, TransactionType.PURCHASE, amount=amount, currency=invoice.currency,
            payment_method_id=req.payment_method_id, payment_external_key=req.payment_external_key,
            transaction_external_key=key, properties=req.properties, api=req.api, attempt_id=attempt_id))
        uow.insert("payment_attempts", {
            "id": attempt_id, "account_record_id": arid, "account_id": account.id,
            "payment_method_id": prep.method.id, "payment_external_key": prep.payment.external_key,
            "transaction_external_key": key, "transaction_id": prep.transaction.id,
            "transaction_type": TransactionType.PURCHASE.value, "state_name": "INIT", "amount": amount,
            "currency": invoice.currency, "plugin_name": "__INVOICE_PAYMENT_CONTROL_PLUGIN__",
            "invoice_id": invoice.id, "plugin_properties": store.dump_properties(req.properties)})
        self.invoice_payments.record(uow, account_record_id=arid, account_id=account.id, kind=ATTEMPT,
                                     invoice_id=invoice.id, payment_id=prep.payment.id, amount=amount,
                                     currency=invoice.currency, cookie=key, success=False, announce=False)
        return prep

    def pay(self, ctx: CallContext, req: PayRequest) -> Payment | None:
        """Pays (part of) an invoice; None when an automatic payment had nothing to do. An API payment that
        did not succeed raises `PaymentOutcomeError` (402, 502, ...)."""
        prep = self.processor.prepare_with_lease(self.db, ctx, lambda uow: self._prepare(uow, req))
        if prep is None:
            return None
        outcome = self.processor.call_plugin(prep)
        with self.db.transaction(ctx) as uow:
            payment, _ = self.processor.record(uow, prep, outcome, self.control.on_outcome)
        if req.api and outcome.http != 201:
            raise PaymentOutcomeError(payment.id, outcome.failure or "Payment failed", outcome.http)
        return payment

    def pay_all(self, ctx: CallContext, account_id: str, *, payment_method_id: str | None = None,
                amount: Decimal | None = None) -> list[Payment]:
        """`payAllInvoices`: the unpaid invoices, oldest first, each by its balance (up to `amount` in all)."""
        with self.db.read(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            unpaid = self.invoice_payments.unpaid(uow, account.record_id)
        out: list[Payment] = []
        left = amount
        for invoice, balance in unpaid:
            pay = balance if left is None else min(balance, left)
            if pay <= 0:
                break
            try:
                done = self.pay(ctx, PayRequest(invoice.id, account_id=account_id, amount=pay,
                                                payment_method_id=payment_method_id))
            except PaymentError as e:
                if e.code != NULL_INVOICE:  # paid meanwhile (an automatic payment): nothing left to do
                    raise
                continue
            if done is not None:
                out.append(done)
            if left is not None:
                left -= pay
        return out

    # -- refunds and chargebacks ------------------------------------------------------------------------------
    def refund(self, ctx: CallContext, payment_id: str, amount: Decimal | None, *,
               adjustments: Mapping[str, Decimal | None] | None = None, transaction_external_key: str | None = None,
               properties: Sequence[PluginProperty] = ()) -> Payment:
        """`createRefundWithAdjustments`: refunds a payment; with `adjustments` the invoice items are adjusted
        too (the refund amount defaults to their sum)."""
        payment = self.payments.get(ctx, payment_id)
        if adjustments:
            with self.db.read(ctx) as uow:
                paid = self._paid_row(uow, payment)
                invoice = self.invoice_payments.invoices.get(uow, paid.invoice_id)
            if amount is None:
                amount = sum((v if v is not None else next((it.amount for it in invoice.items if it.id == k),
                                                               Decimal(0)) for k, v in adjustments.items()), Decimal(0))
        if amount is None or amount <= 0:
            raise PaymentError(7001, f"Refund on payment {payment_id} not allowed with amount {amount}")
        call = TransactionCall(payment.account_id, TransactionType.REFUND, amount=amount, payment_id=payment.id,
                               transaction_external_key=transaction_external_key, properties=tuple(properties))
        prep = self.processor.prepare_with_lease(self.db, ctx, lambda uow: self.processor.prepare(uow, call))
        if adjustments:
            self.control.adjustments[prep.transaction.id] = RefundAdjustments(dict(adjustments))
        outcome = self.processor.call_plugin(prep)
        try:
            with self.db.transaction(ctx) as uow:
                done, _ = self.processor.record(uow, prep, outcome, self.control.on_outcome)
        finally:
            self.control.adjustments.pop(prep.transaction.id, None)
        if outcome.http != 201:
            raise PaymentOutcomeError(done.id, outcome.failure or "Refund failed", outcome.http)
        return done

    def _paid_row(self, uow: UnitOfWork, payment: Payment) -> InvoicePayment:
        rows = [r for r in self.invoice_payments.rows(uow, payment_id=payment.id) if r.type == ATTEMPT and r.success]
        if not rows:
            raise no_such_payment(payment.id)
        return rows[0]

    def with_control(self, ctx: CallContext, call: TransactionCall) -> tuple[Payment, PaymentTransaction]:
        """Any other transaction (chargeback, reversal, capture, ...) with the invoice control applied."""
        return self.payments.transact(ctx, call, self.control.on_outcome)

    def parked_by_auto_pay_off(self, ctx: CallContext, account_id: str) -> list[str]:
        """AUTO_PAY_OFF removed (Kill Bill's `process_AUTO_PAY_OFF_removal`): the invoices whose automatic payment
        the tag parked, oldest first; their rows are removed (a payment parked again writes a new one)."""
        with self.db.transaction(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            uow.lock_account(account.record_id)
            return store.unpark_auto_pay_off(uow.conn, uow.tenant, account.record_id)

    def cancel_scheduled(self, ctx: CallContext, *, transaction_id: str | None = None,
                         transaction_external_key: str | None = None) -> int:
        """`cancelScheduledPaymentTransaction` by a transaction's id or external key: its payment's scheduled
        retries are cancelled (an unknown external key cancels nothing, as in Kill Bill); the number cancelled."""
        with self.db.transaction(ctx) as uow:
            if transaction_id is not None:
                trx = store.transaction(uow.conn, uow.tenant, transaction_id)
                if trx is None:
                    raise no_such_transaction(transaction_id)
            else:
                found = store.transactions_by_key(uow.conn, uow.tenant, transaction_external_key or "")
                if not found:
                    return 0
                trx = found[-1][0]
            payment = store.payment(uow.conn, uow.tenant, payment_id=trx.payment_id)
            if payment is None:
                raise no_such_payment(trx.payment_id)
            uow.lock_account(payment.account_record_id)
            return self.control.cancel_retries(uow, payment)

    # -- reads -------------------------------------------------------------------------------------------
    def of_invoice(self, ctx: CallContext, invoice_id: str) -> list[InvoicePayment]:
        with self.db.read(ctx) as uow:
            self.invoice_payments.invoices.get(uow, invoice_id)
            return self.invoice_payments.rows(uow, invoice_id=invoice_id)

    def of_payment(self, ctx: CallContext, payment_id: str) -> list[InvoicePayment]:
        with self.db.read(ctx) as uow:
            return self.invoice_payments.rows(uow, payment_id=payment_id)

    def of_account(self, ctx: CallContext, account_id: str) -> list[InvoicePayment]:
        with self.db.read(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            return self.invoice_payments.rows(uow, account_record_id=account.record_id)
