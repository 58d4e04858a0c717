"""The bulk load (billow.operations.bulk): accounts and subscriptions a batch per transaction, exactly as the API
would have made them (rows, events, first invoices), a refused batch writing nothing and naming its account."""

from __future__ import annotations

import pytest

from billow.account.model import AccountData
from billow.core.errors import BillowError
from billow.entitlement.model import SubscriptionRequest
from billow.operations.bulk import BulkLoadRefused, BulkReport, NewAccount
from tests.entitlement.conftest import World


def _new(i: int, tag: str) -> NewAccount:
    return NewAccount(AccountData(name=f"bulk {i}", currency="USD", external_key=f"{tag}-{i}"),
                      [SubscriptionRequest(account_id="", plan_name="gold-monthly"),
                       SubscriptionRequest(account_id="", plan_name="boost-monthly")])


def _shape(w: World, key: str) -> tuple[object, ...]:
    """What an account's creation made, without ids and dates of creation."""
    account = w.kb.accounts.get_by_key(w.ctx, key)
    _, bundles, views = w.kb.entitlements.account_views(w.ctx, account.id)
    subs = sorted((v.current.plan.name if v.current and v.current.plan else None, v.state.value,
                   v.subscription.start_date, v.bill_cycle_day_local) for v in views)
    invoices = w.kb.invoices.of_account(w.ctx, account.id)
    items = sorted((it.type.value, it.plan_name, it.start_date, it.end_date, it.amount)
                   for inv in invoices for it in inv.items)
    return (account.currency, account.time_zone, account.bill_cycle_day_local, len(bundles), subs, items)


def test_a_bulk_load_makes_what_the_api_makes(w: World) -> None:
    progress: list[int] = []
    report = w.kb.bulk.load(w.ctx, (_new(i, "bulk") for i in range(7)), batch_size=3,
                            progress=lambda r: progress.append(r.accounts))
    assert report == BulkReport(accounts=7, subscriptions=14, batches=3)
    assert progress == [3, 6, 7]
    # the same account through the API, one call per object
    one = w.kb.accounts.create(w.ctx, AccountData(name="api", currency="USD", external_key="api-0"))
    w.kb.entitlements.create(w.ctx, [SubscriptionRequest(account_id=one.id, plan_name="gold-monthly"),
                                     SubscriptionRequest(account_id=one.id, plan_name="boost-monthly")])
    assert w.kb.run_until_idle(60)  # the first invoices, from SUBSCRIPTION_CREATION
    expected = _shape(w, "api-0")
    assert [(t, plan) for t, plan, *_ in expected[-1]] == [("FIXED", "boost-monthly"), ("FIXED", "gold-monthly")]
    for i in range(7):
        assert _shape(w, f"bulk-{i}") == expected
    assert w.published(w.kb.accounts.get_by_key(w.ctx, "bulk-4").id)[:1] == ["AccountCreationEvent"]


def test_a_refused_batch_writes_nothing_and_names_the_account(w: World) -> None:
    items = [_new(i, "ref") for i in range(5)]
    items[3] = NewAccount(AccountData(name="bad", currency="XYZ", external_key="ref-3"))
    with pytest.raises(BulkLoadRefused) as refused:
        w.kb.bulk.load(w.ctx, items, batch_size=2)
    assert refused.value.status == 400
    assert refused.value.message.startswith("accounts[3].currency")
    assert "the 2 accounts before its batch are loaded" in refused.value.message
    assert refused.value.report == BulkReport(accounts=2, subscriptions=4, batches=1)
    keys = {a.external_key for a in w.kb.accounts.list(w.ctx, limit=1000).items}
    assert {"ref-0", "ref-1"} <= keys and not keys & {"ref-2", "ref-3", "ref-4"}


def test_a_key_in_use_is_a_conflict_and_rolls_its_batch_back(w: World) -> None:
    w.kb.accounts.create(w.ctx, AccountData(name="taken", currency="USD", external_key="dup-1"))
    with pytest.raises(BulkLoadRefused) as refused:
        w.kb.bulk.load(w.ctx, [_new(0, "dup"), _new(1, "dup")])
    assert refused.value.status == 409 and refused.value.message.startswith("accounts[1]: ")
    keys = {a.external_key for a in w.kb.accounts.list(w.ctx, limit=1000).items}
    assert "dup-0" not in keys  # same batch: rolled back with it
    with pytest.raises(BillowError, match="batch_size"):
        w.kb.bulk.load(w.ctx, [], batch_size=0)


def test_keys_repeated_within_a_batch_are_refused_at_their_second_use(w: World) -> None:
    """A batch is checked as one insert per account would have been: the second use of a key is the one
    refused, with its position, and nothing of the batch stays."""
    twice = [_new(0, "rep"), _new(1, "rep"), NewAccount(AccountData(name="again", currency="USD",
                                                                    external_key="rep-1"))]
    with pytest.raises(BulkLoadRefused) as account_key:
        w.kb.bulk.load(w.ctx, twice)
    assert account_key.value.status == 409 and account_key.value.message.startswith("accounts[2]: ")
    sub = [NewAccount(AccountData(name=f"s{i}", currency="USD", external_key=f"sk-{i}"),
                      [SubscriptionRequest(account_id="", plan_name="gold-monthly", external_key="one-key")])
           for i in range(3)]
    with pytest.raises(BulkLoadRefused) as sub_key:
        w.kb.bulk.load(w.ctx, sub)
    assert sub_key.value.code == 1014
    assert sub_key.value.message == "accounts[1]: Subscription with external key one-key already exists " \
                                    "(the 0 accounts before its batch are loaded)"
    keys = {a.external_key for a in w.kb.accounts.list(w.ctx, limit=1000).items}
    assert not keys & {"rep-0", "rep-1", "sk-0", "sk-1", "sk-2"}


def test_a_batch_keeps_each_accounts_given_keys_and_bill_cycle_day(w: World) -> None:
    items = [NewAccount(AccountData(name=f"k{i}", currency="USD", external_key=f"k-{i}"),
                        [SubscriptionRequest(account_id="", plan_name="gold-monthly", external_key=f"s-{i}",
                                             bundle_external_key=f"b-{i}", bill_cycle_day_local=3 + i),
                         SubscriptionRequest(account_id="", plan_name="boost-monthly", bundle_external_key=f"b-{i}")])
             for i in range(3)]
    w.kb.bulk.load(w.ctx, items)
    for i in range(3):
        account = w.kb.accounts.get_by_key(w.ctx, f"k-{i}")
        _, bundles, views = w.kb.entitlements.account_views(w.ctx, account.id)
        assert [b.external_key for b in bundles] == [f"b-{i}"]
        by_plan = {v.current.plan.name: v for v in views if v.current and v.current.plan}
        assert by_plan["gold-monthly"].subscription.external_key == f"s-{i}"
        assert by_plan["gold-monthly"].bill_cycle_day_local == 3 + i
        assert by_plan["boost-monthly"].subscription.bundle_id == by_plan["gold-monthly"].subscription.bundle_id
        # the CREATE comes before the BCD_CHANGE given with it (record ids in the order decided)
        events = by_plan["gold-monthly"].subscription.events
        assert [e.event_type.value for e in sorted(events, key=lambda e: e.total_ordering)] == \
            ["CREATE", "BCD_CHANGE"]


def test_a_long_load_takes_the_statistics_of_its_tables_and_of_the_full_bus(w: World) -> None:
    """A load fills its tables and the bus faster than statistics follow: they are analyzed along the way (a claim
    on 276,000 unanalyzed events took 550 ms, 21 ms analyzed; the key check read every account of the tenant)."""
    if w.kb.db.is_sqlite:
        pytest.skip("ANALYZE and its statistics are PostgreSQL's")
    from sqlalchemy import text

    from billow.operations import bulk

    def analyzed() -> dict[str, int]:
        with w.kb.db.engine.connect() as conn:
            return dict(conn.execute(text("SELECT relname, analyze_count FROM pg_stat_user_tables "
                                          "WHERE relname IN ('bus_events', 'notifications', 'accounts')")).all())

    def counts() -> dict[str, int]:  # the statistics collector reports with a delay
        import time
        before = analyzed()
        for _ in range(50):
            with w.kb.db.engine.connect() as conn:
                conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            now = analyzed()
            if now != before:
                return now
            time.sleep(0.1)
        return before

    start = analyzed()
    w.kb.bulk.load(w.ctx, (_new(i, "long") for i in range(bulk.ANALYZE_AFTER)), batch_size=1)
    after = counts()
    assert {k: after[k] - start.get(k, 0) for k in after} == {"bus_events": 1, "notifications": 1, "accounts": 1}
    w.kb.bulk.load(w.ctx, (_new(i, "few") for i in range(bulk.ANALYZE_AFTER - 1)), batch_size=1)
    assert counts() == after  # a short load: left to the database
