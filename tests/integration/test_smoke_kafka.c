/*
 * test_smoke_kafka.c: the Kafka-protocol broker that tests/run starts (the
 * librdkafka mock cluster in tests/broker) carries keyed messages from a
 * producer to a consumer group and keeps the group's committed offsets, the
 * path the Kafka log reader will rely on. The topic is auto-created by the
 * producer's metadata request and is unique to this run.
 */
#include "server_env.h"

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MESSAGES = 100, DEADLINE_SECONDS = 30 };

struct delivery {
    int ok;
    int failed;
    rd_kafka_resp_err_t last_err;
};

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct delivery *d = opaque;

    (void)rk;
    if (msg->err) {
        d->failed++;
        d->last_err = msg->err;
    } else {
        d->ok++;
    }
}

static void
conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[512];

    cr_assert_eq(rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr), RD_KAFKA_CONF_OK,
                 "%s=%s: %s", name, value, errstr);
}

static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
produce_all(const char *bootstrap, const char *topic)
{
    char errstr[512];
    struct delivery d = {0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    conf_set(conf, "bootstrap.servers", bootstrap);
    /* Gamify's producers partition like the Java clients (DESIGN section 4). */
    conf_set(conf, "partitioner", "murmur2_random");
    conf_set(conf, "acks", "all");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &d);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "producer: %s", errstr);

    for (int i = 0; i < MESSAGES; i++) {
        char key[32], payload[32];
        rd_kafka_resp_err_t err;

        snprintf(key, sizeof key, "user-%d", i % 7);
        snprintf(payload, sizeof payload, "event-%03d", i);
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                RD_KAFKA_V_VALUE(payload, strlen(payload)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce %d: %s", i, rd_kafka_err2str(err));
        rd_kafka_poll(rk, 0);
    }
    cr_assert_eq(rd_kafka_flush(rk, DEADLINE_SECONDS * 1000), RD_KAFKA_RESP_ERR_NO_ERROR,
                 "flush timed out with %d messages in flight", rd_kafka_outq_len(rk));
    cr_assert_eq(d.failed, 0, "%d deliveries failed, last: %s", d.failed,
                 rd_kafka_err2str(d.last_err));
    cr_assert_eq(d.ok, MESSAGES);
    rd_kafka_destroy(rk);
}

Test(smoke_kafka, produce_consume_commit, .timeout = 90)
{
    const char *bootstrap = gm_test_server_env("GAMIFY_TEST_KAFKA");
    char *topic = gm_test_unique_name("gamify-smoke");
    char *group = gm_test_unique_name("gamify-smoke-group");
    char errstr[512];
    int seen[MESSAGES] = {0};
    int seen_total = 0;
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *subscription, *assignment = NULL;
    rd_kafka_resp_err_t err;
    double deadline;
    int64_t committed = 0;

    produce_all(bootstrap, topic);

    conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "group.id", group);
    conf_set(conf, "auto.offset.reset", "earliest");
    conf_set(conf, "session.timeout.ms", "6000");
    conf_set(conf, "enable.auto.commit", "false");
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "consumer: %s", errstr);
    rd_kafka_poll_set_consumer(rk);

    subscription = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subscription, topic, RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(rk, subscription);
    rd_kafka_topic_partition_list_destroy(subscription);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "subscribe: %s", rd_kafka_err2str(err));

    deadline = now_seconds() + DEADLINE_SECONDS;
    while (seen_total < MESSAGES && now_seconds() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 500);
        int idx;

        if (!msg)
            continue;
        if (msg->err) {
            /* Transient while the group forms; the deadline bounds it. */
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "consumer: %s\n", rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            continue;
        }
        cr_assert_eq(msg->len, 9, "payload length %zu", msg->len);
        cr_assert_eq(memcmp(msg->payload, "event-", 6), 0);
        idx = (((const char *)msg->payload)[6] - '0') * 100 +
              (((const char *)msg->payload)[7] - '0') * 10 +
              (((const char *)msg->payload)[8] - '0');
        cr_assert(idx >= 0 && idx < MESSAGES, "payload index %d", idx);
        {
            char want_key[32];
            snprintf(want_key, sizeof want_key, "user-%d", idx % 7);
            cr_assert_eq(msg->key_len, strlen(want_key));
            cr_assert_eq(memcmp(msg->key, want_key, msg->key_len), 0);
        }
        seen[idx]++;
        seen_total++;
        rd_kafka_message_destroy(msg);
    }
    for (int i = 0; i < MESSAGES; i++)
        cr_assert_eq(seen[i], 1, "event-%03d seen %d times (%d of %d in %d s)", i, seen[i],
                     seen_total, MESSAGES, DEADLINE_SECONDS);

    err = rd_kafka_commit(rk, NULL, 0 /* synchronous */);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "commit: %s", rd_kafka_err2str(err));

    /* The group's committed offsets now cover every message. */
    err = rd_kafka_assignment(rk, &assignment);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "assignment: %s", rd_kafka_err2str(err));
    err = rd_kafka_committed(rk, assignment, 10000);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "committed: %s", rd_kafka_err2str(err));
    for (int i = 0; i < assignment->cnt; i++) {
        cr_assert_eq(assignment->elems[i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
        if (assignment->elems[i].offset > 0)
            committed += assignment->elems[i].offset;
    }
    cr_assert_eq(committed, MESSAGES, "committed offsets add up to %lld", (long long)committed);
    rd_kafka_topic_partition_list_destroy(assignment);

    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(group);
    free(topic);
}
