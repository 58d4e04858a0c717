"""`/1.0/kb/invoices`, `/1.0/kb/credits` and `/1.0/kb/accounts/{id}/invoices` (Kill Bill's InvoiceResource,
CreditResource, AccountResource.getInvoicesForAccount); InvoiceJson and InvoiceItemJson in and out.

Kill Bill: `jaxrs/src/main/java/org/killbill/billing/jaxrs/resources/InvoiceResource.java`,
`CreditResource.java`, `json/InvoiceJson.java`, `json/InvoiceItemJson.java`.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from billow.account.model import Account
from billow.catalog.model import BillingPeriod, PhaseType, ProductCategory
from billow.core.context import CallContext
from billow.core.db.audit_read import AuditLogEntry
from billow.core.errors import InvalidInput
from billow.core.money import round_money
from billow.entitlement.model import BillingActionPolicy, SubscriptionRequest
from billow.invoice.credit import balance
from billow.invoice.model import Invoice, InvoiceItem, InvoiceItemType, InvoiceStatus
from billow.invoice.service import DryRunRequest, InvoiceService, ItemInput, MigrationItem, NothingToInvoice
from billow.rest.common import (
    TAKES_PLUGIN_PROPERTIES,
    AuditLevel,
    Ctx,
    audit_log_json,
    created,
    no_content,
    parse_date,
    parse_enum,
)
from billow.rest.deps import Invoices
from billow.rest.jsonio import KBJSONResponse, format_instant

router = APIRouter(tags=["Invoice"])

_CHARGES = (InvoiceItemType.EXTERNAL_CHARGE, InvoiceItemType.FIXED, InvoiceItemType.RECURRING,
            InvoiceItemType.USAGE, InvoiceItemType.TAX, InvoiceItemType.REPAIR_ADJ, InvoiceItemType.ITEM_ADJ,
            InvoiceItemType.PARENT_SUMMARY)


class InvoiceItemJson(BaseModel):
    """Kill Bill's InvoiceItemJson as input (unknown fields ignored)."""

    model_config = ConfigDict(extra="ignore")
    invoiceItemId: str | None = None
    invoiceId: str | None = None
    linkedInvoiceItemId: str | None = None
    accountId: str | None = None
    childAccountId: str | None = None
    bundleId: str | None = None
    subscriptionId: str | None = None
    productName: str | None = None
    planName: str | None = None
    phaseName: str | None = None
    usageName: str | None = None
    itemType: str | None = None
    description: str | None = None
    startDate: date | None = None
    endDate: date | None = None
    amount: Decimal | None = None
    rate: Decimal | None = None
    currency: str | None = None
    quantity: Decimal | None = None
    itemDetails: str | None = None

    def to_input(self) -> ItemInput:
        return ItemInput(account_id=self.accountId, invoice_id=self.invoiceId, invoice_item_id=self.invoiceItemId,
                         linked_item_id=self.linkedInvoiceItemId, amount=self.amount, currency=self.currency,
                         description=self.description, start_date=self.startDate, end_date=self.endDate,
                         subscription_id=self.subscriptionId, bundle_id=self.bundleId, plan_name=self.planName,
                         product_name=self.productName, phase_name=self.phaseName, quantity=self.quantity,
                         rate=self.rate, item_details=self.itemDetails)


class InvoiceDryRunJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    dryRunType: str | None = None
    dryRunAction: str | None = None
    phaseType: str | None = None
    productName: str | None = None
    productCategory: str | None = None
    billingPeriod: str | None = None
    priceListName: str | None = None
    subscriptionId: str | None = None
    bundleId: str | None = None
    effectiveDate: date | None = None
    billingPolicy: str | None = None
    planName: str | None = None


def _dry_run_plan(body: InvoiceDryRunJson, account_id: str) -> SubscriptionRequest | None:
    """The plan of a SUBSCRIPTION_ACTION dry run (START_BILLING or CHANGE), as a subscription request."""
    if body.planName is None and body.productName is None:
        return None
    return SubscriptionRequest(
        account_id=account_id, plan_name=body.planName, product_name=body.productName,
        product_category=parse_enum(ProductCategory, body.productCategory, "productCategory"),
        billing_period=parse_enum(BillingPeriod, body.billingPeriod, "billingPeriod"), price_list=body.priceListName,
        bundle_id=body.bundleId, phase_type=parse_enum(PhaseType, body.phaseType, "phaseType"))


def _money(amount: Decimal | None, currency: str) -> Decimal | None:
    return None if amount is None else round_money(amount, currency)


def item_json(it: InvoiceItem, audit: list[AuditLogEntry] | None = None,
              child_items: list[InvoiceItem] | None = None) -> dict[str, Any]:
    return {
        "invoiceItemId": it.id, "invoiceId": it.invoice_id, "linkedInvoiceItemId": it.linked_item_id,
        "accountId": it.account_id, "childAccountId": it.child_account_id, "bundleId": it.bundle_id,
        "subscriptionId": it.subscription_id, "productName": it.product_name, "planName": it.plan_name,
        "phaseName": it.phase_name, "usageName": it.usage_name, "prettyProductName": None, "prettyPlanName": None,
        "prettyPhaseName": None, "prettyUsageName": None, "itemType": it.type.value, "description": it.description,
        "startDate": it.start_date, "endDate": it.end_date, "amount": _money(it.amount, it.currency),
        "rate": it.rate, "currency": it.currency, "quantity": it.quantity, "itemDetails": it.item_details,
        "catalogEffectiveDate": format_instant(it.catalog_effective_date),
        "childItems": None if child_items is None else [item_json(c) for c in child_items],
        "auditLogs": [audit_log_json(e) for e in audit or []],
    }


def invoice_json(inv: Invoice, *, with_items: bool = True, audits: tuple[dict, dict] | None = None,
                 timeline: bool = False, credits: list[dict[str, Any]] | None = None,
                 bundle_keys: str | None = None, child_items: list[InvoiceItem] | None = None) -> dict[str, Any]:
    """InvoiceJson: amount = Σ charges; creditAdj = Σ CBA_ADJ; refundAdj = Σ refunds (none yet). With
    `child_items` (withChildrenItems), each PARENT_SUMMARY item lists its child account's items."""
    cur = inv.currency
    amount = sum((it.amount for it in inv.items if it.type in _CHARGES), Decimal(0))
    credit_adj = sum((it.amount for it in inv.items if it.type is InvoiceItemType.CBA_ADJ), Decimal(0))
    inv_audit, item_audit = audits or ({}, {})
    if timeline:
        items: list[dict[str, Any]] | None = None
    elif with_items:
        items = [item_json(it, item_audit.get(it.id), _children_of(it, child_items)) for it in inv.items]
    else:
        items = []
    return {
        "amount": round_money(amount, cur), "currency": cur, "status": inv.status.value,
        "creditAdj": round_money(credit_adj, cur), "refundAdj": round_money(Decimal(0), cur),
        "invoiceId": inv.id, "invoiceDate": inv.invoice_date, "targetDate": inv.target_date,
        "invoiceNumber": str(inv.invoice_number) if inv.invoice_number is not None else None,
        "balance": round_money(balance(inv), cur), "accountId": inv.account_id,
        "bundleKeys": bundle_keys if timeline else None, "credits": credits if timeline else None,
        "items": items, "trackingIds": None if timeline else [], "isParentInvoice": inv.is_parent_invoice,
        "parentInvoiceId": inv.parent_invoice_id, "parentAccountId": inv.parent_account_id,
        "auditLogs": [audit_log_json(e) for e in inv_audit.get(inv.id, [])],
    }


def _children_of(item: InvoiceItem, child_items: list[InvoiceItem] | None) -> list[InvoiceItem] | None:
    """The child items of a PARENT_SUMMARY item (InvoiceJson: only when there are child items at all)."""
    if item.type is not InvoiceItemType.PARENT_SUMMARY or not child_items:
        return None
    return [c for c in child_items if c.account_id == item.child_account_id]


def timeline_invoices_json(service: InvoiceService, ctx: CallContext, account: Account,
                           level: str = "NONE") -> list[dict[str, Any]]:
    """Invoices of the account-timeline view: items null, credits = every CREDIT_ADJ of the account; their audit
    logs at `level`."""
    found = service.of_account(ctx, account.id)
    credits = [item_json(it) for inv in found for it in inv.items if it.type is InvoiceItemType.CREDIT_ADJ]
    audits = service.audit_logs(ctx, found, level) if level != "NONE" else None
    return [invoice_json(inv, timeline=True, credits=credits, audits=audits) for inv in found]


def _one(invoices: InvoiceService, ctx: CallContext, inv: Invoice, level: str,
         with_children_items: bool = False) -> Response:
    audits = invoices.audit_logs(ctx, [inv], level)
    children = invoices.child_items(ctx, inv.id) if with_children_items else None
    return KBJSONResponse(invoice_json(inv, audits=audits, child_items=children))


@router.post("/1.0/kb/invoices", status_code=201, operation_id="createFutureInvoice",
             dependencies=TAKES_PLUGIN_PROPERTIES)
def create_future_invoice(request: Request, ctx: Ctx, invoices: Invoices, accountId: str | None = Query(None),
                          targetDate: str | None = Query(None)) -> Response:
    if not accountId:
        raise InvalidInput("accountId: query parameter needs to be set")
    target = parse_date(targetDate, "targetDate")
    try:
        inv = invoices.trigger(ctx, accountId, target)
    except NothingToInvoice:
        return Response(status_code=404)
    return created(request, f"/1.0/kb/invoices/{inv.id}")


@router.post("/1.0/kb/invoices/dryRun", operation_id="generateDryRunInvoice", dependencies=TAKES_PLUGIN_PROPERTIES,
             responses={204: {"description": "Nothing to invoice"}})
def generate_dry_run_invoice(request: Request, ctx: Ctx, invoices: Invoices, accountId: str | None = Query(None),
                             targetDate: str | None = Query(None),
                             body: InvoiceDryRunJson | None = Body(None)) -> Response:
    if not accountId:
        raise InvalidInput("accountId: query parameter needs to be set")
    target = parse_date(targetDate, "targetDate")
    kind = (body.dryRunType if body is not None and body.dryRunType else "TARGET_DATE").upper()
    if kind not in ("TARGET_DATE", "UPCOMING_INVOICE", "SUBSCRIPTION_ACTION"):
        raise InvalidInput(f"dryRunType: '{kind}' is not one of TARGET_DATE, UPCOMING_INVOICE, SUBSCRIPTION_ACTION")
    req = DryRunRequest(kind, body.subscriptionId if body else None, body.bundleId if body else None)
    if kind == "SUBSCRIPTION_ACTION":
        assert body is not None
        req = dataclasses.replace(req, action=body.dryRunAction, effective_date=body.effectiveDate,
                                  billing_policy=parse_enum(BillingActionPolicy, body.billingPolicy, "billingPolicy"),
                                  plan=_dry_run_plan(body, accountId))
    inv = invoices.dry_run(ctx, accountId, target, req)
    if inv is None:
        return Response(status_code=204)
    return KBJSONResponse(invoice_json(inv))


@router.post("/1.0/kb/invoices/charges/{accountId}", operation_id="createExternalCharges",
             dependencies=TAKES_PLUGIN_PROPERTIES)
def create_external_charges(request: Request, ctx: Ctx, invoices: Invoices, accountId: str,
                            body: list[InvoiceItemJson] = Body(...),
                            requestedDate: str | None = Query(None), autoCommit: bool = Query(False)) -> Response:
    items = invoices.add_items(ctx, accountId, [b.to_input() for b in body], InvoiceItemType.EXTERNAL_CHARGE,
                                    requested=parse_date(requestedDate, "requestedDate"), auto_commit=autoCommit)
    return KBJSONResponse([item_json(it) for it in items])


@router.post("/1.0/kb/invoices/taxes/{accountId}", operation_id="createTaxItems", dependencies=TAKES_PLUGIN_PROPERTIES)
def create_tax_items(request: Request, ctx: Ctx, invoices: Invoices, accountId: str,
                     body: list[InvoiceItemJson] = Body(...),
                     requestedDate: str | None = Query(None), autoCommit: bool = Query(False)) -> Response:
    items = invoices.add_items(ctx, accountId, [b.to_input() for b in body], InvoiceItemType.TAX,
                                    requested=parse_date(requestedDate, "requestedDate"), auto_commit=autoCommit)
    return KBJSONResponse([item_json(it) for it in items])


@router.post("/1.0/kb/invoices/migration/{accountId}", status_code=201, operation_id="createMigrationInvoice")
def create_migration_invoice(request: Request, ctx: Ctx, invoices: Invoices, accountId: str,
                             body: list[InvoiceItemJson] = Body(...),
                             targetDate: str | None = Query(None)) -> Response:
    items = [MigrationItem(parse_enum(InvoiceItemType, b.itemType, "itemType"), b.to_input()) for b in body]
    inv = invoices.create_migration_invoice(ctx, accountId, items, parse_date(targetDate, "targetDate"))
    return created(request, f"/1.0/kb/invoices/{inv.id}")


@router.delete("/1.0/kb/invoices/{invoiceId}/{invoiceItemId}/cba", status_code=204, operation_id="deleteCBA")
def delete_cba(request: Request, ctx: Ctx, invoices: Invoices, invoiceId: str, invoiceItemId: str,
               accountId: str | None = Query(None)) -> Response:
    if not accountId:
        raise InvalidInput("accountId: query parameter needs to be set")
    invoices.delete_cba(ctx, accountId, invoiceId, invoiceItemId)
    return no_content()


@router.get("/1.0/kb/invoices/byNumber/{invoiceNumber}", operation_id="getInvoiceByNumber")
def get_invoice_by_number(request: Request, ctx: Ctx, invoices: Invoices, level: AuditLevel, invoiceNumber: str,
                          withChildrenItems: bool = Query(False)) -> Response:
    if not invoiceNumber.isdigit():
        raise InvalidInput(f"invoiceNumber: '{invoiceNumber}' is not a number")
    return _one(invoices, ctx, invoices.by_number(ctx, int(invoiceNumber)), level, withChildrenItems)


@router.get("/1.0/kb/invoices/{invoiceId}", operation_id="getInvoice")
def get_invoice(request: Request, ctx: Ctx, invoices: Invoices, level: AuditLevel, invoiceId: str,
                withChildrenItems: bool = Query(False)) -> Response:
    return _one(invoices, ctx, invoices.get(ctx, invoiceId), level, withChildrenItems)


@router.post("/1.0/kb/invoices/{invoiceId}", status_code=201, operation_id="adjustInvoiceItem",
             dependencies=TAKES_PLUGIN_PROPERTIES)
def adjust_invoice_item(request: Request, ctx: Ctx, invoices: Invoices, invoiceId: str,
                        body: InvoiceItemJson = Body(...),
                        requestedDate: str | None = Query(None)) -> Response:
    invoices.adjust_item(ctx, invoiceId, body.to_input(), requested=parse_date(requestedDate, "requestedDate"))
    return created(request, f"/1.0/kb/invoices/{invoiceId}")


@router.put("/1.0/kb/invoices/{invoiceId}/commitInvoice", status_code=204, operation_id="commitInvoice")
def commit_invoice(request: Request, ctx: Ctx, invoices: Invoices, invoiceId: str) -> Response:
    invoices.commit(ctx, invoiceId)
    return no_content()


@router.put("/1.0/kb/invoices/{invoiceId}/voidInvoice", status_code=204, operation_id="voidInvoice")
def void_invoice(request: Request, ctx: Ctx, invoices: Invoices, invoiceId: str) -> Response:
    invoices.void(ctx, invoiceId)
    return no_content()


@router.get("/1.0/kb/accounts/{accountId}/invoices", tags=["Account"], operation_id="getInvoicesForAccount")
def get_invoices_for_account(request: Request, ctx: Ctx, invoices: Invoices, level: AuditLevel, accountId: str,
                             startDate: str | None = Query(None), endDate: str | None = Query(None),
                             withMigrationInvoices: bool = Query(False), unpaidInvoicesOnly: bool = Query(False),
                             includeVoidedInvoices: bool = Query(False),
                             includeInvoiceComponents: bool = Query(False),
                             invoicesFilter: str | None = Query(None)) -> Response:
    start, end = parse_date(startDate, "startDate"), parse_date(endDate, "endDate")
    out = []
    for inv in invoices.of_account(ctx, accountId):
        if inv.status is InvoiceStatus.VOID and not includeVoidedInvoices:
            continue
        if inv.migrated and not withMigrationInvoices:
            continue
        if unpaidInvoicesOnly and (inv.status is not InvoiceStatus.COMMITTED or balance(inv) <= 0):
            continue
        if start is not None and inv.target_date is not None and inv.target_date < start:
            continue
        if end is not None and inv.target_date is not None and inv.target_date > end:
            continue
        out.append(inv)
    audits = invoices.audit_logs(ctx, out, level)
    return KBJSONResponse([invoice_json(inv, with_items=includeInvoiceComponents, audits=audits) for inv in out])


@router.post("/1.0/kb/credits", tags=["Credit"], operation_id="createCredits", dependencies=TAKES_PLUGIN_PROPERTIES)
def create_credits(request: Request, ctx: Ctx, invoices: Invoices, body: list[InvoiceItemJson] = Body(...),
                   autoCommit: bool = Query(False)) -> Response:
    items = [b.to_input() for b in body]
    if not items:
        raise InvalidInput("body: at least one credit is needed")
    created_items = invoices.add_items(ctx, None, items, InvoiceItemType.CREDIT_ADJ, requested=None,
                                            auto_commit=autoCommit)
    return KBJSONResponse([credit_json(it) for it in created_items])


def credit_json(it: InvoiceItem) -> dict[str, Any]:
    """A credit as the credit API shows it: with the positive amount it was given. The CREDIT_ADJ item
    itself is stored negated (Kill Bill's `DefaultInvoiceUserApi.negateCreditItems`)."""
    out = item_json(it)
    if it.type is InvoiceItemType.CREDIT_ADJ and it.amount is not None:
        out["amount"] = -it.amount
    return out


@router.get("/1.0/kb/credits/{creditId}", tags=["Credit"], operation_id="getCredit")
def get_credit(request: Request, ctx: Ctx, invoices: Invoices, creditId: str) -> Response:
    return KBJSONResponse(credit_json(invoices.credit(ctx, creditId)))
