// tests/http/audit.mjs: graphql-http's server audits (GraphQL over HTTP)
// against a running gamify-api, every request with a bearer token.
//
// usage: node audit.mjs URL TOKEN
// Prints one line per audit; exits 1 when any audit (MUST, SHOULD or MAY)
// fails.
import { serverAudits } from 'graphql-http';

const [url, token] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
let failed = 0;
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  if (result.status === 'ok') {
    console.log(`ok ${audit.id} ${audit.name}`);
  } else {
    failed++;
    let detail = result.reason;
    if (result.response) {
      detail += ` (status ${result.response.status}: ${await result.response.text().catch(() => '')})`;
    }
    console.log(`FAIL ${audit.id} ${audit.name}: ${detail}`);
  }
}
console.log(`${failed} audits failed`);
process.exit(failed ? 1 : 0);
