/*
 * test_keycmp.c: the state's key compare (processor/state/keycmp.c) orders
 * keys exactly as LMDB's default compare does (bytes unsigned, then the
 * shorter key first), on random keys of every length up to 40 with long
 * shared prefixes and bytes on both sides of 0x80, so that the trees it is
 * set on are stored as before.
 */
#include "state_int.h"

#include <criterion/criterion.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* LMDB's default (mdb_cmp_memn), written from its documented order. */
static int
reference(const MDB_val *a, const MDB_val *b)
{
    size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    int d = n ? memcmp(a->mv_data, b->mv_data, n) : 0;
    if (d)
        return d;
    return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

static int
sign(int v)
{
    return (v > 0) - (v < 0);
}

Test(keycmp, orders_as_lmdb_default)
{
    static const uint8_t alphabet[] = {0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xfe, 0xff};
    uint8_t x[40], y[40];
    for (int round = 0; round < 200000; round++) {
        size_t la = next() % 41, lb = next() % 41;
        for (size_t i = 0; i < la; i++)
            x[i] = alphabet[next() % 8];
        /* y shares a prefix of x of random length, then differs or not */
        size_t shared = next() % (la + 1);
        for (size_t i = 0; i < lb; i++)
            y[i] = i < shared ? x[i] : alphabet[next() % 8];
        MDB_val a = {la, x}, b = {lb, y};
        cr_assert_eq(sign(gm__keycmp(&a, &b)), sign(reference(&a, &b)), "round %d (%zu, %zu)",
                     round, la, lb);
        cr_assert_eq(sign(gm__keycmp(&b, &a)), sign(reference(&b, &a)), "round %d", round);
        cr_assert_eq(gm__keycmp(&a, &a), 0);
    }
}

/* The big-endian helpers of state_int.h (keys, times, counters): most
 * significant byte first, and back. */
Test(keycmp, be64_byte_order)
{
    uint8_t b[8];
    gm__put_be64(b, 0x0102030405060708ULL);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(b[i], i + 1);
    cr_assert_eq(gm__get_be64(b), 0x0102030405060708ULL);
    for (int round = 0; round < 1000; round++) {
        uint64_t v = next();
        gm__put_be64(b, v);
        cr_assert_eq(gm__get_be64(b), v);
        cr_assert_eq(b[0], (uint8_t)(v >> 56));
        cr_assert_eq(b[7], (uint8_t)v);
    }
}
