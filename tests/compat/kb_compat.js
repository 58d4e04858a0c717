// The official Kill Bill JavaScript client (npm `killbill` 0.24.0) against a Billow server.
// Usage: node kb_compat.js BASE_URL CATALOG_XML_PATH   (NODE_PATH must reach the installed `killbill` package)
// Prints one line per check; exits non-zero on the first failure.
'use strict';
const assert = require('assert');
const killbill = require('killbill');
const axios = require('axios');
const { check, idOf } = require('./common');

const fs = require('fs');
const BASE = process.argv[2];
const CATALOG_XML = fs.readFileSync(process.argv[3], 'utf8');
const KEY = 'compat-' + Date.now();
const SECRET = 'lazar';
const http = axios.create();  // no Location-following interceptor (it cannot follow createTenant)
const cfg = new killbill.Configuration({ basePath: BASE, username: 'admin', password: 'password',
                                         apiKey: killbill.apiKey(KEY, SECRET) });
const tenantHeaders = { 'X-Killbill-ApiKey': KEY, 'X-Killbill-ApiSecret': SECRET };
const basic = { username: 'admin', password: 'password' };

(async () => {
  const tenantApi = new killbill.TenantApi(cfg, undefined, http);
  const accountApi = new killbill.AccountApi(cfg, undefined, http);
  let tenantId, accountId;

  await check('TenantApi.createTenant answers 201 with an absolute Location', async () => {
    const r = await tenantApi.createTenant({ apiKey: KEY, apiSecret: SECRET, externalKey: KEY }, 'compat');
    assert.strictEqual(r.status, 201);
    assert.ok(r.headers.location.startsWith(BASE + '/1.0/kb/tenants/'));
    tenantId = idOf(r);
  });
  await check('TenantApi.getTenant and getTenantByApiKey', async () => {
    const byId = await tenantApi.getTenant(tenantId);
    assert.strictEqual(byId.data.tenantId, tenantId);
    assert.strictEqual(byId.data.apiSecret, null);
    const byKey = await tenantApi.getTenantByApiKey(KEY);
    assert.strictEqual(byKey.data.tenantId, tenantId);
  });
  await check('TenantApi.createTenant with a taken apiKey is 409', async () => {
    await assert.rejects(tenantApi.createTenant({ apiKey: KEY, apiSecret: 'x' }, 'compat'),
                         (e) => e.response.status === 409 && e.response.data.code === 20000);
  });
  await check('AccountApi.createAccount', async () => {
    const r = await accountApi.createAccount({ name: 'John Compat', firstNameLength: 4, externalKey: 'compat-acme',
                                               currency: 'USD', email: 'john@compat.example',
                                               timeZone: 'Europe/Paris', billCycleDayLocal: 0 }, 'compat',
                                             'onboarding', 'created by the official client');
    assert.strictEqual(r.status, 201);
    assert.strictEqual(r.data, '');
    accountId = idOf(r);
  });
  await check('AccountApi.getAccount', async () => {
    const r = await accountApi.getAccount(accountId, true, true, 'FULL');
    const a = r.data;
    assert.strictEqual(a.accountId, accountId);
    assert.strictEqual(a.name, 'John Compat');
    assert.strictEqual(a.currency, 'USD');
    assert.strictEqual(a.timeZone, 'Europe/Paris');
    assert.strictEqual(a.billCycleDayLocal, 0);
    assert.strictEqual(a.parentAccountId, null);
    assert.match(a.referenceTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.strictEqual(a.auditLogs.length, 1);
    assert.strictEqual(a.auditLogs[0].changeType, 'INSERT');
    assert.strictEqual(a.auditLogs[0].reasonCode, 'onboarding');
  });
  await check('AccountApi.getAccountByKey', async () => {
    const r = await accountApi.getAccountByKey('compat-acme');
    assert.strictEqual(r.data.accountId, accountId);
  });
  await check('AccountApi.updateAccount', async () => {
    const r = await accountApi.updateAccount({ name: 'John Compat II', city: 'Paris' }, accountId, 'compat');
    assert.strictEqual(r.status, 204);
    const a = (await accountApi.getAccount(accountId)).data;
    assert.strictEqual(a.name, 'John Compat II');
    assert.strictEqual(a.city, 'Paris');
    assert.strictEqual(a.email, 'john@compat.example');
  });
  await check('AccountApi.updateAccount refuses a currency change with 400', async () => {
    await assert.rejects(accountApi.updateAccount({ currency: 'EUR' }, accountId, 'compat'),
                         (e) => e.response.status === 400 && /currency/.test(e.response.data.message));
  });
  await check('AccountApi.searchAccounts and getAccounts paginate', async () => {
    const found = await accountApi.searchAccounts('Compat', 0, 10);
    assert.deepStrictEqual(found.data.map((a) => a.accountId), [accountId]);
    assert.strictEqual(found.headers['x-killbill-pagination-totalnbrecords'], '1');
    const all = await accountApi.getAccounts(0, 100);
    assert.strictEqual(all.data.length, 1);
  });
  await check('AccountApi.getAccountAuditLogs and getAccountAuditLogsWithHistory', async () => {
    const logs = (await accountApi.getAccountAuditLogs(accountId)).data;
    assert.deepStrictEqual(logs.map((l) => l.changeType), ['INSERT', 'UPDATE']);
    assert.strictEqual(logs[0].changedBy, 'compat');
    assert.strictEqual(logs[0].objectType, 'ACCOUNT');
    const withHistory = (await accountApi.getAccountAuditLogsWithHistory(accountId)).data;
    assert.strictEqual(withHistory[1].history.name, 'John Compat II');
  });
  await check('an unknown account is 404 with Kill Bill\'s error body', async () => {
    await assert.rejects(accountApi.getAccount('00000000-0000-0000-0000-0000000000ff'),
                         (e) => e.response.status === 404 && e.response.data.code === 3002 &&
                                Array.isArray(e.response.data.stackTrace));
  });
  await check('TenantApi.registerPushNotificationCallback (body-less POST)', async () => {
    const r = await tenantApi.registerPushNotificationCallback('compat', 'http://127.0.0.1:9/callback');
    assert.strictEqual(r.status, 201);
    const cbs = await tenantApi.getPushNotificationCallbacks();
    assert.deepStrictEqual(cbs.data.values, ['http://127.0.0.1:9/callback']);
  });
  await check('test clock: set and move with plain HTTP', async () => {
    const set = await axios.post(BASE + '/1.0/kb/test/clock', null,
                                 { params: { requestedDate: '2024-02-01T00:00:00.000Z' }, auth: basic,
                                   headers: tenantHeaders });
    assert.strictEqual(set.data.currentUtcTime, '2024-02-01T00:00:00.000Z');
    const moved = await axios.put(BASE + '/1.0/kb/test/clock', null,
                                  { params: { days: 31 }, auth: basic, headers: tenantHeaders });
    assert.strictEqual(moved.data.currentUtcTime, '2024-03-03T00:00:00.000Z');
    assert.strictEqual(moved.data.localDate, '2024-03-03');
  });
  const catalogApi = new killbill.CatalogApi(cfg, undefined, http);
  await check('CatalogApi.uploadCatalogXml', async () => {
    const r = await catalogApi.uploadCatalogXml(CATALOG_XML, 'compat');
    assert.strictEqual(r.status, 201);
    assert.ok(r.headers.location.endsWith('/1.0/kb/catalog'));
  });
  await check('CatalogApi.uploadCatalogXml with an invalid catalog is 400', async () => {
    await assert.rejects(catalogApi.uploadCatalogXml('<catalog></catalog>', 'compat'),
                         (e) => e.response.status === 400);
  });
  await check('CatalogApi.getCatalogJson', async () => {
    const versions = (await catalogApi.getCatalogJson()).data;
    assert.strictEqual(versions.length, 1);
    assert.ok(versions[0].products.length > 0);
    assert.ok(versions[0].products.every((p) => ['BASE', 'ADD_ON', 'STANDALONE'].includes(p.type)));
  });
  await check('CatalogApi.getAvailableBasePlans', async () => {
    const plans = (await catalogApi.getAvailableBasePlans()).data;
    assert.ok(plans.length > 0);
    assert.ok(plans.every((p) => p.plan && p.product && p.priceList && p.finalPhaseBillingPeriod));
  });
  await check('CatalogApi.addSimplePlan', async () => {
    const r = await catalogApi.addSimplePlan({ planId: 'compat-simple-monthly', productName: 'CompatSimple',
                                               productCategory: 'BASE', currency: 'USD', amount: 5,
                                               billingPeriod: 'MONTHLY', trialLength: 0,
                                               trialTimeUnit: 'UNLIMITED' }, 'compat');
    assert.strictEqual(r.status, 201);
    const plans = (await catalogApi.getAvailableBasePlans()).data;
    assert.ok(plans.some((p) => p.plan === 'compat-simple-monthly'));
  });
  // Subscriptions run in a second tenant created with useGlobalDefault=true (Billow's default catalog,
  // which has add-ons): TenantApi.createTenant with the query flag, then the subscription APIs.
  const KEY2 = KEY + '-subs';
  const cfg2 = new killbill.Configuration({ basePath: BASE, username: 'admin', password: 'password',
                                            apiKey: killbill.apiKey(KEY2, SECRET) });
  const tenant2 = new killbill.TenantApi(cfg2, undefined, http);
  const accounts2 = new killbill.AccountApi(cfg2, undefined, http);
  const subscriptionApi = new killbill.SubscriptionApi(cfg2, undefined, http);
  const bundleApi = new killbill.BundleApi(cfg2, undefined, http);
  let account2, bundleId, baseId;
  await check('TenantApi.createTenant with useGlobalDefault=true gets the default catalog', async () => {
    const r = await tenant2.createTenant({ apiKey: KEY2, apiSecret: SECRET }, 'compat', true);
    assert.strictEqual(r.status, 201);
    const plans = (await new killbill.CatalogApi(cfg2, undefined, http).getAvailableBasePlans()).data;
    assert.ok(plans.some((p) => p.plan === 'starter-monthly'));
    account2 = idOf(await accounts2.createAccount({ name: 'Subscriber', currency: 'USD' }, 'compat'));
  });
  await check('SubscriptionApi.createSubscriptionWithAddOns', async () => {
    const r = await subscriptionApi.createSubscriptionWithAddOns(
      [{ accountId: account2, planName: 'starter-monthly', externalKey: 'compat-base' },
       { planName: 'prioritysupport-monthly' }], 'compat');
    assert.strictEqual(r.status, 201);
    assert.ok(r.headers.location.includes('/1.0/kb/bundles/'));
    bundleId = idOf(r);
    const bundle = (await bundleApi.getBundle(bundleId)).data;
    assert.deepStrictEqual(bundle.subscriptions.map((s) => s.productCategory), ['BASE', 'ADD_ON']);
    baseId = bundle.subscriptions[0].subscriptionId;
    const bundles = (await accounts2.getAccountBundles(account2)).data;
    assert.strictEqual(bundles.length, 1);
  });
  await check('SubscriptionApi.changeSubscriptionPlan', async () => {
    // a day later: the test clock stands still between calls, and a change on the creation's very instant
    // replaces the creation (Kill Bill's isChangePlanOnStartDate: no CHANGE event then)
    await axios.put(BASE + '/1.0/kb/test/clock', null, { params: { days: 1 }, auth: basic, headers: tenantHeaders });
    const r = await subscriptionApi.changeSubscriptionPlan({ planName: 'starter-annual' }, baseId, 'compat');
    assert.strictEqual(r.status, 204);
    const sub = (await subscriptionApi.getSubscription(baseId)).data;
    assert.strictEqual(sub.planName, 'starter-annual');
    assert.strictEqual(sub.billingPeriod, 'ANNUAL');
    assert.ok(sub.events.some((e) => e.eventType === 'CHANGE'));
  });
  await check('BundleApi.pauseBundle and resumeBundle', async () => {
    assert.strictEqual((await bundleApi.pauseBundle(bundleId, 'compat')).status, 204);
    assert.strictEqual((await subscriptionApi.getSubscription(baseId)).data.state, 'BLOCKED');
    assert.strictEqual((await bundleApi.resumeBundle(bundleId, 'compat')).status, 204);
    assert.strictEqual((await subscriptionApi.getSubscription(baseId)).data.state, 'ACTIVE');
  });
  await check('SubscriptionApi.cancelSubscriptionPlan end of term', async () => {
    const r = await subscriptionApi.cancelSubscriptionPlan(baseId, 'compat', undefined, undefined, undefined,
                                                           'END_OF_TERM', 'END_OF_TERM');
    assert.strictEqual(r.status, 204);
    const sub = (await subscriptionApi.getSubscription(baseId)).data;
    assert.ok(sub.billingEndDate !== null);
    assert.ok(sub.events.some((e) => e.eventType === 'STOP_BILLING'));
    const bundle = (await bundleApi.getBundle(bundleId)).data;
    assert.ok(bundle.subscriptions.every((s) => s.billingEndDate !== null));  // the add-on follows its base
  });
  const invoiceApi = new killbill.InvoiceApi(cfg2, undefined, http);
  const creditApi = new killbill.CreditApi(cfg2, undefined, http);
  let account3, invoiceId;
  await check('InvoiceApi: invoices of a new subscription (AccountApi.getInvoicesForAccount, getInvoice)', async () => {
    account3 = idOf(await accounts2.createAccount({ name: 'Invoiced', currency: 'USD', locale: 'en_US' }, 'compat'));
    await subscriptionApi.createSubscription({ accountId: account3, planName: 'prioritysupport-monthly' }, 'compat')
      .catch((e) => assert.strictEqual(e.response.status, 400));  // an add-on needs a base
    await subscriptionApi.createSubscription({ accountId: account3, planName: 'starter-monthly' }, 'compat',
                                             undefined, undefined, undefined, undefined, undefined, true, 20);
    const invoices = (await accounts2.getInvoicesForAccount(account3, undefined, undefined, false, false, false,
                                                            true)).data;
    assert.strictEqual(invoices.length, 1);
    invoiceId = invoices[0].invoiceId;
    const invoice = (await invoiceApi.getInvoice(invoiceId)).data;
    assert.strictEqual(invoice.items[0].planName, 'starter-monthly');
    assert.strictEqual(typeof invoice.invoiceNumber, 'string');
    const bare = (await accounts2.getInvoicesForAccount(account3)).data;
    assert.deepStrictEqual(bare[0].items, []);  // includeInvoiceComponents defaults to false
  });
  await check('InvoiceApi.generateDryRunInvoice', async () => {
    const r = await invoiceApi.generateDryRunInvoice({ dryRunType: 'TARGET_DATE' }, account3, 'compat',
                                                     '2024-06-01');
    assert.strictEqual(r.status, 200);
    assert.ok(r.data.items.some((i) => i.itemType === 'RECURRING' && i.planName === 'starter-monthly'));
    const invoices = (await accounts2.getInvoicesForAccount(account3)).data;
    assert.strictEqual(invoices.length, 1);  // a dry run writes nothing
  });
  await check('CreditApi.createCredits and InvoiceApi.createExternalCharges', async () => {
    const credits = await creditApi.createCredits([{ accountId: account3, amount: 5, currency: 'USD',
                                                     description: 'goodwill' }], 'compat', true);
    assert.strictEqual(credits.data[0].itemType, 'CREDIT_ADJ');
    assert.strictEqual(credits.data[0].amount, 5);
    const charges = await invoiceApi.createExternalCharges([{ accountId: account3, amount: 7.5, currency: 'USD',
                                                              description: 'setup fee' }], account3, 'compat',
                                                           undefined, true);
    assert.strictEqual(charges.data[0].itemType, 'EXTERNAL_CHARGE');
    assert.strictEqual(charges.data[0].amount, 7.5);
    const account = (await accounts2.getAccount(account3, true, true)).data;
    assert.strictEqual(account.accountBalance, 2.5);  // 7.50 charged, 5.00 of credit used
  });
  await check('InvoiceApi.uploadInvoiceTemplate, uploadInvoiceTranslation, getInvoiceAsHTML', async () => {
    const template = '<html><body><h1>{{text.invoiceTitle}}</h1> #{{invoice.invoiceNumber}}</body></html>';
    assert.strictEqual((await invoiceApi.uploadInvoiceTemplate(template, 'compat', true)).status, 201);
    assert.strictEqual((await invoiceApi.uploadInvoiceTranslation('invoiceTitle=Compat Invoice\n', 'en_US',
                                                                  'compat', true)).status, 201);
    const html = (await invoiceApi.getInvoiceAsHTML(invoiceId)).data;
    assert.ok(html.includes('<h1>Compat Invoice</h1>'), html);
  });
  // Tags and custom fields (TagDefinitionApi, AccountApi): AUTO_INVOICING_OFF holds the invoice of a new
  // subscription back; removing the tag catches up (Kill Bill's InvoiceTagHandler)
  const tagDefinitionApi = new killbill.TagDefinitionApi(cfg2, undefined, http);
  const AUTO_INVOICING_OFF = '00000000-0000-0000-0000-000000000002';
  const tenant2Headers = { 'X-Killbill-ApiKey': KEY2, 'X-Killbill-ApiSecret': SECRET };
  let account4;
  await check('TagDefinitionApi.getTagDefinitions lists the control tags', async () => {
    const definitions = (await tagDefinitionApi.getTagDefinitions()).data;
    const off = definitions.find((d) => d.id === AUTO_INVOICING_OFF);
    assert.deepStrictEqual(off, { id: AUTO_INVOICING_OFF, isControlTag: true, name: 'AUTO_INVOICING_OFF',
                                  description: 'Suspends invoicing until removed.',
                                  applicableObjectTypes: ['ACCOUNT'], auditLogs: [] });
  });
  await check('AccountApi.createAccountTags AUTO_INVOICING_OFF holds invoicing back', async () => {
    account4 = idOf(await accounts2.createAccount({ name: 'Held back', currency: 'USD' }, 'compat'));
    const r = await accounts2.createAccountTags([AUTO_INVOICING_OFF], account4, 'compat', 'billing hold');
    assert.strictEqual(r.status, 201);
    assert.ok(r.headers.location.endsWith(`/1.0/kb/accounts/${account4}/tags`));
    const tags = (await accounts2.getAccountTags(account4, false, 'FULL')).data;
    assert.deepStrictEqual(tags.map((t) => [t.objectType, t.objectId, t.tagDefinitionName]),
                           [['ACCOUNT', account4, 'AUTO_INVOICING_OFF']]);
    assert.strictEqual(tags[0].auditLogs[0].reasonCode, 'billing hold');
    await subscriptionApi.createSubscription({ accountId: account4, planName: 'starter-monthly' }, 'compat',
                                             undefined, undefined, undefined, undefined, undefined, true, 20);
    assert.deepStrictEqual((await accounts2.getInvoicesForAccount(account4)).data, []);
  });
  await check('AccountApi.deleteAccountTags AUTO_INVOICING_OFF invoices what was held back', async () => {
    const r = await accounts2.deleteAccountTags(account4, 'compat', [AUTO_INVOICING_OFF]);
    assert.strictEqual(r.status, 204);
    await axios.get(BASE + '/1.0/kb/test/queues', { params: { timeoutSec: 10 }, auth: basic,
                                                    headers: tenant2Headers });
    assert.deepStrictEqual((await accounts2.getAccountTags(account4)).data, []);
    const removed = (await accounts2.getAllTags(account4, 'ACCOUNT', true)).data;
    assert.deepStrictEqual(removed.map((t) => t.tagDefinitionName), ['AUTO_INVOICING_OFF']);
    const invoices = (await accounts2.getInvoicesForAccount(account4, undefined, undefined, false, false, false,
                                                            true)).data;
    assert.strictEqual(invoices.length, 1);
    assert.ok(invoices[0].items.some((i) => i.planName === 'starter-monthly'));
  });
  await check('AccountApi custom fields: create, modify, delete', async () => {
    const created = await accounts2.createAccountCustomFields([{ name: 'crm', value: 'A-1' },
                                                               { name: 'segment', value: 'smb' }], account4, 'compat');
    assert.strictEqual(created.status, 201);
    assert.ok(created.headers.location.endsWith(`/1.0/kb/accounts/${account4}/customFields`));
    const fields = (await accounts2.getAccountCustomFields(account4)).data;
    assert.deepStrictEqual(fields.map((f) => [f.objectType, f.objectId, f.name, f.value]),
                           [['ACCOUNT', account4, 'crm', 'A-1'], ['ACCOUNT', account4, 'segment', 'smb']]);
    const segment = fields[1].customFieldId;
    const modified = await accounts2.modifyAccountCustomFields([{ customFieldId: segment, value: 'enterprise' }],
                                                               account4, 'compat');
    assert.strictEqual(modified.status, 204);
    const changed = (await accounts2.getAccountCustomFields(account4, 'FULL')).data;
    assert.strictEqual(changed[1].value, 'enterprise');
    assert.deepStrictEqual(changed[1].auditLogs.map((a) => a.changeType), ['INSERT', 'UPDATE']);
    await assert.rejects(accounts2.createAccountCustomFields([{ name: 'crm', value: 'A-1' }], account4, 'compat'),
                         (e) => e.response.status === 400 && e.response.data.code === 9000);
    assert.strictEqual((await accounts2.deleteAccountCustomFields(account4, 'compat', [fields[0].customFieldId]))
                         .status, 204);
    const left = (await accounts2.getAccountCustomFields(account4)).data;
    assert.deepStrictEqual(left.map((f) => f.name), ['segment']);
  });
  const usageApi = new killbill.UsageApi(cfg2, undefined, http);
  let storageId;
  const usageBody = (trackingId, records) => ({ subscriptionId: storageId, trackingId,
    unitUsageRecords: [{ unitType: 'gigabytes', usageRecords: records }] });
  await check('UsageApi.recordUsage, getAllUsage and getUsage', async () => {
    const bundles = (await accounts2.getAccountBundles(account3)).data;
    const created = await subscriptionApi.createSubscription({ accountId: account3, bundleId: bundles[0].bundleId,
                                                               planName: 'extrastorage-monthly' }, 'compat',
                                                             undefined, undefined, undefined, undefined, undefined,
                                                             true, 20);
    storageId = idOf(created);
    const r = await usageApi.recordUsage(usageBody('compat-usage-1', [
      { recordDate: '2024-03-05T10:00:00.000Z', amount: 120 }, { recordDate: '2024-03-06T10:00:00.000Z', amount: 4.5 }]),
                                         'compat', 'metering', 'recorded by the official client');
    assert.strictEqual(r.status, 201);
    const all = (await usageApi.getAllUsage(storageId, '2024-03-01', '2024-04-01')).data;
    assert.strictEqual(all.subscriptionId, storageId);
    assert.strictEqual(all.startDate, '2024-03-01T00:00:00.000Z');
    assert.strictEqual(all.endDate, '2024-04-01T00:00:00.000Z');
    assert.deepStrictEqual(all.rolledUpUnits, [{ unitType: 'gigabytes', amount: 124.5 }]);
    const day = (await usageApi.getUsage(storageId, 'gigabytes', '2024-03-06', '2024-03-07')).data;
    assert.deepStrictEqual(day.rolledUpUnits, [{ unitType: 'gigabytes', amount: 4.5 }]);
  });
  await check('UsageApi.recordUsage with a tracking id already recorded is 400 with code 50000', async () => {
    await assert.rejects(usageApi.recordUsage(usageBody('compat-usage-1', [
      { recordDate: '2024-03-07T10:00:00.000Z', amount: 1000 }]), 'compat'),
                         (e) => e.response.status === 400 && e.response.data.code === 50000 &&
                                e.response.data.className === 'org.killbill.billing.usage.api.UsageApiException');
    const all = (await usageApi.getAllUsage(storageId, '2024-03-01', '2024-04-01')).data;
    assert.deepStrictEqual(all.rolledUpUnits, [{ unitType: 'gigabytes', amount: 124.5 }]);
  });
  await check('the recorded usage is invoiced (InvoiceApi.generateDryRunInvoice, UPCOMING_INVOICE)', async () => {
    const r = await invoiceApi.generateDryRunInvoice({ dryRunType: 'UPCOMING_INVOICE', subscriptionId: storageId },
                                                     account3, 'compat');
    const usage = r.data.items.filter((i) => i.itemType === 'USAGE');
    // 124.5 GB: 100 blocks of 1 GB at $0.50 and 25 at $0.30
    assert.ok(usage.some((i) => i.usageName === 'extrastorage-monthly-gigabytes' && i.amount === 57.5 &&
                                i.startDate <= '2024-03-05' && i.endDate > '2024-03-06'), JSON.stringify(r.data));
  });
  console.log('compat: all checks passed');
})();
