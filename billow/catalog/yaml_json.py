"""The catalog as YAML or JSON (Billow's own, readable format) and file loading/conversion.

Same model, same defaults, same validation as Kill Bill XML; conversion
XML -> YAML -> XML is lossless (the model reloads equal).  The schema mirrors the
XML element names, with wrappers turned into lists and prices into mappings::

    catalogName: Acme                      # required
    effectiveDate: '2024-01-01T00:00:00+00:00'   # required, xs:dateTime (UTC if no offset)
    recurringBillingMode: IN_ADVANCE       # optional: IN_ADVANCE | IN_ARREAR
    currencies: [USD, EUR]                 # required (may be empty)
    units: [{name: api-calls, prettyName: API calls}]
    products:                              # required
      - name: Pro                          # names: XML NCNames, one name space for all kinds
        prettyName: Pro plan               # optional (defaults to name)
        category: BASE                     # BASE | ADD_ON | STANDALONE
        included: [Support]                # add-on product names
        available: [Storage]
        limits: [{unit: api-calls, max: 1000, min: 0}]
    rules:                                 # the six lists; first matching case wins
      changePolicy:     [{phaseType: TRIAL, policy: IMMEDIATE}, {policy: END_OF_TERM}]
      changeAlignment:  [{alignment: START_OF_BUNDLE}]
      cancelPolicy:     [{policy: END_OF_TERM}]
      createAlignment:  [{alignment: START_OF_BUNDLE}]
      billingAlignment: [{productCategory: ADD_ON, alignment: BUNDLE}, {alignment: ACCOUNT}]
      priceList:        [{fromPriceList: Promo, toPriceList: DEFAULT}]
    plans:
      - name: pro-monthly
        product: Pro
        effectiveDateForExistingSubscriptions: '2024-06-01T00:00:00+00:00'   # optional
        recurringBillingMode: IN_ARREAR    # optional (defaults to the catalog's)
        plansAllowedInBundle: 1            # optional (-1 = unlimited)
        initialPhases:
          - type: TRIAL
            duration: {unit: DAYS, number: 14}
            fixed: {fixedPrice: {}}        # {} = 0 in every currency; `fixed: {}` = no charge at all
        finalPhase:
          type: EVERGREEN
          duration: {unit: UNLIMITED}
          recurring:
            billingPeriod: MONTHLY
            recurringPrice: {USD: 29.00, EUR: 27.00}   # null value = xsi:nil (not sold in that currency)
          usages:
            - name: pro-monthly-api
              billingMode: IN_ARREAR
              usageType: CONSUMABLE
              tierBlockPolicy: ALL_TIERS   # optional
              billingPeriod: MONTHLY
              tiers:
                - blocks: [{unit: api-calls, size: 1000, prices: {USD: 0.50}, max: 100}]
    priceLists:
      defaultPriceList: {name: DEFAULT, plans: [pro-monthly]}
      childPriceLists: [{name: Promo, plans: []}]

Prices may also be written as a list ``[{currency: USD, value: 29.00}]``.
Money is read exactly (YAML floats and JSON numbers become ``Decimal`` from their
text); the writers emit plain decimals in YAML and strings in JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from billow.catalog.builder import build_version
from billow.catalog.errors import CatalogValidationError, ValidationMessage
from billow.catalog.model import (
    MINUS_ONE,
    BlockType,
    Catalog,
    CatalogVersion,
    FixedType,
    InternationalPrice,
    Limit,
    PlanPhase,
    PriceList,
    TierBlockPolicy,
    Usage,
)
from billow.catalog.validation import validate_version
from billow.catalog.xml import MAX_CATALOG_BYTES, dump_xml, fmt_decimal, fmt_instant, load_version_xml

FORMATS = ("xml", "yaml", "json")

# --------------------------------------------------------------------------- model -> tree


def _pretty(d: dict[str, Any], pretty: str, default: str) -> None:
    if pretty != default:
        d["prettyName"] = pretty


def _prices(ip: InternationalPrice) -> Any:
    currencies = [p.currency for p in ip.prices]
    if len(set(currencies)) != len(currencies):  # a repeated currency: keep the list form, losslessly
        return [{"currency": p.currency, "value": p.value} for p in ip.prices]
    return {p.currency: p.value for p in ip.prices}


def _limits(limits: tuple[Limit, ...]) -> list[dict[str, Any]]:
    out = []
    for lim in limits:
        d: dict[str, Any] = {"unit": lim.unit}
        if lim.max != MINUS_ONE:
            d["max"] = lim.max
        if lim.min != MINUS_ONE:
            d["min"] = lim.min
        out.append(d)
    return out


def _usage(u: Usage) -> dict[str, Any]:
    d: dict[str, Any] = {"name": u.name}
    _pretty(d, u.pretty_name, u.name)
    d["billingMode"] = u.billing_mode.value
    d["usageType"] = u.usage_type.value
    if u.tier_block_policy is not TierBlockPolicy.ALL_TIERS:
        d["tierBlockPolicy"] = u.tier_block_policy.value
    d["billingPeriod"] = u.billing_period.value
    if u.limits:
        d["limits"] = _limits(u.limits)
    if u.blocks:
        blocks = []
        for b in u.blocks:
            bd: dict[str, Any] = {}
            if b.type is not BlockType.VANILLA:
                bd["type"] = b.type.value
            bd.update(unit=b.unit, size=b.size, prices=_prices(b.prices))
            if b.min_top_up_credit != MINUS_ONE:
                bd["minTopUpCredit"] = b.min_top_up_credit
            blocks.append(bd)
        d["blocks"] = blocks
    if u.tiers:
        tiers = []
        for t in u.tiers:
            td: dict[str, Any] = {}
            if t.limits:
                td["limits"] = _limits(t.limits)
            if t.blocks:
                tbs = []
                for tb in t.blocks:
                    tbd: dict[str, Any] = {"unit": tb.unit, "size": tb.size, "prices": _prices(tb.prices)}
                    if tb.min_top_up_credit != MINUS_ONE:
                        tbd["minTopUpCredit"] = tb.min_top_up_credit
                    tbd["max"] = tb.max
                    tbs.append(tbd)
                td["blocks"] = tbs
            if t.fixed_price is not None:
                td["fixedPrice"] = _prices(t.fixed_price)
            if t.recurring_price is not None:
                td["recurringPrice"] = _prices(t.recurring_price)
            tiers.append(td)
        d["tiers"] = tiers
    if u.fixed_price is not None:
        d["fixedPrice"] = _prices(u.fixed_price)
    if u.recurring_price is not None:
        d["recurringPrice"] = _prices(u.recurring_price)
    return d


def _phase(ph: PlanPhase) -> dict[str, Any]:
    d: dict[str, Any] = {"type": ph.type.value}
    _pretty(d, ph.pretty_name, ph.name)
    dur: dict[str, Any] = {"unit": ph.duration.unit.value}
    if ph.duration.number != -1:
        dur["number"] = ph.duration.number
    d["duration"] = dur
    if ph.fixed is not None:
        fd: dict[str, Any] = {}
        if ph.fixed.type is not FixedType.ONE_TIME:
            fd["type"] = ph.fixed.type.value
        if ph.fixed.price is not None:
            fd["fixedPrice"] = _prices(ph.fixed.price)
        d["fixed"] = fd
    if ph.recurring is not None:
        rd: dict[str, Any] = {"billingPeriod": ph.recurring.billing_period.value}
        if ph.recurring.price is not None:
            rd["recurringPrice"] = _prices(ph.recurring.price)
        d["recurring"] = rd
    if ph.usages:
        d["usages"] = [_usage(u) for u in ph.usages]
    return d


_CASE_KEYS = {
    "phase_type": "phaseType",
    "from_product": "fromProduct",
    "from_product_category": "fromProductCategory",
    "from_billing_period": "fromBillingPeriod",
    "from_price_list": "fromPriceList",
    "to_product": "toProduct",
    "to_product_category": "toProductCategory",
    "to_billing_period": "toBillingPeriod",
    "to_price_list": "toPriceList",
    "product": "product",
    "product_category": "productCategory",
    "billing_period": "billingPeriod",
    "price_list": "priceList",
    "policy": "policy",
    "alignment": "alignment",
}
# XML order of each case kind's elements (predicates then result)
_CASE_ORDER = {
    "changePolicy": (
        "phase_type",
        "from_product",
        "from_product_category",
        "from_billing_period",
        "from_price_list",
        "to_product",
        "to_product_category",
        "to_billing_period",
        "to_price_list",
        "policy",
    ),
    "cancelPolicy": ("product", "product_category", "billing_period", "price_list", "phase_type", "policy"),
    "createAlignment": ("product", "product_category", "billing_period", "price_list", "alignment"),
    "billingAlignment": (
        "product",
        "product_category",
        "billing_period",
        "price_list",
        "phase_type",
        "alignment",
    ),
    "priceList": (
        "product",
        "product_category",
        "billing_period",
        "price_list",
        "from_product",
        "from_product_category",
        "from_billing_period",
        "from_price_list",
        "to_price_list",
    ),
}
_CASE_ORDER["changeAlignment"] = (*_CASE_ORDER["changePolicy"][:-1], "alignment")


def _price_list(pl: PriceList) -> dict[str, Any]:
    d: dict[str, Any] = {"name": pl.name}
    _pretty(d, pl.pretty_name, pl.name)
    d["plans"] = list(pl.plans)
    return d


def to_dict(version: CatalogVersion) -> dict[str, Any]:
    """The canonical tree of a version (values equal to Kill Bill's defaults left out)."""
    d: dict[str, Any] = {
        "catalogName": version.name,
        "effectiveDate": fmt_instant(version.effective_date),
    }
    if version.recurring_billing_mode is not None:
        d["recurringBillingMode"] = version.recurring_billing_mode.value
    d["currencies"] = list(version.currencies)
    if version.units:
        units = []
        for u in version.units:
            ud: dict[str, Any] = {"name": u.name}
            _pretty(ud, u.pretty_name, u.name)
            units.append(ud)
        d["units"] = units
    products = []
    for p in version.products:
        pd: dict[str, Any] = {"name": p.name}
        _pretty(pd, p.pretty_name, p.name)
        pd["category"] = p.category.value
        if p.included:
            pd["included"] = list(p.included)
        if p.available:
            pd["available"] = list(p.available)
        if p.limits:
            pd["limits"] = _limits(p.limits)
        products.append(pd)
    d["products"] = products
    rules: dict[str, Any] = {}
    r = version.rules
    for key, cases in (
        ("changePolicy", r.change_policy),
        ("changeAlignment", r.change_alignment),
        ("cancelPolicy", r.cancel_policy),
        ("createAlignment", r.create_alignment),
        ("billingAlignment", r.billing_alignment),
        ("priceList", r.price_list),
    ):
        if not cases:
            continue
        out = []
        for c in cases:  # type: ignore[attr-defined]
            cd: dict[str, Any] = {}
            for attr in _CASE_ORDER[key]:
                v = getattr(c, attr)
                if v is not None:
                    cd[_CASE_KEYS[attr]] = getattr(v, "value", v)
            out.append(cd)
        rules[key] = out
    d["rules"] = rules
    plans = []
    for plan in version.plans:
        pd = {"name": plan.name}
        _pretty(pd, plan.pretty_name, plan.name)
        if plan.effective_date_for_existing_subscriptions is not None:
            pd["effectiveDateForExistingSubscriptions"] = fmt_instant(
                plan.effective_date_for_existing_subscriptions
            )
        pd["product"] = plan.product
        if (
            plan.recurring_billing_mode is not None
            and plan.recurring_billing_mode != version.recurring_billing_mode
        ):
            pd["recurringBillingMode"] = plan.recurring_billing_mode.value
        if plan.initial_phases:
            pd["initialPhases"] = [_phase(ph) for ph in plan.initial_phases]
        pd["finalPhase"] = _phase(plan.final_phase)
        if plan.plans_allowed_in_bundle != -1:
            pd["plansAllowedInBundle"] = plan.plans_allowed_in_bundle
        plans.append(pd)
    d["plans"] = plans
    d["priceLists"] = {
        "defaultPriceList": _price_list(version.default_price_list),
        "childPriceLists": [_price_list(pl) for pl in version.child_price_lists],
    }
    return d


# --------------------------------------------------------------------------- YAML / JSON text


class _Dumper(yaml.SafeDumper):
    pass


_INT_TEXT = re.compile(r"-?\d+")


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = fmt_decimal(value)
    tag = "tag:yaml.org,2002:int" if _INT_TEXT.fullmatch(text) else "tag:yaml.org,2002:float"
    return dumper.represent_scalar(tag, text)


_Dumper.add_representer(Decimal, _represent_decimal)


class _Loader(yaml.SafeLoader):
    pass


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    return Decimal(text)


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def dump_yaml(version: CatalogVersion) -> str:
    """The version as YAML (Billow's schema, see the module docstring)."""
    return str(yaml.dump(to_dict(version), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110))


def dump_json(version: CatalogVersion, *, indent: int | None = 2) -> str:
    """The version as JSON (Billow's schema; money as strings, exact)."""
    return json.dumps(to_dict(version), indent=indent, ensure_ascii=False, default=_json_default) + "\n"


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return fmt_decimal(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _check_size(text: str | bytes, max_bytes: int) -> None:
    size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
    if size > max_bytes:
        raise CatalogValidationError(
            [ValidationMessage("", f"catalog document is {size} bytes; the limit is {max_bytes} bytes")]
        )


def _from_tree(tree: Any, validate: bool) -> CatalogVersion:
    if not isinstance(tree, dict):
        raise CatalogValidationError(
            [ValidationMessage("catalog", f"expected a mapping at the top level, got {type(tree).__name__}")]
        )
    version = build_version(tree)
    if validate:
        errors = validate_version(version)
        if errors:
            raise CatalogValidationError(errors)
    return version


def load_version_yaml(
    text: str | bytes, *, validate: bool = True, max_bytes: int = MAX_CATALOG_BYTES
) -> CatalogVersion:
    """One version from YAML (Billow's schema); raises :class:`CatalogValidationError`."""
    _check_size(text, max_bytes)
    try:
        tree = yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        raise CatalogValidationError([ValidationMessage("", f"malformed YAML: {e}")]) from None
    return _from_tree(tree, validate)


def load_version_json(
    text: str | bytes, *, validate: bool = True, max_bytes: int = MAX_CATALOG_BYTES
) -> CatalogVersion:
    """One version from JSON (Billow's schema); raises :class:`CatalogValidationError`."""
    _check_size(text, max_bytes)
    try:
        tree = json.loads(text, parse_float=Decimal)
    except ValueError as e:
        raise CatalogValidationError([ValidationMessage("", f"malformed JSON: {e}")]) from None
    return _from_tree(tree, validate)


# --------------------------------------------------------------------------- files


def format_of(path: str | Path) -> str:
    """``xml``, ``yaml`` or ``json`` from a file name's extension."""
    ext = Path(path).suffix.lower()
    if ext == ".xml":
        return "xml"
    if ext in (".yaml", ".yml"):
        return "yaml"
    if ext == ".json":
        return "json"
    raise ValueError(f"{path}: unknown catalog format '{ext}' (use .xml, .yaml, .yml or .json)")


def load_version_text(text: str | bytes, fmt: str, *, validate: bool = True) -> CatalogVersion:
    if fmt == "xml":
        return load_version_xml(text, validate=validate)
    if fmt == "yaml":
        return load_version_yaml(text, validate=validate)
    if fmt == "json":
        return load_version_json(text, validate=validate)
    raise ValueError(f"unknown catalog format {fmt!r} (expected one of {FORMATS})")


def load_catalog_file(path: str | Path, *, validate: bool = True) -> CatalogVersion:
    """One catalog version from a ``.xml``, ``.yaml``/``.yml`` or ``.json`` file."""
    p = Path(path)
    fmt = format_of(p)
    size = p.stat().st_size
    if size > MAX_CATALOG_BYTES:
        raise CatalogValidationError(
            [
                ValidationMessage(
                    "", f"catalog document is {size} bytes; the limit is {MAX_CATALOG_BYTES} bytes"
                )
            ]
        )
    return load_version_text(p.read_bytes(), fmt, validate=validate)


def load_catalog_files(paths: Iterable[str | Path]) -> Catalog:
    """All versions of one tenant catalog from several files (or every catalog file of a folder),
    validated together as Kill Bill validates a versioned catalog."""
    files: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            files.extend(
                sorted(f for f in p.iterdir() if f.suffix.lower() in (".xml", ".yaml", ".yml", ".json"))
            )
        else:
            files.append(p)
    versions = [load_catalog_file(f, validate=False) for f in files]
    from billow.catalog.validation import validate_catalog

    catalog = Catalog.of(versions)
    errors = validate_catalog(catalog)
    if errors:
        raise CatalogValidationError(errors)
    return catalog


def dump_version(version: CatalogVersion, fmt: str) -> str:
    if fmt == "xml":
        return dump_xml(version)
    if fmt == "yaml":
        return dump_yaml(version)
    if fmt == "json":
        return dump_json(version)
    raise ValueError(f"unknown catalog format {fmt!r} (expected one of {FORMATS})")


def convert_file(src: str | Path, dst: str | Path) -> CatalogVersion:
    """Convert one catalog file to another format (formats from the extensions); the source is validated."""
    version = load_catalog_file(src)
    Path(dst).write_text(dump_version(version, format_of(dst)), encoding="utf-8")
    return version


__all__ = [
    "convert_file",
    "dump_json",
    "dump_version",
    "dump_xml",
    "dump_yaml",
    "format_of",
    "load_catalog_file",
    "load_catalog_files",
    "load_version_json",
    "load_version_text",
    "load_version_yaml",
    "to_dict",
]
