/*
 * feed.h: reading a state for projectors, rebuilds and audits: the change
 * feed, learners, ledger entries, stock and the rules of a snapshot, as
 * plain C structs. Readers never see the state's byte encodings, so the
 * layout of the state can change under them.
 *
 * A reader is one LMDB read transaction: everything read through it is one
 * consistent snapshot, whatever the writer commits meanwhile. Open one per
 * projector pass, in any thread (the environment is opened MDB_NOTLS), and
 * close it soon: a long-lived reader keeps LMDB from reusing pages.
 */
#ifndef GM_FEED_H
#define GM_FEED_H

#include "arena.h"
#include "outbound.pb-c.h"
#include "rules.h"
#include "state.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A learner's leaderboard score in one (board, period); period is "all",
 * "2026-W48" or "2026-11". reached_at: occurred_at seconds of the event that
 * last changed the score (equal scores rank by it; 0 when the state predates
 * reach times). */
struct gm_score {
    const char *board;
    const char *period;
    int64_t score;
    int64_t reached_at;
};

struct gm_learner_badge {
    const char *id;
    int64_t earned_at; /* occurred_at seconds of the awarding event */
};

/* A learner as readers see it. Strings and arrays are borrowed from the
 * reader: valid until the callback returns (or, for gm_feed_learner, until
 * the next call on the reader or its close). */
struct gm_learner {
    const char *user_id;
    int64_t exp, level, coins, coins_earned, coins_spent;
    int64_t lessons_completed, lesson_completions;
    int64_t tournaments_played, tournament_wins, tournament_losses;
    int64_t current_streak, longest_streak, freezes_held;
    int64_t redemptions;                   /* completed */
    bool has_active_day;                   /* false until the first qualifying activity */
    int64_t last_active_day;               /* local day number (days since 1970-01-01) */
    const char *timezone;                  /* "" : the rules' zone */
    bool opt_out;                          /* anonymous on leaderboards */
    const struct gm_learner_badge *badges; /* award order */
    size_t n_badges;
    const struct gm_score *scores; /* kept periods only, board then period in byte order */
    size_t n_scores;
};

/* A redemption's outcome, as the change that made it carries it. */
struct gm_feed_redemption {
    const char *redemption_id, *reward_id, *event_id;
    bool completed;
    int reason; /* gamification.v1.RejectionReason when not completed */
    int64_t cost, seq, occurred_at;
};

/* One record of the change feed: what one event changed, or (user_id NULL)
 * periods that expired. Borrowed for the callback. */
struct gm_change {
    int64_t seq;
    const char *user_id; /* NULL: a change of no learner (pruned periods) */
    const char *event_id;
    int64_t occurred_at;
    const struct gm_score *scores; /* absolute scores of the boards the event touched */
    size_t n_scores;
    const struct gm_feed_redemption *redemption; /* NULL: none */
    int64_t ledger_first, ledger_count;          /* the ledger entries it wrote */
    const Gamification__V1__OutboundEvent *const *outbound;
    size_t n_outbound;
    const char *const *pruned_periods; /* periods dropped from every board */
    size_t n_pruned_periods;
};

struct gm_ledger_entry {
    int64_t seq;
    const char *user_id, *event_id, *kind, *detail;
    int64_t exp_delta, coins_delta, exp_after, coins_after, capped_exp, occurred_at;
};

struct gm_feed;

/* Opens a reader (a snapshot) of s. *out is new; close with gm_feed_close.
 * Errors: GM_EDB. */
int gm_feed_open(struct gm_state *s, struct gm_feed **out);

/* Closes; NULL is fine. */
void gm_feed_close(struct gm_feed *f);

/* The sequence number the next change will get (the end of the feed) and
 * the first one still stored (changes before it were trimmed). */
int64_t gm_feed_end(const struct gm_feed *f);
int64_t gm_feed_start(const struct gm_feed *f);

/*
 * Calls fn for up to max changes from sequence number from on, in order;
 * *next is the sequence number after the last one passed. Stops early and
 * returns fn's result when it is not 0. Errors: GM_ENOTFOUND when from is
 * below gm_feed_start (trimmed: the projector must rebuild), GM_ECORRUPT,
 * GM_EDB.
 */
int gm_feed_changes(struct gm_feed *f, int64_t from, size_t max,
                    int (*fn)(void *ctx, const struct gm_change *ch), void *ctx, int64_t *next);

/*
 * The same, with every change passed kept in a (the caller's) instead of
 * freed after its callback: each stays valid until a is reset or deinit.
 * For caches of decoded changes (feedshare.h).
 */
int gm_feed_changes_keep(struct gm_feed *f, int64_t from, size_t max, struct gm_arena *a,
                         int (*fn)(void *ctx, const struct gm_change *ch), void *ctx,
                         int64_t *next);

/*
 * Tells f that the learners it will be asked for (gm_feed_learner) all
 * changed at or after change sequence number from, so that it reads only the
 * part of the learner journal (write-behind learners) that can hold them.
 * Call before the first gm_feed_learner; a lookup of a learner that did not
 * change since may then return an older copy. gm_feed_learners then
 * returns GM_EINVAL.
 */
void gm_feed_learners_changed_since(struct gm_feed *f, int64_t from);

/* Fills *l with the learner user (borrowed until the next call on f).
 * Errors: GM_ENOTFOUND, GM_ECORRUPT, GM_EDB. */
int gm_feed_learner(struct gm_feed *f, const char *user, struct gm_learner *l);

/* From now on, learners read through f come without their scores
 * (n_scores 0): for readers that do not need them (the Postgres
 * projector), which saves decoding and sorting them. */
void gm_feed_without_scores(struct gm_feed *f);

/* Calls fn for every learner in user id byte order (rebuilds). */
int gm_feed_learners(struct gm_feed *f, int (*fn)(void *ctx, const struct gm_learner *l),
                     void *ctx);

/* The same from the first learner whose user id is at or after from in
 * byte order (NULL or "": the first), for passes that resume where an
 * earlier one stopped. */
int gm_feed_learners_from(struct gm_feed *f, const char *from,
                          int (*fn)(void *ctx, const struct gm_learner *l), void *ctx);

/* Calls fn for the ledger entries first .. first + count - 1, in order. */
int gm_feed_ledger(struct gm_feed *f, int64_t first, int64_t count,
                   int (*fn)(void *ctx, const struct gm_ledger_entry *e), void *ctx);

/* The rules in force at the snapshot (NULL before any); borrowed until close. */
const struct gm_rules *gm_feed_rules(struct gm_feed *f);

/*
 * The same, parsed once for as long as the stored rules text stays the
 * same: c (caller-owned, zeroed at first) keeps the text and the rules of
 * the last call. For readers that open a snapshot per batch (projectors),
 * where parsing the rules every time cost about 1.7 million instructions a
 * batch (a third of a batch of 100 changes). The result is borrowed from
 * c: valid until the next call with c or gm_feed_rules_cache_deinit(c).
 */
struct gm_feed_rules_cache {
    void *text;
    size_t len;
    struct gm_rules *rules;
};
const struct gm_rules *gm_feed_rules_cached(struct gm_feed *f, struct gm_feed_rules_cache *c);
void gm_feed_rules_cache_deinit(struct gm_feed_rules_cache *c);

/* Completed redemptions of reward_id counted against its stock (0 when none). */
int gm_feed_stock_used(struct gm_feed *f, const char *reward_id, int64_t *used);

#endif
