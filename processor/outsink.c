/*
 * outsink.c: output sinks of outbound events: the events of the change
 * feed written to jsonl:, file: or kafka:// once each across crashes. See
 * outsink.h.
 */
#include "outsink.h"

#include "codec.h"
#include "feed.h"
#include "filelog.h"
#include "json.h"
#include "log.h"
#include "logsrc.h"
#include "outkafka.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Where outbound events go: jsonl:PATH (JSON lines, appended), file:DIR
 * (protobuf OutboundEvent records in a file log) or kafka://.../TOPIC.
 *
 * Kafka, exactly once across restarts: records are produced (idempotent
 * producer), every delivery report is awaited, and only then does the
 * state's cursor move. A crash between the two leaves records in the topic
 * that the cursor does not cover. So the first publish of a state in a
 * process reads the topic back (gm_outkafka_scan) from a lower bound the
 * state keeps per partition (the "outmark" cursors: an offset below every
 * record not yet covered by the cursor) and skips, per partition, every
 * event up to the greatest position (change seq, index) found there with
 * the state's source id. A partition's records of one source are in
 * produce order (one idempotent producer per state at a time), so what a
 * crash left in the topic is a prefix per partition.
 */
struct ksource {
    int32_t id;
    bool recovered;
    struct gm_outkafka_pos *skip; /* by partition: the greatest position already there */
    int64_t *mark;                /* by partition: lower bound of offsets still to come */
    int64_t *stored;              /* by partition: the outmark as stored (offset + 1; 0 none) */
    double marks_at;              /* when the outmarks were last stored (0: due) */
};

struct gm_outsink {
    char *uri;
    const char *path; /* in uri: the jsonl file or the log folder */
    FILE *jsonl;
    struct gm_filelog *log;
    struct gm_outkafka *kafka;
    struct ksource *sources;
    size_t n_sources;
    uint64_t skipped; /* Kafka: events found in the topic already, not produced again */
    long crash_after; /* test seam: SIGKILL after this many Kafka deliveries (0: never) */
    uint8_t **bufs;
    size_t *lens;
    size_t n, cap;
    uint64_t written;
    bool shared;   /* several states write here: no resume by size (gm_outsink_set_shared) */
    bool resumed;  /* what a crashed run wrote past the cursor is known */
    uint64_t skip; /* events of the feed from the cursor on already written */
};

/* Changes per Kafka round (one flush and one cursor move). */
#define KAFKA_ROUND        5000
#define KAFKA_FLUSH_MS     120000 /* above message.timeout.ms: reports come first */
#define KAFKA_SCAN_MS      60000  /* the longest silence while reading back */
#define KAFKA_MARK_EVERY_S 10.0

static int
sink_flush(struct gm_outsink *o)
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
    struct gm_outsink *o = ctx;
    if (o->skip) {
        o->skip--;
        return 0;
    }
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

int
gm_outsink_open(const char *uri, struct gm_outsink **out, struct gm_err *err)
{
    struct gm_outsink *o = calloc(1, sizeof *o);
    if (!o)
        abort();
    *out = o;
    if (!(o->uri = strdup(uri)))
        abort();
    enum gm_logsrc_scheme scheme;
    const char *rest;
    int rc = gm_logsrc_uri_parse(uri, &scheme, &rest, err);
    if (rc)
        return rc;
    o->path = o->uri + (rest - uri);
    if (scheme == GM_LOGSRC_JSONL) {
        o->jsonl = strcmp(rest, "-") == 0 ? stdout : fopen(rest, "a");
        if (!o->jsonl)
            return gm_err_set(err, -errno, "%s: %s", rest, strerror(errno));
        return 0;
    }
    if (scheme == GM_LOGSRC_FILE)
        return gm_filelog_open(rest, NULL, &o->log, err);
    if (scheme == GM_LOGSRC_KAFKA) {
        const char *crash = getenv("GAMIFY_TEST_OUT_KILL_AFTER");
        o->crash_after = crash ? strtol(crash, NULL, 10) : 0;
        return gm_outkafka_open(rest, &o->kafka, err);
    }
    return gm_err_set(err, GM_EUNSUPPORTED,
                      "--out %s: only jsonl:, file: and kafka:// are supported here", uri);
}

void
gm_outsink_close(struct gm_outsink *o)
{
    if (!o)
        return;
    sink_flush(o);
    if (o->jsonl && o->jsonl != stdout)
        fclose(o->jsonl);
    gm_filelog_close(o->log);
    if (o->kafka) {
        gm_outkafka_flush(o->kafka, 10000, NULL);
        gm_outkafka_close(o->kafka);
    }
    for (size_t i = 0; i < o->n_sources; i++) {
        free(o->sources[i].skip);
        free(o->sources[i].mark);
        free(o->sources[i].stored);
    }
    free(o->sources);
    free(o->bufs);
    free(o->lens);
    free(o->uri);
    free(o);
}

uint64_t
gm_outsink_written(const struct gm_outsink *o)
{
    return o ? o->written : 0;
}

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The Kafka bookkeeping of source, made on first use. */
static struct ksource *
ksource_get(struct gm_outsink *o, int32_t id)
{
    for (size_t i = 0; i < o->n_sources; i++) {
        if (o->sources[i].id == id)
            return &o->sources[i];
    }
    o->sources = realloc(o->sources, (o->n_sources + 1) * sizeof *o->sources);
    if (!o->sources)
        abort();
    size_t np = (size_t)gm_outkafka_partitions(o->kafka);
    struct ksource *src = &o->sources[o->n_sources++];
    *src = (struct ksource){.id = id};
    src->skip = calloc(np, sizeof *src->skip);
    src->mark = calloc(np, sizeof *src->mark);
    src->stored = calloc(np, sizeof *src->stored);
    if (!src->skip || !src->mark || !src->stored)
        abort();
    return src;
}

static char *
mark_name(const struct gm_outsink *o, int32_t partition)
{
    char *name;
    if (asprintf(&name, "outmark:%s:%d", o->uri, (int)partition) < 0)
        abort();
    return name;
}

/* Reads back what the topic holds of src past its outmarks (see above). */
static int
kafka_recover(struct gm_outsink *o, struct gm_state *st, struct ksource *src, int64_t cursor,
              struct gm_err *err)
{
    int32_t np = gm_outkafka_partitions(o->kafka);
    struct gm_outkafka_tail *tails = calloc((size_t)np, sizeof *tails);
    if (!tails)
        abort();
    int rc = 0;
    for (int32_t p = 0; p < np && rc == 0; p++) {
        char *name = mark_name(o, p);
        rc = gm_state_cursor_get(st, name, &src->stored[p]);
        free(name);
        tails[p].from = src->stored[p] > 0 ? src->stored[p] - 1 : 0;
    }
    if (rc) {
        rc = gm_err_set(err, rc, "--out %s: reading the state's outmarks", o->uri);
        goto out;
    }
    double t0 = mono_s();
    if ((rc = gm_outkafka_scan(o->kafka, src->id, tails, KAFKA_SCAN_MS, err)))
        goto out;
    uint64_t records = 0;
    int64_t ahead = -1;
    for (int32_t p = 0; p < np; p++) {
        src->skip[p] = tails[p].last;
        src->mark[p] = tails[p].end;
        records += tails[p].records;
        if (tails[p].last.seq >= cursor && tails[p].last.seq > ahead)
            ahead = tails[p].last.seq;
    }
    src->recovered = true;
    src->marks_at = 0;
    if (ahead >= 0)
        gm_log(GM_LOG_WARN,
               "--out %s: source %d: the topic already holds outbound events up to change %lld, "
               "past the state's cursor %lld (a stop between delivery and the cursor): those "
               "are not produced again",
               o->uri, (int)src->id, (long long)ahead, (long long)cursor);
    gm_log(GM_LOG_INFO, "--out %s: source %d: read back %llu records in %.2f s", o->uri,
           (int)src->id, (unsigned long long)records, mono_s() - t0);
out:
    free(tails);
    return rc;
}

/* Stores the outmarks that moved (one small transaction each), at most
 * every KAFKA_MARK_EVERY_S: an older mark is still a lower bound. */
static int
kafka_store_marks(struct gm_outsink *o, struct gm_state *st, struct ksource *src,
                  struct gm_err *err)
{
    double now = mono_s();
    if (src->marks_at && now - src->marks_at < KAFKA_MARK_EVERY_S)
        return 0;
    src->marks_at = now;
    int32_t np = gm_outkafka_partitions(o->kafka);
    for (int32_t p = 0; p < np; p++) {
        int64_t d = gm_outkafka_delivered(o->kafka, p);
        if (d + 1 > src->mark[p])
            src->mark[p] = d + 1;
        if (src->mark[p] + 1 <= src->stored[p])
            continue;
        char *name = mark_name(o, p);
        int rc = gm_state_cursor_set(st, name, src->mark[p] + 1, err);
        free(name);
        if (rc)
            return rc;
        src->stored[p] = src->mark[p] + 1;
    }
    return 0;
}

/* Where the output ends now (jsonl: bytes, file log: its end offset); -1
 * when it cannot tell (standard output). */
static int64_t
sink_pos(struct gm_outsink *o)
{
    if (o->shared)
        return -1;
    if (o->log)
        return (int64_t)gm_filelog_end(o->log);
    struct stat sb;
    if (o->jsonl == stdout || fflush(o->jsonl) || fstat(fileno(o->jsonl), &sb))
        return -1;
    return (int64_t)sb.st_size;
}

/*
 * A run killed after writing events but before moving the cursor wrote the
 * events that follow the cursor (the feed gives the same ones in the same
 * order): counts those past pos so that they are not written twice, and cuts
 * a line the crash tore.
 */
static int
sink_resume(struct gm_outsink *o, int64_t pos, struct gm_err *err)
{
    o->skip = 0;
    if (pos < 0)
        return 0;
    if (o->log) {
        struct gm_filelog_reader *r;
        int rc = gm_filelog_reader_open(o->path, (uint64_t)pos, &r, err);
        if (rc)
            return rc;
        struct gm_filelog_rec rec;
        while ((rc = gm_filelog_reader_next(r, &rec)) == 1)
            o->skip++;
        if (rc < 0)
            gm_err_set(err, rc, "%s: %s", o->path, gm_filelog_reader_errmsg(r));
        gm_filelog_reader_close(r);
        return rc < 0 ? rc : 0;
    }
    if (o->jsonl == stdout)
        return 0;
    int fd = fileno(o->jsonl);
    struct stat sb;
    if (fflush(o->jsonl) || fstat(fd, &sb))
        return gm_err_set(err, -errno, "%s: %s", o->path, strerror(errno));
    if (sb.st_size < pos) {
        gm_log(GM_LOG_WARN,
               "%s is shorter (%lld bytes) than when outbound events were last "
               "written to it (%lld): appending after what is there",
               o->path, (long long)sb.st_size, (long long)pos);
        return 0;
    }
    int64_t keep = pos;
    char buf[65536];
    int rfd = open(o->path, O_RDONLY | O_CLOEXEC); /* the stream is write-only */
    if (rfd < 0)
        return gm_err_set(err, -errno, "%s: %s", o->path, strerror(errno));
    for (int64_t at = pos; at < sb.st_size;) {
        ssize_t n = pread(rfd, buf, sizeof buf, at);
        if (n <= 0) {
            int e = n ? errno : 0;
            close(rfd);
            return gm_err_set(err, e ? -e : GM_EIO, "%s: reading its tail: %s", o->path,
                              e ? strerror(e) : "short read");
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                o->skip++;
                keep = at + i + 1;
            }
        }
        at += n;
    }
    close(rfd);
    if (keep < sb.st_size) {
        gm_log(GM_LOG_WARN, "%s: cutting a torn last line (%lld bytes) written before a crash",
               o->path, (long long)(sb.st_size - keep));
        if (ftruncate(fd, keep) || fsync(fd))
            return gm_err_set(err, -errno, "%s: %s", o->path, strerror(errno));
    }
    return 0;
}

struct kround {
    struct gm_outsink *o;
    struct ksource *src;
    struct gm_err *err;
};

static int
kafka_change(void *ctx, const struct gm_change *ch)
{
    struct kround *kr = ctx;
    struct gm_outsink *o = kr->o;
    for (size_t i = 0; i < ch->n_outbound; i++) {
        const Gamification__V1__OutboundEvent *oev = ch->outbound[i];
        int32_t part = gm_outkafka_partition_of(o->kafka, oev->user_id);
        struct gm_outkafka_pos pos = {kr->src->id, ch->seq, (int32_t)i};
        const struct gm_outkafka_pos *done = &kr->src->skip[part];
        if (pos.seq < done->seq || (pos.seq == done->seq && pos.index <= done->index)) {
            o->skipped++;
            continue;
        }
        uint8_t *buf;
        size_t len;
        int rc = gm_outbound_encode(oev, &buf, &len);
        if (rc)
            return gm_err_set(kr->err, rc, "encoding outbound event %s", oev->event_id);
        rc = gm_outkafka_produce(o->kafka, part, oev->user_id, buf, len, oev->event_id, &pos,
                                 kr->err);
        free(buf);
        if (rc)
            return rc;
        o->written++;
    }
    return 0;
}

static int
trimmed_error(const char *uri, int64_t seq, struct gm_err *err)
{
    return gm_err_set(err, GM_ENOTFOUND,
                      "writing outbound events to %s: the change feed before change %lld "
                      "was trimmed (this output is new to a state whose feed no output "
                      "held back): replay the log with --out %s into a fresh state to "
                      "write them",
                      uri, (long long)seq, uri);
}

/* Publishes to Kafka in rounds: produce, await every report, move the cursor. */
static int
kafka_publish(struct gm_outsink *o, struct gm_state *st, int32_t source, const char *name,
              struct gm_err *err)
{
    struct ksource *src = ksource_get(o, source);
    int64_t seq;
    int rc = gm_state_cursor_get(st, name, &seq);
    if (rc)
        return gm_err_set(err, rc, "--out %s: reading the state's cursor", o->uri);
    if (!src->recovered && (rc = kafka_recover(o, st, src, seq, err)))
        return rc;
    for (;;) {
        struct gm_feed *f;
        if ((rc = gm_feed_open(st, &f)))
            return gm_err_set(err, rc, "--out %s: reading the change feed", o->uri);
        int64_t next = seq;
        struct kround kr = {o, src, err};
        if (seq < gm_feed_end(f))
            rc = gm_feed_changes(f, seq, KAFKA_ROUND, kafka_change, &kr, &next);
        gm_feed_close(f);
        if (rc == 0 && next == seq)
            return 0;
        if (rc == 0)
            rc = gm_outkafka_flush(o->kafka, KAFKA_FLUSH_MS, err);
        if (rc) {
            /* records of this round may be in the topic or on their way:
             * the next publish reads the topic back first */
            src->recovered = false;
            if (rc == GM_ENOTFOUND)
                return trimmed_error(o->uri, seq, err);
            if (!err || !err->msg[0])
                gm_err_set(err, rc, "writing outbound events to %s: %s", o->uri, gm_strerror(rc));
            return rc;
        }
        if (o->crash_after > 0 && (long)o->written >= o->crash_after)
            raise(SIGKILL); /* test seam: delivered, cursor not moved */
        if ((rc = gm_state_cursor_set(st, name, next, err)) ||
            (rc = kafka_store_marks(o, st, src, err)))
            return rc;
        seq = next;
    }
}

int
gm_outsink_publish_part(struct gm_outsink *o, struct gm_state *st, int32_t partition,
                        struct gm_err *err)
{
    const char *uri = o->uri;
    char *name; /* the whole URI: two outputs never share a cursor */
    if (asprintf(&name, "out:%s", uri) < 0)
        abort();
    int64_t seq, pos;
    int rc;
    if (o->kafka) {
        rc = kafka_publish(o, st, partition, name, err);
        free(name);
        return rc;
    }
    rc = gm_state_cursor_get_pos(st, name, &seq, &pos);
    /* the output's size tells what a crash wrote past the cursor only when
     * this state alone writes to it (gm_outsink_set_shared) */
    if (rc == 0 && !o->resumed && !o->shared) {
        if ((rc = sink_resume(o, pos, err))) {
            free(name);
            return rc;
        }
        if (o->skip)
            gm_log(GM_LOG_INFO,
                   "%s: %llu outbound events past the cursor were written before "
                   "a crash; not writing them again",
                   uri, (unsigned long long)o->skip);
        o->resumed = true;
    }
    if (rc == 0)
        rc = gm_state_outbound_foreach(st, &seq, sink_write, o);
    if (rc == 0)
        rc = sink_flush(o);
    if (rc == GM_ENOTFOUND) {
        free(name);
        return trimmed_error(uri, seq, err);
    }
    if (rc) {
        free(name);
        return gm_err_set(err, rc, "writing outbound events to %s: %s", uri, gm_strerror(rc));
    }
    /* test seam: die like kill -9 between writing events and moving the
     * cursor, at the Nth write (tests/processor/run-e2e.sh out-crash) */
    static int crash_in = -1;
    if (crash_in < 0) {
        const char *e = getenv("GAMIFY_TEST_CRASH_AFTER_OUT");
        crash_in = e ? atoi(e) : 0;
    }
    if (crash_in > 0 && o->written > 0 && --crash_in == 0)
        raise(SIGKILL);
    if (o->skip) {
        /* fewer events than the crashed run wrote: the output is not ours */
        gm_log(GM_LOG_WARN, "%s: %llu lines past the cursor match no outbound event", uri,
               (unsigned long long)o->skip);
        o->skip = 0;
    }
    rc = gm_state_cursor_set_pos(st, name, seq, sink_pos(o), err);
    free(name);
    return rc;
}

int
gm_outsink_publish(struct gm_outsink *o, struct gm_state *st, struct gm_err *err)
{
    return gm_outsink_publish_part(o, st, 0, err);
}

void
gm_outsink_set_shared(struct gm_outsink *o)
{
    if (o)
        o->shared = true;
}

void
gm_outsink_forget(struct gm_outsink *o, int32_t partition)
{
    for (size_t i = 0; o && o->kafka && i < o->n_sources; i++) {
        if (o->sources[i].id == partition)
            o->sources[i].recovered = false;
    }
}

uint64_t
gm_outsink_skipped(const struct gm_outsink *o)
{
    return o ? o->skipped : 0;
}

const char *
gm_outsink_uri(const struct gm_outsink *o)
{
    return o->uri;
}
