"""The custom-field service's errors, with Kill Bill's exception class and codes (killbill-api `ErrorCode.java`;
`CustomFieldApiException` has no mapper of its own: `BillingExceptionBaseMapper` answers 400)."""

from __future__ import annotations

from billow.core.errors import BillowError, InvalidInput

CUSTOM_FIELD_EXCEPTION = "org.killbill.billing.util.api.CustomFieldApiException"
CUSTOM_FIELD_ALREADY_EXISTS = 9000
CUSTOM_FIELD_DOES_NOT_EXISTS_FOR_ID = 9001
CUSTOM_FIELD_INVALID_UPDATE = 9002


def field_exists(field_id: str) -> BillowError:
    return InvalidInput(f"The custom field {field_id} already exists", code=CUSTOM_FIELD_ALREADY_EXISTS,
                        class_name=CUSTOM_FIELD_EXCEPTION)


def field_not_found(field_id: str) -> BillowError:
    return InvalidInput(f"The custom field does not exists for id {field_id}", code=CUSTOM_FIELD_DOES_NOT_EXISTS_FOR_ID,
                        class_name=CUSTOM_FIELD_EXCEPTION)


def invalid_update(field_id: str, value: str, field: str) -> BillowError:
    """`field` is Kill Bill's name of what differs: ObjectId, ObjectType or FieldName."""
    return InvalidInput(f"Failed to update custom field {field_id}: Invalid value {value} for field {field}",
                        code=CUSTOM_FIELD_INVALID_UPDATE, class_name=CUSTOM_FIELD_EXCEPTION)
