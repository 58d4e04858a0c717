"""Schemathesis fuzzes every operation of the served OpenAPI document, on SQLite and on PostgreSQL.

For each generated request (a bounded number per operation, derandomised so that CI runs the same ones):
- no 500 (bad input is a 4xx; an unexpected 500 is a bug);
- the response conforms to the document: a documented status, content type, headers and body schema
  (billow.rest.openapi makes the document say what the API answers);
- a refused request (4xx) changes nothing: a digest of the fuzzing tenant's rows in every table, and of
  its bus and notification entries, is the same before and after it.
The clock endpoints (/1.0/kb/test/) are left out: they move the clock every test of the session shares.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import cast

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Table, func, select, text

from billow.app import Billow
from billow.core.db.schema import metadata
from tests.conftest import ServerThread

# Requests per operation and database: ~90 operations x 2 databases stay within a few minutes of CI.
EXAMPLES_PER_OPERATION = 10

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
# Tables whose rows are not the tenant's data: node heartbeats change on their own.
_NOT_DATA = {"node_infos"}
_QUEUES = {"bus_events": "bus_events_history", "notifications": "notifications_history"}


@dataclass
class FuzzTenant:
    billow: Billow
    record_id: int
    headers: dict[str, str]

    # the digest after the last request, when it was refused: nothing has happened since (a refusal starts no
    # work), so the next request starts from it without settling and hashing again
    unchanged_since_refusal: str | None = None

    def settled_digest(self) -> str:
        """The digest once the work of earlier (accepted) requests is done, so that only the next request can
        move it."""
        self.billow.run_until_idle(10.0, self.record_id)
        return self.digest()

    def digest(self) -> str:
        """A hash of every row of the tenant (in each table with a tenant column, histories and audit log
        included) and of the number of its bus and notification entries (queued or done: a retry may move one
        between the two tables, but none may appear)."""
        with self.billow.db.read_connection() as conn:
            if conn.dialect.name == "postgresql":  # one round trip: the rows are hashed where they are
                parts = [f"SELECT '{t.name}', md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {t.name} t "
                         f"WHERE tenant_record_id = :tenant" for t in _tenant_tables()]
                parts += [f"SELECT '{queue}', CAST((SELECT count(*) FROM {queue} WHERE search_key2 = :tenant) + "
                          f"(SELECT count(*) FROM {history} WHERE search_key2 = :tenant) AS TEXT)"
                          for queue, history in _QUEUES.items()]
                rows = conn.execute(text(" UNION ALL ".join(parts)), {"tenant": self.record_id}).all()
                return hashlib.sha256(repr(sorted(map(tuple, rows))).encode()).hexdigest()
            h = hashlib.sha256()
            for table in _tenant_tables():
                query = select(table).where(table.c.tenant_record_id == self.record_id)
                for row in sorted(repr(tuple(r)) for r in conn.execute(query)):
                    h.update(f"{table.name}:{row}".encode())
            for queue, history in _QUEUES.items():
                total = 0
                for t in (metadata.tables[queue], metadata.tables[history]):
                    total += int(conn.execute(select(func.count()).select_from(t).where(
                        t.c.search_key2 == self.record_id)).scalar_one())
                h.update(f"{queue}:{total}".encode())
            return h.hexdigest()


def _tenant_tables() -> list[Table]:
    return [t for t in metadata.sorted_tables
            if "tenant_record_id" in t.c and t.name not in _NOT_DATA and t.name not in _QUEUES]


@pytest.fixture(scope="session")
def fuzz_tenant(server: ServerThread, billow: Billow) -> FuzzTenant:
    key = f"fuzz-{uuid.uuid4().hex[:8]}"
    httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"), headers={"X-Killbill-CreatedBy": "t"},
               json={"apiKey": key, "apiSecret": "s"}).raise_for_status()
    tenant = billow.tenants.get_by_api_key(key)
    headers = {"X-Killbill-ApiKey": key, "X-Killbill-ApiSecret": "s", "X-Killbill-CreatedBy": "fuzz"}
    return FuzzTenant(billow, tenant.record_id, headers)


@pytest.fixture()
def fuzz(fuzz_tenant: FuzzTenant) -> FuzzTenant:
    """The tenant, settled anew for each operation: other tests between two operations move the shared clock,
    and the work that makes due runs on the tenant's data."""
    fuzz_tenant.unchanged_since_refusal = None
    return fuzz_tenant


def _served_document() -> dict[str, object]:
    """The document the server serves. Building the app touches no database, so none is given here: each test
    then sends its requests to the session's server (either database)."""
    from billow.rest.app import create_app

    return create_app(cast(Billow, None)).openapi()


schema = schemathesis.openapi.from_dict(_served_document()).exclude(path_regex="^/1.0/kb/test/")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_fuzzed_requests_are_answered_as_documented_and_refusals_change_nothing(
        case: schemathesis.Case, server: ServerThread, fuzz: FuzzTenant) -> None:
    before = fuzz.unchanged_since_refusal or fuzz.settled_digest()
    fuzz.unchanged_since_refusal = None
    response = case.call(base_url=server.base_url, headers=fuzz.headers, auth=("admin", "password"),
                         timeout=60)
    if case.path == "/1.0/kb/admin/healthcheck" and case.method == "DELETE":  # out of rotation: put it back
        httpx.put(f"{server.base_url}/1.0/kb/admin/healthcheck", auth=("admin", "password"),
                  headers=fuzz.headers).raise_for_status()
    if 400 <= response.status_code < 500:
        after = fuzz.digest()
        assert after == before, (
            f"{case.method} {case.formatted_path} was refused ({response.status_code}) but changed the "
            f"database:\n{case.as_curl_command()}")
        fuzz.unchanged_since_refusal = after
    case.validate_response(response, checks=CHECKS)
