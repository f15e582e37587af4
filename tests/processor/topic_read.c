/*
 * topic_read.c: reads a whole Kafka topic for the tests (topic_read.h).
 * The high watermarks are taken at start, so records appended while the
 * test reads are not waited for.
 */
#include "topic_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *
gm_test_topic_header(const rd_kafka_message_t *m, const char *name)
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

int
gm_test_topic_read(const char *brokers, const char *topic, const char *group,
                   gm_test_topic_take take, void *arg)
{
    char errstr[512];
    int rc = 2;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    int64_t *end = NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr)) {
        fprintf(stderr, "%s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
        fprintf(stderr, "%s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 ||
        md->topics[0].partition_cnt < 1) {
        fprintf(stderr, "no metadata for %s\n", topic);
        if (md)
            rd_kafka_metadata_destroy(md);
        goto out;
    }
    int32_t n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    parts = rd_kafka_topic_partition_list_new(n);
    if (!(end = calloc((size_t)n, sizeof *end)))
        abort();
    int open = 0;
    for (int32_t p = 0; p < n; p++) {
        int64_t low, high;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, 10000)) {
            fprintf(stderr, "no watermarks for partition %d\n", (int)p);
            goto out;
        }
        end[p] = high;
        if (high > low) {
            rd_kafka_topic_partition_list_add(parts, topic, p)->offset = low;
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
            ok &= take(m, rkt, n, arg);
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
    rc = ok ? 0 : 1;
out:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(end);
    return rc;
}
