/*
 * body.c: a fast reading of the common POST /graphql body,
 * {"query": "...", "operationName": "..." | null, "variables": null | {},
 * "extensions": null | {}}, without building a jansson tree (about a
 * seventh of a leaderboard request's instructions went to json_loadb).
 *
 * Only a strict subset of JSON is taken: those four keys at most once each,
 * strings of printable ASCII with the escapes \" \\ \/ \n \t \r \b \f, an
 * empty object or null where an object may be. Anything else (variables
 * with members, \u escapes, other bytes, other keys, bad JSON) answers
 * false and the caller parses the body with jansson as before, so errors and
 * unusual bodies are handled exactly as they were. The body is not changed;
 * the strings are decoded into the caller's scratch space (len + 1 bytes
 * suffice: decoding never lengthens, and each string ends in a quote that
 * becomes its NUL).
 */
#include "server_int.h"

#include <string.h>

static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A string at *pp ('"' first), decoded to *wp (NUL-terminated, *wp moved past it) and *out;
 * false when not of the subset. */
static bool
string(const char **pp, const char *end, char **wp, char **out)
{
    const char *p = *pp;
    if (p >= end || *p != '"')
        return false;
    p++;
    char *w = *wp, *start = w;
    for (;;) {
        if (p >= end)
            return false;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20 || c > 0x7e)
            return false;
        if (c == '\\') {
            if (p + 1 >= end)
                return false;
            char e = p[1];
            char d = e == '"' || e == '\\' || e == '/' ? e
                     : e == 'n'                        ? '\n'
                     : e == 't'                        ? '\t'
                     : e == 'r'                        ? '\r'
                     : e == 'b'                        ? '\b'
                     : e == 'f'                        ? '\f'
                                                       : 0;
            if (!d)
                return false;
            *w++ = d;
            p += 2;
            continue;
        }
        *w++ = (char)c;
        p++;
    }
    *w++ = 0;
    *wp = w;
    *out = start;
    *pp = p + 1;
    return true;
}

/* null, or an empty object; false otherwise. */
static bool
empty_or_null(const char **pp, const char *end)
{
    const char *p = *pp;
    if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
        *pp = p + 4;
        return true;
    }
    if (p < end && *p == '{') {
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}') {
            *pp = p + 1;
            return true;
        }
    }
    return false;
}

bool
gm__api_body_simple(const char *body, size_t len, char *scratch, const char **query,
                    const char **opname)
{
    const char *p = body, *end = body + len;
    char *w = scratch;
    bool seen[4] = {false, false, false, false};
    *query = *opname = NULL;
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return false;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return skip_ws(p + 1, end) == end;
    for (;;) {
        char *key;
        if (!string(&p, end, &w, &key))
            return false;
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return false;
        p = skip_ws(p + 1, end);
        int k = strcmp(key, "query") == 0           ? 0
                : strcmp(key, "operationName") == 0 ? 1
                : strcmp(key, "variables") == 0     ? 2
                : strcmp(key, "extensions") == 0    ? 3
                                                    : -1;
        if (k < 0 || seen[k])
            return false;
        seen[k] = true;
        if (k <= 1) {
            char *v = NULL;
            if (end - p >= 4 && memcmp(p, "null", 4) == 0)
                p += 4;
            else if (!string(&p, end, &w, &v))
                return false;
            if (k == 0)
                *query = v;
            else
                *opname = v;
        } else if (!empty_or_null(&p, end)) {
            return false;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}')
            return skip_ws(p + 1, end) == end;
        return false;
    }
}
