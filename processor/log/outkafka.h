/*
 * outkafka.h: the Kafka adapter for outbound events (librdkafka): an
 * idempotent producer that places each record in the partition the
 * murmur2_random partitioner gives its key (computed here, so the caller
 * knows it before producing), tags it with headers saying where in the
 * state's outbound stream it comes from, counts delivery reports per
 * partition, and a scan that reads those headers back from the topic, so a
 * restarted publisher can tell what is already there (outsink.c).
 *
 * Headers of every record: gamify-id (the outbound event's stable id),
 * gamify-source (the input partition whose state published it, decimal),
 * gamify-seq (its change-feed sequence number there, decimal) and
 * gamify-index (its place among that change's outbound events, decimal).
 *
 * Built without librdkafka, gm_outkafka_open returns GM_EUNSUPPORTED.
 */
#ifndef GM_OUTKAFKA_H
#define GM_OUTKAFKA_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct gm_outkafka;

/* Where a record comes from: its place in one state's outbound stream. */
struct gm_outkafka_pos {
    int32_t source; /* the input partition (0 for a file log) */
    int64_t seq;    /* change-feed sequence number */
    int32_t index;  /* outbound event index within the change */
};

/*
 * Opens a producer for rest ("HOST:PORT[,HOST:PORT]/TOPIC") with
 * enable.idempotence and acks=all, and reads the topic's partition count
 * (10 s at most). *out is new; close with gm_outkafka_close. Errors:
 * GM_EINVAL, GM_EKAFKA, GM_EUNSUPPORTED, with err filled.
 */
int gm_outkafka_open(const char *rest, struct gm_outkafka **out, struct gm_err *err);

/* The topic's partition count, as read at open. */
int32_t gm_outkafka_partitions(const struct gm_outkafka *k);

/* The partition of key: murmur2_random, as the Java clients and gamify's
 * own producers place keys. */
int32_t gm_outkafka_partition_of(const struct gm_outkafka *k, const char *key);

/*
 * Queues one record (copied) for partition with key, value and the headers
 * of id and pos (pos NULL: the gamify-id header only, for records that are
 * not of a state's outbound stream); waits while the local queue is full.
 * Errors: GM_EKAFKA.
 */
int gm_outkafka_produce(struct gm_outkafka *k, int32_t partition, const char *key, const void *val,
                        size_t len, const char *id, const struct gm_outkafka_pos *pos,
                        struct gm_err *err);

/*
 * Waits for the delivery report of every queued record (timeout_ms at most).
 * Errors: GM_EKAFKA when one failed since the last flush, time ran out or
 * the producer hit a fatal error: records may then be in the topic or not.
 */
int gm_outkafka_flush(struct gm_outkafka *k, int timeout_ms, struct gm_err *err);

/* Records (and requests) still in the producer's queue, awaiting a report. */
int gm_outkafka_queued(const struct gm_outkafka *k);

/* The highest offset delivered to partition since open; -1 for none. */
int64_t gm_outkafka_delivered(const struct gm_outkafka *k, int32_t partition);

/* What a scan found in one partition. */
struct gm_outkafka_tail {
    int64_t from; /* in: the first offset to read (below the log start: from there) */
    int64_t end;  /* out: the high watermark read up to */
    struct gm_outkafka_pos last; /* out: the greatest (seq, index) of source; seq -1: none */
    uint64_t records;            /* out: records read */
};

/*
 * Reads every partition of the topic from tails[p].from up to its high
 * watermark as queried at the start, and fills tails[p] (an array of
 * gm_outkafka_partitions entries) with the greatest position tagged with
 * source. Errors: GM_EKAFKA (with err), also when nothing came for
 * timeout_ms.
 */
int gm_outkafka_scan(struct gm_outkafka *k, int32_t source, struct gm_outkafka_tail *tails,
                     int timeout_ms, struct gm_err *err);

/* Frees; records still queued are dropped. NULL is fine. */
void gm_outkafka_close(struct gm_outkafka *k);

#endif
