/*
 * processor_main.c: gamify-processor, the daemon that follows the event log
 * and folds it into the state (DESIGN sections 2, 4 and 8).
 *
 * Batches adapt to load by construction: each batch takes what the log has
 * ready, up to batch-max, so an idle processor commits single events at
 * once (low latency) and a busy one commits large batches (throughput).
 * When the log has nothing new it waits on inotify, so an append wakes it
 * within milliseconds. SIGTERM or SIGINT ends the batch in progress,
 * commits it and exits 0.
 *
 * With a kafka:// log the processor is one member of a consumer group: each
 * partition it is assigned gets its own state, STATE/partition-N, opened at
 * the assignment and closed at the revocation, and is read from the offset
 * stored in that state (LMDB is the truth; offsets committed to Kafka only
 * show lag). A batch is per partition: it grows while records come and is
 * committed when the poll comes back empty or it reaches batch-max.
 *
 * The topic must keep every record. When a partition's log starts after
 * its state's offset (retention deleted records the state never read; for
 * a new state, any deleted record), the processor stops with an error
 * naming both offsets, unless --allow-log-gap accepts the loss: the state
 * then moves to the log start in a commit of its own, so the loss is
 * accepted once. A record whose offset jumps past the previous one's is
 * logged and counted, not fatal: transaction markers take offsets too.
 */
#include "config.h"
#include "feedshare.h"
#include "filelog.h"
#include "gm_config.h"
#include "kafka.h"
#include "kproj.h"
#include "log.h"
#include "logsrc.h"
#include "diskguard.h"
#include "metrics.h"
#include "opsrun.h"
#include "pgproj.h"
#include "projrun.h"
#include "outsink.h"
#include "pump.h"
#include "redisproj.h"
#include "rules.h"
#include "state.h"
#include "trace.h"
#include "whrun.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const struct gm_setting settings[] = {
    {"log", GM_SET_STRING, NULL, 0, 0, true,
     "the event log: file:DIR or kafka://HOST:PORT[,HOST:PORT]/TOPIC"},
    {"state", GM_SET_STRING, NULL, 0, 0, true, "the state folder (LMDB)"},
    {"rules", GM_SET_STRING, NULL, 0, 0, false, "rules file used when the log has published none"},
    {"postgres", GM_SET_STRING, NULL, 0, 0, false,
     "Postgres read model conninfo (projected in a thread; with a kafka:// log, one per "
     "assigned partition, each with its own connection; gamify migrate first)"},
    {"postgres-linger-ms", GM_SET_INT, "50", 0, 60000, false,
     "after a Postgres step that caught up, wait this many ms before the next one, so that the "
     "commits meanwhile go in one Postgres transaction (a batch with a redemption ends the "
     "wait; 0: a step per commit; docs/operations.md)"},
    {"redis", GM_SET_STRING, NULL, 0, 0, false,
     "Redis URL for the realtime leaderboards (projected in a thread; with a kafka:// log, one "
     "per assigned partition, each with its own connection)"},
    {"redis-prefix", GM_SET_STRING, "gamify:", 0, 0, false,
     "prefix of every Redis key and channel"},
    {"redis-early", GM_SET_BOOL, "true", 0, 0, false,
     "file logs: hand each batch's changes to the Redis projector before its commit's fsync, "
     "so boards update while the disk works (the cursor still follows commits; "
     "docs/operations.md)"},
    {"redis-early-every-ms", GM_SET_INT, "2", 0, 60000, false,
     "with --redis-early: a batch still folding after this many ms hands its changes so far to "
     "the Redis projector, and again every this many ms, instead of only at its commit "
     "(0: only at the commit; docs/operations.md)"},
    {"projector-max-lag", GM_SET_INT, "100000", 0, 1000000000, false,
     "/readyz answers 503 while a projector (kafka://: of any partition) is more than this many "
     "changes behind (0: never)"},
    {"redis-memory-permille", GM_SET_INT, "900", 0, 1000, false,
     "memory guard: above this share of Redis's maxmemory, delete the oldest finished periods "
     "(0: off; nothing happens without a maxmemory)"},
    {"redis-reconcile-seconds", GM_SET_INT, "300", 0, 604800, false,
     "how often the Redis projector compares the boards with the state and repairs drift "
     "(0: never)"},
    {"redis-reconcile-sample", GM_SET_INT, "1000", 1, 100000000, false,
     "learners whose scores one reconcile run checks (the next run goes on after them)"},
    {"redis-reconcile-rebuild-drift", GM_SET_INT, "10000", 1, 1000000000000LL, false,
     "a reconcile that finds more wrong members than this rebuilds every board instead"},
    {"out", GM_SET_STRING, NULL, 0, 0, false,
     "write outbound events to jsonl:PATH, file:DIR or kafka://HOST:PORT[,HOST:PORT]/TOPIC"},
    {"webhooks", GM_SET_STRING, NULL, 0, 0, false,
     "signed webhooks for outbound events: a YAML file of endpoints (kafka:// logs: delivered per "
     "partition)"},
    {"alerts", GM_SET_STRING, NULL, 0, 0, false,
     "ops alerts (the Redis memory guard's) to jsonl:PATH, file:DIR or "
     "kafka://HOST:PORT[,HOST:PORT]/TOPIC, never the --out destination (webhook endpoints "
     "that want ops.alert get them too)"},
    {"alerts-queue", GM_SET_INT, "256", 1, 100000, false,
     "ops alerts waiting for delivery at most; past it new ones are dropped and counted"},
    {"metrics", GM_SET_STRING, NULL, 0, 0, false,
     "serve /metrics, /healthz and /readyz on HOST:PORT"},
    {"batch-max", GM_SET_INT, "20000", 1, 1000000, false, "most records per committed batch"},
    {"batch-mib", GM_SET_INT, "32", 1, 4096, false,
     "a batch is also committed once the records it holds (kept to be applied again if the map "
     "must grow) reach this many MiB of heap"},
    {"min-free-disk-mb", GM_SET_INT, "256", 0, 1LL << 30, false,
     "pause folding (log, /metrics, /readyz say so; it resumes by itself) while the state's "
     "disk has less than this many MiB free; 0: no check"},
    {"idle-wait-ms", GM_SET_INT, "1000", 1, 60000, false,
     "longest wait for the log to grow before looking again (appends wake it sooner)"},
    {"progress-ms", GM_SET_INT, "10000", 0, 3600000, false,
     "while catching up with a file log (batches end at their bound), log the offset, the "
     "log's end, the rate and the time left every this many ms, and when it is caught up "
     "(0: never)"},
    {"hold-mib", GM_SET_INT, "16", 0, 65536, false,
     "write-behind learners: keep up to this many MiB of changed learner records in memory and "
     "in an appended journal, written back to their tree later, once (short commits under "
     "load); 0: write them at each commit"},
    {"lmdb-writemap", GM_SET_BOOL, "false", 0, 0, false,
     "write the state's pages in LMDB's map (MDB_WRITEMAP: less heap for large batches, but a "
     "page fault per page written and a TLB flush per commit); off: dirty pages on the heap, "
     "written at the commit (docs/configuration.md)"},
    {"window-days", GM_SET_INT, "30", 1, 3650, false, "dedupe window in days of event time"},
    {"future-skew-seconds", GM_SET_INT, "3600", 1, 3153600000LL, false,
     "how far after its append time an event may be dated (later: TOO_FAR_AHEAD)"},
    {"sync", GM_SET_BOOL, "true", 0, 0, false, "fsync at each commit"},
    {"log-level", GM_SET_STRING, "info", 0, 0, false, "debug, info, warn or error"},
    {"group", GM_SET_STRING, "gamify-processor", 0, 0, false,
     "Kafka consumer group (kafka:// logs)"},
    {"kafka-session-timeout-ms", GM_SET_INT, "45000", 1000, 3600000, false,
     "Kafka group session timeout: how soon a dead member's partitions move"},
    {"allow-log-gap", GM_SET_BOOL, "false", 0, 0, false,
     "Kafka: when records of a partition were deleted before its state read them, go on "
     "from the partition's log start without them (logged, counted) instead of stopping"},
};
#define N_SETTINGS (sizeof settings / sizeof settings[0])

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Before a batch: while the state's disk is below the floor, folds nothing
 * and looks again each second (a signal ends the wait). Returns true when
 * it waited, so the caller looks at stop again.
 */
static bool
disk_low(struct gm_diskguard *g, struct gm_metrics *m)
{
    bool low = gm_diskguard_low(g, NULL);
    atomic_store(&m->disk_free_bytes, g->free);
    atomic_store(&m->disk_low, low);
    return low;
}

/* The log's end as /metrics shows it (gamify_lag_bytes): the file log's
 * durable end read now, so that a processor catching up (or paused) shows
 * how far it has to go; once caught up, where it stopped. */
static void
note_log_end(struct gm_metrics *m, const struct gm_logsrc *src, uint64_t offset)
{
    uint64_t end;
    if (gm_logsrc_end(src, &end))
        atomic_store(&m->log_end, end > offset ? end : offset);
}

/* src (NULL: none to watch, a Kafka log): a file log whose end /metrics
 * keeps showing while paused, from offset. */
static bool
disk_pause(struct gm_diskguard *g, struct gm_metrics *m, const struct gm_logsrc *src,
           uint64_t offset)
{
    bool waited = false;
    for (;;) {
        if (!disk_low(g, m) || stop)
            return waited;
        waited = true;
        if (src)
            note_log_end(m, src, offset);
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
}

/* A catch-up's progress lines (--progress-ms): when it started, and the
 * offset, time and records counted at the last line. */
struct catchup {
    double every_s;
    bool on; /* a catch-up is being reported */
    double t_start, t_last;
    uint64_t off_last, records, records_last;
};

/* After a batch that ended at its bound: a line every every_s seconds. */
static void
catchup_batch(struct catchup *c, struct gm_metrics *m, uint64_t offset, size_t n, double now)
{
    if (c->every_s <= 0)
        return;
    if (!c->on) {
        *c = (struct catchup){c->every_s, true, now, now, offset, 0, 0};
        return; /* the first full batch starts the count */
    }
    c->records += n;
    if (now - c->t_last < c->every_s)
        return;
    uint64_t end = atomic_load(&m->log_end);
    double dt = now - c->t_last, bytes_s = (double)(offset - c->off_last) / dt;
    double pct = end > 0 ? 100.0 * (double)offset / (double)end : 100.0;
    gm_log(GM_LOG_INFO,
           "catching up: offset %llu of %llu (%.1f%%), %.0f records/s, about %.0f s left",
           (unsigned long long)offset, (unsigned long long)end, pct,
           (double)(c->records - c->records_last) / dt,
           bytes_s > 0 && end > offset ? (double)(end - offset) / bytes_s : 0.0);
    c->t_last = now;
    c->off_last = offset;
    c->records_last = c->records;
}

/* The log's end reached: a last line if the catch-up was reported. */
static void
catchup_done(struct catchup *c, uint64_t offset, size_t n, double now)
{
    if (!c->on)
        return;
    c->on = false;
    if (c->t_last == c->t_start)
        return; /* shorter than a period: no line was written, none closes it */
    double dt = now - c->t_start;
    gm_log(GM_LOG_INFO, "caught up at offset %llu: %llu records in %.1f s (%.0f records/s)",
           (unsigned long long)offset, (unsigned long long)(c->records + n), dt,
           dt > 0 ? (double)(c->records + n) / dt : 0.0);
}

/* Everything --check-config can know without starting. */
static int
check(const struct gm_config *cfg, struct gm_err *err)
{
    enum gm_logsrc_scheme scheme;
    const char *rest;
    enum gm_log_level level;
    int rc = gm_logsrc_uri_parse(gm_config_str(cfg, "log"), &scheme, &rest, err);
    if (rc)
        return rc;
    if (scheme == GM_LOGSRC_JSONL)
        return gm_err_set(err, GM_EUNSUPPORTED,
                          "--log: jsonl: is for replays; use file:DIR or "
                          "kafka://HOST:PORT/TOPIC");
    if (scheme == GM_LOGSRC_KAFKA) {
        char *brokers = NULL, *topic = NULL;
        rc = gm_kafka_uri_split(rest, &brokers, &topic, err);
        free(brokers);
        free(topic);
        if (rc)
            return rc;
        if (!GM_HAVE_KAFKA)
            return gm_err_set(err, GM_EUNSUPPORTED, "--log: built without Kafka support");
    }
    if (gm_log_parse_level(gm_config_str(cfg, "log-level"), &level))
        return gm_err_set(err, GM_EINVAL, "--log-level: \"%s\" is not debug, info, warn or error",
                          gm_config_str(cfg, "log-level"));
    if (gm_config_str(cfg, "webhooks") &&
        (rc = gm_whrun_check(gm_config_str(cfg, "webhooks"), err)))
        return rc;
    if ((rc = gm_opsrun_check(gm_config_str(cfg, "alerts"), gm_config_str(cfg, "out"), err)))
        return rc;
    if (gm_config_str(cfg, "postgres")) {
        struct gm_pgproj *pp = NULL;
        rc = gm_pgproj_open(gm_config_str(cfg, "postgres"), 0, &pp, err);
        gm_pgproj_close(pp);
        if (rc)
            return rc;
    }
    if (gm_config_str(cfg, "redis")) {
        struct gm_redisproj *rp = NULL;
        struct gm_redisproj_opts ro = {.prefix = gm_config_str(cfg, "redis-prefix")};
        rc = gm_redisproj_open(gm_config_str(cfg, "redis"), 0, &ro, &rp, err);
        gm_redisproj_close(rp);
        if (rc)
            return rc;
    }
    const char *rules = gm_config_str(cfg, "rules");
    if (rules) {
        struct gm_rules *r = NULL;
        struct gm_err *errs = NULL;
        size_t n = 0;
        rc = gm_rules_load(rules, &r, &errs, &n);
        if (rc) {
            gm_err_set(err, GM_EINVAL, "--rules %s:%d:%d: %s", rules, n ? errs[0].line : 0,
                       n ? errs[0].column : 0, n ? errs[0].msg : gm_strerror(rc));
            free(errs);
            return GM_EINVAL;
        }
        gm_rules_free(r);
    }
    return 0;
}

static uint64_t
file_size(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/*
 * Opens the file log for appending and closes it, so that records that are
 * synced but not yet under the durable mark (its last appender died before
 * moving it, or the mark had not reached the disk when the power went) are
 * folded now rather than at the next append. Not fatal: the reader reports
 * what matters on its own, and a read-only log just waits for its appenders.
 */
static void
settle_log(const char *dir)
{
    struct gm_filelog *log = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    if (gm_filelog_open(dir, NULL, &log, &err) < 0)
        gm_log(GM_LOG_WARN, "could not open %s to settle its durable mark: %s", dir, err.msg);
    gm_filelog_close(log);
}

/* The Redis projector as the runner sees it. */
static int
redis_step(void *impl, struct gm_state *st, size_t max, size_t *n, struct gm_err *err)
{
    return gm_redisproj_step(impl, st, max, n, err);
}

static int64_t
redis_backoff(const void *impl)
{
    return gm_redisproj_backoff_ms(impl);
}

static int64_t
redis_cursor(const void *impl)
{
    return gm_redisproj_cursor(impl);
}

static void
redis_close(void *impl)
{
    gm_redisproj_close(impl);
}

static int
redis_early(void *impl, size_t max, size_t *n, struct gm_err *err)
{
    return gm_redisproj_early(impl, max, n, err);
}

static const struct gm_projector_ops redis_ops = {"redis",      redis_step,  redis_backoff,
                                                  redis_cursor, redis_close, NULL};
static const struct gm_projector_ops redis_early_ops = {"redis",      redis_step,  redis_backoff,
                                                        redis_cursor, redis_close, redis_early};

/* The writer's precommit callback with --redis-early: offers the batch's
 * changes to the share and wakes the Redis projector to write them while
 * the commit's fsync runs. Also the batch's progress hook
 * (--redis-early-every-ms): a long batch offers its changes so far as it
 * goes (the share then holds only what is new since the last offer). */
struct early_hand {
    struct gm_feedshare *share;
    struct gm_projrun *redis;
    int64_t first, end; /* the last offer: the batch's changes [first, end) */
    /* The last batch ended at its bound (--batch-max, --batch-mib): the
     * writer is catching up with the log. Its batches are then not handed
     * over early: an early hand-over is for the latency of live events, and
     * while catching up it only cost (copies of every record, and Redis
     * steps of a few hundred changes where steps of 10,000 cost Redis about
     * two thirds of the CPU per change; BENCHMARKS.md "catchup"). The Redis
     * projector then follows the commits. */
    bool behind;
    uint64_t offers, skipped; /* for /metrics */
};

static void
early_offer(void *ctx, struct gm_state *st)
{
    struct early_hand *h = ctx;
    if (h->behind)
        return;
    int64_t first = gm_state_change_end(st), end = gm_state_pending_end(st);
    if (end <= first)
        return; /* a commit of no changes (a trim), or none yet */
    if (first == h->first && end == h->end)
        return; /* offered already (the batch's last progress call) */
    if (gm_feedshare_offer(h->share, st) == 0) {
        h->first = first;
        h->end = end;
        h->offers++;
        gm_projrun_wake_early(h->redis);
    }
}

/* The Postgres projector as the runner sees it (the runner's backoff). */
static int
pg_step(void *impl, struct gm_state *st, size_t max, size_t *n, struct gm_err *err)
{
    return gm_pgproj_step(impl, st, max, n, err);
}

static int64_t
pg_cursor(const void *impl)
{
    return gm_pgproj_cursor(impl);
}

static void
pg_close(void *impl)
{
    gm_pgproj_close(impl);
}

static const struct gm_projector_ops pg_ops = {"postgres", pg_step, NULL, pg_cursor, pg_close};

/* The Redis projector's options from the settings (strings borrowed from cfg).
 * whole: this state is the only writer of the boards (a file log), so the
 * reconcile may compare key sizes and remove members; a Kafka partition's
 * projector must not (its boards hold the other partitions' members). */
static struct gm_redisproj_opts
redis_opts(const struct gm_config *cfg, bool whole)
{
    return (struct gm_redisproj_opts){
        .prefix = gm_config_str(cfg, "redis-prefix"),
        .memory_permille = (int)gm_config_int(cfg, "redis-memory-permille"),
        .reconcile_interval_ms = gm_config_int(cfg, "redis-reconcile-seconds") * 1000,
        .reconcile_sample = (size_t)gm_config_int(cfg, "redis-reconcile-sample"),
        .reconcile_rebuild_drift = (uint64_t)gm_config_int(cfg, "redis-reconcile-rebuild-drift"),
        .reconcile_whole = whole,
    };
}

/* Starts the projectors the settings ask for (file logs: partition 0);
 * *rp borrows the Redis projector (the runner owns it) for its figures. */
static int
start_projectors(const struct gm_config *cfg, struct gm_state *st, struct gm_opsalert *alerts,
                 struct gm_feedshare *share, struct gm_projrun **redis, struct gm_projrun **pg,
                 struct gm_redisproj **rp_out, struct gm_err *err)
{
    int rc;
    const char *conninfo = gm_config_str(cfg, "postgres");
    if (conninfo) {
        struct gm_pgproj *pp;
        if ((rc = gm_pgproj_open(conninfo, 0, &pp, err)))
            return rc;
        gm_pgproj_set_share(pp, share);
        if ((rc = gm_projrun_start(&pg_ops, pp, st, pg, err)))
            return rc;
        gm_projrun_set_linger(*pg, gm_config_int(cfg, "postgres-linger-ms"));
        gm_log(GM_LOG_INFO, "projecting the read model to Postgres");
    }
    const char *url = gm_config_str(cfg, "redis");
    if (!url)
        return 0;
    struct gm_redisproj *rp;
    struct gm_redisproj_opts ro = redis_opts(cfg, true); /* one state writes these boards */
    gm_opsrun_hook(&ro, alerts);
    if ((rc = gm_redisproj_open(url, 0, &ro, &rp, err)))
        return rc;
    gm_redisproj_set_share(rp, share);
    gm_log(GM_LOG_INFO, "projecting leaderboards to Redis %s", url);
    *rp_out = rp;
    bool early = share && gm_config_bool(cfg, "redis-early");
    return gm_projrun_start(early ? &redis_early_ops : &redis_ops, rp, st, redis, err);
}

/* Projector figures for /metrics. */
static void
projector_metrics(struct gm_metrics *m, struct gm_state *st, const struct gm_projrun *redis,
                  const struct gm_projrun *pg, const struct gm_redisproj *rp)
{
    int64_t end = gm_state_change_end(st);
    struct gm_projrun_stats ps;
    if (redis) {
        gm_projrun_stats(redis, &ps);
        atomic_store(&m->redis_enabled, true);
        atomic_store(&m->redis_changes, ps.changes);
        atomic_store(&m->redis_failures, ps.failures);
        atomic_store(&m->redis_lag_changes, ps.cursor < 0 ? end : end - ps.cursor);
        gm_metrics_projector_set(&m->redis_proj, &ps);
        if (rp)
            gm_metrics_redis_ops_set(&m->redis_ops, rp);
    }
    if (pg) {
        gm_projrun_stats(pg, &ps);
        atomic_store(&m->pg_enabled, true);
        atomic_store(&m->pg_changes, ps.changes);
        atomic_store(&m->pg_failures, ps.failures);
        atomic_store(&m->pg_lag_changes, ps.cursor < 0 ? end : end - ps.cursor);
        gm_metrics_projector_set(&m->pg_proj, &ps);
    }
}

/* The change-feed records both projectors have taken. */
static int64_t
projectors_hold(const struct gm_projrun *redis, const struct gm_projrun *pg)
{
    int64_t a = gm_projrun_hold(redis), b = gm_projrun_hold(pg);
    return a < b ? a : b;
}

static int64_t
hold_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int
run(const struct gm_config *cfg)
{
    const char *log_uri = gm_config_str(cfg, "log"), *dir = gm_config_str(cfg, "state");
    const char *rules = gm_config_str(cfg, "rules"), *out_uri = gm_config_str(cfg, "out");
    const char *metrics_addr = gm_config_str(cfg, "metrics");
    size_t batch_max = (size_t)gm_config_int(cfg, "batch-max");
    size_t batch_bytes = gm_pump_mib_bytes(gm_config_int(cfg, "batch-mib"));
    int idle_ms = (int)gm_config_int(cfg, "idle-wait-ms");
    struct gm_state_opts opts = {.dedupe_window_s = gm_config_int(cfg, "window-days") * 86400,
                                 .no_sync = !gm_config_bool(cfg, "sync"),
                                 .hold_bytes = (size_t)gm_config_int(cfg, "hold-mib") << 20,
                                 .heap_pages = !gm_config_bool(cfg, "lmdb-writemap"),
                                 .future_skew_s = gm_config_int(cfg, "future-skew-seconds")};
    static struct gm_metrics m = {.parts_mu = PTHREAD_MUTEX_INITIALIZER};
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_state *st = NULL;
    struct gm_logsrc *src = NULL;
    struct gm_outsink *sink = NULL;
    struct gm_metrics_server *srv = NULL;
    struct gm_projrun *redis = NULL, *pg = NULL, *wh = NULL;
    const struct gm_webhooks *whp = NULL;
    struct gm_redisproj *rp = NULL; /* borrowed from redis's runner */
    struct gm_opsalert *alerts = NULL;
    struct gm_feedshare *share = NULL; /* the projectors' shared pass over the feed */
    static char ctx[96];
    int code = 1, rc;

    if ((rc = gm_state_open(dir, &opts, &st, &err)))
        goto fail;
    if (rules) {
        char *yaml;
        size_t len;
        if ((rc = gm_rules_read_text(rules, &yaml, &len))) {
            gm_err_set(&err, rc, "--rules %s: %s", rules, strerror(-rc));
            goto fail;
        }
        rc = gm_state_seed_rules(st, yaml, len, &err);
        free(yaml);
        if (rc)
            goto fail;
    }
    if (!gm_state_has_rules(st))
        gm_log(GM_LOG_WARN, "no rules yet: events become NO_RULES dead letters until rules are "
                            "published to the log or given with --rules");
    /* The log may not exist yet: settling it creates it, else the first producer. */
    enum gm_logsrc_scheme scheme;
    const char *log_dir;
    if (gm_logsrc_uri_parse(log_uri, &scheme, &log_dir, NULL) == 0 && scheme == GM_LOGSRC_FILE) {
        if (mkdir(log_dir, 0755) && errno != EEXIST) {
            rc = gm_err_set(&err, -errno, "cannot create the log folder %s: %s", log_dir,
                            strerror(errno));
            goto fail;
        }
        settle_log(log_dir);
    }
    uint64_t offset = gm_state_offset(st);
    if ((rc = gm_pump_source_open(log_uri, offset, &src, &err)))
        goto fail;
    if (out_uri && (rc = gm_outsink_open(out_uri, &sink, &err)))
        goto fail;
    /* outbound events committed before a stop (or a crash between a commit
     * and its publication) go out now, not with the next batch */
    if (sink && (rc = gm_outsink_publish(sink, st, &err)))
        goto fail;
    if ((rc = gm_opsrun_open(gm_config_str(cfg, "alerts"), gm_config_str(cfg, "webhooks"),
                             (size_t)gm_config_int(cfg, "alerts-queue"), &alerts, &err)))
        goto fail;
    m.alerts = alerts;
    bool early = gm_config_str(cfg, "redis") && gm_config_bool(cfg, "redis-early");
    int64_t early_every_ms = gm_config_int(cfg, "redis-early-every-ms");
    if ((gm_config_str(cfg, "postgres") && gm_config_str(cfg, "redis")) || early)
        share = gm_feedshare_new(GM_FEEDSHARE_CHANGES);
    if ((rc = start_projectors(cfg, st, alerts, share, &redis, &pg, &rp, &err)))
        goto fail;
    static struct early_hand hand;
    struct gm_pump_progress prog = {early_offer, &hand, early_every_ms * 1000}, *progp = NULL;
    if (early) {
        hand = (struct early_hand){share, redis, -1, -1, false, 0, 0};
        gm_state_set_precommit(st, early_offer, &hand);
        if (early_every_ms > 0)
            progp = &prog;
    }
    if (gm_config_str(cfg, "webhooks") &&
        (rc = gm_whrun_start(gm_config_str(cfg, "webhooks"), dir, st, &wh, &whp, &err)))
        goto fail;
    atomic_store(&m.projector_max_lag, gm_config_int(cfg, "projector-max-lag"));
    if (metrics_addr && (rc = gm_metrics_serve(&m, metrics_addr, &srv, &err)))
        goto fail;
    atomic_store(&m.offset, offset);
    note_log_end(&m, src, offset);
    atomic_store(&m.lag_records, -1); /* a file log has bytes, not records, to lag by */
    atomic_store(&m.lmdb_bytes, file_size(dir));
    gm_log(GM_LOG_INFO, "following %s from offset %llu into %s", log_uri,
           (unsigned long long)offset, dir);

    double last_size = 0;
    int64_t trimmed = 0;
    struct catchup cu = {.every_s = (double)gm_config_int(cfg, "progress-ms") / 1000.0};
    uint64_t redemptions_seen = gm_state_stats(st)->redemptions;
    struct gm_diskguard guard;
    gm_diskguard_init(&guard, dir, (uint64_t)gm_config_int(cfg, "min-free-disk-mb"));
    while (!stop) {
        if (disk_pause(&guard, &m, src, offset))
            continue;
        double t0 = now_s();
        size_t n = 0;
        snprintf(ctx, sizeof ctx, "\"partition\":0,\"offset\":%llu", (unsigned long long)offset);
        gm_log_set_context(ctx);
        bool full = false;
        rc = gm_pump_batch(st, src, log_uri, batch_max, batch_bytes, &stop, progp, &n, &offset,
                           &full, &err);
        /* changes offered early and not committed go from the share */
        gm_feedshare_settle(share, gm_state_change_end(st));
        if (rc)
            goto fail;
        if (early && hand.behind && n > 0)
            hand.skipped++;
        hand.behind = full;
        double t1 = now_s();
        if (n > 0) {
            const struct gm_state_stats *ss = gm_state_stats(st);
            const int64_t *times;
            size_t n_times = gm_state_last_batch_times(st, &times);
            int64_t commit_ms = (int64_t)(t1 * 1000.0);
            for (size_t i = 0; i < n_times; i++) {
                if (times[i])
                    gm_metrics_event_lag(&m, commit_ms - times[i]);
            }
            gm_metrics_batch(&m, n, (uint64_t)((t1 - t0) * 1e6));
            atomic_store(&m.applied, ss->applied);
            atomic_store(&m.duplicates, ss->duplicates);
            atomic_store(&m.dead_letters, ss->dead_letters);
            atomic_store(&m.too_far_ahead, ss->too_far_ahead);
            atomic_store(&m.periods_pruned, ss->periods_pruned);
            struct gm_state_held held;
            gm_state_held(st, &held);
            atomic_store(&m.held_learners, held.learners);
            atomic_store(&m.held_bytes, held.bytes);
            atomic_store(&m.journal_bytes, held.journal_bytes);
            atomic_store(&m.offset, offset);
            if (full) /* else caught up: the end is where it stopped, below */
                note_log_end(&m, src, offset);
            int64_t newest = gm_state_newest_time(st);
            atomic_store(&m.last_event_time, newest);
            atomic_store(&m.lag_seconds, newest ? (int64_t)t1 - newest : 0);
            atomic_store(&m.redis_proj.early_offers, hand.offers);
            atomic_store(&m.redis_proj.early_skipped, hand.skipped);
            gm_projrun_wake(redis);
            gm_projrun_wake(pg);
            gm_projrun_wake(wh);
            if (ss->redemptions != redemptions_seen) {
                /* gamify-api awaits their outcomes through the read model */
                redemptions_seen = ss->redemptions;
                gm_projrun_hurry(pg);
            }
            if (sink && (rc = gm_outsink_publish(sink, st, &err)))
                goto fail;
            gm_pump_release(st, sink, hold_min(projectors_hold(redis, pg), gm_projrun_hold(wh)));
            projector_metrics(&m, st, redis, pg, rp);
            gm_whrun_metrics(&m, whp, gm_state_change_end(st));
            if (full) {
                catchup_batch(&cu, &m, offset, n, t1);
                continue; /* more is probably waiting */
            }
        }
        catchup_done(&cu, offset, n, t1);
        atomic_store(&m.lag_seconds, 0);
        atomic_store(&m.log_end, offset);
        if (!atomic_load(&m.ready)) {
            atomic_store(&m.ready, true);
            gm_log(GM_LOG_INFO, "caught up with the log at offset %llu",
                   (unsigned long long)offset);
        }
        if (t1 - last_size >= 1.0) {
            atomic_store(&m.lmdb_bytes, file_size(dir));
            projector_metrics(&m, st, redis, pg, rp);
            gm_whrun_metrics(&m, whp, gm_state_change_end(st));
            last_size = t1;
            /* idle: what the projectors took since the last commit goes in
             * a transaction of its own (commits trim while busy) */
            int64_t below = gm_pump_release(
                st, sink, hold_min(projectors_hold(redis, pg), gm_projrun_hold(wh)));
            uint64_t n_trim = 0;
            if (below > trimmed && gm_state_trim_changes(st, below, &n_trim, &err) == 0)
                trimmed = below;
        }
        gm_trace("w", "idle", (int64_t)offset, 0);
        int wrc = stop ? 0 : gm_logsrc_wait(src, idle_ms);
        gm_trace("w", "wake", (int64_t)offset, wrc);
        if (wrc < 0 && errno != EINTR) {
            gm_err_set(&err, GM_EIO, "waiting for %s: %s", log_uri, gm_logsrc_errmsg(src));
            rc = GM_EIO;
            goto fail;
        }
    }
    gm_log(GM_LOG_INFO, "stopping at offset %llu after a signal", (unsigned long long)offset);
    code = 0;
    goto out;
fail:
    gm_log(GM_LOG_ERROR, "%s", err.msg[0] ? err.msg : gm_strerror(rc));
out:
    gm_log_set_context(NULL);
    if (st)
        gm_state_set_precommit(st, NULL, NULL); /* before the projectors it wakes go */
    gm_projrun_stop(redis);
    gm_projrun_stop(pg);
    gm_projrun_stop(wh);
    gm_feedshare_free(share); /* after its readers */
    gm_metrics_stop(srv);
    gm_opsalert_close(alerts); /* after the projectors that raise alerts */
    gm_outsink_close(sink);
    gm_logsrc_close(src);
    gm_state_close(st);
    return code;
}

/* One assigned Kafka partition and its state. */
struct kpart {
    int32_t id;
    struct gm_state *st;
    bool in_batch;
    size_t n;            /* records in the open batch */
    uint64_t next;       /* committed: the next Kafka offset to read */
    uint64_t batch_next; /* after the last record applied (== next without a batch) */
    double t0, last_progress;
    bool rebuilding;
    double gap_logged;                  /* when an offset jump was last logged */
    uint64_t gaps_quiet, offsets_quiet; /* jumps (and offsets) not logged since */
    struct gm_kproj *proj;              /* its projectors (NULL: none asked for) */
    int64_t trimmed;                    /* the feed is trimmed below this */
    uint64_t redemptions_seen;          /* the state's count at the last commit */
};

/* The processor on a Kafka log: the partitions it holds now. */
struct kproc {
    const char *dir;
    struct gm_state_opts opts;
    char *rules;
    size_t rules_len;
    struct kpart *parts;
    size_t n_parts, cap;
    struct gm_metrics *m;
    struct gm_outsink *sink;
    struct gm_kafka_consumer *c;
    uint64_t closed_applied, closed_dups, closed_dead; /* of partitions given up */
    uint64_t closed_ahead, closed_pruned;
    bool allow_gap;
    struct gm_kproj_conf proj_conf; /* the projectors of each partition */
    struct gm_metrics_part *mparts; /* scratch for the metrics, cap entries */
    int failed;
    struct gm_err err;
};

static struct kpart *
kpart_find(struct kproc *k, int32_t id)
{
    for (size_t i = 0; i < k->n_parts; i++) {
        if (k->parts[i].id == id)
            return &k->parts[i];
    }
    return NULL;
}

/* Sums the counters of every partition into the metrics. */
static void
kproc_metrics(struct kproc *k)
{
    uint64_t applied = k->closed_applied, dups = k->closed_dups, dead = k->closed_dead, off = 0;
    struct gm_state_held held = {0};
    uint64_t ahead = k->closed_ahead, pruned = k->closed_pruned;
    int64_t newest = 0;
    for (size_t i = 0; i < k->n_parts; i++) {
        const struct gm_state_stats *ss = gm_state_stats(k->parts[i].st);
        applied += ss->applied;
        dups += ss->duplicates;
        dead += ss->dead_letters;
        ahead += ss->too_far_ahead;
        pruned += ss->periods_pruned;
        struct gm_state_held h;
        gm_state_held(k->parts[i].st, &h);
        held.learners += h.learners;
        held.bytes += h.bytes;
        held.journal_bytes += h.journal_bytes;
        off += k->parts[i].next;
        int64_t t = gm_state_newest_time(k->parts[i].st);
        if (t > newest)
            newest = t;
    }
    /* records lag, from the watermarks librdkafka last saw (no round trip) */
    int64_t lag = 0;
    for (size_t i = 0; i < k->n_parts && lag >= 0; i++) {
        int64_t high;
        if (gm_kafka_high_watermark(k->c, k->parts[i].id, &high))
            lag = -1;
        else if (high > (int64_t)k->parts[i].next)
            lag += high - (int64_t)k->parts[i].next;
    }
    atomic_store(&k->m->lag_records, lag);
    atomic_store(&k->m->applied, applied);
    atomic_store(&k->m->duplicates, dups);
    atomic_store(&k->m->dead_letters, dead);
    atomic_store(&k->m->too_far_ahead, ahead);
    atomic_store(&k->m->periods_pruned, pruned);
    atomic_store(&k->m->held_learners, held.learners);
    atomic_store(&k->m->held_bytes, held.bytes);
    atomic_store(&k->m->journal_bytes, held.journal_bytes);
    atomic_store(&k->m->offset, off);
    atomic_store(&k->m->last_event_time, newest);
    /* each partition's projectors, against the feed end it committed */
    if (!k->proj_conf.conninfo && !k->proj_conf.redis_url && !k->proj_conf.webhooks)
        return;
    if (!(k->mparts = realloc(k->mparts, (k->cap ? k->cap : 1) * sizeof *k->mparts)))
        abort();
    /* webhooks: summed over the partitions held now (counters since each came) */
    struct gm_webhooks_stats wh = {0};
    int64_t wh_lag = 0;
    for (size_t i = 0; i < k->n_parts; i++) {
        struct gm_kproj_stats ps;
        gm_kproj_stats(k->parts[i].proj, gm_state_change_end(k->parts[i].st), &ps);
        wh.deliveries += ps.wh.deliveries;
        wh.failures += ps.wh.failures;
        wh.retries += ps.wh.retries;
        wh.dead_letters += ps.wh.dead_letters;
        wh_lag += ps.wh_lag;
        k->mparts[i] = (struct gm_metrics_part){
            .partition = k->parts[i].id,
            .pg = ps.pg.on,
            .redis = ps.redis.on,
            .pg_changes = ps.pg.changes,
            .pg_failures = ps.pg.failures,
            .redis_changes = ps.redis.changes,
            .redis_failures = ps.redis.failures,
            .pg_lag = ps.pg.lag,
            .redis_lag = ps.redis.lag,
            .guard_actions = ps.guard.actions,
            .guard_periods_deleted = ps.guard.periods_deleted,
            .guard_keys_deleted = ps.guard.keys_deleted,
            .used_memory = ps.guard.used_memory,
            .maxmemory = ps.guard.maxmemory,
        };
    }
    gm_metrics_set_parts(k->m, k->mparts, k->n_parts);
    if (k->proj_conf.webhooks) {
        atomic_store(&k->m->webhook_enabled, true);
        atomic_store(&k->m->webhook_deliveries, wh.deliveries);
        atomic_store(&k->m->webhook_failures, wh.failures);
        atomic_store(&k->m->webhook_retries, wh.retries);
        atomic_store(&k->m->webhook_dead_letters, wh.dead_letters);
        atomic_store(&k->m->webhook_lag_changes, wh_lag);
    }
}

/* Commits the open batch of p (if any) to LMDB, then shows it to Kafka. */
static int
kpart_commit(struct kproc *k, struct kpart *p, struct gm_err *err)
{
    if (!p->in_batch)
        return 0;
    double t1 = now_s();
    int rc = gm_state_commit(p->st, p->batch_next, err);
    p->in_batch = false;
    if (rc)
        return rc;
    p->next = p->batch_next;
    const int64_t *times;
    size_t n_times = gm_state_last_batch_times(p->st, &times);
    for (size_t i = 0; i < n_times; i++) {
        if (times[i])
            gm_metrics_event_lag(k->m, (int64_t)(t1 * 1000.0) - times[i]);
    }
    gm_metrics_batch(k->m, p->n, (uint64_t)((now_s() - p->t0) * 1e6));
    kproc_metrics(k);
    gm_kafka_commit_async(k->c, p->id, p->next);
    gm_kproj_wake(p->proj);
    uint64_t reds = gm_state_stats(p->st)->redemptions;
    if (reds != p->redemptions_seen) {
        p->redemptions_seen = reds; /* gamify-api awaits their outcomes */
        gm_kproj_hurry(p->proj);
    }
    if (k->sink && (rc = gm_outsink_publish_part(k->sink, p->st, p->id, err)))
        return rc;
    gm_pump_release(p->st, k->sink, gm_kproj_hold(p->proj));
    if (p->rebuilding && t1 - p->last_progress >= 2.0) {
        gm_log(GM_LOG_INFO, "partition %d: rebuilding, at offset %llu", (int)p->id,
               (unsigned long long)p->next);
        p->last_progress = t1;
    }
    return 0;
}

static int
on_assigned(void *ctx, int32_t partition, uint64_t *next, struct gm_err *err)
{
    struct kproc *k = ctx;
    char path[4096];
    struct gm_state *st = NULL;
    struct gm_kproj *proj = NULL;
    int rc;
    if (mkdir(k->dir, 0755) && errno != EEXIST) {
        rc = gm_err_set(err, -errno, "cannot create %s: %s", k->dir, strerror(errno));
        goto out;
    }
    snprintf(path, sizeof path, "%s/partition-%d", k->dir, (int)partition);
    if ((rc = gm_state_open(path, &k->opts, &st, err)))
        goto out;
    if (k->rules && (rc = gm_state_seed_rules(st, k->rules, k->rules_len, err)))
        goto out;
    /* outbound events this partition committed before it moved here */
    gm_outsink_forget(k->sink, partition);
    if (k->sink && (rc = gm_outsink_publish_part(k->sink, st, partition, err)))
        goto out;
    /* its projectors, from their cursors for this partition */
    if ((rc = gm_kproj_start(&k->proj_conf, partition, path, st, &proj, err)))
        goto out;
    if (k->n_parts == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 16;
        k->parts = realloc(k->parts, k->cap * sizeof *k->parts);
        if (!k->parts)
            abort();
    }
    struct kpart *p = &k->parts[k->n_parts++];
    *p = (struct kpart){.id = partition,
                        .st = st,
                        .next = gm_state_offset(st),
                        .proj = proj,
                        .redemptions_seen = gm_state_stats(st)->redemptions};
    p->batch_next = p->next;
    p->rebuilding = p->next == 0;
    p->last_progress = now_s();
    st = NULL;
    proj = NULL;
    *next = p->next;
    if (p->rebuilding)
        gm_log(GM_LOG_INFO,
               "partition %d assigned with a new state at %s: rebuilding it from "
               "the start of the partition",
               (int)partition, path);
    else
        gm_log(GM_LOG_INFO, "partition %d assigned: resuming %s at offset %llu", (int)partition,
               path, (unsigned long long)p->next);
    kproc_metrics(k);
out:
    gm_kproj_stop(proj);
    gm_state_close(st);
    if (rc) {
        k->failed = rc;
        k->err = *err;
    }
    return rc;
}

/*
 * The records next..log_start-1 of partition were deleted before its state
 * read them. Without --allow-log-gap: an error that says so and what to do.
 * With it: a loud warning, the count, and the state moved to log_start in
 * a commit of its own (after the open batch), so the loss is accepted once
 * and a restart resumes after it.
 */
static int
on_log_gap(void *ctx, const char *topic, int32_t partition, uint64_t next, uint64_t log_start,
           struct gm_err *err)
{
    struct kproc *k = ctx;
    struct kpart *p = kpart_find(k, partition);
    int rc;
    if (!k->allow_gap) {
        rc = gm_err_set(err, GM_EKAFKA,
                        "kafka topic %s partition %d: the state %s/partition-%d reads offset "
                        "%llu next, but the partition now starts at offset %llu: records "
                        "%llu..%llu were deleted (retention) before the state read them. The "
                        "topic must keep every record (retention.ms=-1, retention.bytes=-1; "
                        "docs/operations.md). Restore them, or accept losing them with "
                        "--allow-log-gap",
                        topic, (int)partition, k->dir, (int)partition, (unsigned long long)next,
                        (unsigned long long)log_start, (unsigned long long)next,
                        (unsigned long long)log_start - 1);
        goto out;
    }
    gm_log(GM_LOG_WARN,
           "kafka topic %s partition %d: going on from offset %llu WITHOUT records %llu..%llu "
           "(%llu offsets), deleted before the state read them (--allow-log-gap): the state "
           "misses their events for good",
           topic, (int)partition, (unsigned long long)log_start, (unsigned long long)next,
           (unsigned long long)log_start - 1, (unsigned long long)(log_start - next));
    atomic_fetch_add(&k->m->log_gap_skipped, log_start - next);
    if (!p)
        return 0;
    if ((rc = kpart_commit(k, p, err)) || (rc = gm_state_begin(p->st, err)))
        goto out;
    if ((rc = gm_state_commit(p->st, log_start, err)))
        goto out;
    p->next = p->batch_next = log_start;
    kproc_metrics(k);
out:
    if (rc) {
        k->failed = rc;
        k->err = *err;
    }
    return rc;
}

/* A record came after offsets never delivered: logged (a line a minute per
 * partition at most, with what happened since) and counted. */
static void
kpart_offset_jump(struct kproc *k, struct kpart *p, const struct gm_kafka_msg *msg)
{
    atomic_fetch_add(&k->m->offset_gaps, 1);
    p->gaps_quiet++;
    p->offsets_quiet += msg->skipped;
    double t = now_s();
    if (p->gap_logged && t - p->gap_logged < 60.0)
        return;
    gm_log(GM_LOG_WARN,
           "partition %d: offsets %llu..%llu were never delivered (%llu jumps, %llu offsets "
           "since the last such line): transaction markers do this; compacted or lost records "
           "too, and then events are missing (the event log must not be compacted)",
           (int)p->id, (unsigned long long)(msg->offset - msg->skipped),
           (unsigned long long)msg->offset - 1, (unsigned long long)p->gaps_quiet,
           (unsigned long long)p->offsets_quiet);
    p->gap_logged = t;
    p->gaps_quiet = p->offsets_quiet = 0;
}

static void
on_revoked(void *ctx, int32_t partition)
{
    struct kproc *k = ctx;
    struct kpart *p = kpart_find(k, partition);
    if (!p)
        return;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = k->failed ? 0 : kpart_commit(k, p, &err);
    if (rc) {
        gm_log(GM_LOG_ERROR, "partition %d: commit at revocation: %s", (int)partition, err.msg);
        if (!k->failed) {
            k->failed = rc;
            k->err = err;
        }
    }
    const struct gm_state_stats *ss = gm_state_stats(p->st);
    k->closed_applied += ss->applied;
    k->closed_dups += ss->duplicates;
    k->closed_dead += ss->dead_letters;
    k->closed_ahead += ss->too_far_ahead;
    k->closed_pruned += ss->periods_pruned;
    gm_log(GM_LOG_INFO, "partition %d revoked at offset %llu", (int)partition,
           (unsigned long long)p->next);
    /* its projectors finish their step and stop before the state closes */
    gm_kproj_stop(p->proj);
    gm_state_close(p->st);
    *p = k->parts[--k->n_parts];
    kproc_metrics(k);
}

/*
 * Idle: the change-feed records the projectors (and the output) took since
 * the last commit go in transactions of their own (commits trim while
 * busy). No batch is open here.
 */
static void
kpart_trim_idle(struct kproc *k)
{
    for (size_t i = 0; i < k->n_parts; i++) {
        struct kpart *p = &k->parts[i];
        int64_t below = gm_pump_release(p->st, k->sink, gm_kproj_hold(p->proj));
        if (below <= p->trimmed)
            continue;
        uint64_t n = 0;
        struct gm_err err;
        gm_err_clear(&err);
        if (gm_state_trim_changes(p->st, below, &n, &err) == 0)
            p->trimmed = below;
        else
            gm_log(GM_LOG_WARN, "partition %d: trimming the change feed: %s", (int)p->id, err.msg);
    }
}

static int
run_kafka(const struct gm_config *cfg, const char *rest)
{
    static struct gm_metrics m = {.parts_mu = PTHREAD_MUTEX_INITIALIZER};
    static char ctx[96];
    struct kproc k = {.dir = gm_config_str(cfg, "state"),
                      .m = &m,
                      .allow_gap = gm_config_bool(cfg, "allow-log-gap")};
    k.opts = (struct gm_state_opts){.dedupe_window_s = gm_config_int(cfg, "window-days") * 86400,
                                    .no_sync = !gm_config_bool(cfg, "sync"),
                                    .hold_bytes = (size_t)gm_config_int(cfg, "hold-mib") << 20,
                                    .heap_pages = !gm_config_bool(cfg, "lmdb-writemap"),
                                    .future_skew_s = gm_config_int(cfg, "future-skew-seconds")};
    k.proj_conf = (struct gm_kproj_conf){.conninfo = gm_config_str(cfg, "postgres"),
                                         .redis_url = gm_config_str(cfg, "redis"),
                                         .redis_opts = redis_opts(cfg, false),
                                         .webhooks = gm_config_str(cfg, "webhooks"),
                                         .pg_linger_ms = gm_config_int(cfg, "postgres-linger-ms")};
    const char *rules = gm_config_str(cfg, "rules"), *out_uri = gm_config_str(cfg, "out");
    const char *metrics_addr = gm_config_str(cfg, "metrics");
    size_t batch_max = (size_t)gm_config_int(cfg, "batch-max");
    size_t batch_bytes = gm_pump_mib_bytes(gm_config_int(cfg, "batch-mib"));
    struct gm_metrics_server *srv = NULL;
    struct gm_opsalert *alerts = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    gm_err_clear(&k.err);
    int code = 1, rc = 0;

    if (rules && (rc = gm_rules_read_text(rules, &k.rules, &k.rules_len))) {
        gm_err_set(&err, rc, "--rules %s: %s", rules, strerror(-rc));
        goto fail;
    }
    if (!rules)
        gm_log(GM_LOG_WARN, "no --rules: a partition whose state has none turns events into "
                            "NO_RULES dead letters until rules are published");
    if (out_uri && (rc = gm_outsink_open(out_uri, &k.sink, &err)))
        goto fail;
    gm_outsink_set_shared(k.sink); /* every partition's state writes to it */
    if ((rc = gm_opsrun_open(gm_config_str(cfg, "alerts"), gm_config_str(cfg, "webhooks"),
                             (size_t)gm_config_int(cfg, "alerts-queue"), &alerts, &err)))
        goto fail;
    m.alerts = alerts;
    gm_opsrun_hook(&k.proj_conf.redis_opts, alerts);
    atomic_store(&m.projector_max_lag, gm_config_int(cfg, "projector-max-lag"));
    if (metrics_addr && (rc = gm_metrics_serve(&m, metrics_addr, &srv, &err)))
        goto fail;
    if (k.proj_conf.conninfo)
        gm_log(GM_LOG_INFO, "projecting each assigned partition's read model to Postgres");
    if (k.proj_conf.redis_url)
        gm_log(GM_LOG_INFO, "projecting each assigned partition's leaderboards to Redis");
    if (k.proj_conf.webhooks)
        gm_log(GM_LOG_INFO,
               "delivering each assigned partition's outbound events to the "
               "webhooks of %s",
               k.proj_conf.webhooks);
    struct gm_kafka_handlers h = {
        .ctx = &k, .assigned = on_assigned, .log_gap = on_log_gap, .revoked = on_revoked};
    if (k.allow_gap)
        gm_log(GM_LOG_WARN, "--allow-log-gap: records deleted before a partition's state read "
                            "them will be skipped; unset it once the gap is accepted");
    if ((rc = gm_kafka_consumer_new(rest, gm_config_str(cfg, "group"),
                                    (int)gm_config_int(cfg, "kafka-session-timeout-ms"), &h, &k.c,
                                    &err)))
        goto fail;
    gm_log(GM_LOG_INFO, "joining group %s on kafka://%s; partition states under %s",
           gm_config_str(cfg, "group"), rest, k.dir);
    double last_idle = 0;
    struct gm_diskguard guard;
    gm_diskguard_init(&guard, k.dir, (uint64_t)gm_config_int(cfg, "min-free-disk-mb"));

    while (!stop) {
        struct gm_kafka_msg msg;
        rc = gm_kafka_poll(k.c, 100, &msg, &err);
        if (rc < 0)
            goto fail;
        if (rc == 0) {
            /* the log has nothing ready: commit what was gathered */
            for (size_t i = 0; i < k.n_parts; i++) {
                if ((rc = kpart_commit(&k, &k.parts[i], &err)))
                    goto fail;
                k.parts[i].rebuilding = false;
            }
            atomic_store(&m.lag_seconds, 0);
            atomic_store(&m.log_end, atomic_load(&m.offset));
            double t = now_s();
            if (t - last_idle >= 1.0) {
                kpart_trim_idle(&k);
                last_idle = t;
            }
            kproc_metrics(&k);
            /* ready: holding partitions, with nothing left behind their
             * high watermarks (as far as librdkafka has seen them) */
            if (!atomic_load(&m.ready) && k.n_parts > 0 && atomic_load(&m.lag_records) == 0) {
                atomic_store(&m.ready, true);
                gm_log(GM_LOG_INFO, "caught up with the log");
            }
            continue;
        }
        struct kpart *p = kpart_find(&k, msg.partition);
        if (!p || msg.offset < p->batch_next)
            continue; /* not ours (any more), or folded already */
        if (!p->in_batch && disk_low(&guard, &m)) {
            /* what is open is committed, then the message waits in hand
             * (no poll: a pause past max.poll.interval.ms hands the
             * partitions to another consumer) */
            for (size_t i = 0; i < k.n_parts; i++)
                if ((rc = kpart_commit(&k, &k.parts[i], &err)))
                    goto fail;
            disk_pause(&guard, &m, NULL, 0);
            if (stop)
                break;
        }
        snprintf(ctx, sizeof ctx, "\"partition\":%d,\"offset\":%llu", (int)p->id,
                 (unsigned long long)msg.offset);
        gm_log_set_context(ctx);
        if (msg.skipped)
            kpart_offset_jump(&k, p, &msg);
        if (!p->in_batch) {
            if ((rc = gm_state_begin(p->st, &err)))
                goto fail;
            p->in_batch = true;
            p->n = 0;
            p->t0 = now_s();
        }
        if ((rc = gm_state_apply(p->st, msg.data, msg.len, false, msg.offset, msg.append_ms, &err)))
            goto fail;
        p->batch_next = msg.offset + 1;
        p->n++;
        /* every assigned partition has a batch open at once: they share the bound */
        if (p->n >= batch_max || gm_state_batch_bytes(p->st) >= batch_bytes / k.n_parts ||
            now_s() - p->t0 >= 1.0) {
            if ((rc = kpart_commit(&k, p, &err)))
                goto fail;
        }
        gm_log_set_context(NULL);
    }
    gm_log_set_context(NULL);
    for (size_t i = 0; i < k.n_parts; i++) {
        if ((rc = kpart_commit(&k, &k.parts[i], &err)))
            goto fail;
    }
    gm_log(GM_LOG_INFO, "stopping after a signal; leaving the group");
    code = 0;
    goto out;
fail:
    gm_log_set_context(NULL);
    gm_log(GM_LOG_ERROR, "%s", err.msg[0] ? err.msg : gm_strerror(rc));
    /* nothing half-done may be committed at the revocation below */
    k.failed = rc ? rc : GM_EKAFKA;
    for (size_t i = 0; i < k.n_parts; i++) {
        gm_state_abort(k.parts[i].st);
        k.parts[i].in_batch = false;
    }
out:
    gm_kafka_consumer_close(k.c); /* revokes: the projectors stop and the stores close there */
    for (size_t i = 0; i < k.n_parts; i++) {
        gm_kproj_stop(k.parts[i].proj);
        gm_state_close(k.parts[i].st);
    }
    free(k.mparts);
    if (code == 0 && k.failed) {
        gm_log(GM_LOG_ERROR, "%s", k.err.msg);
        code = 1;
    }
    free(k.parts);
    free(k.rules);
    gm_metrics_stop(srv);
    gm_metrics_set_parts(&m, NULL, 0);
    gm_opsalert_close(alerts); /* after the partitions' projectors */
    gm_outsink_close(k.sink);
    return code;
}

int
main(int argc, char **argv)
{
    struct gm_config cfg;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_config_parse(&cfg, settings, N_SETTINGS, argc, argv, &err);
    if (rc == 0 && cfg.help) {
        gm_config_usage(settings, N_SETTINGS, "gamify-processor --log URI --state DIR [...]",
                        stdout);
        gm_config_deinit(&cfg);
        return 0;
    }
    if (rc == 0)
        rc = check(&cfg, &err);
    if (rc) {
        fprintf(stderr, "gamify-processor: %s\n", err.msg);
        gm_config_deinit(&cfg);
        return 2;
    }
    if (cfg.check_only) {
        gm_config_print(&cfg, stdout);
        printf("# configuration ok\n");
        gm_config_deinit(&cfg);
        return 0;
    }
    enum gm_log_level level;
    gm_log_parse_level(gm_config_str(&cfg, "log-level"), &level);
    gm_log_set_level(level);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    enum gm_logsrc_scheme scheme;
    const char *rest;
    gm_logsrc_uri_parse(gm_config_str(&cfg, "log"), &scheme, &rest, NULL);
    int code = scheme == GM_LOGSRC_KAFKA ? run_kafka(&cfg, rest) : run(&cfg);
    gm_config_deinit(&cfg);
    return code;
}
