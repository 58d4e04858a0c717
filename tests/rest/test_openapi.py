"""The served OpenAPI document describes what the API answers (billow/rest/openapi.py); the fuzzing tests
(test_fuzz.py) hold every response to it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ServerThread


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_failures_are_kill_bills_error_json_and_creates_have_a_location(server: ServerThread) -> None:
    doc = httpx.get(f"{server.base_url}/openapi.json").json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    error = doc["components"]["schemas"]["BillingException"]
    assert set(error["properties"]) == {"className", "code", "message", "causeClassName", "causeMessage",
                                        "stackTrace"}
    operations = _operations(doc)
    assert len(operations) > 80
    for method, path, op in operations:
        responses = op["responses"]
        where = f"{method} {path}"
        assert "422" not in responses, where
        for status in ("400", "413", "500"):
            if "content" not in responses[status]:  # a route whose Kill Bill answer has no body says so
                assert "no body" in responses[status]["description"], f"{where} {status}"
                continue
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/BillingException"}, where
        assert "content" not in responses["401"], where
        for status, response in responses.items():
            json_body = response.get("content", {}).get("application/json", {})
            assert json_body.get("schema") != {"type": "string"}, f"{where} {status}"
        if "201" in responses:
            assert "content" not in responses["201"] and "Location" in responses["201"]["headers"], where
        if any(p["name"] == "callCompletion" for p in op.get("parameters", ())):
            assert "408" in responses, where
    by_id = {op.get("operationId"): op for _, _, op in operations}
    assert set(by_id["getCatalogXml"]["responses"]["200"]["content"]) == {"text/xml"}
    assert set(by_id["getCatalogJson"]["responses"]["200"]["content"]) == {"application/json", "text/xml"}
