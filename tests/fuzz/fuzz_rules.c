/*
 * fuzz_rules.c: gm_rules_parse on the bytes as a rules file (YAML), as
 * `gamify rules check` and a RulesPublished event deliver it. A rejected
 * file must come with at least one error, each with a message; an accepted
 * one must hold what rules.h promises: a level table starting at 0, never
 * decreasing (a formula whose steps shrink to 0 repeats its threshold: those
 * levels are reached together) and within bounds, level_for agreeing with
 * it, badge criteria reading only counters, every `when` present.
 */
#include "fuzz.h"
#include "rules.h"

static void
check_levels(const struct gm_rules *r)
{
    GM_FUZZ_CHECK(r->n_levels >= 1 && r->n_levels <= GM_RULES_MAX_LEVELS,
                  "1 to GM_RULES_MAX_LEVELS levels");
    GM_FUZZ_CHECK(r->thresholds[0] == 0, "level 1 needs 0 EXP");
    for (size_t i = 1; i < r->n_levels; i++) {
        GM_FUZZ_CHECK(r->thresholds[i] >= r->thresholds[i - 1], "thresholds never decrease");
        GM_FUZZ_CHECK(r->thresholds[i] <= GM_RULES_MAX_EXP, "thresholds within GM_RULES_MAX_EXP");
    }
    /* Every threshold (at most 10000, a binary search each) reaches its level, or the last
     * of the levels that share it; one EXP short of the first of them stays below it. */
    for (size_t i = 0; i < r->n_levels; i++) {
        size_t last = i;
        while (last + 1 < r->n_levels && r->thresholds[last + 1] == r->thresholds[i])
            last++;
        GM_FUZZ_CHECK(gm_rules_level_for(r, r->thresholds[i]) == (int64_t)last + 1,
                      "a threshold reaches its level (the last of those sharing it)");
        if (i > 0 && r->thresholds[i] > r->thresholds[i - 1])
            GM_FUZZ_CHECK(gm_rules_level_for(r, r->thresholds[i] - 1) == (int64_t)i,
                          "one EXP short stays a level below");
    }
    static const int64_t probes[] = {INT64_MIN,        -1,       0, 1, 99, 100, 1000, 123456789,
                                     GM_RULES_MAX_EXP, INT64_MAX};
    int64_t prev = 0;
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        int64_t lv = gm_rules_level_for(r, probes[i]);
        GM_FUZZ_CHECK(lv >= 1 && lv <= (int64_t)r->n_levels, "a level is within 1..n_levels");
        GM_FUZZ_CHECK(lv >= prev, "more EXP never lowers the level");
        prev = lv;
    }
    GM_FUZZ_CHECK(gm_rules_level_for(r, INT64_MAX) == (int64_t)r->n_levels, "the cap is n_levels");
}

static void
check_bonuses(const struct gm_bonus *b, size_t n, unsigned mask)
{
    static const int64_t zero[GM_VAR_COUNT];
    for (size_t i = 0; i < n; i++) {
        GM_FUZZ_CHECK(b[i].when, "a bonus has a condition");
        GM_FUZZ_CHECK((gm_expr_vars(b[i].when) & ~mask) == 0, "a bonus reads names of its event");
        (void)gm_expr_eval(b[i].when, zero);
    }
}

static void
check_rules(const struct gm_rules *r)
{
    static const int64_t zero[GM_VAR_COUNT];
    check_levels(r);
    GM_FUZZ_CHECK(r->timezone, "a timezone is always set");
    check_bonuses(r->lesson.bonuses, r->lesson.n_bonuses, GM_VARS_LESSON);
    check_bonuses(r->tournament_bonuses, r->n_tournament_bonuses, GM_VARS_TOURNAMENT);
    GM_FUZZ_CHECK(r->n_badges <= GM_RULES_MAX_ITEMS && r->n_rewards <= GM_RULES_MAX_ITEMS &&
                      r->n_milestones <= GM_RULES_MAX_ITEMS &&
                      r->lesson.n_bonuses <= GM_RULES_MAX_ITEMS,
                  "at most GM_RULES_MAX_ITEMS of each");
    for (size_t i = 0; i < r->n_badges; i++) {
        const struct gm_badge_def *b = &r->badges[i];
        GM_FUZZ_CHECK(b->id && b->name && b->icon && b->criteria, "a badge is complete");
        GM_FUZZ_CHECK((gm_expr_vars(b->criteria) & ~GM_VARS_COUNTERS) == 0,
                      "badge criteria read counters only");
        (void)gm_expr_eval(b->criteria, zero);
    }
    for (size_t i = 0; i < r->n_rewards; i++) {
        const struct gm_reward_def *w = &r->rewards[i];
        GM_FUZZ_CHECK(w->id && w->name && w->type_name, "a reward is complete");
        GM_FUZZ_CHECK(w->cost >= 0 && w->stock >= -1 && w->per_user_limit >= -1,
                      "reward amounts in range");
        GM_FUZZ_CHECK(gm_rules_find_reward(r, w->id), "a reward is found by its id");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gm_rules *r = NULL;
    struct gm_err *errs = NULL;
    size_t n_errs = 0;

    if (size > GM_FUZZ_INPUT_MAX)
        return 0;
    int rc = gm_rules_parse((const char *)data, size, &r, &errs, &n_errs);
    if (rc) {
        GM_FUZZ_CHECK(rc < 0 && !r, "a failed parse returns a negative code and no rules");
        GM_FUZZ_CHECK(n_errs >= 1 && n_errs <= GM_RULES_MAX_ERRORS + 1 && errs,
                      "a failed parse reports 1 to GM_RULES_MAX_ERRORS (+1) errors");
        for (size_t i = 0; i < n_errs; i++)
            GM_FUZZ_CHECK(errs[i].msg[0], "every error says why");
        free(errs);
        return 0;
    }
    GM_FUZZ_CHECK(r, "a parse that succeeds returns rules");
    check_rules(r);
    gm_rules_free(r);
    free(errs);
    return 0;
}
