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
 */
#include "config.h"
#include "log.h"
#include "logsrc.h"
#include "metrics.h"
#include "pump.h"
#include "rules.h"
#include "store.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const struct gm_setting settings[] = {
    {"log", GM_SET_STRING, NULL, 0, 0, true, "the event log: file:DIR (kafka:// comes later)"},
    {"state", GM_SET_STRING, NULL, 0, 0, true, "the state folder (LMDB)"},
    {"rules", GM_SET_STRING, NULL, 0, 0, false, "rules file used when the log has published none"},
    {"postgres", GM_SET_STRING, NULL, 0, 0, false,
     "Postgres projector conninfo (not built yet: refused)"},
    {"redis", GM_SET_STRING, NULL, 0, 0, false, "Redis projector URL (not built yet: refused)"},
    {"out", GM_SET_STRING, NULL, 0, 0, false, "write outbound events to jsonl:PATH or file:DIR"},
    {"metrics", GM_SET_STRING, NULL, 0, 0, false,
     "serve /metrics, /healthz and /readyz on HOST:PORT"},
    {"batch-max", GM_SET_INT, "20000", 1, 1000000, false, "most records per committed batch"},
    {"idle-wait-ms", GM_SET_INT, "1000", 1, 60000, false,
     "longest wait for the log to grow before looking again (appends wake it sooner)"},
    {"window-days", GM_SET_INT, "30", 1, 3650, false, "dedupe window in days of event time"},
    {"sync", GM_SET_BOOL, "true", 0, 0, false, "fsync at each commit"},
    {"log-level", GM_SET_STRING, "info", 0, 0, false, "debug, info, warn or error"},
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

/* Everything --check-config can know without starting. */
static int
check(const struct gm_config *cfg, struct gm_err *err)
{
    enum gm_log_scheme scheme;
    const char *rest;
    enum gm_log_level level;
    int rc = gm_log_uri_parse(gm_config_str(cfg, "log"), &scheme, &rest, err);
    if (rc)
        return rc;
    if (scheme != GM_LOG_FILE)
        return gm_err_set(err, GM_EUNSUPPORTED, "--log: only file:DIR logs are followed so far");
    if (gm_log_parse_level(gm_config_str(cfg, "log-level"), &level))
        return gm_err_set(err, GM_EINVAL, "--log-level: \"%s\" is not debug, info, warn or error",
                          gm_config_str(cfg, "log-level"));
    if (gm_config_str(cfg, "postgres") || gm_config_str(cfg, "redis"))
        return gm_err_set(err, GM_EUNSUPPORTED,
                          "--postgres / --redis: the projectors are not built yet");
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

static int
run(const struct gm_config *cfg)
{
    const char *log_uri = gm_config_str(cfg, "log"), *dir = gm_config_str(cfg, "state");
    const char *rules = gm_config_str(cfg, "rules"), *out_uri = gm_config_str(cfg, "out");
    const char *metrics_addr = gm_config_str(cfg, "metrics");
    size_t batch_max = (size_t)gm_config_int(cfg, "batch-max");
    int idle_ms = (int)gm_config_int(cfg, "idle-wait-ms");
    struct gm_store_opts opts = {.dedupe_window_s = gm_config_int(cfg, "window-days") * 86400,
                                 .no_sync = !gm_config_bool(cfg, "sync")};
    static struct gm_metrics m;
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_store *st = NULL;
    struct gm_logsrc *src = NULL;
    struct gm_outsink *sink = NULL;
    struct gm_metrics_server *srv = NULL;
    static char ctx[96];
    int code = 1, rc;

    if ((rc = gm_store_open(dir, &opts, &st, &err)))
        goto fail;
    if (rules) {
        char *yaml;
        size_t len;
        if ((rc = gm_rules_read_text(rules, &yaml, &len))) {
            gm_err_set(&err, rc, "--rules %s: %s", rules, strerror(-rc));
            goto fail;
        }
        rc = gm_store_seed_rules(st, yaml, len, &err);
        free(yaml);
        if (rc)
            goto fail;
    }
    if (!gm_store_has_rules(st))
        gm_log(GM_LOG_WARN, "no rules yet: events become NO_RULES dead letters until rules are "
                            "published to the log or given with --rules");
    /* The log may not exist yet: the first producer will create it. */
    enum gm_log_scheme scheme;
    const char *log_dir;
    if (gm_log_uri_parse(log_uri, &scheme, &log_dir, NULL) == 0 && scheme == GM_LOG_FILE &&
        mkdir(log_dir, 0755) && errno != EEXIST) {
        rc = gm_err_set(&err, -errno, "cannot create the log folder %s: %s", log_dir,
                        strerror(errno));
        goto fail;
    }
    uint64_t offset = gm_store_offset(st);
    if ((rc = gm_logsrc_open(log_uri, offset, &src, &err)))
        goto fail;
    if (out_uri && (rc = gm_outsink_open(out_uri, &sink, &err)))
        goto fail;
    if (metrics_addr && (rc = gm_metrics_serve(&m, metrics_addr, &srv, &err)))
        goto fail;
    atomic_store(&m.offset, offset);
    atomic_store(&m.lmdb_bytes, file_size(dir));
    gm_log(GM_LOG_INFO, "following %s from offset %llu into %s", log_uri,
           (unsigned long long)offset, dir);

    double last_size = 0;
    while (!stop) {
        double t0 = now_s();
        size_t n = 0;
        snprintf(ctx, sizeof ctx, "\"partition\":0,\"offset\":%llu", (unsigned long long)offset);
        gm_log_set_context(ctx);
        if ((rc = gm_pump_batch(st, src, log_uri, batch_max, &stop, &n, &offset, &err)))
            goto fail;
        double t1 = now_s();
        if (n > 0) {
            const struct gm_store_stats *ss = gm_store_stats(st);
            const int64_t *times;
            size_t n_times = gm_store_last_batch_times(st, &times);
            int64_t commit_ms = (int64_t)(t1 * 1000.0);
            for (size_t i = 0; i < n_times; i++) {
                if (times[i])
                    gm_metrics_event_lag(&m, commit_ms - times[i]);
            }
            gm_metrics_batch(&m, n, (uint64_t)((t1 - t0) * 1e6));
            atomic_store(&m.applied, ss->applied);
            atomic_store(&m.duplicates, ss->duplicates);
            atomic_store(&m.dead_letters, ss->dead_letters);
            atomic_store(&m.offset, offset);
            int64_t newest = gm_store_newest_time(st);
            atomic_store(&m.last_event_time, newest);
            atomic_store(&m.lag_seconds, newest ? (int64_t)t1 - newest : 0);
            if (sink && (rc = gm_outsink_publish(sink, st, &err)))
                goto fail;
            if (n == batch_max)
                continue; /* more is probably waiting */
        }
        atomic_store(&m.lag_seconds, 0);
        atomic_store(&m.log_end, offset);
        if (!atomic_load(&m.ready)) {
            atomic_store(&m.ready, true);
            gm_log(GM_LOG_INFO, "caught up with the log at offset %llu",
                   (unsigned long long)offset);
        }
        if (t1 - last_size >= 1.0) {
            atomic_store(&m.lmdb_bytes, file_size(dir));
            last_size = t1;
        }
        if (!stop && gm_logsrc_wait(src, idle_ms) < 0 && errno != EINTR) {
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
    gm_metrics_stop(srv);
    gm_outsink_close(sink);
    gm_logsrc_close(src);
    gm_store_close(st);
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

    int code = run(&cfg);
    gm_config_deinit(&cfg);
    return code;
}
