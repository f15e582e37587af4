// tests/api/check.mjs: the checks of run.sh (see there), in node because
// they compare JSON: node check.mjs queries|boards|reads|redeem|down, with the
// environment run.sh exports. Exits 1 with the first difference.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';

const env = process.env;
const dump = readFileSync(env.GM_DUMP, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const byUser = new Map(dump.map((l) => [l.userId, l]));
const thresholds = JSON.parse(
  readFileSync(env.GM_RULES, 'utf8').match(/^\s*thresholds:\s*(\[[^\]]*\])/m)[1]);
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

// Over HTTP (check http: GM_API_URL is a running gamify-api): a token
// minted by deploy/local/mint-token for user/role, the document POSTed
// with curl; returns the parsed response.
const tokens = new Map();
function token(user, role) {
  const k = user + ' ' + role;
  if (!tokens.has(k)) {
    tokens.set(k, execFileSync(env.GM_MINT, [env.GM_SECRET, user, role, '600'], { encoding: 'utf8' }).trim());
  }
  return tokens.get(k);
}
function curl(query, user, role, vars, status = ['200'], url = env.GM_API_URL) {
  const out = execFileSync('curl', ['-sS', '-w', '\n%{http_code}', '-H', 'Content-Type: application/json',
    '-H', `Authorization: Bearer ${token(user || 'anonymous-caller', role)}`,
    '--data-binary', JSON.stringify({ query, variables: vars || null }), url + '/graphql'],
  { encoding: 'utf8' });
  const nl = out.lastIndexOf('\n');
  const code = out.slice(nl + 1);
  if (!status.includes(code)) fail(`HTTP ${code} for ${query.slice(0, 60)}: ${out.slice(0, nl)}`);
  return JSON.parse(out.slice(0, nl));
}

function curlMetrics(url) {
  return execFileSync('curl', ['-fsS', url + '/metrics'], { encoding: 'utf8' });
}

// Runs a document as user/role; returns the parsed response (or the lines
// of --parallel runs).
function gql(query, { user, role = 'student', vars, parallel, pg = env.GM_PG,
  redis = env.GM_REDIS, waitMs, ready, log = env.GM_LOG } = {}) {
  if (env.GM_API_URL && !parallel && !ready && pg === env.GM_PG && redis === env.GM_REDIS) {
    return curl(query, user, role, vars);
  }
  const args = ['--schema', env.GM_SCHEMA, '--postgres', pg, '--redis', redis, '--prefix',
    env.GM_PREFIX, '--log', log, '--role', role];
  if (user) args.push('--user', user);
  if (parallel) args.push('--parallel', String(parallel));
  if (waitMs) args.push('--wait-ms', String(waitMs));
  if (ready) {
    args.push('--ready');
    try {
      return { ok: true, out: execFileSync(env.GM_GQL_RUN, args, { encoding: 'utf8' }) };
    } catch (e) {
      return { ok: false, out: e.stdout };
    }
  }
  args.push(query);
  if (vars) args.push(JSON.stringify(vars));
  const run = spawnSync(env.GM_GQL_RUN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`gql_run exited ${run.status}: ${run.stderr}`);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  // A client sees INTERNAL_SERVER_ERROR only; the reason is in the
  // resolvers' error lines: kept (not enumerable, so no comparison sees
  // them) for data() to print.
  const errLines = run.stderr.split('\n').filter((l) => l.includes('"level":"error"'));
  for (const l of lines) if (l.errors && errLines.length) Object.defineProperty(l, 'log', { value: errLines });
  return parallel ? lines : lines[0];
}
function data(r, what) {
  if (r.errors) fail(`${what}: errors ${JSON.stringify(r.errors)}${r.log ? `\n${r.log.join('\n')}` : ''}`);
  return r.data;
}

function psql(sql) {
  return execFileSync('psql', ['-qXAt', env.GM_PG, '-c', sql], { encoding: 'utf8' }).trim();
}

const sample = dump.filter((_, i) => i % 9 === 0).concat(dump.filter((l) => l.userId === 'lea'));

function queries() {
  const q = `query($u: ID) {
    userProfile(userId: $u) { userId exp level coins nextLevelExp
      badges { badge { id name icon criteria } earnedAt } streak { currentStreak longestStreak freezesHeld } }
    badges(userId: $u) { badge { id } earnedAt }
    streaks(userId: $u) { currentStreak longestStreak freezesHeld } }`;
  for (const l of sample) {
    const d = data(gql(q, { user: l.userId }), `profile of ${l.userId}`);
    const p = d.userProfile;
    const next = l.level < thresholds.length ? thresholds[l.level] : null;
    eq([p.userId, p.exp, p.level, p.coins, p.nextLevelExp], [l.userId, l.exp, l.level, l.coins, next],
      `userProfile of ${l.userId} as itself`);
    eq(p.badges.map((b) => b.badge.id), l.badges, `userProfile.badges of ${l.userId}`);
    eq(d.badges.map((b) => b.badge.id), l.badges, `badges of ${l.userId}`);
    for (const b of d.badges) if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(b.earnedAt)) fail(`earnedAt ${b.earnedAt}`);
    const st = { currentStreak: l.currentStreak, longestStreak: l.longestStreak, freezesHeld: l.freezesHeld };
    eq(d.streaks, st, `streaks of ${l.userId}`);
    eq(p.streak, st, `userProfile.streak of ${l.userId}`);
    // Another student sees the public fields, not the coins; staff sees all.
    const o = data(gql(q, { user: 'someone-else', vars: { u: l.userId } }), 'other').userProfile;
    eq([o.userId, o.exp, o.level, o.coins], [l.userId, l.exp, l.level, null], `${l.userId} seen by another student`);
    const s = data(gql(q, { user: 'ops', role: 'staff', vars: { u: l.userId } }), 'staff').userProfile;
    eq(s.coins, l.coins, `${l.userId}'s coins seen by staff`);
  }
  // A badge's catalogue fields.
  const withBadge = dump.find((l) => l.badges.length > 0);
  const b = data(gql('{ badges { badge { id name icon criteria } } }', { user: withBadge.userId }), 'badge').badges[0].badge;
  if (!b.name || !b.criteria) fail(`badge fields ${JSON.stringify(b)}`);
  // Unknown learner: null profile and streak, no badges.
  eq(data(gql('{ userProfile(userId: "nobody-at-all") { exp } streaks(userId: "nobody-at-all") { currentStreak } badges(userId: "nobody-at-all") { earnedAt } }', { user: 'x' }), 'unknown'),
    { userProfile: null, streaks: null, badges: [] }, 'an unknown learner');
  // Rewards: the rules' catalogue with the stock left.
  const rw = data(gql('{ rewards { id name cost type stock active } }', { user: 'x' }), 'rewards').rewards;
  const sold = dump.reduce((n, l) => n + l.redemptions.filter((r) => r.rewardId === 'sticker-pack' && r.status === 'COMPLETED').length, 0);
  const sticker = rw.find((r) => r.id === 'sticker-pack');
  eq([sticker.cost, sticker.type, sticker.stock, sticker.active], [90, 'physical', Math.max(2 - sold, 0), true], 'sticker-pack');
  eq(rw.find((r) => r.id === 'dark-theme').stock, null, 'unlimited stock');
  eq(rw.find((r) => r.id === 'hoodie').active, false, 'a retired reward');
  eq(rw.filter((r) => r.active).map((r) => r.id), ['streak-shield', 'dark-theme', 'sticker-pack', 'pointers-ebook'], 'reward order');
}

// Every entry of a board, paged with first/after, as viewer.
function walk(board, period, periodKey, viewer, first = 100) {
  const q = `query($b: ID, $p: LeaderboardPeriod, $k: String, $a: String, $f: Int) {
    leaderboard(board: $b, period: $p, periodKey: $k, first: $f, after: $a) {
      board period periodKey totalCount entries { rank userId score } me { rank score } pageInfo { endCursor hasNextPage } } }`;
  const all = [];
  let after = null, lb;
  for (let i = 0; i < 100; i++) {
    lb = data(gql(q, { user: viewer, vars: { b: board, p: period, k: periodKey, a: after, f: first } }), `board ${board}`).leaderboard;
    if (!lb) return null;
    all.push(...lb.entries);
    if (!lb.pageInfo.hasNextPage) break;
    after = lb.pageInfo.endCursor;
  }
  return { lb, entries: all };
}

// The sorted-set score Redis holds (docs/operations.md "Redis leaderboards"):
// score * 2^24 + (2^24 - 1 - tick), tick = seconds since the period's first
// day 00:00 UTC minus a day (weeks, months) or minutes since 2020-01-01 (all),
// clamped to 0..2^24-1. Exact in a JS number (below 2^53).
const TICKS = 2 ** 24;
function encode(score, reached, pkey) {
  const DAY = 86400;
  let origin = Date.UTC(2020, 0, 1) / 1000, unit = 60;
  let m = pkey.match(/^(\d{4})-W(\d{2})$/);
  if (m) {
    const jan4 = Date.UTC(Number(m[1]), 0, 4) / 1000;
    const wd = (new Date(jan4 * 1000).getUTCDay() + 6) % 7; // Monday 0
    origin = jan4 - wd * DAY + 7 * (Number(m[2]) - 1) * DAY - DAY;
    unit = 1;
  } else if ((m = pkey.match(/^(\d{4})-(\d{2})$/))) {
    origin = Date.UTC(Number(m[1]), Number(m[2]) - 1, 1) / 1000 - DAY;
    unit = 1;
  }
  const at = typeof reached === 'number' ? reached : Date.parse(reached) / 1000;
  const tick = Math.min(Math.max(Math.floor((at - origin) / unit), 0), TICKS - 1);
  const sc = Math.min(Math.max(score, -(2 ** 29 - 1)), 2 ** 29 - 1);
  return sc * TICKS + (TICKS - 1 - tick);
}

// A board's learners in leaderboard order: higher score first, then the
// earlier reach; equal encodings as Redis orders them (member descending).
function expected(board, pkey) {
  return dump.filter((l) => l.scores && l.scores[board] && l.scores[board][pkey] !== undefined)
    .map((l) => ({ userId: l.userId, score: l.scores[board][pkey],
      enc: encode(l.scores[board][pkey], l.scoresReachedAt[board][pkey], pkey) }))
    .sort((a, b) => b.enc - a.enc || (a.userId < b.userId ? 1 : a.userId > b.userId ? -1 : 0));
}

function checkBoard(board, period, pkey, viewer, optedOut, first) {
  const w = walk(board, period, pkey === 'all' ? null : pkey, viewer, first);
  const want = expected(board, pkey);
  if (!w) fail(`board ${board} ${pkey}: null`);
  eq(w.lb.totalCount, want.length, `totalCount of ${board} ${pkey}`);
  eq(w.entries.length, want.length, `entries of ${board} ${pkey}`);
  // Scores descending, equal scores by who reached them first; a rank is 1 +
  // how many rank above (shared only by equal encodings); ids as the dump's
  // (hidden when opted out), in that order.
  eq(w.entries.map((e) => e.score), want.map((e) => e.score), `scores of ${board} ${pkey}`);
  w.entries.forEach((e, i) => {
    const rank = 1 + want.filter((x) => x.enc > want[i].enc).length;
    if (e.rank !== rank) fail(`${board} ${pkey} entry ${i}: rank ${e.rank}, want ${rank}`);
  });
  const wantIds = want.map((e) => (optedOut.has(e.userId) && e.userId !== viewer ? null : e.userId) + ':' + e.score);
  eq(w.entries.map((e) => e.userId + ':' + e.score), wantIds, `ids of ${board} ${pkey} seen by ${viewer}`);
  return w;
}

function boards() {
  const optedOut = new Set(psql('SELECT user_id FROM learners WHERE opt_out').split('\n').filter(Boolean));
  if (!optedOut.has('lea')) fail('lea should have opted out');
  const pairs = new Set();
  // Every period of the global board and of a sample of the groups (each
  // whole, page by page); every group would take minutes of processes.
  const groups = [...new Set(dump.flatMap((l) => Object.keys(l.scores || {})))].filter((b) => b !== 'global').sort();
  const chosen = new Set(['global', 'cohort-12', ...groups.filter((_, i) => i % Math.ceil(groups.length / 6) === 0)]);
  for (const l of dump) for (const [b, ps] of Object.entries(l.scores || {})) if (chosen.has(b)) for (const p of Object.keys(ps)) pairs.add(b + '\t' + p);
  const cur = data(gql('{ w: leaderboard(period: WEEKLY) { periodKey } m: leaderboard(period: MONTHLY) { periodKey } }', { user: 'x' }), 'current');
  let weeks = 0;
  for (const pair of pairs) {
    const [b, p] = pair.split('\t');
    const period = p === 'all' ? 'ALL_TIME' : p.includes('W') ? 'WEEKLY' : 'MONTHLY';
    const w = checkBoard(b, period, p, 'viewer-x', optedOut);
    eq([w.lb.board, w.lb.period, w.lb.periodKey], [b, period, p], `header of ${b} ${p}`);
    if (period === 'WEEKLY' && p !== cur.w.periodKey) weeks++;
  }
  if (weeks === 0) fail('no earlier week to read by periodKey');
  // Equal scores (run.sh: tie-a, tie-b, tie-c reach 40 on tie-club at
  // different times, tie-c last; tie-d reaches 40 in tie-a's minute, after
  // it): who reached first ranks first, by the second on a week, by the
  // minute on all-time (there tie-a and tie-d share a rank, by id).
  const tieWeek = Object.keys(byUser.get('tie-a').scores['tie-club']).find((k) => k.includes('W'));
  const tw = walk('tie-club', 'WEEKLY', tieWeek, 'viewer-x');
  eq(tw.entries.map((e) => [e.userId, e.score, e.rank]),
    [['tie-b', 40, 1], ['tie-a', 40, 2], ['tie-d', 40, 3], ['tie-c', 40, 4]], 'tie-club this week');
  const ta = walk('tie-club', 'ALL_TIME', null, 'tie-a');
  eq(ta.entries.map((e) => [e.userId, e.score, e.rank]),
    [['tie-b', 40, 1], ['tie-d', 40, 2], ['tie-a', 40, 2], ['tie-c', 40, 4]], 'tie-club all time');
  eq(ta.lb.me, { rank: 2, score: 40 }, 'tie-club: me of tie-a');
  const tn = data(gql('{ leaderboard(board: "tie-club", around: 1) { entries { userId rank } } }', { user: 'tie-d' }), 'tie around').leaderboard;
  eq(tn.entries.map((e) => e.userId), ['tie-b', 'tie-d', 'tie-a'], 'tie-club around tie-d');
  if (!cur.w || !cur.w.periodKey.match(/^\d{4}-W\d\d$/)) fail(`current week ${JSON.stringify(cur)}`);
  // The opted-out learner sees its own id; others see null at its place.
  const lea = checkBoard('global', 'ALL_TIME', 'all', 'lea', optedOut, 7);
  const mine = lea.entries.filter((e) => e.userId === 'lea');
  eq(mine.length, 1, 'lea sees itself');
  eq(lea.lb.me.score, byUser.get('lea').scores.global.all, "lea's me");
  eq(lea.lb.me.rank, mine[0].rank, "lea's rank");
  // me and around: k above and below the caller.
  const ranked = expected('global', 'all');
  const mid = ranked[Math.floor(ranked.length / 2)].userId;
  const ar = data(gql('{ leaderboard(around: 3) { me { rank score } entries { userId score rank } pageInfo { hasNextPage } } }', { user: mid }), 'around').leaderboard;
  if (ar.entries.length !== 7) fail(`around 3 gave ${ar.entries.length} entries`);
  eq(ar.entries[3].userId, mid, 'the caller is in the middle of around');
  eq(ar.entries[3].rank, ar.me.rank, 'around: rank of the caller');
  eq(ar.me.score, byUser.get(mid).scores.global.all, 'around: me.score');
  const top = ranked[0].userId;
  const at = data(gql('{ leaderboard(around: 2) { entries { userId } } }', { user: top }), 'around top').leaderboard;
  eq(at.entries.length, 3, 'around at the top: the caller and 2 below');
  // No score: me null, around empty.
  const none = data(gql('{ leaderboard(around: 2) { me { rank } entries { rank } totalCount } }', { user: 'no-score' }), 'no score').leaderboard;
  eq([none.me, none.entries.length, none.totalCount], [null, 0, ranked.length], 'a caller without a score');
  // Periods not kept and unknown boards are null; bad arguments are errors.
  eq(data(gql('{ leaderboard(period: WEEKLY, periodKey: "2001-W01") { totalCount } }', { user: 'x' }), 'old').leaderboard, null, 'a period not kept');
  eq(data(gql('{ leaderboard(board: "no-such-board") { totalCount } }', { user: 'x' }), 'unknown').leaderboard, null, 'an unknown board');
  for (const [args, what] of [['first: 0', 'first 0'], ['first: 101', 'first 101'], ['around: 26', 'around 26'],
    ['period: WEEKLY, periodKey: "2026-11"', 'a month key for a week'], ['after: "zz"', 'a bad cursor'],
    ['period: ALL_TIME, periodKey: "2026-W01"', 'a week key for all time']]) {
    const r = gql(`{ leaderboard(${args}) { totalCount } }`, { user: 'x' });
    if (!r.errors || r.errors[0].extensions.code !== 'BAD_USER_INPUT') fail(`${what}: ${JSON.stringify(r)}`);
    checks++;
  }
}

// The rules file's badges, in order: [{id, name, icon, criteria}].
function rulesBadges() {
  const text = readFileSync(env.GM_RULES, 'utf8');
  const sec = text.slice(text.search(/^badges:/m)).split('\n').slice(1);
  const end = sec.findIndex((l) => /^\S/.test(l));
  const out = [];
  for (const l of sec.slice(0, end)) {
    const m = l.match(/^\s*(?:- )?(id|name|icon|criteria):\s*(.*)$/);
    if (!m) continue;
    if (m[1] === 'id') out.push({});
    out[out.length - 1][m[1]] = m[2].trim();
  }
  return out;
}

// Every item of a paged list (redemptions or ledger) of user as viewer,
// first at a time; fails on a repeated cursor or an empty page that says
// more follow.
// order: OLDEST_FIRST or NEWEST_FIRST (undefined: the default); after: where to start.
function walkList(field, fields, user, viewer, role, first, order, start = null) {
  const q = order
    ? `query($u: ID, $f: Int, $a: String, $o: HistoryOrder) { ${field}(userId: $u, first: $f, after: $a, order: $o) {
    totalCount entries { ${fields} } pageInfo { endCursor hasNextPage } } }`
    : `query($u: ID, $f: Int, $a: String) { ${field}(userId: $u, first: $f, after: $a) {
    totalCount entries { ${fields} } pageInfo { endCursor hasNextPage } } }`;
  const all = [], cursors = new Set();
  let after = start, page;
  for (let i = 0; i < 1000; i++) {
    const vars = { u: user, f: first, a: after };
    if (order) vars.o = order;
    page = data(gql(q, { user: viewer, role, vars }), `${field} of ${user}`)[field];
    if (page.entries.length > first) fail(`${field}: ${page.entries.length} entries for first ${first}`);
    all.push(...page.entries);
    if (!page.pageInfo.hasNextPage) break;
    if (page.entries.length === 0) fail(`${field}: an empty page says more follow`);
    if (cursors.has(page.pageInfo.endCursor)) fail(`${field}: cursor ${page.pageInfo.endCursor} repeated`);
    cursors.add(page.pageInfo.endCursor);
    after = page.pageInfo.endCursor;
  }
  if (page.pageInfo.hasNextPage) fail(`${field} of ${user}: no end after 1000 pages`);
  if (start === null) eq(page.totalCount, all.length, `${field} of ${user}: totalCount`);
  return { all, last: page };
}

// `gamify ledger` of user: its entries and the summary line.
function cliLedger(user) {
  const out = execFileSync(env.GM_GAMIFY, ['ledger', '--state', env.GM_STATE, '--user', user], { encoding: 'utf8' });
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  return { entries: lines.slice(0, -1), summary: lines[lines.length - 1].summary };
}

// The badge catalogue, the learner's redemptions and ledger, compared with
// the rules file, `gamify dump` and `gamify ledger`; who may read them;
// pagination; bad arguments.
function reads() {
  // The catalogue: the rules' badges in order, earned as the dump says.
  const rb = rulesBadges();
  if (rb.length < 5) fail(`rules badges: ${JSON.stringify(rb)}`);
  const withRed = dump.filter((l) => l.redemptions.length > 1).slice(0, 4);
  if (withRed.length === 0) fail('no learner with redemptions in the dump');
  const people = [...sample, ...withRed];
  const cq = `query($u: ID) { badgeCatalogue(userId: $u) { badge { id name icon criteria } earned earnedAt }
    badges(userId: $u) { badge { id } earnedAt } }`;
  for (const l of people) {
    const d = data(gql(cq, { user: l.userId }), `catalogue of ${l.userId}`);
    eq(d.badgeCatalogue.map((e) => e.badge), rb, `catalogue badges for ${l.userId}`);
    const earnedAt = new Map(d.badges.map((b) => [b.badge.id, b.earnedAt]));
    eq(d.badgeCatalogue.map((e) => [e.badge.id, e.earned, e.earnedAt]),
      rb.map((b) => [b.id, l.badges.includes(b.id), earnedAt.get(b.id) ?? null]), `earned flags of ${l.userId}`);
  }
  // Another learner's catalogue is public; an unknown learner has earned nothing.
  const other = data(gql('query($u: ID) { badgeCatalogue(userId: $u) { earned } }', { user: 'someone-else', vars: { u: withRed[0].userId } }), 'other catalogue');
  eq(other.badgeCatalogue.filter((e) => e.earned).length, withRed[0].badges.filter((b) => rb.some((r) => r.id === b)).length, 'a catalogue read by another student');
  eq(data(gql('{ badgeCatalogue(userId: "nobody-at-all") { earned earnedAt } }', { user: 'x' }), 'unknown').badgeCatalogue,
    rb.map(() => ({ earned: false, earnedAt: null })), 'the catalogue of an unknown learner');

  // Ledgers: the same entries as `gamify ledger`, in order, over pages of 7;
  // the sums are the profile's exp and coins.
  const lf = 'eventId kind detail expDelta coinsDelta expAfter coinsAfter cappedExp occurredAt';
  let walked = 0;
  for (const l of people) {
    const { all } = walkList('ledger', lf, null, l.userId, 'student', 7);
    const cli = cliLedger(l.userId);
    eq(all, cli.entries.map((e) => ({ eventId: e.eventId, kind: e.kind, detail: e.detail, expDelta: e.expDelta,
      coinsDelta: e.coinsDelta, expAfter: e.expAfter, coinsAfter: e.coinsAfter, cappedExp: e.cappedExp,
      occurredAt: e.occurredAt })), `ledger of ${l.userId} as gamify ledger`);
    const p = data(gql('{ userProfile { exp coins } }', { user: l.userId }), 'profile').userProfile;
    eq([all.reduce((n, e) => n + e.expDelta, 0), all.reduce((n, e) => n + e.coinsDelta, 0)], [p.exp, p.coins], `ledger sums of ${l.userId}`);
    eq([p.exp, p.coins], [l.exp, l.coins], `profile of ${l.userId} as the dump`);
    if (all.length) eq([all[all.length - 1].expAfter, all[all.length - 1].coinsAfter], [l.exp, l.coins], `last balances of ${l.userId}`);
    walked += all.length > 7 ? 1 : 0;
  }
  if (walked === 0) fail('no ledger took more than one page');
  // Page sizes do not change the list.
  const big = people.reduce((a, b) => (b.exp > a.exp ? b : a));
  const one = walkList('ledger', 'eventId kind expDelta', big.userId, 'ops', 'staff', 1).all;
  const hundred = walkList('ledger', 'eventId kind expDelta', big.userId, 'ops', 'staff', 100).all;
  eq(one, hundred, `ledger of ${big.userId} by pages of 1 and of 100 (staff)`);
  // Newest first: the same entries backwards, by pages of 1 and of 7.
  const lf2 = 'eventId kind expDelta coinsDelta expAfter';
  const fwd = walkList('ledger', lf2, big.userId, 'ops', 'staff', 100).all;
  if (fwd.length < 15) fail(`ledger of ${big.userId}: ${fwd.length} entries, too few for the order checks`);
  eq(walkList('ledger', lf2, big.userId, 'ops', 'staff', 7, 'NEWEST_FIRST').all, [...fwd].reverse(),
    `ledger of ${big.userId} newest first, pages of 7`);
  eq(walkList('ledger', lf2, big.userId, 'ops', 'staff', 1, 'NEWEST_FIRST').all, [...fwd].reverse(),
    `ledger of ${big.userId} newest first, pages of 1`);
  eq(walkList('ledger', lf2, big.userId, 'ops', 'staff', 100, 'OLDEST_FIRST').all, fwd,
    `ledger of ${big.userId} with order OLDEST_FIRST as without order`);
  // Cursors serve both directions: back from an oldest-first page, forward from a newest-first one.
  const pq = (order, a) => data(gql(`query($u: ID, $a: String, $o: HistoryOrder) { ledger(userId: $u, first: 7, after: $a, order: $o) {
    entries { ${lf2} } pageInfo { endCursor hasNextPage } } }`, { user: 'ops', role: 'staff', vars: { u: big.userId, a, o: order } }), 'a ledger page').ledger;
  const c7 = pq('OLDEST_FIRST', null).pageInfo.endCursor;
  eq(pq('NEWEST_FIRST', c7), { entries: fwd.slice(0, 6).reverse(), pageInfo: pq('NEWEST_FIRST', c7).pageInfo },
    'newest first after the 7th entry: the 6 before it');
  eq(pq('NEWEST_FIRST', c7).pageInfo.hasNextPage, false, 'and nothing before those');
  const cn = pq('NEWEST_FIRST', null).pageInfo.endCursor;
  eq(pq('OLDEST_FIRST', cn).entries, fwd.slice(fwd.length - 6), 'oldest first after the 7th newest: the 6 after it');
  eq(pq('OLDEST_FIRST', cn).pageInfo.hasNextPage, false, 'and nothing after those');
  eq(pq('NEWEST_FIRST', cn).entries, fwd.slice(fwd.length - 14, fwd.length - 7).reverse(), 'newest first, the second page');
  console.log(`history order: the ledger of ${big.userId} (${fwd.length} entries) both ways, cursors across orders`);

  // Redemptions: the dump's, in log order, over pages of 2; some by id too.
  const rf = 'id rewardId status reason occurredAt';
  for (const l of people) {
    const { all } = walkList('redemptions', rf, null, l.userId, 'student', 2);
    eq(all.map((r) => ({ redemptionId: r.id, rewardId: r.rewardId, status: r.status, reason: r.reason })),
      l.redemptions, `redemptions of ${l.userId} as the dump`);
    eq(walkList('redemptions', rf, null, l.userId, 'student', 2, 'NEWEST_FIRST').all, [...all].reverse(),
      `redemptions of ${l.userId} newest first`);
    for (const r of all) if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(r.occurredAt)) fail(`occurredAt ${r.occurredAt}`);
    // By id: the first and the last (each lookup is a process here).
    for (const r of new Set([all[0], all[all.length - 1]])) {
      if (!r) continue;
      const one = data(gql(`query($i: ID!) { redemption(id: $i) { ${rf} } }`, { user: l.userId, vars: { i: r.id } }), 'redemption').redemption;
      eq(one, r, `redemption ${r.id} by id`);
    }
    // Staff and service read anyone's.
    if (withRed.includes(l)) for (const role of ['staff', 'service']) {
      eq(walkList('redemptions', rf, l.userId, 'ops', role, 100).all, all, `redemptions of ${l.userId} read by ${role}`);
    }
  }
  // Redemption cursors serve both directions too (a learner with 2 or more):
  // newest first after the 2nd oldest is the oldest; oldest first after the
  // 2nd newest is the newest.
  const many = withRed.reduce((a, b) => (b.redemptions.length > a.redemptions.length ? b : a));
  const rall = walkList('redemptions', 'id', many.userId, 'ops', 'staff', 100).all;
  const rq = (order, a) => data(gql(`query($u: ID, $a: String, $o: HistoryOrder) { redemptions(userId: $u, first: 2, after: $a, order: $o) {
    totalCount entries { id } pageInfo { endCursor hasNextPage } } }`, { user: 'ops', role: 'staff', vars: { u: many.userId, a, o: order } }), 'a redemptions page').redemptions;
  const r2 = rq('OLDEST_FIRST', null);
  eq(r2.entries, rall.slice(0, 2), `redemptions of ${many.userId}: the 2 oldest`);
  eq(rq('NEWEST_FIRST', r2.pageInfo.endCursor), { totalCount: rall.length, entries: rall.slice(0, 1), pageInfo: rq('NEWEST_FIRST', r2.pageInfo.endCursor).pageInfo },
    'redemptions newest first after the 2nd oldest: the oldest');
  eq(rq('NEWEST_FIRST', r2.pageInfo.endCursor).pageInfo.hasNextPage, false, 'and nothing before it');
  const rn = rq('NEWEST_FIRST', null);
  eq(rn.entries, rall.slice(-2).reverse(), `redemptions of ${many.userId}: the 2 newest`);
  eq(rq('OLDEST_FIRST', rn.pageInfo.endCursor).entries, rall.slice(-1), 'redemptions oldest first after the 2nd newest: the newest');
  eq(rq('OLDEST_FIRST', rn.pageInfo.endCursor).pageInfo.hasNextPage, false, 'and nothing after it');
  console.log(`history order: the redemptions of ${many.userId} (${rall.length}) with cursors across orders`);

  // A student asking for another learner's history: null and FORBIDDEN.
  const victim = withRed[0];
  const rid = victim.redemptions[0].redemptionId;
  for (const [q, field] of [
    [`{ ledger(userId: "${victim.userId}") { totalCount } }`, 'ledger'],
    [`{ redemptions(userId: "${victim.userId}") { totalCount } }`, 'redemptions'],
    [`{ redemption(id: "${rid}", userId: "${victim.userId}") { status } }`, 'redemption']]) {
    const r = gql(q, { user: 'someone-else' });
    eq([r.data[field], r.errors && r.errors.length, r.errors && r.errors[0].extensions.code, r.errors && r.errors[0].path],
      [null, 1, 'FORBIDDEN', [field]], `${field} of another learner read by a student`);
    const own = gql(q, { user: victim.userId });
    if (own.errors || own.data[field] === null) fail(`${field} read by the learner itself: ${JSON.stringify(own)}`);
  }
  // A redemption id of someone else, looked up as one's own: not found.
  eq(data(gql(`{ redemption(id: "${rid}") { id } }`, { user: 'someone-else' }), 'not mine').redemption, null, "another's redemption id as one's own");
  // An unknown learner (the caller): empty lists, no cursor.
  const none = data(gql('{ ledger { totalCount entries { eventId } pageInfo { endCursor hasNextPage } } redemptions { totalCount entries { id } pageInfo { endCursor hasNextPage } } }', { user: 'nobody-at-all' }), 'empty');
  const empty = { totalCount: 0, entries: [], pageInfo: { endCursor: null, hasNextPage: false } };
  eq(none, { ledger: empty, redemptions: empty }, 'the history of an unknown learner');
  const noneNew = data(gql('{ ledger(order: NEWEST_FIRST) { totalCount entries { eventId } pageInfo { endCursor hasNextPage } } redemptions(order: NEWEST_FIRST) { totalCount entries { id } pageInfo { endCursor hasNextPage } } }', { user: 'nobody-at-all' }), 'empty');
  eq(noneNew, { ledger: empty, redemptions: empty }, 'the history of an unknown learner, newest first');
  // After the last entry: an empty page.
  const last = walkList('ledger', 'eventId', null, big.userId, 'student', 100).last;
  const after = data(gql('query($a: String) { ledger(after: $a) { entries { eventId } pageInfo { endCursor hasNextPage } } }', { user: big.userId, vars: { a: last.pageInfo.endCursor } }), 'after the end').ledger;
  eq(after, { entries: [], pageInfo: { endCursor: null, hasNextPage: false } }, 'the page after the last');
  // Bad arguments.
  const lcur = data(gql('{ ledger(first: 1) { pageInfo { endCursor } } }', { user: big.userId }), 'cursor').ledger.pageInfo.endCursor;
  for (const [q, what] of [['{ ledger(first: 0) { totalCount } }', 'first 0'], ['{ redemptions(first: 101) { totalCount } }', 'first 101'],
    ['{ ledger(after: "zz") { totalCount } }', 'a bad cursor'], [`{ redemptions(after: "${lcur}") { totalCount } }`, 'a ledger cursor for redemptions'],
    ['{ ledger(after: "l1.99999999999999999999") { totalCount } }', 'a cursor past 64 bits'],
    ['{ ledger(after: "l-1.5") { totalCount } }', 'a negative cursor'],
    ['{ redemption(id: "") { id } }', 'an empty id'], ['{ ledger(userId: "") { totalCount } }', 'an empty userId']]) {
    const r = gql(q, { user: big.userId });
    if (!r.errors || r.errors[0].extensions.code !== 'BAD_USER_INPUT') fail(`${what}: ${JSON.stringify(r)}`);
    checks++;
  }
}

function redeem() {
  const m = `mutation($r: ID!, $k: String) { redeemReward(rewardId: $r, idempotencyKey: $k) { status reason redemption { id rewardId status } } }`;
  // 15 at once by a learner who can afford exactly 3 (120 coins, cost 40), each with its own key.
  const q = `mutation { ${Array.from({ length: 1 }, () => '').join('')}
    redeemReward(rewardId: "dark-theme") { status reason redemption { id rewardId status } } }`;
  const lines = gql(q, { user: 'buyer', parallel: 15, waitMs: 10000 });
  const st = lines.map((l) => data(l, 'redeem').redeemReward);
  const completed = st.filter((s) => s.status === 'COMPLETED').length;
  const rejected = st.filter((s) => s.status === 'REJECTED' && s.reason === 'INSUFFICIENT_COINS').length;
  eq([completed, rejected], [3, 12], '15 parallel redemptions of 3 affordable');
  eq(new Set(st.map((s) => s.redemption.id)).size, 15, 'distinct redemptions without keys');
  const p = data(gql('{ userProfile { coins } }', { user: 'buyer' }), 'buyer').userProfile;
  eq(p.coins, 0, "buyer's coins after");
  // The same key twice: the same redemption and outcome, appended once.
  const a = data(gql(m, { user: 'lea', vars: { r: 'pointers-ebook', k: 'key-1' }, waitMs: 10000 }), 'key 1').redeemReward;
  const b = data(gql(m, { user: 'lea', vars: { r: 'pointers-ebook', k: 'key-1' }, waitMs: 10000 }), 'key 1 again').redeemReward;
  if (a.status === 'PENDING') fail('the first redemption stayed pending');
  eq(b, a, 'the same key returns the same redemption');
  // Unknown reward: rejected with its reason.
  const u = data(gql(m, { user: 'lea', vars: { r: 'no-such-reward', k: 'key-2' }, waitMs: 10000 }), 'unknown').redeemReward;
  eq([u.status, u.reason, u.redemption.rewardId], ['REJECTED', 'UNKNOWN_REWARD', 'no-such-reward'], 'an unknown reward');
  // The processor stopped: PENDING in time, then the outcome with the same key.
  process.kill(Number(env.GM_PROC_PID), 'SIGSTOP');
  const byId = `query($i: ID!) { redemption(id: $i) { id rewardId status reason occurredAt } }`;
  let pend, unknown;
  try {
    pend = data(gql(m, { user: 'ana', vars: { r: 'dark-theme', k: 'key-3' }, waitMs: 300 }), 'pending').redeemReward;
    unknown = data(gql(byId, { user: 'ana', vars: { i: pend.redemption.id } }), 'by id while pending').redemption;
  } finally {
    process.kill(Number(env.GM_PROC_PID), 'SIGCONT');
  }
  eq([pend.status, pend.reason, pend.redemption.status, pend.redemption.rewardId], ['PENDING', null, 'PENDING', 'dark-theme'], 'pending');
  eq(unknown, null, 'redemption(id) while the processor has not applied it');
  const later = data(gql(m, { user: 'ana', vars: { r: 'dark-theme', k: 'key-3' }, waitMs: 10000 }), 'later').redeemReward;
  eq(later.redemption.id, pend.redemption.id, 'the pending redemption keeps its id');
  // The outcome by the redemption's id, as a client polls a PENDING one.
  const polled = data(gql(byId, { user: 'ana', vars: { i: pend.redemption.id } }), 'by id').redemption;
  eq([polled.id, polled.rewardId, polled.status, polled.reason], [pend.redemption.id, 'dark-theme', later.status, later.reason], 'redemption(id) after PENDING');
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(polled.occurredAt)) fail(`occurredAt ${polled.occurredAt}`);
  if (later.status === 'PENDING') fail('still pending after the processor resumed');
  eq(Number(psql(`SELECT count(*) FROM redemptions WHERE user_id = 'ana' AND redemption_id = '${pend.redemption.id}'`)), 1, 'one row');
  // A bad argument.
  const bad = gql(m, { user: 'lea', vars: { r: '', k: 'x' } });
  eq(bad.errors[0].extensions.code, 'BAD_USER_INPUT', 'an empty rewardId');
}

function down() {
  eq(gql(null, { ready: true }).ok, true, 'ready with both servers');
  const deadPg = env.GM_PG.replace(/port=\d+/, 'port=1') + (/port=/.test(env.GM_PG) ? '' : ' port=1');
  const deadRedis = 'redis://127.0.0.1:1';
  const q = '{ userProfile { exp } leaderboard { totalCount } rewards { id } }';
  for (const [what, opts] of [['postgres', { pg: deadPg }], ['redis', { redis: deadRedis }]]) {
    const r = gql(q, { user: 'lea', ...opts });
    if (!r.errors || r.errors.length === 0) fail(`${what} down: no error: ${JSON.stringify(r)}`);
    for (const e of r.errors) {
      eq([e.message, e.extensions.code], ['Internal server error', 'INTERNAL_SERVER_ERROR'], `${what} down: masked`);
    }
    const rd = gql(null, { ready: true, ...opts });
    if (rd.ok || !rd.out.startsWith(what)) fail(`${what} down: ready says ${JSON.stringify(rd)}`);
    checks++;
  }
  // The other server's fields still answer.
  const r = gql(q, { user: 'lea', redis: deadRedis });
  eq(r.data.userProfile.exp, byUser.get('lea').exp, 'Postgres fields with Redis down');
  // A database of an older schema is not ready.
  psql('DELETE FROM schema_migrations WHERE version >= 2');
  const old = gql(null, { ready: true });
  if (old.ok || !/version 1/.test(old.out)) fail(`old schema: ${JSON.stringify(old)}`);
  checks++;
}

// redeemReward with a Kafka log: the event is in the topic, keyed and
// encoded so that a replay of the topic folds it.
function kafka() {
  const log = `kafka://${env.GAMIFY_TEST_KAFKA}/gamify-api-test-${process.pid}-${Date.now()}`;
  const m = 'mutation { redeemReward(rewardId: "dark-theme", idempotencyKey: "k1") { status redemption { id } } }';
  const r = data(gql(m, { user: 'kfk', log, waitMs: 300 }), 'kafka redeem').redeemReward;
  eq(r.status, 'PENDING', 'no processor reads this topic');
  const state = `${env.GM_TMP}/kstate`;
  // gamify replay does not read Kafka yet: a processor on the topic does.
  const proc = spawn(env.GM_PROC, ['--log', log, '--state', state, '--rules', env.GM_RULES,
    '--group', `g-${process.pid}`], { stdio: ['ignore', 'ignore', openSync(`${env.GM_TMP}/kproc.err`, 'w')] });
  let d = null;
  for (let i = 0; i < 300 && !(d && d.redemptions.length); i++) {
    execFileSync('sleep', ['0.1']);
    try {
      d = JSON.parse(execFileSync(env.GM_GAMIFY, ['dump', '--state', state, '--user', 'kfk'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    } catch (e) { d = null; }
  }
  proc.kill('SIGKILL');
  if (!d) fail('the processor did not fold the topic: ' + readFileSync(`${env.GM_TMP}/kproc.err`, 'utf8').slice(-500));
  eq(d.redemptions, [{ redemptionId: r.redemption.id, rewardId: 'dark-theme', status: 'REJECTED', reason: 'INSUFFICIENT_COINS' }], 'the redemption folded from the topic');
}

// The queries and the boards as above, through gamify-api over HTTP; then
// redeemReward over HTTP: COMPLETED, and the same redemption for the same
// key; a token is required.
function http() {
  if (!env.GM_API_URL) fail('GM_API_URL is not set');
  queries();
  boards();
  reads();
  const m = `mutation($r: ID!, $k: String) { redeemReward(rewardId: $r, idempotencyKey: $k) { status reason redemption { id rewardId status } } }`;
  const before = data(gql('{ userProfile { coins } }', { user: 'buyer' }), 'buyer').userProfile.coins;
  const a = data(gql(m, { user: 'buyer', vars: { r: 'dark-theme', k: 'http-1' } }), 'redeem').redeemReward;
  eq([a.status, a.reason, a.redemption.rewardId, a.redemption.status], ['COMPLETED', null, 'dark-theme', 'COMPLETED'], 'redeemReward over HTTP');
  const b = data(gql(m, { user: 'buyer', vars: { r: 'dark-theme', k: 'http-1' } }), 'redeem again').redeemReward;
  eq(b, a, 'the same idempotencyKey over HTTP: the same redemption');
  const after = data(gql('{ userProfile { coins } }', { user: 'buyer' }), 'buyer').userProfile.coins;
  eq(after, before - 40, 'coins deducted once');
  // Another student cannot read the buyer's coins; no token, no answer.
  eq(data(gql('{ userProfile(userId: "buyer") { coins } }', { user: 'lea' }), 'other').userProfile.coins, null, "another student reads buyer's coins");
  const out = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Content-Type: application/json',
    '--data-binary', '{"query":"{ userProfile { coins } }"}', env.GM_API_URL + '/graphql'], { encoding: 'utf8' });
  eq(out, '401', 'no token');
  historyOverGet();
  pageCache();
}

// History newest first over GET (the order as a literal, and as a variable
// in the query string), the same pages as over POST, the cursor of one
// order followed in the other.
function historyOverGet() {
  const l = dump.reduce((a, b) => (b.redemptions.length > a.redemptions.length ? b : a));
  const get = (query, vars) => {
    const u = new URL(env.GM_API_URL + '/graphql');
    u.searchParams.set('query', query);
    if (vars) u.searchParams.set('variables', JSON.stringify(vars));
    const out = execFileSync('curl', ['-sS', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${token(l.userId, 'student')}`, u.href], { encoding: 'utf8' });
    const nl = out.lastIndexOf('\n');
    if (out.slice(nl + 1) !== '200') fail(`GET ${query.slice(0, 60)}: HTTP ${out.slice(nl + 1)}: ${out.slice(0, nl)}`);
    return JSON.parse(out.slice(0, nl));
  };
  const lit = '{ ledger(first: 3, order: NEWEST_FIRST) { entries { eventId expAfter } pageInfo { endCursor hasNextPage } } redemptions(first: 1, order: NEWEST_FIRST) { entries { id } pageInfo { endCursor hasNextPage } } }';
  const g = data(get(lit), 'history over GET');
  eq(g, data(gql(lit, { user: l.userId }), 'history over POST'), 'history newest first: GET as POST');
  const all = walkList('ledger', 'eventId expAfter', null, l.userId, 'student', 100).all;
  eq(g.ledger.entries, all.slice(-3).reverse(), 'ledger newest first over GET: the 3 newest');
  const rall = walkList('redemptions', 'id', null, l.userId, 'student', 100).all;
  eq(g.redemptions.entries, rall.slice(-1), 'redemptions newest first over GET: the newest');
  const q = 'query($a: String, $o: HistoryOrder) { ledger(first: 100, after: $a, order: $o) { entries { eventId expAfter } pageInfo { hasNextPage } } }';
  eq(data(get(q, { a: g.ledger.pageInfo.endCursor, o: 'OLDEST_FIRST' }), 'ledger after, GET').ledger,
    { entries: all.slice(-2), pageInfo: { hasNextPage: false } }, 'ledger oldest first over GET after the 3rd newest: the 2 newest');
  eq(data(get(q, { a: g.ledger.pageInfo.endCursor, o: 'NEWEST_FIRST' }), 'ledger after, GET').ledger.entries,
    all.slice(0, -3).reverse().slice(0, 100), 'ledger newest first over GET after the 3rd newest: the rest');
  console.log(`history order over GET: ${l.userId} (${all.length} ledger entries, ${rall.length} redemptions)`);
}

// The second API (GM_API_URL2): leaderboard pages cached for a minute, no
// board mirror, leaderboard limited to 5 a minute. A score written to Redis
// without a message stays hidden behind the cached page; the projector's
// leaderboard-changed message shows it at once. The first API answers from
// its board mirror. The rate-limit check carried by the leaderboard's script
// call refuses the 6th query.
function pageCache() {
  const u = new URL(env.GM_REDIS);
  const rcli = (...a) => execFileSync('redis-cli', ['-h', u.hostname, '-p', u.port || '6379', ...a], { encoding: 'utf8' }).trim();
  const key = `${env.GM_PREFIX}lb:global:all`;
  const q = '{ leaderboard(first: 3) { entries { userId score } } }';
  const top = (url, user) => data(curl(q, user, 'staff', null, ['200'], url), 'page').leaderboard.entries[0];
  const before = top(env.GM_API_URL2, 'cache-a');
  const best = Number(rcli('ZREVRANGE', key, '0', '0', 'WITHSCORES').split('\n')[1]);
  // Sorted-set scores carry the reach time below 2^24 (docs/operations.md):
  // a step of whole points is a multiple of 2^24.
  const points = (n) => String(best + n * 16777216);
  rcli('ZADD', key, points(1000), 'cache-probe');
  eq(top(env.GM_API_URL2, 'cache-b'), before, 'a cached page hides a score written without a message');
  rcli('PUBLISH', `${env.GM_PREFIX}leaderboard-changed`, '{"changed":[{"board":"other","period":"all"}]}');
  execFileSync('sleep', ['0.3']);
  eq(top(env.GM_API_URL2, 'cache-c'), before, "another board's message keeps the page");
  rcli('PUBLISH', `${env.GM_PREFIX}leaderboard-changed`, '{"changed":[{"board":"global","period":"all"}]}');
  let got;
  for (let i = 0; i < 50; i++) {
    got = top(env.GM_API_URL2, `cache-d${i}`);
    if (got.userId === 'cache-probe') break;
    execFileSync('sleep', ['0.05']);
  }
  eq(got.userId, 'cache-probe', 'the page after a leaderboard-changed message');
  // The first API holds the board in its mirror (docs/api.md "Board mirror"):
  // a score comes with the projector's leaderboard-scores message and shows
  // at once; a member written without one shows after the size check
  // (--mirror-check-ms, 1 s here: two checks at most).
  const metric = (name) => {
    const m = curlMetrics(env.GM_API_URL).split('\n').find((l) => l.startsWith(name + ' '));
    return m ? Number(m.split(' ')[1]) : 0;
  };
  const hits0 = metric('gamify_api_mirror_requests_total{result="hit"}');
  const until = (user, want, what, tries) => {
    let t;
    for (let i = 0; i < tries; i++) {
      t = top(env.GM_API_URL, `${user}${i}`);
      if (t.userId === want.userId && (want.score === undefined || t.score === want.score)) return t;
      execFileSync('sleep', ['0.05']);
    }
    fail(`${what}: the top entry is ${JSON.stringify(t)}, not ${JSON.stringify(want)}`);
  };
  top(env.GM_API_URL, 'mirror-a');
  const msg = (member, score) => `Sk${Buffer.byteLength(key)}:${key}m${Buffer.byteLength(member)}:${member}${score};`;
  rcli('ZADD', key, points(2000), 'cache-probe');
  rcli('PUBLISH', `${env.GM_PREFIX}leaderboard-scores`, msg('cache-probe', points(2000)));
  const viaMessage = until('mirror-b', { userId: 'cache-probe' }, 'a score with its message', 40);
  if (viaMessage.score === got.score) fail('the mirror shows the old score after the message');
  checks++;
  rcli('ZADD', key, points(3000), 'mirror-probe');
  until('mirror-c', { userId: 'mirror-probe' }, 'a member written without a message', 100);
  if (metric('gamify_api_mirror_requests_total{result="hit"}') <= hits0) fail('no leaderboard request was answered by the mirror');
  if (metric('gamify_api_mirror_drift_total') < 1) fail('the size check counted no drift');
  checks++;
  rcli('ZREM', key, 'cache-probe', 'mirror-probe');
  rcli('PUBLISH', `${env.GM_PREFIX}leaderboard-changed`, '{"rebuilt":true}');
  rcli('PUBLISH', `${env.GM_PREFIX}leaderboard-scores`, 'SR');
  // The carried limit: 5 leaderboard queries a minute, the 6th refused (429, no data).
  for (let i = 1; i <= 5; i++) data(curl(q, 'rl-probe', 'student', null, ['200'], env.GM_API_URL2), `leaderboard ${i} of 5`);
  const r = curl(q, 'rl-probe', 'student', null, ['429'], env.GM_API_URL2);
  eq([r.data, r.errors[0].extensions.code], [undefined, 'RATE_LIMITED'], 'the 6th leaderboard query in a minute');
  // Another learner still has its own allowance; userProfile is not limited by leaderboard's.
  data(curl(q, 'rl-other', 'student', null, ['200'], env.GM_API_URL2), 'another learner');
  data(curl('{ userProfile { userId } }', 'rl-probe', 'student', null, ['200'], env.GM_API_URL2), 'userProfile of the limited learner');
}

const which = process.argv[2];
({ queries, boards, reads, redeem, down, kafka, http })[which]();
console.log(`ok: ${which}: ${checks} checks`);
