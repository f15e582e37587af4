/*
 * server.c: gamify-api's HTTP server: libmicrohttpd with a thread pool,
 * each thread its own epoll loop, the request bodies collected under a
 * bound, request ids, routing to /graphql (graphql_http.c), /healthz,
 * /readyz and /metrics (Prometheus text), and the drain on SIGTERM.
 */
#include "server_int.h"

#include "fmt.h"
#include "log.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const unsigned status_codes[GM__API_N_STATUS] = {200, 400, 401, 403, 404, 405, 406,
                                                        413, 415, 429, 500, 503, 0};
/* Latency bucket bounds in seconds. */
static const double buckets[GM__API_N_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,   0.1,   0.25,   0.5,   1,    2.5};

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
gm__api_header_set(struct gm__api_req *r, const char *name, const char *value)
{
    if (r->n_hdr == GM__API_MAX_HEADERS)
        return;
    const char *parts[] = {value};
    gm_fmt_join(r->hdr_buf[r->n_hdr], sizeof r->hdr_buf[0], parts, 1);
    r->hdr[r->n_hdr][0] = name;
    r->hdr[r->n_hdr][1] = r->hdr_buf[r->n_hdr];
    r->n_hdr++;
}

void
gm__api_header(struct gm__api_req *r, const char *name, const char *fmt, ...)
{
    if (r->n_hdr == GM__API_MAX_HEADERS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->hdr_buf[r->n_hdr], sizeof r->hdr_buf[0], fmt, ap);
    va_end(ap);
    r->hdr[r->n_hdr][0] = name;
    r->hdr[r->n_hdr][1] = r->hdr_buf[r->n_hdr];
    r->n_hdr++;
}

enum MHD_Result
gm__api_respond(struct MHD_Connection *c, struct gm__api_req *r, unsigned status, const char *ctype,
                const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (size_t i = 0; i < r->n_hdr; i++)
        MHD_add_response_header(resp, r->hdr[i][0], r->hdr[i][1]);
    /* A keep-alive client would go on sending while the drain waits for it. */
    if (r->draining && atomic_load(r->draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

int
gm__api_op_index(const struct gm_api_server *s, const char *name)
{
    for (size_t i = 2; i < s->m.n_ops; i++)
        if (strcmp(s->m.ops[i], name) == 0)
            return (int)i;
    return 1;
}

static enum MHD_Result
text(struct MHD_Connection *c, struct gm__api_req *r, unsigned status, const char *body)
{
    return gm__api_respond(c, r, status, "text/plain; charset=utf-8", body, strlen(body));
}

/* A JSON error body {"errors":[{"message":msg,"extensions":{"code":code}}]}. */
static enum MHD_Result
json_error(struct MHD_Connection *c, struct gm__api_req *r, unsigned status, const char *code,
           const char *msg)
{
    char buf[512];
    int n =
        snprintf(buf, sizeof buf,
                 "{\"errors\":[{\"message\":\"%s\",\"extensions\":{\"code\":\"%s\"}}]}", msg, code);
    return gm__api_respond(c, r, status, "application/json; charset=utf-8", buf, (size_t)n);
}

/* The request id: the client's X-Request-Id when it is plain, else 16 random hex digits. */
static void
request_id(struct MHD_Connection *c, char *id)
{
    static _Thread_local uint64_t rng;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (h) {
        size_t n = strlen(h);
        bool ok = n > 0 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = (h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'z') ||
                 (h[i] >= 'A' && h[i] <= 'Z') || h[i] == '-' || h[i] == '_' || h[i] == '.';
        if (ok) {
            memcpy(id, h, n + 1);
            return;
        }
    }
    if (!rng) {
        if (getrandom(&rng, sizeof rng, 0) != sizeof rng)
            rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&rng;
        rng |= 1;
    }
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    uint64_t v = rng * 2685821657736338717ull;
    for (int i = 15; i >= 0; i--, v >>= 4)
        id[i] = "0123456789abcdef"[v & 15];
    id[16] = 0;
}

static enum MHD_Result
readyz(struct gm_api_server *s, struct MHD_Connection *c, struct gm__api_req *r)
{
    char why[256] = "";
    char body[512];
    if (atomic_load(&s->draining))
        return text(c, r, 503, "draining: shutting down\n");
    int rc = gm_api_backend_ready(s->d.backend, why, sizeof why);
    gm_api_limiter_probe(s->d.limiter);
    const char *limits = gm_api_limiter_local(s->d.limiter)
                             ? "rate limits: local to this process (Redis unreachable)"
                             : "rate limits: shared (Redis)";
    snprintf(body, sizeof body, "%s%s\n%s\n", rc ? "not ready: " : "ready", rc ? why : "", limits);
    return text(c, r, rc ? 503 : 200, body);
}

/* Appends to a growing text buffer; aborts on out of memory. */
static void out(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
out(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if ((size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        *cap = *cap * 2 + (size_t)n;
        *buf = realloc(*buf, *cap);
        if (!*buf)
            abort();
    }
}

static enum MHD_Result
metrics(struct gm_api_server *s, struct MHD_Connection *c, struct gm__api_req *r)
{
    size_t len = 0, cap = 16384;
    char *b = malloc(cap);
    if (!b)
        abort();
    b[0] = 0;
    const struct gm__api_metrics *m = &s->m;
    out(&b, &len, &cap,
        "# HELP gamify_api_requests_total HTTP requests answered, by operation (root field) "
        "and status.\n# TYPE gamify_api_requests_total counter\n");
    for (size_t i = 0; i < m->n_ops; i++)
        for (size_t k = 0; k < GM__API_N_STATUS; k++) {
            uint64_t v = atomic_load(&m->requests[i][k]);
            if (!v)
                continue;
            char st[16];
            if (status_codes[k])
                snprintf(st, sizeof st, "%u", status_codes[k]);
            else
                snprintf(st, sizeof st, "other");
            out(&b, &len, &cap, "gamify_api_requests_total{operation=\"%s\",status=\"%s\"} %llu\n",
                m->ops[i], st, (unsigned long long)v);
        }
    out(&b, &len, &cap,
        "# HELP gamify_api_request_duration_seconds Time from a request's first byte to its "
        "answer.\n# TYPE gamify_api_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t k = 0; k < GM__API_N_BUCKETS; k++) {
        cum += atomic_load(&m->latency_le[k]);
        out(&b, &len, &cap, "gamify_api_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
            buckets[k], (unsigned long long)cum);
    }
    cum += atomic_load(&m->latency_le[GM__API_N_BUCKETS]);
    out(&b, &len, &cap,
        "gamify_api_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
        "gamify_api_request_duration_seconds_sum %.6f\n"
        "gamify_api_request_duration_seconds_count %llu\n",
        (unsigned long long)cum, (double)atomic_load(&m->latency_us_sum) / 1e6,
        (unsigned long long)atomic_load(&m->latency_count));
    out(&b, &len, &cap,
        "# HELP gamify_api_rate_limited_total Requests refused over a rate limit, by "
        "operation.\n# TYPE gamify_api_rate_limited_total counter\n");
    for (size_t i = 0; i < m->n_ops; i++)
        out(&b, &len, &cap, "gamify_api_rate_limited_total{operation=\"%s\"} %llu\n", m->ops[i],
            (unsigned long long)atomic_load(&m->rate_limited[i]));
    struct gm_api_limiter_stats ls;
    gm_api_limiter_stats(s->d.limiter, &ls);
    out(&b, &len, &cap,
        "# HELP gamify_api_rate_limit_local 1 while rate limits are decided in this process "
        "(Redis unreachable), 0 while shared through Redis.\n"
        "# TYPE gamify_api_rate_limit_local gauge\ngamify_api_rate_limit_local %d\n"
        "# HELP gamify_api_rate_limit_decisions_total Rate-limit decisions, by where they "
        "were made.\n# TYPE gamify_api_rate_limit_decisions_total counter\n"
        "gamify_api_rate_limit_decisions_total{where=\"redis\"} %llu\n"
        "gamify_api_rate_limit_decisions_total{where=\"local\"} %llu\n"
        "gamify_api_rate_limit_decisions_total{where=\"lease\"} %llu\n"
        "# HELP gamify_api_rate_limit_redis_errors_total Redis failures of the rate limiter.\n"
        "# TYPE gamify_api_rate_limit_redis_errors_total counter\n"
        "gamify_api_rate_limit_redis_errors_total %llu\n",
        gm_api_limiter_local(s->d.limiter) ? 1 : 0, (unsigned long long)ls.redis_decisions,
        (unsigned long long)ls.local_decisions, (unsigned long long)ls.lease_decisions,
        (unsigned long long)ls.redis_errors);
    struct gm_gql_engine_stats es;
    gm_gql_engine_stats(s->d.engine, &es);
    out(&b, &len, &cap,
        "# HELP gamify_api_document_cache_total Prepared-document cache lookups, by result.\n"
        "# TYPE gamify_api_document_cache_total counter\n"
        "gamify_api_document_cache_total{result=\"hit\"} %llu\n"
        "gamify_api_document_cache_total{result=\"miss\"} %llu\n"
        "gamify_api_document_cache_total{result=\"persisted_hit\"} %llu\n"
        "gamify_api_document_cache_total{result=\"persisted_miss\"} %llu\n"
        "# HELP gamify_api_document_cache_entries Prepared documents kept.\n"
        "# TYPE gamify_api_document_cache_entries gauge\n"
        "gamify_api_document_cache_entries %zu\n"
        "# HELP gamify_api_document_cache_bytes Bytes the kept documents hold.\n"
        "# TYPE gamify_api_document_cache_bytes gauge\n"
        "gamify_api_document_cache_bytes %zu\n",
        (unsigned long long)es.cache_hits, (unsigned long long)es.cache_misses,
        (unsigned long long)es.persisted_hits, (unsigned long long)es.persisted_misses,
        es.cache_entries, es.cache_bytes);
    out(&b, &len, &cap,
        "# HELP gamify_api_auth_failures_total Requests refused for a missing or invalid "
        "token.\n# TYPE gamify_api_auth_failures_total counter\n"
        "gamify_api_auth_failures_total %llu\n"
        "# HELP gamify_api_internal_errors_total Internal errors masked in responses.\n"
        "# TYPE gamify_api_internal_errors_total counter\n"
        "gamify_api_internal_errors_total %llu\n"
        "# HELP gamify_api_body_timeouts_total Connections closed because a request body "
        "was still arriving after --body-timeout-seconds.\n"
        "# TYPE gamify_api_body_timeouts_total counter\ngamify_api_body_timeouts_total %llu\n"
        "# HELP gamify_api_requests_in_flight Requests received and not yet answered.\n"
        "# TYPE gamify_api_requests_in_flight gauge\ngamify_api_requests_in_flight %lld\n"
        "# HELP gamify_api_streams_open Open /graphql/stream event streams.\n"
        "# TYPE gamify_api_streams_open gauge\ngamify_api_streams_open %zu\n",
        (unsigned long long)atomic_load(&m->auth_failures),
        (unsigned long long)atomic_load(&m->masked_errors),
        (unsigned long long)atomic_load(&m->body_timeouts), (long long)atomic_load(&m->in_flight),
        gm__api_sse_open(s));
    struct gm_api_backend_stats bs;
    gm_api_backend_stats(s->d.backend, &bs);
    out(&b, &len, &cap,
        "# HELP gamify_api_pg_pool_waits_total Requests that waited for a free Postgres "
        "connection.\n# TYPE gamify_api_pg_pool_waits_total counter\n"
        "gamify_api_pg_pool_waits_total %llu\n"
        "# HELP gamify_api_backend_errors_total Failed calls of the resolvers, by server.\n"
        "# TYPE gamify_api_backend_errors_total counter\n"
        "gamify_api_backend_errors_total{server=\"postgres\"} %llu\n"
        "gamify_api_backend_errors_total{server=\"redis\"} %llu\n"
        "# HELP gamify_api_redemptions_total redeemReward commands appended, and those "
        "answered PENDING.\n# TYPE gamify_api_redemptions_total counter\n"
        "gamify_api_redemptions_total{result=\"appended\"} %llu\n"
        "gamify_api_redemptions_total{result=\"pending\"} %llu\n"
        "# HELP gamify_api_listener_restarts_total LISTEN connections (re)made.\n"
        "# TYPE gamify_api_listener_restarts_total counter\n"
        "gamify_api_listener_restarts_total %llu\n"
        "# HELP gamify_api_redis_round_trips_total Redis round trips of the resolvers "
        "(calls of concurrent requests share one with --redis-batch).\n"
        "# TYPE gamify_api_redis_round_trips_total counter\n"
        "gamify_api_redis_round_trips_total %llu\n"
        "# HELP gamify_api_redis_calls_total Redis commands of the resolvers.\n"
        "# TYPE gamify_api_redis_calls_total counter\n"
        "gamify_api_redis_calls_total %llu\n"
        "# HELP gamify_api_mirror_requests_total Leaderboard requests for a current period, "
        "by whether the board mirror held the board.\n"
        "# TYPE gamify_api_mirror_requests_total counter\n"
        "gamify_api_mirror_requests_total{result=\"hit\"} %llu\n"
        "gamify_api_mirror_requests_total{result=\"miss\"} %llu\n"
        "# HELP gamify_api_mirror_loads_total Boards the mirror read whole from Redis.\n"
        "# TYPE gamify_api_mirror_loads_total counter\ngamify_api_mirror_loads_total %llu\n"
        "# HELP gamify_api_mirror_resets_total Times the mirror dropped every board (a reset "
        "message, a lost Redis connection).\n"
        "# TYPE gamify_api_mirror_resets_total counter\ngamify_api_mirror_resets_total %llu\n"
        "# HELP gamify_api_mirror_drift_total Boards dropped because their size differed from "
        "Redis's (written without a leaderboard-scores message).\n"
        "# TYPE gamify_api_mirror_drift_total counter\ngamify_api_mirror_drift_total %llu\n"
        "# HELP gamify_api_mirror_budget_drops_total Boards dropped because new members took "
        "the mirror past --mirror-members.\n"
        "# TYPE gamify_api_mirror_budget_drops_total counter\n"
        "gamify_api_mirror_budget_drops_total %llu\n"
        "# HELP gamify_api_mirror_boards Boards the mirror holds.\n"
        "# TYPE gamify_api_mirror_boards gauge\ngamify_api_mirror_boards %llu\n"
        "# HELP gamify_api_mirror_members Members the mirror holds over every board.\n"
        "# TYPE gamify_api_mirror_members gauge\ngamify_api_mirror_members %llu\n",
        (unsigned long long)bs.pg_pool_waits, (unsigned long long)bs.pg_errors,
        (unsigned long long)bs.redis_errors, (unsigned long long)bs.redeem_appended,
        (unsigned long long)bs.redeem_pending, (unsigned long long)bs.listener_restarts,
        (unsigned long long)bs.redis_trips, (unsigned long long)bs.redis_calls,
        (unsigned long long)bs.mirror_hits, (unsigned long long)bs.mirror_misses,
        (unsigned long long)bs.mirror_loads, (unsigned long long)bs.mirror_resets,
        (unsigned long long)bs.mirror_drift_drops, (unsigned long long)bs.mirror_budget_drops,
        (unsigned long long)bs.mirror_boards, (unsigned long long)bs.mirror_members);
    enum MHD_Result ret =
        gm__api_respond(c, r, 200, "text/plain; version=0.0.4; charset=utf-8", b, len);
    free(b);
    return ret;
}

static enum MHD_Result
route(struct gm_api_server *s, struct MHD_Connection *c, struct gm__api_req *r, const char *url,
      const char *method)
{
    if (strcmp(url, "/graphql") == 0)
        return gm__api_graphql(s, c, r, method);
    if (strcmp(url, "/graphql/stream") == 0)
        return gm__api_sse_request(s, c, r, method);
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
        strcmp(url, "/metrics") == 0) {
        if (!get) {
            gm__api_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
            return text(c, r, 405, "method not allowed\n");
        }
        if (url[1] == 'h')
            return text(c, r, 200, "ok\n");
        if (url[1] == 'r')
            return readyz(s, c, r);
        return metrics(s, c, r);
    }
    return json_error(c, r, 404, "NOT_FOUND", "no such endpoint; GraphQL is at /graphql");
}

/*
 * Request records: each thread keeps the last one it freed, with its body
 * buffer, for its next request. Both are larger than malloc's per-thread
 * cache takes, so a malloc and a free of each per request went through
 * its bins (about 5,000 instructions). Freed with the thread.
 */
#define REQ_KEEP_BODY (64u << 10) /* a larger body buffer is not kept */

static pthread_key_t req_key;
static pthread_once_t req_once = PTHREAD_ONCE_INIT;

static void
req_destroy(void *p)
{
    struct gm__api_req *r = p;
    free(r->body);
    free(r);
}

static void
req_key_init(void)
{
    if (pthread_key_create(&req_key, req_destroy) != 0)
        abort();
}

/* Returns a zeroed record (its header buffers excepted: written before read); free with
 * req_free. */
static struct gm__api_req *
req_new(void)
{
    pthread_once(&req_once, req_key_init);
    struct gm__api_req *r = pthread_getspecific(req_key);
    char *body = NULL;
    size_t cap = 0;
    if (r) {
        pthread_setspecific(req_key, NULL);
        body = r->body, cap = r->cap;
    } else {
        r = malloc(sizeof *r);
        if (!r)
            abort();
    }
    memset(r, 0, offsetof(struct gm__api_req, hdr_buf));
    r->body = body, r->cap = cap;
    return r;
}

static void
req_free(struct gm__api_req *r)
{
    if (r->cap <= REQ_KEEP_BODY && !pthread_getspecific(req_key) &&
        pthread_setspecific(req_key, r) == 0)
        return;
    req_destroy(r);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct gm_api_server *s = cls;
    struct gm__api_req *r = *con_cls;
    if (!r) {
        r = req_new();
        r->start = mono_s();
        r->draining = &s->draining;
        request_id(c, r->id);
        const char *ctx_parts[] = {"\"request_id\":\"", r->id, "\""};
        gm_fmt_join(r->log_ctx, sizeof r->log_ctx, ctx_parts, 3);
        *con_cls = r;
        atomic_fetch_add(&s->m.in_flight, 1);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->o.max_body) {
            gm_log_set_context(r->log_ctx);
            enum MHD_Result ret = json_error(c, r, 413, "PAYLOAD_TOO_LARGE",
                                             "the request body is larger than allowed");
            gm_log_set_context(NULL);
            return ret;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (mono_s() - r->start > s->o.body_timeout_s) {
            /* Answering needs the whole body; a trickling client gets its connection closed. */
            gm_log_set_context(r->log_ctx);
            gm_log(GM_LOG_INFO, "body not complete after %d s: connection closed",
                   s->o.body_timeout_s);
            gm_log_set_context(NULL);
            atomic_fetch_add(&s->m.body_timeouts, 1);
            return MHD_NO;
        }
        if (r->status || r->too_big)
            return MHD_YES;
        if (r->len + n > s->o.max_body) {
            r->too_big = true;
            return MHD_YES;
        }
        if (r->len + n + 1 > r->cap) {
            size_t cap = r->cap ? r->cap : 4096;
            while (cap < r->len + n + 1)
                cap *= 2;
            r->body = realloc(r->body, cap);
            if (!r->body)
                abort();
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        r->body[r->len] = 0;
        return MHD_YES;
    }
    if (r->status)
        return MHD_YES; /* answered early (413) */
    gm_log_set_context(r->log_ctx);
    enum MHD_Result ret;
    if (r->too_big)
        ret = json_error(c, r, 413, "PAYLOAD_TOO_LARGE", "the request body is larger than allowed");
    else
        ret = route(s, c, r, url, method);
    gm_log_set_context(NULL);
    return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)c;
    struct gm_api_server *s = cls;
    struct gm__api_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    double dt = mono_s() - r->start;
    struct gm__api_metrics *m = &s->m;
    size_t k = GM__API_N_STATUS - 1;
    for (size_t i = 0; i + 1 < GM__API_N_STATUS; i++)
        if (status_codes[i] == r->status)
            k = i;
    int op = r->op >= 0 && (size_t)r->op < m->n_ops ? r->op : 0;
    if (r->status)
        atomic_fetch_add(&m->requests[op][k], 1);
    size_t b = GM__API_N_BUCKETS;
    for (size_t i = 0; i < GM__API_N_BUCKETS; i++)
        if (dt <= buckets[i]) {
            b = i;
            break;
        }
    if (!r->stream) { /* a stream's lifetime is not a latency */
        atomic_fetch_add(&m->latency_le[b], 1);
        atomic_fetch_add(&m->latency_us_sum, (uint64_t)(dt * 1e6));
        atomic_fetch_add(&m->latency_count, 1);
    }
    gm_log_set_context(r->log_ctx);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        gm_log(GM_LOG_INFO, "request ended before its answer was sent (status %u, %s, %.1f ms)",
               r->status, m->ops[op], dt * 1000);
    else
        gm_log(r->status >= 500 ? GM_LOG_WARN : GM_LOG_DEBUG, "answered %u (%s) in %.3f ms",
               r->status, m->ops[op], dt * 1000);
    gm_log_set_context(NULL);
    atomic_fetch_sub(&m->in_flight, 1);
    req_free(r);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = 0;
    gm_log(GM_LOG_WARN, "libmicrohttpd: %s", buf);
}

/* Parses HOST:PORT, :PORT or [V6]:PORT into ss. */
static int
parse_listen(const char *addr, struct sockaddr_storage *ss, bool *v6, struct gm_err *err)
{
    char host[256];
    const char *colon = strrchr(addr ? addr : "", ':');
    if (!addr || !colon)
        return gm_err_set(err, GM_EINVAL, "--listen '%s': expected HOST:PORT or :PORT",
                          addr ? addr : "");
    size_t hl = (size_t)(colon - addr);
    const char *h = addr;
    if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']')
        h++, hl -= 2;
    if (hl >= sizeof host)
        return gm_err_set(err, GM_EINVAL, "--listen '%s': host too long", addr);
    memcpy(host, h, hl);
    host[hl] = 0;
    char *e;
    long port = strtol(colon + 1, &e, 10);
    if (e == colon + 1 || *e || port < 0 || port > 65535)
        return gm_err_set(err, GM_EINVAL, "--listen '%s': bad port", addr);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int grc = getaddrinfo(hl ? host : "0.0.0.0", colon + 1, &hints, &res);
    if (grc != 0 || !res)
        return gm_err_set(err, GM_EINVAL, "--listen '%s': %s", addr, gai_strerror(grc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

static void
add_op(struct gm__api_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->n_ops; i++)
        if (strcmp(m->ops[i], name) == 0)
            return;
    if (m->n_ops < GM__API_MAX_OPS)
        m->ops[m->n_ops++] = name;
}

int
gm_api_server_start(const struct gm_api_server_opts *o, const struct gm_api_server_deps *d,
                    struct gm_api_server **out, struct gm_err *err)
{
    int rc = 0;
    *out = NULL;
    struct gm_api_server *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->o = *o;
    s->d = *d;
    s->m.ops[0] = "none";
    s->m.ops[1] = "other";
    s->m.n_ops = 2;
    const struct gm_gql_stype *roots[3] = {d->schema->query, d->schema->mutation,
                                           d->schema->subscription};
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; roots[k] && i < roots[k]->n_fields; i++)
            add_op(&s->m, roots[k]->fields[i].name);
    if (o->pq == GM_API_PQ_ALLOWLIST) {
        rc = gm__api_allowlist_load(s, err);
        if (rc)
            goto out;
    }
    struct sockaddr_storage ss;
    bool v6 = false;
    rc = parse_listen(o->listen, &ss, &v6, err);
    if (rc)
        goto out;
    rc = gm__api_sse_start(s, err);
    if (rc)
        goto out;
    /* Suspend and resume: an open event stream waits parked, not in a thread (sse.c). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)o->threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        o->max_header, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_END);
    if (!s->mhd) {
        rc = gm_err_set(err, GM_EIO, "--listen %s: cannot listen (address in use?)", o->listen);
        goto out;
    }
out:
    if (rc) {
        gm_api_server_stop(s);
        return rc;
    }
    *out = s;
    return 0;
}

int
gm_api_server_drain(struct gm_api_server *s, int timeout_ms)
{
    atomic_store(&s->draining, true);
    gm__api_sse_close_all(s);
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    double until = mono_s() + timeout_ms / 1000.0;
    while (atomic_load(&s->m.in_flight) > 0 && mono_s() < until) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return (int)atomic_load(&s->m.in_flight);
}

void
gm_api_server_stop(struct gm_api_server *s)
{
    if (!s)
        return;
    gm__api_sse_stop(s, false);
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    gm__api_sse_stop(s, true);
    gm__api_allowlist_free(s);
    free(s);
}
