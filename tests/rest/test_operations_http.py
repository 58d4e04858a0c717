"""Test clock, health check and metrics over HTTP."""

from __future__ import annotations

import httpx

from tests.conftest import KB, ServerThread


def test_clock_get_set_move(kb: KB) -> None:
    r = kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-02-01T00:00:00.000Z"},
                headers={"Content-Type": "application/x-www-form-urlencoded", "X-Killbill-CreatedBy": ""})
    assert r.status_code == 200, r.text
    assert r.json() == {"currentUtcTime": "2024-02-01T00:00:00.000Z", "timeZone": "UTC", "localDate": "2024-02-01"}
    r = kb.put("/1.0/kb/test/clock", params={"days": 3})
    assert r.json()["currentUtcTime"] == "2024-02-04T00:00:00.000Z"
    r = kb.put("/1.0/kb/test/clock", params={"months": 1, "timeZone": "America/Los_Angeles"})
    assert r.json() == {"currentUtcTime": "2024-03-04T00:00:00.000Z", "timeZone": "America/Los_Angeles",
                        "localDate": "2024-03-03"}
    assert kb.get("/1.0/kb/test/clock").json()["currentUtcTime"] == "2024-03-04T00:00:00.000Z"
    r = kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-05-10"})
    assert r.json()["localDate"] == "2024-05-10"
    assert kb.put("/1.0/kb/test/clock", params={"days": 1, "weeks": 1}).status_code == 400
    assert kb.post("/1.0/kb/test/clock", params={"requestedDate": "next tuesday"}).status_code == 400
    assert kb.get("/1.0/kb/test/clock").json()["localDate"] == "2024-05-10"
    assert kb.get("/1.0/kb/test/queues").status_code == 200


def test_new_accounts_take_their_reference_time_from_the_clock(kb: KB) -> None:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2023-06-15T08:30:00.000Z"}).raise_for_status()
    r = kb.post("/1.0/kb/accounts", json={"name": "clocked"})
    account = kb.get(r.headers["location"]).json()
    assert account["referenceTime"] == "2023-06-15T08:30:00.000Z"


def test_health_and_metrics(server: ServerThread) -> None:
    r = httpx.get(f"{server.base_url}/1.0/healthcheck")
    assert r.status_code == 200
    body = r.json()
    assert body["database"]["healthy"] is True and body["migrations"]["healthy"] is True
    httpx.get(f"{server.base_url}/1.0/kb/accounts/pagination", auth=("admin", "password"))
    metrics = httpx.get(f"{server.base_url}/metrics").text
    assert 'billow_http_requests_total{method="GET",route="/1.0/kb/accounts/pagination",status="401"}' in metrics
    assert "billow_http_request_duration_seconds_bucket" in metrics
