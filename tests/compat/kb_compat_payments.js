// Payments through the official Kill Bill JavaScript client (npm `killbill` 0.24.0) against a Billow server:
// payment methods, an invoice paid automatically, a refund with an item adjustment, authorize/capture/void, and a
// failure driven by the test plugin's configure action, then paid on retry.
// Usage: node kb_compat_payments.js BASE_URL CATALOG_XML_PATH   (NODE_PATH must reach the installed `killbill`)
'use strict';
const assert = require('assert');
const killbill = require('killbill');
const axios = require('axios');
const { check, idOf } = require('./common');

const BASE = process.argv[2];
const KEY = 'compat-payments-' + Date.now();
const SECRET = 'lazar';
const http = axios.create();  // no Location-following interceptor
const cfg = new killbill.Configuration({ basePath: BASE, username: 'admin', password: 'password',
                                         apiKey: killbill.apiKey(KEY, SECRET) });
const tenantHeaders = { 'X-Killbill-ApiKey': KEY, 'X-Killbill-ApiSecret': SECRET, 'X-Killbill-CreatedBy': 'compat' };
const basic = { username: 'admin', password: 'password' };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function configure(action) {
  return http.post(BASE + '/plugins/killbill-payment-test/configure', { CONFIGURE_ACTION: action },
                   { auth: basic, headers: tenantHeaders });
}

(async () => {
  const tenantApi = new killbill.TenantApi(cfg, undefined, http);
  const accountApi = new killbill.AccountApi(cfg, undefined, http);
  const invoiceApi = new killbill.InvoiceApi(cfg, undefined, http);
  const paymentApi = new killbill.PaymentApi(cfg, undefined, http);
  const invoicePaymentApi = new killbill.InvoicePaymentApi(cfg, undefined, http);
  const paymentMethodApi = new killbill.PaymentMethodApi(cfg, undefined, http);
  let accountId, externalPm, testPm, invoiceId, itemId, paymentId;

  await check('a tenant and an account of its own', async () => {
    await tenantApi.createTenant({ apiKey: KEY, apiSecret: SECRET, externalKey: KEY }, 'compat');
    const r = await accountApi.createAccount({ name: 'Payer Compat', currency: 'USD' }, 'compat');
    accountId = idOf(r);
  });
  await check('AccountApi.createPaymentMethod with __EXTERNAL_PAYMENT__ as the default', async () => {
    const r = await accountApi.createPaymentMethod({ pluginName: '__EXTERNAL_PAYMENT__', pluginInfo: {} },
                                                   accountId, 'compat', true);
    assert.strictEqual(r.status, 201);
    externalPm = idOf(r);
    const pm = await paymentMethodApi.getPaymentMethod(externalPm);
    assert.strictEqual(pm.data.accountId, accountId);
    assert.strictEqual(pm.data.isDefault, true);
    const listed = await accountApi.getPaymentMethodsForAccount(accountId);
    assert.deepStrictEqual(listed.data.map((m) => m.paymentMethodId), [externalPm]);
  });
  await check('an invoice is paid automatically with the default payment method', async () => {
    const charges = await invoiceApi.createExternalCharges([{ accountId, amount: 30, currency: 'USD',
                                                              description: 'setup' }], accountId, 'compat',
                                                           undefined, true);
    invoiceId = charges.data[0].invoiceId;
    itemId = charges.data[0].invoiceItemId;
    let inv;
    for (let i = 0; i < 100; i++) {
      inv = (await invoiceApi.getInvoice(invoiceId)).data;
      if (inv.balance === 0) break;
      await sleep(100);
    }
    assert.strictEqual(inv.balance, 0, JSON.stringify(inv));
    const payments = (await accountApi.getPaymentsForAccount(accountId)).data;
    assert.strictEqual(payments.length, 1);
    assert.strictEqual(payments[0].purchasedAmount, 30);
    assert.strictEqual(payments[0].transactions[0].status, 'SUCCESS');
    paymentId = payments[0].paymentId;
    const ip = (await invoicePaymentApi.getInvoicePayment(paymentId)).data;
    assert.strictEqual(ip.targetInvoiceId, invoiceId);
  });
  await check('InvoicePaymentApi.createRefundWithAdjustments adjusts the item and keeps the balance at 0', async () => {
    const r = await invoicePaymentApi.createRefundWithAdjustments({ amount: 10, isAdjusted: true,
                                                                    adjustments: [{ invoiceItemId: itemId,
                                                                                    amount: 10 }] },
                                                                  paymentId, 'compat');
    assert.strictEqual(r.status, 201);
    const inv = (await invoiceApi.getInvoice(invoiceId)).data;
    assert.strictEqual(inv.amount, 20);
    assert.strictEqual(inv.balance, 0);
    const p = (await paymentApi.getPayment(paymentId)).data;
    assert.strictEqual(p.refundedAmount, 10);
    assert.deepStrictEqual(p.transactions.map((t) => t.transactionType), ['PURCHASE', 'REFUND']);
  });
  await check('PaymentApi: authorize, partial capture, and void of another authorization', async () => {
    const r = await accountApi.createPaymentMethod({ pluginName: 'killbill-payment-test', pluginInfo: {} },
                                                   accountId, 'compat', false);
    testPm = idOf(r);
    const auth = await accountApi.processPayment({ transactionType: 'AUTHORIZE', amount: 50, currency: 'USD' },
                                                 accountId, 'compat', testPm);
    assert.strictEqual(auth.status, 201);
    const authId = idOf(auth);
    const cap = await paymentApi.captureAuthorization({ amount: 20, currency: 'USD' }, authId, 'compat');
    assert.strictEqual(cap.status, 201);
    const p = (await paymentApi.getPayment(authId)).data;
    assert.strictEqual(p.authAmount, 50);
    assert.strictEqual(p.capturedAmount, 20);
    const other = idOf(await accountApi.processPayment({ transactionType: 'AUTHORIZE', amount: 5, currency: 'USD' },
                                                       accountId, 'compat', testPm));
    const v = await paymentApi.voidPayment({}, other, 'compat');
    assert.strictEqual(v.status, 204);
    const voided = (await paymentApi.getPayment(other)).data;
    assert.deepStrictEqual(voided.transactions.map((t) => t.transactionType), ['AUTHORIZE', 'VOID']);
    await assert.rejects(paymentApi.voidPayment({}, authId, 'compat'),
                         (e) => e.response.status === 400 && e.response.data.code === 7032);
  });
  await check('the test plugin declines when configured (402), and the retry 8 days later pays the invoice', async () => {
    assert.strictEqual((await accountApi.setDefaultPaymentMethod(accountId, testPm, 'compat')).status, 204);
    assert.strictEqual((await configure('ACTION_RETURN_PLUGIN_STATUS_ERROR')).status, 200);
    const charges = await invoiceApi.createExternalCharges([{ accountId, amount: 12, currency: 'USD' }], accountId,
                                                           'compat', undefined, true);
    const second = charges.data[0].invoiceId;
    let declined = [];
    for (let i = 0; i < 100 && declined.length === 0; i++) {  // the automatic payment, declined by the gateway
      const payments = (await invoiceApi.getPaymentsForInvoice(second)).data;
      declined = payments.filter((p) => p.transactions.some((t) => t.status === 'PAYMENT_FAILURE'));
      if (declined.length === 0) await sleep(100);
    }
    assert.strictEqual(declined.length, 1);
    assert.strictEqual((await invoiceApi.getInvoice(second)).data.balance, 12);
    await assert.rejects(invoiceApi.createInstantPayment({ accountId, purchasedAmount: 12 }, second, 'compat'),
                         (e) => e.response.status === 402 && /decline/.test(e.response.data.message));
    assert.strictEqual((await configure('ACTION_CLEAR')).status, 200);
    // the automatic payment's retry (org.killbill.payment.retry.days: 8 days) pays it, on the same payment
    const moved = await http.put(BASE + '/1.0/kb/test/clock', null,
                                 { params: { days: 9, timeoutSec: 30 }, auth: basic, headers: tenantHeaders });
    assert.strictEqual(moved.status, 200);
    assert.strictEqual((await invoiceApi.getInvoice(second)).data.balance, 0);
    const retried = (await paymentApi.getPayment(declined[0].paymentId)).data;
    assert.deepStrictEqual(retried.transactions.map((t) => t.status), ['PAYMENT_FAILURE', 'SUCCESS']);
  });
  console.log('compat: all checks passed');
})();
