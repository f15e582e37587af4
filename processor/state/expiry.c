/*
 * expiry.c: leaderboard period expiry: the expiry queue (who holds a score in
 * which week or month), the floors below which periods are expired, the
 * change announcing expired periods, and the pruning of learner records a
 * few per folded event.
 */
#include "state_int.h"

#include "log.h"
#include "tz.h"

#include <stdlib.h>
#include <string.h>

/* Whether a period is past keep_weeks / keep_months (by the meta's floors). */
bool
gm__period_expired(const struct meta *m, const char *period, size_t len)
{
    /* A period key's index is a function of its text: parsed once per
     * thread and kept in a small direct-mapped cache (every learner record
     * holds the same few dozen keys; pruning reads them all). */
    static _Thread_local struct {
        char key[GM_PERIOD_KEY_MAX];
        uint8_t len; /* 0: empty slot */
        bool ok, weekly;
        int64_t idx;
    } cache[64];
    if (!m->has_floors)
        return false; /* no floors yet */
    bool weekly;
    int64_t idx;
    if (len == 0 || len >= GM_PERIOD_KEY_MAX)
        return false; /* not a period key gm_fold_period_parse reads */
    unsigned h = (unsigned)len;
    for (size_t i = 0; i < len; i++)
        h = h * 31 + (unsigned char)period[i];
    __typeof__(&cache[0]) c = &cache[h % 64];
    if (c->len != len || memcmp(c->key, period, len) != 0) {
        c->ok = gm_fold_period_parse(period, len, &c->weekly, &c->idx) == 0;
        memcpy(c->key, period, len);
        c->len = (uint8_t)len;
    }
    if (!c->ok)
        return false; /* "all" */
    weekly = c->weekly;
    idx = c->idx;
    return idx < (weekly ? m->week_floor : m->month_floor);
}

/*
 * Expiry keys: 'W' or 'M', the period index (sign bit flipped, so that the
 * byte order is the numeric order), then the user id. One per learner and
 * period in which it holds a score: pruning a period visits exactly the
 * learners that have something in it.
 */
#define EXPIRY_HDR 9

static size_t
expiry_key(uint8_t *buf, char kind, int64_t idx, const char *user, size_t ulen)
{
    buf[0] = (uint8_t)kind;
    gm__put_be64(buf + 1, (uint64_t)idx ^ (UINT64_C(1) << 63));
    memcpy(buf + EXPIRY_HDR, user, ulen);
    return EXPIRY_HDR + ulen;
}

static int64_t
expiry_idx(const uint8_t *key)
{
    return (int64_t)(gm__get_be64(key + 1) ^ (UINT64_C(1) << 63));
}

/* Records (once) that user holds a score in week or month idx. */
int
gm__expiry_add_index(MDB_txn *txn, MDB_dbi dbi, bool weekly, int64_t idx, const char *user,
                     size_t ulen)
{
    uint8_t kb[EXPIRY_HDR + GM_ID_MAX];
    if (ulen > GM_ID_MAX)
        return 0;
    MDB_val k = {expiry_key(kb, weekly ? 'W' : 'M', idx, user, ulen), kb}, empty = {0, ""};
    int rc = mdb_put(txn, dbi, &k, &empty, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? 0 : rc;
}

/* Records (once) that user holds a score in the period named period. */
static int
expiry_add(MDB_txn *txn, MDB_dbi dbi, const char *period, size_t plen, const char *user,
           size_t ulen)
{
    bool weekly;
    int64_t idx;
    if (gm_fold_period_parse(period, plen, &weekly, &idx))
        return 0; /* "all" never expires */
    return gm__expiry_add_index(txn, dbi, weekly, idx, user, ulen);
}

/*
 * States written before the expiry queue existed: index every learner's
 * periods once, when such a state is first opened for writing.
 */
int
gm__index_expiry(struct gm_state *s, MDB_txn *txn)
{
    MDB_val mk = {14, "expiry_indexed"}, mv;
    int rc = mdb_get(txn, s->meta_db, &mk, &mv);
    if (rc != MDB_NOTFOUND)
        return gm__db_fail(s, rc, "meta expiry_indexed");
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, s->profiles, &cur)))
        return gm__db_fail(s, rc, "profiles cursor");
    MDB_val k, v;
    size_t n = 0;
    while (rc == 0 && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Gamify__Internal__UserState *st = gm__user_unpack(v.mv_size, v.mv_data);
        if (!st) {
            rc = gm__fail(s, GM_ECORRUPT, "the stored record of learner %.*s does not decode",
                          (int)k.mv_size, (const char *)k.mv_data);
            break;
        }
        const ProtobufCBinaryData *sp = &st->scores_packed;
        struct score_entry e;
        for (size_t r = 0, len; rc == 0 && r < sp->len; r += len) {
            if (!(len = gm__score_next(sp->data + r, sp->len - r, &e)))
                break;
            rc = gm__db_fail(s,
                             expiry_add(txn, s->expiry, e.period, e.period_len, st->user_id,
                                        strlen(st->user_id)),
                             "expiry put");
        }
        gamify__internal__user_state__free_unpacked(st, NULL);
        n++;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    uint8_t one[8];
    gm__put_be64(one, 1);
    mv.mv_size = 8;
    mv.mv_data = one;
    if (n)
        gm_log(GM_LOG_INFO, "indexed the leaderboard periods of %zu learners", n);
    return gm__db_fail(s, mdb_put(txn, s->meta_db, &mk, &mv, 0), "meta expiry_indexed");
}

/* A growing list of period names (new strings). */
struct names {
    char **v;
    size_t n, cap;
};

static void
names_add(struct names *l, const char *name)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            abort();
    }
    if (!(l->v[l->n++] = strdup(name)))
        abort();
}

static void
names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Adds the names of the periods of kind held by someone with from <= idx < to. */
static int
expiring_names(struct gm_state *s, char kind, int64_t from, int64_t to, struct names *out)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->txn, s->expiry, &cur);
    if (rc)
        return gm__db_fail(s, rc, "expiry cursor");
    for (int64_t idx = from; idx < to;) {
        uint8_t kb[EXPIRY_HDR];
        MDB_val k = {expiry_key(kb, kind, idx, "", 0), kb}, v;
        if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)))
            break;
        if (k.mv_size < EXPIRY_HDR || ((uint8_t *)k.mv_data)[0] != (uint8_t)kind)
            break;
        idx = expiry_idx(k.mv_data);
        if (idx >= to)
            break;
        char name[GM_PERIOD_KEY_MAX];
        gm_fold_period_name(kind == 'W', idx, name);
        names_add(out, name);
        idx++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : gm__db_fail(s, rc, "expiry cursor");
}

/*
 * Moves the newest week and month (in the rules' zone) and the floors below
 * which periods are expired. When a floor rises, the periods it passes are
 * announced in one change (projectors drop them) and pruning starts; the
 * learners' records are then cleaned a few per event (gm__prune_step), so that
 * no single event pays for a million learners. Until then readers hide the
 * expired periods by the floors.
 */
int
gm__advance_periods(struct gm_state *s)
{
    if (!s->rules || !s->meta.has_newest)
        return 0;
    const struct gm_tz *tz;
    if (gm_tz_get(s->rules->timezone, &tz, NULL))
        return 0;
    char week[GM_PERIOD_KEY_MAX], month[GM_PERIOD_KEY_MAX];
    int64_t wi, mi;
    gm_fold_periods(gm_tz_local_day(tz, s->meta.newest_time), week, month, &wi, &mi);
    /* the periods of the newest time in the zone of the rules in force: new
     * rules with a zone behind the old one may move them back (a day that
     * was Monday in Kiritimati is Sunday in Pago Pago) */
    s->meta.week_index = wi;
    s->meta.month_index = mi;
    s->meta.has_periods = true;
    int64_t wf = s->meta.week_index - s->rules->keep_weeks;
    int64_t mf = s->meta.month_index - s->rules->keep_months;
    if (s->meta.has_floors && wf == s->meta.week_floor && mf == s->meta.month_floor)
        return 0;
    int64_t old_wf = s->meta.has_floors ? s->meta.week_floor : INT64_MIN / 2;
    int64_t old_mf = s->meta.has_floors ? s->meta.month_floor : INT64_MIN / 2;
    /* A floor that goes down (rules that keep periods longer) must not bring
     * back periods that were dropped but whose learners are not cleaned yet:
     * finish their pruning under the old floors first. Rare (a rules change),
     * so it may cost one event what a whole prune costs. */
    int rc = 0;
    while (s->meta.prune_pending && (wf < old_wf || mf < old_mf))
        if ((rc = gm__prune_step_some(s)))
            return rc;
    s->meta.has_floors = true;
    s->meta.week_floor = wf;
    s->meta.month_floor = mf;
    if (wf <= old_wf && mf <= old_mf)
        return 0; /* kept longer than before: nothing expires */

    struct names names = {0};
    if (mf > old_mf)
        rc = expiring_names(s, 'M', old_mf, mf, &names);
    if (rc == 0 && wf > old_wf)
        rc = expiring_names(s, 'W', old_wf, wf, &names);
    if (rc == 0 && names.n > 0) {
        Gamify__Internal__Change ch = GAMIFY__INTERNAL__CHANGE__INIT;
        ch.seq = s->meta.change_seq;
        ch.occurred_at = s->meta.newest_time;
        ch.pruned_periods = names.v;
        ch.n_pruned_periods = names.n;
        if ((rc = gm__db_fail(s, gm__put_seq_msg(s, s->changes, s->meta.change_seq, &ch.base),
                              "changes put")) == 0)
            s->meta.change_seq++;
        s->meta.prune_pending = 1;
    }
    names_free(&names);
    return rc;
}

/* Removes the expired periods from st's packed scores; returns how many. */
size_t
gm__drop_expired(struct gm_state *s, Gamify__Internal__UserState *st)
{
    ProtobufCBinaryData *sp = &st->scores_packed;
    size_t w = 0, dropped = 0;
    for (size_t r = 0, n; r < sp->len; r += n) {
        struct score_entry e;
        if (!(n = gm__score_next(sp->data + r, sp->len - r, &e)))
            return 0; /* malformed tail: leave the record as it is */
        if (gm__period_expired(&s->meta, e.period, e.period_len)) {
            dropped++;
            continue;
        }
        memmove(sp->data + w, sp->data + r, n);
        w += n;
    }
    sp->len = w;
    s->stats.periods_pruned += dropped;
    return dropped;
}

/*
 * Drops the expired periods from a stored learner record v (under k) by
 * rewriting its packed scores alone, the last field of a record in
 * protobuf-c's order: the bytes a decode, gm__drop_expired and an encode
 * would give, without them. Returns 0 (done, or nothing expired), an LMDB
 * code, or 1 when the record needs the full decode (not in that order, v1
 * scores, larger than the buffer).
 */
static int
prune_stored(struct gm_state *s, MDB_val *k, const MDB_val *v)
{
    uint8_t buf[4096];
    size_t key_at, at, n;
    if (v->mv_size > sizeof buf || !gm_user_scores_span(v->mv_data, v->mv_size, &key_at, &at, &n))
        return 1;
    const uint8_t *sp = (const uint8_t *)v->mv_data + at;
    /* the kept entries, after room for the prefix and the field's head */
    uint8_t *kept = buf + key_at + 12, *w = kept;
    if (key_at + 12 + n > sizeof buf)
        return 1;
    size_t dropped = 0;
    for (size_t r = 0, m; r < n; r += m) {
        struct score_entry e;
        if (!(m = gm__score_next(sp + r, n - r, &e)))
            return 0; /* malformed tail: left as it is (as gm__drop_expired does) */
        if (gm__period_expired(&s->meta, e.period, e.period_len)) {
            dropped++;
            continue;
        }
        memcpy(w, sp + r, m);
        w += m;
    }
    if (!dropped)
        return 0;
    size_t kn = (size_t)(w - kept);
    memcpy(buf, v->mv_data, key_at);
    uint8_t *p = gm_user_put_scores(buf + key_at, kn);
    memmove(p, kept, kn);
    MDB_val nv = {(size_t)(p + kn - buf), buf};
    s->stats.periods_pruned += dropped;
    return gm__db_fail(s, mdb_put(s->txn, s->profiles, k, &nv, 0), "profiles put");
}

/* Drops the expired periods from the record of one learner. */
static int
prune_learner(struct gm_state *s, const char *user, size_t ulen)
{
    /* a learner of this batch is cleaned where it is held, and written back
     * with the batch */
    struct gm_learner_slot *sl = gm_learners_find(&s->learners, user, ulen);
    int rc;
    /* With write-behind learners (held.h) every learner joins the batch
     * like the learner of an event: a held one's newest copy is not in
     * `profiles`, and a copy written there directly would be hidden by an
     * older one that a journal record still holds. */
    if (!sl && gm__held_active(&s->held)) {
        MDB_val k = {ulen, (void *)user}, v;
        if (!gm__held_find(&s->held, user, ulen) &&
            (rc = mdb_get(s->txn, s->profiles, &k, &v)) != 0)
            return rc == MDB_NOTFOUND ? 0 : gm__db_fail(s, rc, "profiles get");
        if ((rc = gm__learner_get(s, user, ulen, &sl)))
            return rc;
    }
    if (sl) {
        if (gm__drop_expired(s, sl->st))
            sl->dirty = true;
        return 0;
    }
    MDB_val k = {ulen, (void *)user}, v;
    rc = mdb_get(s->txn, s->profiles, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return gm__db_fail(s, rc, "profiles get");
    if ((rc = prune_stored(s, &k, &v)) != 1)
        return rc;
    /* 1 only asked for the full decode: it is no error, and a learner with
     * nothing left to drop (its week cleaned with its month) returns 0 */
    rc = 0;
    Gamify__Internal__UserState *st = gm__user_unpack(v.mv_size, v.mv_data);
    if (!st)
        return gm__fail(s, GM_ECORRUPT, "the stored record of learner %.*s does not decode",
                        (int)ulen, user);
    if (gm__drop_expired(s, st))
        rc = gm__db_fail(s, gm__put_user(s->txn, s->profiles, &k, st), "profiles put");
    gamify__internal__user_state__free_unpacked(st, NULL);
    return rc;
}

/*
 * Learners cleaned of expired periods per folded event, while any remain.
 * Cleaning one costs about what folding one event does: with 2, pruning a
 * period held by a million learners spreads over half a million events,
 * each batch taking up to about three times its usual time meanwhile
 * (tests/bench/run prune measures it); a learner who is active meanwhile
 * is cleaned by its own event for free.
 */
#define PRUNE_PER_EVENT 2

/*
 * One step of pruning: takes up to PRUNE_PER_EVENT expiry keys below the
 * floors and cleans their learners. It runs once per folded event, so where
 * pruning stands is a function of the log alone (not of batch sizes).
 */
int
gm__prune_step_some(struct gm_state *s)
{
    int budget = PRUNE_PER_EVENT;
    bool found = false;
    int rc = 0;
    for (int kind = 0; kind < 2 && budget > 0 && rc == 0; kind++) {
        char c = kind == 0 ? 'M' : 'W';
        int64_t floor = c == 'W' ? s->meta.week_floor : s->meta.month_floor;
        while (budget > 0 && rc == 0) {
            MDB_cursor *cur;
            if ((rc = gm__db_fail(s, mdb_cursor_open(s->txn, s->expiry, &cur), "expiry cursor")))
                break;
            uint8_t kb[EXPIRY_HDR + GM_ID_MAX];
            MDB_val k = {expiry_key(kb, c, INT64_MIN / 2, "", 0), kb}, v;
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            bool take = rc == 0 && k.mv_size >= EXPIRY_HDR && k.mv_size <= EXPIRY_HDR + GM_ID_MAX &&
                        ((uint8_t *)k.mv_data)[0] == (uint8_t)c && expiry_idx(k.mv_data) < floor;
            char user[GM_ID_MAX + 1];
            size_t ulen = 0;
            if (take) {
                /* copied out: the page under the cursor changes with the delete */
                ulen = k.mv_size - EXPIRY_HDR;
                memcpy(user, (uint8_t *)k.mv_data + EXPIRY_HDR, ulen);
                user[ulen] = '\0';
                rc = gm__db_fail(s, mdb_cursor_del(cur, 0), "expiry delete");
            } else if (rc == MDB_NOTFOUND) {
                rc = 0;
            } else {
                gm__db_fail(s, rc, "expiry cursor");
            }
            mdb_cursor_close(cur);
            if (!take || rc)
                break;
            found = true;
            budget--;
            rc = prune_learner(s, user, ulen);
        }
    }
    if (rc == 0 && !found)
        s->meta.prune_pending = 0;
    return rc;
}
