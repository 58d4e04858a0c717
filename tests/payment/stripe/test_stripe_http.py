"""The Stripe gateway end to end over Billow's REST API, on both databases: the tenant's plugin configuration, a
card added as a payment method, an invoice paid automatically through Stripe, a refund, and a declined card."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import stripe

from tests.conftest import KB, eventually, id_from_location
from tests.payment.stripe.conftest import config_text


def _configure(kb: KB, localstripe: str) -> None:
    r = kb.post("/1.0/kb/tenants/uploadPluginConfig/billow-stripe", content=config_text(localstripe),
                headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text


def _account_with_card(kb: KB, number: str) -> str:
    r = kb.post("/1.0/kb/accounts", json={"name": "Card holder", "currency": "USD"})
    account = id_from_location(r)
    card = [{"key": "ccNumber", "value": number}, {"key": "ccExpirationMonth", "value": "12"},
            {"key": "ccExpirationYear", "value": "2031"}, {"key": "ccVerificationValue", "value": "123"}]
    r = kb.post(f"/1.0/kb/accounts/{account}/paymentMethods", params={"isDefault": "true"},
                json={"pluginName": "billow-stripe", "pluginInfo": {"properties": card}})
    assert r.status_code == 201, r.text
    return account


def _settled_payments(kb: KB, account: str) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        found = kb.get(f"/1.0/kb/accounts/{account}/payments").json()
        return found if found and all(t["status"] != "UNKNOWN" for p in found for t in p["transactions"]) else []
    result: list[dict[str, Any]] = eventually(read)
    return result


def _charge(kb: KB, account: str, amount: str) -> str:
    r = kb.post("/1.0/kb/invoices/charges/" + account, params={"autoCommit": "true"},
                json=[{"accountId": account, "amount": amount, "currency": "USD"}])
    assert r.status_code in (200, 201), r.text
    return str(r.json()[0]["invoiceId"])


def test_an_invoice_is_paid_through_stripe_and_refunded(kb: KB, localstripe: str) -> None:
    _configure(kb, localstripe)
    account = _account_with_card(kb, "4242424242424242")
    method = kb.get(f"/1.0/kb/accounts/{account}/paymentMethods", params={"withPluginInfo": "true"}).json()[0]
    assert method["pluginName"] == "billow-stripe"
    invoice = _charge(kb, account, "20.00")
    payments = _settled_payments(kb, account)
    assert [t["status"] for t in payments[0]["transactions"]] == ["SUCCESS"]
    intent_id = payments[0]["transactions"][0]["firstPaymentReferenceId"]
    client = stripe.StripeClient("sk_test_billow", base_addresses={"api": localstripe})
    intent = client.v1.payment_intents.retrieve(intent_id)
    assert (intent.status, intent.amount, intent.metadata["kbPaymentId"]) == (
        "succeeded", 2000, payments[0]["paymentId"])
    assert Decimal(str(kb.get(f"/1.0/kb/invoices/{invoice}").json()["balance"])) == 0
    # withPluginInfo: what Stripe says of each transaction, as its properties (none without it)
    seen = kb.get(f"/1.0/kb/payments/{payments[0]['paymentId']}", params={"withPluginInfo": "true"}).json()
    assert {p["key"]: p["value"] for p in seen["transactions"][0]["properties"]}["stripeStatus"] == "succeeded"
    assert payments[0]["transactions"][0]["properties"] is None

    r = kb.post(f"/1.0/kb/invoicePayments/{payments[0]['paymentId']}/refunds", json={"amount": "7.50"})
    assert r.status_code == 201, r.text
    refunded = kb.get(f"/1.0/kb/payments/{payments[0]['paymentId']}").json()
    assert Decimal(str(refunded["refundedAmount"])) == Decimal("7.50")
    assert [r.amount for r in client.v1.refunds.list(params={"payment_intent": intent_id}).data] == [750]
    assert Decimal(str(kb.get(f"/1.0/kb/invoices/{invoice}").json()["balance"])) == Decimal("7.50")


def test_a_declined_card_leaves_the_invoice_unpaid_with_stripes_code(kb: KB, localstripe: str) -> None:
    _configure(kb, localstripe)
    account = _account_with_card(kb, "4000000000000341")
    invoice = _charge(kb, account, "9.99")
    payments = _settled_payments(kb, account)
    trx = payments[0]["transactions"][0]
    assert (trx["status"], trx["gatewayErrorCode"]) == ("PAYMENT_FAILURE", "card_declined")
    assert Decimal(str(kb.get(f"/1.0/kb/invoices/{invoice}").json()["balance"])) == Decimal("9.99")
    # an API payment with the same card answers Kill Bill's 402
    r = kb.post(f"/1.0/kb/accounts/{account}/payments",
                json={"transactionType": "PURCHASE", "amount": "1.00", "currency": "USD"})
    assert r.status_code == 402, r.text


def test_a_card_declined_when_added_is_refused(kb: KB, localstripe: str) -> None:
    _configure(kb, localstripe)
    r = kb.post("/1.0/kb/accounts", json={"name": "Declined", "currency": "USD"})
    account = id_from_location(r)
    r = kb.post(f"/1.0/kb/accounts/{account}/paymentMethods", params={"isDefault": "true"},
                json={"pluginName": "billow-stripe",
                      "pluginInfo": {"properties": [{"key": "ccNumber", "value": "4000000000000002"},
                                                    {"key": "ccExpirationMonth", "value": "12"},
                                                    {"key": "ccExpirationYear", "value": "2031"}]}})
    assert r.status_code == 400 and r.json()["code"] == 7005, r.text
    assert kb.get(f"/1.0/kb/accounts/{account}/paymentMethods").json() == []
