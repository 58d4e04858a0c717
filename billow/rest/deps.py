"""Typed access to the services for routes (FastAPI dependencies): `accounts: Accounts` in a route's
signature gives the `AccountService` of the `Billow` the app serves, and mypy follows the route into it.

They are `async def`, as every dependency that neither waits nor reads: FastAPI runs a plain `def` dependency in
a worker thread, one hand-off per dependency per request, and on a busy server each hand-off waits for the GIL.
Routes stay plain `def` (they read the database) and run in the thread pool."""

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


async def _billow(request: Request) -> Billow:
    return billow_of(request)


async def _accounts(request: Request) -> AccountService:
    return billow_of(request).accounts


async def _tenants(request: Request) -> TenantService:
    return billow_of(request).tenants


async def _catalogs(request: Request) -> CatalogService:
    return billow_of(request).catalogs


async def _entitlements(request: Request) -> EntitlementService:
    return billow_of(request).entitlements


async def _invoices(request: Request) -> InvoiceService:
    return billow_of(request).invoices


async def _presentation(request: Request) -> InvoicePresenter:
    return billow_of(request).presentation


async def _push(request: Request) -> PushNotificationService:
    return billow_of(request).push


async def _security(request: Request) -> SecurityService:
    return billow_of(request).security


async def _queues(request: Request) -> QueueAdmin:
    return billow_of(request).queues


async def _caches(request: Request) -> CacheAdmin:
    return billow_of(request).caches


async def _export(request: Request) -> AccountExport:
    return billow_of(request).export


async def _closing(request: Request) -> AccountClosing:
    return billow_of(request).closing


async def _nodes(request: Request) -> NodeOperations:
    return billow_of(request).nodes


async def _tags(request: Request) -> TagService:
    return billow_of(request).tags


async def _custom_fields(request: Request) -> CustomFieldService:
    return billow_of(request).custom_fields


async def _usages(request: Request) -> UsageService:
    return billow_of(request).usage


async def _payments(request: Request) -> PaymentStack:
    return billow_of(request).payment


App = Annotated[Billow, Depends(_billow)]
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
