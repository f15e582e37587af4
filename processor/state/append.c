/*
 * append.c: the append-only trees of a batch (ledger, changes, dead
 * letters), keyed by a big-endian sequence number that only grows. Each
 * has one LMDB cursor per batch, opened on its first record: MDB_APPEND
 * through a cursor that already stands on the tree's last page adds the
 * record there without descending the tree again (mdb_put opens a fresh
 * cursor and descends once per record). The pages written are the same
 * as with mdb_put, so the stored bytes do not change.
 *
 * Every write to these trees in a batch goes through here: a record put
 * beside a held cursor could split the last page under it. The cursors
 * are closed (gm__append_close) before the batch's transaction ends.
 */
#include "state_int.h"

#include <assert.h>

/* The cursor of tree dbi, opened on first use; NULL for no tree of ours. */
static MDB_cursor **
cursor_slot(struct gm_state *s, MDB_dbi dbi)
{
    if (dbi == s->ledger)
        return &s->app_cur[0];
    if (dbi == s->changes)
        return &s->app_cur[1];
    if (dbi == s->deadletters)
        return &s->app_cur[2];
    return NULL;
}

int
gm__append_reserve(struct gm_state *s, MDB_dbi dbi, int64_t seq, size_t size, void **out)
{
    MDB_cursor **cur = cursor_slot(s, dbi);
    assert(cur);
    int rc;
    if (!*cur && (rc = mdb_cursor_open(s->txn, dbi, cur))) {
        *cur = NULL;
        return rc;
    }
    uint8_t kb[8];
    gm__put_be64(kb, (uint64_t)seq);
    MDB_val k = {8, kb}, v = {size, NULL};
    if ((rc = mdb_cursor_put(*cur, &k, &v, MDB_APPEND | MDB_RESERVE)))
        return rc;
    *out = v.mv_data;
    return 0;
}

void
gm__append_close(struct gm_state *s)
{
    for (size_t i = 0; i < sizeof s->app_cur / sizeof s->app_cur[0]; i++) {
        if (s->app_cur[i])
            mdb_cursor_close(s->app_cur[i]);
        s->app_cur[i] = NULL;
    }
}
