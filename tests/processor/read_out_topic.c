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
#include "topic_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checks and prints one record; false when it is bad. */
static bool
take(const rd_kafka_message_t *m, rd_kafka_topic_t *rkt, int32_t partitions, void *arg)
{
    (void)arg;
    Gamification__V1__OutboundEvent *oev =
        gamification__v1__outbound_event__unpack(NULL, m->len, m->payload);
    if (!oev) {
        fprintf(stderr, "partition %d offset %lld: not an OutboundEvent\n", (int)m->partition,
                (long long)m->offset);
        return false;
    }
    char *id = gm_test_topic_header(m, "gamify-id"),
         *src = gm_test_topic_header(m, "gamify-source");
    char *seq = gm_test_topic_header(m, "gamify-seq"),
         *idx = gm_test_topic_header(m, "gamify-index");
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
    return gm_test_topic_read(argv[1], argv[2], "read-out-topic", take, NULL);
}
