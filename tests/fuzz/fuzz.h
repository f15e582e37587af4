/*
 * fuzz.h: what every fuzz target shares: the libFuzzer entry point (so that
 * -Wmissing-prototypes is happy and replay_main.c can call it), the input
 * bounds and an always-on check that reports a broken invariant and aborts,
 * which libFuzzer and the replay test both see as a crash.
 */
#ifndef GM_FUZZ_H
#define GM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Inputs above this are skipped where the API itself has no bound. */
#define GM_FUZZ_INPUT_MAX ((size_t)(1.2 * 1024 * 1024))

/* Called once per input, by libFuzzer or by replay_main.c. Borrows data. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the API under test; never compiled out. */
#define GM_FUZZ_CHECK(cond, what)                                                                  \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz invariant broken: %s (%s)\n", __FILE__, __LINE__, what,   \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
