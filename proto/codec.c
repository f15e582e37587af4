/*
 * codec.c: decode, validate and encode events. protobuf-c does the wire
 * format; this file adds the contract's limits on top.
 */
#include "codec.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
static bool
utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/*
 * Checks one string field: required ones must be non-empty; all must be at
 * most max bytes of valid UTF-8.
 */
static int
check_str(const char *s, const char *field, bool required, size_t max, struct gm_err *err)
{
    size_t len = s ? strlen(s) : 0;
    if (required && len == 0)
        return gm_err_where(err, field),
               gm_err_set(err, GM_EINVAL, "%s: required, must not be empty", field);
    if (len > max)
        return gm_err_where(err, field),
               gm_err_set(err, GM_EINVAL, "%s: %zu bytes, at most %zu allowed", field, len, max);
    if (!utf8_valid(s ? s : "", len))
        return gm_err_where(err, field), gm_err_set(err, GM_EINVAL, "%s: not valid UTF-8", field);
    return 0;
}

static int
check_range(int64_t v, int64_t lo, int64_t hi, const char *field, struct gm_err *err)
{
    if (v < lo || v > hi)
        return gm_err_where(err, field),
               gm_err_set(err, GM_EINVAL, "%s: %lld is outside %lld..%lld", field, (long long)v,
                          (long long)lo, (long long)hi);
    return 0;
}

static int
validate_body(const Gamification__V1__Event *ev, struct gm_err *err)
{
    int rc = 0;
    switch (ev->body_case) {
    case GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED: {
        const Gamification__V1__LessonCompleted *b = ev->lesson_completed;
        if ((rc = check_str(b->lesson_id, "lesson_completed.lesson_id", true, GM_ID_MAX, err)) ||
            (rc = check_str(b->course_id, "lesson_completed.course_id", false, GM_ID_MAX, err)) ||
            (rc = check_range(b->score, 0, 1000, "lesson_completed.score", err)) ||
            (rc = check_range(b->duration_s, 0, 604800, "lesson_completed.duration_s", err)))
            return rc;
        return 0;
    }
    case GAMIFICATION__V1__EVENT__BODY_TOURNAMENT_RESULT: {
        const Gamification__V1__TournamentResult *b = ev->tournament_result;
        if ((rc = check_str(b->tournament_id, "tournament_result.tournament_id", true, GM_ID_MAX,
                            err)) ||
            (rc = check_range(b->rank, 0, 1000000, "tournament_result.rank", err)))
            return rc;
        if (b->outcome != GAMIFICATION__V1__TOURNAMENT_RESULT__OUTCOME__WIN &&
            b->outcome != GAMIFICATION__V1__TOURNAMENT_RESULT__OUTCOME__DRAW &&
            b->outcome != GAMIFICATION__V1__TOURNAMENT_RESULT__OUTCOME__LOSS)
            return gm_err_where(err, "tournament_result.outcome"),
                   gm_err_set(err, GM_EINVAL,
                              "tournament_result.outcome: must be WIN, DRAW or LOSS, got %d",
                              (int)b->outcome);
        return 0;
    }
    case GAMIFICATION__V1__EVENT__BODY_REDEEM_REWARD: {
        const Gamification__V1__RedeemReward *b = ev->redeem_reward;
        if ((rc = check_str(b->redemption_id, "redeem_reward.redemption_id", true, GM_ID_MAX,
                            err)) ||
            (rc = check_str(b->reward_id, "redeem_reward.reward_id", true, GM_ID_MAX, err)))
            return rc;
        return 0;
    }
    case GAMIFICATION__V1__EVENT__BODY_RULES_PUBLISHED: {
        const Gamification__V1__RulesPublished *b = ev->rules_published;
        if ((rc =
                 check_str(b->rules_yaml, "rules_published.rules_yaml", true, GM_RULES_MAX, err)) ||
            (rc = check_str(b->comment, "rules_published.comment", false, GM_TEXT_MAX, err)))
            return rc;
        return 0;
    }
    case GAMIFICATION__V1__EVENT__BODY_USER_SETTINGS:
        return check_str(ev->user_settings->timezone, "user_settings.timezone", false, GM_SHORT_MAX,
                         err);
    case GAMIFICATION__V1__EVENT__BODY_ADJUSTMENT: {
        const Gamification__V1__Adjustment *b = ev->adjustment;
        if (b->exp &&
            (rc = check_range(b->exp->value, -GM_AMOUNT_MAX, GM_AMOUNT_MAX, "adjustment.exp", err)))
            return rc;
        if (b->coins && (rc = check_range(b->coins->value, -GM_AMOUNT_MAX, GM_AMOUNT_MAX,
                                          "adjustment.coins", err)))
            return rc;
        return check_str(b->reason, "adjustment.reason", false, GM_TEXT_MAX, err);
    }
    default:
        return gm_err_where(err, "body"),
               gm_err_set(err, GM_EINVAL,
                          "body: missing or unknown (expected one of lesson_completed, "
                          "tournament_result, redeem_reward, rules_published, user_settings, "
                          "adjustment)");
    }
}

int
gm_event_validate(const Gamification__V1__Event *ev, struct gm_err *err)
{
    int rc;
    if ((rc = check_str(ev->event_id, "event_id", true, GM_ID_MAX, err)) ||
        (rc = check_str(ev->user_id, "user_id", true, GM_ID_MAX, err)) ||
        (rc = check_str(ev->source, "source", false, GM_SHORT_MAX, err)) ||
        (rc = check_str(ev->timezone, "timezone", false, GM_SHORT_MAX, err)))
        return rc;
    if (!ev->occurred_at)
        return gm_err_where(err, "occurred_at"),
               gm_err_set(err, GM_EINVAL, "occurred_at: required");
    if (ev->occurred_at->seconds < GM_TIME_MIN || ev->occurred_at->seconds >= GM_TIME_MAX)
        return gm_err_where(err, "occurred_at"),
               gm_err_set(err, GM_EINVAL,
                          "occurred_at: %lld seconds is outside 2000-01-01 .. 2200-01-01",
                          (long long)ev->occurred_at->seconds);
    if (ev->occurred_at->nanos < 0 || ev->occurred_at->nanos > 999999999)
        return gm_err_where(err, "occurred_at"),
               gm_err_set(err, GM_EINVAL, "occurred_at: nanos %d is outside 0..999999999",
                          ev->occurred_at->nanos);
    if (ev->n_group_ids > GM_GROUPS_MAX)
        return gm_err_where(err, "group_ids"),
               gm_err_set(err, GM_EINVAL, "group_ids: %zu entries, at most %d allowed",
                          ev->n_group_ids, GM_GROUPS_MAX);
    for (size_t i = 0; i < ev->n_group_ids; i++) {
        if ((rc = check_str(ev->group_ids[i], "group_ids[]", true, GM_ID_MAX, err)))
            return rc;
    }
    return validate_body(ev, err);
}

int
gm_event_decode(const uint8_t *buf, size_t len, Gamification__V1__Event **out, struct gm_err *err)
{
    *out = NULL;
    if (len > GM_EVENT_MAX)
        return gm_err_set(err, GM_ETOOBIG, "record of %zu bytes exceeds the %d byte limit", len,
                          GM_EVENT_MAX);
    Gamification__V1__Event *ev = gamification__v1__event__unpack(NULL, len, buf);
    if (!ev)
        return gm_err_set(err, GM_EDECODE, "record of %zu bytes is not a valid protobuf Event",
                          len);
    int rc = gm_event_validate(ev, err);
    if (rc) {
        gm_event_free(ev);
        return rc;
    }
    *out = ev;
    return 0;
}

int
gm_event_encode(const Gamification__V1__Event *ev, uint8_t **out, size_t *len, struct gm_err *err)
{
    *out = NULL;
    *len = 0;
    int rc = gm_event_validate(ev, err);
    if (rc)
        return rc;
    size_t size = gamification__v1__event__get_packed_size(ev);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    size_t packed = gamification__v1__event__pack(ev, buf);
    if (packed != size) {
        free(buf);
        return gm_err_set(err, GM_EINVAL, "event packed to %zu bytes, expected %zu", packed, size);
    }
    *out = buf;
    *len = size;
    return 0;
}

void
gm_event_free(Gamification__V1__Event *ev)
{
    if (ev)
        gamification__v1__event__free_unpacked(ev, NULL);
}

const char *
gm_event_body_name(const Gamification__V1__Event *ev)
{
    const ProtobufCFieldDescriptor *f =
        ev->body_case ? protobuf_c_message_descriptor_get_field(
                            &gamification__v1__event__descriptor, (unsigned)ev->body_case)
                      : NULL;
    return f ? f->name : "none";
}

int
gm_outbound_encode(const Gamification__V1__OutboundEvent *oev, uint8_t **out, size_t *len)
{
    size_t size = gamification__v1__outbound_event__get_packed_size(oev);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    gamification__v1__outbound_event__pack(oev, buf);
    *out = buf;
    *len = size;
    return 0;
}
