"""Invoice presentation for a tenant: render an invoice by id, and the tenant's templates and translations.

Reads through the invoice, account and catalog services; stores uploads as tenant key/values
(Kill Bill's ``TenantKV.TenantKey``: INVOICE_TEMPLATE, INVOICE_MP_TEMPLATE, INVOICE_TRANSLATION_<locale>,
CATALOG_TRANSLATION_<locale>) through `TenantService`, which audits them.
Kill Bill: ``jaxrs/.../resources/InvoiceResource.java`` (uploadTemplateResource / getTemplateResource),
``invoice/.../api/user/DefaultInvoiceUserApi.getInvoiceAsHTML``, ``tenant/.../DefaultTenantInternalApi``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from billow.core.context import CallContext
from billow.core.errors import InvalidInput
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

if TYPE_CHECKING:
    from billow.app import Billow

INVOICE_TEMPLATE = "INVOICE_TEMPLATE"
INVOICE_MP_TEMPLATE = "INVOICE_MP_TEMPLATE"
TEMPLATE_KEYS = (INVOICE_TEMPLATE, INVOICE_MP_TEMPLATE)
TRANSLATION_PREFIXES = (INVOICE_TRANSLATION, CATALOG_TRANSLATION)


class ResourceExists(InvalidInput):
    """Kill Bill answers 400 with an empty body when the key is set and deleteIfExists is false."""


class InvoicePresenter:
    def __init__(self, billow: Billow) -> None:
        self.kb = billow

    # -- rendering -----------------------------------------------------------------------------
    def _first(self, ctx: CallContext, key: str) -> str | None:
        values = self.kb.tenants.get_values(ctx, key).values
        return values[0] if values else None

    def tenant_templates(self, ctx: CallContext, locale: str, *, manual_pay: bool = False) -> TenantTemplates:
        java, default = parse_locale(locale), parse_locale(DEFAULT_LOCALE)
        return TenantTemplates(
            template=self._first(ctx, INVOICE_MP_TEMPLATE if manual_pay else INVOICE_TEMPLATE),
            invoice_bundle=self._first(ctx, tenant_key(INVOICE_TRANSLATION, java)),
            default_invoice_bundle=self._first(ctx, tenant_key(INVOICE_TRANSLATION, default)),
            catalog_bundle=self._first(ctx, tenant_key(CATALOG_TRANSLATION, java)),
            default_catalog_bundle=self._first(ctx, tenant_key(CATALOG_TRANSLATION, default)),
        )

    def html(self, ctx: CallContext, invoice_id: str, *, locale: str | None = None, pdf: bool = False) -> str:
        """`getInvoiceAsHTML`. MANUAL_PAY accounts get the manual-pay template once tags exist (none yet)."""
        invoice = self.kb.invoices.get(ctx, invoice_id)
        account = self.kb.accounts.get(ctx, invoice.account_id)
        if locale is not None:
            parse_locale(locale)  # 400 on a malformed locale
        reader = reader_for(account, locale)
        tenant = self.tenant_templates(ctx, str(reader.java))
        catalog = self.kb.catalogs.catalog(ctx)
        return render_html(invoice, account, locale=str(reader.java), tenant=tenant, catalog=catalog, pdf=pdf)

    def pdf(self, ctx: CallContext, invoice_id: str, *, locale: str | None = None) -> bytes:
        return html_to_pdf(self.html(ctx, invoice_id, locale=locale, pdf=True))

    # -- uploads -------------------------------------------------------------------------------
    def get_resource(self, ctx: CallContext, prefix: str, locale: str | None = None) -> str | None:
        """`getTemplateResource`: the stored text, or None (404)."""
        key = prefix if locale is None else tenant_key(prefix, parse_locale(locale))
        return self._first(ctx, key)

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
        if self.kb.tenants.get_values(ctx, key).values and not delete_if_exists:
            raise ResourceExists(f"{key}: a value exists already; pass deleteIfExists=true to replace it")
        self.kb.tenants.add_value(ctx, key, text, replace=True)
