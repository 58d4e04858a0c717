"""Custom fields over HTTP: every endpoint, with Kill Bill's CustomFieldJson, status codes, Location and
pagination headers, and error bodies."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import KB
from tests.rest.tagged import UNKNOWN, Objs, tagged_objects

FIELD_KEYS = {"customFieldId", "objectId", "objectType", "name", "value", "auditLogs"}


@pytest.fixture()
def objs(kb: KB) -> Objs:
    return tagged_objects(kb)


def _error(r: object) -> tuple[int, int | None, str]:
    body = r.json()  # type: ignore[attr-defined]
    return r.status_code, body["code"], body["message"]  # type: ignore[attr-defined]


def test_account_custom_fields_create_get_modify_delete(kb: KB, objs: Objs) -> None:
    path = f"/1.0/kb/accounts/{objs.account}/customFields"
    r = kb.post(path, json=[{"name": "crm", "value": "1"}, {"name": "segment", "value": "smb"},
                            {"name": "crm", "value": "2", "objectType": "BUNDLE", "objectId": UNKNOWN}])
    assert r.status_code == 201 and r.content == b""
    assert r.headers["location"] == f"{kb.http.base_url}{path}"
    fields = kb.get(path).json()
    assert all(set(f) == FIELD_KEYS for f in fields)
    # objectId and objectType come from the path, whatever the body says
    assert [(f["objectType"], f["objectId"], f["name"], f["value"], f["auditLogs"]) for f in fields] == [
        ("ACCOUNT", objs.account, "crm", "1", []), ("ACCOUNT", objs.account, "segment", "smb", []),
        ("ACCOUNT", objs.account, "crm", "2", [])]
    audited = kb.get(path, params={"audit": "FULL"}).json()
    assert [(a["changeType"], a["objectType"], a["objectId"]) for a in audited[0]["auditLogs"]] == [
        ("INSERT", "CUSTOM_FIELD", fields[0]["customFieldId"])]
    r = kb.put(path, json=[{"customFieldId": fields[1]["customFieldId"], "name": "segment", "value": "enterprise"}])
    assert r.status_code == 204 and r.content == b""
    assert [f["value"] for f in kb.get(path).json()] == ["1", "enterprise", "2"]
    history = kb.get(f"/1.0/kb/customFields/{fields[1]['customFieldId']}/auditLogsWithHistory").json()
    assert [(a["changeType"], a["history"]["fieldValue"]) for a in history] == [("INSERT", "smb"),
                                                                                ("UPDATE", "enterprise")]
    r = kb.delete(path, params=[("customField", fields[0]["customFieldId"]), ("customField", UNKNOWN)])
    assert r.status_code == 204
    assert [f["name"] + "=" + f["value"] for f in kb.get(path).json()] == ["segment=enterprise", "crm=2"]
    assert kb.delete(path).status_code == 204  # no id: every field of the object
    assert kb.get(path).json() == []


def test_custom_field_errors_over_http(kb: KB, objs: Objs) -> None:
    path = f"/1.0/kb/accounts/{objs.account}/customFields"
    assert _error(kb.post(path, json=[{"value": "v"}])) == (400, None, "CustomFieldJson name needs to be set")
    assert _error(kb.post(path, json=[{"name": "n"}])) == (400, None, "CustomFieldJson value needs to be set")
    kb.post(path, json=[{"name": "po", "value": "42"}]).raise_for_status()
    dup = kb.post(path, json=[{"name": "po", "value": "42"}])
    assert dup.status_code == 400 and dup.json()["code"] == 9000
    assert dup.json()["className"] == "org.killbill.billing.util.api.CustomFieldApiException"
    assert _error(kb.put(path, json=[{"value": "v"}])) == (400, None, "CustomFieldJson id needs to be set")
    assert _error(kb.put(path, json=[{"customFieldId": UNKNOWN, "value": "v"}])) == (
        400, 9001, f"The custom field does not exists for id {UNKNOWN}")
    [po] = kb.get(path).json()
    assert _error(kb.put(path, json=[{"customFieldId": po["customFieldId"], "name": "other", "value": "v"}])) == (
        400, 9002, f"Failed to update custom field {po['customFieldId']}: Invalid value other for field FieldName")
    missing = kb.post(f"/1.0/kb/bundles/{UNKNOWN}/customFields", json=[{"name": "a", "value": "b"}])
    assert _error(missing) == (404, None, f"Object id={UNKNOWN} type=BUNDLE doesn't exist!")
    assert kb.post(path, json={"name": "not a list"}).status_code == 400
    assert kb.get(f"/1.0/kb/accounts/{UNKNOWN}/customFields").json() == []
    assert kb.post("/1.0/kb/invoices/not-an-id/customFields", json=[]).status_code == 404
    assert kb.get("/1.0/kb/customFields/x/auditLogsWithHistory").status_code == 404
    assert _error(kb.get(f"/1.0/kb/customFields/{UNKNOWN}/auditLogsWithHistory")) == (
        404, None, f"Object id={UNKNOWN} type=CUSTOM_FIELD doesn't exist!")


def test_custom_fields_of_bundles_subscriptions_invoices_and_items(kb: KB, objs: Objs) -> None:
    for kind, resource, object_id in (("BUNDLE", "bundles", objs.bundle),
                                      ("SUBSCRIPTION", "subscriptions", objs.subscription),
                                      ("INVOICE", "invoices", objs.invoice),
                                      ("INVOICE_ITEM", "invoiceItems", objs.item)):
        path = f"/1.0/kb/{resource}/{object_id}/customFields"
        r = kb.post(path, json=[{"name": "where", "value": kind}])
        assert r.status_code == 201 and r.headers["location"] == f"{kb.http.base_url}{path}"
        [field] = kb.get(path, params={"audit": "MINIMAL"}).json()
        assert (field["objectType"], field["objectId"], field["value"]) == (kind, object_id, kind)
        assert [a["changeType"] for a in field["auditLogs"]] == ["INSERT"]
        assert kb.put(path, json=[{"customFieldId": field["customFieldId"], "value": "changed"}]).status_code == 204
        assert kb.get(path).json()[0]["value"] == "changed"
        assert kb.delete(path, params={"customField": field["customFieldId"]}).status_code == 204
        assert kb.get(path).json() == []


def test_all_custom_fields_pages_and_searches(kb: KB, objs: Objs) -> None:
    kb.post(f"/1.0/kb/accounts/{objs.account}/customFields",
            json=[{"name": "po", "value": "qrs"}, {"name": "crm", "value": "QRS"},
                  {"name": "po", "value": "zzz"}]).raise_for_status()
    kb.post(f"/1.0/kb/invoices/{objs.invoice}/customFields", json=[{"name": "po", "value": "qrs"}]).raise_for_status()
    everything = kb.get(f"/1.0/kb/accounts/{objs.account}/allCustomFields").json()
    assert [(f["objectType"], f["name"], f["value"]) for f in everything] == [
        ("ACCOUNT", "po", "qrs"), ("ACCOUNT", "crm", "QRS"), ("ACCOUNT", "po", "zzz"), ("INVOICE", "po", "qrs")]
    invoices = kb.get(f"/1.0/kb/accounts/{objs.account}/allCustomFields", params={"objectType": "INVOICE"}).json()
    assert [f["objectId"] for f in invoices] == [objs.invoice]
    assert _error(kb.get(f"/1.0/kb/accounts/{UNKNOWN}/allCustomFields"))[0] == 404

    page = kb.get("/1.0/kb/customFields/pagination", params={"offset": 1, "limit": 1})
    assert [f["name"] for f in page.json()] == ["crm"]
    h = page.headers
    assert (h["x-killbill-pagination-currentoffset"], h["x-killbill-pagination-nextoffset"],
            h["x-killbill-pagination-totalnbrecords"], h["x-killbill-pagination-maxnbrecords"]) == ("1", "2", "4", "4")
    assert h["x-killbill-pagination-nextpageuri"] == "/1.0/kb/customFields/pagination?offset=2&limit=1&audit=NONE"

    found = kb.get("/1.0/kb/customFields/search/qrs")
    assert [(f["objectType"], f["name"]) for f in found.json()] == [("ACCOUNT", "po"), ("INVOICE", "po")]
    assert (found.headers["x-killbill-pagination-totalnbrecords"],
            found.headers["x-killbill-pagination-maxnbrecords"]) == ("2", "4")
    typed = kb.get("/1.0/kb/customFields/search", params={"objectType": "ACCOUNT", "fieldName": "po", "limit": 1})
    assert typed.status_code == 200 and [f["value"] for f in typed.json()] == ["qrs"]
    assert typed.headers["x-killbill-pagination-totalnbrecords"] == "2"
    next_uri = urlsplit(typed.headers["x-killbill-pagination-nextpageuri"])
    assert next_uri.path == "/1.0/kb/customFields/search"
    assert parse_qs(next_uri.query, keep_blank_values=True) == {
        "offset": ["1"], "limit": ["1"], "objectType": ["ACCOUNT"], "fieldName": ["po"], "fieldValue": [""],
        "audit": ["NONE"]}
    rest = kb.get("/1.0/kb/customFields/search", params={k: v[0] for k, v in parse_qs(
        next_uri.query, keep_blank_values=True).items() if v[0]})
    assert [f["value"] for f in rest.json()] == ["zzz"]
    valued = kb.get("/1.0/kb/customFields/search", params={"objectType": "INVOICE", "fieldName": "po",
                                                           "fieldValue": "qrs"}).json()
    assert [f["objectId"] for f in valued] == [objs.invoice]
    assert _error(kb.get("/1.0/kb/customFields/search", params={"fieldName": "po"})) == (
        400, None, "objectType in searchCustomFieldsByTypeName() is null")
    assert _error(kb.get("/1.0/kb/customFields/search", params={"objectType": "ACCOUNT"})) == (
        400, None, "fieldName in searchCustomFieldsByTypeName() is null")
