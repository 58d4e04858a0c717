"""A real `billow serve` killed with SIGKILL right after the gateway (Stripe, as localstripe) said SUCCESS and before
the outcome was recorded: after a restart and the janitor, exactly one charge exists at Stripe, exactly one
successful transaction is recorded, and the invoice is paid once. PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import stripe

from tests.payment.stripe.conftest import config_text
from tests.payment.stripe.conftest import localstripe as localstripe  # noqa: F401 - the fixture
from tests.resilience.nodes import PG_URL, T0, Node, load_world, recreate, sibling_url

pytestmark = [pytest.mark.resilience,
              pytest.mark.skipif(not PG_URL, reason="the resilience tests need BILLOW_TEST_DATABASE_URL")]


def _payments(c: httpx.Client, account: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = c.get(f"/1.0/kb/accounts/{account}/payments").json()
    return found


def test_killed_between_the_gateways_success_and_its_record(localstripe: str) -> None:  # noqa: F811
    url = sibling_url("paycrash")
    recreate(url)
    load_world(url, 0, T0)  # the tenant and its catalog
    node = Node(url, "paycrash", processes=1)
    # no bus helper processes: the failpoint must kill the server itself (a helper that took the event would
    # die instead, and its restarted successor with it, while the server lives on)
    node.start(T0, env={"BILLOW_FAILPOINTS": "payment.after_gateway_success", "BILLOW_BUS_PROCESSES": "0"})
    try:
        with node.client() as c:
            c.post("/1.0/kb/tenants/uploadPluginConfig/billow-stripe", content=config_text(localstripe),
                   headers={"Content-Type": "text/plain"}).raise_for_status()
            r = c.post("/1.0/kb/accounts", json={"name": "Crash", "currency": "USD"})
            account = r.headers["location"].rsplit("/", 1)[-1]
            card = [{"key": "ccNumber", "value": "4242424242424242"}, {"key": "ccExpirationMonth", "value": "12"},
                    {"key": "ccExpirationYear", "value": "2031"}, {"key": "ccVerificationValue", "value": "123"}]
            r = c.post(f"/1.0/kb/accounts/{account}/paymentMethods", params={"isDefault": "true"},
                   json={"pluginName": "billow-stripe", "pluginInfo": {"properties": card}})
            assert r.status_code == 201, r.text
            method = c.get(f"/1.0/kb/accounts/{account}/paymentMethods", params={"withPluginInfo": "true"}).json()[0]
            customer = next(p["value"] for p in method["pluginInfo"]["properties"] if p["key"] == "stripeCustomerId")
            # the invoice is paid automatically by the bus: Stripe charges, and the failpoint kills the server
            r = c.post(f"/1.0/kb/invoices/charges/{account}", params={"autoCommit": "true"},
                       json=[{"accountId": account, "amount": "42.00", "currency": "USD"}])
            assert r.status_code in (200, 201), r.text
            invoice = r.json()[0]["invoiceId"]
        assert node.proc is not None
        assert node.proc.wait(timeout=120) == -9  # SIGKILL, by the failpoint
        client = stripe.StripeClient("sk_test_billow", base_addresses={"api": localstripe})
        charges = client.v1.charges.list(params={"customer": customer}).data
        assert [(ch.amount, ch.status) for ch in charges] == [(4200, "succeeded")]

        node.start(T0)  # no failpoint: the dead node's claim is taken over, the invoice is seen in flight
        with node.client() as c:
            trx = [t for p in _payments(c, account) for t in p["transactions"]]  # type: ignore[attr-defined]
            assert [t["status"] for t in trx] == ["UNKNOWN"]
            assert Decimal(str(c.get(f"/1.0/kb/invoices/{invoice}").json()["balance"])) == Decimal("42.00")
        # the janitor's first check of the transaction (5 minutes) asks Stripe, which finds the charge
        assert node.set_clock(T0 + timedelta(minutes=10)).status_code == 200
        with node.client() as c:
            payments = _payments(c, account)
            trx = [t for p in payments for t in p["transactions"]]  # type: ignore[attr-defined]
            assert [(t["status"], Decimal(str(t["processedAmount"]))) for t in trx] == [("SUCCESS", Decimal(42))]
            assert Decimal(str(c.get(f"/1.0/kb/invoices/{invoice}").json()["balance"])) == 0
            paid = [p for p in c.get(f"/1.0/kb/invoices/{invoice}/payments").json()]
            assert len(paid) == 1
        assert len(client.v1.charges.list(params={"customer": customer}).data) == 1  # charged once, ever
    finally:
        node.stop()
