/*
 * kafka.c: the Kafka adapter (see kafka.h). librdkafka errors become
 * GM_EKAFKA here, with the librdkafka message as context. The consumer
 * assigns partitions itself in the rebalance callback, at the offsets its
 * owner keeps with the state, so a partition moving between instances
 * resumes where its LMDB says, whatever Kafka's committed offset is.
 *
 * The log is the source of truth (DESIGN section 4), so a consumer never
 * jumps: partitions are assigned at explicit offsets (a new state at 0,
 * not "the beginning"), checked against the partition's log range first,
 * and auto.offset.reset=error turns a fetch whose offset is gone into an
 * error message that offset_reset() handles, instead of a silent move to
 * the log start. The owner decides whether records deleted unread may be
 * skipped (log_gap); the offsets of delivered records are tracked so that
 * a jump inside a partition is reported with the record (msg->skipped).
 */
#include "kafka.h"
#include "gm_config.h"
#include "log.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int
gm_kafka_uri_split(const char *rest, char **brokers, char **topic, struct gm_err *err)
{
    const char *slash = rest ? strchr(rest, '/') : NULL;
    if (!slash || slash == rest || !slash[1] || strchr(slash + 1, '/'))
        return gm_err_set(err, GM_EINVAL,
                          "kafka://%s: expected kafka://HOST:PORT[,HOST:PORT]/TOPIC",
                          rest ? rest : "");
    *brokers = strndup(rest, (size_t)(slash - rest));
    *topic = strdup(slash + 1);
    if (!*brokers || !*topic)
        abort();
    return 0;
}

#if GM_HAVE_KAFKA

#include "kconf.h"

#include <librdkafka/rdkafka.h>

struct gm_kafka_producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    uint64_t failed;
    char first_error[256];
    bool all_down; /* every broker unreachable (error callback) */
    char down_reason[256];
    int timeout_ms; /* bound of the opening check and of metadata requests */
};

struct gm_kafka_consumer {
    rd_kafka_t *rk;
    char *topic;
    struct gm_kafka_handlers h;
    rd_kafka_message_t *last; /* the record handed out by the last poll */
    int failed;               /* a handler's error, reported by the next poll */
    struct gm_err herr;
    /* by partition id (dense in Kafka): the offset the next record should
     * have, -1 for a partition not held */
    int64_t *next;
    size_t n_next;
    int resets_in_range; /* offset resets in a row that found the offset served */
};

/* How long a query of a partition's log range may take. */
#define WATERMARK_TIMEOUT_MS 5000
/* Partition ids above this are refused (Kafka allows far fewer per topic). */
#define PARTITION_MAX 100000

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct gm_kafka_producer *p = opaque;
    if (m->err) {
        if (p->failed++ == 0)
            snprintf(p->first_error, sizeof p->first_error, "%s", rd_kafka_err2str(m->err));
    }
}

static void
on_producer_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    (void)rk;
    struct gm_kafka_producer *p = opaque;
    if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        p->all_down = true;
        snprintf(p->down_reason, sizeof p->down_reason, "%s", reason);
    }
}

/*
 * Fails fast when no broker answers (a wrong address), before any input is
 * read: a metadata request, retried until one succeeds, every broker is
 * down, or timeout_ms passes.
 */
static int
producer_check(struct gm_kafka_producer *p, const char *brokers, int timeout_ms, struct gm_err *err)
{
    for (int waited = 0; waited < timeout_ms; waited += 200) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(p->rk, 0, p->rkt, &md, 200);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_metadata_destroy(md);
            return 0;
        }
        rd_kafka_poll(p->rk, 0);
        if (p->all_down)
            return gm_err_set(err, GM_EKAFKA, "no Kafka broker reachable at %s: %s", brokers,
                              p->down_reason);
    }
    return gm_err_set(err, GM_EKAFKA, "no Kafka broker at %s answered within %d ms", brokers,
                      timeout_ms);
}

int
gm_kafka_producer_new(const char *rest, struct gm_kafka_producer **out, struct gm_err *err)
{
    return gm_kafka_producer_open(rest, 10000, out, err);
}

int
gm_kafka_producer_open(const char *rest, int timeout_ms, struct gm_kafka_producer **out,
                       struct gm_err *err)
{
    char *brokers = NULL, *topic = NULL;
    struct gm_kafka_producer *p = NULL;
    rd_kafka_conf_t *conf = NULL;
    int rc = gm_kafka_uri_split(rest, &brokers, &topic, err);
    if (rc)
        goto out;
    p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    const struct gm__kconf set[] = {
        {"bootstrap.servers", brokers},  {"partitioner", "murmur2_random"},
        {"enable.idempotence", "true"},  {"linger.ms", "20"},
        {"message.timeout.ms", "60000"},
    };
    if ((rc = gm__kafka_conf_new(set, sizeof set / sizeof set[0], &conf, err)))
        goto out;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_producer_error);
    rd_kafka_conf_set_opaque(conf, p);
    rc = gm__kafka_new(RD_KAFKA_PRODUCER, conf, &p->rk, err);
    conf = NULL; /* owned by gm__kafka_new */
    if (rc)
        goto out;
    p->rkt = rd_kafka_topic_new(p->rk, topic, NULL);
    if (!p->rkt) {
        rc = gm_err_set(err, GM_EKAFKA, "kafka topic %s: %s", topic,
                        rd_kafka_err2str(rd_kafka_last_error()));
        goto out;
    }
    if ((rc = producer_check(p, brokers, p->timeout_ms, err)))
        goto out;
    *out = p;
    p = NULL;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    gm_kafka_producer_free(p);
    free(brokers);
    free(topic);
    return rc;
}

static int
produce_at(struct gm_kafka_producer *p, int32_t partition, const char *key, const void *val,
           size_t len, struct gm_err *err)
{
    for (;;) {
        if (rd_kafka_produce(p->rkt, partition, RD_KAFKA_MSG_F_COPY, (void *)val, len, key,
                             strlen(key), NULL) == 0)
            break;
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return gm_err_set(err, GM_EKAFKA, "kafka produce: %s", rd_kafka_err2str(e));
        rd_kafka_poll(p->rk, 100);
    }
    rd_kafka_poll(p->rk, 0);
    return 0;
}

int
gm_kafka_produce(struct gm_kafka_producer *p, const char *key, const void *val, size_t len,
                 struct gm_err *err)
{
    return produce_at(p, RD_KAFKA_PARTITION_UA, key, val, len, err);
}

int
gm_kafka_produce_to(struct gm_kafka_producer *p, int32_t partition, const char *key,
                    const void *val, size_t len, struct gm_err *err)
{
    return produce_at(p, partition, key, val, len, err);
}

int
gm_kafka_producer_partitions(struct gm_kafka_producer *p, int32_t *n, struct gm_err *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(p->rk, 0, p->rkt, &md, p->timeout_ms);
    if (e)
        return gm_err_set(err, GM_EKAFKA, "kafka metadata of %s: %s", rd_kafka_topic_name(p->rkt),
                          rd_kafka_err2str(e));
    int rc = 0;
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0)
        rc =
            gm_err_set(err, GM_EKAFKA, "kafka topic %s: %s", rd_kafka_topic_name(p->rkt),
                       md->topic_cnt == 1 && md->topics[0].err ? rd_kafka_err2str(md->topics[0].err)
                                                               : "no partitions");
    else
        *n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return rc;
}

int
gm_kafka_producer_flush(struct gm_kafka_producer *p, int timeout_ms, uint64_t *failed,
                        struct gm_err *err)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(p->rk, timeout_ms);
    *failed = p->failed;
    if (e)
        return gm_err_set(err, GM_EKAFKA, "kafka flush: %s (%d records still queued)",
                          rd_kafka_err2str(e), rd_kafka_outq_len(p->rk));
    char errstr[256];
    e = rd_kafka_fatal_error(p->rk, errstr, sizeof errstr);
    if (e)
        return gm_err_set(err, GM_EKAFKA, "kafka producer: %s", errstr);
    if (p->failed)
        gm_err_set(err, GM_EKAFKA, "kafka delivery failed: %s", p->first_error);
    return 0;
}

void
gm_kafka_producer_free(struct gm_kafka_producer *p)
{
    if (!p)
        return;
    if (p->rkt)
        rd_kafka_topic_destroy(p->rkt);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    free(p);
}

/* The tracked next offset of partition, growing the table; NULL when the
 * id is out of bounds. */
static int64_t *
next_slot(struct gm_kafka_consumer *c, int32_t partition)
{
    if (partition < 0 || partition >= PARTITION_MAX)
        return NULL;
    if ((size_t)partition >= c->n_next) {
        size_t n = (size_t)partition + 1 > 2 * c->n_next ? (size_t)partition + 1 : 2 * c->n_next;
        c->next = realloc(c->next, n * sizeof *c->next);
        if (!c->next)
            abort();
        for (size_t i = c->n_next; i < n; i++)
            c->next[i] = -1;
        c->n_next = n;
    }
    return &c->next[partition];
}

/*
 * Checks *next, where the owner's state of partition resumes, against the
 * partition's log [low, high): past the end is an error (the log is not the
 * one the state was folded from); before the start, the owner's log_gap
 * decides, and going on moves *next to low.
 */
static int
check_range(struct gm_kafka_consumer *c, int32_t partition, uint64_t *next, int64_t low,
            int64_t high, struct gm_err *err)
{
    if (high >= 0 && *next > (uint64_t)high)
        return gm_err_set(err, GM_EKAFKA,
                          "kafka topic %s partition %d: the state reads offset %llu next, but "
                          "the partition ends at offset %lld: the topic was deleted and created "
                          "again, or the state was folded from another topic or cluster; move "
                          "the partition's state folder away to rebuild it from this log",
                          c->topic, (int)partition, (unsigned long long)*next, (long long)high);
    if (low > 0 && *next < (uint64_t)low) {
        int rc = c->h.log_gap(c->h.ctx, c->topic, partition, *next, (uint64_t)low, err);
        if (rc < 0)
            return rc;
        *next = (uint64_t)low;
    }
    return 0;
}

/* At an assignment: asks the leader for the partition's log range (one
 * round trip) and checks *next against it. When the range cannot be read,
 * the first fetch checks instead (auto.offset.reset=error). */
static int
check_assigned(struct gm_kafka_consumer *c, int32_t partition, uint64_t *next, struct gm_err *err)
{
    int64_t low = -1, high = -1;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(c->rk, c->topic, partition, &low,
                                                             &high, WATERMARK_TIMEOUT_MS);
    if (e) {
        gm_log(GM_LOG_WARN,
               "kafka topic %s partition %d: cannot read the partition's log range (%s); the "
               "first fetch checks offset %llu instead",
               c->topic, (int)partition, rd_kafka_err2str(e), (unsigned long long)*next);
        return 0;
    }
    return check_range(c, partition, next, low, high, err);
}

/* Assigns again every partition held, each at its tracked next offset (a
 * partition stopped by an offset reset fetches again only after this). */
static int
reassign(struct gm_kafka_consumer *c, struct gm_err *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (size_t i = 0; i < c->n_next; i++) {
        if (c->next[i] >= 0)
            rd_kafka_topic_partition_list_add(l, c->topic, (int32_t)i)->offset = c->next[i];
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return gm_err_set(err, GM_EKAFKA, "kafka topic %s: assigning the partitions again: %s",
                          c->topic, rd_kafka_err2str(e));
    return 0;
}

/*
 * A fetch of partition at offset at failed, and auto.offset.reset=error
 * stopped the partition instead of moving it: the log's start has passed
 * the offset (retention deleted records not read yet), or the log ends
 * before it. Checks which, asks the owner about a gap, and fetches again
 * from where the owner agrees to go on.
 */
static int
offset_reset(struct gm_kafka_consumer *c, int32_t partition, int64_t at, const char *why,
             struct gm_err *err)
{
    int64_t *slot = next_slot(c, partition);
    if (!slot || *slot < 0) {
        gm_log(GM_LOG_DEBUG, "kafka topic %s partition %d: offset reset of a partition not held",
               c->topic, (int)partition);
        return 0;
    }
    if (at != *slot)
        gm_log(GM_LOG_DEBUG, "kafka topic %s partition %d: reset at %lld, next record %lld",
               c->topic, (int)partition, (long long)at, (long long)*slot);
    int64_t low = -1, high = -1;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(c->rk, c->topic, partition, &low,
                                                             &high, WATERMARK_TIMEOUT_MS);
    if (e)
        return gm_err_set(err, GM_EKAFKA,
                          "kafka topic %s partition %d: offset %lld is not served (%s), and "
                          "the partition's log range cannot be read: %s",
                          c->topic, (int)partition, (long long)*slot, why, rd_kafka_err2str(e));
    uint64_t next = (uint64_t)*slot;
    int rc = check_range(c, partition, &next, low, high, err);
    if (rc < 0)
        return rc;
    if (next == (uint64_t)*slot) {
        /* served after all (a leader change?): fetch it again, a few times */
        if (++c->resets_in_range > 5)
            return gm_err_set(err, GM_EKAFKA,
                              "kafka topic %s partition %d: offset %lld is refused (%s) though "
                              "the partition's log holds %lld..%lld",
                              c->topic, (int)partition, (long long)next, why, (long long)low,
                              (long long)high);
        gm_log(GM_LOG_WARN, "kafka topic %s partition %d: fetching offset %lld again after: %s",
               c->topic, (int)partition, (long long)next, why);
    }
    *slot = (int64_t)next;
    return reassign(c, err);
}

/* Runs inside rd_kafka_consumer_poll and rd_kafka_consumer_close. */
static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *parts,
             void *opaque)
{
    struct gm_kafka_consumer *c = opaque;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt && !c->failed; i++) {
            int32_t partition = parts->elems[i].partition;
            int64_t *slot = next_slot(c, partition);
            uint64_t next = 0;
            int rc = slot ? 0
                          : gm_err_set(&c->herr, GM_EKAFKA, "kafka topic %s: partition id %d",
                                       c->topic, (int)partition);
            if (rc == 0)
                rc = c->h.assigned(c->h.ctx, partition, &next, &c->herr);
            if (rc == 0)
                rc = check_assigned(c, partition, &next, &c->herr);
            if (rc < 0) {
                c->failed = rc;
                break;
            }
            /* an explicit offset, never a logical one: nothing may jump */
            parts->elems[i].offset = (int64_t)next;
            *slot = (int64_t)next;
        }
        if (c->failed) {
            rd_kafka_assign(rk, NULL);
            return;
        }
        rd_kafka_assign(rk, parts);
    } else {
        if (e != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            gm_log(GM_LOG_WARN, "kafka rebalance error: %s", rd_kafka_err2str(e));
        /* A record handed out before the revoke must not outlive it. */
        if (c->last) {
            rd_kafka_message_destroy(c->last);
            c->last = NULL;
        }
        for (int i = 0; i < parts->cnt; i++) {
            int64_t *slot = next_slot(c, parts->elems[i].partition);
            if (slot)
                *slot = -1;
            c->h.revoked(c->h.ctx, parts->elems[i].partition);
        }
        rd_kafka_assign(rk, NULL);
    }
}

int
gm_kafka_consumer_new(const char *rest, const char *group, int session_timeout_ms,
                      const struct gm_kafka_handlers *h, struct gm_kafka_consumer **out,
                      struct gm_err *err)
{
    char *brokers = NULL, session[32];
    struct gm_kafka_consumer *c = NULL;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->h = *h;
    int rc = gm_kafka_uri_split(rest, &brokers, &c->topic, err);
    if (rc)
        goto out;
    snprintf(session, sizeof session, "%d", session_timeout_ms);
    const struct gm__kconf set[] = {
        {"bootstrap.servers", brokers},
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"auto.offset.reset", "error"},
        /* records of aborted transactions are never folded (the default,
         * said here because folding them would be wrong) */
        {"isolation.level", "read_committed"},
        {"session.timeout.ms", session},
        {"heartbeat.interval.ms", session_timeout_ms >= 9000 ? "3000" : "1000"},
    };
    if ((rc = gm__kafka_conf_new(set, sizeof set / sizeof set[0], &conf, err)))
        goto out;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, c);
    rc = gm__kafka_new(RD_KAFKA_CONSUMER, conf, &c->rk, err);
    conf = NULL; /* owned by gm__kafka_new */
    if (rc)
        goto out;
    rd_kafka_poll_set_consumer(c->rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, c->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, topics);
    if (e) {
        rc = gm_err_set(err, GM_EKAFKA, "kafka subscribe to %s: %s", c->topic, rd_kafka_err2str(e));
        goto out;
    }
    *out = c;
    c = NULL;
out:
    if (topics)
        rd_kafka_topic_partition_list_destroy(topics);
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (c) {
        if (c->rk)
            rd_kafka_destroy(c->rk);
        free(c->topic);
        free(c->next);
        free(c);
    }
    free(brokers);
    return rc;
}

int
gm_kafka_poll(struct gm_kafka_consumer *c, int timeout_ms, struct gm_kafka_msg *msg,
              struct gm_err *err)
{
    if (c->last) {
        rd_kafka_message_destroy(c->last);
        c->last = NULL;
    }
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);
    if (c->failed) {
        if (m)
            rd_kafka_message_destroy(m);
        *err = c->herr;
        return c->failed;
    }
    if (!m)
        return 0;
    if (m->err) {
        char errstr[256];
        int rc = 0;
        rd_kafka_resp_err_t fe = rd_kafka_fatal_error(c->rk, errstr, sizeof errstr);
        if (fe)
            rc = gm_err_set(err, GM_EKAFKA, "kafka consumer: %s", errstr);
        else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
            rc = offset_reset(c, m->partition, m->offset, rd_kafka_message_errstr(m), err);
        else
            gm_log(GM_LOG_WARN, "kafka: %s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return rc;
    }
    c->last = m;
    c->resets_in_range = 0;
    msg->partition = m->partition;
    msg->offset = (uint64_t)m->offset;
    msg->data = m->payload;
    msg->len = m->len;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    msg->append_ms = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts < 0 ? 0 : ts;
    msg->skipped = 0;
    int64_t *slot = next_slot(c, m->partition);
    if (slot && *slot >= 0) {
        if (m->offset > *slot)
            msg->skipped = (uint64_t)(m->offset - *slot);
        *slot = m->offset + 1;
    }
    return 1;
}

int
gm_kafka_high_watermark(struct gm_kafka_consumer *c, int32_t partition, int64_t *high)
{
    int64_t low = 0;
    *high = 0;
    if (rd_kafka_get_watermark_offsets(c->rk, c->topic, partition, &low, high) ||
        *high == RD_KAFKA_OFFSET_INVALID)
        return GM_ENOTFOUND;
    return 0;
}

void
gm_kafka_commit_async(struct gm_kafka_consumer *c, int32_t partition, uint64_t next)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->topic, partition)->offset = (int64_t)next;
    rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, l, 1);
    if (e)
        gm_log(GM_LOG_DEBUG, "kafka offset commit (lag only): %s", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

void
gm_kafka_consumer_close(struct gm_kafka_consumer *c)
{
    if (!c)
        return;
    if (c->last)
        rd_kafka_message_destroy(c->last);
    c->last = NULL;
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
    free(c->topic);
    free(c->next);
    free(c);
}

#else /* !GM_HAVE_KAFKA */

int
gm_kafka_producer_new(const char *rest, struct gm_kafka_producer **out, struct gm_err *err)
{
    (void)rest;
    (void)out;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support (librdkafka)");
}

int
gm_kafka_producer_open(const char *rest, int timeout_ms, struct gm_kafka_producer **out,
                       struct gm_err *err)
{
    (void)timeout_ms;
    return gm_kafka_producer_new(rest, out, err);
}

int
gm_kafka_produce(struct gm_kafka_producer *p, const char *key, const void *val, size_t len,
                 struct gm_err *err)
{
    (void)p;
    (void)key;
    (void)val;
    (void)len;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support");
}

int
gm_kafka_producer_flush(struct gm_kafka_producer *p, int timeout_ms, uint64_t *failed,
                        struct gm_err *err)
{
    (void)p;
    (void)timeout_ms;
    *failed = 0;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support");
}

int
gm_kafka_produce_to(struct gm_kafka_producer *p, int32_t partition, const char *key,
                    const void *val, size_t len, struct gm_err *err)
{
    (void)p;
    (void)partition;
    (void)key;
    (void)val;
    (void)len;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support");
}

int
gm_kafka_producer_partitions(struct gm_kafka_producer *p, int32_t *n, struct gm_err *err)
{
    (void)p;
    *n = 0;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support");
}

void
gm_kafka_producer_free(struct gm_kafka_producer *p)
{
    (void)p;
}

int
gm_kafka_consumer_new(const char *rest, const char *group, int session_timeout_ms,
                      const struct gm_kafka_handlers *h, struct gm_kafka_consumer **out,
                      struct gm_err *err)
{
    (void)rest;
    (void)group;
    (void)session_timeout_ms;
    (void)h;
    (void)out;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support (librdkafka)");
}

int
gm_kafka_poll(struct gm_kafka_consumer *c, int timeout_ms, struct gm_kafka_msg *msg,
              struct gm_err *err)
{
    (void)c;
    (void)timeout_ms;
    (void)msg;
    return gm_err_set(err, GM_EUNSUPPORTED, "built without Kafka support");
}

int
gm_kafka_high_watermark(struct gm_kafka_consumer *c, int32_t partition, int64_t *high)
{
    (void)c;
    (void)partition;
    *high = 0;
    return GM_ENOTFOUND;
}

void
gm_kafka_commit_async(struct gm_kafka_consumer *c, int32_t partition, uint64_t next)
{
    (void)c;
    (void)partition;
    (void)next;
}

void
gm_kafka_consumer_close(struct gm_kafka_consumer *c)
{
    (void)c;
}

#endif
