/*
 * resp.c: Redis commands as RESP text (resp.h).
 */
#include "resp.h"

#include <string.h>

/* Writes n in decimal at p; returns the end. */
static char *
put_len(char *p, size_t n)
{
    char t[24];
    size_t k = 0;
    do
        t[k++] = (char)('0' + n % 10);
    while ((n /= 10) > 0);
    while (k)
        *p++ = t[--k];
    return p;
}

size_t
gm_resp_format(char *buf, size_t cap, int argc, const char *const *argv, const size_t *lens)
{
    if (argc < 1 || cap < 32)
        return 0;
    char *p = buf, *end = buf + cap;
    *p++ = '*';
    p = put_len(p, (size_t)argc);
    *p++ = '\r';
    *p++ = '\n';
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        /* '$', up to 20 digits, two CRLFs */
        if ((size_t)(end - p) < n + 25)
            return 0;
        *p++ = '$';
        p = put_len(p, n);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, argv[i], n);
        p += n;
        *p++ = '\r';
        *p++ = '\n';
    }
    return (size_t)(p - buf);
}
