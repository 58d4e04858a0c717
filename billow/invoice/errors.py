"""The invoice service's errors, with Kill Bill's exception class and codes (`ErrorCode.java`)."""

from __future__ import annotations

from datetime import date

from billow.catalog.errors import ErrorCode as CatalogErrorCode
from billow.core.errors import BillowError, NotFound

INVOICE_EXCEPTION = "org.killbill.billing.invoice.api.InvoiceApiException"


def invoice_error(code: int, message: str, status: int = 400) -> BillowError:
    return BillowError(message, code=code, class_name=INVOICE_EXCEPTION, status=status)


def invoice_not_found(invoice_id: object) -> NotFound:
    return NotFound(f"No invoice could be found for id {invoice_id}.", code=4006, class_name=INVOICE_EXCEPTION)


class NothingToInvoice(BillowError):
    """`INVOICE_NOTHING_TO_DO`: REST answers 404 (createFutureInvoice) or 204 (dry run)."""

    status = 404

    def __init__(self, account_id: str, target: date | None) -> None:
        super().__init__(f"No invoice to generate for account {account_id} and date {target}", code=4007,
                         class_name=INVOICE_EXCEPTION)


# Kill Bill `ErrorCode` names of what an invoice run may raise, for answers that name the error
# (`POST /admin/invoices`: `ErrorCode.fromCode(code).toString()`).
_RUN_ERROR_NAMES = {4: "UNEXPECTED_ERROR", 3002: "ACCOUNT_DOES_NOT_EXIST_FOR_ID", 4006: "INVOICE_NOT_FOUND",
                    4007: "INVOICE_NOTHING_TO_DO", 4022: "INVOICE_ALREADY_COMMITTED"}


def error_name(error: BillowError) -> str:
    """The Kill Bill `ErrorCode` name of an error (UNEXPECTED_ERROR when it has none Billow knows)."""
    if error.code in _RUN_ERROR_NAMES:
        return _RUN_ERROR_NAMES[error.code]
    names = {e.value[0]: e.name for e in CatalogErrorCode}
    return names.get(error.code, "UNEXPECTED_ERROR") if error.code is not None else "UNEXPECTED_ERROR"
