"""Users, roles and permissions over HTTP (Kill Bill's SecurityResource), the permission of every route
(billow/rest/permissions.py) and failed logins throttled."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from billow.app import Billow
from billow.core.db.schema import metadata
from billow.rest.app import create_app
from billow.rest.permissions import permission_for
from billow.security.permissions import KILL_BILL_PERMISSIONS
from tests.conftest import KB, ServerThread

ADMIN = ("admin", "password")


def _user(server: ServerThread, permissions: list[str]) -> tuple[str, str]:
    """A new role with `permissions` and a user holding it; returns the user's credentials."""
    role, name = f"role-{uuid.uuid4().hex[:8]}", f"user-{uuid.uuid4().hex[:8]}"
    headers = {"X-Killbill-CreatedBy": "tests"}
    r = httpx.post(f"{server.base_url}/1.0/kb/security/roles", auth=ADMIN, headers=headers,
                   json={"role": role, "permissions": permissions})
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"{server.base_url}/1.0/kb/security/roles/{role}"
    r = httpx.post(f"{server.base_url}/1.0/kb/security/users", auth=ADMIN, headers=headers,
                   json={"username": name, "password": "pw-" + name, "roles": [role]})
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"{server.base_url}/1.0/kb/security/users/{name}/roles"
    return name, "pw-" + name


def _as(kb: KB, creds: tuple[str, str]) -> httpx.Client:
    return httpx.Client(base_url=str(kb.http.base_url), auth=creds, timeout=30,
                        headers={"X-Killbill-ApiKey": kb.api_key, "X-Killbill-ApiSecret": kb.api_secret,
                                 "X-Killbill-CreatedBy": "tests"})


def test_users_and_roles(server: ServerThread, kb: KB) -> None:
    name, password = _user(server, ["account:create", "invoice:*"])
    with _as(kb, (name, password)) as user:
        assert user.get("/1.0/kb/security/permissions").json() == [
            "account:create", "invoice:credit", "invoice:item_adjust", "invoice:delete_cba", "invoice:trigger",
            "invoice:dry_run", "invoice:write_off", "invoice:commit", "invoice:void"]
        subject = user.get("/1.0/kb/security/subject").json()
        assert subject["principal"] == name and subject["isAuthenticated"] is True
        role = kb.get(f"/1.0/kb/security/users/{name}/roles").json()["roles"][0]
        assert kb.get(f"/1.0/kb/security/roles/{role}").json() == {"role": role,
                                                                   "permissions": ["account:create", "invoice:*"]}
        # a role changed: the user's permissions follow at once
        assert kb.put("/1.0/kb/security/roles", json={"role": role, "permissions": ["tag:add"]}).status_code == 204
        assert user.get("/1.0/kb/security/permissions").json() == ["tag:add"]
        assert user.post("/1.0/kb/accounts", json={"currency": "USD"}).status_code == 401
    # roles of a user, password, invalidation
    other = f"role-{uuid.uuid4().hex[:8]}"
    assert kb.post("/1.0/kb/security/roles", json={"role": other, "permissions": ["account:*"]}).status_code == 201
    assert kb.put(f"/1.0/kb/security/users/{name}/roles", json={"roles": [other]}).status_code == 204
    assert kb.get(f"/1.0/kb/security/users/{name}/roles").json() == {"username": name, "password": None,
                                                                     "roles": [other]}
    assert kb.put(f"/1.0/kb/security/users/{name}/password", json={"password": "new"}).status_code == 204
    with _as(kb, (name, password)) as old, _as(kb, (name, "new")) as new:
        assert old.get("/1.0/kb/security/permissions").status_code == 401
        assert new.post("/1.0/kb/accounts", json={"currency": "USD"}).status_code == 201
        assert kb.delete(f"/1.0/kb/security/users/{name}").status_code == 204
        assert new.get("/1.0/kb/security/permissions").status_code == 401
    assert kb.get(f"/1.0/kb/security/users/{name}/roles").status_code == 404


def test_security_refusals(server: ServerThread, kb: KB) -> None:
    role = f"role-{uuid.uuid4().hex[:8]}"
    r = kb.post("/1.0/kb/security/roles", json={"role": role, "permissions": ["account:fly"]})
    assert r.status_code == 400 and r.json()["code"] == 40005 and "account:fly" in r.json()["message"]
    assert kb.get(f"/1.0/kb/security/roles/{role}").json() == {"role": role, "permissions": []}
    assert kb.post("/1.0/kb/security/roles", json={"role": role, "permissions": ["tag:*"]}).status_code == 201
    r = kb.post("/1.0/kb/security/roles", json={"role": role, "permissions": ["tag:*"]})
    assert r.status_code == 409 and r.json()["code"] == 40004
    r = kb.put("/1.0/kb/security/roles", json={"role": "nope-" + role, "permissions": ["tag:*"]})
    assert r.status_code == 400 and r.json()["code"] == 40003
    r = kb.post("/1.0/kb/security/users", json={"username": "u-" + role, "password": "p", "roles": ["nope"]})
    assert r.status_code == 400 and r.json()["code"] == 40003
    assert kb.get("/1.0/kb/security/users/u-" + role + "/roles").status_code == 404  # nothing was created
    r = kb.post("/1.0/kb/security/users", json={"username": "admin", "password": "p", "roles": []})
    assert r.status_code == 409 and r.json()["code"] == 40002
    r = kb.post("/1.0/kb/security/users", json={"username": "u-" + role, "roles": [role]})
    assert r.status_code == 400 and "password" in r.json()["message"]
    assert kb.put("/1.0/kb/security/users/nobody-x/password", json={"password": "p"}).status_code == 404
    assert kb.delete("/1.0/kb/security/users/nobody-x").status_code == 404


def test_failed_logins_are_throttled(server: ServerThread, kb: KB) -> None:
    name, password = _user(server, ["tag:add"])
    with _as(kb, (name, password)) as good, _as(kb, (name, "wrong")) as bad:
        assert good.get("/1.0/kb/security/subject").status_code == 200
        for _ in range(10):  # BILLOW_LOGIN_MAX_FAILURES' default
            assert bad.get("/1.0/kb/security/subject").status_code == 401
        # the right password is not even checked now, for this user from this address
        assert good.get("/1.0/kb/security/subject").status_code == 401
        assert kb.get("/1.0/kb/security/subject").status_code == 200  # another user is not affected


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def _routes(billow: Billow) -> Iterator[tuple[str, str, str]]:
    app = create_app(billow)
    for route in app.state.flat_routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods or ()):
                required = permission_for(route.operation_id or route.name, method)
                if required is not None:
                    yield method, route.path, required


def _digest(billow: Billow) -> tuple[int, ...]:
    """Every change is audited in its own transaction, and every event goes through the bus or the queues."""
    billow.run_until_idle(10.0)
    with billow.db.read_connection() as conn:
        return tuple(int(conn.execute(select(func.count()).select_from(metadata.tables[t])).scalar_one())
                     for t in ("audit_log", "bus_events", "bus_events_history", "notifications",
                               "notifications_history"))


def test_every_write_route_declares_a_permission(billow: Billow) -> None:
    routes = list(_routes(billow))
    assert len(routes) > 90
    assert {required for _, _, required in routes} <= set(KILL_BILL_PERMISSIONS)


def test_permission_matrix(server: ServerThread, kb: KB, billow: Billow) -> None:
    """For every route needing a permission: a user without it gets Kill Bill's 401 and nothing changes; a user
    holding only that permission is not refused for want of it."""
    routes = list(_routes(billow))
    users = {p: _user(server, [p]) for p in {required for _, _, required in routes}}
    lacking_tag, lacking_usage = _user(server, ["tag:add"]), _user(server, ["usage:record"])
    with httpx.Client(timeout=30) as http:
        for method, path, required in routes:
            url = f"{server.base_url}{_fill(path)}"
            headers = {"X-Killbill-ApiKey": kb.api_key, "X-Killbill-ApiSecret": kb.api_secret,
                       "X-Killbill-CreatedBy": "tests", "Content-Type": "application/json"}
            lacking = lacking_usage if required == "tag:add" else lacking_tag
            before = _digest(billow)
            r = http.request(method, url, auth=lacking, headers=headers, content=b"{}")
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.json()["code"] == 40000, (method, path)
            assert _digest(billow) == before, (method, path)
            r = http.request(method, url, auth=users[required], headers=headers, content=b"{}")
            assert r.status_code != 401, (method, path, r.text)


@pytest.mark.parametrize("path", ["/1.0/kb/security/permissions", "/1.0/kb/accounts/pagination"])
def test_no_or_bad_credentials_are_401(server: ServerThread, kb: KB, path: str) -> None:
    headers = {"X-Killbill-ApiKey": kb.api_key, "X-Killbill-ApiSecret": kb.api_secret}
    assert httpx.get(f"{server.base_url}{path}", headers=headers).status_code == 401
    assert httpx.get(f"{server.base_url}{path}", headers=headers, auth=("admin", "nope")).status_code == 401
    assert httpx.get(f"{server.base_url}{path}", headers=headers, auth=ADMIN).status_code == 200


def test_a_combo_payment_needs_the_permissions_of_what_it_creates(server: ServerThread, kb: KB) -> None:
    """Kill Bill checks each inner call: payment:trigger alone pays for an existing account, not a new one."""
    account = kb.post("/1.0/kb/accounts", json={"name": "Combo", "currency": "USD", "externalKey": "combo-perm"})
    kb.post(f"/1.0/kb/accounts/{account.headers['location'].rsplit('/', 1)[-1]}/paymentMethods",
            params={"isDefault": "true"}, json={"pluginName": "__EXTERNAL_PAYMENT__"}).raise_for_status()
    purchase = {"transactionType": "PURCHASE", "amount": "5"}
    with _as(kb, _user(server, ["payment:trigger"])) as payer:
        r = payer.post("/1.0/kb/payments/combo", json={"account": {"externalKey": "combo-perm"},
                                                       "transaction": purchase})
        assert r.status_code == 201, r.text
        r = payer.post("/1.0/kb/payments/combo", json={"account": {"name": "New", "currency": "USD",
                                                                   "externalKey": "combo-new"},
                                                       "paymentMethod": {"pluginName": "__EXTERNAL_PAYMENT__"},
                                                       "transaction": purchase})
        assert r.status_code == 401 and r.json()["code"] == 40000
    assert kb.get("/1.0/kb/accounts", params={"externalKey": "combo-new"}).status_code == 404


def test_credentials_verified_lately_are_answered_without_the_full_checks(server: ServerThread, kb: KB,
                                                                         billow: Billow,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The user, its permissions and the tenant verified by one request are answered from memory on the event loop
    for the next (no thread hand-off, no database); a wrong password still goes to the full check and fails."""
    name, password = _user(server, ["account:create"])
    calls: dict[str, int] = {"user": 0, "permission": 0, "tenant": 0}

    def counted(kind: str, full: object) -> object:
        def call(*args: object) -> object:
            calls[kind] += 1
            return full(*args)  # type: ignore[operator]
        return call

    monkeypatch.setattr(billow.security, "authenticate", counted("user", billow.security.authenticate))
    monkeypatch.setattr(billow.security, "is_permitted", counted("permission", billow.security.is_permitted))
    monkeypatch.setattr(billow.tenants, "authenticate", counted("tenant", billow.tenants.authenticate))
    with _as(kb, (name, password)) as user:
        for _ in range(3):
            r = user.post("/1.0/kb/accounts", json={"currency": "USD", "externalKey": f"remembered-{uuid.uuid4()}"})
            assert r.status_code == 201, r.text
        assert calls == {"user": 1, "permission": 1, "tenant": 1}
    with _as(kb, (name, "not-" + password)) as intruder:
        assert intruder.post("/1.0/kb/accounts", json={"currency": "USD"}).status_code == 401
    assert calls["user"] == 2
