"""Invoices, credits, charges, adjustments and dry runs over HTTP with Kill Bill's JSON (0.24 shapes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import KB, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text()
INVOICE_KEYS = {"amount", "currency", "status", "creditAdj", "refundAdj", "invoiceId", "invoiceDate", "targetDate",
                "invoiceNumber", "balance", "accountId", "bundleKeys", "credits", "items", "trackingIds",
                "isParentInvoice", "parentInvoiceId", "parentAccountId", "auditLogs"}
ITEM_KEYS = {"invoiceItemId", "invoiceId", "linkedInvoiceItemId", "accountId", "childAccountId", "bundleId",
             "subscriptionId", "productName", "planName", "phaseName", "usageName", "prettyProductName",
             "prettyPlanName", "prettyPhaseName", "prettyUsageName", "itemType", "description", "startDate",
             "endDate", "amount", "rate", "currency", "quantity", "itemDetails", "catalogEffectiveDate",
             "childItems", "auditLogs"}


@pytest.fixture()
def account(kb: KB) -> str:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-01-15T10:00:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    return id_from_location(kb.post("/1.0/kb/accounts", json={"name": "Inv", "currency": "USD"}))


def _invoices(kb: KB, account: str, **params: object) -> list[dict]:
    kb.get("/1.0/kb/test/queues", params={"timeoutSec": 10})
    r = kb.get(f"/1.0/kb/accounts/{account}/invoices", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _balance(kb: KB, account: str) -> tuple[float, float]:
    a = kb.get(f"/1.0/kb/accounts/{account}", params={"accountWithBalanceAndCBA": "true"}).json()
    return a["accountBalance"], a["accountCBA"]


def test_subscription_invoice_json_and_reads(kb: KB, account: str) -> None:
    kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "silver-monthly"}).raise_for_status()
    invs = _invoices(kb, account)
    assert len(invs) == 1 and set(invs[0]) == INVOICE_KEYS and invs[0]["items"] == []
    inv = invs[0]
    assert (inv["amount"], inv["balance"], inv["status"], inv["invoiceDate"], inv["targetDate"]) == (
        20.0, 20.0, "COMMITTED", "2024-01-15", "2024-01-15")
    assert isinstance(inv["invoiceNumber"], str) and inv["invoiceNumber"].isdigit()
    raw = kb.get(f"/1.0/kb/invoices/{inv['invoiceId']}")
    assert '"amount":20.00' in raw.text and '"startDate":"2024-01-15"' in raw.text
    full = raw.json()
    assert set(full["items"][0]) == ITEM_KEYS
    assert (full["items"][0]["itemType"], full["items"][0]["endDate"], full["items"][0]["rate"]) == (
        "RECURRING", "2024-02-15", 20.0)
    by_number = kb.get(f"/1.0/kb/invoices/byNumber/{inv['invoiceNumber']}").json()
    assert by_number["invoiceId"] == inv["invoiceId"]
    audited = kb.get(f"/1.0/kb/invoices/{inv['invoiceId']}", params={"audit": "FULL"}).json()
    assert audited["auditLogs"][0]["changeType"] == "INSERT"
    assert audited["items"][0]["auditLogs"][0]["objectType"] == "INVOICE_ITEM"
    with_items = _invoices(kb, account, includeInvoiceComponents="true")
    assert len(with_items[0]["items"]) == 1
    assert _balance(kb, account) == (20.0, 0.0)
    assert kb.get(f"/1.0/kb/accounts/{account}/timeline").json()["invoices"][0]["items"] is None


def test_future_invoice_dry_run_and_nothing_to_do(kb: KB, account: str) -> None:
    kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "silver-monthly"}).raise_for_status()
    _invoices(kb, account)
    dry = kb.post("/1.0/kb/invoices/dryRun", params={"accountId": account, "targetDate": "2024-02-20"},
                  json={"dryRunType": "TARGET_DATE"})
    assert dry.status_code == 200
    assert [(i["startDate"], i["amount"]) for i in dry.json()["items"]] == [("2024-02-15", 20.0)]
    assert kb.post("/1.0/kb/invoices/dryRun", params={"accountId": account}).status_code == 204
    upcoming = kb.post("/1.0/kb/invoices/dryRun", params={"accountId": account},
                       json={"dryRunType": "UPCOMING_INVOICE"})
    assert upcoming.status_code == 200 and upcoming.json()["targetDate"] == "2024-02-15"
    assert len(_invoices(kb, account)) == 1
    nothing = kb.post("/1.0/kb/invoices", params={"accountId": account})
    assert nothing.status_code == 404 and nothing.content == b""
    r = kb.post("/1.0/kb/invoices", params={"accountId": account, "targetDate": "2024-02-15"})
    assert r.status_code == 201 and "/1.0/kb/invoices/" in r.headers["location"]
    assert kb.get(r.headers["location"]).json()["targetDate"] == "2024-02-15"
    assert len(_invoices(kb, account)) == 2


def test_credits_charges_adjustments_commit_and_void(kb: KB, account: str) -> None:
    r = kb.post("/1.0/kb/credits", params={"autoCommit": "true"},
                json=[{"accountId": account, "amount": 12.5, "currency": "USD", "description": "goodwill"}])
    assert r.status_code == 200
    credit = r.json()[0]
    # the credit API shows the amount given; the CREDIT_ADJ item on the invoice is negative (Kill Bill)
    assert (credit["itemType"], credit["amount"]) == ("CREDIT_ADJ", 12.5)
    got = kb.get(f"/1.0/kb/credits/{credit['invoiceItemId']}").json()
    assert (got["invoiceItemId"], got["amount"]) == (credit["invoiceItemId"], 12.5)
    on_invoice = kb.get(f"/1.0/kb/invoices/{credit['invoiceId']}").json()["items"]
    assert sorted((i["itemType"], i["amount"]) for i in on_invoice) == [("CBA_ADJ", 12.5), ("CREDIT_ADJ", -12.5)]
    assert _balance(kb, account) == (-12.5, 12.5)
    charge = kb.post(f"/1.0/kb/invoices/charges/{account}",
                     json=[{"accountId": account, "amount": 30, "currency": "USD", "description": "install"}])
    assert charge.status_code == 200
    draft_id = charge.json()[0]["invoiceId"]
    assert kb.get(f"/1.0/kb/invoices/{draft_id}").json()["status"] == "DRAFT"
    tax = kb.post(f"/1.0/kb/invoices/taxes/{account}",
                  json=[{"accountId": account, "amount": 3, "invoiceId": draft_id}])
    assert tax.status_code == 200 and tax.json()[0]["itemType"] == "TAX"
    assert kb.put(f"/1.0/kb/invoices/{draft_id}/commitInvoice").status_code == 204
    inv = kb.get(f"/1.0/kb/invoices/{draft_id}").json()
    assert (inv["status"], inv["amount"], inv["creditAdj"], inv["balance"]) == ("COMMITTED", 33.0, -12.5, 20.5)
    item = next(i for i in inv["items"] if i["itemType"] == "EXTERNAL_CHARGE")
    adj = kb.post(f"/1.0/kb/invoices/{draft_id}", json={"accountId": account, "invoiceItemId": item["invoiceItemId"],
                                                        "amount": 10, "currency": "USD"})
    assert adj.status_code == 201
    assert kb.get(adj.headers["location"]).json()["balance"] == 10.5
    assert _balance(kb, account) == (10.5, 0.0)
    voided = kb.post(f"/1.0/kb/invoices/charges/{account}", params={"autoCommit": "true"},
                     json=[{"accountId": account, "amount": 5}]).json()[0]["invoiceId"]
    assert kb.put(f"/1.0/kb/invoices/{voided}/voidInvoice").status_code == 204
    assert kb.get(f"/1.0/kb/invoices/{voided}").json()["status"] == "VOID"
    assert voided not in [i["invoiceId"] for i in _invoices(kb, account)]
    assert voided in [i["invoiceId"] for i in _invoices(kb, account, includeVoidedInvoices="true")]
    assert _balance(kb, account) == (10.5, 0.0)


def test_refused_inputs_change_nothing(kb: KB, account: str) -> None:
    kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "silver-monthly"}).raise_for_status()
    before = _invoices(kb, account, includeInvoiceComponents="true", includeVoidedInvoices="true")
    inv = before[0]
    item = inv["items"][0]
    unknown = "00000000-0000-0000-0000-000000000000"
    refused = [
        kb.post("/1.0/kb/credits", json=[{"accountId": account, "amount": -5}]),
        kb.post("/1.0/kb/credits", json=[{"accountId": account, "amount": 0}]),
        kb.post("/1.0/kb/credits", json=[{"amount": 5}]),
        kb.post("/1.0/kb/credits", json=[{"accountId": unknown, "amount": 5}]),
        kb.post("/1.0/kb/credits", json=[{"accountId": account, "amount": 5, "currency": "EUR"}]),
        kb.post(f"/1.0/kb/invoices/charges/{account}", json=[{"accountId": account, "amount": -1}]),
        kb.post(f"/1.0/kb/invoices/charges/{account}", json=[{"accountId": account, "amount": 1,
                                                             "invoiceId": inv["invoiceId"]}]),
        kb.post(f"/1.0/kb/invoices/{inv['invoiceId']}", json={"invoiceItemId": item["invoiceItemId"], "amount": 21}),
        kb.post(f"/1.0/kb/invoices/{inv['invoiceId']}", json={"invoiceItemId": unknown, "amount": 1}),
        kb.post("/1.0/kb/invoices", params={"accountId": account, "targetDate": "2024-02-15T00:00:00Z"}),
        kb.post("/1.0/kb/invoices", params={"accountId": account, "targetDate": "2031-01-01"}),
        kb.post("/1.0/kb/invoices"),
        kb.post("/1.0/kb/invoices/dryRun", params={"accountId": account}, json={"dryRunType": "SOMETIMES"}),
        kb.get(f"/1.0/kb/invoices/{unknown}"),
        kb.get("/1.0/kb/invoices/byNumber/999999999"),
        kb.get("/1.0/kb/invoices/byNumber/abc"),
        kb.get(f"/1.0/kb/credits/{unknown}"),
        kb.put(f"/1.0/kb/invoices/{unknown}/voidInvoice"),
        kb.get(f"/1.0/kb/accounts/{account}/invoices", params={"startDate": "yesterday"}),
    ]
    assert [r.status_code for r in refused if not 400 <= r.status_code < 500] == []
    assert refused[13].json()["code"] == 4006
    after = _invoices(kb, account, includeInvoiceComponents="true", includeVoidedInvoices="true")
    assert after == before
    assert _balance(kb, account) == (20.0, 0.0)
