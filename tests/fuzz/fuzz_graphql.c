/*
 * fuzz_graphql.c: the bytes as a GraphQL request to the engine over
 * api/schema.graphql: parse, validate, and for a valid document execute it
 * with generic resolvers that answer every field with a value of its type
 * (lists of two, the first enum value, nulls for nullable fields every
 * other time), through the prepared-document cache as the API does.
 *
 * The input is `DOCUMENT [NUL VARIABLES [NUL OPERATION_NAME]]`: after a
 * NUL byte come the variables as JSON text (used when they are a JSON
 * object) and after a second one the operation name, so that variable
 * coercion and operation selection are fuzzed too. The first run goes
 * through gm_gql_run; the second through the persisted-query path (the
 * document registered under its SHA-256, then found by hash alone) with a
 * small cache bounded by bytes, so eviction is exercised as well.
 *
 * Invariants: the engine always answers with a response; a document that
 * fails to prepare reports at least one error, each with a message and a
 * code; a response is valid JSON (checked with jansson) and holds data
 * exactly when preparation succeeded; the second run answers the same
 * bytes (neither the cache nor the persisted path may change the answer).
 *
 * The schema path is compiled in (GM_SCHEMA_PATH) so the fuzzer needs no
 * environment.
 */
#include "execute.h"
#include "fuzz.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <string.h>

#ifndef GM_SCHEMA_PATH
#error "GM_SCHEMA_PATH must name api/schema.graphql"
#endif

static struct gm_gql_schema *schema;
static struct gm_gql_engine *engine;
static unsigned long calls;
static const char dummy_object[1];

static int
resolve_as(struct gm_gql_rctx *ctx, const struct gm_gql_tref *t, struct gm_gql_rval *out, int depth)
{
    if (t->kind == GM_GQL_TYPE_NON_NULL)
        return resolve_as(ctx, t->of, out, depth);
    if (t->kind == GM_GQL_TYPE_LIST) {
        struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, depth > 2 ? 0 : 2);
        if (!items && depth <= 2)
            return gm_gql_rctx_error(ctx, NULL, "out of request memory");
        for (size_t i = 0; i < out->n; i++)
            if (resolve_as(ctx, t->of, &items[i], depth + 1) < 0)
                return -1;
        return 0;
    }
    const struct gm_gql_stype *n = t->named;
    switch (n->kind) {
    case GM_GQL_OBJECT:
        gm_gql_rval_obj(out, dummy_object, n);
        return 0;
    case GM_GQL_INTERFACE:
    case GM_GQL_UNION:
        gm_gql_rval_obj(out, dummy_object, n->possible[0]);
        return 0;
    case GM_GQL_ENUM:
        gm_gql_rval_str(out, n->values[0].name, strlen(n->values[0].name));
        return 0;
    default:
        break;
    }
    switch (n->scalar) {
    case GM_GQL_SC_INT:
        gm_gql_rval_int(out, 7);
        return 0;
    case GM_GQL_SC_FLOAT:
        gm_gql_rval_float(out, 1.5);
        return 0;
    case GM_GQL_SC_BOOLEAN:
        gm_gql_rval_bool(out, true);
        return 0;
    case GM_GQL_SC_DATETIME:
        gm_gql_rval_str(out, "2026-11-25T10:00:00Z", 20);
        return 0;
    default:
        gm_gql_rval_str(out, "s\"\\\n\x01", 5);
        return 0;
    }
}

static int
resolve_any(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    calls++;
    /* Every seventh field fails, every fifth nullable one is null. */
    if (calls % 7 == 0)
        return gm_gql_rctx_error(ctx, "FUZZ", "field %s failed", ctx->field->name);
    if (ctx->field->type->kind != GM_GQL_TYPE_NON_NULL && calls % 5 == 0) {
        gm_gql_rval_null(out);
        return 0;
    }
    return resolve_as(ctx, ctx->field->type, out, 0);
}

static void
setup(void)
{
    FILE *f = fopen(GM_SCHEMA_PATH, "rb");
    GM_FUZZ_CHECK(f, "the schema file opens");
    static char sdl[1 << 20];
    size_t len = fread(sdl, 1, sizeof sdl, f);
    fclose(f);
    struct gm_err err;
    GM_FUZZ_CHECK(gm_gql_schema_new(sdl, len, &schema, &err) == 0, "the schema builds");
    for (size_t i = 0; i < schema->n_types; i++) {
        const struct gm_gql_stype *t = schema->types[i];
        if (t->kind != GM_GQL_OBJECT || t->introspection)
            continue;
        for (size_t k = 0; k < t->n_fields; k++) {
            char coord[256];
            snprintf(coord, sizeof coord, "%s.%s", t->name, t->fields[k].name);
            GM_FUZZ_CHECK(gm_gql_schema_bind(schema, coord, resolve_any, NULL, &err) == 0,
                          "every field binds");
        }
    }
    GM_FUZZ_CHECK(gm_gql_schema_check(schema, &err) == 0, "the schema checks");
    struct gm_gql_engine_opts opts = {
        .cache_entries = 64, .cache_bytes = 1 << 20, .arena_budget = 4 << 20};
    engine = gm_gql_engine_new(schema, &opts);
}

/* The parts of one input (see the file comment); all borrowed from it but the JSON. */
struct request {
    const char *doc;
    size_t doc_len;
    json_t *variables; /* new, or NULL */
    char *operation;   /* new, or NULL */
};

static void
split(const uint8_t *data, size_t size, struct request *req)
{
    memset(req, 0, sizeof(*req));
    req->doc = (const char *)data;
    const uint8_t *nul = memchr(data, 0, size);
    req->doc_len = nul ? (size_t)(nul - data) : size;
    if (!nul)
        return;
    const uint8_t *vars = nul + 1;
    size_t rest = size - req->doc_len - 1;
    const uint8_t *nul2 = memchr(vars, 0, rest);
    size_t vars_len = nul2 ? (size_t)(nul2 - vars) : rest;
    json_error_t jerr;
    req->variables = json_loadb((const char *)vars, vars_len, JSON_DECODE_ANY, &jerr);
    if (req->variables && !json_is_object(req->variables)) {
        json_decref(req->variables);
        req->variables = NULL;
    }
    if (nul2)
        req->operation = strndup((const char *)nul2 + 1, size - (size_t)(nul2 + 1 - data));
}

/* The document by its hash: registered on a miss, as a client would after
 * PERSISTED_QUERY_NOT_FOUND. */
static int
run_persisted(const struct request *req, const struct gm_gql_exec_params *params,
              struct gm_arena *a, struct gm_gql_response *resp)
{
    unsigned char sha[32];
    unsigned int n = 0;
    GM_FUZZ_CHECK(EVP_Digest(req->doc, req->doc_len, sha, &n, EVP_sha256(), NULL) == 1,
                  "SHA-256 works");
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", sha[i]);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    struct gm_gql_prepared *p = NULL;
    int rc = gm_gql_prepare_persisted(engine, hex, 64, NULL, 0, a, &errs, &p);
    GM_FUZZ_CHECK(rc == 0 || rc == GM_ENOTFOUND, "a lookup by hash finds or misses");
    GM_FUZZ_CHECK(errs.head == NULL, "a lookup by hash reports nothing");
    if (rc == GM_ENOTFOUND)
        rc = gm_gql_prepare_persisted(engine, hex, 64, req->doc, req->doc_len, a, &errs, &p);
    if (rc < 0) {
        GM_FUZZ_CHECK(errs.head != NULL, "a document that fails to prepare has errors");
        return gm_gql_errors_response(&errs, a, resp);
    }
    rc = gm_gql_execute(engine, p, params, a, resp);
    gm_gql_prepared_release(engine, p);
    return rc;
}

/* Runs the request once; returns the response text (new; free with free()). */
static char *
run_once(const struct request *req, bool persisted, bool *has_data)
{
    struct gm_arena a;
    gm_arena_init(&a, 4 << 20);
    struct gm_gql_exec_params params = {.variables = req->variables,
                                        .operation_name = req->operation};
    struct gm_gql_response resp;
    unsigned long start = calls;
    int rc = persisted ? run_persisted(req, &params, &a, &resp)
                       : gm_gql_run(engine, req->doc, req->doc_len, &params, &a, &resp);
    calls = start; /* the same failures both times */
    GM_FUZZ_CHECK(rc == 0 || rc == GM_ETOOBIG, "a request answers 0 or GM_ETOOBIG");
    GM_FUZZ_CHECK(resp.json && resp.len == strlen(resp.json), "a response is written");
    json_error_t jerr;
    json_t *j = json_loadb(resp.json, resp.len, 0, &jerr);
    GM_FUZZ_CHECK(j && json_is_object(j), "the response is a JSON object");
    json_t *errors = json_object_get(j, "errors");
    if (!resp.has_data)
        GM_FUZZ_CHECK(json_array_size(errors) >= 1, "a response without data has errors");
    GM_FUZZ_CHECK((json_object_get(j, "data") != NULL) == resp.has_data,
                  "data is present exactly when has_data says so");
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        GM_FUZZ_CHECK(json_string_length(json_object_get(e, "message")) > 0,
                      "every error has a message");
    }
    json_decref(j);
    *has_data = resp.has_data;
    char *copy = strdup(resp.json);
    gm_arena_deinit(&a);
    return copy;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > GM_FUZZ_INPUT_MAX)
        return 0;
    if (!engine)
        setup();
    struct request req;
    split(data, size, &req);
    bool d1, d2;
    char *first = run_once(&req, false, &d1);
    char *second = run_once(&req, true, &d2);
    GM_FUZZ_CHECK(d1 == d2 && strcmp(first, second) == 0, "a repeated request answers the same");
    free(first);
    free(second);
    json_decref(req.variables);
    free(req.operation);
    return 0;
}
