/*
 * fuzz_event_decode.c: gm_event_decode on raw bytes, as they come off the
 * log. A rejected record must be a clear error (a code and a message, no
 * event); an accepted one must survive the JSON mapping: to JSON, back from
 * JSON, encoded again, and decoded again, since `gamify events` and the API
 * print what the processor accepted.
 */
#include "codec.h"
#include "fuzz.h"
#include "json.h"

#include <string.h>

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

    free(json3);
    gm_event_free(ev3);
    free(buf);
    gm_event_free(ev2);
    free(json);
    gm_event_free(ev);
    return 0;
}
