/*
 * filelog.c: the embedded event log (`file:DIR`), see filelog.h.
 *
 * Appenders serialise on flock(DIR/LOCK). Under the lock an appender first
 * re-reads the tail (another appender may have appended or rolled since it
 * last looked: it follows the chain of segments, each named by where the
 * previous one ends, and validates the frames it has not seen), then writes
 * the call's frames with pwritev at the end of the last segment, rolling to
 * a new segment between records. A failed call truncates back. A torn tail
 * (a short last frame, a bad last frame, or a bad frame followed only by
 * zeros, as a crash can leave) is cut by the next appender; any other bad
 * frame is corruption and is reported, never cut. Every frame written
 * carries the append time (one clock reading per call, under the lock);
 * frames of the old form, written before it existed, read with time 0.
 * After its fdatasync a call moves the durable mark (DIR/DURABLE) to the
 * new end; opening an appender settles the mark (syncs and covers whole
 * frames past it, moves back a mark past the end).
 *
 * Readers read through a buffer that grows to the largest frame (bounded by
 * GM_FILELOG_RECORD_MAX) and never trust a length read from disk past that
 * bound. They treat an unfinished frame at the end of the last segment as
 * the end of the log, and drop their buffer there so that bytes rewritten
 * after a cut are read afresh. They return no record that ends past the
 * mark, reading it again when they reach it (a log without one is of an
 * older version: durable to its end).
 */
#include "filelog.h"
#include "crc32c.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/*
 * A frame's length word: the payload length in the low 24 bits (payloads
 * are at most 2 MiB), flags in the top byte. FRAME_TIMED: an 8-byte append
 * time follows the CRC. The other flag bits are reserved: a frame with one
 * set is bad, like a length over the limit.
 */
#define FRAME_LEN_MASK        0x00ffffffu
#define FRAME_TIMED           0x80000000u
#define FRAME_RESERVED        0x7f000000u
#define FRAME_HDR_OLD         8  /* len, crc */
#define FRAME_HDR             16 /* len | FRAME_TIMED, crc, append_ms: what appenders write */
#define FRAME_MAX             (FRAME_HDR + (size_t)GM_FILELOG_RECORD_MAX)
#define SEG_NAME_SIZE         32 /* 20 digits + ".seg" + NUL, rounded up */
#define SEG_DIGITS            20
#define DEFAULT_SEGMENT_BYTES (64ull << 20)
#define RBUF_INITIAL          (256u << 10)
#define MARK_NAME             "DURABLE"
#define MARK_TMP_NAME         "DURABLE.new"
#define MARK_SIZE             16  /* "GMD1", end:u64le, crc:u32le */
#define MARK_READ_TRIES       20  /* a reader can meet a rewrite; 1 ms apart */
#define IOV_BATCH             512 /* iovecs per pwritev, below IOV_MAX (1024) */
#define ERRMSG_MAX            320

/* ---- helpers shared by appenders and readers ---- */

static void
seg_name(char *buf, uint64_t base)
{
    snprintf(buf, SEG_NAME_SIZE, "%020" PRIu64 ".seg", base);
}

static bool
seg_parse(const char *name, uint64_t *base)
{
    uint64_t v = 0;
    for (int i = 0; i < SEG_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (strcmp(name + SEG_DIGITS, ".seg") != 0)
        return false;
    *base = v;
    return true;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the segment bases in dir, sorted. *out is new (free()); may be NULL when *n is 0. */
static int
seg_list(const char *dir, uint64_t **out, size_t *n)
{
    int rc = 0;
    size_t cap = 0, len = 0;
    uint64_t *v = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t base;
        if (!seg_parse(de->d_name, &base))
            continue;
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            v = realloc(v, cap * sizeof *v);
            if (!v)
                abort();
        }
        v[len++] = base;
    }
    if (errno) {
        rc = -errno;
        goto out;
    }
    if (len > 0)
        qsort(v, len, sizeof *v, cmp_u64);
out:
    closedir(d);
    if (rc) {
        free(v);
        v = NULL;
        len = 0;
    }
    *out = v;
    *n = len;
    return rc;
}

static bool
seg_exists(int dirfd, uint64_t base)
{
    char name[SEG_NAME_SIZE];
    seg_name(name, base);
    return faccessat(dirfd, name, F_OK, 0) == 0;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t
get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/*
 * Fills hdr (FRAME_HDR bytes) for a payload appended at append_ms. The CRC
 * covers every byte of the frame but its own four: the length word, the
 * append time, the payload.
 */
static void
frame_header(uint8_t *hdr, const void *payload, size_t len, int64_t append_ms)
{
    put_le32(hdr, (uint32_t)len | FRAME_TIMED);
    put_le64(hdr + 8, (uint64_t)append_ms);
    uint32_t crc = gm_crc32c(0, hdr, 4);
    crc = gm_crc32c(crc, hdr + 8, 8);
    crc = gm_crc32c(crc, payload, len);
    put_le32(hdr + 4, crc);
}

/*
 * A read buffer over one file: holds bytes [boff, boff + blen). Grows to
 * the largest frame asked for, never past FRAME_MAX.
 */
struct rbuf {
    int fd;
    uint8_t *buf;
    size_t cap;
    uint64_t boff;
    size_t blen;
};

static void
rbuf_init(struct rbuf *rb, int fd)
{
    rb->fd = fd;
    rb->buf = NULL;
    rb->cap = 0;
    rb->boff = 0;
    rb->blen = 0;
}

static void
rbuf_deinit(struct rbuf *rb)
{
    free(rb->buf);
    rbuf_init(rb, -1);
}

/* Forgets the buffered bytes (the file may have been cut and rewritten). */
static void
rbuf_drop(struct rbuf *rb)
{
    rb->blen = 0;
}

/* Forgets the buffered bytes from file offset off on. */
static void
rbuf_clip(struct rbuf *rb, uint64_t off)
{
    if (off <= rb->boff)
        rb->blen = 0;
    else if (off - rb->boff < rb->blen)
        rb->blen = (size_t)(off - rb->boff);
}

/*
 * Makes [off, off + need) available at *p. Returns how many bytes from off
 * are available (less than need only at the end of the file), or -errno.
 */
static ssize_t
rbuf_get(struct rbuf *rb, uint64_t off, size_t need, const uint8_t **p)
{
    if (need > FRAME_MAX)
        abort(); /* callers bound need */
    if (off >= rb->boff && off - rb->boff <= rb->blen && off - rb->boff + need <= rb->blen) {
        *p = rb->buf + (off - rb->boff);
        return (ssize_t)need;
    }
    if (off >= rb->boff && off - rb->boff < rb->blen) {
        size_t skip = (size_t)(off - rb->boff);
        memmove(rb->buf, rb->buf + skip, rb->blen - skip);
        rb->blen -= skip;
    } else {
        rb->blen = 0;
    }
    rb->boff = off;
    if (rb->cap < need || rb->cap == 0) {
        size_t cap = rb->cap ? rb->cap : RBUF_INITIAL;
        while (cap < need)
            cap *= 2;
        if (cap > FRAME_MAX)
            cap = FRAME_MAX;
        rb->buf = realloc(rb->buf, cap);
        if (!rb->buf)
            abort();
        rb->cap = cap;
    }
    while (rb->blen < need) {
        ssize_t got =
            pread(rb->fd, rb->buf + rb->blen, rb->cap - rb->blen, (off_t)(rb->boff + rb->blen));
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (got == 0)
            break;
        rb->blen += (size_t)got;
    }
    *p = rb->buf;
    return (ssize_t)(rb->blen < need ? rb->blen : need);
}

enum frame_state {
    FR_OK,
    FR_EOF,    /* no byte at off */
    FR_SHORT,  /* the file ends inside the frame */
    FR_BADLEN, /* the length is over GM_FILELOG_RECORD_MAX, or a reserved flag is set */
    FR_BADCRC, /* complete, but the checksum does not match */
};

/* What frame_at found. */
struct frame {
    enum frame_state st;
    uint32_t word;       /* the length word as read (FR_BADLEN, FR_BADCRC, FR_OK) */
    uint32_t len;        /* the payload length (FR_BADCRC, FR_OK) */
    uint32_t hdr;        /* header bytes: FRAME_HDR_OLD or FRAME_HDR (FR_BADCRC, FR_OK) */
    int64_t append_ms;   /* FR_OK: the append time; 0 for a frame of the old form */
    const uint8_t *data; /* FR_OK: the payload, borrowed from the rbuf until its next use */
};

/* The frame's size in bytes: header and payload. */
static uint64_t
frame_size(const struct frame *fr)
{
    return (uint64_t)fr->hdr + fr->len;
}

/* Looks at the frame at file offset off. Returns 0 (fr says what it found) or -errno. */
static int
frame_at(struct rbuf *rb, uint64_t off, struct frame *fr)
{
    const uint8_t *p = NULL;
    memset(fr, 0, sizeof *fr);
    ssize_t got = rbuf_get(rb, off, FRAME_HDR_OLD, &p);
    if (got < 0)
        return (int)got;
    if (got == 0) {
        fr->st = FR_EOF;
        return 0;
    }
    if (got < FRAME_HDR_OLD) {
        fr->st = FR_SHORT;
        return 0;
    }
    fr->word = get_le32(p);
    fr->len = fr->word & FRAME_LEN_MASK;
    if (fr->len > GM_FILELOG_RECORD_MAX || (fr->word & FRAME_RESERVED)) {
        fr->st = FR_BADLEN;
        return 0;
    }
    fr->hdr = fr->word & FRAME_TIMED ? FRAME_HDR : FRAME_HDR_OLD;
    got = rbuf_get(rb, off, fr->hdr + fr->len, &p);
    if (got < 0)
        return (int)got;
    if ((size_t)got < fr->hdr + fr->len) {
        fr->st = FR_SHORT;
        return 0;
    }
    /* Every byte but the CRC's own: the length word, then from byte 8 on. */
    uint32_t crc = gm_crc32c(0, p, 4);
    crc = gm_crc32c(crc, p + FRAME_HDR_OLD, fr->hdr - FRAME_HDR_OLD + fr->len);
    if (crc != get_le32(p + 4)) {
        fr->st = FR_BADCRC;
        return 0;
    }
    fr->st = FR_OK;
    if (fr->word & FRAME_TIMED)
        fr->append_ms = (int64_t)get_le64(p + FRAME_HDR_OLD);
    fr->data = p + fr->hdr;
    return 0;
}

/* Why a FR_BADLEN frame is bad, for messages. */
static void
badlen_reason(char *buf, size_t cap, const struct frame *fr)
{
    if (fr->len > GM_FILELOG_RECORD_MAX)
        snprintf(buf, cap, "length %" PRIu32 " is over the limit of %u", fr->len,
                 GM_FILELOG_RECORD_MAX);
    else
        snprintf(buf, cap, "unknown flags 0x%02" PRIx32 " in its length word", fr->word >> 24);
}

/* Whether every byte of fd from off to its end is zero: 1, 0, or -errno. */
static int
rest_is_zero(int fd, uint64_t off)
{
    uint8_t buf[8192];
    for (;;) {
        ssize_t got = pread(fd, buf, sizeof buf, (off_t)off);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (got == 0)
            return 1;
        for (ssize_t i = 0; i < got; i++)
            if (buf[i])
                return 0;
        off += (uint64_t)got;
    }
}

static int
file_size(int fd, uint64_t *size)
{
    struct stat stbuf;
    if (fstat(fd, &stbuf) < 0)
        return -errno;
    *size = (uint64_t)stbuf.st_size;
    return 0;
}

/* ---- the durable mark (DIR/DURABLE) ---- */

/*
 * The mark is MARK_SIZE bytes: "GMD1", the global offset up to which the
 * log is durable (u64le), and the CRC-32C of those 12 bytes (u32le). An
 * appender rewrites it in place with one pwrite after its fdatasync, under
 * the lock. It is never synced itself: it is only written after the data it
 * names, so after a crash it can be behind the durable end, never ahead.
 */
static void
mark_encode(uint8_t *buf, uint64_t end)
{
    memcpy(buf, "GMD1", 4);
    put_le64(buf + 4, end);
    put_le32(buf + 12, gm_crc32c(0, buf, 12));
}

/*
 * Reads the mark from fd into *end. An empty or all-zero file (a crash can
 * leave one) is a mark of 0: behind, so safe. A bad mark is read again, up
 * to tries times 1 ms apart (a read can meet a rewrite), then GM_ECORRUPT.
 * Returns 0, GM_ECORRUPT or -errno.
 */
static int
mark_read(int fd, int tries, uint64_t *end)
{
    uint8_t buf[MARK_SIZE];
    for (int i = 1;; i++) {
        ssize_t got = pread(fd, buf, sizeof buf, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -errno;
        bool zero = true;
        for (ssize_t k = 0; k < got; k++)
            zero = zero && buf[k] == 0;
        if (zero) {
            *end = 0;
            return 0;
        }
        if (got == MARK_SIZE && memcmp(buf, "GMD1", 4) == 0 &&
            get_le32(buf + 12) == gm_crc32c(0, buf, 12)) {
            *end = get_le64(buf + 4);
            return 0;
        }
        if (i >= tries)
            return GM_ECORRUPT;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

/* ---- appender ---- */

/* The wall clock in milliseconds since 1970: a record's append time. */
static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct gm_filelog {
    char *dir;
    int dirfd;
    int lockfd;
    int segfd;         /* the last segment, as far as this appender knows */
    uint64_t seg_base; /* its global offset */
    uint64_t seg_size; /* bytes of it known to hold whole, good frames */
    uint64_t seg_bytes;
    int markfd; /* DIR/DURABLE */
    enum gm_fsync_policy fsync;
    bool hold_lock;
    char errmsg[ERRMSG_MAX];
};

/* Whether the policy syncs at all. */
static bool
syncs(const struct gm_filelog *log)
{
    return log->fsync == GM_FSYNC_BATCH || log->fsync == GM_FSYNC_ALWAYS;
}

static int log_fail(struct gm_filelog *log, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
log_fail(struct gm_filelog *log, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(log->errmsg, sizeof log->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

static int
mkdir_p(const char *path)
{
    int rc = 0;
    char *p = strdup(path);
    if (!p)
        abort();
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            rc = -errno;
            goto out;
        }
        *s = '/';
    }
    if (mkdir(p, 0755) < 0 && errno != EEXIST)
        rc = -errno;
out:
    free(p);
    return rc;
}

static int
lock_ex(int fd)
{
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

static void
unlock(int fd)
{
    flock(fd, LOCK_UN);
}

static int
open_segment(struct gm_filelog *log, uint64_t base, int flags)
{
    char name[SEG_NAME_SIZE];
    seg_name(name, base);
    int fd = openat(log->dirfd, name, O_RDWR | O_CLOEXEC | flags, 0644);
    if (fd < 0)
        return log_fail(log, -errno, "%s/%s: %s", log->dir, name, strerror(errno));
    return fd;
}

/*
 * Validates the frames of the last segment from file offset from (a frame
 * start) to its end and cuts a torn tail; sets log->seg_size to the end of
 * the last good frame. A bad frame followed by non-zero data is GM_ECORRUPT.
 */
static int
check_tail(struct gm_filelog *log, uint64_t from)
{
    int rc;
    uint64_t size = 0, off = from;
    struct rbuf rb;
    rbuf_init(&rb, log->segfd);
    char name[SEG_NAME_SIZE];
    seg_name(name, log->seg_base);
    if ((rc = file_size(log->segfd, &size)) < 0)
        goto out;
    for (;;) {
        struct frame fr;
        if ((rc = frame_at(&rb, off, &fr)) < 0)
            goto out;
        if (fr.st == FR_OK) {
            off += frame_size(&fr);
            continue;
        }
        if (fr.st == FR_EOF)
            break;
        if (fr.st == FR_BADCRC && off + frame_size(&fr) < size) {
            /* A header that reached the disk before its payload: zeros after it. */
            rc = rest_is_zero(log->segfd, off + fr.hdr);
            if (rc < 0)
                goto out;
            if (!rc) {
                rc = log_fail(log, GM_ECORRUPT,
                              "%s/%s: bad checksum in the frame at offset %" PRIu64 " with %" PRIu64
                              " more bytes after it; not cutting",
                              log->dir, name, log->seg_base + off, size - off - frame_size(&fr));
                goto out;
            }
        } else if (fr.st == FR_BADLEN) {
            rc = rest_is_zero(log->segfd, off);
            if (rc < 0)
                goto out;
            if (!rc) {
                char why[96];
                badlen_reason(why, sizeof why, &fr);
                rc = log_fail(log, GM_ECORRUPT,
                              "%s/%s: frame at offset %" PRIu64 ": %s; not cutting", log->dir, name,
                              log->seg_base + off, why);
                goto out;
            }
        }
        /* A torn tail: cut it and make the cut durable before appending. */
        gm_log(GM_LOG_WARN, "%s/%s: cutting a torn tail of %" PRIu64 " bytes at offset %" PRIu64,
               log->dir, name, size - off, log->seg_base + off);
        if (ftruncate(log->segfd, (off_t)off) < 0 || fsync(log->segfd) < 0) {
            rc = log_fail(log, -errno, "%s/%s: cutting the torn tail: %s", log->dir, name,
                          strerror(errno));
            goto out;
        }
        break;
    }
    log->seg_size = off;
    rc = 0;
out:
    rbuf_deinit(&rb);
    return rc;
}

/*
 * Under the lock: catches up with what other appenders did since this one
 * last looked. Follows rolls to the last segment, then validates the new
 * frames (cutting a torn tail a dead appender left).
 */
static int
refresh_tail(struct gm_filelog *log)
{
    int rc;
    uint64_t size = 0;
    bool moved = false;
    for (;;) {
        if ((rc = file_size(log->segfd, &size)) < 0)
            return log_fail(log, rc, "%s: %s", log->dir, strerror(-rc));
        /* An empty segment is the last: a next one would have its name. */
        if (size == 0 || !seg_exists(log->dirfd, log->seg_base + size))
            break;
        int fd = open_segment(log, log->seg_base + size, 0);
        if (fd < 0)
            return fd;
        close(log->segfd);
        log->segfd = fd;
        log->seg_base += size;
        log->seg_size = 0;
        moved = true;
    }
    if (!moved && size == log->seg_size)
        return 0;
    return check_tail(log, moved || size < log->seg_size ? 0 : log->seg_size);
}

static int
write_all(int fd, struct iovec *iov, int iovcnt, uint64_t off)
{
    while (iovcnt > 0) {
        ssize_t w = pwritev(fd, iov, iovcnt, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        off += (uint64_t)w;
        size_t left = (size_t)w;
        while (iovcnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* Under the lock: rewrites the mark in place to say end. */
static int
mark_write(struct gm_filelog *log, uint64_t end)
{
    uint8_t buf[MARK_SIZE];
    mark_encode(buf, end);
    ssize_t w;
    do
        w = pwrite(log->markfd, buf, sizeof buf, 0);
    while (w < 0 && errno == EINTR);
    if (w != MARK_SIZE)
        return log_fail(log, w < 0 ? -errno : -EIO, "%s/%s: %s", log->dir, MARK_NAME,
                        w < 0 ? strerror(errno) : "short write");
    return 0;
}

/*
 * Creates the mark saying end: written to a temporary file and renamed, so
 * that readers never see it empty. Before this, readers took the log as
 * durable to its end (a log of older versions), so it happens before this
 * appender writes anything.
 */
static int
mark_create(struct gm_filelog *log, uint64_t end)
{
    int fd = openat(log->dirfd, MARK_TMP_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return log_fail(log, -errno, "%s/%s: %s", log->dir, MARK_TMP_NAME, strerror(errno));
    log->markfd = fd;
    int rc = mark_write(log, end);
    if (rc == 0 && renameat(log->dirfd, MARK_TMP_NAME, log->dirfd, MARK_NAME) < 0)
        rc = log_fail(log, -errno, "%s/%s: rename: %s", log->dir, MARK_NAME, strerror(errno));
    return rc;
}

/*
 * Under the lock, at open, after check_tail: makes the mark say the end of
 * the whole, good frames. Frames past the mark were written by an appender
 * that died before its fdatasync, or the mark had not reached the disk when
 * the power went: one fdatasync of the last segment covers them (a segment
 * is synced when an appender rolls past it). The test seam never moves an
 * existing mark.
 */
static int
mark_settle(struct gm_filelog *log)
{
    uint64_t end = log->seg_base + log->seg_size, mark = 0;
    log->markfd = openat(log->dirfd, MARK_NAME, O_RDWR | O_CLOEXEC);
    if (log->markfd < 0 && errno == ENOENT)
        return mark_create(log, end);
    if (log->markfd < 0)
        return log_fail(log, -errno, "%s/%s: %s", log->dir, MARK_NAME, strerror(errno));
    int rc = mark_read(log->markfd, 1, &mark);
    if (rc < 0 && rc != GM_ECORRUPT)
        return log_fail(log, rc, "%s/%s: %s", log->dir, MARK_NAME, strerror(-rc));
    if (rc == 0 && (mark == end || log->fsync == GM_FSYNC_TEST_UNSYNCED))
        return 0;
    if (rc == GM_ECORRUPT)
        gm_log(GM_LOG_WARN, "%s/%s is damaged; rewriting it at the log's end %" PRIu64, log->dir,
               MARK_NAME, end);
    else if (mark > end)
        gm_log(GM_LOG_ERROR,
               "%s: the log ends at %" PRIu64 " but its durable mark says %" PRIu64
               ": it lost records that were synced (cut, replaced or restored from an older copy, "
               "or a failing disk); a state that folded past %" PRIu64
               " is ahead of the log and must be rebuilt with gamify replay",
               log->dir, end, mark, end);
    if (syncs(log) && mark < end && fdatasync(log->segfd) < 0)
        return log_fail(log, -errno, "%s: fdatasync: %s", log->dir, strerror(errno));
    return mark_write(log, end);
}

/*
 * Creates the segment that starts at the current end and moves to it,
 * closing the previous one unless it is keep_fd.
 */
static int
roll(struct gm_filelog *log, int keep_fd)
{
    int rc;
    if (syncs(log) && fdatasync(log->segfd) < 0)
        return log_fail(log, -errno, "%s: fdatasync: %s", log->dir, strerror(errno));
    uint64_t base = log->seg_base + log->seg_size;
    int fd = open_segment(log, base, O_CREAT | O_EXCL);
    if (fd < 0)
        return fd;
    if (syncs(log) && fsync(log->dirfd) < 0) {
        rc = log_fail(log, -errno, "%s: fsync of the directory: %s", log->dir, strerror(errno));
        char name[SEG_NAME_SIZE];
        seg_name(name, base);
        close(fd);
        unlinkat(log->dirfd, name, 0);
        return rc;
    }
    if (log->segfd != keep_fd)
        close(log->segfd);
    log->segfd = fd;
    log->seg_base = base;
    log->seg_size = 0;
    return 0;
}

/*
 * Writes the frames under the lock, one pwritev per run of records that go
 * to one segment; on failure removes the segments it created and cuts the
 * first one back to where it was.
 */
static int
write_records(struct gm_filelog *log, const void *const *recs, const size_t *lens, size_t n,
              int64_t append_ms)
{
    int rc = 0;
    const int orig_fd = log->segfd;
    const uint64_t orig_base = log->seg_base, orig_size = log->seg_size;
    uint8_t(*hdrs)[FRAME_HDR] = malloc((n < IOV_BATCH / 2 ? n : IOV_BATCH / 2) * FRAME_HDR);
    struct iovec iov[IOV_BATCH];
    uint64_t *made = NULL; /* bases of the segments this call created */
    size_t nmade = 0;
    if (!hdrs)
        abort();
    size_t i = 0;
    while (i < n) {
        uint64_t flen = FRAME_HDR + lens[i];
        if (log->seg_size > 0 && log->seg_size + flen > log->seg_bytes) {
            if ((rc = roll(log, orig_fd)) < 0)
                goto out;
            made = realloc(made, (nmade + 1) * sizeof *made);
            if (!made)
                abort();
            made[nmade++] = log->seg_base;
        }
        /* A run of records for one pwritev: same segment, bounded iovecs. */
        size_t j = i, k = 0;
        uint64_t run = 0;
        while (j < n && k < IOV_BATCH / 2) {
            flen = FRAME_HDR + lens[j];
            if (k > 0 &&
                (log->seg_size + run + flen > log->seg_bytes || log->fsync == GM_FSYNC_ALWAYS))
                break;
            frame_header(hdrs[k], recs[j], lens[j], append_ms);
            iov[2 * k].iov_base = hdrs[k];
            iov[2 * k].iov_len = FRAME_HDR;
            iov[2 * k + 1].iov_base = (void *)recs[j];
            iov[2 * k + 1].iov_len = lens[j];
            run += flen;
            j++;
            k++;
        }
        if ((rc = write_all(log->segfd, iov, (int)(2 * k), log->seg_size)) < 0) {
            log_fail(log, rc, "%s: write: %s", log->dir, strerror(-rc));
            goto out;
        }
        log->seg_size += run;
        if (log->fsync == GM_FSYNC_ALWAYS && fdatasync(log->segfd) < 0) {
            rc = log_fail(log, -errno, "%s: fdatasync: %s", log->dir, strerror(errno));
            goto out;
        }
        i = j;
    }
    if (log->fsync == GM_FSYNC_BATCH && fdatasync(log->segfd) < 0) {
        rc = log_fail(log, -errno, "%s: fdatasync: %s", log->dir, strerror(errno));
        goto out;
    }
    /* Durable now (or never promised, with none): readers may have it. */
    if (log->fsync != GM_FSYNC_TEST_UNSYNCED)
        rc = mark_write(log, log->seg_base + log->seg_size);
out:
    if (rc < 0) {
        /*
         * Cut back: remove the segments this call created, newest first,
         * then cut the first one to its old size.
         */
        if (log->segfd != orig_fd)
            close(log->segfd);
        while (nmade > 0) {
            char name[SEG_NAME_SIZE];
            seg_name(name, made[--nmade]);
            unlinkat(log->dirfd, name, 0);
        }
        if (ftruncate(orig_fd, (off_t)orig_size) < 0)
            gm_log(GM_LOG_ERROR, "%s: cutting back a failed append: %s", log->dir, strerror(errno));
        else if (syncs(log))
            fsync(orig_fd);
        if (syncs(log))
            fsync(log->dirfd);
        log->segfd = orig_fd;
        log->seg_base = orig_base;
        log->seg_size = orig_size;
    } else if (orig_fd != log->segfd) {
        close(orig_fd);
    }
    free(made);
    free(hdrs);
    return rc;
}

int
gm_filelog_open(const char *dir, const struct gm_filelog_opts *opts, struct gm_filelog **out,
                struct gm_err *err)
{
    int rc;
    uint64_t *bases = NULL;
    size_t nb = 0;
    bool locked = false;
    struct gm_filelog *log = calloc(1, sizeof *log);
    if (!log)
        abort();
    *out = NULL;
    log->dir = strdup(dir);
    if (!log->dir)
        abort();
    log->dirfd = log->lockfd = log->segfd = log->markfd = -1;
    log->seg_bytes = opts && opts->segment_bytes ? opts->segment_bytes : DEFAULT_SEGMENT_BYTES;
    log->fsync = opts ? opts->fsync : GM_FSYNC_BATCH;
    log->hold_lock = opts ? opts->hold_lock : false;
    if (log->fsync < GM_FSYNC_NONE || log->fsync > GM_FSYNC_TEST_UNSYNCED) {
        rc = gm_err_set(err, GM_EINVAL, "%s: unknown fsync policy %d", dir, (int)log->fsync);
        goto out;
    }
    if ((rc = mkdir_p(dir)) < 0) {
        gm_err_set(err, rc, "%s: cannot create: %s", dir, strerror(-rc));
        goto out;
    }
    log->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (log->dirfd < 0) {
        rc = gm_err_set(err, -errno, "%s: %s", dir, strerror(errno));
        goto out;
    }
    /* O_RDONLY: closing it raises no IN_CLOSE_WRITE for readers. */
    log->lockfd = openat(log->dirfd, "LOCK", O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
    if (log->lockfd < 0) {
        rc = gm_err_set(err, -errno, "%s/LOCK: %s", dir, strerror(errno));
        goto out;
    }
    if ((rc = lock_ex(log->lockfd)) < 0) {
        gm_err_set(err, rc, "%s/LOCK: flock: %s", dir, strerror(-rc));
        goto out;
    }
    locked = true;
    if ((rc = seg_list(dir, &bases, &nb)) < 0) {
        gm_err_set(err, rc, "%s: %s", dir, strerror(-rc));
        goto out;
    }
    if (nb == 0) {
        log->seg_base = 0;
        log->segfd = open_segment(log, 0, O_CREAT);
        if (log->segfd < 0) {
            rc = gm_err_set(err, log->segfd, "%s", log->errmsg);
            goto out;
        }
        if (syncs(log) && fsync(log->dirfd) < 0) {
            rc = gm_err_set(err, -errno, "%s: fsync: %s", dir, strerror(errno));
            goto out;
        }
    } else {
        log->seg_base = bases[nb - 1];
        log->segfd = open_segment(log, log->seg_base, 0);
        if (log->segfd < 0) {
            rc = gm_err_set(err, log->segfd, "%s", log->errmsg);
            goto out;
        }
    }
    if ((rc = check_tail(log, 0)) < 0) {
        gm_err_set(err, rc, "%s", log->errmsg);
        goto out;
    }
    if ((rc = mark_settle(log)) < 0) {
        gm_err_set(err, rc, "%s", log->errmsg);
        goto out;
    }
    rc = 0;
out:
    free(bases);
    if (locked && (rc < 0 || !log->hold_lock))
        unlock(log->lockfd);
    if (rc < 0) {
        gm_filelog_close(log);
        return rc;
    }
    *out = log;
    return 0;
}

int
gm_filelog_append(struct gm_filelog *log, const void *const *recs, const size_t *lens, size_t n,
                  uint64_t *first_offset)
{
    int rc = 0;
    log->errmsg[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > GM_FILELOG_RECORD_MAX)
            return log_fail(log, GM_ETOOBIG, "record %zu is %zu bytes, over the limit of %u", i,
                            lens[i], GM_FILELOG_RECORD_MAX);
    }
    if (!log->hold_lock && (rc = lock_ex(log->lockfd)) < 0)
        return log_fail(log, rc, "%s/LOCK: flock: %s", log->dir, strerror(-rc));
    if ((rc = refresh_tail(log)) < 0)
        goto out;
    if (first_offset)
        *first_offset = log->seg_base + log->seg_size;
    if (n > 0)
        rc = write_records(log, recs, lens, n, now_ms());
out:
    if (!log->hold_lock)
        unlock(log->lockfd);
    return rc;
}

uint64_t
gm_filelog_end(const struct gm_filelog *log)
{
    return log->seg_base + log->seg_size;
}

const char *
gm_filelog_errmsg(const struct gm_filelog *log)
{
    return log->errmsg;
}

void
gm_filelog_close(struct gm_filelog *log)
{
    if (!log)
        return;
    if (log->segfd >= 0)
        close(log->segfd);
    if (log->markfd >= 0)
        close(log->markfd);
    if (log->lockfd >= 0)
        close(log->lockfd); /* releases the lock if held */
    if (log->dirfd >= 0)
        close(log->dirfd);
    free(log->dir);
    free(log);
}

/* ---- reader ---- */

struct gm_filelog_reader {
    char *dir;
    int dirfd;
    int segfd;  /* -1: no segment at pos yet */
    int markfd; /* DIR/DURABLE; -1 until it exists (a log of older versions) */
    int inotify_fd;
    uint64_t seg_base;
    uint64_t pos;     /* global offset of the next frame */
    uint64_t durable; /* records ending at or before this may be returned */
    struct rbuf rb;
    char errmsg[ERRMSG_MAX];
};

static int reader_fail(struct gm_filelog_reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
reader_fail(struct gm_filelog_reader *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof r->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

/* Opens the segment starting at base; 0, -ENOENT or another -errno. */
static int
reader_open_segment(struct gm_filelog_reader *r, uint64_t base)
{
    char name[SEG_NAME_SIZE];
    seg_name(name, base);
    int fd = openat(r->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (r->segfd >= 0)
        close(r->segfd);
    r->segfd = fd;
    r->seg_base = base;
    rbuf_deinit(&r->rb);
    rbuf_init(&r->rb, fd);
    return 0;
}

/*
 * Reads the mark again into r->durable. Without a mark file the log is of
 * an older version and durable to its end; appenders of this version create
 * the mark before they write, so the segment's size taken before seeing no
 * mark only holds bytes older appenders wrote. The buffer is cut back to
 * the old mark: bytes past it may have been read before the mark covered
 * them (a failed append is cut back and rewritten), so they are read again.
 */
static int
reader_refresh_mark(struct gm_filelog_reader *r)
{
    uint64_t mark = 0;
    int rc;
    if (r->markfd < 0) {
        uint64_t size = 0;
        if ((rc = file_size(r->segfd, &size)) < 0)
            return reader_fail(r, rc, "%s: %s", r->dir, strerror(-rc));
        int fd = openat(r->dirfd, MARK_NAME, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT)
            return reader_fail(r, -errno, "%s/%s: %s", r->dir, MARK_NAME, strerror(errno));
        if (fd < 0)
            mark = r->seg_base + size;
        r->markfd = fd;
    }
    if (r->markfd >= 0 && (rc = mark_read(r->markfd, MARK_READ_TRIES, &mark)) < 0)
        return reader_fail(r, rc,
                           "%s/%s: %s; opening the log for appending rewrites it (e.g. gamify "
                           "produce --log file:%s /dev/null)",
                           r->dir, MARK_NAME,
                           rc == GM_ECORRUPT ? "the durable mark is damaged" : strerror(-rc),
                           r->dir);
    uint64_t keep = mark < r->durable ? mark : r->durable;
    if (keep <= r->seg_base)
        rbuf_drop(&r->rb);
    else
        rbuf_clip(&r->rb, keep - r->seg_base);
    r->durable = mark;
    return 0;
}

/*
 * The reader is at the current end: returns 0. Without a mark, the size it
 * last took only holds until an appender of this version shows up (which
 * may cut a torn tail and write there), so it is taken again next time.
 */
static int
reader_at_end(struct gm_filelog_reader *r)
{
    if (r->markfd < 0 && r->durable > r->pos)
        r->durable = r->pos;
    return 0;
}

/*
 * Whether a segment after the reader's exists (1, 0, -errno): then the
 * reader's segment is complete and must end with a whole, good frame.
 * Lists the directory, so it is only asked on the rare bad-tail path.
 */
static int
later_segment(struct gm_filelog_reader *r)
{
    uint64_t *bases = NULL;
    size_t n = 0;
    int rc = seg_list(r->dir, &bases, &n);
    if (rc == 0)
        rc = n > 0 && bases[n - 1] > r->seg_base;
    free(bases);
    return rc;
}

int
gm_filelog_reader_open(const char *dir, uint64_t from, struct gm_filelog_reader **out,
                       struct gm_err *err)
{
    int rc;
    uint64_t *bases = NULL;
    size_t nb = 0;
    struct gm_filelog_reader *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    *out = NULL;
    r->dir = strdup(dir);
    if (!r->dir)
        abort();
    r->dirfd = r->segfd = r->markfd = r->inotify_fd = -1;
    rbuf_init(&r->rb, -1);
    r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->dirfd < 0) {
        rc = gm_err_set(err, -errno, "%s: %s", dir, strerror(errno));
        goto out;
    }
    if ((rc = seg_list(dir, &bases, &nb)) < 0) {
        gm_err_set(err, rc, "%s: %s", dir, strerror(-rc));
        goto out;
    }
    if (nb == 0) {
        if (from != 0) {
            rc = gm_err_set(err, -ERANGE, "%s: offset %" PRIu64 " is past the end (empty log)", dir,
                            from);
            goto out;
        }
        r->pos = 0;
        rc = 0;
        goto out;
    }
    if (from == 0)
        from = bases[0];
    size_t i = nb;
    while (i > 0 && bases[i - 1] > from)
        i--;
    if (i == 0) {
        rc = gm_err_set(err, GM_EINVAL,
                        "%s: offset %" PRIu64 " is before the first segment (%" PRIu64 ")", dir,
                        from, bases[0]);
        goto out;
    }
    uint64_t base = bases[i - 1], size = 0;
    bool last = i == nb;
    if ((rc = reader_open_segment(r, base)) < 0) {
        gm_err_set(err, rc, "%s: opening segment %" PRIu64 ": %s", dir, base, strerror(-rc));
        goto out;
    }
    if ((rc = file_size(r->segfd, &size)) < 0) {
        gm_err_set(err, rc, "%s: %s", dir, strerror(-rc));
        goto out;
    }
    r->pos = from;
    if (from - base > size) {
        rc = gm_err_set(err, -ERANGE, "%s: offset %" PRIu64 " is past the end (%" PRIu64 ")", dir,
                        from, base + size);
        goto out;
    }
    if (from != base && from - base < size) {
        /* Check that from is a frame start: its checksum must hold. A
         * segment's first byte always is one; a bad frame there is for
         * reader_next to judge (torn tail or corruption), not an error here. */
        struct frame fr;
        if ((rc = frame_at(&r->rb, from - base, &fr)) < 0) {
            gm_err_set(err, rc, "%s: %s", dir, strerror(-rc));
            goto out;
        }
        if (fr.st == FR_BADLEN || fr.st == FR_BADCRC || (fr.st == FR_SHORT && !last)) {
            rc = gm_err_set(err, GM_EINVAL,
                            "%s: offset %" PRIu64 " is not the start of a record (or the "
                            "record there is corrupt)",
                            dir, from);
            goto out;
        }
        rbuf_drop(&r->rb);
    }
    rc = 0;
out:
    free(bases);
    if (rc < 0) {
        gm_filelog_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int
gm_filelog_reader_next(struct gm_filelog_reader *r, struct gm_filelog_rec *rec)
{
    int rc;
    bool rechecked = false, marked = false;
    r->errmsg[0] = '\0';
    for (;;) {
        if (r->segfd < 0) {
            rc = reader_open_segment(r, r->pos);
            if (rc == -ENOENT)
                return reader_at_end(r);
            if (rc < 0)
                return reader_fail(r, rc, "%s: opening segment %" PRIu64 ": %s", r->dir, r->pos,
                                   strerror(-rc));
        }
        struct frame fr;
        uint64_t off = r->pos - r->seg_base;
        if ((rc = frame_at(&r->rb, off, &fr)) < 0)
            return reader_fail(r, rc, "%s: read: %s", r->dir, strerror(-rc));
        if (fr.st == FR_OK) {
            if (r->pos + frame_size(&fr) > r->durable) {
                /* Past the mark as last read: read it again, then the frame. */
                if (marked)
                    return reader_at_end(r);
                if ((rc = reader_refresh_mark(r)) < 0)
                    return rc;
                marked = true;
                continue;
            }
            rec->data = fr.data;
            rec->len = fr.len;
            rec->offset = r->pos;
            rec->append_ms = fr.append_ms;
            r->pos += frame_size(&fr);
            rec->next = r->pos;
            return 1;
        }
        if (fr.st == FR_EOF) {
            /* This segment is done if the next one exists; it starts where this ends. */
            if (off == 0 || !seg_exists(r->dirfd, r->pos)) {
                rbuf_drop(&r->rb);
                return reader_at_end(r);
            }
            rbuf_drop(&r->rb);
            if (!rechecked) {
                /* The segment is frozen now; look once more before moving on. */
                rechecked = true;
                continue;
            }
            if ((rc = reader_open_segment(r, r->pos)) < 0)
                return reader_fail(r, rc, "%s: opening segment %" PRIu64 ": %s", r->dir, r->pos,
                                   strerror(-rc));
            rechecked = false;
            continue;
        }
        char name[SEG_NAME_SIZE];
        seg_name(name, r->seg_base);
        if (fr.st == FR_BADLEN) {
            char why[96];
            badlen_reason(why, sizeof why, &fr);
            return reader_fail(r, GM_ECORRUPT, "%s/%s: corrupt frame at offset %" PRIu64 ": %s",
                               r->dir, name, r->pos, why);
        }
        uint64_t size = 0;
        if ((rc = file_size(r->segfd, &size)) < 0)
            return reader_fail(r, rc, "%s: %s", r->dir, strerror(-rc));
        bool at_tail = fr.st == FR_SHORT || off + frame_size(&fr) >= size;
        if (!at_tail) {
            rc = rest_is_zero(r->segfd, off + fr.hdr);
            if (rc < 0)
                return reader_fail(r, rc, "%s: read: %s", r->dir, strerror(-rc));
            at_tail = rc == 1;
        }
        if (!at_tail)
            return reader_fail(r, GM_ECORRUPT,
                               "%s/%s: corrupt frame at offset %" PRIu64
                               ": bad checksum, with more data after it",
                               r->dir, name, r->pos);
        /* A frame being written, or a torn tail: the end, unless a later segment exists. */
        rbuf_drop(&r->rb);
        if ((rc = later_segment(r)) < 0)
            return reader_fail(r, rc, "%s: %s", r->dir, strerror(-rc));
        if (rc == 0)
            return reader_at_end(r);
        if (!rechecked) {
            rechecked = true; /* the writer may have finished it and rolled */
            continue;
        }
        return reader_fail(r, GM_ECORRUPT,
                           "%s/%s: %s frame at offset %" PRIu64 " at the end of a segment "
                           "that is not the last",
                           r->dir, name, fr.st == FR_SHORT ? "incomplete" : "corrupt", r->pos);
    }
}

int
gm_filelog_reader_wait(struct gm_filelog_reader *r, int timeout_ms)
{
    if (r->inotify_fd < 0) {
        /*
         * Watch from the first wait on; anything appended before the watch
         * existed is not signalled, so report maybe-new-data once.
         */
        r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (r->inotify_fd < 0)
            return reader_fail(r, -errno, "inotify_init1: %s", strerror(errno));
        if (inotify_add_watch(r->inotify_fd, r->dir,
                              IN_MODIFY | IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
            int rc = -errno;
            close(r->inotify_fd);
            r->inotify_fd = -1;
            return reader_fail(r, rc, "%s: inotify_add_watch: %s", r->dir, strerror(-rc));
        }
        return 1;
    }
    struct pollfd pfd = {.fd = r->inotify_fd, .events = POLLIN};
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 1 : reader_fail(r, -errno, "poll: %s", strerror(errno));
    if (n == 0)
        return 0;
    /* Drain the queued events: the caller re-reads from its position anyway. */
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (read(r->inotify_fd, buf, sizeof buf) > 0)
        ;
    return 1;
}

uint64_t
gm_filelog_reader_pos(const struct gm_filelog_reader *r)
{
    return r->pos;
}

int
gm_filelog_reader_end(const struct gm_filelog_reader *r, uint64_t *end)
{
    uint64_t mark = r->durable;
    if (r->dirfd >= 0) {
        int fd = openat(r->dirfd, MARK_NAME, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT)
            return -errno;
        if (fd >= 0) {
            int rc = mark_read(fd, MARK_READ_TRIES, &mark);
            close(fd);
            if (rc < 0)
                return rc;
        }
    }
    *end = mark > r->pos ? mark : r->pos;
    return 0;
}

const char *
gm_filelog_reader_errmsg(const struct gm_filelog_reader *r)
{
    return r->errmsg;
}

void
gm_filelog_reader_close(struct gm_filelog_reader *r)
{
    if (!r)
        return;
    rbuf_deinit(&r->rb);
    if (r->segfd >= 0)
        close(r->segfd);
    if (r->markfd >= 0)
        close(r->markfd);
    if (r->inotify_fd >= 0)
        close(r->inotify_fd);
    if (r->dirfd >= 0)
        close(r->dirfd);
    free(r->dir);
    free(r);
}
