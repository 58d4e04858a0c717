"""Kill Bill's combo calls over HTTP (an account and its payment method found or created, then a payment or a
hosted payment page), the cancellation of a payment's scheduled retries, and the audit of attempts and
transactions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import KB, eventually, id_from_location


def _combo(kb: KB, **body: object) -> httpx.Response:
    return kb.post("/1.0/kb/payments/combo", json=body)


def test_combo_payment_creates_the_account_and_its_method_then_reuses_them(kb: KB) -> None:
    key = f"combo-{uuid.uuid4().hex[:8]}"
    r = _combo(kb, account={"name": "Combo", "currency": "EUR", "externalKey": key},
               paymentMethod={"pluginName": "killbill-payment-test", "externalKey": f"{key}-pm",
                              "pluginInfo": {"properties": []}},
               transaction={"transactionType": "PURCHASE", "amount": "12.50", "paymentExternalKey": f"{key}-p1"})
    assert r.status_code == 201, r.text
    payment = kb.get(f"/1.0/kb/payments/{id_from_location(r)}").json()
    account = kb.get("/1.0/kb/accounts", params={"externalKey": key}).json()
    # the new method is the account's default (its first); the currency defaults to the account's
    assert payment["accountId"] == account["accountId"] and payment["paymentMethodId"] == account["paymentMethodId"]
    assert (Decimal(str(payment["purchasedAmount"])), payment["currency"]) == (Decimal("12.50"), "EUR")
    assert payment["transactions"][0]["status"] == "SUCCESS"

    # the same account (by external key) and method (by external key): nothing new is created
    r = _combo(kb, account={"externalKey": key},
               paymentMethod={"pluginName": "killbill-payment-test", "externalKey": f"{key}-pm"},
               transaction={"transactionType": "AUTHORIZE", "amount": "3.00"})
    assert r.status_code == 201, r.text
    methods = kb.get(f"/1.0/kb/accounts/{account['accountId']}/paymentMethods").json()
    assert [m["paymentMethodId"] for m in methods] == [account["paymentMethodId"]]
    payments = kb.get(f"/1.0/kb/accounts/{account['accountId']}/payments").json()
    assert sorted(p["transactions"][0]["transactionType"] for p in payments) == ["AUTHORIZE", "PURCHASE"]


def test_combo_payment_refusals(kb: KB) -> None:
    r = _combo(kb, account={"name": "X", "currency": "USD"}, transaction={"transactionType": "REFUND", "amount": "1"})
    assert r.status_code == 400 and "transactionType" in r.json()["message"]
    r = _combo(kb, account={"accountId": str(uuid.uuid4())}, transaction={"transactionType": "PURCHASE",
                                                                            "amount": "1"})
    assert r.status_code == 404
    r = kb.post("/1.0/kb/accounts", json={"name": "Y", "currency": "USD"})
    account = id_from_location(r)
    r = _combo(kb, account={"accountId": account},
               paymentMethod={"pluginName": "killbill-payment-test", "paymentMethodId": str(uuid.uuid4())},
               transaction={"transactionType": "PURCHASE", "amount": "1"})
    assert r.status_code == 404 and r.json()["code"] == 7000  # not one of the account's methods
    # no method given and none by default: Kill Bill's "no default payment method"
    r = _combo(kb, account={"accountId": account}, transaction={"transactionType": "PURCHASE", "amount": "1"})
    assert r.status_code == 404 and r.json()["code"] == 7021
    assert kb.get(f"/1.0/kb/accounts/{account}/payments").json() == []
    # refusals come before anything is created: no new account for a call that cannot be made
    key = f"never-{uuid.uuid4().hex[:8]}"
    for bad in ({"transaction": {"transactionType": "PURCHASE", "amount": "1"}},  # a new account has no method
                {"paymentMethod": {"pluginName": "no-such-plugin"},
                 "transaction": {"transactionType": "PURCHASE", "amount": "1"}},
                {"paymentMethod": {"pluginName": "killbill-payment-test"},
                 "transaction": {"transactionType": "PURCHASE"}}):  # no amount
        r = _combo(kb, account={"name": "Never", "currency": "USD", "externalKey": key}, **bad)
        assert 400 <= r.status_code < 500, r.text
        assert kb.get("/1.0/kb/accounts", params={"externalKey": key}).status_code == 404


def test_combo_form_descriptor(kb: KB) -> None:
    key = f"form-{uuid.uuid4().hex[:8]}"
    r = kb.post("/1.0/kb/paymentGateways/hosted/form",
                json={"account": {"name": "Form", "currency": "USD", "externalKey": key},
                      "paymentMethod": {"pluginName": "killbill-payment-test"},
                      "hostedPaymentPageFields": {"customFields": [{"key": "amount", "value": "10"}]}})
    assert r.status_code == 200, r.text
    account = kb.get("/1.0/kb/accounts", params={"externalKey": key}).json()
    assert r.json()["kbAccountId"] == account["accountId"] and account["paymentMethodId"]


def _failing_invoice(kb: KB) -> tuple[str, str]:
    """An account whose automatic payment of a new invoice is declined: a retry is scheduled 8 days later."""
    r = kb.post("/1.0/kb/accounts", json={"name": "Retried", "currency": "USD"})
    account = id_from_location(r)
    r = kb.post(f"/1.0/kb/accounts/{account}/paymentMethods", params={"isDefault": "true"},
                json={"pluginName": "killbill-payment-test", "pluginInfo": {"properties": []}})
    assert r.status_code == 201, r.text
    kb.post("/plugins/killbill-payment-test/configure",
            json={"CONFIGURE_ACTION": "ACTION_RETURN_PLUGIN_STATUS_ERROR"}).raise_for_status()
    r = kb.post("/1.0/kb/invoices/charges/" + account, params={"autoCommit": "true"},
                json=[{"accountId": account, "amount": "9.00", "currency": "USD"}])
    assert r.status_code in (200, 201), r.text
    def settled() -> list[Any]:  # paid by the bus: the attempt is recorded (UNKNOWN) before the gateway answers
        found = kb.get(f"/1.0/kb/accounts/{account}/payments").json()
        return found if found and found[0]["transactions"][0]["status"] != "UNKNOWN" else []

    payments = eventually(settled)
    kb.post("/plugins/killbill-payment-test/configure", json={"CONFIGURE_ACTION": "ACTION_CLEAR"}).raise_for_status()
    assert [t["status"] for t in payments[0]["transactions"]] == ["PAYMENT_FAILURE"]
    return account, payments[0]["transactions"][0]["transactionId"]



def _move(kb: KB, days: int) -> None:
    now = datetime.fromisoformat(kb.get("/1.0/kb/test/clock").json()["currentUtcTime"].replace("Z", "+00:00"))
    target = (now + timedelta(days=days)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    kb.post("/1.0/kb/test/clock", params={"requestedDate": target}).raise_for_status()


def test_a_retry_runs_unless_it_is_cancelled(kb: KB) -> None:
    kept, _ = _failing_invoice(kb)
    cancelled, trx = _failing_invoice(kb)
    assert kb.delete(f"/1.0/kb/payments/{trx}/cancelScheduledPaymentTransaction").status_code == 204
    _move(kb, 9)
    kept_trx = kb.get(f"/1.0/kb/accounts/{kept}/payments").json()[0]["transactions"]
    assert [t["status"] for t in kept_trx] == ["PAYMENT_FAILURE", "SUCCESS"]  # retried on day 8, now accepted
    cancelled_trx = kb.get(f"/1.0/kb/accounts/{cancelled}/payments").json()[0]["transactions"]
    assert [t["status"] for t in cancelled_trx] == ["PAYMENT_FAILURE"]
    invoices = kb.get(f"/1.0/kb/accounts/{cancelled}/invoices").json()
    assert [Decimal(str(i["balance"])) for i in invoices] == [Decimal("9.00")]


def test_cancel_by_external_key_and_unknown_transactions(kb: KB) -> None:
    account, trx = _failing_invoice(kb)
    key = kb.get(f"/1.0/kb/paymentTransactions/{trx}").json()["transactions"][0]["transactionExternalKey"]
    r = kb.delete("/1.0/kb/payments/cancelScheduledPaymentTransaction", params={"transactionExternalKey": key})
    assert r.status_code == 204
    _move(kb, 9)
    assert len(kb.get(f"/1.0/kb/accounts/{account}/payments").json()[0]["transactions"]) == 1
    # an unknown external key cancels nothing (Kill Bill); an unknown id is a 404; a missing key a 400
    r = kb.delete("/1.0/kb/payments/cancelScheduledPaymentTransaction", params={"transactionExternalKey": "nope"})
    assert r.status_code == 204
    assert kb.delete(f"/1.0/kb/payments/{uuid.uuid4()}/cancelScheduledPaymentTransaction").status_code == 404
    assert kb.delete("/1.0/kb/payments/cancelScheduledPaymentTransaction").status_code == 400


def test_attempt_and_transaction_audit_with_history(kb: KB) -> None:
    _, trx = _failing_invoice(kb)
    history = kb.get(f"/1.0/kb/paymentTransactions/{trx}/auditLogsWithHistory").json()
    assert [h["changeType"] for h in history][0] == "INSERT"
    assert history[-1]["history"]["transactionStatus"] == "PAYMENT_FAILURE"
    attempt = history[0]["history"]["attemptId"]  # PaymentAttemptJson has no id; the transaction row has it
    history = kb.get(f"/1.0/kb/payments/attempts/{attempt}/auditLogsWithHistory").json()
    assert history[0]["changeType"] == "INSERT" and history[-1]["history"]["stateName"] == "RETRIED"
    assert kb.get(f"/1.0/kb/payments/attempts/{uuid.uuid4()}/auditLogsWithHistory").status_code == 404
    assert kb.get(f"/1.0/kb/paymentTransactions/{uuid.uuid4()}/auditLogsWithHistory").status_code == 404
