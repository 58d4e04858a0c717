"""Fixtures for subscription tests: a tenant with Billow's own entitlement test catalog and an account."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from billow.account.model import Account, AccountData
from billow.app import Billow
from billow.core.bus.tables import bus_events_history
from billow.core.clock import TestClock
from billow.core.context import CallContext
from billow.entitlement.model import SubscriptionRequest
from billow.entitlement.views import SubscriptionView

CATALOG = (Path(__file__).parent / "data" / "entitlement.xml").read_text()
T0 = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


@dataclass
class World:
    kb: Billow
    ctx: CallContext
    account: Account

    @property
    def clock(self) -> TestClock:
        assert isinstance(self.kb.clock, TestClock)
        return self.kb.clock

    def create(self, plan: str, **kw: object) -> str:
        req = SubscriptionRequest(account_id=self.account.id, plan_name=plan, **kw)  # type: ignore[arg-type]
        return self.kb.entitlements.create(self.ctx, [req])[0].id

    def view(self, subscription_id: str) -> SubscriptionView:
        return self.kb.entitlements.view(self.ctx, subscription_id)

    def advance(self, **delta: float) -> None:
        self.clock.add(timedelta(**delta))
        assert self.kb.run_until_idle(20)

    def set_ctd(self, subscription_id: str, when: datetime) -> None:
        """What invoicing does: record the charged-through date."""
        with self.kb.db.transaction(self.ctx) as uow:
            self.kb.entitlements.internal.update_charged_through_dates(uow, {subscription_id: when})

    def published(self, object_id: str) -> list[str]:
        """Event types announced on the bus for an object, in order."""
        assert self.kb.run_until_idle(20)
        h = bus_events_history
        with self.kb.db.read_connection() as conn:
            rows = conn.execute(select(h.c.class_name, h.c.event_json).where(
                h.c.search_key2 == self.ctx.tenant_record_id).order_by(h.c.record_id)).all()
        import json

        return [r.class_name.rsplit(".", 1)[1] for r in rows if json.loads(r.event_json).get("object_id") == object_id]

    def subscription_event_count(self) -> int:
        from billow.entitlement.store import subscription_events

        t = subscription_events.table
        with self.kb.db.read_connection() as conn:
            return len(conn.execute(select(t.c.record_id).where(t.c.tenant_record_id == self.ctx.tenant_record_id))
                       .all())


@pytest.fixture()
def world(billow: Billow, tenant_ctx: CallContext) -> World:
    assert isinstance(billow.clock, TestClock)
    billow.clock.set(T0)
    billow.catalogs.upload(tenant_ctx, CATALOG)
    account = billow.accounts.create(tenant_ctx, AccountData(name="Subscriber", currency="USD"))
    return World(billow, tenant_ctx, account)


WorldFactory = Callable[..., World]
