/*
 * cmd_state.c: the commands that fold a log into state and read it back:
 * `gamify replay`, `gamify dump`, `gamify digest` and `gamify dlq list`.
 *
 * A state folder of a Kafka-fed processor holds one state per partition
 * (partition-N subfolders). dump merges their learners sorted by userId;
 * digest is then the SHA-256 of that merged dump text, since per-partition
 * digests cannot be combined into the digest of a single replay.
 */
#include "cmd_state.h"
#include "cmd_util.h"
#include "codec.h"
#include "commands.h"
#include "diskguard.h"
#include "filelog.h"
#include "json.h"
#include "log.h"
#include "logsrc.h"
#include "outsink.h"
#include "pump.h"
#include "rules.h"
#include "state.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

/* A "Name:   N kB" line of /proc/self/status, in MiB; -1 if unknown. */
static long
status_mib(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(name);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb / 1024;
}

/* Opens an existing state directory (never creates one). */
static int
open_existing(const char *dir, struct gm_state **st, bool read_only, bool dlq_only)
{
    struct stat sb;
    if (!dir) {
        fprintf(stderr, "gamify: --state DIR is required\n");
        return 2;
    }
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "gamify: no state at %s\n", dir);
        return 2;
    }
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_state_opts opts = {.read_only = read_only, .dlq_only = dlq_only};
    if (gm_state_open(dir, &opts, st, &err)) {
        fprintf(stderr, "gamify: %s\n", err.msg);
        return 2;
    }
    return 0;
}

const char *
gm__what_if_note(const struct gm_state *st, const struct gm_state_stats *ss, char *buf, size_t cap)
{
    if (!gm_state_what_if(st))
        return "";
    snprintf(buf, cap, " (what-if: %llu RulesPublished ignored)",
             (unsigned long long)ss->rules_ignored);
    return buf;
}

static const struct gm_setting replay_settings[] = {
    {"log", GM_SET_STRING, NULL, 0, 0, true,
     "file:DIR, jsonl:PATH or kafka://HOST:PORT[,HOST:PORT]/TOPIC (every partition into "
     "DIR/partition-N, up to the end the topic had when the replay started; no consumer "
     "group, nothing committed to the cluster)"},
    {"state", GM_SET_STRING, NULL, 0, 0, true, "the state folder (created; a rerun resumes)"},
    {"rules", GM_SET_STRING, NULL, 0, 0, false, "seeds the rules when the log has published none"},
    {"rules-override", GM_SET_STRING, NULL, 0, 0, false,
     "a what-if replay into a fresh folder: these rules are in force from the first event; "
     "RulesPublished events are counted and ignored; the state is marked what-if (dump and "
     "digest say so) and no processor follows it. Compare it with `gamify diff`"},
    {"out", GM_SET_STRING, NULL, 0, 0, false,
     "write the outbound events (level.up, badge.earned, streak.updated, reward "
     "redeemed/rejected) to jsonl:PATH, file:DIR or kafka://HOST:PORT[,HOST:PORT]/TOPIC, each "
     "once per state (a cursor in the state remembers how far it got; Kafka also reads the "
     "topic back)"},
    {"batch", GM_SET_INT, "200000", 1, 1000000, false, "most records per LMDB commit"},
    {"batch-mib", GM_SET_INT, "32", 1, 4096, false,
     "a batch also ends once the records it holds (kept to be applied again if the map must "
     "grow) reach this many MiB of heap"},
    {"no-sync", GM_SET_BOOL, "false", 0, 0, false,
     "commit without fsync (fast; a machine crash may lose the last commits)"},
    {"hold-mib", GM_SET_INT, "0", 0, 65536, false,
     "write-behind learners: keep up to this many MiB of changed learner records in memory and "
     "in an appended journal, written back to their tree later, once; 0: write them at each "
     "commit"},
    {"lmdb-writemap", GM_SET_BOOL, "true", 0, 0, false,
     "write the state's pages in LMDB's map (MDB_WRITEMAP: a large batch's dirty pages are not "
     "copied to the heap); false: dirty pages on the heap, written at the commit"},
    {"window-days", GM_SET_INT, NULL, 1, 3650, false,
     "the dedupe window in days of event time (default 30)"},
    {"future-skew-seconds", GM_SET_INT, NULL, 1, 3153600000LL, false,
     "how far after its append time (file log frame, Kafka timestamp) an event may be dated; "
     "later ones are TOO_FAR_AHEAD dead letters (default 3600; jsonl: carries no append time)"},
    {"quiet", GM_SET_BOOL, "false", 0, 0, false, "no progress lines"},
    {"min-free-disk-mb", GM_SET_INT, "256", 0, 1LL << 30, false,
     "stop (exit 2, everything committed kept: run it again to continue) before a batch when "
     "the state's disk has less than this many MiB free; 0: no check"},
    {"no-feed", GM_SET_BOOL, "false", 0, 0, false,
     "trim the change feed as the replay goes (behind --out, when given), for a state no "
     "projector will read from its start (an audit, a digest, a what-if): `gamify project` "
     "of it is refused as trimmed and the processor's projectors start from a rebuild. "
     "Without it the whole feed is kept, for `gamify project` after the replay"},
};

static const struct gm__command replay_cmd = {
    "replay",
    "--log URI --state DIR [--rules FILE] [--out URI] [--rules-override FILE] ...",
    "Folds the log into the state, resuming from the state's offset.\n",
    replay_settings,
    sizeof replay_settings / sizeof *replay_settings,
    0};

/* gamify replay with its settings parsed: an exit status. */
static int
replay(const struct gm_config *opt)
{
    const char *log_uri = gm_config_str(opt, "log"), *state = gm_config_str(opt, "state");
    const char *rules = gm_config_str(opt, "rules"), *out_uri = gm_config_str(opt, "out");
    const char *override = gm_config_str(opt, "rules-override");
    struct gm_outsink *sink = NULL;
    long batch = (long)gm_config_int(opt, "batch");
    size_t batch_bytes = gm_pump_mib_bytes(gm_config_int(opt, "batch-mib"));
    bool quiet = gm_config_bool(opt, "quiet");
    bool no_feed = gm_config_bool(opt, "no-feed");
    struct gm_state_opts opts = {.no_sync = gm_config_bool(opt, "no-sync"),
                                 .hold_bytes = (size_t)gm_config_int(opt, "hold-mib") << 20,
                                 .heap_pages = !gm_config_bool(opt, "lmdb-writemap")};
    if (gm_config_str(opt, "window-days"))
        opts.dedupe_window_s = gm_config_int(opt, "window-days") * 86400;
    if (gm_config_str(opt, "future-skew-seconds"))
        opts.future_skew_s = gm_config_int(opt, "future-skew-seconds");
    if (rules && override) {
        fprintf(stderr, "gamify replay: --rules and --rules-override exclude each other (the "
                        "override is in force from the first event)\n");
        return 2;
    }
    char *override_text = NULL;
    size_t override_len = 0;
    if (override) {
        int rc = gm_rules_read_text(override, &override_text, &override_len);
        if (rc) {
            fprintf(stderr, "gamify replay: %s: %s\n", override, strerror(-rc));
            return 2;
        }
        opts.what_if = true;
    }
    enum gm_logsrc_scheme scheme;
    const char *rest;
    struct gm_err err;
    gm_err_clear(&err);
    if (gm_logsrc_uri_parse(log_uri, &scheme, &rest, &err)) {
        fprintf(stderr, "gamify replay: %s\n", err.msg);
        free(override_text);
        return 2;
    }
    if (scheme == GM_LOGSRC_KAFKA) {
        /* the seed rules are read once for every partition's state */
        char *rules_text = NULL;
        size_t rules_len = 0;
        if (rules) {
            int rrc = gm_rules_read_text(rules, &rules_text, &rules_len);
            if (rrc) {
                fprintf(stderr, "gamify replay: %s: %s\n", rules, strerror(-rrc));
                free(override_text);
                return 2;
            }
        }
        struct gm_replay_kafka_opts ko = {
            .state = state,
            .store = opts,
            .rules = rules,
            .rules_text = rules_text,
            .rules_len = rules_len,
            .override = override,
            .override_text = override_text,
            .override_len = override_len,
            .out_uri = out_uri,
            .batch = (size_t)batch,
            .batch_bytes = batch_bytes,
            .quiet = quiet,
            .no_feed = no_feed,
            .min_free_mib = (uint64_t)gm_config_int(opt, "min-free-disk-mb"),
        };
        int code = gm__replay_kafka(rest, &ko);
        free(override_text);
        free(rules_text);
        return code;
    }

    gm_err_clear(&err);
    struct gm_state *st = NULL;
    struct gm_logsrc *src = NULL;
    int code = 2, rc;
    if ((rc = gm_state_open(state, &opts, &st, &err))) {
        fprintf(stderr, "gamify replay: %s\n", err.msg);
        goto out;
    }
    if (override_text && (rc = gm_state_set_what_if(st, override_text, override_len, &err))) {
        if (err.line)
            fprintf(stderr, "gamify replay: %s:%d:%d: %s\n", override, err.line, err.column,
                    err.msg);
        else
            fprintf(stderr, "gamify replay: %s: %s\n", state, err.msg);
        code = err.line ? 1 : 2;
        goto out;
    }
    if (rules) {
        size_t len;
        char *text;
        if ((rc = gm_rules_read_text(rules, &text, &len))) {
            fprintf(stderr, "gamify replay: %s: %s\n", rules, strerror(-rc));
            goto out;
        }
        rc = gm_state_seed_rules(st, text, len, &err);
        free(text);
        if (rc) {
            fprintf(stderr, "gamify replay: %s:%d:%d: %s\n", rules, err.line, err.column, err.msg);
            code = 1;
            goto out;
        }
    }
    if (out_uri && (rc = gm_outsink_open(out_uri, &sink, &err))) {
        fprintf(stderr, "gamify replay: %s\n", err.msg);
        goto out;
    }
    uint64_t from = gm_state_offset(st);
    if ((rc = gm_pump_source_open(log_uri, from, &src, &err))) {
        fprintf(stderr, "gamify replay: %s\n", err.msg);
        goto out;
    }
    uint64_t records = 0, batches = 0, next = from;
    double start = gm__now_s(), last_report = start;
    long peak_heap = 0;
    struct gm_diskguard guard;
    gm_diskguard_init(&guard, state, (uint64_t)gm_config_int(opt, "min-free-disk-mb"));
    for (;;) {
        size_t n = 0;
        struct gm_err low;
        if (gm_diskguard_low(&guard, &low)) {
            rc = gm_err_set(&err, GM_EIO, "stopped at offset %llu (run again to continue): %s",
                            (unsigned long long)next, low.msg);
            break;
        }
        bool full = false;
        if ((rc = gm_pump_batch(st, src, log_uri, (size_t)batch, batch_bytes, NULL, NULL, &n, &next,
                                &full, &err)))
            break;
        records += n;
        batches += n > 0;
        long heap = status_mib("RssAnon"); /* sampled per batch: the batch is the peak */
        if (heap > peak_heap)
            peak_heap = heap;
        if (out_uri && (rc = gm_outsink_publish(sink, st, &err)))
            break;
        if (no_feed) /* the next commits delete what is released */
            gm_pump_release(st, sink, INT64_MAX);
        if (!full)
            break; /* the end of the log */
        double t = gm__now_s();
        if (!quiet && t - last_report >= 1.0) {
            fprintf(stderr, "replay: %llu records, %.0f records/s, offset %llu\n",
                    (unsigned long long)records, (double)records / (t - start),
                    (unsigned long long)next);
            last_report = t;
        }
    }
    uint64_t n_trim;
    if (rc == 0 && no_feed)
        rc = gm_state_trim_changes(st, gm_pump_release(st, sink, INT64_MAX), &n_trim, &err);
    if (rc) {
        fprintf(stderr, "gamify replay: %s\n", err.msg);
        goto out;
    }
    const struct gm_state_stats *ss = gm_state_stats(st);
    char note[160];
    double secs = gm__now_s() - start;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (!quiet)
        fprintf(stderr,
                "replay: done: %llu records in %.2f s (%.0f/s), %llu batches: %llu applied, %llu "
                "duplicates, "
                "%llu dead letters (%llu too late, %llu rejected), %llu rules published%s; "
                "offset %llu; peak RSS %ld MiB (peak heap %ld MiB, mapped state now %ld MiB); "
                "%llu outbound events written\n",
                (unsigned long long)records, secs, secs > 0 ? (double)records / secs : 0.0,
                (unsigned long long)batches, (unsigned long long)ss->applied,
                (unsigned long long)ss->duplicates, (unsigned long long)ss->dead_letters,
                (unsigned long long)ss->too_late, (unsigned long long)ss->rejected,
                (unsigned long long)ss->rules_published,
                gm__what_if_note(st, ss, note, sizeof note), (unsigned long long)next,
                ru.ru_maxrss / 1024, peak_heap, status_mib("RssFile"),
                (unsigned long long)gm_outsink_written(sink));
    code = 0;
out:
    gm_outsink_close(sink);
    gm_logsrc_close(src);
    gm_state_close(st);
    free(override_text);
    return code;
}

static const struct gm_setting state_settings[] = {
    {"state", GM_SET_STRING, NULL, 0, 0, true,
     "the state (a folder of partition-N states: all of them)"},
    {"user", GM_SET_STRING, NULL, 0, 0, false, "only this learner", true},
};

static const struct gm__command dump_cmd = {
    "dump",
    "--state DIR [--user ID]",
    "The audit view: one JSON line per learner, sorted by userId (docs/rules.md lists\n"
    "the keys). Opens the state read-only, beside a running processor.\n",
    state_settings,
    2,
    0};

static const struct gm__command digest_cmd = {
    "digest",
    "--state DIR",
    "The SHA-256 of the canonical state (of every partition of a partitioned one): the\n"
    "same log gives the same digest on any machine.\n",
    state_settings,
    1,
    0};

static const struct gm__command dlq_list_cmd = {"dlq list",
                                                "--state DIR",
                                                "The dead letters, one JSON line each, in order.\n",
                                                state_settings,
                                                1,
                                                0};

static int
line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The merged dump of a partitioned state: every partition's lines (one
 * learner each, starting {"userId":"...) sorted bytewise, so by userId.
 * *text is new (free with free()). Returns 0, GM_ENOTFOUND (user given and
 * in no partition) or a process exit code > 0 after reporting.
 */
static int
merged_dump(char **dirs, size_t n_dirs, const char *user, char **text, size_t *len, bool *what_if)
{
    char **lines = NULL;
    size_t n_lines = 0, cap = 0;
    int rc = 0, found = 0;
    *text = NULL;
    *len = 0;
    for (size_t i = 0; i < n_dirs && rc == 0; i++) {
        struct gm_state *st;
        char *buf = NULL;
        size_t size = 0;
        if ((rc = open_existing(dirs[i], &st, true, false)))
            break;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
            abort();
        int drc = gm_state_dump(st, f, user);
        fclose(f);
        if (what_if && gm_state_what_if(st))
            *what_if = true;
        gm_state_close(st);
        if (drc == 0)
            found = 1;
        else if (drc != GM_ENOTFOUND) {
            fprintf(stderr, "gamify: %s: %s\n", dirs[i], gm_strerror(drc));
            rc = 2;
        }
        for (char *line = buf, *nl; rc == 0 && line < buf + size; line = nl + 1) {
            nl = memchr(line, '\n', (size_t)(buf + size - line));
            if (!nl)
                nl = buf + size;
            if (n_lines == cap) {
                cap = cap ? 2 * cap : 1024;
                lines = realloc(lines, cap * sizeof *lines);
                if (!lines)
                    abort();
            }
            lines[n_lines] = strndup(line, (size_t)(nl - line));
            if (!lines[n_lines++])
                abort();
        }
        free(buf);
    }
    if (rc == 0) {
        qsort(lines, n_lines, sizeof *lines, line_cmp);
        FILE *f = open_memstream(text, len);
        if (!f)
            abort();
        for (size_t i = 0; i < n_lines; i++)
            fprintf(f, "%s\n", lines[i]);
        fclose(f);
        if (user && !found)
            rc = GM_ENOTFOUND;
    }
    for (size_t i = 0; i < n_lines; i++)
        free(lines[i]);
    free(lines);
    return rc;
}

int
gm_cmd_replay(int argc, char **argv)
{
    return gm__command_run(&replay_cmd, argc, argv, replay);
}

int
gm__state_dump(const char *state, const char *user, char **text, size_t *len, bool *what_if)
{
    char **dirs;
    size_t n_dirs;
    int code;
    if (what_if)
        *what_if = false;
    *text = NULL;
    *len = 0;
    gm__partition_dirs(state, &dirs, NULL, &n_dirs);
    if (n_dirs > 0) {
        code = merged_dump(dirs, n_dirs, user, text, len, what_if);
        gm__free_dirs(dirs, n_dirs);
        return code;
    }
    struct gm_state *st;
    if ((code = open_existing(state, &st, true, false)))
        return code;
    FILE *f = open_memstream(text, len);
    if (!f)
        abort();
    int rc = gm_state_dump(st, f, user);
    fclose(f);
    if (what_if && gm_state_what_if(st))
        *what_if = true;
    gm_state_close(st);
    if (rc && rc != GM_ENOTFOUND) {
        fprintf(stderr, "gamify: %s: %s\n", state, gm_strerror(rc));
        return 2;
    }
    return rc;
}

static int dump(const struct gm_config *opt);

int
gm_cmd_dump(int argc, char **argv)
{
    return gm__command_run(&dump_cmd, argc, argv, dump);
}

/* gamify dump of --user (none: all) in --state: an exit status. */
static int
dump(const struct gm_config *opt)
{
    const char *state = gm_config_str(opt, "state"), *user = gm_config_str(opt, "user");
    int code;
    char *text;
    size_t len;
    bool what_if;
    code = gm__state_dump(state, user, &text, &len, &what_if);
    if (code == 0 || code == GM_ENOTFOUND)
        fwrite(text, 1, len, stdout);
    free(text);
    if (what_if)
        fprintf(stderr,
                "gamify dump: %s is a what-if state (gamify replay --rules-override): "
                "not the result of the published rules\n",
                state);
    if (code == GM_ENOTFOUND) {
        fprintf(stderr, "gamify dump: no learner %s\n", user);
        return 1;
    }
    return code;
}

static int digest(const struct gm_config *opt);

int
gm_cmd_digest(int argc, char **argv)
{
    return gm__command_run(&digest_cmd, argc, argv, digest);
}

/* gamify digest of --state: an exit status. */
static int
digest(const struct gm_config *opt)
{
    const char *state = gm_config_str(opt, "state");
    int code;
    unsigned char md[32];
    int rc;
    bool what_if = false;
    char **dirs;
    size_t n_dirs;
    gm__partition_dirs(state, &dirs, NULL, &n_dirs);
    if (n_dirs > 0) {
        /* Partitioned: the SHA-256 of each partition's name and digest in
         * partition order, so it covers all that a single state's does. */
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
            abort();
        EVP_DigestUpdate(ctx, "gamify partitioned state", 25);
        rc = 0;
        code = 0;
        for (size_t i = 0; i < n_dirs && rc == 0 && code == 0; i++) {
            struct gm_state *st;
            unsigned char part[32];
            if ((code = open_existing(dirs[i], &st, true, false)))
                break;
            if (gm_state_what_if(st))
                what_if = true;
            if ((rc = gm_state_digest(st, part)) == 0) {
                const char *name = strrchr(dirs[i], '/') + 1;
                EVP_DigestUpdate(ctx, name, strlen(name) + 1);
                EVP_DigestUpdate(ctx, part, sizeof part);
            } else {
                fprintf(stderr, "gamify digest: %s: %s\n", dirs[i], gm_strerror(rc));
            }
            gm_state_close(st);
        }
        unsigned int md_len = 0;
        EVP_DigestFinal_ex(ctx, md, &md_len);
        EVP_MD_CTX_free(ctx);
        gm__free_dirs(dirs, n_dirs);
        if (code)
            return code;
        if (rc)
            return 2;
    } else {
        struct gm_state *st;
        if ((code = open_existing(state, &st, true, false)))
            return code;
        rc = gm_state_digest(st, md);
        what_if = gm_state_what_if(st) != NULL;
        gm_state_close(st);
    }
    if (rc) {
        fprintf(stderr, "gamify digest: %s\n", gm_strerror(rc));
        return 2;
    }
    for (int i = 0; i < 32; i++)
        printf("%02x", md[i]);
    printf("\n");
    if (what_if)
        fprintf(stderr,
                "gamify digest: %s is a what-if state (gamify replay --rules-override); "
                "its digest covers the mark, so it never equals a real state's\n",
                state);
    return 0;
}

/* Re-appends dead letters to a file log, converting JSON lines to
 * protobuf; a record that still does not decode is kept. */
struct requeue {
    struct gm_filelog *log;
    size_t kept;
};

static int
requeue_one(void *ctx, const Gamify__Internal__DeadLetter *dl)
{
    struct requeue *rq = ctx;
    struct gm_err err;
    gm_err_clear(&err);
    Gamification__V1__Event *ev = NULL;
    int rc = dl->json ? gm_event_from_json((const char *)dl->record.data, dl->record.len, &ev, &err)
                      : gm_event_decode(dl->record.data, dl->record.len, &ev, &err);
    if (rc) {
        fprintf(stderr, "gamify dlq requeue: kept dead letter %lld (%s): %s\n", (long long)dl->seq,
                dl->reason, err.msg);
        rq->kept++;
        return 0;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = gm_event_encode(ev, &buf, &len, &err);
    gm_event_free(ev);
    if (rc == 0) {
        const void *recs[1] = {buf};
        rc = gm_filelog_append(rq->log, recs, &len, 1, NULL);
    }
    free(buf);
    if (rc) {
        fprintf(stderr, "gamify dlq requeue: append failed: %s\n", gm_strerror(rc));
        return rc;
    }
    return 1;
}

static const struct gm_setting requeue_settings[] = {
    {"state", GM_SET_STRING, NULL, 0, 0, true,
     "the state (of a partitioned one, one partition-N at a time)"},
    {"log", GM_SET_STRING, NULL, 0, 0, true, "file:DIR, the log the state follows"},
    {"reason", GM_SET_STRING, NULL, 0, 0, false, "only the dead letters of this reason", true},
    {"seq", GM_SET_INT, "-1", -1, INT64_MAX, false, "only the dead letter of this seq (-1: all)",
     true},
};

static const struct gm__command requeue_cmd = {
    "dlq requeue",
    "--state DIR --log file:DIR [--reason R] [--seq N]",
    "Appends the dead letters (those of one reason, or one by its seq) to the log again\n"
    "and removes them from the state, once the cause is fixed (rules published, time\n"
    "zone installed); records that still do not decode are kept (exit 1).\n",
    requeue_settings,
    sizeof requeue_settings / sizeof *requeue_settings,
    0};

/* gamify dlq requeue with its settings parsed: an exit status. */
static int
dlq_requeue(const struct gm_config *opt)
{
    const char *state = gm_config_str(opt, "state"), *log_uri = gm_config_str(opt, "log");
    const char *reason = gm_config_str(opt, "reason");
    long long seq = (long long)gm_config_int(opt, "seq");
    struct gm_err err;
    gm_err_clear(&err);
    enum gm_logsrc_scheme scheme;
    const char *dir;
    if (gm_logsrc_uri_parse(log_uri, &scheme, &dir, &err) || scheme != GM_LOGSRC_FILE) {
        fprintf(stderr, "gamify dlq requeue: --log must be file:DIR\n");
        return 2;
    }
    char **dirs;
    size_t n_dirs;
    gm__partition_dirs(state, &dirs, NULL, &n_dirs);
    gm__free_dirs(dirs, n_dirs);
    if (n_dirs > 0) {
        fprintf(stderr,
                "gamify dlq requeue: %s is a partitioned (Kafka) state; requeue one partition "
                "at a time with --state %s/partition-N\n",
                state, state);
        return 2;
    }
    struct gm_state *st;
    int code = open_existing(state, &st, false, true);
    if (code)
        return code;
    struct requeue rq = {0};
    size_t n = 0;
    int rc = gm_filelog_open(dir, NULL, &rq.log, &err);
    if (rc == 0)
        rc = gm_state_dlq_take(st, reason, seq, requeue_one, &rq, &n, &err);
    gm_filelog_close(rq.log);
    gm_state_close(st);
    if (rc) {
        fprintf(stderr, "gamify dlq requeue: %s\n", err.msg[0] ? err.msg : gm_strerror(rc));
        return 2;
    }
    printf("requeued %zu dead letters to %s; kept %zu that still do not decode\n", n, log_uri,
           rq.kept);
    return rq.kept ? 1 : 0;
}

/* gamify dlq list of --state: an exit status. */
static int
dlq_list(const struct gm_config *opt)
{
    const char *state = gm_config_str(opt, "state");
    int code = -1;
    char **dirs;
    size_t n_dirs;
    gm__partition_dirs(state, &dirs, NULL, &n_dirs);
    if (n_dirs > 0) {
        /* every partition's dead letters, in partition order */
        int rc = 0;
        for (size_t i = 0; i < n_dirs && rc == 0 && code < 0; i++) {
            struct gm_state *st;
            if ((code = open_existing(dirs[i], &st, true, false)))
                break;
            code = -1;
            long part = strtol(strrchr(dirs[i], '/') + 11, NULL, 10);
            if ((rc = gm_state_dlq_list(st, stdout, (int)part)))
                fprintf(stderr, "gamify dlq list: %s: %s\n", dirs[i], gm_strerror(rc));
            gm_state_close(st);
        }
        gm__free_dirs(dirs, n_dirs);
        return code > 0 ? code : rc ? 2 : 0;
    }
    struct gm_state *st;
    if ((code = open_existing(state, &st, true, false)))
        return code;
    int rc = gm_state_dlq_list(st, stdout, -1);
    gm_state_close(st);
    if (rc)
        fprintf(stderr, "gamify dlq list: %s\n", gm_strerror(rc));
    return rc ? 2 : 0;
}

int
gm_cmd_dlq(int argc, char **argv)
{
    bool requeue = argc >= 2 && strcmp(argv[1], "requeue") == 0;
    if (!requeue && (argc < 2 || strcmp(argv[1], "list") != 0)) {
        FILE *to = argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr;
        gm__command_usage(&dlq_list_cmd, to);
        gm__command_usage(&requeue_cmd, to);
        return to == stdout ? 0 : 2;
    }
    if (requeue)
        return gm__command_run(&requeue_cmd, argc - 1, argv + 1, dlq_requeue);
    return gm__command_run(&dlq_list_cmd, argc - 1, argv + 1, dlq_list);
}
