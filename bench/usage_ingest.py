"""Usage benchmark: records/s recorded through the batch REST endpoint and through the embedded API, and the time
to rate an invoice over 1,000,000 records.

    python bench/usage_ingest.py [database-url] [--records N] [--batch B] [--clients C] [--rating R]

Default: a fresh SQLite file; a PostgreSQL database given is emptied first (its public schema is recreated).
Set-up: 100 accounts with one metered subscription each (consumable usage, two tiers). Then:
1. the embedded API (`Billow.usage.record_usage_batch`): N records in batches of B (one entry per subscription and
   batch, each with its own tracking id);
2. the batch REST endpoint (`POST /1.0/kb/usages/batch`) of a `billow serve` process on the same database, with C
   clients at once posting the same kind of batches (bodies serialised beforehand);
3. one subscription with R records in one month (recorded through the embedded API), then its invoice: the read of
   the raw usage, the rater alone, and the whole invoice run (`InvoiceService.trigger`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from billow.account.model import AccountData  # noqa: E402
from billow.app import Billow  # noqa: E402
from billow.core.clock import TestClock  # noqa: E402
from billow.core.context import CallContext  # noqa: E402
from billow.entitlement.model import SubscriptionRequest  # noqa: E402
from billow.invoice.usage_items import rating_settings  # noqa: E402
from billow.usage.model import SubscriptionUsageRecord, UnitUsageRecord, UsageRecord  # noqa: E402
from billow.usage.rater import rate_usage  # noqa: E402

CATALOG = """<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="CatalogSchema.xsd">
  <effectiveDate>2020-01-01T00:00:00+00:00</effectiveDate><catalogName>UsageBench</catalogName>
  <recurringBillingMode>IN_ADVANCE</recurringBillingMode>
  <currencies><currency>USD</currency></currencies>
  <units><unit name="calls"/></units>
  <products><product name="Api"><category>BASE</category></product></products>
  <rules>
    <changePolicy><changePolicyCase><policy>IMMEDIATE</policy></changePolicyCase></changePolicy>
    <changeAlignment><changeAlignmentCase><alignment>START_OF_SUBSCRIPTION</alignment></changeAlignmentCase>
    </changeAlignment>
    <cancelPolicy><cancelPolicyCase><policy>IMMEDIATE</policy></cancelPolicyCase></cancelPolicy>
    <createAlignment><createAlignmentCase><alignment>START_OF_BUNDLE</alignment></createAlignmentCase>
    </createAlignment>
    <billingAlignment><billingAlignmentCase><alignment>ACCOUNT</alignment></billingAlignmentCase></billingAlignment>
  </rules>
  <plans><plan name="api-metered"><product>Api</product>
    <finalPhase type="EVERGREEN"><duration><unit>UNLIMITED</unit></duration>
      <usages><usage name="api-calls" billingMode="IN_ARREAR" usageType="CONSUMABLE">
        <billingPeriod>MONTHLY</billingPeriod>
        <tiers>
          <tier><blocks><tieredBlock><unit>calls</unit><size>1000</size>
            <prices><price><currency>USD</currency><value>0.50</value></price></prices><max>100</max>
          </tieredBlock></blocks></tier>
          <tier><blocks><tieredBlock><unit>calls</unit><size>1000</size>
            <prices><price><currency>USD</currency><value>0.20</value></price></prices><max>-1</max>
          </tieredBlock></blocks></tier>
        </tiers>
      </usage></usages>
    </finalPhase></plan></plans>
  <priceLists><defaultPriceList name="DEFAULT"><plans><plan>api-metered</plan></plans></defaultPriceList>
  </priceLists>
</catalog>
"""
START = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
SUBSCRIPTIONS = 100


def reset(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import sqlalchemy as sa

    from billow.core.db.engine import normalize_url

    engine = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.exec_driver_sql("DROP SCHEMA public CASCADE")
        c.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def batches(subscriptions: list[str], total: int, size: int, offset: int) -> list[list[SubscriptionUsageRecord]]:
    """`total` records in batches of `size`: one entry per subscription and batch, spread over January."""
    out = []
    per_entry = max(1, size // len(subscriptions))
    seq = offset
    made = 0
    while made < total:
        batch = []
        for sub in subscriptions:
            records = tuple(UsageRecord(START + timedelta(seconds=(seq + k) % 2_500_000), Decimal(1 + k % 7))
                            for k in range(per_entry))
            seq += per_entry
            batch.append(SubscriptionUsageRecord(sub, (UnitUsageRecord("calls", records),), uuid.uuid4().hex))
            made += per_entry
            if made >= total:
                break
        out.append(batch)
    return out


def as_json(batch: list[SubscriptionUsageRecord]) -> bytes:
    return json.dumps([{"subscriptionId": r.subscription_id, "trackingId": r.tracking_id, "unitUsageRecords": [
        {"unitType": u.unit_type, "usageRecords": [{"recordDate": x.record_date.isoformat(), "amount": int(x.amount)}
                                                   for x in u.records]} for u in r.units]} for r in batch]).encode()


def serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BILLOW_DATABASE_URL": url, "BILLOW_BILLING_PROCESSES": "1"}
    log = Path(tempfile.mkdtemp()) / "usage-bench-server.log"
    with log.open("w") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen([sys.executable, "-m", "billow.cli.main", "serve", "--test-mode", "--port",
                                 str(port), "--log-level", "WARNING"], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/1.0/healthcheck", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"billow serve did not start: {log.read_text()[-2000:]}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?", default=None)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rating", type=int, default=1_000_000)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/usage-bench.db"
    db = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    reset(url)
    clock = TestClock(START)
    kb = Billow(url, clock)
    kb.security.ensure_default_admin()
    tenant = kb.tenants.create(CallContext(user_name="bench"), "usage-bench", "secret")
    ctx = CallContext(user_name="bench").for_tenant(tenant.record_id, tenant.id)
    kb.catalogs.upload(ctx, CATALOG)
    subs = []
    for i in range(SUBSCRIPTIONS):
        a = kb.accounts.create(ctx, AccountData(name=f"meter {i}", currency="USD", external_key=f"m{i}"))
        subs.append(kb.entitlements.create(ctx, [SubscriptionRequest(account_id=a.id, plan_name="api-metered")])[0].id)
    kb.run_until_idle(600)

    # 1. embedded API
    work = batches(subs, args.records, args.batch, 0)
    t = time.perf_counter()
    recorded = sum(kb.usage.record_usage_batch(ctx, b).recorded for b in work)
    elapsed = time.perf_counter() - t
    print(f"billow [{db}] embedded record_usage_batch: {recorded} records in {elapsed:.1f}s "
          f"=> {recorded / elapsed:,.0f} records/s (batches of {args.batch})")

    # 2. batch REST endpoint, another process on the same database
    bodies = [as_json(b) for b in batches(subs, args.records, args.batch, args.records)]
    port = free_port()
    server = serve(url, port)
    headers = {"X-Killbill-ApiKey": "usage-bench", "X-Killbill-ApiSecret": "secret", "X-Killbill-CreatedBy": "bench",
               "Content-Type": "application/json"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=("admin", "password"), headers=headers,
                          timeout=600) as client:
            def post(body: bytes) -> int:
                r = client.post("/1.0/kb/usages/batch", content=body)
                r.raise_for_status()
                return int(r.json()["recorded"])

            t = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                recorded = sum(pool.map(post, bodies))
            elapsed = time.perf_counter() - t
    finally:
        server.terminate()
        server.wait(30)
    print(f"billow [{db}] REST POST /1.0/kb/usages/batch: {recorded} records in {elapsed:.1f}s "
          f"=> {recorded / elapsed:,.0f} records/s ({args.clients} clients, batches of {args.batch})")

    # 3. rating an invoice over R records
    account = kb.accounts.create(ctx, AccountData(name="big meter", currency="USD", external_key="big"))
    big = kb.entitlements.create(ctx, [SubscriptionRequest(account_id=account.id, plan_name="api-metered")])[0].id
    kb.run_until_idle(600)
    t = time.perf_counter()
    for b in batches([big], args.rating, min(50_000, args.rating), 0):
        kb.usage.record_usage_batch(ctx, b)
    print(f"billow [{db}] {args.rating} records of one subscription recorded in {time.perf_counter() - t:.1f}s")
    clock.set(datetime(2024, 2, 1, 9, 0, tzinfo=UTC))
    run = kb.invoices.run
    with kb.db.read(ctx) as uow:
        t = time.perf_counter()
        state = run.load_states(uow, [account.record_id])[account.record_id]
        catalog = kb.catalogs.internal.catalog(uow)
        from billow.invoice.billing_run import account_events

        events, _ = account_events(state, catalog)
        assert run.usage is not None
        raw = run.usage.raw_usage(uow, {account.record_id: START - timedelta(days=1)})[account.record_id]
        read = time.perf_counter() - t
        settings = rating_settings(run.config)
    t = time.perf_counter()
    result = rate_usage(events, [], raw, target=date(2024, 2, 1), time=state.account.time, currency="USD",
                        settings=settings, now=clock.utcnow())
    rating = time.perf_counter() - t
    t = time.perf_counter()
    invoice = kb.invoices.trigger(ctx, account.id, date(2024, 2, 1))
    whole = time.perf_counter() - t
    [item] = [it for it in invoice.items if it.type.value == "USAGE"]
    assert [it.amount for it in result.items] == [item.amount]
    print(f"billow [{db}] invoice over {len(raw):,} records: read {read:.2f}s, rating {rating:.2f}s, "
          f"whole invoice run {whole:.2f}s (USAGE {item.start_date}→{item.end_date} ${item.amount})")
    kb.close()


if __name__ == "__main__":
    main()
