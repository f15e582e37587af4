/*
 * logsrc.c: input logs by URI (see logsrc.h). The file log is a thin
 * wrapper over the filelog reader; JSON lines are read through a buffer
 * bounded by GM_JSON_MAX, so an overlong line is skipped and reported, never
 * held in memory whole.
 */
#include "logsrc.h"
#include "filelog.h"
#include "json.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_BYTES ((size_t)GM_JSON_MAX)
#define READ_CHUNK     (64u << 10)
#define BUF_MAX        (LINE_MAX_BYTES + READ_CHUNK)

struct gm_logsrc {
    enum gm_logsrc_scheme scheme;
    struct gm_filelog_reader *fr;
    /* jsonl */
    char *path;
    int fd;
    int inotify_fd;
    bool own_fd;
    uint8_t *buf;
    size_t cap;
    size_t start;     /* first unconsumed byte in buf */
    size_t len;       /* bytes in buf */
    uint64_t buf_off; /* file offset of buf[0] */
    uint64_t line;    /* lines consumed */
    bool lines_known; /* read from offset 0, so line numbers are right */
    bool skipping;    /* inside an overlong line */
    uint64_t skip_from;
    bool tail_noted; /* an unended last line at tail_at was reported */
    uint64_t tail_at;
    char errmsg[GM_ERR_MSG_MAX];
};

static int src_fail(struct gm_logsrc *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
src_fail(struct gm_logsrc *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

int
gm_logsrc_uri_parse(const char *uri, enum gm_logsrc_scheme *scheme, const char **rest,
                    struct gm_err *err)
{
    const char *p;
    if (strncmp(uri, "file:", 5) == 0) {
        *scheme = GM_LOGSRC_FILE;
        p = uri + 5;
        if (strncmp(p, "//", 2) == 0)
            p += 2;
    } else if (strncmp(uri, "jsonl:", 6) == 0) {
        *scheme = GM_LOGSRC_JSONL;
        p = uri + 6;
    } else if (strncmp(uri, "kafka://", 8) == 0) {
        *scheme = GM_LOGSRC_KAFKA;
        p = uri + 8;
    } else {
        return gm_err_set(err, GM_EINVAL,
                          "log URI '%s': expected file:DIR, jsonl:PATH or "
                          "kafka://HOST:PORT/TOPIC",
                          uri);
    }
    if (*p == '\0')
        return gm_err_set(err, GM_EINVAL, "log URI '%s': empty path", uri);
    *rest = p;
    return 0;
}

static int
jsonl_open(struct gm_logsrc *s, const char *path, uint64_t from, struct gm_err *err)
{
    s->path = strdup(path);
    if (!s->path)
        abort();
    s->lines_known = from == 0;
    s->buf_off = from;
    if (strcmp(path, "-") == 0) {
        if (from != 0)
            return gm_err_set(err, GM_EINVAL, "jsonl:-: standard input can only be read from 0");
        s->fd = STDIN_FILENO;
        return 0;
    }
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0)
        return gm_err_set(err, -errno, "%s: %s", path, strerror(errno));
    s->own_fd = true;
    if (from == 0)
        return 0;
    struct stat st;
    if (fstat(s->fd, &st) < 0)
        return gm_err_set(err, -errno, "%s: %s", path, strerror(errno));
    if (from > (uint64_t)st.st_size)
        return gm_err_set(err, GM_EINVAL, "%s: offset %" PRIu64 " is past the end (%jd)", path,
                          from, (intmax_t)st.st_size);
    /* The start of a line; or the end of a last line that was read
     * without its newline (whole JSON), which the log now ends there or
     * with that newline. */
    char c, after;
    if (pread(s->fd, &c, 1, (off_t)(from - 1)) != 1 ||
        (c != '\n' && from != (uint64_t)st.st_size &&
         (pread(s->fd, &after, 1, (off_t)from) != 1 || (after != '\n' && after != '\r'))))
        return gm_err_set(err, GM_EINVAL, "%s: offset %" PRIu64 " is not the start of a line", path,
                          from);
    if (lseek(s->fd, (off_t)from, SEEK_SET) < 0)
        return gm_err_set(err, -errno, "%s: %s", path, strerror(errno));
    return 0;
}

int
gm_logsrc_open(const char *uri, uint64_t from, struct gm_logsrc **out, struct gm_err *err)
{
    int rc;
    const char *rest;
    struct gm_logsrc *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    *out = NULL;
    s->fd = s->inotify_fd = -1;
    if ((rc = gm_logsrc_uri_parse(uri, &s->scheme, &rest, err)) < 0)
        goto out;
    switch (s->scheme) {
    case GM_LOGSRC_FILE:
        rc = gm_filelog_reader_open(rest, from, &s->fr, err);
        break;
    case GM_LOGSRC_JSONL:
        rc = jsonl_open(s, rest, from, err);
        break;
    case GM_LOGSRC_KAFKA:
        rc = gm_err_set(err, GM_EUNSUPPORTED,
                        "%s: Kafka logs are not supported yet; use file:DIR or jsonl:PATH", uri);
        break;
    }
out:
    if (rc < 0) {
        gm_logsrc_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

static bool
blank(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

/* Whether the n bytes at p are one whole JSON value (the last line of a
 * jsonl: log, which has no newline: complete, or still being written). */
static bool
whole_json(const uint8_t *p, size_t n)
{
    json_error_t e;
    json_t *v = json_loadb((const char *)p, n, JSON_DECODE_ANY, &e);
    if (!v)
        return false;
    json_decref(v);
    return true;
}

/* Reads more input into the buffer: bytes read, 0 at end of file, -errno. */
static ssize_t
jsonl_fill(struct gm_logsrc *s)
{
    if (s->start > 0) {
        memmove(s->buf, s->buf + s->start, s->len - s->start);
        s->len -= s->start;
        s->buf_off += s->start;
        s->start = 0;
    }
    if (s->cap - s->len < READ_CHUNK && s->cap < BUF_MAX) {
        size_t cap = s->cap ? s->cap * 2 : READ_CHUNK * 2;
        if (cap > BUF_MAX)
            cap = BUF_MAX;
        s->buf = realloc(s->buf, cap);
        if (!s->buf)
            abort();
        s->cap = cap;
    }
    for (;;) {
        ssize_t got = read(s->fd, s->buf + s->len, s->cap - s->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -errno;
        s->len += (size_t)got;
        return got;
    }
}

static int
jsonl_next(struct gm_logsrc *s, struct gm_record *rec)
{
    for (;;) {
        uint8_t *p = s->buf + s->start;
        size_t avail = s->len - s->start;
        uint8_t *nl = avail ? memchr(p, '\n', avail) : NULL;
        if (s->skipping) {
            if (!nl) {
                s->start = s->len; /* drop what we have of the overlong line */
                ssize_t got = jsonl_fill(s);
                if (got < 0)
                    return src_fail(s, (int)got, "%s: %s", s->path, strerror((int)-got));
                if (got > 0)
                    continue;
                /* The file ends inside the overlong line. */
            }
            s->skipping = false;
            s->line++;
            rec->data = NULL;
            rec->len = 0;
            rec->offset = s->skip_from;
            s->start = nl ? (size_t)(nl - s->buf) + 1 : s->len;
            rec->next = s->buf_off + s->start;
            rec->line = s->lines_known ? s->line : 0;
            return src_fail(s, GM_ETOOBIG, "%s: line longer than %zu bytes", s->path,
                            LINE_MAX_BYTES);
        }
        if (!nl && avail > LINE_MAX_BYTES) {
            s->skipping = true;
            s->skip_from = s->buf_off + s->start;
            continue;
        }
        if (!nl) {
            ssize_t got = jsonl_fill(s);
            if (got < 0)
                return src_fail(s, (int)got, "%s: %s", s->path, strerror((int)-got));
            if (got > 0)
                continue;
            if (avail == 0)
                return 0;
            /* A last line without a newline is a record only when it is
             * whole JSON: otherwise it may be a line still being written
             * (a log that grows while it is read), and taking its first
             * part would lose the event and leave the next read in the
             * middle of a line. It is left unread until its newline comes
             * (then it is a record however it reads, DECODE if broken). */
            p = s->buf + s->start;
            if (!blank(p, avail) && !whole_json(p, avail)) {
                uint64_t at = s->buf_off + s->start;
                if (!s->tail_noted || s->tail_at != at)
                    gm_log(GM_LOG_WARN,
                           "%s: the last line (offset %" PRIu64 ", %zu bytes) has no newline "
                           "and is not whole JSON: left unread until its newline comes",
                           s->path, at, avail);
                s->tail_noted = true;
                s->tail_at = at;
                return 0;
            }
            nl = p + avail;
        }
        size_t n = (size_t)(nl - p);
        uint64_t offset = s->buf_off + s->start;
        s->start += n + (nl < s->buf + s->len ? 1 : 0);
        s->line++;
        if (n > LINE_MAX_BYTES) {
            rec->data = NULL;
            rec->len = 0;
            rec->offset = offset;
            rec->next = s->buf_off + s->start;
            rec->line = s->lines_known ? s->line : 0;
            return src_fail(s, GM_ETOOBIG, "%s: line longer than %zu bytes", s->path,
                            LINE_MAX_BYTES);
        }
        if (blank(p, n))
            continue;
        while (n > 0 && p[n - 1] == '\r')
            n--;
        rec->data = p;
        rec->len = n;
        rec->offset = offset;
        rec->next = s->buf_off + s->start;
        rec->line = s->lines_known ? s->line : 0;
        return 1;
    }
}

int
gm_logsrc_next(struct gm_logsrc *s, struct gm_record *rec)
{
    s->errmsg[0] = '\0';
    memset(rec, 0, sizeof *rec); /* jsonl carries no append time: 0 */
    if (s->scheme == GM_LOGSRC_JSONL)
        return jsonl_next(s, rec);
    struct gm_filelog_rec fr;
    int rc = gm_filelog_reader_next(s->fr, &fr);
    if (rc == 1) {
        rec->data = fr.data;
        rec->len = fr.len;
        rec->offset = fr.offset;
        rec->next = fr.next;
        rec->append_ms = fr.append_ms;
    }
    if (rc < 0)
        src_fail(s, rc, "%s", gm_filelog_reader_errmsg(s->fr));
    return rc;
}

bool
gm_logsrc_end(const struct gm_logsrc *s, uint64_t *end)
{
    return s->scheme == GM_LOGSRC_FILE && s->fr && gm_filelog_reader_end(s->fr, end) == 0;
}

int
gm_logsrc_wait(struct gm_logsrc *s, int timeout_ms)
{
    if (s->scheme == GM_LOGSRC_FILE) {
        int rc = gm_filelog_reader_wait(s->fr, timeout_ms);
        if (rc < 0)
            src_fail(s, rc, "%s", gm_filelog_reader_errmsg(s->fr));
        return rc;
    }
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    if (s->own_fd) {
        /* A regular file is always readable: watch it for writes instead. */
        if (s->inotify_fd < 0) {
            s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
            if (s->inotify_fd < 0)
                return src_fail(s, -errno, "inotify_init1: %s", strerror(errno));
            if (inotify_add_watch(s->inotify_fd, s->path, IN_MODIFY | IN_CLOSE_WRITE) < 0)
                return src_fail(s, -errno, "%s: inotify_add_watch: %s", s->path, strerror(errno));
            return 1;
        }
        pfd.fd = s->inotify_fd;
    }
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 1 : src_fail(s, -errno, "poll: %s", strerror(errno));
    if (n > 0 && s->own_fd) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (read(s->inotify_fd, buf, sizeof buf) > 0)
            ;
    }
    return n > 0;
}

enum gm_record_format
gm_logsrc_format(const struct gm_logsrc *s)
{
    return s->scheme == GM_LOGSRC_JSONL ? GM_RECORD_JSON : GM_RECORD_PROTOBUF;
}

const char *
gm_logsrc_errmsg(const struct gm_logsrc *s)
{
    return s->errmsg;
}

void
gm_logsrc_close(struct gm_logsrc *s)
{
    if (!s)
        return;
    gm_filelog_reader_close(s->fr);
    if (s->own_fd && s->fd >= 0)
        close(s->fd);
    if (s->inotify_fd >= 0)
        close(s->inotify_fd);
    free(s->buf);
    free(s->path);
    free(s);
}
