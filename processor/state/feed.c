/*
 * feed.c: the change feed: the readers of feed.h (projectors, rebuilds,
 * audits), each in one read transaction, and trimming the records every
 * consumer has read (a little per commit, or all at once).
 */
#include "state_int.h"

#include <stdlib.h>
#include <string.h>

void
gm_state_trim_before(struct gm_state *s, int64_t below)
{
    if (below > s->trim_below)
        s->trim_below = below;
}

int64_t
gm_state_change_end(const struct gm_state *s)
{
    return s->meta_committed.change_seq;
}

void
gm_state_set_precommit(struct gm_state *s, void (*fn)(void *ctx, struct gm_state *s), void *ctx)
{
    s->precommit = fn;
    s->precommit_ctx = ctx;
}

int64_t
gm_state_pending_end(const struct gm_state *s)
{
    return s->txn ? s->meta.change_seq : s->meta_committed.change_seq;
}

int
gm_state_pending_records(struct gm_state *s, int64_t from,
                         int (*fn)(void *ctx, int64_t seq, const void *data, size_t len), void *ctx)
{
    if (!s->txn)
        return GM_EINVAL;
    int64_t end = s->meta.change_seq;
    if (from < s->meta_committed.change_seq)
        from = s->meta_committed.change_seq;
    if (from >= end)
        return 0;
    MDB_cursor *cur;
    if (mdb_cursor_open(s->txn, s->changes, &cur))
        return GM_EDB;
    uint8_t kb[8];
    gm__put_be64(kb, (uint64_t)from);
    MDB_val k = {8, kb}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE), result = 0;
    while (rc == 0 && result == 0 && k.mv_size == 8) {
        int64_t seq = (int64_t)gm__get_be64(k.mv_data);
        if (seq >= end)
            break;
        result = fn(ctx, seq, v.mv_data, v.mv_size);
        if (result == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (result)
        return result;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : GM_EDB;
}

/*
 * Deletes change-feed records below trim_below, at most twice the batch's
 * records (at least 1,000), in the batch's own transaction: no commit of
 * its own, and the feed shrinks about as fast as it grows.
 */
int
gm__trim_step(struct gm_state *s)
{
    if (s->trim_below <= 0)
        return 0;
    size_t budget = s->n_pend * 2 > 1000 ? s->n_pend * 2 : 1000;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->txn, s->changes, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    while (budget-- > 0 && (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 && k.mv_size == 8 &&
           (int64_t)gm__get_be64(k.mv_data) < s->trim_below) {
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

struct gm_feed {
    struct gm_state *s;
    bool locked; /* holds s->resize_lock shared */
    MDB_txn *txn;
    struct meta m;
    int64_t start;
    struct gm_rules *rules;
    bool rules_read;
    /* the last learner handed out by gm_feed_learner */
    Gamify__Internal__UserState *st;
    struct gm_learner_badge *badges;
    size_t cap_badges;
    struct score_list scores;
    bool no_scores;                  /* gm_feed_without_scores */
    struct gm__change_reader reader; /* the last change handed out */
    /* the journal's held learners (held.h), read at the first lookup */
    struct gm__overlay ov;
    bool ov_built;
    int64_t ov_since; /* gm_feed_learners_changed_since; INT64_MIN: every one */
};

void
gm_feed_learners_changed_since(struct gm_feed *f, int64_t from)
{
    if (!f->ov_built)
        f->ov_since = from;
}

static int
overlay(struct gm_feed *f)
{
    if (f->ov_built)
        return 0;
    if (gm__overlay_build(f->s, f->txn, f->ov_since, &f->ov))
        return GM_EDB;
    f->ov_built = true;
    return 0;
}

void
gm_feed_without_scores(struct gm_feed *f)
{
    f->no_scores = true;
}

int
gm_feed_open(struct gm_state *s, struct gm_feed **out)
{
    *out = NULL;
    struct gm_feed *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    f->s = s;
    f->ov_since = INT64_MIN;
    gm__change_reader_init(&f->reader);
    pthread_rwlock_rdlock(&s->resize_lock);
    f->locked = true;
    int rc = gm__ro_begin(s, &f->txn);
    if (rc == 0)
        rc = gm__meta_read(f->txn, s->meta_db, &f->m, &(const char *){NULL});
    MDB_cursor *cur = NULL;
    if (rc == 0 && (rc = mdb_cursor_open(f->txn, s->changes, &cur)) == 0) {
        MDB_val k, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        f->start = rc == 0 && k.mv_size == 8 ? (int64_t)gm__get_be64(k.mv_data) : f->m.change_seq;
        rc = rc == MDB_NOTFOUND ? 0 : rc;
        mdb_cursor_close(cur);
    }
    if (rc) {
        gm_feed_close(f);
        return rc == GM_ECORRUPT ? rc : GM_EDB;
    }
    *out = f;
    return 0;
}

void
gm_feed_close(struct gm_feed *f)
{
    if (!f)
        return;
    if (f->txn)
        mdb_txn_abort(f->txn);
    if (f->locked)
        pthread_rwlock_unlock(&f->s->resize_lock);
    gm_rules_free(f->rules);
    if (f->st)
        gamify__internal__user_state__free_unpacked(f->st, NULL);
    free(f->badges);
    gm__score_list_free(&f->scores);
    gm__change_reader_deinit(&f->reader);
    gm__overlay_free(&f->ov);
    free(f);
}

int64_t
gm_feed_end(const struct gm_feed *f)
{
    return f->m.change_seq;
}

int64_t
gm_feed_start(const struct gm_feed *f)
{
    return f->start;
}

/*
 * Decodes the change record (k, v) into *c, every part of it (the protobuf
 * message, the scores, the redemption) drawn from a: valid until a is reset.
 */
static int
decode_change(const MDB_val *k, const MDB_val *v, struct gm_arena *a, struct gm_change *c)
{
    if (k->mv_size != 8)
        return GM_ECORRUPT;
    return gm__change_decode_into(a, (int64_t)gm__get_be64(k->mv_data), v->mv_data, v->mv_size, c);
}

/* gm_feed_changes with the changes' memory from a; reset after each change
 * unless keep. */
static int
changes_in(struct gm_feed *f, int64_t from, size_t max, struct gm_arena *a, bool keep,
           int (*fn)(void *ctx, const struct gm_change *ch), void *ctx, int64_t *next)
{
    *next = from;
    if (from < f->start)
        return GM_ENOTFOUND;
    MDB_cursor *cur;
    if (mdb_cursor_open(f->txn, f->s->changes, &cur))
        return GM_EDB;
    uint8_t kb[8];
    gm__put_be64(kb, (uint64_t)from);
    MDB_val k = {8, kb}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE), result = 0;
    for (size_t n = 0; rc == 0 && result == 0 && n < max; n++) {
        struct gm_change c;
        if ((result = decode_change(&k, &v, a, &c)))
            break;
        result = fn(ctx, &c);
        if (!keep)
            gm_arena_reset(a);
        if (result == 0) {
            *next = c.seq + 1;
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
    }
    mdb_cursor_close(cur);
    if (result)
        return result;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : GM_EDB;
}

int
gm_feed_changes(struct gm_feed *f, int64_t from, size_t max,
                int (*fn)(void *ctx, const struct gm_change *ch), void *ctx, int64_t *next)
{
    /* the reader's arena, reset after each change: no malloc or free per
     * field, and none per call */
    return changes_in(f, from, max, &f->reader.arena, false, fn, ctx, next);
}

int
gm_feed_changes_keep(struct gm_feed *f, int64_t from, size_t max, struct gm_arena *a,
                     int (*fn)(void *ctx, const struct gm_change *ch), void *ctx, int64_t *next)
{
    return changes_in(f, from, max, a, true, fn, ctx, next);
}

/* Fills l from the packed learner v (kept in f until the next call). */
static int
feed_fill(struct gm_feed *f, const MDB_val *v, struct gm_learner *l)
{
    if (f->st)
        gamify__internal__user_state__free_unpacked(f->st, NULL);
    Gamify__Internal__UserState *st = f->st = gm__user_unpack(v->mv_size, v->mv_data);
    if (!st)
        return GM_ECORRUPT;
    if (st->n_badges > f->cap_badges) {
        f->cap_badges = st->n_badges;
        f->badges = realloc(f->badges, f->cap_badges * sizeof *f->badges);
        if (!f->badges)
            abort();
    }
    for (size_t i = 0; i < st->n_badges; i++)
        f->badges[i] = (struct gm_learner_badge){st->badges[i]->id, st->badges[i]->earned_at};
    if (!f->no_scores)
        gm__score_list_fill(&f->scores, st, &f->m);
    *l = (struct gm_learner){
        .user_id = st->user_id,
        .exp = st->exp,
        .level = st->level,
        .coins = st->coins,
        .coins_earned = st->coins_earned,
        .coins_spent = st->coins_spent,
        .lessons_completed = st->lessons_completed,
        .lesson_completions = st->lesson_completions,
        .tournaments_played = st->tournaments_played,
        .tournament_wins = st->tournament_wins,
        .tournament_losses = st->tournament_losses,
        .current_streak = st->current_streak,
        .longest_streak = st->longest_streak,
        .freezes_held = st->freezes_held,
        .redemptions = st->redemptions,
        .has_active_day = st->has_active_day,
        .last_active_day = st->last_active_day,
        .timezone = st->timezone,
        .opt_out = st->opt_out,
        .badges = f->badges,
        .n_badges = st->n_badges,
        .scores = f->no_scores ? NULL : f->scores.v,
        .n_scores = f->no_scores ? 0 : f->scores.n,
    };
    return 0;
}

int
gm_feed_learner(struct gm_feed *f, const char *user, struct gm_learner *l)
{
    MDB_val k = {strlen(user), (void *)user}, v;
    int rc = overlay(f);
    if (rc)
        return rc;
    if (!gm__overlay_get(&f->ov, user, k.mv_size, &v))
        rc = mdb_get(f->txn, f->s->profiles, &k, &v);
    if (rc == MDB_NOTFOUND)
        return GM_ENOTFOUND;
    if (rc)
        return GM_EDB;
    return feed_fill(f, &v, l);
}

int
gm_feed_learners(struct gm_feed *f, int (*fn)(void *ctx, const struct gm_learner *l), void *ctx)
{
    return gm_feed_learners_from(f, NULL, fn, ctx);
}

struct learners_walk {
    struct gm_feed *f;
    int (*fn)(void *ctx, const struct gm_learner *l);
    void *ctx;
    int result; /* fn's or feed_fill's, not LMDB's */
};

static int
learners_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    (void)k;
    struct learners_walk *w = ctx;
    struct gm_learner l;
    if ((w->result = feed_fill(w->f, v, &l)) == 0)
        w->result = w->fn(w->ctx, &l);
    return w->result;
}

int
gm_feed_learners_from(struct gm_feed *f, const char *from,
                      int (*fn)(void *ctx, const struct gm_learner *l), void *ctx)
{
    if (f->ov_since != INT64_MIN && f->ov_built)
        return GM_EINVAL; /* a partial overlay cannot list every learner */
    f->ov_since = INT64_MIN;
    int rc = overlay(f);
    if (rc)
        return rc;
    struct learners_walk w = {f, fn, ctx, 0};
    rc = gm__learners_walk(f->s, f->txn, &f->ov, from && from[0] ? from : NULL,
                           from ? strlen(from) : 0, learners_step, &w);
    if (w.result)
        return w.result;
    return rc ? GM_EDB : 0;
}

int
gm_feed_ledger(struct gm_feed *f, int64_t first, int64_t count,
               int (*fn)(void *ctx, const struct gm_ledger_entry *e), void *ctx)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(f->txn, f->s->ledger, &cur))
        return GM_EDB;
    uint8_t kb[8];
    gm__put_be64(kb, (uint64_t)first);
    MDB_val k = {8, kb}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE), result = 0;
    for (int64_t i = 0; rc == 0 && result == 0 && i < count; i++) {
        if (k.mv_size != 8 || (int64_t)gm__get_be64(k.mv_data) >= first + count)
            break;
        Gamify__Internal__LedgerEntry *e =
            gamify__internal__ledger_entry__unpack(NULL, v.mv_size, v.mv_data);
        if (!e) {
            result = GM_ECORRUPT;
            break;
        }
        struct gm_ledger_entry le = {
            .seq = (int64_t)gm__get_be64(k.mv_data),
            .user_id = e->user_id,
            .event_id = e->event_id,
            .kind = e->kind,
            .detail = e->detail,
            .exp_delta = e->exp_delta,
            .coins_delta = e->coins_delta,
            .exp_after = e->exp_after,
            .coins_after = e->coins_after,
            .capped_exp = e->capped_exp,
            .occurred_at = e->occurred_at,
        };
        result = fn(ctx, &le);
        gamify__internal__ledger_entry__free_unpacked(e, NULL);
        if (result == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (result)
        return result;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : GM_EDB;
}

const struct gm_rules *
gm_feed_rules(struct gm_feed *f)
{
    if (!f->rules_read) {
        f->rules_read = true;
        MDB_val k = {5, "rules"}, v;
        if (mdb_get(f->txn, f->s->meta_db, &k, &v) == 0) {
            struct gm_err *errs = NULL;
            size_t n_errs = 0;
            if (gm_rules_parse(v.mv_data, v.mv_size, &f->rules, &errs, &n_errs))
                f->rules = NULL;
            free(errs);
        }
    }
    return f->rules;
}

const struct gm_rules *
gm_feed_rules_cached(struct gm_feed *f, struct gm_feed_rules_cache *c)
{
    MDB_val k = {5, "rules"}, v;
    if (mdb_get(f->txn, f->s->meta_db, &k, &v) != 0) {
        gm_feed_rules_cache_deinit(c);
        return NULL;
    }
    if (c->text && c->len == v.mv_size && memcmp(c->text, v.mv_data, v.mv_size) == 0)
        return c->rules; /* the same text: the same rules, not parsed again */
    gm_feed_rules_cache_deinit(c);
    struct gm_err *errs = NULL;
    size_t n_errs = 0;
    if (gm_rules_parse(v.mv_data, v.mv_size, &c->rules, &errs, &n_errs))
        c->rules = NULL;
    free(errs);
    if (!(c->text = malloc(v.mv_size ? v.mv_size : 1)))
        abort();
    memcpy(c->text, v.mv_data, v.mv_size);
    c->len = v.mv_size;
    return c->rules;
}

void
gm_feed_rules_cache_deinit(struct gm_feed_rules_cache *c)
{
    gm_rules_free(c->rules);
    free(c->text);
    memset(c, 0, sizeof *c);
}

int
gm_feed_stock_used(struct gm_feed *f, const char *reward_id, int64_t *used)
{
    *used = 0;
    MDB_val k = {strlen(reward_id), (void *)reward_id}, v;
    int rc = mdb_get(f->txn, f->s->stock, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return GM_EDB;
    if (v.mv_size != 8)
        return GM_ECORRUPT;
    *used = (int64_t)gm__get_be64(v.mv_data);
    return 0;
}

int
gm_state_trim_changes(struct gm_state *s, int64_t below, uint64_t *n, struct gm_err *err)
{
    *n = 0;
    if (s->txn)
        return gm_err_set(err, GM_EINVAL, "a batch is open");
    if (s->read_only || s->dlq_only)
        return gm_err_set(err, GM_EINVAL, "the state is open read-only");
    /* in transactions of at most 50,000 deletions, so that none holds the
     * writer for long */
    for (;;) {
        MDB_txn *txn;
        int rc = gm__rw_begin(s, &txn);
        if (rc)
            return gm__lmdb_error(err, rc, "begin");
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, s->changes, &cur))) {
            mdb_txn_abort(txn);
            return gm__lmdb_error(err, rc, "changes cursor");
        }
        MDB_val k, v;
        size_t done = 0;
        while (done < 50000 && (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 &&
               k.mv_size == 8 && (int64_t)gm__get_be64(k.mv_data) < below) {
            if ((rc = mdb_cursor_del(cur, 0)))
                break;
            done++;
        }
        mdb_cursor_close(cur);
        if (rc && rc != MDB_NOTFOUND) {
            mdb_txn_abort(txn);
            return gm__lmdb_error(err, rc, "trimming the change feed");
        }
        if ((rc = mdb_txn_commit(txn)))
            return gm__lmdb_error(err, rc, "commit");
        *n += done;
        if (done < 50000)
            return 0;
    }
}
