/*
 * test_codec.c: decode, validate and encode of the event contract, with
 * malformed input of every kind: garbage bytes, truncations, unknown
 * bodies and every field limit.
 */
#include "codec.h"
#include "helpers.h"
#include "json.h"

#include <criterion/criterion.h>
#include <string.h>

/* A valid lesson event to mutate; free with gm_event_free. */
static Gamification__V1__Event *
lesson_event(void)
{
    const char *js =
        "{\"eventId\":\"e1\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-25T10:00:00Z\","
        "\"lessonCompleted\":{\"lessonId\":\"l1\",\"courseId\":\"c1\",\"score\":95}}";
    Gamification__V1__Event *ev = NULL;
    struct gm_err err;
    cr_assert_eq(gm_event_from_json(js, strlen(js), &ev, &err), 0, "%s", err.msg);
    return ev;
}

static Gamification__V1__Event *
event_of(const char *js)
{
    Gamification__V1__Event *ev = NULL;
    struct gm_err err;
    cr_assert_eq(gm_event_from_json(js, strlen(js), &ev, &err), 0, "%s: %s", js, err.msg);
    return ev;
}

/* Replaces a string field, freeing the old value. */
static void
set_str(char **field, const char *value)
{
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = strdup(value);
}

static char *
repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void
expect_invalid(const Gamification__V1__Event *ev, const char *field)
{
    struct gm_err err;
    gm_err_clear(&err);
    cr_expect_eq(gm_event_validate(ev, &err), GM_EINVAL, "expected %s to be invalid", field);
    cr_expect_str_eq(err.where, field, "error names %s: %s", err.where, err.msg);
    uint8_t *buf = NULL;
    size_t len = 0;
    cr_expect_eq(gm_event_encode(ev, &buf, &len, &err), GM_EINVAL, "encode refuses %s", field);
    cr_expect_null(buf);
}

Test(codec, examples_round_trip_through_protobuf)
{
    char **lines;
    size_t n = test_read_lines(test_example_path("events.jsonl"), &lines);
    cr_assert_eq(n, 33);
    for (size_t i = 0; i < n; i++) {
        Gamification__V1__Event *ev = event_of(lines[i]);
        uint8_t *buf;
        size_t len;
        struct gm_err err;
        cr_assert_eq(gm_event_encode(ev, &buf, &len, &err), 0, "%s", err.msg);
        Gamification__V1__Event *back = NULL;
        cr_assert_eq(gm_event_decode(buf, len, &back, &err), 0, "line %zu: %s", i + 1, err.msg);
        char *js = gm_event_to_json(back);
        cr_assert_str_eq(js, lines[i], "line %zu", i + 1);
        free(js);
        free(buf);
        gm_event_free(back);
        gm_event_free(ev);
    }
    test_free_lines(lines, n);
}

Test(codec, body_names)
{
    Gamification__V1__Event *ev = lesson_event();
    cr_assert_str_eq(gm_event_body_name(ev), "lesson_completed");
    ev->body_case = GAMIFICATION__V1__EVENT__BODY__NOT_SET;
    cr_assert_str_eq(gm_event_body_name(ev), "none");
    ev->body_case = GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED;
    gm_event_free(ev);
}

Test(codec, garbage_bytes_are_decode_errors)
{
    const uint8_t samples[][8] = {
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* endless varint */
        {0x0a, 0x7f, 'a', 'b'},                           /* length past the end */
        {0x07},                                           /* wire type 7 */
        {0x0b, 0x01},                                     /* start group, never ended */
        {0x1a, 0x02, 0x08},                               /* truncated timestamp */
    };
    const size_t lens[] = {8, 4, 1, 2, 3};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        Gamification__V1__Event *ev = (void *)1;
        struct gm_err err;
        cr_expect_eq(gm_event_decode(samples[i], lens[i], &ev, &err), GM_EDECODE, "sample %zu", i);
        cr_expect_null(ev);
    }
}

Test(codec, empty_record_has_no_ids)
{
    Gamification__V1__Event *ev;
    struct gm_err err;
    cr_assert_eq(gm_event_decode((const uint8_t *)"", 0, &ev, &err), GM_EINVAL);
    cr_assert_str_eq(err.where, "event_id");
}

Test(codec, every_truncation_is_rejected)
{
    Gamification__V1__Event *ev = lesson_event();
    uint8_t *buf;
    size_t len;
    struct gm_err err;
    cr_assert_eq(gm_event_encode(ev, &buf, &len, &err), 0);
    for (size_t cut = 0; cut < len; cut++) {
        Gamification__V1__Event *back = NULL;
        int rc = gm_event_decode(buf, cut, &back, &err);
        cr_expect(rc == GM_EDECODE || rc == GM_EINVAL, "prefix of %zu bytes gave %d", cut, rc);
        cr_expect_null(back);
    }
    free(buf);
    gm_event_free(ev);
}

Test(codec, every_single_byte_flip_is_handled)
{
    Gamification__V1__Event *ev = lesson_event();
    uint8_t *buf;
    size_t len;
    struct gm_err err;
    cr_assert_eq(gm_event_encode(ev, &buf, &len, &err), 0);
    size_t accepted = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            Gamification__V1__Event *back = NULL;
            int rc = gm_event_decode(buf, len, &back, &err);
            if (rc == 0) {
                /* A flip inside a string can stay valid: then it must validate. */
                cr_expect_eq(gm_event_validate(back, &err), 0);
                accepted++;
            } else {
                cr_expect(rc == GM_EDECODE || rc == GM_EINVAL);
                cr_expect_null(back);
            }
            gm_event_free(back);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    cr_expect_lt(accepted, len * 8, "some flips must be rejected");
    free(buf);
    gm_event_free(ev);
}

Test(codec, oversized_record)
{
    size_t len = GM_EVENT_MAX + 1;
    uint8_t *buf = calloc(1, len);
    Gamification__V1__Event *ev;
    struct gm_err err;
    cr_assert_eq(gm_event_decode(buf, len, &ev, &err), GM_ETOOBIG);
    cr_assert(strstr(err.msg, "limit"));
    free(buf);
}

Test(codec, unknown_body_is_invalid)
{
    /* event_id "e", user_id "u", occurred_at {seconds 1764064800}, field 99 (len 0) */
    const uint8_t rec[] = {0x0a, 0x01, 'e',  0x12, 0x01, 'u',  0x1a, 0x06, 0x08,
                           0xa0, 0xfc, 0x95, 0xc9, 0x06, 0x9a, 0x06, 0x00};
    Gamification__V1__Event *ev = NULL;
    struct gm_err err;
    cr_assert_eq(gm_event_decode(rec, sizeof rec, &ev, &err), GM_EINVAL, "%s", err.msg);
    cr_assert_str_eq(err.where, "body");
    cr_assert_null(ev);
}

Test(codec, id_limits)
{
    Gamification__V1__Event *ev = lesson_event();
    char *s128 = repeat('a', 128), *s129 = repeat('a', 129);
    struct gm_err err;

    set_str(&ev->event_id, s128);
    cr_assert_eq(gm_event_validate(ev, &err), 0, "128 bytes is allowed");
    set_str(&ev->event_id, s129);
    expect_invalid(ev, "event_id");
    set_str(&ev->event_id, "");
    expect_invalid(ev, "event_id");
    set_str(&ev->event_id, "e1");

    set_str(&ev->user_id, "");
    expect_invalid(ev, "user_id");
    set_str(&ev->user_id, s129);
    expect_invalid(ev, "user_id");
    set_str(&ev->user_id, "u1");

    set_str(&ev->lesson_completed->lesson_id, "");
    expect_invalid(ev, "lesson_completed.lesson_id");
    set_str(&ev->lesson_completed->lesson_id, s129);
    expect_invalid(ev, "lesson_completed.lesson_id");
    set_str(&ev->lesson_completed->lesson_id, "l1");
    set_str(&ev->lesson_completed->course_id, s129);
    expect_invalid(ev, "lesson_completed.course_id");
    set_str(&ev->lesson_completed->course_id, "");
    cr_assert_eq(gm_event_validate(ev, &err), 0, "course_id is optional");

    free(s128);
    free(s129);
    gm_event_free(ev);
}

Test(codec, short_text_limits)
{
    Gamification__V1__Event *ev = lesson_event();
    char *s65 = repeat('x', 65);
    set_str(&ev->source, s65);
    expect_invalid(ev, "source");
    set_str(&ev->source, "learning");
    set_str(&ev->timezone, s65);
    expect_invalid(ev, "timezone");
    free(s65);
    gm_event_free(ev);
}

Test(codec, invalid_utf8_in_strings)
{
    const char *bad[] = {"\xff",    "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "\xe2\x82"};
    Gamification__V1__Event *ev = lesson_event();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        set_str(&ev->source, bad[i]);
        expect_invalid(ev, "source");
    }
    set_str(&ev->source, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x93");
    struct gm_err err;
    cr_assert_eq(gm_event_validate(ev, &err), 0, "valid multi-byte UTF-8: %s", err.msg);
    gm_event_free(ev);
}

Test(codec, timestamp_limits)
{
    Gamification__V1__Event *ev = lesson_event();
    struct gm_err err;
    ev->occurred_at->seconds = GM_TIME_MIN - 1;
    expect_invalid(ev, "occurred_at");
    ev->occurred_at->seconds = GM_TIME_MIN;
    cr_assert_eq(gm_event_validate(ev, &err), 0);
    ev->occurred_at->seconds = GM_TIME_MAX;
    expect_invalid(ev, "occurred_at");
    ev->occurred_at->seconds = 1764064800;
    ev->occurred_at->nanos = -1;
    expect_invalid(ev, "occurred_at");
    ev->occurred_at->nanos = 1000000000;
    expect_invalid(ev, "occurred_at");
    ev->occurred_at->nanos = 0;
    Google__Protobuf__Timestamp *ts = ev->occurred_at;
    ev->occurred_at = NULL;
    expect_invalid(ev, "occurred_at");
    ev->occurred_at = ts;
    gm_event_free(ev);
}

Test(codec, group_limits)
{
    Gamification__V1__Event *ev = lesson_event();
    struct gm_err err;
    ev->group_ids = calloc(GM_GROUPS_MAX + 1, sizeof(char *));
    for (size_t i = 0; i <= GM_GROUPS_MAX; i++)
        ev->group_ids[i] = strdup("g");
    ev->n_group_ids = GM_GROUPS_MAX;
    cr_assert_eq(gm_event_validate(ev, &err), 0, "%d groups allowed", GM_GROUPS_MAX);
    ev->n_group_ids = GM_GROUPS_MAX + 1;
    expect_invalid(ev, "group_ids");
    ev->n_group_ids = 2;
    set_str(&ev->group_ids[1], "");
    expect_invalid(ev, "group_ids[]");
    ev->n_group_ids = GM_GROUPS_MAX + 1;
    gm_event_free(ev);
}

Test(codec, lesson_number_limits)
{
    Gamification__V1__Event *ev = lesson_event();
    struct gm_err err;
    ev->lesson_completed->score = -1;
    expect_invalid(ev, "lesson_completed.score");
    ev->lesson_completed->score = 1001;
    expect_invalid(ev, "lesson_completed.score");
    ev->lesson_completed->score = 1000;
    cr_assert_eq(gm_event_validate(ev, &err), 0);
    ev->lesson_completed->duration_s = -5;
    expect_invalid(ev, "lesson_completed.duration_s");
    ev->lesson_completed->duration_s = 604801;
    expect_invalid(ev, "lesson_completed.duration_s");
    gm_event_free(ev);
}

Test(codec, tournament_limits)
{
    Gamification__V1__Event *ev =
        event_of("{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":\"2026-01-01T00:00:00Z\","
                 "\"tournamentResult\":{\"tournamentId\":\"t\",\"outcome\":\"DRAW\",\"rank\":2}}");
    ev->tournament_result->outcome =
        GAMIFICATION__V1__TOURNAMENT_RESULT__OUTCOME__OUTCOME_UNSPECIFIED;
    expect_invalid(ev, "tournament_result.outcome");
    ev->tournament_result->outcome = 7;
    expect_invalid(ev, "tournament_result.outcome");
    ev->tournament_result->outcome = GAMIFICATION__V1__TOURNAMENT_RESULT__OUTCOME__LOSS;
    ev->tournament_result->rank = -1;
    expect_invalid(ev, "tournament_result.rank");
    ev->tournament_result->rank = 1000001;
    expect_invalid(ev, "tournament_result.rank");
    ev->tournament_result->rank = 0;
    set_str(&ev->tournament_result->tournament_id, "");
    expect_invalid(ev, "tournament_result.tournament_id");
    gm_event_free(ev);
}

Test(codec, redeem_limits)
{
    Gamification__V1__Event *ev =
        event_of("{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":\"2026-01-01T00:00:00Z\","
                 "\"redeemReward\":{\"redemptionId\":\"r\",\"rewardId\":\"w\"}}");
    set_str(&ev->redeem_reward->redemption_id, "");
    expect_invalid(ev, "redeem_reward.redemption_id");
    set_str(&ev->redeem_reward->redemption_id, "r");
    set_str(&ev->redeem_reward->reward_id, "");
    expect_invalid(ev, "redeem_reward.reward_id");
    gm_event_free(ev);
}

Test(codec, rules_and_adjustment_limits)
{
    Gamification__V1__Event *ev =
        event_of("{\"eventId\":\"e\",\"userId\":\"admin\",\"occurredAt\":\"2026-01-01T00:00:00Z\","
                 "\"rulesPublished\":{\"rulesYaml\":\"version: 1\\n\"}}");
    set_str(&ev->rules_published->rules_yaml, "");
    expect_invalid(ev, "rules_published.rules_yaml");
    char *big = repeat('#', GM_RULES_MAX + 1);
    set_str(&ev->rules_published->rules_yaml, big);
    expect_invalid(ev, "rules_published.rules_yaml");
    free(big);
    set_str(&ev->rules_published->rules_yaml, "version: 1\n");
    char *long_comment = repeat('c', GM_TEXT_MAX + 1);
    set_str(&ev->rules_published->comment, long_comment);
    expect_invalid(ev, "rules_published.comment");
    gm_event_free(ev);

    ev = event_of("{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":\"2026-01-01T00:00:00Z\","
                  "\"adjustment\":{\"exp\":-5,\"coins\":10,\"reason\":\"fix\"}}");
    cr_assert_eq(ev->adjustment->exp->value, -5);
    ev->adjustment->exp->value = GM_AMOUNT_MAX + 1;
    expect_invalid(ev, "adjustment.exp");
    ev->adjustment->exp->value = 0;
    ev->adjustment->coins->value = -GM_AMOUNT_MAX - 1;
    expect_invalid(ev, "adjustment.coins");
    ev->adjustment->coins->value = 0;
    set_str(&ev->adjustment->reason, long_comment);
    expect_invalid(ev, "adjustment.reason");
    free(long_comment);
    gm_event_free(ev);
}

Test(codec, settings_timezone_limit)
{
    Gamification__V1__Event *ev =
        event_of("{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":\"2026-01-01T00:00:00Z\","
                 "\"userSettings\":{\"timezone\":\"Europe/Berlin\"}}");
    char *s65 = repeat('z', 65);
    set_str(&ev->user_settings->timezone, s65);
    expect_invalid(ev, "user_settings.timezone");
    free(s65);
    gm_event_free(ev);
}

Test(codec, outbound_encodes_and_decodes)
{
    Gamification__V1__OutboundEvent oev = GAMIFICATION__V1__OUTBOUND_EVENT__INIT;
    Gamification__V1__LevelUp lu = GAMIFICATION__V1__LEVEL_UP__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = 1764064800;
    oev.event_id = "e1:level:2";
    oev.user_id = "u1";
    oev.cause_event_id = "e1";
    oev.occurred_at = &ts;
    oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP;
    oev.level_up = &lu;
    lu.new_level = 2;
    lu.reward = 50;
    lu.exp = 120;
    uint8_t *buf;
    size_t len;
    cr_assert_eq(gm_outbound_encode(&oev, &buf, &len), 0);
    Gamification__V1__OutboundEvent *back =
        gamification__v1__outbound_event__unpack(NULL, len, buf);
    cr_assert_not_null(back);
    cr_assert_eq(back->level_up->new_level, 2);
    char *js = gm_pb_to_json(&back->base);
    cr_assert_str_eq(js, "{\"eventId\":\"e1:level:2\",\"userId\":\"u1\",\"occurredAt\":"
                         "\"2025-11-25T10:00:00Z\",\"causeEventId\":\"e1\",\"levelUp\":{"
                         "\"newLevel\":2,\"reward\":50,\"exp\":\"120\"}}");
    free(js);
    gamification__v1__outbound_event__free_unpacked(back, NULL);
    free(buf);
}
