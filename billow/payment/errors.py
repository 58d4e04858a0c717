"""The payment service's errors: Kill Bill's `PaymentApiException` codes (`ErrorCode.java`, range 7000) and the
HTTP status `PaymentApiExceptionMapper` gives each."""

from __future__ import annotations

from billow.core.db import leases
from billow.core.errors import BillowError

PAYMENT_EXCEPTION = "org.killbill.billing.payment.api.PaymentApiException"

NO_SUCH_PAYMENT_METHOD = 7000
REFUND_AMOUNT_NEGATIVE_OR_NULL = 7001
NULL_INVOICE = 7017
INTERNAL_ERROR = 7019
NO_SUCH_PAYMENT = 7020
NO_DEFAULT_PAYMENT_METHOD = 7021
DEL_DEFAULT_PAYMENT_METHOD = 7022
NO_SUCH_SUCCESS_PAYMENT = 7024
NO_SUCH_PAYMENT_PLUGIN = 7028
ACTIVE_TRANSACTION_KEY_EXISTS = 7030
INVALID_PARAMETER = 7031
INVALID_OPERATION = 7032
METHOD_DIFFERENT_ACCOUNT_ID = 7033
DIFFERENT_ACCOUNT_ID = 7034
TRANSACTION_DIFFERENT_ACCOUNT_ID = 7035
PLUGIN_TIMEOUT = 7100
PLUGIN_API_ABORTED = 7106
PLUGIN_EXCEPTION = 7199

_STATUS = {NO_SUCH_PAYMENT_METHOD: 404, NO_SUCH_PAYMENT: 404, NO_SUCH_SUCCESS_PAYMENT: 404,
           NO_DEFAULT_PAYMENT_METHOD: 404, INTERNAL_ERROR: 500, PLUGIN_TIMEOUT: 504, PLUGIN_API_ABORTED: 422,
           INVALID_OPERATION: 400}


class PaymentError(BillowError):
    def __init__(self, code: int, message: str, status: int | None = None) -> None:
        super().__init__(message, code=code, class_name=PAYMENT_EXCEPTION, status=status or _STATUS.get(code, 400))


def no_such_method(method_id: str) -> PaymentError:
    return PaymentError(NO_SUCH_PAYMENT_METHOD, f"Payment method {method_id} does not exist")


def no_such_payment(payment_id: str) -> PaymentError:
    return PaymentError(NO_SUCH_PAYMENT, f"Payment {payment_id} does not exist")


def no_such_transaction(transaction_id: str) -> PaymentError:
    return PaymentError(NO_SUCH_PAYMENT, f"Payment transaction {transaction_id} does not exist")


def no_default_method(account_id: str) -> PaymentError:
    return PaymentError(NO_DEFAULT_PAYMENT_METHOD, f"Account {account_id} does not have a default payment method set")


def no_such_plugin(name: str) -> PaymentError:
    return PaymentError(NO_SUCH_PAYMENT_PLUGIN, f"Payment plugin {name} is not registered")


def invalid_operation(kind: str, state: str | None) -> PaymentError:
    return PaymentError(INVALID_OPERATION, f"Invalid payment transition {kind} from state {state}")


def invalid_parameter(name: str, why: str) -> PaymentError:
    return PaymentError(INVALID_PARAMETER, f"Invalid parameter {name}: {why}")


def aborted(why: str) -> PaymentError:
    return PaymentError(PLUGIN_API_ABORTED, f"Control plugin aborted call: {why}")


class PaymentOutcomeError(BillowError):
    """A payment call that was recorded but did not succeed: the REST layer still answers with the payment
    (Location header) and Kill Bill's status for the outcome (402, 502, 503, 504, 400)."""

    def __init__(self, payment_id: str, message: str, status: int, code: int | None = None) -> None:
        super().__init__(message, code=code, class_name=PAYMENT_EXCEPTION, status=status)
        self.payment_id = payment_id


class AccountBusy(PaymentError, leases.AccountBusy):
    """Another payment call of the account holds its lease (Kill Bill's global lock could not be taken): 503, and an
    automatic payment is tried again later."""

    def __init__(self, message: str) -> None:
        super().__init__(INTERNAL_ERROR, message, status=503)
