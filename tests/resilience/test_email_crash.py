"""A real `billow serve` killed with SIGKILL right after the SMTP server took an email and before the node recorded
it as sent: after a restart the email is not sent a second time; it is recorded UNKNOWN (it may have arrived),
with the reason. PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import eventually, id_from_location
from tests.email.conftest import SmtpServer, settings_text
from tests.email.conftest import smtp_server as smtp_server  # noqa: F401 - the fixture
from tests.resilience.nodes import PG_URL, T0, Node, load_world, recreate, sibling_url

pytestmark = [pytest.mark.resilience,
              pytest.mark.skipif(not PG_URL, reason="the resilience tests need BILLOW_TEST_DATABASE_URL")]


def _emails(c: httpx.Client, account: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = c.get(f"/1.0/kb/accounts/{account}/emailNotifications").json()
    return found


def test_killed_after_the_server_took_the_message_and_before_it_was_recorded(
        smtp_server: SmtpServer) -> None:  # noqa: F811
    url = sibling_url("mailcrash")
    recreate(url)
    load_world(url, 0, T0)  # the tenant and its catalog
    node = Node(url, "mailcrash", processes=1)
    # no bus helper processes: the failpoint must kill the server itself (a helper that took the event would
    # die instead, and its restarted successor with it, while the server lives on)
    node.start(T0, env={"BILLOW_FAILPOINTS": "email.after_data", "BILLOW_BUS_PROCESSES": "0"})
    try:
        with node.client() as c:
            r = c.post("/1.0/kb/tenants/uploadPluginConfig/killbill-email-notifications",
                       content=settings_text(smtp_server.port, events="INVOICE_CREATION"),
                       headers={"Content-Type": "text/plain"})
            assert r.status_code == 201, r.text
            r = c.post("/1.0/kb/accounts", json={"name": "Crash", "currency": "USD",
                                                 "email": "crash.resilience@example.com"})
            account = id_from_location(r)
            r = c.post(f"/1.0/kb/invoices/charges/{account}", params={"autoCommit": "true"},
                       json=[{"accountId": account, "amount": "42.00", "currency": "USD"}])
            assert r.status_code in (200, 201), r.text
        assert node.proc is not None
        assert node.proc.wait(timeout=120) == -9  # SIGKILL, by the failpoint, once the server had the message
        assert len(smtp_server.inbox.messages["crash.resilience@example.com"]) == 1

        node.start(T0)  # no failpoint: the dead node's claim is taken over and the email looked at again
        with node.client() as c:
            [email] = eventually(lambda: [e for e in _emails(c, account) if e["status"] != "SENDING"])
        assert (email["status"], email["attempts"]) == ("UNKNOWN", 1)
        assert "not sent again" in email["lastError"]
        assert len(smtp_server.inbox.messages["crash.resilience@example.com"]) == 1  # sent once, ever
    finally:
        node.stop()
