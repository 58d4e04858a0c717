// The official Kill Bill JavaScript client (npm `killbill` 0.24.0) against a Billow server: per-tenant
// configuration, plugin configuration, and audit logs with history.
// Usage: node kb_compat_config.js BASE_URL CATALOG_XML_PATH   (NODE_PATH must reach the installed `killbill` package)
// Prints one line per check; exits non-zero on the first failure.
'use strict';
const assert = require('assert');
const killbill = require('killbill');
const axios = require('axios');
const { check, idOf } = require('./common');

const BASE = process.argv[2];
const KEY = 'compat-config-' + Date.now();
const SECRET = 'lazar';
const http = axios.create();  // no Location-following interceptor (it cannot follow createTenant)
const cfg = new killbill.Configuration({ basePath: BASE, username: 'admin', password: 'password',
                                         apiKey: killbill.apiKey(KEY, SECRET) });
const tenantHeaders = { 'X-Killbill-ApiKey': KEY, 'X-Killbill-ApiSecret': SECRET };
const basic = { username: 'admin', password: 'password' };
const FIXED_DAYS = 'org.killbill.invoice.proration.fixed.days';

async function drain() {
  await axios.get(BASE + '/1.0/kb/test/queues', { params: { timeoutSec: 10 }, auth: basic, headers: tenantHeaders });
}

(async () => {
  const tenantApi = new killbill.TenantApi(cfg, undefined, http);
  const accountApi = new killbill.AccountApi(cfg, undefined, http);
  const subscriptionApi = new killbill.SubscriptionApi(cfg, undefined, http);
  const bundleApi = new killbill.BundleApi(cfg, undefined, http);
  const invoiceApi = new killbill.InvoiceApi(cfg, undefined, http);
  let accountId, subscriptionId, bundleId, invoiceId;
  const config = JSON.stringify({ [FIXED_DAYS]: '30', 'org.killbill.invoice.maxNumberOfMonthsInFuture': '24' });

  await check('TenantApi.createTenant (with the default catalog)', async () => {
    const r = await tenantApi.createTenant({ apiKey: KEY, apiSecret: SECRET }, 'compat', true);
    assert.strictEqual(r.status, 201);
  });
  await check('TenantApi.uploadPerTenantConfiguration and getPerTenantConfiguration', async () => {
    const r = await tenantApi.uploadPerTenantConfiguration(config, 'compat');
    assert.strictEqual(r.status, 201);
    assert.ok(r.headers.location.endsWith('/1.0/kb/tenants/uploadPerTenantConfig'));
    const got = (await tenantApi.getPerTenantConfiguration()).data;
    assert.strictEqual(got.key, 'PER_TENANT_CONFIG');
    assert.deepStrictEqual(got.values.map((v) => JSON.parse(v)), [JSON.parse(config)]);
  });
  await check('TenantApi.uploadPerTenantConfiguration refuses a bad value naming the property, storing nothing',
    async () => {
      await assert.rejects(tenantApi.uploadPerTenantConfiguration(JSON.stringify({ [FIXED_DAYS]: 'thirty' }), 'compat'),
                           (e) => e.response.status === 400 && e.response.data.message.includes(FIXED_DAYS));
      const got = (await tenantApi.getPerTenantConfiguration()).data;
      assert.deepStrictEqual(got.values.map((v) => JSON.parse(v)), [JSON.parse(config)]);
    });
  await check('TenantApi.uploadPluginConfiguration and getPluginConfiguration', async () => {
    const r = await tenantApi.uploadPluginConfiguration('org.killbill.billing.plugin.compat.key=v1', 'compat-plugin',
                                                        'compat');
    assert.strictEqual(r.status, 201);
    await tenantApi.uploadPluginConfiguration('org.killbill.billing.plugin.compat.key=v2', 'compat-plugin', 'compat');
    const got = (await tenantApi.getPluginConfiguration('compat-plugin')).data;
    assert.strictEqual(got.key, 'PLUGIN_CONFIG_compat-plugin');
    assert.deepStrictEqual(got.values, ['org.killbill.billing.plugin.compat.key=v2']);
    assert.strictEqual((await tenantApi.deletePluginConfiguration('compat-plugin', 'compat')).status, 204);
    assert.deepStrictEqual((await tenantApi.getPluginConfiguration('compat-plugin')).data.values, []);
  });
  await check('a subscription invoiced under the tenant configuration', async () => {
    accountId = idOf(await accountApi.createAccount({ name: 'Config Compat', currency: 'USD' }, 'compat'));
    const r = await subscriptionApi.createSubscription({ accountId, planName: 'starter-monthly' }, 'compat',
                                                       undefined, undefined, undefined, undefined, undefined, true);
    subscriptionId = idOf(r);
    await drain();
    const sub = (await subscriptionApi.getSubscription(subscriptionId)).data;
    bundleId = sub.bundleId;
    const invoices = (await accountApi.getInvoicesForAccount(accountId)).data;
    assert.ok(invoices.length >= 1, JSON.stringify(invoices));
    invoiceId = invoices[0].invoiceId;
  });
  await check('SubscriptionApi.getSubscriptionAuditLogsWithHistory', async () => {
    const logs = (await subscriptionApi.getSubscriptionAuditLogsWithHistory(subscriptionId)).data;
    assert.ok(logs.length >= 1);
    assert.strictEqual(logs[0].changeType, 'INSERT');
    assert.strictEqual(logs[0].objectType, 'SUBSCRIPTION');
    assert.strictEqual(logs[0].objectId, subscriptionId);
    assert.strictEqual(logs[0].changedBy, 'compat');
    assert.strictEqual(logs[0].history.id, subscriptionId);
  });
  await check('InvoiceApi.getInvoiceAuditLogsWithHistory', async () => {
    const logs = (await invoiceApi.getInvoiceAuditLogsWithHistory(invoiceId)).data;
    assert.ok(logs.length >= 1);
    assert.strictEqual(logs[0].changeType, 'INSERT');
    assert.strictEqual(logs[0].objectType, 'INVOICE');
    assert.strictEqual(logs[0].objectId, invoiceId);
    assert.strictEqual(logs[0].history.id, invoiceId);
    assert.strictEqual(logs[0].history.accountId, accountId);
  });
  await check('BundleApi.getBundleAuditLogsWithHistory and SubscriptionApi.getSubscriptionEventAuditLogsWithHistory',
    async () => {
      const bundle = (await bundleApi.getBundleAuditLogsWithHistory(bundleId)).data;
      assert.strictEqual(bundle[0].objectType, 'BUNDLE');
      assert.strictEqual(bundle[0].history.id, bundleId);
      const sub = (await subscriptionApi.getSubscription(subscriptionId, 'FULL')).data;
      assert.strictEqual(sub.auditLogs[0].changeType, 'INSERT');
      const billing = sub.events.find((e) => e.eventType === 'START_BILLING');
      const logs = (await subscriptionApi.getSubscriptionEventAuditLogsWithHistory(billing.eventId)).data;
      assert.strictEqual(logs[0].objectType, 'SUBSCRIPTION_EVENT');
      assert.strictEqual(logs[0].objectId, billing.eventId);
    });
  await check('AccountApi.getBlockingStateAuditLogsWithHistory', async () => {
    await accountApi.addAccountBlockingState({ stateName: 'COMPAT', service: 'compat', isBlockChange: false,
                                               isBlockEntitlement: false, isBlockBilling: false }, accountId,
                                             'compat');
    const states = (await accountApi.getBlockingStates(accountId, undefined, undefined, 'FULL')).data;
    const mine = states.find((s) => s.stateName === 'COMPAT');
    const logs = (await accountApi.getBlockingStateAuditLogsWithHistory(mine.auditLogs[0].objectId)).data;
    assert.strictEqual(logs[0].objectType, 'BLOCKING_STATES');
    assert.strictEqual(logs[0].history.state, 'COMPAT');
  });
  await check('TenantApi.deletePerTenantConfiguration', async () => {
    assert.strictEqual((await tenantApi.deletePerTenantConfiguration('compat')).status, 204);
    assert.deepStrictEqual((await tenantApi.getPerTenantConfiguration()).data.values, []);
  });
  console.log('compat: all checks passed');
})();
