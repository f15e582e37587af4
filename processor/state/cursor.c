/*
 * cursor.c: projector cursors (meta keys "cursor:NAME", with an optional
 * output position beside them) and the walk over the outbound events of
 * the change feed.
 */
#include "state_int.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* LMDB keys are at most 511 bytes: longer names are keyed by their hash. */
#define CURSOR_KEY_MAX 480

/* The meta key of a projector's cursor: "cursor:NAME", or for a name too
 * long for a key "cursor#" and the SHA-256 of the name in hex. */
static size_t
cursor_key(char *buf, size_t cap, const char *name)
{
    int n = snprintf(buf, cap, "cursor:%s", name);
    if (n >= 0 && (size_t)n < cap)
        return (size_t)n;
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(name, strlen(name), md, &mdlen, EVP_sha256(), NULL) || cap < 7 + 65)
        abort();
    memcpy(buf, "cursor#", 7);
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(buf + 7 + 2 * i, 3, "%02x", md[i]);
    return 7 + 2 * (size_t)mdlen;
}

/* A cursor's value: the sequence number, then optionally a position. */
int
gm_state_cursor_get_pos(struct gm_state *s, const char *name, int64_t *seq, int64_t *pos)
{
    char kb[CURSOR_KEY_MAX];
    MDB_val k = {cursor_key(kb, sizeof kb, name), kb}, v;
    MDB_txn *txn;
    *seq = 0;
    *pos = -1;
    if (gm__ro_begin(s, &txn))
        return GM_EDB;
    int rc = mdb_get(txn, s->meta_db, &k, &v);
    if (rc == 0 && (v.mv_size == 8 || v.mv_size == 16))
        *seq = (int64_t)gm__get_be64(v.mv_data);
    if (rc == 0 && v.mv_size == 16)
        *pos = (int64_t)gm__get_be64((const uint8_t *)v.mv_data + 8);
    mdb_txn_abort(txn);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : GM_EDB;
}

int
gm_state_cursor_get(struct gm_state *s, const char *name, int64_t *seq)
{
    int64_t pos;
    return gm_state_cursor_get_pos(s, name, seq, &pos);
}

int
gm_state_cursor_set_pos(struct gm_state *s, const char *name, int64_t seq, int64_t pos,
                        struct gm_err *err)
{
    if (s->txn)
        return gm_err_set(err, GM_EINVAL, "a batch is open");
    if (s->read_only || s->dlq_only)
        return gm_err_set(err, GM_EINVAL, "the state is open read-only");
    char kb[CURSOR_KEY_MAX];
    uint8_t vb[16];
    gm__put_be64(vb, (uint64_t)seq);
    gm__put_be64(vb + 8, (uint64_t)pos);
    MDB_val k = {cursor_key(kb, sizeof kb, name), kb}, v = {pos < 0 ? 8 : 16, vb};
    MDB_txn *txn;
    int rc = gm__rw_begin(s, &txn);
    if (rc)
        return gm__lmdb_error(err, rc, "begin");
    if ((rc = mdb_put(txn, s->meta_db, &k, &v, 0))) {
        mdb_txn_abort(txn);
        return gm__lmdb_error(err, rc, "cursor");
    }
    if ((rc = mdb_txn_commit(txn)))
        return gm__lmdb_error(err, rc, "commit");
    return 0;
}

int
gm_state_cursor_set(struct gm_state *s, const char *name, int64_t seq, struct gm_err *err)
{
    return gm_state_cursor_set_pos(s, name, seq, -1, err);
}

int
gm_state_outbound_foreach(struct gm_state *s, int64_t *seq,
                          int (*fn)(void *ctx, const Gamification__V1__OutboundEvent *oev),
                          void *ctx)
{
    MDB_txn *txn;
    if (gm__ro_begin(s, &txn))
        return GM_EDB;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->changes, &cur);
    if (rc) {
        mdb_txn_abort(txn);
        return GM_EDB;
    }
    uint8_t kb[8];
    gm__put_be64(kb, (uint64_t)*seq);
    MDB_val k = {8, kb}, v;
    int result = 0;
    struct gm__change_reader reader;
    gm__change_reader_init(&reader);
    struct meta m;
    const char *bad = NULL;
    if (gm__meta_read(txn, s->meta_db, &m, &bad) == 0 && *seq < m.change_seq) {
        /* the feed is contiguous: a gap at *seq means it was trimmed */
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND || (rc == 0 && (int64_t)gm__get_be64(k.mv_data) != *seq))
            result = GM_ENOTFOUND;
        gm__put_be64(kb, (uint64_t)*seq);
        k.mv_size = 8;
        k.mv_data = kb;
    }
    for (rc = result ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && result == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct gm_change ch;
        if (k.mv_size != 8 || gm__change_decode(&reader, (int64_t)gm__get_be64(k.mv_data),
                                                v.mv_data, v.mv_size, &ch)) {
            result = GM_ECORRUPT;
            break;
        }
        for (size_t i = 0; i < ch.n_outbound && result == 0; i++)
            result = fn(ctx, ch.outbound[i]);
        if (result == 0)
            *seq = ch.seq + 1;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    gm__change_reader_deinit(&reader);
    if (result)
        return result;
    return rc == MDB_NOTFOUND ? 0 : GM_EDB;
}
