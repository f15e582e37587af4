/*
 * stock.c: the stock table (reward id -> completed redemptions) of states
 * written before it counted every completed redemption. Stock is a total
 * over the whole log, under any rules version (docs/rules.md,
 * redeemReward): a reward redeemed while it had no stock must count once
 * later rules give it one. Such a state is recounted from its redemptions
 * once, when it is first opened for writing.
 */
#include "state_int.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

int
gm__count_stock(struct gm_state *s, MDB_txn *txn)
{
    MDB_val mk = {13, "stock_counted"}, mv;
    int rc = mdb_get(txn, s->meta_db, &mk, &mv);
    if (rc != MDB_NOTFOUND)
        return gm__db_fail(s, rc, "meta stock_counted");
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, s->redemptions, &cur)))
        return gm__db_fail(s, rc, "redemptions cursor");
    MDB_val k, v;
    size_t n = 0;
    bool cleared = false;
    while (rc == 0 && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Gamify__Internal__Redemption *red =
            gamify__internal__redemption__unpack(NULL, v.mv_size, v.mv_data);
        if (!red) {
            rc = gm__fail(s, GM_ECORRUPT, "a stored redemption does not decode");
            break;
        }
        if (red->completed) {
            if (!cleared && (rc = mdb_drop(txn, s->stock, 0))) {
                gamify__internal__redemption__free_unpacked(red, NULL);
                rc = gm__db_fail(s, rc, "stock drop");
                break;
            }
            cleared = true;
            MDB_val sk = {strlen(red->reward_id), red->reward_id}, sv;
            int64_t used = 0;
            rc = mdb_get(txn, s->stock, &sk, &sv);
            if (rc == 0 && sv.mv_size == 8)
                used = (int64_t)gm__get_be64(sv.mv_data);
            else if (rc != 0 && rc != MDB_NOTFOUND)
                rc = gm__db_fail(s, rc, "stock get");
            if (rc == 0 || rc == MDB_NOTFOUND) {
                uint8_t vb[8];
                gm__put_be64(vb, (uint64_t)(used + 1));
                sv.mv_size = 8;
                sv.mv_data = vb;
                rc = gm__db_fail(s, mdb_put(txn, s->stock, &sk, &sv, 0), "stock put");
            }
            n++;
        }
        gamify__internal__redemption__free_unpacked(red, NULL);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    uint8_t one[8];
    gm__put_be64(one, 1);
    mv.mv_size = 8;
    mv.mv_data = one;
    if (n)
        gm_log(GM_LOG_INFO, "recounted the stock of rewards from %zu completed redemptions", n);
    return gm__db_fail(s, mdb_put(txn, s->meta_db, &mk, &mv, 0), "meta stock_counted");
}
