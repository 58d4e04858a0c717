"""Paying keeps up with billing: N accounts with a $10 monthly subscription, 12 monthly clock moves end to end
(the bus bills every account due, then the payment service pays each new invoice through the test gateway).

    python bench/payment_run.py N [database-url]     (default: fresh SQLite files)

Run twice on a fresh database: accounts with a default `killbill-payment-test` method, and without payment
methods (billing only). Printed side by side: invoices billed and paid per second, end to end.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billing_run import CATALOG  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from billow.account.model import AccountData  # noqa: E402
from billow.app import Billow  # noqa: E402
from billow.core.clock import TestClock  # noqa: E402
from billow.core.context import CallContext  # noqa: E402
from billow.entitlement.model import SubscriptionRequest  # noqa: E402
from billow.invoice.store import INV  # noqa: E402
from billow.invoice.store_payments import IP  # noqa: E402


def _fresh(url: str | None) -> str:
    if url is None:
        return f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    import sqlalchemy as sa

    from billow.core.db.engine import normalize_url
    engine = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.exec_driver_sql("DROP SCHEMA public CASCADE")
        c.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url


def _counts(kb: Billow) -> tuple[int, int]:
    with kb.db.read_connection() as conn:
        invoices = int(conn.execute(select(func.count()).select_from(INV)).scalar_one())
        paid = int(conn.execute(select(func.count()).select_from(IP).where(IP.c.success.is_(True))).scalar_one())
    return invoices, paid


def run(n: int, url: str | None, pay: bool) -> tuple[int, int, float]:
    clock = TestClock(datetime(2024, 1, 1, 8, 0, tzinfo=UTC))
    kb = Billow(_fresh(url), clock, worker_threads=4, billing_processes=1)
    tenant = kb.tenants.create(CallContext(user_name="bench"), "bench", "secret")
    ctx = CallContext(user_name="bench").for_tenant(tenant.record_id, tenant.id)
    kb.catalogs.upload(ctx, CATALOG)
    for i in range(n):
        a = kb.accounts.create(ctx, AccountData(name=f"acc {i}", currency="USD", external_key=f"a{i}"))
        if pay:
            kb.payment.methods.add(ctx, a.id, "killbill-payment-test", is_default=True)
        kb.entitlements.create(ctx, [SubscriptionRequest(account_id=a.id, plan_name="basic-monthly")])
        if i % 500 == 499:
            kb.run_until_idle(600)
    kb.run_until_idle(600)
    before = _counts(kb)
    kb.start()
    t = time.perf_counter()
    for month in range(2, 14):
        year, m = 2024 + (month - 1) // 12, (month - 1) % 12 + 1
        clock.set(datetime(year, m, 1, 9, 0, tzinfo=UTC))
        assert kb.run_until_idle(3600)
    elapsed = time.perf_counter() - t
    after = _counts(kb)
    kb.close()
    return after[0] - before[0], after[1] - before[1], elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    url = sys.argv[2] if len(sys.argv) > 2 else None
    db = "PostgreSQL" if url and url.startswith("postgres") else "SQLite"
    billed, _, plain = run(n, url, pay=False)
    billed_paid, paid, with_pay = run(n, url, pay=True)
    print(f"billow [{db}] N={n}, 12 monthly runs end to end")
    print(f"  without payment methods: {billed} invoices billed in {plain:.1f}s => {billed / plain:.0f} invoices/s")
    print(f"  with the test gateway:   {billed_paid} invoices billed and {paid} paid in {with_pay:.1f}s => "
          f"{paid / with_pay:.0f} paid invoices/s ({100 * (paid / with_pay) / (billed / plain):.0f}% of billing)")


if __name__ == "__main__":
    main()
