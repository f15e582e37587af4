/*
 * fuzz_event_json.c: gm_event_from_json on the bytes as text, as `gamify
 * produce` and the API read it. A rejected document must be a clear error;
 * an accepted event must encode, decode back, and print the same JSON as
 * before the protobuf round trip.
 */
#include "codec.h"
#include "fuzz.h"
#include "json.h"

#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Gamification__V1__Event *ev = NULL, *ev2 = NULL;
    char *json = NULL, *json2 = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct gm_err err;

    if (size > GM_FUZZ_INPUT_MAX)
        return 0;
    gm_err_clear(&err);
    int rc = gm_event_from_json((const char *)data, size, &ev, &err);
    if (rc) {
        GM_FUZZ_CHECK(rc < 0 && !ev, "a failed parse returns a negative code and no event");
        GM_FUZZ_CHECK(err.code == rc && err.msg[0], "a failed parse says why");
        return 0;
    }
    GM_FUZZ_CHECK(ev, "a parse that succeeds returns an event");

    json = gm_event_to_json(ev);
    GM_FUZZ_CHECK(json, "an accepted event maps to JSON");
    rc = gm_event_encode(ev, &buf, &len, &err);
    if (rc)
        fprintf(stderr, "encode(%s): %s\n", json, err.msg);
    GM_FUZZ_CHECK(rc == 0 && buf, "an accepted event encodes");
    rc = gm_event_decode(buf, len, &ev2, &err);
    if (rc)
        fprintf(stderr, "decode(encode(%s)): %s\n", json, err.msg);
    GM_FUZZ_CHECK(rc == 0 && ev2, "an encoded event decodes");
    json2 = gm_event_to_json(ev2);
    if (json2 && strcmp(json, json2) != 0)
        fprintf(stderr, "before: %s\nafter:  %s\n", json, json2);
    GM_FUZZ_CHECK(json2 && strcmp(json, json2) == 0, "the protobuf round trip keeps the event");

    free(json2);
    gm_event_free(ev2);
    free(buf);
    free(json);
    gm_event_free(ev);
    return 0;
}
