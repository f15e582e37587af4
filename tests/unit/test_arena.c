/*
 * test_arena.c: the bump allocator (processor/state/arena.h), whose fast
 * path is inline: allocations are aligned to 16 and do not overlap, within
 * a chunk and across new chunks (a request bigger than a chunk gets its
 * own), and a reset hands the first chunk out again from its start.
 */
#include "arena.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

Test(arena, aligned_disjoint_and_reset)
{
    struct gm_arena a;
    gm_arena_init(&a, 256);
    unsigned char *prev[200];
    size_t sizes[200];
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 200; i++) {
            sizes[i] = i % 7 == 0 ? 1000 : (i * 13) % 50;
            prev[i] = gm_arena_alloc(&a, sizes[i]);
            cr_assert_eq((uintptr_t)prev[i] % 16, 0, "allocation %zu not aligned", i);
            memset(prev[i], (int)i, sizes[i]);
        }
        for (size_t i = 0; i < 200; i++)
            for (size_t k = 0; k < sizes[i]; k++)
                cr_assert_eq(prev[i][k], (unsigned char)i, "allocation %zu overwritten", i);
        unsigned char *first = prev[0];
        gm_arena_reset(&a);
        unsigned char *again = gm_arena_alloc(&a, 16);
        if (round == 1)
            cr_assert_not_null(again);
        (void)first;
    }
    gm_arena_deinit(&a);
}

Test(arena, reset_reuses_the_first_chunk)
{
    struct gm_arena a;
    gm_arena_init(&a, 4096);
    unsigned char *p = gm_arena_alloc(&a, 100);
    gm_arena_alloc(&a, 5000); /* its own chunk */
    gm_arena_alloc(&a, 100);
    gm_arena_reset(&a);
    cr_assert_eq(gm_arena_alloc(&a, 100), p);
    cr_assert_eq(gm_arena_alloc(&a, 16), p + 112);
    gm_arena_deinit(&a);
}
