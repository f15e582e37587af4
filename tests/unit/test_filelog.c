/*
 * test_filelog.c: the embedded file log (processor/log/filelog.c), the log URI
 * sources (processor/log/logsrc.c) and `gamify produce` through the built
 * binary. Every test works in its own temporary directory; concurrency
 * tests fork real appender processes.
 */
#include "codec.h"
#include "crc32c.h"
#include "filelog.h"
#include "json.h"
#include "logsrc.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

static char tmp_root[256];
static char log_dir[300];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
setup_tmp(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/gm-filelog-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_root));
    snprintf(log_dir, sizeof log_dir, "%s/log", tmp_root);
}

static void
teardown_tmp(void)
{
    nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct gm_filelog *
open_log(uint64_t segment_bytes)
{
    struct gm_filelog_opts opts = {.segment_bytes = segment_bytes, .fsync = GM_FSYNC_NONE};
    struct gm_filelog *log = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_filelog_open(log_dir, &opts, &log, &err);
    cr_assert_eq(rc, 0, "open %s: %d %s", log_dir, rc, err.msg);
    return log;
}

/* Record i: "rec-<i>-" then filler up to a length that varies with i. */
static size_t
make_rec(char *buf, size_t cap, int i, size_t len)
{
    int n = snprintf(buf, cap, "rec-%d-", i);
    size_t k = (size_t)n;
    while (k < len && k < cap) {
        buf[k] = (char)('a' + (i + (int)k) % 26);
        k++;
    }
    return k;
}

static void
append_one(struct gm_filelog *log, const void *data, size_t len, uint64_t *off)
{
    const void *recs[1] = {data};
    size_t lens[1] = {len};
    int rc = gm_filelog_append(log, recs, lens, 1, off);
    cr_assert_eq(rc, 0, "append: %d %s", rc, gm_filelog_errmsg(log));
}

static void
append_str(struct gm_filelog *log, const char *s)
{
    append_one(log, s, strlen(s), NULL);
}

/* Reads every record from `from`; returns the count and checks each against want[]. */
static struct gm_filelog_reader *
open_reader(uint64_t from)
{
    struct gm_filelog_reader *r = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_filelog_reader_open(log_dir, from, &r, &err);
    cr_assert_eq(rc, 0, "reader_open at %" PRIu64 ": %d %s", from, rc, err.msg);
    return r;
}

static int
read_next(struct gm_filelog_reader *r, char *out, size_t cap, uint64_t *offset, uint64_t *next)
{
    struct gm_filelog_rec rec;
    int rc = gm_filelog_reader_next(r, &rec);
    if (rc == 1) {
        cr_assert_lt(rec.len, cap);
        memcpy(out, rec.data, rec.len);
        out[rec.len] = '\0';
        if (offset)
            *offset = rec.offset;
        if (next)
            *next = rec.next;
    }
    return rc;
}

/* Counts the records readable from 0 (asserting none is corrupt). */
static int
count_records(void)
{
    struct gm_filelog_reader *r = open_reader(0);
    char buf[4096];
    int n = 0, rc;
    while ((rc = read_next(r, buf, sizeof buf, NULL, NULL)) == 1)
        n++;
    cr_assert_eq(rc, 0, "read: %d %s", rc, gm_filelog_reader_errmsg(r));
    gm_filelog_reader_close(r);
    return n;
}

static void
seg_path(char *out, size_t cap, uint64_t base)
{
    snprintf(out, cap, "%s/%020" PRIu64 ".seg", log_dir, base);
}

static int
count_segments(void)
{
    DIR *d = opendir(log_dir);
    cr_assert_not_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".seg"))
            n++;
    closedir(d);
    return n;
}

static uint64_t
file_size_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
    return (uint64_t)st.st_size;
}

static void
flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t c;
    cr_assert_eq(pread(fd, &c, 1, (off_t)off), 1);
    c ^= 0x5a;
    cr_assert_eq(pwrite(fd, &c, 1, (off_t)off), 1);
    close(fd);
}

static void
write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Writes five 40-byte records into a fresh log; offsets in off[5], returns the end. */
static uint64_t
five_records(uint64_t off[5])
{
    struct gm_filelog *log = open_log(0);
    char buf[64];
    for (int i = 0; i < 5; i++)
        append_one(log, buf, make_rec(buf, sizeof buf, i, 40), &off[i]);
    uint64_t end = gm_filelog_end(log);
    gm_filelog_close(log);
    return end;
}

TestSuite(filelog, .init = setup_tmp, .fini = teardown_tmp);
TestSuite(logsrc, .init = setup_tmp, .fini = teardown_tmp);
TestSuite(produce, .init = setup_tmp, .fini = teardown_tmp);
TestSuite(durable, .init = setup_tmp, .fini = teardown_tmp);

/* ---- the file log ---- */

Test(filelog, empty_log)
{
    struct gm_filelog *log = open_log(0);
    cr_assert_eq(gm_filelog_end(log), 0);
    struct gm_filelog_reader *r = open_reader(0);
    char buf[16];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    gm_filelog_reader_close(r);

    struct gm_filelog_reader *bad = NULL;
    cr_assert_eq(gm_filelog_reader_open(log_dir, 8, &bad, NULL), -ERANGE);
    cr_assert_null(bad);
    gm_filelog_close(log);

    /* A directory with no segment at all is an empty log too. */
    char empty[400];
    snprintf(empty, sizeof empty, "%s/bare", tmp_root);
    cr_assert_eq(mkdir(empty, 0755), 0);
    cr_assert_eq(gm_filelog_reader_open(empty, 0, &r, NULL), 0);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    gm_filelog_reader_close(r);
    cr_assert_eq(gm_filelog_reader_open(empty, 3, &r, NULL), -ERANGE);
    cr_assert_lt(gm_filelog_reader_open("/nonexistent/gamify/log", 0, &r, NULL), 0);
}

#define NREC 300

Test(filelog, roundtrip_across_segment_rolls)
{
    static char data[NREC][1100];
    static size_t lens[NREC];
    static uint64_t offs[NREC];
    struct gm_filelog *log = open_log(256);
    int i = 0;
    int batch = 1;
    while (i < NREC) {
        const void *recs[64];
        size_t l[64];
        int n = 0;
        for (; n < batch && i + n < NREC; n++) {
            int k = i + n;
            /* Mostly small; every 50th bigger than a whole segment. */
            size_t len = k % 50 == 49 ? 1000 : (size_t)(k * 37 % 200);
            lens[k] = make_rec(data[k], sizeof data[k], k, len);
            recs[n] = data[k];
            l[n] = lens[k];
        }
        uint64_t first = 0;
        int rc = gm_filelog_append(log, recs, l, (size_t)n, &first);
        cr_assert_eq(rc, 0, "append: %s", gm_filelog_errmsg(log));
        offs[i] = first;
        i += n;
        batch = batch % 13 + 1;
    }
    uint64_t end = gm_filelog_end(log);
    gm_filelog_close(log);
    cr_assert_gt(count_segments(), 20, "segments: %d", count_segments());

    struct gm_filelog_reader *r = open_reader(0);
    static char buf[2048];
    uint64_t prev_next = 0;
    for (int k = 0; k < NREC; k++) {
        uint64_t o, nx;
        int rc = read_next(r, buf, sizeof buf, &o, &nx);
        cr_assert_eq(rc, 1, "record %d: %d %s", k, rc, gm_filelog_reader_errmsg(r));
        cr_assert_eq(strlen(buf), lens[k], "record %d length", k);
        cr_assert_eq(memcmp(buf, data[k], lens[k]), 0, "record %d bytes", k);
        cr_assert_eq(o, prev_next, "record %d starts where the previous ended", k);
        cr_assert_gt(nx, o);
        if (offs[k])
            cr_assert_eq(o, offs[k], "record %d: append said %" PRIu64, k, offs[k]);
        offs[k] = o;
        prev_next = nx;
    }
    char one[8];
    cr_assert_eq(read_next(r, one, sizeof one, NULL, NULL), 0);
    cr_assert_eq(prev_next, end);
    gm_filelog_reader_close(r);

    /* Seek: a reader opened at any record's offset reads from that record on. */
    for (int k = 0; k < NREC; k += 7) {
        r = open_reader(offs[k]);
        for (int j = k; j < NREC; j++) {
            uint64_t o;
            cr_assert_eq(read_next(r, buf, sizeof buf, &o, NULL), 1, "from %d: record %d", k, j);
            cr_assert_eq(o, offs[j]);
            cr_assert_eq(memcmp(buf, data[j], lens[j]), 0);
        }
        cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
        gm_filelog_reader_close(r);
    }
    /* And at the very end. */
    r = open_reader(end);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    gm_filelog_reader_close(r);
}

Test(filelog, reader_rejects_bad_offsets)
{
    uint64_t off[5];
    uint64_t end = five_records(off);
    struct gm_filelog_reader *r = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    cr_assert_eq(gm_filelog_reader_open(log_dir, off[2] + 3, &r, &err), GM_EINVAL);
    cr_assert(strstr(err.msg, "not the start of a record"), "%s", err.msg);
    cr_assert_eq(gm_filelog_reader_open(log_dir, off[1] + 8, &r, &err), GM_EINVAL);
    cr_assert_eq(gm_filelog_reader_open(log_dir, end + 1, &r, &err), -ERANGE);
    cr_assert(strstr(err.msg, "past the end"), "%s", err.msg);
    cr_assert_null(r);
}

Test(filelog, reader_at_end_sees_a_later_append)
{
    struct gm_filelog *log = open_log(0);
    append_str(log, "first");
    struct gm_filelog_reader *r = open_reader(gm_filelog_end(log));
    char buf[64];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    append_str(log, "second");
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_str_eq(buf, "second");
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    gm_filelog_reader_close(r);
    gm_filelog_close(log);
}

Test(filelog, reader_end_is_the_durable_end_now)
{
    uint64_t off[5], end = five_records(off), got = 0;
    struct gm_filelog_reader *r = open_reader(0);
    /* before reading anything: the whole log lies ahead */
    cr_assert_eq(gm_filelog_reader_end(r, &got), 0);
    cr_assert_eq(got, end);
    char buf[64];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_eq(gm_filelog_reader_end(r, &got), 0);
    cr_assert_eq(got, end);
    /* an append the reader has not reached counts at once */
    struct gm_filelog *log = open_log(0);
    append_str(log, "sixth");
    uint64_t end2 = gm_filelog_end(log);
    cr_assert_gt(end2, end);
    cr_assert_eq(gm_filelog_reader_end(r, &got), 0);
    cr_assert_eq(got, end2);
    while (read_next(r, buf, sizeof buf, NULL, NULL) == 1)
        ;
    cr_assert_eq(gm_filelog_reader_pos(r), end2);
    cr_assert_eq(gm_filelog_reader_end(r, &got), 0);
    cr_assert_eq(got, end2);
    gm_filelog_reader_close(r);
    gm_filelog_close(log);
}

Test(filelog, torn_tail_at_every_byte_is_cut)
{
    uint64_t off[5];
    uint64_t end = 0;
    char seg[400];
    for (int pass = 0;; pass++) {
        teardown_tmp();
        cr_assert_not_null(mkdtemp(strcpy(tmp_root, "/tmp/gm-filelog-XXXXXX")));
        snprintf(log_dir, sizeof log_dir, "%s/log", tmp_root);
        end = five_records(off);
        uint64_t cut = off[4] + 1 + (uint64_t)pass;
        if (cut >= end)
            break;
        seg_path(seg, sizeof seg, 0);
        cr_assert_eq(truncate(seg, (off_t)cut), 0);

        /* A reader sees the four whole records, then the end. */
        struct gm_filelog_reader *r = open_reader(0);
        char buf[128];
        for (int i = 0; i < 4; i++)
            cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1, "cut %" PRIu64, cut);
        cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0, "cut %" PRIu64, cut);

        /* A writer cuts back to the last whole frame and appends after it. */
        struct gm_filelog *log = open_log(0);
        cr_assert_eq(gm_filelog_end(log), off[4], "cut %" PRIu64, cut);
        cr_assert_eq(file_size_of(seg), off[4]);
        append_str(log, "after-the-cut");
        gm_filelog_close(log);

        /* The reader that stopped at the torn frame now reads the new one. */
        uint64_t o;
        cr_assert_eq(read_next(r, buf, sizeof buf, &o, NULL), 1, "cut %" PRIu64, cut);
        cr_assert_str_eq(buf, "after-the-cut");
        cr_assert_eq(o, off[4]);
        gm_filelog_reader_close(r);
        cr_assert_eq(count_records(), 5);
    }
    cr_assert_eq(end - off[4], 56); /* every byte of the 56-byte frame was tried */
}

Test(filelog, bad_checksum_at_tail_is_cut)
{
    uint64_t off[5];
    uint64_t end = five_records(off);
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    flip_byte(seg, end - 1);
    cr_assert_eq(count_records(), 4);
    struct gm_filelog *log = open_log(0);
    cr_assert_eq(gm_filelog_end(log), off[4]);
    cr_assert_eq(file_size_of(seg), off[4]);
    gm_filelog_close(log);
    cr_assert_eq(count_records(), 4);
}

Test(filelog, zero_filled_tail_is_cut)
{
    uint64_t off[5];
    uint64_t end = five_records(off);
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    cr_assert_eq(truncate(seg, (off_t)(end + 100)), 0); /* as a crash can leave it */
    cr_assert_eq(count_records(), 5);
    struct gm_filelog *log = open_log(0);
    cr_assert_eq(gm_filelog_end(log), end);
    cr_assert_eq(file_size_of(seg), end);
    append_str(log, "next");
    gm_filelog_close(log);
    cr_assert_eq(count_records(), 6);
}

Test(filelog, header_then_zeroed_payload_is_cut)
{
    /* A crash can leave a frame's header on disk with its payload pages
     * still zero: a torn tail, not corruption. */
    uint64_t off[5];
    uint64_t end = five_records(off);
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    FILE *f = fopen(seg, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, (long)end, SEEK_SET), 0);
    const uint8_t header[8] = {16, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef};
    cr_assert_eq(fwrite(header, 1, sizeof header, f), sizeof header);
    static const uint8_t zeros[200];
    cr_assert_eq(fwrite(zeros, 1, sizeof zeros, f), sizeof zeros);
    fclose(f);
    cr_assert_eq(count_records(), 5, "readers stop at the torn frame");
    struct gm_filelog *log = open_log(0);
    cr_assert_eq(gm_filelog_end(log), end, "the appender cuts it");
    cr_assert_eq(file_size_of(seg), end);
    append_str(log, "next");
    gm_filelog_close(log);
    cr_assert_eq(count_records(), 6);

    /* The same with a timed frame's 16-byte header (length word, CRC, append time). */
    end = file_size_of(seg);
    f = fopen(seg, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, (long)end, SEEK_SET), 0);
    const uint8_t timed[16] = {16, 0, 0, 0x80, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 0, 0};
    cr_assert_eq(fwrite(timed, 1, sizeof timed, f), sizeof timed);
    cr_assert_eq(fwrite(zeros, 1, sizeof zeros, f), sizeof zeros);
    fclose(f);
    cr_assert_eq(count_records(), 6, "readers stop at the torn timed frame");
    log = open_log(0);
    cr_assert_eq(gm_filelog_end(log), end, "the appender cuts it");
    gm_filelog_close(log);
    cr_assert_eq(file_size_of(seg), end);
}

Test(filelog, bad_checksum_in_the_middle_is_corruption)
{
    uint64_t off[5];
    uint64_t end = five_records(off);
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    flip_byte(seg, off[2] + 20);
    struct gm_filelog_reader *r = open_reader(0);
    char buf[128];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), GM_ECORRUPT);
    cr_assert(strstr(gm_filelog_reader_errmsg(r), "corrupt frame at offset"), "%s",
              gm_filelog_reader_errmsg(r));
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), GM_ECORRUPT, "stays at the bad frame");
    gm_filelog_reader_close(r);

    /* A writer refuses to cut good records after a bad one. */
    struct gm_filelog *log = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    cr_assert_eq(gm_filelog_open(log_dir, NULL, &log, &err), GM_ECORRUPT);
    cr_assert(strstr(err.msg, "bad checksum"), "%s", err.msg);
    cr_assert_null(log);
    cr_assert_eq(file_size_of(seg), end);
}

Test(filelog, corrupt_length_is_corruption_not_an_allocation)
{
    uint64_t off[5];
    five_records(off);
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    int fd = open(seg, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t huge[4] = {0xf0, 0xff, 0xff, 0xff};
    cr_assert_eq(pwrite(fd, huge, 4, (off_t)off[1]), 4);
    close(fd);
    struct gm_filelog_reader *r = open_reader(0);
    char buf[128];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), GM_ECORRUPT);
    cr_assert(strstr(gm_filelog_reader_errmsg(r), "over the limit"), "%s",
              gm_filelog_reader_errmsg(r));
    gm_filelog_reader_close(r);
    struct gm_filelog *log = NULL;
    cr_assert_eq(gm_filelog_open(log_dir, NULL, &log, NULL), GM_ECORRUPT);
}

Test(filelog, bad_frame_in_a_non_last_segment_is_corruption)
{
    struct gm_filelog *log = open_log(120);
    char buf[128];
    uint64_t off[6];
    for (int i = 0; i < 6; i++)
        append_one(log, buf, make_rec(buf, sizeof buf, i, 40), &off[i]);
    gm_filelog_close(log);
    cr_assert_eq(count_segments(), 3); /* two 56-byte frames per 120-byte segment */
    char seg[400];
    seg_path(seg, sizeof seg, off[2]);
    flip_byte(seg, 112 - 1); /* the tail of the second segment */
    struct gm_filelog_reader *r = open_reader(0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), GM_ECORRUPT);
    cr_assert(strstr(gm_filelog_reader_errmsg(r), "not the last"), "%s",
              gm_filelog_reader_errmsg(r));
    gm_filelog_reader_close(r);

    /* Truncated inside its last frame: also corruption, not the end. */
    flip_byte(seg, 112 - 1);
    cr_assert_eq(truncate(seg, 100), 0);
    r = open_reader(0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), GM_ECORRUPT);
    gm_filelog_reader_close(r);
}

Test(filelog, oversized_record_is_rejected)
{
    struct gm_filelog *log = open_log(0);
    append_str(log, "small");
    uint64_t end = gm_filelog_end(log);
    size_t big_len = GM_FILELOG_RECORD_MAX + 1;
    uint8_t *big = calloc(1, big_len);
    cr_assert_not_null(big);
    const void *recs[2] = {"ok", big};
    size_t lens[2] = {2, big_len};
    cr_assert_eq(gm_filelog_append(log, recs, lens, 2, NULL), GM_ETOOBIG);
    cr_assert_eq(gm_filelog_end(log), end, "nothing of the call is written");
    cr_assert_eq(count_records(), 1);

    /* Exactly the limit is fine and reads back. */
    memset(big, 'z', GM_FILELOG_RECORD_MAX);
    append_one(log, big, GM_FILELOG_RECORD_MAX, NULL);
    gm_filelog_close(log);
    struct gm_filelog_reader *r = open_reader(end);
    struct gm_filelog_rec rec;
    cr_assert_eq(gm_filelog_reader_next(r, &rec), 1);
    cr_assert_eq(rec.len, GM_FILELOG_RECORD_MAX);
    cr_assert_eq(memcmp(rec.data, big, rec.len), 0);
    gm_filelog_reader_close(r);
    free(big);
}

Test(filelog, every_fsync_policy_writes_the_same)
{
    enum gm_fsync_policy pol[3] = {GM_FSYNC_NONE, GM_FSYNC_BATCH, GM_FSYNC_ALWAYS};
    for (int p = 0; p < 3; p++) {
        char dir[400];
        snprintf(dir, sizeof dir, "%s/p%d/nested", tmp_root, p);
        struct gm_filelog_opts opts = {.segment_bytes = 128, .fsync = pol[p]};
        struct gm_filelog *log = NULL;
        cr_assert_eq(gm_filelog_open(dir, &opts, &log, NULL), 0);
        const void *recs[10];
        size_t lens[10];
        char bufs[10][32];
        for (int i = 0; i < 10; i++) {
            lens[i] = make_rec(bufs[i], sizeof bufs[i], i, 30);
            recs[i] = bufs[i];
        }
        uint64_t first = 99;
        cr_assert_eq(gm_filelog_append(log, recs, lens, 10, &first), 0);
        cr_assert_eq(first, 0);
        cr_assert_eq(gm_filelog_end(log), 10 * 46);
        gm_filelog_close(log);
        struct gm_filelog_reader *r = NULL;
        cr_assert_eq(gm_filelog_reader_open(dir, 0, &r, NULL), 0);
        char buf[64];
        for (int i = 0; i < 10; i++) {
            cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
            cr_assert_eq(memcmp(buf, bufs[i], lens[i]), 0);
        }
        cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
        gm_filelog_reader_close(r);
    }
}

/* ---- append times ---- */

static int64_t
wall_ms(void)
{
    struct timespec ts;
    cr_assert_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

Test(filelog, append_time_is_in_the_frame)
{
    struct gm_filelog *log = open_log(0);
    const void *recs[3] = {"a", "bb", "ccc"};
    size_t lens[3] = {1, 2, 3};
    int64_t before = wall_ms();
    cr_assert_eq(gm_filelog_append(log, recs, lens, 3, NULL), 0);
    int64_t after = wall_ms();
    usleep(20 * 1000);
    int64_t before2 = wall_ms();
    append_str(log, "later");
    int64_t after2 = wall_ms();
    gm_filelog_close(log);

    struct gm_filelog_reader *r = open_reader(0);
    struct gm_filelog_rec rec;
    int64_t first = 0;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(gm_filelog_reader_next(r, &rec), 1);
        cr_assert(rec.append_ms >= before && rec.append_ms <= after,
                  "record %d: %" PRId64 " not in [%" PRId64 ", %" PRId64 "]", i, rec.append_ms,
                  before, after);
        if (i == 0)
            first = rec.append_ms;
        cr_assert_eq(rec.append_ms, first, "one clock reading per call");
        cr_assert_eq(rec.next - rec.offset, 16 + lens[i], "a 16-byte header");
    }
    cr_assert_eq(gm_filelog_reader_next(r, &rec), 1);
    cr_assert(rec.append_ms >= before2 && rec.append_ms <= after2);
    cr_assert_gt(rec.append_ms, first);
    cr_assert_eq(gm_filelog_reader_next(r, &rec), 0);
    gm_filelog_reader_close(r);

    /* On disk: the length word with its top bit set, the CRC-32C of every
     * other byte of the frame, the time (little-endian ms), the payload. */
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    FILE *f = fopen(seg, "rb");
    cr_assert_not_null(f);
    uint8_t frame[17];
    cr_assert_eq(fread(frame, 1, sizeof frame, f), sizeof frame);
    fclose(f);
    cr_assert_eq(get32(frame), 0x80000001u);
    uint64_t t = (uint64_t)get32(frame + 8) | (uint64_t)get32(frame + 12) << 32;
    cr_assert_eq((int64_t)t, first);
    cr_assert_eq(frame[16], 'a');
    uint32_t crc = gm_crc32c(gm_crc32c(0, frame, 4), frame + 8, 9);
    cr_assert_eq(get32(frame + 4), crc);
}

/* Appends an old-form frame (no append time: length, CRC, payload) to path by hand. */
static uint64_t
write_old_frame(const char *path, const char *payload)
{
    size_t len = strlen(payload);
    uint8_t hdr[8];
    put32(hdr, (uint32_t)len);
    put32(hdr + 4, gm_crc32c(gm_crc32c(0, hdr, 4), payload, len));
    FILE *f = fopen(path, "ab");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(hdr, 1, 8, f), 8);
    cr_assert_eq(fwrite(payload, 1, len, f), len);
    fclose(f);
    return 8 + len;
}

Test(filelog, old_form_frames_read_with_no_append_time)
{
    cr_assert_eq(mkdir(log_dir, 0755), 0);
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    uint64_t end = write_old_frame(seg, "old-one");
    end += write_old_frame(seg, "old-two");

    struct gm_filelog_reader *r = open_reader(0);
    struct gm_filelog_rec rec;
    cr_assert_eq(gm_filelog_reader_next(r, &rec), 1);
    cr_assert_eq(rec.len, 7);
    cr_assert_eq(memcmp(rec.data, "old-one", 7), 0);
    cr_assert_eq(rec.append_ms, 0, "an old frame has no append time");
    cr_assert_eq(rec.next, 15);
    cr_assert_eq(gm_filelog_reader_next(r, &rec), 1);
    cr_assert_eq(memcmp(rec.data, "old-two", 7), 0);
    cr_assert_eq(rec.append_ms, 0);
    cr_assert_eq(gm_filelog_reader_next(r, &rec), 0);

    /* An appender of this version carries on after them with timed frames. */
    struct gm_filelog *log = open_log(0);
    cr_assert_eq(gm_filelog_end(log), end);
    int64_t before = wall_ms();
    append_str(log, "new-one");
    gm_filelog_close(log);
    cr_assert_eq(gm_filelog_reader_next(r, &rec), 1);
    cr_assert_eq(memcmp(rec.data, "new-one", 7), 0);
    cr_assert_geq(rec.append_ms, before);
    cr_assert_eq(rec.next - rec.offset, 23);
    gm_filelog_reader_close(r);

    /* A reader can start at an old frame, and logsrc passes the times on. */
    char uri[420];
    snprintf(uri, sizeof uri, "file:%s", log_dir);
    struct gm_logsrc *s = NULL;
    cr_assert_eq(gm_logsrc_open(uri, 15, &s, NULL), 0);
    struct gm_record lr;
    cr_assert_eq(gm_logsrc_next(s, &lr), 1);
    cr_assert_eq(lr.append_ms, 0);
    cr_assert_eq(gm_logsrc_next(s, &lr), 1);
    cr_assert_geq(lr.append_ms, before);
    cr_assert_eq(gm_logsrc_next(s, &lr), 0);
    gm_logsrc_close(s);
}

Test(filelog, torn_old_form_tail_is_cut)
{
    cr_assert_eq(mkdir(log_dir, 0755), 0);
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    uint64_t good = write_old_frame(seg, "whole");
    uint64_t end = good + write_old_frame(seg, "torn-by-a-crash");
    for (uint64_t cut = good + 1; cut < end; cut++) {
        cr_assert_eq(truncate(seg, (off_t)cut), 0);
        cr_assert_eq(count_records(), 1, "cut at %" PRIu64, cut);
        struct gm_filelog *log = open_log(0);
        cr_assert_eq(gm_filelog_end(log), good, "cut at %" PRIu64, cut);
        gm_filelog_close(log);
        cr_assert_eq(file_size_of(seg), good);
        cr_assert_eq(truncate(seg, 0), 0);
        write_old_frame(seg, "whole");
        write_old_frame(seg, "torn-by-a-crash");
    }
}

Test(filelog, reserved_flag_bits_are_corruption)
{
    uint64_t off[5];
    five_records(off);
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    flip_byte(seg, off[2] + 3); /* 0x80 ^ 0x5a: reserved bits in the top byte */
    struct gm_filelog_reader *r = open_reader(0);
    char buf[128];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), GM_ECORRUPT);
    cr_assert(strstr(gm_filelog_reader_errmsg(r), "unknown flags 0xda"), "%s",
              gm_filelog_reader_errmsg(r));
    gm_filelog_reader_close(r);
    struct gm_filelog *log = NULL;
    cr_assert_eq(gm_filelog_open(log_dir, NULL, &log, NULL), GM_ECORRUPT);
}

/* ---- durability: the mark (DIR/DURABLE) ---- */

/* What DIR/DURABLE says; fails the test unless it is a well-formed mark. */
static uint64_t
read_mark(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/DURABLE", log_dir);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    uint8_t m[17];
    size_t n = fread(m, 1, sizeof m, f);
    fclose(f);
    cr_assert_eq(n, 16, "the mark is 16 bytes, not %zu", n);
    cr_assert_eq(memcmp(m, "GMD1", 4), 0);
    cr_assert_eq(get32(m + 12), gm_crc32c(0, m, 12), "the mark's checksum");
    return (uint64_t)get32(m + 4) | (uint64_t)get32(m + 8) << 32;
}

static void
write_mark_bytes(const void *bytes, size_t len)
{
    char path[400];
    snprintf(path, sizeof path, "%s/DURABLE", log_dir);
    write_file(path, bytes, len);
}

static struct gm_filelog *
open_log_with(enum gm_fsync_policy policy)
{
    struct gm_filelog_opts opts = {.fsync = policy};
    struct gm_filelog *log = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_filelog_open(log_dir, &opts, &log, &err);
    cr_assert_eq(rc, 0, "open %s: %d %s", log_dir, rc, err.msg);
    return log;
}

Test(durable, readers_do_not_see_unsynced_records)
{
    struct gm_filelog *log = open_log_with(GM_FSYNC_BATCH);
    cr_assert_eq(read_mark(), 0, "a new log has a mark at 0");
    append_str(log, "synced");
    uint64_t synced = gm_filelog_end(log);
    cr_assert_eq(read_mark(), synced, "an append moves the mark after its fdatasync");
    gm_filelog_close(log);

    /* Written, not synced: what an appender that died before its fdatasync leaves. */
    struct gm_filelog *seam = open_log_with(GM_FSYNC_TEST_UNSYNCED);
    append_str(seam, "unsynced-1");
    append_str(seam, "unsynced-2");
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    cr_assert_gt(file_size_of(seg), synced, "the bytes are in the file");
    cr_assert_eq(read_mark(), synced, "the mark did not move");
    gm_filelog_close(seam);

    struct gm_filelog_reader *r = open_reader(0);
    char buf[64];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_str_eq(buf, "synced");
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0, "not durable, not read");
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    struct gm_filelog_reader *r2 = open_reader(synced);
    cr_assert_eq(read_next(r2, buf, sizeof buf, NULL, NULL), 0, "nor from the mark on");
    gm_filelog_reader_close(r2);

    /* The next appender to open the log syncs them and moves the mark. */
    log = open_log_with(GM_FSYNC_BATCH);
    cr_assert_eq(read_mark(), file_size_of(seg));
    gm_filelog_close(log);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_str_eq(buf, "unsynced-1");
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_str_eq(buf, "unsynced-2");
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    gm_filelog_reader_close(r);
}

Test(durable, a_power_cut_takes_only_what_no_reader_saw)
{
    struct gm_filelog *log = open_log_with(GM_FSYNC_BATCH);
    uint64_t off[3];
    for (int i = 0; i < 3; i++) {
        char rec[32];
        snprintf(rec, sizeof rec, "synced-%d", i);
        append_one(log, rec, strlen(rec), &off[i]);
    }
    uint64_t synced = gm_filelog_end(log);
    gm_filelog_close(log);
    struct gm_filelog *seam = open_log_with(GM_FSYNC_TEST_UNSYNCED);
    append_str(seam, "lost-1");
    append_str(seam, "lost-2");
    gm_filelog_close(seam);
    struct gm_filelog_reader *r = open_reader(0);
    char buf[64];
    uint64_t next = 0;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(read_next(r, buf, sizeof buf, NULL, &next), 1);
    cr_assert_eq(next, synced);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    gm_filelog_reader_close(r);

    /* The power cut: the log back to its last synced length. */
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    cr_assert_eq(truncate(seg, (off_t)synced), 0);
    r = open_reader(synced); /* where a consumer that read everything resumes */
    log = open_log_with(GM_FSYNC_BATCH);
    cr_assert_eq(gm_filelog_end(log), synced);
    cr_assert_eq(read_mark(), synced);
    uint64_t o;
    append_one(log, "after", 5, &o);
    gm_filelog_close(log);
    cr_assert_eq(o, synced, "new records land where the consumer resumes");
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_str_eq(buf, "after");
    gm_filelog_reader_close(r);
    cr_assert_eq(count_records(), 4);
}

Test(durable, fsync_none_moves_the_mark_with_the_written_end)
{
    struct gm_filelog *log = open_log_with(GM_FSYNC_NONE);
    append_str(log, "one");
    cr_assert_eq(read_mark(), gm_filelog_end(log));
    struct gm_filelog_reader *r = open_reader(0);
    char buf[16];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    gm_filelog_reader_close(r);
    gm_filelog_close(log);
}

Test(durable, a_log_without_a_mark_is_durable_to_its_end)
{
    /* A log of an older version: old frames, no DURABLE. */
    cr_assert_eq(mkdir(log_dir, 0755), 0);
    char seg[400], mark[400];
    seg_path(seg, sizeof seg, 0);
    snprintf(mark, sizeof mark, "%s/DURABLE", log_dir);
    uint64_t end = write_old_frame(seg, "old-one");
    end += write_old_frame(seg, "old-two");
    struct gm_filelog_reader *r = open_reader(0);
    char buf[64];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    cr_assert_neq(access(mark, F_OK), 0, "readers create nothing");
    /* More old frames appended (an older binary still running) are read too. */
    end += write_old_frame(seg, "old-three");
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_str_eq(buf, "old-three");
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);

    /* The first appender of this version creates the mark at the end... */
    struct gm_filelog *seam = open_log_with(GM_FSYNC_TEST_UNSYNCED);
    cr_assert_eq(read_mark(), end);
    /* ...and from then on only durable records are read, by the old reader too. */
    append_str(seam, "unsynced");
    gm_filelog_close(seam);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    struct gm_filelog_reader *r2 = open_reader(0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(read_next(r2, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_eq(read_next(r2, buf, sizeof buf, NULL, NULL), 0);
    gm_filelog_close(open_log_with(GM_FSYNC_BATCH));
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_str_eq(buf, "unsynced");
    cr_assert_eq(read_next(r2, buf, sizeof buf, NULL, NULL), 1);
    gm_filelog_reader_close(r2);
    gm_filelog_reader_close(r);
}

Test(durable, an_unmarked_torn_tail_cut_and_rewritten_is_not_read_early)
{
    /* An older appender died mid-frame; a reader stops there. An appender of
     * this version cuts the tail, creates the mark and writes (unsynced)
     * where the torn bytes were: the reader must not take those bytes as
     * durable because the file once reached that far. */
    cr_assert_eq(mkdir(log_dir, 0755), 0);
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    uint64_t good = write_old_frame(seg, "whole");
    uint64_t torn = good + write_old_frame(seg, "a-longer-record-that-is-torn-by-a-crash");
    cr_assert_eq(truncate(seg, (off_t)(torn - 3)), 0);
    struct gm_filelog_reader *r = open_reader(0);
    char buf[64];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 1);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    struct gm_filelog *seam = open_log_with(GM_FSYNC_TEST_UNSYNCED);
    cr_assert_eq(gm_filelog_end(seam), good, "the torn tail is cut");
    cr_assert_eq(read_mark(), good);
    append_str(seam, "short");
    gm_filelog_close(seam);
    cr_assert_lt(file_size_of(seg), torn - 3, "rewritten within the old bytes");
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    gm_filelog_reader_close(r);
}

Test(durable, a_damaged_or_empty_mark)
{
    struct gm_filelog *log = open_log_with(GM_FSYNC_BATCH);
    append_str(log, "one");
    uint64_t end = gm_filelog_end(log);
    gm_filelog_close(log);

    /* Empty (a crash right after it was created): a mark of 0, behind. */
    write_mark_bytes("", 0);
    struct gm_filelog_reader *r = open_reader(0);
    char buf[16];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    gm_filelog_reader_close(r);

    /* Damaged: loud, and says how to repair it. */
    write_mark_bytes("GMD1 garbage....", 16);
    r = open_reader(0);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), GM_ECORRUPT);
    cr_assert(strstr(gm_filelog_reader_errmsg(r), "DURABLE: the durable mark is damaged"), "%s",
              gm_filelog_reader_errmsg(r));
    cr_assert(strstr(gm_filelog_reader_errmsg(r), "gamify produce --log file:"), "%s",
              gm_filelog_reader_errmsg(r));
    gm_filelog_reader_close(r);

    /* Any appender opening the log rewrites it. */
    gm_filelog_close(open_log_with(GM_FSYNC_BATCH));
    cr_assert_eq(read_mark(), end);
    cr_assert_eq(count_records(), 1);
}

Test(durable, a_mark_past_the_end_is_moved_back)
{
    struct gm_filelog *log = open_log_with(GM_FSYNC_BATCH);
    append_str(log, "one");
    append_str(log, "two");
    uint64_t end = gm_filelog_end(log);
    gm_filelog_close(log);
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    cr_assert_eq(truncate(seg, 19), 0); /* synced records lost: restored from an old copy */
    log = open_log_with(GM_FSYNC_BATCH);
    cr_assert_eq(gm_filelog_end(log), 19);
    cr_assert_eq(read_mark(), 19);
    append_str(log, "three");
    cr_assert_eq(read_mark(), 19 + 21);
    gm_filelog_close(log);
    cr_assert_eq(count_records(), 2);
    cr_assert_neq(end, 19);
}

Test(durable, a_follower_wakes_when_the_mark_moves)
{
    gm_filelog_close(open_log_with(GM_FSYNC_BATCH));
    struct gm_filelog *seam = open_log_with(GM_FSYNC_TEST_UNSYNCED);
    append_str(seam, "pending");
    gm_filelog_close(seam);
    struct gm_filelog_reader *r = open_reader(0);
    char buf[64];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    cr_assert_geq(gm_filelog_reader_wait(r, 0), 0); /* arms the watch */
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* Only the mark changes: the open syncs the segment and rewrites DURABLE. */
        usleep(50 * 1000);
        struct gm_filelog *log = NULL;
        _exit(gm_filelog_open(log_dir, NULL, &log, NULL) == 0 ? (gm_filelog_close(log), 0) : 1);
    }
    int got = 0;
    for (int tries = 0; tries < 20 && !got; tries++) {
        cr_assert_eq(gm_filelog_reader_wait(r, 10000), 1, "woken, not timed out");
        got = read_next(r, buf, sizeof buf, NULL, NULL);
        cr_assert_geq(got, 0);
    }
    cr_assert_eq(got, 1);
    cr_assert_str_eq(buf, "pending");
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    gm_filelog_reader_close(r);
}

/* In a child: a failed write (file size limit) leaves the log as it was. */
Test(filelog, failed_append_cuts_back)
{
    struct gm_filelog *log = open_log(300);
    char buf[128];
    for (int i = 0; i < 3; i++)
        append_one(log, buf, make_rec(buf, sizeof buf, i, 52), NULL);
    cr_assert_eq(gm_filelog_end(log), 204);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {250, 250};
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
            _exit(10);
        /* 42 bytes fit the first segment; then a roll; the second segment hits the limit. */
        static char recs_buf[4][130];
        const void *recs[4];
        size_t lens[4] = {26, 130, 130, 130};
        for (int i = 0; i < 4; i++) {
            memset(recs_buf[i], 'a' + i, sizeof recs_buf[i]);
            recs[i] = recs_buf[i];
        }
        int rc = gm_filelog_append(log, recs, lens, 4, NULL);
        if (rc != -EFBIG)
            _exit(11);
        if (gm_filelog_end(log) != 204)
            _exit(12);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    char seg[400];
    seg_path(seg, sizeof seg, 0);
    cr_assert_eq(file_size_of(seg), 204);
    cr_assert_eq(count_segments(), 1, "the rolled segment was removed");
    cr_assert_eq(count_records(), 3);
    /* The parent's appender carries on at the old end. */
    uint64_t o;
    append_one(log, "after", 5, &o);
    cr_assert_eq(o, 204);
    gm_filelog_close(log);
    cr_assert_eq(count_records(), 4);
}

Test(filelog, lock_is_per_append_unless_held)
{
    char lock[400];
    snprintf(lock, sizeof lock, "%s/LOCK", log_dir);
    struct gm_filelog *log = open_log(0);
    int fd = open(lock, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0, "free between appends");
    flock(fd, LOCK_UN);
    gm_filelog_close(log);

    struct gm_filelog_opts opts = {.hold_lock = true, .fsync = GM_FSYNC_NONE};
    cr_assert_eq(gm_filelog_open(log_dir, &opts, &log, NULL), 0);
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), -1, "held from open");
    cr_assert_eq(errno, EWOULDBLOCK);
    append_str(log, "held");
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), -1, "still held");
    gm_filelog_close(log);
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0, "released at close");
    close(fd);
    cr_assert_eq(count_records(), 1);
}

#define PER_PROC 1000

static void
appender_child(int id)
{
    struct gm_filelog_opts opts = {.segment_bytes = 4096, .fsync = GM_FSYNC_NONE};
    struct gm_filelog *log = NULL;
    if (gm_filelog_open(log_dir, &opts, &log, NULL) < 0)
        _exit(20);
    int i = 0;
    while (i < PER_PROC) {
        /* Mostly single records, sometimes a batch of three. */
        int n = (i % 10 == 0 && i + 3 <= PER_PROC) ? 3 : 1;
        char bufs[3][64];
        const void *recs[3];
        size_t lens[3];
        for (int k = 0; k < n; k++) {
            lens[k] = (size_t)snprintf(bufs[k], sizeof bufs[k], "p%d:%d:%.*s", id, i + k,
                                       (i + k) % 30, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
            recs[k] = bufs[k];
        }
        if (gm_filelog_append(log, recs, lens, (size_t)n, NULL) < 0)
            _exit(21);
        i += n;
    }
    gm_filelog_close(log);
    _exit(0);
}

Test(filelog, two_appender_processes_interleave)
{
    /* The log exists first so that both children race on appends, not creation. */
    gm_filelog_close(open_log(4096));
    pid_t pids[2];
    for (int c = 0; c < 2; c++) {
        pids[c] = fork();
        cr_assert_geq(pids[c], 0);
        if (pids[c] == 0)
            appender_child(c);
    }
    for (int c = 0; c < 2; c++) {
        int status;
        cr_assert_eq(waitpid(pids[c], &status, 0), pids[c]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d status %d", c, status);
    }
    struct gm_filelog_reader *r = open_reader(0);
    int next_seq[2] = {0, 0};
    int total = 0, switches = 0, last_id = -1;
    char buf[128];
    int rc;
    while ((rc = read_next(r, buf, sizeof buf, NULL, NULL)) == 1) {
        int id, seq, used = 0;
        cr_assert_eq(sscanf(buf, "p%d:%d:%n", &id, &seq, &used), 2, "record '%s'", buf);
        cr_assert(id == 0 || id == 1);
        cr_assert_eq(seq, next_seq[id], "process %d: got %d, want %d", id, seq, next_seq[id]);
        cr_assert_eq(strlen(buf + used), (size_t)(seq % 30), "record '%s' is whole", buf);
        next_seq[id]++;
        if (id != last_id)
            switches++;
        last_id = id;
        total++;
    }
    cr_assert_eq(rc, 0, "%s", gm_filelog_reader_errmsg(r));
    gm_filelog_reader_close(r);
    cr_assert_eq(total, 2 * PER_PROC);
    cr_assert_eq(next_seq[0], PER_PROC);
    cr_assert_eq(next_seq[1], PER_PROC);
    cr_assert_gt(count_segments(), 5);
    (void)switches; /* how much they interleave depends on scheduling */
}

Test(filelog, follower_wakes_on_another_process_append)
{
    gm_filelog_close(open_log(0));
    struct gm_filelog_reader *r = open_reader(0);
    char buf[64];
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    /* The first wait arms the watch and may report at once. */
    cr_assert_geq(gm_filelog_reader_wait(r, 0), 0);
    cr_assert_eq(read_next(r, buf, sizeof buf, NULL, NULL), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        usleep(50 * 1000);
        struct gm_filelog *log = NULL;
        struct gm_filelog_opts opts = {.fsync = GM_FSYNC_NONE};
        if (gm_filelog_open(log_dir, &opts, &log, NULL) < 0)
            _exit(1);
        const void *recs[1] = {"hello"};
        size_t lens[1] = {5};
        int rc = gm_filelog_append(log, recs, lens, 1, NULL);
        gm_filelog_close(log);
        _exit(rc == 0 ? 0 : 2);
    }
    int got = 0;
    for (int tries = 0; tries < 20 && !got; tries++) {
        int w = gm_filelog_reader_wait(r, 10000);
        cr_assert_eq(w, 1, "woken by the append, not the timeout (%d)", w);
        got = read_next(r, buf, sizeof buf, NULL, NULL);
        cr_assert_geq(got, 0);
    }
    cr_assert_eq(got, 1);
    cr_assert_str_eq(buf, "hello");
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(gm_filelog_reader_wait(r, 0) >= 0, 1);
    gm_filelog_reader_close(r);
}

Test(filelog, wait_times_out_without_appends)
{
    gm_filelog_close(open_log(0));
    struct gm_filelog_reader *r = open_reader(0);
    gm_filelog_reader_wait(r, 0); /* arm */
    cr_assert_eq(gm_filelog_reader_wait(r, 20), 0);
    gm_filelog_reader_close(r);
}

/* ---- log URIs ---- */

Test(logsrc, uri_schemes)
{
    enum gm_logsrc_scheme sc;
    const char *rest;
    cr_assert_eq(gm_logsrc_uri_parse("file:/var/log/g", &sc, &rest, NULL), 0);
    cr_assert_eq(sc, GM_LOGSRC_FILE);
    cr_assert_str_eq(rest, "/var/log/g");
    cr_assert_eq(gm_logsrc_uri_parse("file:///var/log/g", &sc, &rest, NULL), 0);
    cr_assert_str_eq(rest, "/var/log/g");
    cr_assert_eq(gm_logsrc_uri_parse("jsonl:rel/x.jsonl", &sc, &rest, NULL), 0);
    cr_assert_eq(sc, GM_LOGSRC_JSONL);
    cr_assert_eq(gm_logsrc_uri_parse("kafka://h:9092/events", &sc, &rest, NULL), 0);
    cr_assert_eq(sc, GM_LOGSRC_KAFKA);
    cr_assert_eq(gm_logsrc_uri_parse("http://x", &sc, &rest, NULL), GM_EINVAL);
    cr_assert_eq(gm_logsrc_uri_parse("file:", &sc, &rest, NULL), GM_EINVAL);

    struct gm_logsrc *s = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    cr_assert_eq(gm_logsrc_open("kafka://localhost:9092/events", 0, &s, &err), GM_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "Kafka"), "%s", err.msg);
    cr_assert_null(s);
    cr_assert_eq(gm_logsrc_open("nope:x", 0, &s, NULL), GM_EINVAL);
}

Test(logsrc, jsonl_lines_and_offsets)
{
    char path[400], uri[420];
    snprintf(path, sizeof path, "%s/in.jsonl", tmp_root);
    snprintf(uri, sizeof uri, "jsonl:%s", path);
    const char *text = "{\"a\":1}\n\n  \n{\"b\":2}\r\n{\"c\":3}";
    write_file(path, text, strlen(text));
    struct gm_logsrc *s = NULL;
    cr_assert_eq(gm_logsrc_open(uri, 0, &s, NULL), 0);
    cr_assert_eq(gm_logsrc_format(s), GM_RECORD_JSON);
    struct gm_record rec;
    cr_assert_eq(gm_logsrc_next(s, &rec), 1);
    cr_assert_eq(rec.len, 7);
    cr_assert_eq(memcmp(rec.data, "{\"a\":1}", 7), 0);
    cr_assert_eq(rec.offset, 0);
    cr_assert_eq(rec.next, 8);
    cr_assert_eq(rec.line, 1);
    cr_assert_eq(gm_logsrc_next(s, &rec), 1);
    cr_assert_eq(rec.len, 7, "the \\r is not part of the record");
    cr_assert_eq(memcmp(rec.data, "{\"b\":2}", 7), 0);
    cr_assert_eq(rec.offset, 12);
    cr_assert_eq(rec.line, 4);
    uint64_t b_next = rec.next;
    cr_assert_eq(b_next, 21);
    cr_assert_eq(gm_logsrc_next(s, &rec), 1, "a last line without a newline");
    cr_assert_eq(memcmp(rec.data, "{\"c\":3}", 7), 0);
    cr_assert_eq(rec.line, 5);
    cr_assert_eq(rec.next, strlen(text));
    cr_assert_eq(gm_logsrc_next(s, &rec), 0);
    gm_logsrc_close(s);

    cr_assert_eq(gm_logsrc_open(uri, 12, &s, NULL), 0);
    cr_assert_eq(gm_logsrc_next(s, &rec), 1);
    cr_assert_eq(rec.offset, 12);
    cr_assert_eq(rec.line, 0, "unknown when not read from the start");
    gm_logsrc_close(s);
    cr_assert_eq(gm_logsrc_open(uri, 13, &s, NULL), GM_EINVAL);
    cr_assert_eq(gm_logsrc_open(uri, 1000, &s, NULL), GM_EINVAL);
}

Test(logsrc, jsonl_overlong_line_is_skipped_and_reported)
{
    char path[400], uri[420];
    snprintf(path, sizeof path, "%s/long.jsonl", tmp_root);
    snprintf(uri, sizeof uri, "jsonl:%s", path);
    size_t big = (size_t)GM_JSON_MAX * 3 + 5;
    char *text = malloc(2 * big + 64);
    cr_assert_not_null(text);
    size_t n = 0;
    n += (size_t)sprintf(text + n, "{\"x\":1}\n");
    memset(text + n, 'q', big);
    n += big;
    n += (size_t)sprintf(text + n, "\n{\"y\":2}\n");
    memset(text + n, 'r', big); /* an overlong last line without a newline */
    n += big;
    write_file(path, text, n);
    free(text);

    struct gm_logsrc *s = NULL;
    cr_assert_eq(gm_logsrc_open(uri, 0, &s, NULL), 0);
    struct gm_record rec;
    cr_assert_eq(gm_logsrc_next(s, &rec), 1);
    cr_assert_eq(rec.line, 1);
    cr_assert_eq(gm_logsrc_next(s, &rec), GM_ETOOBIG);
    cr_assert_eq(rec.line, 2);
    cr_assert_eq(rec.offset, 8);
    cr_assert_eq(rec.next, 8 + big + 1);
    cr_assert_null(rec.data);
    cr_assert_eq(gm_logsrc_next(s, &rec), 1);
    cr_assert_eq(rec.line, 3);
    cr_assert_eq(memcmp(rec.data, "{\"y\":2}", 7), 0);
    cr_assert_eq(gm_logsrc_next(s, &rec), GM_ETOOBIG);
    cr_assert_eq(rec.line, 4);
    cr_assert_eq(gm_logsrc_next(s, &rec), 0);
    gm_logsrc_close(s);
}

Test(logsrc, file_log_records)
{
    struct gm_filelog *log = open_log(64);
    append_str(log, "one");
    append_str(log, "two");
    append_str(log, "three-is-a-bit-longer-than-the-segment-size-of-sixty-four-bytes");
    append_str(log, "four");
    gm_filelog_close(log);
    char uri[420];
    snprintf(uri, sizeof uri, "file:%s", log_dir);
    struct gm_logsrc *s = NULL;
    cr_assert_eq(gm_logsrc_open(uri, 0, &s, NULL), 0);
    cr_assert_eq(gm_logsrc_format(s), GM_RECORD_PROTOBUF);
    struct gm_record rec;
    uint64_t third = 0;
    const char *want[4] = {"one", "two", "three", "four"};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(gm_logsrc_next(s, &rec), 1);
        cr_assert_eq(memcmp(rec.data, want[i], strlen(want[i])), 0);
        if (i == 2)
            third = rec.offset;
    }
    cr_assert_eq(gm_logsrc_next(s, &rec), 0);
    gm_logsrc_close(s);
    cr_assert_eq(gm_logsrc_open(uri, third, &s, NULL), 0);
    cr_assert_eq(gm_logsrc_next(s, &rec), 1);
    cr_assert_eq(memcmp(rec.data, "three", 5), 0);
    gm_logsrc_close(s);
}

/* ---- gamify produce, through the binary ---- */

/* Runs gamify with argv (NULL-terminated, without argv[0]); returns the exit code. */
static int
run_gamify(const char *const *args, const char *stdin_path, const char *stderr_path,
           const char *env_log)
{
    const char *root = getenv("GAMIFY_BUILD_ROOT");
    cr_assert_not_null(root, "GAMIFY_BUILD_ROOT is not set");
    char exe[512];
    snprintf(exe, sizeof exe, "%s/processor/gamify", root);
    const char *argv[16] = {exe};
    int n = 1;
    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (stdin_path) {
            int fd = open(stdin_path, O_RDONLY);
            if (fd < 0 || dup2(fd, 0) < 0)
                _exit(120);
        }
        int fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(121);
        if (env_log)
            setenv("GAMIFY_LOG", env_log, 1);
        else
            unsetenv("GAMIFY_LOG");
        execv(exe, (char *const *)argv);
        _exit(122);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "gamify died: status %d", status);
    return WEXITSTATUS(status);
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap + 1);
            cr_assert_not_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Reads the log and returns the eventIds of its records, decoded, joined by ','. */
static void
log_event_ids(char *out, size_t cap)
{
    struct gm_filelog_reader *r = open_reader(0);
    struct gm_filelog_rec rec;
    out[0] = '\0';
    int rc;
    while ((rc = gm_filelog_reader_next(r, &rec)) == 1) {
        Gamification__V1__Event *ev = NULL;
        cr_assert_eq(gm_event_decode(rec.data, rec.len, &ev, NULL), 0);
        if (out[0])
            strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, ev->event_id, cap - strlen(out) - 1);
        gm_event_free(ev);
    }
    cr_assert_eq(rc, 0);
    gm_filelog_reader_close(r);
}

static size_t
good_line(char *out, const char *id)
{
    return (size_t)sprintf(out,
                           "{\"eventId\":\"%s\",\"userId\":\"u1\",\"occurredAt\":"
                           "\"2026-11-25T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l1\","
                           "\"courseId\":\"c1\",\"score\":95}}\n",
                           id);
}

Test(produce, bad_lines_are_reported_and_good_lines_appended)
{
    char in[400], errp[400], uri[420];
    snprintf(in, sizeof in, "%s/in.jsonl", tmp_root);
    snprintf(errp, sizeof errp, "%s/stderr", tmp_root);
    snprintf(uri, sizeof uri, "file:%s", log_dir);
    size_t big = (size_t)GM_JSON_MAX + 100;
    char *text = malloc(big + 4096);
    cr_assert_not_null(text);
    size_t n = 0;
    n += good_line(text + n, "A");                           /* 1 */
    n += (size_t)sprintf(text + n, "{not json\n");           /* 2 */
    n += good_line(text + n, "B");                           /* 3 */
    n += (size_t)sprintf(text + n, "{\"eventId\":\"x\"}\n"); /* 4: no user, no body */
    n += (size_t)sprintf(text + n, "\n");                    /* 5: blank, skipped */
    n += (size_t)sprintf(text + n, "{\"eventId\":\"");       /* 6: too long */
    memset(text + n, 'z', big);
    n += big;
    n += (size_t)sprintf(text + n, "\"}\n");
    n += good_line(text + n, "C"); /* 7 */
    write_file(in, text, n);
    free(text);

    const char *args[] = {"produce", "--log", uri, in, NULL};
    cr_assert_eq(run_gamify(args, NULL, errp, NULL), 1);
    char *msgs = slurp(errp, NULL);
    char want[512];
    for (int line = 1; line <= 7; line++) {
        snprintf(want, sizeof want, "%s:%d: ", in, line);
        bool bad = line == 2 || line == 4 || line == 6;
        cr_assert_eq(strstr(msgs, want) != NULL, bad, "line %d in:\n%s", line, msgs);
    }
    cr_assert(strstr(msgs, "produced 3 events, 3 bad lines, log end offset "), "%s", msgs);
    free(msgs);
    char ids[256];
    log_event_ids(ids, sizeof ids);
    cr_assert_str_eq(ids, "A,B,C");

    /* Again, through stdin and GAMIFY_LOG: appended after the first three. */
    const char *args2[] = {"produce", "--fsync", "always", "-", NULL};
    cr_assert_eq(run_gamify(args2, in, errp, uri), 1);
    log_event_ids(ids, sizeof ids);
    cr_assert_str_eq(ids, "A,B,C,A,B,C");
}

Test(produce, usage_errors)
{
    char errp[400], uri[420];
    snprintf(errp, sizeof errp, "%s/stderr", tmp_root);
    snprintf(uri, sizeof uri, "file:%s", log_dir);
    const char *no_log[] = {"produce", "/dev/null", NULL};
    cr_assert_eq(run_gamify(no_log, NULL, errp, NULL), 2);
    const char *bad_fsync[] = {"produce", "--log", uri, "--fsync", "sometimes", NULL};
    cr_assert_eq(run_gamify(bad_fsync, NULL, errp, NULL), 2);
    const char *kafka[] = {"produce", "--log", "kafka://h:1/t", "/dev/null", NULL};
    cr_assert_eq(run_gamify(kafka, NULL, errp, NULL), 2);
    const char *missing[] = {"produce", "--log", uri, "/nonexistent/in.jsonl", NULL};
    cr_assert_eq(run_gamify(missing, NULL, errp, NULL), 2);
    const char *empty[] = {"produce", "--log", uri, "/dev/null", NULL};
    cr_assert_eq(run_gamify(empty, NULL, errp, NULL), 0);
    char *msgs = slurp(errp, NULL);
    cr_assert(strstr(msgs, "produced 0 events, 0 bad lines, log end offset 0"), "%s", msgs);
    free(msgs);
}

Test(produce, examples_round_trip)
{
    const char *ex = getenv("GAMIFY_EXAMPLES");
    cr_assert_not_null(ex, "GAMIFY_EXAMPLES is not set");
    char in[512], errp[400], uri[420];
    snprintf(in, sizeof in, "%s/events.jsonl", ex);
    snprintf(errp, sizeof errp, "%s/stderr", tmp_root);
    snprintf(uri, sizeof uri, "file:%s", log_dir);
    const char *args[] = {"produce", "--log", uri, in, NULL};
    cr_assert_eq(run_gamify(args, NULL, errp, NULL), 0);
    char *msgs = slurp(errp, NULL);
    cr_assert(strstr(msgs, "produced 33 events, 0 bad lines"), "%s", msgs);
    free(msgs);

    char *text = slurp(in, NULL);
    struct gm_filelog_reader *r = open_reader(0);
    int count = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        Gamification__V1__Event *want = NULL, *got = NULL;
        struct gm_err err;
        gm_err_clear(&err);
        cr_assert_eq(gm_event_from_json(line, strlen(line), &want, &err), 0, "%s", err.msg);
        struct gm_filelog_rec rec;
        cr_assert_eq(gm_filelog_reader_next(r, &rec), 1, "record %d", count);
        cr_assert_eq(gm_event_decode(rec.data, rec.len, &got, &err), 0, "%s", err.msg);
        char *a = gm_event_to_json(want), *b = gm_event_to_json(got);
        cr_assert_not_null(a);
        cr_assert_not_null(b);
        cr_assert_str_eq(b, a, "record %d", count);
        free(a);
        free(b);
        gm_event_free(want);
        gm_event_free(got);
        count++;
    }
    struct gm_filelog_rec rec;
    cr_assert_eq(gm_filelog_reader_next(r, &rec), 0);
    cr_assert_eq(count, 33);
    gm_filelog_reader_close(r);
    free(text);
}
