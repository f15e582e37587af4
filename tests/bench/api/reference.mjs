// tests/bench/api/reference.mjs: the reference server of `tests/bench/run
// api`, the plain way to serve gamify's schema: graphql-js (buildSchema and
// a root value) behind Node's http module, over the same Postgres read model
// and Redis boards as gamify-api. Test-only code: it is what gamify-api is
// measured against, not a second implementation to keep.
//
// It answers POST /graphql ({"query", "variables"}) with an HS256 bearer
// token (checked with node:crypto on every request: signature, exp), and
// implements the reads the benchmark sends the same way gamify-api's
// resolvers do: userProfile (one statement for the learner, one for the
// badges), leaderboard for ALL_TIME (ZCARD, ZSCORE/ZREVRANK/ZCOUNT for the
// caller, ZREVRANGE of the page, ZCOUNT for the first entry's rank; the
// opted-out learners re-read from Postgres at most once a second), rewards
// and streaks. No rate limits, no persisted queries, no document cache.
//
//   node reference.mjs --listen PORT --postgres CONNINFO --redis HOST:PORT|SOCKET-PATH
//        --secret-file F --schema api/schema.graphql [--workers N]
//        [--prefix gamify:]
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { buildSchema, graphql } from 'graphql';
import Redis from 'ioredis';
import pg from 'pg';

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
    args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const workers = Number(args.workers || 1);

if (cluster.isPrimary && workers > 1) {
    for (let i = 0; i < workers; i++) cluster.fork();
    cluster.on('exit', () => process.exit(1));
} else {
    serve();
}

// A sorted-set score as the projector writes it (docs/operations.md): the
// score times 2^24 plus the reach-time tie-break; the score is the floor.
function decode(text) {
    return Math.floor(Number(text) / 16777216);
}

function serve() {
    const secret = fs.readFileSync(args['secret-file']);
    const prefix = args.prefix ?? 'gamify:';
    // --redis HOST:PORT, or the path of a Unix socket
    const [rhost, rport] = args.redis.split(':');
    const redis = args.redis.startsWith('/') ? new Redis({ path: args.redis })
        : new Redis({ host: rhost, port: Number(rport) });
    const pool = new pg.Pool({ connectionString: args.postgres, max: 8 });
    const schema = buildSchema(fs.readFileSync(args.schema, 'utf8'));

    let optOut = new Set();
    let optOutAt = 0;
    async function optedOut() {
        if (Date.now() - optOutAt > 1000) {
            optOutAt = Date.now();
            const r = await pool.query('SELECT user_id FROM learners WHERE opt_out');
            optOut = new Set(r.rows.map((x) => x.user_id));
        }
        return optOut;
    }

    function verify(header) {
        const m = /^Bearer (.+)$/.exec(header || '');
        if (!m) return null;
        const [h, p, s] = m[1].split('.');
        if (!s) return null;
        const want = crypto.createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
        if (want.length !== s.length || !crypto.timingSafeEqual(Buffer.from(want), Buffer.from(s)))
            return null;
        const head = JSON.parse(Buffer.from(h, 'base64url'));
        const claims = JSON.parse(Buffer.from(p, 'base64url'));
        if (head.alg !== 'HS256' || typeof claims.sub !== 'string') return null;
        if (typeof claims.exp !== 'number' || claims.exp < Date.now() / 1000) return null;
        return { userId: claims.sub, role: claims.role || 'student' };
    }

    const rfc3339 = (s) => new Date(Number(s) * 1000).toISOString().replace('.000Z', 'Z');

    async function profile(viewer, userId) {
        const user = userId ?? viewer.userId;
        const r = await pool.query(
            'SELECT l.user_id, l.exp, l.level, l.coins, l.current_streak, l.longest_streak, ' +
                'l.freezes_held, (SELECT r.thresholds[l.level + 1] FROM rules_current r) AS next ' +
                'FROM learners l WHERE l.user_id = $1',
            [user],
        );
        if (r.rows.length === 0) return null;
        const row = r.rows[0];
        const own = viewer.role !== 'student' || viewer.userId === user;
        return {
            userId: row.user_id,
            exp: Number(row.exp),
            level: Number(row.level),
            coins: own ? Number(row.coins) : null,
            nextLevelExp: row.next === null ? null : Number(row.next),
            streak: {
                currentStreak: Number(row.current_streak),
                longestStreak: Number(row.longest_streak),
                freezesHeld: Number(row.freezes_held),
            },
            badges: () => badges(user),
        };
    }

    async function badges(user) {
        const r = await pool.query(
            'SELECT b.id, b.name, b.icon, b.criteria, extract(epoch FROM lb.earned_at)::bigint AS t ' +
                'FROM learner_badges lb JOIN badges b ON b.id = lb.badge_id ' +
                'WHERE lb.user_id = $1 ORDER BY lb.position, lb.earned_at',
            [user],
        );
        return r.rows.map((b) => ({
            badge: { id: b.id, name: b.name, icon: b.icon || null, criteria: b.criteria },
            earnedAt: rfc3339(b.t),
        }));
    }

    async function leaderboard(viewer, a) {
        const board = a.board ?? 'global';
        if ((a.period ?? 'ALL_TIME') !== 'ALL_TIME') throw new Error('reference: ALL_TIME only');
        const first = a.first ?? 10;
        if (first < 1 || first > 100) throw new Error('first must be from 1 to 100');
        const key = `${prefix}lb:${board}:all`;
        let start = a.after ? Number(a.after.slice(1)) + 1 : 0;
        let count = first;
        const total = await redis.zcard(key);
        if (total === 0 && !(await redis.sismember(`${prefix}boards`, board))) return null;
        let me = null;
        let mp = -1;
        const ms = await redis.zscore(key, viewer.userId);
        if (ms !== null) {
            mp = await redis.zrevrank(key, viewer.userId);
            me = { rank: (await redis.zcount(key, `(${ms}`, '+inf')) + 1, score: decode(ms) };
        }
        if (a.around != null) {
            if (mp < 0) count = 0;
            else {
                start = Math.max(0, mp - a.around);
                count = mp + a.around - start + 1;
            }
        }
        const entries = [];
        if (count > 0 && start < total) {
            const page = await redis.zrevrange(key, start, start + count - 1, 'WITHSCORES');
            let rank = page.length ? (await redis.zcount(key, `(${page[1]}`, '+inf')) + 1 : 0;
            const hidden = viewer.role === 'student' ? await optedOut() : new Set();
            for (let i = 0; i < page.length / 2; i++) {
                const u = page[2 * i];
                // Ranks by the encoded score (score and reach time), shown decoded.
                if (i > 0 && page[2 * i + 1] !== page[2 * i - 1]) rank = start + i + 1;
                entries.push({
                    rank,
                    userId: hidden.has(u) && u !== viewer.userId ? null : u,
                    score: decode(page[2 * i + 1]),
                });
            }
        }
        return {
            board,
            period: 'ALL_TIME',
            periodKey: 'all',
            entries,
            me,
            totalCount: total,
            pageInfo: {
                endCursor: entries.length ? `o${start + entries.length - 1}` : null,
                hasNextPage: start + entries.length < total,
            },
        };
    }

    const root = {
        userProfile: (a, ctx) => profile(ctx.viewer, a.userId),
        badges: (a, ctx) => badges(a.userId ?? ctx.viewer.userId),
        streaks: async (a, ctx) => (await profile(ctx.viewer, a.userId))?.streak ?? null,
        leaderboard: (a, ctx) => leaderboard(ctx.viewer, a),
        rewards: async () => {
            const r = await pool.query(
                'SELECT id, name, cost, type, stock_left, active FROM reward_catalogue ' +
                    'ORDER BY active DESC, position, id',
            );
            return r.rows.map((w) => ({
                id: w.id,
                name: w.name,
                cost: Number(w.cost),
                type: w.type,
                stock: w.stock_left === null ? null : Number(w.stock_left),
                active: w.active,
            }));
        },
    };

    const send = (res, status, body) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
    };

    http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', async () => {
            if (req.method !== 'POST' || req.url !== '/graphql')
                return send(res, 404, { errors: [{ message: 'not found' }] });
            let viewer;
            try {
                viewer = verify(req.headers.authorization);
            } catch {
                viewer = null;
            }
            if (!viewer) return send(res, 401, { errors: [{ message: 'unauthenticated' }] });
            let body;
            try {
                body = JSON.parse(Buffer.concat(chunks));
            } catch {
                return send(res, 400, { errors: [{ message: 'bad JSON' }] });
            }
            const result = await graphql({
                schema,
                source: body.query,
                rootValue: root,
                contextValue: { viewer },
                variableValues: body.variables,
            });
            send(res, 200, result);
        });
    }).listen(Number(args.listen), '127.0.0.1');
}
