"""The email service: records the emails events ask for, sends them from the notification queue, and shows what
was sent.

Recording happens in the event's unit of work (`record`), so an email is asked for exactly once per event; sending
(`send`, the `email-send` queue's handler) runs outside any transaction and moves an email through PENDING →
SENDING → SENT (or back to PENDING with a retry scheduled, or FAILED, or UNKNOWN), each move audited.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.core import failpoints
from billow.core.bus.bus import Bus, Notification
from billow.core.context import CallContext, internal_context
from billow.core.db import Database, UnitOfWork
from billow.core.db.audit_read import AuditLogEntry, audit_logs
from billow.email import render, store
from billow.email.model import PLUGIN_NAME, TEMPLATE_OF, EmailEvent, EmailNotification, EmailStatus, Template
from billow.email.settings import NO_SETTINGS, EmailSettings, parse_settings
from billow.email.smtp import FileTransport, PermanentFailure, SmtpTransport, TemporaryFailure, Transport, Uncertain
from billow.invoice.internal import InvoiceInternalApi
from billow.invoice.model import Invoice
from billow.invoice.presentation import mustache
from billow.invoice.presentation.bundles import DEFAULT_LOCALE
from billow.invoice.presentation.pdf import html_to_pdf
from billow.invoice.presentation.renderer import prepare
from billow.invoice.presentation.service import InvoicePresenter
from billow.invoice.presentation.view import Reader, day, money, reader_for
from billow.payment.plugin_api import PluginConfig
from billow.tenant.internal import TenantInternalApi
from billow.tenant.parsed import ParsedTenantValues

log = logging.getLogger(__name__)

SEND_QUEUE = "email-send"
USER_NAME = "EmailNotifier"
CONFIG_KEY = f"PLUGIN_CONFIG_{PLUGIN_NAME}"


@dataclass(frozen=True, slots=True)
class Asked:
    """An email an event asks for."""

    account: Account
    event: EmailEvent
    object_id: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Composed:
    message: EmailMessage
    sender: str
    recipients: list[str]
    subject: str


class EmailService:
    def __init__(self, db: Database, bus: Bus, tenants: TenantInternalApi, accounts: AccountInternalApi,
                 invoices: InvoiceInternalApi, presenter: InvoicePresenter) -> None:
        self.db = db
        self.bus = bus
        self.tenants = tenants
        self.accounts = accounts
        self.invoices = invoices
        self.presenter = presenter
        self._settings = ParsedTenantValues(tenants, CONFIG_KEY, self._parse)
        self._said: set[tuple[int, str]] = set()  # (tenant, what): said once in the log
        self._lock = threading.Lock()
        # how a message leaves: the tenant's SMTP server, or files (tests and embedders may replace it)
        self.transport_for = self._transport

    # -- settings ------------------------------------------------------------------------------
    def settings(self, uow: UnitOfWork) -> EmailSettings:
        """The tenant's settings, parsed once per stored change (one indexed query on the caller's connection)."""
        return self._settings.get(uow)

    def _parse(self, uow: UnitOfWork, values: list[str]) -> EmailSettings:
        if not values:
            return NO_SETTINGS
        try:
            return parse_settings(PluginConfig.parse(PLUGIN_NAME, values[0]).values)
        except ValueError as exc:  # stored before it was checked at upload: nothing is sent, said once
            self._say_once(uow.tenant, "bad", "tenant %s: the email settings are not valid (%s): no email is sent",
                           uow.tenant, exc)
            return NO_SETTINGS

    def forget(self, tenant_record_id: int | None = None) -> None:
        self._settings.forget(tenant_record_id)

    def _say_once(self, tenant: int, what: str, message: str, *args: Any) -> None:
        with self._lock:
            if (tenant, what) in self._said:
                return
            self._said.add((tenant, what))
        log.warning(message, *args)

    def no_settings(self, uow: UnitOfWork) -> None:
        """Says once in the log (per tenant and process) that this tenant sends nothing."""
        self._say_once(uow.tenant, "none", "tenant %s: no SMTP settings (the plugin configuration of %s has no "
                       "smtp.host, or no smtp.defaultSender): no email is sent", uow.tenant, PLUGIN_NAME)

    # -- recording (the event's unit of work) --------------------------------------------------
    def record(self, uow: UnitOfWork, asked: Sequence[Asked]) -> list[str]:
        """Records the emails these events ask for, for the accounts that have an email address, and schedules
        their sending; the ids of the emails recorded. A tenant that sends nothing records nothing."""
        settings = self.settings(uow)
        wanted = [a for a in asked if a.event in settings.events]
        if not wanted:
            return []
        if not settings.sends:
            self.no_settings(uow)
            return []
        # Kill Bill's plugin: an account without an email address gets none
        wanted = [a for a in wanted if a.account.email]
        rows = uow.insert_many("email_notifications", [{
            "account_record_id": a.account.record_id, "account_id": a.account.id, "event_type": a.event.value,
            "template": TEMPLATE_OF[a.event].value, "object_id": a.object_id,
            "details": json.dumps(a.details, separators=(",", ":"), sort_keys=True),
            "status": EmailStatus.PENDING.value, "attempts": 0, "recipients": None, "subject": None,
            "message_id": None, "last_error": None, "sent_date": None} for a in wanted])
        self.bus.schedule_many(uow, SEND_QUEUE, [({"email_id": r["id"]}, uow.now, r["account_record_id"])
                                                 for r in rows])
        return [r["id"] for r in rows]

    # -- sending (the notification queue, outside any transaction) ----------------------------
    def send(self, notification: Notification) -> None:
        if notification.tenant_record_id is None:
            return
        email_id = str(notification.payload["email_id"])
        ctx = internal_context(notification.tenant_record_id, user_name=USER_NAME,
                               user_token=notification.user_token)
        with self.db.read(ctx) as uow:
            email = store.by_id(uow.conn, uow.tenant, email_id)
            if email is None or email.status not in (EmailStatus.PENDING, EmailStatus.SENDING):
                return
            settings = self.settings(uow)
            composed = None
            if email.status is EmailStatus.PENDING and settings.sends:
                composed = self._compose(uow, email, settings)
        if email.status is EmailStatus.SENDING:
            # the node sending it died while the server was taking it: it may have arrived, so never again
            self._finish(ctx, email, EmailStatus.UNKNOWN, "the sending node stopped while the server was taking "
                         "the message; not sent again")
            return
        if composed is None:
            self._finish(ctx, email, EmailStatus.FAILED, "no SMTP settings for this tenant")
            return
        transport = self.transport_for(settings, email)
        try:
            transport.open(composed.message, composed.sender, composed.recipients)
        except TemporaryFailure as exc:
            self._retry(ctx, email, settings, str(exc), attempted=False)
            return
        except PermanentFailure as exc:
            self._finish(ctx, email, EmailStatus.FAILED, str(exc), attempted=True)
            return
        try:
            if not self._start(ctx, email, composed):
                return
            failpoints.hit("email.before_data")
            try:
                transport.deliver()
            except TemporaryFailure as exc:
                self._retry(ctx, email, settings, str(exc), attempted=True)
                return
            except PermanentFailure as exc:
                self._finish(ctx, email, EmailStatus.FAILED, str(exc))
                return
            except Uncertain as exc:
                self._finish(ctx, email, EmailStatus.UNKNOWN, str(exc))
                return
            failpoints.hit("email.after_data")
            self._finish(ctx, email, EmailStatus.SENT, None)
        finally:
            transport.close()

    def _transport(self, settings: EmailSettings, email: EmailNotification) -> Transport:
        if settings.file_directory is not None:
            return FileTransport(settings.file_directory, email.id)
        assert settings.smtp is not None
        return SmtpTransport(settings.smtp)

    def _start(self, ctx: CallContext, email: EmailNotification, composed: _Composed) -> bool:
        """PENDING → SENDING, under the account's lock (two nodes never both send); False if it was not PENDING."""
        with self.db.transaction(ctx) as uow:
            uow.lock_account(email.account_record_id)
            now = store.by_id(uow.conn, uow.tenant, email.id)
            if now is None or now.status is not EmailStatus.PENDING:
                return False
            uow.update("email_notifications", email.record_id, {
                "status": EmailStatus.SENDING.value, "attempts": now.attempts + 1,
                "recipients": ", ".join(composed.recipients), "subject": composed.subject,
                "message_id": composed.message["Message-ID"], "last_error": None})
        return True

    def _finish(self, ctx: CallContext, email: EmailNotification, status: EmailStatus, error: str | None, *,
                attempted: bool = False) -> None:
        with self.db.transaction(ctx) as uow:
            uow.lock_account(email.account_record_id)
            now = store.by_id(uow.conn, uow.tenant, email.id)
            if now is None or now.status in (EmailStatus.SENT, EmailStatus.FAILED, EmailStatus.UNKNOWN):
                return
            changes: dict[str, Any] = {"status": status.value, "last_error": error and error[:512]}
            if attempted:
                changes["attempts"] = now.attempts + 1
            if status is EmailStatus.SENT:
                changes["sent_date"] = uow.now
            uow.update("email_notifications", email.record_id, changes)
        if status is not EmailStatus.SENT:
            log.warning("email %s (%s) of account %s: %s: %s", email.id, email.event_type, email.account_id,
                        status.value, error)

    def _retry(self, ctx: CallContext, email: EmailNotification, settings: EmailSettings, error: str, *,
               attempted: bool) -> None:
        """A temporary failure: PENDING again with the next retry scheduled, or FAILED once the retries are spent.
        `attempted` is False when the failure came before the attempt was counted (connecting, MAIL, RCPT)."""
        with self.db.transaction(ctx) as uow:
            uow.lock_account(email.account_record_id)
            now = store.by_id(uow.conn, uow.tenant, email.id)
            if now is None or now.status not in (EmailStatus.PENDING, EmailStatus.SENDING):
                return
            attempts = now.attempts if attempted else now.attempts + 1
            if attempts > len(settings.retries):
                uow.update("email_notifications", email.record_id, {
                    "status": EmailStatus.FAILED.value, "attempts": attempts,
                    "last_error": f"{error} (after {attempts} attempts)"[:512]})
                log.warning("email %s of account %s failed after %d attempts: %s", email.id, email.account_id,
                            attempts, error)
                return
            uow.update("email_notifications", email.record_id, {
                "status": EmailStatus.PENDING.value, "attempts": attempts, "last_error": error[:512]})
            when: datetime = uow.now + settings.retries[attempts - 1]
            self.bus.schedule(uow, SEND_QUEUE, {"email_id": email.id}, when,
                              account_record_id=email.account_record_id)
        log.info("email %s of account %s: temporary failure (%s), retried at %s", email.id, email.account_id,
                 error, when.isoformat())

    # -- composing -------------------------------------------------------------------------------
    def _compose(self, uow: UnitOfWork, email: EmailNotification, settings: EmailSettings) -> _Composed:
        account = self.accounts.by_record_id(uow, email.account_record_id)
        reader = reader_for(account)
        locale = str(reader.java)
        text = render.labels(reader, self.tenants.first_value(uow, render.translation_key(locale)),
                             self.tenants.first_value(uow, render.translation_key(DEFAULT_LOCALE)))
        data: dict[str, Any] = {"account": mustache.account_data(account)}
        invoice: Invoice | None = None
        if email.object_id is not None and email.template in (Template.INVOICE_CREATION,
                                                              Template.SUCCESSFUL_PAYMENT, Template.FAILED_PAYMENT):
            invoice = self.invoices.get(uow, email.object_id)
            p = prepare(invoice, account, locale=locale)
            data["invoice"] = mustache.kill_bill_data(invoice, account, p.reader, p.labels, p.names, p.view)["invoice"]
        d = email.details
        currency = d.get("currency") or account.currency or "USD"
        if email.template in (Template.SUCCESSFUL_PAYMENT, Template.FAILED_PAYMENT):
            amount = Decimal(str(d["amount"])) if d.get("amount") is not None else None
            data["payment"] = {"id": d.get("paymentId"), "amount": None if amount is None else str(amount),
                               "currency": currency, "formattedAmount": money(amount, currency, reader)}
        if email.template is Template.UPCOMING_INVOICE:
            owed = Decimal(str(d["amountOwed"])) if d.get("amountOwed") is not None else None
            data["upcoming"] = {"targetDate": d.get("targetDate"),
                                "formattedTargetDate": _day(d.get("targetDate"), reader),
                                "amountOwed": None if owed is None else str(owed),
                                "formattedAmountOwed": money(owed, currency, reader)}
        clear = False
        if email.template is Template.OVERDUE_STATE:
            clear = bool(d.get("isClear"))
            balance, _ = self.invoices.balances(uow, account)
            data["overdue"] = {"stateName": d.get("state"), "previousStateName": d.get("previousState"),
                               "externalMessage": d.get("externalMessage") or "", "isClear": clear,
                               "accountBalance": str(balance),
                               "formattedAccountBalance": money(balance, account.currency or currency, reader)}
        uploaded = self.tenants.first_value(uow, render.template_key(email.template, locale))
        rendered = render.render(email.template, data, text, tenant_template=uploaded, send_html=settings.send_html,
                                 clear=clear)
        recipients = _unique([account.email or "", *self.accounts.emails(uow, account)])
        assert settings.sender is not None
        message = EmailMessage()
        message["From"] = settings.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = rendered.subject
        message["Date"] = format_datetime(uow.now)
        message["Message-ID"] = make_msgid(idstring=email.id, domain=settings.sender.rsplit("@", 1)[1])
        message.set_content(rendered.body, subtype="html" if rendered.html else "plain")
        if invoice is not None and settings.attach_invoice:
            pdf = html_to_pdf(self.presenter.html_in(uow, invoice, account, locale=locale, pdf=True))
            message.add_attachment(pdf, maintype="application", subtype="pdf",
                                   filename=f"invoice-{invoice.invoice_number or invoice.id}.pdf")
        return _Composed(message, settings.sender, recipients, rendered.subject)

    # -- reading ----------------------------------------------------------------------------------
    def of_account(self, ctx: CallContext, account_id: str, *, audit: str = "NONE", with_history: bool = False
                   ) -> list[tuple[EmailNotification, list[AuditLogEntry]]]:
        with self.db.read(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            emails = store.of_account(uow.conn, uow.tenant, account.record_id)
            logs = audit_logs(uow.conn, uow.tenant, "email_notifications", [e.record_id for e in emails],
                              level=audit, with_history=with_history)
        return [(e, logs.get(e.record_id, [])) for e in emails]


def _unique(addresses: Sequence[str]) -> list[str]:
    seen: dict[str, str] = {}
    for a in addresses:
        a = a.strip()
        if a and a.lower() not in seen:
            seen[a.lower()] = a
    return list(seen.values())


def _day(text: Any, reader: Reader) -> str:
    if not text:
        return ""
    try:
        return day(date.fromisoformat(str(text)), reader)
    except ValueError:
        return str(text)
