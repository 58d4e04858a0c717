"""Shared fixtures: a Billow on SQLite always, and on PostgreSQL when BILLOW_TEST_DATABASE_URL is set.

Each backend gets one migrated database per session; tests isolate themselves
by creating their own tenant (every query is tenant-scoped), which also tests
tenant isolation all the time.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from billow.app import Billow
from billow.core.clock import TestClock
from billow.core.context import CallContext

# One unit of work, one connection: a nested unit of work raises in tests, and the pool's guard records any
# other second checkout by a thread (see billow.core.db.engine.ConnectionGuard); the `billow` fixture fails
# the session when it saw one.
os.environ.setdefault("BILLOW_STRICT_CONNECTIONS", "1")

T = TypeVar("T")
PG_URL = os.environ.get("BILLOW_TEST_DATABASE_URL")
# BILLOW_TEST_BACKENDS narrows the database backends (CI's PostgreSQL pass sets "postgresql").
BACKENDS = [b for b in os.environ.get("BILLOW_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
REPO = Path(__file__).resolve().parents[1]
# Kill Bill's reference files: ../shared next to the project, or BILLOW_SHARED (a checkout one level deeper)
SHARED = Path(os.environ.get("BILLOW_SHARED") or REPO.parent / "shared")


def pytest_report_header(config: Any) -> list[str]:
    return [f"billow: PostgreSQL tests {'ON: ' + PG_URL if PG_URL else 'OFF (set BILLOW_TEST_DATABASE_URL)'}"]


def backend_url(backend: str, tmp_dir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / 'billow-test.db'}"
    if not PG_URL:
        pytest.skip("PostgreSQL tests need BILLOW_TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1/billow_test)")
    return PG_URL


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def billow(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Billow]:
    url = backend_url(backend, tmp_path_factory.mktemp(backend))
    kb = Billow(url, TestClock(datetime(2024, 1, 1, 12, 0, tzinfo=UTC)), start_workers=True)
    kb.security.ensure_default_admin()
    yield kb
    kb.close()
    assert not kb.db.guard.violations, "nested pooled connections:\n" + "\n".join(kb.db.guard.violations)


@pytest.fixture()
def tenant_ctx(billow: Billow) -> CallContext:
    key = f"t-{uuid.uuid4().hex[:12]}"
    tenant = billow.tenants.create(CallContext(user_name="tests"), key, "secret")
    return CallContext(user_name="tests", reason_code="test", comments="fixture").for_tenant(tenant.record_id,
                                                                                             tenant.id)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base_url: str, proc: Any, timeout: float = 90.0) -> bool:
    """Until the server at `base_url` answers its health check (True), or `proc` ended or `timeout` passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base_url}/1.0/healthcheck", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.1)


@contextlib.contextmanager
def sibling_database(suffix: str) -> Iterator[str]:
    """A fresh PostgreSQL database `<BILLOW_TEST_DATABASE_URL's name>_<suffix>`, dropped afterwards."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from billow.core.db.engine import normalize_url

    assert PG_URL is not None
    url = make_url(normalize_url(PG_URL))
    name = f"{url.database}_{suffix}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class ServerThread:
    def __init__(self, kb: Billow, app: Any = None) -> None:
        """Serve `app` (default: Billow's API over `kb`) on a free port, in a thread."""
        import uvicorn

        from billow.rest.app import create_app

        self.port = free_port()
        config = uvicorn.Config(app or create_app(kb), host="127.0.0.1", port=self.port, log_config=None,
                                access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(billow: Billow) -> Iterator[ServerThread]:
    srv = ServerThread(billow)
    srv.start()
    yield srv
    srv.stop()


class KB:
    """An HTTP client with a tenant of its own, speaking as Kill Bill clients do."""

    def __init__(self, base_url: str, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.http = httpx.Client(base_url=base_url, auth=("admin", "password"), timeout=30,
                                 headers={"X-Killbill-ApiKey": api_key, "X-Killbill-ApiSecret": api_secret,
                                          "X-Killbill-CreatedBy": "tests"})

    def __getattr__(self, name: str) -> Any:
        return getattr(self.http, name)


@pytest.fixture()
def kb(server: ServerThread) -> Iterator[KB]:
    key, secret = f"k-{uuid.uuid4().hex[:12]}", "s3cret"
    r = httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"),
                   headers={"X-Killbill-CreatedBy": "tests"}, json={"apiKey": key, "apiSecret": secret})
    assert r.status_code == 201, r.text
    client = KB(server.base_url, key, secret)
    yield client
    client.http.close()


def eventually(read: Callable[[], T], timeout: float = 120.0) -> T:
    """What `read` returns once it is truthy (work the bus does after a request answered), or its last answer after
    `timeout` seconds (the caller's assertion then fails with it)."""
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def id_from_location(response: httpx.Response) -> str:
    return response.headers["location"].rstrip("/").split("/")[-1]
