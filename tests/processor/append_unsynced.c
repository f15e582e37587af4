/*
 * append_unsynced.c: appends the events of a JSON-lines file to a file log
 * the way an appender that died between its write and its fdatasync leaves
 * them: written, not synced, and not under the durable mark (the test seam
 * GM_FSYNC_TEST_UNSYNCED), so readers must not see them until another
 * appender opens the log and syncs them. For the processor's tests.
 * usage: append_unsynced DIR FILE.jsonl
 */
#include "codec.h"
#include "filelog.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: append_unsynced DIR FILE.jsonl\n");
        return 2;
    }
    FILE *in = fopen(argv[2], "r");
    if (!in) {
        perror(argv[2]);
        return 2;
    }
    struct gm_filelog_opts opts = {.fsync = GM_FSYNC_TEST_UNSYNCED};
    struct gm_filelog *log = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_filelog_open(argv[1], &opts, &log, &err);
    if (rc)
        fprintf(stderr, "append_unsynced: %s\n", err.msg);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (rc == 0 && (n = getline(&line, &cap, in)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n == 0)
            continue;
        Gamification__V1__Event *ev = NULL;
        uint8_t *buf = NULL;
        size_t len = 0;
        rc = gm_event_from_json(line, (size_t)n, &ev, &err);
        if (rc == 0)
            rc = gm_event_encode(ev, &buf, &len, &err);
        gm_event_free(ev);
        if (rc) {
            fprintf(stderr, "append_unsynced: %s: %s\n", argv[2], err.msg);
            break;
        }
        const void *recs[1] = {buf};
        rc = gm_filelog_append(log, recs, &len, 1, NULL);
        if (rc)
            fprintf(stderr, "append_unsynced: %s\n", gm_filelog_errmsg(log));
        free(buf);
    }
    free(line);
    fclose(in);
    gm_filelog_close(log);
    return rc ? 1 : 0;
}
