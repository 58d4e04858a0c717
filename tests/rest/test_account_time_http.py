"""Account time end to end (billing-semantics.md 4.10): a Los Angeles account created at 23:30 PST on
2017-03-01 with a 30-day trial. The trial ends at 2017-04-01T07:30Z, which Kill Bill reads with the account's
fixed offset (-08:00, taken at the reference instant) as 2017-03-31 although the zone is on PDT by then: the
bill cycle day is 31 and the first paid period starts on March 31 (a DST-aware reading would say April 1)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import KB, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text().replace(
    "<effectiveDate>2020-01-01T00:00:00+00:00</effectiveDate>",
    "<effectiveDate>2017-01-01T00:00:00+00:00</effectiveDate>")


def test_los_angeles_trial_ending_after_dst_gets_bcd_31(kb: KB) -> None:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2017-03-02T07:30:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    account = id_from_location(kb.post("/1.0/kb/accounts", json={
        "name": "LA", "currency": "USD", "timeZone": "America/Los_Angeles"}))
    assert kb.get(f"/1.0/kb/accounts/{account}").json()["referenceTime"] == "2017-03-02T07:30:00.000Z"

    r = kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "gold-monthly"},
                params={"callCompletion": "true", "callTimeoutSec": 20})
    assert r.status_code == 201
    sub = kb.get(r.headers["location"]).json()
    assert sub["billCycleDayLocal"] == 31
    assert [(e["eventType"], e["effectiveDate"]) for e in sub["events"]] == [
        ("START_ENTITLEMENT", "2017-03-02T07:30:00.000Z"), ("START_BILLING", "2017-03-02T07:30:00.000Z"),
        ("PHASE", "2017-04-01T07:30:00.000Z")]
    assert sub["chargedThroughDate"] == "2017-03-31"  # the trial's end, read at -08:00
    assert kb.get(f"/1.0/kb/accounts/{account}").json()["billCycleDayLocal"] == 31
    (trial,) = kb.get(f"/1.0/kb/accounts/{account}/invoices",
                      params={"includeInvoiceComponents": "true"}).json()
    assert trial["invoiceDate"] == "2017-03-01" and trial["targetDate"] == "2017-03-01"
    assert [(i["itemType"], i["startDate"], i["amount"]) for i in trial["items"]] == [("FIXED", "2017-03-01", 0)]

    # the trial ends: the first paid month runs from the 31st, and the next from the last day of April
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2017-04-01T08:00:00.000Z",
                                           "timeoutSec": 20}).raise_for_status()
    invoices = kb.get(f"/1.0/kb/accounts/{account}/invoices", params={"includeInvoiceComponents": "true"}).json()
    assert [(i["itemType"], i["startDate"], i["endDate"], i["amount"]) for i in invoices[-1]["items"]] == [
        ("RECURRING", "2017-03-31", "2017-04-30", 30.0)]
    # April 30 is billed at the reference time of day, 23:30 at -08:00: 2017-05-01T07:30Z
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2017-05-01T07:00:00.000Z",
                                           "timeoutSec": 20}).raise_for_status()
    assert len(kb.get(f"/1.0/kb/accounts/{account}/invoices").json()) == 2
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2017-05-01T08:00:00.000Z",
                                           "timeoutSec": 20}).raise_for_status()
    invoices = kb.get(f"/1.0/kb/accounts/{account}/invoices", params={"includeInvoiceComponents": "true"}).json()
    assert len(invoices) == 3
    assert [(i["itemType"], i["startDate"], i["endDate"], i["amount"]) for i in invoices[-1]["items"]] == [
        ("RECURRING", "2017-04-30", "2017-05-31", 30.0)]
