"""Emails over HTTP: the settings, templates and bundles a tenant uploads the way Kill Bill's plugin documents
(bad ones refused with 400 naming the problem, nothing kept), and an account's emails read back with their audit."""

from __future__ import annotations

from typing import Any

from tests.conftest import KB, eventually, id_from_location
from tests.email.conftest import SmtpServer, settings_text

CONFIG = "/1.0/kb/tenants/uploadPluginConfig/killbill-email-notifications"
TEXT = {"Content-Type": "text/plain"}


def test_bad_settings_are_refused_and_nothing_is_kept(kb: KB) -> None:
    r = kb.post(CONFIG, content="org.killbill.billing.plugin.email-notifications.smtp.port=twenty-five\n",
                headers=TEXT)
    assert r.status_code == 400
    assert "org.killbill.billing.plugin.email-notifications.smtp.port" in r.json()["message"]
    assert kb.get(CONFIG).json()["values"] == []
    r = kb.post(CONFIG, content="org.killbill.billing.plugin.email-notifications.defaultEvents=SPAM\n", headers=TEXT)
    assert r.status_code == 400 and "unknown event type SPAM" in r.json()["message"]


def test_bad_templates_and_bundles_are_refused(kb: KB) -> None:
    r = kb.post("/1.0/kb/tenants/userKeyValue/killbill-email-notifications:FAILED_PAYMENT_en_US",
                content="{{#invoice}}unclosed", headers=TEXT)
    assert r.status_code == 400 and "template" in r.json()["message"]
    r = kb.post("/1.0/kb/tenants/userKeyValue/killbill-email-notifications:TEMPLATE_TRANSLATION_en_US",
                content="bad=\\u12", headers=TEXT)
    assert r.status_code == 400
    assert kb.get("/1.0/kb/tenants/userKeyValue/killbill-email-notifications:FAILED_PAYMENT_en_US").json()[
        "values"] == []
    # a user key outside the plugin's is the caller's own: kept as it is
    assert kb.post("/1.0/kb/tenants/userKeyValue/my-key", content="{{#x}}", headers=TEXT).status_code == 201


def test_an_accounts_emails_with_their_audit(kb: KB, smtp_server: SmtpServer) -> None:
    assert kb.post(CONFIG, content=settings_text(smtp_server.port), headers=TEXT).status_code == 201
    r = kb.post("/1.0/kb/accounts", json={"name": "Ada", "currency": "EUR", "email": "ada.http@example.com",
                                          "locale": "de_DE"})
    account = id_from_location(r)
    r = kb.post(f"/1.0/kb/invoices/charges/{account}", params={"autoCommit": "true"},
                json=[{"accountId": account, "amount": "12.50", "currency": "EUR"}])
    assert r.status_code in (200, 201), r.text
    invoice = r.json()[0]["invoiceId"]

    def sent() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = kb.get(f"/1.0/kb/accounts/{account}/emailNotifications",
                                             params={"audit": "FULL"}).json()
        return [e for e in found if e["status"] == "SENT"]

    [email] = eventually(sent)
    assert {k: email[k] for k in ("accountId", "eventType", "template", "objectId", "attempts", "recipients",
                                  "subject", "lastError")} == {
        "accountId": account, "eventType": "INVOICE_CREATION", "template": "INVOICE_CREATION", "objectId": invoice,
        "attempts": 1, "recipients": ["ada.http@example.com"], "subject": "Sie haben eine neue Rechnung",
        "lastError": None}
    assert email["sentDate"].endswith("Z") and email["messageId"].startswith("<")
    assert [a["changeType"] for a in email["auditLogs"]] == ["INSERT", "UPDATE", "UPDATE"]
    [message] = smtp_server.inbox.messages["ada.http@example.com"]
    assert "12,50\u00a0€" in message.get_body(preferencelist=("plain",)).get_content()
    assert kb.get("/1.0/kb/accounts/00000000-0000-0000-0000-000000000000/emailNotifications").status_code == 404
