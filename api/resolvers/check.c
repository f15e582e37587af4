/*
 * check.c: `gamify-api --check-config` past the settings: whether the
 * backend the settings name can be used, without starting to serve (nginx
 * -t). Postgres is connected to and its schema version compared with this
 * program's, Redis answers PING (after AUTH and SELECT when the URL asks),
 * and the log URI is one redeemReward can append to: a file log's folder
 * exists and is writable (or can be created: it is not created here), a
 * Kafka topic's brokers answer with its partitions.
 *
 * Each check opens its own short-lived connection, so that the message
 * names the server and what it said; nothing is kept.
 */
#include "resolvers.h"

#include "kafka.h"
#include "logsrc.h"
#include "pgproj.h"
#include "redis_url.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The first line of a library message (libpq ends its own with newlines). */
static void
first_line(const char *msg, char *out, size_t len)
{
    snprintf(out, len, "%s", msg && msg[0] ? msg : "no reason given");
    out[strcspn(out, "\n")] = '\0';
}

static int
check_postgres(const char *conninfo, int timeout_ms, struct gm_err *err)
{
    /* connect_timeout is in whole seconds; conninfo's own setting wins (it comes later). */
    char *ci = NULL;
    if (asprintf(&ci, "connect_timeout=%d %s", (timeout_ms + 999) / 1000, conninfo) < 0)
        abort();
    PGconn *pg = PQconnectdb(ci);
    free(ci);
    PGresult *res = NULL;
    char why[256];
    int rc = 0;
    if (PQstatus(pg) != CONNECTION_OK) {
        first_line(PQerrorMessage(pg), why, sizeof why);
        rc = gm_err_set(err, GM_EDB, "postgres: cannot connect: %s", why);
        goto out;
    }
    res = PQexec(pg, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        first_line(PQresultErrorMessage(res), why, sizeof why);
        rc = gm_err_set(err, GM_EDB,
                        "postgres: no schema version (%s): run `gamify migrate --postgres ...`",
                        why);
        goto out;
    }
    int have = atoi(PQgetvalue(res, 0, 0));
    if (have != gm_pgproj_schema_version()) {
        rc = gm_err_set(err, GM_EDB,
                        "postgres: the schema is at version %d, this program needs %d%s", have,
                        gm_pgproj_schema_version(),
                        have < gm_pgproj_schema_version() ? ": run `gamify migrate`" : "");
        goto out;
    }
    printf("postgres: ok (schema version %d)\n", have);
out:
    PQclear(res);
    PQfinish(pg);
    return rc;
}

/* A reply that is not an error, or rc set with err saying which command failed. */
static int
redis_ok(redisContext *c, redisReply *r, const char *what, struct gm_err *err)
{
    if (!r)
        return gm_err_set(err, GM_EREDIS, "redis: %s: %s", what,
                          c->errstr[0] ? c->errstr : "no reply");
    if (r->type == REDIS_REPLY_ERROR)
        return gm_err_set(err, GM_EREDIS, "redis: %s: %s", what, r->str);
    return 0;
}

static int
check_redis(const char *url, int timeout_ms, struct gm_err *err)
{
    struct gm_redis_url u = {0};
    redisContext *c = NULL;
    redisReply *r = NULL;
    int rc = gm_redis_url_parse(url, "--redis", &u, err);
    if (rc)
        goto out;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    c = gm_redis_url_connect(u.host, u.port, tv);
    if (!c || c->err) {
        rc = gm_err_set(err, GM_EREDIS, "redis: cannot connect to %s: %s",
                        GM_REDIS_WHERE(u.host, u.port), c ? c->errstr : "out of memory");
        goto out;
    }
    redisSetTimeout(c, tv);
    if (u.password) {
        r = u.user ? redisCommand(c, "AUTH %s %s", u.user, u.password)
                   : redisCommand(c, "AUTH %s", u.password);
        if ((rc = redis_ok(c, r, "AUTH", err)))
            goto out;
        freeReplyObject(r);
        r = NULL;
    }
    if (u.db) {
        r = redisCommand(c, "SELECT %d", u.db);
        if ((rc = redis_ok(c, r, "SELECT", err)))
            goto out;
        freeReplyObject(r);
        r = NULL;
    }
    r = redisCommand(c, "PING");
    if ((rc = redis_ok(c, r, "PING", err)))
        goto out;
    if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0) {
        rc = gm_err_set(err, GM_EREDIS, "redis: PING was not answered PONG");
        goto out;
    }
    printf("redis: ok (%s answers PING)\n", GM_REDIS_WHERE(u.host, u.port));
out:
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
    gm_redis_url_deinit(&u);
    return rc;
}

/* A file log's folder: writable, or its nearest existing parent is (it would be created). */
static int
check_folder(const char *dir, struct gm_err *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return gm_err_set(err, GM_EINVAL, "--log: the path is too long");
    bool created = false;
    for (;;) {
        struct stat sb;
        if (stat(path, &sb) == 0) {
            if (!S_ISDIR(sb.st_mode))
                return gm_err_set(err, GM_EIO, "--log: %s is not a folder", path);
            if (access(path, W_OK | X_OK) != 0)
                return gm_err_set(err, GM_EIO, "--log: %s%s is not writable: %s", path,
                                  created ? " (where the log folder would be created)" : "",
                                  strerror(errno));
            break;
        }
        if (errno != ENOENT)
            return gm_err_set(err, GM_EIO, "--log: %s: %s", path, strerror(errno));
        /* Up one level: the folder would be created under its parent. */
        char *slash = strrchr(path, '/');
        while (slash && slash > path && slash[1] == '\0') {
            *slash = '\0';
            slash = strrchr(path, '/');
        }
        if (!slash)
            snprintf(path, sizeof path, ".");
        else if (slash == path)
            path[1] = '\0';
        else
            *slash = '\0';
        created = true;
    }
    printf("log: ok (file log %s%s)\n", dir, created ? ", to be created" : "");
    return 0;
}

static int
check_log(const char *uri, int timeout_ms, struct gm_err *err)
{
    enum gm_logsrc_scheme scheme;
    const char *rest;
    int rc = gm_logsrc_uri_parse(uri, &scheme, &rest, err);
    if (rc)
        return rc;
    if (scheme == GM_LOGSRC_FILE)
        return check_folder(rest, err);
    if (scheme != GM_LOGSRC_KAFKA)
        return gm_err_set(err, GM_EINVAL, "--log: '%s': redeemReward appends to file: or kafka://",
                          uri);
    struct gm_kafka_producer *kp = NULL;
    int32_t n = 0;
    struct gm_err kerr;
    gm_err_clear(&kerr);
    if ((rc = gm_kafka_producer_open(rest, timeout_ms, &kp, &kerr)) ||
        (rc = gm_kafka_producer_partitions(kp, &n, &kerr)))
        rc = gm_err_set(err, rc, "log: %s", kerr.msg);
    else
        printf("log: ok (Kafka topic with %d partitions)\n", (int)n);
    gm_kafka_producer_free(kp);
    return rc;
}

int
gm_api_backend_check(const struct gm_api_backend_opts *o, int timeout_ms, struct gm_err *err)
{
    int rc;
    if (timeout_ms <= 0)
        timeout_ms = 2000;
    if ((rc = check_postgres(o->postgres, timeout_ms, err)) ||
        (rc = check_redis(o->redis, timeout_ms, err)))
        return rc;
    /* A Kafka broker's first answer includes the client's connection set-up
     * (bootstrap, API versions, metadata): at least 5 s for it. */
    if (o->log_uri && o->log_uri[0] &&
        (rc = check_log(o->log_uri, timeout_ms < 5000 ? 5000 : timeout_ms, err)))
        return rc;
    return 0;
}
