"""The renderer as a pure function: one invoice in en, fr, de and es; escaping; credits, drafts, zero invoices;
catalog translations; Kill Bill Mustache templates and their sandbox."""

from __future__ import annotations

import re
from datetime import date

import pytest

from billow.core.errors import InvalidInput
from billow.invoice.model import InvoiceStatus
from billow.invoice.presentation import mustache
from billow.invoice.presentation.bundles import parse_locale, parse_properties, tenant_key, validate_bundle
from billow.invoice.presentation.renderer import TenantTemplates, prepare, render_html
from tests.invoice.presentation.factory import T, account, invoice, item, subscription_invoice

NNBSP, NBSP = "\u202f", "\xa0"

# What Babel (CLDR) emits; the fr grouping separator is U+202F, the space before € U+00A0.
LOCALES = {
    "en_US": {"total": "€1,234.56", "date": "Mar 1, 2024", "period": "Feb 1, 2024 – Mar 1, 2024",
              "labels": ("Invoice", "Service period", "Balance due", "Usage", "Subscription fee"),
              "tier_price": "€0.025", "qty": "1,400", "count": "4 lines"},
    "fr_FR": {"total": f"1{NNBSP}234,56{NBSP}€", "date": "1 mars 2024", "period": "1 févr. 2024 – 1 mars 2024",
              "labels": ("Facture", "Période de service", "Solde dû", "Consommation", "Abonnement"),
              "tier_price": f"0,025{NBSP}€", "qty": f"1{NNBSP}400", "count": "4 lignes"},
    "de_DE": {"total": f"1.234,56{NBSP}€", "date": "01.03.2024", "period": "01.02.2024 – 01.03.2024",
              "labels": ("Rechnung", "Leistungszeitraum", "Offener Betrag", "Verbrauch", "Abonnementgebühr"),
              "tier_price": f"0,025{NBSP}€", "qty": "1.400", "count": "4 Positionen"},
    "es_ES": {"total": f"1.234,56{NBSP}€", "date": "1 mar 2024", "period": "1 feb 2024 – 1 mar 2024",
              "labels": ("Factura", "Periodo de servicio", "Saldo pendiente", "Consumo", "Cuota de suscripción"),
              "tier_price": f"0,025{NBSP}€", "qty": "1.400", "count": "4 líneas"},
}


def _text(html: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_same_invoice_in_four_locales(locale: str) -> None:
    exp = LOCALES[locale]
    inv = subscription_invoice()
    html = render_html(inv, account(), locale=locale)
    assert f'<html lang="{locale[:2]}">' in html
    for s in (exp["total"], exp["date"], exp["period"], exp["tier_price"], exp["qty"], exp["count"], *exp["labels"]):
        assert s in html, (locale, s)
    view = prepare(inv, account(), locale=locale).view
    (group,) = view.groups
    assert group.title == "Gold" and [line.type for line in group.lines] == ["USAGE", "FIXED", "RECURRING"]
    usage, fixed, recurring = group.lines
    assert (usage.quantity, usage.period, len(usage.tiers)) == (exp["qty"], exp["period"], 2)
    assert usage.tiers[1].unit_price == exp["tier_price"]
    assert recurring.plan == "gold-monthly" and recurring.phase  # phase type translated
    assert [line.description for line in view.other_lines] == ["VAT"]
    assert view.totals.charged == exp["total"] == view.totals.balance


def test_en_us_dollars_and_letter_paper() -> None:
    inv = invoice([item(1, T.EXTERNAL_CHARGE, "1234.56", currency="USD", start=date(2024, 3, 1),
                        description="Consulting")], currency="USD")
    acct = account(locale="en_US", country="US", time_zone="America/New_York")
    html = render_html(inv, acct)
    assert "$1,234.56" in html and "size: Letter" in html
    assert "size: A4" in render_html(inv, account())
    # the invoice's currency, not the reader's: dollars in French
    assert f"1{NNBSP}234,56{NBSP}$US" in render_html(inv, acct, locale="fr_FR")


def test_account_name_with_script_is_escaped() -> None:
    acct = account(name="<script>alert('x')</script>", address1='"><img src=x onerror=alert(1)>')
    html = render_html(subscription_invoice(), acct)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_negative_balance_shows_as_credit() -> None:
    inv = subscription_invoice(paid="1300.00")
    view = prepare(inv, account()).view
    assert view.totals.is_credit and view.totals.credit == f"65,44{NBSP}€"
    html = render_html(inv, account(), locale="en_US")
    assert "Credit balance" in html and "€65.44" in html and "credited to your account" in html
    assert "Balance due</td>" not in html


def test_credit_applied_and_invoice_adjustment_are_merged_lines() -> None:
    inv = invoice([item(1, T.RECURRING, "20.00", start=date(2024, 3, 1), end=date(2024, 4, 1), subscription_id="s",
                        plan_name="silver-monthly", product_name="Silver"),
                   item(2, T.CBA_ADJ, "-5.00", start=date(2024, 3, 1)),
                   item(3, T.CBA_ADJ, "-3.00", start=date(2024, 3, 1)),
                   item(4, T.CREDIT_ADJ, "-2.00", start=date(2024, 3, 1))])
    view = prepare(inv, account(), locale="en_US").view
    assert view.totals.credit_applied == "-€8.00" and view.totals.charged == "€20.00"
    assert [(line.type, line.amount) for line in view.other_lines] == [("CREDIT_ADJ", "-€2.00")]
    assert view.totals.balance == "€10.00"  # from the invoice's balance: 20 - 8 - 2


def test_draft_and_void_are_watermarked_and_zero_invoice_renders() -> None:
    draft = render_html(subscription_invoice(status=InvoiceStatus.DRAFT), account(), locale="de_DE")
    assert 'class="watermark">ENTWURF<' in draft and "Entwurf" in draft
    void = render_html(subscription_invoice(status=InvoiceStatus.VOID), account(), locale="es_ES")
    assert 'class="watermark">ANULADA<' in void
    assert "watermark\">" not in render_html(subscription_invoice(), account())
    zero = render_html(invoice([]), account(), locale="en_US")
    assert "Nothing is due on this invoice." in zero and "0 lines" in zero and "€0.00" in zero


def test_plural_forms_follow_cldr() -> None:
    one = invoice([item(1, T.TAX, "1.00", start=date(2024, 3, 1))])
    assert prepare(one, account(), locale="en_US").view.item_count == "1 line"
    assert prepare(invoice([]), account(), locale="fr_FR").view.item_count == "0 ligne"  # French: 0 is singular


def test_catalog_translation_and_tenant_labels() -> None:
    tenant = TenantTemplates(invoice_bundle="invoiceTitle=Rechnung (Kopie)\nbillTo=An\n",
                             catalog_bundle="gold-monthly = Gold mensuel\nGold=Or\n")
    html = render_html(subscription_invoice(), account(), locale="fr_FR", tenant=tenant)
    assert "Rechnung (Kopie)" in html and ">An<" in html
    assert "Or · Gold mensuel" in html and "Formule: Gold mensuel" in html
    assert "Période de service" in html  # untouched labels still come from the built-in bundle


def test_dates_in_the_account_time_zone() -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    inv = replace(subscription_invoice(), created_date=datetime(2024, 3, 1, 2, 0, tzinfo=UTC))
    assert prepare(inv, account(time_zone="America/Los_Angeles"), locale="en_US").view.created_date == "Feb 29, 2024"
    assert prepare(inv, account(time_zone="Asia/Tokyo"), locale="en_US").view.created_date == "Mar 1, 2024"


# --------------------------------------------------------------------------- Mustache (Kill Bill's templates)
KB_TEMPLATE = """<html><body>
<h1>{{text.invoiceTitle}} INV#{{invoice.invoiceNumber}}</h1>
<p>{{text.invoiceDate}}{{invoice.formattedInvoiceDate}}</p>
<p>{{#account.name}}{{account.name}}<br>{{/account.name}}{{^account.phone}}no phone{{/account.phone}}</p>
<!-- {{#text.properties}}customKey{{/text.properties}} -->
<table>{{#invoice.invoiceItems}}
<tr><td>{{formattedStartDate}}{{#formattedEndDate}} - {{formattedEndDate}}{{/formattedEndDate}}</td>
<td>{{prettyPlanName}}</td><td>{{invoiceItemType}}</td><td>{{formattedAmount}}</td></tr>{{/invoice.invoiceItems}}
</table>
<p>{{text.invoiceAmount}}{{invoice.formattedChargedAmount}} {{invoice.balance}}</p>
</body></html>"""


def test_kill_bill_mustache_template_renders_kill_bill_names() -> None:
    tenant = TenantTemplates(template=KB_TEMPLATE, invoice_bundle="invoiceTitle=Rechnung\ncustomKey=Mein Wert\n")
    html = render_html(subscription_invoice(), account(name="A <b>"), locale="de_DE", tenant=tenant)
    assert "Rechnung INV#1042" in html and "Rechnungsdatum01.03.2024" in html
    assert "A &lt;b&gt;<br>" in html and "no phone" in html and "<!-- Mein Wert -->" in html
    assert "01.03.2024 - 01.04.2024</td>\n<td>gold-monthly</td><td>RECURRING</td>" in html
    assert f"Gesamtbetrag1.234,56{NBSP}€ 1234.56" in html


@pytest.mark.parametrize(("template", "problem"), [
    ("<p>{{#invoice.invoiceItems}}\n{{amount}}\n</p>", "never closed"),
    ("a\nb\n{{#x}}\n{{/y}}", "line 4"),
    ("ok\n{{> /etc/passwd}}", "line 2: partials are not allowed"),
    ("", "empty"),
])
def test_bad_templates_are_refused_with_the_problem(template: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as err:
        mustache.validate(template)
    assert problem in err.value.message


def test_mustache_sandbox_reaches_only_the_data() -> None:
    data = {"account": {"name": "Zoé"}, "items": [{"a": "1"}]}
    out = mustache.render("{{account.name.upper}}|{{account.__class__}}|{{items.0.a}}|{{#account.name.split}}x"
                          "{{/account.name.split}}|{{{account.name}}}", data)
    assert out == "||1||Zoé"
    with pytest.raises(InvalidInput):
        mustache.validate("x" * (mustache.MAX_TEMPLATE_BYTES + 1))


# --------------------------------------------------------------------------- bundles
def test_properties_syntax_like_java() -> None:
    text = "# c\n! c\nkey1 = v1\nkey2:v2\nkey3 v3\nlong = a \\\n    b\nuni=caf\\u00e9\nsp\\ ace=x\nempty=\n"
    assert parse_properties(text) == {"key1": "v1", "key2": "v2", "key3": "v3", "long": "a b", "uni": "café",
                                      "sp ace": "x", "empty": ""}
    with pytest.raises(InvalidInput, match="line 2: malformed"):
        validate_bundle(b"a=1\nb=\\u00zz\n")
    with pytest.raises(InvalidInput, match="line 2: not UTF-8"):
        validate_bundle(b"a=1\nb=\xff\n")


def test_locales_and_tenant_keys_like_kill_bill() -> None:
    assert tenant_key("INVOICE_TRANSLATION_", parse_locale("fr_FR")) == "INVOICE_TRANSLATION_fr_FR"
    assert tenant_key("CATALOG_TRANSLATION_", parse_locale("de")) == "CATALOG_TRANSLATION_de_"
    for bad in ("FR", "fr-FR", "f", "fr_fr", "french"):
        with pytest.raises(InvalidInput, match="Invalid locale format"):
            parse_locale(bad)
