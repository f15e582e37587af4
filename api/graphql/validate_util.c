/*
 * validate_util.c: the validator's small tools: arena hash maps and
 * arrays, and graphql-js's suggestion lists ("Did you mean ...?"), which
 * rank names by a Damerau-Levenshtein distance and break ties with a
 * "natural" comparison that orders digit runs by their value.
 */
#include "validate_int.h"

#include <ctype.h>
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

void
gm__vappend(char *buf, size_t n, const char *fmt, ...)
{
    size_t at = strlen(buf);
    if (at + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + at, n - at, fmt, ap);
    va_end(ap);
}

static bool
is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

int
gm__vnatural_cmp(const char *a, const char *b)
{
    size_t i = 0, j = 0;
    size_t la = strlen(a), lb = strlen(b);
    while (i < la && j < lb) {
        int ca = (unsigned char)a[i], cb = (unsigned char)b[j];
        if (is_digit(ca) && is_digit(cb)) {
            /* As graphql-js: a digit run stops after a leading zero. */
            double na = 0, nb = 0;
            do {
                na = na * 10 + (ca - '0');
                ca = ++i < la ? (unsigned char)a[i] : 0;
            } while (is_digit(ca) && na > 0);
            do {
                nb = nb * 10 + (cb - '0');
                cb = ++j < lb ? (unsigned char)b[j] : 0;
            } while (is_digit(cb) && nb > 0);
            if (na < nb)
                return -1;
            if (na > nb)
                return 1;
        } else {
            if (ca != cb)
                return ca < cb ? -1 : 1;
            i++;
            j++;
        }
    }
    return (la > lb) - (la < lb);
}

/*
 * The optimal string alignment distance between the lower-cased a and b
 * (three rolling rows), or -1 when it is above threshold.
 */
static int
lexical_distance(struct gm__vctx *c, const char *input, const char *option, int threshold)
{
    if (strcmp(input, option) == 0)
        return 0;
    size_t la = strlen(option), lb = strlen(input);
    bool same_lower = la == lb;
    for (size_t i = 0; same_lower && i < la; i++)
        same_lower = tolower((unsigned char)option[i]) == tolower((unsigned char)input[i]);
    if (same_lower)
        return 1;
    const char *a = option, *b = input;
    if (la < lb) {
        const char *t = a;
        a = b;
        b = t;
        size_t tl = la;
        la = lb;
        lb = tl;
    }
    if ((long)(la - lb) > threshold)
        return -1;
    int *rows = gm__valloc(c, 3 * (lb + 1) * sizeof(*rows));
    if (!rows)
        return -1;
    int *r[3] = {rows, rows + lb + 1, rows + 2 * (lb + 1)};
    for (size_t j = 0; j <= lb; j++)
        r[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int *up = r[(i - 1) % 3];
        int *cur = r[i % 3];
        int smallest = cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            int cost = ai == bj ? 0 : 1;
            int cell = up[j] + 1;
            if (cur[j - 1] + 1 < cell)
                cell = cur[j - 1] + 1;
            if (up[j - 1] + cost < cell)
                cell = up[j - 1] + cost;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj) {
                int dd = r[(i - 2) % 3][j - 2] + 1;
                if (dd < cell)
                    cell = dd;
            }
            if (cell < smallest)
                smallest = cell;
            cur[j] = cell;
        }
        if (smallest > threshold)
            return -1;
    }
    int d = r[la % 3][lb];
    return d <= threshold ? d : -1;
}

size_t
gm__vsuggest(struct gm__vctx *c, const char *input, const char *const *options, size_t n_options,
             const char **out, size_t max)
{
    if (n_options == 0 || max == 0)
        return 0;
    const char **names = gm__valloc(c, n_options * sizeof(*names));
    int *dist = gm__valloc(c, n_options * sizeof(*dist));
    if (!names || !dist)
        return 0;
    int threshold = (int)(strlen(input) * 4 / 10) + 1;
    size_t n = 0;
    for (size_t i = 0; i < n_options; i++) {
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = strcmp(names[k], options[i]) == 0;
        if (dup)
            continue;
        int d = lexical_distance(c, input, options[i], threshold);
        if (d < 0)
            continue;
        /* Insertion sort: by distance, then naturalCompare. */
        size_t at = n;
        while (at > 0 && (dist[at - 1] > d ||
                          (dist[at - 1] == d && gm__vnatural_cmp(names[at - 1], options[i]) > 0))) {
            names[at] = names[at - 1];
            dist[at] = dist[at - 1];
            at--;
        }
        names[at] = options[i];
        dist[at] = d;
        n++;
    }
    if (n > max)
        n = max;
    memcpy(out, names, n * sizeof(*out));
    return n;
}

void
gm__vdid_you_mean(char *buf, size_t n, const char *sub, const char *const *sugg, size_t n_sugg)
{
    if (n_sugg == 0)
        return;
    gm__vappend(buf, n, " Did you mean ");
    if (sub)
        gm__vappend(buf, n, "%s ", sub);
    if (n_sugg == 1) {
        gm__vappend(buf, n, "\"%s\"?", sugg[0]);
        return;
    }
    if (n_sugg == 2) {
        gm__vappend(buf, n, "\"%s\" or \"%s\"?", sugg[0], sugg[1]);
        return;
    }
    if (n_sugg > 5)
        n_sugg = 5;
    for (size_t i = 0; i + 1 < n_sugg; i++)
        gm__vappend(buf, n, "\"%s\", ", sugg[i]);
    gm__vappend(buf, n, "or \"%s\"?", sugg[n_sugg - 1]);
}
