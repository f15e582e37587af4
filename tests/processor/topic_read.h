/*
 * topic_read.h: the Kafka half of the tests' topic readers (read_out_topic,
 * read_alerts): a whole topic, every partition from its low to its high
 * watermark at start, handed record by record to a checker.
 */
#ifndef GM_TEST_TOPIC_READ_H
#define GM_TEST_TOPIC_READ_H

#include <librdkafka/rdkafka.h>

#include <stdbool.h>
#include <stdint.h>

/* Checks and prints one record; false when it is bad. m and rkt are
 * borrowed for the call; partitions is the topic's partition count. */
typedef bool (*gm_test_topic_take)(const rd_kafka_message_t *m, rd_kafka_topic_t *rkt,
                                   int32_t partitions, void *arg);

/*
 * Reads topic on brokers (consumer group group, nothing committed) up to
 * each partition's high watermark, within 60 s. Returns 0 when every
 * record was read and taken, 1 when one was bad or the time ran out, 2
 * when the topic could not be read at all (each with a message).
 */
int gm_test_topic_read(const char *brokers, const char *topic, const char *group,
                       gm_test_topic_take take, void *arg);

/* Header name of m as a new string ("" when absent); free with free(). */
char *gm_test_topic_header(const rd_kafka_message_t *m, const char *name);

#endif
