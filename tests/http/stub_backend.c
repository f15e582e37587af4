/*
 * stub_backend.c: a stand-in for api/resolvers, for testing gamify-api's
 * HTTP layer alone (tests/http/run.sh links it into gamify-api-stub).
 *
 * Every field of the schema gets one generic resolver that answers from
 * the field's type: objects are a dummy parent, lists are empty, Int 0,
 * strings "stub", enums their first value, and any `userId` field the
 * caller's user id (so a test sees which token was accepted). Two
 * arguments drive the tests: userId "slow" makes the field take 4 s (the
 * drain test: long enough to be seen in progress on a slow machine), userId "boom" makes it fail
 * with an internal error whose text must not reach the client. The backend is ready unless the file
 * named by GAMIFY_STUB_NOT_READY exists.
 */
#include "resolvers.h"

#include "execute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct gm_api_backend {
    int unused;
};

static const int dummy_parent = 1;

int
gm_api_backend_open(const struct gm_api_backend_opts *o, struct gm_api_backend **out,
                    struct gm_err *err)
{
    (void)o;
    (void)err;
    *out = calloc(1, sizeof **out);
    if (!*out)
        abort();
    return 0;
}

/* The real resolvers' extras, when the HTTP layer is built against them. */
int
gm_api_backend_open_ex(const struct gm_api_backend_opts *o, const struct gm_api_backend_opts_ex *ex,
                       struct gm_api_backend **out, struct gm_err *err)
{
    (void)ex;
    return gm_api_backend_open(o, out, err);
}

void
gm_api_backend_stats(struct gm_api_backend *b, struct gm_api_backend_stats *out)
{
    (void)b;
    memset(out, 0, sizeof *out);
}

/* The stub has no servers to check: --check-config stops at the settings. */
int
gm_api_backend_check(const struct gm_api_backend_opts *o, int timeout_ms, struct gm_err *err)
{
    (void)o;
    (void)timeout_ms;
    (void)err;
    return 0;
}

void
gm_api_backend_close(struct gm_api_backend *b)
{
    free(b);
}

int
gm_api_backend_ready(struct gm_api_backend *b, char *why, size_t why_len)
{
    (void)b;
    const char *f = getenv("GAMIFY_STUB_NOT_READY");
    if (f && access(f, F_OK) == 0) {
        strncpy(why, "stub: not ready", why_len - 1);
        why[why_len - 1] = 0;
        return GM_EIO;
    }
    return 0;
}

void
gm_api_backend_lb_changed(struct gm_api_backend *b, const char *board, const char *period_key)
{
    (void)b, (void)board, (void)period_key;
}

void
gm_api_backend_set_notify(struct gm_api_backend *b,
                          void (*fn)(void *ctx, const char *board, const char *period_key),
                          void *ctx)
{
    (void)b, (void)fn, (void)ctx;
}

bool
gm_api_backend_mirror_holds(struct gm_api_backend *b, const char *board, const char *period_key)
{
    (void)b, (void)board, (void)period_key;
    return false;
}

bool
gm_api_backend_carries(const char *root_field)
{
    (void)root_field;
    return false;
}

static int
resolve(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct gm_api_request *req = ctx->context;
    const struct gm_gql_ival *uid = ctx->field->n_args ? gm_gql_arg(ctx, "userId") : NULL;
    if (uid && uid->kind == GM_GQL_I_STRING) {
        if (strcmp(uid->s, "slow") == 0) {
            struct timespec ts = {4, 0};
            nanosleep(&ts, NULL);
        } else if (strcmp(uid->s, "boom") == 0) {
            return gm_gql_rctx_error(ctx, NULL,
                                     "connection to server at 10.9.8.7 failed: password "
                                     "authentication failed for user secret_user");
        }
    }
    const struct gm_gql_tref *t = ctx->field->type;
    bool non_null = t->kind == GM_GQL_TYPE_NON_NULL;
    if (non_null)
        t = t->of;
    if (t->kind == GM_GQL_TYPE_LIST) {
        gm_gql_rval_list(ctx, out, 0);
        return 0;
    }
    const struct gm_gql_stype *named = t->named;
    if (strcmp(ctx->field->name, "userId") == 0) {
        gm_gql_rval_str(out, req->viewer.user_id, strlen(req->viewer.user_id));
        return 0;
    }
    switch (named->kind) {
    case GM_GQL_OBJECT:
        gm_gql_rval_obj(out, &dummy_parent, named);
        return 0;
    case GM_GQL_ENUM:
        gm_gql_rval_str(out, named->values[0].name, strlen(named->values[0].name));
        return 0;
    case GM_GQL_SCALAR:
        if (!non_null) {
            gm_gql_rval_null(out);
        } else if (named->scalar == GM_GQL_SC_INT || named->scalar == GM_GQL_SC_FLOAT) {
            gm_gql_rval_int(out, 0);
        } else if (named->scalar == GM_GQL_SC_BOOLEAN) {
            gm_gql_rval_bool(out, false);
        } else if (named->scalar == GM_GQL_SC_DATETIME) {
            gm_gql_rval_str(out, "2026-01-01T00:00:00Z", 20);
        } else {
            gm_gql_rval_str(out, "stub", 4);
        }
        return 0;
    default:
        gm_gql_rval_null(out);
        return 0;
    }
}

int
gm_api_resolvers_bind(struct gm_gql_schema *s, struct gm_api_backend *b, struct gm_err *err)
{
    (void)b;
    char coord[256];
    for (size_t i = 0; i < s->n_types; i++) {
        const struct gm_gql_stype *t = s->types[i];
        if (t->kind != GM_GQL_OBJECT || t->introspection)
            continue;
        for (size_t k = 0; k < t->n_fields; k++) {
            snprintf(coord, sizeof coord, "%s.%s", t->name, t->fields[k].name);
            int rc = gm_gql_schema_bind(s, coord, resolve, NULL, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}
