"""API load benchmark: an open-loop client on loopback against a real `billow serve` on PostgreSQL.

    python bench/api_load.py postgresql://postgres@127.0.0.1:5432/<fresh database> \\
        [--rates 50,100,150,300 | --clients 4] [--duration 30] [--serve-arg ...]

With `--clients 4` (or `2,8`, ...) the load is a closed loop instead: that many clients each start the next flow
when their last one ended, for `duration` seconds; the server's CPU per flow is then its cost flat out.

For each offered rate R, one operation is started every 1/R s for `duration` seconds, whatever the state of
the earlier ones (open loop): create an account, then, as soon as it exists, create a subscription for it (a
$10 monthly plan, so the bus makes its first invoice). Latency counts from each request's scheduled send
time (the account's; for the subscription, from when the account answered), so queueing in the client is
counted, not hidden. Printed per rate: create-account and create-subscription p50/p99/max, subscriptions
done per second, answers by status (503s are refusals under back-pressure), and the server's CPU per
subscription (account + subscription + first invoice: the server's user+system time over the step divided by
the subscriptions done, read from /proc). At the end the server is sent SIGTERM and the time it takes to stop
is printed. The count is bounded (rate x duration) and everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from costs import cpu_seconds, process_tree  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CATALOG = """<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="CatalogSchema.xsd">
  <effectiveDate>2020-01-01T00:00:00+00:00</effectiveDate><catalogName>Load</catalogName>
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_cpu_seconds(pid: int) -> float:
    """The server and its live children (worker processes of `--processes`), each with the children it waited for."""
    total = 0.0
    for p in process_tree(pid):
        with contextlib.suppress(FileNotFoundError):  # it ended meanwhile
            total += cpu_seconds(p, waited_children=True)
    return total


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


class Flows:
    """One flow: create an account, then, as soon as it exists, a subscription for it; latencies and answers."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.account_ms: list[float] = []
        self.sub_ms: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.done = 0

    async def one(self, i: int, scheduled: float) -> None:
        try:
            r = await self.client.post("/1.0/kb/accounts", json={"name": f"load-{i}", "currency": "USD",
                                                                 "externalKey": f"load-{uuid.uuid4().hex}"})
        except httpx.HTTPError as exc:
            self.statuses[f"account {type(exc).__name__}"] += 1
            return
        self.account_ms.append((time.monotonic() - scheduled) * 1000)
        self.statuses[f"account {r.status_code}"] += 1
        if r.status_code != 201:
            return
        account_id = r.headers["location"].rstrip("/").rsplit("/", 1)[1]
        sent = time.monotonic()
        try:
            r = await self.client.post("/1.0/kb/subscriptions", json={"accountId": account_id,
                                                                      "planName": "basic-monthly"})
        except httpx.HTTPError as exc:
            self.statuses[f"subscription {type(exc).__name__}"] += 1
            return
        self.sub_ms.append((time.monotonic() - sent) * 1000)
        self.statuses[f"subscription {r.status_code}"] += 1
        if r.status_code == 201:
            self.done += 1

    def result(self, elapsed: float) -> dict[str, object]:
        return {"account_ms": self.account_ms, "sub_ms": self.sub_ms, "statuses": self.statuses, "done": self.done,
                "elapsed": elapsed}


def _client(base: str, auth: dict[str, str]) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    return httpx.AsyncClient(base_url=base, headers=auth, auth=("admin", "password"), timeout=120, limits=limits)


async def run_rate(base: str, auth: dict[str, str], rate: float, duration: float) -> dict[str, object]:
    """Open loop: one flow started every 1/rate s, whatever the state of the earlier ones."""
    total = int(rate * duration)
    async with _client(base, auth) as client:
        flows = Flows(client)
        start = time.monotonic() + 0.2

        async def one(i: int) -> None:
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
            await flows.one(i, scheduled)

        began = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(total)))
        return flows.result(time.monotonic() - began)


async def run_closed(base: str, auth: dict[str, str], clients: int, duration: float) -> dict[str, object]:
    """Closed loop: `clients` clients each start a flow as soon as their last one ended, for `duration` s (what the
    server can do flat out, and its CPU per flow when it is the bottleneck)."""
    async with _client(base, auth) as client:
        flows = Flows(client)
        began = time.monotonic()
        counter = iter(range(10**9))

        async def loop() -> None:
            while time.monotonic() - began < duration:
                await flows.one(next(counter), time.monotonic())

        await asyncio.gather(*(loop() for _ in range(clients)))
        return flows.result(time.monotonic() - began)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("url", help="a fresh PostgreSQL database (postgresql://...)")
    p.add_argument("--rates", default="50,100,150,300")
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--clients", default="", help="closed loop instead: numbers of clients, e.g. 4 or 2,8")
    p.add_argument("--serve-arg", action="append", default=[], help="passed to billow serve")
    args = p.parse_args()
    port = free_port()
    env = dict(os.environ, BILLOW_ADMIN_PASSWORD="password", PYTHONPATH=str(REPO))
    # the server's log goes to a file: a pipe nobody reads fills up and blocks the server's next log line
    log_path = Path(tempfile.gettempdir()) / f"billow-api-load-{port}.log"
    log_file = log_path.open("w")
    server = subprocess.Popen([sys.executable, "-m", "billow.cli.main", "serve", "--port", str(port),
                               "--database-url", args.url, "--no-access-log", *args.serve_arg], cwd=REPO, env=env,
                              stdout=log_file, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    unexpected = 0  # answers 5xx other than 503
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/1.0/healthcheck", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("billow serve did not start")
            time.sleep(0.2)
        key = f"load-{uuid.uuid4().hex[:8]}"
        admin = {"X-Killbill-CreatedBy": "bench"}
        httpx.post(f"{base}/1.0/kb/tenants", json={"apiKey": key, "apiSecret": "secret"}, headers=admin,
                   auth=("admin", "password")).raise_for_status()
        auth = {**admin, "X-Killbill-ApiKey": key, "X-Killbill-ApiSecret": "secret"}
        httpx.post(f"{base}/1.0/kb/catalog/xml", content=CATALOG, auth=("admin", "password"),
                   headers={**auth, "Content-Type": "text/xml"}).raise_for_status()
        closed = [int(c) for c in args.clients.split(",") if c]
        steps: list[float] = [float(c) for c in closed] or [float(r) for r in args.rates.split(",")]
        print(f"billow serve on PostgreSQL (pid {server.pid}), {'closed' if closed else 'open'} loop, "
              f"{args.duration:.0f} s per {'number of clients' if closed else 'rate'}")
        for rate in steps:
            cpu0 = tree_cpu_seconds(server.pid)
            res = asyncio.run(run_closed(base, auth, int(rate), args.duration) if closed
                              else run_rate(base, auth, rate, args.duration))
            time.sleep(2)  # let the bus finish the first invoices of the step
            cpu = tree_cpu_seconds(server.pid) - cpu0
            a, s = res["account_ms"], res["sub_ms"]
            done = int(res["done"])  # type: ignore[call-overload]
            statuses = res["statuses"]
            assert isinstance(a, list) and isinstance(s, list) and isinstance(statuses, Counter)
            step = f"{rate:>5.0f}{' clients' if closed else '/s'}"
            print(f"{step}  account p50 {pct(a, .5):7.1f} p99 {pct(a, .99):8.1f} max {max(a or [0]):8.1f} ms"
                  f" | subscription p50 {pct(s, .5):7.1f} p99 {pct(s, .99):8.1f} max {max(s or [0]):8.1f} ms"
                  f" | {done / args.duration:6.1f} subscriptions/s | CPU {1000 * cpu / max(done, 1):5.1f} ms each"
                  f" | {dict(sorted(statuses.items()))}")
            if s:
                print(f"        subscription latency stdev {statistics.pstdev(s):.1f} ms")
            # a 503 is a refusal under back-pressure; any other 5xx is a bug, and fails the run (CI's bench step)
            unexpected += sum(n for key, n in statuses.items()
                              if key.split()[-1].isdigit() and 500 <= int(key.split()[-1]) != 503)
    finally:
        began = time.monotonic()
        server.send_signal(signal.SIGTERM)
        stopped = True
        try:
            server.wait(timeout=120)
            print(f"SIGTERM: the server stopped in {time.monotonic() - began:.1f} s")
        except subprocess.TimeoutExpired:
            print("SIGTERM: the server did not stop within 120 s; killed")
            server.kill()
            stopped = False
        log_file.close()
        print(f"server log: {log_path}")
    if unexpected:
        print(f"{unexpected} answers were 5xx other than 503")
    return 0 if stopped and not unexpected else 1


if __name__ == "__main__":
    sys.exit(main())
