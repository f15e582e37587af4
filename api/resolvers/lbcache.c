/*
 * lbcache.c: the leaderboard page cache of the resolvers (internal.h):
 * pages of Query.leaderboard (a board's sorted set, a start and a count),
 * as Redis gave them, shared by every request and the event streams for at
 * most ttl_ms, so that a busy board is read from Redis a few times a second
 * instead of once per request. Only the page is kept: the board's size and
 * the caller's own score and rank are read on every request.
 *
 * Freshness: a page is never served older than ttl_ms; a leaderboard-changed
 * message of the projector (gm_api_backend_lb_changed, called by the
 * streams' subscriber) drops the pages of the boards it names at once. A
 * read that started before a drop does not store its page (a generation
 * count), so a drop is never undone by a slower request.
 *
 * The table is small (LBC_SLOTS entries, direct-mapped by a hash of the
 * key); one mutex guards it, held only to compare and copy.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LBC_SLOTS 64

struct lbc_entry {
    bool used;
    char key[GM__LBC_KEY_MAX];
    int64_t start, count;
    int64_t at_ms; /* monotonic: when the read that filled it started */
    int64_t first_rank;
    size_t n;
    char *blob; /* n members then n scores, each NUL-terminated; owned */
    size_t blob_len;
};

struct gm__lbcache {
    pthread_mutex_t mu;
    int ttl_ms;
    uint64_t gen; /* bumped by every drop */
    struct lbc_entry slots[LBC_SLOTS];
};

int
gm__lbc_new(int ttl_ms, struct gm__lbcache **out)
{
    *out = NULL;
    if (ttl_ms <= 0)
        return 0;
    struct gm__lbcache *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    pthread_mutex_init(&c->mu, NULL);
    c->ttl_ms = ttl_ms;
    *out = c;
    return 0;
}

void
gm__lbc_free(struct gm__lbcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < LBC_SLOTS; i++)
        free(c->slots[i].blob);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static size_t
slot_of(const char *key, int64_t start, int64_t count)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = key; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ (uint64_t)start) * 1099511628211ull;
    h = (h ^ (uint64_t)count) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32)) & (LBC_SLOTS - 1);
}

bool
gm__lbc_get(struct gm__lbcache *c, const char *key, int64_t start, int64_t count,
            struct gm_arena *a, struct gm__lb_page *out, uint64_t *gen)
{
    if (!c)
        return false;
    int64_t now = gm__now_ms();
    size_t i = slot_of(key, start, count);
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    *gen = c->gen;
    struct lbc_entry *e = &c->slots[i];
    if (e->used && e->start == start && e->count == count && now - e->at_ms < c->ttl_ms &&
        strcmp(e->key, key) == 0) {
        char *copy = e->blob_len ? gm_arena_alloc(a, e->blob_len) : NULL;
        const char **strs = e->n ? gm_arena_alloc(a, 2 * e->n * sizeof *strs) : NULL;
        size_t *lens = e->n ? gm_arena_alloc(a, 2 * e->n * sizeof *lens) : NULL;
        if (!e->n || (copy && strs && lens)) {
            if (e->blob_len)
                memcpy(copy, e->blob, e->blob_len);
            const char *p = copy;
            for (size_t k = 0; k < 2 * e->n; k++) {
                strs[k] = p;
                lens[k] = strlen(p);
                p += lens[k] + 1;
            }
            out->n = e->n;
            out->first_rank = e->first_rank;
            out->members = strs;
            out->member_lens = lens;
            out->scores = e->n ? strs + e->n : NULL;
            out->score_lens = e->n ? lens + e->n : NULL;
            hit = true;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void
gm__lbc_put(struct gm__lbcache *c, const char *key, int64_t start, int64_t count, uint64_t gen,
            int64_t read_ms, const struct gm__lb_page *pg)
{
    if (!c || strlen(key) >= GM__LBC_KEY_MAX)
        return;
    size_t len = 0;
    for (size_t k = 0; k < pg->n; k++)
        len += pg->member_lens[k] + 1 + pg->score_lens[k] + 1;
    char *blob = len ? malloc(len) : NULL;
    if (len && !blob)
        abort();
    char *p = blob;
    for (size_t k = 0; k < pg->n; k++) {
        memcpy(p, pg->members[k], pg->member_lens[k]);
        p += pg->member_lens[k];
        *p++ = 0;
    }
    for (size_t k = 0; k < pg->n; k++) {
        memcpy(p, pg->scores[k], pg->score_lens[k]);
        p += pg->score_lens[k];
        *p++ = 0;
    }
    size_t i = slot_of(key, start, count);
    pthread_mutex_lock(&c->mu);
    struct lbc_entry *e = &c->slots[i];
    char *old = NULL;
    /* A drop since the read began: the page may predate the change. */
    if (gen == c->gen && (!e->used || e->at_ms <= read_ms)) {
        old = e->blob;
        e->used = true;
        snprintf(e->key, sizeof e->key, "%s", key);
        e->start = start;
        e->count = count;
        e->at_ms = read_ms;
        e->first_rank = pg->first_rank;
        e->n = pg->n;
        e->blob = blob;
        e->blob_len = len;
        blob = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    free(old);
    free(blob);
}

void
gm__lbc_drop(struct gm__lbcache *c, const char *key)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->gen++;
    for (size_t i = 0; i < LBC_SLOTS; i++) {
        struct lbc_entry *e = &c->slots[i];
        if (e->used && (!key || strcmp(e->key, key) == 0))
            e->used = false;
    }
    pthread_mutex_unlock(&c->mu);
}
