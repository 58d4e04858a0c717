"""Subscriptions and bundles over HTTP with Kill Bill's JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import KB, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text()


@pytest.fixture()
def account(kb: KB) -> str:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-01-15T10:00:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    return id_from_location(kb.post("/1.0/kb/accounts", json={"name": "Sub", "currency": "USD"}))


def _count_events(kb: KB, account: str) -> int:
    return sum(len(s["events"]) for b in kb.get(f"/1.0/kb/accounts/{account}/bundles").json()
               for s in b["subscriptions"])


def test_create_read_and_json_shape(kb: KB, account: str) -> None:
    r = kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "gold-monthly", "externalKey": "g1"},
                params={"callCompletion": "true", "callTimeoutSec": 20})
    assert r.status_code == 201 and r.content == b""
    sid = id_from_location(r)
    s = kb.get(r.headers["location"]).json()
    assert s["subscriptionId"] == sid and s["accountId"] == account and s["externalKey"] == "g1"
    assert (s["planName"], s["productName"], s["productCategory"], s["billingPeriod"], s["phaseType"],
            s["priceList"], s["state"], s["sourceType"]) == ("gold-monthly", "Gold", "BASE", "MONTHLY", "TRIAL",
                                                             "DEFAULT", "ACTIVE", "NATIVE")
    assert s["startDate"] == "2024-01-15T10:00:00.000Z" and s["billingStartDate"] == "2024-01-15T10:00:00.000Z"
    assert s["cancelledDate"] is None and s["billingEndDate"] is None
    assert s["chargedThroughDate"] == "2024-02-14"  # the $0 trial was invoiced: charged through its end
    assert s["billCycleDayLocal"] == 14 and s["quantity"] == 1 and s["priceOverrides"] is None
    assert [e["eventType"] for e in s["events"]] == ["START_ENTITLEMENT", "START_BILLING", "PHASE"]
    assert s["events"][2]["effectiveDate"] == "2024-02-14T10:00:00.000Z"
    assert s["events"][2]["phase"] == "gold-monthly-evergreen"
    assert {p["phaseName"]: p["recurringPrice"] for p in s["prices"]} == {"gold-monthly-trial": None,
                                                                          "gold-monthly-evergreen": 30.0}
    assert kb.get("/1.0/kb/subscriptions", params={"externalKey": "g1"}).json()["subscriptionId"] == sid
    bundles = kb.get(f"/1.0/kb/accounts/{account}/bundles").json()
    assert [b["bundleId"] for b in bundles] == [s["bundleId"]]
    assert bundles[0]["timeline"]["events"]


def test_create_by_product_and_with_addons(kb: KB, account: str) -> None:
    r = kb.post("/1.0/kb/subscriptions/createSubscriptionWithAddOns", json=[
        {"accountId": account, "productName": "Silver", "productCategory": "BASE", "billingPeriod": "MONTHLY",
         "priceList": "DEFAULT", "planName": None},
        {"planName": "boost-monthly"}])
    assert r.status_code == 400  # two plans of Silver in DEFAULT: the triplet is ambiguous
    r = kb.post("/1.0/kb/subscriptions/createSubscriptionWithAddOns", json=[
        {"accountId": account, "planName": "silver-monthly", "bundleExternalKey": "bk"},
        {"planName": "boost-monthly"}])
    assert r.status_code == 201 and "/1.0/kb/bundles/" in r.headers["location"]
    bundle = kb.get(r.headers["location"]).json()
    assert bundle["externalKey"] == "bk"
    assert [s["productCategory"] for s in bundle["subscriptions"]] == ["BASE", "ADD_ON"]
    assert kb.get("/1.0/kb/bundles", params={"externalKey": "bk"}).json()[0]["bundleId"] == bundle["bundleId"]
    dup = kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "silver-monthly",
                                                 "bundleExternalKey": "bk"})
    assert dup.status_code == 409
    bulk = kb.post("/1.0/kb/subscriptions/createSubscriptionsWithAddOns", json=[
        {"baseEntitlementAndAddOns": [{"accountId": account, "planName": "silver-monthly"}]},
        {"baseEntitlementAndAddOns": [{"accountId": account, "planName": "gold-monthly"}]}])
    assert bulk.status_code == 201
    assert len(kb.get(bulk.headers["location"]).json()) == 2


def test_change_cancel_uncancel_and_refusals(kb: KB, account: str) -> None:
    sid = id_from_location(kb.post("/1.0/kb/subscriptions", json={"accountId": account,
                                                                  "planName": "silver-monthly"},
                                   params={"callCompletion": "true", "callTimeoutSec": 20}))
    assert kb.put(f"/1.0/kb/subscriptions/{sid}", json={"planName": "gold-monthly"},
                  params={"callCompletion": "true", "callTimeoutSec": 20}).status_code == 204
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["planName"] == "gold-monthly"
    before = _count_events(kb, account)
    both = kb.put(f"/1.0/kb/subscriptions/{sid}", json={"planName": "silver-monthly"},
                  params={"requestedDate": "2024-03-01", "billingPolicy": "IMMEDIATE"})
    assert both.status_code == 400
    assert kb.put(f"/1.0/kb/subscriptions/{sid}", json={}).status_code == 400
    assert kb.put(f"/1.0/kb/subscriptions/{sid}", json={"planName": "nope"}).json()["code"] == 2021
    assert kb.put(f"/1.0/kb/subscriptions/{sid}", json={"planName": "silver-monthly"},
                  params={"billingPolicy": "SOMETIMES"}).status_code == 400
    assert kb.delete(f"/1.0/kb/subscriptions/{sid}", params={"requestedDate": "March 1st"}).status_code == 400
    assert _count_events(kb, account) == before
    r = kb.delete(f"/1.0/kb/subscriptions/{sid}", params={"entitlementPolicy": "END_OF_TERM",
                                                          "billingPolicy": "END_OF_TERM"})
    assert r.status_code == 204
    s = kb.get(f"/1.0/kb/subscriptions/{sid}").json()
    # invoiced in advance through Feb 15: the end of term is the charged-through date
    assert s["chargedThroughDate"] == "2024-02-15"
    assert (s["state"], s["billingEndDate"], s["cancelledDate"]) == ("ACTIVE", "2024-02-15T10:00:00.000Z",
                                                                    "2024-02-15T10:00:00.000Z")
    assert kb.delete(f"/1.0/kb/subscriptions/{sid}").json()["code"] == 1031
    assert kb.put(f"/1.0/kb/subscriptions/{sid}/uncancel").status_code == 204
    assert kb.delete(f"/1.0/kb/subscriptions/{sid}", params={"entitlementPolicy": "IMMEDIATE",
                                                             "billingPolicy": "IMMEDIATE"}).status_code == 204
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["state"] == "CANCELLED"
    assert kb.put(f"/1.0/kb/subscriptions/{sid}/uncancel").status_code == 400


def test_future_cancel_then_uncancel(kb: KB, account: str) -> None:
    sid = id_from_location(kb.post("/1.0/kb/subscriptions", json={"accountId": account,
                                                                  "planName": "silver-monthly"}))
    assert kb.delete(f"/1.0/kb/subscriptions/{sid}", params={"requestedDate": "2024-03-01",
                                                             "useRequestedDateForBilling": "true"}).status_code == 204
    s = kb.get(f"/1.0/kb/subscriptions/{sid}").json()
    assert s["state"] == "ACTIVE" and s["cancelledDate"] == "2024-03-01T10:00:00.000Z"
    assert [e["eventType"] for e in s["events"]][-2:] == ["STOP_ENTITLEMENT", "STOP_BILLING"]
    assert kb.put(f"/1.0/kb/subscriptions/{sid}/uncancel",
                  headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 204
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["cancelledDate"] is None


def test_pause_resume_and_blocking_states(kb: KB, account: str) -> None:
    sid = id_from_location(kb.post("/1.0/kb/subscriptions", json={"accountId": account,
                                                                  "planName": "silver-monthly"}))
    bundle = kb.get(f"/1.0/kb/subscriptions/{sid}").json()["bundleId"]
    assert kb.put(f"/1.0/kb/bundles/{bundle}/pause").status_code == 204
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["state"] == "BLOCKED"
    assert kb.put(f"/1.0/kb/bundles/{bundle}/pause").status_code == 400
    assert kb.put(f"/1.0/kb/bundles/{bundle}/resume", params={"requestedDate": "2024-02-01"}).status_code == 204
    kb.put("/1.0/kb/test/clock", params={"days": 20}).raise_for_status()
    s = kb.get(f"/1.0/kb/subscriptions/{sid}").json()
    assert s["state"] == "ACTIVE"
    types = [e["eventType"] for e in s["events"]]
    assert "PAUSE_ENTITLEMENT" in types and "PAUSE_BILLING" in types and "RESUME_BILLING" in types
    r = kb.post(f"/1.0/kb/accounts/{account}/block", json={"stateName": "STOP_ALL", "service": "my-service",
                                                           "isBlockChange": True, "isBlockEntitlement": False,
                                                           "isBlockBilling": True})
    assert r.status_code == 201
    assert r.headers["location"].endswith(f"/1.0/kb/accounts/{account}/block?blockingStateTypes=ACCOUNT")
    states = kb.get(f"/1.0/kb/accounts/{account}/block", params={"blockingStateTypes": "ACCOUNT"}).json()
    assert [(s["stateName"], s["isBlockBilling"], s["type"]) for s in states] == [("STOP_ALL", True, "ACCOUNT")]
    change = kb.put(f"/1.0/kb/subscriptions/{sid}", json={"planName": "gold-monthly"})
    assert change.status_code == 400 and change.json()["code"] == 6000
    assert kb.get(f"/1.0/kb/accounts/{account}/block", params={"blockingStateTypes": "NOPE"}).status_code == 400


def test_bcd_and_timeline(kb: KB, account: str) -> None:
    sid = id_from_location(kb.post("/1.0/kb/subscriptions", json={"accountId": account,
                                                                  "planName": "silver-monthly"}))
    assert kb.put(f"/1.0/kb/subscriptions/{sid}/bcd", json={"billCycleDayLocal": 20}).status_code == 204
    assert kb.put(f"/1.0/kb/subscriptions/{sid}/bcd", json={"billCycleDayLocal": 0}).status_code == 400
    assert kb.put(f"/1.0/kb/subscriptions/{sid}/bcd", json={}).status_code == 400
    kb.put("/1.0/kb/test/clock", params={"days": 6}).raise_for_status()
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["billCycleDayLocal"] == 20
    timeline = kb.get(f"/1.0/kb/accounts/{account}/timeline").json()
    assert timeline["account"]["accountId"] == account
    assert [b["subscriptions"][0]["subscriptionId"] for b in timeline["bundles"]] == [sid]


def test_unknown_ids_are_404(kb: KB, account: str) -> None:
    assert kb.get("/1.0/kb/subscriptions/00000000-0000-0000-0000-000000000000").json()["code"] == 1082
    assert kb.get("/1.0/kb/bundles/00000000-0000-0000-0000-000000000000").status_code == 404
    assert kb.post("/1.0/kb/subscriptions", json={"accountId": "00000000-0000-0000-0000-000000000000",
                                                  "planName": "silver-monthly"}).status_code == 404


def test_catalog_lookups_by_subscription_and_date(kb: KB, account: str) -> None:
    sid = id_from_location(kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "gold-monthly"}))
    plan = kb.get("/1.0/kb/catalog/plan", params={"subscriptionId": sid}).json()
    assert plan["name"] == "gold-monthly" and [p["type"] for p in plan["phases"]] == ["TRIAL", "EVERGREEN"]
    assert kb.get("/1.0/kb/catalog/phase", params={"subscriptionId": sid}).json()["type"] == "TRIAL"
    later = kb.get("/1.0/kb/catalog/phase", params={"subscriptionId": sid, "requestedDate": "2024-03-01"}).json()
    assert later["type"] == "EVERGREEN"
    assert later["prices"] == [{"currency": "USD", "value": 30.00}]
    product = kb.get("/1.0/kb/catalog/product", params={"subscriptionId": sid}).json()
    assert product["name"] == "Gold" and product["type"] == "BASE" and product["included"] == ["Shield"]
    assert kb.get("/1.0/kb/catalog/priceList", params={"subscriptionId": sid}).json()["name"] == "DEFAULT"
    assert kb.get("/1.0/kb/catalog/plan").status_code == 400
    assert kb.get("/1.0/kb/catalog/plan", params={"subscriptionId": "00000000-0000-0000-0000-000000000000"}
                  ).status_code == 404
