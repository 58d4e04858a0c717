"""Kill Bill's object types, and how a service low in the stack learns which account an object belongs to.

Tags and custom fields hang on objects of services above them (bundles, subscriptions, invoices, payments).
They may not import those services, so the application hands them *owner resolvers*: for each object type,
a function of the caller's unit of work and an object id that returns the object's account, or raises
Kill Bill's `ObjectDoesNotExist` (also for an object of another tenant: every look-up is tenant-scoped).
Kill Bill does the same look-up in `InternalCallContextFactory.getAccountRecordIdSafe`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from billow.core.db.uow import UnitOfWork
from billow.core.errors import BillowError, NotFound


class ObjectType(StrEnum):
    """Kill Bill's `org.killbill.billing.ObjectType`, in its declaration order."""

    ACCOUNT = "ACCOUNT"
    ACCOUNT_EMAIL = "ACCOUNT_EMAIL"
    BLOCKING_STATES = "BLOCKING_STATES"
    BUNDLE = "BUNDLE"
    CUSTOM_FIELD = "CUSTOM_FIELD"
    INVOICE = "INVOICE"
    PAYMENT = "PAYMENT"
    TRANSACTION = "TRANSACTION"
    INVOICE_ITEM = "INVOICE_ITEM"
    INVOICE_PAYMENT = "INVOICE_PAYMENT"
    SUBSCRIPTION = "SUBSCRIPTION"
    SUBSCRIPTION_EVENT = "SUBSCRIPTION_EVENT"
    SERVICE_BROADCAST = "SERVICE_BROADCAST"
    PAYMENT_ATTEMPT = "PAYMENT_ATTEMPT"
    PAYMENT_METHOD = "PAYMENT_METHOD"
    TAG = "TAG"
    TAG_DEFINITION = "TAG_DEFINITION"
    TENANT = "TENANT"
    TENANT_KVS = "TENANT_KVS"


@dataclass(frozen=True, slots=True)
class ObjectOwner:
    """The account an object belongs to: its record id (rows carry it) and its id (events carry it)."""

    account_record_id: int
    account_id: str


# object id -> its account, in the caller's unit of work; raises `object_does_not_exist`
OwnerOf = Callable[[UnitOfWork, str], ObjectOwner]
OwnerResolvers = Mapping[ObjectType, OwnerOf]

OBJECT_DOES_NOT_EXIST = "org.killbill.billing.util.callcontext.InternalCallContextFactory$ObjectDoesNotExist"


def object_does_not_exist(object_id: str, object_type: ObjectType) -> NotFound:
    """Kill Bill's `ObjectDoesNotExist` (an `IllegalStateException` its mapper answers with 404)."""
    return NotFound(f"Object id={object_id} type={object_type.value} doesn't exist!", class_name=OBJECT_DOES_NOT_EXIST)


def owner_resolver(object_type: ObjectType, lookup: OwnerOf) -> OwnerOf:
    """A resolver from a service's own look-up: its not-found (any 404) becomes `ObjectDoesNotExist`."""

    def resolve(uow: UnitOfWork, object_id: str) -> ObjectOwner:
        try:
            return lookup(uow, object_id)
        except BillowError as e:
            if e.status == 404:
                raise object_does_not_exist(object_id, object_type) from None
            raise

    return resolve


def resolve_owner(resolvers: OwnerResolvers, uow: UnitOfWork, object_type: ObjectType, object_id: str
                  ) -> ObjectOwner:
    """The account of an object; an object type without a resolver has no objects yet (payments before the
    payment service exists): not found."""
    resolver = resolvers.get(object_type)
    if resolver is None:
        raise object_does_not_exist(object_id, object_type)
    return resolver(uow, object_id)


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a paginated list (Kill Bill's `Pagination`): `total` records match, `max_records` exist."""

    items: list[T]
    offset: int
    limit: int
    total: int
    max_records: int
