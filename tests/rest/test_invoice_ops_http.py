"""Invoice look-ups, groups, migration invoices, CBA deletion and parent invoices over HTTP, with Kill Bill's
status codes, headers and JSON (InvoiceResource, AccountResource.getInvoicesForAccountPaginated)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KB, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text()


@pytest.fixture()
def account(kb: KB) -> str:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-01-15T10:00:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    return id_from_location(kb.post("/1.0/kb/accounts", json={"name": "Ops", "currency": "USD"}))


def _idle(kb: KB) -> None:
    assert kb.get("/1.0/kb/test/queues", params={"timeoutSec": 10}).status_code == 200


def _charge(kb: KB, account: str, amount: float, commit: bool = True) -> dict[str, Any]:
    r = kb.post(f"/1.0/kb/invoices/charges/{account}", params={"autoCommit": str(commit).lower()},
                json=[{"accountId": account, "amount": amount}])
    assert r.status_code == 200, r.text
    return dict(r.json()[0])


def test_pagination_and_search_with_kill_bill_headers(kb: KB, account: str) -> None:
    first, second, third = (_charge(kb, account, a) for a in (10, 20, 30))
    r = kb.get("/1.0/kb/invoices/pagination", params={"offset": 0, "limit": 2})
    assert r.status_code == 200
    page = r.json()
    assert [i["invoiceId"] for i in page] == [first["invoiceId"], second["invoiceId"]]
    assert page[0]["items"] == [] and page[0]["amount"] == 10.0 and page[0]["balance"] == 10.0
    assert (r.headers["X-Killbill-Pagination-CurrentOffset"], r.headers["X-Killbill-Pagination-NextOffset"],
            r.headers["X-Killbill-Pagination-TotalNbRecords"], r.headers["X-Killbill-Pagination-MaxNbRecords"]) == (
        "0", "2", "3", "3")
    assert r.headers["X-Killbill-Pagination-NextPageUri"] == \
        "/1.0/kb/invoices/pagination?offset=2&limit=2&audit=NONE"
    last = kb.get("/1.0/kb/invoices/pagination", params={"offset": 2, "limit": 2})
    assert [i["invoiceId"] for i in last.json()] == [third["invoiceId"]]
    assert "X-Killbill-Pagination-NextOffset" not in last.headers
    number = kb.get(f"/1.0/kb/invoices/{second['invoiceId']}").json()["invoiceNumber"]
    found = kb.get(f"/1.0/kb/invoices/search/{number}")
    assert [i["invoiceId"] for i in found.json()] == [second["invoiceId"]]
    assert found.headers["X-Killbill-Pagination-TotalNbRecords"] == "1"
    assert len(kb.get(f"/1.0/kb/invoices/search/{account}").json()) == 3
    assert len(kb.get("/1.0/kb/invoices/search/usd").json()) == 3
    assert kb.get("/1.0/kb/invoices/search/_q=1&balance[gt]=15").json()[0]["invoiceId"] == second["invoiceId"]
    audited = kb.get("/1.0/kb/invoices/pagination", params={"audit": "MINIMAL", "limit": 1}).json()
    assert audited[0]["auditLogs"][0]["changeType"] == "INSERT"
    assert kb.get("/1.0/kb/invoices/pagination", params={"offset": -1}).status_code == 400
    assert kb.get("/1.0/kb/invoices/pagination", params={"audit": "SOME"}).status_code == 400


def test_account_invoice_pages(kb: KB, account: str) -> None:
    _charge(kb, account, 10)
    draft = _charge(kb, account, 5, commit=False)
    r = kb.get(f"/1.0/kb/accounts/{account}/invoices/pagination", params={"offset": 1, "limit": 1})
    assert r.status_code == 200 and [i["invoiceId"] for i in r.json()] == [draft["invoiceId"]]
    assert r.headers["X-Killbill-Pagination-TotalNbRecords"] == "2"
    assert r.json()[0]["status"] == "DRAFT"
    missing = kb.get(f"/1.0/kb/accounts/{uuid.uuid4()}/invoices/pagination")
    assert missing.status_code == 404 and missing.json()["code"] == 3002


def test_invoice_by_item_id(kb: KB, account: str) -> None:
    charge = _charge(kb, account, 10)
    r = kb.get(f"/1.0/kb/invoices/byItemId/{charge['invoiceItemId']}")
    assert r.status_code == 200 and r.json()["invoiceId"] == charge["invoiceId"]
    assert len(r.json()["items"]) == 1
    missing = kb.get(f"/1.0/kb/invoices/byItemId/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["code"] == 4011


def test_invoice_groups(kb: KB, account: str) -> None:
    kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "silver-monthly"}).raise_for_status()
    _idle(kb)
    nothing = kb.post("/1.0/kb/invoices/group", params={"accountId": account})
    assert nothing.status_code == 404 and nothing.content == b""
    made = kb.post("/1.0/kb/invoices/group", params={"accountId": account, "targetDate": "2024-02-15"})
    assert made.status_code == 201
    location = made.headers["location"]
    assert location.endswith("/group")
    group_id = location.rstrip("/").split("/")[-2]
    r = kb.get(f"/1.0/kb/invoices/{group_id}/group", params={"accountId": account})
    assert r.status_code == 200 and [i["invoiceId"] for i in r.json()] == [group_id]
    assert r.json()[0]["items"][0]["startDate"] == "2024-02-15"
    assert kb.get(f"/1.0/kb/invoices/{uuid.uuid4()}/group", params={"accountId": account}).status_code == 404
    no_account = kb.get(f"/1.0/kb/invoices/{group_id}/group")
    assert no_account.status_code == 400 and "accountId" in no_account.json()["message"]
    assert kb.post("/1.0/kb/invoices/group").status_code == 400


def test_migration_invoice(kb: KB, account: str) -> None:
    r = kb.post(f"/1.0/kb/invoices/migration/{account}", params={"targetDate": "2023-12-31"},
                json=[{"itemType": "EXTERNAL_CHARGE", "amount": 10, "description": "old", "startDate": "2023-12-01"}])
    assert r.status_code == 201, r.text
    inv = kb.get(r.headers["location"]).json()
    assert (inv["status"], inv["balance"], inv["targetDate"], inv["invoiceDate"]) == (
        "COMMITTED", 0, "2023-12-31", "2024-01-15")
    assert inv["items"][0]["amount"] == 10.0 and inv["items"][0]["currency"] == "USD"
    # excluded from the account's invoices unless asked for
    assert kb.get(f"/1.0/kb/accounts/{account}/invoices").json() == []
    assert len(kb.get(f"/1.0/kb/accounts/{account}/invoices", params={"withMigrationInvoices": "true"}).json()) == 1
    bad = kb.post(f"/1.0/kb/invoices/migration/{account}", json=[{"itemType": "TAX", "amount": 1, "currency": "EUR"}])
    assert bad.status_code == 400 and bad.json()["message"].startswith("currency")
    no_type = kb.post(f"/1.0/kb/invoices/migration/{account}", json=[{"amount": 1}])
    assert no_type.status_code == 400 and no_type.json()["message"].startswith("itemType")
    bad_type = kb.post(f"/1.0/kb/invoices/migration/{account}", json=[{"amount": 1, "itemType": "GIFT"}])
    assert bad_type.status_code == 400
    assert kb.post(f"/1.0/kb/invoices/migration/{uuid.uuid4()}",
                   json=[{"itemType": "TAX", "amount": 1}]).status_code == 404


def test_delete_cba(kb: KB, account: str) -> None:
    charge = _charge(kb, account, 20)
    kb.post("/1.0/kb/credits", params={"autoCommit": "true"},
            json=[{"accountId": account, "amount": 10}]).raise_for_status()
    inv = kb.get(f"/1.0/kb/invoices/{charge['invoiceId']}").json()
    [used] = [i for i in inv["items"] if i["itemType"] == "CBA_ADJ"]
    path = f"/1.0/kb/invoices/{inv['invoiceId']}/{used['invoiceItemId']}/cba"
    assert kb.delete(path).status_code == 400  # accountId is required
    wrong = kb.delete(f"/1.0/kb/invoices/{inv['invoiceId']}/{uuid.uuid4()}/cba", params={"accountId": account})
    assert wrong.status_code == 404 and wrong.json()["code"] == 4011
    r = kb.delete(path, params={"accountId": account})
    assert r.status_code == 204 and r.content == b""
    after = kb.get(f"/1.0/kb/invoices/{inv['invoiceId']}").json()
    assert [(i["amount"], i["description"]) for i in after["items"] if i["itemType"] == "CBA_ADJ"] == [
        (0, "Delete used credit")]
    acc = kb.get(f"/1.0/kb/accounts/{account}", params={"accountWithBalanceAndCBA": "true"}).json()
    assert (acc["accountBalance"], acc["accountCBA"]) == (10.0, 10.0)


def test_parent_invoice_json_with_children_items(kb: KB, account: str) -> None:
    child = id_from_location(kb.post("/1.0/kb/accounts", json={
        "name": "Child", "externalKey": f"child-{uuid.uuid4().hex[:8]}", "currency": "USD",
        "parentAccountId": account, "isPaymentDelegatedToParent": True}))
    kb.post("/1.0/kb/subscriptions", json={"accountId": child, "planName": "silver-monthly"}).raise_for_status()
    _idle(kb)
    [parent] = kb.get(f"/1.0/kb/accounts/{account}/invoices", params={"includeInvoiceComponents": "true"}).json()
    assert parent["isParentInvoice"] is True and parent["status"] == "DRAFT" and parent["balance"] == 0
    [summary] = parent["items"]
    assert (summary["itemType"], summary["childAccountId"], summary["amount"], summary["childItems"]) == (
        "PARENT_SUMMARY", child, 20.0, None)
    full = kb.get(f"/1.0/kb/invoices/{parent['invoiceId']}", params={"withChildrenItems": "true"}).json()
    [child_item] = full["items"][0]["childItems"]
    assert (child_item["accountId"], child_item["itemType"], child_item["amount"]) == (child, "RECURRING", 20.0)
    [child_invoice] = kb.get(f"/1.0/kb/accounts/{child}/invoices").json()
    assert (child_invoice["parentInvoiceId"], child_invoice["parentAccountId"], child_invoice["balance"]) == (
        parent["invoiceId"], account, 0)
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-01-16T00:00:00.000Z"}).raise_for_status()
    _idle(kb)
    committed = kb.get(f"/1.0/kb/invoices/{parent['invoiceId']}").json()
    assert (committed["status"], committed["balance"]) == ("COMMITTED", 20.0)
    assert kb.get(f"/1.0/kb/accounts/{child}/invoices").json()[0]["balance"] == 20.0


def test_audit_logs_with_history(kb: KB, account: str) -> None:
    charge = _charge(kb, account, 10)
    r = kb.get(f"/1.0/kb/invoices/{charge['invoiceId']}/auditLogsWithHistory")
    assert r.status_code == 200
    [entry] = r.json()
    assert (entry["changeType"], entry["objectType"], entry["objectId"], entry["changedBy"]) == (
        "INSERT", "INVOICE", charge["invoiceId"], "tests")
    assert entry["history"]["status"] == "COMMITTED"
    [item] = kb.get(f"/1.0/kb/invoiceItems/{charge['invoiceItemId']}/auditLogsWithHistory").json()
    assert (item["objectType"], item["history"]["amount"]) == ("INVOICE_ITEM", 10)
    assert kb.get(f"/1.0/kb/invoices/{uuid.uuid4()}/auditLogsWithHistory").status_code == 404
    missing = kb.get(f"/1.0/kb/invoiceItems/{uuid.uuid4()}/auditLogsWithHistory")
    assert missing.status_code == 404 and missing.json()["code"] == 4011
