/*
 * sse.c: /graphql/stream, GraphQL over Server-Sent Events (the GraphQL
 * over SSE protocol, distinct connections mode): one operation per HTTP
 * request, its results as `event: next` messages, then `event: complete`.
 *
 * Subscription.leaderboardChanged streams stay open. One Redis connection
 * per process SUBSCRIBEs to PREFIX "leaderboard-changed" (the projector's
 * channel, docs/operations.md) and marks the streams watching a changed
 * (board, period) dirty; one pusher thread executes the operation again for
 * each dirty stream, at most stream_rate times a second per stream, and
 * queues the page. A stream's connection is suspended in libmicrohttpd
 * while it has nothing to send (its content reader suspends and returns
 * 0), so open streams hold no HTTP thread; the pusher resumes it. A comment
 * line goes out every ping interval so that a vanished client is noticed.
 *
 * A suspended connection is not watched by libmicrohttpd, so a client that
 * closes its stream would be noticed only at the next ping: the watcher
 * thread keeps every stream's socket in an epoll set of its own
 * (EPOLLRDHUP) and ends the stream as soon as its client hangs up, which
 * frees its slot at once.
 *
 * The per-user limit of subscriptions is shared by the replicas: each open
 * subscription holds a lease in Redis, a member of the sorted set
 * PREFIX "streams:" USER scored by its expiry (Redis time). A script drops
 * the expired members, counts the others and adds the new one only under
 * the limit; the pusher renews this process's leases every third of
 * --stream-lease-seconds, and a closed stream removes its own. A replica
 * that dies stops renewing, so its leases expire. While Redis is
 * unreachable the limit is counted in this process alone (as before the
 * leases) and the streams opened meanwhile take their leases at the next
 * renewal.
 *
 * Locks: hub->mu guards the list of streams and their dirty flags; each
 * stream's mu guards its buffer and its suspended flag (taken under hub->mu
 * by the pusher, alone by the content reader).
 */
#include "server_int.h"

#include "log.h"
#include "redis_url.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define STREAM_BUF_MAX (1u << 20) /* a client this far behind is disconnected */
#define MAX_ROOT       8

struct stream {
    struct gm__api_sse *hub;
    struct stream *prev, *next;
    struct MHD_Connection *c;
    char user[GM_API_USER_MAX + 1];
    enum gm_api_role role;
    char req_id[65];
    struct gm_gql_prepared *p; /* held; released when freed */
    char *opname;              /* NULL: the only operation */
    json_t *variables;         /* owned; NULL: none */
    bool subscription;         /* else one result, then complete */
    struct gm_api_watch watch; /* set by the first execution */
    bool dirty;                /* hub->mu */
    double last_push, next_ping;
    pthread_mutex_t mu;
    char *buf; /* mu: bytes queued, off of them sent */
    size_t len, off, cap;
    bool suspended; /* mu */
    bool done;      /* mu: complete queued; end after the buffer */
    bool failed;    /* mu: end the connection with an error */
    uint64_t id;    /* the watcher's name for the stream (never reused) */
    int fd;         /* the client's socket in hub->epfd; -1: not watched */
    bool leased;    /* hub->mu: holds a lease in Redis (a subscription) */
};

struct gm__api_sse {
    struct gm_api_server *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct stream *head;
    size_t n;
    bool stop;
    pthread_t listener, pusher;
    bool listener_started, pusher_started;
    struct gm_redis_url redis; /* where leaderboard-changed messages are published */
    char channel[256];
    double interval; /* seconds between two pages of a stream */
    double ping_s;
    uint64_t next_id; /* mu */
    int epfd;         /* the watcher's epoll set of stream sockets */
    pthread_t watcher;
    bool watcher_started;
    char replica[33];       /* this process in lease member names */
    char lease_prefix[256]; /* PREFIX "streams:" */
    long lease_ms;
    double next_renew;   /* mu */
    pthread_mutex_t rmu; /* guards rc and r_retry_at */
    redisContext *rc;    /* the leases' connection; NULL: none yet */
    double r_retry_at;   /* no connection attempt before */
};

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * KEYS[1]: a user's lease set; ARGV: the new member, the limit, the lease
 * in ms. Drops the expired members; adds the new one under the limit.
 * Returns -1 when added, else how many are open.
 */
static const char lease_take_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "local n = redis.call('ZCARD', KEYS[1])\n"
    "if n >= tonumber(ARGV[2]) then return n end\n"
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])\n"
    "if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
    "end\n"
    "return -1\n";

/* KEYS[1], ARGV[1], ARGV[2]: as above; (re)sets the member's expiry. */
static const char lease_renew_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])\n"
    "if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "end\n"
    "return 1\n";

/* The leases' Redis connection, made if need be (h->rmu held); NULL while Redis is down. */
static redisContext *
lease_conn(struct gm__api_sse *h)
{
    if (h->rc)
        return h->rc;
    double now = mono_s();
    if (now < h->r_retry_at)
        return NULL;
    struct timeval tv = {0, 500 * 1000};
    redisReply *rep = NULL;
    redisContext *c = gm_redis_url_connect(h->redis.host, h->redis.port, tv);
    if (!c || c->err)
        goto fail;
    redisSetTimeout(c, tv);
    if (h->redis.password) {
        rep = h->redis.user ? redisCommand(c, "AUTH %s %s", h->redis.user, h->redis.password)
                            : redisCommand(c, "AUTH %s", h->redis.password);
        if (!rep || rep->type == REDIS_REPLY_ERROR)
            goto fail;
        freeReplyObject(rep);
        rep = NULL;
    }
    if (h->redis.db) {
        rep = redisCommand(c, "SELECT %d", h->redis.db);
        if (!rep || rep->type == REDIS_REPLY_ERROR)
            goto fail;
        freeReplyObject(rep);
    }
    h->rc = c;
    return c;
fail:
    if (rep)
        freeReplyObject(rep);
    if (c)
        redisFree(c);
    h->r_retry_at = now + 1.0;
    return NULL;
}

/* Forgets a broken leases' connection (h->rmu held). */
static void
lease_broken(struct gm__api_sse *h)
{
    gm_log(GM_LOG_WARN, "streams: Redis lost (%s): the per-user limit is local until it is back",
           h->rc && h->rc->errstr[0] ? h->rc->errstr : "error reply");
    redisFree(h->rc);
    h->rc = NULL;
    h->r_retry_at = mono_s() + 1.0;
}

static void
lease_names(struct gm__api_sse *h, const char *user, uint64_t id, char *key, size_t klen,
            char *member, size_t mlen)
{
    snprintf(key, klen, "%s%s", h->lease_prefix, user);
    snprintf(member, mlen, "%s:%llu", h->replica, (unsigned long long)id);
}

/*
 * Takes a lease for a new subscription of user (id names it). Returns 1
 * when taken, 0 when user holds max already (*open: how many), -1 when
 * Redis cannot be asked.
 */
static int
lease_take(struct gm__api_sse *h, const char *user, uint64_t id, int max, long long *open)
{
    char key[512], member[64], maxs[16], ms[24];
    lease_names(h, user, id, key, sizeof key, member, sizeof member);
    snprintf(maxs, sizeof maxs, "%d", max);
    snprintf(ms, sizeof ms, "%ld", h->lease_ms);
    int ret = -1;
    pthread_mutex_lock(&h->rmu);
    redisContext *c = lease_conn(h);
    if (c) {
        redisReply *rep =
            redisCommand(c, "EVAL %s 1 %s %s %s %s", lease_take_lua, key, member, maxs, ms);
        if (rep && rep->type == REDIS_REPLY_INTEGER) {
            ret = rep->integer < 0 ? 1 : 0;
            *open = rep->integer;
        } else {
            lease_broken(h);
        }
        if (rep)
            freeReplyObject(rep);
    }
    pthread_mutex_unlock(&h->rmu);
    return ret;
}

/* Gives back the lease of a closed subscription (best effort: else it expires). */
static void
lease_release(struct gm__api_sse *h, const char *user, uint64_t id)
{
    char key[512], member[64];
    lease_names(h, user, id, key, sizeof key, member, sizeof member);
    pthread_mutex_lock(&h->rmu);
    redisContext *c = lease_conn(h);
    if (c) {
        redisReply *rep = redisCommand(c, "ZREM %s %s", key, member);
        if (!rep || rep->type == REDIS_REPLY_ERROR)
            lease_broken(h);
        if (rep)
            freeReplyObject(rep);
    }
    pthread_mutex_unlock(&h->rmu);
}

/* Appends to st's buffer (st->mu held); false when the client is too far behind. */
static bool
queue(struct stream *st, const char *a, size_t alen, const char *b, size_t blen)
{
    if (st->len - st->off + alen + blen > STREAM_BUF_MAX)
        return false;
    if (st->off && st->off == st->len)
        st->off = st->len = 0;
    if (st->len + alen + blen > st->cap) {
        size_t cap = st->cap ? st->cap : 4096;
        while (cap < st->len + alen + blen)
            cap *= 2;
        st->buf = realloc(st->buf, cap);
        if (!st->buf)
            abort();
        st->cap = cap;
    }
    memcpy(st->buf + st->len, a, alen);
    memcpy(st->buf + st->len + alen, b, blen);
    st->len += alen + blen;
    return true;
}

/* Wakes st's connection if its reader suspended it (st->mu held). */
static void
wake(struct stream *st)
{
    if (st->suspended) {
        st->suspended = false;
        MHD_resume_connection(st->c);
    }
}

static ssize_t
reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream *st = cls;
    ssize_t n;
    pthread_mutex_lock(&st->mu);
    if (st->failed) {
        n = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (st->off < st->len) {
        size_t k = st->len - st->off < max ? st->len - st->off : max;
        memcpy(buf, st->buf + st->off, k);
        st->off += k;
        n = (ssize_t)k;
    } else if (st->done) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        /* Nothing to send: park the connection until the pusher has a page. */
        st->suspended = true;
        MHD_suspend_connection(st->c);
        n = 0;
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

static void
stream_free(void *cls)
{
    struct stream *st = cls;
    struct gm__api_sse *h = st->hub;
    pthread_mutex_lock(&h->mu);
    if (st->prev)
        st->prev->next = st->next;
    else
        h->head = st->next;
    if (st->next)
        st->next->prev = st->prev;
    h->n--;
    /* libmicrohttpd closes the socket after this callback: forget it first. */
    if (st->fd >= 0)
        epoll_ctl(h->epfd, EPOLL_CTL_DEL, st->fd, NULL);
    bool leased = st->leased;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    /* Unlinked: no renewal can bring the lease back. */
    if (leased)
        lease_release(h, st->user, st->id);
    gm_gql_prepared_release(h->s->d.engine, st->p);
    json_decref(st->variables);
    free(st->opname);
    free(st->buf);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* Executes st's operation and queues the result (hub->mu held). */
static void
push(struct gm__api_sse *h, struct stream *st, struct gm_arena *a, double now)
{
    struct gm_api_request areq = {
        .backend = h->s->d.backend,
        .viewer = {.user_id = st->user, .role = st->role, .request_id = st->req_id},
        .watch = &st->watch,
    };
    struct gm_gql_exec_params params = {
        .operation_name = st->opname, .variables = st->variables, .context = &areq};
    struct gm_gql_response resp;
    char ctx[96];
    snprintf(ctx, sizeof ctx, "\"request_id\":\"%s\"", st->req_id);
    gm_log_set_context(ctx);
    gm_gql_execute(h->s->d.engine, st->p, &params, a, &resp);
    gm_log_set_context(NULL);
    st->dirty = false;
    st->last_push = now;
    st->next_ping = now + h->ping_s;
    pthread_mutex_lock(&st->mu);
    static const char next[] = "event: next\ndata: ";
    static const char complete[] = "event: complete\ndata:\n\n";
    if (!st->done) {
        if (!queue(st, next, sizeof next - 1, resp.json, resp.len) ||
            !queue(st, "\n\n", 2, "", 0)) {
            gm_log(GM_LOG_INFO, "stream of %s: client too far behind; closed", st->user);
            st->failed = true;
        } else if (!st->subscription || !resp.has_data) {
            /* One result for a query; a request error (bad variables) ends a subscription. */
            st->done = true;
            if (!queue(st, complete, sizeof complete - 1, "", 0))
                st->failed = true;
        }
        wake(st);
    }
    pthread_mutex_unlock(&st->mu);
    gm_arena_reset(a);
}

/*
 * Renews the leases of this process's open subscriptions, in one pipeline
 * (h->mu held, so no stream is freed meanwhile); a stream opened while
 * Redis was down takes its lease here.
 */
static void
lease_renew(struct gm__api_sse *h)
{
    char ms[24];
    snprintf(ms, sizeof ms, "%ld", h->lease_ms);
    pthread_mutex_lock(&h->rmu);
    redisContext *c = lease_conn(h);
    size_t sent = 0;
    for (struct stream *st = h->head; c && st; st = st->next) {
        if (!st->subscription || st->done)
            continue;
        char key[512], member[64];
        lease_names(h, st->user, st->id, key, sizeof key, member, sizeof member);
        redisAppendCommand(c, "EVAL %s 1 %s %s %s", lease_renew_lua, key, member, ms);
        sent++;
    }
    bool ok = true;
    for (size_t i = 0; i < sent && ok; i++) {
        void *r = NULL;
        ok =
            redisGetReply(c, &r) == REDIS_OK && r && ((redisReply *)r)->type == REDIS_REPLY_INTEGER;
        if (r)
            freeReplyObject(r);
    }
    if (c && !ok)
        lease_broken(h);
    for (struct stream *st = h->head; sent && ok && st; st = st->next)
        if (st->subscription && !st->done)
            st->leased = true;
    pthread_mutex_unlock(&h->rmu);
}

/*
 * The watcher: ends a stream as soon as its client hangs up (EPOLLRDHUP on
 * its socket), instead of at the next ping, so its slot is free at once.
 */
static void *
watcher_main(void *arg)
{
    struct gm__api_sse *h = arg;
    struct epoll_event ev[32];
    for (;;) {
        pthread_mutex_lock(&h->mu);
        bool stop = h->stop;
        pthread_mutex_unlock(&h->mu);
        if (stop)
            break;
        int n = epoll_wait(h->epfd, ev, 32, 250);
        if (n <= 0)
            continue;
        pthread_mutex_lock(&h->mu);
        for (int i = 0; i < n; i++) {
            /* By id: a stream freed since the event is simply not found. */
            for (struct stream *st = h->head; st; st = st->next) {
                if (st->id != ev[i].data.u64)
                    continue;
                if (st->fd >= 0)
                    epoll_ctl(h->epfd, EPOLL_CTL_DEL, st->fd, NULL);
                st->fd = -1;
                pthread_mutex_lock(&st->mu);
                st->failed = true;
                wake(st);
                pthread_mutex_unlock(&st->mu);
                gm_log(GM_LOG_DEBUG, "stream of %s: the client hung up", st->user);
                break;
            }
        }
        pthread_mutex_unlock(&h->mu);
    }
    return NULL;
}

static void *
pusher_main(void *arg)
{
    struct gm__api_sse *h = arg;
    struct gm_arena a;
    gm_arena_init(&a, 8u << 20);
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        double now = mono_s();
        double wake_at = now + 1.0;
        for (struct stream *st = h->head; st; st = st->next) {
            if (st->dirty) {
                double due = st->last_push + h->interval;
                if (now >= due)
                    push(h, st, &a, now);
                else if (due < wake_at)
                    wake_at = due;
            }
            if (now >= st->next_ping) {
                st->next_ping = now + h->ping_s;
                pthread_mutex_lock(&st->mu);
                if (!st->done && !queue(st, ":\n\n", 3, "", 0))
                    st->failed = true;
                wake(st);
                pthread_mutex_unlock(&st->mu);
            }
            if (st->next_ping < wake_at)
                wake_at = st->next_ping;
        }
        if (now >= h->next_renew) {
            h->next_renew = now + (double)h->lease_ms / 3000.0;
            lease_renew(h);
        }
        if (h->next_renew < wake_at)
            wake_at = h->next_renew;
        if (h->stop)
            break;
        double d = wake_at - mono_s();
        if (d > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts); /* the condvar's clock */
            double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + d;
            ts.tv_sec = (time_t)t;
            ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&h->cv, &h->mu, &ts);
        }
    }
    pthread_mutex_unlock(&h->mu);
    gm_arena_deinit(&a);
    return NULL;
}

/* The period enum name a projector period key belongs to. */
static const char *
period_kind(const char *key)
{
    if (strcmp(key, "all") == 0)
        return "ALL_TIME";
    return strchr(key, 'W') ? "WEEKLY" : "MONTHLY";
}

/* Marks the streams a leaderboard-changed message concerns dirty; a pair
 * whose board the board mirror holds is left to the mirror's call
 * (from_mirror, mirror_changed), which comes once the mirror applied it. */
static void
on_message(struct gm__api_sse *h, const char *msg, size_t len, bool from_mirror)
{
    json_t *m = json_loadb(msg, len, 0, NULL);
    json_t *changed = json_object_get(m, "changed");
    bool all = !m || json_is_true(json_object_get(m, "rebuilt")) ||
               json_is_true(json_object_get(m, "truncated")) || !json_is_array(changed);
    /* The resolvers' cached pages of these boards are stale now (pruned periods: all). */
    json_t *pruned = json_object_get(m, "pruned");
    if (all || (json_is_array(pruned) && json_array_size(pruned) > 0)) {
        gm_api_backend_lb_changed(h->s->d.backend, NULL, NULL);
    } else {
        size_t i;
        json_t *e;
        json_array_foreach(changed, i, e)
        {
            const char *b = json_string_value(json_object_get(e, "board"));
            const char *p = json_string_value(json_object_get(e, "period"));
            gm_api_backend_lb_changed(h->s->d.backend, b, p);
        }
    }
    /* Once per pair, before the streams' lock: whether the mirror's call covers it. */
    size_t n_pairs = all ? 0 : json_array_size(changed);
    bool *mirrored = calloc(n_pairs ? n_pairs : 1, sizeof *mirrored);
    if (!mirrored)
        abort();
    for (size_t i = 0; !from_mirror && i < n_pairs; i++) {
        json_t *e = json_array_get(changed, i);
        mirrored[i] = gm_api_backend_mirror_holds(h->s->d.backend,
                                                  json_string_value(json_object_get(e, "board")),
                                                  json_string_value(json_object_get(e, "period")));
    }
    size_t marked = 0;
    pthread_mutex_lock(&h->mu);
    for (struct stream *st = h->head; st; st = st->next) {
        bool hit = all || !st->watch.set;
        for (size_t i = 0; !hit && i < n_pairs; i++) {
            json_t *e = json_array_get(changed, i);
            const char *b = json_string_value(json_object_get(e, "board"));
            const char *p = json_string_value(json_object_get(e, "period"));
            hit = !mirrored[i] && b && p && strcmp(b, st->watch.board) == 0 &&
                  strcmp(period_kind(p), st->watch.period) == 0;
        }
        if (hit && st->subscription) {
            st->dirty = true;
            marked++;
        }
    }
    if (marked)
        pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    free(mirrored);
    json_decref(m);
}

/* Marks every stream dirty (after a reconnection: messages may have been missed). */
static void
mark_all(struct gm__api_sse *h)
{
    on_message(h, "{\"rebuilt\":true}", 16, false);
}

/* The board mirror applied changes of board's period (NULL: dropped boards). */
static void
mirror_changed(void *ctx, const char *board, const char *period_key)
{
    struct gm__api_sse *h = ctx;
    if (!board) {
        mark_all(h);
        return;
    }
    json_t *m = json_pack("{s:[{s:s,s:s}]}", "changed", "board", board, "period", period_key);
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    if (text)
        on_message(h, text, strlen(text), true);
    free(text);
    json_decref(m);
}

static void *
listener_main(void *arg)
{
    struct gm__api_sse *h = arg;
    bool was_up = true;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        bool stop = h->stop;
        pthread_mutex_unlock(&h->mu);
        if (stop)
            break;
        struct timeval tv = {2, 0};
        redisContext *c = gm_redis_url_connect(h->redis.host, h->redis.port, tv);
        redisReply *rep = NULL;
        if (!c || c->err)
            goto retry;
        if (h->redis.password) {
            rep = h->redis.user ? redisCommand(c, "AUTH %s %s", h->redis.user, h->redis.password)
                                : redisCommand(c, "AUTH %s", h->redis.password);
            if (!rep || rep->type == REDIS_REPLY_ERROR)
                goto retry;
            freeReplyObject(rep);
        }
        rep = redisCommand(c, "SUBSCRIBE %s", h->channel);
        if (!rep || rep->type == REDIS_REPLY_ERROR)
            goto retry;
        freeReplyObject(rep);
        rep = NULL;
        gm_log(GM_LOG_INFO, "streams: subscribed to %s", h->channel);
        if (!was_up)
            mark_all(h);
        was_up = true;
        /* A read timeout lets the loop see h->stop. */
        struct timeval rt = {0, 250 * 1000};
        redisSetTimeout(c, rt);
        for (;;) {
            pthread_mutex_lock(&h->mu);
            stop = h->stop;
            pthread_mutex_unlock(&h->mu);
            if (stop)
                break;
            void *r = NULL;
            if (redisGetReply(c, &r) != REDIS_OK) {
                if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                    c->err = 0;
                    c->errstr[0] = 0;
                    continue;
                }
                break;
            }
            rep = r;
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
                rep->element[2]->type == REDIS_REPLY_STRING)
                on_message(h, rep->element[2]->str, rep->element[2]->len, false);
            freeReplyObject(rep);
            rep = NULL;
        }
    retry:
        if (!stop && was_up)
            gm_log(GM_LOG_WARN, "streams: Redis subscription to %s lost (%s); retrying", h->channel,
                   c && c->err ? c->errstr : "refused");
        if (!stop)
            was_up = false;
        if (rep)
            freeReplyObject(rep);
        if (c)
            redisFree(c);
        for (int i = 0; i < 10 && !stop; i++) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&h->mu);
            stop = h->stop;
            pthread_mutex_unlock(&h->mu);
        }
    }
    return NULL;
}

/* The Redis URL into h (the database does not matter to SUBSCRIBE). */
static int
parse_url(struct gm__api_sse *h, const char *url, struct gm_err *err)
{
    return gm_redis_url_parse(url, "--redis", &h->redis, err);
}

int
gm__api_sse_start(struct gm_api_server *s, struct gm_err *err)
{
    if (!s->o.redis_url)
        return 0;
    struct gm__api_sse *h = calloc(1, sizeof *h);
    if (!h)
        abort();
    h->s = s;
    int rc = parse_url(h, s->o.redis_url, err);
    if (rc) {
        gm_redis_url_deinit(&h->redis);
        free(h);
        return rc;
    }
    snprintf(h->channel, sizeof h->channel, "%sleaderboard-changed",
             s->o.redis_prefix ? s->o.redis_prefix : "gamify:");
    h->interval = 1.0 / (s->o.stream_rate > 0 ? s->o.stream_rate : 4);
    h->ping_s = s->o.timeout_s > 2 ? (s->o.timeout_s / 2 < 15 ? s->o.timeout_s / 2 : 15) : 1;
    snprintf(h->lease_prefix, sizeof h->lease_prefix,
             "%sstreams:", s->o.redis_prefix ? s->o.redis_prefix : "gamify:");
    h->lease_ms = (long)(s->o.stream_lease_s > 0 ? s->o.stream_lease_s : 30) * 1000;
    h->next_renew = mono_s() + (double)h->lease_ms / 3000.0;
    unsigned char rnd[16];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        abort();
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(h->replica + 2 * i, 3, "%02x", rnd[i]);
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->rmu, NULL);
    /* the pusher's timed waits run on the monotonic clock, as its
     * deadlines do: a wall clock set back must not delay renewals */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->sse = h;
    if (h->epfd < 0) {
        gm__api_sse_stop(s, true);
        return gm_err_set(err, GM_EIO, "streams: epoll_create1: %s", strerror(errno));
    }
    if (pthread_create(&h->listener, NULL, listener_main, h) != 0 ||
        !(h->listener_started = true) || pthread_create(&h->pusher, NULL, pusher_main, h) != 0 ||
        !(h->pusher_started = true) || pthread_create(&h->watcher, NULL, watcher_main, h) != 0) {
        gm__api_sse_stop(s, true);
        return gm_err_set(err, GM_EIO, "streams: cannot start a thread");
    }
    h->watcher_started = true;
    gm_api_backend_set_notify(s->d.backend, mirror_changed, h);
    return 0;
}

size_t
gm__api_sse_open(struct gm_api_server *s)
{
    struct gm__api_sse *h = s->sse;
    if (!h)
        return 0;
    pthread_mutex_lock(&h->mu);
    size_t n = h->n;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void
gm__api_sse_close_all(struct gm_api_server *s)
{
    struct gm__api_sse *h = s->sse;
    if (!h)
        return;
    static const char complete[] = "event: complete\ndata:\n\n";
    pthread_mutex_lock(&h->mu);
    for (struct stream *st = h->head; st; st = st->next) {
        pthread_mutex_lock(&st->mu);
        if (!st->done) {
            st->done = true;
            if (!queue(st, complete, sizeof complete - 1, "", 0))
                st->failed = true;
        }
        wake(st);
        pthread_mutex_unlock(&st->mu);
    }
    pthread_mutex_unlock(&h->mu);
}

void
gm__api_sse_stop(struct gm_api_server *s, bool free_hub)
{
    struct gm__api_sse *h = s->sse;
    if (!h)
        return;
    if (!free_hub) {
        gm_api_backend_set_notify(s->d.backend, NULL, NULL);
        pthread_mutex_lock(&h->mu);
        h->stop = true;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        if (h->pusher_started)
            pthread_join(h->pusher, NULL);
        if (h->listener_started)
            pthread_join(h->listener, NULL);
        if (h->watcher_started)
            pthread_join(h->watcher, NULL);
        h->pusher_started = h->listener_started = h->watcher_started = false;
        gm__api_sse_close_all(s);
        /* Let the connections send complete and end (their free callbacks unlink them). */
        double until = mono_s() + 1.0;
        pthread_mutex_lock(&h->mu);
        while (h->n && mono_s() < until) {
            pthread_mutex_unlock(&h->mu);
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&h->mu);
        }
        pthread_mutex_unlock(&h->mu);
        return;
    }
    if (h->pusher_started || h->listener_started || h->watcher_started)
        gm__api_sse_stop(s, false);
    if (h->rc)
        redisFree(h->rc);
    if (h->epfd >= 0)
        close(h->epfd);
    pthread_mutex_destroy(&h->rmu);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    gm_redis_url_deinit(&h->redis);
    free(h);
    s->sse = NULL;
}

/* The 32 bytes of a 64-digit hexadecimal SHA-256; false when hex is not one. */
static bool
sha_of_hex(const char *hex, unsigned char sha[32])
{
    if (strlen(hex) != 64)
        return false;
    for (size_t i = 0; i < 32; i++) {
        unsigned v = 0;
        for (size_t k = 0; k < 2; k++) {
            char ch = hex[2 * i + k];
            unsigned d = ch >= '0' && ch <= '9'   ? (unsigned)(ch - '0')
                         : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                         : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10)
                                                  : 16u;
            if (d > 15)
                return false;
            v = v * 16 + d;
        }
        sha[i] = (unsigned char)v;
    }
    return true;
}

/* A request refused before its stream opens: JSON, as GraphQL over HTTP. */
static enum MHD_Result
refuse(struct MHD_Connection *c, struct gm__api_req *r, unsigned status, const char *code,
       const char *msg)
{
    json_t *body =
        json_pack("{s:[{s:s,s:{s:s}}]}", "errors", "message", msg, "extensions", "code", code);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        abort();
    enum MHD_Result ret =
        gm__api_respond(c, r, status, "application/json; charset=utf-8", text, strlen(text));
    free(text);
    return ret;
}

/* Whether an Accept header takes text/event-stream. */
static bool
accepts_sse(const char *accept)
{
    if (!accept)
        return true;
    return strcasestr(accept, "text/event-stream") || strstr(accept, "*/*") ||
           strcasestr(accept, "text/*");
}

/* The request's parameters as a JSON object (new), or NULL with *why. */
static json_t *
params_of(struct MHD_Connection *c, struct gm__api_req *r, bool is_get, const char **why)
{
    if (!is_get) {
        json_t *p = r->len ? json_loadb(r->body, r->len, 0, NULL) : NULL;
        if (!json_is_object(p)) {
            json_decref(p);
            *why = "the body must be a JSON object";
            return NULL;
        }
        return p;
    }
    json_t *p = json_object();
    const char *names[] = {"query", "operationName", "variables", "extensions"};
    for (size_t i = 0; i < 4; i++) {
        const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, names[i]);
        if (!v)
            continue;
        json_t *j = i < 2 ? json_string(v) : json_loads(v, JSON_DECODE_ANY, NULL);
        if (!j) {
            json_decref(p);
            *why = i == 2 ? "variables is not JSON" : "extensions is not JSON";
            return NULL;
        }
        json_object_set_new(p, names[i], j);
    }
    return p;
}

/* Opens the event stream of st: 200 text/event-stream whose body the reader feeds. */
static enum MHD_Result
open_stream(struct gm_api_server *s, struct MHD_Connection *c, struct gm__api_req *r,
            struct stream *st)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, st, stream_free);
    if (!resp)
        abort();
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    for (size_t i = 0; i < r->n_hdr; i++)
        MHD_add_response_header(resp, r->hdr[i][0], r->hdr[i][1]);
    r->status = 200;
    r->stream = true;
    enum MHD_Result ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    (void)s;
    return ret;
}

enum MHD_Result
gm__api_sse_request(struct gm_api_server *s, struct MHD_Connection *c, struct gm__api_req *r,
                    const char *method)
{
    struct gm__api_sse *h = s->sse;
    bool is_get = strcmp(method, "GET") == 0;
    if (!is_get && strcmp(method, "POST") != 0) {
        gm__api_header(r, MHD_HTTP_HEADER_ALLOW, "GET, POST");
        return refuse(c, r, 405, "METHOD_NOT_ALLOWED", "use GET or POST");
    }
    if (!h)
        return refuse(c, r, 404, "NOT_FOUND", "streams are off on this server (no --redis)");
    if (atomic_load(&s->draining))
        return refuse(c, r, 503, "UNAVAILABLE", "the server is shutting down");
    if (!accepts_sse(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT)))
        return refuse(c, r, 406, "NOT_ACCEPTABLE", "/graphql/stream answers text/event-stream");
    const char *authz =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    char user[GM_API_USER_MAX + 1];
    enum gm_api_role role;
    char why[128] = "authentication required: send Authorization: Bearer TOKEN";
    bool bearer = authz && strncasecmp(authz, "Bearer ", 7) == 0;
    if (!bearer || gm_api_auth_verify(s->d.auth, authz + 7 + strspn(authz + 7, " "), time(NULL),
                                      user, &role, why, sizeof why) != 0) {
        atomic_fetch_add(&s->m.auth_failures, 1);
        /* as /graphql (RFC 6750): a token that was refused is invalid_token, with the reason */
        if (bearer)
            gm__api_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                           "Bearer realm=\"gamify\", error=\"invalid_token\", "
                           "error_description=\"%s\"",
                           why);
        else
            gm__api_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"gamify\"");
        gm_log(GM_LOG_INFO, "stream refused: %s", why);
        return refuse(c, r, 401, "UNAUTHENTICATED", why);
    }

    const char *bad = NULL;
    json_t *params = params_of(c, r, is_get, &bad);
    if (!params)
        return refuse(c, r, 400, "BAD_REQUEST", bad);
    enum MHD_Result ret;
    struct gm_arena a;
    gm_arena_init(&a, 1u << 20);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    struct gm_gql_prepared *p = NULL;
    struct stream *st = NULL;
    const char *query = json_string_value(json_object_get(params, "query"));
    const char *opname = json_string_value(json_object_get(params, "operationName"));
    json_t *vars = json_object_get(params, "variables");
    if (vars && !json_is_object(vars) && !json_is_null(vars)) {
        ret = refuse(c, r, 400, "BAD_REQUEST", "variables must be an object");
        goto out;
    }

    st = calloc(1, sizeof *st);
    if (!st)
        abort();
    st->hub = h;
    st->c = c;
    st->fd = -1;
    snprintf(st->user, sizeof st->user, "%s", user);
    st->role = role;
    snprintf(st->req_id, sizeof st->req_id, "%s", r->id);
    pthread_mutex_init(&st->mu, NULL);

    /* The document: persisted (APQ), allow-listed or sent, as on /graphql. */
    json_t *pq = json_object_get(json_object_get(params, "extensions"), "persistedQuery");
    const char *hash = NULL;
    if (pq) {
        hash = json_string_value(json_object_get(pq, "sha256Hash"));
        json_t *ver = json_object_get(pq, "version");
        if (!json_is_object(pq) || !hash || (ver && json_integer_value(ver) != 1)) {
            ret = refuse(c, r, 400, "BAD_REQUEST",
                         "extensions.persistedQuery needs version 1 and a sha256Hash");
            goto out;
        }
        if (s->o.pq == GM_API_PQ_OFF) {
            ret = refuse(c, r, 400, "PERSISTED_QUERY_NOT_SUPPORTED",
                         "persisted queries are not supported by this server");
            goto out;
        }
    }
    int rc;
    if (s->o.pq == GM_API_PQ_ALLOWLIST) {
        unsigned char sha[32];
        if (hash && !sha_of_hex(hash, sha)) {
            ret = refuse(c, r, 400, "BAD_REQUEST", "sha256Hash is not 64 hexadecimal digits");
            goto out;
        }
        if (!hash && !query) {
            ret = refuse(c, r, 400, "BAD_REQUEST", "missing query");
            goto out;
        }
        unsigned len = 0;
        if (!hash && !EVP_Digest(query, strlen(query), sha, &len, EVP_sha256(), NULL))
            abort();
        const struct gm__api_allow *al = NULL;
        for (size_t i = 0; i < s->n_allow && !al; i++)
            if (memcmp(s->allow[i].sha, sha, 32) == 0)
                al = &s->allow[i];
        if (!al) {
            ret = refuse(c, r, 400,
                         hash && !query ? GM_GQL_CODE_PERSISTED_NOT_FOUND
                                        : "PERSISTED_QUERY_NOT_ALLOWED",
                         "this server runs only the documents of its allow-list");
            goto out;
        }
        rc = gm_gql_prepare(s->d.engine, al->text, strlen(al->text), &a, &errs, &p);
    } else if (hash) {
        rc = gm_gql_prepare_persisted(s->d.engine, hash, strlen(hash), query,
                                      query ? strlen(query) : 0, &a, &errs, &p);
        if (rc == GM_ENOTFOUND) {
            /* The client sends the document with its hash next (APQ). */
            ret = refuse(c, r, 400, GM_GQL_CODE_PERSISTED_NOT_FOUND, "PersistedQueryNotFound");
            goto out;
        }
    } else if (!query) {
        ret = refuse(c, r, 400, "BAD_REQUEST", "missing query");
        goto out;
    } else {
        rc = gm_gql_prepare(s->d.engine, query, strlen(query), &a, &errs, &p);
    }
    if (rc == 0) {
        const char *names[MAX_ROOT];
        size_t n = 0;
        int op_type = gm_gql_prepared_op_type(p, opname);
        if (gm_gql_prepared_root_fields(p, opname, names, MAX_ROOT, &n) == 0 && n) {
            r->op = gm__api_op_index(s, names[0]);
            if (is_get && op_type == GM_GQL_OP_MUTATION) {
                gm__api_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
                ret = refuse(c, r, 405, "METHOD_NOT_ALLOWED",
                             "mutations are not allowed over GET; use POST");
                goto out;
            }
            struct gm_api_rl_result rl;
            gm_api_limiter_check(s->d.limiter, user, names, n, &rl);
            if (!rl.allowed) {
                atomic_fetch_add(&s->m.rate_limited[gm__api_op_index(s, rl.op)], 1);
                gm__api_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "%ld", rl.retry_after_s);
                gm_log(GM_LOG_INFO, "rate limited: %s for %s (%ld per minute)", user, rl.op,
                       rl.limit);
                ret = refuse(c, r, 429, "RATE_LIMITED", "rate limit exceeded: try again later");
                goto out;
            }
        }
        st->subscription = op_type == GM_GQL_OP_SUBSCRIPTION;
        st->p = p;
        p = NULL;
        st->opname = opname ? strdup(opname) : NULL;
        st->variables = json_is_object(vars) ? json_deep_copy(vars) : NULL;
        st->dirty = true; /* the first result goes out at once */
    } else {
        /* The protocol: errors before execution go through the stream, then complete. */
        struct gm_gql_response resp;
        gm_gql_errors_response(&errs, &a, &resp);
        static const char next[] = "event: next\ndata: ";
        static const char complete[] = "\n\nevent: complete\ndata:\n\n";
        queue(st, next, sizeof next - 1, resp.json, resp.len);
        queue(st, complete, sizeof complete - 1, "", 0);
        st->done = true;
    }

    /*
     * The per-user limit: a lease in Redis, shared by the replicas; while
     * Redis cannot be asked, the streams of this process, counted and linked
     * under the lock so that two opening at once see each other.
     */
    int max = s->o.streams_per_user > 0 ? s->o.streams_per_user : 5;
    pthread_mutex_lock(&h->mu);
    st->id = ++h->next_id;
    pthread_mutex_unlock(&h->mu);
    int leased = -1;
    long long mine = 0;
    if (st->subscription)
        leased = lease_take(h, user, st->id, max, &mine);
    pthread_mutex_lock(&h->mu);
    if (st->subscription && leased < 0) {
        mine = 0;
        for (struct stream *o = h->head; o; o = o->next)
            mine += strcmp(o->user, user) == 0 && o->subscription && !o->done;
    }
    if (st->subscription && (leased == 0 || (leased < 0 && mine >= max))) {
        pthread_mutex_unlock(&h->mu);
        gm_log(GM_LOG_INFO, "stream refused: %s has %lld streams open%s", user, mine,
               leased < 0 ? " here (Redis unreachable: counted by this replica alone)" : "");
        char msg[128];
        snprintf(msg, sizeof msg, "too many open streams (at most %d per user)", max);
        ret = refuse(c, r, 429, "TOO_MANY_STREAMS", msg);
        goto out;
    }
    st->leased = leased == 1;
    /* Watch the socket: a client hanging up ends the stream at once (watcher_main). */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) {
        struct epoll_event ev = {.events = EPOLLRDHUP, .data.u64 = st->id};
        if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, ci->connect_fd, &ev) == 0)
            st->fd = ci->connect_fd;
    }
    st->next = h->head;
    if (h->head)
        h->head->prev = st;
    h->head = st;
    h->n++;
    st->next_ping = mono_s() + h->ping_s;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    /* From here the response's free callback owns st. */
    ret = open_stream(s, c, r, st);
    st = NULL;
out:
    if (st) {
        if (st->p)
            gm_gql_prepared_release(s->d.engine, st->p);
        json_decref(st->variables);
        free(st->opname);
        free(st->buf);
        pthread_mutex_destroy(&st->mu);
        free(st);
    }
    if (p)
        gm_gql_prepared_release(s->d.engine, p);
    gm_arena_deinit(&a);
    json_decref(params);
    return ret;
}
