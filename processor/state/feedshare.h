/*
 * feedshare.h: one decoded pass over a state's change feed for several
 * readers (the Postgres and the Redis projector of one state). Decoding a
 * change record was about a third of each projector's instructions; with a
 * share, the first reader to reach a range of changes decodes it once and
 * keeps it, and the others read the kept copy.
 *
 * Each reader keeps its own cursor, snapshot and pace: a reader behind what
 * the share still holds decodes for itself (as without a share), and a
 * reader waiting for a range another is decoding waits for that decode
 * rather than doing it twice. A reader only sees changes before the end of
 * its own snapshot, so what it reads with a share is what it would read
 * alone. The share holds a bounded number of changes, oldest dropped first.
 */
#ifndef GM_FEEDSHARE_H
#define GM_FEEDSHARE_H

#include "feed.h"

#include <stddef.h>
#include <stdint.h>

struct gm_feedshare;

/* What the programs keep: two projector steps (10,000 changes each) */
#define GM_FEEDSHARE_CHANGES 20000

struct gm_feedshare_stats {
    uint64_t decoded; /* changes decoded into the share */
    uint64_t shared;  /* changes a reader took from the share another had decoded */
    uint64_t alone;   /* changes a reader decoded for itself (behind the share) */
};

/* A share keeping at most about max_changes decoded changes (at least one
 * pass). Returns new; free with gm_feedshare_free after its last reader. */
struct gm_feedshare *gm_feedshare_new(size_t max_changes);

/* Frees sh and what it holds; NULL is fine. No reader may be inside. */
void gm_feedshare_free(struct gm_feedshare *sh);

/*
 * gm_feed_changes through sh (NULL: gm_feed_changes itself): fn gets up to
 * max changes from from on, in order, all before gm_feed_end(f); each is
 * borrowed for the callback. Thread-safe: one call per reader at a time.
 * Errors: those of gm_feed_changes, or fn's result when not 0.
 */
int gm_feedshare_changes(struct gm_feedshare *sh, struct gm_feed *f, int64_t from, size_t max,
                         int (*fn)(void *ctx, const struct gm_change *ch), void *ctx,
                         int64_t *next);

/* The counters so far (zeros for NULL). */
void gm_feedshare_stats(struct gm_feedshare *sh, struct gm_feedshare_stats *out);

#endif
