/*
 * cmd_state.c: the commands that fold a log into state and read it back:
 * `gamify replay`, `gamify dump`, `gamify digest` and `gamify dlq list`.
 */
#include "codec.h"
#include "commands.h"
#include "filelog.h"
#include "json.h"
#include "log.h"
#include "logsrc.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads a whole file; returns new text (free with free()) or NULL. */
static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            if (cap >= (size_t)16 << 20)
                break; /* far beyond any rules file: the parser rejects it */
            buf = realloc(buf, cap *= 2);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static const char *
env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* Opens an existing state directory (never creates one). */
static int
open_existing(const char *dir, struct gm_store **st)
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
    if (gm_store_open(dir, NULL, st, &err)) {
        fprintf(stderr, "gamify: %s\n", err.msg);
        return 2;
    }
    return 0;
}

/*
 * Where `replay --out` writes outbound events: jsonl:PATH (JSON lines,
 * appended) or file:DIR (protobuf OutboundEvent records in a file log).
 */
struct out_sink {
    FILE *jsonl;
    struct gm_filelog *log;
    uint8_t **bufs;
    size_t *lens;
    size_t n, cap;
    uint64_t written;
};

static int
sink_flush(struct out_sink *o)
{
    int rc = 0;
    if (o->log && o->n)
        rc = gm_filelog_append(o->log, (const void *const *)o->bufs, o->lens, o->n, NULL);
    for (size_t i = 0; i < o->n; i++)
        free(o->bufs[i]);
    o->n = 0;
    if (rc == 0 && o->jsonl && (fflush(o->jsonl) || fsync(fileno(o->jsonl))))
        rc = -errno;
    return rc;
}

static int
sink_write(void *ctx, const Gamification__V1__OutboundEvent *oev)
{
    struct out_sink *o = ctx;
    o->written++;
    if (o->jsonl) {
        char *js = gm_pb_to_json(&oev->base);
        if (!js)
            return GM_EINVAL;
        int bad = fprintf(o->jsonl, "%s\n", js) < 0;
        free(js);
        return bad ? GM_EIO : 0;
    }
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 256;
        o->bufs = realloc(o->bufs, o->cap * sizeof *o->bufs);
        o->lens = realloc(o->lens, o->cap * sizeof *o->lens);
        if (!o->bufs || !o->lens)
            abort();
    }
    gm_outbound_encode(oev, &o->bufs[o->n], &o->lens[o->n]);
    o->n++;
    return o->n >= 1000 ? sink_flush(o) : 0;
}

static int
sink_open(struct out_sink *o, const char *uri, struct gm_err *err)
{
    memset(o, 0, sizeof *o);
    enum gm_log_scheme scheme;
    const char *rest;
    int rc = gm_log_uri_parse(uri, &scheme, &rest, err);
    if (rc)
        return rc;
    if (scheme == GM_LOG_JSONL) {
        o->jsonl = strcmp(rest, "-") == 0 ? stdout : fopen(rest, "a");
        if (!o->jsonl)
            return gm_err_set(err, -errno, "%s: %s", rest, strerror(errno));
        return 0;
    }
    if (scheme == GM_LOG_FILE)
        return gm_filelog_open(rest, NULL, &o->log, err);
    return gm_err_set(err, GM_EUNSUPPORTED, "--out %s: only jsonl: and file: are supported here",
                      uri);
}

static void
sink_close(struct out_sink *o)
{
    sink_flush(o);
    if (o->jsonl && o->jsonl != stdout)
        fclose(o->jsonl);
    gm_filelog_close(o->log);
    free(o->bufs);
    free(o->lens);
}

/* Writes the outbound events committed since the last call; advances the
 * state's cursor for this output after they are durable. */
static int
publish_outbound(struct gm_store *st, struct out_sink *o, const char *uri, struct gm_err *err)
{
    char name[256];
    snprintf(name, sizeof name, "out:%s", uri);
    int64_t seq;
    int rc = gm_store_cursor_get(st, name, &seq);
    if (rc == 0)
        rc = gm_store_outbound_foreach(st, &seq, sink_write, o);
    if (rc == 0)
        rc = sink_flush(o);
    if (rc)
        return gm_err_set(err, rc, "writing outbound events to %s: %s", uri, gm_strerror(rc));
    return gm_store_cursor_set(st, name, seq, err);
}

static int
replay(int argc, char **argv)
{
    const char *log_uri = env_or("GAMIFY_LOG", NULL), *state = env_or("GAMIFY_STATE", NULL);
    const char *rules = env_or("GAMIFY_RULES", NULL), *out_uri = env_or("GAMIFY_OUT", NULL);
    struct out_sink sink = {0};
    long batch = 50000;
    bool quiet = false;
    struct gm_store_opts opts = {0};
    static const struct option longopts[] = {
        {"log", required_argument, NULL, 'l'},   {"state", required_argument, NULL, 's'},
        {"rules", required_argument, NULL, 'r'}, {"batch", required_argument, NULL, 'b'},
        {"no-sync", no_argument, NULL, 'n'},     {"window-days", required_argument, NULL, 'w'},
        {"quiet", no_argument, NULL, 'q'},       {"help", no_argument, NULL, 'h'},
        {"out", required_argument, NULL, 'o'},   {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            log_uri = optarg;
            break;
        case 's':
            state = optarg;
            break;
        case 'r':
            rules = optarg;
            break;
        case 'b':
            batch = strtol(optarg, NULL, 10);
            if (batch < 1 || batch > 1000000) {
                fprintf(stderr, "gamify replay: --batch must be 1..1000000\n");
                return 2;
            }
            break;
        case 'n':
            opts.no_sync = true;
            break;
        case 'w': {
            long days = strtol(optarg, NULL, 10);
            if (days < 1 || days > 3650) {
                fprintf(stderr, "gamify replay: --window-days must be 1..3650\n");
                return 2;
            }
            opts.dedupe_window_s = days * 86400;
            break;
        }
        case 'q':
            quiet = true;
            break;
        case 'o':
            out_uri = optarg;
            break;
        case 'h':
            printf("usage: gamify replay --log URI --state DIR [--rules FILE] [--out URI]\n"
                   "                     [--batch N] [--no-sync] [--window-days N] [--quiet]\n"
                   "Folds the log into the state, resuming from the state's offset.\n"
                   "URI: file:DIR or jsonl:PATH. --rules seeds the rules when the log has\n"
                   "published none. --out writes the outbound events (level.up, badge.earned,\n"
                   "streak.updated, reward redeemed/rejected) to jsonl:PATH or file:DIR, each\n"
                   "once per state (a cursor in the state remembers how far it got).\n"
                   "Environment: GAMIFY_LOG, GAMIFY_STATE, GAMIFY_RULES, GAMIFY_OUT.\n");
            return 0;
        default:
            return 2;
        }
    }
    if (!log_uri || !state) {
        fprintf(stderr, "gamify replay: --log URI and --state DIR are required\n");
        return 2;
    }

    struct gm_err err;
    gm_err_clear(&err);
    struct gm_store *st = NULL;
    struct gm_logsrc *src = NULL;
    int code = 2, rc;
    if ((rc = gm_store_open(state, &opts, &st, &err))) {
        fprintf(stderr, "gamify replay: %s\n", err.msg);
        goto out;
    }
    if (rules) {
        size_t len;
        char *text = slurp(rules, &len);
        if (!text) {
            fprintf(stderr, "gamify replay: %s: %s\n", rules, strerror(errno));
            goto out;
        }
        rc = gm_store_seed_rules(st, text, len, &err);
        free(text);
        if (rc) {
            fprintf(stderr, "gamify replay: %s:%d:%d: %s\n", rules, err.line, err.column, err.msg);
            code = 1;
            goto out;
        }
    }
    if (out_uri && (rc = sink_open(&sink, out_uri, &err))) {
        fprintf(stderr, "gamify replay: %s\n", err.msg);
        goto out;
    }
    uint64_t from = gm_store_offset(st);
    if ((rc = gm_logsrc_open(log_uri, from, &src, &err))) {
        fprintf(stderr, "gamify replay: %s\n", err.msg);
        goto out;
    }
    bool json = gm_logsrc_format(src) == GM_RECORD_JSON;
    uint64_t records = 0, next = from;
    double start = now_s(), last_report = start;
    bool more = true;
    while (more) {
        if ((rc = gm_store_begin(st, &err)))
            break;
        long n = 0;
        while (n < batch) {
            struct gm_record rec;
            int got = gm_logsrc_next(src, &rec);
            if (got == 0) {
                more = false;
                break;
            }
            if (got == GM_ETOOBIG) {
                rc = gm_store_dead_letter(st, (const uint8_t *)"", 0, json, rec.offset, "DECODE",
                                          gm_logsrc_errmsg(src), &err);
            } else if (got < 0) {
                gm_err_set(&err, got, "reading %s at offset %llu: %s", log_uri,
                           (unsigned long long)next, gm_logsrc_errmsg(src));
                rc = got;
            } else {
                rc = gm_store_apply(st, rec.data, rec.len, json, rec.offset, &err);
            }
            if (rc)
                break;
            next = rec.next;
            n++;
            records++;
        }
        if (rc) {
            gm_store_abort(st);
            break;
        }
        if ((rc = gm_store_commit(st, next, &err)))
            break;
        if (out_uri && (rc = publish_outbound(st, &sink, out_uri, &err)))
            break;
        double t = now_s();
        if (!quiet && t - last_report >= 1.0) {
            fprintf(stderr, "replay: %llu records, %.0f records/s, offset %llu\n",
                    (unsigned long long)records, (double)records / (t - start),
                    (unsigned long long)next);
            last_report = t;
        }
    }
    if (rc) {
        fprintf(stderr, "gamify replay: %s\n", err.msg);
        goto out;
    }
    const struct gm_store_stats *ss = gm_store_stats(st);
    double secs = now_s() - start;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (!quiet)
        fprintf(stderr,
                "replay: done: %llu records in %.2f s (%.0f/s): %llu applied, %llu duplicates, "
                "%llu dead letters (%llu too late, %llu rejected), %llu rules published; "
                "offset %llu; peak RSS %ld MiB; %llu outbound events written\n",
                (unsigned long long)records, secs, secs > 0 ? (double)records / secs : 0.0,
                (unsigned long long)ss->applied, (unsigned long long)ss->duplicates,
                (unsigned long long)ss->dead_letters, (unsigned long long)ss->too_late,
                (unsigned long long)ss->rejected, (unsigned long long)ss->rules_published,
                (unsigned long long)next, ru.ru_maxrss / 1024, (unsigned long long)sink.written);
    code = 0;
out:
    sink_close(&sink);
    gm_logsrc_close(src);
    gm_store_close(st);
    return code;
}

/* Parses --state DIR [--user ID] for the read-only commands. */
static int
state_args(int argc, char **argv, const char **state, const char **user, const char *usage)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"user", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *state = env_or("GAMIFY_STATE", NULL);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 's') {
            *state = optarg;
        } else if (c == 'u' && user) {
            *user = optarg;
        } else if (c == 'h') {
            printf("usage: %s\n", usage);
            return 0;
        } else {
            fprintf(stderr, "usage: %s\n", usage);
            return 2;
        }
    }
    return -1;
}

int
gm_cmd_replay(int argc, char **argv)
{
    return replay(argc, argv);
}

int
gm_cmd_dump(int argc, char **argv)
{
    const char *state, *user = NULL;
    int code = state_args(argc, argv, &state, &user, "gamify dump --state DIR [--user ID]");
    if (code >= 0)
        return code;
    struct gm_store *st;
    if ((code = open_existing(state, &st)))
        return code;
    int rc = gm_store_dump(st, stdout, user);
    gm_store_close(st);
    if (rc == GM_ENOTFOUND) {
        fprintf(stderr, "gamify dump: no learner %s\n", user);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "gamify dump: %s\n", gm_strerror(rc));
        return 2;
    }
    return 0;
}

int
gm_cmd_digest(int argc, char **argv)
{
    const char *state;
    int code = state_args(argc, argv, &state, NULL, "gamify digest --state DIR");
    if (code >= 0)
        return code;
    struct gm_store *st;
    if ((code = open_existing(state, &st)))
        return code;
    unsigned char md[32];
    int rc = gm_store_digest(st, md);
    gm_store_close(st);
    if (rc) {
        fprintf(stderr, "gamify digest: %s\n", gm_strerror(rc));
        return 2;
    }
    for (int i = 0; i < 32; i++)
        printf("%02x", md[i]);
    printf("\n");
    return 0;
}

int
gm_cmd_dlq(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "list") != 0) {
        fprintf(stderr, "usage: gamify dlq list --state DIR\n");
        return 2;
    }
    const char *state;
    int code = state_args(argc - 1, argv + 1, &state, NULL, "gamify dlq list --state DIR");
    if (code >= 0)
        return code;
    struct gm_store *st;
    if ((code = open_existing(state, &st)))
        return code;
    int rc = gm_store_dlq_list(st, stdout);
    gm_store_close(st);
    return rc ? 2 : 0;
}
