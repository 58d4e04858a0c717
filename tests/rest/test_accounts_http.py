"""Accounts over HTTP: Kill Bill's AccountJson, validation, immutables, pagination, audit logs."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import KB, ServerThread, id_from_location

FIELDS = {"accountId", "name", "firstNameLength", "externalKey", "email", "billCycleDayLocal", "currency",
          "parentAccountId", "isPaymentDelegatedToParent", "paymentMethodId", "referenceTime", "timeZone",
          "address1", "address2", "postalCode", "company", "city", "state", "country", "locale", "phone", "notes",
          "isMigrated", "accountBalance", "accountCBA", "auditLogs"}


def _create(kb: KB, **body: object) -> str:
    r = kb.post("/1.0/kb/accounts", json=body)
    assert r.status_code == 201, r.text
    assert r.content == b""
    assert r.headers["location"].startswith("http://127.0.0.1:")
    return id_from_location(r)


def _count(kb: KB) -> int:
    return int(kb.get("/1.0/kb/accounts/pagination").headers["X-Killbill-Pagination-TotalNbRecords"])


def test_create_get_by_id_and_key(kb: KB) -> None:
    account_id = _create(kb, name="John Doe", firstNameLength=4, externalKey="john-1", email="john@example.com",
                         currency="USD", timeZone="America/Los_Angeles", locale="en_US", company="Acme",
                         state="CA", billCycleDayLocal=7)
    got = kb.get(f"/1.0/kb/accounts/{account_id}").json()
    assert set(got) == FIELDS
    assert got["accountId"] == account_id
    assert got["name"] == "John Doe" and got["firstNameLength"] == 4
    assert got["company"] == "Acme" and got["state"] == "CA"
    assert got["billCycleDayLocal"] == 7
    assert got["timeZone"] == "America/Los_Angeles"
    assert got["isPaymentDelegatedToParent"] is False
    assert got["accountBalance"] is None and got["accountCBA"] is None and got["auditLogs"] == []
    assert got["parentAccountId"] is None and got["notes"] is None
    assert got["referenceTime"].endswith(".000Z") or got["referenceTime"][-5] == "."
    assert kb.get("/1.0/kb/accounts", params={"externalKey": "john-1"}).json()["accountId"] == account_id


def test_defaults(kb: KB) -> None:
    account_id = _create(kb, name="Minimal")
    got = kb.get(f"/1.0/kb/accounts/{account_id}").json()
    assert got["externalKey"] == account_id  # Kill Bill defaults the key to the id
    assert got["timeZone"] == "UTC" and got["billCycleDayLocal"] == 0 and got["currency"] is None


def test_body_less_and_null_fields_are_accepted(kb: KB) -> None:
    account_id = _create(kb, name="Nulls", email=None, currency="EUR", unknownField="ignored")
    assert kb.get(f"/1.0/kb/accounts/{account_id}").json()["email"] is None


@pytest.mark.parametrize("body,field", [
    ({"name": "x", "currency": "XYZ"}, "currency"),
    ({"name": "x", "timeZone": "Mars/Olympus"}, "timeZone"),
    ({"name": "x", "billCycleDayLocal": 32}, "billCycleDayLocal"),
    ({"name": "x", "billCycleDayLocal": -1}, "billCycleDayLocal"),
    ({"name": "x", "billCycleDayLocal": "abc"}, "billCycleDayLocal"),
    ({"name": "x", "locale": "not a locale!"}, "locale"),
    ({"name": "x", "referenceTime": "yesterday"}, "referenceTime"),
])
def test_bad_input_is_400_naming_the_field_and_writes_nothing(kb: KB, body: dict, field: str) -> None:
    before = _count(kb)
    r = kb.post("/1.0/kb/accounts", json=body)
    assert r.status_code == 400, r.text
    err = r.json()
    assert set(err) == {"className", "code", "message", "causeClassName", "causeMessage", "stackTrace"}
    assert field in err["message"]
    assert _count(kb) == before


def test_malformed_json_is_400(kb: KB) -> None:
    before = _count(kb)
    r = kb.post("/1.0/kb/accounts", content=b'{"name": "x",', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "JSON" in r.json()["message"]
    r = kb.post("/1.0/kb/accounts", content=b"", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert _count(kb) == before


def test_missing_created_by_is_400_and_writes_nothing(kb: KB) -> None:
    before = _count(kb)
    r = httpx.post(f"{kb.http.base_url}/1.0/kb/accounts", json={"name": "x"}, auth=("admin", "password"),
                   headers={"X-Killbill-ApiKey": kb.api_key, "X-Killbill-ApiSecret": kb.api_secret})
    assert r.status_code == 400
    assert r.json() == {"className": "java.lang.IllegalArgumentException", "code": None,
                        "message": "Header X-Killbill-CreatedBy needs to be set", "causeClassName": None,
                        "causeMessage": None, "stackTrace": []}
    assert _count(kb) == before


def test_duplicate_external_key_is_409(kb: KB) -> None:
    _create(kb, externalKey="dup")
    before = _count(kb)
    r = kb.post("/1.0/kb/accounts", json={"externalKey": "dup"})
    assert r.status_code == 409
    assert r.json()["code"] == 3000
    assert r.json()["className"] == "org.killbill.billing.account.api.AccountApiException"
    assert _count(kb) == before


def test_not_found_and_tenant_isolation(kb: KB, server: ServerThread) -> None:
    account_id = _create(kb, name="Mine", externalKey="iso-1")
    r = kb.get(f"/1.0/kb/accounts/{uuid.uuid4()}")
    assert r.status_code == 404 and r.json()["code"] == 3002
    assert kb.get("/1.0/kb/accounts", params={"externalKey": "nope"}).json()["code"] == 3003
    key = f"k-{uuid.uuid4().hex[:10]}"
    httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"),
               headers={"X-Killbill-CreatedBy": "t"}, json={"apiKey": key, "apiSecret": "b"}).raise_for_status()
    other = KB(server.base_url, key, "b")
    assert other.get(f"/1.0/kb/accounts/{account_id}").status_code == 404
    assert other.get("/1.0/kb/accounts", params={"externalKey": "iso-1"}).status_code == 404
    assert other.put(f"/1.0/kb/accounts/{account_id}", json={"name": "stolen"}).status_code == 404
    assert other.get(f"/1.0/kb/accounts/{account_id}/auditLogs").status_code == 404
    assert other.get("/1.0/kb/accounts/search/Mine").json() == []
    assert kb.get(f"/1.0/kb/accounts/{account_id}").json()["name"] == "Mine"
    # the same external key may exist in another tenant
    assert other.post("/1.0/kb/accounts", json={"externalKey": "iso-1"}).status_code == 201


def test_update_merges_and_keeps_immutables(kb: KB) -> None:
    account_id = _create(kb, name="Jane", externalKey="jane", currency="EUR", timeZone="Europe/Paris",
                         city="Paris")
    r = kb.put(f"/1.0/kb/accounts/{account_id}", json={"name": "Jane Roe", "phone": "+33 1 23"},
               headers={"X-Killbill-Reason": "rename", "X-Killbill-Comment": "asked by customer"})
    assert r.status_code == 204
    got = kb.get(f"/1.0/kb/accounts/{account_id}").json()
    assert got["name"] == "Jane Roe" and got["phone"] == "+33 1 23" and got["city"] == "Paris"
    for body, field in (({"currency": "USD"}, "currency"), ({"timeZone": "UTC"}, "timeZone"),
                        ({"externalKey": "other"}, "externalKey")):
        r = kb.put(f"/1.0/kb/accounts/{account_id}", json={**body, "name": "changed"})
        assert r.status_code == 400, body
        assert field in r.json()["message"]
    assert kb.get(f"/1.0/kb/accounts/{account_id}").json()["name"] == "Jane Roe"


def test_bcd_can_be_set_once(kb: KB) -> None:
    account_id = _create(kb, name="B")
    assert kb.put(f"/1.0/kb/accounts/{account_id}", json={"billCycleDayLocal": 15}).status_code == 204
    assert kb.get(f"/1.0/kb/accounts/{account_id}").json()["billCycleDayLocal"] == 15
    r = kb.put(f"/1.0/kb/accounts/{account_id}", json={"billCycleDayLocal": 20})
    assert r.status_code == 400 and "BCD" in r.json()["message"]
    assert kb.put(f"/1.0/kb/accounts/{account_id}", json={"billCycleDayLocal": 15}).status_code == 204


def test_treat_null_as_reset(kb: KB) -> None:
    account_id = _create(kb, name="R", externalKey="reset-me", currency="USD", city="Boston", phone="555")
    body = {"externalKey": "reset-me", "currency": "USD", "timeZone": "UTC", "name": "R2"}
    r = kb.put(f"/1.0/kb/accounts/{account_id}", params={"treatNullAsReset": "true"}, json=body)
    assert r.status_code == 204, r.text
    got = kb.get(f"/1.0/kb/accounts/{account_id}").json()
    assert got["name"] == "R2" and got["city"] is None and got["phone"] is None and got["currency"] == "USD"
    # with reset, leaving out an immutable field is an attempt to clear it
    r = kb.put(f"/1.0/kb/accounts/{account_id}", params={"treatNullAsReset": "true"}, json={"name": "R3"})
    assert r.status_code == 400
    assert kb.get(f"/1.0/kb/accounts/{account_id}").json()["name"] == "R2"


def test_pagination_and_search(kb: KB) -> None:
    ids = [_create(kb, name=f"Page {i}", email=f"p{i}@corp.example", externalKey=f"page-{i}") for i in range(5)]
    r = kb.get("/1.0/kb/accounts/pagination", params={"offset": 0, "limit": 2})
    assert r.status_code == 200
    assert [a["accountId"] for a in r.json()] == ids[:2]
    assert r.headers["X-Killbill-Pagination-CurrentOffset"] == "0"
    assert r.headers["X-Killbill-Pagination-NextOffset"] == "2"
    assert r.headers["X-Killbill-Pagination-TotalNbRecords"] == "5"
    assert r.headers["X-Killbill-Pagination-MaxNbRecords"] == "5"
    assert r.headers["X-Killbill-Pagination-NextPageUri"].startswith("/1.0/kb/accounts/pagination?offset=2&limit=2")
    last = kb.get("/1.0/kb/accounts/pagination", params={"offset": 4, "limit": 2})
    assert [a["accountId"] for a in last.json()] == ids[4:]
    assert "X-Killbill-Pagination-NextOffset" not in last.headers
    found = kb.get("/1.0/kb/accounts/search/corp.example", params={"limit": 3})
    assert len(found.json()) == 3
    assert found.headers["X-Killbill-Pagination-TotalNbRecords"] == "5"
    assert [a["accountId"] for a in kb.get("/1.0/kb/accounts/search/page-3").json()] == [ids[3]]
    assert [a["accountId"] for a in kb.get(f"/1.0/kb/accounts/search/{ids[1]}").json()] == [ids[1]]
    assert kb.get("/1.0/kb/accounts/search/100%").json() == []
    assert kb.get("/1.0/kb/accounts/pagination", params={"offset": -1}).status_code == 400
    assert kb.get("/1.0/kb/accounts/pagination", params={"audit": "LOUD"}).status_code == 400


def test_audit_logs_over_http(kb: KB) -> None:
    account_id = _create(kb, name="Audited", currency="USD")
    token = str(uuid.uuid4())
    kb.put(f"/1.0/kb/accounts/{account_id}", json={"name": "Audited 2"},
           headers={"X-Killbill-Reason": "why", "X-Killbill-Comment": "because", "X-Request-Id": token,
                    "X-Killbill-CreatedBy": "alice"}).raise_for_status()
    logs = kb.get(f"/1.0/kb/accounts/{account_id}/auditLogs").json()
    assert [entry["changeType"] for entry in logs] == ["INSERT", "UPDATE"]
    update = logs[1]
    assert update["changedBy"] == "alice" and update["reasonCode"] == "why" and update["comments"] == "because"
    assert update["userToken"] == token and update["objectType"] == "ACCOUNT" and update["objectId"] == account_id
    assert update["history"] is None and update["changeDate"].endswith("Z")
    with_history = kb.get(f"/1.0/kb/accounts/{account_id}/auditLogsWithHistory").json()
    assert with_history[0]["history"]["name"] == "Audited"
    assert with_history[1]["history"]["name"] == "Audited 2"
    full = kb.get(f"/1.0/kb/accounts/{account_id}", params={"audit": "full"}).json()["auditLogs"]
    assert [entry["changeType"] for entry in full] == ["INSERT", "UPDATE"]
    minimal = kb.get(f"/1.0/kb/accounts/{account_id}", params={"audit": "MINIMAL"}).json()["auditLogs"]
    assert [entry["changeType"] for entry in minimal] == ["INSERT"]


def test_base64_encoded_audit_headers(kb: KB) -> None:
    import base64

    enc = base64.b64encode("Zoë".encode()).decode()
    r = kb.post("/1.0/kb/accounts", json={"name": "enc"},
                headers={"X-Killbill-Encoding": "base64", "X-Killbill-CreatedBy": enc})
    account_id = id_from_location(r)
    assert kb.get(f"/1.0/kb/accounts/{account_id}/auditLogs").json()[0]["changedBy"] == "Zoë"


def test_unknown_route_is_404(kb: KB) -> None:
    assert kb.get("/1.0/kb/nothing-here").status_code == 404
