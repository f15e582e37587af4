/*
 * trace.c: the latency stamps of trace.h (meson -Dtrace=true only): one
 * buffer, filled by an atomic index, written out at exit.
 */
#include "trace.h"

#if GM_TRACE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define STAMPS_MAX (1u << 20)

struct stamp {
    int64_t ns, a, b;
    const char *who, *what;
};

static struct stamp *stamps;
static atomic_uint_fast64_t n_stamps;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
dump(void)
{
    const char *path = getenv("GAMIFY_TRACE");
    if (!path)
        return;
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    uint64_t n = atomic_load(&n_stamps);
    if (n > STAMPS_MAX) {
        fprintf(f, "# dropped %llu\n", (unsigned long long)(n - STAMPS_MAX));
        n = STAMPS_MAX;
    }
    for (uint64_t i = 0; i < n; i++)
        fprintf(f, "%lld %s %s %lld %lld\n", (long long)stamps[i].ns, stamps[i].who, stamps[i].what,
                (long long)stamps[i].a, (long long)stamps[i].b);
    fclose(f);
}

static void
setup(void)
{
    stamps = calloc(STAMPS_MAX, sizeof *stamps);
    if (!stamps)
        abort();
    atexit(dump);
}

void
gm_trace(const char *who, const char *what, int64_t a, int64_t b)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_once(&once, setup);
    uint64_t i = atomic_fetch_add(&n_stamps, 1);
    if (i >= STAMPS_MAX)
        return;
    stamps[i] = (struct stamp){(int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, a, b, who, what};
}
#endif
