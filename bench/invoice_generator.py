"""Throughput of the pure invoice generator (no database).

N accounts, each with one $10 monthly IN_ADVANCE subscription, billed month by
month for 12 months: every run regenerates all items since the start and
merges them with the account's existing invoices, as a real billing run does.
Prints items/s and runs/s.

    python bench/invoice_generator.py [N]
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from billow.catalog.model import BillingAlignment, BillingMode, BillingPeriod, PhaseType, ProductCategory
from billow.core.account_time import AccountTime
from billow.invoice import AccountBillingInfo, GeneratorConfig, Invoice, InvoiceStatus, generate
from billow.junction.model import BillingEvent, BillingTransitionType


def main(n: int) -> None:
    config = GeneratorConfig()
    start = datetime(2024, 1, 1, 8, tzinfo=UTC)
    accounts: list[tuple[AccountBillingInfo, list[BillingEvent], list[Invoice]]] = []
    for i in range(n):
        acct = AccountBillingInfo(f"acct-{i}", "USD", AccountTime("UTC", start), 1)
        event = BillingEvent(subscription_id=f"sub-{i}", bundle_id=f"bundle-{i}", effective_date=start,
                             transition_type=BillingTransitionType.CREATE, product_name="Standard",
                             product_category=ProductCategory.BASE, plan_name="standard-monthly",
                             phase_name="standard-monthly-evergreen", phase_type=PhaseType.EVERGREEN,
                             billing_period=BillingPeriod.MONTHLY, billing_mode=BillingMode.IN_ADVANCE,
                             fixed_price=None, recurring_price=Decimal("10.00"), currency="USD",
                             bill_cycle_day_local=1, billing_alignment=BillingAlignment.ACCOUNT,
                             catalog_effective_date=start)
        accounts.append((acct, [event], []))
    items = runs = 0
    t0 = time.perf_counter()
    for month in range(1, 13):
        target = date(2024, month, 1)
        now = datetime(2024, month, 1, 9, tzinfo=UTC)
        for acct, events, invoices in accounts:
            new = generate(acct, events, invoices, target, config, invoice_id=f"inv-{runs}", now=now)
            runs += 1
            if new:
                items += len(new)
                invoices.append(Invoice(id=f"inv-{runs}", account_id=acct.account_id, invoice_date=target,
                                        target_date=target, currency="USD", status=InvoiceStatus.COMMITTED,
                                        items=tuple(replace(it, invoice_id=f"inv-{runs}") for it in new)))
    elapsed = time.perf_counter() - t0
    print(f"accounts={n} months=12 runs={runs} new_items={items} elapsed={elapsed:.2f}s "
          f"items/s={items / elapsed:,.0f} runs/s={runs / elapsed:,.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
