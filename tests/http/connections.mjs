// tests/http/connections.mjs: N connections to gamify-api open at once, each
// answered 200 with the data, twice.
//
// First the sockets open in waves of WAVE (default 50), each sending one query on keep-alive;
// a wave opens only once the one before it is answered, so the kernel's accept
// queue (its size is the machine's: net.core.somaxconn) never overflows: an
// overflow makes a client retransmit with back-off, which on a loaded machine
// can outlast any deadline and is no fault of the server's. Then, with all N
// open, every socket sends a second query at the same moment: the server must
// hold all N and answer them all (-2: not within 20 s; -1: closed).
//
// usage: node connections.mjs HOST PORT TOKEN N [WAVE]
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';

const [host, port, token, nStr, waveStr] = process.argv.slice(2);
const n = Number(nStr);
const wave = Number(waveStr || 50);
const body = JSON.stringify({ query: '{ __typename }' });
const request =
  `POST /graphql HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\n` +
  `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const DEADLINE_MS = 20000;

// One socket: ask(), then the status of the next whole response (negative: not the data).
function open() {
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), host, () => resolve(s));
    s.on('error', reject);
  }).then((s) => {
    let got = '';
    let waiting = null;
    let timer = null;
    const settle = (st) => {
      if (waiting) {
        const w = waiting;
        waiting = null;
        clearTimeout(timer);
        w(st);
      }
    };
    s.removeAllListeners('error');
    s.on('error', () => settle(-1));
    s.on('close', () => settle(-1));
    s.on('data', (d) => {
      got += d;
      const head = got.indexOf('\r\n\r\n');
      if (head < 0) return;
      const status = got.match(/^HTTP\/1\.1 (\d+)/);
      const length = got.slice(0, head).match(/\r\ncontent-length: (\d+)/i);
      const end = head + 4 + (length ? Number(length[1]) : 0);
      if (status && length && Buffer.byteLength(got) >= end) {
        const ok = got.includes('"__typename":"Query"');
        got = '';
        settle(ok ? Number(status[1]) : -Number(status[1]));
      }
    });
    s.ask = () => new Promise((resolve) => {
      waiting = resolve;
      timer = setTimeout(() => settle(-2), DEADLINE_MS);
      s.write(request);
    });
    return s;
  });
}

function tally(statuses) {
  const other = {};
  for (const st of statuses) if (st !== 200) other[st] = (other[st] || 0) + 1;
  return { ok: statuses.filter((st) => st === 200).length, other: JSON.stringify(other) };
}

let somaxconn = '?';
try {
  somaxconn = readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim();
} catch {
  // not Linux: only a detail of the report
}

const sockets = [];
const first = [];
for (let i = 0; i < n; i += wave) {
  const batch = await Promise.all(Array.from({ length: Math.min(wave, n - i) }, open));
  first.push(...(await Promise.all(batch.map((s) => s.ask()))));
  sockets.push(...batch);
}
const t1 = tally(first);
console.log(`opened ${n} in waves of ${wave} (somaxconn ${somaxconn}): ` +
  `${t1.ok} answered 200; others: ${t1.other}`);
// Sockets stay open until every one is answered: the server must hold them all at once.
const second = await Promise.all(sockets.map((s) => s.ask()));
const t2 = tally(second);
console.log(`${t2.ok} of ${n} open connections answered 200 at once; others: ${t2.other}`);
for (const s of sockets) s.destroy();
process.exit(t1.ok === n && t2.ok === n ? 0 : 1);
