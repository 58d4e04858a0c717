"""The resources whose objects carry tags and custom fields (Kill Bill's `AccountResource`, `BundleResource`,
`SubscriptionResource`, `InvoiceResource`, `InvoiceItemResource`; payments, payment methods and transactions
join when their services exist)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum

from starlette.exceptions import HTTPException

from billow.core.errors import InvalidInput
from billow.core.objects import ObjectType


class TagLookup(Enum):
    """Whether GET .../tags looks the object up first (Kill Bill's resources differ): never (an unknown object
    has no tags), always, only when audit logs are asked for (invoices, killbill#1273), or the `accountId`
    query parameter names the account instead (invoice items)."""

    NEVER = "never"
    ALWAYS = "always"
    WITH_AUDIT = "with_audit"
    ACCOUNT_PARAM = "account_param"


@dataclass(frozen=True, slots=True)
class ObjectResource:
    path: str  # the resource's path
    id_name: str  # its path parameter
    object_type: ObjectType
    name: str  # in operation ids: getAccountTags, createBundleCustomFields, ...
    tag: str  # the OpenAPI tag (Kill Bill's resource)
    tag_lookup: TagLookup


OBJECT_RESOURCES = (
    ObjectResource("/1.0/kb/accounts", "accountId", ObjectType.ACCOUNT, "Account", "Account", TagLookup.NEVER),
    ObjectResource("/1.0/kb/bundles", "bundleId", ObjectType.BUNDLE, "Bundle", "Bundle", TagLookup.ALWAYS),
    ObjectResource("/1.0/kb/subscriptions", "subscriptionId", ObjectType.SUBSCRIPTION, "Subscription",
                   "Subscription", TagLookup.ALWAYS),
    ObjectResource("/1.0/kb/invoices", "invoiceId", ObjectType.INVOICE, "Invoice", "Invoice", TagLookup.WITH_AUDIT),
    ObjectResource("/1.0/kb/invoiceItems", "invoiceItemId", ObjectType.INVOICE_ITEM, "InvoiceItem", "InvoiceItem",
                   TagLookup.ACCOUNT_PARAM),
    ObjectResource("/1.0/kb/payments", "paymentId", ObjectType.PAYMENT, "Payment", "Payment", TagLookup.ALWAYS),
    ObjectResource("/1.0/kb/paymentMethods", "paymentMethodId", ObjectType.PAYMENT_METHOD, "PaymentMethod",
                   "PaymentMethod", TagLookup.NEVER),
    ObjectResource("/1.0/kb/paymentTransactions", "transactionId", ObjectType.TRANSACTION, "Transaction",
                   "PaymentTransaction", TagLookup.ALWAYS),
    ObjectResource("/1.0/kb/invoicePayments", "paymentId", ObjectType.PAYMENT, "InvoicePayment", "InvoicePayment",
                   TagLookup.ALWAYS),
)


def parse_object_type(value: str | None, field: str) -> ObjectType | None:
    """An ObjectType by its exact name (Jersey converts query values with `ObjectType.valueOf`)."""
    if value is None or value == "":
        return None
    try:
        return ObjectType(value)
    except ValueError:
        raise InvalidInput(f"{field}: '{value}' is not an object type "
                           f"({', '.join(t.value for t in ObjectType)})") from None


def repeated(values: list[str] | None) -> list[str]:
    """A repeated query parameter (`tagDef=a&tagDef=b`), also accepting comma-separated values."""
    return [v.strip() for value in values or () for v in value.split(",") if v.strip()]


def path_id(value: str) -> str:
    """An object id in a path, as a UUID's text (lower case). Kill Bill's paths only match UUID-like ids
    (`JaxrsResource.UUID_PATTERN`): anything else is the container's empty 404."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise HTTPException(status_code=404) from None
