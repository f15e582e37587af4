/*
 * expr.h: the criteria / `when` expression language of the rules file.
 *
 * Integers, the names below, comparisons (== != < <= > >=), `and`, `or`,
 * `not`, parentheses and saturating `+`/`-`, e.g. `lessons_completed >= 10
 * and current_streak >= 7`. Compiled once when the rules are loaded;
 * evaluation is pure integer work with no allocation. Errors point at the
 * 1-based column.
 */
#ifndef GM_EXPR_H
#define GM_EXPR_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The names an expression may use: per-learner counters, then event fields. */
enum gm_var {
    GM_VAR_EXP,
    GM_VAR_LEVEL,
    GM_VAR_COINS,
    GM_VAR_COINS_EARNED,
    GM_VAR_COINS_SPENT,
    GM_VAR_LESSONS_COMPLETED,
    GM_VAR_LESSON_COMPLETIONS,
    GM_VAR_TOURNAMENTS_PLAYED,
    GM_VAR_TOURNAMENT_WINS,
    GM_VAR_TOURNAMENT_LOSSES,
    GM_VAR_CURRENT_STREAK,
    GM_VAR_LONGEST_STREAK,
    GM_VAR_BADGES,
    GM_VAR_REDEMPTIONS,
    GM_VAR_SCORE,      /* lesson_completed */
    GM_VAR_DURATION_S, /* lesson_completed */
    GM_VAR_RANK,       /* tournament_result */
    GM_VAR_COUNT,
};

/* Masks of the names allowed in a context. */
#define GM_VARS_COUNTERS   ((1u << GM_VAR_SCORE) - 1u)
#define GM_VARS_LESSON     (GM_VARS_COUNTERS | (1u << GM_VAR_SCORE) | (1u << GM_VAR_DURATION_S))
#define GM_VARS_TOURNAMENT (GM_VARS_COUNTERS | (1u << GM_VAR_RANK))

/* The name of a variable as written in rules ("lessons_completed"). */
const char *gm_var_name(enum gm_var v);

/* Looks up a variable by its name (name[0..len)); 0, or GM_ENOTFOUND. */
int gm_var_from_name(const char *name, size_t len, enum gm_var *out);

struct gm_expr;

/*
 * Compiles src (NUL-terminated). Names outside allowed_mask (a GM_VARS_*
 * mask) are errors, as are unknown names, integers beyond int64, and
 * nesting deeper than 64. On success *out is new; free with gm_expr_free.
 * On error returns GM_EINVAL and fills err with the 1-based column in src.
 */
int gm_expr_compile(const char *src, unsigned allowed_mask, struct gm_expr **out,
                    struct gm_err *err);

/* Evaluates e over vars (indexed by enum gm_var). Pure; never fails. */
bool gm_expr_eval(const struct gm_expr *e, const int64_t vars[GM_VAR_COUNT]);

/* The same through the stack program alone, never the short form of
 * simple criteria (terms joined by one of and/or) that gm_expr_eval takes
 * when it can: for tests, which compare the two. */
bool gm__expr_eval_program(const struct gm_expr *e, const int64_t vars[GM_VAR_COUNT]);

/* Whether e has the short form (for tests). */
bool gm__expr_is_short(const struct gm_expr *e);

/* The source text e was compiled from; borrowed, valid until gm_expr_free. */
const char *gm_expr_source(const struct gm_expr *e);

/* The mask (1u << enum gm_var) of the names e reads. */
unsigned gm_expr_vars(const struct gm_expr *e);

/* Frees e; NULL is fine. */
void gm_expr_free(struct gm_expr *e);

#endif
