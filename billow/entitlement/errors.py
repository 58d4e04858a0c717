"""The entitlement service's errors, with Kill Bill's exception classes and codes (`ErrorCode.java`)."""

from __future__ import annotations

from billow.catalog.errors import CATALOG_EXCEPTION, CatalogApiError
from billow.core.errors import BillowError, NotFound

SUBSCRIPTION_EXCEPTION = "org.killbill.billing.subscription.api.user.SubscriptionBaseApiException"
ENTITLEMENT_EXCEPTION = "org.killbill.billing.entitlement.api.EntitlementApiException"
BLOCKING_EXCEPTION = "org.killbill.billing.entitlement.api.BlockingApiException"


def sub_error(code: int, message: str, status: int = 400) -> BillowError:
    return BillowError(message, code=code, class_name=SUBSCRIPTION_EXCEPTION, status=status)


def entitlement_error(code: int, message: str, status: int = 400) -> BillowError:
    return BillowError(message, code=code, class_name=ENTITLEMENT_EXCEPTION, status=status)


def subscription_not_found(subscription_id: str) -> NotFound:
    return NotFound(f"Unknown subscription {subscription_id}", code=1082, class_name=SUBSCRIPTION_EXCEPTION)


def bundle_not_found(bundle_id: str) -> NotFound:
    return NotFound(f"Could not find a bundle matching id {bundle_id}", code=1081, class_name=SUBSCRIPTION_EXCEPTION)


def bundle_key_not_found(external_key: str) -> NotFound:
    return NotFound(f"Could not find a bundle matching key {external_key}", code=1083,
                    class_name=SUBSCRIPTION_EXCEPTION)


def catalog_error(exc: CatalogApiError) -> BillowError:
    return BillowError(exc.message, code=exc.code, class_name=CATALOG_EXCEPTION, status=400)


def no_catalog() -> BillowError:
    return BillowError("There is no catalog for this tenant: upload one first", code=2050,
                       class_name=CATALOG_EXCEPTION, status=400)
