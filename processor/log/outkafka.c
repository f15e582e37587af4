/*
 * outkafka.c: the Kafka adapter for outbound events (see outkafka.h).
 * librdkafka errors become GM_EKAFKA here, with librdkafka's message.
 *
 * Records go to explicit partitions computed with librdkafka's own
 * murmur2_random function, so the publisher knows each record's partition
 * before it produces it (its restart check is per partition) and the
 * placement is the one every murmur2 client gives the same key.
 */
#include "outkafka.h"
#include "gm_config.h"
#include "log.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if GM_HAVE_KAFKA

#include "kconf.h"

#include <librdkafka/rdkafka.h>

#include <time.h>

struct gm_outkafka {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    char *brokers, *topic;
    int32_t partitions;
    int64_t *delivered; /* by partition: highest offset delivered, -1 none */
    uint64_t failed;    /* delivery failures since the last flush */
    char first_error[256];
};

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct gm_outkafka *k = opaque;
    if (m->err) {
        if (k->failed++ == 0)
            snprintf(k->first_error, sizeof k->first_error, "%s", rd_kafka_err2str(m->err));
        return;
    }
    if (m->partition >= 0 && m->partition < k->partitions && m->offset > k->delivered[m->partition])
        k->delivered[m->partition] = m->offset;
}

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The topic's partition count from metadata, retried for up to timeout_ms
 * (a topic the cluster creates on first sight appears after a moment). */
static int
read_partitions(struct gm_outkafka *k, int timeout_ms, struct gm_err *err)
{
    double until = mono_s() + timeout_ms / 1000.0;
    char last[256] = "no answer";
    do {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 0, k->rkt, &md, 1000);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            int32_t n = 0;
            if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
                n = md->topics[0].partition_cnt;
            else if (md->topic_cnt == 1)
                snprintf(last, sizeof last, "%s", rd_kafka_err2str(md->topics[0].err));
            rd_kafka_metadata_destroy(md);
            if (n > 0) {
                k->partitions = n;
                return 0;
            }
        } else {
            snprintf(last, sizeof last, "%s", rd_kafka_err2str(e));
        }
        rd_kafka_poll(k->rk, 100);
    } while (mono_s() < until);
    return gm_err_set(err, GM_EKAFKA, "kafka://%s/%s: cannot read the topic's partitions: %s",
                      k->brokers, k->topic, last);
}

int
gm_outkafka_open(const char *rest, struct gm_outkafka **out, struct gm_err *err)
{
    rd_kafka_conf_t *conf = NULL;
    int rc;
    *out = NULL;
    struct gm_outkafka *k = calloc(1, sizeof *k);
    if (!k)
        abort();
    const char *slash = rest ? strchr(rest, '/') : NULL;
    if (!slash || slash == rest || !slash[1] || strchr(slash + 1, '/')) {
        rc = gm_err_set(err, GM_EINVAL, "kafka://%s: expected kafka://HOST:PORT[,HOST:PORT]/TOPIC",
                        rest ? rest : "");
        goto out;
    }
    if (!(k->brokers = strndup(rest, (size_t)(slash - rest))) || !(k->topic = strdup(slash + 1)))
        abort();
    const struct gm__kconf set[] = {
        {"bootstrap.servers", k->brokers},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"partitioner", "murmur2_random"},
        {"linger.ms", "5"},
        {"message.timeout.ms", "60000"},
    };
    if ((rc = gm__kafka_conf_new(set, sizeof set / sizeof set[0], &conf, err)))
        goto out;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, k);
    rc = gm__kafka_new(RD_KAFKA_PRODUCER, conf, &k->rk, err);
    conf = NULL; /* owned by gm__kafka_new */
    if (rc)
        goto out;
    if (!(k->rkt = rd_kafka_topic_new(k->rk, k->topic, NULL))) {
        rc = gm_err_set(err, GM_EKAFKA, "kafka topic %s: %s", k->topic,
                        rd_kafka_err2str(rd_kafka_last_error()));
        goto out;
    }
    if ((rc = read_partitions(k, 10000, err)))
        goto out;
    if (!(k->delivered = malloc((size_t)k->partitions * sizeof *k->delivered)))
        abort();
    for (int32_t p = 0; p < k->partitions; p++)
        k->delivered[p] = -1;
    *out = k;
    k = NULL;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    gm_outkafka_close(k);
    return rc;
}

int32_t
gm_outkafka_partitions(const struct gm_outkafka *k)
{
    return k->partitions;
}

int32_t
gm_outkafka_partition_of(const struct gm_outkafka *k, const char *key)
{
    return rd_kafka_msg_partitioner_murmur2_random(k->rkt, key, strlen(key), k->partitions, NULL,
                                                   NULL);
}

int
gm_outkafka_produce(struct gm_outkafka *k, int32_t partition, const char *key, const void *val,
                    size_t len, const char *id, const struct gm_outkafka_pos *pos,
                    struct gm_err *err)
{
    char src[16] = "", seq[24] = "", idx[16] = "";
    if (pos) {
        snprintf(src, sizeof src, "%" PRId32, pos->source);
        snprintf(seq, sizeof seq, "%" PRId64, pos->seq);
        snprintf(idx, sizeof idx, "%" PRId32, pos->index);
    }
    for (;;) {
        rd_kafka_resp_err_t e =
            pos ? rd_kafka_producev(
                      k->rk, RD_KAFKA_V_RKT(k->rkt), RD_KAFKA_V_PARTITION(partition),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)val, len),
                      RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_HEADER("gamify-id", id, -1),
                      RD_KAFKA_V_HEADER("gamify-source", src, -1),
                      RD_KAFKA_V_HEADER("gamify-seq", seq, -1),
                      RD_KAFKA_V_HEADER("gamify-index", idx, -1), RD_KAFKA_V_END)
                : rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(k->rkt), RD_KAFKA_V_PARTITION(partition),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_VALUE((void *)val, len),
                                    RD_KAFKA_V_KEY(key, strlen(key)),
                                    RD_KAFKA_V_HEADER("gamify-id", id, -1), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return gm_err_set(err, GM_EKAFKA, "kafka produce to %s: %s", k->topic,
                              rd_kafka_err2str(e));
        rd_kafka_poll(k->rk, 100);
    }
    rd_kafka_poll(k->rk, 0);
    return 0;
}

int
gm_outkafka_flush(struct gm_outkafka *k, int timeout_ms, struct gm_err *err)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(k->rk, timeout_ms);
    int rc = 0;
    char errstr[256];
    if (e)
        rc = gm_err_set(err, GM_EKAFKA, "kafka flush to %s: %s (%d records still queued)", k->topic,
                        rd_kafka_err2str(e), rd_kafka_outq_len(k->rk));
    else if ((e = rd_kafka_fatal_error(k->rk, errstr, sizeof errstr)))
        rc = gm_err_set(err, GM_EKAFKA, "kafka producer to %s: %s", k->topic, errstr);
    else if (k->failed)
        rc = gm_err_set(err, GM_EKAFKA, "kafka delivery to %s failed (%llu records): %s", k->topic,
                        (unsigned long long)k->failed, k->first_error);
    k->failed = 0;
    return rc;
}

int
gm_outkafka_queued(const struct gm_outkafka *k)
{
    return rd_kafka_outq_len(k->rk);
}

int64_t
gm_outkafka_delivered(const struct gm_outkafka *k, int32_t partition)
{
    return partition >= 0 && partition < k->partitions ? k->delivered[partition] : -1;
}

/* A header's value as a number; false when absent or not a number. */
static bool
header_num(rd_kafka_headers_t *hdrs, const char *name, int64_t *v)
{
    const void *val;
    size_t size;
    char buf[32];
    if (rd_kafka_header_get_last(hdrs, name, &val, &size) || !val || size == 0 ||
        size >= sizeof buf)
        return false;
    memcpy(buf, val, size);
    buf[size] = '\0';
    char *end;
    *v = strtoll(buf, &end, 10);
    return *end == '\0';
}

/* Takes one record into tails when source tagged it. */
static void
scan_record(const rd_kafka_message_t *m, int32_t source, struct gm_outkafka_tail *t)
{
    rd_kafka_headers_t *hdrs = NULL;
    int64_t src, seq, idx;
    t->records++;
    if (rd_kafka_message_headers(m, &hdrs) || !header_num(hdrs, "gamify-source", &src) ||
        src != source || !header_num(hdrs, "gamify-seq", &seq) ||
        !header_num(hdrs, "gamify-index", &idx))
        return;
    if (seq > t->last.seq || (seq == t->last.seq && idx > t->last.index)) {
        t->last.seq = seq;
        t->last.index = (int32_t)idx;
    }
}

int
gm_outkafka_scan(struct gm_outkafka *k, int32_t source, struct gm_outkafka_tail *tails,
                 int timeout_ms, struct gm_err *err)
{
    int rc = 0;
    rd_kafka_t *c = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_conf_t *conf;
    /* assign() only: the group id is never joined, nothing is committed */
    const struct gm__kconf set[] = {
        {"bootstrap.servers", k->brokers}, {"group.id", "gamify-outbound-scan"},
        {"enable.auto.commit", "false"},   {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
    };
    if ((rc = gm__kafka_conf_new(set, sizeof set / sizeof set[0], &conf, err)) ||
        (rc = gm__kafka_new(RD_KAFKA_CONSUMER, conf, &c, err)))
        return rc;
    double until = mono_s() + timeout_ms / 1000.0;
    int32_t open = 0;
    parts = rd_kafka_topic_partition_list_new(k->partitions);
    for (int32_t p = 0; p < k->partitions; p++) {
        struct gm_outkafka_tail *t = &tails[p];
        int64_t low, high;
        t->last.source = source;
        t->last.seq = -1;
        t->last.index = -1;
        t->records = 0;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(c, k->topic, p, &low, &high, timeout_ms);
        if (e) {
            rc = gm_err_set(err, GM_EKAFKA, "kafka topic %s partition %d: watermarks: %s", k->topic,
                            (int)p, rd_kafka_err2str(e));
            goto out;
        }
        t->end = high;
        int64_t from = t->from < low ? low : t->from;
        if (from >= high)
            continue;
        rd_kafka_topic_partition_list_add(parts, k->topic, p)->offset = from;
        open++;
    }
    if (open == 0)
        goto out;
    rd_kafka_resp_err_t e = rd_kafka_assign(c, parts);
    if (e) {
        rc =
            gm_err_set(err, GM_EKAFKA, "kafka topic %s: assign: %s", k->topic, rd_kafka_err2str(e));
        goto out;
    }
    bool *done = malloc((size_t)k->partitions * sizeof *done);
    if (!done)
        abort();
    for (int32_t p = 0; p < k->partitions; p++)
        done[p] = true;
    for (int i = 0; i < parts->cnt; i++)
        done[parts->elems[i].partition] = false;
    uint64_t seen = 0;
    double last_progress = mono_s();
    while (open > 0) {
        if (mono_s() > until) {
            rc = gm_err_set(err, GM_EKAFKA,
                            "kafka topic %s: reading back what was published: nothing came "
                            "for %d ms (%d partitions left)",
                            k->topic, timeout_ms, (int)open);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m)
            continue;
        /* a bound on silence, not on the whole read: a long topic takes long */
        double now = mono_s();
        until = now + timeout_ms / 1000.0;
        if (++seen % 1024 == 0 && now - last_progress >= 5.0) {
            gm_log(GM_LOG_INFO, "kafka topic %s: reading back what was published: %llu records",
                   k->topic, (unsigned long long)seen);
            last_progress = now;
        }
        int32_t p = m->partition;
        bool ours = p >= 0 && p < k->partitions && !done[p];
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (ours && m->offset >= tails[p].end) {
                done[p] = true;
                open--;
            }
        } else if (m->err) {
            rc = gm_err_set(err, GM_EKAFKA, "kafka topic %s: reading back: %s", k->topic,
                            rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            break;
        } else if (ours) {
            scan_record(m, source, &tails[p]);
            if (m->offset + 1 >= tails[p].end) {
                done[p] = true;
                open--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    free(done);
out:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return rc;
}

void
gm_outkafka_close(struct gm_outkafka *k)
{
    if (!k)
        return;
    if (k->rkt)
        rd_kafka_topic_destroy(k->rkt);
    if (k->rk)
        rd_kafka_destroy(k->rk);
    free(k->delivered);
    free(k->brokers);
    free(k->topic);
    free(k);
}

#else /* !GM_HAVE_KAFKA */

int
gm_outkafka_open(const char *rest, struct gm_outkafka **out, struct gm_err *err)
{
    (void)rest;
    *out = NULL;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support (librdkafka)");
}

int32_t
gm_outkafka_partitions(const struct gm_outkafka *k)
{
    (void)k;
    return 0;
}

int32_t
gm_outkafka_partition_of(const struct gm_outkafka *k, const char *key)
{
    (void)k;
    (void)key;
    return 0;
}

int
gm_outkafka_produce(struct gm_outkafka *k, int32_t partition, const char *key, const void *val,
                    size_t len, const char *id, const struct gm_outkafka_pos *pos,
                    struct gm_err *err)
{
    (void)k;
    (void)partition;
    (void)key;
    (void)val;
    (void)len;
    (void)id;
    (void)pos;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support");
}

int
gm_outkafka_flush(struct gm_outkafka *k, int timeout_ms, struct gm_err *err)
{
    (void)k;
    (void)timeout_ms;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support");
}

int
gm_outkafka_queued(const struct gm_outkafka *k)
{
    (void)k;
    return 0;
}

int64_t
gm_outkafka_delivered(const struct gm_outkafka *k, int32_t partition)
{
    (void)k;
    (void)partition;
    return -1;
}

int
gm_outkafka_scan(struct gm_outkafka *k, int32_t source, struct gm_outkafka_tail *tails,
                 int timeout_ms, struct gm_err *err)
{
    (void)k;
    (void)source;
    (void)tails;
    (void)timeout_ms;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support");
}

void
gm_outkafka_close(struct gm_outkafka *k)
{
    (void)k;
}

#endif
