/*
 * redis_url.c: parsing redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (see
 * redis_url.h). Only the syntax is checked here; whether the host answers
 * is the connection's business.
 */
#include "redis_url.h"

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

int
gm_redis_url_parse(const char *url, const char *what, struct gm_redis_url *u, struct gm_err *err)
{
    static const char scheme[] = "redis://";
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0)
        return gm_err_set(err, GM_EINVAL,
                          "%s '%s': expected redis://HOST[:PORT][/DB] (with "
                          "[[USER]:PASSWORD@] before HOST when Redis wants AUTH)",
                          what, url ? url : "");
    const char *s = url + sizeof scheme - 1;
    const char *at = strrchr(s, '@');
    if (at) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        if (colon) {
            if (colon > s)
                u->user = dup_n(s, (size_t)(colon - s));
            u->password = dup_n(colon + 1, (size_t)(at - colon - 1));
        } else {
            u->password = dup_n(s, (size_t)(at - s));
        }
        s = at + 1;
    }
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
        char *e;
        long db = strtol(end + 1, &e, 10);
        if (e == end + 1 || *e || db < 0 || db > 1000000)
            return gm_err_set(err, GM_EINVAL, "%s '%s': bad database number", what, url);
        u->db = (int)db;
    }
    return 0;
}

void
gm_redis_url_deinit(struct gm_redis_url *u)
{
    free(u->user);
    free(u->password);
    free(u->host);
    u->user = u->password = u->host = NULL;
}
