"""Admin, export, nodes and plugins over HTTP (Kill Bill's AdminResource, ExportResource, NodesInfoResource,
PluginInfoResource and the healthcheck servlet)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from billow.app import Billow
from tests.conftest import KB, ServerThread, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text()


@pytest.fixture()
def account(kb: KB) -> str:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-01-15T10:00:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    return id_from_location(kb.post("/1.0/kb/accounts", json={"name": "Admin", "currency": "USD"}))


def test_cache_invalidation(kb: KB, account: str) -> None:
    no_author = {"X-Killbill-CreatedBy": ""}
    r = kb.delete("/1.0/kb/admin/cache", params={"cacheName": "tenant-catalog"}, headers=no_author)
    assert r.status_code == 204 and r.content == b""
    assert kb.delete("/1.0/kb/admin/cache").status_code == 204
    unknown = kb.delete("/1.0/kb/admin/cache", params={"cacheName": "nope"})
    assert unknown.status_code == 400 and unknown.content == b""
    assert kb.delete("/1.0/kb/admin/cache/tenants").status_code == 204
    assert kb.delete(f"/1.0/kb/admin/cache/accounts/{account}").status_code == 204
    # the catalog is read again afterwards
    assert kb.get("/1.0/kb/catalog").status_code == 200


def test_out_of_rotation_the_healthcheck_answers_500(kb: KB, server: ServerThread) -> None:
    try:
        assert kb.delete("/1.0/kb/admin/healthcheck").status_code == 204
        r = httpx.get(f"{server.base_url}/1.0/healthcheck")
        assert r.status_code == 500
        assert r.json()["org.killbill.billing.server.healthchecks.KillbillHealthcheck"] == {
            "healthy": False, "message": "Out of rotation"}
    finally:
        assert kb.put("/1.0/kb/admin/healthcheck").status_code == 204
    r = httpx.get(f"{server.base_url}/1.0/healthcheck")
    assert r.status_code == 200
    assert r.json()["org.killbill.billing.server.healthchecks.KillbillHealthcheck"] == {
        "healthy": True, "message": "OK"}


def test_rotation_needs_the_tenant_headers(server: ServerThread) -> None:
    r = httpx.put(f"{server.base_url}/1.0/kb/admin/healthcheck", auth=("admin", "password"))
    assert r.status_code == 401


def test_invoice_runs_of_parked_accounts(kb: KB, account: str, billow: Billow) -> None:
    tenant = billow.tenants.get_by_api_key(kb.api_key)
    from billow.core.context import CallContext

    ctx = CallContext(user_name="tests").for_tenant(tenant.record_id, tenant.id)
    record_id = billow.accounts.get(ctx, account).record_id
    with billow.db.transaction(ctx) as uow:
        billow.invoices.run.park(uow, record_id, uow.now.date(), "ILLEGAL INVOICING STATE (test)")
    kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "silver-monthly"}).raise_for_status()
    kb.get("/1.0/kb/test/queues", params={"timeoutSec": 10})
    assert kb.get(f"/1.0/kb/accounts/{account}/invoices").json() == []  # parked: not billed
    r = kb.post("/1.0/kb/admin/invoices", params={"limit": 1})
    assert r.status_code == 200 and r.json() == {account: "OK"}
    assert (r.headers["X-Killbill-Pagination-CurrentOffset"], r.headers["X-Killbill-Pagination-TotalNbRecords"]) == (
        "0", "1")
    assert len(kb.get(f"/1.0/kb/accounts/{account}/invoices").json()) == 1
    again = kb.post("/1.0/kb/admin/invoices")
    assert again.status_code == 200 and again.json() == {}


def test_export_of_an_account(kb: KB, account: str) -> None:
    kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "silver-monthly"}).raise_for_status()
    kb.get("/1.0/kb/test/queues", params={"timeoutSec": 10})
    r = kb.get(f"/1.0/kb/export/{account}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.text.startswith("-- accounts record_id|id|")
    assert f"|{account}|" in r.text and "\n-- invoice_items " in r.text
    missing = kb.get(f"/1.0/kb/export/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["code"] == 3002
    no_author = kb.get(f"/1.0/kb/export/{account}", headers={"X-Killbill-CreatedBy": ""})
    assert no_author.status_code == 400 and "X-Killbill-CreatedBy" in no_author.json()["message"]


def test_plugins_and_node_commands(kb: KB, server: ServerThread) -> None:
    r = kb.get("/1.0/kb/pluginsInfo")
    assert r.status_code == 200 and r.json() == []
    command = {"isSystemCommandType": True, "nodeCommandType": "START_PLUGIN",
               "nodeCommandProperties": [{"key": "pluginKey", "value": "hello"}]}
    # cross-tenant: no tenant headers needed
    r = httpx.post(f"{server.base_url}/1.0/kb/nodesInfo", auth=("admin", "password"), json=command,
                   headers={"X-Killbill-CreatedBy": "ops"}, params={"localNodeOnly": "true"})
    assert r.status_code == 202 and r.content == b""
    bad = kb.post("/1.0/kb/nodesInfo", json={"isSystemCommandType": False})
    assert bad.status_code == 400 and "nodeCommandType" in bad.json()["message"]
    assert kb.post("/1.0/kb/nodesInfo").status_code == 400
    assert kb.post("/1.0/kb/nodesInfo", json=command, headers={"X-Killbill-CreatedBy": ""}).status_code == 400
