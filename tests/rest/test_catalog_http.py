"""The catalog API over HTTP: upload, read back as JSON and XML, versions, plans, simple plans."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from billow.catalog.defaults import default_catalog_xml
from tests.conftest import KB, SHARED, ServerThread

OWN = Path(__file__).resolve().parents[1] / "catalog" / "data"


def _upload(kb: KB, xml: str, content_type: str | None = "text/xml") -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return kb.post("/1.0/kb/catalog/xml", content=xml.encode(), headers=headers)


def test_new_tenant_has_an_empty_catalog(kb: KB) -> None:
    r = kb.get("/1.0/kb/catalog")
    assert r.status_code == 200
    [version] = r.json()
    assert version["products"] == [] and version["currencies"] == []
    assert kb.get("/1.0/kb/catalog/versions").json() == []
    assert kb.get("/1.0/kb/catalog/availableBasePlans").json() == []


def test_upload_and_read_back(kb: KB) -> None:
    r = _upload(kb, default_catalog_xml())
    assert r.status_code == 201, r.text
    assert r.headers["location"].endswith("/1.0/kb/catalog")
    [version] = kb.get(r.headers["location"]).json()
    assert version["name"] == "BillowDefault"
    assert version["effectiveDate"].startswith("2024-01-01T00:00:00.000")
    assert set(version["currencies"]) == {"USD", "EUR", "GBP"}
    plans = {p["name"]: p for prod in version["products"] for p in prod["plans"]}
    assert "starter-monthly" in plans
    assert kb.get("/1.0/kb/catalog/versions").json() == ["2024-01-01T00:00:00.000Z"]
    xml = kb.get("/1.0/kb/catalog/xml")
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("text/xml")
    assert "<catalogs>" in xml.text and "<catalogName>BillowDefault</catalogName>" in xml.text
    assert 'name="starter-monthly"' in xml.text
    negotiated = kb.get("/1.0/kb/catalog", headers={"Accept": "text/xml"})
    assert negotiated.text.startswith("<?xml")
    base = kb.get("/1.0/kb/catalog/availableBasePlans").json()
    starter = next(d for d in base if d["plan"] == "starter-monthly")
    assert starter["product"] == "Starter" and starter["priceList"] == "DEFAULT"
    assert starter["finalPhaseBillingPeriod"] == "MONTHLY"
    assert {"currency": "USD", "value": 12.00} in starter["finalPhaseRecurringPrice"]


def test_upload_without_content_type_is_accepted(kb: KB) -> None:
    assert _upload(kb, default_catalog_xml(), content_type=None).status_code == 201


def test_invalid_catalogs_are_400_and_change_nothing(kb: KB) -> None:
    assert _upload(kb, default_catalog_xml()).status_code == 201
    broken = default_catalog_xml().replace("<value>12.00</value>", "<value>twelve</value>", 1)
    r = _upload(kb, broken)
    assert r.status_code == 400
    assert r.json()["className"] == "org.killbill.billing.catalog.api.CatalogApiException"
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            "<catalog>&lol2;</catalog>")
    assert _upload(kb, bomb).status_code == 400
    assert _upload(kb, "").status_code == 400
    assert _upload(kb, "<catalog>").status_code == 400
    assert kb.get("/1.0/kb/catalog/versions").json() == ["2024-01-01T00:00:00.000Z"]


def test_validate_endpoint(kb: KB) -> None:
    ok = kb.post("/1.0/kb/catalog/xml/validate", content=default_catalog_xml(), headers={"Content-Type": "text/xml"})
    assert ok.status_code == 200 and ok.json() == {"catalogValidationErrors": []}
    bad = default_catalog_xml().replace("<catalogName>BillowDefault</catalogName>", "")
    r = kb.post("/1.0/kb/catalog/xml/validate", content=bad, headers={"Content-Type": "text/xml"})
    assert r.status_code == 200 and r.json()["catalogValidationErrors"]
    assert kb.get("/1.0/kb/catalog/versions").json() == []


def test_simple_plan_builds_a_catalog(kb: KB) -> None:
    r = kb.post("/1.0/kb/catalog/simplePlan", json={
        "planId": "basic-monthly", "productName": "Basic", "productCategory": "BASE", "currency": "USD",
        "amount": 9.99, "billingPeriod": "MONTHLY", "trialLength": 14, "trialTimeUnit": "DAYS"})
    assert r.status_code == 201, r.text
    [version] = kb.get("/1.0/kb/catalog").json()
    [product] = [p for p in version["products"] if p["name"] == "Basic"]
    [plan] = product["plans"]
    assert plan["name"] == "basic-monthly"
    assert [ph["type"] for ph in plan["phases"]] == ["TRIAL", "EVERGREEN"]
    assert plan["phases"][1]["prices"] == [{"currency": "USD", "value": 9.99}]
    r = kb.post("/1.0/kb/catalog/simplePlan", json={
        "planId": "basic-annual", "productName": "Basic", "productCategory": "BASE", "currency": "USD",
        "amount": 99, "billingPeriod": "ANNUAL"})
    assert r.status_code == 201
    names = {d["plan"] for d in kb.get("/1.0/kb/catalog/availableBasePlans").json()}
    assert names == {"basic-monthly", "basic-annual"}
    bad = kb.post("/1.0/kb/catalog/simplePlan", json={"planId": "x", "productName": "X", "currency": "USD",
                                                      "amount": -1, "billingPeriod": "MONTHLY"})
    assert bad.status_code == 400


def test_delete_catalog(kb: KB) -> None:
    assert _upload(kb, default_catalog_xml()).status_code == 201
    assert kb.delete("/1.0/kb/catalog").status_code == 204
    assert kb.get("/1.0/kb/catalog/versions").json() == []


def test_global_default_catalog_on_tenant_creation(server: ServerThread) -> None:
    key = f"k-{uuid.uuid4().hex[:10]}"
    r = httpx.post(f"{server.base_url}/1.0/kb/tenants", params={"useGlobalDefault": "true"},
                   auth=("admin", "password"), headers={"X-Killbill-CreatedBy": "t"},
                   json={"apiKey": key, "apiSecret": "s"})
    assert r.status_code == 201
    kb = KB(server.base_url, key, "s")
    assert any(d["plan"] == "starter-monthly" for d in kb.get("/1.0/kb/catalog/availableBasePlans").json())


def test_catalogs_are_per_tenant(kb: KB, server: ServerThread) -> None:
    assert _upload(kb, default_catalog_xml()).status_code == 201
    key = f"k-{uuid.uuid4().hex[:10]}"
    httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"),
               headers={"X-Killbill-CreatedBy": "t"}, json={"apiKey": key, "apiSecret": "s"}).raise_for_status()
    other = KB(server.base_url, key, "s")
    assert other.get("/1.0/kb/catalog/versions").json() == []


def test_versions_and_requested_date(kb: KB) -> None:
    folder = SHARED / "reference" / "catalogs" / "beatrix" / "testCatalogWithEffectiveDateForExistingSubscriptions"
    if not folder.exists():
        folder = OWN / "versions"
    files = sorted(folder.glob("*.xml"))
    assert len(files) >= 2, f"need several versions in {folder}"
    for f in files:
        assert _upload(kb, f.read_text()).status_code == 201, f
    versions = kb.get("/1.0/kb/catalog/versions").json()
    assert len(versions) == len(files) and versions == sorted(versions)
    second = versions[1]
    [at_second] = kb.get("/1.0/kb/catalog", params={"requestedDate": second}).json()
    assert at_second["effectiveDate"][:19] == second[:19]
    [before_all] = kb.get("/1.0/kb/catalog", params={"requestedDate": "2000-01-01"}).json()
    assert before_all["effectiveDate"][:19] == versions[0][:19]
