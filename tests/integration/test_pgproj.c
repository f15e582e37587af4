/*
 * test_pgproj.c: the Postgres read model against the real Postgres that
 * tests/run starts: migrations (idempotent; a newer schema refused), a
 * generated log projected and compared with the state learner by learner,
 * projecting again changing nothing, projecting in steps with aborted
 * transactions between equal to projecting at once, a cursor moved back
 * behind ledger rows, the NOTIFY of a redemption, and a Postgres that is
 * down. Each test has its own database.
 */
#include "feed.h"
#include "pgproj.h"
#include "server_env.h"
#include "state.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *db_name;   /* this test's database */
static char *db_info;   /* conninfo of it */
static char tmp[64];    /* this test's folder */
static PGconn *db_conn; /* a connection to it, for checks */

static PGconn *
connect_to(const char *conninfo)
{
    PGconn *conn = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(conn), CONNECTION_OK, "connect: %s", PQerrorMessage(conn));
    return conn;
}

/* Creates (drop false) or drops the database name. */
static void
admin_db(bool drop, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             drop ? "DROP DATABASE IF EXISTS %s WITH (FORCE)" : "CREATE DATABASE %s", name);
    PGconn *admin = connect_to(gm_test_server_env("GAMIFY_TEST_PG"));
    PGresult *res = PQexec(admin, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(admin));
    PQclear(res);
    PQfinish(admin);
}

/* A fresh database and folder per test. */
static void
setup(void)
{
    const char *base = gm_test_server_env("GAMIFY_TEST_PG");
    char *unique = gm_test_unique_name("gm_pgproj");
    for (char *c = unique; *c; c++)
        if (*c == '-')
            *c = '_';
    db_name = unique;
    admin_db(false, db_name);
    cr_assert(asprintf(&db_info, "%s dbname=%s", base, db_name) > 0);
    db_conn = connect_to(db_info);
    strcpy(tmp, "/tmp/gm-pgproj-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void
teardown(void)
{
    PQfinish(db_conn);
    if (db_name)
        admin_db(true, db_name);
    free(db_name);
    free(db_info);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(pgproj, .init = setup, .fini = teardown, .timeout = 300);

/* The one value of a query (new; free with free()). */
static char *
query1(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(conn));
    cr_assert_eq(PQntuples(res), 1, "%s", sql);
    char *v = strdup(PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

static long long
count(const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    char *v = query1(db_conn, sql);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

static void
run(const char *cmd)
{
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "%s: exit %d", cmd, rc);
}

/* Folds a generated log (gen_events ARGS), the JSON lines of a file (args
 * "@PATH") or examples/events.jsonl (args NULL) with examples/rules.yaml
 * into state folder dir. */
static void
make_state(const char *dir, const char *gen_args)
{
    const char *build = getenv("GAMIFY_BUILD_ROOT"), *examples = getenv("GAMIFY_EXAMPLES");
    cr_assert(build && examples, "run through meson test (GAMIFY_BUILD_ROOT, GAMIFY_EXAMPLES)");
    char cmd[2048], log[256];
    if (gen_args && gen_args[0] == '@') {
        snprintf(log, sizeof log, "%s", gen_args + 1);
    } else if (gen_args) {
        snprintf(log, sizeof log, "%s/events.jsonl", tmp);
        snprintf(cmd, sizeof cmd, "'%s/tests/bench/gen_events' %s > '%s'", build, gen_args, log);
        run(cmd);
    } else {
        snprintf(log, sizeof log, "%s/events.jsonl", examples);
    }
    snprintf(cmd, sizeof cmd,
             "'%s/processor/gamify' replay --quiet --no-sync --log 'jsonl:%s' --state '%s' "
             "--rules '%s/rules.yaml' 2>/dev/null",
             build, log, dir, examples);
    run(cmd);
}

static struct gm_state *
open_state(const char *dir)
{
    struct gm_state_opts o = {.read_only = true};
    struct gm_state *st;
    struct gm_err err;
    cr_assert_eq(gm_state_open(dir, &o, &st, &err), 0, "%s", err.msg);
    return st;
}

static void
migrate(const char *conninfo)
{
    struct gm_err err;
    int applied;
    cr_assert_eq(gm_pgproj_migrate(conninfo, &applied, &err), 0, "%s", err.msg);
}

/* Projects everything in batches of batch; returns the changes projected. */
static size_t last_steps, last_guarded; /* of the last project_all */

static size_t
project_all(struct gm_state *st, const char *conninfo, size_t batch)
{
    struct gm_pgproj *p;
    struct gm_err err;
    cr_assert_eq(gm_pgproj_open(conninfo, 0, &p, &err), 0, "%s", err.msg);
    size_t total = 0, n;
    last_steps = 0;
    do {
        cr_assert_eq(gm_pgproj_step(p, st, batch, &n, &err), 0, "%s", err.msg);
        total += n;
        last_steps++;
    } while (n == batch);
    last_guarded = gm_pgproj_guarded_steps(p);
    gm_pgproj_close(p);
    return total;
}

/* Everything the read model holds but the wall-clock columns (and the
 * cursor unless with_cursor): one md5. */
static char *
fingerprint(PGconn *conn, bool with_cursor)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM ("
             " SELECT (to_jsonb(t) - 'updated_at')::text x FROM learners t UNION ALL"
             " SELECT (to_jsonb(t) - 'updated_at')::text FROM badges t UNION ALL"
             " SELECT to_jsonb(t)::text FROM learner_badges t UNION ALL"
             " SELECT (to_jsonb(t) - 'updated_at')::text FROM rewards t UNION ALL"
             " SELECT to_jsonb(t)::text FROM reward_stock_used t UNION ALL"
             " SELECT to_jsonb(t)::text FROM redemptions t UNION ALL"
             " SELECT to_jsonb(t)::text FROM ledger t UNION ALL"
             " SELECT (to_jsonb(t) - 'seen_at')::text FROM rules_versions t%s) s",
             with_cursor ? " UNION ALL SELECT (to_jsonb(t) - 'updated_at')::text FROM "
                           "projector_cursor t"
                         : "");
    return query1(conn, sql);
}

Test(pgproj, migrate_twice_is_a_no_op)
{
    struct gm_err err;
    int applied = -1;
    cr_assert_eq(gm_pgproj_migrate(db_info, &applied, &err), 0, "%s", err.msg);
    cr_assert_eq(applied, gm_pgproj_schema_version());
    char *tables = query1(db_conn, "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM "
                                   "information_schema.tables WHERE table_schema = 'public'");
    cr_assert(strstr(tables, "learners") && strstr(tables, "ledger") &&
                  strstr(tables, "projector_cursor") && strstr(tables, "reward_catalogue"),
              "%s", tables);
    cr_assert_eq(gm_pgproj_migrate(db_info, &applied, &err), 0, "%s", err.msg);
    cr_assert_eq(applied, 0);
    char *again = query1(db_conn, "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM "
                                  "information_schema.tables WHERE table_schema = 'public'");
    cr_assert_str_eq(tables, again);
    cr_assert_eq(count("schema_migrations"), gm_pgproj_schema_version());
    char *name = query1(db_conn, "SELECT name FROM schema_migrations WHERE version = 1");
    cr_assert_str_eq(name, "0001_read_model");
    free(tables);
    free(again);
    free(name);
}

Test(pgproj, a_newer_schema_is_refused)
{
    migrate(db_info);
    PQclear(PQexec(db_conn, "INSERT INTO schema_migrations (version, name) VALUES (9999, "
                            "'9999_from_the_future')"));
    struct gm_err err;
    gm_err_clear(&err);
    int applied = -1;
    cr_assert_eq(gm_pgproj_migrate(db_info, &applied, &err), GM_EUNSUPPORTED);
    cr_assert_eq(applied, 0);
    cr_assert(strstr(err.msg, "9999") && strstr(err.msg, "newer"), "%s", err.msg);

    /* the projector refuses it too, and a database never migrated */
    char dir[128];
    snprintf(dir, sizeof dir, "%s/st", tmp);
    make_state(dir, NULL);
    struct gm_state *st = open_state(dir);
    struct gm_pgproj *p;
    size_t n;
    cr_assert_eq(gm_pgproj_open(db_info, 0, &p, &err), 0);
    cr_assert_eq(gm_pgproj_step(p, st, 100, &n, &err), GM_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "newer gamify"), "%s", err.msg);
    gm_pgproj_close(p);
    PQclear(PQexec(db_conn, "DROP TABLE schema_migrations"));
    cr_assert_eq(gm_pgproj_open(db_info, 0, &p, &err), 0);
    cr_assert_eq(gm_pgproj_step(p, st, 100, &n, &err), GM_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "gamify migrate"), "%s", err.msg);
    gm_pgproj_close(p);
    gm_state_close(st);
}

/* Walks learners (user id byte order) beside the rows of the read model. */
struct walk {
    PGresult *rows, *badges, *ledger;
    int row, badge, led;
    size_t learners;
};

static int
check_learner(void *ctx, const struct gm_learner *l)
{
    struct walk *w = ctx;
    cr_assert_lt(w->row, PQntuples(w->rows), "fewer rows than learners");
    PGresult *r = w->rows;
    int i = w->row++;
    cr_assert_str_eq(PQgetvalue(r, i, 0), l->user_id);
    int64_t want[] = {l->exp,
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
    for (int c = 0; c < 14; c++)
        cr_assert_eq(strtoll(PQgetvalue(r, i, c + 1), NULL, 10), want[c], "%s column %s",
                     l->user_id, PQfname(r, c + 1));
    cr_assert_str_eq(PQgetvalue(r, i, 15), l->timezone ? l->timezone : "");
    cr_assert_str_eq(PQgetvalue(r, i, 16), l->opt_out ? "t" : "f");
    /* badges in award order with their time */
    for (size_t b = 0; b < l->n_badges; b++, w->badge++) {
        cr_assert_lt(w->badge, PQntuples(w->badges));
        cr_assert_str_eq(PQgetvalue(w->badges, w->badge, 0), l->user_id);
        cr_assert_str_eq(PQgetvalue(w->badges, w->badge, 1), l->badges[b].id);
        cr_assert_eq(strtoll(PQgetvalue(w->badges, w->badge, 2), NULL, 10), l->badges[b].earned_at);
    }
    /* the ledger's deltas sum to exp and coins */
    int64_t exp = 0, coins = 0;
    if (w->led < PQntuples(w->ledger) &&
        strcmp(PQgetvalue(w->ledger, w->led, 0), l->user_id) == 0) {
        exp = strtoll(PQgetvalue(w->ledger, w->led, 1), NULL, 10);
        coins = strtoll(PQgetvalue(w->ledger, w->led, 2), NULL, 10);
        w->led++;
    }
    cr_assert_eq(exp, l->exp, "%s: ledger exp", l->user_id);
    cr_assert_eq(coins, l->coins, "%s: ledger coins", l->user_id);
    w->learners++;
    return 0;
}

struct reds {
    PGconn *conn;
    size_t n, ledger_entries;
    int64_t (*ledger)[2]; /* each change's (ledger_first, ledger_count) */
    size_t n_ledger;
};

static int
check_redemption(void *ctx, const struct gm_change *ch)
{
    struct reds *s = ctx;
    if (ch->ledger_count > 0) {
        s->ledger_entries += (size_t)ch->ledger_count;
        s->ledger = realloc(s->ledger, (s->n_ledger + 1) * sizeof *s->ledger);
        cr_assert(s->ledger);
        s->ledger[s->n_ledger][0] = ch->ledger_first;
        s->ledger[s->n_ledger++][1] = ch->ledger_count;
    }
    if (!ch->redemption)
        return 0;
    const struct gm_feed_redemption *r = ch->redemption;
    const char *params[2] = {ch->user_id, r->redemption_id};
    PGresult *res = PQexecParams(
        s->conn,
        "SELECT reward_id, status, coalesce(reason, ''), cost, extract(epoch FROM occurred_at) "
        "FROM redemptions WHERE user_id = $1 AND redemption_id = $2",
        2, NULL, params, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(s->conn));
    cr_assert_eq(PQntuples(res), 1, "redemption %s of %s", r->redemption_id, ch->user_id);
    cr_assert_str_eq(PQgetvalue(res, 0, 0), r->reward_id);
    cr_assert_str_eq(PQgetvalue(res, 0, 1), r->completed ? "COMPLETED" : "REJECTED");
    if (!r->completed)
        cr_assert_neq(strlen(PQgetvalue(res, 0, 2)), 0);
    cr_assert_eq(strtoll(PQgetvalue(res, 0, 3), NULL, 10), r->cost);
    cr_assert_eq(strtoll(PQgetvalue(res, 0, 4), NULL, 10), r->occurred_at);
    PQclear(res);
    s->n++;
    return 0;
}

/* The ledger's rows in (partition, seq) order against the state's entries,
 * column by column. */
struct ledger_walk {
    PGresult *rows;
    int row;
};

static int
check_ledger_entry(void *ctx, const struct gm_ledger_entry *e)
{
    struct ledger_walk *w = ctx;
    cr_assert_lt(w->row, PQntuples(w->rows), "ledger entry %" PRId64 " has no row", e->seq);
    int r = w->row++;
    cr_assert_str_eq(PQgetvalue(w->rows, r, 0), "0");
    cr_assert_eq(strtoll(PQgetvalue(w->rows, r, 1), NULL, 10), e->seq);
    cr_assert_str_eq(PQgetvalue(w->rows, r, 2), e->user_id);
    cr_assert_str_eq(PQgetvalue(w->rows, r, 3), e->event_id);
    cr_assert_str_eq(PQgetvalue(w->rows, r, 4), e->kind);
    cr_assert_str_eq(PQgetvalue(w->rows, r, 5), e->detail ? e->detail : "");
    int64_t v[] = {e->exp_delta,   e->coins_delta, e->exp_after,
                   e->coins_after, e->capped_exp,  e->occurred_at};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(strtoll(PQgetvalue(w->rows, r, 6 + i), NULL, 10), v[i],
                     "seq %" PRId64 " column %d", e->seq, 6 + i);
    return 0;
}

/* Every learner's row, badges, redemptions and ledger sums equal the state. */
static void
compare_with_state(struct gm_state *st, bool has_redemptions)
{
    struct walk w = {0};
    w.rows = PQexec(db_conn,
                    "SELECT user_id, exp, level, coins, coins_earned, coins_spent, "
                    "lessons_completed, lesson_completions, tournaments_played, tournament_wins, "
                    "tournament_losses, current_streak, longest_streak, freezes_held, "
                    "redemptions, timezone, opt_out FROM learners ORDER BY user_id COLLATE \"C\"");
    w.badges = PQexec(db_conn, "SELECT user_id, badge_id, extract(epoch FROM earned_at)::bigint "
                               "FROM learner_badges ORDER BY user_id COLLATE \"C\", position");
    w.ledger = PQexec(db_conn, "SELECT user_id, sum(exp_delta), sum(coins_delta) FROM ledger "
                               "GROUP BY user_id ORDER BY user_id COLLATE \"C\"");
    cr_assert_eq(PQresultStatus(w.rows), PGRES_TUPLES_OK, "%s", PQerrorMessage(db_conn));
    cr_assert_eq(PQresultStatus(w.badges), PGRES_TUPLES_OK, "%s", PQerrorMessage(db_conn));
    cr_assert_eq(PQresultStatus(w.ledger), PGRES_TUPLES_OK, "%s", PQerrorMessage(db_conn));
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    cr_assert_eq(gm_feed_learners(f, check_learner, &w), 0);
    cr_assert_eq(w.row, PQntuples(w.rows), "more rows than learners");
    cr_assert_eq(w.badge, PQntuples(w.badges), "more badges than the learners hold");
    cr_assert_eq(w.led, PQntuples(w.ledger), "ledger rows of no learner");
    cr_assert_gt(w.learners, 0);

    struct reds s = {db_conn, 0, 0};
    int64_t next;
    cr_assert_eq(gm_feed_changes(f, 0, SIZE_MAX, check_redemption, &s, &next), 0);
    cr_assert_eq((long long)s.n, count("redemptions"));
    cr_assert_eq((long long)s.ledger_entries, count("ledger"), "ledger rows are the entries");
    struct ledger_walk lw = {
        PQexec(db_conn,
               "SELECT partition, seq, user_id, event_id, kind, detail, exp_delta, "
               "coins_delta, exp_after, coins_after, capped_exp, "
               "extract(epoch FROM occurred_at)::bigint FROM ledger ORDER BY partition, seq"),
        0};
    cr_assert_eq(PQresultStatus(lw.rows), PGRES_TUPLES_OK, "%s", PQerrorMessage(db_conn));
    for (size_t i = 0; i < s.n_ledger; i++)
        cr_assert_eq(gm_feed_ledger(f, s.ledger[i][0], s.ledger[i][1], check_ledger_entry, &lw), 0);
    cr_assert_eq(lw.row, PQntuples(lw.rows));
    PQclear(lw.rows);
    free(s.ledger);
    if (has_redemptions)
        cr_assert_gt(s.n, 0, "the log has redemptions");
    char *cursor = query1(db_conn, "SELECT next_seq FROM projector_cursor WHERE partition = 0");
    cr_assert_eq(strtoll(cursor, NULL, 10), gm_feed_end(f));
    free(cursor);
    /* stock left over all partitions */
    const struct gm_rules *r = gm_feed_rules(f);
    for (size_t i = 0; i < r->n_rewards; i++) {
        int64_t used;
        cr_assert_eq(gm_feed_stock_used(f, r->rewards[i].id, &used), 0);
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT stock_used || ',' || coalesce(stock_left::text, 'NULL') FROM "
                 "reward_catalogue WHERE id = '%s'",
                 r->rewards[i].id);
        char *v = query1(db_conn, sql), want[64];
        if (r->rewards[i].stock < 0)
            snprintf(want, sizeof want, "%" PRId64 ",NULL", used);
        else
            snprintf(want, sizeof want, "%" PRId64 ",%" PRId64, used, r->rewards[i].stock - used);
        cr_assert_str_eq(v, want, "reward %s", r->rewards[i].id);
        free(v);
    }
    cr_assert_eq(count("badges WHERE active"), (long long)r->n_badges);
    gm_feed_close(f);
    PQclear(w.rows);
    PQclear(w.badges);
    PQclear(w.ledger);
}

Test(pgproj, a_generated_log_projects_to_what_the_state_holds)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/st", tmp);
    make_state(dir, "--events 20000 --users 2000 --span-days 400 --seed 7");
    migrate(db_info);
    struct gm_state *st = open_state(dir);
    size_t n = project_all(st, db_info, 1000);
    cr_assert_gt(n, 20000 - 200, "changes projected: %zu", n); /* less dead letters */
    cr_assert_eq(last_guarded, 0, "a fresh read model needs no guard");
    compare_with_state(st, true);

    /* again: nothing to do, nothing changes */
    char *before = fingerprint(db_conn, true), *rows = fingerprint(db_conn, false);
    long long ledger = count("ledger"), learners = count("learners");
    cr_assert_eq(project_all(st, db_info, 1000), 0);
    /* and replayed from the start (a lost cursor): a first batch changes no
     * row (no learner goes back to an older change), nor do all of them */
    PQclear(PQexec(db_conn, "UPDATE projector_cursor SET next_seq = 0"));
    struct gm_pgproj *p;
    struct gm_err err;
    size_t first;
    cr_assert_eq(gm_pgproj_open(db_info, 0, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_pgproj_step(p, st, 5000, &first, &err), 0, "%s", err.msg);
    cr_assert_eq(first, 5000);
    cr_assert_eq(gm_pgproj_guarded_steps(p), 1, "the ledger's rows were there: the guard");
    gm_pgproj_close(p);
    char *partial = fingerprint(db_conn, false);
    cr_assert_str_eq(partial, rows);
    cr_assert_eq(project_all(st, db_info, 5000), n - first);
    char *after = fingerprint(db_conn, true);
    cr_assert_str_eq(before, after);
    cr_assert_eq(count("ledger"), ledger);
    cr_assert_eq(count("learners"), learners);
    compare_with_state(st, true); /* the ledger's rows still equal its entries: no duplicates */
    free(before);
    free(after);
    free(rows);
    free(partial);
    gm_state_close(st);
}

/* A cursor moved back to a point inside the ledger: the batches behind the
 * ledger's last row skip the rows already there (one of them straddles it),
 * those after it copy straight; the read model ends equal to the state. */
Test(pgproj, a_cursor_moved_back_inside_the_ledger)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/st", tmp);
    make_state(dir, "--events 6000 --users 500 --span-days 90 --seed 11");
    migrate(db_info);
    struct gm_state *st = open_state(dir);
    struct gm_pgproj *p;
    struct gm_err err;
    size_t n;
    cr_assert_eq(gm_pgproj_open(db_info, 0, &p, &err), 0, "%s", err.msg);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(gm_pgproj_step(p, st, 1000, &n, &err), 0, "%s", err.msg);
        cr_assert_eq(n, 1000);
    }
    gm_pgproj_close(p);
    long long rows = count("ledger");
    cr_assert_gt(rows, 1000);
    char *top = query1(db_conn, "SELECT max(seq) FROM ledger");
    PQclear(PQexec(db_conn, "UPDATE projector_cursor SET next_seq = 1500"));
    size_t again = project_all(st, db_info, 1000);
    cr_assert_gt(again, 4000);
    /* from change 1500 in steps of 1000: the batches from 1500 and from
     * 2500 hold ledger entries already there (the second straddles the
     * last row, an entry of a change below 3000) and go through the guard;
     * the later ones copy */
    cr_assert_eq(last_guarded, 2, "guarded %zu of %zu (last row %s)", last_guarded, last_steps,
                 top);
    cr_assert_gt(last_steps, last_guarded);
    compare_with_state(st, true);
    free(top);
    gm_state_close(st);
}

Test(pgproj, steps_with_aborts_between_equal_one_pass)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/st", tmp);
    make_state(dir, "--events 3000 --users 300 --span-days 60 --seed 3");
    struct gm_state *st = open_state(dir);

    /* a second database for the one-pass projection */
    char *other = gm_test_unique_name("gm_pgproj_once");
    for (char *c = other; *c; c++)
        if (*c == '-')
            *c = '_';
    admin_db(false, other);
    char *other_info;
    cr_assert(asprintf(&other_info, "%s dbname=%s", gm_test_server_env("GAMIFY_TEST_PG"), other) >
              0);
    migrate(other_info);
    project_all(st, other_info, 100000);
    PGconn *oc = connect_to(other_info);
    char *once = fingerprint(oc, true);
    PQfinish(oc);

    migrate(db_info);
    struct gm_pgproj *p;
    struct gm_err err;
    cr_assert_eq(gm_pgproj_open(db_info, 0, &p, &err), 0, "%s", err.msg);
    size_t n, steps = 0, aborts = 0;
    do {
        steps++;
        if (steps % 3 == 0) {
            int64_t cursor = gm_pgproj_cursor(p);
            gm_pgproj_fault_before_commit(p, true);
            cr_assert_eq(gm_pgproj_step(p, st, 97, &n, &err), GM_EDB);
            cr_assert_eq(n, 0);
            aborts++;
            /* nothing of it was committed */
            char *c = query1(db_conn, "SELECT next_seq FROM projector_cursor");
            cr_assert_eq(strtoll(c, NULL, 10), cursor);
            free(c);
        }
        cr_assert_eq(gm_pgproj_step(p, st, 97, &n, &err), 0, "%s", err.msg);
    } while (n == 97);
    gm_pgproj_close(p);
    cr_assert_gt(aborts, 5);
    char *stepped = fingerprint(db_conn, true);
    cr_assert_str_eq(stepped, once);
    compare_with_state(st, true);

    free(once);
    free(stepped);
    admin_db(true, other);
    free(other);
    free(other_info);
    gm_state_close(st);
}

/* Waits up to 5 s for a notification on conn; returns it (PQfreemem) or NULL. */
static PGnotify *
wait_notify(PGconn *conn)
{
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(PQconsumeInput(conn), 1);
        PGnotify *nt = PQnotifies(conn);
        if (nt)
            return nt;
        struct pollfd pfd = {PQsocket(conn), POLLIN, 0};
        poll(&pfd, 1, 100);
    }
    return NULL;
}

Test(pgproj, redemption_outcomes_are_notified_once)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/st", tmp);
    make_state(dir, NULL); /* examples/events.jsonl: redeemed and rejected */
    migrate(db_info);
    PGconn *listener = connect_to(db_info);
    PQclear(PQexec(listener, "LISTEN gamify_redemption"));
    struct gm_state *st = open_state(dir);
    project_all(st, db_info, 1000);

    long long want = count("redemptions");
    cr_assert_gt(want, 1);
    int got = 0;
    bool saw_rejected = false, saw_completed = false;
    PGnotify *nt;
    while (got < want && (nt = wait_notify(listener))) {
        cr_assert_str_eq(nt->relname, "gamify_redemption");
        cr_assert(strstr(nt->extra, "\"redemptionId\"") && strstr(nt->extra, "\"userId\""), "%s",
                  nt->extra);
        if (strstr(nt->extra, "\"redemptionId\" : \"lea-r1\"")) {
            cr_assert(strstr(nt->extra, "\"status\" : \"REJECTED\"") &&
                          strstr(nt->extra, "\"reason\" : \"INSUFFICIENT_COINS\""),
                      "%s", nt->extra);
            saw_rejected = true;
        }
        if (strstr(nt->extra, "\"status\" : \"COMPLETED\"")) {
            cr_assert(strstr(nt->extra, "\"reason\" : null"), "%s", nt->extra);
            saw_completed = true;
        }
        got++;
        PQfreemem(nt);
    }
    cr_assert_eq(got, want);
    cr_assert(saw_rejected && saw_completed);

    /* projected again from the start: no second notification */
    PQclear(PQexec(db_conn, "UPDATE projector_cursor SET next_seq = 0"));
    project_all(st, db_info, 1000);
    cr_assert_eq(PQconsumeInput(listener), 1);
    struct pollfd pfd = {PQsocket(listener), POLLIN, 0};
    poll(&pfd, 1, 300);
    cr_assert_eq(PQconsumeInput(listener), 1);
    nt = PQnotifies(listener);
    cr_assert_null(nt, "notified again: %s", nt ? nt->extra : "");
    PQfinish(listener);
    gm_state_close(st);
}

Test(pgproj, postgres_down_is_an_error_to_retry)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/st", tmp);
    make_state(dir, NULL);
    struct gm_state *st = open_state(dir);
    struct gm_pgproj *p;
    struct gm_err err;
    size_t n = 1;
    /* port 1: nothing listens there */
    cr_assert_eq(gm_pgproj_open("host=127.0.0.1 port=1 connect_timeout=2", 0, &p, &err), 0);
    cr_assert_eq(gm_pgproj_step(p, st, 100, &n, &err), GM_EDB);
    cr_assert_eq(n, 0);
    cr_assert(strstr(err.msg, "connect"), "%s", err.msg);
    gm_pgproj_close(p);
    cr_assert_eq(gm_pgproj_open("host=127.0.0.1 nonsense=1", 0, &p, &err), GM_EINVAL);

    /* killed between steps (the server ends the session): the next step
     * reconnects and goes on */
    migrate(db_info);
    cr_assert_eq(gm_pgproj_open(db_info, 0, &p, &err), 0);
    cr_assert_eq(gm_pgproj_step(p, st, 10, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 10);
    PQclear(PQexec(db_conn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                            "datname = current_database() AND pid <> pg_backend_pid()"));
    int rc = gm_pgproj_step(p, st, 10, &n, &err);
    cr_assert(rc == GM_EDB || rc == 0, "%d %s", rc, err.msg);
    for (int i = 0; i < 10000 && (rc == GM_EDB || n == 10); i++)
        rc = gm_pgproj_step(p, st, 10, &n, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    gm_pgproj_close(p);
    compare_with_state(st, true);
    gm_state_close(st);
}

Test(pgproj, strings_that_need_quoting_arrive_as_they_are)
{
    /* user ids, lesson ids and reward ids with the characters of Postgres
     * array literals and SQL, and non-ASCII */
    static const char *const users[] = {"a\\\"b",  "c\\\\d",      "{e},f",
                                        "g'h; --", "żółw \u00e9", "NULL"};
    char path[128], dir[128];
    snprintf(path, sizeof path, "%s/odd.jsonl", tmp);
    snprintf(dir, sizeof dir, "%s/st", tmp);
    FILE *out = fopen(path, "w");
    cr_assert_not_null(out);
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++)
        for (int k = 0; k < 12; k++)
            fprintf(out,
                    "{\"eventId\":\"e%zu-%d\",\"userId\":\"%s\",\"occurredAt\":\"2026-11-%02dT"
                    "10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l\\\"%d{,}\",\"courseId\":"
                    "\"c1\",\"score\":95}}\n",
                    i, k, users[i], 2 + k, k);
    fclose(out);
    char arg[160];
    snprintf(arg, sizeof arg, "@%s", path);
    make_state(dir, arg);
    migrate(db_info);
    struct gm_state *st = open_state(dir);
    cr_assert_gt(project_all(st, db_info, 5), 0);
    compare_with_state(st, false);
    cr_assert_eq(count("learners"), 6);
    char *v = query1(db_conn, "SELECT count(*) FROM ledger WHERE user_id = 'a\"b' AND "
                              "detail LIKE '%l\"%'");
    cr_assert_neq(strcmp(v, "0"), 0, "the ledger of a\"b");
    free(v);
    gm_state_close(st);
}

/* Rules with one badge and one reward, none of those of examples/rules.yaml. */
static const char new_rules[] = "version: 1\n"
                                "timezone: UTC\n"
                                "levels:\n  thresholds: [0, 30, 1000]\n  level_up_coins: 7\n"
                                "activities:\n"
                                "  lesson_completed: { exp: 20, coins: 5 }\n"
                                "  tournament_result:\n"
                                "    win: { exp: 50, coins: 20 }\n"
                                "    draw: { exp: 20, coins: 5 }\n"
                                "    loss: { exp: 10, coins: 0 }\n"
                                "badges:\n"
                                "  - { id: starter, name: Starter, icon: s.png, criteria: "
                                "\"lessons_completed >= 1\" }\n"
                                "rewards:\n"
                                "  - { id: mug, name: Mug, cost: 10, type: physical, stock: 5 }\n";

Test(pgproj, catalogues_follow_published_rules)
{
    char dir[128], path[160], arg[170];
    snprintf(dir, sizeof dir, "%s/st", tmp);
    make_state(dir, "--events 1500 --users 100");
    migrate(db_info);
    struct gm_state *st = open_state(dir);
    project_all(st, db_info, 500);
    gm_state_close(st);
    long long badges = count("badges");
    cr_assert_gt(badges, 1);
    cr_assert_eq(count("badges WHERE active"), badges);
    cr_assert_gt(count("rewards WHERE active"), 0);
    cr_assert_eq(count("rules_versions"), 1);

    /* then the new rules are published, and more lessons follow (appended:
     * the replay resumes at the state's offset in the same file) */
    snprintf(path, sizeof path, "%s/events.jsonl", tmp);
    FILE *out = fopen(path, "a");
    cr_assert_not_null(out);
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "eventId", "publish-2", "userId", "admin",
                           "occurredAt", "2026-12-01T00:00:00Z", "source", "admin",
                           "rulesPublished", "rulesYaml", new_rules);
    cr_assert_not_null(ev);
    char *line = json_dumps(ev, JSON_COMPACT);
    fprintf(out, "%s\n", line);
    free(line);
    json_decref(ev);
    fprintf(out, "{\"eventId\":\"after-1\",\"userId\":\"user-1\",\"occurredAt\":"
                 "\"2026-12-01T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"new\"}}\n");
    fclose(out);
    snprintf(arg, sizeof arg, "@%s", path);
    make_state(dir, arg);
    st = open_state(dir);
    project_all(st, db_info, 500);
    /* dropped from the rules: kept for the learners who hold them, inactive */
    cr_assert_eq(count("badges"), badges + 1);
    cr_assert_eq(count("badges WHERE active"), 1);
    cr_assert_eq(count("badges WHERE active AND id = 'starter'"), 1);
    cr_assert_eq(count("rewards WHERE active"), 1);
    cr_assert_eq(count("reward_catalogue WHERE id = 'mug' AND stock_left = 5"), 1);
    /* no per_user_limit in the rules: NULL, unlimited (0 would mean nobody) */
    cr_assert_eq(count("rewards WHERE id = 'mug' AND per_user_limit IS NULL"), 1);
    cr_assert_eq(count("rules_versions"), 2);
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    char sha[65];
    for (int i = 0; i < 32; i++)
        snprintf(sha + 2 * i, 3, "%02x", gm_feed_rules(f)->sha256[i]);
    gm_feed_close(f);
    char *recorded = query1(db_conn, "SELECT rules_sha256 FROM projector_cursor");
    cr_assert_str_eq(recorded, sha);
    free(recorded);
    compare_with_state(st, false);
    gm_state_close(st);
}

/* The learner row's updated_seq (the change it shows). */
static long long
updated_seq(const char *user)
{
    const char *params[1] = {user};
    PGresult *res = PQexecParams(db_conn, "SELECT updated_seq FROM learners WHERE user_id = $1", 1,
                                 NULL, params, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(db_conn));
    cr_assert_eq(PQntuples(res), 1, "no row of %s", user);
    long long v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

/* The last change of user in the feed. */
struct last_of {
    const char *user;
    int64_t seq;
};

static int
find_last(void *ctx, const struct gm_change *ch)
{
    struct last_of *l = ctx;
    if (ch->user_id && strcmp(ch->user_id, l->user) == 0)
        l->seq = ch->seq;
    return 0;
}

Test(pgproj, a_batch_of_many_changes_of_one_learner)
{
    /* one learner's 120 lessons over 60 days (levels, streaks, badges
     * earned at different changes of the same batch), redemptions, and a
     * few changes of another learner between them */
    char path[128], dir[128], arg[140];
    snprintf(path, sizeof path, "%s/solo.jsonl", tmp);
    snprintf(dir, sizeof dir, "%s/st", tmp);
    FILE *out = fopen(path, "w");
    cr_assert_not_null(out);
    for (int k = 0; k < 120; k++) {
        fprintf(out,
                "{\"eventId\":\"s%d\",\"userId\":\"solo\",\"occurredAt\":\"2026-%02d-%02dT"
                "%02d:00:00Z\",\"groupIds\":[\"g1\"],\"lessonCompleted\":{\"lessonId\":\"l%d\","
                "\"courseId\":\"c1\",\"score\":90}}\n",
                k, 9 + k / 60, 1 + (k / 2) % 28, 8 + k % 2, k);
        if (k % 40 == 39)
            fprintf(out,
                    "{\"eventId\":\"r%d\",\"userId\":\"solo\",\"occurredAt\":\"2026-%02d-%02dT"
                    "12:00:00Z\",\"redeemReward\":{\"redemptionId\":\"solo-r%d\",\"rewardId\":"
                    "\"dark-theme\"}}\n",
                    k, 9 + k / 60, 1 + (k / 2) % 28, k);
        if (k % 30 == 0)
            fprintf(out,
                    "{\"eventId\":\"o%d\",\"userId\":\"other\",\"occurredAt\":\"2026-%02d-%02dT"
                    "13:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l%d\"}}\n",
                    k, 9 + k / 60, 1 + (k / 2) % 28, k);
    }
    fclose(out);
    snprintf(arg, sizeof arg, "@%s", path);
    make_state(dir, arg);
    migrate(db_info);
    struct gm_state *st = open_state(dir);
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    int64_t end = gm_feed_end(f);
    struct last_of last = {"solo", -1};
    int64_t next;
    cr_assert_eq(gm_feed_changes(f, 0, SIZE_MAX, find_last, &last, &next), 0);
    gm_feed_close(f);
    cr_assert_gt(end, 120);

    /* the whole feed in one batch, whose commit fails once (the fault seam
     * drops the connection just before COMMIT): nothing of it stays */
    struct gm_pgproj *p;
    struct gm_err err;
    size_t n;
    cr_assert_eq(gm_pgproj_open(db_info, 0, &p, &err), 0, "%s", err.msg);
    gm_pgproj_fault_before_commit(p, true);
    cr_assert_eq(gm_pgproj_step(p, st, 100000, &n, &err), GM_EDB);
    cr_assert_eq(count("learners"), 0);
    cr_assert_eq(count("ledger"), 0);
    cr_assert_eq(count("learner_badges"), 0);
    cr_assert_eq(count("redemptions"), 0);
    /* then it goes through: one row per learner at its last change, every
     * badge and ledger entry once */
    cr_assert_eq(gm_pgproj_step(p, st, 100000, &n, &err), 0, "%s", err.msg);
    cr_assert_eq((int64_t)n, end);
    gm_pgproj_close(p);
    cr_assert_eq(count("learners"), 2);
    cr_assert_eq(updated_seq("solo"), last.seq);
    cr_assert_gt(count("learner_badges WHERE user_id = 'solo'"), 1, "badges earned in the batch");
    compare_with_state(st, true);
    char *once = fingerprint(db_conn, true);

    /* the same batch again from a lost cursor changes nothing */
    PQclear(PQexec(db_conn, "UPDATE projector_cursor SET next_seq = 0"));
    cr_assert_eq(project_all(st, db_info, 100000), (size_t)end);
    char *again = fingerprint(db_conn, true);
    cr_assert_str_eq(again, once);
    compare_with_state(st, true);
    free(once);
    free(again);
    gm_state_close(st);
}
