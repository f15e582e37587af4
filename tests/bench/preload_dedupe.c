/*
 * preload_dedupe.c: fills a state's dedupe store with N synthetic event ids
 * (for the fold benchmark's "10,000,000 ids already stored" run).
 * usage: preload_dedupe STATE_DIR N UNIX_SECONDS
 */
#include "bench.h"
#include "state.h"

#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: preload_dedupe STATE_DIR N UNIX_SECONDS\n");
        return 2;
    }
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_state *st;
    struct gm_state_opts opts = {.no_sync = true};
    if (gm_state_open(argv[1], &opts, &st, &err)) {
        fprintf(stderr, "preload_dedupe: %s\n", err.msg);
        return 1;
    }
    int rc =
        gm_state_preload_dedupe(st, strtoull(argv[2], NULL, 10), strtoll(argv[3], NULL, 10), &err);
    gm_state_close(st);
    if (rc) {
        fprintf(stderr, "preload_dedupe: %s\n", err.msg);
        return 1;
    }
    return 0;
}
