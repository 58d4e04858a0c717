"""`/1.0/kb/usages` over HTTP with Kill Bill's JSON: record, read back rolled up, refusals, and the batch endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import KB, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "usage" / "data" / "usage.xml").read_text()


@pytest.fixture()
def minutes(kb: KB) -> str:
    """A Phone with a Minutes add-on, created on 2024-04-01T06:00Z."""
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-04-01T05:00:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-04-01T06:00:00.000Z"}).raise_for_status()
    account = id_from_location(kb.post("/1.0/kb/accounts", json={"name": "Metered", "currency": "USD"}))
    r = kb.post("/1.0/kb/subscriptions/createSubscriptionWithAddOns",
                json=[{"accountId": account, "planName": "phone-monthly"}, {"planName": "minutes-in-arrear"}],
                params={"callCompletion": "true", "callTimeoutSec": 20})
    assert r.status_code == 201, r.text
    bundle = kb.get(r.headers["location"]).json()
    return next(s["subscriptionId"] for s in bundle["subscriptions"] if s["planName"] == "minutes-in-arrear")


def usage(sub: str, *records: tuple[str, object], unit: str = "minutes", tracking: str | None = "t1") -> dict:
    body: dict = {"subscriptionId": sub,
                  "unitUsageRecords": [{"unitType": unit, "usageRecords": [{"recordDate": d, "amount": a}
                                                                          for d, a in records]}]}
    if tracking is not None:
        body["trackingId"] = tracking
    return body


def test_record_and_read_back_rolled_up(kb: KB, minutes: str) -> None:
    """TestUsage.testRecordUsage: [start, end) by UTC midnights, per unit the sum; 201 with no body, no Location."""
    r = kb.post("/1.0/kb/usages", json=usage(minutes, ("2024-04-02T10:00:00.000Z", 10), ("2024-04-03", 5)))
    assert r.status_code == 201 and r.content == b"" and "location" not in r.headers
    kb.post("/1.0/kb/usages", json=usage(minutes, ("2024-04-03T23:00:00+02:00", "4.75"), tracking=None))
    kb.post("/1.0/kb/usages", json=usage(minutes, ("2024-04-02T11:00:00Z", 3), unit="messages", tracking="t2"))
    day2 = kb.get(f"/1.0/kb/usages/{minutes}", params={"startDate": "2024-04-02", "endDate": "2024-04-03"})
    assert day2.status_code == 200
    assert day2.json() == {"subscriptionId": minutes, "startDate": "2024-04-02T00:00:00.000Z",
                           "endDate": "2024-04-03T00:00:00.000Z",
                           # Kill Bill's HashMap order (by String.hashCode bucket), not the alphabet
                           "rolledUpUnits": [{"unitType": "minutes", "amount": 10},
                                             {"unitType": "messages", "amount": 3}]}
    # 2024-04-03T23:00+02:00 is 21:00Z on the 3rd; the end is exclusive
    both = kb.get(f"/1.0/kb/usages/{minutes}/minutes", params={"startDate": "2024-04-02", "endDate": "2024-04-04"})
    assert both.json()["rolledUpUnits"] == [{"unitType": "minutes", "amount": 19.75}]
    third = kb.get(f"/1.0/kb/usages/{minutes}/minutes",
                   params={"startDate": "2024-04-03T00:00:00Z", "endDate": "2024-04-03T21:00:00Z"})
    assert third.json()["rolledUpUnits"] == [{"unitType": "minutes", "amount": 5}]
    none = kb.get(f"/1.0/kb/usages/{minutes}", params={"startDate": "2024-05-01", "endDate": "2024-06-01"})
    assert none.json()["rolledUpUnits"] == []


def test_duplicate_tracking_id_is_refused_as_kill_bill_refuses_it(kb: KB, minutes: str) -> None:
    assert kb.post("/1.0/kb/usages", json=usage(minutes, ("2024-04-02", 10), tracking="once")).status_code == 201
    r = kb.post("/1.0/kb/usages", json=usage(minutes, ("2024-04-05", 999), ("2024-04-06", 1), tracking="once"))
    assert r.status_code == 400
    body = r.json()
    assert (body["className"], body["code"], body["message"]) == (
        "org.killbill.billing.usage.api.UsageApiException", 50000,
        "A usage record with tracking ID once already exists")
    rolled = kb.get(f"/1.0/kb/usages/{minutes}", params={"startDate": "2024-04-01", "endDate": "2024-05-01"}).json()
    assert rolled["rolledUpUnits"] == [{"unitType": "minutes", "amount": 10}]  # nothing of the refused request


@pytest.mark.parametrize(("body", "message"), [
    (None, "SubscriptionUsageRecordJson body should be specified"),
    ({"unitUsageRecords": []}, "SubscriptionUsageRecordJson subscriptionId needs to be set"),
    ({"subscriptionId": "SUB"}, "SubscriptionUsageRecordJson unitUsageRecords needs to be set"),
    ({"subscriptionId": "SUB", "unitUsageRecords": []}, "json.getUnitUsageRecords() is empty"),
    ({"subscriptionId": "SUB", "unitUsageRecords": [{"unitType": "", "usageRecords": [
        {"recordDate": "2024-04-02", "amount": 1}]}]}, "UnitUsageRecordJson unitType need to be set"),
    ({"subscriptionId": "SUB", "unitUsageRecords": [{"unitType": "minutes", "usageRecords": []}]},
     "UnitUsageRecordJson usageRecords must have at least one element."),
    ({"subscriptionId": "SUB", "unitUsageRecords": [{"unitType": "minutes", "usageRecords": [
        {"recordDate": "2024-04-02"}]}]}, "UsageRecordJson amount needs to be set"),
    ({"subscriptionId": "SUB", "unitUsageRecords": [{"unitType": "minutes", "usageRecords": [{"amount": 1}]}]},
     "UsageRecordJson recordDate needs to be set"),
])
def test_bad_input_gets_kill_bills_messages(kb: KB, minutes: str, body: dict | None, message: str) -> None:
    if body is not None and "subscriptionId" in body:
        body = {**body, "subscriptionId": minutes}
    r = kb.post("/1.0/kb/usages", json=body) if body is not None else kb.post(
        "/1.0/kb/usages", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["className"] == "java.lang.IllegalArgumentException" and r.json()["message"] == message


def test_unknown_subscription_bad_dates_and_records_after_the_end(kb: KB, minutes: str) -> None:
    missing = "00000000-0000-0000-0000-000000000001"
    r = kb.post("/1.0/kb/usages", json=usage(missing, ("2024-04-02", 1)))
    assert r.status_code == 404 and r.json()["message"] == f"Object id={missing} type=SUBSCRIPTION doesn't exist!"
    assert kb.get(f"/1.0/kb/usages/{missing}", params={"startDate": "2024-04-01",
                                                       "endDate": "2024-04-02"}).status_code == 404
    assert kb.get(f"/1.0/kb/usages/{minutes}", params={"startDate": "2024-04-01"}).status_code == 400
    assert kb.get(f"/1.0/kb/usages/{minutes}", params={"endDate": "2024-04-01"}).status_code == 400
    assert kb.get(f"/1.0/kb/usages/{minutes}", params={"startDate": "x", "endDate": "2024-04-01"}).status_code == 400
    assert kb.post("/1.0/kb/usages", json=usage("not-a-uuid", ("2024-04-02", 1))).status_code == 400
    # cancelled (IMMEDIATE for add-ons): a record after the entitlement's end is refused, one before it accepted
    assert kb.delete(f"/1.0/kb/subscriptions/{minutes}", params={"callCompletion": "true"}).status_code == 204
    late = kb.post("/1.0/kb/usages", json=usage(minutes, ("2024-04-01T05:00:00Z", 1), ("2024-04-01T07:00:00Z", 1)))
    assert late.status_code == 400 and "recordDate" in late.json()["message"]
    assert kb.post("/1.0/kb/usages", json=usage(minutes, ("2024-04-01T05:00:00Z", 1))).status_code == 201


def test_another_tenants_subscription_is_not_found(kb: KB, minutes: str, server) -> None:  # type: ignore[no-untyped-def]
    import uuid

    import httpx

    key = f"k-{uuid.uuid4().hex[:12]}"
    httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"),
               headers={"X-Killbill-CreatedBy": "tests"}, json={"apiKey": key, "apiSecret": "s"}).raise_for_status()
    other = KB(server.base_url, key, "s")
    assert other.post("/1.0/kb/usages", json=usage(minutes, ("2024-04-02", 1))).status_code == 404
    assert other.get(f"/1.0/kb/usages/{minutes}", params={"startDate": "2024-04-01",
                                                          "endDate": "2024-05-01"}).status_code == 404


def test_batch_endpoint(kb: KB, minutes: str) -> None:
    batch = [usage(minutes, ("2024-04-02", 10), ("2024-04-03", 20), tracking="b1"),
             usage(minutes, ("2024-04-04", 5), unit="messages", tracking="b2"),
             usage(minutes, ("2024-04-05", 7), tracking=None)]
    r = kb.post("/1.0/kb/usages/batch", json=batch)
    assert r.status_code == 200 and r.json() == {"recorded": 4, "duplicates": []}
    again = kb.post("/1.0/kb/usages/batch", json=batch[:2])
    assert again.json() == {"recorded": 0, "duplicates": [{"subscriptionId": minutes, "trackingId": "b1"},
                                                          {"subscriptionId": minutes, "trackingId": "b2"}]}
    rolled = kb.get(f"/1.0/kb/usages/{minutes}", params={"startDate": "2024-04-01", "endDate": "2024-05-01"}).json()
    assert rolled["rolledUpUnits"] == [{"unitType": "minutes", "amount": 37}, {"unitType": "messages", "amount": 5}]
    # one bad entry refuses the batch, naming where
    bad = kb.post("/1.0/kb/usages/batch", json=[usage(minutes, ("2024-04-06", 1), tracking="b3"),
                                               usage(minutes, ("2024-04-06", "lots"), tracking="b4")])
    assert bad.status_code == 400 and bad.json()["message"].startswith("1.unitUsageRecords.0.usageRecords.0.amount")
    assert kb.post("/1.0/kb/usages/batch", content=b"{", headers={"Content-Type": "application/json"}
                   ).status_code == 400
    assert kb.post("/1.0/kb/usages/batch", content=b"", headers={"Content-Type": "application/json"}
                   ).status_code == 400
    rolled = kb.get(f"/1.0/kb/usages/{minutes}", params={"startDate": "2024-04-01", "endDate": "2024-05-01"}).json()
    assert rolled["rolledUpUnits"][0]["amount"] == 37
