"""A billing run bigger than one batch is shared by every live node: the node that takes the next-billing-date
notification asks the others to help (billing_run.HELPER_QUEUE), each runs the claim loop at the run's instant,
and every account is billed once. PostgreSQL only (SQLite has one writer and one node)."""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from billow.account.model import AccountData
from billow.app import Billow
from billow.cli.main import app
from billow.core.clock import TestClock
from billow.core.context import CallContext, internal_context
from billow.entitlement.model import SubscriptionRequest
from billow.invoice.billing_run import TRIGGER_QUEUE, BillingRun
from billow.invoice.model import InvoiceItemType
from billow.tenant.model import Tenant
from tests.conftest import sibling_database
from tests.resilience.nodes import CATALOG

PG_URL = os.environ.get("BILLOW_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="several nodes need PostgreSQL (BILLOW_TEST_DATABASE_URL)")
START = datetime(2024, 1, 15, 12, tzinfo=UTC)
ACCOUNTS = 120


@pytest.fixture
def two_nodes() -> Iterator[tuple[Billow, Billow]]:
    with sibling_database("nodes") as db_url:
        a = Billow(db_url, TestClock(START), billing_processes=1)
        b = Billow(db_url, TestClock(START), billing_processes=1, migrate=False)
        try:
            yield a, b
        finally:
            a.close()
            b.close()


def _accounts_with_first_invoices(a: Billow) -> tuple[Tenant, CallContext, list[str]]:
    """A tenant with ACCOUNTS accounts, each with a monthly subscription started on START and its first invoice."""
    tenant = a.tenants.create(CallContext(user_name="tests"), "nodes", "secret")
    ctx = CallContext(user_name="tests").for_tenant(tenant.record_id, tenant.id)
    a.catalogs.upload(ctx, CATALOG)
    ids = []
    for i in range(ACCOUNTS):
        acc = a.accounts.create(ctx, AccountData(name=f"node {i}", currency="USD", external_key=f"n{i:04d}"))
        a.entitlements.create(ctx, [SubscriptionRequest(account_id=acc.id, plan_name="basic-monthly")])
        ids.append(acc.id)
    assert a.run_until_idle(120)
    return tenant, ctx, ids


def test_the_other_node_helps_and_each_account_is_billed_once(two_nodes: tuple[Billow, Billow],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    a, b = two_nodes
    tenant, ctx, ids = _accounts_with_first_invoices(a)
    for node in (a, b):
        node.invoices.run.batch_size = 5  # 24 batches
    a.start()
    b.start()
    deadline = time.monotonic() + 30
    while len(_live(a)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_live(a)) == 2
    caplog.set_level(logging.INFO, logger="billow.invoice")
    slow = a.invoices.run.bill_batch  # node a bills slowly: the run lasts long enough for node b to join

    def bill_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.05)
        return slow(*args, **kwargs)

    a.invoices.run.bill_batch = bill_batch  # type: ignore[method-assign]
    month_later = START + timedelta(days=31)
    assert isinstance(a.clock, TestClock) and isinstance(b.clock, TestClock)
    a.clock.set(month_later)  # node a takes the next-billing-date notification...
    b.clock.set(month_later)  # ...and b, whose clock is there too, the helper notification
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = a.invoices.run.count_due(tenant.record_id, month_later) == 0
        if done and a.run_until_idle(30) and b.run_until_idle(30):
            break
        time.sleep(0.2)
    billed: Counter[str] = Counter()
    for record in caplog.records:
        m = re.match(r"billing run of tenant \d+ on (\S+?)(?: \(helping\))?: (\d+) accounts", record.getMessage())
        if m:
            billed[m.group(1)] += int(m.group(2))
    assert set(billed) == {a.bus.node_name, b.bus.node_name}, billed  # both nodes billed
    assert sum(billed.values()) == ACCOUNTS
    assert any("1 other nodes asked to help" in r.getMessage() for r in caplog.records)
    for account_id in ids:  # each account billed once for the new month
        periods = sorted(it.start_date for inv in a.invoices.of_account(ctx, account_id) for it in inv.items
                         if it.type is InvoiceItemType.RECURRING)
        assert [p.isoformat() for p in periods if p is not None] == ["2024-01-15", "2024-02-15"]


def _live(node: Billow) -> set[str]:
    with node.db.read() as uow:
        return node.bus.live_nodes(uow.conn)


def test_billow_bill_asks_the_live_nodes_to_help(two_nodes: tuple[Billow, Billow], caplog: pytest.LogCaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`billow bill` is helped as a notification's run is: node b, a running node, bills part of the accounts at
    the command's instant (a day in its past here: `--date` is the day of node b's clock), each once."""
    a, b = two_nodes
    tenant, ctx, ids = _accounts_with_first_invoices(a)
    with a.db.transaction(internal_context(tenant.record_id)) as uow:
        # the next-billing-date notifications would have node b bill everything itself, by its clock: this run is
        # the command's alone
        assert a.bus.remove_due(uow, TRIGGER_QUEUE, tenant.record_id, START + timedelta(days=365)) > 0
    b.invoices.run.batch_size = 5
    assert isinstance(b.clock, TestClock)
    b.clock.set(datetime(2024, 2, 16, tzinfo=UTC))  # past the command's instant: 2024-02-15 23:59:59
    b.start()
    slow = BillingRun.bill_batch  # every batch takes a while: the command's run lasts long enough for b to join

    def bill_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.05)
        return slow(*args, **kwargs)

    monkeypatch.setattr(BillingRun, "bill_batch", bill_batch)
    monkeypatch.setenv("BILLOW_BILLING_PROCESSES", "1")
    caplog.set_level(logging.INFO, logger="billow.invoice")
    url = a.db.engine.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(app, ["bill", "--date", "2024-02-15", "--batch-size", "5", "--database-url", url],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    m = re.search(r"(\d+) accounts, (\d+) invoices", r.output)
    assert m, r.output
    by_command = int(m.group(1))
    assert b.run_until_idle(60)
    helped = sum(int(h.group(1)) for rec in caplog.records
                 if (h := re.match(rf"billing run of tenant \d+ on {b.bus.node_name} \(helping\): (\d+) accounts",
                                   rec.getMessage())))
    assert by_command > 0 and helped > 0, (by_command, helped)  # both billed
    assert by_command + helped == ACCOUNTS
    # node a, which drained its bus in this test, is a live node too: its heartbeat is recent
    assert any(re.search(r"on \S+: \d+ accounts, \d+ invoices, [12] other nodes asked to help", rec.getMessage())
               for rec in caplog.records)
    for account_id in ids:  # each account billed once for the new month
        periods = sorted(it.start_date for inv in b.invoices.of_account(ctx, account_id) for it in inv.items
                         if it.type is InvoiceItemType.RECURRING)
        assert [p.isoformat() for p in periods if p is not None] == ["2024-01-15", "2024-02-15"]
