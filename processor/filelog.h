/*
 * filelog.h: the embedded event log (`file:DIR`): a directory of
 * append-only segment files of framed records.
 *
 * A record's offset is its global byte position: the segment file holding
 * it is named by the global offset of its first byte (20 decimal digits,
 * ".seg"), so a reader seeks in O(1). Each frame is a 4-byte little-endian
 * payload length, a 4-byte little-endian CRC32C of the length bytes and the
 * payload, then the payload. Appenders on one machine serialise on a lock
 * file; a writer opening the log detects a torn tail (short or bad last
 * frame) and cuts it. Readers follow the tail as the log grows.
 */
#ifndef GM_FILELOG_H
#define GM_FILELOG_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_FILELOG_RECORD_MAX (2u << 20) /* bytes of one payload */

enum gm_fsync_policy {
    GM_FSYNC_NONE,   /* leave it to the OS */
    GM_FSYNC_BATCH,  /* fdatasync once per gm_filelog_append call (default) */
    GM_FSYNC_ALWAYS, /* fdatasync after every record */
};

struct gm_filelog_opts {
    uint64_t segment_bytes; /* roll to a new segment past this; 0: 64 MiB */
    enum gm_fsync_policy fsync;
};

struct gm_filelog;

/*
 * Opens DIR for appending, creating it if needed, taking the appenders'
 * lock (waits for another appender to finish), and cutting a torn tail.
 * opts may be NULL for defaults. *out is new; close with gm_filelog_close.
 */
int gm_filelog_open(const char *dir, const struct gm_filelog_opts *opts, struct gm_filelog **out,
                    struct gm_err *err);

/*
 * Appends n records in order; on success *first_offset (may be NULL) is the
 * offset of the first. Either all n are written (and synced per the policy)
 * or an error is returned and the log is cut back to where it was.
 */
int gm_filelog_append(struct gm_filelog *log, const void *const *recs, const size_t *lens, size_t n,
                      uint64_t *first_offset);

/* The offset the next record appended will get. */
uint64_t gm_filelog_end(const struct gm_filelog *log);

/* Releases the lock and closes; NULL is fine. */
void gm_filelog_close(struct gm_filelog *log);

struct gm_filelog_reader;

/* Opens a reader at offset from (0: the start; must be a frame start). */
int gm_filelog_reader_open(const char *dir, uint64_t from, struct gm_filelog_reader **out,
                           struct gm_err *err);

/*
 * Reads the next record. Returns 1 with *data (borrowed until the next call)
 * and *len, *offset the record's offset and *next the offset after it; 0 at
 * the current end of the log (including a frame still being written);
 * GM_ECORRUPT for a bad frame that is not at the tail.
 */
int gm_filelog_reader_next(struct gm_filelog_reader *r, const uint8_t **data, size_t *len,
                           uint64_t *offset, uint64_t *next);

/* Waits up to timeout_ms for the log to grow (inotify). 1: maybe new data. */
int gm_filelog_reader_wait(struct gm_filelog_reader *r, int timeout_ms);

/* Closes; NULL is fine. */
void gm_filelog_reader_close(struct gm_filelog_reader *r);

#endif
