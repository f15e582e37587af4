// tests/http/introspect.mjs: a graphql-js client's introspection round trip
// against a running gamify-api: getIntrospectionQuery over HTTP,
// buildClientSchema on the answer, and printSchema of it equal to that of
// api/schema.graphql.
//
// usage: node introspect.mjs URL TOKEN SCHEMA.graphql
import { buildClientSchema, buildSchema, getIntrospectionQuery, printSchema } from 'graphql';
import { readFileSync } from 'node:fs';

const [url, token, sdlFile] = process.argv.slice(2);
const res = await fetch(url, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json',
    authorization: `Bearer ${token}`,
  },
  body: JSON.stringify({ query: getIntrospectionQuery({ descriptions: true, schemaDescription: true, specifiedByUrl: true, inputValueDeprecation: true }) }),
});
const body = await res.json();
if (res.status !== 200 || body.errors) {
  console.log(`introspection failed: ${res.status} ${JSON.stringify(body.errors)}`);
  process.exit(1);
}
const ours = printSchema(buildClientSchema(body.data));
const want = printSchema(buildSchema(readFileSync(sdlFile, 'utf8')));
if (ours !== want) {
  console.log('the introspected schema differs from api/schema.graphql');
  console.log(ours);
  process.exit(1);
}
console.log(`introspection round trip ok (${ours.length} bytes of SDL)`);
