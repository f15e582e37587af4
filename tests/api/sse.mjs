// tests/api/sse.mjs: live leaderboards over Server-Sent Events, with
// graphql-sse's client, against gamify-api (GM_API_URL) on the pipeline of
// run.sh (check sse). The API runs with --streams-per-user 2 and
// --timeout-seconds 4 (a ping every 2 s). Checks:
//   - the first page comes at once and equals Query.leaderboard;
//   - an event appended to the log (gamify produce) brings a new page with
//     the learner it lifted to the top; the time from the append to the
//     page is printed (SSE latency ms: ...), a few samples (only these
//     with GM_SSE_LATENCY_ONLY=1, e.g. against deploy/local/run);
//   - 20 leaderboard-changed messages at once bring at most a few pages;
//   - no token: 401; over a rate limit: 429 RATE_LIMITED; a bad document: a next event with errors, then
//     complete; a query: one result, then complete;
//   - a third stream of one user: 429 TOO_MANY_STREAMS; once one closes,
//     another opens;
//   - with GM_API_URL2 (a second replica, allow-list mode): persisted queries
//     over the stream (APQ and the allow-list); one per-user limit for both
//     replicas (Redis leases, renewed past their 3 s); a client that hangs up
//     frees its slot at once (not at the next ping, 15 s on replica B); a
//     replica killed with a stream open frees it when its lease expires.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createClient } from 'graphql-sse';

const env = process.env;
const url = env.GM_API_URL + '/graphql/stream';
let checks = 0;
function fail(msg) {
  console.error('FAIL: ' + msg);
  process.exit(1);
}
function eq(got, want, what) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) fail(`${what}: got ${g}, want ${w}`);
  checks++;
}
const token = (user, role = 'student') =>
  execFileSync(env.GM_MINT, [env.GM_SECRET, user, role, '600'], { encoding: 'utf8' }).trim();
const client = (tok) => createClient({
  url, retryAttempts: 0, singleConnection: false,
  headers: tok ? { Authorization: `Bearer ${tok}` } : {},
});
// The next result of an iterator, or a failure after ms.
async function next(it, ms, what) {
  let timer;
  const t = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${what}: nothing after ${ms} ms`)), ms); });
  try {
    return await Promise.race([it.next(), t]);
  } finally {
    clearTimeout(timer);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function produce(lines) {
  const f = `${env.GM_TMP}/sse-${Date.now()}-${Math.random()}.jsonl`;
  writeFileSync(f, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    execFile(env.GM_GAMIFY, ['produce', '--log', env.GM_LOG, f], (err, out, errOut) => {
      if (err) reject(new Error(`produce: ${errOut}`));
      else resolve({ t0, t1: performance.now() });
    });
  });
}

const sub = `subscription($n: Int) { leaderboardChanged(first: $n) { board period totalCount entries { rank userId score } me { rank score } } }`;
const q = `query($n: Int) { leaderboard(first: $n) { board period totalCount entries { rank userId score } me { rank score } } }`;

async function main() {
  const tok = token('lea');
  // The first page, as the query says.
  const it = client(tok).iterate({ query: sub, variables: { n: 5 } });
  const first = await next(it, 5000, 'first page');
  if (first.done || first.value.errors) fail(`first page: ${JSON.stringify(first.value)}`);
  const viaQuery = JSON.parse(execFileSync('curl', ['-sS', '-H', 'Content-Type: application/json',
    '-H', `Authorization: Bearer ${tok}`, '--data-binary', JSON.stringify({ query: q, variables: { n: 5 } }),
    env.GM_API_URL + '/graphql'], { encoding: 'utf8' }));
  eq(first.value.data.leaderboardChanged, viaQuery.data.leaderboard, 'the first page is the query\'s');

  // Events lift a new learner to the top: the page arrives; latency samples.
  const at = new Date(Date.now() - 60000).toISOString().replace(/\.\d+Z$/, 'Z');
  const samples = [];
  let top = first.value.data.leaderboardChanged.entries[0].score;
  for (let i = 0; i < 5; i++) {
    const who = `sse-${process.pid}-${i}`;
    top += 1000;
    // Past the last page's --stream-rate interval: the pipeline is timed, not the coalescing.
    await sleep(600);
    const p = produce([{ eventId: `${who}-1`, userId: who, occurredAt: at, source: 'admin', adjustment: { exp: top, coins: 0, reason: 'sse test' } }]);
    let got = null;
    for (let k = 0; k < 20 && !got; k++) {
      const r = await next(it, 10000, `the page with ${who}`);
      if (r.done) fail('the stream ended');
      if (r.value.errors) fail(`errors: ${JSON.stringify(r.value.errors)}`);
      if (r.value.data.leaderboardChanged.entries[0].userId === who) got = performance.now();
    }
    if (!got) fail(`no page with ${who} on top`);
    const { t0, t1 } = await p;
    samples.push([got - t0, got - t1]);
    checks++;
  }
  console.log('SSE latency ms (from starting gamify produce / from its exit): ' +
    samples.map(([a, b]) => `${a.toFixed(1)}/${b.toFixed(1)}`).join(' '));
  if (env.GM_SSE_LATENCY_ONLY) process.exit(0);

  // Coalescing: 20 messages at once bring at most 1 + 4/s pages (--stream-rate 4), not 20.
  const pages = [];
  const it2 = client(tok).iterate({ query: sub, variables: { n: 1 } });
  const reading = (async () => { for await (const r of it2) pages.push([performance.now(), r]); })();
  while (pages.length === 0) await sleep(20);
  await sleep(600);
  const t = performance.now();
  const msg = `PUBLISH ${env.GM_PREFIX}leaderboard-changed "{\\"changed\\":[{\\"board\\":\\"global\\",\\"period\\":\\"all\\"}]}"`;
  execFileSync('redis-cli', ['-u', env.GAMIFY_TEST_REDIS], { input: Array(20).fill(msg).join('\n') + '\n', stdio: ['pipe', 'ignore', 'inherit'] });
  await sleep(1500);
  const after = pages.filter(([at]) => at >= t).length;
  if (after < 1 || after > 7) fail(`20 messages in a burst gave ${after} pages in 1.5 s (want 1 to 7)`);
  checks++;
  console.log(`coalescing: 20 messages, ${after} pages in 1.5 s`);
  await it2.return();
  await reading;
  await it.return();

  // No token: refused before any stream.
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' }, body: JSON.stringify({ query: sub }) });
  eq([res.status, res.headers.get('www-authenticate') !== null], [401, true], 'a stream without a token');
  let refused = null;
  try {
    const it2 = client(null).iterate({ query: sub });
    await next(it2, 5000, 'no token');
  } catch (e) {
    refused = e;
  }
  if (!refused || !/401/.test(String(refused.message || refused))) fail(`graphql-sse without a token: ${refused}`);
  checks++;

  // A bad document: errors through the stream, then complete (another user).
  const tok2 = token('lea-2');
  const bad = client(tok2).iterate({ query: 'subscription { nope }' });
  const b1 = await next(bad, 5000, 'bad document');
  if (b1.done || !b1.value.errors || b1.value.data !== undefined) fail(`bad document: ${JSON.stringify(b1.value)}`);
  eq((await next(bad, 5000, 'bad document end')).done, true, 'complete after the errors');
  // Bad variables: the request error, then complete (not one error per change).
  const badv = client(tok2).iterate({ query: sub, variables: { n: 'ten' } });
  const v1 = await next(badv, 5000, 'bad variables');
  if (v1.done || !v1.value.errors || v1.value.data !== undefined) fail(`bad variables: ${JSON.stringify(v1.value)}`);
  eq((await next(badv, 5000, 'bad variables end')).done, true, 'complete after a request error');
  // A query over the stream: one result, then complete.
  const one = client(tok2).iterate({ query: q, variables: { n: 2 } });
  const o1 = await next(one, 5000, 'query');
  eq(o1.value.data.leaderboard.entries.length, 2, 'a query over the stream');
  eq((await next(one, 5000, 'query end')).done, true, 'complete after a query');

  // Rate limits apply as on /graphql (rewards: 2 a minute here): the third is refused.
  const rl = token('rl-user');
  const codes = [];
  for (let i = 0; i < 3; i++) {
    const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', Authorization: `Bearer ${rl}` }, body: JSON.stringify({ query: '{ rewards { id } }' }) });
    const body = await r.text();
    codes.push(r.status === 429 ? `429 ${JSON.parse(body).errors[0].extensions.code} ${r.headers.get('retry-after') !== null}` : `${r.status} ${/event: complete/.test(body)}`);
  }
  eq(codes, ['200 true', '200 true', '429 RATE_LIMITED true'], 'rate limits on /graphql/stream');

  // The per-user limit (2): a third stream is refused; after one closes, another opens.
  const lim = token('limit-user');
  const s1 = client(lim).iterate({ query: sub });
  const s2 = client(lim).iterate({ query: sub });
  await next(s1, 5000, 'stream 1');
  await next(s2, 5000, 'stream 2');
  const metrics = await (await fetch(env.GM_API_URL + '/metrics')).text();
  const open = Number((metrics.match(/^gamify_api_streams_open (\d+)$/m) || [])[1]);
  if (!(open >= 2)) fail(`gamify_api_streams_open ${open} with two streams open`);
  checks++;
  const third = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', Authorization: `Bearer ${lim}` }, body: JSON.stringify({ query: sub }) });
  const tb = await third.json();
  eq([third.status, tb.errors[0].extensions.code], [429, 'TOO_MANY_STREAMS'], 'a third stream of one user');
  // Another user is not limited by limit-user's streams.
  const other = client(token('other-user')).iterate({ query: sub });
  if ((await next(other, 5000, 'another user')).done) fail('another user refused');
  await other.return();
  await s1.return();
  // The server notices the closed stream at once (its socket is watched).
  let opened = false;
  for (let i = 0; i < 40 && !opened; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', Authorization: `Bearer ${lim}` }, body: JSON.stringify({ query: sub }) });
    if (r.status === 200) {
      opened = true;
      await r.body.cancel();
    } else {
      await r.text();
    }
  }
  if (!opened) fail('no stream opened after one was closed');
  checks++;
  await s2.return();
  if (env.GM_API_URL2) await replicas();
  console.log(`ok: sse: ${checks} checks`);
  process.exit(0);
}

// POSTs body to base's /graphql/stream: {status, json} when refused, else
// {status: 200, first: the first `next` payload, close()} (close aborts the
// request: the client hangs up).
async function openRaw(base, tok, body) {
  const ac = new AbortController();
  const post = () => fetch(base + '/graphql/stream', {
    method: 'POST', signal: ac.signal, body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', Authorization: `Bearer ${tok}` },
  });
  let r;
  try {
    r = await post();
  } catch (e) {
    // A pooled keep-alive connection the server closed when idle (--timeout-seconds):
    // the request never reached it; once more on a new connection.
    if (e.cause?.code !== 'UND_ERR_SOCKET') throw e;
    r = await post();
  }
  if (r.status !== 200) return { status: r.status, json: await r.json().catch(() => null) };
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  const until = Date.now() + 5000;
  while (!/event: next\ndata: .*\n\n/.test(text) && Date.now() < until) {
    const got = await next({ next: () => reader.read() }, 5000, "a stream's first message");
    if (got.done) break;
    text += dec.decode(got.value, { stream: true });
  }
  const m = text.match(/event: next\ndata: (.*)\n\n/);
  return { status: 200, first: m ? JSON.parse(m[1]) : null, text, close: () => ac.abort() };
}
const code = (o) => (o.json && o.json.errors ? o.json.errors[0].extensions.code : null);
const sha256 = (t) => createHash('sha256').update(t).digest('hex');

// Two replicas (GM_API_URL: APQ; GM_API_URL2: allow-list of GM_SUB_DOC, pings
// 15 s apart), both with --streams-per-user 2 and 3 s leases.
async function replicas() {
  const A = env.GM_API_URL, B = env.GM_API_URL2;
  const doc = env.GM_SUB_DOC;

  // Persisted queries over the stream, APQ (replica A).
  const apqDoc = 'subscription { leaderboardChanged(first: 2) { totalCount } }';
  const h = sha256(apqDoc);
  const pq = { persistedQuery: { version: 1, sha256Hash: h } };
  const pqTok = token('pq-user');
  let o = await openRaw(A, pqTok, { extensions: pq });
  eq([o.status, code(o)], [400, 'PERSISTED_QUERY_NOT_FOUND'], 'APQ over SSE: an unknown hash');
  o = await openRaw(A, pqTok, { query: apqDoc, extensions: pq });
  eq([o.status, typeof o.first?.data?.leaderboardChanged?.totalCount], [200, 'number'], 'APQ over SSE: hash and document');
  o.close();
  o = await openRaw(A, pqTok, { extensions: pq });
  eq([o.status, typeof o.first?.data?.leaderboardChanged?.totalCount], [200, 'number'], 'APQ over SSE: the hash alone, once registered');
  o.close();
  o = await openRaw(A, pqTok, { query: apqDoc + ' ', extensions: { persistedQuery: { version: 1, sha256Hash: sha256('x') } } });
  if (o.status === 200 && !(o.first && o.first.errors && o.first.data === undefined)) fail(`APQ over SSE: a hash not of its document: ${o.text}`);
  if (o.status !== 200 && o.status !== 400) fail(`APQ over SSE: a hash not of its document: ${o.status}`);
  checks++;
  if (o.close) o.close();
  o = await openRaw(A, pqTok, { extensions: { persistedQuery: { version: 1 } } });
  eq([o.status, code(o)], [400, 'BAD_REQUEST'], 'APQ over SSE: no sha256Hash');
  // The allow-list (replica B).
  const alTok = token('pq-user-2');
  o = await openRaw(B, alTok, { extensions: { persistedQuery: { version: 1, sha256Hash: env.GM_SUB_SHA } } });
  eq([o.status, o.first?.data?.leaderboardChanged?.entries?.length > 0], [200, true], 'allow-list over SSE: a listed hash');
  o.close();
  o = await openRaw(B, alTok, { query: doc });
  eq(o.status, 200, 'allow-list over SSE: a listed document');
  o.close();
  o = await openRaw(B, alTok, { query: apqDoc });
  eq([o.status, code(o)], [400, 'PERSISTED_QUERY_NOT_ALLOWED'], 'allow-list over SSE: a document not listed');
  o = await openRaw(B, alTok, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256('nope') } } });
  eq([o.status, code(o)], [400, 'PERSISTED_QUERY_NOT_FOUND'], 'allow-list over SSE: a hash not listed');

  // One limit for both replicas: a stream on each, a third refused on either.
  const tok = token('shared-user');
  const s1 = await openRaw(A, tok, { query: doc });
  const s2 = await openRaw(B, tok, { query: doc });
  eq([s1.status, s2.status], [200, 200], 'a stream on each replica');
  o = await openRaw(A, tok, { query: doc });
  eq([o.status, code(o)], [429, 'TOO_MANY_STREAMS'], 'a third stream, on replica A');
  o = await openRaw(B, tok, { query: doc });
  eq([o.status, code(o)], [429, 'TOO_MANY_STREAMS'], 'a third stream, on replica B');
  // Past a lease's 3 s the leases are still held: the replicas renew them.
  await sleep(4000);
  o = await openRaw(B, tok, { query: doc });
  eq([o.status, code(o)], [429, 'TOO_MANY_STREAMS'], 'a third stream after 4 s (leases renewed)');
  // The client of B's stream hangs up: its slot is free at once, well before
  // B's next ping (15 s), on the other replica too.
  s2.close();
  const t0 = performance.now();
  let s3 = null;
  while (!s3 && performance.now() - t0 < 3000) {
    await sleep(50);
    o = await openRaw(A, tok, { query: doc });
    if (o.status === 200) s3 = o;
  }
  if (!s3) fail('the slot of a stream whose client hung up was not free within 3 s');
  checks++;
  console.log(`a closed stream's slot was free after ${(performance.now() - t0).toFixed(0)} ms`);
  s3.close();
  // A replica dies holding a stream: its lease expires (3 s), then the slot is free.
  const s4 = await openRaw(B, tok, { query: doc });
  eq(s4.status, 200, 'a stream on replica B again');
  await sleep(300); // s3's hang-up noticed
  process.kill(Number(env.GM_API_PID2), 'SIGKILL');
  const t1 = performance.now();
  o = await openRaw(A, tok, { query: doc });
  eq([o.status, code(o)], [429, 'TOO_MANY_STREAMS'], 'right after replica B died, its stream still counts');
  let s5 = null;
  while (!s5 && performance.now() - t1 < 10000) {
    await sleep(200);
    o = await openRaw(A, tok, { query: doc });
    if (o.status === 200) s5 = o;
  }
  if (!s5) fail("the lease of a dead replica's stream did not expire within 10 s");
  checks++;
  console.log(`a dead replica's stream freed its slot after ${(performance.now() - t1).toFixed(0)} ms`);
  s5.close();
  s1.close();
}

main().catch((e) => fail((e.stack || String(e)) + (e.cause ? ` (cause: ${e.cause.stack || e.cause})` : "")));
