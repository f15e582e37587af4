/*
 * cmd_project.c: the Postgres read model commands: `gamify migrate`
 * (schema migrations) and `gamify project` (the Postgres projector over a
 * state, once to the end of its feed or following it).
 *
 * A partitioned (Kafka) state has a projector per partition-N subfolder,
 * each with its own cursor row; a plain state is partition 0. Postgres
 * being down is retried with backoff, never skipped.
 */
#include "cmd_util.h"
#include "commands.h"
#include "log.h"
#include "pgproj.h"
#include "state.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
    stop_signal = sig;
}

static const struct gm_setting migrate_settings[] = {
    {"postgres", GM_SET_STRING, NULL, 0, 0, true,
     "a libpq connection string or URI (host=... dbname=...)"},
};

static const struct gm__command migrate_cmd = {
    "migrate",
    "--postgres CONNINFO",
    "Applies the read model's schema migrations (built into this program) that the\n"
    "database lacks, each in its own transaction, recorded in schema_migrations.\n"
    "Running it again changes nothing; a database migrated by a newer gamify is refused.\n",
    migrate_settings,
    sizeof migrate_settings / sizeof *migrate_settings,
    0};

/* gamify migrate with its settings parsed: an exit status. */
static int
migrate_run(const struct gm_config *opt)
{
    struct gm_err err;
    gm_err_clear(&err);
    int applied = 0;
    int rc = gm_pgproj_migrate(gm_config_str(opt, "postgres"), &applied, &err);
    if (rc) {
        fprintf(stderr, "gamify migrate: %s\n", err.msg);
        return 2;
    }
    printf("schema at version %d (%d migration%s applied)\n", gm_pgproj_schema_version(), applied,
           applied == 1 ? "" : "s");
    return 0;
}

int
gm_cmd_migrate(int argc, char **argv)
{
    return gm__command_run(&migrate_cmd, argc, argv, migrate_run);
}

struct part {
    int partition;
    char *dir;
    struct gm_state *st;
    struct gm_pgproj *proj;
    bool done; /* reached the end of its feed (once mode) */
};

/* The partitions of state: partition-N subfolders, or the state itself. */
static int
find_parts(const char *state, struct part **out, size_t *n)
{
    struct stat sb;
    if (stat(state, &sb) || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "gamify project: no state at %s\n", state);
        return 2;
    }
    char **dirs;
    int *ids;
    size_t count;
    gm__partition_dirs(state, &dirs, &ids, &count);
    struct part *parts = calloc(count ? count : 1, sizeof *parts);
    if (!parts)
        abort();
    for (size_t i = 0; i < count; i++) /* the folders pass to parts */
        parts[i] = (struct part){.partition = ids[i], .dir = dirs[i]};
    free(dirs);
    free(ids);
    if (count == 0) {
        if (!(parts[0].dir = strdup(state)))
            abort();
        count = 1;
    }
    *out = parts;
    *n = count;
    return 0;
}

/*
 * gamify project: into Postgres (--postgres) or Redis (--redis), one kind
 * per run; the flags choose, else GAMIFY_REDIS alone means Redis.
 */
int
gm_cmd_project(int argc, char **argv)
{
    bool redis = false, postgres = false, help = false;
    for (int i = 1; i < argc; i++) {
        redis = redis || strncmp(argv[i], "--redis", 7) == 0;
        postgres = postgres || strncmp(argv[i], "--postgres", 10) == 0;
        help = help || strcmp(argv[i], "--help") == 0;
    }
    if (help) {
        int rc = gm_cmd_project_postgres(argc, argv);
        return rc ? rc : gm_cmd_project_redis(argc, argv);
    }
    if (redis && postgres) {
        fprintf(stderr, "gamify project: --postgres or --redis, one per run (run two)\n");
        return 2;
    }
    if (redis || (!postgres && getenv("GAMIFY_REDIS") && !getenv("GAMIFY_POSTGRES")))
        return gm_cmd_project_redis(argc, argv);
    return gm_cmd_project_postgres(argc, argv);
}

static const struct gm_setting project_settings[] = {
    {"state", GM_SET_STRING, NULL, 0, 0, true, "the state; every partition-N state in it"},
    {"postgres", GM_SET_STRING, NULL, 0, 0, true,
     "a libpq connection string or URI (host=... dbname=...)"},
    {"follow", GM_SET_BOOL, "false", 0, 0, false,
     "keep polling every 100 ms until SIGTERM or SIGINT"},
    {"batch", GM_SET_INT, "1000", 1, 100000, false,
     "changes per Postgres transaction (with its cursor)"},
};

static const struct gm__command project_cmd = {
    "project",
    "--state DIR --postgres CONNINFO [--follow] [--batch N]",
    "Projects the state's change feed into the Postgres read model (run gamify migrate\n"
    "first), from the cursor stored in Postgres to the end of the feed. A partitioned\n"
    "state projects every partition-N with its partition number. Postgres failures are\n"
    "logged and retried with backoff; no change is ever skipped.\n"
    "(`gamify project --redis URL ...` projects the leaderboards instead.)\n",
    project_settings,
    sizeof project_settings / sizeof *project_settings,
    0};

/* gamify project --postgres with its settings parsed: an exit status. */
static int
project_postgres_run(const struct gm_config *opt)
{
    const char *state = gm_config_str(opt, "state"), *conninfo = gm_config_str(opt, "postgres");
    bool follow = gm_config_bool(opt, "follow");
    int64_t batch = gm_config_int(opt, "batch");
    struct part *parts = NULL;
    size_t n_parts = 0;
    int code = find_parts(state, &parts, &n_parts);
    if (code)
        return code;

    struct gm_err err;
    gm_err_clear(&err);
    code = 2;
    for (size_t i = 0; i < n_parts; i++) {
        struct gm_state_opts o = {.read_only = true};
        if (gm_state_open(parts[i].dir, &o, &parts[i].st, &err) ||
            gm_pgproj_open(conninfo, parts[i].partition, &parts[i].proj, &err)) {
            fprintf(stderr, "gamify project: %s: %s\n", parts[i].dir, err.msg);
            goto out;
        }
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    uint64_t total = 0;
    double start = gm__now_s(), last_report = start;
    long backoff_ms = 0;
    size_t remaining = n_parts;
    while (!stop_signal && (follow || remaining > 0)) {
        bool progressed = false, failed = false;
        for (size_t i = 0; i < n_parts && !stop_signal; i++) {
            if (parts[i].done && !follow)
                continue;
            size_t n = 0;
            int rc = gm_pgproj_step(parts[i].proj, parts[i].st, (size_t)batch, &n, &err);
            if (rc == GM_EDB) {
                gm_log(GM_LOG_WARN, "partition %d: %s; retrying in %ld ms", parts[i].partition,
                       err.msg, backoff_ms ? backoff_ms * 2 : 100);
                failed = true;
                break;
            }
            if (rc) {
                fprintf(stderr, "gamify project: %s\n", err.msg);
                goto out;
            }
            total += n;
            if (n > 0)
                progressed = true;
            if (n < (size_t)batch && !parts[i].done) {
                parts[i].done = true;
                remaining--;
            }
        }
        if (failed) {
            backoff_ms = backoff_ms ? backoff_ms * 2 : 100;
            if (backoff_ms > 5000)
                backoff_ms = 5000;
            gm__sleep_ms(backoff_ms);
            continue;
        }
        backoff_ms = 0;
        double t = gm__now_s();
        if (t - last_report >= 1.0 && progressed) {
            fprintf(stderr, "project: %llu changes, %.0f changes/s\n", (unsigned long long)total,
                    (double)total / (t - start));
            last_report = t;
        }
        if (follow && !progressed)
            gm__sleep_ms(100);
    }
    double secs = gm__now_s() - start;
    fprintf(stderr, "project: %s: %llu changes in %.2f s (%.0f/s)\n",
            remaining == 0 || follow ? "done" : "stopped", (unsigned long long)total, secs,
            secs > 0 ? (double)total / secs : 0.0);
    code = !follow && remaining > 0 ? 1 : 0;
out:
    for (size_t i = 0; i < n_parts; i++) {
        gm_pgproj_close(parts[i].proj);
        gm_state_close(parts[i].st);
        free(parts[i].dir);
    }
    free(parts);
    return code;
}

int
gm_cmd_project_postgres(int argc, char **argv)
{
    return gm__command_run(&project_cmd, argc, argv, project_postgres_run);
}
