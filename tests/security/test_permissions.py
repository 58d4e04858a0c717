"""Kill Bill's permission names and Shiro's wildcard rule (billow/security/permissions.py), and login throttling."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from billow.security.permissions import (
    ACTIONS_BY_GROUP,
    KILL_BILL_PERMISSIONS,
    expand,
    implies,
    invalid_permission,
    permitted,
)
from billow.security.throttle import LoginThrottle

permission = st.sampled_from(KILL_BILL_PERMISSIONS)


def test_wildcards_as_shiro_reads_them() -> None:
    assert implies("*", "account:create")
    assert implies("account:*", "account:create") and implies("account", "account:create")
    assert implies("account:create,update", "account:update")
    assert not implies("account:create,update", "account:credit")
    assert not implies("account:create", "account:update")
    assert not implies("invoice:*", "account:create")
    assert implies("ACCOUNT:Create", "account:create")  # Shiro's WildcardPermission is case-insensitive
    assert not implies("account:create:extra", "account:create")
    assert implies("account:create:*", "account:create")


@given(permission, permission)
def test_a_plain_permission_implies_only_itself(granted: str, required: str) -> None:
    assert implies(granted, required) == (granted == required)


@given(st.sets(permission))
def test_expand_lists_exactly_what_is_permitted(granted: set[str]) -> None:
    assert expand(granted) == [p for p in KILL_BILL_PERMISSIONS if p in granted]
    group_wide = {p.split(":")[0] + ":*" for p in granted}
    assert set(expand(group_wide)) == {p for p in KILL_BILL_PERMISSIONS if p.split(":")[0] + ":*" in group_wide}


def test_kill_bills_names_are_valid_and_others_are_not() -> None:
    for p in KILL_BILL_PERMISSIONS:
        assert not invalid_permission(p)
    assert not invalid_permission("*") and not invalid_permission("invoice:*") and not invalid_permission("tag")
    assert not invalid_permission("invoice:credit,void")
    for bad in ("", "bogus:create", "account:fly", "account:create:x", "invoice:credit,fly", "account:"):
        assert invalid_permission(bad), bad
    assert "payment" in ACTIONS_BY_GROUP and "admin" in ACTIONS_BY_GROUP


def test_permitted_needs_one_grant() -> None:
    assert permitted({"tag:add", "invoice:*"}, "invoice:void")
    assert not permitted(set(), "invoice:void")


def test_login_throttle_per_user_and_address() -> None:
    now = [1000.0]
    throttle = LoginThrottle(max_failures=3, window=60, monotonic=lambda: now[0])
    for _ in range(3):
        assert not throttle.blocked("bob", "10.0.0.1")
        throttle.failed("bob", "10.0.0.1")
    assert throttle.blocked("bob", "10.0.0.1")
    assert not throttle.blocked("bob", "10.0.0.2") and not throttle.blocked("alice", "10.0.0.1")
    now[0] += 59
    assert throttle.blocked("bob", "10.0.0.1")
    now[0] += 2  # the window of the first failure has passed
    assert not throttle.blocked("bob", "10.0.0.1")
    throttle.failed("bob", "10.0.0.1")
    throttle.succeeded("bob", "10.0.0.1")
    assert not throttle.blocked("bob", "10.0.0.1")
    off = LoginThrottle(max_failures=0)
    for _ in range(20):
        off.failed("x", "y")
    assert not off.blocked("x", "y")
