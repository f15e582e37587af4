/*
 * test_outbound.c: the outbound events of a fold (processor/state/
 * outbound.c) are built without ids, named only when a record keeps them
 * (gm__name_outbound), with the ids the compact change form rebuilds
 * (gm__outbound_id_of), which lets the fold's own change records skip the
 * check of each id; a level past int32, whose id keeps the full number
 * while the body cuts it, is the one case flagged as not derived.
 */
#include "state_int.h"

#include <criterion/criterion.h>
#include <string.h>

/* Builds the outbound events of items for an event event_id; named: and
 * names them. */
static void
build(struct gm_arena *a, const char *event_id, struct gm_outbound *items, size_t n,
      struct outbound_set *set, bool named)
{
    static Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = 1700000000;
    ts.nanos = 5;
    Gamification__V1__Event ev = GAMIFICATION__V1__EVENT__INIT;
    ev.event_id = (char *)event_id;
    ev.user_id = "u1";
    ev.occurred_at = &ts;
    struct gm_fold_out fo;
    memset(&fo, 0, sizeof fo);
    fo.outbound = items;
    fo.n_outbound = n;
    gm__build_outbound(&ev, &fo, a, set);
    if (named)
        gm__name_outbound(&ev, &fo, set);
}

Test(outbound, every_kind_has_the_rebuilt_id)
{
    struct gm_outbound items[] = {
        {GM_OUT_LEVEL_UP, 7, 100, 5000, NULL, NULL},
        {GM_OUT_LEVEL_UP, -3, 0, 0, NULL, NULL},
        {GM_OUT_BADGE_EARNED, 0, 0, 0, "first-steps", "First steps"},
        {GM_OUT_STREAK_UPDATED, 4, 9, 1, NULL, NULL},
        {GM_OUT_REWARD_REDEEMED, 50, 25, 0, "r-1", "mug"},
        {GM_OUT_REDEMPTION_REJECTED, 2, 0, 0, "r-2", "mug"},
    };
    size_t n = sizeof items / sizeof items[0];
    char long_id[GM_OUTBOUND_ID_MAX + 40];
    memset(long_id, 'e', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    const char *ids[] = {"ev-1", "", long_id};
    for (size_t k = 0; k < 3; k++) {
        struct gm_arena a;
        gm_arena_init(&a, 4096);
        struct outbound_set set;
        build(&a, ids[k], items, n, &set, true);
        cr_assert(set.ids_derived);
        cr_assert_eq(set.n, n);
        for (size_t i = 0; i < n; i++) {
            char want[GM_OUTBOUND_ID_MAX];
            gm__outbound_id_of(ids[k], set.items[i], want);
            cr_assert_str_eq(set.items[i]->event_id, want, "item %zu of id %zu", i, k);
        }
        gm_arena_deinit(&a);
    }
}

Test(outbound, a_level_past_int32_is_not_derived)
{
    struct gm_outbound items[] = {
        {GM_OUT_STREAK_UPDATED, 4, 9, 1, NULL, NULL},
        {GM_OUT_LEVEL_UP, (int64_t)1 << 40, 0, 0, NULL, NULL},
    };
    struct gm_arena a;
    gm_arena_init(&a, 4096);
    struct outbound_set set;
    build(&a, "ev-9", items, 2, &set, true);
    cr_assert_not(set.ids_derived);
    char want[GM_OUTBOUND_ID_MAX];
    gm__outbound_id_of("ev-9", set.items[1], want);
    cr_assert_str_neq(set.items[1]->event_id, want);
    gm_arena_deinit(&a);
}

/* Before naming, every id is empty (a compact change record does not hold
 * it); naming fills each. */
Test(outbound, ids_are_empty_until_named)
{
    struct gm_outbound items[] = {
        {GM_OUT_LEVEL_UP, 7, 100, 5000, NULL, NULL},
        {GM_OUT_BADGE_EARNED, 0, 0, 0, "first-steps", "First steps"},
        {GM_OUT_STREAK_UPDATED, 4, 9, 1, NULL, NULL},
    };
    struct gm_arena a;
    gm_arena_init(&a, 4096);
    struct outbound_set set;
    build(&a, "ev-3", items, 3, &set, false);
    for (size_t i = 0; i < 3; i++)
        cr_assert_str_empty(set.items[i]->event_id, "item %zu", i);
    gm_arena_deinit(&a);
    gm_arena_init(&a, 4096);
    build(&a, "ev-3", items, 3, &set, true);
    cr_assert_str_eq(set.items[0]->event_id, "ev-3:level:7");
    cr_assert_str_eq(set.items[1]->event_id, "ev-3:badge:first-steps");
    cr_assert_str_eq(set.items[2]->event_id, "ev-3:streak");
    gm_arena_deinit(&a);
}
