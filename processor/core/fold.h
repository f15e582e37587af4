/*
 * fold.h: the deterministic core. One pure function folds one event into
 * one learner's state under the rules in force, following the exact order
 * of docs/rules.md ("How one event is folded"): streak, activity, daily
 * cap, levels, badges, leaderboards; plus redemptions, adjustments and
 * settings.
 *
 * No I/O, no clock, no randomness, integers only. Everything the fold needs
 * from the store (was this lesson completed before? what happened to this
 * redemption id? how much stock is left?) is looked up by the caller and
 * passed in; everything the store must write is returned in struct
 * gm_fold_out. Same inputs, same outputs, on every machine.
 *
 * What expressions see: a bonus `when` (step 3, first-time activities)
 * reads the counters after step 2 and before anything else of the event:
 * the streak (and coins of a streak milestone) of this event are in, its
 * own lessons_completed, lesson_completions, tournament counters, exp,
 * activity coins, levels and badges are not. Badge criteria (step 6) read
 * everything of the event, level-up coins included, and each badge awarded
 * in the pass at once.
 */
#ifndef GM_FOLD_H
#define GM_FOLD_H

#include "codec.h"
#include "rules.h"
#include "state.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

struct gm_fold_in {
    const struct gm_rules *rules;
    const Gamification__V1__Event *ev;
    /* lesson / tournament: no earlier event had this activity key */
    bool first_time;
    /* redeem: the stored outcome of this redemption id, or NULL */
    const Gamify__Internal__Redemption *prior;
    /* redeem: completed redemptions of the asked reward in this state */
    int64_t stock_used;
    /* sequence number the store will give a new redemption */
    int64_t next_redemption_seq;
};

enum gm_outbound_kind {
    GM_OUT_LEVEL_UP,
    GM_OUT_BADGE_EARNED,
    GM_OUT_STREAK_UPDATED,
    GM_OUT_REWARD_REDEEMED,
    GM_OUT_REDEMPTION_REJECTED,
};

/* One outbound event; strings are borrowed from the rules or the event. */
struct gm_outbound {
    enum gm_outbound_kind kind;
    int64_t a;        /* new level | current streak | cost | reason */
    int64_t b;        /* reward coins | longest streak | coins after */
    int64_t c;        /* exp after | freezes used */
    const char *id;   /* badge id | redemption id */
    const char *name; /* badge name | reward id */
};

/* One ledger entry; kind and detail borrowed (static, rules or event). */
struct gm_ledger {
    const char *kind;
    const char *detail;
    int64_t exp_delta;
    int64_t coins_delta;
    int64_t exp_after;
    int64_t coins_after;
    int64_t capped_exp;
};

#define GM_PERIOD_KEY_MAX 16

struct gm_fold_out {
    bool rejected;    /* to the dead letters; the state must not be written */
    char reason[32];  /* when rejected: a code such as ADJUSTMENT_BELOW_ZERO */
    char detail[256]; /* when rejected: the explanation */
    bool touched;     /* the learner's state changed (write it) */
    bool mark_first;  /* record the activity key */
    bool redemption;  /* a new redemption record (new_redemption) */
    Gamify__Internal__Redemption new_redemption; /* strings borrowed from ev */
    bool stock_taken; /* the reward's stock_used + 1 (every completed redemption) */

    /* leaderboards: add board_delta to every (board, period) below */
    int64_t board_delta;
    bool boards;
    char week[GM_PERIOD_KEY_MAX];      /* "2026-W48" or "" */
    char month[GM_PERIOD_KEY_MAX];     /* "2026-11" or "" */
    int64_t week_index;                /* ISO weeks since 1970 (for pruning) */
    int64_t month_index;               /* months since 1970-01 */
    const char *groups[GM_GROUPS_MAX]; /* distinct group ids, borrowed */
    size_t n_groups;

    struct gm_ledger *ledger;
    size_t n_ledger, cap_ledger;
    struct gm_outbound *outbound;
    size_t n_outbound, cap_outbound;
};

/* Prepares out for use; free its arrays with gm_fold_out_deinit. */
void gm_fold_out_init(struct gm_fold_out *out);
/* Empties out for the next event, keeping its arrays. */
void gm_fold_out_reset(struct gm_fold_out *out);
void gm_fold_out_deinit(struct gm_fold_out *out);

/*
 * Folds in->ev into st (the learner's state, modified in place; a new
 * learner is an initialised UserState with user_id set). Returns 0, with
 * out->rejected set when the event goes to the dead letters instead (then
 * st may have been changed and must be discarded), or GM_ENOTFOUND when a
 * time zone named by the event or the state is not installed.
 * RulesPublished events are not folded here (the store switches rules).
 */
int gm_fold_apply(const struct gm_fold_in *in, Gamify__Internal__UserState *st,
                  struct gm_fold_out *out);

/* The leaderboard period keys of an instant in a zone. */
void gm_fold_periods(int64_t local_day, char week[GM_PERIOD_KEY_MAX], char month[GM_PERIOD_KEY_MAX],
                     int64_t *week_index, int64_t *month_index);

/*
 * The index of a period key (what gm_fold_periods writes): weeks since the
 * week of 1970-01-01 ("2026-W03", *weekly true) or months since January
 * 1970 ("2026-01"). Returns 0, or -1 for anything else ("all").
 */
int gm_fold_period_parse(const char *key, size_t len, bool *weekly, int64_t *index);

/* The key of week or month index idx ("2026-W03", "2026-01"). */
void gm_fold_period_name(bool weekly, int64_t idx, char out[GM_PERIOD_KEY_MAX]);

/* A rejection reason's name ("INSUFFICIENT_COINS"). */
const char *gm_fold_reason_name(int reason);

#endif
