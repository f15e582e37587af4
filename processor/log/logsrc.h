/*
 * logsrc.h: input logs by URI (DESIGN section 8): `file:DIR` (the embedded
 * file log, records are encoded protobuf Events) and `jsonl:PATH` (JSON
 * lines read directly, one record per non-empty line, for replays and
 * tests; "jsonl:-" is standard input). `kafka://HOST:PORT/TOPIC` is parsed
 * but not built yet: GM_EUNSUPPORTED.
 *
 * A source yields raw records with their offsets; the caller decodes them
 * (gm_logsrc_format says how). Offsets are byte positions: a frame start in
 * the file log, a line start in a JSON-lines file, so a consumer stores
 * rec.next and reopens there.
 */
#ifndef GM_LOGSRC_H
#define GM_LOGSRC_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gm_logsrc_scheme {
    GM_LOGSRC_FILE,  /* file:DIR */
    GM_LOGSRC_JSONL, /* jsonl:PATH */
    GM_LOGSRC_KAFKA, /* kafka://HOST:PORT[,HOST:PORT]/TOPIC */
};

/*
 * Splits a log URI. *rest borrows from uri: the directory, the path, or what
 * follows "kafka://". "file:///abs" and "file:/abs" both give "/abs".
 * Errors: GM_EINVAL (unknown scheme, empty path).
 */
int gm_logsrc_uri_parse(const char *uri, enum gm_logsrc_scheme *scheme, const char **rest,
                        struct gm_err *err);

enum gm_record_format {
    GM_RECORD_PROTOBUF, /* an encoded gamification.v1.Event */
    GM_RECORD_JSON,     /* one JSON event (proto3 JSON mapping), no newline */
};

struct gm_record {
    const uint8_t *data; /* borrowed until the next gm_logsrc_next or close */
    size_t len;
    uint64_t offset;   /* where the record starts */
    uint64_t next;     /* where the one after it starts (reopen here) */
    uint64_t line;     /* jsonl read from offset 0: 1-based line number; else 0 */
    int64_t append_ms; /* when the log appended it (ms since 1970), from the file log's
                          frame; 0: not recorded (jsonl, frames of the old form) */
};

struct gm_logsrc;

/*
 * Opens the source named by uri at offset from (0: the start; otherwise a
 * record start, e.g. a previous rec.next). *out is new; close with
 * gm_logsrc_close. Errors: GM_EINVAL (bad URI or offset), GM_EUNSUPPORTED
 * (kafka://), -errno; err says why.
 */
int gm_logsrc_open(const char *uri, uint64_t from, struct gm_logsrc **out, struct gm_err *err);

/*
 * Reads the next record into *rec. Returns 1, 0 at the current end, or a
 * negative code (gm_logsrc_errmsg says why). For jsonl, a line longer than
 * GM_JSON_MAX returns GM_ETOOBIG with rec's offsets and line set and data
 * NULL; the source has moved past it, so the caller reports it and calls
 * again. A final line without a newline is returned at the end of the file.
 * GM_ECORRUPT (file log) leaves the source at the bad record.
 */
int gm_logsrc_next(struct gm_logsrc *s, struct gm_record *rec);

/* Waits up to timeout_ms for more data: 1 maybe more, 0 timed out, <0 error. */
int gm_logsrc_wait(struct gm_logsrc *s, int timeout_ms);

enum gm_record_format gm_logsrc_format(const struct gm_logsrc *s);

/* A file log's durable end now (gm_filelog_reader_end): true and *end, or
 * false (another scheme, or the end could not be read). */
bool gm_logsrc_end(const struct gm_logsrc *s, uint64_t *end);

/* Why the last call failed ("" if none); borrowed from s. */
const char *gm_logsrc_errmsg(const struct gm_logsrc *s);

/* Closes; NULL is fine. */
void gm_logsrc_close(struct gm_logsrc *s);

#endif
