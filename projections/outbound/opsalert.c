/*
 * opsalert.c: the queue and the delivery thread of operator alerts (see
 * opsalert.h).
 *
 * The queue is a ring of queue_max packed alerts. Emitters append under
 * the mutex; only the delivery thread removes. Each alert keeps a state per
 * target (the destination, then each endpoint): done, attempts and when
 * the next attempt is due. A target takes the alerts in queue order and
 * waits on the first one it has not taken, so the alerts taken by every
 * target are a prefix of the queue, which the thread then frees.
 */
#include "opsalert.h"

#include "filelog.h"
#include "gm_config.h"
#include "json.h"
#include "log.h"
#include "logsrc.h"
#include "outkafka.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_DEFAULT 256
#define QUEUE_MAX     100000
/* A Kafka record's report comes within message.timeout.ms (60 s). */
#define KAFKA_REPORT_S 70.0

struct target_state {
    bool done;
    int attempts;
    double retry_at; /* monotonic seconds; 0: now */
};

struct item {
    uint8_t *pb; /* the packed OpsAlert */
    size_t len;
    char *id, *kind;
    struct target_state *t; /* by target */
};

struct endpoint {
    struct gm_webhook_endpoint e; /* a copy: name, url, secret owned */
    CURL *curl;
};

struct gm_opsalert {
    char *uri;
    enum gm_logsrc_scheme scheme;
    const char *rest; /* in uri */
    FILE *jsonl;
    bool jsonl_regular; /* a file that a torn line can be cut from */
    struct gm_filelog *log;
    struct gm_outkafka *kafka; /* opened by the thread */
    bool has_dest;
    struct endpoint *eps;
    size_t n_eps, n_targets;
    int64_t ep_timeout_ms, ep_backoff_initial_ms, ep_backoff_max_ms;
    int64_t retry_initial_ms, retry_max_ms, drain_ms;
    unsigned seed; /* jitter */

    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item **q; /* ring of cap */
    size_t cap, head, n;
    bool stop;
    atomic_int_fast64_t drain_until_ms; /* monotonic; INT64_MAX while running */

    atomic_uint_fast64_t emitted, delivered, failed, dropped, queued;
};

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool
draining_over(struct gm_opsalert *a)
{
    return mono_s() * 1000.0 >= (double)atomic_load(&a->drain_until_ms);
}

int
gm_opsalert_check_uri(const char *uri, struct gm_err *err)
{
    enum gm_logsrc_scheme scheme;
    const char *rest;
    struct gm_err e;
    gm_err_clear(&e);
    if (gm_logsrc_uri_parse(uri, &scheme, &rest, &e))
        return gm_err_set(err, GM_EINVAL,
                          "--alerts %s: expected jsonl:PATH, file:DIR or "
                          "kafka://HOST:PORT[,HOST:PORT]/TOPIC",
                          uri);
    if (scheme == GM_LOGSRC_KAFKA) {
        const char *slash = strchr(rest, '/');
        if (!slash || slash == rest || !slash[1] || strchr(slash + 1, '/'))
            return gm_err_set(err, GM_EINVAL,
                              "--alerts %s: expected kafka://HOST:PORT[,HOST:PORT]/TOPIC", uri);
        if (!GM_HAVE_KAFKA)
            return gm_err_set(err, GM_EUNSUPPORTED, "--alerts %s: built without Kafka support",
                              uri);
    }
    return 0;
}

static int
open_dest(struct gm_opsalert *a, struct gm_err *err)
{
    int rc = gm_opsalert_check_uri(a->uri, err);
    if (rc)
        return rc;
    gm_logsrc_uri_parse(a->uri, &a->scheme, &a->rest, NULL);
    a->has_dest = true;
    if (a->scheme == GM_LOGSRC_JSONL) {
        a->jsonl = strcmp(a->rest, "-") == 0 ? stdout : fopen(a->rest, "a");
        if (!a->jsonl)
            return gm_err_set(err, -errno, "--alerts %s: %s", a->uri, strerror(errno));
        struct stat sb;
        a->jsonl_regular = fstat(fileno(a->jsonl), &sb) == 0 && S_ISREG(sb.st_mode);
        return 0;
    }
    if (a->scheme == GM_LOGSRC_FILE) {
        struct gm_err e;
        gm_err_clear(&e);
        if ((rc = gm_filelog_open(a->rest, NULL, &a->log, &e)))
            return gm_err_set(err, rc, "--alerts %s: %s", a->uri, e.msg);
    }
    return 0;
}

/* The wait before attempt attempts + 1: initial * 2^(attempts-1), capped,
 * then a random 50-100 % of it. */
static double
backoff_s(struct gm_opsalert *a, int64_t initial_ms, int64_t max_ms, int attempts)
{
    double ms = (double)initial_ms;
    for (int i = 1; i < attempts && ms < (double)max_ms; i++)
        ms *= 2;
    if (ms > (double)max_ms)
        ms = (double)max_ms;
    ms *= 0.5 + 0.5 * ((double)rand_r(&a->seed) / RAND_MAX);
    return ms / 1000.0;
}

static void
item_free(struct item *it)
{
    if (!it)
        return;
    free(it->pb);
    free(it->id);
    free(it->kind);
    free(it->t);
    free(it);
}

char *
gm_opsalert_body(const Gamification__V1__OpsAlert *alert)
{
    json_t *data = gm_pb_to_json_value(&alert->base);
    if (!data)
        return NULL;
    json_t *body = json_object();
    json_object_set_new(body, "id", json_string(alert->alert_id));
    json_object_set_new(body, "type", json_string("ops.alert"));
    json_t *at = json_object_get(data, "raisedAt");
    json_object_set(body, "occurredAt", at ? at : json_null());
    json_object_set(body, "data", data);
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    json_decref(data);
    return text;
}

/* The alert of it, unpacked: new (free with ..._free_unpacked), or NULL. */
static Gamification__V1__OpsAlert *
unpack(const struct item *it)
{
    return gamification__v1__ops_alert__unpack(NULL, it->len, it->pb);
}

static int
write_jsonl(struct gm_opsalert *a, const struct item *it, char *why, size_t cap)
{
    Gamification__V1__OpsAlert *al = unpack(it);
    char *js = al ? gm_pb_to_json(&al->base) : NULL;
    if (al)
        gamification__v1__ops_alert__free_unpacked(al, NULL);
    if (!js) {
        snprintf(why, cap, "the alert has no JSON form");
        return GM_EINVAL;
    }
    int rc = 0;
    struct stat sb;
    bool file = a->jsonl_regular;
    off_t before =
        file && fflush(a->jsonl) == 0 && fstat(fileno(a->jsonl), &sb) == 0 ? sb.st_size : -1;
    if (fprintf(a->jsonl, "%s\n", js) < 0 || fflush(a->jsonl) ||
        (file && fsync(fileno(a->jsonl)))) {
        snprintf(why, cap, "%s: %s", a->rest, strerror(errno));
        rc = GM_EIO;
        clearerr(a->jsonl);
        /* no torn line before the retry */
        if (before >= 0 && ftruncate(fileno(a->jsonl), before) != 0)
            gm_log(GM_LOG_WARN, "--alerts %s: cutting a torn line: %s", a->uri, strerror(errno));
    }
    free(js);
    return rc;
}

static int
write_kafka(struct gm_opsalert *a, const struct item *it, char *why, size_t cap)
{
    struct gm_err e;
    gm_err_clear(&e);
    int rc;
    if (!a->kafka && (rc = gm_outkafka_open(a->rest, &a->kafka, &e))) {
        snprintf(why, cap, "%s", e.msg);
        return rc;
    }
    int32_t part = gm_outkafka_partition_of(a->kafka, it->kind);
    if ((rc = gm_outkafka_produce(a->kafka, part, it->kind, it->pb, it->len, it->id, NULL, &e))) {
        snprintf(why, cap, "%s", e.msg);
        return rc;
    }
    double until = mono_s() + KAFKA_REPORT_S;
    for (;;) {
        gm_err_clear(&e);
        if ((rc = gm_outkafka_flush(a->kafka, 1000, &e)) == 0)
            return 0;
        /* the report came and was a failure: produce it again later */
        if (gm_outkafka_queued(a->kafka) == 0 || mono_s() > until || draining_over(a)) {
            snprintf(why, cap, "%s", e.msg);
            return rc;
        }
    }
}

/* One attempt of it on the destination. */
static int
deliver_dest(struct gm_opsalert *a, const struct item *it, char *why, size_t cap)
{
    switch (a->scheme) {
    case GM_LOGSRC_JSONL:
        return write_jsonl(a, it, why, cap);
    case GM_LOGSRC_FILE: {
        const void *recs[1] = {it->pb};
        int rc = gm_filelog_append(a->log, recs, &it->len, 1, NULL);
        if (rc)
            snprintf(why, cap, "%s: %s", a->rest, gm_strerror(rc));
        return rc;
    }
    case GM_LOGSRC_KAFKA:
        return write_kafka(a, it, why, cap);
    }
    return GM_EINVAL;
}

/* One attempt of it on endpoint ep. */
static int
deliver_ep(struct gm_opsalert *a, struct endpoint *ep, const struct item *it, char *why, size_t cap)
{
    Gamification__V1__OpsAlert *al = unpack(it);
    char *body = al ? gm_opsalert_body(al) : NULL;
    if (al)
        gamification__v1__ops_alert__free_unpacked(al, NULL);
    if (!body) {
        snprintf(why, cap, "the alert has no JSON form");
        return GM_EINVAL;
    }
    int rc =
        gm_webhook_post(ep->curl, &ep->e, a->ep_timeout_ms, it->id, "ops.alert", body, why, cap);
    free(body);
    return rc;
}

/*
 * Attempts the first alert target ti has not taken among items[0..n-1],
 * and the ones after it while they succeed. *next is lowered to when the
 * target is due again.
 */
static void
run_target(struct gm_opsalert *a, size_t ti, struct item **items, size_t n, double *next)
{
    for (size_t k = 0; k < n; k++) {
        struct item *it = items[k];
        struct target_state *ts = &it->t[ti];
        if (ts->done)
            continue;
        double now = mono_s();
        if (ts->retry_at > now) {
            if (ts->retry_at < *next)
                *next = ts->retry_at;
            return;
        }
        if (atomic_load(&a->drain_until_ms) != INT64_MAX && draining_over(a))
            return;
        char why[512] = "";
        bool dest = a->has_dest && ti == 0;
        struct endpoint *ep = dest ? NULL : &a->eps[ti - (a->has_dest ? 1 : 0)];
        int rc =
            dest ? deliver_dest(a, it, why, sizeof why) : deliver_ep(a, ep, it, why, sizeof why);
        if (rc == 0) {
            ts->done = true;
            atomic_fetch_add(&a->delivered, 1);
            if (ts->attempts)
                gm_log(GM_LOG_INFO, "ops alert %s delivered to %s after %d failed attempts", it->id,
                       dest ? a->uri : ep->e.name, ts->attempts);
            continue;
        }
        atomic_fetch_add(&a->failed, 1);
        ts->attempts++;
        if (!dest && ts->attempts >= ep->e.max_attempts) {
            gm_log(GM_LOG_ERROR, "ops alert %s to webhook %s: %s after %d attempts: given up",
                   it->id, ep->e.name, why, ts->attempts);
            ts->done = true;
            atomic_fetch_add(&a->dropped, 1);
            continue;
        }
        double wait =
            dest ? backoff_s(a, a->retry_initial_ms, a->retry_max_ms, ts->attempts)
                 : backoff_s(a, a->ep_backoff_initial_ms, a->ep_backoff_max_ms, ts->attempts);
        gm_log(GM_LOG_WARN, "ops alert %s to %s: %s (attempt %d); retrying in %.1f s", it->id,
               dest ? a->uri : ep->e.name, why, ts->attempts, wait);
        ts->retry_at = mono_s() + wait;
        if (ts->retry_at < *next)
            *next = ts->retry_at;
        return;
    }
}

static bool
item_done(const struct gm_opsalert *a, const struct item *it)
{
    for (size_t i = 0; i < a->n_targets; i++) {
        if (!it->t[i].done)
            return false;
    }
    return true;
}

static void *
deliver_thread(void *arg)
{
    struct gm_opsalert *a = arg;
    struct item **items = calloc(a->cap, sizeof *items);
    if (!items)
        abort();
    pthread_mutex_lock(&a->mu);
    for (;;) {
        if (a->stop && (a->n == 0 || draining_over(a)))
            break;
        if (a->n == 0) {
            pthread_cond_wait(&a->cv, &a->mu);
            continue;
        }
        /* emitters only add past n: these slots stay as they are */
        size_t n = a->n;
        for (size_t k = 0; k < n; k++)
            items[k] = a->q[(a->head + k) % a->cap];
        pthread_mutex_unlock(&a->mu);
        double next = mono_s() + 3600;
        for (size_t ti = 0; ti < a->n_targets; ti++)
            run_target(a, ti, items, n, &next);
        pthread_mutex_lock(&a->mu);
        size_t freed = 0;
        while (a->n && item_done(a, a->q[a->head])) {
            item_free(a->q[a->head]);
            a->head = (a->head + 1) % a->cap;
            a->n--;
            freed++;
        }
        atomic_store(&a->queued, a->n);
        if (a->n == 0 || (a->stop && draining_over(a)))
            continue;
        /* alerts emitted while the targets ran (their signal came while
           this thread was not waiting): a target that was idle may take
           them now. Compare with what was there before the frees. */
        if (a->n + freed > n)
            continue;
        double until = next;
        if (a->stop) {
            double d = (double)atomic_load(&a->drain_until_ms) / 1000.0;
            if (d < until)
                until = d;
        }
        double now = mono_s();
        if (until > now) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double w = until - now;
            ts.tv_sec += (time_t)w;
            ts.tv_nsec += (long)((w - (double)(time_t)w) * 1e9);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&a->cv, &a->mu, &ts);
        }
    }
    /* what is left was not delivered in time */
    size_t left = 0;
    for (size_t k = 0; k < a->n; k++) {
        struct item *it = a->q[(a->head + k) % a->cap];
        for (size_t ti = 0; ti < a->n_targets; ti++) {
            if (!it->t[ti].done)
                left++;
        }
        item_free(it);
    }
    if (a->n)
        gm_log(GM_LOG_ERROR,
               "ops alerts: %zu alerts (%zu deliveries) not delivered before the stop: dropped",
               a->n, left);
    atomic_fetch_add(&a->dropped, left);
    a->n = 0;
    atomic_store(&a->queued, 0);
    pthread_mutex_unlock(&a->mu);
    free(items);
    return NULL;
}

int
gm_opsalert_open(const struct gm_opsalert_opts *opts, struct gm_opsalert **out, struct gm_err *err)
{
    *out = NULL;
    struct gm_opsalert *a = calloc(1, sizeof *a);
    if (!a)
        abort();
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_store(&a->drain_until_ms, INT64_MAX);
    a->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)a;
    int rc = 0;
    if (opts->queue_max > QUEUE_MAX) {
        rc = gm_err_set(err, GM_EINVAL, "ops alerts: a queue of %zu is above %d", opts->queue_max,
                        QUEUE_MAX);
        goto out;
    }
    a->cap = opts->queue_max ? opts->queue_max : QUEUE_DEFAULT;
    a->retry_initial_ms = opts->retry_initial_ms > 0 ? opts->retry_initial_ms : 500;
    a->retry_max_ms = opts->retry_max_ms > 0 ? opts->retry_max_ms : 30000;
    if (a->retry_max_ms < a->retry_initial_ms)
        a->retry_max_ms = a->retry_initial_ms;
    a->drain_ms = opts->drain_ms > 0 ? opts->drain_ms : 5000;
    if (!(a->q = calloc(a->cap, sizeof *a->q)))
        abort();
    if (opts->uri) {
        if (!(a->uri = strdup(opts->uri)))
            abort();
        if ((rc = open_dest(a, err)))
            goto out;
    }
    const struct gm_webhook_config *wc = opts->webhooks;
    for (size_t i = 0; wc && i < wc->n; i++) {
        if (wc->endpoints[i].wants & GM_WH_OPS_ALERT)
            a->n_eps++;
    }
    if (a->n_eps) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (!(a->eps = calloc(a->n_eps, sizeof *a->eps)))
            abort();
        a->ep_timeout_ms = wc->timeout_ms;
        a->ep_backoff_initial_ms = wc->backoff_initial_ms;
        a->ep_backoff_max_ms = wc->backoff_max_ms;
        size_t j = 0;
        for (size_t i = 0; i < wc->n; i++) {
            const struct gm_webhook_endpoint *src = &wc->endpoints[i];
            if (!(src->wants & GM_WH_OPS_ALERT))
                continue;
            struct endpoint *ep = &a->eps[j++];
            ep->e = *src;
            ep->e.name = strdup(src->name);
            ep->e.url = strdup(src->url);
            ep->e.secret = malloc(src->secret_len + 1);
            if (!ep->e.name || !ep->e.url || !ep->e.secret || !(ep->curl = curl_easy_init()))
                abort();
            memcpy(ep->e.secret, src->secret, src->secret_len);
            ep->e.secret[src->secret_len] = '\0';
        }
    }
    a->n_targets = (a->has_dest ? 1 : 0) + a->n_eps;
    if (pthread_create(&a->thread, NULL, deliver_thread, a)) {
        rc = gm_err_set(err, GM_EIO, "ops alerts: cannot start the delivery thread");
        goto out;
    }
    a->started = true;
out:
    if (rc) {
        gm_opsalert_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

void
gm_opsalert_emit(struct gm_opsalert *a, const Gamification__V1__OpsAlert *alert)
{
    if (!a)
        return;
    atomic_fetch_add(&a->emitted, 1);
    struct item *it = calloc(1, sizeof *it);
    if (!it)
        abort();
    it->len = gamification__v1__ops_alert__get_packed_size(alert);
    if (!(it->pb = malloc(it->len ? it->len : 1)))
        abort();
    gamification__v1__ops_alert__pack(alert, it->pb);
    it->id = strdup(alert->alert_id ? alert->alert_id : "");
    it->kind = strdup(alert->kind && *alert->kind ? alert->kind : "unknown");
    it->t = calloc(a->n_targets ? a->n_targets : 1, sizeof *it->t);
    if (!it->id || !it->kind || !it->t)
        abort();
    pthread_mutex_lock(&a->mu);
    bool full = a->n == a->cap || a->stop;
    if (!full) {
        a->q[(a->head + a->n) % a->cap] = it;
        a->n++;
        atomic_store(&a->queued, a->n);
        pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    if (full) {
        atomic_fetch_add(&a->dropped, 1);
        gm_log(GM_LOG_ERROR, "ops alert %s dropped: %zu alerts are waiting for delivery already",
               it->id, a->cap);
        item_free(it);
    }
}

void
gm_opsalert_emit_cb(void *ctx, const Gamification__V1__OpsAlert *alert)
{
    gm_opsalert_emit(ctx, alert);
}

void
gm_opsalert_stats(const struct gm_opsalert *a, struct gm_opsalert_stats *out)
{
    struct gm_opsalert *m = (struct gm_opsalert *)a;
    out->emitted = atomic_load(&m->emitted);
    out->delivered = atomic_load(&m->delivered);
    out->failed = atomic_load(&m->failed);
    out->dropped = atomic_load(&m->dropped);
    out->queued = atomic_load(&m->queued);
    out->targets = m->n_targets;
}

void
gm_opsalert_close(struct gm_opsalert *a)
{
    if (!a)
        return;
    if (a->started) {
        pthread_mutex_lock(&a->mu);
        a->stop = true;
        atomic_store(&a->drain_until_ms, (int64_t)(mono_s() * 1000.0) + a->drain_ms);
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->thread, NULL);
    }
    for (size_t k = 0; k < a->n; k++)
        item_free(a->q[(a->head + k) % a->cap]);
    free(a->q);
    if (a->jsonl && a->jsonl != stdout)
        fclose(a->jsonl);
    gm_filelog_close(a->log);
    gm_outkafka_close(a->kafka);
    for (size_t i = 0; i < a->n_eps; i++) {
        free(a->eps[i].e.name);
        free(a->eps[i].e.url);
        free(a->eps[i].e.secret);
        if (a->eps[i].curl)
            curl_easy_cleanup(a->eps[i].curl);
    }
    if (a->eps)
        curl_global_cleanup();
    free(a->eps);
    free(a->uri);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
