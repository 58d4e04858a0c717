"""Payments over HTTP, as Kill Bill's clients call them: payment methods, authorize/capture/void, purchase and
refund, plugin failures as 402/502/503, illegal transitions, idempotent keys, invoice payments with item
adjustments, chargebacks, tags and custom fields on payments, and the test plugin's configure resource."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billow.app import Billow
from billow.payment.plugin_api import PaymentPluginStatus
from billow.payment.provider.testing import TestPaymentPlugin
from tests.conftest import KB, id_from_location


def _account(kb: KB) -> str:
    r = kb.post("/1.0/kb/accounts", json={"name": "Payer", "currency": "USD"})
    assert r.status_code == 201, r.text
    return id_from_location(r)


def _method(kb: KB, account_id: str, plugin: str = "killbill-payment-test", default: bool = True) -> str:
    r = kb.post(f"/1.0/kb/accounts/{account_id}/paymentMethods", params={"isDefault": str(default).lower()},
                json={"pluginName": plugin, "pluginInfo": {"properties": []}})
    assert r.status_code == 201, r.text
    return id_from_location(r)


def _pay(kb: KB, account_id: str, kind: str, amount: str, **extra: Any) -> Any:
    return kb.post(f"/1.0/kb/accounts/{account_id}/payments",
                   json={"transactionType": kind, "amount": amount, "currency": "USD", **extra})


def test_payment_methods(kb: KB) -> None:
    account = _account(kb)
    pm = _method(kb, account)
    got = kb.get(f"/1.0/kb/paymentMethods/{pm}").json()
    assert (got["accountId"], got["isDefault"], got["pluginName"]) == (account, True, "killbill-payment-test")
    other = _method(kb, account, "__EXTERNAL_PAYMENT__", default=False)
    listed = kb.get(f"/1.0/kb/accounts/{account}/paymentMethods").json()
    assert {(m["paymentMethodId"], m["isDefault"]) for m in listed} == {(pm, True), (other, False)}
    assert kb.delete(f"/1.0/kb/paymentMethods/{pm}").status_code == 400  # the default one
    assert kb.put(f"/1.0/kb/accounts/{account}/paymentMethods/{other}/setDefault").status_code == 204
    assert kb.delete(f"/1.0/kb/paymentMethods/{pm}").status_code == 204
    assert kb.get(f"/1.0/kb/paymentMethods/{pm}").status_code == 404
    assert kb.get(f"/1.0/kb/paymentMethods/{pm}", params={"includedDeleted": "true"}).status_code == 200
    r = kb.delete(f"/1.0/kb/paymentMethods/{other}", params={"deleteDefaultPmWithAutoPayOff": "true"})
    assert r.status_code == 204
    tags = kb.get(f"/1.0/kb/accounts/{account}/tags").json()
    assert [t["tagDefinitionName"] for t in tags] == ["AUTO_PAY_OFF"]
    assert kb.get("/1.0/kb/paymentMethods/00000000-0000-0000-0000-00000000dead").json()["code"] == 7000


def test_authorize_capture_void_and_illegal_transitions(kb: KB) -> None:
    account = _account(kb)
    _method(kb, account)
    r = _pay(kb, account, "AUTHORIZE", "50.00", paymentExternalKey="auth-1")
    assert r.status_code == 201, r.text
    payment_id = id_from_location(r)
    assert kb.post(f"/1.0/kb/payments/{payment_id}/refunds", json={"amount": "5"}).status_code == 400  # from AUTH
    r = kb.post(f"/1.0/kb/payments/{payment_id}", json={"amount": "20.00", "currency": "USD"})
    assert r.status_code == 201, r.text
    r = kb.post(f"/1.0/kb/payments/{payment_id}", json={"amount": "40.00", "currency": "USD"})
    assert r.status_code == 400 and "left to capture" in r.json()["message"]
    p = kb.get(f"/1.0/kb/payments/{payment_id}").json()
    assert (Decimal(str(p["authAmount"])), Decimal(str(p["capturedAmount"]))) == (Decimal(50), Decimal(20))
    assert [t["transactionType"] for t in p["transactions"]] == ["AUTHORIZE", "CAPTURE"]
    # VOID is not linked from CAPTURE_SUCCESS
    r = kb.delete(f"/1.0/kb/payments/{payment_id}")
    assert r.status_code == 400 and r.json()["code"] == 7032
    r2 = _pay(kb, account, "AUTHORIZE", "10.00")
    voided = id_from_location(r2)
    assert kb.delete(f"/1.0/kb/payments/{voided}").status_code == 204
    v = kb.get(f"/1.0/kb/payments/{voided}").json()
    assert Decimal(str(v["authAmount"])) == 0 and v["transactions"][-1]["transactionType"] == "VOID"
    assert kb.get("/1.0/kb/payments", params={"externalKey": "auth-1"}).json()["paymentId"] == payment_id


def test_plugin_outcomes_and_idempotency(kb: KB) -> None:
    account = _account(kb)
    _method(kb, account)
    r = kb.post("/plugins/killbill-payment-test/configure",
                json={"CONFIGURE_ACTION": "ACTION_RETURN_PLUGIN_STATUS_ERROR"})
    assert r.status_code == 200, r.text
    r = _pay(kb, account, "PURCHASE", "10.00", transactionExternalKey="k-1")
    assert r.status_code == 402 and "Payment decline by gateway" in r.json()["message"]
    failed = id_from_location(r)
    kb.post("/plugins/killbill-payment-test/configure",
            json={"CONFIGURE_ACTION": "ACTION_RETURN_PLUGIN_STATUS_CANCELED"})
    r = _pay(kb, account, "PURCHASE", "10.00", transactionExternalKey="k-1")
    assert r.status_code == 502 and id_from_location(r) == failed  # a failed key is retried on its payment
    kb.post("/plugins/killbill-payment-test/configure", json={"CONFIGURE_ACTION": "ACTION_THROW_EXCEPTION"})
    assert _pay(kb, account, "PURCHASE", "10.00", transactionExternalKey="k-x").status_code == 400
    kb.post("/plugins/killbill-payment-test/configure", json={"CONFIGURE_ACTION": "ACTION_CLEAR"})
    assert kb.get("/plugins/killbill-payment-test/status").json() == {"states": {}, "sleeps": {}, "amounts": {}}
    r = _pay(kb, account, "PURCHASE", "10.00", transactionExternalKey="k-1")
    assert r.status_code == 201 and id_from_location(r) == failed
    p = kb.get(f"/1.0/kb/payments/{failed}").json()
    assert [t["status"] for t in p["transactions"]] == ["PAYMENT_FAILURE", "PLUGIN_FAILURE", "SUCCESS"]
    # the same key again: never charged twice
    r = _pay(kb, account, "PURCHASE", "10.00", transactionExternalKey="k-1")
    assert r.status_code == 400 and r.json()["code"] == 7030
    assert kb.post("/plugins/killbill-payment-test/configure", json={"METHODS": "nope",
                                                                     "CONFIGURE_ACTION": "ACTION_CLEAR"}
                   ).status_code == 400
    assert _pay(kb, account, "PURCHASE", "-1").status_code == 400
    assert _pay(kb, account, "CAPTURE", "1").status_code == 400


def test_pending_is_completed(kb: KB) -> None:
    account = _account(kb)
    _method(kb, account)
    r = kb.post(f"/1.0/kb/accounts/{account}/payments", params={"pluginProperty":
                                                                 "ACTION_RETURN_PLUGIN_STATUS_PENDING="},
                json={"transactionType": "PURCHASE", "amount": "8", "currency": "USD"})
    assert r.status_code == 201
    pid = id_from_location(r)
    trx = kb.get(f"/1.0/kb/payments/{pid}").json()["transactions"][0]
    assert trx["status"] == "PENDING"
    r = kb.post(f"/1.0/kb/paymentTransactions/{trx['transactionId']}", json={"status": "SUCCESS"})
    assert r.status_code == 201, r.text
    assert kb.get(f"/1.0/kb/payments/{pid}").json()["transactions"][0]["status"] == "SUCCESS"
    # a new transaction with the same key on a settled payment is refused
    r = kb.put(f"/1.0/kb/payments/{pid}", json={"transactionType": "PURCHASE"})
    assert r.status_code == 400


def test_invoice_payment_refund_with_adjustment_and_chargeback(kb: KB) -> None:
    account = _account(kb)
    r = kb.post("/1.0/kb/invoices/charges/" + account, params={"autoCommit": "true"},
                json=[{"accountId": account, "amount": 30, "currency": "USD", "description": "thing"}])
    assert r.status_code in (200, 201), r.text
    invoice = r.json()[0]["invoiceId"]
    item = r.json()[0]["invoiceItemId"]
    r = kb.post(f"/1.0/kb/invoices/{invoice}/payments", params={"externalPayment": "true"},
                json={"accountId": account, "purchasedAmount": 30})
    assert r.status_code == 201, r.text
    payment = id_from_location(r)
    assert kb.get(f"/1.0/kb/invoices/{invoice}").json()["balance"] == 0
    assert kb.get(f"/1.0/kb/accounts/{account}", params={"accountWithBalance": "true"}).json()[
        "accountBalance"] == 0
    ip = kb.get(f"/1.0/kb/invoicePayments/{payment}").json()
    assert ip["targetInvoiceId"] == invoice and Decimal(str(ip["purchasedAmount"])) == 30
    r = kb.post(f"/1.0/kb/invoicePayments/{payment}/refunds",
                json={"amount": 10, "isAdjusted": True, "adjustments": [{"invoiceItemId": item, "amount": 10}]})
    assert r.status_code == 201, r.text
    inv = kb.get(f"/1.0/kb/invoices/{invoice}").json()
    assert (inv["balance"], Decimal(str(inv["amount"]))) == (0, Decimal(20))
    r = kb.post(f"/1.0/kb/invoicePayments/{payment}/chargebacks",
                json={"amount": 20, "currency": "USD", "transactionExternalKey": "cb"})
    assert r.status_code == 201, r.text
    assert Decimal(str(kb.get(f"/1.0/kb/invoices/{invoice}").json()["balance"])) == 20
    r = kb.post(f"/1.0/kb/invoicePayments/{payment}/chargebackReversals", json={"transactionExternalKey": "cb"})
    assert r.status_code == 201, r.text
    assert kb.get(f"/1.0/kb/invoices/{invoice}").json()["balance"] == 0
    listed = kb.get(f"/1.0/kb/invoices/{invoice}/payments").json()
    assert [p["paymentId"] for p in listed] == [payment]
    assert [p["paymentId"] for p in kb.get(f"/1.0/kb/accounts/{account}/invoicePayments").json()] == [payment]
    # tags and custom fields on the payment
    r = kb.post(f"/1.0/kb/payments/{payment}/customFields", json=[{"name": "ref", "value": "42"}])
    assert r.status_code == 201, r.text
    assert [f["value"] for f in kb.get(f"/1.0/kb/payments/{payment}/customFields").json()] == ["42"]
    audit = kb.get(f"/1.0/kb/payments/{payment}/auditLogsWithHistory").json()
    assert audit and audit[0]["changeType"] == "INSERT"


def test_pay_all_invoices(kb: KB) -> None:
    account = _account(kb)
    for amount in (5, 7):
        r = kb.post("/1.0/kb/invoices/charges/" + account, params={"autoCommit": "true"},
                    json=[{"accountId": account, "amount": amount, "currency": "USD"}])
        assert r.status_code in (200, 201), r.text
    r = kb.post(f"/1.0/kb/accounts/{account}/invoicePayments", params={"externalPayment": "true"})
    assert r.status_code == 201, r.text  # kbswagger 0.24: the invoices paid
    paid = r.json()
    invoices = kb.get(f"/1.0/kb/accounts/{account}/invoices").json()
    assert [i["balance"] for i in invoices] == [0, 0]
    assert sorted(i["invoiceId"] for i in paid) == sorted(i["invoiceId"] for i in invoices)
    assert sorted(i["amount"] for i in paid) == [5, 7]
    r = kb.post(f"/1.0/kb/accounts/{account}/invoicePayments", params={"externalPayment": "true"})
    assert r.status_code == 204, r.text  # nothing left to pay
    payments = kb.get(f"/1.0/kb/accounts/{account}/payments").json()
    assert sorted(Decimal(str(p["purchasedAmount"])) for p in payments) == [5, 7]


def test_with_plugin_info_settles_a_pending_transaction(kb: KB, billow: Billow) -> None:
    account = _account(kb)
    _method(kb, account)
    r = kb.post(f"/1.0/kb/accounts/{account}/payments",
                params={"pluginProperty": "ACTION_RETURN_PLUGIN_STATUS_PENDING=purchasePayment"},
                json={"transactionType": "PURCHASE", "amount": "4", "currency": "USD"})
    pid = id_from_location(r)
    trx = kb.get(f"/1.0/kb/payments/{pid}").json()["transactions"][0]
    assert trx["status"] == "PENDING"
    plugin = billow.payment.plugins.get("killbill-payment-test")
    assert isinstance(plugin, TestPaymentPlugin)
    plugin.settle(billow.tenants.get_by_api_key(kb.api_key).id, trx["transactionId"], PaymentPluginStatus.PROCESSED)
    assert kb.get(f"/1.0/kb/payments/{pid}").json()["transactions"][0]["status"] == "PENDING"
    got = kb.get(f"/1.0/kb/payments/{pid}", params={"withPluginInfo": "true"}).json()
    assert (got["transactions"][0]["status"], Decimal(str(got["purchasedAmount"]))) == ("SUCCESS", Decimal(4))


def test_search_payments(kb: KB) -> None:
    account, other = _account(kb), _account(kb)
    _method(kb, account)
    _method(kb, other)
    ids = [id_from_location(_pay(kb, account, "PURCHASE", "1.00", paymentExternalKey=f"sk-{account[:8]}-{i}",
                                 transactionExternalKey=f"tk-{account[:8]}-{i}")) for i in range(3)]
    id_from_location(_pay(kb, other, "AUTHORIZE", "2.00"))

    def search(key: str, **params: Any) -> tuple[list[str], Any]:
        r = kb.get(f"/1.0/kb/payments/search/{key}", params=params)
        assert r.status_code == 200, r.text
        return [p["paymentId"] for p in r.json()], r.headers

    assert search(account)[0] == ids  # by account
    assert search(f"sk-{account[:8]}-1")[0] == [ids[1]]  # by payment external key
    assert search(f"tk-{account[:8]}-2")[0] == [ids[2]]  # by transaction external key
    assert search(ids[0])[0] == [ids[0]]
    found, headers = search(account, offset=1, limit=1)
    assert found == [ids[1]]
    assert headers["X-Killbill-Pagination-TotalNbRecords"] == "3"  # hits
    assert int(headers["X-Killbill-Pagination-MaxNbRecords"]) == 4  # the tenant's payments
    assert search("nothing-like-this")[0] == []
