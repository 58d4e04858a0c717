"""Account emails, children, child credit transfer and CBA rebalancing over HTTP (Kill Bill's AccountResource:
status codes, Location headers, AccountEmailJson, AccountJson and error JSON)."""

from __future__ import annotations

from billow.app import Billow
from billow.core.context import CallContext
from tests.conftest import KB, id_from_location

UNKNOWN = "00000000-0000-0000-0000-000000000000"


def _account(kb: KB, **body: object) -> str:
    r = kb.post("/1.0/kb/accounts", json={"currency": "USD", **body})
    assert r.status_code == 201, r.text
    return id_from_location(r)


def test_emails(kb: KB) -> None:
    account = _account(kb, name="Mail")
    r = kb.post(f"/1.0/kb/accounts/{account}/emails", json={"accountId": account, "email": "a@example.com"})
    assert r.status_code == 201 and r.content == b""
    assert r.headers["location"].endswith(f"/1.0/kb/accounts/{account}/emails")
    # posting it again adds nothing; the path's account wins over the body's
    assert kb.post(f"/1.0/kb/accounts/{account}/emails", json={"email": "a@example.com"}).status_code == 201
    assert kb.post(f"/1.0/kb/accounts/{account}/emails",
                   json={"accountId": UNKNOWN, "email": "b+tag@example.com"}).status_code == 201
    listed = kb.get(f"/1.0/kb/accounts/{account}/emails")
    assert listed.status_code == 200
    assert listed.json() == [{"accountId": account, "email": "a@example.com", "auditLogs": []},
                             {"accountId": account, "email": "b+tag@example.com", "auditLogs": []}]
    assert kb.delete(f"/1.0/kb/accounts/{account}/emails/b+tag@example.com").status_code == 204
    assert kb.delete(f"/1.0/kb/accounts/{account}/emails/nobody@example.com").status_code == 204
    assert [e["email"] for e in kb.get(f"/1.0/kb/accounts/{account}/emails").json()] == ["a@example.com"]
    assert kb.get(f"/1.0/kb/accounts/{UNKNOWN}/emails").json() == []


def _email_id(billow: Billow, kb: KB, account: str, email: str) -> str:
    """An email row's id (AccountEmailJson shows none; Kill Bill's clients find it in the account's audit logs)."""
    tenant = billow.tenants.get_by_api_key(kb.api_key)
    ctx = CallContext(user_name="tests").for_tenant(tenant.record_id, tenant.id)
    return next(e.id for e in billow.accounts.emails(ctx, account) if e.email == email)


def test_email_audit_logs_with_history(kb: KB, billow: Billow) -> None:
    account = _account(kb, name="Mail")
    kb.post(f"/1.0/kb/accounts/{account}/emails", json={"email": "gone@example.com"}).raise_for_status()
    email_id = _email_id(billow, kb, account, "gone@example.com")
    kb.delete(f"/1.0/kb/accounts/{account}/emails/gone@example.com").raise_for_status()
    r = kb.get(f"/1.0/kb/accounts/{account}/emails/{email_id}/auditLogsWithHistory")
    assert r.status_code == 200
    assert [(e["changeType"], e["objectType"], e["objectId"], e["changedBy"], e["history"]["isActive"],
             e["history"]["email"]) for e in r.json()] == [
        ("INSERT", "ACCOUNT_EMAIL", email_id, "tests", True, "gone@example.com"),
        ("DELETE", "ACCOUNT_EMAIL", email_id, "tests", False, "gone@example.com")]
    assert kb.get(f"/1.0/kb/accounts/{account}/emails/{UNKNOWN}/auditLogsWithHistory").json() == []


def test_email_refusals(kb: KB) -> None:
    account = _account(kb, name="Mail")
    for body in (None, {}, {"email": ""}, {"email": "x" * 129}):
        r = kb.post(f"/1.0/kb/accounts/{account}/emails", json=body)
        assert r.status_code == 400, body
        assert r.json()["className"] == "java.lang.IllegalArgumentException"
    r = kb.post(f"/1.0/kb/accounts/{UNKNOWN}/emails", json={"email": "a@example.com"})
    assert r.status_code == 404 and r.json()["code"] == 3002
    assert kb.get(f"/1.0/kb/accounts/{account}/emails").json() == []


def test_children(kb: KB) -> None:
    parent = _account(kb, name="Parent")
    child = _account(kb, name="Child", parentAccountId=parent, isPaymentDelegatedToParent=True)
    other = _account(kb, name="Other")
    assert kb.put(f"/1.0/kb/accounts/{other}", json={"parentAccountId": parent}).status_code == 204
    r = kb.get(f"/1.0/kb/accounts/{parent}/children")
    assert r.status_code == 200
    assert [(a["accountId"], a["parentAccountId"], a["isPaymentDelegatedToParent"], a["accountBalance"])
            for a in r.json()] == [(child, parent, True, None), (other, parent, False, None)]
    with_cba = kb.get(f"/1.0/kb/accounts/{parent}/children",
                      params={"accountWithBalanceAndCBA": "true", "audit": "MINIMAL"}).json()
    assert [(a["accountBalance"], a["accountCBA"]) for a in with_cba] == [(0, 0), (0, 0)]
    assert [[e["changeType"] for e in a["auditLogs"]] for a in with_cba] == [["INSERT"], ["INSERT"]]
    assert kb.get(f"/1.0/kb/accounts/{child}/children").json() == []
    assert kb.get(f"/1.0/kb/accounts/{UNKNOWN}/children").json() == []
    orphan = kb.post("/1.0/kb/accounts", json={"name": "Orphan", "parentAccountId": UNKNOWN})
    assert orphan.status_code == 404 and orphan.json()["code"] == 3002
    assert orphan.json()["message"] == f"Account does not exist for id {UNKNOWN}"


def test_transfer_credit_and_rebalancing(kb: KB) -> None:
    parent = _account(kb, name="Parent")
    child = _account(kb, name="Child", parentAccountId=parent)
    lone = _account(kb, name="Lone")
    no_parent = kb.put(f"/1.0/kb/accounts/{lone}/transferCredit")
    assert no_parent.status_code == 400
    assert (no_parent.json()["code"], no_parent.json()["className"]) == (
        3009, "org.killbill.billing.invoice.api.InvoiceApiException")
    no_credit = kb.put(f"/1.0/kb/accounts/{child}/transferCredit")
    assert no_credit.status_code == 400 and no_credit.json()["code"] == 4027
    assert kb.put(f"/1.0/kb/accounts/{UNKNOWN}/transferCredit").status_code == 404
    kb.post("/1.0/kb/credits", json=[{"accountId": child, "amount": 12.5}],
            params={"autoCommit": "true"}).raise_for_status()
    r = kb.put(f"/1.0/kb/accounts/{child}/transferCredit")
    assert r.status_code == 204 and r.content == b""
    balances = {a: kb.get(f"/1.0/kb/accounts/{a}", params={"accountWithBalanceAndCBA": "true"}).json()
                for a in (child, parent)}
    assert (balances[child]["accountBalance"], balances[child]["accountCBA"]) == (0, 0)
    assert (balances[parent]["accountBalance"], balances[parent]["accountCBA"]) == (-12.5, 12.5)
    [received] = kb.get(f"/1.0/kb/accounts/{parent}/invoices",
                             params={"includeInvoiceComponents": "true"}).json()
    assert sorted((i["itemType"], i["amount"]) for i in received["items"]) == [("CBA_ADJ", 12.5),
                                                                              ("CREDIT_ADJ", -12.5)]
    # rebalancing: nothing unpaid, nothing to do
    assert kb.put(f"/1.0/kb/accounts/{parent}/cbaRebalancing").status_code == 204
    assert len(kb.get(f"/1.0/kb/accounts/{parent}/invoices").json()) == 1
    assert kb.put(f"/1.0/kb/accounts/{UNKNOWN}/cbaRebalancing").status_code == 404
