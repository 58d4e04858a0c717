"""Kill Bill's invoice templates are Mustache: a sandboxed Mustache renderer and Kill Bill's template data.

Kill Bill renders ``HtmlInvoiceTemplate.mustache`` (``util/src/main/resources/.../invoice/templates/``) with
mustache.java over ``text`` (``DefaultInvoiceTranslator``: the translation bundle, plus the ``properties``
lambda), ``account`` (the ``Account`` getters) and ``invoice`` (``DefaultInvoiceFormatter``, its items
``DefaultInvoiceItemFormatter``), see ``invoice/.../template/HtmlInvoiceGenerator.java``. The same names
are offered here, so that a Kill Bill user's template keeps working.

The parser is chevron's tokenizer; rendering is ours, so that a template reaches nothing but the data
handed to it: names resolve in mappings and lists only (never through Python attributes), partials are
refused (no file system), only our own lambdas are callable, and the output size is bounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from decimal import Decimal
from functools import lru_cache
from html import escape
from typing import Any

from chevron.tokenizer import ChevronError, tokenize

from billow.account.model import Account
from billow.core.errors import InvalidInput
from billow.core.money import round_money
from billow.invoice.credit import balance
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType
from billow.invoice.presentation.bundles import Translator, uploaded_text
from billow.invoice.presentation.view import (
    CHARGED_TYPES,
    CatalogNames,
    InvoiceView,
    Reader,
    _merged,
    day,
    instant_day,
    money,
    number,
)

MAX_TEMPLATE_BYTES = 512 * 1024
MAX_OUTPUT_CHARS = 20_000_000


class MustacheError(ValueError):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


class Lambda:
    """A Mustache lambda of ours: renders its section, then maps the text (only these are ever called)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[str], str]) -> None:
        self.fn = fn


# --------------------------------------------------------------------------- parsing
# A node: ("text", s) | ("var", key, escaped) | ("section", key, children) | ("inverted", key, children)
Node = tuple[Any, ...]


def _line_of(template: str, pattern: str) -> int | None:
    m = re.search(pattern, template)
    return template.count("\n", 0, m.start()) + 1 if m else None


def _error_line(template: str, error: str) -> int | None:
    """Where chevron's error is (its own line count drifts on standalone tags): the offending tag's line."""
    closing = re.match(r'Trying to close tag "(.*?)"', error)
    if closing:
        return _line_of(template, r"\{\{\s*/\s*" + re.escape(closing.group(1).strip()) + r"\s*\}\}")
    unclosed = re.search(r'the tag "(.*?)" was never closed', error)
    if unclosed:
        hits = list(re.finditer(r"\{\{\s*[#^]\s*" + re.escape(unclosed.group(1).strip()) + r"\s*\}\}", template))
        return template.count("\n", 0, hits[-1].start()) + 1 if hits else None
    return None


@lru_cache(maxsize=64)
def parse(template: str) -> tuple[Node, ...]:
    """The template as a tree; `MustacheError` naming the problem and its line when it does not compile."""
    stack: list[tuple[str, str, list[Node]]] = [("root", "", [])]
    try:
        for tag, key in tokenize(template):
            children = stack[-1][2]
            if tag == "literal":
                children.append(("text", key))
            elif tag == "variable":
                children.append(("var", key.strip(), True))
            elif tag == "no escape":
                children.append(("var", key.strip(), False))
            elif tag in ("section", "inverted section"):
                stack.append(("section" if tag == "section" else "inverted", key.strip(), []))
            elif tag == "end":
                kind, name, body = stack.pop()
                stack[-1][2].append((kind, name, tuple(body)))
            elif tag == "partial":
                line = _line_of(template, r"\{\{\s*>\s*" + re.escape(key.strip()))
                raise MustacheError(f"partials are not allowed ('{{{{> {key.strip()}}}}}'): a template is one "
                                    "document and reads no file", line)
            # comments and set-delimiter tags produce nothing
    except ChevronError as exc:
        text = str(exc).replace("\n", "; ")
        m = re.search(r"(?:was opened at )?line (\d+)", text)
        message = text.replace(m.group(0), "").strip("; ") if m else text
        raise MustacheError(message, _error_line(template, str(exc)) or (int(m.group(1)) if m else None)) from None
    except (IndexError, KeyError, ValueError) as exc:  # chevron on input it does not expect
        raise MustacheError(f"the template does not compile ({type(exc).__name__}: {exc})") from None
    if len(stack) != 1:  # pragma: no cover - chevron reports unclosed sections itself
        raise MustacheError(f"section '{stack[-1][1]}' is never closed")
    return tuple(stack[0][2])


def validate(template: bytes | str) -> str:
    """An uploaded Mustache template: UTF-8, within the size limit, compiles; 400 naming the problem otherwise."""
    text = uploaded_text(template, "template", "the template", MAX_TEMPLATE_BYTES)
    try:
        parse(text)
    except MustacheError as exc:
        raise InvalidInput(f"template: {exc}") from None
    return text


# --------------------------------------------------------------------------- rendering
_MISSING = object()


def _lookup(key: str, scopes: Sequence[Any]) -> Any:
    """Mustache name resolution over mappings and lists only: the first part through the scope stack,
    the rest inside what it found."""
    if key == ".":
        return scopes[-1]
    first, *rest = key.split(".")
    value: Any = _MISSING
    for scope in reversed(scopes):
        if isinstance(scope, Mapping) and first in scope:
            value = scope[first]
            break
    if value is _MISSING:
        return None
    for part in rest:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _truthy(value: Any) -> bool:
    """mustache.java's idea of a section condition: null, false, "" and empty lists are false."""
    if value is None or value is False:
        return False
    if isinstance(value, (str, list, tuple, Mapping)):
        return len(value) > 0
    return True


def _text(value: Any) -> str:
    if value is None or isinstance(value, (Mapping, list, tuple, Lambda)):
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


class _Out:
    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def write(self, s: str) -> None:
        self.size += len(s)
        if self.size > MAX_OUTPUT_CHARS:
            raise MustacheError(f"the rendered invoice is over {MAX_OUTPUT_CHARS} characters")
        self.parts.append(s)


def _render(nodes: Sequence[Node], scopes: list[Any], out: _Out) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.write(node[1])
        elif kind == "var":
            s = _text(_lookup(node[1], scopes))
            out.write(escape(s, quote=True) if node[2] else s)
        elif kind == "section":
            value = _lookup(node[1], scopes)
            if isinstance(value, Lambda):
                inner = _Out()
                _render(node[2], scopes, inner)
                out.write(escape(value.fn("".join(inner.parts)), quote=True))
            elif not _truthy(value):
                continue
            elif isinstance(value, (list, tuple)):
                for element in value:
                    scopes.append(element)
                    _render(node[2], scopes, out)
                    scopes.pop()
            else:
                scopes.append(value)
                _render(node[2], scopes, out)
                scopes.pop()
        elif kind == "inverted" and not _truthy(_lookup(node[1], scopes)):
            _render(node[2], scopes, out)


def render(template: str, data: Mapping[str, Any]) -> str:
    out = _Out()
    _render(parse(template), [data], out)
    return "".join(out.parts)


# --------------------------------------------------------------------------- Kill Bill's data
def _amount(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else str(round_money(value, currency))


def _iso(d: Any) -> str | None:
    return None if d is None else d.isoformat()


def _item(it: InvoiceItem, reader: Reader, names: CatalogNames) -> dict[str, Any]:
    """`DefaultInvoiceItemFormatter`: names translated through the catalog bundle; dates medium-formatted."""
    pretty_plan = names.plan(it.plan_name) if it.plan_name else ""
    return {
        "id": it.id, "invoiceId": it.invoice_id, "accountId": it.account_id, "childAccountId": it.child_account_id,
        "bundleId": it.bundle_id, "subscriptionId": it.subscription_id, "linkedItemId": it.linked_item_id,
        "invoiceItemType": it.type.value, "currency": it.currency,
        "amount": _amount(it.amount, it.currency), "formattedAmount": money(it.amount, it.currency, reader),
        "description": names.description(it.description),
        "startDate": _iso(it.start_date), "endDate": _iso(it.end_date),
        "formattedStartDate": day(it.start_date, reader) or None,
        "formattedEndDate": day(it.end_date, reader) or None,
        "productName": names.bundle(it.product_name) if it.product_name else "",
        "prettyProductName": names.product(it.product_name) if it.product_name else "",
        "planName": names.bundle(it.plan_name) if it.plan_name else "", "prettyPlanName": pretty_plan,
        "phaseName": names.bundle(it.phase_name) if it.phase_name else "",
        "prettyPhaseName": names.bundle(it.phase_name) if it.phase_name else "",
        "usageName": names.bundle(it.usage_name) if it.usage_name else "",
        "prettyUsageName": names.bundle(it.usage_name) if it.usage_name else "",
        "rate": None if it.rate is None else str(it.rate),
        "formattedRate": money(it.rate, it.currency, reader, exact=True) if it.rate is not None else None,
        "quantity": None if it.quantity is None else str(it.quantity),
        "formattedQuantity": number(it.quantity, reader) if it.quantity is not None else None,
        "itemDetails": it.item_details, "catalogEffectiveDate": _iso(it.catalog_effective_date),
        "createdDate": _iso(it.created_date),
    }


def account_data(a: Account) -> dict[str, Any]:
    """``account`` as Kill Bill's templates see it (the `Account` getters)."""
    return _account(a)


def _account(a: Account) -> dict[str, Any]:
    return {
        "id": a.id, "externalKey": a.external_key, "name": a.name, "firstNameLength": a.first_name_length,
        "email": a.email, "billCycleDayLocal": a.bill_cycle_day_local, "currency": a.currency,
        "parentAccountId": a.parent_account_id, "isPaymentDelegatedToParent": a.is_payment_delegated_to_parent,
        "paymentDelegatedToParent": a.is_payment_delegated_to_parent, "paymentMethodId": a.payment_method_id,
        "referenceTime": _iso(a.reference_time), "timeZone": a.time_zone, "locale": a.locale,
        "address1": a.address1, "address2": a.address2, "companyName": a.company_name, "city": a.city,
        "stateOrProvince": a.state_or_province, "country": a.country, "postalCode": a.postal_code,
        "phone": a.phone, "notes": a.notes, "isMigrated": a.migrated, "migrated": a.migrated,
    }


def kill_bill_data(invoice: Invoice, account: Account, reader: Reader, labels: Translator, names: CatalogNames,
                   view: InvoiceView) -> dict[str, Any]:
    """``text``, ``account`` and ``invoice`` as Kill Bill's template sees them (plus Billow's ``billow`` view)."""
    cur = invoice.currency
    kept = [it for it in invoice.items if it.type not in (InvoiceItemType.CBA_ADJ, InvoiceItemType.CREDIT_ADJ)]
    for kind in (InvoiceItemType.CBA_ADJ, InvoiceItemType.CREDIT_ADJ):
        merged = _merged(invoice.items, kind, invoice)
        if merged is not None:
            kept.append(merged)
    charged = sum((it.amount for it in invoice.items if it.type in CHARGED_TYPES), Decimal(0))
    bal = balance(invoice)
    credited = sum((it.amount for it in invoice.items if it.type is InvoiceItemType.CBA_ADJ), Decimal(0))
    inv = {
        "id": invoice.id, "invoiceNumber": invoice.invoice_number or 0, "accountId": invoice.account_id,
        "invoiceItems": [_item(it, reader, names) for it in kept], "numberOfItems": len(invoice.items),
        "trackingIds": [], "payments": [], "numberOfPayments": 0,
        "currency": cur, "status": invoice.status.value,
        "invoiceDate": _iso(invoice.invoice_date), "targetDate": _iso(invoice.target_date),
        "formattedInvoiceDate": day(invoice.invoice_date, reader),
        "formattedTargetDate": day(invoice.target_date, reader),
        "createdDate": _iso(invoice.created_date), "formattedCreatedDate": instant_day(invoice.created_date, reader),
        "chargedAmount": _amount(charged, cur), "originalChargedAmount": _amount(charged, cur),
        "paidAmount": _amount(invoice.paid_amount, cur), "balance": _amount(bal, cur),
        "creditedAmount": _amount(credited, cur), "refundedAmount": _amount(Decimal(0), cur),
        "formattedChargedAmount": money(charged, cur, reader), "formattedPaidAmount": money(invoice.paid_amount,
                                                                                            cur, reader),
        "formattedBalance": money(bal, cur, reader),
        "processedCurrency": None, "processedPaymentRate": None,
        "migrationInvoice": invoice.migrated, "isMigrationInvoice": invoice.migrated,
        "parentInvoice": invoice.is_parent_invoice, "isParentInvoice": invoice.is_parent_invoice,
        "parentAccountId": invoice.parent_account_id, "parentInvoiceId": invoice.parent_invoice_id,
    }
    text: dict[str, Any] = labels.merged()
    text["properties"] = Lambda(lambda key: labels(key.strip()))
    return {"text": text, "account": _account(account), "invoice": inv, "billow": _view_dict(view)}


def _view_dict(view: Any) -> Any:
    """The Billow view as plain mappings and lists (what `_lookup` can walk)."""
    if is_dataclass(view):
        return {f.name: _view_dict(getattr(view, f.name)) for f in fields(view)}
    if isinstance(view, (list, tuple)):
        return [_view_dict(v) for v in view]
    if isinstance(view, Mapping):
        return dict(view)
    return view
