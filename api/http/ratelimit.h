/*
 * ratelimit.h: per-user, per-operation request limits for gamify-api,
 * shared by every replica through Redis.
 *
 * Each (user, operation) pair has a limit per minute, enforced as a
 * generic cell rate (GCRA): the pair's key holds a theoretical arrival
 * time; a request moves it 60 s / limit later and is allowed while it
 * stays within a minute of now. So `limit` requests may come at once, and
 * then one every 60 s / limit. One request may concern several operations
 * (root fields): one script call checks them all and counts them only
 * when all are allowed, atomically, with Redis's clock (EVALSHA; EVAL
 * once when the server does not have the script yet).
 *
 * Leases: a script call may take several cells of a pair at once (up to
 * the lease size: limit / 20, at most gm_api_limiter_set_lease's; 1 for a
 * limit under 40), counted in Redis at once; the process then spends them
 * on the pair's next requests without asking Redis. A refusal is kept
 * until its Retry-After, so a refused pair asks Redis again only when a
 * cell can be free. Cells leased and not spent stay counted, so all
 * replicas together never allow more than the limit plus, per replica,
 * lease size - 1 for a pair; a user spread over replicas may be refused
 * up to that many requests early on one and allowed them later on another.
 *
 * While Redis cannot be reached (connect or command failure; retried at
 * most once a second per thread), the same rule runs in this process on a
 * bounded table: limits then hold per replica, which gm_api_limiter_local
 * reports for /readyz and /metrics.
 */
#ifndef GM_API_RATELIMIT_H
#define GM_API_RATELIMIT_H

#include "err.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_API_RL_MAX_RULES 32

/* The default limits: the seed's; 100 a minute for the reads added since (redemption 200,
 * as clients poll a PENDING redemption with it); 600 for any other root field. */
#define GM_API_RL_DEFAULT                                                                          \
    "userProfile=200,badges=100,leaderboard=100,rewards=100,streaks=200,redeemReward=20,"          \
    "badgeCatalogue=100,redemptions=100,redemption=200,ledger=100,*=600"

struct gm_api_limiter;

/*
 * Makes a limiter from spec ("op=N,op=N,*=N"; N per minute, 1 to 1000000;
 * `*` for root fields not named; an operation without a rule and without
 * `*` is not limited) on Redis at redis_url (redis://[[USER]:PASS@]HOST[:PORT][/DB];
 * not contacted yet) with keys under prefix. Returns 0 and *out (free with
 * gm_api_limiter_free), or GM_EINVAL with err.
 */
int gm_api_limiter_new(const char *spec, const char *redis_url, const char *prefix,
                       struct gm_api_limiter **out, struct gm_err *err);
void gm_api_limiter_free(struct gm_api_limiter *l);

/*
 * Sets the largest lease (cells taken from Redis at once for a user and an
 * operation; 1 to 1000, default GM_API_RL_LEASE_DEFAULT; 1: every request
 * is decided by Redis). Call before the first check.
 */
#define GM_API_RL_LEASE_DEFAULT 64
void gm_api_limiter_set_lease(struct gm_api_limiter *l, int max_cells);

struct gm_api_rl_result {
    bool limited;       /* some operation of the request has a limit */
    bool allowed;       /* false: over the limit of `op` */
    const char *op;     /* the operation refused, or the most constrained one */
    long limit;         /* its limit per minute */
    long remaining;     /* requests left at once */
    long reset_s;       /* seconds until the full allowance is back */
    long retry_after_s; /* refused: seconds until one more is allowed */
    bool local;         /* decided by the in-process fallback */
    bool leased;        /* decided from leased cells or a kept refusal, without Redis */
};

/*
 * Counts one request of user for the operations ops[0..n) (borrowed).
 * Never fails: Redis errors switch to the local rule.
 */
void gm_api_limiter_check(struct gm_api_limiter *l, const char *user, const char *const *ops,
                          size_t n, struct gm_api_rl_result *res);

/*
 * The same check in two halves, so that a request can do its work while
 * Redis decides: gm_api_limiter_start sends the script call (Redis decides
 * and counts as soon as it reads it) and gm_api_limiter_finish reads the
 * decision (or decides locally). Every start is followed by one finish on
 * the same thread, with no other check between. user and ops are borrowed
 * until the finish. gm_api_limiter_check is start then finish.
 */
struct gm_api_rl_call {
    const char *user;
    const char *ops[GM_API_RL_MAX_RULES];
    long limits[GM_API_RL_MAX_RULES];
    size_t n;
    uint64_t hash[GM_API_RL_MAX_RULES];     /* the pair's slot in the lease table */
    bool reserved[GM_API_RL_MAX_RULES];     /* a leased cell taken for this request */
    bool leasing[GM_API_RL_MAX_RULES];      /* this call holds the pair's lease flag */
    size_t n_keys;                          /* the pairs asked of Redis: */
    size_t key_op[GM_API_RL_MAX_RULES];     /* their index in ops */
    char keys[GM_API_RL_MAX_RULES][320];    /* the script's KEYS */
    char args[2 * GM_API_RL_MAX_RULES][24]; /* its ARGV */
    const char *keyp[GM_API_RL_MAX_RULES], *argp[2 * GM_API_RL_MAX_RULES]; /* into keys, args */
    int state; /* 0: nothing to check, 1: sent, 2: decide locally, 3: prepared, not sent,
                  4: decided from leases (res) */
    struct gm_api_rl_result res;
};
void gm_api_limiter_start(struct gm_api_limiter *l, const char *user, const char *const *ops,
                          size_t n, struct gm_api_rl_call *call);
void gm_api_limiter_finish(struct gm_api_limiter *l, struct gm_api_rl_call *call,
                           struct gm_api_rl_result *res);

/*
 * The same check carried by another Redis call (one round trip, one script
 * run for the check and a read): gm_api_limiter_prepare fills call as
 * gm_api_limiter_start does, without sending; when call->state is 3 the
 * script (gm_api_limiter_script; KEYS call->keyp[0..n_keys), ARGV
 * call->argp[0..2 n_keys)) is for the carrier to run; any other state
 * needs no call. Then either
 * gm_api_limiter_finish_carried with the script's answer (a redisReply *,
 * taken and freed; NULL when the carrier's call failed: decided locally),
 * or, when nobody carried it, gm_api_limiter_finish (which sends it then).
 */
void gm_api_limiter_prepare(struct gm_api_limiter *l, const char *user, const char *const *ops,
                            size_t n, struct gm_api_rl_call *call);
void gm_api_limiter_finish_carried(struct gm_api_limiter *l, struct gm_api_rl_call *call,
                                   void *reply, struct gm_api_rl_result *res);
/* The limit script's text (static) and *sha its SHA-1 in hexadecimal (l's). */
const char *gm_api_limiter_script(const struct gm_api_limiter *l, const char **sha);

/*
 * Checks Redis from this thread (PING; reconnects at most once a second)
 * and updates what gm_api_limiter_local reports.
 */
void gm_api_limiter_probe(struct gm_api_limiter *l);

/* Whether the last decision or probe found Redis unreachable. */
bool gm_api_limiter_local(const struct gm_api_limiter *l);

/* Counters for /metrics. */
struct gm_api_limiter_stats {
    uint64_t redis_decisions, local_decisions, lease_decisions, redis_errors;
};
void gm_api_limiter_stats(const struct gm_api_limiter *l, struct gm_api_limiter_stats *out);

#endif
