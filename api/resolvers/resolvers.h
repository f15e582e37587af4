/*
 * resolvers.h: the resolvers of api/schema.graphql over the read side of
 * gamify: the Postgres read model (projections/postgres), the Redis
 * leaderboards (projections/redis) and, for redeemReward, the event log.
 *
 * A backend holds the connections: a pool of Postgres connections (each
 * with every statement prepared), one Redis connection per thread, one
 * appender of the log, and a listener thread that LISTENs for redemption
 * outcomes. It is shared by every request thread. docs/api.md says what
 * each query reads and who sees what; docs/internals/resolvers.md how.
 *
 * Errors a client sees are masked: a failing server gives the field error
 * INTERNAL_SERVER_ERROR "Internal server error", the details go to the log
 * with the request id.
 */
#ifndef GM_API_RESOLVERS_H
#define GM_API_RESOLVERS_H

#include "err.h"
#include "schema.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gm_api_role { GM_API_ROLE_STUDENT, GM_API_ROLE_STAFF, GM_API_ROLE_SERVICE };

/* Who asks: the token's sub and role; request_id for the log lines. All borrowed. */
struct gm_api_viewer {
    const char *user_id;
    enum gm_api_role role;
    const char *request_id;
};

struct gm_api_backend_opts {
    const char *postgres; /* libpq conninfo of the read model */
    const char *redis;    /* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] */
    const char *log_uri;  /* file:DIR or kafka://HOST:PORT[,HOST:PORT]/TOPIC, for redeemReward;
                             NULL: redeemReward answers INTERNAL_SERVER_ERROR */
    int redeem_wait_ms;   /* how long redeemReward waits for the outcome; 0: 2000 */
    int pool_size;        /* Postgres connections at most; 0: 16 */
};

/* Settings beyond gm_api_backend_opts (gm_api_backend_open_ex). */
struct gm_api_backend_opts_ex {
    const char *redis_prefix; /* of the leaderboard keys; NULL: "gamify:" (as the projector) */
    int timeout_ms;           /* Redis connect and command timeout, Postgres connect; 0: 2000 */
    int page_cache_ms;        /* leaderboard pages shared by requests at most this long; 0: off */
    int redis_batch; /* Redis calls of concurrent requests per round trip at most; 0, 1: off */
    int64_t mirror_members; /* board mirror (mirror.c): members held at most; 0: off */
    int mirror_check_ms;    /* its size check against Redis, every this long; 0: 1000 */
};

struct gm_api_backend;

/*
 * Opens a backend: checks the options, opens the log appender and starts
 * the redemption listener. Does not require Postgres or Redis to be up
 * (requests fail masked and gm_api_backend_ready says why until they are).
 * *out is new; close with gm_api_backend_close. Errors: GM_EINVAL (bad
 * option, bad log URI), the log's errors; err says why.
 */
int gm_api_backend_open(const struct gm_api_backend_opts *o, struct gm_api_backend **out,
                        struct gm_err *err);
/* The same with extra settings (ex may be NULL). */
int gm_api_backend_open_ex(const struct gm_api_backend_opts *o,
                           const struct gm_api_backend_opts_ex *ex, struct gm_api_backend **out,
                           struct gm_err *err);

/* Stops the listener, closes every connection and frees b; NULL is fine.
 * No request may be running. */
void gm_api_backend_close(struct gm_api_backend *b);

/*
 * 0 when ready: Postgres reachable with the schema version this program
 * knows, Redis reachable. Otherwise GM_EDB or GM_EREDIS with why (a
 * person-readable reason, NUL-terminated, truncated to why_len).
 */
int gm_api_backend_ready(struct gm_api_backend *b, char *why, size_t why_len);

/*
 * `gamify-api --check-config`: connects to o's Postgres (the schema version
 * must be this program's), Redis (PING) and checks o's log URI (a file
 * log's folder writable or creatable, not created; a Kafka topic's
 * partitions), timeout_ms each at most (0: 2000). Prints one "NAME: ok"
 * line per check to stdout. Returns 0, or GM_EDB, GM_EREDIS, GM_EIO,
 * GM_EINVAL or GM_EKAFKA with err naming what failed and why.
 */
int gm_api_backend_check(const struct gm_api_backend_opts *o, int timeout_ms, struct gm_err *err);
/* Counters since open (for /metrics). */
struct gm_api_backend_stats {
    uint64_t pg_pool_waits;       /* requests that waited for a free Postgres connection */
    uint64_t pg_errors;           /* failed Postgres calls */
    uint64_t redis_errors;        /* failed Redis calls */
    uint64_t redeem_appended;     /* RedeemReward events appended */
    uint64_t redeem_pending;      /* answered PENDING (the outcome did not come in time) */
    uint64_t listener_restarts;   /* LISTEN connections (re)made */
    uint64_t redis_trips;         /* Redis round trips of the resolvers */
    uint64_t redis_calls;         /* Redis commands of the resolvers (calls / trips: batch size) */
    uint64_t mirror_hits;         /* leaderboard requests the board mirror answered */
    uint64_t mirror_misses;       /* leaderboard requests for a board it did not hold */
    uint64_t mirror_loads;        /* boards it read whole from Redis */
    uint64_t mirror_resets;       /* times it dropped every board (a reset, a lost connection) */
    uint64_t mirror_drift_drops;  /* boards dropped because their size differed from Redis's */
    uint64_t mirror_budget_drops; /* boards dropped because messages grew them past the budget */
    uint64_t mirror_boards;       /* boards held now */
    uint64_t mirror_members;      /* members held now, over every board */
};
void gm_api_backend_stats(struct gm_api_backend *b, struct gm_api_backend_stats *out);

/*
 * Binds every resolver of the schema built from api/schema.graphql; b is
 * borrowed and must outlive the schema's use. Resolvers expect
 * ctx->context to be a struct gm_api_request. Returns 0, or GM_ENOTFOUND
 * with err naming a field the schema lacks.
 */
int gm_api_resolvers_bind(struct gm_gql_schema *s, struct gm_api_backend *b, struct gm_err *err);

/* What Subscription.leaderboardChanged read: the board and the period's enum name. */
struct gm_api_watch {
    bool set;
    char board[129];
    char period[16];
};

/*
 * Drops the cached pages of board's period period_key ("all", "2026-W07",
 * "2026-11"); board NULL: every page. Called on each leaderboard-changed
 * message of the projector (the streams' subscriber, api/http/sse.c).
 */
void gm_api_backend_lb_changed(struct gm_api_backend *b, const char *board, const char *period_key);

/*
 * What the board mirror (--mirror-members) calls once it has applied the
 * projector's scores for a board it holds (board, period_key), or dropped
 * boards (NULL, NULL: every board), so that live leaderboards render from
 * the mirror after it changed, not before. fn runs on the mirror's thread
 * and must not call back into the backend; fn NULL stops the calls (when
 * this returns, no call is running). ctx is borrowed.
 */
void gm_api_backend_set_notify(struct gm_api_backend *b,
                               void (*fn)(void *ctx, const char *board, const char *period_key),
                               void *ctx);

/* Whether the board mirror holds board's period period_key now (its changes
 * then come through gm_api_backend_set_notify's function). */
bool gm_api_backend_mirror_holds(struct gm_api_backend *b, const char *board,
                                 const char *period_key);

/*
 * A Redis script call the HTTP layer lets the request's resolvers carry
 * (the rate-limit check): the first resolver going to Redis runs it in the
 * same script call as its own read (one round trip, one script run), in a
 * Lua function whose KEYS and ARGV are keys and args. Its answer goes to
 * reply (a redisReply *, then owned by the HTTP layer; NULL when the call
 * failed) and sent is set. Everything else is borrowed.
 */
struct gm_api_carry {
    const char *script; /* a Lua chunk over KEYS and ARGV, ending in a return */
    const char *sha;    /* an identity of script (its SHA-1, hexadecimal) */
    const char *const *keys;
    size_t n_keys;
    const char *const *args;
    size_t n_args;
    bool sent;
    void *reply;
};

/* Whether the resolver of root field name can carry a gm_api_carry (it reads Redis). */
bool gm_api_backend_carries(const char *root_field);

/* What a request hands the executor as gm_gql_exec_params.context. */
struct gm_api_request {
    struct gm_api_backend *backend;
    struct gm_api_viewer viewer;
    struct gm_api_watch *watch; /* subscriptions: filled by leaderboardChanged; else NULL */
    struct gm_api_carry *carry; /* NULL: nothing to carry */
};

/*
 * The redemption id redeemReward uses for (user, idempotency key):
 * "k" + 32 hexadecimal digits of SHA-256(user "\n" key), so the same key
 * always names the same redemption. out has at least 34 bytes.
 */
void gm_api_redemption_id(const char *user_id, const char *key, size_t key_len, char out[34]);

#endif
