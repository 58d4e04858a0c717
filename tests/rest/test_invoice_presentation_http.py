"""Kill Bill's template and translation endpoints, `/invoices/{id}/html` and `/pdf`, over HTTP, on real invoices
(both databases through the `kb` fixture)."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from tests.conftest import KB, ServerThread, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text()
NNBSP, NBSP = "\u202f", "\xa0"
HTML = {"Content-Type": "text/html"}
TEXT = {"Content-Type": "text/plain"}


def _tenant(server: ServerThread) -> KB:
    key = f"k-{uuid.uuid4().hex[:12]}"
    r = httpx.post(f"{server.base_url}/1.0/kb/tenants", auth=("admin", "password"),
                   headers={"X-Killbill-CreatedBy": "tests"}, json={"apiKey": key, "apiSecret": "s3cret"})
    assert r.status_code == 201, r.text
    return KB(server.base_url, key, "s3cret")


@pytest.fixture()
def other(server: ServerThread) -> Iterator[KB]:
    client = _tenant(server)
    yield client
    client.http.close()


def _account(kb: KB, **fields: object) -> str:
    body = {"name": "Zoé Martin", "currency": "EUR", "locale": "fr_FR", "timeZone": "Europe/Paris", **fields}
    r = kb.post("/1.0/kb/accounts", json=body)
    assert r.status_code == 201, r.text
    return id_from_location(r)


def _charges(kb: KB, account: str, amounts: list[str], **params: str) -> str:
    body = [{"accountId": account, "amount": a, "description": f"Service {i + 1}"} for i, a in enumerate(amounts)]
    r = kb.post(f"/1.0/kb/invoices/charges/{account}", params={"autoCommit": "true", **params}, json=body)
    assert r.status_code == 200, r.text
    return str(r.json()[0]["invoiceId"])


def _subscription_invoice(kb: KB, **account_fields: object) -> str:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-01-15T10:00:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    account = _account(kb, currency="USD", **account_fields)
    kb.post("/1.0/kb/subscriptions", json={"accountId": account, "planName": "silver-monthly"}).raise_for_status()
    kb.get("/1.0/kb/test/queues", params={"timeoutSec": 10})
    invoices = kb.get(f"/1.0/kb/accounts/{account}/invoices").json()
    assert len(invoices) == 1
    return str(invoices[0]["invoiceId"])


def _text(html: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html))


EXPECTED = {  # what Babel emits for 1234.56 EUR and the invoice date, and two labels
    "en_US": ("€1,234.56", "Invoice", "Balance due"),
    "fr_FR": (f"1{NNBSP}234,56{NBSP}€", "Facture", "Solde dû"),
    "de_DE": (f"1.234,56{NBSP}€", "Rechnung", "Offener Betrag"),
    "es_ES": (f"1.234,56{NBSP}€", "Factura", "Saldo pendiente"),
}


def test_html_of_one_invoice_in_four_locales(kb: KB) -> None:
    account = _account(kb, name="<script>alert(1)</script>")
    invoice = _charges(kb, account, ["1000.00", "234.56"])
    r = kb.get(f"/1.0/kb/invoices/{invoice}/html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert f"1{NNBSP}234,56{NBSP}€" in r.text and "Service 1" in r.text and f"1{NNBSP}000,00{NBSP}€" in r.text
    assert "<script>alert" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    for locale, (total, title, balance) in EXPECTED.items():
        html = kb.get(f"/1.0/kb/invoices/{invoice}/html", params={"locale": locale}).text
        assert total in html and f"<h1>{title}</h1>" in html and balance in html, locale
        assert "Service 2" in html and f'lang="{locale[:2]}"' in html
    assert kb.get(f"/1.0/kb/invoices/{invoice}/html", params={"locale": "fr-FR"}).status_code == 400
    assert kb.get(f"/1.0/kb/invoices/{uuid.uuid4()}/html").status_code == 404


def test_subscription_invoice_groups_by_subscription_with_localised_dates(kb: KB) -> None:
    invoice = _subscription_invoice(kb)
    fr = _text(kb.get(f"/1.0/kb/invoices/{invoice}/html").text)
    assert f"15 janv. 2024 – 15 févr. 2024 Abonnement Formule: silver-monthly · Phase: Standard 20,00{NBSP}$US" in fr
    de = _text(kb.get(f"/1.0/kb/invoices/{invoice}/html", params={"locale": "de_DE"}).text)
    assert f"15.01.2024 – 15.02.2024 Abonnementgebühr Tarif: silver-monthly · Phase: Standard 20,00{NBSP}$" in de
    # a catalog translation renames the plan and the product
    r = kb.post("/1.0/kb/invoices/catalogTranslation/fr_FR", content="silver-monthly=Argent mensuel\nSilver=Argent\n",
                headers=TEXT)
    assert r.status_code == 201 and r.headers["location"].endswith("/1.0/kb/invoices/catalogTranslation/fr_FR")
    fr = _text(kb.get(f"/1.0/kb/invoices/{invoice}/html").text)
    assert "Argent · Argent mensuel" in fr and "Formule: Argent mensuel" in fr


def test_mustache_template_is_used_for_its_tenant_only(kb: KB, other: KB) -> None:
    template = ("<html><body><h1>ACME {{text.invoiceTitle}} #{{invoice.invoiceNumber}}</h1>{{#invoice.invoiceItems}}"
                "<p>{{description}}={{formattedAmount}}</p>{{/invoice.invoiceItems}}"
                "<p>{{text.invoiceBalance}} {{invoice.formattedBalance}} {{account.name}}</p></body></html>")
    assert kb.get("/1.0/kb/invoices/template").status_code == 404
    r = kb.post("/1.0/kb/invoices/template", content=template, headers=HTML)
    assert r.status_code == 201 and r.headers["location"].endswith("/1.0/kb/invoices/template")
    got = kb.get("/1.0/kb/invoices/template")
    assert got.status_code == 200 and got.text == template and got.headers["content-type"].startswith("text/html")
    mine = _charges(kb, _account(kb), ["12.50"])
    html = kb.get(f"/1.0/kb/invoices/{mine}/html").text
    assert html.startswith("<html><body><h1>ACME Facture #") and f"<p>Service 1=12,50{NBSP}€</p>" in html
    theirs = _charges(other, _account(other), ["12.50"])
    assert "ACME" not in other.get(f"/1.0/kb/invoices/{theirs}/html").text
    assert other.get("/1.0/kb/invoices/template").status_code == 404
    # the uploaded invoice translation is used by the template
    r = kb.post("/1.0/kb/invoices/translation/fr_FR", content="invoiceTitle=Note d'honoraires\n", headers=TEXT)
    assert r.status_code == 201
    assert kb.get("/1.0/kb/invoices/translation/fr_FR").text == "invoiceTitle=Note d'honoraires\n"
    assert "ACME Note d&#x27;honoraires #" in kb.get(f"/1.0/kb/invoices/{mine}/html").text
    # uploads are audited in the tenant key/value store
    kv = kb.get("/1.0/kb/tenants/userKeyValue/INVOICE_TEMPLATE")
    if kv.status_code == 200:  # Kill Bill's TenantKV read-back, where the tenant routes offer it
        assert kv.json()["values"] == [template]


def test_existing_resource_needs_delete_if_exists(kb: KB) -> None:
    assert kb.post("/1.0/kb/invoices/template", content="<p>one</p>", headers=HTML).status_code == 201
    again = kb.post("/1.0/kb/invoices/template", content="<p>two</p>", headers=HTML)
    assert again.status_code == 400 and "deleteIfExists" in again.text
    assert kb.get("/1.0/kb/invoices/template").text == "<p>one</p>"
    replaced = kb.post("/1.0/kb/invoices/template", params={"deleteIfExists": "true"}, content="<p>two</p>",
                       headers=HTML)
    assert replaced.status_code == 201 and kb.get("/1.0/kb/invoices/template").text == "<p>two</p>"
    # manual-pay template: POST without a locale, GET with one (ignored), Location on the default locale
    mp = kb.post("/1.0/kb/invoices/manualPayTemplate", content="<p>mp</p>", headers=HTML)
    assert mp.status_code == 201 and mp.headers["location"].endswith("/1.0/kb/invoices/manualPayTemplate/en_US")
    assert kb.get("/1.0/kb/invoices/manualPayTemplate/fr_FR").text == "<p>mp</p>"
    assert kb.post("/1.0/kb/invoices/translation/de", content="a=b", headers=TEXT).status_code == 201
    assert kb.get("/1.0/kb/invoices/translation/de").text == "a=b"
    assert kb.post("/1.0/kb/invoices/translation/de", content="a=c", headers=TEXT).status_code == 400


@pytest.mark.parametrize(("path", "body", "problem"), [
    ("/1.0/kb/invoices/template", "<p>\n{{#invoice.invoiceItems}}\n<b>{{amount}}</b>\n", "line 2: "),
    ("/1.0/kb/invoices/template", "<p>\n{{> /etc/passwd}}</p>", "line 2: partials are not allowed"),
    ("/1.0/kb/invoices/manualPayTemplate", "a\n{{#x}}b{{/y}}", "line 2"),
    ("/1.0/kb/invoices/template", "", "empty"),
    ("/1.0/kb/invoices/translation/fr_FR", "ok=1\nbad=\\u12G4\n", "line 2: malformed \\uxxxx"),
    ("/1.0/kb/invoices/catalogTranslation/fr_FR", "", "empty"),
    ("/1.0/kb/invoices/translation/french", "a=b", "Invalid locale format: french"),
])
def test_bad_uploads_are_refused_and_nothing_is_stored(kb: KB, path: str, body: str, problem: str) -> None:
    r = kb.post(path, content=body.encode(), headers=TEXT)
    assert r.status_code == 400 and problem in r.json()["message"], r.text
    read = path.replace("manualPayTemplate", "manualPayTemplate/en_US")
    assert kb.get(read).status_code in (404, 400)
    assert kb.post("/1.0/kb/invoices/template", content=b"x" * (1024 * 1024 + 1), headers=HTML).status_code == 400
    assert kb.get("/1.0/kb/invoices/template").status_code == 404


def test_pdf_of_a_sixty_item_invoice(kb: KB) -> None:
    account = _account(kb)
    invoice = _charges(kb, account, [f"{i}.25" for i in range(1, 61)])
    r = kb.get(f"/1.0/kb/invoices/{invoice}/pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content[:5] == b"%PDF-"
    pages = PdfReader(io.BytesIO(r.content)).pages
    texts = [p.extract_text() for p in pages]
    n = len(pages)
    assert n == 2  # A4, ReportLab's Helvetica metrics: the 60 lines and the totals take two pages
    for i, text in enumerate(texts, start=1):
        assert f"Page {i} sur {n}" in text
    everything = "\n".join(texts)
    assert all(everything.count(f"Service {i}\n") == 1 for i in range(1, 61))
    last = re.sub(r"[\s\u202f\xa0]+", " ", texts[-1])
    assert "Total 1 845,00 €" in last and "Solde dû 1 845,00 €" in last and "Montant payé 0,00 €" in last
    assert "Service 60" in last and "Service 1\n" in texts[0]
