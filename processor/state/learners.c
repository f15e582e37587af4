/*
 * learners.c: the per-batch table of decoded learners (see learners.h): an
 * array in insertion order and an open-addressing index over it (FNV-1a).
 */
#include "learners.h"
#include "hash.h"

#include "usercodec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
gm_learners_init(struct gm_learners *l)
{
    memset(l, 0, sizeof *l);
}

void
gm_learners_clear(struct gm_learners *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->slots[i].user);
        gm_user_free(l->slots[i].st);
    }
    l->n = 0;
    if (l->index)
        memset(l->index, 0, l->index_cap * sizeof *l->index);
}

void
gm_learners_deinit(struct gm_learners *l)
{
    gm_learners_clear(l);
    free(l->slots);
    free(l->index);
    memset(l, 0, sizeof *l);
}

/* The index position of user: its slot's, or the empty one to fill. */
static size_t
probe(const struct gm_learners *l, const char *user, size_t ulen)
{
    size_t mask = l->index_cap - 1;
    for (size_t i = gm__hash(user, ulen) & mask;; i = (i + 1) & mask) {
        unsigned at = l->index[i];
        if (at == 0)
            return i;
        const struct gm_learner_slot *sl = &l->slots[at - 1];
        if (sl->ulen == ulen && memcmp(sl->user, user, ulen) == 0)
            return i;
    }
}

struct gm_learner_slot *
gm_learners_find(struct gm_learners *l, const char *user, size_t ulen)
{
    if (l->n == 0)
        return NULL;
    unsigned at = l->index[probe(l, user, ulen)];
    return at ? &l->slots[at - 1] : NULL;
}

/* Rebuilds the index at twice the size (load stays under one half). */
static void
grow_index(struct gm_learners *l)
{
    free(l->index);
    l->index_cap = l->index_cap ? l->index_cap * 2 : 1024;
    l->index = calloc(l->index_cap, sizeof *l->index);
    if (!l->index)
        abort();
    for (size_t s = 0; s < l->n; s++)
        l->index[probe(l, l->slots[s].user, l->slots[s].ulen)] = (unsigned)s + 1;
}

struct gm_learner_slot *
gm_learners_add(struct gm_learners *l, const char *user, size_t ulen,
                Gamify__Internal__UserState *st)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->slots = realloc(l->slots, l->cap * sizeof *l->slots);
        if (!l->slots)
            abort();
    }
    if ((l->n + 1) * 2 > l->index_cap)
        grow_index(l);
    struct gm_learner_slot *sl = &l->slots[l->n];
    sl->user = malloc(ulen + 1);
    if (!sl->user)
        abort();
    memcpy(sl->user, user, ulen);
    sl->user[ulen] = '\0';
    sl->ulen = ulen;
    sl->st = st;
    sl->dirty = false;
    sl->scores_cap = 0;
    l->index[probe(l, user, ulen)] = (unsigned)l->n + 1;
    l->n++;
    return sl;
}
