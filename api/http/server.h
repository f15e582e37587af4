/*
 * server.h: gamify-api's HTTP server (libmicrohttpd, a pool of threads each
 * running its own epoll loop): POST and GET /graphql after the
 * GraphQL-over-HTTP specification, /healthz, /readyz and /metrics.
 *
 * Slow clients cannot hold a thread: every thread multiplexes its
 * connections, a connection idle for timeout_s is closed, a body still
 * arriving body_timeout_s after its headers is dropped, headers must fit in
 * max_header bytes and bodies in max_body.
 */
#ifndef GM_API_SERVER_H
#define GM_API_SERVER_H

#include "auth.h"
#include "err.h"
#include "execute.h"
#include "ratelimit.h"
#include "resolvers.h"

#include <stdbool.h>
#include <stddef.h>

enum gm_api_pq_mode {
    GM_API_PQ_OFF,       /* extensions.persistedQuery refused */
    GM_API_PQ_APQ,       /* Apollo's automatic persisted queries */
    GM_API_PQ_ALLOWLIST, /* only the documents of the allow-list run */
};

struct gm_api_server_opts {
    const char *listen; /* HOST:PORT, :PORT, [V6]:PORT */
    int threads;
    int max_connections;
    size_t max_body;    /* bytes of a request body */
    size_t max_header;  /* bytes of a connection's buffer: request line and headers */
    int timeout_s;      /* a connection idle this long is closed */
    int body_timeout_s; /* a request whose body is not complete this long after its headers
                           is dropped (a client trickling bytes) */
    bool introspection;
    enum gm_api_pq_mode pq;
    const char *allowlist_file; /* GM_API_PQ_ALLOWLIST: JSON object {sha256: text} or an
                                   Apollo manifest {"operations":[{"id","body"}]} */
    /* /graphql/stream (sse.c): Server-Sent Events; off without redis_url. */
    const char *redis_url;    /* SUBSCRIBEs to PREFIX leaderboard-changed here */
    const char *redis_prefix; /* NULL: "gamify:" */
    int streams_per_user;     /* open streams per user at most; 0: 5 */
    int stream_rate;          /* pages per second per stream (per board) at most; 0: 4 */
    int stream_lease_s;       /* a replica's stream leases in Redis outlive it this long; 0: 30 */
};

/* What the server borrows; all must outlive it. */
struct gm_api_server_deps {
    const struct gm_gql_schema *schema;
    struct gm_gql_engine *engine;
    struct gm_api_backend *backend;
    struct gm_api_auth *auth;
    struct gm_api_limiter *limiter;
};

struct gm_api_server;

/*
 * Listens and serves in the background. Returns 0 and *out, or GM_EINVAL
 * (options, allow-list) / GM_EIO (cannot listen) with err.
 */
int gm_api_server_start(const struct gm_api_server_opts *o, const struct gm_api_server_deps *d,
                        struct gm_api_server **out, struct gm_err *err);

/*
 * Stops accepting connections, answers /readyz 503 meanwhile, waits up to
 * timeout_ms for the requests in progress to be answered; returns how many
 * were still in progress (0: drained).
 */
int gm_api_server_drain(struct gm_api_server *s, int timeout_ms);

/* Closes every connection and frees s; NULL is fine. */
void gm_api_server_stop(struct gm_api_server *s);

#endif
