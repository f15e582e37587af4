/*
 * cmd_redis.c: the Redis leaderboards from the command line:
 * `gamify rebuild` rewrites them from a state (atomic swap) and
 * `gamify project --redis` runs the projector from its cursor, once or
 * following the state. A state folder of a Kafka-fed processor holds one
 * state per partition (partition-N); both commands take every partition.
 */
#include "cmd_util.h"
#include "commands.h"
#include "log.h"
#include "redisproj.h"
#include "state.h"

#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The states of dir, read-only: its partition-N folders, or dir itself. */
struct states {
    struct gm_state **st;
    int *partition;
    size_t n;
};

static void
states_close(struct states *s)
{
    for (size_t i = 0; i < s->n; i++)
        gm_state_close(s->st[i]);
    free(s->st);
    free(s->partition);
}

static int
states_open(const char *dir, struct states *s)
{
    struct stat sb;
    memset(s, 0, sizeof *s);
    if (!dir) {
        fprintf(stderr, "gamify: --state DIR is required\n");
        return 2;
    }
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "gamify: no state at %s\n", dir);
        return 2;
    }
    char **dirs;
    int *ids;
    size_t n_ids;
    gm__partition_dirs(dir, &dirs, &ids, &n_ids);
    size_t want = n_ids ? n_ids : 1;
    s->st = calloc(want, sizeof *s->st);
    s->partition = calloc(want, sizeof *s->partition);
    if (!s->st || !s->partition)
        abort();
    for (size_t i = 0; i < want; i++) {
        struct gm_state_opts o = {.read_only = true};
        struct gm_err err;
        gm_err_clear(&err);
        if (gm_state_open(n_ids ? dirs[i] : dir, &o, &s->st[i], &err)) {
            fprintf(stderr, "gamify: %s\n", err.msg);
            gm__free_dirs(dirs, n_ids);
            free(ids);
            states_close(s);
            return 2;
        }
        s->partition[i] = n_ids ? ids[i] : 0;
        s->n++;
    }
    gm__free_dirs(dirs, n_ids);
    free(ids);
    return 0;
}

static const struct gm_setting rebuild_settings[] = {
    {"state", GM_SET_STRING, NULL, 0, 0, true,
     "the state; a folder of partition-N states is rebuilt as one"},
    {"redis", GM_SET_STRING, NULL, 0, 0, true, "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]"},
    {"redis-prefix", GM_SET_STRING, "gamify:", 0, 0, false, "prefix of every key and the channel"},
};

static const struct gm__command rebuild_cmd = {
    "rebuild",
    "--state DIR --redis URL [--redis-prefix P]",
    "Rewrites every Redis leaderboard from the state: builds each (board, period)\n"
    "under a temporary key, then swaps them all in at once (one MULTI/EXEC), deletes\n"
    "the boards the state no longer holds and sets the projector's cursors to the\n"
    "end of the state's change feed. Readers never see a half-built board.\n",
    rebuild_settings,
    sizeof rebuild_settings / sizeof *rebuild_settings,
    0};

/* gamify rebuild with its settings parsed: an exit status. */
static int
rebuild_run(const struct gm_config *opt)
{
    const char *url = gm_config_str(opt, "redis");
    struct states s;
    int rc = states_open(gm_config_str(opt, "state"), &s);
    if (rc)
        return rc;
    struct gm_redisproj_opts opts = {.prefix = gm_config_str(opt, "redis-prefix")};
    struct gm_redisproj_rebuild_stats stats;
    struct gm_err err;
    gm_err_clear(&err);
    double t0 = gm__now_s();
    if (gm_redisproj_rebuild(url, &opts, s.st, s.partition, s.n, &stats, &err)) {
        fprintf(stderr, "gamify rebuild: %s\n", err.msg);
        rc = 2;
    } else {
        printf("{\"learners\":%llu,\"scores\":%llu,\"keys\":%llu,\"removed\":%llu,"
               "\"seconds\":%.3f}\n",
               (unsigned long long)stats.learners, (unsigned long long)stats.scores,
               (unsigned long long)stats.keys, (unsigned long long)stats.removed, gm__now_s() - t0);
    }
    states_close(&s);
    return rc;
}

int
gm_cmd_rebuild(int argc, char **argv)
{
    return gm__command_run(&rebuild_cmd, argc, argv, rebuild_run);
}

static const struct gm_setting project_settings[] = {
    {"state", GM_SET_STRING, NULL, 0, 0, true, "the state; every partition-N state in it"},
    {"redis", GM_SET_STRING, NULL, 0, 0, true, "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]"},
    {"follow", GM_SET_BOOL, "false", 0, 0, false,
     "keep projecting new changes until SIGINT/SIGTERM"},
    {"batch", GM_SET_INT, "1000", 1, 1000000, false, "changes per Redis transaction"},
    {"poll-ms", GM_SET_INT, "10", 1, 60000, false,
     "with --follow, how often to look for changes (ms)"},
    {"retry-seconds", GM_SET_INT, "30", 0, 86400, false,
     "without --follow, give up when Redis stays down this long"},
    {"redis-prefix", GM_SET_STRING, "gamify:", 0, 0, false, "prefix of every key and the channel"},
    {"memory-permille", GM_SET_INT, "0", 0, 1000, false,
     "memory guard: above this share (per mille) of Redis's maxmemory, delete the oldest "
     "finished periods and alert (0: off)"},
    {"redis-reconcile-seconds", GM_SET_INT, "300", 0, 604800, false,
     "with --follow, every so many seconds compare the boards with the state and repair "
     "drift (0: never)"},
    {"redis-reconcile-sample", GM_SET_INT, "1000", 1, 100000000, false,
     "learners whose scores a reconcile run checks, the next run going on after them"},
    {"redis-reconcile-rebuild-drift", GM_SET_INT, "10000", 1, INT64_MAX, false,
     "a run finding more wrong members than this rebuilds every board instead"},
};

static const struct gm__command project_cmd = {
    "project",
    "--state DIR --redis URL [--follow] [--batch N] [--poll-ms MS] ...",
    "Runs the Redis projector from its cursor (kept in Redis): writes the state's\n"
    "changes to the leaderboards, then stops, or with --follow keeps following the\n"
    "state until SIGINT/SIGTERM. While Redis is down it retries with backoff.\n",
    project_settings,
    sizeof project_settings / sizeof *project_settings,
    0};

/* gamify project with its settings parsed: an exit status. */
static int
project_redis_run(const struct gm_config *opt)
{
    const char *url = gm_config_str(opt, "redis");
    bool follow = gm_config_bool(opt, "follow");
    int64_t batch = gm_config_int(opt, "batch"), poll_ms = gm_config_int(opt, "poll-ms");
    int64_t retry_s = gm_config_int(opt, "retry-seconds");
    int64_t recon_s = gm_config_int(opt, "redis-reconcile-seconds");
    struct states s;
    int rc = states_open(gm_config_str(opt, "state"), &s);
    if (rc)
        return rc;
    struct gm_redisproj **p = calloc(s.n, sizeof *p);
    /* One state: its step runs the reconcile. Partitions: this loop runs it
     * over all of them at once (they share the boards). */
    struct gm_redisproj_opts opts = {
        .prefix = gm_config_str(opt, "redis-prefix"),
        .memory_permille = (int)gm_config_int(opt, "memory-permille"),
        .reconcile_interval_ms = follow && s.n == 1 ? recon_s * 1000 : 0,
        .reconcile_sample = (size_t)gm_config_int(opt, "redis-reconcile-sample"),
        .reconcile_rebuild_drift = (uint64_t)gm_config_int(opt, "redis-reconcile-rebuild-drift"),
        .reconcile_whole = true,
    };
    double recon_next = gm__now_s() + (double)recon_s;
    struct gm_err err;
    if (!p)
        abort();
    for (size_t i = 0; i < s.n && rc == 0; i++) {
        gm_err_clear(&err);
        if (gm_redisproj_open(url, s.partition[i], &opts, &p[i], &err)) {
            fprintf(stderr, "gamify project: %s\n", err.msg);
            rc = 2;
        }
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    uint64_t total = 0;
    double t0 = gm__now_s(), down_since = 0;
    while (rc == 0 && !stop_requested) {
        size_t round = 0;
        int64_t wait = 0;
        bool failed = false;
        for (size_t i = 0; i < s.n && rc == 0; i++) {
            size_t n = 0;
            gm_err_clear(&err);
            int e = gm_redisproj_step(p[i], s.st[i], (size_t)batch, &n, &err);
            if (e == GM_EREDIS) {
                gm_log(GM_LOG_WARN, "redis projector partition %d: %s; retrying in %lld ms",
                       s.partition[i], err.msg, (long long)gm_redisproj_backoff_ms(p[i]));
                failed = true;
                if (gm_redisproj_backoff_ms(p[i]) > wait)
                    wait = gm_redisproj_backoff_ms(p[i]);
            } else if (e) {
                fprintf(stderr, "gamify project: %s\n", err.msg);
                rc = 2;
            }
            round += n;
        }
        total += round;
        if (rc)
            break;
        if (failed) {
            if (!down_since)
                down_since = gm__now_s();
            if (!follow && gm__now_s() - down_since > (double)retry_s) {
                fprintf(stderr, "gamify project: Redis down for over %lld s: giving up\n",
                        (long long)retry_s);
                rc = 2;
                break;
            }
            gm__sleep_ms(wait);
            continue;
        }
        down_since = 0;
        if (follow && s.n > 1 && recon_s > 0 && gm__now_s() >= recon_next) {
            gm_err_clear(&err);
            struct gm_redisproj_reconcile_stats before, after;
            gm_redisproj_reconcile_stats(p[0], &before);
            if (gm_redisproj_reconcile(p[0], s.st, s.partition, s.n, true, NULL, &err))
                gm_log(GM_LOG_WARN, "redis reconcile: %s", err.msg);
            gm_redisproj_reconcile_stats(p[0], &after);
            /* put off while behind: try again soon */
            recon_next = gm__now_s() + (after.skipped != before.skipped ? 1.0 : (double)recon_s);
        }
        if (round == 0) {
            if (!follow)
                break;
            gm__sleep_ms(poll_ms);
        }
    }
    double secs = gm__now_s() - t0;
    uint64_t alerts = 0, deleted = 0, runs = 0, drift = 0, rebuilds = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (p[i]) {
            struct gm_redisproj_reconcile_stats rs;
            alerts += gm_redisproj_stats(p[i])->guard_alerts;
            deleted += gm_redisproj_stats(p[i])->guard_periods_deleted;
            gm_redisproj_reconcile_stats(p[i], &rs);
            runs += rs.runs;
            drift += rs.drift;
            rebuilds += rs.rebuilds;
        }
        gm_redisproj_close(p[i]);
    }
    printf("{\"changes\":%llu,\"seconds\":%.3f,\"perSecond\":%.0f,\"memoryAlerts\":%llu,"
           "\"periodsDeleted\":%llu,\"reconcileRuns\":%llu,\"drift\":%llu,"
           "\"rebuilds\":%llu}\n",
           (unsigned long long)total, secs, secs > 0 ? (double)total / secs : 0.0,
           (unsigned long long)alerts, (unsigned long long)deleted, (unsigned long long)runs,
           (unsigned long long)drift, (unsigned long long)rebuilds);
    free(p);
    states_close(&s);
    return rc;
}

int
gm_cmd_project_redis(int argc, char **argv)
{
    return gm__command_run(&project_cmd, argc, argv, project_redis_run);
}

static const struct gm_setting reconcile_settings[] = {
    {"state", GM_SET_STRING, NULL, 0, 0, true, "the state; every partition-N state in it"},
    {"redis", GM_SET_STRING, NULL, 0, 0, true, "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]"},
    {"redis-prefix", GM_SET_STRING, "gamify:", 0, 0, false, "prefix of every key and the channel"},
    {"sample", GM_SET_INT, "1000", 1, 100000000, false,
     "learners whose scores are checked, from the first"},
    {"rebuild-drift", GM_SET_INT, "10000", 1, INT64_MAX, false,
     "rebuild every board instead when more members than this are wrong"},
};

static const struct gm__command reconcile_cmd = {
    "reconcile",
    "--state DIR --redis URL [--redis-prefix P] [--sample N] [--rebuild-drift N]",
    "One reconcile run now (gamify-processor --redis runs one every\n"
    "--redis-reconcile-seconds): compares every leaderboard's size, the keys and\n"
    "a sample of the learners' scores in Redis with the state, repairs what\n"
    "differs, or rebuilds every board when more than N members are wrong. Changes\n"
    "the projector has not written yet are left out. Prints\n"
    "{\"drift\":N,\"rebuilt\":B,\"sampled\":N,\"keysRecreated\":N,\"keysRemoved\":N,\n"
    "\"skipped\":B,\"seconds\":S}; exits 0 without drift, 1 when it repaired\n"
    "drift, 2 on errors.\n",
    reconcile_settings,
    sizeof reconcile_settings / sizeof *reconcile_settings,
    0};

/* gamify reconcile with its settings parsed: an exit status. */
static int
reconcile_run(const struct gm_config *opt)
{
    const char *url = gm_config_str(opt, "redis");
    struct states s;
    int rc = states_open(gm_config_str(opt, "state"), &s);
    if (rc)
        return rc;
    struct gm_redisproj_opts opts = {.prefix = gm_config_str(opt, "redis-prefix"),
                                     .reconcile_sample = (size_t)gm_config_int(opt, "sample"),
                                     .reconcile_rebuild_drift =
                                         (uint64_t)gm_config_int(opt, "rebuild-drift")};
    struct gm_redisproj *p = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    double t0 = gm__now_s();
    uint64_t drift = 0;
    if (gm_redisproj_open(url, 0, &opts, &p, &err) ||
        gm_redisproj_reconcile(p, s.st, s.partition, s.n, true, &drift, &err)) {
        fprintf(stderr, "gamify reconcile: %s\n", err.msg);
        rc = 2;
    } else {
        struct gm_redisproj_reconcile_stats rs;
        gm_redisproj_reconcile_stats(p, &rs);
        printf("{\"drift\":%llu,\"rebuilt\":%s,\"sampled\":%llu,\"keysRecreated\":%llu,"
               "\"keysRemoved\":%llu,\"skipped\":%s,\"seconds\":%.3f}\n",
               (unsigned long long)drift, rs.rebuilds ? "true" : "false",
               (unsigned long long)rs.sampled, (unsigned long long)rs.keys_recreated,
               (unsigned long long)rs.keys_removed, rs.skipped ? "true" : "false",
               gm__now_s() - t0);
        rc = drift > 0 ? 1 : 0;
    }
    gm_redisproj_close(p);
    states_close(&s);
    return rc;
}

int
gm_cmd_reconcile(int argc, char **argv)
{
    return gm__command_run(&reconcile_cmd, argc, argv, reconcile_run);
}
