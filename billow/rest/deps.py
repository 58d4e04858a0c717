"""Typed access to the services for routes (FastAPI dependencies): `accounts: Accounts` in a route's
signature gives the `AccountService` of the `Billow` the app serves, and mypy follows the route into it."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from billow.account.service import AccountService
from billow.app import Billow
from billow.catalog.service import CatalogService
from billow.core.bus.admin import QueueAdmin
from billow.custom_field.service import CustomFieldService
from billow.entitlement.service import EntitlementService
from billow.invoice.presentation.service import InvoicePresenter
from billow.invoice.service import InvoiceService
from billow.operations.caches import CacheAdmin
from billow.operations.close_account import AccountClosing
from billow.operations.export import AccountExport
from billow.operations.nodes import NodeOperations
from billow.payment.stack import PaymentStack
from billow.push.service import PushNotificationService
from billow.security.service import SecurityService
from billow.tag.service import TagService
from billow.tenant.service import TenantService
from billow.usage.service import UsageService


def billow_of(request: Request) -> Billow:
    return cast(Billow, request.app.state.billow)


def _accounts(request: Request) -> AccountService:
    return billow_of(request).accounts


def _tenants(request: Request) -> TenantService:
    return billow_of(request).tenants


def _catalogs(request: Request) -> CatalogService:
    return billow_of(request).catalogs


def _entitlements(request: Request) -> EntitlementService:
    return billow_of(request).entitlements


def _invoices(request: Request) -> InvoiceService:
    return billow_of(request).invoices


def _presentation(request: Request) -> InvoicePresenter:
    return billow_of(request).presentation


def _push(request: Request) -> PushNotificationService:
    return billow_of(request).push


def _security(request: Request) -> SecurityService:
    return billow_of(request).security


def _queues(request: Request) -> QueueAdmin:
    return billow_of(request).queues


def _caches(request: Request) -> CacheAdmin:
    return billow_of(request).caches


def _export(request: Request) -> AccountExport:
    return billow_of(request).export


def _closing(request: Request) -> AccountClosing:
    return billow_of(request).closing


def _nodes(request: Request) -> NodeOperations:
    return billow_of(request).nodes


def _tags(request: Request) -> TagService:
    return billow_of(request).tags


def _custom_fields(request: Request) -> CustomFieldService:
    return billow_of(request).custom_fields


def _usages(request: Request) -> UsageService:
    return billow_of(request).usage


def _payments(request: Request) -> PaymentStack:
    return billow_of(request).payment


App = Annotated[Billow, Depends(billow_of)]
Accounts = Annotated[AccountService, Depends(_accounts)]
Tenants = Annotated[TenantService, Depends(_tenants)]
Catalogs = Annotated[CatalogService, Depends(_catalogs)]
Entitlements = Annotated[EntitlementService, Depends(_entitlements)]
Invoices = Annotated[InvoiceService, Depends(_invoices)]
Presentation = Annotated[InvoicePresenter, Depends(_presentation)]
Push = Annotated[PushNotificationService, Depends(_push)]
Security = Annotated[SecurityService, Depends(_security)]
Queues = Annotated[QueueAdmin, Depends(_queues)]
Caches = Annotated[CacheAdmin, Depends(_caches)]
Export = Annotated[AccountExport, Depends(_export)]
Closing = Annotated[AccountClosing, Depends(_closing)]
Nodes = Annotated[NodeOperations, Depends(_nodes)]
Tags = Annotated[TagService, Depends(_tags)]
CustomFields = Annotated[CustomFieldService, Depends(_custom_fields)]
Usages = Annotated[UsageService, Depends(_usages)]
Payments = Annotated[PaymentStack, Depends(_payments)]
