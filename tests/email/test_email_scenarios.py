"""Emails on the test clock, both databases, against a local SMTP server: an invoice email in French with its PDF
to every address of the account, payment emails, overdue emails, a temporary failure retried on the tenant's
schedule, a refusal, a tenant's own template and labels, and a tenant without SMTP settings."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from decimal import Decimal

import pypdf
import pytest

from billow.email.model import PLUGIN_NAME, EmailStatus, Template
from tests.email.conftest import MailWorld
from tests.overdue.test_overdue_scenario import CONFIG as OVERDUE_CONFIG


def _body(message) -> str:  # type: ignore[no-untyped-def]
    return message.get_body(preferencelist=("plain", "html")).get_content()


def test_invoice_email_in_french_with_its_pdf_to_every_address(mw: MailWorld) -> None:
    mw.w.create("silver-monthly")  # 2024-01-15: $20 invoiced; no payment method, so no payment email
    [sent] = mw.emails()
    invoice = mw.kb.invoices.get(mw.ctx, sent.object_id)
    assert (sent.event_type, sent.template, sent.status, sent.attempts) == (
        "INVOICE_CREATION", Template.INVOICE_CREATION, EmailStatus.SENT, 1)
    assert sent.sent_date == mw.w.clock.utcnow()
    [message] = mw.messages
    tag = mw.address.split(".")[1].split("@")[0]
    both = [f"camille.{tag}@example.fr", f"compta.{tag}@example.fr"]
    assert mw.envelopes == [("billing@example.com", both)]
    assert message["To"] == ", ".join(both)
    assert message["From"] == "billing@example.com"
    assert message["Subject"] == "Vous avez une nouvelle facture" == sent.subject
    assert message["Message-ID"] == sent.message_id and sent.id in sent.message_id
    body = _body(message)
    assert body.startswith("Bonjour Camille Martin,")
    assert f"Facture n°{invoice.invoice_number}" in body
    assert "Total: 20,00\u00a0$US" in body  # Babel's fr_FR format of USD 20.00
    assert "Reste à payer: 20,00\u00a0$US" in body
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"invoice-{invoice.invoice_number}.pdf"
    pdf = pypdf.PdfReader(io.BytesIO(attachment.get_content()))
    text = "".join(page.extract_text() for page in pdf.pages)
    assert "20,00" in text and str(invoice.invoice_number) in text


def test_the_sending_is_audited_and_read_over_the_api(mw: MailWorld) -> None:
    mw.w.create("silver-monthly")
    mw.emails()
    [(email, logs)] = [(e, logs) for e, logs in mw.kb.emails.of_account(mw.ctx, mw.account_id, audit="FULL",
                                                                                  with_history=True)]
    assert email.status is EmailStatus.SENT
    assert [(entry.change_type, entry.history["status"] if entry.history else None) for entry in logs] == [
        ("INSERT", "PENDING"), ("UPDATE", "SENDING"), ("UPDATE", "SENT")]
    assert {entry.changed_by for entry in logs[1:]} == {"EmailNotifier"}


def test_a_temporary_failure_is_retried_on_the_tenants_schedule(mw: MailWorld) -> None:
    mw.configure_email(mw_port(mw), retries="10m,1h")
    mw.refuse("451 4.3.0 Try again later")
    mw.w.create("silver-monthly")
    [email] = mw.emails()
    assert (email.status, email.attempts) == (EmailStatus.PENDING, 1)
    assert email.last_error is not None and "451" in email.last_error
    assert mw.messages == []
    mw.w.advance(minutes=9)
    assert mw.emails()[0].status is EmailStatus.PENDING  # not before its retry date
    mw.w.advance(minutes=1)
    [email] = mw.emails()
    assert (email.status, email.attempts, email.last_error) == (EmailStatus.SENT, 2, None)
    assert len(mw.messages) == 1


def test_retries_spent_or_a_refusal_for_good_fail_the_email(mw: MailWorld) -> None:
    mw.configure_email(mw_port(mw), retries="10m")
    mw.refuse("451 4.3.0 Try again later", "452 4.2.2 Mailbox full")
    mw.w.create("silver-monthly")
    assert mw.emails()[0].status is EmailStatus.PENDING
    mw.w.advance(minutes=10)
    [email] = mw.emails()
    assert (email.status, email.attempts) == (EmailStatus.FAILED, 2)
    assert email.last_error is not None and "452" in email.last_error and "after 2 attempts" in email.last_error

    mw.refuse("554 5.7.1 Message rejected")
    charge(mw, "5.00")  # a second invoice: refused for good at once, never retried
    failed = [e for e in mw.emails() if e.status is EmailStatus.FAILED]
    assert len(failed) == 2 and failed[1].attempts == 1 and "554" in (failed[1].last_error or "")
    mw.w.advance(days=2)
    assert mw.messages == []


def test_payment_emails_follow_the_payments(mw: MailWorld) -> None:
    mw.add_method()
    mw.w.create("silver-monthly")  # paid at once
    emails = mw.emails()
    assert [e.template for e in emails] == [Template.INVOICE_CREATION, Template.SUCCESSFUL_PAYMENT]
    paid = mw.messages[1]
    assert paid["Subject"] == "Confirmation de paiement"
    assert "Montant payé: 20,00\u00a0$US" in _body(paid)
    assert "Reste à payer: 0,00\u00a0$US" in _body(paid)

    mw.configure("ACTION_RETURN_PLUGIN_STATUS_ERROR", METHODS="purchasePayment")
    invoice = charge(mw, "7.50")
    failed = mw.emails()[-1]
    assert (failed.template, failed.object_id, failed.status) == (Template.FAILED_PAYMENT, invoice, EmailStatus.SENT)
    assert mw.messages[-1]["Subject"] == "Échec du paiement"
    assert "Montant dû: 7,50\u00a0$US" in _body(mw.messages[-1])


def test_overdue_states_are_emailed_with_their_message_and_the_way_back(mw: MailWorld) -> None:
    mw.configure_email(mw_port(mw), events="OVERDUE_CHANGE")
    mw.kb.overdue.upload_xml(mw.ctx, OVERDUE_CONFIG)
    mw.add_method()
    mw.configure("ACTION_RETURN_PLUGIN_STATUS_ERROR", METHODS="purchasePayment")
    mw.w.create("silver-monthly")  # 2024-01-15, declined
    assert mw.emails() == []
    while mw.w.clock.utcnow().date().isoformat() < "2024-02-14":
        mw.w.advance(days=1)
    [warning] = mw.emails()
    assert warning.details == {"previousState": "__KILLBILL__CLEAR__OVERDUE_STATE__", "state": "WARNING",
                               "externalMessage": "Please pay", "isClear": False}
    message = mw.messages[-1]
    assert message["Subject"] == "Votre compte présente un retard de paiement"
    body = _body(message)
    assert "Please pay" in body
    balance, _ = account_balance(mw)
    assert balance == Decimal("20.00")  # January's invoice, declined (February's comes on the 15th)
    assert "Montant dû sur votre compte: 20,00\u00a0$US" in body

    mw.configure("ACTION_CLEAR")
    mw.kb.payment.invoices.pay_all(mw.ctx, mw.account_id)
    cleared = mw.emails()[-1]
    assert cleared.details["isClear"] is True and cleared.status is EmailStatus.SENT
    assert mw.messages[-1]["Subject"] == "Votre compte est à jour"
    assert "ne présente plus de retard" in _body(mw.messages[-1])


def test_a_tenants_own_template_and_labels_for_the_locale(mw: MailWorld) -> None:
    mw.kb.tenants.add_value(mw.ctx, f"{PLUGIN_NAME}:INVOICE_CREATION_fr_FR",
                            "<p>{{text.hello}} {{account.name}}: {{text.invoiceNumber}}{{invoice.invoiceNumber}}, "
                            "{{invoice.formattedBalance}}</p>")
    mw.kb.tenants.add_value(mw.ctx, f"{PLUGIN_NAME}:TEMPLATE_TRANSLATION_fr_FR",
                            "invoiceCreationSubject=Votre facture Acme\nhello=Salut\n")
    mw.configure_email(mw_port(mw), **{"smtp.sendHTMLEmail": "true"})
    mw.w.create("silver-monthly")
    [email] = mw.emails()
    invoice = mw.kb.invoices.get(mw.ctx, email.object_id)
    message = mw.messages[0]
    assert message["Subject"] == "Votre facture Acme"
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert html.get_content().strip() == (f"<p>Salut Camille Martin: Facture n°{invoice.invoice_number}, "
                                          "20,00\u00a0$US</p>")


def test_a_tenant_without_smtp_settings_sends_nothing_and_says_so_once(mw: MailWorld,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    mw.kb.tenants.delete_key(mw.ctx, f"PLUGIN_CONFIG_{PLUGIN_NAME}")
    mw.kb.overdue.upload_xml(mw.ctx, OVERDUE_CONFIG)
    caplog.set_level(logging.WARNING, logger="billow.email.service")
    mw.w.create("silver-monthly")
    while mw.w.clock.utcnow().date().isoformat() < "2024-03-06":  # WARNING, BLOCKED, SUSPENDED: three changes
        mw.w.advance(days=1)
    assert mw.kb.overdue.account_state(mw.ctx, mw.account_id).name == "SUSPENDED"
    assert mw.emails() == [] and mw.messages == []
    said = [r for r in caplog.records if "no SMTP settings" in r.getMessage()
            and f"tenant {mw.ctx.tenant_record_id}:" in r.getMessage()]
    assert len(said) == 1


def test_events_the_tenant_did_not_switch_on_send_nothing(mw: MailWorld) -> None:
    mw.configure_email(mw_port(mw), events="INVOICE_PAYMENT_SUCCESS")
    mw.w.create("silver-monthly")  # an invoice, no payment
    mw.w.advance(days=1)
    assert mw.emails() == [] and mw.messages == []


# -- helpers ---------------------------------------------------------------------------------------------
def mw_port(mw: MailWorld) -> int:
    with mw.kb.db.read(mw.ctx) as uow:
        settings = mw.kb.emails.settings(uow)
    assert settings.smtp is not None
    return settings.smtp.port


def charge(mw: MailWorld, amount: str) -> str:
    return mw.charge(amount).id


def account_balance(mw: MailWorld) -> tuple[Decimal, Decimal]:
    with mw.kb.db.read(mw.ctx) as uow:
        return mw.kb.invoices.internal.balances(uow, mw.kb.accounts.internal.get(uow, mw.account_id))


def test_the_retry_delay_is_counted_from_the_failure(mw: MailWorld) -> None:
    mw.configure_email(mw_port(mw), retries="30m")
    mw.refuse("421 4.7.0 Too busy")
    mw.w.create("silver-monthly")
    assert mw.emails()[0].status is EmailStatus.PENDING
    failed_at = mw.w.clock.utcnow()
    mw.w.advance(minutes=29)
    assert mw.messages == []
    mw.w.advance(minutes=1)
    [email] = mw.emails()
    assert email.status is EmailStatus.SENT and email.sent_date == failed_at + timedelta(minutes=30)


def test_the_upcoming_invoice_email_comes_the_tenants_notice_time_before(mw: MailWorld) -> None:
    """`dryRunNotificationSchedule=2d`: INVOICE_NOTIFICATION two days before the next billing date asks for the
    upcoming-invoice email, with that date and the amount the run will invoice."""
    mw.kb.tenants.upload_config(mw.ctx, json.dumps({"org.killbill.invoice.dryRunNotificationSchedule": "2d"}))
    mw.configure_email(mw_port(mw), events="INVOICE_NOTIFICATION")
    mw.w.create("silver-monthly")  # 2024-01-15, next billing date 2024-02-15
    assert mw.emails() == []
    while mw.w.clock.utcnow().date().isoformat() < "2024-02-14":
        mw.w.advance(days=1)
    [email] = mw.emails()
    assert (email.template, email.details) == (Template.UPCOMING_INVOICE, {
        "targetDate": "2024-02-15", "amountOwed": "20.00", "currency": "USD"})
    [message] = mw.messages
    assert message["Subject"] == "Votre prochaine facture"
    body = _body(message)
    assert "Date: 15 févr. 2024" in body and "Montant prévu: 20,00\u00a0$US" in body
    assert list(message.iter_attachments()) == []  # no invoice exists yet
