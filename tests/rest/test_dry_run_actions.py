"""Dry runs of subscription actions (Kill Bill's SUBSCRIPTION_ACTION: START_BILLING, CHANGE, STOP_BILLING):
the invoice the action would make, with the same dates and rules as the action, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import KB, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text()


@pytest.fixture()
def account(kb: KB) -> str:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-01-15T10:00:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    return id_from_location(kb.post("/1.0/kb/accounts", json={"name": "What if", "currency": "USD"}))


def _dry_run(kb: KB, account: str, **body: object) -> tuple[int, list[tuple[str, str | None, float, str, str]]]:
    r = kb.post("/1.0/kb/invoices/dryRun", params={"accountId": account},
                json={"dryRunType": "SUBSCRIPTION_ACTION", **body})
    if r.status_code != 200:
        return r.status_code, []
    items = sorted((i["itemType"], i["planName"], i["amount"], i["startDate"], i["endDate"])
                   for i in r.json()["items"])
    return r.status_code, items


def _invoices(kb: KB, account: str) -> int:
    return len(kb.get(f"/1.0/kb/accounts/{account}/invoices").json())


def test_start_billing(kb: KB, account: str) -> None:
    status, items = _dry_run(kb, account, dryRunAction="START_BILLING", planName="silver-monthly")
    assert status == 200
    assert items == [("RECURRING", "silver-monthly", 20.0, "2024-01-15", "2024-02-15")]
    assert kb.get(f"/1.0/kb/accounts/{account}/bundles").json() == []
    assert _invoices(kb, account) == 0


def test_change_and_stop_billing(kb: KB, account: str) -> None:
    sid = id_from_location(kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "silver-monthly"},
                                   params={"callCompletion": "true", "callTimeoutSec": 20}))
    kb.put("/1.0/kb/test/clock", params={"days": 10}).raise_for_status()
    assert _invoices(kb, account) == 1
    # Silver -> Gold is IMMEDIATE: Gold for the 21 days left of the 31-day period, Silver's repaired
    status, items = _dry_run(kb, account, dryRunAction="CHANGE", subscriptionId=sid, planName="gold-monthly")
    assert status == 200
    assert items == [("RECURRING", "gold-monthly", 20.32, "2024-01-25", "2024-02-15"),
                     ("REPAIR_ADJ", None, -13.55, "2024-01-25", "2024-02-15")] or items == [
        ("RECURRING", "gold-monthly", 20.32, "2024-01-25", "2024-02-15"),
        ("REPAIR_ADJ", "silver-monthly", -13.55, "2024-01-25", "2024-02-15")]
    status, items = _dry_run(kb, account, dryRunAction="STOP_BILLING", subscriptionId=sid, billingPolicy="IMMEDIATE")
    assert status == 200
    # the unused part is repaired, and the negative invoice becomes account credit
    assert [(t, a, s, e) for t, _, a, s, e in items] == [("CBA_ADJ", 13.55, "2024-01-25", "2024-01-25"),
                                                         ("REPAIR_ADJ", -13.55, "2024-01-25", "2024-02-15")]
    # nothing of it happened
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["planName"] == "silver-monthly"
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["billingEndDate"] is None
    assert _invoices(kb, account) == 1


def test_refusals(kb: KB, account: str) -> None:
    assert _dry_run(kb, account)[0] == 400  # no dryRunAction
    assert _dry_run(kb, account, dryRunAction="PAUSE")[0] == 400
    assert _dry_run(kb, account, dryRunAction="CHANGE", planName="gold-monthly",
                    subscriptionId="00000000-0000-0000-0000-000000000000")[0] == 404
    assert _dry_run(kb, account, dryRunAction="START_BILLING", planName="nope")[0] == 400
    assert _dry_run(kb, account, dryRunAction="START_BILLING", planName="silver-monthly",
                    billingPolicy="SOMETIMES")[0] == 400


def test_stop_billing_of_a_subscription_cancelled_at_end_of_term(kb: KB, account: str) -> None:
    """Kill Bill checks no state (`populateDryRunEvents`): with no date or policy the dry run cancels now, so the
    stored end-of-term cancellation gives way and the unused part is repaired; at the end of term nothing changes."""
    sid = id_from_location(kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "silver-monthly"},
                                   params={"callCompletion": "true", "callTimeoutSec": 20}))
    kb.put("/1.0/kb/test/clock", params={"days": 10}).raise_for_status()
    assert kb.delete(f"/1.0/kb/subscriptions/{sid}", params={"billingPolicy": "END_OF_TERM"}).status_code == 204
    status, items = _dry_run(kb, account, dryRunAction="STOP_BILLING", subscriptionId=sid)
    assert status == 200
    assert [(t, a, s, e) for t, _, a, s, e in items] == [("CBA_ADJ", 13.55, "2024-01-25", "2024-01-25"),
                                                         ("REPAIR_ADJ", -13.55, "2024-01-25", "2024-02-15")]
    assert _dry_run(kb, account, dryRunAction="STOP_BILLING", subscriptionId=sid,
                    billingPolicy="END_OF_TERM")[0] == 204
    assert _dry_run(kb, account, dryRunAction="STOP_BILLING", subscriptionId=sid,
                    effectiveDate="2024-02-15")[0] == 204
    assert kb.get(f"/1.0/kb/subscriptions/{sid}").json()["billingEndDate"].startswith("2024-02-15")
    assert _invoices(kb, account) == 1
