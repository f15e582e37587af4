/*
 * queries.c: the resolvers of userProfile, badges, badgeCatalogue, rewards and streaks
 * over the Postgres read model, and the plain fields of their types.
 *
 * A root resolver reads what its type shows in one statement and builds a
 * C struct in the request's arena; the fields of that type read the
 * struct (generic resolvers with the member's offset as field data), so a
 * query never runs a statement per field. UserProfile.badges is the one
 * nested read: one statement for the profile's badges, when selected.
 * badgeCatalogue is the catalogue joined with one learner's badges.
 *
 * Who sees what: coins only for the learner itself, staff and service
 * (null for anyone else); everything else is public.
 */
#include "internal.h"
#include "timefmt.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NULL_INT INT64_MIN /* an Int field's null */

struct streak {
    int64_t current, longest, freezes;
};

struct badge {
    const char *id, *name, *icon, *criteria; /* icon NULL when the rules give none */
    const char *earned_at;                   /* RFC 3339 */
};

struct profile {
    const char *user_id;
    int64_t exp, level, coins, next_level_exp; /* coins, next_level_exp: NULL_INT for null */
    struct streak streak;
    bool has_badges; /* read with the profile (one statement): badges[0..n_badges) */
    struct badge *badges;
    size_t n_badges;
};

struct reward {
    const char *id, *name, *type;
    int64_t cost, stock; /* stock NULL_INT: unlimited */
    bool active;
};

/* ---- generic field resolvers: field_data is a struct member ---- */

enum member_kind { M_INT, M_STR, M_BOOL, M_SELF };

struct member {
    size_t off;
    enum member_kind kind;
};

static int
resolve_member(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct member *m = ctx->field_data;
    const char *base = ctx->parent;
    switch (m->kind) {
    case M_INT: {
        int64_t v;
        memcpy(&v, base + m->off, sizeof v);
        if (v == NULL_INT)
            gm_gql_rval_null(out);
        else
            gm_gql_rval_int(out, v);
        break;
    }
    case M_STR: {
        const char *s;
        memcpy(&s, base + m->off, sizeof s);
        if (s)
            gm_gql_rval_str(out, s, strlen(s));
        else
            gm_gql_rval_null(out);
        break;
    }
    case M_BOOL: {
        bool v;
        memcpy(&v, base + m->off, sizeof v);
        gm_gql_rval_bool(out, v);
        break;
    }
    case M_SELF: /* a member struct as the child object */
        gm_gql_rval_obj(out, base + m->off, NULL);
        break;
    }
    return 0;
}

#define MEMBER(name, type, field, kind)                                                            \
    static const struct member name = {offsetof(type, field), kind}

MEMBER(m_profile_user, struct profile, user_id, M_STR);
MEMBER(m_profile_exp, struct profile, exp, M_INT);
MEMBER(m_profile_level, struct profile, level, M_INT);
MEMBER(m_profile_coins, struct profile, coins, M_INT);
MEMBER(m_profile_next, struct profile, next_level_exp, M_INT);
MEMBER(m_profile_streak, struct profile, streak, M_SELF);
MEMBER(m_streak_current, struct streak, current, M_INT);
MEMBER(m_streak_longest, struct streak, longest, M_INT);
MEMBER(m_streak_freezes, struct streak, freezes, M_INT);
MEMBER(m_badge_self, struct badge, id, M_SELF);
MEMBER(m_badge_id, struct badge, id, M_STR);
MEMBER(m_badge_name, struct badge, name, M_STR);
MEMBER(m_badge_icon, struct badge, icon, M_STR);
MEMBER(m_badge_criteria, struct badge, criteria, M_STR);
MEMBER(m_badge_earned, struct badge, earned_at, M_STR);
MEMBER(m_reward_id, struct reward, id, M_STR);
MEMBER(m_reward_name, struct reward, name, M_STR);
MEMBER(m_reward_cost, struct reward, cost, M_INT);
MEMBER(m_reward_type, struct reward, type, M_STR);
MEMBER(m_reward_stock, struct reward, stock, M_INT);
MEMBER(m_reward_active, struct reward, active, M_BOOL);

/* ---- helpers ---- */

static char *
dup(struct gm_gql_rctx *ctx, const char *s)
{
    char *d = gm_arena_strndup(ctx->arena, s, strlen(s));
    return d;
}

static int64_t
col_int(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL_INT;
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

const char *
gm__target_user(struct gm_gql_rctx *ctx)
{
    const struct gm_api_request *req = ctx->context;
    const struct gm_gql_ival *a = gm_gql_arg(ctx, "userId");
    if (a && a->kind == GM_GQL_I_STRING) {
        if (a->len == 0 || a->len > 128 || memchr(a->s, '\0', a->len)) {
            gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "userId must be 1 to 128 bytes");
            return NULL;
        }
        return a->s;
    }
    if (!req->viewer.user_id || !req->viewer.user_id[0]) {
        gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "userId is required for a caller without one");
        return NULL;
    }
    return req->viewer.user_id;
}

bool
gm__may_see_private(const struct gm_api_request *req, const char *user)
{
    return req->viewer.role == GM_API_ROLE_STAFF || req->viewer.role == GM_API_ROLE_SERVICE ||
           (req->viewer.user_id && strcmp(req->viewer.user_id, user) == 0);
}

/* Fills b from columns col.. of row i of res (id, name, icon, criteria, earned_at epoch). */
static void
badge_row(struct gm_gql_rctx *ctx, PGresult *res, int i, int col, struct badge *b)
{
    b->id = dup(ctx, PQgetvalue(res, i, col));
    b->name = dup(ctx, PQgetvalue(res, i, col + 1));
    b->icon = PQgetvalue(res, i, col + 2)[0] ? dup(ctx, PQgetvalue(res, i, col + 2)) : NULL;
    b->criteria = dup(ctx, PQgetvalue(res, i, col + 3));
    char t[GM_RFC3339_MAX];
    if (gm_time_format_rfc3339(col_int(res, i, col + 4), 0, t))
        snprintf(t, sizeof t, "1970-01-01T00:00:00Z");
    b->earned_at = dup(ctx, t);
}

/*
 * Reads the learner row into a new profile in the arena; *p NULL when
 * unknown. with_badges: the learner's badges too, in the same statement
 * (userProfile: one round trip for the profile and its badges).
 */
static int
read_profile(struct gm_gql_rctx *ctx, const char *user, bool with_badges, struct profile **p)
{
    struct gm_api_request *req = ctx->context;
    *p = NULL;
    PGresult *res;
    const char *params[1] = {user};
    if (gm__pg_query(req, with_badges ? GM__Q_PROFILE_BADGES : GM__Q_PROFILE, params, &res))
        return gm__internal(ctx, "reading the learner");
    int rows = PQntuples(res);
    if (rows >= 1 && (with_badges || rows == 1)) {
        struct profile *pr = gm_arena_alloc(ctx->arena, sizeof *pr);
        if (!pr)
            goto oom;
        pr->user_id = dup(ctx, PQgetvalue(res, 0, 0));
        pr->exp = col_int(res, 0, 1);
        pr->level = col_int(res, 0, 2);
        pr->coins = gm__may_see_private(req, user) ? col_int(res, 0, 3) : NULL_INT;
        pr->streak.current = col_int(res, 0, 4);
        pr->streak.longest = col_int(res, 0, 5);
        pr->streak.freezes = col_int(res, 0, 6);
        pr->next_level_exp = col_int(res, 0, 7);
        pr->has_badges = with_badges;
        pr->badges = NULL;
        pr->n_badges = 0;
        /* No badge: one row whose badge columns are NULL (the LEFT JOIN). */
        size_t n = with_badges && !PQgetisnull(res, 0, 8) ? (size_t)rows : 0;
        if (n) {
            pr->badges = gm_arena_alloc(ctx->arena, n * sizeof *pr->badges);
            if (!pr->badges)
                goto oom;
            for (size_t i = 0; i < n; i++)
                badge_row(ctx, res, (int)i, 8, &pr->badges[i]);
            pr->n_badges = n;
        }
        *p = pr;
    }
    PQclear(res);
    return 0;
oom:
    PQclear(res);
    return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
}

/* ---- root fields ---- */

static int
resolve_user_profile(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const char *user = gm__target_user(ctx);
    if (!user)
        return GM_EINVAL;
    struct profile *p;
    int rc = read_profile(ctx, user, true, &p);
    if (rc)
        return rc;
    if (p)
        gm_gql_rval_obj(out, p, NULL);
    else
        gm_gql_rval_null(out);
    return 0;
}

static int
resolve_streaks(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const char *user = gm__target_user(ctx);
    if (!user)
        return GM_EINVAL;
    struct profile *p;
    int rc = read_profile(ctx, user, false, &p);
    if (rc)
        return rc;
    if (p)
        gm_gql_rval_obj(out, &p->streak, NULL);
    else
        gm_gql_rval_null(out);
    return 0;
}

/* The badges of user as a list of struct badge. */
static int
list_badges(struct gm_gql_rctx *ctx, const char *user, struct gm_gql_rval *out)
{
    PGresult *res;
    const char *params[1] = {user};
    if (gm__pg_query(ctx->context, GM__Q_BADGES, params, &res))
        return gm__internal(ctx, "reading badges");
    int n = PQntuples(res);
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, (size_t)n);
    struct badge *bs = n ? gm_arena_alloc(ctx->arena, (size_t)n * sizeof *bs) : NULL;
    if ((n && !items) || (n && !bs)) {
        PQclear(res);
        return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    }
    for (int i = 0; i < n; i++) {
        badge_row(ctx, res, i, 0, &bs[i]);
        gm_gql_rval_obj(&items[i], &bs[i], NULL);
    }
    PQclear(res);
    return 0;
}

static int
resolve_badges(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const char *user = gm__target_user(ctx);
    if (!user)
        return GM_EINVAL;
    return list_badges(ctx, user, out);
}

static int
resolve_profile_badges(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct profile *p = ctx->parent;
    if (!p->has_badges)
        return list_badges(ctx, p->user_id, out);
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, p->n_badges);
    if (p->n_badges && !items)
        return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    for (size_t i = 0; i < p->n_badges; i++)
        gm_gql_rval_obj(&items[i], &p->badges[i], NULL);
    return 0;
}

/* Query.badgeCatalogue: every active badge in the rules' order, each a
 * struct badge (UserBadge's layout, so Badge's resolvers serve it) with
 * earned_at NULL when the learner has not earned it. One statement. */
static int
resolve_badge_catalogue(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const char *user = gm__target_user(ctx);
    if (!user)
        return GM_EINVAL;
    PGresult *res;
    const char *params[1] = {user};
    if (gm__pg_query(ctx->context, GM__Q_BADGE_CATALOGUE, params, &res))
        return gm__internal(ctx, "reading the badge catalogue");
    int n = PQntuples(res), rc = 0;
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, (size_t)n);
    struct badge *bs = n ? gm_arena_alloc(ctx->arena, (size_t)n * sizeof *bs) : NULL;
    if (n && (!items || !bs)) {
        rc = gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        struct badge *b = &bs[i];
        b->id = dup(ctx, PQgetvalue(res, i, 0));
        b->name = dup(ctx, PQgetvalue(res, i, 1));
        b->icon = PQgetvalue(res, i, 2)[0] ? dup(ctx, PQgetvalue(res, i, 2)) : NULL;
        b->criteria = dup(ctx, PQgetvalue(res, i, 3));
        if ((rc = gm__col_time(ctx, res, i, 4, &b->earned_at)))
            goto out;
        gm_gql_rval_obj(&items[i], b, NULL);
    }
out:
    PQclear(res);
    return rc;
}

static int
resolve_catalogue_earned(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct badge *b = ctx->parent;
    gm_gql_rval_bool(out, b->earned_at != NULL);
    return 0;
}

static int
resolve_rewards(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    PGresult *res;
    if (gm__pg_query(ctx->context, GM__Q_REWARDS, NULL, &res))
        return gm__internal(ctx, "reading rewards");
    int n = PQntuples(res);
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, (size_t)n);
    struct reward *ws = n ? gm_arena_alloc(ctx->arena, (size_t)n * sizeof *ws) : NULL;
    if ((n && !items) || (n && !ws)) {
        PQclear(res);
        return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    }
    for (int i = 0; i < n; i++) {
        struct reward *w = &ws[i];
        w->id = dup(ctx, PQgetvalue(res, i, 0));
        w->name = dup(ctx, PQgetvalue(res, i, 1));
        w->cost = col_int(res, i, 2);
        w->type = dup(ctx, PQgetvalue(res, i, 3));
        w->stock = col_int(res, i, 4);
        w->active = PQgetvalue(res, i, 5)[0] == 't';
        gm_gql_rval_obj(&items[i], w, NULL);
    }
    PQclear(res);
    return 0;
}

int
gm__bind_queries(struct gm_gql_schema *s, struct gm_api_backend *b, struct gm_err *err)
{
    (void)b;
    /* clang-format off */
    static const struct { const char *coord; gm_gql_resolve_fn fn; const struct member *m; } binds[] = {
        {"Query.userProfile", resolve_user_profile, NULL},
        {"Query.badges", resolve_badges, NULL},
        {"Query.rewards", resolve_rewards, NULL},
        {"Query.streaks", resolve_streaks, NULL},
        {"Query.badgeCatalogue", resolve_badge_catalogue, NULL},
        {"BadgeCatalogueEntry.badge", resolve_member, &m_badge_self},
        {"BadgeCatalogueEntry.earned", resolve_catalogue_earned, NULL},
        {"BadgeCatalogueEntry.earnedAt", resolve_member, &m_badge_earned},
        {"UserProfile.userId", resolve_member, &m_profile_user},
        {"UserProfile.exp", resolve_member, &m_profile_exp},
        {"UserProfile.level", resolve_member, &m_profile_level},
        {"UserProfile.coins", resolve_member, &m_profile_coins},
        {"UserProfile.nextLevelExp", resolve_member, &m_profile_next},
        {"UserProfile.badges", resolve_profile_badges, NULL},
        {"UserProfile.streak", resolve_member, &m_profile_streak},
        {"UserBadge.badge", resolve_member, &m_badge_self},
        {"UserBadge.earnedAt", resolve_member, &m_badge_earned},
        {"Badge.id", resolve_member, &m_badge_id},
        {"Badge.name", resolve_member, &m_badge_name},
        {"Badge.icon", resolve_member, &m_badge_icon},
        {"Badge.criteria", resolve_member, &m_badge_criteria},
        {"Reward.id", resolve_member, &m_reward_id},
        {"Reward.name", resolve_member, &m_reward_name},
        {"Reward.cost", resolve_member, &m_reward_cost},
        {"Reward.type", resolve_member, &m_reward_type},
        {"Reward.stock", resolve_member, &m_reward_stock},
        {"Reward.active", resolve_member, &m_reward_active},
        {"Streak.currentStreak", resolve_member, &m_streak_current},
        {"Streak.longestStreak", resolve_member, &m_streak_longest},
        {"Streak.freezesHeld", resolve_member, &m_streak_freezes},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++) {
        int rc = gm_gql_schema_bind(s, binds[i].coord, binds[i].fn, (void *)binds[i].m, err);
        if (rc)
            return rc;
    }
    return 0;
}
