/*
 * read_out_topic.c: reads a whole outbound Kafka topic (every partition up
 * to its high watermark) for the tests, checks each record and prints one
 * line per record:
 *   EVENT_ID PARTITION SOURCE SEQ INDEX
 * A record is bad (exit 1, with a message) when its value is not an
 * OutboundEvent, its key is not the event's user id, its gamify-id header
 * is not the event's id, or its partition is not murmur2_random(key).
 *
 * usage: read_out_topic BROKERS TOPIC
 */
#include "outbound.pb-c.h"

#include <librdkafka/rdkafka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A header as a new string ("" when absent); free with free(). */
static char *
header(const rd_kafka_message_t *m, const char *name)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *val = NULL;
    size_t size = 0;
    if (rd_kafka_message_headers(m, &hdrs) || rd_kafka_header_get_last(hdrs, name, &val, &size))
        size = 0;
    char *s = strndup(val ? val : "", size);
    if (!s)
        abort();
    return s;
}

/* Checks and prints one record; false when it is bad. */
static bool
take(const rd_kafka_message_t *m, rd_kafka_topic_t *rkt, int32_t partitions)
{
    Gamification__V1__OutboundEvent *oev =
        gamification__v1__outbound_event__unpack(NULL, m->len, m->payload);
    if (!oev) {
        fprintf(stderr, "partition %d offset %lld: not an OutboundEvent\n", (int)m->partition,
                (long long)m->offset);
        return false;
    }
    char *id = header(m, "gamify-id"), *src = header(m, "gamify-source");
    char *seq = header(m, "gamify-seq"), *idx = header(m, "gamify-index");
    bool ok = true;
    if (m->key_len != strlen(oev->user_id) || memcmp(m->key, oev->user_id, m->key_len) != 0) {
        fprintf(stderr, "%s: key is not the user id %s\n", oev->event_id, oev->user_id);
        ok = false;
    }
    if (strcmp(id, oev->event_id) != 0) {
        fprintf(stderr, "%s: gamify-id header is \"%s\"\n", oev->event_id, id);
        ok = false;
    }
    int32_t want =
        rd_kafka_msg_partitioner_murmur2_random(rkt, m->key, m->key_len, partitions, NULL, NULL);
    if (want != m->partition) {
        fprintf(stderr, "%s: in partition %d, murmur2_random says %d\n", oev->event_id,
                (int)m->partition, (int)want);
        ok = false;
    }
    printf("%s %d %s %s %s\n", oev->event_id, (int)m->partition, src, seq, idx);
    free(id);
    free(src);
    free(seq);
    free(idx);
    gamification__v1__outbound_event__free_unpacked(oev, NULL);
    return ok;
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: read_out_topic BROKERS TOPIC\n");
        return 2;
    }
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", "read-out-topic", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr)) {
        fprintf(stderr, "%s\n", errstr);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "%s\n", errstr);
        return 2;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, argv[2], NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 ||
        md->topics[0].partition_cnt < 1) {
        fprintf(stderr, "no metadata for %s\n", argv[2]);
        return 2;
    }
    int32_t n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    int64_t *end = calloc((size_t)n, sizeof *end);
    if (!end)
        abort();
    int open = 0;
    for (int32_t p = 0; p < n; p++) {
        int64_t low, high;
        if (rd_kafka_query_watermark_offsets(rk, argv[2], p, &low, &high, 10000)) {
            fprintf(stderr, "no watermarks for partition %d\n", (int)p);
            return 2;
        }
        end[p] = high;
        if (high > low) {
            rd_kafka_topic_partition_list_add(parts, argv[2], p)->offset = low;
            open++;
        }
    }
    rd_kafka_assign(rk, parts);
    bool ok = true;
    time_t until = time(NULL) + 60;
    while (open > 0 && time(NULL) < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == 0 && m->offset < end[m->partition]) {
            ok &= take(m, rkt, n);
            if (m->offset + 1 == end[m->partition])
                open--;
        } else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "%s\n", rd_kafka_message_errstr(m));
            ok = false;
        }
        rd_kafka_message_destroy(m);
    }
    if (open > 0) {
        fprintf(stderr, "%d partitions not read to the end in 60 s\n", open);
        ok = false;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(end);
    return ok ? 0 : 1;
}
