/*
 * hash.h: the one hash of the state's in-memory tables (the batch's
 * learners, held learners, the readers' journal overlay): FNV-1a over the
 * key's bytes. Tables keyed by user id, never stored.
 */
#ifndef GM_STATE_HASH_H
#define GM_STATE_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t
gm__hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#endif
