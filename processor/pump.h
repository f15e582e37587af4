/*
 * pump.h: moving records from a log into the state, shared by `gamify
 * replay` and gamify-processor: one batch at a time from a log source into
 * the store, and outbound events from the change feed to an output.
 */
#ifndef GM_PUMP_H
#define GM_PUMP_H

#include "err.h"
#include "logsrc.h"
#include "store.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Opens the source uri at from, the offset a state stored (logsrc.h).
 * -ERANGE: the log ends before from, so it lost records the state had
 * already folded (it was cut, replaced or restored from an older copy, or
 * lost a tail written without fsync in a crash); err then says so and that
 * the state must be rebuilt from the log into a fresh folder. *src is new;
 * close with gm_logsrc_close.
 */
int gm_pump_source_open(const char *uri, uint64_t from, struct gm_logsrc **src, struct gm_err *err);

/*
 * Folds up to max records of src into st as one batch and commits it with
 * the offset after the last record. *n is the number of records folded (0:
 * none was available; nothing is committed) and *next the new offset. When
 * stop is not NULL it is checked between records: once set, the batch ends
 * early and is committed. uri names the source in errors. A record the
 * source cannot return whole (GM_ETOOBIG) becomes a dead letter.
 */
int gm_pump_batch(struct gm_store *st, struct gm_logsrc *src, const char *uri, size_t max,
                  const volatile sig_atomic_t *stop, size_t *n, uint64_t *next, struct gm_err *err);

struct gm_outsink;

/* Opens an output for outbound events: jsonl:PATH (appended), file:DIR or
 * kafka://HOST:PORT[,HOST:PORT]/TOPIC (protobuf OutboundEvent, key = user
 * id, idempotent producer; see pump.c and docs/operations.md). */
int gm_outsink_open(const char *uri, struct gm_outsink **out, struct gm_err *err);

/*
 * Writes the outbound events committed since the last call (the state keeps
 * a cursor per output URI) and makes them durable before moving the cursor.
 * A crash in between writes some again to jsonl: and file: outputs (their
 * ids are stable, so consumers dedupe); a Kafka output reads the topic back
 * at its first publish of a state and skips what is there (exactly once).
 */
int gm_outsink_publish(struct gm_outsink *o, struct gm_store *st, struct gm_err *err);

/* The same for the state of input partition partition of a Kafka log (the
 * source id in the records' headers); gm_outsink_publish is partition 0. */
int gm_outsink_publish_part(struct gm_outsink *o, struct gm_store *st, int32_t partition,
                            struct gm_err *err);

/* The state of partition was (re)opened, maybe after another process
 * published for it: read the topic back before its next publish. */
void gm_outsink_forget(struct gm_outsink *o, int32_t partition);

/* Kafka: events found in the topic already and not produced again. */
uint64_t gm_outsink_skipped(const struct gm_outsink *o);

/* Outbound events written since open; 0 for NULL. */
uint64_t gm_outsink_written(const struct gm_outsink *o);

/* Flushes and closes; NULL is fine. */
void gm_outsink_close(struct gm_outsink *o);

/*
 * Tells st which change-feed records every consumer of this process has
 * taken: those before o's cursor (o NULL: all) and before hold (the
 * slowest projector's cursor; INT64_MAX: none runs). The next commits trim
 * them (gm_store_trim_before). A projector enabled later, when the feed
 * has moved on, starts from a rebuild. Returns that point.
 */
int64_t gm_pump_release(struct gm_store *st, struct gm_outsink *o, int64_t hold);

#endif
