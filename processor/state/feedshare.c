/*
 * feedshare.c: the shared decoded pass of feedshare.h.
 *
 * The share is a list of segments, oldest first, each the decoded changes
 * of one pass [first, end) in an arena of its own, so that a segment goes
 * in one free. The segments are contiguous: a pass that does not start at
 * the end of the list (a reader jumped ahead of it) replaces the list. A
 * segment is reference counted (the list holds one reference, each reader
 * inside it one), so dropping it while a reader is inside is safe.
 *
 * One pass decodes into the share at a time (decoding): a reader wanting
 * changes at or after the ones being decoded waits for that pass instead
 * of decoding them too. The projectors are woken by the same commit, so
 * without the wait both would decode the same changes at the same moment.
 */
#include "feedshare.h"

#include "changefmt.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SEGMENTS_MAX 512 /* past it the oldest go, whatever their size */

struct seg {
    struct seg *prev, *next;
    int64_t first, end;  /* holds every change of the feed in [first, end) */
    struct gm_change *v; /* in seq order; their memory is in arena */
    size_t n, cap;
    struct gm_arena arena;
    int refs; /* under the share's mu */
};

/* The change records of a batch not committed yet, as stored (changefmt.h):
 * the writer's early hand-over. Reference counted like a segment. A batch
 * offered more than once (a long batch, offered as it goes, then at its
 * commit) is a chain: each offer holds the records since the one before
 * it (own_first on) and a reference to it (prev), so that an offer copies
 * only what is new. */
struct pend {
    int64_t first, end; /* the batch's offered records [first, end) */
    int64_t own_first;  /* this offer's own: [own_first, end) */
    struct pend *prev;  /* the batch's offer before this one (NULL: none) */
    size_t n, cap;
    int64_t *seq;
    size_t *off, *len;
    uint8_t *data;
    size_t data_len, data_cap;
    int refs; /* under the share's mu */
};

struct gm_feedshare {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct seg *head, *tail; /* oldest, newest */
    size_t held, n_segs, max;
    bool decoding;         /* a pass is decoding into the share */
    int64_t decoding_from; /* from there on */
    uint64_t decoded, shared, alone;
    struct pend *pend; /* the last batch offered (gm_feedshare_offer); NULL: none */
    uint64_t gen;      /* moves when offered changes were rolled back */
    size_t rec_bytes;  /* the last offer's bytes per record (the writer's own) */
};

struct gm_feedshare *
gm_feedshare_new(size_t max_changes)
{
    struct gm_feedshare *sh = calloc(1, sizeof *sh);
    if (!sh)
        abort();
    if (pthread_mutex_init(&sh->mu, NULL) || pthread_cond_init(&sh->cv, NULL))
        abort();
    sh->max = max_changes;
    return sh;
}

static void
seg_unref(struct seg *g)
{
    if (--g->refs > 0)
        return;
    gm_arena_deinit(&g->arena);
    free(g->v);
    free(g);
}

/* Unlinks the oldest segment; call with mu held. */
static void
drop_head(struct gm_feedshare *sh)
{
    struct seg *g = sh->head;
    sh->head = g->next;
    if (sh->head)
        sh->head->prev = NULL;
    else
        sh->tail = NULL;
    sh->held -= g->n;
    sh->n_segs--;
    seg_unref(g);
}

/*
 * Appends the decoded segment g to the share's list (taking a reference
 * for the list) and drops the oldest segments past the share's bounds. A
 * gap before g restarts the share at g: whoever is behind it decodes
 * alone. Called with sh->mu held.
 */
static void
keep_segment(struct gm_feedshare *sh, struct seg *g)
{
    if (sh->tail && sh->tail->end != g->first) {
        while (sh->head)
            drop_head(sh);
    }
    g->refs++; /* the list's */
    g->prev = sh->tail;
    if (sh->tail)
        sh->tail->next = g;
    else
        sh->head = g;
    sh->tail = g;
    sh->held += g->n;
    sh->n_segs++;
    sh->decoded += g->n;
    while (sh->head != g && (sh->held > sh->max || sh->n_segs > SEGMENTS_MAX))
        drop_head(sh);
}

static void
pend_unref(struct pend *pd)
{
    while (pd && --pd->refs == 0) {
        struct pend *prev = pd->prev;
        free(pd->seq);
        free(pd->off);
        free(pd->len);
        free(pd->data);
        free(pd);
        pd = prev;
    }
}

void
gm_feedshare_free(struct gm_feedshare *sh)
{
    if (!sh)
        return;
    while (sh->head)
        drop_head(sh);
    pend_unref(sh->pend);
    pthread_mutex_destroy(&sh->mu);
    pthread_cond_destroy(&sh->cv);
    free(sh);
}

void
gm_feedshare_stats(struct gm_feedshare *sh, struct gm_feedshare_stats *out)
{
    *out = (struct gm_feedshare_stats){0};
    if (!sh)
        return;
    pthread_mutex_lock(&sh->mu);
    *out = (struct gm_feedshare_stats){sh->decoded, sh->shared, sh->alone};
    pthread_mutex_unlock(&sh->mu);
}

/* The segment holding seq, newest first (readers are mostly near the end);
 * call with mu held. */
static struct seg *
find(struct gm_feedshare *sh, int64_t seq)
{
    for (struct seg *g = sh->tail; g; g = g->prev) {
        if (seq >= g->end)
            return NULL;
        if (seq >= g->first)
            return g;
    }
    return NULL;
}

static int
keep(void *ctx, const struct gm_change *ch)
{
    struct seg *g = ctx;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->v = realloc(g->v, g->cap * sizeof *g->v);
        if (!g->v)
            abort();
    }
    g->v[g->n++] = *ch;
    return 0;
}

/* Passes g's changes from from on, before end, at most *left; counts them
 * off *left and in *served. */
static int
serve(const struct seg *g, int64_t from, int64_t end, size_t *left, size_t *served,
      int (*fn)(void *ctx, const struct gm_change *ch), void *ctx, int64_t *next)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->v[mid].seq < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < g->n && g->v[i].seq<end && * left> 0; i++) {
        int rc = fn(ctx, &g->v[i]);
        if (rc)
            return rc;
        *next = g->v[i].seq + 1;
        (*left)--;
        (*served)++;
    }
    return 0;
}

struct counted {
    int (*fn)(void *ctx, const struct gm_change *ch);
    void *ctx;
    size_t n;
};

static int
count(void *ctx, const struct gm_change *ch)
{
    struct counted *c = ctx;
    c->n++;
    return c->fn(c->ctx, ch);
}

int
gm_feedshare_changes(struct gm_feedshare *sh, struct gm_feed *f, int64_t from, size_t max,
                     int (*fn)(void *ctx, const struct gm_change *ch), void *ctx, int64_t *next)
{
    if (!sh)
        return gm_feed_changes(f, from, max, fn, ctx, next);
    *next = from;
    if (from < gm_feed_start(f))
        return GM_ENOTFOUND;
    int64_t end = gm_feed_end(f); /* nothing at or past the end of our snapshot */
    size_t left = max;
    int rc = 0;
    while (rc == 0 && from < end && left > 0) {
        pthread_mutex_lock(&sh->mu);
        while (sh->decoding && from >= sh->decoding_from)
            pthread_cond_wait(&sh->cv, &sh->mu);
        struct seg *g = find(sh, from);
        if (g) {
            /* decoded by another pass */
            g->refs++;
            pthread_mutex_unlock(&sh->mu);
            size_t served = 0;
            rc = serve(g, from, end, &left, &served, fn, ctx, next);
            pthread_mutex_lock(&sh->mu);
            sh->shared += served;
            int64_t g_end = g->end;
            seg_unref(g);
            pthread_mutex_unlock(&sh->mu);
            from = g_end;
            continue;
        }
        if (sh->head && from < sh->head->first) {
            /* behind what the share holds: alone, up to where it starts */
            int64_t upto = sh->head->first;
            pthread_mutex_unlock(&sh->mu);
            size_t want = (uint64_t)(upto - from) < left ? (size_t)(upto - from) : left;
            struct counted c = {fn, ctx, 0};
            rc = gm_feed_changes(f, from, want, count, &c, next);
            pthread_mutex_lock(&sh->mu);
            sh->alone += c.n;
            pthread_mutex_unlock(&sh->mu);
            left -= c.n;
            from = c.n < want ? upto : *next;
            continue;
        }
        /* at or past the end of the share: decode into it */
        sh->decoding = true;
        sh->decoding_from = from;
        uint64_t gen = sh->gen;
        pthread_mutex_unlock(&sh->mu);
        g = calloc(1, sizeof *g);
        if (!g)
            abort();
        /* about 1 KiB a change; small passes (one commit at low rates) get
         * small chunks, so that many of them stay cheap to keep */
        uint64_t avail = (uint64_t)(end - from) < left ? (uint64_t)(end - from) : left;
        size_t chunk = avail < 64 ? 65536 / 64 * (size_t)(avail + 1) : 65536;
        gm_arena_init(&g->arena, chunk);
        g->refs = 1; /* ours */
        g->first = from;
        int64_t nx;
        rc = gm_feed_changes_keep(f, from, left, &g->arena, keep, g, &nx);
        /* fewer than asked: the snapshot holds nothing more before its end */
        g->end = g->n == left ? nx : end;
        pthread_mutex_lock(&sh->mu);
        sh->decoding = false;
        pthread_cond_broadcast(&sh->cv);
        if (rc == 0 && gen == sh->gen) {
            keep_segment(sh, g);
        }
        pthread_mutex_unlock(&sh->mu);
        if (rc == 0) {
            size_t served = 0;
            rc = serve(g, from, end, &left, &served, fn, ctx, next);
            from = g->end;
        }
        pthread_mutex_lock(&sh->mu);
        seg_unref(g);
        pthread_mutex_unlock(&sh->mu);
    }
    return rc;
}

static int
pend_keep(void *ctx, int64_t seq, const void *data, size_t len)
{
    struct pend *pd = ctx;
    if (pd->n == pd->cap) {
        pd->cap = pd->cap ? 2 * pd->cap : 64;
        pd->seq = realloc(pd->seq, pd->cap * sizeof *pd->seq);
        pd->off = realloc(pd->off, pd->cap * sizeof *pd->off);
        pd->len = realloc(pd->len, pd->cap * sizeof *pd->len);
        if (!pd->seq || !pd->off || !pd->len)
            abort();
    }
    if (pd->data_len + len > pd->data_cap) {
        pd->data_cap = pd->data_cap ? 2 * pd->data_cap : 16384;
        while (pd->data_cap < pd->data_len + len)
            pd->data_cap *= 2;
        if (!(pd->data = realloc(pd->data, pd->data_cap)))
            abort();
    }
    memcpy(pd->data + pd->data_len, data, len);
    pd->seq[pd->n] = seq;
    pd->off[pd->n] = pd->data_len;
    pd->len[pd->n++] = len;
    pd->data_len += len;
    return 0;
}

int
gm_feedshare_offer(struct gm_feedshare *sh, struct gm_state *st)
{
    if (!sh)
        return 0;
    struct pend *pd = calloc(1, sizeof *pd);
    if (!pd)
        abort();
    pd->refs = 1;
    pd->first = gm_state_change_end(st);
    pd->end = gm_state_pending_end(st);
    pd->own_first = pd->first;
    /* only the writer offers and settles: sh->pend cannot change meanwhile */
    pthread_mutex_lock(&sh->mu);
    struct pend *last = sh->pend;
    if (last && last->first == pd->first && last->end <= pd->end) {
        /* the same batch offered before: chain on to that offer */
        if (last->end == pd->end) {
            pthread_mutex_unlock(&sh->mu);
            pend_unref(pd);
            return 0; /* nothing new */
        }
        pd->prev = last;
        last->refs++;
        pd->own_first = last->end;
    }
    pthread_mutex_unlock(&sh->mu);
    /* Room for every record at once: one allocation per array, not a
     * doubling from 64 (reallocs of growing arrays were a tenth of the
     * writer's time in a catch-up with early offers). */
    size_t want = (size_t)(pd->end - pd->own_first);
    if (want > 0) {
        pd->cap = want;
        pd->seq = malloc(want * sizeof *pd->seq);
        pd->off = malloc(want * sizeof *pd->off);
        pd->len = malloc(want * sizeof *pd->len);
        pd->data_cap = want * (sh->rec_bytes ? sh->rec_bytes : 256);
        pd->data = malloc(pd->data_cap);
        if (!pd->seq || !pd->off || !pd->len || !pd->data)
            abort();
    }
    int rc = gm_state_pending_records(st, pd->own_first, pend_keep, pd);
    if (pd->n > 0) {
        /* at most 1 KiB a record: one large record must not make the next
         * offer of 10,000 ask for a gigabyte (pend_keep grows past it) */
        size_t avg = pd->data_len / pd->n + 16;
        sh->rec_bytes = avg < 1024 ? avg : 1024;
    }
    pthread_mutex_lock(&sh->mu);
    pend_unref(sh->pend);
    sh->pend = rc == 0 && pd->end > pd->first ? pd : NULL;
    if (!sh->pend)
        pend_unref(pd);
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

void
gm_feedshare_settle(struct gm_feedshare *sh, int64_t committed_end)
{
    if (!sh)
        return;
    pthread_mutex_lock(&sh->mu);
    if (sh->pend && sh->pend->end > committed_end) {
        /* offered, then not committed: whatever was decoded of it goes, and
         * the next batch may number other changes the same */
        sh->gen++;
        pend_unref(sh->pend);
        sh->pend = NULL;
        while (sh->head)
            drop_head(sh);
    }
    pthread_mutex_unlock(&sh->mu);
}

uint64_t
gm_feedshare_gen(struct gm_feedshare *sh)
{
    if (!sh)
        return 0;
    pthread_mutex_lock(&sh->mu);
    uint64_t gen = sh->gen;
    pthread_mutex_unlock(&sh->mu);
    return gen;
}

bool
gm_feedshare_offered(struct gm_feedshare *sh, int64_t from)
{
    if (!sh)
        return false;
    pthread_mutex_lock(&sh->mu);
    bool in = sh->pend && from >= sh->pend->first && from < sh->pend->end;
    pthread_mutex_unlock(&sh->mu);
    return in;
}

/* Decodes the records of one offer from from on, at most max, into g;
 * *next after the last. */
static int
pend_decode_own(const struct pend *pd, int64_t from, size_t max, struct seg *g, int64_t *next)
{
    size_t lo = 0, hi = pd->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pd->seq[mid] < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < pd->n && g->n < max; i++) {
        struct gm_change ch;
        int rc =
            gm__change_decode_into(&g->arena, pd->seq[i], pd->data + pd->off[i], pd->len[i], &ch);
        if (rc)
            return rc;
        keep(g, &ch);
        *next = ch.seq + 1;
    }
    return 0;
}

/* Decodes the records of pd's chain from from on, at most max, into g;
 * *next after the last. The chain is immutable while referenced. */
static int
pend_decode(const struct pend *pd, int64_t from, size_t max, struct seg *g, int64_t *next)
{
    *next = from;
    /* the offers holding from on, oldest first: find the oldest, then walk
     * forward by recursion depth (chains are short: one offer per few
     * milliseconds of one batch) */
    if (pd->prev && from < pd->own_first) {
        int rc = pend_decode(pd->prev, from, max, g, next);
        if (rc || g->n >= max)
            return rc;
        from = pd->own_first;
    }
    return pend_decode_own(pd, from, max, g, next);
}

int
gm_feedshare_early(struct gm_feedshare *sh, int64_t from, size_t max,
                   int (*fn)(void *ctx, const struct gm_change *ch), void *ctx, int64_t *next,
                   uint64_t *gen_out)
{
    *next = from;
    *gen_out = 0;
    if (!sh)
        return 0;
    pthread_mutex_lock(&sh->mu);
    struct pend *pd = sh->pend;
    *gen_out = sh->gen;
    if (!pd || from < pd->first || from >= pd->end) {
        pthread_mutex_unlock(&sh->mu);
        return 0;
    }
    pd->refs++;
    uint64_t gen = sh->gen;
    int64_t end = pd->end;
    size_t left = max;
    int rc = 0;
    while (rc == 0 && from < end && left > 0) {
        /* mu held */
        while (sh->decoding && from >= sh->decoding_from)
            pthread_cond_wait(&sh->cv, &sh->mu);
        if (sh->gen != gen)
            break; /* rolled back meanwhile: what is left is void */
        struct seg *g = find(sh, from);
        if (g) {
            g->refs++;
            pthread_mutex_unlock(&sh->mu);
            size_t served = 0;
            rc = serve(g, from, end, &left, &served, fn, ctx, next);
            pthread_mutex_lock(&sh->mu);
            sh->shared += served;
            from = g->end;
            seg_unref(g);
            continue;
        }
        sh->decoding = true;
        sh->decoding_from = from;
        pthread_mutex_unlock(&sh->mu);
        g = calloc(1, sizeof *g);
        if (!g)
            abort();
        gm_arena_init(&g->arena, 65536);
        g->refs = 1;
        g->first = from;
        int64_t nx;
        rc = pend_decode(pd, from, left, g, &nx);
        g->end = g->n == left ? nx : end;
        pthread_mutex_lock(&sh->mu);
        sh->decoding = false;
        pthread_cond_broadcast(&sh->cv);
        if (rc == 0 && gen == sh->gen) {
            /* kept for the readers of the committed feed that come next */
            keep_segment(sh, g);
        }
        pthread_mutex_unlock(&sh->mu);
        if (rc == 0) {
            size_t served = 0;
            rc = serve(g, from, end, &left, &served, fn, ctx, next);
            from = g->end;
        }
        pthread_mutex_lock(&sh->mu);
        seg_unref(g);
    }
    pend_unref(pd);
    pthread_mutex_unlock(&sh->mu);
    return rc;
}
