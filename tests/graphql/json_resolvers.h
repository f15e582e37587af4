/*
 * json_resolvers.h: resolvers for api/schema.graphql over JSON data.
 *
 * The differential test (tests/graphql) runs the same fixed world through
 * graphql-js and through our engine; these are the C half of the resolver
 * semantics tests/graphql/README.md defines (run.mjs is the JavaScript
 * half): every field reads the member of its name on the parent JSON
 * object, a member {"__error": MSG, "code": CODE} raises a field error,
 * and the root fields look their values up by their arguments. Benchmarks
 * may reuse them for a resolver layer with realistic lookups.
 *
 * Threads: a world is read-only after loading and may be shared; a request
 * (struct gm_jsonres_req) belongs to one thread.
 */
#ifndef GM_JSONRES_H
#define GM_JSONRES_H

#include "err.h"
#include "schema.h"

#include <jansson.h>

/* The fixed world: data.json. */
struct gm_jsonres_world {
    json_t *data;       /* owned */
    const char *viewer; /* data.viewer, borrowed from data */
};

/*
 * The per-request context to pass as gm_gql_exec_params.context: objects
 * the root resolvers build (a leaderboard page, a redemption payload) are
 * kept in scratch until gm_jsonres_req_end.
 */
struct gm_jsonres_req {
    const struct gm_jsonres_world *world;
    json_t *scratch; /* a JSON array, owned */
};

/*
 * Loads the world from the JSON file at path. Returns 0, or GM_EJSON /
 * GM_EINVAL with err describing the problem; free with
 * gm_jsonres_world_deinit.
 */
int gm_jsonres_world_load(struct gm_jsonres_world *w, const char *path, struct gm_err *err);
void gm_jsonres_world_deinit(struct gm_jsonres_world *w);

/* Starts a request over w (borrowed; must outlive the request). */
void gm_jsonres_req_init(struct gm_jsonres_req *req, const struct gm_jsonres_world *w);
/* Frees what the request's resolvers built; req may be initialised again. */
void gm_jsonres_req_end(struct gm_jsonres_req *req);

/*
 * Binds a resolver to every field of every object type of s outside
 * introspection. Resolvers expect ctx->context to be a struct
 * gm_jsonres_req and the root value to be anything (root fields ignore
 * it). Returns 0, or the error of gm_gql_schema_bind.
 */
int gm_jsonres_bind(struct gm_gql_schema *s, struct gm_err *err);

#endif
