"""Query parameters kbswagger declares that Billow now takes (found by tests/compat/test_api_contract.py):
`pluginProperty` on writes of subscriptions, bundles, blocking states and invoice items, `audit` on reads of
bundles, subscriptions, blocking states and the account timeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import KB, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text()
WAIT = {"callCompletion": "true", "callTimeoutSec": 20}
PLUGINS = [("pluginProperty", "source=crm"), ("pluginProperty", "note=a=b")]


@pytest.fixture()
def subscription(kb: KB) -> tuple[str, str, str]:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-01-15T10:00:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    account = id_from_location(kb.post("/1.0/kb/accounts", json={"name": "Params", "currency": "USD"}))
    r = kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "silver-monthly"},
                params=[*PLUGINS, *WAIT.items()])
    assert r.status_code == 201
    sid = id_from_location(r)
    return account, kb.get(f"/1.0/kb/subscriptions/{sid}").json()["bundleId"], sid


def test_plugin_properties_are_accepted(kb: KB, subscription: tuple[str, str, str]) -> None:
    account, bundle, sid = subscription
    assert kb.put(f"/1.0/kb/bundles/{bundle}/pause", params=PLUGINS).status_code == 204
    assert kb.put(f"/1.0/kb/bundles/{bundle}/resume", params=PLUGINS).status_code == 204
    r = kb.post("/1.0/kb/invoices/charges/" + account, params=PLUGINS,
                json=[{"accountId": account, "amount": 5, "currency": "USD", "description": "fee"}])
    assert r.status_code == 200 and r.json()[0]["amount"] == 5.0
    r = kb.delete(f"/1.0/kb/subscriptions/{sid}", params=[*PLUGINS, ("requestedDate", "2024-02-01")])
    assert r.status_code == 204
    assert kb.put(f"/1.0/kb/subscriptions/{sid}/uncancel", params=PLUGINS).status_code == 204
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["state"] == "ACTIVE"


@pytest.mark.parametrize("path", ["/1.0/kb/subscriptions/{sid}", "/1.0/kb/bundles/{bundle}",
                                  "/1.0/kb/accounts/{account}/bundles", "/1.0/kb/accounts/{account}/block",
                                  "/1.0/kb/accounts/{account}/timeline"])
def test_audit_is_taken_and_checked(kb: KB, subscription: tuple[str, str, str], path: str) -> None:
    account, bundle, sid = subscription
    url = path.format(account=account, bundle=bundle, sid=sid)
    assert kb.get(url, params={"audit": "FULL"}).status_code == 200
    r = kb.get(url, params={"audit": "EVERYTHING"})
    assert r.status_code == 400 and "audit" in r.text


def test_audit_on_reads_by_key(kb: KB, subscription: tuple[str, str, str]) -> None:
    _, bundle, sid = subscription
    key = kb.get(f"/1.0/kb/subscriptions/{sid}").json()["externalKey"]
    assert kb.get("/1.0/kb/subscriptions", params={"externalKey": key, "audit": "MINIMAL"}).status_code == 200
    assert kb.get("/1.0/kb/subscriptions", params={"externalKey": key, "audit": "x"}).status_code == 400
    bundle_key = kb.get(f"/1.0/kb/bundles/{bundle}").json()["externalKey"]
    assert kb.get("/1.0/kb/bundles", params={"externalKey": bundle_key, "audit": "NONE"}).status_code == 200
    assert kb.get("/1.0/kb/bundles", params={"externalKey": bundle_key, "audit": "x"}).status_code == 400


def test_a_subscription_shows_its_audit_logs_at_the_level_asked(kb: KB, subscription: tuple[str, str, str]) -> None:
    _, _, sid = subscription
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["auditLogs"] == []
    assert kb.put(f"/1.0/kb/subscriptions/{sid}/bcd", json={"billCycleDayLocal": 3},
                  params={"effectiveFromDate": "2024-01-20"}).status_code == 204
    full = kb.get(f"/1.0/kb/subscriptions/{sid}", params={"audit": "FULL"}).json()["auditLogs"]
    assert [e["changeType"] for e in full] == ["INSERT", "UPDATE"], full
    assert full[0]["changedBy"] == "tests"
    assert full[0]["objectType"] == "SUBSCRIPTION" and full[0]["objectId"] == sid
    minimal = kb.get(f"/1.0/kb/subscriptions/{sid}", params={"audit": "MINIMAL"}).json()["auditLogs"]
    assert [e["changeType"] for e in minimal] == ["INSERT"]
    key = kb.get(f"/1.0/kb/subscriptions/{sid}").json()["externalKey"]
    by_key = kb.get("/1.0/kb/subscriptions", params={"externalKey": key, "audit": "FULL"}).json()["auditLogs"]
    assert by_key == full
