"""The account's payment lease (Kill Bill's global locker for payments): one account's calls reach the gateway one
at a time, across threads and nodes, without a database transaction held during the call; other accounts are not
held up; a lease whose holder died expires."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from billow.account.model import AccountData
from billow.payment import store
from billow.payment.model import TransactionType
from billow.payment.processor import TransactionCall
from tests.payment.conftest import PayWorld

T = datetime(2025, 1, 1, tzinfo=UTC)


def test_a_lease_is_held_until_dropped_or_expired(pw: PayWorld) -> None:
    arid = pw.w.account.record_id
    with pw.kb.db.transaction(pw.ctx) as uow:
        assert store.take_lease(uow.conn, arid, "a", T, T + timedelta(seconds=60))
        assert not store.take_lease(uow.conn, arid, "b", T + timedelta(seconds=59), T + timedelta(seconds=120))
        assert store.take_lease(uow.conn, arid, "a", T + timedelta(seconds=1), T + timedelta(seconds=61))  # renewed
        store.drop_lease(uow.conn, arid, "b")  # not b's: nothing happens
        assert not store.take_lease(uow.conn, arid, "b", T + timedelta(seconds=2), T + timedelta(seconds=62))
        # the holder died: once expired, another takes it
        assert store.take_lease(uow.conn, arid, "b", T + timedelta(seconds=62), T + timedelta(seconds=122))
        store.drop_lease(uow.conn, arid, "b")
        assert store.take_lease(uow.conn, arid, "c", T + timedelta(seconds=63), T + timedelta(seconds=123))
        store.drop_lease(uow.conn, arid, "c")


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
        assert conn.execute(store.account_leases.select().where(
            store.account_leases.c.account_record_id == pw.w.account.record_id)).all() == []


def test_other_accounts_are_not_held_up(pw: PayWorld, monkeypatch: Any) -> None:
    other = pw.kb.accounts.create(pw.ctx, AccountData(name="Other", currency="USD"))
    pw.add_method()
    pw.kb.payment.methods.add(pw.ctx, other.id, "killbill-payment-test", is_default=True)
    log = _gateway_log(pw, monkeypatch)
    _purchases(pw, [pw.account_id, other.id])
    assert [kind for kind, _ in log][:2] == ["enter", "enter"]  # both at the gateway together
