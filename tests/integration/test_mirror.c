/*
 * test_mirror.c: gamify-api's board mirror (api/resolvers/mirror.c)
 * against the real Redis. A board written the way the Redis projector
 * writes (ZADD and the leaderboard-scores message in one MULTI/EXEC) must
 * answer every question of the leaderboard script exactly as Redis does:
 * size, the caller's score, rank and position, pages by position and
 * around the caller, the rank of a page's first entry, with many equal
 * scores (member order decides) and negative ones. Then what drops boards:
 * a reset item, a score written without a message, a key deleted.
 */
#include "internal.h"
#include "lbscore.h"
#include "lbscores.h"
#include "server_env.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static redisContext *
redis(const char *url)
{
    const char *p = url + strlen("redis://");
    char host[256];
    const char *colon = strchr(p, ':');
    cr_assert(colon && (size_t)(colon - p) < sizeof host, "bad Redis URL %s", url);
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = 0;
    redisContext *c = redisConnect(host, atoi(colon + 1));
    cr_assert(c && !c->err, "connect %s", url);
    return c;
}

static void
ok(redisReply *r)
{
    cr_assert(r && r->type != REDIS_REPLY_ERROR, "Redis: %s", r ? r->str : "no reply");
    freeReplyObject(r);
}

struct fixture {
    redisContext *c;
    struct gm_api_backend *b;
    char prefix[96], key[160], channel[160];
    unsigned seed;
};

static void
open_fixture_budget(struct fixture *f, int check_ms, int64_t budget)
{
    const char *url = gm_test_server_env("GAMIFY_TEST_REDIS");
    const char *pg = getenv("GAMIFY_TEST_PG");
    f->c = redis(url);
    char *u = gm_test_unique_name("mirror");
    snprintf(f->prefix, sizeof f->prefix, "%s:", u);
    free(u);
    snprintf(f->key, sizeof f->key, "%slb:global:all", f->prefix);
    snprintf(f->channel, sizeof f->channel, "%sleaderboard-scores", f->prefix);
    struct gm_api_backend_opts o = {.postgres = pg && pg[0] ? pg : "host=/nonexistent",
                                    .redis = url};
    struct gm_api_backend_opts_ex ex = {
        .redis_prefix = f->prefix, .mirror_members = budget, .mirror_check_ms = check_ms};
    struct gm_err e;
    gm_err_clear(&e);
    cr_assert_eq(gm_api_backend_open_ex(&o, &ex, &f->b, &e), 0, "%s", e.msg);
    cr_assert_not_null(f->b->mirror);
    f->seed = 7;
}

static void
open_fixture(struct fixture *f, int check_ms)
{
    open_fixture_budget(f, check_ms, 1000000);
}

static void
close_fixture(struct fixture *f)
{
    gm_api_backend_close(f->b);
    redisFree(f->c);
}

static uint32_t
rnd(struct fixture *f)
{
    f->seed = f->seed * 1103515245u + 12345u;
    return f->seed >> 8;
}

/* Members with shared prefixes and various lengths: member order matters on ties. */
static void
member(struct fixture *f, char out[32])
{
    static const char *stems[] = {"u", "u1", "user-", "user-1", "\xc3\xa9", "zz"};
    snprintf(out, 32, "%s%u", stems[rnd(f) % 6], rnd(f) % 700);
}

static int64_t
score(struct fixture *f)
{
    /* few distinct points, each with few reach ticks: many equal scores */
    int64_t points = (int64_t)(rnd(f) % 40) - 5;
    return points * GM_LBSCORE_TICKS + (int64_t)(rnd(f) % 3);
}

/* n writes in one MULTI/EXEC with their message, as the projector does (without:
 * n new members, as something else than the projector might write). */
static void
write_batch(struct fixture *f, size_t n, bool with_message)
{
    static unsigned fresh;
    struct gm_lbscores m = {0};
    ok(redisCommand(f->c, "MULTI"));
    for (size_t i = 0; i < n; i++) {
        char mem[32];
        if (with_message)
            member(f, mem);
        else /* new members only: the size check sees them */
            snprintf(mem, sizeof mem, "new-%u", fresh++);
        int64_t s = score(f);
        ok(redisCommand(f->c, "ZADD %s %lld %s", f->key, (long long)s, mem));
        gm_lbscores_add(&m, f->key, strlen(f->key), mem, strlen(mem), s);
    }
    if (with_message)
        ok(redisCommand(f->c, "PUBLISH %s %b", f->channel, m.buf, m.len));
    ok(redisCommand(f->c, "EXEC"));
    gm_lbscores_deinit(&m);
}

/* What the leaderboard script (leaderboard.c) answers. */
struct truth {
    int64_t total, me_score, me_rank, start, first_rank;
    bool has_me;
    size_t n;
    char members[128][32];
    int64_t scores[128];
};

static int64_t
integer(redisReply *r)
{
    int64_t v = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return v;
}

static void
truth(struct fixture *f, const char *me, int64_t start, int64_t count, int64_t around,
      struct truth *t)
{
    /* the resolvers' own script: what a request answers without the mirror */
    char boards[128], s_start[24], s_count[24], s_around[24];
    snprintf(boards, sizeof boards, "%sboards", f->prefix);
    snprintf(s_start, sizeof s_start, "%lld", (long long)start);
    snprintf(s_count, sizeof s_count, "%lld", (long long)count);
    snprintf(s_around, sizeof s_around, "%lld", (long long)around);
    const char *argv[] = {"EVAL",  gm__lb_script, "2", f->key,   boards,
                          s_start, s_count,       me,  s_around, "global"};
    redisReply *r = redisCommandArgv(f->c, 10, argv, NULL);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 8, "the script: %s",
              r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    memset(t, 0, sizeof *t);
    redisReply **e = r->element;
    t->total = e[0]->integer;
    if (e[2]->type == REDIS_REPLY_STRING && e[2]->len > 0) {
        t->has_me = true;
        gm_lbscore_parse(e[2]->str, &t->me_score, NULL);
        t->me_rank = e[3]->integer;
    }
    t->start = e[5]->integer;
    t->first_rank = e[6]->integer;
    t->n = e[7]->elements / 2;
    cr_assert_leq(t->n, 128);
    for (size_t i = 0; i < t->n; i++) {
        snprintf(t->members[i], 32, "%s", e[7]->element[2 * i]->str);
        gm_lbscore_parse(e[7]->element[2 * i + 1]->str, &t->scores[i], NULL);
    }
    freeReplyObject(r);
}

/* Whether the mirror answers as Redis does; diff says how not. */
static bool
same(struct fixture *f, const char *me, int64_t start, int64_t count, int64_t around, char *diff,
     size_t diff_len)
{
    struct truth t;
    truth(f, me, start, count, around, &t);
    struct gm_arena a;
    gm_arena_init(&a, 1 << 20);
    struct gm__mirror_answer m;
    bool held = gm__mirror_read(f->b->mirror, f->key, start, count, me, around, &a, &m);
    bool eq = held && !m.oom && m.total == t.total && m.has_me == t.has_me &&
              (!t.has_me || (m.me_score == t.me_score && m.me_rank == t.me_rank)) && m.n == t.n &&
              (t.n == 0 || (m.start == t.start && m.first_rank == t.first_rank));
    for (size_t i = 0; eq && i < t.n; i++)
        eq = strcmp(m.members[i], t.members[i]) == 0 && m.scores[i] == t.scores[i];
    snprintf(diff, diff_len,
             "me %s start %lld count %lld around %lld: held %d total %lld/%lld me %d/%d "
             "%lld/%lld rank %lld/%lld n %zu/%zu start %lld/%lld first %lld/%lld page0 %s/%s",
             me, (long long)start, (long long)count, (long long)around, held, (long long)m.total,
             (long long)t.total, m.has_me, t.has_me, (long long)m.me_score, (long long)t.me_score,
             (long long)m.me_rank, (long long)t.me_rank, m.n, t.n, (long long)m.start,
             (long long)t.start, (long long)m.first_rank, (long long)t.first_rank,
             m.n ? m.members[0] : "-", t.n ? t.members[0] : "-");
    gm_arena_deinit(&a);
    return eq;
}

/* Asks until the mirror agrees (it applies messages a moment after Redis). */
static void
agree(struct fixture *f, const char *me, int64_t start, int64_t count, int64_t around,
      const char *what)
{
    char diff[512];
    for (int i = 0; i < 300; i++) {
        if (same(f, me, start, count, around, diff, sizeof diff))
            return;
        usleep(10000);
    }
    cr_assert_fail("%s: the mirror does not answer as Redis: %s", what, diff);
}

static struct gm_api_backend_stats
stats(struct fixture *f)
{
    struct gm_api_backend_stats s;
    gm_api_backend_stats(f->b, &s);
    return s;
}

static uint64_t
loads(struct fixture *f)
{
    return stats(f).mirror_loads;
}

Test(mirror, answers_as_redis_through_writes)
{
    struct fixture f;
    open_fixture(&f, 1000);
    write_batch(&f, 1500, true);
    agree(&f, "u1", 0, 10, -1, "after the load");
    cr_assert_eq(loads(&f), 1);
    for (int round = 0; round < 60; round++) {
        write_batch(&f, 1 + rnd(&f) % 60, true);
        char me[32];
        member(&f, me);
        int64_t total = integer(redisCommand(f.c, "ZCARD %s", f.key));
        int64_t start = (int64_t)(rnd(&f) % (uint32_t)(total + 5));
        int64_t around = round % 3 == 0 ? (int64_t)(rnd(&f) % 26) : -1;
        agree(&f, me, start, 1 + rnd(&f) % 50, around, "after writes");
        agree(&f, me, 0, 10, -1, "the top");
    }
    /* only ever loaded once: every change came by message */
    cr_assert_eq(loads(&f), 1);
    close_fixture(&f);
}

Test(mirror, drops_boards_on_a_reset_and_on_writes_without_a_message)
{
    struct fixture f;
    open_fixture(&f, 200);
    write_batch(&f, 300, true);
    agree(&f, "u1", 0, 10, -1, "after the load");
    uint64_t n = loads(&f);
    /* a reset item: the board is read again */
    ok(redisCommand(f.c, "PUBLISH %s SR", f.channel));
    for (int i = 0; i < 300 && loads(&f) == n; i++) {
        char diff[512];
        same(&f, "u1", 0, 10, -1, diff, sizeof diff);
        usleep(10000);
    }
    cr_assert_gt(loads(&f), n, "a reset makes the mirror read the board again");
    agree(&f, "u1", 0, 10, -1, "after the reset");
    /* scores written without a message: the size check finds the new members */
    write_batch(&f, 40, false);
    agree(&f, "new-3", 0, 100, -1, "members written without a message");
    /* the key deleted without a message: the board goes */
    ok(redisCommand(f.c, "DEL %s", f.key));
    char diff[512];
    bool gone = false;
    for (int i = 0; i < 300 && !gone; i++) {
        struct gm_arena a;
        gm_arena_init(&a, 1 << 16);
        struct gm__mirror_answer m;
        gone = !gm__mirror_read(f.b->mirror, f.key, 0, 10, "u1", -1, &a, &m);
        gm_arena_deinit(&a);
        usleep(10000);
    }
    cr_assert(gone, "a deleted board is dropped");
    /* and written again, it is loaded again */
    write_batch(&f, 50, true);
    agree(&f, "u1", 0, 10, 3, "written again");
    (void)diff;
    close_fixture(&f);
}

/* Members moving from the bottom of a board to its top empty whole blocks
 * of the mirror's order (and split others): positions and deep pages stay
 * Redis's. */
Test(mirror, blocks_emptied_and_split)
{
    struct fixture f;
    open_fixture(&f, 1000);
    ok(redisCommand(f.c, "MULTI"));
    for (int i = 0; i < 3000; i++)
        ok(redisCommand(f.c, "ZADD %s %d m%04d", f.key, i, i));
    ok(redisCommand(f.c, "EXEC"));
    agree(&f, "m0000", 2990, 10, -1, "after the load, the bottom");
    for (int round = 0; round < 8; round++) {
        struct gm_lbscores m = {0};
        ok(redisCommand(f.c, "MULTI"));
        for (int i = round * 100; i < round * 100 + 100; i++) {
            char mem[16];
            snprintf(mem, sizeof mem, "m%04d", i);
            ok(redisCommand(f.c, "ZADD %s %d %s", f.key, 100000 + i, mem));
            gm_lbscores_add(&m, f.key, strlen(f.key), mem, strlen(mem), 100000 + i);
        }
        ok(redisCommand(f.c, "PUBLISH %s %b", f.channel, m.buf, m.len));
        ok(redisCommand(f.c, "EXEC"));
        gm_lbscores_deinit(&m);
        agree(&f, "m0000", 0, 20, -1, "the top");
        agree(&f, "m0950", 2950, 50, -1, "the bottom");
        agree(&f, "m1500", 1200 + round * 150, 100, -1, "the middle");
        agree(&f, "m0799", 0, 0, 25, "around a moved member");
    }
    /* 300 members of the middle spread over the blocks above them (room in
     * each, no split): the blocks they leave empty go from the middle */
    struct gm_lbscores m = {0};
    ok(redisCommand(f.c, "MULTI"));
    for (int i = 1400; i < 1700; i++) {
        char mem[16];
        snprintf(mem, sizeof mem, "m%04d", i);
        int sc = 1700 + (i - 1400) * 3;
        ok(redisCommand(f.c, "ZADD %s %d %s", f.key, sc, mem));
        gm_lbscores_add(&m, f.key, strlen(f.key), mem, strlen(mem), sc);
    }
    ok(redisCommand(f.c, "PUBLISH %s %b", f.channel, m.buf, m.len));
    ok(redisCommand(f.c, "EXEC"));
    gm_lbscores_deinit(&m);
    for (int start = 0; start < 3000; start += 250)
        agree(&f, "m1000", start, 50, -1, "after the middle moved");
    agree(&f, "m1399", 0, 0, 25, "around the first below the moved");
    cr_assert_eq(loads(&f), 1);
    close_fixture(&f);
}

/* A board that messages grow past --mirror-members is dropped at a check
 * and then read from Redis (the answers stay right). */
Test(mirror, a_board_grown_past_the_budget_goes_to_redis)
{
    struct fixture f;
    open_fixture_budget(&f, 200, 500);
    ok(redisCommand(f.c, "MULTI"));
    for (int i = 0; i < 300; i++)
        ok(redisCommand(f.c, "ZADD %s %d m%04d", f.key, i, i));
    ok(redisCommand(f.c, "EXEC"));
    agree(&f, "m0010", 0, 10, -1, "300 members, within the budget");
    struct gm_lbscores m = {0};
    ok(redisCommand(f.c, "MULTI"));
    for (int i = 300; i < 600; i++) {
        char mem[16];
        snprintf(mem, sizeof mem, "m%04d", i);
        ok(redisCommand(f.c, "ZADD %s %d %s", f.key, i, mem));
        gm_lbscores_add(&m, f.key, strlen(f.key), mem, strlen(mem), i);
    }
    ok(redisCommand(f.c, "PUBLISH %s %b", f.channel, m.buf, m.len));
    ok(redisCommand(f.c, "EXEC"));
    gm_lbscores_deinit(&m);
    for (int i = 0; i < 300 && stats(&f).mirror_budget_drops == 0; i++)
        usleep(10000);
    cr_assert_eq(stats(&f).mirror_budget_drops, 1, "600 members past a budget of 500");
    cr_assert_eq(stats(&f).mirror_boards, 0);
    struct gm_arena a;
    gm_arena_init(&a, 1 << 16);
    struct gm__mirror_answer ans;
    cr_assert_not(gm__mirror_read(f.b->mirror, f.key, 0, 10, "m0010", -1, &a, &ans),
                  "the dropped board is not read again while it is past the budget");
    gm_arena_deinit(&a);
    close_fixture(&f);
}
