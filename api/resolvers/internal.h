/*
 * internal.h: what the resolver files share and nobody else sees: the
 * backend struct, the Postgres statements and pool, the per-thread Redis
 * connection, the log appender and the redemption waiters.
 */
#ifndef GM_API_RESOLVERS_INTERNAL_H
#define GM_API_RESOLVERS_INTERNAL_H

#include "execute.h"
#include "resolvers.h"

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* The prepared statements every pooled connection holds. */
enum gm__q {
    GM__Q_PROFILE,         /* $1 user -> user_id, exp, level, coins, streaks, next level's exp */
    GM__Q_BADGES,          /* $1 user -> id, name, icon, criteria, earned_at (epoch), award order */
    GM__Q_REWARDS,         /* -> id, name, cost, type, stock_left, active */
    GM__Q_OPTED_OUT,       /* -> every learner who opted out of leaderboards */
    GM__Q_RULES,           /* -> timezone of the rules in force */
    GM__Q_REDEMPTION,      /* $1 user, $2 redemption -> reward_id, status, reason, occurred_at */
    GM__Q_VERSION,         /* -> the schema version */
    GM__Q_BADGE_CATALOGUE, /* $1 user -> id, name, icon, criteria, earned_at (epoch or NULL) */
    GM__Q_REDEMPTIONS,    /* $1 user, $2 partition, $3 seq, $4 limit -> the page after the cursor */
    GM__Q_REDEMPTIONS_N,  /* $1 user -> how many redemptions */
    GM__Q_LEDGER,         /* $1 user, $2 partition, $3 seq, $4 limit -> the page after the cursor */
    GM__Q_LEDGER_N,       /* $1 user -> how many ledger entries */
    GM__Q_PROFILE_BADGES, /* $1 user -> GM__Q_PROFILE's columns, then GM__Q_BADGES's (NULL
                             when none), a row per badge */
    GM__Q_REDEMPTIONS_DESC, /* GM__Q_REDEMPTIONS newest first: the page before the cursor */
    GM__Q_LEDGER_DESC,      /* GM__Q_LEDGER newest first: the page before the cursor */
    GM__Q_COUNT,
};

struct gm__rconn; /* one thread's Redis connection */

/* A Redemption object (redeem.c, history.c); strings in the request's arena. */
struct gm__redemption {
    const char *id, *reward_id, *status; /* status: COMPLETED, REJECTED or PENDING */
    const char *reason;                  /* NULL unless REJECTED */
    const char *occurred_at;             /* RFC 3339; NULL while PENDING */
};

/* A PageInfo object (leaderboard.c, history.c). */
struct gm__page_info {
    const char *end_cursor; /* NULL when the page is empty */
    bool has_next;
};

/* A redeemReward call waiting for its outcome (listen.c). */
struct gm__waiter {
    const char *user_id, *redemption_id; /* borrowed from the waiting request */
    bool woken;
    pthread_cond_t cv;
    struct gm__waiter *next;
};

struct gm_api_backend {
    char *pg_conninfo;
    char *redis_host, *redis_user, *redis_password; /* user, password NULL when not given */
    int redis_port, redis_db;
    char prefix[65];
    int timeout_ms;
    int redeem_wait_ms;
    char script_sha[41]; /* of the leaderboard script */

    /* Postgres pool: idle connections, and how many exist. */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    PGconn **idle;
    size_t n_idle, n_open, pool_size;

    /* Redis: one connection per thread, all listed for close. */
    pthread_key_t rkey;
    pthread_mutex_t rmu;
    struct gm__rconn *rconns;

    /* The log appender: one at a time. */
    pthread_mutex_t log_mu;
    struct gm_filelog *flog;
    struct gm_kafka_producer *kp;

    /* The redemption listener (listen.c). */
    pthread_t listener;
    bool listener_started;
    pthread_mutex_t wmu;
    pthread_cond_t stop_cv;
    bool stop;
    bool listening; /* LISTEN is in force: notifications are not being missed */
    struct gm__waiter *waiters;

    /* The rules' time zone, re-read every few seconds. */
    pthread_mutex_t rules_mu;
    char tz[128];
    int64_t tz_read_ms; /* monotonic; 0: never */

    /* Learners who opted out of leaderboards, sorted, re-read at most every
     * OPTOUT_TTL_MS by one request while the others use the last list. */
    pthread_mutex_t optout_mu;
    char **optout;
    size_t n_optout;
    int64_t optout_read_ms; /* monotonic; 0: never */
    bool optout_refreshing;

    /* Leaderboard pages shared by requests for a short time (lbcache.c); NULL: off. */
    struct gm__lbcache *lbc;

    /* The leaderboard script combined with a carried one (leaderboard.c): for carry_for. */
    pthread_mutex_t carry_mu;
    char carry_for[41], carry_sha[41];
    char *carry_text;
    char **carry_old; /* earlier texts, freed at close */
    size_t n_carry_old;

    /* Whole boards held here and kept current from the projector (mirror.c); NULL: off. */
    struct gm__mirror *mirror;
    pthread_mutex_t notify_mu; /* held while notify runs */
    void (*notify)(void *ctx, const char *board, const char *period_key);
    void *notify_ctx;

    /* Redis round trips shared by concurrent requests (rbatch.c); NULL: off. */
    struct gm__rbatch *rbatch;

    _Atomic uint64_t pg_pool_waits, pg_errors, redis_errors, redeem_appended, redeem_pending,
        listener_restarts, redis_trips, redis_calls;
};

/* ---- the board mirror (mirror.c) ---- */

struct gm__mirror;

/*
 * Starts the mirror thread of b (its own two Redis connections, opened
 * when it can): boards of at most max_members members in all, sizes checked
 * against Redis every check_ms (0: 1000). max_members 0: *out NULL (off).
 * Errors: -errno (the thread's wake-up descriptor).
 */
int gm__mirror_start(struct gm_api_backend *b, int64_t max_members, int check_ms,
                     struct gm__mirror **out, struct gm_err *err);
/* Stops the thread and frees everything; NULL is fine. */
void gm__mirror_stop(struct gm__mirror *mr);

/* What the leaderboard script answers, from the mirror. Strings and arrays in the arena. */
struct gm__mirror_answer {
    int64_t total;
    bool has_me;
    int64_t me_score, me_rank; /* me_score encoded (common/lbscore.h) */
    int64_t start;             /* of the page (around the caller for around >= 0) */
    int64_t first_rank;        /* of the page's first entry */
    size_t n;
    const char **members;
    size_t *member_lens;
    int64_t *scores; /* encoded */
    bool oom;        /* the arena ran out: answer as the script's caller would */
};

/*
 * Answers the leaderboard script's question (leaderboard.c: start, count,
 * me or NULL, around or -1) for sorted set key from the mirror: true and
 * *out, or false when key is not held (a load is queued; ask Redis).
 */
bool gm__mirror_read(struct gm__mirror *mr, const char *key, int64_t start, int64_t count,
                     const char *me, int64_t around, struct gm_arena *a,
                     struct gm__mirror_answer *out);

/* Whether the mirror holds sorted set key now. */
bool gm__mirror_holds(struct gm__mirror *mr, const char *key);

/* The mirror's counters into out's mirror_* fields; mr NULL: left as they are. */
void gm__mirror_stats(struct gm__mirror *mr, struct gm_api_backend_stats *out);

/*
 * A new connection to b's Redis (AUTH, SELECT, CLIENT SETNAME done, b's
 * timeout set): 0 and *out, or GM_EREDIS with why filled.
 */
int gm__redis_open(struct gm_api_backend *b, redisContext **out, char *why, size_t why_len);

/* Monotonic milliseconds. */
int64_t gm__now_ms(void);

/*
 * Runs prepared statement q with params (borrowed) on a pooled connection
 * (retried once on a fresh connection when the pooled one was broken).
 * Returns 0 and *res (PQclear it) holding tuples, or GM_EDB after logging
 * why with the request id.
 */
int gm__pg_query(struct gm_api_request *req, enum gm__q q, const char *const *params,
                 PGresult **res);

/* A connection to the read model outside the pool (the listener's); NULL
 * when it fails (logged). Returns new; PQfinish it. */
PGconn *gm__pg_connect(struct gm_api_backend *b);

/*
 * Runs one Redis command on this thread's connection (connecting first).
 * Returns 0 and *r (freeReplyObject it), or GM_EREDIS after logging why;
 * an error reply is returned as a reply.
 */
int gm__redis_command(struct gm_api_request *req, int argc, const char **argv, const size_t *lens,
                      redisReply **r);

/*
 * Writes n commands (RESP text, borrowed) in one go on this thread's
 * connection (connecting first) and reads their n answers into replies
 * (each new: freeReplyObject it; NULL for a call left unanswered by a
 * failed connection, logged and counted).
 */
void gm__redis_pipeline(struct gm_api_request *req, const char *const *cmds, const size_t *lens,
                        size_t n, redisReply **replies);

/* ---- round trips shared by concurrent requests (rbatch.c) ---- */

struct gm__rbatch;

/* A sharer of round trips of at most max calls; *out NULL when max < 2 (off). */
int gm__rbatch_new(size_t max, struct gm__rbatch **out);
void gm__rbatch_free(struct gm__rbatch *rb);
/*
 * Runs the command cmd (RESP text of len bytes, borrowed) in a round trip
 * shared with the calls of other threads queued at the same time; blocks
 * until its answer is read. Returns 0 and *r (freeReplyObject it), or
 * GM_EREDIS when the round trip failed (logged by the thread that led it).
 */
int gm__rbatch_call(struct gm__rbatch *rb, struct gm_api_request *req, const char *cmd, size_t len,
                    redisReply **r);

/* The rules' time zone name (into tz of size n); "UTC" before any rules. */
int gm__rules_tz(struct gm_api_request *req, char *tz, size_t n);

/* How long a list of opted-out learners is used before it is read again. */
#define GM__OPTOUT_TTL_MS 1000

/* Makes sure the opted-out list is at most GM__OPTOUT_TTL_MS old (reads it
 * when it is older and no other request is reading it). 0, or GM_EDB when
 * it was never read and cannot be. */
int gm__optout_refresh(struct gm_api_request *req);
/* Whether user opted out, per the last list read. */
bool gm__optout_has(struct gm_api_backend *b, const char *user);

/* Appends one encoded event keyed by user to the log. Errors logged; GM_E*. */
int gm__log_append(struct gm_api_request *req, const char *user, const void *rec, size_t len);

/* listen.c: the listener thread and the waiters. */
int gm__listener_start(struct gm_api_backend *b, struct gm_err *err);
void gm__listener_stop(struct gm_api_backend *b);
void gm__waiter_add(struct gm_api_backend *b, struct gm__waiter *w);
/* Whether LISTEN is in force (the listener thread sets it); a change wakes
 * every waiter to read the table once. */
void gm__listening_set(struct gm_api_backend *b, bool on);
/* Waits until woken (a notification for w, or a change of listening) or
 * until until_ms (monotonic ms); returns at once while not listening.
 * Returns w->woken and *listening (whether notifications were being
 * received). */
bool gm__waiter_wait(struct gm_api_backend *b, struct gm__waiter *w, int64_t until_ms,
                     bool *listening);
void gm__waiter_remove(struct gm_api_backend *b, struct gm__waiter *w);

/* The learner a query is about: its userId argument, or the caller. NULL
 * with a BAD_USER_INPUT field error when neither is usable. Borrowed. */
const char *gm__target_user(struct gm_gql_rctx *ctx);
/* Whether the caller may read user's private data (coins, ledger,
 * redemptions): the learner itself, staff and service. */
bool gm__may_see_private(const struct gm_api_request *req, const char *user);

/* Logs the details of an internal error and describes the masked field error; returns
 * a negative code for the resolver to return. */
int gm__internal(struct gm_gql_rctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The field resolvers, by file. */
int gm__bind_queries(struct gm_gql_schema *s, struct gm_api_backend *b, struct gm_err *err);
int gm__bind_leaderboard(struct gm_gql_schema *s, struct gm_api_backend *b, struct gm_err *err);
int gm__bind_redeem(struct gm_gql_schema *s, struct gm_api_backend *b, struct gm_err *err);
int gm__bind_history(struct gm_gql_schema *s, struct gm_api_backend *b, struct gm_err *err);

/* The epoch seconds of column col of row (NULL: NULL) as RFC 3339 in the
 * request's arena; *out NULL for SQL NULL. Returns 0, or the field error
 * of an exhausted arena. */
int gm__col_time(struct gm_gql_rctx *ctx, const PGresult *res, int row, int col, const char **out);

/* ---- the leaderboard page cache (lbcache.c) ---- */

#define GM__LBC_KEY_MAX 256

/* A page of a board as Redis gives it: members and score texts, best first. */
struct gm__lb_page {
    size_t n;
    int64_t first_rank; /* the rank of the first entry */
    const char *const *members;
    const size_t *member_lens;
    const char *const *scores;
    const size_t *score_lens;
};

struct gm__lbcache;

/* A cache keeping pages ttl_ms; *out NULL when ttl_ms <= 0 (off: every call below is a no-op). */
int gm__lbc_new(int ttl_ms, struct gm__lbcache **out);
void gm__lbc_free(struct gm__lbcache *c);
/*
 * The page (start, count) of the sorted set key read less than ttl_ms ago:
 * true and *out (its strings copied into a) or false. *gen is set either
 * way: pass it to gm__lbc_put after reading the page from Redis.
 */
bool gm__lbc_get(struct gm__lbcache *c, const char *key, int64_t start, int64_t count,
                 struct gm_arena *a, struct gm__lb_page *out, uint64_t *gen);
/* Keeps a page read from Redis at read_ms (monotonic, before the read), unless a drop came
 * since gen was taken. The page is copied. */
void gm__lbc_put(struct gm__lbcache *c, const char *key, int64_t start, int64_t count, uint64_t gen,
                 int64_t read_ms, const struct gm__lb_page *pg);
/* Drops the pages of the sorted set key (NULL: all). */
void gm__lbc_drop(struct gm__lbcache *c, const char *key);

/* The leaderboard Lua script (leaderboard.c). */
extern const char gm__lb_script[];

#endif
