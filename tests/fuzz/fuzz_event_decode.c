/*
 * fuzz_event_decode.c: gm_event_decode on raw bytes, as they come off the
 * log. A rejected record must be a clear error (a code and a message, no
 * event); an accepted one must survive the JSON mapping: to JSON, back from
 * JSON, encoded again, and decoded again, since `gamify events` and the API
 * print what the processor accepted.
 *
 * Two more decodings must agree with an accepted record's, since protobuf
 * merges a message field given more than once (codec.c): the record with
 * each message field of the envelope (occurred_at, the body) split in two
 * parts, its first inner field then the rest, is the same event; and the
 * record followed by itself is the same event with group_ids twice.
 */
#include "codec.h"
#include "fuzz.h"
#include "json.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool
rd_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned i = 0; i < 10 && *p + i < end; i++) {
        r |= (uint64_t)((*p)[i] & 0x7f) << (7 * i);
        if (!((*p)[i] & 0x80)) {
            *p += i + 1;
            *v = r;
            return true;
        }
    }
    return false;
}

static size_t
put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* Where the field at p (before end) ends, or NULL when it is malformed. */
static const uint8_t *
skip_field(const uint8_t *p, const uint8_t *end, uint64_t *key, const uint8_t **payload)
{
    uint64_t v;
    if (!rd_varint(&p, end, key))
        return NULL;
    switch (*key & 7) {
    case 0:
        return rd_varint(&p, end, &v) ? p : NULL;
    case 1:
        return end - p >= 8 ? p + 8 : NULL;
    case 5:
        return end - p >= 4 ? p + 4 : NULL;
    case 2:
        if (!rd_varint(&p, end, &v) || v > (uint64_t)(end - p))
            return NULL;
        *payload = p;
        return p + v;
    default:
        return NULL;
    }
}

/*
 * Writes to out (room for 2 * size + 64) the record with every envelope
 * message field (occurred_at 3, the body 10..15) holding more than one
 * field split in two occurrences. Returns its length, or 0 when there was
 * nothing to split.
 */
static size_t
split_messages(const uint8_t *data, size_t size, uint8_t *out)
{
    const uint8_t *p = data, *end = data + size;
    size_t n = 0;
    bool split = false;
    while (p < end) {
        uint64_t key;
        const uint8_t *payload = NULL, *next = skip_field(p, end, &key, &payload);
        if (!next)
            return 0;
        uint64_t number = key >> 3;
        const uint8_t *cut = NULL;
        if (payload && (number == 3 || (number >= 10 && number <= 15))) {
            uint64_t k2;
            const uint8_t *pl2 = NULL;
            cut = skip_field(payload, next, &k2, &pl2);
            if (cut == next)
                cut = NULL; /* one field: nothing to split */
        }
        if (!cut) {
            memcpy(out + n, p, (size_t)(next - p));
            n += (size_t)(next - p);
        } else {
            n += put_varint(out + n, key);
            n += put_varint(out + n, (uint64_t)(cut - payload));
            memcpy(out + n, payload, (size_t)(cut - payload));
            n += (size_t)(cut - payload);
            n += put_varint(out + n, key);
            n += put_varint(out + n, (uint64_t)(next - cut));
            memcpy(out + n, cut, (size_t)(next - cut));
            n += (size_t)(next - cut);
            split = true;
        }
        p = next;
    }
    return split ? n : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Gamification__V1__Event *ev = NULL, *ev2 = NULL, *ev3 = NULL;
    char *json = NULL, *json3 = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct gm_err err;

    if (size > GM_FUZZ_INPUT_MAX)
        return 0;
    gm_err_clear(&err);
    int rc = gm_event_decode(data, size, &ev, &err);
    if (rc) {
        GM_FUZZ_CHECK(rc < 0 && !ev, "a failed decode returns a negative code and no event");
        GM_FUZZ_CHECK(err.code == rc && err.msg[0], "a failed decode says why");
        return 0;
    }
    GM_FUZZ_CHECK(ev, "a decode that succeeds returns an event");

    json = gm_event_to_json(ev);
    GM_FUZZ_CHECK(json, "an accepted event maps to JSON");
    gm_err_clear(&err);
    rc = gm_event_from_json(json, strlen(json), &ev2, &err);
    if (rc)
        fprintf(stderr, "from_json(%s): %s\n", json, err.msg);
    GM_FUZZ_CHECK(rc == 0 && ev2, "the JSON of an accepted event is accepted");
    rc = gm_event_encode(ev2, &buf, &len, &err);
    if (rc)
        fprintf(stderr, "encode(%s): %s\n", json, err.msg);
    GM_FUZZ_CHECK(rc == 0 && buf, "an event read from JSON encodes");
    rc = gm_event_decode(buf, len, &ev3, &err);
    if (rc)
        fprintf(stderr, "decode(encode(%s)): %s\n", json, err.msg);
    GM_FUZZ_CHECK(rc == 0 && ev3, "an encoded event decodes");
    json3 = gm_event_to_json(ev3);
    GM_FUZZ_CHECK(json3 && strcmp(json, json3) == 0, "the JSON round trip is stable");

    uint8_t *parts = malloc(2 * size + 64);
    GM_FUZZ_CHECK(parts, "memory");
    size_t parts_len = split_messages(data, size, parts);
    if (parts_len && parts_len <= GM_EVENT_MAX) {
        Gamification__V1__Event *evs = NULL;
        rc = gm_event_decode(parts, parts_len, &evs, &err);
        if (rc)
            fprintf(stderr, "decode(record in parts): %s\n", err.msg);
        GM_FUZZ_CHECK(rc == 0 && evs, "a record with its messages in parts is accepted");
        char *jsons = gm_event_to_json(evs);
        GM_FUZZ_CHECK(jsons && strcmp(json, jsons) == 0,
                      "a record with its messages in parts is the same event");
        free(jsons);
        gm_event_free(evs);
    }
    free(parts);

    if (2 * size <= GM_EVENT_MAX && 2 * ev->n_group_ids <= GM_GROUPS_MAX) {
        uint8_t *twice = malloc(2 * size + 1);
        Gamification__V1__Event *evd = NULL;
        GM_FUZZ_CHECK(twice, "memory");
        memcpy(twice, data, size);
        memcpy(twice + size, data, size);
        rc = gm_event_decode(twice, 2 * size, &evd, &err);
        if (rc)
            fprintf(stderr, "decode(record twice): %s\n", err.msg);
        GM_FUZZ_CHECK(rc == 0 && evd, "a record followed by itself is accepted");
        size_t n = ev->n_group_ids;
        GM_FUZZ_CHECK(evd->n_group_ids == 2 * n, "group_ids appear twice");
        for (size_t i = 0; i < n; i++)
            GM_FUZZ_CHECK(strcmp(evd->group_ids[i], ev->group_ids[i]) == 0 &&
                              strcmp(evd->group_ids[n + i], ev->group_ids[i]) == 0,
                          "group_ids appear twice, in order");
        evd->n_group_ids = n;
        char *jsond = gm_event_to_json(evd);
        evd->n_group_ids = 2 * n;
        GM_FUZZ_CHECK(jsond && strcmp(json, jsond) == 0,
                      "a record merged with itself is the same event");
        free(jsond);
        gm_event_free(evd);
        free(twice);
    }

    free(json3);
    gm_event_free(ev3);
    free(buf);
    gm_event_free(ev2);
    free(json);
    gm_event_free(ev);
    return 0;
}
