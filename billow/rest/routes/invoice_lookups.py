"""Invoice look-ups across invoices and invoice groups (Kill Bill's InvoiceResource `getInvoices`,
`searchInvoices`, `getInvoiceByItemId`, `createFutureInvoiceGroup`, `getInvoicesGroup`, and AccountResource
`getInvoicesForAccountPaginated`), and the audit logs with history of invoices and invoice items.

This router comes before `invoices` (billow/rest/app.py) so that `/invoices/pagination`, `/invoices/search/...`,
`/invoices/byItemId/...` and `POST /invoices/group` are not taken for an invoice id. Pages list invoices without
their items, as Kill Bill's do (its pages are "shallow"); Billow still reports their amounts and balances.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from billow.core.context import CallContext
from billow.core.errors import InvalidInput
from billow.invoice.service import InvoiceService, NothingToInvoice
from billow.invoice.store_lookup import InvoicePage
from billow.rest.common import (
    AuditLevel,
    Ctx,
    audit_log_json,
    check_paging,
    created,
    paginated_headers,
    parse_date,
)
from billow.rest.deps import Invoices
from billow.rest.jsonio import KBJSONResponse
from billow.rest.routes.invoices import invoice_json

router = APIRouter(tags=["Invoice"])


def _page(invoices: InvoiceService, ctx: CallContext, page: InvoicePage, offset: int, limit: int, level: str,
          path: str) -> Response:
    audits = invoices.audit_logs(ctx, page.invoices, level)
    headers = paginated_headers(path, offset, limit, page.total, page.max_records, {"audit": level})
    return KBJSONResponse([invoice_json(inv, with_items=False, audits=audits) for inv in page.invoices],
                          headers=headers)


@router.get("/1.0/kb/invoices/pagination", operation_id="getInvoices")
def get_invoices(request: Request, ctx: Ctx, invoices: Invoices, level: AuditLevel, offset: int = Query(0),
                 limit: int = Query(100)) -> Response:
    check_paging(offset, limit)
    return _page(invoices, ctx, invoices.page(ctx, offset, limit), offset, limit, level,
                 "/1.0/kb/invoices/pagination")


@router.get("/1.0/kb/invoices/search/{searchKey}", operation_id="searchInvoices")
def search_invoices(request: Request, ctx: Ctx, invoices: Invoices, level: AuditLevel, searchKey: str,
                    offset: int = Query(0), limit: int = Query(100)) -> Response:
    check_paging(offset, limit)
    return _page(invoices, ctx, invoices.search(ctx, searchKey, offset, limit), offset, limit, level,
                 f"/1.0/kb/invoices/search/{searchKey}")


@router.get("/1.0/kb/accounts/{accountId}/invoices/pagination", tags=["Account"],
            operation_id="getInvoicesForAccountPaginated")
def get_invoices_for_account_paginated(request: Request, ctx: Ctx, invoices: Invoices, level: AuditLevel,
                                       accountId: str, offset: int = Query(0), limit: int = Query(100)) -> Response:
    check_paging(offset, limit)
    return _page(invoices, ctx, invoices.account_page(ctx, accountId, offset, limit), offset, limit, level,
                 f"/1.0/kb/accounts/{accountId}/invoices/pagination")


@router.get("/1.0/kb/invoices/byItemId/{itemId}", operation_id="getInvoiceByItemId")
def get_invoice_by_item_id(request: Request, ctx: Ctx, invoices: Invoices, level: AuditLevel, itemId: str,
                           withChildrenItems: bool = Query(False)) -> Response:
    inv = invoices.by_item(ctx, itemId)
    audits = invoices.audit_logs(ctx, [inv], level)
    children = invoices.child_items(ctx, inv.id) if withChildrenItems else None
    return KBJSONResponse(invoice_json(inv, audits=audits, child_items=children))


@router.post("/1.0/kb/invoices/group", status_code=201, operation_id="createFutureInvoiceGroup")
def create_future_invoice_group(request: Request, ctx: Ctx, invoices: Invoices, accountId: str | None = Query(None),
                                targetDate: str | None = Query(None),
                                pluginProperty: list[str] | None = Query(None)) -> Response:
    if not accountId:
        raise InvalidInput("accountId: query parameter needs to be set")
    try:
        group_id, _ = invoices.trigger_group(ctx, accountId, parse_date(targetDate, "targetDate"))
    except NothingToInvoice:
        return Response(status_code=404)
    return created(request, f"/1.0/kb/invoices/{group_id}/group")


@router.get("/1.0/kb/invoices/{groupId}/group", operation_id="getInvoicesGroup")
def get_invoices_group(request: Request, ctx: Ctx, invoices: Invoices, level: AuditLevel, groupId: str,
                       accountId: str | None = Query(None), withChildrenItems: bool = Query(False)) -> Response:
    if not accountId:
        raise InvalidInput("accountId: query parameter needs to be set")
    found = invoices.group(ctx, accountId, groupId)
    if not found:
        return Response(status_code=404)
    audits = invoices.audit_logs(ctx, found, level)
    return KBJSONResponse([invoice_json(inv, audits=audits,
                                        child_items=invoices.child_items(ctx, inv.id) if withChildrenItems else None)
                           for inv in found])


@router.get("/1.0/kb/invoices/{invoiceId}/auditLogsWithHistory", operation_id="getInvoiceAuditLogsWithHistory")
def get_invoice_audit_logs_with_history(request: Request, ctx: Ctx, invoices: Invoices, invoiceId: str) -> Response:
    return KBJSONResponse([audit_log_json(e) for e in invoices.audit_logs_with_history(ctx, invoiceId)])


@router.get("/1.0/kb/invoiceItems/{invoiceItemId}/auditLogsWithHistory", tags=["InvoiceItem"],
            operation_id="getInvoiceItemAuditLogsWithHistory")
def get_invoice_item_audit_logs_with_history(request: Request, ctx: Ctx, invoices: Invoices,
                                             invoiceItemId: str) -> Response:
    return KBJSONResponse([audit_log_json(e) for e in invoices.item_audit_logs_with_history(ctx, invoiceItemId)])
