"""Tenants over HTTP, with Kill Bill's authentication rules."""

from __future__ import annotations

import uuid

import httpx

from tests.conftest import KB, ServerThread, id_from_location


def _create(server: ServerThread, body: object, **kw: object) -> httpx.Response:
    return httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"),
                      headers={"X-Killbill-CreatedBy": "tests"}, json=body, **kw)  # type: ignore[arg-type]


def test_create_and_read_tenant(server: ServerThread) -> None:
    key = f"k-{uuid.uuid4().hex[:10]}"
    r = _create(server, {"apiKey": key, "apiSecret": "lazar", "externalKey": f"ext-{key}"})
    assert r.status_code == 201
    assert r.content == b""
    assert r.headers["location"].startswith(f"{server.base_url}/1.0/kb/tenants/")
    tenant_id = id_from_location(r)
    headers = {"X-Killbill-ApiKey": key, "X-Killbill-ApiSecret": "lazar"}
    got = httpx.get(r.headers["location"], auth=("admin", "password"), headers=headers)
    assert got.status_code == 200
    assert got.json() == {"tenantId": tenant_id, "externalKey": f"ext-{key}", "apiKey": key, "apiSecret": None,
                          "auditLogs": []}
    by_key = httpx.get(f"{server.base_url}/1.0/kb/tenants", params={"apiKey": key}, auth=("admin", "password"))
    assert by_key.status_code == 200 and by_key.json()["tenantId"] == tenant_id
    assert "lazar" not in by_key.text


def test_duplicate_api_key_is_409(server: ServerThread) -> None:
    key = f"k-{uuid.uuid4().hex[:10]}"
    assert _create(server, {"apiKey": key, "apiSecret": "a"}).status_code == 201
    r = _create(server, {"apiKey": key, "apiSecret": "b"})
    assert r.status_code == 409
    assert r.json()["className"] == "org.killbill.billing.tenant.api.TenantApiException"
    assert r.json()["code"] == 20000


def test_tenant_create_needs_basic_auth_and_created_by(server: ServerThread) -> None:
    key = f"k-{uuid.uuid4().hex[:10]}"
    r = httpx.post(f"{server.base_url}/1.0/kb/tenants", json={"apiKey": key, "apiSecret": "x"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'BASIC realm="application"'
    r = httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "wrong"), json={"apiKey": key, "apiSecret": "x"},
                   headers={"X-Killbill-CreatedBy": "t"})
    assert r.status_code == 401
    r = httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"),
                   json={"apiKey": key, "apiSecret": "x"})
    assert r.status_code == 400
    assert r.json()["message"] == "Header X-Killbill-CreatedBy needs to be set"
    missing = _create(server, {"apiKey": key})
    assert missing.status_code == 400 and "apiSecret" in missing.json()["message"]
    # nothing of the refused calls was created
    assert httpx.get(f"{server.base_url}/1.0/kb/tenants", params={"apiKey": key},
                     auth=("admin", "password")).status_code == 404


def test_unknown_api_key_is_404(server: ServerThread) -> None:
    r = httpx.get(f"{server.base_url}/1.0/kb/tenants", params={"apiKey": "nope-" + uuid.uuid4().hex},
                  auth=("admin", "password"))
    assert r.status_code == 404 and r.json()["code"] == 20003


def test_wrong_secret_or_missing_tenant_headers_is_401(kb: KB) -> None:
    r = kb.get("/1.0/kb/accounts/pagination", headers={"X-Killbill-ApiSecret": "wrong"})
    assert r.status_code == 401
    r = httpx.get(f"{kb.http.base_url}/1.0/kb/accounts/pagination", auth=("admin", "password"))
    assert r.status_code == 401
    assert "X-Killbill-ApiKey" in r.text


def test_a_tenant_cannot_read_another_tenant(kb: KB, server: ServerThread) -> None:
    other_key = f"k-{uuid.uuid4().hex[:10]}"
    other_id = id_from_location(_create(server, {"apiKey": other_key, "apiSecret": "x"}))
    assert kb.get(f"/1.0/kb/tenants/{other_id}").status_code == 404


def test_per_tenant_config_and_user_key_values(kb: KB) -> None:
    r = kb.post("/1.0/kb/tenants/uploadPerTenantConfig", content='{"org.killbill.payment.retry.days":"1,2,3"}',
                headers={"Content-Type": "text/plain"})
    assert r.status_code == 201
    assert r.headers["location"].endswith("/1.0/kb/tenants/uploadPerTenantConfig")
    got = kb.get("/1.0/kb/tenants/uploadPerTenantConfig").json()
    assert got["key"] == "PER_TENANT_CONFIG"
    assert got["values"] == ['{"org.killbill.payment.retry.days":"1,2,3"}']
    bad = kb.post("/1.0/kb/tenants/uploadPerTenantConfig", content="not json", headers={"Content-Type": "text/plain"})
    assert bad.status_code == 400
    assert kb.get("/1.0/kb/tenants/uploadPerTenantConfig").json()["values"] == [
        '{"org.killbill.payment.retry.days":"1,2,3"}']
    assert kb.post("/1.0/kb/tenants/userKeyValue/color", content="blue").status_code == 201
    assert kb.get("/1.0/kb/tenants/userKeyValue/color").json()["values"] == ["blue"]
    assert kb.delete("/1.0/kb/tenants/userKeyValue/color").status_code == 204
    assert kb.get("/1.0/kb/tenants/userKeyValue/color").json()["values"] == []


def test_push_notification_callbacks_are_validated(kb: KB) -> None:
    assert kb.post("/1.0/kb/tenants/registerNotificationCallback", params={"cb": "ftp://x"}).status_code == 400
    assert kb.post("/1.0/kb/tenants/registerNotificationCallback").status_code == 400
    r = kb.post("/1.0/kb/tenants/registerNotificationCallback", params={"cb": "http://127.0.0.1:9/hook"},
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 201
    assert kb.get("/1.0/kb/tenants/registerNotificationCallback").json()["values"] == ["http://127.0.0.1:9/hook"]
    assert kb.delete("/1.0/kb/tenants/registerNotificationCallback").status_code == 204
    assert kb.get("/1.0/kb/tenants/registerNotificationCallback").json()["values"] == []
