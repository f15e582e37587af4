/*
 * pgproj.c: the Postgres projector: one batch of changes of the feed, one
 * Postgres transaction with the cursor in it.
 *
 * A step locks the partition's cursor row (so two projectors of the same
 * partition take turns), opens a feed snapshot, collects up to max changes
 * from the cursor, copies (COPY FROM STDIN, text format) the batch's rows
 * into temporary staging tables of the session, then sends in one
 * pipeline: each touched learner's current row, once per batch however
 * many of its changes the batch holds (guarded by updated_seq, so it never
 * goes back), the badges earned in the batch, each redemption (inserted
 * once; its NOTIFY only when inserted), stock used, catalogues when the
 * rules changed, the cursor and COMMIT. The staging tables empty at commit
 * (ON COMMIT DELETE ROWS); the inserts from them keep the guards, so COPY
 * changes nothing of exactly-once. The rows written are the snapshot's,
 * which may be ahead of the batch: a later batch rewrites the same values,
 * and a replay of an older one changes nothing.
 *
 * The ledger, most of the rows, is copied straight into its table. Its
 * rows are keyed (partition, seq), seq being the ledger's own numbering of
 * entries in log order, and under the cursor's lock no entry of a change at
 * or past the cursor can be there unless the cursor was moved back (a lost
 * or reset cursor, a restored backup). Should one be, the COPY fails on the
 * primary key, the transaction rolls back, and the batches holding entries
 * up to the partition's highest ledger seq go through a staging table and
 * an insert that skips the rows already there (ON CONFLICT (partition,
 * seq) DO NOTHING): the guard costs a failed COPY and a query once, not a
 * temporary table's write and read and an index probe per row every batch
 * (BENCHMARKS.md, pgcopy).
 *
 * Round trips per batch: BEGIN with the cursor's lock, one COPY per table
 * with rows, the pipeline. COPY instead of array parameters: Postgres
 * spent about three times as long parsing and unnesting array literals as
 * inserting the rows (BENCHMARKS.md, projcost).
 */
#include "pgproj.h"

#include "feed.h"
#include "feedshare.h"
#include "fold.h"
#include "log.h"
#include "migrations.h"
#include "timefmt.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Statements queued in the pipeline before their results are read, so the
 * server never blocks on a full socket while we block sending. */
#define PIPELINE_DRAIN 512

/* The ledger's columns in the order add_ledger writes them. */
#define LEDGER_COLUMNS                                                                             \
    "partition, seq, user_id, event_id, kind, detail, exp_delta, coins_delta, exp_after, "         \
    "coins_after, capped_exp, occurred_at"

enum stmt {
    S_LEARNER,
    S_BADGE,
    S_REDEMPTION,
    S_LEDGER,
    S_STOCK,
    S_BADGE_DEF,
    S_REWARD_DEF,
    S_RULES,
    S_RULES_CURRENT,
    S_CURSOR,
    S_COUNT,
};

/* clang-format off */
static const struct {
    const char *name;
    int nparams;
    const char *sql;
} stmts[S_COUNT] = {
    [S_LEARNER] = {"gm_learner", 1,
        "INSERT INTO learners (user_id, partition, exp, level, coins, coins_earned, coins_spent, "
        "lessons_completed, lesson_completions, tournaments_played, tournament_wins, "
        "tournament_losses, current_streak, longest_streak, freezes_held, redemptions, timezone, "
        "opt_out, updated_seq) "
        "SELECT user_id, $1::int, exp, level, coins, coins_earned, coins_spent, "
        "lessons_completed, lesson_completions, tournaments_played, tournament_wins, "
        "tournament_losses, current_streak, longest_streak, freezes_held, redemptions, timezone, "
        "opt_out, updated_seq FROM gm_stage_learner "
        "ON CONFLICT (user_id) DO UPDATE SET partition = EXCLUDED.partition, exp = EXCLUDED.exp, "
        "level = EXCLUDED.level, coins = EXCLUDED.coins, coins_earned = EXCLUDED.coins_earned, "
        "coins_spent = EXCLUDED.coins_spent, lessons_completed = EXCLUDED.lessons_completed, "
        "lesson_completions = EXCLUDED.lesson_completions, "
        "tournaments_played = EXCLUDED.tournaments_played, "
        "tournament_wins = EXCLUDED.tournament_wins, "
        "tournament_losses = EXCLUDED.tournament_losses, "
        "current_streak = EXCLUDED.current_streak, longest_streak = EXCLUDED.longest_streak, "
        "freezes_held = EXCLUDED.freezes_held, redemptions = EXCLUDED.redemptions, "
        "timezone = EXCLUDED.timezone, opt_out = EXCLUDED.opt_out, "
        "updated_seq = EXCLUDED.updated_seq, updated_at = now() "
        "WHERE learners.updated_seq < EXCLUDED.updated_seq"},
    [S_BADGE] = {"gm_badge", 0,
        "INSERT INTO learner_badges (user_id, badge_id, position, earned_at) "
        "SELECT user_id, badge_id, position, to_timestamp(earned_at) FROM gm_stage_badge "
        "ON CONFLICT DO NOTHING"},
    [S_REDEMPTION] = {"gm_redemption", 10,
        "WITH ins AS (INSERT INTO redemptions (redemption_id, user_id, reward_id, status, reason, "
        "cost, event_id, occurred_at, partition, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, "
        "to_timestamp($8::bigint), $9, $10) ON CONFLICT DO NOTHING "
        "RETURNING redemption_id, user_id, status, reason) "
        "SELECT pg_notify('gamify_redemption', json_build_object('redemptionId', redemption_id, "
        "'userId', user_id, 'status', status, 'reason', reason)::text) FROM ins"},
    [S_LEDGER] = {"gm_ledger", 0,
        "INSERT INTO ledger (" LEDGER_COLUMNS ") SELECT " LEDGER_COLUMNS " FROM gm_stage_ledger "
        "ON CONFLICT (partition, seq) DO NOTHING"},
    [S_STOCK] = {"gm_stock", 4,
        "INSERT INTO reward_stock_used (partition, reward_id, used, as_of_seq) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (partition, reward_id) DO UPDATE "
        "SET used = EXCLUDED.used, as_of_seq = EXCLUDED.as_of_seq "
        "WHERE reward_stock_used.as_of_seq <= EXCLUDED.as_of_seq"},
    [S_BADGE_DEF] = {"gm_badge_def", 5,
        "INSERT INTO badges (id, name, icon, criteria, position, active) "
        "VALUES ($1, $2, $3, $4, $5, true) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
        "icon = EXCLUDED.icon, criteria = EXCLUDED.criteria, position = EXCLUDED.position, "
        "active = true, updated_at = now()"},
    [S_REWARD_DEF] = {"gm_reward_def", 8,
        "INSERT INTO rewards (id, name, type, cost, stock, per_user_limit, active, position) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET "
        "name = EXCLUDED.name, type = EXCLUDED.type, cost = EXCLUDED.cost, "
        "stock = EXCLUDED.stock, per_user_limit = EXCLUDED.per_user_limit, "
        "active = EXCLUDED.active, position = EXCLUDED.position, updated_at = now()"},
    [S_RULES] = {"gm_rules", 5,
        "INSERT INTO rules_versions (sha256, version, timezone, partition, seen_seq) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING"},
    [S_RULES_CURRENT] = {"gm_rules_current", 4,
        "INSERT INTO rules_current (id, version, sha256, timezone, thresholds) "
        "VALUES (true, $1, $2, $3, $4::bigint[]) ON CONFLICT (id) DO UPDATE SET "
        "version = EXCLUDED.version, sha256 = EXCLUDED.sha256, timezone = EXCLUDED.timezone, "
        "thresholds = EXCLUDED.thresholds, updated_at = now() "
        "WHERE rules_current.version <= EXCLUDED.version"},
    [S_CURSOR] = {"gm_cursor", 3,
        "UPDATE projector_cursor SET next_seq = $2, rules_sha256 = $3, updated_at = now() "
        "WHERE partition = $1"},
};

/* The session's staging tables: a batch's rows arrive in them by COPY and
 * leave them at its commit. The columns are those add_learner, add_badge
 * and add_ledger write, in their order; the ledger's is used only while
 * the guard is on (the head of this file). */
static const char staging_sql[] =
    "CREATE TEMPORARY TABLE IF NOT EXISTS gm_stage_learner (user_id text, exp bigint, "
    "level bigint, coins bigint, coins_earned bigint, coins_spent bigint, "
    "lessons_completed bigint, lesson_completions bigint, tournaments_played bigint, "
    "tournament_wins bigint, tournament_losses bigint, current_streak bigint, "
    "longest_streak bigint, freezes_held bigint, redemptions bigint, timezone text, "
    "opt_out boolean, updated_seq bigint) ON COMMIT DELETE ROWS; "
    "CREATE TEMPORARY TABLE IF NOT EXISTS gm_stage_badge (user_id text, badge_id text, "
    "position int, earned_at bigint) ON COMMIT DELETE ROWS; "
    "CREATE TEMPORARY TABLE IF NOT EXISTS gm_stage_ledger (partition int, seq bigint, "
    "user_id text, event_id text, kind text, detail text, exp_delta bigint, "
    "coins_delta bigint, exp_after bigint, coins_after bigint, capped_exp bigint, "
    "occurred_at timestamptz) ON COMMIT DELETE ROWS";
/* clang-format on */

struct gm_pgproj {
    char *conninfo;
    int partition;
    char partition_s[16];
    PGconn *conn;
    bool synced; /* catalogues written since this instance connected */
    char synced_sha[65];
    bool fault_before_commit;
    int64_t cursor;
    struct gm_feed_rules_cache rules; /* the rules of the last step */
    struct gm_feedshare *share;       /* borrowed; NULL: none */
    size_t pending;                   /* statements sent since the last drain */
    int failed;                       /* first error of the pipeline (GM_EDB), 0 while fine */
    /* batches with ledger entries below this ledger seq go through the
     * staging table with the guard (the head of this file); 0 until a COPY
     * met a row */
    int64_t guarded_until;
    size_t guarded_steps; /* steps that went through the guard */
};

/* What a batch needs from its changes, copied out of the feed callback
 * (the feed's strings are borrowed for the callback only). */
struct touched {
    char *user_id;
    int64_t seq; /* the last change of this user in the batch */
};

/* A badge a change of the batch awarded (its badge.earned event). */
struct earned {
    char *user_id, *badge_id;
};

struct redemption {
    char *redemption_id, *user_id, *reward_id, *event_id;
    bool completed;
    int reason;
    int64_t cost, seq, occurred_at;
};

struct batch {
    struct touched *users;
    size_t n_users, cap_users;
    struct redemption *reds;
    size_t n_reds, cap_reds;
    int64_t (*ledger)[2]; /* first, count */
    size_t n_ledger, cap_ledger;
    struct earned *earned; /* sorted by user id before use */
    size_t n_earned, cap_earned;
    size_t n_changes;
};

static void *
grow(void *arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return arr;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *p = realloc(arr, n * size);
    if (!p)
        abort();
    *cap = n;
    return p;
}

static char *
dup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static void
batch_deinit(struct batch *b)
{
    for (size_t i = 0; i < b->n_users; i++)
        free(b->users[i].user_id);
    for (size_t i = 0; i < b->n_reds; i++) {
        free(b->reds[i].redemption_id);
        free(b->reds[i].user_id);
        free(b->reds[i].reward_id);
        free(b->reds[i].event_id);
    }
    for (size_t i = 0; i < b->n_earned; i++) {
        free(b->earned[i].user_id);
        free(b->earned[i].badge_id);
    }
    free(b->users);
    free(b->reds);
    free(b->ledger);
    free(b->earned);
    memset(b, 0, sizeof *b);
}

static int
collect(void *ctx, const struct gm_change *ch)
{
    struct batch *b = ctx;
    b->n_changes++;
    if (!ch->user_id)
        return 0; /* pruned periods: nothing of them is in Postgres */
    b->users = grow(b->users, &b->cap_users, b->n_users + 1, sizeof *b->users);
    b->users[b->n_users++] = (struct touched){dup(ch->user_id), ch->seq};
    if (ch->redemption) {
        const struct gm_feed_redemption *r = ch->redemption;
        b->reds = grow(b->reds, &b->cap_reds, b->n_reds + 1, sizeof *b->reds);
        b->reds[b->n_reds++] = (struct redemption){
            dup(r->redemption_id), dup(ch->user_id), dup(r->reward_id), dup(r->event_id),
            r->completed,          r->reason,        r->cost,           ch->seq,
            r->occurred_at};
    }
    for (size_t i = 0; i < ch->n_outbound; i++) {
        const Gamification__V1__OutboundEvent *o = ch->outbound[i];
        if (o->body_case != GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED)
            continue;
        b->earned = grow(b->earned, &b->cap_earned, b->n_earned + 1, sizeof *b->earned);
        b->earned[b->n_earned++] =
            (struct earned){dup(ch->user_id), dup(o->badge_earned->badge_id)};
    }
    if (ch->ledger_count > 0) {
        b->ledger = grow(b->ledger, &b->cap_ledger, b->n_ledger + 1, sizeof *b->ledger);
        b->ledger[b->n_ledger][0] = ch->ledger_first;
        b->ledger[b->n_ledger][1] = ch->ledger_count;
        b->n_ledger++;
    }
    return 0;
}

/* By user id, then the latest change first, so that unique keeps it. */
static int
cmp_touched(const void *a, const void *b)
{
    const struct touched *x = a, *y = b;
    int c = strcmp(x->user_id, y->user_id);
    if (c)
        return c;
    return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

static int
cmp_earned(const void *a, const void *b)
{
    const struct earned *x = a, *y = b;
    return strcmp(x->user_id, y->user_id);
}

static void
unique_users(struct batch *b)
{
    if (b->n_earned > 1)
        qsort(b->earned, b->n_earned, sizeof *b->earned, cmp_earned);
    if (!b->n_users)
        return;
    qsort(b->users, b->n_users, sizeof *b->users, cmp_touched);
    size_t w = 1;
    for (size_t i = 1; i < b->n_users; i++) {
        if (strcmp(b->users[i].user_id, b->users[w - 1].user_id) == 0)
            free(b->users[i].user_id);
        else
            b->users[w++] = b->users[i];
    }
    b->n_users = w;
}

static void
drop_conn(struct gm_pgproj *p)
{
    PQfinish(p->conn);
    p->conn = NULL;
    p->synced = false;
    p->cursor = -1;
}

static int
pg_fail(struct gm_pgproj *p, struct gm_err *err, const char *what)
{
    gm_err_set(err, GM_EDB, "postgres: %s: %s", what,
               p->conn ? PQerrorMessage(p->conn) : "no connection");
    drop_conn(p);
    return GM_EDB;
}

/* Connects, checks the schema version, prepares the statements. */
static int
connect_pg(struct gm_pgproj *p, struct gm_err *err)
{
    p->conn = PQconnectdb(p->conninfo);
    if (PQstatus(p->conn) != CONNECTION_OK)
        return pg_fail(p, err, "connect");
    PGresult *res = PQexec(p->conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        bool missing = state && strcmp(state, "42P01") == 0; /* undefined_table */
        PQclear(res);
        if (missing) {
            drop_conn(p);
            return gm_err_set(err, GM_EUNSUPPORTED,
                              "postgres: the database has no gamify schema: run gamify migrate");
        }
        return pg_fail(p, err, "reading schema_migrations");
    }
    int have = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (have != gm_pgproj_schema_version()) {
        drop_conn(p);
        return gm_err_set(err, GM_EUNSUPPORTED,
                          "postgres: the database schema is at version %d, this program needs "
                          "%d: %s",
                          have, gm_pgproj_schema_version(),
                          have < gm_pgproj_schema_version() ? "run gamify migrate"
                                                            : "use a newer gamify");
    }
    res = PQexec(p->conn, staging_sql);
    ExecStatusType staged = PQresultStatus(res);
    PQclear(res);
    if (staged != PGRES_COMMAND_OK)
        return pg_fail(p, err, "creating the staging tables");
    for (int i = 0; i < S_COUNT; i++) {
        res = PQprepare(p->conn, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
        ExecStatusType s = PQresultStatus(res);
        PQclear(res);
        if (s != PGRES_COMMAND_OK)
            return pg_fail(p, err, stmts[i].name);
    }
    const char *params[1] = {p->partition_s};
    res = PQexecParams(p->conn,
                       "INSERT INTO projector_cursor (partition, next_seq) VALUES ($1, 0) "
                       "ON CONFLICT DO NOTHING",
                       1, NULL, params, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(res);
    PQclear(res);
    if (s != PGRES_COMMAND_OK)
        return pg_fail(p, err, "creating the cursor");
    return 0;
}

/* Reads the results of everything sent since the last drain, up to a sync. */
static int
drain(struct gm_pgproj *p, struct gm_err *err)
{
    if (PQpipelineSync(p->conn) != 1)
        return pg_fail(p, err, "pipeline sync");
    size_t nulls = 0;
    for (;;) {
        PGresult *res = PQgetResult(p->conn);
        if (!res) {
            /* one NULL ends each statement's results; more means trouble */
            if (++nulls > p->pending + 1 || PQstatus(p->conn) != CONNECTION_OK)
                return pg_fail(p, err, "pipeline results");
            continue;
        }
        ExecStatusType s = PQresultStatus(res);
        if (s == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && !p->failed) {
            p->failed = GM_EDB;
            gm_err_set(err, GM_EDB, "postgres: %s",
                       s == PGRES_PIPELINE_ABORTED ? "pipeline aborted"
                                                   : PQresultErrorMessage(res));
        }
        PQclear(res);
    }
    p->pending = 0;
    if (p->failed) {
        drop_conn(p);
        return GM_EDB;
    }
    return 0;
}

/* Queues one prepared statement; params are copied by libpq. */
static int
queue(struct gm_pgproj *p, enum stmt s, const char *const *params, struct gm_err *err)
{
    if (!PQsendQueryPrepared(p->conn, stmts[s].name, stmts[s].nparams, params, NULL, NULL, 0))
        return pg_fail(p, err, stmts[s].name);
    if (++p->pending >= PIPELINE_DRAIN)
        return drain(p, err);
    return 0;
}

#define I64(buf, v) (snprintf((buf), sizeof(buf), "%" PRId64, (int64_t)(v)), (buf))

/*
 * The rows of a batch in COPY's text format: columns separated by tabs,
 * rows ended by newlines, backslash, tab, newline and carriage return
 * escaped. One buffer per staging table.
 */
struct copybuf {
    char *buf;
    size_t len, cap;
    size_t rows;
};

static void
cb_put(struct copybuf *c, const char *s, size_t n)
{
    c->buf = grow(c->buf, &c->cap, c->len + n + 1, 1);
    memcpy(c->buf + c->len, s, n);
    c->len += n;
}

static void
cb_text(struct copybuf *c, const char *s, char end)
{
    s = s ? s : "";
    size_t n = strlen(s);
    c->buf = grow(c->buf, &c->cap, c->len + 2 * n + 2, 1);
    char *w = c->buf + c->len;
    for (; *s; s++) {
        char e = *s == '\\' ? '\\' : *s == '\t' ? 't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : 0;
        if (e) {
            *w++ = '\\';
            *w++ = e;
        } else {
            *w++ = *s;
        }
    }
    *w++ = end;
    c->len = (size_t)(w - c->buf);
}

/* A number and then end (a tab, or a newline after the last column). */
static void
cb_i64(struct copybuf *c, int64_t v, char end)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    c->buf = grow(c->buf, &c->cap, c->len + n + 3, 1);
    if (v < 0)
        c->buf[c->len++] = '-';
    while (n)
        c->buf[c->len++] = tmp[--n];
    c->buf[c->len++] = end;
}

struct rows {
    struct copybuf learner, badge, ledger;
};

static void
rows_deinit(struct rows *r)
{
    free(r->learner.buf);
    free(r->badge.buf);
    free(r->ledger.buf);
}

/* COPY table FROM STDIN of c's rows (none: nothing); outside the pipeline.
 * conflict (may be NULL): set when the COPY failed on a unique key; then
 * the connection is kept, its transaction failed (to roll back). */
static int
copy_in(struct gm_pgproj *p, const char *table, const struct copybuf *c, bool *conflict,
        struct gm_err *err)
{
    if (!c->rows)
        return 0;
    char sql[256];
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", table);
    PGresult *res = PQexec(p->conn, sql);
    ExecStatusType s = PQresultStatus(res);
    PQclear(res);
    if (s != PGRES_COPY_IN)
        return pg_fail(p, err, sql);
    if (PQputCopyData(p->conn, c->buf, (int)c->len) != 1 || PQputCopyEnd(p->conn, NULL) != 1)
        return pg_fail(p, err, sql);
    int rc = 0;
    bool unique = false;
    while ((res = PQgetResult(p->conn))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && !rc) {
            rc = gm_err_set(err, GM_EDB, "postgres: %s: %s", sql, PQresultErrorMessage(res));
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            unique = state && strcmp(state, "23505") == 0; /* unique_violation */
        }
        PQclear(res);
    }
    if (rc && unique && conflict && PQstatus(p->conn) == CONNECTION_OK)
        *conflict = true;
    else if (rc)
        drop_conn(p);
    return rc;
}

/* The learner's row, and those of its badges that the batch awarded
 * (earned[0..n_earned): this learner's, any order). */
static void
add_learner(struct rows *r, const struct gm_learner *l, int64_t seq, const struct earned *earned,
            size_t n_earned)
{
    struct copybuf *c = &r->learner;
    int64_t v[] = {l->exp,
                   l->level,
                   l->coins,
                   l->coins_earned,
                   l->coins_spent,
                   l->lessons_completed,
                   l->lesson_completions,
                   l->tournaments_played,
                   l->tournament_wins,
                   l->tournament_losses,
                   l->current_streak,
                   l->longest_streak,
                   l->freezes_held,
                   l->redemptions};
    cb_text(c, l->user_id, '\t');
    for (size_t i = 0; i < 14; i++)
        cb_i64(c, v[i], '\t');
    cb_text(c, l->timezone, '\t');
    cb_put(c, l->opt_out ? "t\t" : "f\t", 2);
    cb_i64(c, seq, '\n');
    c->rows++;
    for (size_t i = 0; i < l->n_badges; i++) {
        bool now = false;
        for (size_t k = 0; k < n_earned && !now; k++)
            now = strcmp(earned[k].badge_id, l->badges[i].id) == 0;
        if (!now)
            continue; /* earned before this batch: written by the batch that awarded it */
        cb_text(&r->badge, l->user_id, '\t');
        cb_text(&r->badge, l->badges[i].id, '\t');
        cb_i64(&r->badge, (int64_t)i, '\t');
        cb_i64(&r->badge, l->badges[i].earned_at, '\n');
        r->badge.rows++;
    }
}

static int
send_redemption(struct gm_pgproj *p, const struct redemption *r, struct gm_err *err)
{
    char cost[24], at[24], seq[24];
    const char *params[10] = {
        r->redemption_id,
        r->user_id,
        r->reward_id,
        r->completed ? "COMPLETED" : "REJECTED",
        r->completed ? NULL : gm_fold_reason_name(r->reason),
        I64(cost, r->cost),
        r->event_id,
        I64(at, r->occurred_at),
        p->partition_s,
        I64(seq, r->seq),
    };
    return queue(p, S_REDEMPTION, params, err);
}

struct ledger_rows {
    struct copybuf *c;
    const char *partition;
};

static int
add_ledger(void *ctx, const struct gm_ledger_entry *e)
{
    struct ledger_rows *lr = ctx;
    struct copybuf *c = lr->c;
    char at[GM_RFC3339_MAX];
    /* events are validated to years 2000-2199 (proto/codec.c) */
    if (gm_time_format_rfc3339(e->occurred_at, 0, at))
        return GM_EINVAL;
    cb_text(c, lr->partition, '\t');
    cb_i64(c, e->seq, '\t');
    cb_text(c, e->user_id, '\t');
    cb_text(c, e->event_id, '\t');
    cb_text(c, e->kind, '\t');
    cb_text(c, e->detail, '\t');
    cb_i64(c, e->exp_delta, '\t');
    cb_i64(c, e->coins_delta, '\t');
    cb_i64(c, e->exp_after, '\t');
    cb_i64(c, e->coins_after, '\t');
    cb_i64(c, e->capped_exp, '\t');
    cb_text(c, at, '\n');
    c->rows++;
    return 0;
}

static void
hex(const unsigned char sha[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", sha[i]);
}

/* The rules in force as the API reads them: thresholds and time zone. */
static int
send_rules_current(struct gm_pgproj *p, const struct gm_rules *r, const char *sha,
                   struct gm_err *err)
{
    /* "{0,100,...}": at most GM_RULES_MAX_LEVELS numbers of 16 digits. */
    size_t cap = 3 + r->n_levels * 21, len = 0;
    char *arr = malloc(cap);
    if (!arr)
        abort();
    arr[len++] = '{';
    for (size_t i = 0; i < r->n_levels; i++)
        len += (size_t)snprintf(arr + len, cap - len, "%s%" PRId64, i ? "," : "", r->thresholds[i]);
    arr[len++] = '}';
    arr[len] = '\0';
    char version[24];
    const char *params[4] = {I64(version, r->version), sha, r->timezone ? r->timezone : "UTC", arr};
    int rc = queue(p, S_RULES_CURRENT, params, err);
    free(arr);
    return rc;
}

/* The badge and reward catalogues and the rules version. */
static int
send_catalogues(struct gm_pgproj *p, const struct gm_rules *r, const char *sha, int64_t end,
                struct gm_err *err)
{
    int rc;
    char version[24], seq[24];
    const char *rp[5] = {sha, I64(version, r->version), r->timezone ? r->timezone : "",
                         p->partition_s, I64(seq, end)};
    if ((rc = queue(p, S_RULES, rp, err)))
        return rc;
    if ((rc = send_rules_current(p, r, sha, err)))
        return rc;
    /* Dropped from the rules: kept (learners hold them), inactive. Plain
     * statements in a pipeline must use the extended protocol too. */
    if (!PQsendQueryParams(p->conn, "UPDATE badges SET active = false WHERE active", 0, NULL, NULL,
                           NULL, NULL, 0) ||
        !PQsendQueryParams(p->conn, "UPDATE rewards SET active = false WHERE active", 0, NULL, NULL,
                           NULL, NULL, 0))
        return pg_fail(p, err, "catalogue");
    p->pending += 2;
    for (size_t i = 0; i < r->n_badges; i++) {
        const struct gm_badge_def *b = &r->badges[i];
        char pos[24];
        const char *bp[5] = {b->id, b->name, b->icon ? b->icon : "",
                             b->criteria ? gm_expr_source(b->criteria) : "", I64(pos, i)};
        if ((rc = queue(p, S_BADGE_DEF, bp, err)))
            return rc;
    }
    for (size_t i = 0; i < r->n_rewards; i++) {
        const struct gm_reward_def *w = &r->rewards[i];
        char cost[24], stock[24], limit[24], pos[24];
        const char *wp[8] = {w->id,
                             w->name,
                             w->type_name ? w->type_name : gm_reward_type_name(w->type),
                             I64(cost, w->cost),
                             w->stock < 0 ? NULL : I64(stock, w->stock),
                             w->per_user_limit < 0 ? NULL : I64(limit, w->per_user_limit),
                             w->active ? "true" : "false",
                             I64(pos, i)};
        if ((rc = queue(p, S_REWARD_DEF, wp, err)))
            return rc;
    }
    return 0;
}

/* This partition's completed redemptions of every reward, as of end. */
static int
send_stock(struct gm_pgproj *p, struct gm_feed *f, const struct gm_rules *r, int64_t end,
           struct gm_err *err)
{
    for (size_t i = 0; i < r->n_rewards; i++) {
        int64_t used = 0;
        int rc = gm_feed_stock_used(f, r->rewards[i].id, &used);
        if (rc)
            return gm_err_set(err, rc, "reading stock of %s: %s", r->rewards[i].id,
                              gm_strerror(rc));
        char u[24], s[24];
        const char *params[4] = {p->partition_s, r->rewards[i].id, I64(u, used), I64(s, end)};
        if ((rc = queue(p, S_STOCK, params, err)))
            return rc;
    }
    return 0;
}

/* BEGIN and lock this partition's cursor: *from and the recorded rules. */
static int
begin_locked(struct gm_pgproj *p, int64_t *from, char sha[65], struct gm_err *err)
{
    /* one round trip: the partition is a number we wrote */
    char sql[160];
    snprintf(sql, sizeof sql,
             "BEGIN; SELECT next_seq, coalesce(rules_sha256, '') FROM projector_cursor "
             "WHERE partition = %d FOR UPDATE",
             p->partition);
    PGresult *res = PQexec(p->conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        PQclear(res);
        return pg_fail(p, err, "reading the cursor");
    }
    *from = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    snprintf(sha, 65, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

/* One batch (gm_pgproj_step); conflict NULL: the ledger through the guard;
 * else *conflict: the ledger's COPY met a row already there (nothing
 * written, the connection kept). */
static int
step_once(struct gm_pgproj *p, struct gm_state *st, size_t max_changes, size_t *n, bool *conflict,
          struct gm_err *err)
{
    struct gm_feed *f = NULL;
    struct batch b = {0};
    struct rows rows = {0};
    int64_t from = 0, next = 0;
    char recorded[65] = "", sha[65] = "";
    bool in_pipeline = false, in_txn = false;
    size_t e = 0; /* the next of b.earned */
    int rc;

    *n = 0;
    if (max_changes == 0)
        max_changes = 1;
    if ((rc = gm_feed_open(st, &f)))
        return gm_err_set(err, rc, "opening the change feed: %s", gm_strerror(rc));
    gm_feed_without_scores(f); /* the read model holds no scores */
    const struct gm_rules *r = gm_feed_rules_cached(f, &p->rules);
    if (r)
        hex(r->sha256, sha);
    /* Nothing new since the last step of this connection: no round trip. */
    if (p->conn && p->synced && p->cursor == gm_feed_end(f) && strcmp(sha, p->synced_sha) == 0)
        goto out;
    if (!p->conn && (rc = connect_pg(p, err)))
        goto out;
    if ((rc = begin_locked(p, &from, recorded, err)))
        goto out;
    in_txn = true;
    p->cursor = from;
    if (from < gm_feed_start(f)) {
        rc = gm_err_set(err, GM_ENOTFOUND,
                        "partition %d: the read model's cursor %" PRId64
                        " is before the oldest change kept (%" PRId64
                        "): rebuild the read model (drop, migrate, project from 0)",
                        p->partition, from, gm_feed_start(f));
        goto out;
    }
    if (from > gm_feed_end(f)) {
        rc = gm_err_set(err, GM_EINVAL,
                        "partition %d: the read model's cursor %" PRId64
                        " is past the end of this state's feed (%" PRId64
                        "): it was built from another state",
                        p->partition, from, gm_feed_end(f));
        goto out;
    }
    if ((rc = gm_feedshare_changes(p->share, f, from, max_changes, collect, &b, &next))) {
        gm_err_set(err, rc, "reading the change feed from %" PRId64 ": %s", from, gm_strerror(rc));
        goto out;
    }
    bool rules_changed = r && (!p->synced || strcmp(sha, recorded) != 0);
    if (b.n_changes == 0 && !rules_changed) {
        p->synced = true;
        memcpy(p->synced_sha, sha, sizeof sha);
        goto out; /* rolled back below: nothing to write */
    }
    unique_users(&b);
    /* every learner asked for below changed at or after from */
    gm_feed_learners_changed_since(f, from);
    for (size_t i = 0; i < b.n_users; i++) {
        struct gm_learner l;
        rc = gm_feed_learner(f, b.users[i].user_id, &l);
        if (rc == GM_ENOTFOUND)
            continue; /* a change of a learner the state does not keep */
        if (rc) {
            gm_err_set(err, rc, "reading learner %s: %s", b.users[i].user_id, gm_strerror(rc));
            goto out;
        }
        /* the badges this learner earned in the batch (both lists are in
         * user id order) */
        while (e < b.n_earned && strcmp(b.earned[e].user_id, b.users[i].user_id) < 0)
            e++;
        size_t e_end = e;
        while (e_end < b.n_earned && strcmp(b.earned[e_end].user_id, b.users[i].user_id) == 0)
            e_end++;
        add_learner(&rows, &l, b.users[i].seq, b.earned + e, e_end - e);
        e = e_end;
    }
    struct ledger_rows lr = {&rows.ledger, p->partition_s};
    for (size_t i = 0; i < b.n_ledger; i++) {
        if ((rc = gm_feed_ledger(f, b.ledger[i][0], b.ledger[i][1], add_ledger, &lr))) {
            gm_err_set(err, rc, "reading the ledger: %s", gm_strerror(rc));
            goto out;
        }
    }
    bool guarded = !conflict;
    for (size_t i = 0; i < b.n_ledger && !guarded; i++)
        guarded = b.ledger[i][0] < p->guarded_until;
    if ((rc = copy_in(p, "gm_stage_learner", &rows.learner, NULL, err)) ||
        (rc = copy_in(p, "gm_stage_badge", &rows.badge, NULL, err)) ||
        (rc = copy_in(p, guarded ? "gm_stage_ledger" : "ledger (" LEDGER_COLUMNS ")", &rows.ledger,
                      guarded ? NULL : conflict, err)))
        goto out;
    if (guarded)
        p->guarded_steps++;

    if (PQenterPipelineMode(p->conn) != 1) {
        rc = pg_fail(p, err, "entering pipeline mode");
        goto out;
    }
    in_pipeline = true;
    p->failed = 0;
    p->pending = 0;
    if (rules_changed && (rc = send_catalogues(p, r, sha, gm_feed_end(f), err)))
        goto out;
    const char *part[1] = {p->partition_s};
    if (rows.learner.rows && (rc = queue(p, S_LEARNER, part, err)))
        goto out;
    if (rows.badge.rows && (rc = queue(p, S_BADGE, NULL, err)))
        goto out;
    for (size_t i = 0; i < b.n_reds; i++)
        if ((rc = send_redemption(p, &b.reds[i], err)))
            goto out;
    if (guarded && rows.ledger.rows && (rc = queue(p, S_LEDGER, NULL, err)))
        goto out;
    if (r && (rules_changed || b.n_reds) && (rc = send_stock(p, f, r, gm_feed_end(f), err)))
        goto out;
    {
        char nx[24];
        const char *params[3] = {p->partition_s, I64(nx, next), r ? sha : NULL};
        if ((rc = queue(p, S_CURSOR, params, err)))
            goto out;
    }
    /* COMMIT in the pipeline: it runs only if nothing before it failed */
    if (!p->fault_before_commit) {
        if (!PQsendQueryParams(p->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0)) {
            rc = pg_fail(p, err, "COMMIT");
            goto out;
        }
        p->pending++;
    }
    if ((rc = drain(p, err)))
        goto out;
    PQexitPipelineMode(p->conn);
    in_pipeline = false;
    if (p->fault_before_commit) {
        p->fault_before_commit = false;
        drop_conn(p);
        rc = gm_err_set(err, GM_EDB, "postgres: connection dropped before commit (fault seam)");
        goto out;
    }
    in_txn = false;
    p->synced = true;
    memcpy(p->synced_sha, sha, sizeof sha);
    p->cursor = next;
    *n = b.n_changes;
out:
    if (p->conn && in_pipeline) {
        /* an error mid-pipeline: the connection's state is unclear */
        drop_conn(p);
    } else if (p->conn && in_txn) {
        PGresult *res = PQexec(p->conn, "ROLLBACK");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            drop_conn(p);
        PQclear(res);
    }
    batch_deinit(&b);
    rows_deinit(&rows);
    gm_feed_close(f);
    return rc;
}

/* After a COPY met ledger rows at or past the cursor: the guard stays on
 * up to the partition's highest ledger seq. Read outside the cursor's
 * lock, so another writer may add rows meanwhile: the retry is guarded
 * whatever this says, and a later conflict reads it again. */
static int
guard_from_ledger(struct gm_pgproj *p, struct gm_err *err)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT coalesce(max(seq), -1) FROM ledger WHERE partition = %d",
             p->partition);
    PGresult *res = PQexec(p->conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        PQclear(res);
        return pg_fail(p, err, "reading the ledger's highest seq");
    }
    p->guarded_until = strtoll(PQgetvalue(res, 0, 0), NULL, 10) + 1;
    PQclear(res);
    gm_log(GM_LOG_INFO,
           "postgres: partition %d: the ledger holds rows at or past the cursor (it was moved "
           "back): ledger entries below seq %" PRId64 " are written skipping rows already there",
           p->partition, p->guarded_until);
    return 0;
}

int
gm_pgproj_step(struct gm_pgproj *p, struct gm_state *st, size_t max_changes, size_t *n,
               struct gm_err *err)
{
    bool conflict = false;
    int rc = step_once(p, st, max_changes, n, &conflict, err);
    /* libpq reports the server's error of a COPY at its end, through
     * PQgetResult, however much was sent (pgproj's tests meet the key in
     * COPYs of 5,000 rows), so a conflict is told from a broken connection */
    if (rc && conflict) {
        gm_err_clear(err);
        if ((rc = guard_from_ledger(p, err)))
            return rc;
        rc = step_once(p, st, max_changes, n, NULL, err);
    }
    return rc;
}

size_t
gm_pgproj_guarded_steps(const struct gm_pgproj *p)
{
    return p->guarded_steps;
}

int
gm_pgproj_open(const char *conninfo, int partition, struct gm_pgproj **out, struct gm_err *err)
{
    int rc = gm_pgproj_check_conninfo(conninfo, err);
    if (rc)
        return rc;
    if (partition < 0)
        return gm_err_set(err, GM_EINVAL, "partition %d: must be 0 or more", partition);
    struct gm_pgproj *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->conninfo = dup(conninfo);
    p->partition = partition;
    p->cursor = -1;
    snprintf(p->partition_s, sizeof p->partition_s, "%d", partition);
    *out = p;
    return 0;
}

void
gm_pgproj_set_share(struct gm_pgproj *p, struct gm_feedshare *sh)
{
    p->share = sh;
}

int64_t
gm_pgproj_cursor(const struct gm_pgproj *p)
{
    return p->cursor;
}

void
gm_pgproj_fault_before_commit(struct gm_pgproj *p, bool on)
{
    p->fault_before_commit = on;
}

void
gm_pgproj_close(struct gm_pgproj *p)
{
    if (!p)
        return;
    PQfinish(p->conn);
    gm_feed_rules_cache_deinit(&p->rules);
    free(p->conninfo);
    free(p);
}
