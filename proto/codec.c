/*
 * codec.c: decode, validate and encode events. protobuf-c does the wire
 * format; this file adds the contract's limits on top, and merges message
 * fields that occur more than once in a record before protobuf-c sees it
 * (protobuf-c 1.4 keeps only the last part of a oneof member; see below).
 */
#include "codec.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Message fields that occur more than once.
 *
 * In protobuf a singular message field that occurs several times in a
 * record is the merge of its occurrences, which is the same as parsing the
 * concatenation of their payloads (later scalars win, repeated fields
 * append, sub-messages merge). Of a oneof, the member that occurs last
 * wins, merged from its occurrences after the last one of another member.
 * protobuf-c 1.4 frees a oneof member when it meets it again, so an
 * Adjustment sent as {exp 250} then {coins 100} decoded as coins 100 alone;
 * other message fields it merges field by field, but a proto3 number of an
 * earlier part is lost (occurred_at as {seconds} then {nanos} had seconds
 * 0).
 *
 * So gm_event_decode first scans the record (wire_scan), following the
 * descriptors into every message payload. A record in which no singular
 * message field and no oneof occurs twice, at any depth, goes to protobuf-c
 * unchanged. Otherwise wire_rewrite builds an equivalent record in which
 * each such field occurs once, with the concatenation of its payloads
 * (itself rewritten), and the losing oneof members are gone; every other
 * field is copied in order. Merged fields move to the end of their
 * message, which changes nothing since each occurs once.
 *
 * Bounds: the rewrite is never longer than the input (one key and length
 * replace two or more; dropped fields shrink it), nesting follows the
 * descriptors and stops at WIRE_DEPTH_MAX, and each level holds buffers no
 * larger than its input: a few times GM_EVENT_MAX at most. The scan is as
 * strict as protobuf-c's (keys of at most 5 bytes, no groups, lengths
 * within their message) and also rejects field number 0 and numbers
 * beyond 2^29 - 1, and a message field that is not length-delimited.
 */

#define WIRE_DEPTH_MAX    16
#define WIRE_NUMBER_MAX   536870911u /* 2^29 - 1 */
#define WIRE_VARINT       0
#define WIRE_FIXED64      1
#define WIRE_LEN          2
#define WIRE_FIXED32      5
#define WIRE_SMALL_FIELDS 32

/* Where the record being decoded starts, for offsets in error messages. */
struct wire_ctx {
    const uint8_t *rec;
    size_t rec_len;
    struct gm_err *err;
};

struct wire_field {
    uint32_t number;
    unsigned type;
    const uint8_t *start; /* the key */
    const uint8_t *value; /* length-delimited: the payload (len bytes) */
    size_t len;
    const uint8_t *end; /* past the field */
};

/* A growing byte buffer; free .p with free(). */
struct wbuf {
    uint8_t *p;
    size_t n, cap;
};

static void
wbuf_put(struct wbuf *b, const void *src, size_t len)
{
    if (len == 0)
        return;
    if (b->cap - b->n < len) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap - b->n < len)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, len);
    b->n += len;
}

static void
wbuf_varint(struct wbuf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    wbuf_put(b, tmp, n);
}

/* Reads a varint of at most max bytes at *p; false when truncated or longer. */
static bool
wire_varint(const uint8_t **p, const uint8_t *end, unsigned max, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned i = 0; i < max && *p + i < end; i++) {
        r |= (uint64_t)((*p)[i] & 0x7f) << (7 * i);
        if (!((*p)[i] & 0x80)) {
            *p += i + 1;
            *v = r;
            return true;
        }
    }
    return false;
}

static int
wire_error(const struct wire_ctx *cx, const uint8_t *at, const char *what, uint32_t number)
{
    size_t off = at >= cx->rec && at <= cx->rec + cx->rec_len ? (size_t)(at - cx->rec) : 0;
    char field[32] = "";
    if (number)
        snprintf(field, sizeof field, "field %u: ", (unsigned)number);
    return gm_err_set(cx->err, GM_EDECODE,
                      "record of %zu bytes is not a valid protobuf Event: %s%s at byte %zu",
                      cx->rec_len, field, what, off);
}

/* Reads the field at *p (before end) into f and moves *p past it. */
static int
wire_next(const uint8_t **p, const uint8_t *end, const struct wire_ctx *cx, struct wire_field *f)
{
    uint64_t key, v;
    f->start = *p;
    if (!wire_varint(p, end, 5, &key))
        return wire_error(cx, f->start, "truncated or overlong field key", 0);
    f->type = (unsigned)(key & 7);
    if ((key >> 3) == 0 || (key >> 3) > WIRE_NUMBER_MAX)
        return wire_error(cx, f->start, "field number 0 or beyond 2^29-1", 0);
    f->number = (uint32_t)(key >> 3);
    f->value = *p;
    f->len = 0;
    switch (f->type) {
    case WIRE_VARINT:
        if (!wire_varint(p, end, 10, &v))
            return wire_error(cx, f->value, "truncated or overlong varint", f->number);
        break;
    case WIRE_FIXED64:
    case WIRE_FIXED32: {
        size_t n = f->type == WIRE_FIXED64 ? 8 : 4;
        if ((size_t)(end - *p) < n)
            return wire_error(cx, f->value, "truncated fixed-size value", f->number);
        *p += n;
        break;
    }
    case WIRE_LEN:
        if (!wire_varint(p, end, 5, &v))
            return wire_error(cx, f->value, "truncated or overlong length", f->number);
        if (v > (uint64_t)(end - *p))
            return wire_error(cx, f->value, "length runs past the end of its message", f->number);
        f->value = *p;
        f->len = (size_t)v;
        *p += v;
        break;
    default:
        return wire_error(cx, f->start, "unsupported wire type (a group or 6/7)", f->number);
    }
    f->end = *p;
    return 0;
}

static bool
is_message(const ProtobufCFieldDescriptor *fd)
{
    return fd->type == PROTOBUF_C_TYPE_MESSAGE;
}

static bool
in_oneof(const ProtobufCFieldDescriptor *fd)
{
    return (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
}

/* The slot counting occurrences of fd: its oneof's first member, or itself. */
static size_t
wire_slot(const ProtobufCMessageDescriptor *desc, const ProtobufCFieldDescriptor *fd)
{
    if (in_oneof(fd)) {
        for (size_t i = 0; i < desc->n_fields; i++) {
            if (in_oneof(&desc->fields[i]) &&
                desc->fields[i].quantifier_offset == fd->quantifier_offset)
                return i;
        }
    }
    return (size_t)(fd - desc->fields);
}

/*
 * Checks the message desc at [p, end) and every message inside it. Returns
 * 1 when some singular message field or oneof occurs twice (at any depth),
 * 0 when protobuf-c can take it as it is, or GM_EDECODE.
 */
static int
wire_scan(const ProtobufCMessageDescriptor *desc, const uint8_t *p, const uint8_t *end,
          unsigned depth, const struct wire_ctx *cx)
{
    if (depth > WIRE_DEPTH_MAX)
        return wire_error(cx, p, "messages nested too deep", 0);
    uint32_t small[WIRE_SMALL_FIELDS] = {0};
    uint32_t *seen = small;
    if (desc->n_fields > WIRE_SMALL_FIELDS) {
        seen = calloc(desc->n_fields, sizeof *seen);
        if (!seen)
            abort();
    }
    int needs = 0, rc = 0;
    while (p < end) {
        struct wire_field f;
        if ((rc = wire_next(&p, end, cx, &f)))
            goto out;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(desc, f.number);
        if (!fd)
            continue; /* unknown: protobuf-c keeps it as bytes */
        if (is_message(fd)) {
            if (f.type != WIRE_LEN) {
                rc = wire_error(cx, f.start, "a message field that is not length-delimited",
                                f.number);
                goto out;
            }
            rc = wire_scan(fd->descriptor, f.value, f.value + f.len, depth + 1, cx);
            if (rc < 0)
                goto out;
            needs |= rc;
        }
        if (fd->label != PROTOBUF_C_LABEL_REPEATED && (is_message(fd) || in_oneof(fd))) {
            if (++seen[wire_slot(desc, fd)] > 1)
                needs = 1;
        }
    }
    rc = needs;
out:
    if (seen != small)
        free(seen);
    return rc;
}

/* Per field of a message being rewritten. */
struct wire_merge {
    bool present;            /* singular message: some occurrence counts */
    struct wbuf parts;       /* ... and the concatenation of those payloads */
    long winner;             /* oneof slot: the member that occurs last, or -1 */
    const uint8_t *run_from; /* ... from where its occurrences count */
};

/*
 * Appends to out the message desc at [p, end), already checked by
 * wire_scan, with every singular message field and oneof occurring once.
 */
static int
wire_rewrite(const ProtobufCMessageDescriptor *desc, const uint8_t *p, const uint8_t *end,
             const struct wire_ctx *cx, struct wbuf *out)
{
    size_t n = desc->n_fields;
    struct wire_merge *m = calloc(n ? n : 1, sizeof *m);
    struct wbuf sub = {0};
    int rc = 0;
    if (!m)
        abort();
    for (size_t i = 0; i < n; i++)
        m[i].winner = -1;

    /* Which oneof member wins, and from which of its occurrences. */
    for (const uint8_t *q = p; q < end;) {
        struct wire_field f;
        if ((rc = wire_next(&q, end, cx, &f)))
            goto out;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(desc, f.number);
        if (fd && in_oneof(fd)) {
            struct wire_merge *s = &m[wire_slot(desc, fd)];
            if (s->winner != fd - desc->fields) {
                s->winner = fd - desc->fields;
                s->run_from = f.start;
            }
        }
    }

    /* Copy what stays in order; gather the payloads that merge. */
    for (const uint8_t *q = p; q < end;) {
        struct wire_field f;
        if ((rc = wire_next(&q, end, cx, &f)))
            goto out;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(desc, f.number);
        if (fd && in_oneof(fd)) {
            const struct wire_merge *s = &m[wire_slot(desc, fd)];
            if (s->winner != fd - desc->fields || f.start < s->run_from)
                continue; /* replaced by a later member */
        }
        if (!fd || !is_message(fd)) {
            wbuf_put(out, f.start, (size_t)(f.end - f.start));
        } else if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            sub.n = 0;
            if ((rc = wire_rewrite(fd->descriptor, f.value, f.value + f.len, cx, &sub)))
                goto out;
            wbuf_varint(out, (uint64_t)f.number << 3 | WIRE_LEN);
            wbuf_varint(out, sub.n);
            wbuf_put(out, sub.p, sub.n);
        } else {
            struct wire_merge *mf = &m[fd - desc->fields];
            mf->present = true;
            wbuf_put(&mf->parts, f.value, f.len);
        }
    }

    /* Each merged message field once, its concatenation rewritten in turn. */
    for (size_t i = 0; i < n; i++) {
        if (!m[i].present)
            continue;
        sub.n = 0;
        if (m[i].parts.n && (rc = wire_rewrite(desc->fields[i].descriptor, m[i].parts.p,
                                               m[i].parts.p + m[i].parts.n, cx, &sub)))
            goto out;
        wbuf_varint(out, (uint64_t)desc->fields[i].id << 3 | WIRE_LEN);
        wbuf_varint(out, sub.n);
        wbuf_put(out, sub.p, sub.n);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(m[i].parts.p);
    free(m);
    free(sub.p);
    return rc;
}

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

/* The error of a string field that check_str found wrong (out of line: a
 * rare path). */
static __attribute__((noinline, cold)) int
check_str_fail(bool ascii, const char *s, size_t len, const char *field, bool required, size_t max,
               struct gm_err *err)
{
    if (required && len == 0)
        return gm_err_where(err, field),
               gm_err_set(err, GM_EINVAL, "%s: required, must not be empty", field);
    if (len > max)
        return gm_err_where(err, field),
               gm_err_set(err, GM_EINVAL, "%s: %zu bytes, at most %zu allowed", field, len, max);
    if (!ascii && !utf8_valid(s ? s : "", len))
        return gm_err_where(err, field), gm_err_set(err, GM_EINVAL, "%s: not valid UTF-8", field);
    return 0;
}

/*
 * Checks one string field: required ones must be non-empty; all must be at
 * most max bytes of valid UTF-8 (known already when ascii: the plain
 * decoder takes ASCII strings only). Inline: it runs for every string of
 * every event.
 */
static inline int
check_str(bool ascii, const char *s, const char *field, bool required, size_t max,
          struct gm_err *err)
{
    size_t len = s ? strlen(s) : 0;
    if ((required && len == 0) || len > max || (!ascii && !utf8_valid(s ? s : "", len)))
        return check_str_fail(ascii, s, len, field, required, max, err);
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
validate_body(const Gamification__V1__Event *ev, bool ascii, struct gm_err *err)
{
    int rc = 0;
    switch (ev->body_case) {
    case GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED: {
        const Gamification__V1__LessonCompleted *b = ev->lesson_completed;
        if ((rc = check_str(ascii, b->lesson_id, "lesson_completed.lesson_id", true, GM_ID_MAX,
                            err)) ||
            (rc = check_str(ascii, b->course_id, "lesson_completed.course_id", false, GM_ID_MAX,
                            err)) ||
            (rc = check_range(b->score, 0, 1000, "lesson_completed.score", err)) ||
            (rc = check_range(b->duration_s, 0, 604800, "lesson_completed.duration_s", err)))
            return rc;
        return 0;
    }
    case GAMIFICATION__V1__EVENT__BODY_TOURNAMENT_RESULT: {
        const Gamification__V1__TournamentResult *b = ev->tournament_result;
        if ((rc = check_str(ascii, b->tournament_id, "tournament_result.tournament_id", true,
                            GM_ID_MAX, err)) ||
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
        if ((rc = check_str(ascii, b->redemption_id, "redeem_reward.redemption_id", true, GM_ID_MAX,
                            err)) ||
            (rc = check_str(ascii, b->reward_id, "redeem_reward.reward_id", true, GM_ID_MAX, err)))
            return rc;
        return 0;
    }
    case GAMIFICATION__V1__EVENT__BODY_RULES_PUBLISHED: {
        const Gamification__V1__RulesPublished *b = ev->rules_published;
        if ((rc = check_str(ascii, b->rules_yaml, "rules_published.rules_yaml", true, GM_RULES_MAX,
                            err)) ||
            (rc = check_str(ascii, b->comment, "rules_published.comment", false, GM_TEXT_MAX, err)))
            return rc;
        return 0;
    }
    case GAMIFICATION__V1__EVENT__BODY_USER_SETTINGS:
        return check_str(ascii, ev->user_settings->timezone, "user_settings.timezone", false,
                         GM_SHORT_MAX, err);
    case GAMIFICATION__V1__EVENT__BODY_ADJUSTMENT: {
        const Gamification__V1__Adjustment *b = ev->adjustment;
        if (b->exp &&
            (rc = check_range(b->exp->value, -GM_AMOUNT_MAX, GM_AMOUNT_MAX, "adjustment.exp", err)))
            return rc;
        if (b->coins && (rc = check_range(b->coins->value, -GM_AMOUNT_MAX, GM_AMOUNT_MAX,
                                          "adjustment.coins", err)))
            return rc;
        return check_str(ascii, b->reason, "adjustment.reason", false, GM_TEXT_MAX, err);
    }
    default:
        return gm_err_where(err, "body"),
               gm_err_set(err, GM_EINVAL,
                          "body: missing or unknown (expected one of lesson_completed, "
                          "tournament_result, redeem_reward, rules_published, user_settings, "
                          "adjustment)");
    }
}

/* gm_event_validate; ascii: every string is known to be ASCII. */
static int
validate(const Gamification__V1__Event *ev, bool ascii, struct gm_err *err)
{
    int rc;
    if ((rc = check_str(ascii, ev->event_id, "event_id", true, GM_ID_MAX, err)) ||
        (rc = check_str(ascii, ev->user_id, "user_id", true, GM_ID_MAX, err)) ||
        (rc = check_str(ascii, ev->source, "source", false, GM_SHORT_MAX, err)) ||
        (rc = check_str(ascii, ev->timezone, "timezone", false, GM_SHORT_MAX, err)))
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
        if ((rc = check_str(ascii, ev->group_ids[i], "group_ids[]", true, GM_ID_MAX, err)))
            return rc;
    }
    return validate_body(ev, ascii, err);
}

int
gm_event_validate(const Gamification__V1__Event *ev, struct gm_err *err)
{
    return validate(ev, false, err);
}

int
gm_event_decode(const uint8_t *buf, size_t len, Gamification__V1__Event **out, struct gm_err *err)
{
    return gm_event_decode_in(buf, len, NULL, out, err);
}

int
gm_event_decode_in(const uint8_t *buf, size_t len, ProtobufCAllocator *alloc,
                   Gamification__V1__Event **out, struct gm_err *err)
{
    *out = NULL;
    if (len > GM_EVENT_MAX)
        return gm_err_set(err, GM_ETOOBIG, "record of %zu bytes exceeds the %d byte limit", len,
                          GM_EVENT_MAX);
    Gamification__V1__Event *ev;
    int rc;
    /* a plain record (eventdec.c) skips the scan and protobuf-c, and its
     * strings need no UTF-8 check: it takes ASCII ones only */
    bool ascii = gm__event_decode_plain(buf, len, alloc, &ev);
    if (ascii)
        goto validate;
    struct wire_ctx cx = {.rec = buf, .rec_len = len, .err = err};
    struct wbuf merged = {0};
    const ProtobufCMessageDescriptor *desc = &gamification__v1__event__descriptor;
    rc = len ? wire_scan(desc, buf, buf + len, 0, &cx) : 0;
    bool rewritten = rc > 0;
    if (rewritten)
        rc = wire_rewrite(desc, buf, buf + len, &cx, &merged);
    if (rc < 0) {
        free(merged.p);
        return rc;
    }
    /* protobuf-c copies what it keeps, so the rewrite can go at once */
    ev = rewritten ? gamification__v1__event__unpack(alloc, merged.n, merged.p)
                   : gamification__v1__event__unpack(alloc, len, buf);
    free(merged.p);
    if (!ev)
        return gm_err_set(err, GM_EDECODE, "record of %zu bytes is not a valid protobuf Event",
                          len);
validate:
    rc = validate(ev, ascii, err);
    if (rc) {
        gamification__v1__event__free_unpacked(ev, alloc);
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
