"""The account service's errors, with Kill Bill's exception class and codes (`ErrorCode.java`)."""

from __future__ import annotations

from billow.core.errors import Conflict, NotFound

ACCOUNT_EXCEPTION = "org.killbill.billing.account.api.AccountApiException"
ACCOUNT_ALREADY_EXISTS = 3000
ACCOUNT_DOES_NOT_EXIST_FOR_ID = 3002
ACCOUNT_DOES_NOT_EXIST_FOR_KEY = 3003


def account_not_found(account_id: str) -> NotFound:
    return NotFound(f"Account does not exist for id {account_id}", code=ACCOUNT_DOES_NOT_EXIST_FOR_ID,
                    class_name=ACCOUNT_EXCEPTION)


def account_record_not_found(record_id: int) -> NotFound:
    return NotFound(f"Account does not exist for record id {record_id}", code=ACCOUNT_DOES_NOT_EXIST_FOR_ID,
                    class_name=ACCOUNT_EXCEPTION)


def account_key_not_found(external_key: str) -> NotFound:
    return NotFound(f"Account does not exist for key {external_key}", code=ACCOUNT_DOES_NOT_EXIST_FOR_KEY,
                    class_name=ACCOUNT_EXCEPTION)


def account_exists(external_key: str) -> Conflict:
    return Conflict(f"Account already exists for key {external_key}", code=ACCOUNT_ALREADY_EXISTS,
                    class_name=ACCOUNT_EXCEPTION)
