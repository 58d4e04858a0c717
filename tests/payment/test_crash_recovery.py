"""A crash after the gateway said SUCCESS and before the outcome was recorded: the transaction stays UNKNOWN, the
invoice is not paid again meanwhile (a redelivered INVOICE_CREATION finds it in flight), and the janitor records
the one charge the gateway made; the invoice is paid once."""

from __future__ import annotations

from decimal import Decimal

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
