// tests/bench/api/mint.mjs: prints one HS256 JWT a line (sub = each user id
// read from stdin, role student, valid for a day) signed with the secret in
// the file given; for `tests/bench/run api`.
import crypto from 'node:crypto';
import fs from 'node:fs';

const secret = fs.readFileSync(process.argv[2]);
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const head = b64({ alg: 'HS256', typ: 'JWT' });
const exp = Math.floor(Date.now() / 1000) + 86400;
for (const sub of fs.readFileSync(0, 'utf8').split('\n').filter(Boolean)) {
    const body = `${head}.${b64({ sub, role: 'student', exp })}`;
    const sig = crypto.createHmac('sha256', secret).update(body).digest('base64url');
    console.log(`${body}.${sig}`);
}
