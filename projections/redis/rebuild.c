/*
 * rebuild.c: `gamify rebuild`: the leaderboards rewritten from the state.
 *
 * Every (board, period) is first built under a temporary key
 * (PREFIX rebuild:TOKEN:lb:BOARD:PERIOD, with a one-hour TTL in case the
 * rebuild dies half way); then one MULTI/EXEC renames them all over the live
 * keys, sets their TTLs, deletes the live keys the state no longer holds
 * (found by SCAN: a rebuild must also clean what the boards set forgot),
 * rewrites the boards and periods sets and sets each partition's cursor to
 * the end of the snapshot it was built from. Readers see the old boards or
 * the new ones, never a board half built.
 */
#include "redis_int.h"

#include "feed.h"
#include "lbscore.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ZADDs queued before the pipeline is drained. */
#define PIPELINE_CHUNK 10000
#define TEMP_TTL_S     "3600"

struct build {
    struct gm_redisproj *p;
    char *tmp_prefix; /* PREFIX rebuild:TOKEN: */
    struct gm__pairs pairs;
    size_t expired; /* pairs[0..expired) have their temporary TTL queued */
    struct gm_redisproj_rebuild_stats stats;
    struct gm_err *err;
};

static char *
tmp_key(const struct build *b, const char *board, const char *period)
{
    char *k;
    if (asprintf(&k, "%slb:%s:%s", b->tmp_prefix, board, period) < 0)
        abort();
    return k;
}

/* Queues the temporary TTL of the pairs added since the last chunk (a pair
 * that comes back in a later chunk gets it again: harmless). */
static void
expire_new(struct build *b)
{
    gm__pairs_unique(&b->pairs, b->expired);
    for (size_t i = b->expired; i < b->pairs.n; i++) {
        char *k = tmp_key(b, b->pairs.v[i].board, b->pairs.v[i].period);
        gm__redis_appendf(b->p, "EXPIRE %s %s", k, TEMP_TTL_S);
        free(k);
    }
    b->expired = b->pairs.n;
}

static int
on_learner(void *ctx, const struct gm_learner *l)
{
    struct build *b = ctx;
    char score[GM_LBSCORE_TEXT_MAX];
    for (size_t i = 0; i < l->n_scores; i++) {
        const struct gm_score *s = &l->scores[i];
        char *k = tmp_key(b, s->board, s->period);
        gm_lbscore_format(s->score, s->reached_at, s->period, score);
        const char *argv[4] = {"ZADD", k, score, l->user_id};
        gm__redis_append(b->p, 4, argv, NULL);
        free(k);
        gm__pairs_add(&b->pairs, s->board, s->period);
        b->stats.scores++;
    }
    b->stats.learners++;
    if (b->p->queued >= PIPELINE_CHUNK) {
        expire_new(b);
        return gm__redis_drain(b->p, b->err);
    }
    return 0;
}

/* Escapes the glob characters of s for SCAN MATCH; new. */
static char *
glob_escape(const char *s)
{
    char *out = malloc(2 * strlen(s) + 3), *w = out;
    if (!out)
        abort();
    for (; *s; s++) {
        if (strchr("*?[]\\", *s))
            *w++ = '\\';
        *w++ = *s;
    }
    *w = '\0';
    return out;
}

static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
gm__redis_live_keys(struct gm_redisproj *p, char ***keys, size_t *n, struct gm_err *err)
{
    char *lb = gm__redis_name(p, "lb:"), *esc = glob_escape(lb), *pattern;
    if (asprintf(&pattern, "%s*", esc) < 0)
        abort();
    char cursor[32] = "0";
    size_t cap = 0;
    int rc = 0;
    *keys = NULL;
    *n = 0;
    do {
        redisReply *r;
        gm__redis_appendf(p, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if ((rc = gm__redis_reply(p, &r, err)))
            break;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
            rc = gm_err_set(err, GM_EREDIS, "Redis SCAN: %s",
                            r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            freeReplyObject(r);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            if (*n == cap) {
                cap = cap ? 2 * cap : 256;
                *keys = realloc(*keys, cap * sizeof **keys);
                if (!*keys)
                    abort();
            }
            if (!((*keys)[(*n)++] = strdup(r->element[1]->element[i]->str)))
                abort();
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    if (*n)
        qsort(*keys, *n, sizeof **keys, str_cmp);
    free(lb);
    free(esc);
    free(pattern);
    return rc;
}

int
gm_redisproj_rebuild(const char *url, const struct gm_redisproj_opts *opts,
                     struct gm_state *const *st, const int *partitions, size_t n,
                     struct gm_redisproj_rebuild_stats *stats, struct gm_err *err)
{
    struct gm_redisproj *p = NULL;
    struct gm_feed **feeds = calloc(n ? n : 1, sizeof *feeds);
    struct build b = {.err = err};
    char **old = NULL, **live = NULL;
    size_t n_old = 0;
    const struct gm_rules *rules = NULL;
    redisReply *r = NULL;
    int rc;
    if (!feeds)
        abort();
    if ((rc = gm_redisproj_open(url, 0, opts, &p, err)) || (rc = gm__redis_connect(p, err)))
        goto out;
    b.p = p;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (asprintf(&b.tmp_prefix, "%srebuild:%ld-%lld%09ld:", p->prefix, (long)getpid(),
                 (long long)now.tv_sec, now.tv_nsec) < 0)
        abort();

    for (size_t i = 0; i < n; i++) {
        if ((rc = gm_feed_open(st[i], &feeds[i]))) {
            gm_err_set(err, rc, "reading the state: %s", gm_strerror(rc));
            goto out;
        }
        if (!rules)
            rules = gm_feed_rules(feeds[i]);
        if ((rc = gm_feed_learners(feeds[i], on_learner, &b))) {
            if (err->code != rc)
                gm_err_set(err, rc, "reading the learners: %s", gm_strerror(rc));
            goto out;
        }
    }
    expire_new(&b);
    if ((rc = gm__redis_drain(p, err)))
        goto out;
    gm__pairs_unique(&b.pairs, 0);

    if ((rc = gm__redis_live_keys(p, &old, &n_old, err)))
        goto out;
    /* The live names of the new keys, sorted, to find the old ones to drop. */
    live = malloc((b.pairs.n ? b.pairs.n : 1) * sizeof *live);
    if (!live)
        abort();
    for (size_t i = 0; i < b.pairs.n; i++)
        live[i] = gm__redis_board_key(p, b.pairs.v[i].board, b.pairs.v[i].period);
    qsort(live, b.pairs.n, sizeof *live, str_cmp);

    char *boards = gm__redis_name(p, "boards"), *periods = gm__redis_name(p, "periods");
    gm__redis_appendf(p, "MULTI");
    for (size_t i = 0; i < b.pairs.n; i++) {
        char *from = tmp_key(&b, b.pairs.v[i].board, b.pairs.v[i].period);
        char *to = gm__redis_board_key(p, b.pairs.v[i].board, b.pairs.v[i].period);
        gm__redis_appendf(p, "RENAME %s %s", from, to);
        free(from);
        free(to);
    }
    for (size_t i = 0; i < n_old; i++) {
        if (!bsearch(&old[i], live, b.pairs.n, sizeof *live, str_cmp)) {
            gm__redis_appendf(p, "UNLINK %s", old[i]);
            b.stats.removed++;
        }
    }
    gm__redis_appendf(p, "DEL %s %s", boards, periods);
    gm__redis_queue_pairs(p, &b.pairs, 0, rules, true);
    char *parts = gm__redis_name(p, "partitions");
    for (size_t i = 0; i < n; i++) {
        char *ck = gm__redis_cursor_key(p, partitions ? partitions[i] : 0);
        gm__redis_appendf(p, "SET %s %lld", ck, (long long)gm_feed_end(feeds[i]));
        /* whose prunes a period's keys wait for (docs/operations.md) */
        gm__redis_appendf(p, "SADD %s %d", parts, partitions ? partitions[i] : 0);
        free(ck);
    }
    free(parts);
    char *channel = gm__redis_name(p, "leaderboard-changed");
    gm__redis_appendf(p, "PUBLISH %s %s", channel, "{\"rebuilt\":true}");
    gm__redis_queue_scores(p, NULL);
    gm__redis_appendf(p, "EXEC");
    free(boards);
    free(periods);
    free(channel);
    const char *refused = NULL;
    while (p->queued > 1) {
        if ((rc = gm__redis_reply(p, &r, err)))
            goto out;
        if (r->type == REDIS_REPLY_ERROR && !refused) {
            gm_err_set(err, GM_EREDIS, "Redis refused a command of the swap: %s", r->str);
            refused = "";
        }
        freeReplyObject(r);
        r = NULL;
    }
    if ((rc = gm__redis_reply(p, &r, err)))
        goto out;
    if (refused || r->type != REDIS_REPLY_ARRAY) {
        rc = refused ? GM_EREDIS
                     : gm_err_set(err, GM_EREDIS, "Redis EXEC of the swap: %s",
                                  r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        goto out;
    }
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_ERROR) {
            rc = gm_err_set(err, GM_EREDIS, "Redis: a command of the swap failed: %s",
                            r->element[i]->str);
            goto out;
        }
    }
    b.stats.keys = b.pairs.n;
    if (stats)
        *stats = b.stats;
out:
    freeReplyObject(r);
    for (size_t i = 0; i < n_old; i++)
        free(old[i]);
    free(old);
    for (size_t i = 0; live && i < b.pairs.n; i++)
        free(live[i]);
    free(live);
    for (size_t i = 0; i < n; i++)
        gm_feed_close(feeds[i]);
    free(feeds);
    gm__pairs_clear(&b.pairs);
    free(b.tmp_prefix);
    gm_redisproj_close(p);
    return rc;
}
