/*
 * http_floor.c: a libmicrohttpd server that does nothing but HTTP, for
 * `tests/bench/run httpfloor`: it reads each request's body and answers
 * with a fixed JSON body of a leaderboard page's size (800 bytes), with the
 * daemon flags and thread pool of gamify-api (api/http/server.c). What wrk
 * gets from it on this machine is the most any HTTP API built on
 * libmicrohttpd can serve here, and its latency under that load the least
 * (issue 13's targets are measured against it).
 *
 * usage: http_floor PORT [THREADS]   (runs until killed)
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char body[801];

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **req)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    if (!*req) { /* the headers: the body (if any) comes in the next calls */
        *req = body;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *res =
        MHD_create_response_from_buffer(sizeof body - 1, body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(res, "Content-Type", "application/graphql-response+json");
    enum MHD_Result ret = MHD_queue_response(conn, 200, res);
    MHD_destroy_response(res);
    return ret;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: http_floor PORT [THREADS]\n");
        return 2;
    }
    int port = atoi(argv[1]), threads = argc > 2 ? atoi(argv[2]) : 4;
    if (port < 1 || port > 65535 || threads < 1 || threads > 256) {
        fprintf(stderr, "http_floor: bad port or thread count\n");
        return 2;
    }
    memset(body, ' ', sizeof body - 1);
    memcpy(body, "{\"data\":{\"pad\":\"", 16);
    memcpy(body + sizeof body - 4, "\"}}", 3);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC, (uint16_t)port, NULL, NULL,
        on_request, NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_CONNECTION_LIMIT, 4000u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "http_floor: cannot listen on port %d\n", port);
        return 1;
    }
    for (;;)
        pause();
}
