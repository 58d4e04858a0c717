"""Invoices paid through the bus, on the test clock: auto-pay, failures and retries, AUTO_PAY_OFF, refunds
with item adjustments, chargebacks and their reversals, the janitor."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from billow.core.bus.tables import bus_events_history
from billow.core.objects import ObjectType
from billow.invoice.events import InvoicePaymentErrorEvent
from billow.invoice.model import InvoiceItemType
from billow.invoice.service import ItemInput
from billow.payment.errors import PaymentError
from billow.payment.invoices import PayRequest
from billow.payment.model import TransactionStatus, TransactionType
from billow.payment.plugin_api import PaymentPluginStatus
from billow.payment.processor import TransactionCall
from billow.payment.service import chargeback_reversal
from billow.tag.model import AUTO_PAY_OFF, BUILT_IN_NAMES, MANUAL_PAY
from tests.payment.conftest import PayWorld


def test_invoice_is_paid_automatically_and_once(pw: PayWorld) -> None:
    pw.add_method()
    inv = pw.charge("20.00")
    assert pw.balance(inv.id) == 0
    assert pw.invoice(inv.id).paid_amount == Decimal("20.00")
    payments = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    assert len(payments) == 1
    (trx,) = payments[0].transactions
    assert (trx.transaction_type, trx.status, trx.processed_amount) == (
        TransactionType.PURCHASE, TransactionStatus.SUCCESS, Decimal("20.00"))
    assert payments[0].state_name == "PURCHASE_SUCCESS"
    # a duplicated INVOICE_CREATION (at-least-once delivery) pays nothing more
    from billow.invoice.events import InvoiceCreationEvent
    with pw.kb.db.transaction(pw.ctx) as uow:
        uow.post(InvoiceCreationEvent(tenant_record_id=uow.tenant, account_record_id=pw.w.account.record_id,
                                      account_id=pw.account_id, object_id=inv.id, currency="USD"))
    assert pw.balance(inv.id) == 0
    assert len(pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)) == 1
    rows = pw.kb.payment.invoices.of_invoice(pw.ctx, inv.id)
    assert [(r.type, r.amount, r.success) for r in rows] == [("ATTEMPT", Decimal("20.00"), True)]
    assert pw.kb.invoices.account_balances(pw.ctx, pw.w.account)[0] == 0
    # announced on the bus (and so pushed): the payment's success, and the invoice payment's
    assert "PaymentSuccessEvent" in pw.w.published(payments[0].id)
    assert "InvoicePaymentSuccessEvent" in pw.w.published(inv.id)


def test_failure_then_retries_on_kill_bills_schedule_then_success(pw: PayWorld) -> None:
    pw.add_method()
    pw.configure("ACTION_RETURN_PLUGIN_STATUS_ERROR", METHODS="purchasePayment")
    start = pw.w.clock.utcnow()
    inv = pw.charge("15.00")
    assert pw.balance(inv.id) == Decimal("15.00")
    pw.w.advance(days=8)   # first retry: fails again
    assert pw.balance(inv.id) == Decimal("15.00")
    pw.configure("ACTION_CLEAR")
    pw.w.advance(days=8)   # second retry: succeeds
    assert pw.balance(inv.id) == 0
    (payment,) = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    statuses = [(t.status, (t.effective_date - start).days) for t in payment.transactions]
    assert statuses == [(TransactionStatus.PAYMENT_FAILURE, 0), (TransactionStatus.PAYMENT_FAILURE, 8),
                        (TransactionStatus.SUCCESS, 16)]
    pw.w.advance(days=8)   # nothing left to retry
    (payment,) = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    assert len(payment.transactions) == 3


def test_retries_stop_after_the_schedule(pw: PayWorld) -> None:
    pw.add_method()
    pw.configure("ACTION_RETURN_PLUGIN_STATUS_ERROR")
    inv = pw.charge("5.00")
    for _ in range(5):
        pw.w.advance(days=8)
    (payment,) = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    assert [t.status for t in payment.transactions] == [TransactionStatus.PAYMENT_FAILURE] * 4
    assert pw.balance(inv.id) == Decimal("5.00")


def test_auto_pay_off_leaves_the_invoice_unpaid_until_removed(pw: PayWorld) -> None:
    pw.add_method()
    definition = BUILT_IN_NAMES[AUTO_PAY_OFF].id
    pw.kb.tags.add_tags(pw.ctx, ObjectType.ACCOUNT, pw.account_id, [definition])
    inv = pw.charge("12.00")
    assert pw.balance(inv.id) == Decimal("12.00")
    assert pw.kb.payment.payments.of_account(pw.ctx, pw.account_id) == []
    pw.kb.tags.remove_tags(pw.ctx, ObjectType.ACCOUNT, pw.account_id, [definition])
    assert pw.balance(inv.id) == 0


def test_removing_auto_pay_off_pays_only_the_payments_it_parked(pw: PayWorld) -> None:
    """Kill Bill's `invoice_payment_control_plugin_auto_pay_off`: an invoice unpaid for another reason (no payment
    method when it was made) is not paid when the tag goes; the ones AUTO_PAY_OFF or MANUAL_PAY parked are."""
    unpaid = pw.charge("5.00")  # no default method yet: a failed attempt, nothing parked
    pw.add_method()
    pw.kb.tags.add_tags(pw.ctx, ObjectType.ACCOUNT, pw.account_id, [BUILT_IN_NAMES[MANUAL_PAY].id])
    by_manual_pay = pw.charge("6.00")
    pw.kb.tags.add_tags(pw.ctx, ObjectType.ACCOUNT, pw.account_id, [BUILT_IN_NAMES[AUTO_PAY_OFF].id])
    by_auto_pay_off = pw.charge("7.00")
    pw.kb.tags.remove_tags(pw.ctx, ObjectType.ACCOUNT, pw.account_id, [BUILT_IN_NAMES[MANUAL_PAY].id])
    assert pw.balance(by_manual_pay.id) == Decimal("6.00")  # removing MANUAL_PAY pays nothing (Kill Bill)
    pw.kb.tags.remove_tags(pw.ctx, ObjectType.ACCOUNT, pw.account_id, [BUILT_IN_NAMES[AUTO_PAY_OFF].id])
    assert (pw.balance(unpaid.id), pw.balance(by_manual_pay.id), pw.balance(by_auto_pay_off.id)) == (
        Decimal("5.00"), 0, 0)
    # parked once each, and nothing is left parked
    pw.kb.tags.add_tags(pw.ctx, ObjectType.ACCOUNT, pw.account_id, [BUILT_IN_NAMES[AUTO_PAY_OFF].id])
    pw.kb.tags.remove_tags(pw.ctx, ObjectType.ACCOUNT, pw.account_id, [BUILT_IN_NAMES[AUTO_PAY_OFF].id])
    assert pw.balance(unpaid.id) == Decimal("5.00")
    payments = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    assert sorted(t.processed_amount for p in payments for t in p.transactions) == [Decimal("6.00"), Decimal("7.00")]


def test_no_default_method_records_a_failed_attempt(pw: PayWorld) -> None:
    inv = pw.charge("7.00")
    assert pw.balance(inv.id) == Decimal("7.00")
    rows = pw.kb.payment.invoices.of_invoice(pw.ctx, inv.id)
    assert [(r.type, r.success, r.payment_id) for r in rows] == [("ATTEMPT", False, None)]
    # and announced, as Kill Bill's invoice payment control does: INVOICE_PAYMENT_ERROR for the invoice
    with pw.kb.db.read_connection() as conn:
        announced = conn.execute(select(bus_events_history.c.class_name).where(
            bus_events_history.c.search_key1 == pw.w.account.record_id,
            bus_events_history.c.event_json.contains(inv.id))).scalars().all()
    assert InvoicePaymentErrorEvent.class_name() in announced


def test_refund_with_item_adjustment(pw: PayWorld) -> None:
    pw.add_method()
    inv = pw.charge("30.00")
    (payment,) = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    item = inv.items[0]
    pw.kb.payment.invoices.refund(pw.ctx, payment.id, None, adjustments={item.id: Decimal("10.00")})
    after = pw.invoice(inv.id)
    assert after.paid_amount == Decimal("20.00")
    assert pw.balance(inv.id) == 0  # the adjustment lowered the charge by what was refunded
    assert [(it.type.value, it.amount) for it in after.items if it.linked_item_id == item.id] == [
        ("ITEM_ADJ", Decimal("-10.00"))]
    refreshed = pw.kb.payment.payments.get(pw.ctx, payment.id)
    assert refreshed.state_name == "REFUND_SUCCESS"


def test_refund_without_adjustment_reopens_the_balance(pw: PayWorld) -> None:
    pw.add_method()
    inv = pw.charge("30.00")
    (payment,) = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    pw.kb.payment.invoices.refund(pw.ctx, payment.id, Decimal("5.00"))
    assert pw.balance(inv.id) == Decimal("5.00")


def test_chargeback_and_its_reversal(pw: PayWorld) -> None:
    pw.add_method()
    inv = pw.charge("25.00")
    (payment,) = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    pw.kb.payment.invoices.with_control(pw.ctx, TransactionCall(
        pw.account_id, TransactionType.CHARGEBACK, amount=Decimal("25.00"), payment_id=payment.id,
        transaction_external_key="cb-1"))
    assert pw.balance(inv.id) == Decimal("25.00")
    pw.kb.payment.invoices.with_control(pw.ctx, chargeback_reversal(pw.account_id, payment.id,
                                                                    transaction_external_key="cb-1"))
    assert pw.balance(inv.id) == 0
    done = pw.kb.payment.payments.get(pw.ctx, payment.id)
    assert [(t.transaction_type, t.status) for t in done.transactions][-2:] == [
        (TransactionType.CHARGEBACK, TransactionStatus.SUCCESS),
        (TransactionType.CHARGEBACK, TransactionStatus.PAYMENT_FAILURE)]
    assert done.state_name == "CHARGEBACK_FAILED" and done.last_success_state_name == "CHARGEBACK_FAILED"


def test_janitor_completes_a_pending_purchase(pw: PayWorld) -> None:
    pw.add_method()
    pw.configure("ACTION_RETURN_PLUGIN_STATUS_PENDING", METHODS="purchasePayment")
    inv = pw.charge("40.00")
    (payment,) = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    (trx,) = payment.transactions
    assert trx.status is TransactionStatus.PENDING and pw.balance(inv.id) == Decimal("40.00")
    pw.plugin.settle(pw.ctx.tenant_id or "", trx.id, PaymentPluginStatus.PROCESSED)
    pw.w.advance(hours=1, minutes=1)  # org.killbill.payment.janitor.pending.retries: 1h first
    settled = pw.kb.payment.payments.get(pw.ctx, payment.id)
    assert settled.transactions[0].status is TransactionStatus.SUCCESS
    assert settled.state_name == "PURCHASE_SUCCESS"
    assert pw.balance(inv.id) == 0
    assert timedelta(hours=1) <= settled.transactions[0].updated_date - trx.created_date


def test_invoice_search_by_balance_counts_payments(pw: PayWorld) -> None:
    pw.add_method()
    paid = pw.charge("20.00")
    pw.kb.payment.methods.delete(pw.ctx, pw.kb.accounts.get(pw.ctx, pw.account_id).payment_method_id or "",
                                 force=True)
    unpaid = pw.charge("15.00")
    found = pw.kb.invoices.search(pw.ctx, "_q=1&balance[gt]=0", 0, 10)
    assert [i.id for i in found.invoices] == [unpaid.id]
    assert [i.id for i in pw.kb.invoices.search(pw.ctx, "_q=1&balance[eq]=0", 0, 10).invoices] == [paid.id]


def test_paid_amounts_are_exact(pw: PayWorld) -> None:
    """Sums of payments and refunds stay exact decimals (SQLite would sum them as floating point)."""
    pw.add_method()
    inv = pw.charge("433.67")
    (payment,) = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    pw.kb.payment.invoices.refund(pw.ctx, payment.id, Decimal("0.1"))
    pw.kb.payment.invoices.refund(pw.ctx, payment.id, Decimal("0.2"))
    assert str(pw.invoice(inv.id).paid_amount) == "433.37"
    assert pw.balance(inv.id) == Decimal("0.30")


def test_plugin_failure_is_retried_after_five_minutes(pw: PayWorld) -> None:
    pw.add_method()
    pw.configure("ACTION_RETURN_PLUGIN_STATUS_CANCELED")
    inv = pw.charge("3.00")
    pw.configure("ACTION_CLEAR")
    pw.w.advance(minutes=4)
    assert pw.balance(inv.id) == Decimal("3.00")
    pw.w.advance(minutes=2)  # org.killbill.payment.failure.retry.start.sec: 300
    assert pw.balance(inv.id) == 0
    (payment,) = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    assert [t.status for t in payment.transactions] == [TransactionStatus.PLUGIN_FAILURE, TransactionStatus.SUCCESS]
    attempts = pw.kb.payment.payments.attempts(pw.ctx, payment)
    assert [a.state_name for a in attempts] == ["RETRIED", "SUCCESS"]


def test_pending_invoice_payment_notified_then_admin_fixed(pw: PayWorld) -> None:
    pw.add_method()
    pw.configure("ACTION_RETURN_PLUGIN_STATUS_PENDING", METHODS="purchasePayment")
    inv = pw.charge("11.00")
    (payment,) = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    trx = payment.transactions[0]
    pw.kb.payment.payments.notify_pending(pw.ctx, pw.account_id, trx.id, True)
    assert pw.balance(inv.id) == 0  # the invoice follows the settled payment
    pw.configure("ACTION_THROW_EXCEPTION", METHODS="purchasePayment")
    second = pw.charge("4.00")
    payments = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    unknown = next(t for p in payments for t in p.transactions if t.status is TransactionStatus.UNKNOWN)
    assert pw.balance(second.id) == Decimal("4.00")
    pw.kb.payment.payments.fix_transaction_state(pw.ctx, unknown.payment_id, unknown.id, TransactionStatus.SUCCESS)
    assert pw.balance(second.id) == 0


def test_account_export_has_the_payment_rows(pw: PayWorld) -> None:
    pw.add_method()
    pw.charge("6.00")
    names = {d.table for d in pw.kb.export.tables(pw.ctx, pw.account_id) if d.rows}
    assert {"payment_methods", "payments", "payment_transactions", "payment_attempts", "invoice_payments",
            "payments_history"} <= names


def test_a_child_delegating_payment_to_its_parent_does_not_pay(pw: PayWorld) -> None:
    from billow.account.model import AccountData
    parent = pw.kb.accounts.create(pw.ctx, AccountData(name="Parent", currency="USD"))
    child = pw.kb.accounts.create(pw.ctx, AccountData(name="Child", currency="USD", parent_account_id=parent.id,
                                                      is_payment_delegated_to_parent=True))
    pw.kb.payment.methods.add(pw.ctx, child.id, "killbill-payment-test", is_default=True)
    items = pw.kb.invoices.add_items(pw.ctx, child.id, [ItemInput(amount=Decimal("9.00"), currency="USD")],
                                     InvoiceItemType.EXTERNAL_CHARGE, requested=None, auto_commit=True)
    assert pw.kb.run_until_idle(30)
    assert pw.kb.payment.payments.of_account(pw.ctx, child.id) == []
    with pytest.raises(PaymentError) as err:
        pw.kb.payment.invoices.pay(pw.ctx, PayRequest(items[0].invoice_id))
    assert err.value.status == 422
