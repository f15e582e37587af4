// tests/http/jwt.mjs: mints JSON Web Tokens for the gamify-api tests with
// node's crypto only (no package), including the bad ones the server must
// refuse.
//
// usage: node jwt.mjs KIND KEYFILE [CLAIMS-JSON]
//   KIND hs256    HS256 signed with the secret in KEYFILE
//        rs256    RS256 signed with the PEM private key in KEYFILE
//        none     alg "none", no signature (KEYFILE ignored)
//        confused HS256 signed with the bytes of KEYFILE (the RS256
//                 public key) as the HMAC secret
//        badsig   HS256 with the signature's last character changed
// CLAIMS-JSON is merged over {sub: "u1", role: "student", exp: now + 300}.
// A claim set to null is removed.
import { createHmac, createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [kind, keyFile, claimsJson] = process.argv.slice(2);
const now = Math.floor(Date.now() / 1000);
const claims = { sub: 'u1', role: 'student', exp: now + 300, ...JSON.parse(claimsJson || '{}') };
for (const k of Object.keys(claims)) if (claims[k] === null) delete claims[k];
const b64 = (b) => Buffer.from(b).toString('base64url');
const alg = { hs256: 'HS256', rs256: 'RS256', none: 'none', confused: 'HS256', badsig: 'HS256' }[kind];
if (!alg) throw new Error(`unknown kind ${kind}`);
const input = `${b64(JSON.stringify({ alg, typ: 'JWT' }))}.${b64(JSON.stringify(claims))}`;
let sig = '';
if (kind === 'hs256' || kind === 'badsig') {
  const secret = readFileSync(keyFile, 'utf8').replace(/[\r\n]+$/, '');
  sig = createHmac('sha256', secret).update(input).digest('base64url');
  if (kind === 'badsig') sig = sig.slice(0, -2) + (sig.slice(-2) === 'AA' ? 'BB' : 'AA');
} else if (kind === 'confused') {
  sig = createHmac('sha256', readFileSync(keyFile)).update(input).digest('base64url');
} else if (kind === 'rs256') {
  sig = createSign('RSA-SHA256').update(input).sign(readFileSync(keyFile)).toString('base64url');
}
process.stdout.write(`${input}.${sig}\n`);
