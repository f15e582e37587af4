/*
 * conninfo.c: checking a libpq connection string before any connection.
 *
 * PQconninfoParse only checks the syntax and the option names: a port
 * "abc", an sslmode "sometimes" or three ports for two hosts pass it and
 * fail only when libpq connects. The projector connects on its first step,
 * in a thread, and retries failures with backoff, so such a mistake would
 * surface as an endless retry instead of an error at the start (or at
 * --check-config). This file checks the values libpq checks when it
 * connects, with libpq's own rules (PostgreSQL 15), so gm_pgproj_open
 * refuses them at once. Whether a host resolves or a server answers is
 * left to the connection: those are operational, and retried.
 */
#include "pgproj.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The number of entries of a comma-separated list ("" is one empty entry). */
static int
count_entries(const char *v)
{
    int n = 1;
    for (; *v; v++)
        n += *v == ',';
    return n;
}

/* Copies entry i of the comma-separated list v into buf (cut to size). */
static void
entry(const char *v, int i, char *buf, size_t size)
{
    for (; i > 0 && v; i--) {
        v = strchr(v, ',');
        if (v)
            v++;
    }
    size_t len = v ? strcspn(v, ",") : 0;
    if (len >= size)
        len = size - 1;
    memcpy(buf, v ? v : "", len);
    buf[len] = '\0';
}

/* libpq's integer options: optional blanks and sign around decimal digits. */
static bool
is_int(const char *v, long *out)
{
    char *end;
    while (isspace((unsigned char)*v))
        v++;
    if (!*v)
        return false;
    long n = strtol(v, &end, 10);
    if (end == v)
        return false;
    while (isspace((unsigned char)*end))
        end++;
    *out = n;
    return *end == '\0';
}

static bool
one_of(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++) {
        if (strcmp(v, *allowed) == 0)
            return true;
    }
    return false;
}

static int bad(struct gm_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
bad(struct gm_err *err, const char *fmt, ...)
{
    char what[GM_ERR_MSG_MAX - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return gm_err_set(err, GM_EINVAL, "bad Postgres conninfo: %s", what);
}

/* Checks the value v of option key; 0 or GM_EINVAL with err. */
static int
check_option(const char *key, const char *v, struct gm_err *err)
{
    static const char *const sslmodes[] = {"disable",   "allow",       "prefer", "require",
                                           "verify-ca", "verify-full", NULL};
    static const char *const three[] = {"disable", "prefer", "require", NULL};
    static const char *const attrs[] = {"any",     "read-write",     "read-only", "primary",
                                        "standby", "prefer-standby", NULL};
    static const char *const tls[] = {"", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", NULL};
    static const char *const ints[] = {"connect_timeout",
                                       "keepalives",
                                       "keepalives_idle",
                                       "keepalives_interval",
                                       "keepalives_count",
                                       "tcp_user_timeout",
                                       NULL};
    long n;
    if (strcmp(key, "port") == 0) {
        for (int i = 0, count = count_entries(v); i < count; i++) {
            char port[64];
            entry(v, i, port, sizeof port);
            if (port[0] && (!is_int(port, &n) || n < 1 || n > 65535))
                return bad(err, "port \"%s\" is not a number from 1 to 65535", port);
        }
    } else if (strcmp(key, "hostaddr") == 0) {
        for (int i = 0, count = count_entries(v); i < count; i++) {
            char addr[INET6_ADDRSTRLEN + 8];
            unsigned char bin[sizeof(struct in6_addr)];
            entry(v, i, addr, sizeof addr);
            if (addr[0] && inet_pton(AF_INET, addr, bin) != 1 &&
                inet_pton(AF_INET6, addr, bin) != 1)
                return bad(err, "hostaddr \"%s\" is not a numeric IPv4 or IPv6 address", addr);
        }
    } else if (strcmp(key, "sslmode") == 0) {
        if (!one_of(v, sslmodes))
            return bad(err,
                       "sslmode \"%s\" is not disable, allow, prefer, require, verify-ca or "
                       "verify-full",
                       v);
    } else if (strcmp(key, "gssencmode") == 0 || strcmp(key, "channel_binding") == 0) {
        if (!one_of(v, three))
            return bad(err, "%s \"%s\" is not disable, prefer or require", key, v);
    } else if (strcmp(key, "target_session_attrs") == 0) {
        if (!one_of(v, attrs))
            return bad(err,
                       "target_session_attrs \"%s\" is not any, read-write, read-only, primary, "
                       "standby or prefer-standby",
                       v);
    } else if (strcmp(key, "ssl_min_protocol_version") == 0 ||
               strcmp(key, "ssl_max_protocol_version") == 0) {
        if (!one_of(v, tls))
            return bad(err, "%s \"%s\" is not TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3", key, v);
    } else if (one_of(key, ints)) {
        if (!is_int(v, &n))
            return bad(err, "%s \"%s\" is not an integer", key, v);
    }
    return 0;
}

int
gm_pgproj_check_conninfo(const char *conninfo, struct gm_err *err)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &msg);
    if (!opts) {
        int rc =
            gm_err_set(err, GM_EINVAL, "bad Postgres conninfo: %s", msg ? msg : "out of memory");
        /* libpq's messages end with a newline */
        if (err) {
            size_t len = strlen(err->msg);
            while (len > 0 && (err->msg[len - 1] == '\n' || err->msg[len - 1] == ' '))
                err->msg[--len] = '\0';
        }
        PQfreemem(msg);
        return rc;
    }
    int rc = 0;
    const char *host = NULL, *hostaddr = NULL, *port = NULL;
    for (PQconninfoOption *o = opts; o->keyword && rc == 0; o++) {
        if (!o->val)
            continue;
        rc = check_option(o->keyword, o->val, err);
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
    }
    if (rc == 0) {
        /* libpq pairs hosts with hostaddrs and ports by position */
        int hosts = hostaddr && *hostaddr ? count_entries(hostaddr)
                    : host                ? count_entries(host)
                                          : 1;
        if (host && *host && hostaddr && *hostaddr &&
            count_entries(host) != count_entries(hostaddr)) {
            rc = bad(err, "%d host names for %d hostaddr values (they pair up by position)",
                     count_entries(host), count_entries(hostaddr));
        } else if (port && *port && count_entries(port) > 1 && count_entries(port) != hosts) {
            rc = bad(err, "%d ports for %d hosts (one port for all, or one per host)",
                     count_entries(port), hosts);
        }
    }
    PQconninfoFree(opts);
    return rc;
}
