/*
 * apply.c: applying one record of a batch: decode, the TOO_FAR_AHEAD and
 * TOO_LATE checks, marking the event id seen, then the fold of the event
 * into its learner and what it writes (first completions, redemptions,
 * stock, scores, the ledger, outbound events and the change record),
 * then time moving on (periods, dedupe window, pruning).
 */
#include "state_int.h"

#include "codec.h"
#include "json.h"
#include "tz.h"

#include <stdio.h>
#include <string.h>

/* Builds "a NUL b [NUL c]" into buf (la: the length of a); returns its
 * length, 0 if it won't fit. */
static size_t
join_key(uint8_t *buf, size_t cap, const char *a, size_t la, const char *b, const char *c)
{
    size_t lb = strlen(b), lc = c ? strlen(c) : 0;
    size_t n = la + 1 + lb + (c ? 1 + lc : 0);
    if (n > cap)
        return 0;
    memcpy(buf, a, la);
    buf[la] = 0;
    memcpy(buf + la + 1, b, lb);
    if (c) {
        buf[la + 1 + lb] = 0;
        memcpy(buf + la + 2 + lb, c, lc);
    }
    return n;
}

/*
 * True when an event dated secs.nanos lies more than skew_s seconds after
 * append_ms (a whole millisecond since 1970), to the nanosecond. Split in
 * seconds and a remainder, so no product can overflow whatever the
 * timestamp a Kafka message carries.
 */
static bool
after_skew(int64_t secs, int64_t nanos, int64_t append_ms, int64_t skew_s)
{
    int64_t lim_s = append_ms / 1000 + skew_s;
    int64_t lim_ns = append_ms % 1000 * 1000000;
    return secs > lim_s || (secs == lim_s && nanos > lim_ns);
}

/* Folds ev (its event_id event_id_len bytes long) into its learner. */
/* The names of the global board and the all-time period, padded to the 16
 * bytes gm__score_name_init16 reads. */
static const char global16[16] = "global", all16[16] = "all";
/* and the week and month keys of struct gm_fold_out are read from their
 * buffers the same way */
_Static_assert(GM_PERIOD_KEY_MAX >= 16, "period keys are read 16 bytes at a time");

static int
fold_event(struct gm_state *s, const struct pending *rec, const Gamification__V1__Event *ev,
           size_t event_id_len)
{
    int rc;
    Gamify__Internal__UserState *st = NULL;
    Gamify__Internal__Redemption *prior = NULL;
    struct outbound_set obs = {0};
    Gamify__Internal__BoardScore scores[(1 + GM_GROUPS_MAX) * 3];
    Gamify__Internal__BoardScore *score_ptrs[(1 + GM_GROUPS_MAX) * 3];
    size_t board_lens[(1 + GM_GROUPS_MAX) * 3];
    uint64_t period_codes[(1 + GM_GROUPS_MAX) * 3];
    Gamify__Internal__LedgerEntry *ledger = NULL, **ledger_ptrs = NULL;
    struct gm_fold_out *fo = &s->fo;
    bool first_inserted = false;
    gm_fold_out_reset(fo);

    /* the learner, held for the rest of the batch */
    MDB_val uk = {strlen(ev->user_id), ev->user_id}, v;
    struct gm_learner_slot *slot = NULL;
    if ((rc = gm__learner_get(s, ev->user_id, uk.mv_size, &slot)))
        goto out;
    st = slot->st;

    /* lookups the fold needs */
    struct gm_fold_in in = {.rules = s->rules, .ev = ev, .next_redemption_seq = s->meta.red_seq};
    uint8_t kb[3 * GM_ID_MAX + 8];
    MDB_val fk = {0, kb};
    if (ev->body_case == GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED ||
        ev->body_case == GAMIFICATION__V1__EVENT__BODY_TOURNAMENT_RESULT) {
        bool lesson = ev->body_case == GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED;
        fk.mv_size = join_key(kb, sizeof kb, ev->user_id, uk.mv_size, lesson ? "L" : "T",
                              lesson ? ev->lesson_completed->lesson_id
                                     : ev->tournament_result->tournament_id);
        /* Inserting the key tells whether it is new; taken back below if
         * the fold does not keep it. */
        MDB_val empty = {0, ""};
        rc = mdb_put(s->txn, s->first, &fk, &empty, MDB_NOOVERWRITE);
        if (rc && rc != MDB_KEYEXIST) {
            gm__db_fail(s, rc, "first put");
            goto out;
        }
        in.first_time = rc == 0;
        first_inserted = in.first_time;
    } else if (ev->body_case == GAMIFICATION__V1__EVENT__BODY_REDEEM_REWARD) {
        fk.mv_size = join_key(kb, sizeof kb, ev->user_id, uk.mv_size,
                              ev->redeem_reward->redemption_id, NULL);
        rc = mdb_get(s->txn, s->redemptions, &fk, &v);
        if (rc == 0) {
            prior = gamify__internal__redemption__unpack(NULL, v.mv_size, v.mv_data);
            if (!prior) {
                rc = gm__fail(s, GM_ECORRUPT,
                              "the stored redemption %s of learner %s does not decode",
                              ev->redeem_reward->redemption_id, ev->user_id);
                goto out;
            }
        } else if (rc != MDB_NOTFOUND) {
            gm__db_fail(s, rc, "redemptions get");
            goto out;
        }
        in.prior = prior;
        MDB_val sk = {strlen(ev->redeem_reward->reward_id), ev->redeem_reward->reward_id};
        rc = mdb_get(s->txn, s->stock, &sk, &v);
        if (rc == 0 && v.mv_size == 8)
            in.stock_used = (int64_t)gm__get_be64(v.mv_data);
        else if (rc == 0)
            rc = gm__fail(s, GM_ECORRUPT, "the stock count of reward %s has %zu bytes, not 8",
                          ev->redeem_reward->reward_id, v.mv_size);
        else if (rc != MDB_NOTFOUND)
            gm__db_fail(s, rc, "stock get");
        if (rc && rc != MDB_NOTFOUND)
            goto out;
    }

    /* A fold is rejected before it changes the learner, except after an
     * envelope's zone was taken (fold.h): then the learner is kept packed
     * first and put back. */
    size_t snap = ev->timezone && *ev->timezone ? gm__learner_snapshot(s, slot) : 0;
    rc = gm_fold_apply(&in, st, fo);
    if ((rc || fo->rejected) && snap) {
        gm__learner_restore(s, slot, snap);
        st = slot->st;
    }
    if (first_inserted && (rc || fo->rejected || !fo->mark_first)) {
        int drc = mdb_del(s->txn, s->first, &fk, NULL);
        if (drc) {
            rc = gm__db_fail(s, drc, "first delete");
            goto out;
        }
    }
    if (rc && rc != GM_ENOTFOUND) {
        rc = gm__fail(s, rc, "folding event %s of learner %s: %s", ev->event_id, ev->user_id,
                      gm_strerror(rc));
        goto out;
    }
    if (rc == GM_ENOTFOUND) {
        rc = gm__dead_letter(s, rec, "UNKNOWN_TIMEZONE",
                             "a time zone of the learner or the rules is not installed",
                             ev->event_id);
        goto out;
    }
    if (fo->rejected) {
        s->stats.rejected++;
        rc = gm__dead_letter(s, rec, fo->reason, fo->detail, ev->event_id);
        goto out;
    }
    s->stats.applied++;

    /* writes */
    if (fo->redemption) {
        s->stats.redemptions++;
        if ((rc = gm__db_fail(s,
                              gm__put_msg(s->txn, s->redemptions, &fk, &fo->new_redemption.base, 0),
                              "redemptions put")))
            goto out;
        s->meta.red_seq++;
    }
    if (fo->stock_taken) {
        uint8_t vb[8];
        gm__put_be64(vb, (uint64_t)(in.stock_used + 1));
        MDB_val sk = {strlen(ev->redeem_reward->reward_id), ev->redeem_reward->reward_id},
                sv = {8, vb};
        if ((rc = gm__db_fail(s, mdb_put(s->txn, s->stock, &sk, &sv, 0), "stock put")))
            goto out;
    }

    size_t n_scores = 0;
    if (fo->boards) {
        /* a late event's score in an expired period is not kept */
        const char *periods[3];
        char kinds[3]; /* 'W', 'M', or 0 for "all" (never expires) */
        int64_t indexes[3];
        bool created_any[3] = {false, false, false};
        size_t n_periods = 0;
        if (s->rules->period_all_time) {
            kinds[n_periods] = 0;
            indexes[n_periods] = 0;
            periods[n_periods++] = all16;
        }
        if (fo->week[0] && !(s->meta.has_floors && fo->week_index < s->meta.week_floor)) {
            kinds[n_periods] = 'W';
            indexes[n_periods] = fo->week_index;
            periods[n_periods++] = fo->week;
        }
        if (fo->month[0] && !(s->meta.has_floors && fo->month_index < s->meta.month_floor)) {
            kinds[n_periods] = 'M';
            indexes[n_periods] = fo->month_index;
            periods[n_periods++] = fo->month;
        }
        uint64_t codes[3];
        struct gm__score_name pnames[3], bname;
        for (size_t p = 0; p < n_periods; p++) {
            codes[p] =
                kinds[p] ? gm__change_period_code_of_index(kinds[p] == 'W', indexes[p], periods[p])
                         : 1;
            gm__score_name_init16(&pnames[p], periods[p], strlen(periods[p]));
        }
        for (size_t b = 0; b <= fo->n_groups; b++) {
            const char *board = b == 0 ? global16 : fo->groups[b - 1];
            size_t board_len = b == 0 ? 6 : strlen(board);
            if (b == 0)
                gm__score_name_init16(&bname, board, board_len);
            else
                gm__score_name_init(&bname, board, board_len);
            for (size_t p = 0; p < n_periods; p++) {
                Gamify__Internal__BoardScore *bs = &scores[n_scores];
                gamify__internal__board_score__init(bs);
                bs->board = (char *)board;
                bs->period = (char *)periods[p];
                bool created;
                bs->score =
                    gm__add_score_named(st, &slot->scores_cap, &bname, &pnames[p], fo->board_delta,
                                        ev->occurred_at->seconds, &created, &bs->reached_at);
                board_lens[n_scores] = board_len;
                period_codes[n_scores] = codes[p];
                score_ptrs[n_scores++] = bs;
                created_any[p] |= created;
            }
        }
        /* one expiry key per learner and period, whatever the board */
        for (size_t p = 0; p < n_periods; p++) {
            if (created_any[p] && kinds[p] &&
                (rc = gm__db_fail(s,
                                  gm__expiry_add_index(s->txn, s->expiry, kinds[p] == 'W',
                                                       indexes[p], ev->user_id, uk.mv_size),
                                  "expiry put")))
                goto out;
        }
    }

    int64_t ledger_first = s->meta.ledger_seq;
    if (fo->n_ledger) {
        /* in the event's arena, given back after it */
        ledger = gm_arena_alloc(&s->ev_arena, fo->n_ledger * sizeof *ledger);
        ledger_ptrs = gm_arena_alloc(&s->ev_arena, fo->n_ledger * sizeof *ledger_ptrs);
        for (size_t i = 0; i < fo->n_ledger; i++) {
            const struct gm_ledger *l = &fo->ledger[i];
            Gamify__Internal__LedgerEntry *e = &ledger[i];
            gamify__internal__ledger_entry__init(e);
            e->seq = s->meta.ledger_seq;
            e->user_id = ev->user_id;
            e->event_id = ev->event_id;
            e->kind = (char *)l->kind;
            e->detail = (char *)(l->detail ? l->detail : "");
            e->exp_delta = l->exp_delta;
            e->coins_delta = l->coins_delta;
            e->exp_after = l->exp_after;
            e->coins_after = l->coins_after;
            e->capped_exp = l->capped_exp;
            e->occurred_at = ev->occurred_at->seconds;
            if ((rc = gm__db_fail(s, gm__put_ledger(s, e, uk.mv_size, event_id_len), "ledger put")))
                goto out;
            s->meta.ledger_seq++;
            ledger_ptrs[i] = e;
        }
    }

    if (fo->touched || n_scores) {
        /* while pruning runs, a learner is cleaned by its own event; after
         * the fold, which only adds to periods that are kept, so that a
         * learner the event did not change stays as stored */
        if (s->meta.prune_pending)
            gm__drop_expired(s, st);
        slot->dirty = true;
    }

    if (fo->touched || fo->redemption || n_scores) {
        gm__build_outbound(ev, fo, &s->ev_arena, &obs);
        Gamify__Internal__Change ch = GAMIFY__INTERNAL__CHANGE__INIT;
        ch.seq = s->meta.change_seq;
        ch.user_id = ev->user_id;
        ch.event_id = ev->event_id;
        ch.occurred_at = ev->occurred_at->seconds;
        /* No learner snapshot and no ledger copies: the projectors read the
         * learner's current record and the ledger range named here. */
        ch.scores = score_ptrs;
        ch.n_scores = n_scores;
        ch.redemption = fo->redemption ? &fo->new_redemption : NULL;
        ch.ledger_first = ledger_first;
        ch.ledger_count = (int64_t)fo->n_ledger;
        ch.outbound = obs.items;
        ch.n_outbound = obs.n;
        struct gm__change_known kn = {uk.mv_size, event_id_len, board_lens, period_codes};
        /* The outbound ids are not in a compact record (its reader rebuilds
         * them): named only for a record that keeps them, or to be checked
         * when they may not be rebuilt (!ids_derived). */
        if (!obs.ids_derived)
            gm__name_outbound(ev, fo, &obs);
        size_t size =
            gm__change_compact_encode(&ch, obs.ids_derived, &kn, &s->chbuf, &s->cap_chbuf);
        if (!size && obs.ids_derived)
            gm__name_outbound(ev, fo, &obs);
        if ((rc = gm__db_fail(s, gm__put_change(s, &ch, size), "changes put")))
            goto out;
        s->meta.change_seq++;
    }
    rc = 0;
out:
    if (prior)
        gamify__internal__redemption__free_unpacked(prior, NULL);
    return rc;
}

/*
 * Applies one record; returns 0, MDB_MAP_FULL, or a failure noted in
 * s->why (an LMDB code or ours).
 */
int
gm__apply_one(struct gm_state *s, const struct pending *rec)
{
    if (rec->dl_reason)
        return gm__dead_letter(s, rec, rec->dl_reason, rec->dl_detail, NULL);
    Gamification__V1__Event *ev = NULL;
    struct gm_err e;
    gm_err_clear(&e);
    /* a protobuf record is decoded into the event arena, given back at once
     * after the fold (no malloc or free per field) */
    bool in_arena = !rec->json;
    int rc = rec->json ? gm_event_from_json((const char *)rec->data, rec->len, &ev, &e)
                       : gm_event_decode_in(rec->data, rec->len, gm_arena_protobuf(&s->ev_arena),
                                            &ev, &e);
    if (rc) {
        char idbuf[GM_ID_MAX + 1];
        bool invalid = rc == GM_EINVAL;
        gm_arena_reset(&s->ev_arena);
        return gm__dead_letter(s, rec, invalid ? "INVALID" : "DECODE", e.msg,
                               invalid ? gm__salvage_event_id(rec, idbuf, sizeof idbuf) : NULL);
    }

    /* Too late first: ids older than the window may already be pruned, so
     * they are never consulted, and pruning time cannot change an outcome. */
    int64_t t = ev->occurred_at->seconds;
    int64_t t_ms = t * 1000 + ev->occurred_at->nanos / 1000000;
    ((struct pending *)rec)->event_ms = t_ms;
    MDB_val idk = {strlen(ev->event_id), ev->event_id}, v;
    /* An event dated far after its own append time would move the newest
     * time (and with it the dedupe window and the periods) into the future
     * for good: refused, by a time the log carries, never the wall clock.
     * The append time is a whole millisecond (the frame's, Kafka's); the
     * event is compared with it to the nanosecond, like the dedupe window's
     * edge: exactly skew after it is in, a nanosecond more is out. */
    if (rec->append_ms > 0 && s->opts.future_skew_s > 0 &&
        after_skew(t, ev->occurred_at->nanos, rec->append_ms, s->opts.future_skew_s)) {
        char detail[160];
        snprintf(detail, sizeof detail,
                 "dated %lld ms after its append time (more than the allowed %lld s)",
                 (long long)(t_ms - rec->append_ms), (long long)s->opts.future_skew_s);
        s->stats.too_far_ahead++;
        rc = gm__dead_letter(s, rec, "TOO_FAR_AHEAD", detail, ev->event_id);
        goto out;
    }
    /* to the nanosecond: exactly at the edge is in, a nanosecond before is
     * out (docs/rules.md step 1) */
    int64_t nanos = ev->occurred_at->nanos;
    int64_t edge = s->meta.newest_time - s->opts.dedupe_window_s;
    if (s->meta.has_newest && (t < edge || (t == edge && nanos < s->meta.newest_nanos))) {
        s->stats.too_late++;
        rc = gm__dead_letter(s, rec, "TOO_LATE",
                             "older than the dedupe window behind the newest event", ev->event_id);
        goto out;
    }
    bool is_rules = ev->body_case == GAMIFICATION__V1__EVENT__BODY_RULES_PUBLISHED;
    if (!s->rules && !is_rules) {
        /* Seen before first: rules that did not check (RULES_INVALID) mark
         * their id seen, and any event under that id is a duplicate, rules
         * or none. Otherwise a dead letter that does not mark the id (a
         * requeue once rules are out folds it). */
        rc = mdb_get(s->txn, s->dedupe, &idk, &v);
        if (rc == 0) {
            int64_t seen = v.mv_size == 8 ? (int64_t)gm__get_be64(v.mv_data) : INT64_MAX;
            if (!(s->meta.has_newest && seen < s->meta.newest_time - s->opts.dedupe_window_s)) {
                s->stats.duplicates++;
                rc = 0;
                goto out;
            }
        } else if (rc != MDB_NOTFOUND) {
            gm__db_fail(s, rc, "dedupe get");
            goto out;
        }
        rc = gm__dead_letter(s, rec, "NO_RULES", "no rules published or seeded yet", ev->event_id);
        goto out;
    }

    /* Mark the id seen, in the same transaction as its effects; the put
     * itself tells a duplicate (one tree descent, not a get and a put). */
    uint8_t tb[8];
    gm__put_be64(tb, (uint64_t)t);
    v.mv_size = 8;
    v.mv_data = tb;
    rc = mdb_put(s->txn, s->dedupe, &idk, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        /* v is the stored time. An id seen before the window is forgotten
         * as if pruning had reached it already: where pruning stands must
         * not change an outcome. */
        int64_t seen = v.mv_size == 8 ? (int64_t)gm__get_be64(v.mv_data) : INT64_MAX;
        if (!(s->meta.has_newest && seen < s->meta.newest_time - s->opts.dedupe_window_s)) {
            s->stats.duplicates++;
            rc = 0;
            goto out;
        }
        uint8_t old[8 + GM_ID_MAX];
        gm__put_be64(old, (uint64_t)seen);
        memcpy(old + 8, ev->event_id, idk.mv_size);
        MDB_val ok = {8 + idk.mv_size, old}, nv = {8, tb};
        if ((rc = mdb_del(s->txn, s->dedupe_time, &ok, NULL)) && rc != MDB_NOTFOUND) {
            gm__db_fail(s, rc, "dedupe_time delete");
            goto out;
        }
        rc = mdb_put(s->txn, s->dedupe, &idk, &nv, 0);
    }
    if (rc) {
        gm__db_fail(s, rc, "dedupe put");
        goto out;
    }
    uint8_t tk[8 + GM_ID_MAX];
    memcpy(tk, tb, 8);
    memcpy(tk + 8, ev->event_id, idk.mv_size);
    MDB_val tkv = {8 + idk.mv_size, tk}, empty = {0, ""};
    /* Event times mostly grow along the log, so the key mostly goes last:
     * MDB_APPEND skips the search, and refuses (MDB_KEYEXIST) a key that
     * does not sort after the last one, which then takes the usual put.
     * The tree's content is the same either way. */
    rc = mdb_put(s->txn, s->dedupe_time, &tkv, &empty, MDB_APPEND);
    if (rc == MDB_KEYEXIST)
        rc = mdb_put(s->txn, s->dedupe_time, &tkv, &empty, 0);
    if ((rc = gm__db_fail(s, rc, "dedupe_time put")))
        goto out;

    /* a dead letter of the fold (ADJUSTMENT_BELOW_ZERO, UNKNOWN_TIMEZONE,
     * RULES_INVALID) marks its id seen and changes nothing else: no clock */
    int64_t dl_before = s->meta.dl_seq;
    if (is_rules && s->what_if[0])
        rc = gm__ignore_rules(s, rec, ev); /* a what-if keeps its own rules throughout */
    else if (is_rules)
        rc = gm__publish_rules(s, rec, ev);
    else
        rc = fold_event(s, rec, ev, idk.mv_size);
    if (rc)
        goto out;

    /* new rules may keep periods longer or shorter */
    bool dead = s->meta.dl_seq != dl_before;
    bool roll = is_rules && !s->what_if[0] && !dead;
    if (!dead && (!s->meta.has_newest || t > s->meta.newest_time ||
                  (t == s->meta.newest_time && nanos > s->meta.newest_nanos))) {
        /* Prune and roll periods when the newest time crosses a 15-minute
         * mark (every zone offset is a multiple of 15 minutes, so no local
         * midnight is missed): a function of the events alone. */
        bool cross = !s->meta.has_newest || t / 900 != s->meta.newest_time / 900;
        s->meta.has_newest = true;
        s->meta.newest_time = t;
        s->meta.newest_nanos = nanos;
        if (cross)
            s->meta.dedupe_pending = 1;
        roll = roll || cross;
    }
    if ((roll && (rc = gm__advance_periods(s))) || (rc = gm__prune_dedupe(s)) ||
        (rc = gm__prune_step(s)))
        goto out;
out:
    if (!in_arena)
        gm_event_free(ev);
    gm_arena_reset(&s->ev_arena); /* the event, and what its fold built */
    return rc;
}
