/*
 * rules.h: the rules file (YAML), parsed into an immutable, validated
 * struct. docs/rules.md is the reference for the format and for the exact
 * fold order; examples/rules.yaml uses every key.
 *
 * Every amount is an integer. A struct gm_rules never changes after
 * gm_rules_parse returns, so the fold and several threads may share it.
 */
#ifndef GM_RULES_H
#define GM_RULES_H

#include "err.h"
#include "expr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_RULES_MAX_LEVELS  10000
#define GM_RULES_MAX_ITEMS   1000               /* badges, rewards, bonuses, milestones each */
#define GM_RULES_MAX_BYTES   (1 << 20)          /* source size; equals GM_RULES_MAX of codec.h */
#define GM_RULES_MAX_EXP     1000000000000000LL /* bound of a level threshold (10^15) */
#define GM_RULES_MAX_AMOUNT  1000000000LL       /* bound of every amount but a threshold (10^9) */
#define GM_RULES_MAX_PERCENT 10000              /* bound of one bonus exp_percent */
#define GM_RULES_MAX_ERRORS  1000               /* errors reported, then one "too many errors" */

struct gm_bonus {
    struct gm_expr *when; /* never NULL */
    int64_t exp;          /* flat EXP added */
    int64_t exp_percent;  /* percent of the base EXP added (summed, rounded down) */
    int64_t coins;        /* flat coins added */
};

struct gm_grant {
    int64_t exp;
    int64_t coins;
};

struct gm_activity {
    struct gm_grant base; /* lesson_completed: exp/coins */
    struct gm_bonus *bonuses;
    size_t n_bonuses;
};

struct gm_milestone {
    int64_t days;
    int64_t coins;
};

struct gm_badge_def {
    char *id;
    char *name;
    char *icon;               /* "" when absent */
    struct gm_expr *criteria; /* counters only */
};

enum gm_reward_type {
    GM_REWARD_STREAK_FREEZE,
    GM_REWARD_COSMETIC,
    GM_REWARD_PHYSICAL,
    GM_REWARD_DIGITAL,
};

struct gm_reward_def {
    char *id;
    char *name;
    enum gm_reward_type type;
    char *type_name;        /* as written: "streak_freeze", "cosmetic", ... */
    int64_t cost;           /* coins, >= 0 */
    int64_t stock;          /* -1: unlimited */
    int64_t per_user_limit; /* -1 (absent): no limit; 0: nobody may redeem it */
    bool active;            /* default true */
};

struct gm_tz;

struct gm_rules {
    int64_t version;
    char *timezone; /* IANA name; default for learners and leaderboard periods */
    /* timezone resolved once by gm_rules_parse (borrowed from the zone cache);
     * NULL in rules built otherwise: then looked up by name */
    const struct gm_tz *tz;

    /* thresholds[i] is the EXP needed to reach level i + 1; thresholds[0] == 0;
     * n_levels entries; the last is the cap. A `formula` is expanded here,
     * up to max_level or the last level whose threshold is at most
     * GM_RULES_MAX_EXP, whichever comes first. Never decreasing: a
     * `thresholds` list is strictly increasing; a formula whose steps shrink
     * to 0 repeats its last threshold, and those levels are reached together. */
    int64_t *thresholds;
    size_t n_levels;
    int64_t level_up_coins;

    struct gm_activity lesson;      /* base exp/coins and bonuses */
    struct gm_grant tournament_win; /* per outcome */
    struct gm_grant tournament_draw;
    struct gm_grant tournament_loss;
    struct gm_bonus *tournament_bonuses; /* optional `bonuses` under tournament_result */
    size_t n_tournament_bonuses;

    int64_t exp_per_day; /* 0: no cap */

    bool streak_lessons;     /* lesson_completed in streaks.qualifying */
    bool streak_tournaments; /* tournament_result in streaks.qualifying */
    struct gm_milestone *milestones;
    size_t n_milestones;

    bool period_all_time, period_weekly, period_monthly;
    int64_t keep_weeks;
    int64_t keep_months;

    struct gm_badge_def *badges; /* file order */
    size_t n_badges;
    struct gm_reward_def *rewards; /* file order */
    size_t n_rewards;

    unsigned char sha256[32]; /* of the source text: identifies a rules version */
};

/*
 * Parses and validates a rules file. On success *out is new (free with
 * gm_rules_free) and returns 0. On failure returns GM_EINVAL and *errs is a
 * new array (free with free()) of *n_errs errors, each with line and column
 * and a message naming the key; every error found is reported, not just the
 * first. errs may be NULL when the caller only wants the verdict.
 */
int gm_rules_parse(const char *yaml, size_t len, struct gm_rules **out, struct gm_err **errs,
                   size_t *n_errs);

/*
 * Reads a rules file's text as it is (for seeding and publishing, which
 * store the text itself). Reads at most one byte past GM_RULES_MAX_BYTES, so
 * that parsing reports an oversized file. *text is new and NUL-terminated
 * (free with free()). Returns 0 or -errno.
 */
int gm_rules_read_text(const char *path, char **text, size_t *len);

/* Reads and parses a file; as gm_rules_parse, plus -errno for I/O errors. */
int gm_rules_load(const char *path, struct gm_rules **out, struct gm_err **errs, size_t *n_errs);

/* The level for a total EXP (1-based; the cap is n_levels). */
int64_t gm_rules_level_for(const struct gm_rules *r, int64_t exp);

/* The reward with this id, or NULL. */
const struct gm_reward_def *gm_rules_find_reward(const struct gm_rules *r, const char *id);

/* Frees r; NULL is fine. */
void gm_rules_free(struct gm_rules *r);

/* The name of a reward type as written in rules ("streak_freeze"); static. */
const char *gm_reward_type_name(enum gm_reward_type t);

/* Looks up a reward type by name; 0, or GM_ENOTFOUND. */
int gm_reward_type_from_name(const char *name, enum gm_reward_type *out);

#endif
