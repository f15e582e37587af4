/*
 * metrics.h: the processor's counters and gauges, and the HTTP endpoint
 * that serves them (libmicrohttpd): /metrics in the Prometheus text format,
 * /healthz (the process is alive) and /readyz (it has caught up with the
 * log once since it started).
 *
 * The main loop writes the values; the HTTP thread reads them. Every field
 * is a C11 atomic, so no lock is needed and a scrape never stalls folding.
 */
#ifndef GM_METRICS_H
#define GM_METRICS_H

#include "err.h"
#include "opsalert.h"
#include "projrun.h"
#include "redisproj.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_METRICS_BUCKETS     8
#define GM_METRICS_LAG_BUCKETS 12

/* Kafka: the projectors of one assigned partition (gm_metrics_set_parts). */
struct gm_metrics_part {
    int32_t partition;
    bool pg, redis; /* which projectors run */
    uint64_t pg_changes, pg_failures, redis_changes, redis_failures;
    int64_t pg_lag, redis_lag; /* changes of the partition's feed not projected yet */
    /* the Redis projector's memory guard (with redis) */
    uint64_t guard_actions, guard_periods_deleted, guard_keys_deleted;
    int64_t used_memory, maxmemory; /* at its last run; -1 before the first */
};

/* A projector's figures beyond its changes and failures (projrun.h). */
struct gm_metrics_projector {
    atomic_int_fast64_t cursor; /* next change to project; -1 unknown */
    atomic_int_fast64_t lag_ms; /* now minus the commit time of the oldest change not projected */
    atomic_uint_fast64_t retries;
    atomic_uint_fast64_t early, early_failures; /* --redis-early: changes written, failures */
    /* --redis-early, the writer's side: hand-overs made, and batches not
     * handed over because the writer was catching up */
    atomic_uint_fast64_t early_offers, early_skipped;
    atomic_uint_fast64_t step_le[GM_PROJRUN_STEP_BUCKETS], step_count, step_us_sum;
};

/* The Redis projector's reconcile and memory guard (redisproj.h). */
struct gm_metrics_redis_ops {
    atomic_uint_fast64_t reconcile_runs, reconcile_skipped, reconcile_errors;
    atomic_uint_fast64_t drift, last_drift, rebuilds;
    atomic_uint_fast64_t guard_actions, guard_periods_deleted, guard_keys_deleted;
    atomic_int_fast64_t used_memory, maxmemory; /* -1: not read yet (guard off) */
};

struct gm_metrics {
    atomic_uint_fast64_t applied, duplicates, dead_letters, batches, records;
    atomic_uint_fast64_t too_far_ahead;  /* dead letters TOO_FAR_AHEAD */
    atomic_uint_fast64_t periods_pruned; /* expired leaderboard scores removed */
    /* write-behind learners (--hold-mib): held now, their bytes, the journal's */
    atomic_uint_fast64_t held_learners, held_bytes, journal_bytes;
    atomic_bool redis_enabled; /* the Redis projector runs */
    atomic_uint_fast64_t redis_changes, redis_failures;
    atomic_int_fast64_t redis_lag_changes; /* change feed end minus its cursor */
    atomic_bool pg_enabled;                /* the Postgres projector runs */
    atomic_uint_fast64_t pg_changes, pg_failures;
    atomic_int_fast64_t pg_lag_changes;
    atomic_bool webhook_enabled; /* the webhook projector runs */
    atomic_uint_fast64_t webhook_deliveries, webhook_failures, webhook_retries;
    atomic_uint_fast64_t webhook_dead_letters;
    atomic_int_fast64_t webhook_lag_changes;
    struct gm_metrics_projector redis_proj, pg_proj;
    struct gm_metrics_redis_ops redis_ops;
    atomic_int_fast64_t projector_max_lag; /* /readyz fails past this many changes; 0: never */
    atomic_uint_fast64_t batch_size_le[GM_METRICS_BUCKETS]; /* 1, 10, 100, ... 10^7 */
    atomic_uint_fast64_t batch_us_sum;                      /* commit-inclusive latency */
    atomic_uint_fast64_t batch_ms_le[GM_METRICS_BUCKETS];   /* 1, 2, 5, 10, 50, 100, 500, 1000 */
    atomic_uint_fast64_t offset, log_end;                   /* source offsets (bytes) */
    atomic_int_fast64_t last_event_time;                    /* occurred_at of the newest folded */
    atomic_int_fast64_t lag_seconds;                        /* wall clock minus it */
    atomic_uint_fast64_t lmdb_bytes;
    atomic_uint_fast64_t disk_free_bytes; /* under the state folder, at the last batch */
    atomic_bool disk_low;                 /* below --min-free-disk-mb: writing paused */
    atomic_int_fast64_t lag_records; /* Kafka: high watermarks minus next offsets; -1 unknown */
    atomic_uint_fast64_t log_gap_skipped; /* Kafka: offsets deleted unread, skipped by consent */
    atomic_uint_fast64_t offset_gaps;     /* Kafka: jumps between consecutive records */
    atomic_bool ready;
    /* per event: commit time minus occurred_at */
    atomic_uint_fast64_t event_lag_le[GM_METRICS_LAG_BUCKETS];
    atomic_uint_fast64_t event_lag_count, event_lag_ms_sum, event_lag_ms_max;
    /* the ops alerts' delivery (NULL: none), read at each scrape; set
     * before gm_metrics_serve, closed after gm_metrics_stop */
    const struct gm_opsalert *alerts;
    /* Kafka: per-partition projector figures, labelled by partition; the
     * one field set under a lock (the set changes with every rebalance).
     * Initialize parts_mu with PTHREAD_MUTEX_INITIALIZER. */
    pthread_mutex_t parts_mu;
    struct gm_metrics_part *parts;
    size_t n_parts;
};

/*
 * Replaces the per-partition projector figures with a copy of parts[0..n-1]
 * (n 0: none, and the copy is freed; call that before m goes away).
 * /metrics shows them with a partition label and /readyz fails while one
 * lags more than projector_max_lag.
 */
void gm_metrics_set_parts(struct gm_metrics *m, const struct gm_metrics_part *parts, size_t n);

/* Copies a projector runner's figures (gm_projrun_stats) into mp. */
void gm_metrics_projector_set(struct gm_metrics_projector *mp, const struct gm_projrun_stats *ps);

/* Copies the Redis projector's reconcile and memory guard figures (any
 * thread: gm_redisproj_reconcile_stats, gm_redisproj_guard_stats). */
void gm_metrics_redis_ops_set(struct gm_metrics_redis_ops *o, const struct gm_redisproj *rp);

/* Records the lag of one event, in milliseconds (negative counts as 0). */
void gm_metrics_event_lag(struct gm_metrics *m, int64_t ms);

/* Records one batch of n records that took us microseconds. */
void gm_metrics_batch(struct gm_metrics *m, uint64_t n, uint64_t us);

struct gm_metrics_server;

/*
 * Serves m on addr ("HOST:PORT", e.g. "127.0.0.1:9464" or ":9464"). m is
 * borrowed and must outlive the server. Errors: GM_EINVAL (bad address),
 * GM_EIO (cannot listen).
 */
int gm_metrics_serve(struct gm_metrics *m, const char *addr, struct gm_metrics_server **out,
                     struct gm_err *err);

/* Stops serving; NULL is fine. */
void gm_metrics_stop(struct gm_metrics_server *srv);

#endif
