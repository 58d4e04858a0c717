"""Audit over HTTP: `auditLogsWithHistory` on every object Kill Bill offers it for (outside payments), and the
`audit=NONE|MINIMAL|FULL` query parameter on every GET kbswagger gives it to.

The operations are read from Kill Bill's own API contract (kbswagger.yaml, from the `killbill` npm package, installed
into the compat tests' cache on first use), so an operation added to Billow later is checked without touching this
file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.compat.test_official_client import load_kbswagger
from tests.conftest import KB, ServerThread, id_from_location
from tests.rest.tagged import UNKNOWN, Objs, tagged_objects

AUDIT_LOG_KEYS = {"changeType", "changeDate", "objectType", "objectId", "changedBy", "reasonCode", "comments",
                  "userToken", "history"}
# operations of the payment service, which Billow does not have yet
PAYMENT_PATHS = ("/1.0/kb/payment", "/1.0/kb/invoicePayments", "/1.0/kb/paymentMethods",
                 "/1.0/kb/paymentTransactions")
PAYMENT_OPERATIONS = {"getInvoicePayments", "getPaymentsForAccount", "getPaymentMethodsForAccount",
                      "getPaymentsForInvoice"}


def kb_operations(predicate: Any) -> list[tuple[str, str]]:
    """(path, operationId) of the GETs kbswagger lists that match, outside payments."""
    out = []
    for path, item in load_kbswagger()["paths"].items():
        op = item.get("get")
        if op is None or path.startswith(PAYMENT_PATHS) or op["operationId"] in PAYMENT_OPERATIONS:
            continue
        if predicate(path, op):
            out.append((path, op["operationId"]))
    return out


@pytest.fixture()
def other_kb(server: ServerThread) -> Iterator[KB]:
    import uuid

    key = f"k-{uuid.uuid4().hex[:12]}"
    httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"), headers={"X-Killbill-CreatedBy": "t"},
               json={"apiKey": key, "apiSecret": "s"}).raise_for_status()
    client = KB(server.base_url, key, "s")
    yield client
    client.http.close()


class World:
    """One of each audited object, each changed at least once, and the ids kbswagger's paths name."""

    def __init__(self, kb: KB) -> None:
        self.kb = kb
        o: Objs = tagged_objects(kb)
        self.o = o
        kb.post(f"/1.0/kb/accounts/{o.account}/emails", json={"accountId": o.account, "email": "a@b.c"}
                ).raise_for_status()
        made = kb.post("/1.0/kb/tagDefinitions", json={"name": "audited", "description": "d",
                                                       "applicableObjectTypes": ["ACCOUNT", "BUNDLE", "SUBSCRIPTION",
                                                                                 "INVOICE", "INVOICE_ITEM"]})
        assert made.status_code == 201, made.text
        tag_def = id_from_location(made)
        kb.put(f"/1.0/kb/accounts/{o.account}", json={"name": "Renamed"}).raise_for_status()
        for kind, oid in (("accounts", o.account), ("bundles", o.bundle), ("subscriptions", o.subscription),
                          ("invoices", o.invoice), ("invoiceItems", o.item)):
            kb.post(f"/1.0/kb/{kind}/{oid}/tags", json=[tag_def]).raise_for_status()
            kb.post(f"/1.0/kb/{kind}/{oid}/customFields", json=[{"name": "color", "value": "blue"}]
                    ).raise_for_status()
        kb.post(f"/1.0/kb/accounts/{o.account}/block", json={"stateName": "STATE1", "service": "svc",
                                                              "isBlockChange": False, "isBlockEntitlement": False,
                                                              "isBlockBilling": False}).raise_for_status()
        child = kb.post("/1.0/kb/accounts", json={"name": "Child", "currency": "USD", "parentAccountId": o.account,
                                                  "isPaymentDelegatedToParent": False})
        assert child.status_code == 201, child.text
        group = kb.post("/1.0/kb/invoices/group", params={"accountId": o.account, "targetDate": "2024-02-20"})
        assert group.status_code == 201, group.text
        kb.get("/1.0/kb/test/queues", params={"timeoutSec": 10})
        account = kb.get(f"/1.0/kb/accounts/{o.account}").json()
        invoice = kb.get(f"/1.0/kb/invoices/{o.invoice}").json()
        subscription = kb.get(f"/1.0/kb/subscriptions/{o.subscription}").json()
        self.external_key = account["externalKey"]
        self.params = {
            "accountId": o.account, "bundleId": o.bundle, "subscriptionId": o.subscription, "invoiceId": o.invoice,
            "invoiceItemId": o.item, "itemId": o.item,
            "groupId": group.headers["location"].split("/invoices/")[1].split("/")[0],
            "invoiceNumber": invoice["invoiceNumber"], "tagDefinitionId": tag_def,
            "eventId": next(e["eventId"] for e in subscription["events"] if e["eventType"] == "START_BILLING"),
            # Kill Bill's BlockingStateJson has no id: its audit logs name it
            "blockingId": next(b["auditLogs"][0]["objectId"] for b in kb.get(
                f"/1.0/kb/accounts/{o.account}/block", params={"audit": "FULL"}).json() if b["stateName"] == "STATE1"),
            "accountEmailId": self._email_id(),
            "tagId": kb.get(f"/1.0/kb/accounts/{o.account}/tags").json()[0]["tagId"],
            "customFieldId": kb.get(f"/1.0/kb/accounts/{o.account}/customFields").json()[0]["customFieldId"],
        }
        # what the paths with a search key or a look-up by key need to find something
        self.search = {"searchAccounts": "Renamed", "searchBundles": o.bundle,
                       "searchCustomFields": "color", "searchInvoices": o.account, "searchTags": "audited"}
        self.query = {"getAccountByKey": {"externalKey": self.external_key},
                      "getBundleByKey": {"externalKey": subscription["bundleExternalKey"]},
                      "getInvoiceItemTags": {"accountId": o.account},
                      "getInvoicesGroup": {"accountId": o.account},
                      "getSubscriptionByKey": {"externalKey": subscription["externalKey"]},
                      "searchCustomFieldsByTypeName": {"objectType": "ACCOUNT", "fieldName": "color"}}

    def _email_id(self) -> str:
        """The email's id: the one in its own audit (the emails' JSON has none, as in Kill Bill)."""
        from sqlalchemy import select

        from billow.account.store import account_emails

        kb_app = self.kb_app
        t = account_emails.table
        with kb_app.db.read_connection() as conn:
            return str(conn.execute(select(t.c.id).where(t.c.email == "a@b.c").order_by(t.c.record_id.desc())
                                    ).first()[0])  # type: ignore[index]

    kb_app: Any = None

    def url(self, path: str, operation: str) -> str:
        out = path
        for name, value in self.params.items():
            out = out.replace("{" + name + "}", str(value))
        if "{searchKey}" in out:
            out = out.replace("{searchKey}", self.search[operation])
        assert "{" not in out, out
        return out


@pytest.fixture()
def world(kb: KB, billow: Any) -> World:
    World.kb_app = billow
    return World(kb)


def _audit_lists(value: Any) -> Iterator[list[Any]]:
    """Every `auditLogs` list in a response body."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "auditLogs" and isinstance(v, list):
                yield v
            else:
                yield from _audit_lists(v)
    elif isinstance(value, list):
        for v in value:
            yield from _audit_lists(v)


# ------------------------------------------------------------------------------------------------ with history
def test_every_audit_logs_with_history_route_of_kill_bill_exists_with_its_json(world: World, other_kb: KB) -> None:
    ops = kb_operations(lambda path, op: path.endswith("/auditLogsWithHistory"))
    assert {op for _, op in ops} == {
        "getAccountAuditLogsWithHistory", "getAccountEmailAuditLogsWithHistory", "getBlockingStateAuditLogsWithHistory",
        "getBundleAuditLogsWithHistory", "getCustomFieldAuditLogsWithHistory", "getInvoiceAuditLogsWithHistory",
        "getInvoiceItemAuditLogsWithHistory", "getSubscriptionAuditLogsWithHistory",
        "getSubscriptionEventAuditLogsWithHistory", "getTagAuditLogsWithHistory",
        "getTagDefinitionAuditLogsWithHistory"}
    kb = world.kb
    for path, operation in ops:
        url = world.url(path, operation)
        r = kb.get(url)
        assert r.status_code == 200, (operation, r.text)
        logs = r.json()
        assert logs, operation
        first = logs[0]
        assert set(first) == AUDIT_LOG_KEYS, operation
        assert first["changeType"] == "INSERT" and first["changedBy"], operation
        assert isinstance(first["history"], dict) and first["history"].get("id") == first["objectId"], operation
        assert first["objectId"] in url, operation
        # another tenant does not see it (an unknown email has no logs in Kill Bill: 200 and an empty list)
        foreign = other_kb.get(url)
        assert foreign.status_code == 404 or (foreign.status_code == 200 and foreign.json() == []), operation


def test_history_shows_each_state_of_a_changed_object(world: World) -> None:
    kb = world.kb
    logs = kb.get(f"/1.0/kb/accounts/{world.o.account}/auditLogsWithHistory").json()
    states = [(e["changeType"], e["history"]["name"]) for e in logs]
    assert states[0] == ("INSERT", "Tagged") and states[-1] == ("UPDATE", "Renamed")
    r = kb.get(f"/1.0/kb/bundles/{world.o.bundle}/auditLogsWithHistory")
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert bundle[0]["objectType"] == "BUNDLE" and bundle[0]["history"]["externalKey"]
    event = kb.get(f"/1.0/kb/subscriptions/events/{world.params['eventId']}/auditLogsWithHistory").json()
    assert event[0]["objectType"] == "SUBSCRIPTION_EVENT"
    block = kb.get(f"/1.0/kb/accounts/block/{world.params['blockingId']}/auditLogsWithHistory").json()
    assert block[0]["objectType"] == "BLOCKING_STATES" and block[0]["history"]["state"] == "STATE1"


@pytest.mark.parametrize("path", ["/1.0/kb/bundles/{id}/auditLogsWithHistory",
                                  "/1.0/kb/subscriptions/events/{id}/auditLogsWithHistory",
                                  "/1.0/kb/accounts/block/{id}/auditLogsWithHistory"])
def test_an_unknown_object_is_a_404(kb: KB, path: str) -> None:
    r = kb.get(path.replace("{id}", UNKNOWN))
    assert r.status_code == 404 and UNKNOWN in r.json()["message"]


# ------------------------------------------------------------------------------------------------ audit=...
def test_every_get_with_an_audit_parameter_accepts_and_applies_it(world: World, server: ServerThread) -> None:
    ops = kb_operations(lambda path, op: any(p.get("name") == "audit" and p.get("in") == "query"
                                             for p in op.get("parameters", [])))
    assert len(ops) >= 40
    ours = httpx.get(f"{server.base_url}/openapi.json").json()
    declared: dict[str, set[str]] = {}
    for item in ours["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and "operationId" in op:
                declared[op["operationId"]] = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
    problems = []
    for path, operation in ops:
        try:
            check_audit_levels(world, declared, path, operation)
        except AssertionError as e:
            problems.append(f"{operation}: {str(e).splitlines()[0]}")
    assert problems == [], "\n".join(problems)


def check_audit_levels(world: World, declared: dict[str, set[str]], path: str, operation: str) -> None:
    kb = world.kb
    assert operation in declared, f"{operation} ({path}) is not served"
    assert "audit" in declared[operation], f"{operation} does not declare audit"
    url, query = world.url(path, operation), world.query.get(operation, {})
    bodies = {}
    for level in ("NONE", "MINIMAL", "FULL"):
        r = kb.get(url, params={**query, "audit": level})
        assert r.status_code == 200, (operation, level, r.text)
        bodies[level] = r.json()
    assert bodies["NONE"], f"{operation}: the fixture made nothing for it to return"
    assert all(logs == [] for logs in _audit_lists(bodies["NONE"])), operation
    full = list(_audit_lists(bodies["FULL"]))
    assert full and any(full), f"{operation}: audit=FULL shows no audit log"
    assert all(e["changeType"] in ("INSERT", "UPDATE", "DELETE") and set(e) == AUDIT_LOG_KEYS
               for logs in full for e in logs), operation
    minimal = list(_audit_lists(bodies["MINIMAL"]))
    assert all(len(logs) <= 1 and all(e["changeType"] == "INSERT" for e in logs) for logs in minimal), operation
    assert any(minimal), operation
    bad = kb.get(url, params={**query, "audit": "EVERYTHING"})
    assert bad.status_code == 400 and "audit" in bad.json()["message"], operation


def test_the_account_used_by_the_audit_checks_changed(world: World) -> None:
    """The MINIMAL check above means something: the account has an UPDATE that MINIMAL leaves out."""
    full = world.kb.get(f"/1.0/kb/accounts/{world.o.account}", params={"audit": "FULL"}).json()["auditLogs"]
    minimal = world.kb.get(f"/1.0/kb/accounts/{world.o.account}", params={"audit": "MINIMAL"}).json()["auditLogs"]
    assert [e["changeType"] for e in full][:2] == ["INSERT", "UPDATE"]
    assert [e["changeType"] for e in minimal] == ["INSERT"]



def test_the_account_timeline_shows_the_audit_of_each_of_its_objects(world: World) -> None:
    timeline = world.kb.get(f"/1.0/kb/accounts/{world.o.account}/timeline", params={"audit": "FULL"}).json()
    assert timeline["account"]["auditLogs"][0]["objectType"] == "ACCOUNT"
    [bundle] = timeline["bundles"]
    assert bundle["auditLogs"][0]["objectType"] == "BUNDLE"
    assert bundle["subscriptions"][0]["auditLogs"][0]["objectType"] == "SUBSCRIPTION"
    assert any(e["auditLogs"] and e["auditLogs"][0]["objectType"] == "SUBSCRIPTION_EVENT"
               for e in bundle["subscriptions"][0]["events"])
    assert all(inv["auditLogs"][0]["objectType"] == "INVOICE" for inv in timeline["invoices"])
    plain = world.kb.get(f"/1.0/kb/accounts/{world.o.account}/timeline").json()
    assert all(logs == [] for logs in _audit_lists(plain))
