"""A crash after the gateway said SUCCESS and before the outcome was recorded: the transaction stays UNKNOWN, the
invoice is not paid again meanwhile (a redelivered INVOICE_CREATION finds it in flight), and the janitor records
the one charge the gateway made; the invoice is paid once."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from billow.core.bus.tables import notifications
from billow.invoice.events import InvoiceCreationEvent
from billow.payment.invoices import PayRequest
from billow.payment.model import TransactionStatus
from billow.payment.plugin_api import PaymentPluginStatus
from tests.payment.conftest import PayWorld


def test_crash_between_gateway_and_record(pw: PayWorld) -> None:
    # no default method, so the automatic payment does nothing; the test pays as the listener does, and "crashes"
    method = pw.add_method(default=False)
    inv = pw.charge("19.99")  # no default method: the automatic payment records a failed attempt only
    invoices = pw.kb.payment.invoices
    with pw.kb.db.transaction(pw.ctx) as uow:
        prep = invoices._prepare(uow, PayRequest(inv.id, payment_method_id=method.id, api=False))
    assert prep is not None
    outcome = invoices.processor.call_plugin(prep)  # the gateway charges ...
    assert outcome.status is TransactionStatus.SUCCESS
    # ... and the process dies here: nothing recorded. A redelivered event must not charge again.
    with pw.kb.db.transaction(pw.ctx) as uow:
        uow.post(InvoiceCreationEvent(tenant_record_id=uow.tenant, account_record_id=pw.w.account.record_id,
                                      account_id=pw.account_id, object_id=inv.id, currency="USD"))
    assert pw.kb.run_until_idle(30)
    with pw.kb.db.transaction(pw.ctx) as uow:
        assert invoices._prepare(uow, PayRequest(inv.id, payment_method_id=method.id, api=False)) is None
    payment = pw.kb.payment.payments.get(pw.ctx, prep.payment.id)
    assert [t.status for t in payment.transactions] == [TransactionStatus.UNKNOWN]
    assert pw.balance(inv.id) == Decimal("19.99")
    # after the restart, the janitor asks the gateway (it answered PROCESSED) and records the one charge
    assert pw.plugin.get_payment_info(pw.account_id, payment.id, (), prep.context)[0].status \
        is PaymentPluginStatus.PROCESSED  # type: ignore[arg-type]
    assert pw.kb.payment.janitor.check(pw.ctx, prep.transaction.id) is TransactionStatus.SUCCESS
    assert pw.balance(inv.id) == 0
    payments = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    charges = [t for p in payments for t in p.transactions if t.status is TransactionStatus.SUCCESS]
    assert [(t.processed_amount, t.id) for t in charges] == [(Decimal("19.99"), prep.transaction.id)]
    rows = [r for r in pw.kb.payment.invoices.of_invoice(pw.ctx, inv.id) if r.success]
    assert [(r.type, r.amount) for r in rows] == [("ATTEMPT", Decimal("19.99"))]


def test_a_transaction_left_unknown_by_a_crash_is_settled_by_its_guard(pw: PayWorld) -> None:
    """Nothing is redelivered after the crash: the check scheduled with the UNKNOWN transaction itself (the janitor's
    guard, 5 minutes by default) finds it and records the gateway's answer."""
    method = pw.add_method(default=False)
    inv = pw.charge("7.50")
    invoices = pw.kb.payment.invoices
    with pw.kb.db.transaction(pw.ctx) as uow:
        prep = invoices._prepare(uow, PayRequest(inv.id, payment_method_id=method.id, api=False))
    assert prep is not None
    assert invoices.processor.call_plugin(prep).status is TransactionStatus.SUCCESS  # ... and the process dies
    pw.w.advance(minutes=4)
    payment = pw.kb.payment.payments.get(pw.ctx, prep.payment.id)
    assert [t.status for t in payment.transactions] == [TransactionStatus.UNKNOWN]  # not checked yet
    pw.w.advance(minutes=2)
    payment = pw.kb.payment.payments.get(pw.ctx, prep.payment.id)
    assert [t.status for t in payment.transactions] == [TransactionStatus.SUCCESS]
    assert pw.balance(inv.id) == 0


def test_a_recorded_outcome_leaves_nothing_for_the_guard(pw: PayWorld) -> None:
    pw.add_method()
    inv = pw.charge("3.00")  # paid at once by the automatic payment
    assert pw.balance(inv.id) == 0
    pw.w.advance(minutes=6)  # the guard's check runs and finds the transaction settled: nothing changes
    payments = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    assert [[t.status for t in p.transactions] for p in payments] == [[TransactionStatus.SUCCESS]]
    with pw.kb.db.read_connection() as conn:
        assert conn.execute(select(func.count()).select_from(notifications).where(
            notifications.c.queue_name == "payment-janitor", notifications.c.search_key1 == pw.w.account.record_id)
        ).scalar_one() == 0
