/*
 * dlq.c: the dead-letter queue: listing dead letters as JSON lines and
 * taking them out (`gamify dlq list`, `gamify dlq requeue`).
 */
#include "state_int.h"

#include "codec.h"
#include "json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int
gm_state_dlq_take(struct gm_state *s, const char *reason, int64_t seq,
                  int (*fn)(void *ctx, const Gamify__Internal__DeadLetter *dl), void *ctx,
                  size_t *n, struct gm_err *err)
{
    *n = 0;
    if (s->txn)
        return gm_err_set(err, GM_EINVAL, "a batch is open");
    if (s->read_only)
        return gm_err_set(err, GM_EINVAL, "the state is open read-only");
    MDB_txn *txn;
    int rc = gm__rw_begin(s, &txn);
    if (rc)
        return gm__lmdb_error(err, rc, "begin");
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, s->deadletters, &cur))) {
        mdb_txn_abort(txn);
        return gm__lmdb_error(err, rc, "cursor");
    }
    MDB_val k, v;
    int result = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        uint8_t kb[8]; /* the key, copied: the delete changes its page */
        if (k.mv_size != 8) {
            result =
                gm_err_set(err, GM_ECORRUPT, "a dead letter's key has %zu bytes, not 8", k.mv_size);
            break;
        }
        memcpy(kb, k.mv_data, 8);
        Gamify__Internal__DeadLetter *dl =
            gamify__internal__dead_letter__unpack(NULL, v.mv_size, v.mv_data);
        bool take = false;
        if (dl && (!reason || strcmp(dl->reason, reason) == 0) && (seq < 0 || dl->seq == seq)) {
            result = fn(ctx, dl);
            take = result == 1;
        }
        if (dl)
            gamify__internal__dead_letter__free_unpacked(dl, NULL);
        if (result < 0)
            break;
        if (take) {
            if ((rc = mdb_cursor_del(cur, 0)))
                break;
            (*n)++;
            /* the next one: the first key after the deleted one */
            k.mv_size = 8;
            k.mv_data = kb;
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            continue;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (result < 0) {
        mdb_txn_abort(txn);
        *n = 0;
        return result;
    }
    if (rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        *n = 0;
        return gm__lmdb_error(err, rc, "dead letters");
    }
    if ((rc = mdb_txn_commit(txn))) {
        *n = 0;
        return gm__lmdb_error(err, rc, "commit");
    }
    return 0;
}

int
gm_state_dlq_list(struct gm_state *s, FILE *to, int partition)
{
    MDB_txn *txn;
    if (gm__ro_begin(s, &txn))
        return GM_EDB;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->deadletters, &cur);
    if (rc) {
        mdb_txn_abort(txn);
        return GM_EDB;
    }
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Gamify__Internal__DeadLetter *dl =
            gamify__internal__dead_letter__unpack(NULL, v.mv_size, v.mv_data);
        if (!dl)
            continue;
        json_t *o = json_object();
        if (partition >= 0)
            json_object_set_new(o, "partition", json_integer(partition));
        json_object_set_new(o, "seq", json_integer(dl->seq));
        json_object_set_new(o, "offset", json_integer((json_int_t)dl->offset));
        json_object_set_new(o, "reason", json_string(dl->reason));
        json_object_set_new(o, "detail", json_string(dl->detail));
        json_t *id = dl->event_id[0] ? json_string(dl->event_id) : NULL;
        json_object_set_new(o, "eventId", id ? id : json_null());
        json_object_set_new(o, "bytes", json_integer((json_int_t)dl->record.len));
        if (dl->json) {
            json_t *rec = json_stringn((const char *)dl->record.data, dl->record.len);
            json_object_set_new(o, "record", rec ? rec : json_null());
        }
        char *text = json_dumps(o, JSON_COMPACT);
        if (text)
            fprintf(to, "%s\n", text);
        free(text);
        json_decref(o);
        gamify__internal__dead_letter__free_unpacked(dl, NULL);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? 0 : GM_EDB;
}
