/*
 * test_redisproj.c: the Redis projector and the rebuild against the real
 * Redis that tests/run starts. A generated log (tests/bench/gen_events,
 * examples/rules.yaml, 400 days ending now so that periods expire) is folded
 * into a state; the projection must then hold exactly the state's scores
 * (gm_feed_learners), no key of an expired period, and the TTLs the rules
 * give. Each test writes under its own key prefix and deletes it after, so
 * tests may run beside each other on one Redis; "FLUSHALL" here is deleting
 * every key of the test's prefix.
 */
#include "feed.h"
#include "feedshare.h"
#include "lbscore.h"
#include "lbscores.h"
#include "log.h"
#include "redisproj.h"
#include "server_env.h"
#include "state.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char dir[64];
static struct gm_state *st;

static void
setup(void)
{
    strcpy(dir, "/tmp/gm-redisproj-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    st = NULL;
    gm_log_set_level(GM_LOG_ERROR); /* the generated logs have dead letters */
}

static void
teardown(void)
{
    char cmd[128];
    gm_state_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(redisproj, .init = setup, .fini = teardown);

/*
 * Folds gen_events' log of events and users over span_days from start (Unix
 * seconds) into a state in dir, with examples/rules.yaml.
 */
static void
build_state_span(int events, int users, int span_days, long long start)
{
    const char *build = getenv("GAMIFY_BUILD_ROOT"), *examples = getenv("GAMIFY_EXAMPLES");
    cr_assert(build && examples, "run through meson: GAMIFY_BUILD_ROOT, GAMIFY_EXAMPLES");
    char path[4096], cmd[8192];
    snprintf(cmd, sizeof cmd,
             "%s/tests/bench/gen_events --events %d --users %d --span-days %d --start %lld", build,
             events, users, span_days, start);
    FILE *gen = popen(cmd, "r");
    cr_assert_not_null(gen);

    snprintf(path, sizeof path, "%s/rules.yaml", examples);
    FILE *rf = fopen(path, "r");
    cr_assert_not_null(rf, "%s", path);
    static char yaml[1 << 16];
    size_t ylen = fread(yaml, 1, sizeof yaml, rf);
    fclose(rf);

    struct gm_state_opts o = {.no_sync = true};
    struct gm_err err;
    cr_assert_eq(gm_state_open(dir, &o, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_seed_rules(st, yaml, ylen, &err), 0, "%s", err.msg);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t off = 0;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    while ((len = getline(&line, &cap, gen)) > 0) {
        while (len > 0 && line[len - 1] == '\n')
            len--;
        cr_assert_eq(gm_state_apply(st, (const uint8_t *)line, (size_t)len, true, off, 0, &err), 0,
                     "%s", err.msg);
        off += (uint64_t)len + 1;
        if (off / 200000 != (off - (uint64_t)len - 1) / 200000) {
            cr_assert_eq(gm_state_commit(st, off, &err), 0, "%s", err.msg);
            cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
        }
    }
    cr_assert_eq(gm_state_commit(st, off, &err), 0, "%s", err.msg);
    free(line);
    cr_assert_eq(pclose(gen), 0);
}

/* The same over 400 days. */
static void
build_state_from(int events, int users, long long start)
{
    build_state_span(events, users, 400, start);
}

/* Applies gen_events' log for args (its options) into the open batch. */
static void
apply_generated(const char *args)
{
    const char *build = getenv("GAMIFY_BUILD_ROOT");
    cr_assert(build, "run through meson: GAMIFY_BUILD_ROOT");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/tests/bench/gen_events %s", build, args);
    FILE *gen = popen(cmd, "r");
    cr_assert_not_null(gen);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    struct gm_err err;
    while ((len = getline(&line, &cap, gen)) > 0) {
        while (len > 0 && line[len - 1] == '\n')
            len--;
        cr_assert_eq(gm_state_apply(st, (const uint8_t *)line, (size_t)len, true, 0, 0, &err), 0,
                     "%s", err.msg);
    }
    free(line);
    cr_assert_eq(pclose(gen), 0);
}

/* The same over 400 days ending about an hour ago. */
static void
build_state(int events, int users)
{
    build_state_from(events, users, (long long)time(NULL) - 400LL * 86400 - 3600);
}

static redisContext *
connect_redis(void)
{
    const char *url = gm_test_server_env("GAMIFY_TEST_REDIS");
    int port = 0;
    char host[64];
    cr_assert_eq(sscanf(url, "redis://%63[^:]:%d", host, &port), 2, "%s", url);
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    cr_assert(c && !c->err, "connect %s", url);
    return c;
}

static char *
new_prefix(void)
{
    char *name = gm_test_unique_name("gmtest"), *prefix;
    cr_assert_geq(asprintf(&prefix, "%s:", name), 0);
    free(name);
    return prefix;
}

/* A sorted list of lines. */
struct lines {
    char **v;
    size_t n, cap;
};

static void
lines_add(struct lines *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        cr_assert_not_null(l->v);
    }
    l->v[l->n++] = s;
}

static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
lines_sort(struct lines *l)
{
    qsort(l->v, l->n, sizeof *l->v, str_cmp);
}

static void
lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void
lines_assert_eq(const struct lines *a, const struct lines *b, const char *what)
{
    for (size_t i = 0; i < a->n && i < b->n; i++)
        cr_assert_str_eq(a->v[i], b->v[i], "%s: line %zu differs", what, i);
    cr_assert_eq(a->n, b->n, "%s: %zu lines against %zu", what, a->n, b->n);
}

/* The leaderboard keys under prefix (without it), sorted. */
static struct lines
board_keys(redisContext *c, const char *prefix)
{
    struct lines keys = {0};
    char cursor[32] = "0", pattern[256];
    snprintf(pattern, sizeof pattern, "%slb:*", prefix);
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        cr_assert(r && r->type == REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++)
            lines_add(&keys, strdup(r->element[1]->element[i]->str + strlen(prefix)));
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    lines_sort(&keys);
    return keys;
}

/*
 * Every member of every board under prefix as "lb:BOARD:PERIOD USER SCORE",
 * sorted; with ttl, a line "KEY expiretime=T" per key as well.
 */
static struct lines
redis_lines(redisContext *c, const char *prefix, bool ttl)
{
    struct lines keys = board_keys(c, prefix), out = {0};
    for (size_t k = 0; k < keys.n; k++) {
        redisReply *r = redisCommand(c, "ZRANGE %s%s 0 -1 WITHSCORES", prefix, keys.v[k]);
        cr_assert(r && r->type == REDIS_REPLY_ARRAY);
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            char *s;
            cr_assert_geq(
                asprintf(&s, "%s %s %s", keys.v[k], r->element[i]->str, r->element[i + 1]->str), 0);
            lines_add(&out, s);
        }
        freeReplyObject(r);
        if (ttl) {
            r = redisCommand(c, "EXPIRETIME %s%s", prefix, keys.v[k]);
            cr_assert(r && r->type == REDIS_REPLY_INTEGER);
            char *s;
            cr_assert_geq(asprintf(&s, "%s expiretime=%lld", keys.v[k], r->integer), 0);
            lines_add(&out, s);
            freeReplyObject(r);
        }
    }
    lines_free(&keys);
    lines_sort(&out);
    return out;
}

static int
on_learner(void *ctx, const struct gm_learner *l)
{
    for (size_t i = 0; i < l->n_scores; i++) {
        char *s;
        /* the score with its reach time, as Redis holds it */
        cr_assert_geq(
            asprintf(&s, "lb:%s:%s %s %lld", l->scores[i].board, l->scores[i].period, l->user_id,
                     (long long)gm_lbscore_encode(l->scores[i].score, l->scores[i].reached_at,
                                                  l->scores[i].period)),
            0);
        lines_add(ctx, s);
    }
    return 0;
}

/* What the state says the boards hold, in redis_lines' form. */
static struct lines
state_lines(void)
{
    struct gm_feed *f;
    struct lines out = {0};
    cr_assert_eq(gm_feed_open(st, &f), 0);
    cr_assert_eq(gm_feed_learners(f, on_learner, &out), 0);
    gm_feed_close(f);
    lines_sort(&out);
    return out;
}

/* Deletes every key of prefix: the test's FLUSHALL. */
static void
flush_prefix(redisContext *c, const char *prefix)
{
    char cursor[32] = "0", pattern[256];
    snprintf(pattern, sizeof pattern, "%s*", prefix);
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        cr_assert(r && r->type == REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++)
            freeReplyObject(redisCommand(c, "UNLINK %s", r->element[1]->element[i]->str));
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
}

static struct gm_redisproj *
projector(const char *prefix)
{
    struct gm_redisproj_opts o = {.prefix = prefix};
    struct gm_redisproj *p;
    struct gm_err err;
    cr_assert_eq(gm_redisproj_open(gm_test_server_env("GAMIFY_TEST_REDIS"), 0, &o, &p, &err), 0,
                 "%s", err.msg);
    return p;
}

/* Steps until up to date; returns the changes written. */
static size_t
project_all(const char *prefix, size_t batch)
{
    struct gm_redisproj *p = projector(prefix);
    struct gm_err err;
    size_t total = 0, n;
    do {
        cr_assert_eq(gm_redisproj_step(p, st, batch, &n, &err), 0, "%s", err.msg);
        total += n;
    } while (n > 0);
    gm_redisproj_close(p);
    return total;
}

static int64_t
feed_end(void)
{
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    int64_t end = gm_feed_end(f);
    gm_feed_close(f);
    return end;
}

static long long
redis_cursor(redisContext *c, const char *prefix)
{
    redisReply *r = redisCommand(c, "GET %scursor:0", prefix);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    long long v = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return v;
}

struct pruned {
    char *names[256];
    size_t n;
};

static int
on_change(void *ctx, const struct gm_change *ch)
{
    struct pruned *p = ctx;
    for (size_t i = 0; i < ch->n_pruned_periods && p->n < 256; i++)
        p->names[p->n++] = strdup(ch->pruned_periods[i]);
    return 0;
}

Test(redisproj, projection_equals_state_with_ttls_and_no_expired_period)
{
    build_state(20000, 2000);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();

    cr_assert_eq(project_all(prefix, 1000), (size_t)feed_end());
    struct lines want = state_lines(), got = redis_lines(c, prefix, false);
    cr_assert_gt(want.n, 10000);
    lines_assert_eq(&got, &want, "Redis against the state");
    cr_assert_eq(redis_cursor(c, prefix), feed_end());

    /* 400 days: periods expired on the way, and none of them has a key */
    struct gm_feed *f;
    struct pruned pr = {0};
    int64_t next;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    cr_assert_eq(gm_feed_changes(f, 0, SIZE_MAX, on_change, &pr, &next), 0);
    const struct gm_rules *rules = gm_feed_rules(f);
    cr_assert_gt(pr.n, 10, "only %zu periods expired", pr.n);
    for (size_t i = 0; i < pr.n; i++) {
        redisReply *r = redisCommand(c, "EXISTS %slb:global:%s", prefix, pr.names[i]);
        cr_assert_eq(r->integer, 0, "expired period %s has a key", pr.names[i]);
        freeReplyObject(r);
        r = redisCommand(c, "SISMEMBER %speriods %s", prefix, pr.names[i]);
        cr_assert_eq(r->integer, 0, "expired period %s is in the periods set", pr.names[i]);
        freeReplyObject(r);
        free(pr.names[i]);
    }

    /* week and month keys expire when the state drops them; "all" never */
    struct lines keys = board_keys(c, prefix);
    size_t with_ttl = 0;
    for (size_t i = 0; i < keys.n; i++) {
        const char *period = strrchr(keys.v[i], ':') + 1;
        redisReply *r = redisCommand(c, "EXPIRETIME %s%s", prefix, keys.v[i]);
        int64_t at;
        if (strcmp(period, "all") == 0) {
            cr_assert_eq(r->integer, -1, "%s has a TTL", keys.v[i]);
        } else {
            cr_assert_eq(gm_redisproj_expiry(period, rules, &at), 0, "%s", period);
            cr_assert_eq(r->integer, at, "%s expires at %lld, not %lld", keys.v[i], r->integer,
                         (long long)at);
            cr_assert_gt(at, (int64_t)time(NULL));
            with_ttl++;
        }
        freeReplyObject(r);
    }
    cr_assert_gt(with_ttl, keys.n / 2);
    gm_feed_close(f);

    lines_free(&keys);
    lines_free(&want);
    lines_free(&got);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

Test(redisproj, projecting_again_changes_nothing)
{
    build_state(4000, 400);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();

    project_all(prefix, 500);
    struct lines first = redis_lines(c, prefix, true);
    cr_assert_eq(project_all(prefix, 500), 0, "up to date, yet it wrote changes");
    struct lines second = redis_lines(c, prefix, true);
    lines_assert_eq(&second, &first, "after a second run");

    /* from the start again: absolute scores make the replay harmless */
    freeReplyObject(redisCommand(c, "SET %scursor:0 0", prefix));
    cr_assert_eq(project_all(prefix, 500), (size_t)feed_end());
    struct lines third = redis_lines(c, prefix, true);
    lines_assert_eq(&third, &first, "after a replay from 0");

    lines_free(&first);
    lines_free(&second);
    lines_free(&third);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

Test(redisproj, projecting_in_steps_equals_at_once)
{
    build_state(4000, 400);
    redisContext *c = connect_redis();
    char *once = new_prefix(), *steps = new_prefix();

    cr_assert_eq(project_all(once, 1000000), (size_t)feed_end());
    cr_assert_eq(project_all(steps, 7), (size_t)feed_end());
    struct lines a = redis_lines(c, once, true), b = redis_lines(c, steps, true);
    cr_assert_gt(a.n, 1000);
    lines_assert_eq(&b, &a, "in steps of 7 against at once");

    lines_free(&a);
    lines_free(&b);
    flush_prefix(c, once);
    flush_prefix(c, steps);
    free(once);
    free(steps);
    redisFree(c);
}

static void
rebuild(const char *prefix, struct gm_redisproj_rebuild_stats *stats)
{
    struct gm_redisproj_opts o = {.prefix = prefix};
    struct gm_err err;
    int partition = 0;
    cr_assert_eq(gm_redisproj_rebuild(gm_test_server_env("GAMIFY_TEST_REDIS"), &o, &st, &partition,
                                      1, stats, &err),
                 0, "%s", err.msg);
}

Test(redisproj, rebuild_after_flush_gives_identical_boards)
{
    build_state(4000, 400);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();

    project_all(prefix, 1000);
    struct lines projected = redis_lines(c, prefix, true);
    flush_prefix(c, prefix);
    struct gm_redisproj_rebuild_stats stats;
    rebuild(prefix, &stats);
    cr_assert_eq(stats.learners, 400);
    cr_assert_eq(stats.removed, 0);
    struct lines rebuilt = redis_lines(c, prefix, true);
    lines_assert_eq(&rebuilt, &projected, "rebuilt against projected");
    cr_assert_eq(redis_cursor(c, prefix), feed_end());
    cr_assert_eq(project_all(prefix, 1000), 0, "the rebuild left the cursor behind");

    /* a board the state does not hold, and a stale member: both go */
    freeReplyObject(redisCommand(c, "ZADD %slb:ghost-class:all 5 nobody", prefix));
    freeReplyObject(redisCommand(c, "ZADD %slb:global:all 999999 nobody", prefix));
    rebuild(prefix, &stats);
    cr_assert_eq(stats.removed, 1);
    struct lines again = redis_lines(c, prefix, true);
    lines_assert_eq(&again, &projected, "rebuilt over stale keys");
    redisReply *r = redisCommand(c, "KEYS %srebuild:*", prefix);
    cr_assert_eq(r->elements, 0, "temporary keys left behind");
    freeReplyObject(r);

    lines_free(&projected);
    lines_free(&rebuilt);
    lines_free(&again);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

Test(redisproj, subscriber_receives_leaderboard_changed)
{
    build_state(300, 30);
    redisContext *c = connect_redis(), *sub = connect_redis();
    char *prefix = new_prefix();

    redisReply *r = redisCommand(sub, "SUBSCRIBE %sleaderboard-changed", prefix);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    freeReplyObject(r);

    struct gm_redisproj *p = projector(prefix);
    struct gm_err err;
    size_t n;
    cr_assert_eq(gm_redisproj_step(p, st, 50, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 50);

    cr_assert_eq(redisGetReply(sub, (void **)&r), REDIS_OK, "%s", sub->errstr);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[0]->str, "message");
    json_error_t jerr;
    json_t *m = json_loads(r->element[2]->str, 0, &jerr);
    cr_assert_not_null(m, "%s: %s", r->element[2]->str, jerr.text);
    cr_assert_eq(json_integer_value(json_object_get(m, "partition")), 0);
    cr_assert_eq(json_integer_value(json_object_get(m, "next")), gm_redisproj_cursor(p));
    json_t *changed = json_object_get(m, "changed");
    cr_assert_gt(json_array_size(changed), 0);
    bool global_all = false;
    for (size_t i = 0; i < json_array_size(changed); i++) {
        json_t *e = json_array_get(changed, i);
        global_all |= strcmp(json_string_value(json_object_get(e, "board")), "global") == 0 &&
                      strcmp(json_string_value(json_object_get(e, "period")), "all") == 0;
    }
    cr_assert(global_all, "%s", r->element[2]->str);
    cr_assert(json_is_array(json_object_get(m, "pruned")));
    json_decref(m);
    freeReplyObject(r);

    gm_redisproj_close(p);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(sub);
    redisFree(c);
}

/* The leaderboard-scores messages (common/lbscores.h) folded into lines as
 * redis_lines gives them; resets counted. */
struct scores_model {
    struct lines lines;
    const char *prefix;
    size_t resets;
};

static void
model_score(void *ctx, const char *key, size_t key_len, const char *member, size_t member_len,
            int64_t score)
{
    struct scores_model *m = ctx;
    size_t pl = strlen(m->prefix);
    cr_assert(key_len > pl && memcmp(key, m->prefix, pl) == 0, "a key of another prefix");
    /* the last score of a member wins: drop its earlier line */
    char *head;
    cr_assert_geq(
        asprintf(&head, "%.*s %.*s ", (int)(key_len - pl), key + pl, (int)member_len, member), 0);
    for (size_t i = 0; i < m->lines.n; i++)
        if (strncmp(m->lines.v[i], head, strlen(head)) == 0) {
            free(m->lines.v[i]);
            m->lines.v[i] = m->lines.v[--m->lines.n];
            break;
        }
    char *s;
    cr_assert_geq(asprintf(&s, "%s%lld", head, (long long)score), 0);
    free(head);
    lines_add(&m->lines, s);
}

static void
model_reset(void *ctx)
{
    struct scores_model *m = ctx;
    m->resets++;
    for (size_t i = 0; i < m->lines.n; i++)
        free(m->lines.v[i]);
    m->lines.n = 0;
}

/* Reads the messages waiting on sub into m (a short read timeout ends it). */
static size_t
read_scores(redisContext *sub, struct scores_model *m)
{
    struct timeval tv = {0, 200 * 1000};
    redisSetTimeout(sub, tv);
    size_t n = 0;
    redisReply *r;
    while (redisGetReply(sub, (void **)&r) == REDIS_OK) {
        cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3);
        struct gm_lbscores_cb cb = {model_score, model_reset, m};
        cr_assert_eq(gm_lbscores_parse(r->element[2]->str, r->element[2]->len, &cb), 0,
                     "a malformed message: %.80s", r->element[2]->str);
        freeReplyObject(r);
        n++;
    }
    return n;
}

/* Subscribes a new connection to prefix's leaderboard-scores messages. */
static redisContext *
scores_subscriber(const char *prefix)
{
    redisContext *sub = connect_redis();
    redisReply *r = redisCommand(sub, "SUBSCRIBE %sleaderboard-scores", prefix);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    return sub;
}

Test(redisproj, scores_messages_carry_every_write)
{
    /* 20 days: nothing is pruned (keep_weeks 6, keep_months 3) */
    build_state_span(4000, 400, 20, (long long)time(NULL) - 20LL * 86400 - 3600);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    redisContext *sub = scores_subscriber(prefix);

    project_all(prefix, 300);
    struct scores_model m = {.prefix = prefix};
    size_t messages = read_scores(sub, &m);
    cr_assert_gt(messages, 1, "a message per batch");
    cr_assert_eq(m.resets, 0, "nothing pruned, nothing reset");
    lines_sort(&m.lines);
    struct lines boards = redis_lines(c, prefix, false);
    lines_assert_eq(&m.lines, &boards, "the messages folded against the boards");

    /* a rebuild says: read everything again */
    redisFree(sub);
    sub = scores_subscriber(prefix);
    struct gm_redisproj_rebuild_stats stats;
    rebuild(prefix, &stats);
    struct scores_model after = {.prefix = prefix};
    cr_assert_eq(read_scores(sub, &after), 1);
    cr_assert_eq(after.resets, 1);
    cr_assert_eq(after.lines.n, 0);

    lines_free(&m.lines);
    lines_free(&boards);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(sub);
    redisFree(c);
}

/* With prunes: a batch that prunes says reset, and what comes after the last
 * reset is the boards' last word on every member it names. */
Test(redisproj, scores_messages_reset_at_prunes)
{
    build_state(4000, 400);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    redisContext *sub = scores_subscriber(prefix);
    project_all(prefix, 300);
    struct scores_model m = {.prefix = prefix};
    read_scores(sub, &m);
    cr_assert_gt(m.resets, 0, "400 days of events prune finished periods");
    struct lines boards = redis_lines(c, prefix, false);
    for (size_t i = 0; i < m.lines.n; i++)
        cr_assert(bsearch(&m.lines.v[i], boards.v, boards.n, sizeof *boards.v, str_cmp),
                  "after the last reset, %s is not on the boards", m.lines.v[i]);
    lines_free(&m.lines);
    lines_free(&boards);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(sub);
    redisFree(c);
}

Test(redisproj, redis_down_is_retried_with_backoff)
{
    build_state(50, 5);
    struct gm_redisproj_opts o = {.timeout_ms = 500, .max_backoff_ms = 300};
    struct gm_redisproj *p;
    struct gm_err err;
    size_t n = 99;
    /* port 1: nothing listens there */
    cr_assert_eq(gm_redisproj_open("redis://127.0.0.1:1", 0, &o, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_redisproj_step(p, st, 10, &n, &err), GM_EREDIS);
    cr_assert_eq(n, 0);
    cr_assert_eq(gm_redisproj_backoff_ms(p), 100);
    cr_assert_eq(gm_redisproj_step(p, st, 10, &n, &err), GM_EREDIS);
    cr_assert_eq(gm_redisproj_backoff_ms(p), 200);
    cr_assert_eq(gm_redisproj_step(p, st, 10, &n, &err), GM_EREDIS);
    cr_assert_eq(gm_redisproj_backoff_ms(p), 300);
    cr_assert_eq(gm_redisproj_cursor(p), -1);
    gm_redisproj_close(p);
}

Test(redisproj, cursor_past_the_feed_needs_a_rebuild)
{
    build_state(50, 5);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    freeReplyObject(redisCommand(c, "SET %scursor:0 %lld", prefix, (long long)feed_end() + 5));
    struct gm_redisproj *p = projector(prefix);
    struct gm_err err;
    size_t n;
    cr_assert_eq(gm_redisproj_step(p, st, 10, &n, &err), GM_EINVAL);
    cr_assert(strstr(err.msg, "gamify rebuild"), "%s", err.msg);
    gm_redisproj_close(p);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

static long long
info_memory(redisContext *c, const char *field)
{
    redisReply *r = redisCommand(c, "INFO memory");
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    char pat[64];
    snprintf(pat, sizeof pat, "\n%s:", field);
    const char *at = strstr(r->str, pat);
    cr_assert_not_null(at, "%s", field);
    long long v = strtoll(at + strlen(pat), NULL, 10);
    freeReplyObject(r);
    return v;
}

/* The periods of prefix's keys with the instant each ended (-1: "all"). */
static size_t
key_periods(redisContext *c, const char *prefix, const struct gm_rules *rules, char names[][16],
            int64_t *ends, size_t cap)
{
    struct lines keys = board_keys(c, prefix);
    size_t n = 0;
    for (size_t i = 0; i < keys.n; i++) {
        const char *period = strrchr(keys.v[i], ':') + 1;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(names[k], period) == 0;
        if (seen || n == cap)
            continue;
        snprintf(names[n], 16, "%s", period);
        /* the end of a period: its expiry with nothing kept after it */
        struct gm_rules r0 = *rules;
        r0.keep_weeks = r0.keep_months = 0;
        ends[n] = gm_redisproj_expiry(period, &r0, &ends[n]) ? -1 : ends[n];
        n++;
    }
    lines_free(&keys);
    return n;
}

Test(redisproj, memory_guard_deletes_the_oldest_finished_periods)
{
    build_state(4000, 400);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    project_all(prefix, 1000);
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    const struct gm_rules *rules = gm_feed_rules(f);
    char before[64][16], after[64][16];
    int64_t end_before[64], end_after[64], now = (int64_t)time(NULL);
    size_t n_before = key_periods(c, prefix, rules, before, end_before, 64);

    /* a maxmemory far above what every test on this server uses, so that no
     * write is refused; the mark set just below the memory in use */
    long long used = info_memory(c, "used_memory");
    long long max = used + 256LL * 1024 * 1024;
    redisReply *r = redisCommand(c, "CONFIG SET maxmemory %lld", max);
    cr_assert(r && r->type == REDIS_REPLY_STATUS, "CONFIG SET maxmemory refused");
    freeReplyObject(r);

    struct gm_redisproj_opts o = {.prefix = prefix, .memory_permille = 1000};
    struct gm_redisproj *p;
    struct gm_err err;
    cr_assert_eq(gm_redisproj_open(gm_test_server_env("GAMIFY_TEST_REDIS"), 0, &o, &p, &err), 0);
    cr_assert_eq(gm_redisproj_guard(p, rules, now, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_redisproj_stats(p)->guard_alerts, 0, "below the mark, yet an alert");
    gm_redisproj_close(p);

    o.memory_permille = (int)(used * 500 / max) > 0 ? (int)(used * 500 / max) : 1;
    cr_assert_eq(gm_redisproj_open(gm_test_server_env("GAMIFY_TEST_REDIS"), 0, &o, &p, &err), 0);
    cr_assert_eq(gm_redisproj_guard(p, rules, now, &err), 0, "%s", err.msg);
    const struct gm_redisproj_stats *gs = gm_redisproj_stats(p);
    cr_assert_eq(gs->guard_alerts, 1);
    cr_assert_gt(gs->guard_periods_deleted, 0);
    cr_assert_gt(gs->guard_keys_deleted, 0);
    r = redisCommand(c, "CONFIG SET maxmemory 0");
    freeReplyObject(r);

    size_t n_after = key_periods(c, prefix, rules, after, end_after, 64);
    cr_assert_eq(n_after + gs->guard_periods_deleted, n_before);
    int64_t newest_deleted = INT64_MIN, oldest_kept_finished = INT64_MAX;
    for (size_t i = 0; i < n_before; i++) {
        bool kept = false;
        for (size_t k = 0; k < n_after && !kept; k++)
            kept = strcmp(before[i], after[k]) == 0;
        if (end_before[i] < 0 || end_before[i] > now) {
            cr_assert(kept, "the guard deleted %s, which has not ended", before[i]);
        } else if (!kept) {
            newest_deleted = end_before[i] > newest_deleted ? end_before[i] : newest_deleted;
        } else if (end_before[i] < oldest_kept_finished) {
            oldest_kept_finished = end_before[i];
        }
    }
    cr_assert_leq(newest_deleted, oldest_kept_finished, "a newer period went before an older one");
    gm_redisproj_close(p);
    gm_feed_close(f);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

/* Kills the connection of this test's projector (named PREFIX redisproj-0;
 * other tests' projectors run beside it). */
static int
kill_projector_connection(redisContext *c, const char *prefix)
{
    char want[128];
    snprintf(want, sizeof want, " name=%sredisproj-0 ", prefix);
    redisReply *r = redisCommand(c, "CLIENT LIST");
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    int killed = 0;
    for (char *line = strtok(r->str, "\n"); line; line = strtok(NULL, "\n")) {
        long long id;
        if (!strstr(line, want) || sscanf(line, "id=%lld", &id) != 1)
            continue;
        redisReply *k = redisCommand(c, "CLIENT KILL ID %lld", id);
        killed += k && k->type == REDIS_REPLY_INTEGER ? (int)k->integer : 0;
        freeReplyObject(k);
    }
    freeReplyObject(r);
    return killed;
}

Test(redisproj, a_lost_connection_skips_no_change)
{
    build_state(2000, 200);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    struct gm_redisproj *p = projector(prefix);
    struct gm_err err;
    size_t n, total = 0, failures = 0;

    cr_assert_eq(gm_redisproj_step(p, st, 100, &n, &err), 0, "%s", err.msg);
    total += n;
    for (int round = 0; round < 200 && total < (size_t)feed_end(); round++) {
        if (round % 3 == 0)
            kill_projector_connection(c, prefix);
        int rc = gm_redisproj_step(p, st, 100, &n, &err);
        if (rc) {
            cr_assert_eq(rc, GM_EREDIS, "%s", err.msg);
            cr_assert_gt(gm_redisproj_backoff_ms(p), 0);
            failures++;
            continue;
        }
        total += n;
    }
    cr_assert_gt(failures, 0, "killing the connection never failed a step");
    cr_assert_eq(redis_cursor(c, prefix), feed_end());
    struct lines want = state_lines(), got = redis_lines(c, prefix, false);
    lines_assert_eq(&got, &want, "Redis against the state after lost connections");

    lines_free(&want);
    lines_free(&got);
    gm_redisproj_close(p);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

Test(redisproj, url_parsing)
{
    struct gm_redisproj *p;
    struct gm_err err;
    const char *good[] = {"redis://h", "redis://h:1/3", "redis://:pw@h:6380", "redis://u:pw@h/0"};
    const char *bad[] = {"http://h:1", "redis://", "redis://h:0", "redis://h:12x", "redis://h/x"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        cr_assert_eq(gm_redisproj_open(good[i], 0, NULL, &p, &err), 0, "%s: %s", good[i], err.msg);
        gm_redisproj_close(p);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(gm_redisproj_open(bad[i], 0, NULL, &p, &err), GM_EINVAL, "%s", bad[i]);
    struct gm_redisproj_opts o = {.prefix = "a-prefix-of-more-than-sixty-four-bytes-is-refused-"
                                            "because-keys-must-stay-short"};
    cr_assert_eq(gm_redisproj_open("redis://h", 0, &o, &p, &err), GM_EINVAL);
}

/* ---- the scheduled reconcile ---- */

static struct gm_redisproj *
reconciler(const char *prefix, size_t sample, uint64_t rebuild_drift)
{
    struct gm_redisproj_opts o = {
        .prefix = prefix, .reconcile_sample = sample, .reconcile_rebuild_drift = rebuild_drift};
    struct gm_redisproj *p;
    struct gm_err err;
    cr_assert_eq(gm_redisproj_open(gm_test_server_env("GAMIFY_TEST_REDIS"), 0, &o, &p, &err), 0,
                 "%s", err.msg);
    return p;
}

/* One reconcile run over st; returns the drift it repaired. */
static uint64_t
reconcile(struct gm_redisproj *p, bool whole)
{
    struct gm_err err;
    uint64_t drift = 12345;
    cr_assert_eq(gm_redisproj_reconcile(p, &st, NULL, 1, whole, &drift, &err), 0, "%s", err.msg);
    return drift;
}

static long long
zcard(redisContext *c, const char *prefix, const char *key)
{
    redisReply *r = redisCommand(c, "ZCARD %s%s", prefix, key);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* The member at rank of prefix+key (new). */
static char *
member_at(redisContext *c, const char *prefix, const char *key, long rank)
{
    redisReply *r = redisCommand(c, "ZRANGE %s%s %ld %ld", prefix, key, rank, rank);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1, "%s rank %ld", key, rank);
    char *m = strdup(r->element[0]->str);
    freeReplyObject(r);
    return m;
}

static void
command(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    cr_assert(r && r->type != REDIS_REPLY_ERROR, "%s: %s", fmt, r ? r->str : c->errstr);
    freeReplyObject(r);
}

Test(redisproj, reconcile_repairs_exactly_the_tampering_and_counts_it)
{
    build_state(4000, 400);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    project_all(prefix, 1000);
    struct lines before = redis_lines(c, prefix, true);

    /* four different keys: global:all, another board's all-time key, a
     * week or month key, and a fourth one for a score change alone */
    struct lines keys = board_keys(c, prefix);
    const char *k_all = "lb:global:all", *k_other = NULL, *k_period = NULL, *k_score = NULL;
    for (size_t i = 0; i < keys.n; i++) {
        const char *k = keys.v[i];
        bool all = strcmp(strrchr(k, ':'), ":all") == 0;
        long long card = zcard(c, prefix, k);
        if (strcmp(k, k_all) == 0)
            continue;
        if (all && !k_other)
            k_other = k;
        else if (!all && !k_period && card >= 3)
            k_period = k;
        else if (!all && !k_score && card >= 3)
            k_score = k;
    }
    cr_assert(k_other && k_period && k_score, "not enough keys");
    cr_assert_geq(zcard(c, prefix, k_all), 10);

    /* 3 members removed and 2 scores changed on global:all */
    for (int i = 0; i < 3; i++) {
        char *m = member_at(c, prefix, k_all, 0);
        command(c, "ZREM %s%s %s", prefix, k_all, m);
        free(m);
    }
    for (int i = 0; i < 2; i++) {
        char *m = member_at(c, prefix, k_all, 3 + i);
        command(c, "ZADD %s%s XX 7777777 %s", prefix, k_all, m);
        free(m);
    }
    /* 2 members the state does not have */
    command(c, "ZADD %s%s 5 bogus-1 6 bogus-2", prefix, k_other);
    /* a whole key gone */
    long long gone = zcard(c, prefix, k_period);
    command(c, "DEL %s%s", prefix, k_period);
    /* a key the state does not have at all */
    command(c, "ZADD %slb:ghost-board:all 1 ghost-1 2 ghost-2", prefix);
    /* one score changed in a key whose size stays: only the sample sees it */
    char *m = member_at(c, prefix, k_score, 1);
    command(c, "ZADD %s%s XX 1 %s", prefix, k_score, m);
    free(m);

    struct gm_redisproj *p = reconciler(prefix, 1000000, 100000);
    uint64_t want = 3 + 2 + 2 + (uint64_t)gone + 2 + 1;
    cr_assert_eq(reconcile(p, true), want);
    struct gm_redisproj_reconcile_stats rs;
    gm_redisproj_reconcile_stats(p, &rs);
    cr_assert_eq(rs.runs, 1);
    cr_assert_eq(rs.drift, want);
    cr_assert_eq(rs.last_drift, want);
    cr_assert_eq(rs.keys_recreated, 1);
    cr_assert_eq(rs.keys_removed, 1);
    cr_assert_eq(rs.rebuilds, 0);
    cr_assert_eq(rs.sampled, 400);
    struct lines after = redis_lines(c, prefix, true);
    lines_assert_eq(&after, &before, "Redis after the reconcile against before the tampering");

    /* nothing left to repair */
    cr_assert_eq(reconcile(p, true), 0);
    gm_redisproj_reconcile_stats(p, &rs);
    cr_assert_eq(rs.runs, 2);
    cr_assert_eq(rs.drift, want);
    cr_assert_eq(rs.last_drift, 0);

    gm_redisproj_close(p);
    lines_free(&before);
    lines_free(&after);
    lines_free(&keys);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

/* The state's learners in user id order (new strings), with whether each
 * has a global all-time score. */
struct learner_list {
    char *user[1024];
    bool global[1024];
    size_t n;
};

static int
on_list(void *ctx, const struct gm_learner *l)
{
    struct learner_list *ll = ctx;
    cr_assert_lt(ll->n, 1024);
    ll->user[ll->n] = strdup(l->user_id);
    for (size_t i = 0; i < l->n_scores; i++)
        ll->global[ll->n] |=
            strcmp(l->scores[i].board, "global") == 0 && strcmp(l->scores[i].period, "all") == 0;
    ll->n++;
    return 0;
}

Test(redisproj, reconcile_sample_rolls_on_from_where_it_stopped)
{
    build_state(4000, 400);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    project_all(prefix, 1000);
    struct lines before = redis_lines(c, prefix, false);
    struct learner_list ll = {0};
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    cr_assert_eq(gm_feed_learners(f, on_list, &ll), 0);
    gm_feed_close(f);
    cr_assert_eq(ll.n, 400);

    /* two wrong scores in each window of 100 learners (sizes unchanged) */
    for (size_t w = 0; w < 4; w++) {
        int changed = 0;
        for (size_t i = 100 * w; i < 100 * (w + 1) && changed < 2; i++) {
            if (ll.global[i]) {
                command(c, "ZADD %slb:global:all XX 3 %s", prefix, ll.user[i]);
                changed++;
            }
        }
        cr_assert_eq(changed, 2);
    }
    struct gm_redisproj *p = reconciler(prefix, 100, 100000);
    for (int run = 0; run < 4; run++)
        cr_assert_eq(reconcile(p, true), 2, "run %d", run);
    struct lines after = redis_lines(c, prefix, false);
    lines_assert_eq(&after, &before, "Redis after four runs");
    /* round again from the first learner: nothing */
    cr_assert_eq(reconcile(p, true), 0);
    struct gm_redisproj_reconcile_stats rs;
    gm_redisproj_reconcile_stats(p, &rs);
    cr_assert_eq(rs.drift, 8);
    cr_assert_eq(rs.sampled, 500);

    gm_redisproj_close(p);
    for (size_t i = 0; i < ll.n; i++)
        free(ll.user[i]);
    lines_free(&before);
    lines_free(&after);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

/* What the changes from `from` on touch: learners and board keys. */
struct touched {
    struct lines users, keys;
};

static int
on_touched(void *ctx, const struct gm_change *ch)
{
    struct touched *t = ctx;
    if (ch->user_id)
        lines_add(&t->users, strdup(ch->user_id));
    for (size_t i = 0; i < ch->n_scores; i++) {
        char *k;
        cr_assert_geq(asprintf(&k, "lb:%s:%s", ch->scores[i].board, ch->scores[i].period), 0);
        lines_add(&t->keys, k);
    }
    return 0;
}

static bool
lines_has(const struct lines *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

Test(redisproj, reconcile_counts_no_drift_while_the_projector_is_behind)
{
    build_state(4000, 400);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    int64_t end = feed_end();
    const int64_t behind = 60;

    struct gm_redisproj *proj = projector(prefix);
    struct gm_err err;
    size_t n;
    cr_assert_eq(gm_redisproj_step(proj, st, (size_t)(end - behind), &n, &err), 0, "%s", err.msg);
    cr_assert_eq(redis_cursor(c, prefix), end - behind);
    struct lines lagging = redis_lines(c, prefix, true);

    /* Redis lacks the last 60 changes: that is lag, not drift */
    struct gm_redisproj *p = reconciler(prefix, 1000000, 100000);
    cr_assert_eq(reconcile(p, true), 0);
    struct lines still = redis_lines(c, prefix, true);
    lines_assert_eq(&still, &lagging, "the reconcile wrote while only lagging");

    /* real drift beside the lag is still found: a member no pending change
     * touches, in a key none touches */
    struct touched t = {0};
    struct gm_feed *f;
    int64_t next;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    cr_assert_eq(gm_feed_changes(f, end - behind, SIZE_MAX, on_touched, &t, &next), 0);
    gm_feed_close(f);
    cr_assert_gt(t.keys.n, 0);
    struct lines keys = board_keys(c, prefix);
    char *victim = NULL, *vkey = NULL;
    for (size_t i = 0; i < keys.n && !victim; i++) {
        if (lines_has(&t.keys, keys.v[i]))
            continue;
        long long card = zcard(c, prefix, keys.v[i]);
        for (long r = 0; r < card && !victim; r++) {
            char *m = member_at(c, prefix, keys.v[i], r);
            if (!lines_has(&t.users, m)) {
                victim = m;
                vkey = keys.v[i];
            } else {
                free(m);
            }
        }
    }
    cr_assert_not_null(victim, "every key or member is touched by the pending changes");
    command(c, "ZADD %s%s XX 99 %s", prefix, vkey, victim);
    cr_assert_eq(reconcile(p, true), 1);
    still = (lines_free(&still), redis_lines(c, prefix, true));
    lines_assert_eq(&still, &lagging, "the repair of one member");

    /* caught up: the former lag is no drift either */
    do
        cr_assert_eq(gm_redisproj_step(proj, st, 1000, &n, &err), 0, "%s", err.msg);
    while (n > 0);
    cr_assert_eq(reconcile(p, true), 0);
    struct gm_redisproj_reconcile_stats rs;
    gm_redisproj_reconcile_stats(p, &rs);
    cr_assert_eq(rs.runs, 3);
    cr_assert_eq(rs.skipped, 0);
    cr_assert_eq(rs.drift, 1);
    struct lines want = state_lines(), got = redis_lines(c, prefix, false);
    lines_assert_eq(&got, &want, "Redis against the state");

    free(victim);
    lines_free(&t.users);
    lines_free(&t.keys);
    lines_free(&keys);
    lines_free(&want);
    lines_free(&got);
    lines_free(&lagging);
    lines_free(&still);
    gm_redisproj_close(p);
    gm_redisproj_close(proj);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

Test(redisproj, reconcile_rebuilds_when_the_drift_is_large)
{
    build_state(4000, 400);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    project_all(prefix, 1000);
    struct lines before = redis_lines(c, prefix, true);
    struct lines keys = board_keys(c, prefix);
    for (size_t i = 0; i < keys.n; i++)
        command(c, "DEL %s%s", prefix, keys.v[i]);

    struct gm_redisproj *p = reconciler(prefix, 1000, 500);
    cr_assert_gt(reconcile(p, true), 500);
    struct gm_redisproj_reconcile_stats rs;
    gm_redisproj_reconcile_stats(p, &rs);
    cr_assert_eq(rs.rebuilds, 1);
    cr_assert_eq(rs.runs, 1);
    struct lines after = redis_lines(c, prefix, true);
    lines_assert_eq(&after, &before, "rebuilt by the reconcile against projected");
    cr_assert_eq(redis_cursor(c, prefix), feed_end());
    redisReply *r = redisCommand(c, "KEYS %srebuild:*", prefix);
    cr_assert_eq(r->elements, 0, "temporary keys left behind");
    freeReplyObject(r);
    /* a small drift after it is repaired, not rebuilt */
    command(c, "ZADD %slb:global:all 1 stranger", prefix);
    cr_assert_eq(reconcile(p, true), 1);
    gm_redisproj_reconcile_stats(p, &rs);
    cr_assert_eq(rs.rebuilds, 1);

    gm_redisproj_close(p);
    lines_free(&before);
    lines_free(&after);
    lines_free(&keys);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

Test(redisproj, reconcile_leaves_the_periods_the_guard_deleted)
{
    build_state(4000, 400);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    project_all(prefix, 1000);
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    char names[64][16];
    int64_t ends[64], now = (int64_t)time(NULL);
    size_t n = key_periods(c, prefix, gm_feed_rules(f), names, ends, 64);
    gm_feed_close(f);
    const char *finished = NULL;
    for (size_t i = 0; i < n && !finished; i++)
        if (ends[i] >= 0 && ends[i] <= now)
            finished = names[i];
    cr_assert_not_null(finished, "no finished period has keys");

    /* what the guard does to a period: its keys and its periods member go */
    struct lines keys = board_keys(c, prefix);
    size_t deleted = 0;
    for (size_t i = 0; i < keys.n; i++) {
        if (strcmp(strrchr(keys.v[i], ':') + 1, finished) == 0) {
            command(c, "DEL %s%s", prefix, keys.v[i]);
            deleted++;
        }
    }
    command(c, "SREM %speriods %s", prefix, finished);
    cr_assert_gt(deleted, 0);
    struct lines guarded = redis_lines(c, prefix, true);

    struct gm_redisproj *p = reconciler(prefix, 1000000, 100000);
    cr_assert_eq(reconcile(p, true), 0, "the guard's deletions counted as drift");
    struct lines after = redis_lines(c, prefix, true);
    lines_assert_eq(&after, &guarded, "the reconcile brought back what the guard deleted");

    gm_redisproj_close(p);
    lines_free(&keys);
    lines_free(&guarded);
    lines_free(&after);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

Test(redisproj, reconcile_of_one_partition_repairs_only_its_own_learners)
{
    build_state(4000, 400);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    project_all(prefix, 1000);
    /* another partition's member and a wrong score of ours */
    command(c, "ZADD %slb:global:all 5 of-another-partition", prefix);
    char *m = member_at(c, prefix, "lb:global:all", 2);
    command(c, "ZADD %slb:global:all XX 4 %s", prefix, m);
    free(m);
    struct gm_redisproj *p = reconciler(prefix, 1000000, 1);
    cr_assert_eq(reconcile(p, false), 1);
    struct gm_redisproj_reconcile_stats rs;
    gm_redisproj_reconcile_stats(p, &rs);
    cr_assert_eq(rs.rebuilds, 0, "a partition alone may not rebuild the shared boards");
    redisReply *r = redisCommand(c, "ZSCORE %slb:global:all of-another-partition", prefix);
    cr_assert(r && r->type == REDIS_REPLY_STRING, "another partition's member was removed");
    freeReplyObject(r);
    command(c, "ZREM %slb:global:all of-another-partition", prefix);
    struct lines want = state_lines(), got = redis_lines(c, prefix, false);
    lines_assert_eq(&got, &want, "Redis against the state");

    gm_redisproj_close(p);
    lines_free(&want);
    lines_free(&got);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

Test(redisproj, a_step_runs_the_reconcile_on_schedule)
{
    build_state(2000, 200);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    struct gm_redisproj_opts o = {
        .prefix = prefix, .reconcile_interval_ms = 3000, .reconcile_whole = true};
    struct gm_redisproj *p;
    struct gm_err err;
    size_t n;
    cr_assert_eq(gm_redisproj_open(gm_test_server_env("GAMIFY_TEST_REDIS"), 0, &o, &p, &err), 0,
                 "%s", err.msg);
    do
        cr_assert_eq(gm_redisproj_step(p, st, 5000, &n, &err), 0, "%s", err.msg);
    while (n > 0);
    struct gm_redisproj_reconcile_stats rs;
    gm_redisproj_reconcile_stats(p, &rs);
    cr_assert_eq(rs.runs, 0, "a run before its interval");
    command(c, "ZADD %slb:global:all 1 stranger", prefix);
    struct timespec ts = {3, 100 * 1000000};
    nanosleep(&ts, NULL);
    cr_assert_eq(gm_redisproj_step(p, st, 5000, &n, &err), 0, "%s", err.msg);
    gm_redisproj_reconcile_stats(p, &rs);
    cr_assert_eq(rs.runs, 1);
    cr_assert_eq(rs.drift, 1);
    cr_assert_eq(gm_redisproj_step(p, st, 5000, &n, &err), 0, "%s", err.msg);
    gm_redisproj_reconcile_stats(p, &rs);
    cr_assert_eq(rs.runs, 1, "ran again before its interval");

    gm_redisproj_close(p);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

Test(redisproj, a_redis_that_lost_its_data_is_rebuilt_by_the_reconcile)
{
    build_state(2000, 200);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    project_all(prefix, 1000);
    struct lines before = redis_lines(c, prefix, true);
    /* the feed trimmed behind the projector, then Redis restarted empty */
    struct gm_err err;
    uint64_t trimmed;
    cr_assert_eq(gm_state_trim_changes(st, feed_end(), &trimmed, &err), 0, "%s", err.msg);
    cr_assert_gt(trimmed, 0);
    flush_prefix(c, prefix);

    size_t n;
    struct gm_redisproj *plain = projector(prefix);
    cr_assert_eq(gm_redisproj_step(plain, st, 1000, &n, &err), GM_ENOTFOUND);
    gm_redisproj_close(plain);

    struct gm_redisproj_opts o = {
        .prefix = prefix, .reconcile_interval_ms = 300000, .reconcile_whole = true};
    struct gm_redisproj *p;
    cr_assert_eq(gm_redisproj_open(gm_test_server_env("GAMIFY_TEST_REDIS"), 0, &o, &p, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(gm_redisproj_step(p, st, 1000, &n, &err), 0, "%s", err.msg);
    struct gm_redisproj_reconcile_stats rs;
    gm_redisproj_reconcile_stats(p, &rs);
    cr_assert_eq(rs.rebuilds, 1);
    struct lines after = redis_lines(c, prefix, true);
    lines_assert_eq(&after, &before, "rebuilt after the loss");
    cr_assert_eq(gm_redisproj_step(p, st, 1000, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 0);
    cr_assert_eq(gm_redisproj_cursor(p), feed_end());

    gm_redisproj_close(p);
    lines_free(&before);
    lines_free(&after);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

/*
 * After a batch the projector keeps watching its cursor instead of reading
 * it again before the next one: a cursor moved by someone else in between
 * (backwards by a rebuild of an older state, forwards past the state) must
 * still be the one the next batch starts from.
 */
Test(redisproj, a_cursor_moved_between_batches_is_seen_by_the_next_batch)
{
    build_state(2000, 200);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    struct gm_redisproj *p = projector(prefix);
    struct gm_err err;
    size_t n;
    cr_assert_eq(gm_redisproj_step(p, st, 100, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 100);
    long long first = redis_cursor(c, prefix);
    cr_assert_eq(first, gm_redisproj_cursor(p));
    cr_assert_gt(first, 60);
    /* up to date with nothing new in between: a step of the armed cursor */
    cr_assert_eq(gm_redisproj_step(p, st, 100, &n, &err), 0, "%s", err.msg);
    long long second = redis_cursor(c, prefix);
    cr_assert_gt(second, first);

    /* moved back: the next batch starts there, not at the projector's own */
    command(c, "SET %scursor:0 %lld", prefix, second - 60);
    cr_assert_eq(gm_redisproj_step(p, st, 100, &n, &err), 0, "%s", err.msg);
    long long third = redis_cursor(c, prefix);
    cr_assert_eq(gm_redisproj_cursor(p), third);
    cr_assert_lt(third, second + 100, "the batch ignored the moved cursor (%lld, %lld)", second,
                 third);
    cr_assert_gt(third, second - 60);

    /* moved past the state: refused, as when it is read at the start */
    command(c, "SET %scursor:0 %lld", prefix, (long long)feed_end() + 5);
    cr_assert_eq(gm_redisproj_step(p, st, 100, &n, &err), GM_EINVAL);
    cr_assert(strstr(err.msg, "gamify rebuild"), "%s", err.msg);
    cr_assert_eq(redis_cursor(c, prefix), feed_end() + 5);

    /* back where it was: the rest, and Redis equals the state */
    command(c, "SET %scursor:0 %lld", prefix, third);
    do
        cr_assert_eq(gm_redisproj_step(p, st, 500, &n, &err), 0, "%s", err.msg);
    while (n > 0);
    cr_assert_eq(redis_cursor(c, prefix), feed_end());
    struct lines want = state_lines(), got = redis_lines(c, prefix, false);
    lines_assert_eq(&got, &want, "Redis against the state");

    gm_redisproj_close(p);
    lines_free(&want);
    lines_free(&got);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

/*
 * The early hand-over (gm_redisproj_early) writes a batch's changes before
 * its commit, offer by offer, each write going on from where the last one
 * ended; the step after the commit only moves the cursor when the early
 * writes cover it. A step that writes changes itself writes absolute
 * scores from the cursor on: when it stops (its max) before where the early
 * writes had gone, the members changed in between hold older scores again,
 * and no later step may count the early writes as covering them. The
 * offers here are made by hand in the order the processor's runner can
 * meet them: two offers written early, a third offered with the commit, a
 * short step, the third written early, a step.
 */
Test(redisproj, a_short_step_after_early_writes_leaves_no_stale_score)
{
    build_state(2000, 200);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    struct gm_redisproj *p = projector(prefix);
    struct gm_feedshare *share = gm_feedshare_new(GM_FEEDSHARE_CHANGES);
    gm_redisproj_set_share(p, share);
    struct gm_err err;
    size_t n;
    do
        cr_assert_eq(gm_redisproj_step(p, st, 100000, &n, &err), 0, "%s", err.msg);
    while (n > 0);
    int64_t base = feed_end();
    cr_assert_eq(gm_redisproj_cursor(p), base);

    /* the same 40 learners in two offers, then one learner in a third */
    long long now = (long long)time(NULL) - 5 * 86400;
    char args[256];
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    snprintf(args, sizeof args, "--events 400 --users 40 --seed 71 --span-days 1 --start %lld",
             now);
    apply_generated(args);
    cr_assert_eq(gm_feedshare_offer(share, st), 0);
    cr_assert_eq(gm_redisproj_early(p, 100000, &n, &err), 0, "%s", err.msg);
    int64_t first_end = gm_state_pending_end(st);
    cr_assert_eq((int64_t)n, first_end - base, "the first offer written early");
    snprintf(args, sizeof args, "--events 400 --users 40 --seed 72 --span-days 1 --start %lld",
             now + 86400);
    apply_generated(args);
    cr_assert_eq(gm_feedshare_offer(share, st), 0);
    cr_assert_eq(gm_redisproj_early(p, 100000, &n, &err), 0, "%s", err.msg);
    cr_assert_eq((int64_t)n, gm_state_pending_end(st) - first_end, "the second offer goes on");
    snprintf(args, sizeof args, "--events 5 --users 1 --seed 73 --span-days 1 --start %lld",
             now + 2 * 86400);
    apply_generated(args);
    cr_assert_eq(gm_feedshare_offer(share, st), 0);
    cr_assert_eq(gm_state_commit(st, 0, &err), 0, "%s", err.msg);
    gm_feedshare_settle(share, gm_state_change_end(st));

    /* a step shorter than the first offer, then the third written early */
    cr_assert_eq(gm_redisproj_step(p, st, 100, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 100);
    cr_assert_eq(gm_redisproj_early(p, 100000, &n, &err), 0, "%s", err.msg);
    do
        cr_assert_eq(gm_redisproj_step(p, st, 100000, &n, &err), 0, "%s", err.msg);
    while (n > 0);
    cr_assert_eq(redis_cursor(c, prefix), feed_end());
    struct lines want = state_lines(), got = redis_lines(c, prefix, false);
    lines_assert_eq(&got, &want, "Redis against the state");

    gm_redisproj_close(p);
    gm_feedshare_free(share);
    lines_free(&want);
    lines_free(&got);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}

/* The first change that prunes periods: its sequence number and its first
 * period. */
struct first_prune {
    int64_t seq;
    char period[32];
};

static int
on_first_prune(void *ctx, const struct gm_change *ch)
{
    struct first_prune *f = ctx;
    if (ch->n_pruned_periods == 0)
        return 0;
    f->seq = ch->seq;
    snprintf(f->period, sizeof f->period, "%s", ch->pruned_periods[0]);
    return 1; /* stop */
}

/* The leaderboard keys of period under prefix. */
static size_t
keys_of_period(redisContext *c, const char *prefix, const char *period)
{
    struct lines keys = board_keys(c, prefix);
    size_t n = 0;
    for (size_t i = 0; i < keys.n; i++)
        n += strcmp(strrchr(keys.v[i], ':') + 1, period) == 0;
    lines_free(&keys);
    return n;
}

/*
 * Kafka: every partition writes the same boards and drops a period by its
 * own newest event. A period's keys go when the last partition that wrote
 * to this Redis has pruned it, not with the first one (which would take
 * the other partitions' members with it). Two projectors of the same state
 * as partitions 0 and 1: 1 stops before the first prune, 0 goes to the end.
 * The events are dated after now (a replay with a wide
 * --future-skew-seconds), so that the keys' TTLs, which end at the same
 * boundary on the wall clock, have not removed the pruned periods already.
 */
Test(redisproj, a_period_goes_when_every_partition_has_pruned_it)
{
    build_state_from(4000, 400, (long long)time(NULL) + 86400);
    redisContext *c = connect_redis();
    char *prefix = new_prefix();
    struct gm_redisproj_opts o = {.prefix = prefix};
    struct gm_redisproj *p0, *p1;
    struct gm_err err;
    const char *url = gm_test_server_env("GAMIFY_TEST_REDIS");
    cr_assert_eq(gm_redisproj_open(url, 0, &o, &p0, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_redisproj_open(url, 1, &o, &p1, &err), 0, "%s", err.msg);

    struct first_prune fp = {.seq = -1};
    struct gm_feed *f;
    int64_t next;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    int rc = gm_feed_changes(f, gm_feed_start(f), SIZE_MAX, on_first_prune, &fp, &next);
    gm_feed_close(f);
    cr_assert_eq(rc, 1, "no change prunes a period");
    cr_assert_gt(fp.seq, 0);

    size_t n;
    cr_assert_eq(gm_redisproj_step(p1, st, (size_t)fp.seq, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_redisproj_cursor(p1), fp.seq);
    size_t keys = keys_of_period(c, prefix, fp.period);
    cr_assert_gt(keys, 0, "partition 1 wrote no key of %s", fp.period);
    do
        cr_assert_eq(gm_redisproj_step(p0, st, 1000, &n, &err), 0, "%s", err.msg);
    while (n > 0);
    cr_assert_eq(keys_of_period(c, prefix, fp.period), keys,
                 "partition 0 deleted %s while partition 1 still has it", fp.period);
    redisReply *r = redisCommand(c, "SMEMBERS %spruned:%s", prefix, fp.period);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
                  strcmp(r->element[0]->str, "0") == 0,
              "the pruned mark of %s", fp.period);
    freeReplyObject(r);

    do
        cr_assert_eq(gm_redisproj_step(p1, st, 1000, &n, &err), 0, "%s", err.msg);
    while (n > 0);
    cr_assert_eq(keys_of_period(c, prefix, fp.period), 0);
    struct lines want = state_lines(), got = redis_lines(c, prefix, false);
    lines_assert_eq(&got, &want, "Redis against the state");
    /* the mark stays, for partitions that write the period later */
    r = redisCommand(c, "SMEMBERS %spruned:%s", prefix, fp.period);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2, "the pruned mark of %s",
              fp.period);
    freeReplyObject(r);
    r = redisCommand(c, "TTL %spruned:%s", prefix, fp.period);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer > 86400 * 300,
              "the pruned mark's TTL");
    freeReplyObject(r);

    gm_redisproj_close(p0);
    gm_redisproj_close(p1);
    lines_free(&want);
    lines_free(&got);
    flush_prefix(c, prefix);
    free(prefix);
    redisFree(c);
}
