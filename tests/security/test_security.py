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


def test_another_node_sees_a_password_change_within_the_ttl(tmp_path: Path) -> None:
    """Each process remembers a user's stored hash for `permission_ttl` seconds (no read per request): a change
    made on another node is seen once that time has passed, and at once on the node that made it."""
    from billow.core.context import CallContext
    from billow.security.service import SecurityService

    kb = Billow(database_url=f"sqlite:///{tmp_path / 'nodes.db'}")
    kb.security.ensure_default_admin()
    now = [100.0]
    other_node = SecurityService(kb.db, permission_ttl=5.0, monotonic=lambda: now[0])
    assert other_node.authenticate("admin", "password")
    kb.security.update_password(CallContext(user_name="tests"), "admin", "changed")
    assert kb.security.authenticate("admin", "changed") and not kb.security.authenticate("admin", "password")
    now[0] += 4.9
    assert other_node.authenticate("admin", "password")  # still within its TTL
    now[0] += 0.2
    assert not other_node.authenticate("admin", "password")
    assert other_node.authenticate("admin", "changed")
    kb.close()


def test_tenants_are_remembered_by_api_key_but_unknown_keys_are_not(tmp_path: Path) -> None:
    """A key that matches no tenant yet is read again next time: the tenant may be created on another node."""
    from billow.core.context import CallContext
    from billow.tenant.service import TenantService

    kb = Billow(database_url=f"sqlite:///{tmp_path / 'tenants.db'}")
    other_node = TenantService(kb.db, kb.tenants.internal)
    assert other_node.authenticate("later", "s") is None
    created = kb.tenants.create(CallContext(user_name="tests"), "later", "s")
    found = other_node.authenticate("later", "s")
    assert found is not None and found.id == created.id
    assert other_node.authenticate("later", "wrong") is None  # the secret is still checked
    kb.close()


def test_what_the_event_loop_may_answer_alone_is_only_what_was_verified_lately(tmp_path: Path) -> None:
    """`remembered` and `permitted_remembered` (called on the event loop, no database, no hashing) say yes only to
    credentials `authenticate` accepted within the TTL; anything else goes back to the full check."""
    from billow.core.context import CallContext
    from billow.security.service import SecurityService
    from billow.security.throttle import LoginThrottle

    kb = Billow(database_url=f"sqlite:///{tmp_path / 'remembered.db'}")
    kb.security.ensure_default_admin()
    now = [100.0]
    node = SecurityService(kb.db, permission_ttl=5.0, monotonic=lambda: now[0],
                           throttle=LoginThrottle(max_failures=2, monotonic=lambda: now[0]))
    assert not node.remembered("admin", "password", "10.0.0.1")  # never verified here
    assert node.permitted_remembered("admin", "account:create") is None
    assert node.authenticate("admin", "password", "10.0.0.1") and node.is_permitted("admin", "account:create")
    assert node.remembered("admin", "password", "10.0.0.1")
    assert node.permitted_remembered("admin", "account:create") is True
    assert not node.remembered("admin", "wrong", "10.0.0.1")
    assert not node.remembered("nobody", "password", "10.0.0.1")
    now[0] += 5.1  # the user's row and permissions are forgotten with the TTL
    assert not node.remembered("admin", "password", "10.0.0.1")
    assert node.permitted_remembered("admin", "account:create") is None
    assert node.authenticate("admin", "password", "10.0.0.2")
    # a source locked out by failures is not let in by the remembered answer either
    assert not node.authenticate("admin", "bad", "10.0.0.2") and not node.authenticate("admin", "bad", "10.0.0.2")
    assert not node.remembered("admin", "password", "10.0.0.2")
    assert node.remembered("admin", "password", "10.0.0.3")
    # a change on this node is seen at once
    node.update_password(CallContext(user_name="tests"), "admin", "changed")
    assert not node.remembered("admin", "password", "10.0.0.3")
    kb.close()


def test_a_tenant_is_remembered_only_with_the_secret_that_was_verified(tmp_path: Path) -> None:
    from billow.core.context import CallContext

    kb = Billow(database_url=f"sqlite:///{tmp_path / 'tenant-remembered.db'}")
    created = kb.tenants.create(CallContext(user_name="tests"), "key", "secret")
    assert kb.tenants.remembered("key", "secret") is None  # created, never authenticated
    assert kb.tenants.authenticate("key", "secret") is not None
    found = kb.tenants.remembered("key", "secret")
    assert found is not None and found.id == created.id and found.record_id == created.record_id
    assert kb.tenants.remembered("key", "wrong") is None
    assert kb.tenants.remembered("other", "secret") is None
    kb.close()
