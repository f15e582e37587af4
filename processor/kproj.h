/*
 * kproj.h: the projectors of one Kafka partition in gamify-processor.
 *
 * With a kafka:// log every assigned partition has its own state
 * (STATE/partition-N) and gets its own Postgres projector, Redis
 * projector and webhook deliverer, each a projrun.h thread with its own
 * connection and the partition's cursor (projector_cursor row N in
 * Postgres, cursor:N in Redis, the endpoints' cursors in
 * STATE/partition-N/webhooks, so delivery state moves with the partition). They start when the
 * partition is assigned, after its state is open, and stop (a running step finishes first) when it
 * is revoked, before its state closes. All partitions write to the same Postgres and Redis: a
 * learner lives in one partition, so each row and board member has one
 * writer.
 *
 * A partition that moved here may come with a state that is behind what
 * another instance already projected (an older local copy, or a new one
 * rebuilt from the partition's start). Its feed then ends before the
 * cursor in Postgres or Redis: the projector waits, without counting a
 * failure, until the state catches up (the fold is deterministic, so the
 * change numbers agree), and the feed below that cursor may go.
 */
#ifndef GM_KPROJ_H
#define GM_KPROJ_H

#include "err.h"
#include "redisproj.h"
#include "state.h"
#include "webhook.h"

#include <stdbool.h>
#include <stdint.h>

/* What to project; strings borrowed for the life of the projectors. */
struct gm_kproj_conf {
    const char *conninfo;                /* Postgres; NULL: no Postgres projector */
    const char *redis_url;               /* NULL: no Redis projector */
    struct gm_redisproj_opts redis_opts; /* for each partition's Redis projector */
    const char *webhooks;                /* the webhooks YAML file; NULL: no webhooks */
    int64_t pg_linger_ms;                /* the Postgres projector's (gm_projrun_set_linger) */
};

/* A projector's figures for metrics. */
struct gm_kproj_side_stats {
    bool on;           /* this projector runs */
    uint64_t changes;  /* changes projected since the partition came */
    uint64_t failures; /* failed steps (retried with backoff) */
    int64_t lag;       /* changes of the committed feed not projected yet */
};

struct gm_kproj_stats {
    struct gm_kproj_side_stats pg, redis;
    bool wh_on;                            /* webhooks are delivered */
    struct gm_webhooks_stats wh;           /* their counters since the partition came */
    int64_t wh_lag;                        /* changes the slowest endpoint has not taken */
    struct gm_redisproj_guard_stats guard; /* the Redis projector's memory guard (redis.on) */
};

struct gm_kproj;

/*
 * Starts the projectors conf asks for, for partition, over st (borrowed
 * until gm_kproj_stop; the caller keeps writing it), whose folder is
 * state_dir (borrowed: the webhooks' delivery state goes under it). *out
 * is new (NULL when conf asks for none). Errors: GM_EINVAL (a bad
 * conninfo, URL or webhooks file), GM_EDB, GM_EIO (no thread), with err.
 */
int gm_kproj_start(const struct gm_kproj_conf *conf, int32_t partition, const char *state_dir,
                   struct gm_state *st, struct gm_kproj **out, struct gm_err *err);

/* Wakes the projectors: the writer committed a batch. NULL is fine. */
void gm_kproj_wake(struct gm_kproj *kp);

/* Ends the Postgres projector's linger (gm_projrun_hurry): the batch held
 * a redemption's outcome. NULL is fine. */
void gm_kproj_hurry(struct gm_kproj *kp);

/* The feed records all of kp's projectors have taken (gm_pump_release's
 * hold); INT64_MAX for NULL. */
int64_t gm_kproj_hold(const struct gm_kproj *kp);

/* The figures of kp against end, the feed end the writer committed. */
void gm_kproj_stats(const struct gm_kproj *kp, int64_t end, struct gm_kproj_stats *out);

/* Lets running steps finish, stops the threads, closes the connections and
 * frees kp; NULL is fine. The state may close after this. */
void gm_kproj_stop(struct gm_kproj *kp);

#endif
