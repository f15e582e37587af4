/*
 * pump.c: one batch from a log source into the store, and outbound events
 * from the change feed to an output. See pump.h.
 */
#include "pump.h"

#include "codec.h"
#include "filelog.h"
#include "json.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
gm_pump_source_open(const char *uri, uint64_t from, struct gm_logsrc **src, struct gm_err *err)
{
    struct gm_err e;
    gm_err_clear(&e);
    int rc = gm_logsrc_open(uri, from, src, &e);
    if (rc == -ERANGE)
        return gm_err_set(
            err, rc,
            "the state is ahead of the log (%s): the log lost records the state had "
            "already folded (it was cut, replaced or restored from an older copy, "
            "or lost a tail written without fsync in a crash); rebuild the state "
            "from the log into a fresh folder: gamify replay --log %s --state NEW_DIR",
            e.msg, uri);
    if (rc && err)
        *err = e;
    return rc;
}

int
gm_pump_batch(struct gm_store *st, struct gm_logsrc *src, const char *uri, size_t max,
              const volatile sig_atomic_t *stop, size_t *n, uint64_t *next, struct gm_err *err)
{
    bool json = gm_logsrc_format(src) == GM_RECORD_JSON;
    int rc = 0;
    *n = 0;
    bool open = false;
    while (*n < max && !(stop && *stop)) {
        struct gm_record rec;
        int got = gm_logsrc_next(src, &rec);
        if (got == 0)
            break;
        if (!open) {
            if ((rc = gm_store_begin(st, err)))
                return rc;
            open = true;
        }
        if (got == GM_ETOOBIG) {
            rc = gm_store_dead_letter(st, (const uint8_t *)"", 0, json, rec.offset, "DECODE",
                                      gm_logsrc_errmsg(src), err);
        } else if (got < 0) {
            rc = gm_err_set(err, got, "reading %s at offset %llu: %s", uri,
                            (unsigned long long)*next, gm_logsrc_errmsg(src));
        } else {
            rc = gm_store_apply(st, rec.data, rec.len, json, rec.offset, rec.append_ms, err);
        }
        if (rc) {
            gm_store_abort(st);
            *n = 0;
            return rc;
        }
        *next = rec.next;
        (*n)++;
    }
    if (!open)
        return 0;
    return gm_store_commit(st, *next, err);
}

/*
 * Where `replay --out` writes outbound events: jsonl:PATH (JSON lines,
 * appended) or file:DIR (protobuf OutboundEvent records in a file log).
 */
struct gm_outsink {
    char *uri;
    const char *path; /* in uri: the jsonl file or the log folder */
    FILE *jsonl;
    struct gm_filelog *log;
    uint8_t **bufs;
    size_t *lens;
    size_t n, cap;
    uint64_t written;
    bool resumed;  /* what a crashed run wrote past the cursor is known */
    uint64_t skip; /* events of the feed from the cursor on already written */
};

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
    enum gm_log_scheme scheme;
    const char *rest;
    int rc = gm_log_uri_parse(uri, &scheme, &rest, err);
    if (rc)
        return rc;
    o->path = o->uri + (rest - uri);
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

void
gm_outsink_close(struct gm_outsink *o)
{
    if (!o)
        return;
    sink_flush(o);
    if (o->jsonl && o->jsonl != stdout)
        fclose(o->jsonl);
    gm_filelog_close(o->log);
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

/* Where the output ends now (jsonl: bytes, file log: its end offset); -1
 * when it cannot tell (standard output). */
static int64_t
sink_pos(struct gm_outsink *o)
{
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

int
gm_outsink_publish(struct gm_outsink *o, struct gm_store *st, struct gm_err *err)
{
    const char *uri = o->uri;
    char *name; /* the whole URI: two outputs never share a cursor */
    if (asprintf(&name, "out:%s", uri) < 0)
        abort();
    int64_t seq, pos;
    int rc = gm_store_cursor_get_pos(st, name, &seq, &pos);
    if (rc == 0 && !o->resumed) {
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
        rc = gm_store_outbound_foreach(st, &seq, sink_write, o);
    if (rc == 0)
        rc = sink_flush(o);
    if (rc == GM_ENOTFOUND) {
        free(name);
        return gm_err_set(err, rc,
                          "writing outbound events to %s: the change feed before change %lld "
                          "was trimmed (this output is new to a state whose feed no output "
                          "held back): replay the log with --out %s into a fresh state to "
                          "write them",
                          uri, (long long)seq, uri);
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
    rc = gm_store_cursor_set_pos(st, name, seq, sink_pos(o), err);
    free(name);
    return rc;
}

int64_t
gm_pump_release(struct gm_store *st, struct gm_outsink *o, int64_t hold)
{
    int64_t below = gm_store_change_end(st);
    if (hold < below)
        below = hold;
    if (o) {
        char *name;
        int64_t seq;
        if (asprintf(&name, "out:%s", o->uri) < 0)
            abort();
        if (gm_store_cursor_get(st, name, &seq) == 0 && seq < below)
            below = seq;
        free(name);
    }
    gm_store_trim_before(st, below);
    return below;
}
