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
#include "store.h"

#include <stddef.h>
#include <stdint.h>

/* What a projector is to the runner. */
struct gm_projector_ops {
    const char *name; /* "redis", "postgres": in logs and metrics */
    /* Projects up to max changes of st; *n written. Errors: retry later. */
    int (*step)(void *impl, struct gm_store *st, size_t max, size_t *n, struct gm_err *err);
    int64_t (*backoff_ms)(const void *impl); /* wait before the next step; NULL: the
                                                runner's own (100 ms doubling to 10 s) */
    int64_t (*cursor)(const void *impl);     /* next change to project; -1 unknown */
    void (*close)(void *impl);
};

struct gm_projrun;

/* Starts a thread projecting st with impl (the runner takes ownership of
 * impl and closes it at gm_projrun_stop). *out is new. */
int gm_projrun_start(const struct gm_projector_ops *ops, void *impl, struct gm_store *st,
                     struct gm_projrun **out, struct gm_err *err);

/* Wakes the thread: the writer committed a batch. NULL is fine. */
void gm_projrun_wake(struct gm_projrun *r);

/* The change-feed records this projector no longer needs: those before its
 * cursor (0 while unknown); INT64_MAX for NULL. */
int64_t gm_projrun_hold(const struct gm_projrun *r);

/* Counters for metrics: changes projected, failed steps, the cursor. */
struct gm_projrun_stats {
    uint64_t changes, failures;
    int64_t cursor;
};
void gm_projrun_stats(const struct gm_projrun *r, struct gm_projrun_stats *out);

/* Lets a running step finish, stops the thread and frees all; NULL is fine. */
void gm_projrun_stop(struct gm_projrun *r);

#endif
