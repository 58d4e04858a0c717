"""The view model handed to invoice templates: plain, documented, every string already localised.

Built from an `Invoice` and its `Account` only; amounts are the invoice's own (item amounts, the paid
amount, the balance from `billow.invoice.credit`), never recomputed from prices. What Kill Bill's
`DefaultInvoiceFormatter` / `DefaultInvoiceItemFormatter` do (``invoice/.../template/formatters/``) is kept:
CBA items are shown merged (they are internal bookkeeping), invoice-level credit adjustments merged,
items translated through the catalog translation bundle (names, then pretty names). Beyond Kill Bill:
items grouped by subscription with their period, plan and phase, usage quantities and unit prices from
the item details, Babel for money (the invoice currency in the reader's locale), dates in the account's
time zone, plural forms for counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from billow.account.model import Account
from billow.catalog.model import Catalog, PhaseType
from billow.core.account_time import AccountTime
from billow.invoice.credit import balance, raw_balance
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus
from billow.invoice.presentation.bundles import DEFAULT_LOCALE, JavaLocale, Translator, parse_locale

_ZERO = Decimal(0)
T = InvoiceItemType
# Kill Bill's invoice amount: charges, repairs, item adjustments, parent summaries (InvoiceJson.amount)
CHARGED_TYPES = frozenset({T.EXTERNAL_CHARGE, T.FIXED, T.RECURRING, T.USAGE, T.TAX, T.REPAIR_ADJ, T.ITEM_ADJ,
                           T.PARENT_SUMMARY})
# Countries that print on US Letter; everyone else on A4.
LETTER_COUNTRIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "CR", "PR", "SV", "DO"})


# --------------------------------------------------------------------------- locale helpers
@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads the invoice: Kill Bill locale, Babel locale, time zone."""

    java: JavaLocale
    babel: Locale
    time: AccountTime

    @property
    def lang(self) -> str:
        return self.babel.language


@lru_cache(maxsize=256)
def _babel_locale(java: JavaLocale) -> Locale:
    for ident in (java.babel, java.language, DEFAULT_LOCALE):
        try:
            return Locale.parse(ident)
        except (UnknownLocaleError, ValueError):
            continue
    raise AssertionError("en_US is always known")  # pragma: no cover


def reader_for(account: Account, locale: str | None = None) -> Reader:
    """`locale` if given, else the account's (Kill Bill: ``account.getLocale()``), else en_US."""
    text = locale or account.locale or DEFAULT_LOCALE
    try:
        java = parse_locale(text)
    except Exception:  # noqa: BLE001 - an account saved with a locale Java would not parse
        java = parse_locale(DEFAULT_LOCALE)
    return Reader(java, _babel_locale(java), account.time)


def money(amount: Decimal | None, currency: str, reader: Reader, *, exact: bool = False) -> str:
    """Babel's `format_currency` in the invoice currency; `exact` keeps sub-cent digits (unit prices)."""
    if amount is None:
        return ""
    return format_currency(amount, currency, locale=reader.babel, decimal_quantization=not exact)


def day(d: date | None, reader: Reader) -> str:
    """A date in the reader's locale, CLDR medium format (Kill Bill: ``DateTimeFormat.mediumDate()``)."""
    return "" if d is None else format_date(d, format="medium", locale=reader.babel)


def instant_day(dt: datetime | None, reader: Reader) -> str:
    """A UTC instant as the account's date (its `AccountTime`)."""
    if dt is None:
        return ""
    return day(reader.time.local_date(dt), reader)


def number(value: Decimal | None, reader: Reader) -> str:
    return "" if value is None else format_decimal(value, locale=reader.babel, decimal_quantization=False)


def plural(labels: Translator, key: str, count: int, reader: Reader) -> str:
    """``<key>.<CLDR plural form>`` (``one``, ``few``, ``other``...), falling back to ``<key>.other``."""
    form = reader.babel.plural_form(count)
    text = labels.get(f"{key}.{form}") if labels.has(f"{key}.{form}") else labels.get(f"{key}.other")
    return (text or "").replace("{count}", number(Decimal(count), reader))


# --------------------------------------------------------------------------- the view objects
@dataclass(frozen=True, slots=True)
class TierLine:
    """One tier of a usage item, from Kill Bill's item details (``tierDetails``)."""

    tier: str
    unit: str
    quantity: str
    unit_price: str
    amount: str


@dataclass(frozen=True, slots=True)
class Line:
    """One printed line: an invoice item (or merged adjustments), every field a display string."""

    id: str
    type: str
    label: str
    description: str
    plan: str
    phase: str
    start: str
    end: str
    period: str
    quantity: str
    unit_price: str
    amount: str
    amount_value: Decimal
    tiers: tuple[TierLine, ...] = ()


@dataclass(frozen=True, slots=True)
class Group:
    """The lines of one subscription (or of a bundle's items without one)."""

    subscription_id: str | None
    title: str
    plan: str
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    company: str
    email: str
    phone: str
    address: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Totals:
    """From the invoice: charged (Kill Bill's invoice amount), credit applied/generated (CBA), paid, balance."""

    charged: str
    credit_applied: str
    credit_generated: str
    paid: str
    balance: str
    balance_value: Decimal
    is_credit: bool
    credit: str


@dataclass(frozen=True, slots=True)
class InvoiceView:
    """Everything the invoice template sees (``invoice`` in the Jinja2 template; ``t`` are the labels)."""

    id: str
    number: str
    status: str
    status_label: str
    watermark: str
    currency: str
    locale: str
    lang: str
    page_size: str
    invoice_date: str
    target_date: str
    created_date: str
    account: Party
    company: Party
    groups: tuple[Group, ...]
    other_lines: tuple[Line, ...]
    totals: Totals
    item_count: str
    is_zero: bool
    labels: Mapping[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- building
class CatalogNames:
    """Plan, product and phase display names: the catalog's pretty names, translated by the catalog bundle."""

    def __init__(self, catalog: Catalog | None, bundle: Translator) -> None:
        self.bundle = bundle
        self.plans: dict[str, tuple[str, str]] = {}   # plan -> (pretty, product)
        self.products: dict[str, str] = {}
        self.phases: dict[str, tuple[str, str]] = {}  # phase -> (pretty, type)
        for version in (catalog.versions if catalog else ()):
            for p in version.products:
                self.products[p.name] = p.pretty_name or p.name
            for plan in version.plans:
                self.plans[plan.name] = (plan.pretty_name or plan.name, plan.product)
                for ph in plan.all_phases:
                    self.phases[ph.name] = (ph.pretty_name or ph.name, ph.type.value)

    def _t(self, name: str | None, pretty: str | None) -> str:
        """Kill Bill translates the name, then the pretty name; the key itself when the bundle lacks both."""
        if not name:
            return ""
        if self.bundle.has(name):
            return self.bundle(name)
        shown = pretty or name
        return self.bundle(shown)

    def plan(self, name: str | None) -> str:
        return self._t(name, self.plans.get(name or "", (None, None))[0])

    def product(self, name: str | None) -> str:
        return self._t(name, self.products.get(name or ""))

    def phase_type(self, name: str | None) -> str | None:
        if not name:
            return None
        if name in self.phases:
            return self.phases[name][1]
        suffix = name.rsplit("-", 1)[-1].upper()
        return suffix if suffix in PhaseType.__members__ else None

    def description(self, text: str | None) -> str:
        return self.bundle(text) if text else ""


def _tiers(details: str | None, currency: str, reader: Reader) -> tuple[TierLine, ...]:
    """Kill Bill's usage item details (``{"tierDetails": [{"tier", "tierUnit", "tierPrice", "quantity",
    "amount"}...]}``), shown as they are; anything else is ignored."""
    if not details:
        return ()
    try:
        doc = json.loads(details)
    except ValueError:
        return ()
    rows = doc.get("tierDetails") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        return ()
    out = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        out.append(TierLine(tier=str(row.get("tier", "")), unit=str(row.get("tierUnit") or ""),
                            quantity=number(_dec(row.get("quantity")), reader),
                            unit_price=money(_dec(row.get("tierPrice")), currency, reader, exact=True),
                            amount=money(_dec(row.get("amount")), currency, reader)))
    return tuple(out)


def _dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _line(it: InvoiceItem, reader: Reader, labels: Translator, names: CatalogNames) -> Line:
    cur = it.currency
    phase_type = names.phase_type(it.phase_name)
    phase = labels(f"phaseType.{phase_type}") if phase_type else ""
    plan = names.plan(it.plan_name) if it.plan_name else ""
    label = labels(f"type.{it.type.value}")
    description = names.description(it.description)
    if not description and it.type is T.USAGE and it.usage_name:
        description = names.description(it.usage_name)
    if not description and it.product_name and it.type is not T.RECURRING:
        description = names.product(it.product_name)
    start, end = day(it.start_date, reader), day(it.end_date, reader)
    period = f"{start} – {end}" if start and end else start
    quantity = unit_price = ""
    if it.type is T.USAGE or (it.quantity is not None and it.type is not T.RECURRING):
        quantity = number(it.quantity, reader)
        unit_price = money(it.rate, cur, reader, exact=True) if it.rate is not None else ""
    return Line(id=it.id, type=it.type.value, label=label, description=description, plan=plan, phase=phase,
                start=start, end=end, period=period, quantity=quantity, unit_price=unit_price,
                amount=money(it.amount, cur, reader), amount_value=it.amount,
                tiers=_tiers(it.item_details, cur, reader) if it.type is T.USAGE else ())


def _merged(items: Sequence[InvoiceItem], kind: InvoiceItemType, inv: Invoice) -> InvoiceItem | None:
    """`DefaultInvoiceFormatter.mergeCBAAndCreditAdjustmentItems`: one line per kind, none when it nets to 0."""
    chosen = [it for it in items if it.type is kind]
    if not chosen:
        return None
    total = sum((it.amount for it in chosen), _ZERO)
    if total == 0:
        return None
    first = chosen[0]
    return InvoiceItem(id=first.id, invoice_id=inv.id, account_id=inv.account_id, type=kind,
                       start_date=inv.invoice_date, end_date=None, amount=total, currency=first.currency,
                       description=first.description)


def _page_size(reader: Reader, account: Account) -> str:
    country = (account.country or "").strip().upper()
    territory = reader.java.country or (country if len(country) == 2 else "")
    return "Letter" if territory in LETTER_COUNTRIES else "A4"


def build_view(invoice: Invoice, account: Account, reader: Reader, labels: Translator,
               names: CatalogNames) -> InvoiceView:
    """The view of one invoice for one reader. Pure: no I/O."""
    cur = invoice.currency
    items = sorted(invoice.items, key=lambda it: (it.start_date or date.min, it.type.ordinal))
    by_id = {it.id: it for it in items}
    groups: dict[str, list[InvoiceItem]] = {}
    other: list[InvoiceItem] = []
    for it in items:
        if it.type in (T.CBA_ADJ, T.CREDIT_ADJ):
            continue
        sub = it.subscription_id
        if sub is None and it.linked_item_id in by_id:
            sub = by_id[it.linked_item_id].subscription_id
        if sub is None:
            other.append(it)
        else:
            groups.setdefault(sub, []).append(it)
    group_views = []
    for sub, its in groups.items():
        head = next((it for it in its if it.plan_name), its[0])
        lines = tuple(_line(it, reader, labels, names) for it in its)
        title = names.product(head.product_name) if head.product_name else names.plan(head.plan_name)
        group_views.append(Group(subscription_id=sub, title=title, plan=names.plan(head.plan_name), lines=lines))
    credit_adj = _merged(invoice.items, T.CREDIT_ADJ, invoice)
    other_lines = [_line(it, reader, labels, names) for it in other]
    if credit_adj is not None:
        other_lines.append(_line(credit_adj, reader, labels, names))

    charged = sum((it.amount for it in invoice.items if it.type in CHARGED_TYPES), _ZERO)
    cba = sum((it.amount for it in invoice.items if it.type is T.CBA_ADJ), _ZERO)
    # a draft shows what it will ask for once committed; Kill Bill's balance is 0 until then
    bal = raw_balance(invoice) if invoice.status is InvoiceStatus.DRAFT else balance(invoice)
    totals = Totals(
        charged=money(charged, cur, reader),
        credit_applied=money(cba, cur, reader) if cba < 0 else "",
        credit_generated=money(cba, cur, reader) if cba > 0 else "",
        paid=money(invoice.paid_amount, cur, reader),
        balance=money(bal, cur, reader), balance_value=bal, is_credit=bal < 0,
        credit=money(-bal, cur, reader) if bal < 0 else "",
    )
    address = [a for a in (account.address1, account.address2) if a]
    city = " ".join(x for x in (account.postal_code, account.city) if x)
    if account.state_or_province:
        city = f"{city}, {account.state_or_province}" if city else account.state_or_province
    address += [x for x in (city, account.country) if x]
    company_addr = tuple(x for x in (labels("companyAddress"), labels("companyCityProvincePostalCode"),
                                     labels("companyCountry"), labels("companyUrl")) if x)
    watermark = labels(f"watermark.{invoice.status.value}") if invoice.status is not InvoiceStatus.COMMITTED else ""
    count = len(invoice.items)
    return InvoiceView(
        id=invoice.id, number=str(invoice.invoice_number or ""), status=invoice.status.value,
        status_label=labels(f"status.{invoice.status.value}"), watermark=watermark, currency=cur,
        locale=str(reader.java), lang=reader.lang, page_size=_page_size(reader, account),
        invoice_date=day(invoice.invoice_date, reader), target_date=day(invoice.target_date, reader),
        created_date=instant_day(invoice.created_date, reader),
        account=Party(name=account.name or "", company=account.company_name or "", email=account.email or "",
                      phone=account.phone or "", address=tuple(address)),
        company=Party(name=labels("companyName"), company="", email="", phone="", address=company_addr),
        groups=tuple(group_views), other_lines=tuple(other_lines), totals=totals,
        item_count=plural(labels, "itemCount", count, reader), is_zero=charged == 0 and bal == 0,
        labels=labels.merged(),
    )
