/*
 * diskguard.c: the free-space floor of a state's disk. See diskguard.h.
 */
#include "diskguard.h"

#include "log.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
gm_diskguard_init(struct gm_diskguard *g, const char *dir, uint64_t min_free_mib)
{
    *g = (struct gm_diskguard){.dir = dir, .min_free = min_free_mib << 20};
}

bool
gm_diskguard_low(struct gm_diskguard *g, struct gm_err *err)
{
    if (!g->min_free)
        return false;
    struct statvfs sv;
    if (statvfs(g->dir, &sv)) {
        g->low = false;
        return false;
    }
    g->free = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    bool low = g->free < g->min_free;
    double now = mono_s();
    char msg[GM_ERR_MSG_MAX];
    if (low)
        snprintf(msg, sizeof msg,
                 "the disk of the state %s has %llu MiB free, less than --min-free-disk-mb %llu: "
                 "no batch is written until there is more (a write on a full disk would kill "
                 "the writer); free space or lower the floor",
                 g->dir, (unsigned long long)(g->free >> 20),
                 (unsigned long long)(g->min_free >> 20));
    if (low && (!g->low || now >= g->next_warn)) {
        gm_log(GM_LOG_WARN, "%s", msg);
        g->next_warn = now + 60.0;
    } else if (!low && g->low) {
        gm_log(GM_LOG_INFO, "the disk of the state %s has %llu MiB free again: writing resumes",
               g->dir, (unsigned long long)(g->free >> 20));
    }
    g->low = low;
    if (low && err)
        gm_err_set(err, GM_EIO, "%s", msg);
    return low;
}
