"""Users for HTTP basic authentication: the first admin (billow/security)."""

from __future__ import annotations

from pathlib import Path

from billow import Billow
from billow.security.permissions import KILL_BILL_PERMISSIONS


def test_default_admin_is_created_once(tmp_path: Path) -> None:
    kb = Billow(database_url=f"sqlite:///{tmp_path / 'admin.db'}")
    assert kb.security.ensure_default_admin() is True
    assert kb.security.ensure_default_admin() is False
    assert kb.security.authenticate("admin", "password")
    assert not kb.security.authenticate("admin", "nope")
    assert kb.security.uses_default_password()
    assert kb.security.permissions("admin") == list(KILL_BILL_PERMISSIONS)  # `*`, expanded as Kill Bill lists it
    kb.close()


def test_configured_admin_password_is_not_the_default(tmp_path: Path) -> None:
    kb = Billow(database_url=f"sqlite:///{tmp_path / 'admin2.db'}")
    kb.security.ensure_default_admin(password="correct horse")
    assert not kb.security.uses_default_password()
    assert kb.security.authenticate("admin", "correct horse")
    kb.close()
