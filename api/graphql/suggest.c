/*
 * suggest.c: graphql-js's suggestion lists and "Did you mean" text (see
 * suggest.h). The distance is graphql-js's LexicalDistance (optimal string
 * alignment over lower-cased UTF-16 units, with its threshold of 40% of
 * the input plus one); ties are broken by naturalCompare.
 */
#include "suggest.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t
gm__gql_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && s[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && s[1] >= 0xa0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && s[1] < 0x90)
            return 0;
        if (c == 0xf4 && s[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

/*
 * The UTF-16 code units of the lower-cased s[0..len), as graphql-js's
 * LexicalDistance compares them, into out (NULL: count only); *orig gets
 * the length in units before lower-casing (the threshold's). Names are
 * ASCII, so of the other characters only those that toLowerCase() turns
 * into ASCII matter: U+212A KELVIN SIGN ("k") and U+0130 ("i" + U+0307).
 * The rest stand as units that match no name's; invalid bytes as U+FFFD.
 */
static size_t
lower_units(const char *s, size_t len, uint16_t *out, size_t *orig)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0, o = 0, i = 0;
    while (i < len) {
        uint32_t cp = u[i];
        size_t l = cp < 0x80 ? 1 : gm__gql_utf8_len(u + i, len - i);
        if (l == 0) {
            cp = 0xfffd;
            l = 1;
        } else if (l > 1) {
            cp = u[i] & (0xff >> (l + 1));
            for (size_t k = 1; k < l; k++)
                cp = cp << 6 | (u[i + k] & 0x3f);
        }
        i += l;
        uint16_t unit[2];
        size_t nu = 1;
        o += cp >= 0x10000 ? 2 : 1;
        if (cp >= 'A' && cp <= 'Z') {
            unit[0] = (uint16_t)(cp + 32);
        } else if (cp == 0x212a) {
            unit[0] = 'k';
        } else if (cp == 0x130) {
            unit[0] = 'i';
            unit[1] = 0x307;
            nu = 2;
        } else if (cp >= 0x10000) {
            unit[0] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
            unit[1] = (uint16_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
            nu = 2;
        } else {
            unit[0] = (uint16_t)cp;
        }
        for (size_t k = 0; k < nu; k++, n++)
            if (out)
                out[n] = unit[k];
    }
    *orig = o;
    return n;
}

/*
 * graphql-js's LexicalDistance.measure: the optimal string alignment
 * distance between the lower-cased texts a (la units) and b, or -1 above
 * threshold. rows has room for 3 * (min(la, lb) + 1) cells.
 */
static int
lexical_distance(const uint16_t *a, size_t la, const uint16_t *b, size_t lb, int threshold,
                 int *rows)
{
    if (la < lb) {
        const uint16_t *t = a;
        a = b;
        b = t;
        size_t tl = la;
        la = lb;
        lb = tl;
    }
    if (la - lb > (size_t)threshold)
        return -1;
    int *r[3] = {rows, rows + lb + 1, rows + 2 * (lb + 1)};
    for (size_t j = 0; j <= lb; j++)
        r[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int *up = r[(i - 1) % 3];
        int *cur = r[i % 3];
        int smallest = cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int cell = up[j] + 1;
            if (cur[j - 1] + 1 < cell)
                cell = cur[j - 1] + 1;
            if (up[j - 1] + cost < cell)
                cell = up[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                r[(i - 2) % 3][j - 2] + 1 < cell)
                cell = r[(i - 2) % 3][j - 2] + 1;
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

/*
 * graphql-js's suggestionList(input, options): the options (ASCII names)
 * within lexical distance of input[0..len), closest first, then in natural
 * order, into out (room for n). Scratch in a; none when a is full.
 */
size_t
gm__gql_suggest(struct gm_arena *a, const char *input, size_t len, const char *const *options,
                size_t n, const char **out)
{
    size_t orig;
    size_t lin = lower_units(input, len, NULL, &orig);
    int threshold = (int)(orig * 4 / 10) + 1;
    size_t max_opt = 0;
    for (size_t i = 0; i < n; i++)
        if (strlen(options[i]) > max_opt)
            max_opt = strlen(options[i]);
    /* No option is near in length: skip decoding a long input. */
    if (n == 0 || (lin > max_opt && lin - max_opt > (size_t)threshold))
        return 0;
    uint16_t *in = gm_arena_alloc(a, (lin ? lin : 1) * sizeof(*in));
    uint16_t *opt = gm_arena_alloc(a, (max_opt ? max_opt : 1) * sizeof(*opt));
    int *dist = gm_arena_alloc(a, n * sizeof(*dist));
    size_t short_len = lin < max_opt ? lin : max_opt;
    int *rows = gm_arena_alloc(a, 3 * (short_len + 1) * sizeof(*rows));
    if (!in || !opt || !dist || !rows)
        return 0;
    lower_units(input, len, in, &orig);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *o = options[i];
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(out[j], o) == 0;
        if (dup)
            continue;
        size_t lo = strlen(o);
        int d;
        if (lo == len && memcmp(o, input, len) == 0) {
            d = 0;
        } else {
            bool same = lo == lin;
            for (size_t j = 0; j < lo; j++) {
                unsigned char c = (unsigned char)o[j];
                opt[j] = c >= 'A' && c <= 'Z' ? (uint16_t)(c + 32) : c;
                same = same && opt[j] == in[j];
            }
            d = same ? 1 : lexical_distance(opt, lo, in, lin, threshold, rows);
        }
        if (d < 0)
            continue;
        /* Insertion sort, stable as JavaScript's. */
        size_t at = k;
        while (at > 0 && (dist[at - 1] > d ||
                          (dist[at - 1] == d && gm__gql_natural_cmp(out[at - 1], o) > 0))) {
            out[at] = out[at - 1];
            dist[at] = dist[at - 1];
            at--;
        }
        out[at] = o;
        dist[at] = d;
        k++;
    }
    return k;
}

static bool
is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

int
gm__gql_natural_cmp(const char *a, const char *b)
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

/* Appends printf-style text to the NUL-terminated buf (size n), truncating. */
__attribute__((format(printf, 3, 4))) static void
append(char *buf, size_t n, const char *fmt, ...)
{
    size_t at = strlen(buf);
    if (at + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + at, n - at, fmt, ap);
    va_end(ap);
}

void
gm__gql_did_you_mean(char *buf, size_t n, const char *sub, const char *const *sugg, size_t n_sugg)
{
    if (n_sugg == 0)
        return;
    append(buf, n, " Did you mean ");
    if (sub)
        append(buf, n, "%s ", sub);
    if (n_sugg == 1) {
        append(buf, n, "\"%s\"?", sugg[0]);
        return;
    }
    if (n_sugg == 2) {
        append(buf, n, "\"%s\" or \"%s\"?", sugg[0], sugg[1]);
        return;
    }
    if (n_sugg > 5)
        n_sugg = 5;
    for (size_t i = 0; i + 1 < n_sugg; i++)
        append(buf, n, "\"%s\", ", sugg[i]);
    append(buf, n, "or \"%s\"?", sugg[n_sugg - 1]);
}
