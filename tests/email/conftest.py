"""Fixtures of the email tests: a local SMTP server (aiosmtpd, on loopback) that keeps what it receives and can be
told to refuse, and an account in French with two addresses, on the payment tests' world."""

from __future__ import annotations

import email
import email.policy
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest

from billow.account.model import AccountData
from billow.app import Billow
from billow.core.context import CallContext
from billow.email.model import PLUGIN_NAME
from tests.conftest import free_port
from tests.entitlement.conftest import World, world  # noqa: F401 - fixture re-export
from tests.payment.conftest import PayWorld

aiosmtpd = pytest.importorskip("aiosmtpd.controller", reason="the email tests need aiosmtpd (pip install -e '.[dev]')")


@dataclass
class Inbox:
    """What the server accepted, by first recipient (the session's clock moves every test's tenants, whose emails
    arrive here too); `refuse[address]` holds the replies given to that recipient's next messages."""

    messages: dict[str, list[EmailMessage]] = field(default_factory=dict)
    envelopes: dict[str, list[tuple[str, list[str]]]] = field(default_factory=dict)
    refuse: dict[str, list[str]] = field(default_factory=dict)
    received: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        first = envelope.rcpt_tos[0]
        if self.refuse.get(first):
            return self.refuse[first].pop(0)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.setdefault(first, []).append(message)
        self.envelopes.setdefault(first, []).append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.received.set()
        return "250 OK"


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    inbox = Inbox()
    port = free_port()
    controller = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(port, inbox)
    finally:
        controller.stop()


def settings_text(port: int, events: str = "INVOICE_CREATION,INVOICE_PAYMENT_SUCCESS,INVOICE_PAYMENT_FAILED,"
                  "OVERDUE_CHANGE", **extra: str) -> str:
    lines = [f"org.killbill.billing.plugin.email-notifications.defaultEvents={events}",
             "org.killbill.billing.plugin.email-notifications.smtp.host=127.0.0.1",
             f"org.killbill.billing.plugin.email-notifications.smtp.port={port}",
             "org.killbill.billing.plugin.email-notifications.smtp.defaultSender=billing@example.com",
             "org.killbill.billing.plugin.email-notifications.smtp.timeout=5"]
    lines += [f"org.killbill.billing.plugin.email-notifications.{k}={v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


@dataclass
class MailWorld(PayWorld):
    inbox: Inbox = field(default_factory=Inbox)
    address: str = ""

    @property
    def messages(self) -> list[EmailMessage]:
        """What the server accepted for this account."""
        return self.inbox.messages.get(self.address, [])

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        return self.inbox.envelopes.get(self.address, [])

    def refuse(self, *replies: str) -> None:
        self.inbox.refuse[self.address] = list(replies)

    def configure_email(self, port: int, **kw: Any) -> None:
        self.kb.tenants.add_value(self.ctx, f"PLUGIN_CONFIG_{PLUGIN_NAME}", settings_text(port, **kw), replace=True)

    def emails(self) -> list[Any]:
        assert self.kb.run_until_idle(30)
        return [e for e, _ in self.kb.emails.of_account(self.ctx, self.account_id)]


@pytest.fixture()
def mw(billow: Billow, tenant_ctx: CallContext, smtp_server: SmtpServer, world: World) -> MailWorld:  # noqa: F811
    """The world's tenant and clock, with an account in fr_FR that has a second address, and SMTP configured."""
    tag = uuid.uuid4().hex[:8]
    account = billow.accounts.create(tenant_ctx, AccountData(name="Camille Martin", currency="USD",
                                                             email=f"camille.{tag}@example.fr", locale="fr_FR"))
    billow.accounts.add_email(tenant_ctx, account.id, f"compta.{tag}@example.fr")
    m = MailWorld(World(billow, tenant_ctx, account), smtp_server.inbox, f"camille.{tag}@example.fr")
    m.configure_email(smtp_server.port)
    return m
