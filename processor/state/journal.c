/*
 * journal.c: what readers in other transactions see of write-behind
 * learners (held.h): an overlay of the journal's newest copy of each
 * learner over `profiles`, for one lookup or for a walk of every learner in
 * key order. Entries point into the transaction's pages: valid while it
 * lives.
 */
#include "state_int.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

/* The index position of user: its entry's (number + 1), or the empty one. */
static size_t
probe(const struct gm__overlay *o, const char *user, size_t ulen)
{
    size_t mask = o->index_cap - 1;
    for (size_t i = gm__hash(user, ulen) & mask;; i = (i + 1) & mask) {
        size_t at = o->index[i];
        if (!at || (o->v[at - 1].ulen == ulen && memcmp(o->v[at - 1].user, user, ulen) == 0))
            return i;
    }
}

static void
grow(struct gm__overlay *o)
{
    free(o->index);
    o->index_cap = o->index_cap ? o->index_cap * 2 : 1024;
    if (!(o->index = calloc(o->index_cap, sizeof *o->index)))
        abort();
    for (size_t e = 0; e < o->n; e++)
        o->index[probe(o, o->v[e].user, o->v[e].ulen)] = e + 1;
}

/* Newest records are read first: an entry already there is newer. */
static void
add_one(void *ctx, const char *user, size_t ulen, const uint8_t *b, size_t len)
{
    struct gm__overlay *o = ctx;
    if ((o->n + 1) * 2 > o->index_cap)
        grow(o);
    size_t i = probe(o, user, ulen);
    if (o->index[i])
        return;
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 256;
        if (!(o->v = realloc(o->v, o->cap * sizeof *o->v)))
            abort();
    }
    o->v[o->n] = (struct gm__overlay_ent){user, ulen, b, len};
    o->index[i] = ++o->n;
}

int
gm__overlay_build(struct gm_state *s, MDB_txn *txn, int64_t since, struct gm__overlay *o)
{
    memset(o, 0, sizeof *o);
    if (!s->has_journal)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->journal, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    MDB_cursor_op op = MDB_LAST;
    while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
        op = MDB_PREV;
        if (v.mv_size < 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        int64_t feed_end = (int64_t)gm__get_be64(v.mv_data);
        /* a record whose changes all come before since holds no learner
         * changed since (a newer record holds the newer copy) */
        if (feed_end <= since)
            break;
        if (!gm__journal_each(v.mv_data, v.mv_size, &feed_end, add_one, o)) {
            rc = MDB_CORRUPTED;
            break;
        }
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND || rc == 0)
        return 0;
    gm__overlay_free(o);
    return rc;
}

void
gm__overlay_free(struct gm__overlay *o)
{
    free(o->v);
    free(o->index);
    memset(o, 0, sizeof *o);
}

bool
gm__overlay_get(const struct gm__overlay *o, const char *user, size_t ulen, MDB_val *v)
{
    if (!o->n)
        return false;
    size_t at = o->index[probe(o, user, ulen)];
    if (!at)
        return false;
    v->mv_size = o->v[at - 1].len;
    v->mv_data = (void *)o->v[at - 1].b;
    return true;
}

/* LMDB's default key order (keycmp.c) */
static int
keyorder(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int
ent_cmp(const void *x, const void *y)
{
    const struct gm__overlay_ent *a = x, *b = y;
    return keyorder(a->user, a->ulen, b->user, b->ulen);
}

int
gm__learners_walk(struct gm_state *s, MDB_txn *txn, const struct gm__overlay *o, const char *from,
                  size_t from_len, int (*fn)(void *ctx, const MDB_val *k, const MDB_val *v),
                  void *ctx)
{
    /* the overlay's entries in key order, from `from` on */
    struct gm__overlay_ent *e = NULL;
    size_t n = 0;
    if (o->n) {
        if (!(e = malloc(o->n * sizeof *e)))
            abort();
        for (size_t i = 0; i < o->n; i++) {
            if (!from || keyorder(o->v[i].user, o->v[i].ulen, from, from_len) >= 0)
                e[n++] = o->v[i];
        }
        qsort(e, n, sizeof *e, ent_cmp);
    }
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->profiles, &cur);
    if (rc) {
        free(e);
        return rc;
    }
    MDB_val k = {from ? from_len : 0, (void *)from}, v;
    int prc = mdb_cursor_get(cur, &k, &v, from && from_len ? MDB_SET_RANGE : MDB_FIRST);
    size_t i = 0;
    int result = 0;
    while (result == 0 && (prc == 0 || i < n)) {
        if (prc != 0 && prc != MDB_NOTFOUND) {
            result = prc;
            break;
        }
        int c = prc ? 1 : i < n ? keyorder(k.mv_data, k.mv_size, e[i].user, e[i].ulen) : -1;
        if (c < 0) {
            result = fn(ctx, &k, &v);
            prc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        MDB_val ek = {e[i].ulen, (void *)e[i].user}, ev = {e[i].len, (void *)e[i].b};
        result = fn(ctx, &ek, &ev);
        i++;
        if (c == 0)
            prc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    free(e);
    return result;
}
