/*
 * digest.c: the SHA-256 digest of a state's canonical content (`gamify
 * digest`): independent of batching, offsets, the change feed, dead
 * letters and which learners are held (held.h).
 */
#include "state_int.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static int
digest_kv(void *ctx, const MDB_val *k, const MDB_val *v)
{
    EVP_MD_CTX *md = ctx;
    uint8_t lens[16];
    gm__put_be64(lens, k->mv_size);
    gm__put_be64(lens + 8, v->mv_size);
    EVP_DigestUpdate(md, lens, 16);
    EVP_DigestUpdate(md, k->mv_data, k->mv_size);
    EVP_DigestUpdate(md, v->mv_data, v->mv_size);
    return 0;
}

int
gm_state_digest(struct gm_state *s, unsigned char out[32])
{
    MDB_txn *txn;
    if (gm__ro_begin(s, &txn))
        return GM_EDB;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        abort();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    /* A what-if state never has the digest of a real one. */
    if (s->what_if[0]) {
        EVP_DigestUpdate(md, "what-if", 8);
        EVP_DigestUpdate(md, s->what_if, 64);
    }
    /* Offsets, the change feed and dead letters depend on the log's format
     * and on the projectors, not on what the events mean: left out. */
    struct {
        const char *name;
        MDB_dbi dbi;
    } dbs[] = {
        {"profiles", s->profiles},       {"first", s->first},   {"dedupe", s->dedupe},
        {"redemptions", s->redemptions}, {"stock", s->stock},   {"ledger", s->ledger},
        {"rules", s->rules_db},          {"expiry", s->expiry},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0] && rc == 0; i++) {
        if (dbs[i].dbi == s->expiry && !s->has_expiry)
            continue;
        EVP_DigestUpdate(md, dbs[i].name, strlen(dbs[i].name) + 1);
        if (dbs[i].dbi == s->profiles) {
            /* learners as they are: a held one's newest copy is in the
             * journal (held.h), and the digest does not depend on that */
            struct gm__overlay o;
            if ((rc = gm__overlay_build(s, txn, INT64_MIN, &o)) == 0)
                rc = gm__learners_walk(s, txn, &o, NULL, 0, digest_kv, md);
            gm__overlay_free(&o);
            continue;
        }
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, dbs[i].dbi, &cur)))
            break;
        MDB_val k, v;
        while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
            digest_kv(md, &k, &v);
        mdb_cursor_close(cur);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    unsigned int n = 32;
    EVP_DigestFinal_ex(md, out, &n);
    EVP_MD_CTX_free(md);
    mdb_txn_abort(txn);
    return rc ? GM_EDB : 0;
}
