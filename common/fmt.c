/*
 * fmt.c: decimal integers and joined strings without snprintf (fmt.h).
 */
#include "fmt.h"

#include <string.h>

size_t
gm_fmt_i64(char buf[GM_FMT_I64_MAX], int64_t v)
{
    char tmp[GM_FMT_I64_MAX];
    char *e = tmp + sizeof tmp, *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(e - p);
    memcpy(buf, p, n);
    buf[n] = 0;
    return n;
}

size_t
gm_fmt_join(char *buf, size_t cap, const char *const *parts, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(parts[i]);
        if (len < cap - 1) {
            size_t k = l < cap - 1 - len ? l : cap - 1 - len;
            memcpy(buf + len, parts[i], k);
        }
        len += l;
    }
    buf[len < cap - 1 ? len : cap - 1] = 0;
    return len;
}
