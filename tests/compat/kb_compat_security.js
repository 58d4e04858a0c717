// The official Kill Bill JavaScript client (npm `killbill` 0.24.0) against a Billow server: users, roles and
// permissions (SecurityApi), and a user refused where its role lacks the permission.
// Usage: node kb_compat_security.js BASE_URL CATALOG_XML_PATH   (NODE_PATH must reach the installed `killbill` package)
// Prints one line per check; exits non-zero on the first failure.
'use strict';
const assert = require('assert');
const killbill = require('killbill');
const axios = require('axios');
const { check } = require('./common');

const BASE = process.argv[2];
const STAMP = Date.now();
const KEY = 'compat-security-' + STAMP;
const SECRET = 'lazar';
const ROLE = 'compat-accountant-' + STAMP;
const USER = 'compat-clerk-' + STAMP;
const http = axios.create();
const admin = new killbill.Configuration({ basePath: BASE, username: 'admin', password: 'password',
                                           apiKey: killbill.apiKey(KEY, SECRET) });
const clerk = new killbill.Configuration({ basePath: BASE, username: USER, password: 'clerk-pw',
                                           apiKey: killbill.apiKey(KEY, SECRET) });

(async () => {
  const security = new killbill.SecurityApi(admin, undefined, http);
  const tenantApi = new killbill.TenantApi(admin, undefined, http);
  const clerkSecurity = new killbill.SecurityApi(clerk, undefined, http);
  const clerkAccounts = new killbill.AccountApi(clerk, undefined, http);
  const clerkTags = new killbill.TagDefinitionApi(clerk, undefined, http);
  let accountId;

  await check('a tenant for the clerk', async () => {
    assert.strictEqual((await tenantApi.createTenant({ apiKey: KEY, apiSecret: SECRET }, 'compat')).status, 201);
  });
  await check('SecurityApi.addRoleDefinition and getRoleDefinition', async () => {
    const r = await security.addRoleDefinition({ role: ROLE, permissions: ['account:create', 'account:update'] },
                                               'compat');
    assert.strictEqual(r.status, 201);
    const role = (await security.getRoleDefinition(ROLE)).data;
    assert.deepStrictEqual(role, { role: ROLE, permissions: ['account:create', 'account:update'] });
  });
  await check('SecurityApi.addUserRoles and getUserRoles', async () => {
    const r = await security.addUserRoles({ username: USER, password: 'clerk-pw', roles: [ROLE] }, 'compat');
    assert.strictEqual(r.status, 201);
    assert.deepStrictEqual((await security.getUserRoles(USER)).data.roles, [ROLE]);
  });
  await check('the clerk: getCurrentUserPermissions and getCurrentUserSubject', async () => {
    assert.deepStrictEqual((await clerkSecurity.getCurrentUserPermissions()).data,
                           ['account:create', 'account:update']);
    const subject = (await clerkSecurity.getCurrentUserSubject()).data;
    assert.strictEqual(subject.principal, USER);
    assert.strictEqual(subject.isAuthenticated, true);
  });
  await check('the clerk may create an account (account:create)', async () => {
    const r = await clerkAccounts.createAccount({ name: 'Clerk made', currency: 'USD' }, 'clerk');
    assert.strictEqual(r.status, 201);
    accountId = new URL(r.headers.location).pathname.split('/').pop();
  });
  await check('the clerk is refused a tag definition (no tag:create_tag_definition): 401, nothing created', async () => {
    const name = 'ct1_' + String(STAMP).slice(-8);
    await assert.rejects(clerkTags.createTagDefinition({ name, description: 'x', applicableObjectTypes: ['ACCOUNT'] },
                                                       'clerk'),
                         (e) => e.response.status === 401);
    const defs = (await new killbill.TagDefinitionApi(admin, undefined, http).getTagDefinitions()).data;
    assert.ok(!defs.some((d) => d.name === name));
  });
  await check('the clerk is refused an external charge (no account:charge): 401', async () => {
    await assert.rejects(new killbill.InvoiceApi(clerk, undefined, http).createExternalCharges(
      [{ accountId, amount: 5, currency: 'USD', description: 'x' }], accountId, 'clerk'),
                         (e) => e.response.status === 401);
  });
  await check('SecurityApi.updateRoleDefinition: the clerk gains tag definitions at once', async () => {
    assert.strictEqual((await security.updateRoleDefinition(
      { role: ROLE, permissions: ['account:*', 'tag:create_tag_definition'] }, 'compat')).status, 204);
    const r = await clerkTags.createTagDefinition({ name: 'ct2_' + String(STAMP).slice(-8), description: 'x',
                                                    applicableObjectTypes: ['ACCOUNT'] }, 'clerk');
    assert.strictEqual(r.status, 201);
  });
  await check('SecurityApi.invalidateUser: the clerk can no longer log in', async () => {
    assert.strictEqual((await security.invalidateUser(USER, 'compat')).status, 204);
    await assert.rejects(clerkSecurity.getCurrentUserSubject(), (e) => e.response.status === 401);
  });
  console.log('compat: all checks passed');
})();
