/*
 * kafka_read.c: the audit reader of a Kafka topic (see kafka_read.h).
 * Partitions are assigned by hand at the offsets the caller's states keep;
 * each stops at the high watermark taken when the reader opened, or at the
 * end the broker reports first (enable.partition.eof: with read_committed
 * that is the last stable offset, so records of open transactions are left
 * out, as a processor would leave them until they commit). The reader
 * never subscribes, so it joins no group, and it commits nothing.
 */
#include "kafka_read.h"
#include "gm_config.h"
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if GM_HAVE_KAFKA
#include "kconf.h"

#include <librdkafka/rdkafka.h>

#define META_TIMEOUT_MS 10000

struct gm_kafka_reader {
    rd_kafka_t *rk;
    char *topic;
    struct gm_kafka_part_range *parts;
    size_t n_parts, n_done;
    uint64_t *pos;
    bool *done;
    rd_kafka_message_t *last;
};

static int
part_cmp(const void *a, const void *b)
{
    int32_t x = ((const struct gm_kafka_part_range *)a)->partition;
    int32_t y = ((const struct gm_kafka_part_range *)b)->partition;
    return x < y ? -1 : x > y;
}

static int
load_partitions(struct gm_kafka_reader *r, struct gm_err *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->rk, r->topic, NULL);
    if (!rkt)
        return gm_err_set(err, GM_EKAFKA, "kafka topic %s: %s", r->topic,
                          rd_kafka_err2str(rd_kafka_last_error()));
    rd_kafka_resp_err_t e = rd_kafka_metadata(r->rk, 0, rkt, &md, META_TIMEOUT_MS);
    int rc = 0;
    if (e) {
        rc = gm_err_set(err, GM_EKAFKA, "kafka metadata of %s: %s", r->topic, rd_kafka_err2str(e));
        goto out;
    }
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
        rc =
            gm_err_set(err, GM_EKAFKA, "kafka topic %s: %s", r->topic,
                       md->topic_cnt == 1 && md->topics[0].err ? rd_kafka_err2str(md->topics[0].err)
                                                               : "no partitions");
        goto out;
    }
    r->n_parts = (size_t)md->topics[0].partition_cnt;
    r->parts = calloc(r->n_parts, sizeof *r->parts);
    r->pos = calloc(r->n_parts, sizeof *r->pos);
    r->done = calloc(r->n_parts, sizeof *r->done);
    if (!r->parts || !r->pos || !r->done)
        abort();
    for (size_t i = 0; i < r->n_parts; i++)
        r->parts[i].partition = md->topics[0].partitions[i].id;
    qsort(r->parts, r->n_parts, sizeof *r->parts, part_cmp);
    for (size_t i = 0; i < r->n_parts; i++) {
        struct gm_kafka_part_range *p = &r->parts[i];
        e = rd_kafka_query_watermark_offsets(r->rk, r->topic, p->partition, &p->low, &p->high,
                                             META_TIMEOUT_MS);
        if (e) {
            rc = gm_err_set(err, GM_EKAFKA, "kafka topic %s partition %d: watermarks: %s", r->topic,
                            (int)p->partition, rd_kafka_err2str(e));
            goto out;
        }
    }
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

int
gm_kafka_reader_open(const char *rest, struct gm_kafka_reader **out, struct gm_err *err)
{
    char *brokers = NULL;
    struct gm_kafka_reader *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    rd_kafka_conf_t *conf = NULL;
    int rc = gm_kafka_uri_split(rest, &brokers, &r->topic, err);
    if (rc)
        goto out;
    /* librdkafka wants a group id to assign partitions; the group is never
     * joined (no subscribe) and nothing is committed to it */
    const struct gm__kconf set[] = {
        {"bootstrap.servers", brokers},        {"group.id", "gamify-audit-replay"},
        {"enable.partition.eof", "true"},      {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"}, {"auto.offset.reset", "error"},
        {"isolation.level", "read_committed"},
    };
    if ((rc = gm__kafka_conf_new(set, sizeof set / sizeof set[0], &conf, err)))
        goto out;
    rc = gm__kafka_new(RD_KAFKA_CONSUMER, conf, &r->rk, err);
    conf = NULL; /* owned by gm__kafka_new */
    if (rc)
        goto out;
    rd_kafka_poll_set_consumer(r->rk);
    if ((rc = load_partitions(r, err)))
        goto out;
    *out = r;
    r = NULL;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    gm_kafka_reader_close(r);
    free(brokers);
    return rc;
}

const struct gm_kafka_part_range *
gm_kafka_reader_parts(const struct gm_kafka_reader *r, size_t *n)
{
    *n = r->n_parts;
    return r->parts;
}

const char *
gm_kafka_reader_topic(const struct gm_kafka_reader *r)
{
    return r->topic;
}

uint64_t
gm_kafka_reader_position(const struct gm_kafka_reader *r, size_t i)
{
    return r->pos[i];
}

static ssize_t
part_index(const struct gm_kafka_reader *r, int32_t partition)
{
    for (size_t i = 0; i < r->n_parts; i++) {
        if (r->parts[i].partition == partition)
            return (ssize_t)i;
    }
    return -1;
}

static void
finish_part(struct gm_kafka_reader *r, size_t i)
{
    if (r->done[i])
        return;
    r->done[i] = true;
    r->n_done++;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, r->topic, r->parts[i].partition);
    rd_kafka_pause_partitions(r->rk, l); /* fetch nothing more of it */
    rd_kafka_topic_partition_list_destroy(l);
}

int
gm_kafka_reader_start(struct gm_kafka_reader *r, const uint64_t *from, struct gm_err *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)r->n_parts);
    int rc = 0;
    for (size_t i = 0; i < r->n_parts; i++) {
        const struct gm_kafka_part_range *p = &r->parts[i];
        r->pos[i] = from[i];
        if ((int64_t)from[i] > p->high) {
            rc = gm_err_set(err, -ERANGE,
                            "kafka topic %s partition %d ends at offset %lld, but its state has "
                            "read up to %llu: the state is not from this topic (or the topic was "
                            "recreated); replay into a fresh folder",
                            r->topic, (int)p->partition, (long long)p->high,
                            (unsigned long long)from[i]);
            goto out;
        }
        if ((int64_t)from[i] == p->high) {
            r->done[i] = true;
            r->n_done++;
            continue;
        }
        if ((int64_t)from[i] < p->low) {
            rc = gm_err_set(err, -ERANGE,
                            "kafka topic %s partition %d starts at offset %lld: the records "
                            "%llu..%lld were deleted (retention) and cannot be replayed; the "
                            "topic must keep every record for an audit (docs/operations.md)",
                            r->topic, (int)p->partition, (long long)p->low,
                            (unsigned long long)from[i], (long long)p->low - 1);
            goto out;
        }
        rd_kafka_topic_partition_list_add(l, r->topic, p->partition)->offset = (int64_t)from[i];
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(r->rk, l);
    if (e)
        rc = gm_err_set(err, GM_EKAFKA, "kafka assign: %s", rd_kafka_err2str(e));
out:
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int
gm_kafka_reader_next(struct gm_kafka_reader *r, int timeout_ms, struct gm_kafka_msg *msg,
                     struct gm_err *err)
{
    if (r->last) {
        rd_kafka_message_destroy(r->last);
        r->last = NULL;
    }
    for (;;) {
        if (r->n_done == r->n_parts)
            return 2;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, timeout_ms);
        if (!m)
            return 0;
        ssize_t i = part_index(r, m->partition);
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (i >= 0) {
                if (m->offset > (int64_t)r->pos[i])
                    r->pos[i] = (uint64_t)m->offset;
                finish_part(r, (size_t)i);
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            int rc = 0;
            char errstr[256];
            if (rd_kafka_fatal_error(r->rk, errstr, sizeof errstr))
                rc = gm_err_set(err, GM_EKAFKA, "kafka: %s", errstr);
            else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                     m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
                rc = gm_err_set(err, -ERANGE,
                                "kafka topic %s partition %d: offset %lld is no longer in the "
                                "log (deleted while replaying?): %s",
                                r->topic, (int)m->partition, (long long)m->offset,
                                rd_kafka_message_errstr(m));
            else
                gm_log(GM_LOG_WARN, "kafka: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            if (rc)
                return rc;
            continue;
        }
        if (i < 0 || r->done[i] || m->offset >= r->parts[i].high) {
            if (i >= 0 && !r->done[i])
                finish_part(r, (size_t)i); /* appended after the start: not ours */
            rd_kafka_message_destroy(m);
            continue;
        }
        r->last = m;
        r->pos[i] = (uint64_t)m->offset + 1;
        msg->partition = m->partition;
        msg->offset = (uint64_t)m->offset;
        msg->data = m->payload;
        msg->len = m->len;
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        msg->append_ms = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts < 0 ? 0 : ts;
        msg->skipped = 0;
        if (r->pos[i] >= (uint64_t)r->parts[i].high)
            finish_part(r, (size_t)i);
        return 1;
    }
}

void
gm_kafka_reader_close(struct gm_kafka_reader *r)
{
    if (!r)
        return;
    if (r->last)
        rd_kafka_message_destroy(r->last);
    if (r->rk) {
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
    }
    free(r->topic);
    free(r->parts);
    free(r->pos);
    free(r->done);
    free(r);
}

#else /* !GM_HAVE_KAFKA */

int
gm_kafka_reader_open(const char *rest, struct gm_kafka_reader **out, struct gm_err *err)
{
    (void)rest;
    *out = NULL;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support (librdkafka)");
}

const struct gm_kafka_part_range *
gm_kafka_reader_parts(const struct gm_kafka_reader *r, size_t *n)
{
    (void)r;
    *n = 0;
    return NULL;
}

const char *
gm_kafka_reader_topic(const struct gm_kafka_reader *r)
{
    (void)r;
    return "";
}

int
gm_kafka_reader_start(struct gm_kafka_reader *r, const uint64_t *from, struct gm_err *err)
{
    (void)r;
    (void)from;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support (librdkafka)");
}

int
gm_kafka_reader_next(struct gm_kafka_reader *r, int timeout_ms, struct gm_kafka_msg *msg,
                     struct gm_err *err)
{
    (void)r;
    (void)timeout_ms;
    (void)msg;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support (librdkafka)");
}

uint64_t
gm_kafka_reader_position(const struct gm_kafka_reader *r, size_t i)
{
    (void)r;
    (void)i;
    return 0;
}

void
gm_kafka_reader_close(struct gm_kafka_reader *r)
{
    (void)r;
}

#endif
