"""The embedded library and the CLI, on fresh databases."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from billow import Billow
from billow.account.model import AccountData
from billow.cli.main import app
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


def test_default_admin_is_created_once(tmp_path: Path) -> None:
    kb = Billow(database_url=f"sqlite:///{tmp_path / 'admin.db'}")
    assert kb.security.ensure_default_admin() is True
    assert kb.security.ensure_default_admin() is False
    assert kb.security.authenticate("admin", "password")
    assert not kb.security.authenticate("admin", "nope")
    assert kb.security.uses_default_password()
    assert kb.security.permissions("admin") == ["*"]
    kb.close()


def test_configured_admin_password_is_not_the_default(tmp_path: Path) -> None:
    kb = Billow(database_url=f"sqlite:///{tmp_path / 'admin2.db'}")
    kb.security.ensure_default_admin(password="correct horse")
    assert not kb.security.uses_default_password()
    assert kb.security.authenticate("admin", "correct horse")
    kb.close()


def test_cli_db_upgrade_and_demo(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    r = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert r.exit_code == 0, r.output
    assert "0001_foundation" in r.output or "revision" in r.output
    r = runner.invoke(app, ["demo", "--database-url", url], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "demo-acme" in r.output and "demo-dupont" in r.output
    assert "starter-monthly" in r.output and "prioritysupport-monthly" in r.output
    # running the demo again reuses what exists
    r = runner.invoke(app, ["demo", "--database-url", url], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    kb = Billow(url)
    tenant = kb.tenants.get_by_api_key("demo")
    ctx = CallContext().for_tenant(tenant.record_id, tenant.id)
    assert kb.accounts.list(ctx).total == 3
    kb.close()


def test_logs_are_json_and_carry_the_user_token(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from billow.core.logs import configure
    from billow.rest.context import user_token_var

    configure("INFO")
    token = user_token_var.set("3f1c2f4e-0000-4000-8000-000000000001")
    try:
        logging.getLogger("billow.test").info("hello %s", "world")
    finally:
        user_token_var.reset(token)
        logging.getLogger().handlers[:] = []
    line = capsys.readouterr().err.strip().splitlines()[-1]
    body = json.loads(line)
    assert body["message"] == "hello world"
    assert body["userToken"] == "3f1c2f4e-0000-4000-8000-000000000001"
