/*
 * fuzz_filelog.c: the bytes as the only segment of a file log
 * (DIR/00000000000000000000.seg), as a crash, a full disk or a bad disk
 * leaves it. Checks what filelog.h and docs/internals/filelog.md promise:
 *
 * - a reader from 0 returns whole, good records and then either the end (0)
 *   or GM_ECORRUPT, and stays at a bad frame; a record's frame is of the
 *   old form (8-byte header, append time 0) or the timed one (top bit of
 *   the length word, 16-byte header, the append time as on disk);
 * - an appender opening the log agrees with the reader ("Readers agree with
 *   that table"): GM_ECORRUPT exactly when the reader found corruption, and
 *   then nothing is cut; otherwise the torn tail is cut, its end is where
 *   the reader stopped, and the segment holds exactly the records read;
 * - the segment comes without DIR/DURABLE (a log of an older version), so
 *   it counts as durable to its end; the appender's open creates the mark
 *   at the end it cut to, and its append (fsync none) moves it along;
 * - after an append, the reader that stopped at the torn tail reads the new
 *   record afresh, with an append time between the clock readings around
 *   the append, and a new reader reads every record, then the end.
 *
 * The segment is written into a fresh mkdtemp folder under $TMPDIR (the
 * script runs with /dev/shm) and removed after.
 */
#include "filelog.h"
#include "fuzz.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEG0 "00000000000000000000.seg"

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes data to dir/SEG0; aborts on I/O errors (the harness, not the log). */
static void
write_segment(const char *dir, const uint8_t *data, size_t size)
{
    char path[4096];
    GM_FUZZ_CHECK(snprintf(path, sizeof path, "%s/%s", dir, SEG0) < (int)sizeof path, "path fits");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    GM_FUZZ_CHECK(fd >= 0, "creating the segment file");
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        GM_FUZZ_CHECK(n > 0, "writing the segment file");
        done += (size_t)n;
    }
    close(fd);
}

/* What dir/DURABLE says; aborts unless it is a well-formed mark. */
static uint64_t
read_mark(const char *dir)
{
    char path[4096];
    GM_FUZZ_CHECK(snprintf(path, sizeof path, "%s/DURABLE", dir) < (int)sizeof path, "path fits");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    GM_FUZZ_CHECK(fd >= 0, "the appender created the mark");
    uint8_t m[17];
    ssize_t n = read(fd, m, sizeof m);
    close(fd);
    GM_FUZZ_CHECK(n == 16 && memcmp(m, "GMD1", 4) == 0, "the mark is 16 bytes");
    return (uint64_t)le32(m + 4) | (uint64_t)le32(m + 8) << 32;
}

/* Reads dir/SEG0 whole; *out is new (free with free()). */
static void
read_segment(const char *dir, uint8_t **out, size_t *len)
{
    char path[4096];
    GM_FUZZ_CHECK(snprintf(path, sizeof path, "%s/%s", dir, SEG0) < (int)sizeof path, "path fits");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    GM_FUZZ_CHECK(fd >= 0, "opening the segment file");
    struct stat st;
    GM_FUZZ_CHECK(fstat(fd, &st) == 0, "fstat of the segment file");
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        abort();
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
        GM_FUZZ_CHECK(n > 0, "reading the segment file");
        done += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len = done;
}

static void
remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/*
 * Reads records with r until it returns 0 or an error; returns that and sets
 * *n_recs and *end (the offset after the last record). Every record is a
 * whole frame lying inside the input, so the loop is bounded by size / 8.
 */
static int
read_all(struct gm_filelog_reader *r, const uint8_t *data, size_t size, size_t *n_recs,
         uint64_t *end)
{
    struct gm_filelog_rec rec;
    int rc;
    *n_recs = 0;
    *end = gm_filelog_reader_pos(r);
    while ((rc = gm_filelog_reader_next(r, &rec)) == 1) {
        GM_FUZZ_CHECK(rec.offset == *end && rec.offset + 8 <= size, "records are contiguous");
        uint32_t word = le32(data + rec.offset);
        bool timed = word & 0x80000000u;
        size_t hdr = timed ? 16 : 8;
        GM_FUZZ_CHECK(rec.len == (word & 0x00ffffffu) && (word & 0x7f000000u) == 0,
                      "the length word holds the length and at most the timed flag");
        GM_FUZZ_CHECK(rec.next == rec.offset + hdr + rec.len, "records are whole frames");
        GM_FUZZ_CHECK(rec.next <= size, "a record lies inside the segment");
        GM_FUZZ_CHECK(rec.len == 0 || memcmp(rec.data, data + rec.offset + hdr, rec.len) == 0,
                      "a record is the payload bytes on disk");
        int64_t t = 0;
        if (timed)
            t = (int64_t)((uint64_t)le32(data + rec.offset + 8) |
                          (uint64_t)le32(data + rec.offset + 12) << 32);
        GM_FUZZ_CHECK(rec.append_ms == t, "the append time is the frame's, 0 for the old form");
        GM_FUZZ_CHECK(gm_filelog_reader_pos(r) == rec.next, "the reader moves past the record");
        *end = rec.next;
        (*n_recs)++;
        GM_FUZZ_CHECK(*n_recs <= size / 8 + 1, "the reader makes progress");
    }
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    struct gm_filelog_reader *r1 = NULL, *r2 = NULL;
    struct gm_filelog *log = NULL;
    struct gm_err err;
    uint8_t *after = NULL;
    size_t after_len = 0, n1 = 0, n2 = 0;
    uint64_t end1 = 0, end2 = 0;
    char dir[4096];

    if (size > GM_FUZZ_INPUT_MAX)
        return 0;
    if (!quiet) {
        gm_log_set_level(GM_LOG_OFF); /* a cut warns; thousands of times here */
        quiet = true;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/gm-fuzz-filelog.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    GM_FUZZ_CHECK(mkdtemp(dir), "mkdtemp");
    write_segment(dir, data, size);

    gm_err_clear(&err);
    int rc = gm_filelog_reader_open(dir, 0, &r1, &err);
    GM_FUZZ_CHECK(rc == 0 && r1, "a reader opens at 0 whatever the segment holds");
    int verdict = read_all(r1, data, size, &n1, &end1);
    GM_FUZZ_CHECK(verdict == 0 || verdict == GM_ECORRUPT, "the reader ends at 0 or GM_ECORRUPT");
    if (verdict == GM_ECORRUPT) {
        GM_FUZZ_CHECK(gm_filelog_reader_errmsg(r1)[0], "corruption says where");
        GM_FUZZ_CHECK(gm_filelog_reader_pos(r1) == end1, "the reader stays at the bad frame");
        struct gm_filelog_rec rec;
        GM_FUZZ_CHECK(gm_filelog_reader_next(r1, &rec) == GM_ECORRUPT,
                      "the reader stays at the bad frame");
    }

    struct gm_filelog_opts opts = {.fsync = GM_FSYNC_NONE};
    gm_err_clear(&err);
    rc = gm_filelog_open(dir, &opts, &log, &err);
    if (verdict == GM_ECORRUPT) {
        GM_FUZZ_CHECK(rc == GM_ECORRUPT && !log, "the appender sees the corruption the reader saw");
        read_segment(dir, &after, &after_len);
        GM_FUZZ_CHECK(after_len == size && (size == 0 || memcmp(after, data, size) == 0),
                      "nothing is cut from a corrupt log");
        goto out;
    }
    if (rc)
        fprintf(stderr, "gm_filelog_open: %s\n", err.msg);
    GM_FUZZ_CHECK(rc == 0 && log, "a log the reader read to its end opens for appending");
    GM_FUZZ_CHECK(gm_filelog_end(log) == end1, "the appender cuts where the reader stopped");
    GM_FUZZ_CHECK(read_mark(dir) == end1, "the mark is created at the end");
    read_segment(dir, &after, &after_len);
    GM_FUZZ_CHECK(after_len == end1 && (end1 == 0 || memcmp(after, data, end1) == 0),
                  "the cut keeps exactly the good records");

    static const char rec[] = "fuzz";
    const void *recs[1] = {rec};
    size_t lens[1] = {sizeof rec - 1};
    uint64_t first = 0;
    int64_t t0 = now_ms();
    rc = gm_filelog_append(log, recs, lens, 1, &first);
    int64_t t1 = now_ms();
    GM_FUZZ_CHECK(rc == 0 && first == end1, "an append after the cut lands at the cut");
    GM_FUZZ_CHECK(read_mark(dir) == gm_filelog_end(log), "the mark follows the append");

    /* The reader that stopped at the torn tail reads the new record afresh. */
    struct gm_filelog_rec got;
    rc = gm_filelog_reader_next(r1, &got);
    GM_FUZZ_CHECK(rc == 1 && got.offset == end1 && got.len == lens[0] &&
                      memcmp(got.data, rec, got.len) == 0,
                  "an old reader reads the appended record");
    GM_FUZZ_CHECK(got.append_ms >= t0 && got.append_ms <= t1,
                  "the appended record carries its append time");
    GM_FUZZ_CHECK(gm_filelog_reader_next(r1, &got) == 0, "then the end");

    free(after);
    read_segment(dir, &after, &after_len);
    GM_FUZZ_CHECK(gm_filelog_reader_open(dir, 0, &r2, &err) == 0, "a new reader opens");
    rc = read_all(r2, after, after_len, &n2, &end2);
    GM_FUZZ_CHECK(rc == 0 && n2 == n1 + 1 && end2 == after_len,
                  "a new reader reads every record, then the end");
out:
    free(after);
    gm_filelog_reader_close(r2);
    gm_filelog_close(log);
    gm_filelog_reader_close(r1);
    remove_dir(dir);
    return 0;
}
