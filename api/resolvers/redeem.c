/*
 * redeem.c: Mutation.redeemReward. The API never writes state: it appends
 * a RedeemReward event to the log for the caller and waits (bounded) for
 * the processor's outcome to reach the read model.
 *
 * The redemption id comes from (user, idempotency key), so a retried
 * request names the same redemption (the fold answers a repeated id with
 * its first outcome, and the event id, derived from it, is deduplicated);
 * without a key it is random. Order: look the redemption up (a known one
 * is answered without appending), register as a waiter, append, look it up
 * again (it may have been projected before the listener saw it), then wait
 * for a notification (listen.c) and read the row, until redeem_wait_ms has
 * passed: then PENDING.
 */
#include "codec.h"
#include "internal.h"
#include "json.h"
#include "log.h"
#include "timefmt.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ID  128 /* event contract: ids of 1 to 128 bytes */
#define MAX_KEY 256

struct payload {
    const char *status, *reason; /* reason NULL unless REJECTED */
    struct gm__redemption redemption;
};

void
gm_api_redemption_id(const char *user_id, const char *key, size_t key_len, char out[34])
{
    size_t ul = strlen(user_id);
    unsigned char *msg = malloc(ul + 1 + key_len + 1);
    unsigned char md[SHA256_DIGEST_LENGTH];
    if (!msg)
        abort();
    memcpy(msg, user_id, ul);
    msg[ul] = '\n';
    memcpy(msg + ul + 1, key, key_len);
    SHA256(msg, ul + 1 + key_len, md);
    free(msg);
    out[0] = 'k';
    for (int i = 0; i < 16; i++)
        snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
}

/* Reads the redemption's row: 1 found (p filled), 0 not yet, <0 masked error. */
static int
lookup(struct gm_gql_rctx *ctx, const char *user, const char *red, struct payload *p)
{
    PGresult *res;
    const char *params[2] = {user, red};
    if (gm__pg_query(ctx->context, GM__Q_REDEMPTION, params, &res))
        return gm__internal(ctx, "reading the redemption");
    int found = PQntuples(res) == 1;
    if (found) {
        const char *status = PQgetvalue(res, 0, 1);
        p->status = strcmp(status, "COMPLETED") == 0 ? "COMPLETED" : "REJECTED";
        p->reason = PQgetisnull(res, 0, 2) ? NULL
                                           : gm_arena_strndup(ctx->arena, PQgetvalue(res, 0, 2),
                                                              strlen(PQgetvalue(res, 0, 2)));
        p->redemption.reward_id =
            gm_arena_strndup(ctx->arena, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)));
        p->redemption.status = p->status;
        p->redemption.reason = p->reason;
        int rc = gm__col_time(ctx, res, 0, 3, &p->redemption.occurred_at);
        if (!rc && !p->redemption.reward_id)
            rc = gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
        if (rc) {
            PQclear(res);
            return rc;
        }
    }
    PQclear(res);
    return found;
}

/* Encodes and appends RedeemReward{red, reward} for user. */
static int
append(struct gm_gql_rctx *ctx, const char *user, const char *red, const char *reward)
{
    char at[GM_RFC3339_MAX];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (gm_time_format_rfc3339(ts.tv_sec, (int32_t)(ts.tv_nsec / 1000000 * 1000000), at))
        return gm__internal(ctx, "the clock is outside years 1-9999");
    char event_id[64];
    snprintf(event_id, sizeof event_id, "api-redeem-%s", red);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "eventId", event_id, "userId", user,
                          "occurredAt", at, "source", "gamify-api", "redeemReward", "redemptionId",
                          red, "rewardId", reward);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        abort();
    Gamification__V1__Event *ev = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_event_from_json(text, strlen(text), &ev, &err);
    if (!rc)
        rc = gm_event_encode(ev, &buf, &len, &err);
    gm_event_free(ev);
    free(text);
    if (rc) {
        /* The inputs were checked, so this is ours, not the caller's. */
        return gm__internal(ctx, "encoding RedeemReward: %s", err.msg);
    }
    rc = gm__log_append(ctx->context, user, buf, len);
    free(buf);
    if (rc)
        return gm__internal(ctx, "appending RedeemReward");
    return 0;
}

static bool
id_ok(const char *s, size_t len, size_t max)
{
    return len > 0 && len <= max && !memchr(s, '\0', len);
}

static int
resolve_redeem(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    struct gm_api_request *req = ctx->context;
    struct gm_api_backend *b = req->backend;
    const char *user = req->viewer.user_id;
    const struct gm_gql_ival *a_reward = gm_gql_arg(ctx, "rewardId");
    const struct gm_gql_ival *a_key = gm_gql_arg(ctx, "idempotencyKey");
    if (!user || !id_ok(user, strlen(user), MAX_ID))
        return gm_gql_rctx_error(ctx, "FORBIDDEN", "redeemReward needs a caller with a user id");
    if (!a_reward || a_reward->kind != GM_GQL_I_STRING ||
        !id_ok(a_reward->s, a_reward->len, MAX_ID))
        return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "rewardId must be 1 to 128 bytes");
    char red[40];
    if (a_key && a_key->kind == GM_GQL_I_STRING) {
        if (!id_ok(a_key->s, a_key->len, MAX_KEY))
            return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "idempotencyKey must be 1 to %d bytes",
                                     MAX_KEY);
        gm_api_redemption_id(user, a_key->s, a_key->len, red);
    } else {
        unsigned char rnd[16];
        if (RAND_bytes(rnd, sizeof rnd) != 1)
            return gm__internal(ctx, "no random bytes");
        red[0] = 'r';
        for (int i = 0; i < 16; i++)
            snprintf(red + 1 + 2 * i, 3, "%02x", rnd[i]);
    }
    struct payload *p = gm_arena_alloc(ctx->arena, sizeof *p);
    char *red_copy = gm_arena_strndup(ctx->arena, red, strlen(red));
    if (!p || !red_copy)
        return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    p->redemption.id = red_copy;

    int found = lookup(ctx, user, red, p);
    if (found < 0)
        return found;
    if (!found) {
        struct gm__waiter w = {.user_id = user, .redemption_id = red};
        gm__waiter_add(b, &w);
        int64_t until = gm__now_ms() + b->redeem_wait_ms;
        int rc = append(ctx, user, red, a_reward->s);
        if (!rc)
            found = lookup(ctx, user, red, p);
        while (!rc && found == 0 && gm__now_ms() < until) {
            bool listening;
            bool woken = gm__waiter_wait(b, &w, until, &listening);
            if (!woken && !listening) {
                /* No notifications: poll the table. */
                struct timespec nap = {0, 50 * 1000000};
                nanosleep(&nap, NULL);
            }
            if (woken || !listening || gm__now_ms() >= until)
                found = lookup(ctx, user, red, p);
        }
        gm__waiter_remove(b, &w);
        if (rc)
            return rc;
        if (found < 0)
            return found;
    }
    if (!found) {
        atomic_fetch_add(&b->redeem_pending, 1);
        p->status = "PENDING";
        p->reason = NULL;
        p->redemption.status = "PENDING";
        p->redemption.reason = NULL;
        p->redemption.occurred_at = NULL;
        p->redemption.reward_id = gm_arena_strndup(ctx->arena, a_reward->s, a_reward->len);
        if (!p->redemption.reward_id)
            return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    }
    gm_gql_rval_obj(out, p, NULL);
    return 0;
}

static int
resolve_payload_field(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct payload *p = ctx->parent;
    const char *f = ctx->field->name;
    if (strcmp(f, "status") == 0)
        gm_gql_rval_str(out, p->status, strlen(p->status));
    else if (strcmp(f, "reason") == 0) {
        if (p->reason)
            gm_gql_rval_str(out, p->reason, strlen(p->reason));
        else
            gm_gql_rval_null(out);
    } else
        gm_gql_rval_obj(out, &p->redemption, NULL);
    return 0;
}

/* Every field of Redemption (also the pages of history.c). */
static int
resolve_redemption_field(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct gm__redemption *r = ctx->parent;
    const char *f = ctx->field->name;
    const char *v = strcmp(f, "id") == 0           ? r->id
                    : strcmp(f, "rewardId") == 0   ? r->reward_id
                    : strcmp(f, "status") == 0     ? r->status
                    : strcmp(f, "reason") == 0     ? r->reason
                    : strcmp(f, "occurredAt") == 0 ? r->occurred_at
                                                   : NULL;
    if (v)
        gm_gql_rval_str(out, v, strlen(v));
    else
        gm_gql_rval_null(out);
    return 0;
}

int
gm__bind_redeem(struct gm_gql_schema *s, struct gm_api_backend *b, struct gm_err *err)
{
    (void)b;
    static const struct {
        const char *coord;
        gm_gql_resolve_fn fn;
    } binds[] = {
        {"Mutation.redeemReward", resolve_redeem},
        {"RedeemRewardPayload.status", resolve_payload_field},
        {"RedeemRewardPayload.reason", resolve_payload_field},
        {"RedeemRewardPayload.redemption", resolve_payload_field},
        {"Redemption.id", resolve_redemption_field},
        {"Redemption.rewardId", resolve_redemption_field},
        {"Redemption.status", resolve_redemption_field},
        {"Redemption.reason", resolve_redemption_field},
        {"Redemption.occurredAt", resolve_redemption_field},
    };
    for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++) {
        int rc = gm_gql_schema_bind(s, binds[i].coord, binds[i].fn, NULL, err);
        if (rc)
            return rc;
    }
    return 0;
}
