/*
 * outsink.h: output sinks of outbound events (`--out`), shared by `gamify
 * replay` and gamify-processor: the outbound events of a state's change
 * feed written to jsonl:PATH, file:DIR or kafka://.../TOPIC, each once
 * across crashes (see gm_outsink_publish).
 */
#ifndef GM_OUTSINK_H
#define GM_OUTSINK_H

#include "err.h"
#include "state.h"

#include <stdint.h>

struct gm_outsink;

/* Several states publish into o (the partitions of a Kafka log): the
 * output's size then says nothing about one state's events, so a jsonl: or
 * file: output falls back to at-least-once after a crash. */
void gm_outsink_set_shared(struct gm_outsink *o);

/* Opens an output for outbound events: jsonl:PATH (appended), file:DIR or
 * kafka://HOST:PORT[,HOST:PORT]/TOPIC (protobuf OutboundEvent, key = user
 * id, idempotent producer; see outsink.c and docs/operations.md). */
int gm_outsink_open(const char *uri, struct gm_outsink **out, struct gm_err *err);

/*
 * Writes the outbound events committed since the last call (the state keeps
 * a cursor per output URI) and makes them durable before moving the cursor.
 * The output's size (file log: end offset) is stored with the cursor, so
 * after a crash in between, the first call counts the events written past
 * it and does not write them again (and cuts a torn jsonl line): each event
 * is written once. Standard output keeps no size, nor does an output that
 * several states share (gm_outsink_set_shared): there a crash writes some
 * again (their ids are stable, so consumers dedupe). A Kafka output reads
 * the topic back at its first publish of a state and skips what is there
 * (exactly once).
 */
int gm_outsink_publish(struct gm_outsink *o, struct gm_state *st, struct gm_err *err);

/* The same for the state of input partition partition of a Kafka log (the
 * source id in the records' headers); gm_outsink_publish is partition 0. */
int gm_outsink_publish_part(struct gm_outsink *o, struct gm_state *st, int32_t partition,
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

/* The output's URI, as given to gm_outsink_open (borrowed). */
const char *gm_outsink_uri(const struct gm_outsink *o);

#endif
