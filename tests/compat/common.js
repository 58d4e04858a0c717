// What every compat script shares (not a script itself: test_official_client.py runs only kb_compat*.js).
'use strict';

// Runs one named check: prints `ok   name`, or `FAIL name: detail` (the HTTP answer when there is one) and exits 1.
async function check(name, fn) {
  try {
    await fn();
    console.log('ok   ' + name);
  } catch (e) {
    const detail = e.response ? `HTTP ${e.response.status} ${JSON.stringify(e.response.data)}` : (e.stack || e);
    console.log('FAIL ' + name + ': ' + detail);
    process.exit(1);
  }
}

// The id at the end of a 201's Location header.
const idOf = (r) => new URL(r.headers.location).pathname.split('/').pop();

module.exports = { check, idOf };
