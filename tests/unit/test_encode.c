/*
 * test_encode.c: the hand-written encoders of processor/state/encode.c write the
 * bytes protobuf-c writes, for every kind of change-feed record and ledger
 * entry (defaults left out, negative numbers, empty strings, every outbound
 * body), and decline what they do not cover. Also the arena
 * (processor/state/arena.c) the fold's records are built in.
 */
#include "arena.h"
#include "encode.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* encode with both; they must agree byte for byte */
static void
same_change(const Gamify__Internal__Change *ch)
{
    size_t want = gamify__internal__change__get_packed_size(ch);
    uint8_t *a = malloc(want + 1), *b = malloc(want + 1);
    cr_assert_eq(gamify__internal__change__pack(ch, a), want);
    size_t got = gm_encode_change_size(ch);
    cr_assert_eq(got, want, "size %zu, protobuf-c %zu", got, want);
    gm_encode_change(ch, b);
    cr_expect_eq(memcmp(a, b, want), 0, "bytes differ");
    free(a);
    free(b);
}

static void
same_ledger(const Gamify__Internal__LedgerEntry *e)
{
    size_t want = gamify__internal__ledger_entry__get_packed_size(e);
    uint8_t *a = malloc(want + 1), *b = malloc(want + 1);
    cr_assert_eq(gamify__internal__ledger_entry__pack(e, a), want);
    cr_assert_eq(gm_encode_ledger_size(e), want);
    gm_encode_ledger(e, b);
    cr_expect_eq(memcmp(a, b, want), 0, "bytes differ");
    /* the fold's path: strings measured once */
    struct gm_ledger_lens lens;
    cr_assert_eq(gm_encode_ledger_measure(e, &lens), want);
    memset(b, 0xee, want + 1);
    gm_encode_ledger_measured(e, &lens, b);
    cr_expect_eq(memcmp(a, b, want), 0, "bytes differ (measured)");
    cr_expect_eq(b[want], 0xee, "written past the size");
    free(a);
    free(b);
}

Test(encode, ledger_entries)
{
    Gamify__Internal__LedgerEntry e = GAMIFY__INTERNAL__LEDGER_ENTRY__INIT;
    e.user_id = "u1";
    e.event_id = "e-1";
    e.kind = "lesson";
    e.detail = "l1";
    e.exp_delta = 15;
    e.coins_delta = 3;
    e.exp_after = 300;
    e.coins_after = 1LL << 40;
    e.occurred_at = 1795000000;
    e.seq = 0; /* the first: a default, left out */
    e.capped_exp = 0;
    same_ledger(&e);
    e.seq = 127;
    e.capped_exp = 128;
    e.coins_delta = -60; /* ten bytes */
    e.exp_delta = INT64_MIN;
    e.detail = ""; /* left out */
    same_ledger(&e);
    char long_detail[300];
    memset(long_detail, 'x', sizeof long_detail - 1);
    long_detail[sizeof long_detail - 1] = '\0';
    e.detail = long_detail; /* a two-byte length */
    same_ledger(&e);
}

Test(encode, changes_with_every_part)
{
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = 1795000000;
    ts.nanos = 5000;
    Gamification__V1__LevelUp lu = GAMIFICATION__V1__LEVEL_UP__INIT;
    lu.new_level = 3;
    lu.reward = 20;
    lu.exp = 150;
    Gamification__V1__BadgeEarned be = GAMIFICATION__V1__BADGE_EARNED__INIT;
    be.badge_id = "hello-world";
    be.name = "Hello, World";
    Gamification__V1__StreakUpdated su = GAMIFICATION__V1__STREAK_UPDATED__INIT;
    su.current_streak = 1;
    su.longest_streak = 0;
    su.freezes_used = -1; /* negative int32: ten bytes */
    Gamification__V1__RewardRedeemed rr = GAMIFICATION__V1__REWARD_REDEEMED__INIT;
    rr.redemption_id = "r1";
    rr.reward_id = "dark-theme";
    rr.cost = 40;
    rr.coins_after = 0;
    Gamification__V1__RedemptionRejected rj = GAMIFICATION__V1__REDEMPTION_REJECTED__INIT;
    rj.redemption_id = "r2";
    rj.reward_id = "hoodie";
    rj.reason = GAMIFICATION__V1__REJECTION_REASON__INSUFFICIENT_COINS;

    Gamification__V1__OutboundEvent o[6];
    Gamification__V1__OutboundEvent *op[6];
    for (int i = 0; i < 6; i++) {
        gamification__v1__outbound_event__init(&o[i]);
        o[i].event_id = "e-1:x";
        o[i].user_id = "u1";
        o[i].cause_event_id = "e-1";
        o[i].occurred_at = &ts;
        op[i] = &o[i];
    }
    o[0].body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP;
    o[0].level_up = &lu;
    o[1].body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED;
    o[1].badge_earned = &be;
    o[2].body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED;
    o[2].streak_updated = &su;
    o[3].body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED;
    o[3].reward_redeemed = &rr;
    o[4].body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REDEMPTION_REJECTED;
    o[4].redemption_rejected = &rj;
    o[5].occurred_at = NULL; /* no body, no time: still an element */
    o[5].user_id = "";

    Gamify__Internal__BoardScore bs[3];
    Gamify__Internal__BoardScore *bp[3];
    const char *periods[3] = {"all", "2026-W48", "2026-11"};
    for (int i = 0; i < 3; i++) {
        gamify__internal__board_score__init(&bs[i]);
        bs[i].board = "global";
        bs[i].period = (char *)periods[i];
        bs[i].score = i == 2 ? -7 : 15 * i;
        bp[i] = &bs[i];
    }
    Gamify__Internal__Redemption red = GAMIFY__INTERNAL__REDEMPTION__INIT;
    red.redemption_id = "r2";
    red.reward_id = "hoodie";
    red.completed = false;
    red.reason = GAMIFICATION__V1__REJECTION_REASON__INSUFFICIENT_COINS;
    red.seq = 4;
    red.event_id = "e-1";
    red.occurred_at = 1795000000;
    red.user_id = "u1";

    Gamify__Internal__Change ch = GAMIFY__INTERNAL__CHANGE__INIT;
    same_change(&ch); /* empty */
    ch.seq = 0;
    ch.user_id = "u1";
    ch.event_id = "e-1";
    ch.occurred_at = 1795000000;
    ch.scores = bp;
    ch.n_scores = 3;
    ch.ledger_first = 0;
    ch.ledger_count = 2;
    same_change(&ch);
    ch.seq = 1LL << 35;
    ch.redemption = &red;
    ch.outbound = op;
    ch.n_outbound = 6;
    same_change(&ch);
    red.completed = true;
    red.reason = 0;
    red.cost = 90;
    ch.ledger_first = 99999;
    same_change(&ch);
}

Test(encode, declines_what_it_does_not_cover)
{
    Gamify__Internal__Change ch = GAMIFY__INTERNAL__CHANGE__INIT;
    char *names[1] = {"2026-W01"};
    ch.seq = 5;
    ch.pruned_periods = names;
    ch.n_pruned_periods = 1;
    cr_expect_eq(gm_encode_change_size(&ch), 0);
    ch.n_pruned_periods = 0;
    Gamify__Internal__UserState st = GAMIFY__INTERNAL__USER_STATE__INIT;
    ch.profile = &st;
    cr_expect_eq(gm_encode_change_size(&ch), 0);
}

Test(encode, arena_allocations_are_aligned_and_survive_until_reset)
{
    struct gm_arena a;
    gm_arena_init(&a, 256);
    char *p[64];
    for (int i = 0; i < 64; i++) {
        size_t n = (size_t)(i * 37 % 300) + 1; /* some over a chunk */
        p[i] = gm_arena_alloc(&a, n);
        cr_assert_eq((uintptr_t)p[i] % 16, 0);
        memset(p[i], i, n);
    }
    for (int i = 0; i < 64; i++)
        cr_expect_eq(p[i][0], (char)i);
    gm_arena_reset(&a);
    void *q = gm_arena_alloc(&a, 8);
    cr_expect_not_null(q);
    ProtobufCAllocator *pb = gm_arena_protobuf(&a);
    void *r = pb->alloc(pb->allocator_data, 100);
    pb->free(pb->allocator_data, r); /* nothing until the reset */
    gm_arena_deinit(&a);
}
