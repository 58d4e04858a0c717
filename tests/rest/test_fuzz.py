"""No input makes the API answer 500: schemathesis fuzzes every operation of our OpenAPI document.

Runs the schemathesis command against a live server with a fixed seed and a bounded number of
examples per operation (Kill Bill's rule, and ours: bad input is a 4xx, an unexpected 500 is a bug).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerThread


def test_no_server_errors_under_fuzzing(server: ServerThread, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("fuzzing runs once, on SQLite")
    cli = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    if not Path(cli).exists():
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    key = f"fuzz-{uuid.uuid4().hex[:8]}"
    httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"), headers={"X-Killbill-CreatedBy": "t"},
               json={"apiKey": key, "apiSecret": "s"}).raise_for_status()
    auth = base64.b64encode(b"admin:password").decode()
    try:
        result = _fuzz(cli, server, key, auth)
    finally:  # the fuzzer may have put the shared server out of rotation (DELETE /1.0/kb/admin/healthcheck)
        httpx.put(f"{server.base_url}/1.0/kb/admin/healthcheck", auth=("admin", "password"),
                  headers={"X-Killbill-ApiKey": key, "X-Killbill-ApiSecret": "s"}).raise_for_status()
    assert result.returncode == 0, result.stdout[-4000:]


def _fuzz(cli: str, server: ServerThread, key: str, auth: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cli, "run", f"{server.base_url}/openapi.json", "-H", f"Authorization: Basic {auth}",
         "-H", f"X-Killbill-ApiKey: {key}", "-H", "X-Killbill-ApiSecret: s", "-H", "X-Killbill-CreatedBy: fuzz",
         "--checks", "not_a_server_error", "--max-examples", "12", "--phases", "fuzzing",
         "--seed", "20261125", "--exclude-path-regex", "/test/", "--no-color"],
        capture_output=True, text=True, timeout=600)
