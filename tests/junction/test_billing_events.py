"""Billing events of representative subscription histories, asserted exactly (pure, no database).

Rules: billing-semantics.md Part 3 (events, order), 2.4 (blocking), 2.5 (bill cycle day)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from billow.catalog.model import Catalog, PhaseType, ProductCategory
from billow.catalog.xml import load_version_xml
from billow.core.account_time import AccountTime
from billow.entitlement.model import (
    BlockingState,
    BlockingStateType,
    PhasePriceOverride,
    Subscription,
    SubscriptionEvent,
    SubscriptionEventType,
)
from billow.junction.engine import AccountBillingContext, billing_events

CATALOG = Catalog.of([load_version_xml(
    (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text())])
T0 = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
ACCOUNT = AccountBillingContext("acct", "USD", AccountTime("UTC"), 0)
_n = iter(range(1, 10_000))


def d(days: float = 0, base: datetime = T0) -> datetime:
    return base + timedelta(days=days)


def event(sub_id: str, kind: str, when: datetime, plan: str | None = None, *, align: datetime | None = None,
          phase: PhaseType | None = None, bcd: int | None = None, active: bool = True,
          overrides: tuple[PhasePriceOverride, ...] = ()) -> SubscriptionEvent:
    n = next(_n)
    return SubscriptionEvent(record_id=n, id=str(uuid.uuid4()), subscription_id=sub_id,
                             event_type=SubscriptionEventType(kind), effective_date=when, created_date=when,
                             plan_name=plan, price_list_name=None, phase_align_date=align or (when if plan else None),
                             initial_phase_type=phase, bill_cycle_day_local=bcd, price_overrides=overrides,
                             is_active=active, total_ordering=n)


def sub(sub_id: str, events: list[SubscriptionEvent], *, bundle: str = "b1", start: datetime = T0,
        category: ProductCategory = ProductCategory.BASE) -> Subscription:
    return Subscription(record_id=next(_n), id=sub_id, bundle_id=bundle, account_id="acct", account_record_id=1,
                        category=category, external_key=sub_id, start_date=start, bundle_start_date=start,
                        charged_through_date=None, created_date=start, events=tuple(events))


def block(blockable: str, kind: BlockingStateType, state: str, when: datetime, billing: bool,
          service: str = "entitlement-service") -> BlockingState:
    return BlockingState(record_id=next(_n), id=str(uuid.uuid4()), blockable_id=blockable, type=kind,
                         state_name=state, service=service, block_change=billing, block_entitlement=billing,
                         block_billing=billing, effective_date=when, created_date=when)


def rows(subs: list[Subscription], states: list[BlockingState] = (), account: AccountBillingContext = ACCOUNT
         ) -> list[tuple[str, str, datetime, str | None, Decimal | None, Decimal | None, int, str]]:
    result = billing_events(account, subs, list(states), CATALOG)
    return [(e.subscription_id, e.transition_type.value, e.effective_date, e.phase_name, e.fixed_price,
             e.recurring_price, e.bill_cycle_day_local, e.billing_period.value) for e in result.events]


def test_trial_then_evergreen_sets_the_account_bcd_from_the_first_paying_date() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "gold-monthly")])
    result = billing_events(ACCOUNT, [s], [], CATALOG)
    assert result.account_bcd_to_set == 14  # trial ends Feb 14
    assert rows([s]) == [
        ("s1", "CREATE", T0, "gold-monthly-trial", Decimal("0"), None, 14, "NO_BILLING_PERIOD"),
        ("s1", "PHASE", d(30), "gold-monthly-evergreen", None, Decimal("30.00"), 14, "MONTHLY"),
    ]


def test_account_bcd_already_set_wins_for_account_aligned_plans() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "gold-monthly")])
    result = billing_events(AccountBillingContext("acct", "USD", AccountTime("UTC"), 3), [s], [], CATALOG)
    assert result.account_bcd_to_set is None
    assert {e.bill_cycle_day_local for e in result.events} == {3}


def test_annual_is_subscription_aligned_and_never_sets_the_account_bcd() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "gold-annual")])
    result = billing_events(ACCOUNT, [s], [], CATALOG)
    assert result.account_bcd_to_set is None
    assert [(e.transition_type.value, e.bill_cycle_day_local, e.billing_period.value) for e in result.events] == [
        ("CREATE", 14, "NO_BILLING_PERIOD"), ("PHASE", 14, "ANNUAL")]


def test_bcd_follows_the_account_time_zone() -> None:
    late = datetime(2024, 1, 15, 3, 0, tzinfo=UTC)  # still Jan 14 in Los Angeles
    s = sub("s1", [event("s1", "CREATE", late, "silver-monthly")], start=late)
    la = AccountBillingContext("acct", "USD", AccountTime("America/Los_Angeles"), 0)
    result = billing_events(la, [s], [], CATALOG)
    assert result.account_bcd_to_set == 14


def test_change_of_plan_and_cancel() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "silver-monthly"),
                   event("s1", "CHANGE", d(10), "gold-monthly", align=T0, phase=PhaseType.EVERGREEN),
                   event("s1", "CANCEL", d(40))])
    assert rows([s]) == [
        ("s1", "CREATE", T0, "silver-monthly-evergreen", None, Decimal("20.00"), 15, "MONTHLY"),
        ("s1", "CHANGE", d(10), "gold-monthly-evergreen", None, Decimal("30.00"), 15, "MONTHLY"),
        ("s1", "CANCEL", d(40), "gold-monthly-evergreen", None, None, 15, "NO_BILLING_PERIOD"),
    ]


def test_change_of_plan_aligned_on_the_change_date_restarts_the_trial() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "silver-monthly"),
                   event("s1", "CHANGE", d(10), "gold-monthly", align=d(10))])
    assert [(r[1], r[2], r[3]) for r in rows([s])] == [
        ("CREATE", T0, "silver-monthly-evergreen"),
        ("CHANGE", d(10), "gold-monthly-trial"),
        ("PHASE", d(40), "gold-monthly-evergreen"),
    ]


def test_inactive_events_are_ignored() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "silver-monthly"), event("s1", "CANCEL", d(5), active=False)])
    assert [r[1] for r in rows([s])] == ["CREATE"]


def test_addon_bundle_aligned_with_remaining_trial() -> None:
    base = sub("base", [event("base", "CREATE", T0, "silver-monthly")])
    addon = sub("addon", [event("addon", "CREATE", d(14), "boost-monthly", align=T0)], start=d(14),
                category=ProductCategory.ADD_ON)
    got = [r for r in rows([base, addon]) if r[0] == "addon"]
    # BUNDLE billing alignment: the base's BCD (15), trial ends 30 days after the base started
    assert got == [
        ("addon", "CREATE", d(14), "boost-monthly-trial", Decimal("0"), None, 15, "NO_BILLING_PERIOD"),
        ("addon", "PHASE", d(30), "boost-monthly-evergreen", None, Decimal("10.00"), 15, "MONTHLY"),
    ]


def test_pause_and_resume_of_the_bundle() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "silver-monthly")])
    states = [block("b1", BlockingStateType.SUBSCRIPTION_BUNDLE, "ENT_BLOCKED", d(20), True),
              block("b1", BlockingStateType.SUBSCRIPTION_BUNDLE, "ENT_CLEAR", d(30), False)]
    assert rows([s], states) == [
        ("s1", "CREATE", T0, "silver-monthly-evergreen", None, Decimal("20.00"), 15, "MONTHLY"),
        ("s1", "START_BILLING_DISABLED", d(20), "silver-monthly-evergreen", None, None, 15, "NO_BILLING_PERIOD"),
        ("s1", "END_BILLING_DISABLED", d(30), "silver-monthly-evergreen", None, Decimal("20.00"), 15, "MONTHLY"),
    ]


def test_phase_inside_a_pause_is_removed_and_the_resume_carries_it() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "gold-monthly")])
    states = [block("acct", BlockingStateType.ACCOUNT, "OD1", d(20), True, service="overdue-service"),
              block("acct", BlockingStateType.ACCOUNT, "CLEAR", d(40), False, service="overdue-service")]
    assert [(r[1], r[2], r[3], r[5]) for r in rows([s], states)] == [
        ("CREATE", T0, "gold-monthly-trial", None),
        ("START_BILLING_DISABLED", d(20), "gold-monthly-trial", None),
        ("END_BILLING_DISABLED", d(40), "gold-monthly-evergreen", Decimal("30.00")),
    ]


def test_blocking_after_cancel_is_ignored() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "silver-monthly"), event("s1", "CANCEL", d(10))])
    states = [block("s1", BlockingStateType.SUBSCRIPTION, "X", d(20), True, service="custom")]
    assert [r[1] for r in rows([s], states)] == ["CREATE", "CANCEL"]


def test_open_ended_block_stops_billing() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "silver-monthly")])
    states = [block("s1", BlockingStateType.SUBSCRIPTION, "STOP", d(5), True, service="custom")]
    assert [r[1] for r in rows([s], states)] == ["CREATE", "START_BILLING_DISABLED"]


def test_bcd_change_overrides_alignment_from_its_date_and_charges_no_fixed_price() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "course-fixedterm"), event("s1", "BCD_CHANGE", d(5), bcd=25)])
    assert [(r[1], r[2], r[4], r[6]) for r in rows([s])] == [
        ("CREATE", T0, Decimal("50.00"), 15),
        ("BCD_CHANGE", d(5), None, 25),
        ("EXPIRED", datetime(2024, 4, 15, 10, 0, tzinfo=UTC), None, 25),
    ]


def test_price_overrides_replace_catalog_prices() -> None:
    override = PhasePriceOverride("gold-monthly-evergreen", None, None, Decimal("24.99"))
    s = sub("s1", [event("s1", "CREATE", T0, "gold-monthly", overrides=(override,))])
    assert [r[5] for r in rows([s])] == [None, Decimal("24.99")]


def test_in_arrear_mode_and_ordering_across_subscriptions() -> None:
    a = sub("a", [event("a", "CREATE", d(1), "silver-arrear")], start=d(1))
    b = sub("b", [event("b", "CREATE", T0, "silver-monthly")], bundle="b2")
    result = billing_events(AccountBillingContext("acct", "USD", AccountTime("UTC"), 1), [b, a], [], CATALOG)
    assert [(e.subscription_id, e.billing_mode.value) for e in result.events] == [("a", "IN_ARREAR"),
                                                                                  ("b", "IN_ADVANCE")]


def test_newer_version_reprices_existing_subscriptions_from_its_declared_date() -> None:
    folder = Path(__file__).resolve().parents[1] / "catalog" / "data" / "versions"
    catalog = Catalog.of([load_version_xml(p.read_text()) for p in sorted(folder.glob("club-v*.xml"))])
    start = datetime(2020, 2, 10, tzinfo=UTC)
    s = sub("s1", [event("s1", "CREATE", start, "club-monthly")], start=start)
    result = billing_events(AccountBillingContext("acct", "USD", AccountTime("UTC"), 1), [s], [], catalog)
    got = [(e.transition_type.value, e.effective_date, e.recurring_price, e.catalog_effective_date.date().isoformat())
           for e in result.events]
    # v2 declares effectiveDateForExistingSubscriptions 2020-07-01: a synthetic CHANGE at that date bills $12;
    # v3 declares none, so existing subscriptions stay on v2 prices (grandfathered)
    assert got == [
        ("CREATE", start, None, "2020-01-01"),
        ("PHASE", datetime(2020, 2, 24, tzinfo=UTC), Decimal("10.00"), "2020-01-01"),
        ("CHANGE", datetime(2020, 7, 1, tzinfo=UTC), Decimal("12.00"), "2020-06-01"),
    ]
