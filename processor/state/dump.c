/*
 * dump.c: the audit view (DESIGN section 3): one JSON object per learner per
 * line, sorted by userId (`gamify dump`).
 */
#include "state_int.h"

#include "log.h"
#include "timefmt.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *
redemptions_of(struct gm_state *s, MDB_txn *txn, const char *user)
{
    json_t *arr = json_array();
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, s->redemptions, &cur))
        return arr;
    size_t ulen = strlen(user);
    uint8_t kb[GM_ID_MAX + 2];
    memcpy(kb, user, ulen);
    kb[ulen] = 0;
    MDB_val k = {ulen + 1, kb}, v;
    Gamify__Internal__Redemption **items = NULL;
    size_t n = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size > ulen && memcmp(k.mv_data, user, ulen) == 0 &&
           ((uint8_t *)k.mv_data)[ulen] == 0) {
        Gamify__Internal__Redemption *r =
            gamify__internal__redemption__unpack(NULL, v.mv_size, v.mv_data);
        if (r) {
            items = realloc(items, (n + 1) * sizeof *items);
            if (!items)
                abort();
            items[n++] = r;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    /* log order: by sequence number (insertion sort; a learner has few) */
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && items[j - 1]->seq > items[j]->seq; j--) {
            Gamify__Internal__Redemption *t = items[j];
            items[j] = items[j - 1];
            items[j - 1] = t;
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "redemptionId", json_string(items[i]->redemption_id));
        json_object_set_new(o, "rewardId", json_string(items[i]->reward_id));
        json_object_set_new(o, "status",
                            json_string(items[i]->completed ? "COMPLETED" : "REJECTED"));
        json_object_set_new(
            o, "reason",
            items[i]->completed ? json_null() : json_string(gm_fold_reason_name(items[i]->reason)));
        json_array_append_new(arr, o);
        gamify__internal__redemption__free_unpacked(items[i], NULL);
    }
    free(items);
    return arr;
}

/* The scores as {board: {period: score}} for the dump, or (reached) their
 * reach times as {board: {period: "RFC 3339"}}. */
static json_t *
scores_of(const Gamify__Internal__UserState *st, const struct meta *m, bool reached)
{
    struct score_list l = {0};
    gm__score_list_fill(&l, st, m);
    json_t *o = json_object();
    for (size_t i = 0; i < l.n; i++) {
        json_t *board = json_object_get(o, l.v[i].board);
        if (!board) {
            board = json_object();
            json_object_set_new(o, l.v[i].board, board);
        }
        char at[GM_RFC3339_MAX];
        json_t *val = !reached ? json_integer(l.v[i].score)
                      : gm_time_format_rfc3339(l.v[i].reached_at, 0, at) == 0
                          ? json_string(at)
                          : json_integer(l.v[i].reached_at); /* outside years 1-9999 */
        json_object_set_new(board, l.v[i].period, val);
    }
    gm__score_list_free(&l);
    return o;
}

static int
dump_one(struct gm_state *s, MDB_txn *txn, FILE *to, const MDB_val *k, const MDB_val *v,
         const struct meta *m)
{
    Gamify__Internal__UserState *st = gm__user_unpack(v->mv_size, v->mv_data);
    if (!st) {
        gm_log(GM_LOG_ERROR, "the stored record of learner %.*s does not decode", (int)k->mv_size,
               (const char *)k->mv_data);
        return GM_ECORRUPT;
    }
    json_t *o = json_object();
    json_object_set_new(o, "userId", json_string(st->user_id));
    json_object_set_new(o, "exp", json_integer(st->exp));
    json_object_set_new(o, "level", json_integer(st->level));
    json_object_set_new(o, "coins", json_integer(st->coins));
    json_object_set_new(o, "coinsEarned", json_integer(st->coins_earned));
    json_object_set_new(o, "coinsSpent", json_integer(st->coins_spent));
    json_object_set_new(o, "lessonsCompleted", json_integer(st->lessons_completed));
    json_object_set_new(o, "lessonCompletions", json_integer(st->lesson_completions));
    json_object_set_new(o, "tournamentsPlayed", json_integer(st->tournaments_played));
    json_object_set_new(o, "tournamentWins", json_integer(st->tournament_wins));
    json_object_set_new(o, "tournamentLosses", json_integer(st->tournament_losses));
    json_object_set_new(o, "currentStreak", json_integer(st->current_streak));
    json_object_set_new(o, "longestStreak", json_integer(st->longest_streak));
    json_object_set_new(o, "freezesHeld", json_integer(st->freezes_held));
    json_t *badges = json_array();
    for (size_t i = 0; i < st->n_badges; i++)
        json_array_append_new(badges, json_string(st->badges[i]->id));
    json_object_set_new(o, "badges", badges);
    json_object_set_new(o, "redemptions", redemptions_of(s, txn, st->user_id));
    json_object_set_new(o, "scores", scores_of(st, m, false));
    json_object_set_new(o, "timezone", json_string(st->timezone));
    json_object_set_new(o, "leaderboardOptOut", json_boolean(st->opt_out));
    json_object_set_new(o, "scoresReachedAt", scores_of(st, m, true));
    char *text = json_dumps(o, JSON_COMPACT);
    fprintf(to, "%s\n", text);
    free(text);
    json_decref(o);
    gamify__internal__user_state__free_unpacked(st, NULL);
    return 0;
}

struct dump_walk {
    struct gm_state *s;
    MDB_txn *txn;
    FILE *to;
    const struct meta *m;
};

static int
dump_step(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct dump_walk *w = ctx;
    return dump_one(w->s, w->txn, w->to, k, v, w->m);
}

int
gm_state_dump(struct gm_state *s, FILE *to, const char *user)
{
    MDB_txn *txn;
    int rc = gm__ro_begin(s, &txn);
    if (rc)
        return GM_EDB;
    struct meta m; /* this snapshot's floors, not those of the open */
    const char *bad = NULL;
    if ((rc = gm__meta_read(txn, s->meta_db, &m, &bad))) {
        mdb_txn_abort(txn);
        return rc < 0 && rc > GM_E_BASE - 100 ? rc : GM_EDB;
    }
    struct gm__overlay o;
    if ((rc = gm__overlay_build(s, txn, INT64_MIN, &o))) {
        mdb_txn_abort(txn);
        return GM_EDB;
    }
    MDB_val k, v;
    if (user) {
        k.mv_size = strlen(user);
        k.mv_data = (void *)user;
        rc = gm__overlay_get(&o, user, k.mv_size, &v) ? 0 : mdb_get(txn, s->profiles, &k, &v);
        rc = rc == 0              ? dump_one(s, txn, to, &k, &v, &m)
             : rc == MDB_NOTFOUND ? GM_ENOTFOUND
                                  : GM_EDB;
    } else {
        struct dump_walk w = {s, txn, to, &m};
        rc = gm__learners_walk(s, txn, &o, NULL, 0, dump_step, &w);
        rc = rc == 0 || rc == GM_ECORRUPT ? rc : GM_EDB;
    }
    gm__overlay_free(&o);
    mdb_txn_abort(txn);
    return rc;
}
