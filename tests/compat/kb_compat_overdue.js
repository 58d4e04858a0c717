// Overdue through the official Kill Bill JavaScript client (npm `killbill` 0.24.0) against a Billow server: an
// overdue configuration uploaded as XML and as JSON and read back, and an account's overdue state after its
// payments failed and the test clock moved past the first state's delay.
// Usage: node kb_compat_overdue.js BASE_URL CATALOG_XML_PATH   (NODE_PATH must reach the installed `killbill`)
'use strict';
const assert = require('assert');
const killbill = require('killbill');
const axios = require('axios');
const { check, idOf } = require('./common');

const BASE = process.argv[2];
const KEY = 'compat-overdue-' + Date.now();
const SECRET = 'lazar';
const http = axios.create();
const cfg = new killbill.Configuration({ basePath: BASE, username: 'admin', password: 'password',
                                         apiKey: killbill.apiKey(KEY, SECRET) });
const tenantHeaders = { 'X-Killbill-ApiKey': KEY, 'X-Killbill-ApiSecret': SECRET, 'X-Killbill-CreatedBy': 'compat' };
const basic = { username: 'admin', password: 'password' };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const XML = `<?xml version="1.0" encoding="UTF-8"?>
<overdueConfig>
  <accountOverdueStates>
    <initialReevaluationInterval><unit>DAYS</unit><number>1</number></initialReevaluationInterval>
    <state name="OD2">
      <condition><timeSinceEarliestUnpaidInvoiceEqualsOrExceeds><unit>DAYS</unit><number>60</number>
      </timeSinceEarliestUnpaidInvoiceEqualsOrExceeds></condition>
      <externalMessage>Reached OD2</externalMessage>
      <blockChanges>true</blockChanges>
      <disableEntitlementAndChangesBlocked>true</disableEntitlementAndChangesBlocked>
      <autoReevaluationInterval><unit>DAYS</unit><number>5</number></autoReevaluationInterval>
    </state>
    <state name="OD1">
      <condition><timeSinceEarliestUnpaidInvoiceEqualsOrExceeds><unit>DAYS</unit><number>30</number>
      </timeSinceEarliestUnpaidInvoiceEqualsOrExceeds></condition>
      <externalMessage>Reached OD1</externalMessage>
      <blockChanges>true</blockChanges>
      <autoReevaluationInterval><unit>DAYS</unit><number>5</number></autoReevaluationInterval>
    </state>
  </accountOverdueStates>
</overdueConfig>`;

(async () => {
  const tenantApi = new killbill.TenantApi(cfg, undefined, http);
  const accountApi = new killbill.AccountApi(cfg, undefined, http);
  const invoiceApi = new killbill.InvoiceApi(cfg, undefined, http);
  const overdueApi = new killbill.OverdueApi(cfg, undefined, http);
  let accountId;

  await check('a tenant of its own, on Kill Bill\'s default overdue configuration', async () => {
    await tenantApi.createTenant({ apiKey: KEY, apiSecret: SECRET, externalKey: KEY }, 'compat');
    const json = (await overdueApi.getOverdueConfigJson()).data;
    assert.deepStrictEqual(json.overdueStates.map((s) => [s.name, s.isClearState]), [['Clear', true]]);
  });
  await check('OverdueApi.uploadOverdueConfigXml, read back as XML and JSON', async () => {
    const r = await overdueApi.uploadOverdueConfigXml(XML, 'compat');
    assert.strictEqual(r.status, 201);
    const xml = (await overdueApi.getOverdueConfigXml()).data;
    assert.match(xml, /<state name="OD2">/);
    assert.match(xml, /<initialReevaluationInterval><unit>DAYS<\/unit><number>1<\/number>/);
    const json = (await overdueApi.getOverdueConfigJson()).data;
    assert.strictEqual(json.initialReevaluationInterval, 1);
    assert.deepStrictEqual(json.overdueStates.map((s) => [s.name, s.isBlockChanges, s.isDisableEntitlement,
                                                          s.autoReevaluationIntervalDays,
                                                          s.condition.timeSinceEarliestUnpaidInvoiceEqualsOrExceeds]),
                           [['OD2', true, true, 5, { unit: 'DAYS', number: 60 }],
                            ['OD1', true, false, 5, { unit: 'DAYS', number: 30 }]]);
  });
  await check('OverdueApi.uploadOverdueConfigJson: Kill Bill\'s JSON rules (intervals derived from the delays)', async () => {
    const json = (await overdueApi.getOverdueConfigJson()).data;
    const states = json.overdueStates.map((s) => ({ ...s, autoReevaluationIntervalDays: null }));
    const r = await overdueApi.uploadOverdueConfigJson({ overdueStates: states }, 'compat');
    assert.strictEqual(r.status, 201);
    const again = (await overdueApi.getOverdueConfigJson()).data;
    assert.deepStrictEqual(again.overdueStates.map((s) => [s.name, s.autoReevaluationIntervalDays]),
                           [['OD2', null], ['OD1', 30]]);
    assert.strictEqual(again.initialReevaluationInterval, 30);
    await assert.rejects(overdueApi.uploadOverdueConfigJson({ overdueStates: [{ name: 'X' }] }, 'compat'),
                         (e) => e.response.status === 400 && e.response.data.code === 5010);
    assert.strictEqual((await overdueApi.uploadOverdueConfigXml(XML, 'compat')).status, 201);
  });
  await check('AccountApi.getOverdueAccount: clear, then OD1 once an unpaid invoice is 30 days old', async () => {
    const r = await accountApi.createAccount({ name: 'Overdue Compat', currency: 'USD' }, 'compat');
    accountId = idOf(r);
    const clear = (await accountApi.getOverdueAccount(accountId)).data;
    assert.deepStrictEqual(clear, { name: '__KILLBILL__CLEAR__OVERDUE_STATE__', externalMessage: '',
                                    isDisableEntitlementAndChangesBlocked: false, isBlockChanges: false,
                                    isClearState: true, reevaluationIntervalDays: null });
    await accountApi.createPaymentMethod({ pluginName: 'killbill-payment-test', pluginInfo: {} }, accountId,
                                         'compat', true);
    await http.post(BASE + '/plugins/killbill-payment-test/configure',
                    { CONFIGURE_ACTION: 'ACTION_RETURN_PLUGIN_STATUS_ERROR' }, { auth: basic, headers: tenantHeaders });
    const charges = await invoiceApi.createExternalCharges([{ accountId, amount: 25, currency: 'USD' }], accountId,
                                                           'compat', undefined, true);
    const invoiceId = charges.data[0].invoiceId;
    for (let i = 0; i < 100; i++) {  // the automatic payment, declined
      const payments = (await invoiceApi.getPaymentsForInvoice(invoiceId)).data;
      if (payments.some((p) => p.transactions.some((t) => t.status === 'PAYMENT_FAILURE'))) break;
      await sleep(100);
    }
    for (let day = 0; day < 31; day++) {  // day by day, as time passes
      const moved = await http.put(BASE + '/1.0/kb/test/clock', null,
                                   { params: { days: 1, timeoutSec: 30 }, auth: basic, headers: tenantHeaders });
      assert.strictEqual(moved.status, 200);
    }
    const od1 = (await accountApi.getOverdueAccount(accountId)).data;
    assert.deepStrictEqual(od1, { name: 'OD1', externalMessage: 'Reached OD1',
                                  isDisableEntitlementAndChangesBlocked: false, isBlockChanges: true,
                                  isClearState: false, reevaluationIntervalDays: 5 });
    const blocking = (await accountApi.getBlockingStates(accountId, undefined, ['overdue-service'])).data;
    assert.deepStrictEqual(blocking.map((b) => [b.stateName, b.isBlockChange, b.isBlockEntitlement, b.isBlockBilling]),
                           [['OD1', true, false, false]]);
  });
  await http.post(BASE + '/plugins/killbill-payment-test/configure', { CONFIGURE_ACTION: 'ACTION_CLEAR' },
                  { auth: basic, headers: tenantHeaders });
  console.log('compat: all checks passed');
})();
