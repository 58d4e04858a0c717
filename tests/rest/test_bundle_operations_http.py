"""Bundle transfer, key rename, bundle pages and search, and subscription quantity over HTTP (Kill Bill's
BundleResource, AccountResource.getAccountBundlesPaginated and SubscriptionResource.updateSubscriptionQuantity:
status codes, Location headers, pagination headers, BundleJson and error JSON)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import KB, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text()
UNKNOWN = "00000000-0000-0000-0000-000000000000"


@pytest.fixture()
def account(kb: KB) -> str:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-01-15T10:00:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    return _account(kb, "Source")


def _account(kb: KB, name: str) -> str:
    return id_from_location(kb.post("/1.0/kb/accounts", json={"name": name, "currency": "USD"}))


def _subscribe(kb: KB, account: str, plan: str, key: str | None = None) -> tuple[str, str]:
    r = kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": plan, "bundleExternalKey": key},
                params={"callCompletion": "true", "callTimeoutSec": 20})
    assert r.status_code == 201, r.text
    sid = id_from_location(r)
    return sid, kb.get(f"/1.0/kb/subscriptions/{sid}").json()["bundleId"]


def test_transfer_bundle(kb: KB, account: str) -> None:
    sid, bundle = _subscribe(kb, account, "silver-monthly", "tb-key")
    kb.put("/1.0/kb/test/clock", params={"days": 10}).raise_for_status()
    dest = _account(kb, "Destination")
    r = kb.post(f"/1.0/kb/bundles/{bundle}", json={"accountId": dest, "subscriptions": [
        {"subscriptionId": sid, "externalKey": "moved-sub"}]}, params={"billingPolicy": "IMMEDIATE"})
    assert r.status_code == 201 and r.content == b""
    new_bundle = id_from_location(r)
    assert r.headers["location"].endswith(f"/1.0/kb/bundles/{new_bundle}") and new_bundle != bundle
    moved = kb.get(f"/1.0/kb/bundles/{new_bundle}").json()
    assert (moved["accountId"], moved["externalKey"]) == (dest, "tb-key")
    [sub] = moved["subscriptions"]
    assert (sub["externalKey"], sub["planName"], sub["state"], sub["startDate"][:10]) == (
        "moved-sub", "silver-monthly", "ACTIVE", "2024-01-25")
    assert [e["eventType"] for e in sub["events"]] == ["START_ENTITLEMENT", "START_BILLING"]
    old = kb.get(f"/1.0/kb/subscriptions/{sid}").json()
    assert (old["state"], old["billingEndDate"][:10], old["cancelledDate"][:10]) == (
        "CANCELLED", "2024-01-25", "2024-01-25")
    assert kb.get(f"/1.0/kb/bundles/{bundle}").json()["externalKey"].startswith("kbtsf-")
    by_key = kb.get("/1.0/kb/bundles", params={"externalKey": "tb-key", "includedDeleted": "true"}).json()
    assert [b["bundleId"] for b in by_key] == [bundle, new_bundle]
    assert [b["bundleId"] for b in kb.get("/1.0/kb/bundles", params={"externalKey": "tb-key"}).json()] == [
        new_bundle]
    # the source's invoice is repaired, the destination invoiced from the transfer day
    kb.get("/1.0/kb/test/queues").raise_for_status()
    dest_invoices = kb.get(f"/1.0/kb/accounts/{dest}/invoices", params={"includeInvoiceComponents": "true"}).json()
    assert [(i["itemType"], i["startDate"], i["amount"]) for inv in dest_invoices for i in inv["items"]] == [
        ("RECURRING", "2024-01-25", 20.0)]
    # transferred away already
    again = kb.post(f"/1.0/kb/bundles/{bundle}", json={"accountId": dest})
    assert again.status_code == 400 and again.json()["code"] == 1083


@pytest.mark.parametrize(("params", "body", "status", "code"), [
    ({}, None, 400, None),
    ({}, {}, 400, None),
    ({"billingPolicy": "START_OF_TERM"}, "dest", 400, None),
    ({"billingPolicy": "SOMETIMES"}, "dest", 400, None),
    ({"bcdTransfer": "NEVER"}, "dest", 400, None),
    ({"requestedDate": "soon"}, "dest", 400, None),
    ({}, {"accountId": UNKNOWN}, 404, 3002),
])
def test_transfer_refusals(kb: KB, account: str, params: dict[str, str], body: object, status: int,
                           code: int | None) -> None:
    _, bundle = _subscribe(kb, account, "silver-monthly")
    if body == "dest":
        body = {"accountId": _account(kb, "Destination")}
    r = kb.post(f"/1.0/kb/bundles/{bundle}", json=body, params=params)
    assert r.status_code == status, r.text
    if code is not None:
        assert r.json()["code"] == code
    assert kb.get(f"/1.0/kb/bundles/{bundle}").json()["subscriptions"][0]["state"] == "ACTIVE"
    missing = kb.post(f"/1.0/kb/bundles/{UNKNOWN}", json={"accountId": account})
    assert missing.status_code == 404 and missing.json()["code"] == 1081


def test_rename_key(kb: KB, account: str) -> None:
    _, bundle = _subscribe(kb, account, "silver-monthly", "before")
    r = kb.put(f"/1.0/kb/bundles/{bundle}/renameKey", json={"externalKey": "after"})
    assert r.status_code == 204 and r.content == b""
    assert kb.get(f"/1.0/kb/bundles/{bundle}").json()["externalKey"] == "after"
    assert kb.put(f"/1.0/kb/bundles/{bundle}/renameKey", json={}).status_code == 400
    assert kb.put(f"/1.0/kb/bundles/{bundle}/renameKey").status_code == 400
    assert kb.put(f"/1.0/kb/bundles/{UNKNOWN}/renameKey", json={"externalKey": "x"}).status_code == 404


def test_bundle_pages_and_search(kb: KB, account: str) -> None:
    bundles = [_subscribe(kb, account, "silver-monthly", f"page-{i}")[1] for i in range(3)]
    r = kb.get("/1.0/kb/bundles/pagination", params={"offset": 0, "limit": 2})
    assert r.status_code == 200
    assert [b["bundleId"] for b in r.json()] == bundles[:2]
    assert r.headers["X-Killbill-Pagination-TotalNbRecords"] == "3"
    assert r.headers["X-Killbill-Pagination-MaxNbRecords"] == "3"
    assert r.headers["X-Killbill-Pagination-NextOffset"] == "2"
    assert r.headers["X-Killbill-Pagination-NextPageUri"] == (
        "/1.0/kb/bundles/pagination?offset=2&limit=2&audit=NONE")
    # streamed pages carry no phase prices (Kill Bill builds them without the account's currency)
    assert r.json()[0]["subscriptions"][0]["prices"] == []
    assert kb.get(f"/1.0/kb/bundles/{bundles[0]}").json()["subscriptions"][0]["prices"] != []
    found = kb.get("/1.0/kb/bundles/search/page-1")
    assert [b["bundleId"] for b in found.json()] == [bundles[1]]
    assert (found.headers["X-Killbill-Pagination-TotalNbRecords"],
            found.headers["X-Killbill-Pagination-MaxNbRecords"]) == ("1", "3")
    assert [b["bundleId"] for b in kb.get(f"/1.0/kb/bundles/search/{account}").json()] == bundles
    assert kb.get("/1.0/kb/bundles/search/page").json() == []
    own = kb.get(f"/1.0/kb/accounts/{account}/bundles/pagination", params={"offset": 1, "limit": 5})
    assert [b["bundleId"] for b in own.json()] == bundles[1:]
    assert own.headers["X-Killbill-Pagination-CurrentOffset"] == "1"
    assert kb.get(f"/1.0/kb/accounts/{UNKNOWN}/bundles/pagination").status_code == 404
    assert kb.get("/1.0/kb/bundles/pagination", params={"limit": -1}).status_code == 400
    assert kb.get("/1.0/kb/bundles/pagination", params={"audit": "LOUD"}).status_code == 400


def test_subscription_quantity(kb: KB, account: str) -> None:
    sid, _ = _subscribe(kb, account, "silver-monthly")
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["quantity"] == 1
    r = kb.put(f"/1.0/kb/subscriptions/{sid}/quantity", json={"quantity": 3})
    assert r.status_code == 204 and r.content == b""
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["quantity"] == 3
    later = kb.put(f"/1.0/kb/subscriptions/{sid}/quantity", json={"quantity": 5},
                   params={"effectiveFromDate": "2024-02-15"})
    assert later.status_code == 204
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["quantity"] == 3
    past = kb.put(f"/1.0/kb/subscriptions/{sid}/quantity", json={"quantity": 2},
                  params={"effectiveFromDate": "2024-01-01"})
    assert past.status_code == 400 and "Use force flag" in past.json()["message"]
    forced = kb.put(f"/1.0/kb/subscriptions/{sid}/quantity", json={"quantity": 2},
                    params={"effectiveFromDate": "2024-01-16", "forceNewQuantityWithPastEffectiveDate": "true"})
    assert forced.status_code == 204  # 2024-01-16 is still to come for the account, today is 2024-01-15
    assert kb.put(f"/1.0/kb/subscriptions/{sid}/quantity", json={}).status_code == 400
    assert kb.put(f"/1.0/kb/subscriptions/{sid}/quantity").status_code == 400
    assert kb.put(f"/1.0/kb/subscriptions/{sid}/quantity", json={"quantity": 0}).status_code == 400
    assert kb.put(f"/1.0/kb/subscriptions/{UNKNOWN}/quantity", json={"quantity": 2}).status_code == 404
    # the new quantity was invoiced: 3 × 20 from today, the single one repaired
    kb.get("/1.0/kb/test/queues").raise_for_status()
    items = [(i["itemType"], i["amount"]) for inv in kb.get(f"/1.0/kb/accounts/{account}/invoices",
                                                           params={"includeInvoiceComponents": "true"}).json()
             for i in inv["items"] if i["itemType"] in ("RECURRING", "REPAIR_ADJ")]
    assert items == [("RECURRING", 20.0), ("RECURRING", 60.0), ("REPAIR_ADJ", -20.0)]


def test_one_change_listed_for_two_changes_on_one_date(kb: KB, account: str) -> None:
    sid, _ = _subscribe(kb, account, "silver-monthly")
    for plan in ("gold-monthly", "gold-annual"):
        assert kb.put(f"/1.0/kb/subscriptions/{sid}", json={"planName": plan},
                      params={"requestedDate": "2024-02-01"}).status_code == 204
    changes = [e for e in kb.get(f"/1.0/kb/subscriptions/{sid}").json()["events"] if e["eventType"] == "CHANGE"]
    assert [(e["plan"], e["effectiveDate"][:10]) for e in changes] == [("gold-annual", "2024-02-01")]
