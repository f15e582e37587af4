/*
 * read_alerts.c: reads the ops alerts of an --alerts destination for the
 * tests and prints each as one JSON line (the proto3 JSON mapping):
 *   read_alerts file:DIR              a file log of OpsAlert records
 *   read_alerts kafka BROKERS TOPIC   a whole topic (every partition up to
 *                                     its high watermark at start)
 * A record that is not an OpsAlert is bad (exit 1, with a message); so is
 * a Kafka record whose key is not the alert's kind or whose gamify-id
 * header is not its alert_id.
 */
#include "filelog.h"
#include "json.h"
#include "outbound.pb-c.h"

#include <librdkafka/rdkafka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Prints the alert in data; false (with a message) when it is not one or
 * when key/id (NULL: not checked) disagree with it. */
static bool
take(const void *data, size_t len, const char *key, size_t key_len, const char *id)
{
    Gamification__V1__OpsAlert *al = gamification__v1__ops_alert__unpack(NULL, len, data);
    if (!al) {
        fprintf(stderr, "a record of %zu bytes is not an OpsAlert\n", len);
        return false;
    }
    bool ok = true;
    if (key && (key_len != strlen(al->kind) || memcmp(key, al->kind, key_len) != 0)) {
        fprintf(stderr, "%s: key is \"%.*s\", not its kind %s\n", al->alert_id, (int)key_len, key,
                al->kind);
        ok = false;
    }
    if (id && strcmp(id, al->alert_id) != 0) {
        fprintf(stderr, "%s: gamify-id header is \"%s\"\n", al->alert_id, id);
        ok = false;
    }
    char *js = gm_pb_to_json(&al->base);
    printf("%s\n", js ? js : "null");
    free(js);
    gamification__v1__ops_alert__free_unpacked(al, NULL);
    return ok && js;
}

static int
read_file(const char *dir)
{
    struct gm_filelog_reader *r;
    struct gm_err err;
    gm_err_clear(&err);
    if (gm_filelog_reader_open(dir, 0, &r, &err)) {
        fprintf(stderr, "%s: %s\n", dir, err.msg);
        return 2;
    }
    struct gm_filelog_rec rec;
    bool ok = true;
    int rc;
    while ((rc = gm_filelog_reader_next(r, &rec)) == 1)
        ok &= take(rec.data, rec.len, NULL, 0, NULL);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", dir, gm_filelog_reader_errmsg(r));
        ok = false;
    }
    gm_filelog_reader_close(r);
    return ok ? 0 : 1;
}

static int
read_kafka(const char *brokers, const char *topic)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", "read-alerts", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr)) {
        fprintf(stderr, "%s\n", errstr);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "%s\n", errstr);
        return 2;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 ||
        md->topics[0].partition_cnt < 1) {
        fprintf(stderr, "no metadata for %s\n", topic);
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
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, 10000)) {
            fprintf(stderr, "no watermarks for partition %d\n", (int)p);
            return 2;
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
            rd_kafka_headers_t *hdrs = NULL;
            const void *val = NULL;
            size_t size = 0;
            if (rd_kafka_message_headers(m, &hdrs) ||
                rd_kafka_header_get_last(hdrs, "gamify-id", &val, &size))
                size = 0;
            char *id = strndup(val ? val : "", size);
            if (!id)
                abort();
            ok &= take(m->payload, m->len, m->key ? m->key : "", m->key_len, id);
            free(id);
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

int
main(int argc, char **argv)
{
    if (argc == 2 && strncmp(argv[1], "file:", 5) == 0)
        return read_file(argv[1] + 5);
    if (argc == 4 && strcmp(argv[1], "kafka") == 0)
        return read_kafka(argv[2], argv[3]);
    fprintf(stderr, "usage: read_alerts file:DIR | read_alerts kafka BROKERS TOPIC\n");
    return 2;
}
