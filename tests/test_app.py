"""The embedded library: `Billow(...)` on a fresh database gives the services (billow/app.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from billow import Billow
from billow.account.model import AccountData
from billow.core.context import CallContext
from billow.core.errors import InvalidInput


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
