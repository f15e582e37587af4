/*
 * append_bad_records.c: appends records that must become dead letters to a
 * file log, for the processor's tests: garbage bytes, a truncated event, an
 * event whose body this version does not know, and an event with an id
 * over the 128-byte limit. Each is a well-framed log record, so only the
 * processor's decoding and validation can catch it.
 * usage: append_bad_records DIR
 */
#include "codec.h"
#include "filelog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: append_bad_records DIR\n");
        return 2;
    }
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = 1795600800; /* 2026-11-25T10:00:00Z */
    Gamification__V1__LessonCompleted lc = GAMIFICATION__V1__LESSON_COMPLETED__INIT;
    lc.lesson_id = "l-bad";
    Gamification__V1__Event ev = GAMIFICATION__V1__EVENT__INIT;
    ev.event_id = "bad-truncated";
    ev.user_id = "u-bad";
    ev.occurred_at = &ts;
    ev.body_case = GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED;
    ev.lesson_completed = &lc;

    uint8_t truncated[256], unknown[256], oversized[512];
    size_t n_trunc = gamification__v1__event__pack(&ev, truncated) - 3;

    /* the same envelope with field 99 (a body from the future) instead */
    ev.event_id = "bad-unknown-body";
    ev.body_case = GAMIFICATION__V1__EVENT__BODY__NOT_SET;
    size_t n_unknown = gamification__v1__event__pack(&ev, unknown);
    unknown[n_unknown++] = 0x9a; /* tag: field 99, length-delimited */
    unknown[n_unknown++] = 0x06;
    unknown[n_unknown++] = 0x00;

    char long_id[201];
    memset(long_id, 'x', 200);
    long_id[200] = '\0';
    ev.event_id = long_id;
    ev.body_case = GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED;
    size_t n_over = gamification__v1__event__pack(&ev, oversized);

    static const uint8_t garbage[] = "this is not a protobuf event \xff\xff\xff\xff";
    const void *recs[] = {garbage, truncated, unknown, oversized};
    size_t lens[] = {sizeof garbage - 1, n_trunc, n_unknown, n_over};

    struct gm_filelog *log;
    struct gm_err err;
    gm_err_clear(&err);
    if (gm_filelog_open(argv[1], NULL, &log, &err)) {
        fprintf(stderr, "append_bad_records: %s\n", err.msg);
        return 1;
    }
    int rc = gm_filelog_append(log, recs, lens, 4, NULL);
    gm_filelog_close(log);
    if (rc) {
        fprintf(stderr, "append_bad_records: %s\n", gm_strerror(rc));
        return 1;
    }
    return 0;
}
