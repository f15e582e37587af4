/*
 * execute.h: running GraphQL requests against a schema and its resolvers.
 *
 * An engine holds a checked schema (schema.h), the limits and a bounded
 * cache of prepared documents. A request goes through two steps:
 *
 *   gm_gql_prepare   text -> parsed and validated document, through the
 *                    cache (a repeated text skips parsing and validation);
 *   gm_gql_execute   prepared document + operation name + variables ->
 *                    the JSON response, written in selection order.
 *
 * Resolvers see a struct gm_gql_rctx and fill a struct gm_gql_rval. Values
 * they return must stay valid until the request ends: allocate them in
 * ctx->arena (the request's arena) or point at data that outlives it.
 *
 * Threads: an engine may be used by several threads at once (the cache has a
 * lock); a request and its arena belong to one thread.
 */
#ifndef GM_GQL_EXECUTE_H
#define GM_GQL_EXECUTE_H

#include "arena.h"
#include "ast.h"
#include "error.h"
#include "schema.h"
#include "validate.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- values ---- */

/* A coerced input value (an argument, a variable, an input object field). */
enum gm_gql_ikind {
    GM_GQL_I_NULL,
    GM_GQL_I_INT,    /* i, within 32 bits */
    GM_GQL_I_FLOAT,  /* f */
    GM_GQL_I_STRING, /* s/len: String, ID, DateTime */
    GM_GQL_I_BOOL,   /* b */
    GM_GQL_I_ENUM,   /* s: the enum value's name */
    GM_GQL_I_LIST,   /* items/n */
    GM_GQL_I_OBJECT, /* names/items/n: input object fields, in the type's order */
};

struct gm_gql_ival {
    enum gm_gql_ikind kind;
    int64_t i;
    double f;
    bool b;
    const char *s;
    size_t len;
    const struct gm_gql_ival **items;
    const char **names; /* OBJECT */
    size_t n;
};

/* What a resolver returns for a field. */
enum gm_gql_rkind {
    GM_GQL_R_NULL,
    GM_GQL_R_INT,    /* i: serialised for Int fields if within 32 bits, else a field error */
    GM_GQL_R_FLOAT,  /* f: for Float fields (Int fields accept integral floats) */
    GM_GQL_R_STRING, /* s/len: String, ID, DateTime, and enum values by name */
    GM_GQL_R_BOOL,   /* b */
    GM_GQL_R_OBJECT, /* obj, the parent of the sub-selection; type: the concrete object type,
                        needed when the field's type is an interface or union */
    GM_GQL_R_LIST,   /* items/n */
};

struct gm_gql_rval {
    enum gm_gql_rkind kind;
    int64_t i;
    double f;
    bool b;
    const char *s;
    size_t len;
    const void *obj;
    const struct gm_gql_stype *type;
    struct gm_gql_rval *items;
    size_t n;
};

/* Convenience setters for resolvers. s is borrowed (see the file comment). */
void gm_gql_rval_null(struct gm_gql_rval *v);
void gm_gql_rval_int(struct gm_gql_rval *v, int64_t i);
void gm_gql_rval_float(struct gm_gql_rval *v, double f);
void gm_gql_rval_bool(struct gm_gql_rval *v, bool b);
void gm_gql_rval_str(struct gm_gql_rval *v, const char *s, size_t len);
void gm_gql_rval_obj(struct gm_gql_rval *v, const void *obj, const struct gm_gql_stype *type);
/* Sets a list of n items allocated zeroed in ctx->arena; NULL past the budget. */
struct gm_gql_rval *gm_gql_rval_list(struct gm_gql_rctx *ctx, struct gm_gql_rval *v, size_t n);

/* ---- resolver context ---- */

struct gm_gql_rctx {
    struct gm_arena *arena;             /* the request's */
    const struct gm_gql_schema *schema; /* the engine's */
    void *context;                      /* the caller's, from gm_gql_exec_params */
    void *field_data;                   /* bound with the resolver */
    const struct gm_gql_sfield *field;  /* the field being resolved */
    const struct gm_gql_stype *parent_type;
    const void *parent;                  /* the parent object (the root value at the top) */
    const struct gm_gql_ival **args;     /* field->n_args coerced values; NULL = not given */
    const struct gm_gql_path *path;      /* the field's response path */
    const struct gm_gql_selection *node; /* the field's first node in the document */
    /* Set by gm_gql_rctx_error. */
    const char *err_code;
    const char *err_msg;
};

/* The coerced argument `name`; NULL when it was not given and has no default. */
const struct gm_gql_ival *gm_gql_arg(const struct gm_gql_rctx *ctx, const char *name);

/*
 * Describes the field error the resolver is about to return: code for
 * extensions.code (NULL = INTERNAL_SERVER_ERROR; a static string), a
 * printf-style message copied into the arena. Returns GM_EINVAL so that a
 * resolver can write `return gm_gql_rctx_error(ctx, "NOT_FOUND", ...)`.
 */
int gm_gql_rctx_error(struct gm_gql_rctx *ctx, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- engine ---- */

struct gm_gql_engine_opts {
    struct gm_gql_limits parse;     /* parser limits (ast.h); zero = defaults */
    struct gm_gql_vlimits validate; /* validation limits (validate.h); zero = defaults */
    size_t cache_entries;           /* prepared documents kept (LRU); 0 = 1024 */
    /* Bytes the kept documents may hold, their arenas with the plans built later included
       (LRU eviction past it); 0 = 64 MiB. A document larger than this is not kept. */
    size_t cache_bytes;
    bool cache_off; /* every prepare parses and validates (benchmarks) */
    /* Bytes a request's arena may hold; 0 = 8 MiB. Applied by gm_gql_execute to an arena
       initialised without a budget. */
    size_t arena_budget;
};

struct gm_gql_engine;

/*
 * Makes an engine over s (borrowed; must be checked with
 * gm_gql_schema_check and outlive the engine). opts may be NULL. Returns new;
 * free with gm_gql_engine_free.
 */
struct gm_gql_engine *gm_gql_engine_new(const struct gm_gql_schema *s,
                                        const struct gm_gql_engine_opts *opts);
void gm_gql_engine_free(struct gm_gql_engine *e);

/* A parsed and validated document, shared through the cache (refcounted). */
struct gm_gql_prepared;

/*
 * Parses and validates src[0..len) (borrowed), or finds it in the cache.
 * On success returns 0 and *out (release with gm_gql_prepared_release).
 * On a syntax or validation error returns GM_EINVAL (GM_ETOOBIG past a
 * limit) and appends the errors to errs, allocated in a; *out is NULL.
 * Documents with errors are not cached.
 */
int gm_gql_prepare(struct gm_gql_engine *e, const char *src, size_t len, struct gm_arena *a,
                   struct gm_gql_errors *errs, struct gm_gql_prepared **out);
void gm_gql_prepared_release(struct gm_gql_engine *e, struct gm_gql_prepared *p);

/*
 * Persisted queries (Apollo's automatic persisted queries): a client sends
 * the SHA-256 of its document, as 64 hexadecimal digits, instead of the
 * text; the first time it also sends the text, to register it.
 *
 * With src NULL, finds the document registered under sha256_hex: returns 0
 * and *out (release with gm_gql_prepared_release), or GM_ENOTFOUND when it
 * is not (or no longer) in the cache; the client then sends the text
 * (answer PERSISTED_QUERY_NOT_FOUND). With src, checks that sha256_hex is
 * the hash of src[0..len), then prepares it as gm_gql_prepare does and
 * registers it under the hash. Errors: GM_EINVAL with an error in errs
 * (code BAD_USER_INPUT) for a malformed hash or one that does not match
 * the text, otherwise as gm_gql_prepare. Registered documents share the
 * cache's bounds and are evicted with it; with cache_off nothing is
 * registered and every lookup misses.
 */
int gm_gql_prepare_persisted(struct gm_gql_engine *e, const char *sha256_hex, size_t hex_len,
                             const char *src, size_t len, struct gm_arena *a,
                             struct gm_gql_errors *errs, struct gm_gql_prepared **out);

/* The code a response should carry when gm_gql_prepare_persisted returns GM_ENOTFOUND. */
#define GM_GQL_CODE_PERSISTED_NOT_FOUND "PERSISTED_QUERY_NOT_FOUND"

/*
 * The type of the operation that operation_name (NULL: the only one)
 * selects, or -1 when there is no such operation. For GET requests, which
 * may not run mutations (GraphQL over HTTP).
 */
int gm_gql_prepared_op_type(const struct gm_gql_prepared *p, const char *operation_name);

/*
 * The distinct names of the root fields that operation operation_name
 * (NULL: the only one) selects, fragments followed and directives ignored,
 * in document order, into names[0..max) (borrowed from p; valid while p is
 * held). Returns 0 and *n; GM_ENOTFOUND when there is no such operation;
 * GM_ETOOBIG when there are more than max (the first max are given).
 */
int gm_gql_prepared_root_fields(const struct gm_gql_prepared *p, const char *operation_name,
                                const char **names, size_t max, size_t *n);

struct gm_gql_exec_params {
    const char *operation_name; /* NULL: the document's only operation */
    const json_t *variables;    /* a JSON object, or NULL (borrowed) */
    void *context;              /* handed to resolvers as ctx->context */
    const void *root_value;     /* the parent of root fields */
};

/* A response: `{"errors":[...],"data":...}` as GraphQL over HTTP sends it. */
struct gm_gql_response {
    const char *json; /* NUL-terminated, in the request's arena (static text past the budget) */
    size_t len;
    bool has_data; /* false for request errors (bad operation name, variables) */
    size_t n_errors;
};

/*
 * Executes the operation of p with params, resolving fields through the
 * schema's resolvers, and writes the whole response into resp (memory in a).
 * Field errors are part of the response (data with nulls, errors with
 * paths); request errors (unknown operation, bad variables) give a response
 * without data. Returns 0 whenever a response was written; GM_ETOOBIG when
 * the arena's budget ran out (resp then holds a minimal error response).
 */
int gm_gql_execute(struct gm_gql_engine *e, const struct gm_gql_prepared *p,
                   const struct gm_gql_exec_params *params, struct gm_arena *a,
                   struct gm_gql_response *resp);

/*
 * prepare + execute in one call; syntax and validation errors become a
 * response without data. Returns as gm_gql_execute (0 for a response with
 * syntax or validation errors).
 */
int gm_gql_run(struct gm_gql_engine *e, const char *src, size_t len,
               const struct gm_gql_exec_params *params, struct gm_arena *a,
               struct gm_gql_response *resp);

/*
 * Writes errs as a response without data (`{"errors":[...]}`) into resp.
 * Returns 0, or GM_ETOOBIG when a's budget ran out; resp then holds a
 * static QUERY_TOO_COMPLEX response, so there is always one to send.
 */
int gm_gql_errors_response(const struct gm_gql_errors *errs, struct gm_arena *a,
                           struct gm_gql_response *resp);

struct gm_gql_engine_stats {
    uint64_t cache_hits;
    uint64_t cache_misses;
    size_t cache_entries;
    size_t cache_bytes;        /* what the kept documents hold (see gm_gql_engine_opts) */
    uint64_t persisted_hits;   /* gm_gql_prepare_persisted found the hash */
    uint64_t persisted_misses; /* ...did not (PERSISTED_QUERY_NOT_FOUND) */
};
void gm_gql_engine_stats(struct gm_gql_engine *e, struct gm_gql_engine_stats *out);

#endif
