/*
 * test_usercodec.c: the hand codec of learner records
 * (processor/state/usercodec.c) reads and writes exactly what protobuf-c
 * does, on many generated records (every field kind: negative numbers,
 * bools, empty and set strings, badges, holdings, packed scores, the v1
 * scores of old states), and declines what it leaves to protobuf-c
 * (unknown fields, a singular field twice, non-ASCII strings, malformed
 * bytes).
 */
#include "state_int.h"
#include "usercodec.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 42;

static uint64_t
next(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 33;
}

static int64_t
num(void)
{
    switch (next() % 5) {
    case 0:
        return 0;
    case 1:
        return (int64_t)(next() % 100);
    case 2:
        return -(int64_t)(next() % 100000) - 1;
    case 3:
        return (int64_t)(next() << 31 | next());
    default:
        return INT64_MIN + (int64_t)(next() % 3);
    }
}

static char *
str(void)
{
    size_t n = next() % 4 == 0 ? 0 : next() % 40;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('!' + next() % 90);
    s[n] = '\0';
    return s;
}

static void
bytes(ProtobufCBinaryData *b)
{
    b->len = next() % 3 == 0 ? 0 : next() % 300;
    b->data = b->len ? malloc(b->len) : NULL;
    for (size_t i = 0; i < b->len; i++)
        b->data[i] = (uint8_t)next();
}

/* A generated record; free with free_unpacked. */
static Gamify__Internal__UserState *
gen(void)
{
    Gamify__Internal__UserState *st = malloc(sizeof *st);
    gamify__internal__user_state__init(st);
    int64_t *ints[] = {&st->exp,
                       &st->level,
                       &st->coins,
                       &st->coins_earned,
                       &st->coins_spent,
                       &st->lessons_completed,
                       &st->lesson_completions,
                       &st->tournaments_played,
                       &st->tournament_wins,
                       &st->tournament_losses,
                       &st->current_streak,
                       &st->longest_streak,
                       &st->freezes_held,
                       &st->last_active_day,
                       &st->cap_day,
                       &st->cap_exp,
                       &st->redemptions};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        *ints[i] = num();
    st->has_active_day = next() % 2;
    st->has_cap_day = next() % 2;
    st->opt_out = next() % 2;
    st->timezone = str();
    st->user_id = str();
    st->n_badges = next() % 5;
    st->badges = st->n_badges ? malloc(st->n_badges * sizeof *st->badges) : NULL;
    for (size_t i = 0; i < st->n_badges; i++) {
        Gamify__Internal__HeldBadge *b = malloc(sizeof *b);
        gamify__internal__held_badge__init(b);
        b->id = str();
        b->event_id = str();
        b->earned_at = num();
        st->badges[i] = b;
    }
    st->n_holdings = next() % 3;
    st->holdings = st->n_holdings ? malloc(st->n_holdings * sizeof *st->holdings) : NULL;
    for (size_t i = 0; i < st->n_holdings; i++) {
        Gamify__Internal__Holding *h = malloc(sizeof *h);
        gamify__internal__holding__init(h);
        h->reward_id = str();
        h->count = num();
        st->holdings[i] = h;
    }
    bytes(&st->scores_packed);
    if (next() % 5 == 0)
        bytes(&st->scores_packed_v1);
    return st;
}

Test(usercodec, writes_and_reads_what_protobuf_c_does)
{
    for (int round = 0; round < 2000; round++) {
        Gamify__Internal__UserState *st = gen();
        size_t want = gamify__internal__user_state__get_packed_size(st);
        uint8_t *a = malloc(want + 1), *b = malloc(want + 1);
        cr_assert_eq(gamify__internal__user_state__pack(st, a), want);
        size_t got = gm_user_encode_size(st);
        if (want == 0) {
            cr_assert_eq(got, 0); /* nothing set: protobuf-c packs it */
        } else {
            cr_assert_eq(got, want, "round %d: size %zu, protobuf-c %zu", round, got, want);
            cr_assert_eq(gm_user_encode(st, b), b + want);
            cr_assert_eq(memcmp(a, b, want), 0, "round %d: bytes differ", round);
        }
        /* decoded by hand, packed again by protobuf-c: the same bytes */
        Gamify__Internal__UserState *back = gm_user_decode(a, want);
        cr_assert_not_null(back, "round %d: not decoded", round);
        cr_assert_eq(gamify__internal__user_state__get_packed_size(back), want);
        cr_assert_eq(gamify__internal__user_state__pack(back, b), want);
        cr_assert_eq(memcmp(a, b, want), 0, "round %d: decoded record differs", round);
        cr_assert_eq(back->n_badges, st->n_badges);
        cr_assert_eq(back->scores_packed_v1.len, st->scores_packed_v1.len);
        gamify__internal__user_state__free_unpacked(back, NULL);
        gamify__internal__user_state__free_unpacked(st, NULL);
        free(a);
        free(b);
    }
}

/* gm_user_free frees what protobuf-c's free does, and nothing more (the
 * sanitizers of the unit build report a leak, a double or a bad free):
 * generated records, the same decoded by hand and by protobuf-c, a record
 * whose strings are the empty default, one with unknown fields in a badge,
 * and NULL. */
Test(usercodec, frees_what_protobuf_c_frees)
{
    for (int round = 0; round < 500; round++) {
        Gamify__Internal__UserState *st = gen();
        size_t n = gamify__internal__user_state__get_packed_size(st);
        uint8_t *a = malloc(n + 1);
        gamify__internal__user_state__pack(st, a);
        Gamify__Internal__UserState *hand = gm_user_decode(a, n);
        Gamify__Internal__UserState *pc = gamify__internal__user_state__unpack(NULL, n, a);
        cr_assert_not_null(hand);
        cr_assert_not_null(pc);
        gm_user_free(hand);
        gm_user_free(pc);
        gm_user_free(st);
        free(a);
    }
    Gamify__Internal__UserState *empty = malloc(sizeof *empty);
    gamify__internal__user_state__init(empty);
    gm_user_free(empty);
    gm_user_free(NULL);

    /* a badge with an unknown field (number 9, varint 5) */
    const uint8_t rec[] = {0xc2, 0x01, 3,          'a', 'n', 'n',    0xaa,
                           0x01, 5,    1 << 3 | 2, 1,   'b', 9 << 3, 5};
    Gamify__Internal__UserState *unk = gamify__internal__user_state__unpack(NULL, sizeof rec, rec);
    cr_assert_not_null(unk);
    cr_assert_eq(unk->n_badges, 1);
    cr_assert_eq(unk->badges[0]->base.n_unknown_fields, 1);
    gm_user_free(unk);
}

/* packs a small record with protobuf-c into buf; returns its length */
static size_t
small(uint8_t *buf, const char *zone)
{
    Gamify__Internal__UserState st = GAMIFY__INTERNAL__USER_STATE__INIT;
    st.exp = 7;
    st.user_id = "ann";
    st.timezone = (char *)zone;
    return gamify__internal__user_state__pack(&st, buf);
}

Test(usercodec, declines_what_it_leaves_to_protobuf_c)
{
    uint8_t buf[256];
    size_t n = small(buf, "Europe/Paris");
    Gamify__Internal__UserState *st = gm_user_decode(buf, n);
    cr_assert_not_null(st);
    cr_expect_eq(st->exp, 7);
    cr_expect_str_eq(st->user_id, "ann");
    cr_expect_str_eq(st->timezone, "Europe/Paris");
    gamify__internal__user_state__free_unpacked(st, NULL);

    /* an unknown field (number 30, varint): protobuf-c keeps it, we do not */
    uint8_t unk[260];
    memcpy(unk, buf, n);
    unk[n] = 30 << 3 | 0;
    unk[n + 1] = 0xf0;
    unk[n + 2] = 0x01;
    unk[n + 3] = 30 << 3 | 0;
    unk[n + 4] = 5;
    cr_expect_null(gm_user_decode(unk, n + 5));
    st = gamify__internal__user_state__unpack(NULL, n + 5, unk);
    cr_assert_not_null(st);
    cr_expect_eq(gm_user_encode_size(st), 0, "unknown fields are protobuf-c's to write");
    gamify__internal__user_state__free_unpacked(st, NULL);

    /* a singular field twice (protobuf-c: the last wins) */
    uint8_t twice[260];
    memcpy(twice, buf, n);
    twice[n] = 1 << 3 | 0;
    twice[n + 1] = 9;
    cr_expect_null(gm_user_decode(twice, n + 2));

    /* a zone not in ASCII */
    n = small(buf, "Zo\xc3\xa9");
    cr_expect_null(gm_user_decode(buf, n));

    /* malformed: truncated length, a length past the end, a wrong wire type,
     * a varint of eleven bytes */
    n = small(buf, "UTC");
    cr_expect_null(gm_user_decode(buf, n - 1));
    const uint8_t past[] = {24 << 3 | 2, 0x01, 50, 'a'};
    cr_expect_null(gm_user_decode(past, sizeof past));
    const uint8_t wire[] = {1 << 3 | 2, 1, 'x'};
    cr_expect_null(gm_user_decode(wire, sizeof wire));
    const uint8_t longv[] = {1 << 3 | 0, 0xff, 0xff, 0xff, 0xff, 0xff,
                             0xff,       0xff, 0xff, 0xff, 0xff, 0x01};
    cr_expect_null(gm_user_decode(longv, sizeof longv));
    /* a badge that does not decode */
    const uint8_t badge[] = {0xaa, 0x01, 3, 1 << 3 | 2, 5, 'a'};
    cr_expect_null(gm_user_decode(badge, sizeof badge));
    /* nothing at all is an empty record */
    st = gm_user_decode(buf, 0);
    cr_assert_not_null(st);
    cr_expect_eq(st->level, 0);
    gamify__internal__user_state__free_unpacked(st, NULL);
}

/* Pruning finds a stored record's packed scores without decoding it. */
Test(usercodec, finds_the_packed_scores_of_a_stored_record)
{
    for (int round = 0; round < 500; round++) {
        Gamify__Internal__UserState *st = gen();
        size_t len = gamify__internal__user_state__get_packed_size(st);
        uint8_t *a = malloc(len + 1);
        gamify__internal__user_state__pack(st, a);
        size_t key_at, at, n;
        bool found = gm_user_scores_span(a, len, &key_at, &at, &n);
        if (st->scores_packed_v1.len) {
            cr_expect_not(found, "round %d: v1 scores need the full decode", round);
        } else {
            cr_assert(found, "round %d", round);
            cr_assert_eq(n, st->scores_packed.len);
            cr_assert_eq(at + n, len, "the scores are the last field");
            if (n) {
                cr_assert_eq(memcmp(a + at, st->scores_packed.data, n), 0);
                uint8_t head[12];
                uint8_t *end = gm_user_put_scores(head, n);
                cr_assert_eq((size_t)(end - head), at - key_at);
                cr_assert_eq(memcmp(head, a + key_at, at - key_at), 0);
            } else {
                cr_assert_eq(at, len);
                cr_assert_eq(gm_user_put_scores(a, 0), a);
            }
        }
        gamify__internal__user_state__free_unpacked(st, NULL);
        free(a);
    }
    /* fields out of protobuf-c's order, an unknown one: not found */
    const uint8_t order[] = {2 << 3 | 0, 1, 1 << 3 | 0, 1};
    size_t key_at, at, n;
    cr_expect_not(gm_user_scores_span(order, sizeof order, &key_at, &at, &n));
    const uint8_t after[] = {0xda, 0x01, 1, 'x', 0xc2, 0x01, 1, 'u'}; /* 27 then 24 */
    cr_expect_not(gm_user_scores_span(after, sizeof after, &key_at, &at, &n));
    const uint8_t unknown[] = {1 << 3 | 0, 1, 30 << 3 | 0, 1};
    cr_expect_not(gm_user_scores_span(unknown, sizeof unknown, &key_at, &at, &n));
}

/* A leaderboard score at the int64 edge saturates (never wraps). */
Test(usercodec, scores_saturate_at_the_edge)
{
    Gamify__Internal__UserState st = GAMIFY__INTERNAL__USER_STATE__INIT;
    bool created;
    int64_t reached;
    size_t cap = 0;
    cr_assert_eq(
        gm__add_score(&st, &cap, "global", 6, "all", 3, INT64_MAX - 5, 100, &created, &reached),
        INT64_MAX - 5);
    cr_assert(created);
    cr_assert_eq(gm__add_score(&st, &cap, "global", 6, "all", 3, 10, 200, &created, &reached),
                 INT64_MAX);
    cr_assert_not(created);
    cr_assert_eq(reached, 200);
    cr_assert_eq(
        gm__add_score(&st, &cap, "c1", 2, "all", 3, INT64_MIN + 5, 100, &created, &reached),
        INT64_MIN + 5);
    cr_assert_eq(gm__add_score(&st, &cap, "c1", 2, "all", 3, -10, 200, &created, &reached),
                 INT64_MIN);
    /* both entries kept their own value */
    cr_assert_eq(gm__add_score(&st, &cap, "global", 6, "all", 3, 0, 300, &created, &reached),
                 INT64_MAX);
    free(st.scores_packed.data);
}

/* Names are compared a word at a time (gm__score_name_is): boards and
 * periods of every length to past 16 bytes, each differing from the others
 * only in its last byte or its length, are each their own entry. */
Test(usercodec, score_names_of_every_length_are_told_apart)
{
    Gamify__Internal__UserState st = GAMIFY__INTERNAL__USER_STATE__INIT;
    bool created;
    int64_t reached;
    size_t cap = 0;
    char name[24];
    for (int round = 0; round < 2; round++) {
        for (size_t len = 0; len <= 20; len++) {
            for (char last = 'a'; last <= 'b'; last++) {
                memset(name, 'x', sizeof name);
                if (len)
                    name[len - 1] = last;
                int64_t delta = (int64_t)(len * 2 + (size_t)(last - 'a') + 1);
                /* as a board, then as a period */
                cr_assert_eq(
                    gm__add_score(&st, &cap, name, len, "all", 3, delta, 100, &created, &reached),
                    delta * (round + 1), "board of %zu bytes, round %d", len, round);
                cr_assert_eq(created, round == 0 && (len > 0 || last == 'a'));
                cr_assert_eq(
                    gm__add_score(&st, &cap, "g", 1, name, len, delta, 100, &created, &reached),
                    delta * (round + 1), "period of %zu bytes, round %d", len, round);
                if (len == 0)
                    break; /* no last byte to vary */
            }
        }
    }
    free(st.scores_packed.data);
}
