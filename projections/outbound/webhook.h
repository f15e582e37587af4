/*
 * webhook.h: signed webhooks for outbound events. The configuration (a
 * YAML file of endpoints), the JSON body and signature a receiver gets, and
 * the webhook projector: it reads the outbound events of a state's change
 * feed (feed.h) and POSTs each to every endpoint that wants its type, in
 * feed order, with retries (exponential backoff with jitter) and a dead
 * letter after a bound. Its delivery state (a cursor and the attempts per
 * endpoint, the dead letters) lives in its own small LMDB environment,
 * STATE/webhooks, outside the writer's. docs/operations.md says how a
 * receiver verifies a request.
 */
#ifndef GM_WEBHOOK_H
#define GM_WEBHOOK_H

#include "err.h"
#include "outbound.pb-c.h"
#include "state.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Event types, as bits of an endpoint's wants. */
enum {
    GM_WH_LEVEL_UP = 1 << 0,
    GM_WH_BADGE_EARNED = 1 << 1,
    GM_WH_STREAK_UPDATED = 1 << 2,
    GM_WH_REWARD_REDEEMED = 1 << 3,
    GM_WH_REDEMPTION_REJECTED = 1 << 4,
    GM_WH_OPS_ALERT = 1 << 5, /* operator alerts (opsalert.h), not of the change feed */
};

#define GM_WH_NAME_MAX      64
#define GM_WH_ENDPOINTS_MAX 64
#define GM_WH_SECRET_MAX    4096

struct gm_webhook_endpoint {
    char *name;     /* unique: the delivery state's key */
    char *url;      /* http:// or https:// */
    unsigned wants; /* GM_WH_* bits */
    char *secret;   /* the secret file's bytes, trailing newlines cut */
    size_t secret_len;
    int max_attempts; /* attempts before a dead letter */
};

struct gm_webhook_config {
    struct gm_webhook_endpoint *endpoints;
    size_t n;
    int64_t timeout_ms;         /* per request (connect included) */
    int64_t backoff_initial_ms; /* wait after the first failure; doubles */
    int64_t backoff_max_ms;     /* longest wait */
};

/*
 * Reads the YAML file path (docs/operations.md, Webhooks). *out is new;
 * free with gm_webhook_config_free. Errors: GM_EINVAL with err (line and
 * message), -errno for an unreadable file.
 */
int gm_webhook_config_load(const char *path, struct gm_webhook_config **out, struct gm_err *err);

/* Frees; NULL is fine. */
void gm_webhook_config_free(struct gm_webhook_config *cfg);

/* The type name ("level.up", ...) of oev and its GM_WH_* bit (0: none). */
const char *gm_webhook_type(const Gamification__V1__OutboundEvent *oev, unsigned *bit);

/* The JSON body for oev: {"id","type","userId","occurredAt","causeEventId",
 * "data"}. Returns new; free with free(). */
char *gm_webhook_body(const Gamification__V1__OutboundEvent *oev);

/* The Gamify-Signature value "t=T,v1=HEX": HMAC-SHA256 with secret over
 * T "." body, in lowercase hex, written to out (at least 96 bytes). */
void gm_webhook_sign(const char *secret, size_t secret_len, int64_t t, const char *body, char *out,
                     size_t cap);

/*
 * POSTs body to endpoint e with a fresh signature and the Gamify-Event-Id
 * (id) and Gamify-Event-Type (type) headers, one attempt, with curl (an
 * easy handle the caller owns and reuses). Returns 0 for a 2xx, else
 * GM_EIO with why (curl's error or the status) in why.
 */
int gm_webhook_post(void *curl, const struct gm_webhook_endpoint *e, int64_t timeout_ms,
                    const char *id, const char *type, const char *body, char *why, size_t why_cap);

/* Counters since open, for metrics. */
struct gm_webhooks_stats {
    uint64_t deliveries;   /* requests answered 2xx */
    uint64_t failures;     /* requests that failed (any other outcome) */
    uint64_t retries;      /* requests that repeated an earlier attempt */
    uint64_t dead_letters; /* events given up after max_attempts */
};

struct gm_webhooks;

/*
 * Creates the webhook projector for the state in state_dir, with its
 * delivery state in state_dir/webhooks (created). Takes ownership of cfg.
 * *out is new; free with gm_webhooks_close. Errors: GM_EDB, -errno.
 */
int gm_webhooks_open(struct gm_webhook_config *cfg, const char *state_dir, struct gm_webhooks **out,
                     struct gm_err *err);

/*
 * Delivers outbound events of st to the endpoints: each endpoint from its
 * cursor, at most max changes read, one request at a time; an endpoint
 * waiting out its backoff is skipped. *n: requests answered 2xx. Errors:
 * GM_ENOTFOUND (the feed was trimmed past a cursor), GM_EDB, GM_ECORRUPT.
 */
int gm_webhooks_step(struct gm_webhooks *w, struct gm_state *st, size_t max, size_t *n,
                     struct gm_err *err);

/* The slowest endpoint's cursor (the change it still needs); -1 unknown. */
int64_t gm_webhooks_cursor(const struct gm_webhooks *w);

/* Counters (atomics: any thread may read them). */
void gm_webhooks_stats(const struct gm_webhooks *w, struct gm_webhooks_stats *out);

/* Frees; NULL is fine. */
void gm_webhooks_close(struct gm_webhooks *w);

/* Prints the dead letters of state_dir's webhooks as JSON lines. */
int gm_webhooks_dead_list(const char *state_dir, FILE *out, struct gm_err *err);

/*
 * Sends every dead letter of state_dir again (to its endpoint in cfg, with
 * a fresh signature); those answered 2xx are removed. *sent and *left count
 * them. Errors: GM_EDB, GM_ENOTFOUND (no delivery state).
 */
int gm_webhooks_dead_retry(const struct gm_webhook_config *cfg, const char *state_dir,
                           uint64_t *sent, uint64_t *left, struct gm_err *err);

#endif
