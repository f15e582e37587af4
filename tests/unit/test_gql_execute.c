/*
 * test_gql_execute.c: executing GraphQL requests (execute.h) over the
 * public schema (api/schema.graphql) with small fixed in-memory resolvers,
 * and over a second small schema with input objects, nested input lists,
 * an interface, a union, DateTime arguments and deprecations.
 *
 * Each test compares the whole JSON response: data in selection order,
 * null propagation to the nearest nullable parent, errors with message,
 * locations, path and extensions.code, variable and argument coercion,
 * @skip/@include, fragments, aliases and __typename, introspection, string
 * escaping, request errors; then the prepared-document cache (hits,
 * eviction, an entry released after its eviction, two threads at once).
 * A third small schema covers Float text, Int from text, a long list under
 * a memory budget and enum suggestions; variable messages are compared
 * with graphql-js 16.8.2's (inspect, "Did you mean", the 50-error limit).
 */
#include "execute.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixed data ---- */

struct t_badge {
    const char *id;
    const char *name;
    const char *icon;
    const char *criteria;
};

struct t_ubadge {
    const struct t_badge *badge;
    const char *earned_at;
};

struct t_streak {
    int64_t cur;
    int64_t longest;
    int64_t freezes;
};

struct t_user {
    const char *id;
    int64_t exp;
    int64_t level;
    int64_t coins;
    const struct t_ubadge *badges;
    size_t n_badges;
    const struct t_streak *streak;
};

struct t_entry {
    int64_t rank;
    const char *user;
    int64_t score;
};

struct t_board {
    const char *board;
    const char *key;
    const struct t_entry *entries;
    size_t n;
    struct t_entry me;
    int64_t total;
    const char *cursor;
};

struct t_reward {
    const char *id;
    const char *name;
    int64_t cost;
    const char *type;
    int64_t stock; /* -1: unlimited */
    bool active;
};

struct t_payload {
    const char *status;
    const char *reason;
    const char *redemption_id;
    const char *reward_id;
};

static const struct t_badge badge_first = {"first", "First \"steps\"\\ \n\t\x01 é 😀 \xff", NULL,
                                           "lessons_completed >= 1"};
static const struct t_badge badge_week = {"week", "Week", "flame", "current_streak >= 7"};
static const struct t_ubadge u1_badges[] = {{&badge_first, "2026-11-20T10:00:00Z"},
                                            {&badge_week, "2026-11-24T08:30:00.5+01:00"}};
static const struct t_streak u1_streak = {5, 9, 1};
static const struct t_user users[] = {
    {"u1", 1200, 3, 50, u1_badges, 2, &u1_streak},
    {"u2", 300, 1, 0, NULL, 0, NULL},
};
static const struct t_entry entries[] = {{1, "u1", 1200}, {2, NULL, 900}, {3, "u3", 500}};
static const struct t_board board = {"global", "all", entries, 3, {1, "u1", 1200}, 3, "c3"};
static const struct t_reward rewards[] = {
    {"freeze", "Streak freeze", 20, "streak_freeze", -1, true},
    {"hat", "Hat", 100, "avatar", 4, false},
};

/* Switches set by a test; what the resolvers saw. */
struct t_ctx {
    int null_rank_at; /* index of an entry whose rank is null; -1 none */
    bool me_rank_null;
    bool rewards_null;
    bool coins_forbidden;
    bool bad_period;
    bool huge_stock;
    bool bad_date;
    int profile_calls;
    char seen_board[32];
    char seen_period[32];
    int64_t seen_first;
    bool seen_after;
};

static struct t_ctx *
tctx(struct gm_gql_rctx *ctx)
{
    return ctx->context;
}

/* Generic getters: field_data is the member's offset in the parent. */
static int
r_str(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const char *s = *(const char *const *)((const char *)ctx->parent + (uintptr_t)ctx->field_data);
    if (s)
        gm_gql_rval_str(out, s, strlen(s));
    return 0;
}

static int
r_int(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_int(out,
                    *(const int64_t *)((const char *)ctx->parent + (uintptr_t)ctx->field_data));
    return 0;
}

static const struct t_user *
find_user(struct gm_gql_rctx *ctx)
{
    const struct gm_gql_ival *id = gm_gql_arg(ctx, "userId");
    const char *want = id && id->kind == GM_GQL_I_STRING ? id->s : "u1";
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
        if (strcmp(users[i].id, want) == 0)
            return &users[i];
    return NULL;
}

static int
q_user_profile(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    tctx(ctx)->profile_calls++;
    gm_gql_rval_obj(out, find_user(ctx), NULL);
    return 0;
}

static int
badges_of(struct gm_gql_rctx *ctx, const struct t_user *u, struct gm_gql_rval *out)
{
    size_t n = u ? u->n_badges : 0;
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, n);
    for (size_t i = 0; i < n; i++)
        gm_gql_rval_obj(&items[i], &u->badges[i], NULL);
    return 0;
}

static int
q_badges(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    return badges_of(ctx, find_user(ctx), out);
}

static int
q_leaderboard(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    struct t_ctx *t = tctx(ctx);
    const struct gm_gql_ival *b = gm_gql_arg(ctx, "board");
    const struct gm_gql_ival *p = gm_gql_arg(ctx, "period");
    const struct gm_gql_ival *f = gm_gql_arg(ctx, "first");
    cr_assert(b && p && f, "defaults apply");
    snprintf(t->seen_board, sizeof t->seen_board, "%s", b->kind == GM_GQL_I_NULL ? "(null)" : b->s);
    cr_assert_eq(p->kind, GM_GQL_I_ENUM);
    snprintf(t->seen_period, sizeof t->seen_period, "%s", p->s);
    t->seen_first = f->kind == GM_GQL_I_INT ? f->i : -1;
    t->seen_after = gm_gql_arg(ctx, "after") != NULL;
    if (b->kind == GM_GQL_I_STRING && strcmp(b->s, "none") == 0)
        return 0;
    if (b->kind == GM_GQL_I_STRING && strcmp(b->s, "secret") == 0)
        return gm_gql_rctx_error(ctx, "FORBIDDEN", "Board %s is not yours.", b->s);
    gm_gql_rval_obj(out, &board, NULL);
    return 0;
}

static int
q_rewards(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    if (tctx(ctx)->rewards_null)
        return 0;
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, 2);
    for (size_t i = 0; i < 2; i++)
        gm_gql_rval_obj(&items[i], &rewards[i], NULL);
    return 0;
}

static int
q_streaks(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct t_user *u = find_user(ctx);
    gm_gql_rval_obj(out, u ? u->streak : NULL, NULL);
    return 0;
}

static int
m_redeem(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct gm_gql_ival *id = gm_gql_arg(ctx, "rewardId");
    struct t_payload *p = gm_arena_alloc(ctx->arena, sizeof(*p));
    p->reward_id = id->s;
    if (strcmp(id->s, "freeze") == 0) {
        p->status = "COMPLETED";
        p->redemption_id = "rd1";
    } else {
        p->status = "REJECTED";
        p->reason = "UNKNOWN_REWARD";
    }
    gm_gql_rval_obj(out, p, NULL);
    return 0;
}

static int
p_redemption(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct t_payload *p = ctx->parent;
    gm_gql_rval_obj(out, p->redemption_id ? p : NULL, NULL);
    return 0;
}

static int
u_coins(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    if (tctx(ctx)->coins_forbidden)
        return gm_gql_rctx_error(ctx, "FORBIDDEN", "Only %s sees their coins.",
                                 ((const struct t_user *)ctx->parent)->id);
    return r_int(ctx, out);
}

static int
u_next(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct t_user *u = ctx->parent;
    if (u->level < 3)
        gm_gql_rval_int(out, 1000);
    return 0;
}

static int
u_badges(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    return badges_of(ctx, ctx->parent, out);
}

static int
u_streak(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_obj(out, ((const struct t_user *)ctx->parent)->streak, NULL);
    return 0;
}

static int
ub_badge(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_obj(out, ((const struct t_ubadge *)ctx->parent)->badge, NULL);
    return 0;
}

static int
ub_earned(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const char *s =
        tctx(ctx)->bad_date ? "yesterday" : ((const struct t_ubadge *)ctx->parent)->earned_at;
    gm_gql_rval_str(out, s, strlen(s));
    return 0;
}

static int
lb_period(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const char *s = tctx(ctx)->bad_period ? "YEARLY" : "ALL_TIME";
    gm_gql_rval_str(out, s, strlen(s));
    return 0;
}

static int
lb_entries(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct t_board *b = ctx->parent;
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, b->n);
    for (size_t i = 0; i < b->n; i++)
        gm_gql_rval_obj(&items[i], &b->entries[i], NULL);
    return 0;
}

static int
lb_me(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_obj(out, &((const struct t_board *)ctx->parent)->me, NULL);
    return 0;
}

static int
lb_self(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_obj(out, ctx->parent, NULL);
    return 0;
}

static int
e_rank(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct t_entry *e = ctx->parent;
    struct t_ctx *t = tctx(ctx);
    if (t->null_rank_at >= 0 && e == &entries[t->null_rank_at])
        return 0;
    if (t->me_rank_null && e == &board.me)
        return 0;
    gm_gql_rval_int(out, e->rank);
    return 0;
}

static int
pi_next(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    (void)ctx;
    gm_gql_rval_bool(out, false);
    return 0;
}

static int
rw_stock(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct t_reward *r = ctx->parent;
    if (tctx(ctx)->huge_stock)
        gm_gql_rval_int(out, 3000000000LL);
    else if (r->stock >= 0)
        gm_gql_rval_int(out, r->stock);
    return 0;
}

static int
rw_active(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_bool(out, ((const struct t_reward *)ctx->parent)->active);
    return 0;
}

static int
rd_status(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    (void)ctx;
    gm_gql_rval_str(out, "COMPLETED", 9);
    return 0;
}

/* The learner's history and the badge catalogue are not exercised here
 * (tests/api runs them against the real read model): null, or no items. */
static int
t_none(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    if (ctx->field->type->kind == GM_GQL_TYPE_NON_NULL)
        gm_gql_rval_list(ctx, out, 0);
    else
        gm_gql_rval_null(out);
    return 0;
}

struct t_bind {
    const char *coord;
    gm_gql_resolve_fn fn;
    size_t off;
};

#define OFF(type, member) offsetof(struct type, member)

static const struct t_bind binds[] = {
    {"Query.userProfile", q_user_profile, 0},
    {"Query.badges", q_badges, 0},
    {"Query.leaderboard", q_leaderboard, 0},
    {"Subscription.leaderboardChanged", q_leaderboard, 0},
    {"Query.rewards", q_rewards, 0},
    {"Query.streaks", q_streaks, 0},
    {"Mutation.redeemReward", m_redeem, 0},
    {"UserProfile.userId", r_str, OFF(t_user, id)},
    {"UserProfile.exp", r_int, OFF(t_user, exp)},
    {"UserProfile.level", r_int, OFF(t_user, level)},
    {"UserProfile.coins", u_coins, OFF(t_user, coins)},
    {"UserProfile.nextLevelExp", u_next, 0},
    {"UserProfile.badges", u_badges, 0},
    {"UserProfile.streak", u_streak, 0},
    {"UserBadge.badge", ub_badge, 0},
    {"UserBadge.earnedAt", ub_earned, 0},
    {"Badge.id", r_str, OFF(t_badge, id)},
    {"Badge.name", r_str, OFF(t_badge, name)},
    {"Badge.icon", r_str, OFF(t_badge, icon)},
    {"Badge.criteria", r_str, OFF(t_badge, criteria)},
    {"Leaderboard.board", r_str, OFF(t_board, board)},
    {"Leaderboard.period", lb_period, 0},
    {"Leaderboard.periodKey", r_str, OFF(t_board, key)},
    {"Leaderboard.entries", lb_entries, 0},
    {"Leaderboard.me", lb_me, 0},
    {"Leaderboard.totalCount", r_int, OFF(t_board, total)},
    {"Leaderboard.pageInfo", lb_self, 0},
    {"LeaderboardEntry.rank", e_rank, 0},
    {"LeaderboardEntry.userId", r_str, OFF(t_entry, user)},
    {"LeaderboardEntry.score", r_int, OFF(t_entry, score)},
    {"LeaderboardMe.rank", e_rank, 0},
    {"LeaderboardMe.score", r_int, OFF(t_entry, score)},
    {"PageInfo.endCursor", r_str, OFF(t_board, cursor)},
    {"PageInfo.hasNextPage", pi_next, 0},
    {"Reward.id", r_str, OFF(t_reward, id)},
    {"Reward.name", r_str, OFF(t_reward, name)},
    {"Reward.cost", r_int, OFF(t_reward, cost)},
    {"Reward.type", r_str, OFF(t_reward, type)},
    {"Reward.stock", rw_stock, 0},
    {"Reward.active", rw_active, 0},
    {"Streak.currentStreak", r_int, OFF(t_streak, cur)},
    {"Streak.longestStreak", r_int, OFF(t_streak, longest)},
    {"Streak.freezesHeld", r_int, OFF(t_streak, freezes)},
    {"RedeemRewardPayload.status", r_str, OFF(t_payload, status)},
    {"RedeemRewardPayload.reason", r_str, OFF(t_payload, reason)},
    {"RedeemRewardPayload.redemption", p_redemption, 0},
    {"Redemption.id", r_str, OFF(t_payload, redemption_id)},
    {"Redemption.rewardId", r_str, OFF(t_payload, reward_id)},
    {"Redemption.status", rd_status, 0},
    {"Redemption.reason", t_none, 0},
    {"Redemption.occurredAt", t_none, 0},
    {"Query.badgeCatalogue", t_none, 0},
    {"Query.redemptions", t_none, 0},
    {"Query.redemption", t_none, 0},
    {"Query.ledger", t_none, 0},
    {"BadgeCatalogueEntry.badge", t_none, 0},
    {"BadgeCatalogueEntry.earned", t_none, 0},
    {"BadgeCatalogueEntry.earnedAt", t_none, 0},
    {"RedemptionPage.entries", t_none, 0},
    {"RedemptionPage.totalCount", t_none, 0},
    {"RedemptionPage.pageInfo", t_none, 0},
    {"LedgerPage.entries", t_none, 0},
    {"LedgerPage.totalCount", t_none, 0},
    {"LedgerPage.pageInfo", t_none, 0},
    {"LedgerEntry.eventId", t_none, 0},
    {"LedgerEntry.kind", t_none, 0},
    {"LedgerEntry.detail", t_none, 0},
    {"LedgerEntry.expDelta", t_none, 0},
    {"LedgerEntry.coinsDelta", t_none, 0},
    {"LedgerEntry.expAfter", t_none, 0},
    {"LedgerEntry.coinsAfter", t_none, 0},
    {"LedgerEntry.cappedExp", t_none, 0},
    {"LedgerEntry.occurredAt", t_none, 0},
};

static struct gm_gql_schema *
public_schema(void)
{
    const char *root = getenv("GAMIFY_SOURCE_ROOT");
    cr_assert(root, "GAMIFY_SOURCE_ROOT is not set (run the tests through meson)");
    char path[4096];
    snprintf(path, sizeof path, "%s/api/schema.graphql", root);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    char *buf = malloc(1 << 20);
    size_t len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    struct gm_gql_schema *s = NULL;
    struct gm_err err;
    int rc = gm_gql_schema_new(buf, len, &s, &err);
    free(buf);
    cr_assert_eq(rc, 0, "schema: %d:%d %s", err.line, err.column, err.msg);
    for (size_t i = 0; i < sizeof(binds) / sizeof(binds[0]); i++)
        cr_assert_eq(gm_gql_schema_bind(s, binds[i].coord, binds[i].fn,
                                        (void *)(uintptr_t)binds[i].off, &err),
                     0, "%s", err.msg);
    cr_assert_eq(gm_gql_schema_check(s, &err), 0, "%s", err.msg);
    return s;
}

/* ---- running requests ---- */

static struct gm_gql_schema *schema;
static struct gm_gql_engine *engine;

static void
setup(void)
{
    schema = public_schema();
    engine = gm_gql_engine_new(schema, NULL);
}

static void
teardown(void)
{
    gm_gql_engine_free(engine);
    gm_gql_schema_free(schema);
}

static struct t_ctx
ctx_default(void)
{
    struct t_ctx t;
    memset(&t, 0, sizeof t);
    t.null_rank_at = -1;
    return t;
}

struct result {
    char *json;
    bool has_data;
    size_t n_errors;
    int rc;
};

static struct result
run_full(struct gm_gql_engine *e, const char *q, const char *vars, const char *op, struct t_ctx *t)
{
    json_t *v = NULL;
    if (vars) {
        json_error_t jerr;
        v = json_loads(vars, JSON_DECODE_ANY, &jerr);
        cr_assert(v, "bad test variables: %s", jerr.text);
    }
    struct t_ctx local = ctx_default();
    struct gm_gql_exec_params params = {
        .operation_name = op, .variables = v, .context = t ? t : &local};
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_response resp;
    struct result r;
    r.rc = gm_gql_run(e, q, strlen(q), &params, &a, &resp);
    cr_assert_not_null(resp.json, "no response for %s", q);
    cr_assert_eq(strlen(resp.json), resp.len);
    r.json = strdup(resp.json);
    r.has_data = resp.has_data;
    r.n_errors = resp.n_errors;
    gm_arena_deinit(&a);
    json_decref(v);
    /* Every response is valid JSON. */
    json_error_t jerr;
    json_t *parsed = json_loads(r.json, 0, &jerr);
    cr_assert(parsed, "invalid JSON response %s: %s", r.json, jerr.text);
    json_decref(parsed);
    return r;
}

/* Runs q and asserts the exact response text. */
static void
expect(const char *q, const char *vars, struct t_ctx *t, const char *want)
{
    struct result r = run_full(engine, q, vars, NULL, t);
    cr_assert_eq(r.rc, 0);
    cr_assert_str_eq(r.json, want, "\nquery: %s\n  got: %s\n want: %s", q, r.json, want);
    free(r.json);
}

TestSuite(gql_execute, .init = setup, .fini = teardown);

/* ---- tests ---- */

Test(gql_execute, leaderboard_query)
{
    struct t_ctx t = ctx_default();
    expect("{ leaderboard(first: 10) { entries { rank userId score } me { rank score } } }", NULL,
           &t,
           "{\"data\":{\"leaderboard\":{\"entries\":[{\"rank\":1,\"userId\":\"u1\",\"score\":1200},"
           "{\"rank\":2,\"userId\":null,\"score\":900},{\"rank\":3,\"userId\":\"u3\",\"score\":"
           "500}],\"me\":{\"rank\":1,\"score\":1200}}}}");
    cr_assert_str_eq(t.seen_board, "global");
    cr_assert_str_eq(t.seen_period, "ALL_TIME");
    cr_assert_eq(t.seen_first, 10);
    cr_assert_not(t.seen_after);
    /* Again through the cache: the same answer, arguments from the cached plan. */
    struct t_ctx t2 = ctx_default();
    expect("{ leaderboard(first: 10) { entries { rank userId score } me { rank score } } }", NULL,
           &t2,
           "{\"data\":{\"leaderboard\":{\"entries\":[{\"rank\":1,\"userId\":\"u1\",\"score\":1200},"
           "{\"rank\":2,\"userId\":null,\"score\":900},{\"rank\":3,\"userId\":\"u3\",\"score\":"
           "500}],\"me\":{\"rank\":1,\"score\":1200}}}}");
    cr_assert_eq(t2.seen_first, 10);
    struct gm_gql_engine_stats st;
    gm_gql_engine_stats(engine, &st);
    cr_assert_eq(st.cache_hits, 1);
    cr_assert_eq(st.cache_misses, 1);
}

Test(gql_execute, literal_arguments)
{
    struct t_ctx t = ctx_default();
    expect("{ leaderboard(board: \"class-7\", period: WEEKLY, first: 3, after: null) "
           "{ board totalCount } }",
           NULL, &t, "{\"data\":{\"leaderboard\":{\"board\":\"global\",\"totalCount\":3}}}");
    cr_assert_str_eq(t.seen_board, "class-7");
    cr_assert_str_eq(t.seen_period, "WEEKLY");
    cr_assert_eq(t.seen_first, 3);
    cr_assert(t.seen_after, "an explicit null is given");
    /* ID accepts an integer literal. */
    expect("{ userProfile(userId: 42) { userId } }", NULL, NULL,
           "{\"data\":{\"userProfile\":null}}");
}

Test(gql_execute, aliases_typename_and_merging)
{
    expect("{ a: leaderboard(first: 2) { __typename totalCount } leaderboard { board } "
           "leaderboard { periodKey board } __typename }",
           NULL, NULL,
           "{\"data\":{\"a\":{\"__typename\":\"Leaderboard\",\"totalCount\":3},\"leaderboard\":"
           "{\"board\":\"global\",\"periodKey\":\"all\"},\"__typename\":\"Query\"}}");
    expect("mutation { __typename r: redeemReward(rewardId: \"freeze\") { status redemption "
           "{ id rewardId status } } x: redeemReward(rewardId: \"nope\") { status reason "
           "redemption { id } } }",
           NULL, NULL,
           "{\"data\":{\"__typename\":\"Mutation\",\"r\":{\"status\":\"COMPLETED\","
           "\"redemption\":{\"id\":\"rd1\",\"rewardId\":\"freeze\",\"status\":\"COMPLETED\"}},"
           "\"x\":{\"status\":\"REJECTED\",\"reason\":\"UNKNOWN_REWARD\",\"redemption\":null}}}");
}

Test(gql_execute, fragments)
{
    expect("{ userProfile { ...P ... on UserProfile { level } ... { coins exp } "
           "...P badges { ...B } } } "
           "fragment P on UserProfile { userId exp } "
           "fragment B on UserBadge { earnedAt badge { id } }",
           NULL, NULL,
           "{\"data\":{\"userProfile\":{\"userId\":\"u1\",\"exp\":1200,\"level\":3,\"coins\":50,"
           "\"badges\":[{\"earnedAt\":\"2026-11-20T10:00:00Z\",\"badge\":{\"id\":\"first\"}},"
           "{\"earnedAt\":\"2026-11-24T08:30:00.5+01:00\",\"badge\":{\"id\":\"week\"}}]}}}");
}

Test(gql_execute, skip_include)
{
    const char *q = "query Q($s: Boolean!, $i: Boolean = true) { rewards @skip(if: $s) { id } "
                    "streaks @include(if: $i) { freezesHeld @skip(if: false) longestStreak "
                    "@include(if: true) } ... @skip(if: $s) { b: __typename } }";
    expect(q, "{\"s\": true}", NULL,
           "{\"data\":{\"streaks\":{\"freezesHeld\":1,\"longestStreak\":9}}}");
    /* Same document, other variables: plans depending on them are not reused. */
    expect(q, "{\"s\": false, \"i\": false}", NULL,
           "{\"data\":{\"rewards\":[{\"id\":\"freeze\"},{\"id\":\"hat\"}],\"b\":\"Query\"}}");
    expect(q, "{\"s\": true}", NULL,
           "{\"data\":{\"streaks\":{\"freezesHeld\":1,\"longestStreak\":9}}}");
    /* Both directives: included only when include is true and skip false. */
    expect("{ a: streaks @include(if: true) @skip(if: true) { freezesHeld } b: streaks "
           "@include(if: true) @skip(if: false) { freezesHeld } }",
           NULL, NULL, "{\"data\":{\"b\":{\"freezesHeld\":1}}}");
}

Test(gql_execute, null_in_nullable_parent)
{
    struct t_ctx t = ctx_default();
    t.me_rank_null = true;
    expect("{ leaderboard {\n  totalCount\n  me { score rank } } }", NULL, &t,
           "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field "
           "LeaderboardMe.rank.\",\"locations\":[{\"line\":3,\"column\":14}],\"path\":["
           "\"leaderboard\",\"me\",\"rank\"],\"extensions\":{\"code\":\"INTERNAL_SERVER_ERROR\"}}"
           "],\"data\":{\"leaderboard\":{\"totalCount\":3,\"me\":null}}}");
}

Test(gql_execute, null_in_list_propagates)
{
    struct t_ctx t = ctx_default();
    t.null_rank_at = 1;
    /* [LeaderboardEntry!]! and Leaderboard.entries non-null: up to the nullable leaderboard. */
    struct result r = run_full(
        engine, "{ streaks { currentStreak } leaderboard { entries { score rank } totalCount } }",
        NULL, NULL, &t);
    cr_assert_str_eq(
        r.json, "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field "
                "LeaderboardEntry.rank.\",\"locations\":[{\"line\":1,\"column\":59}],\"path\":["
                "\"leaderboard\",\"entries\",1,\"rank\"],\"extensions\":{\"code\":\"INTERNAL_"
                "SERVER_ERROR\"}}"
                "],\"data\":{\"streaks\":{\"currentStreak\":5},\"leaderboard\":null}}");
    cr_assert(r.has_data);
    cr_assert_eq(r.n_errors, 1);
    free(r.json);
}

Test(gql_execute, null_at_root_nulls_data)
{
    struct t_ctx t = ctx_default();
    t.rewards_null = true;
    /* Fields after the failing one are not executed (graphql-js). */
    expect("{ streaks { currentStreak } rewards { id } userProfile { exp } }", NULL, &t,
           "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field "
           "Query.rewards.\",\"locations\":[{\"line\":1,\"column\":29}],\"path\":[\"rewards\"],"
           "\"extensions\":{\"code\":\"INTERNAL_SERVER_ERROR\"}}],\"data\":null}");
    cr_assert_eq(t.profile_calls, 0);
}

Test(gql_execute, resolver_errors)
{
    struct t_ctx t = ctx_default();
    t.coins_forbidden = true;
    /* Both nodes of a merged field are the error's locations. */
    expect("{ userProfile { coins exp coins } leaderboard(board: \"secret\") { board } }", NULL, &t,
           "{\"errors\":[{\"message\":\"Only u1 sees their coins.\",\"locations\":[{\"line\":1,"
           "\"column\":17},{\"line\":1,\"column\":27}],\"path\":[\"userProfile\",\"coins\"],"
           "\"extensions\":{\"code\":\"FORBIDDEN\"}},{\"message\":\"Board secret is not yours.\","
           "\"locations\":[{\"line\":1,\"column\":35}],\"path\":[\"leaderboard\"],\"extensions\":"
           "{\"code\":\"FORBIDDEN\"}}],\"data\":{\"userProfile\":{\"coins\":null,\"exp\":1200},"
           "\"leaderboard\":null}}");
}

Test(gql_execute, leaf_serialisation_errors)
{
    struct t_ctx t = ctx_default();
    t.huge_stock = true;
    expect("{ rewards { stock } }", NULL, &t,
           "{\"errors\":[{\"message\":\"Int cannot represent non 32-bit signed integer value: "
           "3000000000\",\"locations\":[{\"line\":1,\"column\":13}],\"path\":[\"rewards\",0,"
           "\"stock\"],\"extensions\":{\"code\":\"INTERNAL_SERVER_ERROR\"}},{\"message\":\"Int "
           "cannot represent non 32-bit signed integer value: 3000000000\",\"locations\":[{"
           "\"line\":1,\"column\":13}],\"path\":[\"rewards\",1,\"stock\"],\"extensions\":{"
           "\"code\":\"INTERNAL_SERVER_ERROR\"}}],\"data\":{\"rewards\":[{\"stock\":null},{"
           "\"stock\":null}]}}");
    t = ctx_default();
    t.bad_period = true;
    expect("{ leaderboard { period } }", NULL, &t,
           "{\"errors\":[{\"message\":\"Enum \\\"LeaderboardPeriod\\\" cannot represent value: "
           "\\\"YEARLY\\\"\",\"locations\":[{\"line\":1,\"column\":17}],\"path\":[\"leaderboard\","
           "\"period\"],\"extensions\":{\"code\":\"INTERNAL_SERVER_ERROR\"}}],\"data\":{"
           "\"leaderboard\":null}}");
    t = ctx_default();
    t.bad_date = true;
    struct result r = run_full(engine, "{ badges { earnedAt } }", NULL, NULL, &t);
    cr_assert(strstr(r.json, "\"data\":null"), "%s", r.json);
    cr_assert(strstr(r.json, "DateTime cannot represent an invalid date-time string: "
                             "\\\"yesterday\\\""),
              "%s", r.json);
    cr_assert(strstr(r.json, "\"path\":[\"badges\",0,\"earnedAt\"]"), "%s", r.json);
    free(r.json);
}

Test(gql_execute, json_escaping)
{
    expect("{ badges { badge { name icon } } }", NULL, NULL,
           "{\"data\":{\"badges\":[{\"badge\":{\"name\":\"First \\\"steps\\\"\\\\ \\n\\t\\u0001 "
           "é 😀 \\ufffd\",\"icon\":null}},{\"badge\":{\"name\":\"Week\",\"icon\":\"flame\"}}]}}");
    /* Strings from the document too: decoded, then escaped again. */
    struct t_ctx t = ctx_default();
    expect("{ leaderboard(board: \"a\\\"\\u00e9\\u0007\") { totalCount } }", NULL, &t,
           "{\"data\":{\"leaderboard\":{\"totalCount\":3}}}");
    cr_assert_str_eq(t.seen_board, "a\"\xc3\xa9\x07");
}

Test(gql_execute, variables)
{
    struct t_ctx t = ctx_default();
    const char *q = "query($b: ID, $p: LeaderboardPeriod!, $n: Int = 5) { leaderboard(board: $b, "
                    "period: $p, first: $n) { totalCount } }";
    expect(q, "{\"p\": \"MONTHLY\"}", &t, "{\"data\":{\"leaderboard\":{\"totalCount\":3}}}");
    cr_assert_str_eq(t.seen_board, "global", "an unset variable leaves the default");
    cr_assert_str_eq(t.seen_period, "MONTHLY");
    cr_assert_eq(t.seen_first, 5);
    t = ctx_default();
    expect(q, "{\"p\": \"WEEKLY\", \"n\": 7, \"b\": 12}", &t,
           "{\"data\":{\"leaderboard\":{\"totalCount\":3}}}");
    cr_assert_str_eq(t.seen_board, "12", "ID accepts an integer");
    cr_assert_eq(t.seen_first, 7);
    t = ctx_default();
    expect(q, "{\"p\": \"WEEKLY\", \"b\": null}", &t,
           "{\"data\":{\"leaderboard\":{\"totalCount\":3}}}");
    cr_assert_str_eq(t.seen_board, "(null)", "an explicit null passes");
}

Test(gql_execute, variable_errors)
{
    const char *q = "query($b: ID, $p: LeaderboardPeriod!, $n: Int) { leaderboard(board: $b, "
                    "period: $p, first: $n) { totalCount } }";
    struct result r = run_full(engine, q, "{}", NULL, NULL);
    cr_assert_str_eq(r.json,
                     "{\"errors\":[{\"message\":\"Variable \\\"$p\\\" of required type "
                     "\\\"LeaderboardPeriod!\\\" was not provided.\",\"locations\":[{\"line\":1,"
                     "\"column\":15}],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}");
    cr_assert_not(r.has_data);
    free(r.json);
    expect(q, "{\"p\": \"YEARLY\", \"n\": \"ten\", \"b\": true}", NULL,
           "{\"errors\":[{\"message\":\"Variable \\\"$b\\\" got invalid value true; ID cannot "
           "represent value: true\",\"locations\":[{\"line\":1,\"column\":7}],\"extensions\":{"
           "\"code\":\"BAD_USER_INPUT\"}},{\"message\":\"Variable \\\"$p\\\" got invalid value "
           "\\\"YEARLY\\\"; Value \\\"YEARLY\\\" does not exist in \\\"LeaderboardPeriod\\\" "
           "enum. Did you mean the enum value "
           "\\\"WEEKLY\\\"?\",\"locations\":[{\"line\":1,\"column\":15}],\"extensions\":{\"code\":"
           "\"BAD_USER_INPUT\"}},{\"message\":\"Variable \\\"$n\\\" got invalid value \\\"ten\\\"; "
           "Int cannot represent non-integer value: \\\"ten\\\"\",\"locations\":[{\"line\":1,"
           "\"column\":39}],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}");
    expect(q, "{\"p\": null, \"n\": 2147483648}", NULL,
           "{\"errors\":[{\"message\":\"Variable \\\"$p\\\" of non-null type "
           "\\\"LeaderboardPeriod!\\\" must not be null.\",\"locations\":[{\"line\":1,\"column\":"
           "15}],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}},{\"message\":\"Variable \\\"$n\\\" "
           "got invalid value 2147483648; Int cannot represent non 32-bit signed integer value: "
           "2147483648\",\"locations\":[{\"line\":1,\"column\":39}],\"extensions\":{\"code\":"
           "\"BAD_USER_INPUT\"}}]}");
    /* A float that is an integer is an Int. */
    struct t_ctx t = ctx_default();
    expect(q, "{\"p\": \"WEEKLY\", \"n\": 4.0}", &t,
           "{\"data\":{\"leaderboard\":{\"totalCount\":3}}}");
    cr_assert_eq(t.seen_first, 4);
    expect(q, "{\"p\": \"WEEKLY\", \"n\": 4.5}", NULL,
           "{\"errors\":[{\"message\":\"Variable \\\"$n\\\" got invalid value 4.5; Int cannot "
           "represent non-integer value: 4.5\",\"locations\":[{\"line\":1,\"column\":39}],"
           "\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}");
}

Test(gql_execute, request_errors)
{
    const char *doc = "query A { streaks { currentStreak } } query B { __typename }";
    struct result r = run_full(engine, doc, NULL, NULL, NULL);
    cr_assert_str_eq(r.json,
                     "{\"errors\":[{\"message\":\"Must provide operation name if query contains "
                     "multiple operations.\",\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}");
    cr_assert_not(r.has_data);
    free(r.json);
    r = run_full(engine, doc, NULL, "C", NULL);
    cr_assert_str_eq(r.json, "{\"errors\":[{\"message\":\"Unknown operation named \\\"C\\\".\","
                             "\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}");
    free(r.json);
    r = run_full(engine, doc, NULL, "B", NULL);
    cr_assert_str_eq(r.json, "{\"data\":{\"__typename\":\"Query\"}}");
    free(r.json);
    /* No operation: the validator refuses it (an unused fragment). */
    r = run_full(engine, "fragment F on Query { __typename }", NULL, NULL, NULL);
    cr_assert_not(r.has_data);
    cr_assert_geq(r.n_errors, 1);
    free(r.json);
    /* Syntax errors: no data, the parser's message and position. */
    r = run_full(engine, "{ leaderboard {", NULL, NULL, NULL);
    cr_assert_str_eq(r.json, "{\"errors\":[{\"message\":\"Syntax Error: Expected Name, found "
                             "<EOF>.\",\"locations\":[{\"line\":1,\"column\":16}],\"extensions\":"
                             "{\"code\":\"GRAPHQL_PARSE_FAILED\"}}]}");
    cr_assert_not(r.has_data);
    free(r.json);
    struct gm_gql_engine_stats st;
    gm_gql_engine_stats(engine, &st);
    cr_assert_eq(st.cache_entries, 1, "documents with errors are not cached");
    /* Operation type for GET requests. */
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    struct gm_gql_prepared *p;
    const char *m = "query Q { __typename } mutation M { __typename }";
    cr_assert_eq(gm_gql_prepare(engine, m, strlen(m), &a, &errs, &p), 0);
    cr_assert_eq(gm_gql_prepared_op_type(p, "Q"), GM_GQL_OP_QUERY);
    cr_assert_eq(gm_gql_prepared_op_type(p, "M"), GM_GQL_OP_MUTATION);
    cr_assert_eq(gm_gql_prepared_op_type(p, NULL), -1);
    cr_assert_eq(gm_gql_prepared_op_type(p, "X"), -1);
    gm_gql_prepared_release(engine, p);
    gm_arena_deinit(&a);
}

Test(gql_execute, argument_errors)
{
    /*
     * A variable with a default may stand where a non-null argument goes;
     * an explicit null then fails at run time, as a field error.
     */
    const char *q = "mutation($id: ID = \"freeze\") { redeemReward(rewardId: $id) { status } }";
    expect(q, "{\"id\": null}", NULL,
           "{\"errors\":[{\"message\":\"Argument \\\"rewardId\\\" of non-null type \\\"ID!\\\" "
           "must not be null.\",\"locations\":[{\"line\":1,\"column\":55}],\"path\":["
           "\"redeemReward\"],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}],\"data\":{"
           "\"redeemReward\":null}}");
    expect(q, NULL, NULL, "{\"data\":{\"redeemReward\":{\"status\":\"COMPLETED\"}}}");
}

Test(gql_execute, introspection_type)
{
    expect("{ __type(name: \"LeaderboardEntry\") { kind name fields { name type { kind name "
           "ofType { kind name } } } interfaces { name } possibleTypes { name } enumValues { "
           "name } inputFields { name } ofType { name } specifiedByURL } }",
           NULL, NULL,
           "{\"data\":{\"__type\":{\"kind\":\"OBJECT\",\"name\":\"LeaderboardEntry\",\"fields\":["
           "{\"name\":\"rank\",\"type\":{\"kind\":\"NON_NULL\",\"name\":null,\"ofType\":{\"kind\":"
           "\"SCALAR\",\"name\":\"Int\"}}},{\"name\":\"userId\",\"type\":{\"kind\":\"SCALAR\","
           "\"name\":\"ID\",\"ofType\":null}},{\"name\":\"score\",\"type\":{\"kind\":\"NON_NULL\","
           "\"name\":null,\"ofType\":{\"kind\":\"SCALAR\",\"name\":\"Int\"}}}],\"interfaces\":[],"
           "\"possibleTypes\":null,\"enumValues\":null,\"inputFields\":null,\"ofType\":null,"
           "\"specifiedByURL\":null}}}");
    expect("{ __type(name: \"Query\") { fields { name args { name defaultValue type { name } } "
           "} } t: __type(name: \"Nope\") { name } }",
           NULL, NULL,
           "{\"data\":{\"__type\":{\"fields\":[{\"name\":\"userProfile\",\"args\":[{\"name\":"
           "\"userId\",\"defaultValue\":null,\"type\":{\"name\":\"ID\"}}]},{\"name\":\"badges\","
           "\"args\":[{\"name\":\"userId\",\"defaultValue\":null,\"type\":{\"name\":\"ID\"}}]},{"
           "\"name\":\"leaderboard\",\"args\":[{\"name\":\"board\",\"defaultValue\":"
           "\"\\\"global\\\"\",\"type\":{\"name\":\"ID\"}},{\"name\":\"period\",\"defaultValue\":"
           "\"ALL_TIME\",\"type\":{\"name\":\"LeaderboardPeriod\"}},{\"name\":\"periodKey\","
           "\"defaultValue\":null,\"type\":{\"name\":\"String\"}},{\"name\":\"first\","
           "\"defaultValue\":\"10\",\"type\":{\"name\":\"Int\"}},{\"name\":\"after\","
           "\"defaultValue\":null,\"type\":{\"name\":\"String\"}},{\"name\":\"around\","
           "\"defaultValue\":null,\"type\":{\"name\":\"Int\"}}]},{\"name\":\"rewards\",\"args\":"
           "[]},{\"name\":\"streaks\",\"args\":[{\"name\":\"userId\",\"defaultValue\":null,"
           "\"type\":{\"name\":\"ID\"}}]},{\"name\":\"badgeCatalogue\",\"args\":[{\"name\":"
           "\"userId\",\"defaultValue\":null,\"type\":{\"name\":\"ID\"}}]},{\"name\":"
           "\"redemptions\",\"args\":[{\"name\":\"userId\",\"defaultValue\":null,\"type\":{"
           "\"name\":\"ID\"}},{\"name\":\"first\",\"defaultValue\":\"20\",\"type\":{\"name\":"
           "\"Int\"}},{\"name\":\"after\",\"defaultValue\":null,\"type\":{\"name\":\"String\"}}"
           ",{\"name\":\"order\",\"defaultValue\":\"OLDEST_FIRST\",\"type\":{\"name\":"
           "\"HistoryOrder\"}}]},{\"name\":\"redemption\",\"args\":[{\"name\":\"id\","
           "\"defaultValue\":null,"
           "\"type\":{\"name\":null}},{\"name\":\"userId\",\"defaultValue\":null,\"type\":{"
           "\"name\":\"ID\"}}]},{\"name\":\"ledger\",\"args\":[{\"name\":\"userId\","
           "\"defaultValue\":null,\"type\":{\"name\":\"ID\"}},{\"name\":\"first\","
           "\"defaultValue\":\"20\",\"type\":{\"name\":\"Int\"}},{\"name\":\"after\","
           "\"defaultValue\":null,\"type\":{\"name\":\"String\"}},{\"name\":\"order\","
           "\"defaultValue\":\"OLDEST_FIRST\",\"type\":{\"name\":\"HistoryOrder\"}}]}]},"
           "\"t\":null}}");
    expect("{ __type(name: \"LeaderboardPeriod\") { enumValues { name isDeprecated "
           "deprecationReason } } }",
           NULL, NULL,
           "{\"data\":{\"__type\":{\"enumValues\":[{\"name\":\"ALL_TIME\",\"isDeprecated\":false,"
           "\"deprecationReason\":null},{\"name\":\"WEEKLY\",\"isDeprecated\":false,"
           "\"deprecationReason\":null},{\"name\":\"MONTHLY\",\"isDeprecated\":false,"
           "\"deprecationReason\":null}]}}}");
}

Test(gql_execute, introspection_schema)
{
    struct result r = run_full(
        engine,
        "{ __schema { description queryType { name } mutationType { name } subscriptionType { "
        "name } types { name kind } directives { name isRepeatable locations args { name type { "
        "kind ofType { name } } } } } }",
        NULL, NULL, NULL);
    json_t *j = json_loads(r.json, 0, NULL);
    json_t *s = json_object_get(json_object_get(j, "data"), "__schema");
    cr_assert(s, "%s", r.json);
    cr_assert(json_is_string(json_object_get(s, "description")));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "queryType"), "name")),
                     "Query");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "mutationType"), "name")),
                     "Mutation");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(s, "subscriptionType"), "name")),
        "Subscription");
    json_t *types = json_object_get(s, "types");
    cr_assert_eq(json_array_size(types), schema->n_types);
    /* graphql-js's order: the SDL's, the built-in scalars where first referenced. */
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(types, 0), "name")),
                     "DateTime");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(types, 1), "name")), "Query");
    for (size_t i = 0; i < json_array_size(types); i++)
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(types, i), "name")),
                         schema->types_ordered[i]->name);
    json_t *dirs = json_object_get(s, "directives");
    cr_assert_eq(json_array_size(dirs), schema->n_directives);
    json_t *skip = NULL;
    for (size_t i = 0; i < json_array_size(dirs); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(dirs, i), "name")), "skip") ==
            0)
            skip = json_array_get(dirs, i);
    cr_assert(skip);
    char *text = json_dumps(skip, JSON_COMPACT | JSON_PRESERVE_ORDER);
    cr_assert_str_eq(text, "{\"name\":\"skip\",\"isRepeatable\":false,\"locations\":[\"FIELD\","
                           "\"FRAGMENT_SPREAD\",\"INLINE_FRAGMENT\"],\"args\":[{\"name\":\"if\","
                           "\"type\":{\"kind\":\"NON_NULL\",\"ofType\":{\"name\":\"Boolean\"}}}]}");
    free(text);
    json_decref(j);
    free(r.json);
}

/* ---- a second schema: inputs, lists, abstract types, deprecations ---- */

static const char *const test_sdl =
    "\"The test schema.\"\n"
    "schema { query: Q }\n"
    "scalar DateTime\n"
    "interface Node { id: ID! }\n"
    "type A implements Node { id: ID! a: Int }\n"
    "type B implements Node { id: ID! b: String @deprecated(reason: \"Use id.\") }\n"
    "union AB = A | B\n"
    "enum Color { RED GREEN @deprecated }\n"
    "input In { x: Int! y: [String] = [\"d\"] c: Color = RED when: DateTime old: Int "
    "@deprecated(reason: \"no\") }\n"
    "type Q {\n"
    "  echo(xs: [[Int!]], o: In, os: [In!], f: Float, t: DateTime, c: [Color]): String\n"
    "  nodes: [Node]\n"
    "  any: [AB!]\n"
    "  bad: Node\n"
    "  big: String\n"
    "  dflt(o: In = {x: 2}, id: ID = 3, f: Float = 2, s: String = \"\"\"a\"b\\c\"\"\"): Int\n"
    "}\n";

/* Prints an input value compactly: [1,[2]], {x:1,y:["d"]}, RED, "s", null. */
static void
print_ival(char *buf, size_t n, size_t *len, const struct gm_gql_ival *v)
{
#define P(...) (*len += (size_t)snprintf(buf + *len, *len < n ? n - *len : 0, __VA_ARGS__))
    if (!v) {
        P("-");
        return;
    }
    switch (v->kind) {
    case GM_GQL_I_NULL:
        P("null");
        break;
    case GM_GQL_I_INT:
        P("%lld", (long long)v->i);
        break;
    case GM_GQL_I_FLOAT:
        P("%g", v->f);
        break;
    case GM_GQL_I_STRING:
        P("\"%s\"", v->s);
        break;
    case GM_GQL_I_BOOL:
        P("%s", v->b ? "true" : "false");
        break;
    case GM_GQL_I_ENUM:
        P("%s", v->s);
        break;
    case GM_GQL_I_LIST:
        P("[");
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                P(",");
            print_ival(buf, n, len, v->items[i]);
        }
        P("]");
        break;
    case GM_GQL_I_OBJECT:
        P("{");
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                P(",");
            P("%s:", v->names[i]);
            print_ival(buf, n, len, v->items[i]);
        }
        P("}");
        break;
    }
#undef P
}

static int
t_echo(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    char buf[512];
    size_t len = 0;
    for (size_t i = 0; i < ctx->field->n_args; i++) {
        if (!ctx->args[i])
            continue;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s=", len ? " " : "",
                                ctx->field->args[i].name);
        print_ival(buf, sizeof buf, &len, ctx->args[i]);
    }
    char *s = gm_arena_strndup(ctx->arena, buf, len);
    gm_gql_rval_str(out, s, len);
    return 0;
}

struct t_node {
    const char *type;
    const char *id;
};

static const struct t_node nodes[] = {{"A", "a1"}, {"B", "b1"}, {"A", "a2"}};

static int
t_nodes(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, 3);
    for (size_t i = 0; i < 3; i++)
        gm_gql_rval_obj(&items[i], &nodes[i], gm_gql_schema_type(ctx->schema, nodes[i].type));
    return 0;
}

static int
t_bad(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    /* No runtime type: an error for an abstract field type. */
    gm_gql_rval_obj(out, &nodes[0], NULL);
    (void)ctx;
    return 0;
}

static int
t_node_id(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct t_node *nd = ctx->parent;
    gm_gql_rval_str(out, nd->id, strlen(nd->id));
    return 0;
}

static int
t_a(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    (void)ctx;
    gm_gql_rval_float(out, 7.0); /* an integral float is an Int */
    return 0;
}

static int
t_b(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    (void)ctx;
    gm_gql_rval_int(out, 12); /* an Int is a String */
    return 0;
}

static int
t_big(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    static char text[100 * 1024];
    (void)ctx;
    memset(text, 'x', sizeof text);
    gm_gql_rval_str(out, text, sizeof text);
    return 0;
}

static struct gm_gql_engine *
test_engine(struct gm_gql_schema **out)
{
    struct gm_gql_schema *s = NULL;
    struct gm_err err;
    cr_assert_eq(gm_gql_schema_new(test_sdl, strlen(test_sdl), &s, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_gql_schema_bind(s, "Q.echo", t_echo, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "Q.nodes", t_nodes, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "Q.any", t_nodes, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "Q.bad", t_bad, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "Q.big", t_big, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "Q.dflt", t_a, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "A.id", t_node_id, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "A.a", t_a, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "B.id", t_node_id, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "B.b", t_b, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_check(s, &err), 0, "%s", err.msg);
    *out = s;
    return gm_gql_engine_new(s, NULL);
}

static void
expect_on(struct gm_gql_engine *e, const char *q, const char *vars, const char *want)
{
    struct result r = run_full(e, q, vars, NULL, NULL);
    cr_assert_str_eq(r.json, want, "\nquery: %s\n  got: %s\n want: %s", q, r.json, want);
    free(r.json);
}

Test(gql_execute, input_coercion_literals)
{
    struct gm_gql_schema *s;
    struct gm_gql_engine *e = test_engine(&s);
    expect_on(e, "{ echo(xs: [[1, 2], null, [3]], o: {x: 1}, f: 2, c: [RED, null]) }", NULL,
              "{\"data\":{\"echo\":\"xs=[[1,2],null,[3]] o={x:1,y:[\\\"d\\\"],c:RED} f=2 "
              "c=[RED,null]\"}}");
    /* A single value where a list goes is a list of one, at each level. */
    expect_on(e, "{ echo(xs: 4, o: {x: 1, y: \"e\", c: GREEN}, c: RED) }", NULL,
              "{\"data\":{\"echo\":\"xs=[[4]] o={x:1,y:[\\\"e\\\"],c:GREEN} c=[RED]\"}}");
    expect_on(e, "{ echo(t: \"2024-02-29T23:59:60.123-05:30\") }", NULL,
              "{\"data\":{\"echo\":\"t=\\\"2024-02-29T23:59:60.123-05:30\\\"\"}}");
    /* Not a date (2023 is no leap year): the validator or the executor refuses it. */
    struct result r = run_full(e, "{ echo(t: \"2023-02-29T00:00:00Z\") }", NULL, NULL, NULL);
    cr_assert(strstr(r.json, "Expected value of type \\\"DateTime\\\"") ||
                  strstr(r.json, "\"data\":{\"echo\":null}"),
              "%s", r.json);
    cr_assert_geq(r.n_errors, 1);
    free(r.json);
    gm_gql_engine_free(e);
    gm_gql_schema_free(s);
}

Test(gql_execute, input_coercion_variables)
{
    struct gm_gql_schema *s;
    struct gm_gql_engine *e = test_engine(&s);
    const char *q = "query($xs: [[Int!]], $o: In, $os: [In!], $t: DateTime) { echo(xs: $xs, o: "
                    "$o, os: $os, t: $t) }";
    expect_on(e, q,
              "{\"xs\": [[1], 2, null], \"o\": {\"x\": 3, \"c\": \"GREEN\", \"when\": "
              "\"2026-11-25T10:00:00Z\"}, \"os\": {\"x\": 4, \"y\": null}}",
              "{\"data\":{\"echo\":\"xs=[[1],[2],null] o={x:3,y:[\\\"d\\\"],c:GREEN,when:\\\"2026-"
              "11-25T10:00:00Z\\\"} os=[{x:4,y:null,c:RED}]\"}}");
    /* Errors carry the path inside the value; all are reported. */
    expect_on(e, q,
              "{\"xs\": [[1, null], [\"2\"]], \"o\": {\"y\": [1], \"z\": 1}, \"os\": [{\"x\": "
              "1}, 5], \"t\": \"2026-11-25 10:00\"}",
              "{\"errors\":[{\"message\":\"Variable \\\"$xs\\\" got invalid value null at "
              "\\\"xs[0][1]\\\"; Expected non-nullable type \\\"Int!\\\" not to be null.\","
              "\"locations\":[{\"line\":1,\"column\":7}],\"extensions\":{\"code\":"
              "\"BAD_USER_INPUT\"}},{\"message\":\"Variable \\\"$xs\\\" got invalid value "
              "\\\"2\\\" at \\\"xs[1][0]\\\"; Int cannot represent non-integer value: \\\"2\\\"\","
              "\"locations\":[{\"line\":1,\"column\":7}],\"extensions\":{\"code\":"
              "\"BAD_USER_INPUT\"}},{\"message\":\"Variable \\\"$o\\\" got invalid value { y: [1], "
              "z: 1 }; Field \\\"x\\\" of required type \\\"Int!\\\" was not provided.\","
              "\"locations\":[{\"line\":1,\"column\":22}],\"extensions\":{\"code\":"
              "\"BAD_USER_INPUT\"}},{\"message\":\"Variable \\\"$o\\\" got invalid value 1 at "
              "\\\"o.y[0]\\\"; String cannot represent a non string value: 1\",\"locations\":[{"
              "\"line\":1,\"column\":22}],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}},{"
              "\"message\":\"Variable \\\"$o\\\" got invalid value { y: [1], z: 1 }; Field "
              "\\\"z\\\" is not defined by type \\\"In\\\". Did you mean \\\"c\\\", \\\"x\\\", or "
              "\\\"y\\\"?\",\"locations\":[{\"line\":1,"
              "\"column\":22}],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}},{\"message\":"
              "\"Variable \\\"$os\\\" got invalid value 5 at \\\"os[1]\\\"; Expected type "
              "\\\"In\\\" to be an object.\",\"locations\":[{\"line\":1,\"column\":30}],"
              "\"extensions\":{\"code\":\"BAD_USER_INPUT\"}},{\"message\":\"Variable \\\"$t\\\" "
              "got invalid value \\\"2026-11-25 10:00\\\"; DateTime cannot represent an invalid "
              "date-time string: \\\"2026-11-25 10:00\\\"\",\"locations\":[{\"line\":1,\"column\":"
              "42}],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}");
    gm_gql_engine_free(e);
    gm_gql_schema_free(s);
}

Test(gql_execute, abstract_types)
{
    struct gm_gql_schema *s;
    struct gm_gql_engine *e = test_engine(&s);
    const char *q = "{ nodes { __typename id ... on A { a } ...F } any { ... on Node { id } ... "
                    "on B { __typename } } } fragment F on B { b }";
    const char *want = "{\"data\":{\"nodes\":[{\"__typename\":\"A\",\"id\":\"a1\",\"a\":7},{"
                       "\"__typename\":\"B\",\"id\":\"b1\",\"b\":\"12\"},{\"__typename\":\"A\","
                       "\"id\":\"a2\",\"a\":7}],\"any\":[{\"id\":\"a1\"},{\"id\":\"b1\","
                       "\"__typename\":\"B\"},{\"id\":\"a2\"}]}}";
    expect_on(e, q, NULL, want);
    expect_on(e, q, NULL, want); /* the per-type plans, cached */
    struct result r = run_full(e, "{ bad { id } }", NULL, NULL, NULL);
    cr_assert(strstr(r.json, "Abstract type \\\"Node\\\" must resolve to an Object type at "
                             "runtime for field \\\"Q.bad\\\""),
              "%s", r.json);
    cr_assert(strstr(r.json, "\"data\":{\"bad\":null}"), "%s", r.json);
    free(r.json);
    gm_gql_engine_free(e);
    gm_gql_schema_free(s);
}

Test(gql_execute, introspection_deprecation)
{
    struct gm_gql_schema *s;
    struct gm_gql_engine *e = test_engine(&s);
    expect_on(e,
              "{ __schema { description } b: __type(name: \"B\") { fields { name } all: fields("
              "includeDeprecated: true) { name isDeprecated deprecationReason } interfaces { name "
              "} } c: __type(name: \"Color\") { enumValues(includeDeprecated: true) { name "
              "isDeprecated } } n: __type(name: \"Node\") { kind possibleTypes { name } } u: "
              "__type(name: \"AB\") { kind possibleTypes { name } } i: __type(name: \"In\") { "
              "inputFields { name defaultValue } all: inputFields(includeDeprecated: true) { name "
              "} } }",
              NULL,
              "{\"data\":{\"__schema\":{\"description\":\"The test schema.\"},\"b\":{\"fields\":[{"
              "\"name\":\"id\"}],\"all\":[{\"name\":\"id\",\"isDeprecated\":false,"
              "\"deprecationReason\":null},{\"name\":\"b\",\"isDeprecated\":true,"
              "\"deprecationReason\":\"Use id.\"}],\"interfaces\":[{\"name\":\"Node\"}]},\"c\":{"
              "\"enumValues\":[{\"name\":\"RED\",\"isDeprecated\":false},{\"name\":\"GREEN\","
              "\"isDeprecated\":true}]},\"n\":{\"kind\":\"INTERFACE\",\"possibleTypes\":[{"
              "\"name\":\"A\"},{\"name\":\"B\"}]},\"u\":{\"kind\":\"UNION\",\"possibleTypes\":[{"
              "\"name\":\"A\"},{\"name\":\"B\"}]},\"i\":{\"inputFields\":[{\"name\":\"x\","
              "\"defaultValue\":null},{\"name\":\"y\",\"defaultValue\":\"[\\\"d\\\"]\"},{\"name\":"
              "\"c\",\"defaultValue\":\"RED\"},{\"name\":\"when\",\"defaultValue\":null}],\"all\":"
              "[{\"name\":\"x\"},{\"name\":\"y\"},{\"name\":\"c\"},{\"name\":\"when\"},{\"name\":"
              "\"old\"}]}}}");
    /* Defaults print as graphql-js prints the coerced value (astFromValue). */
    expect_on(e, "{ __type(name: \"Q\") { fields { name args { defaultValue } } } }", NULL,
              "{\"data\":{\"__type\":{\"fields\":[{\"name\":\"echo\",\"args\":[{\"defaultValue\""
              ":null},{\"defaultValue\":null},{\"defaultValue\":null},{\"defaultValue\":null},{"
              "\"defaultValue\":null},{\"defaultValue\":null}]},{\"name\":\"nodes\",\"args\":[]},{"
              "\"name\":\"any\",\"args\":[]},{\"name\":\"bad\",\"args\":[]},{\"name\":\"big\","
              "\"args\":[]},{\"name\":\"dflt\",\"args\":[{\"defaultValue\":\"{x: 2, y: "
              "[\\\"d\\\"], c: RED}\"},{\"defaultValue\":\"3\"},{\"defaultValue\":\"2\"},{"
              "\"defaultValue\":\"\\\"a\\\\\\\"b\\\\\\\\c\\\"\"}]}]}}}");
    gm_gql_engine_free(e);
    gm_gql_schema_free(s);
}

/* ---- the cache ---- */

Test(gql_execute, cache_eviction_and_release)
{
    struct gm_gql_engine_opts opts = {.cache_entries = 2};
    struct gm_gql_engine *e = gm_gql_engine_new(schema, &opts);
    const char *docs[] = {"{ a: __typename }", "{ b: __typename }", "{ c: __typename }"};
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    struct gm_gql_prepared *held, *p;
    cr_assert_eq(gm_gql_prepare(e, docs[0], strlen(docs[0]), &a, &errs, &held), 0);
    cr_assert_eq(gm_gql_prepare(e, docs[1], strlen(docs[1]), &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    cr_assert_eq(gm_gql_prepare(e, docs[1], strlen(docs[1]), &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    /* docs[0] is the least recently used: the third document evicts it. */
    cr_assert_eq(gm_gql_prepare(e, docs[2], strlen(docs[2]), &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    struct gm_gql_engine_stats st;
    gm_gql_engine_stats(e, &st);
    cr_assert_eq(st.cache_hits, 1);
    cr_assert_eq(st.cache_misses, 3);
    cr_assert_eq(st.cache_entries, 2);
    /* The evicted entry still runs for its holder. */
    struct gm_gql_response resp;
    struct gm_gql_exec_params params = {0};
    cr_assert_eq(gm_gql_execute(e, held, &params, &a, &resp), 0);
    cr_assert_str_eq(resp.json, "{\"data\":{\"a\":\"Query\"}}");
    gm_gql_prepared_release(e, held);
    /* docs[1] is still cached, docs[0] is not. */
    cr_assert_eq(gm_gql_prepare(e, docs[1], strlen(docs[1]), &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    cr_assert_eq(gm_gql_prepare(e, docs[0], strlen(docs[0]), &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    gm_gql_engine_stats(e, &st);
    cr_assert_eq(st.cache_hits, 2);
    cr_assert_eq(st.cache_misses, 4);
    cr_assert_eq(errs.count, 0);
    gm_arena_deinit(&a);
    gm_gql_engine_free(e);
}

Test(gql_execute, cache_off)
{
    struct gm_gql_engine_opts opts = {.cache_off = true};
    struct gm_gql_engine *e = gm_gql_engine_new(schema, &opts);
    for (int i = 0; i < 3; i++) {
        struct result r = run_full(e, "{ streaks { freezesHeld } }", NULL, NULL, NULL);
        cr_assert_str_eq(r.json, "{\"data\":{\"streaks\":{\"freezesHeld\":1}}}");
        free(r.json);
    }
    struct gm_gql_engine_stats st;
    gm_gql_engine_stats(e, &st);
    cr_assert_eq(st.cache_entries, 0);
    cr_assert_eq(st.cache_hits, 0);
    gm_gql_engine_free(e);
}

struct t_thread {
    struct gm_gql_engine *e;
    int iterations;
    int failures;
};

static const char *const thread_docs[] = {
    "{ leaderboard(first: 10) { entries { rank userId score } me { rank score } } }",
    "query($n: Int) { leaderboard(first: $n) { totalCount } }",
    "{ streaks { currentStreak } }",
    "{ userProfile { exp } }",
};

static const char *const thread_want[] = {
    "{\"data\":{\"leaderboard\":{\"entries\":[{\"rank\":1,\"userId\":\"u1\",\"score\":1200},{"
    "\"rank\":2,\"userId\":null,\"score\":900},{\"rank\":3,\"userId\":\"u3\",\"score\":500}],"
    "\"me\":{\"rank\":1,\"score\":1200}}}}",
    "{\"data\":{\"leaderboard\":{\"totalCount\":3}}}",
    "{\"data\":{\"streaks\":{\"currentStreak\":5}}}",
    "{\"data\":{\"userProfile\":{\"exp\":1200}}}",
};

static void *
thread_main(void *arg)
{
    struct t_thread *th = arg;
    struct gm_arena a;
    gm_arena_init(&a, 0);
    json_t *vars = json_pack("{s:i}", "n", 3);
    for (int i = 0; i < th->iterations; i++) {
        size_t k = (size_t)i % 4;
        struct t_ctx t = ctx_default();
        struct gm_gql_exec_params params = {.variables = vars, .context = &t};
        struct gm_gql_response resp;
        int rc = gm_gql_run(th->e, thread_docs[k], strlen(thread_docs[k]), &params, &a, &resp);
        if (rc != 0 || strcmp(resp.json, thread_want[k]) != 0)
            th->failures++;
        gm_arena_reset(&a);
    }
    json_decref(vars);
    gm_arena_deinit(&a);
    return NULL;
}

Test(gql_execute, cache_two_threads)
{
    /* Three entries for four documents: hits, misses and evictions race. */
    struct gm_gql_engine_opts opts = {.cache_entries = 3};
    struct gm_gql_engine *e = gm_gql_engine_new(schema, &opts);
    struct t_thread th[2] = {{e, 2000, 0}, {e, 2000, 0}};
    pthread_t tid[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&tid[i], NULL, thread_main, &th[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(tid[i], NULL);
    cr_assert_eq(th[0].failures, 0);
    cr_assert_eq(th[1].failures, 0);
    struct gm_gql_engine_stats st;
    gm_gql_engine_stats(e, &st);
    cr_assert_eq(st.cache_hits + st.cache_misses, 4000);
    cr_assert_eq(st.cache_entries, 3);
    gm_gql_engine_free(e);

    /* A cache big enough for all: after the first round, only hits. */
    e = gm_gql_engine_new(schema, NULL);
    th[0] = (struct t_thread){e, 1000, 0};
    th[1] = (struct t_thread){e, 1000, 0};
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&tid[i], NULL, thread_main, &th[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(tid[i], NULL);
    cr_assert_eq(th[0].failures + th[1].failures, 0);
    gm_gql_engine_stats(e, &st);
    cr_assert_leq(st.cache_misses, 8);
    cr_assert_eq(st.cache_hits + st.cache_misses, 2000);
    gm_gql_engine_free(e);
}

Test(gql_execute, arena_budget)
{
    /* A response past the arena's budget: GM_ETOOBIG and a minimal error response. */
    struct gm_gql_schema *s;
    struct gm_gql_engine *e = test_engine(&s);
    struct gm_arena a;
    gm_arena_init(&a, 64 * 1024);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    struct gm_gql_prepared *p;
    const char *q = "{ big }";
    cr_assert_eq(gm_gql_prepare(e, q, strlen(q), &a, &errs, &p), 0);
    struct gm_gql_response resp;
    struct gm_gql_exec_params params = {0};
    cr_assert_eq(gm_gql_execute(e, p, &params, &a, &resp), GM_ETOOBIG);
    cr_assert_not(resp.has_data);
    cr_assert_str_eq(resp.json, "{\"errors\":[{\"message\":\"The response is larger than the "
                                "request's memory budget.\",\"extensions\":{\"code\":"
                                "\"QUERY_TOO_COMPLEX\"}}]}");
    cr_assert_eq(a.budget, 64 * 1024);
    /* The engine's budget applies to an arena without one. */
    struct gm_arena b;
    gm_arena_init(&b, 0);
    cr_assert_eq(gm_gql_execute(e, p, &params, &b, &resp), 0);
    cr_assert_eq(resp.len, 100 * 1024 + strlen("{\"data\":{\"big\":\"\"}}"));
    cr_assert_eq(b.budget, 0);
    gm_gql_prepared_release(e, p);
    gm_arena_deinit(&a);
    gm_arena_deinit(&b);
    gm_gql_engine_free(e);
    gm_gql_schema_free(s);
}

/* ---- variable coercion as graphql-js reports it ---- */

/* Runs q on e and asserts the messages of the response's errors, in order. */
static void
expect_messages(struct gm_gql_engine *e, const char *q, const char *vars, const char *const *want,
                size_t n)
{
    struct result r = run_full(e, q, vars, NULL, NULL);
    json_t *j = json_loads(r.json, 0, NULL);
    json_t *errs = json_object_get(j, "errors");
    cr_assert_eq(json_array_size(errs), n, "%s", r.json);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errs, i), "message")),
                         want[i], "error %zu of %s", i, r.json);
    json_decref(j);
    free(r.json);
}

Test(gql_execute, variable_messages_as_graphql_js)
{
    struct gm_gql_schema *s;
    struct gm_gql_engine *e = test_engine(&s);
    /*
     * inspect() prints values two deep as [Object] and [Array]; strings as
     * JSON.stringify, with \t \r \f \b; enum values and input fields get
     * graphql-js's "Did you mean" suggestions (lexical distance, then
     * natural order).
     */
    static const char *const want[] = {
        "Variable \"$xs\" got invalid value { a: { b: [Object] } } at \"xs[0][0]\"; Int cannot "
        "represent non-integer value: { a: { b: [Object] } }",
        "Variable \"$xs\" got invalid value [[[Array]]] at \"xs[0][1]\"; Int cannot represent "
        "non-integer value: [[[Array]]]",
        "Variable \"$o\" got invalid value \"a\\tb\\r\\f\\b\\u0001\" at \"o.x\"; Int cannot "
        "represent non-integer value: \"a\\tb\\r\\f\\b\\u0001\"",
        "Variable \"$o\" got invalid value { x: \"a\\tb\\r\\f\\b\\u0001\", whem: 1, C: \"RED\" }; "
        "Field \"whem\" is not defined by type \"In\". Did you mean \"when\"?",
        "Variable \"$o\" got invalid value { x: \"a\\tb\\r\\f\\b\\u0001\", whem: 1, C: \"RED\" }; "
        "Field \"C\" is not defined by type \"In\". Did you mean \"c\", \"x\", or \"y\"?",
        "Variable \"$c\" got invalid value \"red\" at \"c[0]\"; Value \"red\" does not exist in "
        "\"Color\" enum. Did you mean the enum value \"RED\"?",
        "Variable \"$c\" got invalid value \"GREN\" at \"c[1]\"; Value \"GREN\" does not exist in "
        "\"Color\" enum. Did you mean the enum value \"GREEN\" or \"RED\"?",
        "Variable \"$c\" got invalid value \"BLUE\" at \"c[2]\"; Value \"BLUE\" does not exist in "
        "\"Color\" enum.",
    };
    expect_messages(e, "query($xs: [[Int!]], $o: In, $c: [Color]) { echo(xs: $xs, o: $o, c: $c) }",
                    "{\"xs\": [[{\"a\": {\"b\": {\"c\": 1}}}, [[[1]]]]], \"o\": {\"x\": "
                    "\"a\\tb\\r\\f\\b\\u0001\", \"whem\": 1, \"C\": \"RED\"}, \"c\": [\"red\", "
                    "\"GREN\", \"BLUE\"]}",
                    want, sizeof(want) / sizeof(want[0]));
    gm_gql_engine_free(e);
    gm_gql_schema_free(s);
}

/* ---- a third schema: floats, a long list, an enum with K ---- */

static const char *const small_sdl = "schema { query: Q }\n"
                                     "enum Unit { KG LB }\n"
                                     "type It { v(x: Int): Int }\n"
                                     "type Q {\n"
                                     "  f(x: Float): Float\n"
                                     "  s(x: Float): String\n"
                                     "  unit(u: [Unit]): String\n"
                                     "  items(n: Int!): [It!]!\n"
                                     "  i(s: String): Int\n"
                                     "}\n";

/* Q.f and Q.s: the argument x back, as a float (a String field serialises it as text). */
static int
s_float(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct gm_gql_ival *x = gm_gql_arg(ctx, "x");
    if (x && x->kind == GM_GQL_I_FLOAT)
        gm_gql_rval_float(out, x->f);
    return 0;
}

/* Q.i: the string s, for an Int field. */
static int
s_int_text(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct gm_gql_ival *x = gm_gql_arg(ctx, "s");
    if (x && x->kind == GM_GQL_I_STRING)
        gm_gql_rval_str(out, x->s, x->len);
    return 0;
}

static int
s_unit(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    (void)ctx;
    gm_gql_rval_str(out, "ok", 2);
    return 0;
}

static int
s_items(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    static const int item;
    size_t n = (size_t)gm_gql_arg(ctx, "n")->i;
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, n);
    if (!items)
        return gm_gql_rctx_error(ctx, NULL, "no memory");
    for (size_t i = 0; i < n; i++)
        gm_gql_rval_obj(&items[i], &item, NULL);
    return 0;
}

static int
s_v(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    (void)ctx;
    gm_gql_rval_int(out, 1);
    return 0;
}

static struct gm_gql_engine *
small_engine(struct gm_gql_schema **out, const struct gm_gql_engine_opts *opts)
{
    struct gm_gql_schema *s = NULL;
    struct gm_err err;
    cr_assert_eq(gm_gql_schema_new(small_sdl, strlen(small_sdl), &s, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_gql_schema_bind(s, "Q.f", s_float, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "Q.s", s_float, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "Q.unit", s_unit, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "Q.items", s_items, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "It.v", s_v, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_bind(s, "Q.i", s_int_text, NULL, &err), 0);
    cr_assert_eq(gm_gql_schema_check(s, &err), 0, "%s", err.msg);
    *out = s;
    return gm_gql_engine_new(s, opts);
}

/* Runs q with vars in an arena of the given budget; returns rc, the response in *json (new). */
static int
run_budget(struct gm_gql_engine *e, const char *q, const char *vars, size_t budget, char **json)
{
    json_t *v = vars ? json_loads(vars, 0, NULL) : NULL;
    cr_assert(!vars || v, "bad test variables");
    struct gm_gql_exec_params params = {.variables = v};
    struct gm_arena a;
    gm_arena_init(&a, budget);
    struct gm_gql_response resp;
    int rc = gm_gql_run(e, q, strlen(q), &params, &a, &resp);
    cr_assert_not_null(resp.json, "a response is always written (rc %d)", rc);
    cr_assert_eq(strlen(resp.json), resp.len);
    *json = strdup(resp.json);
    gm_arena_deinit(&a);
    json_decref(v);
    return rc;
}

static const char too_big_response[] =
    "{\"errors\":[{\"message\":\"The response is larger than the request's memory budget.\","
    "\"extensions\":{\"code\":\"QUERY_TOO_COMPLEX\"}}]}";

Test(gql_execute, float_text_as_javascript)
{
    /* String(number): positional from 1e-7 (exclusive) to 1e21, else an exponent. */
    struct gm_gql_schema *s;
    struct gm_gql_engine *e = small_engine(&s, NULL);
    expect_on(e,
              "{ a: f(x: 0.00001) b: f(x: 0.0000015) c: f(x: 1e-7) d: f(x: -0.000001234) "
              "g: f(x: 0.0001) h: f(x: 123.456) i: f(x: 1e21) j: f(x: 2.5e-300) k: f(x: 0.1) "
              "l: s(x: 0.00001) m: s(x: 1e-7) }",
              NULL,
              "{\"data\":{\"a\":0.00001,\"b\":0.0000015,\"c\":1e-7,\"d\":-0.000001234,"
              "\"g\":0.0001,\"h\":123.456,\"i\":1e+21,\"j\":2.5e-300,\"k\":0.1,"
              "\"l\":\"0.00001\",\"m\":\"1e-7\"}}");
    gm_gql_engine_free(e);
    gm_gql_schema_free(s);
}

Test(gql_execute, enum_suggestion_lower_cases_as_javascript)
{
    /* toLowerCase() turns U+212A KELVIN SIGN into "k": "G<KELVIN>" is "KG" transposed. */
    struct gm_gql_schema *s;
    struct gm_gql_engine *e = small_engine(&s, NULL);
    static const char *const want[] = {
        "Variable \"$u\" got invalid value \"G\xe2\x84\xaa\" at \"u[0]\"; Value \"G\xe2\x84\xaa\" "
        "does not exist in \"Unit\" enum. Did you mean the enum value \"KG\"?",
        "Variable \"$u\" got invalid value \"lbs\" at \"u[1]\"; Value \"lbs\" does not exist in "
        "\"Unit\" enum. Did you mean the enum value \"LB\"?",
    };
    expect_messages(e, "query($u: [Unit]) { unit(u: $u) }", "{\"u\": [\"G\\u212a\", \"lbs\"]}",
                    want, 2);
    gm_gql_engine_free(e);
    gm_gql_schema_free(s);
}

Test(gql_execute, variable_error_limit)
{
    /* graphql-js stops CoerceVariableValues after 50 errors (execute's maxErrors). */
    struct gm_gql_schema *s;
    struct gm_gql_engine *e = test_engine(&s);
    char vars[1024] = "{\"xs\": [[";
    for (int i = 0; i < 60; i++)
        strcat(vars, i ? ",null" : "null");
    strcat(vars, "]], \"o\": 5}");
    struct result r =
        run_full(e, "query($xs: [[Int!]], $o: In) { echo(xs: $xs, o: $o) }", vars, NULL, NULL);
    json_t *j = json_loads(r.json, 0, NULL);
    json_t *errs = json_object_get(j, "errors");
    cr_assert_eq(json_array_size(errs), 51, "%s", r.json);
    cr_assert_eq(r.n_errors, 51);
    cr_assert_not(r.has_data);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errs, 49), "message")),
                     "Variable \"$xs\" got invalid value null at \"xs[0][49]\"; Expected "
                     "non-nullable type \"Int!\" not to be null.");
    /* The last: no locations, and $o is not looked at. */
    char *last = json_dumps(json_array_get(errs, 50), JSON_COMPACT | JSON_PRESERVE_ORDER);
    cr_assert_str_eq(last, "{\"message\":\"Too many errors processing variables, error limit "
                           "reached. Execution aborted.\",\"extensions\":{\"code\":"
                           "\"BAD_USER_INPUT\"}}");
    free(last);
    json_decref(j);
    free(r.json);
    /* 50 errors exactly: no limit message. */
    strcpy(vars, "{\"xs\": [[");
    for (int i = 0; i < 50; i++)
        strcat(vars, i ? ",null" : "null");
    strcat(vars, "]]}");
    r = run_full(e, "query($xs: [[Int!]]) { echo(xs: $xs) }", vars, NULL, NULL);
    cr_assert_eq(r.n_errors, 50);
    cr_assert_null(strstr(r.json, "Too many errors"), "%s", r.json);
    free(r.json);
    gm_gql_engine_free(e);
    gm_gql_schema_free(s);
}

Test(gql_execute, variable_coercion_out_of_memory)
{
    /* Variables too big for the request's budget: GM_ETOOBIG, not an empty error list. */
    struct gm_gql_schema *s;
    struct gm_gql_engine *e = test_engine(&s);
    size_t n = 100000;
    char *vars = malloc(n * 2 + 32);
    strcpy(vars, "{\"xs\": [[");
    char *w = vars + strlen(vars);
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        *w++ = '1';
    }
    strcpy(w, "]]}");
    char *json;
    int rc = run_budget(e, "query($xs: [[Int!]]) { echo(xs: $xs) }", vars, 256 * 1024, &json);
    cr_assert_eq(rc, GM_ETOOBIG, "%s", json);
    cr_assert_str_eq(json, too_big_response);
    free(json);
    free(vars);
    gm_gql_engine_free(e);
    gm_gql_schema_free(s);
}

Test(gql_execute, id_variable_from_large_integral_float)
{
    /* Number.isInteger(1e21) holds: graphql-js's ID takes it as "1e+21". */
    struct t_ctx t = ctx_default();
    expect("query($b: ID) { leaderboard(board: $b) { totalCount } }", "{\"b\": 1e21}", &t,
           "{\"data\":{\"leaderboard\":{\"totalCount\":3}}}");
    cr_assert_str_eq(t.seen_board, "1e+21");
}

Test(gql_execute, skip_decided_before_include)
{
    /*
     * graphql-js evaluates @skip, then @include, whatever their order: a
     * skipped field's failing @include is never looked at.
     */
    const char *q = "query($v: Boolean = true) { a: streaks @include(if: $v) @skip(if: true) { "
                    "freezesHeld } b: streaks { freezesHeld } }";
    expect(q, "{\"v\": null}", NULL, "{\"data\":{\"b\":{\"freezesHeld\":1}}}");
    /* Not skipped: the @include's null is an error (data is null: it concerns the root). */
    const char *q2 = "query($v: Boolean = true) { a: streaks @include(if: $v) @skip(if: false) { "
                     "freezesHeld } }";
    expect(q2, "{\"v\": null}", NULL,
           "{\"errors\":[{\"message\":\"Argument \\\"if\\\" of non-null type \\\"Boolean!\\\" "
           "must not be null.\",\"locations\":[{\"line\":1,\"column\":53}],\"extensions\":{"
           "\"code\":\"BAD_USER_INPUT\"}}],\"data\":null}");
    expect(q2, NULL, NULL, "{\"data\":{\"a\":{\"freezesHeld\":1}}}");
}

Test(gql_execute, response_when_the_arena_is_already_full)
{
    /* An arena that can hold nothing still gets the budget response, not a NULL. */
    char *json;
    int rc = run_budget(engine, "{ streaks { currentStreak } }", NULL, 64, &json);
    cr_assert_eq(rc, GM_ETOOBIG);
    cr_assert_str_eq(json, too_big_response);
    free(json);
    /* A prepared document executed in a full arena. */
    struct gm_arena a, full;
    gm_arena_init(&a, 0);
    gm_arena_init(&full, 64);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    struct gm_gql_prepared *p;
    const char *q = "{ streaks { currentStreak } }";
    cr_assert_eq(gm_gql_prepare(engine, q, strlen(q), &a, &errs, &p), 0);
    struct gm_gql_response resp;
    cr_assert_eq(gm_gql_execute(engine, p, NULL, &full, &resp), GM_ETOOBIG);
    cr_assert_str_eq(resp.json, too_big_response);
    cr_assert_eq(resp.len, strlen(too_big_response));
    cr_assert_not(resp.has_data);
    gm_gql_prepared_release(engine, p);
    gm_arena_deinit(&a);
    gm_arena_deinit(&full);
}

Test(gql_execute, long_list_with_variable_arguments_fits_the_budget)
{
    /*
     * 3000 objects whose selection depends on variables: the plan is built
     * once per request and argument coercion keeps no per-field scratch, so
     * the request stays within a 1 MiB arena.
     */
    struct gm_gql_schema *s;
    struct gm_gql_engine *e = small_engine(&s, NULL);
    const char *q =
        "query($x: Int, $s: Boolean!) { items(n: 3000) { v(x: $x) w: v @skip(if: $s) } }";
    for (int round = 0; round < 2; round++) {
        char *json;
        int rc = run_budget(e, q, "{\"x\": 1, \"s\": false}", 1024 * 1024, &json);
        cr_assert_eq(rc, 0, "%.200s", json);
        const char *want = "{\"data\":{\"items\":[{\"v\":1,\"w\":1},{\"v\":1,\"w\":1},";
        cr_assert_eq(strncmp(json, want, strlen(want)), 0, "%.200s", json);
        free(json);
        rc = run_budget(e, q, "{\"s\": true}", 1024 * 1024, &json);
        cr_assert_eq(rc, 0, "%.200s", json);
        want = "{\"data\":{\"items\":[{\"v\":1},{\"v\":1},";
        cr_assert_eq(strncmp(json, want, strlen(want)), 0, "%.200s", json);
        free(json);
    }
    gm_gql_engine_free(e);
    gm_gql_schema_free(s);
}

Test(gql_execute, rval_list_size_overflow)
{
    /* n * sizeof(item) would wrap to a few bytes: refused, not a short block. */
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_rctx ctx = {.arena = &a};
    struct gm_gql_rval v;
    gm_gql_rval_null(&v);
    size_t n = SIZE_MAX / sizeof(struct gm_gql_rval) + 2;
    cr_assert_null(gm_gql_rval_list(&ctx, &v, n));
    cr_assert_eq(v.kind, GM_GQL_R_NULL);
    cr_assert_not_null(gm_gql_rval_list(&ctx, &v, 3));
    cr_assert_eq(v.n, 3);
    gm_arena_deinit(&a);
}

Test(gql_execute, cache_byte_budget)
{
    /* Documents are kept while their arenas fit cache_bytes: the least recently used go. */
    struct gm_gql_engine_opts opts = {.cache_bytes = 48 * 1024};
    struct gm_gql_engine *e = gm_gql_engine_new(schema, &opts);
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    char doc[64];
    struct gm_gql_engine_stats st;
    for (int i = 0; i < 8; i++) {
        snprintf(doc, sizeof doc, "{ a%d: __typename }", i);
        struct gm_gql_prepared *p;
        cr_assert_eq(gm_gql_prepare(e, doc, strlen(doc), &a, &errs, &p), 0);
        gm_gql_prepared_release(e, p);
        gm_gql_engine_stats(e, &st);
        cr_assert_leq(st.cache_bytes, opts.cache_bytes);
        cr_assert_geq(st.cache_entries, 1);
    }
    /* Each arena holds at least its first 16 KiB chunk: at most two fit. */
    cr_assert_leq(st.cache_entries, 2);
    cr_assert_geq(st.cache_bytes, st.cache_entries * 16 * 1024);
    /* The newest is kept, the oldest is not. */
    struct gm_gql_prepared *p;
    cr_assert_eq(gm_gql_prepare(e, doc, strlen(doc), &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    gm_gql_engine_stats(e, &st);
    cr_assert_eq(st.cache_hits, 1);
    cr_assert_eq(gm_gql_prepare(e, "{ a0: __typename }", 18, &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    gm_gql_engine_stats(e, &st);
    cr_assert_eq(st.cache_hits, 1);
    gm_gql_engine_free(e);

    /* A document alone past the budget runs, but is not kept. */
    opts.cache_bytes = 1024;
    e = gm_gql_engine_new(schema, &opts);
    struct result r = run_full(e, "{ streaks { freezesHeld } }", NULL, NULL, NULL);
    cr_assert_str_eq(r.json, "{\"data\":{\"streaks\":{\"freezesHeld\":1}}}");
    free(r.json);
    gm_gql_engine_stats(e, &st);
    cr_assert_eq(st.cache_entries, 0);
    cr_assert_eq(st.cache_bytes, 0);
    gm_gql_engine_free(e);
    gm_arena_deinit(&a);
}

Test(gql_execute, cache_counts_plans_added_later)
{
    /*
     * Plans built by executions live in the cached document's arena: the
     * cache counts them, and evicts other documents when they push it past
     * its byte budget.
     */
    const char *small = "{ a: __typename }";
    /* A fragment spread at many places: one plan per place, from one piece of the document. */
    const char *big =
        "{ __schema { queryType { ...T } mutationType { ...T } types { ...T f: fields { type { "
        "...T ofType { ...T ofType { ...T ofType { ...T } } } } args { type { ...T ofType { ...T "
        "} } } } inputFields { type { ...T } } } directives { args { type { ...T ofType { ...T } "
        "} } } } } fragment T on __Type { kind name description specifiedByURL "
        "fields(includeDeprecated: true) { name } interfaces { name } possibleTypes { name } "
        "enumValues(includeDeprecated: true) { name } inputFields { name } ofType { name } }";
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    struct gm_gql_prepared *p;
    struct gm_gql_engine_stats st;
    /* Sizes first, on an engine without pressure. */
    struct gm_gql_engine *e = gm_gql_engine_new(schema, NULL);
    cr_assert_eq(gm_gql_prepare(e, small, strlen(small), &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    cr_assert_eq(gm_gql_prepare(e, big, strlen(big), &a, &errs, &p), 0);
    gm_gql_engine_stats(e, &st);
    size_t before = st.cache_bytes;
    struct gm_gql_response resp;
    cr_assert_eq(gm_gql_execute(e, p, NULL, &a, &resp), 0);
    gm_gql_prepared_release(e, p);
    gm_gql_engine_stats(e, &st);
    cr_assert_gt(st.cache_bytes, before, "plans are counted");
    cr_assert_eq(st.cache_entries, 2);
    size_t after = st.cache_bytes;
    gm_gql_engine_free(e);
    /* A budget that holds both documents only before the plans. */
    struct gm_gql_engine_opts opts = {.cache_bytes = after - 1};
    e = gm_gql_engine_new(schema, &opts);
    cr_assert_eq(gm_gql_prepare(e, small, strlen(small), &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    cr_assert_eq(gm_gql_prepare(e, big, strlen(big), &a, &errs, &p), 0);
    gm_gql_engine_stats(e, &st);
    cr_assert_eq(st.cache_entries, 2);
    cr_assert_eq(gm_gql_execute(e, p, NULL, &a, &resp), 0);
    cr_assert_eq(strncmp(resp.json, "{\"data\":{\"__schema\":{\"queryType\":{", 31), 0, "%.100s",
                 resp.json);
    gm_gql_engine_stats(e, &st);
    cr_assert_leq(st.cache_bytes, opts.cache_bytes);
    cr_assert_eq(st.cache_entries, 1, "the small document made room");
    /* The running document is still valid for its holder. */
    cr_assert_eq(gm_gql_execute(e, p, NULL, &a, &resp), 0);
    gm_gql_prepared_release(e, p);
    gm_gql_engine_free(e);
    gm_arena_deinit(&a);
}

Test(gql_execute, int_from_text_messages)
{
    /* serializeInt turns numeric text into a number; its messages show the text, quoted. */
    struct gm_gql_schema *s;
    struct gm_gql_engine *e = small_engine(&s, NULL);
    static const char *const want[] = {
        "Int cannot represent non-integer value: \"1.5\"",
        "Int cannot represent non 32-bit signed integer value: \"3000000000\"",
        "Int cannot represent non-integer value: \"x1\"",
    };
    expect_messages(e,
                    "{ a: i(s: \"12\") b: i(s: \"1.5\") c: i(s: \"3000000000\") d: i(s: \"x1\") }",
                    NULL, want, 3);
    struct result r = run_full(e, "{ a: i(s: \"12\") b: i(s: \"-7\") }", NULL, NULL, NULL);
    cr_assert_str_eq(r.json, "{\"data\":{\"a\":12,\"b\":-7}}");
    free(r.json);
    gm_gql_engine_free(e);
    gm_gql_schema_free(s);
}

/* Validation's scratch in the caller's arena obeys the engine's arena_budget. */
Test(gql_execute, validation_memory_is_budgeted)
{
    struct gm_gql_engine_opts opts = {
        .arena_budget = 32 * 1024,
        .validate = {.max_aliases = 1000, .max_root_fields = 1000, .max_cost = 1000000}};
    struct gm_gql_engine *e = gm_gql_engine_new(schema, &opts);
    size_t cap = 64 * 1024, len = 0;
    char *doc = malloc(cap);
    len += (size_t)snprintf(doc + len, cap - len, "{");
    for (int i = 0; i < 600; i++)
        len += (size_t)snprintf(doc + len, cap - len, " f%d: streaks { currentStreak }", i);
    snprintf(doc + len, cap - len, " }");
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    struct gm_gql_prepared *p = NULL;
    int rc = gm_gql_prepare(e, doc, strlen(doc), &a, &errs, &p);
    cr_assert_eq(rc, GM_ETOOBIG, "rc %d", rc);
    cr_assert_null(p);
    cr_assert_eq(a.budget, 0, "the caller's budget is restored");
    /* The error that says so fits in the reserve (found by fuzz_graphql). */
    cr_assert_not_null(errs.head);
    cr_assert_str_eq(errs.head->code, "QUERY_TOO_COMPLEX");
    gm_arena_deinit(&a);
    /* With room, the same document validates. */
    gm_gql_engine_free(e);
    opts.arena_budget = 0;
    e = gm_gql_engine_new(schema, &opts);
    gm_arena_init(&a, 0);
    gm_gql_errors_init(&errs);
    cr_assert_eq(gm_gql_prepare(e, doc, strlen(doc), &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    gm_arena_deinit(&a);
    gm_gql_engine_free(e);
    free(doc);
}

/* Persisted queries: register with text and hash, then run by hash alone. */
Test(gql_execute, persisted_queries)
{
    static const char q1[] = "{ streaks { freezesHeld } }";
    static const char h1[] = "d8fe19cb192005229530ea740fd1a0197cbfc453f6d1fcbeef26716970f1432b";
    static const char q2[] = "{ streaks { currentStreak } }";
    static const char h2[] = "99deae0abb3d8a8b5ea284e07ac2dad02c970e6e5f599303dcf1261a7ca8c31b";
    struct gm_gql_engine_opts opts = {.cache_entries = 1};
    struct gm_gql_engine *e = gm_gql_engine_new(schema, &opts);
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    struct gm_gql_prepared *p = NULL, *again = NULL;

    /* Unknown hash: not found, the client must send the text. */
    cr_assert_eq(gm_gql_prepare_persisted(e, h1, 64, NULL, 0, &a, &errs, &p), GM_ENOTFOUND);
    cr_assert_null(p);
    cr_assert_null(errs.head);

    /* Registered (the hash may be upper case), then found by hash alone. */
    char upper[65];
    for (int i = 0; i < 64; i++)
        upper[i] = (char)(h1[i] >= 'a' ? h1[i] - 32 : h1[i]);
    upper[64] = '\0';
    cr_assert_eq(gm_gql_prepare_persisted(e, upper, 64, q1, strlen(q1), &a, &errs, &p), 0);
    cr_assert_eq(gm_gql_prepare_persisted(e, h1, 64, NULL, 0, &a, &errs, &again), 0);
    cr_assert_eq(again, p, "the same prepared document");
    struct t_ctx t = ctx_default();
    struct gm_gql_exec_params params = {.context = &t};
    struct gm_gql_response resp;
    cr_assert_eq(gm_gql_execute(e, again, &params, &a, &resp), 0);
    cr_assert_str_eq(resp.json, "{\"data\":{\"streaks\":{\"freezesHeld\":1}}}");
    gm_gql_prepared_release(e, again);
    gm_gql_prepared_release(e, p);

    /* Evicted with the cache: another document takes the only place. */
    cr_assert_eq(gm_gql_prepare_persisted(e, h2, 64, q2, strlen(q2), &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    cr_assert_eq(gm_gql_prepare_persisted(e, h1, 64, NULL, 0, &a, &errs, &p), GM_ENOTFOUND);
    cr_assert_eq(gm_gql_prepare_persisted(e, h2, 64, NULL, 0, &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    struct gm_gql_engine_stats st;
    gm_gql_engine_stats(e, &st);
    cr_assert_eq(st.persisted_hits, 2);
    cr_assert_eq(st.persisted_misses, 2);

    /* A hash that is not the text's, a malformed hash, an invalid document. */
    cr_assert_eq(gm_gql_prepare_persisted(e, h1, 64, q2, strlen(q2), &a, &errs, &p), GM_EINVAL);
    cr_assert_null(p);
    cr_assert_str_eq(errs.head->message, "provided sha does not match query");
    cr_assert_str_eq(errs.head->code, "BAD_USER_INPUT");
    gm_gql_errors_init(&errs);
    cr_assert_eq(gm_gql_prepare_persisted(e, h1, 63, NULL, 0, &a, &errs, &p), GM_EINVAL);
    cr_assert_eq(gm_gql_prepare_persisted(e, "zz", 2, NULL, 0, &a, &errs, &p), GM_EINVAL);
    char bad[65];
    memcpy(bad, h1, 65);
    bad[10] = 'g';
    cr_assert_eq(gm_gql_prepare_persisted(e, bad, 64, NULL, 0, &a, &errs, &p), GM_EINVAL);
    cr_assert_str_eq(errs.head->message,
                     "persistedQuery.sha256Hash must be 64 hexadecimal digits.");
    gm_gql_errors_init(&errs);
    static const char q3[] = "{ nope }";
    static const char h3[] = "a0276661df3f6318da2313fd98fbe50f1e2be566dbf8092c5e0530cf0ca232d9";
    cr_assert_eq(gm_gql_prepare_persisted(e, h3, 64, q3, strlen(q3), &a, &errs, &p), GM_EINVAL);
    cr_assert_str_eq(errs.head->code, "GRAPHQL_VALIDATION_FAILED");
    cr_assert_eq(gm_gql_prepare_persisted(e, h3, 64, NULL, 0, &a, &errs, &p), GM_ENOTFOUND);

    /* Without a cache nothing is registered. */
    gm_gql_engine_free(e);
    opts.cache_off = true;
    e = gm_gql_engine_new(schema, &opts);
    gm_gql_errors_init(&errs);
    cr_assert_eq(gm_gql_prepare_persisted(e, h1, 64, q1, strlen(q1), &a, &errs, &p), 0);
    gm_gql_prepared_release(e, p);
    cr_assert_eq(gm_gql_prepare_persisted(e, h1, 64, NULL, 0, &a, &errs, &p), GM_ENOTFOUND);
    gm_gql_engine_free(e);
    gm_arena_deinit(&a);
}

/*
 * Several threads share one engine whose cache is too small for their
 * documents: hits, evictions while a request still holds the entry, field
 * plans built concurrently (with and without variables) and persisted
 * lookups. Every answer must equal the one-thread answer; the sanitizers
 * catch a reference dropped too early.
 */
struct conc_doc {
    const char *q;
    const char *vars;
    char sha[65];
    char *want;
};

struct conc_run {
    struct gm_gql_engine *e;
    struct conc_doc *docs;
    size_t n_docs;
    int tid;
    int mismatches;
};

static void *
conc_thread(void *arg)
{
    struct conc_run *r = arg;
    struct t_ctx t = ctx_default();
    for (int i = 0; i < 400; i++) {
        struct conc_doc *d = &r->docs[(size_t)(r->tid + i) % r->n_docs];
        json_t *v = d->vars ? json_loads(d->vars, 0, NULL) : NULL;
        struct gm_gql_exec_params params = {.variables = v, .context = &t};
        struct gm_arena a;
        gm_arena_init(&a, 0);
        struct gm_gql_response resp = {0};
        if (i % 2 == 0) {
            gm_gql_run(r->e, d->q, strlen(d->q), &params, &a, &resp);
        } else {
            struct gm_gql_errors errs;
            gm_gql_errors_init(&errs);
            struct gm_gql_prepared *p = NULL;
            if (gm_gql_prepare_persisted(r->e, d->sha, 64, NULL, 0, &a, &errs, &p) == GM_ENOTFOUND)
                gm_gql_prepare_persisted(r->e, d->sha, 64, d->q, strlen(d->q), &a, &errs, &p);
            if (p) {
                gm_gql_execute(r->e, p, &params, &a, &resp);
                gm_gql_prepared_release(r->e, p);
            }
        }
        if (!resp.json || strcmp(resp.json, d->want) != 0)
            r->mismatches++;
        gm_arena_deinit(&a);
        json_decref(v);
    }
    return NULL;
}

Test(gql_execute, concurrent_engine, .timeout = 120)
{
    struct conc_doc docs[] = {
        {"{ streaks { currentStreak longestStreak } }", NULL, "", NULL},
        {"query($f: Int) { leaderboard(first: $f) { entries { rank userId score } } }",
         "{\"f\": 2}", "", NULL},
        {"query($s: Boolean!) { userProfile { exp ...P @skip(if: $s) } }\n"
         "fragment P on UserProfile { level coins }",
         "{\"s\": false}", "", NULL},
        {"{ rewards { id name cost } a: rewards { id } }", NULL, "", NULL},
        {"{ userProfile { badges { badge { id name } earnedAt } streak { currentStreak } } }", NULL,
         "", NULL},
        {"{ __type(name: \"Streak\") { name fields { name type { name kind } } } }", NULL, "",
         NULL},
    };
    size_t n = sizeof docs / sizeof docs[0];
    for (size_t i = 0; i < n; i++) {
        struct result r = run_full(engine, docs[i].q, docs[i].vars, NULL, NULL);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.n_errors, 0, "%s", r.json);
        docs[i].want = r.json;
        unsigned char sha[32];
        unsigned int len = 0;
        cr_assert_eq(EVP_Digest(docs[i].q, strlen(docs[i].q), sha, &len, EVP_sha256(), NULL), 1);
        for (int k = 0; k < 32; k++)
            snprintf(docs[i].sha + 2 * k, 3, "%02x", sha[k]);
    }
    struct gm_gql_engine_opts opts = {.cache_entries = 2};
    struct gm_gql_engine *e = gm_gql_engine_new(schema, &opts);
    pthread_t th[4];
    struct conc_run runs[4];
    for (int i = 0; i < 4; i++) {
        runs[i] = (struct conc_run){e, docs, n, i, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, conc_thread, &runs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(runs[i].mismatches, 0, "thread %d: %d wrong answers", i, runs[i].mismatches);
    }
    struct gm_gql_engine_stats st;
    gm_gql_engine_stats(e, &st);
    cr_assert_gt(st.cache_hits + st.persisted_hits, 0);
    cr_assert_leq(st.cache_entries, 2);
    gm_gql_engine_free(e);
    for (size_t i = 0; i < n; i++)
        free(docs[i].want);
}
