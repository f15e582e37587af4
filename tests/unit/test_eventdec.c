/*
 * test_eventdec.c: the plain-record decoder (proto/eventdec.c) builds the
 * event protobuf-c builds, on many generated records of every body, and
 * declines what is not plain (a field twice, two oneof members, an unknown
 * field, a string not in ASCII, a negative int32, a malformed record), so
 * that those keep the general path and its outcome.
 */
#include "codec.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 7;

static uint64_t
next(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 33;
}

static char *
str(size_t max)
{
    size_t n = next() % 4 == 0 ? 0 : next() % max;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(' ' + next() % 95);
    s[n] = '\0';
    return s;
}

static int32_t
small(void)
{
    return next() % 3 == 0 ? 0 : (int32_t)(next() % 2000000);
}

/* A generated event; free with free_unpacked. */
static Gamification__V1__Event *
gen(void)
{
    Gamification__V1__Event *ev = malloc(sizeof *ev);
    gamification__v1__event__init(ev);
    ev->event_id = str(20);
    ev->user_id = str(20);
    ev->source = str(8);
    ev->timezone = str(16);
    if (next() % 8) {
        ev->occurred_at = malloc(sizeof *ev->occurred_at);
        google__protobuf__timestamp__init(ev->occurred_at);
        ev->occurred_at->seconds = (int64_t)(next() << 20) - (next() % 2 ? 0 : INT64_C(1) << 40);
        ev->occurred_at->nanos = small();
    }
    ev->n_group_ids = next() % 4;
    ev->group_ids = ev->n_group_ids ? malloc(ev->n_group_ids * sizeof(char *)) : NULL;
    for (size_t i = 0; i < ev->n_group_ids; i++)
        ev->group_ids[i] = str(10);
    switch (next() % 7) {
    case 0: {
        Gamification__V1__LessonCompleted *b = malloc(sizeof *b);
        gamification__v1__lesson_completed__init(b);
        b->lesson_id = str(10);
        b->course_id = str(10);
        b->score = small();
        b->duration_s = small();
        ev->lesson_completed = b;
        ev->body_case = GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED;
        break;
    }
    case 1: {
        Gamification__V1__TournamentResult *b = malloc(sizeof *b);
        gamification__v1__tournament_result__init(b);
        b->tournament_id = str(10);
        b->outcome = (Gamification__V1__TournamentResult__Outcome)(next() % 4);
        b->rank = small();
        ev->tournament_result = b;
        ev->body_case = GAMIFICATION__V1__EVENT__BODY_TOURNAMENT_RESULT;
        break;
    }
    case 2: {
        Gamification__V1__RedeemReward *b = malloc(sizeof *b);
        gamification__v1__redeem_reward__init(b);
        b->redemption_id = str(10);
        b->reward_id = str(10);
        ev->redeem_reward = b;
        ev->body_case = GAMIFICATION__V1__EVENT__BODY_REDEEM_REWARD;
        break;
    }
    case 3: {
        Gamification__V1__RulesPublished *b = malloc(sizeof *b);
        gamification__v1__rules_published__init(b);
        b->rules_yaml = str(300);
        b->comment = str(10);
        ev->rules_published = b;
        ev->body_case = GAMIFICATION__V1__EVENT__BODY_RULES_PUBLISHED;
        break;
    }
    case 4: {
        Gamification__V1__UserSettings *b = malloc(sizeof *b);
        gamification__v1__user_settings__init(b);
        b->timezone = str(16);
        b->leaderboard_opt_out = next() % 2;
        ev->user_settings = b;
        ev->body_case = GAMIFICATION__V1__EVENT__BODY_USER_SETTINGS;
        break;
    }
    case 5: {
        Gamification__V1__Adjustment *b = malloc(sizeof *b);
        gamification__v1__adjustment__init(b);
        if (next() % 2) {
            b->exp = malloc(sizeof *b->exp);
            google__protobuf__int32_value__init(b->exp);
            b->exp->value = small();
        }
        if (next() % 2) {
            b->coins = malloc(sizeof *b->coins);
            google__protobuf__int32_value__init(b->coins);
            b->coins->value = small();
        }
        b->reason = str(10);
        ev->adjustment = b;
        ev->body_case = GAMIFICATION__V1__EVENT__BODY_ADJUSTMENT;
        break;
    }
    default:
        break; /* no body */
    }
    return ev;
}

static uint8_t *
pack(const Gamification__V1__Event *ev, size_t *len)
{
    *len = gamification__v1__event__get_packed_size(ev);
    uint8_t *p = malloc(*len + 1);
    cr_assert_eq(gamification__v1__event__pack(ev, p), *len);
    return p;
}

Test(eventdec, builds_what_protobuf_c_builds)
{
    for (int round = 0; round < 3000; round++) {
        Gamification__V1__Event *ev = gen();
        size_t len, len2;
        uint8_t *a = pack(ev, &len);
        Gamification__V1__Event *got = NULL;
        cr_assert_eq(gm__event_decode_plain(a, len, NULL, &got), 1, "round %d: declined", round);
        uint8_t *b = pack(got, &len2);
        cr_assert_eq(len2, len, "round %d", round);
        cr_assert_eq(memcmp(a, b, len), 0, "round %d: decoded event differs", round);
        cr_assert_eq(got->body_case, ev->body_case);
        cr_assert_eq(got->n_group_ids, ev->n_group_ids);
        cr_assert_eq(!got->occurred_at, !ev->occurred_at);
        gamification__v1__event__free_unpacked(got, NULL);
        gamification__v1__event__free_unpacked(ev, NULL);
        free(a);
        free(b);
    }
}

static void
declined(const uint8_t *rec, size_t len, const char *what)
{
    Gamification__V1__Event *got = (Gamification__V1__Event *)1;
    cr_expect_eq(gm__event_decode_plain(rec, len, NULL, &got), 0, "%s: not declined", what);
    cr_expect_null(got, "%s", what);
}

Test(eventdec, declines_what_is_not_plain)
{
    /* event_id "e", then event_id again (protobuf-c: the last wins) */
    const uint8_t twice[] = {0x0a, 1, 'e', 0x0a, 1, 'f'};
    declined(twice, sizeof twice, "a string twice");
    /* occurred_at twice (merged by the general path) */
    const uint8_t ts_twice[] = {0x1a, 2, 0x08, 5, 0x1a, 2, 0x10, 7};
    declined(ts_twice, sizeof ts_twice, "a message twice");
    /* two members of the oneof */
    const uint8_t two_bodies[] = {0x52, 0, 0x62, 0};
    declined(two_bodies, sizeof two_bodies, "two oneof members");
    /* an unknown field (number 9) */
    const uint8_t unknown[] = {0x0a, 1, 'e', 0x48, 1};
    declined(unknown, sizeof unknown, "an unknown field");
    /* a user id not in ASCII */
    const uint8_t utf8[] = {0x12, 2, 0xc3, 0xa9};
    declined(utf8, sizeof utf8, "a non-ASCII string");
    /* lesson score -1 (ten bytes) */
    const uint8_t neg[] = {0x52, 11,   0x18, 0xff, 0xff, 0xff, 0xff,
                           0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    declined(neg, sizeof neg, "a negative int32");
    /* a length past the end, a wrong wire type, field number 0, a broken
     * sub-message */
    const uint8_t past[] = {0x0a, 5, 'e'};
    declined(past, sizeof past, "a length past the end");
    const uint8_t wire[] = {0x08, 1};
    declined(wire, sizeof wire, "a string as a varint");
    const uint8_t zero[] = {0x00, 1};
    declined(zero, sizeof zero, "field number 0");
    const uint8_t sub[] = {0x1a, 2, 0x08, 0x80};
    declined(sub, sizeof sub, "a truncated timestamp");

    /* and the general path still decides them: the merge of occurred_at */
    Gamification__V1__Event *ev = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    const uint8_t merged[] = {0x0a, 1,    'e',  0x12, 1,    'u', 0x1a, 6, 0x08, 0x80,
                              0x9b, 0xad, 0xd9, 0x06, 0x1a, 2,   0x10, 7, 0x72, 0};
    cr_assert_eq(gm_event_decode(merged, sizeof merged, &ev, &err), 0, "%s", err.msg);
    cr_expect_eq(ev->occurred_at->seconds, 1798000000);
    cr_expect_eq(ev->occurred_at->nanos, 7);
    gamification__v1__event__free_unpacked(ev, NULL);
}

/* Repeated strings come in any order among the other fields: the one walk
 * holds them aside and builds the array protobuf-c builds. */
Test(eventdec, repeated_strings_between_other_fields)
{
    /* group "a", event_id "e", group "bc", user_id "u", group "" */
    const uint8_t rec[] = {0x32, 1, 'a', 0x0a, 1, 'e', 0x32, 2, 'b', 'c', 0x12, 1, 'u', 0x32, 0};
    Gamification__V1__Event *got = NULL;
    cr_assert_eq(gm__event_decode_plain(rec, sizeof rec, NULL, &got), 1);
    Gamification__V1__Event *want = gamification__v1__event__unpack(NULL, sizeof rec, rec);
    cr_assert_not_null(want);
    cr_assert_eq(got->n_group_ids, 3);
    cr_assert_eq(got->n_group_ids, want->n_group_ids);
    for (size_t i = 0; i < want->n_group_ids; i++)
        cr_assert_str_eq(got->group_ids[i], want->group_ids[i]);
    cr_assert_str_eq(got->event_id, "e");
    cr_assert_str_eq(got->user_id, "u");
    gamification__v1__event__free_unpacked(got, NULL);
    gamification__v1__event__free_unpacked(want, NULL);
}

/* A record declined late, after strings, held repeated strings and a
 * sub-message were built, gives all of them back (the sanitizer build
 * reports a leak otherwise); more repeated strings than the walk holds
 * aside are declined, and protobuf-c still reads them all. */
Test(eventdec, declined_late_frees_what_it_built)
{
    const uint8_t late[] = {0x0a, 1,    'e', 0x32, 1, 'g',  0x32, 1,    'h', 0x1a,
                            2,    0x08, 5,   0x52, 2, 0x0a, 0,    0x48, 1};
    declined(late, sizeof late, "an unknown field at the end");
    const uint8_t late_sub[] = {0x0a, 1, 'e', 0x32, 1, 'g', 0x52, 4, 0x0a, 1, 'l', 0x48, 1};
    declined(late_sub, sizeof late_sub, "an unknown field in the body");
    uint8_t many[3 * 40];
    for (size_t i = 0; i < 40; i++) {
        many[3 * i] = 0x32;
        many[3 * i + 1] = 1;
        many[3 * i + 2] = (uint8_t)('a' + i % 26);
    }
    declined(many, sizeof many, "40 repeated strings");
    Gamification__V1__Event *want = gamification__v1__event__unpack(NULL, sizeof many, many);
    cr_assert_not_null(want);
    cr_assert_eq(want->n_group_ids, 40);
    gamification__v1__event__free_unpacked(want, NULL);
}
