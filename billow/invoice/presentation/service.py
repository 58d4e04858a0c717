"""Invoice presentation for a tenant: render an invoice by id, and the tenant's templates and translations.

Reads through the invoice, account and catalog services; stores uploads as tenant key/values
(Kill Bill's ``TenantKV.TenantKey``: INVOICE_TEMPLATE, INVOICE_MP_TEMPLATE, INVOICE_TRANSLATION_<locale>,
CATALOG_TRANSLATION_<locale>) through `TenantService`, which audits them.
Kill Bill: ``jaxrs/.../resources/InvoiceResource.java`` (uploadTemplateResource / getTemplateResource),
``invoice/.../api/user/DefaultInvoiceUserApi.getInvoiceAsHTML``, ``tenant/.../DefaultTenantInternalApi``.
"""

from __future__ import annotations

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.catalog.internal import CatalogInternalApi
from billow.core.context import CallContext
from billow.core.db import Database, UnitOfWork
from billow.core.errors import InvalidInput
from billow.invoice.internal import InvoiceInternalApi
from billow.invoice.model import Invoice
from billow.invoice.presentation import mustache
from billow.invoice.presentation.bundles import (
    CATALOG_TRANSLATION,
    DEFAULT_LOCALE,
    INVOICE_TRANSLATION,
    parse_locale,
    tenant_key,
    validate_bundle,
)
from billow.invoice.presentation.pdf import html_to_pdf
from billow.invoice.presentation.renderer import TenantTemplates, render_html
from billow.invoice.presentation.view import reader_for
from billow.tag.internal import TagInternalApi
from billow.tag.model import MANUAL_PAY
from billow.tenant.internal import TenantInternalApi

INVOICE_TEMPLATE = "INVOICE_TEMPLATE"
INVOICE_MP_TEMPLATE = "INVOICE_MP_TEMPLATE"
TEMPLATE_KEYS = (INVOICE_TEMPLATE, INVOICE_MP_TEMPLATE)
TRANSLATION_PREFIXES = (INVOICE_TRANSLATION, CATALOG_TRANSLATION)


class ResourceExists(InvalidInput):
    """Kill Bill answers 400 with an empty body when the key is set and deleteIfExists is false."""


class InvoicePresenter:
    def __init__(self, db: Database, invoices: InvoiceInternalApi, accounts: AccountInternalApi,
                 catalogs: CatalogInternalApi, tenants: TenantInternalApi, tags: TagInternalApi) -> None:
        self.db = db
        self.invoices = invoices
        self.accounts = accounts
        self.catalogs = catalogs
        self.tenants = tenants
        self.tags = tags

    # -- rendering -----------------------------------------------------------------------------
    def tenant_templates(self, uow: UnitOfWork, locale: str, *, manual_pay: bool = False) -> TenantTemplates:
        java, default = parse_locale(locale), parse_locale(DEFAULT_LOCALE)
        first = self.tenants.first_value
        return TenantTemplates(
            template=first(uow, INVOICE_MP_TEMPLATE if manual_pay else INVOICE_TEMPLATE),
            invoice_bundle=first(uow, tenant_key(INVOICE_TRANSLATION, java)),
            default_invoice_bundle=first(uow, tenant_key(INVOICE_TRANSLATION, default)),
            catalog_bundle=first(uow, tenant_key(CATALOG_TRANSLATION, java)),
            default_catalog_bundle=first(uow, tenant_key(CATALOG_TRANSLATION, default)),
        )

    def html(self, ctx: CallContext, invoice_id: str, *, locale: str | None = None, pdf: bool = False) -> str:
        """`getInvoiceAsHTML`: accounts tagged MANUAL_PAY get the tenant's manual-pay template (INVOICE_MP_TEMPLATE;
        Billow's default when there is none, as Kill Bill's default manual-pay template is its default one)."""
        if locale is not None:
            parse_locale(locale)  # 400 on a malformed locale
        with self.db.read(ctx) as uow:
            invoice = self.invoices.get(uow, invoice_id)
            return self.html_in(uow, invoice, self.accounts.get(uow, invoice.account_id), locale=locale, pdf=pdf)

    def html_in(self, uow: UnitOfWork, invoice: Invoice, account: Account, *, locale: str | None = None,
                pdf: bool = False) -> str:
        """`html` in the caller's unit of work, for an invoice it has read."""
        reader = reader_for(account, locale)
        manual_pay = MANUAL_PAY in self.tags.control_tags(uow, [account.record_id])[account.record_id]
        tenant = self.tenant_templates(uow, str(reader.java), manual_pay=manual_pay)
        return render_html(invoice, account, locale=str(reader.java), tenant=tenant, catalog=self.catalogs.catalog(uow),
                           pdf=pdf)

    def pdf(self, ctx: CallContext, invoice_id: str, *, locale: str | None = None) -> bytes:
        return html_to_pdf(self.html(ctx, invoice_id, locale=locale, pdf=True))

    # -- uploads -------------------------------------------------------------------------------
    def get_resource(self, ctx: CallContext, prefix: str, locale: str | None = None) -> str | None:
        """`getTemplateResource`: the stored text, or None (404)."""
        key = prefix if locale is None else tenant_key(prefix, parse_locale(locale))
        with self.db.read(ctx) as uow:
            return self.tenants.first_value(uow, key)

    def upload_template(self, ctx: CallContext, key: str, body: bytes, *, delete_if_exists: bool) -> str:
        """INVOICE_TEMPLATE / INVOICE_MP_TEMPLATE: a Mustache template that compiles, within the size limit."""
        text = mustache.validate(body)
        self._store(ctx, key, text, delete_if_exists)
        return text

    def upload_translation(self, ctx: CallContext, prefix: str, locale: str, body: bytes, *,
                           delete_if_exists: bool) -> str:
        """INVOICE_TRANSLATION_ / CATALOG_TRANSLATION_ + locale: a properties bundle (Kill Bill parses it
        with ``PropertyResourceBundle`` first and fails on a bad stream)."""
        java = parse_locale(locale)
        validate_bundle(body)
        text = body.decode("utf-8")
        self._store(ctx, tenant_key(prefix, java), text, delete_if_exists)
        return text

    def _store(self, ctx: CallContext, key: str, text: str, delete_if_exists: bool) -> None:
        with self.db.transaction(ctx) as uow:
            if self.tenants.values(uow, key) and not delete_if_exists:
                raise ResourceExists(f"{key}: a value exists already; pass deleteIfExists=true to replace it")
            self.tenants.add_value(uow, key, text, replace=True)
