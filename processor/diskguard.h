/*
 * diskguard.h: stopping writes to a state before its disk fills. A writer
 * that opens LMDB with MDB_WRITEMAP (gamify replay; gamify-processor with
 * --lmdb-writemap) is killed (SIGBUS) by a write to a new page of the map on
 * a full disk instead of failing a commit; one with its pages on the heap
 * (gamify-processor's default) fails the commit and stops. The guard checks
 * the free space under the state folder before each batch: below a floor,
 * gamify-processor pauses (it folds nothing, says so in the log, /metrics
 * and /readyz, and resumes by itself once space is back) and `gamify
 * replay` stops with an error; nothing committed is lost either way.
 */
#ifndef GM_DISKGUARD_H
#define GM_DISKGUARD_H

#include "err.h"

#include <stdbool.h>
#include <stdint.h>

struct gm_diskguard {
    const char *dir;   /* borrowed: the state folder */
    uint64_t min_free; /* bytes; 0: the guard is off */
    uint64_t free;     /* at the last check */
    bool low;          /* the last check found less than min_free */
    double next_warn;  /* while low: when to repeat the warning */
};

/* Sets g up for dir (kept, not copied) with a floor of min_free_mib MiB. */
void gm_diskguard_init(struct gm_diskguard *g, const char *dir, uint64_t min_free_mib);

/*
 * Checks the space free to this process under g->dir (statvfs: f_bavail).
 * Returns true while it is below the floor, logging a warning when it
 * falls below (and each minute while it stays) and a note when it is back.
 * A folder whose file system cannot be asked counts as not low. err (may be
 * NULL) gets the message an operator reads when it is low.
 */
bool gm_diskguard_low(struct gm_diskguard *g, struct gm_err *err);

#endif
