/*
 * backend.c: the connections the resolvers share: a pool of Postgres
 * connections with every statement prepared, one Redis connection per
 * thread, the log appender for redeemReward, readiness and counters.
 *
 * A broken Postgres connection is dropped when a call on it fails and the
 * call is tried once more on a fresh one (a restarted server leaves every
 * idle connection broken); a broken Redis connection is dropped and the
 * next call of that thread reconnects.
 */
#include "filelog.h"
#include "internal.h"
#include "resp.h"
#include "kafka.h"
#include "log.h"
#include "redis_url.h"
#include "logsrc.h"
#include "pgproj.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* clang-format off */
static const struct {
    const char *name;
    int nparams;
    const char *sql;
} stmts[GM__Q_COUNT] = {
    [GM__Q_PROFILE] = {"api_profile", 1,
        "SELECT l.user_id, l.exp, l.level, l.coins, l.current_streak, l.longest_streak, "
        "l.freezes_held, (SELECT r.thresholds[l.level + 1] FROM rules_current r) "
        "FROM learners l WHERE l.user_id = $1"},
    [GM__Q_BADGES] = {"api_badges", 1,
        "SELECT b.id, b.name, b.icon, b.criteria, extract(epoch FROM lb.earned_at)::bigint "
        "FROM learner_badges lb JOIN badges b ON b.id = lb.badge_id "
        "WHERE lb.user_id = $1 ORDER BY lb.position, lb.earned_at"},
    [GM__Q_REWARDS] = {"api_rewards", 0,
        "SELECT id, name, cost, type, stock_left, active FROM reward_catalogue "
        "ORDER BY active DESC, position, id"},
    [GM__Q_OPTED_OUT] = {"api_opted_out", 0,
        "SELECT user_id FROM learners WHERE opt_out ORDER BY user_id COLLATE \"C\""},
    [GM__Q_RULES] = {"api_rules", 0, "SELECT timezone FROM rules_current"},
    [GM__Q_REDEMPTION] = {"api_redemption", 2,
        "SELECT reward_id, status, reason, extract(epoch FROM occurred_at)::bigint "
        "FROM redemptions WHERE user_id = $1 AND redemption_id = $2"},
    [GM__Q_PROFILE_BADGES] = {"api_profile_badges", 1,
        "SELECT l.user_id, l.exp, l.level, l.coins, l.current_streak, l.longest_streak, "
        "l.freezes_held, (SELECT r.thresholds[l.level + 1] FROM rules_current r), "
        "b.id, b.name, b.icon, b.criteria, extract(epoch FROM lb.earned_at)::bigint "
        "FROM learners l LEFT JOIN (learner_badges lb JOIN badges b ON b.id = lb.badge_id) "
        "ON lb.user_id = l.user_id "
        "WHERE l.user_id = $1 ORDER BY lb.position, lb.earned_at"},
    [GM__Q_VERSION] = {"api_version", 0,
        "SELECT coalesce(max(version), 0) FROM schema_migrations"},
    /* history.c and queries.c: pages by (partition, seq), the log order,
     * over the indexes (user_id, partition, seq) of migration 0003. The
     * cursor condition and the order name user_id too: with (partition,
     * seq) alone the planner took the ledger's primary key for a cursor
     * deep in a history and filtered the whole partition after it (40 ms
     * instead of 0.1 ms over 400,000 rows). */
    [GM__Q_BADGE_CATALOGUE] = {"api_badge_catalogue", 1,
        "SELECT b.id, b.name, b.icon, b.criteria, extract(epoch FROM lb.earned_at)::bigint "
        "FROM badges b LEFT JOIN learner_badges lb ON lb.badge_id = b.id AND lb.user_id = $1 "
        "WHERE b.active ORDER BY b.position, b.id"},
    [GM__Q_REDEMPTIONS] = {"api_redemptions", 4,
        "SELECT partition, seq, redemption_id, reward_id, status, reason, "
        "extract(epoch FROM occurred_at)::bigint FROM redemptions "
        "WHERE user_id = $1 AND (user_id, partition, seq) > ($1, $2::integer, $3::bigint) "
        "ORDER BY user_id, partition, seq LIMIT $4"},
    [GM__Q_REDEMPTIONS_N] = {"api_redemptions_n", 1,
        "SELECT count(*) FROM redemptions WHERE user_id = $1"},
    [GM__Q_LEDGER] = {"api_ledger", 4,
        "SELECT partition, seq, event_id, kind, detail, exp_delta, coins_delta, exp_after, "
        "coins_after, capped_exp, extract(epoch FROM occurred_at)::bigint FROM ledger "
        "WHERE user_id = $1 AND (user_id, partition, seq) > ($1, $2::integer, $3::bigint) "
        "ORDER BY user_id, partition, seq LIMIT $4"},
    [GM__Q_LEDGER_N] = {"api_ledger_n", 1,
        "SELECT count(*) FROM ledger WHERE user_id = $1"},
    /* Newest first: the same index read backwards. */
    [GM__Q_REDEMPTIONS_DESC] = {"api_redemptions_desc", 4,
        "SELECT partition, seq, redemption_id, reward_id, status, reason, "
        "extract(epoch FROM occurred_at)::bigint FROM redemptions "
        "WHERE user_id = $1 AND (user_id, partition, seq) < ($1, $2::integer, $3::bigint) "
        "ORDER BY user_id DESC, partition DESC, seq DESC LIMIT $4"},
    [GM__Q_LEDGER_DESC] = {"api_ledger_desc", 4,
        "SELECT partition, seq, event_id, kind, detail, exp_delta, coins_delta, exp_after, "
        "coins_after, capped_exp, extract(epoch FROM occurred_at)::bigint FROM ledger "
        "WHERE user_id = $1 AND (user_id, partition, seq) < ($1, $2::integer, $3::bigint) "
        "ORDER BY user_id DESC, partition DESC, seq DESC LIMIT $4"},
};
/* clang-format on */

struct gm__rconn {
    redisContext *c; /* NULL: not connected */
    struct gm_api_backend *b;
    struct gm__rconn *next, **pprev;
};

int64_t
gm__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
gm__internal(struct gm_gql_rctx *ctx, const char *fmt, ...)
{
    const struct gm_api_request *req = ctx->context;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    gm_log(GM_LOG_ERROR, "resolver %s.%s: %s (request %s)", ctx->parent_type->name,
           ctx->field->name, buf, req && req->viewer.request_id ? req->viewer.request_id : "-");
    gm_gql_rctx_error(ctx, NULL, "Internal server error");
    return GM_EIO;
}

static const char *
rid(const struct gm_api_request *req)
{
    return req && req->viewer.request_id ? req->viewer.request_id : "-";
}

/* ---- options ---- */

/* The Redis URL into b's redis_* fields (taken over; freed with b). */
static int
parse_redis_url(struct gm_api_backend *b, const char *url, struct gm_err *err)
{
    struct gm_redis_url u;
    int rc = gm_redis_url_parse(url, "--redis", &u, err);
    if (rc) {
        gm_redis_url_deinit(&u);
        return rc;
    }
    b->redis_host = u.host;
    b->redis_user = u.user;
    b->redis_password = u.password;
    b->redis_port = u.port;
    b->redis_db = u.db;
    return 0;
}

static int
open_log(struct gm_api_backend *b, const char *uri, struct gm_err *err)
{
    enum gm_logsrc_scheme scheme;
    const char *rest;
    int rc = gm_logsrc_uri_parse(uri, &scheme, &rest, err);
    if (rc)
        return rc;
    if (scheme == GM_LOGSRC_KAFKA)
        return gm_kafka_producer_new(rest, &b->kp, err);
    if (scheme != GM_LOGSRC_FILE)
        return gm_err_set(err, GM_EINVAL, "--log: '%s': redeemReward appends to file: or kafka://",
                          uri);
    struct gm_filelog_opts lo = {.fsync = GM_FSYNC_BATCH};
    return gm_filelog_open(rest, &lo, &b->flog, err);
}

static void
free_rconn(void *arg)
{
    struct gm__rconn *rc = arg;
    if (!rc)
        return;
    struct gm_api_backend *b = rc->b;
    pthread_mutex_lock(&b->rmu);
    *rc->pprev = rc->next;
    if (rc->next)
        rc->next->pprev = rc->pprev;
    pthread_mutex_unlock(&b->rmu);
    if (rc->c)
        redisFree(rc->c);
    free(rc);
}

int
gm_api_backend_open_ex(const struct gm_api_backend_opts *o, const struct gm_api_backend_opts_ex *ex,
                       struct gm_api_backend **out, struct gm_err *err)
{
    *out = NULL;
    if (!o || !o->postgres || !o->postgres[0])
        return gm_err_set(err, GM_EINVAL, "--postgres is required");
    if (!o->redis || !o->redis[0])
        return gm_err_set(err, GM_EINVAL, "--redis is required");
    if (o->redeem_wait_ms < 0 || o->redeem_wait_ms > 60000)
        return gm_err_set(err, GM_EINVAL, "redeem wait %d ms: from 0 to 60000", o->redeem_wait_ms);
    if (o->pool_size < 0 || o->pool_size > 1000)
        return gm_err_set(err, GM_EINVAL, "pool size %d: from 1 to 1000", o->pool_size);
    const char *prefix = ex && ex->redis_prefix ? ex->redis_prefix : "gamify:";
    if (strlen(prefix) > 64)
        return gm_err_set(err, GM_EINVAL, "--redis-prefix: at most 64 bytes");
    if (ex && (ex->timeout_ms < 0 || ex->timeout_ms > 600000))
        return gm_err_set(err, GM_EINVAL, "timeout %d ms: from 0 to 600000", ex->timeout_ms);
    if (ex && (ex->page_cache_ms < 0 || ex->page_cache_ms > 60000))
        return gm_err_set(err, GM_EINVAL, "page cache %d ms: from 0 to 60000", ex->page_cache_ms);
    if (ex && (ex->redis_batch < 0 || ex->redis_batch > 256))
        return gm_err_set(err, GM_EINVAL, "Redis batch %d: from 0 to 256", ex->redis_batch);
    if (ex && (ex->mirror_members < 0 || ex->mirror_members > INT64_C(1000000000)))
        return gm_err_set(err, GM_EINVAL, "mirror members %lld: from 0 to 1000000000",
                          (long long)ex->mirror_members);
    if (ex && (ex->mirror_check_ms < 0 || ex->mirror_check_ms > 3600000))
        return gm_err_set(err, GM_EINVAL, "mirror check %d ms: from 0 to 3600000",
                          ex->mirror_check_ms);

    struct gm_api_backend *b = calloc(1, sizeof *b);
    if (!b)
        abort();
    int rc = 0;
    b->pg_conninfo = strdup(o->postgres);
    snprintf(b->prefix, sizeof b->prefix, "%s", prefix);
    b->timeout_ms = ex && ex->timeout_ms ? ex->timeout_ms : 2000;
    b->redeem_wait_ms = o->redeem_wait_ms ? o->redeem_wait_ms : 2000;
    b->pool_size = o->pool_size ? (size_t)o->pool_size : 16;
    b->idle = calloc(b->pool_size, sizeof *b->idle);
    if (!b->pg_conninfo || !b->idle)
        abort();
    pthread_mutex_init(&b->pool_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->pool_cv, &ca);
    pthread_mutex_init(&b->rmu, NULL);
    pthread_mutex_init(&b->log_mu, NULL);
    pthread_mutex_init(&b->wmu, NULL);
    pthread_cond_init(&b->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&b->rules_mu, NULL);
    pthread_mutex_init(&b->optout_mu, NULL);
    pthread_mutex_init(&b->carry_mu, NULL);
    pthread_mutex_init(&b->notify_mu, NULL);
    if (pthread_key_create(&b->rkey, free_rconn) != 0)
        abort();

    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)gm__lb_script, strlen(gm__lb_script), sha);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(b->script_sha + 2 * i, 3, "%02x", sha[i]);

    gm__lbc_new(ex ? ex->page_cache_ms : 0, &b->lbc);
    gm__rbatch_new(ex ? (size_t)ex->redis_batch : 0, &b->rbatch);
    if ((rc = parse_redis_url(b, o->redis, err)))
        goto out;
    if (o->log_uri && o->log_uri[0] && (rc = open_log(b, o->log_uri, err)))
        goto out;
    if ((rc = gm__listener_start(b, err)))
        goto out;
    if (ex && (rc = gm__mirror_start(b, ex->mirror_members, ex->mirror_check_ms, &b->mirror, err)))
        goto out;
    *out = b;
out:
    if (rc)
        gm_api_backend_close(b);
    return rc;
}

int
gm_api_backend_open(const struct gm_api_backend_opts *o, struct gm_api_backend **out,
                    struct gm_err *err)
{
    return gm_api_backend_open_ex(o, NULL, out, err);
}

void
gm_api_backend_close(struct gm_api_backend *b)
{
    if (!b)
        return;
    gm__listener_stop(b);
    gm__mirror_stop(b->mirror);
    /* This thread's connection, then the other threads' (their destructors
     * no longer run once the key is deleted). */
    free_rconn(pthread_getspecific(b->rkey));
    pthread_setspecific(b->rkey, NULL);
    pthread_key_delete(b->rkey);
    while (b->rconns) {
        struct gm__rconn *rc = b->rconns;
        b->rconns = rc->next;
        if (rc->c)
            redisFree(rc->c);
        free(rc);
    }
    for (size_t i = 0; i < b->n_idle; i++)
        PQfinish(b->idle[i]);
    free(b->idle);
    gm__lbc_free(b->lbc);
    gm__rbatch_free(b->rbatch);
    pthread_mutex_destroy(&b->carry_mu);
    pthread_mutex_destroy(&b->notify_mu);
    free(b->carry_text);
    for (size_t i = 0; i < b->n_carry_old; i++)
        free(b->carry_old[i]);
    free(b->carry_old);
    gm_filelog_close(b->flog);
    if (b->kp) {
        uint64_t failed = 0;
        struct gm_err e;
        gm_err_clear(&e);
        gm_kafka_producer_flush(b->kp, 5000, &failed, &e);
        gm_kafka_producer_free(b->kp);
    }
    pthread_mutex_destroy(&b->pool_mu);
    pthread_cond_destroy(&b->pool_cv);
    pthread_mutex_destroy(&b->rmu);
    pthread_mutex_destroy(&b->log_mu);
    pthread_mutex_destroy(&b->wmu);
    pthread_cond_destroy(&b->stop_cv);
    pthread_mutex_destroy(&b->rules_mu);
    pthread_mutex_destroy(&b->optout_mu);
    for (size_t i = 0; i < b->n_optout; i++)
        free(b->optout[i]);
    free(b->optout);
    free(b->pg_conninfo);
    free(b->redis_host);
    free(b->redis_user);
    free(b->redis_password);
    free(b);
}

/* ---- Postgres ---- */

PGconn *
gm__pg_connect(struct gm_api_backend *b)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", (b->timeout_ms + 999) / 1000);
    /* A statement or a silent network may not hold a pooled connection
     * (and the request thread) for long. */
    char user_timeout[24];
    snprintf(user_timeout, sizeof user_timeout, "%d", b->timeout_ms + 10000);
    const char *keys[] = {"dbname",  "connect_timeout", "application_name",
                          "options", "keepalives_idle", "tcp_user_timeout",
                          NULL};
    const char *vals[] = {b->pg_conninfo, timeout, "gamify-api", "-c statement_timeout=10000", "5",
                          user_timeout,   NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        gm_log(GM_LOG_WARN, "postgres: connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* A new pooled connection with every statement prepared, or NULL (logged). */
static PGconn *
pool_connect(struct gm_api_backend *b)
{
    PGconn *c = gm__pg_connect(b);
    if (!c)
        return NULL;
    for (int i = 0; i < GM__Q_COUNT; i++) {
        PGresult *res = PQprepare(c, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
        ExecStatusType s = PQresultStatus(res);
        PQclear(res);
        if (s != PGRES_COMMAND_OK) {
            gm_log(GM_LOG_WARN, "postgres: prepare %s: %s", stmts[i].name, PQerrorMessage(c));
            PQfinish(c);
            return NULL;
        }
    }
    return c;
}

/* An idle connection, a new one while the pool has room, or the next one
 * released; NULL when none could be made (logged). */
static PGconn *
pool_acquire(struct gm_api_backend *b)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (b->timeout_ms + 999) / 1000 + 10;
    pthread_mutex_lock(&b->pool_mu);
    bool waited = false;
    while (b->n_idle == 0 && b->n_open >= b->pool_size) {
        if (!waited)
            atomic_fetch_add(&b->pg_pool_waits, 1);
        waited = true;
        if (pthread_cond_timedwait(&b->pool_cv, &b->pool_mu, &until) != 0 && b->n_idle == 0 &&
            b->n_open >= b->pool_size) {
            pthread_mutex_unlock(&b->pool_mu);
            gm_log(GM_LOG_ERROR, "postgres: no pooled connection came free in time");
            return NULL;
        }
    }
    if (b->n_idle > 0) {
        PGconn *c = b->idle[--b->n_idle];
        pthread_mutex_unlock(&b->pool_mu);
        return c;
    }
    b->n_open++;
    pthread_mutex_unlock(&b->pool_mu);
    PGconn *c = pool_connect(b);
    if (!c) {
        pthread_mutex_lock(&b->pool_mu);
        b->n_open--;
        pthread_cond_signal(&b->pool_cv);
        pthread_mutex_unlock(&b->pool_mu);
    }
    return c;
}

/* Returns c to the pool, or closes it when broken. */
static void
pool_release(struct gm_api_backend *b, PGconn *c, bool broken)
{
    if (broken)
        PQfinish(c);
    pthread_mutex_lock(&b->pool_mu);
    if (broken)
        b->n_open--;
    else
        b->idle[b->n_idle++] = c;
    pthread_cond_signal(&b->pool_cv);
    pthread_mutex_unlock(&b->pool_mu);
}

int
gm__pg_query(struct gm_api_request *req, enum gm__q q, const char *const *params, PGresult **res)
{
    struct gm_api_backend *b = req->backend;
    *res = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *c = pool_acquire(b);
        if (!c)
            break;
        PGresult *r = PQexecPrepared(c, stmts[q].name, stmts[q].nparams, params, NULL, NULL, 0);
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
            pool_release(b, c, false);
            *res = r;
            return 0;
        }
        bool broken = PQstatus(c) != CONNECTION_OK;
        gm_log(GM_LOG_ERROR, "postgres: %s: %s (request %s)", stmts[q].name,
               r ? PQresultErrorMessage(r) : PQerrorMessage(c), rid(req));
        PQclear(r);
        /* A statement error on a healthy connection is not retried; in a
         * failed transaction state the connection is not reusable either. */
        pool_release(b, c, broken || PQtransactionStatus(c) != PQTRANS_IDLE);
        if (!broken)
            break;
    }
    atomic_fetch_add(&b->pg_errors, 1);
    return GM_EDB;
}

int
gm__rules_tz(struct gm_api_request *req, char *tz, size_t n)
{
    struct gm_api_backend *b = req->backend;
    int64_t now = gm__now_ms();
    pthread_mutex_lock(&b->rules_mu);
    if (b->tz_read_ms && now - b->tz_read_ms < 2000) {
        snprintf(tz, n, "%s", b->tz);
        pthread_mutex_unlock(&b->rules_mu);
        return 0;
    }
    pthread_mutex_unlock(&b->rules_mu);
    PGresult *res;
    int rc = gm__pg_query(req, GM__Q_RULES, NULL, &res);
    if (rc)
        return rc;
    const char *got = PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "UTC";
    pthread_mutex_lock(&b->rules_mu);
    snprintf(b->tz, sizeof b->tz, "%s", got[0] ? got : "UTC");
    b->tz_read_ms = now;
    snprintf(tz, n, "%s", b->tz);
    pthread_mutex_unlock(&b->rules_mu);
    PQclear(res);
    return 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
gm__optout_refresh(struct gm_api_request *req)
{
    struct gm_api_backend *b = req->backend;
    int64_t now = gm__now_ms();
    pthread_mutex_lock(&b->optout_mu);
    bool fresh = b->optout_read_ms && now - b->optout_read_ms < GM__OPTOUT_TTL_MS;
    bool have = b->optout_read_ms != 0;
    /* One request reads; the others go on with the list they have (only
     * the very first reads wait, each trying itself). */
    if (fresh || (have && b->optout_refreshing)) {
        pthread_mutex_unlock(&b->optout_mu);
        return 0;
    }
    b->optout_refreshing = true;
    pthread_mutex_unlock(&b->optout_mu);

    PGresult *res;
    int rc = gm__pg_query(req, GM__Q_OPTED_OUT, NULL, &res);
    char **list = NULL;
    size_t n = 0;
    if (!rc) {
        n = (size_t)PQntuples(res);
        list = n ? calloc(n, sizeof *list) : NULL;
        if (n && !list)
            abort();
        for (size_t i = 0; i < n; i++)
            if (!(list[i] = strdup(PQgetvalue(res, (int)i, 0))))
                abort();
        PQclear(res);
        /* Sorted by byte order for bsearch, whatever the server's collation did. */
        qsort(list, n, sizeof *list, cmp_str);
    }
    pthread_mutex_lock(&b->optout_mu);
    b->optout_refreshing = false;
    char **old = NULL;
    size_t n_old = 0;
    if (!rc) {
        old = b->optout;
        n_old = b->n_optout;
        b->optout = list;
        b->n_optout = n;
        b->optout_read_ms = now;
    }
    pthread_mutex_unlock(&b->optout_mu);
    for (size_t i = 0; i < n_old; i++)
        free(old[i]);
    free(old);
    /* A failed re-read keeps the last list (logged by gm__pg_query). */
    return rc && !have ? rc : 0;
}

bool
gm__optout_has(struct gm_api_backend *b, const char *user)
{
    pthread_mutex_lock(&b->optout_mu);
    bool found = b->n_optout && bsearch(&user, b->optout, b->n_optout, sizeof *b->optout, cmp_str);
    pthread_mutex_unlock(&b->optout_mu);
    return found;
}

/* ---- Redis ---- */

int
gm__redis_open(struct gm_api_backend *b, redisContext **out, char *why, size_t why_len)
{
    struct timeval tv = {.tv_sec = b->timeout_ms / 1000, .tv_usec = (b->timeout_ms % 1000) * 1000};
    redisContext *c = gm_redis_url_connect(b->redis_host, b->redis_port, tv);
    if (!c || c->err) {
        snprintf(why, why_len, "redis: connect %s: %s",
                 GM_REDIS_WHERE(b->redis_host, b->redis_port), c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return GM_EREDIS;
    }
    redisSetTimeout(c, tv);
    redisReply *r = NULL;
    if (b->redis_password) {
        r = b->redis_user ? redisCommand(c, "AUTH %s %s", b->redis_user, b->redis_password)
                          : redisCommand(c, "AUTH %s", b->redis_password);
        if (!r || r->type == REDIS_REPLY_ERROR)
            goto fail;
        freeReplyObject(r);
    }
    if (b->redis_db) {
        r = redisCommand(c, "SELECT %d", b->redis_db);
        if (!r || r->type == REDIS_REPLY_ERROR)
            goto fail;
        freeReplyObject(r);
    }
    r = redisCommand(c, "CLIENT SETNAME %sapi", b->prefix);
    if (r)
        freeReplyObject(r);
    *out = c;
    return 0;
fail:
    snprintf(why, why_len, "redis: AUTH/SELECT: %s",
             r ? r->str : (c->errstr[0] ? c->errstr : "no reply"));
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return GM_EREDIS;
}

/* This thread's connection record (new on first use). */
static struct gm__rconn *
rconn(struct gm_api_backend *b)
{
    struct gm__rconn *rc = pthread_getspecific(b->rkey);
    if (rc)
        return rc;
    rc = calloc(1, sizeof *rc);
    if (!rc)
        abort();
    rc->b = b;
    pthread_mutex_lock(&b->rmu);
    rc->next = b->rconns;
    if (rc->next)
        rc->next->pprev = &rc->next;
    rc->pprev = &b->rconns;
    b->rconns = rc;
    pthread_mutex_unlock(&b->rmu);
    pthread_setspecific(b->rkey, rc);
    return rc;
}

/*
 * redisCommandArgv, with the command's RESP text written by gm_resp_format
 * when it is small (hiredis formats through sds strings: a tenth of a
 * leaderboard request's instructions). NULL on a connection error, as
 * redisCommandArgv.
 */
static redisReply *
command(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    char buf[4096];
    size_t n = gm_resp_format(buf, sizeof buf, argc, argv, lens);
    if (!n)
        return redisCommandArgv(c, argc, argv, lens);
    void *r = NULL;
    if (redisAppendFormattedCommand(c, buf, n) != REDIS_OK || redisGetReply(c, &r) != REDIS_OK)
        return NULL;
    return r;
}

void
gm__redis_pipeline(struct gm_api_request *req, const char *const *cmds, const size_t *lens,
                   size_t n, redisReply **replies)
{
    struct gm_api_backend *b = req->backend;
    struct gm__rconn *rc = rconn(b);
    char why[256];
    size_t got = 0;
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    for (int attempt = 0; attempt < 2 && got < n; attempt++) {
        if (!rc->c && gm__redis_open(b, &rc->c, why, sizeof why)) {
            gm_log(GM_LOG_ERROR, "%s (request %s)", why, rid(req));
            break;
        }
        for (size_t i = got; i < n; i++)
            if (redisAppendFormattedCommand(rc->c, cmds[i], lens[i]) != REDIS_OK)
                abort(); /* only out of memory */
        size_t before = got;
        while (got < n) {
            void *r = NULL;
            if (redisGetReply(rc->c, &r) != REDIS_OK)
                break;
            replies[got++] = r;
        }
        atomic_fetch_add(&b->redis_trips, 1);
        if (got == n)
            break;
        gm_log(GM_LOG_ERROR, "redis: %zu of %zu pipelined calls unanswered: %s (request %s)",
               n - got, n, rc->c->errstr, rid(req));
        /* As below: a connection found closed (nothing read) gets one more try. */
        bool eof = rc->c->err == REDIS_ERR_EOF && got == before;
        redisFree(rc->c);
        rc->c = NULL;
        if (!eof)
            break;
    }
    atomic_fetch_add(&b->redis_calls, n);
    if (got < n)
        atomic_fetch_add(&b->redis_errors, n - got);
}

int
gm__redis_command(struct gm_api_request *req, int argc, const char **argv, const size_t *lens,
                  redisReply **out)
{
    struct gm_api_backend *b = req->backend;
    if (b->rbatch) {
        /* Shared round trips (rbatch.c) for every command that fits the buffer. */
        char buf[4096];
        size_t n = gm_resp_format(buf, sizeof buf, argc, argv, lens);
        if (n)
            return gm__rbatch_call(b->rbatch, req, buf, n, out);
    }
    struct gm__rconn *rc = rconn(b);
    char why[256];
    *out = NULL;
    atomic_fetch_add(&b->redis_trips, 1);
    atomic_fetch_add(&b->redis_calls, 1);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!rc->c && gm__redis_open(b, &rc->c, why, sizeof why)) {
            gm_log(GM_LOG_ERROR, "%s (request %s)", why, rid(req));
            break;
        }
        redisReply *r = command(rc->c, argc, argv, lens);
        if (r) {
            *out = r;
            return 0;
        }
        gm_log(GM_LOG_ERROR, "redis: %s: %s (request %s)", argv[0], rc->c->errstr, rid(req));
        /* A connection that died while idle (a restarted server) gets one
         * more try on a new one; a timeout does not. */
        bool eof = rc->c->err == REDIS_ERR_EOF;
        redisFree(rc->c);
        rc->c = NULL;
        if (!eof)
            break;
    }
    atomic_fetch_add(&b->redis_errors, 1);
    return GM_EREDIS;
}

/* ---- log ---- */

int
gm__log_append(struct gm_api_request *req, const char *user, const void *rec, size_t len)
{
    struct gm_api_backend *b = req->backend;
    struct gm_err err;
    gm_err_clear(&err);
    int rc;
    pthread_mutex_lock(&b->log_mu);
    if (b->flog) {
        const void *recs[1] = {rec};
        size_t lens[1] = {len};
        rc = gm_filelog_append(b->flog, recs, lens, 1, NULL);
        if (rc)
            gm_err_set(&err, rc, "%s",
                       gm_filelog_errmsg(b->flog)[0] ? gm_filelog_errmsg(b->flog)
                                                     : gm_strerror(rc));
    } else if (b->kp) {
        uint64_t failed = 0;
        rc = gm_kafka_produce(b->kp, user, rec, len, &err);
        if (!rc)
            rc = gm_kafka_producer_flush(b->kp, b->timeout_ms, &failed, &err);
    } else {
        rc = gm_err_set(&err, GM_EINVAL, "no --log to append redeemReward to");
    }
    pthread_mutex_unlock(&b->log_mu);
    if (rc)
        gm_log(GM_LOG_ERROR, "log append: %s (request %s)", err.msg, rid(req));
    else
        atomic_fetch_add(&b->redeem_appended, 1);
    return rc;
}

/* ---- readiness and counters ---- */

int
gm_api_backend_ready(struct gm_api_backend *b, char *why, size_t why_len)
{
    struct gm_api_request req = {.backend = b, .viewer = {.request_id = "readyz"}};
    PGresult *res;
    if (gm__pg_query(&req, GM__Q_VERSION, NULL, &res)) {
        snprintf(why, why_len, "postgres: unreachable, or not migrated by this gamify");
        return GM_EDB;
    }
    int have = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (have != gm_pgproj_schema_version()) {
        snprintf(why, why_len, "postgres: the schema is at version %d, this program needs %d", have,
                 gm_pgproj_schema_version());
        return GM_EDB;
    }
    const char *argv[1] = {"PING"};
    redisReply *r;
    if (gm__redis_command(&req, 1, argv, NULL, &r)) {
        snprintf(why, why_len, "redis: unreachable");
        return GM_EREDIS;
    }
    bool ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (!ok)
        snprintf(why, why_len, "redis: PING: %s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
    freeReplyObject(r);
    if (!ok)
        return GM_EREDIS;
    if (why_len)
        why[0] = '\0';
    return 0;
}

void
gm_api_backend_lb_changed(struct gm_api_backend *b, const char *board, const char *period_key)
{
    if (!b || !b->lbc)
        return;
    if (!board || !period_key) {
        gm__lbc_drop(b->lbc, NULL);
        return;
    }
    char key[GM__LBC_KEY_MAX];
    int n = snprintf(key, sizeof key, "%slb:%s:%s", b->prefix, board, period_key);
    gm__lbc_drop(b->lbc, n > 0 && (size_t)n < sizeof key ? key : NULL);
}

void
gm_api_backend_set_notify(struct gm_api_backend *b,
                          void (*fn)(void *ctx, const char *board, const char *period_key),
                          void *ctx)
{
    pthread_mutex_lock(&b->notify_mu);
    b->notify = fn;
    b->notify_ctx = ctx;
    pthread_mutex_unlock(&b->notify_mu);
}

bool
gm_api_backend_mirror_holds(struct gm_api_backend *b, const char *board, const char *period_key)
{
    if (!b || !b->mirror || !board || !period_key)
        return false;
    char key[GM__LBC_KEY_MAX];
    int n = snprintf(key, sizeof key, "%slb:%s:%s", b->prefix, board, period_key);
    return n > 0 && (size_t)n < sizeof key && gm__mirror_holds(b->mirror, key);
}

bool
gm_api_backend_carries(const char *root_field)
{
    return strcmp(root_field, "leaderboard") == 0;
}

void
gm_api_backend_stats(struct gm_api_backend *b, struct gm_api_backend_stats *out)
{
    out->pg_pool_waits = atomic_load(&b->pg_pool_waits);
    out->pg_errors = atomic_load(&b->pg_errors);
    out->redis_errors = atomic_load(&b->redis_errors);
    out->redis_trips = atomic_load(&b->redis_trips);
    out->redis_calls = atomic_load(&b->redis_calls);
    out->redeem_appended = atomic_load(&b->redeem_appended);
    out->redeem_pending = atomic_load(&b->redeem_pending);
    out->listener_restarts = atomic_load(&b->listener_restarts);
    out->mirror_hits = out->mirror_misses = out->mirror_loads = out->mirror_resets = 0;
    out->mirror_drift_drops = out->mirror_budget_drops = out->mirror_boards = 0;
    out->mirror_members = 0;
    gm__mirror_stats(b->mirror, out);
}

int
gm_api_resolvers_bind(struct gm_gql_schema *s, struct gm_api_backend *b, struct gm_err *err)
{
    int rc;
    if ((rc = gm__bind_queries(s, b, err)) || (rc = gm__bind_leaderboard(s, b, err)) ||
        (rc = gm__bind_redeem(s, b, err)) || (rc = gm__bind_history(s, b, err)))
        return rc;
    return 0;
}
