// tests/graphql/run.mjs: the graphql-js side of the differential test, and
// the comparison of the two sides (README.md).
//
//   node run.mjs corpus [CORPUS_DIR]       one JSON line per document
//   node run.mjs compare JS.jsonl OURS.jsonl   exit 1 on a real disagreement
//   node run.mjs check JS.jsonl            graphql-js answers as expect.tsv says
//
// Plain ES modules for Node 18 (Debian 12) and later.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
    GraphQLError,
    GraphQLObjectType,
    buildClientSchema,
    buildSchema,
    execute,
    lexicographicSortSchema,
    parse,
    printSchema,
    validate,
} from 'graphql';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const SDL_PATH = path.join(ROOT, 'api', 'schema.graphql');
const DATA_PATH = path.join(HERE, 'data.json');
const CORPUS_DIR = path.join(HERE, 'corpus');
const LIMITS_PATH = path.join(HERE, 'limits.txt');
// The document whose answer (ours) the introspection check rebuilds.
const INTROSPECTION_DOC = 'introspection-full';

// ---- resolvers (README.md, "Resolver semantics") ---------------------------

function isMarker(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v) &&
        Object.prototype.hasOwnProperty.call(v, '__error');
}

function raise(marker) {
    const e = new Error(String(marker.__error));
    e.extensions = { code: marker.code ?? 'INTERNAL_SERVER_ERROR' };
    throw e;
}

function own(obj, key) {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
    return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

// The value of member key of parent: null when missing, raises for a marker.
function member(parent, key) {
    const v = own(parent, key);
    if (v === undefined) return null;
    if (isMarker(v)) raise(v);
    return v;
}

function fieldError(message, code) {
    raise({ __error: message, code });
}

const CURSOR_RE = /^cursor:(0|[1-9][0-9]{0,5})$/;

function leaderboard(data, viewer, args) {
    const board = args.board ?? 'global';
    const period = args.period ?? 'ALL_TIME';
    const first = args.first ?? 10;
    const periodKey = args.periodKey ?? null;
    const after = args.after ?? null;
    const around = args.around ?? null;
    const lb = data.leaderboards.find((l) => l.board === board && l.period === period &&
        (periodKey === null ? l.current === true : l.periodKey === periodKey));
    if (lb === undefined) return null;
    if (first < 1 || first > 100) fieldError('first must be between 1 and 100', 'BAD_USER_INPUT');
    if (around !== null && (around < 0 || around > 25))
        fieldError('around must be between 0 and 25', 'BAD_USER_INPUT');
    if (around !== null && after !== null)
        fieldError('after and around cannot be combined', 'BAD_USER_INPUT');
    const len = lb.entries.length;
    let start;
    let end;
    if (around !== null) {
        const i = lb.entries.findIndex((e) => own(e, 'userId') === viewer);
        if (i < 0) {
            start = 0;
            end = 0;
        } else {
            start = Math.max(0, i - around);
            end = Math.min(len, i + around + 1);
        }
    } else {
        start = 0;
        if (after !== null) {
            const m = CURSOR_RE.exec(after);
            if (m === null || Number(m[1]) >= len) fieldError('invalid cursor', 'BAD_USER_INPUT');
            start = Number(m[1]) + 1;
        }
        end = Math.min(len, start + first);
    }
    const page = {};
    for (const key of ['board', 'period', 'periodKey', 'me', 'totalCount']) {
        if (own(lb, key) !== undefined) page[key] = lb[key];
    }
    page.entries = lb.entries.slice(start, end);
    page.pageInfo = {
        endCursor: end > start ? 'cursor:' + (end - 1) : null,
        hasNextPage: end < len,
    };
    return page;
}

function redeemReward(data, viewer, args) {
    const override = own(data.redemptions, args.rewardId);
    if (override !== undefined) {
        if (isMarker(override)) raise(override);
        return override;
    }
    const r = data.rewards.find((x) => x.id === args.rewardId);
    const u = own(data.users, viewer);
    let reason = null;
    if (r === undefined || r.active !== true) reason = 'UNKNOWN_REWARD';
    else if (r.stock !== null && r.stock !== undefined && r.stock <= 0) reason = 'OUT_OF_STOCK';
    else if (u === undefined || isMarker(u) || typeof u.coins !== 'number' || u.coins < r.cost)
        reason = 'INSUFFICIENT_COINS';
    if (reason !== null) return { status: 'REJECTED', reason, redemption: null };
    return {
        status: 'COMPLETED',
        reason: null,
        redemption: {
            id: 'red-' + args.rewardId + '-' + (args.idempotencyKey ?? '0'),
            rewardId: args.rewardId,
            status: 'COMPLETED',
        },
    };
}

function learner(data, viewer, args) {
    const v = own(data.users, args.userId ?? viewer);
    if (v === undefined) return undefined;
    if (isMarker(v)) raise(v);
    return v;
}

function makeSchema(sdl, data) {
    const schema = buildSchema(sdl);
    const root = {
        'Query.userProfile': (_p, args, ctx) => learner(data, ctx.viewer, args) ?? null,
        'Query.badges': (_p, args, ctx) => {
            const u = learner(data, ctx.viewer, args);
            return u === undefined ? [] : member(u, 'badges');
        },
        'Query.streaks': (_p, args, ctx) => {
            const u = learner(data, ctx.viewer, args);
            return u === undefined ? null : member(u, 'streak');
        },
        'Query.rewards': () => data.rewards,
        'Query.leaderboard': (_p, args, ctx) => leaderboard(data, ctx.viewer, args),
        'Mutation.redeemReward': (_p, args, ctx) => redeemReward(data, ctx.viewer, args),
    };
    for (const type of Object.values(schema.getTypeMap())) {
        if (!(type instanceof GraphQLObjectType) || type.name.startsWith('__')) continue;
        for (const field of Object.values(type.getFields())) {
            const coord = type.name + '.' + field.name;
            const name = field.name;
            field.resolve = root[coord] ?? ((parent) => member(parent, name));
        }
    }
    return schema;
}

// ---- running the corpus ----------------------------------------------------

function corpusDocs(dir) {
    return fs.readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort().map((f) => {
        const name = f.slice(0, -'.graphql'.length);
        const base = path.join(dir, name);
        const doc = { name, src: fs.readFileSync(base + '.graphql', 'utf8') };
        if (fs.existsSync(base + '.vars.json'))
            doc.vars = JSON.parse(fs.readFileSync(base + '.vars.json', 'utf8'));
        if (fs.existsSync(base + '.op'))
            doc.op = fs.readFileSync(base + '.op', 'utf8').trim();
        return doc;
    });
}

function errorsWithCode(errors, code) {
    return errors.map((e) => {
        const j = e.toJSON();
        const ext = Object.assign({}, j.extensions ?? {});
        if (ext.code === undefined) ext.code = code;
        j.extensions = ext;
        return j;
    });
}

function runOne(schema, data, doc) {
    let document;
    try {
        document = parse(doc.src);
    } catch (e) {
        if (!(e instanceof GraphQLError)) throw e;
        return { errors: errorsWithCode([e], 'GRAPHQL_PARSE_FAILED') };
    }
    const verrs = validate(schema, document);
    if (verrs.length > 0) return { errors: errorsWithCode(verrs, 'GRAPHQL_VALIDATION_FAILED') };
    const res = execute({
        schema,
        document,
        rootValue: data, // as gql_corpus: unlisted root fields read its members
        contextValue: { viewer: data.viewer },
        variableValues: doc.vars,
        operationName: doc.op,
    });
    if (typeof res.then === 'function') throw new Error(doc.name + ': asynchronous result');
    const out = {};
    if (res.errors) {
        // Field errors have a path; the others concern the request (variables,
        // the operation, a root type the schema lacks).
        out.errors = res.errors.map((e) => errorsWithCode([e],
            e.path ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT')[0]);
    }
    if ('data' in res) out.data = res.data;
    return out;
}

function cmdCorpus(dir) {
    const sdl = fs.readFileSync(SDL_PATH, 'utf8');
    const data = JSON.parse(fs.readFileSync(DATA_PATH, 'utf8'));
    const schema = makeSchema(sdl, data);
    const lines = [];
    for (const doc of corpusDocs(dir)) {
        lines.push(JSON.stringify({ doc: doc.name, result: runOne(schema, data, doc) }));
    }
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
}

// ---- comparing -------------------------------------------------------------

function readResults(file) {
    const map = new Map();
    const text = fs.readFileSync(file, 'utf8');
    for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        let rec;
        try {
            rec = JSON.parse(line);
        } catch (e) {
            throw new Error(file + ': not JSON: ' + line.slice(0, 200));
        }
        map.set(rec.doc, rec.result);
    }
    return map;
}

function readList(file) {
    if (!fs.existsSync(file)) return new Set();
    return new Set(fs.readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim())
        .filter((l) => l !== ''));
}

function errKey(e) {
    return JSON.stringify({ locations: e.locations ?? [], path: e.path ?? null });
}

function showErr(e) {
    const loc = (e.locations ?? []).map((l) => l.line + ':' + l.column).join(',');
    const p = e.path ? ' path ' + JSON.stringify(e.path) : '';
    const code = e.extensions && e.extensions.code ? ' [' + e.extensions.code + ']' : '';
    return '@' + (loc || '-') + p + code + ' ' + JSON.stringify(e.message);
}

function clip(v) {
    const s = v === undefined ? '(absent)' : JSON.stringify(v);
    return s.length > 300 ? s.slice(0, 300) + '...' : s;
}

// The path of the first place where a and b differ (key order counts), and the values there.
function firstDiff(a, b, at) {
    if (JSON.stringify(a) === JSON.stringify(b)) return null;
    const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
    if (Array.isArray(a) && Array.isArray(b)) {
        for (let i = 0; i < Math.min(a.length, b.length); i++) {
            const d = firstDiff(a[i], b[i], at + '[' + i + ']');
            if (d) return d;
        }
        return { path: at + ' (length ' + a.length + ' vs ' + b.length + ')', a, b };
    }
    if (isObj(a) && isObj(b)) {
        const ka = Object.keys(a);
        const kb = Object.keys(b);
        for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
            if (ka[i] !== kb[i]) return { path: at + ' (keys ' + ka.join(',') + ' vs ' + kb.join(',') + ')', a, b };
            const d = firstDiff(a[ka[i]], b[kb[i]], at + '.' + ka[i]);
            if (d) return d;
        }
    }
    return { path: at, a, b };
}

// Compares one document's answers; returns {real: [...], warn: [...]}.
function compareOne(name, js, ours, limited) {
    const real = [];
    const warn = [];
    const jsErrs = js.errors ?? [];
    const ourErrs = Array.isArray(ours.errors) ? ours.errors : [];
    if (ours.invalid_json !== undefined) {
        real.push('our response is not valid JSON: ' + ours.invalid_json.slice(0, 300));
        return { real, warn };
    }
    if (limited) {
        if (jsErrs.length > 0) real.push('listed in limits.txt but graphql-js reports errors: ' +
            jsErrs.map(showErr).join('; '));
        const bad = ourErrs.filter((e) => !e.extensions || e.extensions.code !== 'QUERY_TOO_COMPLEX');
        if (ourErrs.length === 0 || bad.length > 0 || 'data' in ours)
            real.push('listed in limits.txt: ours should answer only QUERY_TOO_COMPLEX errors ' +
                'without data, but answered ' + JSON.stringify(ours).slice(0, 400));
        return { real, warn };
    }
    if ((jsErrs.length > 0) !== (ourErrs.length > 0)) {
        real.push((jsErrs.length > 0 ? 'only graphql-js' : 'only ours') + ' reports errors');
    }
    if (('data' in js) !== ('data' in ours)) {
        real.push('data ' + ('data' in js ? 'only in graphql-js' : 'only in ours'));
    } else if ('data' in js) {
        const a = JSON.stringify(js.data);
        const b = JSON.stringify(ours.data);
        if (a !== b) {
            const d = firstDiff(js.data, ours.data, 'data');
            real.push('data differs first at ' + d.path + ':\n      graphql-js: ' + clip(d.a) +
                '\n      ours:       ' + clip(d.b));
        }
    }
    // Errors as multisets keyed by locations and path.
    const byKey = (errs) => {
        const m = new Map();
        for (const e of errs) {
            const k = errKey(e);
            if (!m.has(k)) m.set(k, []);
            m.get(k).push(e);
        }
        for (const list of m.values()) list.sort((x, y) => (x.message < y.message ? -1 : x.message > y.message ? 1 : 0));
        return m;
    };
    const jm = byKey(jsErrs);
    const om = byKey(ourErrs);
    const keys = new Set([...jm.keys(), ...om.keys()]);
    const onlyJs = [];
    const onlyOurs = [];
    for (const k of keys) {
        const a = jm.get(k) ?? [];
        const b = om.get(k) ?? [];
        const n = Math.min(a.length, b.length);
        for (let i = 0; i < n; i++) {
            if (a[i].message !== b[i].message) {
                warn.push('message at ' + showErr(a[i]).split(' "')[0] + ':\n      graphql-js: ' +
                    JSON.stringify(a[i].message) + '\n      ours:       ' + JSON.stringify(b[i].message));
            }
            const ca = a[i].extensions && a[i].extensions.code;
            const cb = b[i].extensions && b[i].extensions.code;
            if (ca !== cb) warn.push('code of ' + showErr(a[i]) + ': graphql-js ' + ca + ', ours ' + cb);
        }
        for (let i = n; i < a.length; i++) onlyJs.push(a[i]);
        for (let i = n; i < b.length; i++) onlyOurs.push(b[i]);
    }
    if (onlyJs.length > 0 || onlyOurs.length > 0) {
        let s = 'errors differ in locations or paths:';
        for (const e of onlyJs) s += '\n      graphql-js only: ' + showErr(e);
        for (const e of onlyOurs) s += '\n      ours only:       ' + showErr(e);
        real.push(s);
    }
    return { real, warn };
}

function lineDiff(a, b) {
    const x = a.split('\n');
    const y = b.split('\n');
    const out = [];
    const n = Math.max(x.length, y.length);
    for (let i = 0; i < n && out.length < 40; i++) {
        if (x[i] !== y[i]) {
            out.push('      line ' + (i + 1) + ':\n        expected: ' + JSON.stringify(x[i] ?? '<end>') +
                '\n        ours:     ' + JSON.stringify(y[i] ?? '<end>'));
        }
    }
    return out.join('\n');
}

// Rebuilds a schema from our introspection answer; returns {real, warn}.
function checkIntrospection(ours) {
    const real = [];
    const warn = [];
    if (!ours || !ours.data) {
        real.push('no data in our answer to ' + INTROSPECTION_DOC);
        return { real, warn };
    }
    const expected = buildSchema(fs.readFileSync(SDL_PATH, 'utf8'));
    let client;
    try {
        client = buildClientSchema(ours.data);
    } catch (e) {
        real.push('buildClientSchema rejects our introspection: ' + e.message);
        return { real, warn };
    }
    const want = printSchema(expected);
    const got = printSchema(client);
    if (want === got) return { real, warn };
    const wantSorted = printSchema(lexicographicSortSchema(expected));
    const gotSorted = printSchema(lexicographicSortSchema(client));
    if (wantSorted === gotSorted) {
        warn.push('printSchema equal only after lexicographicSortSchema (the order of types or ' +
            'directives differs)');
    } else {
        real.push('printSchema(buildClientSchema(ours)) differs from printSchema(buildSchema(sdl)) ' +
            '(both sorted):\n' + lineDiff(wantSorted, gotSorted));
    }
    return { real, warn };
}

// The description texts of our own schema (types, fields, arguments, enum
// values, input fields, directives), which must agree exactly.
function schemaDescriptions() {
    const texts = new Set();
    const add = (d) => {
        if (typeof d === 'string') texts.add(d);
    };
    const schema = buildSchema(fs.readFileSync(SDL_PATH, 'utf8'));
    add(schema.description);
    for (const t of Object.values(schema.getTypeMap())) {
        if (t.name.startsWith('__') || t.astNode === undefined) continue;
        add(t.description);
        if (typeof t.getValues === 'function') for (const v of t.getValues()) add(v.description);
        if (typeof t.getFields === 'function') {
            for (const f of Object.values(t.getFields())) {
                add(f.description);
                for (const a of f.args ?? []) add(a.description);
            }
        }
    }
    for (const d of schema.getDirectives()) {
        if (d.astNode === undefined) continue;
        add(d.description);
        for (const a of d.args) add(a.description);
    }
    return texts;
}

// The built-in types and directives (String, __Type, @skip, ...) carry
// descriptions written in each implementation's own words, so where
// graphql-js answers a description that is not one of ours, ours need only
// be a non-empty string too: both are replaced by one marker before the
// comparison. A null on either side is left alone and still compared.
function maskBuiltinDescriptions(a, b, ownTexts) {
    const isObj = (v) => v !== null && typeof v === 'object';
    if (!isObj(a) || !isObj(b)) return;
    if (Array.isArray(a) !== Array.isArray(b)) return;
    for (const k of Object.keys(a)) {
        if (!(k in b)) continue;
        if (k === 'description' && typeof a[k] === 'string' && !ownTexts.has(a[k]) &&
            typeof b[k] === 'string' && b[k].length > 0) {
            a[k] = '<built-in description>';
            b[k] = '<built-in description>';
        } else {
            maskBuiltinDescriptions(a[k], b[k], ownTexts);
        }
    }
}

function cmdCompare(jsFile, oursFile) {
    const js = readResults(jsFile);
    const ours = readResults(oursFile);
    const ownTexts = schemaDescriptions();
    for (const [name, res] of js) {
        const o = ours.get(name);
        if (o && res.data && o.data) maskBuiltinDescriptions(res.data, o.data, ownTexts);
    }
    const limited = readList(LIMITS_PATH);
    let agree = 0;
    let disagree = 0;
    let warned = 0;
    let introspection = 'not run (no ' + INTROSPECTION_DOC + ' document)';
    const names = [...new Set([...js.keys(), ...ours.keys()])].sort();
    for (const name of names) {
        let r;
        if (!js.has(name) || !ours.has(name)) {
            r = { real: ['no answer from ' + (js.has(name) ? 'ours' : 'graphql-js')], warn: [] };
        } else {
            r = compareOne(name, js.get(name), ours.get(name), limited.has(name));
        }
        if (name.endsWith(INTROSPECTION_DOC) && ours.has(name)) {
            const ir = checkIntrospection(ours.get(name));
            r.real.push(...ir.real);
            r.warn.push(...ir.warn);
            introspection = ir.real.length > 0 ? 'FAILED' : ir.warn.length > 0 ? 'passed with a warning' : 'passed';
        }
        if (r.real.length > 0) {
            disagree++;
            console.log('DISAGREE ' + name);
            for (const s of r.real) console.log('    ' + s);
            for (const s of r.warn) console.log('    (warning) ' + s);
        } else {
            agree++;
            if (r.warn.length > 0) {
                warned++;
                console.log('WARN ' + name);
                for (const s of r.warn) console.log('    ' + s);
            }
        }
    }
    for (const name of limited) {
        if (!js.has(name)) console.log('WARN limits.txt names ' + name + ', which is not in the corpus');
    }
    console.log('introspection check (printSchema(buildClientSchema(ours)) = ' +
        'printSchema(buildSchema(sdl))): ' + introspection);
    console.log(`graphql diff: ${names.length} documents, ${agree} agree (${warned} with warnings), ` +
        `${disagree} disagree`);
    return disagree > 0 ? 1 : 0;
}

// ---- self-check of the corpus ----------------------------------------------

function classOf(res) {
    const errs = res.errors ?? [];
    if (errs.length === 0) return 'ok';
    const code = errs[0].extensions && errs[0].extensions.code;
    if (code === 'GRAPHQL_PARSE_FAILED') return 'syntax';
    if (code === 'GRAPHQL_VALIDATION_FAILED') return 'validation';
    if (!('data' in res)) return 'request';
    return 'field';
}

function cmdCheck(jsFile) {
    const js = readResults(jsFile);
    const lines = fs.readFileSync(path.join(CORPUS_DIR, 'expect.tsv'), 'utf8').split('\n');
    let bad = 0;
    let n = 0;
    for (const line of lines) {
        if (line === '' || line.startsWith('#')) continue;
        const [name, cls, substr] = line.split('\t');
        n++;
        const res = js.get(name);
        if (res === undefined) {
            console.log('MISSING ' + name);
            bad++;
            continue;
        }
        const got = classOf(res);
        const msgs = (res.errors ?? []).map((e) => e.message);
        const problems = [];
        if (got !== cls) problems.push('expected ' + cls + ', graphql-js answered ' + got);
        if (substr && !msgs.some((m) => m.includes(substr)))
            problems.push('no error message contains ' + JSON.stringify(substr));
        if (problems.length > 0) {
            bad++;
            console.log('UNEXPECTED ' + name + ': ' + problems.join('; '));
            console.log('    ' + JSON.stringify(res).slice(0, 600));
        }
    }
    if (n !== js.size) {
        console.log(`expect.tsv lists ${n} documents, the corpus has ${js.size}`);
        bad++;
    }
    console.log(`graphql corpus check: ${n} documents, ${bad} unexpected`);
    return bad > 0 ? 1 : 0;
}

const [cmd, ...rest] = process.argv.slice(2);
let rc;
if (cmd === 'corpus') rc = cmdCorpus(rest[0] ?? CORPUS_DIR);
else if (cmd === 'compare' && rest.length === 2) rc = cmdCompare(rest[0], rest[1]);
else if (cmd === 'check' && rest.length === 1) rc = cmdCheck(rest[0]);
else {
    console.error('usage: node run.mjs corpus [DIR] | compare JS OURS | check JS');
    rc = 2;
}
process.exitCode = rc;
