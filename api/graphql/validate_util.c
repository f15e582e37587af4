/*
 * validate_util.c: the validator's small tools: arena hash maps and
 * arrays, and its door to the suggestion lists of suggest.c.
 */
#include "validate_int.h"

#include "suggest.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
gm__vmap_init(struct gm__vmap *m, bool strings)
{
    memset(m, 0, sizeof(*m));
    m->strings = strings;
}

static uint64_t
mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static uint64_t
key_hash(const struct gm__vmap *m, const void *k1, const void *k2)
{
    uint64_t h = 1469598103934665603ULL;
    if (m->strings) {
        for (const unsigned char *p = k1; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
    } else {
        h = mix((uint64_t)(uintptr_t)k1);
    }
    return mix(h ^ ((uint64_t)(uintptr_t)k2 * 0x9e3779b97f4a7c15ULL));
}

static bool
key_eq(const struct gm__vmap *m, size_t i, const void *k1, const void *k2)
{
    if (m->k2[i] != k2)
        return false;
    if (m->strings) {
        const char *a = m->k1[i], *b = k1;
        return a[0] == b[0] && strcmp(a, b) == 0;
    }
    return m->k1[i] == k1;
}

/*
 * The slot holding the key, or the empty slot where it would go. Small maps
 * (SMALL slots) are plain arrays searched in order: most maps of a request
 * hold a handful of names, and hashing them costs more than comparing.
 */
#define SMALL 8

static size_t
find_slot(const struct gm__vmap *m, const void *k1, const void *k2)
{
    if (m->cap == SMALL) {
        size_t i = 0;
        while (i < m->n && !key_eq(m, i, k1, k2))
            i++;
        return i; /* m->n (possibly SMALL) when absent */
    }
    size_t mask = m->cap - 1;
    size_t i = (size_t)key_hash(m, k1, k2) & mask;
    while (m->k1[i] && !key_eq(m, i, k1, k2))
        i = (i + 1) & mask;
    return i;
}

bool
gm__vmap_get(const struct gm__vmap *m, const void *k1, const void *k2, void **val)
{
    if (m->cap == 0)
        return false;
    size_t i = find_slot(m, k1, k2);
    if (i == m->cap || !m->k1[i])
        return false;
    if (val)
        *val = m->vals[i];
    return true;
}

static int
grow(struct gm__vmap *m, struct gm_arena *a)
{
    size_t cap = m->cap ? m->cap * 4 : SMALL;
    struct gm__vmap n = *m;
    n.cap = cap;
    n.n = 0;
    n.k1 = gm_arena_alloc(a, cap * sizeof(*n.k1));
    n.k2 = gm_arena_alloc(a, cap * sizeof(*n.k2));
    n.vals = gm_arena_alloc(a, cap * sizeof(*n.vals));
    if (!n.k1 || !n.k2 || !n.vals)
        return GM_ETOOBIG;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->k1[i])
            continue;
        size_t j = find_slot(&n, m->k1[i], m->k2[i]);
        n.k1[j] = m->k1[i];
        n.k2[j] = m->k2[i];
        n.vals[j] = m->vals[i];
        n.n++;
    }
    *m = n;
    return 0;
}

int
gm__vmap_put(struct gm__vmap *m, struct gm_arena *a, const void *k1, const void *k2, void *val)
{
    size_t i = m->cap ? find_slot(m, k1, k2) : 0;
    bool full = m->cap == 0 || (m->cap == SMALL ? i == SMALL : (m->n + 1) * 4 > m->cap * 3);
    if (full) {
        if (grow(m, a) < 0)
            return GM_ETOOBIG;
        i = find_slot(m, k1, k2);
    }
    if (!m->k1[i]) {
        m->k1[i] = k1;
        m->k2[i] = k2;
        m->n++;
    }
    m->vals[i] = val;
    return 0;
}

int
gm__vvec_push(struct gm__vvec *vec, struct gm_arena *a, const void *p)
{
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 8;
        const void **v = gm_arena_alloc(a, cap * sizeof(*v));
        if (!v)
            return GM_ETOOBIG;
        if (vec->n)
            memcpy(v, vec->v, vec->n * sizeof(*v));
        vec->v = v;
        vec->cap = cap;
    }
    vec->v[vec->n++] = p;
    return 0;
}

size_t
gm__vsuggest(struct gm__vctx *c, const char *input, const char *const *options, size_t n_options,
             const char **out, size_t max)
{
    if (n_options == 0 || max == 0)
        return 0;
    const char **all = gm__valloc(c, n_options * sizeof(*all));
    if (!all)
        return 0;
    size_t n = gm__gql_suggest(c->a, input, strlen(input), options, n_options, all);
    if (n > max)
        n = max;
    memcpy(out, all, n * sizeof(*out));
    return n;
}
