"""Repair: merging what was billed with what is now due, per subscription (Kill Bill's item tree).

Sources (killbill/killbill, `invoice/src/main/java/org/killbill/billing/invoice/`):
`generator/InvoicePruner.java` (fully repaired items leave the picture),
`tree/AccountItemTree.java`, `tree/SubscriptionItemTree.java`,
`tree/ItemsNodeInterval.java`, `tree/ItemsInterval.java`, `tree/NodeInterval.java`
and `tree/Item.java`. Specification: billing-semantics.md 4.4 (matching of
FIXED items), 4.5 (repair) and Part 5 (2, 3, 11, 15).

Kill Bill builds a general interval tree; the shapes it can take for
consistent data are shallow, so this module computes the same results
directly:

1. *Existing view* (`build`): every non-zero RECURRING item that is not fully
   repaired either stays whole (keeping its ITEM_ADJ total), or, when it has
   REPAIR_ADJ items, leaves one piece per maximal sub-interval not covered by
   its repairs, each re-prorated from the item's own amount and day count and
   rounded to the currency (`ItemsInterval.createNewItem`, `Item.toProratedInvoiceItem`).
2. Those pieces, flattened and reversed, are the repair *candidates*.
3. Each proposed RECURRING item is inserted (`ItemsNodeInterval.addProposedItem`):
   identical interval and same kind → cancels the candidate; strictly inside a
   same-kind candidate → becomes its child; overlapping a candidate boundary →
   split at the boundary with complementary amounts (`Item.split`); anything
   else → a new RECURRING item. Split pieces that are both new are re-joined.
4. Each candidate yields REPAIR_ADJ items for the parts not covered by a
   same-kind child, prorated from the candidate and capped by its net amount.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from billow.core.money import round_money
from billow.invoice.model import InvoiceItem, InvoiceItemType
from billow.invoice.proration import ZERO, days_between, proration

RECURRING = InvoiceItemType.RECURRING
REPAIR_ADJ = InvoiceItemType.REPAIR_ADJ
ITEM_ADJ = InvoiceItemType.ITEM_ADJ
FIXED = InvoiceItemType.FIXED


class IllegalInvoicingState(Exception):
    """Kill Bill's "ILLEGAL INVOICING STATE" / "SAFETY BOUND TRIGGERED" (`ErrorCode.UNEXPECTED_ERROR`, 4).

    The account would be parked: the data would double-bill or over-repair.
    """

    code = 1


@dataclass(slots=True)
class Piece:
    """Kill Bill's tree `Item`: a (possibly partial) billed or proposed recurring interval.

    `source` carries the descriptive fields (plan, phase, rate, ids); `key`
    groups split pieces of one proposed item for re-joining.
    """

    source: InvoiceItem
    start: date
    end: date
    amount: Decimal  # positive; unrounded for split proposed pieces
    adjusted: Decimal = ZERO
    repaired: Decimal = ZERO
    key: int = 0

    def same_kind(self, other: Piece) -> bool:
        """`Item.isSameKind`: same plan name, phase name and rate (ids always differ here)."""
        a, b = self.source, other.source
        return ((a.plan_name or "") == (b.plan_name or "") and (a.phase_name or "") == (b.phase_name or "")
                and (a.rate or ZERO) == (b.rate or ZERO))

    def split(self, at: date, fixed_days: int) -> tuple[Piece, Piece]:
        """`Item.split`: a0 = round9(days(start, at) / days(item)) × amount (unrounded), a1 = amount − a0.

        With the fixed-days option the numerator is the fixed-days count over the real day count (spec 4.3).
        """
        a0 = proration(self.start, at, days_between(self.start, self.end), fixed_days) * self.amount
        return (Piece(self.source, self.start, at, a0, key=self.key),
                Piece(self.source, at, self.end, self.amount - a0, key=self.key))


@dataclass(slots=True)
class Candidate:
    """A remaining billed piece, reversed: what would be repaired unless proposed items cover it."""

    piece: Piece
    children: list[Piece] = field(default_factory=list)
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class RepairOut:
    """A REPAIR_ADJ to write: amount is negative and already rounded."""

    linked: InvoiceItem
    start: date
    end: date
    amount: Decimal


def fully_repaired_ids(items: Iterable[InvoiceItem]) -> set[str]:
    """`InvoicePruner.getFullyRepairedItemsClosure`: RECURRING items fully repaired, with their repairs.

    Raises on a repair without its item, on a fully repaired item that was also
    item-adjusted, and on repairs + adjustments larger than the item (Kill Bill's preconditions).
    """
    targets: dict[str, InvoiceItem] = {}
    repairs: dict[str, list[InvoiceItem]] = {}
    adjustments: dict[str, Decimal] = {}
    for it in items:
        t = it.type
        if t is RECURRING:
            if it.id in targets:
                raise IllegalInvoicingState(f"ILLEGAL INVOICING STATE: second recurring item with id {it.id}")
            targets[it.id] = it
        elif t is REPAIR_ADJ and it.linked_item_id is not None:
            repairs.setdefault(it.linked_item_id, []).append(it)
        elif t is ITEM_ADJ and it.linked_item_id is not None:
            adjustments[it.linked_item_id] = adjustments.get(it.linked_item_id, ZERO) + it.amount
    result: set[str] = set()
    for target_id, reps in repairs.items():
        target = targets.get(target_id)
        if target is None:
            raise IllegalInvoicingState(f"ILLEGAL INVOICING STATE: missing cancelled item for repair {reps[0].id}")
        if target.amount == 0:
            continue
        for r in reps:
            if (r.start_date is not None and target.start_date is not None and r.start_date < target.start_date) or (
                    r.end_date is not None and target.end_date is not None and r.end_date > target.end_date):
                raise IllegalInvoicingState(f"ILLEGAL INVOICING STATE: invalid repair {r.id} for item {target_id}")
        repaired = -sum((r.amount for r in reps), ZERO)
        adjusted = -adjustments.get(target_id, ZERO)
        if target.amount - adjusted < 0:
            continue  # adjusted too much: Kill Bill ignores it (testAdjustmentsToolarge)
        remaining = target.amount - repaired
        if remaining == 0:
            if adjusted != 0:
                raise IllegalInvoicingState(f"ILLEGAL INVOICING STATE: item {target_id} fully repaired and adjusted")
            result.add(target_id)
            result.update(r.id for r in reps)
        elif remaining - adjusted < 0:
            raise IllegalInvoicingState(f"ILLEGAL INVOICING STATE: too many repairs for item {target_id}")
    return result


def matches(existing: InvoiceItem, proposed: InvoiceItem) -> bool:
    """`InvoiceItemBase.matches` + `InvoiceItemCatalogBase.matches` (spec 4.4).

    Type, subscription, bundle, start date, end date (not for FIXED), amount,
    rate, currency, plan and phase; the catalog effective date is ignored (#1373).
    """
    return (existing.type is proposed.type
            and existing.subscription_id == proposed.subscription_id
            and existing.bundle_id == proposed.bundle_id
            and existing.child_account_id == proposed.child_account_id
            and existing.start_date == proposed.start_date
            and (existing.type is FIXED or existing.end_date == proposed.end_date)
            and existing.amount == proposed.amount
            and existing.rate == proposed.rate
            and existing.currency == proposed.currency
            and existing.plan_name == proposed.plan_name
            and existing.phase_name == proposed.phase_name)


class SubscriptionTree:
    """Existing items of one subscription merged with its proposed items (`SubscriptionItemTree`)."""

    __slots__ = ("currency", "fixed_days", "recurring", "repairs", "adjustments", "ignored", "candidates",
                 "_starts", "_ends", "new_pieces", "new_fixed", "_next_key")

    def __init__(self, currency: str, fixed_days: int) -> None:
        self.currency = currency
        self.fixed_days = fixed_days
        self.recurring: list[InvoiceItem] = []
        self.repairs: dict[str, list[InvoiceItem]] = {}
        self.adjustments: dict[str, Decimal] = {}
        # existing FIXED and $0 RECURRING items: never repaired, only matched (#783)
        self.ignored: list[InvoiceItem] = []
        self.candidates: list[Candidate] = []
        self._starts: list[date] = []
        self._ends: list[date] = []
        self.new_pieces: list[Piece] = []
        self.new_fixed: list[InvoiceItem] = []
        self._next_key = 0

    # ------------------------------------------------------------------ existing items

    def add_existing(self, item: InvoiceItem) -> None:
        """`SubscriptionItemTree.addItem`."""
        t = item.type
        if t is RECURRING:
            if item.amount == 0:
                self.ignored.append(item)
            else:
                self.recurring.append(item)
        elif t is REPAIR_ADJ:
            assert item.linked_item_id is not None
            self.repairs.setdefault(item.linked_item_id, []).append(item)
        elif t is FIXED:
            self.ignored.append(item)

    def add_adjustment(self, linked_id: str, amount: Decimal) -> None:
        """An ITEM_ADJ on one of this subscription's RECURRING items (`ItemsNodeInterval.addAdjustment`)."""
        if amount != 0:
            self.adjustments[linked_id] = self.adjustments.get(linked_id, ZERO) - amount

    def build(self) -> None:
        """Existing view, flattened and reversed into candidates (`build` then `flatten(true)`)."""
        fixed_days = self.fixed_days
        pieces: list[Piece] = []
        for item in self.recurring:
            assert item.start_date is not None and item.end_date is not None
            reps = self.repairs.get(item.id)
            if not reps:
                pieces.append(Piece(item, item.start_date, item.end_date, abs(item.amount),
                                    adjusted=self.adjustments.get(item.id, ZERO)))
                continue
            total_days = days_between(item.start_date, item.end_date) if fixed_days == 0 else fixed_days
            amount = abs(item.amount)
            cursor = item.start_date
            for r in sorted(reps, key=_by_start):
                assert r.start_date is not None and r.end_date is not None
                if r.start_date > cursor:
                    pieces.append(self._remaining(item, cursor, r.start_date, amount, total_days))
                if r.end_date > cursor:
                    cursor = r.end_date
            if cursor < item.end_date:
                pieces.append(self._remaining(item, cursor, item.end_date, amount, total_days))
        pieces.sort(key=_piece_start)
        prev_end: date | None = None
        for p in pieces:
            if prev_end is not None and p.start < prev_end:
                raise IllegalInvoicingState(f"ILLEGAL INVOICING STATE: double billing of {p.source.subscription_id} "
                                            f"on [{p.start}, {prev_end})")
            prev_end = p.end
        self.candidates = [Candidate(p) for p in pieces]
        self._starts = [p.start for p in pieces]
        self._ends = [p.end for p in pieces]

    def _remaining(self, item: InvoiceItem, start: date, end: date, amount: Decimal, total_days: int) -> Piece:
        """A piece left of a partially repaired item: round(round9(days/itemDays) × amount), no adjustment carried."""
        value = round_money(proration(start, end, total_days, self.fixed_days) * amount, self.currency)
        return Piece(item, start, end, value)

    # ------------------------------------------------------------------ proposed items

    def _is_known(self, proposed: InvoiceItem) -> bool:
        return any(matches(e, proposed) for e in self.ignored)

    def add_proposed(self, proposed: InvoiceItem) -> None:
        """`SubscriptionItemTree.mergeProposedItem`."""
        if self.ignored and self._is_known(proposed):
            return
        if proposed.type is FIXED:
            self.new_fixed.append(proposed)
            return
        if proposed.type is not RECURRING:
            raise IllegalInvoicingState(f"unexpected proposed item {proposed.type}")
        assert proposed.start_date is not None and proposed.end_date is not None
        self._next_key += 1
        todo: Piece | None = Piece(proposed, proposed.start_date, proposed.end_date, proposed.amount,
                                   key=self._next_key)
        cands = self.candidates
        fixed_days = self.fixed_days
        while todo is not None:
            p = todo
            todo = None
            idx = bisect_right(self._ends, p.start)  # first candidate ending after p starts
            if idx == len(cands):
                self.new_pieces.append(p)
                continue
            c = cands[idx]
            cp = c.piece
            if p.start < cp.start:
                if p.end <= cp.start:
                    self.new_pieces.append(p)
                else:
                    before, todo = p.split(cp.start, fixed_days)
                    self.new_pieces.append(before)
            elif p.end <= cp.end:
                self._add_into(c, p)
            else:
                inside, todo = p.split(cp.end, fixed_days)
                self._add_into(c, inside)

    def _add_into(self, c: Candidate, p: Piece) -> None:
        cp = c.piece
        if c.cancelled:
            raise IllegalInvoicingState(f"ILLEGAL INVOICING STATE: overlapping proposed items on [{p.start}, {p.end})")
        if p.start == cp.start and p.end == cp.end:
            if cp.same_kind(p):
                c.cancelled = True
            else:
                self.new_pieces.append(p)
            return
        for ch in c.children:
            if p.start < ch.end and ch.start < p.end:
                raise IllegalInvoicingState(f"ILLEGAL INVOICING STATE: overlapping proposed items "
                                            f"on [{p.start}, {p.end})")
        if cp.same_kind(p):
            c.children.append(p)
        else:
            self.new_pieces.append(p)

    # ------------------------------------------------------------------ result

    def repairs_out(self) -> list[RepairOut]:
        """REPAIR_ADJ for every part of a candidate not covered by a same-kind proposed child (spec 4.5 step 4)."""
        out: list[RepairOut] = []
        currency = self.currency
        fixed_days = self.fixed_days
        for c in self.candidates:
            if c.cancelled:
                continue
            cp = c.piece
            if not c.children:
                out.append(RepairOut(cp.source, cp.start, cp.end, -round_money(_capped(cp, cp.amount), currency)))
                continue
            total_days = days_between(cp.start, cp.end) if fixed_days == 0 else fixed_days
            cursor = cp.start
            gaps: list[tuple[date, date]] = []
            for ch in sorted(c.children, key=_piece_start):
                if ch.start > cursor:
                    gaps.append((cursor, ch.start))
                cursor = ch.end
            if cursor < cp.end:
                gaps.append((cursor, cp.end))
            for gs, ge in gaps:
                positive = proration(gs, ge, total_days, fixed_days) * cp.amount
                amount = round_money(_capped(cp, positive), currency)
                cp.repaired += amount
                out.append(RepairOut(cp.source, gs, ge, -amount))
        return out

    def joined_new_pieces(self) -> list[Piece]:
        """New RECURRING pieces, contiguous pieces of one proposed item re-joined (`ItemsNodeInterval.build`)."""
        pieces = self.new_pieces
        if len(pieces) < 2:
            return pieces
        pieces.sort(key=_key_start)
        out: list[Piece] = []
        prev = pieces[0]
        for cur in pieces[1:]:
            if cur.key == prev.key and prev.end == cur.start:
                prev = Piece(prev.source, prev.start, cur.end, prev.amount + cur.amount, key=prev.key)
            else:
                out.append(prev)
                prev = cur
        out.append(prev)
        return out


def _capped(p: Piece, positive: Decimal) -> Decimal:
    """`Item.toProratedInvoiceItem` for a CANCEL item: min(prorated, net amount), floored at 0."""
    net = p.amount - p.adjusted - p.repaired
    value = positive if positive <= net else net
    return value if value > 0 else ZERO


def _by_start(it: InvoiceItem) -> date:
    assert it.start_date is not None
    return it.start_date


def _piece_start(p: Piece) -> date:
    return p.start


def _key_start(p: Piece) -> tuple[int, date]:
    return (p.key, p.start)


def check_view(items: Sequence[InvoiceItem]) -> None:
    """`SubscriptionItemTree.getView`/`checkItemsListState`: no two items of one type on one start date,
    no overlapping RECURRING items, no overlapping repairs."""
    ordered = sorted(items, key=lambda i: (i.start_date or date.min, i.type.ordinal))
    prev_key: tuple[date | None, InvoiceItemType] | None = None
    prev_recurring_end: date | None = None
    prev_repair_end: date | None = None
    for it in ordered:
        key = (it.start_date, it.type)
        if key == prev_key:
            raise IllegalInvoicingState(f"ILLEGAL INVOICING STATE: two {it.type} items on {it.start_date} "
                                        f"for subscription {it.subscription_id}")
        prev_key = key
        assert it.start_date is not None
        if it.type is RECURRING:
            if prev_recurring_end is not None and prev_recurring_end > it.start_date:
                raise IllegalInvoicingState(f"ILLEGAL INVOICING STATE: overlapping recurring items for "
                                            f"subscription {it.subscription_id}")
            prev_recurring_end = it.end_date
        elif it.type is REPAIR_ADJ:
            if prev_repair_end is not None and prev_repair_end > it.start_date:
                raise IllegalInvoicingState(f"ILLEGAL INVOICING STATE: overlapping repairs for "
                                            f"subscription {it.subscription_id}")
            prev_repair_end = it.end_date
