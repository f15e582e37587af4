/*
 * test_expr.c: the criteria / `when` expression language: precedence,
 * comparisons, arithmetic, names and contexts, and every error with its
 * column.
 */
#include "expr.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct gm_expr *
compile_ok(const char *src, unsigned mask)
{
    struct gm_expr *e = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_expr_compile(src, mask, &e, &err);
    cr_assert_eq(rc, 0, "'%s' failed: %s", src, err.msg);
    cr_assert_not_null(e);
    return e;
}

static bool
eval_src(const char *src, const int64_t vars[GM_VAR_COUNT])
{
    struct gm_expr *e = compile_ok(src, GM_VARS_LESSON | GM_VARS_TOURNAMENT);
    bool v = gm_expr_eval(e, vars);
    gm_expr_free(e);
    return v;
}

/* Asserts src fails in mask at column with a message containing needle. */
static void
expect_err(const char *src, unsigned mask, int column, const char *needle)
{
    struct gm_expr *e = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_expr_compile(src, mask, &e, &err);
    cr_assert_eq(rc, GM_EINVAL, "'%.80s' compiled", src);
    cr_assert_null(e);
    cr_assert_eq(err.code, GM_EINVAL);
    cr_assert_eq(err.column, column, "'%.80s': column %d, want %d (%s)", src, err.column, column,
                 err.msg);
    cr_assert_not_null(strstr(err.msg, needle), "'%.80s': message '%s' lacks '%s'", src, err.msg,
                       needle);
}

Test(expr, names_round_trip)
{
    for (int v = 0; v < GM_VAR_COUNT; v++) {
        const char *name = gm_var_name((enum gm_var)v);
        enum gm_var back;
        cr_assert_eq(gm_var_from_name(name, strlen(name), &back), 0, "%s", name);
        cr_assert_eq((int)back, v);
    }
    cr_assert_str_eq(gm_var_name(GM_VAR_LESSONS_COMPLETED), "lessons_completed");
    cr_assert_str_eq(gm_var_name(GM_VAR_RANK), "rank");
    enum gm_var v;
    cr_assert_eq(gm_var_from_name("exps", 4, &v), GM_ENOTFOUND);
    cr_assert_eq(gm_var_from_name("exps", 3, &v), 0);
    cr_assert_eq(v, GM_VAR_EXP);
}

Test(expr, example_criteria)
{
    int64_t vars[GM_VAR_COUNT] = {0};
    struct gm_expr *e =
        compile_ok("lessons_completed >= 10 and current_streak >= 7", GM_VARS_COUNTERS);
    cr_assert_str_eq(gm_expr_source(e), "lessons_completed >= 10 and current_streak >= 7");
    cr_assert_eq(gm_expr_vars(e), (1u << GM_VAR_LESSONS_COMPLETED) | (1u << GM_VAR_CURRENT_STREAK));
    cr_assert_not(gm_expr_eval(e, vars));
    vars[GM_VAR_LESSONS_COMPLETED] = 10;
    cr_assert_not(gm_expr_eval(e, vars));
    vars[GM_VAR_CURRENT_STREAK] = 7;
    cr_assert(gm_expr_eval(e, vars));
    vars[GM_VAR_LESSONS_COMPLETED] = 9;
    cr_assert_not(gm_expr_eval(e, vars));
    gm_expr_free(e);
}

Test(expr, precedence_not_and_or)
{
    /* not a and b or c == ((not a) and b) or c */
    for (int bits = 0; bits < 8; bits++) {
        int64_t vars[GM_VAR_COUNT] = {0};
        int a = bits & 1, b = (bits >> 1) & 1, c = (bits >> 2) & 1;
        vars[GM_VAR_EXP] = a;
        vars[GM_VAR_LEVEL] = b;
        vars[GM_VAR_COINS] = c;
        bool want = ((!a) && b) || c;
        cr_assert_eq(eval_src("not exp and level or coins", vars), want, "bits %d", bits);
        cr_assert_eq(eval_src("((not exp) and level) or coins", vars), want, "bits %d", bits);
        /* and binds tighter than or */
        cr_assert_eq(eval_src("exp or level and coins", vars), a || (b && c), "bits %d", bits);
        cr_assert_eq(eval_src("(exp or level) and coins", vars), (a || b) && c, "bits %d", bits);
        /* not applies to the whole comparison */
        cr_assert_eq(eval_src("not exp == 1", vars), !(a == 1), "bits %d", bits);
        cr_assert_eq(eval_src("not not exp", vars), a != 0, "bits %d", bits);
        cr_assert_eq(eval_src("not (exp or level)", vars), !(a || b), "bits %d", bits);
    }
}

Test(expr, comparisons)
{
    int64_t vars[GM_VAR_COUNT] = {0};
    vars[GM_VAR_SCORE] = 90;
    cr_assert(eval_src("score == 90", vars));
    cr_assert_not(eval_src("score != 90", vars));
    cr_assert(eval_src("score != 89", vars));
    cr_assert(eval_src("score < 91", vars));
    cr_assert_not(eval_src("score < 90", vars));
    cr_assert(eval_src("score <= 90", vars));
    cr_assert_not(eval_src("score <= 89", vars));
    cr_assert(eval_src("score > 89", vars));
    cr_assert_not(eval_src("score > 90", vars));
    cr_assert(eval_src("score >= 90", vars));
    cr_assert_not(eval_src("score >= 91", vars));
    cr_assert(eval_src("90 == score", vars));
    cr_assert(eval_src("score>=90", vars));
    cr_assert(eval_src("\tscore\n>=\r\n90 ", vars));
    /* A comparison's result is 0 or 1, so it compares as an integer. */
    cr_assert(eval_src("(score >= 90) == 1", vars));
    cr_assert(eval_src("(score > 90) == 0", vars));
}

Test(expr, bare_values_mean_nonzero)
{
    int64_t vars[GM_VAR_COUNT] = {0};
    cr_assert_not(eval_src("badges", vars));
    vars[GM_VAR_BADGES] = 3;
    cr_assert(eval_src("badges", vars));
    vars[GM_VAR_BADGES] = -1;
    cr_assert(eval_src("badges", vars));
    cr_assert(eval_src("1", vars));
    cr_assert(eval_src("42", vars));
    cr_assert_not(eval_src("0", vars));
    cr_assert_not(eval_src("not 1", vars));
    cr_assert(eval_src("(((7)))", vars));
    cr_assert_not(eval_src("0 or 0", vars));
    cr_assert(eval_src("2 and 3", vars));
}

Test(expr, arithmetic_saturates)
{
    int64_t vars[GM_VAR_COUNT] = {0};
    vars[GM_VAR_TOURNAMENT_WINS] = 5;
    vars[GM_VAR_TOURNAMENT_LOSSES] = 2;
    cr_assert(eval_src("tournament_wins - tournament_losses >= 3", vars));
    cr_assert_not(eval_src("tournament_wins - tournament_losses >= 4", vars));
    cr_assert(eval_src("tournament_wins + tournament_losses == 7", vars));
    cr_assert(eval_src("10 - 3 - 2 == 5", vars)); /* left-associative */
    cr_assert(eval_src("9223372036854775807 == 9223372036854775807", vars));
    cr_assert(eval_src("9223372036854775807 + 1 == 9223372036854775807", vars));
    cr_assert(eval_src("0 - 9223372036854775807 - 5 < 0 - 9223372036854775807", vars));
    cr_assert(eval_src("0 - 9223372036854775807 - 5 - 5 == 0 - 9223372036854775807 - 1", vars));
    vars[GM_VAR_EXP] = INT64_MAX;
    cr_assert(eval_src("exp + exp == 9223372036854775807", vars));
}

Test(expr, context_masks)
{
    struct gm_expr *e = compile_ok("score >= 90 and duration_s < 600", GM_VARS_LESSON);
    gm_expr_free(e);
    e = compile_ok("rank == 1 and current_streak >= 3", GM_VARS_TOURNAMENT);
    gm_expr_free(e);
    expect_err("score >= 90", GM_VARS_COUNTERS, 1, "score (column 1) is an event field");
    expect_err("lessons_completed >= 1 and duration_s > 5", GM_VARS_COUNTERS, 28,
               "duration_s (column 28) is an event field of lesson_completed, not allowed here");
    expect_err("rank == 1", GM_VARS_LESSON, 1, "event field of tournament_result");
    expect_err("score > 1", GM_VARS_TOURNAMENT, 1, "event field of lesson_completed");
}

Test(expr, unknown_names)
{
    expect_err("lesons_completed >= 1", GM_VARS_COUNTERS, 1,
               "unknown name 'lesons_completed' at column 1 (did you mean 'lessons_completed'?); "
               "known: exp, level, coins,");
    expect_err("xyzzy >= 1", GM_VARS_COUNTERS, 1, "unknown name 'xyzzy' at column 1; known: exp,");
    /* no suggestion outside the context */
    expect_err("scor >= 1", GM_VARS_COUNTERS, 1, "unknown name 'scor' at column 1; known: exp,");
    expect_err("scor >= 1", GM_VARS_LESSON, 1, "(did you mean 'score'?)");
    expect_err("exp > 1 and Level > 2", GM_VARS_COUNTERS, 13, "unknown name 'Level'");
    /* the known list is the context's: counters only for badge criteria */
    struct gm_expr *e = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    cr_assert_eq(gm_expr_compile("foo", GM_VARS_COUNTERS, &e, &err), GM_EINVAL);
    cr_assert_not_null(strstr(err.msg, "redemptions"));
    cr_assert_null(strstr(err.msg, "score"));
    gm_err_clear(&err);
    cr_assert_eq(gm_expr_compile("foo", GM_VARS_TOURNAMENT, &e, &err), GM_EINVAL);
    cr_assert_not_null(strstr(err.msg, "rank"));
    cr_assert_null(strstr(err.msg, "score"));
    /* keywords are lowercase; AND is a name */
    expect_err("exp AND level", GM_VARS_COUNTERS, 5, "unexpected name at column 5");
}

Test(expr, integers)
{
    int64_t vars[GM_VAR_COUNT] = {0};
    cr_assert(eval_src("007 == 7", vars));
    expect_err("exp > 9223372036854775808", GM_VARS_COUNTERS, 7,
               "integer '9223372036854775808' at column 7 is beyond the int64 range");
    expect_err("exp > 99999999999999999999999", GM_VARS_COUNTERS, 7, "beyond the int64 range");
    expect_err("exp > 12abc", GM_VARS_COUNTERS, 9, "unexpected 'a' after the integer");
}

Test(expr, syntax_errors)
{
    unsigned m = GM_VARS_COUNTERS;
    expect_err("", m, 1, "empty expression");
    expect_err("   ", m, 1, "empty expression");
    expect_err("exp >= >= 1", m, 8, "unexpected '>=' at column 8; expected a value");
    expect_err("exp >=", m, 7, "expression ends early at column 7");
    expect_err("exp and", m, 8, "expression ends early");
    expect_err("not", m, 4, "expression ends early");
    expect_err("exp level", m, 5, "unexpected name at column 5 after a complete expression");
    expect_err("exp >= 1 2", m, 10, "unexpected integer at column 10");
    expect_err("exp = 1", m, 5, "unexpected '=' at column 5; use '=='");
    expect_err("!exp", m, 1, "unexpected '!' at column 1; use 'not'");
    expect_err("exp > 1 && level > 1", m, 9, "use 'and' / 'or'");
    expect_err("exp > 1 || level > 1", m, 9, "use 'and' / 'or'");
    expect_err("exp $ 1", m, 5, "unexpected character '$' at column 5");
    expect_err("exp > 1 \xc3\xa9", m, 9, "unexpected byte 0xc3 at column 9");
    expect_err("1 < exp < 5", m, 9, "comparisons do not chain: '<' at column 9");
    expect_err("and exp", m, 1, "unexpected 'and' at column 1; expected a value");
    expect_err("exp or or level", m, 8, "unexpected 'or' at column 8");
    expect_err("exp + ", m, 7, "expression ends early");
}

Test(expr, parentheses)
{
    unsigned m = GM_VARS_COUNTERS;
    expect_err("(exp >= 1", m, 10, "unbalanced parentheses: '(' at column 1 is not closed");
    expect_err("((exp >= 1) and (level > 2)", m, 28, "'(' at column 1 is not closed");
    expect_err("exp >= 1)", m, 9, "unbalanced parentheses: ')' at column 9 has no '('");
    expect_err(")", m, 1, "')' at column 1 has no '('");
    expect_err("()", m, 2, "unexpected ')' at column 2; expected a value");
    expect_err("(exp level)", m, 6,
               "expected ')' to close '(' at column 1, found name at column 6");
}

Test(expr, nesting_bound)
{
    char src[400];
    int64_t vars[GM_VAR_COUNT] = {0};
    vars[GM_VAR_EXP] = 1;

    /* 64 levels of parentheses are fine, 65 are not */
    size_t n = 0;
    for (int i = 0; i < 64; i++)
        src[n++] = '(';
    memcpy(src + n, "exp", 3);
    n += 3;
    for (int i = 0; i < 64; i++)
        src[n++] = ')';
    src[n] = '\0';
    cr_assert(eval_src(src, vars));

    n = 0;
    for (int i = 0; i < 65; i++)
        src[n++] = '(';
    memcpy(src + n, "exp", 3);
    n += 3;
    for (int i = 0; i < 65; i++)
        src[n++] = ')';
    src[n] = '\0';
    expect_err(src, GM_VARS_COUNTERS, 65, "nesting deeper than 64 at column 65");

    /* the same for not */
    n = 0;
    for (int i = 0; i < 64; i++) {
        memcpy(src + n, "not ", 4);
        n += 4;
    }
    memcpy(src + n, "exp", 4);
    cr_assert(eval_src(src, vars)); /* an even number of nots */
    n = 0;
    for (int i = 0; i < 65; i++) {
        memcpy(src + n, "not ", 4);
        n += 4;
    }
    memcpy(src + n, "exp", 4);
    expect_err(src, GM_VARS_COUNTERS, 257, "nesting deeper than 64");

    /* mixed: 32 nots inside 32 parentheses each, deepest operands on both sides */
    n = 0;
    for (int i = 0; i < 32; i++) {
        memcpy(src + n, "(not ", 5);
        n += 5;
    }
    memcpy(src + n, "exp", 3);
    n += 3;
    for (int i = 0; i < 32; i++)
        src[n++] = ')';
    src[n] = '\0';
    cr_assert(eval_src(src, vars));
}

Test(expr, deep_pending_values_evaluate)
{
    /* Every level leaves an `or`, an `and`, a comparison and a sum pending:
     * each level is 1 exactly when the level inside it is 1. */
    static char src[4096];
    size_t n = 0;
    for (int i = 0; i < 64; i++)
        n += (size_t)snprintf(src + n, sizeof src - n, "0 or 1 and 1 == 0 + (");
    n += (size_t)snprintf(src + n, sizeof src - n, "level");
    for (int i = 0; i < 64; i++)
        src[n++] = ')';
    src[n] = '\0';
    int64_t vars[GM_VAR_COUNT] = {0};
    vars[GM_VAR_LEVEL] = 1;
    cr_assert(eval_src(src, vars));
    vars[GM_VAR_LEVEL] = 3;
    cr_assert_not(eval_src(src, vars));
    vars[GM_VAR_LEVEL] = 0;
    cr_assert_not(eval_src(src, vars));
}

Test(expr, source_length_bound)
{
    char *src = malloc(4098);
    cr_assert_not_null(src);
    /* 4096 bytes: "exp" followed by spaces */
    memset(src, ' ', 4096);
    memcpy(src, "exp", 3);
    src[4096] = '\0';
    struct gm_expr *e = compile_ok(src, GM_VARS_COUNTERS);
    cr_assert_eq(strlen(gm_expr_source(e)), 4096);
    gm_expr_free(e);
    src[4096] = ' ';
    src[4097] = '\0';
    expect_err(src, GM_VARS_COUNTERS, 1, "expression longer than 4096 bytes");
    free(src);
}

Test(expr, free_null)
{
    gm_expr_free(NULL);
    struct gm_expr *e = (struct gm_expr *)1;
    cr_assert_eq(gm_expr_compile("exp >", GM_VARS_COUNTERS, &e, NULL), GM_EINVAL);
    cr_assert_null(e);
}

/* ---- the short form of simple criteria against the stack program ---- */

static uint64_t rng = 88172645463325252ULL;

static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Appends a random operand or comparison to buf. */
static void
random_term(char *buf, size_t cap)
{
    static const char *const cmps[] = {"==", "!=", "<", "<=", ">", ">="};
    static const char *const names[] = {"lessons_completed", "current_streak", "badges", "level",
                                        "tournament_losses"};
    const char *name = names[next_rand() % 5];
    int c = (int)(next_rand() % 4); /* 0 .. 3: near the values below */
    size_t n = strlen(buf);
    switch (next_rand() % 6) {
    case 0:
        snprintf(buf + n, cap - n, "%s", name);
        break;
    case 1:
        snprintf(buf + n, cap - n, "not %s", name);
        break;
    case 2:
        snprintf(buf + n, cap - n, "%d %s %s", c, cmps[next_rand() % 6], name);
        break;
    case 3:
        snprintf(buf + n, cap - n, "not (%s %s %d)", name, cmps[next_rand() % 6], c);
        break;
    case 4:
        snprintf(buf + n, cap - n, "%s + 1 %s %d", name, cmps[next_rand() % 6], c);
        break;
    default:
        snprintf(buf + n, cap - n, "%s %s %d", name, cmps[next_rand() % 6], c);
        break;
    }
}

Test(expr, short_form_agrees_with_the_program)
{
    static const char *const joins[] = {" and ", " or "};
    size_t shorts = 0, longs = 0;
    for (int round = 0; round < 3000; round++) {
        char src[512] = "";
        size_t terms = 1 + next_rand() % 5;
        bool mixed = next_rand() % 4 == 0;
        const char *join = joins[next_rand() % 2];
        for (size_t t = 0; t < terms; t++) {
            if (t)
                strcat(src, mixed ? joins[next_rand() % 2] : join);
            random_term(src, sizeof src);
        }
        struct gm_expr *e = compile_ok(src, GM_VARS_LESSON);
        if (gm__expr_is_short(e))
            shorts++;
        else
            longs++;
        for (int v = 0; v < 40; v++) {
            int64_t vars[GM_VAR_COUNT] = {0};
            for (int i = 0; i < GM_VAR_COUNT; i++)
                vars[i] = (int64_t)(next_rand() % 5) - 1;
            cr_assert_eq(gm_expr_eval(e, vars), gm__expr_eval_program(e, vars), "%s", src);
        }
        gm_expr_free(e);
    }
    /* both kinds were met, many times */
    cr_assert_gt(shorts, 1000, "%zu", shorts);
    cr_assert_gt(longs, 300, "%zu", longs);
}

Test(expr, which_criteria_take_the_short_form)
{
    static const char *const yes[] = {"lessons_completed >= 1",
                                      "lessons_completed >= 6 or lesson_completions >= 10",
                                      "tournament_wins >= 2 and not tournament_losses",
                                      "badges >= 4 and level >= 3",
                                      "3 < level",
                                      "not (level > 2)",
                                      "level",
                                      "not level >= 1"};
    static const char *const no[] = {"level + 1 >= 3", "level >= 1 and badges or exp",
                                     "(level >= 1) == 1", "1"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        struct gm_expr *e = compile_ok(yes[i], GM_VARS_LESSON);
        cr_expect(gm__expr_is_short(e), "%s", yes[i]);
        gm_expr_free(e);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        struct gm_expr *e = compile_ok(no[i], GM_VARS_LESSON);
        cr_expect(!gm__expr_is_short(e), "%s", no[i]);
        gm_expr_free(e);
    }
}
