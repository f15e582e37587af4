/*
 * metrics.c: the Prometheus endpoint of gamify-processor (libmicrohttpd,
 * one internal polling thread). See metrics.h.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gm_metrics_server {
    struct MHD_Daemon *daemon;
    struct gm_metrics *m;
};

static const uint64_t size_bounds[GM_METRICS_BUCKETS] = {1,     10,     100,     1000,
                                                         10000, 100000, 1000000, 10000000};
static const uint64_t ms_bounds[GM_METRICS_BUCKETS] = {1, 2, 5, 10, 50, 100, 500, 1000};
static const uint64_t lag_bounds_ms[GM_METRICS_LAG_BUCKETS] = {1,   2,   5,   10,   25,   50,
                                                               100, 250, 500, 1000, 2500, 10000};

void
gm_metrics_event_lag(struct gm_metrics *m, int64_t ms)
{
    uint64_t v = ms > 0 ? (uint64_t)ms : 0;
    atomic_fetch_add(&m->event_lag_count, 1);
    atomic_fetch_add(&m->event_lag_ms_sum, v);
    uint64_t max = atomic_load(&m->event_lag_ms_max);
    while (v > max && !atomic_compare_exchange_weak(&m->event_lag_ms_max, &max, v))
        ;
    for (int i = 0; i < GM_METRICS_LAG_BUCKETS; i++) {
        if (v <= lag_bounds_ms[i])
            atomic_fetch_add(&m->event_lag_le[i], 1);
    }
}

void
gm_metrics_projector_set(struct gm_metrics_projector *mp, const struct gm_projrun_stats *ps)
{
    atomic_store(&mp->cursor, ps->cursor);
    atomic_store(&mp->lag_ms, ps->lag_ms);
    atomic_store(&mp->retries, ps->retries);
    atomic_store(&mp->early, ps->early_changes);
    atomic_store(&mp->early_failures, ps->early_failures);
    atomic_store(&mp->step_count, ps->step_count);
    atomic_store(&mp->step_us_sum, ps->step_us_sum);
    for (int i = 0; i < GM_PROJRUN_STEP_BUCKETS; i++)
        atomic_store(&mp->step_le[i], ps->step_le[i]);
}

void
gm_metrics_redis_ops_set(struct gm_metrics_redis_ops *o, const struct gm_redisproj *rp)
{
    struct gm_redisproj_reconcile_stats rs;
    struct gm_redisproj_guard_stats gs;
    gm_redisproj_reconcile_stats(rp, &rs);
    gm_redisproj_guard_stats(rp, &gs);
    atomic_store(&o->reconcile_runs, rs.runs);
    atomic_store(&o->reconcile_skipped, rs.skipped);
    atomic_store(&o->reconcile_errors, rs.errors);
    atomic_store(&o->drift, rs.drift);
    atomic_store(&o->last_drift, rs.last_drift);
    atomic_store(&o->rebuilds, rs.rebuilds);
    atomic_store(&o->guard_actions, gs.actions);
    atomic_store(&o->guard_periods_deleted, gs.periods_deleted);
    atomic_store(&o->guard_keys_deleted, gs.keys_deleted);
    atomic_store(&o->used_memory, gs.used_memory);
    atomic_store(&o->maxmemory, gs.maxmemory);
}

void
gm_metrics_batch(struct gm_metrics *m, uint64_t n, uint64_t us)
{
    atomic_fetch_add(&m->batches, 1);
    atomic_fetch_add(&m->records, n);
    atomic_fetch_add(&m->batch_us_sum, us);
    for (int i = 0; i < GM_METRICS_BUCKETS; i++) {
        if (n <= size_bounds[i])
            atomic_fetch_add(&m->batch_size_le[i], 1);
        if (us <= ms_bounds[i] * 1000)
            atomic_fetch_add(&m->batch_ms_le[i], 1);
    }
}

static int
part_cmp(const void *a, const void *b)
{
    const struct gm_metrics_part *x = a, *y = b;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

void
gm_metrics_set_parts(struct gm_metrics *m, const struct gm_metrics_part *parts, size_t n)
{
    struct gm_metrics_part *copy = NULL;
    if (n > 0) {
        if (!(copy = malloc(n * sizeof *copy)))
            abort();
        memcpy(copy, parts, n * sizeof *copy);
        qsort(copy, n, sizeof *copy, part_cmp);
    }
    pthread_mutex_lock(&m->parts_mu);
    struct gm_metrics_part *old = m->parts;
    m->parts = copy;
    m->n_parts = n;
    pthread_mutex_unlock(&m->parts_mu);
    free(old);
}

/* Appends to a growing text buffer. */
struct text {
    char *buf;
    size_t len, cap;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add(struct text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (size_t)(n > 0 ? n : 64);
        t->buf = realloc(t->buf, t->cap);
        if (!t->buf)
            abort();
    }
}

static void
counter(struct text *t, const char *name, const char *help, uint64_t v)
{
    add(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
        (unsigned long long)v);
}

static void
gauge(struct text *t, const char *name, const char *help, int64_t v)
{
    add(t, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, (long long)v);
}

/* One family of per-partition projector figures, labelled by partition. */
enum part_field { PF_CHANGES, PF_FAILURES, PF_LAG };

static void
part_family(struct text *t, const struct gm_metrics *m, bool redis, enum part_field field)
{
    static const char *const names[2][3] = {
        {"gamify_postgres_projected_total", "gamify_postgres_projector_failures_total",
         "gamify_postgres_projector_lag_changes"},
        {"gamify_redis_projected_total", "gamify_redis_projector_failures_total",
         "gamify_redis_projector_lag_changes"}};
    static const char *const helps[2][3] = {
        {"Changes the Postgres projector of the partition wrote since it was assigned here.",
         "Steps of the Postgres projector of the partition that failed (retried with backoff).",
         "Changes of the partition not yet in Postgres."},
        {"Changes the Redis projector of the partition wrote since it was assigned here.",
         "Steps of the Redis projector of the partition that failed (retried with backoff).",
         "Changes of the partition not yet in Redis."}};
    const char *name = names[redis][field];
    bool any = false;
    for (size_t i = 0; i < m->n_parts; i++) {
        const struct gm_metrics_part *p = &m->parts[i];
        if (!(redis ? p->redis : p->pg))
            continue;
        if (!any) {
            add(t, "# HELP %s %s\n# TYPE %s %s\n", name, helps[redis][field], name,
                field == PF_LAG ? "gauge" : "counter");
            any = true;
        }
        int64_t v = field == PF_CHANGES    ? (int64_t)(redis ? p->redis_changes : p->pg_changes)
                    : field == PF_FAILURES ? (int64_t)(redis ? p->redis_failures : p->pg_failures)
                                           : (redis ? p->redis_lag : p->pg_lag);
        add(t, "%s{partition=\"%d\"} %lld\n", name, (int)p->partition, (long long)v);
    }
}

/* Kafka: one family of the Redis memory guard's figures (field: 0-4, the
 * order of names below), labelled by partition; call with parts_mu held. */
static void
part_guard(struct text *t, struct gm_metrics *m, int field)
{
    static const char *const names[] = {
        "gamify_redis_guard_actions_total", "gamify_redis_guard_periods_deleted_total",
        "gamify_redis_guard_keys_deleted_total", "gamify_redis_used_memory_bytes",
        "gamify_redis_maxmemory_bytes"};
    static const char *const helps[] = {
        "Memory guard runs of the partition's Redis projector that found Redis above its mark "
        "(each logs an ALERT).",
        "Finished leaderboard periods the partition's memory guard deleted.",
        "Keys the partition's memory guard deleted.",
        "Redis used_memory at the partition's last guard run.",
        "Redis maxmemory at the partition's last guard run (0: none)."};
    bool any = false;
    for (size_t i = 0; i < m->n_parts; i++) {
        const struct gm_metrics_part *p = &m->parts[i];
        /* the memory figures once the guard has read them */
        if (!p->redis || (field >= 3 && p->used_memory < 0))
            continue;
        if (!any) {
            add(t, "# HELP %s %s\n# TYPE %s %s\n", names[field], helps[field], names[field],
                field >= 3 ? "gauge" : "counter");
            any = true;
        }
        int64_t v = field == 0   ? (int64_t)p->guard_actions
                    : field == 1 ? (int64_t)p->guard_periods_deleted
                    : field == 2 ? (int64_t)p->guard_keys_deleted
                    : field == 3 ? p->used_memory
                                 : p->maxmemory;
        add(t, "%s{partition=\"%d\"} %lld\n", names[field], (int)p->partition, (long long)v);
    }
}

/* Kafka: the projectors of every assigned partition. */
static void
render_parts(struct text *t, struct gm_metrics *m)
{
    pthread_mutex_lock(&m->parts_mu);
    for (int redis = 0; redis < 2; redis++) {
        part_family(t, m, redis, PF_CHANGES);
        part_family(t, m, redis, PF_FAILURES);
        part_family(t, m, redis, PF_LAG);
    }
    for (int field = 0; field < 5; field++)
        part_guard(t, m, field);
    pthread_mutex_unlock(&m->parts_mu);
}

/* Kafka: writes into why (size n) the first partition whose projector is
 * more than max changes behind; false when none is. */
static bool
part_behind(struct gm_metrics *m, int64_t max, char *why, size_t n)
{
    bool behind = false;
    pthread_mutex_lock(&m->parts_mu);
    for (size_t i = 0; i < m->n_parts && !behind; i++) {
        const struct gm_metrics_part *p = &m->parts[i];
        const char *which = p->pg && p->pg_lag > max         ? "postgres"
                            : p->redis && p->redis_lag > max ? "redis"
                                                             : NULL;
        if (which) {
            snprintf(why, n, "the %s projector of partition %d is behind\n", which,
                     (int)p->partition);
            behind = true;
        }
    }
    pthread_mutex_unlock(&m->parts_mu);
    return behind;
}

/* NAME's cursor, lag in seconds, retries and step latency histogram. */
static void
projector(struct text *t, const char *name, const char *what, struct gm_metrics_projector *p)
{
    add(t,
        "# HELP gamify_%s_projector_cursor The next change the %s projector will write.\n"
        "# TYPE gamify_%s_projector_cursor gauge\ngamify_%s_projector_cursor %lld\n",
        name, what, name, name, (long long)atomic_load(&p->cursor));
    add(t,
        "# HELP gamify_%s_projector_lag_seconds Now minus the commit time of the oldest change "
        "not yet in %s (0: up to date).\n"
        "# TYPE gamify_%s_projector_lag_seconds gauge\ngamify_%s_projector_lag_seconds %.3f\n",
        name, what, name, name, (double)atomic_load(&p->lag_ms) / 1000.0);
    add(t,
        "# HELP gamify_%s_projector_retries_total Steps of the %s projector run again after a "
        "failed one.\n"
        "# TYPE gamify_%s_projector_retries_total counter\ngamify_%s_projector_retries_total "
        "%llu\n",
        name, what, name, name, (unsigned long long)atomic_load(&p->retries));
    if (!strcmp(name, "redis")) {
        add(t,
            "# HELP gamify_redis_projector_early_total Changes written to Redis before their "
            "commit (--redis-early).\n"
            "# TYPE gamify_redis_projector_early_total counter\n"
            "gamify_redis_projector_early_total %llu\n"
            "# HELP gamify_redis_projector_early_failures_total Early writes that failed (the "
            "next step writes their changes).\n"
            "# TYPE gamify_redis_projector_early_failures_total counter\n"
            "gamify_redis_projector_early_failures_total %llu\n"
            "# HELP gamify_redis_early_offers_total Batches, or parts of a long one, the writer "
            "handed to the Redis projector before their commit (--redis-early).\n"
            "# TYPE gamify_redis_early_offers_total counter\n"
            "gamify_redis_early_offers_total %llu\n"
            "# HELP gamify_redis_early_skipped_total Batches not handed over before their commit "
            "because the batch before ended at its bound (the processor was catching up).\n"
            "# TYPE gamify_redis_early_skipped_total counter\n"
            "gamify_redis_early_skipped_total %llu\n",
            (unsigned long long)atomic_load(&p->early),
            (unsigned long long)atomic_load(&p->early_failures),
            (unsigned long long)atomic_load(&p->early_offers),
            (unsigned long long)atomic_load(&p->early_skipped));
    }
    add(t,
        "# HELP gamify_%s_projector_step_seconds Time of one step (a batch of changes written "
        "to %s with its cursor).\n# TYPE gamify_%s_projector_step_seconds histogram\n",
        name, what, name);
    for (int i = 0; i < GM_PROJRUN_STEP_BUCKETS; i++)
        add(t, "gamify_%s_projector_step_seconds_bucket{le=\"%g\"} %llu\n", name,
            (double)gm_projrun_step_bounds_us[i] / 1e6,
            (unsigned long long)atomic_load(&p->step_le[i]));
    uint64_t n = atomic_load(&p->step_count);
    add(t,
        "gamify_%s_projector_step_seconds_bucket{le=\"+Inf\"} %llu\n"
        "gamify_%s_projector_step_seconds_sum %.6f\ngamify_%s_projector_step_seconds_count "
        "%llu\n",
        name, (unsigned long long)n, name, (double)atomic_load(&p->step_us_sum) / 1e6, name,
        (unsigned long long)n);
}

static void
redis_ops(struct text *t, struct gm_metrics_redis_ops *o)
{
    counter(t, "gamify_redis_reconcile_runs_total",
            "Reconcile runs that compared Redis with the state.", atomic_load(&o->reconcile_runs));
    counter(t, "gamify_redis_reconcile_skipped_total",
            "Reconcile runs put off because the projector was too far behind.",
            atomic_load(&o->reconcile_skipped));
    counter(t, "gamify_redis_reconcile_errors_total", "Reconcile runs that failed.",
            atomic_load(&o->reconcile_errors));
    counter(t, "gamify_redis_drift_total",
            "Leaderboard members the reconcile found wrong in Redis and repaired.",
            atomic_load(&o->drift));
    gauge(t, "gamify_redis_last_drift", "Members the last reconcile run repaired.",
          (int64_t)atomic_load(&o->last_drift));
    counter(t, "gamify_redis_reconcile_rebuilds_total",
            "Reconcile runs whose drift was large: every board rebuilt.",
            atomic_load(&o->rebuilds));
    int64_t used = atomic_load(&o->used_memory), max = atomic_load(&o->maxmemory);
    if (used >= 0) {
        gauge(t, "gamify_redis_used_memory_bytes", "Redis used_memory at the last guard run.",
              used);
        gauge(t, "gamify_redis_maxmemory_bytes", "Redis maxmemory at the last guard run (0: none).",
              max);
    }
    counter(t, "gamify_redis_guard_actions_total",
            "Memory guard runs that found Redis above its mark (each logs an ALERT).",
            atomic_load(&o->guard_actions));
    counter(t, "gamify_redis_guard_periods_deleted_total",
            "Finished leaderboard periods the memory guard deleted.",
            atomic_load(&o->guard_periods_deleted));
    counter(t, "gamify_redis_guard_keys_deleted_total", "Keys the memory guard deleted.",
            atomic_load(&o->guard_keys_deleted));
}

static char *
render(struct gm_metrics *m, size_t *len)
{
    struct text t = {malloc(4096), 0, 4096};
    if (!t.buf)
        abort();
    counter(&t, "gamify_events_folded_total", "Events folded into the state.",
            atomic_load(&m->applied));
    counter(&t, "gamify_duplicates_total", "Events skipped because their id was seen.",
            atomic_load(&m->duplicates));
    counter(&t, "gamify_dead_letters_total", "Records stored as dead letters.",
            atomic_load(&m->dead_letters));
    counter(&t, "gamify_too_far_ahead_total",
            "Dead letters dated too far after their append time (TOO_FAR_AHEAD).",
            atomic_load(&m->too_far_ahead));
    counter(&t, "gamify_periods_pruned_total",
            "Expired leaderboard scores (board, period) removed from learners.",
            atomic_load(&m->periods_pruned));
    counter(&t, "gamify_records_total", "Log records read.", atomic_load(&m->records));
    gauge(&t, "gamify_held_learners",
          "Learners held by write-behind (--hold-mib): changed, journaled, not written back yet.",
          (int64_t)atomic_load(&m->held_learners));
    gauge(&t, "gamify_held_bytes", "Bytes of the held learners' records.",
          (int64_t)atomic_load(&m->held_bytes));
    gauge(&t, "gamify_journal_bytes", "Bytes of the learner journal's records.",
          (int64_t)atomic_load(&m->journal_bytes));
    if (atomic_load(&m->redis_enabled)) {
        counter(&t, "gamify_redis_projected_total", "Changes the Redis projector wrote.",
                atomic_load(&m->redis_changes));
        counter(&t, "gamify_redis_projector_failures_total",
                "Redis projector steps that failed (retried with backoff).",
                atomic_load(&m->redis_failures));
        add(&t,
            "# HELP gamify_redis_projector_lag_changes Changes not yet in Redis.\n"
            "# TYPE gamify_redis_projector_lag_changes gauge\n"
            "gamify_redis_projector_lag_changes %lld\n",
            (long long)atomic_load(&m->redis_lag_changes));
        projector(&t, "redis", "Redis", &m->redis_proj);
        redis_ops(&t, &m->redis_ops);
    }
    if (atomic_load(&m->pg_enabled)) {
        counter(&t, "gamify_postgres_projected_total", "Changes the Postgres projector wrote.",
                atomic_load(&m->pg_changes));
        counter(&t, "gamify_postgres_projector_failures_total",
                "Postgres projector steps that failed (retried with backoff).",
                atomic_load(&m->pg_failures));
        add(&t,
            "# HELP gamify_postgres_projector_lag_changes Changes not yet in Postgres.\n"
            "# TYPE gamify_postgres_projector_lag_changes gauge\n"
            "gamify_postgres_projector_lag_changes %lld\n",
            (long long)atomic_load(&m->pg_lag_changes));
        projector(&t, "postgres", "Postgres", &m->pg_proj);
    }
    render_parts(&t, m);
    if (atomic_load(&m->webhook_enabled)) {
        counter(&t, "gamify_webhook_deliveries_total", "Webhook requests answered 2xx.",
                atomic_load(&m->webhook_deliveries));
        counter(&t, "gamify_webhook_failures_total",
                "Webhook requests that failed (error, timeout or not 2xx).",
                atomic_load(&m->webhook_failures));
        counter(&t, "gamify_webhook_retries_total", "Webhook requests repeating an attempt.",
                atomic_load(&m->webhook_retries));
        counter(&t, "gamify_webhook_dead_letters_total",
                "Webhook events given up after their attempts (gamify webhooks list).",
                atomic_load(&m->webhook_dead_letters));
        add(&t,
            "# HELP gamify_webhook_lag_changes Changes the slowest endpoint has not delivered.\n"
            "# TYPE gamify_webhook_lag_changes gauge\n"
            "gamify_webhook_lag_changes %lld\n",
            (long long)atomic_load(&m->webhook_lag_changes));
    }
    if (m->alerts) {
        struct gm_opsalert_stats as;
        gm_opsalert_stats(m->alerts, &as);
        counter(&t, "gamify_ops_alerts_emitted_total",
                "Ops alerts raised (the Redis memory guard's), each queued for delivery.",
                as.emitted);
        counter(&t, "gamify_ops_alerts_delivered_total",
                "Ops alert deliveries: an alert taken by the --alerts destination or by one "
                "webhook endpoint.",
                as.delivered);
        counter(&t, "gamify_ops_alerts_failed_total",
                "Ops alert delivery attempts that failed (retried with backoff).", as.failed);
        counter(&t, "gamify_ops_alerts_dropped_total",
                "Ops alerts dropped: the queue was full, an endpoint's attempts ran out, or "
                "still undelivered at the stop.",
                as.dropped);
        add(&t,
            "# HELP gamify_ops_alerts_queued Ops alerts waiting for delivery.\n"
            "# TYPE gamify_ops_alerts_queued gauge\n"
            "gamify_ops_alerts_queued %llu\n",
            (unsigned long long)as.queued);
    }
    uint64_t batches = atomic_load(&m->batches);
    add(&t, "# HELP gamify_batch_size Records per committed batch.\n"
            "# TYPE gamify_batch_size histogram\n");
    for (int i = 0; i < GM_METRICS_BUCKETS; i++)
        add(&t, "gamify_batch_size_bucket{le=\"%llu\"} %llu\n", (unsigned long long)size_bounds[i],
            (unsigned long long)atomic_load(&m->batch_size_le[i]));
    add(&t,
        "gamify_batch_size_bucket{le=\"+Inf\"} %llu\ngamify_batch_size_sum %llu\n"
        "gamify_batch_size_count %llu\n",
        (unsigned long long)batches, (unsigned long long)atomic_load(&m->records),
        (unsigned long long)batches);
    add(&t, "# HELP gamify_batch_seconds Time to fold and commit one batch.\n"
            "# TYPE gamify_batch_seconds histogram\n");
    for (int i = 0; i < GM_METRICS_BUCKETS; i++)
        add(&t, "gamify_batch_seconds_bucket{le=\"%g\"} %llu\n", (double)ms_bounds[i] / 1000.0,
            (unsigned long long)atomic_load(&m->batch_ms_le[i]));
    add(&t,
        "gamify_batch_seconds_bucket{le=\"+Inf\"} %llu\ngamify_batch_seconds_sum %.6f\n"
        "gamify_batch_seconds_count %llu\n",
        (unsigned long long)batches, (double)atomic_load(&m->batch_us_sum) / 1e6,
        (unsigned long long)batches);
    uint64_t lag_n = atomic_load(&m->event_lag_count);
    add(&t, "# HELP gamify_event_lag_seconds From an event's occurred_at to the commit that "
            "folded it.\n# TYPE gamify_event_lag_seconds histogram\n");
    for (int i = 0; i < GM_METRICS_LAG_BUCKETS; i++)
        add(&t, "gamify_event_lag_seconds_bucket{le=\"%g\"} %llu\n",
            (double)lag_bounds_ms[i] / 1000.0,
            (unsigned long long)atomic_load(&m->event_lag_le[i]));
    add(&t,
        "gamify_event_lag_seconds_bucket{le=\"+Inf\"} %llu\ngamify_event_lag_seconds_sum %.3f\n"
        "gamify_event_lag_seconds_count %llu\n",
        (unsigned long long)lag_n, (double)atomic_load(&m->event_lag_ms_sum) / 1000.0,
        (unsigned long long)lag_n);
    add(&t,
        "# HELP gamify_event_lag_max_seconds The largest event lag seen.\n"
        "# TYPE gamify_event_lag_max_seconds gauge\ngamify_event_lag_max_seconds %.3f\n",
        (double)atomic_load(&m->event_lag_ms_max) / 1000.0);
    uint64_t off = atomic_load(&m->offset), end = atomic_load(&m->log_end);
    gauge(&t, "gamify_source_offset", "Committed source offset (bytes of the file log).",
          (int64_t)off);
    gauge(&t, "gamify_lag_bytes", "Log bytes not yet folded.",
          end > off ? (int64_t)(end - off) : 0);
    gauge(&t, "gamify_lag_seconds",
          "Wall clock minus the event time of the newest folded event (0 when idle).",
          atomic_load(&m->lag_seconds));
    int64_t lag_records = atomic_load(&m->lag_records);
    if (lag_records >= 0)
        gauge(&t, "gamify_lag_records",
              "Kafka records not yet folded: the assigned partitions' high watermarks minus "
              "their next offsets.",
              lag_records);
    counter(&t, "gamify_kafka_log_gap_skipped_total",
            "Kafka offsets deleted from a partition before its state read them, skipped "
            "under --allow-log-gap (their events are missing from the state).",
            atomic_load(&m->log_gap_skipped));
    counter(&t, "gamify_kafka_offset_gaps_total",
            "Kafka records whose offset did not follow the previous record's (transaction "
            "markers; or compacted or lost records).",
            atomic_load(&m->offset_gaps));
    gauge(&t, "gamify_lmdb_bytes", "Size of the LMDB data file.",
          (int64_t)atomic_load(&m->lmdb_bytes));
    gauge(&t, "gamify_ready", "1 once the processor has caught up with the log.",
          atomic_load(&m->ready) ? 1 : 0);
    gauge(&t, "gamify_state_disk_free_bytes",
          "Bytes free to the processor on the state's disk, at the last check.",
          (int64_t)atomic_load(&m->disk_free_bytes));
    gauge(&t, "gamify_state_disk_low",
          "1 while the state's disk has less free than --min-free-disk-mb: nothing is folded.",
          atomic_load(&m->disk_low) ? 1 : 0);
    *len = t.len;
    return t.buf;
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_size, void **req_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_size;
    (void)req_cls;
    struct gm_metrics_server *srv = cls;
    unsigned status = MHD_HTTP_OK;
    char *body;
    size_t len;
    const char *type = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        body = strdup("only GET\n");
    } else if (strcmp(url, "/metrics") == 0) {
        body = render(srv->m, &len);
        type = "text/plain; version=0.0.4; charset=utf-8";
        goto send;
    } else if (strcmp(url, "/healthz") == 0) {
        body = strdup("ok\n");
    } else if (strcmp(url, "/readyz") == 0) {
        struct gm_metrics *m = srv->m;
        char part_why[96];
        bool ready = atomic_load(&m->ready);
        int64_t max = atomic_load(&m->projector_max_lag);
        const char *why = ready ? "ready\n" : "catching up\n";
        if (ready && max > 0 && atomic_load(&m->redis_enabled) &&
            atomic_load(&m->redis_lag_changes) > max) {
            ready = false;
            why = "the redis projector is behind\n";
        }
        if (ready && max > 0 && atomic_load(&m->pg_enabled) &&
            atomic_load(&m->pg_lag_changes) > max) {
            ready = false;
            why = "the postgres projector is behind\n";
        }
        if (ready && max > 0 && part_behind(m, max, part_why, sizeof part_why)) {
            ready = false;
            why = part_why;
        }
        if (atomic_load(&m->disk_low)) {
            ready = false;
            why = "paused: the state's disk is below --min-free-disk-mb\n";
        }
        status = ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        body = strdup(why);
    } else {
        status = MHD_HTTP_NOT_FOUND;
        body = strdup("not found: try /metrics, /healthz, /readyz\n");
    }
    len = strlen(body);
send:;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", type);
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

int
gm_metrics_serve(struct gm_metrics *m, const char *addr, struct gm_metrics_server **out,
                 struct gm_err *err)
{
    *out = NULL;
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return gm_err_set(err, GM_EINVAL, "metrics address \"%s\" is not HOST:PORT", addr);
    char host[64];
    size_t hlen = (size_t)(colon - addr);
    if (hlen >= sizeof host)
        return gm_err_set(err, GM_EINVAL, "metrics host too long");
    memcpy(host, addr, hlen);
    host[hlen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return gm_err_set(err, GM_EINVAL, "metrics port in \"%s\" is not 1..65535", addr);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (!*host || !strcmp(host, "0.0.0.0"))
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
    else if (!strcmp(host, "localhost"))
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return gm_err_set(err, GM_EINVAL, "metrics host \"%s\" is not an IPv4 address", host);
    struct gm_metrics_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        abort();
    srv->m = m;
    srv->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, answer,
                         srv, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_LIMIT, 64u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!srv->daemon) {
        free(srv);
        return gm_err_set(err, GM_EIO, "cannot serve metrics on %s (in use?)", addr);
    }
    *out = srv;
    return 0;
}

void
gm_metrics_stop(struct gm_metrics_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
