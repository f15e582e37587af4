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
//     replica killed with a stream open frees it when its lease expires;
//   - with GM_API_BIN: Redis down (two more replicas reach it through a TCP
//     relay this script cuts): each replica counts its own streams (2 on
//     each, a third refused on each); once Redis is back those streams take
//     leases, so the other replica's streams count again.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { openSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
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
  // The board is in this API's board mirror (docs/api.md), so its pages follow
  // the leaderboard-scores messages: each of the 20 restates the top score.
  const pages = [];
  const it2 = client(tok).iterate({ query: sub, variables: { n: 1 } });
  const reading = (async () => { for await (const r of it2) pages.push([performance.now(), r]); })();
  while (pages.length === 0) await sleep(20);
  await sleep(600);
  const t = performance.now();
  const key = `${env.GM_PREFIX}lb:global:all`;
  const [best, bestScore] = execFileSync('redis-cli', ['-u', env.GAMIFY_TEST_REDIS, 'ZREVRANGE', key, '0', '0', 'WITHSCORES'], { encoding: 'utf8' }).trim().split('\n');
  const msg = `PUBLISH ${env.GM_PREFIX}leaderboard-scores "Sk${Buffer.byteLength(key)}:${key}m${Buffer.byteLength(best)}:${best}${bestScore};"`;
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
  eq([res.status, res.headers.get('www-authenticate')], [401, 'Bearer realm="gamify"'], 'a stream without a token');
  // A token that is refused: invalid_token with the reason, as on /graphql (RFC 6750).
  const junk = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', Authorization: 'Bearer junk' }, body: JSON.stringify({ query: sub }) });
  eq([junk.status, /^Bearer realm="gamify", error="invalid_token", error_description="malformed token"$/.test(junk.headers.get('www-authenticate'))],
    [401, true], `a stream with a bad token (WWW-Authenticate: ${junk.headers.get('www-authenticate')})`);
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
  if (env.GM_API_BIN) await redisDown();
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
// A stream over a socket of its own (no fetch pool): close() destroys the
// socket, so the server sees the client hang up at once. Node's fetch may
// keep an aborted stream's socket open until the process exits.
function openSocket(base, tok, body) {
  const u = new URL(base);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    let text = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error("a stream's first message: timed out")); }, 5000);
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('connect', () => sock.write(
      `POST /graphql/stream HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\n` +
      `Accept: text/event-stream\r\nAuthorization: Bearer ${tok}\r\n` +
      `Content-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`));
    sock.on('data', (d) => {
      text += d.toString('utf8');
      const status = Number((text.match(/^HTTP\/1\.1 (\d+)/) || [])[1]);
      if (status && status !== 200) {
        clearTimeout(timer);
        sock.destroy();
        resolve({ status, text });
      } else if (/event: next\ndata: .*\n\n/.test(text)) {
        clearTimeout(timer);
        resolve({ status, text, close: () => sock.destroy() });
      }
    });
  });
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
  const s2 = await openSocket(B, tok, { query: doc });
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
  // (s3's hang-up reaches replica A's watcher a moment after close(): until then it counts.)
  let s4 = null;
  const t4 = performance.now();
  while (!s4 && performance.now() - t4 < 3000) {
    o = await openRaw(B, tok, { query: doc });
    if (o.status === 200) s4 = o;
    else await sleep(50);
  }
  eq(s4?.status, 200, 'a stream on replica B again');
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

// A TCP relay to the test Redis that can be cut (its connections dropped,
// nothing listening) and restored on the same port.
async function redisRelay() {
  const up = new URL(env.GM_REDIS);
  const socks = new Set();
  const srv = createServer((c) => {
    const r = connect(Number(up.port), up.hostname);
    for (const [a, b] of [[c, r], [r, c]]) {
      socks.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => { socks.delete(a); b.destroy(); });
      a.pipe(b);
    }
  });
  const listen = (port) => new Promise((res, rej) => { srv.once('error', rej); srv.listen(port, '127.0.0.1', () => res()); });
  await listen(0);
  const port = srv.address().port;
  return {
    port,
    cut: () => new Promise((res) => { srv.close(() => res()); for (const x of socks) x.destroy(); }),
    restore: () => listen(port),
    close: () => { srv.close(); for (const x of socks) x.destroy(); },
  };
}

// Two replicas (C, D) whose Redis is the relay, --streams-per-user 2, 3 s
// leases; Redis is cut, then restored.
async function redisDown() {
  const relay = await redisRelay();
  const up = new URL(env.GM_REDIS);
  const zcard = (key) => Number(execFileSync('redis-cli', ['-h', up.hostname, '-p', up.port, 'ZCARD', key], { encoding: 'utf8' }).trim());
  const procs = [];
  const start = async (name) => {
    const port = await new Promise((res) => { const t = createServer(); t.listen(0, '127.0.0.1', () => { const n = t.address().port; t.close(() => res(n)); }); });
    const p = spawn(env.GM_API_BIN, ['--listen', `127.0.0.1:${port}`, '--postgres', env.GM_PG,
      '--redis', `redis://127.0.0.1:${relay.port}`, '--redis-prefix', env.GM_PREFIX, '--log', env.GM_LOG,
      '--jwt-hs256-secret-file', env.GM_SECRET, '--threads', '2', '--rate-limits', '*=100000',
      '--streams-per-user', '2', '--timeout-seconds', '60', '--stream-lease-seconds', '3'],
    { stdio: ['ignore', 'ignore', openSync(`${env.GM_TMP}/api-${name}.err`, 'a')] });
    procs.push(p);
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (p.exitCode !== null) fail(`replica ${name} exited ${p.exitCode} (port ${port})`);
      const r = await fetch(base + '/readyz').catch(() => null);
      if (r && r.status === 200) return base;
      await sleep(100);
    }
    fail(`replica ${name} did not come up`);
  };
  try {
    const C = await start('C'), D = await start('D');
    const doc = env.GM_SUB_DOC;
    const user = `down-user-${process.pid}`;
    const tok = token(user);
    const key = `${env.GM_PREFIX}streams:${user}`;
    await relay.cut();
    // Redis down: each replica counts its own streams only.
    const c1 = await openSocket(C, tok, { query: doc });
    const c2 = await openSocket(C, tok, { query: doc });
    eq([c1.status, c2.status], [200, 200], 'Redis down: two streams on replica C');
    let o = await openRaw(C, tok, { query: doc });
    eq([o.status, code(o)], [429, 'TOO_MANY_STREAMS'], 'Redis down: a third on replica C (counted locally)');
    const d1 = await openSocket(D, tok, { query: doc });
    const d2 = await openSocket(D, tok, { query: doc });
    eq([d1.status, d2.status], [200, 200], 'Redis down: two streams on replica D (the limit is per replica)');
    o = await openRaw(D, tok, { query: doc });
    eq([o.status, code(o)], [429, 'TOO_MANY_STREAMS'], 'Redis down: a third on replica D');
    eq(zcard(key), 0, 'Redis down: no lease taken');
    // Redis back: the four streams take leases at the next renewal (every 1 s).
    await relay.restore();
    const t0 = performance.now();
    while (zcard(key) < 4 && performance.now() - t0 < 8000) await sleep(100);
    eq(zcard(key), 4, 'Redis back: the streams opened meanwhile hold leases');
    console.log(`Redis back: 4 leases taken after ${(performance.now() - t0).toFixed(0)} ms`);
    // C's clients hang up (sockets of their own: an aborted fetch may keep its
    // socket open): D's two streams still fill the user's slots, on C too.
    c1.close();
    c2.close();
    const t1 = performance.now();
    while (zcard(key) > 2 && performance.now() - t1 < 3000) await sleep(50);
    eq(zcard(key), 2, "Redis back: C's closed streams gave their leases back");
    o = await openRaw(C, tok, { query: doc });
    eq([o.status, code(o)], [429, 'TOO_MANY_STREAMS'], "Redis back: replica D's streams count on replica C");
    d1.close();
    const t2 = performance.now();
    let s = null;
    while (!s && performance.now() - t2 < 3000) {
      await sleep(50);
      o = await openRaw(C, tok, { query: doc });
      if (o.status === 200) s = o;
    }
    if (!s) fail("Redis back: a slot freed on replica D stayed taken on replica C");
    checks++;
    s.close();
    d2.close();
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    relay.close();
  }
}

main().catch((e) => fail((e.stack || String(e)) + (e.cause ? ` (cause: ${e.cause.stack || e.cause})` : "")));
