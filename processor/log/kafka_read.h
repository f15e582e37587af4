/*
 * kafka_read.h: reading a whole Kafka topic once, for audits (`gamify
 * replay --log kafka://`): every partition from given offsets up to the high
 * watermark it had when the reader opened, then the end. No consumer group:
 * partitions are assigned by hand and nothing is committed to the cluster,
 * so an audit leaves no trace there and never takes partitions from a
 * running processor.
 */
#ifndef GM_KAFKA_READ_H
#define GM_KAFKA_READ_H

#include "err.h"
#include "kafka.h"

#include <stddef.h>
#include <stdint.h>

struct gm_kafka_reader;

/* One partition of the topic as the reader found it at the start. */
struct gm_kafka_part_range {
    int32_t partition;
    int64_t low;  /* the first offset still in the log */
    int64_t high; /* the high watermark when the reader opened: the end of the replay */
};

/*
 * Connects to the topic of rest (what follows "kafka://") and takes every
 * partition's range. *out is new; close with gm_kafka_reader_close.
 * Errors: GM_EKAFKA (unreachable, no such topic), GM_EINVAL (URI).
 */
int gm_kafka_reader_open(const char *rest, struct gm_kafka_reader **out, struct gm_err *err);

/* The partitions in partition order; borrowed until close. */
const struct gm_kafka_part_range *gm_kafka_reader_parts(const struct gm_kafka_reader *r, size_t *n);

/* The topic's name; borrowed until close. */
const char *gm_kafka_reader_topic(const struct gm_kafka_reader *r);

/*
 * Starts reading: from[i] is the next offset of partition parts[i] (its
 * state's offset). A partition with from >= high is done already. Errors:
 * -ERANGE when a from lies before the partition's low offset (records
 * deleted unread) or after its high watermark (the state is ahead of the
 * topic), err saying which; GM_EKAFKA.
 */
int gm_kafka_reader_start(struct gm_kafka_reader *r, const uint64_t *from, struct gm_err *err);

/*
 * The next record below its partition's end, in *msg (data borrowed until
 * the next call or close). Returns 1, 0 when nothing came within timeout_ms
 * (call again), 2 when every partition has reached its end, or a negative
 * code with err filled.
 */
int gm_kafka_reader_next(struct gm_kafka_reader *r, int timeout_ms, struct gm_kafka_msg *msg,
                         struct gm_err *err);

/* The next offset of partition index i (its position so far). */
uint64_t gm_kafka_reader_position(const struct gm_kafka_reader *r, size_t i);

/* Closes; NULL is fine. */
void gm_kafka_reader_close(struct gm_kafka_reader *r);

#endif
