"""The incremental run inside the billing run, on SQLite and PostgreSQL: scheduled runs of an account whose
history did not change use its checkpoint and do not read its invoices; any change to its invoices (a void, an
item adjustment) or to what the generator reads sends it through the full generator; either way the invoices are
those of an account billed by the full generator every time (its checkpoint dropped before each run)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from billow.account.model import AccountData
from billow.core.errors import BillowError
from billow.entitlement.model import SubscriptionRequest
from billow.invoice import billing_run, store_checkpoints
from billow.invoice.model import Invoice, InvoiceStatus
from billow.invoice.service import ItemInput
from tests.invoice.scenarios import World


class Twins:
    """Two accounts with the same subscription: `fast` keeps its checkpoints, `full` loses them before every
    run. `generated` lists the accounts the full generator ran for."""

    def __init__(self, w: World, monkeypatch: pytest.MonkeyPatch) -> None:
        self.w = w
        self.fast = w.kb.accounts.create(w.ctx, AccountData(name="Fast", currency="USD"))
        self.full = w.kb.accounts.create(w.ctx, AccountData(name="Full", currency="USD"))
        self.subscriptions = {account.id: w.kb.entitlements.create(w.ctx, [SubscriptionRequest(
            account_id=account.id, plan_name="silver-monthly")])[0].id for account in (self.fast, self.full)}
        assert w.kb.run_until_idle(30)
        self.generated: list[str] = []
        full_generator = billing_run.generate_invoice

        mine = {self.fast.id, self.full.id}  # the session's other tests' accounts bill on clock moves too

        def counting(info, *args, **kwargs):  # type: ignore[no-untyped-def]
            if info.account_id in mine:
                self.generated.append(info.account_id)
            return full_generator(info, *args, **kwargs)

        monkeypatch.setattr(billing_run, "generate_invoice", counting)

    def checkpointed(self) -> set[int]:
        with self.w.kb.db.read_connection() as conn:
            return set(conn.execute(select(store_checkpoints.checkpoints.c.account_record_id)).scalars())

    def month(self) -> None:
        with self.w.kb.db.engine.begin() as conn:
            conn.execute(delete(store_checkpoints.checkpoints).where(
                store_checkpoints.checkpoints.c.account_record_id == self.full.record_id))
        self.generated.clear()
        self.w.advance(days=31)

    def invoices(self, account_id: str) -> list[Invoice]:
        return self.w.kb.invoices.of_account(self.w.ctx, account_id)

    def same_invoices(self) -> None:
        def shape(invoices: list[Invoice]) -> list[tuple[object, ...]]:
            return [(inv.status, inv.target_date, sorted((it.type.value, it.start_date, it.end_date, it.amount,
                                                          it.plan_name, it.phase_name) for it in inv.items))
                    for inv in invoices]
        assert shape(self.invoices(self.fast.id)) == shape(self.invoices(self.full.id))


@pytest.fixture()
def twins(w: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Twins]:
    yield Twins(w, monkeypatch)


def test_scheduled_runs_of_an_unchanged_account_are_incremental(twins: Twins) -> None:
    assert {twins.fast.record_id, twins.full.record_id} <= twins.checkpointed()  # made with the first invoices
    for _ in range(4):
        twins.month()
        assert twins.generated == [twins.full.id]  # the other account's run did not need its invoices
    assert len(twins.invoices(twins.fast.id)) == 5
    assert [it.start_date for inv in twins.invoices(twins.fast.id)[1:] for it in inv.items] == [
        date(2024, 2, 15), date(2024, 3, 15), date(2024, 4, 15), date(2024, 5, 15)]
    twins.same_invoices()


def test_a_voided_invoice_sends_the_account_through_the_full_generator(twins: Twins) -> None:
    twins.month()
    for account in (twins.fast, twins.full):
        last = twins.invoices(account.id)[-1]
        twins.w.kb.invoices.void(twins.w.ctx, last.id)
    twins.month()
    assert sorted(twins.generated) == sorted([twins.fast.id, twins.full.id])
    fast = twins.invoices(twins.fast.id)
    # the voided period is billed again, with the new one
    assert [inv.status for inv in fast] == [InvoiceStatus.COMMITTED, InvoiceStatus.VOID, InvoiceStatus.COMMITTED]
    assert sorted(it.start_date for it in fast[-1].items) == [date(2024, 2, 15), date(2024, 3, 15)]
    twins.same_invoices()
    twins.month()  # and it is incremental again
    assert twins.generated == [twins.full.id]
    twins.same_invoices()


def test_an_item_adjustment_sends_the_account_through_the_full_generator(twins: Twins) -> None:
    twins.month()
    for account in (twins.fast, twins.full):
        last = twins.invoices(account.id)[-1]
        twins.w.kb.invoices.adjust_item(twins.w.ctx, last.id, ItemInput(
            account_id=account.id, invoice_item_id=last.items[0].id, amount=Decimal(5), currency="USD"),
            requested=None)
    twins.month()
    assert sorted(twins.generated) == sorted([twins.fast.id, twins.full.id])
    twins.same_invoices()
    twins.month()
    assert twins.generated == [twins.full.id]
    twins.same_invoices()


def test_a_change_of_plan_is_billed_in_full_then_the_runs_are_incremental_again(twins: Twins) -> None:
    twins.month()
    w = twins.w
    twins.generated.clear()
    w.advance(days=10)
    for account in (twins.fast, twins.full):
        w.kb.entitlements.change_plan(w.ctx, twins.subscriptions[account.id],
                                      SubscriptionRequest(account_id=account.id, plan_name="gold-monthly"))
    assert w.kb.run_until_idle(30)
    assert sorted(twins.generated) == sorted([twins.fast.id, twins.full.id])  # the change's run: repairs
    twins.same_invoices()
    twins.month()
    assert twins.generated == [twins.full.id]
    twins.same_invoices()


@settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=st.lists(st.sampled_from(["month", "month", "days", "void", "adjust", "change"]), min_size=2,
                        max_size=6),
       days=st.integers(1, 20))
def test_random_histories_bill_alike_with_and_without_checkpoints(w: World, actions: list[str], days: int) -> None:
    with pytest.MonkeyPatch.context() as mp:
        twins = Twins(w, mp)  # new twins at the clock's instant: the examples share no account
        plan = {a: "silver-monthly" for a in twins.subscriptions}
        for action in actions:
            if action == "month":
                twins.month()
            elif action == "days":
                w.advance(days=days)
            elif action == "change":
                for account_id, sub in twins.subscriptions.items():
                    plan[account_id] = "gold-monthly" if plan[account_id] == "silver-monthly" else "silver-monthly"
                    w.kb.entitlements.change_plan(w.ctx, sub, SubscriptionRequest(account_id=account_id,
                                                                                  plan_name=plan[account_id]))
                assert w.kb.run_until_idle(30)
            else:
                for account in (twins.fast, twins.full):
                    live = [inv for inv in twins.invoices(account.id) if inv.status is InvoiceStatus.COMMITTED]
                    if not live:
                        continue
                    try:
                        if action == "void":
                            w.kb.invoices.void(w.ctx, live[-1].id)
                        else:
                            w.kb.invoices.adjust_item(w.ctx, live[-1].id, ItemInput(
                                account_id=account.id, invoice_item_id=live[-1].items[0].id, amount=Decimal(1),
                                currency="USD"), requested=None)
                    except BillowError:
                        pass  # refused alike for both (a repaired invoice, nothing left to adjust)
            twins.same_invoices()
