/*
 * bench_preload.c: benchmarks only (not linked into the programs): filling a
 * state's dedupe window with synthetic ids, as if that many events had
 * been folded (tests/bench).
 */
#include "state_int.h"

#include "bench.h"

#include <stdio.h>
#include <string.h>

int
gm_state_preload_dedupe(struct gm_state *s, uint64_t n, int64_t t, struct gm_err *err)
{
    const uint64_t per_batch = 1000000;
    if (s->txn)
        return gm_err_set(err, GM_EINVAL, "a batch is open");
    if (s->read_only || s->dlq_only)
        return gm_err_set(err, GM_EINVAL, "the state is open read-only");
    uint8_t tb[8];
    gm__put_be64(tb, (uint64_t)t);
    uint64_t done = 0;
    while (done < n) {
        uint64_t end = done + per_batch < n ? done + per_batch : n;
        int rc = mdb_txn_begin(s->env, NULL, 0, &s->txn);
        if (rc) {
            s->txn = NULL;
            return gm__lmdb_error(err, rc, "begin");
        }
        uint64_t i;
        for (i = done; i < end && rc == 0; i++) {
            char id[32];
            int len = snprintf(id, sizeof id, "preload-%012llu", (unsigned long long)i);
            uint8_t tk[8 + sizeof id];
            memcpy(tk, tb, 8);
            memcpy(tk + 8, id, (size_t)len);
            MDB_val k = {(size_t)len, id}, v = {8, tb}, tkv = {8 + (size_t)len, tk},
                    empty = {0, ""};
            if ((rc = mdb_put(s->txn, s->dedupe, &k, &v, 0)) == 0)
                rc = mdb_put(s->txn, s->dedupe_time, &tkv, &empty, 0);
        }
        if (rc == 0) {
            rc = mdb_txn_commit(s->txn);
            s->txn = NULL;
            if (rc == 0) {
                done = end;
                continue;
            }
        } else {
            mdb_txn_abort(s->txn);
            s->txn = NULL;
        }
        if (rc != MDB_MAP_FULL)
            return gm__lmdb_error(err, rc, "preload");
        /* grow and redo this batch */
        s->map_size *= 2;
        s->stats.map_resizes++;
        if ((rc = gm__resize(s)))
            return gm__lmdb_error(err, rc, "gm__resize");
    }
    return 0;
}
