"""What an email notification is: the kinds a tenant switches on, their templates, and a recorded email."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PLUGIN_NAME = "killbill-email-notifications"  # Kill Bill's EmailNotificationActivator.PLUGIN_NAME


class EmailEvent(enum.StrEnum):
    """The events an email can follow (Kill Bill's `ExtBusEventType` names; OVERDUE_CHANGE is Billow's)."""

    INVOICE_CREATION = "INVOICE_CREATION"
    INVOICE_NOTIFICATION = "INVOICE_NOTIFICATION"  # an upcoming invoice (dryRunNotificationSchedule)
    INVOICE_PAYMENT_SUCCESS = "INVOICE_PAYMENT_SUCCESS"
    INVOICE_PAYMENT_FAILED = "INVOICE_PAYMENT_FAILED"
    OVERDUE_CHANGE = "OVERDUE_CHANGE"


class Template(enum.StrEnum):
    """Kill Bill's `TemplateType` names (the tenant key of an uploaded template is `<plugin>:<name>_<locale>`),
    with the translation key of each one's subject; OVERDUE_STATE is Billow's."""

    INVOICE_CREATION = "INVOICE_CREATION"
    UPCOMING_INVOICE = "UPCOMING_INVOICE"
    SUCCESSFUL_PAYMENT = "SUCCESSFUL_PAYMENT"
    FAILED_PAYMENT = "FAILED_PAYMENT"
    OVERDUE_STATE = "OVERDUE_STATE"

    @property
    def subject_key(self) -> str:
        head, *rest = self.value.lower().split("_")
        return head + "".join(p.title() for p in rest) + "Subject"  # e.g. failedPaymentSubject

    @property
    def attaches_invoice(self) -> bool:
        return self in (Template.INVOICE_CREATION, Template.SUCCESSFUL_PAYMENT, Template.FAILED_PAYMENT)


TEMPLATE_OF: dict[EmailEvent, Template] = {
    EmailEvent.INVOICE_CREATION: Template.INVOICE_CREATION,
    EmailEvent.INVOICE_NOTIFICATION: Template.UPCOMING_INVOICE,
    EmailEvent.INVOICE_PAYMENT_SUCCESS: Template.SUCCESSFUL_PAYMENT,
    EmailEvent.INVOICE_PAYMENT_FAILED: Template.FAILED_PAYMENT,
    EmailEvent.OVERDUE_CHANGE: Template.OVERDUE_STATE,
}


class EmailStatus(enum.StrEnum):
    PENDING = "PENDING"  # to be sent (first time, or a retry after a temporary failure)
    SENDING = "SENDING"  # its message is being handed to the SMTP server
    SENT = "SENT"  # the server accepted it
    FAILED = "FAILED"  # refused for good (5xx), or its retries are spent
    UNKNOWN = "UNKNOWN"  # the node died, or the connection broke, while the server was taking it: never resent


@dataclass(frozen=True, slots=True)
class EmailNotification:
    record_id: int
    id: str
    account_record_id: int
    account_id: str
    event_type: str
    template: Template
    object_id: str | None
    details: dict[str, Any]
    status: EmailStatus
    attempts: int
    recipients: str | None
    subject: str | None
    message_id: str | None
    last_error: str | None
    sent_date: datetime | None
    created_date: datetime
    updated_date: datetime
