/*
 * dedupe.c: the dedupe window: ids of events older than the window behind the
 * newest event time are deleted a few per folded event (the lookup itself
 * is in apply.c, where an event is marked seen).
 */
#include "state_int.h"

#include <string.h>

/* Dedupe ids deleted per folded event while older ones remain. */
#define DEDUPE_PRUNE_PER_EVENT 16

/*
 * Deletes up to DEDUPE_PRUNE_PER_EVENT dedupe ids older than the window
 * behind the newest event time; clears dedupe_pending when none is left.
 * Bounded per event, so that a jump in event time (a log resuming after a
 * silence) does not delete a whole window's ids in one batch; ids not yet
 * deleted are never taken for duplicates (the lookup checks their time).
 */
int
gm__prune_dedupe_some(struct gm_state *s)
{
    int budget = DEDUPE_PRUNE_PER_EVENT;
    int64_t edge = s->meta.newest_time - s->opts.dedupe_window_s;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->txn, s->dedupe_time, &cur);
    if (rc)
        return gm__db_fail(s, rc, "dedupe_time cursor");
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size < 8 || k.mv_size > 8 + GM_ID_MAX ||
            (int64_t)gm__get_be64(k.mv_data) >= edge) {
            s->meta.dedupe_pending = 0;
            break;
        }
        if (budget-- == 0)
            break;
        /* The id is copied out first: k points into a page of dedupe_time,
         * and LMDB may spill or reuse dirty pages during another write. */
        uint8_t idb[GM_ID_MAX];
        MDB_val id = {k.mv_size - 8, idb};
        memcpy(idb, (uint8_t *)k.mv_data + 8, id.mv_size);
        if ((rc = mdb_cursor_del(cur, 0))) {
            gm__db_fail(s, rc, "dedupe_time delete");
            break;
        }
        if ((rc = mdb_del(s->txn, s->dedupe, &id, NULL)) && rc != MDB_NOTFOUND) {
            gm__db_fail(s, rc, "dedupe delete");
            break;
        }
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        s->meta.dedupe_pending = 0;
    return rc == MDB_NOTFOUND ? 0 : gm__db_fail(s, rc, "dedupe_time cursor");
}
