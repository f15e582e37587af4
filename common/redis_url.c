/*
 * redis_url.c: parsing redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] and
 * unix://[[USER]:PASSWORD@]/PATH[?db=DB] (see redis_url.h). Only the syntax
 * is checked here; whether the host or the socket answers is the
 * connection's business.
 */
#include "redis_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
dup_n(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d)
        abort();
    return d;
}

/* USER:PASSWORD@ or PASSWORD@ at s, if any (the last '@' before stop ends
 * them, so a password may hold '@' and ':'): into u; returns what follows. */
static const char *
credentials(const char *s, const char *stop, struct gm_redis_url *u)
{
    const char *at = NULL;
    for (const char *p = s; p < stop; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return s;
    const char *colon = memchr(s, ':', (size_t)(at - s));
    if (colon) {
        if (colon > s)
            u->user = dup_n(s, (size_t)(colon - s));
        u->password = dup_n(colon + 1, (size_t)(at - colon - 1));
    } else {
        u->password = dup_n(s, (size_t)(at - s));
    }
    return at + 1;
}

/* A database number: all of [s, end), 0 to 1000000; -1 when not one. */
static int
db_number(const char *s, const char *end)
{
    if (s == end || end - s > 7)
        return -1;
    long db = 0;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        db = db * 10 + (*p - '0');
    }
    return db <= 1000000 ? (int)db : -1;
}

/* unix://[[USER]:PASSWORD@]/PATH[?db=DB]: s is what follows the scheme. */
static int
parse_unix(const char *url, const char *s, const char *what, struct gm_redis_url *u,
           struct gm_err *err)
{
    u->port = 0;
    /* Credentials end at the last '@' before the path's first '/'. */
    const char *slash = strchr(s, '/');
    s = credentials(s, slash ? slash : s + strlen(s), u);
    const char *q = strchr(s, '?');
    const char *end = q ? q : s + strlen(s);
    if (*s != '/' || end - s < 2)
        return gm_err_set(err, GM_EINVAL, "%s '%s': expected unix:///PATH (an absolute path)", what,
                          url);
    if (end - s > 107) /* sun_path holds 108 bytes with the NUL */
        return gm_err_set(err, GM_EINVAL, "%s '%s': the socket's path is longer than 107 bytes",
                          what, url);
    u->host = dup_n(s, (size_t)(end - s));
    if (q) {
        int db = strncmp(q + 1, "db=", 3) == 0 ? db_number(q + 4, q + strlen(q)) : -1;
        if (db < 0)
            return gm_err_set(err, GM_EINVAL,
                              "%s '%s': after the path, only ?db=N (a database number)", what, url);
        u->db = db;
    }
    return 0;
}

int
gm_redis_url_parse(const char *url, const char *what, struct gm_redis_url *u, struct gm_err *err)
{
    static const char scheme[] = "redis://", unix_scheme[] = "unix://";
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (url && strncmp(url, unix_scheme, sizeof unix_scheme - 1) == 0)
        return parse_unix(url, url + sizeof unix_scheme - 1, what, u, err);
    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0)
        return gm_err_set(
            err, GM_EINVAL,
            "%s '%s': expected redis://HOST[:PORT][/DB] or unix:///PATH[?db=DB] (with "
            "[[USER]:PASSWORD@] before HOST or PATH when Redis wants AUTH)",
            what, url ? url : "");
    const char *s = credentials(url + sizeof scheme - 1, url + strlen(url), u);
    const char *end = s + strcspn(s, "/");
    const char *colon = memchr(s, ':', (size_t)(end - s));
    const char *host_end = colon ? colon : end;
    if (host_end == s)
        return gm_err_set(err, GM_EINVAL, "%s '%s': no host", what, url);
    u->host = dup_n(s, (size_t)(host_end - s));
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e == colon + 1 || e != end || port < 1 || port > 65535)
            return gm_err_set(err, GM_EINVAL, "%s '%s': bad port", what, url);
        u->port = (int)port;
    }
    if (*end == '/' && end[1]) {
        int db = db_number(end + 1, end + strlen(end));
        if (db < 0)
            return gm_err_set(err, GM_EINVAL, "%s '%s': bad database number", what, url);
        u->db = db;
    }
    return 0;
}

const char *
gm_redis_url_where(const char *host, int port, char *buf, size_t n)
{
    if (port == 0)
        snprintf(buf, n, "unix:%s", host ? host : "");
    else
        snprintf(buf, n, "%s:%d", host ? host : "", port);
    return buf;
}

void
gm_redis_url_deinit(struct gm_redis_url *u)
{
    free(u->user);
    free(u->password);
    free(u->host);
    u->user = u->password = u->host = NULL;
}
