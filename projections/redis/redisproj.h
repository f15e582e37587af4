/*
 * redisproj.h: the Redis projector. It reads a state's change feed
 * (feed.h) from its own cursor and keeps the realtime leaderboards in Redis:
 * one sorted set per (board, period), members user ids, scores the absolute
 * scores. docs/operations.md lists the keys, TTLs and the channel;
 * docs/internals/redis.md says how a batch is written.
 *
 * A projector is one connection and one partition's cursor. Instances share
 * nothing, so each may run in its own thread; one instance is not to be used
 * by two threads at once.
 */
#ifndef GM_REDISPROJ_H
#define GM_REDISPROJ_H

#include "err.h"
#include "rules.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

#define GM_REDISPROJ_DEFAULT_PREFIX "gamify:"
#define GM_REDISPROJ_PREFIX_MAX     64

struct gm_redisproj_opts {
    const char *prefix;        /* of every key and the channel; NULL: GM_REDISPROJ_DEFAULT_PREFIX */
    int timeout_ms;            /* connect and command timeout; 0: 5000 */
    int64_t max_backoff_ms;    /* longest wait between retries; 0: 10000 */
    int memory_permille;       /* memory guard: above this share of maxmemory (1-1000),
                                  delete the oldest finished periods; 0: off */
    int64_t guard_interval_ms; /* how often a step runs the guard; 0: 1000 */
};

/* Counters since open. */
struct gm_redisproj_stats {
    uint64_t changes, batches;
    uint64_t guard_alerts;          /* times the guard found memory above its mark */
    uint64_t guard_periods_deleted; /* finished periods it deleted */
    uint64_t guard_keys_deleted;
};

struct gm_redisproj;

/*
 * Creates a projector for partition (0 for a state that is not partitioned)
 * writing to the Redis at url, "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]".
 * Does not connect: the first step does, so a projector can start before
 * Redis. opts may be NULL. *out is new; free with gm_redisproj_close.
 * Errors: GM_EINVAL (bad url, prefix or partition) with err filled.
 */
int gm_redisproj_open(const char *url, int partition, const struct gm_redisproj_opts *opts,
                      struct gm_redisproj **out, struct gm_err *err);

/*
 * Projects up to max_changes changes of st from the projector's cursor (kept
 * in Redis): their scores, TTLs, pruned periods and the new cursor in one
 * MULTI/EXEC, pipelined, then the leaderboard-changed message in the same
 * transaction. *n is how many changes were written (0: up to date). st may
 * be opened read-only; the step reads one snapshot of it.
 *
 * Errors: GM_EREDIS when Redis is down or failed (nothing was skipped: call
 * again after gm_redisproj_backoff_ms); GM_ENOTFOUND when the change feed was
 * trimmed past the cursor and GM_EINVAL when the cursor is past the feed's
 * end (another state wrote this Redis): both need `gamify rebuild`; GM_EDB,
 * GM_ECORRUPT from the state. err says which.
 */
int gm_redisproj_step(struct gm_redisproj *p, struct gm_store *st, size_t max_changes, size_t *n,
                      struct gm_err *err);

/* Milliseconds to wait before the next step: 0 after a success, doubling
 * from 100 up to max_backoff_ms while steps fail. */
int64_t gm_redisproj_backoff_ms(const struct gm_redisproj *p);

/* The cursor last read from or written to Redis (-1 before the first). */
int64_t gm_redisproj_cursor(const struct gm_redisproj *p);

/* p's counters; borrowed until close. */
const struct gm_redisproj_stats *gm_redisproj_stats(const struct gm_redisproj *p);

/*
 * The memory guard (a step runs it every guard_interval_ms when
 * memory_permille is set): when Redis's used_memory is above
 * memory_permille/1000 of its maxmemory, deletes finished periods (those
 * that ended, in rules' zone, at or before now) on every board, oldest
 * first, until memory is below the mark again or no finished period is
 * left; never "all" or a current period. Logs an alert and counts it.
 * Nothing happens without a maxmemory. Errors: GM_EREDIS.
 */
int gm_redisproj_guard(struct gm_redisproj *p, const struct gm_rules *rules, int64_t now,
                       struct gm_err *err);

/* Closes the connection and frees p; NULL is fine. */
void gm_redisproj_close(struct gm_redisproj *p);

/*
 * The Unix time at which the key of period ("2026-W48", "2026-11") expires:
 * the start, in the rules' time zone, of the period keep_weeks (keep_months)
 * after the one that follows it, which is when the state drops it too.
 * Returns 0, or GM_ENOTFOUND for "all" and anything that is not a week or a
 * month (no TTL), or when the rules' zone is not installed.
 */
int gm_redisproj_expiry(const char *period, const struct gm_rules *rules, int64_t *at);

struct gm_redisproj_rebuild_stats {
    uint64_t learners, scores, keys, removed;
};

/*
 * Rewrites every leaderboard from the states st[0..n-1] (the partitions
 * partitions[0..n-1] of one state, or one state with partition 0): each
 * (board, period) into a temporary key, then in one MULTI/EXEC renames them
 * all over the live keys, deletes the live keys no state holds any more and
 * sets each partition's cursor to the end of its snapshot. Readers see the
 * old boards or the new ones, never a mix. stats may be NULL. Errors:
 * GM_EINVAL (url), GM_EREDIS, GM_EDB, GM_ECORRUPT with err.
 */
int gm_redisproj_rebuild(const char *url, const struct gm_redisproj_opts *opts,
                         struct gm_store *const *st, const int *partitions, size_t n,
                         struct gm_redisproj_rebuild_stats *stats, struct gm_err *err);

#endif
