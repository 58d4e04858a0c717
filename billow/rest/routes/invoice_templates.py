"""`/1.0/kb/invoices/template`, `/manualPayTemplate`, `/translation/{locale}`, `/catalogTranslation/{locale}`,
`/{invoiceId}/html` (Kill Bill's InvoiceResource) and, beyond Kill Bill, `/{invoiceId}/pdf`.

Kill Bill: ``jaxrs/src/main/java/org/killbill/billing/jaxrs/resources/InvoiceResource.java``
(uploadInvoiceTemplate, getInvoiceTemplate, uploadInvoiceMPTemplate, getInvoiceMPTemplate,
uploadInvoiceTranslation, getInvoiceTranslation, uploadCatalogTranslation, getCatalogTranslation,
getInvoiceAsHTML). Mounted before the invoices router so that ``/invoices/template`` is not taken for an id.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.core.errors import InvalidInput
from billow.invoice.presentation.bundles import CATALOG_TRANSLATION, DEFAULT_LOCALE, INVOICE_TRANSLATION
from billow.invoice.presentation.service import INVOICE_MP_TEMPLATE, INVOICE_TEMPLATE
from billow.rest.common import Ctx, created
from billow.rest.deps import Presentation

router = APIRouter(prefix="/1.0/kb/invoices", tags=["Invoice"])
MAX_BODY_BYTES = 1024 * 1024


def _text_body(media_type: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {media_type: {"schema": {"type": "string"}}}}}


async def _body(request: Request) -> bytes:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidInput(f"body: {len(raw)} bytes is over the limit of {MAX_BODY_BYTES} bytes")
    return raw


def _found(text: str | None, media_type: str) -> Response:
    if text is None:
        return Response(status_code=404)
    return Response(text, media_type=media_type)


# -- templates -----------------------------------------------------------------------------------
@router.get("/template", operation_id="getInvoiceTemplate", response_class=Response)
def get_invoice_template(request: Request, ctx: Ctx, presentation: Presentation) -> Response:
    return _found(presentation.get_resource(ctx, INVOICE_TEMPLATE), "text/html")


@router.post("/template", status_code=201, operation_id="uploadInvoiceTemplate", response_class=Response,
             openapi_extra=_text_body("text/html"))
async def upload_invoice_template(request: Request, ctx: Ctx, presentation: Presentation,
                                  deleteIfExists: bool = Query(False)) -> Response:
    body = await _body(request)
    await run_in_threadpool(presentation.upload_template, ctx, INVOICE_TEMPLATE, body,
                            delete_if_exists=deleteIfExists)
    return created(request, "/1.0/kb/invoices/template")


@router.get("/manualPayTemplate/{locale}", operation_id="getInvoiceMPTemplate", response_class=Response)
def get_invoice_mp_template(request: Request, ctx: Ctx, presentation: Presentation, locale: str) -> Response:
    """Kill Bill takes a locale here and ignores it: there is one manual-pay template per tenant."""
    return _found(presentation.get_resource(ctx, INVOICE_MP_TEMPLATE), "text/html")


@router.post("/manualPayTemplate", status_code=201, operation_id="uploadInvoiceMPTemplate", response_class=Response,
             openapi_extra=_text_body("text/html"))
async def upload_invoice_mp_template(request: Request, ctx: Ctx, presentation: Presentation,
                                     deleteIfExists: bool = Query(False)) -> Response:
    body = await _body(request)
    await run_in_threadpool(presentation.upload_template, ctx, INVOICE_MP_TEMPLATE, body,
                            delete_if_exists=deleteIfExists)
    return created(request, f"/1.0/kb/invoices/manualPayTemplate/{DEFAULT_LOCALE}")


# -- translations --------------------------------------------------------------------------------
@router.get("/translation/{locale}", operation_id="getInvoiceTranslation", response_class=Response)
def get_invoice_translation(request: Request, ctx: Ctx, presentation: Presentation, locale: str) -> Response:
    return _found(presentation.get_resource(ctx, INVOICE_TRANSLATION, locale), "text/plain")


@router.post("/translation/{locale}", status_code=201, operation_id="uploadInvoiceTranslation",
             response_class=Response, openapi_extra=_text_body("text/plain"))
async def upload_invoice_translation(request: Request, ctx: Ctx, presentation: Presentation, locale: str,
                                     deleteIfExists: bool = Query(False)) -> Response:
    body = await _body(request)
    await run_in_threadpool(presentation.upload_translation, ctx, INVOICE_TRANSLATION, locale, body,
                            delete_if_exists=deleteIfExists)
    return created(request, f"/1.0/kb/invoices/translation/{locale}")


@router.get("/catalogTranslation/{locale}", operation_id="getCatalogTranslation", response_class=Response)
def get_catalog_translation(request: Request, ctx: Ctx, presentation: Presentation, locale: str) -> Response:
    return _found(presentation.get_resource(ctx, CATALOG_TRANSLATION, locale), "text/plain")


@router.post("/catalogTranslation/{locale}", status_code=201, operation_id="uploadCatalogTranslation",
             response_class=Response, openapi_extra=_text_body("text/plain"))
async def upload_catalog_translation(request: Request, ctx: Ctx, presentation: Presentation, locale: str,
                                     deleteIfExists: bool = Query(False)) -> Response:
    body = await _body(request)
    await run_in_threadpool(presentation.upload_translation, ctx, CATALOG_TRANSLATION, locale, body,
                            delete_if_exists=deleteIfExists)
    return created(request, f"/1.0/kb/invoices/catalogTranslation/{locale}")


# -- outputs -------------------------------------------------------------------------------------
@router.get("/{invoiceId}/html", operation_id="getInvoiceAsHTML", response_class=Response)
def get_invoice_as_html(request: Request, ctx: Ctx, presentation: Presentation, invoiceId: str,
                        locale: str | None = Query(None, description="Billow: a locale other than the account's")
                        ) -> Response:
    html = presentation.html(ctx, invoiceId, locale=locale)
    return Response(html, media_type="text/html; charset=utf-8")


@router.get("/{invoiceId}/pdf", operation_id="getInvoiceAsPDF", response_class=Response)
def get_invoice_as_pdf(request: Request, ctx: Ctx, presentation: Presentation, invoiceId: str,
                       locale: str | None = Query(None, description="a locale other than the account's")) -> Response:
    """Beyond Kill Bill: the same invoice as PDF (501 where the PDF library is missing)."""
    pdf = presentation.pdf(ctx, invoiceId, locale=locale)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="invoice-{invoiceId}.pdf"'})
