"""Fixtures of the invoice tests: for the pure generator, billing events, accounts and one-call runs (no
database); for the scenarios on a database, `w`, the entitlement tests' World."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from billow.catalog.model import (
    BillingAlignment,
    BillingMode,
    BillingPeriod,
    Duration,
    PhaseType,
    ProductCategory,
)
from billow.core.account_time import AccountTime
from billow.invoice import (
    AccountBillingInfo,
    GenerationResult,
    GeneratorConfig,
    Invoice,
    InvoiceItem,
    InvoiceItemType,
    InvoiceStatus,
    generate_invoice,
)
from billow.junction.model import BillingEvent, BillingTransitionType
from tests.entitlement.conftest import World, world  # noqa: F401 - fixture re-export

T = BillingTransitionType
ACCOUNT_ID = "acct-1"
_ids = itertools.count(1)


def d(s: str) -> date:
    return date.fromisoformat(s)


def instant(day: str | date, account: AccountBillingInfo | None = None) -> datetime:
    """A local date at the account's reference time (UTC midnight by default)."""
    local = d(day) if isinstance(day, str) else day
    if account is None:
        return datetime.combine(local, time(0, 0), tzinfo=UTC)
    return account.time.instant(local)


def account(currency: str = "USD", bcd: int = 1, tz: str = "UTC", reference: datetime | None = None
            ) -> AccountBillingInfo:
    return AccountBillingInfo(ACCOUNT_ID, currency, AccountTime(tz, reference or datetime(2012, 1, 1, tzinfo=UTC)), bcd)


def ev(day: str | date | datetime, transition: T = T.CREATE, *, sub: str = "sub-1", bundle: str = "bundle-1",
       plan: str | None = "plan-monthly", phase: str | None = None, phase_type: PhaseType | None = PhaseType.EVERGREEN,
       period: BillingPeriod = BillingPeriod.MONTHLY, mode: BillingMode = BillingMode.IN_ADVANCE,
       fixed: str | Decimal | None = None, recurring: str | Decimal | None = "10.00", bcd: int = 1,
       currency: str = "USD", quantity: int = 1, ordering: int = 0, duration: Duration | None = None,
       acct: AccountBillingInfo | None = None) -> BillingEvent:
    """One billing event; a CANCEL-like transition gets no plan, no prices and NO_BILLING_PERIOD by default."""
    when = day if isinstance(day, datetime) else instant(day, acct)
    if transition.ends_billing:
        plan_name, phase_name, period, fixed, recurring = plan, phase, BillingPeriod.NO_BILLING_PERIOD, None, None
    else:
        plan_name = plan
        phase_name = phase if phase is not None else (f"{plan}-{phase_type.value.lower()}" if plan and phase_type
                                                      else None)
    return BillingEvent(
        subscription_id=sub, bundle_id=bundle, effective_date=when, transition_type=transition,
        product_name=(plan_name or "").split("-")[0] or None, product_category=ProductCategory.BASE,
        plan_name=plan_name, phase_name=phase_name, phase_type=phase_type, billing_period=period, billing_mode=mode,
        fixed_price=Decimal(fixed) if fixed is not None else None,
        recurring_price=Decimal(recurring) if recurring is not None else None,
        currency=currency, bill_cycle_day_local=bcd, billing_alignment=BillingAlignment.ACCOUNT,
        catalog_effective_date=datetime(2011, 1, 1, tzinfo=UTC), quantity=quantity, total_ordering=ordering,
        phase_duration=duration)


def invoice_of(items: Sequence[InvoiceItem], target: str | date, *, status: InvoiceStatus = InvoiceStatus.COMMITTED,
               invoice_id: str | None = None, currency: str = "USD") -> Invoice:
    """Wrap generated items as an existing invoice (ids kept, invoice id rewritten)."""
    inv_id = invoice_id or f"inv-{next(_ids)}"
    tgt = d(target) if isinstance(target, str) else target
    fixed = tuple(_replace_invoice(it, inv_id) for it in items)
    return Invoice(id=inv_id, account_id=ACCOUNT_ID, invoice_date=tgt, target_date=tgt, currency=currency,
                   status=status, items=fixed, created_date=datetime.combine(tgt, time(0), tzinfo=UTC))


def _replace_invoice(it: InvoiceItem, inv_id: str) -> InvoiceItem:
    from dataclasses import replace
    return replace(it, invoice_id=inv_id)


def run(events: Sequence[BillingEvent], existing: Sequence[Invoice], target: str | date, *,
        acct: AccountBillingInfo | None = None, config: GeneratorConfig | None = None,
        now: datetime | None = None) -> GenerationResult:
    tgt = d(target) if isinstance(target, str) else target
    return generate_invoice(acct or account(), events, existing, tgt, config or GeneratorConfig(),
                            invoice_id=f"new-{next(_ids)}",
                            now=now or datetime.combine(tgt, time(12, 0), tzinfo=UTC))


class Runner:
    """Drives successive runs the way the invoice service will: each non-empty result becomes an invoice."""

    def __init__(self, events: Sequence[BillingEvent] = (), *, acct: AccountBillingInfo | None = None,
                 config: GeneratorConfig | None = None) -> None:
        self.events = list(events)
        self.invoices: list[Invoice] = []
        self.acct = acct
        self.config = config

    def at(self, target: str | date, *, status: InvoiceStatus = InvoiceStatus.COMMITTED) -> list[InvoiceItem]:
        res = run(self.events, self.invoices, target, acct=self.acct, config=self.config)
        if res.items:
            self.invoices.append(invoice_of(res.items, res.target_date, status=status,
                                            currency=(self.acct.currency if self.acct else "USD")))
        return res.items


def summary(items: Sequence[InvoiceItem]) -> list[tuple[str, str, str | None, str]]:
    """(type, start, end, amount) sorted by start date then type, for compact assertions."""
    return [(it.type.value, str(it.start_date), str(it.end_date) if it.end_date else None, str(it.amount))
            for it in sorted(items, key=lambda i: (i.start_date or date.min, i.type.ordinal, i.end_date or date.min))]


def only(items: Sequence[InvoiceItem], kind: InvoiceItemType) -> list[InvoiceItem]:
    return [it for it in items if it.type is kind]


@pytest.fixture()
def w(world: World) -> World:  # noqa: F811 - the entitlement tests' fixture, under the scenarios' name
    return world
