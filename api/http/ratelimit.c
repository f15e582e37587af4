/*
 * ratelimit.c: the per-user, per-operation limits of gamify-api (see
 * ratelimit.h): a Lua script run in Redis over one key per operation, the
 * cells it leases kept in an in-process table, and the same rule on another
 * in-process table while Redis is unreachable.
 *
 * Each HTTP thread has its own Redis connection (a pthread key, closed when
 * the thread ends), so no lock is taken on the path of a request.
 */
#include "ratelimit.h"
#include "fmt.h"
#include "redis_url.h"
#include "resp.h"

#include "log.h"

#include <hiredis/hiredis.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WINDOW_MS        60000.0
#define REDIS_TIMEOUT_MS 200
#define RETRY_MS         1000
#define LOCAL_SLOTS      65536 /* a power of two */
#define LOCAL_PROBE      8
#define LEASE_SLOTS      65536 /* a power of two, in LEASE_STRIPES stripes */
#define LEASE_WAYS       8     /* an aligned bucket of slots per pair */
#define LEASE_STRIPES    64

/*
 * KEYS: one per operation; ARGV: their limits per minute, then the cells
 * wanted of each (a lease; at least 1 is taken when one is free). Returns
 * {allowed, index (1-based) of the refused key or 0, retry-after ms,
 * {cells taken}, {remaining}, {reset ms}} (refused: the three lists empty
 * but the refused key's reset). Writes only when all are allowed.
 */
static const char script[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local W, n = 60000, #KEYS\n"
    "local tats, gs, rems, resets = {}, {}, {}, {}\n"
    "for i = 1, n do\n"
    "  local T = W / tonumber(ARGV[i])\n"
    "  local tat = tonumber(redis.call('GET', KEYS[i]) or '0') or 0\n"
    "  if tat < now then tat = now end\n"
    "  if tat + T - now > W + 0.01 then\n"
    "    return {0, i, math.ceil(tat + T - W - now), {}, {}, {math.ceil(tat - now)}}\n"
    "  end\n"
    "  local g = math.floor((W - (tat - now)) / T + 0.01)\n"
    "  local want = tonumber(ARGV[n + i])\n"
    "  if g > want then g = want end\n"
    "  if g < 1 then g = 1 end\n"
    "  local new = tat + g * T\n"
    "  tats[i], gs[i] = new, g\n"
    "  rems[i] = math.floor((W - (new - now)) / T + 0.01)\n"
    "  resets[i] = math.ceil(new - now)\n"
    "end\n"
    "for i = 1, n do\n"
    "  redis.call('SET', KEYS[i], string.format('%.3f', tats[i]), 'PX',\n"
    "             math.ceil(tats[i] - now) + 1000)\n"
    "end\n"
    "return {1, 0, 0, gs, rems, resets}\n";

struct rule {
    char *op; /* "*" for the others */
    long per_minute;
};

struct slot {
    uint64_t h; /* 0: free */
    double tat;
};

/* A (user, operation) pair's leased cells and last answer, in monotonic ms. */
struct lease {
    uint64_t h; /* 0: free */
    long limit;
    long left;            /* cells leased and not spent */
    bool leasing;         /* a request is asking Redis for a lease of this pair */
    long rem;             /* Redis's remaining after the last answer */
    double at;            /* when it came */
    double reset_at;      /* the full allowance back, per it */
    double refused_until; /* refused by Redis until then (0: not refused) */
};

struct tconn {
    redisContext *c;
    double retry_at; /* ms: no connection attempt before */
};

struct gm_api_limiter {
    struct rule rules[GM_API_RL_MAX_RULES];
    size_t n_rules;
    char *host;
    int port;
    int db;
    char *user;
    char *password;
    char *prefix;
    char sha[41];
    pthread_key_t key;
    atomic_bool local;
    atomic_uint_fast64_t redis_decisions, local_decisions, redis_errors;
    pthread_mutex_t lock; /* the local table */
    struct slot *slots;
    int lease_max;
    atomic_uint_fast64_t lease_decisions;
    pthread_mutex_t lease_mu[LEASE_STRIPES];
    struct lease *leases;
};

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static double
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static char *
dup_n(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d)
        abort();
    return d;
}

static int
parse_spec(struct gm_api_limiter *l, const char *spec, struct gm_err *err)
{
    const char *s = spec;
    while (*s) {
        const char *end = s + strcspn(s, ",");
        const char *eq = memchr(s, '=', (size_t)(end - s));
        if (!eq || eq == s)
            return gm_err_set(err, GM_EINVAL, "--rate-limits: \"%.*s\" is not OPERATION=PER_MINUTE",
                              (int)(end - s), s);
        char *e;
        long n = strtol(eq + 1, &e, 10);
        if (e != end || n < 1 || n > 1000000)
            return gm_err_set(err, GM_EINVAL,
                              "--rate-limits: \"%.*s\": the limit must be 1 to 1000000 per minute",
                              (int)(end - s), s);
        if (l->n_rules == GM_API_RL_MAX_RULES)
            return gm_err_set(err, GM_EINVAL, "--rate-limits: more than %d rules",
                              GM_API_RL_MAX_RULES);
        l->rules[l->n_rules].op = dup_n(s, (size_t)(eq - s));
        l->rules[l->n_rules].per_minute = n;
        l->n_rules++;
        s = *end ? end + 1 : end;
    }
    return 0;
}

static int
parse_url(struct gm_api_limiter *l, const char *url, struct gm_err *err)
{
    struct gm_redis_url u;
    int rc = gm_redis_url_parse(url, "--redis", &u, err);
    if (rc) {
        gm_redis_url_deinit(&u);
        return rc;
    }
    l->host = u.host; /* taken over */
    l->user = u.user;
    l->password = u.password;
    l->port = u.port;
    l->db = u.db;
    return 0;
}

static void
tconn_free(void *p)
{
    struct tconn *t = p;
    if (t && t->c)
        redisFree(t->c);
    free(t);
}

void
gm_api_limiter_free(struct gm_api_limiter *l)
{
    if (!l)
        return;
    /* This thread's connection; the HTTP threads closed theirs when they ended. */
    tconn_free(pthread_getspecific(l->key));
    pthread_key_delete(l->key);
    for (size_t i = 0; i < l->n_rules; i++)
        free(l->rules[i].op);
    free(l->host);
    free(l->user);
    free(l->password);
    free(l->prefix);
    free(l->slots);
    free(l->leases);
    for (size_t i = 0; i < LEASE_STRIPES; i++)
        pthread_mutex_destroy(&l->lease_mu[i]);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

int
gm_api_limiter_new(const char *spec, const char *redis_url, const char *prefix,
                   struct gm_api_limiter **out, struct gm_err *err)
{
    *out = NULL;
    struct gm_api_limiter *l = calloc(1, sizeof *l);
    if (!l)
        abort();
    pthread_mutex_init(&l->lock, NULL);
    if (pthread_key_create(&l->key, tconn_free) != 0)
        abort();
    l->slots = calloc(LOCAL_SLOTS, sizeof *l->slots);
    l->leases = calloc(LEASE_SLOTS, sizeof *l->leases);
    if (!l->slots || !l->leases)
        abort();
    for (size_t i = 0; i < LEASE_STRIPES; i++)
        pthread_mutex_init(&l->lease_mu[i], NULL);
    l->lease_max = GM_API_RL_LEASE_DEFAULT;
    l->prefix = strdup(prefix ? prefix : "");
    int rc = parse_spec(l, spec ? spec : GM_API_RL_DEFAULT, err);
    if (!rc)
        rc = parse_url(l, redis_url, err);
    if (rc) {
        gm_api_limiter_free(l);
        return rc;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    if (!EVP_Digest(script, strlen(script), md, &md_len, EVP_sha1(), NULL))
        abort();
    for (unsigned i = 0; i < md_len && i < 20; i++)
        snprintf(l->sha + 2 * i, 3, "%02x", md[i]);
    *out = l;
    return 0;
}

static long
rule_for(const struct gm_api_limiter *l, const char *op)
{
    long star = 0;
    for (size_t i = 0; i < l->n_rules; i++) {
        if (strcmp(l->rules[i].op, op) == 0)
            return l->rules[i].per_minute;
        if (strcmp(l->rules[i].op, "*") == 0)
            star = l->rules[i].per_minute;
    }
    return star;
}

/* This thread's connection, connected; NULL while Redis is unreachable. */
static redisContext *
conn(struct gm_api_limiter *l)
{
    struct tconn *t = pthread_getspecific(l->key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t)
            abort();
        pthread_setspecific(l->key, t);
    }
    if (t->c)
        return t->c;
    double now = now_ms();
    if (now < t->retry_at)
        return NULL;
    t->retry_at = now + RETRY_MS;
    struct timeval tv = {0, REDIS_TIMEOUT_MS * 1000};
    redisContext *c = gm_redis_url_connect(l->host, l->port, tv);
    if (!c || c->err) {
        gm_log(GM_LOG_WARN, "rate limits: Redis %s unreachable (%s); limiting locally",
               GM_REDIS_WHERE(l->host, l->port), c ? c->errstr : "out of memory");
        goto fail;
    }
    redisSetTimeout(c, tv);
    redisReply *r = NULL;
    if (l->password) {
        r = l->user ? redisCommand(c, "AUTH %s %s", l->user, l->password)
                    : redisCommand(c, "AUTH %s", l->password);
        if (!r || r->type == REDIS_REPLY_ERROR)
            goto fail_reply;
        freeReplyObject(r);
    }
    if (l->db) {
        r = redisCommand(c, "SELECT %d", l->db);
        if (!r || r->type == REDIS_REPLY_ERROR)
            goto fail_reply;
        freeReplyObject(r);
    }
    t->c = c;
    return c;
fail_reply:
    gm_log(GM_LOG_WARN, "rate limits: Redis %s refused AUTH or SELECT: %s",
           GM_REDIS_WHERE(l->host, l->port), r ? r->str : c->errstr);
    if (r)
        freeReplyObject(r);
fail:
    if (c)
        redisFree(c);
    atomic_fetch_add(&l->redis_errors, 1);
    return NULL;
}

static void
drop(struct gm_api_limiter *l)
{
    struct tconn *t = pthread_getspecific(l->key);
    if (t && t->c) {
        redisFree(t->c);
        t->c = NULL;
        t->retry_at = now_ms() + RETRY_MS;
    }
}

static void
fill(struct gm_api_rl_result *res, const long *limits, const char *const *ops, long allowed,
     long idx, long retry_ms, long remaining, long reset_ms)
{
    res->allowed = allowed != 0;
    res->op = ops[idx];
    res->limit = limits[idx];
    res->remaining = remaining;
    res->reset_s = (reset_ms + 999) / 1000;
    res->retry_after_s = allowed ? 0 : (retry_ms + 999) / 1000;
    if (!allowed && res->retry_after_s < 1)
        res->retry_after_s = 1;
}

/* The argument vector of the script call for call (EVALSHA, or EVAL with the script). */
static size_t
script_argv(const struct gm_api_limiter *l, const struct gm_api_rl_call *call, bool eval,
            const char **argv, size_t *lens, char nkeys[24])
{
    size_t n = call->n_keys;
    gm_fmt_i64(nkeys, (int64_t)n);
    argv[0] = eval ? "EVAL" : "EVALSHA";
    argv[1] = eval ? script : l->sha;
    argv[2] = nkeys;
    for (size_t i = 0; i < n; i++)
        argv[3 + i] = call->keyp[i];
    for (size_t i = 0; i < 2 * n; i++)
        argv[3 + n + i] = call->argp[i];
    size_t argc = 3 + 3 * n;
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return argc;
}

/*
 * Sends the script call of call without waiting for the answer; false when
 * Redis is unreachable or the write failed (the caller decides locally).
 */
static bool
send_redis(struct gm_api_limiter *l, struct gm_api_rl_call *call)
{
    redisContext *c = conn(l);
    if (!c)
        return false;
    const char *argv[3 + 3 * GM_API_RL_MAX_RULES];
    size_t lens[3 + 3 * GM_API_RL_MAX_RULES];
    char nkeys[24];
    size_t argc = script_argv(l, call, false, argv, lens, nkeys);
    int done = 0;
    char buf[8192];
    size_t n = gm_resp_format(buf, sizeof buf, (int)argc, argv, lens);
    if (n ? redisAppendFormattedCommand(c, buf, n) != REDIS_OK
          : redisAppendCommandArgv(c, (int)argc, argv, lens) != REDIS_OK)
        goto fail;
    /* Flush now: Redis decides while this request does its work. */
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            goto fail;
    return true;
fail:
    gm_log(GM_LOG_WARN, "rate limits: Redis %s: %s; limiting locally",
           GM_REDIS_WHERE(l->host, l->port), c->errstr);
    atomic_fetch_add(&l->redis_errors, 1);
    drop(l);
    return false;
}

static void lease_apply(struct gm_api_limiter *l, struct gm_api_rl_call *call, const redisReply *r,
                        struct gm_api_rl_result *res);

static bool
int_array(const redisReply *r, size_t n)
{
    bool ok = r->type == REDIS_REPLY_ARRAY && r->elements == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = r->element[i]->type == REDIS_REPLY_INTEGER;
    return ok;
}

/* Takes the script's answer r (NULL: none) into res; false when it is not one (logged). */
static bool
take_reply(struct gm_api_limiter *l, struct gm_api_rl_call *call, redisReply *r,
           struct gm_api_rl_result *res, const char *why)
{
    size_t n = call->n_keys;
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 6;
    for (size_t i = 0; ok && i < 3; i++)
        ok = r->element[i]->type == REDIS_REPLY_INTEGER;
    if (ok && r->element[0]->integer) {
        ok = int_array(r->element[3], n) && int_array(r->element[4], n) &&
             int_array(r->element[5], n);
    } else if (ok) {
        long long idx = r->element[1]->integer;
        ok = idx >= 1 && (size_t)idx <= n && int_array(r->element[5], 1);
    }
    if (ok) {
        lease_apply(l, call, r, res);
    } else {
        gm_log(GM_LOG_WARN, "rate limits: Redis %s: %s; limiting locally",
               GM_REDIS_WHERE(l->host, l->port), r && r->type == REDIS_REPLY_ERROR ? r->str : why);
        atomic_fetch_add(&l->redis_errors, 1);
    }
    return ok;
}

/* Reads the answer to send_redis; false on any failure (the caller decides locally). */
static bool
finish_redis(struct gm_api_limiter *l, struct gm_api_rl_call *call, struct gm_api_rl_result *res)
{
    redisContext *c = conn(l);
    if (!c)
        return false;
    redisReply *r = NULL;
    if (redisGetReply(c, (void **)&r) != REDIS_OK)
        r = NULL;
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        const char *argv[3 + 3 * GM_API_RL_MAX_RULES];
        size_t lens[3 + 3 * GM_API_RL_MAX_RULES];
        char nkeys[24];
        size_t argc = script_argv(l, call, true, argv, lens, nkeys);
        r = redisCommandArgv(c, (int)argc, argv, lens);
    }
    bool ok = take_reply(l, call, r, res, c->errstr);
    if (!ok && (!r || c->err))
        drop(l);
    if (r)
        freeReplyObject(r);
    return ok;
}

static uint64_t
fnv(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = a; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *s = b; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

/* The slot of key h: its own, else a free or expired one, else the oldest of the probe. */
static struct slot *
find_slot(struct gm_api_limiter *l, uint64_t h, double now)
{
    struct slot *victim = NULL;
    double best = 0;
    for (size_t i = 0; i < LOCAL_PROBE; i++) {
        struct slot *s = &l->slots[(h + i) & (LOCAL_SLOTS - 1)];
        if (s->h == h)
            return s;
        double score = s->h == 0 || s->tat < now ? -1 : s->tat;
        if (!victim || score < best)
            victim = s, best = score;
    }
    victim->h = h;
    victim->tat = 0;
    return victim;
}

static void
check_local(struct gm_api_limiter *l, const char *user, const char *const *ops, const long *limits,
            size_t n, struct gm_api_rl_result *res)
{
    double now = now_ms();
    double tats[GM_API_RL_MAX_RULES];
    struct slot *slots[GM_API_RL_MAX_RULES];
    long bi = 0, brem = -1, breset = 0;
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < n; i++) {
        slots[i] = find_slot(l, fnv(user, ops[i]), now);
        double T = WINDOW_MS / (double)limits[i];
        double tat = slots[i]->tat < now ? now : slots[i]->tat;
        double next = tat + T;
        if (next - now > WINDOW_MS + 0.01) {
            pthread_mutex_unlock(&l->lock);
            fill(res, limits, ops, 0, (long)i, (long)ceil(next - WINDOW_MS - now), 0,
                 (long)ceil(tat - now));
            return;
        }
        tats[i] = next;
        long rem = (long)floor((WINDOW_MS - (next - now)) / T + 0.01);
        if (brem < 0 || rem < brem)
            bi = (long)i, brem = rem, breset = (long)ceil(next - now);
    }
    for (size_t i = 0; i < n; i++)
        slots[i]->tat = tats[i];
    pthread_mutex_unlock(&l->lock);
    fill(res, limits, ops, 1, bi, 0, brem, breset);
}

/* ---- leases: cells taken from Redis ahead and spent here (ratelimit.h) ---- */

static pthread_mutex_t *
lease_lock(struct gm_api_limiter *l, uint64_t h)
{
    return &l->lease_mu[(h & (LEASE_SLOTS - 1)) / (LEASE_SLOTS / LEASE_STRIPES)];
}

/*
 * The lease of pair h, made when absent in its bucket's free slot, else an
 * idle one (nothing leased, no refusal kept, nobody asking), else the one
 * answered longest ago: a pair evicted loses its unspent cells (they stay
 * counted in Redis) or its kept refusal (Redis decides it again). The
 * caller holds the bucket's stripe lock.
 */
static struct lease *
lease_find(struct gm_api_limiter *l, uint64_t h, long limit, double now)
{
    struct lease *b = &l->leases[h & (LEASE_SLOTS - 1) & ~(uint64_t)(LEASE_WAYS - 1)];
    struct lease *victim = NULL;
    double best = 0;
    for (size_t i = 0; i < LEASE_WAYS; i++) {
        struct lease *e = &b[i];
        if (e->h == h && e->limit == limit)
            return e;
        double score = e->h == 0                                                ? -2
                       : e->h == h                                              ? -2
                       : !e->leasing && e->left == 0 && e->refused_until <= now ? -1
                       : e->leasing                                             ? 1e300
                                                                                : e->at;
        if (!victim || score < best)
            victim = e, best = score;
    }
    *victim = (struct lease){.h = h, .limit = limit};
    return victim;
}

/* What the pair has left now for the RateLimit header: Redis's remaining at
 * its last answer, the cells freed since, the cells leased and not spent. */
static long
lease_remaining(const struct lease *e, double now)
{
    double T = WINDOW_MS / (double)e->limit;
    double back = e->at > 0 && now > e->at ? floor((now - e->at) / T) : 0;
    double r = (double)(e->rem > 0 ? e->rem : 0) + (double)e->left + back;
    return r > (double)e->limit ? e->limit : (long)r;
}

static long
ms_left(double until, double now)
{
    return until > now ? (long)ceil(until - now) : 0;
}

/* The cells a lease of a pair with this limit asks for: a twentieth of it, 1 to lease_max. */
static long
lease_size(const struct gm_api_limiter *l, long limit)
{
    long k = limit / 20;
    if (k > l->lease_max)
        k = l->lease_max;
    return k < 1 ? 1 : k;
}

/* Gives back what call took in prepare: its reserved cells and its lease flags. */
static void
lease_release(struct gm_api_limiter *l, struct gm_api_rl_call *call)
{
    double now = mono_ms();
    for (size_t i = 0; i < call->n; i++) {
        if (!call->reserved[i] && !call->leasing[i])
            continue;
        pthread_mutex_t *mu = lease_lock(l, call->hash[i]);
        pthread_mutex_lock(mu);
        struct lease *e = lease_find(l, call->hash[i], call->limits[i], now);
        if (call->reserved[i])
            e->left++;
        if (call->leasing[i])
            e->leasing = false;
        pthread_mutex_unlock(mu);
        call->reserved[i] = call->leasing[i] = false;
    }
}

/* Takes the script's answer r (checked by take_reply) into the leases and res. */
static void
lease_apply(struct gm_api_limiter *l, struct gm_api_rl_call *call, const redisReply *r,
            struct gm_api_rl_result *res)
{
    double now = mono_ms();
    if (!r->element[0]->integer) {
        size_t i = call->key_op[r->element[1]->integer - 1];
        long retry = (long)r->element[2]->integer, reset = (long)r->element[5]->element[0]->integer;
        pthread_mutex_t *mu = lease_lock(l, call->hash[i]);
        pthread_mutex_lock(mu);
        struct lease *e = lease_find(l, call->hash[i], call->limits[i], now);
        /* No cell frees before then, whatever the other replicas do: refused here until. */
        e->refused_until = now + (double)retry;
        e->reset_at = now + (double)reset;
        pthread_mutex_unlock(mu);
        lease_release(l, call);
        fill(res, call->limits, call->ops, 0, (long)i, retry, 0, reset);
        return;
    }
    long best = -1, best_rem = 0, best_reset = 0;
    for (size_t i = 0, j = 0; i < call->n; i++) {
        pthread_mutex_t *mu = lease_lock(l, call->hash[i]);
        pthread_mutex_lock(mu);
        struct lease *e = lease_find(l, call->hash[i], call->limits[i], now);
        if (j < call->n_keys && call->key_op[j] == i) {
            /* One cell for this request, the others for the next ones. */
            e->left += (long)r->element[3]->element[j]->integer - 1;
            e->rem = (long)r->element[4]->element[j]->integer;
            e->reset_at = now + (double)r->element[5]->element[j]->integer;
            e->at = now;
            e->refused_until = 0;
            j++;
        }
        if (call->leasing[i])
            e->leasing = false;
        long rem = lease_remaining(e, now), reset = ms_left(e->reset_at, now);
        pthread_mutex_unlock(mu);
        call->reserved[i] = call->leasing[i] = false;
        if (best < 0 || rem < best_rem)
            best = (long)i, best_rem = rem, best_reset = reset;
    }
    fill(res, call->limits, call->ops, 1, best, 0, best_rem, best_reset);
}

/* Ends a check: Redis's decision (ok) or, failing it, the local rule's. */
static void
decide(struct gm_api_limiter *l, struct gm_api_rl_call *call, bool ok, struct gm_api_rl_result *res)
{
    if (ok) {
        atomic_store(&l->local, false);
        atomic_fetch_add(&l->redis_decisions, 1);
    } else {
        lease_release(l, call);
        atomic_store(&l->local, true);
        atomic_fetch_add(&l->local_decisions, 1);
        check_local(l, call->user, call->ops, call->limits, call->n, res);
        res->local = true;
    }
    call->state = 0;
}

void
gm_api_limiter_set_lease(struct gm_api_limiter *l, int max_cells)
{
    l->lease_max = max_cells < 1 ? 1 : max_cells;
}

void
gm_api_limiter_prepare(struct gm_api_limiter *l, const char *user, const char *const *ops, size_t n,
                       struct gm_api_rl_call *call)
{
    call->user = user;
    call->n = 0;
    call->n_keys = 0;
    call->state = 0;
    for (size_t i = 0; i < n && call->n < GM_API_RL_MAX_RULES; i++) {
        long lim = rule_for(l, ops[i]);
        if (lim > 0) {
            call->ops[call->n] = ops[i];
            call->limits[call->n++] = lim;
        }
    }
    if (call->n == 0)
        return;
    /*
     * A leased cell of each pair that has one is taken now; the others ask
     * Redis (a lease when no other request of this process is asking for
     * the pair, else one cell). A refusal kept for a pair refuses at once.
     */
    double now = mono_ms();
    long want[GM_API_RL_MAX_RULES];
    long best = -1, best_rem = 0, best_reset = 0;
    /* All cleared first: a kept refusal gives back what the pairs before it took. */
    for (size_t i = 0; i < call->n; i++)
        call->reserved[i] = call->leasing[i] = false;
    for (size_t i = 0; i < call->n; i++) {
        call->hash[i] = fnv(user, call->ops[i]);
        pthread_mutex_t *mu = lease_lock(l, call->hash[i]);
        pthread_mutex_lock(mu);
        struct lease *e = lease_find(l, call->hash[i], call->limits[i], now);
        if (e->refused_until > now) {
            long retry = ms_left(e->refused_until, now), reset = ms_left(e->reset_at, now);
            pthread_mutex_unlock(mu);
            lease_release(l, call);
            memset(&call->res, 0, sizeof call->res);
            call->res.limited = call->res.leased = true;
            fill(&call->res, call->limits, call->ops, 0, (long)i, retry, 0, reset);
            call->n_keys = 0;
            call->state = 4;
            return;
        }
        if (e->left > 0) {
            e->left--;
            call->reserved[i] = true;
            long rem = lease_remaining(e, now), reset = ms_left(e->reset_at, now);
            if (best < 0 || rem < best_rem)
                best = (long)i, best_rem = rem, best_reset = reset;
        } else {
            long k = lease_size(l, call->limits[i]);
            if (k > 1 && !e->leasing) {
                e->leasing = true;
                call->leasing[i] = true;
            } else {
                k = 1;
            }
            want[call->n_keys] = k;
            call->key_op[call->n_keys++] = i;
        }
        pthread_mutex_unlock(mu);
    }
    if (call->n_keys == 0) {
        memset(&call->res, 0, sizeof call->res);
        call->res.limited = call->res.leased = true;
        fill(&call->res, call->limits, call->ops, 1, best, 0, best_rem, best_reset);
        for (size_t i = 0; i < call->n; i++)
            call->reserved[i] = false; /* spent */
        call->state = 4;
        return;
    }
    size_t nk = call->n_keys;
    for (size_t j = 0; j < nk; j++) {
        size_t i = call->key_op[j];
        /* {user} keeps a request's keys in one cluster slot. */
        const char *parts[] = {l->prefix, "rl:{", user, "}:", call->ops[i]};
        size_t k = gm_fmt_join(call->keys[j], sizeof call->keys[j], parts, 5);
        if (k >= sizeof call->keys[j])
            abort(); /* the prefix, a user id (GM_API_USER_MAX) and a field name fit */
        call->keyp[j] = call->keys[j];
        gm_fmt_i64(call->args[j], call->limits[i]);
        call->argp[j] = call->args[j];
        gm_fmt_i64(call->args[nk + j], want[j]);
        call->argp[nk + j] = call->args[nk + j];
    }
    call->state = 3;
}

void
gm_api_limiter_start(struct gm_api_limiter *l, const char *user, const char *const *ops, size_t n,
                     struct gm_api_rl_call *call)
{
    gm_api_limiter_prepare(l, user, ops, n, call);
    if (call->state == 3)
        call->state = send_redis(l, call) ? 1 : 2;
}

const char *
gm_api_limiter_script(const struct gm_api_limiter *l, const char **sha)
{
    *sha = l->sha;
    return script;
}

void
gm_api_limiter_finish(struct gm_api_limiter *l, struct gm_api_rl_call *call,
                      struct gm_api_rl_result *res)
{
    memset(res, 0, sizeof *res);
    res->allowed = true;
    if (call->state == 0)
        return;
    if (call->state == 4) {
        *res = call->res;
        atomic_fetch_add(&l->lease_decisions, 1);
        call->state = 0;
        return;
    }
    res->limited = true;
    if (call->state == 3) /* prepared, and nobody carried it */
        call->state = send_redis(l, call) ? 1 : 2;
    bool ok = call->state == 1 && finish_redis(l, call, res);
    decide(l, call, ok, res);
}

void
gm_api_limiter_finish_carried(struct gm_api_limiter *l, struct gm_api_rl_call *call, void *reply,
                              struct gm_api_rl_result *res)
{
    memset(res, 0, sizeof *res);
    res->allowed = true;
    if (call->state == 0 || call->state == 4) {
        if (reply)
            freeReplyObject(reply);
        gm_api_limiter_finish(l, call, res);
        return;
    }
    res->limited = true;
    bool ok = take_reply(l, call, reply, res, "the carried call failed");
    if (reply)
        freeReplyObject(reply);
    decide(l, call, ok, res);
}

void
gm_api_limiter_check(struct gm_api_limiter *l, const char *user, const char *const *ops, size_t n,
                     struct gm_api_rl_result *res)
{
    struct gm_api_rl_call call;
    gm_api_limiter_start(l, user, ops, n, &call);
    gm_api_limiter_finish(l, &call, res);
}

void
gm_api_limiter_probe(struct gm_api_limiter *l)
{
    redisContext *c = conn(l);
    redisReply *r = c ? redisCommand(c, "PING") : NULL;
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    if (c && !ok) {
        atomic_fetch_add(&l->redis_errors, 1);
        drop(l);
    }
    atomic_store(&l->local, !ok);
}

bool
gm_api_limiter_local(const struct gm_api_limiter *l)
{
    return atomic_load(&l->local);
}

void
gm_api_limiter_stats(const struct gm_api_limiter *l, struct gm_api_limiter_stats *out)
{
    out->redis_decisions = atomic_load(&l->redis_decisions);
    out->local_decisions = atomic_load(&l->local_decisions);
    out->lease_decisions = atomic_load(&l->lease_decisions);
    out->redis_errors = atomic_load(&l->redis_errors);
}
