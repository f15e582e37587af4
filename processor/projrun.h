/*
 * projrun.h: projectors running beside the writer in gamify-processor.
 * Each runs in a thread of its own: it steps through the change feed from
 * its cursor (kept in its own server, so a step and its cursor commit
 * together), is woken after each commit, waits with backoff while its
 * server is down and stalls nothing but itself. The writer trims the change
 * feed behind the slowest of them (gm_projrun_hold).
 */
#ifndef GM_PROJRUN_H
#define GM_PROJRUN_H

#include "err.h"
#include "state.h"

#include <stddef.h>
#include <stdint.h>

/* What a projector is to the runner. */
struct gm_projector_ops {
    const char *name; /* "redis", "postgres": in logs and metrics */
    /* Projects up to max changes of st; *n written. Errors: retry later. */
    int (*step)(void *impl, struct gm_state *st, size_t max, size_t *n, struct gm_err *err);
    int64_t (*backoff_ms)(const void *impl); /* wait before the next step; NULL: the
                                                runner's own (100 ms doubling to 10 s) */
    int64_t (*cursor)(const void *impl);     /* next change to project; -1 unknown */
    void (*close)(void *impl);
    /* Projects up to max changes offered before their commit (the early
     * hand-over, gm_projrun_wake_early); NULL: the projector takes none.
     * Errors are not retried: the next step covers the same changes. */
    int (*early)(void *impl, size_t max, size_t *n, struct gm_err *err);
};

struct gm_projrun;

/* Starts a thread projecting st with impl (the runner takes ownership of
 * impl and closes it at gm_projrun_stop). *out is new. */
int gm_projrun_start(const struct gm_projector_ops *ops, void *impl, struct gm_state *st,
                     struct gm_projrun **out, struct gm_err *err);

/*
 * Wakes the thread: the writer committed a batch. Call it from the writer's
 * thread after each commit: it also notes the commit's wall time against
 * the end of the change feed, so that the lag in seconds of the changes
 * not yet projected is known (a note in memory only, bounded; never in the
 * state). NULL is fine.
 */
void gm_projrun_wake(struct gm_projrun *r);

/*
 * Wakes the thread to take the changes of a batch not committed yet (the
 * projector's early op), from the writer's precommit callback; nothing
 * for a projector without one, or one waiting out its backoff. NULL is
 * fine.
 */
void gm_projrun_wake_early(struct gm_projrun *r);

/*
 * Group commit for a projector whose every step is a costly transaction
 * (Postgres): after a step that wrote changes and caught up (fewer than a
 * full step), the thread waits ms (0: no wait, the default) before the
 * next one, however many commits wake it meanwhile, so that their changes
 * go in one step. A step per commit at 20,000 events/s was hundreds of
 * small PostgreSQL transactions a second, each with its WAL flush: their
 * CPU and fsyncs doubled the time from an event to its board (BENCHMARKS.md,
 * "linger"). gm_projrun_hurry ends the wait. Any thread; NULL is fine.
 */
void gm_projrun_set_linger(struct gm_projrun *r, int64_t ms);

/*
 * Ends a linger now (and the next one before it starts): the writer
 * committed a change someone waits on, a redemption's outcome that
 * gamify-api awaits through the read model's NOTIFY. NULL is fine.
 */
void gm_projrun_hurry(struct gm_projrun *r);

/* The change-feed records this projector no longer needs: those before its
 * cursor (0 while unknown); INT64_MAX for NULL. */
int64_t gm_projrun_hold(const struct gm_projrun *r);

/* The bounds (microseconds) of the step latency histogram. */
#define GM_PROJRUN_STEP_BUCKETS 10
extern const uint64_t gm_projrun_step_bounds_us[GM_PROJRUN_STEP_BUCKETS];

/*
 * Counters for metrics: changes projected, failed steps, retries (steps
 * run after a failed one), the cursor (-1 unknown), and lag_ms: now minus
 * the wall time of the commit that made the oldest change not yet
 * projected (changes committed before the runner started count from its
 * start); 0 when the projector is up to date. step_le[i] counts the steps
 * that wrote changes within gm_projrun_step_bounds_us[i]; step_count and
 * step_us_sum are all of them. Any thread.
 */
struct gm_projrun_stats {
    uint64_t changes, failures, retries;
    uint64_t early_changes, early_failures; /* taken before their commit; early ops failed */
    int64_t cursor;
    int64_t lag_ms;
    uint64_t step_le[GM_PROJRUN_STEP_BUCKETS], step_count, step_us_sum;
};
void gm_projrun_stats(const struct gm_projrun *r, struct gm_projrun_stats *out);

/* Lets a running step finish, stops the thread and frees all; NULL is fine. */
void gm_projrun_stop(struct gm_projrun *r);

#endif
