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

#include <stdbool.h>
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

/*
 * The early hand-over (gamify-processor --redis-early). The writer, in its
 * precommit callback (gm_state_set_precommit), offers the change records of
 * the batch about to be committed: gm_feedshare_offer copies them (bytes
 * only; decoding is left to the reader, off the writer's thread). A long
 * batch may also be offered as it goes (gm_pump_batch's progress hook):
 * an offer of the same batch as the last one copies only the records
 * written since (it returns 0 and changes nothing when there are none),
 * and the share then offers the batch from its first change on. After
 * gm_state_commit, successful or not, the writer calls gm_feedshare_settle
 * with the committed end of the feed: changes offered past it were rolled
 * back, so they and everything decoded from them are dropped and the
 * generation (gm_feedshare_gen) moves. A reader that projected offered
 * changes notes the generation; when it has moved, those changes were
 * never committed and must be projected again from the feed.
 *
 * gm_feedshare_early passes fn the offered changes from from on (at most
 * max), decoding them into the share (where the readers of the committed
 * feed find them after the commit); nothing when from is outside the last
 * offer. *next is after the last change passed; *gen the generation they
 * belong to. NULL sh: nothing. Errors: GM_ECORRUPT, or fn's result.
 */
int gm_feedshare_offer(struct gm_feedshare *sh, struct gm_state *st);
void gm_feedshare_settle(struct gm_feedshare *sh, int64_t committed_end);
uint64_t gm_feedshare_gen(struct gm_feedshare *sh);
/* Whether the last offer holds the change from (false for NULL). */
bool gm_feedshare_offered(struct gm_feedshare *sh, int64_t from);
int gm_feedshare_early(struct gm_feedshare *sh, int64_t from, size_t max,
                       int (*fn)(void *ctx, const struct gm_change *ch), void *ctx, int64_t *next,
                       uint64_t *gen);

/* The counters so far (zeros for NULL). */
void gm_feedshare_stats(struct gm_feedshare *sh, struct gm_feedshare_stats *out);

#endif
