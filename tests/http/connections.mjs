// tests/http/connections.mjs: N connections to gamify-api at once: every
// socket is connected first, then each sends one query, and all stay open
// until every one is answered 200 with the data (-2: not within 20 s).
//
// usage: node connections.mjs HOST PORT TOKEN N
import { connect } from 'node:net';

const [host, port, token, nStr] = process.argv.slice(2);
const n = Number(nStr);
const body = JSON.stringify({ query: '{ __typename }' });
const request =
  `POST /graphql HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\n` +
  `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

const sockets = await Promise.all(
  Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const s = connect(Number(port), host, () => resolve(s));
    s.on('error', reject);
  })),
);
const statuses = await Promise.all(sockets.map((s) => new Promise((resolve) => {
  let got = '';
  s.on('data', (d) => {
    got += d;
    const head = got.indexOf('\r\n\r\n');
    if (head < 0) return;
    const status = got.match(/^HTTP\/1\.1 (\d+)/);
    const length = got.slice(0, head).match(/\r\ncontent-length: (\d+)/i);
    if (status && length && Buffer.byteLength(got) >= head + 4 + Number(length[1])) {
      resolve(got.includes('"__typename":"Query"') ? Number(status[1]) : -Number(status[1]));
    }
  });
  // Sockets stay open until every one is answered: the server must hold them all at once.
  setTimeout(() => resolve(-2), 20000);
  s.on('error', () => resolve(-1));
  s.on('close', () => resolve(-1));
  s.write(request);
})));
for (const s of sockets) s.destroy();
const ok = statuses.filter((st) => st === 200).length;
const other = {};
for (const st of statuses) if (st !== 200) other[st] = (other[st] || 0) + 1;
console.log(`${ok} of ${n} connections answered 200; others: ${JSON.stringify(other)}`);
process.exit(ok === n ? 0 : 1);
