"""The transfer engine (`billow.entitlement.transfer`), pure: the copy's events and the source's cancellation date
(Kill Bill's `DefaultSubscriptionBaseTransferApi.toEvents` and `transferBundle`), with a property test: the copy
goes through the same transitions as the original from the transfer date on."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from billow.catalog.model import PhaseType
from billow.entitlement.model import BcdTransfer, Subscription, SubscriptionEvent, SubscriptionEventType
from billow.entitlement.timeline import Transition, transitions
from billow.entitlement.transfer import source_cancel_date, transferred_events
from tests.junction.test_billing_events import CATALOG, T0, d, event, sub


def _copy(rows: list[dict[str, Any]]) -> Subscription:
    events = [SubscriptionEvent(
        record_id=10_000 + i, id=str(uuid.uuid4()), subscription_id="copy",
        event_type=SubscriptionEventType(r["event_type"]), effective_date=r["effective_date"],
        created_date=r["effective_date"], plan_name=r["plan_name"], price_list_name=r["price_list_name"],
        phase_align_date=r["phase_align_date"],
        initial_phase_type=PhaseType(r["initial_phase_type"]) if r["initial_phase_type"] else None,
        bill_cycle_day_local=r["billing_cycle_day_local"], quantity=r["quantity"], total_ordering=10_000 + i)
        for i, r in enumerate(rows)]
    return sub("copy", events, start=rows[0]["effective_date"])


def _shape(trans: list[Transition]) -> list[tuple[str, datetime, str | None, str | None, int, int | None]]:
    return [(t.type.value, t.effective_date, t.plan.name if t.plan else None, t.phase.name if t.phase else None,
             t.quantity, t.bill_cycle_day_local) for t in trans if not t.ends]


def test_transfer_in_the_trial_keeps_the_phase_date() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "gold-monthly")])
    rows = transferred_events(s, transitions(s, CATALOG), d(10), BcdTransfer.USE_EXISTING)
    assert [(r["event_type"], r["effective_date"], r["plan_name"], r["initial_phase_type"], r["phase_align_date"])
            for r in rows] == [("TRANSFER", d(10), "gold-monthly", "TRIAL", T0)]
    assert _shape(transitions(_copy(rows), CATALOG)) == [
        ("TRANSFER", d(10), "gold-monthly", "gold-monthly-trial", 1, None),
        ("PHASE", d(30), "gold-monthly", "gold-monthly-evergreen", 1, None)]


def test_transfer_in_the_evergreen_phase_lays_it_out_from_its_start() -> None:
    """A subscription aligned bill cycle day is counted from the phase transferred in (Kill Bill's
    `getDateOfFirstRecurringNonZeroCharge` of the TRANSFER transition)."""
    s = sub("s1", [event("s1", "CREATE", T0, "gold-monthly")])
    [row] = transferred_events(s, transitions(s, CATALOG), d(40), BcdTransfer.USE_EXISTING)
    assert (row["event_type"], row["initial_phase_type"], row["phase_align_date"]) == ("TRANSFER", "EVERGREEN", d(30))


def test_a_pending_change_bcd_and_quantity_follow_the_transfer() -> None:
    s = sub("s1", [event("s1", "CREATE", T0, "silver-monthly"),
                   event("s1", "BCD_CHANGE", d(2), bcd=20),
                   dataclasses.replace(event("s1", "QUANTITY_CHANGE", d(3)), quantity=4),
                   event("s1", "CHANGE", d(50), "gold-monthly", align=T0),
                   dataclasses.replace(event("s1", "QUANTITY_CHANGE", d(60)), quantity=6)])
    trans = transitions(s, CATALOG)
    kinds = [(r["event_type"], r["effective_date"], r["billing_cycle_day_local"], r["quantity"])
             for r in transferred_events(s, trans, d(10), BcdTransfer.USE_EXISTING)]
    assert kinds == [("TRANSFER", d(10), None, 4), ("BCD_CHANGE", d(10), 20, None), ("CHANGE", d(50), None, None),
                     ("QUANTITY_CHANGE", d(60), None, 6)]
    aligned = transferred_events(s, trans, d(10), BcdTransfer.ALIGN_WITH_EFF_DT)
    assert [r["billing_cycle_day_local"] for r in aligned if r["event_type"] == "BCD_CHANGE"] == [25]  # 2024-01-25
    dropped = transferred_events(s, trans, d(10), BcdTransfer.NONE)
    assert [r["event_type"] for r in dropped] == ["TRANSFER", "CHANGE", "QUANTITY_CHANGE"]


def test_a_pending_subscription_keeps_its_start() -> None:
    s = sub("s1", [event("s1", "CREATE", d(20), "silver-monthly")], start=d(20))
    rows = transferred_events(s, transitions(s, CATALOG), d(5), BcdTransfer.USE_EXISTING)
    assert [(r["event_type"], r["effective_date"]) for r in rows] == [("TRANSFER", d(20))]


def test_source_cancel_date() -> None:
    s = dataclasses.replace(sub("s1", [event("s1", "CREATE", T0, "gold-monthly")]), charged_through_date=d(45))
    trans = transitions(s, CATALOG)  # PHASE at d(30)
    now = d(35)
    assert source_cancel_date(s, trans, d(35), immediate=False, now=now) == d(45)  # END_OF_TERM: the CTD
    assert source_cancel_date(s, trans, d(35), immediate=True, now=now) == d(35)
    assert source_cancel_date(s, trans, d(50), immediate=False, now=now) == d(50)  # the CTD is already passed
    # never before the last transition that already happened (the phase at d(30))
    assert source_cancel_date(s, trans, d(20), immediate=True, now=now) == d(30)


PLANS = ("gold-monthly", "silver-monthly", "gold-annual", "course-fixedterm")


@settings(max_examples=150, deadline=None)
@given(start_plan=st.sampled_from(PLANS), change_plan=st.sampled_from(PLANS), change_day=st.integers(1, 200),
       has_change=st.booleans(), quantity_day=st.integers(0, 200), transfer_hours=st.integers(1, 24 * 250))
def test_the_copy_goes_through_the_same_transitions_after_the_transfer(
        start_plan: str, change_plan: str, change_day: int, has_change: bool, quantity_day: int,
        transfer_hours: int) -> None:
    events = [dataclasses.replace(event("s1", "CREATE", T0, start_plan), quantity=2),
              dataclasses.replace(event("s1", "QUANTITY_CHANGE", d(quantity_day)), quantity=5)]
    if has_change:
        events.append(event("s1", "CHANGE", d(change_day), change_plan, align=T0))
    s = sub("s1", events)
    source = transitions(s, CATALOG)
    at = T0 + timedelta(hours=transfer_hours)
    end = next((t.effective_date for t in source if t.ends), None)
    if end is not None and end <= at:
        return  # nothing in force to transfer
    rows = transferred_events(s, source, at, BcdTransfer.USE_EXISTING)
    copy = _shape(transitions(_copy(rows), CATALOG))
    before = [t for t in _shape(source) if t[1] < at]
    after = [t for t in _shape(source) if t[1] >= at and t[0] != "QUANTITY_CHANGE"]
    in_force = before[-1]
    # the TRANSFER carries what was in force, then the same transitions on the same dates
    assert copy[0] == ("TRANSFER", at, in_force[2], in_force[3], in_force[4], None)
    assert [t for t in copy[1:] if t[0] != "QUANTITY_CHANGE"] == after
    # and it stops where the original would have (a fixed-term plan expires on the same date)
    copy_end = next((t.effective_date for t in transitions(_copy(rows), CATALOG) if t.ends), None)
    assert copy_end == end
