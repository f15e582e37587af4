/*
 * held.c: write-behind learners (see held.h): the table of held learners
 * (an index by user over records kept in write-back order), the journal
 * record of a batch, the write-back policy and the undo of a batch.
 */
#include "held.h"

#include "hash.h"

#include "state_int.h"

#include <stdlib.h>
#include <string.h>

static void account(struct gm_held *h);

static void
put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool
gm__journal_each(const uint8_t *p, size_t n, int64_t *feed_end,
                 void (*fn)(void *ctx, const char *user, size_t ulen, const uint8_t *b, size_t len),
                 void *ctx)
{
    if (n < 8)
        return false;
    *feed_end = (int64_t)gm__get_be64(p);
    for (size_t at = 8; at < n;) {
        if (n - at < 4)
            return false;
        size_t ulen = get_be32(p + at);
        at += 4;
        if (ulen == 0 || n - at < ulen + 4)
            return false;
        const char *user = (const char *)p + at;
        at += ulen;
        size_t len = get_be32(p + at);
        at += 4;
        if (n - at < len)
            return false;
        if (fn)
            fn(ctx, user, ulen, p + at, len);
        at += len;
    }
    return true;
}

void
gm__held_init(struct gm_held *h, size_t cap_bytes)
{
    memset(h, 0, sizeof *h);
    h->cap_bytes = cap_bytes;
}

void
gm__held_deinit(struct gm_held *h)
{
    gm__held_rollback(h);
    for (struct gm_held_rec *r = h->oldest, *next; r; r = next) {
        next = r->newer;
        free(r->user);
        free(r->b);
        free(r);
    }
    free(h->index);
    free(h->jr);
    free(h->undo);
    free(h->rec);
    memset(h, 0, sizeof *h);
}

bool
gm__held_active(const struct gm_held *h)
{
    return h->cap_bytes > 0 || h->n > 0 || h->jr_n > 0;
}

/* The index position of user: its record's, or the empty one to fill. */
static size_t
probe(const struct gm_held *h, const char *user, size_t ulen)
{
    size_t mask = h->index_cap - 1;
    for (size_t i = gm__hash(user, ulen) & mask;; i = (i + 1) & mask) {
        const struct gm_held_rec *r = h->index[i];
        if (!r || (r->ulen == ulen && memcmp(r->user, user, ulen) == 0))
            return i;
    }
}

const struct gm_held_rec *
gm__held_find(const struct gm_held *h, const char *user, size_t ulen)
{
    return h->n ? h->index[probe(h, user, ulen)] : NULL;
}

static void
grow(struct gm_held *h)
{
    struct gm_held_rec **old = h->index;
    size_t old_cap = h->index_cap;
    h->index_cap = old_cap ? old_cap * 2 : 1024;
    if (!(h->index = calloc(h->index_cap, sizeof *h->index)))
        abort();
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i])
            h->index[probe(h, old[i]->user, old[i]->ulen)] = old[i];
    }
    free(old);
}

/* Takes r out of the index and the order, and frees it. */
static void
drop(struct gm_held *h, struct gm_held_rec *r)
{
    size_t mask = h->index_cap - 1, i = probe(h, r->user, r->ulen);
    h->index[i] = NULL;
    /* backward shift: the records after i in its run move up if their
     * home position allows it */
    for (size_t j = (i + 1) & mask; h->index[j]; j = (j + 1) & mask) {
        size_t home = gm__hash(h->index[j]->user, h->index[j]->ulen) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            h->index[i] = h->index[j];
            h->index[j] = NULL;
            i = j;
        }
    }
    if (r->older)
        r->older->newer = r->newer;
    else
        h->oldest = r->newer;
    if (r->newer)
        r->newer->older = r->older;
    else
        h->newest = r->older;
    h->n--;
    h->bytes -= r->len + r->ulen;
    free(r->user);
    free(r->b);
    free(r);
}

/* Adds user with b (owned) as the newest record; first is its journal key. */
static struct gm_held_rec *
add(struct gm_held *h, const char *user, size_t ulen, uint8_t *b, size_t len, uint64_t first)
{
    if ((h->n + 1) * 2 > h->index_cap)
        grow(h);
    struct gm_held_rec *r = calloc(1, sizeof *r);
    if (!r || !(r->user = malloc(ulen + 1)))
        abort();
    memcpy(r->user, user, ulen);
    r->user[ulen] = '\0';
    r->ulen = ulen;
    r->b = b;
    r->len = len;
    r->first = first;
    r->older = h->newest;
    if (h->newest)
        h->newest->newer = r;
    else
        h->oldest = r;
    h->newest = r;
    h->index[probe(h, user, ulen)] = r;
    h->n++;
    h->bytes += len + ulen;
    return r;
}

static uint8_t *
copy(const uint8_t *b, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    if (!c)
        abort();
    memcpy(c, b, len);
    return c;
}

void
gm__held_stage(struct gm_held *h, const char *user, size_t ulen, const uint8_t *b, size_t len)
{
    if (h->n_undo == h->cap_undo) {
        h->cap_undo = h->cap_undo ? h->cap_undo * 2 : 256;
        if (!(h->undo = realloc(h->undo, h->cap_undo * sizeof *h->undo)))
            abort();
    }
    struct gm_held_undo *u = &h->undo[h->n_undo++];
    struct gm_held_rec *r = h->n ? h->index[probe(h, user, ulen)] : NULL;
    if (r) {
        u->rec = r;
        u->b = r->b;
        u->len = r->len;
        u->in_rec = r->in_rec;
        h->bytes = h->bytes - r->len + len;
        r->b = copy(b, len);
        r->len = len;
    } else {
        u->rec = add(h, user, ulen, copy(b, len), len, h->next_key);
        u->b = NULL;
        u->len = 0;
    }
}

void
gm__held_rollback(struct gm_held *h)
{
    for (size_t i = h->n_undo; i-- > 0;) {
        struct gm_held_undo *u = &h->undo[i];
        if (!u->b) {
            drop(h, u->rec);
            continue;
        }
        h->bytes = h->bytes - u->rec->len + u->len;
        free(u->rec->b);
        u->rec->b = u->b;
        u->rec->len = u->len;
        u->rec->in_rec = u->in_rec;
    }
    h->n_undo = 0;
    h->rec_written = 0;
    for (struct gm_held_rec *r = h->oldest; r && r->wb; r = r->newer)
        r->wb = false;
}

void
gm__held_committed(struct gm_held *h)
{
    for (size_t i = 0; i < h->n_undo; i++)
        free(h->undo[i].b);
    h->n_undo = 0;
    account(h);
    while (h->oldest && h->oldest->wb)
        drop(h, h->oldest);
}

static void
jr_push(struct gm_held *h, uint64_t key, size_t size)
{
    if (h->jr_n == h->jr_cap) {
        size_t cap = h->jr_cap ? h->jr_cap * 2 : 1024;
        struct gm_held_jrec *jr = malloc(cap * sizeof *jr);
        if (!jr)
            abort();
        for (size_t i = 0; i < h->jr_n; i++)
            jr[i] = h->jr[(h->jr_head + i) % h->jr_cap];
        free(h->jr);
        h->jr = jr;
        h->jr_cap = cap;
        h->jr_head = 0;
    }
    h->jr[(h->jr_head + h->jr_n) % h->jr_cap] = (struct gm_held_jrec){key, size};
    h->jr_n++;
    h->journal_bytes += size;
}

static void
rec_add(struct gm_held *h, const void *p, size_t n)
{
    if (h->rec_len + n > h->rec_cap) {
        while (h->rec_len + n > h->rec_cap)
            h->rec_cap = h->rec_cap ? h->rec_cap * 2 : 65536;
        if (!(h->rec = realloc(h->rec, h->rec_cap)))
            abort();
    }
    memcpy(h->rec + h->rec_len, p, n);
    h->rec_len += n;
}

int
gm__held_write(struct gm_held *h, MDB_txn *txn, MDB_dbi profiles, MDB_dbi journal, int64_t feed_end)
{
    int rc = 0;
    uint8_t kb[8];
    /* the batch's record: every learner it staged, newest bytes (a learner
     * staged twice, by a batch that filled its table, goes once) */
    size_t jsize = 0;
    if (h->n_undo) {
        h->rec_len = 0;
        gm__put_be64(kb, (uint64_t)feed_end);
        rec_add(h, kb, 8);
        for (size_t i = 0; i < h->n_undo; i++) {
            struct gm_held_rec *r = h->undo[i].rec;
            if (r->in_rec == h->next_key + 1)
                continue;
            r->in_rec = h->next_key + 1;
            uint8_t lb[4];
            put_be32(lb, (uint32_t)r->ulen);
            rec_add(h, lb, 4);
            rec_add(h, r->user, r->ulen);
            put_be32(lb, (uint32_t)r->len);
            rec_add(h, lb, 4);
            rec_add(h, r->b, r->len);
        }
        gm__put_be64(kb, h->next_key);
        MDB_val k = {8, kb}, v = {h->rec_len, h->rec};
        if ((rc = mdb_put(txn, journal, &k, &v, MDB_APPEND)))
            return rc;
        jsize = h->rec_len;
    }
    h->rec_written = jsize;
    /* write back, oldest first, while past a bound: what is left held then
     * needs the journal from its oldest's first record on */
    size_t jfrom = 0, jbytes = h->journal_bytes + jsize, bytes = h->bytes;
    /* Paced: learners first held by one big batch share their journal
     * record, and the journal's bound would write them all back at once
     * (one long commit: the tail the bound is there to avoid). So at most
     * twice what the batch staged, or 512, per commit, unless the bounds
     * are passed twice over. */
    size_t n_wb = 0, pace = 2 * h->n_undo > 512 ? 2 * h->n_undo : 512;
    struct gm_held_rec *r = h->oldest;
    for (; r; r = r->newer) {
        while (jfrom < h->jr_n && h->jr[(h->jr_head + jfrom) % h->jr_cap].key < r->first)
            jbytes -= h->jr[(h->jr_head + jfrom++) % h->jr_cap].size;
        if (bytes <= h->cap_bytes && jbytes <= 4 * h->cap_bytes)
            break;
        if (n_wb >= pace && bytes <= 2 * h->cap_bytes && jbytes <= 8 * h->cap_bytes)
            break;
        n_wb++;
        MDB_val k = {r->ulen, r->user}, v = {r->len, r->b};
        if ((rc = mdb_put(txn, profiles, &k, &v, 0)))
            return rc;
        r->wb = true;
        bytes -= r->len + r->ulen;
    }
    uint64_t keep = r ? r->first : h->next_key + 1;
    /* journal records older than every learner left */
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, journal, &cur)))
        return rc;
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size != 8 || gm__get_be64(k.mv_data) >= keep)
            break;
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The in-memory side of gm__held_write, once its commit is durable. */
static void
account(struct gm_held *h)
{
    size_t jsize = h->rec_written;
    h->rec_written = 0;
    if (jsize)
        jr_push(h, h->next_key, jsize);
    h->next_key++;
    uint64_t keep = h->next_key;
    for (struct gm_held_rec *r = h->oldest; r; r = r->newer) {
        if (!r->wb) {
            keep = r->first;
            break;
        }
    }
    while (h->jr_n && h->jr[h->jr_head].key < keep) {
        h->journal_bytes -= h->jr[h->jr_head].size;
        h->jr_head = (h->jr_head + 1) % h->jr_cap;
        h->jr_n--;
    }
}

struct load_ctx {
    struct gm_held *h;
    uint64_t key;
};

static void
load_one(void *ctx, const char *user, size_t ulen, const uint8_t *b, size_t len)
{
    struct load_ctx *c = ctx;
    struct gm_held *h = c->h;
    struct gm_held_rec *r = h->n ? h->index[probe(h, user, ulen)] : NULL;
    if (r) {
        h->bytes = h->bytes - r->len + len;
        free(r->b);
        r->b = copy(b, len);
        r->len = len;
    } else {
        add(h, user, ulen, copy(b, len), len, c->key);
    }
}

int
gm__held_load(struct gm_held *h, MDB_txn *txn, MDB_dbi journal)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, journal, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        if (k.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        struct load_ctx c = {h, gm__get_be64(k.mv_data)};
        int64_t feed_end;
        if (!gm__journal_each(v.mv_data, v.mv_size, &feed_end, load_one, &c)) {
            rc = MDB_CORRUPTED;
            break;
        }
        jr_push(h, c.key, v.mv_size);
        h->next_key = c.key + 1;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

void
gm_state_held(const struct gm_state *s, struct gm_state_held *out)
{
    out->learners = s->held.n;
    out->bytes = s->held.bytes;
    out->journal_bytes = s->held.journal_bytes;
}
