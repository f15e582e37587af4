/*
 * gql_bench.c: GraphQL engine throughput (tests/bench/run graphql).
 *
 * Runs two documents against api/schema.graphql with fixed in-memory
 * resolvers over C structs (no I/O, so the figures are the engine's own):
 * a leaderboard page of 10 entries with the caller's rank, and a profile
 * query built from three fragments. Each is run uncached (the engine's
 * cache is off: parse, validate and execute every time) and cached (the
 * prepared document is found by its text), on one thread, for a fixed
 * wall time per figure. The first response of each is checked against
 * the expected JSON so that a broken engine cannot post a fast figure.
 *
 *   gql_bench SCHEMA_FILE [SECONDS]
 *
 * Prints one line per figure, then `graphql: key=value ...`.
 */
#include "execute.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct badge {
    const char *id, *name, *icon, *criteria;
};
struct user_badge {
    const struct badge *badge;
    const char *earned_at;
};
struct streak {
    int current, longest, freezes;
};
struct profile {
    const char *user_id;
    int exp, level, coins, next_level_exp;
    const struct user_badge *badges;
    size_t n_badges;
    struct streak streak;
};
struct entry {
    int rank;
    const char *user_id;
    int score;
};
struct board {
    const char *board, *period, *period_key;
    struct entry entries[10];
    int me_rank, me_score, total;
    const char *end_cursor;
};

static const struct badge badges[] = {
    {"first-lesson", "First lesson", "star", "lessons_completed >= 1"},
    {"ten-lessons", "Ten lessons", "medal", "lessons_completed >= 10"},
    {"week-streak", "A week in a row", "flame", "current_streak >= 7"},
};
static const struct user_badge user_badges[] = {
    {&badges[0], "2026-11-01T09:00:00Z"},
    {&badges[1], "2026-11-12T18:30:00Z"},
    {&badges[2], "2026-11-20T07:15:00Z"},
};
static const struct profile viewer = {"u1", 1340, 5, 270, 1500, user_badges, 3, {9, 14, 1}};
static const struct board global_board = {
    "global",
    "ALL_TIME",
    "all",
    {{1, "u7", 9120},
     {2, "u3", 8800},
     {3, "u1", 8800},
     {4, "u9", 7310},
     {5, NULL, 7002},
     {6, "u4", 6550},
     {7, "u2", 6100},
     {8, "u8", 5990},
     {9, "u5", 5400},
     {10, "u6", 5120}},
    3,
    8800,
    4210,
    "10",
};

/* ---- resolvers: one per shape, the member's offset as field data ---- */

#define AT(ctx, type) ((const char *)(ctx)->parent + (size_t)(uintptr_t)(ctx)->field_data)

static int
res_int(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_int(out, *(const int *)AT(ctx, int));
    return 0;
}

static int
res_str(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const char *s = *(const char *const *)AT(ctx, char *);
    if (s)
        gm_gql_rval_str(out, s, strlen(s));
    else
        gm_gql_rval_null(out);
    return 0;
}

static int
res_user_profile(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_obj(out, &viewer, NULL);
    (void)ctx;
    return 0;
}

static int
res_profile_badges(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct profile *p = ctx->parent;
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, p->n_badges);
    if (!items)
        return gm_gql_rctx_error(ctx, NULL, "out of request memory");
    for (size_t i = 0; i < p->n_badges; i++)
        gm_gql_rval_obj(&items[i], &p->badges[i], NULL);
    return 0;
}

static int
res_profile_streak(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct profile *p = ctx->parent;
    gm_gql_rval_obj(out, &p->streak, NULL);
    return 0;
}

static int
res_user_badge_badge(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct user_badge *ub = ctx->parent;
    gm_gql_rval_obj(out, ub->badge, NULL);
    return 0;
}

static int
res_leaderboard(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_obj(out, &global_board, NULL);
    (void)ctx;
    return 0;
}

static int
res_board_entries(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct board *b = ctx->parent;
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, 10);
    if (!items)
        return gm_gql_rctx_error(ctx, NULL, "out of request memory");
    for (size_t i = 0; i < 10; i++)
        gm_gql_rval_obj(&items[i], &b->entries[i], NULL);
    return 0;
}

static int
res_board_me(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_obj(out, ctx->parent, NULL);
    return 0;
}

static int
res_board_page_info(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_obj(out, ctx->parent, NULL);
    return 0;
}

static int
res_has_next(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct board *b = ctx->parent;
    gm_gql_rval_bool(out, b->total > 10);
    return 0;
}

static int
res_unused(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    return gm_gql_rctx_error(ctx, NULL, "%s is not part of the benchmark", ctx->field->name);
    (void)out;
}

#define OFF(type, member) ((void *)(uintptr_t)offsetof(type, member))

static void
bind_all(struct gm_gql_schema *s)
{
    const struct {
        const char *coord;
        gm_gql_resolve_fn fn;
        void *data;
    } binds[] = {
        {"Query.userProfile", res_user_profile, NULL},
        {"Query.leaderboard", res_leaderboard, NULL},
        {"UserProfile.userId", res_str, OFF(struct profile, user_id)},
        {"UserProfile.exp", res_int, OFF(struct profile, exp)},
        {"UserProfile.level", res_int, OFF(struct profile, level)},
        {"UserProfile.coins", res_int, OFF(struct profile, coins)},
        {"UserProfile.nextLevelExp", res_int, OFF(struct profile, next_level_exp)},
        {"UserProfile.badges", res_profile_badges, NULL},
        {"UserProfile.streak", res_profile_streak, NULL},
        {"UserBadge.badge", res_user_badge_badge, NULL},
        {"UserBadge.earnedAt", res_str, OFF(struct user_badge, earned_at)},
        {"Badge.id", res_str, OFF(struct badge, id)},
        {"Badge.name", res_str, OFF(struct badge, name)},
        {"Badge.icon", res_str, OFF(struct badge, icon)},
        {"Badge.criteria", res_str, OFF(struct badge, criteria)},
        {"Streak.currentStreak", res_int, OFF(struct streak, current)},
        {"Streak.longestStreak", res_int, OFF(struct streak, longest)},
        {"Streak.freezesHeld", res_int, OFF(struct streak, freezes)},
        {"Leaderboard.board", res_str, OFF(struct board, board)},
        {"Leaderboard.period", res_str, OFF(struct board, period)},
        {"Leaderboard.periodKey", res_str, OFF(struct board, period_key)},
        {"Leaderboard.entries", res_board_entries, NULL},
        {"Leaderboard.me", res_board_me, NULL},
        {"Leaderboard.totalCount", res_int, OFF(struct board, total)},
        {"Leaderboard.pageInfo", res_board_page_info, NULL},
        {"LeaderboardEntry.rank", res_int, OFF(struct entry, rank)},
        {"LeaderboardEntry.userId", res_str, OFF(struct entry, user_id)},
        {"LeaderboardEntry.score", res_int, OFF(struct entry, score)},
        {"LeaderboardMe.rank", res_int, OFF(struct board, me_rank)},
        {"LeaderboardMe.score", res_int, OFF(struct board, me_score)},
        {"PageInfo.endCursor", res_str, OFF(struct board, end_cursor)},
        {"PageInfo.hasNextPage", res_has_next, NULL},
    };
    struct gm_err err;
    /* Everything else answers with an error: the schema check needs a resolver for each. */
    for (size_t i = 0; i < s->n_types; i++) {
        const struct gm_gql_stype *t = s->types[i];
        if (t->kind != GM_GQL_OBJECT || t->introspection)
            continue;
        for (size_t k = 0; k < t->n_fields; k++) {
            char coord[256];
            snprintf(coord, sizeof coord, "%s.%s", t->name, t->fields[k].name);
            gm_gql_schema_bind(s, coord, res_unused, NULL, &err);
        }
    }
    for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++) {
        if (gm_gql_schema_bind(s, binds[i].coord, binds[i].fn, binds[i].data, &err) < 0) {
            fprintf(stderr, "gql_bench: %s\n", err.msg);
            exit(1);
        }
    }
    if (gm_gql_schema_check(s, &err) < 0) {
        fprintf(stderr, "gql_bench: %s\n", err.msg);
        exit(1);
    }
}

static const char leaderboard_query[] =
    "query Leaderboard($first: Int = 10) {\n"
    "  leaderboard(board: \"global\", period: ALL_TIME, first: $first) {\n"
    "    board period periodKey totalCount\n"
    "    entries { rank userId score }\n"
    "    me { rank score }\n"
    "    pageInfo { endCursor hasNextPage }\n"
    "  }\n"
    "}\n";

static const char leaderboard_want[] =
    "{\"data\":{\"leaderboard\":{\"board\":\"global\",\"period\":\"ALL_TIME\","
    "\"periodKey\":\"all\",\"totalCount\":4210,\"entries\":["
    "{\"rank\":1,\"userId\":\"u7\",\"score\":9120},{\"rank\":2,\"userId\":\"u3\",\"score\":8800},"
    "{\"rank\":3,\"userId\":\"u1\",\"score\":8800},{\"rank\":4,\"userId\":\"u9\",\"score\":7310},"
    "{\"rank\":5,\"userId\":null,\"score\":7002},{\"rank\":6,\"userId\":\"u4\",\"score\":6550},"
    "{\"rank\":7,\"userId\":\"u2\",\"score\":6100},{\"rank\":8,\"userId\":\"u8\",\"score\":5990},"
    "{\"rank\":9,\"userId\":\"u5\",\"score\":5400},{\"rank\":10,\"userId\":\"u6\",\"score\":5120}],"
    "\"me\":{\"rank\":3,\"score\":8800},"
    "\"pageInfo\":{\"endCursor\":\"10\",\"hasNextPage\":true}}}}";

static const char profile_query[] =
    "query Profile {\n"
    "  userProfile {\n"
    "    ...ProfileBasics\n"
    "    badges { ...EarnedBadge }\n"
    "    streak { ...StreakInfo }\n"
    "  }\n"
    "}\n"
    "fragment ProfileBasics on UserProfile { userId exp level coins nextLevelExp }\n"
    "fragment EarnedBadge on UserBadge { earnedAt badge { id name icon criteria } }\n"
    "fragment StreakInfo on Streak { currentStreak longestStreak freezesHeld }\n";

static const char profile_want[] =
    "{\"data\":{\"userProfile\":{\"userId\":\"u1\",\"exp\":1340,\"level\":5,\"coins\":270,"
    "\"nextLevelExp\":1500,\"badges\":["
    "{\"earnedAt\":\"2026-11-01T09:00:00Z\",\"badge\":{\"id\":\"first-lesson\",\"name\":\"First "
    "lesson\",\"icon\":\"star\",\"criteria\":\"lessons_completed >= 1\"}},"
    "{\"earnedAt\":\"2026-11-12T18:30:00Z\",\"badge\":{\"id\":\"ten-lessons\",\"name\":\"Ten "
    "lessons\",\"icon\":\"medal\",\"criteria\":\"lessons_completed >= 10\"}},"
    "{\"earnedAt\":\"2026-11-20T07:15:00Z\",\"badge\":{\"id\":\"week-streak\",\"name\":\"A week in "
    "a row\",\"icon\":\"flame\",\"criteria\":\"current_streak >= 7\"}}],"
    "\"streak\":{\"currentStreak\":9,\"longestStreak\":14,\"freezesHeld\":1}}}}";

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs query for `seconds`; returns operations per second. */
static double
measure(struct gm_gql_engine *e, const char *query, const char *want, double seconds)
{
    struct gm_arena a;
    gm_arena_init(&a, 8 << 20);
    struct gm_gql_exec_params params = {0};
    struct gm_gql_response resp;
    size_t len = strlen(query);
    if (gm_gql_run(e, query, len, &params, &a, &resp) != 0 || strcmp(resp.json, want) != 0) {
        fprintf(stderr, "gql_bench: wrong response\n got: %s\nwant: %s\n", resp.json, want);
        exit(1);
    }
    gm_arena_reset(&a);
    unsigned long ops = 0;
    double start = now(), elapsed;
    do {
        for (int i = 0; i < 1000; i++) {
            if (gm_gql_run(e, query, len, &params, &a, &resp) != 0 || resp.n_errors) {
                fprintf(stderr, "gql_bench: request failed: %s\n", resp.json);
                exit(1);
            }
            gm_arena_reset(&a);
        }
        ops += 1000;
        elapsed = now() - start;
    } while (elapsed < seconds);
    gm_arena_deinit(&a);
    return (double)ops / elapsed;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gql_bench SCHEMA_FILE [SECONDS [CASE...]]\n");
        return 2;
    }
    double seconds = argc > 2 ? atof(argv[2]) : 5.0;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    static char sdl[1 << 20];
    size_t len = fread(sdl, 1, sizeof sdl, f);
    fclose(f);
    struct gm_gql_schema *s;
    struct gm_err err;
    if (gm_gql_schema_new(sdl, len, &s, &err) < 0) {
        fprintf(stderr, "gql_bench: schema %d:%d: %s\n", err.line, err.column, err.msg);
        return 1;
    }
    bind_all(s);
    struct gm_gql_engine_opts off = {.cache_off = true}, on = {0};
    struct gm_gql_engine *uncached = gm_gql_engine_new(s, &off),
                         *cached = gm_gql_engine_new(s, &on);

    /* Optional case names after SECONDS pick cases (for profiling one path). */
    const char *names[4] = {"leaderboard_uncached", "leaderboard_cached", "profile_uncached",
                            "profile_cached"};
    struct gm_gql_engine *engines[4] = {uncached, cached, uncached, cached};
    const char *queries[4] = {leaderboard_query, leaderboard_query, profile_query, profile_query};
    const char *wants[4] = {leaderboard_want, leaderboard_want, profile_want, profile_want};
    double ops[4] = {0};
    bool all = argc <= 3;
    for (int k = 0; k < 4; k++) {
        bool pick = all;
        for (int i = 3; i < argc; i++)
            pick = pick || strcmp(argv[i], names[k]) == 0;
        if (!pick)
            continue;
        ops[k] = measure(engines[k], queries[k], wants[k], seconds);
        printf("%-22s %.0f ops/s\n", names[k], ops[k]);
    }
    if (!all)
        goto out;
    struct gm_gql_engine_stats st;
    gm_gql_engine_stats(cached, &st);
    if (st.cache_misses != 2) {
        fprintf(stderr, "gql_bench: the cached engine missed %llu times, want 2\n",
                (unsigned long long)st.cache_misses);
        return 1;
    }
    printf("graphql: leaderboard_uncached_ops=%.0f leaderboard_cached_ops=%.0f "
           "profile_uncached_ops=%.0f profile_cached_ops=%.0f\n",
           ops[0], ops[1], ops[2], ops[3]);
out:
    gm_gql_engine_free(uncached);
    gm_gql_engine_free(cached);
    gm_gql_schema_free(s);
    return 0;
}
