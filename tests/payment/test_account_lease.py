"""The account's payment lease (Kill Bill's global locker for payments): one account's calls reach the gateway one
at a time, across threads and nodes, without a database transaction held during the call; other accounts are not
held up; a lease whose holder died expires."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from billow.account.model import AccountData
from billow.core.bus.tables import bus_events, bus_events_history
from billow.core.db import leases
from billow.invoice.credit import balance
from billow.invoice.model import InvoiceItemType
from billow.invoice.service import ItemInput
from billow.payment.invoices import PayRequest
from billow.payment.model import TransactionType
from billow.payment.processor import TransactionCall
from tests.payment.conftest import PayWorld

T = datetime(2025, 1, 1, tzinfo=UTC)


def test_a_lease_is_held_until_dropped_or_expired(pw: PayWorld) -> None:
    arid = pw.w.account.record_id
    with pw.kb.db.transaction(pw.ctx) as uow:
        assert leases.take(uow.conn, arid, "a", T, T + timedelta(seconds=60))
        assert not leases.take(uow.conn, arid, "b", T + timedelta(seconds=59), T + timedelta(seconds=120))
        assert leases.take(uow.conn, arid, "a", T + timedelta(seconds=1), T + timedelta(seconds=61))  # renewed
        leases.drop(uow.conn, arid, "b")  # not b's: nothing happens
        assert not leases.take(uow.conn, arid, "b", T + timedelta(seconds=2), T + timedelta(seconds=62))
        # the holder died: once expired, another takes it
        assert leases.take(uow.conn, arid, "b", T + timedelta(seconds=62), T + timedelta(seconds=122))
        leases.drop(uow.conn, arid, "b")
        assert leases.take(uow.conn, arid, "c", T + timedelta(seconds=63), T + timedelta(seconds=123))
        leases.drop(uow.conn, arid, "c")


def _gateway_log(pw: PayWorld, monkeypatch: Any) -> list[tuple[str, str]]:
    """Each purchase at the test gateway logs its entry and exit, and stays there a moment."""
    log: list[tuple[str, str]] = []
    lock = threading.Lock()
    plugin = pw.plugin
    original = plugin.purchase_payment

    def slow(req: Any, ctx: Any) -> Any:
        with lock:
            log.append(("enter", req.kb_account_id))
        time.sleep(0.3)
        try:
            return original(req, ctx)
        finally:
            with lock:
                log.append(("exit", req.kb_account_id))
    monkeypatch.setattr(plugin, "purchase_payment", slow)
    return log


def _purchases(pw: PayWorld, account_ids: list[str]) -> None:
    def pay(account_id: str) -> None:
        pw.kb.payment.payments.transact(pw.ctx, TransactionCall(account_id, TransactionType.PURCHASE,
                                                                amount=Decimal("1.00"), currency="USD"))
    threads = [threading.Thread(target=pay, args=(a,)) for a in account_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def test_one_accounts_payments_reach_the_gateway_one_at_a_time(pw: PayWorld, monkeypatch: Any) -> None:
    pw.add_method()
    log = _gateway_log(pw, monkeypatch)
    _purchases(pw, [pw.account_id, pw.account_id, pw.account_id])
    assert [kind for kind, _ in log] == ["enter", "exit"] * 3  # never two at once
    payments = pw.kb.payment.payments.of_account(pw.ctx, pw.account_id)
    assert [[t.status.value for t in p.transactions] for p in payments] == [["SUCCESS"]] * 3
    with pw.kb.db.read_connection() as conn:  # every lease was dropped with its outcome
        assert conn.execute(leases.account_leases.select().where(
            leases.account_leases.c.account_record_id == pw.w.account.record_id)).all() == []


def test_other_accounts_are_not_held_up(pw: PayWorld, monkeypatch: Any) -> None:
    other = pw.kb.accounts.create(pw.ctx, AccountData(name="Other", currency="USD"))
    pw.add_method()
    pw.kb.payment.methods.add(pw.ctx, other.id, "killbill-payment-test", is_default=True)
    log = _gateway_log(pw, monkeypatch)
    _purchases(pw, [pw.account_id, other.id])
    assert [kind for kind, _ in log][:2] == ["enter", "enter"]  # both at the gateway together


# -- the lease is Kill Bill's ACCNT_INV_PAY lock: invoice runs and credit moves wait for a payment at its gateway --
def _paused_gateway(pw: PayWorld, monkeypatch: Any) -> tuple[threading.Event, threading.Event]:
    """The test gateway stops in each purchase until `release` is set; `entered` tells it is there."""
    entered, release = threading.Event(), threading.Event()
    original = pw.plugin.purchase_payment

    def paused(req: Any, ctx: Any) -> Any:
        entered.set()
        assert release.wait(30)
        return original(req, ctx)
    monkeypatch.setattr(pw.plugin, "purchase_payment", paused)
    return entered, release


def test_a_credit_waits_for_the_payment_at_its_gateway_and_stays_on_the_account(pw: PayWorld,
                                                                                monkeypatch: Any) -> None:
    method = pw.add_method(default=False)  # no default method: the automatic payment does nothing
    inv = pw.charge("20.00")
    entered, release = _paused_gateway(pw, monkeypatch)
    paying = threading.Thread(target=lambda: pw.kb.payment.invoices.pay(
        pw.ctx, PayRequest(inv.id, payment_method_id=method.id)))
    paying.start()
    assert entered.wait(10)
    crediting = threading.Thread(target=lambda: pw.kb.invoices.add_items(
        pw.ctx, pw.account_id, [ItemInput(amount=Decimal("5.00"), currency="USD")], InvoiceItemType.CREDIT_ADJ,
        requested=None, auto_commit=True))
    crediting.start()
    crediting.join(0.5)
    assert crediting.is_alive()  # the invoice is being paid: the credit waits for the lease
    release.set()
    paying.join(30)
    crediting.join(30)
    assert not paying.is_alive() and not crediting.is_alive()
    paid = pw.invoice(inv.id)
    # the credit was not spent on the invoice the customer was paying in full: it stays on the account
    assert [it.type for it in paid.items] == [InvoiceItemType.EXTERNAL_CHARGE]
    assert balance(paid) == Decimal("0.00")
    assert pw.kb.invoices.account_balances(pw.ctx, pw.w.account) == (Decimal("-5.00"), Decimal("5.00"))


def test_an_api_credit_is_refused_with_503_when_the_lease_is_not_freed(pw: PayWorld, monkeypatch: Any) -> None:
    monkeypatch.setattr(leases, "LEASE_TRIES", 3)
    monkeypatch.setattr(leases, "LEASE_WAIT_S", 0.01)
    with pw.kb.db.transaction(pw.ctx) as uow:  # a payment at its gateway, for a minute of the wall clock
        now = datetime.now(UTC)
        assert leases.take(uow.conn, pw.w.account.record_id, "another call", now, now + timedelta(seconds=60))
    with pytest.raises(leases.AccountBusy) as busy:
        pw.kb.invoices.add_items(pw.ctx, pw.account_id, [ItemInput(amount=Decimal("5.00"), currency="USD")],
                                 InvoiceItemType.CREDIT_ADJ, requested=None, auto_commit=True)
    assert busy.value.status == 503
    assert pw.kb.invoices.of_account(pw.ctx, pw.account_id) == []  # nothing written
    with pw.kb.db.transaction(pw.ctx) as uow:  # an expired lease does not hold anyone up
        leases.drop(uow.conn, pw.w.account.record_id, "another call")
        past = datetime.now(UTC) - timedelta(seconds=120)
        assert leases.take(uow.conn, pw.w.account.record_id, "a dead call", past, past + timedelta(seconds=60))
    pw.kb.invoices.add_items(pw.ctx, pw.account_id, [ItemInput(amount=Decimal("5.00"), currency="USD")],
                             InvoiceItemType.CREDIT_ADJ, requested=None, auto_commit=True)
    assert pw.kb.invoices.account_balances(pw.ctx, pw.w.account) == (Decimal("-5.00"), Decimal("5.00"))


def test_an_invoice_run_on_the_bus_waits_for_the_lease_without_counting_an_error(pw: PayWorld) -> None:
    arid = pw.w.account.record_id
    with pw.kb.db.transaction(pw.ctx) as uow:
        now = datetime.now(UTC)
        assert leases.take(uow.conn, arid, "another call", now, now + timedelta(seconds=60))
    pw.w.create("silver-monthly")  # its creation event asks for an invoice run
    assert not pw.kb.run_until_idle(1.0)  # the run waits: the account is busy
    assert pw.kb.invoices.of_account(pw.ctx, pw.account_id) == []
    with pw.kb.db.read_connection() as conn:
        waiting = conn.execute(select(bus_events.c.error_count).where(bus_events.c.search_key1 == arid)).all()
    assert waiting and all((r.error_count or 0) == 0 for r in waiting)  # waiting is not failing
    with pw.kb.db.transaction(pw.ctx) as uow:
        leases.drop(uow.conn, arid, "another call")
    assert pw.kb.run_until_idle(20)
    assert len(pw.kb.invoices.of_account(pw.ctx, pw.account_id)) == 1
    with pw.kb.db.read_connection() as conn:
        states = conn.execute(select(bus_events_history.c.processing_state, bus_events_history.c.error_count).where(
            bus_events_history.c.search_key1 == arid)).all()
    assert states and all(s.processing_state == "PROCESSED" and (s.error_count or 0) == 0 for s in states)


def _spy_billing(pw: PayWorld, monkeypatch: Any, dropped: threading.Event) -> list[bool]:
    """Whether the lease was dropped when each batch that invoiced the account was billed (the tenant of the
    test session may have other accounts due)."""
    run = pw.kb.invoices.run
    original = run._bill
    billed: list[bool] = []

    def spy(tenant: int, arids: list[int], owner: str, report: Any) -> None:
        before = report.invoices
        original(tenant, arids, owner, report)
        if report.invoices > before and pw.w.account.record_id in arids:
            billed.append(dropped.is_set())
    monkeypatch.setattr(run, "_bill", spy)
    return billed


def _busy_subscriber(pw: PayWorld) -> int:
    pw.w.create("silver-monthly")
    assert pw.kb.run_until_idle(20)
    with pw.kb.db.transaction(pw.ctx) as uow:
        now = datetime.now(UTC)
        assert leases.take(uow.conn, pw.w.account.record_id, "another call", now, now + timedelta(seconds=60))
    pw.w.clock.add(timedelta(days=31))
    return len(pw.kb.invoices.of_account(pw.ctx, pw.account_id))


def test_a_billing_run_bills_a_busy_account_once_its_lease_is_dropped(pw: PayWorld, monkeypatch: Any) -> None:
    first = _busy_subscriber(pw)
    dropped = threading.Event()
    billed = _spy_billing(pw, monkeypatch, dropped)

    def drop_later() -> None:
        time.sleep(0.5)
        with pw.kb.db.transaction(pw.ctx) as uow:
            leases.drop(uow.conn, pw.w.account.record_id, "another call")
        dropped.set()
    dropper = threading.Thread(target=drop_later)
    dropper.start()
    report = pw.kb.invoices.run_due(tenant=pw.ctx.tenant_record_id)
    dropper.join(10)
    assert report.failed == [] and report.parked == []
    assert billed == [True]
    assert len(pw.kb.invoices.of_account(pw.ctx, pw.account_id)) == first + 1


def test_a_billing_run_leaves_an_account_busy_too_long_to_a_wake_up(pw: PayWorld, monkeypatch: Any) -> None:
    monkeypatch.setattr(leases, "LEASE_TRIES", 2)
    first = _busy_subscriber(pw)
    dropped = threading.Event()
    billed = _spy_billing(pw, monkeypatch, dropped)
    report = pw.kb.invoices.run_due(tenant=pw.ctx.tenant_record_id)
    assert report.failed == [] and report.parked == []  # not an error: not yet
    assert len(pw.kb.invoices.of_account(pw.ctx, pw.account_id)) == first
    with pw.kb.db.transaction(pw.ctx) as uow:
        leases.drop(uow.conn, pw.w.account.record_id, "another call")
    dropped.set()
    assert pw.kb.run_until_idle(20)  # the wake-up the run scheduled bills it
    assert billed == [True]
    assert len(pw.kb.invoices.of_account(pw.ctx, pw.account_id)) == first + 1
