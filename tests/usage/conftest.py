"""Fixtures of the usage service tests: a tenant on Billow's own usage catalog (tests/usage/data/usage.xml), an
account in UTC, and the test clock (shared by the session's Billow, on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from billow.account.model import Account, AccountData
from billow.app import Billow
from billow.core.clock import TestClock
from billow.core.context import CallContext
from billow.entitlement.model import SubscriptionRequest
from billow.invoice import store as invoice_store
from billow.invoice.model import Invoice, InvoiceItemType
from billow.usage.model import SubscriptionUsageRecord, UnitUsageRecord, UsageRecord

CATALOG = (Path(__file__).parent / "data" / "usage.xml").read_text()
START = datetime(2024, 4, 1, 6, 0, tzinfo=UTC)

Item = tuple[str, date | None, date | None, Decimal]


def usage_record(subscription_id: str, unit: str, *records: tuple[datetime, int | str],
                 tracking: str | None = None) -> SubscriptionUsageRecord:
    return SubscriptionUsageRecord(subscription_id, (UnitUsageRecord(unit, tuple(
        UsageRecord(when, Decimal(amount)) for when, amount in records)),), tracking)


@dataclass
class UsageWorld:
    kb: Billow
    ctx: CallContext
    account: Account

    @property
    def clock(self) -> TestClock:
        assert isinstance(self.kb.clock, TestClock)
        return self.kb.clock

    def idle(self) -> None:
        assert self.kb.run_until_idle(30)

    def set_time(self, instant: datetime) -> None:
        self.clock.set(instant)
        self.idle()

    def create(self, plan: str, bundle_id: str | None = None) -> str:
        req = SubscriptionRequest(account_id=self.account.id, plan_name=plan, bundle_id=bundle_id)
        sid = self.kb.entitlements.create(self.ctx, [req])[0].id
        self.idle()
        return sid

    def bundle_of(self, subscription_id: str) -> str:
        return self.kb.entitlements.view(self.ctx, subscription_id).subscription.bundle_id

    def record(self, subscription_id: str, unit: str, when: datetime, amount: int | str,
               tracking: str | None = None) -> None:
        self.kb.usage.record_usage(self.ctx, usage_record(subscription_id, unit, (when, amount), tracking=tracking))

    def invoices(self) -> list[Invoice]:
        self.idle()
        return self.kb.invoices.of_account(self.ctx, self.account.id)

    def parked(self) -> bool:
        with self.kb.db.read_connection() as conn:
            return invoice_store.is_parked(conn, self.account.record_id)

    def configure(self, **properties: str) -> None:
        """Upload the tenant's per-tenant configuration (`uploadPerTenantConfig`)."""
        self.kb.tenants.add_value(self.ctx, "PER_TENANT_CONFIG", json.dumps(properties), replace=True)

    def stored_rows(self) -> int:
        from billow.usage.store import rolled_up_usage as u

        with self.kb.db.read_connection() as conn:
            return len(conn.execute(select(u.c.record_id).where(u.c.tenant_record_id == self.ctx.tenant_record_id))
                       .all())


def items(inv: Invoice, *types: InvoiceItemType) -> list[Item]:
    return sorted(((it.type.value, it.start_date, it.end_date, it.amount) for it in inv.items
                   if not types or it.type in types), key=lambda t: (t[1] or date.min, t[0], t[3]))


@pytest.fixture()
def uw(billow: Billow, tenant_ctx: CallContext) -> UsageWorld:
    assert isinstance(billow.clock, TestClock)
    billow.clock.set(START - timedelta(hours=1))
    billow.catalogs.upload(tenant_ctx, CATALOG)
    billow.clock.set(START)
    account = billow.accounts.create(tenant_ctx, AccountData(name="Metered", currency="USD", time_zone="UTC",
                                                            reference_time=START))
    return UsageWorld(billow, tenant_ctx, account)
