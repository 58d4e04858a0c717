"""The invoice service's errors, with Kill Bill's exception class and codes (`ErrorCode.java`)."""

from __future__ import annotations

from datetime import date

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
