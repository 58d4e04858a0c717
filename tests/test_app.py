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
