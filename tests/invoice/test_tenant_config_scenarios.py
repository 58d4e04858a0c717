"""Per-tenant configuration on the test clock (SQLite and PostgreSQL): each invoice property a tenant uploads changes
that tenant's invoices and no other's.

The catalog is tests/tenant/data/config.xml: `basic-monthly` at 19.95 a month, `setup-monthly` with a 5.00 fixed
price and 10.00 a month."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import select

from billow.account.model import Account, AccountData
from billow.app import Billow
from billow.core.bus.tables import bus_events_history
from billow.core.clock import TestClock
from billow.core.context import CallContext
from billow.core.errors import BillowError
from billow.entitlement.model import SubscriptionRequest
from billow.invoice import store as invoice_store
from billow.invoice.model import Invoice

CATALOG = (Path(__file__).parents[1] / "tenant" / "data" / "config.xml").read_text()
JUNE_15 = datetime(2023, 6, 15, 8, 0, tzinfo=UTC)


@dataclass
class Tenant:
    kb: Billow
    ctx: CallContext

    def configure(self, **properties: str) -> None:
        self.kb.tenants.upload_config(self.ctx, json.dumps(properties))

    def account(self, bcd: int = 23) -> Account:
        return self.kb.accounts.create(self.ctx, AccountData(name="Config", currency="USD", bill_cycle_day_local=bcd))

    def subscribe(self, account: Account, plan: str = "basic-monthly") -> str:
        sid = self.kb.entitlements.create(self.ctx, [SubscriptionRequest(account_id=account.id, plan_name=plan)])[0].id
        assert self.kb.run_until_idle(30)
        return sid

    def invoices(self, account: Account) -> list[Invoice]:
        assert self.kb.run_until_idle(30)
        return self.kb.invoices.of_account(self.ctx, account.id)

    def recurring(self, account: Account) -> list[tuple[date | None, date | None, D]]:
        return [(it.start_date, it.end_date, it.amount) for inv in self.invoices(account) for it in inv.items
                if it.type.value == "RECURRING"]

    def published(self, event_type: str) -> list[dict[str, object]]:
        assert self.kb.run_until_idle(30)
        h = bus_events_history
        with self.kb.db.read_connection() as conn:
            rows = conn.execute(select(h.c.event_json).where(h.c.search_key2 == self.ctx.tenant_record_id,
                                                             h.c.class_name.like(f"%{event_type}%"))
                                .order_by(h.c.record_id)).all()
        return [json.loads(r.event_json) for r in rows]

    def parked(self, account: Account) -> bool:
        with self.kb.db.read_connection() as conn:
            return invoice_store.is_parked(conn, account.record_id)


def new_tenant(kb: Billow) -> Tenant:
    import uuid

    t = kb.tenants.create(CallContext(user_name="tests"), f"cfg-{uuid.uuid4().hex[:12]}", "secret")
    ctx = CallContext(user_name="tests").for_tenant(t.record_id, t.id)
    kb.catalogs.upload(ctx, CATALOG)
    return Tenant(kb, ctx)


@pytest.fixture()
def clock(billow: Billow) -> TestClock:
    assert isinstance(billow.clock, TestClock)
    billow.clock.set(JUNE_15)
    return billow.clock


def test_fixed_days_proration_is_per_tenant(billow: Billow, clock: TestClock) -> None:
    """`proration.fixed.days=30`: a BCD-23 account created on 2023-06-15 on 19.95 a month is billed 5.32 for the 8
    days to the 23rd (8/30), where Kill Bill's default bills 5.15 (8/31 of the May 23 - June 23 period). The other
    tenant, with no configuration, keeps the default."""
    fixed, plain = new_tenant(billow), new_tenant(billow)
    fixed.configure(**{"org.killbill.invoice.proration.fixed.days": "30"})
    a, b = fixed.account(), plain.account()
    fixed.subscribe(a)
    plain.subscribe(b)
    assert fixed.recurring(a) == [(date(2023, 6, 15), date(2023, 6, 23), D("5.32"))]
    assert plain.recurring(b) == [(date(2023, 6, 15), date(2023, 6, 23), D("5.15"))]
    # the next full month is the full price in both
    clock.set(datetime(2023, 6, 23, 8, 0, tzinfo=UTC))
    assert fixed.recurring(a)[-1] == (date(2023, 6, 23), date(2023, 7, 23), D("19.95"))
    assert plain.recurring(b)[-1] == (date(2023, 6, 23), date(2023, 7, 23), D("19.95"))


def test_a_change_of_configuration_applies_to_the_next_run_and_deleting_it_restores_the_default(
        billow: Billow, clock: TestClock) -> None:
    t = new_tenant(billow)
    t.configure(**{"org.killbill.invoice.proration.fixed.days": "30"})
    a = t.account()
    t.subscribe(a)
    t.configure(**{"org.killbill.invoice.proration.fixed.days": "0"})
    b = t.account()
    t.subscribe(b)
    t.kb.tenants.delete_key(t.ctx, "PER_TENANT_CONFIG")
    c = t.account(bcd=22)
    t.subscribe(c)
    assert [r[2] for r in t.recurring(a)] == [D("5.32")]
    assert [r[2] for r in t.recurring(b)] == [D("5.15")]
    assert [r[2] for r in t.recurring(c)] == [D("4.50")]  # 7/31 of 19.95: the default again


def test_max_months_in_future_bounds_the_target_date_per_tenant(billow: Billow, clock: TestClock) -> None:
    short, other = new_tenant(billow), new_tenant(billow)
    short.configure(**{"org.killbill.invoice.maxNumberOfMonthsInFuture": "1"})
    a, b = short.account(), other.account()
    short.subscribe(a)
    other.subscribe(b)
    far = date(2023, 9, 30)
    with pytest.raises(BillowError) as e:
        billow.invoices.dry_run(short.ctx, a.id, far)
    assert (e.value.code, e.value.status) == (4005, 400)
    assert billow.invoices.dry_run(other.ctx, b.id, far) is not None


def test_daily_items_safety_bound_parks_the_account_of_that_tenant_only(billow: Billow, clock: TestClock) -> None:
    """A FIXED and a RECURRING item for one subscription on one day: two items, over a bound of 1."""
    strict, other = new_tenant(billow), new_tenant(billow)
    strict.configure(**{"org.killbill.invoice.maxDailyNumberOfItemsSafetyBound": "1"})
    a, b = strict.account(), other.account()
    strict.subscribe(a, "setup-monthly")
    other.subscribe(b, "setup-monthly")
    assert strict.invoices(a) == [] and strict.parked(a)
    assert len(other.invoices(b)[0].items) == 2 and not other.parked(b)
    # lifting the bound (-1: off) and an API run bill the parked account
    strict.configure(**{"org.killbill.invoice.maxDailyNumberOfItemsSafetyBound": "-1"})
    billow.invoices.trigger(strict.ctx, a.id, None)
    assert sorted(it.amount for it in strict.invoices(a)[0].items) == [D("2.58"), D("5.00")]


def test_dry_run_notification_schedule_announces_the_upcoming_invoice(billow: Billow, clock: TestClock) -> None:
    """`dryRunNotificationSchedule=2d`: two days before the next billing date (2023-06-23), INVOICE_NOTIFICATION
    with what that run will invoice; the other tenant hears nothing."""
    notified, silent = new_tenant(billow), new_tenant(billow)
    notified.configure(**{"org.killbill.invoice.dryRunNotificationSchedule": "2d"})
    a, b = notified.account(), silent.account()
    notified.subscribe(a)
    silent.subscribe(b)
    assert notified.published("InvoiceNotification") == []
    clock.set(datetime(2023, 6, 21, 7, 59, tzinfo=UTC))
    assert notified.published("InvoiceNotification") == []
    clock.set(datetime(2023, 6, 21, 8, 1, tzinfo=UTC))
    [notice] = notified.published("InvoiceNotification")
    assert notice["account_id"] == a.id
    assert (notice["target_date"], D(str(notice["amount_owed"])), notice["currency"]) == ("2023-06-23", D("19.95"),
                                                                                        "USD")
    assert len(notified.invoices(a)) == 1  # a dry run: nothing written
    clock.set(datetime(2023, 6, 23, 8, 0, tzinfo=UTC))
    assert len(notified.invoices(a)) == 2
    # the next notice is for 2023-07-23, two days ahead of it
    clock.set(datetime(2023, 7, 21, 8, 1, tzinfo=UTC))
    assert [n["target_date"] for n in notified.published("InvoiceNotification")] == ["2023-06-23", "2023-07-23"]
    assert silent.published("InvoiceNotification") == []


def test_settings_are_read_once_per_batch_and_parsed_once_per_change(billow: Billow, clock: TestClock) -> None:
    t = new_tenant(billow)
    t.configure(**{"org.killbill.invoice.proration.fixed.days": "30"})
    accounts = [t.account() for _ in range(3)]
    for a in accounts:
        t.subscribe(a)
    reader = billow.tenants.internal.settings_reader
    tenant = t.ctx.tenant_record_id
    assert tenant is not None
    before, reads = reader.parses[tenant], reader.reads[tenant]
    clock.set(datetime(2023, 6, 23, 8, 0, tzinfo=UTC))  # one batch bills the three accounts
    assert all(len(t.invoices(a)) == 2 for a in accounts)
    assert reader.reads[tenant] == reads + 1  # one read for the batch, not one per account
    assert reader.parses[tenant] == before  # unchanged configuration: not parsed again
    t.configure(**{"org.killbill.invoice.proration.fixed.days": "31"})
    t.kb.tenants.settings(t.ctx)
    t.kb.tenants.settings(t.ctx)
    assert reader.parses[tenant] == before + 1


def test_another_node_sees_a_change_at_its_next_read(billow: Billow, clock: TestClock) -> None:
    """A second reader (another node's) on the same database: a fingerprint check per read, so each change shows."""
    from billow.tenant.internal import TenantInternalApi

    t = new_tenant(billow)
    other_node = TenantInternalApi()
    name = "org.killbill.invoice.proration.fixed.days"

    def seen() -> int:
        with billow.db.read(t.ctx) as uow:
            return other_node.settings(uow).integer(name)

    assert seen() == 0
    t.configure(**{name: "30"})
    assert seen() == 30
    t.configure(**{name: "28"})
    assert seen() == 28
    t.kb.tenants.delete_key(t.ctx, "PER_TENANT_CONFIG")
    assert seen() == 0


def test_unknown_usage_parking_follows_the_reader(billow: Billow, clock: TestClock) -> None:
    """`parkAccountsWithUnknownUsage` reaches the usage rater through the same settings (the usage service has no
    reader of its own)."""
    t = new_tenant(billow)
    with billow.db.read(t.ctx) as uow:
        assert billow.invoices.run.config_for(uow).park_on_unknown_usage is False
    t.configure(**{"org.killbill.invoice.parkAccountsWithUnknownUsage": "true",
                   "org.killbill.invoice.item.result.behavior.mode": "DETAIL"})
    with billow.db.read(t.ctx) as uow:
        config = billow.invoices.run.config_for(uow)
    assert config.park_on_unknown_usage is True
    assert config.usage_detail_mode.value == "DETAIL"
    assert config.dry_run_notification == timedelta(0)


def test_an_upcoming_invoice_is_pushed_as_kill_bill_pushes_it() -> None:
    """INVOICE_NOTIFICATION: object type INVOICE, no object id (a dry run has no invoice), the account, and
    `InvoiceNotificationMetadata` as a JSON string."""
    from billow.invoice.events import InvoiceNotificationEvent
    from billow.push.model import push_key

    event = InvoiceNotificationEvent(tenant_record_id=1, account_record_id=2, account_id="acc",
                                     target_date="2023-06-23", amount_owed=D("19.95"), currency="USD")
    key = push_key(event, "http://127.0.0.1/cb", 1)
    assert (key["eventType"], key["objectType"], key["objectId"], key["accountId"]) == (
        "INVOICE_NOTIFICATION", "INVOICE", None, "acc")
    assert key["metaData"] == '{"targetDate":"2023-06-23","amountOwed":19.95,"currency":"USD"}'
