/*
 * keycmp.c: the key order of the state's databases, as a compare function
 * of our own. It gives exactly LMDB's default order (bytes compared as
 * unsigned, then the shorter key first: mdb_cmp_memn), so the stored
 * trees, mdb_dump and any program that opens the state with the default
 * compare see the same thing; it only does it without a memcmp call per
 * comparison, eight bytes at a time. LMDB compares keys tens of times per
 * event (every descent of every tree an event reads or writes).
 */
#include "state_int.h"

static inline uint32_t
load_be32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

int
gm__keycmp(const MDB_val *a, const MDB_val *b)
{
    const uint8_t *p = a->mv_data, *q = b->mv_data;
    size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size, i = 0;
    /* big-endian words compare as the bytes do */
    for (; i + 8 <= n; i += 8) {
        uint64_t x = gm__get_be64(p + i), y = gm__get_be64(q + i);
        if (x != y)
            return x < y ? -1 : 1;
    }
    if (i < n && n >= 8) {
        /* the last word of the common part, overlapping bytes found equal */
        uint64_t x = gm__get_be64(p + n - 8), y = gm__get_be64(q + n - 8);
        if (x != y)
            return x < y ? -1 : 1;
    } else if (n >= 4) {
        /* a common part of 4 to 7 bytes: its first and last four bytes */
        uint32_t x = load_be32(p), y = load_be32(q);
        if (x == y) {
            x = load_be32(p + n - 4);
            y = load_be32(q + n - 4);
        }
        if (x != y)
            return x < y ? -1 : 1;
    } else {
        for (; i < n; i++) {
            if (p[i] != q[i])
                return p[i] < q[i] ? -1 : 1;
        }
    }
    return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}
