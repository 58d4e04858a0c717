"""Three `billow serve` nodes on one PostgreSQL database under load from a loopback client: accounts and
subscriptions created through all three at once, the test clock moved month by month on each, one node
killed with SIGKILL mid-month and restarted. Every bus event handled once, every invoice generated once, no
deadlock, `GET /1.0/kb/nodesInfo` lists the nodes with their heartbeats."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from dateutil.relativedelta import relativedelta

from tests.resilience.nodes import API_KEY, API_SECRET, CATALOG, PG_URL, T0, Node, recreate, sibling_url, snapshot

pytestmark = [pytest.mark.resilience,
              pytest.mark.skipif(not PG_URL, reason="the resilience tests need BILLOW_TEST_DATABASE_URL")]
ACCOUNTS = 300


def _set_clocks(nodes: list[Node], when: datetime) -> None:
    """Each node has its own test clock: set them all, then wait until the work now due is done."""
    for n in nodes:
        assert n.set_clock(when, timeout_s=0).status_code in (200, 412)
    for n in nodes:
        with n.client() as c:
            assert c.get("/1.0/kb/test/queues", params={"timeoutSec": 600}).status_code == 200


def test_three_nodes_bill_every_account_once_and_survive_a_killed_node() -> None:
    url = sibling_url("three")
    recreate(url)
    nodes = [Node(url, name, processes=1) for name in ("a", "b", "c")]
    statuses: list[int] = []
    lock = threading.Lock()
    try:
        for n in nodes:
            n.start(T0)
        with nodes[0].client() as c:
            r = c.post("/1.0/kb/tenants", json={"apiKey": API_KEY, "apiSecret": API_SECRET})
            assert r.status_code == 201, r.text
        with nodes[1].client() as c:
            c.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).raise_for_status()
        _set_clocks(nodes, T0)
        with nodes[2].client() as c:
            info = c.get("/1.0/kb/nodesInfo").json()
        assert len(info) == 3 and all(i["lastUpdatedDate"] for i in info)

        clients = [n.client() for n in nodes]

        def create(i: int) -> None:
            c = clients[i % 3]
            r = c.post("/1.0/kb/accounts", json={"name": f"acc {i}", "currency": "USD",
                                                 "externalKey": f"a{i:05d}"})
            codes = [r.status_code]
            if r.status_code == 201:
                account_id = r.headers["location"].rstrip("/").rsplit("/", 1)[1]
                codes.append(clients[(i + 1) % 3].post("/1.0/kb/subscriptions", json={
                    "accountId": account_id, "planName": "basic-monthly"}).status_code)
            with lock:
                statuses.extend(codes)

        began = time.monotonic()
        with ThreadPoolExecutor(12) as pool:
            list(pool.map(create, range(ACCOUNTS)))
        created_s = time.monotonic() - began
        for c in clients:
            c.close()
        assert statuses == [201] * (2 * ACCOUNTS)
        _set_clocks(nodes, T0)  # the first invoices

        killed_s = 0.0
        for m in (1, 2, 3):
            when = T0 + relativedelta(months=m)
            if m != 2:
                _set_clocks(nodes, when)
                continue
            for n in nodes:  # month 2: node c dies in the middle of the billing and comes back
                n.set_clock(when, timeout_s=0)
            time.sleep(1.0)
            nodes[2].kill()
            began = time.monotonic()
            nodes[2].start(when)
            _set_clocks(nodes, when)
            killed_s = time.monotonic() - began
        stop_s = [n.stop() for n in nodes]
    finally:
        for n in nodes:
            if n.proc is not None and n.proc.poll() is None:
                n.stop()
    snap = snapshot(url)
    print(f"\nthree nodes: {ACCOUNTS} accounts and subscriptions created through all three in {created_s:.1f} s; "
          f"month 2 with node c killed and restarted done in {killed_s:.1f} s; stopped in "
          f"{', '.join(f'{s:.1f}' for s in stop_s)} s after SIGTERM")
    assert len(snap["invoices"]) == ACCOUNTS
    expected = [(str(d.date()), str(d.date()), "COMMITTED",
                 [("RECURRING", str(d.date()), str((d + relativedelta(months=1)).date()), "10")])
                for d in (T0 + relativedelta(months=m) for m in range(4))]
    for key, invoices in snap["invoices"].items():
        assert invoices == expected, key
    assert snap["processed_twice"] == 0 and snap["pending_events"] == 0
    assert max(stop_s) < 30
