/*
 * validate.h: the GraphQL validation rules (October 2021 specification,
 * section 5) and gamify's operational limits.
 *
 * gm_gql_validate checks a parsed executable document against a schema with
 * every rule of the specification's validation section, in graphql-js's
 * order and with graphql-js's messages (so that clients and the
 * differential tests see the same errors), and then the limits below. It
 * reports every error it finds, not only the first.
 *
 * Limits count after fragment expansion (a fragment spread counts as the
 * fragment's selections at the place of the spread):
 *   depth      the deepest field nesting: `{ a { b } }` has depth 2. The
 *              introspection fields (__schema, __type) and everything below
 *              them are exempt, so getIntrospectionQuery() always passes.
 *   aliases    fields written with an alias, over the whole operation.
 *   root       fields selected directly on the root type.
 *   cost       each field costs 1, times the product of the list sizes
 *              above it; a list field's size is its `first` argument (a
 *              literal or a variable's default; unknown sizes count
 *              default_list_size). Introspection is exempt.
 * Errors past a limit have the code QUERY_TOO_COMPLEX.
 */
#ifndef GM_GQL_VALIDATE_H
#define GM_GQL_VALIDATE_H

#include "arena.h"
#include "ast.h"
#include "error.h"
#include "schema.h"

/* Validation limits; a zero field means its default. */
struct gm_gql_vlimits {
    int max_depth;         /* default 10 */
    int max_aliases;       /* default 30 */
    int max_root_fields;   /* default 20 */
    long max_cost;         /* default 5000 */
    int default_list_size; /* default 100 */
};

#define GM_GQL_DEFAULT_VDEPTH     10
#define GM_GQL_DEFAULT_VALIASES   30
#define GM_GQL_DEFAULT_VROOT      20
#define GM_GQL_DEFAULT_VCOST      5000
#define GM_GQL_DEFAULT_VLIST_SIZE 100

/*
 * Validates doc (borrowed) against s. Scratch memory and errors are
 * allocated in a. lim may be NULL for the defaults. Returns 0 when the
 * document is valid; GM_EINVAL when any rule failed (the errors, code
 * GRAPHQL_VALIDATION_FAILED, are in errs, in document order per rule);
 * GM_ETOOBIG when a limit was passed (code QUERY_TOO_COMPLEX) or the
 * arena's budget ran out.
 */
int gm_gql_validate(const struct gm_gql_schema *s, const struct gm_gql_document *doc,
                    const struct gm_gql_vlimits *lim, struct gm_arena *a,
                    struct gm_gql_errors *errs);

/*
 * Whether the constant or variable-bearing literal v fits input type t
 * (the spec's "Values of Correct Type" for one value; variables are taken
 * as fitting here, their positions are another rule). When not, and msg is
 * not NULL, writes graphql-js's message into msg (size n).
 */
bool gm_gql_literal_fits(const struct gm_gql_schema *s, const struct gm_gql_value *v,
                         const struct gm_gql_tref *t, char *msg, size_t n);

#endif
