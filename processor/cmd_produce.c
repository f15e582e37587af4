/*
 * cmd_produce.c: `gamify produce --log URI [--fsync none|batch|always]
 * [FILE|-]`: JSON-lines events in (proto3 JSON mapping), one protobuf
 * record per good line appended to the file log, in batches so that one
 * append call (one write, one fdatasync) carries many events, or produced
 * to a Kafka topic (kafka://HOST:PORT/TOPIC: key = user_id, murmur2
 * partitioner, idempotent producer, flushed at the end). A bad line is
 * reported as FILE:LINE: reason and skipped whole; the good ones still go
 * in. Exit 0: all good; 1: some bad lines; 2: usage or I/O error.
 */
#include "codec.h"
#include "commands.h"
#include "filelog.h"
#include "json.h"
#include "kafka.h"
#include "logsrc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_RECORDS 1000
#define BATCH_BYTES   (16u << 20)

struct batch {
    uint8_t *recs[BATCH_RECORDS]; /* owned: encoded events */
    size_t lens[BATCH_RECORDS];
    size_t n;
    size_t bytes;
};

static void
usage(FILE *to)
{
    fprintf(to, "usage: gamify produce --log URI [--fsync none|batch|always] [FILE|-]\n"
                "  appends one protobuf record per JSON-lines event of FILE (default: stdin)\n"
                "  to the log (file:DIR or kafka://HOST:PORT[,HOST:PORT]/TOPIC); environment: "
                "GAMIFY_LOG, GAMIFY_FSYNC\n");
}

static int
parse_fsync(const char *s, enum gm_fsync_policy *out)
{
    if (strcmp(s, "none") == 0)
        *out = GM_FSYNC_NONE;
    else if (strcmp(s, "batch") == 0)
        *out = GM_FSYNC_BATCH;
    else if (strcmp(s, "always") == 0)
        *out = GM_FSYNC_ALWAYS;
    else
        return -1;
    return 0;
}

/* Appends and empties the batch; 0 or a negative code (reported). */
static int
flush(struct gm_filelog *log, const char *dir, struct batch *b)
{
    int rc = 0;
    if (b->n > 0) {
        rc = gm_filelog_append(log, (const void *const *)b->recs, b->lens, b->n, NULL);
        if (rc < 0)
            fprintf(stderr, "gamify: appending to %s: %s\n", dir,
                    gm_filelog_errmsg(log)[0] ? gm_filelog_errmsg(log) : gm_strerror(rc));
    }
    for (size_t i = 0; i < b->n; i++)
        free(b->recs[i]);
    b->n = 0;
    b->bytes = 0;
    return rc;
}

int
gm_cmd_produce(int argc, char **argv)
{
    int ret = 2;
    const char *uri = getenv("GAMIFY_LOG");
    const char *fsync_name = getenv("GAMIFY_FSYNC");
    const char *path = NULL;
    char *src_uri = NULL;
    struct gm_logsrc *src = NULL;
    struct gm_filelog *log = NULL;
    struct gm_kafka_producer *kp = NULL;
    struct batch *b = calloc(1, sizeof *b);
    size_t produced = 0, bad = 0;
    const char *dir = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    if (!b)
        abort();

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            ret = 0;
            goto out;
        } else if (strcmp(a, "--log") == 0 || strcmp(a, "--fsync") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gamify produce: %s needs a value\n", a);
                usage(stderr);
                goto out;
            }
            if (a[2] == 'l')
                uri = argv[++i];
            else
                fsync_name = argv[++i];
        } else if (strncmp(a, "--log=", 6) == 0) {
            uri = a + 6;
        } else if (strncmp(a, "--fsync=", 8) == 0) {
            fsync_name = a + 8;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "gamify produce: unknown option '%s'\n", a);
            usage(stderr);
            goto out;
        } else if (path) {
            fprintf(stderr, "gamify produce: one input file at most\n");
            usage(stderr);
            goto out;
        } else {
            path = a;
        }
    }
    if (!path)
        path = "-";
    if (!uri || !*uri) {
        fprintf(stderr, "gamify produce: --log URI (or GAMIFY_LOG) is required\n");
        usage(stderr);
        goto out;
    }
    struct gm_filelog_opts opts = {.fsync = GM_FSYNC_BATCH};
    if (fsync_name && parse_fsync(fsync_name, &opts.fsync) < 0) {
        fprintf(stderr, "gamify produce: --fsync: expected none, batch or always, got '%s'\n",
                fsync_name);
        goto out;
    }
    enum gm_logsrc_scheme scheme;
    if (gm_logsrc_uri_parse(uri, &scheme, &dir, &err) < 0) {
        fprintf(stderr, "gamify produce: %s\n", err.msg);
        goto out;
    }
    if (scheme == GM_LOGSRC_JSONL) {
        fprintf(stderr, "gamify produce: %s: jsonl: is an input format only; use file:DIR\n", uri);
        goto out;
    }
    if (scheme == GM_LOGSRC_KAFKA) {
        if (gm_kafka_producer_new(dir, &kp, &err) < 0) {
            fprintf(stderr, "gamify produce: %s\n", err.msg);
            goto out;
        }
    } else if (gm_filelog_open(dir, &opts, &log, &err) < 0) {
        fprintf(stderr, "gamify produce: %s\n", err.msg);
        goto out;
    }
    size_t ulen = strlen(path) + sizeof "jsonl:";
    src_uri = malloc(ulen);
    if (!src_uri)
        abort();
    snprintf(src_uri, ulen, "jsonl:%s", path);
    if (gm_logsrc_open(src_uri, 0, &src, &err) < 0) {
        fprintf(stderr, "gamify produce: %s\n", err.msg);
        goto out;
    }

    for (;;) {
        struct gm_record rec;
        int rc = gm_logsrc_next(src, &rec);
        if (rc == 0)
            break;
        if (rc == GM_ETOOBIG) {
            bad++;
            fprintf(stderr, "%s:%" PRIu64 ": line longer than %zu bytes\n", path, rec.line,
                    (size_t)GM_JSON_MAX);
            continue;
        }
        if (rc < 0) {
            fprintf(stderr, "gamify produce: %s\n", gm_logsrc_errmsg(src));
            goto out;
        }
        Gamification__V1__Event *ev = NULL;
        uint8_t *buf = NULL;
        size_t len = 0;
        gm_err_clear(&err);
        rc = gm_event_from_json((const char *)rec.data, rec.len, &ev, &err);
        if (rc == 0)
            rc = gm_event_encode(ev, &buf, &len, &err);
        if (rc < 0) {
            gm_event_free(ev);
            bad++;
            fprintf(stderr, "%s:%" PRIu64 ": %s\n", path, rec.line,
                    err.msg[0] ? err.msg : gm_strerror(rc));
            continue;
        }
        if (kp) {
            /* the key places all of a user's events in one partition */
            rc = gm_kafka_produce(kp, ev->user_id, buf, len, &err);
            gm_event_free(ev);
            free(buf);
            if (rc < 0) {
                fprintf(stderr, "gamify produce: %s\n", err.msg);
                goto out;
            }
            produced++;
            continue;
        }
        gm_event_free(ev);
        b->recs[b->n] = buf;
        b->lens[b->n] = len;
        b->n++;
        b->bytes += len;
        if (b->n == BATCH_RECORDS || b->bytes >= BATCH_BYTES) {
            size_t n = b->n;
            if (flush(log, dir, b) < 0)
                goto out;
            produced += n;
        }
    }
    if (kp) {
        uint64_t failed = 0;
        gm_err_clear(&err);
        int rc = gm_kafka_producer_flush(kp, 90000, &failed, &err);
        if (rc < 0 || failed) {
            fprintf(stderr, "gamify produce: %s\n", err.msg);
            produced -= failed < produced ? (size_t)failed : produced;
            goto out;
        }
    } else {
        size_t n = b->n;
        if (flush(log, dir, b) < 0)
            goto out;
        produced += n;
    }
    ret = bad ? 1 : 0;
out:
    if (log)
        fprintf(stderr, "produced %zu events, %zu bad lines, log end offset %" PRIu64 "\n",
                produced, bad, gm_filelog_end(log));
    if (kp)
        fprintf(stderr, "produced %zu events, %zu bad lines, to %s\n", produced, bad, uri);
    gm_kafka_producer_free(kp);
    for (size_t i = 0; b && i < b->n; i++)
        free(b->recs[i]);
    free(b);
    gm_logsrc_close(src);
    gm_filelog_close(log);
    free(src_uri);
    return ret;
}
