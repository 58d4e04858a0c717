"""Real `billow serve` processes on PostgreSQL for the resilience tests: start, kill, restart, compare.

The databases are siblings of BILLOW_TEST_DATABASE_URL (`<name>_res_<suffix>`), made from a template that
holds a loaded world (tenant, catalog, accounts with subscriptions and their first invoices), so that a
reference run and a run with failures start from identical rows (ids included) and can be compared row by
row.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from billow.core.db.engine import normalize_url
from tests.conftest import free_port, wait_healthy

REPO = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("BILLOW_TEST_DATABASE_URL")
API_KEY, API_SECRET = "resilience", "secret"
CATALOG = """<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="CatalogSchema.xsd">
  <effectiveDate>2020-01-01T00:00:00+00:00</effectiveDate><catalogName>Resilience</catalogName>
  <recurringBillingMode>IN_ADVANCE</recurringBillingMode>
  <currencies><currency>USD</currency></currencies>
  <products><product name="Basic"><category>BASE</category></product></products>
  <rules>
    <changePolicy><changePolicyCase><policy>IMMEDIATE</policy></changePolicyCase></changePolicy>
    <cancelPolicy><cancelPolicyCase><policy>IMMEDIATE</policy></cancelPolicyCase></cancelPolicy>
  </rules>
  <plans><plan name="basic-monthly"><product>Basic</product>
    <finalPhase type="EVERGREEN"><duration><unit>UNLIMITED</unit></duration>
      <recurring><billingPeriod>MONTHLY</billingPeriod>
        <recurringPrice><price><currency>USD</currency><value>10.00</value></price></recurringPrice>
      </recurring></finalPhase></plan></plans>
  <priceLists><defaultPriceList name="DEFAULT"><plans><plan>basic-monthly</plan></plans></defaultPriceList>
  </priceLists>
</catalog>
"""


def _admin_engine() -> Any:
    assert PG_URL is not None
    return create_engine(make_url(normalize_url(PG_URL)).set(database="postgres"), isolation_level="AUTOCOMMIT")


def sibling_url(suffix: str) -> str:
    assert PG_URL is not None
    url = make_url(normalize_url(PG_URL))
    return url.set(database=f"{url.database}_res_{suffix}").render_as_string(hide_password=False)


def recreate(url: str, template: str | None = None) -> None:
    name = make_url(url).database
    admin = _admin_engine()
    with admin.connect() as conn:
        for db in (name, template):
            if db:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d "
                                  "AND pid <> pg_backend_pid()"), {"d": db})
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    admin.dispose()


def load_world(url: str, accounts: int, start: datetime) -> None:
    """A tenant, the catalog and `accounts` accounts with a $10 monthly subscription each and their first
    invoice, through the embedded API (faster than HTTP for the set-up, and not what is under test)."""
    from billow.account.model import AccountData
    from billow.app import Billow
    from billow.core.clock import TestClock
    from billow.core.context import CallContext
    from billow.entitlement.model import SubscriptionRequest

    kb = Billow(url, TestClock(start), billing_processes=1)
    try:
        kb.security.ensure_default_admin()
        tenant = kb.tenants.create(CallContext(user_name="setup"), API_KEY, API_SECRET)
        ctx = CallContext(user_name="setup").for_tenant(tenant.record_id, tenant.id)
        kb.catalogs.upload(ctx, CATALOG)
        for i in range(accounts):
            a = kb.accounts.create(ctx, AccountData(name=f"acc {i}", currency="USD", external_key=f"a{i:05d}"))
            kb.entitlements.create(ctx, [SubscriptionRequest(account_id=a.id, plan_name="basic-monthly")])
            if i % 250 == 249:
                assert kb.run_until_idle(600)
        assert kb.run_until_idle(600)
    finally:
        kb.close()


class Node:
    """One `billow serve --test-mode` process."""

    def __init__(self, url: str, name: str, *, processes: int = 2) -> None:
        self.url, self.name, self.processes = url, name, processes
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, clock: datetime, *, env: dict[str, str] | None = None) -> Node:
        """Start the server with its test clock at `clock` (a new process's test clock would start at now, and
        its bus would fire everything due by then before the clock could be set); `env` adds variables (a
        failpoint)."""
        env = dict(os.environ, BILLOW_ADMIN_PASSWORD="password", PYTHONPATH=str(REPO),
                   BILLOW_BILLING_PROCESSES=str(self.processes), **(env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "billow.cli.main", "serve", "--test-mode", "--port", str(self.port),
             "--test-clock", clock.isoformat(), "--database-url", self.url, "--workers", "4",
             "--log-level", "WARNING"],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True)
        self.starts += 1
        if not wait_healthy(self.base, self.proc):
            raise RuntimeError(f"node {self.name} did not start")
        self.set_clock(clock)  # and wait for what is due
        return self

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, auth=("admin", "password"), timeout=600,
                            headers={"X-Killbill-ApiKey": API_KEY, "X-Killbill-ApiSecret": API_SECRET,
                                     "X-Killbill-CreatedBy": "resilience"})

    def set_clock(self, when: datetime, timeout_s: int = 600) -> httpx.Response:
        with self.client() as c:
            return c.post("/1.0/kb/test/clock", params={
                "requestedDate": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "timeoutSec": timeout_s})

    def kill(self) -> None:
        """SIGKILL, as a crash would: the server process only (its billing worker processes are orphaned and
        end by themselves, as they would after a real crash of their parent)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> float:
        """SIGTERM; the seconds the server took to stop."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            raise
        return time.monotonic() - began


class Receiver:
    """A push-notification callback on loopback: counts what each path received."""

    def __init__(self) -> None:
        received: dict[str, list[dict[str, Any]]] = {}
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    received.setdefault(self.path, []).append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def counted(self, path: str) -> Counter[tuple[str, str, str]]:
        """Notifications received on `path` by event type, account and object type (object ids such as new
        invoices' differ from run to run)."""
        return Counter((b["eventType"], str(b.get("accountId")), str(b.get("objectType")))
                       for b in self.received.get(path, []))

    def settle(self, path: str, quiet_s: float = 3.0, timeout_s: float = 120.0) -> None:
        """Wait until nothing more arrives on `path` for `quiet_s` (the last pushes follow the bus)."""
        deadline = time.monotonic() + timeout_s
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            n = len(self.received.get(path, []))
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            time.sleep(0.2)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def snapshot(url: str) -> dict[str, Any]:
    """What must be the same after any run: per account (by external key), its invoices with their items and
    its balance; the bus events processed, per type and account; no event processed twice."""
    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT record_id, external_key FROM accounts")).all())
        invoices: dict[str, list[Any]] = {}
        items = conn.execute(text(
            "SELECT i.account_record_id, i.invoice_date, i.target_date, i.status, t.type, t.start_date, "
            "t.end_date, t.amount, i.id FROM invoices i JOIN invoice_items t ON t.invoice_id = i.id")).all()
        by_invoice: dict[str, list[Any]] = {}
        heads: dict[str, tuple[Any, ...]] = {}
        for r in items:
            by_invoice.setdefault(r.id, []).append((r.type, str(r.start_date), str(r.end_date),
                                                    format(Decimal(r.amount).normalize(), "f")))
            heads[r.id] = (r.account_record_id, str(r.invoice_date), str(r.target_date), r.status)
        for inv_id, (arid, *head) in heads.items():
            invoices.setdefault(keys[arid], []).append((*head, sorted(by_invoice[inv_id])))
        processed = conn.execute(text(
            "SELECT class_name, search_key1, event_json FROM bus_events_history "
            "WHERE processing_state = 'PROCESSED'")).all()
        pending = conn.execute(text("SELECT count(*) FROM bus_events")).scalar_one()
    engine.dispose()
    events = Counter((r.class_name.rsplit(".", 1)[-1], keys.get(r.search_key1)) for r in processed)
    twice = sum(n - 1 for n in Counter((r.class_name, _event_identity(r.event_json)) for r in processed).values()
                if n > 1)
    balances = {k: sum(Decimal(i[3]) for inv in v for i in inv[3] if inv[2] != "VOID") for k, v in invoices.items()}
    return {"invoices": {k: sorted(v) for k, v in invoices.items()}, "events": events, "processed_twice": twice,
            "pending_events": pending, "balances": balances}


def _event_identity(event_json: str) -> str:
    body = json.loads(event_json)
    body.pop("user_token", None)
    return json.dumps(body, sort_keys=True)


T0 = datetime(2024, 1, 15, 9, 0, tzinfo=UTC)
