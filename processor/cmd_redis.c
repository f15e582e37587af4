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
#include "store.h"

#include <getopt.h>
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
    struct gm_store **st;
    int *partition;
    size_t n;
};

static void
states_close(struct states *s)
{
    for (size_t i = 0; i < s->n; i++)
        gm_store_close(s->st[i]);
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
        struct gm_store_opts o = {.read_only = true};
        struct gm_err err;
        gm_err_clear(&err);
        if (gm_store_open(n_ids ? dirs[i] : dir, &o, &s->st[i], &err)) {
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

int
gm_cmd_rebuild(int argc, char **argv)
{
    static const char usage[] =
        "gamify rebuild --state DIR --redis URL [--redis-prefix P]\n"
        "\n"
        "Rewrites every Redis leaderboard from the state: builds each (board, period)\n"
        "under a temporary key, then swaps them all in at once (one MULTI/EXEC), deletes\n"
        "the boards the state no longer holds and sets the projector's cursors to the\n"
        "end of the state's change feed. Readers never see a half-built board.\n"
        "\n"
        "  --state DIR        the state (GAMIFY_STATE); a folder of partition-N states\n"
        "                     is rebuilt as one\n"
        "  --redis URL        redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (GAMIFY_REDIS)\n"
        "  --redis-prefix P   prefix of every key and the channel (GAMIFY_REDIS_PREFIX;\n"
        "                     default gamify:)\n";
    const char *state = gm__env_or("GAMIFY_STATE", NULL), *url = gm__env_or("GAMIFY_REDIS", NULL);
    const char *prefix = gm__env_or("GAMIFY_REDIS_PREFIX", NULL);
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"redis", required_argument, NULL, 'r'},
        {"redis-prefix", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 's') {
            state = optarg;
        } else if (c == 'r') {
            url = optarg;
        } else if (c == 'p') {
            prefix = optarg;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc || !url) {
        fprintf(stderr, "gamify rebuild: %s\n%s",
                optind < argc ? "unexpected argument" : "--redis URL is required", usage);
        return 2;
    }
    struct states s;
    int rc = states_open(state, &s);
    if (rc)
        return rc;
    struct gm_redisproj_opts opts = {.prefix = prefix};
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
gm_cmd_project_redis(int argc, char **argv)
{
    static const char usage[] =
        "gamify project --state DIR --redis URL [--follow] [--batch N] [--poll-ms MS]\n"
        "               [--redis-prefix P]\n"
        "\n"
        "Runs the Redis projector from its cursor (kept in Redis): writes the state's\n"
        "changes to the leaderboards, then stops, or with --follow keeps following the\n"
        "state until SIGINT/SIGTERM. While Redis is down it retries with backoff.\n"
        "\n"
        "  --state DIR        the state (GAMIFY_STATE); every partition-N state in it\n"
        "  --redis URL        redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (GAMIFY_REDIS)\n"
        "  --follow           keep projecting new changes (GAMIFY_FOLLOW=1)\n"
        "  --batch N          changes per Redis transaction (GAMIFY_BATCH; default 1000)\n"
        "  --poll-ms MS       with --follow, how often to look for changes (GAMIFY_POLL_MS;\n"
        "                     default 10)\n"
        "  --retry-seconds S  without --follow, give up when Redis stays down this long\n"
        "                     (GAMIFY_RETRY_SECONDS; default 30)\n"
        "  --redis-prefix P   prefix of every key and the channel (GAMIFY_REDIS_PREFIX;\n"
        "                     default gamify:)\n"
        "  --memory-permille N  memory guard: when Redis uses more than N/1000 of its\n"
        "                     maxmemory, delete the oldest finished periods and alert\n"
        "                     (GAMIFY_MEMORY_PERMILLE; default 0: off)\n"
        "  --redis-reconcile-seconds S  with --follow, every S seconds compare the boards\n"
        "                     with the state and repair drift (GAMIFY_REDIS_RECONCILE_SECONDS;\n"
        "                     default 300; 0: never)\n"
        "  --redis-reconcile-sample N  learners whose scores a run checks, the next run\n"
        "                     going on after them (GAMIFY_REDIS_RECONCILE_SAMPLE; default 1000)\n"
        "  --redis-reconcile-rebuild-drift N  a run finding more wrong members than N\n"
        "                     rebuilds every board instead\n"
        "                     (GAMIFY_REDIS_RECONCILE_REBUILD_DRIFT; default 10000)\n";
    const char *state = gm__env_or("GAMIFY_STATE", NULL), *url = gm__env_or("GAMIFY_REDIS", NULL);
    const char *prefix = gm__env_or("GAMIFY_REDIS_PREFIX", NULL);
    long permille = strtol(gm__env_or("GAMIFY_MEMORY_PERMILLE", "0"), NULL, 10);
    bool follow = strcmp(gm__env_or("GAMIFY_FOLLOW", "0"), "1") == 0;
    long batch = strtol(gm__env_or("GAMIFY_BATCH", "1000"), NULL, 10);
    long poll_ms = strtol(gm__env_or("GAMIFY_POLL_MS", "10"), NULL, 10);
    long retry_s = strtol(gm__env_or("GAMIFY_RETRY_SECONDS", "30"), NULL, 10);
    long recon_s = strtol(gm__env_or("GAMIFY_REDIS_RECONCILE_SECONDS", "300"), NULL, 10);
    long long recon_sample = strtoll(gm__env_or("GAMIFY_REDIS_RECONCILE_SAMPLE", "1000"), NULL, 10);
    long long recon_drift =
        strtoll(gm__env_or("GAMIFY_REDIS_RECONCILE_REBUILD_DRIFT", "10000"), NULL, 10);
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"redis", required_argument, NULL, 'r'},
        {"redis-prefix", required_argument, NULL, 'p'},
        {"follow", no_argument, NULL, 'f'},
        {"batch", required_argument, NULL, 'b'},
        {"poll-ms", required_argument, NULL, 'm'},
        {"retry-seconds", required_argument, NULL, 't'},
        {"memory-permille", required_argument, NULL, 'g'},
        {"redis-reconcile-seconds", required_argument, NULL, 'R'},
        {"redis-reconcile-sample", required_argument, NULL, 'S'},
        {"redis-reconcile-rebuild-drift", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            state = optarg;
            break;
        case 'r':
            url = optarg;
            break;
        case 'p':
            prefix = optarg;
            break;
        case 'f':
            follow = true;
            break;
        case 'b':
            batch = strtol(optarg, NULL, 10);
            break;
        case 'm':
            poll_ms = strtol(optarg, NULL, 10);
            break;
        case 't':
            retry_s = strtol(optarg, NULL, 10);
            break;
        case 'g':
            permille = strtol(optarg, NULL, 10);
            break;
        case 'R':
            recon_s = strtol(optarg, NULL, 10);
            break;
        case 'S':
            recon_sample = strtoll(optarg, NULL, 10);
            break;
        case 'D':
            recon_drift = strtoll(optarg, NULL, 10);
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc || !url || batch < 1 || batch > 1000000 || poll_ms < 1 || poll_ms > 60000 ||
        retry_s < 0 || recon_s < 0 || recon_s > 604800 || recon_sample < 1 ||
        recon_sample > 100000000 || recon_drift < 1) {
        fprintf(stderr, "gamify project: %s\n%s", !url ? "--redis URL is required" : "bad argument",
                usage);
        return 2;
    }
    struct states s;
    int rc = states_open(state, &s);
    if (rc)
        return rc;
    struct gm_redisproj **p = calloc(s.n, sizeof *p);
    /* One state: its step runs the reconcile. Partitions: this loop runs it
     * over all of them at once (they share the boards). */
    struct gm_redisproj_opts opts = {
        .prefix = prefix,
        .memory_permille = (int)permille,
        .reconcile_interval_ms = follow && s.n == 1 ? (int64_t)recon_s * 1000 : 0,
        .reconcile_sample = (size_t)recon_sample,
        .reconcile_rebuild_drift = (uint64_t)recon_drift,
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
                fprintf(stderr, "gamify project: Redis down for over %ld s: giving up\n", retry_s);
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
gm_cmd_reconcile(int argc, char **argv)
{
    static const char usage[] =
        "gamify reconcile --state DIR --redis URL [--redis-prefix P] [--sample N]\n"
        "                 [--rebuild-drift N]\n"
        "\n"
        "One reconcile run now (gamify-processor --redis runs one every\n"
        "--redis-reconcile-seconds): compares every leaderboard's size, the keys and\n"
        "a sample of the learners' scores in Redis with the state, repairs what\n"
        "differs, or rebuilds every board when more than N members are wrong. Changes\n"
        "the projector has not written yet are left out. Prints\n"
        "{\"drift\":N,\"rebuilt\":B,\"sampled\":N,\"keysRecreated\":N,\"keysRemoved\":N,\n"
        "\"skipped\":B,\"seconds\":S}; exits 0 without drift, 1 when it repaired\n"
        "drift, 2 on errors.\n"
        "\n"
        "  --state DIR        the state (GAMIFY_STATE); every partition-N state in it\n"
        "  --redis URL        redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (GAMIFY_REDIS)\n"
        "  --redis-prefix P   prefix of every key and the channel (GAMIFY_REDIS_PREFIX;\n"
        "                     default gamify:)\n"
        "  --sample N         learners whose scores are checked, from the first\n"
        "                     (GAMIFY_REDIS_RECONCILE_SAMPLE; default 1000)\n"
        "  --rebuild-drift N  rebuild instead when more members are wrong\n"
        "                     (GAMIFY_REDIS_RECONCILE_REBUILD_DRIFT; default 10000)\n";
    const char *state = gm__env_or("GAMIFY_STATE", NULL), *url = gm__env_or("GAMIFY_REDIS", NULL);
    const char *prefix = gm__env_or("GAMIFY_REDIS_PREFIX", NULL);
    long long sample = strtoll(gm__env_or("GAMIFY_REDIS_RECONCILE_SAMPLE", "1000"), NULL, 10);
    long long rebuild =
        strtoll(gm__env_or("GAMIFY_REDIS_RECONCILE_REBUILD_DRIFT", "10000"), NULL, 10);
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"redis", required_argument, NULL, 'r'},
        {"redis-prefix", required_argument, NULL, 'p'},
        {"sample", required_argument, NULL, 'n'},
        {"rebuild-drift", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            state = optarg;
            break;
        case 'r':
            url = optarg;
            break;
        case 'p':
            prefix = optarg;
            break;
        case 'n':
            sample = strtoll(optarg, NULL, 10);
            break;
        case 'd':
            rebuild = strtoll(optarg, NULL, 10);
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc || !url || sample < 1 || sample > 100000000 || rebuild < 1) {
        fprintf(stderr, "gamify reconcile: %s\n%s",
                !url ? "--redis URL is required" : "bad argument", usage);
        return 2;
    }
    struct states s;
    int rc = states_open(state, &s);
    if (rc)
        return rc;
    struct gm_redisproj_opts opts = {.prefix = prefix,
                                     .reconcile_sample = (size_t)sample,
                                     .reconcile_rebuild_drift = (uint64_t)rebuild};
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
