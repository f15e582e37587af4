/*
 * varint.h: protobuf base-128 varints, the one copy the hand codecs of
 * processor/state/ share (encode.c, usercodec.c, changefmt.c). Inline:
 * they run for every field of every record written or read.
 */
#ifndef GM_VARINT_H
#define GM_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* The bytes v takes as a varint (1..10). */
static inline size_t
gm__varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes v at p (room for 10 bytes); returns the byte after it. */
static inline uint8_t *
gm__varint_put(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Reads a varint of at most 10 bytes from p (len bytes left) into *v;
 * returns its length, 0 if malformed or cut off. */
static inline size_t
gm__varint_get(const uint8_t *p, size_t len, uint64_t *v)
{
    uint64_t r = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

/* Zigzag: small negative numbers as small varints. */
static inline uint64_t
gm__zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

#endif
