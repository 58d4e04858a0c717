"""The embedded library: `Billow(...)` on a fresh database gives the services (billow/app.py)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from billow import Billow
from billow.account.model import AccountData
from billow.app import BILLING_RUN_QUEUES, bus_helper
from billow.core.bus.config import BusConfig
from billow.core.bus.tables import bus_events, bus_events_history
from billow.core.clock import TestClock
from billow.core.context import CallContext
from billow.core.errors import InvalidInput
from billow.entitlement.model import SubscriptionRequest
from billow.invoice.store import invoices as audited_invoices
from billow.operations.bulk import NewAccount
from tests.conftest import PG_URL, sibling_database
from tests.entitlement.conftest import CATALOG as ENTITLEMENT_CATALOG


def test_embedded_library_gives_the_services(tmp_path: Path) -> None:
    kb = Billow(database_url=f"sqlite:///{tmp_path / 'embedded.db'}")
    tenant = kb.tenants.create(CallContext(user_name="me"), "emb", "secret")
    ctx = CallContext(user_name="me").for_tenant(tenant.record_id, tenant.id)
    account = kb.accounts.create(ctx, AccountData(name="Acme", currency="USD"))
    assert kb.accounts.get(ctx, account.id).name == "Acme"
    assert kb.tenants.authenticate("emb", "secret") == tenant
    assert kb.tenants.authenticate("emb", "wrong") is None
    with pytest.raises(InvalidInput, match="currency"):
        kb.accounts.create(ctx, AccountData(currency="DOLLARS"))
    kb.close()


def test_a_process_that_could_fill_postgresqls_lock_table_says_so(billow: Billow, monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Account locks are advisory locks held until commit: every bus worker's pack and every billing batch."""
    monkeypatch.setattr(billow.bus.config, "workers", 3)
    monkeypatch.setattr(billow.bus.config, "pack_rows", 100)
    monkeypatch.setattr(billow._billing_run, "processes", 2)
    assert billow.account_locks_at_most() == 3 * 100 + 2 * billow._billing_run.batch_size
    size = billow.db.lock_table_size()
    if billow.db.is_sqlite:
        assert size is None and billow.check_lock_table()  # one writer, no lock table to fill
        return
    assert size is not None and size > 0
    assert billow.check_lock_table() == (2 * billow.account_locks_at_most() <= size)
    monkeypatch.setattr(billow.bus.config, "pack_rows", size)  # packs of a whole lock table
    with caplog.at_level("WARNING", logger="billow"):
        assert not billow.check_lock_table()
    assert f"holds {size} for the whole server" in caplog.text and "max_locks_per_transaction" in caplog.text


def test_bus_helper_processes_make_a_bulk_loads_first_invoices_on_the_test_clock() -> None:
    """A bus helper process is the application again on the same database (`bus_helper`): it delivers the events
    of a bulk load as the main process would, on the main process's test clock."""
    if not PG_URL:
        pytest.skip("bus helper processes need PostgreSQL: set BILLOW_TEST_DATABASE_URL")
    with sibling_database("helpers") as url:
        clock = TestClock(datetime(2024, 3, 5, 10, 0, tzinfo=UTC))
        kb = Billow(url, clock, bus_processes=1, bus_config=BusConfig(workers=2, pack_rows=8))
        try:
            assert kb.helpers is not None
            own = 2 * 8 + kb._billing_run.batch_size
            assert kb.account_locks_at_most() == own + 2 * 8  # a helper's packs; it bills no run batch
            tenant = kb.tenants.create(CallContext(user_name="t"), "helpers", "secret")
            ctx = CallContext(user_name="t").for_tenant(tenant.record_id, tenant.id)
            kb.catalogs.upload(ctx, ENTITLEMENT_CATALOG)
            kb.bulk.load(ctx, (NewAccount(AccountData(name=f"h{i}", currency="USD", external_key=f"h-{i}"),
                                          [SubscriptionRequest(account_id="", plan_name="gold-monthly")])
                               for i in range(40)))
            clock.add(timedelta(days=2))  # the helper must see this move: its invoices are dated March 7
            kb.helpers.start()  # the helper alone: this process's bus is not started
            assert kb.helpers.wait_ready(60)

            invoices = audited_invoices.table

            def read(query: Any) -> list[Any]:
                with kb.db.read_connection() as conn:
                    return list(conn.execute(query))

            deadline = time.monotonic() + 120
            while (read(select(func.count()).select_from(bus_events))[0][0] or read(
                    select(func.count()).select_from(invoices))[0][0] < 40) and time.monotonic() < deadline:
                time.sleep(0.2)
            made = read(select(invoices.c.account_id, invoices.c.invoice_date))
            assert len(made) == 40 and len({account for account, _ in made}) == 40
            assert {day for _, day in made} == {date(2024, 3, 7)}
            owners = {owner for (owner,) in read(select(bus_events_history.c.processing_owner).distinct())}
            assert owners == set(kb.helpers.node_names)
        finally:
            kb.close()


def test_a_bus_helper_leaves_billing_runs_to_its_node(tmp_path: Path) -> None:
    """A helper delivers events and notifications, but a run's trigger and helper notifications go to the node's
    billing worker processes (a helper billed batches beside its bus work, late)."""
    url = f"sqlite:///{tmp_path / 'helper.db'}"
    Billow(url).close()  # migrated
    helper = bus_helper(url, TestClock(), BusConfig(node_name="n-h0", helper_of="n"), None)
    try:
        assert not set(BILLING_RUN_QUEUES) & set(helper.bus.queues)
        assert helper.bus.queues and helper.bus.subscriptions  # the rest of the bus is there
    finally:
        helper.close()
