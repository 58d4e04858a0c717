"""Helpers of the invoicing scenarios (on a database, with the entitlement tests' World): invoice readers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from billow.invoice.model import Invoice
from tests.entitlement.conftest import T0, World

__all__ = ["T0", "World", "items_of", "invoices_of"]


def invoices_of(w: World) -> list[Invoice]:
    assert w.kb.run_until_idle(30)
    return w.kb.invoices.of_account(w.ctx, w.account.id)


def items_of(inv: Invoice) -> list[tuple[str, date | None, date | None, Decimal]]:
    return sorted(((it.type.value, it.start_date, it.end_date, it.amount) for it in inv.items),
                  key=lambda t: (t[1] or date.min, t[0]))
