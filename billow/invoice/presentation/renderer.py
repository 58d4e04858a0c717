"""One function: (invoice, account, locale, tenant templates) → HTML.

Kill Bill: ``invoice/.../template/HtmlInvoiceGenerator.generateInvoice`` (the account's locale, the tenant's
invoice translation over the built-in one, the tenant's catalog translation, the tenant's template or the
default, the manual-pay template for MANUAL_PAY accounts). Billow's default template is Jinja2 (autoescape,
sandboxed, loaded from this package only); a tenant's template is Kill Bill's Mustache (see `mustache`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import DictLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from billow.account.model import Account
from billow.catalog.model import Catalog
from billow.invoice.model import Invoice
from billow.invoice.presentation import mustache
from billow.invoice.presentation.bundles import DEFAULT_LOCALE, Translator, built_in, parse_properties
from billow.invoice.presentation.view import CatalogNames, InvoiceView, Reader, build_view, reader_for

DEFAULT_TEMPLATE = "invoice.html.j2"


@dataclass(frozen=True, slots=True)
class TenantTemplates:
    """What a tenant uploaded that this rendering uses (None: not uploaded). Bundles are properties text.

    `template` is INVOICE_TEMPLATE (or INVOICE_MP_TEMPLATE for a manual-pay account), Kill Bill Mustache.
    `invoice_bundle` / `catalog_bundle` are for the reader's locale, the `default_*` ones for en_US
    (Kill Bill's default locale), looked up after the built-in bundle of the reader's language.
    """

    template: str | None = None
    invoice_bundle: str | None = None
    default_invoice_bundle: str | None = None
    catalog_bundle: str | None = None
    default_catalog_bundle: str | None = None


NO_TEMPLATES = TenantTemplates()


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    """The sandboxed Jinja2 environment: autoescape on, strict undefined, our one template, no file loader."""
    text = resources.files(__package__).joinpath("templates", DEFAULT_TEMPLATE).read_text(encoding="utf-8")
    env = ImmutableSandboxedEnvironment(loader=DictLoader({DEFAULT_TEMPLATE: text}),
                                        autoescape=select_autoescape(default=True, default_for_string=True),
                                        undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False)
    env.get_template(DEFAULT_TEMPLATE)  # compile once
    return env


@lru_cache(maxsize=128)
def _bundle(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    try:
        return parse_properties(text)
    except ValueError:  # stored before validation existed: ignored, as Kill Bill ignores a bad stream
        return None


@dataclass(frozen=True, slots=True)
class Prepared:
    reader: Reader
    labels: Translator
    names: CatalogNames
    view: InvoiceView


def prepare(invoice: Invoice, account: Account, *, locale: str | None = None,
            tenant: TenantTemplates = NO_TEMPLATES, catalog: Catalog | None = None) -> Prepared:
    reader = reader_for(account, locale)
    labels = Translator(_bundle(tenant.invoice_bundle), built_in(reader.java.language),
                        _bundle(tenant.default_invoice_bundle), built_in(DEFAULT_LOCALE[:2]))
    names = CatalogNames(catalog, Translator(_bundle(tenant.catalog_bundle), _bundle(tenant.default_catalog_bundle)))
    return Prepared(reader, labels, names, build_view(invoice, account, reader, labels, names))


def render_html(invoice: Invoice, account: Account, *, locale: str | None = None,
                tenant: TenantTemplates = NO_TEMPLATES, catalog: Catalog | None = None, pdf: bool = False) -> str:
    """The invoice as an HTML document: the tenant's Mustache template if it uploaded one, else Billow's.

    `pdf` lays Billow's template out for the PDF renderer (page frames, page numbers).
    """
    p = prepare(invoice, account, locale=locale, tenant=tenant, catalog=catalog)
    if tenant.template:
        return mustache.render(tenant.template,
                               mustache.kill_bill_data(invoice, account, p.reader, p.labels, p.names, p.view))
    return render_default(p.view, pdf=pdf)


def render_default(view: InvoiceView, *, pdf: bool = False) -> str:
    context: dict[str, Any] = {"invoice": view, "t": view.labels, "pdf": pdf}
    return environment().get_template(DEFAULT_TEMPLATE).render(context)
