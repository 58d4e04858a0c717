"""Closing an account over HTTP (`DELETE /1.0/kb/accounts/{accountId}`, Kill Bill's `closeAccount`)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import KB, ServerThread, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text()
WAIT = {"callCompletion": "true", "callTimeoutSec": 20}


@pytest.fixture()
def account(kb: KB) -> str:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-01-15T10:00:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    account = id_from_location(kb.post("/1.0/kb/accounts", json={"name": "Closing", "currency": "USD"}))
    r = kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "silver-monthly"}, params=WAIT)
    assert r.status_code == 201
    return account


def _invoices(kb: KB, account: str) -> list[dict]:  # type: ignore[type-arg]
    r = kb.get(f"/1.0/kb/accounts/{account}/invoices", params={"includeInvoiceComponents": "true"})
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def test_close_with_every_option(kb: KB, account: str) -> None:
    assert [i["balance"] for i in _invoices(kb, account)] == [20.0]
    r = kb.delete(f"/1.0/kb/accounts/{account}",
                  params={"cancelAllSubscriptions": "true", "writeOffUnpaidInvoices": "true",
                          "itemAdjustUnpaidInvoices": "false", "removeFutureNotifications": "true"},
                  headers={"X-Killbill-Reason": "closing", "X-Killbill-Comment": "bye"})
    assert r.status_code == 204 and r.content == b""
    [bundle] = kb.get(f"/1.0/kb/accounts/{account}/bundles").json()
    [sub] = bundle["subscriptions"]
    assert sub["state"] == "CANCELLED"
    assert sub["cancelledDate"] == "2024-01-15T10:00:00.000Z" and sub["billingEndDate"] == "2024-02-15T10:00:00.000Z"
    [invoice] = _invoices(kb, account)
    assert invoice["balance"] == 0
    tags = kb.get(f"/1.0/kb/invoices/{invoice['invoiceId']}/tags").json()
    assert [t["tagDefinitionName"] for t in tags] == ["WRITTEN_OFF"]
    acc = kb.get(f"/1.0/kb/accounts/{account}", params={"accountWithBalanceAndCBA": "true"}).json()
    assert (acc["accountBalance"], acc["accountCBA"]) == (0, 0)
    states = kb.get(f"/1.0/kb/accounts/{account}/block", params={"blockingStateTypes": "ACCOUNT"}).json()
    assert [(s["stateName"], s["service"], s["isBlockChange"], s["isBlockEntitlement"], s["isBlockBilling"])
            for s in states] == [("CLOSE_ACCOUNT", "account-service", True, False, False)]
    assert kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-04-20T10:00:00.000Z"}).status_code == 200
    assert len(_invoices(kb, account)) == 1


def test_item_adjust_over_http(kb: KB, account: str) -> None:
    r = kb.delete(f"/1.0/kb/accounts/{account}", params={"itemAdjustUnpaidInvoices": "true"},
                  headers={"X-Killbill-Comment": "refund all"})
    assert r.status_code == 204
    [invoice] = _invoices(kb, account)
    assert invoice["balance"] == 0
    adj = [i for i in invoice["items"] if i["itemType"] == "ITEM_ADJ"]
    assert [(i["amount"], i["description"], i["startDate"]) for i in adj] == [(-20.0, "refund all", "2024-01-15")]


def test_defaults_only_block_and_remove_future_notifications(kb: KB, account: str) -> None:
    assert kb.delete(f"/1.0/kb/accounts/{account}").status_code == 204
    [invoice] = _invoices(kb, account)
    assert invoice["balance"] == 20.0
    [bundle] = kb.get(f"/1.0/kb/accounts/{account}/bundles").json()
    assert bundle["subscriptions"][0]["state"] == "ACTIVE"
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-03-20T10:00:00.000Z"}).raise_for_status()
    assert len(_invoices(kb, account)) == 1


def test_unknown_account_and_bad_input(kb: KB, account: str) -> None:
    assert kb.delete(f"/1.0/kb/accounts/{uuid.uuid4()}").status_code == 404
    assert kb.delete(f"/1.0/kb/accounts/{account}", params={"cancelAllSubscriptions": "maybe"}).status_code == 400
    [bundle] = kb.get(f"/1.0/kb/accounts/{account}/bundles").json()
    assert bundle["subscriptions"][0]["state"] == "ACTIVE"
    assert kb.get(f"/1.0/kb/accounts/{account}/block", params={"blockingStateTypes": "ACCOUNT"}).json() == []


def test_another_tenants_account_is_not_found(kb: KB, account: str, server: ServerThread) -> None:
    key = f"k-{uuid.uuid4().hex[:12]}"
    assert httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"),
                      headers={"X-Killbill-CreatedBy": "tests"},
                      json={"apiKey": key, "apiSecret": "s"}).status_code == 201
    other = KB(server.base_url, key, "s")
    try:
        r = other.delete(f"/1.0/kb/accounts/{account}", params={"cancelAllSubscriptions": "true",
                                                                "writeOffUnpaidInvoices": "true"})
        assert r.status_code == 404
    finally:
        other.http.close()
    [invoice] = _invoices(kb, account)
    assert invoice["balance"] == 20.0
    assert kb.get(f"/1.0/kb/accounts/{account}/block", params={"blockingStateTypes": "ACCOUNT"}).json() == []
