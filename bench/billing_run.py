"""Billing-run benchmark: N accounts, one $10 monthly in-advance subscription each, one catalog, 12 months.

    python bench/billing_run.py N [database-url] [--nodes 2]     (default: a fresh SQLite file)

Set-up goes through the services (accounts, subscriptions; the first invoice of each account is made by
the bus on SUBSCRIPTION_CREATION). Then the test clock moves one month at a time and the billing run
(`InvoiceService.run_due`, what the next-billing-date notification and `billow bill` call) bills every
account due. Printed: set-up time, invoices written by the runs, invoices/s over the 12 runs, peak RSS.

`--nodes 2` (PostgreSQL) adds a second node, a `billow serve --test-mode` process on the same database, for
the clock-move months: both clocks move together, the node that takes the next-billing-date notification asks
the other to help, and the script prints the accounts each node billed (from their "billing run" log lines)
and checks that every account has exactly one invoice per month.

On PostgreSQL each phase also prints its costs (`costs.py`): the CPU of Billow's processes and of PostgreSQL
(when the database runs on this machine) and the rows written, per invoice, over the phase's whole window; for
`billow bill` that window includes the bus work after each run (payments of the new invoices), which its rate
leaves out. `--rows` adds the rows of each table.
"""

from __future__ import annotations

import logging
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billow.account.model import AccountData  # noqa: E402
from billow.app import Billow  # noqa: E402
from billow.core.bus.helpers import default_bus_processes  # noqa: E402
from billow.core.clock import TestClock  # noqa: E402
from billow.core.context import CallContext  # noqa: E402
from billow.core.gcpause import freeze_start_up  # noqa: E402
from billow.entitlement.model import SubscriptionRequest  # noqa: E402
from billow.invoice.billing_pool import default_processes  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from costs import CostMeter  # noqa: E402

CATALOG = """<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="CatalogSchema.xsd">
  <effectiveDate>2020-01-01T00:00:00+00:00</effectiveDate><catalogName>Bench</catalogName>
  <recurringBillingMode>IN_ADVANCE</recurringBillingMode>
  <currencies><currency>USD</currency></currencies>
  <products><product name="Basic"><category>BASE</category></product></products>
  <rules>
    <changePolicy><changePolicyCase><policy>IMMEDIATE</policy></changePolicyCase></changePolicy>
    <changeAlignment><changeAlignmentCase><alignment>START_OF_SUBSCRIPTION</alignment></changeAlignmentCase>
    </changeAlignment>
    <cancelPolicy><cancelPolicyCase><policy>IMMEDIATE</policy></cancelPolicyCase></cancelPolicy>
    <createAlignment><createAlignmentCase><alignment>START_OF_BUNDLE</alignment></createAlignmentCase>
    </createAlignment>
    <billingAlignment><billingAlignmentCase><alignment>ACCOUNT</alignment></billingAlignmentCase></billingAlignment>
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


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_children_mb() -> float:
    """The largest worker process (billing-run processes end with the Billow)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _count_invoices(kb: Billow) -> int:
    from sqlalchemy import func, select

    from billow.invoice.store import INV

    with kb.db.read_connection() as conn:
        return int(conn.execute(select(func.count()).select_from(INV)).scalar_one())


class RunLog(logging.Handler):
    """Counts the accounts each node billed, from the runs' "billing run of tenant T on NODE: A accounts" lines."""

    PATTERN = re.compile(r"billing run of tenant \d+ on (\S+?)(?: \(helping\))?: (\d+) accounts")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.accounts: Counter[str] = Counter()
        self.runs: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.add(record.getMessage())

    def add(self, line: str) -> None:
        m = self.PATTERN.search(line)
        if m:
            self.accounts[m.group(1)] += int(m.group(2))
            self.runs[m.group(1)] += 1


class SecondNode:
    """`billow serve --test-mode` on the same database, its log in a file."""

    def __init__(self, url: str, start: datetime) -> None:
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = Path(tempfile.mkdtemp()) / "node2.log"
        self.log = self.log_path.open("w")
        env = dict(os.environ, BILLOW_ADMIN_PASSWORD="password")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "billow.cli.main", "serve", "--test-mode", "--port", str(port), "--workers", "4",
             "--test-clock", start.isoformat(), "--database-url", url, "--no-access-log"],
            cwd=Path(__file__).resolve().parents[1], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.base}/1.0/healthcheck", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the second node did not start")
            time.sleep(0.2)

    def set_clock(self, when: datetime) -> threading.Thread:
        """Move its clock, in a thread (the call returns once that node is idle)."""
        def move() -> None:
            httpx.post(f"{self.base}/1.0/kb/test/clock", auth=("admin", "password"), timeout=3600,
                       params={"requestedDate": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "timeoutSec": 3600},
                       headers={"X-Killbill-ApiKey": "bench", "X-Killbill-ApiSecret": "secret"})
        t = threading.Thread(target=move)
        t.start()
        return t

    def wait_idle(self, when: datetime) -> None:
        """Until its bus is idle (its clock set where it is: POST /test/clock waits for the queues)."""
        self.set_clock(when).join()

    def stop(self, runs: RunLog) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()
        for line in self.log_path.read_text().splitlines():
            runs.add(line)


def start_billing(kb: Billow) -> RunLog:
    """The billing worker processes started before the clock, as in a running `billow serve`; the runs' log lines
    counted by node."""
    pool = kb.invoices.run.billing_pool()
    if pool is not None:
        pool.start()
    runs = RunLog()
    logging.getLogger("billow.invoice").addHandler(runs)
    logging.getLogger("billow.invoice").setLevel(logging.INFO)
    return runs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _invoices_per_account(kb: Billow) -> Counter[int]:
    from sqlalchemy import func, select

    from billow.invoice.store import INV

    with kb.db.read_connection() as conn:
        rows = conn.execute(select(INV.c.account_record_id, func.count()).group_by(INV.c.account_record_id))
        return Counter({int(arid): int(c) for arid, c in rows})


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--nodes") and a != "--rows"]
    nodes = 1
    if "--nodes" in sys.argv:
        nodes = int(sys.argv[sys.argv.index("--nodes") + 1])
        args.remove(str(nodes))
    n = int(args[0]) if args else 1000
    url = args[1] if len(args) > 1 else f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    if nodes > 1 and not url.startswith("postgres"):
        raise SystemExit("--nodes needs a PostgreSQL database")
    if url.startswith("postgres"):
        import sqlalchemy as sa

        from billow.core.db.engine import normalize_url
        engine = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            c.exec_driver_sql("DROP SCHEMA public CASCADE")
            c.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
    clock = TestClock(datetime(2024, 1, 1, 8, 0, tzinfo=UTC))
    # as `billow serve` and `billow bill` do: big runs use worker processes (BILLOW_BILLING_PROCESSES, else one
    # per CPU); this script has the __main__ guard multiprocessing's spawn needs
    kb = Billow(url, clock, worker_threads=4, billing_processes=default_processes(server=True),
                bus_processes=default_bus_processes(server=True))
    freeze_start_up()  # as `billow serve` does once its application is built
    tenant = kb.tenants.create(CallContext(user_name="bench"), "bench", "secret")
    ctx = CallContext(user_name="bench").for_tenant(tenant.record_id, tenant.id)
    kb.catalogs.upload(ctx, CATALOG)
    t0 = time.perf_counter()
    for i in range(n):
        a = kb.accounts.create(ctx, AccountData(name=f"acc {i}", currency="USD", external_key=f"a{i}"))
        kb.entitlements.create(ctx, [SubscriptionRequest(account_id=a.id, plan_name="basic-monthly")])
        if i % 500 == 499:
            kb.run_until_idle(600)
    kb.run_until_idle(600)
    setup = time.perf_counter() - t0
    print(f"set-up: {n} accounts, subscriptions and first invoices in {setup:.1f}s")
    done = [_count_invoices(kb)]
    db = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    # months 2-7 through the billing run itself (what `billow bill` and the next-billing-date
    # notification call); months 8-13 end to end: move the test clock and wait until the bus
    # workers have fired the due notifications and billed every account (as POST /test/clock does)
    runs = start_billing(kb)
    second: SecondNode | None = None
    meter = None if kb.db.is_sqlite else CostMeter(kb.db.engine, [os.getpid()])
    for label, months, via_clock in (("billow bill / run_due", range(2, 8), False),
                                     ("clock move, end to end", range(8, 14), True)):
        if via_clock:
            kb.start()
            if nodes > 1:
                second = SecondNode(url, clock.utcnow())
                label += f", {nodes} nodes"
        total = 0
        elapsed = 0.0
        per_month: list[str] = []
        if meter is not None:
            if kb.helpers is not None:
                kb.helpers.wait_ready()  # their start-up is not the phase's
            if second is not None:
                meter.pids = [os.getpid(), second.proc.pid]
            meter.start()
        for month in months:
            year, m = 2024 + (month - 1) // 12, (month - 1) % 12 + 1
            t = time.perf_counter()
            when = datetime(year, m, 1, 9, 0, tzinfo=UTC)
            moving = second.set_clock(when) if second is not None else None
            clock.set(when)
            if via_clock:
                assert kb.run_until_idle(3600)
                if moving is not None:
                    moving.join()
                    assert kb.run_until_idle(3600)
                invoices = _count_invoices(kb) - sum(done)
            else:
                report = kb.invoices.run_due(tenant=tenant.record_id)
                assert not report.failed and not report.parked, report
                invoices = report.invoices
            spent = time.perf_counter() - t
            elapsed += spent
            total += invoices
            per_month.append(f"{month}: {invoices / spent:.0f}/s" if spent else f"{month}: -")
            done.append(invoices)
            if not via_clock:
                kb.run_until_idle(3600)
        print(f"billow [{db}] N={n}, {label}: {total} invoices in {elapsed:.1f}s => {total / elapsed:.0f} invoices/s")
        print(f"  by month: {', '.join(per_month)}")
        if meter is not None:
            print(meter.line(total))
            if "--rows" in sys.argv:
                print("\n".join(meter.table_lines(total)))
    if second is not None:
        second.stop(runs)
        node1 = kb.bus.node_name
        for node, accounts in sorted(runs.accounts.items(), key=lambda kv: kv[0] != node1):
            which = "this process" if node == node1 else "the second node"
            print(f"  node {node} ({which}): {accounts} accounts billed in {runs.runs[node]} runs and helps")
        helped = 6 * n - sum(runs.accounts.values())
        if helped:
            print(f"  this process's bus helper processes: {helped} accounts (their logs are their own)")
        per_account = _invoices_per_account(kb)
        assert len(per_account) == n and set(per_account.values()) == {13}, "an account billed twice or missed"
        print(f"  every account has exactly 13 invoices ({n} accounts)")
    kb.close()
    helpers = kb.helpers.processes if kb.helpers is not None else 0
    workers = "" if db == "SQLite" else (f"; largest child process {peak_rss_children_mb():.0f} MB "
                                         f"({kb.invoices.run.processes} billing processes, {helpers} bus helpers)")
    print(f"billow [{db}] peak RSS {peak_rss_mb():.0f} MB{workers}")


if __name__ == "__main__":
    main()
