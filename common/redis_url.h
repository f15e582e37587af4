/*
 * redis_url.h: the one parser of Redis URLs,
 * redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] over TCP and
 * unix://[[USER]:PASSWORD@]/PATH[?db=DB] over a Unix socket, for every part
 * that talks to Redis (the projector, the API's resolvers, rate limits and
 * event streams), and the one way they connect (gm_redis_url_connect).
 */
#ifndef GM_REDIS_URL_H
#define GM_REDIS_URL_H

#include "err.h"

#include <stddef.h>

struct gm_redis_url {
    char *user;     /* NULL: none (AUTH with the password alone) */
    char *password; /* NULL: no AUTH */
    char *host;     /* a unix:// URL: the socket's path */
    int port;       /* 6379 when not given; 0 for a unix:// URL */
    int db;         /* 0 when not given */
};

/*
 * Parses url into *u (its strings are new; release with
 * gm_redis_url_deinit, also after an error). what names the setting in
 * messages ("--redis"). The last '@' ends the credentials, so a password may
 * hold '@' and ':'. Errors: GM_EINVAL with err saying what is wrong.
 */
int gm_redis_url_parse(const char *url, const char *what, struct gm_redis_url *u,
                       struct gm_err *err);

/* Frees the strings of u; u may be zeroed or half-filled. */
void gm_redis_url_deinit(struct gm_redis_url *u);

/*
 * Where (host, port) of a parsed URL points, for messages: "HOST:PORT", or
 * "unix:PATH" when port is 0. Returns buf (size n, truncated to fit).
 */
const char *gm_redis_url_where(const char *host, int port, char *buf, size_t n);
/* The same in a buffer that lives until the end of the enclosing block. */
#define GM_REDIS_WHERE(host, port) gm_redis_url_where((host), (port), (char[160]){0}, 160)

/*
 * hiredis's connection to (host, port) of a parsed URL: TCP, or the Unix
 * socket at host when port is 0, within tv. As redisConnectWithTimeout: NULL
 * when out of memory, else check ->err. (Only for files that link hiredis.)
 */
#define gm_redis_url_connect(host, port, tv)                                                       \
    ((port) == 0 ? redisConnectUnixWithTimeout((host), (tv))                                       \
                 : redisConnectWithTimeout((host), (port), (tv)))

#endif
