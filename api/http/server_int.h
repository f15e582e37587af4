/*
 * server_int.h: what server.c (connections, routing, health, metrics) and
 * graphql_http.c (the /graphql endpoint) share.
 */
#ifndef GM_API_SERVER_INT_H
#define GM_API_SERVER_INT_H

#include "server.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>

#define GM__API_MAX_OPS     64 /* metric labels: root fields of the schema, plus two */
#define GM__API_N_STATUS    13
#define GM__API_N_BUCKETS   12
#define GM__API_MAX_HEADERS 8

struct gm__api_metrics {
    const char *ops[GM__API_MAX_OPS]; /* [0] "none", [1] "other", then the root fields */
    size_t n_ops;
    atomic_uint_fast64_t requests[GM__API_MAX_OPS][GM__API_N_STATUS];
    atomic_uint_fast64_t rate_limited[GM__API_MAX_OPS];
    atomic_uint_fast64_t latency_le[GM__API_N_BUCKETS + 1]; /* the last is +Inf */
    atomic_uint_fast64_t latency_us_sum;
    atomic_uint_fast64_t latency_count;
    atomic_uint_fast64_t auth_failures;
    atomic_uint_fast64_t masked_errors;
    atomic_uint_fast64_t body_timeouts;
    atomic_int_fast64_t in_flight;
};

/* An HTTP request from its first byte to its answer. */
struct gm__api_req {
    char id[65];
    char log_ctx[96];
    double start; /* seconds, monotonic */
    char *body;   /* POST: the body so far, NUL-terminated */
    size_t len, cap;
    bool too_big;
    int op; /* metric label index */
    unsigned status;
    const char *hdr[GM__API_MAX_HEADERS][2]; /* extra response headers (borrowed) */
    char hdr_buf[GM__API_MAX_HEADERS][160];
    size_t n_hdr;
    const atomic_bool *draining; /* the server's: answers then ask clients to close */
    bool stream;                 /* an event stream (sse.c): not in the latency histogram */
};

struct gm__api_allow {
    unsigned char sha[32];
    char *text;
};

struct gm__api_sse;

struct gm_api_server {
    struct gm_api_server_opts o;
    struct gm_api_server_deps d;
    struct MHD_Daemon *mhd;
    atomic_bool draining;
    struct gm__api_metrics m;
    struct gm__api_allow *allow; /* sorted by sha */
    size_t n_allow;
    struct gm__api_sse *sse; /* NULL: streams off */
};

/* Adds a response header to r (the value is copied). */
void gm__api_header(struct gm__api_req *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Queues status and body (copied) with r's headers; returns MHD's answer. */
enum MHD_Result gm__api_respond(struct MHD_Connection *c, struct gm__api_req *r, unsigned status,
                                const char *ctype, const char *body, size_t len);

/* The metric label of a root field name. */
int gm__api_op_index(const struct gm_api_server *s, const char *name);

/*
 * body.c: reads a POST body of the common shape ({"query": STRING,
 * "operationName": STRING|null, "variables": {}|null, "extensions": {}|null},
 * printable ASCII) without jansson: true with *query and *opname (NULL when
 * absent or null) decoded into scratch (len + 1 bytes); false for anything
 * else (then parse it with jansson).
 */
bool gm__api_body_simple(const char *body, size_t len, char *scratch, const char **query,
                         const char **opname);

/* Answers a /graphql request whose body (POST) has arrived. */
enum MHD_Result gm__api_graphql(struct gm_api_server *s, struct MHD_Connection *c,
                                struct gm__api_req *r, const char *method);

/* sse.c: /graphql/stream. Starts the Redis subscriber and the pusher threads. */
int gm__api_sse_start(struct gm_api_server *s, struct gm_err *err);
/* Answers a /graphql/stream request whose body (POST) has arrived. */
enum MHD_Result gm__api_sse_request(struct gm_api_server *s, struct MHD_Connection *c,
                                    struct gm__api_req *r, const char *method);
/* Open streams (for /metrics). */
size_t gm__api_sse_open(struct gm_api_server *s);
/* Sends complete on every open stream (drain and stop). */
void gm__api_sse_close_all(struct gm_api_server *s);
/* Stops the threads, waits up to 1 s for the streams to end; frees the hub at the end
   (after MHD_stop_daemon, free_hub true). */
void gm__api_sse_stop(struct gm_api_server *s, bool free_hub);

/* Loads s->o.allowlist_file into s->allow. */
int gm__api_allowlist_load(struct gm_api_server *s, struct gm_err *err);
void gm__api_allowlist_free(struct gm_api_server *s);

#endif
