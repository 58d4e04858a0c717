"""A billing day at scale: N accounts with one $10 monthly subscription each, loaded through the bulk path, then
one billing day (every account due at once).

    python bench/billing_day.py N postgresql://... [--nodes 2] [--rows]   (a database of its own: its schema is
                                                                         dropped)

Printed: the load (accounts and subscriptions through `Billow.bulk`, a batch of 500 per transaction), the first
invoices (the bus, on SUBSCRIPTION_CREATION), the billing day (the test clock moved one month: the next-billing-
date notification's run, in the worker processes), each with its time and rate, and the peak memory of this
process and of the largest child process (billing worker or bus helper: `billow serve`'s number of each, see
`BILLOW_BILLING_PROCESSES` and `BILLOW_BUS_PROCESSES`). The accounts are generated as they are loaded (memory
flat in N).

Each phase after the load prints its costs (`costs.py`): the CPU of Billow's processes and of PostgreSQL (when
the database runs on this machine) and the rows written, per invoice; the first invoices' CPU includes the start
of the bus helper processes. `--rows` adds the rows of each table.

`--nodes 2` starts a second node (`billow serve --test-mode` on the same database, as in `billing_run.py`) after
the load: the bus of both nodes makes the first invoices, and the second node helps the billing day's run; the
script prints the accounts each node billed that day and checks that every account has exactly two invoices.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billow.account.model import AccountData  # noqa: E402
from billow.app import Billow  # noqa: E402
from billow.core.bus.helpers import default_bus_processes  # noqa: E402
from billow.core.clock import TestClock  # noqa: E402
from billow.core.context import CallContext  # noqa: E402
from billow.core.gcpause import freeze_start_up  # noqa: E402
from billow.entitlement.model import SubscriptionRequest  # noqa: E402
from billow.invoice.billing_pool import default_processes  # noqa: E402
from billow.operations.bulk import BulkReport, NewAccount  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from billing_run import CATALOG, SecondNode, _count_invoices, _invoices_per_account, start_billing  # noqa: E402
from costs import CostMeter  # noqa: E402

START = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
DAY = datetime(2024, 2, 1, 9, 0, tzinfo=UTC)  # the billing day: every account's next billing date


def accounts(n: int) -> Iterator[NewAccount]:
    for i in range(n):
        yield NewAccount(AccountData(name=f"acc {i}", currency="USD", external_key=f"a{i}"),
                         [SubscriptionRequest(account_id="", plan_name="basic-monthly")])


def peak_mb() -> tuple[float, float]:
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def main() -> None:
    args = sys.argv[1:]
    day_only = "--day-only" in args
    rows = "--rows" in args
    if rows:
        args.remove("--rows")
    if day_only:
        args.remove("--day-only")
    nodes = 1
    if "--nodes" in args:
        at = args.index("--nodes")
        nodes = int(args[at + 1])
        del args[at:at + 2]
    if len(args) < 2 or not args[1].startswith("postgres") or nodes not in (1, 2):
        raise SystemExit("usage: python bench/billing_day.py N postgresql://... [--nodes 2] [--day-only] [--rows]")
    n, url = int(args[0]), args[1]
    if day_only:
        billing_day_only(n, url)
        return
    import sqlalchemy as sa

    from billow.core.db.engine import normalize_url

    engine = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.exec_driver_sql("DROP SCHEMA public CASCADE")
        c.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    clock = TestClock(START)
    kb = Billow(url, clock, worker_threads=4, billing_processes=default_processes(server=True),
                bus_processes=default_bus_processes(server=True))
    freeze_start_up()  # as `billow serve` does once its application is built
    tenant = kb.tenants.create(CallContext(user_name="bench"), "bench", "secret")
    ctx = CallContext(user_name="bench").for_tenant(tenant.record_id, tenant.id)
    kb.catalogs.upload(ctx, CATALOG)

    t0 = time.perf_counter()

    def progress(r: BulkReport) -> None:
        if r.batches % 200 == 0:
            print(f"  loaded {r.accounts} accounts in {time.perf_counter() - t0:.0f} s", flush=True)

    report = kb.bulk.load(ctx, accounts(n), progress=progress)
    load = time.perf_counter() - t0
    print(f"load: {report.accounts} accounts and {report.subscriptions} subscriptions in {load:.1f} s "
          f"=> {report.accounts / load:.0f} accounts/s")
    runs = start_billing(kb)
    second = SecondNode(url, clock.utcnow()) if nodes > 1 else None  # its bus starts on the waiting events
    meter = CostMeter(kb.db.engine, [os.getpid()] + ([second.proc.pid] if second is not None else []))
    meter.start()
    t1 = time.perf_counter()
    kb.start()
    assert kb.run_until_idle(24 * 3600)
    if second is not None:  # idle here: what the other node still handles is done too
        second.wait_idle(clock.utcnow())
    first = time.perf_counter() - t1
    invoices = _count_invoices(kb)
    print(f"first invoices: {invoices} in {first:.1f} s => {invoices / first:.0f} invoices/s "
          f"(load + first invoices: {load + first:.1f} s)")
    print(meter.line(invoices))
    if rows:
        print("\n".join(meter.table_lines(invoices)))
    meter.start()
    t2 = time.perf_counter()
    day_at = DAY
    moving = second.set_clock(day_at) if second is not None else None
    clock.set(day_at)
    assert kb.run_until_idle(24 * 3600)
    if moving is not None:
        moving.join()
        assert kb.run_until_idle(24 * 3600)
    day = time.perf_counter() - t2
    billed = _count_invoices(kb) - invoices
    print(f"billing day: {billed} invoices in {day:.1f} s => {billed / day:.0f} invoices/s"
          + (f" ({nodes} nodes)" if nodes > 1 else ""))
    print(meter.line(billed))
    if rows:
        print("\n".join(meter.table_lines(billed)))
    if second is not None:
        second.stop(runs)
        for node, node_accounts in sorted(runs.accounts.items(), key=lambda kv: kv[0] != kb.bus.node_name):
            which = "this process" if node == kb.bus.node_name else "the second node"
            print(f"  node {node} ({which}): {node_accounts} accounts billed in {runs.runs[node]} runs and helps")
        if n - sum(runs.accounts.values()):
            print(f"  this process's bus helper processes: {n - sum(runs.accounts.values())} accounts")
        per_account = _invoices_per_account(kb)
        assert len(per_account) == n and set(per_account.values()) == {2}, "an account billed twice or missed"
        print(f"  every account has exactly 2 invoices ({n} accounts)")
    kb.close()
    print_peak(kb, second_node=nodes > 1)


def print_peak(kb: Billow, *, second_node: bool = False) -> None:
    own, child = peak_mb()
    helpers = kb.helpers.processes if kb.helpers is not None else 0
    what = "billing worker, bus helper or second node" if second_node else "billing worker or bus helper"
    print(f"peak RSS {own:.0f} MB; largest child process ({what}) {child:.0f} MB ({kb.invoices.run.processes} "
          f"billing processes, {helpers} bus helpers)")


def billing_day_only(n: int, url: str) -> None:
    """`--day-only`: the billing day of a database an earlier run of this script loaded (its clock moved to the
    day; accounts it billed already are not billed again): the load and first invoices of a million accounts take
    over an hour, the day is what changes."""
    clock = TestClock(DAY)
    kb = Billow(url, clock, worker_threads=4, billing_processes=default_processes(server=True),
                bus_processes=default_bus_processes(server=True))
    freeze_start_up()
    before = _count_invoices(kb)
    start_billing(kb)
    t = time.perf_counter()
    kb.start()
    assert kb.run_until_idle(24 * 3600)
    day = time.perf_counter() - t
    billed = _count_invoices(kb) - before
    print(f"billing day (--day-only, {before - n} billed before): {billed} invoices in {day:.1f} s "
          f"=> {billed / day:.0f} invoices/s")
    per_account = _invoices_per_account(kb)
    assert len(per_account) == n and set(per_account.values()) == {2}, "an account billed twice or missed"
    print(f"  every account has exactly 2 invoices ({n} accounts)")
    kb.close()
    print_peak(kb)


if __name__ == "__main__":
    main()
