"""The usage service's errors, with Kill Bill's exception class names and codes (`ErrorCode.java`)."""

from __future__ import annotations

from billow.core.errors import BillowError, InvalidInput

USAGE_API_EXCEPTION = "org.killbill.billing.usage.api.UsageApiException"


class TrackingIdAlreadyRecorded(BillowError):
    """`USAGE_RECORD_TRACKING_ID_ALREADY_EXISTS` (50000): a second record with a tracking id the subscription
    already has (`DefaultUsageUserApi.recordRolledUpUsage`); nothing of the request is recorded."""

    status = 400

    def __init__(self, tracking_id: str) -> None:
        super().__init__(f"A usage record with tracking ID {tracking_id} already exists", code=50000,
                         class_name=USAGE_API_EXCEPTION)
        self.tracking_id = tracking_id


class TrackingIdRace(Exception):
    """A concurrent request recorded the same (subscription, tracking id) first: the unique index refused ours.
    Raised by the store; the transaction is rolled back and the service answers as for a known duplicate."""


class UsageAfterEntitlementEnd(InvalidInput):
    """`UsageResource.recordUsage`: a record dated after the subscription's entitlement end is refused (Kill Bill
    answers a bare 400); we name the problem."""

    def __init__(self, subscription_id: str, record_date: str, end: str) -> None:
        super().__init__(f"usageRecords.recordDate: {record_date} is after the end of subscription "
                         f"{subscription_id}'s entitlement ({end})")


class UsageRatingError(Exception):
    """Rating cannot go on (Kill Bill's `InvoiceApiException UNEXPECTED_ERROR` "ILLEGAL INVOICING STATE", or the
    `IllegalStateException`s of its usage classes): the invoice run fails and the account is parked."""
