/*
 * test_json.c: the proto3 JSON mapping: the examples (examples/) round-trip
 * exactly, the mapping's accepted spellings work, and every kind of bad
 * input gives an error that names the field.
 */
#include "codec.h"
#include "helpers.h"
#include "json.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#define HEAD   "\"eventId\":\"e1\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-25T10:00:00Z\""
#define LESSON "\"lessonCompleted\":{\"lessonId\":\"l1\"}"

static int
parse(const char *js, Gamification__V1__Event **ev, struct gm_err *err)
{
    gm_err_clear(err);
    return gm_event_from_json(js, strlen(js), ev, err);
}

Test(json, examples_round_trip_byte_for_byte)
{
    char **lines;
    size_t n = test_read_lines(test_example_path("events.jsonl"), &lines);
    cr_assert_eq(n, 33);
    for (size_t i = 0; i < n; i++) {
        Gamification__V1__Event *ev;
        struct gm_err err;
        cr_assert_eq(parse(lines[i], &ev, &err), 0, "line %zu: %s", i + 1, err.msg);
        char *js = gm_event_to_json(ev);
        cr_assert_str_eq(js, lines[i], "line %zu", i + 1);
        json_t *a = json_loads(js, 0, NULL), *b = json_loads(lines[i], 0, NULL);
        cr_assert(json_equal(a, b));
        json_decref(a);
        json_decref(b);
        free(js);
        gm_event_free(ev);
    }
    test_free_lines(lines, n);
}

Test(json, example_values_are_read)
{
    char **lines;
    size_t n = test_read_lines(test_example_path("events.jsonl"), &lines);
    cr_assert_eq(n, 33);
    Gamification__V1__Event *ev;
    struct gm_err err;
    /* kenji's first duel: an envelope zone, two groups, an enum */
    cr_assert_eq(parse(lines[0], &ev, &err), 0);
    cr_assert_str_eq(ev->timezone, "Asia/Tokyo");
    cr_assert_eq(ev->n_group_ids, 2);
    cr_assert_str_eq(ev->group_ids[1], "duel-club");
    cr_assert_eq(ev->tournament_result->outcome,
                 GAMIFICATION__V1__TOURNAMENT_RESULT__OUTCOME__DRAW);
    cr_assert_eq(ev->tournament_result->rank, 4);
    cr_assert_eq(ev->occurred_at->seconds, 1794826800); /* 2026-11-16T11:00:00Z */
    gm_event_free(ev);
    cr_assert_eq(parse(lines[1], &ev, &err), 0);
    cr_assert_str_eq(ev->lesson_completed->course_id, "python-101");
    cr_assert_eq(ev->lesson_completed->score, 100);
    cr_assert_eq(ev->lesson_completed->duration_s, 420);
    gm_event_free(ev);
    cr_assert_eq(parse(lines[7], &ev, &err), 0);
    cr_assert_str_eq(ev->user_settings->timezone, "Europe/Paris");
    cr_assert(ev->user_settings->leaderboard_opt_out);
    gm_event_free(ev);
    cr_assert_eq(parse(lines[24], &ev, &err), 0);
    cr_assert_eq(ev->adjustment->exp->value, 40);
    cr_assert_eq(ev->adjustment->coins->value, 200);
    gm_event_free(ev);
    /* an adjustment of coins alone: its exp is absent, not 0 */
    cr_assert_eq(parse(lines[32], &ev, &err), 0);
    cr_assert_null(ev->adjustment->exp);
    cr_assert_eq(ev->adjustment->coins->value, -300);
    gm_event_free(ev);
    test_free_lines(lines, n);
}

Test(json, accepted_spellings)
{
    const char *ok[] = {
        /* proto field names as well as JSON names */
        "{\"event_id\":\"e1\",\"user_id\":\"u1\",\"occurred_at\":\"2026-11-25T10:00:00Z\","
        "\"lesson_completed\":{\"lesson_id\":\"l1\",\"duration_s\":3}}",
        /* int32 as a string, as an integral real, exponent */
        "{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":\"95\"}}",
        "{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":95.0}}",
        "{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":9.5e1}}",
        /* enum by number */
        "{" HEAD ",\"tournamentResult\":{\"tournamentId\":\"t\",\"outcome\":3}}",
        /* null means default */
        "{" HEAD ",\"source\":null,\"groupIds\":null," LESSON "}",
        /* offsets and fractions in timestamps */
        "{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":\"2026-11-25T11:00:00.25+01:"
        "00\"," LESSON "}",
        /* unicode escapes and multi-byte text */
        "{" HEAD ",\"source\":\"caf\\u00e9 \xe2\x82\xac\"," LESSON "}",
        /* whitespace */
        " {\n" HEAD " ,\t" LESSON " }\n",
        /* wrapper given as a string */
        "{" HEAD ",\"adjustment\":{\"coins\":\"-12\"}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        Gamification__V1__Event *ev = NULL;
        struct gm_err err;
        cr_expect_eq(parse(ok[i], &ev, &err), 0, "case %zu: %s", i, err.msg);
        gm_event_free(ev);
    }
}

Test(json, parsed_values_of_spellings)
{
    Gamification__V1__Event *ev;
    struct gm_err err;
    cr_assert_eq(parse("{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":"
                       "\"2026-11-25T11:00:00.25+01:00\"," LESSON "}",
                       &ev, &err),
                 0);
    cr_assert_eq(ev->occurred_at->seconds, 1795600800);
    cr_assert_eq(ev->occurred_at->nanos, 250000000);
    char *js = gm_event_to_json(ev);
    cr_assert(strstr(js, "\"occurredAt\":\"2026-11-25T10:00:00.250Z\""), "%s", js);
    free(js);
    gm_event_free(ev);
    cr_assert_eq(parse("{" HEAD ",\"adjustment\":{\"coins\":\"-12\"}}", &ev, &err), 0);
    cr_assert_null(ev->adjustment->exp);
    cr_assert_eq(ev->adjustment->coins->value, -12);
    gm_event_free(ev);
}

Test(json, defaults_are_omitted_on_output)
{
    Gamification__V1__Event *ev;
    struct gm_err err;
    cr_assert_eq(parse("{" HEAD ",\"source\":\"\",\"groupIds\":[],"
                       "\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":0}}",
                       &ev, &err),
                 0, "%s", err.msg);
    char *js = gm_event_to_json(ev);
    cr_assert_str_eq(js, "{" HEAD "," LESSON "}");
    free(js);
    gm_event_free(ev);
}

struct bad_case {
    const char *json;
    int code;
    const char *where; /* expected err.where, or NULL */
};

static const struct bad_case bad_cases[] = {
    /* not JSON at all */
    {"", GM_EJSON, NULL},
    {"{", GM_EJSON, NULL},
    {"{\"eventId\":}", GM_EJSON, NULL},
    {"{" HEAD "," LESSON "} trailing", GM_EJSON, NULL},
    {"{" HEAD "," LESSON "}{}", GM_EJSON, NULL},
    {"{'eventId':'e1'}", GM_EJSON, NULL},
    {"{\"eventId\":\"e1\",}", GM_EJSON, NULL},
    {"{\"eventId\":\"a\xff\"}", GM_EJSON, NULL},
    {"{\"eventId\":\"a\\u0000b\"}", GM_EJSON, NULL},
    {"{\"eventId\":\"\\ud800\"}", GM_EJSON, NULL},
    {"{\"eventId\":\"e1\",\"eventId\":\"e2\"}", GM_EJSON, NULL},
    {"{\"eventId\":NaN}", GM_EJSON, NULL},
    /* not an object */
    {"[]", GM_EINVAL, NULL},
    {"\"event\"", GM_EINVAL, NULL},
    {"42", GM_EINVAL, NULL},
    {"null", GM_EINVAL, NULL},
    /* unknown fields */
    {"{" HEAD ",\"colour\":\"red\"," LESSON "}", GM_EINVAL, "colour"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"grade\":\"A\"}}", GM_EINVAL,
     "lessonCompleted.grade"},
    {"{" HEAD ",\"EventId\":\"x\"," LESSON "}", GM_EINVAL, "EventId"},
    {"{" HEAD ",\"occurredAt\":\"2026-11-25T10:00:00Z\"," LESSON "}", GM_EJSON, NULL},
    /* wrong types */
    {"{\"eventId\":1,\"userId\":\"u1\",\"occurredAt\":\"2026-11-25T10:00:00Z\"," LESSON "}",
     GM_EINVAL, "eventId"},
    {"{\"eventId\":[\"e\"],\"userId\":\"u1\",\"occurredAt\":\"2026-11-25T10:00:00Z\"," LESSON "}",
     GM_EINVAL, "eventId"},
    {"{\"eventId\":{},\"userId\":\"u1\",\"occurredAt\":\"2026-11-25T10:00:00Z\"," LESSON "}",
     GM_EINVAL, "eventId"},
    {"{\"eventId\":true,\"userId\":\"u1\",\"occurredAt\":\"2026-11-25T10:00:00Z\"," LESSON "}",
     GM_EINVAL, "eventId"},
    {"{" HEAD ",\"groupIds\":\"class-7b\"," LESSON "}", GM_EINVAL, "groupIds"},
    {"{" HEAD ",\"groupIds\":[1]," LESSON "}", GM_EINVAL, "groupIds[0]"},
    {"{" HEAD ",\"groupIds\":[\"a\",null]," LESSON "}", GM_EINVAL, "groupIds[1]"},
    {"{" HEAD ",\"lessonCompleted\":[]}", GM_EINVAL, "lessonCompleted"},
    {"{" HEAD ",\"lessonCompleted\":\"l1\"}", GM_EINVAL, "lessonCompleted"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":\"abc\"}}", GM_EINVAL,
     "lessonCompleted.score"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":\"\"}}", GM_EINVAL,
     "lessonCompleted.score"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":\"-\"}}", GM_EINVAL,
     "lessonCompleted.score"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":\" 9\"}}", GM_EINVAL,
     "lessonCompleted.score"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":1.5}}", GM_EINVAL,
     "lessonCompleted.score"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":true}}", GM_EINVAL,
     "lessonCompleted.score"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":[95]}}", GM_EINVAL,
     "lessonCompleted.score"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":2147483648}}", GM_EINVAL,
     "lessonCompleted.score"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":-2147483649}}", GM_EINVAL,
     "lessonCompleted.score"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":1e300}}", GM_EINVAL,
     "lessonCompleted.score"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":\"99999999999999999999\"}}",
     GM_EINVAL, "lessonCompleted.score"},
    {"{" HEAD ",\"tournamentResult\":{\"tournamentId\":\"t\",\"outcome\":\"WON\"}}", GM_EINVAL,
     "tournamentResult.outcome"},
    {"{" HEAD ",\"tournamentResult\":{\"tournamentId\":\"t\",\"outcome\":\"win\"}}", GM_EINVAL,
     "tournamentResult.outcome"},
    {"{" HEAD ",\"tournamentResult\":{\"tournamentId\":\"t\",\"outcome\":1.0}}", GM_EINVAL,
     "tournamentResult.outcome"},
    {"{" HEAD ",\"tournamentResult\":{\"tournamentId\":\"t\",\"outcome\":{}}}", GM_EINVAL,
     "tournamentResult.outcome"},
    {"{" HEAD ",\"userSettings\":{\"leaderboardOptOut\":\"yes\"}}", GM_EINVAL,
     "userSettings.leaderboardOptOut"},
    {"{" HEAD ",\"userSettings\":{\"leaderboardOptOut\":1}}", GM_EINVAL,
     "userSettings.leaderboardOptOut"},
    {"{" HEAD ",\"adjustment\":{\"exp\":true}}", GM_EINVAL, "adjustment.exp"},
    {"{" HEAD ",\"adjustment\":{\"exp\":{\"value\":3}}}", GM_EINVAL, "adjustment.exp"},
    /* timestamps */
    {"{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":1764064800," LESSON "}", GM_EINVAL,
     "occurredAt"},
    {"{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":\"2026-11-25\"," LESSON "}", GM_EINVAL,
     "occurredAt"},
    {"{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":\"2026-02-30T00:00:00Z\"," LESSON "}",
     GM_EINVAL, "occurredAt"},
    {"{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":\"yesterday\"," LESSON "}", GM_EINVAL,
     "occurredAt"},
    {"{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":{\"seconds\":1}," LESSON "}", GM_EINVAL,
     "occurredAt"},
    /* oneof: two bodies */
    {"{" HEAD "," LESSON ",\"redeemReward\":{\"redemptionId\":\"r\",\"rewardId\":\"w\"}}",
     GM_EINVAL, "redeemReward"},
    /* valid JSON, invalid event (validation names proto fields) */
    {"{\"userId\":\"u1\",\"occurredAt\":\"2026-11-25T10:00:00Z\"," LESSON "}", GM_EINVAL,
     "event_id"},
    {"{\"eventId\":\"e1\",\"occurredAt\":\"2026-11-25T10:00:00Z\"," LESSON "}", GM_EINVAL,
     "user_id"},
    {"{\"eventId\":\"e1\",\"userId\":\"u1\"," LESSON "}", GM_EINVAL, "occurred_at"},
    {"{\"eventId\":\"e1\",\"userId\":\"u1\",\"occurredAt\":\"1999-12-31T23:59:59Z\"," LESSON "}",
     GM_EINVAL, "occurred_at"},
    {"{\"eventId\":\"e1\",\"userId\":\"u1\",\"occurredAt\":\"2200-01-01T00:00:00Z\"," LESSON "}",
     GM_EINVAL, "occurred_at"},
    {"{" HEAD "}", GM_EINVAL, "body"},
    {"{" HEAD ",\"lessonCompleted\":{}}", GM_EINVAL, "lesson_completed.lesson_id"},
    {"{" HEAD ",\"lessonCompleted\":null}", GM_EINVAL, "body"},
    {"{" HEAD ",\"tournamentResult\":{\"tournamentId\":\"t\"}}", GM_EINVAL,
     "tournament_result.outcome"},
    {"{" HEAD ",\"redeemReward\":{\"rewardId\":\"w\"}}", GM_EINVAL, "redeem_reward.redemption_id"},
    {"{" HEAD ",\"rulesPublished\":{}}", GM_EINVAL, "rules_published.rules_yaml"},
    {"{" HEAD ",\"adjustment\":{\"exp\":1000000001}}", GM_EINVAL, "adjustment.exp"},
    {"{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":-3}}", GM_EINVAL,
     "lesson_completed.score"},
};

Test(json, every_bad_input_names_its_problem)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        Gamification__V1__Event *ev = (void *)1;
        struct gm_err err;
        int rc = parse(c->json, &ev, &err);
        cr_expect_eq(rc, c->code, "case %zu (%s): got %d (%s)", i, c->json, rc, err.msg);
        cr_expect_null(ev, "case %zu", i);
        cr_expect_neq(err.msg[0], '\0', "case %zu has a message", i);
        if (c->where)
            cr_expect_str_eq(err.where, c->where, "case %zu: %s", i, err.msg);
        if (c->code == GM_EJSON)
            cr_expect_gt(err.line, 0, "case %zu has a line", i);
    }
}

Test(json, error_messages_name_the_field)
{
    Gamification__V1__Event *ev;
    struct gm_err err;
    cr_assert_eq(
        parse("{" HEAD ",\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":\"x\"}}", &ev, &err),
        GM_EINVAL);
    cr_assert(strstr(err.msg, "lessonCompleted.score"), "%s", err.msg);
    cr_assert_eq(parse("{" HEAD ",\"colour\":1," LESSON "}", &ev, &err), GM_EINVAL);
    cr_assert(strstr(err.msg, "colour") && strstr(err.msg, "unknown field"), "%s", err.msg);
    cr_assert_eq(parse("{\n  \"eventId\": \"e1\",\n  oops\n}", &ev, &err), GM_EJSON);
    cr_assert_eq(err.line, 3, "line of the syntax error");
}

Test(json, bounds)
{
    /* too long */
    size_t big = GM_JSON_MAX + 10;
    char *s = malloc(big + 1);
    memset(s, ' ', big);
    s[big] = '\0';
    s[0] = '{';
    s[big - 1] = '}';
    Gamification__V1__Event *ev;
    struct gm_err err;
    cr_assert_eq(gm_event_from_json(s, big, &ev, &err), GM_ETOOBIG);
    free(s);

    /* deep nesting is refused by the JSON parser without a crash */
    size_t depth = 100000;
    s = malloc(2 * depth + 64);
    size_t n = (size_t)sprintf(s, "{\"eventId\":");
    for (size_t i = 0; i < depth; i++)
        s[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        s[n++] = ']';
    s[n++] = '}';
    s[n] = '\0';
    cr_assert_neq(gm_event_from_json(s, n, &ev, &err), 0);
    free(s);

    /* repeated fields over the mapping's bound */
    s = malloc(16 * (GM_JSON_REPEATED_MAX + 2) + 256);
    n = (size_t)sprintf(s, "{" HEAD ",\"groupIds\":[");
    for (int i = 0; i <= GM_JSON_REPEATED_MAX; i++)
        n += (size_t)sprintf(s + n, "%s\"g%d\"", i ? "," : "", i);
    n += (size_t)sprintf(s + n, "]," LESSON "}");
    cr_assert_eq(gm_event_from_json(s, n, &ev, &err), GM_EINVAL);
    cr_assert_str_eq(err.where, "groupIds");
    free(s);

    /* 33 groups: within the mapping, over the contract */
    s = malloc(4096);
    n = (size_t)sprintf(s, "{" HEAD ",\"groupIds\":[");
    for (int i = 0; i <= GM_GROUPS_MAX; i++)
        n += (size_t)sprintf(s + n, "%s\"g%d\"", i ? "," : "", i);
    n += (size_t)sprintf(s + n, "]," LESSON "}");
    cr_assert_eq(gm_event_from_json(s, n, &ev, &err), GM_EINVAL);
    cr_assert_str_eq(err.where, "group_ids");
    free(s);
}

Test(json, generic_mapping_of_outbound_messages)
{
    ProtobufCMessage *m = NULL;
    struct gm_err err;
    const char *js = "{\"eventId\":\"o1\",\"userId\":\"u\",\"causeEventId\":\"e1\","
                     "\"redemptionRejected\":{\"redemptionId\":\"r\",\"rewardId\":\"w\","
                     "\"reason\":\"INSUFFICIENT_COINS\"}}";
    cr_assert_eq(
        gm_pb_from_json(&gamification__v1__outbound_event__descriptor, js, strlen(js), &m, &err), 0,
        "%s", err.msg);
    Gamification__V1__OutboundEvent *oev = (Gamification__V1__OutboundEvent *)m;
    cr_assert_eq(oev->redemption_rejected->reason,
                 GAMIFICATION__V1__REJECTION_REASON__INSUFFICIENT_COINS);
    char *out = gm_pb_to_json(m);
    cr_assert_str_eq(out, js);
    free(out);
    protobuf_c_message_free_unpacked(m, NULL);

    /* int64 accepts numbers and strings; writes strings */
    js = "{\"rewardRedeemed\":{\"cost\":500,\"coinsAfter\":\"9007199254740993\"}}";
    cr_assert_eq(
        gm_pb_from_json(&gamification__v1__outbound_event__descriptor, js, strlen(js), &m, &err), 0,
        "%s", err.msg);
    oev = (Gamification__V1__OutboundEvent *)m;
    cr_assert_eq(oev->reward_redeemed->coins_after, 9007199254740993LL);
    out = gm_pb_to_json(m);
    cr_assert_str_eq(out,
                     "{\"rewardRedeemed\":{\"cost\":500,\"coinsAfter\":\"9007199254740993\"}}");
    free(out);
    protobuf_c_message_free_unpacked(m, NULL);
}
