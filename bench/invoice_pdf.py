"""Invoice rendering time: HTML (Billow's Jinja2 template) and PDF (xhtml2pdf), per invoice, no database.

Renders N invoices of ITEMS lines each (subscription fees, a usage item with tiers, a tax line; the
reader's locale rotates through en_US, fr_FR, de_DE, es_ES) and prints the mean and p95 per invoice,
plus pages per PDF.

    python bench/invoice_pdf.py [N] [ITEMS]      # default 20 invoices of 12 lines
"""

from __future__ import annotations

import io
import math
import statistics
import sys
import time
from datetime import date
from decimal import Decimal

from pypdf import PdfReader

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))  # the repo's tests package

from billow.invoice.presentation.pdf import html_to_pdf  # noqa: E402
from billow.invoice.presentation.renderer import render_html  # noqa: E402
from tests.invoice.presentation.factory import T, account, invoice, item, subscription_invoice  # noqa: E402

LOCALES = ("en_US", "fr_FR", "de_DE", "es_ES")


def make(items: int):  # type: ignore[no-untyped-def]
    base = list(subscription_invoice().items)
    extra = [item(100 + i, T.RECURRING, f"{10 + i}.50", start=date(2024, 3, 1), end=date(2024, 4, 1),
                  subscription_id=f"sub-{2 + i % 5}", product_name="Seat", plan_name="seat-monthly",
                  phase_name="seat-monthly-evergreen", rate=Decimal(f"{10 + i}.50"))
             for i in range(max(0, items - len(base)))]
    return invoice(base + extra)


def p95(xs: list[float]) -> float:
    """The nearest-rank 95th percentile (the largest of fewer than 20 values)."""
    return sorted(xs)[max(0, math.ceil(len(xs) * 0.95) - 1)]


def main(n: int, items: int) -> None:
    inv, acct = make(items), account()
    render_html(inv, acct)  # warm the template and bundle caches
    html_times, pdf_times, pages = [], [], 0
    for i in range(n):
        locale = LOCALES[i % len(LOCALES)]
        t0 = time.perf_counter()
        html = render_html(inv, acct, locale=locale, pdf=True)
        t1 = time.perf_counter()
        pdf = html_to_pdf(html)
        t2 = time.perf_counter()
        html_times.append(t1 - t0)
        pdf_times.append(t2 - t0)
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
    print(f"{n} invoices of {len(inv.items)} items, {pages} page(s) each")
    print(f"HTML: mean {statistics.mean(html_times) * 1000:.1f} ms, p95 {p95(html_times) * 1000:.1f} ms per invoice")
    print(f"PDF (HTML + layout): mean {statistics.mean(pdf_times) * 1000:.1f} ms, "
          f"p95 {p95(pdf_times) * 1000:.1f} ms per invoice")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20, int(sys.argv[2]) if len(sys.argv) > 2 else 12)
