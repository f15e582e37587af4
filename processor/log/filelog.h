/*
 * filelog.h: the embedded event log (`file:DIR`): a directory of
 * append-only segment files of framed records.
 *
 * A record's offset is its global byte position: the segment file holding
 * it is named by the global offset of its first byte (20 decimal digits,
 * ".seg"), so a reader seeks in O(1). Each frame is a 4-byte little-endian
 * length word (the payload length; its top bit set: an append time
 * follows), a 4-byte little-endian CRC32C of every other byte of the frame,
 * the append time (8 bytes, little-endian milliseconds since 1970; frames
 * written before it existed have none), then the payload. Appenders on one
 * machine serialise on a lock file (DIR/LOCK, flock); a writer opening the
 * log detects a torn tail (short or bad last frame) and cuts it. Readers
 * follow the tail as the log grows. docs/internals/filelog.md says how it
 * works.
 *
 * Durability: after its fdatasync, still under the lock, an append records
 * the log's durable end in DIR/DURABLE (the "mark"), and readers never
 * return a record that ends past the mark, so nothing folded from the log
 * can be lost by a power cut after it was read. A log without DIR/DURABLE
 * (written before it existed) counts as durable to its end; the first
 * appender to open it creates the mark.
 *
 * Locking: by default the lock is held only while gm_filelog_open checks
 * the tail and during each gm_filelog_append, which first re-reads the tail
 * under the lock (another appender may have written or rolled since), so
 * several long-lived appender processes interleave whole append calls
 * safely. opts.hold_lock keeps the lock from open to close instead (other
 * appenders then wait for the close).
 */
#ifndef GM_FILELOG_H
#define GM_FILELOG_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_FILELOG_RECORD_MAX (2u << 20) /* bytes of one payload */

enum gm_fsync_policy {
    GM_FSYNC_NONE,   /* leave it to the OS; the mark follows the written end */
    GM_FSYNC_BATCH,  /* fdatasync once per gm_filelog_append call (default) */
    GM_FSYNC_ALWAYS, /* fdatasync after every record */
    /*
     * Test seam: appends neither sync nor move the mark (an existing one is
     * never moved; a missing one is created at open), which is what an
     * appender that died between its write and its fdatasync leaves.
     */
    GM_FSYNC_TEST_UNSYNCED,
};

struct gm_filelog_opts {
    uint64_t segment_bytes; /* roll to a new segment past this; 0: 64 MiB */
    enum gm_fsync_policy fsync;
    bool hold_lock; /* hold DIR/LOCK from open to close, not per append */
};

struct gm_filelog;

/*
 * Opens DIR for appending, creating it if needed, taking the appenders'
 * lock (waits for another appender to finish), and cutting a torn tail. A
 * bad frame in the last segment that is followed by more (non-zero) data is
 * not a torn tail: GM_ECORRUPT, nothing is cut. Then it settles the mark:
 * whole frames past it (an appender died before its fdatasync, or the mark
 * was not yet written back when the power went) are synced and the mark
 * moved to the end; a mark past the end (the log lost records it had called
 * durable) is logged as an error and moved back. opts may be NULL for
 * defaults. *out is new; close with gm_filelog_close.
 */
int gm_filelog_open(const char *dir, const struct gm_filelog_opts *opts, struct gm_filelog **out,
                    struct gm_err *err);

/*
 * Appends n records in order (borrows recs); on success *first_offset (may
 * be NULL) is the offset of the first. Every frame of the call carries the
 * same append time, one CLOCK_REALTIME reading taken under the lock (so
 * append times follow log order unless the clock steps back). Either all n
 * are written (and synced per the policy) or an error is returned and the
 * log is cut back to where it was. Records of one call are contiguous even
 * with other appenders.
 * Errors: GM_ETOOBIG (a record over GM_FILELOG_RECORD_MAX; nothing written),
 * GM_ECORRUPT (another appender left a bad frame), -errno.
 */
int gm_filelog_append(struct gm_filelog *log, const void *const *recs, const size_t *lens, size_t n,
                      uint64_t *first_offset);

/*
 * The end of the log as this appender last saw it (after open or its last
 * append): the offset its next record gets unless another appender writes
 * first.
 */
uint64_t gm_filelog_end(const struct gm_filelog *log);

/* Releases the lock and closes; NULL is fine. */
void gm_filelog_close(struct gm_filelog *log);

/* The reason for the last failed call on log ("" if none); borrowed. */
const char *gm_filelog_errmsg(const struct gm_filelog *log);

struct gm_filelog_reader;

/*
 * Opens a reader at offset from (0: the start; must be a frame start). DIR
 * must exist (it may hold no segment yet). from may be past the mark (it is
 * behind the synced end after a crash): the reader waits for the mark.
 * Errors: -ERANGE (from is past the end of the log: whoever stored it is
 * ahead of the log), GM_EINVAL (before the first segment, or not a frame
 * start), -errno. *out is new; close with gm_filelog_reader_close.
 */
int gm_filelog_reader_open(const char *dir, uint64_t from, struct gm_filelog_reader **out,
                           struct gm_err *err);

/* One record as a reader returns it. */
struct gm_filelog_rec {
    const uint8_t *data; /* the payload; borrowed until the next reader call or close */
    size_t len;
    uint64_t offset;   /* where its frame starts */
    uint64_t next;     /* where the frame after it starts */
    int64_t append_ms; /* when it was appended (ms since 1970); 0: a frame of the old form */
};

/*
 * Reads the next record into *rec. Returns 1; 0 at the current end of the
 * log: the mark (a record ending past it is not durable yet), a frame still
 * being written, or a torn tail the next appender will cut; GM_ECORRUPT for
 * a bad frame that is not at the tail, or a damaged DIR/DURABLE
 * (gm_filelog_reader_errmsg says where); -errno. After GM_ECORRUPT the
 * reader stays at the bad frame.
 */
int gm_filelog_reader_next(struct gm_filelog_reader *r, struct gm_filelog_rec *rec);

/*
 * Waits up to timeout_ms (-1: no limit) for the log or its mark to grow
 * (inotify).
 * Returns 1: maybe new data (call reader_next); 0: timed out; -errno.
 */
int gm_filelog_reader_wait(struct gm_filelog_reader *r, int timeout_ms);

/* The offset of the next record the reader will return. */
uint64_t gm_filelog_reader_pos(const struct gm_filelog_reader *r);

/*
 * The log's durable end as its mark says now (read afresh, without moving
 * the reader), at least the reader's position: how far a reader has still
 * to go. A log without a mark (older appenders) reports the end of what the
 * reader has seen. 0 or a negative code (the mark cannot be read).
 */
int gm_filelog_reader_end(const struct gm_filelog_reader *r, uint64_t *end);

/* Why the last reader call failed ("" if none); borrowed. */
const char *gm_filelog_reader_errmsg(const struct gm_filelog_reader *r);

/* Closes; NULL is fine. */
void gm_filelog_reader_close(struct gm_filelog_reader *r);

#endif
