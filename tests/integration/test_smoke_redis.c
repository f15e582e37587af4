/*
 * test_smoke_redis.c: the Redis that tests/run starts answers hiredis the
 * way the Redis projector will rely on: strings, sorted sets read back in
 * rank order with their scores, and pipelines.
 */
#include "server_env.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Parses "redis://HOST:PORT[/DB]" into host (at most host_len bytes with its
 * NUL) and port. Returns 0, or -1 when malformed.
 */
static int
parse_redis_url(const char *url, char *host, size_t host_len, int *port)
{
    const char *scheme = "redis://";
    const char *p, *colon;
    char *end;
    long n;

    if (strncmp(url, scheme, strlen(scheme)) != 0)
        return -1;
    p = url + strlen(scheme);
    colon = strchr(p, ':');
    if (!colon || colon == p || (size_t)(colon - p) >= host_len)
        return -1;
    n = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || n < 1 || n > 65535 || (*end != '\0' && *end != '/'))
        return -1;
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    *port = (int)n;
    return 0;
}

static redisContext *
connect_or_fail(void)
{
    const char *url = gm_test_server_env("GAMIFY_TEST_REDIS");
    struct timeval timeout = {5, 0};
    char host[256];
    int port;
    redisContext *c;

    cr_assert_eq(parse_redis_url(url, host, sizeof host, &port), 0, "bad Redis URL '%s'", url);
    c = redisConnectWithTimeout(host, port, timeout);
    cr_assert_not_null(c);
    cr_assert_eq(c->err, 0, "connect to %s: %s", url, c->errstr);
    return c;
}

/* Runs a command and returns its reply, asserting it is not an error. */
static redisReply *
command_ok(redisContext *c, const char *fmt, const char *key)
{
    redisReply *r = redisCommand(c, fmt, key);

    cr_assert_not_null(r, "%s: %s", fmt, c->errstr);
    cr_assert_neq(r->type, REDIS_REPLY_ERROR, "%s: %s", fmt, r->str);
    return r;
}

Test(smoke_redis, url_parsing)
{
    char host[64];
    int port = 0;

    cr_assert_eq(parse_redis_url("redis://127.0.0.1:6379", host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(port, 6379);
    cr_assert_eq(parse_redis_url("redis://h:1/2", host, sizeof host, &port), 0);
    cr_assert_eq(parse_redis_url("http://h:1", host, sizeof host, &port), -1);
    cr_assert_eq(parse_redis_url("redis://h", host, sizeof host, &port), -1);
    cr_assert_eq(parse_redis_url("redis://h:0", host, sizeof host, &port), -1);
    cr_assert_eq(parse_redis_url("redis://h:12x", host, sizeof host, &port), -1);
}

Test(smoke_redis, set_and_get)
{
    redisContext *c = connect_or_fail();
    char *key = gm_test_unique_name("gamify:smoke:str");
    redisReply *r;

    r = redisCommand(c, "SET %s %s", key, "hello world");
    cr_assert_not_null(r);
    cr_assert_eq(r->type, REDIS_REPLY_STATUS);
    cr_assert_str_eq(r->str, "OK");
    freeReplyObject(r);

    r = command_ok(c, "GET %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    cr_assert_str_eq(r->str, "hello world");
    freeReplyObject(r);

    freeReplyObject(command_ok(c, "DEL %s", key));
    r = command_ok(c, "GET %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);

    free(key);
    redisFree(c);
}

Test(smoke_redis, sorted_set_ranks_by_score)
{
    redisContext *c = connect_or_fail();
    char *key = gm_test_unique_name("gamify:smoke:zset");
    const char *want_members[] = {"carol", "alice", "bob", "dave"};
    const long long want_scores[] = {900, 340, 120, 5};
    redisReply *r;

    r = redisCommand(c, "ZADD %s 340 alice 120 bob 900 carol 5 dave", key);
    cr_assert_not_null(r);
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
    cr_assert_eq(r->integer, 4);
    freeReplyObject(r);

    /* Absolute scores: setting one again replaces it, adds no member. */
    r = redisCommand(c, "ZADD %s 340 alice", key);
    cr_assert_eq(r->integer, 0);
    freeReplyObject(r);

    r = command_ok(c, "ZREVRANGE %s 0 -1 WITHSCORES", key);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 8);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_str_eq(r->element[2 * i]->str, want_members[i], "rank %zu", i);
        cr_assert_eq(strtoll(r->element[2 * i + 1]->str, NULL, 10), want_scores[i], "rank %zu", i);
    }
    freeReplyObject(r);

    r = command_ok(c, "ZREVRANK %s bob", key);
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
    cr_assert_eq(r->integer, 2);
    freeReplyObject(r);

    freeReplyObject(command_ok(c, "DEL %s", key));
    free(key);
    redisFree(c);
}

Test(smoke_redis, pipeline_of_100_commands)
{
    redisContext *c = connect_or_fail();
    char *key = gm_test_unique_name("gamify:smoke:pipe");
    enum { N = 100 };

    for (int i = 0; i < N; i++)
        cr_assert_eq(redisAppendCommand(c, "INCRBY %s %d", key, i + 1), REDIS_OK);
    for (int i = 0; i < N; i++) {
        redisReply *r = NULL;

        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK, "reply %d: %s", i, c->errstr);
        cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
        /* Replies come back in order: the running sum 1 + 2 + ... + (i + 1). */
        cr_assert_eq(r->integer, (long long)(i + 1) * (i + 2) / 2, "reply %d", i);
        freeReplyObject(r);
    }

    freeReplyObject(command_ok(c, "DEL %s", key));
    free(key);
    redisFree(c);
}
