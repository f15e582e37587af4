/*
 * profiles.c: learner records in the profiles database: decoding one (old
 * records converted), and the learners a batch holds decoded
 * (learners.h): read once, snapshotted before a fold that may be rejected,
 * written back once before the commit.
 */
#include "state_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Unpacks a learner's record; NULL if it does not decode. A record of a
 * state before reach times (scores_packed_v1, entries without reached_at)
 * is converted: reach time 0 (unknown, the earliest), so its equal scores
 * keep ranking by member as they did. Decoded by hand (usercodec.h), by
 * protobuf-c what the hand decoder leaves to it. Returns new; free with
 * gamify__internal__user_state__free_unpacked.
 */
Gamify__Internal__UserState *
gm__user_unpack(size_t len, const void *data)
{
    Gamify__Internal__UserState *st = gm_user_decode(data, len);
    if (!st)
        st = gamify__internal__user_state__unpack(NULL, len, data);
    if (!st || !st->scores_packed_v1.len)
        return st;
    ProtobufCBinaryData *old = &st->scores_packed_v1, *sp = &st->scores_packed;
    uint8_t *out = malloc(old->len * 2 + sp->len + 1), *w = out;
    if (!out)
        abort();
    struct score_entry e;
    for (size_t r = 0, n; r < old->len; r += n) {
        if (!(n = gm__score_next_tail(old->data + r, old->len - r, &e, 8)))
            break; /* a malformed tail is dropped */
        memcpy(w, old->data + r, n);
        memset(w + n, 0, 8);
        w += n + 8;
    }
    if (sp->len)
        memcpy(w, sp->data, sp->len), w += sp->len;
    free(old->data);
    free(sp->data);
    old->data = NULL;
    old->len = 0;
    sp->data = out;
    sp->len = (size_t)(w - out);
    return st;
}

/*
 * Writes the learners the batch changed back to `profiles` and empties the
 * table; with write-behind learners (held.h) stages them instead, for the
 * commit's journal record. Runs before every commit, and when the table is
 * full. Returns 0 or an LMDB code (MDB_MAP_FULL: the batch is applied
 * again).
 */
int
gm__write_learners(struct gm_state *s)
{
    int rc = 0;
    bool held = gm__held_active(&s->held);
    for (size_t i = 0; i < s->learners.n && rc == 0; i++) {
        struct gm_learner_slot *sl = &s->learners.slots[i];
        if (!sl->dirty)
            continue;
        if (held) {
            size_t size = gm__learner_snapshot(s, sl);
            gm__held_stage(&s->held, sl->user, sl->ulen, s->snap, size);
            continue;
        }
        MDB_val k = {sl->ulen, sl->user};
        rc = gm__db_fail(s, gm__put_user(s->txn, s->profiles, &k, sl->st), "profiles put");
    }
    gm_learners_clear(&s->learners);
    return rc;
}

/*
 * At the commit, after gm__write_learners: the journal record and the
 * write-backs of held learners (held.h); nothing when none is held and
 * holding is off. *used says whether gm__held_committed is due after the
 * commit.
 */
int
gm__write_held(struct gm_state *s, bool *used)
{
    *used = gm__held_active(&s->held);
    if (!*used)
        return 0;
    return gm__db_fail(
        s, gm__held_write(&s->held, s->txn, s->profiles, s->journal, s->meta.change_seq),
        "journal");
}

/*
 * The learner user of the open batch when it is not held yet
 * (gm__learner_get): read from `profiles`, else new (level 1, not written
 * unless an event changes it).
 * *out is borrowed until the next call. Returns 0, an LMDB code or
 * GM_ECORRUPT.
 */
int
gm__learner_load(struct gm_state *s, const char *user, size_t ulen, struct gm_learner_slot **out)
{
    int rc;
    if (s->learners.n >= GM_LEARNERS_MAX && (rc = gm__write_learners(s)))
        return rc;
    Gamify__Internal__UserState *st;
    MDB_val k = {ulen, (void *)user}, v;
    const struct gm_held_rec *hr = gm__held_find(&s->held, user, ulen);
    if (hr) {
        v.mv_size = hr->len;
        v.mv_data = hr->b;
        rc = 0;
    } else {
        rc = mdb_get(s->txn, s->profiles, &k, &v);
    }
    if (rc == 0) {
        st = gm__user_unpack(v.mv_size, v.mv_data);
        if (!st)
            return gm__fail(s, GM_ECORRUPT, "the stored record of learner %s does not decode",
                            user);
    } else if (rc == MDB_NOTFOUND) {
        st = malloc(sizeof *st);
        if (!st)
            abort();
        gamify__internal__user_state__init(st);
        if (!(st->user_id = strdup(user)))
            abort();
        st->level = 1;
    } else {
        return gm__db_fail(s, rc, "profiles get");
    }
    *out = gm_learners_add(&s->learners, user, ulen, st);
    return 0;
}

/* Keeps a packed copy of sl's learner in s->snap; returns its size. */
size_t
gm__learner_snapshot(struct gm_state *s, const struct gm_learner_slot *sl)
{
    size_t hand = gm_user_encode_size(sl->st);
    size_t size = hand ? hand : gamify__internal__user_state__get_packed_size(sl->st);
    if (size > s->cap_snap) {
        s->cap_snap = size * 2;
        s->snap = realloc(s->snap, s->cap_snap);
        if (!s->snap)
            abort();
    }
    if (hand)
        gm_user_encode(sl->st, s->snap);
    else
        gamify__internal__user_state__pack(sl->st, s->snap);
    return size;
}

/* Puts back the learner gm__learner_snapshot kept (a fold that was rejected). */
int
gm__learner_restore(struct gm_state *s, struct gm_learner_slot *sl, size_t size)
{
    Gamify__Internal__UserState *st = gm_user_decode(s->snap, size);
    if (!st)
        st = gamify__internal__user_state__unpack(NULL, size, s->snap);
    if (!st)
        abort(); /* our own packing of a record we hold */
    gamify__internal__user_state__free_unpacked(sl->st, NULL);
    sl->st = st;
    sl->scores_cap = 0;
    return 0;
}
