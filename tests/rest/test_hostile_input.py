"""Hostile input over HTTP, on SQLite and PostgreSQL: every request below is refused with a 4xx and Kill Bill's
error JSON naming the field, and changes nothing; none answers 500 (billow/rest/edge.py, billow/core/limits.py,
the services' validation and billow/core/db/checks.py)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KB, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text()
ERROR_KEYS = {"className", "code", "message", "causeClassName", "causeMessage", "stackTrace"}


def refused(response: Any, status: int, *words: str) -> str:
    """Assert a refusal with Kill Bill's error JSON whose message holds `words`; returns the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    for word in words:
        assert word in body["message"], body["message"]
    return str(body["message"])


def account_count(kb: KB) -> int:
    r = kb.get("/1.0/kb/accounts/pagination", params={"limit": 1})
    return int(r.headers["X-Killbill-Pagination-TotalNbRecords"])


def exact(response: Any) -> Any:
    return json.loads(response.text, parse_float=Decimal)


@pytest.fixture()
def account(kb: KB) -> str:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-01-15T10:00:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    return id_from_location(kb.post("/1.0/kb/accounts", json={"name": "Hostile", "currency": "USD"}))


# -- text no database can store ----------------------------------------------------------------------
@pytest.mark.parametrize("field", ["name", "notes", "externalKey", "email", "city", "locale"])
def test_nul_in_any_account_field_is_refused_naming_it(kb: KB, field: str) -> None:
    before = account_count(kb)
    message = refused(kb.post("/1.0/kb/accounts", json={"currency": "USD", field: "x\u0000y"}), 400, field, "NUL")
    assert "INSERT" not in message and "SQL" not in message
    assert account_count(kb) == before


def test_nul_in_an_account_update_changes_nothing(kb: KB, account: str) -> None:
    refused(kb.put(f"/1.0/kb/accounts/{account}", json={"notes": "a\u0000b"}), 400, "notes")
    assert kb.get(f"/1.0/kb/accounts/{account}").json()["notes"] is None


@pytest.mark.parametrize("raw, words", [
    ('{"name": "\\ud800", "currency": "USD"}', ("name", "surrogate")),  # no UTF-8 encoding exists
    ('{"na\\u0000me": "x", "currency": "USD"}', ("field name", "NUL")),
    ('{"name": "x", "currency": "USD", "address1": NaN}', ("NaN",)),
    ('{"name": "x", "currency": "USD", "billCycleDayLocal": Infinity}', ("Infinity",)),
    ('{"name": "x", "currency": "USD", "billCycleDayLocal": 1e400}', ("billCycleDayLocal", "out of range")),
    ('{"name": "x", "currency": "USD", "firstNameLength": 99999999999999999999}', ("firstNameLength", "range")),
])
def test_json_a_database_or_kill_bill_refuses(kb: KB, raw: str, words: tuple[str, ...]) -> None:
    before = account_count(kb)
    refused(kb.post("/1.0/kb/accounts", content=raw, headers={"Content-Type": "application/json"}), 400, *words)
    assert account_count(kb) == before


@pytest.mark.parametrize("method, url, words", [
    ("GET", "/1.0/kb/accounts?externalKey=a%00b", ("query parameter 'externalKey'", "NUL")),
    ("GET", "/1.0/kb/accounts/search/a%00b", ("/1.0/kb/accounts/search/", "NUL")),
    ("GET", "/1.0/kb/accounts/a%00b", ("/1.0/kb/accounts/", "NUL")),
    ("GET", "/1.0/kb/bundles?externalKey=%00", ("externalKey", "NUL")),
    ("GET", "/1.0/kb/subscriptions?externalKey=%00", ("externalKey", "NUL")),
    ("GET", "/1.0/kb/tenants?apiKey=k%00", ("apiKey", "NUL")),
    ("GET", "/1.0/kb/tenants/userKeyValue/k%00", ("/1.0/kb/tenants/userKeyValue/", "NUL")),
    ("POST", "/1.0/kb/tenants/userKeyValue/k%00", ("/1.0/kb/tenants/userKeyValue/", "NUL")),
    ("GET", "/1.0/kb/accounts/pagination?audit%00=FULL", ("query parameter name", "NUL")),
])
def test_nul_in_query_and_path_parameters(kb: KB, method: str, url: str, words: tuple[str, ...]) -> None:
    refused(kb.request(method, url, content=b"v"), 400, *words)


def test_user_key_values_with_nul_or_too_long_keys_are_not_stored(kb: KB) -> None:
    refused(kb.post("/1.0/kb/tenants/userKeyValue/color", content=b"bl\x00ue"), 400, "body", "NUL")
    assert kb.get("/1.0/kb/tenants/userKeyValue/color").json()["values"] == []
    refused(kb.post(f"/1.0/kb/tenants/userKeyValue/{'k' * 256}", content=b"v"), 400, "longer than 255")
    assert kb.post(f"/1.0/kb/tenants/userKeyValue/{'k' * 255}", content=b"v").status_code == 201


def test_tenant_api_keys_with_nul(kb: KB) -> None:
    http = kb.http
    refused(http.post("/1.0/kb/tenants", json={"apiKey": "k\u0000", "apiSecret": "s"}), 400, "apiKey", "NUL")
    refused(http.post("/1.0/kb/tenants", json={"apiKey": "k", "apiSecret": "s", "externalKey": "e" * 256}), 400,
            "externalKey", "longer than 255")
    assert http.get("/1.0/kb/tenants", params={"apiKey": "k"}).status_code == 404
    # Basic credentials are base64: a NUL in the user name finds no user
    token = base64.b64encode(b"ad\x00min:password").decode()
    r = http.get("/1.0/kb/accounts/pagination", headers={"Authorization": f"Basic {token}"}, auth=None)
    assert r.status_code == 401


@pytest.mark.parametrize("headers, words", [
    ({"X-Killbill-CreatedBy": "u" * 51}, ("X-Killbill-CreatedBy", "longer than 50")),
    ({"X-Killbill-Reason": "r" * 256}, ("X-Killbill-Reason", "longer than 255")),
    ({"X-Killbill-Encoding": "base64", "X-Killbill-CreatedBy": base64.b64encode(b"a\x00b").decode()},
     ("X-Killbill-CreatedBy", "NUL")),
    ({"X-Killbill-Encoding": "base64", "X-Killbill-CreatedBy": "dXNlcg==",
      "X-Killbill-Comment": base64.b64encode("\ud800".encode("utf-8", "surrogatepass")).decode()}, ()),
])
def test_headers_stored_in_the_audit_log(kb: KB, headers: dict[str, str], words: tuple[str, ...]) -> None:
    before = account_count(kb)
    r = kb.post("/1.0/kb/accounts", json={"name": "h", "currency": "USD"}, headers=headers)
    if words:
        refused(r, 400, *words)
        assert account_count(kb) == before
    else:  # a value that is not UTF-8 once decoded is kept as sent (base64 text), as Kill Bill's filter does
        assert r.status_code == 201, r.text


# -- numbers -------------------------------------------------------------------------------------------
def _charge(kb: KB, account: str, amount: str, **extra: Any) -> Any:
    item = {"accountId": account, "currency": "USD", **extra}
    body = json.dumps([item])[:-2] + f', "amount": {amount}}}]'
    return kb.post(f"/1.0/kb/invoices/charges/{account}", content=body, params={"autoCommit": "true"},
                   headers={"Content-Type": "application/json"})


def _invoice_count(kb: KB, account: str) -> int:
    return len(kb.get(f"/1.0/kb/accounts/{account}/invoices").json())


@pytest.mark.parametrize("amount", ["99999999999999999999999999999", "12345678901234567890.5", "1000000",
                                    "-1000000.5", "999999.995", "1e400"])
def test_amounts_beyond_the_money_columns_are_refused(kb: KB, account: str, amount: str) -> None:
    before = _invoice_count(kb, account)
    refused(_charge(kb, account, amount), 400, "amount")
    refused(kb.post("/1.0/kb/credits", content=f'[{{"accountId": "{account}", "amount": {amount}}}]',
                    headers={"Content-Type": "application/json"}), 400, "amount")
    assert _invoice_count(kb, account) == before


@pytest.mark.parametrize("amount, stored", [
    ("999999.99", "999999.99"),
    ("1.005", "1.01"),  # HALF_UP to the currency's minor units
    ("0.001", "0.00"),  # Kill Bill rounds input amounts too (InvoiceItemBase: KillBillMoney.of)
    ("1e-30", "0.00"),
])
def test_amounts_within_range_are_rounded_as_kill_bill_does(kb: KB, account: str, amount: str, stored: str) -> None:
    r = _charge(kb, account, amount)
    assert r.status_code == 200, r.text
    assert exact(r)[0]["amount"] == Decimal(stored)


def test_other_amount_fields_and_item_texts(kb: KB, account: str) -> None:
    refused(_charge(kb, account, "1", rate=10**7), 400, "rate")
    refused(_charge(kb, account, "1", description="d" * 256), 400, "description", "255")
    refused(_charge(kb, account, "1", startDate="1969-12-31"), 400, "startDate", "out of range")
    assert _invoice_count(kb, account) == 0
    charge = _charge(kb, account, "10")
    item = charge.json()[0]
    refused(kb.post(f"/1.0/kb/invoices/{item['invoiceId']}", content=json.dumps(
        {"invoiceItemId": item["invoiceItemId"], "accountId": account})[:-1] + ', "amount": 1e7}',
        headers={"Content-Type": "application/json"}), 400, "amount")


# -- dates ---------------------------------------------------------------------------------------------
def test_dates_outside_1970_to_9999(kb: KB, account: str) -> None:
    now = kb.get("/1.0/kb/test/clock").json()["currentUtcTime"]
    refused(kb.post("/1.0/kb/test/clock", params={"requestedDate": "0001-01-01"}), 400, "requestedDate",
            "out of range")
    refused(kb.post("/1.0/kb/test/clock", params={"requestedDate": "1969-12-31T23:59:59Z"}), 400, "requestedDate")
    assert kb.get("/1.0/kb/test/clock").json()["currentUtcTime"] == now
    before = account_count(kb)
    refused(kb.post("/1.0/kb/accounts", json={"name": "t", "currency": "USD", "referenceTime": "0001-01-01T00:00:00Z"}),
            400, "referenceTime", "out of range")
    refused(kb.post("/1.0/kb/accounts", json={"name": "t", "currency": "USD",
                                              "referenceTime": "+10000-01-01T00:00:00Z"}), 400, "referenceTime")
    assert account_count(kb) == before
    refused(kb.post("/1.0/kb/invoices/dryRun", params={"accountId": account, "targetDate": "1000-01-01"}), 400,
            "targetDate")
    refused(kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "gold-monthly"},
                    params={"entitlementDate": "0001-01-01"}), 400, "entitlementDate")


def test_instants_print_with_four_digit_years() -> None:
    from datetime import UTC, datetime

    from billow.rest.jsonio import format_instant

    assert format_instant(datetime(1970, 1, 1, tzinfo=UTC)) == "1970-01-01T00:00:00.000Z"
    assert format_instant(datetime(999, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)) == "0999-03-04T05:06:07.891Z"


# -- enums, bill cycle days, integers, lengths ----------------------------------------------------------
def _subscriptions(kb: KB, account: str) -> int:
    return sum(len(b["subscriptions"]) for b in kb.get(f"/1.0/kb/accounts/{account}/bundles").json())


@pytest.mark.parametrize("extra, words", [
    ({"billCycleDayLocal": 99}, ("billCycleDayLocal", "between 1 and 31")),
    ({"billCycleDayLocal": 0}, ("billCycleDayLocal",)),
    ({"billCycleDayLocal": 2**40}, ("billCycleDayLocal",)),
    ({"quantity": 2**40}, ("quantity", "out of range")),  # an INTEGER column: the last check before the row
    ({"externalKey": "k" * 256}, ("externalKey", "255")),
    ({"bundleExternalKey": "k" * 256}, ("bundleExternalKey", "255")),
    ({"billingPeriod": "FORTNIGHTLY"}, ("billingPeriod",)),
    ({"priceOverrides": [{"phaseType": "EVERGREEN", "recurringPrice": 10**9}]}, ("recurringPrice", "range")),
])
def test_subscription_input_refused(kb: KB, account: str, extra: dict[str, Any], words: tuple[str, ...]) -> None:
    r = kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "gold-monthly", **extra})
    refused(r, 400, *words)
    assert _subscriptions(kb, account) == 0


def test_a_bill_cycle_day_given_at_creation_is_the_subscriptions(kb: KB, account: str) -> None:
    """Kill Bill's EntitlementSpecifier.getBillCycleDay: a BCD_CHANGE with the CREATE (it used to be ignored)."""
    r = kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "gold-monthly",
                                               "billCycleDayLocal": 1},
                params={"callCompletion": "true", "callTimeoutSec": 20})
    assert r.status_code == 201, r.text
    assert kb.get(r.headers["location"]).json()["billCycleDayLocal"] == 1
    kb.put("/1.0/kb/test/clock", params={"days": 31, "timeoutSec": 20}).raise_for_status()
    items = [i for inv in kb.get(f"/1.0/kb/accounts/{account}/invoices",
                                 params={"includeInvoiceComponents": "true"}).json() for i in inv["items"]]
    recurring = [(i["startDate"], i["endDate"]) for i in items if i["itemType"] == "RECURRING"]
    assert recurring == [("2024-02-14", "2024-03-01")]  # the trial ends 02-14; the period ends on the 1st


def test_blocking_state_names_within_their_columns(kb: KB, account: str) -> None:
    r = kb.post(f"/1.0/kb/accounts/{account}/block", json={"stateName": "s" * 51, "service": "svc"})
    refused(r, 400, "stateName", "50")
    assert kb.get(f"/1.0/kb/accounts/{account}/block").json() == []


def test_enums_and_paging(kb: KB) -> None:
    refused(kb.get("/1.0/kb/accounts/pagination", params={"audit": "LOTS"}), 400, "audit")
    refused(kb.get("/1.0/kb/accounts/pagination", params={"offset": 2**70}), 400, "offset")


def test_a_read_ignores_the_audit_headers_as_kill_bill_does(kb: KB) -> None:
    r = kb.get("/1.0/kb/accounts/pagination", headers={"X-Killbill-CreatedBy": "u" * 51})
    assert r.status_code == 200, r.text
