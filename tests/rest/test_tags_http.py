"""Tags and tag definitions over HTTP: every endpoint, with Kill Bill's JSON (TagJson, TagDefinitionJson,
AuditLogJson), status codes, Location and pagination headers, and error bodies."""

from __future__ import annotations

import pytest

from tests.conftest import KB, id_from_location
from tests.rest.tagged import UNKNOWN, Objs, tagged_objects

TAG_KEYS = {"tagId", "objectType", "objectId", "tagDefinitionId", "tagDefinitionName", "auditLogs"}
DEFINITION_KEYS = {"id", "isControlTag", "name", "description", "applicableObjectTypes", "auditLogs"}
AUDIT_KEYS = {"changeType", "changeDate", "objectType", "objectId", "changedBy", "reasonCode", "comments",
              "userToken", "history"}
AUTO_INVOICING_OFF = "00000000-0000-0000-0000-000000000002"
WRITTEN_OFF = "00000000-0000-0000-0000-000000000004"
TEST = "00000000-0000-0000-0000-000000000006"
PARTNER = "00000000-0000-0000-0000-000000000007"
PARK = "00000000-0000-0001-0000-000000000001"


@pytest.fixture()
def objs(kb: KB) -> Objs:
    return tagged_objects(kb)


def _error(r: object) -> tuple[int, int | None, str]:
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == {"className", "code", "message", "causeClassName", "causeMessage", "stackTrace"}
    return r.status_code, body["code"], body["message"]  # type: ignore[attr-defined]


def test_tag_definitions_list_create_get_delete(kb: KB) -> None:
    listed = kb.get("/1.0/kb/tagDefinitions")
    assert listed.status_code == 200
    built_ins = listed.json()
    assert [d["name"] for d in built_ins][:2] == ["__PARK__", "AUTO_PAY_OFF"] and len(built_ins) == 10
    assert all(set(d) == DEFINITION_KEYS for d in built_ins)
    assert built_ins[4] == {"id": WRITTEN_OFF, "isControlTag": True, "name": "WRITTEN_OFF",
                            "description": "Indicates that an invoice is written off. No billing or payment effect.",
                            "applicableObjectTypes": ["INVOICE"], "auditLogs": []}
    r = kb.post("/1.0/kb/tagDefinitions", json={"name": "vip", "description": "Very important",
                                                "applicableObjectTypes": ["ACCOUNT", "BUNDLE"], "isControlTag": True},
                headers={"X-Killbill-Reason": "crm", "X-Killbill-Comment": "new segment"})
    assert r.status_code == 201 and r.content == b""
    vip = id_from_location(r)
    assert r.headers["location"] == f"{kb.http.base_url}/1.0/kb/tagDefinitions/{vip}"
    got = kb.get(f"/1.0/kb/tagDefinitions/{vip}", params={"audit": "FULL"}).json()
    assert {k: got[k] for k in ("id", "isControlTag", "name", "description", "applicableObjectTypes")} == {
        "id": vip, "isControlTag": False, "name": "vip", "description": "Very important",
        "applicableObjectTypes": ["ACCOUNT", "BUNDLE"]}
    [audit] = got["auditLogs"]
    assert set(audit) == AUDIT_KEYS
    assert (audit["changeType"], audit["objectType"], audit["objectId"], audit["changedBy"], audit["reasonCode"],
            audit["comments"], audit["history"]) == ("INSERT", "TAG_DEFINITION", vip, "tests", "crm", "new segment",
                                                     None)
    assert kb.get("/1.0/kb/tagDefinitions").json()[0]["id"] == vip
    assert kb.get(f"/1.0/kb/tagDefinitions/{TEST}").json()["name"] == "TEST"
    assert kb.delete(f"/1.0/kb/tagDefinitions/{vip}").status_code == 204
    assert _error(kb.get(f"/1.0/kb/tagDefinitions/{vip}")) == (404, 3902, f"The tag definition {vip} does not exist")
    history = kb.get(f"/1.0/kb/tagDefinitions/{vip}/auditLogsWithHistory")
    assert history.status_code == 200
    assert [(a["changeType"], a["history"]["isActive"], a["history"]["name"]) for a in history.json()] == [
        ("INSERT", True, "vip"), ("DELETE", False, "vip")]
    assert _error(kb.get(f"/1.0/kb/tagDefinitions/{UNKNOWN}/auditLogsWithHistory"))[:2] == (404, None)


@pytest.mark.parametrize(("body", "status", "code", "message"), [
    (None, 400, None, "TagDefinitionJson body should be specified"),
    ({"description": "d", "applicableObjectTypes": ["ACCOUNT"]}, 400, None, "TagDefinition name needs to be set"),
    ({"name": "n", "applicableObjectTypes": ["ACCOUNT"]}, 400, None, "TagDefinition description needs to be set"),
    ({"name": "n", "description": "d"}, 400, None, "Applicable object types must be set"),
    ({"name": "Shout", "description": "d", "applicableObjectTypes": ["ACCOUNT"]}, 400, 3904,
     "The tag definition name must be in lowercase Shout"),
])
def test_tag_definition_creation_errors(kb: KB, body: dict | None, status: int, code: int | None,
                                        message: str) -> None:
    r = kb.post("/1.0/kb/tagDefinitions", json=body) if body is not None else kb.post("/1.0/kb/tagDefinitions")
    assert _error(r) == (status, code, message)


def test_tag_definition_conflicts_unknown_types_and_deletion_errors(kb: KB, objs: Objs) -> None:
    body = {"name": "dup", "description": "d", "applicableObjectTypes": ["ACCOUNT"]}
    dup = id_from_location(kb.post("/1.0/kb/tagDefinitions", json=body))
    assert _error(kb.post("/1.0/kb/tagDefinitions", json=body)) == (409, 3901, "The tag definition dup already exists ")
    bad = kb.post("/1.0/kb/tagDefinitions", json={**body, "name": "other", "applicableObjectTypes": ["NOPE"]})
    assert bad.status_code == 400 and "applicableObjectTypes" in bad.json()["message"]
    no_creator = kb.post("/1.0/kb/tagDefinitions", json={**body, "name": "anon"},
                         headers={"X-Killbill-CreatedBy": ""})
    assert no_creator.status_code == 400
    assert _error(kb.delete(f"/1.0/kb/tagDefinitions/{TEST}")) == (404, 3902, f"The tag definition {TEST} does not "
                                                                               "exist")
    assert kb.post(f"/1.0/kb/accounts/{objs.account}/tags", json=[dup]).status_code == 201
    assert _error(kb.delete(f"/1.0/kb/tagDefinitions/{dup}")) == (400, 3903, f"The tag definition {dup} is currently "
                                                                             "in use")


def test_account_tags_create_get_delete(kb: KB, objs: Objs) -> None:
    r = kb.post(f"/1.0/kb/accounts/{objs.account}/tags", json=[TEST, PARTNER],
                headers={"X-Killbill-Reason": "why"})
    assert r.status_code == 201 and r.content == b""
    assert r.headers["location"] == f"{kb.http.base_url}/1.0/kb/accounts/{objs.account}/tags"
    tags = kb.get(f"/1.0/kb/accounts/{objs.account}/tags").json()
    assert all(set(t) == TAG_KEYS for t in tags)
    assert [(t["objectType"], t["objectId"], t["tagDefinitionId"], t["tagDefinitionName"], t["auditLogs"])
            for t in tags] == [("ACCOUNT", objs.account, TEST, "TEST", []), ("ACCOUNT", objs.account, PARTNER,
                                                                              "PARTNER", [])]
    audited = kb.get(f"/1.0/kb/accounts/{objs.account}/tags", params={"audit": "full"}).json()
    assert [(a["changeType"], a["objectType"], a["objectId"], a["reasonCode"]) for a in audited[0]["auditLogs"]] == [
        ("INSERT", "TAG", tags[0]["tagId"], "why")]
    assert kb.post(f"/1.0/kb/accounts/{objs.account}/tags", json=[TEST]).status_code == 201  # already there: kept
    assert len(kb.get(f"/1.0/kb/accounts/{objs.account}/tags").json()) == 2
    r = kb.delete(f"/1.0/kb/accounts/{objs.account}/tags", params=[("tagDef", TEST), ("tagDef", PARTNER)])
    assert r.status_code == 204 and r.content == b""
    assert kb.get(f"/1.0/kb/accounts/{objs.account}/tags").json() == []
    deleted = kb.get(f"/1.0/kb/accounts/{objs.account}/tags", params={"includedDeleted": "true"}).json()
    assert [t["tagDefinitionName"] for t in deleted] == ["TEST", "PARTNER"]
    assert _error(kb.delete(f"/1.0/kb/accounts/{objs.account}/tags", params={"tagDef": TEST})) == (
        404, 3950, "The tag does not exist (name: TEST)")
    history = kb.get(f"/1.0/kb/tags/{tags[0]['tagId']}/auditLogsWithHistory").json()
    assert [(a["changeType"], a["history"]["isActive"], a["history"]["objectId"]) for a in history] == [
        ("INSERT", True, objs.account), ("DELETE", False, objs.account)]
    assert _error(kb.get(f"/1.0/kb/tags/{UNKNOWN}/auditLogsWithHistory")) == (
        404, None, f"Object id={UNKNOWN} type=TAG doesn't exist!")


def test_tag_errors_over_http(kb: KB, objs: Objs) -> None:
    path = f"/1.0/kb/accounts/{objs.account}/tags"
    assert _error(kb.post(path, json=[PARK])) == (
        400, 3953, f"Cannot add the system tag {PARK} (reserved to Kill Bill internal system)")
    r = kb.post(path, json=[WRITTEN_OFF])
    assert _error(r) == (400, None, "Invalid control tag 'WRITTEN_OFF' for object type 'ACCOUNT'")
    assert r.json()["className"] == "java.lang.IllegalStateException"
    assert _error(kb.post(path, json=[UNKNOWN])) == (400, 3902, f"The tag definition {UNKNOWN} does not exist")
    assert kb.post(path, json={"not": "a list"}).status_code == 400
    assert kb.post(path, json=["not-a-uuid"]).status_code == 400
    missing = kb.post(f"/1.0/kb/accounts/{UNKNOWN}/tags", json=[TEST])
    assert _error(missing) == (404, None, f"Object id={UNKNOWN} type=ACCOUNT doesn't exist!")
    assert missing.json()["className"].endswith("InternalCallContextFactory$ObjectDoesNotExist")
    assert kb.get(path).json() == []  # nothing was written by the failed calls
    assert kb.get(f"/1.0/kb/accounts/{UNKNOWN}/tags").json() == []  # Kill Bill does not look the account up here
    assert kb.delete(path).status_code == 204  # no tagDef: nothing to do


def test_tags_of_bundles_subscriptions_invoices_and_items(kb: KB, objs: Objs) -> None:
    mine = id_from_location(kb.post("/1.0/kb/tagDefinitions", json={"name": "mark", "description": "m",
                                                                    "applicableObjectTypes": ["BUNDLE"]}))
    for kind, resource, object_id, definition in (("BUNDLE", "bundles", objs.bundle, mine),
                                                  ("SUBSCRIPTION", "subscriptions", objs.subscription, mine),
                                                  ("INVOICE", "invoices", objs.invoice, WRITTEN_OFF),
                                                  ("INVOICE_ITEM", "invoiceItems", objs.item, mine)):
        path = f"/1.0/kb/{resource}/{object_id}/tags"
        r = kb.post(path, json=[definition])
        assert r.status_code == 201 and r.headers["location"] == f"{kb.http.base_url}{path}"
        params = {"accountId": objs.account} if resource == "invoiceItems" else {}
        [tag] = kb.get(path, params={**params, "audit": "MINIMAL"}).json()
        assert (tag["objectType"], tag["objectId"], tag["tagDefinitionId"]) == (kind, object_id, definition)
        assert [a["changeType"] for a in tag["auditLogs"]] == ["INSERT"]
        assert kb.delete(path, params={"tagDef": definition}).status_code == 204
        assert kb.get(path, params=params).json() == []
    assert _error(kb.get(f"/1.0/kb/bundles/{UNKNOWN}/tags"))[0] == 404
    assert _error(kb.get(f"/1.0/kb/subscriptions/{UNKNOWN}/tags"))[0] == 404
    assert kb.get(f"/1.0/kb/invoices/{UNKNOWN}/tags").json() == []
    assert _error(kb.get(f"/1.0/kb/invoices/{UNKNOWN}/tags", params={"audit": "FULL"}))[0] == 404
    assert _error(kb.get(f"/1.0/kb/invoiceItems/{objs.item}/tags")) == (
        400, None, "accountId: query parameter needs to be set")
    assert _error(kb.get(f"/1.0/kb/invoiceItems/{objs.item}/tags", params={"accountId": UNKNOWN}))[0] == 404
    assert _error(kb.post(f"/1.0/kb/invoices/{objs.invoice}/tags", json=[AUTO_INVOICING_OFF])) == (
        400, None, "Invalid control tag 'AUTO_INVOICING_OFF' for object type 'INVOICE'")


def test_all_tags_of_an_account(kb: KB, objs: Objs) -> None:
    kb.post(f"/1.0/kb/accounts/{objs.account}/tags", json=[TEST]).raise_for_status()
    kb.post(f"/1.0/kb/invoices/{objs.invoice}/tags", json=[WRITTEN_OFF]).raise_for_status()
    all_tags = kb.get(f"/1.0/kb/accounts/{objs.account}/allTags")
    assert all_tags.status_code == 200
    assert [(t["objectType"], t["tagDefinitionName"]) for t in all_tags.json()] == [("ACCOUNT", "TEST"),
                                                                                    ("INVOICE", "WRITTEN_OFF")]
    invoices = kb.get(f"/1.0/kb/accounts/{objs.account}/allTags", params={"objectType": "INVOICE"}).json()
    assert [t["objectId"] for t in invoices] == [objs.invoice]
    assert kb.get(f"/1.0/kb/accounts/{objs.account}/allTags", params={"objectType": "NOPE"}).status_code == 400
    assert _error(kb.get(f"/1.0/kb/accounts/{UNKNOWN}/allTags"))[0] == 404


def test_tag_pages_and_searches(kb: KB, objs: Objs) -> None:
    kb.post(f"/1.0/kb/accounts/{objs.account}/tags", json=[TEST, AUTO_INVOICING_OFF]).raise_for_status()
    kb.post(f"/1.0/kb/invoices/{objs.invoice}/tags", json=[WRITTEN_OFF]).raise_for_status()
    first = kb.get("/1.0/kb/tags/pagination", params={"limit": 2})
    assert first.status_code == 200 and [t["tagDefinitionName"] for t in first.json()] == ["TEST",
                                                                                          "AUTO_INVOICING_OFF"]
    h = first.headers
    assert (h["x-killbill-pagination-currentoffset"], h["x-killbill-pagination-nextoffset"],
            h["x-killbill-pagination-totalnbrecords"], h["x-killbill-pagination-maxnbrecords"]) == ("0", "2", "3", "3")
    assert h["x-killbill-pagination-nextpageuri"] == "/1.0/kb/tags/pagination?offset=2&limit=2&audit=NONE"
    last = kb.get("/1.0/kb/tags/pagination", params={"offset": 2, "limit": 2, "audit": "FULL"})
    assert [t["tagDefinitionName"] for t in last.json()] == ["WRITTEN_OFF"]
    assert last.json()[0]["auditLogs"][0]["changeType"] == "INSERT"
    assert "x-killbill-pagination-nextoffset" not in last.headers
    found = kb.get("/1.0/kb/tags/search/Suspends invoicing")  # a description, URL-encoded by the client
    assert [t["tagDefinitionName"] for t in found.json()] == ["AUTO_INVOICING_OFF"]
    assert (found.headers["x-killbill-pagination-totalnbrecords"], found.headers["x-killbill-pagination-maxnbrecords"]
            ) == ("1", "3")
    assert [t["objectId"] for t in kb.get("/1.0/kb/tags/search/INVOICE").json()] == [objs.invoice]
    assert kb.get("/1.0/kb/tags/search/nothing-like-this").json() == []
    assert kb.get("/1.0/kb/tags/pagination", params={"offset": -1}).status_code == 400
    # a key with non-ASCII characters travels percent-encoded in the next page's URI
    accent = id_from_location(kb.post("/1.0/kb/tagDefinitions", json={"name": "accent", "description": "Clé client",
                                                                      "applicableObjectTypes": ["ACCOUNT"]}))
    kb.post(f"/1.0/kb/accounts/{objs.account}/tags", json=[accent]).raise_for_status()
    kb.post(f"/1.0/kb/bundles/{objs.bundle}/tags", json=[accent]).raise_for_status()
    paged = kb.get("/1.0/kb/tags/search/é", params={"limit": 1})
    assert paged.status_code == 200 and [t["objectId"] for t in paged.json()] == [objs.account]
    assert paged.headers["x-killbill-pagination-nextpageuri"] == (
        "/1.0/kb/tags/search/%C3%A9?offset=1&limit=1&audit=NONE")
    kb.post(f"/1.0/kb/accounts/{objs.account}/tags", json=[PARTNER]).raise_for_status()
    over = kb.get("/1.0/kb/tags/search/ACCOUNT", params={"limit": 1})
    assert over.headers["x-killbill-pagination-nextpageuri"] == (
        "/1.0/kb/tags/search/ACCOUNT?offset=1&limit=1&audit=NONE")


def test_ids_in_paths_are_uuids(kb: KB, objs: Objs) -> None:
    for path in ("/1.0/kb/accounts/not-an-id/tags", "/1.0/kb/tagDefinitions/x", "/1.0/kb/tags/x/auditLogsWithHistory",
                 "/1.0/kb/accounts/x/allTags"):
        r = kb.get(path)
        assert (r.status_code, r.content) == (404, b""), path
    assert kb.post("/1.0/kb/bundles/%F0%91%A0%AF/tags", json=[]).status_code == 404
    upper = objs.account.upper()  # Kill Bill parses ids as UUIDs: case does not matter
    r = kb.post(f"/1.0/kb/accounts/{upper}/tags", json=[TEST])
    assert r.status_code == 201 and r.headers["location"].endswith(f"/accounts/{objs.account}/tags")
    assert [t["objectId"] for t in kb.get(f"/1.0/kb/accounts/{upper}/tags").json()] == [objs.account]
