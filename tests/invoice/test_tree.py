"""The repair stage alone (billing-semantics.md 4.4, 4.5, Part 5.2/3/11/15).

Most cases are Kill Bill's `TestSubscriptionItemTree` (invoice module) with its figures:
existing items + proposed items → the items a run writes.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billow.invoice import InvoiceItem, InvoiceItemType, InvoicingError
from billow.invoice.generator import merge_items
from billow.invoice.tree import fully_repaired_ids
from tests.invoice.conftest import ACCOUNT_ID, d, summary

_ids = itertools.count(1)
NOW = datetime(2020, 1, 1, tzinfo=UTC)


def rec(start: str, end: str, amount: str, rate: str | None = None, plan: str = "plan", sub: str = "sub-1",
        kind: InvoiceItemType = InvoiceItemType.RECURRING) -> InvoiceItem:
    return InvoiceItem(id=f"it-{next(_ids)}", invoice_id="inv-0", account_id=ACCOUNT_ID, type=kind,
                       start_date=d(start), end_date=d(end) if end else None, amount=Decimal(amount), currency="USD",
                       subscription_id=sub, bundle_id="bundle-1", product_name=plan, plan_name=plan,
                       phase_name=plan + "-evergreen", rate=Decimal(rate if rate is not None else amount)
                       if kind is InvoiceItemType.RECURRING else None)


def fixed(start: str, amount: str, plan: str = "plan") -> InvoiceItem:
    return rec(start, "", amount, plan=plan, kind=InvoiceItemType.FIXED)


def repair(start: str, end: str, amount: str, linked: InvoiceItem) -> InvoiceItem:
    return InvoiceItem(id=f"it-{next(_ids)}", invoice_id="inv-0", account_id=ACCOUNT_ID,
                       type=InvoiceItemType.REPAIR_ADJ, start_date=d(start), end_date=d(end),
                       amount=Decimal(amount), currency="USD", linked_item_id=linked.id)


def item_adj(amount: str, linked: InvoiceItem) -> InvoiceItem:
    return InvoiceItem(id=f"it-{next(_ids)}", invoice_id="inv-0", account_id=ACCOUNT_ID, type=InvoiceItemType.ITEM_ADJ,
                       start_date=linked.start_date, end_date=linked.start_date, amount=Decimal(amount),
                       currency="USD", linked_item_id=linked.id)


def merge(existing: list[InvoiceItem], proposed: list[InvoiceItem], fixed_days: int = 0) -> list[InvoiceItem]:
    return merge_items(existing, proposed, account_id=ACCOUNT_ID, currency="USD", invoice_id="inv-new", now=NOW,
                       fixed_days=fixed_days)


def test_bcd_change_covered_by_same_kind_pieces_writes_nothing() -> None:
    # KB testWithBCDChange
    existing = [rec("2014-05-01", "2014-06-01", "10.00"), rec("2014-06-01", "2014-06-15", "5.00", "10.00")]
    proposed = [rec("2014-05-01", "2014-05-15", "5.00", "10.00"), rec("2014-05-15", "2014-06-15", "10.00")]
    assert merge(existing, proposed) == []


def test_bcd_change_bills_only_what_lies_outside_the_old_item() -> None:
    # KB testWithBCDChange2: split amounts are complements (Part 5.3): 10 − round9(3/31)×10 = 9.03
    existing = [rec("2014-06-20", "2014-07-20", "10.00")]
    proposed = [rec("2014-06-17", "2014-07-17", "10.00"), rec("2014-07-17", "2014-08-17", "10.00")]
    assert summary(merge(existing, proposed)) == [("RECURRING", "2014-06-17", "2014-06-20", "1.00"),
                                                  ("RECURRING", "2014-07-20", "2014-08-17", "9.03")]


def test_pause_on_annual_repairs_the_gap_and_bills_the_overhang() -> None:
    # KB testAnnualWithBlocking1
    annual = rec("2014-01-01", "2015-01-01", "100.00")
    proposed = [rec("2014-01-01", "2014-01-14", "10", "100.00"), rec("2014-02-08", "2015-02-01", "90.0", "100.00")]
    out = merge([annual], proposed)
    assert summary(out) == [("REPAIR_ADJ", "2014-01-14", "2014-02-08", "-6.85"),
                            ("RECURRING", "2015-01-01", "2015-02-01", "7.79")]
    assert [it.linked_item_id for it in out if it.type is InvoiceItemType.REPAIR_ADJ] == [annual.id]


def test_second_run_after_pause_repair_is_idempotent() -> None:
    # KB testAnnualWithBlocking2
    annual = rec("2014-01-01", "2015-01-01", "100.00")
    existing = [annual, repair("2014-01-14", "2014-02-08", "-6.85", annual), rec("2015-01-01", "2015-02-01", "100.00")]
    proposed = [rec("2014-01-01", "2014-01-14", "10", "100.00"), rec("2014-02-08", "2015-02-01", "90.0", "100.00")]
    assert merge(existing, proposed) == []


def test_remaining_piece_of_a_repaired_item_is_reprorated_and_rounded() -> None:
    # KB testBlockUnblock (#1205): piece [Apr 27, May 3) = round(round9(6/30) × 29.95) = 5.99, then fully repaired
    recurring = rec("2019-04-27", "2019-05-27", "29.95")
    out = merge([recurring, repair("2019-05-03", "2019-05-27", "-23.96", recurring)], [])
    assert summary(out) == [("REPAIR_ADJ", "2019-04-27", "2019-05-03", "-5.99")]
    assert out[0].linked_item_id == recurring.id


def test_simple_repair_then_nothing_new() -> None:
    # KB testSimpleRepair: piece [Jan 1, Jan 23) of 12.00 = round9(22/31) × 12 = 8.52; re-proposing it is a match
    initial = rec("2014-01-01", "2014-02-01", "12.00")
    new_item = rec("2014-01-23", "2014-02-01", "14.85", plan="someelse")
    existing = [initial, new_item, repair("2014-01-23", "2014-02-01", "-12.00", initial)]
    # the repair equals the amount: fully repaired → pruned (InvoicePruner)
    assert fully_repaired_ids(existing) == {initial.id, existing[2].id}
    existing[2] = repair("2014-01-23", "2014-02-01", "-3.48", initial)
    proposed = [rec("2014-01-01", "2014-01-23", "8.52", "12.00"), rec("2014-01-23", "2014-02-01", "14.85",
                                                                       plan="someelse")]
    assert merge(existing, proposed) == []


def test_two_middle_repairs_in_any_proposal_order() -> None:
    # KB testMergeCancellationWithTwoMiddleRepair: −round(round9(6/31)×12) = −2.32, −round(round9(8/31)×12) = −3.10
    for order in ((0, 1, 2), (1, 0, 2), (2, 1, 0)):
        monthly = rec("2014-01-01", "2014-02-01", "12.00")
        ps = [rec("2014-01-01", "2014-01-07", "12.00"), rec("2014-01-13", "2014-01-17", "12.00"),
              rec("2014-01-25", "2014-02-01", "12.00")]
        out = merge([monthly], [ps[i] for i in order])
        assert summary(out) == [("REPAIR_ADJ", "2014-01-07", "2014-01-13", "-2.32"),
                                ("REPAIR_ADJ", "2014-01-17", "2014-01-25", "-3.10")]


def test_upgrade_repairs_the_rest_of_the_period_and_bills_the_new_plan() -> None:
    # KB testMergeUpgradeWithFinalRepair: −round9(7/31)×12 = −2.71
    monthly = rec("2014-01-01", "2014-02-01", "12.00")
    new_plan = rec("2014-01-25", "2014-02-01", "12.00", "20.00", plan="foo")
    out = merge([monthly], [rec("2014-01-01", "2014-01-25", "12.00"), new_plan])
    assert summary(out) == [("RECURRING", "2014-01-25", "2014-02-01", "12.00"),
                            ("REPAIR_ADJ", "2014-01-25", "2014-02-01", "-2.71")]


def test_second_change_repairs_the_piece_of_the_first_change() -> None:
    # KB testMergeWithSecondRepair: round9(24/25) × 8.02 = 7.70
    initial = rec("2012-05-01", "2012-06-01", "599.95")
    new1 = rec("2012-05-07", "2012-06-01", "8.02", "9.95", plan="foo")
    existing = [initial, new1, repair("2012-05-07", "2012-06-01", "-483.86", initial)]
    proposed = [rec("2012-05-01", "2012-05-07", "116.12", "599.95"),
                rec("2012-05-07", "2012-05-08", "23.19", "9.95", plan="foo"),
                rec("2012-05-08", "2012-06-01", "23.19", "29.95", plan="bar")]
    out = merge(existing, proposed)
    assert summary(out) == [("RECURRING", "2012-05-08", "2012-06-01", "23.19"),
                            ("REPAIR_ADJ", "2012-05-08", "2012-06-01", "-7.70")]
    assert [it.linked_item_id for it in out if it.type is InvoiceItemType.REPAIR_ADJ] == [new1.id]


def test_repair_is_capped_by_net_amount_after_item_adjustment() -> None:
    # KB testRepairWithSmallItemAdjustment / testRepairWithLargeItemAdjustment; spec scenario 7
    for adj, expected in (("-2.00", "-3.48"), ("-10.00", "-2.00")):
        initial = rec("2014-01-01", "2014-02-01", "12.00")
        out = merge([initial, item_adj(adj, initial)], [rec("2014-01-01", "2014-01-23", "8.52", "12.00")])
        assert summary(out) == [("REPAIR_ADJ", "2014-01-23", "2014-02-01", expected)]
    # scenario 7: a 249.95 item adjusted by $10, cancelled on day 2 of 31: −239.95 instead of −241.89
    big = rec("2012-01-01", "2012-02-01", "249.95")
    assert summary(merge([big], [rec("2012-01-01", "2012-01-02", "8.06", "249.95")])) == \
        [("REPAIR_ADJ", "2012-01-02", "2012-02-01", "-241.89")]
    big = rec("2012-01-01", "2012-02-01", "249.95")
    assert summary(merge([big, item_adj("-10.00", big)], [rec("2012-01-01", "2012-01-02", "8.06", "249.95")])) == \
        [("REPAIR_ADJ", "2012-01-02", "2012-02-01", "-239.95")]


def test_fixed_items_are_matched_never_repaired() -> None:
    # KB testWithExistingFixedItem / testWithNewFixedItem; Part 5.11
    setup = fixed("2014-01-01", "5.00")
    assert merge([setup], [fixed("2014-01-01", "5.00")]) == []
    assert summary(merge([], [fixed("2014-01-01", "5.00")])) == [("FIXED", "2014-01-01", None, "5.00")]
    # no proposal any more (cancel/change): still no credit
    assert merge([setup], []) == []


def test_zero_recurring_items_are_never_repaired_and_re_emitted_split() -> None:
    # Part 5.15, scenario 19
    zero = rec("2014-01-01", "2014-02-01", "0", "0")
    assert merge([zero], []) == []
    assert merge([zero], [rec("2014-01-01", "2014-02-01", "0", "0")]) == []
    assert summary(merge([zero], [rec("2014-01-01", "2014-01-15", "0", "0")])) == \
        [("RECURRING", "2014-01-01", "2014-01-15", "0.00")]


def test_same_plan_different_price_is_a_different_kind() -> None:
    # 4.5, scenario 17c: full repair + new item
    old = rec("2014-01-01", "2014-02-01", "10.00")
    out = merge([old], [rec("2014-01-01", "2014-02-01", "12.00")])
    assert summary(out) == [("RECURRING", "2014-01-01", "2014-02-01", "12.00"),
                            ("REPAIR_ADJ", "2014-01-01", "2014-02-01", "-10.00")]


def test_split_proposed_item_both_parts_new_is_rejoined_with_the_whole_amount() -> None:
    # 4.5 step 3: pieces of one proposed item that are both written are re-joined (a0 + a1 = A)
    old = rec("2014-01-01", "2014-02-01", "10.00")
    out = merge([old], [rec("2014-01-15", "2014-02-15", "33.33", "33.33", plan="other")])
    assert summary(out) == [("REPAIR_ADJ", "2014-01-01", "2014-02-01", "-10.00"),
                            ("RECURRING", "2014-01-15", "2014-02-15", "33.33")]


def test_repairs_never_exceed_item_even_when_pieces_round_up() -> None:
    # a piece repaired after earlier repairs is capped by what is left of it
    item = rec("2014-01-01", "2014-01-04", "0.05")
    out = merge([item], [rec("2014-01-02", "2014-01-03", "0.02", "0.05")])
    repairs = [it.amount for it in out if it.type is InvoiceItemType.REPAIR_ADJ]
    assert repairs == [Decimal("-0.02"), Decimal("-0.02")]  # round(1/3 × 0.05) each, 0.04 ≤ 0.05
    assert -sum(repairs) <= item.amount


def test_fixed_days_repair_uses_fixed_denominator() -> None:
    # 4.3: with N=30 a repaired piece is prorated over N, the numerator with the start-month correction
    item = rec("2023-05-01", "2023-06-01", "30.00")
    out = merge([item], [rec("2023-05-01", "2023-05-16", "15.00", "30.00")], fixed_days=30)
    # [May 16, Jun 1): 16 − (31 − 30) = 15 days / 30 → 15.00
    assert summary(out) == [("REPAIR_ADJ", "2023-05-16", "2023-06-01", "-15.00")]


def test_illegal_state_repair_without_item() -> None:
    orphan = rec("2014-01-01", "2014-02-01", "12.00")
    with pytest.raises(InvoicingError):
        merge([repair("2014-01-10", "2014-02-01", "-3.00", orphan)], [])


def test_illegal_state_overlapping_billed_items() -> None:
    a = rec("2014-01-01", "2014-02-01", "12.00")
    b = rec("2014-01-15", "2014-02-15", "12.00")
    with pytest.raises(InvoicingError):
        merge([a, b], [])


def test_illegal_state_too_many_repairs() -> None:
    a = rec("2014-01-01", "2014-02-01", "12.00")
    with pytest.raises(InvoicingError):
        merge([a, repair("2014-01-10", "2014-02-01", "-9.00", a), item_adj("-5.00", a)], [])
