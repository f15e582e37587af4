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
#include "outbound.pb-c.h"
#include "rules.h"
#include "state.h"

#include <stdbool.h>
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
    /* The scheduled reconcile (gm_redisproj_reconcile) that a step runs
     * every reconcile_interval_ms (0: never; the first one interval after
     * open) over its own state: */
    int64_t reconcile_interval_ms;
    size_t reconcile_sample;          /* learners whose scores a run checks; 0: 1000 */
    uint64_t reconcile_rebuild_drift; /* more drift than this: rebuild instead; 0: 10000 */
    bool reconcile_whole; /* the step's state is the only one writing these boards (a file
                             log's state), so a run compares the boards' sizes too, removes
                             members the state lacks and may rebuild; else it only checks
                             the sample of the state's own learners */
    /* The memory guard's ops alert (NULL: none; the ALERT log line and the
     * counters stay): called from the stepping thread at the end of each
     * guard action with an OpsAlert of kind "redis_memory", borrowed for
     * the call. It must not block: queue a copy (opsalert.h). */
    void (*on_alert)(void *ctx, const Gamification__V1__OpsAlert *alert);
    void *alert_ctx;
    int64_t alert_repeat_ms; /* after an alert that left memory above the mark, actions
                                that delete nothing (no finished period left) alert once
                                per this long at most; 0: 60000 */
};

/* What the memory guard did since open; read with gm_redisproj_guard_stats. */
struct gm_redisproj_guard_stats {
    uint64_t actions;         /* runs that found memory above the mark (each logs an ALERT) */
    uint64_t periods_deleted; /* finished periods deleted */
    uint64_t keys_deleted;
    int64_t used_memory, maxmemory; /* at the last run, bytes; -1 before the first */
    int64_t last_action;            /* Unix time of the last action; 0: none */
};

/* What the scheduled reconcile did since open; gm_redisproj_reconcile_stats. */
struct gm_redisproj_reconcile_stats {
    uint64_t runs;       /* runs that compared Redis with the state */
    uint64_t skipped;    /* runs put off: the projector was too far behind */
    uint64_t errors;     /* runs that failed (Redis, the state) */
    uint64_t drift;      /* members repaired (ZADD, ZREM, members of deleted keys) */
    uint64_t last_drift; /* of the last run */
    uint64_t rebuilds;   /* runs whose drift was large: a full rebuild instead */
    uint64_t keys_recreated, keys_removed;
    uint64_t sampled; /* learners whose scores were checked */
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
 *
 * With the scheduled reconcile on (reconcile_interval_ms) the step runs it
 * when due, after its batch; with reconcile_whole too, a feed trimmed past
 * the cursor (Redis lost its data or its cursor) is healed by a rebuild
 * instead of GM_ENOTFOUND.
 */
int gm_redisproj_step(struct gm_redisproj *p, struct gm_state *st, size_t max_changes, size_t *n,
                      struct gm_err *err);

/* From now on the steps read the change feed through sh (feedshare.h,
 * borrowed: it must outlive p; NULL: alone). */
struct gm_feedshare;
void gm_redisproj_set_share(struct gm_redisproj *p, struct gm_feedshare *sh);

/*
 * The early hand-over (gamify-processor --redis-early): writes the changes
 * that the share's writer offered before their commit (feedshare.h), from
 * the cursor (or after what was written early already) on, at most
 * max_changes: their scores, boards, TTLs and prunes, and the
 * leaderboard-changed message, in one MULTI/EXEC, but not the cursor. Once
 * the writer committed them, the step that reaches them only moves the
 * cursor; when they were rolled back instead (the share's generation
 * moved), or anything else intervened (a reconcile, a rebuild, a failed
 * step, a step that wrote changes itself: it may have stopped short of
 * where the early writes had gone, leaving older scores behind it), the
 * step writes them again from the feed. Scores are absolute, so
 * the state a commit then makes, or a replay of the same log, gives the
 * same scores. Does nothing (*n 0) without a share, before the first step
 * armed the connection, or while steps fail. Errors: GM_EREDIS (the
 * connection is dropped: the next step reconnects), GM_ECORRUPT.
 */
int gm_redisproj_early(struct gm_redisproj *p, size_t max_changes, size_t *n, struct gm_err *err);

/* Milliseconds to wait before the next step: 0 after a success, doubling
 * from 100 up to max_backoff_ms while steps fail. */
int64_t gm_redisproj_backoff_ms(const struct gm_redisproj *p);

/* The cursor last read from or written to Redis (-1 before the first). */
int64_t gm_redisproj_cursor(const struct gm_redisproj *p);

/* p's counters; borrowed until close. */
const struct gm_redisproj_stats *gm_redisproj_stats(const struct gm_redisproj *p);

/* Copies of the guard's and the reconcile's counters. Unlike the rest of
 * p's functions these may be called from any thread while another one
 * steps p (metrics, the ops alert). */
void gm_redisproj_guard_stats(const struct gm_redisproj *p, struct gm_redisproj_guard_stats *out);
void gm_redisproj_reconcile_stats(const struct gm_redisproj *p,
                                  struct gm_redisproj_reconcile_stats *out);

/*
 * One reconcile run over the states st[0..n-1] (partitions[0..n-1]; NULL:
 * one state, partition 0), which the projector p's connection and
 * settings serve. Redis trails the state by the projector's lag: the
 * changes after each partition's cursor are read from the feed, and what
 * they touched (learners, boards, pruned periods) is left out of the
 * comparison, so lag is never counted as drift; more than 100,000 pending
 * changes put the run off (skipped).
 *
 * Compared: with whole (these states are every writer of the boards), the
 * size (ZCARD) of every (board, period) key against the state, keys the
 * state lacks, and the members of every key whose size differs; in any
 * case a rolling sample of reconcile_sample learners (resuming after the
 * last run's) whose scores are checked with ZMSCORE. Keys of periods that
 * expired by their TTL, or that the memory guard deleted (a finished
 * period missing from the periods set), are not drift. Repairs (ZADD the
 * state's score, ZREM strangers, recreate keys with their TTL, delete keys
 * the state lacks) go in one MULTI/EXEC that a move of any cursor voids;
 * with whole and more drift than reconcile_rebuild_drift, the boards are
 * rebuilt instead (gm_redisproj_rebuild). *drift (may be NULL) is the
 * members repaired. Errors: GM_EREDIS, GM_EDB, GM_ECORRUPT with err.
 */
int gm_redisproj_reconcile(struct gm_redisproj *p, struct gm_state *const *st,
                           const int *partitions, size_t n, bool whole, uint64_t *drift,
                           struct gm_err *err);

/*
 * The memory guard (a step runs it every guard_interval_ms when
 * memory_permille is set): when Redis's used_memory is above
 * memory_permille/1000 of its maxmemory, deletes finished periods (those
 * that ended, in rules' zone, at or before now) on every board, oldest
 * first, until memory is below the mark again or no finished period is
 * left; never "all" or a current period. Logs an alert and counts it,
 * and hands an OpsAlert to opts' on_alert (every action that deleted a
 * period; one that deleted nothing unless an alert that left memory above
 * the mark came less than alert_repeat_ms before).
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
                         struct gm_state *const *st, const int *partitions, size_t n,
                         struct gm_redisproj_rebuild_stats *stats, struct gm_err *err);

#endif
