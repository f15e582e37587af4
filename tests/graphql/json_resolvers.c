/*
 * json_resolvers.c: the resolver semantics of tests/graphql/README.md over
 * jansson values, for the differential test against graphql-js (run.mjs
 * holds the same rules in JavaScript; the two must not drift apart).
 *
 * A parent object is a json_t borrowed from the world or from the
 * request's scratch array, both of which outlive the request, so string
 * values are handed to the engine without copying.
 */
#include "json_resolvers.h"

#include "execute.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- JSON helpers ---- */

/* Whether v is a failure marker: an object with a "__error" member. */
static bool
is_marker(const json_t *v)
{
    return json_is_object(v) && json_object_get(v, "__error") != NULL;
}

/* Raises the field error a marker describes. */
static int
raise_marker(struct gm_gql_rctx *ctx, const json_t *m)
{
    const json_t *msg = json_object_get(m, "__error");
    const json_t *code = json_object_get(m, "code");
    /* The code string lives in the world, which outlives every request. */
    return gm_gql_rctx_error(ctx, json_is_string(code) ? json_string_value(code) : NULL, "%s",
                             json_is_string(msg) ? json_string_value(msg) : "");
}

/* Whether JSON string v equals s[0..len). */
static bool
str_eq(const json_t *v, const char *s, size_t len)
{
    return json_is_string(v) && json_string_length(v) == len &&
           memcmp(json_string_value(v), s, len) == 0;
}

/* The member key[0..len) of object obj (keys may hold NUL), or NULL. */
static json_t *
member_n(const json_t *obj, const char *key, size_t len)
{
    if (!json_is_object(obj))
        return NULL;
    return json_object_getn(obj, key, len);
}

/* A string argument, or NULL (with *len 0) when absent or null. */
static const char *
arg_str(const struct gm_gql_rctx *ctx, const char *name, size_t *len)
{
    const struct gm_gql_ival *v = gm_gql_arg(ctx, name);
    *len = 0;
    if (!v || v->kind == GM_GQL_I_NULL)
        return NULL;
    if (v->kind != GM_GQL_I_STRING && v->kind != GM_GQL_I_ENUM)
        return NULL;
    *len = v->kind == GM_GQL_I_ENUM ? strlen(v->s) : v->len;
    return v->s;
}

/* An Int argument: *out and true, or false when absent or null. */
static bool
arg_int(const struct gm_gql_rctx *ctx, const char *name, int64_t *out)
{
    const struct gm_gql_ival *v = gm_gql_arg(ctx, name);
    if (!v || v->kind != GM_GQL_I_INT)
        return false;
    *out = v->i;
    return true;
}

/* ---- values ---- */

/* The reference of a list's items: [T]! and [T] give T. */
static const struct gm_gql_tref *
item_ref(const struct gm_gql_tref *r)
{
    if (r && r->kind == GM_GQL_TYPE_NON_NULL)
        r = r->of;
    return r && r->kind == GM_GQL_TYPE_LIST ? r->of : r;
}

/*
 * Hands JSON value v (borrowed; NULL for a missing member) to the engine
 * as the value of a field of type r: markers raise, objects become parents
 * of the sub-selection, arrays lists, scalars themselves. Serialising them
 * by the field's type is the engine's job.
 */
static int
put_value(struct gm_gql_rctx *ctx, const json_t *v, const struct gm_gql_tref *r,
          struct gm_gql_rval *out)
{
    if (!v) {
        gm_gql_rval_null(out);
        return 0;
    }
    if (is_marker(v))
        return raise_marker(ctx, v);
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        gm_gql_rval_obj(out, v, gm_gql_tref_named(r));
        return 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, n);
        if (!items)
            return gm_gql_rctx_error(ctx, NULL, "out of request memory");
        for (size_t i = 0; i < n; i++) {
            const json_t *it = json_array_get(v, i);
            /* README.md: markers are never list items (an item cannot carry an error). */
            if (is_marker(it))
                return gm_gql_rctx_error(ctx, NULL, "data.json: a marker as a list item");
            int rc = put_value(ctx, it, item_ref(r), &items[i]);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    case JSON_STRING:
        gm_gql_rval_str(out, json_string_value(v), json_string_length(v));
        return 0;
    case JSON_INTEGER:
        gm_gql_rval_int(out, (int64_t)json_integer_value(v));
        return 0;
    case JSON_REAL:
        gm_gql_rval_float(out, json_real_value(v));
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        gm_gql_rval_bool(out, json_is_true(v));
        return 0;
    case JSON_NULL:
    default:
        gm_gql_rval_null(out);
        return 0;
    }
}

/* Keeps o (takes the reference) until the request ends; returns o. */
static json_t *
keep(struct gm_gql_rctx *ctx, json_t *o)
{
    struct gm_jsonres_req *req = ctx->context;
    json_array_append_new(req->scratch, o);
    return o;
}

/* ---- resolvers ---- */

/* Every field without a rule of its own: the parent's member of the same name. */
static int
res_member(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const json_t *parent = ctx->parent;
    const char *name = ctx->field->name;
    return put_value(ctx, member_n(parent, name, strlen(name)), ctx->field->type, out);
}

/*
 * The learner of the userId argument (the viewer when absent or null):
 * returns 0 and *u (NULL when unknown), or a field error for a marker.
 */
static int
learner(struct gm_gql_rctx *ctx, const json_t **u)
{
    const struct gm_jsonres_req *req = ctx->context;
    size_t len;
    const char *id = arg_str(ctx, "userId", &len);
    if (!id) {
        id = req->world->viewer;
        len = strlen(id);
    }
    *u = member_n(json_object_get(req->world->data, "users"), id, len);
    if (is_marker(*u))
        return raise_marker(ctx, *u);
    return 0;
}

static int
res_user_profile(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const json_t *u;
    int rc = learner(ctx, &u);
    if (rc < 0)
        return rc;
    return put_value(ctx, u, ctx->field->type, out);
}

static int
res_badges(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const json_t *u;
    int rc = learner(ctx, &u);
    if (rc < 0)
        return rc;
    if (!u) {
        gm_gql_rval_list(ctx, out, 0);
        return 0;
    }
    return put_value(ctx, json_object_get(u, "badges"), ctx->field->type, out);
}

static int
res_streaks(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const json_t *u;
    int rc = learner(ctx, &u);
    if (rc < 0)
        return rc;
    return put_value(ctx, u ? json_object_get(u, "streak") : NULL, ctx->field->type, out);
}

static int
res_rewards(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct gm_jsonres_req *req = ctx->context;
    return put_value(ctx, json_object_get(req->world->data, "rewards"), ctx->field->type, out);
}

/*
 * Parses a cursor "cursor:N" (N: 0 or 1 to 6 digits without a leading
 * zero) into *n; false when s[0..len) is not one.
 */
static bool
parse_cursor(const char *s, size_t len, long *n)
{
    static const char prefix[] = "cursor:";
    size_t p = sizeof prefix - 1;
    if (len <= p || len > p + 6 || memcmp(s, prefix, p) != 0)
        return false;
    if (s[p] == '0' && len != p + 1)
        return false;
    long v = 0;
    for (size_t i = p; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *n = v;
    return true;
}

static int
res_leaderboard(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct gm_jsonres_req *req = ctx->context;
    size_t board_len, period_len, key_len, after_len;
    const char *board = arg_str(ctx, "board", &board_len);
    const char *period = arg_str(ctx, "period", &period_len);
    const char *key = arg_str(ctx, "periodKey", &key_len);
    const char *after = arg_str(ctx, "after", &after_len);
    int64_t first = 10, around = 0;
    bool has_around;
    if (!board) {
        board = "global";
        board_len = strlen(board);
    }
    if (!period) {
        period = "ALL_TIME";
        period_len = strlen(period);
    }
    arg_int(ctx, "first", &first);
    has_around = arg_int(ctx, "around", &around);

    const json_t *boards = json_object_get(req->world->data, "leaderboards");
    const json_t *lb = NULL;
    for (size_t i = 0; i < json_array_size(boards) && !lb; i++) {
        const json_t *l = json_array_get(boards, i);
        if (!str_eq(json_object_get(l, "board"), board, board_len) ||
            !str_eq(json_object_get(l, "period"), period, period_len))
            continue;
        if (key ? str_eq(json_object_get(l, "periodKey"), key, key_len)
                : json_is_true(json_object_get(l, "current")))
            lb = l;
    }
    if (!lb) {
        gm_gql_rval_null(out);
        return 0;
    }
    if (first < 1 || first > 100)
        return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "first must be between 1 and 100");
    if (has_around && (around < 0 || around > 25))
        return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "around must be between 0 and 25");
    if (has_around && after)
        return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "after and around cannot be combined");

    const json_t *entries = json_object_get(lb, "entries");
    long len = (long)json_array_size(entries);
    long start = 0, end = 0;
    if (has_around) {
        const char *viewer = req->world->viewer;
        long at = -1;
        for (long i = 0; i < len && at < 0; i++)
            if (str_eq(json_object_get(json_array_get(entries, (size_t)i), "userId"), viewer,
                       strlen(viewer)))
                at = i;
        if (at >= 0) {
            start = at - around > 0 ? at - (long)around : 0;
            end = at + around + 1 < len ? at + (long)around + 1 : len;
        }
    } else {
        if (after) {
            long n;
            if (!parse_cursor(after, after_len, &n) || n >= len)
                return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "invalid cursor");
            start = n + 1;
        }
        end = start + first < len ? start + (long)first : len;
    }

    json_t *page = keep(ctx, json_object());
    static const char *const copied[] = {"board", "period", "periodKey", "me", "totalCount"};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        json_t *v = json_object_get(lb, copied[i]);
        if (v)
            json_object_set(page, copied[i], v);
    }
    json_t *slice = json_array();
    for (long i = start; i < end; i++)
        json_array_append(slice, json_array_get(entries, (size_t)i));
    json_object_set_new(page, "entries", slice);
    json_t *info = json_object();
    if (end > start) {
        char cursor[32];
        snprintf(cursor, sizeof cursor, "cursor:%ld", end - 1);
        json_object_set_new(info, "endCursor", json_string(cursor));
    } else {
        json_object_set_new(info, "endCursor", json_null());
    }
    json_object_set_new(info, "hasNextPage", json_boolean(end < len));
    json_object_set_new(page, "pageInfo", info);
    return put_value(ctx, page, ctx->field->type, out);
}

static int
res_redeem_reward(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct gm_jsonres_req *req = ctx->context;
    const json_t *data = req->world->data;
    size_t id_len, key_len;
    const char *id = arg_str(ctx, "rewardId", &id_len);
    const char *key = arg_str(ctx, "idempotencyKey", &key_len);
    if (!id)
        return gm_gql_rctx_error(ctx, NULL, "rewardId missing");

    const json_t *override = member_n(json_object_get(data, "redemptions"), id, id_len);
    if (override)
        return put_value(ctx, override, ctx->field->type, out);

    const json_t *rewards = json_object_get(data, "rewards");
    const json_t *r = NULL;
    for (size_t i = 0; i < json_array_size(rewards) && !r; i++)
        if (str_eq(json_object_get(json_array_get(rewards, i), "id"), id, id_len))
            r = json_array_get(rewards, i);
    const json_t *u =
        member_n(json_object_get(data, "users"), req->world->viewer, strlen(req->world->viewer));
    const json_t *stock = r ? json_object_get(r, "stock") : NULL;
    const json_t *coins = u ? json_object_get(u, "coins") : NULL;
    const char *reason = NULL;
    if (!r || !json_is_true(json_object_get(r, "active")))
        reason = "UNKNOWN_REWARD";
    else if (json_is_number(stock) && json_number_value(stock) <= 0)
        reason = "OUT_OF_STOCK";
    else if (!u || is_marker(u) || !json_is_number(coins) ||
             json_number_value(coins) < json_number_value(json_object_get(r, "cost")))
        reason = "INSUFFICIENT_COINS";

    json_t *payload = keep(ctx, json_object());
    if (reason) {
        json_object_set_new(payload, "status", json_string("REJECTED"));
        json_object_set_new(payload, "reason", json_string(reason));
        json_object_set_new(payload, "redemption", json_null());
    } else {
        json_t *red = json_object();
        /* "red-" + rewardId + "-" + (idempotencyKey ?? "0"); either may hold NUL. */
        size_t n = 4 + id_len + 1 + (key ? key_len : 1);
        char *buf = gm_arena_alloc(ctx->arena, n);
        if (!buf)
            return gm_gql_rctx_error(ctx, NULL, "out of request memory");
        memcpy(buf, "red-", 4);
        memcpy(buf + 4, id, id_len);
        buf[4 + id_len] = '-';
        memcpy(buf + 5 + id_len, key ? key : "0", key ? key_len : 1);
        json_object_set_new(red, "id", json_stringn(buf, n));
        json_object_set_new(red, "rewardId", json_stringn(id, id_len));
        json_object_set_new(red, "status", json_string("COMPLETED"));
        json_object_set_new(payload, "status", json_string("COMPLETED"));
        json_object_set_new(payload, "reason", json_null());
        json_object_set_new(payload, "redemption", red);
    }
    return put_value(ctx, payload, ctx->field->type, out);
}

/* ---- world and binding ---- */

int
gm_jsonres_world_load(struct gm_jsonres_world *w, const char *path, struct gm_err *err)
{
    json_error_t jerr;
    memset(w, 0, sizeof(*w));
    w->data = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!w->data)
        return gm_err_set(err, GM_EJSON, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    const json_t *viewer = json_object_get(w->data, "viewer");
    if (!json_is_string(viewer) || !json_is_object(json_object_get(w->data, "users")) ||
        !json_is_array(json_object_get(w->data, "leaderboards")) ||
        !json_is_array(json_object_get(w->data, "rewards"))) {
        json_decref(w->data);
        w->data = NULL;
        return gm_err_set(err, GM_EINVAL,
                          "%s: needs viewer (string), users (object), leaderboards and "
                          "rewards (arrays)",
                          path);
    }
    w->viewer = json_string_value(viewer);
    return 0;
}

void
gm_jsonres_world_deinit(struct gm_jsonres_world *w)
{
    json_decref(w->data);
    w->data = NULL;
    w->viewer = NULL;
}

void
gm_jsonres_req_init(struct gm_jsonres_req *req, const struct gm_jsonres_world *w)
{
    req->world = w;
    req->scratch = json_array();
}

void
gm_jsonres_req_end(struct gm_jsonres_req *req)
{
    json_decref(req->scratch);
    req->scratch = NULL;
}

int
gm_jsonres_bind(struct gm_gql_schema *s, struct gm_err *err)
{
    static const struct {
        const char *coord;
        gm_gql_resolve_fn fn;
    } roots[] = {
        {"Query.userProfile", res_user_profile}, {"Query.badges", res_badges},
        {"Query.streaks", res_streaks},          {"Query.rewards", res_rewards},
        {"Query.leaderboard", res_leaderboard},  {"Mutation.redeemReward", res_redeem_reward},
    };
    for (size_t i = 0; i < s->n_types; i++) {
        const struct gm_gql_stype *t = s->types[i];
        if (t->kind != GM_GQL_OBJECT || t->introspection)
            continue;
        for (size_t k = 0; k < t->n_fields; k++) {
            char coord[256];
            snprintf(coord, sizeof coord, "%s.%s", t->name, t->fields[k].name);
            gm_gql_resolve_fn fn = res_member;
            for (size_t r = 0; r < sizeof roots / sizeof roots[0]; r++)
                if (strcmp(coord, roots[r].coord) == 0)
                    fn = roots[r].fn;
            int rc = gm_gql_schema_bind(s, coord, fn, NULL, err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}
