/*
 * test_codec.c: decode, validate and encode of the event contract, with
 * malformed input of every kind: garbage bytes, truncations, unknown
 * bodies and every field limit.
 */
#include "codec.h"
#include "helpers.h"
#include "json.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The same through the decoder: a record with a string that is not ASCII
 * leaves the plain decoder for the general path, which checks UTF-8 (the
 * check is skipped only for records the plain decoder took). */
Test(codec, decoded_records_check_utf8_of_their_strings)
{
    const char *bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80"};
    char **fields[4];
    for (size_t f = 0; f < 4; f++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            Gamification__V1__Event *ev = lesson_event();
            fields[0] = &ev->event_id;
            fields[1] = &ev->user_id;
            fields[2] = &ev->source;
            fields[3] = &ev->lesson_completed->lesson_id;
            set_str(fields[f], bad[i]);
            size_t len = gamification__v1__event__get_packed_size(ev);
            uint8_t *buf = malloc(len);
            gamification__v1__event__pack(ev, buf);
            Gamification__V1__Event *back = NULL;
            struct gm_err err;
            gm_err_clear(&err);
            cr_expect_eq(gm_event_decode(buf, len, &back, &err), GM_EINVAL, "field %zu, value %zu",
                         f, i);
            cr_expect(strstr(err.msg, "UTF-8"), "%s", err.msg);
            free(buf);
            gm_event_free(ev);
        }
    }
    /* multi-byte UTF-8 decodes, ASCII too */
    for (int k = 0; k < 2; k++) {
        Gamification__V1__Event *ev = lesson_event();
        set_str(&ev->source, k ? "caf\xc3\xa9 \xe2\x82\xac" : "plain");
        size_t len = gamification__v1__event__get_packed_size(ev);
        uint8_t *buf = malloc(len);
        gamification__v1__event__pack(ev, buf);
        Gamification__V1__Event *back = NULL;
        struct gm_err err;
        cr_assert_eq(gm_event_decode(buf, len, &back, &err), 0, "%s", err.msg);
        cr_assert_str_eq(back->source, ev->source);
        gm_event_free(back);
        free(buf);
        gm_event_free(ev);
    }
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

/*
 * Records built by hand on the wire, for what the encoder never writes: a
 * message field or a oneof member given in several parts. Protobuf merges
 * the parts (as if their payloads were concatenated); of a oneof, the last
 * member given wins.
 */
struct wire {
    uint8_t b[65536];
    size_t n;
};

static void
w_raw(struct wire *w, const void *p, size_t len)
{
    cr_assert_leq(w->n + len, sizeof w->b);
    memcpy(w->b + w->n, p, len);
    w->n += len;
}

static void
w_varint(struct wire *w, uint64_t v)
{
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            c |= 0x80;
        w_raw(w, &c, 1);
    } while (v);
}

/* field = varint v */
static void
w_int(struct wire *w, unsigned field, uint64_t v)
{
    w_varint(w, (uint64_t)field << 3);
    w_varint(w, v);
}

/* field = length-delimited p[0..len) (a string or a message) */
static void
w_len(struct wire *w, unsigned field, const void *p, size_t len)
{
    w_varint(w, (uint64_t)field << 3 | 2);
    w_varint(w, len);
    w_raw(w, p, len);
}

static void
w_str(struct wire *w, unsigned field, const char *s)
{
    w_len(w, field, s, strlen(s));
}

static void
w_msg(struct wire *w, unsigned field, const struct wire *sub)
{
    w_len(w, field, sub->b, sub->n);
}

/* A message of one varint field: Int32Value {value}, Timestamp {seconds}, ... */
static struct wire
w_one(unsigned field, uint64_t v)
{
    struct wire s = {.n = 0};
    w_int(&s, field, v);
    return s;
}

#define T0 1764064800 /* 2025-11-25T10:00:00Z */

/* event_id "e1", user_id "u1", occurred_at {seconds T0} */
static void
w_envelope(struct wire *w)
{
    w_str(w, 1, "e1");
    w_str(w, 2, "u1");
    struct wire ts = w_one(1, T0);
    w_msg(w, 3, &ts);
}

/* Adjustment {exp {value exp}} or {coins {value coins}}: field 1 or 2. */
static struct wire
w_adjustment(unsigned field, uint64_t value)
{
    struct wire wrapper = w_one(1, value), adj = {.n = 0};
    w_msg(&adj, field, &wrapper);
    return adj;
}

static Gamification__V1__Event *
decode_ok(const struct wire *w)
{
    Gamification__V1__Event *ev = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    cr_assert_eq(gm_event_decode(w->b, w->n, &ev, &err), 0, "%s", err.msg);
    return ev;
}

static void
decode_fails(const struct wire *w, int code, const char *needle)
{
    Gamification__V1__Event *ev = (void *)1;
    struct gm_err err;
    gm_err_clear(&err);
    cr_assert_eq(gm_event_decode(w->b, w->n, &ev, &err), code, "%s", err.msg);
    cr_assert_null(ev);
    cr_assert(strstr(err.msg, needle), "\"%s\" in: %s", needle, err.msg);
}

/* Issue 10 item 11: protobuf-c alone decodes this as exp absent, coins 100. */
Test(codec, adjustment_in_two_parts_merges)
{
    struct wire w = {.n = 0};
    w_envelope(&w);
    struct wire a1 = w_adjustment(1, 250), a2 = w_adjustment(2, 100);
    w_msg(&w, 15, &a1);
    w_msg(&w, 15, &a2);
    Gamification__V1__Event *ev = decode_ok(&w);
    cr_assert_eq(ev->body_case, GAMIFICATION__V1__EVENT__BODY_ADJUSTMENT);
    cr_assert_not_null(ev->adjustment->exp, "the first part's exp is kept");
    cr_assert_eq(ev->adjustment->exp->value, 250);
    cr_assert_not_null(ev->adjustment->coins);
    cr_assert_eq(ev->adjustment->coins->value, 100);
    char *js = gm_event_to_json(ev);
    cr_assert_str_eq(js, "{\"eventId\":\"e1\",\"userId\":\"u1\",\"occurredAt\":"
                         "\"2025-11-25T10:00:00Z\",\"adjustment\":{\"exp\":250,\"coins\":100}}");
    free(js);
    gm_event_free(ev);
}

Test(codec, later_scalars_win_and_nested_parts_merge)
{
    /* reason "a" then "b"; exp {value 7} then exp {} (merges: 7) then coins */
    struct wire w = {.n = 0}, p1 = w_adjustment(1, 7), p2 = {.n = 0}, p3 = w_adjustment(2, 3),
                empty = {.n = 0};
    w_str(&p1, 3, "a");
    w_msg(&p2, 1, &empty);
    w_str(&p2, 3, "b");
    w_envelope(&w);
    w_msg(&w, 15, &p1);
    w_msg(&w, 15, &p2);
    w_msg(&w, 15, &p3);
    Gamification__V1__Event *ev = decode_ok(&w);
    cr_assert_eq(ev->adjustment->exp->value, 7, "an empty later part changes nothing");
    cr_assert_eq(ev->adjustment->coins->value, 3);
    cr_assert_str_eq(ev->adjustment->reason, "b");
    gm_event_free(ev);

    /* a later explicit zero wins, even inside a wrapper (depth 3) */
    struct wire p4 = w_adjustment(1, 0);
    w_msg(&w, 15, &p4);
    ev = decode_ok(&w);
    cr_assert_not_null(ev->adjustment->exp);
    cr_assert_eq(ev->adjustment->exp->value, 0);
    cr_assert_eq(ev->adjustment->coins->value, 3);
    gm_event_free(ev);
}

Test(codec, occurred_at_in_two_parts_merges)
{
    struct wire w = {.n = 0}, sec = w_one(1, T0), nanos = w_one(2, 5), zero = w_one(2, 0);
    struct wire lesson = {.n = 0};
    w_str(&lesson, 1, "l1");
    w_str(&w, 1, "e1");
    w_str(&w, 2, "u1");
    w_msg(&w, 3, &sec);
    w_msg(&w, 10, &lesson);
    w_msg(&w, 3, &nanos); /* after the body: position does not matter */
    /* protobuf-c alone keeps the last part's seconds, 0: an INVALID record */
    Gamification__V1__Event *ev = decode_ok(&w);
    cr_assert_eq(ev->occurred_at->seconds, T0);
    cr_assert_eq(ev->occurred_at->nanos, 5);
    gm_event_free(ev);

    /* {nanos 0} after {nanos 5}: the explicit 0 wins */
    w_msg(&w, 3, &zero);
    ev = decode_ok(&w);
    cr_assert_eq(ev->occurred_at->seconds, T0);
    cr_assert_eq(ev->occurred_at->nanos, 0);
    gm_event_free(ev);

    /* only the nanos part: seconds 0 is out of range, so INVALID, not a default */
    struct wire only = {.n = 0};
    w_str(&only, 1, "e1");
    w_str(&only, 2, "u1");
    w_msg(&only, 3, &nanos);
    w_msg(&only, 10, &lesson);
    decode_fails(&only, GM_EINVAL, "occurred_at");
}

Test(codec, oneof_last_member_wins_and_same_member_merges)
{
    struct wire lesson_id = {.n = 0}, score = w_one(3, 95), adj = w_adjustment(2, 100);
    w_str(&lesson_id, 1, "l1");

    /* two lesson parts merge */
    struct wire w = {.n = 0};
    w_envelope(&w);
    w_msg(&w, 10, &lesson_id);
    w_msg(&w, 10, &score);
    Gamification__V1__Event *ev = decode_ok(&w);
    cr_assert_eq(ev->body_case, GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED);
    cr_assert_str_eq(ev->lesson_completed->lesson_id, "l1");
    cr_assert_eq(ev->lesson_completed->score, 95);
    gm_event_free(ev);

    /* a lesson then an adjustment: the adjustment alone */
    w_msg(&w, 15, &adj);
    ev = decode_ok(&w);
    cr_assert_eq(ev->body_case, GAMIFICATION__V1__EVENT__BODY_ADJUSTMENT);
    cr_assert_null(ev->adjustment->exp);
    cr_assert_eq(ev->adjustment->coins->value, 100);
    gm_event_free(ev);

    /* adjustment {exp 5}, lesson, adjustment {coins 100}: the lesson replaced the
     * first adjustment, so only the last part counts (exp absent) */
    struct wire x = {.n = 0}, exp5 = w_adjustment(1, 5);
    w_envelope(&x);
    w_msg(&x, 15, &exp5);
    w_msg(&x, 10, &lesson_id);
    w_msg(&x, 15, &adj);
    ev = decode_ok(&x);
    cr_assert_eq(ev->body_case, GAMIFICATION__V1__EVENT__BODY_ADJUSTMENT);
    cr_assert_null(ev->adjustment->exp, "the part before the lesson is gone");
    cr_assert_eq(ev->adjustment->coins->value, 100);
    gm_event_free(ev);

    /* adjustment, then the lesson in two parts: the merged lesson */
    struct wire y = {.n = 0};
    w_envelope(&y);
    w_msg(&y, 15, &adj);
    w_msg(&y, 10, &lesson_id);
    w_msg(&y, 10, &score);
    ev = decode_ok(&y);
    cr_assert_eq(ev->body_case, GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED);
    cr_assert_str_eq(ev->lesson_completed->lesson_id, "l1");
    cr_assert_eq(ev->lesson_completed->score, 95);
    gm_event_free(ev);
}

Test(codec, merge_keeps_repeated_fields_and_unknown_fields_in_order)
{
    struct wire w = {.n = 0}, lesson_id = {.n = 0}, course = {.n = 0};
    w_str(&lesson_id, 1, "l1");
    w_str(&lesson_id, 99, "future"); /* unknown inside a merged message */
    w_str(&course, 2, "c1");
    w_envelope(&w);
    w_str(&w, 6, "g1");
    w_msg(&w, 10, &lesson_id);
    w_str(&w, 6, "g2");
    w_msg(&w, 10, &course);
    w_str(&w, 6, "g1");
    Gamification__V1__Event *ev = decode_ok(&w);
    cr_assert_eq(ev->n_group_ids, 3);
    cr_assert_str_eq(ev->group_ids[0], "g1");
    cr_assert_str_eq(ev->group_ids[1], "g2");
    cr_assert_str_eq(ev->group_ids[2], "g1");
    cr_assert_str_eq(ev->lesson_completed->lesson_id, "l1");
    cr_assert_str_eq(ev->lesson_completed->course_id, "c1");
    cr_assert_eq(ev->lesson_completed->base.n_unknown_fields, 1);
    gm_event_free(ev);
}

Test(codec, many_parts_and_deep_unknown_nesting)
{
    /* 5000 lesson parts, each a new score: the last wins */
    struct wire *w = calloc(1, sizeof *w);
    struct wire lesson_id = {.n = 0};
    w_str(&lesson_id, 1, "l1");
    w_envelope(w);
    w_msg(w, 10, &lesson_id);
    for (unsigned i = 1; i <= 5000; i++) {
        struct wire s = w_one(3, i % 1000);
        w_msg(w, 10, &s);
    }
    Gamification__V1__Event *ev = decode_ok(w);
    cr_assert_str_eq(ev->lesson_completed->lesson_id, "l1");
    cr_assert_eq(ev->lesson_completed->score, 5000 % 1000);
    gm_event_free(ev);

    /* an unknown field 2000 levels deep inside a split adjustment: unknown
     * fields are kept as bytes, never descended into */
    struct wire *deep = calloc(1, sizeof *deep), *tmp = calloc(1, sizeof *tmp);
    for (int i = 0; i < 2000; i++) {
        tmp->n = 0;
        w_msg(tmp, 1, deep);
        *deep = *tmp;
    }
    struct wire *a1 = calloc(1, sizeof *a1);
    *a1 = w_adjustment(1, 250);
    w_msg(a1, 77, deep);
    struct wire a2 = w_adjustment(2, 100);
    w->n = 0;
    w_envelope(w);
    w_msg(w, 15, a1);
    w_msg(w, 15, &a2);
    ev = decode_ok(w);
    cr_assert_eq(ev->adjustment->exp->value, 250);
    cr_assert_eq(ev->adjustment->coins->value, 100);
    gm_event_free(ev);
    free(a1);
    free(tmp);
    free(deep);
    free(w);
}

Test(codec, malformed_parts_are_decode_errors_with_the_place)
{
    /* a repeated string whose length varint is cut off at the end */
    struct wire w = {.n = 0};
    w_envelope(&w);
    w_str(&w, 6, "g1");
    w_raw(&w, "\x32\x80", 2);
    decode_fails(&w, GM_EDECODE, "field 6: truncated or overlong length at byte 21");

    /* ... or longer than 5 bytes */
    w.n -= 2;
    w_raw(&w, "\x32\x80\x80\x80\x80\x80\x01", 7);
    decode_fails(&w, GM_EDECODE, "field 6: truncated or overlong length");

    /* a varint cut off at the end of its part, though the record goes on */
    struct wire bad = {.n = 0}, lesson_id = {.n = 0};
    w_raw(&bad, "\x18\xff", 2); /* score, never terminated inside the part */
    w_str(&lesson_id, 1, "l1");
    w.n = 0;
    w_envelope(&w);
    w_msg(&w, 10, &lesson_id);
    w_msg(&w, 10, &bad);
    w_str(&w, 4, "learning");
    decode_fails(&w, GM_EDECODE, "field 3: truncated or overlong varint");

    /* a message field sent as a varint */
    w.n = 0;
    w_str(&w, 1, "e1");
    w_str(&w, 2, "u1");
    w_int(&w, 3, T0);
    decode_fails(&w, GM_EDECODE, "field 3: a message field that is not length-delimited");

    /* field number 0 */
    w.n = 0;
    w_envelope(&w);
    w_raw(&w, "\x00\x01", 2);
    decode_fails(&w, GM_EDECODE, "field number 0");

    /* a group, even an unknown one */
    w.n = 0;
    w_envelope(&w);
    w_raw(&w, "\xa3\x06\xa4\x06", 4); /* start and end group 100 */
    decode_fails(&w, GM_EDECODE, "unsupported wire type");
}

/*
 * Google's reference decoder (protoc --decode, when installed) must print
 * the same message for a split record as for our decoding of it encoded
 * again. Skipped without protoc (Debian: protobuf-compiler).
 */
static char *
protoc_decode(const uint8_t *buf, size_t len)
{
    const char *root = getenv("GAMIFY_SOURCE_ROOT");
    char in[] = "/tmp/gm-codec-XXXXXX";
    int fd = mkstemp(in);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "protoc --decode=gamification.v1.Event -I '%s/proto' -I /usr/include "
             "gamification/v1/event.proto < %s 2>&1",
             root, in);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char *out = calloc(1, 65536);
    size_t n = fread(out, 1, 65535, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0, "protoc failed: %s", out);
    unlink(in);
    return out;
}

Test(codec, merges_agree_with_protoc)
{
    if (system("protoc --version >/dev/null 2>&1") != 0 || !getenv("GAMIFY_SOURCE_ROOT"))
        cr_skip_test("protoc is not installed");
    struct wire lesson_id = {.n = 0}, score = w_one(3, 95), a_exp = w_adjustment(1, 250),
                a_coins = w_adjustment(2, 100), a_zero = w_adjustment(1, 0), nanos = w_one(2, 5),
                nzero = w_one(2, 0);
    w_str(&lesson_id, 1, "l1");
    w_str(&lesson_id, 99, "future");
    struct wire cases[6];
    memset(cases, 0, sizeof cases);
    /* 0: adjustment in two parts, occurred_at in two parts */
    w_envelope(&cases[0]);
    w_msg(&cases[0], 15, &a_exp);
    w_msg(&cases[0], 3, &nanos);
    w_msg(&cases[0], 15, &a_coins);
    /* 1: a later explicit zero in a wrapper and in nanos */
    cases[1] = cases[0];
    w_msg(&cases[1], 15, &a_zero);
    w_msg(&cases[1], 3, &nzero);
    /* 2: lesson in two parts with groups between */
    w_envelope(&cases[2]);
    w_str(&cases[2], 6, "g1");
    w_msg(&cases[2], 10, &lesson_id);
    w_str(&cases[2], 6, "g2");
    w_msg(&cases[2], 10, &score);
    /* 3: lesson, then an adjustment */
    cases[3] = cases[2];
    w_msg(&cases[3], 15, &a_coins);
    /* 4: adjustment, lesson, adjustment */
    w_envelope(&cases[4]);
    w_msg(&cases[4], 15, &a_exp);
    w_msg(&cases[4], 10, &lesson_id);
    w_msg(&cases[4], 15, &a_coins);
    /* 5: adjustment, then the lesson in two parts */
    w_envelope(&cases[5]);
    w_msg(&cases[5], 15, &a_exp);
    w_msg(&cases[5], 10, &score);
    w_msg(&cases[5], 10, &lesson_id);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Gamification__V1__Event *ev = decode_ok(&cases[i]);
        uint8_t *buf;
        size_t len;
        struct gm_err err;
        cr_assert_eq(gm_event_encode(ev, &buf, &len, &err), 0, "case %zu: %s", i, err.msg);
        char *want = protoc_decode(cases[i].b, cases[i].n);
        char *got = protoc_decode(buf, len);
        cr_expect_str_eq(got, want, "case %zu", i);
        free(want);
        free(got);
        free(buf);
        gm_event_free(ev);
    }
}

Test(codec, empty_parts_still_set_the_body)
{
    struct wire w = {.n = 0}, empty = {.n = 0};
    w_envelope(&w);
    w_msg(&w, 15, &empty);
    w_msg(&w, 15, &empty);
    Gamification__V1__Event *ev = decode_ok(&w);
    cr_assert_eq(ev->body_case, GAMIFICATION__V1__EVENT__BODY_ADJUSTMENT);
    cr_assert_null(ev->adjustment->exp);
    cr_assert_null(ev->adjustment->coins);
    gm_event_free(ev);

    /* an empty lesson twice is a lesson without an id, not a missing body */
    w.n = 0;
    w_envelope(&w);
    w_msg(&w, 10, &empty);
    w_msg(&w, 10, &empty);
    decode_fails(&w, GM_EINVAL, "lesson_completed.lesson_id");
}

/* gm_err_clear leaves a set error empty (code, position, where and msg),
 * as the decoder expects before each event. */
Test(codec, err_clear_empties_a_set_error)
{
    struct gm_err err;
    memset(&err, 'x', sizeof err);
    gm_err_where(&err, "lesson_completed.lesson_id");
    gm_err_setpos(&err, GM_EINVAL, 3, 4, "bad %s", "thing");
    cr_assert_neq(err.code, 0);
    gm_err_clear(&err);
    cr_assert_eq(err.code, 0);
    cr_assert_eq(err.line, 0);
    cr_assert_eq(err.column, 0);
    cr_assert_str_eq(err.where, "");
    cr_assert_str_eq(err.msg, "");
    gm_err_clear(NULL);
}
