"""HTML → PDF with xhtml2pdf (pure Python on ReportLab: no system libraries to install).

Beyond Kill Bill (which renders HTML only). Missing library → `PdfUnavailable`, which the REST layer
answers with 501 and a message saying what to install.
"""

from __future__ import annotations

import io
import logging

from billow.core.errors import BillowError


class PdfUnavailable(BillowError):
    status = 501
    class_name = "java.lang.UnsupportedOperationException"


def html_to_pdf(html: str) -> bytes:
    try:
        from xhtml2pdf import pisa
    except ImportError as exc:  # pragma: no cover - a trimmed install
        raise PdfUnavailable(f"PDF rendering needs the xhtml2pdf package ({exc}); install it with "
                             "`pip install xhtml2pdf` (or `pip install billow`)") from None
    out = io.BytesIO()
    # xhtml2pdf logs every CSS property it ignores; the invoice is still right without them
    logging.getLogger("xhtml2pdf").setLevel(logging.ERROR)
    status = pisa.CreatePDF(html, dest=out, encoding="utf-8", link_callback=_no_links)
    if status.err:
        raise BillowError(f"the invoice could not be laid out as a PDF ({status.err} errors)", status=500)
    return out.getvalue()


def _no_links(uri: str, rel: str) -> str:
    """Templates may not make the PDF renderer read files or fetch URLs: every resource is refused."""
    return ""
