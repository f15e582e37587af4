/*
 * resolvers.h: the interface between gamify-api's HTTP layer (api/http/)
 * and its resolvers and backend. The real header is api/resolvers/resolvers.h
 * (owned by the resolvers); this copy of the agreed shape is used only to
 * build the HTTP layer while api/resolvers is absent (api/meson.build).
 */
#ifndef GM_API_RESOLVERS_H
#define GM_API_RESOLVERS_H

#include "err.h"
#include "schema.h"

#include <stdbool.h>
#include <stddef.h>

enum gm_api_role { GM_API_ROLE_STUDENT, GM_API_ROLE_STAFF, GM_API_ROLE_SERVICE };
struct gm_api_viewer {
    const char *user_id;
    enum gm_api_role role;
    const char *request_id;
};
struct gm_api_backend_opts {
    const char *postgres;
    const char *redis;
    const char *log_uri;
    int redeem_wait_ms;
    int pool_size;
};
struct gm_api_backend;
int gm_api_backend_open(const struct gm_api_backend_opts *o, struct gm_api_backend **out,
                        struct gm_err *err);
void gm_api_backend_close(struct gm_api_backend *b);
int gm_api_backend_ready(struct gm_api_backend *b, char *why, size_t why_len); /* 0 ready */
/* binds every resolver of the schema; resolvers get ctx->context = struct gm_api_request * */
int gm_api_resolvers_bind(struct gm_gql_schema *s, struct gm_api_backend *b, struct gm_err *err);
struct gm_api_watch {
    bool set;
    char board[129];
    char period[16];
};
/* A Redis script call a resolver may carry (api/resolvers/resolvers.h). */
struct gm_api_carry {
    const char *script;
    const char *sha;
    const char *const *keys;
    size_t n_keys;
    const char *const *args;
    size_t n_args;
    bool sent;
    void *reply;
};

bool gm_api_backend_carries(const char *root_field);
void gm_api_backend_lb_changed(struct gm_api_backend *b, const char *board, const char *period_key);

struct gm_api_request {
    struct gm_api_backend *backend;
    struct gm_api_viewer viewer;
    struct gm_api_watch *watch;
    struct gm_api_carry *carry;
};

#endif
