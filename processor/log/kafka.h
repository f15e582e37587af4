/*
 * kafka.h: the Kafka adapter (librdkafka), the only file that talks to
 * librdkafka for the event log (DESIGN section 4). A producer that keys
 * records by user_id with the murmur2 partitioner and idempotence, and a
 * group consumer whose partitions are assigned at offsets the caller keeps
 * (in LMDB, with the state): Kafka's committed offsets only show lag.
 *
 * Built without librdkafka, every constructor returns GM_EUNSUPPORTED.
 */
#ifndef GM_KAFKA_H
#define GM_KAFKA_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Splits what follows "kafka://" ("HOST:PORT[,HOST:PORT]/TOPIC") into new
 * strings *brokers and *topic (free both with free()). Errors: GM_EINVAL.
 */
int gm_kafka_uri_split(const char *rest, char **brokers, char **topic, struct gm_err *err);

struct gm_kafka_producer;

/* Opens a producer for rest (see gm_kafka_uri_split) and checks that a broker
 * answers (10 s at most). *out is new; free with
 * gm_kafka_producer_free. Errors: GM_EINVAL, GM_EKAFKA, GM_EUNSUPPORTED. */
int gm_kafka_producer_new(const char *rest, struct gm_kafka_producer **out, struct gm_err *err);

/* As gm_kafka_producer_new, with the check and every later metadata request
 * (gm_kafka_producer_partitions) bounded by timeout_ms instead of 10 s: for
 * callers that must answer quickly (gamify-api --check-config). */
int gm_kafka_producer_open(const char *rest, int timeout_ms, struct gm_kafka_producer **out,
                           struct gm_err *err);

/* Queues one record (copied) with key; waits while the local queue is full.
 * Errors: GM_EKAFKA with err. */
int gm_kafka_produce(struct gm_kafka_producer *p, const char *key, const void *val, size_t len,
                     struct gm_err *err);

/* The number of partitions of the producer's topic (a metadata request,
 * 10 s at most, or the timeout given to gm_kafka_producer_open). Errors: GM_EKAFKA with err. */
int gm_kafka_producer_partitions(struct gm_kafka_producer *p, int32_t *n, struct gm_err *err);

/* As gm_kafka_produce, into the given partition instead of the key's: for
 * records every partition must see (RulesPublished). */
int gm_kafka_produce_to(struct gm_kafka_producer *p, int32_t partition, const char *key,
                        const void *val, size_t len, struct gm_err *err);

/* Waits until every queued record is delivered or failed (timeout_ms at
 * most); *failed is the number of records whose delivery failed since open.
 * Errors: GM_EKAFKA (timed out, or a fatal producer error). */
int gm_kafka_producer_flush(struct gm_kafka_producer *p, int timeout_ms, uint64_t *failed,
                            struct gm_err *err);

/* Frees; records still queued are dropped. NULL is fine. */
void gm_kafka_producer_free(struct gm_kafka_producer *p);

/* What the consumer asks its owner at a rebalance, and when the log has
 * lost records the owner's state has not read. */
struct gm_kafka_handlers {
    void *ctx;
    /* A partition was assigned: set *next to the next offset to read (0: from
     * offset 0, a new state). A negative return, with err filled, stops the
     * consumer: gm_kafka_poll then fails with it. */
    int (*assigned)(void *ctx, int32_t partition, uint64_t *next, struct gm_err *err);
    /*
     * The partition's log now starts at log_start, after next, the offset
     * the owner's state reads next: the records next..log_start-1 were
     * deleted (retention) before it read them. Called when a partition is
     * assigned and when a fetch finds its offset gone. Return 0 to go on
     * from log_start without them, or a negative code with err filled to
     * stop (gm_kafka_poll then fails with it).
     */
    int (*log_gap)(void *ctx, const char *topic, int32_t partition, uint64_t next,
                   uint64_t log_start, struct gm_err *err);
    /* A partition is being revoked: finish and release its work now. */
    void (*revoked)(void *ctx, int32_t partition);
};

struct gm_kafka_msg {
    int32_t partition;
    uint64_t offset;
    const uint8_t *data; /* borrowed until the next gm_kafka_poll or close */
    size_t len;
    int64_t append_ms; /* the message timestamp (ms since 1970); 0: none */
    /* offsets between the partition's previous record (or its assigned
     * offset) and this one that were never delivered: 0 normally; more
     * after transaction markers, or records compacted or lost */
    uint64_t skipped;
};

struct gm_kafka_consumer;

/*
 * Joins group and subscribes to the topic of rest, with manual offsets
 * (enable.auto.commit=false). A partition is read from the offset its
 * owner gives, never from another: it is checked against the partition's
 * log range when assigned, and auto.offset.reset=error makes a fetch that
 * finds its offset gone an error instead of a jump (log_gap decides; an
 * offset past the end of the log always stops the consumer). h is copied;
 * its ctx is borrowed for the consumer's life. *out is new; close with
 * gm_kafka_consumer_close. Errors: GM_EINVAL, GM_EKAFKA, GM_EUNSUPPORTED.
 */
int gm_kafka_consumer_new(const char *rest, const char *group, int session_timeout_ms,
                          const struct gm_kafka_handlers *h, struct gm_kafka_consumer **out,
                          struct gm_err *err);

/*
 * Waits up to timeout_ms for a record (rebalances and log gaps are handled
 * inside, through the handlers). Returns 1 with *msg, 0 when none came, or
 * a negative code with err: a handler failed, a partition's offset is past
 * the end of its log, or a fatal Kafka error.
 */
int gm_kafka_poll(struct gm_kafka_consumer *c, int timeout_ms, struct gm_kafka_msg *msg,
                  struct gm_err *err);

/*
 * The partition's high watermark (the offset the next record produced will
 * get) as last seen in fetch responses; no broker round trip. Returns 0, or
 * GM_ENOTFOUND while none is known yet.
 */
int gm_kafka_high_watermark(struct gm_kafka_consumer *c, int32_t partition, int64_t *high);

/* Commits next as the group's offset of partition, asynchronously (for lag
 * monitoring only; failures are logged at debug level). */
void gm_kafka_commit_async(struct gm_kafka_consumer *c, int32_t partition, uint64_t next);

/* Leaves the group (revoking through the handlers) and frees. NULL is fine. */
void gm_kafka_consumer_close(struct gm_kafka_consumer *c);

#endif
