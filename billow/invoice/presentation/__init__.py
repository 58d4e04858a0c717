"""Invoices people read: HTML (Billow's Jinja2 default or a tenant's Kill Bill Mustache template) and PDF,
in the account's language, with per-tenant templates and translations.

Below REST, above nothing but the invoice, account, catalog and tenant services' read APIs.
Kill Bill: ``invoice/src/main/java/org/killbill/billing/invoice/template/``.
"""

from billow.invoice.presentation.renderer import TenantTemplates, render_html
from billow.invoice.presentation.view import InvoiceView

__all__ = ["InvoiceView", "TenantTemplates", "render_html"]
