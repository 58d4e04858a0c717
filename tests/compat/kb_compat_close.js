// The official Kill Bill JavaScript client (npm `killbill` 0.24.0) against a Billow server: closing accounts.
// Usage: node kb_compat_close.js BASE_URL CATALOG_XML_PATH   (NODE_PATH must reach the installed `killbill` package)
// Prints one line per check; exits non-zero on the first failure.
'use strict';
const assert = require('assert');
const killbill = require('killbill');
const axios = require('axios');
const { check, idOf } = require('./common');

const BASE = process.argv[2];
const KEY = 'compat-close-' + Date.now();
const SECRET = 'lazar';
const http = axios.create();  // no Location-following interceptor (it cannot follow createTenant)
const cfg = new killbill.Configuration({ basePath: BASE, username: 'admin', password: 'password',
                                         apiKey: killbill.apiKey(KEY, SECRET) });
const tenantHeaders = { 'X-Killbill-ApiKey': KEY, 'X-Killbill-ApiSecret': SECRET };
const basic = { username: 'admin', password: 'password' };

const moveClock = (days) => axios.put(BASE + '/1.0/kb/test/clock', null,
                                      { params: { days }, auth: basic, headers: tenantHeaders });

(async () => {
  const tenantApi = new killbill.TenantApi(cfg, undefined, http);
  const accountApi = new killbill.AccountApi(cfg, undefined, http);
  const subscriptionApi = new killbill.SubscriptionApi(cfg, undefined, http);
  const invoiceApi = new killbill.InvoiceApi(cfg, undefined, http);
  const invoicesOf = async (accountId) => (await accountApi.getInvoicesForAccount(
    accountId, undefined, undefined, false, false, false, true)).data;
  let written, adjusted;

  await check('a tenant with the default catalog, two accounts with a base and an add-on, invoiced', async () => {
    assert.strictEqual((await tenantApi.createTenant({ apiKey: KEY, apiSecret: SECRET }, 'compat', true)).status,
                       201);
    await axios.post(BASE + '/1.0/kb/test/clock', null,
                     { params: { requestedDate: '2024-05-01T08:00:00.000Z' }, auth: basic, headers: tenantHeaders });
    written = idOf(await accountApi.createAccount({ name: 'Written Off', currency: 'USD' }, 'compat'));
    adjusted = idOf(await accountApi.createAccount({ name: 'Adjusted', currency: 'USD' }, 'compat'));
    for (const accountId of [written, adjusted]) {
      const r = await subscriptionApi.createSubscriptionWithAddOns(
        [{ accountId, planName: 'starter-monthly' }, { planName: 'prioritysupport-monthly' }], 'compat',
        undefined, undefined, undefined, undefined, undefined, true, 20);
      assert.strictEqual(r.status, 201);
    }
    await moveClock(15);  // out of the starter's trial: a second invoice
    for (const accountId of [written, adjusted]) {
      const invoices = await invoicesOf(accountId);
      assert.strictEqual(invoices.length, 2);
      assert.ok(invoices.every((i) => i.balance > 0), JSON.stringify(invoices.map((i) => i.balance)));
    }
  });

  await check('AccountApi.closeAccount cancelling everything and writing off the unpaid invoices', async () => {
    const r = await accountApi.closeAccount(written, 'compat', true, true, false, true, 'closing', 'customer left');
    assert.strictEqual(r.status, 204);
    const bundles = (await accountApi.getAccountBundles(written)).data;
    const subs = bundles.flatMap((b) => b.subscriptions);
    assert.deepStrictEqual(subs.map((s) => s.productCategory).sort(), ['ADD_ON', 'BASE']);
    assert.ok(subs.every((s) => s.state === 'CANCELLED' && s.cancelledDate !== null && s.billingEndDate !== null),
              JSON.stringify(subs.map((s) => [s.state, s.cancelledDate, s.billingEndDate])));
    const invoices = await invoicesOf(written);
    assert.ok(invoices.every((i) => i.balance === 0));
    for (const invoice of invoices) {
      const tags = (await invoiceApi.getInvoiceTags(invoice.invoiceId)).data;
      assert.deepStrictEqual(tags.map((t) => t.tagDefinitionName), ['WRITTEN_OFF']);
      assert.ok(!invoice.items.some((i) => i.itemType === 'ITEM_ADJ'));
    }
    const account = (await accountApi.getAccount(written, true)).data;
    assert.strictEqual(account.accountBalance, 0);
    const states = (await accountApi.getBlockingStates(written, ['ACCOUNT'])).data;
    assert.deepStrictEqual(states.map((s) => [s.stateName, s.service, s.isBlockChange, s.isBlockEntitlement,
                                              s.isBlockBilling]),
                           [['CLOSE_ACCOUNT', 'account-service', true, false, false]]);
  });

  await check('AccountApi.closeAccount item-adjusting the unpaid invoices', async () => {
    const r = await accountApi.closeAccount(adjusted, 'compat', false, false, true, true, undefined,
                                            'refunded in full');
    assert.strictEqual(r.status, 204);
    const invoices = await invoicesOf(adjusted);
    assert.ok(invoices.every((i) => i.balance === 0));
    for (const invoice of invoices) {
      const charged = invoice.items.filter((i) => i.itemType === 'RECURRING' && i.amount > 0);
      const adj = invoice.items.filter((i) => i.itemType === 'ITEM_ADJ');
      assert.strictEqual(adj.length, charged.length);
      assert.ok(adj.every((i) => i.description === 'refunded in full'));
      const total = (items) => Math.round(items.reduce((t, i) => t + i.amount, 0) * 100);
      assert.strictEqual(total(adj), -total(charged));  // each charge adjusted by its whole amount
    }
    const subs = (await accountApi.getAccountBundles(adjusted)).data.flatMap((b) => b.subscriptions);
    assert.ok(subs.every((s) => s.state === 'ACTIVE'));  // not asked to cancel them
  });

  await check('a closed account is invoiced no more (its future notifications are gone)', async () => {
    await moveClock(62);
    assert.strictEqual((await invoicesOf(written)).length, 2);
    assert.strictEqual((await invoicesOf(adjusted)).length, 2);
  });

  await check('AccountApi.closeAccount of an unknown account is 404', async () => {
    await assert.rejects(accountApi.closeAccount('00000000-0000-0000-0000-0000000000ff', 'compat', true),
                         (e) => e.response.status === 404);
  });
  console.log('compat: all checks passed');
})();
