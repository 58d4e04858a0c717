"""`/1.0/kb/accounts`: accounts (Kill Bill's AccountResource); AccountJson in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billow.account.model import Account, AccountData
from billow.account.service import AccountService, Page
from billow.core.context import CallContext
from billow.core.errors import InvalidInput
from billow.invoice.service import InvoiceService
from billow.rest.common import AuditLevel, Ctx, audit_log_json, check_paging, created, no_content, paginated_headers
from billow.rest.deps import Accounts, Closing, Invoices
from billow.rest.jsonio import KBJSONResponse, format_instant

router = APIRouter(prefix="/1.0/kb/accounts", tags=["Account"])


class AccountJson(BaseModel):
    """Kill Bill's AccountJson as input: unknown fields ignored, null is absent."""

    model_config = ConfigDict(extra="ignore")
    accountId: str | None = None
    name: str | None = None
    firstNameLength: int | None = None
    externalKey: str | None = None
    email: str | None = None
    billCycleDayLocal: int | None = None
    currency: str | None = None
    parentAccountId: str | None = None
    isPaymentDelegatedToParent: bool | None = None
    paymentMethodId: str | None = None
    referenceTime: datetime | None = None
    timeZone: str | None = None
    address1: str | None = None
    address2: str | None = None
    postalCode: str | None = None
    company: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    locale: str | None = None
    phone: str | None = None
    notes: str | None = None
    isMigrated: bool | None = None

    def to_data(self) -> AccountData:
        return AccountData(
            external_key=self.externalKey, name=self.name, first_name_length=self.firstNameLength,
            email=self.email, bill_cycle_day_local=self.billCycleDayLocal, currency=self.currency,
            parent_account_id=self.parentAccountId, is_payment_delegated_to_parent=self.isPaymentDelegatedToParent,
            payment_method_id=self.paymentMethodId, reference_time=self.referenceTime, time_zone=self.timeZone,
            locale=self.locale, address1=self.address1, address2=self.address2, company_name=self.company,
            city=self.city, state_or_province=self.state, country=self.country, postal_code=self.postalCode,
            phone=self.phone, notes=self.notes, migrated=self.isMigrated,
        )


def account_json(a: Account, *, balance: Any = None, cba: Any = None,
                 audit_logs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "accountId": a.id,
        "name": a.name,
        "firstNameLength": a.first_name_length,
        "externalKey": a.external_key,
        "email": a.email,
        "billCycleDayLocal": a.bill_cycle_day_local,
        "currency": a.currency,
        "parentAccountId": a.parent_account_id,
        "isPaymentDelegatedToParent": a.is_payment_delegated_to_parent,
        "paymentMethodId": a.payment_method_id,
        "referenceTime": format_instant(a.reference_time),
        "timeZone": a.time_zone,
        "address1": a.address1,
        "address2": a.address2,
        "postalCode": a.postal_code,
        "company": a.company_name,
        "city": a.city,
        "state": a.state_or_province,
        "country": a.country,
        "locale": a.locale,
        "phone": a.phone,
        "notes": a.notes,
        "isMigrated": a.migrated,
        "accountBalance": balance,
        "accountCBA": cba,
        "auditLogs": audit_logs or [],
    }


def _render(accounts: AccountService, invoices: InvoiceService, ctx: CallContext, items: list[Account], level: str,
            with_balance: bool, with_cba: bool) -> list[dict[str, Any]]:
    logs = accounts.audit_logs_of(ctx, items, level) if level != "NONE" else {}
    out: list[dict[str, Any]] = []
    for a in items:
        balance = cba = None
        if with_balance or with_cba:
            balance, c = invoices.account_balances(ctx, a)
            cba = c if with_cba else None
        out.append(account_json(a, balance=balance, cba=cba,
                                audit_logs=[audit_log_json(e) for e in logs.get(a.record_id, [])]))
    return out


@router.post("", status_code=201, operation_id="createAccount")
def create_account(request: Request, ctx: Ctx, accounts: Accounts, body: AccountJson = Body(...)) -> Response:
    account = accounts.create(ctx, body.to_data())
    return created(request, f"/1.0/kb/accounts/{account.id}")


@router.get("", operation_id="getAccountByKey")
def get_account_by_key(request: Request, ctx: Ctx, accounts: Accounts, invoices: Invoices, level: AuditLevel,
                       externalKey: str | None = Query(None),
                       accountWithBalance: bool = Query(False),
                       accountWithBalanceAndCBA: bool = Query(False)) -> Response:
    if not externalKey:
        raise InvalidInput("externalKey: query parameter needs to be set")
    account = accounts.get_by_key(ctx, externalKey)
    return KBJSONResponse(_render(accounts, invoices, ctx, [account], level,
                                  accountWithBalance or accountWithBalanceAndCBA, accountWithBalanceAndCBA)[0])


def _page_response(accounts: AccountService, invoices: InvoiceService, ctx: CallContext, page: Page, level: str,
                   with_balance: bool, with_cba: bool, path: str) -> Response:
    extra = {"accountWithBalance": str(with_balance).lower(),
             "accountWithBalanceAndCBA": str(with_cba).lower(), "audit": level}
    headers = paginated_headers(path, page.offset, page.limit, page.total, page.max_records, extra)
    body = _render(accounts, invoices, ctx, page.items, level, with_balance or with_cba, with_cba)
    return KBJSONResponse(body, headers=headers)


@router.get("/pagination", operation_id="getAccounts")
def get_accounts(request: Request, ctx: Ctx, accounts: Accounts, invoices: Invoices, level: AuditLevel,
                 offset: int = Query(0),
                 limit: int = Query(100),
                 accountWithBalance: bool = Query(False), accountWithBalanceAndCBA: bool = Query(False)) -> Response:
    check_paging(offset, limit)
    page = accounts.list(ctx, offset, limit)
    return _page_response(accounts, invoices, ctx, page, level, accountWithBalance, accountWithBalanceAndCBA,
                          "/1.0/kb/accounts/pagination")


@router.get("/search/{searchKey}", operation_id="searchAccounts")
def search_accounts(request: Request, ctx: Ctx, accounts: Accounts, invoices: Invoices, level: AuditLevel,
                    searchKey: str,
                    offset: int = Query(0),
                    limit: int = Query(100), accountWithBalance: bool = Query(False),
                    accountWithBalanceAndCBA: bool = Query(False)) -> Response:
    check_paging(offset, limit)
    page = accounts.search(ctx, searchKey, offset, limit)
    return _page_response(accounts, invoices, ctx, page, level, accountWithBalance, accountWithBalanceAndCBA,
                          f"/1.0/kb/accounts/search/{searchKey}")


@router.get("/{accountId}", operation_id="getAccount")
def get_account(request: Request, ctx: Ctx, accounts: Accounts, invoices: Invoices, level: AuditLevel, accountId: str,
                accountWithBalance: bool = Query(False), accountWithBalanceAndCBA: bool = Query(False)) -> Response:
    account = accounts.get(ctx, accountId)
    return KBJSONResponse(_render(accounts, invoices, ctx, [account], level,
                                  accountWithBalance or accountWithBalanceAndCBA, accountWithBalanceAndCBA)[0])


@router.delete("/{accountId}", status_code=204, operation_id="closeAccount")
def close_account(request: Request, ctx: Ctx, closing: Closing, accountId: str,
                  cancelAllSubscriptions: bool = Query(False), writeOffUnpaidInvoices: bool = Query(False),
                  itemAdjustUnpaidInvoices: bool = Query(False),
                  removeFutureNotifications: bool = Query(True)) -> Response:
    """Kill Bill's `closeAccount` (see `billow.operations.close_account`)."""
    closing.close(ctx, accountId, cancel_all_subscriptions=cancelAllSubscriptions,
                  write_off_unpaid_invoices=writeOffUnpaidInvoices,
                  item_adjust_unpaid_invoices=itemAdjustUnpaidInvoices,
                  remove_future_notifications=removeFutureNotifications)
    return no_content()


@router.put("/{accountId}", status_code=204, operation_id="updateAccount")
def update_account(request: Request, ctx: Ctx, accounts: Accounts, accountId: str, body: AccountJson = Body(...),
                   treatNullAsReset: bool = Query(False)) -> Response:
    accounts.update(ctx, accountId, body.to_data(), treat_null_as_reset=treatNullAsReset)
    return no_content()


@router.get("/{accountId}/auditLogs", operation_id="getAccountAuditLogs")
async def get_account_audit_logs(request: Request, ctx: Ctx, accounts: Accounts, accountId: str) -> Response:
    logs = await run_in_threadpool(accounts.audit_logs, ctx, accountId)
    return KBJSONResponse([audit_log_json(e) for e in logs])


@router.get("/{accountId}/auditLogsWithHistory", operation_id="getAccountAuditLogsWithHistory")
async def get_account_audit_logs_with_history(request: Request, ctx: Ctx, accounts: Accounts,
                                              accountId: str) -> Response:
    logs = await run_in_threadpool(accounts.audit_logs, ctx, accountId, with_history=True)
    return KBJSONResponse([audit_log_json(e) for e in logs])


# -- emails (Kill Bill's AccountResource "EMAILS") --------------------------------------------------------------
class AccountEmailJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    accountId: str | None = None
    email: str | None = None


@router.get("/{accountId}/emails", operation_id="getEmails")
def get_emails(request: Request, ctx: Ctx, accounts: Accounts, accountId: str) -> Response:
    return KBJSONResponse([{"accountId": e.account_id, "email": e.email, "auditLogs": []}
                           for e in accounts.emails(ctx, accountId)])


@router.post("/{accountId}/emails", status_code=201, operation_id="addEmail")
def add_email(request: Request, ctx: Ctx, accounts: Accounts, accountId: str,
              body: AccountEmailJson | None = Body(None)) -> Response:
    if body is None:
        raise InvalidInput("body: AccountEmailJson body should be specified")
    accounts.add_email(ctx, accountId, body.email)
    return created(request, f"/1.0/kb/accounts/{accountId}/emails")


@router.delete("/{accountId}/emails/{email}", status_code=204, operation_id="removeEmail")
def remove_email(request: Request, ctx: Ctx, accounts: Accounts, accountId: str, email: str) -> Response:
    accounts.remove_email(ctx, accountId, email)
    return no_content()


@router.get("/{accountId}/emails/{accountEmailId}/auditLogsWithHistory",
            operation_id="getAccountEmailAuditLogsWithHistory")
def get_email_audit_logs_with_history(request: Request, ctx: Ctx, accounts: Accounts, accountId: str,
                                      accountEmailId: str) -> Response:
    return KBJSONResponse([audit_log_json(e) for e in accounts.email_audit_logs(ctx, accountEmailId)])


# -- hierarchy and credit ----------------------------------------------------------------------------------------
@router.get("/{accountId}/children", operation_id="getChildrenAccounts")
def get_children_accounts(request: Request, ctx: Ctx, accounts: Accounts, invoices: Invoices, level: AuditLevel,
                          accountId: str, accountWithBalance: bool = Query(False),
                          accountWithBalanceAndCBA: bool = Query(False)) -> Response:
    children = accounts.children(ctx, accountId)
    return KBJSONResponse(_render(accounts, invoices, ctx, children, level,
                                  accountWithBalance or accountWithBalanceAndCBA, accountWithBalanceAndCBA))


@router.put("/{childAccountId}/transferCredit", status_code=204, operation_id="transferChildCreditToParent")
def transfer_child_credit_to_parent(request: Request, ctx: Ctx, invoices: Invoices, childAccountId: str) -> Response:
    invoices.transfer_child_credit_to_parent(ctx, childAccountId)
    return no_content()


@router.put("/{accountId}/cbaRebalancing", status_code=204, operation_id="rebalanceExistingCBAOnAccount")
def rebalance_existing_cba(request: Request, ctx: Ctx, invoices: Invoices, accountId: str) -> Response:
    invoices.rebalance_credit(ctx, accountId)
    return no_content()
