"""Pricing one usage period (pure): CONSUMABLE tiers (ALL_TIERS, TOP_TIER) and CAPACITY tiers, with Kill Bill's
per-tier breakdown (`itemDetails`) and its JSON.

Sources (killbill/killbill 0.24, `invoice/src/main/java/org/killbill/billing/invoice/usage/`):
`ContiguousIntervalConsumableUsageInArrear.java` (`computeToBeBilledConsumableInArrearWith_ALL_TIERS`,
`..._TOP_TIER`, `getBilledDetailsForUnitType`), `ContiguousIntervalCapacityUsageInArrear.java`
(`computeToBeBilledCapacityInArrear`), `UsageUtils.java`, `details/*.java` (the JSON shapes, Jackson's
creator-property order). Numbers are written as Java's `BigDecimal.toString` writes them, which Python's
`str(Decimal)` matches (plain unless the exponent is positive or the value below 1e-6).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billow.catalog.model import InternationalPrice, TierBlockPolicy, TieredBlock, Usage, UsageType
from billow.usage.errors import UsageRatingError
from billow.usage.model import BilledUsage, UsageDetailMode

ZERO = Decimal(0)
ONE = Decimal(1)
UNLIMITED = Decimal(-1)


@dataclass(slots=True)
class TierUnitDetail:
    """`UsageConsumableInArrearTierUnitAggregate` (consumable: with block size and amount) or
    `UsageInArrearTierUnitDetail` (capacity: `block_size` None)."""

    tier: int
    unit: str
    price: Decimal
    quantity: Decimal
    block_size: Decimal | None = None
    amount: Decimal | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tier": self.tier, "tierUnit": self.unit, "tierPrice": _Num(self.price)}
        if self.block_size is not None:
            out["tierBlockSize"] = _Num(self.block_size)
        out["quantity"] = _Num(self.quantity)
        if self.block_size is not None:
            out["amount"] = _Num(self.amount if self.amount is not None else ZERO)
        return out


@dataclass(frozen=True, slots=True)
class PeriodPrice:
    """What a period is worth: the unrounded total (`UsageInArrearAggregate.getAmount`) and its breakdown."""

    amount: Decimal
    details: tuple[TierUnitDetail, ...]

    def as_json(self) -> str:
        return dumps({"tierDetails": [d.as_json() for d in self.details], "amount": _Num(self.amount)})


# ---------------------------------------------------------------------------------------------- JSON
class _Num:
    """A number written as Java's `BigDecimal.toString` (Jackson's default for BigDecimal)."""

    __slots__ = ("value",)

    def __init__(self, value: Decimal) -> None:
        self.value = value


def _encode(value: Any) -> str:
    if isinstance(value, _Num):
        return str(value.value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value)


def dumps(value: Any) -> str:
    """Jackson's compact output of `value` (dicts in insertion order, `_Num`s as BigDecimal text)."""
    return _encode(value)


def detail_json(detail: TierUnitDetail) -> str:
    """The itemDetails of a DETAIL-mode item: one tier of one unit."""
    return dumps(detail.as_json())


# ---------------------------------------------------------------------------------------------- catalog reads
def price_of(prices: InternationalPrice | None, currency: str) -> Decimal:
    return ZERO if prices is None else prices.get(currency)


def tiered_blocks(usage: Usage, unit: str) -> list[TieredBlock]:
    """`UsageUtils.getConsumableInArrearTieredBlocks`: the unit's block in every tier, tier order."""
    out: list[TieredBlock] = []
    for tier in usage.tiers:
        block = next((b for b in tier.blocks if b.unit == unit), None)
        if block is None:
            raise UsageRatingError(f"Catalog issue in usage section '{usage.name}': Missing tierBlock definition for "
                                   f"unit '{unit}'")
        out.append(block)
    return out


def unit_types(usage: Usage) -> list[str]:
    """The units a section rates (`getConsumableInArrearUnitTypes` / `getCapacityInArrearUnitTypes`), in the
    order Kill Bill's HashSet iterates them."""
    names: list[str] = []
    for tier in usage.tiers:
        for name in ((b.unit for b in tier.blocks) if usage.usage_type is UsageType.CONSUMABLE
                     else (lim.unit for lim in tier.limits)):
            if name not in names:
                names.append(name)
    return java_hash_order(names)


def java_hash_order(names: Sequence[str]) -> list[str]:
    """The iteration order of a Java `HashMap`/`HashSet` of strings inserted in this order: by bucket
    (`(h ^ h >>> 16) & (capacity - 1)` with `String.hashCode`), ties in insertion order (killbill iterates such
    maps to order units in rolled-up usage and item details)."""
    capacity = 16
    while len(names) > capacity * 3 // 4:
        capacity *= 2
    mask = capacity - 1
    return sorted(names, key=lambda n: _spread(n) & mask)  # sorted() is stable: ties keep insertion order


def _spread(name: str) -> int:
    h = 0
    data = name.encode("utf-16-be")  # Java hashes UTF-16 code units
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h ^ (h >> 16)


# ---------------------------------------------------------------------------------------------- consumable
def blocks(units: Decimal, size: Decimal) -> Decimal:
    """`divideAndRemainder`, plus one block for any remainder (both truncate toward zero, as Java does)."""
    quotient, remainder = divmod(units, size)
    return quotient if remainder == 0 else quotient + ONE


def consumable(usage: Usage, currency: str, units: Sequence[tuple[str, Decimal]],
               previous: dict[str, list[TierUnitDetail]], *, check_previous: bool, context: str) -> PeriodPrice:
    """`getToBeBilledUsageDetails` for CONSUMABLE: per unit (rolled-up order) its tier details."""
    details: list[TierUnitDetail] = []
    for unit, amount in units:
        tiers = tiered_blocks(usage, unit)
        if usage.tier_block_policy is TierBlockPolicy.TOP_TIER:
            details.append(_top_tier(tiers, amount, currency))
        else:
            details.extend(_all_tiers(tiers, amount, currency, previous.get(unit, []), check_previous, context))
    total = ZERO
    for d in details:
        total += d.amount if d.amount is not None else ZERO
    return PeriodPrice(total, tuple(details))


def _all_tiers(tiers: list[TieredBlock], units: Decimal, currency: str, previous: list[TierUnitDetail],
               check_previous: bool, context: str) -> list[TierUnitDetail]:
    """ALL_TIERS: fill each tier up to its max blocks, the rest in the next tiers; beyond the last tier's max,
    units are not billed. With previous details (re-rating a billed period) only the blocks added since."""
    out: list[TierUnitDetail] = []
    remaining = units
    last_previous = len(previous)
    for number, block in enumerate(tiers, start=1):
        size, max_blocks = block.size, block.max
        needed = blocks(remaining, size)
        if max_blocks != UNLIMITED and needed > max_blocks:
            used = max_blocks
            remaining -= max_blocks * size
        else:
            used = needed
            remaining = ZERO
        if last_previous:
            before = previous[number - 1].quantity if number <= last_previous else ZERO
            if check_previous:
                if number < last_previous and used != before:
                    raise UsageRatingError(f"Expected usage for {context}, tier='{number}', unit='{block.unit}' to be "
                                           f"full, instead found units='[{used}/{before}]'")
                if number >= last_previous and used < before:
                    raise UsageRatingError(f"Expected usage for {context}, tier='{number}', unit='{block.unit}' to "
                                           f"contain at least as much as current usage, instead found "
                                           f"units='[{used}/{before}]'")
            used -= before
        if number == 1 or used > 0:
            price = price_of(block.prices, currency)
            out.append(TierUnitDetail(number, block.unit, price, used, size, price * used))
    return out


def _top_tier(tiers: list[TieredBlock], units: Decimal, currency: str) -> TierUnitDetail:
    """TOP_TIER: the first tier whose max the units do not exceed (a max of -1 always counts as exceeded; the
    last tier when every one is), and every unit billed at that tier."""
    remaining = units
    target, number = tiers[-1], len(tiers)
    for k, block in enumerate(tiers, start=1):
        if blocks(remaining, block.size) > block.max:
            remaining -= block.max * block.size
        else:
            target, number = block, k
            break
    quantity = blocks(units, target.size)
    price = price_of(target.prices, currency)
    return TierUnitDetail(number, target.unit, price, quantity, target.size, price * quantity)


def previous_details(billed: Iterable[BilledUsage], unit: str, mode: UsageDetailMode) -> list[TierUnitDetail]:
    """`getBilledDetailsForUnitType`: what the billed items of a period already hold for one unit, per tier
    (quantities of one tier summed). DETAIL items carry one tier each (price, quantity and amount from the
    item's rate, quantity and amount); AGGREGATE items their `tierDetails`."""
    found: list[TierUnitDetail] = []
    for item in billed:
        data = _load(item.item_details)
        if mode is UsageDetailMode.DETAIL:
            if data.get("tierUnit") == unit:
                found.append(TierUnitDetail(int(data.get("tier", 0)), unit, item.rate if item.rate is not None
                                            else ZERO, item.quantity if item.quantity is not None else ZERO,
                                            _dec(data.get("tierBlockSize")), item.amount))
        else:
            for entry in data.get("tierDetails") or ():
                if isinstance(entry, dict) and entry.get("tierUnit") == unit:
                    found.append(TierUnitDetail(int(entry.get("tier", 0)), unit, _dec(entry.get("tierPrice")),
                                                _dec(entry.get("quantity")), _dec(entry.get("tierBlockSize")),
                                                _dec(entry.get("amount"))))
    per_tier: dict[int, TierUnitDetail] = {}
    for d in found:
        known = per_tier.get(d.tier)
        if known is None:
            per_tier[d.tier] = TierUnitDetail(d.tier, d.unit, d.price, d.quantity, d.block_size, d.amount)
        else:
            known.quantity += d.quantity
            known.amount = known.price * known.quantity
    return [per_tier[k] for k in sorted(per_tier)]


def _load(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except ValueError as e:
        raise UsageRatingError(f"unreadable itemDetails of a billed usage item: {e}") from e
    return data if isinstance(data, dict) else {}


def _dec(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(value)


# ---------------------------------------------------------------------------------------------- capacity
def capacity(usage: Usage, currency: str, units: Sequence[tuple[str, Decimal]]) -> PeriodPrice:
    """`computeToBeBilledCapacityInArrear`: the first tier where every unit's max is within the tier's limit
    (max -1: no limit; min ignored) sets the price, 0 when every unit is at or below 0; each unit's detail comes
    from the first tier it fits. No tier fits: the run fails."""
    seen: set[str] = set()
    details: list[TierUnitDetail] = []
    for number, tier in enumerate(usage.tiers, start=1):
        price = price_of(tier.recurring_price, currency)
        complies = True
        all_zero = True
        for unit, amount in units:
            limit = next((lim for lim in tier.limits if lim.unit == unit), None)
            if limit is None:
                raise UsageRatingError(f"Could not find unit type {unit} in usage tier ")
            if limit.max != UNLIMITED and amount > limit.max:
                complies = False
            else:
                all_zero = all_zero and amount <= 0
                if unit not in seen:
                    details.append(TierUnitDetail(number, unit, price, amount))
                    seen.add(unit)
        if complies:
            return PeriodPrice(ZERO if all_zero else price, tuple(details))
    data = ", ".join(f"DefaultRolledUpUnit{{unitType='{u}', amount={a}}}" for u, a in units)
    raise UsageRatingError(f"Could not find tier for usage {usage.name}matching with data = {data}")
