"""Automatic payments a pack at a time (`InvoicePaymentBatch`): the rows, events, audit and janitor checks written
are those of the single path (`InvoicePayments.pay`), payment by payment; what the batch cannot pay is handed back."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from billow.account.model import Account, AccountData
from billow.core.bus.bus import Notification
from billow.core.bus.tables import bus_events, bus_events_history, notifications
from billow.core.context import internal_context
from billow.core.db.schema import audit_log
from billow.invoice.model import InvoiceItemType
from billow.invoice.service import ItemInput
from billow.payment import store
from billow.payment.invoice_batch import InvoicePaymentBatch
from billow.payment.invoices import PayRequest
from billow.payment.listeners import INVOICE_QUEUE, INVOICES
from billow.payment.model import TransactionStatus
from tests.payment.conftest import TEST_PLUGIN, PayWorld


def _unpaid(pw: PayWorld, n: int, *, method: bool = True) -> list[tuple[Account, str]]:
    """Accounts with one unpaid invoice each; their payment method is added after the invoice (so nothing paid it)."""
    out = []
    for i in range(n):
        account = pw.kb.accounts.create(pw.ctx, AccountData(name=f"payer {i}", currency="USD"))
        items = pw.kb.invoices.add_items(pw.ctx, account.id, [ItemInput(amount=Decimal("12.34"), currency="USD")],
                                         InvoiceItemType.EXTERNAL_CHARGE, requested=None, auto_commit=True)
        assert pw.kb.run_until_idle(30)
        if method:
            pw.kb.payment.methods.add(pw.ctx, account.id, TEST_PLUGIN, is_default=True)
        out.append((account, items[0].invoice_id))
    assert pw.kb.run_until_idle(30)
    return out


def _notification(pw: PayWorld, account: Account, invoice_id: str, token: str, n: int = 1) -> Notification:
    now = pw.w.clock.utcnow()
    return Notification(record_id=n, queue_name=INVOICE_QUEUE, payload={"invoice_id": invoice_id},
                        effective_date=now, created_date=now, tenant_record_id=pw.ctx.tenant_record_id,
                        account_record_id=account.record_id, user_token=token, future_user_token=None, error_count=0)


def _pay_one(pw: PayWorld, invoice_id: str, token: str) -> None:
    ctx = internal_context(pw.ctx.tenant_record_id, user_name="PaymentRequestProcessor", user_token=token)
    pw.kb.payment.invoices.pay(ctx, PayRequest(invoice_id, api=False))


def _written(pw: PayWorld, account: Account, token: str) -> dict[str, Any]:
    """What paying wrote for an account, without ids: payments, transactions, attempts, invoice payment rows,
    events posted, audit rows, janitor checks scheduled."""
    kb, tenant = pw.kb, pw.ctx.tenant_record_id
    listed = kb.payment.payments.of_account(pw.ctx, account.id)
    rows = kb.payment.invoices.of_account(pw.ctx, account.id)
    with kb.db.read_connection() as conn:
        payments = [store.payment(conn, tenant, payment_id=p.id) for p in listed]
        attempts = [a for p in payments if p for a in store.attempts(conn, tenant, payment_external_key=p.external_key)]
        events = sorted((r.class_name.rsplit(".", 1)[1], r.user_token, json.dumps(
            {k: v for k, v in json.loads(r.event_json).items() if k in (
                "amount", "status", "transaction_type", "kind", "invoice_payment_type", "currency", "is_api_payment")},
            sort_keys=True)) for t in (bus_events, bus_events_history)
            for r in conn.execute(select(t).where(t.c.search_key1 == account.record_id)))
        audits = Counter((r.table_name, r.change_type, r.created_by, r.user_token) for r in conn.execute(
            select(audit_log).where(audit_log.c.account_record_id == account.record_id,
                                    audit_log.c.table_name.in_(["payments", "payment_transactions",
                                                                "payment_attempts", "invoice_payments"]))))
        mine = {t.id for p in payments if p for t in p.transactions}
        checks = [(r.queue_name, r.user_token, sorted(json.loads(r.event_json)), r.effective_date - kb.clock.utcnow())
                  for r in conn.execute(select(notifications).where(notifications.c.search_key2 == tenant)
                                        .order_by(notifications.c.record_id))
                  if r.search_key1 == account.record_id
                  or mine & set(json.loads(r.event_json).get("transaction_ids", ()))]
    trx = [(t.transaction_type, t.status, t.amount, t.processed_amount, t.currency, t.processed_currency,
            t.gateway_error_code, t.external_key == a.transaction_external_key, t.attempt_id == a.id)
           for p in payments if p for t in p.transactions for a in attempts]
    return {
        "payments": [(p.state_name, p.last_success_state_name, p.external_key == p.id) for p in payments if p],
        "transactions": trx,
        "attempts": [(a.state_name, a.amount, a.currency, a.transaction_type) for a in attempts],
        "invoice_payments": [(r.type, r.amount, r.success, r.payment_id is not None) for r in rows],
        "events": events, "audit": audits, "checks": checks,
    }


def test_a_pack_writes_what_one_by_one_writes(pw: PayWorld) -> None:
    (a1, i1), (a2, i2), (a3, i3), (a4, i4) = _unpaid(pw, 4)
    token = str(uuid.uuid4())
    left = InvoicePaymentBatch(pw.kb.payment.invoices).pay([_notification(pw, a1, i1, token, 1),
                                                            _notification(pw, a2, i2, token, 2)])
    assert left == []
    _pay_one(pw, i3, token)
    _pay_one(pw, i4, token)
    batched, single = _written(pw, a1, token), _written(pw, a3, token)
    assert batched == single
    assert batched == _written(pw, a2, token) and single == _written(pw, a4, token)
    # and it is a payment: the invoice is paid by a successful purchase, its check scheduled, all announced
    assert pw.balance(i1) == 0
    assert batched["payments"] == [("PURCHASE_SUCCESS", "PURCHASE_SUCCESS", True)]
    assert {"PaymentSuccessEvent", "InvoicePaymentSuccessEvent"} <= {e[0] for e in batched["events"]}
    assert [c[0] for c in batched["checks"]] == ["payment-janitor"]
    # the pack's payments share one janitor check, naming both transactions
    with pw.kb.db.read_connection() as conn:
        guards = [json.loads(r.event_json) for r in conn.execute(select(notifications).where(
            notifications.c.queue_name == "payment-janitor", notifications.c.search_key1.is_(None)))]
    paid = [pw.kb.payment.payments.of_account(pw.ctx, a.id)[0].transactions[0].id for a in (a1, a2)]
    assert [sorted(g["transaction_ids"]) for g in guards] == [sorted(paid)]


def test_a_pack_charged_but_not_recorded_is_settled_by_its_janitor_check(pw: PayWorld) -> None:
    (a1, i1), (a2, i2) = _unpaid(pw, 2)
    batch = InvoicePaymentBatch(pw.kb.payment.invoices)
    left: list[Notification] = []
    with pw.kb.db.transaction(internal_context(pw.ctx.tenant_record_id, user_name="PaymentRequestProcessor")) as uow:
        started = batch._start(uow, [_notification(pw, a1, i1, "t", 1), _notification(pw, a2, i2, "t", 2)], left)
    assert left == [] and len(started) == 2
    outcomes = batch.processor.call_plugins([s.prep for s in started])  # charged; the process dies before recording
    assert {o.status for o in outcomes} == {TransactionStatus.SUCCESS}
    assert pw.balance(i1) == Decimal("12.34")
    pw.w.advance(minutes=6)  # the janitor's first check asks the gateway and records what it says
    assert pw.balance(i1) == 0 and pw.balance(i2) == 0
    for a in (a1, a2):
        (payment,) = pw.kb.payment.payments.of_account(pw.ctx, a.id)
        assert [t.status for t in payment.transactions] == [TransactionStatus.SUCCESS]
        assert payment.state_name == "PURCHASE_SUCCESS"


def test_declines_in_a_pack_are_recorded_as_one_by_one_with_their_retries(pw: PayWorld) -> None:
    (a1, i1), (a2, i2) = _unpaid(pw, 2)
    pw.configure("ACTION_RETURN_PLUGIN_STATUS_ERROR", METHODS="purchasePayment")
    token = str(uuid.uuid4())
    assert InvoicePaymentBatch(pw.kb.payment.invoices).pay([_notification(pw, a1, i1, token)]) == []
    _pay_one(pw, i2, token)
    batched = _written(pw, a1, token)
    assert batched == _written(pw, a2, token)
    assert batched["payments"] == [("PURCHASE_FAILED", None, True)]
    assert sorted(c[0] for c in batched["checks"]) == ["payment-janitor", "payment-retry"]
    assert pw.balance(i1) == Decimal("12.34")


def test_what_the_pack_cannot_pay_is_handed_back_or_skipped_as_one_by_one_would(pw: PayWorld) -> None:
    (a1, i1), (a2, i2) = _unpaid(pw, 2)
    (a3, i3), = _unpaid(pw, 1, method=False)
    pay = InvoicePaymentBatch(pw.kb.payment.invoices).pay
    paid_twice = _notification(pw, a1, i1, "t", 2)
    retry = Notification(**{**_notification(pw, a2, i2, "t", 3).__dict__,
                            "payload": {"invoice_id": i2, "payment_external_key": "k"}})
    left = pay([_notification(pw, a1, i1, "t", 1), paid_twice, retry, _notification(pw, a3, i3, "t", 4)])
    # a second notification of the same account waits for the single path; so does a retry (it names its payment)
    assert sorted(n.record_id for n in left) == [2, 3]
    assert pw.balance(i1) == 0
    # no method: a failed attempt, announced, as the single path records it
    assert [(r.type, r.success, r.payment_id) for r in pw.kb.payment.invoices.of_invoice(pw.ctx, i3)] == [
        ("ATTEMPT", False, None), ("ATTEMPT", False, None)]
    # the duplicate finds the invoice paid: nothing more
    assert pay([paid_twice]) == []
    assert len(pw.kb.payment.payments.of_account(pw.ctx, a1.id)) == 1


def _row_of(pw: PayWorld, invoices: list[tuple[Account, str]], record_id: int = 1) -> Notification:
    """The `payment-invoice` row a bus pack of several new invoices schedules."""
    first = _notification(pw, invoices[0][0], invoices[0][1], "t", record_id)
    return Notification(**{**first.__dict__, "account_record_id": None,
                            "payload": {INVOICES: [[i, a.record_id] for a, i in invoices]}})


def test_a_row_of_several_invoices_is_paid_whole_even_two_of_one_account(pw: PayWorld) -> None:
    (a1, i1), (a2, i2) = _unpaid(pw, 2, method=False)
    again = pw.kb.invoices.add_items(pw.ctx, a1.id, [ItemInput(amount=Decimal("5.00"), currency="USD")],
                                     InvoiceItemType.EXTERNAL_CHARGE, requested=None, auto_commit=True)[0].invoice_id
    assert pw.kb.run_until_idle(30)
    for a in (a1, a2):
        pw.kb.payment.methods.add(pw.ctx, a.id, TEST_PLUGIN, is_default=True)
    assert pw.kb.run_until_idle(30)
    queue = pw.kb.bus.queue(INVOICE_QUEUE)
    assert queue.batch_handler is not None
    # nothing is handed back to the bus: the second invoice of a1 is paid by the single path after the pack
    assert queue.batch_handler([_row_of(pw, [(a1, i1), (a2, i2), (a1, again)])]) == []
    assert [pw.balance(i) for i in (i1, i2, again)] == [0, 0, 0]
    assert len(pw.kb.payment.payments.of_account(pw.ctx, a1.id)) == 2
    # the row run again (a crash before it was archived) pays nothing twice
    assert queue.batch_handler([_row_of(pw, [(a1, i1), (a2, i2), (a1, again)])]) == []
    assert len(pw.kb.payment.payments.of_account(pw.ctx, a1.id)) == 2
    assert len(pw.kb.payment.payments.of_account(pw.ctx, a2.id)) == 1


def test_a_row_of_several_invoices_run_one_by_one_when_the_batch_fails(pw: PayWorld) -> None:
    paid = _unpaid(pw, 3)
    queue = pw.kb.bus.queue(INVOICE_QUEUE)
    queue.handler(_row_of(pw, paid))  # what the dispatcher does when the batch handler raised
    assert [pw.balance(i) for _, i in paid] == [0, 0, 0]
    assert all(len(pw.kb.payment.payments.of_account(pw.ctx, a.id)) == 1 for a, _ in paid)
