/*
 * reconcile.c: the scheduled reconcile (the seed's "scheduled refresh").
 * Redis is a projection that someone may have tampered with (a FLUSHDB, a
 * script, an eviction, a bug); a run compares it with the state and
 * repairs what differs:
 *
 *   snapshot the state; WATCH and GET the cursors; read the changes after
 *   them (Redis has not seen those yet: what they touch is left out)
 *   pass over the learners: the expected size of every (board, period)
 *   key, and a rolling sample of learners with their scores
 *   round trips: ZCARD of every key, SCAN of the live keys, ZMSCORE of the
 *   sampled members; for a key whose size differs, ZRANGE and a second
 *   pass collecting its members in the state
 *   MULTI, ZADD / ZREM / UNLINK and the keys' TTLs, EXEC (void when a
 *   cursor moved), or a full rebuild when the drift is large.
 *
 * Without "whole" (a Kafka partition's projector: other partitions write
 * the same keys) only the sample is checked, and only the state's own
 * learners are repaired.
 */
#include "redis_int.h"

#include "feed.h"
#include "lbscore.h"
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PENDING     100000 /* changes not yet in Redis past which a run is put off */
#define SKIP_RETRY_MS   1000   /* a run put off is tried again this much later */
#define MEMBERS_PER_CMD 500    /* members per ZMSCORE / ZADD / ZREM */
#define KEY_BUF         512

/* A set of strings, each with an index (open addressing over copies). */
struct smap {
    char **keys;
    size_t n, cap;
    size_t *slots; /* index + 1; 0 empty */
    size_t n_slots;
};

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

/* The index of k, or SIZE_MAX. */
static size_t
smap_find(const struct smap *m, const char *k)
{
    if (!m->n_slots)
        return SIZE_MAX;
    for (size_t h = hash_str(k) & (m->n_slots - 1); m->slots[h]; h = (h + 1) & (m->n_slots - 1))
        if (strcmp(m->keys[m->slots[h] - 1], k) == 0)
            return m->slots[h] - 1;
    return SIZE_MAX;
}

/* The index of k, added (copied) when new; *added says which. */
static size_t
smap_add(struct smap *m, const char *k, bool *added)
{
    size_t i = smap_find(m, k);
    if (added)
        *added = i == SIZE_MAX;
    if (i != SIZE_MAX)
        return i;
    if (2 * (m->n + 1) > m->n_slots) {
        size_t ns = m->n_slots ? 2 * m->n_slots : 64;
        size_t *slots = calloc(ns, sizeof *slots);
        if (!slots)
            abort();
        for (size_t j = 0; j < m->n; j++) {
            size_t h = hash_str(m->keys[j]) & (ns - 1);
            while (slots[h])
                h = (h + 1) & (ns - 1);
            slots[h] = j + 1;
        }
        free(m->slots);
        m->slots = slots;
        m->n_slots = ns;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->keys = realloc(m->keys, m->cap * sizeof *m->keys);
        if (!m->keys)
            abort();
    }
    if (!(m->keys[m->n] = strdup(k)))
        abort();
    size_t h = hash_str(k) & (m->n_slots - 1);
    while (m->slots[h])
        h = (h + 1) & (m->n_slots - 1);
    m->slots[h] = ++m->n;
    return m->n - 1;
}

static void
smap_free(struct smap *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* What a run knows of one (board, period) key of the state. */
struct keyinfo {
    char *board, *period;
    bool excluded;  /* not compared: pending, pruned, expired or deleted by the guard */
    int64_t count;  /* members in the state */
    long long card; /* ZCARD; -1 not read */
    bool mismatch;  /* sizes differ: every member is compared */
    bool repaired;  /* something was written to it: its TTL and sets again */
};

/* A member to check or write: user's score in key index, as Redis holds
 * it (lbscore.h: the score with its reach time). */
struct member {
    size_t key;
    char *user;
    int64_t score;
};

struct members {
    struct member *v;
    size_t n, cap;
};

static void
members_add(struct members *l, size_t key, const char *user, int64_t score)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            abort();
    }
    l->v[l->n].key = key;
    if (!(l->v[l->n].user = strdup(user)))
        abort();
    l->v[l->n++].score = score;
}

static void
members_free(struct members *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].user);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int
member_cmp(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return strcmp(x->user, y->user);
}

/* A learner of the sample with its scores (copies). */
struct sampled {
    char *user;
    struct gm_score *scores; /* board, period owned */
    size_t n_scores;
};

struct run {
    struct gm_redisproj *p;
    bool whole;
    const struct gm_rules *rules;
    int64_t now;
    struct smap pending_users, pending_keys, pruned; /* what changes after the cursors touch */
    struct smap periods;                             /* the periods set in Redis */
    struct smap keys;                                /* the state's keys met so far */
    struct keyinfo *info;
    size_t cap_info;
    /* the sample: learners from p->recon_from on, per state up to want + 1 */
    struct sampled *smp;
    size_t n_smp, cap_smp, want, taken; /* taken: from the current state */
    struct members check;               /* the sample's members to ZMSCORE */
    struct members writes;              /* ZADDs */
    struct members removes;             /* ZREMs (score unused) */
    struct members collect;             /* second pass: members of mismatched keys */
    uint64_t sizes_off;                 /* the sum of the size differences */
    uint64_t stranger_members;          /* members of keys the state lacks */
    uint64_t recreated, removed;
};

/* The key name of (board, period) into buf (or new memory when long): the
 * caller frees the result when it is not buf. */
static char *
key_name(const struct gm_redisproj *p, const char *board, const char *period, char *buf)
{
    int n = snprintf(buf, KEY_BUF, "%slb:%s:%s", p->prefix, board, period);
    if (n >= 0 && n < KEY_BUF)
        return buf;
    return gm__redis_board_key(p, board, period);
}

/* Whether the state's period is left out: pruned by pending changes, past
 * its TTL, or finished and gone from the periods set (the memory guard). */
static bool
period_excluded(const struct run *r, const char *period)
{
    if (smap_find(&r->pruned, period) != SIZE_MAX)
        return true;
    int64_t at;
    if (!r->rules)
        return false;
    if (gm_redisproj_expiry(period, r->rules, &at) == 0 && at <= r->now)
        return true;
    if (gm__redis_period_bound(period, r->rules, 1, 1, &at) == 0 && at <= r->now &&
        smap_find(&r->periods, period) == SIZE_MAX)
        return true;
    return false;
}

/* The index of the key of (board, period), added when new. */
static size_t
key_index(struct run *r, const char *board, const char *period)
{
    char buf[KEY_BUF], *k = key_name(r->p, board, period, buf);
    bool added;
    size_t i = smap_add(&r->keys, k, &added);
    if (added) {
        if (i == r->cap_info) {
            r->cap_info = r->cap_info ? 2 * r->cap_info : 64;
            r->info = realloc(r->info, r->cap_info * sizeof *r->info);
            if (!r->info)
                abort();
        }
        struct keyinfo *ki = &r->info[i];
        memset(ki, 0, sizeof *ki);
        ki->card = -1;
        if (!(ki->board = strdup(board)) || !(ki->period = strdup(period)))
            abort();
        ki->excluded = smap_find(&r->pending_keys, k) != SIZE_MAX || period_excluded(r, period);
    }
    if (k != buf)
        free(k);
    return i;
}

static int
on_pending(void *ctx, const struct gm_change *ch)
{
    struct run *r = ctx;
    char buf[KEY_BUF];
    if (ch->user_id)
        smap_add(&r->pending_users, ch->user_id, NULL);
    for (size_t i = 0; i < ch->n_scores; i++) {
        char *k = key_name(r->p, ch->scores[i].board, ch->scores[i].period, buf);
        smap_add(&r->pending_keys, k, NULL);
        if (k != buf)
            free(k);
    }
    for (size_t i = 0; i < ch->n_pruned_periods; i++)
        smap_add(&r->pruned, ch->pruned_periods[i], NULL);
    return 0;
}

static int
on_count(void *ctx, const struct gm_learner *l)
{
    struct run *r = ctx;
    for (size_t i = 0; i < l->n_scores; i++) {
        size_t k = key_index(r, l->scores[i].board, l->scores[i].period); /* may move info */
        r->info[k].count++;
    }
    return 0;
}

/* Takes learners into the sample; stops (1) after want + 1 of a state. */
static int
on_sample(void *ctx, const struct gm_learner *l)
{
    struct run *r = ctx;
    if (r->taken > r->want)
        return 1;
    r->taken++;
    if (r->n_smp == r->cap_smp) {
        r->cap_smp = r->cap_smp ? 2 * r->cap_smp : 64;
        r->smp = realloc(r->smp, r->cap_smp * sizeof *r->smp);
        if (!r->smp)
            abort();
    }
    struct sampled *s = &r->smp[r->n_smp++];
    if (!(s->user = strdup(l->user_id)))
        abort();
    s->n_scores = l->n_scores;
    s->scores = calloc(l->n_scores ? l->n_scores : 1, sizeof *s->scores);
    if (!s->scores)
        abort();
    for (size_t i = 0; i < l->n_scores; i++) {
        s->scores[i].board = strdup(l->scores[i].board);
        s->scores[i].period = strdup(l->scores[i].period);
        if (!s->scores[i].board || !s->scores[i].period)
            abort();
        s->scores[i].score = l->scores[i].score;
        s->scores[i].reached_at = l->scores[i].reached_at;
    }
    return 0;
}

static int
sampled_cmp(const void *a, const void *b)
{
    return strcmp(((const struct sampled *)a)->user, ((const struct sampled *)b)->user);
}

static int
on_collect(void *ctx, const struct gm_learner *l)
{
    struct run *r = ctx;
    for (size_t i = 0; i < l->n_scores; i++) {
        size_t k = key_index(r, l->scores[i].board, l->scores[i].period);
        if (r->info[k].mismatch)
            members_add(&r->collect, k, l->user_id,
                        gm_lbscore_encode(l->scores[i].score, l->scores[i].reached_at,
                                          l->scores[i].period));
    }
    return 0;
}

static void
run_free(struct run *r)
{
    smap_free(&r->pending_users);
    smap_free(&r->pending_keys);
    smap_free(&r->pruned);
    smap_free(&r->periods);
    for (size_t i = 0; i < r->keys.n; i++) {
        free(r->info[i].board);
        free(r->info[i].period);
    }
    smap_free(&r->keys);
    free(r->info);
    for (size_t i = 0; i < r->n_smp; i++) {
        for (size_t j = 0; j < r->smp[i].n_scores; j++) {
            free((char *)r->smp[i].scores[j].board);
            free((char *)r->smp[i].scores[j].period);
        }
        free(r->smp[i].scores);
        free(r->smp[i].user);
    }
    free(r->smp);
    members_free(&r->check);
    members_free(&r->writes);
    members_free(&r->removes);
    members_free(&r->collect);
}

/* Whether the score Redis gave (a double's text) is the encoded score. */
static bool
same_score(const char *text, int64_t encoded)
{
    char *end;
    double d = strtod(text, &end);
    return *end == '\0' && d == (double)encoded;
}

/* Round trip: WATCH and GET each cursor into cursor[]. */
static int
read_cursors(struct gm_redisproj *p, const int *parts, size_t n, int64_t *cursor,
             struct gm_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char *k = gm__redis_cursor_key(p, parts ? parts[i] : 0);
        gm__redis_appendf(p, "WATCH %s", k);
        gm__redis_appendf(p, "GET %s", k);
        free(k);
    }
    for (size_t i = 0; i < 2 * n; i++) {
        redisReply *x;
        if ((rc = gm__redis_reply(p, &x, err)))
            return rc;
        if (x->type == REDIS_REPLY_ERROR && rc == 0)
            rc = gm_err_set(err, GM_EREDIS, "Redis: reading the cursors: %s", x->str);
        else if (i % 2 == 1)
            cursor[i / 2] = x->type == REDIS_REPLY_STRING ? strtoll(x->str, NULL, 10) : 0;
        freeReplyObject(x);
    }
    return rc;
}

/* Round trip: the periods set into r->periods. */
static int
read_periods(struct run *r, struct gm_err *err)
{
    char *key = gm__redis_name(r->p, "periods");
    redisReply *x;
    gm__redis_appendf(r->p, "SMEMBERS %s", key);
    free(key);
    int rc = gm__redis_reply(r->p, &x, err);
    if (rc)
        return rc;
    if (x->type != REDIS_REPLY_ARRAY)
        rc = gm_err_set(err, GM_EREDIS, "Redis SMEMBERS periods: %s",
                        x->type == REDIS_REPLY_ERROR ? x->str : "unexpected reply");
    for (size_t i = 0; rc == 0 && i < x->elements; i++)
        if (x->element[i]->type == REDIS_REPLY_STRING)
            smap_add(&r->periods, x->element[i]->str, NULL);
    freeReplyObject(x);
    return rc;
}

/* Round trip: ZCARD of every key of the state that is compared. */
static int
read_sizes(struct run *r, struct gm_err *err)
{
    for (size_t i = 0; i < r->keys.n; i++)
        if (!r->info[i].excluded)
            gm__redis_appendf(r->p, "ZCARD %s", r->keys.keys[i]);
    int rc = 0;
    for (size_t i = 0; i < r->keys.n; i++) {
        if (r->info[i].excluded)
            continue;
        redisReply *x;
        if ((rc = gm__redis_reply(r->p, &x, err)))
            return rc;
        if (x->type == REDIS_REPLY_INTEGER)
            r->info[i].card = x->integer;
        else
            rc = rc ? rc
                    : gm_err_set(err, GM_EREDIS, "Redis ZCARD %s: %s", r->keys.keys[i],
                                 x->type == REDIS_REPLY_ERROR ? x->str : "unexpected reply");
        freeReplyObject(x);
    }
    return rc;
}

/*
 * Keys Redis holds that the state does not: UNLINKed at the repair, their
 * members counted as drift. *doomed new (free each).
 */
static int
find_strangers(struct run *r, char ***doomed, size_t *n_doomed, struct gm_err *err)
{
    char **live = NULL;
    size_t n_live = 0;
    int rc = gm__redis_live_keys(r->p, &live, &n_live, err);
    *doomed = NULL;
    *n_doomed = 0;
    size_t lb_len = strlen(r->p->prefix) + 3;
    for (size_t i = 0; rc == 0 && i < n_live; i++) {
        const char *k = live[i], *colon = strrchr(k, ':');
        if (smap_find(&r->keys, k) != SIZE_MAX || smap_find(&r->pending_keys, k) != SIZE_MAX ||
            strncmp(k + strlen(r->p->prefix), "lb:", 3) != 0 || !colon || colon < k + lb_len)
            continue;
        if (period_excluded(r, colon + 1))
            continue; /* going away on its own (TTL, pending prune) */
        if (!(*doomed = realloc(*doomed, (*n_doomed + 1) * sizeof **doomed)))
            abort();
        (*doomed)[(*n_doomed)++] = live[i];
        live[i] = NULL;
    }
    for (size_t i = 0; i < n_live; i++)
        free(live[i]);
    free(live);
    if (rc == 0 && *n_doomed) {
        for (size_t i = 0; i < *n_doomed; i++)
            gm__redis_appendf(r->p, "ZCARD %s", (*doomed)[i]);
        for (size_t i = 0; i < *n_doomed; i++) {
            redisReply *x;
            if ((rc = gm__redis_reply(r->p, &x, err)))
                break;
            if (x->type == REDIS_REPLY_INTEGER)
                r->stranger_members += (uint64_t)x->integer;
            else
                r->stranger_members++; /* not even a sorted set */
            freeReplyObject(x);
        }
    }
    return rc;
}

/* Round trips: ZMSCORE of the sampled members of keys whose size matched;
 * a missing or different score becomes a ZADD. */
static int
check_sample(struct run *r, struct gm_err *err)
{
    if (r->check.n)
        qsort(r->check.v, r->check.n, sizeof *r->check.v, member_cmp);
    size_t i = 0;
    int rc = 0;
    /* queue every command, then read every reply */
    size_t n_cmds = 0;
    while (i < r->check.n) {
        size_t j = i;
        while (j < r->check.n && j - i < MEMBERS_PER_CMD && r->check.v[j].key == r->check.v[i].key)
            j++;
        const char **argv = malloc((2 + j - i) * sizeof *argv);
        if (!argv)
            abort();
        argv[0] = "ZMSCORE";
        argv[1] = r->keys.keys[r->check.v[i].key];
        for (size_t k = i; k < j; k++)
            argv[2 + k - i] = r->check.v[k].user;
        gm__redis_append(r->p, (int)(2 + j - i), argv, NULL);
        free(argv);
        n_cmds++;
        i = j;
    }
    i = 0;
    for (size_t c = 0; c < n_cmds; c++) {
        size_t j = i;
        while (j < r->check.n && j - i < MEMBERS_PER_CMD && r->check.v[j].key == r->check.v[i].key)
            j++;
        redisReply *x;
        if ((rc = gm__redis_reply(r->p, &x, err)))
            return rc;
        if (x->type != REDIS_REPLY_ARRAY || x->elements != j - i) {
            rc = gm_err_set(err, GM_EREDIS, "Redis ZMSCORE %s: %s", r->keys.keys[r->check.v[i].key],
                            x->type == REDIS_REPLY_ERROR ? x->str : "unexpected reply");
            freeReplyObject(x);
            return rc;
        }
        for (size_t k = i; k < j; k++) {
            const redisReply *e = x->element[k - i];
            if (e->type != REDIS_REPLY_STRING || !same_score(e->str, r->check.v[k].score)) {
                members_add(&r->writes, r->check.v[k].key, r->check.v[k].user, r->check.v[k].score);
                r->info[r->check.v[k].key].repaired = true;
            }
        }
        freeReplyObject(x);
        i = j;
    }
    return rc;
}

/* A member as ZRANGE gave it (borrowed from the reply). */
struct zmember {
    const char *user, *score;
};

static int
zmember_cmp(const void *a, const void *b)
{
    return strcmp(((const struct zmember *)a)->user, ((const struct zmember *)b)->user);
}

/* One mismatched key: its members in Redis against those the state has
 * (r->collect[from..to), sorted by user); the differences to writes and
 * removes. */
static int
diff_key(struct run *r, size_t key, size_t from, size_t to, struct gm_err *err)
{
    redisReply *x;
    gm__redis_appendf(r->p, "ZRANGE %s 0 -1 WITHSCORES", r->keys.keys[key]);
    int rc = gm__redis_reply(r->p, &x, err);
    if (rc)
        return rc;
    if (x->type != REDIS_REPLY_ARRAY || x->elements % 2) {
        rc = gm_err_set(err, GM_EREDIS, "Redis ZRANGE %s: %s", r->keys.keys[key],
                        x->type == REDIS_REPLY_ERROR ? x->str : "unexpected reply");
        freeReplyObject(x);
        return rc;
    }
    size_t n = x->elements / 2;
    struct zmember *have = calloc(n ? n : 1, sizeof *have);
    if (!have)
        abort();
    for (size_t i = 0; i < n; i++) {
        have[i].user = x->element[2 * i]->str;
        have[i].score = x->element[2 * i + 1]->str;
    }
    if (n)
        qsort(have, n, sizeof *have, zmember_cmp);
    if (n == 0)
        r->recreated++;
    size_t a = from, b = 0;
    while (a < to || b < n) {
        int c = a == to ? 1 : b == n ? -1 : strcmp(r->collect.v[a].user, have[b].user);
        if (c < 0) {
            members_add(&r->writes, key, r->collect.v[a].user, r->collect.v[a].score);
            a++;
        } else if (c > 0) {
            members_add(&r->removes, key, have[b].user, 0);
            b++;
        } else {
            if (!same_score(have[b].score, r->collect.v[a].score))
                members_add(&r->writes, key, r->collect.v[a].user, r->collect.v[a].score);
            a++;
            b++;
        }
    }
    r->info[key].repaired = true;
    free(have);
    freeReplyObject(x);
    return 0;
}

/* Queues cmd (ZADD or ZREM) for l's members, a command per key and chunk. */
static void
queue_members(struct run *r, const char *cmd, struct members *l, bool with_score)
{
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, member_cmp);
    char(*score)[GM_LBSCORE_TEXT_MAX] = calloc(MEMBERS_PER_CMD, sizeof *score);
    const char **argv = malloc((2 + 2 * MEMBERS_PER_CMD) * sizeof *argv);
    if (!score || !argv)
        abort();
    for (size_t i = 0; i < l->n;) {
        size_t j = i;
        int argc = 0;
        argv[argc++] = cmd;
        argv[argc++] = r->keys.keys[l->v[i].key];
        while (j < l->n && j - i < MEMBERS_PER_CMD && l->v[j].key == l->v[i].key) {
            if (with_score) {
                snprintf(score[j - i], sizeof score[j - i], "%lld", (long long)l->v[j].score);
                argv[argc++] = score[j - i];
            }
            argv[argc++] = l->v[j].user;
            j++;
        }
        gm__redis_append(r->p, argc, argv, NULL);
        i = j;
    }
    free(score);
    free(argv);
}

/*
 * MULTI, the repairs, the TTLs and sets of the keys written, EXEC. *voided
 * when the WATCHed cursors moved (nothing was written).
 */
static int
repair(struct run *r, char **doomed, size_t n_doomed, bool *voided, struct gm_err *err)
{
    struct gm__pairs pairs = {0};
    redisReply *x = NULL;
    int rc = 0;
    *voided = false;
    gm__redis_appendf(r->p, "MULTI");
    queue_members(r, "ZADD", &r->writes, true);
    queue_members(r, "ZREM", &r->removes, false);
    for (size_t i = 0; i < n_doomed; i++)
        gm__redis_appendf(r->p, "UNLINK %s", doomed[i]);
    for (size_t i = 0; i < r->keys.n; i++)
        if (r->info[i].repaired)
            gm__pairs_add(&pairs, r->info[i].board, r->info[i].period);
    gm__pairs_unique(&pairs, 0);
    gm__redis_queue_pairs(r->p, &pairs, 0, r->rules, false);
    /* boards kept elsewhere (gamify-api's mirror) are read again */
    gm__redis_queue_scores(r->p, NULL);
    gm__redis_appendf(r->p, "EXEC");
    bool refused = false;
    while (r->p->queued > 1) {
        if ((rc = gm__redis_reply(r->p, &x, err)))
            goto out;
        if (x->type == REDIS_REPLY_ERROR && !refused) {
            gm_err_set(err, GM_EREDIS, "Redis refused a repair: %s", x->str);
            refused = true;
        }
        freeReplyObject(x);
        x = NULL;
    }
    if ((rc = gm__redis_reply(r->p, &x, err)))
        goto out;
    if (refused) {
        rc = GM_EREDIS;
    } else if (x->type == REDIS_REPLY_NIL) {
        *voided = true;
    } else if (x->type != REDIS_REPLY_ARRAY) {
        rc = gm_err_set(err, GM_EREDIS, "Redis EXEC of the repairs: %s",
                        x->type == REDIS_REPLY_ERROR ? x->str : "unexpected reply");
    }
out:
    freeReplyObject(x);
    gm__pairs_clear(&pairs);
    return rc;
}

static void
unwatch(struct gm_redisproj *p)
{
    struct gm_err ignored;
    if (!p->c)
        return;
    gm__redis_appendf(p, "UNWATCH");
    gm__redis_drain(p, &ignored);
}

/* Takes the first want learners of the sample in user id order, and moves
 * p->recon_from to the one after them (NULL: from the first again). */
static void
cut_sample(struct run *r)
{
    if (r->n_smp)
        qsort(r->smp, r->n_smp, sizeof *r->smp, sampled_cmp);
    free(r->p->recon_from);
    r->p->recon_from = NULL;
    if (r->n_smp > r->want && !(r->p->recon_from = strdup(r->smp[r->want].user)))
        abort();
    for (size_t i = 0; i < r->n_smp && i < r->want; i++) {
        const struct sampled *s = &r->smp[i];
        if (smap_find(&r->pending_users, s->user) != SIZE_MAX)
            continue;
        for (size_t j = 0; j < s->n_scores; j++) {
            size_t k = key_index(r, s->scores[j].board, s->scores[j].period);
            if (!r->info[k].excluded)
                members_add(&r->check, k, s->user,
                            gm_lbscore_encode(s->scores[j].score, s->scores[j].reached_at,
                                              s->scores[j].period));
        }
        atomic_fetch_add(&r->p->r_sampled, 1);
    }
}

int
gm_redisproj_reconcile(struct gm_redisproj *p, struct gm_state *const *st, const int *partitions,
                       size_t n, bool whole, uint64_t *drift, struct gm_err *err)
{
    struct gm_feed **feeds = calloc(n ? n : 1, sizeof *feeds);
    int64_t *cursor = calloc(n ? n : 1, sizeof *cursor);
    struct run r = {.p = p, .whole = whole, .now = (int64_t)time(NULL), .want = p->recon_sample};
    char **doomed = NULL;
    size_t n_doomed = 0;
    bool watching = false, voided = false;
    int rc = 0;
    if (!feeds || !cursor)
        abort();
    if (drift)
        *drift = 0;
    /* its EXEC or UNWATCH ends the WATCH a step armed (project.c) */
    p->watching = false;
    if (n == 0)
        goto out; /* no state, nothing to compare */
    for (size_t i = 0; i < n; i++) {
        if ((rc = gm_feed_open(st[i], &feeds[i]))) {
            gm_err_set(err, rc, "reconcile: reading the state: %s", gm_strerror(rc));
            goto out;
        }
    }
    if ((rc = gm__redis_connect(p, err)))
        goto out;
    watching = true;
    if ((rc = read_cursors(p, partitions, n, cursor, err)))
        goto out;
    /* what Redis has not seen yet is left out of the comparison */
    int64_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t end = gm_feed_end(feeds[i]);
        if (cursor[i] > end || cursor[i] < gm_feed_start(feeds[i]))
            pending = MAX_PENDING + 1; /* the step reports it; a rebuild is due */
        else
            pending += end - cursor[i];
    }
    if (pending > MAX_PENDING) {
        atomic_fetch_add(&p->r_skipped, 1);
        /* debug: it is tried again every second while a projector catches up */
        gm_log(GM_LOG_DEBUG, "redis reconcile: put off, %lld changes not yet in Redis",
               (long long)pending);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t next;
        if ((rc = gm_feed_changes(feeds[i], cursor[i], SIZE_MAX, on_pending, &r, &next))) {
            gm_err_set(err, rc, "reconcile: reading the change feed: %s", gm_strerror(rc));
            goto out;
        }
    }
    r.rules = gm_feed_rules(feeds[0]);
    if ((rc = read_periods(&r, err)))
        goto out;

    /* the state: sizes (whole) and the sample */
    for (size_t i = 0; whole && i < n; i++) {
        if ((rc = gm_feed_learners(feeds[i], on_count, &r))) {
            gm_err_set(err, rc, "reconcile: reading the learners: %s", gm_strerror(rc));
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        r.taken = 0;
        rc = gm_feed_learners_from(feeds[i], p->recon_from, on_sample, &r);
        if (rc < 0) {
            gm_err_set(err, rc, "reconcile: reading the learners: %s", gm_strerror(rc));
            goto out;
        }
        rc = 0;
    }
    cut_sample(&r);

    /* Redis: sizes, strangers, then the sample of keys whose size matched */
    if (whole) {
        if ((rc = read_sizes(&r, err)) || (rc = find_strangers(&r, &doomed, &n_doomed, err)))
            goto out;
        for (size_t i = 0; i < r.keys.n; i++) {
            struct keyinfo *ki = &r.info[i];
            if (ki->excluded || ki->card == ki->count)
                continue;
            ki->mismatch = true;
            r.sizes_off +=
                (uint64_t)(ki->card > ki->count ? ki->card - ki->count : ki->count - ki->card);
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < r.check.n; i++) {
        if (r.info[r.check.v[i].key].mismatch)
            free(r.check.v[i].user);
        else
            r.check.v[w++] = r.check.v[i];
    }
    r.check.n = w;
    if ((rc = check_sample(&r, err)))
        goto out;
    /* at least this much; past the threshold, not worth finding each one */
    uint64_t drift_found = r.sizes_off + r.stranger_members + r.writes.n;
    if (whole && drift_found > p->recon_rebuild_drift)
        goto rebuild;
    if (r.sizes_off > 0) {
        /* every member of the keys whose size differs */
        for (size_t i = 0; i < n; i++) {
            if ((rc = gm_feed_learners(feeds[i], on_collect, &r))) {
                gm_err_set(err, rc, "reconcile: reading the learners: %s", gm_strerror(rc));
                goto out;
            }
        }
        if (r.collect.n)
            qsort(r.collect.v, r.collect.n, sizeof *r.collect.v, member_cmp);
        size_t from = 0;
        for (size_t k = 0; k < r.keys.n; k++) {
            if (!r.info[k].mismatch)
                continue;
            while (from < r.collect.n && r.collect.v[from].key < k)
                from++;
            size_t to = from;
            while (to < r.collect.n && r.collect.v[to].key == k)
                to++;
            if ((rc = diff_key(&r, k, from, to, err)))
                goto out;
            from = to;
        }
    }
    r.removed = n_doomed;
    drift_found = r.writes.n + r.removes.n + r.stranger_members;
    if (whole && drift_found > p->recon_rebuild_drift)
        goto rebuild;
    if (drift_found > 0) {
        if ((rc = repair(&r, doomed, n_doomed, &voided, err)))
            goto out;
        watching = false;
        if (voided) {
            atomic_fetch_add(&p->r_skipped, 1);
            gm_log(GM_LOG_INFO, "redis reconcile: a cursor moved meanwhile; repairs put off");
            goto out;
        }
        gm_log(GM_LOG_WARN,
               "redis reconcile: repaired %llu members of the leaderboards (%llu keys "
               "recreated, %llu keys the state lacks deleted)",
               (unsigned long long)drift_found, (unsigned long long)r.recreated,
               (unsigned long long)r.removed);
        if (!whole && drift_found > p->recon_rebuild_drift)
            gm_log(GM_LOG_WARN, "redis reconcile: large drift in a partition's sample: check "
                                "the boards, and run gamify rebuild over every partition");
    }
    atomic_fetch_add(&p->r_runs, 1);
    atomic_fetch_add(&p->r_drift, drift_found);
    atomic_store(&p->r_last_drift, drift_found);
    atomic_fetch_add(&p->r_recreated, r.recreated);
    atomic_fetch_add(&p->r_removed, r.removed);
    if (drift)
        *drift = drift_found;
    goto out;

rebuild:
    unwatch(p);
    watching = false;
    for (size_t i = 0; i < n; i++) {
        gm_feed_close(feeds[i]);
        feeds[i] = NULL;
    }
    gm_log(GM_LOG_WARN,
           "redis reconcile: drift of at least %llu members, above %llu: rebuilding every "
           "leaderboard",
           (unsigned long long)drift_found, (unsigned long long)p->recon_rebuild_drift);
    struct gm_redisproj_opts o = {.prefix = p->prefix, .timeout_ms = p->timeout_ms};
    struct gm_redisproj_rebuild_stats rs;
    if ((rc = gm_redisproj_rebuild(p->url, &o, st, partitions, n, &rs, err)))
        goto out;
    atomic_fetch_add(&p->r_runs, 1);
    atomic_fetch_add(&p->r_rebuilds, 1);
    atomic_fetch_add(&p->r_drift, drift_found);
    atomic_store(&p->r_last_drift, drift_found);
    if (drift)
        *drift = drift_found;
    p->cursor = -1; /* the rebuild moved it */
out:
    if (rc) {
        atomic_fetch_add(&p->r_errors, 1);
        if (p->c)
            gm__redis_drop(p); /* whatever was queued or WATCHed goes with it */
    }
    if (watching && rc == 0)
        unwatch(p);
    for (size_t i = 0; i < n_doomed; i++)
        free(doomed[i]);
    free(doomed);
    for (size_t i = 0; i < n; i++)
        gm_feed_close(feeds[i]);
    free(feeds);
    free(cursor);
    run_free(&r);
    return rc;
}

int
gm__redis_maybe_reconcile(struct gm_redisproj *p, struct gm_state *st, struct gm_err *err)
{
    if (p->recon_interval_ms <= 0 || gm__redis_now_ms() < p->recon_next_ms)
        return 0;
    uint64_t skipped = atomic_load(&p->r_skipped);
    /* the run compares committed state only, and may undo scores written
     * early: the next step writes its changes again */
    p->early_end = -1;
    struct gm_err rerr;
    gm_err_clear(&rerr);
    int rc = gm_redisproj_reconcile(p, &st, &p->partition, 1, p->recon_whole, NULL, &rerr);
    bool put_off = rc == 0 && atomic_load(&p->r_skipped) != skipped;
    p->recon_next_ms = gm__redis_now_ms() + (put_off ? SKIP_RETRY_MS : p->recon_interval_ms);
    /* The step itself succeeded: a failed run is logged and tried again at
     * the next interval (a Redis that is down fails the next step anyway). */
    if (rc)
        gm_log(GM_LOG_WARN, "redis reconcile: %s", rerr.msg[0] ? rerr.msg : gm_strerror(rc));
    (void)err;
    return 0;
}

int
gm__redis_heal_trimmed(struct gm_redisproj *p, struct gm_state *st, struct gm_err *err)
{
    gm_log(GM_LOG_WARN,
           "redis projector partition %d: %s; the reconcile rebuilds every leaderboard from "
           "the state",
           p->partition, err->msg);
    struct gm_redisproj_opts o = {.prefix = p->prefix, .timeout_ms = p->timeout_ms};
    struct gm_redisproj_rebuild_stats rs;
    int rc = gm_redisproj_rebuild(p->url, &o, &st, &p->partition, 1, &rs, err);
    if (rc) {
        atomic_fetch_add(&p->r_errors, 1);
        return rc;
    }
    atomic_fetch_add(&p->r_runs, 1);
    atomic_fetch_add(&p->r_rebuilds, 1);
    p->cursor = -1; /* the rebuild moved it: the next step reads it */
    p->watching = false;
    p->early_end = -1;
    gm_log(GM_LOG_INFO, "redis projector partition %d: rebuilt %llu keys for %llu learners",
           p->partition, (unsigned long long)rs.keys, (unsigned long long)rs.learners);
    return 0;
}
