"""Fixtures for invoicing scenarios: the entitlement test catalog and World helper, plus invoice readers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billow.invoice.model import Invoice
from tests.entitlement.conftest import T0, World, world  # noqa: F401 - fixture re-export

__all__ = ["T0", "World", "items_of", "invoices_of"]


def invoices_of(w: World) -> list[Invoice]:
    assert w.kb.run_until_idle(30)
    return w.kb.invoices.of_account(w.ctx, w.account.id)


def items_of(inv: Invoice) -> list[tuple[str, date | None, date | None, Decimal]]:
    return sorted(((it.type.value, it.start_date, it.end_date, it.amount) for it in inv.items),
                  key=lambda t: (t[1] or date.min, t[0]))


@pytest.fixture()
def w(world: World) -> World:  # noqa: F811
    return world
