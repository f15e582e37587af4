/*
 * conn.c: the projector's Redis connection: the URL, connecting with AUTH
 * and SELECT, a pipeline that counts the replies it owes, key names and
 * the (board, period) list of a batch.
 */
#include "redis_int.h"
#include "redis_url.h"

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
dup_n(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d)
        abort();
    return d;
}

int
gm__redis_parse_url(struct gm_redisproj *p, const char *url, struct gm_err *err)
{
    struct gm_redis_url u;
    int rc = gm_redis_url_parse(url, "Redis URL", &u, err);
    if (rc) {
        gm_redis_url_deinit(&u);
        return rc;
    }
    p->host = u.host; /* taken over */
    p->user = u.user;
    p->password = u.password;
    p->port = u.port;
    p->db = u.db;
    return 0;
}

void
gm__redis_drop(struct gm_redisproj *p)
{
    if (p->c)
        redisFree(p->c);
    p->c = NULL;
    p->queued = 0;
    p->watching = false;
}

/* Runs one command outside any pipeline; fails on an error reply. */
static int
command(struct gm_redisproj *p, const char *what, int argc, const char **argv, struct gm_err *err)
{
    redisReply *r = redisCommandArgv(p->c, argc, argv, NULL);
    if (!r)
        return gm_err_set(err, GM_EREDIS, "Redis %s: %s: %s", GM_REDIS_WHERE(p->host, p->port),
                          what, p->c->errstr);
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR)
        rc = gm_err_set(err, GM_EREDIS, "Redis %s: %s: %s", GM_REDIS_WHERE(p->host, p->port), what,
                        r->str);
    freeReplyObject(r);
    return rc;
}

int
gm__redis_connect(struct gm_redisproj *p, struct gm_err *err)
{
    if (p->c)
        return 0;
    struct timeval tv = {p->timeout_ms / 1000, (p->timeout_ms % 1000) * 1000};
    p->c = gm_redis_url_connect(p->host, p->port, tv);
    if (!p->c)
        abort(); /* hiredis could not allocate its context */
    int rc = 0;
    if (p->c->err) {
        rc = gm_err_set(err, GM_EREDIS, "Redis %s: connect: %s", GM_REDIS_WHERE(p->host, p->port),
                        p->c->errstr);
        goto out;
    }
    if (redisSetTimeout(p->c, tv) != REDIS_OK) {
        rc = gm_err_set(err, GM_EREDIS, "Redis %s: set timeout", GM_REDIS_WHERE(p->host, p->port));
        goto out;
    }
    if (p->password) {
        const char *argv[3] = {"AUTH", p->user ? p->user : p->password, p->password};
        if ((rc = command(p, "AUTH", p->user ? 3 : 2, argv, err)))
            goto out;
    }
    /* named PREFIX redisproj-PARTITION, so that CLIENT LIST shows which
     * projector a connection is */
    char name[GM_REDISPROJ_PREFIX_MAX + 32];
    snprintf(name, sizeof name, "%sredisproj-%d", p->prefix, p->partition);
    for (char *ch = name; *ch; ch++)
        if (*ch <= ' ' || *ch > '~')
            *ch = '_'; /* a connection name has no spaces */
    const char *setname[3] = {"CLIENT", "SETNAME", name};
    if ((rc = command(p, "CLIENT SETNAME", 3, setname, err)))
        goto out;
    if (p->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", p->db);
        const char *argv[2] = {"SELECT", db};
        if ((rc = command(p, "SELECT", 2, argv, err)))
            goto out;
    }
out:
    if (rc)
        gm__redis_drop(p);
    return rc;
}

/* Appends the decimal digits of v to w; returns the end. */
static char *
put_size(char *w, size_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *w++ = tmp[--n];
    return w;
}

void
gm__redis_append(struct gm_redisproj *p, int argc, const char **argv, const size_t *len)
{
    /* The command in RESP, written here in one piece: hiredis's own
     * formatting (sdscatfmt per argument) was a fifth of a step. */
    size_t need = 16;
    for (int i = 0; i < argc; i++)
        need += 16 + (len ? len[i] : strlen(argv[i]));
    char stack[4096], *buf = need <= sizeof stack ? stack : malloc(need);
    if (!buf)
        abort();
    char *w = buf;
    *w++ = '*';
    w = put_size(w, (size_t)argc);
    *w++ = '\r';
    *w++ = '\n';
    for (int i = 0; i < argc; i++) {
        size_t n = len ? len[i] : strlen(argv[i]);
        *w++ = '$';
        w = put_size(w, n);
        *w++ = '\r';
        *w++ = '\n';
        memcpy(w, argv[i], n);
        w += n;
        *w++ = '\r';
        *w++ = '\n';
    }
    if (redisAppendFormattedCommand(p->c, buf, (size_t)(w - buf)) != REDIS_OK)
        abort(); /* only fails to allocate */
    if (buf != stack)
        free(buf);
    p->queued++;
}

void
gm__redis_appendf(struct gm_redisproj *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(p->c, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK)
        abort();
    p->queued++;
}

int
gm__redis_reply(struct gm_redisproj *p, redisReply **r, struct gm_err *err)
{
    void *reply = NULL;
    if (redisGetReply(p->c, &reply) != REDIS_OK || !reply) {
        gm_err_set(err, GM_EREDIS, "Redis %s: %s", GM_REDIS_WHERE(p->host, p->port),
                   p->c->errstr[0] ? p->c->errstr : "no reply");
        gm__redis_drop(p);
        return GM_EREDIS;
    }
    p->queued--;
    *r = reply;
    return 0;
}

int
gm__redis_drain(struct gm_redisproj *p, struct gm_err *err)
{
    int rc = 0;
    while (p->queued > 0) {
        redisReply *r;
        if (gm__redis_reply(p, &r, err))
            return GM_EREDIS;
        if (r->type == REDIS_REPLY_ERROR && rc == 0)
            rc = gm_err_set(err, GM_EREDIS, "Redis %s: %s", GM_REDIS_WHERE(p->host, p->port),
                            r->str);
        freeReplyObject(r);
    }
    return rc;
}

char *
gm__redis_board_key(const struct gm_redisproj *p, const char *board, const char *period)
{
    /* by hand: asprintf's formatting was a tenth of a step's instructions */
    size_t np = strlen(p->prefix), nb = strlen(board), nq = strlen(period);
    char *k = malloc(np + 3 + 1 + nb + 1 + nq + 1);
    if (!k)
        abort();
    char *w = k;
    memcpy(w, p->prefix, np);
    w += np;
    memcpy(w, "lb:", 3);
    w += 3;
    memcpy(w, board, nb);
    w += nb;
    *w++ = ':';
    memcpy(w, period, nq);
    w[nq] = '\0';
    return k;
}

char *
gm__redis_name(const struct gm_redisproj *p, const char *suffix)
{
    char *k;
    if (asprintf(&k, "%s%s", p->prefix, suffix) < 0)
        abort();
    return k;
}

char *
gm__redis_cursor_key(const struct gm_redisproj *p, int partition)
{
    char *k;
    if (asprintf(&k, "%scursor:%d", p->prefix, partition) < 0)
        abort();
    return k;
}

void
gm__pairs_add(struct gm__pairs *l, const char *board, const char *period)
{
    /* A change touches the same few pairs as the changes next to it. */
    for (size_t i = l->n, k = 0; i > 0 && k < 8; i--, k++)
        if (strcmp(l->v[i - 1].board, board) == 0 && strcmp(l->v[i - 1].period, period) == 0)
            return;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            abort();
    }
    l->v[l->n].board = dup_n(board, strlen(board));
    l->v[l->n].period = dup_n(period, strlen(period));
    l->n++;
}

static int
pair_cmp(const void *a, const void *b)
{
    const struct gm__pair *x = a, *y = b;
    int c = strcmp(x->board, y->board);
    return c ? c : strcmp(x->period, y->period);
}

void
gm__pairs_unique(struct gm__pairs *l, size_t from)
{
    if (l->n - from < 2)
        return;
    qsort(l->v + from, l->n - from, sizeof *l->v, pair_cmp);
    size_t w = from + 1;
    for (size_t r = from + 1; r < l->n; r++) {
        if (pair_cmp(&l->v[w - 1], &l->v[r]) == 0) {
            free(l->v[r].board);
            free(l->v[r].period);
        } else {
            l->v[w++] = l->v[r];
        }
    }
    l->n = w;
}

void
gm__pairs_clear(struct gm__pairs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].board);
        free(l->v[i].period);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* SADD key m1 m2 ... of the distinct strings at offset off of v[from..n). */
static void
queue_sadd(struct gm_redisproj *p, const char *key, const struct gm__pairs *l, size_t from,
           bool boards)
{
    size_t cap = 2 + (l->n - from);
    const char **argv = malloc(cap * sizeof *argv);
    if (!argv)
        abort();
    int argc = 0;
    argv[argc++] = "SADD";
    argv[argc++] = key;
    for (size_t i = from; i < l->n; i++) {
        const char *s = boards ? l->v[i].board : l->v[i].period;
        bool seen = false;
        /* boards come sorted, periods repeat per board: look back a little */
        for (int k = argc - 1; k >= 2 && k >= argc - 16 && !seen; k--)
            seen = strcmp(argv[k], s) == 0;
        if (!seen)
            argv[argc++] = s;
    }
    if (argc > 2)
        gm__redis_append(p, argc, argv, NULL);
    free(argv);
}

void
gm__redis_queue_pairs(struct gm_redisproj *p, const struct gm__pairs *l, size_t from,
                      const struct gm_rules *rules, bool persist)
{
    if (from >= l->n)
        return;
    char *boards = gm__redis_name(p, "boards"), *periods = gm__redis_name(p, "periods");
    queue_sadd(p, boards, l, from, true);
    queue_sadd(p, periods, l, from, false);
    /* one expiry per period, not per key: the pairs come sorted by board,
     * so a period repeats every few pairs */
    struct {
        const char *period;
        int rc;
        int64_t at;
    } seen[8] = {{0}};
    size_t n_seen = 0;
    for (size_t i = from; i < l->n; i++) {
        const char *period = l->v[i].period;
        int64_t at = 0;
        int rc = GM_ENOTFOUND;
        if (rules) {
            size_t k = 0;
            while (k < n_seen && strcmp(seen[k].period, period) != 0)
                k++;
            if (k == n_seen) {
                k = n_seen < 8 ? n_seen++ : 7;
                seen[k].period = period;
                seen[k].rc = gm_redisproj_expiry(period, rules, &seen[k].at);
            }
            rc = seen[k].rc;
            at = seen[k].at;
        }
        if (rc != 0 && !persist)
            continue;
        char *key = gm__redis_board_key(p, l->v[i].board, period), num[24];
        if (rc == 0) {
            snprintf(num, sizeof num, "%lld", (long long)at);
            const char *argv[3] = {"EXPIREAT", key, num};
            gm__redis_append(p, 3, argv, NULL);
        } else {
            const char *argv[2] = {"PERSIST", key};
            gm__redis_append(p, 2, argv, NULL);
        }
        free(key);
    }
    free(boards);
    free(periods);
}

const char gm__redis_prune_script[] =
    "local boards = redis.call('SMEMBERS', KEYS[1])\n"
    "local n = 0\n"
    "for i = 2, #ARGV do\n"
    "  for _, b in ipairs(boards) do\n"
    "    n = n + redis.call('UNLINK', ARGV[1] .. b .. ':' .. ARGV[i])\n"
    "  end\n"
    "  redis.call('SREM', KEYS[2], ARGV[i])\n"
    "end\n"
    "return n\n";

/* How long a pruned mark lives. It stays after the keys went, so that a
 * partition that writes the period afterwards (one whose projector started
 * later, or ran behind) finds the others' prunes when it prunes it too; the
 * period's keys have TTLs of their own, so they go anyway. */
#define PRUNED_MARK_TTL "34560000" /* 400 days */

const char gm__redis_prune_part_script[] =
    "local boards = redis.call('SMEMBERS', KEYS[1])\n"
    "local parts = redis.call('SMEMBERS', KEYS[3])\n"
    "local n = 0\n"
    "for i = 4, #ARGV do\n"
    "  local mark = ARGV[3] .. ARGV[i]\n"
    "  redis.call('SADD', mark, ARGV[2])\n"
    "  local all = true\n"
    "  for _, q in ipairs(parts) do\n"
    "    if redis.call('SISMEMBER', mark, q) == 0 then\n"
    "      all = false\n"
    "      break\n"
    "    end\n"
    "  end\n"
    "  if all then\n"
    "    for _, b in ipairs(boards) do\n"
    "      n = n + redis.call('UNLINK', ARGV[1] .. b .. ':' .. ARGV[i])\n"
    "    end\n"
    "    redis.call('SREM', KEYS[2], ARGV[i])\n"
    "  end\n"
    "  redis.call('EXPIRE', mark, " PRUNED_MARK_TTL ")\n"
    "end\n"
    "return n\n";
