/*
 * meta.c: the meta values of a state (source offset, sequence counters,
 * newest event time, leaderboard periods and floors, pending prunes):
 * each a big-endian 8-byte value under its name in the meta database.
 */
#include "state_int.h"

#include <string.h>

static const char *const meta_names[] = {
    "offset",      "newest_time",   "ledger_seq",     "change_seq",  "dl_seq",
    "red_seq",     "rules_seq",     "week_index",     "month_index", "week_floor",
    "month_floor", "prune_pending", "dedupe_pending", "newest_nanos"};

enum {
    META_NEWEST = 1,
    META_WEEK = 7,
    META_MONTH = 8,
    META_WEEK_FLOOR = 9,
    META_MONTH_FLOOR = 10,
    META_NEWEST_NANOS = 13
};

static int64_t *
meta_slot(struct meta *m, size_t i)
{
    int64_t *slots[] = {(int64_t *)&m->offset, &m->newest_time, &m->ledger_seq,
                        &m->change_seq,        &m->dl_seq,      &m->red_seq,
                        &m->rules_seq,         &m->week_index,  &m->month_index,
                        &m->week_floor,        &m->month_floor, &m->prune_pending,
                        &m->dedupe_pending,    &m->newest_nanos};
    return slots[i];
}

/*
 * Reads the meta values of txn into *m. Errors: an LMDB code, GM_ECORRUPT
 * (then *bad names the value). Touches nothing of the store but its meta
 * handle, so readers in other threads may call it.
 */
int
gm__meta_read(MDB_txn *txn, MDB_dbi dbi, struct meta *m, const char **bad)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < sizeof meta_names / sizeof meta_names[0]; i++) {
        MDB_val k = {strlen(meta_names[i]), (void *)meta_names[i]}, v;
        int rc = mdb_get(txn, dbi, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc)
            return rc;
        if (v.mv_size != 8) {
            *bad = meta_names[i];
            return GM_ECORRUPT;
        }
        *meta_slot(m, i) = (int64_t)gm__get_be64(v.mv_data);
        if (i == META_NEWEST)
            m->has_newest = true;
        if (i == META_WEEK)
            m->has_periods = true;
        if (i == META_WEEK_FLOOR)
            m->has_floors = true;
    }
    return 0;
}

/* gm__meta_read for the writer: a failure is noted (gm__db_fail, gm__fail). */
int
gm__meta_load(struct gm_state *s, MDB_txn *txn, struct meta *m)
{
    const char *bad = "?";
    int rc = gm__meta_read(txn, s->meta_db, m, &bad);
    if (rc == GM_ECORRUPT)
        return gm__fail(s, rc, "meta value %s does not have 8 bytes", bad);
    return gm__db_fail(s, rc, "meta");
}

int
gm__meta_save(struct gm_state *s)
{
    for (size_t i = 0; i < sizeof meta_names / sizeof meta_names[0]; i++) {
        if (((i == META_NEWEST || i == META_NEWEST_NANOS) && !s->meta.has_newest) ||
            ((i == META_WEEK || i == META_MONTH) && !s->meta.has_periods) ||
            ((i == META_WEEK_FLOOR || i == META_MONTH_FLOOR) && !s->meta.has_floors))
            continue;
        uint8_t buf[8];
        gm__put_be64(buf, (uint64_t)*meta_slot(&s->meta, i));
        MDB_val k = {strlen(meta_names[i]), (void *)meta_names[i]}, v = {8, buf};
        int rc = mdb_put(s->txn, s->meta_db, &k, &v, 0);
        if (rc)
            return rc;
    }
    return 0;
}
