"""A tenant and an account on one of Kill Bill's own reference catalogs (../shared/reference/catalogs), as beatrix sets
them up (`TestIntegrationBase.getAccountData`: USD, UTC unless told, reference time = the clock at creation).

The catalogs are read where they are, never copied; without ../shared the tests that use them skip, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from billow.account.model import AccountData
from billow.app import Billow
from billow.catalog.model import BillingPeriod, ProductCategory
from billow.core.clock import TestClock
from billow.core.context import CallContext
from billow.entitlement.model import SubscriptionRequest
from billow.invoice.model import Invoice, InvoiceItemType
from tests.conftest import SHARED
from tests.entitlement.conftest import World

CATALOGS = SHARED / "reference" / "catalogs"

Item = tuple[str, date | None, date | None, Decimal]


def catalog_files(folder: str) -> list[Path]:
    """The XML files of one Kill Bill catalog folder (each file one version), or a visible skip without them."""
    path = CATALOGS / folder
    files = sorted(path.glob("*.xml")) if path.is_dir() else ([path] if path.is_file() else [])
    if not files:
        pytest.skip(f"Kill Bill reference catalogs not found at {path} (expected ../shared next to the project)")
    return files


@dataclass
class RefWorld(World):
    """One tenant on a reference catalog, one account, and the test clock (shared by the session's Billow)."""

    def idle(self) -> None:
        assert self.kb.run_until_idle(30)

    def set_time(self, instant: datetime) -> None:
        self.clock.set(instant)
        self.idle()

    def add_days(self, days: int) -> None:
        self.clock.add(timedelta(days=days))
        self.idle()

    def add_months(self, months: int) -> None:
        self.clock.add_months(months)
        self.idle()

    def create(self, plan: str | None = None, *, product: str | None = None,
               period: BillingPeriod | None = None, price_list: str | None = None, bundle_id: str | None = None,
               category: ProductCategory | None = None, key: str | None = None) -> str:
        """`createBaseEntitlement` / `addEntitlement` by plan name or product + billing period (+ price list)."""
        req = SubscriptionRequest(account_id=self.account.id, plan_name=plan, product_name=product,
                                  product_category=category if category else (ProductCategory.BASE if product and
                                                                               not bundle_id else None),
                                  billing_period=period, price_list=price_list, bundle_id=bundle_id,
                                  bundle_external_key=key)
        sid = self.kb.entitlements.create(self.ctx, [req])[0].id
        self.idle()
        return sid

    def change(self, subscription_id: str, plan: str | None = None, *, product: str | None = None,
               period: BillingPeriod | None = None, price_list: str | None = None, **kw: object) -> None:
        req = SubscriptionRequest(account_id="", plan_name=plan, product_name=product, billing_period=period,
                                  price_list=price_list)
        self.kb.entitlements.change_plan(self.ctx, subscription_id, req, **kw)  # type: ignore[arg-type]
        self.idle()

    def bundle_of(self, subscription_id: str) -> str:
        return self.kb.entitlements.view(self.ctx, subscription_id).subscription.bundle_id

    def ctd(self, subscription_id: str) -> date | None:
        ctd = self.kb.entitlements.view(self.ctx, subscription_id).subscription.charged_through_date
        return ctd.date() if ctd else None

    def invoices(self) -> list[Invoice]:
        self.idle()
        return self.kb.invoices.of_account(self.ctx, self.account.id)

    def balances(self) -> tuple[Decimal, Decimal]:
        """(account balance, account credit)."""
        return self.kb.invoices.account_balances(self.ctx, self.kb.accounts.get(self.ctx, self.account.id))


def items(inv: Invoice, *types: InvoiceItemType) -> list[Item]:
    """An invoice's items as Kill Bill's ExpectedInvoiceItemCheck (type, start, end, amount), in a stable order;
    only the given types when some are named."""
    return sorted(((it.type.value, it.start_date, it.end_date, it.amount) for it in inv.items
                   if not types or it.type in types), key=lambda t: (t[1] or date.min, t[0], t[3]))


def new_world(kb: Billow, ctx: CallContext, folder: str, start: datetime, *, bcd: int | None = None,
              time_zone: str | None = None, reference_time: datetime | None = None, currency: str = "USD") -> RefWorld:
    """Upload every version of a reference catalog folder (or one file) for the test's fresh tenant, set the clock
    to `start` and create the account beatrix would (`getAccountData(bcd[, tz[, referenceTime]])`)."""
    files = catalog_files(folder)
    assert isinstance(kb.clock, TestClock)
    kb.clock.set(start)
    for f in files:
        kb.catalogs.upload(ctx, f.read_text())
    account = kb.accounts.create(ctx, AccountData(name="beatrix", currency=currency, bill_cycle_day_local=bcd,
                                                  time_zone=time_zone or "UTC",
                                                  reference_time=reference_time or start))
    return RefWorld(kb, ctx, account)
