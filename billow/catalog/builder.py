"""Build a :class:`CatalogVersion` from the canonical document tree.

Both front ends produce the same tree of plain dicts/lists (the XML loader after
its schema checks, the YAML/JSON loader straight from the file); its shape is
the YAML/JSON schema documented in :mod:`billow.catalog.yaml_json`.  This module

* checks types and enum names (Kill Bill would fail these at schema level),
* enforces Kill Bill's XML-ID rules: names of units, products, plans, price
  lists and usages are NCNames in ONE name space, every reference names an
  existing ID,
* fills Kill Bill's defaults (``CatalogSafetyInitializer`` + ``initialize()``),
* sorts products, plans and name lists in Java string order.

Errors found here are "schema" errors: they are returned all together and the
business validation (:mod:`billow.catalog.validation`) does not run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

from billow.catalog.errors import CatalogValidationError, ValidationMessage
from billow.catalog.model import (
    CURRENCIES,
    MINUS_ONE,
    BillingActionPolicy,
    BillingAlignment,
    BillingAlignmentCase,
    BillingMode,
    BillingPeriod,
    Block,
    BlockType,
    CancelPolicyCase,
    CatalogVersion,
    ChangeAlignmentCase,
    ChangePolicyCase,
    CreateAlignmentCase,
    Duration,
    Fixed,
    FixedType,
    InternationalPrice,
    Limit,
    PhaseType,
    Plan,
    PlanAlignmentChange,
    PlanAlignmentCreate,
    PlanPhase,
    PlanRules,
    Price,
    PriceList,
    PriceListCase,
    Product,
    ProductCategory,
    Recurring,
    Tier,
    TierBlockPolicy,
    TieredBlock,
    TimeUnit,
    Unit,
    Usage,
    UsageType,
    java_sort_key,
    phase_name,
)

E = TypeVar("E", bound=Enum)

# An NCName: a letter or '_' first, then letters, digits, '.', '-', '_', combining marks; no ':'.
_NCNAME = re.compile(r"^[^\W\d][\w.\-\u00B7\u0300-\u036F\u203F-\u2040]*$", re.UNICODE)

ID_KINDS = ("unit", "product", "plan", "price list", "usage")


class _Ctx:
    def __init__(self) -> None:
        self.errors: list[ValidationMessage] = []
        self.ids: dict[str, tuple[str, str]] = {}  # name -> (kind, path)
        self.refs: list[tuple[str, str, str]] = []  # (name, path, wanted kind)

    def err(self, path: str, msg: str) -> None:
        self.errors.append(ValidationMessage(path, msg))

    # ---- scalar readers
    def string(self, d: Mapping[str, Any], key: str, path: str, required: bool = True) -> str | None:
        v = d.get(key)
        if v is None:
            if required:
                self.err(path, f"missing required '{key}'")
            return None
        if isinstance(v, bool) or not isinstance(v, str | int | Decimal | float):
            self.err(f"{path}/{key}", f"expected a text value, got {type(v).__name__}")
            return None
        s = str(v).strip()
        if required and not s:
            self.err(f"{path}/{key}", "must not be empty")
            return None
        return s

    def enum(
        self, cls: type[E], d: Mapping[str, Any], key: str, path: str, required: bool = True
    ) -> E | None:
        s = self.string(d, key, path, required)
        if s is None:
            return None
        try:
            return cls(s)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            self.err(f"{path}/{key}", f"'{s}' is not a valid {cls.__name__} (expected one of: {allowed})")
            return None

    def decimal(self, d: Mapping[str, Any], key: str, path: str, required: bool = True) -> Decimal | None:
        v = d.get(key)
        if v is None:
            if required:
                self.err(path, f"missing required '{key}'")
            return None
        if isinstance(v, bool):
            self.err(f"{path}/{key}", f"expected a decimal number, got {v!r}")
            return None
        try:
            out = Decimal(str(v).strip()) if not isinstance(v, Decimal) else v
        except InvalidOperation:
            self.err(f"{path}/{key}", f"'{v}' is not a decimal number")
            return None
        if not out.is_finite():
            self.err(f"{path}/{key}", f"'{v}' is not a finite decimal number")
            return None
        return out

    def integer(self, d: Mapping[str, Any], key: str, path: str) -> int | None:
        v = d.get(key)
        if v is None:
            return None
        if isinstance(v, bool):
            self.err(f"{path}/{key}", f"expected an integer, got {v!r}")
            return None
        try:
            return int(str(v).strip())
        except ValueError:
            self.err(f"{path}/{key}", f"'{v}' is not an integer")
            return None

    def instant(self, d: Mapping[str, Any], key: str, path: str, required: bool = True) -> datetime | None:
        v = d.get(key)
        if v is None:
            if required:
                self.err(path, f"missing required '{key}'")
            return None
        return self.parse_instant(v, f"{path}/{key}")

    def parse_instant(self, v: Any, path: str) -> datetime | None:
        if isinstance(v, datetime):
            return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
        if isinstance(v, date):
            return datetime(v.year, v.month, v.day, tzinfo=UTC)
        if not isinstance(v, str):
            self.err(path, f"expected an xs:dateTime, got {type(v).__name__}")
            return None
        text = v.strip()
        try:
            if "T" not in text:
                raise ValueError
            dt = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            self.err(path, f"'{text}' is not an xs:dateTime (e.g. 2013-02-08T00:00:00+00:00)")
            return None
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)

    def seq(self, d: Mapping[str, Any], key: str, path: str) -> list[Any]:
        v = d.get(key)
        if v is None:
            return []
        if not isinstance(v, list | tuple):
            self.err(f"{path}/{key}", f"expected a list, got {type(v).__name__}")
            return []
        return list(v)

    def mapping(self, v: Any, path: str) -> Mapping[str, Any] | None:
        if not isinstance(v, Mapping):
            self.err(path, f"expected a mapping, got {type(v).__name__}")
            return None
        return v

    # ---- IDs
    def declare(self, name: str | None, kind: str, path: str) -> None:
        if name is None:
            return
        if not _NCNAME.match(name):
            self.err(
                path,
                f"'{name}' is not a valid name (an XML NCName: starts with a letter or '_', "
                "then letters, digits, '.', '-', '_'; no spaces or ':')",
            )
        prev = self.ids.get(name)
        if prev is not None:
            self.err(
                path,
                f"duplicate name '{name}': already used by the {prev[0]} at {prev[1]} "
                "(units, products, plans, price lists and usages share one name space)",
            )
            return
        self.ids[name] = (kind, path)

    def ref(self, name: str | None, kind: str, path: str) -> str | None:
        if name is not None:
            self.refs.append((name, path, kind))
        return name


def _opt_price(ctx: _Ctx, d: Mapping[str, Any], key: str, path: str) -> InternationalPrice | None:
    if key not in d:
        return None
    return read_prices(ctx, d[key], f"{path}/{key}")


def read_prices(ctx: _Ctx, v: Any, path: str) -> InternationalPrice:
    """Prices as a mapping ``{CUR: value|null}`` or a list ``[{currency, value}]``; null/empty = no price."""
    items: list[tuple[Any, Any, str]] = []
    if v is None:
        return InternationalPrice(())
    if isinstance(v, Mapping):
        items = [(k, val, f"{path}/{k}") for k, val in v.items()]
    elif isinstance(v, list | tuple):
        for i, it in enumerate(v):
            m = ctx.mapping(it, f"{path}/price[{i + 1}]")
            if m is None:
                continue
            if "currency" not in m:
                ctx.err(f"{path}/price[{i + 1}]", "missing required 'currency'")
                continue
            if "value" not in m:
                ctx.err(f"{path}/price[{i + 1}]", "missing required 'value' (write null for xsi:nil)")
                continue
            items.append((m.get("currency"), m.get("value"), f"{path}/price[{i + 1}]"))
    else:
        ctx.err(path, f"expected prices (a mapping currency -> value, or a list), got {type(v).__name__}")
        return InternationalPrice(())
    out: list[Price] = []
    for cur, val, p in items:
        cur_s = str(cur).strip() if cur is not None else ""
        if cur_s not in CURRENCIES:
            ctx.err(p, f"'{cur_s}' is not a currency known to Kill Bill")
            continue
        if val is None:
            out.append(Price(cur_s, None))
            continue
        amount = ctx.decimal({"value": val}, "value", p)
        if amount is not None:
            out.append(Price(cur_s, amount))
    return InternationalPrice(tuple(out))


def _limits(ctx: _Ctx, d: Mapping[str, Any], path: str) -> tuple[Limit, ...]:
    out = []
    for i, raw in enumerate(ctx.seq(d, "limits", path)):
        p = f"{path}/limits/limit[{i + 1}]"
        m = ctx.mapping(raw, p)
        if m is None:
            continue
        unit = ctx.ref(ctx.string(m, "unit", p), "unit", f"{p}/unit")
        mx = ctx.decimal(m, "max", p, required=False)
        mn = ctx.decimal(m, "min", p, required=False)
        if unit is not None:
            out.append(Limit(unit, MINUS_ONE if mx is None else mx, MINUS_ONE if mn is None else mn))
    return tuple(out)


def _usage(ctx: _Ctx, m: Mapping[str, Any], p: str) -> Usage | None:
    name = ctx.string(m, "name", p)
    ctx.declare(name, "usage", p)
    pretty = ctx.string(m, "prettyName", p, required=False)
    mode = ctx.enum(BillingMode, m, "billingMode", p)
    utype = ctx.enum(UsageType, m, "usageType", p)
    policy = ctx.enum(TierBlockPolicy, m, "tierBlockPolicy", p, required=False) or TierBlockPolicy.ALL_TIERS
    period = ctx.enum(BillingPeriod, m, "billingPeriod", p)
    limits = _limits(ctx, m, p)
    blocks: list[Block] = []
    for i, raw in enumerate(ctx.seq(m, "blocks", p)):
        bp = f"{p}/blocks/block[{i + 1}]"
        b = ctx.mapping(raw, bp)
        if b is None:
            continue
        btype = ctx.enum(BlockType, b, "type", bp, required=False) or BlockType.VANILLA
        unit = ctx.ref(ctx.string(b, "unit", bp), "unit", f"{bp}/unit")
        size = ctx.decimal(b, "size", bp)
        if "prices" not in b:
            ctx.err(bp, "missing required 'prices'")
        prices = read_prices(ctx, b.get("prices"), f"{bp}/prices")
        mtu = ctx.decimal(b, "minTopUpCredit", bp, required=False)
        if unit is not None and size is not None:
            blocks.append(Block(unit, size, prices, MINUS_ONE if mtu is None else mtu, btype))
    tiers: list[Tier] = []
    for i, raw in enumerate(ctx.seq(m, "tiers", p)):
        tp = f"{p}/tiers/tier[{i + 1}]"
        t = ctx.mapping(raw, tp)
        if t is None:
            continue
        tblocks: list[TieredBlock] = []
        for j, rawb in enumerate(ctx.seq(t, "blocks", tp)):
            bp = f"{tp}/blocks/tieredBlock[{j + 1}]"
            b = ctx.mapping(rawb, bp)
            if b is None:
                continue
            unit = ctx.ref(ctx.string(b, "unit", bp), "unit", f"{bp}/unit")
            size = ctx.decimal(b, "size", bp)
            if "prices" not in b:
                ctx.err(bp, "missing required 'prices'")
            prices = read_prices(ctx, b.get("prices"), f"{bp}/prices")
            mtu = ctx.decimal(b, "minTopUpCredit", bp, required=False)
            mx = ctx.decimal(b, "max", bp)
            if unit is not None and size is not None and mx is not None:
                tblocks.append(TieredBlock(unit, size, prices, mx, MINUS_ONE if mtu is None else mtu))
        tiers.append(
            Tier(
                _limits(ctx, t, tp),
                tuple(tblocks),
                _opt_price(ctx, t, "fixedPrice", tp),
                _opt_price(ctx, t, "recurringPrice", tp),
            )
        )
    fixed = _opt_price(ctx, m, "fixedPrice", p)
    recurring = _opt_price(ctx, m, "recurringPrice", p)
    if name is None or mode is None or utype is None or period is None:
        return None
    return Usage(
        name=name,
        pretty_name=pretty or name,
        billing_mode=mode,
        usage_type=utype,
        billing_period=period,
        tier_block_policy=policy,
        limits=limits,
        blocks=tuple(blocks),
        tiers=tuple(tiers),
        fixed_price=fixed,
        recurring_price=recurring,
    )


def _phase(ctx: _Ctx, raw: Any, plan_name: str, p: str) -> PlanPhase | None:
    m = ctx.mapping(raw, p)
    if m is None:
        return None
    ptype = ctx.enum(PhaseType, m, "type", p)
    pretty = ctx.string(m, "prettyName", p, required=False)
    duration: Duration | None = None
    dm = m.get("duration")
    if dm is None:
        ctx.err(p, "missing required 'duration'")
    else:
        dmm = ctx.mapping(dm, f"{p}/duration")
        if dmm is not None:
            unit = ctx.enum(TimeUnit, dmm, "unit", f"{p}/duration")
            number = ctx.integer(dmm, "number", f"{p}/duration")
            if unit is not None:
                duration = Duration(unit, -1 if number is None else number)
    fixed: Fixed | None = None
    if "fixed" in m:
        fm = m.get("fixed")
        fm = {} if fm is None else ctx.mapping(fm, f"{p}/fixed")
        if fm is not None:
            ftype = ctx.enum(FixedType, fm, "type", f"{p}/fixed", required=False) or FixedType.ONE_TIME
            fixed = Fixed(_opt_price(ctx, fm, "fixedPrice", f"{p}/fixed"), ftype)
    recurring: Recurring | None = None
    if "recurring" in m:
        rm = ctx.mapping(m.get("recurring"), f"{p}/recurring")
        if rm is not None:
            bp = ctx.enum(BillingPeriod, rm, "billingPeriod", f"{p}/recurring")
            price = _opt_price(ctx, rm, "recurringPrice", f"{p}/recurring")
            if bp is not None:
                recurring = Recurring(bp, price)
    usages: list[Usage] = []
    for i, rawu in enumerate(ctx.seq(m, "usages", p)):
        up = f"{p}/usages/usage[{i + 1}]"
        um = ctx.mapping(rawu, up)
        if um is not None:
            u = _usage(ctx, um, up)
            if u is not None:
                usages.append(u)
    if ptype is None or duration is None:
        return None
    name = phase_name(plan_name, ptype)
    return PlanPhase(
        name=name,
        type=ptype,
        duration=duration,
        pretty_name=pretty or name,
        fixed=fixed,
        recurring=recurring,
        usages=tuple(usages),
    )


_CHANGE_KEYS: tuple[tuple[str, str, Any], ...] = (
    ("phaseType", "phase_type", PhaseType),
    ("fromProduct", "from_product", "product"),
    ("fromProductCategory", "from_product_category", ProductCategory),
    ("fromBillingPeriod", "from_billing_period", BillingPeriod),
    ("fromPriceList", "from_price_list", "price list"),
    ("toProduct", "to_product", "product"),
    ("toProductCategory", "to_product_category", ProductCategory),
    ("toBillingPeriod", "to_billing_period", BillingPeriod),
    ("toPriceList", "to_price_list", "price list"),
)
_STD_KEYS: tuple[tuple[str, str, Any], ...] = (
    ("product", "product", "product"),
    ("productCategory", "product_category", ProductCategory),
    ("billingPeriod", "billing_period", BillingPeriod),
    ("priceList", "price_list", "price list"),
)
_PHASE_KEY: tuple[tuple[str, str, Any], ...] = (("phaseType", "phase_type", PhaseType),)
_PL_FROM_KEYS: tuple[tuple[str, str, Any], ...] = (
    ("fromProduct", "from_product", "product"),
    ("fromProductCategory", "from_product_category", ProductCategory),
    ("fromBillingPeriod", "from_billing_period", BillingPeriod),
    ("fromPriceList", "from_price_list", "price list"),
)

# rules key -> (case element, predicate keys, result key, result enum or ref-kind, model class)
RULE_KINDS: dict[str, tuple[str, tuple[tuple[str, str, Any], ...], str, Any, type]] = {
    "changePolicy": ("changePolicyCase", _CHANGE_KEYS, "policy", BillingActionPolicy, ChangePolicyCase),
    "changeAlignment": (
        "changeAlignmentCase",
        _CHANGE_KEYS,
        "alignment",
        PlanAlignmentChange,
        ChangeAlignmentCase,
    ),
    "cancelPolicy": (
        "cancelPolicyCase",
        _STD_KEYS + _PHASE_KEY,
        "policy",
        BillingActionPolicy,
        CancelPolicyCase,
    ),
    "createAlignment": (
        "createAlignmentCase",
        _STD_KEYS,
        "alignment",
        PlanAlignmentCreate,
        CreateAlignmentCase,
    ),
    "billingAlignment": (
        "billingAlignmentCase",
        _STD_KEYS + _PHASE_KEY,
        "alignment",
        BillingAlignment,
        BillingAlignmentCase,
    ),
    "priceList": ("priceListCase", _STD_KEYS + _PL_FROM_KEYS, "toPriceList", "price list", PriceListCase),
}
RESULT_ATTR = {"policy": "policy", "alignment": "alignment", "toPriceList": "to_price_list"}


def _rules(ctx: _Ctx, raw: Any, path: str) -> PlanRules:
    if raw is None:
        ctx.err("catalog", "missing required 'rules'")
        return PlanRules()
    m = ctx.mapping(raw, path)
    if m is None:
        return PlanRules()
    out: dict[str, tuple[Any, ...]] = {}
    attr_of = {
        "changePolicy": "change_policy",
        "changeAlignment": "change_alignment",
        "cancelPolicy": "cancel_policy",
        "createAlignment": "create_alignment",
        "billingAlignment": "billing_alignment",
        "priceList": "price_list",
    }
    for key in m:
        if key not in RULE_KINDS:
            ctx.err(f"{path}/{key}", f"unknown rule list '{key}' (expected one of: {', '.join(RULE_KINDS)})")
    for key, (case_el, preds, result_key, result_kind, cls) in RULE_KINDS.items():
        cases = []
        for i, rawc in enumerate(ctx.seq(m, key, path)):
            cp = f"{path}/{key}/{case_el}[{i + 1}]"
            c = ctx.mapping(rawc, cp)
            if c is None:
                continue
            known = {k for k, _, _ in preds} | {result_key}
            for k in c:
                if k not in known:
                    ctx.err(f"{cp}/{k}", f"unknown element '{k}' in {case_el}")
            kwargs: dict[str, Any] = {}
            ok = True
            for src, attr, kind in preds:
                if isinstance(kind, str):
                    kwargs[attr] = ctx.ref(ctx.string(c, src, cp, required=False), kind, f"{cp}/{src}")
                else:
                    kwargs[attr] = ctx.enum(kind, c, src, cp, required=False)
            if isinstance(result_kind, str):
                res: Any = ctx.ref(ctx.string(c, result_key, cp), result_kind, f"{cp}/{result_key}")
            else:
                res = ctx.enum(result_kind, c, result_key, cp)
            if res is None:
                ok = False
            kwargs[RESULT_ATTR[result_key]] = res
            if ok:
                cases.append(cls(**kwargs))
        out[attr_of[key]] = tuple(cases)
    return PlanRules(**out)


def _price_list(ctx: _Ctx, raw: Any, path: str, tag: str) -> PriceList | None:
    m = ctx.mapping(raw, path)
    if m is None:
        return None
    name = ctx.string(m, "name", path)
    ctx.declare(name, "price list", path)
    pretty = ctx.string(m, "prettyName", path, required=False)
    if "plans" not in m:
        ctx.err(path, f"missing required 'plans' in {tag}")
    names: list[str] = []
    for i, v in enumerate(ctx.seq(m, "plans", path)):
        pp = f"{path}/plans/plan[{i + 1}]"
        s = ctx.string({"plan": v}, "plan", pp)
        if s is not None:
            names.append(ctx.ref(s, "plan", pp) or s)
    if name is None:
        return None
    return PriceList(name, pretty or name, _sorted_names(names))


def _sorted_names(names: list[str]) -> tuple[str, ...]:
    return tuple(sorted(set(names), key=java_sort_key))


def build_version(doc: Mapping[str, Any], root: str = "catalog") -> CatalogVersion:
    """Build one version from the canonical tree; raises :class:`CatalogValidationError` on schema errors."""
    ctx = _Ctx()
    p = root
    effective = ctx.instant(doc, "effectiveDate", p)
    name = ctx.string(doc, "catalogName", p)
    mode = ctx.enum(BillingMode, doc, "recurringBillingMode", p, required=False)
    if "currencies" not in doc:
        ctx.err(p, "missing required 'currencies'")
    currencies: list[str] = []
    for i, c in enumerate(ctx.seq(doc, "currencies", p)):
        cs = str(c).strip() if c is not None else ""
        if cs not in CURRENCIES:
            ctx.err(f"{p}/currencies/currency[{i + 1}]", f"'{cs}' is not a currency known to Kill Bill")
        else:
            currencies.append(cs)

    units: list[Unit] = []
    for i, raw in enumerate(ctx.seq(doc, "units", p)):
        up = f"{p}/units/unit[{i + 1}]"
        m = ctx.mapping(raw, up)
        if m is None:
            continue
        uname = ctx.string(m, "name", up)
        ctx.declare(uname, "unit", up)
        upretty = ctx.string(m, "prettyName", up, required=False)
        if uname is not None:
            units.append(Unit(uname, upretty or uname))

    if "products" not in doc:
        ctx.err(p, "missing required 'products'")
    products: list[Product] = []
    for i, raw in enumerate(ctx.seq(doc, "products", p)):
        pp0 = f"{p}/products/product[{i + 1}]"
        m = ctx.mapping(raw, pp0)
        if m is None:
            continue
        pname = ctx.string(m, "name", pp0)
        pp = f"{p}/products/product[@name='{pname}']" if pname else pp0
        ctx.declare(pname, "product", pp0)
        pretty = ctx.string(m, "prettyName", pp, required=False)
        cat = ctx.enum(ProductCategory, m, "category", pp)
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("included", "available"):
            names = []
            for j, v in enumerate(ctx.seq(m, key, pp)):
                ap = f"{pp}/{key}/addonProduct[{j + 1}]"
                s = ctx.string({"a": v}, "a", ap)
                if s is not None:
                    names.append(ctx.ref(s, "product", ap) or s)
            lists[key] = _sorted_names(names)
        limits = _limits(ctx, m, pp)
        if pname is not None and cat is not None:
            products.append(
                Product(pname, pretty or pname, cat, lists["included"], lists["available"], limits)
            )

    rules = _rules(ctx, doc.get("rules"), f"{p}/rules")

    if "plans" not in doc:
        ctx.err(p, "missing required 'plans'")
    raw_plans: list[tuple[str, Mapping[str, Any], str]] = []
    for i, raw in enumerate(ctx.seq(doc, "plans", p)):
        pp0 = f"{p}/plans/plan[{i + 1}]"
        m = ctx.mapping(raw, pp0)
        if m is None:
            continue
        pname = ctx.string(m, "name", pp0)
        pp = f"{p}/plans/plan[@name='{pname}']" if pname else pp0
        ctx.declare(pname, "plan", pp0)
        if pname is not None:
            raw_plans.append((pname, m, pp))

    default_pl: PriceList | None = None
    children: list[PriceList] = []
    plm_raw = doc.get("priceLists")
    if plm_raw is None:
        ctx.err(p, "missing required 'priceLists'")
    else:
        plm = ctx.mapping(plm_raw, f"{p}/priceLists")
        if plm is not None:
            if plm.get("defaultPriceList") is None:
                ctx.err(f"{p}/priceLists", "missing required 'defaultPriceList'")
            else:
                default_pl = _price_list(
                    ctx, plm["defaultPriceList"], f"{p}/priceLists/defaultPriceList", "defaultPriceList"
                )
            for i, raw in enumerate(ctx.seq(plm, "childPriceLists", f"{p}/priceLists")):
                cpl = _price_list(ctx, raw, f"{p}/priceLists/childPriceList[{i + 1}]", "childPriceList")
                if cpl is not None:
                    children.append(cpl)

    # first price list listing each plan
    price_list_of: dict[str, str] = {}
    for pl in [default_pl, *children]:
        if pl is None:
            continue
        for plan_name in pl.plans:
            price_list_of.setdefault(plan_name, pl.name)

    plans: list[Plan] = []
    for pname, m, pp in raw_plans:
        pretty = ctx.string(m, "prettyName", pp, required=False)
        eff = ctx.instant(m, "effectiveDateForExistingSubscriptions", pp, required=False)
        product = ctx.ref(ctx.string(m, "product", pp), "product", f"{pp}/product")
        pmode = ctx.enum(BillingMode, m, "recurringBillingMode", pp, required=False)
        initial = []
        for j, rawph in enumerate(ctx.seq(m, "initialPhases", pp)):
            ph = _phase(ctx, rawph, pname, f"{pp}/initialPhases/phase[{j + 1}]")
            if ph is not None:
                initial.append(ph)
        final: PlanPhase | None = None
        if m.get("finalPhase") is None:
            ctx.err(pp, "missing required 'finalPhase'")
        else:
            final = _phase(ctx, m["finalPhase"], pname, f"{pp}/finalPhase")
        allowed = ctx.integer(m, "plansAllowedInBundle", pp)
        pl_name = price_list_of.get(pname)
        if pl_name is None:
            ctx.err(pp, f"Cannot extract pricelist for plan {pname}")
        if product is None or final is None or pl_name is None:
            continue
        plans.append(
            Plan(
                name=pname,
                pretty_name=pretty or pname,
                product=product,
                initial_phases=tuple(initial),
                final_phase=final,
                price_list=pl_name,
                recurring_billing_mode=pmode if pmode is not None else mode,
                plans_allowed_in_bundle=-1 if allowed is None else allowed,
                effective_date_for_existing_subscriptions=eff,
            )
        )

    # references: must name an existing ID; wrong kinds are errors too, except plan/product, which
    # Kill Bill binds as "no product" and reports in validation ("Invalid product for plan").
    for ref_name, ref_path, kind in ctx.refs:
        target = ctx.ids.get(ref_name)
        if target is None:
            ctx.err(
                ref_path,
                f"'{ref_name}' does not name any {kind} (no unit, product, plan, price list or "
                "usage has that name)",
            )
        elif target[0] != kind and not (
            kind == "product" and ref_path.endswith("]/product") and "/plans/plan[" in ref_path
        ):
            ctx.err(ref_path, f"'{ref_name}' names a {target[0]}, not a {kind}")

    if ctx.errors or effective is None or name is None or default_pl is None:
        if not ctx.errors:
            ctx.err(p, "incomplete catalog")
        raise CatalogValidationError(ctx.errors)

    return CatalogVersion(
        name=name,
        effective_date=effective,
        currencies=tuple(currencies),
        units=tuple(units),
        products=tuple(sorted(products, key=lambda x: java_sort_key(x.name))),
        rules=rules,
        plans=tuple(sorted(plans, key=lambda x: java_sort_key(x.name))),
        default_price_list=default_pl,
        child_price_lists=tuple(children),
        recurring_billing_mode=mode,
    )
