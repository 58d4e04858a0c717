"""Per-tenant configuration and plugin configurations over HTTP (Kill Bill's TenantResource)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import KB, ServerThread, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "tenant" / "data" / "config.xml").read_text()
CONFIG = "/1.0/kb/tenants/uploadPerTenantConfig"
FIXED_DAYS = "org.killbill.invoice.proration.fixed.days"


@pytest.fixture()
def other_kb(server: ServerThread) -> Iterator[KB]:
    """A second tenant."""
    import uuid

    import httpx

    key = f"k-{uuid.uuid4().hex[:12]}"
    httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"), headers={"X-Killbill-CreatedBy": "t"},
               json={"apiKey": key, "apiSecret": "s"}).raise_for_status()
    client = KB(server.base_url, key, "s")
    yield client
    client.http.close()


def _upload(kb: KB, body: str) -> object:
    return kb.post(CONFIG, content=body, headers={"Content-Type": "application/json"})


def _stored(kb: KB) -> list[str]:
    got = kb.get(CONFIG)
    assert got.status_code == 200
    assert got.json()["key"] == "PER_TENANT_CONFIG"
    return list(got.json()["values"])


@pytest.mark.parametrize(("body", "named"), [
    ({FIXED_DAYS: "thirty"}, FIXED_DAYS),
    ({FIXED_DAYS: "45"}, FIXED_DAYS),
    ({"org.killbill.invoice.maxNumberOfMonthsInFuture": "-1"}, "maxNumberOfMonthsInFuture"),
    ({"org.killbill.invoice.sanitySafetyBoundEnabled": "yes"}, "sanitySafetyBoundEnabled"),
    ({"org.killbill.invoice.maxDailyNumberOfItemsSafetyBound": "1.5"}, "maxDailyNumberOfItemsSafetyBound"),
    ({"org.killbill.invoice.dryRunNotificationSchedule": "2 fortnights"}, "dryRunNotificationSchedule"),
    ({"org.killbill.invoice.parkAccountsWithUnknownUsage": "maybe"}, "parkAccountsWithUnknownUsage"),
    ({"org.killbill.invoice.item.result.behavior.mode": "SUMMARY"}, "item.result.behavior.mode"),
    ({"org.killbill.invoice.parent.commit.local.utc.time": "25:00"}, "parent.commit.local.utc.time"),
    ({"org.killbill.invoice.proration.fixed.days": {"nested": 1}}, FIXED_DAYS),
])
def test_a_bad_value_is_a_400_naming_the_property_and_nothing_is_stored(kb: KB, body: dict[str, object],
                                                                         named: str) -> None:
    good = json.dumps({FIXED_DAYS: "30"})
    assert _upload(kb, good).status_code == 201  # type: ignore[attr-defined]
    r = _upload(kb, json.dumps(body))
    assert r.status_code == 400  # type: ignore[attr-defined]
    assert named in r.json()["message"]  # type: ignore[attr-defined]
    assert _stored(kb) == [good]


def test_upload_replaces_reads_back_and_deletes(kb: KB) -> None:
    """One document per tenant (a single-value key): the last upload wins; numbers and booleans are accepted as
    Kill Bill reads them (as their text); unknown properties are kept as they are."""
    first = json.dumps({FIXED_DAYS: 30, "org.killbill.payment.retry.days": "8,8,8"})
    r = _upload(kb, first)
    assert r.status_code == 201 and r.headers["location"].endswith(CONFIG)  # type: ignore[attr-defined]
    second = json.dumps({"org.killbill.invoice.sanitySafetyBoundEnabled": False})
    assert _upload(kb, second).status_code == 201  # type: ignore[attr-defined]
    assert _stored(kb) == [second]
    assert kb.delete(CONFIG).status_code == 204
    assert _stored(kb) == []


def test_plugin_configurations_behave_as_kill_bills(kb: KB) -> None:
    """`uploadPluginConfig/{pluginName}`: text, one value per plugin (the last upload), key `PLUGIN_CONFIG_<name>`,
    found by prefix with `uploadPerTenantConfig/{keyPrefix}/search`, deleted alone."""
    path = "/1.0/kb/tenants/uploadPluginConfig"
    text = {"Content-Type": "text/plain"}
    r = kb.post(f"{path}/stripe", content="org.killbill.billing.plugin.stripe.apiKey=sk_1", headers=text)
    assert r.status_code == 201 and r.headers["location"].endswith(f"{path}/stripe")
    kb.post(f"{path}/stripe", content="org.killbill.billing.plugin.stripe.apiKey=sk_2", headers=text)
    kb.post(f"{path}/adyen", content="merchant=m", headers=text)
    got = kb.get(f"{path}/stripe").json()
    assert got == {"key": "PLUGIN_CONFIG_stripe", "values": ["org.killbill.billing.plugin.stripe.apiKey=sk_2"],
                   "auditLogs": []}
    found = kb.get("/1.0/kb/tenants/uploadPerTenantConfig/PLUGIN_CONFIG_/search").json()
    assert sorted((f["key"], f["values"]) for f in found) == [
        ("PLUGIN_CONFIG_adyen", ["merchant=m"]),
        ("PLUGIN_CONFIG_stripe", ["org.killbill.billing.plugin.stripe.apiKey=sk_2"])]
    assert kb.post(f"{path}/stripe", content="", headers=text).status_code == 400
    assert kb.delete(f"{path}/stripe").status_code == 204
    assert kb.get(f"{path}/stripe").json()["values"] == []
    assert kb.get(f"{path}/adyen").json()["values"] == ["merchant=m"]


def test_user_keys_keep_every_value_as_kill_bill_does(kb: KB) -> None:
    """`insertUserKeyValue`: a key that is none of Kill Bill's keeps every value added."""
    kb.post("/1.0/kb/tenants/userKeyValue/colors", content="blue")
    kb.post("/1.0/kb/tenants/userKeyValue/colors", content="green")
    assert kb.get("/1.0/kb/tenants/userKeyValue/colors").json()["values"] == ["blue", "green"]


def test_configuration_is_per_tenant_over_http(kb: KB, other_kb: KB) -> None:
    """The 5.32 example over HTTP: fixed days of 30 for one tenant (8/30 of 19.95); the other bills 5.15 (8/31)."""
    assert _upload(kb, json.dumps({FIXED_DAYS: "30"})).status_code == 201  # type: ignore[attr-defined]
    amounts = []
    for client in (kb, other_kb):
        client.post("/1.0/kb/test/clock", params={"requestedDate": "2023-06-15T08:00:00.000Z"}).raise_for_status()
        assert client.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}
                           ).status_code == 201
        account = id_from_location(client.post("/1.0/kb/accounts", json={"name": "C", "currency": "USD",
                                                                         "billCycleDayLocal": 23}))
        client.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "basic-monthly"}
                    ).raise_for_status()
        client.get("/1.0/kb/test/queues", params={"timeoutSec": 10})
        [invoice] = client.get(f"/1.0/kb/accounts/{account}/invoices",
                               params={"includeInvoiceComponents": "true"}).json()
        amounts.append([(i["startDate"], i["endDate"], i["amount"]) for i in invoice["items"]])
    assert amounts == [[("2023-06-15", "2023-06-23", 5.32)], [("2023-06-15", "2023-06-23", 5.15)]]
    assert other_kb.get(CONFIG).json()["values"] == []
