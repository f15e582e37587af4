/*
 * http_floor.c: a libmicrohttpd server that does nothing but HTTP, for
 * `tests/bench/run httpfloor`: it reads each request's body and answers
 * with a fixed JSON body of a leaderboard page's size (800 bytes), with the
 * daemon flags and thread pool of gamify-api (api/http/server.c). What wrk
 * gets from it on this machine is the most any HTTP API built on
 * libmicrohttpd can serve here, and its latency under that load the least
 * (issue 13's targets are measured against it).
 *
 * With REDIS (a Redis URL: redis://HOST:PORT or unix:///PATH, parsed and
 * connected as every part of gamify does, common/redis_url.h) each request also
 * makes the Redis call of a gamify-api leaderboard request whose page is
 * cached: the resolvers' own script (gm__lb_script, api/resolvers/), over
 * gamify:lb:global:all with a random learner user-N (N below LEARNERS) as
 * the caller, blocking, on a connection of its thread. That is the floor
 * of a server that waits on one script round trip per request, as
 * gamify-api does, without its GraphQL, auth and JSON.
 *
 * usage: http_floor PORT [THREADS [REDIS LEARNERS]]   (runs until killed)
 */
#include "internal.h" /* gm__lb_script: the resolvers' leaderboard script */
#include "redis_url.h"

#include <hiredis/hiredis.h>
#include <microhttpd.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char body[801];
static const char *redis_at; /* the URL; NULL: no Redis call */
static struct gm_redis_url redis_url;
static long learners;
static char script_sha[2 * SHA_DIGEST_LENGTH + 1];
static _Thread_local redisContext *rconn;
static _Thread_local uint64_t rng;

/* The script call of one request; exits on any Redis failure (a probe). */
static void
redis_call(void)
{
    if (!rconn) {
        struct timeval tv = {5, 0};
        rconn = gm_redis_url_connect(redis_url.host, redis_url.port, tv);
        if (!rconn || rconn->err) {
            fprintf(stderr, "http_floor: cannot connect to Redis at %s\n", redis_at);
            exit(1);
        }
        rng = (uint64_t)(uintptr_t)&rng ^ 0x9e3779b97f4a7c15u;
    }
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    char me[32];
    snprintf(me, sizeof me, "user-%ld", (long)(rng % (uint64_t)learners));
    const char *argv[] = {
        "EVALSHA", script_sha, "2",     "gamify:lb:global:all", "gamify:boards", "0", "0",
        me,        "-1",       "global"};
    redisReply *r = redisCommandArgv(rconn, 10, argv, NULL);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        argv[0] = "EVAL", argv[1] = gm__lb_script;
        r = redisCommandArgv(rconn, 10, argv, NULL);
    }
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "http_floor: Redis: %s\n", r && r->str ? r->str : rconn->errstr);
        exit(1);
    }
    freeReplyObject(r);
}

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
    if (redis_at)
        redis_call();
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
    if (argc != 2 && argc != 3 && argc != 5) {
        fprintf(stderr, "usage: http_floor PORT [THREADS [REDIS LEARNERS]]\n");
        return 2;
    }
    if (argc == 5) {
        redis_at = argv[3];
        struct gm_err err;
        gm_err_clear(&err);
        if (gm_redis_url_parse(redis_at, "REDIS", &redis_url, &err)) {
            fprintf(stderr, "http_floor: %s\n", err.msg);
            return 2;
        }
        learners = atol(argv[4]);
        if (learners < 1) {
            fprintf(stderr, "http_floor: bad learner count\n");
            return 2;
        }
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)gm__lb_script, strlen(gm__lb_script), md);
        for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
            snprintf(script_sha + 2 * i, 3, "%02x", md[i]);
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
