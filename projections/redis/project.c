/*
 * project.c: the projector's step. One step is one batch of changes from
 * the cursor kept in Redis:
 *
 *   (first step on a connection) WATCH cursor, GET cursor
 *   read the changes from one snapshot of the state
 *   one round trip: MULTI, SADD partitions, ZADD absolute scores,
 *                   SADD boards/periods, EXPIREAT, EVAL prune, SET cursor,
 *                   PUBLISH, EXEC, then WATCH cursor, GET cursor
 *
 * The WATCH makes the transaction void if anything else moved the cursor
 * since it was read (a rebuild, a second projector of the same partition);
 * the step then starts over from the new cursor. The WATCH and GET after
 * EXEC arm the next batch: when the GET shows the cursor this batch set, the
 * connection watches the cursor from that value on, so the next batch
 * starts from it without asking (one round trip per batch instead of two);
 * anything that moved the cursor in between voids the next EXEC. Whatever
 * else runs on the connection (the reconcile's EXEC ends every WATCH) or
 * drops it disarms it (p->watching). Scores are absolute, so writing a
 * change twice is harmless; a change is never skipped, because the cursor
 * moves only with the writes of the changes before it.
 */
#include "redis_int.h"

#include "feed.h"
#include "feedshare.h"
#include "lbscore.h"
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Pairs listed in one leaderboard-changed message; past it, "truncated". */
#define MESSAGE_MAX_PAIRS 1000

int
gm_redisproj_open(const char *url, int partition, const struct gm_redisproj_opts *opts,
                  struct gm_redisproj **out, struct gm_err *err)
{
    struct gm_redisproj *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    const char *prefix = opts && opts->prefix ? opts->prefix : GM_REDISPROJ_DEFAULT_PREFIX;
    int rc = 0;
    if (strlen(prefix) > GM_REDISPROJ_PREFIX_MAX) {
        rc = gm_err_set(err, GM_EINVAL, "Redis key prefix longer than %d bytes",
                        GM_REDISPROJ_PREFIX_MAX);
        goto out;
    }
    if (partition < 0) {
        rc = gm_err_set(err, GM_EINVAL, "partition %d: must be >= 0", partition);
        goto out;
    }
    if (opts && (opts->memory_permille < 0 || opts->memory_permille > 1000)) {
        rc = gm_err_set(err, GM_EINVAL, "memory guard: %d permille is not within 0-1000",
                        opts->memory_permille);
        goto out;
    }
    strcpy(p->prefix, prefix);
    p->memory_permille = opts ? opts->memory_permille : 0;
    p->guard_interval_ms = opts && opts->guard_interval_ms > 0 ? opts->guard_interval_ms : 1000;
    p->on_alert = opts ? opts->on_alert : NULL;
    p->alert_ctx = opts ? opts->alert_ctx : NULL;
    p->alert_repeat_ms = opts && opts->alert_repeat_ms > 0 ? opts->alert_repeat_ms : 60000;
    p->partition = partition;
    p->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 5000;
    p->max_backoff_ms = opts && opts->max_backoff_ms > 0 ? opts->max_backoff_ms : 10000;
    p->cursor = -1;
    p->early_end = -1;
    if (opts && opts->reconcile_interval_ms < 0) {
        rc = gm_err_set(err, GM_EINVAL, "reconcile interval %lld ms: must be >= 0",
                        (long long)opts->reconcile_interval_ms);
        goto out;
    }
    p->recon_interval_ms = opts ? opts->reconcile_interval_ms : 0;
    p->recon_next_ms = gm__redis_now_ms() + p->recon_interval_ms;
    p->recon_sample = opts && opts->reconcile_sample > 0 ? opts->reconcile_sample : 1000;
    p->recon_rebuild_drift =
        opts && opts->reconcile_rebuild_drift > 0 ? opts->reconcile_rebuild_drift : 10000;
    p->recon_whole = opts && opts->reconcile_whole;
    atomic_store(&p->g_used, -1);
    atomic_store(&p->g_max, -1);
    if ((rc = gm__redis_parse_url(p, url, err)))
        goto out;
    if (!(p->url = strdup(url)))
        abort();
out:
    if (rc) {
        gm_redisproj_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

void
gm_redisproj_close(struct gm_redisproj *p)
{
    if (!p)
        return;
    gm__redis_drop(p);
    free(p->host);
    free(p->user);
    free(p->password);
    free(p->url);
    free(p->recon_from);
    gm_feed_rules_cache_deinit(&p->rules);
    free(p);
}

void
gm_redisproj_set_share(struct gm_redisproj *p, struct gm_feedshare *sh)
{
    p->share = sh;
}

int64_t
gm_redisproj_backoff_ms(const struct gm_redisproj *p)
{
    return p->backoff_ms;
}

const struct gm_redisproj_stats *
gm_redisproj_stats(const struct gm_redisproj *p)
{
    return &p->stats;
}

void
gm_redisproj_guard_stats(const struct gm_redisproj *p, struct gm_redisproj_guard_stats *out)
{
    struct gm_redisproj *m = (struct gm_redisproj *)p;
    out->actions = atomic_load(&m->g_actions);
    out->periods_deleted = atomic_load(&m->g_periods);
    out->keys_deleted = atomic_load(&m->g_keys);
    out->used_memory = atomic_load(&m->g_used);
    out->maxmemory = atomic_load(&m->g_max);
    out->last_action = atomic_load(&m->g_last);
}

void
gm_redisproj_reconcile_stats(const struct gm_redisproj *p, struct gm_redisproj_reconcile_stats *out)
{
    struct gm_redisproj *m = (struct gm_redisproj *)p;
    out->runs = atomic_load(&m->r_runs);
    out->skipped = atomic_load(&m->r_skipped);
    out->errors = atomic_load(&m->r_errors);
    out->drift = atomic_load(&m->r_drift);
    out->last_drift = atomic_load(&m->r_last_drift);
    out->rebuilds = atomic_load(&m->r_rebuilds);
    out->keys_recreated = atomic_load(&m->r_recreated);
    out->keys_removed = atomic_load(&m->r_removed);
    out->sampled = atomic_load(&m->r_sampled);
}

int64_t
gm__redis_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the memory guard when it is on and due. */
static int
maybe_guard(struct gm_redisproj *p, const struct gm_rules *rules, struct gm_err *err)
{
    int64_t now = gm__redis_now_ms();
    if (p->memory_permille <= 0 ||
        (p->guard_last_ms && now - p->guard_last_ms < p->guard_interval_ms))
        return 0;
    p->guard_last_ms = now;
    return gm_redisproj_guard(p, rules, (int64_t)time(NULL), err);
}

int64_t
gm_redisproj_cursor(const struct gm_redisproj *p)
{
    return p->cursor;
}

/* A hash of the rules text c holds: an early write's TTLs came from
 * these rules, so a step covers its changes only under the same text. */
static uint64_t
rules_hash(const struct gm_feed_rules_cache *c)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < c->len; i++)
        h = (h ^ ((const uint8_t *)c->text)[i]) * 1099511628211ULL;
    return h;
}

/* The scores of one key in a batch, in change order (the last one wins). */
struct key_scores {
    char *key;
    char (*score)[GM_LBSCORE_TEXT_MAX];
    const char **user; /* copies, owned */
    size_t n, cap;
};

/* What a batch collects while its changes are queued. */
struct batch {
    struct gm_redisproj *p;
    const struct gm_rules *rules;
    struct gm__pairs pairs;  /* every pair touched, for the message */
    size_t flushed;          /* pairs[0..flushed) have their SADD and TTL queued */
    struct key_scores *keys; /* pending ZADDs, one per key */
    size_t n_keys, cap_keys;
    size_t *slots; /* open addressing over keys: index + 1, 0 empty */
    size_t n_slots;
    char **pruned;
    size_t n_pruned, cap_pruned;
    size_t changes;
    struct gm_lbscores scores; /* the leaderboard-scores message: every ZADD, in order */
    char *boards_key, *periods_key, *lb_prefix, *partitions_key, *pruned_prefix;
    char partition[16];
};

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

/* The pending scores of key (new when first seen). */
static struct key_scores *
key_scores(struct batch *b, const char *key)
{
    if (2 * (b->n_keys + 1) > b->n_slots) {
        size_t n = b->n_slots ? 2 * b->n_slots : 256;
        size_t *slots = calloc(n, sizeof *slots);
        if (!slots)
            abort();
        for (size_t i = 0; i < b->n_keys; i++) {
            size_t h = hash_str(b->keys[i].key) & (n - 1);
            while (slots[h])
                h = (h + 1) & (n - 1);
            slots[h] = i + 1;
        }
        free(b->slots);
        b->slots = slots;
        b->n_slots = n;
    }
    size_t h = hash_str(key) & (b->n_slots - 1);
    for (; b->slots[h]; h = (h + 1) & (b->n_slots - 1))
        if (strcmp(b->keys[b->slots[h] - 1].key, key) == 0)
            return &b->keys[b->slots[h] - 1];
    if (b->n_keys == b->cap_keys) {
        b->cap_keys = b->cap_keys ? 2 * b->cap_keys : 64;
        b->keys = realloc(b->keys, b->cap_keys * sizeof *b->keys);
        if (!b->keys)
            abort();
    }
    struct key_scores *k = &b->keys[b->n_keys++];
    memset(k, 0, sizeof *k);
    if (!(k->key = strdup(key)))
        abort();
    b->slots[h] = b->n_keys;
    return k;
}

/* Queues one ZADD per key with every score pending for it, and forgets them. */
static void
flush_scores(struct batch *b)
{
    for (size_t i = 0; i < b->n_keys; i++) {
        struct key_scores *k = &b->keys[i];
        const char **argv = malloc((2 + 2 * k->n) * sizeof *argv);
        if (!argv)
            abort();
        argv[0] = "ZADD";
        argv[1] = k->key;
        size_t key_len = strlen(k->key);
        for (size_t j = 0; j < k->n; j++) {
            argv[2 + 2 * j] = k->score[j];
            argv[3 + 2 * j] = k->user[j];
            gm_lbscores_add_text(&b->scores, k->key, key_len, k->user[j], strlen(k->user[j]),
                                 k->score[j], strlen(k->score[j]));
        }
        gm__redis_append(b->p, (int)(2 + 2 * k->n), argv, NULL);
        free(argv);
        for (size_t j = 0; j < k->n; j++)
            free((char *)k->user[j]);
        free(k->score);
        free(k->user);
        free(k->key);
    }
    b->n_keys = 0;
    if (b->slots)
        memset(b->slots, 0, b->n_slots * sizeof *b->slots);
}

/* Queues what is pending: the scores, then the boards and periods sets and
 * the TTLs of the keys they created. */
static void
flush_pairs(struct batch *b)
{
    flush_scores(b);
    gm__pairs_unique(&b->pairs, b->flushed);
    gm__redis_queue_pairs(b->p, &b->pairs, b->flushed, b->rules, false);
    b->flushed = b->pairs.n;
}

static int
on_change(void *ctx, const struct gm_change *ch)
{
    struct batch *b = ctx;
    for (size_t i = 0; i < ch->n_scores; i++) {
        const struct gm_score *s = &ch->scores[i];
        char *key = gm__redis_board_key(b->p, s->board, s->period);
        struct key_scores *k = key_scores(b, key);
        free(key);
        if (k->n == k->cap) {
            k->cap = k->cap ? 2 * k->cap : 8;
            k->score = realloc(k->score, k->cap * sizeof *k->score);
            k->user = realloc(k->user, k->cap * sizeof *k->user);
            if (!k->score || !k->user)
                abort();
        }
        gm_lbscore_format(s->score, s->reached_at, s->period, k->score[k->n]);
        if (!(k->user[k->n++] = strdup(ch->user_id)))
            abort();
        gm__pairs_add(&b->pairs, s->board, s->period);
    }
    if (ch->n_pruned_periods > 0) {
        /* What was queued before for these periods goes first, so that the
         * prune leaves no key and no periods member behind. */
        flush_pairs(b);
        size_t argc = 9 + ch->n_pruned_periods;
        const char **argv = malloc(argc * sizeof *argv);
        if (!argv)
            abort();
        argv[0] = "EVAL";
        argv[1] = gm__redis_prune_part_script;
        argv[2] = "3";
        argv[3] = b->boards_key;
        argv[4] = b->periods_key;
        argv[5] = b->partitions_key;
        argv[6] = b->lb_prefix;
        argv[7] = b->partition;
        argv[8] = b->pruned_prefix;
        for (size_t i = 0; i < ch->n_pruned_periods; i++) {
            argv[9 + i] = ch->pruned_periods[i];
            if (b->n_pruned == b->cap_pruned) {
                b->cap_pruned = b->cap_pruned ? 2 * b->cap_pruned : 8;
                b->pruned = realloc(b->pruned, b->cap_pruned * sizeof *b->pruned);
                if (!b->pruned)
                    abort();
            }
            if (!(b->pruned[b->n_pruned++] = strdup(ch->pruned_periods[i])))
                abort();
        }
        gm__redis_append(b->p, (int)argc, argv, NULL);
        free(argv);
        /* readers of the scores message drop their boards here */
        gm_lbscores_reset(&b->scores);
    }
    b->changes++;
    return 0;
}

/*
 * The leaderboard-changed message: {"partition":P,"next":SEQ,
 * "changed":[{"board":B,"period":K},...],"pruned":[K,...]} with
 * "truncated":true when more pairs changed than it lists. New; free().
 */
static char *
message(const struct batch *b, int partition, int64_t next)
{
    return gm__redis_message(&b->pairs, MESSAGE_MAX_PAIRS, b->pruned, b->n_pruned, partition, next);
}

static void
batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n_keys; i++) {
        for (size_t j = 0; j < b->keys[i].n; j++)
            free((char *)b->keys[i].user[j]);
        free(b->keys[i].score);
        free(b->keys[i].user);
        free(b->keys[i].key);
    }
    free(b->keys);
    free(b->slots);
    gm__pairs_clear(&b->pairs);
    gm_lbscores_deinit(&b->scores);
    for (size_t i = 0; i < b->n_pruned; i++)
        free(b->pruned[i]);
    free(b->pruned);
    free(b->boards_key);
    free(b->periods_key);
    free(b->lb_prefix);
    free(b->partitions_key);
    free(b->pruned_prefix);
}

/*
 * Reads the replies of a queued WATCH and GET of the cursor into *cursor:
 * the connection then watches the cursor from that value on.
 */
static int
watched_cursor(struct gm_redisproj *p, const char *cursor_key, int64_t *cursor, struct gm_err *err)
{
    redisReply *w = NULL, *g = NULL;
    int rc = gm__redis_reply(p, &w, err);
    if (rc == 0)
        rc = gm__redis_reply(p, &g, err);
    if (rc)
        goto out;
    if (w->type == REDIS_REPLY_ERROR || g->type == REDIS_REPLY_ERROR) {
        rc = gm_err_set(err, GM_EREDIS, "Redis: reading the cursor %s: %s", cursor_key,
                        w->type == REDIS_REPLY_ERROR ? w->str : g->str);
        goto out;
    }
    if (g->type == REDIS_REPLY_NIL) {
        *cursor = 0;
    } else {
        char *end;
        long long v = g->type == REDIS_REPLY_STRING ? strtoll(g->str, &end, 10) : -1;
        if (g->type != REDIS_REPLY_STRING || *end || v < 0) {
            rc = gm_err_set(err, GM_EINVAL, "Redis: the cursor %s is not a sequence number",
                            cursor_key);
            goto out;
        }
        *cursor = v;
    }
out:
    freeReplyObject(w);
    freeReplyObject(g);
    return rc;
}

/* A round trip: WATCH and GET the cursor into p->cursor (arms p->watching). */
static int
read_cursor(struct gm_redisproj *p, const char *cursor_key, struct gm_err *err)
{
    p->watching = false;
    gm__redis_appendf(p, "WATCH %s", cursor_key);
    gm__redis_appendf(p, "GET %s", cursor_key);
    int rc = watched_cursor(p, cursor_key, &p->cursor, err);
    if (rc == 0)
        p->watching = true;
    return rc;
}

/*
 * One attempt: *aborted when the WATCH voided the transaction. Any error
 * leaves the connection dropped, so that nothing half-queued is sent.
 */
static int
attempt(struct gm_redisproj *p, struct gm_state *st, size_t max, size_t *n, bool *aborted,
        struct gm_err *err)
{
    struct gm_feed *f = NULL;
    struct batch b = {.p = p};
    char *cursor_key = gm__redis_cursor_key(p, p->partition), *msg = NULL, *channel = NULL;
    redisReply *r = NULL;
    int rc;
    *aborted = false;
    if ((rc = gm__redis_connect(p, err)))
        goto out;
    if (!p->watching && (rc = read_cursor(p, cursor_key, err)))
        goto out;
    if ((rc = gm_feed_open(st, &f))) {
        gm_err_set(err, rc, "reading the state: %s", gm_strerror(rc));
        goto out;
    }
    int64_t end = gm_feed_end(f), next = p->cursor;
    if (p->cursor > end) {
        /* read it again next time: it may move back (a rebuild) while the
         * state catches up (kproj.c) */
        p->watching = false;
        rc = gm_err_set(err, GM_EINVAL,
                        "the Redis cursor of partition %d is %lld, past the end of the state's "
                        "change feed (%lld): this Redis was written from another state; run "
                        "gamify rebuild",
                        p->partition, (long long)p->cursor, (long long)end);
        goto out;
    }
    if (p->cursor == end)
        goto out; /* up to date; the WATCH stays for the next batch */

    b.rules = gm_feed_rules_cached(f, &p->rules);
    b.boards_key = gm__redis_name(p, "boards");
    b.periods_key = gm__redis_name(p, "periods");
    b.lb_prefix = gm__redis_name(p, "lb:");
    b.partitions_key = gm__redis_name(p, "partitions");
    b.pruned_prefix = gm__redis_name(p, "pruned:");
    snprintf(b.partition, sizeof b.partition, "%d", p->partition);
    /* every change up to the end was written early (before its commit):
     * only the cursor moves */
    bool covered = p->share && p->early_end >= end && p->early_from <= p->cursor &&
                   p->early_gen == gm_feedshare_gen(p->share) &&
                   p->early_rules == rules_hash(&p->rules);
    gm__redis_appendf(p, "MULTI");
    if (covered) {
        next = end;
        b.changes = (size_t)(end - p->cursor);
        gm__redis_appendf(p, "SET %s %lld", cursor_key, (long long)next);
        goto queued;
    }
    /* the partitions whose prunes a period's keys wait for */
    gm__redis_appendf(p, "SADD %s %s", b.partitions_key, b.partition);
    rc = gm_feedshare_changes(p->share, f, p->cursor, max, on_change, &b, &next);
    if (rc == GM_ENOTFOUND) {
        gm_err_set(err, rc,
                   "partition %d: the change feed starts at %lld, after the Redis cursor %lld "
                   "(trimmed): run gamify rebuild",
                   p->partition, (long long)gm_feed_start(f), (long long)p->cursor);
        goto out;
    }
    if (rc) {
        gm_err_set(err, rc, "reading the change feed: %s", gm_strerror(rc));
        goto out;
    }
    flush_pairs(&b);
    gm__pairs_unique(&b.pairs, 0);
    gm__redis_appendf(p, "SET %s %lld", cursor_key, (long long)next);
    msg = message(&b, p->partition, next);
    channel = gm__redis_name(p, "leaderboard-changed");
    gm__redis_appendf(p, "PUBLISH %s %s", channel, msg);
    gm__redis_queue_scores(p, &b.scores);
queued:
    gm__redis_appendf(p, "EXEC");
    /* arms the next batch (see the top of the file) */
    gm__redis_appendf(p, "WATCH %s", cursor_key);
    gm__redis_appendf(p, "GET %s", cursor_key);
    p->watching = false;

    /* MULTI's +OK and every +QUEUED, then EXEC's array (nil: WATCH fired),
     * then the WATCH and GET. */
    const char *queue_error = NULL;
    while (p->queued > 3) {
        if ((rc = gm__redis_reply(p, &r, err)))
            goto out;
        if (r->type == REDIS_REPLY_ERROR && !queue_error) {
            gm_err_set(err, GM_EREDIS, "Redis refused a command of the batch: %s", r->str);
            queue_error = "";
        }
        freeReplyObject(r);
        r = NULL;
    }
    if ((rc = gm__redis_reply(p, &r, err)))
        goto out;
    int64_t after;
    if ((rc = watched_cursor(p, cursor_key, &after, err)))
        goto out;
    if (queue_error) {
        rc = GM_EREDIS; /* EXEC answered EXECABORT: nothing was written */
        goto out;
    }
    if (r->type == REDIS_REPLY_NIL) {
        /* someone moved the cursor: the next attempt starts from theirs */
        p->cursor = after;
        p->watching = true;
        *aborted = true;
        goto out;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        rc = gm_err_set(err, GM_EREDIS, "Redis EXEC: %s",
                        r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        goto out;
    }
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_ERROR) {
            /* The rest was applied (Redis does not roll back): someone put
             * something else under our keys. Count it as a failed batch. */
            rc = gm_err_set(err, GM_EREDIS, "Redis: a command of the batch failed: %s",
                            r->element[i]->str);
            gm_log(GM_LOG_ERROR, "redis projector partition %d: %s", p->partition, err->msg);
            goto out;
        }
    }
    p->cursor = next;
    /* Written here from the old cursor on: a member the early writes had
     * moved past next holds an older score again, so they cover nothing
     * now (the next step writes from next on). */
    if (!covered)
        p->early_end = -1;
    /* nobody wrote the cursor between EXEC and WATCH: armed */
    p->watching = after == next;
    *n = b.changes;
    p->stats.changes += b.changes;
    p->stats.batches++;
out:
    if (rc || *aborted)
        p->early_end = -1; /* someone else moved the cursor, or Redis failed */
    if (rc == 0 && !*aborted && f)
        rc = maybe_guard(p, gm_feed_rules_cached(f, &p->rules), err);
    if (rc && p->c && (p->queued > 0 || rc == GM_EREDIS))
        gm__redis_drop(p);
    freeReplyObject(r);
    gm_feed_close(f);
    batch_free(&b);
    free(cursor_key);
    free(msg);
    free(channel);
    return rc;
}

int
gm_redisproj_early(struct gm_redisproj *p, size_t max_changes, size_t *n, struct gm_err *err)
{
    *n = 0;
    /* only on an armed connection (the cursor known and watched) with the
     * rules of a step, and never while steps fail */
    if (!p->share || !p->c || !p->watching || p->cursor < 0 || p->backoff_ms > 0 || !p->rules.rules)
        return 0;
    struct batch b = {.p = p, .rules = p->rules.rules};
    char *cursor_key = gm__redis_cursor_key(p, p->partition), *msg = NULL, *channel = NULL;
    redisReply *r = NULL;
    int rc = 0;
    uint64_t gen = gm_feedshare_gen(p->share);
    bool extend = p->early_end >= 0 && p->early_gen == gen && p->early_from <= p->cursor &&
                  p->early_end > p->cursor;
    int64_t from = extend ? p->early_end : p->cursor, next = from;
    if (!gm_feedshare_offered(p->share, from)) {
        free(cursor_key);
        return 0;
    }
    b.boards_key = gm__redis_name(p, "boards");
    b.periods_key = gm__redis_name(p, "periods");
    b.lb_prefix = gm__redis_name(p, "lb:");
    b.partitions_key = gm__redis_name(p, "partitions");
    b.pruned_prefix = gm__redis_name(p, "pruned:");
    snprintf(b.partition, sizeof b.partition, "%d", p->partition);
    gm__redis_appendf(p, "MULTI");
    gm__redis_appendf(p, "SADD %s %s", b.partitions_key, b.partition);
    uint64_t got_gen;
    rc = gm_feedshare_early(p->share, from, max_changes, on_change, &b, &next, &got_gen);
    if (rc) {
        gm_err_set(err, rc, "reading the offered changes: %s", gm_strerror(rc));
        goto out;
    }
    if (b.changes == 0) {
        /* rolled back since it was offered: take back what was queued
         * (DISCARD ends the WATCH too) */
        gm__redis_appendf(p, "DISCARD");
        p->watching = false;
        while (p->queued > 0 && rc == 0) {
            rc = gm__redis_reply(p, &r, err);
            freeReplyObject(r);
            r = NULL;
        }
        goto out;
    }
    flush_pairs(&b);
    gm__pairs_unique(&b.pairs, 0);
    msg = message(&b, p->partition, next);
    channel = gm__redis_name(p, "leaderboard-changed");
    gm__redis_appendf(p, "PUBLISH %s %s", channel, msg);
    gm__redis_queue_scores(p, &b.scores);
    gm__redis_appendf(p, "EXEC");
    gm__redis_appendf(p, "WATCH %s", cursor_key);
    gm__redis_appendf(p, "GET %s", cursor_key);
    p->watching = false;
    bool refused = false;
    while (p->queued > 3) {
        if ((rc = gm__redis_reply(p, &r, err)))
            goto out;
        if (r->type == REDIS_REPLY_ERROR && !refused) {
            gm_err_set(err, GM_EREDIS, "Redis refused a command of the early batch: %s", r->str);
            refused = true;
        }
        freeReplyObject(r);
        r = NULL;
    }
    if ((rc = gm__redis_reply(p, &r, err)))
        goto out;
    int64_t after;
    if ((rc = watched_cursor(p, cursor_key, &after, err)))
        goto out;
    if (refused) {
        rc = GM_EREDIS;
        goto out;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        /* nil: someone moved the cursor; the next step reads it */
        p->cursor = after;
        p->watching = true;
        p->early_end = -1;
        goto out;
    }
    p->watching = after == p->cursor;
    uint64_t rh = rules_hash(&p->rules);
    if (!extend || got_gen != p->early_gen || rh != p->early_rules) {
        p->early_from = from;
        p->early_gen = got_gen;
        p->early_rules = rh;
    }
    p->early_end = next;
    *n = b.changes;
out:
    if (rc) {
        p->early_end = -1;
        if (p->c)
            gm__redis_drop(p);
    }
    freeReplyObject(r);
    batch_free(&b);
    free(cursor_key);
    free(msg);
    free(channel);
    return rc;
}

int
gm_redisproj_step(struct gm_redisproj *p, struct gm_state *st, size_t max_changes, size_t *n,
                  struct gm_err *err)
{
    int rc = 0;
    bool aborted = true;
    *n = 0;
    if (max_changes == 0)
        max_changes = 1;
    for (int tries = 0; aborted && tries < 5; tries++)
        if ((rc = attempt(p, st, max_changes, n, &aborted, err)))
            break;
    if (rc == 0 && aborted)
        gm_log(GM_LOG_INFO, "redis projector partition %d: the cursor kept moving; trying later",
               p->partition);
    if (rc == GM_ENOTFOUND && p->recon_whole && p->recon_interval_ms > 0)
        rc = gm__redis_heal_trimmed(p, st, err);
    if (rc == GM_EREDIS) {
        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : 100;
        if (p->backoff_ms > p->max_backoff_ms)
            p->backoff_ms = p->max_backoff_ms;
    } else if (rc == 0) {
        p->backoff_ms = 0;
    }
    if (rc == 0 && !aborted)
        rc = gm__redis_maybe_reconcile(p, st, err);
    return rc;
}
