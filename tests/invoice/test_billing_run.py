"""The billing run at scale (`InvoiceService.run_due`, what next-billing-date notifications and `billow bill`
call): batches of accounts (two at once on PostgreSQL), one invoice per due date, a failing account isolated,
retried and parked. On SQLite and PostgreSQL.

The session's Billow runs bus workers, so a clock move bills through the notification path too; these tests
assert what ends up in the database (and run_due's report only where nothing else can be billing).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from billow.account.model import AccountData
from billow.invoice import billing_run, store
from billow.invoice.model import InvoiceItemType
from tests.invoice.scenarios import World, invoices_of


def _accounts_with_subscriptions(w: World, n: int) -> list[str]:
    ids = [w.account.id]
    w.create("silver-monthly")
    for i in range(n - 1):
        acc = w.kb.accounts.create(w.ctx, AccountData(name=f"Batch {i}", currency="USD"))
        ids.append(acc.id)
        from billow.entitlement.model import SubscriptionRequest

        w.kb.entitlements.create(w.ctx, [SubscriptionRequest(account_id=acc.id, plan_name="silver-monthly")])
    assert w.kb.run_until_idle(60)
    return ids


def _recurring_periods(w: World, account_id: str) -> list[tuple[date | None, date | None, D]]:
    invoices = w.kb.invoices.of_account(w.ctx, account_id)
    return sorted((it.start_date, it.end_date, it.amount) for inv in invoices for it in inv.items
                  if it.type is InvoiceItemType.RECURRING)


def test_run_due_bills_every_due_account_once_in_small_batches(w: World) -> None:
    ids = _accounts_with_subscriptions(w, 12)
    w.kb.invoices.run.batch_size = 5  # 12 accounts: three batches (two at a time on PostgreSQL)
    try:
        w.advance(days=31)  # 2024-02-15: every account's next billing date
        report = w.kb.invoices.run_due(tenant=w.ctx.tenant_record_id)
    finally:
        w.kb.invoices.run.batch_size = 500
    assert not report.failed and not report.parked
    assert report.accounts == 0  # the notification path billed them all already: nothing is billed twice
    for account_id in ids:
        assert _recurring_periods(w, account_id) == [(date(2024, 1, 15), date(2024, 2, 15), D(20)),
                                                     (date(2024, 2, 15), date(2024, 3, 15), D(20))]
    numbers = [inv.invoice_number for a in ids for inv in w.kb.invoices.of_account(w.ctx, a)]
    assert len(numbers) == len(set(numbers)) == 24


def test_a_long_clock_move_bills_each_missed_date_on_its_own_invoice(w: World) -> None:
    _accounts_with_subscriptions(w, 3)
    w.advance(days=31 + 29 + 31)  # three billing dates passed at once: 02-15, 03-15, 04-15
    invs = invoices_of(w)
    assert [(i.target_date, [(it.start_date, it.amount) for it in i.items]) for i in invs] == [
        (date(2024, 1, 15), [(date(2024, 1, 15), D(20))]),
        (date(2024, 2, 15), [(date(2024, 2, 15), D(20))]),
        (date(2024, 3, 15), [(date(2024, 3, 15), D(20))]),
        (date(2024, 4, 15), [(date(2024, 4, 15), D(20))]),
    ]


def test_a_failing_account_does_not_hold_up_the_others_and_is_parked(w: World,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _accounts_with_subscriptions(w, 4)
    bad = w.kb.accounts.get(w.ctx, ids[2])
    real = billing_run.run_once

    def run_once(state, *args, **kwargs):  # type: ignore[no-untyped-def]
        if state.account.id == bad.id:
            raise RuntimeError("boom")
        return real(state, *args, **kwargs)

    monkeypatch.setattr(billing_run, "run_once", run_once)
    w.advance(days=31)  # the notification path bills the batch: it fails, then account by account
    for account_id in ids:
        expected = 1 if account_id == bad.id else 2
        assert len(w.kb.invoices.of_account(w.ctx, account_id)) == expected
    with w.kb.db.read_connection() as conn:
        assert not store.is_parked(conn, bad.record_id)  # one failure: retried by the next run
    reports = [w.kb.invoices.run_due(tenant=w.ctx.tenant_record_id) for _ in range(w.kb.invoices.run.max_errors)]
    assert any(bad.record_id in r.parked for r in reports)
    with w.kb.db.read_connection() as conn:
        assert store.is_parked(conn, bad.record_id)
        errors = conn.execute(select(store.SC.c.last_error).where(store.SC.c.account_record_id == bad.record_id)
                              ).scalars().all()
    assert errors and all("boom" in e for e in errors)
    # a parked account is left alone by later runs, and billed again once it works and is retried by the API
    monkeypatch.setattr(billing_run, "run_once", real)
    assert bad.record_id not in w.kb.invoices.run_due(tenant=w.ctx.tenant_record_id).failed
    assert len(w.kb.invoices.of_account(w.ctx, bad.id)) == 1
    w.kb.invoices.trigger(w.ctx, bad.id, date(2024, 2, 15))
    assert _recurring_periods(w, bad.id)[-1] == (date(2024, 2, 15), date(2024, 3, 15), D(20))


def test_big_runs_bill_in_worker_processes_on_postgresql(w: World) -> None:
    if w.kb.db.is_sqlite:
        pytest.skip("billing worker processes are for PostgreSQL (SQLite has one writer)")
    from datetime import UTC, datetime

    from billow.app import Billow
    from billow.core.clock import TestClock

    ids = _accounts_with_subscriptions(w, 12)
    # a second node whose clock reached the next billing date (the session's clock stays on 2024-01-15)
    node = Billow(w.kb.db.url, TestClock(datetime(2024, 2, 15, 10, 0, tzinfo=UTC)), migrate=False,
                  billing_processes=2)
    try:
        report = node.invoices.run_due(tenant=w.ctx.tenant_record_id, batch_size=5)
        assert node.invoices.run._pool is not None  # more than one batch due: the worker processes billed them
    finally:
        node.close()
    assert (report.accounts, report.invoices, report.failed, report.parked) == (12, 12, [], [])
    for account_id in ids:
        assert _recurring_periods(w, account_id) == [(date(2024, 1, 15), date(2024, 2, 15), D(20)),
                                                     (date(2024, 2, 15), date(2024, 3, 15), D(20))]
        invs = w.kb.invoices.of_account(w.ctx, account_id)
        # stamped with the node's (test) clock, as if billed in its own process
        assert [(i.invoice_date, i.target_date) for i in invs][-1] == (date(2024, 2, 15), date(2024, 2, 15))
    numbers = [inv.invoice_number for a in ids for inv in w.kb.invoices.of_account(w.ctx, a)]
    assert len(numbers) == len(set(numbers)) == 24


def test_a_dead_runs_claims_are_billed_at_once_and_a_live_ones_are_left(w: World) -> None:
    """A run claims its accounts under its node's name; when that node's heartbeat stops (a killed `billow
    serve` or `billow bill`), the next run bills them at once instead of waiting for the claims to go stale."""
    from datetime import timedelta

    from sqlalchemy import update

    from billow.core.bus import store as bus_store

    dead_id, live_id = _accounts_with_subscriptions(w, 2)
    dead, live = (w.kb.accounts.get(w.ctx, a).record_id for a in (dead_id, live_id))
    wall = w.kb.bus.wall_clock.utcnow()
    with w.kb.db.connection() as conn:
        bus_store.heartbeat(conn, "ghost-dead", wall - timedelta(minutes=5), wall, {})  # silent for 5 minutes
        bus_store.heartbeat(conn, "ghost-live", wall, wall, {})
        for arid, owner in ((dead, "ghost-dead/run1"), (live, "ghost-live/run1")):
            conn.execute(update(store.SC).where(store.SC.c.account_record_id == arid)
                         .values(owner=owner, claimed_at=wall))
        conn.commit()
    w.advance(days=31)  # 2024-02-15: both accounts due; the notification's run takes over the dead run's claim
    billed = [(date(2024, 1, 15), date(2024, 2, 15), D(20)), (date(2024, 2, 15), date(2024, 3, 15), D(20))]
    assert _recurring_periods(w, dead_id) == billed
    assert _recurring_periods(w, live_id) == billed[:1]  # a live node's claim is left to it
    with w.kb.db.connection() as conn:
        conn.execute(update(store.SC).where(store.SC.c.account_record_id == live).values(owner=None,
                                                                                         claimed_at=None))
        conn.commit()
    w.kb.invoices.run_due(tenant=w.ctx.tenant_record_id)
    assert _recurring_periods(w, live_id) == billed


def test_a_run_comes_back_for_the_accounts_it_passed_over(w: World) -> None:
    """Each claim starts past the run's last account (`store.claim_due`'s `after`). An account another run held
    when this run passed it, and gave back since, is billed by one more pass from the first account."""
    from datetime import timedelta

    from sqlalchemy import update

    from billow.core.bus import store as bus_store
    from billow.core.context import internal_context

    ids = _accounts_with_subscriptions(w, 6)
    arids = sorted(w.kb.accounts.get(w.ctx, a).record_id for a in ids)
    held = arids[2]
    with w.kb.db.transaction(internal_context(w.ctx.tenant_record_id)) as uow:  # this test's run bills alone
        w.kb.bus.remove_due(uow, billing_run.TRIGGER_QUEUE, w.ctx.tenant_record_id,
                            w.clock.utcnow() + timedelta(days=365))
    wall = w.kb.bus.wall_clock.utcnow()
    with w.kb.db.connection() as conn:
        bus_store.heartbeat(conn, "ghost-live", wall, wall, {})  # a live node's run holds the third account
        conn.execute(update(store.SC).where(store.SC.c.account_record_id == held)
                     .values(owner="ghost-live/run1", claimed_at=wall))
        conn.commit()
    batches: list[list[int]] = []
    run = w.kb.invoices.run
    original = run.bill_batch

    def bill_batch(t, claimed, owner, part):  # type: ignore[no-untyped-def]
        batches.append(sorted(claimed))
        if len(batches) == 2:  # this run is past the third account: the other run gives it back
            with w.kb.db.connection() as conn:
                conn.execute(update(store.SC).where(store.SC.c.account_record_id == held)
                             .values(owner=None, claimed_at=None))
                conn.commit()
        return original(t, claimed, owner, part)

    run.bill_batch = bill_batch  # type: ignore[method-assign]
    run.batch_size = 2
    try:
        w.clock.add(timedelta(days=31))  # 2024-02-15: every account's next billing date
        report = w.kb.invoices.run_due(tenant=w.ctx.tenant_record_id)
    finally:
        run.batch_size = 500
        del run.bill_batch
    assert sorted(a for batch in batches for a in batch) == arids  # each account billed once
    assert batches[-1] == [held] and all(held not in batch for batch in batches[:-1])
    assert report.accounts == 6 and not report.failed
    for account_id in ids:
        assert _recurring_periods(w, account_id) == [(date(2024, 1, 15), date(2024, 2, 15), D(20)),
                                                     (date(2024, 2, 15), date(2024, 3, 15), D(20))]
