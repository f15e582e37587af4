/*
 * history.c: one learner's history, read a page at a time: the resolvers of
 * Query.redemptions, Query.ledger and Query.redemption, of the page types
 * and LedgerEntry, and of PageInfo (shared with the leaderboard).
 *
 * Both lists are in the order the processor applied them: by (partition,
 * seq), the partition's change-feed sequence for a redemption and its
 * ledger sequence for a ledger entry; `order: NEWEST_FIRST` reads the same
 * index backwards. A cursor names the last row of a page, "r" or "l", then
 * partition "." seq: a position, not a direction, so a cursor from one
 * order serves the other (the rows before it, walking back). The next page
 * is one range scan after (or before) it (the indexes of migration 0003),
 * so a page costs the same at the start and the end of a long history, and
 * rows added meanwhile (always at the end of the learner's partition)
 * neither repeat nor skip an entry of an oldest-first walk; a newest-first
 * walk sees them on its first page only. A page reads one row more than
 * asked to know whether another follows; totalCount is a second statement,
 * run only when selected.
 *
 * Who sees what: a student its own history only (another learner's is a
 * FORBIDDEN field error, the field null), staff and service anyone's.
 */
#include "internal.h"
#include "timefmt.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIRST     100
#define DEFAULT_FIRST 20

struct ledger_entry {
    const char *event_id, *kind, *detail, *occurred_at;
    int64_t exp_delta, coins_delta, exp_after, coins_after, capped_exp;
};

/* A page of either list: items of item_size bytes each. */
struct page {
    const char *user;   /* whose (for totalCount) */
    enum gm__q count_q; /* the statement that counts them */
    const char *items;  /* struct gm__redemption or struct ledger_entry */
    size_t n, item_size;
    struct gm__page_info info;
};

/* What distinguishes the two lists. */
struct list {
    const char *what; /* for messages: "redemptions", "ledger" */
    char cursor;      /* the cursors' first character */
    enum gm__q page_q, desc_q, count_q;
    size_t item_size;
    /* Fills item (zeroed, item_size bytes) from row of res; 0 or a field error. */
    int (*fill)(struct gm_gql_rctx *ctx, const PGresult *res, int row, void *item);
};

static const char *
dup_col(struct gm_gql_rctx *ctx, const PGresult *res, int row, int col)
{
    const char *v = PQgetvalue(res, row, col);
    return gm_arena_strndup(ctx->arena, v, strlen(v));
}

static int64_t
col_i64(const PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int
gm__col_time(struct gm_gql_rctx *ctx, const PGresult *res, int row, int col, const char **out)
{
    *out = NULL;
    if (PQgetisnull(res, row, col))
        return 0;
    char t[GM_RFC3339_MAX];
    if (gm_time_format_rfc3339(col_i64(res, row, col), 0, t))
        snprintf(t, sizeof t, "1970-01-01T00:00:00Z"); /* outside years 1-9999: not from us */
    if (!(*out = gm_arena_strndup(ctx->arena, t, strlen(t))))
        return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    return 0;
}

/* Columns of GM__Q_REDEMPTIONS after partition, seq: redemption_id,
 * reward_id, status, reason, occurred_at. */
static int
fill_redemption(struct gm_gql_rctx *ctx, const PGresult *res, int row, void *item)
{
    struct gm__redemption *r = item;
    r->id = dup_col(ctx, res, row, 2);
    r->reward_id = dup_col(ctx, res, row, 3);
    r->status = strcmp(PQgetvalue(res, row, 4), "COMPLETED") == 0 ? "COMPLETED" : "REJECTED";
    r->reason = PQgetisnull(res, row, 5) ? NULL : dup_col(ctx, res, row, 5);
    if (!r->id || !r->reward_id || (!PQgetisnull(res, row, 5) && !r->reason))
        return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    return gm__col_time(ctx, res, row, 6, &r->occurred_at);
}

/* Columns of GM__Q_LEDGER after partition, seq: event_id, kind, detail,
 * exp_delta, coins_delta, exp_after, coins_after, capped_exp, occurred_at. */
static int
fill_ledger(struct gm_gql_rctx *ctx, const PGresult *res, int row, void *item)
{
    struct ledger_entry *e = item;
    e->event_id = dup_col(ctx, res, row, 2);
    e->kind = dup_col(ctx, res, row, 3);
    e->detail = dup_col(ctx, res, row, 4);
    e->exp_delta = col_i64(res, row, 5);
    e->coins_delta = col_i64(res, row, 6);
    e->exp_after = col_i64(res, row, 7);
    e->coins_after = col_i64(res, row, 8);
    e->capped_exp = col_i64(res, row, 9);
    if (!e->event_id || !e->kind || !e->detail)
        return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    return gm__col_time(ctx, res, row, 10, &e->occurred_at);
}

static const struct list redemptions_list = {"redemptions",       'r',
                                             GM__Q_REDEMPTIONS,   GM__Q_REDEMPTIONS_DESC,
                                             GM__Q_REDEMPTIONS_N, sizeof(struct gm__redemption),
                                             fill_redemption};
static const struct list ledger_list = {
    "ledger",   'l', GM__Q_LEDGER, GM__Q_LEDGER_DESC, GM__Q_LEDGER_N, sizeof(struct ledger_entry),
    fill_ledger};

/* n decimal digits without a sign or a leading zero (but "0"), at most max_len. */
static bool
decimal(const char *s, size_t n, size_t max_len)
{
    if (n == 0 || n > max_len || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Parses cursor c[0..len) of list l ("r3.1042") into *partition and *seq;
 * false when it is not one of this API's cursors for l. */
static bool
parse_cursor(const struct list *l, const char *c, size_t len, int64_t *partition, int64_t *seq)
{
    if (len < 4 || c[0] != l->cursor)
        return false;
    const char *dot = memchr(c, '.', len);
    if (!dot)
        return false;
    size_t plen = (size_t)(dot - c) - 1, slen = len - plen - 2;
    if (!decimal(c + 1, plen, 10) || !decimal(dot + 1, slen, 19))
        return false;
    errno = 0;
    *partition = strtoll(c + 1, NULL, 10);
    *seq = strtoll(dot + 1, NULL, 10);
    return errno == 0 && *partition <= INT32_MAX;
}

/* Query.redemptions and Query.ledger: checks the caller, the arguments and
 * the cursor, then reads first + 1 rows after the cursor. */
static int
resolve_list(struct gm_gql_rctx *ctx, struct gm_gql_rval *out, const struct list *l)
{
    struct gm_api_request *req = ctx->context;
    const char *user = gm__target_user(ctx);
    if (!user)
        return GM_EINVAL;
    if (!gm__may_see_private(req, user))
        return gm_gql_rctx_error(
            ctx, "FORBIDDEN", "a student may read its own %s only, not another learner's", l->what);
    const struct gm_gql_ival *a_first = gm_gql_arg(ctx, "first");
    const struct gm_gql_ival *a_after = gm_gql_arg(ctx, "after");
    int64_t first = a_first && a_first->kind == GM_GQL_I_INT ? a_first->i : DEFAULT_FIRST;
    if (first < 1 || first > MAX_FIRST)
        return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "first must be from 1 to %d", MAX_FIRST);
    const struct gm_gql_ival *a_order = gm_gql_arg(ctx, "order");
    bool newest =
        a_order && a_order->kind == GM_GQL_I_ENUM && strcmp(a_order->s, "NEWEST_FIRST") == 0;
    /* Before every row, or (newest first) after every row. */
    int64_t partition = newest ? INT32_MAX : -1, seq = newest ? INT64_MAX : -1;
    if (a_after && a_after->kind == GM_GQL_I_STRING &&
        !parse_cursor(l, a_after->s, a_after->len, &partition, &seq))
        return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "after: not a cursor of this list");

    char p_s[24], s_s[24], n_s[24];
    snprintf(p_s, sizeof p_s, "%" PRId64, partition);
    snprintf(s_s, sizeof s_s, "%" PRId64, seq);
    snprintf(n_s, sizeof n_s, "%" PRId64, first + 1);
    const char *params[4] = {user, p_s, s_s, n_s};
    PGresult *res;
    if (gm__pg_query(req, newest ? l->desc_q : l->page_q, params, &res))
        return gm__internal(ctx, "reading %s", l->what);

    int rows = PQntuples(res), rc = 0;
    size_t n = rows > first ? (size_t)first : (size_t)rows;
    struct page *pg = gm_arena_alloc(ctx->arena, sizeof *pg);
    char *items = n ? gm_arena_alloc(ctx->arena, n * l->item_size) : NULL;
    if (!pg || (n && !items)) {
        rc = gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
        goto out;
    }
    *pg = (struct page){.user = user,
                        .count_q = l->count_q,
                        .items = items,
                        .n = n,
                        .item_size = l->item_size,
                        .info = {.has_next = (size_t)rows > n}};
    for (size_t i = 0; i < n; i++) {
        memset(items + i * l->item_size, 0, l->item_size);
        if ((rc = l->fill(ctx, res, (int)i, items + i * l->item_size)))
            goto out;
    }
    if (n) {
        char c[48];
        snprintf(c, sizeof c, "%c%s.%s", l->cursor, PQgetvalue(res, (int)n - 1, 0),
                 PQgetvalue(res, (int)n - 1, 1));
        if (!(pg->info.end_cursor = gm_arena_strndup(ctx->arena, c, strlen(c)))) {
            rc = gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
            goto out;
        }
    }
    gm_gql_rval_obj(out, pg, NULL);
out:
    PQclear(res);
    return rc;
}

static int
resolve_redemptions(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    return resolve_list(ctx, out, &redemptions_list);
}

static int
resolve_ledger(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    return resolve_list(ctx, out, &ledger_list);
}

/* Query.redemption(id, userId): one row of redemptions, null when absent. */
static int
resolve_redemption(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    struct gm_api_request *req = ctx->context;
    const char *user = gm__target_user(ctx);
    if (!user)
        return GM_EINVAL;
    const struct gm_gql_ival *a_id = gm_gql_arg(ctx, "id");
    if (!a_id || a_id->kind != GM_GQL_I_STRING || a_id->len == 0 || a_id->len > 128 ||
        memchr(a_id->s, '\0', a_id->len))
        return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "id must be 1 to 128 bytes");
    if (!gm__may_see_private(req, user))
        return gm_gql_rctx_error(ctx, "FORBIDDEN",
                                 "a student may read its own redemptions only, not another "
                                 "learner's");
    const char *params[2] = {user, a_id->s};
    PGresult *res;
    if (gm__pg_query(req, GM__Q_REDEMPTION, params, &res))
        return gm__internal(ctx, "reading the redemption");
    int rc = 0;
    if (PQntuples(res) != 1) {
        gm_gql_rval_null(out);
        goto out;
    }
    /* Columns: reward_id, status, reason, occurred_at. */
    struct gm__redemption *r = gm_arena_alloc(ctx->arena, sizeof *r);
    if (!r || !(r->id = gm_arena_strndup(ctx->arena, a_id->s, a_id->len)) ||
        !(r->reward_id = dup_col(ctx, res, 0, 0))) {
        rc = gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
        goto out;
    }
    r->status = strcmp(PQgetvalue(res, 0, 1), "COMPLETED") == 0 ? "COMPLETED" : "REJECTED";
    r->reason = NULL;
    if (!PQgetisnull(res, 0, 2) && !(r->reason = dup_col(ctx, res, 0, 2))) {
        rc = gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
        goto out;
    }
    if ((rc = gm__col_time(ctx, res, 0, 3, &r->occurred_at)))
        goto out;
    gm_gql_rval_obj(out, r, NULL);
out:
    PQclear(res);
    return rc;
}

/* RedemptionPage and LedgerPage: entries, totalCount, pageInfo. */
static int
resolve_page_field(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct page *pg = ctx->parent;
    const char *f = ctx->field->name;
    if (strcmp(f, "pageInfo") == 0) {
        gm_gql_rval_obj(out, &pg->info, NULL);
    } else if (strcmp(f, "entries") == 0) {
        struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, pg->n);
        if (pg->n && !items)
            return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
        for (size_t i = 0; i < pg->n; i++)
            gm_gql_rval_obj(&items[i], pg->items + i * pg->item_size, NULL);
    } else { /* totalCount */
        const char *params[1] = {pg->user};
        PGresult *res;
        if (gm__pg_query(ctx->context, pg->count_q, params, &res))
            return gm__internal(ctx, "counting");
        gm_gql_rval_int(out, col_i64(res, 0, 0));
        PQclear(res);
    }
    return 0;
}

static int
resolve_page_info_field(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct gm__page_info *pi = ctx->parent;
    if (strcmp(ctx->field->name, "hasNextPage") == 0)
        gm_gql_rval_bool(out, pi->has_next);
    else if (pi->end_cursor)
        gm_gql_rval_str(out, pi->end_cursor, strlen(pi->end_cursor));
    else
        gm_gql_rval_null(out);
    return 0;
}

/* LedgerEntry: field_data is the member's offset; strings or Ints by the field's name. */
static int
resolve_ledger_field(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const char *base = ctx->parent;
    size_t off = (size_t)(uintptr_t)ctx->field_data;
    const char *f = ctx->field->name;
    if (strcmp(f, "eventId") == 0 || strcmp(f, "kind") == 0 || strcmp(f, "detail") == 0 ||
        strcmp(f, "occurredAt") == 0) {
        const char *s;
        memcpy(&s, base + off, sizeof s);
        gm_gql_rval_str(out, s, strlen(s));
    } else {
        int64_t v;
        memcpy(&v, base + off, sizeof v);
        gm_gql_rval_int(out, v);
    }
    return 0;
}

int
gm__bind_history(struct gm_gql_schema *s, struct gm_api_backend *b, struct gm_err *err)
{
    (void)b;
#define LE(m) offsetof(struct ledger_entry, m)
    /* clang-format off */
    static const struct { const char *coord; gm_gql_resolve_fn fn; size_t off; } binds[] = {
        {"Query.redemptions", resolve_redemptions, 0},
        {"Query.ledger", resolve_ledger, 0},
        {"Query.redemption", resolve_redemption, 0},
        {"RedemptionPage.entries", resolve_page_field, 0},
        {"RedemptionPage.totalCount", resolve_page_field, 0},
        {"RedemptionPage.pageInfo", resolve_page_field, 0},
        {"LedgerPage.entries", resolve_page_field, 0},
        {"LedgerPage.totalCount", resolve_page_field, 0},
        {"LedgerPage.pageInfo", resolve_page_field, 0},
        {"PageInfo.endCursor", resolve_page_info_field, 0},
        {"PageInfo.hasNextPage", resolve_page_info_field, 0},
        {"LedgerEntry.eventId", resolve_ledger_field, LE(event_id)},
        {"LedgerEntry.kind", resolve_ledger_field, LE(kind)},
        {"LedgerEntry.detail", resolve_ledger_field, LE(detail)},
        {"LedgerEntry.occurredAt", resolve_ledger_field, LE(occurred_at)},
        {"LedgerEntry.expDelta", resolve_ledger_field, LE(exp_delta)},
        {"LedgerEntry.coinsDelta", resolve_ledger_field, LE(coins_delta)},
        {"LedgerEntry.expAfter", resolve_ledger_field, LE(exp_after)},
        {"LedgerEntry.coinsAfter", resolve_ledger_field, LE(coins_after)},
        {"LedgerEntry.cappedExp", resolve_ledger_field, LE(capped_exp)},
    };
    /* clang-format on */
#undef LE
    for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++) {
        int rc = gm_gql_schema_bind(s, binds[i].coord, binds[i].fn, (void *)(uintptr_t)binds[i].off,
                                    err);
        if (rc)
            return rc;
    }
    return 0;
}
