"""Kill Bill catalog XML: strict loader and writer.

Loading follows Kill Bill's JAXB schema exactly: elements must come in schema
order (``xs:sequence``; an out-of-order, unknown or missing required element is
an error), required attributes must be present, enum values are exact names.
The document is parsed with :mod:`defusedxml` (DTDs, entities and external
references are refused) and bodies over :data:`MAX_CATALOG_BYTES` are refused
before parsing.  Like Kill Bill's schema validation, the first structural error
stops the load and is reported alone; then the builder's checks (types, names,
references) and Kill Bill's business validation each report *every* problem.

Public functions:

* :func:`load_version_xml` -- XML text/bytes -> validated :class:`CatalogVersion`
* :func:`parse_catalog_xml` -- XML -> canonical document tree (no validation)
* :func:`dump_xml` -- :class:`CatalogVersion` -> XML text (reloads to an equal model)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape, quoteattr

import defusedxml
import defusedxml.ElementTree as DET

from billow.catalog.builder import build_version
from billow.catalog.errors import CatalogValidationError, ValidationMessage
from billow.catalog.model import (
    MINUS_ONE,
    BillingAlignmentCase,
    BlockType,
    CancelPolicyCase,
    CatalogVersion,
    ChangeCase,
    CreateAlignmentCase,
    FixedType,
    InternationalPrice,
    Limit,
    PlanPhase,
    PriceList,
    PriceListCase,
    TierBlockPolicy,
    Usage,
)

MAX_CATALOG_BYTES = 10 * 1024 * 1024  # 10 MiB
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


class _SchemaError(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _check_attrs(el: Element, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
    for key in el.attrib:
        if key.startswith(XSI):
            continue
        if key not in allowed:
            allowed_txt = ", ".join(f"@{a}" for a in allowed) or "none"
            raise _SchemaError(path, f"unexpected attribute @{key} on <{el.tag}> (allowed: {allowed_txt})")
    for key in required:
        if key not in el.attrib:
            raise _SchemaError(path, f"missing required attribute @{key} on <{el.tag}>")


class _Seq:
    """Walks the element children of ``el`` in schema order."""

    __slots__ = ("kids", "i", "path", "order", "tag")

    def __init__(self, el: Element, path: str, order: tuple[str, ...]) -> None:
        kids: list[Element] = []
        if el.text and el.text.strip():
            raise _SchemaError(path, f"unexpected text {el.text.strip()[:40]!r} inside <{el.tag}>")
        for c in el:
            if not isinstance(c.tag, str):  # comment / processing instruction
                continue
            kids.append(c)
            if c.tail and c.tail.strip():
                raise _SchemaError(path, f"unexpected text {c.tail.strip()[:40]!r} inside <{el.tag}>")
        self.kids = kids
        self.i = 0
        self.path = path
        self.order = order
        self.tag = el.tag

    def _peek(self) -> str | None:
        return self.kids[self.i].tag if self.i < len(self.kids) else None

    def opt(self, name: str) -> Element | None:
        if self._peek() == name:
            el = self.kids[self.i]
            self.i += 1
            return el
        return None

    def req(self, name: str) -> Element:
        el = self.opt(name)
        if el is None:
            found = self._peek()
            if found is None:
                raise _SchemaError(self.path, f"missing required element <{name}> in <{self.tag}>")
            order = self.order
            if found in order and name in order and order.index(found) < order.index(name):
                raise _SchemaError(
                    f"{self.path}/{found}",
                    f"element <{found}> is out of order or repeated (order inside <{self.tag}>: "
                    f"{', '.join(self.order)})",
                )
            raise _SchemaError(
                f"{self.path}/{found}",
                f"element <{found}> found where <{name}> was expected (required; "
                f"order inside <{self.tag}>: {', '.join(self.order)})",
            )
        return el

    def many(self, name: str) -> list[Element]:
        out = []
        while self._peek() == name:
            out.append(self.kids[self.i])
            self.i += 1
        return out

    def end(self) -> None:
        found = self._peek()
        if found is None:
            return
        if found in self.order:
            raise _SchemaError(
                f"{self.path}/{found}",
                f"element <{found}> is out of order or repeated (order inside <{self.tag}>: "
                f"{', '.join(self.order)})",
            )
        raise _SchemaError(
            f"{self.path}/{found}",
            f"unexpected element <{found}> inside <{self.tag}> (allowed: {', '.join(self.order)})",
        )


def _text(el: Element, path: str) -> str:
    for key in el.attrib:
        if not key.startswith(XSI):
            raise _SchemaError(path, f"unexpected attribute @{key} on <{el.tag}>")
    for c in el:
        if isinstance(c.tag, str):
            raise _SchemaError(
                f"{path}/{c.tag}", f"unexpected element <{c.tag}> inside <{el.tag}> (text expected)"
            )
    return "".join(el.itertext()).strip()


def _opt_text(seq: _Seq, name: str, d: dict[str, Any], key: str | None = None) -> None:
    el = seq.opt(name)
    if el is not None:
        d[key or name] = _text(el, f"{seq.path}/{name}")


def _req_text(seq: _Seq, name: str, d: dict[str, Any], key: str | None = None) -> None:
    el = seq.req(name)
    d[key or name] = _text(el, f"{seq.path}/{name}")


def _names(el: Element, path: str, child: str) -> list[str]:
    seq = _Seq(el, path, (child,))
    out = [_text(c, f"{path}/{child}") for c in seq.many(child)]
    seq.end()
    return out


def _prices(el: Element, path: str) -> list[dict[str, Any]]:
    _check_attrs(el, path, ())
    seq = _Seq(el, path, ("price",))
    out = []
    for i, pel in enumerate(seq.many("price")):
        pp = f"{path}/price[{i + 1}]"
        _check_attrs(pel, pp, ())
        ps = _Seq(pel, pp, ("currency", "value"))
        cur = _text(ps.req("currency"), f"{pp}/currency")
        vel = ps.req("value")
        ps.end()
        nil = vel.attrib.get(f"{XSI}nil", "false").strip() in ("true", "1")
        value = None if nil else _text(vel, f"{pp}/value")
        if not nil and value == "":
            raise _SchemaError(f"{pp}/value", 'empty <value> (write xsi:nil="true" for no price)')
        out.append({"currency": cur, "value": value})
    seq.end()
    return out


def _limits(el: Element, path: str) -> list[dict[str, Any]]:
    _check_attrs(el, path, ())
    seq = _Seq(el, path, ("limit",))
    out = []
    for i, lel in enumerate(seq.many("limit")):
        lp = f"{path}/limit[{i + 1}]"
        _check_attrs(lel, lp, ())
        ls = _Seq(lel, lp, ("unit", "max", "min"))
        d: dict[str, Any] = {}
        _req_text(ls, "unit", d)
        _opt_text(ls, "max", d)
        _opt_text(ls, "min", d)
        ls.end()
        out.append(d)
    seq.end()
    return out


def _usage(el: Element, path: str) -> dict[str, Any]:
    _check_attrs(
        el,
        path,
        ("name", "prettyName", "billingMode", "usageType", "tierBlockPolicy"),
        ("name", "billingMode", "usageType"),
    )
    d: dict[str, Any] = {k: v for k, v in el.attrib.items() if not k.startswith(XSI)}
    seq = _Seq(el, path, ("billingPeriod", "limits", "blocks", "tiers", "fixedPrice", "recurringPrice"))
    _req_text(seq, "billingPeriod", d)
    lim = seq.opt("limits")
    if lim is not None:
        d["limits"] = _limits(lim, f"{path}/limits")
    bl = seq.opt("blocks")
    if bl is not None:
        bseq = _Seq(bl, f"{path}/blocks", ("block",))
        blocks = []
        for i, bel in enumerate(bseq.many("block")):
            bp = f"{path}/blocks/block[{i + 1}]"
            _check_attrs(bel, bp, ("type",))
            b: dict[str, Any] = {}
            if "type" in bel.attrib:
                b["type"] = bel.attrib["type"]
            bs = _Seq(bel, bp, ("unit", "size", "prices", "minTopUpCredit"))
            _req_text(bs, "unit", b)
            _req_text(bs, "size", b)
            b["prices"] = _prices(bs.req("prices"), f"{bp}/prices")
            _opt_text(bs, "minTopUpCredit", b)
            bs.end()
            blocks.append(b)
        bseq.end()
        d["blocks"] = blocks
    ti = seq.opt("tiers")
    if ti is not None:
        tseq = _Seq(ti, f"{path}/tiers", ("tier",))
        tiers = []
        for i, tel in enumerate(tseq.many("tier")):
            tp = f"{path}/tiers/tier[{i + 1}]"
            _check_attrs(tel, tp, ())
            t: dict[str, Any] = {}
            ts = _Seq(tel, tp, ("limits", "blocks", "fixedPrice", "recurringPrice"))
            tl = ts.opt("limits")
            if tl is not None:
                t["limits"] = _limits(tl, f"{tp}/limits")
            tb = ts.opt("blocks")
            if tb is not None:
                tbs = _Seq(tb, f"{tp}/blocks", ("tieredBlock",))
                tblocks = []
                for j, bel in enumerate(tbs.many("tieredBlock")):
                    bp = f"{tp}/blocks/tieredBlock[{j + 1}]"
                    _check_attrs(bel, bp, ("type",))  # inherited attribute, ignored (always TIERED)
                    b = {}
                    bs = _Seq(bel, bp, ("unit", "size", "prices", "minTopUpCredit", "max"))
                    _req_text(bs, "unit", b)
                    _req_text(bs, "size", b)
                    b["prices"] = _prices(bs.req("prices"), f"{bp}/prices")
                    _opt_text(bs, "minTopUpCredit", b)
                    _req_text(bs, "max", b)
                    bs.end()
                    tblocks.append(b)
                tbs.end()
                t["blocks"] = tblocks
            for key in ("fixedPrice", "recurringPrice"):
                pel = ts.opt(key)
                if pel is not None:
                    t[key] = _prices(pel, f"{tp}/{key}")
            ts.end()
            tiers.append(t)
        tseq.end()
        d["tiers"] = tiers
    for key in ("fixedPrice", "recurringPrice"):
        pel = seq.opt(key)
        if pel is not None:
            d[key] = _prices(pel, f"{path}/{key}")
    seq.end()
    return d


def _phase(el: Element, path: str) -> dict[str, Any]:
    _check_attrs(el, path, ("type", "prettyName"), ("type",))
    d: dict[str, Any] = {k: v for k, v in el.attrib.items() if not k.startswith(XSI)}
    seq = _Seq(el, path, ("duration", "fixed", "recurring", "usages"))
    dur = seq.req("duration")
    _check_attrs(dur, f"{path}/duration", ())
    ds = _Seq(dur, f"{path}/duration", ("unit", "number"))
    dd: dict[str, Any] = {}
    _req_text(ds, "unit", dd)
    _opt_text(ds, "number", dd)
    ds.end()
    d["duration"] = dd
    fx = seq.opt("fixed")
    if fx is not None:
        fp = f"{path}/fixed"
        _check_attrs(fx, fp, ("type",))
        f: dict[str, Any] = {}
        if "type" in fx.attrib:
            f["type"] = fx.attrib["type"]
        fs = _Seq(fx, fp, ("fixedPrice",))
        pel = fs.opt("fixedPrice")
        if pel is not None:
            f["fixedPrice"] = _prices(pel, f"{fp}/fixedPrice")
        fs.end()
        d["fixed"] = f
    rc = seq.opt("recurring")
    if rc is not None:
        rp = f"{path}/recurring"
        _check_attrs(rc, rp, ())
        r: dict[str, Any] = {}
        rs = _Seq(rc, rp, ("billingPeriod", "recurringPrice"))
        _req_text(rs, "billingPeriod", r)
        pel = rs.opt("recurringPrice")
        if pel is not None:
            r["recurringPrice"] = _prices(pel, f"{rp}/recurringPrice")
        rs.end()
        d["recurring"] = r
    us = seq.opt("usages")
    if us is not None:
        useq = _Seq(us, f"{path}/usages", ("usage",))
        d["usages"] = [_usage(u, f"{path}/usages/usage[{i + 1}]") for i, u in enumerate(useq.many("usage"))]
        useq.end()
    seq.end()
    return d


_CHANGE_ORDER = (
    "phaseType",
    "fromProduct",
    "fromProductCategory",
    "fromBillingPeriod",
    "fromPriceList",
    "toProduct",
    "toProductCategory",
    "toBillingPeriod",
    "toPriceList",
)
_STD_ORDER = ("product", "productCategory", "billingPeriod", "priceList")
_FROM_ORDER = ("fromProduct", "fromProductCategory", "fromBillingPeriod", "fromPriceList")
_RULES: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("changePolicy", "changePolicyCase", _CHANGE_ORDER, "policy"),
    ("changeAlignment", "changeAlignmentCase", _CHANGE_ORDER, "alignment"),
    ("cancelPolicy", "cancelPolicyCase", (*_STD_ORDER, "phaseType"), "policy"),
    ("createAlignment", "createAlignmentCase", _STD_ORDER, "alignment"),
    ("billingAlignment", "billingAlignmentCase", (*_STD_ORDER, "phaseType"), "alignment"),
    ("priceList", "priceListCase", (*_STD_ORDER, *_FROM_ORDER), "toPriceList"),
)


def _rules(el: Element, path: str) -> dict[str, Any]:
    _check_attrs(el, path, ())
    seq = _Seq(el, path, tuple(r[0] for r in _RULES))
    out: dict[str, Any] = {}
    for wrapper, case_name, preds, result in _RULES:
        wel = seq.opt(wrapper)
        if wel is None:
            continue
        wp = f"{path}/{wrapper}"
        _check_attrs(wel, wp, ())
        ws = _Seq(wel, wp, (case_name,))
        cases = []
        for i, cel in enumerate(ws.many(case_name)):
            cp = f"{wp}/{case_name}[{i + 1}]"
            _check_attrs(cel, cp, ())
            cs = _Seq(cel, cp, (*preds, result))
            c: dict[str, Any] = {}
            for pred in preds:
                _opt_text(cs, pred, c)
            _req_text(cs, result, c)
            cs.end()
            cases.append(c)
        ws.end()
        out[wrapper] = cases
    seq.end()
    return out


def _price_list(el: Element, path: str) -> dict[str, Any]:
    _check_attrs(el, path, ("name", "prettyName"), ("name",))
    d: dict[str, Any] = {k: v for k, v in el.attrib.items() if not k.startswith(XSI)}
    seq = _Seq(el, path, ("plans",))
    d["plans"] = _names(seq.req("plans"), f"{path}/plans", "plan")
    seq.end()
    return d


def _catalog(root: Element) -> dict[str, Any]:
    path = "catalog"
    if root.tag != "catalog":
        raise _SchemaError(root.tag, f"the root element must be <catalog>, not <{root.tag}>")
    _check_attrs(root, path, ())
    seq = _Seq(
        root,
        path,
        (
            "effectiveDate",
            "catalogName",
            "recurringBillingMode",
            "currencies",
            "units",
            "products",
            "rules",
            "plans",
            "priceLists",
        ),
    )
    d: dict[str, Any] = {}
    _req_text(seq, "effectiveDate", d)
    _req_text(seq, "catalogName", d)
    _opt_text(seq, "recurringBillingMode", d)
    d["currencies"] = _names(seq.req("currencies"), f"{path}/currencies", "currency")
    uel = seq.opt("units")
    if uel is not None:
        us = _Seq(uel, f"{path}/units", ("unit",))
        units = []
        for i, u in enumerate(us.many("unit")):
            up = f"{path}/units/unit[{i + 1}]"
            _check_attrs(u, up, ("name", "prettyName"), ("name",))
            _Seq(u, up, ()).end()
            units.append({k: v for k, v in u.attrib.items() if not k.startswith(XSI)})
        us.end()
        d["units"] = units
    pel = seq.req("products")
    ps = _Seq(pel, f"{path}/products", ("product",))
    products = []
    for i, p in enumerate(ps.many("product")):
        pp = f"{path}/products/product[{i + 1}]"
        _check_attrs(p, pp, ("name", "prettyName"), ("name",))
        pp = f"{path}/products/product[@name='{p.attrib['name']}']"
        prod: dict[str, Any] = {k: v for k, v in p.attrib.items() if not k.startswith(XSI)}
        s = _Seq(p, pp, ("category", "included", "available", "limits"))
        _req_text(s, "category", prod)
        for key in ("included", "available"):
            lel = s.opt(key)
            if lel is not None:
                prod[key] = _names(lel, f"{pp}/{key}", "addonProduct")
        lim = s.opt("limits")
        if lim is not None:
            prod["limits"] = _limits(lim, f"{pp}/limits")
        s.end()
        products.append(prod)
    ps.end()
    d["products"] = products
    d["rules"] = _rules(seq.req("rules"), f"{path}/rules")
    plel = seq.req("plans")
    pls = _Seq(plel, f"{path}/plans", ("plan",))
    plans = []
    for i, p in enumerate(pls.many("plan")):
        pp = f"{path}/plans/plan[{i + 1}]"
        _check_attrs(p, pp, ("name", "prettyName"), ("name",))
        pp = f"{path}/plans/plan[@name='{p.attrib['name']}']"
        plan: dict[str, Any] = {k: v for k, v in p.attrib.items() if not k.startswith(XSI)}
        s = _Seq(
            p,
            pp,
            (
                "effectiveDateForExistingSubscriptions",
                "product",
                "recurringBillingMode",
                "initialPhases",
                "finalPhase",
                "plansAllowedInBundle",
            ),
        )
        _opt_text(s, "effectiveDateForExistingSubscriptions", plan)
        _req_text(s, "product", plan)
        _opt_text(s, "recurringBillingMode", plan)
        ip = s.opt("initialPhases")
        if ip is not None:
            ips = _Seq(ip, f"{pp}/initialPhases", ("phase",))
            plan["initialPhases"] = [
                _phase(ph, f"{pp}/initialPhases/phase[{j + 1}]") for j, ph in enumerate(ips.many("phase"))
            ]
            ips.end()
        plan["finalPhase"] = _phase(s.req("finalPhase"), f"{pp}/finalPhase")
        _opt_text(s, "plansAllowedInBundle", plan)
        s.end()
        plans.append(plan)
    pls.end()
    d["plans"] = plans
    prl = seq.req("priceLists")
    _check_attrs(prl, f"{path}/priceLists", ())
    prs = _Seq(prl, f"{path}/priceLists", ("defaultPriceList", "childPriceList"))
    d["priceLists"] = {
        "defaultPriceList": _price_list(prs.req("defaultPriceList"), f"{path}/priceLists/defaultPriceList"),
        "childPriceLists": [
            _price_list(c, f"{path}/priceLists/childPriceList[{i + 1}]")
            for i, c in enumerate(prs.many("childPriceList"))
        ],
    }
    prs.end()
    seq.end()
    return d


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def parse_catalog_xml(data: bytes | str, *, max_bytes: int = MAX_CATALOG_BYTES) -> dict[str, Any]:
    """Parse one catalog document into the canonical tree; raises :class:`CatalogValidationError`."""
    raw = _as_bytes(data)
    if len(raw) > max_bytes:
        raise CatalogValidationError(
            [
                ValidationMessage(
                    "",
                    f"catalog document is {len(raw)} bytes; the limit is {max_bytes} bytes "
                    f"({max_bytes / 1048576:g} MiB)",
                )
            ]
        )
    try:
        root = DET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise CatalogValidationError(
            [
                ValidationMessage(
                    "", "DOCTYPE declarations are not allowed in a catalog (DTDs and entities are refused)"
                )
            ]
        ) from None
    except defusedxml.EntitiesForbidden:
        raise CatalogValidationError(
            [ValidationMessage("", "entity declarations are not allowed in a catalog")]
        ) from None
    except defusedxml.ExternalReferenceForbidden:
        raise CatalogValidationError(
            [ValidationMessage("", "external references are not allowed in a catalog")]
        ) from None
    except ParseError as e:
        raise CatalogValidationError([ValidationMessage("", f"malformed XML: {e}")]) from None
    try:
        return _catalog(root)
    except _SchemaError as e:
        raise CatalogValidationError([ValidationMessage(e.path, e.message)]) from None


def load_version_xml(
    data: bytes | str, *, max_bytes: int = MAX_CATALOG_BYTES, validate: bool = True
) -> CatalogVersion:
    """Parse, build (defaults filled) and validate one catalog version from Kill Bill XML."""
    version = build_version(parse_catalog_xml(data, max_bytes=max_bytes))
    if validate:
        from billow.catalog.validation import validate_version

        errors = validate_version(version)
        if errors:
            raise CatalogValidationError(errors)
    return version


# --------------------------------------------------------------------------- writer


def fmt_decimal(d: Decimal) -> str:
    """A decimal as xs:decimal text (never exponent notation)."""
    s = format(d, "f")
    return "0" if s in ("-0", "+0") else s


def fmt_instant(dt: Any) -> str:
    return str(dt.isoformat())


class _W:
    def __init__(self) -> None:
        self.lines: list[str] = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>']
        self.depth = 0

    def open(self, tag: str, **attrs: str | None) -> None:
        self.lines.append("    " * self.depth + f"<{tag}{_attrs(attrs)}>")
        self.depth += 1

    def close(self, tag: str) -> None:
        self.depth -= 1
        self.lines.append("    " * self.depth + f"</{tag}>")

    def empty(self, tag: str, **attrs: str | None) -> None:
        self.lines.append("    " * self.depth + f"<{tag}{_attrs(attrs)}/>")

    def text(self, tag: str, value: str, **attrs: str | None) -> None:
        self.lines.append("    " * self.depth + f"<{tag}{_attrs(attrs)}>{escape(value)}</{tag}>")


def _attrs(attrs: dict[str, str | None]) -> str:
    return "".join(f" {k.replace('__', ':')}={quoteattr(v)}" for k, v in attrs.items() if v is not None)


def _pretty(pretty: str, default: str) -> str | None:
    return None if pretty == default else pretty


def _w_prices(w: _W, tag: str, ip: InternationalPrice) -> None:
    if not ip.prices:
        w.empty(tag)
        return
    w.open(tag)
    for p in ip.prices:
        w.open("price")
        w.text("currency", p.currency)
        if p.value is None:
            w.empty("value", xsi__nil="true")
        else:
            w.text("value", fmt_decimal(p.value))
        w.close("price")
    w.close(tag)


def _w_limits(w: _W, limits: tuple[Limit, ...]) -> None:
    if not limits:
        return
    w.open("limits")
    for lim in limits:
        w.open("limit")
        w.text("unit", lim.unit)
        if lim.max != MINUS_ONE:
            w.text("max", fmt_decimal(lim.max))
        if lim.min != MINUS_ONE:
            w.text("min", fmt_decimal(lim.min))
        w.close("limit")
    w.close("limits")


def _w_usage(w: _W, u: Usage) -> None:
    w.open(
        "usage",
        name=u.name,
        prettyName=_pretty(u.pretty_name, u.name),
        billingMode=u.billing_mode.value,
        usageType=u.usage_type.value,
        tierBlockPolicy=None
        if u.tier_block_policy is TierBlockPolicy.ALL_TIERS
        else u.tier_block_policy.value,
    )
    w.text("billingPeriod", u.billing_period.value)
    _w_limits(w, u.limits)
    if u.blocks:
        w.open("blocks")
        for b in u.blocks:
            w.open("block", type=None if b.type is BlockType.VANILLA else b.type.value)
            w.text("unit", b.unit)
            w.text("size", fmt_decimal(b.size))
            _w_prices(w, "prices", b.prices)
            if b.min_top_up_credit != MINUS_ONE:
                w.text("minTopUpCredit", fmt_decimal(b.min_top_up_credit))
            w.close("block")
        w.close("blocks")
    if u.tiers:
        w.open("tiers")
        for t in u.tiers:
            w.open("tier")
            _w_limits(w, t.limits)
            if t.blocks:
                w.open("blocks")
                for tb in t.blocks:
                    w.open("tieredBlock")
                    w.text("unit", tb.unit)
                    w.text("size", fmt_decimal(tb.size))
                    _w_prices(w, "prices", tb.prices)
                    if tb.min_top_up_credit != MINUS_ONE:
                        w.text("minTopUpCredit", fmt_decimal(tb.min_top_up_credit))
                    w.text("max", fmt_decimal(tb.max))
                    w.close("tieredBlock")
                w.close("blocks")
            if t.fixed_price is not None:
                _w_prices(w, "fixedPrice", t.fixed_price)
            if t.recurring_price is not None:
                _w_prices(w, "recurringPrice", t.recurring_price)
            w.close("tier")
        w.close("tiers")
    if u.fixed_price is not None:
        _w_prices(w, "fixedPrice", u.fixed_price)
    if u.recurring_price is not None:
        _w_prices(w, "recurringPrice", u.recurring_price)
    w.close("usage")


def _w_phase(w: _W, tag: str, ph: PlanPhase) -> None:
    w.open(tag, type=ph.type.value, prettyName=_pretty(ph.pretty_name, ph.name))
    w.open("duration")
    w.text("unit", ph.duration.unit.value)
    if ph.duration.number != -1:
        w.text("number", str(ph.duration.number))
    w.close("duration")
    if ph.fixed is not None:
        ftype = None if ph.fixed.type is FixedType.ONE_TIME else ph.fixed.type.value
        if ph.fixed.price is None:
            w.empty("fixed", type=ftype)
        else:
            w.open("fixed", type=ftype)
            _w_prices(w, "fixedPrice", ph.fixed.price)
            w.close("fixed")
    if ph.recurring is not None:
        w.open("recurring")
        w.text("billingPeriod", ph.recurring.billing_period.value)
        if ph.recurring.price is not None:
            _w_prices(w, "recurringPrice", ph.recurring.price)
        w.close("recurring")
    if ph.usages:
        w.open("usages")
        for u in ph.usages:
            _w_usage(w, u)
        w.close("usages")
    w.close(tag)


def _w_case(w: _W, tag: str, case: Any) -> None:
    w.open(tag)
    for xml_name, attr in _case_fields(case):
        value = getattr(case, attr)
        if value is not None:
            w.text(xml_name, value.value if hasattr(value, "value") else str(value))
    w.close(tag)


def _case_fields(case: Any) -> tuple[tuple[str, str], ...]:
    change = (
        ("phaseType", "phase_type"),
        ("fromProduct", "from_product"),
        ("fromProductCategory", "from_product_category"),
        ("fromBillingPeriod", "from_billing_period"),
        ("fromPriceList", "from_price_list"),
        ("toProduct", "to_product"),
        ("toProductCategory", "to_product_category"),
        ("toBillingPeriod", "to_billing_period"),
        ("toPriceList", "to_price_list"),
    )
    std = (
        ("product", "product"),
        ("productCategory", "product_category"),
        ("billingPeriod", "billing_period"),
        ("priceList", "price_list"),
    )
    if isinstance(case, ChangeCase):
        result = ("policy", "policy") if hasattr(case, "policy") else ("alignment", "alignment")
        return (*change, result)
    if isinstance(case, CancelPolicyCase):
        return (*std, ("phaseType", "phase_type"), ("policy", "policy"))
    if isinstance(case, BillingAlignmentCase):
        return (*std, ("phaseType", "phase_type"), ("alignment", "alignment"))
    if isinstance(case, CreateAlignmentCase):
        return (*std, ("alignment", "alignment"))
    if isinstance(case, PriceListCase):
        return (
            *std,
            ("fromProduct", "from_product"),
            ("fromProductCategory", "from_product_category"),
            ("fromBillingPeriod", "from_billing_period"),
            ("fromPriceList", "from_price_list"),
            ("toPriceList", "to_price_list"),
        )
    raise TypeError(f"not a rule case: {case!r}")  # pragma: no cover


def _w_price_list(w: _W, tag: str, pl: PriceList) -> None:
    w.open(tag, name=pl.name, prettyName=_pretty(pl.pretty_name, pl.name))
    if pl.plans:
        w.open("plans")
        for name in pl.plans:
            w.text("plan", name)
        w.close("plans")
    else:
        w.empty("plans")
    w.close(tag)


def dump_xml(version: CatalogVersion) -> str:
    """Kill Bill XML for one version; reloading it gives an equal :class:`CatalogVersion`.

    Values equal to Kill Bill's defaults (pretty names, -1 sentinels, a plan billing
    mode equal to the catalog's...) are left out.
    """
    w = _W()
    w.open(
        "catalog",
        xmlns__xsi="http://www.w3.org/2001/XMLSchema-instance",
        xsi__noNamespaceSchemaLocation="CatalogSchema.xsd",
    )
    w.text("effectiveDate", fmt_instant(version.effective_date))
    w.text("catalogName", version.name)
    if version.recurring_billing_mode is not None:
        w.text("recurringBillingMode", version.recurring_billing_mode.value)
    if version.currencies:
        w.open("currencies")
        for c in version.currencies:
            w.text("currency", c)
        w.close("currencies")
    else:
        w.empty("currencies")
    if version.units:
        w.open("units")
        for u in version.units:
            w.empty("unit", name=u.name, prettyName=_pretty(u.pretty_name, u.name))
        w.close("units")
    w.open("products")
    for p in version.products:
        w.open("product", name=p.name, prettyName=_pretty(p.pretty_name, p.name))
        w.text("category", p.category.value)
        for key, names in (("included", p.included), ("available", p.available)):
            if names:
                w.open(key)
                for n in names:
                    w.text("addonProduct", n)
                w.close(key)
        _w_limits(w, p.limits)
        w.close("product")
    w.close("products")
    w.open("rules")
    r = version.rules
    for wrapper, case_tag, cases in (
        ("changePolicy", "changePolicyCase", r.change_policy),
        ("changeAlignment", "changeAlignmentCase", r.change_alignment),
        ("cancelPolicy", "cancelPolicyCase", r.cancel_policy),
        ("createAlignment", "createAlignmentCase", r.create_alignment),
        ("billingAlignment", "billingAlignmentCase", r.billing_alignment),
        ("priceList", "priceListCase", r.price_list),
    ):
        if cases:
            w.open(wrapper)
            for case in cases:
                _w_case(w, case_tag, case)
            w.close(wrapper)
    w.close("rules")
    w.open("plans")
    for plan in version.plans:
        w.open("plan", name=plan.name, prettyName=_pretty(plan.pretty_name, plan.name))
        if plan.effective_date_for_existing_subscriptions is not None:
            w.text(
                "effectiveDateForExistingSubscriptions",
                fmt_instant(plan.effective_date_for_existing_subscriptions),
            )
        w.text("product", plan.product)
        if (
            plan.recurring_billing_mode is not None
            and plan.recurring_billing_mode != version.recurring_billing_mode
        ):
            w.text("recurringBillingMode", plan.recurring_billing_mode.value)
        if plan.initial_phases:
            w.open("initialPhases")
            for ph in plan.initial_phases:
                _w_phase(w, "phase", ph)
            w.close("initialPhases")
        _w_phase(w, "finalPhase", plan.final_phase)
        if plan.plans_allowed_in_bundle != -1:
            w.text("plansAllowedInBundle", str(plan.plans_allowed_in_bundle))
        w.close("plan")
    w.close("plans")
    w.open("priceLists")
    _w_price_list(w, "defaultPriceList", version.default_price_list)
    for pl in version.child_price_lists:
        _w_price_list(w, "childPriceList", pl)
    w.close("priceLists")
    w.close("catalog")
    return "\n".join(w.lines) + "\n"
