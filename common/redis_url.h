/*
 * redis_url.h: the one parser of Redis URLs,
 * redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], for every part that talks to
 * Redis (the projector, the API's resolvers, rate limits and event streams).
 */
#ifndef GM_REDIS_URL_H
#define GM_REDIS_URL_H

#include "err.h"

struct gm_redis_url {
    char *user;     /* NULL: none (AUTH with the password alone) */
    char *password; /* NULL: no AUTH */
    char *host;
    int port; /* 6379 when not given */
    int db;   /* 0 when not given */
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

#endif
