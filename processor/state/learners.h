/*
 * learners.h: the learners of one batch, decoded once. A learner read by the
 * first event of a batch that names it stays decoded (a UserState) until the
 * batch writes it back, so a learner with many events in a batch is unpacked
 * once and packed once instead of once per event. The table knows nothing of
 * LMDB: the state looks learners up here before reading `profiles`, marks
 * the ones an event changed, and writes those back (gm_learners_each) before
 * the batch commits or when the table is full.
 *
 * Entries are kept in insertion order, so writing back is deterministic.
 */
#ifndef GM_LEARNERS_H
#define GM_LEARNERS_H

#include "state.pb-c.h"

#include <stdbool.h>
#include <stddef.h>

/* At most this many learners are held; past it the state writes back and
 * clears (bounds the heap of a batch of many distinct learners). */
#define GM_LEARNERS_MAX 8192

struct gm_learner_slot {
    char *user; /* owned, NUL-terminated */
    size_t ulen;
    Gamify__Internal__UserState *st; /* owned; free with free_unpacked */
    bool dirty;                      /* changed since read: write it back */
    /* bytes allocated at st->scores_packed.data (grown by doubling);
     * 0: exactly its len, as decoded. Reset whenever st is replaced. */
    size_t scores_cap;
};

struct gm_learners {
    struct gm_learner_slot *slots; /* insertion order */
    size_t n, cap;
    unsigned *index; /* open addressing: slot number + 1, 0 empty */
    size_t index_cap;
};

void gm_learners_init(struct gm_learners *l);
/* Frees every held learner; the table stays usable. */
void gm_learners_clear(struct gm_learners *l);
void gm_learners_deinit(struct gm_learners *l);

/* The slot of user, or NULL; borrowed until the next insert or clear. */
struct gm_learner_slot *gm_learners_find(struct gm_learners *l, const char *user, size_t ulen);

/* Adds user (not held yet) with st, taking ownership of st; returns its
 * slot, borrowed until the next insert or clear. */
struct gm_learner_slot *gm_learners_add(struct gm_learners *l, const char *user, size_t ulen,
                                        Gamify__Internal__UserState *st);

#endif
