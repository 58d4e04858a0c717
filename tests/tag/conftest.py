"""Fixtures of the tag and custom-field tests: a tenant with an account, a bundle, a subscription, an invoice
and an invoice item (Billow's entitlement test catalog), and the events the bus carried."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from billow.account.model import AccountData
from billow.app import Billow
from billow.core.bus.event import BusEvent
from billow.core.bus.tables import bus_events_history
from billow.core.context import CallContext
from tests.entitlement.conftest import World, world  # noqa: F401 - fixture re-export


@dataclass
class Objects:
    """One of each object tags and custom fields hang on, in the world's tenant."""

    w: World
    account_id: str
    bundle_id: str
    subscription_id: str
    invoice_id: str
    item_id: str

    @property
    def kb(self) -> Billow:
        return self.w.kb

    @property
    def ctx(self) -> CallContext:
        return self.w.ctx


@pytest.fixture()
def objects(world: World) -> Objects:  # noqa: F811 - the entitlement tests' fixture
    sid = world.create("silver-monthly")
    assert world.kb.run_until_idle(20)
    view = world.view(sid)
    invoice = world.kb.invoices.of_account(world.ctx, world.account.id)[0]
    return Objects(world, world.account.id, view.subscription.bundle_id, sid, invoice.id, invoice.items[0].id)


@pytest.fixture()
def other_tenant(billow: Billow) -> tuple[CallContext, str]:
    """A second tenant and one of its accounts."""
    tenant = billow.tenants.create(CallContext(user_name="tests"), f"o-{uuid.uuid4().hex[:12]}", "secret")
    ctx = CallContext(user_name="tests").for_tenant(tenant.record_id, tenant.id)
    return ctx, billow.accounts.create(ctx, AccountData(name="Elsewhere", currency="USD")).id


def published(kb: Billow, ctx: CallContext, event_type: str) -> list[BusEvent]:
    """The events of this type the bus carried for the tenant, oldest first."""
    assert kb.run_until_idle(20)
    h = bus_events_history
    with kb.db.read_connection() as conn:
        rows = conn.execute(select(h.c.class_name, h.c.event_json).where(
            h.c.search_key2 == ctx.tenant_record_id).order_by(h.c.record_id)).all()
    events = [BusEvent.from_json(r.class_name, r.event_json) for r in rows]
    return [e for e in events if e.event_type == event_type]


def published_classes(kb: Billow, ctx: CallContext) -> list[str]:
    assert kb.run_until_idle(20)
    h = bus_events_history
    with kb.db.read_connection() as conn:
        rows = conn.execute(select(h.c.class_name, h.c.event_json).where(
            h.c.search_key2 == ctx.tenant_record_id).order_by(h.c.record_id)).all()
    return [r.class_name.rsplit(".", 1)[1] for r in rows if json.loads(r.event_json)]
